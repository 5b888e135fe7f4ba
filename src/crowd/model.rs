//! Operational models: how each agent chooses its velocity from its desired direction, its
//! neighbours and the walls. The collision-free speed model is the default; the social force model
//! is the alternative. Both read only the step's snapshot and write only the agent itself.

use std::cell::RefCell;

use bevy::math::DVec2;
use bevy::prelude::*;
use rstar::AABB;

use super::crossing::KerbWait;
use super::{Activity, AgentId, Body, CrowdSnapshot, Plan, Stalled, Velocity, Walker};
use crate::for_each_agent;
use crate::geom::{closest_on_segment, v};
use crate::ids::{LevelId, TargetId};
use crate::nav::{CellSource, Navigation};
use crate::schedule::{SimClock, SimThreads};
use crate::space::{LevelKind, Space, SpaceRes, Walls};
use crate::twin::{PedModel, Scenario};

/// An agent that has come no nearer its target for this long walks along its desired direction
/// and yields only to those ahead of it: on the same route, those nearer the target (ties by id);
/// on other routes, those with a smaller id, a global order that no cycle of people heading for
/// different exits can defeat. Without this, people pressed together at the corners of a narrow
/// door, or crossing towards different exits, can hold each other off for ever.
pub const DEADLOCK_RELIEF_AFTER: f32 = 1.0;
/// Coming this much nearer the target (s of travel time at 1 m/s) counts as progress.
const PROGRESS: f32 = 0.05;

/// The scenario's model and constants, as a resource.
#[derive(Resource, Clone, Copy, Debug)]
pub struct ModelParams(pub PedModel);

impl FromWorld for ModelParams {
    fn from_world(world: &mut World) -> Self {
        ModelParams(world.resource::<Scenario>().model)
    }
}

thread_local! {
    /// Reused per worker thread so that the per-agent loop allocates nothing.
    static NEIGHBOURS: RefCell<Vec<u32>> = RefCell::new(Vec::with_capacity(256));
}

pub fn steer(
    clock: Res<SimClock>,
    threads: Res<SimThreads>,
    snapshot: Res<CrowdSnapshot>,
    space: Res<SpaceRes>,
    nav: Res<Navigation>,
    params: Res<ModelParams>,
    mut agents: Query<(&AgentId, &Body, &Walker, &Plan, &KerbWait, &mut Velocity, &mut Stalled)>,
) {
    let (snapshot, space, all_nav, model, dt) = (&*snapshot, &space.0, &*nav, &params.0, clock.dt);
    type Item<'a> = (&'a AgentId, &'a Body, &'a Walker, &'a Plan, &'a KerbWait, Mut<'a, Velocity>, Mut<'a, Stalled>);
    for_each_agent!(agents, *threads, |(id, body, walker, plan, kerb, mut velocity, mut stalled): Item<'_>| {
        let nav = all_nav.for_agent(kerb.crosses_anywhere);
        let walls = space.levels[body.level].walls_for(kerb.crosses_anywhere);
        let walking = plan.activity == Activity::Walking;
        let e0 = if walking { desired_direction(nav, space, plan.target, body.level, body.pos) } else { DVec2::ZERO };
        velocity.0 = NEIGHBOURS.with_borrow_mut(|buf| {
            let relieve = stalled.since >= DEADLOCK_RELIEF_AFTER;
            let field = nav.field(plan.target, body.level);
            let grid = &nav.grids[body.level];
            let target = plan.target;
            let v0 = walker.v0 * stair_speed_factor(space, body.level, e0) * grid.smoke_factor(body.pos);
            let crosses_anywhere = kerb.crosses_anywhere;
            let ctx = Context {
                id: id.0,
                crosses_anywhere,
                body,
                walker,
                v0,
                e0,
                snapshot,
                walls,
                relieve,
                field,
                target,
                grid,
            };
            match *model {
                PedModel::CollisionFreeSpeed { .. } if !walking => DVec2::ZERO,
                PedModel::CollisionFreeSpeed { neighbour_strength, neighbour_range, wall_strength, wall_range } => {
                    ctx.collision_free_velocity(neighbour_strength, neighbour_range, wall_strength, wall_range, buf)
                }
                PedModel::SocialForce { strength, range, body_force, friction, mass } => {
                    ctx.social_force_velocity(velocity.0, dt, [strength, range, body_force, friction, mass], buf)
                }
            }
        });
        let remaining = nav.field(plan.target, body.level).time_at(&nav.grids[body.level], body.pos);
        if !walking || remaining < stalled.best - PROGRESS {
            *stalled = Stalled { best: remaining, since: 0.0 };
        } else {
            stalled.since += dt as f32;
        }
    });
}

