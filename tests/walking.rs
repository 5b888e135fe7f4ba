//! Agents walk to their exit around walls and obstacles and never pass through them.

use std::path::Path;

use unitwin::crowd::{AgentId, Body, Census};
use unitwin::scene::{CheckedScene, check_scene, read_scene};
use unitwin::sim::{RunOptions, SimClock, SimControl, headless_app};
use unitwin::space::SpaceRes;
use unitwin::space::geom::{distance_to_segment, segments_intersect};

fn load(path: &str) -> CheckedScene {
    check_scene(read_scene(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()).unwrap()
}

/// Steps the scene to the end, checking every agent against every wall after every step.
/// Returns (census, end time).
fn run_checking_walls(checked: &CheckedScene, seed: u64) -> (Census, f64) {
    let options = RunOptions { seed, until: checked.scene().run.duration, threads: None };
    let mut app = headless_app(checked, &options).unwrap();
    let mut worst: f64 = f64::INFINITY;
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let world = app.world_mut();
        let space = world.resource::<SpaceRes>().0.clone();
        let mut q = world.query::<(&AgentId, &Body)>();
        for (id, body) in q.iter(world) {
            for wall in &space.levels[body.level as usize].walls {
                let d = distance_to_segment(body.pos, wall.a, wall.b);
                worst = worst.min(d - body.radius);
                assert!(d >= body.radius - 1e-6, "agent {} overlaps a wall: centre {:.3} m from it", id.0, d);
                assert!(
                    body.prev == body.pos || !segments_intersect(body.prev, body.pos, wall.a, wall.b),
                    "agent {} crossed a wall between {:?} and {:?}",
                    id.0,
                    body.prev,
                    body.pos
                );
            }
        }
    }
    let world = app.world();
    (world.resource::<Census>().clone(), world.resource::<SimClock>().now())
}

#[test]
fn demo_hall_evacuates_without_touching_walls() {
    let checked = load("scenes/demo_hall.ron");
    let (census, end) = run_checking_walls(&checked, 1);
    assert_eq!(census.exited, census.spawned, "everyone leaves the hall");
    assert_eq!(census.spawned, 200);
    // Both exits are used: agents in the west of the hall route through the lobby door.
    assert!(census.per_exit["lobby_exit"] > 20 && census.per_exit["east_exit"] > 20, "{:?}", census.per_exit);
    // Two 1.2 m exits pass at most ≈1.9·w persons/s each (Seyfried et al. 2009): 200 people need
    // at least 200 / (2 · 1.9 · 1.2) ≈ 44 s at those capacities; allow for pre-movement up to 10 s and
    // for the model's spread (±20 %) on either side.
    let capacity_bound = 200.0 / (2.0 * 1.9 * 1.2);
    assert!(end > 0.8 * capacity_bound && end < 1.2 * capacity_bound + 10.0 + 15.0, "evacuation took {end:.1} s");
}

#[test]
fn rimea_test_1_corridor_walking_time() {
    // RiMEA 3.0 test 1: a person at 1.33 m/s walks a 40 m × 2 m corridor in 26–34 s.
    let checked = load("scenes/verification/rimea_01_corridor.ron");
    let (census, end) = run_checking_walls(&checked, 1);
    assert_eq!(census.exited, 1);
    assert!((26.0..=34.0).contains(&end), "RiMEA 1: walking 40 m took {end:.2} s, reference 26–34 s");
}

#[test]
fn agents_go_round_a_long_wall() {
    // The spawn area and the exit are on either side of a 8 m wall; the straight line is blocked.
    let checked = load("tests/scenes/wall_detour.ron");
    let (census, end) = run_checking_walls(&checked, 2);
    assert_eq!(census.exited, census.spawned);
    // The detour round the wall end is ≥ 2 × 8 m; at ≤ 1.6 m/s nobody can be out in under 10 s.
    assert!(end > 10.0, "left after {end:.1} s, faster than the detour allows");
}
