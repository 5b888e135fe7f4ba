//! Flows meeting where a 2 m alley joins a 3.5 m lane (as alley_w1 meets lane 248 in Tianzifang),
//! against Zhang et al. (2012) and Zhang & Seyfried (2014): below capacity the streams keep moving.
//! Up to two thirds of the bidirectional capacity since walkers pass behind crossers (issue 12).

mod common;

use std::path::Path;

use common::run_verified;
use unitwin::scene::{Goal, Placement, read_scene};
use unitwin::schedule::SimClock;

/// The bidirectional maximum specific flow, p/(m·s) (validation.md: Zhang, Klingsch,
/// Schadschneider & Seyfried 2012, about 1.5 against 1.9 one way; the same for crossing angles
/// other than head-on, Zhang & Seyfried 2014).
const BIDIRECTIONAL_CAPACITY: f64 = 1.5;
/// The alley's end, where people come in and go out along it.
const ALLEY_DOOR: &str = "alley_west";
/// The run and the window measured once the flows have settled, s.
const RUN: f64 = 1200.0;
const SETTLED: f64 = 600.0;
/// Below capacity everyone who comes gets through: those leaving in the settled window must
/// match those arriving, but for the few still on their way (a walk across is under a minute).
const KEEPS_PACE: f64 = 0.9;

struct Junction {
    /// Arrivals demanded in the settled window, and people who left in it.
    demanded: f64,
    left: u32,
    on_site: u32,
}

/// Runs the junction with arrivals scaled so that the alley carries `specific_flow` p/(m·s)
/// (both ways together).
fn junction(specific_flow: f64, seed: u64) -> Junction {
    let path =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("tests/scenes/counterflow/alley_junction.ron");
    let mut loaded = read_scene(&path).unwrap_or_else(|d| panic!("{d}"));
    // The scene's own rates (persons/h, one constant rate per population): in total, and along
    // the alley, into it through its end and out of it to its end.
    let scene = &loaded.scene;
    let rate = |p: &unitwin::scene::Population| match &p.placement {
        Placement::Arrivals { rates, .. } => {
            assert_eq!(rates.len(), 1, "population {}: the test expects one constant rate", p.id);
            rates[0].1
        }
        _ => 0.0,
    };
    let into_alley =
        |p: &unitwin::scene::Population| matches!(&p.placement, Placement::Arrivals { door, .. } if door == ALLEY_DOOR);
    let out_of_alley =
        |p: &unitwin::scene::Population| matches!(&p.goal, Goal::Exits(e) if e.iter().any(|d| d == ALLEY_DOOR));
    let total: f64 = scene.populations.iter().map(rate).sum();
    let along_alley: f64 = scene.populations.iter().filter(|p| into_alley(p) || out_of_alley(p)).map(rate).sum();
    let width = scene.doors.iter().find(|d| d.id == ALLEY_DOOR).expect("the alley's end door").width;
    let scale = specific_flow * width * 3600.0 / along_alley;
    for p in &mut loaded.scene.populations {
        if let Placement::Arrivals { rates, .. } = &mut p.placement {
            for r in rates.iter_mut() {
                r.1 *= scale;
            }
        }
    }
    loaded.scene.run.duration = RUN;
    let twin = unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("{d}"));
    let mut app = common::app(&twin, seed);
    let mut left_before = None;
    let out = run_verified(&mut app, |world| {
        let t = world.resource::<SimClock>().now();
        if left_before.is_none() && t >= SETTLED {
            left_before = Some(world.resource::<unitwin::crowd::Census>().exited);
        }
    });
    Junction {
        demanded: total * scale * (RUN - SETTLED) / 3600.0,
        left: out.census.exited - left_before.expect("the run reaches the settled window"),
        on_site: out.census.on_site(),
    }
}

fn check(specific_flow: f64) {
    for seed in [1, 2] {
        let j = junction(specific_flow, seed);
        println!(
            "alley junction at {specific_flow:.2} p/(m·s) in the alley, seed {seed}: {} left in the last {:.0} s of {:.0} demanded; {} on site at the end",
            j.left,
            RUN - SETTLED,
            j.demanded,
            j.on_site
        );
        assert!(
            f64::from(j.left) >= KEEPS_PACE * j.demanded,
            "seed {seed}: at {specific_flow:.2} p/(m·s), {:.0} % of capacity, the streams must keep moving: {} left in the settled window, {:.0} arrived",
            100.0 * specific_flow / BIDIRECTIONAL_CAPACITY,
            j.left,
            j.demanded
        );
    }
}

#[test]
fn a_third_of_capacity_gets_through_the_junction() {
    check(BIDIRECTIONAL_CAPACITY / 3.0);
}

/// Locked for good until walkers passed behind crossers and were relieved sooner among them
/// (2026-12-06; `docs/design/junction-turns.md`).
#[test]
fn two_thirds_of_capacity_gets_through_the_junction() {
    check(2.0 * BIDIRECTIONAL_CAPACITY / 3.0);
}
