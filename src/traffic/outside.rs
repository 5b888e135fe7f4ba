//! Pedestrians crossing outside the crossings: who stands on which lane or turn (for the
//! vehicles), whether the traffic leaves a gap to step off the kerb, and what came of it.

use std::collections::BTreeSet;

use bevy::math::DVec2;
use bevy::prelude::*;

use super::crossings::{CONFLICT_DISTANCE, distance_to_vehicle};
use super::network::{LaneEnd, Network};
use super::vehicles::{VehicleState, Vehicles};

/// A vehicle must be at least this far (m) from a pedestrian's path when they step off the kerb,
/// whatever its speed (a stopped vehicle may start).
const MIN_LAG: f64 = 3.0;
/// How many links upstream of a lane a gap check follows.
const UPSTREAM_LINKS: usize = 32;

/// A pedestrian on a lane or turn: the distance along it, and the body's radius.
#[derive(Clone, Copy, Debug)]
pub struct OnLink {
    pub link: u32,
    pub s: f64,
    pub radius: f64,
    pub ped: u32,
    pub pos: DVec2,
}

/// Pedestrians on carriageways outside the crossings at the start of the step (filled by the crowd).
#[derive(Resource, Clone, Debug, Default)]
pub struct CarriagewayOccupancy {
    /// Sorted by link, then distance along, then pedestrian.
    on: Vec<OnLink>,
    /// Where each link's entries begin in `on` (one more entry than links).
    start: Vec<u32>,
}

impl CarriagewayOccupancy {
    pub fn clear(&mut self) {
        self.on.clear();
        self.start.clear();
    }

    /// Records pedestrian `ped` at `p` on the carriageway of street `street`: on every lane of the
    /// street, and every turn of the junctions at its ends, that its body overlaps.
    pub fn add(&mut self, net: &Network, street: u32, ped: u32, p: DVec2, radius: f64) {
        let Some(st) = net.streets.get(street as usize) else { return };
        let ends = [st.forward.start, st.forward.end, st.backward.start, st.backward.end];
        let junction_turns = ends
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                LaneEnd::Junction(j) => Some(j),
                LaneEnd::Boundary => None,
            })
            .flat_map(|j| net.junctions[j as usize].turns.iter().copied());
        let lanes = st.forward.lanes.iter().chain(&st.backward.lanes).copied();
        for link in lanes.chain(junction_turns) {
            let l = &net.links[link as usize];
            let (s, off) = l.project(p);
            if off <= l.width / 2.0 + radius && s > -radius && s < l.length + radius {
                self.on.push(OnLink { link, s, radius, ped, pos: p });
            }
        }
    }

    /// Sorts and indexes what was added; call once everyone is in.
    pub fn finish(&mut self, links: usize) {
        // A junction's turns may be listed from both streets meeting there.
        self.on.sort_by_key(|o| (o.link, o.ped));
        self.on.dedup_by(|a, b| a.link == b.link && a.ped == b.ped);
        self.on.sort_by(|a, b| a.link.cmp(&b.link).then(a.s.total_cmp(&b.s)).then(a.ped.cmp(&b.ped)));
        self.start.clear();
        self.start.resize(links + 1, 0);
        for o in &self.on {
            self.start[o.link as usize + 1] += 1;
        }
        for i in 0..links {
            self.start[i + 1] += self.start[i];
        }
    }

    /// Pedestrians on `link`, by distance along it.
    #[inline]
    pub fn on_link(&self, link: u32) -> &[OnLink] {
        match (self.start.get(link as usize), self.start.get(link as usize + 1)) {
            (Some(&a), Some(&b)) => &self.on[a as usize..b as usize],
            _ => &[],
        }
    }

    pub fn all(&self) -> &[OnLink] {
        &self.on
    }
}

/// The critical gap of a pedestrian crossing `length` m of carriageway at `speed` m/s (HCM 2010,
/// pedestrian gap acceptance at two-way stop-controlled intersections: t_c = L/S_p + t_s).
pub fn critical_gap(length: f64, speed: f64, start_up: f64) -> f64 {
    length / speed.max(0.1) + start_up
}

/// Whether a pedestrian at `p` may step onto street `street`'s carriageway: no vehicle on any of
/// its lanes is alongside, and none on them or coming onto them reaches the pedestrian's path
/// within `t_c` s at its present speed (or is nearer than a few metres).
pub fn gap_accepted(net: &Network, vehicles: &Vehicles, street: u32, p: DVec2, radius: f64, t_c: f64) -> bool {
    let Some(st) = net.streets.get(street as usize) else { return true };
    st.forward.lanes.iter().chain(&st.backward.lanes).all(|&lane| {
        let (s, _) = net.links[lane as usize].project(p);
        lane_clear(net, vehicles, lane, s, radius, t_c)
    })
}

