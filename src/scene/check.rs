//! Checks that need nothing but the scene itself: numbers, limits, ids, references by name and
//! polygons. Checks that need the built space (doors on walls, reachable exits) belong to `twin`.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Diagnostics, SourceMap, number};
use super::format::*;
use super::limits::*;
use super::load::LoadedScene;
use crate::geom::{RingsProblem, distinct_corners, first_self_intersection, ring_signed_area, rings_problem, v};

/// Most persons per m² a spawn area may be asked to hold.
pub const MAX_SPAWN_DENSITY: f64 = 6.0;

/// Widest door, m.
pub const MAX_DOOR_WIDTH: f64 = 1000.0;

/// Whether a body radius is in range (0.1–0.5 m); people of other sizes are never placed.
pub fn radius_ok(radius: f64) -> bool {
    (0.1..=0.5).contains(&radius)
}

/// A scene that passed every check that needs no world.
#[derive(Clone, Debug)]
pub struct CheckedScene {
    pub loaded: LoadedScene,
}

impl CheckedScene {
    pub fn scene(&self) -> &Scene {
        &self.loaded.scene
    }
}

/// What the world-free checks found.
#[derive(Clone, Debug, Default)]
pub struct Precheck {
    pub problems: Diagnostics,
    /// Ids of objects whose own geometry is broken; the world builder leaves them out so that the
    /// rest of the scene can still be checked.
    pub unusable: BTreeSet<String>,
    /// False when the scene exceeds a size limit or has non-finite coordinates: building its world
    /// could then take unbounded time or memory, so it is not attempted.
    pub world_safe: bool,
}

impl Precheck {
    pub fn usable(&self, id: &str) -> bool {
        !self.unusable.contains(id)
    }

    /// Whether every walkable area and street of level `index` is usable: only then can doors be
    /// placed on its boundary and spawn areas be measured against it.
    pub fn level_sound(&self, scene: &Scene, index: usize) -> bool {
        let Some(level) = scene.levels.get(index) else { return true };
        level.walkable.iter().all(|a| self.usable(&a.id))
            && scene.streets.iter().filter(|st| st.level == level.id).all(|st| self.usable(&st.id))
    }
}

/// Every world-free problem of the scene, located.
pub fn precheck(loaded: &LoadedScene) -> Precheck {
    let scene = &loaded.scene;
    let src = &loaded.source;
    let mut p = Precheck { world_safe: true, ..Default::default() };
    check_limits(scene, src, &mut p);
    check_run(scene, src, &mut p.problems);
    check_model(scene, src, &mut p.problems);
    check_ids(scene, src, &mut p.problems);
    let levels: BTreeMap<&str, usize> = scene.levels.iter().enumerate().map(|(i, l)| (l.id.as_str(), i)).collect();
    check_level_refs(scene, src, &levels, &mut p.problems);
    check_names(scene, src, &mut p.problems);
    check_numbers(scene, src, &mut p);
    super::measures::check_measures(scene, src, &mut p);
    if p.world_safe {
        check_polygons(scene, src, &mut p);
    }
    p
}

/// Runs the world-free checks; the scene still has to be built (see `twin::build`).
pub fn check_scene(loaded: LoadedScene) -> Result<CheckedScene, Diagnostics> {
    let p = precheck(&loaded);
    if p.problems.is_empty() { Ok(CheckedScene { loaded }) } else { Err(p.problems.sorted()) }
}

