//! Roads for vehicles from OpenStreetMap: road ways → `Street`s split at junctions, `Junction`s,
//! pedestrian `Crossing`s and fixed-time `Signal`s.
//!
//! Kept: ways with `highway=trunk|primary|primary_link|secondary|secondary_link|tertiary|
//! tertiary_link|unclassified|residential|living_street|service` (not `area=yes`, not `tunnel=yes`).
//! Footways, paths and pedestrian streets stay walkable lines (see `line_kind`); a living street
//! becomes a street for vehicles and is no longer walkable itself (the scene has no shared space:
//! pedestrians use its sidewalks and crossings).
//!
//! Tags read, and the defaults when a tag is missing or unreadable (each default is noted in
//! `unit.sources` as an assumption, ESTIMATED):
//! - `lanes`: lanes for motor vehicles in total; default by class (two-way / one-way) in
//!   [`ROAD_CLASSES`]: trunk 6/3, primary 4/2, secondary 4/2, tertiary 2/1, unclassified and
//!   residential 2/1, links 2/1, living street and service 1/1. Without `lanes` but with `width`,
//!   lanes = width / 3.25 m, rounded. More than 16 lanes is refused (a tagging error).
//! - `oneway`: `yes|true|1` one way along the way; `-1|reverse` one way against it (the centre line
//!   is reversed, and the sidewalks swap sides); `junction=roundabout|circular` implies one way;
//!   anything else is two-way.
//! - `width` (or `est_width`): the carriageway, m; else lanes × [`LANE_WIDTH`] (e-bike lanes are
//!   not counted: `bike_lanes` is left false). Above 100 m is refused.
//! - `maxspeed`: km/h (`50`, `50 km/h`; `30 mph` converted); else by class, Chinese urban
//!   defaults: trunk 80, primary 60, secondary 50, tertiary 40, residential and unclassified 30
//!   (Road Traffic Safety Law Implementing Regulations art. 45: 30 km/h without a centre line),
//!   links 40/40/30, service and living street 20. Above 150 km/h is refused; below 5 km/h is
//!   raised to 5 (walking pace).
//! - `sidewalk=both|left|right|yes` (and `sidewalk:left|right|both=yes`): sidewalks of
//!   `sidewalk[:side]:width`, else [`SIDEWALK_WIDTH`] m (ESTIMATED); otherwise none (footways drawn
//!   as their own ways are imported as walkable lines).
//!
//! Network: a way is split at every node it shares with another road way (or visits twice); each
//! such node becomes a `Junction` (`junction_n<node>`, radius [`JUNCTION_RADIUS`], the street ends
//! coincide with it). Street ids are `road_w<way>_<k>` (k-th piece along the way). Pieces shorter
//! than [`MIN_PIECE`] are dropped; a short piece between two junctions merges them into one. A way
//! that comes back to a node (a roundabout) is also split at the node nearest its middle, so that
//! no street starts and ends at one junction. Street ends that join no junction are where vehicles
//! enter and leave the scene.
//!
//! Crossings (`crossing_n<node>`, [`CROSSING_WIDTH`] wide unless the crossing way has a `width`):
//! road nodes with `highway=crossing` (`crossing=*` not `no`) or `highway=traffic_signals` away
//! from junctions, and footways/paths with `footway|path|cycleway=crossing` where they meet a road
//! (a shared node, else where they cross it). Signalised when `crossing=traffic_signals`,
//! `crossing:signals=yes` or `highway=traffic_signals`. A crossing at a junction node is placed on
//! each of the junction's streets, just clear of the other carriageways; a crossing that would lie
//! inside a junction's box (where the vehicle network cuts lanes back: half the widest other
//! carriageway + 0.5 m) is widened to reach [`BOX_CLEAR`] m past it.
//!
//! Signals (timings ESTIMATED, OpenStreetMap has none; see [`JUNCTION_PLAN`], [`CROSSING_PLAN`]):
//! a `highway=traffic_signals` node at a junction of three or more street ends, or within
//! [`SIGNAL_REACH`] m of one along a street, makes it a signalised junction with a two-phase
//! fixed-time plan; its signalised crossings within [`CROSSING_REACH`] m are run by it. Other
//! signalised crossings get a plan of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bevy::math::DVec2;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use super::{ImportError, Notes, Tags, parse_length, short_num, tag};
use crate::geom::v;
use crate::scene::limits::{STREET_CARRIAGEWAY, STREET_LANES, STREET_SPEED_LIMIT};
use crate::scene::{
    Approach, Crossing, Flow, Junction, Phase, Point, Signal, SignalHead, SignalPlan, Street, StreetEnd, VehicleKind,
};

/// Road classes: `highway` value, rank (for major/minor at junctions), default lanes two-way and
/// one-way, default speed limit (km/h).
pub const ROAD_CLASSES: [(&str, u8, u32, u32, f64); 11] = [
    ("trunk", 12, 6, 3, 80.0),
    ("primary", 11, 4, 2, 60.0),
    ("primary_link", 10, 2, 1, 40.0),
    ("secondary", 9, 4, 2, 50.0),
    ("secondary_link", 8, 2, 1, 40.0),
    ("tertiary", 7, 2, 1, 40.0),
    ("tertiary_link", 6, 2, 1, 30.0),
    ("unclassified", 5, 2, 1, 30.0),
    ("residential", 4, 2, 1, 30.0),
    ("living_street", 3, 1, 1, 20.0),
    ("service", 2, 1, 1, 20.0),
];
/// Width of a lane when the road has no `width`, m.
pub const LANE_WIDTH: f64 = 3.25;
/// Narrowest carriageway kept as tagged, m (narrower `width`s are raised to it).
pub const MIN_CARRIAGEWAY: f64 = 2.5;
/// Width of a sidewalk tagged without `sidewalk:width`, m (ESTIMATED).
pub const SIDEWALK_WIDTH: f64 = 2.0;
/// Width of a crossing without a `width`, m.
pub const CROSSING_WIDTH: f64 = 4.0;
/// Widest crossing written (an angled footway widens its crossing), m.
pub const MAX_CROSSING_WIDTH: f64 = 20.0;
/// How far (m) a crossing reaches beyond a junction's box (where the vehicle network cuts lanes back).
pub const BOX_CLEAR: f64 = 0.5;
/// Radius of a junction whose street ends coincide at one node, m.
pub const JUNCTION_RADIUS: f64 = 0.5;
/// Road pieces shorter than this (m) are dropped, or merge the junctions at their ends.
pub const MIN_PIECE: f64 = 5.0;
/// Widest junction made by merging (m, between its farthest nodes); beyond, short pieces stay.
pub const MAX_JUNCTION_SPAN: f64 = 20.0;
/// A `highway=traffic_signals` node this close (m, along a street) to a junction signals it.
pub const SIGNAL_REACH: f64 = 20.0;
/// Signalised crossings this close (m, along a street) to a signalised junction are run by it.
pub const CROSSING_REACH: f64 = 30.0;
/// Most lanes, slowest and fastest speed limit (km/h) and widest carriageway taken from tags:
/// the scene's own bounds. More is a tagging error; a slower `maxspeed` is raised to walking pace.
pub const MAX_LANES: u32 = STREET_LANES.1;
pub const MIN_SPEED: f64 = STREET_SPEED_LIMIT.0;
pub const MAX_SPEED: f64 = STREET_SPEED_LIMIT.1;
pub const MAX_CARRIAGEWAY: f64 = STREET_CARRIAGEWAY.1;

/// Phase durations (s) of a signalised junction: major green, amber, all-red, minor green, amber, all-red.
pub const JUNCTION_PHASES: [f64; 6] = [45.0, 3.0, 2.0, 35.0, 3.0, 2.0];
/// Phase durations (s) of a signalised crossing: vehicles green, amber, all-red, pedestrians green, all-red.
pub const CROSSING_PHASES: [f64; 5] = [60.0, 3.0, 2.0, 25.0, 5.0];
/// What the generated junction plans are, for `unit.sources` and the scene's comment.
pub const JUNCTION_PLAN: &str = "signal timings ESTIMATED (OpenStreetMap has none): signalised junctions run a \
     two-phase fixed-time plan 'fixed_90s', cycle 90 s: phase A 45 s green for the major road (higher highway \
     class, then more lanes) and the crossings over the minor road, 3 s amber, 2 s all-red; phase B 35 s green for \
     the minor road and the crossings over the major road, 3 s amber, 2 s all-red; offsets 0 (not coordinated)";
