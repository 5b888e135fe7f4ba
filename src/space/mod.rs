//! The walkable space of each level: areas joined, obstacles cut out, walls and doors.
//! Owns the wall R-trees used for wall interaction and the door geometry (open or closed).

pub mod expand;
pub mod geom;

use std::collections::BTreeMap;

use bevy::math::DVec2;
use geo::{BooleanOps, Contains, Coord, LineString, MultiPolygon, Polygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use crate::scene::{Diagnostics, Point, Scene, SourceMap, StairDirection};
use geom::{closest_on_segment, distance_to_segment, v};

/// How far (m) a door's `at` point may lie from its wall.
pub const DOOR_SNAP: f64 = 0.05;

pub type WallObject = GeomWithData<Line<[f64; 2]>, u32>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WallSegment {
    pub a: DVec2,
    pub b: DVec2,
}

#[derive(Clone, Debug)]
pub struct DoorGeom {
    pub id: String,
    pub level: usize,
    pub a: DVec2,
    pub b: DVec2,
    pub open: bool,
    /// On the outer boundary of the walkable space (one side is outside).
    pub boundary: bool,
    /// A boundary door that agents may leave by.
    pub exit: bool,
    /// Unit normal; for boundary doors it points out of the walkable space.
    pub normal: DVec2,
    /// For a stair opening: the index of its portal.
    pub portal: Option<usize>,
}

/// One side of a stair opening: crossing `door` puts an agent at `peer` on the other level.
#[derive(Clone, Copy, Debug)]
pub struct Portal {
    pub door: usize,
    pub peer: usize,
    pub stair: usize,
    /// Crossing here steps onto the stair (as opposed to off it).
    pub onto_stair: bool,
    /// The stair's direction allows crossing here.
    pub allowed: bool,
}

/// A stair's runtime facts; its walkable corridor is the level `level`.
#[derive(Clone, Debug)]
pub struct StairGeom {
    pub id: String,
    pub level: usize,
    pub foot_level: usize,
    pub head_level: usize,
    pub width: f64,
    pub run: f64,
    pub rise: f64,
    /// Horizontal free speeds, m/s.
    pub speed_up: f64,
    pub speed_down: f64,
    /// Most persons per metre of width per second stepping on.
    pub flow_up: f64,
    pub flow_down: f64,
    pub direction: StairDirection,
    /// World positions (x, y) of the foot and head openings, for output.
    pub foot_world: DVec2,
    pub head_world: DVec2,
}

/// What a level is: a floor of the scene, or a stair's corridor (in its own frame: x along the
/// run from the foot, y across).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LevelKind {
    Floor,
    Stair(usize),
}

impl DoorGeom {
    pub fn width(&self) -> f64 {
        self.a.distance(self.b)
    }
    pub fn midpoint(&self) -> DVec2 {
        (self.a + self.b) * 0.5
    }
    /// Whether agents can currently leave the space through it.
    pub fn is_open_exit(&self) -> bool {
        self.open && self.boundary && self.exit
    }
    /// Whether walls have a gap here now. A stair opening has one only where crossing it is
    /// allowed: people stepping off the stair are placed on the far side, so a one-way stair is
    /// wall from the side it may not be entered.
    fn cuts_wall(&self, portals: &[Portal]) -> bool {
        self.open && (!self.boundary || self.exit || self.portal.is_some_and(|p| portals[p].allowed))
    }
}

#[derive(Clone, Debug)]
pub struct LevelSpace {
    pub id: String,
    pub kind: LevelKind,
    pub elevation: f64,
    pub walkable: MultiPolygon<f64>,
    /// The walkable areas joined, before obstacles and buildings are cut out.
    pub outline: MultiPolygon<f64>,
    /// Boundary edges and interior walls, before doors are cut into them.
    base_walls: Vec<WallSegment>,
    /// Walls as they stand now: open doors are gaps, closed doors are wall.
    pub walls: Vec<WallSegment>,
    pub wall_tree: RTree<WallObject>,
    pub min: DVec2,
    pub max: DVec2,
}