/// Every point of the scene with the object it belongs to.
fn all_points(scene: &Scene) -> Vec<(&'static str, &str, &[Point])> {
    let mut out: Vec<(&'static str, &str, &[Point])> = Vec::new();
    for level in &scene.levels {
        for a in &level.walkable {
            out.push(("area", &a.id, &a.outer));
            out.extend(a.holes.iter().map(|h| ("area", a.id.as_str(), h.as_slice())));
        }
        out.extend(level.walls.iter().map(|w| ("wall", w.id.as_str(), w.points.as_slice())));
    }
    out.extend(scene.obstacles.iter().map(|o| ("obstacle", o.id.as_str(), o.footprint.as_slice())));
    out.extend(scene.buildings.iter().map(|b| ("building", b.id.as_str(), b.footprint.as_slice())));
    out.extend(scene.doors.iter().map(|d| ("door", d.id.as_str(), std::slice::from_ref(&d.at))));
    out.extend(scene.destinations.iter().map(|d| ("destination", d.id.as_str(), d.area.as_slice())));
    out.extend(scene.zones.iter().map(|z| ("zone", z.id.as_str(), z.polygon.as_slice())));
    out.extend(scene.barriers.iter().map(|b| ("barrier", b.id.as_str(), b.line.as_slice())));
    out.extend(scene.hazards.iter().map(|h| ("hazard", h.id.as_str(), std::slice::from_ref(&h.at))));
    for st in &scene.stairs {
        out.push(("stair", &st.id, std::slice::from_ref(&st.foot.at)));
        out.push(("stair", &st.id, std::slice::from_ref(&st.head.at)));
    }
    out.extend(scene.streets.iter().map(|s| ("street", s.id.as_str(), s.centerline.as_slice())));
    for p in &scene.populations {
        if let Placement::Area { polygon, .. } = &p.placement {
            out.push(("population", &p.id, polygon));
        }
    }
    for m in &scene.measurements {
        match m {
            Measurement::Line { id, from, to, .. } => {
                out.push(("measurement", id, std::slice::from_ref(from)));
                out.push(("measurement", id, std::slice::from_ref(to)));
            }
            Measurement::Area { id, polygon, .. } => out.push(("measurement", id, polygon)),
        }
    }
    for h in &scene.hold_lines {
        out.push(("hold line", &h.id, std::slice::from_ref(&h.from)));
        out.push(("hold line", &h.id, std::slice::from_ref(&h.to)));
        out.push(("hold line", &h.id, std::slice::from_ref(&h.held_from)));
    }
    out
}

fn check_limits(scene: &Scene, src: &SourceMap, p: &mut Precheck) {
    let mut total = 0usize;
    let mut reported: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (kind, id, points) in all_points(scene) {
        total += points.len();
        if points.len() > MAX_RING_POINTS && reported.insert((kind, id)) {
            p.problems.push(
                src.at_id(
                    kind,
                    id,
                    format!("has {} points in one ring; at most {MAX_RING_POINTS} are read", points.len()),
                )
                .hint("simplify the outline (e.g. to 0.1 m), or split it into several areas"),
            );
            p.world_safe = false;
        }
        let bad = points.iter().find(|q| !q.iter().all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE));
        if let Some(q) = bad
            && reported.insert((kind, id))
        {
            let what = if q.iter().all(|c| c.is_finite()) { "lies too far from the origin" } else { "is not a number" };
            p.problems.push(
                src.at_id(
                    kind,
                    id,
                    format!(
                        "point ({}, {}) {what}: coordinates must be finite and within ±{MAX_COORDINATE} m",
                        number(q[0]),
                        number(q[1])
                    ),
                )
                .hint(
                    "coordinates are local metres east and north of the unit's origin; a unit spans a few km at most",
                ),
            );
            p.unusable.insert(id.to_string());
            p.world_safe = false;
        }
    }
    if total > MAX_TOTAL_POINTS {
        p.problems.push(
            src.at_text("levels:", None, format!("the scene has {total} points; at most {MAX_TOTAL_POINTS} are read"))
                .hint("simplify outlines, or split the unit into several scenes"),
        );
        p.world_safe = false;
    }
    let counts = [
        ("levels", scene.levels.len() + scene.stairs.len(), "levels:"),
        ("doors", scene.doors.len() + 4 * scene.stairs.len(), "doors:"),
        ("zones", scene.zones.len(), "zones:"),
        ("destinations", scene.destinations.len(), "destinations:"),
        ("populations", scene.populations.len(), "populations:"),
        ("measurements", scene.measurements.len(), "measurements:"),
        ("streets", scene.streets.len(), "streets:"),
        ("buildings", scene.buildings.len(), "buildings:"),
        ("crossings", scene.streets.iter().map(|s| s.crossings.len()).sum(), "streets:"),
        ("events", scene.events.len(), "events:"),
        ("hold lines", scene.hold_lines.len(), "hold_lines:"),
        ("playbooks", scene.playbooks.len(), "playbooks:"),
        ("playbook actions", scene.playbooks.iter().map(|p| p.then.len() + p.after.len()).sum(), "playbooks:"),
        ("junctions", scene.junctions.len(), "junctions:"),
        ("signals", scene.signals.len(), "signals:"),
        ("signal heads", scene.signals.iter().map(|s| s.heads.len()).sum(), "signals:"),
        ("signal phases", scene.signals.iter().flat_map(|s| &s.plans).map(|p| p.phases.len()).sum(), "signals:"),
        ("vehicle flows", scene.traffic.flows.len(), "traffic:"),
        ("parked vehicles", scene.traffic.parked.len(), "traffic:"),
    ];
    for (what, n, field) in counts {
        let limit = if what == "doors" { 5 * MAX_OBJECTS } else { MAX_OBJECTS };
        if n > limit {
            p.problems.push(
                src.at_text(
                    field,
                    None,
                    format!("too many {what}: {n} (at most {limit}; each stair counts as a level and four openings)"),
                )
                .hint("split the unit into several scenes"),
            );
            p.world_safe = false;
        }
    }
    let agents: u64 = scene
        .populations
        .iter()
        .map(|p| match &p.placement {
            Placement::Area { count, .. } => *count as u64,
            Placement::Arrivals { total, .. } => total.map_or(0, |t| t as u64),
        })
        .sum();
    if agents > MAX_AGENTS {
        p.problems.push(
            src.at_text(
                "populations:",
                None,
                format!("the populations bring {agents} agents; at most {MAX_AGENTS} are simulated"),
            )
            .hint("lower the counts"),
        );
        p.world_safe = false;
    }
}

