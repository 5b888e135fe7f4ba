//! Stairs and levels: RiMEA 3.0 tests 2, 3, 13 and 14 (validation.md), IMO stair capacities, and
//! the invariants (walls, conservation) after every step.

mod common;

use common::{app, load, run_verified};
use unitwin::crowd::{AgentId, Body};
use unitwin::ids::{LevelId, StairId};
use unitwin::schedule::SimClock;
use unitwin::space::SpaceRes;

/// Seconds the single agent of a scene spends on stair levels.
fn time_on_stairs(path: &str, seed: u64) -> f64 {
    let checked = load(path);
    let (mut on, mut off) = (None, None);
    let out = run_verified(&mut app(&checked, seed), |world| {
        let t = world.resource::<SimClock>().now();
        let stair_levels: Vec<LevelId> = {
            let space = &world.resource::<SpaceRes>().0;
            space.stairs.iter().map(|s| s.level).collect()
        };
        let mut q = world.query::<(&AgentId, &Body)>();
        for (_, body) in q.iter(world) {
            let on_stair = stair_levels.contains(&body.level);
            if on_stair && on.is_none() {
                on = Some(t);
            }
            if !on_stair && on.is_some() && off.is_none() {
                off = Some(t);
            }
        }
    });
    assert_eq!(out.census.exited, 1, "{path}: the walker gets out");
    off.expect("stepped off the stair") - on.expect("stepped on the stair")
}

#[test]
fn rimea_2_stairs_up_take_16_s() {
    let t = time_on_stairs("scenes/verification/rimea_02_stairs_up.ron", 2);
    println!("RiMEA 2: {t:.2} s on the stair going up (reference 16 s ± 5 %: 15.2–16.8 s)");
    assert!((15.2..=16.8).contains(&t), "RiMEA 2: {t:.2} s on the stair, reference 16 s ± 5 %");
}

#[test]
fn rimea_3_stairs_down_take_12_31_s() {
    let t = time_on_stairs("scenes/verification/rimea_03_stairs_down.ron", 3);
    println!("RiMEA 3: {t:.2} s on the stair going down (reference 12.31 s ± 5 %: 11.69–12.93 s)");
    assert!((11.69..=12.93).contains(&t), "RiMEA 3: {t:.2} s on the stair, reference 12.31 s ± 5 %");
}

/// Mean of the last `n` samples.
fn mean_last(samples: &[f64], n: usize) -> f64 {
    let tail = &samples[samples.len().saturating_sub(n)..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}

#[test]
fn rimea_13_jam_at_the_door_steady_corridor_growing_jam_at_the_stair() {
    let checked = load("scenes/verification/rimea_13_stair_jam.ron");
    let stair_level = checked.space.stairs[StairId(0)].level;
    let (mut door, mut foot): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut door_peak, mut foot_at_20, mut foot_at_60) = (0.0_f64, 0.0, 0.0);
    let mut crossings: Vec<f64> = Vec::new();
    let mut onto_stair: Vec<f64> = Vec::new();
    let mut on_stair = std::collections::BTreeSet::new();
    let window = 100; // 5 s of 0.05 s steps
    let out = run_verified(&mut app(&checked, 13), |world| {
        let t = world.resource::<SimClock>().now();
        let mut q = world.query::<(&AgentId, &Body)>();
        let (mut at_door, mut at_foot) = (0, 0);
        for (id, b) in q.iter(world) {
            if b.level == LevelId(0) && (8.0..10.0).contains(&b.pos.x) && (3.5..6.5).contains(&b.pos.y) {
                at_door += 1;
            }
            if b.level == LevelId(0) && (22.0..25.0).contains(&b.pos.x) {
                at_foot += 1;
            }
            if b.level == LevelId(0) && b.prev.x < 17.5 && b.pos.x >= 17.5 {
                crossings.push(t);
            }
            if b.level == stair_level && on_stair.insert(id.0) {
                onto_stair.push(t);
            }
        }
        door.push(at_door as f64 / 6.0);
        foot.push(at_foot as f64 / 6.0);
        if door.len() >= window {
            door_peak = door_peak.max(mean_last(&door, window));
        }
        if (t - 20.0).abs() < 1e-9 {
            foot_at_20 = mean_last(&foot, window);
        }
        if (t - 60.0).abs() < 1e-9 {
            foot_at_60 = mean_last(&foot, window);
        }
    });
    assert_eq!(out.census.exited, 150, "RiMEA 13: everyone gets up the stair and out");
    // A steady corridor: persons passing its middle per 10 s, from 20 to 70 s, vary little.
    let per_window: Vec<f64> = (0..5)
        .map(|w| {
            crossings.iter().filter(|&&t| t >= 20.0 + 10.0 * w as f64 && t < 30.0 + 10.0 * w as f64).count() as f64
        })
        .collect();
    let mean = per_window.iter().sum::<f64>() / per_window.len() as f64;
    let spread = (per_window.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / per_window.len() as f64).sqrt() / mean;
    // IMO capacity of the stair going up: 0.88 persons/(m·s) × 1.6 m.
    let n = onto_stair.len();
    let stair_flow = (4 * n / 5 - n / 5) as f64 / (onto_stair[4 * n / 5] - onto_stair[n / 5]);
    let imo = 0.88 * 1.6;
    println!(
        "RiMEA 13: 5 s mean density before the door peaks at {door_peak:.2} p/m²; at the stair foot {foot_at_20:.2} p/m² at 20 s, \
         {foot_at_60:.2} at 60 s; corridor middle {per_window:?} persons per 10 s (spread {:.0} %); onto the stair {stair_flow:.2} \
         persons/s (IMO 0.88 × 1.6 m = {imo:.2}); everyone out at {:.1} s",
        100.0 * spread,
        out.end
    );
    assert!(
        door_peak > 1.5,
        "RiMEA 13: a jam must form at the room door (5 s mean {door_peak:.2} p/m², reference > 1.5)"
    );
    assert!(
        foot_at_60 > foot_at_20 && foot_at_60 > 1.5,
        "RiMEA 13: the jam at the stair foot must grow ({foot_at_20:.2} p/m² at 20 s, {foot_at_60:.2} at 60 s)"
    );
    assert!(
        spread < 0.25,
        "RiMEA 13: corridor flow must be steady (10 s counts {per_window:?}, spread {:.0} %)",
        100.0 * spread
    );
    assert!(
        stair_flow <= imo * 1.02 && stair_flow >= imo * 0.85,
        "stair flow {stair_flow:.2} persons/s, IMO maximum {imo:.2} (the queue should keep it near the maximum)"
    );
}

