//! From `Features` (local metres) to a checked scene: cleaning polygons, buffering walkable lines,
//! placing exits on the walkable boundary, spreading people, and writing the scene as RON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bevy::math::DVec2;
use geo::{
    Area as _, BooleanOps, BoundingRect, ConvexHull, Coord, LineString, MultiPoint, MultiPolygon, Polygon, Rect,
};
use sha2::{Digest, Sha256};

use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use super::{
    DEFAULT_EXIT_WIDTH, EXIT_SNAP, Features, ImportError, ImportOptions, ImportSummary, Imported, MAX_BUILDING_HEIGHT,
    MAX_BUILDING_LEVELS, MAX_EXITS, MAX_LINE_WIDTH, MAX_NAV_CELL, MAX_NAV_CELLS, MAX_PIECE_CORNERS,
    MAX_POLYGON_CORNERS, MAX_VERTICES, MIN_LINE_WIDTH, Notes, SourceLine, SourcePolygon, default_width, short_num,
};
use crate::geom::{closest_on_segment, ring_contains, ring_signed_area, segments_intersect, v};
use crate::ids::LevelId;
use crate::scene::load::{hex, parse_scene, ron_options};
use crate::scene::{
    Area, Building, Diagnostics, Door, LatLon, Level, LoadedScene, PedestrianModel, Placement, Point, Population,
    Precheck, Routing, RunSettings, Scene, SourceMap, Street, Unit, UnitKind,
};
use crate::twin::Twin;

/// Coordinates are written to the millimetre.
const MM: f64 = 1000.0;
/// Polygons smaller than this (m²) are dropped as slivers.
const MIN_AREA: f64 = 0.05;
/// Spawn polygons smaller than this (m²) get nobody.
const MIN_SPAWN_AREA: f64 = 1.0;
/// Spawn polygons are cut into tiles of at most this edge (m), which keeps placement fast.
const SPAWN_TILE: f64 = 100.0;
/// Agent radius assumed when estimating how many people fit (the scene default).
const RADIUS: f64 = 0.21;
/// Width of an exit added when the file has none, m (narrower if its wall is shorter).
const ADDED_EXIT_WIDTH: f64 = 2.0;
/// Narrowest door placed, m.
const MIN_DOOR_WIDTH: f64 = 0.8;
/// Simulated time limit written to the scene, s (the run ends earlier once everyone has left).
const DURATION: f64 = 3600.0;
pub(crate) const LEVEL: &str = "ground";

type Ring = Vec<Point>;