/// How far the point `p` is from the body of the nearest vehicle on `street`'s lanes, m
/// (infinite if none is within a vehicle's length and a few metres along them).
pub fn vehicle_clearance(net: &Network, vehicles: &Vehicles, street: u32, p: DVec2) -> f64 {
    let Some(st) = net.streets.get(street as usize) else { return f64::INFINITY };
    let mut nearest = f64::INFINITY;
    for &lane in st.forward.lanes.iter().chain(&st.backward.lanes) {
        let (s, _) = net.links[lane as usize].project(p);
        for &slot in &vehicles.on_link[lane as usize] {
            let v = &vehicles.slots[slot as usize];
            if v.s < s - 3.0 || v.s - net.params(v.kind).length > s + 3.0 {
                continue;
            }
            nearest = nearest.min(distance_to_vehicle(net, v, p));
        }
    }
    nearest
}

/// Whether the path across `lane` at `s` is clear of vehicles for `t_c` s, looking upstream.
fn lane_clear(net: &Network, vehicles: &Vehicles, lane: u32, s: f64, radius: f64, t_c: f64) -> bool {
    // (link, where the path's near edge is in the link's own distance along it)
    let mut stack = [(0u32, 0.0f64); UPSTREAM_LINKS];
    stack[0] = (lane, s - radius);
    let (mut len, mut seen) = (1, 0);
    while seen < len {
        let (link, edge) = stack[seen];
        seen += 1;
        for &slot in &vehicles.on_link[link as usize] {
            let v = &vehicles.slots[slot as usize];
            let length = net.params(v.kind).length;
            if link == lane && v.s - length > s + radius + CONFLICT_DISTANCE {
                continue; // already past, and far enough not to be in conflict
            }
            if v.s > edge {
                return false; // alongside
            }
            let moving = v.state == VehicleState::Driving;
            let lag = edge - v.s;
            if moving && (lag < MIN_LAG || lag < v.v * t_c) {
                return false;
            }
        }
        // Links further back than a vehicle at their speed limit covers in t_c are not looked at.
        for &up in &net.prev[link as usize] {
            let up_link = &net.links[up as usize];
            if edge < up_link.speed_limit * t_c + MIN_LAG && len < UPSTREAM_LINKS {
                stack[len] = (up, edge + up_link.length);
                len += 1;
            }
        }
    }
    true
}

/// What pedestrians crossing outside crossings did.
#[derive(Clone, Debug, Default)]
pub struct OutsideRecord {
    /// Carriageways crossed outside a crossing (counted on reaching the far side).
    pub crossed: u32,
    /// Seconds waited at the kerb for a gap before each, summed, and the longest.
    pub wait_total: f64,
    pub wait_max: f64,
    /// Gave up waiting and went to a crossing.
    pub gave_up: u32,
    /// A vehicle within 1 m of a pedestrian on the carriageway.
    pub conflicts: u32,
    /// A vehicle's body overlapping a pedestrian's (must stay 0).
    pub collisions: u32,
    /// `(vehicle, pedestrian)` pairs in conflict or collision now, so that each counts once.
    active: BTreeSet<(u32, u32)>,
    touching: BTreeSet<(u32, u32)>,
}

impl OutsideRecord {
    pub fn record_entry(&mut self, waited: f64) {
        self.crossed += 1;
        self.wait_total += waited;
        self.wait_max = self.wait_max.max(waited);
    }

    /// Counts new conflicts and collisions between vehicles and pedestrians on carriageways.
    pub fn count(&mut self, net: &Network, vehicles: &Vehicles, occupancy: &CarriagewayOccupancy) {
        if occupancy.on.is_empty() && self.active.is_empty() {
            return;
        }
        let (mut active, mut touching) = (BTreeSet::new(), BTreeSet::new());
        for o in &occupancy.on {
            for &slot in &vehicles.on_link[o.link as usize] {
                let v = &vehicles.slots[slot as usize];
                if v.s < o.s - 3.0 || v.s - net.params(v.kind).length > o.s + 3.0 {
                    continue;
                }
                let dist = distance_to_vehicle(net, v, o.pos);
                if dist < CONFLICT_DISTANCE {
                    active.insert((v.id, o.ped));
                }
                if dist < o.radius {
                    touching.insert((v.id, o.ped));
                }
            }
        }
        self.conflicts += active.difference(&self.active).count() as u32;
        self.collisions += touching.difference(&self.touching).count() as u32;
        (self.active, self.touching) = (active, touching);
    }
}
