//! Fixed-time signal controllers: which phase each signal is in, the light every head shows, and
//! how long a pedestrian green lasts. Plans switch and phases hold only through commands.

use bevy::prelude::*;

use super::TrafficNet;
use super::network::{Light, Network};
use crate::schedule::SimClock;
use crate::space::SpaceRes;

#[derive(Clone, Copy, Debug)]
pub struct Controller {
    pub plan: usize,
    pub phase: usize,
    /// When the current phase ends (infinite while held).
    pub phase_end: f64,
    pub held: bool,
    /// The `SignalControl::version` last acted on.
    seen: u32,
}

/// The state of every head.
#[derive(Clone, Copy, Debug)]
pub struct HeadState {
    pub light: Light,
    /// Seconds of green left (0 when not green; infinite while held green).
    pub green_left: f64,
}

#[derive(Resource, Clone, Debug, Default)]
pub struct SignalStates {
    pub controllers: Vec<Controller>,
    pub heads: Vec<HeadState>,
}

impl SignalStates {
    /// Every controller at `t = 0`, in its first plan as offset.
    pub fn start(net: &Network) -> Self {
        let controllers = net
            .signals
            .iter()
            .map(|s| {
                let plan = &s.plans[0];
                let cycle = plan.cycle();
                // Seconds into the cycle at t = 0: the first phase starts at `offset`.
                let mut into = (-plan.offset).rem_euclid(cycle);
                let mut phase = 0;
                while into >= plan.phases[phase].duration {
                    into -= plan.phases[phase].duration;
                    phase = (phase + 1) % plan.phases.len();
                }
                Controller { plan: 0, phase, phase_end: plan.phases[phase].duration - into, held: false, seen: 0 }
            })
            .collect();
        let mut states = SignalStates {
            controllers,
            heads: vec![HeadState { light: Light::Red, green_left: 0.0 }; net.heads.len()],
        };
        states.update_heads(net, 0.0);
        states
    }

    /// Advances every controller to time `now`, after acting on new commands.
    pub fn advance(&mut self, net: &Network, control: &[crate::space::SignalControl], now: f64) {
        for (i, c) in self.controllers.iter_mut().enumerate() {
            let plans = &net.signals[i].plans;
            if let Some(ctl) = control.get(i).filter(|ctl| ctl.version != c.seen) {
                c.seen = ctl.version;
                if ctl.plan != c.plan {
                    c.plan = ctl.plan;
                    c.phase = 0;
                    c.phase_end = now + plans[c.plan].phases[0].duration;
                }
                match ctl.hold {
                    Some(phase) => {
                        c.phase = phase.min(plans[c.plan].phases.len() - 1);
                        c.held = true;
                        c.phase_end = f64::INFINITY;
                    }
                    None if c.held => {
                        c.held = false;
                        c.phase_end = now + plans[c.plan].phases[c.phase].duration;
                    }
                    None => {}
                }
            }
            let phases = &plans[c.plan].phases;
            while now >= c.phase_end {
                c.phase = (c.phase + 1) % phases.len();
                c.phase_end += phases[c.phase].duration;
            }
        }
        self.update_heads(net, now);
    }

    fn update_heads(&mut self, net: &Network, now: f64) {
        for (i, signal) in net.signals.iter().enumerate() {
            let c = self.controllers[i];
            let phases = &net.signals[i].plans[c.plan].phases;
            for (k, &head) in signal.heads.iter().enumerate() {
                let light = phases[c.phase].lights[k];
                let mut green_left = 0.0;
                if light == Light::Green {
                    green_left = c.phase_end - now;
                    let mut p = (c.phase + 1) % phases.len();
                    // Consecutive green phases add up (at most one cycle).
                    while !c.held && p != c.phase && phases[p].lights[k] == Light::Green {
                        green_left += phases[p].duration;
                        p = (p + 1) % phases.len();
                    }
                }
                self.heads[head as usize] = HeadState { light, green_left };
            }
        }
    }

    pub fn light(&self, head: u16) -> Light {
        self.heads[head as usize].light
    }
}

pub fn run_signals(clock: Res<SimClock>, net: Res<TrafficNet>, space: Res<SpaceRes>, mut states: ResMut<SignalStates>) {
    states.advance(&net.0, space.0.signals.as_slice(), clock.now());
}
