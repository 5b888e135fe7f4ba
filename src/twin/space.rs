//! Building the runtime space from a checked scene: walkable space per level (geo boolean ops),
//! streets and stairs expanded into plain geometry, doors placed on walls, portals paired.

use std::collections::BTreeMap;

use bevy::math::DVec2;
use geo::{BooleanOps, MultiPolygon, Polygon};

use crate::geom::{Point, closest_on_segment, distance_to_segment, polygon, v};
use crate::ids::{AreaId, CrossingId, DoorId, Id, LaneId, LevelId, PortalId, StairId};
use crate::scene::{self, Diagnostics, Precheck, Scene, SourceMap};
use crate::space::*;

/// How far (m) a door's `at` point may lie from its wall.
pub const DOOR_SNAP: f64 = 0.05;

/// The walkable and the blocked polygons a street adds to its level, and its drawn geometry.
struct StreetParts {
    walkable: Vec<Polygon<f64>>,
    carriageway: Vec<Polygon<f64>>,
    crossings: Vec<Polygon<f64>>,
    geom: StreetGeom,
}

fn quad(a: DVec2, b: DVec2, c: DVec2, d: DVec2) -> Polygon<f64> {
    polygon(&[[a.x, a.y], [b.x, b.y], [c.x, c.y], [d.x, d.y]], &[])
}

/// Where a distance along a polyline falls: the point and the unit direction there.
pub fn along(line: &[Point], distance: f64) -> Option<(DVec2, DVec2)> {
    let mut left = distance;
    for pair in line.windows(2) {
        let (a, b) = (v(pair[0]), v(pair[1]));
        let len = a.distance(b);
        if len > 1e-9 && left <= len {
            let dir = (b - a) / len;
            return Some((a + dir * left, dir));
        }
        left -= len;
    }
    None
}

/// The polyline moved `d` metres to its left (negative: right), corners mitred (bevelled when sharp).
fn offset(line: &[DVec2], d: f64) -> Vec<DVec2> {
    let normals: Vec<DVec2> =
        line.windows(2).map(|w| (w[1] - w[0]).try_normalize().map_or(DVec2::ZERO, |t| t.perp())).collect();
    let mut out = Vec::with_capacity(line.len());
    for (i, p) in line.iter().enumerate() {
        let before = normals.get(i.wrapping_sub(1)).copied().unwrap_or(normals[0]);
        let after = normals.get(i).copied().unwrap_or(before);
        let mitre = (before + after).try_normalize().unwrap_or(after);
        let cos = mitre.dot(after);
        out.push(*p + mitre * (d / cos.max(0.34)));
    }
    out
}

/// The edges of `area`'s rings, as walls.
fn boundary_walls(area: &MultiPolygon<f64>) -> impl Iterator<Item = WallSegment> + '_ {
    rings(area).flat_map(|ring| ring.lines()).filter_map(|line| {
        let (a, b) = (DVec2::new(line.start.x, line.start.y), DVec2::new(line.end.x, line.end.y));
        (a.distance(b) > 1e-9).then_some(WallSegment { a, b })
    })
}