#[test]
fn rimea_14_route_choice_across_floors_is_reported_and_stable() {
    let checked = load("scenes/verification/rimea_14_route_choice_floors.ron");
    let stair_levels: Vec<LevelId> = checked.space.stairs.iter().map(|s| s.level).collect();
    let mut shares = Vec::new();
    for seed in [1, 2, 3] {
        let mut via_stairs = std::collections::BTreeSet::new();
        let out = run_verified(&mut app(&checked, seed), |world| {
            let mut q = world.query::<(&AgentId, &Body)>();
            for (id, b) in q.iter(world) {
                if stair_levels.contains(&b.level) {
                    via_stairs.insert(id.0);
                }
            }
        });
        assert_eq!(out.census.exited, 40, "RiMEA 14, seed {seed}: everyone reaches the exit");
        shares.push((seed, via_stairs.len(), out.end));
    }
    println!(
        "RiMEA 14: persons taking the route over two stairs (of 40), by seed: {:?}; the rest took the 80 m corridor",
        shares.iter().map(|(s, n, t)| format!("seed {s}: {n}, out at {t:.1} s")).collect::<Vec<_>>()
    );
    let (lo, hi) = (shares.iter().map(|s| s.1).min().unwrap(), shares.iter().map(|s| s.1).max().unwrap());
    assert!(hi - lo <= 6, "RiMEA 14: the route choice must be stable across seeds ({lo}–{hi} of 40 via the stairs)");
    assert!((lo > 20) == (hi > 20), "RiMEA 14: the majority route must not change between seeds");
}

/// Runs `tests/scenes/stairs/two_way_stairway.ron` with `up` and `down` persons/h; returns how many
/// left by the river side (came up) and by the square side (came down).
fn two_way_stairway(up: f64, down: f64) -> (u32, u32, f64) {
    let path = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/scenes/stairs/two_way_stairway.ron");
    let mut loaded = unitwin::scene::read_scene(&path).unwrap_or_else(|d| panic!("{d}"));
    for p in &mut loaded.scene.populations {
        let unitwin::scene::Placement::Arrivals { rates, .. } = &mut p.placement else { unreachable!() };
        *rates = vec![(0.0, if p.id == "up" { up } else { down })];
    }
    let twin = unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("{d}"));
    let out = run_verified(&mut app(&twin, 1), |_| {});
    let left = |door: &str| out.per_exit.get(door).copied().unwrap_or(0);
    (left("river_side"), left("square_side"), out.end)
}

/// The longest way through, from the square's far side to the platform's (about 57 m, 8.75 m of it
/// on the stair), at Weidmann's first percentile of free speeds (0.74 m/s; on the stair IMO's 0.8 m/s
/// up scaled alike) is about 90 s; with the crowd of these flows, at most 120 s.
const LONGEST_WAY_THROUGH: f64 = 120.0;

/// Opposing flows below the stair's capacity (IMO MSC.1/Circ.1533: 0.88 persons/(m·s) up, 1.1 down)
/// get through a two-way stairway like the Bund's: everyone who came at least the longest way
/// through before the end has left, either way. Until 2026-12-05 someone waiting in a stair opening
/// to step through where those coming the other way stepped off, while one of them waited to step
/// off where it stood, waited for good: at 10,800 up and 720 down an hour, 212 went up and 1 of 60
/// came down in 300 s, and the lower flight stood packed at 6.4 persons/m².
#[test]
fn opposing_flows_below_capacity_pass_a_two_way_stairway() {
    for (up, down) in [(10_800.0, 720.0), (7_200.0, 7_200.0)] {
        let (went_up, came_down, end) = two_way_stairway(up, down);
        let due = |rate: f64| (rate * (end - LONGEST_WAY_THROUGH) / 3600.0).floor() as u32;
        println!(
            "two-way stairway, {up} up and {down} down an hour: in {end:.0} s {went_up} went up (at least {} due), \
             {came_down} came down (at least {} due)",
            due(up),
            due(down)
        );
        assert!(went_up >= due(up), "{up} up / {down} down an hour: {went_up} went up, {} due", due(up));
        assert!(came_down >= due(down), "{up} up / {down} down an hour: {came_down} came down, {} due", due(down));
    }
}