pub(crate) fn build_scene(
    features: Features,
    file: &Path,
    origin: LatLon,
    options: &ImportOptions,
    format: &str,
    bytes: &[u8],
) -> Result<Imported, Vec<ImportError>> {
    check_limits(&features, file)?;
    let Features { walk_areas, walk_lines, buildings: source_buildings, exits, roads, mut notes } = features;
    let mut ids = Ids::default();
    // The road network's ids are made from OSM ids and are unique among themselves; no other
    // object may take one.
    ids.used.extend(roads.ids().into_iter().map(String::from));

    // Walkable polygons.
    let mut areas: Vec<Area> = Vec::new();
    let mut refused: Vec<ImportError> = Vec::new();
    let refuse = |refused: &mut Vec<ImportError>, label: &str, pos: Option<(usize, usize)>, why: String| {
        let mut e = ImportError::new(file, why).object(label).hint(
            "simplify the outline (e.g. ogr2ogr -simplify 0.05, or JOSM's Simplify Way), or split it into several features",
        );
        e.pos = pos;
        refused.push(e);
    };
    for source in &walk_areas {
        match clean_polygon(&source.polygon(), &source.label, &mut notes) {
            Ok(pieces) => {
                for (outer, holes) in pieces {
                    areas.push(Area { id: ids.make(&source.id), outer, holes });
                }
            }
            Err(why) => refuse(&mut refused, &source.label, source.pos, why),
        }
    }

    // Walkable lines, buffered.
    let lines: Vec<SourceLine> = walk_lines
        .into_iter()
        .map(|mut line| {
            if line.kind.width_assumed {
                notes.assume(
                    format!(
                        "no `width`: highway={} taken as {} m wide (defaults: footway 2.0, steps 2.0, path 1.5, pedestrian 4.0, living_street 5.0 m)",
                        line.kind.highway, line.kind.width
                    ),
                    line.label.clone(),
                );
            }
            if line.kind.width < MIN_LINE_WIDTH {
                notes.assume(
                    format!("`width` below {MIN_LINE_WIDTH} m raised to {MIN_LINE_WIDTH} m so that one person passes"),
                    line.label.clone(),
                );
                line.kind.width = MIN_LINE_WIDTH;
            }
            if line.kind.steps {
                notes.assume(
                    "highway=steps imported as a flat walkway on this level (stairs between levels are a separate feature)",
                    line.label.clone(),
                );
            }
            line
        })
        .collect();
    for (line, shape) in lines.iter().zip(buffer_lines(&lines, &mut notes)) {
        for polygon in shape {
            match clean_polygon(&polygon, &line.label, &mut notes) {
                Ok(pieces) => {
                    for (outer, holes) in pieces {
                        areas.push(Area { id: ids.make(&line.id), outer, holes });
                    }
                }
                Err(why) => refuse(&mut refused, &line.label, line.pos, why),
            }
        }
    }
    if !refused.is_empty() {
        refused.truncate(20);
        return Err(refused);
    }
    if areas.is_empty() && roads.streets.is_empty() {
        let mut message = "no walkable features found".to_string();
        if !notes.skipped.is_empty() {
            let shown: Vec<&str> = notes.skipped.iter().take(3).map(String::as_str).collect();
            message += &format!(" ({} skipped: {}", notes.skipped.len(), shown.join("; "));
            if notes.skipped.len() > 3 {
                message += "; …";
            }
            message += ")";
        }
        return Err(vec![ImportError::new(file, message).hint(
            "walkable: polygons with unitwin=walkable, highway=pedestrian, area:highway=* or place=square; lines with \
             highway=footway|pedestrian|path|steps|living_street or unitwin=walkable; roads (OSM): \
             highway=primary|secondary|tertiary|residential|service|…",
        )]);
    }

    // Buildings: footprints without holes (courtyards are kept open by cutting the footprint).
    let mut buildings: Vec<Building> = Vec::new();
    for source in &source_buildings {
        let label = &source.polygon.label;
        let cleaned = match clean_polygon(&source.polygon.polygon(), label, &mut notes) {
            Ok(c) => c,
            Err(why) => {
                refuse(&mut refused, label, source.polygon.pos, why);
                continue;
            }
        };
        let mut pieces: Vec<Ring> = Vec::new();
        for (outer, holes) in cleaned {
            if holes.is_empty() {
                pieces.push(outer);
                continue;
            }
            let split = split_holes(crate::geom::polygon(&outer, &holes), 0);
            notes.assume(
                "a footprint with courtyards is split into pieces without holes, so that the courtyards stay open",
                label.clone(),
            );
            for piece in split {
                if let Some((outer, _)) = clean_polygon(&piece, label, &mut notes).ok().into_iter().flatten().next() {
                    pieces.push(outer);
                }
            }
        }
        for outer in pieces {
            buildings.push(Building {
                id: ids.make(&source.polygon.id),
                level: LEVEL.into(),
                footprint: outer,
                height: (source.height * 100.0).round() / 100.0,
                floors: source.floors.max(1),
                usage: crate::scene::BuildingUse::Mixed,
            });
        }
    }

    if !refused.is_empty() {
        refused.truncate(20);
        return Err(refused);
    }
    // A unit's name is one line (the scene check refuses control characters in it).
    let name: String = options
        .name
        .clone()
        .unwrap_or_else(|| file.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned()))
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let nav_cell = nav_cell_for(&areas, &roads.streets);
    if nav_cell > 0.25 {
        notes.assume(
            format!("navigation cell {nav_cell} m instead of 0.25 m to keep the grid below 4 million cells"),
            "the whole scene",
        );
    }
    let mut scene = Scene {
        version: crate::scene::SCENE_VERSION,
        unit: Unit { name, kind: UnitKind::Neighbourhood, origin, sources: String::new() },
        run: RunSettings { step: 0.05, duration: DURATION, seed: options.seed, output_interval: 0.5, nav_cell },
        model: PedestrianModel::default(),
        routing: Routing::Static,
        levels: vec![Level { id: LEVEL.into(), elevation: 0.0, walkable: areas, walls: Vec::new() }],
        stairs: Vec::new(),
        streets: roads.streets.clone(),
        junctions: roads.junctions.clone(),
        signals: roads.signals.clone(),
        traffic: crate::scene::Traffic {
            flows: super::roads::flows(&roads, options.vehicles.unwrap_or(0.0)),
            ..Default::default()
        },
        obstacles: Vec::new(),
        buildings,
        doors: Vec::new(),
        destinations: Vec::new(),
        zones: Vec::new(),
        populations: Vec::new(),
        measurements: Vec::new(),
        events: Vec::new(),
        hold_lines: Vec::new(),
        playbooks: Vec::new(),
        barriers: Vec::new(),
        hazards: Vec::new(),
    };
    if let Some(vph) = options.vehicles.filter(|v| *v > 0.0) {
        if scene.traffic.flows.is_empty() {
            notes.skip("--vehicles: no street end at the data's edge where vehicles could come in");
        } else {
            for f in &scene.traffic.flows {
                notes.assume(
                    format!("{} ({} vehicles/h at each)", super::roads::FLOW_NOTE, short_num(vph)),
                    f.id.clone(),
                );
            }
        }
    }
    let internal = |d: Diagnostics| -> Vec<ImportError> {
        d.0.iter()
            .map(|d| {
                let mut e = ImportError::new(file, format!("the imported scene does not check: {}", d.message));
                e.object = d.object.clone();
                e.hint = d.hint.clone();
                e
            })
            .collect()
    };
    // The walkable space as the engine builds it (areas joined, buildings cut out).
    let mut diags = Diagnostics::default();
    let everything = Precheck { world_safe: true, ..Default::default() };
    let space = crate::twin::space::build_space(&scene, &SourceMap::new(file, String::new()), &everything, &mut diags);
    if !diags.is_empty() {
        return Err(internal(diags));
    }

    // Exits on the walkable boundary.
    let walkable = space.levels[LevelId(0)].walkable.clone();
    let runs = boundary_runs(&walkable);
    let run_tree: RTree<GeomWithData<Line<[f64; 2]>, usize>> = RTree::bulk_load(
        runs.iter().enumerate().map(|(k, r)| GeomWithData::new(Line::new([r.a.x, r.a.y], [r.b.x, r.b.y]), k)).collect(),
    );
    for exit in &exits {
        let width = exit.width.unwrap_or_else(|| {
            notes.assume(format!("exit without `width`: {DEFAULT_EXIT_WIDTH:.1} m wide"), exit.label.clone());
            DEFAULT_EXIT_WIDTH
        });
        match place_door(v(exit.at), width, &runs, &run_tree, &scene.doors) {
            Ok((at, w)) => {
                if w < width - 1e-9 {
                    notes.assume(format!("exit narrowed to fit its wall ({width} m → {w:.2} m)"), exit.label.clone());
                }
                scene.doors.push(door(ids.make(&exit.id), at, w));
            }
            Err(why) => notes.skip(format!("{}: exit not placed: {why}", exit.label)),
        }
    }
    let mut added_exits = 0;
    if options.people.is_some_and(|n| n > 0) && scene.doors.is_empty() {
        let (at, w) = added_exit(&walkable).map_err(|why| {
            vec![
                ImportError::new(file, format!("--people needs an exit, and the file has none usable: {why}"))
                    .hint("tag an entrance point (entrance=* or unitwin=exit) within 2 m of the walkable space's edge"),
            ]
        })?;
        add_exit(&mut scene, &mut ids, &mut notes, (at, w), "the file has no usable exit");
        added_exits = 1;
    }

    // People, proportional to walkable area, only where an exit can be reached.
    let mut people = 0;
    if let Some(total) = options.people.filter(|n| *n > 0) {
        let mut checked = check_dropping_doors(&mut scene, file, &mut notes).map_err(internal)?;
        // The file's exits may all have been left out by the check, or lie between two walkable
        // sides (not leading out): then an exit is added as for a file without any.
        if checked.nav.any_exit.is_none() && added_exits == 0 {
            if let Ok(exit) = added_exit(&walkable) {
                add_exit(
                    &mut scene,
                    &mut ids,
                    &mut notes,
                    exit,
                    "none of the file's exits leads out of the walkable space",
                );
                added_exits = 1;
                checked = check_dropping_doors(&mut scene, file, &mut notes).map_err(internal)?;
            }
        }
        if checked.nav.any_exit.is_none() {
            return Err(vec![
                ImportError::new(file, "--people needs an exit on the edge of the walkable space, and none could be placed")
                    .hint("tag an entrance point (entrance=* or unitwin=exit) within 2 m of the walkable space's outer edge; unit.sources lists the exits left out"),
            ]);
        }
        let (pops, unreachable_m2) = spread_people(&checked, total).map_err(|why| {
            vec![ImportError::new(file, why).hint(
                "--people fills at most half of what fits at the densest packing, only where an exit can be reached: \
                 ask for fewer people, or check the exits",
            )]
        })?;
        if unreachable_m2 > 0.5 {
            notes.skip(format!(
                "{unreachable_m2:.0} m² of walkable space from which no exit can be reached: nobody placed there"
            ));
        }
        people = total;
        scene.populations = pops;
    }

    if options.people.is_none_or(|n| n == 0) {
        check_dropping_doors(&mut scene, file, &mut notes).map_err(internal)?;
    }
    scene.unit.sources = sources_text(file, format, origin, &notes);
    let text = render(&scene, file, format, bytes, options, &roads.comments);
    let loaded =
        parse_scene(SourceMap::new(file, text.clone()), hex(&Sha256::digest(text.as_bytes()))).map_err(internal)?;
    let checked = crate::twin::build(loaded).map_err(internal)?;
    let exits_n = checked.space.exits().count();
    let summary = ImportSummary {
        areas: scene.levels[0].walkable.len(),
        walkable_m2: checked.space.levels[LevelId(0)].walkable_area(),
        buildings: scene.buildings.len(),
        exits: exits_n,
        added_exits,
        people,
        populations: scene.populations.len(),
        assumptions: notes.assumption_lines(),
        skipped: notes.skipped.clone(),
        nav_cell,
        streets: scene.streets.len(),
        crossings: scene.streets.iter().map(|s| s.crossings.len()).sum(),
        junctions: scene.junctions.len(),
        signals: scene.signals.len(),
        flows: scene.traffic.flows.len(),
    };
    Ok(Imported { scene: checked.loaded.scene, text, summary })
}

impl SourcePolygon {
    fn polygon(&self) -> Polygon<f64> {
        crate::geom::polygon(&self.outer, &self.holes)
    }
}

/// Unique scene ids from suggestions: `base`, then `base_2`, `base_3`, … (each base remembers its
/// next number, so many features with one id take linear time).
#[derive(Default)]
struct Ids {
    used: BTreeSet<String>,
    next: BTreeMap<String, usize>,
}

impl Ids {
    fn make(&mut self, suggestion: &str) -> String {
        let base = super::sanitize_id(suggestion);
        let n = self.next.entry(base.clone()).or_insert(2);
        let mut id = base.clone();
        while self.used.contains(&id) {
            id = format!("{base}_{n}");
            *n += 1;
        }
        self.used.insert(id.clone());
        id
    }
}

/// Adds the exit found by [`added_exit`], and says why in the scene's assumptions.
fn add_exit(scene: &mut Scene, ids: &mut Ids, notes: &mut Notes, (at, w): (Point, f64), why: &str) {
    scene.doors.push(door(ids.make("exit_added"), at, w));
    notes.assume(
        format!(
            "{why}: one {w:.2} m exit added where the largest walkable area meets its bounding box, at ({:.1}, {:.1})",
            at[0], at[1]
        ),
        "exit_added",
    );
}

