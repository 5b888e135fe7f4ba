//! The collision-free speed model (Tordeux, Chraibi, Seyfried 2016): each agent walks at the
//! largest speed that keeps a time gap to whoever is ahead, in a direction bent by its neighbours and walls.

use std::cell::RefCell;

use bevy::math::DVec2;
use bevy::prelude::*;

use super::{Activity, AgentId, Body, CrowdSnapshot, Plan, Velocity, Walker};
use crate::nav::Navigation;
use crate::nav::fmm::{IN_DESTINATION, NOT_SOURCE};
use crate::space::geom::{closest_on_segment, v};
use crate::space::{Space, SpaceRes};

/// Model constants. Defaults follow JuPedSim's `CollisionFreeSpeedModel`, which implements the
/// model of Tordeux et al. (2016): neighbour repulsion strength 8, range 0.1 m; wall repulsion
/// strength 5, range 0.02 m. The time gap (1 s) is per agent, in `Walker`.
#[derive(Resource, Clone, Copy, Debug)]
pub struct ModelParams {
    pub neighbour_strength: f64,
    pub neighbour_range: f64,
    pub wall_strength: f64,
    pub wall_range: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams { neighbour_strength: 8.0, neighbour_range: 0.1, wall_strength: 5.0, wall_range: 0.02 }
    }
}

thread_local! {
    /// Reused per worker thread so that the per-agent loop allocates nothing.
    static NEIGHBOURS: RefCell<Vec<u32>> = RefCell::new(Vec::with_capacity(256));
}

pub fn steer(
    snapshot: Res<CrowdSnapshot>,
    space: Res<SpaceRes>,
    nav: Res<Navigation>,
    params: Res<ModelParams>,
    mut agents: Query<(&AgentId, &Body, &Walker, &Plan, &mut Velocity)>,
) {
    let (snapshot, space, nav, params) = (&*snapshot, &space.0, &*nav, *params);
    agents.par_iter_mut().for_each(|(id, body, walker, plan, mut velocity)| {
        velocity.0 = match plan.activity {
            Activity::Walking => NEIGHBOURS.with_borrow_mut(|buf| {
                collision_free_velocity(id.0, body, walker, plan, snapshot, space, nav, &params, buf)
            }),
            _ => DVec2::ZERO,
        };
    });
}

/// Desired direction from the floor field; at an exit it aims through the door.
pub fn desired_direction(nav: &Navigation, space: &Space, field: usize, level: usize, p: DVec2) -> DVec2 {
    let grid = &nav.grids[level];
    let Some(k) = grid.cell_at(p) else { return DVec2::ZERO };
    let mut f = &nav.fields[field];
    if !f.time[k].is_finite() && f.dir[k] == [0.0, 0.0] {
        if let Some(fallback) = nav.level_exits[level] {
            f = &nav.fields[fallback];
        }
    }
    match f.source[k] {
        s if s == NOT_SOURCE || s == IN_DESTINATION => DVec2::new(f.dir[k][0] as f64, f.dir[k][1] as f64),
        door => {
            let door = &space.doors[door as usize];
            let along = (door.b - door.a).normalize_or_zero();
            let inset = (0.3 * door.width()).min(0.25);
            let q = closest_on_segment(p, door.a + along * inset, door.b - along * inset);
            (q + door.normal * 0.5 - p).normalize_or_zero()
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn collision_free_velocity(
    id: u32,
    body: &Body,
    walker: &Walker,
    plan: &Plan,
    snapshot: &CrowdSnapshot,
    space: &Space,
    nav: &Navigation,
    params: &ModelParams,
    neighbours: &mut Vec<u32>,
) -> DVec2 {
    let level = body.level as usize;
    let p = body.pos;
    let e0 = desired_direction(nav, space, plan.field as usize, level, p);
    if e0 == DVec2::ZERO {
        return DVec2::ZERO;
    }
    // Beyond this distance a neighbour neither repels noticeably nor limits the speed.
    let reach = (body.radius + snapshot.max_radius + walker.v0 * walker.time_gap).max(1.0);
    neighbours.clear();
    if let Some(tree) = snapshot.trees.get(level) {
        neighbours.extend(tree.locate_within_distance([p.x, p.y], reach * reach).map(|n| n.data));
    }
    neighbours.sort_unstable();

    let mut e = e0;
    for &j in neighbours.iter() {
        let other = &snapshot.agents[j as usize];
        if other.id == id {
            continue;
        }
        let d = p - other.pos;
        let dist = d.length();
        if dist > 1e-9 {
            let l = body.radius + other.radius;
            e += d / dist * params.neighbour_strength * libm::exp((l - dist) / params.neighbour_range);
        }
    }
    let wall_reach = body.radius + 10.0 * params.wall_range;
    for wall in space.levels[level].walls_near(p, wall_reach) {
        let q = closest_on_segment(p, v(wall.geom().from), v(wall.geom().to));
        let d = p - q;
        let dist = d.length();
        if dist > 1e-9 {
            e += d / dist * params.wall_strength * libm::exp((body.radius - dist) / params.wall_range);
        }
    }
    let e = e.try_normalize().unwrap_or(e0);

    let mut spacing = f64::INFINITY;
    let side = e.perp();
    for &j in neighbours.iter() {
        let other = &snapshot.agents[j as usize];
        if other.id == id {
            continue;
        }
        let d = other.pos - p;
        let l = body.radius + other.radius;
        if d.dot(e) >= 0.0 && d.dot(side).abs() <= l {
            spacing = spacing.min(d.length() - l);
        }
    }
    let speed = (spacing / walker.time_gap).clamp(0.0, walker.v0);
    e * speed
}
