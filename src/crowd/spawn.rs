//! Bringing agents in: everyone of a spawn area at the start, and arrival flows through entrance
//! doors, with personal speeds and pre-movement times drawn from each population's own random stream.

use bevy::math::DVec2;
use bevy::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{Activity, AgentId, Body, Census, CrowdSnapshot, Plan, Velocity, Walker};
use crate::ids::{DoorId, Id, PopulationId, TargetId};
use crate::schedule::{SimClock, SimSeed};
use crate::space::SpaceRes;
use crate::twin::placement::place_in_area;
use crate::twin::{AgeGroup, Dist, Origin, PopulationPlan, Scenario};

#[derive(Clone, Debug)]
pub enum Source {
    /// Agents placed at the start, in this order.
    Placed { positions: Vec<DVec2>, done: bool },
    /// A flow through a boundary door: `(from_time_s, persons_per_hour)` steps; `shares`: the
    /// far-end control ordered at the door, `(from_time_s, share let in)` steps.
    Arrivals { door: DoorId, rates: Vec<(f64, f64)>, shares: Vec<(f64, f64)>, total: Option<u32>, emitted: u32 },
}

impl Source {
    /// Arrivals due by `now`, with the far-end control's shares.
    fn due(rates: &[(f64, f64)], shares: &[(f64, f64)], now: f64) -> f64 {
        if shares.is_empty() { arrivals_due(rates, now) } else { arrivals_due_shared(rates, shares, now) }
    }
}

impl Source {
    /// Whether this source will bring nobody else in after time `now`.
    pub fn exhausted(&self, now: f64) -> bool {
        match self {
            Source::Placed { done, .. } => *done,
            Source::Arrivals { rates, shares, total, emitted, .. } => {
                let none_later = rates.last().is_none_or(|r| r.1 <= 0.0 && now >= r.0)
                    || shares.last().is_some_and(|s| s.1 <= 0.0 && now >= s.0);
                total.is_some_and(|t| *emitted >= t)
                    || (none_later && *emitted as f64 >= Source::due(rates, shares, now).floor())
            }
        }
    }
}

/// A population while the twin runs: its plan, who is still to come, and its random stream.
#[derive(Clone, Debug)]
pub struct PopulationRuntime {
    pub plan: PopulationPlan,
    pub source: Source,
    pub rng: ChaCha8Rng,
}

#[derive(Resource, Clone, Debug)]
pub struct Populations {
    pub list: Vec<PopulationRuntime>,
    pub next_id: u32,
    /// Placements that failed, by population id (never, for a scene the twin builder accepted).
    pub problems: Vec<(String, String)>,
}

impl Populations {
    pub fn all_in(&self, now: f64) -> bool {
        self.list.iter().all(|p| p.source.exhausted(now))
    }

    pub fn get(&self, id: PopulationId) -> &PopulationRuntime {
        &self.list[id.index()]
    }
}

impl FromWorld for Populations {
    /// Everyone placed in spawn areas is placed now, with the run's seed.
    fn from_world(world: &mut World) -> Self {
        let seed = world.resource::<SimSeed>().0;
        let scenario = world.resource::<Scenario>();
        let space = &world.resource::<SpaceRes>().0;
        let mut populations = Populations { list: Vec::new(), next_id: 0, problems: Vec::new() };
        for (index, plan) in scenario.populations.iter().enumerate() {
            let mut rng = population_rng(seed, index);
            let source = match &plan.origin {
                Origin::Area { polygon, count, free_area } => {
                    let level = &space.levels[plan.level];
                    match place_in_area(level, polygon, *count as usize, plan.radius, *free_area, &mut rng) {
                        Ok(positions) => Source::Placed { positions, done: false },
                        Err(fitted) => {
                            populations.problems.push((
                                plan.id.clone(),
                                format!("only {fitted} of {count} agents fit in the spawn area"),
                            ));
                            Source::Placed { positions: Vec::new(), done: false }
                        }
                    }
                }
                Origin::Arrivals { door, rates, total } => Source::Arrivals {
                    door: *door,
                    rates: rates.clone(),
                    shares: Vec::new(),
                    total: *total,
                    emitted: 0,
                },
            };
            populations.list.push(PopulationRuntime { plan: plan.clone(), source, rng });
        }
        populations
    }
}

/// The random stream of one population, forked from the scene seed.
pub fn population_rng(seed: u64, population: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((1 << 63) | population as u64);
    rng
}

/// The random stream of one agent for one purpose; independent of update order and threads.
/// The `agent_rng` purpose of the draw that decides whether an agent crosses streets anywhere.
const CROSS_ANYWHERE_STREAM: u64 = 0xff00;