fn door(id: String, at: Point, width: f64) -> Door {
    Door { id, level: LEVEL.into(), at, width: (width * 1000.0).floor() / 1000.0, open: true, exit: true }
}

/// Checks the scene; a door that `check` refuses (it should not happen: doors are placed on the
/// boundary the engine builds) is left out with a note rather than failing the import.
fn check_dropping_doors(scene: &mut Scene, file: &Path, notes: &mut Notes) -> Result<Twin, Diagnostics> {
    loop {
        let diags = match check(scene, file) {
            Ok(checked) => return Ok(checked),
            Err(diags) => diags,
        };
        let refused: Vec<(String, String)> = diags
            .0
            .iter()
            .filter_map(|d| {
                let id = d.object.as_deref()?.strip_prefix("door '")?.strip_suffix('\'')?;
                Some((id.to_string(), d.message.clone()))
            })
            .collect();
        if refused.is_empty() || refused.len() < diags.0.len() {
            return Err(diags);
        }
        for (id, why) in &refused {
            notes.skip(format!("exit '{id}' left out: {why}"));
        }
        scene.doors.retain(|d| !refused.iter().any(|(id, _)| *id == d.id));
    }
}

fn check(scene: &Scene, file: &Path) -> Result<Twin, Diagnostics> {
    crate::twin::build(LoadedScene {
        scene: scene.clone(),
        source: SourceMap::new(file, String::new()),
        hash: String::new(),
    })
}

fn mm(x: f64) -> f64 {
    let r = (x * MM).round() / MM;
    if r == 0.0 { 0.0 } else { r }
}

fn ring_points(ring: &LineString<f64>) -> Ring {
    let mut pts: Ring = ring.0.iter().map(|c| [c.x, c.y]).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts
}

/// Drops repeated points and points within 0.5 mm of the line through their neighbours, in one
/// pass (a point is dropped as soon as the next kept point shows it is in line; dropping it
/// re-examines the point before it).
fn simplify_ring(mut ring: Ring) -> Ring {
    ring.dedup();
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() <= 3 {
        return ring;
    }
    let in_line = |a: Point, b: Point, c: Point| {
        let (a, b, c) = (v(a), v(b), v(c));
        let len = a.distance(c);
        let off = if len < 1e-9 { a.distance(b) } else { (c - a).perp_dot(b - a).abs() / len };
        off < 5e-4
    };
    let mut out: Ring = Vec::with_capacity(ring.len());
    for p in ring {
        while out.len() >= 2 && in_line(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        out.push(p);
    }
    // Across the seam: the last point between its predecessor and the first, the first between
    // the last and the second.
    let mut start = 0;
    while out.len() - start > 3 {
        let last = out.len() - 1;
        if in_line(out[last - 1], out[last], out[start]) {
            out.pop();
        } else if in_line(out[last], out[start], out[start + 1]) {
            start += 1;
        } else {
            break;
        }
    }
    out.drain(..start);
    out
}

/// Why a ring set would fail `unitwin check`, mirroring its polygon rules.
fn polygon_problem(outer: &Ring, holes: &[Ring]) -> Option<String> {
    use geo::Validation;
    for ring in std::iter::once(outer).chain(holes) {
        if ring.len() < 3 || ring.iter().flatten().any(|c| !c.is_finite()) {
            return Some("fewer than three distinct corners".into());
        }
        let n = ring.len();
        for i in 0..n {
            for j in i + 2..n {
                if i == 0 && j == n - 1 {
                    continue;
                }
                if segments_intersect(v(ring[i]), v(ring[(i + 1) % n]), v(ring[j]), v(ring[(j + 1) % n])) {
                    return Some("its outline touches or crosses itself".into());
                }
            }
        }
        if ring_signed_area(ring).abs() < 1e-6 {
            return Some("zero area".into());
        }
    }
    if let Err(e) = crate::geom::polygon(outer, holes).check_validation() {
        return Some(format!("invalid polygon: {e}"));
    }
    None
}

/// Repairs a polygon (self-intersections, any ring orientation) and returns valid pieces with
/// counter-clockwise outlines and clockwise holes, to the millimetre; reports what it drops.
/// A piece with more than `MAX_POLYGON_CORNERS` corners (once rounded and simplified) is refused
/// (`Err`, the reason): the scene checker tests every pair of a ring's edges.
fn clean_polygon(polygon: &Polygon<f64>, label: &str, notes: &mut Notes) -> Result<Vec<(Ring, Vec<Ring>)>, String> {
    let ring_area = |r: &LineString<f64>| ring_signed_area(&ring_points(r)).abs();
    // The area the rings enclose if valid; it differs from the repaired area when they are not.
    let input_area = ring_area(polygon.exterior()) - polygon.interiors().iter().map(ring_area).sum::<f64>();
    if polygon
        .exterior()
        .0
        .iter()
        .chain(polygon.interiors().iter().flat_map(|r| &r.0))
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        notes.skip(format!("{label}: a polygon with a non-finite coordinate"));
        return Ok(Vec::new());
    }
    // A union with nothing, under the even-odd rule: resolves self-intersections, any orientation.
    let repaired = MultiPolygon::new(vec![polygon.clone()]).union(&MultiPolygon::<f64>::new(Vec::new()));
    if repaired.unsigned_area() < MIN_AREA {
        notes.skip(format!("{label}: degenerate polygon (area {:.3} m²)", repaired.unsigned_area()));
        return Ok(Vec::new());
    }
    let orient = |ring: &LineString<f64>, ccw: bool| {
        let mut pts = ring_points(ring);
        if (ring_signed_area(&pts) > 0.0) != ccw {
            pts.reverse();
        }
        pts
    };
    // Simplified before and after rounding: rounding to the millimetre moves points of a smooth
    // curve off the line through their neighbours, so the first pass does most of the work.
    let rounded =
        |ring: &Ring| simplify_ring(simplify_ring(ring.clone()).iter().map(|p| [mm(p[0]), mm(p[1])]).collect());
    let mut out = Vec::new();
    let mut dropped_small = 0;
    for piece in &repaired.0 {
        if piece.unsigned_area() < MIN_AREA {
            dropped_small += 1;
            continue;
        }
        let outer = orient(piece.exterior(), true);
        let holes: Vec<Ring> = piece
            .interiors()
            .iter()
            .map(|h| orient(h, false))
            .filter(|h| ring_signed_area(h).abs() >= MIN_AREA)
            .collect();
        let rounded_outer = rounded(&outer);
        let rounded_holes: Vec<Ring> = holes.iter().map(rounded).collect();
        let n = rounded_outer.len() + rounded_holes.iter().map(Vec::len).sum::<usize>();
        if n > MAX_POLYGON_CORNERS {
            return Err(format!(
                "its outline has {n} corners once cleaned (holes included); the import takes at most \
                 {MAX_POLYGON_CORNERS} per polygon"
            ));
        }
        if polygon_problem(&rounded_outer, &rounded_holes).is_none() {
            out.push((rounded_outer, rounded_holes));
        } else if polygon_problem(&outer, &holes).is_none() {
            out.push((outer, holes));
        } else {
            let why = polygon_problem(&outer, &holes).unwrap_or_default();
            notes.skip(format!("{label}: a piece of {:.1} m² could not be cleaned ({why})", piece.unsigned_area()));
        }
    }
    if dropped_small > 0 {
        notes.skip(format!("{label}: {dropped_small} sliver(s) under {MIN_AREA} m² dropped"));
    }
    let kept: f64 = out.iter().map(|(o, h)| crate::geom::polygon(o, h).unsigned_area()).sum();
    if repaired.0.len() > 1 || (kept - input_area).abs() > 1e-3 * input_area.max(1.0) {
        notes.assume(
            format!("outline crossed or overlapped itself: repaired by the even-odd rule, {kept:.1} m² kept"),
            label.to_string(),
        );
    }
    Ok(out)
}

