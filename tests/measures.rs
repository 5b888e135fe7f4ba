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

const GATE: &str = "scenes/gate_wave_release.ron";
/// The same place with the gate left open.
const GATE_FREE: &str = "scenes/gate_free.ron";
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
    twin_from_text("gate_variant.ron", format!("{}{events_and_more}\n)\n", &text[..start]))
}

/// A scene variant written out in full, parsed and checked as `unitwin run` would.
fn twin_from_text(name: &str, text: String) -> Twin {
    let loaded = parse_scene(SourceMap::new(Path::new(name), text), String::new())
        .unwrap_or_else(|d| panic!("the variant {name} does not parse:\n{d}"));
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the variant {name} does not check:\n{d}"))
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
    // The positions after the last update belong to a step that never runs, so the rule applied to
    // them may find one firing more, at the very end.
    let end = app.world().resource::<SimClock>().now();
    let extra = &expected[fired.len().min(expected.len())..];
    assert!(extra.is_empty() || (extra.len() == 1 && (extra[0].0 - end).abs() < 1e-9), "missed: {extra:?}");
    assert_eq!(fired, expected[..expected.len() - extra.len()], "firings against the positions");
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

/// The fields of one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// `unitwin compare` on a baseline without the gate's wave release and the rehearsal with it,
/// three seeds each: its figures equal those computed here from the runs' own files, and the
/// verdict on clearance follows from the order's arithmetic (8 waves of 15 for 120 people, the
/// last released at 140 s and 38 m from the lane's end).
#[test]
fn compare_scores_a_rehearsal_against_its_baseline_from_the_runs_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let free = Path::new(&unitwin_manifest_dir()).join(GATE_FREE);
    let gate = Path::new(&unitwin_manifest_dir()).join(GATE);
    let unitwin = |args: &[&std::ffi::OsStr]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_unitwin")).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for seed in ["1", "2", "3"] {
        for (scene, side) in [(&free, "base"), (&gate, "wave")] {
            let out = dir.path().join(side).join(format!("s{seed}"));
            unitwin(&[
                "run".as_ref(),
                scene.as_os_str(),
                "--seed".as_ref(),
                seed.as_ref(),
                "--quiet".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ]);
        }
    }
    let out = dir.path().join("scores");
    let said = unitwin(&[
        "compare".as_ref(),
        dir.path().join("base").as_os_str(),
        dir.path().join("wave").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(said.contains("worse: evacuation time"), "{said}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let row = |figure: &str| -> Vec<String> {
        csv.lines().map(csv_fields).find(|r| r[1] == figure).unwrap_or_else(|| panic!("no {figure}:\n{csv}"))
    };
    let mean_of = |side: &str, f: &dyn Fn(&Path) -> f64| -> f64 {
        ["s1", "s2", "s3"].iter().map(|s| f(&dir.path().join(side).join(s))).sum::<f64>() / 3.0
    };
    let summary = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap()).unwrap()
    };
    // Clearance: the means over seeds of each summary's evacuation time; the rehearsal's at least
    // the last wave's release plus the walk at the fastest speed drawn (2 m/s).
    let evac = row("evacuation_time");
    let base_evac = mean_of("base", &|p| summary(p)["evacuation_time"].as_f64().unwrap());
    let wave_evac = mean_of("wave", &|p| summary(p)["evacuation_time"].as_f64().unwrap());
    assert!((evac[5].parse::<f64>().unwrap() - base_evac).abs() < 1e-6, "{evac:?} against {base_evac}");
    assert!((evac[6].parse::<f64>().unwrap() - wave_evac).abs() < 1e-6, "{evac:?} against {wave_evac}");
    assert!(wave_evac >= 140.0 + 38.0 / 2.0, "the last of 8 waves leaves at 140 s: {wave_evac:.1} s");
    assert_eq!(evac[10], "worse");
    // Person-seconds above 4 persons/m², recomputed from the trajectories: at every frame, people
    // with more than 4 persons/m² in the 1 m disc around them (themselves included), × 0.5 s.
    let crowding = |p: &Path| -> f64 {
        let text = std::fs::read_to_string(p.join("trajectories.txt")).unwrap();
        let mut frames: std::collections::BTreeMap<i64, Vec<(f64, f64)>> = Default::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let c: Vec<f64> = line.split_whitespace().map(|v| v.parse().unwrap()).collect();
            frames.entry(c[1] as i64).or_default().push((c[2], c[3]));
        }
        let disc = std::f64::consts::PI;
        frames
            .values()
            .map(|pts| {
                let dense = pts
                    .iter()
                    .filter(|a| pts.iter().filter(|b| (a.0 - b.0).hypot(a.1 - b.1) <= 1.0).count() as f64 / disc > 4.0)
                    .count();
                dense as f64 * 0.5
            })
            .sum()
    };
    let ps = row("person_seconds_above_4");
    let wave_ps = mean_of("wave", &crowding);
    let reported = ps[6].parse::<f64>().unwrap();
    assert!(wave_ps > 100.0, "the held queue is dense: {wave_ps:.1} person·s");
    // Positions in the file are rounded to 0.1 mm, which can move a pair across the disc's edge.
    assert!((reported - wave_ps).abs() <= 0.01 * wave_ps, "compare says {reported}, the trajectories {wave_ps:.1}");
    // The hold line's figures are the summaries'.
    let crossed = row("hold:gate:crossed");
    assert_eq!(crossed[6].parse::<f64>().unwrap(), 120.0);
    let wait = row("hold:gate:wait_mean");
    let wave_wait = mean_of("wave", &|p| summary(p)["hold_lines"][0]["wait_mean"].as_f64().unwrap());
    assert!((wait[6].parse::<f64>().unwrap() - wave_wait).abs() < 1e-6);
    // A second compare into the same folder is refused.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args([
            "compare".as_ref(),
            dir.path().join("base").as_os_str(),
            dir.path().join("wave").as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