pub fn agent_rng(seed: u64, agent: u32, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((agent as u64) << 16) | (purpose & 0xffff));
    rng
}

pub fn sample(dist: &Dist, rng: &mut impl Rng) -> f64 {
    let truncated = |rng: &mut dyn FnMut() -> f64, min: f64, max: f64, centre: f64| {
        for _ in 0..1000 {
            let x = rng();
            if (min..=max).contains(&x) {
                return x;
            }
        }
        centre.clamp(min, max)
    };
    match *dist {
        Dist::Constant(c) => c,
        Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        Dist::Normal { mean, sd, min, max } => {
            truncated(&mut || mean + sd * rng.sample::<f64, _>(StandardNormal), min, max, mean)
        }
        Dist::LogNormal { mu, sigma, min, max } => {
            truncated(&mut || libm::exp(mu + sigma * rng.sample::<f64, _>(StandardNormal)), min, max, libm::exp(mu))
        }
        Dist::AgeGroups(_) => draw_speed(dist, rng).0,
    }
}

fn draw_group(groups: &[(AgeGroup, f64)], rng: &mut impl Rng) -> Option<AgeGroup> {
    let total: f64 = groups.iter().map(|g| g.1).sum();
    let mut pick = rng.random::<f64>() * total;
    groups
        .iter()
        .find(|g| {
            pick -= g.1;
            pick < 0.0
        })
        .or(groups.last())
        .map(|g| g.0)
}

/// A walking speed, and the age group it was drawn for when the distribution is by age group.
pub fn draw_speed(dist: &Dist, rng: &mut impl Rng) -> (f64, Option<AgeGroup>) {
    match dist {
        Dist::AgeGroups(groups) => {
            let group = draw_group(groups, rng);
            let (lo, hi) = group.map_or((0.0, 0.0), AgeGroup::speed_range);
            (lo + (hi - lo) * rng.random::<f64>(), group)
        }
        other => (sample(other, rng), None),
    }
}

/// Expected number of arrivals by time `t`.
pub fn arrivals_due(rates: &[(f64, f64)], t: f64) -> f64 {
    let mut due = 0.0;
    for (i, &(from, per_hour)) in rates.iter().enumerate() {
        let to = rates.get(i + 1).map_or(f64::INFINITY, |r| r.0).min(t);
        if to > from {
            due += per_hour / 3600.0 * (to - from);
        }
    }
    due
}

/// Expected number of arrivals by time `t` when only a share of them comes: `shares` are
/// `(from_time_s, share)` steps (before the first, all come).
pub fn arrivals_due_shared(rates: &[(f64, f64)], shares: &[(f64, f64)], t: f64) -> f64 {
    // Breakpoints of both step functions; between two, rate and share are constant.
    let mut due = 0.0;
    let mut from = 0.0f64;
    let mut marks: Vec<f64> = rates.iter().map(|r| r.0).chain(shares.iter().map(|s| s.0)).filter(|&m| m < t).collect();
    marks.push(t);
    marks.sort_by(f64::total_cmp);
    for to in marks {
        if to > from {
            let rate = rates.iter().rev().find(|r| r.0 <= from).map_or(0.0, |r| r.1);
            let share = shares.iter().rev().find(|s| s.0 <= from).map_or(1.0, |s| s.1);
            due += rate * share / 3600.0 * (to - from);
        }
        from = from.max(to);
    }
    due
}

