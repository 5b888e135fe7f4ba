//! Exit choice: agents of populations with `exit_choice: Quickest` re-decide once a second which
//! exit gives the earliest expected exit time, weighing the walk against the queue already there.

use std::collections::BTreeMap;

use bevy::prelude::*;

use super::spawn::Populations;
use super::{Activity, AgentId, Body, Plan, Walker};
use crate::nav::Navigation;
use crate::scene::{ExitChoice, Routing};
use crate::sim::SimClock;
use crate::space::SpaceRes;

/// Specific flow through a bottleneck, persons/(m·s) (Seyfried et al. 2009: J ≈ 1.9 w).
pub const SPECIFIC_FLOW: f64 = 1.9;
/// A new exit must promise at least this much earlier an exit to be worth switching to.
const SWITCH_GAIN: f64 = 0.8;

/// The scene's routing mode, as a resource.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct RoutingMode(pub Routing);

/// With density-aware routing, recomputes the floor fields of every level for the crowd on it.
pub fn follow_crowd(
    clock: Res<SimClock>,
    mode: Res<RoutingMode>,
    space: Res<SpaceRes>,
    mut nav: ResMut<Navigation>,
    agents: Query<&Body>,
    mut counts: Local<Vec<Vec<u32>>>,
) {
    let Routing::DensityAware { interval } = mode.0 else { return };
    let every = (interval / clock.dt).round().max(1.0) as u64;
    if clock.step % every != 0 {
        return;
    }
    counts.resize_with(nav.grids.len(), Vec::new);
    for (level, grid) in nav.grids.iter().enumerate() {
        counts[level].clear();
        counts[level].resize(grid.nx * grid.ny, 0);
    }
    for body in &agents {
        let level = body.level as usize;
        if let Some(k) = nav.grids[level].cell_at(body.pos) {
            counts[level][k] += 1;
        }
    }
    nav.follow_crowd(&space.0, &counts);
}

/// Per exit field, the sorted travel times of the agents heading there now.
#[derive(Default)]
pub struct ExitQueues(BTreeMap<u32, Vec<f32>>);

pub fn choose_exits(
    clock: Res<SimClock>,
    populations: Res<Populations>,
    nav: Res<Navigation>,
    space: Res<SpaceRes>,
    mut queues: Local<ExitQueues>,
    mut agents: Query<(&AgentId, &Body, &Walker, &mut Plan)>,
) {
    let quickest = |pop: u16| populations.list[pop as usize].exit_choice == ExitChoice::Quickest;
    if !populations.list.iter().any(|p| p.exit_choice == ExitChoice::Quickest) {
        return;
    }
    let queues = &mut queues.0;
    for times in queues.values_mut() {
        times.clear();
    }
    for (_, body, walker, plan) in agents.iter() {
        if quickest(walker.population) {
            let grid = &nav.grids[body.level as usize];
            let t = nav.field(plan.target, body.level as usize).time_at(grid, body.pos);
            queues.entry(plan.target).or_default().push(t);
        }
    }
    for times in queues.values_mut() {
        times.sort_by(f32::total_cmp);
    }
    let every = (1.0 / clock.dt).round().max(1.0) as u64;
    let (queues, nav, space, populations) = (&*queues, &*nav, &space.0, &*populations);
    agents.par_iter_mut().for_each(|(id, body, walker, mut plan)| {
        let pop = &populations.list[walker.population as usize];
        let on_exit_leg = plan.leg as usize + 1 == pop.legs.len();
        if pop.exit_choice != ExitChoice::Quickest
            || plan.activity != Activity::Walking
            || !on_exit_leg
            || (id.0 as u64 + clock.step) % every != 0
        {
            return;
        }
        let grid = &nav.grids[body.level as usize];
        let Some(k) = grid.cell_at(body.pos) else { return };
        let expected = |target: u32, width: f64| {
            let t = nav.field(target, body.level as usize).time[k];
            if !t.is_finite() {
                return f64::INFINITY;
            }
            let ahead = queues.get(&target).map_or(0, |q| q.partition_point(|&x| x < t));
            (t as f64 / walker.v0).max(ahead as f64 / (SPECIFIC_FLOW * width))
        };
        let mut current = f64::INFINITY;
        let mut best = (f64::INFINITY, plan.target);
        for &(door, target) in &pop.exit_options {
            let cost = expected(target, space.doors[door].width());
            if target == plan.target {
                current = cost;
            }
            if cost < best.0 {
                best = (cost, target);
            }
        }
        if best.1 != plan.target && best.0 < SWITCH_GAIN * current {
            plan.target = best.1;
        }
    });
}