impl LevelSpace {
    pub fn contains(&self, p: DVec2) -> bool {
        self.walkable.contains(&geo::Point::new(p.x, p.y))
    }

    /// Distance from `p` to the nearest wall, or infinity on a level without walls.
    pub fn wall_distance(&self, p: DVec2) -> f64 {
        self.wall_tree
            .nearest_neighbor(&[p.x, p.y])
            .map_or(f64::INFINITY, |w| distance_to_segment(p, v(w.geom().from), v(w.geom().to)))
    }

    /// Walls within `radius` of `p`, in index order.
    pub fn walls_near(&self, p: DVec2, radius: f64) -> impl Iterator<Item = &WallObject> {
        self.wall_tree.locate_within_distance([p.x, p.y], radius * radius)
    }

    pub fn walkable_area(&self) -> f64 {
        use geo::Area;
        self.walkable.unsigned_area()
    }

    pub fn is_stair(&self) -> bool {
        matches!(self.kind, LevelKind::Stair(_))
    }
}

/// A named polygon that can be blocked (nobody enters; those inside leave).
#[derive(Clone, Debug)]
pub struct ZoneGeom {
    pub id: String,
    pub level: usize,
    pub polygon: Vec<Point>,
    pub blocked: bool,
}

#[derive(Clone, Debug)]
pub struct Space {
    pub levels: Vec<LevelSpace>,
    pub doors: Vec<DoorGeom>,
    pub zones: Vec<ZoneGeom>,
    pub zone_index: BTreeMap<String, usize>,
    pub portals: Vec<Portal>,
    pub stairs: Vec<StairGeom>,
    /// The scene's levels by id (stair corridors, which follow them, are not listed).
    pub level_index: BTreeMap<String, usize>,
    pub door_index: BTreeMap<String, usize>,
}

pub fn polygon(outer: &[Point], holes: &[Vec<Point>]) -> Polygon<f64> {
    let ring = |pts: &[Point]| LineString::from(pts.iter().map(|p| Coord { x: p[0], y: p[1] }).collect::<Vec<_>>());
    Polygon::new(ring(outer), holes.iter().map(|h| ring(h)).collect())
}

fn rings(mp: &MultiPolygon<f64>) -> impl Iterator<Item = &LineString<f64>> {
    mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
}

