//! Pedestrians crossing outside the crossings: they step off the kerb when the traffic leaves the
//! gap HCM 2010's pedestrian gap acceptance asks for, vehicles never run into them, and fenced
//! streets or impatience send them to the crossings.

mod common;

use std::path::Path;

use unitwin::crowd::Census;
use unitwin::crowd::crossing::KerbWait;
use unitwin::crowd::{AgentId, Body};
use unitwin::scene::{SourceMap, parse_scene};
use unitwin::traffic::{CrossingStats, TrafficNet, Vehicles};
use unitwin::twin::Twin;

const MID_BLOCK: &str = "tests/scenes/traffic/mid_block.ron";

/// The scene with text replacements applied (each must match once).
fn variant(replacements: &[(&str, &str)]) -> Twin {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(MID_BLOCK);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in replacements {
        assert_eq!(text.matches(from).count(), 1, "`{from}` is in the scene once");
        text = text.replace(from, to);
    }
    let loaded = parse_scene(SourceMap::new(&path, text), "test".into()).expect("variant parses");
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("variant builds:\n{d}"))
}

/// Pedestrian delay waiting for a gap, for pedestrians arriving every 0.5 s between `from` and
/// `to` at a point that vehicles' fronts pass at the times `passes` (sorted): a pedestrian goes
/// once the last vehicle has cleared their path (`clear` s after its front passed) and the next
/// one is at least `t_c` away. This is HCM's gap acceptance applied to the traffic that ran.
fn gap_delay(passes: &[f64], from: f64, to: f64, t_c: f64, clear: f64) -> f64 {
    let (mut total, mut n) = (0.0, 0);
    let mut t = from;
    while t < to {
        let next = passes.partition_point(|&p| p <= t);
        // The earliest time ≥ t when the last vehicle has cleared and the next is t_c away.
        let mut go = t;
        if next > 0 {
            go = go.max(passes[next - 1] + clear);
        }
        let mut k = passes.partition_point(|&p| p <= go);
        while k < passes.len() && passes[k] - go < t_c {
            go = passes[k] + clear;
            k += 1;
        }
        total += go - t;
        n += 1;
        t += 0.5;
    }
    total / n as f64
}

#[test]
fn pedestrians_cross_mid_block_when_the_traffic_leaves_the_gap_hcm_asks_for() {
    let twin = common::load(MID_BLOCK);
    let mut app = common::app(&twin, 11);
    let x = 120.0;
    // Times when each vehicle's front passes the pedestrians' line, x = 120 m.
    let mut last_x: std::collections::BTreeMap<u32, f64> = Default::default();
    let mut passes = Vec::new();
    let outcome = common::run_verified(&mut app, |world| {
        let t = world.resource::<unitwin::schedule::SimClock>().now();
        let net = world.resource::<TrafficNet>().0.clone();
        for v in world.resource::<Vehicles>().iter() {
            let (front, _) = net.links[v.link as usize].at(v.s);
            if let Some(&before) = last_x.get(&v.id)
                && (before - x) * (front.x - x) <= 0.0
                && before != x
            {
                passes.push(t);
            }
            last_x.insert(v.id, front.x);
        }
    });
    let world = app.world();
    let stats = &world.resource::<CrossingStats>().outside;
    let census = outcome.census;
    assert_eq!(census.on_site(), 0, "everyone crosses and leaves");
    assert_eq!(stats.crossed, census.spawned, "every pedestrian crossed mid-block, once");
    assert_eq!(stats.gave_up, 0);
    assert!(world.resource::<CrossingStats>().crossings.iter().all(|c| c.crossed == 0), "nobody took a crossing");
    assert_eq!(stats.collisions, 0, "no vehicle ran into a pedestrian");
    assert_eq!(stats.conflicts, 0, "no vehicle came within 1 m of a pedestrian who accepted a gap");
    // 400 pedestrians per hour for 2400 s (Poisson): 267 ± 3 sd.
    assert!((218..=316).contains(&census.spawned), "{} pedestrians", census.spawned);

    // HCM 2010: critical gap t_c = L/S_p + t_s = 7 / 1.25 + 3 = 8.6 s. HCM's gap runs from the
    // rear of one vehicle to the front of the next; the vehicle ahead must also clear the
    // pedestrian's body and the 1 m conflict distance: (4.5 m car + 0.42 m + 1 m) at 40 km/h.
    passes.sort_by(f64::total_cmp);
    let t_c = 7.0 / 1.25 + 3.0;
    let clear = (4.5 + 0.42 + 1.0) / (40.0 / 3.6);
    let expected = gap_delay(&passes, 60.0, 2400.0, t_c, clear);
    let measured = stats.wait_total / stats.crossed as f64;
    // Adams' delay for Poisson traffic of the same flow, for comparison only: the IDM stream is
    // more regular than Poisson (minimum headways), which lengthens the wait for a long gap.
    let lambda = passes.len() as f64 / outcome.end;
    let th = t_c + clear;
    let adams = (libm::exp(lambda * th) - lambda * th - 1.0) / lambda;
    eprintln!(
        "mean wait for a gap: {measured:.2} s; HCM gap acceptance on the same traffic {expected:.2} s; \
         Adams (Poisson, {:.0} veh/h) {adams:.2} s",
        lambda * 3600.0
    );
    // 267 pedestrians: the sampling error of a mean wait with sd ≈ mean is about 6 %; ±20 % is 3 sd.
    assert!(
        (measured - expected).abs() <= 0.2 * expected,
        "mean wait {measured:.2} s against {expected:.2} s from HCM's gap acceptance"
    );
}

