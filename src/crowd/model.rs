//! Operational models: how each agent chooses its velocity from its desired direction, its
//! neighbours and the walls. The collision-free speed model is the default; the social force model
//! is the alternative. Both read only the step's snapshot and write only the agent itself.

use std::cell::RefCell;

use bevy::math::DVec2;
use bevy::prelude::*;

use super::crossing::KerbWait;
use super::{Activity, AgentId, Body, CrowdSnapshot, Heading, Plan, Stalled, Velocity, Walker};
use crate::for_each_agent;
use crate::geom::{closest_on_segment, distance_to_segment, exp, v};
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
/// Among crossers (someone within `CROSSER_REACH` whose desired direction is within 45° of square
/// to the agent's and who is bound elsewhere) relief starts sooner, s. Where streams cross, waiting
/// turns into cycles of people each holding up the next within a second; bottlenecks (one target)
/// and head-on counterflow have no crossers, so their calibration is untouched. With passing behind
/// crossers it keeps a junction flowing at two thirds of capacity (`docs/design/junction-turns.md`).
pub const RELIEF_AMONG_CROSSERS_AFTER: f32 = 0.25;
/// How far around an agent crossers count, m.
const CROSSER_REACH: f64 = 2.0;
/// A desired direction within 45° of square to the agent's crosses its way (|cos| below this).
const CROSSING_COS: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Someone slower than this (m/s) is not passed behind: they are not going anywhere.
const CROSSER_MIN_SPEED: f64 = 0.1;
/// Coming this much nearer the target (s of travel time at 1 m/s) counts as progress.
const PROGRESS: f32 = 0.05;
/// A stalled agent stops for someone ahead only when their contact is within 30° of its
/// direction (the lateral offset under sin 30° of the two radii).
const RELIEF_HEAD_ON: f64 = 0.5;
/// Bodies closer than this beyond touching are in contact for making way, m.
const MAKE_WAY_CONTACT: f64 = 0.1;
/// How fast people step out of the way of someone stalled who has precedence, m/s.
const MAKE_WAY_SPEED: f64 = 0.3;
/// How much people making way also step back (against 1 for stepping aside): about 27°.
const MAKE_WAY_BACK: f64 = 0.5;
/// A way of making way is taken if walls and bodies leave this share of the step free.
const MAKE_WAY_ROOM: f64 = 0.6;
/// Someone whose heading points at the agent within 60° is coming towards it.
const ONCOMING_COS: f64 = 0.5;
/// People step aside for someone coming towards them whose path would pass closer than this
/// beyond touching, m: a shoulder's breadth to spare.
const PASSING_MARGIN: f64 = 0.3;
/// Strength of stepping aside, against 1 for the desired direction: up to 45° off it.
const SIDESTEP: f64 = 1.0;
/// Time to contact over which stepping aside fades, s; people start about a second and a half
/// before they would meet, as observed in the anticipation studies (Xu, Chraibi & Seyfried 2021
/// use an anticipation time of 1 s).
const ANTICIPATION: f64 = 1.5;
/// How far off someone coming towards the agent is seen, m.
const SIDESTEP_REACH: f64 = 3.0;
/// Closing speed assumed at least this, m/s, so that people standing face to face still step aside.
const MIN_CLOSING: f64 = 0.5;
/// People pass someone coming towards them on their right unless the other is already this far
/// to their right, m (the right-hand custom in China).
const KEEP_RIGHT: f64 = 0.3;
/// The most people bend to the right when others come towards them (against 1 for the desired
/// direction: about 30°), reached as the number coming towards them grows past `ONCOMING_SCALE`.
const KEEP_RIGHT_DRIFT: f64 = 0.5;
const ONCOMING_SCALE: f64 = 2.0;
/// Someone ahead walking the same way (headings within 60°) at no less than this share of their
/// own free speed walks freely: slower by nature, not held up by others. Only they are overtaken;
/// in a jam everyone is held up and nobody weaves.
const FREE_WALKING: f64 = 0.9;
/// People overtake someone walking freely ahead when they would close in on them faster than this,
/// m/s (Weidmann's spread of free speeds is 0.26 m/s).
const OVERTAKE_CLOSING: f64 = 0.1;
/// Strength of stepping out to overtake, against 1 for the desired direction: up to about 27°.
const OVERTAKE: f64 = 0.5;
/// People overtake only where the crowd is sparse: at most this many persons/m² within
/// `OVERTAKE_CROWD_RADIUS` (Weidmann's walkers are slowed by a fifth at 1 person/m²; in a queue
/// before a door, stepping out to pass only presses people into the jambs).
const OVERTAKE_MAX_DENSITY: f64 = 1.0;
/// Nobody overtakes where the floor beside them ends within this distance ahead, m: arriving
/// abreast at a narrowing (a door, a bottleneck) makes arches there.
const OVERTAKE_LOOKAHEAD: f64 = 2.0;
const OVERTAKE_CROWD_RADIUS: f64 = 2.0;
/// Someone overtaken about straight ahead is passed on the left (the right-hand custom in China),
/// unless they are this far to the left already, m.
const OVERTAKE_LEFT: f64 = 0.05;
/// Discharge of a queue: where the crowd within `OVERTAKE_CROWD_RADIUS` is lopsided, more of it
/// behind than ahead, the time gap shrinks, by up to `DISCHARGE_GAP_CUT` of itself once nobody
/// is ahead. Below `DISCHARGE_LOPSIDED` ((behind − ahead) / all) the crowd counts as even; the
/// counts' noise in a uniform crowd at 2–4 persons/m² is about ±0.15–0.2. Calibrated against
/// Seyfried et al. (2009)'s bottleneck flows with Weidmann's diagram held (docs/design/discharge.md).
const DISCHARGE_LOPSIDED: f64 = 0.25;
const DISCHARGE_GAP_CUT: f64 = 0.65;
/// The clear space, m, kept to the one ahead in a crowd at Weidmann's jam density: there a
/// hexagonal packing spaces centres 0.462 m apart, so with it the speed reaches zero at 5.4
/// persons/m², not at bodies' contact (0.42 m, 6.5 persons/m²). It grows from nothing at
/// `JAM_GAP_FROM` persons/m² around the agent, below which the model matches Weidmann's diagram
/// without it, to the whole at `WEIDMANN_JAM_DENSITY`; it fades with the discharge of a queue, as
/// the time gap shrinks there, and is not kept to someone standing at their place, whom visitors
/// press past to their own. Without it RiMEA's corridor ran +13 % and +22 % fast at 3.75 and 4 persons/m²
/// (`docs/design/jam-gap.md`).
const JAM_GAP: f64 = 0.04;
const JAM_GAP_FROM: f64 = 3.0;
const WEIDMANN_JAM_DENSITY: f64 = 5.4;

