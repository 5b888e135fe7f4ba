//! The road network vehicles drive on, built once from the scene and the space: lanes cut back
//! at junctions, turns joining them, stop lines, crossing marks, signal heads and plans, demand.

use std::collections::{BTreeMap, BTreeSet};

use bevy::math::DVec2;

use super::params::VehicleParams;
use crate::geom::{segments_intersect, v};
use crate::ids::{LevelId, StreetId};
use crate::scene::{CrossingRules, Diagnostics, Distribution, Scene, SourceMap, StreetEnd, VehicleKind};
use crate::space::{LaneDirection, LaneKind, Space};

/// No link, vehicle or head.
pub const NONE: u32 = u32::MAX;
/// Vehicles stop this far before a crossing's edge, m (plus their jam distance).
pub const CROSSING_STOP_BACK: f64 = 1.0;
/// A crossing whose far edge is this close to a signalised junction's box (m) gets the junction's
/// stop line before it: the longest vehicle, its jam distance and a metre.
const JUNCTION_CROSSING_REACH: f64 = 12.0 + 2.5 + 1.0;
/// Lateral acceleration accepted in turns, m/s² (comfortable urban driving).
const TURN_LATERAL_ACCEL: f64 = 2.0;

/// A polyline with cumulative lengths, for positions by distance along it.
#[derive(Clone, Debug)]
pub struct Polyline {
    pub points: Vec<DVec2>,
    cum: Vec<f64>,
}

impl Polyline {
    pub fn new(points: Vec<DVec2>) -> Self {
        let mut cum = Vec::with_capacity(points.len());
        let mut total = 0.0;
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                total += p.distance(points[i - 1]);
            }
            cum.push(total);
        }
        Polyline { points, cum }
    }
    pub fn length(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }
    /// The nearest point to `p`: its distance along the line (extended straight past the ends)
    /// and its distance from the line.
    pub fn project(&self, p: DVec2) -> (f64, f64) {
        let mut best = (0.0, f64::INFINITY);
        let last = self.points.len().saturating_sub(2);
        for (i, w) in self.points.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let len = a.distance(b);
            if len < 1e-12 {
                continue;
            }
            let dir = (b - a) / len;
            let mut t = (p - a).dot(dir);
            if i > 0 {
                t = t.max(0.0);
            }
            if i < last {
                t = t.min(len);
            }
            let dist = p.distance(a + dir * t);
            if dist < best.1 {
                best = (self.cum[i] + t, dist);
            }
        }
        best
    }
    /// The point `d` metres along (clamped to the ends) and the unit direction there.
    pub fn at(&self, d: f64) -> (DVec2, DVec2) {
        let n = self.points.len();
        if n < 2 {
            return (self.points.first().copied().unwrap_or_default(), DVec2::X);
        }
        let d = d.clamp(0.0, self.length());
        let i = self.cum.partition_point(|&c| c <= d).clamp(1, n - 1);
        let (a, b) = (self.points[i - 1], self.points[i]);
        let len = self.cum[i] - self.cum[i - 1];
        let dir = if len > 1e-12 { (b - a) / len } else { DVec2::X };
        (a + dir * (d - self.cum[i - 1]), dir)
    }
}

