//! Moving agents: integration with hard wall constraints, leaving by exits, dwelling at
//! destinations and going on to the next leg of the route.

use bevy::math::DVec2;
use bevy::prelude::*;

use super::model::Precedence;
use super::spawn::{Populations, agent_rng};
use super::{Activity, AgentId, Body, Census, CrowdSnapshot, Heading, PlaceVisits, Plan, Stalled, Velocity, Walker};
use crate::for_each_agent;
use crate::geom::{bounds, closest_on_segment, distance_to_segment, ring_contains, segments_intersect, v};
use crate::ids::{DestinationId, DoorId, Id, LevelId, PortalId, StreetId};
use crate::nav::{CellSource, NavGrid, Navigation, TargetKey};
use crate::schedule::{SimClock, SimSeed, SimThreads};
use crate::space::{DestinationGeom, DoorGeom, Portal, Space, SpaceRes, Walls};
use crate::traffic::outside::{critical_gap, gap_accepted, vehicle_clearance};
use crate::traffic::{CrossingGates, CrossingMap, Network, TrafficNet, Vehicles};
use rand::Rng;

use super::crossing::KerbWait;

#[allow(clippy::too_many_arguments)]
pub fn advance(
    clock: Res<SimClock>,
    threads: Res<SimThreads>,
    seed: Res<SimSeed>,
    space: Res<SpaceRes>,
    nav: Res<Navigation>,
    populations: Res<Populations>,
    crossings: Res<CrossingMap>,
    gates: Res<CrossingGates>,
    net: Res<TrafficNet>,
    vehicles: Res<Vehicles>,
    snapshot: Res<CrowdSnapshot>,
    visits: Res<PlaceVisits>,
    mut agents: Query<(&AgentId, &Walker, &Stalled, &Heading, &mut Body, &mut Velocity, &mut Plan, &mut KerbWait)>,
) {
    let (snapshot, visits) = (&*snapshot, &*visits);
    let (now, dt, seed) = (clock.now(), clock.dt, seed.0);
    let (space, all_nav, populations, crossings, gates) = (&space.0, &*nav, &*populations, &*crossings, &*gates);
    let (net, vehicles) = (&*net.0, &*vehicles);
    let start_up = net.rules.outside_crossings.as_ref().map_or(0.0, |o| o.start_up);
    let one_way_doors = space.doors.iter().any(|d| d.open && d.one_way.is_some());
    type Item<'a> = (
        &'a AgentId,
        &'a Walker,
        &'a Stalled,
        &'a Heading,
        Mut<'a, Body>,
        Mut<'a, Velocity>,
        Mut<'a, Plan>,
        Mut<'a, KerbWait>,
    );
    for_each_agent!(
        agents,
        *threads,
        |(id, walker, stalled, heading, mut body, mut velocity, mut plan, mut wait): Item<'_>| {
            wait.held = false;
            wait.gap_held = false;
            wait.crossed = false;
            let nav = all_nav.for_agent(wait.crosses_anywhere);
            let legs = &populations.get(walker.population).plan.legs;
            body.prev = body.pos;
            match plan.activity {
                // Someone a blocked zone or a spreading hazard reaches stops waiting and leaves it.
                Activity::Waiting { until } => {
                    velocity.0 = DVec2::ZERO;
                    if now + dt >= until || nav.grids[body.level].is_closed(body.pos) {
                        plan.activity = Activity::Walking;
                    }
                }
                Activity::Dwelling { until } => {
                    // Steering asks someone staying to step aside only for a walker held up against
                    // them; the step keeps clear of walls, bodies and blocked zones, or is not taken.
                    let step = velocity.0 * dt;
                    if step != DVec2::ZERO {
                        let walls = space.levels[body.level].walls_for(wait.crosses_anywhere);
                        let walled = constrain(walls, body.pos, body.pos + step, body.radius) - body.pos;
                        let allowed = BODIES.with_borrow_mut(|buf| {
                            let reach = 2.0 * body.radius + snapshot.max_radius + 2.0 * step.length();
                            snapshot.neighbours(body.level, body.pos, reach, buf);
                            keep_bodies_apart(snapshot, buf, id.0, &body, walled, false, None)
                        });
                        let q = body.pos + allowed;
                        let clear = allowed == walled || reached_clear_of_walls(walls, body.pos, q, body.radius);
                        // Those standing in their place stay in it.
                        let inside = |q| super::model::in_destination(nav, plan.target, body.level, q);
                        if clear && !nav.grids[body.level].is_closed(q) && (inside(q) || !inside(body.pos)) {
                            body.pos = q;
                        }
                    }
                    velocity.0 = (body.pos - body.prev) / dt;
                    if now + dt >= until || nav.grids[body.level].is_closed(body.pos) {
                        let leg = (plan.leg as usize + 1).min(legs.len() - 1);
                        plan.leg = leg as u16;
                        plan.target = super::spawn::leg_target(space, walker.population, legs, leg);
                        plan.spot = None;
                        plan.spot_in_view = false;
                        plan.looked_in_view = false;
                        plan.activity = Activity::Walking;
                    }
                }
                Activity::Walking => {
                    let walls = space.levels[body.level].walls_for(wait.crosses_anywhere);
                    let grid = &nav.grids[body.level];
                    // Someone stalled presses a little into those it goes before (not into those it yields to).
                    let rank = stalled.relieved().then(|| {
                        let field = nav.field(plan.target, body.level);
                        Precedence::new(id.0, plan.target, wait.crosses_anywhere, heading.boxed, body.pos, field, grid)
                    });
                    let squeeze = rank.as_ref();
                    // Every body check measures from where the step starts (the snapshot's position).
                    let start = *body;
                    let travel = BODIES.with_borrow_mut(|buf| {
                        snapshot.neighbours(
                            body.level,
                            body.pos,
                            2.0 * body.radius + snapshot.max_radius + 2.0 * velocity.0.length() * dt,
                            buf,
                        );
                        keep_bodies_apart(snapshot, buf, id.0, &body, velocity.0 * dt, true, squeeze)
                    });
                    let travel = if one_way_doors {
                        along_one_way_doors(space.doors_on(body.level).map(|(_, d)| d), body.pos, travel)
                    } else {
                        travel
                    };
                    if grid.near_wall(body.pos) {
                        // A step longer than a body's radius is taken in pieces, so that sliding along a
                        // wall or through a door frame works for fast walkers and long steps too.
                        // The whole step's chord must still cross no wall.
                        let (start, pieces) = (body.pos, (travel.length() / body.radius).ceil().max(1.0));
                        let mut piece = travel / pieces;
                        for _ in 0..pieces as u32 {
                            let aim = body.pos + piece;
                            let next = constrain(walls, body.pos, aim, body.radius);
                            if pieces > 1.0 && crosses_wall(walls, start, next) {
                                break;
                            }
                            body.pos = next;
                            // A piece slid along a wall: the rest of a long step follows the way from
                            // where it now is. Aimed once for the whole step, a walker many metres a
                            // step slid past a doorway beside it, back and forth, for good.
                            if pieces > 1.0 && next != aim {
                                let way = super::model::heading_for(nav, space, &plan, body.level, body.pos);
                                if way != DVec2::ZERO {
                                    piece = way * piece.length();
                                }
                            }
                        }
                    } else {
                        body.pos += travel;
                    }
                    // Sliding along a wall may have turned the step towards someone: it slides past them
                    // too, along the wall again, and what is left is shortened to fit.
                    if body.pos != body.prev + travel {
                        let taken = body.pos - body.prev;
                        let slid = BODIES
                            .with_borrow(|buf| keep_bodies_apart(snapshot, buf, id.0, &start, taken, true, squeeze));
                        if slid != taken {
                            let along = constrain(walls, body.prev, body.prev + slid, body.radius) - body.prev;
                            let allowed = BODIES.with_borrow(|buf| {
                                keep_bodies_apart(snapshot, buf, id.0, &start, along, false, squeeze)
                            });
                            body.pos = if allowed == along {
                                body.prev + along
                            } else {
                                constrain(walls, body.prev, body.prev + allowed, body.radius)
                            };
                        }
                    }
                    // Walls may still have pushed the step into someone (long steps through narrow
                    // gaps): then the body-safe step is taken if no wall is in its way, or none at all.
                    let taken = body.pos - body.prev;
                    if taken != DVec2::ZERO {
                        let allowed = BODIES
                            .with_borrow(|buf| keep_bodies_apart(snapshot, buf, id.0, &start, taken, false, squeeze));
                        if allowed != taken {
                            let q = body.prev + allowed;
                            let clear = reached_clear_of_walls(walls, body.prev, q, body.radius);
                            body.pos = if clear { q } else { body.prev };
                        }
                    }
                    if grid.is_closed(body.pos) && !grid.is_closed(body.prev) {
                        body.pos = body.prev; // a blocked zone is not entered
                    }
                    // A crossing is entered only when its gate lets this walker through in time.
                    if let Some(c) = crossings.near(body.level, body.pos)
                        && crossings.inside(c, body.pos)
                        && !crossings.inside(c, body.prev)
                        && !gates.allows(c, walker.v0)
                    {
                        body.pos = body.prev;
                        wait.held = true;
                    }
                    if wait.crosses_anywhere {
                        step_off_kerb(space, grid, net, vehicles, walker.v0, start_up, &mut body, &mut wait);
                    }
                    let door = doorway(space, nav, &plan, &body);
                    if door.is_none()
                        && let Some(held) = held_at_openings(space, grid, &body)
                    {
                        // Held short of where the step went: the body rule is asked again for the
                        // step actually taken (a part of a step can pass closer to someone than its end).
                        let taken = held - body.prev;
                        let allowed = BODIES
                            .with_borrow(|buf| keep_bodies_apart(snapshot, buf, id.0, &start, taken, false, squeeze));
                        let q = body.prev + allowed;
                        let clear = reached_clear_of_walls(walls, body.prev, q, body.radius);
                        body.pos = if clear { q } else { body.prev };
                    }
                    // Walls and blocked zones take away the motion they stop (it matters for inertial models).
                    velocity.0 = (body.pos - body.prev) / dt;
                    if let Some(door) = door {
                        plan.activity = match space.doors[door].portal() {
                            Some(portal) => Activity::Crossing { portal },
                            None => Activity::Left { door },
                        };
                    } else if plan.spot.is_none()
                        && let Some(choice) = spot_in_destination(space, nav, snapshot, &plan, &body, seed, id.0)
                    {
                        match choice {
                            SpotChoice::At(spot) => {
                                plan.spot = Some(spot);
                                plan.spot_in_view = false;
                            }
                            // A shop with no room left in it is passed by from its threshold, as
                            // from outside when held up there.
                            SpotChoice::Full(place) => {
                                visits.count(place, true);
                                plan.activity = Activity::Dwelling { until: now + dt };
                            }
                        }
                    } else if plan.spot.is_none()
                        && !plan.looked_in_view
                        && stalled.since >= super::model::DEADLOCK_RELIEF_AFTER
                        && stalled.since - (dt as f32) < super::model::DEADLOCK_RELIEF_AFTER
                        && let Some(spot) = spot_in_view(space, nav, walls, &plan, &body, seed, id.0)
                    {
                        plan.spot = Some(spot);
                        plan.spot_in_view = true;
                        plan.looked_in_view = true;
                    } else if plan.spot_in_view
                        && stalled.since >= super::model::DEADLOCK_RELIEF_AFTER
                        && !in_or_at_edge(nav, &plan, &body, true)
                    {
                        // Held up again on the way, outside the place: it gives up the spot and
                        // waits at the place's edge as before (pressing on, those on their way to
                        // spots in view and those leaving held each other for good).
                        plan.spot = None;
                        plan.spot_in_view = false;
                    } else if arrived(nav, &plan, &body, stalled) {
                        let leg = &legs[plan.leg as usize];
                        let mut rng = agent_rng(seed, id.0, 1 + plan.leg as u64);
                        let dwell = leg.dwell.as_ref().map_or(0.0, |d| super::spawn::sample(d, &mut rng));
                        // Held up outside a full shop, a visitor passes it by and goes on to their
                        // next leg: staying at the edge, those waiting to get in and those done
                        // inside held each other at shop doors for good (tianzifang-shops.md).
                        let place = place_to_stay(space, nav, &plan, &body);
                        let passes_by = place.is_some_and(|(_, p)| p.pass_by_when_full)
                            && !super::model::in_destination(nav, plan.target, body.level, body.pos);
                        if let Some((id, _)) = place {
                            visits.count(id, passes_by);
                        }
                        let dwell = if passes_by { 0.0 } else { dwell };
                        plan.activity = Activity::Dwelling { until: now + dt + dwell };
                    }
                }
                Activity::Left { .. } | Activity::Crossing { .. } => velocity.0 = DVec2::ZERO,
            }
        }
    );
}