/// Whether someone at `offset` (at distance `dist`) from another, their radii summing to `l`, stands
/// in that other's path along `intent`, in contact: the one to make way for them.
fn blocks_path(offset: DVec2, dist: f64, l: f64, intent: DVec2) -> bool {
    dist - l < MAKE_WAY_CONTACT && offset.dot(intent) > 0.0 && offset.dot(intent.perp()).abs() <= l
}

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
    mut agents: Query<(&AgentId, &Body, &Walker, &Plan, &KerbWait, &mut Velocity, &mut Heading, &mut Stalled)>,
) {
    let (snapshot, space, all_nav, model, dt) = (&*snapshot, &space.0, &*nav, &params.0, clock.dt);
    type Item<'a> = (
        &'a AgentId,
        &'a Body,
        &'a Walker,
        &'a Plan,
        &'a KerbWait,
        Mut<'a, Velocity>,
        Mut<'a, Heading>,
        Mut<'a, Stalled>,
    );
    for_each_agent!(
        agents,
        *threads,
        |(id, body, walker, plan, kerb, mut velocity, mut heading, mut stalled): Item<'_>| {
            let nav = all_nav.for_agent(kerb.crosses_anywhere);
            let walls = space.levels[body.level].walls_for(kerb.crosses_anywhere);
            let walking = plan.activity == Activity::Walking;
            let e0 = if walking { heading_for(nav, space, plan, body.level, body.pos) } else { DVec2::ZERO };
            let boxed = heading.boxed;
            let last_speed = velocity.0.length();
            let v0 =
                walker.v0 * stair_speed_factor(space, body.level, e0) * nav.grids[body.level].smoke_factor(body.pos);
            let steering = NEIGHBOURS.with_borrow_mut(|buf| {
                let relieve = stalled.since >= DEADLOCK_RELIEF_AFTER;
                let stalled_for = stalled.since;
                let field = nav.field(plan.target, body.level);
                let grid = &nav.grids[body.level];
                let target = plan.target;
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
                    stalled_for,
                    boxed,
                    last_speed,
                    dt,
                    field,
                    target,
                    grid,
                };
                match *model {
                    PedModel::CollisionFreeSpeed { .. } if matches!(plan.activity, Activity::Dwelling { .. }) => {
                        ctx.make_way_while_staying(buf)
                    }
                    PedModel::CollisionFreeSpeed { .. } if !walking => Steering::still(),
                    PedModel::CollisionFreeSpeed { neighbour_strength, neighbour_range, wall_strength, wall_range } => {
                        ctx.collision_free_velocity(neighbour_strength, neighbour_range, wall_strength, wall_range, buf)
                    }
                    PedModel::SocialForce { strength, range, body_force, friction, mass } => Steering {
                        velocity: ctx.social_force_velocity(
                            velocity.0,
                            dt,
                            [strength, range, body_force, friction, mass],
                            buf,
                        ),
                        intent: e0,
                        ..Steering::still()
                    },
                }
            });
            let Steering { velocity: v, intent, boxed, yielding, among_crossers } = steering;
            velocity.0 = v;
            *heading = Heading { desired: e0, intent, boxed, yielding, free_speed: v0 };
            // On the way to its spot, progress is coming nearer the spot, also while pressed back out
            // of the place over its edge (measured by the floor field only there, someone standing on
            // the edge had its progress restarted at every crossing of it, and never settled).
            let to_spot = plan.spot.filter(|_| walking);
            let remaining = match to_spot {
                Some(spot) => body.pos.distance(spot) as f32,
                None => nav.field(plan.target, body.level).time_at(&nav.grids[body.level], body.pos),
            };
            let measured_on = Some((plan.target, body.level, space.walls_version, to_spot.is_some()));
            if !walking || stalled.measured_on != measured_on || remaining < stalled.best - PROGRESS {
                *stalled = Stalled { best: remaining, since: 0.0, measured_on, among_crossers };
            } else {
                stalled.since += dt as f32;
                stalled.among_crossers = among_crossers;
            }
        }
    );
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