impl Space {
    /// Builds every level. Problems with doors are reported into `diags`; the objects at fault
    /// are left out so that the rest can still be checked. `usable` tells which polygons passed
    /// their own validation (by object id); others are skipped.
    pub fn build(scene: &Scene, src: &SourceMap, usable: &dyn Fn(&str) -> bool, diags: &mut Diagnostics) -> Space {
        let level_index: BTreeMap<String, usize> =
            scene.levels.iter().enumerate().map(|(i, l)| (l.id.clone(), i)).collect();
        let elevation = |id: &str| level_index.get(id).map_or(0.0, |&i| scene.levels[i].elevation);
        // Stairs whose ends and numbers are sound; each gets a corridor level after the floors.
        let stairs: Vec<&crate::scene::Stair> = scene
            .stairs
            .iter()
            .filter(|st| {
                level_index.contains_key(&st.foot.level)
                    && level_index.contains_key(&st.head.level)
                    && st.width > 0.0
                    && st.run > 0.0
                    && elevation(&st.head.level) > elevation(&st.foot.level)
            })
            .collect();
        let mut levels = Vec::with_capacity(scene.levels.len() + stairs.len());
        for (li, level) in scene.levels.iter().enumerate() {
            let streets: Vec<expand::StreetGeometry> = scene
                .streets
                .iter()
                .filter(|st| level_index.get(&st.level) == Some(&li) && st.centerline.len() >= 2)
                .map(expand::street)
                .collect();
            let areas: Vec<Polygon<f64>> = level
                .walkable
                .iter()
                .filter(|a| usable(&a.id))
                .map(|a| polygon(&a.outer, &a.holes))
                .chain(streets.iter().flat_map(|g| g.walkable.iter().chain(&g.crossings).cloned()))
                .collect();
            let outline = geo::unary_union(areas.iter());
            let mut walkable = outline.clone();
            let crossings: Vec<Polygon<f64>> = streets.iter().flat_map(|g| g.crossings.iter().cloned()).collect();
            let crossings = geo::unary_union(crossings.iter());
            let carriageways: Vec<Polygon<f64>> = streets
                .iter()
                .flat_map(|g| g.carriageway.iter())
                .flat_map(|c| geo::MultiPolygon::new(vec![c.clone()]).difference(&crossings).0)
                .collect();
            let blocked: Vec<Polygon<f64>> = scene
                .obstacles
                .iter()
                .filter(|o| level_index.get(&o.level) == Some(&li) && usable(&o.id))
                .map(|o| polygon(&o.footprint, &[]))
                .chain(
                    scene
                        .buildings
                        .iter()
                        .filter(|b| level_index.get(&b.level) == Some(&li) && usable(&b.id))
                        .map(|b| polygon(&b.footprint, &[])),
                )
                .chain(carriageways)
                .collect();
            if !blocked.is_empty() {
                walkable = walkable.difference(&geo::unary_union(blocked.iter()));
            }
            let mut base_walls = Vec::new();
            for ring in rings(&walkable) {
                for line in ring.lines() {
                    let (a, b) = (DVec2::new(line.start.x, line.start.y), DVec2::new(line.end.x, line.end.y));
                    if a.distance(b) > 1e-9 {
                        base_walls.push(WallSegment { a, b });
                    }
                }
            }
            for wall in level.walls.iter().filter(|w| usable(&w.id)) {
                for pair in wall.points.windows(2) {
                    let (a, b) = (v(pair[0]), v(pair[1]));
                    if a.distance(b) > 1e-9 {
                        base_walls.push(WallSegment { a, b });
                    }
                }
            }
            let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
            for w in &base_walls {
                min = min.min(w.a).min(w.b);
                max = max.max(w.a).max(w.b);
            }
            if base_walls.is_empty() {
                (min, max) = (DVec2::ZERO, DVec2::ZERO);
            }
            levels.push(LevelSpace {
                id: level.id.clone(),
                kind: LevelKind::Floor,
                elevation: level.elevation,
                walkable,
                outline,
                base_walls,
                walls: Vec::new(),
                wall_tree: RTree::new(),
                min,
                max,
            });
        }

        let mut stair_geoms = Vec::new();
        for (si, st) in stairs.iter().enumerate() {
            let rise = elevation(&st.head.level) - elevation(&st.foot.level);
            let (speed_up, speed_down) = expand::stair_speeds(st, rise);
            let (w, run) = (st.width, st.run);
            let rect = polygon(&[[0.0, 0.0], [run, 0.0], [run, w], [0.0, w]], &[]);
            let walkable = MultiPolygon::new(vec![rect]);
            let base_walls = vec![
                WallSegment { a: DVec2::new(0.0, 0.0), b: DVec2::new(run, 0.0) },
                WallSegment { a: DVec2::new(run, 0.0), b: DVec2::new(run, w) },
                WallSegment { a: DVec2::new(run, w), b: DVec2::new(0.0, w) },
                WallSegment { a: DVec2::new(0.0, w), b: DVec2::new(0.0, 0.0) },
            ];
            stair_geoms.push(StairGeom {
                id: st.id.clone(),
                level: levels.len(),
                foot_level: level_index[&st.foot.level],
                head_level: level_index[&st.head.level],
                width: w,
                run,
                rise,
                speed_up,
                speed_down,
                flow_up: st.flow_up,
                flow_down: st.flow_down,
                direction: st.direction,
                foot_world: v(st.foot.at),
                head_world: v(st.head.at),
            });
            levels.push(LevelSpace {
                id: format!("stair '{}'", st.id),
                kind: LevelKind::Stair(si),
                elevation: elevation(&st.foot.level),
                outline: walkable.clone(),
                walkable,
                base_walls,
                walls: Vec::new(),
                wall_tree: RTree::new(),
                min: DVec2::ZERO,
                max: DVec2::new(run, w),
            });
        }

        // Every opening to place: the scene's doors, then four per stair (its two ends, each seen
        // from the floor and from the stair's corridor).
        struct DoorSpec {
            id: String,
            kind: &'static str,
            object: String,
            level: usize,
            at: DVec2,
            width: f64,
            open: bool,
            exit: bool,
            stair: Option<(usize, bool)>,
        }
        let mut specs: Vec<DoorSpec> = Vec::new();
        for door in &scene.doors {
            let Some(&li) = level_index.get(&door.level) else { continue };
            if !(door.width > 0.0) || door.at.iter().any(|c| !c.is_finite()) {
                continue; // reported by validation
            }
            specs.push(DoorSpec {
                id: door.id.clone(),
                kind: "door",
                object: door.id.clone(),
                level: li,
                at: v(door.at),
                width: door.width,
                open: door.open,
                exit: door.exit,
                stair: None,
            });
        }
        for (si, (st, g)) in stairs.iter().zip(&stair_geoms).enumerate() {
            let end = |id: String, level: usize, at: DVec2, head: bool| DoorSpec {
                id,
                kind: "stair",
                object: st.id.clone(),
                level,
                at,
                width: st.width,
                open: true,
                exit: false,
                stair: Some((si, head)),
            };
            specs.push(end(format!("{}:foot", st.id), g.foot_level, v(st.foot.at), false));
            specs.push(end(format!("{}:foot-step", st.id), g.level, DVec2::new(0.0, st.width / 2.0), false));
            specs.push(end(format!("{}:head-step", st.id), g.level, DVec2::new(st.run, st.width / 2.0), true));
            specs.push(end(format!("{}:head", st.id), g.head_level, v(st.head.at), true));
        }

        let mut doors = Vec::new();
        let mut door_index = BTreeMap::new();
        let mut stair_doors: BTreeMap<(usize, bool, bool), usize> = BTreeMap::new();
        for spec in &specs {
            let li = spec.level;
            if li < scene.levels.len() && !scene.levels[li].walkable.iter().all(|a| usable(&a.id)) {
                continue; // the broken area is reported; its doors cannot be placed meaningfully
            }
            let level = &levels[li];
            let level_name = level.id.clone();
            let at = spec.at;
            let nearest = level
                .base_walls
                .iter()
                .map(|w| (distance_to_segment(at, w.a, w.b), w))
                .min_by(|x, y| x.0.total_cmp(&y.0));
            let Some((dist, wall)) = nearest.filter(|(d, _)| *d <= DOOR_SNAP) else {
                let which = if spec.kind == "stair" {
                    format!("{} ", spec.id.rsplit(':').next().unwrap_or("end"))
                } else {
                    String::new()
                };
                let mut d = src.at_id(
                    spec.kind,
                    &spec.object,
                    format!("{which}is not on a wall or on the boundary of level '{level_name}'"),
                );
                d = match nearest {
                    Some((dist, w)) => {
                        let c = closest_on_segment(at, w.a, w.b);
                        d.hint(format!(
                            "the nearest wall is {dist:.2} m away, at ({:.2}, {:.2}); put `at` on a wall (within {DOOR_SNAP} m)",
                            c.x, c.y
                        ))
                    }
                    None => d.hint("the level has no walls to put a door in"),
                };
                diags.push(d);
                continue;
            };
            let _ = dist;
            let dir = (wall.b - wall.a).normalize();
            let centre = closest_on_segment(at, wall.a, wall.b);
            let (a, b) = (centre - dir * spec.width / 2.0, centre + dir * spec.width / 2.0);
            let covered: f64 = level.base_walls.iter().map(|w| collinear_overlap(a, b, w)).sum();
            if covered < spec.width - 0.01 {
                diags.push(
                    src.at_id(
                        spec.kind,
                        &spec.object,
                        format!("is {:.2} m wide but its wall is only {covered:.2} m long around `at`", spec.width),
                    )
                    .hint("make the door narrower or move `at` so that the whole door lies on one straight wall"),
                );
                continue;
            }
            let normal = DVec2::new(-dir.y, dir.x);
            let probe = 0.05;
            let (left_in, right_in) =
                (level.contains(centre + normal * probe), level.contains(centre - normal * probe));
            let (boundary, normal) = match (left_in, right_in) {
                (true, true) => (false, normal),
                (true, false) => (true, -normal),
                (false, true) => (true, normal),
                (false, false) => {
                    diags.push(
                        src.at_id(spec.kind, &spec.object, "has no walkable space on either side")
                            .hint("a door must lead out of, or between, walkable areas"),
                    );
                    continue;
                }
            };
            if let Some((si, head)) = spec.stair {
                if !boundary {
                    diags.push(
                        src.at_id(
                            "stair",
                            &spec.object,
                            format!("{} must lie on the outer boundary of level '{level_name}'", spec.id),
                        )
                        .hint("a stair leaves a level through an opening in its boundary"),
                    );
                    continue;
                }
                stair_doors.insert((si, head, li >= scene.levels.len()), doors.len());
            }
            door_index.insert(spec.id.clone(), doors.len());
            doors.push(DoorGeom {
                id: spec.id.clone(),
                level: li,
                a,
                b,
                open: spec.open,
                boundary,
                exit: boundary && spec.exit,
                normal,
                portal: None,
            });
        }
        let mut zones = Vec::new();
        let mut zone_index = BTreeMap::new();
        for zone in scene.zones.iter().filter(|z| usable(&z.id)) {
            if let Some(&level) = level_index.get(&zone.level) {
                zone_index.insert(zone.id.clone(), zones.len());
                zones.push(ZoneGeom {
                    id: zone.id.clone(),
                    level,
                    polygon: zone.polygon.clone(),
                    blocked: zone.blocked,
                });
            }
        }
        // Pair each stair end: the floor's opening and the corridor's.
        let mut portals = Vec::new();
        for (si, g) in stair_geoms.iter().enumerate() {
            let (up_ok, down_ok) = expand::stair_entries(g.direction);
            for head in [false, true] {
                let (Some(&floor), Some(&step)) =
                    (stair_doors.get(&(si, head, false)), stair_doors.get(&(si, head, true)))
                else {
                    continue;
                };
                // At the foot, stepping on goes up; at the head, stepping on goes down.
                let (onto, off) = if head { (down_ok, up_ok) } else { (up_ok, down_ok) };
                doors[floor].portal = Some(portals.len());
                portals.push(Portal { door: floor, peer: step, stair: si, onto_stair: true, allowed: onto });
                doors[step].portal = Some(portals.len());
                portals.push(Portal { door: step, peer: floor, stair: si, onto_stair: false, allowed: off });
            }
        }
        let mut space =
            Space { levels, doors, zones, zone_index, portals, stairs: stair_geoms, level_index, door_index };
        for li in 0..space.levels.len() {
            space.rebuild_walls(li);
        }
        space
    }