/// How far someone stalled in a jam may press into those it goes before, m: people pressed
/// together turn their shoulders and give a little, which lets arches at narrow openings slip.
/// Real bodies compress by a few centimetres at most (validation.md); only one of a pair
/// presses, and the pair never overlaps by more than this.
pub const SQUEEZE: f64 = 0.02;

thread_local! {
    /// Neighbours for `keep_bodies_apart`, reused per worker thread so that moving allocates nothing.
    static BODIES: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(Vec::with_capacity(64));
}

/// Closing in by less than this, m, is rounding, not motion.
const ROUNDING: f64 = 1e-9;

/// The part of `travel` that keeps the agent's body clear of everyone else's. Each of two bodies
/// may close at most half the gap between them in one step, so however both move, they end
/// no closer than touching; bodies already overlapping may not close in further. With `slide`,
/// the move towards the most constraining neighbour is first taken out (the agent slides past it),
/// and the rest is shortened to fit all the others. Everyone reads the step's snapshot and writes
/// only their own move, so the result does not depend on the order agents are moved in.
/// `neighbours` must hold everyone within the body radii plus twice the step's length. With
/// `squeeze`, the agent's order among the stalled, it may press into those it goes before by up
/// to `SQUEEZE`.
pub fn keep_bodies_apart(
    snapshot: &CrowdSnapshot,
    neighbours: &[u32],
    id: u32,
    body: &Body,
    travel: DVec2,
    slide: bool,
    squeeze: Option<&Precedence>,
) -> DVec2 {
    let mut travel = travel;
    if travel == DVec2::ZERO {
        return travel;
    }
    // Each constraint: unit vector towards the neighbour, and the most the step may close along it.
    // Those further than the whole step beyond touching can bind neither the slide nor the scale
    // (sliding only shortens the step): skipped before their precedence is looked up.
    let reach = travel.length() + ROUNDING;
    let limits = || {
        neighbours.iter().filter_map(|&j| {
            let other = &snapshot.agents[j as usize];
            let offset = other.pos - body.pos;
            // Most neighbours are that far: told by the squared distance, without a square root
            // (one just at the bound binds nothing either way).
            let far = 2.0 * reach + body.radius + other.radius;
            if offset.length_squared() > far * far {
                return None;
            }
            let dist = offset.length();
            if (dist - body.radius - other.radius) * 0.5 > reach {
                return None;
            }
            let give = if squeeze.is_some_and(|rank| !rank.precedes(other)) { SQUEEZE } else { 0.0 };
            (other.id != id && dist > 1e-9)
                .then(|| (offset / dist, ((dist - body.radius - other.radius + give) * 0.5).max(0.0)))
        })
    };
    if slide {
        let worst = limits().map(|(n, gap)| (travel.dot(n) - gap, n)).max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((excess, n)) = worst
            && excess > 0.0
        {
            travel -= n * excess;
        }
    }
    let mut scale: f64 = 1.0;
    for (n, gap) in limits() {
        let towards = travel.dot(n);
        // A step slid exactly along a neighbour may round to a hair towards it: that is not
        // closing in, or the agent would stand still there for good.
        if towards > gap + ROUNDING {
            scale = scale.min(gap / towards);
        }
    }
    travel * scale
}