pub const CROSSING_PLAN: &str = "signal timings ESTIMATED (OpenStreetMap has none): signalised crossings away \
     from junctions run 'fixed_95s', cycle 95 s: vehicles green 60 s, amber 3 s, all-red 2 s, pedestrians green \
     25 s, all-red 5 s";

/// A road way as read: node ids in order, tags, and where it is in the file.
#[derive(Clone, Debug)]
pub struct RoadWay {
    pub id: i64,
    pub pos: Option<(usize, usize)>,
    pub nodes: Vec<i64>,
    pub tags: Tags,
}

/// A walkable way (footway, path, …) as read: its nodes, to find where it crosses roads.
#[derive(Clone, Debug)]
pub struct WalkWay {
    pub id: i64,
    pub nodes: Vec<i64>,
    pub tags: Tags,
    /// `width`, if tagged.
    pub width: Option<f64>,
}

/// The road network of a file, ready for the scene.
#[derive(Clone, Debug, Default)]
pub struct Roads {
    pub streets: Vec<Street>,
    /// For each street, the way it comes from and the way's position in the file.
    pub sources: Vec<(String, Option<(usize, usize)>)>,
    pub junctions: Vec<Junction>,
    pub signals: Vec<Signal>,
    /// Lines for the scene's comment about the signal plans.
    pub comments: Vec<String>,
    /// Street ends that join no junction and where lanes run into the street: where vehicles
    /// can come in (`--vehicles`).
    pub entries: Vec<(String, StreetEnd)>,
}

impl Roads {
    /// Every id the network uses (streets, crossings, junctions, signals and heads).
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for s in &self.streets {
            ids.push(&s.id);
            ids.extend(s.crossings.iter().map(|c| c.id.as_str()));
        }
        ids.extend(self.junctions.iter().map(|j| j.id.as_str()));
        for s in &self.signals {
            ids.push(&s.id);
            ids.extend(s.heads.iter().map(|h| h.id.as_str()));
        }
        ids
    }
}

/// The class of a road way (index into [`ROAD_CLASSES`]), if it is one.
pub fn road_class(tags: &Tags) -> Option<usize> {
    let highway = tag(tags, "highway")?;
    if matches!(tag(tags, "area"), Some("yes")) {
        return None;
    }
    ROAD_CLASSES.iter().position(|c| c.0 == highway)
}

/// A road's attributes from its tags.
#[derive(Clone, Debug)]
struct Attrs {
    class: usize,
    one_way: bool,
    reverse: bool,
    lanes: u32,
    carriageway: f64,
    speed: f64,
    sidewalks: (f64, f64),
}

/// Parses a speed limit: `50`, `50 km/h`, `50 kmh`, `30 mph`; the first of `a;b`. km/h.
pub fn parse_speed(text: &str) -> Option<f64> {
    let t = text.split(';').next()?.trim().to_ascii_lowercase();
    let (number, factor) = if let Some(n) = t.strip_suffix("mph") {
        (n, 1.609_344)
    } else if let Some(n) = t.strip_suffix("km/h").or_else(|| t.strip_suffix("kmh")).or_else(|| t.strip_suffix("kph")) {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    let x: f64 = number.trim().parse().ok()?;
    (x.is_finite() && x > 0.0).then(|| (x * factor * 10.0).round() / 10.0)
}

fn attrs(way: &RoadWay, class: usize, file: &Path, notes: &mut Notes) -> Result<Attrs, ImportError> {
    let label = format!("way {}", way.id);
    let (highway, _, lanes2, lanes1, speed0) = ROAD_CLASSES[class];
    let tags = &way.tags;
    let refuse = |message: String, hint: &str| {
        let mut e = ImportError::new(file, message).object(label.clone()).hint(hint);
        e.pos = way.pos;
        e
    };
    // One way.
    let roundabout = matches!(tag(tags, "junction"), Some("roundabout" | "circular"));
    let (one_way, reverse) = match tag(tags, "oneway") {
        Some("yes" | "true" | "1") => (true, false),
        Some("-1" | "reverse") => {
            notes.assume("oneway=-1: one way against the way's direction, so its centre line is reversed", &label);
            (true, true)
        }
        Some("no" | "false" | "0") => (false, false),
        None if roundabout => (true, false),
        None => (false, false),
        Some(other) => {
            notes.assume(format!("`oneway={other}` is not yes/no/-1: taken as two-way"), &label);
            (false, false)
        }
    };
    // Width and lanes.
    let width_tag = tag(tags, "width").or_else(|| tag(tags, "est_width"));
    let width = match width_tag.map(|w| (w, parse_length(w))) {
        Some((_, Some(w))) if w > MAX_CARRIAGEWAY => {
            return Err(refuse(
                format!(
                    "its width ({} m) is not plausible for a carriageway: at most {MAX_CARRIAGEWAY} m",
                    short_num(w)
                ),
                "fix or remove its `width` (without one the carriageway is lanes × 3.25 m)",
            ));
        }
        Some((_, Some(w))) if w > 0.0 => Some(w),
        Some((text, _)) => {
            notes.assume(format!("`width={text}` is not a length: carriageway from the lanes"), &label);
            None
        }
        None => None,
    };
    let default_lanes = if one_way { lanes1 } else { lanes2 };
    let lanes = match tag(tags, "lanes") {
        Some(text) => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n.fract() == 0.0 && n > MAX_LANES as f64 => {
                return Err(refuse(
                    format!("`lanes={text}` is not plausible: at most {MAX_LANES} lanes"),
                    "fix or remove its `lanes` (the total of motor-vehicle lanes, both directions)",
                ));
            }
            Ok(n) if n.is_finite() && n.fract() == 0.0 && n >= 1.0 => n as u32,
            _ => {
                let (n, why) = match width {
                    Some(w) => (lanes_for_width(w), "from `width` / 3.25 m".to_string()),
                    None => (default_lanes, format!("default for highway={highway}")),
                };
                notes.assume(
                    format!("`lanes={text}` is not a whole number of lanes: {n} lane(s) assumed ({why})"),
                    &label,
                );
                n
            }
        },
        None => match width {
            Some(w) => {
                notes.assume("no `lanes`: lanes = width / 3.25 m, rounded (ESTIMATED)", &label);
                lanes_for_width(w)
            }
            None => {
                notes.assume(
                    format!(
                        "no `lanes`: highway={highway} taken as {default_lanes} lane(s) {} (ESTIMATED; defaults two-way/one-way: trunk 6/3, primary 4/2, secondary 4/2, tertiary 2/1, residential and unclassified 2/1, links 2/1, service and living_street 1/1)",
                        if one_way { "one-way" } else { "two-way" }
                    ),
                    &label,
                );
                default_lanes
            }
        },
    };
    let carriageway = match width {
        Some(w) if w < MIN_CARRIAGEWAY => {
            notes
                .assume(format!("carriageway `width` below {MIN_CARRIAGEWAY} m raised to {MIN_CARRIAGEWAY} m"), &label);
            MIN_CARRIAGEWAY
        }
        Some(w) => w,
        None => {
            if width_tag.is_none() {
                notes.assume("no `width`: carriageway = lanes × 3.25 m (ESTIMATED; e-bike lanes not counted)", &label);
            }
            lanes as f64 * LANE_WIDTH
        }
    };
    // Speed limit.
    let speed = match tag(tags, "maxspeed") {
        Some(text) => match parse_speed(text) {
            Some(s) if s > MAX_SPEED => {
                return Err(refuse(
                    format!("`maxspeed={text}` is not plausible: at most {MAX_SPEED} km/h"),
                    "fix or remove its `maxspeed` (km/h, or a number with `mph`)",
                ));
            }
            Some(s) if s < MIN_SPEED => {
                notes.assume(format!("`maxspeed={text}` below walking pace: raised to {MIN_SPEED} km/h"), &label);
                MIN_SPEED
            }
            Some(s) => s,
            None => {
                notes.assume(
                    format!("`maxspeed={text}` has no speed in km/h or mph: {speed0} km/h assumed (default for highway={highway})"),
                    &label,
                );
                speed0
            }
        },
        None => {
            notes.assume(
                format!("no `maxspeed`: highway={highway} taken as {speed0} km/h (ESTIMATED; Chinese urban defaults: trunk 80, primary 60, secondary 50, tertiary 40, residential and unclassified 30, links 40/40/30, service and living_street 20)"),
                &label,
            );
            speed0
        }
    };
    // Sidewalks.
    let yes = |k: &str| matches!(tag(tags, k), Some("yes" | "true" | "1"));
    let side = tag(tags, "sidewalk").or_else(|| tag(tags, "footway"));
    let both = matches!(side, Some("both" | "yes")) || yes("sidewalk:both");
    let left = both || side == Some("left") || yes("sidewalk:left");
    let right = both || side == Some("right") || yes("sidewalk:right");
    let width_of = |s: &str| {
        [format!("sidewalk:{s}:width"), "sidewalk:both:width".into(), "sidewalk:width".into()]
            .iter()
            .find_map(|k| tag(tags, k).and_then(parse_length))
            .filter(|w| *w > 0.0 && *w <= 100.0)
    };
    let mut estimated = false;
    let mut sidewalk = |on: bool, s: &str| -> f64 {
        if !on {
            return 0.0;
        }
        width_of(s).unwrap_or_else(|| {
            estimated = true;
            SIDEWALK_WIDTH
        })
    };
    let mut sidewalks = (sidewalk(left, "left"), sidewalk(right, "right"));
    if estimated {
        notes.assume(format!("sidewalk without `sidewalk:width`: {SIDEWALK_WIDTH} m wide (ESTIMATED)"), &label);
    }
    if reverse {
        sidewalks = (sidewalks.1, sidewalks.0);
    }
    Ok(Attrs { class, one_way, reverse, lanes, carriageway: (carriageway * 100.0).round() / 100.0, speed, sidewalks })
}