fn check_run(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let run = &scene.run;
    let at =
        |field: &str, msg: String, hint: &str| src.at_text(&format!("{field}:"), Some("run".into()), msg).hint(hint);
    let step_ok = run.step >= MIN_STEP && run.step <= MAX_STEP;
    if !step_ok {
        diags.push(at(
            "step",
            format!("step must be between {MIN_STEP} and {MAX_STEP} s (got {})", number(run.step)),
            "0.05 s is a good default; the social force model needs 0.01 s",
        ));
    }
    if !(run.duration > 0.0 && run.duration <= MAX_DURATION) {
        diags.push(at(
            "duration",
            format!("duration must be positive and at most {MAX_DURATION} s (got {})", number(run.duration)),
            "give the longest simulated time in seconds",
        ));
    }
    let ratio = run.output_interval / run.step;
    if step_ok
        && !(run.output_interval >= run.step && run.output_interval <= 3600.0 && (ratio - ratio.round()).abs() < 1e-6)
    {
        diags.push(at(
            "output_interval",
            format!(
                "output_interval ({}) must be a whole multiple of step ({})",
                number(run.output_interval),
                run.step
            ),
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
                format!("interval must lie between one step and 600 s (got {})", number(interval)),
            )
            .hint("2 s follows a crowd closely; longer intervals cost less"),
        );
    }
    if !(0.05..=1.0).contains(&run.nav_cell) {
        diags.push(at(
            "nav_cell",
            format!("nav_cell must be between 0.05 and 1 m (got {})", number(run.nav_cell)),
            "0.25 m suits most scenes",
        ));
    }
    let o = scene.unit.origin;
    if !((-90.0..=90.0).contains(&o.lat) && (-180.0..=180.0).contains(&o.lon)) {
        diags.push(
            src.at_text(
                "origin:",
                Some(format!("unit '{}'", scene.unit.name)),
                format!("origin ({}, {}) is not a WGS84 latitude/longitude", number(o.lat), number(o.lon)),
            )
            .hint("lat in [-90, 90], lon in [-180, 180]; Nanjing Building is lat 31.240, lon 121.482"),
        );
    }
}

