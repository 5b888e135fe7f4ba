//! Vehicles: arrivals by flow, lane changes, junction access, IDM driving with stop lines and
//! crossings ahead, movement along lanes and turns, and what that costs (travel time, queues).

use std::collections::VecDeque;

use bevy::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

use super::TrafficNet;
use super::blocks::LaneBlocks;
use super::crossings::{CONFLICT_DISTANCE, CrossingGates, CrossingOccupancy, CrossingStats, distance_to_vehicle};
use super::network::{LaneEnd, Light, LinkKind, MarkKind, NONE, Network};
use super::outside::CarriagewayOccupancy;
use super::params::{AMBER_DECEL, braking_distance};
use super::signals::SignalStates;
use crate::ids::StreetId;
use crate::scene::{Distribution, VehicleKind};
use crate::schedule::{SimClock, SimThreads};
use crate::space::{LaneDirection, SpaceRes};

/// Most stops one vehicle makes (a flow lists at most this many).
pub const MAX_STOPS: usize = 4;
/// Below this speed (m/s) a vehicle counts as queued.
pub const QUEUE_SPEED: f64 = 2.0;
/// Pedestrians step onto a crossing only if a vehicle could stop before it braking this hard, m/s².
const PEDESTRIAN_SAFE_DECEL: f64 = 3.0;
/// A lane change must be worth this much acceleration, m/s² (MOBIL's threshold, Kesting et al. 2007).
const CHANGE_THRESHOLD: f64 = 0.3;
/// The new follower must not have to brake harder than this, m/s² (MOBIL's b_safe).
const CHANGE_SAFE_DECEL: f64 = 4.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VehicleState {
    Driving,
    /// Stopped for a delivery or a drop-off until the given time.
    Dwelling {
        until: f64,
    },
    Parked,
}

#[derive(Clone, Debug)]
pub struct Vehicle {
    pub id: u32,
    pub kind: VehicleKind,
    pub link: u32,
    /// Front bumper, m along the link.
    pub s: f64,
    pub v: f64,
    pub acc: f64,
    pub state: VehicleState,
    pub flow: u32,
    /// Index into the flow's route of the next street to take.
    route_pos: u16,
    /// Random choices made so far (each draws from its own stream).
    choices: u16,
    /// The turn chosen at the end of this lane (`NONE`: leave, or nothing allowed yet).
    pub next_turn: u32,
    /// The junction let it in.
    pub granted: bool,
    /// The turn it came off while its rear is still on it.
    pub prev_turn: u32,
    /// Stops still to make: `(street, centre-line distance, dwell s)`.
    stops: [(u16, f32, f32); MAX_STOPS],
    stop_count: u8,
    /// Sideways offset while changing lanes (drawing only), m.
    pub lateral: f64,
    changed_at: f64,
    /// Since when it has waited at a junction's entry (infinite if not).
    queued_at: f64,
    /// When it entered the network and its current street; ideal time on the street so far.
    pub born: f64,
    street_in: f64,
    street_free: f64,
    trip_free: f64,
}

/// Per street and direction.
#[derive(Clone, Debug, Default)]
pub struct WayStats {
    pub vehicles_in: u32,
    pub vehicles_out: u32,
    pub travel_time: f64,
    pub delay: f64,
    pub max_queue_m: f64,
    pub max_queue_vehicles: u32,
}

#[derive(Resource, Clone, Debug, Default)]
pub struct TrafficStats {
    /// `[street][0 = forward, 1 = backward]`.
    pub ways: Vec<[WayStats; 2]>,
    pub spawned: u32,
    pub arrived: u32,
    pub trip_time: f64,
    pub trip_delay: f64,
    /// Vehicles that crossed a stop line on red.
    pub red_violations: u32,
    /// Consecutive vehicles in a lane found overlapping (must stay 0).
    pub overlaps: u32,
    /// Vehicles of a flow still waiting to get onto their entry lane now, and at most.
    pub entry_waiting: u32,
    pub entry_waiting_max: u32,
    /// Vehicle updates done (for the benchmark).
    pub updates: u64,
    /// Flow demand refused because the street was closed.
    pub refused: u32,
}

struct Pending {
    kind: VehicleKind,
}

struct FlowState {
    intensity: f64,
    threshold: f64,
    rng: ChaCha8Rng,
    queue: VecDeque<Pending>,
}

/// Every vehicle, in slots that are reused in a fixed order; lanes and turns list theirs front first.
#[derive(Resource, Default)]
pub struct Vehicles {
    pub slots: Vec<Vehicle>,
    pub alive: Vec<bool>,
    free: Vec<u32>,
    /// Per link, slots front first (largest `s` first).
    pub on_link: Vec<Vec<u32>>,
    leader: Vec<u32>,
    acc: Vec<f64>,
    commit: Vec<u32>,
    flows: Vec<FlowState>,
    next_id: u32,
    seed: u64,
    occupied: Vec<u32>,
    reserved: Vec<f64>,
    /// Vehicles asking to enter one junction: `(waiting since, id, slot)` (reused every step).
    candidates: Vec<(f64, u32, u32)>,
    last_queue_second: i64,
}

fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    // Vehicle streams are keyed apart from the crowd's (which use the seed as it is).
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_6166_6669_6321);
    rng.set_stream(stream);
    rng
}

fn sample(d: &Distribution, rng: &mut ChaCha8Rng) -> f64 {
    let truncated = |rng: &mut ChaCha8Rng, f: &dyn Fn(f64) -> f64, min: f64, max: f64, centre: f64| {
        for _ in 0..1000 {
            let x = f(rng.sample::<f64, _>(StandardNormal));
            if (min..=max).contains(&x) {
                return x;
            }
        }
        centre.clamp(min, max)
    };
    match *d {
        Distribution::Constant(c) => c,
        Distribution::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        Distribution::Normal { mean, sd, min, max } => truncated(rng, &|z| mean + sd * z, min, max, mean),
        Distribution::LogNormal { mu, sigma, min, max } => {
            truncated(rng, &|z| libm::exp(mu + sigma * z), min, max, libm::exp(mu))
        }
        Distribution::AgeGroups(_) => 0.0,
    }
}

