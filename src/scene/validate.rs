//! Checking a parsed scene: numbers, references, polygons, doors, spawn areas, capacity and
//! reachability of exits. Every problem is collected and located; nothing panics.

use std::collections::BTreeMap;

use bevy::math::DVec2;
use geo::{Area as _, BooleanOps, Validation};

use super::diagnostic::{Diagnostics, SourceMap};
use super::format::*;
use super::load::LoadedScene;
use crate::nav::{DestinationAreas, Navigation, TargetKey};
use crate::space::geom::{ring_contains, ring_signed_area, segments_intersect, v};
use crate::space::{Space, polygon};

/// Most persons per m² a spawn area may be asked to hold.
pub const MAX_SPAWN_DENSITY: f64 = 6.0;

/// A scene that passed every check, with its space and navigation built.
#[derive(Clone, Debug)]
pub struct CheckedScene {
    pub loaded: LoadedScene,
    pub space: Space,
    pub nav: Navigation,
    /// One per population, in scene order.
    pub plans: Vec<PopulationPlan>,
}

impl CheckedScene {
    pub fn scene(&self) -> &Scene {
        &self.loaded.scene
    }
}

#[derive(Clone, Debug)]
pub struct PopulationPlan {
    pub level: usize,
    /// Walkable m² of the spawn area (placement only).
    pub spawn_area: f64,
    /// The door arrivals come through.
    pub entrance: Option<usize>,
    /// Field and dwell time of each leg; the last leg leads out.
    pub legs: Vec<(usize, Option<Distribution>)>,
    /// For `exit_choice: Quickest`: each candidate exit door with the field to it alone.
    pub exit_options: Vec<(usize, usize)>,
}