/// Where a lane begins or ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneEnd {
    /// The edge of the scene: vehicles come in or leave here.
    Boundary,
    Junction(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maneuver {
    Straight,
    Left,
    Right,
}

#[derive(Clone, Debug)]
pub enum LinkKind {
    Lane {
        street: StreetId,
        direction: LaneDirection,
        slot: u32,
        kind: LaneKind,
        start: LaneEnd,
        end: LaneEnd,
        /// The lanes beside it running the same way (`NONE` if none).
        left: u32,
        right: u32,
    },
    Turn {
        junction: u16,
        from: u32,
        to: u32,
        maneuver: Maneuver,
        /// Turns of the same junction whose paths cross or merge with this one.
        conflicts: Vec<u32>,
    },
}

/// Something on a link vehicles may have to stop for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarkKind {
    /// A signal head's stop line.
    Signal { head: u16 },
    /// A pedestrian crossing: vehicles stop at `s` (before `enter`) when they must yield.
    Crossing { crossing: u32, enter: f64, leave: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mark {
    /// Distance along the link of the stop line, m.
    pub s: f64,
    pub kind: MarkKind,
}

/// A lane or a turn through a junction.
#[derive(Clone, Debug)]
pub struct Link {
    pub kind: LinkKind,
    /// The drawn centre line. For lanes, `s` maps onto it through `offset` and `scale`.
    pub line: Polyline,
    offset: f64,
    scale: f64,
    /// Driving length, m (the same for every lane of a street and direction).
    pub length: f64,
    pub level: LevelId,
    pub z: f64,
    pub width: f64,
    /// m/s
    pub speed_limit: f64,
    /// Links a vehicle may go on to: a lane's turns, or a turn's target lane.
    pub next: Vec<u32>,
    /// Stop lines along the link, by distance.
    pub marks: Vec<Mark>,
    /// The signal head and stop line that let vehicles on this lane into the junction at its end.
    pub junction_stop: Option<(u16, f64)>,
    /// Parked vehicles stand on it: entering vehicles take another lane if they can.
    pub parking: bool,
    /// Which kinds may use it.
    pub bikes_only: bool,
    pub motor_only: bool,
}

impl Link {
    /// World position and heading `s` metres along.
    pub fn at(&self, s: f64) -> (DVec2, DVec2) {
        self.line.at((self.offset + s) * self.scale)
    }
    /// The point `p` seen from the link: its distance along (`s`, unclamped at the ends) and its
    /// distance from the centre line.
    pub fn project(&self, p: DVec2) -> (f64, f64) {
        let (d, off) = self.line.project(p);
        (d / self.scale - self.offset, off)
    }
    pub fn allows(&self, kind: VehicleKind) -> bool {
        match kind {
            VehicleKind::Ebike => !self.motor_only,
            _ => !self.bikes_only,
        }
    }
    pub fn street(&self) -> Option<StreetId> {
        match self.kind {
            LinkKind::Lane { street, .. } => Some(street),
            LinkKind::Turn { .. } => None,
        }
    }
    pub fn is_turn(&self) -> bool {
        matches!(self.kind, LinkKind::Turn { .. })
    }
    /// Where a lane ends (`None` for turns).
    pub fn lane_end(&self) -> Option<LaneEnd> {
        match self.kind {
            LinkKind::Lane { end, .. } => Some(end),
            LinkKind::Turn { .. } => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct JunctionNet {
    pub id: String,
    pub at: DVec2,
    pub level: LevelId,
    /// Its turn links.
    pub turns: Vec<u32>,
    /// Turn shares `(from street, to street) → share`, completed so that each from street's sum to 1.
    pub shares: BTreeMap<(StreetId, StreetId), f64>,
}

/// One direction of a street: its lanes from the kerb outwards.
#[derive(Clone, Debug, Default)]
pub struct Carriageway {
    pub lanes: Vec<u32>,
    pub start: Option<LaneEnd>,
    pub end: Option<LaneEnd>,
}

#[derive(Clone, Debug)]
pub struct StreetNet {
    pub id: String,
    pub forward: Carriageway,
    pub backward: Carriageway,
}

impl StreetNet {
    pub fn way(&self, d: LaneDirection) -> &Carriageway {
        match d {
            LaneDirection::Forward => &self.forward,
            LaneDirection::Backward => &self.backward,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CrossingNet {
    pub id: String,
    pub street: StreetId,
    pub level: LevelId,
    pub polygon: [DVec2; 4],
    /// Kerb to kerb, m.
    pub length: f64,
    /// `(link, enter, leave)` for every lane it crosses.
    pub lanes: Vec<(u32, f64, f64)>,
    pub head: Option<u16>,
}

/// The colour a head shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Light {
    Red,
    Amber,
    Green,
}

impl Light {
    pub fn name(self) -> &'static str {
        match self {
            Light::Red => "red",
            Light::Amber => "amber",
            Light::Green => "green",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HeadNet {
    pub id: String,
    pub signal: u16,
    /// Vehicle stop lines: `(link, s)`.
    pub stop_lines: Vec<(u32, f64)>,
    pub crossings: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct PhaseNet {
    pub duration: f64,
    /// One light per head of the signal, in the signal's head order.
    pub lights: Vec<Light>,
}

#[derive(Clone, Debug)]
pub struct PlanNet {
    pub id: String,
    pub offset: f64,
    pub phases: Vec<PhaseNet>,
}

impl PlanNet {
    pub fn cycle(&self) -> f64 {
        self.phases.iter().map(|p| p.duration).sum()
    }
}

#[derive(Clone, Debug)]
pub struct SignalNet {
    pub id: String,
    /// Global head indices.
    pub heads: Vec<u16>,
    pub plans: Vec<PlanNet>,
}

#[derive(Clone, Debug)]
pub struct StopNet {
    pub street: StreetId,
    /// Along the centre line, m.
    pub at: f64,
    pub dwell: Distribution,
    pub share: f64,
}

#[derive(Clone, Debug)]
pub struct FlowNet {
    pub id: String,
    pub street: StreetId,
    pub direction: LaneDirection,
    /// `(from s, vehicles per second)`.
    pub rate: Vec<(f64, f64)>,
    /// `(kind, cumulative share)`, the last share 1.
    pub mix: Vec<(VehicleKind, f64)>,
    pub route: Vec<StreetId>,
    pub stops: Vec<StopNet>,
}

impl FlowNet {
    /// Whether vehicles come now or later.
    pub fn demand_after(&self, now: f64) -> bool {
        let current = self.rate.iter().rev().find(|r| r.0 <= now).is_some_and(|r| r.1 > 0.0);
        current || self.rate.iter().any(|&(t, r)| t > now && r > 0.0)
    }
}

#[derive(Clone, Debug)]
pub struct ParkedNet {
    pub id: String,
    pub link: u32,
    /// Front bumper, m along the link.
    pub s: f64,
    pub kind: VehicleKind,
}

/// The whole vehicle network and its demand.
#[derive(Clone, Debug, Default)]
pub struct Network {
    pub links: Vec<Link>,
    pub streets: Vec<StreetNet>,
    pub junctions: Vec<JunctionNet>,
    pub crossings: Vec<CrossingNet>,
    pub heads: Vec<HeadNet>,
    pub signals: Vec<SignalNet>,
    pub flows: Vec<FlowNet>,
    pub parked: Vec<ParkedNet>,
    pub params: Vec<VehicleParams>,
    pub rules: CrossingRules,
    /// Street centre-line offsets of each lane's `s = 0`: `(trim at start, trim at end, centre length)`.
    pub trims: Vec<(f64, f64, f64)>,
    /// Per link, the links that lead onto it.
    pub prev: Vec<Vec<u32>>,
}

impl Network {
    pub fn params(&self, kind: VehicleKind) -> &VehicleParams {
        &self.params[kind as usize]
    }
    /// Whether vehicles ever drive: there is demand or a parked vehicle.
    pub fn has_vehicles(&self) -> bool {
        !self.flows.is_empty() || !self.parked.is_empty()
    }
    /// A link's name for outputs: `street:forward:1` (lane 1 from the kerb) or `junction:turn:from>to`.
    pub fn link_label(&self, link: u32) -> String {
        match &self.links[link as usize].kind {
            LinkKind::Lane { street, direction, slot, .. } => {
                let way = if *direction == LaneDirection::Forward { "forward" } else { "backward" };
                format!("{}:{way}:{slot}", self.streets[street.0 as usize].id)
            }
            LinkKind::Turn { junction, from, to, .. } => {
                let name =
                    |l: &u32| self.links[*l as usize].street().map_or("?", |s| self.streets[s.0 as usize].id.as_str());
                format!("{}:turn:{}>{}", self.junctions[*junction as usize].id, name(from), name(to))
            }
        }
    }

    /// Distance along a lane of `street` running `direction` for a centre-line distance `at`.
    pub fn lane_s(&self, street: StreetId, direction: LaneDirection, at: f64) -> f64 {
        let (a, b, len) = self.trims[street.index()];
        match direction {
            LaneDirection::Forward => at - a,
            LaneDirection::Backward => (len - at) - b,
        }
    }
}

fn finite_positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn street_length(line: &[DVec2]) -> f64 {
    line.windows(2).map(|w| w[0].distance(w[1])).sum()
}

fn cubic(p0: DVec2, c0: DVec2, c1: DVec2, p1: DVec2, n: usize) -> Vec<DVec2> {
    (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let u = 1.0 - t;
            p0 * (u * u * u) + c0 * (3.0 * u * u * t) + c1 * (3.0 * u * t * t) + p1 * (t * t * t)
        })
        .collect()
}

fn polylines_cross(a: &[DVec2], b: &[DVec2]) -> bool {
    a.windows(2).any(|s| b.windows(2).any(|t| segments_intersect(s[0], s[1], t[0], t[1])))
}

/// Builds the network; every problem is reported, located in the scene file.
pub fn build(scene: &Scene, src: &SourceMap, space: &Space, diags: &mut Diagnostics) -> Network {
    let mut net = Network { rules: scene.traffic.crossing_rules.clone(), ..Default::default() };
    net.params = VehicleKind::ALL.iter().map(|&k| VehicleParams::default_for(k)).collect();
    let mut seen_kinds = BTreeSet::new();
    for (i, t) in scene.traffic.vehicle_types.iter().enumerate() {
        let object = Some(format!("vehicle type #{}", i + 1));
        let Some(kind) = t.kind else {
            diags.push(src.at_text("vehicle_types", object, "needs a `kind` (Car, Bus, Van or Ebike)"));
            continue;
        };
        if !seen_kinds.insert(kind) {
            diags.push(src.at_text("vehicle_types", object, format!("{} is given twice", kind.name())));
            continue;
        }
        let p = net.params[kind as usize].with(t);
        let ok = [p.length, p.width, p.v0, p.t, p.s0, p.a, p.b].iter().all(|x| finite_positive(*x))
            && p.length <= 30.0
            && p.width <= 4.0
            && p.v0 <= 60.0
            && p.t <= 10.0
            && p.s0 <= 20.0
            && p.a <= 10.0
            && p.b <= super::params::EMERGENCY_DECEL;
        if ok {
            net.params[kind as usize] = p;
        } else {
            diags.push(src.at_text("vehicle_types", object, format!("{}: parameters out of range", kind.name())).hint(
                "length 0–30 m, width 0–4 m, v0 0–216 km/h, T 0–10 s, s0 0–20 m, a 0–10 m/s², b 0–9 m/s², all positive",
            ));
        }
    }

    if let Some(o) = &scene.traffic.crossing_rules.outside_crossings {
        let checks = [
            ("share", o.share, (0.0..=1.0).contains(&o.share), "0–1"),
            ("start_up", o.start_up, (0.0..=30.0).contains(&o.start_up), "0–30 s"),
            ("carriageway_cost", o.carriageway_cost, (1.0..=100.0).contains(&o.carriageway_cost), "1–100"),
            ("patience", o.patience, o.patience > 0.0 && o.patience <= 86_400.0, "above 0 and at most 86,400 s"),
        ];
        for (name, value, ok, range) in checks {
            if !ok {
                diags.push(
                    src.at_text(
                        "outside_crossings",
                        Some("outside_crossings".into()),
                        format!("`{name}` must be {range} (got {value})"),
                    )
                    .hint("OutsideCrossings(share: 0–1, start_up: 3.0 s, carriageway_cost: 3.0, patience: 30.0 s)"),
                );
            }
        }
    }

    // Which street ends join which junction.
    let mut end_at: BTreeMap<(StreetId, bool), u16> = BTreeMap::new();
    for (ji, j) in scene.junctions.iter().enumerate() {
        let Some(&level) = space.level_index.get(&j.level) else {
            diags.push(src.at_id("junction", &j.id, format!("is on level '{}', which does not exist", j.level)));
            continue;
        };
        if !(j.at.iter().all(|x| x.is_finite()) && finite_positive(j.radius) && j.radius <= 100.0) {
            diags.push(
                src.at_id("junction", &j.id, "needs a finite position and a radius of 0–100 m")
                    .hint("street ends within `radius` of `at` join the junction"),
            );
            continue;
        }
        let at = v(j.at);
        for (sid, st) in space.streets.enumerate().filter(|(_, s)| s.level == level) {
            for (is_end, p) in [(false, st.centerline[0]), (true, *st.centerline.last().unwrap())] {
                if p.distance(at) <= j.radius {
                    if let Some(&other) = end_at.get(&(sid, is_end)) {
                        diags.push(src.at_id(
                            "junction",
                            &j.id,
                            format!(
                                "street '{}' ends within reach of both this junction and '{}'",
                                st.id, scene.junctions[other as usize].id
                            ),
                        ));
                    } else {
                        end_at.insert((sid, is_end), ji as u16);
                    }
                }
            }
        }
        net.junctions.push(JunctionNet { id: j.id.clone(), at, level, turns: Vec::new(), shares: BTreeMap::new() });
    }
    if net.junctions.len() != scene.junctions.len() {
        return net;
    }
    for (sid, st) in space.streets.enumerate() {
        if end_at.get(&(sid, false)).is_some() && end_at.get(&(sid, false)) == end_at.get(&(sid, true)) {
            diags.push(src.at_id("street", &st.id, "starts and ends at the same junction").hint("split it in two"));
        }
    }
    let junction_of = |sid: StreetId, is_end: bool| end_at.get(&(sid, is_end)).copied();

    // Lanes, cut back where they meet a junction so that they end at its box.
    for (sid, st) in space.streets.enumerate() {
        let len = street_length(&st.centerline);
        let trim = |is_end: bool| -> f64 {
            junction_of(sid, is_end).map_or(0.0, |j| {
                let widest = end_at
                    .iter()
                    .filter(|&(&(other, _), &jj)| jj == j && other != sid)
                    .map(|(&(other, _), _)| space.streets[other].width / 2.0)
                    .fold(0.0, f64::max);
                (widest + 0.5).min(0.4 * len)
            })
        };
        let (ta, tb) = (trim(false), trim(true));
        net.trims.push((ta, tb, len));
        let mut street =
            StreetNet { id: st.id.clone(), forward: Carriageway::default(), backward: Carriageway::default() };
        let end_kind = |is_end: bool| junction_of(sid, is_end).map_or(LaneEnd::Boundary, LaneEnd::Junction);
        let z = space.levels[st.level].elevation;
        for lane in &st.lanes {
            let forward = lane.direction == LaneDirection::Forward;
            let (start, end) =
                if forward { (end_kind(false), end_kind(true)) } else { (end_kind(true), end_kind(false)) };
            let line = Polyline::new(lane.centerline.clone());
            let offset = if forward { ta } else { tb };
            let link = Link {
                kind: LinkKind::Lane {
                    street: sid,
                    direction: lane.direction,
                    slot: lane.slot,
                    kind: lane.kind,
                    start,
                    end,
                    left: NONE,
                    right: NONE,
                },
                scale: if len > 0.0 { line.length() / len } else { 1.0 },
                line,
                offset,
                length: (len - ta - tb).max(0.1),
                level: st.level,
                z,
                width: lane.width,
                speed_limit: st.speed_limit,
                next: Vec::new(),
                marks: Vec::new(),
                junction_stop: None,
                parking: false,
                bikes_only: lane.kind == LaneKind::NonMotor,
                motor_only: false,
            };
            let id = net.links.len() as u32;
            net.links.push(link);
            let way = if forward { &mut street.forward } else { &mut street.backward };
            way.lanes.push(id);
            way.start = Some(start);
            way.end = Some(end);
        }
        for way in [&mut street.forward, &mut street.backward] {
            way.lanes.sort_by_key(|&l| match net.links[l as usize].kind {
                LinkKind::Lane { slot, .. } => slot,
                _ => 0,
            });
            for k in 0..way.lanes.len() {
                let left = way.lanes.get(k + 1).copied().unwrap_or(NONE);
                let right = if k > 0 { way.lanes[k - 1] } else { NONE };
                if let LinkKind::Lane { left: l, right: r, .. } = &mut net.links[way.lanes[k] as usize].kind {
                    *l = left;
                    *r = right;
                }
            }
        }
        net.streets.push(street);
    }

    // Turns.
    for ji in 0..net.junctions.len() {
        let lanes_ending: Vec<u32> = (0..net.links.len() as u32)
            .filter(|&l| net.links[l as usize].lane_end() == Some(LaneEnd::Junction(ji as u16)))
            .collect();
        let lanes_starting: Vec<u32> = (0..net.links.len() as u32)
            .filter(|&l| matches!(net.links[l as usize].kind, LinkKind::Lane { start: LaneEnd::Junction(j), .. } if j == ji as u16))
            .collect();
        // Grouped by street and direction, kerb lane first.
        let group = |lanes: &[u32]| -> BTreeMap<(StreetId, bool), Vec<u32>> {
            let mut g: BTreeMap<(StreetId, bool), Vec<u32>> = BTreeMap::new();
            for &l in lanes {
                if let LinkKind::Lane { street, direction, .. } = net.links[l as usize].kind {
                    g.entry((street, direction == LaneDirection::Forward)).or_default().push(l);
                }
            }
            g
        };
        let (ins, outs) = (group(&lanes_ending), group(&lanes_starting));
        let mut turns = Vec::new();
        for (&(in_street, _), in_lanes) in &ins {
            for (&(out_street, _), out_lanes) in &outs {
                if in_street == out_street {
                    continue; // no U-turns
                }
                let a = &net.links[in_lanes[0] as usize];
                let b = &net.links[out_lanes[0] as usize];
                let (_, d0) = a.at(a.length);
                let (_, d1) = b.at(0.0);
                let angle = libm::atan2(d0.perp_dot(d1), d0.dot(d1));
                let maneuver = if angle.abs() < 35f64.to_radians() {
                    Maneuver::Straight
                } else if angle > 0.0 {
                    Maneuver::Left
                } else {
                    Maneuver::Right
                };
                if angle.abs() > 150f64.to_radians() {
                    continue;
                }
                let bike = |l: &u32| net.links[*l as usize].bikes_only;
                let in_general: Vec<u32> = in_lanes.iter().copied().filter(|l| !bike(l)).collect();
                let out_general: Vec<u32> = out_lanes.iter().copied().filter(|l| !bike(l)).collect();
                let in_bike = in_lanes.iter().copied().find(bike);
                let out_bike = out_lanes.iter().copied().find(bike);
                let mut pairs: Vec<(u32, u32)> = Vec::new();
                if !in_general.is_empty() && !out_general.is_empty() {
                    match maneuver {
                        Maneuver::Right => pairs.push((in_general[0], out_general[0])),
                        Maneuver::Left => pairs.push((*in_general.last().unwrap(), *out_general.last().unwrap())),
                        Maneuver::Straight => {
                            for (k, &l) in in_general.iter().enumerate() {
                                pairs.push((l, out_general[k.min(out_general.len() - 1)]));
                            }
                        }
                    }
                }
                match (in_bike, out_bike) {
                    (Some(i), Some(o)) => pairs.push((i, o)),
                    (Some(i), None) if !out_general.is_empty() => pairs.push((i, out_general[0])),
                    (None, Some(o)) if !in_general.is_empty() => pairs.push((in_general[0], o)),
                    _ => {}
                }
                for (from, to) in pairs {
                    turns.push((from, to, maneuver, angle));
                }
            }
        }
        for (from, to, maneuver, angle) in turns {
            let (a, b) = (&net.links[from as usize], &net.links[to as usize]);
            let ((p0, d0), (p1, d1)) = (a.at(a.length), b.at(0.0));
            let chord = p0.distance(p1).max(0.1);
            let points = cubic(p0, p0 + d0 * chord / 3.0, p1 - d1 * chord / 3.0, p1, 12);
            let line = Polyline::new(points);
            let radius = if maneuver == Maneuver::Straight {
                f64::INFINITY
            } else {
                chord / (2.0 * libm::sin(angle.abs() / 2.0)).max(1e-3)
            };
            let limit = a.speed_limit.min(b.speed_limit).min(libm::sqrt(TURN_LATERAL_ACCEL * radius));
            let length = line.length().max(0.1);
            let turn = Link {
                kind: LinkKind::Turn { junction: ji as u16, from, to, maneuver, conflicts: Vec::new() },
                scale: 1.0,
                offset: 0.0,
                line,
                length,
                level: a.level,
                z: a.z,
                width: a.width.min(b.width),
                speed_limit: limit.max(1.0),
                next: vec![to],
                marks: Vec::new(),
                junction_stop: None,
                parking: false,
                bikes_only: a.bikes_only && b.bikes_only,
                motor_only: false,
            };
            let id = net.links.len() as u32;
            net.links.push(turn);
            net.links[from as usize].next.push(id);
            net.junctions[ji].turns.push(id);
        }
        let turns = net.junctions[ji].turns.clone();
        for &t in &turns {
            let conflicts: Vec<u32> = turns
                .iter()
                .copied()
                .filter(|&u| {
                    if u == t {
                        return false;
                    }
                    let (LinkKind::Turn { from: fa, to: ta, .. }, LinkKind::Turn { from: fb, to: tb, .. }) =
                        (&net.links[t as usize].kind, &net.links[u as usize].kind)
                    else {
                        return false;
                    };
                    fa != fb
                        && (ta == tb
                            || polylines_cross(&net.links[t as usize].line.points, &net.links[u as usize].line.points))
                })
                .collect();
            if let LinkKind::Turn { conflicts: c, .. } = &mut net.links[t as usize].kind {
                *c = conflicts;
            }
        }
    }

    // Turn shares.
    for (ji, j) in scene.junctions.iter().enumerate() {
        let joined: BTreeSet<StreetId> =
            end_at.iter().filter(|(_, jj)| **jj as usize == ji).map(|(&(s, _), _)| s).collect();
        let mut given: BTreeMap<(StreetId, StreetId), f64> = BTreeMap::new();
        for t in &j.turns {
            let (from, to) = (space.street_index.get(&t.from), space.street_index.get(&t.to));
            match (from, to) {
                (Some(&f), Some(&to))
                    if joined.contains(&f)
                        && joined.contains(&to)
                        && t.share.is_finite()
                        && (0.0..=1.0).contains(&t.share) =>
                {
                    given.insert((f, to), t.share);
                }
                _ => diags.push(
                    src.at_id(
                        "junction",
                        &j.id,
                        format!("turn from '{}' to '{}' (share {}) is not valid here", t.from, t.to, t.share),
                    )
                    .hint(format!(
                        "both streets must end at this junction and the share lie in 0–1; streets here: {}",
                        joined.iter().map(|s| space.streets[*s].id.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                ),
            }
        }
        for &from in &joined {
            // The streets vehicles from `from` can turn into.
            let reachable: BTreeSet<StreetId> = net.junctions[ji]
                .turns
                .iter()
                .filter_map(|&t| match net.links[t as usize].kind {
                    LinkKind::Turn { from: f, to, .. } => (net.links[f as usize].street() == Some(from))
                        .then(|| net.links[to as usize].street())
                        .flatten(),
                    _ => None,
                })
                .collect();
            let listed: f64 = reachable.iter().filter_map(|to| given.get(&(from, *to))).sum();
            if listed > 1.0 + 1e-9 {
                diags.push(src.at_id(
                    "junction",
                    &j.id,
                    format!("turn shares from '{}' add up to {listed}, more than 1", space.streets[from].id),
                ));
            }
            let rest: Vec<StreetId> =
                reachable.iter().copied().filter(|to| !given.contains_key(&(from, *to))).collect();
            let each = if rest.is_empty() { 0.0 } else { (1.0 - listed).max(0.0) / rest.len() as f64 };
            let total = listed + each * rest.len() as f64;
            for &to in &reachable {
                let share = given.get(&(from, to)).copied().unwrap_or(each);
                net.junctions[ji].shares.insert((from, to), if total > 0.0 { share / total } else { 0.0 });
            }
        }
    }

    // Crossings: marks on every lane they cross.
    for st in space.streets.iter() {
        for c in &st.crossings {
            let sid = space.street_index[&st.id];
            let polygon = [c.polygon[0], c.polygon[1], c.polygon[2], c.polygon[3]];
            let ci = net.crossings.len() as u32;
            let mut lanes = Vec::new();
            let mut inside_box = false;
            for way in [&net.streets[sid.index()].forward, &net.streets[sid.index()].backward] {
                for &l in &way.lanes {
                    let LinkKind::Lane { direction, .. } = net.links[l as usize].kind else { continue };
                    let mid = net.lane_s(sid, direction, c.at);
                    let (enter, leave) = (mid - c.width / 2.0, mid + c.width / 2.0);
                    let length = net.links[l as usize].length;
                    if leave <= 0.0 || enter >= length {
                        inside_box = true;
                        continue;
                    }
                    let (enter, leave) = (enter.max(0.0), leave.min(length));
                    lanes.push((l, enter, leave));
                    let s = (enter - CROSSING_STOP_BACK).max(0.0);
                    net.links[l as usize]
                        .marks
                        .push(Mark { s, kind: MarkKind::Crossing { crossing: ci, enter, leave } });
                }
            }
            if inside_box {
                diags.push(
                    src.at_id("crossing", &c.id, "lies inside a junction's box, where lanes are cut back")
                        .hint("move it along the street, clear of the crossing street's carriageway"),
                );
            }
            net.crossings.push(CrossingNet {
                id: c.id.clone(),
                street: sid,
                level: st.level,
                polygon,
                length: st.width + 0.1,
                lanes,
                head: None,
            });
        }
    }

    // Signals.
    let crossing_index: BTreeMap<String, u32> =
        net.crossings.iter().enumerate().map(|(i, c)| (c.id.clone(), i as u32)).collect();
    let junction_index: BTreeMap<&str, u16> =
        scene.junctions.iter().enumerate().map(|(i, j)| (j.id.as_str(), i as u16)).collect();
    for (gi, g) in scene.signals.iter().enumerate() {
        let mut heads = Vec::new();
        let mut head_ids: BTreeMap<&str, usize> = BTreeMap::new();
        for h in &g.heads {
            if head_ids.insert(h.id.as_str(), heads.len()).is_some() {
                diags.push(src.at_id("signal", &g.id, format!("head '{}' is declared twice", h.id)));
            }
            let hi = net.heads.len() as u16;
            let mut head =
                HeadNet { id: h.id.clone(), signal: gi as u16, stop_lines: Vec::new(), crossings: Vec::new() };
            for a in &h.vehicles {
                let Some(&sid) = space.street_index.get(&a.street) else {
                    diags.push(src.at_id(
                        "signal",
                        &g.id,
                        format!("head '{}': there is no street '{}'", h.id, a.street),
                    ));
                    continue;
                };
                if let Some(&ci) =
                    crossing_index.get(a.at.as_str()).filter(|&&ci| net.crossings[ci as usize].street == sid)
                {
                    for &(l, enter, _) in &net.crossings[ci as usize].lanes {
                        let s = (enter - CROSSING_STOP_BACK).max(0.0);
                        head.stop_lines.push((l, s));
                    }
                } else if let Some(&ji) = junction_index.get(a.at.as_str()) {
                    let lanes: Vec<u32> = [&net.streets[sid.index()].forward, &net.streets[sid.index()].backward]
                        .into_iter()
                        .filter(|w| w.end == Some(LaneEnd::Junction(ji)))
                        .flat_map(|w| w.lanes.iter().copied())
                        .collect();
                    if lanes.is_empty() {
                        diags.push(src.at_id(
                            "signal",
                            &g.id,
                            format!(
                                "head '{}': street '{}' has no lanes running into junction '{}'",
                                h.id, a.street, a.at
                            ),
                        ));
                    }
                    for l in lanes {
                        // The stop line is before a crossing next to the junction, so that vehicles
                        // waiting at red never stand on it.
                        let link = &net.links[l as usize];
                        let s = link
                            .marks
                            .iter()
                            .filter_map(|m| match m.kind {
                                MarkKind::Crossing { leave, .. } if leave > link.length - JUNCTION_CROSSING_REACH => {
                                    Some(m.s)
                                }
                                _ => None,
                            })
                            .fold(link.length, f64::min);
                        head.stop_lines.push((l, s));
                        net.links[l as usize].junction_stop = Some((hi, s));
                    }
                } else {
                    diags.push(
                        src.at_id("signal", &g.id, format!("head '{}': '{}' is neither a crossing of street '{}' nor a junction", h.id, a.at, a.street))
                            .hint("an approach stops before one of the street's crossings, or at a junction at one of its ends"),
                    );
                }
            }
            for c in &h.crossings {
                match crossing_index.get(c.as_str()) {
                    Some(&ci) => {
                        let crossing = &mut net.crossings[ci as usize];
                        if crossing.head.is_some() {
                            diags.push(src.at_id("crossing", c, "is controlled by two signal heads"));
                        }
                        crossing.head = Some(hi);
                        head.crossings.push(ci);
                    }
                    None => {
                        diags.push(src.at_id("signal", &g.id, format!("head '{}': there is no crossing '{c}'", h.id)))
                    }
                }
            }
            for &(l, s) in &head.stop_lines {
                net.links[l as usize].marks.push(Mark { s, kind: MarkKind::Signal { head: hi } });
            }
            heads.push(hi);
            net.heads.push(head);
        }
        if g.plans.is_empty() {
            diags.push(src.at_id("signal", &g.id, "has no plan").hint("give it at least one `SignalPlan`"));
        }
        let mut plans = Vec::new();
        for p in &g.plans {
            if !p.offset.is_finite() || p.phases.is_empty() {
                diags.push(src.at_id(
                    "signal",
                    &g.id,
                    format!("plan '{}' needs a finite offset and at least one phase", p.id),
                ));
                continue;
            }
            let mut phases = Vec::new();
            for (k, ph) in p.phases.iter().enumerate() {
                if !(finite_positive(ph.duration) && ph.duration <= 3600.0) {
                    diags.push(src.at_id(
                        "signal",
                        &g.id,
                        format!("plan '{}', phase {k}: duration {} s must lie in 0–3600 s", p.id, ph.duration),
                    ));
                }
                let mut lights = vec![Light::Red; heads.len()];
                for (names, light) in [(&ph.green, Light::Green), (&ph.amber, Light::Amber)] {
                    for name in names {
                        match head_ids.get(name.as_str()) {
                            Some(&h) if lights[h] == Light::Red => lights[h] = light,
                            Some(_) => diags.push(src.at_id(
                                "signal",
                                &g.id,
                                format!("plan '{}', phase {k}: head '{name}' is listed twice", p.id),
                            )),
                            None => diags.push(
                                src.at_id(
                                    "signal",
                                    &g.id,
                                    format!("plan '{}', phase {k}: there is no head '{name}'", p.id),
                                )
                                .hint(format!(
                                    "heads of this signal: {}",
                                    g.heads.iter().map(|h| h.id.as_str()).collect::<Vec<_>>().join(", ")
                                )),
                            ),
                        }
                    }
                }
                phases.push(PhaseNet { duration: ph.duration, lights });
            }
            plans.push(PlanNet { id: p.id.clone(), offset: p.offset, phases });
        }
        net.signals.push(SignalNet { id: g.id.clone(), heads, plans });
    }
    for (c, sc) in net.crossings.iter().zip(space.streets.iter().flat_map(|s| s.crossings.iter())) {
        if sc.signal && c.head.is_none() {
            diags.push(
                src.at_id("crossing", &c.id, "is marked `signal: true` but no signal head controls it")
                    .hint("list it in a `SignalHead`'s crossings, or set `signal: false`"),
            );
        } else if !sc.signal && c.head.is_some() {
            diags.push(src.at_id("crossing", &c.id, "is controlled by a signal head but marked `signal: false`"));
        }
    }
    for link in &mut net.links {
        link.marks.sort_by(|a, b| a.s.total_cmp(&b.s));
    }

    // Demand.
    for f in &scene.traffic.flows {
        let Some(&sid) = space.street_index.get(&f.street) else {
            diags.push(src.at_id("flow", &f.id, format!("there is no street '{}'", f.street)));
            continue;
        };
        let direction = if f.from == StreetEnd::Start { LaneDirection::Forward } else { LaneDirection::Backward };
        let way = net.streets[sid.index()].way(direction);
        if way.lanes.is_empty() {
            diags.push(
                src.at_id("flow", &f.id, format!("street '{}' has no lanes running from its {:?}", f.street, f.from))
                    .hint("one-way streets (and one-lane streets) run from the start of their centre line"),
            );
            continue;
        }
        if way.start != Some(LaneEnd::Boundary) {
            diags.push(src.at_id(
                "flow",
                &f.id,
                format!(
                    "street '{}' joins a junction at its {:?}; vehicles can only come in at the scene's edge",
                    f.street, f.from
                ),
            ));
            continue;
        }
        let rates_ok = !f.rate.is_empty()
            && f.rate.iter().all(|(t, r)| t.is_finite() && *t >= 0.0 && r.is_finite() && (0.0..=20_000.0).contains(r))
            && f.rate.windows(2).all(|w| w[0].0 < w[1].0);
        if !rates_ok {
            diags.push(
                src.at_id(
                    "flow",
                    &f.id,
                    "rate must list (time s, vehicles per hour) pairs with rising times and 0–20,000 per hour",
                )
                .hint("e.g. `rate: [(0.0, 300.0), (1800.0, 500.0)]`"),
            );
        }
        let total: f64 = f.mix.iter().map(|m| m.1).sum();
        if f.mix.is_empty() || f.mix.iter().any(|m| !m.1.is_finite() || m.1 < 0.0) || total <= 0.0 {
            diags.push(src.at_id("flow", &f.id, "mix needs (kind, share) pairs with shares ≥ 0 and a positive sum"));
            continue;
        }
        for (kind, _) in f.mix.iter().filter(|m| m.1 > 0.0) {
            if !way.lanes.iter().any(|&l| net.links[l as usize].allows(*kind)) {
                diags.push(src.at_id(
                    "flow",
                    &f.id,
                    format!("no lane of street '{}' takes a {} in that direction", f.street, kind.name()),
                ));
            }
        }
        let mut acc = 0.0;
        let mix = f
            .mix
            .iter()
            .map(|&(k, s)| {
                acc += s / total;
                (k, acc)
            })
            .collect();
        let mut route = Vec::new();
        let mut at = (sid, direction);
        for name in &f.route {
            let Some(&next) = space.street_index.get(name) else {
                diags.push(src.at_id("flow", &f.id, format!("route: there is no street '{name}'")));
                break;
            };
            let lanes = &net.streets[at.0.index()].way(at.1).lanes;
            let turn = lanes.iter().flat_map(|&l| net.links[l as usize].next.iter()).find_map(|&t| {
                let to = net.links[t as usize].next[0];
                match net.links[to as usize].kind {
                    LinkKind::Lane { street, direction, .. } if street == next => Some(direction),
                    _ => None,
                }
            });
            match turn {
                Some(d) => {
                    route.push(next);
                    at = (next, d);
                }
                None => {
                    diags.push(
                        src.at_id(
                            "flow",
                            &f.id,
                            format!(
                                "route: no turn leads from street '{}' into '{name}'",
                                net.streets[at.0.index()].id
                            ),
                        )
                        .hint("consecutive streets of a route must meet at a junction"),
                    );
                    break;
                }
            }
        }
        let mut stops = Vec::new();
        if f.stops.len() > super::vehicles::MAX_STOPS {
            diags.push(src.at_id(
                "flow",
                &f.id,
                format!("lists {} stops; a vehicle makes at most {}", f.stops.len(), super::vehicles::MAX_STOPS),
            ));
        }
        for s in &f.stops {
            let Some(&ssid) = space.street_index.get(&s.street) else {
                diags.push(src.at_id("flow", &f.id, format!("stop: there is no street '{}'", s.street)));
                continue;
            };
            let len = net.trims[ssid.index()].2;
            let dwell_ok = match s.dwell {
                Distribution::Constant(c) => c.is_finite() && c >= 0.0,
                Distribution::Uniform { min, max } => min.is_finite() && max.is_finite() && 0.0 <= min && min <= max,
                Distribution::Normal { mean, sd, min, max }
                | Distribution::LogNormal { mu: mean, sigma: sd, min, max } => {
                    [mean, sd, min, max].iter().all(|x| x.is_finite()) && 0.0 <= min && min <= max && sd >= 0.0
                }
                Distribution::AgeGroups(_) => false,
            };
            if !(s.at.is_finite()
                && s.at >= 0.0
                && s.at <= len
                && s.share.is_finite()
                && (0.0..=1.0).contains(&s.share)
                && dwell_ok)
            {
                diags.push(
                    src.at_id("flow", &f.id, format!("stop on '{}' at {} m: needs `at` in 0–{len:.1} m, a share in 0–1 and a dwell time distribution ≥ 0 s", s.street, s.at)),
                );
                continue;
            }
            if ssid != sid && !route.contains(&ssid) {
                diags.push(src.at_id(
                    "flow",
                    &f.id,
                    format!("stop on '{}', which is not on the flow's route", s.street),
                ));
                continue;
            }
            stops.push(StopNet { street: ssid, at: s.at, dwell: s.dwell.clone(), share: s.share });
        }
        net.flows.push(FlowNet {
            id: f.id.clone(),
            street: sid,
            direction,
            rate: f.rate.iter().map(|&(t, r)| (t, r / 3600.0)).collect(),
            mix,
            route,
            stops,
        });
    }
    for p in &scene.traffic.parked {
        let Some(&sid) = space.street_index.get(&p.street) else {
            diags.push(src.at_id("parked", &p.id, format!("there is no street '{}'", p.street)));
            continue;
        };
        let way = &net.streets[sid.index()].forward;
        let Some(&link) = way.lanes.get(p.lane as usize) else {
            diags.push(src.at_id(
                "parked",
                &p.id,
                format!(
                    "street '{}' has {} lanes in the direction of its centre line; there is no lane {}",
                    p.street,
                    way.lanes.len(),
                    p.lane
                ),
            ));
            continue;
        };
        let params = net.params(p.kind);
        let s = net.lane_s(sid, LaneDirection::Forward, p.at) + params.length / 2.0;
        if !p.at.is_finite() || s - params.length < 0.0 || s > net.links[link as usize].length {
            diags.push(src.at_id("parked", &p.id, format!("at {} m does not fit on the street's lane", p.at)));
            continue;
        }
        net.parked.push(ParkedNet { id: p.id.clone(), link, s, kind: p.kind });
    }
    net.prev = vec![Vec::new(); net.links.len()];
    for (i, link) in net.links.iter().enumerate() {
        for &n in &link.next {
            net.prev[n as usize].push(i as u32);
        }
    }
    net.parked.sort_by(|a, b| (a.link, a.s).partial_cmp(&(b.link, b.s)).unwrap());
    for p in &net.parked {
        net.links[p.link as usize].parking = true;
    }
    for w in net.parked.windows(2) {
        let params = net.params(w[1].kind);
        if w[0].link == w[1].link && w[1].s - params.length < w[0].s {
            diags.push(src.at_id("parked", &w[1].id, format!("overlaps parked vehicle '{}'", w[0].id)));
        }
    }
    net
}