impl Vehicles {
    pub fn new(net: &Network, seed: u64) -> Self {
        let mut vehicles = Vehicles {
            on_link: vec![Vec::new(); net.links.len()],
            occupied: vec![0; net.links.len()],
            reserved: vec![0.0; net.links.len()],
            seed,
            last_queue_second: -1,
            ..Default::default()
        };
        vehicles.flows = (0..net.flows.len())
            .map(|f| {
                let mut rng = stream_rng(seed, 1 << 40 | f as u64);
                let threshold = rng.sample::<f64, _>(Exp1);
                FlowState { intensity: 0.0, threshold, rng, queue: VecDeque::new() }
            })
            .collect();
        for p in &net.parked {
            let slot = vehicles.add(p.kind, p.link, p.s, 0.0, NONE, 0.0);
            vehicles.slots[slot as usize].state = VehicleState::Parked;
        }
        vehicles.rebuild();
        vehicles
    }

    /// Puts a vehicle on `link` with its front at `s`, driving at `v` (scenarios built in code:
    /// validation tests and benchmarks). Returns its id.
    pub fn place(
        &mut self,
        net: &Network,
        space: &crate::space::Space,
        kind: VehicleKind,
        link: u32,
        s: f64,
        v: f64,
    ) -> u32 {
        let slot = self.add(kind, link, s, v, NONE, 0.0);
        self.rebuild();
        choose_turn(net, space, self, slot);
        self.slots[slot as usize].id
    }

    pub fn count(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }

    /// Alive vehicles, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Vehicle> {
        self.slots.iter().zip(&self.alive).filter(|(_, a)| **a).map(|(v, _)| v)
    }

    fn add(&mut self, kind: VehicleKind, link: u32, s: f64, v: f64, flow: u32, now: f64) -> u32 {
        let vehicle = Vehicle {
            id: self.next_id,
            kind,
            link,
            s,
            v,
            acc: 0.0,
            state: VehicleState::Driving,
            flow,
            route_pos: 0,
            choices: 0,
            next_turn: NONE,
            granted: false,
            prev_turn: NONE,
            stops: [(0, 0.0, 0.0); MAX_STOPS],
            stop_count: 0,
            lateral: 0.0,
            changed_at: f64::NEG_INFINITY,
            queued_at: f64::INFINITY,
            born: now,
            street_in: now,
            street_free: 0.0,
            trip_free: 0.0,
        };
        self.next_id += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = vehicle;
                self.alive[slot as usize] = true;
                slot
            }
            None => {
                self.slots.push(vehicle);
                self.alive.push(true);
                self.leader.push(NONE);
                self.acc.push(0.0);
                self.commit.push(NONE);
                (self.slots.len() - 1) as u32
            }
        };
        slot
    }

    /// Lists every link's vehicles front first, and each vehicle's leader on its link.
    fn rebuild(&mut self) {
        for list in &mut self.on_link {
            list.clear();
        }
        for (slot, v) in self.slots.iter().enumerate() {
            if self.alive[slot] {
                self.on_link[v.link as usize].push(slot as u32);
            }
        }
        let slots = &self.slots;
        for list in &mut self.on_link {
            if list.len() > 1 {
                list.sort_by(|&a, &b| {
                    let (a, b) = (&slots[a as usize], &slots[b as usize]);
                    b.s.total_cmp(&a.s).then(a.id.cmp(&b.id))
                });
            }
        }
        for link in 0..self.on_link.len() {
            self.relead(link);
        }
    }

    fn relead(&mut self, link: usize) {
        let list = &self.on_link[link];
        for (k, &slot) in list.iter().enumerate() {
            self.leader[slot as usize] = if k == 0 { NONE } else { list[k - 1] };
        }
    }

    /// The rear bumper of the last vehicle on `link` (the link's length if empty, counting turns
    /// into it that are taken or promised).
    fn room(&self, net: &Network, link: u32) -> f64 {
        let rear = match self.on_link[link as usize].last() {
            Some(&slot) => {
                let v = &self.slots[slot as usize];
                v.s - net.params(v.kind).length
            }
            None => net.links[link as usize].length,
        };
        rear - self.reserved[link as usize]
    }
}

/// The link after `link` on the vehicle's way, if known.
#[inline]
fn next_on_route(net: &Network, v: &Vehicle, link: u32, first: bool) -> u32 {
    match &net.links[link as usize].kind {
        LinkKind::Lane { .. } => {
            if first && v.next_turn != NONE && net.links[v.next_turn as usize].next.first().is_some() {
                match net.links[v.next_turn as usize].kind {
                    LinkKind::Turn { from, .. } if from == link => v.next_turn,
                    _ => NONE,
                }
            } else {
                NONE
            }
        }
        LinkKind::Turn { to, .. } => *to,
    }
}

/// What the vehicle in `slot` does this step: its acceleration, and the crossing it is too close
/// to stop for (pedestrians must not step onto it).
#[allow(clippy::too_many_arguments)]
/// Pedestrians as the vehicles see them at the start of the step.
#[derive(Clone, Copy)]
struct Occupancy<'a> {
    crossings: &'a CrossingOccupancy,
    carriageways: &'a CarriagewayOccupancy,
    blocks: &'a LaneBlocks,
}