pub fn check_scene(loaded: LoadedScene) -> Result<CheckedScene, Diagnostics> {
    let mut diags = Diagnostics::default();
    let scene = &loaded.scene;
    let src = &loaded.source;
    let mut bad_polygons: Vec<String> = Vec::new();

    check_run(scene, src, &mut diags);
    check_ids(scene, src, &mut diags);
    let levels: BTreeMap<&str, usize> = scene.levels.iter().enumerate().map(|(i, l)| (l.id.as_str(), i)).collect();
    check_level_refs(scene, src, &levels, &mut diags);
    check_numbers(scene, src, &mut diags);
    check_polygons(scene, src, &mut diags, &mut bad_polygons);

    let usable = |id: &str| !bad_polygons.iter().any(|b| b == id);
    let space = Space::build(scene, src, &usable, &mut diags);
    let plans_geometry = check_geometry(scene, src, &space, &usable, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    let destinations = DestinationAreas(
        scene
            .destinations
            .iter()
            .enumerate()
            .filter_map(|(i, d)| space.level_index.get(&d.level).map(|&l| (i, l, d.area.clone())))
            .collect(),
    );
    let mut nav = Navigation::new(&space, scene.run.nav_cell, destinations);
    let plans = plan_routes(scene, src, &space, &mut nav, plans_geometry, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    Ok(CheckedScene { space, nav, plans, loaded })
}

fn check_run(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let run = &scene.run;
    let at =
        |field: &str, msg: String, hint: &str| src.at_text(&format!("{field}:"), Some("run".into()), msg).hint(hint);
    if !(run.step > 0.0 && run.step <= 0.25) {
        diags.push(at("step", format!("step must be in (0, 0.25] s (got {})", run.step), "0.05 s is a good default"));
    }
    if !(run.duration > 0.0 && run.duration.is_finite()) {
        diags.push(at(
            "duration",
            format!("duration must be positive (got {})", run.duration),
            "give the longest simulated time in seconds",
        ));
    }
    let ratio = run.output_interval / run.step;
    if !(run.output_interval >= run.step && (ratio - ratio.round()).abs() < 1e-6) {
        diags.push(at(
            "output_interval",
            format!("output_interval ({}) must be a whole multiple of step ({})", run.output_interval, run.step),
            "e.g. step 0.05 with output_interval 0.1, 0.5 or 1.0",
        ));
    }
    if matches!(scene.model, PedestrianModel::SocialForce { .. }) && run.step > 0.01 + 1e-12 {
        diags.push(at(
            "step",
            format!("the social force model needs step ≤ 0.01 s (got {})", run.step),
            "use step: 0.01 with SocialForce, or the collision-free speed model",
        ));
    }
    if let Routing::DensityAware { interval } = scene.routing
        && !(interval >= run.step && interval <= 600.0)
    {
        diags.push(
            src.at_text(
                "DensityAware",
                Some("routing".into()),
                format!("interval must lie between one step and 600 s (got {interval})"),
            )
            .hint("2 s follows a crowd closely; longer intervals cost less"),
        );
    }
    if !(0.05..=1.0).contains(&run.nav_cell) {
        diags.push(at(
            "nav_cell",
            format!("nav_cell must be between 0.05 and 1 m (got {})", run.nav_cell),
            "0.25 m suits most scenes",
        ));
    }
    let o = scene.unit.origin;
    if !((-90.0..=90.0).contains(&o.lat) && (-180.0..=180.0).contains(&o.lon)) {
        diags.push(
            src.at_text(
                "origin:",
                Some(format!("unit '{}'", scene.unit.name)),
                format!("origin ({}, {}) is not a WGS84 latitude/longitude", o.lat, o.lon),
            )
            .hint("lat in [-90, 90], lon in [-180, 180]; Nanjing Building is lat 31.240, lon 121.482"),
        );
    }
}

/// Every object id, with its kind, in declaration order.
fn all_ids(scene: &Scene) -> Vec<(&'static str, &str)> {
    let mut ids = Vec::new();
    for level in &scene.levels {
        ids.push(("level", level.id.as_str()));
        ids.extend(level.walkable.iter().map(|a| ("area", a.id.as_str())));
        ids.extend(level.walls.iter().map(|w| ("wall", w.id.as_str())));
    }
    ids.extend(scene.obstacles.iter().map(|o| ("obstacle", o.id.as_str())));
    ids.extend(scene.buildings.iter().map(|b| ("building", b.id.as_str())));
    ids.extend(scene.doors.iter().map(|d| ("door", d.id.as_str())));
    ids.extend(scene.destinations.iter().map(|d| ("destination", d.id.as_str())));
    ids.extend(scene.zones.iter().map(|z| ("zone", z.id.as_str())));
    ids.extend(scene.stairs.iter().map(|s| ("stair", s.id.as_str())));
    ids.extend(scene.streets.iter().map(|s| ("street", s.id.as_str())));
    ids.extend(scene.streets.iter().flat_map(|s| s.crossings.iter().map(|c| ("crossing", c.id.as_str()))));
    ids.extend(scene.populations.iter().map(|p| ("population", p.id.as_str())));
    ids.extend(scene.measurements.iter().map(|m| ("measurement", m.id())));
    ids
}

fn check_ids(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, id) in all_ids(scene) {
        let n = seen.entry(id).or_default();
        if id.trim().is_empty() {
            diags.push(
                src.at_text("id: \"\"", Some(kind.into()), "has an empty id")
                    .hint("give every object a unique, non-empty id"),
            );
        } else if *n > 0 {
            let (line, col) = src.locate_id(id, *n).unwrap_or((1, 1));
            diags.push(
                src.at(line, col, Some(format!("{kind} '{id}'")), "this id is already used by another object")
                    .hint("ids must be unique across the whole scene"),
            );
        }
        *n += 1;
    }
    if scene.levels.is_empty() {
        diags.push(
            src.at_text("levels:", None, "the scene has no levels").hint("add at least one Level with a walkable area"),
        );
    }
    for level in &scene.levels {
        if level.walkable.is_empty() && !scene.streets.iter().any(|st| st.level == level.id) {
            diags.push(
                src.at_id("level", &level.id, "has no walkable area").hint("add an Area to `walkable`, or a Street"),
            );
        }
    }
}

fn check_level_refs(scene: &Scene, src: &SourceMap, levels: &BTreeMap<&str, usize>, diags: &mut Diagnostics) {
    let known = || levels.keys().copied().collect::<Vec<_>>().join(", ");
    let mut check = |kind: &str, id: &str, level: &str| {
        if !levels.contains_key(level) {
            diags.push(
                src.at_id(kind, id, format!("refers to level '{level}', which does not exist"))
                    .hint(format!("levels in this scene: {}", known())),
            );
        }
    };
    for o in &scene.obstacles {
        check("obstacle", &o.id, &o.level);
    }
    for b in &scene.buildings {
        check("building", &b.id, &b.level);
    }
    for d in &scene.doors {
        check("door", &d.id, &d.level);
    }
    for d in &scene.destinations {
        check("destination", &d.id, &d.level);
    }
    for z in &scene.zones {
        check("zone", &z.id, &z.level);
    }
    for st in &scene.streets {
        check("street", &st.id, &st.level);
    }
    for st in &scene.stairs {
        check("stair", &st.id, &st.foot.level);
        check("stair", &st.id, &st.head.level);
    }
    for p in &scene.populations {
        check("population", &p.id, &p.level);
    }
    for m in &scene.measurements {
        match m {
            Measurement::Line { id, level, .. } | Measurement::Area { id, level, .. } => {
                check("measurement", id, level)
            }
        }
    }
}

fn check_numbers(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    for d in &scene.doors {
        if !(d.width > 0.0 && d.width.is_finite()) {
            diags.push(
                src.at_id("door", &d.id, format!("width must be positive (got {} m)", d.width))
                    .hint("a door is `width` metres wide along its wall, centred on `at`"),
            );
        }
    }
    for st in &scene.stairs {
        let positive = |x: f64| x > 0.0 && x.is_finite();
        if !positive(st.width) || !positive(st.run) {
            diags.push(
                src.at_id(
                    "stair",
                    &st.id,
                    format!("width and run must be positive (got {} m and {} m)", st.width, st.run),
                )
                .hint("`run` is the horizontal length of the flights, landings included"),
            );
        }
        let speeds = [st.speed_up, st.speed_down].into_iter().flatten().all(|v| v > 0.0 && v <= 3.0);
        if !speeds || !positive(st.flow_up) || !positive(st.flow_down) {
            diags.push(
                src.at_id("stair", &st.id, "speeds must lie in (0, 3] m/s and flows must be positive")
                    .hint("IMO MSC.1/Circ.1533: 0.8 m/s up, 1.0 m/s down along the slope; 0.88 and 1.1 persons/(m·s)"),
            );
        }
        let elevation = |id: &str| scene.levels.iter().find(|l| l.id == id).map(|l| l.elevation);
        if let (Some(foot), Some(head)) = (elevation(&st.foot.level), elevation(&st.head.level))
            && head <= foot
        {
            diags.push(
                src.at_id(
                    "stair",
                    &st.id,
                    format!(
                        "its head level '{}' ({head} m) must be higher than its foot level '{}' ({foot} m)",
                        st.head.level, st.foot.level
                    ),
                )
                .hint("swap `foot` and `head`, or fix the levels' elevations"),
            );
        }
    }
    for st in &scene.streets {
        let length: f64 =
            st.centerline.windows(2).map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt()).sum();
        if st.centerline.len() < 2 || !(st.carriageway > 0.0) || st.sidewalks.0 < 0.0 || st.sidewalks.1 < 0.0 {
            diags.push(
                src.at_id("street", &st.id, "needs a centre line of two or more points, a positive carriageway width and sidewalk widths of zero or more")
                    .hint("e.g. centerline: [(0.0, 0.0), (80.0, 0.0)], carriageway: 6.0, sidewalks: (2.5, 2.5)"),
            );
        }
        for c in &st.crossings {
            if !(c.width > 0.0) || !(0.0..=length).contains(&c.at) {
                diags.push(
                    src.at_id(
                        "crossing",
                        &c.id,
                        format!(
                            "must lie along its street (0–{length:.1} m) with a positive width (got at {}, width {})",
                            c.at, c.width
                        ),
                    )
                    .hint("`at` is the distance along the street's centre line"),
                );
            }
        }
    }
    for b in &scene.buildings {
        if !(b.height > 0.0) || b.floors == 0 {
            diags.push(
                src.at_id(
                    "building",
                    &b.id,
                    format!("needs a positive height and at least one floor (got {} m, {} floors)", b.height, b.floors),
                )
                .hint("e.g. height: 24.0, floors: 6"),
            );
        }
    }
    for o in &scene.obstacles {
        if !(o.height > 0.0) {
            diags.push(src.at_id("obstacle", &o.id, format!("height must be positive (got {} m)", o.height)));
        }
    }
    for p in &scene.populations {
        if !(0.1..=0.5).contains(&p.radius) {
            diags.push(
                src.at_id("population", &p.id, format!("radius must be between 0.1 and 0.5 m (got {})", p.radius))
                    .hint("adults are about 0.2 m (shoulder width 0.4 m)"),
            );
        }
        if !(p.time_gap > 0.0 && p.time_gap <= 5.0) || !(p.relaxation > 0.0 && p.relaxation <= 5.0) {
            diags.push(
                src.at_id(
                    "population",
                    &p.id,
                    format!("time_gap ({}) and relaxation ({}) must lie in (0, 5] s", p.time_gap, p.relaxation),
                )
                .hint("defaults: time_gap 1.0 s (collision-free speed model), relaxation 0.5 s (social force model)"),
            );
        }
        check_distribution(src, &p.id, "speed", &p.speed, 0.05, 10.0, diags);
        check_distribution(src, &p.id, "premovement", &p.premovement, 0.0, 1e6, diags);
        if let Placement::Arrivals { rates, .. } = &p.placement {
            let sorted = rates.windows(2).all(|w| w[0].0 < w[1].0);
            if rates.is_empty() || !sorted || rates.iter().any(|r| !(r.0 >= 0.0 && r.1 >= 0.0 && r.1.is_finite())) {
                diags.push(
                    src.at_id("population", &p.id, "arrival `rates` must be non-empty `(from_time_s, persons_per_hour)` steps with increasing times and non-negative rates")
                        .hint("e.g. rates: [(0.0, 1200.0), (600.0, 3000.0)]"),
                );
            }
        }
    }
    for d in &scene.destinations {
        check_distribution(src, &d.id, "dwell", &d.dwell, 0.0, 1e6, diags);
    }
    for (i, e) in scene.events.iter().enumerate() {
        if !(e.at >= 0.0 && e.at.is_finite()) {
            diags.push(src.at_text(
                &format!("at: {}", e.at),
                Some(format!("event #{}", i + 1)),
                format!("time must be zero or positive (got {})", e.at),
            ));
        }
    }
}