/// Desired direction from the floor field; at an exit it aims through the door.
/// On a stair, free speed scales by the stair's speed (up or down, by the direction of travel
/// along it) over Weidmann's mean free speed of 1.34 m/s.
pub fn stair_speed_factor(space: &Space, level: LevelId, e0: DVec2) -> f64 {
    match space.levels[level].kind {
        LevelKind::Floor => 1.0,
        LevelKind::Stair(s) => {
            let stair = &space.stairs[s];
            (if e0.x >= 0.0 { stair.speed_up } else { stair.speed_down }) / 1.34
        }
    }
}

pub fn desired_direction(nav: &Navigation, space: &Space, target: TargetId, level: LevelId, p: DVec2) -> DVec2 {
    let grid = &nav.grids[level];
    let Some(k) = grid.cell_at(p) else { return DVec2::ZERO };
    let mut f = nav.field(target, level);
    if f.dir[k] == [0.0, 0.0]
        && f.source[k] == CellSource::NotTarget
        && !f.time[k].is_finite()
        && let Some(fallback) = nav.any_exit
    {
        f = nav.field(fallback, level);
    }
    match f.source[k] {
        CellSource::NotTarget | CellSource::InDestination => DVec2::new(f.dir[k][0] as f64, f.dir[k][1] as f64),
        CellSource::Door(door) => {
            let door = &space.doors[door];
            let along = (door.b - door.a).normalize_or_zero();
            let inset = (0.3 * door.width()).min(0.25_f64);
            let q = closest_on_segment(p, door.a + along * inset, door.b - along * inset);
            (q + door.normal * 0.5 - p).normalize_or_zero()
        }
    }
}

struct Context<'a> {
    id: u32,
    crosses_anywhere: bool,
    body: &'a Body,
    walker: &'a Walker,
    /// Free speed here (stairs slow people down).
    v0: f64,
    e0: DVec2,
    snapshot: &'a CrowdSnapshot,
    walls: Walls<'a>,
    /// Stalled long enough to step along the desired direction if it is free.
    relieve: bool,
    field: &'a crate::nav::FloorField,
    target: TargetId,
    grid: &'a crate::nav::NavGrid,
}

