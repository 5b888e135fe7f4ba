//! Vehicle kinds' Intelligent Driver Model parameters and the model itself (Treiber, Hennecke &
//! Helbing 2000): pure functions, shared by the simulation, the benchmarks and the validation tests.

use crate::scene::{VehicleKind, VehicleType};

/// The acceleration exponent δ (Treiber, Hennecke & Helbing 2000).
pub const DELTA: f64 = 4.0;
/// The hardest braking a vehicle can do, m/s² (dry asphalt, emergency stop).
pub const EMERGENCY_DECEL: f64 = 9.0;
/// A vehicle facing amber stops if it can do so braking at most this hard, m/s² (else it goes on).
pub const AMBER_DECEL: f64 = 4.0;

/// One kind's parameters in SI units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleParams {
    pub kind: VehicleKind,
    /// m
    pub length: f64,
    /// m
    pub width: f64,
    /// Desired speed, m/s.
    pub v0: f64,
    /// Safe time headway, s.
    pub t: f64,
    /// Jam distance, m.
    pub s0: f64,
    /// Maximum acceleration, m/s².
    pub a: f64,
    /// Comfortable deceleration, m/s².
    pub b: f64,
}

impl VehicleParams {
    /// The defaults and their sources.
    /// - Car: Treiber & Kesting, *Traffic Flow Dynamics* (2013), table 11.2, "city traffic":
    ///   v0 54 km/h, T 1.0 s, s0 2 m, a 1.0 m/s², b 1.5 m/s²; length 4.5 m, width 1.8 m (a mid-size car).
    /// - Bus: ESTIMATED after the same book's trucks (T 1.5 s, a lower, b lower): 12 m, 2.55 m wide
    ///   (GB 1589-2016 width limit), v0 50 km/h, T 1.5 s, s0 2.5 m, a 0.8, b 1.2.
    /// - Van (deliveries): ESTIMATED between car and bus: 6 m, 2.0 m, v0 50 km/h, T 1.2 s, s0 2 m, a 1.0, b 1.5.
    /// - E-bike: GB 17761-2018 limits electric bicycles to 25 km/h; 1.8 m long, 0.7 m wide; T 1.0 s,
    ///   s0 1 m, a 1.2, b 1.5 ESTIMATED.
    pub fn default_for(kind: VehicleKind) -> Self {
        let kmh = |v: f64| v / 3.6;
        match kind {
            VehicleKind::Car => {
                VehicleParams { kind, length: 4.5, width: 1.8, v0: kmh(54.0), t: 1.0, s0: 2.0, a: 1.0, b: 1.5 }
            }
            VehicleKind::Bus => {
                VehicleParams { kind, length: 12.0, width: 2.55, v0: kmh(50.0), t: 1.5, s0: 2.5, a: 0.8, b: 1.2 }
            }
            VehicleKind::Van => {
                VehicleParams { kind, length: 6.0, width: 2.0, v0: kmh(50.0), t: 1.2, s0: 2.0, a: 1.0, b: 1.5 }
            }
            VehicleKind::Ebike => {
                VehicleParams { kind, length: 1.8, width: 0.7, v0: kmh(25.0), t: 1.0, s0: 1.0, a: 1.2, b: 1.5 }
            }
        }
    }

    /// The defaults with a scene's overrides applied (`v0` there is km/h).
    pub fn with(mut self, o: &VehicleType) -> Self {
        let set = |x: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *x = v;
            }
        };
        set(&mut self.length, o.length);
        set(&mut self.width, o.width);
        set(&mut self.v0, o.v0.map(|v| v / 3.6));
        set(&mut self.t, o.t);
        set(&mut self.s0, o.s0);
        set(&mut self.a, o.a);
        set(&mut self.b, o.b);
        self
    }

    /// The IDM acceleration at speed `v` (desired `v0`) behind something `gap` metres ahead
    /// (bumper to bumper) moving at `v_ahead`; `gap = INFINITY` on a free road. Never below the
    /// emergency deceleration.
    #[inline]
    pub fn idm(&self, v0: f64, v: f64, gap: f64, v_ahead: f64) -> f64 {
        let r = v / v0;
        let free = 1.0 - (r * r) * (r * r);
        if gap == f64::INFINITY {
            return self.a * free;
        }
        if gap <= 1e-3 {
            return -EMERGENCY_DECEL;
        }
        let dv = v - v_ahead;
        let s_star = self.s0 + (v * self.t + v * dv / (2.0 * (self.a * self.b).sqrt())).max(0.0);
        let q = s_star / gap;
        (self.a * (free - q * q)).max(-EMERGENCY_DECEL)
    }

    /// The steady-state bumper-to-bumper gap at speed `v` (`v < v0`).
    pub fn equilibrium_gap(&self, v0: f64, v: f64) -> f64 {
        let r = v / v0;
        (self.s0 + v * self.t) / (1.0 - (r * r) * (r * r)).sqrt()
    }

    /// The steady-state speed at bumper-to-bumper `gap` (bisection on [`Self::equilibrium_gap`]).
    pub fn equilibrium_speed(&self, v0: f64, gap: f64) -> f64 {
        if gap <= self.s0 {
            return 0.0;
        }
        let (mut lo, mut hi) = (0.0, v0);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if self.equilibrium_gap(v0, mid) < gap {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// The distance needed to stop from `v` braking at `decel`, m.
#[inline]
pub fn braking_distance(v: f64, decel: f64) -> f64 {
    v * v / (2.0 * decel)
}