fn check_distribution(
    src: &SourceMap,
    id: &str,
    what: &str,
    dist: &Distribution,
    lo: f64,
    hi: f64,
    diags: &mut Diagnostics,
) {
    let (min, max, ok) = match *dist {
        Distribution::Constant(c) => (c, c, true),
        Distribution::Uniform { min, max } => (min, max, true),
        Distribution::Normal { mean, sd, min, max } => (min, max, sd >= 0.0 && (min..=max).contains(&mean)),
        Distribution::LogNormal { sigma, min, max, .. } => (min, max, sigma >= 0.0),
        Distribution::AgeGroups(ref groups) => (
            groups.iter().map(|g| g.0.speed_range().0).fold(f64::INFINITY, f64::min),
            groups.iter().map(|g| g.0.speed_range().1).fold(0.0, f64::max),
            !groups.is_empty() && groups.iter().all(|g| g.1 > 0.0 && g.1.is_finite()),
        ),
    };
    if !(ok && min <= max && min >= lo && max <= hi && min.is_finite() && max.is_finite()) {
        diags.push(
            src.at_id("population or destination", id, format!("{what} distribution {dist:?} is invalid"))
                .hint(format!("values must lie in [{lo}, {hi}] with min ≤ max and a non-negative spread")),
        );
    }
}