/// For those who cross anywhere: stepping off the kerb means stepping where everyone else's walls
/// would stop them, onto an unfenced carriageway. They do so only when the traffic leaves a gap;
/// otherwise they stay where everyone may stand, so that they can give up and use a crossing.
/// A crossing counts once they reach a sidewalk away from where they stepped off.
#[allow(clippy::too_many_arguments)]
fn step_off_kerb(
    space: &Space,
    grid: &NavGrid,
    net: &Network,
    vehicles: &Vehicles,
    speed: f64,
    start_up: f64,
    body: &mut Body,
    wait: &mut KerbWait,
) {
    let kerbs = space.levels[body.level].walls_for(false);
    let clear = |p: DVec2| kerbs.near(p, body.radius * 0.999).next().is_none();
    // On the carriageway nobody walks into a vehicle's body: a parked car stands there like a
    // wall (moving ones brake for those on the carriageway). Someone a vehicle has come up against
    // may still step away from it.
    if wait.off_kerb {
        let (now, before) = (
            vehicle_clearance(net, vehicles, wait.street, body.pos),
            vehicle_clearance(net, vehicles, wait.street, body.prev),
        );
        if now < body.radius && now < before {
            body.pos = body.prev;
        }
    }
    if wait.off_kerb {
        if clear(body.pos) && grid.street_at(body.pos).is_none() {
            // On a sidewalk (or a crossing) again: across, or back where they stepped off (pushed
            // back by the crowd), and then the wait for a gap goes on.
            wait.off_kerb = false;
            wait.crossed = body.pos.distance(wait.stepped_off_at) > 2.0 * body.radius + 1.0;
        }
        return;
    }
    if clear(body.pos) && (body.pos == body.prev || !crosses_wall(kerbs, body.prev, body.pos)) {
        return;
    }
    let ahead = body.pos + (body.pos - body.prev).normalize_or_zero() * body.radius;
    let street = grid.street_at(ahead).or_else(|| grid.street_at(body.pos)).or_else(|| nearest_street(space, body));
    let Some(street) = street else { return };
    let t_c = critical_gap(space.streets[StreetId::from_index(street as usize)].width, speed, start_up);
    if gap_accepted(net, vehicles, street, body.pos, body.radius, t_c) {
        wait.off_kerb = true;
        wait.stepped_off_at = body.prev;
        wait.street = street;
    } else {
        body.pos = body.prev;
        wait.gap_held = true;
    }
}

/// The unfenced street on the agent's level whose centre line is nearest.
fn nearest_street(space: &Space, body: &Body) -> Option<u32> {
    space
        .streets
        .enumerate()
        .filter(|(_, s)| s.level == body.level && !s.fenced)
        .map(|(id, s)| {
            let d = s
                .centerline
                .windows(2)
                .map(|w| distance_to_segment(body.pos, w[0], w[1]))
                .fold(f64::INFINITY, f64::min);
            (d, id.index() as u32)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, id)| id)
}

/// A step through an open one-way door against its direction slides along the door's line
/// instead, as along a wall: `measures` turns back any step that crosses against it, and a whole
/// step turned back left someone in the doorway whose way had the slightest part across the line
/// standing there for good, and everyone on either side held up behind them.
fn along_one_way_doors<'a>(doors: impl Iterator<Item = &'a DoorGeom>, from: DVec2, travel: DVec2) -> DVec2 {
    let to = from + travel;
    let mut travel = travel;
    for door in doors {
        if let Some(towards) = door.one_way
            && door.open
            && door.against(from, to)
        {
            travel -= towards * travel.dot(towards);
        }
    }
    travel
}

