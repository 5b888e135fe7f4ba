//! The world-building layer: turns a loaded scene into the runtime twin (space, navigation and
//! the plans of populations, measurements and timed commands), reporting problems located in the file.

pub mod params;
pub mod placement;
pub mod space;

use std::path::Path;

use bevy::math::DVec2;
use bevy::prelude::Resource;
use geo::{Area as _, BooleanOps};

use crate::command::{Command, TimedCommand};
use crate::geom::{polygon, ring_contains, v};
use crate::ids::{DoorId, LevelId, TargetId};
use crate::nav::{CellSource, NavGrid, Navigation, TargetKey};
use crate::scene::limits::{MAX_NAV_BYTES, MAX_NAV_CELLS};
use crate::scene::{self, Action, Diagnostics, LoadedScene, MAX_SPAWN_DENSITY, Precheck, Scene, SourceMap};
use crate::space::Space;
pub use params::*;

/// The run settings of a twin.
#[derive(Clone, Copy, Debug)]
pub struct RunParams {
    pub step: f64,
    pub duration: f64,
    pub seed: u64,
    pub output_interval: f64,
    pub nav_cell: f64,
}

/// What the simulation plugins initialise their state from (a world resource).
#[derive(Resource, Clone, Debug)]
pub struct Scenario {
    pub run: RunParams,
    pub model: PedModel,
    pub routing: RoutingMode,
    pub populations: Vec<PopulationPlan>,
    pub measurements: Vec<MeasurementPlan>,
    /// The scene's timed events, in time order.
    pub timed: Vec<TimedCommand>,
    /// The scene's playbooks, in file order.
    pub playbooks: Vec<PlaybookPlan>,
}

/// A built twin, ready to run: the space, its navigation and the scenario, with the scene it came from.
#[derive(Clone, Debug)]
pub struct Twin {
    pub loaded: LoadedScene,
    pub space: Space,
    pub nav: Navigation,
    pub scenario: Scenario,
    /// Roads, signals and vehicle demand.
    pub traffic: std::sync::Arc<crate::traffic::Network>,
}

impl Twin {
    /// The scene file's contents (for provenance and reports; the runtime reads `scenario`).
    pub fn scene(&self) -> &Scene {
        &self.loaded.scene
    }
}

/// Reads, checks and builds a scene file.
pub fn load(path: &Path) -> Result<Twin, Diagnostics> {
    build(scene::read_scene(path)?)
}