/// Validates one polygon ring set; reports under `kind 'id'`.
fn polygon_problem(outer: &[Point], holes: &[Vec<Point>]) -> Option<(String, String)> {
    for (role, ring) in std::iter::once(("outline", outer)).chain(holes.iter().map(|h| ("hole", h.as_slice()))) {
        if ring.iter().flatten().any(|c| !c.is_finite()) {
            return Some((format!("its {role} has a non-finite coordinate"), "use plain numbers in metres".into()));
        }
        let mut distinct: Vec<Point> = Vec::new();
        for p in ring {
            if distinct.last() != Some(p) {
                distinct.push(*p);
            }
        }
        if distinct.len() > 1 && distinct.first() == distinct.last() {
            distinct.pop();
        }
        if distinct.len() < 3 {
            return Some((
                format!("its {role} is degenerate: {} distinct point(s), a polygon needs at least 3", distinct.len()),
                "list the corners in order; the ring closes by itself".into(),
            ));
        }
        let n = distinct.len();
        for i in 0..n {
            for j in i + 2..n {
                if i == 0 && j == n - 1 {
                    continue;
                }
                let (a, b) = (v(distinct[i]), v(distinct[(i + 1) % n]));
                let (c, d) = (v(distinct[j]), v(distinct[(j + 1) % n]));
                if segments_intersect(a, b, c, d) {
                    return Some((
                        format!(
                            "its {role} intersects itself: edge {} ({:.2}, {:.2})→({:.2}, {:.2}) crosses edge {} ({:.2}, {:.2})→({:.2}, {:.2})",
                            i + 1,
                            a.x,
                            a.y,
                            b.x,
                            b.y,
                            j + 1,
                            c.x,
                            c.y,
                            d.x,
                            d.y
                        ),
                        "list the corners in order around the outline, without crossing".into(),
                    ));
                }
            }
        }
        if ring_signed_area(&distinct).abs() < 1e-6 {
            return Some((
                format!("its {role} is degenerate: it has zero area (all points on one line)"),
                "check the coordinates".into(),
            ));
        }
    }
    if let Err(e) = polygon(outer, holes).check_validation() {
        return Some((
            format!("is not a valid polygon: {e}"),
            "holes must lie inside the outline without touching each other".into(),
        ));
    }
    None
}

