//! Pedestrians at street crossings: who is on a crossing or waiting at its kerb (for the
//! vehicles), and who stepped on after how long a wait (for the crossings' statistics).

use bevy::prelude::*;

use super::{AgentId, Body, Velocity, Walker};
use crate::traffic::{CrossingGates, CrossingMap, CrossingOccupancy, CrossingStats, TrafficNet};

/// Seconds this agent has stood at a crossing's kerb while it was closed to them, and whether
/// its own step onto the crossing was held back during the last step.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct KerbWait {
    pub waited: f32,
    pub held: bool,
}

/// Fills the crossings' occupancy from the positions at the start of the step: the vehicles
/// read it in `Drive`.
pub fn observe_crossings(
    net: Res<TrafficNet>,
    map: Res<CrossingMap>,
    mut occupancy: ResMut<CrossingOccupancy>,
    agents: Query<(&AgentId, &Body, &Velocity, &KerbWait)>,
) {
    occupancy.clear(net.0.crossings.len());
    if map.is_empty() {
        return;
    }
    for (id, body, velocity, wait) in agents.iter() {
        let Some(c) = map.near(body.level, body.pos) else { continue };
        if map.inside(c, body.pos) {
            occupancy.inside[c as usize] += 1;
            occupancy.on.push((c, id.0, body.pos));
        } else {
            // Waiting to cross: held at the kerb, or walking towards the crossing.
            let centre = map.polygon(c).iter().copied().sum::<bevy::math::DVec2>() / 4.0;
            let towards = (centre - body.pos).normalize_or_zero().dot(velocity.0) > 0.2;
            if wait.held || towards {
                occupancy.waiting[c as usize] += 1;
            }
        }
    }
    // Occupancy is summed in any order; the list of those on crossings is sorted for determinism.
    occupancy.on.sort_by_key(|&(c, id, _)| (c, id));
}

/// Counts the time each pedestrian at a crossing's kerb is kept off it (by the light or by
/// vehicles), and records who stepped on during this step and how long they had waited.
pub fn record_crossing_entries(
    clock: Res<crate::schedule::SimClock>,
    map: Res<CrossingMap>,
    gates: Res<CrossingGates>,
    mut stats: ResMut<CrossingStats>,
    mut agents: Query<(&AgentId, &Body, &Walker, &mut KerbWait)>,
    mut entries: Local<Vec<(u32, u32, f32)>>,
) {
    if map.is_empty() {
        return;
    }
    let dt = clock.dt as f32;
    entries.clear();
    for (id, body, walker, mut wait) in agents.iter_mut() {
        let Some(c) = map.near(body.level, body.pos) else {
            wait.waited = 0.0;
            continue;
        };
        if map.inside(c, body.pos) {
            if !map.inside(c, body.prev) {
                entries.push((id.0, c, wait.waited));
            }
            wait.waited = 0.0;
        } else if !gates.allows(c, walker.v0) {
            wait.waited += dt;
        }
    }
    entries.sort_by_key(|e| e.0);
    for &(_, c, waited) in entries.iter() {
        stats.record_entry(c, waited as f64);
    }
}