/// The model's constants: finite, positive and within physically meaningful ranges.
fn check_model(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let (name, constants): (&str, Vec<(&str, f64, f64, f64)>) = match scene.model {
        PedestrianModel::CollisionFreeSpeed { neighbour_strength, neighbour_range, wall_strength, wall_range } => (
            "CollisionFreeSpeed",
            vec![
                ("neighbour_strength", neighbour_strength, 0.0, 100.0),
                ("neighbour_range", neighbour_range, 1e-3, 2.0),
                ("wall_strength", wall_strength, 0.0, 100.0),
                ("wall_range", wall_range, 1e-3, 1.0),
            ],
        ),
        PedestrianModel::SocialForce { strength, range, body_force, friction, mass } => (
            "SocialForce",
            vec![
                ("strength", strength, 0.0, 1e5),
                ("range", range, 1e-3, 1.0),
                ("body_force", body_force, 0.0, 1e7),
                ("friction", friction, 0.0, 1e7),
                ("mass", mass, 1.0, 1000.0),
            ],
        ),
    };
    for (field, value, lo, hi) in constants {
        if !(value >= lo && value <= hi) {
            diags.push(
                src.at_text(
                    name,
                    Some("model".into()),
                    format!("{field} must lie in [{lo}, {hi}] (got {})", number(value)),
                )
                .hint("leave the field out for the published default (see README, 'Scene format')"),
            );
        }
    }
}

/// Whether an id is made of ASCII letters, digits, `_`, `-` and `.`. Ids name objects in outputs,
/// command files and on the command line; labels in other scripts belong in `unit.name`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Every object id, with its kind, in declaration order.
pub fn all_ids(scene: &Scene) -> Vec<(&'static str, &str)> {
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
    ids.extend(scene.junctions.iter().map(|j| ("junction", j.id.as_str())));
    ids.extend(scene.signals.iter().map(|s| ("signal", s.id.as_str())));
    ids.extend(scene.traffic.flows.iter().map(|f| ("flow", f.id.as_str())));
    ids.extend(scene.traffic.parked.iter().map(|p| ("parked", p.id.as_str())));
    ids.extend(scene.measurements.iter().map(|m| ("measurement", m.id())));
    ids.extend(scene.hold_lines.iter().map(|h| ("hold line", h.id.as_str())));
    ids.extend(scene.playbooks.iter().map(|p| ("playbook", p.id.as_str())));
    ids.extend(scene.barriers.iter().map(|b| ("barrier", b.id.as_str())));
    ids.extend(scene.hazards.iter().map(|h| ("hazard", h.id.as_str())));
    ids
}