impl Context<'_> {
    /// Fills `out` with the snapshot indices of agents within `reach`, in `AgentId` order.
    fn neighbours(&self, reach: f64, out: &mut Vec<u32>) {
        out.clear();
        if let Some(tree) = self.snapshot.trees.get(self.body.level.index()) {
            let p = self.body.pos;
            // A box query is cheaper in rstar than a distance query; the disc is cut out here.
            // The box is widened by a millimetre so that f32 rounding never drops a neighbour.
            let (lo, hi) = (p - DVec2::splat(reach + 1e-3), p + DVec2::splat(reach + 1e-3));
            let envelope = AABB::from_corners([lo.x as f32, lo.y as f32], [hi.x as f32, hi.y as f32]);
            let reach2 = reach * reach;
            let agents = &self.snapshot.agents;
            out.extend(
                tree.locate_in_envelope(&envelope)
                    .filter(|n| agents[n.data as usize].pos.distance_squared(p) <= reach2)
                    .map(|n| n.data),
            );
        }
        let agents = &self.snapshot.agents;
        out.sort_unstable_by_key(|&j| agents[j as usize].id);
    }

    /// Calls `visit` with the offset from the nearest point of each wall within `reach` to the
    /// agent. A corner shared by two wall segments is the nearest point of both; it is visited
    /// once, or it would push twice as hard as a straight wall.
    fn wall_offsets(&self, reach: f64, mut visit: impl FnMut(DVec2)) {
        let p = self.body.pos;
        if !self.grid.near_wall(p) {
            return;
        }
        let mut seen = [DVec2::ZERO; 8];
        let mut count = 0;
        for w in self.walls.near(p, reach) {
            let q = closest_on_segment(p, v(w.geom().from), v(w.geom().to));
            if seen[..count].iter().any(|s| s.distance_squared(q) < 1e-12) {
                continue;
            }
            if count < seen.len() {
                seen[count] = q;
                count += 1;
            }
            visit(p - q);
        }
    }

    /// Tordeux, Chraibi & Seyfried (2016): direction bent by exponential repulsion, speed limited
    /// so that the time gap to the nearest person ahead stays at least T: v = min(v0, max(0, (s − l)/T)).
    fn collision_free_velocity(&self, a: f64, d: f64, a_wall: f64, d_wall: f64, buf: &mut Vec<u32>) -> DVec2 {
        if self.e0 == DVec2::ZERO {
            return DVec2::ZERO;
        }
        let (p, r) = (self.body.pos, self.body.radius);
        // Beyond this distance a neighbour neither repels noticeably nor limits the speed.
        let reach = (r + self.snapshot.max_radius + self.v0 * self.walker.time_gap).max(1.0);
        self.neighbours(reach, buf);
        let mut e = self.e0;
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            let offset = p - other.pos;
            let dist = offset.length();
            if other.id != self.id && dist > 1e-9 {
                e += offset / dist * a * libm::exp((r + other.radius - dist) / d);
            }
        }
        let mut e = e.try_normalize().unwrap_or(self.e0);
        // Walls take away the part of the direction that points into them: fully at contact, fading
        // with the model's exponential further off. (The published additive push turns people round
        // when the crowd presses them against a wall beside a door, and they stand there for good.)
        self.wall_offsets(r + 10.0 * d_wall, |offset| {
            let dist = offset.length();
            if dist > 1e-9 {
                let n = offset / dist;
                let into = e.dot(n);
                if into < 0.0 {
                    e -= n * into * (a_wall * libm::exp((r - dist) / d_wall)).min(1.0);
                }
            }
        });
        let e = if self.relieve { self.e0 } else { e.try_normalize().unwrap_or(self.e0) };
        let side = e.perp();
        let mut spacing = f64::INFINITY;
        let my_rank = (self.field.time_at(self.grid, p), self.id);
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            let ahead = other.pos - p;
            let l = r + other.radius;
            // Two bodies on the very same spot would each hold the other at zero distance for
            // ever; the one with the smaller id walks on, and they part.
            if ahead.length_squared() <= 1e-18 && other.id > self.id {
                continue;
            }
            if other.id != self.id && ahead.dot(e) >= 0.0 && ahead.dot(side).abs() <= l {
                // Travel times compare only on the same fields (same target, same kind of walker).
                let same_field = other.target == self.target && other.crosses_anywhere == self.crosses_anywhere;
                let yields = !self.relieve
                    || if same_field {
                        // Someone off the grid stands in an opening: ahead of everyone.
                        let theirs = self.field.time_at(self.grid, other.pos);
                        let theirs = if theirs.is_finite() { theirs } else { f32::NEG_INFINITY };
                        (theirs, other.id) < my_rank
                    } else {
                        other.id < self.id
                    };
                // A relieved agent may close in on those it does not yield to, but no faster than
                // distance / T, so that arches break without bodies running into each other.
                let size = if yields { l } else { 0.0 };
                spacing = spacing.min(ahead.length() - size);
            }
        }
        e * (spacing / self.walker.time_gap).clamp(0.0, self.v0)
    }

    /// Helbing, Farkas & Vicsek (2000): m dv/dt = m (v0 e0 − v)/τ + Σ f_ij + Σ f_iW with
    /// f = [A exp((r − d)/B) + k g(r − d)] n + κ g(r − d) Δv·t t, integrated semi-implicitly.
    fn social_force_velocity(&self, v_now: DVec2, dt: f64, c: [f64; 5], buf: &mut Vec<u32>) -> DVec2 {
        let [a, b, k, kappa, mass] = c;
        let (p, r) = (self.body.pos, self.body.radius);
        let mut force = mass * (self.v0 * self.e0 - v_now) / self.walker.relaxation;
        // Beyond 12 B the exponential repulsion is below 10⁻⁵ A.
        self.neighbours(r + self.snapshot.max_radius + 12.0 * b, buf);
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            let offset = p - other.pos;
            let dist = offset.length();
            if other.id == self.id || dist <= 1e-9 {
                continue;
            }
            let n = offset / dist;
            let overlap = r + other.radius - dist;
            let touch = overlap.max(0.0);
            let t = n.perp();
            force += (a * libm::exp(overlap / b) + k * touch) * n + kappa * touch * (other.vel - v_now).dot(t) * t;
        }
        self.wall_offsets(r + 12.0 * b, |offset| {
            let dist = offset.length();
            if dist > 1e-9 {
                let n = offset / dist;
                let overlap = r - dist;
                let touch = overlap.max(0.0);
                let t = n.perp();
                force += (a * libm::exp(overlap / b) + k * touch) * n - kappa * touch * v_now.dot(t) * t;
            }
        });
        let v_next = v_now + force / mass * dt;
        // Helbing et al. cap speeds at 1.3 v0 in normal situations.
        let cap = 1.3 * self.v0;
        if v_next.length() > cap { v_next.normalize() * cap } else { v_next }
    }
}