/// Moves from `from` towards `to` but never closer than `radius` to a wall, and never across one.
pub fn constrain(walls: Walls<'_>, from: DVec2, to: DVec2, radius: f64) -> DVec2 {
    let mut p = to;
    for _ in 0..3 {
        let mut moved = false;
        for wall in walls.near(p, radius) {
            let (a, b) = (v(wall.geom().from), v(wall.geom().to));
            let q = closest_on_segment(p, a, b);
            let d = p - q;
            let dist = d.length();
            if dist < radius {
                let away = if dist > 1e-9 {
                    d / dist
                } else {
                    // Exactly on the wall: push back to the side we came from.
                    let n = (b - a).perp().normalize_or_zero();
                    if (from - a).dot(n) >= 0.0 { n } else { -n }
                };
                p = q + away * radius;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    if crosses_wall(walls, from, p) || walls.near(p, radius * 0.999).next().is_some() { from } else { p }
}

/// Whether a body of `radius` stepping from `from` to `to` crosses no wall and ends touching none.
fn reached_clear_of_walls(walls: Walls<'_>, from: DVec2, to: DVec2, radius: f64) -> bool {
    !crosses_wall(walls, from, to) && walls.near(to, radius).next().is_none()
}

/// Whether the segment `a`–`b` crosses or touches a wall.
fn crosses_wall(walls: Walls<'_>, a: DVec2, b: DVec2) -> bool {
    walls
        .near((a + b) * 0.5, a.distance(b) * 0.5 + 1e-6)
        .any(|w| segments_intersect(a, b, v(w.geom().from), v(w.geom().to)))
}

/// The open exit, or passable stair opening, whose doorway the agent's centre has reached or
/// passed through during this step (a fast walker may overshoot a doorway in one step).
fn doorway(space: &Space, nav: &Navigation, plan: &Plan, body: &Body) -> Option<DoorId> {
    let level = body.level;
    let grid = &nav.grids[level];
    // Through once the centre has reached the doorway: until then the body still takes up room in it.
    let through = |d: DoorId| {
        let door = &space.doors[d];
        let passable = door.is_open_exit() || (door.open && door.portal().is_some_and(|p| space.portals[p].allowed));
        // On the line counts (to rounding): `held_at_openings` stops there those it did not let through.
        let reached = (body.pos - door.a).dot(door.normal) >= -LINE_TOLERANCE
            && distance_to_segment(body.pos, door.a, door.b) <= body.radius;
        passable && (reached || (body.prev != body.pos && segments_intersect(body.prev, body.pos, door.a, door.b)))
    };
    let field = nav.field(plan.target, level);
    for p in [body.pos, body.prev] {
        if let Some(k) = grid.cell_at(p)
            && let CellSource::Door(door) = field.source[k]
            && through(door)
        {
            return Some(door);
        }
    }
    // Off the walkable grid: the agent has strayed into some other exit's doorway, and leaves by it
    // if that is a way out for them. (Stair openings are only ever taken on the agent's own route,
    // above.) Someone pressed back over the entrance they came in by, on their way in, is not
    // leaving: they walk back in (see `desired_direction`).
    // Past an exit's line with the centre beside its end by less than a radius also counts: where no
    // wall goes on beyond the opening, a body can drift there and would have no field to follow.
    let past = |d: DoorId| {
        let door = &space.doors[d];
        let (along, length) = ((door.b - door.a).normalize_or_zero(), door.a.distance(door.b));
        let s = (body.pos - door.a).dot(along);
        (body.pos - door.a).dot(door.normal) >= 0.0 && (-body.radius..=length + body.radius).contains(&s)
    };
    if grid.cell_at(body.pos).is_none_or(|k| !grid.walkable[k]) {
        return space.doors_on(level).map(|(i, _)| i).find(|&i| {
            space.doors[i].is_open_exit()
                && (through(i) || past(i))
                && nav.leaves_by(space, plan.target, level, i, body.pos)
        });
    }
    None
}

/// Someone whose step takes its centre over the line of an opening it does not go through (a
/// visitor on the way up pushed back over the stair opening below by those coming down) stops at
/// the line: beyond it there is no floor, and where an opening spans a level's whole side, no wall
/// either (on the Bund's landing such visitors drifted metres off it). Someone already past the
/// line goes no further out. Returns where it is held, if it is.
fn held_at_openings(space: &Space, grid: &NavGrid, body: &Body) -> Option<DVec2> {
    let off_floor = grid.cell_at(body.prev).is_none_or(|k| !grid.walkable[k]);
    let mut pos = body.pos;
    for (_, door) in space.doors_on(body.level) {
        if !door.boundary || !door.cuts_wall(&space.portals) {
            continue;
        }
        let beyond = (pos - door.a).dot(door.normal);
        let before = (body.prev - door.a).dot(door.normal);
        if beyond <= 0.0 {
            continue;
        }
        // Where the step meets the line (or, for someone already past it, where it is now).
        let crossing = before <= 0.0;
        let at = if crossing { body.prev + (pos - body.prev) * (before / (before - beyond)) } else { pos };
        let along = (door.b - door.a).normalize_or_zero();
        if !(-body.radius..=door.width() + body.radius).contains(&(at - door.a).dot(along)) {
            continue;
        }
        if crossing {
            // Held on the line, to rounding on the inner side (where `doorway` counts it as there).
            let over = (at - door.a).dot(door.normal);
            pos = at - door.normal * (over + LINE_TOLERANCE / 2.0).max(0.0);
        } else if off_floor && before <= DOORWAY_REACH_OUT && beyond > before {
            pos -= door.normal * (beyond - before);
        }
    }
    (pos != body.pos).then_some(pos)
}

/// How far past an opening's line someone off the floor is held from going further out, m: a
/// step and a body (nobody gets further now that lines hold; this is for those placed there).
const DOORWAY_REACH_OUT: f64 = 0.5;

/// How near an opening's line, on the inner side, a centre counts as on it, m (rounding only).
const LINE_TOLERANCE: f64 = 1e-9;

/// Where in a place it stays at the agent will stand, drawn when it first sets foot in it: anywhere
/// in the place at random, uniformly over its walkable part. Those arriving fill the place, as
/// visitors spread along a railing or through a shop, instead of all stopping a step inside its edge
/// (where they stood at 4–7 persons/m² with the rest of the place empty). Places nobody stays at
/// are reached at their edge and get no spot.
/// A place that fills from the back (`scene::Fill::FromTheBack`) takes `spot_at_the_back` instead;
/// if that finds no spot with room, or the place holds its `capacity` already (the visitor
/// included), and the place is passed by when full, it is `Full`.
fn spot_in_destination(
    space: &Space,
    nav: &Navigation,
    snapshot: &CrowdSnapshot,
    plan: &Plan,
    body: &Body,
    seed: u64,
    id: u32,
) -> Option<SpotChoice> {
    let (place_id, place) = place_to_stay(space, nav, plan, body)?;
    let inside = |q: DVec2| super::model::in_destination(nav, plan.target, body.level, q);
    if !inside(body.pos) {
        return None;
    }
    let spot = if place.fills_from_back {
        let found = spot_at_the_back(place, snapshot, plan, body, seed, id, inside);
        let no_room = found.is_none_or(|(_, room)| !room) || people_in(place, snapshot) >= capacity(place);
        if no_room && place.pass_by_when_full {
            return Some(SpotChoice::Full(place_id));
        }
        found.map(|(q, _)| q)
    } else {
        random_spot(place, plan, seed, id, SPOT_TRIES, inside)
    };
    Some(SpotChoice::At(spot.unwrap_or(body.pos)))
}

/// Where a visitor setting foot in its place makes for.
enum SpotChoice {
    At(DVec2),
    /// Nowhere: the place has no room left, and it is passed by when full.
    Full(DestinationId),
}

/// Of `BACK_CANDIDATES` spots drawn as in `random_spot`, the one with the fewest others within
/// `ROOM` of it (at the start of the step), and of those the furthest from where the visitor sets
/// foot in the place; and whether it has room (nobody within `ROOM`). A shop then fills from the
/// back and its front stays free for those coming in and going out: with spots anywhere, those
/// making for the back were held up by those standing in front and stayed where they were, and the
/// front half stood at 4–7 persons/m² while the back half was empty (`docs/design/tianzifang-shops.md`).
fn spot_at_the_back(
    place: &DestinationGeom,
    snapshot: &CrowdSnapshot,
    plan: &Plan,
    body: &Body,
    seed: u64,
    id: u32,
    inside: impl Fn(DVec2) -> bool,
) -> Option<(DVec2, bool)> {
    let mut best = None::<(u32, f64, DVec2)>;
    for q in spot_candidates(place, plan, seed, id, SPOT_TRIES, inside).take(BACK_CANDIDATES) {
        let mut others = 0u32;
        snapshot.all_within(body.level, q, ROOM, |a| {
            others += u32::from(a.id != id);
            true
        });
        let far = q.distance_squared(body.pos);
        if best.is_none_or(|(n, d, _)| others < n || (others == n && far > d)) {
            best = Some((others, far, q));
        }
    }
    best.map(|(others, _, q)| (q, others == 0))
}

/// How many agents (at the start of the step) stand or walk in the place.
fn people_in(place: &DestinationGeom, snapshot: &CrowdSnapshot) -> usize {
    let (lo, hi) = bounds(&place.area);
    let mut n = 0;
    snapshot.cells.for_each_run_in(place.level.index(), lo, hi, |_, points, _| {
        n += points.iter().filter(|&&q| ring_contains(&place.area, q)).count();
    });
    n
}

/// How many a place filling from the back holds once full of spots with room (`ROOM`): its area
/// over `AREA_PER_VISITOR`. Visitors coming in faster than they reach their spots would each find
/// room at spots the others are still walking to; the count keeps them from overfilling it.
fn capacity(place: &DestinationGeom) -> usize {
    (place.area_m2 / AREA_PER_VISITOR) as usize
}

/// The area each visitor has once a place is full of spots drawn with `ROOM` about them, m²:
/// random sequential packing covers 55 % of the floor with discs of `ROOM`'s diameter.
const AREA_PER_VISITOR: f64 = std::f64::consts::PI * (ROOM / 2.0) * (ROOM / 2.0) / 0.547;

/// Spots weighed by a visitor to a place that fills from the back.
const BACK_CANDIDATES: usize = 16;
/// Nobody else within this of a spot, m, leaves room at it [est]: with spots drawn so, a place is
/// full at about 1.4 persons/m² (random sequential packing covers 55 % of the floor with discs of
/// this diameter: 0.70 m² each, Fruin's level of service E for walkways, still short of the
/// 4.7 persons/m² Shanghai takes as critical for a standing crowd). At 0.8 m (1.1 persons/m²)
/// Tianzifang's shops turned away a fifth of their visitors and the quarter held 4,300 at the
/// peak; at 0.7 m a tenth and 4,800 (`docs/design/tianzifang-shops.md`).
const ROOM: f64 = 0.7;

/// Someone held up just outside the place it stays at (by those standing there already, as a
/// rule) looks for room further in or along: a spot anywhere in the place that it can walk
/// straight to from where it is (no wall between), drawn as in `spot_in_destination`, when it has
/// just been held up for a second (found once a leg). Visitors who find the near end of a viewing
/// strip full walk on along it to where there is room; waiting at the near end, they queued back
/// onto the pavement and blocked it for everyone (the Bund's ground viewers, issue 12).
fn spot_in_view(
    space: &Space,
    nav: &Navigation,
    walls: Walls<'_>,
    plan: &Plan,
    body: &Body,
    seed: u64,
    id: u32,
) -> Option<DVec2> {
    let (_, place) = place_to_stay(space, nav, plan, body)?;
    let n = place.area.len();
    let reach = (0..n)
        .map(|i| distance_to_segment(body.pos, v(place.area[i]), v(place.area[(i + 1) % n])))
        .fold(f64::INFINITY, f64::min);
    if reach > SPOT_VIEW_REACH {
        return None;
    }
    random_spot(place, plan, seed, id, SPOT_VIEW_TRIES, |q| {
        super::model::in_destination(nav, plan.target, body.level, q) && !crosses_wall(walls, body.pos, q)
    })
}

/// The place the agent's leg leads to, if people stay there and it is on the agent's level.
fn place_to_stay<'a>(
    space: &'a Space,
    nav: &Navigation,
    plan: &Plan,
    body: &Body,
) -> Option<(DestinationId, &'a DestinationGeom)> {
    let TargetKey::Destination { destination } = nav.key(plan.target) else { return None };
    let place = space.destinations.get(*destination)?;
    (!place.passed_by && place.level == body.level).then_some((*destination, place))
}

/// The first of `tries` points drawn uniformly over the place's bounding box, from the agent's own
/// stream for this leg, that lies in the place and that `accept` takes.
fn random_spot(
    place: &DestinationGeom,
    plan: &Plan,
    seed: u64,
    id: u32,
    tries: u32,
    accept: impl Fn(DVec2) -> bool,
) -> Option<DVec2> {
    spot_candidates(place, plan, seed, id, tries, accept).next()
}

/// Of `tries` points drawn uniformly over the place's bounding box from the agent's own stream for
/// this leg, those that lie in the place and that `accept` takes, in the order drawn. Lazy: a
/// caller taking the first few draws no more than those need, so every spot function draws the
/// same points from the same stream.
fn spot_candidates<'a>(
    place: &'a DestinationGeom,
    plan: &Plan,
    seed: u64,
    id: u32,
    tries: u32,
    accept: impl Fn(DVec2) -> bool + 'a,
) -> impl Iterator<Item = DVec2> + 'a {
    let (lo, hi) = bounds(&place.area);
    let mut rng = agent_rng(seed, id, SPOT_STREAM + u64::from(plan.leg));
    (0..tries)
        .map(move |_| lo + (hi - lo) * DVec2::new(rng.random::<f64>(), rng.random::<f64>()))
        .filter(move |&q| ring_contains(&place.area, q) && accept(q))
}

