//! Robustness of scenes that check: fast walkers never skip a wall, a measurement line on an exit
//! counts everyone leaving through it, `check` and `run` agree on what fits, and the worker count
//! is a per-run setting that never changes results.

mod common;

use std::path::Path;

use common::run_verified;
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::{AgentId, Body};
use unitwin::ids::LevelId;
use unitwin::metrics::Measurements;
use unitwin::runner::Run;
use unitwin::scene::{Measurement, SourceMap, parse_scene, read_scene};
use unitwin::twin::Twin;

fn build(text: &str) -> Result<Twin, unitwin::scene::Diagnostics> {
    unitwin::twin::build(parse_scene(SourceMap::new(Path::new("<test>"), text.to_string()), String::new())?)
}

/// A 30 m × 10 m hall split by a partition with a 1 m door, people on the west side, the exit east.
fn partitioned_hall(speed: f64, step: f64, count: u32) -> String {
    format!(
        r#"Scene(
    version: 1,
    unit: Unit(name: "Partitioned hall", kind: Building, origin: (lat: 31.24, lon: 121.48)),
    run: RunSettings(step: {step}, duration: 120.0, seed: 3, output_interval: {step}),
    levels: [Level(id: "hall", walkable: [Area(id: "floor", outer: [(0.0, 0.0), (30.0, 0.0), (30.0, 10.0), (0.0, 10.0)])],
        walls: [Wall(id: "partition", points: [(15.0, 0.0), (15.0, 10.0)])])],
    doors: [
        Door(id: "gap", level: "hall", at: (15.0, 5.0), width: 1.0),
        Door(id: "exit", level: "hall", at: (30.0, 5.0), width: 2.0),
    ],
    populations: [Population(id: "runners", level: "hall",
        placement: Area(polygon: [(1.0, 1.0), (13.0, 1.0), (13.0, 9.0), (1.0, 9.0)], count: {count}),
        speed: Constant({speed}))],
)"#
    )
}

#[test]
fn walkers_at_ten_metres_a_second_and_quarter_second_steps_never_skip_a_wall() {
    // 2.5 m per step: more than the 1.3 m reach that used to decide which agents check walls.
    let twin = build(&partitioned_hall(10.0, 0.25, 60)).expect("a scene that checks");
    let mut app = common::app(&twin, 3);
    let out = run_verified(&mut app, |_| {});
    assert_eq!(out.census.exited, 60, "everyone gets through the gap and out");
}

#[test]
fn a_measurement_line_on_an_exit_doorway_counts_everyone_who_leaves_through_it() {
    let path = Path::new(&unitwin_manifest_dir()).join("scenes/demo_hall.ron");
    let mut loaded = read_scene(&path).unwrap();
    // On the east wall itself, across the 1.2 m exit at (20, 6).
    loaded.scene.measurements = vec![Measurement::Line {
        id: "east_doorway".into(),
        level: "ground".into(),
        from: [20.0, 4.0],
        to: [20.0, 8.0],
    }];
    let twin = unitwin::twin::build(loaded).unwrap();
    let mut app = common::app(&twin, 7);
    let out = run_verified(&mut app, |_| {});
    let line = app.world().resource::<Measurements>().lines[0].clone();
    let east = out.per_exit["east_exit"];
    assert!(east > 50, "the east exit is used ({east})");
    assert_eq!(line.left_to_right + line.right_to_left, east, "every one of the {east} who left east crossed the line");
    assert_eq!(line.right_to_left, 0, "nobody came back in");
}

/// The largest count of 0.21 m bodies that fits the 6 m × 5 m room at the densest packing.
fn room(count: u32) -> String {
    format!(
        r#"Scene(
    version: 1,
    unit: Unit(name: "Packed room", kind: Building, origin: (lat: 31.24, lon: 121.48)),
    run: RunSettings(step: 0.05, duration: 2.0, seed: 1),
    levels: [Level(id: "room", walkable: [Area(id: "floor", outer: [(0.0, 0.0), (6.0, 0.0), (6.0, 5.0), (0.0, 5.0)])])],
    doors: [Door(id: "exit", level: "room", at: (6.0, 2.5), width: 1.0)],
    populations: [Population(id: "crowd", level: "room",
        placement: Area(polygon: [(0.0, 0.0), (6.0, 0.0), (6.0, 5.0), (0.0, 5.0)], count: {count}))],
)"#
    )
}

