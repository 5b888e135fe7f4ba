//! Pedestrian crossings as gated links: where they are (a raster to find them fast), who is on
//! them or waiting at their kerbs, whether a pedestrian may step on now, and what happened there.

use std::collections::BTreeSet;

use bevy::math::DVec2;
use bevy::prelude::*;

use super::network::Network;
use crate::space::Space;

/// Cells this far around a crossing (m) belong to its kerb band.
pub const KERB_BAND: f64 = 1.5;
/// A vehicle closer than this to a pedestrian on a crossing is a conflict, m.
pub const CONFLICT_DISTANCE: f64 = 1.0;

/// Per level, a 1 m raster of the crossings' kerb bands (crossing index + 1; 0 = none).
#[derive(Clone, Debug, Default)]
struct Raster {
    origin: DVec2,
    nx: usize,
    ny: usize,
    cells: Vec<u32>,
}

/// Where the crossings are, for pedestrians.
#[derive(Resource, Clone, Debug, Default)]
pub struct CrossingMap {
    rasters: Vec<Option<Raster>>,
    polygons: Vec<[DVec2; 4]>,
}

fn inside_quad(q: &[DVec2; 4], p: DVec2) -> bool {
    let mut sign = 0.0;
    for k in 0..4 {
        let (a, b) = (q[k], q[(k + 1) % 4]);
        let c = (b - a).perp_dot(p - a);
        if c != 0.0 {
            if sign == 0.0 {
                sign = c.signum();
            } else if c.signum() != sign {
                return false;
            }
        }
    }
    true
}

fn distance_to_quad(q: &[DVec2; 4], p: DVec2) -> f64 {
    if inside_quad(q, p) {
        return 0.0;
    }
    (0..4).map(|k| crate::geom::distance_to_segment(p, q[k], q[(k + 1) % 4])).fold(f64::INFINITY, f64::min)
}