/// A street's parts; crossings for which `usable` is false (their numbers failed the scene checks)
/// are left out.
fn expand_street(
    street: &scene::Street,
    level: LevelId,
    first_lane: &mut usize,
    first_crossing: &mut usize,
    usable: impl Fn(&str) -> bool,
) -> StreetParts {
    let half = street.carriageway / 2.0;
    let (left, right) = street.sidewalks;
    let mut parts = StreetParts {
        walkable: Vec::new(),
        carriageway: Vec::new(),
        crossings: Vec::new(),
        geom: StreetGeom {
            id: street.id.clone(),
            level,
            centerline: street.centerline.iter().map(|p| v(*p)).collect(),
            width: street.carriageway,
            kerb_height: street.kerb,
            fenced: street.fenced,
            one_way: street.one_way,
            speed_limit: street.speed_limit / 3.6,
            closed: false,
            carriageway: Vec::new(),
            sidewalks: Vec::new(),
            kerbs: Vec::new(),
            lane_markings: Vec::new(),
            lanes: Vec::new(),
            crossings: Vec::new(),
        },
    };
    for pair in street.centerline.windows(2) {
        let (a, b) = (v(pair[0]), v(pair[1]));
        if a.distance(b) < 1e-9 {
            continue;
        }
        let n = (b - a).normalize().perp();
        // Extended a little along the line so that consecutive segments overlap at bends.
        let d = (b - a).normalize() * 0.01;
        let (a, b) = (a - d, b + d);
        let corners = [a - n * half, b - n * half, b + n * half, a + n * half];
        parts.carriageway.push(quad(corners[0], corners[1], corners[2], corners[3]));
        parts.geom.carriageway.push(corners.to_vec());
        if left > 0.0 {
            let c = [a + n * half, b + n * half, b + n * (half + left), a + n * (half + left)];
            parts.walkable.push(quad(c[0], c[1], c[2], c[3]));
            parts.geom.sidewalks.push(c.to_vec());
        }
        if right > 0.0 {
            let c = [a - n * (half + right), b - n * (half + right), b - n * half, a - n * half];
            parts.walkable.push(quad(c[0], c[1], c[2], c[3]));
            parts.geom.sidewalks.push(c.to_vec());
        }
    }
    for crossing in street.crossings.iter().filter(|c| usable(&c.id)) {
        if let Some((p, dir)) = along(&street.centerline, crossing.at) {
            let (n, w) = (dir.perp(), dir * crossing.width / 2.0);
            // Across the whole carriageway and a hair into each sidewalk, so that it joins them.
            let reach = half + 0.05;
            let c = [p - w - n * reach, p + w - n * reach, p + w + n * reach, p - w + n * reach];
            parts.crossings.push(quad(c[0], c[1], c[2], c[3]));
            parts.geom.crossings.push(CrossingGeom {
                id: crossing.id.clone(),
                crossing: CrossingId::from_index(*first_crossing),
                at: crossing.at,
                width: crossing.width,
                signal: crossing.signal,
                polygon: c.to_vec(),
            });
            *first_crossing += 1;
        }
    }
    // Lanes from the right-hand kerb leftwards; traffic keeps to the right, so on a two-way
    // street the right-hand half runs forward (a single lane carries both ways, drawn forward).
    let centre = &parts.geom.centerline;
    let lanes = street.lanes.max(1) as usize;
    let width = street.carriageway / lanes as f64;
    let forward = if street.one_way { lanes } else { lanes.div_ceil(2) };
    parts.geom.kerbs = vec![offset(centre, half), offset(centre, -half)];
    for k in 1..lanes {
        parts.geom.lane_markings.push(offset(centre, -half + width * k as f64));
    }
    for i in 0..lanes {
        let mut line = offset(centre, -half + width * (i as f64 + 0.5));
        let direction = if i < forward { LaneDirection::Forward } else { LaneDirection::Backward };
        // Counted from the kerb on the driver's right.
        let slot = if direction == LaneDirection::Forward { i } else { lanes - 1 - i };
        if direction == LaneDirection::Backward {
            line.reverse();
        }
        let same_way = if direction == LaneDirection::Forward { forward } else { lanes - forward };
        // A non-motorised lane only where motor traffic keeps a lane of its own beside it.
        let kind = if street.bike_lanes && slot == 0 && same_way >= 2 { LaneKind::NonMotor } else { LaneKind::General };
        parts.geom.lanes.push(LaneGeom {
            id: LaneId::from_index(*first_lane),
            centerline: line,
            width,
            direction,
            slot: slot as u32,
            kind,
        });
        *first_lane += 1;
    }
    parts
}