/// The way the agent heads: towards its spot once inside its destination (or from where it was
/// held up, for a spot in view), else along the floor field.
pub fn heading_for(nav: &Navigation, space: &Space, plan: &Plan, level: LevelId, p: DVec2) -> DVec2 {
    if let Some(spot) = plan.spot
        && (plan.spot_in_view || in_destination(nav, plan.target, level, p))
    {
        return (spot - p).normalize_or_zero();
    }
    desired_direction(nav, space, plan.target, level, p)
}

/// Whether `p` lies in the destination that `target` leads to (never, for a target of exits).
pub fn in_destination(nav: &Navigation, target: TargetId, level: LevelId, p: DVec2) -> bool {
    let grid = &nav.grids[level];
    grid.cell_at(p).is_some_and(|k| nav.field(target, level).source[k] == CellSource::InDestination)
}

pub fn desired_direction(nav: &Navigation, space: &Space, target: TargetId, level: LevelId, p: DVec2) -> DVec2 {
    let grid = &nav.grids[level];
    if grid.cell_at(p).is_none_or(|k| !grid.walkable[k])
        && let Some(back) = back_through_doorway(nav, space, target, level, p)
    {
        return back;
    }
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

/// Someone off the walkable grid in the doorway of a boundary door that is no way out for them
/// (pressed back over the entrance they came in by, on their way in) heads back in through it.
fn back_through_doorway(nav: &Navigation, space: &Space, target: TargetId, level: LevelId, p: DVec2) -> Option<DVec2> {
    let (id, door) = space
        .doors_on(level)
        .map(|(id, d)| (id, d, distance_to_segment(p, d.a, d.b)))
        .filter(|&(_, d, distance)| d.boundary && d.open && distance <= DOORWAY_DEPTH)
        .min_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)))
        .map(|(id, d, _)| (id, d))?;
    if door.is_open_exit() && nav.leaves_by(space, target, level, id, p) {
        return None;
    }
    let along = (door.b - door.a).normalize_or_zero();
    let inset = (0.3 * door.width()).min(0.25_f64);
    let q = closest_on_segment(p, door.a + along * inset, door.b - along * inset);
    Some((q - door.normal * 0.5 - p).normalize_or_zero())
}