fn check_polygons(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics, bad: &mut Vec<String>) {
    for level in &scene.levels {
        for w in &level.walls {
            if w.points.len() < 2 || w.points.iter().flatten().any(|c| !c.is_finite()) {
                diags.push(
                    src.at_id("wall", &w.id, "needs at least two finite points")
                        .hint("a wall is a polyline: points: [(x1, y1), (x2, y2), ...]"),
                );
                bad.push(w.id.clone());
            }
        }
    }
    for m in &scene.measurements {
        if let Measurement::Line { id, from, to, .. } = m
            && (from == to || from.iter().chain(to).any(|c| !c.is_finite()))
        {
            diags.push(
                src.at_id("measurement", id, "line has zero length or a non-finite point")
                    .hint("give two distinct points"),
            );
        }
    }
    let mut check = |kind: &str, id: &str, outer: &[Point], holes: &[Vec<Point>]| {
        if let Some((msg, hint)) = polygon_problem(outer, holes) {
            diags.push(src.at_id(kind, id, msg).hint(hint));
            bad.push(id.to_string());
        }
    };
    for level in &scene.levels {
        for a in &level.walkable {
            check("area", &a.id, &a.outer, &a.holes);
        }
    }
    for o in &scene.obstacles {
        check("obstacle", &o.id, &o.footprint, &[]);
    }
    for b in &scene.buildings {
        check("building", &b.id, &b.footprint, &[]);
    }
    for d in &scene.destinations {
        check("destination", &d.id, &d.area, &[]);
    }
    for z in &scene.zones {
        check("zone", &z.id, &z.polygon, &[]);
    }
    for p in &scene.populations {
        if let Placement::Area { polygon, .. } = &p.placement {
            check("population", &p.id, polygon, &[]);
        }
    }
    for m in &scene.measurements {
        match m {
            Measurement::Area { id, polygon, .. } => check("measurement", id, polygon, &[]),
            Measurement::Line { .. } => {}
        }
    }
}