/// A stair's horizontal free speeds (up, down), m/s: the scene's, or IMO MSC.1/Circ.1533's along the
/// slope (0.8 up, 1.0 down) projected onto the horizontal.
pub fn stair_speeds(stair: &scene::Stair, rise: f64) -> (f64, f64) {
    let horizontal = stair.run / (stair.run * stair.run + rise * rise).sqrt();
    (stair.speed_up.unwrap_or(0.8 * horizontal), stair.speed_down.unwrap_or(1.0 * horizontal))
}

fn building_use(u: scene::BuildingUse) -> BuildingUse {
    match u {
        scene::BuildingUse::Shop => BuildingUse::Shop,
        scene::BuildingUse::Office => BuildingUse::Office,
        scene::BuildingUse::Residence => BuildingUse::Residence,
        scene::BuildingUse::Heritage => BuildingUse::Heritage,
        scene::BuildingUse::Mixed => BuildingUse::Mixed,
    }
}

fn rings(mp: &MultiPolygon<f64>) -> impl Iterator<Item = &geo::LineString<f64>> {
    mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
}

/// Builds every level. Problems with doors and stairs are reported into `diags`; the objects at
/// fault are left out so that the rest can still be checked. Objects whose own geometry failed the
/// scene checks (`pre.unusable`) are skipped.
pub fn build_space(scene: &Scene, src: &SourceMap, pre: &Precheck, diags: &mut Diagnostics) -> Space {
    let usable = |id: &str| pre.usable(id);
    let crosses_anywhere =
        scene.traffic.crossing_rules.outside_crossings.as_ref().is_some_and(|o| o.share > 0.0 && o.share <= 1.0);
    let level_index: BTreeMap<String, LevelId> =
        scene.levels.iter().enumerate().map(|(i, l)| (l.id.clone(), LevelId::from_index(i))).collect();
    let level_of = |id: &str| level_index.get(id).copied();
    let elevation = |id: &str| level_of(id).map_or(0.0, |l| scene.levels[l.index()].elevation);
    // Stairs whose ends and numbers are sound; each gets a corridor level after the floors.
    let stairs: Vec<&scene::Stair> = scene
        .stairs
        .iter()
        .filter(|st| {
            usable(&st.id)
                && level_of(&st.foot.level).is_some()
                && level_of(&st.head.level).is_some()
                && st.width > 0.0
                && st.run > 0.0
                && elevation(&st.head.level) > elevation(&st.foot.level)
        })
        .collect();
    let mut space = Space::default();
    let (mut first_lane, mut first_crossing) = (0, 0);
    for (li, level) in scene.levels.iter().enumerate() {
        let li = LevelId::from_index(li);
        let streets: Vec<StreetParts> = scene
            .streets
            .iter()
            .filter(|st| level_of(&st.level) == Some(li) && st.centerline.len() >= 2 && usable(&st.id))
            .map(|st| expand_street(st, li, &mut first_lane, &mut first_crossing, usable))
            .collect();
        let areas: Vec<Polygon<f64>> = level
            .walkable
            .iter()
            .filter(|a| usable(&a.id))
            .map(|a| polygon(&a.outer, &a.holes))
            .chain(streets.iter().flat_map(|g| g.walkable.iter().chain(&g.crossings).cloned()))
            .collect();
        let outline = crate::geom::union_all(areas.iter());
        let mut walkable = outline.clone();
        let crossings: Vec<Polygon<f64>> = streets.iter().flat_map(|g| g.crossings.iter().cloned()).collect();
        let crossings = crate::geom::union_all(crossings.iter());
        // Carriageways (crossings cut out), fenced or not: closed to pedestrians who keep to the crossings.
        let carriageways: Vec<(bool, Polygon<f64>)> = streets
            .iter()
            .flat_map(|g| g.carriageway.iter().map(move |c| (g.geom.fenced, c)))
            .flat_map(|(fenced, c)| {
                MultiPolygon::new(vec![c.clone()]).difference(&crossings).0.into_iter().map(move |p| (fenced, p))
            })
            .collect();
        let solid: Vec<Polygon<f64>> = scene
            .obstacles
            .iter()
            .filter(|o| level_of(&o.level) == Some(li) && usable(&o.id))
            .map(|o| polygon(&o.footprint, &[]))
            .chain(
                scene
                    .buildings
                    .iter()
                    .filter(|b| level_of(&b.level) == Some(li) && usable(&b.id))
                    .map(|b| polygon(&b.footprint, &[])),
            )
            .collect();
        let blocked: Vec<Polygon<f64>> =
            solid.iter().cloned().chain(carriageways.iter().map(|c| c.1.clone())).collect();
        if !blocked.is_empty() {
            walkable = crate::geom::clean(&walkable.difference(&crate::geom::union_all(blocked.iter())));
        }
        let scene_walls = || {
            level.walls.iter().filter(|w| usable(&w.id)).flat_map(|w| w.points.windows(2)).filter_map(|pair| {
                let (a, b) = (v(pair[0]), v(pair[1]));
                (a.distance(b) > 1e-9).then_some(WallSegment { a, b })
            })
        };
        let base_walls: Vec<WallSegment> = boundary_walls(&walkable).chain(scene_walls()).collect();
        // Those who cross anywhere walk on unfenced carriageways too; fenced ones stay closed.
        let open = (crosses_anywhere && carriageways.iter().any(|c| !c.0)).then(|| {
            let unfenced = carriageways.iter().filter(|c| !c.0).map(|c| &c.1);
            let joined = crate::geom::union_all(outline.0.iter().chain(unfenced));
            let closed = solid.iter().chain(carriageways.iter().filter(|c| c.0).map(|c| &c.1));
            let walkable = crate::geom::clean(&joined.difference(&crate::geom::union_all(closed)));
            let base_walls = boundary_walls(&walkable).chain(scene_walls()).collect();
            Box::new(OpenLevel { walkable, base_walls, walls: Vec::new(), wall_tree: Default::default() })
        });
        let mut level_space =
            LevelSpace::new(level.id.clone(), LevelKind::Floor, level.elevation, walkable, outline, base_walls);
        level_space.open = open;
        space.levels.push(level_space);
        for st in streets {
            space.streets.push(st.geom);
        }
    }

    for st in &stairs {
        let rise = elevation(&st.head.level) - elevation(&st.foot.level);
        let (speed_up, speed_down) = stair_speeds(st, rise);
        let (w, run) = (st.width, st.run);
        let rect = polygon(&[[0.0, 0.0], [run, 0.0], [run, w], [0.0, w]], &[]);
        let walkable = MultiPolygon::new(vec![rect]);
        let base_walls = vec![
            WallSegment { a: DVec2::new(0.0, 0.0), b: DVec2::new(run, 0.0) },
            WallSegment { a: DVec2::new(run, 0.0), b: DVec2::new(run, w) },
            WallSegment { a: DVec2::new(run, w), b: DVec2::new(0.0, w) },
            WallSegment { a: DVec2::new(0.0, w), b: DVec2::new(0.0, 0.0) },
        ];
        let si = space.stairs.next_id();
        let level = space.levels.push(LevelSpace::new(
            format!("stair '{}'", st.id),
            LevelKind::Stair(si),
            elevation(&st.foot.level),
            walkable.clone(),
            walkable,
            base_walls,
        ));
        space.stairs.push(StairGeom {
            id: st.id.clone(),
            level,
            foot_level: level_index[&st.foot.level],
            head_level: level_index[&st.head.level],
            width: w,
            run,
            rise,
            speed_up,
            speed_down,
            flow_up: st.flow_up,
            flow_down: st.flow_down,
            direction: st.direction.into(),
            foot_world: v(st.foot.at),
            head_world: v(st.head.at),
        });
    }

    space.level_index = level_index.clone();
    place_doors(scene, src, pre, &stairs, &mut space, diags);

    for zone in scene.zones.iter().filter(|z| usable(&z.id)) {
        if let Some(level) = level_of(&zone.level) {
            space.zones.push(ZoneGeom {
                id: zone.id.clone(),
                level,
                polygon: zone.polygon.clone(),
                blocked: zone.blocked,
                smoke: zone.smoke,
            });
        }
    }
    for d in &scene.destinations {
        if let Some(level) = level_of(&d.level) {
            let passed_by = matches!(d.dwell, crate::scene::Distribution::Constant(t) if t <= 0.0);
            let pass_by_when_full = d.when_full == crate::scene::WhenFull::PassBy;
            let fills_from_back = d.fill == crate::scene::Fill::FromTheBack;
            space.destinations.push(DestinationGeom {
                id: d.id.clone(),
                level,
                area: d.area.clone(),
                area_m2: crate::geom::ring_signed_area(&d.area).abs(),
                passed_by,
                pass_by_when_full,
                fills_from_back,
            });
        }
    }
    for b in scene.buildings.iter().filter(|b| usable(&b.id)) {
        if let Some(level) = level_of(&b.level) {
            space.buildings.push(BuildingGeom {
                id: b.id.clone(),
                level,
                footprint: b.footprint.clone(),
                height: b.height,
                floors: b.floors,
                usage: building_use(b.usage),
            });
        }
    }
    for o in scene.obstacles.iter().filter(|o| usable(&o.id)) {
        if let Some(level) = level_of(&o.level) {
            space.obstacles.push(ObstacleGeom {
                id: o.id.clone(),
                level,
                footprint: o.footprint.clone(),
                height: o.height,
            });
        }
    }
    for m in &scene.measurements {
        if let scene::Measurement::Area { id, level, polygon: ring, area_per_person } = m
            && usable(id)
            && let Some(level) = level_of(level)
        {
            use geo::Area;
            let shape = polygon(ring, &[]);
            let area_m2 = shape.unsigned_area();
            let walkable_m2 =
                MultiPolygon::new(vec![shape]).intersection(&space.levels[level].walkable).unsigned_area();
            space.areas.push(AreaGeom {
                id: id.clone(),
                level,
                polygon: ring.clone(),
                area_m2,
                walkable_m2,
                capacity: area_per_person.map(|a| walkable_m2 / a),
            });
        }
    }
    for h in scene.hold_lines.iter().filter(|h| usable(&h.id)) {
        let (a, b, q) = (v(h.from), v(h.to), v(h.held_from));
        let side = (b - a).perp_dot(q - a);
        if let Some(level) = level_of(&h.level)
            && side != 0.0
        {
            space.hold_lines.push(HoldLineGeom {
                id: h.id.clone(),
                level,
                a,
                b,
                held_side: side.signum(),
                release: LineRelease::Free,
                queue: h
                    .queue
                    .as_ref()
                    .and_then(|q| space.areas.iter().position(|a| &a.id == q))
                    .map(AreaId::from_index),
                version: 0,
            });
        }
    }
    for b in &scene.barriers {
        if let Some(level) = level_of(&b.level)
            && b.line.len() >= 2
        {
            let mut points: Vec<DVec2> = b.line.iter().map(|&p| v(p)).collect();
            if b.closed {
                points.push(points[0]);
            }
            let segments = points.windows(2).map(|w| WallSegment { a: w[0], b: w[1] }).collect();
            space.barriers.push(BarrierGeom {
                id: b.id.clone(),
                level,
                segments,
                closed: b.closed,
                fallen: b.fallen,
                placed: b.placed,
            });
        }
    }
    for h in &scene.hazards {
        if let Some(level) = level_of(&h.level) {
            space.hazards.push(HazardGeom {
                id: h.id.clone(),
                level,
                at: v(h.at),
                radius: h.radius,
                growth: h.growth,
                max_radius: h.max_radius,
                started: None,
                blocked_radius: 0.0,
                polygon: Vec::new(),
            });
        }
    }
    for signal in &scene.signals {
        space.signals.push(SignalControl {
            id: signal.id.clone(),
            plans: signal.plans.iter().map(|p| (p.id.clone(), p.phases.len())).collect(),
            plan: 0,
            hold: None,
            version: 0,
        });
    }
    space.finish();
    space.arrival_doors = scene
        .populations
        .iter()
        .filter_map(|p| match &p.placement {
            scene::Placement::Arrivals { door, .. } => space.door_index.get(door).copied(),
            _ => None,
        })
        .collect();
    space
}