    /// Opens or closes a door and rebuilds its level's walls. Returns the level.
    pub fn set_door_open(&mut self, door: usize, open: bool) -> usize {
        self.doors[door].open = open;
        let level = self.doors[door].level;
        self.rebuild_walls(level);
        level
    }

    fn rebuild_walls(&mut self, li: usize) {
        let cuts: Vec<(DVec2, DVec2)> =
            self.doors.iter().filter(|d| d.level == li && d.cuts_wall(&self.portals)).map(|d| (d.a, d.b)).collect();
        let level = &mut self.levels[li];
        level.walls.clear();
        for wall in &level.base_walls {
            cut_gaps(*wall, &cuts, &mut level.walls);
        }
        let objects = level
            .walls
            .iter()
            .enumerate()
            .map(|(i, w)| GeomWithData::new(Line::new([w.a.x, w.a.y], [w.b.x, w.b.y]), i as u32))
            .collect();
        level.wall_tree = RTree::bulk_load(objects);
    }

    /// Polygons of the zones blocked now on a level.
    pub fn blocked_zones(&self, level: usize) -> Vec<&[Point]> {
        self.zones.iter().filter(|z| z.level == level && z.blocked).map(|z| z.polygon.as_slice()).collect()
    }

    /// World coordinates (x, y, z) of a point on a level: floors are in the world frame; a stair's
    /// corridor is mapped onto the line from its foot opening to its head opening, rising evenly.
    pub fn to_world(&self, level: usize, p: DVec2) -> [f64; 3] {
        let l = &self.levels[level];
        match l.kind {
            LevelKind::Floor => [p.x, p.y, l.elevation],
            LevelKind::Stair(si) => {
                let st = &self.stairs[si];
                let t = (p.x / st.run).clamp(0.0, 1.0);
                let axis = st.head_world - st.foot_world;
                let across = axis.try_normalize().map_or(DVec2::ZERO, |a| a.perp()) * (p.y - st.width / 2.0);
                let xy = st.foot_world + axis * t + across;
                [xy.x, xy.y, l.elevation + st.rise * t]
            }
        }
    }