/// How far outside a doorway someone pressed back through it may be found, m: more than a step
/// and a body, and what the crowd's pushes beyond an opening with no wall past its ends can carry
/// someone (a Bund visitor on the way to a waypoint stood 1.001 m beyond the promenade's north end,
/// off the grid with no way to follow, for good).
const DOORWAY_DEPTH: f64 = 2.0;

/// Among the stalled, who goes first: those who cannot step back, then those nearer the target
/// on the same route, then by id (a global order that no cycle can defeat). Both of a pair
/// compute the same order, so exactly one of them precedes the other.
pub struct Precedence<'a> {
    id: u32,
    target: TargetId,
    crosses_anywhere: bool,
    boxed: bool,
    time: f32,
    field: &'a crate::nav::FloorField,
    grid: &'a crate::nav::NavGrid,
}

impl<'a> Precedence<'a> {
    pub fn new(
        id: u32,
        target: TargetId,
        crosses_anywhere: bool,
        boxed: bool,
        pos: DVec2,
        field: &'a crate::nav::FloorField,
        grid: &'a crate::nav::NavGrid,
    ) -> Self {
        Self { id, target, crosses_anywhere, boxed, time: Self::time(field, grid, pos), field, grid }
    }

    /// Someone off the grid stands in an opening: ahead of everyone on the route.
    fn time(field: &crate::nav::FloorField, grid: &crate::nav::NavGrid, pos: DVec2) -> f32 {
        let t = field.time_at(grid, pos);
        if t.is_finite() { t } else { f32::NEG_INFINITY }
    }

    /// Whether `other` goes before this agent.
    pub fn precedes(&self, other: &super::SnapAgent) -> bool {
        if other.target == self.target && other.crosses_anywhere == self.crosses_anywhere {
            let theirs = Self::time(self.field, self.grid, other.pos);
            (!other.boxed, theirs, other.id) < (!self.boxed, self.time, self.id)
        } else {
            (!other.boxed, other.id) < (!self.boxed, self.id)
        }
    }
}

/// What one agent's steering decides for this step.
#[derive(Clone, Copy)]
struct Steering {
    velocity: DVec2,
    /// The direction the agent tries to walk in.
    intent: DVec2,
    /// Someone touches it from behind: it could not step back.
    boxed: bool,
    /// It steps out of someone's way instead of walking on.
    yielding: bool,
    /// A crosser bound elsewhere is within `CROSSER_REACH`.
    among_crossers: bool,
}