#[allow(clippy::too_many_arguments)]
pub fn spawn_agents(
    mut commands: Commands,
    clock: Res<SimClock>,
    space: Res<SpaceRes>,
    snapshot: Res<CrowdSnapshot>,
    mut populations: ResMut<Populations>,
    mut census: ResMut<Census>,
    seed: Res<crate::schedule::SimSeed>,
    nav: Res<crate::nav::Navigation>,
    net: Res<crate::traffic::TrafficNet>,
    bodies: Query<&Body>,
) {
    let now = clock.now();
    // Drawn from each agent's own stream, so the rest of the crowd is the same with or without.
    let outside_share = net.0.rules.outside_crossings.as_ref().filter(|_| nav.open.is_some()).map_or(0.0, |o| o.share);
    let crosses_anywhere =
        |id: u32| outside_share > 0.0 && agent_rng(seed.0, id, CROSS_ANYWHERE_STREAM).random::<f64>() < outside_share;
    let populations = &mut *populations;
    let mut placed_now: Vec<(crate::ids::LevelId, DVec2, f64)> = Vec::new();
    for (index, pop) in populations.list.iter_mut().enumerate() {
        let plan = &pop.plan;
        let mut positions: Vec<DVec2> = Vec::new();
        match &mut pop.source {
            Source::Placed { positions: all, done } => {
                if !*done {
                    positions.append(all);
                    *done = true;
                }
            }
            Source::Arrivals { door, rates, shares, total, emitted } => {
                let control = space.0.arrival_control.get(door);
                if let Some(c) = control
                    && c.shares.len() != shares.len()
                {
                    shares.clone_from(&c.shares);
                }
                let due = Source::due(rates, shares, now).floor() as u32;
                let due = total.map_or(due, |t| due.min(t));
                let door = &space.0.doors[control.and_then(|c| c.divert_to).unwrap_or(*door)];
                // The snapshot is a step old and everyone has moved since: arrivals must also be
                // clear of where those near the door are now.
                let near: Vec<(DVec2, f64)> = if *emitted < due {
                    bodies
                        .iter()
                        .filter(|b| {
                            b.level == plan.level && crate::geom::distance_to_segment(b.pos, door.a, door.b) < 1.5
                        })
                        .map(|b| (b.pos, b.radius))
                        .collect()
                } else {
                    Vec::new()
                };
                while *emitted < due {
                    let along = door.b - door.a;
                    let width = along.length();
                    let margin = (plan.radius / width).min(0.5);
                    let spot = (0..8).find_map(|_| {
                        let u = margin + (1.0 - 2.0 * margin) * pop.rng.random::<f64>();
                        let p = door.a + along * u - door.normal * (plan.radius + 0.05);
                        let clear = |q: DVec2, r: f64| q.distance(p) >= plan.radius + r + 0.05;
                        let reach = plan.radius + snapshot.max_radius + 0.2;
                        let free = snapshot.all_within(plan.level, p, reach, |a| clear(a.pos, a.radius))
                            && placed_now.iter().all(|&(l, q, r)| l != plan.level || clear(q, r))
                            && near.iter().all(|&(q, r)| clear(q, r));
                        free.then_some(p)
                    });
                    let Some(p) = spot else { break };
                    placed_now.push((plan.level, p, plan.radius));
                    positions.push(p);
                    *emitted += 1;
                }
                let outside = census.outside.entry(PopulationId::from_index(index)).or_default();
                (outside.due, outside.let_in) = (due, *emitted);
                if outside.now() > outside.peak {
                    (outside.peak, outside.peak_at) = (outside.now(), now);
                }
            }
        }
        for pos in positions {
            let (v0, group) = draw_speed(&plan.speed, &mut pop.rng);
            let premovement = sample(&plan.premovement, &mut pop.rng).max(0.0);
            let activity =
                if premovement > 0.0 { Activity::Waiting { until: now + premovement } } else { Activity::Walking };
            let mut agent = commands.spawn((
                AgentId(populations.next_id),
                Body { level: plan.level, pos, prev: pos, radius: plan.radius },
                Walker {
                    v0,
                    time_gap: plan.time_gap,
                    relaxation: plan.relaxation,
                    population: PopulationId::from_index(index),
                },
                Velocity::default(),
                super::Heading::default(),
                super::Stalled::default(),
                super::crossing::KerbWait {
                    crosses_anywhere: crosses_anywhere(populations.next_id),
                    ..Default::default()
                },
                Plan {
                    activity,
                    leg: 0,
                    target: leg_target(&space.0, PopulationId::from_index(index), &plan.legs, 0),
                    spot: None,
                    spot_in_view: false,
                    looked_in_view: false,
                },
            ));
            if let Some(group) = group {
                agent.insert(super::Demographic(group));
            }
            populations.next_id += 1;
            census.spawned += 1;
        }
    }
    if !census.outside.is_empty() {
        let (due, let_in) = census.outside.values().fold((0, 0), |(due, let_in), o| (due + o.due, let_in + o.let_in));
        let total = &mut census.outside_total;
        (total.due, total.let_in) = (due, let_in);
        if total.now() > total.peak {
            (total.peak, total.peak_at) = (total.now(), now);
        }
    }
}

/// The target of a population's leg: its own, or on the last leg (the way out) the exits a
/// command assigned to the population.
pub fn leg_target(
    space: &crate::space::Space,
    population: PopulationId,
    legs: &[crate::twin::Leg],
    leg: usize,
) -> TargetId {
    match space.exit_assignments.get(population.index()) {
        Some(Some(assigned)) if leg + 1 == legs.len() => assigned.target,
        _ => legs[leg].target,
    }
}