/// Per population: level, walkable spawn area (m²) and entrance door, if the geometry is sound.
fn check_geometry(
    scene: &Scene,
    src: &SourceMap,
    space: &Space,
    usable: &dyn Fn(&str) -> bool,
    diags: &mut Diagnostics,
) -> Vec<Option<(usize, f64, Option<usize>)>> {
    for (li, level) in space.levels.iter().enumerate() {
        if level.walkable.unsigned_area() < 1e-6 && scene.levels[li].walkable.iter().all(|a| usable(&a.id)) {
            diags.push(src.at_id(
                "level",
                &level.id,
                "has no walkable space left once obstacles and buildings are cut out",
            ));
        }
    }
    for d in &scene.destinations {
        let Some(&li) = space.level_index.get(&d.level) else { continue };
        if usable(&d.id) && polygon(&d.area, &[]).intersection(&space.levels[li].walkable).unsigned_area() < 1e-3 {
            diags.push(
                src.at_id("destination", &d.id, "lies outside the walkable space")
                    .hint("agents could never reach it; move it onto a walkable area"),
            );
        }
    }
    let door_ref = |id: &str| space.door_index.get(id).copied();
    let declared = |id: &str| scene.doors.iter().any(|d| d.id == id);
    for (i, e) in scene.events.iter().enumerate() {
        let (kind, name, known): (&str, &String, Vec<&str>) = match &e.action {
            Action::CloseDoor(door) | Action::OpenDoor(door) => {
                ("door", door, scene.doors.iter().map(|d| d.id.as_str()).collect())
            }
            Action::BlockZone(zone) | Action::UnblockZone(zone) => {
                ("zone", zone, scene.zones.iter().map(|z| z.id.as_str()).collect())
            }
        };
        if !known.contains(&name.as_str()) {
            diags.push(
                src.at_text(
                    &format!("\"{name}\""),
                    Some(format!("event #{} at {} s", i + 1, e.at)),
                    format!("refers to {kind} '{name}', which does not exist"),
                )
                .hint(format!("{kind}s in this scene: {}", known.join(", "))),
            );
        }
    }
    let mut result = Vec::new();
    for p in &scene.populations {
        let Some(&li) = space.level_index.get(&p.level) else {
            result.push(None);
            continue;
        };
        let level = &space.levels[li];
        match &p.goal {
            Goal::Exits(list) => {
                for door in list {
                    match door_ref(door) {
                        Some(d) if space.doors[d].boundary && space.doors[d].exit => {}
                        Some(_) => diags.push(
                            src.at_id("population", &p.id, format!("goal door '{door}' is not an exit"))
                                .hint("exits are doors on the outer boundary of the walkable space with `exit: true`"),
                        ),
                        None if declared(door) => {}
                        None => diags.push(src.at_id(
                            "population",
                            &p.id,
                            format!("goal refers to door '{door}', which does not exist"),
                        )),
                    }
                }
            }
            Goal::Route(stops) => {
                for stop in stops {
                    match scene.destinations.iter().find(|d| &d.id == stop) {
                        None => diags.push(
                            src.at_id(
                                "population",
                                &p.id,
                                format!("route refers to destination '{stop}', which does not exist"),
                            )
                            .hint(format!(
                                "destinations: {}",
                                scene.destinations.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
                            )),
                        ),
                        Some(_) => {}
                    }
                }
            }
            Goal::NearestExit => {}
        }
        match &p.placement {
            Placement::Area { polygon: spawn, count } => {
                if !usable(&p.id) {
                    result.push(None);
                    continue;
                }
                let spawn_poly = polygon(spawn, &[]);
                let total = spawn_poly.unsigned_area();
                let outside = spawn_poly.difference(&level.outline).unsigned_area();
                if outside > 1e-3 * total.max(1.0) {
                    diags.push(
                        src.at_id("population", &p.id, format!("spawn area lies outside the walkable space of level '{}' ({outside:.1} m² of its {total:.1} m²)", p.level))
                            .hint("draw the spawn area inside a walkable area"),
                    );
                    result.push(None);
                    continue;
                }
                let free = spawn_poly.intersection(&level.walkable).unsigned_area();
                if free < 0.01 && *count > 0 {
                    diags.push(
                        src.at_id("population", &p.id, format!("all {count} agents would stand inside obstacles or buildings: the spawn area has no free walkable space"))
                            .hint("move the spawn area off the obstacles and buildings that cover it"),
                    );
                    result.push(None);
                    continue;
                }
                if *count as f64 > MAX_SPAWN_DENSITY * free {
                    diags.push(
                        src.at_id(
                            "population",
                            &p.id,
                            format!(
                                "{count} agents in {free:.1} m² of free spawn area is {:.1} persons/m²; at most {MAX_SPAWN_DENSITY} fit",
                                *count as f64 / free.max(1e-9)
                            ),
                        )
                        .hint(format!("lower the count to {} or enlarge the spawn area", (MAX_SPAWN_DENSITY * free).floor())),
                    );
                    result.push(None);
                    continue;
                }
                result.push(Some((li, free, None)));
            }
            Placement::Arrivals { door, .. } => {
                match door_ref(door) {
                    Some(d) if space.doors[d].boundary && space.doors[d].level == li => {
                        result.push(Some((li, 0.0, Some(d))))
                    }
                    Some(_) => {
                        diags.push(
                        src.at_id("population", &p.id, format!("arrivals come through door '{door}', which is not on the outer boundary of level '{}'", p.level))
                            .hint("arrivals enter from outside: put the door on the boundary of the walkable space"),
                    );
                        result.push(None);
                    }
                    None => {
                        if !declared(door) {
                            diags.push(src.at_id(
                                "population",
                                &p.id,
                                format!("arrivals refer to door '{door}', which does not exist"),
                            ));
                        }
                        result.push(None);
                    }
                }
            }
        }
    }
    result
}