fn lanes_for_width(w: f64) -> u32 {
    ((w / LANE_WIDTH).round() as u32).clamp(1, MAX_LANES)
}

/// Centre-line segments of the kept pieces, by (piece, segment).
type SegmentTree = RTree<GeomWithData<Line<[f64; 2]>, (usize, usize)>>;

/// A piece of a road way between junctions (or the way's ends).
struct Piece {
    way: usize,
    k: usize,
    nodes: Vec<i64>,
    /// Distance along the piece of each node, m.
    node_at: Vec<f64>,
    /// The centre line, to the millimetre, without repeated points.
    points: Vec<Point>,
    length: f64,
    /// Junction node (before merging) at the start and the end, if any.
    ends: [Option<i64>; 2],
    keep: bool,
}

fn mm(x: f64) -> f64 {
    let r = (x * 1000.0).round() / 1000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// Where a crossing goes: a piece and a distance along it.
#[derive(Clone, Debug)]
struct Planned {
    piece: usize,
    at: f64,
    width: f64,
    signal: bool,
    id: String,
    label: String,
}

fn find(parent: &mut BTreeMap<i64, i64>, x: i64) -> i64 {
    let mut r = x;
    while let Some(&p) = parent.get(&r) {
        if p == r {
            break;
        }
        r = p;
    }
    let mut y = x;
    while let Some(&p) = parent.get(&y) {
        if p == y {
            break;
        }
        parent.insert(y, r);
        y = p;
    }
    r
}

/// Builds the network. `nodes` are local positions; `node_tags` the tags of tagged nodes.
pub fn build(
    ways: Vec<RoadWay>,
    walks: &[WalkWay],
    nodes: &BTreeMap<i64, Point>,
    node_tags: &BTreeMap<i64, Tags>,
    file: &Path,
    notes: &mut Notes,
) -> Result<Roads, Vec<ImportError>> {
    let mut errors = Vec::new();
    let mut roads: Vec<(RoadWay, Attrs)> = Vec::new();
    for mut way in ways {
        let label = format!("way {}", way.id);
        let Some(class) = road_class(&way.tags) else { continue };
        if matches!(tag(&way.tags, "tunnel"), Some("yes" | "culvert"))
            || tag(&way.tags, "layer").and_then(|l| l.parse::<i32>().ok()).is_some_and(|l| l < 0)
        {
            notes.skip(format!("{label}: a road in a tunnel (below the ground level)"));
            continue;
        }
        let a = match attrs(&way, class, file, notes) {
            Ok(a) => a,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        way.nodes.dedup();
        let distinct: BTreeSet<(u64, u64)> =
            way.nodes.iter().map(|n| nodes[n]).map(|p| (mm(p[0]).to_bits(), mm(p[1]).to_bits())).collect();
        if distinct.len() < 2 {
            notes.skip(format!("{label}: a road with fewer than two distinct nodes"));
            continue;
        }
        if a.reverse {
            way.nodes.reverse();
        }
        roads.push((way, a));
    }
    if !errors.is_empty() {
        errors.truncate(20);
        return Err(errors);
    }

    // Junction nodes: used twice or more by road ways.
    let mut uses: BTreeMap<i64, usize> = BTreeMap::new();
    for (way, _) in &roads {
        for n in &way.nodes {
            *uses.entry(*n).or_default() += 1;
        }
    }
    // A way that comes back to a node (a closed way, a loop) would give a street that starts and
    // ends at one junction: the node nearest the middle of such a piece is made a junction too.
    for (way, _) in &roads {
        let mut start = 0;
        for i in 1..way.nodes.len() {
            let n = way.nodes[i];
            if i == way.nodes.len() - 1 || uses[&n] >= 2 {
                if way.nodes[start] == n && i > start + 1 {
                    let run = &way.nodes[start..=i];
                    let mut at = vec![0.0];
                    for w in run.windows(2) {
                        at.push(at[at.len() - 1] + v(nodes[&w[0]]).distance(v(nodes[&w[1]])));
                    }
                    let half = at[at.len() - 1] / 2.0;
                    let mid = (1..run.len() - 1).min_by(|&a, &b| (at[a] - half).abs().total_cmp(&(at[b] - half).abs()));
                    if let Some(k) = mid {
                        uses.insert(run[k], 2);
                    }
                }
                start = i;
            }
        }
    }
    let is_junction = |n: &i64| uses.get(n).is_some_and(|&u| u >= 2);

    // Pieces.
    let pos = |n: i64| -> Point {
        let p = nodes[&n];
        [mm(p[0]), mm(p[1])]
    };
    let mut pieces: Vec<Piece> = Vec::new();
    for (wi, (way, _)) in roads.iter().enumerate() {
        let mut start = 0;
        let mut k = 0;
        for i in 1..way.nodes.len() {
            if i == way.nodes.len() - 1 || is_junction(&way.nodes[i]) {
                k += 1;
                let ids = way.nodes[start..=i].to_vec();
                let mut node_at = Vec::with_capacity(ids.len());
                let mut points: Vec<Point> = Vec::new();
                let mut length = 0.0;
                for &n in &ids {
                    let p = pos(n);
                    if let Some(q) = points.last() {
                        let d = v(*q).distance(v(p));
                        if d > 0.0 {
                            length += d;
                            points.push(p);
                        }
                    } else {
                        points.push(p);
                    }
                    node_at.push(length);
                }
                let ends = [ids[0], ids[ids.len() - 1]].map(|n| is_junction(&n).then_some(n));
                pieces.push(Piece { way: wi, k, nodes: ids, node_at, points, length, ends, keep: true });
                start = i;
            }
        }
    }

    // Short pieces: dropped; between two junctions they merge them, as long as the merged
    // junction stays within MAX_JUNCTION_SPAN (else the piece is kept as a short street).
    let mut parent: BTreeMap<i64, i64> = uses.keys().filter(|n| is_junction(n)).map(|&n| (n, n)).collect();
    let mut groups: BTreeMap<i64, Vec<i64>> = parent.keys().map(|&n| (n, vec![n])).collect();
    for p in pieces.iter_mut() {
        let degenerate = p.length <= 0.01 || p.points.len() < 2;
        if p.length >= MIN_PIECE && !degenerate {
            continue;
        }
        let label = format!("way {}", roads[p.way].0.id);
        match p.ends {
            [Some(a), Some(b)] if a != b => {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    let span = groups[&ra]
                        .iter()
                        .flat_map(|x| groups[&rb].iter().map(move |y| (*x, *y)))
                        .map(|(x, y)| v(pos(x)).distance(v(pos(y))))
                        .fold(0.0, f64::max);
                    if span > MAX_JUNCTION_SPAN && !degenerate {
                        notes.assume(
                            format!("road pieces under {MIN_PIECE} m between junctions are kept as short streets where merging the junctions would make one over {MAX_JUNCTION_SPAN} m across"),
                            format!("{label} ({:.1} m)", p.length),
                        );
                        continue;
                    }
                    let (lo, hi) = (ra.min(rb), ra.max(rb));
                    parent.insert(hi, lo);
                    let moved = groups.remove(&hi).unwrap_or_default();
                    groups.entry(lo).or_default().extend(moved);
                }
                p.keep = false;
                notes.assume(
                    format!("road pieces shorter than {MIN_PIECE} m between two junctions are dropped and the junctions merged into one"),
                    format!("{label} ({:.1} m)", p.length),
                );
            }
            _ => {
                p.keep = false;
                notes.skip(format!(
                    "{label}: a road piece of {:.1} m (under {MIN_PIECE} m) at a dead end or the data's edge, dropped",
                    p.length
                ));
            }
        }
    }
    // Junction nodes less than a metre apart (nodes drawn on top of each other) are one junction.
    let mut grid: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    let junction_list: Vec<i64> = parent.keys().copied().collect();
    for n in junction_list {
        let p = pos(n);
        let cell = (p[0].floor() as i64, p[1].floor() as i64);
        for dx in -1..=1 {
            for dy in -1..=1 {
                let near: Vec<i64> = grid.get(&(cell.0 + dx, cell.1 + dy)).cloned().unwrap_or_default();
                for m in near {
                    let (ra, rb) = (find(&mut parent, n), find(&mut parent, m));
                    if ra != rb && v(pos(m)).distance(v(p)) < 1.0 {
                        let (lo, hi) = (ra.min(rb), ra.max(rb));
                        parent.insert(hi, lo);
                        let moved = groups.remove(&hi).unwrap_or_default();
                        groups.entry(lo).or_default().extend(moved);
                        notes.assume(
                            "junction nodes less than 1 m apart are one junction",
                            format!("nodes {m} and {n}"),
                        );
                    }
                }
            }
        }
        grid.entry(cell).or_default().push(n);
    }
    // A piece whose two ends are now in one (merged) junction would start and end there; so would
    // a piece whose ends lie within a metre of each other.
    for p in pieces.iter_mut().filter(|p| p.keep) {
        let (a, b) = (p.points[0], p.points[p.points.len() - 1]);
        if v(a).distance(v(b)) < 1.0 {
            p.keep = false;
            notes.skip(format!(
                "way {}: a road piece of {:.1} m that ends where it starts, dropped",
                roads[p.way].0.id, p.length
            ));
            continue;
        }
        if let [Some(a), Some(b)] = p.ends
            && find(&mut parent, a) == find(&mut parent, b)
        {
            p.keep = false;
            notes.skip(format!(
                "way {}: a road piece of {:.1} m with both ends in one junction (junctions merged across pieces under {MIN_PIECE} m), dropped",
                roads[p.way].0.id,
                p.length
            ));
        }
    }
    let junction_nodes: Vec<i64> = parent.keys().copied().collect();
    let mut members: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for n in junction_nodes {
        let r = find(&mut parent, n);
        members.entry(r).or_default().push(n);
    }
    // Street ends at each junction (root): (piece, end index).
    let mut arms: BTreeMap<i64, Vec<(usize, usize)>> = BTreeMap::new();
    for (pi, p) in pieces.iter().enumerate().filter(|(_, p)| p.keep) {
        for (e, end) in p.ends.iter().enumerate() {
            if let Some(n) = end {
                let r = find(&mut parent, *n);
                arms.entry(r).or_default().push((pi, e));
            }
        }
    }
    arms.retain(|_, a| a.len() >= 2);
    // A junction where vehicles arriving by some street could go nowhere (every other street is
    // one-way towards it) is left out: its street ends are then where vehicles leave the scene.
    let one_way = |pi: usize| roads[pieces[pi].way].1.one_way;
    let stuck: Vec<i64> = arms
        .iter()
        .filter(|(_, list)| {
            list.iter().any(|&(pi, e)| {
                (!one_way(pi) || e == 1) && !list.iter().any(|&(pj, f)| (pj, f) != (pi, e) && (!one_way(pj) || f == 0))
            })
        })
        .map(|(r, _)| *r)
        .collect();
    for r in stuck {
        arms.remove(&r);
        notes.assume(
            "a junction where vehicles arriving by a street could turn nowhere (the other streets are one-way towards it) is left out: its street ends are the scene's edge",
            format!("node {r}"),
        );
    }
    // Junction node → the junction (root node) it belongs to, for junctions that were kept.
    let all_junction_nodes: Vec<i64> = parent.keys().copied().collect();
    let jroot: BTreeMap<i64, i64> = all_junction_nodes
        .into_iter()
        .filter_map(|n| {
            let r = find(&mut parent, n);
            arms.contains_key(&r).then_some((n, r))
        })
        .collect();
    let root_of = |n: i64| jroot.get(&n).copied();
    // How far the vehicle network cuts each street back from its junctions (as `traffic::network`
    // does: half the widest other carriageway there plus 0.5 m, at most 0.4 of the street).
    let trims: BTreeMap<usize, [f64; 2]> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| p.keep)
        .map(|(pi, p)| {
            let trim = |e: usize| -> f64 {
                let Some(r) = p.ends[e].and_then(root_of) else { return 0.0 };
                let widest = arms[&r]
                    .iter()
                    .filter(|a| a.0 != pi)
                    .map(|a| roads[pieces[a.0].way].1.carriageway / 2.0)
                    .fold(0.0, f64::max);
                (widest + 0.5).min(0.4 * p.length)
            };
            (pi, [trim(0), trim(1)])
        })
        .collect();
    let end_tree: RTree<GeomWithData<[f64; 2], (usize, usize)>> = RTree::bulk_load(
        pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| p.keep)
            .flat_map(|(pi, p)| [(pi, 0, p.points[0]), (pi, 1, p.points[p.points.len() - 1])])
            .map(|(pi, e, q)| GeomWithData::new(q, (pi, e)))
            .collect(),
    );
    let mut junctions: Vec<Junction> = Vec::new();
    let mut junction_index: BTreeMap<i64, usize> = BTreeMap::new();
    for (&root, list) in &arms {
        let group = &members[&root];
        let c = group.iter().map(|&n| v(pos(n))).fold(DVec2::ZERO, |s, p| s + p) / group.len() as f64;
        let at = [mm(c.x), mm(c.y)];
        let reach = list
            .iter()
            .map(|&(pi, e)| {
                let pts = &pieces[pi].points;
                let end = if e == 0 { pts[0] } else { pts[pts.len() - 1] };
                v(end).distance(v(at))
            })
            .fold(0.0, f64::max);
        // Street ends of other junctions (or none) must stay out of reach.
        let own: BTreeSet<(usize, usize)> = list.iter().copied().collect();
        let foreign = end_tree
            .locate_within_distance(at, (reach + JUNCTION_RADIUS + 0.01).powi(2))
            .filter(|g| !own.contains(&g.data))
            .map(|g| v(*g.geom()).distance(v(at)))
            .fold(f64::INFINITY, f64::min);
        let mut radius = ((reach + JUNCTION_RADIUS) * 100.0).ceil() / 100.0;
        if foreign <= radius {
            radius = ((((reach + foreign) / 2.0) * 1000.0).floor() / 1000.0).max(reach).max(0.001);
            if foreign <= radius {
                notes.assume(
                    "another street's end lies as close to this junction as its own streets' ends: the vehicle network joins it here too",
                    format!("junction_n{root}"),
                );
            }
        }
        if group.len() > 1 {
            notes.assume(
                format!("junctions joined by road pieces under {MIN_PIECE} m are one junction at their centre"),
                format!(
                    "junction_n{root} (nodes {})",
                    group.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        junction_index.insert(root, junctions.len());
        junctions.push(Junction {
            id: format!("junction_n{root}"),
            level: super::build::LEVEL.into(),
            at,
            radius,
            turns: Vec::new(),
        });
    }

    // Which street each piece becomes.
    let street_id = |p: &Piece| format!("road_w{}_{}", roads[p.way].0.id, p.k);
    // Interior nodes of kept pieces → (piece, distance along).
    let mut on_piece: BTreeMap<i64, (usize, f64)> = BTreeMap::new();
    let mut dropped_nodes: BTreeSet<i64> = BTreeSet::new();
    for (pi, p) in pieces.iter().enumerate() {
        for (i, n) in p.nodes.iter().enumerate() {
            if p.keep && !is_junction(n) {
                on_piece.insert(*n, (pi, p.node_at[i]));
            } else if !p.keep {
                dropped_nodes.insert(*n);
            }
        }
    }

    // Traffic signals at (or near) junctions of three or more street ends.
    let signal_nodes: Vec<i64> = node_tags
        .iter()
        .filter(|(n, t)| tag(t, "highway") == Some("traffic_signals") && (uses.contains_key(n)))
        .map(|(n, _)| *n)
        .collect();
    let mut signalled: BTreeMap<i64, Vec<i64>> = BTreeMap::new(); // junction root → signal nodes
    let mut signal_as_crossing: BTreeSet<i64> = BTreeSet::new();
    for &n in &signal_nodes {
        let near = if let Some(r) = root_of(n) {
            Some(r)
        } else if let Some(&(pi, d)) = on_piece.get(&n) {
            let p = &pieces[pi];
            let mut best: Option<(f64, i64)> = None;
            for (e, dist) in [(0, d), (1, p.length - d)] {
                if let Some(r) = p.ends[e].and_then(root_of)
                    && dist <= SIGNAL_REACH
                    && best.is_none_or(|b| dist < b.0)
                {
                    best = Some((dist, r));
                }
            }
            best.map(|b| b.1)
        } else {
            None
        };
        match near {
            Some(r) if arms[&r].len() >= 3 => {
                signalled.entry(r).or_default().push(n);
            }
            _ => {
                signal_as_crossing.insert(n);
            }
        }
    }

    // Crossings.
    let mut planned: Vec<Planned> = Vec::new();
    let note_no_crossing = |notes: &mut Notes, who: String| {
        notes.assume(
            "a footway meets a road at a node without crossing tags: no crossing there (pedestrians cannot cross the carriageway)",
            who,
        )
    };
    let crossing_node = |n: &i64| -> Option<bool> {
        let t = node_tags.get(n)?;
        let kind = tag(t, "crossing");
        let signal_tag = kind == Some("traffic_signals") || matches!(tag(t, "crossing:signals"), Some("yes"));
        match tag(t, "highway") {
            Some("crossing") if kind != Some("no") => Some(signal_tag),
            Some("traffic_signals") if kind != Some("no") && (kind.is_some() || signal_as_crossing.contains(n)) => {
                Some(true)
            }
            _ => None,
        }
    };
    // Crossings at road nodes: node → (signal, width, direction of a walkable way through it, label).
    let mut sources: BTreeMap<i64, (bool, f64, Option<DVec2>, String)> = BTreeMap::new();
    for (&n, _) in node_tags.iter() {
        if uses.contains_key(&n)
            && let Some(signal) = crossing_node(&n)
        {
            sources.insert(n, (signal, CROSSING_WIDTH, None, format!("node {n}")));
        }
    }
    // Crossing ways: where they meet roads.
    let segment_tree: SegmentTree = RTree::bulk_load(
        pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| p.keep)
            .flat_map(|(pi, p)| {
                p.points.windows(2).enumerate().map(move |(si, w)| GeomWithData::new(Line::new(w[0], w[1]), (pi, si)))
            })
            .collect(),
    );
    let mut geometric: Vec<Planned> = Vec::new();
    for walk in walks {
        let crossing_way = ["footway", "path", "cycleway"].iter().any(|k| tag(&walk.tags, k) == Some("crossing"))
            || tag(&walk.tags, "highway") == Some("crossing");
        let way_signal = tag(&walk.tags, "crossing") == Some("traffic_signals")
            || matches!(tag(&walk.tags, "crossing:signals"), Some("yes"));
        let width = walk.width.unwrap_or(CROSSING_WIDTH).max(0.5);
        let dir_at = |i: usize| -> Option<DVec2> {
            let a = walk.nodes.get(i.saturating_sub(1)).map(|n| v(nodes[n]))?;
            let b = walk.nodes.get((i + 1).min(walk.nodes.len() - 1)).map(|n| v(nodes[n]))?;
            (b - a).try_normalize()
        };
        let mut met = false;
        for (i, n) in walk.nodes.iter().enumerate() {
            if !uses.contains_key(n) {
                continue;
            }
            met = true;
            if let Some(s) = sources.get_mut(n) {
                // A crossing node: the way through it gives its direction (and a width, if tagged).
                s.0 |= crossing_way && way_signal;
                s.1 = s.1.max(width);
                s.2 = s.2.or(dir_at(i));
            } else if crossing_way {
                sources.insert(*n, (way_signal, width, dir_at(i), format!("way {}", walk.id)));
            } else {
                note_no_crossing(notes, format!("way {} at node {n}", walk.id));
            }
        }
        if crossing_way && !met {
            // Where the crossing way's line crosses a road's centre line.
            let mut k = 0;
            for w in walk.nodes.windows(2) {
                let (a, b) = (v(nodes[&w[0]]), v(nodes[&w[1]]));
                let env = rstar::AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
                let mut hits: Vec<(usize, f64)> = segment_tree
                    .locate_in_envelope_intersecting(&env)
                    .filter_map(|g| {
                        let (pi, si) = g.data;
                        let p = &pieces[pi];
                        let (c, d) = (v(p.points[si]), v(p.points[si + 1]));
                        let t = segment_cross(a, b, c, d)?;
                        let before: f64 = p.points[..=si].windows(2).map(|q| v(q[0]).distance(v(q[1]))).sum();
                        Some((pi, before + c.distance(d) * t))
                    })
                    .collect();
                hits.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
                for (pi, at) in hits {
                    k += 1;
                    let id =
                        if k == 1 { format!("crossing_w{}", walk.id) } else { format!("crossing_w{}_{k}", walk.id) };
                    let dir = (b - a).try_normalize();
                    let w = angled_width(width, dir, &pieces[pi], at, roads[pieces[pi].way].1.carriageway);
                    geometric.push(Planned {
                        piece: pi,
                        at,
                        width: w,
                        signal: way_signal,
                        id,
                        label: format!("way {}", walk.id),
                    });
                }
            }
            if k == 0 {
                notes.skip(format!("way {}: a crossing way that meets no road", walk.id));
            }
        }
    }
    for (n, (signal, width, dir, label)) in sources {
        if let Some(&(pi, at)) = on_piece.get(&n) {
            let w = angled_width(width, dir, &pieces[pi], at, roads[pieces[pi].way].1.carriageway);
            planned.push(Planned { piece: pi, at, width: w, signal, id: format!("crossing_n{n}"), label });
        } else if let Some(r) = root_of(n) {
            // At a junction: on each street, clear of the other carriageways (two streets: one crossing beside the node).
            let list = &arms[&r];
            let clear = |own: usize| -> f64 {
                list.iter()
                    .filter(|a| a.0 != own)
                    .map(|a| roads[pieces[a.0].way].1.carriageway / 2.0)
                    .fold(0.0, f64::max)
            };
            let chosen: Vec<(usize, usize)> = if list.len() == 2 {
                let longer = *list.iter().max_by(|x, y| pieces[x.0].length.total_cmp(&pieces[y.0].length)).unwrap();
                vec![longer]
            } else {
                list.clone()
            };
            let mut k = 0;
            for (pi, e) in chosen {
                let setback = clear(pi) + width / 2.0 + 1.0;
                let p = &pieces[pi];
                if setback + width / 2.0 > p.length {
                    notes.skip(format!(
                        "{label}: a crossing at junction node {n} does not fit on road way {} ({:.1} m)",
                        roads[p.way].0.id, p.length
                    ));
                    continue;
                }
                k += 1;
                let at = if e == 0 { setback } else { p.length - setback };
                let id = if list.len() == 2 { format!("crossing_n{n}") } else { format!("crossing_n{n}_{k}") };
                planned.push(Planned { piece: pi, at, width, signal, id, label: label.clone() });
            }
            if list.len() > 2 {
                notes.assume(
                    "a crossing tagged at a junction node is placed on each of the junction's streets, 1 m clear of the other carriageways",
                    format!("node {n}"),
                );
            }
        } else if dropped_nodes.contains(&n) {
            notes.skip(format!("{label}: a crossing at node {n}, on a road piece that was dropped"));
        } else {
            notes.skip(format!("{label}: a crossing at node {n}, at the end of a road: not placed"));
        }
    }
    planned.extend(geometric);

    // One crossing per place: overlapping ones on a street are left out (the first is kept).
    let mut by_piece: BTreeMap<usize, Vec<Planned>> = BTreeMap::new();
    let mut used_ids: BTreeSet<String> = BTreeSet::new();
    for mut c in planned {
        // Not inside a junction's box, where lanes are cut back: widened to reach past it.
        let length = pieces[c.piece].length;
        let [ta, tb] = trims[&c.piece];
        let (lo, hi) = (ta, length - tb);
        let before = ((c.at - c.width / 2.0).max(0.0), (c.at + c.width / 2.0).min(length));
        let (mut enter, mut leave) = before;
        if leave < lo + BOX_CLEAR {
            leave = lo + BOX_CLEAR;
        }
        if enter > hi - BOX_CLEAR {
            enter = hi - BOX_CLEAR;
        }
        let (enter, leave) = (enter.max(0.0), leave.min(length));
        if leave - enter < 0.5 || leave - enter > 50.0 || leave <= lo + 0.1 || enter >= hi - 0.1 {
            notes.skip(format!(
                "{}: crossing '{}' does not fit between the junction boxes of its street ({length:.1} m long)",
                c.label, c.id
            ));
            continue;
        }
        if (enter, leave) != before {
            notes.assume(
                format!("a crossing inside a junction's box (where lanes are cut back) is widened to reach {BOX_CLEAR} m beyond it"),
                c.id.clone(),
            );
        }
        (c.at, c.width) = ((enter + leave) / 2.0, leave - enter);
        let list = by_piece.entry(c.piece).or_default();
        if let Some(other) = list.iter_mut().find(|o| (o.at - c.at).abs() < (o.width + c.width) / 2.0) {
            other.signal |= c.signal;
            notes.skip(format!("{}: crossing '{}' overlaps crossing '{}' and is left out", c.label, c.id, other.id));
            continue;
        }
        if !used_ids.insert(c.id.clone()) {
            continue;
        }
        list.push(c);
    }

    // Streets.
    let mut streets: Vec<Street> = Vec::new();
    let mut sources_out = Vec::new();
    let mut street_of_piece: BTreeMap<usize, usize> = BTreeMap::new();
    let mut streets_of_way: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (pi, p) in pieces.iter().enumerate().filter(|(_, p)| p.keep) {
        let (way, a) = &roads[p.way];
        let mut crossings: Vec<Crossing> = by_piece
            .remove(&pi)
            .unwrap_or_default()
            .into_iter()
            .map(|c| Crossing {
                id: c.id,
                at: (c.at.clamp(0.0, p.length) * 1000.0).floor() / 1000.0,
                width: (c.width.clamp(0.5, 50.0) * 100.0).round() / 100.0,
                signal: c.signal,
            })
            .collect();
        crossings.sort_by(|x, y| x.at.total_cmp(&y.at));
        street_of_piece.insert(pi, streets.len());
        streets_of_way.entry(p.way).or_default().push(street_id(p));
        streets.push(Street {
            id: street_id(p),
            level: super::build::LEVEL.into(),
            centerline: p.points.clone(),
            carriageway: a.carriageway,
            sidewalks: a.sidewalks,
            kerb: 0.15,
            // Urban trunk roads carry railings; nobody crosses them outside a crossing.
            fenced: ROAD_CLASSES[a.class].0 == "trunk",
            one_way: a.one_way,
            lanes: a.lanes,
            speed_limit: a.speed,
            bike_lanes: false,
            crossings,
        });
        sources_out.push((format!("way {}", way.id), way.pos));
    }
    let mut entries = Vec::new();
    for (pi, p) in pieces.iter().enumerate().filter(|(_, p)| p.keep) {
        for (e, end) in p.ends.iter().enumerate() {
            if end.is_none_or(|n| root_of(n).is_none()) {
                if e == 0 || !streets[street_of_piece[&pi]].one_way {
                    entries.push((street_id(p), if e == 0 { StreetEnd::Start } else { StreetEnd::End }));
                }
                notes.assume(
                    "street ends that join no junction are where vehicles enter and leave the scene (the data's edge or a dead end)",
                    format!("{} {}", street_id(p), if e == 0 { "start" } else { "end" }),
                );
            }
        }
    }
    for (wi, ids) in &streets_of_way {
        let (way, a) = &roads[*wi];
        if let Some(name) = tag(&way.tags, "name") {
            let name: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            notes.name(format!("{}: {} (way {}, highway={})", ids.join(", "), name, way.id, ROAD_CLASSES[a.class].0));
        }
    }

    // Signals.
    let mut signals: Vec<Signal> = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut junction_signals = Vec::new();
    for (&root, signal_nodes) in &signalled {
        let list = &arms[&root];
        let key = |&(pi, _): &(usize, usize)| {
            let a = &roads[pieces[pi].way].1;
            (ROAD_CLASSES[a.class].1, a.lanes)
        };
        let best = list.iter().map(key).max().expect("three or more arms");
        let mut major: Vec<(usize, usize)> = list.iter().copied().filter(|a| key(a) == best).collect();
        if major.len() == list.len() {
            // A tie: the way with most arms here (a road passing through), then the first.
            let mut count: BTreeMap<usize, usize> = BTreeMap::new();
            for a in &major {
                *count.entry(pieces[a.0].way).or_default() += 1;
            }
            let way = count.iter().max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0))).map(|x| *x.0).unwrap();
            major.retain(|a| pieces[a.0].way == way);
        }
        let sig = format!("signal_n{root}");
        let mut heads: [(String, Vec<Approach>, Vec<String>); 4] = [
            (format!("{sig}_a_vehicles"), vec![], vec![]),
            (format!("{sig}_a_walk"), vec![], vec![]),
            (format!("{sig}_b_vehicles"), vec![], vec![]),
            (format!("{sig}_b_walk"), vec![], vec![]),
        ];
        let junction = &junctions[junction_index[&root]].id;
        for &(pi, e) in list {
            let s = &streets[street_of_piece[&pi]];
            let is_major = major.contains(&(pi, e));
            let (vehicles, walk) = if is_major { (0, 3) } else { (2, 1) };
            let length = pieces[pi].length;
            // Crossing the major road while the minor road has green, and the other way.
            for c in s.crossings.iter().filter(|c| c.signal) {
                let d = if e == 0 { c.at } else { length - c.at };
                if d <= CROSSING_REACH && claimed.insert(c.id.clone()) {
                    heads[walk].2.push(c.id.clone());
                }
            }
            // Vehicles stop at the junction if lanes run into it (a two-way street, or a one-way
            // street ending here); the nearest crossing would also stop those leaving the junction,
            // who then wait inside it for the whole phase.
            if (!s.one_way || e == 1) && !heads[vehicles].1.iter().any(|a| a.street == s.id) {
                heads[vehicles].1.push(Approach { street: s.id.clone(), at: junction.clone() });
            }
        }
        let exists = |h: &(String, Vec<Approach>, Vec<String>)| !h.1.is_empty() || !h.2.is_empty();
        let ids = |k: &[usize]| -> Vec<String> {
            k.iter().filter(|&&i| exists(&heads[i])).map(|&i| heads[i].0.clone()).collect()
        };
        let d = JUNCTION_PHASES;
        let phases = vec![
            Phase { duration: d[0], green: ids(&[0, 1]), amber: vec![] },
            Phase { duration: d[1], green: vec![], amber: ids(&[0]) },
            Phase { duration: d[2], green: vec![], amber: vec![] },
            Phase { duration: d[3], green: ids(&[2, 3]), amber: vec![] },
            Phase { duration: d[4], green: vec![], amber: ids(&[2]) },
            Phase { duration: d[5], green: vec![], amber: vec![] },
        ];
        let heads: Vec<SignalHead> = heads
            .iter()
            .filter(|h| exists(h))
            .map(|h| SignalHead { id: h.0.clone(), vehicles: h.1.clone(), crossings: h.2.clone() })
            .collect();
        let nodes_text: Vec<String> = signal_nodes.iter().map(|n| format!("node {n}")).collect();
        notes.assume(JUNCTION_PLAN, format!("{sig} ({})", nodes_text.join(", ")));
        junction_signals.push(sig.clone());
        signals.push(Signal {
            id: sig,
            heads,
            plans: vec![SignalPlan { id: "fixed_90s".into(), offset: 0.0, phases }],
        });
    }
    let mut crossing_signals = Vec::new();
    for s in &streets {
        for c in s.crossings.iter().filter(|c| c.signal && !claimed.contains(&c.id)) {
            let sig = format!("signal_{}", c.id);
            let (veh, walk) = (format!("{sig}_vehicles"), format!("{sig}_walk"));
            let d = CROSSING_PHASES;
            signals.push(Signal {
                id: sig.clone(),
                heads: vec![
                    SignalHead {
                        id: veh.clone(),
                        vehicles: vec![Approach { street: s.id.clone(), at: c.id.clone() }],
                        crossings: vec![],
                    },
                    SignalHead { id: walk.clone(), vehicles: vec![], crossings: vec![c.id.clone()] },
                ],
                plans: vec![SignalPlan {
                    id: "fixed_95s".into(),
                    offset: 0.0,
                    phases: vec![
                        Phase { duration: d[0], green: vec![veh.clone()], amber: vec![] },
                        Phase { duration: d[1], green: vec![], amber: vec![veh] },
                        Phase { duration: d[2], green: vec![], amber: vec![] },
                        Phase { duration: d[3], green: vec![walk], amber: vec![] },
                        Phase { duration: d[4], green: vec![], amber: vec![] },
                    ],
                }],
            });
            crossing_signals.push(sig.clone());
            notes.assume(CROSSING_PLAN, sig);
        }
    }
    let mut comments = Vec::new();
    if !junction_signals.is_empty() {
        comments.push(format!("{} ({}).", JUNCTION_PLAN, junction_signals.join(", ")));
    }
    if !crossing_signals.is_empty() {
        comments.push(format!("{} ({}).", CROSSING_PLAN, crossing_signals.join(", ")));
    }
    Ok(Roads { streets, sources: sources_out, junctions, signals, comments, entries })
}