fn check_ids(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, id) in all_ids(scene) {
        let n = seen.entry(id).or_default();
        if id.trim().is_empty() {
            let (line, col) = src.locate_id(id, *n).unwrap_or((1, 1));
            diags.push(
                src.at(line, col, Some(kind.into()), "has an empty id")
                    .hint("give every object a unique, non-empty id"),
            );
        } else if *n > 0 {
            let (line, col) = src.locate_id(id, *n).unwrap_or((1, 1));
            diags.push(
                src.at(
                    line,
                    col,
                    Some(format!("{kind} '{}'", super::diagnostic::one_line(id))),
                    "this id is already used by another object",
                )
                .hint("ids must be unique across the whole scene"),
            );
        } else if !valid_id(id) {
            diags.push(
                src.at_id(kind, id, format!("the id may contain only ASCII letters, digits, '_', '-' and '.', at most {MAX_ID_CHARS} of them"))
                    .hint("ids name objects in outputs and commands; write names in other scripts in `unit.name` or in comments"),
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
    if scene.unit.name.chars().any(char::is_control) {
        diags.push(
            src.at_text(
                "name:",
                Some("unit".into()),
                "the unit's name contains a control character (a line break or tab)",
            )
            .hint("write the name on one line"),
        );
    }
}

/// Names for a hint: all of them when there are few, else the first ten and how many more.
pub(super) fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    match names.len() {
        0 => "none".to_string(),
        n if n <= 12 => names.join(", "),
        n => format!("{}, … ({} more)", names[..10].join(", "), n - 10),
    }
}

fn check_level_refs(scene: &Scene, src: &SourceMap, levels: &BTreeMap<&str, usize>, diags: &mut Diagnostics) {
    let known = || list(levels.keys().copied());
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
    for b in &scene.barriers {
        check("barrier", &b.id, &b.level);
    }
    for h in &scene.hazards {
        check("hazard", &h.id, &h.level);
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
    for h in &scene.hold_lines {
        check("hold line", &h.id, &h.level);
    }
}

/// References by name that need no geometry: event targets, goal doors, route destinations and
/// arrival doors must exist.
fn check_names(scene: &Scene, src: &SourceMap, diags: &mut Diagnostics) {
    let doors: BTreeSet<&str> = scene.doors.iter().map(|d| d.id.as_str()).collect();
    let destinations: BTreeSet<&str> = scene.destinations.iter().map(|d| d.id.as_str()).collect();
    let known = super::measures::Names::new(scene);
    for (i, e) in scene.events.iter().enumerate() {
        for (kind, name) in super::measures::action_refs(&e.action) {
            if !known.contains(kind, name) {
                let (line, col) = src.locate_event_target(i, name);
                diags.push(
                    src.at(
                        line,
                        col,
                        Some(format!("event #{} at {} s", i + 1, number(e.at))),
                        format!("refers to {kind} '{name}', which does not exist"),
                    )
                    .hint(format!("{kind}s in this scene: {}", list(known.of(kind)))),
                );
            }
        }
    }
    for p in &scene.populations {
        match &p.goal {
            Goal::Exits(list_of) => {
                if list_of.is_empty() {
                    diags.push(
                        src.at_id("population", &p.id, "goal `Exits([])` lists no exit")
                            .hint("name at least one exit door, or use NearestExit"),
                    );
                }
                for door in list_of.iter().filter(|d| !doors.contains(d.as_str())) {
                    diags.push(
                        src.at_id("population", &p.id, format!("goal refers to door '{door}', which does not exist"))
                            .hint(format!("doors in this scene: {}", list(doors.iter().copied()))),
                    );
                }
            }
            Goal::Route(stops) => {
                for stop in stops.iter().filter(|s| !destinations.contains(s.as_str())) {
                    diags.push(
                        src.at_id(
                            "population",
                            &p.id,
                            format!("route refers to destination '{stop}', which does not exist"),
                        )
                        .hint(format!("destinations: {}", list(destinations.iter().copied()))),
                    );
                }
            }
            Goal::NearestExit => {}
        }
        if let Placement::Arrivals { door, .. } = &p.placement
            && !doors.contains(door.as_str())
        {
            diags.push(
                src.at_id("population", &p.id, format!("arrivals refer to door '{door}', which does not exist"))
                    .hint(format!("doors in this scene: {}", list(doors.iter().copied()))),
            );
        }
    }
}

/// Numbers that are out of range. Objects whose numbers shape geometry (doors, stairs, streets and
/// crossings) are marked unusable, so that the world builder never draws them from such numbers.
fn check_numbers(scene: &Scene, src: &SourceMap, p: &mut Precheck) {
    let diags = &mut p.problems;
    let unusable = &mut p.unusable;
    let finite_in = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
    for level in &scene.levels {
        if !finite_in(level.elevation, -MAX_ELEVATION, MAX_ELEVATION) {
            diags.push(
                src.at_id(
                    "level",
                    &level.id,
                    format!("elevation must be a number within ±{MAX_ELEVATION} m (got {})", number(level.elevation)),
                )
                .hint("the height of the floor above the unit's reference level, in metres"),
            );
        }
    }
    for d in &scene.doors {
        if !(d.width > 0.0 && d.width <= MAX_DOOR_WIDTH) {
            let message = if d.width > 0.0 {
                format!("width must be at most {MAX_DOOR_WIDTH} m (got {} m)", number(d.width))
            } else {
                format!("width must be positive (got {} m)", number(d.width))
            };
            diags.push(
                src.at_id("door", &d.id, message).hint("a door is `width` metres wide along its wall, centred on `at`"),
            );
            unusable.insert(d.id.clone());
        }
    }
    for st in &scene.stairs {
        if !(finite_in(st.width, 1e-3, 100.0) && finite_in(st.run, 1e-3, 1000.0)) {
            diags.push(
                src.at_id(
                    "stair",
                    &st.id,
                    format!("width and run must be positive (got {} m and {} m)", number(st.width), number(st.run)),
                )
                .hint("`run` is the horizontal length of the flights, landings included; at most 100 m wide and 1 km long"),
            );
            unusable.insert(st.id.clone());
        }
        let speeds = [st.speed_up, st.speed_down].into_iter().flatten().all(|v| v > 0.0 && v <= 3.0);
        if !speeds || !finite_in(st.flow_up, 1e-3, 10.0) || !finite_in(st.flow_down, 1e-3, 10.0) {
            diags.push(
                src.at_id("stair", &st.id, "speeds must lie in (0, 3] m/s and flows in (0, 10] persons/(m·s)")
                    .hint("IMO MSC.1/Circ.1533: 0.8 m/s up, 1.0 m/s down along the slope; 0.88 and 1.1 persons/(m·s)"),
            );
        }
        let elevation = |id: &str| scene.levels.iter().find(|l| l.id == id).map(|l| l.elevation);
        if let (Some(foot), Some(head)) = (elevation(&st.foot.level), elevation(&st.head.level))
            && foot.is_finite()
            && head.is_finite()
            && head <= foot
        {
            diags.push(
                src.at_id(
                    "stair",
                    &st.id,
                    format!(
                        "its head level '{}' ({} m) must be higher than its foot level '{}' ({} m)",
                        st.head.level,
                        number(head),
                        st.foot.level,
                        number(foot)
                    ),
                )
                .hint("swap `foot` and `head`, or fix the levels' elevations"),
            );
        }
    }
    for st in &scene.streets {
        let finite_line = st.centerline.iter().flatten().all(|c| c.is_finite());
        let length: f64 =
            if finite_line { st.centerline.windows(2).map(|w| v(w[0]).distance(v(w[1]))).sum() } else { f64::NAN };
        let sound = st.centerline.len() >= 2
            && length > 0.01
            && finite_in(st.carriageway, STREET_CARRIAGEWAY.0, STREET_CARRIAGEWAY.1)
            && finite_in(st.sidewalks.0, 0.0, 100.0)
            && finite_in(st.sidewalks.1, 0.0, 100.0)
            && finite_in(st.kerb, 0.0, 1.0)
            && (STREET_LANES.0..=STREET_LANES.1).contains(&st.lanes)
            && finite_in(st.speed_limit, STREET_SPEED_LIMIT.0, STREET_SPEED_LIMIT.1);
        if !sound {
            diags.push(
                src.at_id("street", &st.id, format!("needs a centre line of two or more distinct finite points (length {length:.2} m), a carriageway 0.5–100 m wide, sidewalks of 0–100 m, a kerb of 0–1 m, 1–16 lanes and a speed limit of 5–150 km/h"))
                    .hint("e.g. centerline: [(0.0, 0.0), (80.0, 0.0)], carriageway: 6.0, sidewalks: (2.5, 2.5), lanes: 2"),
            );
            unusable.insert(st.id.clone());
        }
        for c in &st.crossings {
            if !(finite_in(c.width, 0.5, 50.0) && c.at >= 0.0 && c.at <= length) {
                diags.push(
                    src.at_id(
                        "crossing",
                        &c.id,
                        format!(
                            "must lie along its street (0–{length:.1} m) with a positive width (got at {}, width {})",
                            number(c.at),
                            number(c.width)
                        ),
                    )
                    .hint("`at` is the distance along the street's centre line; widths 0.5–50 m"),
                );
                unusable.insert(c.id.clone());
            }
        }
    }
    for b in &scene.buildings {
        if !(finite_in(b.height, 0.1, 1000.0) && (1..=300).contains(&b.floors)) {
            diags.push(
                src.at_id(
                    "building",
                    &b.id,
                    format!(
                        "needs a height of 0.1–1000 m and 1–300 floors (got {} m, {} floors)",
                        number(b.height),
                        b.floors
                    ),
                )
                .hint("e.g. height: 24.0, floors: 6"),
            );
        }
    }
    for o in &scene.obstacles {
        if !finite_in(o.height, 1e-3, 1000.0) {
            diags.push(
                src.at_id(
                    "obstacle",
                    &o.id,
                    format!("height must be positive, at most 1000 m (got {} m)", number(o.height)),
                )
                .hint("leave `height` out for 1 m, or give it in metres"),
            );
        }
    }
    for p in &scene.populations {
        if !radius_ok(p.radius) {
            diags.push(
                src.at_id(
                    "population",
                    &p.id,
                    format!("radius must be between 0.1 and 0.5 m (got {})", number(p.radius)),
                )
                .hint("adults are about 0.2 m (shoulder width 0.4 m)"),
            );
        }
        if !(p.time_gap > 0.0 && p.time_gap <= 5.0) || !(p.relaxation > 0.0 && p.relaxation <= 5.0) {
            diags.push(
                src.at_id(
                    "population",
                    &p.id,
                    format!(
                        "time_gap ({}) and relaxation ({}) must lie in (0, 5] s",
                        number(p.time_gap),
                        number(p.relaxation)
                    ),
                )
                .hint("defaults: time_gap 0.55 s (collision-free speed model), relaxation 0.5 s (social force model)"),
            );
        }
        check_distribution(src, &p.id, "speed", &p.speed, 0.05, 10.0, diags);
        check_distribution(src, &p.id, "premovement", &p.premovement, 0.0, 1e6, diags);
        if let Placement::Arrivals { rates, .. } = &p.placement {
            let sorted = rates.windows(2).all(|w| w[0].0 < w[1].0);
            let sound = |r: &(f64, f64)| finite_in(r.0, 0.0, MAX_DURATION) && finite_in(r.1, 0.0, MAX_ARRIVAL_RATE);
            if rates.is_empty() || !sorted || !rates.iter().all(sound) {
                diags.push(
                    src.at_id("population", &p.id, format!("arrival `rates` must be non-empty `(from_time_s, persons_per_hour)` steps with increasing times and rates of 0–{MAX_ARRIVAL_RATE} per hour"))
                        .hint("e.g. rates: [(0.0, 1200.0), (600.0, 3000.0)]"),
                );
            }
        }
    }
    for d in &scene.destinations {
        check_distribution(src, &d.id, "dwell", &d.dwell, 0.0, 1e6, diags);
        // How a place fills and what a visitor does when it is full mean nothing where nobody stays.
        let nobody_stays = matches!(d.dwell, Distribution::Constant(t) if t <= 0.0);
        for (set, option) in [(d.fill != Fill::Anywhere, "fill"), (d.when_full != WhenFull::Wait, "when_full")] {
            if set && nobody_stays {
                diags.push(
                    src.at_id(
                        "destination",
                        &d.id,
                        format!(
                            "`{option}` is for a place people stay at, and nobody stays here (dwell Constant(0.0))"
                        ),
                    )
                    .hint("give it a dwell, e.g. dwell: Uniform(min: 300.0, max: 600.0), or leave the option out"),
                );
            }
        }
    }
    for (i, e) in scene.events.iter().enumerate() {
        if !finite_in(e.at, 0.0, MAX_DURATION) {
            let (line, col) = src.element_span("events", i).map_or((1, 1), |(start, _)| src.position(start));
            diags.push(
                src.at(
                    line,
                    col,
                    Some(format!("event #{}", i + 1)),
                    format!("time must be zero or positive, at most {MAX_DURATION} s (got {})", number(e.at)),
                )
                .hint("`at` is the simulated time in seconds from the start of the run"),
            );
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
    let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite());
    let (min, max, ok) = match *dist {
        Distribution::Constant(c) => (c, c, true),
        Distribution::Uniform { min, max } => (min, max, true),
        Distribution::Normal { mean, sd, min, max } => {
            (min, max, finite(&[mean, sd]) && sd >= 0.0 && (min..=max).contains(&mean))
        }
        Distribution::LogNormal { mu, sigma, min, max } => {
            (min, max, finite(&[mu, sigma]) && sigma >= 0.0 && mu.abs() <= 50.0)
        }
        Distribution::AgeGroups(ref groups) => (
            groups.iter().map(|g| g.0.speed_range().0).fold(f64::INFINITY, f64::min),
            groups.iter().map(|g| g.0.speed_range().1).fold(0.0, f64::max),
            !groups.is_empty() && groups.iter().all(|g| g.1 > 0.0 && g.1 <= 1e6),
        ),
    };
    if !(ok && min <= max && min >= lo && max <= hi && min.is_finite() && max.is_finite()) {
        diags.push(
            src.at_id("population or destination", id, format!("{what} distribution {dist:?} is invalid")).hint(
                format!("values must be finite and lie in [{lo}, {hi}] with min ≤ max and a non-negative spread"),
            ),
        );
    }
}

/// What is wrong with one polygon, as (message, hint).
pub fn polygon_problem(outer: &[Point], holes: &[Vec<Point>]) -> Option<(String, String)> {
    for (role, ring) in std::iter::once(("outline", outer)).chain(holes.iter().map(|h| ("hole", h.as_slice()))) {
        if ring.iter().flatten().any(|c| !c.is_finite()) {
            return Some((format!("its {role} has a non-finite coordinate"), "use plain numbers in metres".into()));
        }
        let distinct = distinct_corners(ring);
        if distinct.len() < 3 {
            return Some((
                format!("its {role} is degenerate: {} distinct point(s), a polygon needs at least 3", distinct.len()),
                "list the corners in order; the ring closes by itself".into(),
            ));
        }
        if let Some((i, j)) = first_self_intersection(&distinct) {
            let n = distinct.len();
            let (a, b) = (v(distinct[i]), v(distinct[(i + 1) % n]));
            let (c, d) = (v(distinct[j]), v(distinct[(j + 1) % n]));
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
        if ring_signed_area(&distinct).abs() < 1e-6 {
            return Some((
                format!("its {role} is degenerate: it has zero area (all points on one line)"),
                "check the coordinates".into(),
            ));
        }
    }
    let message = match rings_problem(outer, holes)? {
        RingsProblem::Cross(0, k) => format!("its hole {k} crosses or touches the outline"),
        RingsProblem::Cross(j, k) => format!("its holes {j} and {k} cross or touch"),
        RingsProblem::HoleOutside(k) => format!("its hole {k} lies outside the outline"),
        RingsProblem::HoleInHole(k, m) => format!("its hole {k} lies inside hole {m}"),
    };
    Some((
        format!("is not a valid polygon: {message}"),
        "holes must lie inside the outline without touching each other".into(),
    ))
}

fn check_polygons(scene: &Scene, src: &SourceMap, p: &mut Precheck) {
    for level in &scene.levels {
        for w in &level.walls {
            if w.points.len() < 2 || w.points.iter().flatten().any(|c| !c.is_finite()) {
                p.problems.push(
                    src.at_id("wall", &w.id, "needs at least two finite points")
                        .hint("a wall is a polyline: points: [(x1, y1), (x2, y2), ...]"),
                );
                p.unusable.insert(w.id.clone());
            }
        }
    }
    for m in &scene.measurements {
        if let Measurement::Line { id, from, to, .. } = m
            && (from == to || from.iter().chain(to).any(|c| !c.is_finite()))
        {
            p.problems.push(
                src.at_id("measurement", id, "line has zero length or a non-finite point")
                    .hint("give two distinct points"),
            );
        }
    }
    let mut check = |kind: &str, id: &str, outer: &[Point], holes: &[Vec<Point>]| {
        if let Some((msg, hint)) = polygon_problem(outer, holes) {
            p.problems.push(src.at_id(kind, id, msg).hint(hint));
            p.unusable.insert(id.to_string());
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
    for pop in &scene.populations {
        if let Placement::Area { polygon, .. } = &pop.placement {
            check("population", &pop.id, polygon, &[]);
        }
    }
    for m in &scene.measurements {
        match m {
            Measurement::Area { id, polygon, .. } => check("measurement", id, polygon, &[]),
            Measurement::Line { .. } => {}
        }
    }
}