/// Corners of a polygon, outline and holes, without the rings' closing repeats.
fn corners(p: &Polygon<f64>) -> usize {
    std::iter::once(p.exterior()).chain(p.interiors()).map(|r| r.0.len().saturating_sub(1)).sum()
}

/// Cuts a spawn polygon into pieces of at most `MAX_PIECE_CORNERS` corners by halving its
/// bounding box across the longer side, as often as needed: the scene checker tests every pair of
/// edges of a population's polygon, and spawning tests every cell against it.
///
/// Not used for walkable areas: `geo::unary_union` (geo 0.33.1, i_overlay 4.5.2) was seen never to
/// return on a few dozen such touching pieces (the engine now joins areas with `geom::union_all`,
/// which unions them in milliseconds; `tests/robustness.rs` keeps them).
fn split_to_cap(p: Polygon<f64>, depth: usize) -> Vec<Polygon<f64>> {
    if corners(&p) <= MAX_PIECE_CORNERS || depth >= 48 {
        return vec![p];
    }
    let Some(b) = p.bounding_rect() else { return vec![p] };
    let (lo, hi) = (b.min(), b.max());
    let halves = if b.width() >= b.height() {
        let cx = (lo.x + hi.x) / 2.0;
        [
            Rect::new(Coord { x: lo.x - 1.0, y: lo.y - 1.0 }, Coord { x: cx, y: hi.y + 1.0 }),
            Rect::new(Coord { x: cx, y: lo.y - 1.0 }, Coord { x: hi.x + 1.0, y: hi.y + 1.0 }),
        ]
    } else {
        let cy = (lo.y + hi.y) / 2.0;
        [
            Rect::new(Coord { x: lo.x - 1.0, y: lo.y - 1.0 }, Coord { x: hi.x + 1.0, y: cy }),
            Rect::new(Coord { x: lo.x - 1.0, y: cy }, Coord { x: hi.x + 1.0, y: hi.y + 1.0 }),
        ]
    };
    let whole = MultiPolygon::new(vec![p]);
    halves
        .iter()
        .flat_map(|half| whole.intersection(&half.to_polygon()).0)
        .flat_map(|q| split_to_cap(q, depth + 1))
        .collect()
}

/// Each walkable line as polygons: one rectangle (flat caps) per segment, width/2 either side,
/// plus at every vertex shared by two or more segments the convex hull of their end edges (a
/// bevelled join, also closing the gap where separate ways meet). Unioned per line.
fn buffer_lines(lines: &[SourceLine], notes: &mut Notes) -> Vec<Vec<Polygon<f64>>> {
    type Key = (u64, u64);
    let key = |p: DVec2| (p.x.to_bits(), p.y.to_bits());
    let mut incident: BTreeMap<Key, Vec<DVec2>> = BTreeMap::new();
    let mut segments: Vec<Vec<(DVec2, DVec2, DVec2)>> = Vec::new();
    for line in lines {
        let half = line.kind.width / 2.0;
        let mut pts: Vec<DVec2> = Vec::new();
        for p in line.points.iter().map(|p| v(*p)) {
            if pts.last().is_none_or(|q| q.distance(p) >= 1e-3) {
                pts.push(p);
            }
        }
        let mut segs = Vec::new();
        for w in pts.windows(2) {
            let dir = (w[1] - w[0]).normalize();
            let n = DVec2::new(-dir.y, dir.x) * half;
            incident.entry(key(w[0])).or_default().push(n);
            incident.entry(key(w[1])).or_default().push(n);
            segs.push((w[0], w[1], n));
        }
        if segs.is_empty() {
            notes.skip(format!("{}: a line with fewer than two distinct points", line.label));
        }
        segments.push(segs);
    }
    let poly = |pts: &[DVec2]| {
        Polygon::new(LineString::from(pts.iter().map(|p| Coord { x: p.x, y: p.y }).collect::<Vec<_>>()), vec![])
    };
    segments
        .iter()
        .map(|segs| {
            let mut parts: Vec<Polygon<f64>> = Vec::new();
            let mut vertices: Vec<DVec2> = Vec::new();
            for &(a, b, n) in segs {
                parts.push(poly(&[a - n, b - n, b + n, a + n]));
                vertices.push(a);
                vertices.push(b);
            }
            vertices.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y)));
            vertices.dedup();
            for p in vertices {
                let normals = &incident[&key(p)];
                if normals.len() < 2 {
                    continue;
                }
                let corners: MultiPoint<f64> =
                    normals.iter().flat_map(|n| [p + *n, p - *n]).map(|c| geo::Point::new(c.x, c.y)).collect();
                let hull = corners.convex_hull();
                if hull.unsigned_area() > 1e-6 {
                    let mut ring = ring_points(hull.exterior());
                    if ring_signed_area(&ring) < 0.0 {
                        ring.reverse();
                    }
                    parts.push(crate::geom::polygon(&ring, &[]));
                }
            }
            if parts.is_empty() { Vec::new() } else { crate::geom::union_all(parts.iter()).0 }
        })
        .collect()
}

/// Cuts a polygon with holes into pieces without holes: a vertical cut through the middle of a
/// hole opens it; repeated until no piece has a hole.
fn split_holes(p: Polygon<f64>, depth: usize) -> Vec<Polygon<f64>> {
    if p.interiors().is_empty() || depth > 64 {
        return vec![p];
    }
    let (Some(hole), Some(bounds)) = (p.interiors()[0].bounding_rect(), p.bounding_rect()) else {
        return vec![p];
    };
    let cx = (hole.min().x + hole.max().x) / 2.0;
    let (lo, hi) = (bounds.min(), bounds.max());
    let halves = [
        Rect::new(Coord { x: lo.x - 1.0, y: lo.y - 1.0 }, Coord { x: cx, y: hi.y + 1.0 }),
        Rect::new(Coord { x: cx, y: lo.y - 1.0 }, Coord { x: hi.x + 1.0, y: hi.y + 1.0 }),
    ];
    let whole = MultiPolygon::new(vec![p]);
    halves
        .iter()
        .flat_map(|half| whole.intersection(&half.to_polygon()).0)
        .flat_map(|q| split_holes(q, depth + 1))
        .collect()
}

/// A straight piece of the walkable boundary: consecutive collinear edges joined.
#[derive(Clone, Copy, Debug)]
struct Run {
    a: DVec2,
    b: DVec2,
    /// On the outline of polygon `polygon` (index into the walkable multipolygon), exterior ring.
    polygon: usize,
    exterior: bool,
}

fn boundary_runs(walkable: &MultiPolygon<f64>) -> Vec<Run> {
    let mut runs = Vec::new();
    for (pi, poly) in walkable.0.iter().enumerate() {
        for (ri, ring) in std::iter::once(poly.exterior()).chain(poly.interiors()).enumerate() {
            let pts = ring_points(ring);
            let n = pts.len();
            if n < 3 {
                continue;
            }
            // Start at a corner, so that a run never wraps around the ring's first point.
            let corner = |i: usize| {
                let (a, b, c) = (v(pts[(i + n - 1) % n]), v(pts[i]), v(pts[(i + 1) % n]));
                let len = a.distance(c).max(1e-12);
                (c - a).perp_dot(b - a).abs() / len > 1e-4
            };
            let Some(start) = (0..n).find(|&i| corner(i)) else { continue };
            let mut a = v(pts[start]);
            for k in 1..=n {
                let i = (start + k) % n;
                if k == n || corner(i) {
                    let b = v(pts[i]);
                    if a.distance(b) > 1e-6 {
                        runs.push(Run { a, b, polygon: pi, exterior: ri == 0 });
                    }
                    a = b;
                }
            }
        }
    }
    runs
}