/// How far outside its place someone held up looks for room in it, m: a few rows of people
/// standing at its edge [est].
const SPOT_VIEW_REACH: f64 = 3.0;
/// Random points tried for a spot in view, each time someone is held up near its place (a wall
/// check each, so fewer than `SPOT_TRIES`).
const SPOT_VIEW_TRIES: u32 = 16;

/// The random stream of an agent's spot in a destination, plus the leg.
const SPOT_STREAM: u64 = 0x8000;
/// Random points tried for a spot; a place covering under 1 % of its bounding box takes where the
/// agent stands.
const SPOT_TRIES: u32 = 400;
/// How near its spot an agent has arrived there, m: less than a step at a brisk walk, so that
/// nobody overshoots it for good.
const SPOT_REACH: f64 = 0.1;

/// At its spot in the destination, or held up on the way there for a second by those standing
/// there already (the place is full around it); without a spot: inside the destination and as far
/// in as its field leads, or as far as others standing there let the agent get.
/// Arrived outside the place (held up behind those standing at its edge), a visitor to a place
/// with `WhenFull::PassBy` does not stay but passes it by.
fn arrived(nav: &Navigation, plan: &Plan, body: &Body, stalled: &Stalled) -> bool {
    let stalled = stalled.since >= SETTLE_AFTER;
    if let Some(spot) = plan.spot {
        // On the way to a spot in view, held up outside the place: it stays only at the place's
        // edge (as below), not on the pavement on the way.
        let held_there = stalled && (!plan.spot_in_view || in_or_at_edge(nav, plan, body, true));
        return body.pos.distance(spot) <= SPOT_REACH || held_there;
    }
    in_or_at_edge(nav, plan, body, stalled)
}

