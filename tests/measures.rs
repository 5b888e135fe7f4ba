//! Crowd-management measures (issue 11): a wave release admits exactly the ordered number per wave
//! at the ordered interval; a closed hold line (a cordon) is never crossed until released; a
//! playbook fires when its condition has held for its time, as computed here from the positions,
//! and its run replays identically. The references are the orders themselves (N, T, thresholds).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use bevy::math::DVec2;
use unitwin::app::{RunOptions, headless_app};
use unitwin::command::{CommandLog, Origin};
use unitwin::measures::{HoldLines, Playbooks};
use unitwin::runner::{RunRequest, run_to_folder};
use unitwin::scene::{SourceMap, parse_scene};
use unitwin::schedule::{SimClock, SimControl};
use unitwin::twin::Twin;

const GATE: &str = "tests/scenes/measures/gate.ron";
/// The gate line's x (m): it runs from (22, 3) to (22, 7); the held people come from the west.
const LINE_X: f64 = 22.0;
/// The plaza beyond the gate: x 23–33, y 3–7 (40 m²).
const PLAZA: [f64; 4] = [23.0, 3.0, 33.0, 7.0];

fn scene_text() -> String {
    std::fs::read_to_string(Path::new(&unitwin_manifest_dir()).join(GATE)).unwrap()
}

/// The gate scene with its events (and anything after them) replaced.
fn variant(events_and_more: &str) -> Twin {
    let text = scene_text();
    let start = text.find("    events: [").expect("the scene has events");
    let text = format!("{}{events_and_more}\n)\n", &text[..start]);
    let loaded = parse_scene(SourceMap::new(Path::new("gate_variant.ron"), text), String::new())
        .unwrap_or_else(|d| panic!("the variant does not parse:\n{d}"));
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the variant does not check:\n{d}"))
}

/// Steps a twin to its end with the invariants checked, calling `each` after every step with the
/// time (start of the next step) and every agent's position.
fn run(twin: &Twin, mut each: impl FnMut(f64, &[(u32, DVec2)])) -> bevy::app::App {
    let options = RunOptions { seed: 11, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(twin, &options).unwrap();
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        let t = app.world().resource::<SimClock>().now();
        let positions = common::positions(app.world_mut());
        each(t, &positions);
    }
    app
}

#[test]
fn a_wave_release_admits_exactly_n_per_wave_at_the_interval() {
    let twin = common::load(GATE);
    // When each person first stood east of the line, from the positions alone.
    let mut crossed_at: std::collections::BTreeMap<u32, f64> = Default::default();
    let mut app = run(&twin, |t, agents| {
        for &(id, p) in agents {
            if p.x > LINE_X {
                crossed_at.entry(id).or_insert(t);
            }
        }
    });
    let census = app.world().resource::<unitwin::crowd::Census>().clone();
    assert_eq!((census.spawned, census.exited), (120, 120), "everyone gets through in the end");
    // Nobody crossed outside a wave: per 20 s window, exactly 15 crossed while 15 or more waited
    // (120 = 8 full waves), none after.
    let mut per_window = [0u32; 12];
    for t in crossed_at.values() {
        per_window[((t - 1e-9) / 20.0).floor().max(0.0) as usize] += 1;
    }
    // Everyone crossed the line on the way to the lane's end, 38 m beyond it.
    assert_eq!(crossed_at.len(), 120);
    assert_eq!(&per_window[..8], &[15; 8], "15 per 20 s wave: {per_window:?}");
    assert!(per_window[8..].iter().all(|&n| n == 0), "nobody after the eighth wave: {per_window:?}");
    // The line's own record agrees with the positions.
    let lines = app.world_mut().remove_resource::<HoldLines>().unwrap();
    let gate = &lines.0[0];
    let times: Vec<f64> = gate.waves.iter().map(|w| w.t).collect();
    assert_eq!(&times[..8], &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 140.0]);
    assert!(gate.waves[..8].iter().all(|w| w.size == 15 && w.admitted == 15), "{:?}", gate.waves);
    assert_eq!(gate.crossed, 120);
    // The last wave's people waited in the forecourt for about 7 × 20 s.
    let longest = gate.waits.iter().copied().fold(0.0, f64::max);
    assert!((120.0..=160.0).contains(&longest), "longest wait {longest:.1} s");
}