/// Far-end control: 3,600 arrivals per hour for 100 s; half let come from 20 s, diverted to the
/// south gate from 60 s, both lifted at 80 s. By the order's arithmetic: 20 through the west gate
/// by 20 s, 20 more by 60 s, 10 through the south gate by 80 s, 20 through the west gate by 100 s.
#[test]
fn far_end_control_cuts_and_diverts_arrivals_by_the_order() {
    let twin = common::load("tests/scenes/measures/arrivals.ron");
    // Where and when each agent first appeared.
    let mut first: std::collections::BTreeMap<u32, (f64, DVec2)> = Default::default();
    let app = run(&twin, |t, agents| {
        for &(id, p) in agents {
            first.entry(id).or_insert((t, p));
        }
    });
    let census = app.world().resource::<unitwin::crowd::Census>().clone();
    assert_eq!(census.spawned, 70, "20 + 20 + 10 + 20 arrivals");
    assert_eq!(census.exited, 70, "everyone leaves, and the run ends when they have");
    // The k-th arrival is due at k s (one a second) and is first seen at the end of that step; an
    // order applies at the start of its step, before that step's arrivals. Windows stay half a
    // second clear of the orders.
    let west = |p: &DVec2| p.x < 1.0;
    let south = |p: &DVec2| p.y < 1.0;
    let count = |from: f64, to: f64, gate: &dyn Fn(&DVec2) -> bool| {
        first.values().filter(|(t, p)| *t > from && *t <= to && gate(p)).count()
    };
    assert_eq!(count(0.0, 19.5, &west), 19, "one a second before the limit");
    assert_eq!(count(20.5, 59.5, &west), 19, "one every 2 s while limited (22, 24, …, 58 s)");
    assert_eq!(count(0.0, 300.0, &south), 10, "half of 20 s of arrivals through the south gate");
    assert_eq!(count(0.0, 60.0, &south) + count(80.5, 300.0, &south), 0, "only while diverted");
    assert_eq!(count(60.0, 80.0, &west), 0, "none through the west gate while diverted");
    assert_eq!(count(80.5, 100.5, &west), 20, "one a second again once lifted");
}

/// The draw data renderers and the viewer's panel read: each hold line's state and each entrance's
/// far-end control, refreshed when a command changes them.
#[test]
fn hold_lines_and_entrances_are_published_with_their_state() {
    use unitwin::draw::DrawTwin;
    use unitwin::runner::Run;
    let twin = common::load(GATE);
    let mut run = Run::new(&twin, &RunOptions::from_twin(&twin)).unwrap();
    let state = |run: &Run| run.world().resource::<DrawTwin>().hold_lines[0].state.clone();
    run.step();
    assert_eq!(state(&run), "waves of 15 every 20 s", "the scene's order at 0 s");
    unitwin::command::issue(run.world_mut(), &unitwin::command::NamedCommand::ReleaseLine("gate".into())).unwrap();
    run.step();
    let drawn = run.world().resource::<DrawTwin>().hold_lines[0].clone();
    assert_eq!((drawn.state.as_str(), drawn.held), ("free", false));
    assert!((drawn.a[0] - 22.0).abs() < 1e-9 && (drawn.b[1] - 7.0).abs() < 1e-9);

    let twin = common::load("tests/scenes/measures/arrivals.ron");
    let mut run = Run::new(&twin, &RunOptions::from_twin(&twin)).unwrap();
    let entrance = |run: &Run| run.world().resource::<DrawTwin>().entrances[0].clone();
    run.step();
    assert_eq!((entrance(&run).name.as_str(), entrance(&run).share), ("west_gate", 1.0));
    while run.clock().now() < 61.0 {
        run.step();
    }
    let e = entrance(&run);
    assert_eq!((e.share, e.diverted_to.as_deref()), (0.5, Some("south_gate")), "limited at 20 s, diverted at 60 s");
}

const STAIR_SWITCH: &str = "tests/scenes/measures/stair_switch.ron";