/// What `--vehicles` assumes, for `unit.sources`.
pub const FLOW_NOTE: &str = "vehicle flows ESTIMATED (OpenStreetMap has no counts): the same number of vehicles per \
     hour enters at every street end at the data's edge (or a dead end), 90 % cars and 10 % vans; at junctions they \
     turn into the other streets in equal shares";

/// Flows of `vph` vehicles per hour in at every entry of the network, if `vph` is positive.
pub fn flows(roads: &Roads, vph: f64) -> Vec<Flow> {
    if vph.is_nan() || vph <= 0.0 {
        return Vec::new();
    }
    roads
        .entries
        .iter()
        .map(|(street, from)| Flow {
            id: format!("vehicles_{street}_{}", if *from == StreetEnd::Start { "start" } else { "end" }),
            street: street.clone(),
            from: *from,
            rate: vec![(0.0, vph)],
            mix: vec![(VehicleKind::Car, 0.9), (VehicleKind::Van, 0.1)],
            route: Vec::new(),
            stops: Vec::new(),
        })
        .collect()
}

/// The parameter along `c`–`d` where segment `a`–`b` crosses it, if it does.
fn segment_cross(a: DVec2, b: DVec2, c: DVec2, d: DVec2) -> Option<f64> {
    let (r, s) = (b - a, d - c);
    let denom = r.perp_dot(s);
    if denom.abs() < 1e-12 {
        return None;
    }
    let t = (c - a).perp_dot(s) / denom;
    let u = (c - a).perp_dot(r) / denom;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some(u)
}