#[test]
fn a_cordon_is_never_crossed_until_it_is_released() {
    let twin = variant(
        r#"    events: [
        TimedEvent(at: 0.0, action: HoldLine(line: "gate", release: Closed)),
        TimedEvent(at: 60.0, action: ReleaseLine("gate")),
    ],"#,
    );
    let mut first_east = f64::INFINITY;
    let mut app = run(&twin, |t, agents| {
        if agents.iter().any(|(_, p)| p.x > LINE_X) {
            first_east = first_east.min(t);
        }
    });
    assert!(first_east > 60.0, "someone was past the cordon at {first_east:.2} s");
    assert!(first_east < 62.0, "released at 60 s, the first crossed only at {first_east:.2} s");
    let census = app.world().resource::<unitwin::crowd::Census>().clone();
    assert_eq!(census.exited, 120, "after the release everyone leaves");
    let lines = app.world_mut().remove_resource::<HoldLines>().unwrap();
    assert!(lines.0[0].waves.is_empty(), "a cordon releases no waves");
}

/// The plaza's density when the held crowd pours in: a playbook closes the gate when the plaza is
/// above 0.5 persons/m² for 3 s and opens it when below 0.2 for 5 s.
const PLAYBOOK: &str = r#"    playbooks: [
        Playbook(
            id: "plaza_guard",
            when: DensityAbove(area: "plaza", density: 0.5, for: 3.0),
            then: [HoldLine(line: "gate", release: Closed)],
            until: Some(DensityBelow(area: "plaza", density: 0.2, for: 5.0)),
            after: [ReleaseLine("gate")],
        ),
    ],"#;

#[test]
fn a_playbook_fires_when_its_condition_has_held_for_its_time() {
    let twin = variant(PLAYBOOK);
    // The plaza's density at the start of each step, from the positions, and the firings it
    // implies by the playbook's rule.
    let inside = |p: &DVec2| p.x > PLAZA[0] && p.x < PLAZA[2] && p.y > PLAZA[1] && p.y < PLAZA[3];
    let mut expected: Vec<(f64, &str)> = Vec::new();
    let (mut active, mut since): (bool, Option<f64>) = (false, None);
    let mut app = run(&twin, |t, agents| {
        // The first check, at t = 0, sees everyone in the forecourt: the plaza empty, which the
        // first condition does not react to.
        let density = agents.iter().filter(|(_, p)| inside(p)).count() as f64 / 40.0;
        let (holds, need) = if active { (density < 0.2, 5.0) } else { (density > 0.5, 3.0) };
        if !holds {
            since = None;
            return;
        }
        let s = *since.get_or_insert(t);
        if t - s >= need - 1e-9 {
            expected.push((t, if active { "after" } else { "then" }));
            active = !active;
            since = None;
        }
    });
    let playbooks = app.world_mut().remove_resource::<Playbooks>().unwrap();
    let fired: Vec<(f64, &str)> = playbooks.firings.iter().map(|f| (f.t, f.issued)).collect();
    assert!(fired.len() >= 2, "the gate is closed and opened at least once: {fired:?}");
    // The run ends after the last step, whose start-of-step check happens in no further update.
    let comparable = &expected[..fired.len().min(expected.len())];
    assert_eq!(&fired[..comparable.len()], comparable, "firings against the positions");
    assert!(playbooks.firings[0].figure.contains("area 'plaza'"), "{}", playbooks.firings[0].figure);
    // Each firing's actions were applied at the start of the next step, as playbook commands.
    let log = &app.world().resource::<CommandLog>().entries;
    let from_playbook: Vec<f64> = log.iter().filter(|c| c.origin == Origin::Playbook).map(|c| c.t).collect();
    let dt = twin.scene().run.step;
    let next_steps: Vec<f64> = fired.iter().map(|f| ((f.0 + dt) * 1e9).round() / 1e9).collect();
    assert_eq!(from_playbook, next_steps);
}

#[test]
fn a_playbook_run_replays_identically() {
    let twin = variant(PLAYBOOK);
    let dir = tempfile::tempdir().unwrap();
    let go = |out: PathBuf, commands: Option<PathBuf>| {
        let replay = commands.as_ref().map(|c| unitwin::runner::replay_from_file(&twin, c).unwrap().0);
        let options = RunOptions { seed: 11, until: 200.0, threads: Some(1), replay };
        let request = RunRequest { options, out_dir: out, force: false, progress: false, commands_file: commands };
        run_to_folder(&twin, &request, &AtomicBool::new(false)).unwrap();
    };
    let first = dir.path().join("first");
    go(first.clone(), None);
    let again = dir.path().join("again");
    go(again.clone(), Some(first.join("commands.ron")));
    let summary = std::fs::read_to_string(first.join("summary.json")).unwrap();
    assert!(summary.contains("\"playbook\": \"plaza_guard\""), "the firings are in the summary");
    for file in ["trajectories.txt", "summary.json", "commands.ron"] {
        let (a, b) = (std::fs::read(first.join(file)).unwrap(), std::fs::read(again.join(file)).unwrap());
        assert!(a == b, "{file} differs between the run and its replay");
    }
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