/// Places a door of `width` on the run nearest to `q` (within `EXIT_SNAP`), narrowing it to its
/// run if needed. Returns its centre and width.
/// `tree` indexes `runs` (by position in it), so that many exits along a long boundary stay fast.
fn place_door(
    q: DVec2,
    width: f64,
    runs: &[Run],
    tree: &RTree<GeomWithData<Line<[f64; 2]>, usize>>,
    doors: &[Door],
) -> Result<(Point, f64), String> {
    let mut near: Vec<(f64, usize)> = tree
        .locate_within_distance([q.x, q.y], EXIT_SNAP * EXIT_SNAP * 1.0001)
        .map(|g| (closest_on_segment(q, runs[g.data].a, runs[g.data].b).distance(q), g.data))
        .filter(|(d, _)| *d <= EXIT_SNAP)
        .collect();
    near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let near: Vec<(f64, &Run)> = near.into_iter().map(|(d, k)| (d, &runs[k])).collect();
    let Some(&(nearest, _)) = near.first() else {
        let d = tree
            .nearest_neighbor(&[q.x, q.y])
            .map_or(f64::INFINITY, |g| closest_on_segment(q, runs[g.data].a, runs[g.data].b).distance(q));
        return Err(format!("it is {d:.1} m from the walkable space (at most {EXIT_SNAP} m)"));
    };
    // The nearest run (or one at most 0.5 m further) that takes the full width; else the nearest
    // run with the door narrowed to it; else any run within reach, full width or narrowed.
    let length = |r: &Run| r.a.distance(r.b);
    let full = |(d, r): &&(f64, &Run)| length(r) >= width + 0.02 && *d <= nearest + 0.5;
    let narrowed = |(_, r): &&(f64, &Run)| length(r) - 0.02 >= MIN_DOOR_WIDTH;
    let choice = near
        .iter()
        .find(full)
        .map(|(_, r)| (*r, width))
        .or_else(|| near.first().filter(narrowed).map(|(_, r)| (*r, length(r) - 0.02)))
        .or_else(|| near.iter().find(|(_, r)| length(r) >= width + 0.02).map(|(_, r)| (*r, width)))
        .or_else(|| near.iter().find(narrowed).map(|(_, r)| (*r, length(r) - 0.02)));
    let Some((run, w)) = choice else {
        return Err(format!(
            "no straight piece of the walkable edge within {EXIT_SNAP} m is at least {MIN_DOOR_WIDTH} m long"
        ));
    };
    let len = run.a.distance(run.b);
    let dir = (run.b - run.a) / len;
    // A door narrowed to its run leaves lo == hi up to rounding: `clamp` would panic on lo > hi.
    let (lo, hi) = (w / 2.0 + 0.01, len - w / 2.0 - 0.01);
    let t = if lo < hi { (q - run.a).dot(dir).clamp(lo, hi) } else { len / 2.0 };
    let centre = run.a + dir * t;
    if let Some(other) = doors.iter().find(|d| v(d.at).distance(centre) < (d.width + w) / 2.0 + 0.1) {
        return Err(format!("it would overlap exit '{}'", other.id));
    }
    Ok(([mm(centre.x), mm(centre.y)], w))
}

/// An exit where the largest walkable polygon meets its bounding box: the longest straight piece
/// of its outline lying on the box, else the longest piece touching it.
fn added_exit(walkable: &MultiPolygon<f64>) -> Result<(Point, f64), String> {
    let (index, largest) = walkable
        .0
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.unsigned_area().total_cmp(&b.1.unsigned_area()))
        .ok_or("no walkable space")?;
    let bounds = largest.bounding_rect().ok_or("no walkable space")?;
    let (lo, hi) = (bounds.min(), bounds.max());
    let on = |p: DVec2| {
        [(p.x - lo.x).abs() < 1e-3, (p.x - hi.x).abs() < 1e-3, (p.y - lo.y).abs() < 1e-3, (p.y - hi.y).abs() < 1e-3]
    };
    let runs: Vec<Run> = boundary_runs(walkable).into_iter().filter(|r| r.polygon == index && r.exterior).collect();
    let length = |r: &&Run| r.a.distance(r.b);
    let along = runs
        .iter()
        .filter(|r| on(r.a).iter().zip(on(r.b)).any(|(x, y)| *x && y))
        .max_by(|x, y| length(x).total_cmp(&length(y)));
    let touching = runs
        .iter()
        .filter(|r| on(r.a).iter().chain(&on(r.b)).any(|x| *x))
        .max_by(|x, y| length(x).total_cmp(&length(y)));
    let run = along
        .filter(|r| length(r) >= 1.0)
        .or(touching)
        .ok_or("the walkable outline has no edge on its bounding box")?;
    let w = ADDED_EXIT_WIDTH.min(length(&run) - 0.02);
    if w < MIN_DOOR_WIDTH {
        return Err(format!("the longest edge on the bounding box is only {:.2} m long", length(&run)));
    }
    let c = (run.a + run.b) / 2.0;
    Ok(([mm(c.x), mm(c.y)], w))
}

/// Cells of the navigation grid over a `w` × `h` m bounding box with `cell`-m cells, as the engine
/// lays it out (two cells of margin on every side; see `NavGrid::build`), plus one cell each way
/// for the millimetre rounding of written coordinates.
fn grid_cells(w: f64, h: f64, cell: f64) -> f64 {
    ((w / cell).ceil() + 5.0) * ((h / cell).ceil() + 5.0)
}

/// The navigation cell: 0.25 m unless the grid would exceed `MAX_NAV_CELLS`; then the finest of
/// 0.30, 0.35, … 1.0 m that keeps it below. `check_limits` has made sure 1 m does.
fn nav_cell_for(areas: &[Area], streets: &[Street]) -> f64 {
    let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for p in areas.iter().flat_map(|a| &a.outer) {
        lo = lo.min(v(*p));
        hi = hi.max(v(*p));
    }
    for s in streets {
        let margin = street_margin(s);
        for p in &s.centerline {
            lo = lo.min(v(*p) - margin);
            hi = hi.max(v(*p) + margin);
        }
    }
    let size = (hi - lo).max(DVec2::ZERO);
    (5..=20)
        .map(|k| k as f64 * 0.05)
        .find(|&cell| grid_cells(size.x, size.y, cell) <= MAX_NAV_CELLS)
        .unwrap_or(MAX_NAV_CELL)
}

/// How far a street's walkable and blocked parts reach from its centre line, m.
fn street_margin(s: &Street) -> f64 {
    s.carriageway / 2.0 + s.sidewalks.0.max(s.sidewalks.1) + 0.05
}

/// The westmost, eastmost, southmost and northmost coordinate seen, with the feature it belongs to.
#[derive(Clone, Copy)]
struct Extreme<'a> {
    at: f64,
    label: &'a str,
    pos: Option<(usize, usize)>,
}

struct Extent<'a>([Extreme<'a>; 4]);

impl Default for Extent<'_> {
    fn default() -> Self {
        let e = |at: f64| Extreme { at, label: "", pos: None };
        Extent([e(f64::INFINITY), e(f64::NEG_INFINITY), e(f64::INFINITY), e(f64::NEG_INFINITY)])
    }
}

impl<'a> Extent<'a> {
    fn take(&mut self, p: &Point, margin: f64, label: &'a str, pos: Option<(usize, usize)>) {
        let [west, east, south, north] = &mut self.0;
        if p[0] - margin < west.at {
            *west = Extreme { at: p[0] - margin, label, pos };
        }
        if p[0] + margin > east.at {
            *east = Extreme { at: p[0] + margin, label, pos };
        }
        if p[1] - margin < south.at {
            *south = Extreme { at: p[1] - margin, label, pos };
        }
        if p[1] + margin > north.at {
            *north = Extreme { at: p[1] + margin, label, pos };
        }
    }
}

