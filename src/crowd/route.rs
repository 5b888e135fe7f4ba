//! Exit choice: agents of populations with `exit_choice: Quickest` re-decide once a second which
//! exit gives the earliest expected exit time, weighing the walk against the queue already there.

use std::collections::BTreeMap;

use bevy::prelude::*;

use super::crossing::KerbWait;
use super::spawn::Populations;
use super::{Activity, AgentId, Body, Plan, Walker};
use crate::for_each_agent;
use crate::ids::TargetId;
use crate::nav::Navigation;
use crate::schedule::{SimClock, SimThreads};
use crate::space::SpaceRes;
use crate::twin::{ExitChoice, RoutingMode, Scenario};

/// Specific flow through a bottleneck, persons/(m·s) (Seyfried et al. 2009: J ≈ 1.9 w).
pub const SPECIFIC_FLOW: f64 = 1.9;
/// A new exit must promise at least this much earlier an exit to be worth switching to.
const SWITCH_GAIN: f64 = 0.8;

/// The scenario's routing mode, as a resource.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Routing(pub RoutingMode);

impl FromWorld for Routing {
    fn from_world(world: &mut World) -> Self {
        Routing(world.get_resource::<Scenario>().map_or_else(RoutingMode::default, |s| s.routing))
    }
}

/// With density-aware routing, recomputes the floor fields of every level for the crowd on it.
pub fn follow_crowd(
    clock: Res<SimClock>,
    mode: Res<Routing>,
    space: Res<SpaceRes>,
    mut nav: ResMut<Navigation>,
    agents: Query<&Body>,
    mut counts: Local<Vec<Vec<u32>>>,
) {
    let RoutingMode::DensityAware { interval } = mode.0 else { return };
    let every = (interval / clock.dt).round().max(1.0) as u64;
    if clock.step % every != 0 {
        return;
    }
    counts.resize_with(nav.grids.len(), Vec::new);
    for (counts, grid) in counts.iter_mut().zip(nav.grids.iter()) {
        counts.clear();
        counts.resize(grid.nx * grid.ny, 0);
    }
    for body in &agents {
        if let Some(k) = nav.grids[body.level].cell_at(body.pos) {
            counts[body.level.index()][k] += 1;
        }
    }
    nav.follow_crowd(&space.0, &counts);
}

/// Per exit field, the sorted travel times of the agents heading there now.
#[derive(Default)]
pub struct ExitQueues(BTreeMap<TargetId, Vec<f32>>);

/// When a command assigns exits to a population (or gives it back the exits of its goal), everyone
/// of it already on the way out turns to the new exits at once.
pub fn follow_exit_assignments(
    space: Res<SpaceRes>,
    populations: Res<Populations>,
    mut seen: Local<Vec<Option<TargetId>>>,
    mut agents: Query<(&Walker, &mut Plan)>,
) {
    let now: Vec<Option<TargetId>> = space.0.exit_assignments.iter().map(|a| a.as_ref().map(|a| a.target)).collect();
    if seen.len() != now.len() {
        *seen = vec![None; now.len()];
    }
    if *seen == now {
        return;
    }
    for (walker, mut plan) in agents.iter_mut() {
        let p = walker.population.index();
        let legs = &populations.get(walker.population).plan.legs;
        if seen[p] != now[p] && plan.leg as usize + 1 == legs.len() {
            let target = super::spawn::leg_target(&space.0, walker.population, legs, plan.leg as usize);
            if plan.target != target {
                plan.target = target;
                plan.spot = None;
                plan.spot_in_view = false;
                plan.looked_in_view = false;
            }
        }
    }
    *seen = now;
}

pub fn choose_exits(
    clock: Res<SimClock>,
    threads: Res<SimThreads>,
    populations: Res<Populations>,
    nav: Res<Navigation>,
    space: Res<SpaceRes>,
    mut queues: Local<ExitQueues>,
    mut agents: Query<(&AgentId, &Body, &Walker, &KerbWait, &mut Plan)>,
) {
    // A population sent out by assigned exits keeps them.
    let quickest = |pop: crate::ids::PopulationId| {
        populations.get(pop).plan.exit_choice == ExitChoice::Quickest
            && space.0.exit_assignments.get(pop.index()).is_none_or(Option::is_none)
    };
    if !populations.list.iter().any(|p| p.plan.exit_choice == ExitChoice::Quickest) {
        return;
    }
    let queues = &mut queues.0;
    for times in queues.values_mut() {
        times.clear();
    }
    for (_, body, walker, kerb, plan) in agents.iter() {
        if quickest(walker.population) {
            let nav = nav.for_agent(kerb.crosses_anywhere);
            let grid = &nav.grids[body.level];
            let t = nav.field(plan.target, body.level).time_at(grid, body.pos);
            queues.entry(plan.target).or_default().push(t);
        }
    }
    for times in queues.values_mut() {
        times.sort_by(f32::total_cmp);
    }
    let every = (1.0 / clock.dt).round().max(1.0) as u64;
    let (queues, all_nav, space, populations) = (&*queues, &*nav, &space.0, &*populations);
    type Item<'a> = (&'a AgentId, &'a Body, &'a Walker, &'a KerbWait, Mut<'a, Plan>);
    for_each_agent!(agents, *threads, |(id, body, walker, kerb, mut plan): Item<'_>| {
        let nav = all_nav.for_agent(kerb.crosses_anywhere);
        let pop = &populations.get(walker.population).plan;
        let on_exit_leg = plan.leg as usize + 1 == pop.legs.len();
        if !quickest(walker.population)
            || plan.activity != Activity::Walking
            || !on_exit_leg
            || (id.0 as u64 + clock.step) % every != 0
        {
            return;
        }
        let grid = &nav.grids[body.level];
        let Some(k) = grid.cell_at(body.pos) else { return };
        let expected = |target: TargetId, width: f64| {
            let t = nav.field(target, body.level).time[k];
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
            plan.spot = None;
            plan.spot_in_view = false;
            plan.looked_in_view = false;
        }
    });
}