/// One-way circulation switched live: from the step the order applies, nobody steps onto the west
/// stair at its head or onto the east stair at its foot, and nobody on either flight walks against
/// its arrow (those who were walking down the west flight turn back up). Everyone still gets out.
#[test]
fn a_stair_made_one_way_is_never_walked_the_wrong_way() {
    use std::collections::{BTreeMap, BTreeSet};
    use unitwin::crowd::{AgentId, Body, Velocity};
    use unitwin::space::{SpaceRes, StairDirection};
    let twin = common::load(STAIR_SWITCH);
    let step = twin.scene().run.step;
    let options = RunOptions { seed: 8, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    let stair = |app: &bevy::app::App, name: &str| {
        app.world().resource::<SpaceRes>().0.stairs.iter().find(|s| s.id == name).unwrap().clone()
    };
    let (west, east) = (stair(&app, "west"), stair(&app, "east"));
    // Ordered at 8 s: it applies at the start of the step that begins then.
    const SWITCH: f64 = 8.0;
    // Shuffling back and forth in a queue is not walking the wrong way: anything under one step
    // (a walking step is about 0.6–0.8 m long) is allowed; a turn back at the switch needs none.
    const SHUFFLE: f64 = 0.3;
    let mut level_before: BTreeMap<u32, unitwin::ids::LevelId> = BTreeMap::new();
    let (mut down_west_at_switch, mut up_west, mut down_east) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut wrong: Vec<String> = Vec::new();
    // How far along each flight, in its one direction, each agent on it has come since the switch.
    let (mut farthest, mut worst_back): (BTreeMap<u32, f64>, f64) = (BTreeMap::new(), 0.0);
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        // The time at the start of the step just taken.
        let t = app.world().resource::<SimClock>().now() - step;
        let after = t + 1e-9 >= SWITCH;
        let ways = (stair(&app, "west").direction, stair(&app, "east").direction);
        let expected = if after {
            (StairDirection::UpOnly, StairDirection::DownOnly)
        } else {
            (StairDirection::Both, StairDirection::Both)
        };
        assert_eq!(ways, expected, "the directions at {t:.2} s");
        let mut q = app.world_mut().query::<(&AgentId, &Body, &Velocity)>();
        let mut agents: Vec<(u32, Body, bevy::math::DVec2)> =
            q.iter(app.world()).map(|(id, b, v)| (id.0, *b, v.0)).collect();
        agents.sort_by_key(|a| a.0);
        for (id, body, vel) in agents {
            let before = level_before.insert(id, body.level);
            // The flight's x runs from the foot to the head: walking up is +x.
            if !after {
                if body.level == west.level && vel.x < 0.0 && t + step + 1e-9 >= SWITCH {
                    down_west_at_switch.insert(id);
                }
                continue;
            }
            if body.level == west.level {
                if before == Some(west.head_level) {
                    wrong.push(format!("agent {id} stepped onto the west stair at its head at {t:.2} s"));
                }
                if before == Some(west.foot_level) {
                    up_west.insert(id);
                }
                let highest = farthest.entry(id).or_insert(body.pos.x);
                *highest = highest.max(body.pos.x);
                let back = *highest - body.pos.x;
                worst_back = worst_back.max(back);
                if back > SHUFFLE {
                    wrong.push(format!("agent {id} walked {back:.2} m down the west stair by {t:.2} s"));
                }
            }
            if body.level == east.level {
                if before == Some(east.foot_level) {
                    wrong.push(format!("agent {id} stepped onto the east stair at its foot at {t:.2} s"));
                }
                if before == Some(east.head_level) {
                    down_east.insert(id);
                }
                let lowest = farthest.entry(id).or_insert(body.pos.x);
                *lowest = lowest.min(body.pos.x);
                let back = body.pos.x - *lowest;
                worst_back = worst_back.max(back);
                if back > SHUFFLE {
                    wrong.push(format!("agent {id} walked {back:.2} m up the east stair by {t:.2} s"));
                }
            }
            if body.level != west.level && body.level != east.level {
                farthest.remove(&id);
            }
        }
    }
    let shown = wrong.len().min(12);
    assert!(wrong.is_empty(), "{} moves against the arrows:\n{}", wrong.len(), wrong[..shown].join("\n"));
    assert!(!down_west_at_switch.is_empty(), "the test needs people walking down the west stair when it is switched");
    let census = app.world().resource::<unitwin::crowd::Census>().clone();
    assert_eq!((census.spawned, census.exited), (120, 120), "everyone gets out after the switch");
    // The two groups of 60 each take their one way (those turned back on the west flight step off
    // at its head and walk to the east stair).
    assert!(
        up_west.len() >= 30 && down_east.len() >= 30,
        "both stairs carry their one way: {} stepped on up the west stair, {} down the east stair",
        up_west.len(),
        down_east.len()
    );
    println!(
        "one-way switch: {} walking down the west flight at the switch turned back; {} up west, {} down east after it; \
         most back along a flight {worst_back:.3} m; all out at {:.1} s",
        down_west_at_switch.len(),
        up_west.len(),
        down_east.len(),
        census.last_exit.unwrap_or(f64::NAN)
    );
}

/// Alternate opening: from 0 s the north gate is open and the south gate closed, and they swap
/// every 8 s, so nobody leaves by a gate outside its open spells; both are used; the swaps are
/// recorded at 8 s intervals and the run replays identically.
#[test]
fn alternate_opening_lets_people_out_only_by_the_open_gate() {
    let twin = common::load("tests/scenes/measures/alternate.ron");
    let step = twin.scene().run.step;
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let (mut wrong, mut north, mut south) = (Vec::new(), 0, 0);
    let app = run(&twin, |t, agents| {
        let began = t - step;
        // North open in [0, 8), [16, 24), …: the swap applies at the start of the step at 8 s.
        let north_open = ((began + 1e-9) / 8.0).floor() as i64 % 2 == 0;
        let now: std::collections::BTreeMap<u32, DVec2> = agents.iter().copied().collect();
        for (id, p) in &last {
            if !now.contains_key(id) {
                let by_north = p.y > 10.0;
                if by_north {
                    north += 1
                } else {
                    south += 1
                }
                if by_north != north_open {
                    wrong.push(format!(
                        "agent {id} left by the {} gate at {began:.2} s",
                        if by_north { "north" } else { "south" }
                    ));
                }
            }
        }
        last = now;
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (100, 100), "everyone gets out");
    assert!(north > 0 && south > 0, "both gates are used ({north} north, {south} south)");
    let log = app.world().resource::<CommandLog>();
    let swaps: Vec<f64> = log.entries.iter().filter(|e| e.origin == Origin::Measure).map(|e| e.t).collect();
    assert!(swaps.len() >= 2, "the gates swapped ({swaps:?})");
    for (i, t) in swaps.iter().enumerate() {
        assert!((t - 8.0 * (i + 1) as f64).abs() < 1e-6, "swap {} at {t} s, not {} s", i + 1, 8.0 * (i + 1) as f64);
    }
    println!("alternate opening: {north} out by the north gate, {south} by the south; {} swaps", swaps.len());
}

/// The alternate opening's swaps are recorded (origin `Measure`) and a replay takes them from the
/// recording: the same trajectories, summary and command log.
#[test]
fn alternate_opening_replays_identically() {
    let twin = common::load("tests/scenes/measures/alternate.ron");
    let dir = common::run_and_replay(&twin, 6, 300.0);
    let log = std::fs::read_to_string(dir.path().join("first/commands.ron")).unwrap();
    assert!(log.contains("origin: Measure"), "the swaps are recorded:\n{log}");
}

/// "Enter south, exit north" (南进北出): the yard's south gate is made an entrance only at 0 s and
/// an exit again at 3 s (people walk to the nearest open exit by distance, so the
/// south half of the yard, still near it then, turns back to it): nobody leaves by it in between, people do afterwards, everyone gets out.
#[test]
fn a_gate_made_entrance_only_is_not_left_by() {
    let path = Path::new(&unitwin_manifest_dir()).join("tests/scenes/measures/alternate.ron");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "events: [TimedEvent(at: 0.0, action: Alternate(first: \"north_gate\", second: \"south_gate\", every: 8.0))],",
        "events: [TimedEvent(at: 0.0, action: SetExit(door: \"south_gate\", exit: false)), \
         TimedEvent(at: 3.0, action: SetExit(door: \"south_gate\", exit: true))],",
    );
    assert!(text.contains("SetExit"), "the variant replaced the events");
    let twin = twin_from_text("entrance_only.ron", text);
    let step = twin.scene().run.step;
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let (mut south_early, mut south_late, mut north) = (Vec::new(), 0, 0);
    let app = run(&twin, |t, agents| {
        let began = t - step;
        let now: std::collections::BTreeMap<u32, DVec2> = agents.iter().copied().collect();
        for (id, p) in &last {
            if !now.contains_key(id) {
                match (p.y < 10.0, began + 1e-9 >= 3.0) {
                    (true, false) => south_early.push(format!("agent {id} left by the south gate at {began:.2} s")),
                    (true, true) => south_late += 1,
                    (false, _) => north += 1,
                }
            }
        }
        last = now;
    });
    assert!(south_early.is_empty(), "{}", south_early.join("\n"));
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (100, 100), "everyone gets out");
    assert!(south_late > 0, "the south gate is used once it is an exit again ({north} north)");
    println!("entrance only until 3 s: {north} out north, {south_late} south after 3 s");
}