/// Refuses, before any geometry work, what would break the import's bounds (see the limits in
/// `import`): implausible widths and heights, too many corners or exits, and features spread so
/// far that even 1 m navigation cells would exceed `MAX_NAV_CELLS`. Each error names the feature.
fn check_limits(f: &Features, file: &Path) -> Result<(), Vec<ImportError>> {
    const MAX_ERRORS: usize = 20;
    let located = |label: &str, pos: Option<(usize, usize)>, message: String| {
        let mut e = ImportError::new(file, message).object(label);
        e.pos = pos;
        e
    };
    let mut errors = Vec::new();
    for line in &f.walk_lines {
        if line.kind.width > MAX_LINE_WIDTH {
            let highway = &line.kind.highway;
            errors.push(
                located(
                    &line.label,
                    line.pos,
                    format!(
                        "its width ({} m) is not plausible for a walkable way: at most {MAX_LINE_WIDTH} m",
                        short_num(line.kind.width)
                    ),
                )
                .hint(format!(
                    "fix or remove its `width` (without one, highway={highway} is taken as {} m wide); draw a wide \
                     square as an area (place=square or area:highway=*)",
                    default_width(highway)
                )),
            );
        }
    }
    for b in &f.buildings {
        if !(b.height <= MAX_BUILDING_HEIGHT) || b.floors as f64 > MAX_BUILDING_LEVELS {
            errors.push(
                located(
                    &b.polygon.label,
                    b.polygon.pos,
                    format!(
                        "its size ({} m, {} storeys) is not plausible for a building: at most {MAX_BUILDING_HEIGHT} m \
                         and {MAX_BUILDING_LEVELS} storeys",
                        short_num(b.height),
                        b.floors
                    ),
                )
                .hint("fix its `height` (m) or `building:levels` (storeys)"),
            );
        }
    }
    if errors.len() > MAX_ERRORS {
        errors.truncate(MAX_ERRORS);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Corners, in file order; the feature that goes over the limit is named.
    let polygon_size = |p: &SourcePolygon| p.outer.len() + p.holes.iter().map(Vec::len).sum::<usize>();
    let all: Vec<(&str, Option<(usize, usize)>, usize)> = f
        .walk_areas
        .iter()
        .map(|p| (p.label.as_str(), p.pos, polygon_size(p)))
        .chain(f.walk_lines.iter().map(|l| (l.label.as_str(), l.pos, l.points.len())))
        .chain(f.buildings.iter().map(|b| (b.polygon.label.as_str(), b.polygon.pos, polygon_size(&b.polygon))))
        .chain(
            f.roads
                .streets
                .iter()
                .zip(&f.roads.sources)
                .map(|(s, (label, pos))| (label.as_str(), *pos, s.centerline.len())),
        )
        .collect();
    let mut total = 0usize;
    for &(label, pos, n) in &all {
        total += n;
        if total > MAX_VERTICES {
            let sum: usize = all.iter().map(|a| a.2).sum();
            return Err(vec![
                located(
                    label,
                    pos,
                    format!(
                        "the kept features reach {MAX_VERTICES} corners here ({sum} in all); the import takes at most \
                         {MAX_VERTICES}"
                    ),
                )
                .hint("crop the file to the unit, or simplify the geometry (e.g. ogr2ogr -simplify 0.1)"),
            ]);
        }
    }
    if let Some(exit) = f.exits.get(MAX_EXITS) {
        return Err(vec![
            located(
                &exit.label,
                exit.pos,
                format!(
                    "more than {MAX_EXITS} exits (entrance=* or unitwin=exit points, {} in all); the import places at most {MAX_EXITS}",
                    f.exits.len()
                ),
            )
            .hint("keep the entrances that lead out of the unit (e.g. drop building entrances), or crop the file"),
        ]);
    }

    // Extent: the bounding box of every kept feature (lines with half their width).
    let mut ext = Extent::default();
    for p in f.walk_areas.iter().chain(f.buildings.iter().map(|b| &b.polygon)) {
        for q in p.outer.iter().chain(p.holes.iter().flatten()) {
            ext.take(q, 0.0, &p.label, p.pos);
        }
    }
    for l in &f.walk_lines {
        for q in &l.points {
            ext.take(q, l.kind.width.max(MIN_LINE_WIDTH) / 2.0, &l.label, l.pos);
        }
    }
    for (s, (label, pos)) in f.roads.streets.iter().zip(&f.roads.sources) {
        for q in &s.centerline {
            ext.take(q, street_margin(s), label, *pos);
        }
    }
    let [west, east, south, north] = ext.0;
    let (w, h) = (east.at - west.at, north.at - south.at);
    if w.is_finite() && h.is_finite() && grid_cells(w, h, MAX_NAV_CELL) > MAX_NAV_CELLS {
        let (a, b, dirs) = if w >= h { (west, east, ("west", "east")) } else { (south, north, ("south", "north")) };
        // The one further from --origin is named first: a stray feature is the likelier mistake.
        let (named, other, named_dir, other_dir) =
            if b.at.abs() >= a.at.abs() { (b, a, dirs.1, dirs.0) } else { (a, b, dirs.0, dirs.1) };
        return Err(vec![
            located(
                named.label,
                named.pos,
                format!(
                    "the kept features span {:.1} km west–east × {:.1} km south–north, from {} in the {other_dir} to \
                     this feature in the {named_dir}: even with 1 m navigation cells that is {:.1} million cells, above \
                     the {:.0} million the import allows (e.g. 2 km × 2 km, or 4 km × 1 km)",
                    w / 1000.0,
                    h / 1000.0,
                    other.label,
                    grid_cells(w, h, MAX_NAV_CELL) / 1e6,
                    MAX_NAV_CELLS / 1e6
                ),
            )
            .hint(
                "crop the file to the unit (e.g. osmium extract -b LON1,LAT1,LON2,LAT2), remove stray features far \
                 from the rest, or split the area into several scenes",
            ),
        ]);
    }
    Ok(())
}

/// Populations over the walkable space that can reach an exit, in tiles without holes, with counts
/// proportional to area and at most half of what fits at the densest packing. Also returns the
/// walkable m² left empty because no exit can be reached from it.
fn spread_people(checked: &Twin, total: u32) -> Result<(Vec<Population>, f64), String> {
    let level = &checked.space.levels[LevelId(0)];
    let grid = &checked.nav.grids[LevelId(0)];
    let field = checked.nav.any_exit.map(|i| checked.nav.field(i, LevelId(0))).ok_or("the scene has no exit")?;
    let cells_in = |ring: &Ring| -> Vec<(usize, bool)> {
        let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
        for p in ring {
            lo = lo.min(v(*p));
            hi = hi.max(v(*p));
        }
        let i0 = ((lo.x - grid.origin.x) / grid.cell).floor().max(0.0) as usize;
        let j0 = ((lo.y - grid.origin.y) / grid.cell).floor().max(0.0) as usize;
        let i1 = (((hi.x - grid.origin.x) / grid.cell).ceil().max(0.0) as usize).min(grid.nx);
        let j1 = (((hi.y - grid.origin.y) / grid.cell).ceil().max(0.0) as usize).min(grid.ny);
        let mut out = Vec::new();
        for j in j0..j1 {
            for i in i0..i1 {
                let k = j * grid.nx + i;
                if grid.walkable[k] && ring_contains(ring, grid.center(k)) {
                    out.push((k, field.reaches(grid, grid.center(k))));
                }
            }
        }
        out
    };

    // Nobody starts on a carriageway (on the crossings over it): people begin on the sidewalks.
    let roadway: Vec<Polygon<f64>> = checked
        .space
        .streets
        .iter()
        .flat_map(|s| &s.carriageway)
        .map(|q| crate::geom::polygon(&q.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(), &[]))
        .collect();
    let roadway = crate::geom::union_all(roadway.iter());

    // Tiles without holes.
    let mut pieces: Vec<Polygon<f64>> = Vec::new();
    for poly in &level.walkable.0 {
        let Some(b) = poly.bounding_rect() else { continue };
        let whole = MultiPolygon::new(vec![poly.clone()]);
        let whole = if roadway.0.is_empty() { whole } else { crate::geom::clean(&whole.difference(&roadway)) };
        let (nx, ny) = (((b.width()) / SPAWN_TILE).ceil().max(1.0), ((b.height()) / SPAWN_TILE).ceil().max(1.0));
        let (tw, th) = (b.width() / nx + 1e-9, b.height() / ny + 1e-9);
        for j in 0..ny as usize {
            for i in 0..nx as usize {
                let tiles: Vec<Polygon<f64>> = if nx * ny == 1.0 {
                    whole.0.clone()
                } else {
                    let x0 = b.min().x + i as f64 * tw;
                    let y0 = b.min().y + j as f64 * th;
                    let tile = Rect::new(Coord { x: x0, y: y0 }, Coord { x: x0 + tw, y: y0 + th });
                    whole.intersection(&tile.to_polygon()).0
                };
                for t in tiles {
                    pieces.extend(
                        split_holes(t, 0)
                            .into_iter()
                            .flat_map(|p| split_to_cap(p, 0))
                            .filter(|p| p.unsigned_area() >= MIN_SPAWN_AREA),
                    );
                }
            }
        }
    }

    // Keep only what reaches an exit.
    let mut rings: Vec<(Ring, f64)> = Vec::new();
    let mut unreachable = 0.0;
    for piece in pieces {
        let mut todo = vec![piece];
        for round in 0..3 {
            let mut next = Vec::new();
            for p in todo {
                let area = p.unsigned_area();
                let mut ring = ring_points(p.exterior()).iter().map(|q| [mm(q[0]), mm(q[1])]).collect::<Ring>();
                ring = simplify_ring(ring);
                if polygon_problem(&ring, &[]).is_some() {
                    unreachable += 0.0; // a sliver the rounding broke: left empty
                    continue;
                }
                let cells = cells_in(&ring);
                let bad: Vec<usize> = cells.iter().filter(|c| !c.1).map(|c| c.0).collect();
                if bad.is_empty() {
                    if !cells.is_empty() {
                        rings.push((ring, area));
                    }
                    continue;
                }
                if bad.len() == cells.len() || round == 2 {
                    unreachable += area;
                    continue;
                }
                let half = grid.cell * 0.51;
                let squares: Vec<Polygon<f64>> = bad
                    .iter()
                    .map(|&k| {
                        let c = grid.center(k);
                        Rect::new(Coord { x: c.x - half, y: c.y - half }, Coord { x: c.x + half, y: c.y + half })
                            .to_polygon()
                    })
                    .collect();
                let cut = MultiPolygon::new(vec![p]).difference(&crate::geom::union_all(squares.iter()));
                unreachable += area - cut.unsigned_area();
                next.extend(
                    cut.0
                        .into_iter()
                        .flat_map(|q| split_holes(q, 0))
                        .flat_map(|q| split_to_cap(q, 0))
                        .filter(|q| q.unsigned_area() >= MIN_SPAWN_AREA),
                );
            }
            todo = next;
            if todo.is_empty() {
                break;
            }
        }
    }
    if rings.is_empty() {
        return Err("--people: no part of the walkable space can reach an exit".into());
    }

    // Capacity: half of what fits at the densest packing, as the engine places people.
    let mut rng = crate::crowd::spawn::population_rng(0, 0);
    let caps: Vec<u32> = rings
        .iter()
        .map(|(ring, area)| {
            match crate::twin::placement::place_in_area(level, ring, 1 << 30, RADIUS, *area, &mut rng) {
                Ok(p) => p.len() as u32 / 2,
                Err(fitted) => fitted as u32 / 2,
            }
        })
        .collect();
    let weights: Vec<f64> = rings.iter().map(|r| r.1).collect();
    let capacity: u64 = caps.iter().map(|&c| c as u64).sum();
    let counts = apportion(total, &weights, &caps).ok_or_else(|| {
        let area: f64 = weights.iter().sum();
        format!(
            "--people {total}: the {area:.0} m² of walkable space that reaches an exit holds at most {capacity} people at import's limit (half the densest packing)"
        )
    })?;
    let template: Population = ron_options()
        .from_str(&format!("Population(id: \"p\", level: \"{LEVEL}\", placement: Area(polygon: [], count: 0))"))
        .expect("a population with defaults parses");
    let mut pops = Vec::new();
    for ((ring, _), count) in rings.into_iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let mut p = template.clone();
        p.id = format!("people_{}", pops.len() + 1);
        p.placement = Placement::Area { polygon: ring, count };
        pops.push(p);
    }
    Ok((pops, unreachable))
}