/// A crossing's width along the street: a footway crossing at an angle needs a wider crossing
/// for its whole width to reach the carriageway's far edge.
fn angled_width(width: f64, dir: Option<DVec2>, piece: &Piece, at: f64, carriageway: f64) -> f64 {
    let Some(dir) = dir else { return width };
    let Some((_, along)) = crate::twin::space::along(&piece.points, at.min(piece.length - 1e-6).max(0.0)) else {
        return width;
    };
    let cos = dir.perp_dot(along).abs().max(0.2); // cosine of the angle from square across
    let tan = (1.0 - cos * cos).sqrt() / cos;
    (width / cos + carriageway * tan).max(width).min(MAX_CROSSING_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    type T<'a> = &'a [(&'a str, &'a str)];

    fn tags(t: T) -> Tags {
        t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Builds a network from ways `(id, nodes, tags)`, node positions `(id, x, y)`, node tags and
    /// walkable ways.
    fn net(
        ways: &[(i64, &[i64], T)],
        points: &[(i64, f64, f64)],
        node_tags: &[(i64, T)],
        walks: &[(i64, &[i64], T)],
    ) -> (Roads, Notes) {
        let ways: Vec<RoadWay> =
            ways.iter().map(|(id, n, t)| RoadWay { id: *id, pos: None, nodes: n.to_vec(), tags: tags(t) }).collect();
        let walks: Vec<WalkWay> =
            walks.iter().map(|(id, n, t)| WalkWay { id: *id, nodes: n.to_vec(), tags: tags(t), width: None }).collect();
        let nodes: BTreeMap<i64, Point> = points.iter().map(|(id, x, y)| (*id, [*x, *y])).collect();
        let node_tags: BTreeMap<i64, Tags> = node_tags.iter().map(|(id, t)| (*id, tags(t))).collect();
        let mut notes = Notes::default();
        let roads = build(ways, &walks, &nodes, &node_tags, Path::new("t.osm"), &mut notes).expect("builds");
        (roads, notes)
    }

    fn street<'a>(r: &'a Roads, id: &str) -> &'a Street {
        r.streets.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no {id} in {:?}", r.streets))
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("50"), Some(50.0));
        assert_eq!(parse_speed("50 km/h"), Some(50.0));
        assert_eq!(parse_speed("30 mph"), Some(48.3));
        assert_eq!(parse_speed("60;80"), Some(60.0));
        assert_eq!(parse_speed("CN:urban"), None);
        assert_eq!(parse_speed("walk"), None);
        assert_eq!(parse_speed("-5"), None);
    }

    /// Two roads crossing a third 3 m apart: the 3 m piece between them is dropped and the two
    /// junctions become one, at their centre, whose radius reaches all six street ends.
    #[test]
    fn short_piece_merges_its_junctions() {
        let pts = [(1, 0.0, 0.0), (2, 50.0, 0.0), (3, 53.0, 0.0), (4, 100.0, 0.0), (5, 50.0, -50.0), (6, 50.0, 50.0)];
        let pts = [&pts[..], &[(7, 53.0, -50.0), (8, 53.0, 50.0)]].concat();
        let primary: T = &[("highway", "primary")];
        let res: T = &[("highway", "residential")];
        let (r, notes) =
            net(&[(1, &[1, 2, 3, 4], primary), (2, &[5, 2, 6], res), (3, &[7, 3, 8], res)], &pts, &[], &[]);
        assert_eq!(r.streets.len(), 6, "{:?}", r.streets.iter().map(|s| &s.id).collect::<Vec<_>>());
        assert!(r.streets.iter().all(|s| s.id != "road_w1_2"), "the 3 m piece is dropped");
        assert_eq!(r.junctions.len(), 1);
        let j = &r.junctions[0];
        assert_eq!((j.id.as_str(), j.at, j.radius), ("junction_n2", [51.5, 0.0], 2.0));
        assert!(notes.assumption_lines().iter().any(|l| l.contains("junction_n2 (nodes 2, 3)")), "{notes:?}");
    }

    /// A signalised crossing tagged on the junction node of a four-arm junction: one crossing on
    /// each arm, clear of the crossing road's carriageway, all run by the junction's signal; the
    /// tie between two equal roads goes to the first way.
    #[test]
    fn crossing_on_a_junction_node_goes_on_every_arm() {
        let pts = [(1, -50.0, 0.0), (2, 0.0, 0.0), (3, 50.0, 0.0), (4, 0.0, -50.0), (5, 0.0, 50.0)];
        let res: T = &[("highway", "residential")];
        let signal: T = &[("highway", "traffic_signals"), ("crossing", "traffic_signals")];
        let (r, _) = net(&[(1, &[1, 2, 3], res), (2, &[4, 2, 5], res)], &pts, &[(2, signal)], &[]);
        let crossings: Vec<(&str, &str, f64, bool)> = r
            .streets
            .iter()
            .flat_map(|s| s.crossings.iter().map(move |c| (s.id.as_str(), c.id.as_str(), c.at, c.signal)))
            .collect();
        // 6.5 m carriageways: 3.25 m to the other kerb, 2 m half crossing, 1 m clear.
        assert_eq!(
            crossings,
            [
                ("road_w1_1", "crossing_n2_1", 43.75, true),
                ("road_w1_2", "crossing_n2_2", 6.25, true),
                ("road_w2_1", "crossing_n2_3", 43.75, true),
                ("road_w2_2", "crossing_n2_4", 6.25, true),
            ]
        );
        assert_eq!(r.signals.len(), 1);
        let heads: Vec<(&str, Vec<&str>, Vec<&str>)> = r.signals[0]
            .heads
            .iter()
            .map(|h| {
                (
                    h.id.as_str(),
                    h.vehicles.iter().map(|a| a.street.as_str()).collect(),
                    h.crossings.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            heads,
            [
                ("signal_n2_a_vehicles", vec!["road_w1_1", "road_w1_2"], vec![]),
                ("signal_n2_a_walk", vec![], vec!["crossing_n2_3", "crossing_n2_4"]),
                ("signal_n2_b_vehicles", vec!["road_w2_1", "road_w2_2"], vec![]),
                ("signal_n2_b_walk", vec![], vec!["crossing_n2_1", "crossing_n2_2"]),
            ]
        );
    }

    /// Signals 10 m before a junction signal the junction; signals mid-block make a signalised
    /// crossing; a one-way street leaving the junction has no approach; a crossing footway that
    /// shares no node with the road crosses it where the lines cross; a footway meeting a road
    /// without crossing tags is noted.
    #[test]
    fn signals_near_junctions_crossing_ways_and_one_way_approaches() {
        let pts = [
            (1, -100.0, 0.0),
            (2, -10.0, 0.0),
            (3, 0.0, 0.0),
            (4, 100.0, 0.0),
            (5, 0.0, -60.0),
            (6, 0.0, 60.0),
            (7, 60.0, 0.0),
        ];
        let pts = [&pts[..], &[(20, -50.0, -10.0), (21, -50.0, 10.0), (30, 30.0, -20.0), (31, 80.0, 20.0)]].concat();
        let primary: T = &[("highway", "primary")];
        let oneway: T = &[("highway", "tertiary"), ("oneway", "yes")];
        let ts: T = &[("highway", "traffic_signals")];
        let crossing: T = &[("highway", "footway"), ("footway", "crossing"), ("crossing", "zebra")];
        let footway: T = &[("highway", "footway")];
        let (r, notes) = net(
            &[(1, &[1, 2, 3, 7, 4], primary), (2, &[5, 3, 6], oneway)],
            &pts,
            &[(2, ts), (7, ts)],
            &[(10, &[20, 21], crossing), (11, &[30, 7, 31], footway)],
        );
        assert_eq!(r.junctions.len(), 1);
        let ids: Vec<&str> = r.signals.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["signal_n3", "signal_crossing_n7"]);
        // The one-way street leaving the junction northwards has no approach; the one arriving has.
        let approaches: Vec<&str> =
            r.signals[0].heads.iter().flat_map(|h| &h.vehicles).map(|a| a.street.as_str()).collect();
        assert_eq!(approaches, ["road_w1_1", "road_w1_2", "road_w2_1"]);
        // The zebra footway crosses road_w1_1 at x = -50, 50 m along; square across, so 4 m wide.
        let w11 = street(&r, "road_w1_1");
        assert_eq!(w11.crossings.len(), 1);
        let c = &w11.crossings[0];
        assert_eq!((c.id.as_str(), c.at, c.width, c.signal), ("crossing_w10", 50.0, 4.0, false));
        // Node 7, mid-block signals: a signalised crossing, 60 m along road_w1_2, run by its own
        // signal. The footway through it at an angle widens it.
        let c = &street(&r, "road_w1_2").crossings[0];
        assert_eq!((c.id.as_str(), c.at, c.signal), ("crossing_n7", 60.0, true));
        assert!(c.width > 4.0, "{c:?}");
        assert!(notes.assumed.keys().all(|k| !k.contains("a footway meets a road")), "node 7 is a crossing");
        // A footway meeting the road at a plain node is noted.
        let pts2 = [(1, 0.0, 0.0), (2, 50.0, 0.0), (3, 100.0, 0.0), (4, 50.0, -20.0)];
        let res: T = &[("highway", "residential")];
        let (_, notes) = net(&[(1, &[1, 2, 3], res)], &pts2, &[], &[(9, &[4, 2], footway)]);
        assert!(
            notes
                .assumption_lines()
                .iter()
                .any(|l| l.contains("a footway meets a road") && l.contains("way 9 at node 2"))
        );
    }

    /// Vehicles arriving by the two-way street at node 2 could turn nowhere: the other street is
    /// one-way towards node 2. No junction there; both ends are the scene's edge.
    #[test]
    fn a_junction_with_no_way_out_is_left_out() {
        let pts = [(1, 0.0, 0.0), (2, 50.0, 0.0), (3, 100.0, 0.0)];
        let (r, notes) = net(
            &[
                (1, &[1, 2], &[("highway", "residential")]),
                (2, &[3, 2], &[("highway", "residential"), ("oneway", "yes")]),
            ],
            &pts,
            &[],
            &[],
        );
        assert!(r.junctions.is_empty(), "{:?}", r.junctions);
        assert!(notes.assumed.keys().any(|k| k.contains("could turn nowhere")));
        let entries: Vec<(&str, StreetEnd)> = r.entries.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        assert_eq!(
            entries,
            [("road_w1_1", StreetEnd::Start), ("road_w1_1", StreetEnd::End), ("road_w2_1", StreetEnd::Start)]
        );
    }

    #[test]
    fn class_defaults_roundabouts_tunnels_and_living_streets() {
        let pts = [(1, 0.0, 0.0), (2, 50.0, 0.0), (3, 50.0, 50.0), (4, 0.0, 50.0), (5, 200.0, 0.0), (6, 260.0, 0.0)];
        let (r, notes) = net(
            &[
                (1, &[1, 2, 3, 4, 1], &[("highway", "secondary"), ("junction", "roundabout")]),
                (2, &[5, 6], &[("highway", "service"), ("tunnel", "yes")]),
                (3, &[2, 5], &[("highway", "living_street"), ("width", "5"), ("maxspeed", "15")]),
            ],
            &pts,
            &[],
            &[],
        );
        let ring = street(&r, "road_w1_1");
        assert_eq!((ring.one_way, ring.lanes, ring.speed_limit), (true, 2, 50.0));
        let living = street(&r, "road_w3_1");
        assert_eq!((living.one_way, living.lanes, living.carriageway, living.speed_limit), (false, 2, 5.0, 15.0));
        assert!(r.streets.iter().all(|s| !s.id.starts_with("road_w2_")));
        assert!(notes.skipped.iter().any(|s| s.contains("way 2: a road in a tunnel")), "{notes:?}");
        // The roundabout's closing node is a junction with both its ends; node 2 joins the living street.
        let ids: Vec<&str> = r.junctions.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["junction_n1", "junction_n2"]);
    }
}