impl CrossingMap {
    pub fn build(space: &Space, net: &Network) -> Self {
        let mut rasters: Vec<Option<Raster>> = vec![None; space.levels.len()];
        for (ci, c) in net.crossings.iter().enumerate() {
            let level = &space.levels[c.level];
            let raster = rasters[c.level.index()].get_or_insert_with(|| {
                let origin = level.min - DVec2::splat(KERB_BAND + 1.0);
                let size = level.max - origin + DVec2::splat(KERB_BAND + 1.0);
                let (nx, ny) = (size.x.ceil().max(1.0) as usize, size.y.ceil().max(1.0) as usize);
                Raster { origin, nx, ny, cells: vec![0; nx * ny] }
            });
            let lo =
                c.polygon.iter().fold(DVec2::splat(f64::INFINITY), |m, p| m.min(*p)) - DVec2::splat(KERB_BAND + 1.0);
            let hi = c.polygon.iter().fold(DVec2::splat(f64::NEG_INFINITY), |m, p| m.max(*p))
                + DVec2::splat(KERB_BAND + 1.0);
            let (i0, j0) = (
                ((lo.x - raster.origin.x).floor().max(0.0)) as usize,
                ((lo.y - raster.origin.y).floor().max(0.0)) as usize,
            );
            let (i1, j1) = (
                ((hi.x - raster.origin.x).ceil() as usize).min(raster.nx),
                ((hi.y - raster.origin.y).ceil() as usize).min(raster.ny),
            );
            for j in j0..j1 {
                for i in i0..i1 {
                    let centre = raster.origin + DVec2::new(i as f64 + 0.5, j as f64 + 0.5);
                    // Half a cell's diagonal more, so that every point within the band is covered.
                    if distance_to_quad(&c.polygon, centre) <= KERB_BAND + 0.71 {
                        raster.cells[j * raster.nx + i] = ci as u32 + 1;
                    }
                }
            }
        }
        CrossingMap { rasters, polygons: net.crossings.iter().map(|c| c.polygon).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.polygons.is_empty()
    }

    /// The crossing whose kerb band (or area) holds `p`, if any.
    #[inline]
    pub fn near(&self, level: crate::ids::LevelId, p: DVec2) -> Option<u32> {
        let r = self.rasters.get(level.index())?.as_ref()?;
        let q = p - r.origin;
        if q.x < 0.0 || q.y < 0.0 {
            return None;
        }
        let (i, j) = (q.x as usize, q.y as usize);
        if i >= r.nx || j >= r.ny {
            return None;
        }
        r.cells[j * r.nx + i].checked_sub(1)
    }

    /// Whether `p` is on crossing `c`.
    #[inline]
    pub fn inside(&self, c: u32, p: DVec2) -> bool {
        inside_quad(&self.polygons[c as usize], p)
    }

    pub fn polygon(&self, c: u32) -> &[DVec2; 4] {
        &self.polygons[c as usize]
    }
}

/// Distance from `pos` to the body of vehicle `v` (a rectangle around its lane position), m.
pub fn distance_to_vehicle(net: &Network, v: &super::Vehicle, pos: DVec2) -> f64 {
    let p = net.params(v.kind);
    let (front, dir) = net.links[v.link as usize].at(v.s);
    let centre = front - dir * (p.length / 2.0) + dir.perp() * v.lateral;
    let d = pos - centre;
    let (x, y) = (d.dot(dir).abs() - p.length / 2.0, d.dot(dir.perp()).abs() - p.width / 2.0);
    DVec2::new(x.max(0.0), y.max(0.0)).length()
}

/// Who is on each crossing or waiting at its kerb, at the start of the step (filled by the crowd).
#[derive(Resource, Clone, Debug, Default)]
pub struct CrossingOccupancy {
    pub inside: Vec<u32>,
    pub waiting: Vec<u32>,
    /// `(crossing, pedestrian id, position)` of everyone on a crossing.
    pub on: Vec<(u32, u32, DVec2)>,
}

impl CrossingOccupancy {
    pub fn clear(&mut self, crossings: usize) {
        self.inside.clear();
        self.inside.resize(crossings, 0);
        self.waiting.clear();
        self.waiting.resize(crossings, 0);
        self.on.clear();
    }
}

/// Whether a pedestrian may step onto each crossing during this step (set by the vehicles).
#[derive(Resource, Clone, Debug, Default)]
pub struct CrossingGates {
    /// The pedestrian light allows it and no vehicle is on the crossing or too close to stop.
    pub open: Vec<bool>,
    /// Seconds of pedestrian green left (infinite without a signal).
    pub green_left: Vec<f64>,
    /// Kerb to kerb, m.
    pub length: Vec<f64>,
    pub start_only_if_clear: bool,
    /// A vehicle stands on the crossing.
    pub vehicle_on: Vec<bool>,
}

impl CrossingGates {
    /// Every crossing open as far as its pedestrian light goes (vehicles are looked at after).
    pub fn follow_signals(&mut self, net: &Network, signals: &super::SignalStates) {
        self.open.clear();
        self.green_left.clear();
        for c in &net.crossings {
            match c.head {
                None => {
                    self.open.push(true);
                    self.green_left.push(f64::INFINITY);
                }
                Some(h) => {
                    let state = signals.heads[h as usize];
                    self.open.push(state.light == super::Light::Green);
                    self.green_left.push(state.green_left);
                }
            }
        }
        self.length.clear();
        self.length.extend(net.crossings.iter().map(|c| c.length));
        self.start_only_if_clear = net.rules.start_only_if_clear;
        self.vehicle_on.clear();
        self.vehicle_on.resize(net.crossings.len(), false);
    }

    /// Whether a pedestrian walking at `speed` may step onto crossing `c` now.
    #[inline]
    pub fn allows(&self, c: u32, speed: f64) -> bool {
        let c = c as usize;
        self.open[c] && (!self.start_only_if_clear || self.length[c] <= speed * self.green_left[c])
    }
}

/// What happened at each crossing.
#[derive(Clone, Debug, Default)]
pub struct CrossingRecord {
    /// Pedestrians who stepped onto it.
    pub crossed: u32,
    /// Seconds they were held at the kerb, summed.
    pub wait_total: f64,
    pub wait_max: f64,
    /// Pedestrian–vehicle conflicts (a vehicle within 1 m of a pedestrian on the crossing).
    pub conflicts: u32,
}

#[derive(Resource, Clone, Debug, Default)]
pub struct CrossingStats {
    pub crossings: Vec<CrossingRecord>,
    /// Pedestrians crossing outside the crossings.
    pub outside: super::outside::OutsideRecord,
    /// `(vehicle, pedestrian)` pairs in conflict now, so each is counted once.
    pub active: BTreeSet<(u32, u32)>,
}

impl CrossingStats {
    /// A pedestrian stepped onto crossing `c` after waiting `waited` s at its kerb.
    pub fn record_entry(&mut self, c: u32, waited: f64) {
        let r = &mut self.crossings[c as usize];
        r.crossed += 1;
        r.wait_total += waited;
        r.wait_max = r.wait_max.max(waited);
    }
    pub fn conflicts(&self) -> u32 {
        self.crossings.iter().map(|c| c.conflicts).sum()
    }
}
