//! Yuyangli's playbook (issue 11): a visitor surge on the square (`scenes/yuyangli_surge.ron`),
//! with and without capacity control at the Huaihai Road frontage.
//!
//! The references are the scene's own capacity and the city's warning levels for scenic areas
//! (yellow, orange and red at 80, 90 and 100 % of the maximum instantaneous capacity,
//! ../shared/reference/pilot-units.md), not the engine's output: the surge brings more visitors than
//! the square holds, so without the playbook it goes past red; the playbook fires by its own rule,
//! admits nobody while it acts, and the square never reaches red. Both runs are checked every step
//! for walls, bodies and conservation. One run of each, 1,800 s of the afternoon, side by side.

mod common;

use std::path::Path;

use common::run_verified;
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::Census;
use unitwin::measures::{AreaStatus, Playbooks};
use unitwin::metrics::Measurements;
use unitwin::scene::{SourceMap, parse_scene};
use unitwin::schedule::SimClock;

const SCENE: &str = "scenes/yuyangli_surge.ron";
const UNTIL: f64 = 1800.0;

/// What one run showed.
struct Run {
    /// Most people on the square at once, and the capacity the scene gives it.
    on_square_max: u32,
    capacity: f64,
    /// Seconds at yellow, orange and red or above.
    at_warning: [f64; 3],
    person_seconds_above_4: f64,
    /// (time, arrivals so far) after every step.
    spawned: Vec<(f64, u32)>,
    firings: Vec<unitwin::measures::Firing>,
    census: Census,
}

fn run(with_playbook: bool) -> Run {
    let text = std::fs::read_to_string(Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(SCENE)).unwrap();
    let text = if with_playbook {
        text
    } else {
        let start = text.find("    playbooks: [").expect("the scene has a playbook");
        format!("{})\n", &text[..start])
    };
    let loaded = parse_scene(SourceMap::new(Path::new(SCENE), text), String::new()).unwrap();
    let twin = unitwin::twin::build(loaded).unwrap();
    // One worker thread each: the two runs go side by side.
    let options = RunOptions { seed: twin.scene().run.seed, until: UNTIL, threads: Some(1), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    drop(twin);
    let (mut on_square_max, mut spawned) = (0u32, Vec::new());
    let out = run_verified(&mut app, |world| {
        on_square_max = on_square_max.max(world.resource::<AreaStatus>().areas[0].inside);
        spawned.push((world.resource::<SimClock>().now(), world.resource::<Census>().spawned));
    });
    let world = app.world();
    let area = &world.resource::<Measurements>().areas[0];
    assert_eq!(area.id, "square_area");
    Run {
        on_square_max,
        capacity: area.capacity.expect("the square has a capacity"),
        at_warning: area.seconds_at_warning.expect("the square has warning levels"),
        person_seconds_above_4: area.person_seconds_above[0],
        spawned,
        firings: world.resource::<Playbooks>().firings.clone(),
        census: out.census,
    }
}

#[test]
fn capacity_control_keeps_the_square_below_red_in_a_surge() {
    let (base, drill) = std::thread::scope(|s| {
        let base = s.spawn(|| run(false));
        let drill = s.spawn(|| run(true));
        (base.join().unwrap(), drill.join().unwrap())
    });
    let capacity = drill.capacity;
    println!(
        "yuyangli surge: without the playbook {} arrived, at most {} on the square (capacity {capacity:.0}), \
         {:.0} s at red, {:.0} person-s above 4 p/m²; with it {} admitted, at most {} on the square, {:.0} s at red, \
         {:.0} person-s above 4 p/m², {} out of {} by {UNTIL:.0} s; firings {:?}",
        base.census.spawned,
        base.on_square_max,
        base.at_warning[2],
        base.person_seconds_above_4,
        drill.census.spawned,
        drill.on_square_max,
        drill.at_warning[2],
        drill.person_seconds_above_4,
        drill.census.exited,
        drill.census.spawned,
        drill.firings.iter().map(|f| (f.t, f.issued, f.figure.as_str())).collect::<Vec<_>>()
    );
    // The surge is real: without measures the square holds more than its capacity.
    assert!(
        base.on_square_max as f64 > capacity && base.at_warning[2] > 0.0,
        "without the playbook the square goes past red ({} at most, capacity {capacity:.0})",
        base.on_square_max
    );
    // The playbook fires by its rule: at orange (90 % of capacity) for 10 s.
    let then: Vec<_> = drill.firings.iter().filter(|f| f.issued == "then").collect();
    assert!(!then.is_empty(), "the playbook fires: {:?}", drill.firings);
    for f in &then {
        let people: f64 = f.figure.split("': ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(people >= 0.9 * capacity, "fired at orange: {}", f.figure);
        assert!(f.figure.contains("at orange or above for 10.0 s"), "{}", f.figure);
    }
    // While it acts, nobody more is let onto the square (arrivals counted after every step).
    for (i, f) in drill.firings.iter().enumerate().filter(|(_, f)| f.issued == "then") {
        let lifted = drill.firings.get(i + 1).map_or(f64::INFINITY, |g| g.t);
        // The order applies at the start of the step after the one that issued it.
        let during: Vec<u32> =
            drill.spawned.iter().filter(|(t, _)| *t > f.t + 0.1 && *t <= lifted).map(|(_, n)| *n).collect();
        assert!(
            during.first() == during.last(),
            "nobody is admitted between {:.1} s and {lifted:.1} s ({:?} → {:?})",
            f.t,
            during.first(),
            during.last()
        );
    }
    // The square never reaches red, and everyone admitted has left by the end.
    assert!(
        (drill.on_square_max as f64) < capacity && drill.at_warning[2] == 0.0,
        "with the playbook the square stays below red ({} at most, capacity {capacity:.0})",
        drill.on_square_max
    );
    assert_eq!(drill.census.exited, drill.census.spawned, "everyone admitted leaves by {UNTIL} s");
    assert!(
        drill.person_seconds_above_4 < base.person_seconds_above_4,
        "crowding above 4 persons/m² on the square falls ({:.0} → {:.0} person-s)",
        base.person_seconds_above_4,
        drill.person_seconds_above_4
    );
}