/// How long a visitor held up on the way to their place, or inside it on the way to their spot,
/// presses on before staying where they are, s: from `DEADLOCK_RELIEF_AFTER` on, those standing in
/// their way step aside for them (`model`, making way while staying) [est].
const SETTLE_AFTER: f32 = 3.0;

/// Without a spot: inside the destination and as far in as its field leads (or anywhere inside
/// once `stalled`), or, `stalled`, just outside it with the destination ahead.
fn in_or_at_edge(nav: &Navigation, plan: &Plan, body: &Body, stalled: bool) -> bool {
    let grid = &nav.grids[body.level];
    let field = nav.field(plan.target, body.level);
    grid.cell_at(body.pos).is_some_and(|k| {
        if field.source[k] == CellSource::InDestination {
            return field.time[k] <= 0.0 || stalled;
        }
        // Held up for a while just outside the destination (by those who stopped at its edge,
        // who do not make way while they stay): there among them counts as arrived. Otherwise
        // the walker waits behind them until they leave, as if they were a wall.
        if !stalled {
            return false;
        }
        let [dx, dy] = field.dir[k];
        let ahead = body.pos + DVec2::new(f64::from(dx), f64::from(dy)) * ARRIVAL_EDGE_REACH;
        grid.cell_at(ahead).is_some_and(|j| field.source[j] == CellSource::InDestination)
    })
}

/// How far short of a destination's edge someone held up there counts as arrived, m: a body's
/// depth behind those standing on the edge [est].
const ARRIVAL_EDGE_REACH: f64 = 0.5;

pub fn remove_leavers(
    mut commands: Commands,
    clock: Res<SimClock>,
    mut census: ResMut<Census>,
    agents: Query<(Entity, &AgentId, &Plan), Changed<Plan>>,
) {
    let mut leaving: Vec<(u32, Entity, DoorId)> = agents
        .iter()
        .filter_map(|(e, id, plan)| match plan.activity {
            Activity::Left { door } => Some((id.0, e, door)),
            _ => None,
        })
        .collect();
    leaving.sort_unstable_by_key(|l| l.0);
    let t = clock.now() + clock.dt;
    for (_, entity, door) in leaving {
        census.exited += 1;
        *census.per_exit.entry(door).or_default() += 1;
        census.last_exit = Some(t);
        commands.entity(entity).despawn();
    }
}

/// How many people may still step onto each stair opening now; refilled at the stair's
/// maximum specific flow times its width (IMO MSC.1/Circ.1533: 0.88 up, 1.1 down).
#[derive(Resource, Clone, Debug, Default)]
pub struct StairGates {
    pub tokens: Vec<f64>,
}

/// Where an agent crossing `portal` at `pos` comes out on the other side: the same place across
/// the opening moved `shift` metres along it, kept clear of its frame, one body radius in; `None`
/// where the shift would put the body past the opening's end.
fn portal_exit(space: &Space, portal: PortalId, pos: DVec2, radius: f64, shift: f64) -> Option<(LevelId, DVec2)> {
    let p = &space.portals[portal];
    let (door, peer) = (&space.doors[p.door], &space.doors[p.peer]);
    let u = ((pos - door.a).dot(door.b - door.a) / (door.b - door.a).length_squared()).clamp(0.0, 1.0);
    let margin = (radius / peer.width()).min(0.5);
    let u = u.clamp(margin, 1.0 - margin) + shift / peer.width();
    if shift != 0.0 && !(margin..=1.0 - margin).contains(&u) {
        return None;
    }
    let spot = peer.b + (peer.a - peer.b) * u - peer.normal * (radius + 0.02);
    Some((peer.level, spot))
}

