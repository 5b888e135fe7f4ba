//! The pilot scenes with their traffic: Quxi Road's one-way evening street (parked cars, deliveries,
//! e-bikes, zebra crossings) and Zhongshan East 1st Road at Chen Yi Square (signalised crossings),
//! plus its New Year's Eve closure. Nobody is hit, nobody runs a red light, signals meter both.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use unitwin::app::RunOptions;
use unitwin::runner::Run;
use unitwin::traffic::{CrossingStats, TrafficStats, Vehicles};

fn manifest() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

fn run(scene: &str, until: f64) -> (Run, unitwin::twin::Twin) {
    let twin = unitwin::twin::load(&Path::new(&manifest()).join(scene)).expect("scene builds");
    let options = RunOptions { seed: twin.scenario.run.seed, until, threads: None, replay: None };
    let mut run = Run::new(&twin, &options).unwrap();
    assert!(run.run_until_finished(&AtomicBool::new(false), |_| {}));
    (run, twin)
}

fn crossing<'a>(
    twin: &unitwin::twin::Twin,
    stats: &'a CrossingStats,
    id: &str,
) -> &'a unitwin::traffic::crossings::CrossingRecord {
    let i = twin.traffic.crossings.iter().position(|c| c.id == id).unwrap();
    &stats.crossings[i]
}

#[test]
fn quxi_road_evening_traffic_yields_at_the_zebras() {
    // The first 40 minutes of the evening peak (17:00–17:40), at the scene's real rates.
    let (run, twin) = run("scenes/quxi_road.ron", 2400.0);
    let world = run.world();
    let stats = world.resource::<TrafficStats>();
    let crossings = world.resource::<CrossingStats>();
    let vehicles = world.resource::<Vehicles>();
    let parked = twin.traffic.parked.len();
    println!(
        "Quxi Road, 40 min: {} vehicles came ({} waiting to), {} left, {} on the road ({parked} parked); mean delay {:.0} s; \
         conflicts {}, red-light violations {}, overlaps {}; zebra waits {:.1} s / {:.1} s (mean), {} / {} crossed",
        stats.spawned,
        stats.entry_waiting,
        stats.arrived,
        vehicles.count(),
        stats.trip_delay / stats.arrived.max(1) as f64,
        crossings.conflicts(),
        stats.red_violations,
        stats.overlaps,
        crossing(&twin, crossings, "zebra_west").wait_total
            / crossing(&twin, crossings, "zebra_west").crossed.max(1) as f64,
        crossing(&twin, crossings, "zebra_east").wait_total
            / crossing(&twin, crossings, "zebra_east").crossed.max(1) as f64,
        crossing(&twin, crossings, "zebra_west").crossed,
        crossing(&twin, crossings, "zebra_east").crossed,
    );
    assert_eq!(crossings.conflicts(), 0, "no vehicle comes within 1 m of a pedestrian on a zebra");
    assert_eq!(stats.overlaps, 0);
    assert_eq!(crossings.outside.collisions, 0, "no vehicle runs into a shopper crossing between the zebras");
    assert_eq!(stats.spawned as usize + parked, stats.arrived as usize + vehicles.count(), "no vehicle is lost");
    // 60 % of the 200 vehicles/h peak for 30 min, then the peak: about 100 (Poisson, ±3 sd) came,
    // or are still waiting at the street's entry for room to drive on.
    let demand = stats.spawned + stats.entry_waiting;
    assert!((70..=135).contains(&demand), "{} vehicles came, {} waiting to", stats.spawned, stats.entry_waiting);
    // No gridlock: all but what one 200 m lane holds (200 / (4.5 + 2) ≈ 31 cars) got through.
    assert!(stats.arrived + 31 >= stats.spawned, "traffic moves: {} of {} through", stats.arrived, stats.spawned);
    // Vehicles yield (art. 47): pedestrians hardly wait at the zebras.
    for id in ["zebra_west", "zebra_east"] {
        let c = crossing(&twin, crossings, id);
        assert!(c.crossed > 100, "{id}: {} crossed", c.crossed);
        assert!(c.wait_total / (c.crossed as f64) < 5.0, "{id}: mean wait {:.1} s", c.wait_total / c.crossed as f64);
    }
}

#[test]
fn bund_signals_meter_pedestrians_and_vehicles() {
    let (run, twin) = run("scenes/bund_chenyi.ron", 700.0);
    let world = run.world();
    let stats = world.resource::<TrafficStats>();
    let crossings = world.resource::<CrossingStats>();
    let c = crossing(&twin, crossings, "nanjing_road_crossing");
    let ways = &stats.ways[twin.space.street_index["zhongshan_east_1st_road"].0 as usize];
    println!(
        "Bund, 700 s: {} vehicles came, {} left; queues {:.0} m / {:.0} m; red-light violations {}, conflicts {}; \
         Nanjing Road crossing: {} crossed, mean wait {:.1} s, longest {:.1} s",
        stats.spawned,
        stats.arrived,
        ways[0].max_queue_m,
        ways[1].max_queue_m,
        stats.red_violations,
        crossings.conflicts(),
        c.crossed,
        c.wait_total / c.crossed.max(1) as f64,
        c.wait_max
    );
    assert_eq!(crossings.conflicts(), 0);
    assert_eq!(stats.red_violations, 0);
    assert_eq!(stats.overlaps, 0);
    // Cycle 170 s with vehicles green 95 s: queues form at red in both directions.
    assert!(ways[0].max_queue_vehicles >= 3 && ways[1].max_queue_vehicles >= 3, "vehicles queue at red");
    assert!(stats.arrived > 100, "{} vehicles through in 700 s", stats.arrived);
    // Pedestrians wait for their green: 100 s of the 170 s cycle is not theirs (95 + 3 + 2 s),
    // plus the 10 s do-not-start and the unusable end of the green.
    assert!(c.crossed > 50, "{} crossed", c.crossed);
    let mean = c.wait_total / c.crossed as f64;
    assert!(mean > 10.0, "pedestrians wait for the light: mean {mean:.1} s");
    assert!(c.wait_max <= 100.0 + 10.0 + 15.3 / 0.5 + 5.0, "longest wait {:.1} s", c.wait_max);
}

#[test]
fn new_years_eve_closure_keeps_vehicles_off_zhongshan_road() {
    let (run, _) = run("scenes/bund_chenyi_nye.ron", 400.0);
    let world = run.world();
    let stats = world.resource::<TrafficStats>();
    assert_eq!(stats.spawned, 0, "no vehicle enters the closed road");
    assert!(stats.refused > 0, "the evening's vehicles are turned away: {}", stats.refused);
    let log = world.resource::<unitwin::command::CommandLog>();
    let names: Vec<String> = log.entries.iter().map(|e| e.command.to_string()).collect();
    assert!(names.iter().any(|n| n.contains("close street")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("holiday")), "{names:?}");
}
