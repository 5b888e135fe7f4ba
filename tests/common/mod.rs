//! Shared harness for the verification tests: load a scene, step it, and after every step check
//! that every agent stands on walkable floor, overlaps no wall or body, and that agents are conserved.
#![allow(dead_code)]

use std::path::Path;

use bevy::math::DVec2;
use bevy::prelude::*;
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::crossing::KerbWait;
use unitwin::crowd::{AgentId, Body, Census, Plan};
use unitwin::geom::{distance_to_segment, segments_intersect};
use unitwin::nav::Navigation;
use unitwin::scene::read_scene;
use unitwin::schedule::{SimClock, SimControl};
use unitwin::space::SpaceRes;
use unitwin::twin::Twin;

pub fn load(path: &str) -> Twin {
    let full = Path::new(&unitwin_manifest_dir()).join(path);
    match read_scene(&full).and_then(unitwin::twin::build) {
        Ok(c) => c,
        Err(d) => panic!("{path} does not check:\n{d}"),
    }
}

pub fn app(checked: &Twin, seed: u64) -> App {
    let options = RunOptions { seed, until: checked.scene().run.duration, threads: None, replay: None };
    headless_app(checked, &options).expect("placement succeeds")
}

/// Result of a verified run.
pub struct Outcome {
    pub census: Census,
    /// Agents who left by each exit, by the exit's scene id.
    pub per_exit: std::collections::BTreeMap<String, u32>,
    /// Simulated time when the run ended.
    pub end: f64,
    /// Smallest clearance (centre-to-wall distance minus radius) seen, m.
    pub min_clearance: f64,
}

/// How far two bodies may overlap, m: real bodies compress by a few centimetres at most
/// (reference: validation.md, body overlap), and the model's bodies are rigid discs.
pub const BODY_OVERLAP_TOLERANCE: f64 = 0.04;

/// How far beyond an opening's line a centre may be, m, beyond its radius: a walker's step in one
/// tick at up to 4 m/s (0.05 s). Someone in a stair opening waits there with its centre past the
/// line until the stair lets it on; someone leaving by an exit is gone within the step.
pub const DOORWAY_REACH: f64 = 0.2;

/// Clearances from walls up to this, m, are reported exactly by `check_invariants`; larger ones as at least it.
pub const CLEARANCE_SEEN_WITHIN: f64 = 1.0;

/// Checks the invariants on the current state; panics with the offending agent.
pub fn check_invariants(world: &mut World) -> f64 {
    check_bodies(world);
    check_on_floor(world);
    let mut q = world.query::<(&AgentId, &Body, &KerbWait)>();
    let world: &World = world;
    let space = &world.resource::<SpaceRes>().0;
    let census = world.resource::<Census>();
    let t = world.resource::<SimClock>().now();
    let mut present = 0u32;
    let mut min_clearance = f64::INFINITY;
    for (id, body, kerb) in q.iter(world) {
        present += 1;
        // Those who cross streets anywhere meet the open level's walls (no kerbs on unfenced streets).
        let walls = space.levels[body.level].walls_for(kerb.crosses_anywhere);
        assert_eq!(walls.tree.size(), walls.segments.len(), "t = {t:.2} s: the wall index does not hold every wall");
        // A wall the body overlaps is within its radius, one crossed this step within the step's length;
        // the margin keeps the smallest clearance exact below it (the R-tree makes this linear in agents).
        let reach = body.radius + body.prev.distance(body.pos) + CLEARANCE_SEEN_WITHIN;
        for wall in walls.near(body.pos, reach).map(|w| &walls.segments[w.data as usize]) {
            let d = distance_to_segment(body.pos, wall.a, wall.b);
            min_clearance = min_clearance.min(d - body.radius);
            assert!(
                d >= body.radius - 1e-6,
                "t = {t:.2} s: agent {} overlaps a wall (centre {d:.3} m from it, radius {})",
                id.0,
                body.radius
            );
            assert!(
                body.prev == body.pos || !segments_intersect(body.prev, body.pos, wall.a, wall.b),
                "t = {t:.2} s: agent {} crossed a wall between {:?} and {:?}",
                id.0,
                body.prev,
                body.pos
            );
        }
    }
    assert_eq!(
        census.spawned,
        present + census.exited,
        "t = {t:.2} s: agents not conserved: {} spawned, {present} on site, {} exited",
        census.spawned,
        census.exited
    );
    min_clearance
}

/// Panics when someone's centre is outside its level's walkable area and not in an open doorway
/// there (within its radius and `DOORWAY_REACH` of the opening). Walls alone do not show it:
/// where a level ends at a stair opening or an exit no wall goes on beyond it.
pub fn check_on_floor(world: &mut World) {
    use geo::Intersects;
    let mut q = world.query::<(&AgentId, &Body, &KerbWait, &Plan)>();
    let world: &World = world;
    let t = world.resource::<SimClock>().now();
    let space = &world.resource::<SpaceRes>().0;
    let nav = world.resource::<Navigation>();
    for (id, body, kerb, plan) in q.iter(world) {
        let grid = &nav.for_agent(kerb.crosses_anywhere).grids[body.level];
        // A walkable cell has its centre on the floor; only elsewhere is the outline itself asked.
        if grid.cell_at(body.pos).is_some_and(|k| grid.walkable[k]) {
            continue;
        }
        let level = &space.levels[body.level];
        let walkable = match (&level.open, kerb.crosses_anywhere) {
            (Some(open), true) => &open.walkable,
            _ => &level.walkable,
        };
        if walkable.intersects(&geo::Point::new(body.pos.x, body.pos.y)) {
            continue;
        }
        let in_doorway = space.doors_on(body.level).any(|(_, d)| {
            d.boundary
                && d.cuts_wall(&space.portals)
                && distance_to_segment(body.pos, d.a, d.b) <= body.radius + DOORWAY_REACH
        });
        assert!(
            in_doorway,
            "t = {t:.2} s: agent {} stands off the floor of level {} at ({:.3}, {:.3}), in no open doorway \
             (from ({:.3}, {:.3}) this step; {:?})",
            id.0, level.id, body.pos.x, body.pos.y, body.prev.x, body.prev.y, plan
        );
    }
}