/// Where someone in a stair opening may step through beside the spot straight across, m, nearest
/// first: a stride to either side. Straight across alone, someone going down who waits where
/// those coming up step off, while one of them waits where it would step off, waits for good.
const STEP_THROUGH_BESIDE: [f64; 11] = [0.0, 0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 0.4, -0.4, 0.5, -0.5];

/// Moves agents waiting in stair openings to the other side, in id order, when the stair's
/// gate lets them on and there is room where they come out.
pub fn cross_portals(
    clock: Res<SimClock>,
    space: Res<SpaceRes>,
    snapshot: Res<CrowdSnapshot>,
    mut gates: ResMut<StairGates>,
    mut agents: Query<(Entity, &AgentId, &mut Body, &mut Plan, &mut Velocity)>,
) {
    let space = &space.0;
    if space.portals.is_empty() {
        return;
    }
    gates.tokens.resize(space.portals.len(), 0.0);
    for (i, p) in space.portals.enumerate() {
        let i = i.index();
        if p.onto_stair {
            let st = &space.stairs[p.stair];
            let at_head = space.doors[p.door].level == st.head_level;
            let rate = if at_head { st.flow_down } else { st.flow_up } * st.width * clock.dt;
            gates.tokens[i] = (gates.tokens[i] + rate).min(rate.max(1.0));
        }
    }
    let mut waiting: Vec<(u32, Entity)> = agents
        .iter()
        .filter(|(.., plan, _)| matches!(plan.activity, Activity::Crossing { .. }))
        .map(|(e, id, ..)| (id.0, e))
        .collect();
    waiting.sort_unstable_by_key(|w| w.0);
    if waiting.is_empty() {
        return;
    }
    // Everyone has moved since the snapshot: the spot must be clear of where they are now.
    let mut placed: Vec<(LevelId, DVec2, f64)> = agents
        .iter()
        .filter(|(.., plan, _)| !matches!(plan.activity, Activity::Crossing { .. } | Activity::Left { .. }))
        .map(|(_, _, body, ..)| (body.level, body.pos, body.radius))
        .collect();
    for &(id, entity) in &waiting {
        let Ok((_, _, body, plan, _)) = agents.get(entity) else { continue };
        let (body, Activity::Crossing { portal }) = (*body, plan.activity) else { continue };
        let Portal { onto_stair: onto, allowed, .. } = space.portals[portal];
        if !allowed {
            // The stair's direction changed while it waited in the opening (now wall, which it has
            // stepped out of): it re-routes.
            agents.get_mut(entity).expect("listed").3.activity = Activity::Walking;
            continue;
        }
        if onto && gates.tokens[portal.index()] < 1.0 - 1e-9 {
            continue;
        }
        let Some((level, spot)) = STEP_THROUGH_BESIDE.iter().find_map(|&shift| {
            let (level, spot) = portal_exit(space, portal, body.pos, body.radius, shift)?;
            room_at(&snapshot, &placed, level, spot, body.radius, id).then_some((level, spot))
        }) else {
            continue;
        };
        if onto {
            gates.tokens[portal.index()] -= 1.0;
        }
        placed.push((level, spot, body.radius));
        let (_, _, mut body, mut plan, mut velocity) = agents.get_mut(entity).expect("listed");
        (body.level, body.pos, body.prev, velocity.0, plan.activity) =
            (level, spot, spot, DVec2::ZERO, Activity::Walking);
    }
}

/// The walls version whose doorways have been cleared.
#[derive(Resource, Default)]
pub struct ClearedWalls(u64);

/// When doors have just become wall (closed, or a stair opening against a newly set direction),
/// whoever stands in such a doorway steps out of it, to the side its centre is on (into the
/// walkable space at a boundary door); whoever stands where a barrier has just been placed steps
/// aside the same way. So no body is left inside a wall.
pub fn leave_closed_doorways(
    space: Res<SpaceRes>,
    mut cleared: ResMut<ClearedWalls>,
    mut agents: Query<(Entity, &AgentId, &mut Body, &mut Plan, &mut Velocity)>,
) {
    let space = &space.0;
    if cleared.0 == space.walls_version {
        return;
    }
    cleared.0 = space.walls_version;
    let walled: Vec<&crate::space::DoorGeom> = space.doors.iter().filter(|d| !d.cuts_wall(&space.portals)).collect();
    let barriers: Vec<&crate::space::BarrierGeom> = space.barriers.iter().filter(|b| b.placed).collect();
    if walled.is_empty() && barriers.is_empty() {
        return;
    }
    // Where everyone stands, by id, so that those moved out of a wall land clear of the others.
    let mut bodies: Vec<(u32, LevelId, DVec2, f64)> = agents
        .iter()
        .filter(|(.., plan, _)| !matches!(plan.activity, Activity::Left { .. }))
        .map(|(_, id, body, ..)| (id.0, body.level, body.pos, body.radius))
        .collect();
    bodies.sort_unstable_by_key(|b| b.0);
    let mut moves: Vec<(u32, Entity, DVec2, DVec2, DVec2)> = Vec::new();
    for (entity, id, body, ..) in &agents {
        if let Some((spot, side, along)) = out_of_new_walls(&walled, &barriers, body) {
            moves.push((id.0, entity, spot, side, along));
        }
    }
    moves.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let offsets = clear_spot_offsets();
    for (id, entity, spot, side, along) in moves {
        let i = bodies.binary_search_by_key(&id, |b| b.0).expect("listed");
        let (_, level, _, radius) = bodies[i];
        let walls = space.levels[level].walls_for(false);
        let spot = clear_spot(walls, &bodies, &offsets, id, level, radius, spot, side, along);
        bodies[i].2 = spot;
        let Ok((_, _, mut body, mut plan, mut velocity)) = agents.get_mut(entity) else { continue };
        (body.pos, body.prev, velocity.0) = (spot, spot, DVec2::ZERO);
        if matches!(plan.activity, Activity::Crossing { .. }) {
            plan.activity = Activity::Walking;
        }
    }
}