const ONE_WAY: &str = "tests/scenes/measures/oneway_doors.ron";
/// The partition's x (m) and the doors' spans along it: north y 7.2–8.8, south y 1.2–2.8.
const PARTITION_X: f64 = 12.0;
const NORTH_DOOR: (f64, f64) = (7.2, 8.8);
const SOUTH_DOOR: (f64, f64) = (1.2, 2.8);

/// Which door a step from `a` to `b` went through, and whether eastward: from the positions alone.
fn door_crossing(a: DVec2, b: DVec2) -> Option<(&'static str, bool)> {
    use unitwin::geom::segments_intersect;
    let east = a.x < PARTITION_X && b.x >= PARTITION_X;
    let west = a.x > PARTITION_X && b.x <= PARTITION_X;
    if !(east || west) {
        return None;
    }
    for (name, (y0, y1)) in [("north", NORTH_DOOR), ("south", SOUTH_DOOR)] {
        let (p, q) = (DVec2::new(PARTITION_X, y0), DVec2::new(PARTITION_X, y1));
        if segments_intersect(a, b, p, q) {
            return Some((name, east));
        }
    }
    None
}

/// One-way doors (单向循环) ordered at 4 s, north eastward and south westward: from the step the
/// order applies nobody crosses either door against its arrow (checked on every step from the
/// positions), those on the wrong side of their nearer door go round by the other one, and
/// everyone gets out.
#[test]
fn a_one_way_door_is_never_crossed_against_its_arrow() {
    let twin = common::load(ONE_WAY);
    let step = twin.scene().run.step;
    const SWITCH: f64 = 4.0;
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    // Where each agent started (west room: eastbound), and where it stood when the order applied.
    let mut start: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let mut at_switch: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let mut wrong = Vec::new();
    let mut before = std::collections::BTreeMap::<(&str, bool), u32>::new();
    let mut after = std::collections::BTreeMap::<(&str, bool), u32>::new();
    // Agents on the wrong side of the door nearer them at the switch, who then went by the other.
    let mut rerouted = std::collections::BTreeSet::new();
    let app = run(&twin, |t, agents| {
        let began = t - step;
        let applied = began + 1e-9 >= SWITCH;
        for &(id, p) in agents {
            start.entry(id).or_insert(p);
            if applied {
                at_switch.entry(id).or_insert_with(|| last.get(&id).copied().unwrap_or(p));
            }
            let Some(&prev) = last.get(&id) else { continue };
            let Some((door, east)) = door_crossing(prev, p) else { continue };
            *(if applied { &mut after } else { &mut before }).entry((door, east)).or_default() += 1;
            if applied && (door == "north") != east {
                wrong.push(format!(
                    "agent {id} crossed the {door} door {} at {began:.2} s",
                    if east { "east" } else { "west" }
                ));
            }
            let s = at_switch.get(&id).copied().unwrap_or(p);
            // Eastbound nearer the south door at the switch, or westbound nearer the north one.
            if applied
                && s.x.partial_cmp(&PARTITION_X)
                    == Some(if east { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater })
                && (s.y < 5.0) == east
                && (door == "north") == east
            {
                rerouted.insert(id);
            }
        }
        last = agents.iter().copied().collect();
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (80, 80), "everyone gets out");
    let eastbound = start.values().filter(|p| p.x < PARTITION_X).count();
    assert_eq!(eastbound, 40, "40 start in the west room");
    let (north_east, south_west) =
        (after.get(&("north", true)).copied().unwrap_or(0), after.get(&("south", false)).copied().unwrap_or(0));
    assert!(north_east >= 20 && south_west >= 20, "each door carries its own direction: {after:?}");
    assert!(
        rerouted.len() >= 10,
        "people on the wrong side of their nearer door go round by the other ({} did)",
        rerouted.len()
    );
    let evacuation = app.world().resource::<SimClock>().now();
    println!(
        "one-way doors: crossings before the order {before:?}, after {after:?}; {} went round by the other door; \
         all 80 out, run ended at {evacuation:.1} s",
        rerouted.len()
    );
}

/// With both doors one-way eastward and the east exit made entrance-only, the westbound have no
/// way out at all: they wait in the east room (nobody crosses west), as at a closed door, until
/// the south door is opened both ways again from code (a live order) at 40 s; then everyone gets
/// out by the west exit.
#[test]
fn with_no_other_way_people_wait_at_a_one_way_door_until_it_is_opened_both_ways() {
    use unitwin::scene::{Action, DoorWay};
    let path = Path::new(&unitwin_manifest_dir()).join(ONE_WAY);
    let text = std::fs::read_to_string(path).unwrap().replace(
        "DoorDirection(door: \"south_door\", direction: Towards((4.0, 2.0)))",
        "DoorDirection(door: \"south_door\", direction: Towards((20.0, 2.0)))),\n        \
         TimedEvent(at: 0.0, action: SetExit(door: \"east_exit\", exit: false)",
    );
    assert!(text.contains("Towards((20.0, 2.0))"), "the variant replaced the south door's order");
    let twin = twin_from_text("no_way_west.ron", text);
    let step = twin.scene().run.step;
    let options = RunOptions { seed: 11, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    const REOPEN: f64 = 40.0;
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let (mut wrong, mut waiting_at_reopen, mut west_after, mut east_at_switch) = (Vec::new(), 0, 0, 0);
    while !app.world().resource::<SimControl>().finished {
        let now = app.world().resource::<SimClock>().now();
        if (now - 4.0).abs() < 1e-9 {
            east_at_switch = common::positions(app.world_mut()).iter().filter(|(_, p)| p.x > PARTITION_X).count();
        }
        if (now - REOPEN).abs() < 1e-9 {
            let positions = common::positions(app.world_mut());
            waiting_at_reopen = positions.iter().filter(|(_, p)| p.x > PARTITION_X).count();
            let order = Action::DoorDirection { door: "south_door".into(), direction: DoorWay::Both };
            unitwin::command::issue(app.world_mut(), &order).unwrap();
        }
        app.update();
        common::check_invariants(app.world_mut());
        let began = app.world().resource::<SimClock>().now() - step;
        let agents = common::positions(app.world_mut());
        for &(id, p) in &agents {
            let Some(&prev) = last.get(&id) else { continue };
            if let Some((door, false)) = door_crossing(prev, p) {
                if began + 1e-9 >= 4.0 && began + 1e-9 < REOPEN {
                    wrong.push(format!("agent {id} crossed the {door} door west at {began:.2} s"));
                } else if began + 1e-9 >= REOPEN {
                    west_after += 1;
                }
            }
        }
        last = agents.into_iter().collect();
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        east_at_switch >= 20 && waiting_at_reopen == east_at_switch,
        "those in the east room at the order wait there ({east_at_switch} at 4 s, {waiting_at_reopen} at {REOPEN} s)"
    );
    assert_eq!(west_after, waiting_at_reopen, "once reopened they all cross west");
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (80, 80), "everyone gets out once the door is reopened");
    let log = app.world().resource::<CommandLog>();
    assert!(
        log.entries
            .iter()
            .any(|e| e.origin == Origin::Live && e.command.to_string() == "open door 'south_door' both ways"),
        "the live order is logged"
    );
    println!(
        "no way west: {east_at_switch} east of the partition at 4 s, {waiting_at_reopen} still there at {REOPEN} s, \
         then {west_after} crossed west"
    );
}

/// A run with one-way doors replays byte-identically from its `commands.ron`, which records them.
#[test]
fn one_way_doors_replay_identically() {
    let twin = common::load(ONE_WAY);
    let dir = common::run_and_replay(&twin, 12, 120.0);
    let log = std::fs::read_to_string(dir.path().join("first/commands.ron")).unwrap();
    assert!(log.contains("DoorDirection(") && log.contains("Towards((4.0, 2.0))"), "the orders are recorded:\n{log}");
}

/// Exits assigned per population (单向循环): the westbound of the two-room scene (no one-way
/// doors here) are sent out by the east exit at 1 s and given back their own west exit at 9 s.
/// From the positions alone: while assigned, none of them leaves by the west exit; once restored,
/// none leaves by the east one; the eastbound are untouched; everyone gets out; and the run
/// replays identically from its recorded orders.
#[test]
fn exits_assigned_to_a_population_are_the_only_ones_it_leaves_by() {
    let path = Path::new(&unitwin_manifest_dir()).join(ONE_WAY);
    let original = std::fs::read_to_string(path).unwrap();
    let start = original.find("    events: [").expect("the scene has events");
    let text = format!(
        "{}    events: [\n        TimedEvent(at: 1.0, action: AssignExits(population: \"westbound\", exits: [\"east_exit\"])),\n        \
         TimedEvent(at: 9.0, action: AssignExits(population: \"westbound\", exits: [])),\n    ],\n)\n",
        &original[..start]
    );
    let twin = twin_from_text("assigned_exits.ron", text);
    let step = twin.scene().run.step;
    // Who started in the east room (the westbound), and by which side each one left, when.
    let mut westbound = std::collections::BTreeSet::new();
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let mut left: Vec<(u32, bool, f64)> = Vec::new();
    let app = run(&twin, |t, agents| {
        let began = t - step;
        let now: std::collections::BTreeMap<u32, DVec2> = agents.iter().copied().collect();
        for (&id, &p) in &now {
            if !last.contains_key(&id) && began < 1e-9 && p.x > PARTITION_X {
                westbound.insert(id);
            }
        }
        for (&id, p) in &last {
            if !now.contains_key(&id) {
                left.push((id, p.x > PARTITION_X, began));
            }
        }
        last = now;
    });
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (80, 80), "everyone gets out");
    assert_eq!(westbound.len(), 40);
    // Orders apply at the start of the first step at or after their time.
    let (assigned, restored) = (1.0, 9.0);
    let mut wrong = Vec::new();
    let (mut east_while_assigned, mut west_after) = (0, 0);
    for &(id, east, t) in &left {
        let west_pop = westbound.contains(&id);
        match (west_pop, east) {
            (false, false) => wrong.push(format!("eastbound agent {id} left by the west exit at {t:.2} s")),
            (true, false) if t + 1e-9 >= assigned && t + 1e-9 < restored => {
                wrong.push(format!("westbound agent {id} left by the west exit at {t:.2} s, while sent east"))
            }
            (true, true) if t + 1e-9 >= restored => {
                wrong.push(format!("westbound agent {id} left by the east exit at {t:.2} s, after the restore"))
            }
            (true, true) => east_while_assigned += 1,
            (true, false) if t + 1e-9 >= restored => west_after += 1,
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        east_while_assigned > 0 && west_after > 0,
        "both orders are used ({east_while_assigned} east, {west_after} west after)"
    );
    println!(
        "assigned exits: {east_while_assigned} westbound out east while sent there, {west_after} west after the restore"
    );
    // The orders are recorded by name and replay to the same files.
    let dir = common::run_and_replay(&twin, 11, twin.scene().run.duration);
    let log = std::fs::read_to_string(dir.path().join("first/commands.ron")).unwrap();
    assert!(
        log.contains("AssignExits(") && log.contains("population: \"westbound\"") && log.contains("\"east_exit\""),
        "{log}"
    );
}

const ONE_WAY_LANES: &str = "tests/scenes/measures/oneway_lanes.ron";

/// One-way lanes (单向循环) ordered at 4 s as hold lines with release `OneWay`: the north lane
/// eastward, the south lane westward. From the step the order applies nobody crosses either line
/// against its direction (checked on every step from the positions), the routes know it (the
/// westbound in the north lane turn back and go round by the south lane, instead of queueing at
/// the line, and everyone gets out), and the run replays identically.
#[test]
fn a_one_way_lane_is_never_walked_against_its_direction() {
    let twin = common::load(ONE_WAY_LANES);
    let step = twin.scene().run.step;
    const SWITCH: f64 = 4.0;
    const LINE_X: f64 = 20.0;
    let mut last: std::collections::BTreeMap<u32, DVec2> = Default::default();
    let mut wrong = Vec::new();
    let mut after = std::collections::BTreeMap::<(&str, bool), u32>::new();
    let mut most_held = 0;
    let mut sent_back = std::collections::BTreeSet::new();
    let options = RunOptions { seed: 14, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        let t = app.world().resource::<SimClock>().now();
        let agents = common::positions(app.world_mut());
        let began = t - step;
        let applied = began + 1e-9 >= SWITCH;
        for &(id, p) in &agents {
            let Some(&prev) = last.get(&id) else { continue };
            if (prev.x < LINE_X) == (p.x < LINE_X) {
                continue;
            }
            let lane = if p.y > 12.0 {
                "north"
            } else if p.y < 4.0 {
                "south"
            } else {
                continue;
            };
            let east = p.x >= LINE_X;
            if applied {
                *after.entry((lane, east)).or_default() += 1;
                if (lane == "north") != east {
                    wrong.push(format!(
                        "agent {id} crossed the {lane} lane's line {} at {began:.2} s",
                        if east { "eastward" } else { "westward" }
                    ));
                }
            }
        }
        let lines = app.world().resource::<HoldLines>();
        let held: u32 = lines.0.iter().map(|l| l.held_now).sum();
        most_held = most_held.max(held);
        if held > 0 {
            for &(id, p) in &agents {
                if (p.x - LINE_X).abs() < 1.0 && (p.y > 12.0 || p.y < 4.0) {
                    sent_back.insert(id);
                }
            }
        }
        last = agents.into_iter().collect();
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (80, 80), "everyone gets out round the block");
    let (north_east, south_west) =
        (after.get(&("north", true)).copied().unwrap_or(0), after.get(&("south", false)).copied().unwrap_or(0));
    // Each lane carries its own direction: every eastbound goes by the north lane and every
    // westbound by the south lane (the groups start 12 m from the lines, so all pass them after 4 s).
    assert_eq!((north_east, south_west), (40, 40), "each lane carries its own group after the order: {after:?}");
    let lines = app.world().resource::<HoldLines>();
    assert!(lines.0.iter().all(|l| l.crossed == 0), "nobody crosses a one-way line from its held side");
    // Routes know the lanes: nobody is left queueing at a line while the other lane is free.
    assert!(
        lines.0.iter().all(|l| l.still_waiting() == 0),
        "nobody is left waiting at a one-way line when another way exists"
    );
    let end = app.world().resource::<SimClock>().now();
    println!(
        "one-way lanes: crossings after the order {after:?}; at most {most_held} sent back in a step, {} people in all \
         (near a line while someone was sent back); all 80 out, run ended at {end:.1} s",
        sent_back.len()
    );
    // Replayed from its command log, the run gives the same trajectories.
    let dir = common::run_and_replay(&twin, 3, 150.0);
    let log = std::fs::read_to_string(dir.path().join("first/commands.ron")).unwrap();
    assert!(log.contains("release: OneWay"), "{log}");
}

/// Density alarms (Shanghai's thresholds, validation.md: 4 persons/m² for a moving crowd, 4.7 for a
/// standing one): the queue at the wave-release gate is watched in an 8 m² area just before the
/// line. The alarm spells the run records equal those the rule gives when applied here to the
/// positions and velocities at the start of every step (standing: slower than 0.1 m/s; the crowd
/// stands when at least half of it does), and `summary.json` and `compare` carry them.
#[test]
fn density_alarms_follow_the_moving_and_standing_thresholds() {
    use unitwin::crowd::{AgentId, Body, Velocity};
    use unitwin::measures::{CrowdState, DensityAlarms};
    let text = scene_text().replace(
        "        Area(id: \"plaza\", level: \"ground\"",
        "        Area(id: \"at_gate\", level: \"ground\", polygon: [(20.0, 3.0), (22.0, 3.0), (22.0, 7.0), (20.0, 7.0)]),\n        Area(id: \"plaza\", level: \"ground\"",
    );
    assert!(text.contains("at_gate"), "the variant adds the area");
    let twin = twin_from_text("gate_alarm.ron", text);
    let options = RunOptions { seed: 11, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    // (crowd when raised, from, to, peak density)
    let mut expected: Vec<(CrowdState, f64, Option<f64>, f64)> = Vec::new();
    let mut end = 0.0;
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        let t = app.world().resource::<SimClock>().now();
        end = t;
        let world = app.world_mut();
        let mut q = world.query::<(&AgentId, &Body, &Velocity)>();
        let (mut inside, mut standing) = (0u32, 0u32);
        for (_, body, velocity) in q.iter(world) {
            let p = body.pos;
            if p.x > 20.0 && p.x < 22.0 && p.y > 3.0 && p.y < 7.0 {
                inside += 1;
                standing += u32::from(velocity.0.length() < 0.1);
            }
        }
        let density = inside as f64 / 8.0;
        let crowd = if inside > 0 && 2 * standing >= inside { CrowdState::Standing } else { CrowdState::Moving };
        let limit = if crowd == CrowdState::Standing { 4.7 } else { 4.0 };
        let alarm = density > limit;
        match expected.last_mut().filter(|s| s.2.is_none()) {
            Some(spell) if alarm => spell.3 = spell.3.max(density),
            Some(spell) => spell.2 = Some(t),
            None if alarm => expected.push((crowd, t, None, density)),
            None => {}
        }
    }
    // The positions after the last update belong to a step that never runs.
    if let Some(last) = expected.last_mut() {
        if last.1 == end {
            expected.pop();
        } else if last.2 == Some(end) {
            last.2 = None;
        }
    }
    let alarms = app.world().resource::<DensityAlarms>();
    let record = alarms.0.iter().find(|a| a.area == "at_gate").expect("the area is watched");
    let got: Vec<_> = record.spells.iter().map(|s| (s.crowd, s.from, s.to, s.peak_density)).collect();
    assert!(!expected.is_empty(), "the queue at the gate passes the alarm density");
    assert_eq!(got, expected, "alarm spells against the rule applied to positions and velocities");
    let standing = record.spells.iter().filter(|s| s.crowd == CrowdState::Standing).count();
    println!(
        "density alarms at the gate: {} spell(s) ({standing} raised while the crowd stood), {:.1} s in all, up to {:.2} persons/m²",
        record.spells.len(),
        record.seconds,
        record.spells.iter().map(|s| s.peak_density).fold(0.0, f64::max)
    );
}

/// Ten people bound for a side door stand 5 s in the held gate's queue area (the forecourt) and then
/// leave by that door, as leavers pass through the entrance mouths at Tianzifang while the waves are
/// held. They never meant to cross the line: once they have left, the line does not count them as
/// still waiting (it counted all ten before), but as having waited and left another way, and the
/// held visitors' waits are unchanged.
#[test]
fn leavers_who_stood_in_the_queue_area_are_not_left_waiting() {
    let text = scene_text()
        .replacen(
            "        Door(id: \"lane_end\"",
            "        Door(id: \"side_exit\", level: \"ground\", at: (18.0, 0.0), width: 2.0),\n        Door(id: \"lane_end\"",
            1,
        )
        .replacen("goal: NearestExit,", "goal: Exits([\"lane_end\"]),", 1)
        .replacen(
            "    ],\n    measurements: [",
            r#"        Population(
            id: "leavers",
            level: "ground",
            placement: Area(polygon: [(16.0, 1.0), (19.0, 1.0), (19.0, 3.0), (16.0, 3.0)], count: 10),
            speed: Normal(mean: 1.34, sd: 0.26, min: 0.5, max: 2.0),
            premovement: Constant(5.0),
            goal: Exits(["side_exit"]),
        ),
    ],
    measurements: ["#,
            1,
        );
    let twin = twin_from_text("gate_leavers.ron", text);
    // The leavers' ids follow the 120 visitors'; they stand in the forecourt until 5 s.
    let mut leavers_in_forecourt_at_4s = 0;
    let mut app = run(&twin, |t, agents| {
        if (t - 4.0).abs() < 1e-6 {
            leavers_in_forecourt_at_4s =
                agents.iter().filter(|&&(id, p)| id >= 120 && p.x < 20.0 && p.y > 0.0 && p.y < 10.0).count();
        }
    });
    assert_eq!(leavers_in_forecourt_at_4s, 10, "the leavers stood in the queue area while the gate was held");
    let census = app.world().resource::<unitwin::crowd::Census>().clone();
    assert_eq!((census.spawned, census.exited), (130, 130), "everyone leaves");
    let lines = app.world_mut().remove_resource::<HoldLines>().unwrap();
    let gate = &lines.0[0];
    assert_eq!(gate.crossed, 120, "only the visitors cross the gate");
    assert_eq!(gate.still_waiting(), 0, "nobody is still waiting at the gate once everyone has left");
    assert_eq!(
        gate.left_without_crossing, 10,
        "the ten who stood in the held gate's queue area and left by the side door are counted as such"
    );
    let side = twin.space.doors.iter().position(|d| d.id == "side_exit").unwrap();
    let by_side: u32 = census.per_exit.iter().filter(|(d, _)| d.index() == side).map(|(_, n)| n).sum();
    assert_eq!(by_side, 10, "the leavers left by the side door, and nobody else did");
}