/// Places the scene's doors and four openings per stair on their walls, and pairs the stair
/// openings into portals.
fn place_doors(
    scene: &Scene,
    src: &SourceMap,
    pre: &Precheck,
    stairs: &[&scene::Stair],
    space: &mut Space,
    diags: &mut Diagnostics,
) {
    struct DoorSpec {
        id: String,
        kind: &'static str,
        object: String,
        level: LevelId,
        at: DVec2,
        width: f64,
        open: bool,
        exit: bool,
        stair: Option<(StairId, bool)>,
    }
    let floors = scene.levels.len();
    let mut specs: Vec<DoorSpec> = Vec::new();
    for door in &scene.doors {
        let Some(&li) = space.level_index.get(&door.level) else { continue };
        if !pre.usable(&door.id) || !(door.width > 0.0) || door.at.iter().any(|c| !c.is_finite()) {
            continue; // reported by the scene checks
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
    for (st, (si, g)) in stairs.iter().zip(space.stairs.enumerate()) {
        let end = |id: String, level: LevelId, at: DVec2, head: bool| DoorSpec {
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

    let mut stair_doors: BTreeMap<(StairId, bool, bool), DoorId> = BTreeMap::new();
    for spec in &specs {
        let li = spec.level;
        if li.index() < floors && !pre.level_sound(scene, li.index()) {
            continue; // the broken area is reported; its doors cannot be placed meaningfully
        }
        let level = &space.levels[li];
        let level_name = level.id.clone();
        let at = spec.at;
        let nearest =
            level.base_walls.iter().map(|w| (distance_to_segment(at, w.a, w.b), w)).min_by(|x, y| x.0.total_cmp(&y.0));
        let Some((_, wall)) = nearest.filter(|(d, _)| *d <= DOOR_SNAP) else {
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
        let (left_in, right_in) = (level.contains(centre + normal * probe), level.contains(centre - normal * probe));
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
            stair_doors.insert((si, head, li.index() >= floors), space.doors.next_id());
        }
        space.doors.push(DoorGeom {
            id: spec.id.clone(),
            level: li,
            a,
            b,
            open: spec.open,
            boundary,
            exit: boundary && spec.exit,
            normal,
            kind: DoorKind::Scene,
            one_way: None,
        });
    }
    // Pair each stair end: the floor's opening and the corridor's.
    for (si, g) in space.stairs.enumerate() {
        let (up_ok, down_ok) = g.direction.entries();
        for head in [false, true] {
            let (Some(&floor), Some(&step)) = (stair_doors.get(&(si, head, false)), stair_doors.get(&(si, head, true)))
            else {
                continue;
            };
            // At the foot, stepping on goes up; at the head, stepping on goes down.
            let (onto, off) = if head { (down_ok, up_ok) } else { (up_ok, down_ok) };
            let p: PortalId =
                space.portals.push(Portal { door: floor, peer: step, stair: si, onto_stair: true, allowed: onto });
            space.doors[floor].kind = DoorKind::StairOpening(p);
            let q = space.portals.push(Portal { door: step, peer: floor, stair: si, onto_stair: false, allowed: off });
            space.doors[step].kind = DoorKind::StairOpening(q);
        }
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