/// Where someone standing in a door that has just become wall, or where a barrier has just been
/// placed, steps to: out of the doorway to the side its centre is on (into the walkable space at
/// a boundary door), or aside from the barrier's line (out of a closed outline through its nearest
/// edge). Returns the spot, the direction stepped in and the wall's direction there.
fn out_of_new_walls(
    walled: &[&crate::space::DoorGeom],
    barriers: &[&crate::space::BarrierGeom],
    body: &Body,
) -> Option<(DVec2, DVec2, DVec2)> {
    let level = body.level;
    for door in walled.iter().filter(|d| d.level == level) {
        let foot = closest_on_segment(body.pos, door.a, door.b);
        if foot.distance(body.pos) >= body.radius {
            continue;
        }
        // The door's normal points out of the walkable space at a boundary door.
        let beyond = (body.pos - foot).dot(door.normal) > 0.0;
        let side = if door.boundary || !beyond { -door.normal } else { door.normal };
        return Some((foot + side * (body.radius + 0.01), side, side.perp()));
    }
    for barrier in barriers.iter().filter(|b| b.level == level) {
        let inside = barrier.closed && {
            let ring: Vec<[f64; 2]> = barrier.segments.iter().map(|s| [s.a.x, s.a.y]).collect();
            crate::geom::ring_contains(&ring, body.pos)
        };
        let nearest = barrier
            .segments
            .iter()
            .map(|s| (closest_on_segment(body.pos, s.a, s.b), s))
            .min_by(|a, b| a.0.distance(body.pos).total_cmp(&b.0.distance(body.pos)));
        let Some((foot, segment)) = nearest else { continue };
        if !inside && foot.distance(body.pos) >= body.radius {
            continue;
        }
        let off = if inside { foot - body.pos } else { body.pos - foot };
        // Exactly on the line: to its left.
        let along = (segment.b - segment.a).normalize_or_zero();
        let side = off.try_normalize().unwrap_or_else(|| along.perp());
        return Some((foot + side * (body.radius + 0.01), side, along));
    }
    None
}

/// The spot nearest `spot` (further out along `side`, or along the wall) where the body touches
/// no one and no wall, reachable from `spot` without crossing a wall; `spot` itself if there is
/// none within `CLEAR_SPOT_REACH`.
#[allow(clippy::too_many_arguments)]
fn clear_spot(
    walls: Walls<'_>,
    bodies: &[(u32, LevelId, DVec2, f64)],
    offsets: &[(i32, i32)],
    id: u32,
    level: LevelId,
    radius: f64,
    spot: DVec2,
    side: DVec2,
    along: DVec2,
) -> DVec2 {
    let reach = CLEAR_SPOT_REACH * 1.5 + 2.0 * radius + 0.5;
    let near: Vec<(DVec2, f64)> = bodies
        .iter()
        .filter(|&&(other, l, p, _)| other != id && l == level && p.distance(spot) < reach)
        .map(|&(_, _, p, r)| (p, r))
        .collect();
    let free = |q: DVec2| {
        near.iter().all(|&(p, r)| p.distance(q) >= radius + r + 0.01)
            && walls.near(q, radius).next().is_none()
            && !crosses_wall(walls, spot, q)
    };
    offsets
        .iter()
        .map(|&(out, lateral)| {
            spot + side * (out as f64 * CLEAR_SPOT_STEP) + along * (lateral as f64 * CLEAR_SPOT_STEP)
        })
        .find(|&q| free(q))
        .unwrap_or(spot)
}

/// How far from where a new wall pushes someone out a clear spot is looked for, m, and how far
/// apart the spots tried are. 2 m was too short beside a stair head with a queue on it: with no
/// clear spot the body was put down into a neighbour (8.6 cm deep, `tests/measures.rs`'s switched
/// stair under a model variant); at 4 m it was put down 2.4 m along the wall instead.
const CLEAR_SPOT_REACH: f64 = 4.0;
const CLEAR_SPOT_STEP: f64 = 0.1;

/// The spots tried by `clear_spot`, in steps outwards and along the wall, nearest first.
fn clear_spot_offsets() -> Vec<(i32, i32)> {
    let n = (CLEAR_SPOT_REACH / CLEAR_SPOT_STEP) as i32;
    let mut offsets: Vec<(i32, i32)> = (0..=n).flat_map(|out| (-n..=n).map(move |lateral| (out, lateral))).collect();
    offsets.sort_by_key(|&(out, lateral)| (out * out + lateral * lateral, out, lateral));
    offsets
}

/// Whether a body of `radius` fits at `spot` on `level` (2 cm apart) among everyone at the start of
/// the step but agent `own`, and those placed this step.
fn room_at(
    snapshot: &CrowdSnapshot,
    placed: &[(LevelId, DVec2, f64)],
    level: LevelId,
    spot: DVec2,
    radius: f64,
    own: u32,
) -> bool {
    let clear = |q: DVec2, r: f64| q.distance(spot) >= radius + r + 0.02;
    let reach = radius + snapshot.max_radius + 0.2;
    snapshot.all_within(level, spot, reach, |other| other.id == own || clear(other.pos, other.radius))
        && placed.iter().all(|&(l, q, r)| l != level || clear(q, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::DoorKind;

    /// The one-way door test's south door: x = 12, y 1.2–2.8, passed westward only.
    fn westward_door() -> DoorGeom {
        DoorGeom {
            id: "south_door".into(),
            level: LevelId::from_index(0),
            a: DVec2::new(12.0, 1.2),
            b: DVec2::new(12.0, 2.8),
            open: true,
            boundary: false,
            exit: false,
            normal: DVec2::X,
            kind: DoorKind::Scene,
            one_way: Some(-DVec2::X),
        }
    }

    #[test]
    fn a_step_against_a_one_way_door_slides_along_its_line() {
        let door = westward_door();
        // On the line's west side, walking north with a little eastward, as the walker who stood there for good.
        let from = DVec2::new(11.9996, 1.93);
        let travel = DVec2::new(0.0095, 0.049);
        assert!(door.against(from, from + travel), "the step crosses the door against its arrow");
        let slid = along_one_way_doors(std::iter::once(&door), from, travel);
        assert_eq!(slid, DVec2::new(0.0, 0.049), "only the part along the door is left");
        assert!(!door.against(from, from + slid));
    }

    #[test]
    fn steps_the_door_allows_are_left_alone() {
        let door = westward_door();
        let west = DVec2::new(-0.05, 0.01);
        assert_eq!(along_one_way_doors(std::iter::once(&door), DVec2::new(12.02, 2.0), west), west);
        // Eastward but past the door's end: no door is crossed.
        let east = DVec2::new(0.05, 0.0);
        assert_eq!(along_one_way_doors(std::iter::once(&door), DVec2::new(11.98, 3.5), east), east);
        let closed = DoorGeom { open: false, ..westward_door() };
        assert_eq!(along_one_way_doors(std::iter::once(&closed), DVec2::new(11.98, 2.0), east), east);
    }
}