fn decide(
    net: &Network,
    vehicles: &Vehicles,
    signals: &SignalStates,
    occupancy: Occupancy<'_>,
    gates: &CrossingGates,
    slot: u32,
    dt: f64,
) -> (f64, u32) {
    let veh = &vehicles.slots[slot as usize];
    if veh.state != VehicleState::Driving {
        return (0.0, NONE);
    }
    let p = net.params(veh.kind);
    let link = &net.links[veh.link as usize];
    let v0 = p.v0.min(link.speed_limit);
    let v = veh.v;
    let mut acc = p.idm(v0, v, f64::INFINITY, 0.0);
    let mut commit = NONE;
    let horizon = 60.0 + 2.0 * v * p.t + v * v / p.b;
    let obstacle = |acc: &mut f64, d: f64| {
        *acc = acc.min(p.idm(v0, v, d, 0.0));
    };
    // The vehicle ahead: its rear's distance from our front, and its speed.
    let (mut ahead_rear, mut ahead_v) = (f64::INFINITY, 0.0);
    let leader = vehicles.leader[slot as usize];
    if leader != NONE {
        let l = &vehicles.slots[leader as usize];
        (ahead_rear, ahead_v) = (l.s - net.params(l.kind).length - veh.s, l.v);
        acc = acc.min(p.idm(v0, v, ahead_rear, l.v));
    } else {
        let (mut base, mut cur, mut first) = (link.length - veh.s, veh.link, true);
        while base < horizon {
            let next = next_on_route(net, veh, cur, first);
            if next == NONE {
                break;
            }
            if let Some(&last) = vehicles.on_link[next as usize].last() {
                let l = &vehicles.slots[last as usize];
                (ahead_rear, ahead_v) = (base + l.s - net.params(l.kind).length, l.v);
                acc = acc.min(p.idm(v0, v, ahead_rear, l.v));
                break;
            }
            base += net.links[next as usize].length;
            cur = next;
            first = false;
        }
    }
    // Stop lines, crossings, the junction entry and its own stop.
    let (mut base, mut cur, mut first) = (-veh.s, veh.link, true);
    loop {
        let l = &net.links[cur as usize];
        for mark in &l.marks {
            let d = base + mark.s;
            if d <= 0.0 {
                continue;
            }
            if d > horizon {
                break;
            }
            match mark.kind {
                MarkKind::Signal { head } => match signals.light(head) {
                    Light::Red => obstacle(&mut acc, d),
                    Light::Amber if braking_distance(v, AMBER_DECEL) < d => obstacle(&mut acc, d),
                    _ => {}
                },
                MarkKind::Crossing { crossing, leave, .. } => {
                    let c = crossing as usize;
                    // Keep the crossing clear: do not drive onto it without room beyond it.
                    // The vehicle ahead is expected to stop, braking comfortably, no nearer than this.
                    let ahead_stops_at = ahead_rear + braking_distance(ahead_v, p.b);
                    let no_room = ahead_stops_at < base + leave + p.length + p.s0;
                    // Those waiting at the kerb are yielded to unless a vehicle stands on the crossing
                    // (they could not step on, and yielding to them would hold everyone).
                    // At a signal, only while the pedestrians have green (turning vehicles yield then).
                    let ped_green = net.crossings[c].head.is_none_or(|h| signals.light(h) == Light::Green);
                    let waiting = ped_green
                        && occupancy.crossings.waiting.get(c).is_some_and(|&n| n > 0)
                        && !gates.vehicle_on.get(c).copied().unwrap_or(false);
                    let busy = no_room || occupancy.crossings.inside.get(c).is_some_and(|&n| n > 0) || waiting;
                    if busy {
                        obstacle(&mut acc, d);
                    } else if commit == NONE
                        && v > 0.5
                        && d < braking_distance(v, PEDESTRIAN_SAFE_DECEL) + 2.0 * v * dt + 1.0
                    {
                        commit = crossing;
                    }
                }
            }
        }
        // A barrier or obstacle across the lane (a crashed vehicle): stop short of it. One placed
        // too close to stop for (its front already past the obstacle's start) stops in it.
        for &s in occupancy.blocks.on_link(cur) {
            let d = base + s;
            if d > -p.length && d < horizon {
                obstacle(&mut acc, d.max(1e-3));
            }
        }
        // Pedestrians on the carriageway outside crossings: stop short of them, even alongside.
        for o in occupancy.carriageways.on_link(cur) {
            let d = base + o.s;
            if d + o.radius > -p.length && d < horizon {
                obstacle(&mut acc, (d - o.radius).max(1e-3));
            }
        }
        if let LinkKind::Lane { street, direction, end, .. } = l.kind {
            if veh.stop_count > 0 && veh.stops[0].0 as usize == street.index() {
                let at = net.lane_s(street, direction, veh.stops[0].1 as f64);
                let d = base + at;
                if d > -2.0 {
                    // Aim the front at the stop point (the model keeps s0 back from an obstacle).
                    obstacle(&mut acc, (d + p.s0).max(1e-3));
                }
            }
            if let LaneEnd::Junction(_) = end {
                if first && leader != NONE {
                    break; // the vehicle ahead waits at the box first
                }
                let d = base + l.length;
                let may_enter = first && veh.granted && next_on_route(net, veh, cur, first) != NONE;
                if !may_enter {
                    if d > 0.0 && d < horizon {
                        obstacle(&mut acc, d);
                    }
                    break;
                }
            }
        }
        base += l.length;
        if base > horizon {
            break;
        }
        let next = next_on_route(net, veh, cur, first);
        if next == NONE {
            break;
        }
        cur = next;
        first = false;
    }
    (acc, commit)
}