/// Arrivals kept outside for want of room (issue 12's wave release keeps thousands beyond the
/// twin's edge): at one a second through a 4 m gate, far below its capacity (Seyfried et al. 2009:
/// 1.9 persons/(m·s), 7.6 a second), nobody is kept outside; with a cordon 1 m inside the gate,
/// closed from 0 to 60 s, the strip before it fills and the rest of those due by the order (one a
/// second) wait outside, each counted, until it opens; then all come in. The count kept outside
/// is checked at every step against the order: due by then, less those who have appeared.
#[test]
fn arrivals_kept_outside_are_counted_against_the_order() {
    use unitwin::crowd::Census;
    let text =
        std::fs::read_to_string(Path::new(&unitwin_manifest_dir()).join("tests/scenes/measures/arrivals.ron")).unwrap();
    let start = text.find("    events: [").unwrap();
    let scene = |events: &str| {
        let text = format!(
            "{}    hold_lines: [\n        HoldLine(id: \"cordon\", level: \"ground\", from: (1.0, 0.0), to: (1.0, 10.0), \
             held_from: (0.5, 5.0)),\n    ],\n{events}\n)\n",
            &text[..start]
        );
        twin_from_text("arrivals_cordon.ron", text)
    };
    // Steps a twin to its end; returns the app, the most kept outside by the order at any step,
    // those kept outside at 60 s, and every step where the count disagrees with the order.
    let run_counting = |twin: &Twin| {
        let options = RunOptions { seed: 5, until: twin.scene().run.duration, threads: Some(2), replay: None };
        let mut app = headless_app(twin, &options).unwrap();
        let (mut most, mut at_60, mut mismatches) = (0u32, 0u32, Vec::new());
        while !app.world().resource::<SimControl>().finished {
            app.update();
            common::check_invariants(app.world_mut());
            let census = app.world().resource::<Census>();
            let t = app.world().resource::<SimClock>().now();
            // What a viewer's panel shows is the census's count.
            let drawn = app.world().resource::<unitwin::draw::DrawFigures>().kept_outside;
            if t > 0.0 {
                assert_eq!(drawn, Some(census.outside_total.now()), "the published figure at {t:.2} s");
            }
            // The k-th arrival is due at k s; this step's arrivals were due by its start.
            let due = ((t - 0.05 + 1e-9).floor() as u32).min(100);
            let total = census.outside_total;
            if total.due != due || total.now() != due - census.spawned {
                mismatches.push(format!(
                    "t {t:.2}: due {} (by the order {due}), outside {} (spawned {})",
                    total.due,
                    total.now(),
                    census.spawned
                ));
            }
            most = most.max(due - census.spawned);
            if (t - 60.0).abs() < 1e-6 {
                at_60 = total.now();
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches[..mismatches.len().min(5)].join("\n"));
        (app, most, at_60)
    };
    let (app, most_outside, _) = run_counting(&scene("    events: [],"));
    let census = app.world().resource::<Census>().clone();
    assert_eq!((census.outside_total.due, census.outside_total.let_in, census.outside_total.peak), (100, 100, 0));
    assert_eq!(most_outside, 0);

    let cordoned = scene(
        r#"    events: [
        TimedEvent(at: 0.0, action: HoldLine(line: "cordon", release: Closed)),
        TimedEvent(at: 60.0, action: ReleaseLine("cordon")),
    ],"#,
    );
    let (app, most_outside, outside_at_60) = run_counting(&cordoned);
    let census = app.world().resource::<Census>().clone();
    let total = census.outside_total;
    println!(
        "cordon 1 m inside the gate: {} kept outside at 60 s, at most {} (at {:.2} s); {} of {} in by the end",
        outside_at_60, total.peak, total.peak_at, total.let_in, total.due
    );
    // The strip before the cordon is 10 m²: at Weidmann's jam density (5.4 persons/m²) it holds
    // at most 54 of the 60 due by 60 s, so some must wait outside.
    assert!(outside_at_60 >= 6, "{outside_at_60} kept outside at 60 s");
    assert_eq!(total.peak, most_outside, "the peak is the largest count at any step");
    assert!(total.peak_at <= 60.0 + 1e-9, "the most were outside before the cordon opened: {:.2} s", total.peak_at);
    assert_eq!((total.due, total.let_in, total.now()), (100, 100, 0), "all come in once the cordon opens");
    assert_eq!(census.exited, 100);

    // The run's folder says the same: summary.json, and the report's N(t) table frame by frame.
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions { seed: 5, until: cordoned.scene().run.duration, threads: Some(1), replay: None };
    let out = dir.path().join("cordon");
    let request = RunRequest { options, out_dir: out.clone(), force: false, progress: false, commands_file: None };
    run_to_folder(&cordoned, &request, &AtomicBool::new(false)).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let kept = &summary["kept_outside"];
    assert_eq!(
        [&kept["due"], &kept["let_in"], &kept["at_end"], &kept["peak"]].map(|v| v.as_u64().unwrap()),
        [100, 100, 0, u64::from(total.peak)],
        "{kept}"
    );
    assert_eq!(summary["arrivals"][0]["door"], "west_gate");
    let nt = std::fs::read_to_string(out.join("report_nt.csv")).unwrap();
    let mut lines = nt.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (t_col, kept_col) = (0, header.iter().position(|c| *c == "kept_outside").expect("a kept_outside column"));
    let rows: Vec<(f64, u32)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[t_col].parse().unwrap(), cells[kept_col].parse().unwrap())
        })
        .collect();
    // Frames every 0.5 s, at the start of a step once its arrivals came: at most those due by then.
    for &(t, n) in &rows {
        let due = ((t + 1e-9).floor() as u32).min(100);
        assert!(n <= due && n <= total.peak, "{t} s: {n} kept outside, {due} due, peak {}", total.peak);
    }
    assert_eq!(rows.last().unwrap().1, 0, "nobody outside at the end");
    assert!(rows.iter().any(|&(t, n)| (t - 60.0).abs() < 0.3 && n + 1 >= outside_at_60), "{rows:?}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(">kept outside<"), "the N(t) chart shows those kept outside");
}