/// Checks a loaded scene and builds its twin. Every problem found is reported, in file order.
pub fn build(loaded: LoadedScene) -> Result<Twin, Diagnostics> {
    let pre = scene::precheck(&loaded);
    let mut diags = pre.problems.clone();
    if !pre.world_safe {
        return Err(diags.sorted());
    }
    let (scene, src) = (&loaded.scene, &loaded.source);
    let mut space = space::build_space(scene, src, &pre, &mut diags);
    let geometry = check_geometry(scene, src, &space, &pre, &mut diags);
    let traffic = crate::traffic::network::build(scene, src, &space, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    let model = PedModel::from(&scene.model);
    check_nav_size(scene, src, &space, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    // Checked with the traffic network; out-of-range values build no open grids.
    let carriageway_cost = scene
        .traffic
        .crossing_rules
        .outside_crossings
        .as_ref()
        .filter(|o| o.share > 0.0 && o.share <= 1.0 && (1.0..=100.0).contains(&o.carriageway_cost))
        .map(|o| o.carriageway_cost);
    let mut nav = Navigation::new(&space, scene.run.nav_cell, near_wall_reach(scene, &space, &model), carriageway_cost);
    let populations = plan_populations(scene, src, &space, &mut nav, geometry, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    // Indexed like the walkers' population ids.
    space.populations = populations.iter().map(|p| p.id.clone()).collect();
    space.exit_assignments = vec![None; populations.len()];
    let measurements = scene
        .measurements
        .iter()
        .map(|m| match m {
            scene::Measurement::Line { id, level, from, to } => {
                MeasurementPlan::Line { id: id.clone(), level: space.level_index[level], a: v(*from), b: v(*to) }
            }
            scene::Measurement::Area { id, level, polygon, .. } => {
                MeasurementPlan::Area { id: id.clone(), level: space.level_index[level], polygon: polygon.clone() }
            }
        })
        .collect();
    let mut timed: Vec<TimedCommand> = Vec::with_capacity(scene.events.len());
    for (i, e) in scene.events.iter().enumerate() {
        match Command::resolve(&e.action, &space) {
            Ok(command) => timed.push(TimedCommand { at: e.at, command, incident: e.incident }),
            Err(err) => {
                let (line, col) = src.locate_event_target(i, action_target(&e.action));
                diags.push(
                    src.at(line, col, Some(format!("event #{} at {} s", i + 1, scene::number(e.at))), err.to_string())
                        .hint("events act on the scene's doors, zones, streets and signals"),
                )
            }
        }
    }
    let playbooks = plan_playbooks(scene, src, &space, &mut diags);
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    // Stable: events at the same time keep their order in the file.
    timed.sort_by(|a, b| a.at.total_cmp(&b.at));
    let r = &scene.run;
    let scenario = Scenario {
        run: RunParams {
            step: r.step,
            duration: r.duration,
            seed: r.seed,
            output_interval: r.output_interval,
            nav_cell: r.nav_cell,
        },
        model,
        routing: scene.routing.into(),
        populations,
        measurements,
        timed,
        playbooks,
    };
    Ok(Twin { space, nav, scenario, loaded, traffic: std::sync::Arc::new(traffic) })
}

fn action_target(action: &Action) -> &str {
    scene::measures::action_refs(action).first().map_or("", |r| r.1)
}

/// How far from a wall a cell still counts as near it: the largest body, the model's wall range
/// and the longest step anyone can take (stairs and the social force model's cap included).
fn near_wall_reach(scene: &Scene, space: &Space, model: &PedModel) -> f64 {
    let radius = scene.populations.iter().map(|p| p.radius).fold(0.0, f64::max);
    let stair_factor = space.stairs.iter().map(|s| s.speed_up.max(s.speed_down) / 1.34).fold(1.0, f64::max);
    let speed = scene.populations.iter().map(|p| Dist::from(&p.speed).max()).fold(0.0, f64::max);
    radius + model.wall_reach() + speed * model.speed_cap() * stair_factor * scene.run.step + 0.05
}

/// Refuses navigation grids that would exceed the documented cell and memory limits.
fn check_nav_size(scene: &Scene, src: &SourceMap, space: &Space, diags: &mut Diagnostics) {
    let cell = scene.run.nav_cell;
    let mut cells = 0.0;
    let mut widest: Option<(f64, &str)> = None;
    for level in space.levels.iter() {
        let (nx, ny) = NavGrid::dimensions(level, cell);
        cells += nx * ny;
        if widest.is_none_or(|w| nx * ny > w.0) {
            widest = Some((nx * ny, &level.id));
        }
    }
    // Fields: one per destination and per distinct set of exits the populations leave by (all
    // exits for those who take the nearest; one per exit where some choose the quickest), and
    // the fallback to any exit, at 16 bytes a cell; the grids at 12 bytes a cell. Populations
    // sharing a goal share its fields.
    let exit_sets: std::collections::BTreeSet<Option<Vec<&str>>> = scene
        .populations
        .iter()
        .map(|p| match &p.goal {
            scene::Goal::Exits(list) => {
                let mut doors: Vec<&str> = list.iter().map(String::as_str).collect();
                doors.sort_unstable();
                doors.dedup();
                Some(doors)
            }
            _ => None,
        })
        .collect();
    let per_exit = scene.populations.iter().any(|p| p.exit_choice == scene::ExitChoice::Quickest);
    let targets = 1 + scene.destinations.len() + exit_sets.len() + if per_exit { space.exits().count() } else { 0 };
    let bytes = cells * (12.0 + 16.0 * targets as f64 + 12.0);
    if cells > MAX_NAV_CELLS as f64 || bytes > MAX_NAV_BYTES as f64 {
        let (_, level) = widest.unwrap_or((0.0, "?"));
        let coarser = (cell * (cells / MAX_NAV_CELLS as f64).max(bytes / MAX_NAV_BYTES as f64).sqrt() * 1.05).min(1.0);
        diags.push(
            src.at_text("nav_cell:", Some("run".into()), format!(
                "the navigation grid would have {:.0} million cells of {cell} m (largest on level '{level}') and need about {:.1} GiB; at most {} million cells and {} GiB are allowed",
                cells / 1e6,
                bytes / (1u64 << 30) as f64,
                MAX_NAV_CELLS / 1_000_000,
                MAX_NAV_BYTES >> 30
            ))
            .hint(format!("use a coarser nav_cell (about {coarser:.2} m), or split the unit into smaller scenes")),
        );
    }
}

/// Per population: level, walkable spawn area (m²) and entrance door, if the geometry is sound.
type Geometry = Option<(LevelId, f64, Option<DoorId>)>;

fn check_geometry(
    scene: &Scene,
    src: &SourceMap,
    space: &Space,
    pre: &Precheck,
    diags: &mut Diagnostics,
) -> Vec<Geometry> {
    for (li, level) in space.levels.enumerate().take(scene.levels.len()) {
        if level.walkable.unsigned_area() < 1e-6 && pre.level_sound(scene, li.index()) {
            diags.push(
                src.at_id("level", &level.id, "has no walkable space left once obstacles and buildings are cut out")
                    .hint("shrink or move the obstacles and buildings that cover the level's walkable areas"),
            );
        }
    }
    for d in &scene.destinations {
        let Some(&li) = space.level_index.get(&d.level) else { continue };
        if pre.usable(&d.id) && polygon(&d.area, &[]).intersection(&space.levels[li].walkable).unsigned_area() < 1e-3 {
            diags.push(
                src.at_id("destination", &d.id, "lies outside the walkable space")
                    .hint("agents could never reach it; move it onto a walkable area"),
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
        if let scene::Goal::Exits(list) = &p.goal {
            for door in list {
                if let Some(&d) = space.door_index.get(door)
                    && !(space.doors[d].boundary && space.doors[d].exit)
                {
                    diags.push(
                        src.at_id("population", &p.id, format!("goal door '{door}' is not an exit"))
                            .hint("exits are doors on the outer boundary of the walkable space with `exit: true`"),
                    );
                }
            }
        }
        match &p.placement {
            scene::Placement::Area { polygon: spawn, count } => {
                if !pre.usable(&p.id) || !pre.level_sound(scene, li.index()) {
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
                if !scene::check::radius_ok(p.radius) {
                    result.push(None); // reported by the scene checks; nobody of that size is placed
                    continue;
                }
                // `run` places them with its seed; this test holds for every seed.
                if let Err(most) = placement::fits(level, spawn, *count as usize, p.radius) {
                    diags.push(
                        src.at_id("population", &p.id, format!("only {most} of {count} agents fit in the spawn area without overlapping each other or a wall"))
                            .hint("enlarge the spawn area, lower the count, or move it away from obstacles"),
                    );
                    result.push(None);
                    continue;
                }
                result.push(Some((li, free, None)));
            }
            scene::Placement::Arrivals { door, .. } => {
                match space.door_index.get(door) {
                    Some(&d) if space.doors[d].boundary && space.doors[d].level == li => {
                        result.push(Some((li, 0.0, Some(d))))
                    }
                    Some(_) => {
                        diags.push(
                        src.at_id("population", &p.id, format!("arrivals come through door '{door}', which is not on the outer boundary of level '{}'", p.level))
                            .hint("arrivals enter from outside: put the door on the boundary of the walkable space"),
                    );
                        result.push(None);
                    }
                    None => result.push(None),
                }
            }
        }
    }
    result
}

fn plan_populations(
    scene: &Scene,
    src: &SourceMap,
    space: &Space,
    nav: &mut Navigation,
    geometry: Vec<Geometry>,
    diags: &mut Diagnostics,
) -> Vec<PopulationPlan> {
    let mut plans = Vec::new();
    for (p, geometry) in scene.populations.iter().zip(geometry) {
        let Some((level, spawn_area, entrance)) = geometry else { continue };
        // Target, dwell, what it is (for messages), and the level of a destination.
        let mut legs: Vec<(TargetId, Option<Dist>, String, Option<LevelId>)> = Vec::new();
        if let scene::Goal::Route(stops) = &p.goal {
            for stop in stops {
                let id = space.destination_index[stop];
                let target = nav.target(space, TargetKey::Destination { destination: id });
                let dest = &scene.destinations[id.index()];
                legs.push((
                    target,
                    Some(Dist::from(&dest.dwell)),
                    format!("destination '{}'", dest.id),
                    Some(space.destinations[id].level),
                ));
            }
        }
        let doors = match &p.goal {
            scene::Goal::Exits(list) => {
                let mut ids: Vec<DoorId> = list.iter().filter_map(|d| space.door_index.get(d).copied()).collect();
                ids.sort_unstable();
                Some(ids)
            }
            _ => None,
        };
        let exit_choice = ExitChoice::from(p.exit_choice);
        let exit_options: Vec<(DoorId, TargetId)> = if exit_choice == ExitChoice::Quickest {
            let candidates: Vec<DoorId> = match &doors {
                Some(ids) => ids.clone(),
                None => space.exits().map(|(id, _)| id).collect(),
            };
            candidates.into_iter().map(|d| (d, nav.target(space, TargetKey::Exits { doors: Some(vec![d]) }))).collect()
        } else {
            Vec::new()
        };
        let exit_target = nav.target(space, TargetKey::Exits { doors });
        legs.push((exit_target, None, "an open exit".into(), None));

        let grid = &nav.grids[level];
        let starts: Vec<DVec2> = match (&p.placement, entrance) {
            (scene::Placement::Area { polygon, .. }, _) => (0..grid.nx * grid.ny)
                .filter(|&k| grid.walkable[k] && ring_contains(polygon, grid.center(k)))
                .map(|k| grid.center(k))
                .collect(),
            (scene::Placement::Arrivals { .. }, Some(d)) => {
                let door = &space.doors[d];
                vec![door.midpoint() - door.normal * (p.radius + 0.05)]
            }
            _ => Vec::new(),
        };
        let (mut from_level, mut from) = (level, starts);
        for (target, _, what, dest_level) in &legs {
            let grid = &nav.grids[from_level];
            let f = nav.field(*target, from_level);
            let stuck = from.iter().filter(|q| !f.reaches(grid, **q)).count();
            if stuck > 0 {
                let whence = if entrance.is_some() { "the entrance" } else { "the spawn area" };
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
                let (grid, f) = (&nav.grids[dl], nav.field(*target, dl));
                from = (0..grid.nx * grid.ny)
                    .filter(|&k| f.source[k] == CellSource::InDestination)
                    .map(|k| grid.center(k))
                    .collect();
                from_level = dl;
            }
        }
        let origin = match (&p.placement, entrance) {
            (scene::Placement::Area { polygon, count }, _) => {
                Origin::Area { polygon: polygon.clone(), count: *count, free_area: spawn_area }
            }
            (scene::Placement::Arrivals { rates, total, .. }, Some(door)) => {
                Origin::Arrivals { door, rates: rates.clone(), total: *total }
            }
            (scene::Placement::Arrivals { .. }, None) => continue,
        };
        plans.push(PopulationPlan {
            id: p.id.clone(),
            level,
            origin,
            radius: p.radius,
            time_gap: p.time_gap,
            relaxation: p.relaxation,
            speed: Dist::from(&p.speed),
            premovement: Dist::from(&p.premovement),
            legs: legs.into_iter().map(|(target, dwell, ..)| Leg { target, dwell }).collect(),
            exit_choice,
            exit_options,
        });
    }
    plans
}

/// The scene's playbooks with their areas and actions resolved to the twin's ids.
fn plan_playbooks(scene: &Scene, src: &SourceMap, space: &Space, diags: &mut Diagnostics) -> Vec<PlaybookPlan> {
    let mut plans = Vec::with_capacity(scene.playbooks.len());
    for pb in &scene.playbooks {
        let condition = |c: &scene::Condition| -> Option<ConditionPlan> {
            let subject = match c.watches() {
                scene::Watched::Area(area) => Subject::Area(*space.area_index.get(area)?),
                scene::Watched::Street(street) => Subject::Street(*space.street_index.get(street)?),
            };
            let test = match *c {
                scene::Condition::DensityAbove { density, .. } => ConditionTest::DensityAbove(density),
                scene::Condition::DensityBelow { density, .. } => ConditionTest::DensityBelow(density),
                scene::Condition::WarningAtLeast { level, .. } => ConditionTest::WarningAtLeast(level),
                scene::Condition::WarningBelow { level, .. } => ConditionTest::WarningBelow(level),
                scene::Condition::QueueAtLeast { vehicles, .. } => ConditionTest::QueueAtLeast(vehicles),
                scene::Condition::QueueBelow { vehicles, .. } => ConditionTest::QueueBelow(vehicles),
                scene::Condition::LaneBlocked { .. } => ConditionTest::LaneBlocked,
                scene::Condition::LanesClear { .. } => ConditionTest::LanesClear,
            };
            Some(ConditionPlan { subject, test, duration: c.duration() })
        };
        let mut commands = |actions: &[Action]| -> Vec<Command> {
            let mut out = Vec::with_capacity(actions.len());
            for action in actions {
                match Command::resolve(action, space) {
                    Ok(c) => out.push(c),
                    Err(err) => diags.push(
                        src.at_id("playbook", &pb.id, format!("{action}: {err}"))
                            .hint("playbook actions act on the scene's doors, zones, streets, signals and hold lines"),
                    ),
                }
            }
            out
        };
        let (then, after) = (commands(&pb.then), commands(&pb.after));
        let Some(when) = condition(&pb.when) else { continue };
        let until = pb.until.as_ref().and_then(condition);
        plans.push(PlaybookPlan { id: pb.id.clone(), when, then, until, after });
    }
    plans
}
