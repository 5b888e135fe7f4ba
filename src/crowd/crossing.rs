//! Pedestrians at street crossings: who is on a crossing or waiting at its kerb (for the
//! vehicles), and who stepped on after how long a wait (for the crossings' statistics).

use bevy::prelude::*;

use super::{AgentId, Body, Velocity, Walker};
use crate::nav::Navigation;
use crate::space::SpaceRes;
use crate::traffic::{CarriagewayOccupancy, CrossingGates, CrossingMap, CrossingOccupancy, CrossingStats, TrafficNet};

/// Seconds this agent has stood at a crossing's kerb while it was closed to them, and whether
/// its own step onto the crossing was held back during the last step.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct KerbWait {
    pub waited: f32,
    pub held: bool,
    /// Crosses streets anywhere unfenced, accepting gaps in the traffic (the open navigation).
    pub crosses_anywhere: bool,
    /// Seconds spent at an unfenced kerb waiting for a gap, and whether the last step was held back.
    pub gap_waited: f32,
    pub gap_held: bool,
    /// Off the kerb on a carriageway outside a crossing (where others' walls would stop them),
    /// from where, and onto which street.
    pub off_kerb: bool,
    pub stepped_off_at: bevy::math::DVec2,
    pub street: u32,
    /// Reached the far side of a carriageway during the last step.
    pub crossed: bool,
    /// The crossing this person has been counted on, until it walks away from it: someone who
    /// steps back off a crossing and on again (making room, passing someone) crosses once.
    pub counted_on: Option<u32>,
}

/// Fills the crossings' occupancy from the positions at the start of the step: the vehicles
/// read it in `Drive`.
pub fn observe_crossings(
    net: Res<TrafficNet>,
    map: Res<CrossingMap>,
    nav: Res<Navigation>,
    mut occupancy: ResMut<CrossingOccupancy>,
    mut on_carriageway: ResMut<CarriagewayOccupancy>,
    agents: Query<(&AgentId, &Body, &Velocity, &KerbWait)>,
) {
    occupancy.clear(net.0.crossings.len());
    on_carriageway.clear();
    if let Some(open) = nav.open.as_deref() {
        for (id, body, _, wait) in agents.iter() {
            if wait.crosses_anywhere && wait.off_kerb {
                let street = open.grids[body.level].street_at(body.pos).unwrap_or(wait.street);
                on_carriageway.add(&net.0, street, id.0, body.pos, body.radius);
            }
        }
    }
    on_carriageway.finish(net.0.links.len());
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
#[allow(clippy::too_many_arguments)]
pub fn record_crossing_entries(
    clock: Res<crate::schedule::SimClock>,
    map: Res<CrossingMap>,
    gates: Res<CrossingGates>,
    nav: Res<Navigation>,
    net: Res<TrafficNet>,
    mut stats: ResMut<CrossingStats>,
    space: Res<SpaceRes>,
    mut agents: Query<(&AgentId, &mut Body, &Walker, &mut KerbWait)>,
    mut entries: Local<Vec<(u32, u32, f32)>>,
    mut outside_entries: Local<Vec<(u32, f32, bool)>>,
) {
    let dt = clock.dt as f32;
    if let (Some(_), Some(rules)) = (nav.open.as_deref(), net.0.rules.outside_crossings.as_ref()) {
        outside_entries.clear();
        for (id, mut body, _, mut wait) in agents.iter_mut() {
            if !wait.crosses_anywhere {
                continue;
            }
            if wait.crossed {
                outside_entries.push((id.0, wait.gap_waited, false));
                wait.gap_waited = 0.0;
            } else if wait.gap_held {
                wait.gap_waited += dt;
                if wait.gap_waited as f64 >= rules.patience
                    && let Some(clear) = clear_of_kerbs(&space.0, &body)
                {
                    // Giving up brings back the kerbs and crossing sides as walls: a body by a
                    // crossing's corner steps out of reach of it first (by a fraction of a millimetre).
                    body.pos = clear;
                    // Walks to a crossing from here on (its own floor fields share the target ids).
                    outside_entries.push((id.0, wait.gap_waited, true));
                    wait.crosses_anywhere = false;
                    wait.gap_waited = 0.0;
                }
            }
        }
        outside_entries.sort_by_key(|e| e.0);
        for &(_, waited, gave_up) in outside_entries.iter() {
            if gave_up {
                stats.outside.gave_up += 1;
            } else {
                stats.outside.record_entry(waited as f64);
            }
        }
    }
    if map.is_empty() {
        return;
    }
    entries.clear();
    for (id, body, walker, mut wait) in agents.iter_mut() {
        let Some(c) = map.near(body.level, body.pos) else {
            wait.waited = 0.0;
            wait.counted_on = None;
            continue;
        };
        if map.inside(c, body.pos) {
            if !map.inside(c, body.prev) && wait.counted_on != Some(c) {
                entries.push((id.0, c, wait.waited));
                wait.counted_on = Some(c);
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

/// Where someone who crosses anywhere stands once the kerbs and crossing sides are walls again:
/// where they are, or pushed out of reach of a wall they stand too close to; `None` if no push
/// clears them (they keep waiting for a gap).
fn clear_of_kerbs(space: &crate::space::Space, body: &Body) -> Option<bevy::math::DVec2> {
    let walls = space.levels[body.level].walls_for(false);
    let too_close = |p| walls.near(p, body.radius - 1e-9).next().is_some();
    if !too_close(body.pos) {
        return Some(body.pos);
    }
    let p = super::motion::constrain(walls, body.pos, body.pos, body.radius);
    (!too_close(p)).then_some(p)
}
