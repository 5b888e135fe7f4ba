//! Bringing agents in: placement inside spawn areas (no overlap, clear of walls) and arrival
//! flows through entrance doors, with personal speeds and pre-movement times drawn per population.

use bevy::math::DVec2;
use bevy::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{Activity, AgentId, Body, Census, CrowdSnapshot, Plan, Velocity, Walker};
use crate::scene::{AgeGroup, Distribution, Point};
use crate::sim::SimClock;
use crate::space::geom::ring_contains;
use crate::space::{LevelSpace, SpaceRes};

/// One leg of a population's route: the field it follows and, for destinations, how long to stay.
#[derive(Clone, Debug)]
pub struct Leg {
    pub target: u32,
    pub dwell: Option<Distribution>,
}

#[derive(Clone, Debug)]
pub enum Source {
    /// Agents placed at the start, in this order.
    Placed { positions: Vec<DVec2>, done: bool },
    /// A flow through a boundary door: `(from_time_s, persons_per_hour)` steps.
    Arrivals { door: usize, rates: Vec<(f64, f64)>, total: Option<u32>, emitted: u32 },
}

impl Source {
    /// Whether this source will bring nobody else in after time `now`.
    pub fn exhausted(&self, now: f64) -> bool {
        match self {
            Source::Placed { done, .. } => *done,
            Source::Arrivals { rates, total, emitted, .. } => {
                total.is_some_and(|t| *emitted >= t)
                    || (rates.last().is_none_or(|r| r.1 <= 0.0 && now >= r.0)
                        && *emitted as f64 >= arrivals_due(rates, now).floor())
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct PopulationRuntime {
    pub id: String,
    pub level: u16,
    pub radius: f64,
    pub time_gap: f64,
    pub relaxation: f64,
    pub speed: Distribution,
    pub premovement: Distribution,
    pub legs: Vec<Leg>,
    pub exit_choice: crate::scene::ExitChoice,
    /// For `Quickest`: each candidate exit door and the navigation target of it alone.
    pub exit_options: Vec<(usize, u32)>,
    pub source: Source,
    pub rng: ChaCha8Rng,
}

#[derive(Resource, Clone, Debug, Default)]
pub struct Populations {
    pub list: Vec<PopulationRuntime>,
    pub next_id: u32,
}

impl Populations {
    pub fn all_in(&self, now: f64) -> bool {
        self.list.iter().all(|p| p.source.exhausted(now))
    }
}

/// The random stream of one population, forked from the scene seed.
pub fn population_rng(seed: u64, population: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((1 << 63) | population as u64);
    rng
}

/// The random stream of one agent for one purpose; independent of update order and threads.
pub fn agent_rng(seed: u64, agent: u32, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((agent as u64) << 16) | (purpose & 0xffff));
    rng
}

pub fn sample(dist: &Distribution, rng: &mut impl Rng) -> f64 {
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
        Distribution::Constant(c) => c,
        Distribution::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        Distribution::Normal { mean, sd, min, max } => {
            truncated(&mut || mean + sd * rng.sample::<f64, _>(StandardNormal), min, max, mean)
        }
        Distribution::LogNormal { mu, sigma, min, max } => {
            truncated(&mut || libm::exp(mu + sigma * rng.sample::<f64, _>(StandardNormal)), min, max, libm::exp(mu))
        }
        Distribution::AgeGroups(_) => draw_speed(dist, rng).0,
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
pub fn draw_speed(dist: &Distribution, rng: &mut impl Rng) -> (f64, Option<AgeGroup>) {
    match dist {
        Distribution::AgeGroups(groups) => {
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

/// Places `count` bodies of `radius` inside `polygon` ∩ walkable space without overlap and clear
/// of walls: a randomly shifted hexagonal lattice, as dense as needed, with random picks and jitter.
/// Errs with the number that fit at the densest packing.
pub fn place_in_area(
    level: &LevelSpace,
    polygon: &[Point],
    count: usize,
    radius: f64,
    area: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<DVec2>, usize> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let lo = polygon.iter().fold(DVec2::splat(f64::INFINITY), |m, p| m.min(DVec2::new(p[0], p[1])));
    let hi = polygon.iter().fold(DVec2::splat(f64::NEG_INFINITY), |m, p| m.max(DVec2::new(p[0], p[1])));
    let min_spacing = 2.0 * radius + 0.01;
    let mut spacing = (2.0 / (3f64.sqrt() * count as f64 / area.max(1e-9))).sqrt().max(min_spacing);
    let mut fitted = 0;
    loop {
        let jitter = ((spacing - min_spacing) / 2.0).max(0.0);
        let row = spacing * 3f64.sqrt() / 2.0;
        let offset = DVec2::new(rng.random::<f64>() * spacing, rng.random::<f64>() * row);
        let mut candidates = Vec::new();
        let mut y = lo.y + offset.y;
        let mut r = 0;
        while y <= hi.y {
            let mut x = lo.x + offset.x + if r % 2 == 1 { spacing / 2.0 } else { 0.0 } - spacing;
            while x <= hi.x {
                let p = DVec2::new(x, y);
                if x >= lo.x
                    && ring_contains(polygon, p)
                    && level.contains(p)
                    && level.wall_distance(p) >= radius + jitter + 0.005
                {
                    candidates.push(p);
                }
                x += spacing;
            }
            y += row;
            r += 1;
        }
        fitted = fitted.max(candidates.len());
        if candidates.len() >= count {
            for i in 0..count {
                let j = rng.random_range(i..candidates.len());
                candidates.swap(i, j);
            }
            candidates.truncate(count);
            for p in &mut candidates {
                let angle = rng.random::<f64>() * std::f64::consts::TAU;
                let dist = jitter * rng.random::<f64>().sqrt();
                *p += DVec2::new(libm::cos(angle), libm::sin(angle)) * dist;
            }
            // Spawned (and so stored and numbered) along a Z-order curve: agents that are near each
            // other are near in memory, which keeps neighbour queries and field lookups in cache.
            candidates.sort_by_key(|p| z_order(*p - lo));
            return Ok(candidates);
        }
        if spacing <= min_spacing {
            return Err(fitted);
        }
        spacing = (spacing * 0.93).max(min_spacing);
    }
}

/// Position on a Z-order (Morton) curve over 1 m cells.
fn z_order(p: DVec2) -> u64 {
    let spread = |v: f64| {
        let mut x = (v.max(0.0) as u64).min(u32::MAX as u64);
        x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
        x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
        x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        (x | (x << 1)) & 0x5555_5555_5555_5555
    };
    spread(p.x) | (spread(p.y) << 1)
}

pub fn spawn_agents(
    mut commands: Commands,
    clock: Res<SimClock>,
    space: Res<SpaceRes>,
    snapshot: Res<CrowdSnapshot>,
    mut populations: ResMut<Populations>,
    mut census: ResMut<Census>,
) {
    let now = clock.now();
    let populations = &mut *populations;
    let mut placed_now: Vec<(u16, DVec2, f64)> = Vec::new();
    for (index, pop) in populations.list.iter_mut().enumerate() {
        let mut positions: Vec<DVec2> = Vec::new();
        match &mut pop.source {
            Source::Placed { positions: all, done } => {
                if !*done {
                    positions.append(all);
                    *done = true;
                }
            }
            Source::Arrivals { door, rates, total, emitted } => {
                let due = arrivals_due(rates, now).floor() as u32;
                let due = total.map_or(due, |t| due.min(t));
                let door = &space.0.doors[*door];
                while *emitted < due {
                    let along = door.b - door.a;
                    let width = along.length();
                    let margin = (pop.radius / width).min(0.5);
                    let spot = (0..8).find_map(|_| {
                        let u = margin + (1.0 - 2.0 * margin) * pop.rng.random::<f64>();
                        let p = door.a + along * u - door.normal * (pop.radius + 0.05);
                        let clear = |q: DVec2, r: f64| q.distance(p) >= pop.radius + r + 0.05;
                        let free = snapshot.trees.get(pop.level as usize).is_none_or(|tree| {
                            tree.locate_within_distance(
                                [p.x as f32, p.y as f32],
                                ((pop.radius + snapshot.max_radius + 0.2) as f32).powi(2),
                            )
                            .all(|n| {
                                clear(snapshot.agents[n.data as usize].pos, snapshot.agents[n.data as usize].radius)
                            })
                        }) && placed_now.iter().all(|&(l, q, r)| l != pop.level || clear(q, r));
                        free.then_some(p)
                    });
                    let Some(p) = spot else { break };
                    placed_now.push((pop.level, p, pop.radius));
                    positions.push(p);
                    *emitted += 1;
                }
            }
        }
        for pos in positions {
            let (v0, group) = draw_speed(&pop.speed, &mut pop.rng);
            let premovement = sample(&pop.premovement, &mut pop.rng).max(0.0);
            let activity =
                if premovement > 0.0 { Activity::Waiting { until: now + premovement } } else { Activity::Walking };
            let mut agent = commands.spawn((
                AgentId(populations.next_id),
                Body { level: pop.level, pos, prev: pos, radius: pop.radius },
                Walker { v0, time_gap: pop.time_gap, relaxation: pop.relaxation, population: index as u16 },
                Velocity::default(),
                super::Stalled::default(),
                Plan { activity, leg: 0, target: pop.legs[0].target },
            ));
            if let Some(group) = group {
                agent.insert(super::Demographic(group));
            }
            populations.next_id += 1;
            census.spawned += 1;
        }
    }
}