#[test]
fn fenced_streets_keep_everyone_to_the_crossings() {
    let twin = variant(&[
        ("sidewalks: (3.0, 3.0), one_way: false", "sidewalks: (3.0, 3.0), fenced: true, one_way: false"),
        ("(0.0, 400.0), (2400.0, 0.0)", "(0.0, 400.0), (300.0, 0.0)"),
        ("duration: 2700.0", "duration: 900.0"),
    ]);
    let mut app = common::app(&twin, 5);
    let mut on_carriageway = 0;
    let outcome = common::run_verified(&mut app, |world| {
        let mut q = world.query::<(&AgentId, &Body)>();
        for (_, body) in q.iter(world) {
            // The carriageway is |y| < 3.5; the crossings span x 8–12 and 228–232.
            let on_crossing = (8.0..=12.0).contains(&body.pos.x) || (228.0..=232.0).contains(&body.pos.x);
            if body.pos.y.abs() < 3.5 - body.radius && !on_crossing {
                on_carriageway += 1;
            }
        }
    });
    let stats = world_stats(&mut app);
    assert_eq!(outcome.census.on_site(), 0, "everyone reaches the far side");
    assert_eq!(on_carriageway, 0, "nobody stood on the fenced carriageway outside a crossing");
    assert_eq!(stats.outside.crossed, 0);
    let at_crossings: u32 = stats.crossings.iter().map(|c| c.crossed).sum();
    assert_eq!(at_crossings, outcome.census.spawned, "everyone crossed at a crossing");
}

#[test]
fn impatient_pedestrians_give_up_and_use_the_crossings() {
    // Half the pedestrians would cross anywhere, but 1,200 vehicles per hour each way leave few
    // gaps of 8.6 s (Poisson: P(lag ≥ t) = e^(−λt) ≈ 0.3 %) and they wait at most 10 s.
    let twin = variant(&[
        ("share: 1.0, patience: 600.0", "share: 0.5, patience: 10.0"),
        ("from: Start, rate: [(0.0, 300.0)]", "from: Start, rate: [(0.0, 1200.0)]"),
        ("from: End, rate: [(0.0, 300.0)]", "from: End, rate: [(0.0, 1200.0)]"),
        ("(0.0, 400.0), (2400.0, 0.0)", "(0.0, 400.0), (300.0, 0.0)"),
        ("duration: 2700.0", "duration: 900.0"),
    ]);
    let mut app = common::app(&twin, 8);
    let mut anywhere = std::collections::BTreeSet::new();
    let outcome = common::run_verified(&mut app, |world| {
        let mut q = world.query::<(&AgentId, &KerbWait)>();
        for (id, kerb) in q.iter(world) {
            if kerb.crosses_anywhere {
                anywhere.insert(id.0);
            }
        }
    });
    let stats = world_stats(&mut app);
    let census: &Census = &outcome.census;
    assert_eq!(census.on_site(), 0, "everyone reaches the far side");
    assert_eq!(stats.outside.collisions, 0);
    let n = census.spawned as f64;
    let share = anywhere.len() as f64 / n;
    // Binomial(n, 0.5): within 3 sd.
    assert!((share - 0.5).abs() <= 3.0 * (0.25 / n).sqrt(), "{share:.2} of {n} would cross anywhere");
    let (crossed, gave_up) = (stats.outside.crossed, stats.outside.gave_up);
    assert_eq!(crossed + gave_up, anywhere.len() as u32, "each either found a gap or gave up");
    // Free-flowing, such traffic would leave almost no such gap; here the zebras queue it, and
    // some step out between stopped vehicles. Still, some must run out of patience.
    assert!(gave_up > 0, "nobody of {} gave up", anywhere.len());
    let at_crossings: u32 = stats.crossings.iter().map(|c| c.crossed).sum();
    assert_eq!(at_crossings, census.spawned - crossed, "the others crossed at a crossing");
    assert!(stats.outside.wait_max <= 10.0 + 0.1, "nobody waited past their patience");
}

fn world_stats(app: &mut bevy::app::App) -> CrossingStats {
    app.world().resource::<CrossingStats>().clone()
}

#[test]
fn crossing_anywhere_does_not_depend_on_the_thread_count() {
    use std::sync::atomic::AtomicBool;
    use unitwin::app::RunOptions;
    use unitwin::runner::{RunRequest, run_to_folder};
    let twin = common::load(MID_BLOCK);
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, threads: usize| {
        let out = dir.path().join(name);
        let request = RunRequest {
            options: RunOptions { seed: 4, until: 400.0, threads: Some(threads), replay: None },
            out_dir: out.clone(),
            force: false,
            progress: false,
            commands_file: None,
        };
        run_to_folder(&twin, &request, &AtomicBool::new(false)).unwrap();
        out
    };
    let (one, two) = (run("one", 1), run("two", 2));
    let summary = std::fs::read_to_string(one.join("summary.json")).unwrap();
    assert!(summary.contains("\"outside_crossings\""), "the summary reports crossing outside crossings");
    for file in ["vehicles.csv", "trajectories.txt", "summary.json"] {
        assert!(std::fs::read(one.join(file)).unwrap() == std::fs::read(two.join(file)).unwrap(), "{file} differs");
    }
}