fn plan_routes(
    scene: &Scene,
    src: &SourceMap,
    space: &Space,
    nav: &mut Navigation,
    geometry: Vec<Option<(usize, f64, Option<usize>)>>,
    diags: &mut Diagnostics,
) -> Vec<PopulationPlan> {
    let mut plans = Vec::new();
    for (p, geometry) in scene.populations.iter().zip(geometry) {
        let Some((level, spawn_area, entrance)) = geometry else { continue };
        // Target, dwell, what it is (for messages), and the level of a destination.
        let mut legs: Vec<(usize, Option<Distribution>, String, Option<usize>)> = Vec::new();
        if let Goal::Route(stops) = &p.goal {
            for stop in stops {
                let (index, dest) =
                    scene.destinations.iter().enumerate().find(|(_, d)| &d.id == stop).expect("checked");
                let target = nav.target(space, TargetKey::Destination { destination: index });
                let dest_level = space.level_index.get(&dest.level).copied();
                legs.push((target, Some(dest.dwell.clone()), format!("destination '{}'", dest.id), dest_level));
            }
        }
        let doors = match &p.goal {
            Goal::Exits(list) => {
                let mut ids: Vec<usize> = list.iter().filter_map(|d| space.door_index.get(d).copied()).collect();
                ids.sort_unstable();
                Some(ids)
            }
            _ => None,
        };
        let exit_options: Vec<(usize, usize)> = if p.exit_choice == ExitChoice::Quickest {
            let candidates: Vec<usize> = match &doors {
                Some(ids) => ids.clone(),
                None => space.doors.iter().enumerate().filter(|(_, d)| d.boundary && d.exit).map(|(i, _)| i).collect(),
            };
            candidates.into_iter().map(|d| (d, nav.target(space, TargetKey::Exits { doors: Some(vec![d]) }))).collect()
        } else {
            Vec::new()
        };
        let exit_target = nav.target(space, TargetKey::Exits { doors });
        legs.push((exit_target, None, "an open exit".into(), None));

        let grid = &nav.grids[level];
        let starts: Vec<DVec2> = match (&p.placement, entrance) {
            (Placement::Area { polygon, .. }, _) => (0..grid.nx * grid.ny)
                .filter(|&k| grid.walkable[k] && ring_contains(polygon, grid.center(k)))
                .map(|k| grid.center(k))
                .collect(),
            (Placement::Arrivals { .. }, Some(d)) => {
                let door = &space.doors[d];
                vec![door.midpoint() - door.normal * (p.radius + 0.05)]
            }
            _ => Vec::new(),
        };
        let (mut from_level, mut from) = (level, starts);
        for (target, _, what, dest_level) in &legs {
            let grid = &nav.grids[from_level];
            let f = nav.field(*target as u32, from_level);
            let stuck = from.iter().filter(|q| !f.reaches(grid, **q)).count();
            if stuck > 0 {
                let whence =
                    if matches!(p.placement, Placement::Arrivals { .. }) { "the entrance" } else { "the spawn area" };
                diags.push(
                    src.at_id(
                        "population",
                        &p.id,
                        format!(
                            "{what} is unreachable from {whence} ({stuck} of {} places cannot reach it)",
                            from.len()
                        ),
                    )
                    .hint("open or add a door, or join the walkable areas so that a path exists"),
                );
                break;
            }
            if let Some(dl) = *dest_level {
                let (grid, f) = (&nav.grids[dl], nav.field(*target as u32, dl));
                from = (0..grid.nx * grid.ny)
                    .filter(|&k| f.source[k] == crate::nav::fmm::IN_DESTINATION)
                    .map(|k| grid.center(k))
                    .collect();
                from_level = dl;
            }
        }
        plans.push(PopulationPlan {
            level,
            spawn_area,
            entrance,
            legs: legs.into_iter().map(|(t, d, ..)| (t, d)).collect(),
            exit_options,
        });
    }
    plans
}