#[test]
fn check_and_run_agree_on_how_many_fit() {
    let probe = build(&room(1)).unwrap();
    let level = &probe.space.levels[LevelId(0)];
    let polygon = [[0.0, 0.0], [6.0, 0.0], [6.0, 5.0], [0.0, 5.0]];
    let most =
        (1..=180).rev().find(|&n| unitwin::twin::placement::fits(level, &polygon, n, 0.21).is_ok()).unwrap() as u32;
    // 30 m² is 180 persons at the 6 persons/m² the scene check allows; the lattice fits fewer.
    assert!(most < 180 && most > 100, "{most} fit");
    let refused = build(&room(most + 1)).unwrap_err().to_string();
    assert!(refused.contains(&format!("only {most} of {} agents fit", most + 1)), "{refused}");
    let twin = build(&room(most)).expect("check accepts what fits");
    for seed in 1..=8 {
        let options = RunOptions { seed, until: 0.1, threads: Some(1), replay: None };
        let mut run =
            Run::new(&twin, &options).unwrap_or_else(|d| panic!("seed {seed}: run refuses what check accepted:\n{d}"));
        run.step();
        let world = run.world_mut();
        let placed = world.query::<&AgentId>().iter(world).count() as u32;
        assert_eq!(placed, most, "seed {seed}");
        let bodies: Vec<Body> = world.query::<&Body>().iter(world).copied().collect();
        for (i, a) in bodies.iter().enumerate() {
            for b in &bodies[i + 1..] {
                assert!(a.pos.distance(b.pos) >= a.radius + b.radius - 1e-9, "seed {seed}: bodies overlap");
            }
        }
    }
}

#[test]
fn the_worker_count_is_set_per_run_in_one_process_and_changes_nothing() {
    let twin = common::load("scenes/demo_hall.ron");
    let mut finals = Vec::new();
    for threads in [1, 2, 1, 3] {
        let options = RunOptions { seed: 9, until: 20.0, threads: Some(threads), replay: None };
        let mut app = headless_app(&twin, &options).unwrap();
        assert_eq!(app.world().resource::<unitwin::schedule::SimThreads>().0, threads);
        for _ in 0..300 {
            app.update();
        }
        finals.push(common::positions(app.world_mut()));
    }
    assert!(finals.iter().all(|f| *f == finals[0]), "the same run on 1, 2, 1 and 3 workers");
    assert!(finals[0].len() > 100);
}

#[test]
fn speeds_above_the_limit_are_refused_not_simulated() {
    let err = build(&partitioned_hall(11.0, 0.25, 10)).unwrap_err().to_string();
    assert!(err.contains("speed distribution"), "{err}");
}

/// 67 touching pieces of an imported outline on which geo's `unary_union` never returned; the
/// engine's `union_all` must join them in bounded time.
#[test]
fn touching_areas_are_joined_in_bounded_time() {
    let text =
        std::fs::read_to_string(Path::new(&unitwin_manifest_dir()).join("tests/data/touching_areas.txt")).unwrap();
    let polygons: Vec<geo::Polygon<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let ring: Vec<[f64; 2]> = l
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    [x.parse().unwrap(), y.parse().unwrap()]
                })
                .collect();
            unitwin::geom::polygon(&ring, &[])
        })
        .collect();
    assert_eq!(polygons.len(), 67);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let joined = unitwin::geom::union_all(polygons.iter());
        let _ = tx.send(joined.0.len());
    });
    let parts = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the union returns within 30 s");
    assert!((1..67).contains(&parts), "touching pieces join ({parts} polygons)");
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