    pub fn doors_on(&self, level: usize) -> impl Iterator<Item = (usize, &DoorGeom)> {
        self.doors.iter().enumerate().filter(move |(_, d)| d.level == level)
    }
}

/// Length of the part of `w` that lies on the segment `a`–`b` (zero unless collinear).
fn collinear_overlap(a: DVec2, b: DVec2, w: &WallSegment) -> f64 {
    let len = a.distance(b);
    let dir = (b - a) / len;
    let off = |p: DVec2| (p - a).perp_dot(dir).abs();
    if off(w.a) > 1e-3 || off(w.b) > 1e-3 {
        return 0.0;
    }
    let (s0, s1) = ((w.a - a).dot(dir), (w.b - a).dot(dir));
    (s0.max(s1).min(len) - s0.min(s1).max(0.0)).max(0.0)
}

/// Pushes the pieces of `wall` that no gap covers.
fn cut_gaps(wall: WallSegment, gaps: &[(DVec2, DVec2)], out: &mut Vec<WallSegment>) {
    let len = wall.a.distance(wall.b);
    let dir = (wall.b - wall.a) / len;
    let mut removed: Vec<(f64, f64)> = Vec::new();
    for &(a, b) in gaps {
        let off = |p: DVec2| (p - wall.a).perp_dot(dir).abs();
        if off(a) > 1e-3 || off(b) > 1e-3 {
            continue;
        }
        let (s0, s1) = ((a - wall.a).dot(dir), (b - wall.a).dot(dir));
        let (lo, hi) = (s0.min(s1).max(0.0), s0.max(s1).min(len));
        if hi > lo {
            removed.push((lo, hi));
        }
    }
    removed.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut start = 0.0;
    for (lo, hi) in removed {
        if lo > start + 1e-6 {
            out.push(WallSegment { a: wall.a + dir * start, b: wall.a + dir * lo });
        }
        start = start.max(hi);
    }
    if len > start + 1e-6 {
        out.push(WallSegment { a: wall.a + dir * start, b: wall.b });
    }
}

/// The space as a world resource; incidents change it, everything else reads it.
#[derive(bevy::prelude::Resource, Clone, Debug)]
pub struct SpaceRes(pub Space);