impl Steering {
    /// Standing still, with nobody around that matters.
    fn still() -> Self {
        Self { velocity: DVec2::ZERO, intent: DVec2::ZERO, boxed: false, yielding: false, among_crossers: false }
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
    /// How long it has come no nearer its target, s.
    stalled_for: f32,
    /// Could not step back last step (`Heading::boxed`).
    boxed: bool,
    /// The speed it moved at last step, m/s.
    last_speed: f64,
    /// The time step, s.
    dt: f64,
    field: &'a crate::nav::FloorField,
    target: TargetId,
    grid: &'a crate::nav::NavGrid,
}

impl Context<'_> {
    fn neighbours(&self, reach: f64, out: &mut Vec<u32>) {
        self.snapshot.neighbours(self.body.level, self.body.pos, reach, out);
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
    /// Added, after the anticipation of Xu, Chraibi & Seyfried (2021): someone coming towards the
    /// agent, ahead and within passing distance, makes it step aside early, to its right unless
    /// the other is already clearly on that side. Both sides of an encounter apply the same rule
    /// to the same lateral offset, so they always step apart, and opposing streams form lanes.
    fn collision_free_velocity(&self, a: f64, d: f64, a_wall: f64, d_wall: f64, buf: &mut Vec<u32>) -> Steering {
        if self.e0 == DVec2::ZERO {
            return Steering::still();
        }
        let (p, r) = (self.body.pos, self.body.radius);
        // Beyond this distance a neighbour neither limits the speed nor counts for the crowd around,
        // and repels by less than 2e-6 of the desired direction (e^-15.5 at the default range);
        // someone coming towards the agent, or walking ahead of it, is seen from further off.
        let near = (r + self.snapshot.max_radius + self.v0 * self.walker.time_gap).max(OVERTAKE_CROWD_RADIUS);
        let lane = r + self.snapshot.max_radius + PASSING_MARGIN;
        let far = near.max(SIDESTEP_REACH);
        let (crowd, crowd_ahead) = self.snapshot.neighbours_ahead_and_crowd(
            self.body.level,
            p,
            near,
            far,
            self.e0,
            lane,
            OVERTAKE_CROWD_RADIUS,
            buf,
        );
        let left = self.e0.perp();
        // Whether the floor goes on a body's breadth and a margin to either side, there and
        // `OVERTAKE_LOOKAHEAD` further on (for overtaking: not where the way narrows ahead).
        let walkable = |q: DVec2| self.grid.cell_at(q).is_some_and(|k| self.grid.walkable[k]);
        let room = |side: DVec2| {
            let beside = p + side * (2.0 * r + PASSING_MARGIN);
            walkable(beside) && walkable(beside + self.e0 * OVERTAKE_LOOKAHEAD)
        };
        // Probed only once someone is to be overtaken: most agents in most steps never need it.
        let mut sides: Option<(bool, bool)> = None;
        let mut repelled = self.e0;
        let mut aside = DVec2::ZERO;
        // Overtaking, applied after the loop if the crowd within `OVERTAKE_CROWD_RADIUS` is sparse.
        let mut overtake = DVec2::ZERO;
        let mut make_way = DVec2::ZERO;
        // Stepping back out of the way of those with precedence (against their direction).
        let mut make_way_back = DVec2::ZERO;
        // Worked out only when needed (making way, or stalled): it reads the floor field at `p`,
        // a cache miss for most agents.
        let rank = std::cell::OnceCell::new();
        let rank = || {
            rank.get_or_init(|| {
                Precedence::new(self.id, self.target, self.crosses_anywhere, self.boxed, p, self.field, self.grid)
            })
        };
        let precedes = |other: &super::SnapAgent| rank().precedes(other);
        // Walking across the agent's way (within 45° of square to it) and bound elsewhere.
        let crosses = |other: &super::SnapAgent| {
            other.target != self.target
                && other.heading != DVec2::ZERO
                && other.heading.dot(self.e0).abs() < CROSSING_COS
        };
        let mut among_crossers = false;
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            if other.id == self.id {
                continue;
            }
            let offset = p - other.pos;
            let dist = offset.length();
            let crossing = crosses(other);
            among_crossers |= crossing && dist <= CROSSER_REACH;
            if dist <= 1e-9 {
                continue;
            }
            let l = r + other.radius;
            repelled += offset / dist * a * exp((l - dist) / d);
            // Someone stalled for a while, with precedence over the agent, whose way the agent
            // blocks (it stands in their path, in contact): the agent steps out of that path.
            if (other.relieved || other.yielding) && blocks_path(offset, dist, l, other.intent) {
                if other.yielding {
                    make_way += other.intent;
                } else if precedes(other) {
                    let across = other.intent.perp();
                    let side = if offset.dot(across) >= 0.0 { across } else { -across };
                    make_way += side;
                    make_way_back -= other.intent;
                }
            }
            let ahead = -offset.dot(self.e0);
            let lateral = -offset.dot(left);
            if ahead > 0.0 && other.heading.dot(offset / dist) > ONCOMING_COS && lateral.abs() < l + PASSING_MARGIN {
                // Time to contact at the agent's free speed plus the other's speed towards it.
                let closing = (self.v0 + other.vel.dot(offset / dist).max(0.0)).max(MIN_CLOSING);
                let time_to_contact = (ahead - l).max(0.0) / closing;
                let weight =
                    SIDESTEP * exp(-time_to_contact / ANTICIPATION) * (1.0 - lateral.abs() / (l + PASSING_MARGIN));
                aside += if lateral > -KEEP_RIGHT { -left } else { left } * weight;
            } else if ahead > 0.0
                && lateral.abs() < l + PASSING_MARGIN
                && crossing
                && other.vel.length_squared() > CROSSER_MIN_SPEED * CROSSER_MIN_SPEED
            {
                // Someone ahead walking across the agent's way, bound elsewhere: it passes behind
                // them, on the side they come from, as walkers in crossing streams do (rather than
                // stopping until they have gone, which at a junction holds up the stream behind the
                // agent too). Not those bound for the same place: round a corner or before a door
                // those ahead have only turned first, and passing behind them sent people wide.
                let time_to_contact = (ahead - l).max(0.0) / self.v0.max(MIN_CLOSING);
                let weight = SIDESTEP * exp(-time_to_contact / ANTICIPATION);
                aside += if other.vel.dot(left) > 0.0 { -left } else { left } * weight;
            } else if ahead > 0.0 && lateral.abs() < l + PASSING_MARGIN && other.heading.dot(self.e0) > ONCOMING_COS {
                // Someone ahead going the same way at their own free pace, slower than the agent
                // wants to go: it steps out, and past them, as walkers do where there is room;
                // the speed limit below stops applying once they are no longer in its path.
                let their_speed = other.vel.dot(other.heading);
                let closing = self.v0 - other.vel.dot(self.e0);
                if closing > OVERTAKE_CLOSING && their_speed >= FREE_WALKING * other.free_speed {
                    // Time until the agent would have to slow down for them (its time gap at its
                    // own free speed): once it is held up, it steps out at full strength.
                    let time_to_contact = (ahead - l - self.v0 * self.walker.time_gap).max(0.0) / closing;
                    let weight =
                        OVERTAKE * exp(-time_to_contact / ANTICIPATION) * (1.0 - lateral.abs() / (l + PASSING_MARGIN));
                    // On the left unless they are to the left already; on the other side where
                    // a wall leaves no room on that one (else walkers pile up along the wall).
                    let on_left = lateral <= OVERTAKE_LEFT;
                    let (room_left, room_right) = *sides.get_or_insert_with(|| (room(left), room(-left)));
                    let side = match (on_left, room_left, room_right) {
                        (true, true, _) | (true, false, false) => left,
                        (false, _, true) | (false, false, false) => -left,
                        (true, false, true) => -left,
                        (false, true, false) => left,
                    };
                    if room_left || room_right {
                        overtake += side * weight;
                    }
                }
            }
        }
        let sparse = OVERTAKE_MAX_DENSITY * std::f64::consts::PI * OVERTAKE_CROWD_RADIUS * OVERTAKE_CROWD_RADIUS;
        if f64::from(crowd) <= sparse {
            aside += overtake;
        }
        // With people coming the other way ahead, keep to the right: opposing streams separate into
        // lanes before they meet instead of meeting head on across the whole width.
        let oncoming = self.snapshot.headings.oncoming(self.body.level, p, self.e0);
        aside -= left * KEEP_RIGHT_DRIFT * (1.0 - exp(-oncoming / ONCOMING_SCALE));
        let relieve = self.relieve || (among_crossers && self.stalled_for >= RELIEF_AMONG_CROSSERS_AFTER);
        let mut e = if relieve { self.e0 + aside } else { repelled + aside };
        e = e.try_normalize().unwrap_or(self.e0);
        // Walls take away the part of the direction that points into them: fully at contact, fading
        // with the model's exponential further off. (The published additive push turns people round
        // when the crowd presses them against a wall beside a door, and they stand there for good.)
        self.wall_offsets(r + 10.0 * d_wall, |offset| {
            let dist = offset.length();
            if dist > 1e-9 {
                let n = offset / dist;
                let into = e.dot(n);
                if into < 0.0 {
                    e -= n * into * (a_wall * exp((r - dist) / d_wall)).min(1.0);
                }
            }
        });
        let e = e.try_normalize().unwrap_or(self.e0);
        let side = e.perp();
        let mut spacing = f64::INFINITY;
        // At the head of a queue (a crowd behind, open floor ahead) people follow closer than in a
        // crowd that is as dense all round: how bottlenecks pass more than the planar diagram's
        // capacity. `lopsided` is 0 in an even crowd and 1 with nobody ahead.
        let behind = f64::from(crowd - crowd_ahead);
        let lopsided = (behind - f64::from(crowd_ahead)) / f64::from(crowd).max(1.0);
        let discharge = ((lopsided - DISCHARGE_LOPSIDED) / (1.0 - DISCHARGE_LOPSIDED)).clamp(0.0, 1.0);
        // The crowd within `OVERTAKE_CROWD_RADIUS`, persons/m², and how far it has come from
        // `JAM_GAP_FROM` towards Weidmann's jam density.
        let density = f64::from(crowd) / (std::f64::consts::PI * OVERTAKE_CROWD_RADIUS * OVERTAKE_CROWD_RADIUS);
        let packing = ((density - JAM_GAP_FROM) / (WEIDMANN_JAM_DENSITY - JAM_GAP_FROM)).clamp(0.0, 1.0);
        let jam_gap = JAM_GAP * packing * (1.0 - discharge);
        // Someone in contact behind the agent (against `e`): it could not step back.
        let mut boxed = false;
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            if other.id == self.id {
                continue;
            }
            let ahead = other.pos - p;
            let forward = ahead.dot(e);
            // Those behind only box the agent in; only those ahead hold it back.
            if !(forward >= 0.0) {
                if forward < 0.0 && !boxed {
                    boxed = ahead.length() - r - other.radius < MAKE_WAY_CONTACT;
                }
                continue;
            }
            // Two bodies on the very same spot would each hold the other at zero distance for
            // ever; the one with the smaller id walks on, and they part.
            if ahead.length_squared() <= 1e-18 && other.id > self.id {
                continue;
            }
            let l = r + other.radius;
            let lateral = ahead.dot(side).abs();
            // Someone stalled stops only for those nearly straight ahead; past the others the
            // body rule lets it slide (`motion::keep_bodies_apart`), so that who can move does.
            if relieve && lateral > RELIEF_HEAD_ON * l {
                continue;
            }
            if lateral <= l {
                let yields = !relieve || precedes(other);
                // A relieved agent closes in on those it does not yield to at distance / T: the
                // move itself never lets bodies overlap (`motion::keep_bodies_apart`), it presses
                // and slides past them, and they make way for it.
                // Someone standing at their place (no heading) is no queue: walkers press past them.
                let gap = if other.heading == DVec2::ZERO { 0.0 } else { jam_gap };
                let size = if yields { l + gap } else { 0.0 };
                spacing = spacing.min(ahead.length() - size);
            }
        }
        let time_gap = self.walker.time_gap * (1.0 - DISCHARGE_GAP_CUT * discharge);
        let walk = e * (spacing / time_gap).clamp(0.0, self.v0);
        let mut intent = e;
        let v = match make_way.try_normalize() {
            // Who can walk on clears the way by walking; who cannot steps aside, and does only
            // that: pressing on into the other would keep the jam as it is.
            Some(away) => {
                let squeeze = relieve.then(rank);
                // Whether it can walk on with walls as well as bodies in the way: two people
                // pressed into the jambs of a narrow door each had room among bodies but none
                // past the jamb, and neither made way for the other, for good.
                let p = self.body.pos;
                let walled = super::motion::constrain(self.walls, p, p + walk * self.dt, self.body.radius) - p;
                let step =
                    super::motion::keep_bodies_apart(self.snapshot, buf, self.id, self.body, walled, true, squeeze);
                // Who did not move last step cannot walk on either, whatever room the step seems to
                // have (the motion's wall slides and body checks may take it all).
                if step.length() >= MAKE_WAY_SPEED * self.dt && self.last_speed >= MAKE_WAY_SPEED {
                    walk
                } else {
                    intent = self.make_way_direction(away, make_way_back, buf);
                    intent * MAKE_WAY_SPEED
                }
            }
            None => walk,
        };
        Steering { velocity: v, intent, boxed, yielding: intent != e, among_crossers }
    }

    /// Someone staying at their place (dwelling) steps aside for a walker held up against them who
    /// presses on along its way, as people standing at a railing or in a shop shift to let someone
    /// through: aside from the walker's line and a little on along its way, at the speed of making
    /// way. Without it, a gap narrower than two bodies between those standing is a wall, and
    /// visitors bound for the free part of a place queue for good behind those at its edge.
    fn make_way_while_staying(&self, buf: &mut Vec<u32>) -> Steering {
        let (p, r) = (self.body.pos, self.body.radius);
        let reach = 2.0 * r + self.snapshot.max_radius + MAKE_WAY_CONTACT + 2.0 * MAKE_WAY_SPEED * self.dt;
        self.neighbours(reach, buf);
        let (mut aside, mut on) = (DVec2::ZERO, DVec2::ZERO);
        for &j in buf.iter() {
            let other = &self.snapshot.agents[j as usize];
            if other.id == self.id || !other.relieved || other.heading == DVec2::ZERO {
                continue;
            }
            let offset = p - other.pos;
            if blocks_path(offset, offset.length(), r + other.radius, other.intent) {
                let across = other.intent.perp();
                aside += if offset.dot(across) >= 0.0 { across } else { -across };
                on += other.intent;
            }
        }
        if let Some(away) = aside.try_normalize() {
            let intent = self.make_way_direction(away, on, buf);
            return Steering { velocity: intent * MAKE_WAY_SPEED, intent, yielding: true, ..Steering::still() };
        }
        // Someone who stopped at the edge of their place, behind those standing on it, moves in
        // as room opens there.
        let inward = self.grid.cell_at(p).and_then(|k| match self.field.source[k] {
            CellSource::InDestination => None,
            _ => DVec2::new(f64::from(self.field.dir[k][0]), f64::from(self.field.dir[k][1])).try_normalize(),
        });
        match inward {
            Some(d) if self.room_for(d, buf) >= MAKE_WAY_ROOM * MAKE_WAY_SPEED * self.dt => {
                Steering { velocity: d * MAKE_WAY_SPEED, intent: d, ..Steering::still() }
            }
            _ => Steering::still(),
        }
    }

    /// How far a step at the speed of making way in direction `d` gets past walls and bodies, m.
    fn room_for(&self, d: DVec2, buf: &[u32]) -> f64 {
        let p = self.body.pos;
        let full = MAKE_WAY_SPEED * self.dt;
        let walled = super::motion::constrain(self.walls, p, p + d * full, self.body.radius) - p;
        super::motion::keep_bodies_apart(self.snapshot, buf, self.id, self.body, walled, false, None).length()
    }

    /// Which way to make way: aside and a little back if walls and bodies leave room for most of
    /// a step there, else straight back, else aside. At a door's jamb the side alone is often
    /// wall, and two people there would stand as an arch for good.
    fn make_way_direction(&self, aside: DVec2, back: DVec2, buf: &[u32]) -> DVec2 {
        let back = back.try_normalize().unwrap_or(DVec2::ZERO);
        let candidates = [(aside + back * MAKE_WAY_BACK).normalize_or_zero(), back, aside];
        let full = MAKE_WAY_SPEED * self.dt;
        let mut best = (aside, -1.0);
        for d in candidates.into_iter().filter(|d| *d != DVec2::ZERO) {
            let r = self.room_for(d, buf);
            if r >= MAKE_WAY_ROOM * full {
                return d;
            }
            if r > best.1 {
                best = (d, r);
            }
        }
        best.0
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