/// Picks the turn at the end of the vehicle's lane: its route's next street, else by the
/// junction's turn shares; never into a closed street.
fn choose_turn(net: &Network, space: &crate::space::Space, vehicles: &mut Vehicles, slot: u32) {
    let seed = vehicles.seed;
    let veh = &mut vehicles.slots[slot as usize];
    veh.next_turn = NONE;
    veh.granted = false;
    let LinkKind::Lane { street, direction, end: LaneEnd::Junction(j), .. } = net.links[veh.link as usize].kind else {
        return;
    };
    let way = net.streets[street.index()].way(direction);
    let turns = || {
        way.lanes.iter().flat_map(|&l| net.links[l as usize].next.iter().copied()).filter(|&t| {
            let to = net.links[t as usize].next[0];
            net.links[t as usize].allows(veh.kind) && net.links[to as usize].allows(veh.kind)
        })
    };
    let target_street = |t: u32| net.links[net.links[t as usize].next[0] as usize].street().unwrap_or(StreetId(0));
    let open = |s: StreetId| !space.streets[s].closed;
    let route = net.flows.get(veh.flow as usize).map(|f| f.route.as_slice()).unwrap_or(&[]);
    let mut wanted =
        route.get(veh.route_pos as usize).copied().filter(|&s| open(s) && turns().any(|t| target_street(t) == s));
    if wanted.is_some() {
        veh.route_pos += 1;
    } else {
        let options: Vec<(StreetId, f64)> = {
            let mut o: Vec<(StreetId, f64)> = turns()
                .map(target_street)
                .filter(|&s| open(s))
                .map(|s| (s, net.junctions[j as usize].shares.get(&(street, s)).copied().unwrap_or(0.0)))
                .collect();
            o.sort_by_key(|x| x.0);
            o.dedup_by_key(|x| x.0);
            o
        };
        let total: f64 = options.iter().map(|o| o.1).sum();
        if !options.is_empty() {
            let mut rng = stream_rng(seed, (veh.id as u64) << 16 | veh.choices as u64);
            veh.choices = veh.choices.wrapping_add(1);
            if total > 0.0 {
                let mut pick = rng.random::<f64>() * total;
                wanted = options
                    .iter()
                    .find(|o| {
                        pick -= o.1;
                        pick < 0.0
                    })
                    .map(|o| o.0)
                    .or(options.last().map(|o| o.0));
            } else {
                wanted = Some(options[rng.random_range(0..options.len())].0);
            }
        }
    }
    let Some(target) = wanted else { return };
    let my_slot = match net.links[veh.link as usize].kind {
        LinkKind::Lane { slot, .. } => slot as i64,
        _ => 0,
    };
    // The turn into `target` from the nearest lane to the vehicle's own.
    veh.next_turn = turns()
        .filter(|&t| target_street(t) == target)
        .min_by_key(|&t| {
            let from = match net.links[t as usize].kind {
                LinkKind::Turn { from, .. } => from,
                _ => 0,
            };
            let s = match net.links[from as usize].kind {
                LinkKind::Lane { slot, .. } => slot as i64,
                _ => 0,
            };
            ((s - my_slot).abs(), t)
        })
        .unwrap_or(NONE);
}

fn enter_street(stats: &mut TrafficStats, net: &Network, veh: &mut Vehicle, now: f64) {
    if let LinkKind::Lane { street, direction, .. } = net.links[veh.link as usize].kind {
        stats.ways[street.index()][(direction == LaneDirection::Backward) as usize].vehicles_in += 1;
        veh.street_in = now;
        veh.street_free = 0.0;
    }
}

fn leave_street(stats: &mut TrafficStats, net: &Network, veh: &Vehicle, lane: u32, now: f64) {
    if let LinkKind::Lane { street, direction, .. } = net.links[lane as usize].kind {
        let w = &mut stats.ways[street.index()][(direction == LaneDirection::Backward) as usize];
        w.vehicles_out += 1;
        let tt = now - veh.street_in;
        w.travel_time += tt;
        w.delay += (tt - veh.street_free).max(0.0);
    }
}