/// Panics when two bodies on one level overlap by more than `BODY_OVERLAP_TOLERANCE`.
/// Bodies are hashed into 1 m cells (no radius exceeds 0.5 m), so the check is linear.
pub fn check_bodies(world: &mut World) {
    let t = world.resource::<SimClock>().now();
    let mut q = world.query::<(&AgentId, &Body)>();
    let mut bodies: Vec<(u32, i64, i64, u32, DVec2, f64)> = q
        .iter(world)
        .map(|(id, b)| (b.level.index() as u32, b.pos.x.floor() as i64, b.pos.y.floor() as i64, id.0, b.pos, b.radius))
        .collect();
    bodies.sort_by_key(|b| (b.0, b.1, b.2, b.3));
    let cell = |level: u32, x: i64, y: i64| {
        let start = bodies.partition_point(|b| (b.0, b.1, b.2) < (level, x, y));
        let end = bodies.partition_point(|b| (b.0, b.1, b.2) <= (level, x, y));
        start..end
    };
    for a in &bodies {
        for dx in -1..=1 {
            for dy in -1..=1 {
                for b in &bodies[cell(a.0, a.1 + dx, a.2 + dy)] {
                    if b.3 <= a.3 {
                        continue;
                    }
                    let overlap = a.5 + b.5 - a.4.distance(b.4);
                    assert!(
                        overlap <= BODY_OVERLAP_TOLERANCE,
                        "t = {t:.2} s: agents {} and {} overlap by {:.3} m (centres {:.3} m apart; tolerance {BODY_OVERLAP_TOLERANCE} m)",
                        a.3,
                        b.3,
                        overlap,
                        a.4.distance(b.4)
                    );
                }
            }
        }
    }
}

/// Steps to the end of the run, checking the invariants after every step and calling `observe`.
pub fn run_verified(app: &mut App, mut observe: impl FnMut(&mut World)) -> Outcome {
    let mut min_clearance = f64::INFINITY;
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let world = app.world_mut();
        min_clearance = min_clearance.min(check_invariants(world));
        observe(world);
    }
    let world = app.world();
    let census = world.resource::<Census>().clone();
    let space = &world.resource::<SpaceRes>().0;
    let per_exit = census.per_exit.iter().map(|(d, n)| (space.doors[*d].id.clone(), *n)).collect();
    Outcome { census, per_exit, end: world.resource::<SimClock>().now(), min_clearance }
}

/// Agents' (id, position) now, in id order.
pub fn positions(world: &mut World) -> Vec<(u32, bevy::math::DVec2)> {
    let mut q = world.query::<(&AgentId, &Body)>();
    let mut v: Vec<_> = q.iter(world).map(|(id, b)| (id.0, b.pos)).collect();
    v.sort_by_key(|a| a.0);
    v
}

/// Fruin's level of service for walkways at a density in persons/m² (validation.md: area per person
/// A ≥ 3.25 m², B 2.32–3.25, C 1.39–2.32, D 0.93–1.39, E 0.46–0.93, F < 0.46).
pub fn fruin(density: f64) -> char {
    match 1.0 / density.max(1e-9) {
        a if a >= 3.25 => 'A',
        a if a >= 2.32 => 'B',
        a if a >= 1.39 => 'C',
        a if a >= 0.93 => 'D',
        a if a >= 0.46 => 'E',
        _ => 'F',
    }
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// Runs `twin` to a run folder, replays that run from its `commands.ron` into another, and asserts
/// that trajectories, summary and command log are byte-identical. Returns the temporary folder
/// holding both (`first/` and `again/`).
#[allow(dead_code)]
pub fn run_and_replay(twin: &Twin, seed: u64, until: f64) -> tempfile::TempDir {
    use unitwin::runner::{RunRequest, replay_from_file, run_to_folder};
    let dir = tempfile::tempdir().unwrap();
    let go = |out: std::path::PathBuf, commands: Option<std::path::PathBuf>| {
        let replay = commands.as_ref().map(|c| replay_from_file(twin, c).unwrap().0);
        let options = RunOptions { seed, until, threads: Some(1), replay };
        let request = RunRequest { options, out_dir: out, force: false, progress: false, commands_file: commands };
        run_to_folder(twin, &request, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    };
    let (first, again) = (dir.path().join("first"), dir.path().join("again"));
    go(first.clone(), None);
    go(again, Some(first.join("commands.ron")));
    for file in ["trajectories.txt", "summary.json", "commands.ron"] {
        let read = |run: &str| std::fs::read(dir.path().join(run).join(file)).unwrap();
        assert!(read("first") == read("again"), "{file} differs between the run and its replay");
    }
    dir
}