/// Splits `total` over pieces in proportion to `weights`, none above its cap (largest remainder).
fn apportion(total: u32, weights: &[f64], caps: &[u32]) -> Option<Vec<u32>> {
    if caps.iter().map(|&c| c as u64).sum::<u64>() < total as u64 {
        return None;
    }
    let mut counts = vec![0u32; weights.len()];
    let mut remaining = total;
    while remaining > 0 {
        let open: Vec<usize> = (0..weights.len()).filter(|&i| counts[i] < caps[i]).collect();
        let sum: f64 = open.iter().map(|&i| weights[i]).sum();
        let mut shares: Vec<(f64, usize)> = Vec::new();
        let mut given = 0;
        for &i in &open {
            let share = remaining as f64 * weights[i] / sum.max(1e-12);
            let add = (share.floor() as u32).min(caps[i] - counts[i]);
            counts[i] += add;
            given += add;
            shares.push((share - share.floor(), i));
        }
        remaining -= given;
        if given == 0 {
            shares.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (_, i) in shares {
                if remaining == 0 {
                    break;
                }
                if counts[i] < caps[i] {
                    counts[i] += 1;
                    remaining -= 1;
                }
            }
        }
    }
    Some(counts)
}

fn sources_text(file: &Path, format: &str, origin: LatLon, notes: &Notes) -> String {
    let mut s = format!(
        "Imported from {} ({format}) by unitwin {} with origin {}, {}: x east, y north in metres on a local tangent plane \
         of the WGS84 ellipsoid (under 0.1 % scale error within a few km). Everything is on level 'ground'; buildings \
         cut the walkable space.",
        file.display(),
        env!("CARGO_PKG_VERSION"),
        origin.lat,
        origin.lon
    );
    let assumed = notes.assumption_lines();
    if !assumed.is_empty() {
        s += "\nAssumed:";
        for a in assumed {
            s += &format!("\n- {a}");
        }
    }
    if !notes.names.is_empty() {
        s += "\nStreets:";
        for n in notes.names.iter().take(200) {
            s += &format!("\n- {n}");
        }
        if notes.names.len() > 200 {
            s += &format!("\n- and {} more", notes.names.len() - 200);
        }
    }
    if !notes.skipped.is_empty() {
        s += "\nSkipped:";
        for k in notes.skipped.iter().take(40) {
            s += &format!("\n- {k}");
        }
        if notes.skipped.len() > 40 {
            s += &format!("\n- and {} more", notes.skipped.len() - 40);
        }
    }
    s
}

// ---- RON output -----------------------------------------------------------------------------

fn num(x: f64) -> String {
    format!("{x:?}")
}

fn string(s: &str) -> String {
    if s.contains('\n') && !s.contains("\"#") {
        format!("r#\"{s}\"#")
    } else {
        ron::to_string(&s).expect("strings serialize")
    }
}

fn points(pts: &[Point], indent: &str) -> String {
    let items: Vec<String> = pts.iter().map(|p| format!("({}, {})", num(p[0]), num(p[1]))).collect();
    if items.len() <= 8 {
        return format!("[{}]", items.join(", "));
    }
    let lines: Vec<String> = items.chunks(8).map(|c| format!("{indent}    {},", c.join(", "))).collect();
    format!("[\n{}\n{indent}]", lines.join("\n"))
}