/// New vehicles from each flow, onto their entry lane when it has room.
pub fn spawn_vehicles(
    clock: Res<SimClock>,
    net: Res<TrafficNet>,
    space: Res<SpaceRes>,
    mut vehicles: ResMut<Vehicles>,
    mut stats: ResMut<TrafficStats>,
) {
    let (net, space) = (&*net.0, &space.0);
    let (now, dt) = (clock.now(), clock.dt);
    let vehicles = &mut *vehicles;
    let mut waiting = 0;
    for (f, flow) in net.flows.iter().enumerate() {
        let rate = flow.rate.iter().rev().find(|(t, _)| *t <= now).map_or(0.0, |r| r.1);
        let state = &mut vehicles.flows[f];
        state.intensity += rate * dt;
        while state.intensity >= state.threshold {
            state.intensity -= state.threshold;
            state.threshold = state.rng.sample::<f64, _>(Exp1);
            let pick = state.rng.random::<f64>();
            let kind = flow.mix.iter().find(|m| pick < m.1).map_or(flow.mix.last().unwrap().0, |m| m.0);
            if space.streets[flow.street].closed {
                stats.refused += 1;
            } else {
                state.queue.push_back(Pending { kind });
            }
        }
        // The first waiting vehicle goes onto the lane for its kind with the most room.
        while let Some(pending) = vehicles.flows[f].queue.front() {
            let kind = pending.kind;
            let p = *net.params(kind);
            let way = net.streets[flow.street.index()].way(flow.direction);
            // Lanes with parked vehicles are parking lanes: driven in only where no other lane takes the kind.
            let usable = |l: &u32| net.links[*l as usize].allows(kind);
            let free_lanes = way.lanes.iter().filter(|l| usable(l) && !net.links[**l as usize].parking).count();
            let best = way
                .lanes
                .iter()
                .copied()
                .filter(|l| usable(l) && (free_lanes == 0 || !net.links[*l as usize].parking))
                .map(|l| (l, vehicles.room(net, l)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let Some((lane, room)) = best else { break };
            let front = p.length.min(net.links[lane as usize].length);
            let gap = room - front;
            if gap < p.s0 || space.streets[flow.street].closed {
                break;
            }
            vehicles.flows[f].queue.pop_front();
            let v0 = p.v0.min(net.links[lane as usize].speed_limit);
            let leader_v = vehicles.on_link[lane as usize].last().map_or(v0, |&s| vehicles.slots[s as usize].v);
            let v = p.equilibrium_speed(v0, gap).min(v0).min(leader_v.max(0.0) + 0.5 * gap / p.t.max(0.1));
            let slot = vehicles.add(kind, lane, front, v.max(0.0), f as u32, now);
            // Its stops, drawn now so that results do not depend on when they are reached.
            let mut rng = stream_rng(vehicles.seed, (vehicles.slots[slot as usize].id as u64) << 16 | 0xffff);
            let veh = &mut vehicles.slots[slot as usize];
            for stop in &flow.stops {
                if rng.random::<f64>() < stop.share && (veh.stop_count as usize) < veh.stops.len() {
                    let dwell = sample(&stop.dwell, &mut rng);
                    veh.stops[veh.stop_count as usize] = (stop.street.0, stop.at as f32, dwell as f32);
                    veh.stop_count += 1;
                }
            }
            stats.spawned += 1;
            enter_street(&mut stats, net, veh, now);
            vehicles.on_link[lane as usize].push(slot);
            vehicles.relead(lane as usize);
            choose_turn(net, space, vehicles, slot);
        }
        waiting += vehicles.flows[f].queue.len() as u32;
    }
    stats.entry_waiting = waiting;
    stats.entry_waiting_max = stats.entry_waiting_max.max(waiting);
}

/// Changes lanes where the route needs it or a stopped vehicle blocks the way (MOBIL without
/// politeness: the gain must pass a threshold and the new follower must not brake hard).
fn change_lanes(net: &Network, vehicles: &mut Vehicles, now: f64) {
    for slot in 0..vehicles.slots.len() as u32 {
        if !vehicles.alive[slot as usize] {
            continue;
        }
        let veh = &vehicles.slots[slot as usize];
        if veh.state != VehicleState::Driving || veh.granted || now - veh.changed_at < 1.0 {
            continue;
        }
        let link = &net.links[veh.link as usize];
        let LinkKind::Lane { street, direction, slot: lane_slot, left, right, .. } = link.kind else { continue };
        let p = *net.params(veh.kind);
        let v0 = p.v0.min(link.speed_limit);
        let to_end = link.length - veh.s;
        // Mandatory: towards the lane its turn leaves from, or the kerb lane for a stop ahead.
        let mut wanted_slot = None;
        if veh.next_turn != NONE {
            if let LinkKind::Turn { from, .. } = net.links[veh.next_turn as usize].kind {
                if from != veh.link {
                    if let LinkKind::Lane { slot: s, .. } = net.links[from as usize].kind {
                        wanted_slot = Some(s);
                    }
                }
            }
        }
        let stop_ahead = veh.stop_count > 0 && veh.stops[0].0 as usize == street.index() && {
            let d = net.lane_s(street, direction, veh.stops[0].1 as f64) - veh.s;
            (-2.0..25.0).contains(&d)
        };
        if stop_ahead {
            let kerb = net.streets[street.index()]
                .way(direction)
                .lanes
                .iter()
                .find(|&&l| net.links[l as usize].allows(veh.kind))
                .map(|&l| match net.links[l as usize].kind {
                    LinkKind::Lane { slot, .. } => slot,
                    _ => 0,
                });
            if kerb.is_some_and(|k| k != lane_slot) {
                wanted_slot = kerb;
            }
        }
        let mut candidates: [u32; 2] = [NONE, NONE];
        match wanted_slot {
            Some(s) if s > lane_slot => candidates[0] = left,
            Some(s) if s < lane_slot => candidates[0] = right,
            _ => {
                // Discretionary only away from a junction (and never off the lane its turn needs).
                if to_end > 60.0 || link.lane_end() == Some(LaneEnd::Boundary) {
                    candidates = [left, right];
                }
            }
        }
        let mandatory = wanted_slot.is_some_and(|s| s != lane_slot);
        let leader = vehicles.leader[slot as usize];
        let acc_with = |lead: u32| -> f64 {
            if lead == NONE {
                return p.idm(v0, veh.v, f64::INFINITY, 0.0);
            }
            let l = &vehicles.slots[lead as usize];
            p.idm(v0, veh.v, l.s - net.params(l.kind).length - veh.s, l.v)
        };
        // Behind a parked or dwelling vehicle, what holds this one now (a crossing it must keep
        // clear, say) counts too: that will not change by waiting.
        let blocked_by_standing = leader != NONE && vehicles.slots[leader as usize].state != VehicleState::Driving;
        let now_acc = if blocked_by_standing { acc_with(leader).min(veh.acc) } else { acc_with(leader) };
        let mut chosen = None;
        for &target in candidates.iter().filter(|&&t| t != NONE) {
            if !net.links[target as usize].allows(veh.kind) {
                continue;
            }
            let list = &vehicles.on_link[target as usize];
            // Front first: the first with s ≤ ours is the new follower; the one before it the new leader.
            let k = list.partition_point(|&o| vehicles.slots[o as usize].s > veh.s);
            let new_leader = if k > 0 { list[k - 1] } else { NONE };
            let follower = list.get(k).copied().unwrap_or(NONE);
            let gap_front = if new_leader == NONE {
                f64::INFINITY
            } else {
                let l = &vehicles.slots[new_leader as usize];
                l.s - net.params(l.kind).length - veh.s
            };
            let (gap_back, follower_acc) = if follower == NONE {
                (f64::INFINITY, 0.0)
            } else {
                let f = &vehicles.slots[follower as usize];
                let fp = net.params(f.kind);
                let gap = veh.s - p.length - f.s;
                (gap, fp.idm(fp.v0.min(link.speed_limit), f.v, gap, veh.v))
            };
            // Never onto a crossing: a vehicle that then stops there would block it.
            let on_crossing = net.links[target as usize].marks.iter().any(|m| match m.kind {
                MarkKind::Crossing { leave, .. } => veh.s > m.s && veh.s - p.length < leave + 0.5,
                _ => false,
            });
            let safe = !on_crossing
                && gap_front > 0.5
                && gap_back > 0.5
                && follower_acc > -CHANGE_SAFE_DECEL
                && acc_with(new_leader) > -CHANGE_SAFE_DECEL;
            if !safe {
                continue;
            }
            if mandatory || acc_with(new_leader) - now_acc > CHANGE_THRESHOLD {
                // A discretionary change must keep the vehicle's turn reachable.
                if !mandatory && veh.next_turn != NONE {
                    let to_street = net.links[net.links[veh.next_turn as usize].next[0] as usize].street();
                    let reachable = net.links[target as usize]
                        .next
                        .iter()
                        .any(|&t| net.links[net.links[t as usize].next[0] as usize].street() == to_street);
                    if !reachable && to_end < 150.0 {
                        continue;
                    }
                }
                chosen = Some((target, k));
                break;
            }
        }
        let Some((target, k)) = chosen else { continue };
        let from = vehicles.slots[slot as usize].link;
        let side = if target == left { 1.0 } else { -1.0 };
        vehicles.on_link[from as usize].retain(|&o| o != slot);
        vehicles.on_link[target as usize].insert(k, slot);
        let width = net.links[target as usize].width;
        let veh = &mut vehicles.slots[slot as usize];
        veh.link = target;
        veh.lateral -= side * width;
        veh.changed_at = now;
        vehicles.relead(from as usize);
        vehicles.relead(target as usize);
        // Keep the turn to the same street from the new lane when there is one.
        let turn = vehicles.slots[slot as usize].next_turn;
        if turn != NONE {
            let to_street = net.links[net.links[turn as usize].next[0] as usize].street();
            if let Some(&t) = net.links[target as usize]
                .next
                .iter()
                .find(|&&t| net.links[net.links[t as usize].next[0] as usize].street() == to_street)
            {
                vehicles.slots[slot as usize].next_turn = t;
            }
        }
    }
}

/// Lets vehicles into junctions first come, first served, when their light allows, no
/// conflicting turn is in use, and there is room beyond (they never block the box).
fn grant_junctions(
    net: &Network,
    space: &crate::space::Space,
    signals: &SignalStates,
    vehicles: &mut Vehicles,
    now: f64,
    dt: f64,
) {
    if net.junctions.is_empty() {
        return;
    }
    vehicles.occupied.iter_mut().for_each(|o| *o = 0);
    vehicles.reserved.iter_mut().for_each(|r| *r = 0.0);
    for slot in 0..vehicles.slots.len() {
        if !vehicles.alive[slot] {
            continue;
        }
        let v = &vehicles.slots[slot];
        let len = net.params(v.kind).length + net.params(v.kind).s0;
        let mut claim = |turn: u32| {
            vehicles.occupied[turn as usize] += 1;
            let to = net.links[turn as usize].next[0];
            vehicles.reserved[to as usize] += len;
        };
        if net.links[v.link as usize].is_turn() {
            claim(v.link);
        } else if v.granted && v.next_turn != NONE {
            claim(v.next_turn);
        }
        if v.prev_turn != NONE {
            vehicles.occupied[v.prev_turn as usize] += 1;
        }
    }
    let mut candidates = std::mem::take(&mut vehicles.candidates);
    for j in &net.junctions {
        candidates.clear();
        for &t in &j.turns {
            let LinkKind::Turn { from, .. } = net.links[t as usize].kind else { continue };
            let Some(&front) = vehicles.on_link[from as usize].first() else { continue };
            let v = &vehicles.slots[front as usize];
            if v.next_turn != t || v.state != VehicleState::Driving {
                continue;
            }
            // Re-choose if the street it meant to take was closed.
            let p = net.params(v.kind);
            let d = net.links[from as usize].length - v.s;
            // A light other than green at the approach's stop line holds whoever can still stop for it.
            let held = net.links[from as usize].junction_stop.is_some_and(|(head, stop)| {
                let to_stop = stop - v.s;
                signals.light(head) != Light::Green && to_stop > 0.0 && braking_distance(v.v, AMBER_DECEL) < to_stop
            });
            if v.granted {
                if held {
                    vehicles.slots[front as usize].granted = false;
                    vehicles.occupied[t as usize] -= 1;
                    let to = net.links[t as usize].next[0];
                    vehicles.reserved[to as usize] -= p.length + p.s0;
                }
                continue;
            }
            // Asked early enough that a vehicle let in never brakes for the box.
            if d > 60.0 + 2.0 * v.v * p.t + v.v * v.v / p.b + v.v * dt || held {
                continue;
            }
            let since = v.queued_at.min(now);
            candidates.push((since, v.id, front));
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, _, slot) in candidates.iter() {
            let v = &vehicles.slots[slot as usize];
            let t = v.next_turn;
            let to = net.links[t as usize].next[0];
            let target_closed = net.links[to as usize].street().is_some_and(|s| space.streets[s].closed);
            let LinkKind::Turn { conflicts, .. } = &net.links[t as usize].kind else { continue };
            let p = net.params(v.kind);
            let clear = conflicts.iter().all(|&c| vehicles.occupied[c as usize] == 0);
            // Room beyond: traffic there moves on, or there is space for the whole vehicle.
            let moving =
                vehicles.on_link[to as usize].last().is_some_and(|&o| vehicles.slots[o as usize].v > QUEUE_SPEED);
            let room = moving || vehicles.room(net, to) >= p.length + p.s0;
            let veh = &mut vehicles.slots[slot as usize];
            if clear && room && !target_closed {
                veh.granted = true;
                veh.queued_at = f64::INFINITY;
                vehicles.occupied[t as usize] += 1;
                vehicles.reserved[to as usize] += p.length + p.s0;
            } else if veh.queued_at == f64::INFINITY {
                veh.queued_at = now;
            }
        }
    }
    vehicles.candidates = candidates;
    // A vehicle whose street ahead was closed, or that waited long in the wrong lane, chooses again.
    for slot in 0..vehicles.slots.len() as u32 {
        if !vehicles.alive[slot as usize] {
            continue;
        }
        let v = &vehicles.slots[slot as usize];
        if v.granted || v.state != VehicleState::Driving || net.links[v.link as usize].is_turn() {
            continue;
        }
        let stuck = v.v < 0.5 && net.links[v.link as usize].length - v.s < 10.0;
        let closed = v.next_turn != NONE
            && net.links[net.links[v.next_turn as usize].next[0] as usize]
                .street()
                .is_some_and(|s| space.streets[s].closed);
        let wrong_lane = v.next_turn != NONE
            && !matches!(net.links[v.next_turn as usize].kind, LinkKind::Turn { from, .. } if from == v.link);
        if closed
            || (stuck && (v.next_turn == NONE || wrong_lane) && now - v.queued_at.min(now) > 10.0)
            || (stuck && v.next_turn == NONE && net.links[v.link as usize].lane_end() != Some(LaneEnd::Boundary))
        {
            choose_turn(net, space, vehicles, slot);
            let v = &mut vehicles.slots[slot as usize];
            if wrong_lane
                && v.next_turn != NONE
                && !matches!(net.links[v.next_turn as usize].kind, LinkKind::Turn { from, .. } if from == v.link)
            {
                // Give up the route: any turn from this lane.
                if let Some(&t) = net.links[v.link as usize].next.iter().find(|&&t| {
                    let to = net.links[t as usize].next[0];
                    net.links[to as usize].allows(v.kind)
                        && !net.links[to as usize].street().is_some_and(|s| space.streets[s].closed)
                }) {
                    v.next_turn = t;
                }
            }
        }
    }
}

/// The vehicles' step: lane changes, junction access, acceleration (in parallel: each reads the
/// state at the start of the step and writes only its own result), then movement in slot order.
#[allow(clippy::too_many_arguments)]
pub fn drive(
    clock: Res<SimClock>,
    threads: Res<SimThreads>,
    net: Res<TrafficNet>,
    space: Res<SpaceRes>,
    signals: Res<SignalStates>,
    occupancy: Res<CrossingOccupancy>,
    on_carriageway: Res<CarriagewayOccupancy>,
    mut blocks: ResMut<LaneBlocks>,
    mut vehicles: ResMut<Vehicles>,
    mut stats: ResMut<TrafficStats>,
    mut gates: ResMut<CrossingGates>,
    mut crossing_stats: ResMut<CrossingStats>,
    mut control: ResMut<crate::schedule::SimControl>,
) {
    let (net, space) = (&*net.0, &space.0);
    let (now, dt) = (clock.now(), clock.dt);
    control.vehicles_active = vehicles.alive.iter().any(|a| *a)
        || vehicles.flows.iter().any(|f| !f.queue.is_empty())
        || net.flows.iter().any(|f| f.demand_after(now));
    let vehicles = &mut *vehicles;
    let stats = &mut *stats;
    count_conflicts(net, vehicles, &occupancy, &mut crossing_stats);
    crossing_stats.outside.count(net, vehicles, &on_carriageway);
    if vehicles.slots.is_empty() {
        open_gates(net, vehicles, &signals, &mut gates, dt);
        return;
    }
    blocks.follow(net, space);
    change_lanes(net, vehicles, now);
    grant_junctions(net, space, &signals, vehicles, now, dt);

    // Accelerations.
    let n = vehicles.slots.len();
    let mut acc = std::mem::take(&mut vehicles.acc);
    let mut commit = std::mem::take(&mut vehicles.commit);
    acc.resize(n, 0.0);
    commit.resize(n, NONE);
    {
        let view = &*vehicles;
        let (signals, gates_before) = (&*signals, &*gates);
        let occupancy = Occupancy { crossings: &occupancy, carriageways: &on_carriageway, blocks: &blocks };
        let work = |first: usize, acc: &mut [f64], commit: &mut [u32]| {
            for k in 0..acc.len() {
                let slot = first + k;
                if view.alive[slot] {
                    (acc[k], commit[k]) = decide(net, view, signals, occupancy, gates_before, slot as u32, dt);
                }
            }
        };
        let workers = threads.0.max(1);
        if workers == 1 || n < 1024 {
            work(0, &mut acc, &mut commit);
        } else {
            let chunk = n.div_ceil(workers * 4);
            bevy::tasks::ComputeTaskPool::get().scope(|scope| {
                for (i, (a, c)) in acc.chunks_mut(chunk).zip(commit.chunks_mut(chunk)).enumerate() {
                    let work = &work;
                    scope.spawn(async move { work(i * chunk, a, c) });
                }
            });
        }
    }

    // Movement, in slot order; lists are rebuilt afterwards.
    for slot in 0..n {
        if !vehicles.alive[slot] {
            continue;
        }
        stats.updates += 1;
        let veh = &mut vehicles.slots[slot];
        veh.acc = acc[slot];
        veh.lateral *= (1.0 - dt / 1.5).max(0.0);
        match veh.state {
            VehicleState::Parked => continue,
            VehicleState::Dwelling { until } => {
                if now + dt >= until {
                    veh.state = VehicleState::Driving;
                }
                continue;
            }
            VehicleState::Driving => {}
        }
        let p = *net.params(veh.kind);
        let v_new = (veh.v + veh.acc * dt).max(0.0);
        let ds = v_new * dt;
        veh.v = v_new;
        let v0 = p.v0.min(net.links[veh.link as usize].speed_limit);
        veh.street_free += ds / v0;
        veh.trip_free += ds / v0;
        let mut s_old = veh.s;
        veh.s += ds;
        // Red lights passed (on this link and any entered).
        loop {
            let link = &net.links[veh.link as usize];
            for m in &link.marks {
                if let MarkKind::Signal { head } = m.kind {
                    if s_old < m.s && m.s <= veh.s && signals.light(head) == Light::Red {
                        stats.red_violations += 1;
                    }
                }
            }
            if veh.s <= link.length {
                break;
            }
            let from = veh.link;
            let next = match link.kind {
                LinkKind::Lane { end: LaneEnd::Boundary, .. } => NONE,
                LinkKind::Lane { .. } => {
                    if veh.granted && veh.next_turn != NONE {
                        veh.next_turn
                    } else {
                        // Not let in: it stops at the box (the obstacle should have held it).
                        veh.s = link.length;
                        veh.v = 0.0;
                        break;
                    }
                }
                LinkKind::Turn { to, .. } => to,
            };
            if next == NONE {
                // Left the scene.
                leave_street(stats, net, veh, from, now + dt);
                stats.arrived += 1;
                let tt = now + dt - veh.born;
                stats.trip_time += tt;
                stats.trip_delay += (tt - veh.trip_free).max(0.0);
                vehicles.alive[slot] = false;
                vehicles.free.push(slot as u32);
                break;
            }
            veh.s -= link.length;
            s_old = 0.0 - 1e-12;
            veh.link = next;
            if net.links[next as usize].is_turn() {
                leave_street(stats, net, veh, from, now + dt);
                veh.granted = false;
            } else {
                veh.prev_turn = from;
                enter_street(stats, net, veh, now + dt);
                // Route choice happens below, once lists are rebuilt.
                veh.next_turn = NONE;
                veh.choices |= 0x8000;
            }
        }
        if !vehicles.alive[slot] {
            continue;
        }
        let veh = &mut vehicles.slots[slot];
        if veh.prev_turn != NONE && veh.s >= p.length {
            veh.prev_turn = NONE;
        }
        // A stop reached: dwell.
        if veh.stop_count > 0 {
            if let LinkKind::Lane { street, direction, .. } = net.links[veh.link as usize].kind {
                if veh.stops[0].0 as usize == street.index() {
                    let at = net.lane_s(street, direction, veh.stops[0].1 as f64);
                    if veh.s > at + 2.0 || (veh.s > at - 2.0 && veh.v < 0.3) {
                        if veh.s <= at + 2.0 {
                            veh.state = VehicleState::Dwelling { until: now + dt + veh.stops[0].2 as f64 };
                            veh.v = 0.0;
                        }
                        veh.stops.copy_within(1.., 0);
                        veh.stop_count -= 1;
                    }
                }
            }
        }
    }
    vehicles.acc = acc;
    vehicles.commit = commit;
    vehicles.rebuild();
    // Route choices of vehicles that entered a new lane, in slot order.
    for slot in 0..n as u32 {
        if vehicles.alive[slot as usize] && vehicles.slots[slot as usize].choices & 0x8000 != 0 {
            vehicles.slots[slot as usize].choices &= 0x7fff;
            choose_turn(net, space, vehicles, slot);
        }
    }
    check_overlaps(net, vehicles, stats);
    measure_queues(net, vehicles, stats, now);
    open_gates(net, vehicles, &signals, &mut gates, dt);
}

fn check_overlaps(net: &Network, vehicles: &Vehicles, stats: &mut TrafficStats) {
    for list in &vehicles.on_link {
        for w in list.windows(2) {
            let (a, b) = (&vehicles.slots[w[0] as usize], &vehicles.slots[w[1] as usize]);
            if a.s - net.params(a.kind).length < b.s - 1e-6 {
                stats.overlaps += 1;
            }
        }
    }
}

/// Once a second, each lane's queue: the vehicles standing or crawling from its front.
fn measure_queues(net: &Network, vehicles: &mut Vehicles, stats: &mut TrafficStats, now: f64) {
    let second = now.floor() as i64;
    if second == vehicles.last_queue_second {
        return;
    }
    vehicles.last_queue_second = second;
    for (l, list) in vehicles.on_link.iter().enumerate() {
        let LinkKind::Lane { street, direction, .. } = net.links[l].kind else { continue };
        let mut head = None;
        let (mut count, mut tail) = (0u32, 0.0);
        for &slot in list {
            let v = &vehicles.slots[slot as usize];
            if v.state != VehicleState::Driving {
                if head.is_none() {
                    continue; // a parked or dwelling vehicle is an obstacle, not a queue
                }
                break;
            }
            if v.v >= QUEUE_SPEED {
                break;
            }
            head.get_or_insert(v.s);
            count += 1;
            tail = v.s - net.params(v.kind).length;
        }
        if let Some(h) = head {
            let w = &mut stats.ways[street.index()][(direction == LaneDirection::Backward) as usize];
            w.max_queue_m = w.max_queue_m.max(h - tail);
            w.max_queue_vehicles = w.max_queue_vehicles.max(count);
        }
    }
}

/// Pedestrians may step onto a crossing when their light allows and no vehicle is on it or
/// approaching too fast to stop.
fn open_gates(net: &Network, vehicles: &Vehicles, signals: &SignalStates, gates: &mut CrossingGates, dt: f64) {
    let n = net.crossings.len();
    gates.follow_signals(net, signals);
    for (slot, &c) in vehicles.commit.iter().enumerate() {
        if c != NONE && vehicles.alive[slot] && (c as usize) < n {
            gates.open[c as usize] = false;
        }
    }
    for (ci, c) in net.crossings.iter().enumerate() {
        for &(l, enter, leave) in &c.lanes {
            for &slot in &vehicles.on_link[l as usize] {
                let v = &vehicles.slots[slot as usize];
                let p = net.params(v.kind);
                let reach =
                    if v.v > 0.5 { braking_distance(v.v, PEDESTRIAN_SAFE_DECEL) + 2.0 * v.v * dt + 1.0 } else { 0.0 };
                let stop = enter - super::network::CROSSING_STOP_BACK;
                // On the crossing, or moving too fast to stop before it.
                let on = v.s > enter - 0.2 || (reach > 0.0 && v.s + reach > stop);
                if on && v.s - p.length < leave + 0.5 {
                    gates.open[ci] = false;
                    gates.vehicle_on[ci] |= v.v < 0.5 && v.s > enter - 0.2;
                }
            }
        }
    }
}

/// Counts vehicles within 1 m of a pedestrian on a crossing (each pair once per encounter).
fn count_conflicts(net: &Network, vehicles: &Vehicles, occupancy: &CrossingOccupancy, stats: &mut CrossingStats) {
    if stats.crossings.len() != net.crossings.len() {
        stats.crossings.resize(net.crossings.len(), Default::default());
    }
    if occupancy.on.is_empty() && stats.active.is_empty() {
        return;
    }
    let mut now_active = std::collections::BTreeSet::new();
    for &(c, ped, pos) in &occupancy.on {
        for &(l, enter, leave) in &net.crossings[c as usize].lanes {
            for &slot in &vehicles.on_link[l as usize] {
                let v = &vehicles.slots[slot as usize];
                if v.s < enter - 3.0 || v.s - net.params(v.kind).length > leave + 3.0 {
                    continue;
                }
                if distance_to_vehicle(net, v, pos) < CONFLICT_DISTANCE {
                    now_active.insert((v.id, ped));
                    if !stats.active.contains(&(v.id, ped)) {
                        stats.crossings[c as usize].conflicts += 1;
                    }
                }
            }
        }
    }
    stats.active = now_active;
}