/// The scene as RON, in the style of `scenes/*.ron`, with a header saying where it came from.
fn render(
    scene: &Scene,
    file: &Path,
    format: &str,
    bytes: &[u8],
    options: &ImportOptions,
    comments: &[String],
) -> String {
    let mut o = String::new();
    o += &format!(
        "// Imported from {} ({format}, SHA-256 {}) by unitwin {}.\n",
        crate::scene::diagnostic::one_line(&file.display().to_string()),
        hex(&Sha256::digest(bytes)),
        env!("CARGO_PKG_VERSION")
    );
    if let Some(cmd) = &options.command {
        o += &format!("//   {}\n", crate::scene::diagnostic::one_line(cmd));
    }
    o += "// Local metres (x east, y north) about unit.origin; unit.sources lists assumptions and skipped features.\n";
    o += "Scene(\n    version: 1,\n";
    let u = &scene.unit;
    o += &format!(
        "    unit: Unit(\n        name: {},\n        kind: {:?},\n        origin: (lat: {}, lon: {}),\n        sources: {},\n    ),\n",
        string(&u.name),
        u.kind,
        num(u.origin.lat),
        num(u.origin.lon),
        string(&u.sources)
    );
    let r = &scene.run;
    o += &format!(
        "    run: RunSettings(step: {}, duration: {}, seed: {}, output_interval: {}, nav_cell: {}),\n",
        num(r.step),
        num(r.duration),
        r.seed,
        num(r.output_interval),
        num(r.nav_cell)
    );
    o += "    levels: [\n";
    for level in &scene.levels {
        o += &format!(
            "        Level(\n            id: {},\n            elevation: {},\n            walkable: [\n",
            string(&level.id),
            num(level.elevation)
        );
        let ind = "                ";
        for a in &level.walkable {
            o += &format!("{ind}Area(id: {}, outer: {}", string(&a.id), points(&a.outer, ind));
            if !a.holes.is_empty() {
                let holes: Vec<String> = a.holes.iter().map(|h| points(h, ind)).collect();
                o += &format!(", holes: [{}]", holes.join(", "));
            }
            o += "),\n";
        }
        o += "            ],\n        ),\n";
    }
    o += "    ],\n";
    let ind = "        ";
    if !scene.buildings.is_empty() {
        o += "    buildings: [\n";
        for b in &scene.buildings {
            o += &format!(
                "{ind}Building(id: {}, level: {}, footprint: {}, height: {}, floors: {}),\n",
                string(&b.id),
                string(&b.level),
                points(&b.footprint, ind),
                num(b.height),
                b.floors
            );
        }
        o += "    ],\n";
    }
    if !scene.doors.is_empty() {
        o += "    doors: [\n";
        for d in &scene.doors {
            o += &format!(
                "{ind}Door(id: {}, level: {}, at: ({}, {}), width: {}),\n",
                string(&d.id),
                string(&d.level),
                num(d.at[0]),
                num(d.at[1]),
                num(d.width)
            );
        }
        o += "    ],\n";
    }
    render_roads(&mut o, scene, comments);
    o += "    populations: [\n";
    for p in &scene.populations {
        if let Placement::Area { polygon, count } = &p.placement {
            o += &format!(
                "{ind}Population(id: {}, level: {}, placement: Area(polygon: {}, count: {count}), goal: NearestExit),\n",
                string(&p.id),
                string(&p.level),
                points(polygon, ind)
            );
        }
    }
    o += "    ],\n)\n";
    o
}

/// Streets, junctions and signals, with the signal plans' comment (`comments`, wrapped).
fn render_roads(o: &mut String, scene: &Scene, comments: &[String]) {
    let ind = "        ";
    let list = |items: &[String]| format!("[{}]", items.iter().map(|s| string(s)).collect::<Vec<_>>().join(", "));
    if !scene.streets.is_empty() {
        *o += "    streets: [\n";
        for s in &scene.streets {
            *o += &format!(
                "{ind}Street(\n{ind}    id: {},\n{ind}    level: {},\n{ind}    centerline: {},\n{ind}    carriageway: {},\n{ind}    sidewalks: ({}, {}),\n{ind}    kerb: {},\n{ind}    one_way: {},\n{ind}    lanes: {},\n{ind}    speed_limit: {},\n{ind}    bike_lanes: {},\n",
                string(&s.id),
                string(&s.level),
                points(&s.centerline, &format!("{ind}    ")),
                num(s.carriageway),
                num(s.sidewalks.0),
                num(s.sidewalks.1),
                num(s.kerb),
                s.one_way,
                s.lanes,
                num(s.speed_limit),
                s.bike_lanes
            );
            if s.crossings.is_empty() {
                *o += &format!("{ind}    crossings: [],\n");
            } else {
                *o += &format!("{ind}    crossings: [\n");
                for c in &s.crossings {
                    *o += &format!(
                        "{ind}        Crossing(id: {}, at: {}, width: {}, signal: {}),\n",
                        string(&c.id),
                        num(c.at),
                        num(c.width),
                        c.signal
                    );
                }
                *o += &format!("{ind}    ],\n");
            }
            *o += &format!("{ind}),\n");
        }
        *o += "    ],\n";
    }
    if !scene.junctions.is_empty() {
        *o += "    junctions: [\n";
        for j in &scene.junctions {
            *o += &format!(
                "{ind}Junction(id: {}, level: {}, at: ({}, {}), radius: {}),\n",
                string(&j.id),
                string(&j.level),
                num(j.at[0]),
                num(j.at[1]),
                num(j.radius)
            );
        }
        *o += "    ],\n";
    }
    if !scene.signals.is_empty() {
        for c in comments {
            let mut line = String::from("    //");
            for word in crate::scene::diagnostic::one_line(c).split(' ') {
                if line.len() + word.len() > 116 && line.len() > 7 {
                    *o += &line;
                    *o += "\n";
                    line = String::from("    //");
                }
                line += " ";
                line += word;
            }
            *o += &line;
            *o += "\n";
        }
        *o += "    signals: [\n";
        for sig in &scene.signals {
            *o += &format!("{ind}Signal(\n{ind}    id: {},\n{ind}    heads: [\n", string(&sig.id));
            for h in &sig.heads {
                let vehicles: Vec<String> = h
                    .vehicles
                    .iter()
                    .map(|a| format!("Approach(street: {}, at: {})", string(&a.street), string(&a.at)))
                    .collect();
                *o += &format!(
                    "{ind}        SignalHead(id: {}, vehicles: [{}], crossings: {}),\n",
                    string(&h.id),
                    vehicles.join(", "),
                    list(&h.crossings)
                );
            }
            *o += &format!("{ind}    ],\n{ind}    plans: [\n");
            for plan in &sig.plans {
                *o += &format!(
                    "{ind}        SignalPlan(id: {}, offset: {}, phases: [\n",
                    string(&plan.id),
                    num(plan.offset)
                );
                for ph in &plan.phases {
                    *o += &format!(
                        "{ind}            Phase(duration: {}, green: {}, amber: {}),\n",
                        num(ph.duration),
                        list(&ph.green),
                        list(&ph.amber)
                    );
                }
                *o += &format!("{ind}        ]),\n");
            }
            *o += &format!("{ind}    ],\n{ind}),\n");
        }
        *o += "    ],\n";
    }
    if !scene.traffic.flows.is_empty() {
        *o += "    traffic: Traffic(\n        flows: [\n";
        for f in &scene.traffic.flows {
            let rate: Vec<String> = f.rate.iter().map(|(t, r)| format!("({}, {})", num(*t), num(*r))).collect();
            let mix: Vec<String> = f.mix.iter().map(|(k, s)| format!("({k:?}, {})", num(*s))).collect();
            *o += &format!(
                "{ind}    Flow(id: {}, street: {}, from: {:?}, rate: [{}], mix: [{}]),\n",
                string(&f.id),
                string(&f.street),
                f.from,
                rate.join(", "),
                mix.join(", ")
            );
        }
        *o += "        ],\n    ),\n";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_respects_caps_and_total() {
        let c = apportion(10, &[1.0, 1.0, 2.0], &[100, 1, 100]).unwrap();
        assert_eq!(c.iter().sum::<u32>(), 10);
        assert_eq!(c[1], 1);
        assert!(apportion(10, &[1.0], &[9]).is_none());
    }

    #[test]
    fn split_holes_removes_holes() {
        let p = crate::geom::polygon(
            &[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
            &[
                vec![[2.0, 2.0], [2.0, 4.0], [4.0, 4.0], [4.0, 2.0]],
                vec![[6.0, 6.0], [6.0, 8.0], [8.0, 8.0], [8.0, 6.0]],
            ],
        );
        let pieces = split_holes(p, 0);
        assert!(pieces.iter().all(|p| p.interiors().is_empty()));
        let area: f64 = pieces.iter().map(|p| p.unsigned_area()).sum();
        assert!((area - 92.0).abs() < 1e-9);
    }
}
