//! Vehicles and pedestrians together: crossings shared safely (no conflicts, no red-light
//! running, no overlaps), pedestrian waits against the signal cycle, and traffic commands
//! (closing a street, holding a phase) recorded and replayed byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::AtomicBool;

use unitwin::app::RunOptions;
use unitwin::command::NamedCommand;
use unitwin::runner::{FolderRun, RunRequest, run_to_folder};
use unitwin::traffic::{Light, SignalStates};
use unitwin::twin::Twin;

const SHARED: &str = "tests/scenes/traffic/shared_crossings.ron";

fn manifest() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

fn path(p: &str) -> PathBuf {
    Path::new(&manifest()).join(p)
}

fn twin(p: &str) -> Twin {
    unitwin::twin::load(&path(p)).expect("scene builds")
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn request(dir: &Path, seed: u64, until: f64, threads: usize) -> RunRequest {
    RunRequest {
        options: RunOptions { seed, until, threads: Some(threads), replay: None },
        out_dir: dir.to_path_buf(),
        force: false,
        progress: false,
        commands_file: None,
    }
}

#[test]
fn pedestrians_and_vehicles_share_crossings_safely_and_wait_as_the_cycle_says() {
    let twin = twin(SHARED);
    let dir = tempfile::tempdir().unwrap();
    for seed in [3, 4] {
        let out = dir.path().join(format!("seed{seed}"));
        run_to_folder(&twin, &request(&out, seed, 800.0, 2), &AtomicBool::new(false)).unwrap();
        let s = summary(&out);
        let t = &s["traffic"];
        assert_eq!(s["everyone_left"], true, "seed {seed}: every pedestrian crosses and leaves");
        assert_eq!(t["conflicts"], 0, "seed {seed}: no vehicle within 1 m of a pedestrian on a crossing");
        assert_eq!(t["red_light_violations"], 0, "seed {seed}");
        assert_eq!(t["overlaps"], 0, "seed {seed}");
        let (came, left, on) = (
            t["vehicles_spawned"].as_u64().unwrap(),
            t["vehicles_arrived"].as_u64().unwrap(),
            t["vehicles_on_road"].as_u64().unwrap(),
        );
        assert_eq!(came, left + on, "seed {seed}: no vehicle is lost");
        // 400 vehicles/h each way for 800 s: about 178 (Poisson, so ±3 sd ≈ ±40).
        assert!((138..=218).contains(&came), "seed {seed}: {came} vehicles came");
        let lights = t["crossings"].as_array().unwrap().iter().find(|c| c["crossing"] == "lights").unwrap();
        let zebra = t["crossings"].as_array().unwrap().iter().find(|c| c["crossing"] == "zebra").unwrap();
        assert_eq!(lights["pedestrians_crossed"], 50);
        assert_eq!(zebra["pedestrians_crossed"], 50);
        // Signal: cycle C = 58 s, walk green g = 15 s, the crossing 7.1 m long. A pedestrian
        // starts only if they reach the far kerb in the green left, so the usable green shrinks
        // by L/v. HCM 2010 (eq. 18-5) gives the mean wait of randomly arriving pedestrians as
        // (C − g)²/(2C); the longest wait is the red plus the unusable end of the green.
        let (c, g, l) = (58.0, 15.0, 7.1);
        let usable = g - l / 1.34;
        let hcm = (c - usable) * (c - usable) / (2.0 * c);
        let mean = lights["mean_wait"].as_f64().unwrap();
        assert!(mean > 0.5 * hcm && mean < 1.5 * hcm, "seed {seed}: mean wait {mean:.1} s, HCM {hcm:.1} s");
        let longest = (c - g) + l / 0.5 + 1.0;
        let max = lights["max_wait"].as_f64().unwrap();
        assert!(max <= longest, "seed {seed}: a pedestrian waited {max:.1} s at the lights (at most {longest:.1} s)");
        // Vehicles yield at the zebra: pedestrians hardly wait there (art. 47).
        assert!(zebra["mean_wait"].as_f64().unwrap() < 5.0, "seed {seed}: zebra wait {}", zebra["mean_wait"]);
        let vehicles = std::fs::read_to_string(out.join("vehicles.csv")).unwrap();
        assert!(vehicles.starts_with("t,id,type,x,y,z,heading_deg,speed,lane\n"));
        assert!(vehicles.lines().count() > 1000);
    }
}

#[test]
fn vehicles_do_not_depend_on_the_thread_count() {
    let twin = twin(SHARED);
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    run_to_folder(&twin, &request(&one, 9, 300.0, 1), &AtomicBool::new(false)).unwrap();
    run_to_folder(&twin, &request(&two, 9, 300.0, 2), &AtomicBool::new(false)).unwrap();
    for file in ["vehicles.csv", "trajectories.txt", "summary.json"] {
        assert!(std::fs::read(one.join(file)).unwrap() == std::fs::read(two.join(file)).unwrap(), "{file} differs");
    }
}

/// A trainer's rehearsal: hold the pedestrian phase, release it, switch plans, close the street.
fn rehearse(twin: &Twin, dir: &Path) -> (u32, u32) {
    let mut folder = FolderRun::start(twin, &request(dir, 5, 300.0, 2)).unwrap();
    let script = [
        (60.0, NamedCommand::HoldPhase { signal: "lights_signal".into(), phase: 3 }),
        (100.0, NamedCommand::ReleaseSignal("lights_signal".into())),
        (120.0, NamedCommand::SwitchPlan { signal: "lights_signal".into(), plan: "pedestrians_first".into() }),
        (200.0, NamedCommand::CloseStreet("main".into())),
    ];
    let (mut next, mut held_walk, mut spawned_at_close) = (0, 0, 0);
    while !folder.run().is_finished() {
        let now = folder.run().clock().now();
        while next < script.len() && script[next].0 <= now {
            unitwin::command::issue(folder.run().world_mut(), &script[next].1).unwrap();
            if next == 3 {
                spawned_at_close = folder.run().world().resource::<unitwin::traffic::TrafficStats>().spawned;
            }
            next += 1;
        }
        folder.run().step();
        let now = folder.run().clock().now();
        if (61.0..100.0).contains(&now) {
            let states = folder.run().world().resource::<SignalStates>();
            // Held in phase 3: pedestrians green, vehicles red.
            assert_eq!(states.heads[1].light, Light::Green, "t = {now}");
            assert_eq!(states.heads[0].light, Light::Red, "t = {now}");
            held_walk += 1;
        }
    }
    let spawned = folder.run().world().resource::<unitwin::traffic::TrafficStats>().spawned;
    folder.commit(twin).unwrap();
    assert!(held_walk > 0);
    (spawned_at_close, spawned)
}

#[test]
fn traffic_commands_act_and_replay_byte_for_byte() {
    let twin = twin(SHARED);
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let (at_close, total) = rehearse(&twin, &live);
    // Closing the street stops vehicles from coming (a vehicle already queued at the edge may
    // not enter either).
    assert_eq!(at_close, total, "no vehicle enters a closed street");
    let s = summary(&live);
    assert!(s["traffic"]["refused_closed_street"].as_u64().unwrap() > 0, "demand after closing is refused");
    assert_eq!(s["traffic"]["signals"][0]["plan"], "pedestrians_first");
    let log = std::fs::read_to_string(live.join("commands.ron")).unwrap();
    for needle in ["HoldPhase", "ReleaseSignal", "SwitchPlan", "CloseStreet"] {
        assert!(log.contains(needle), "commands.ron records {needle}:\n{log}");
    }
    let replayed = dir.path().join("replayed");
    let status = Process::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(manifest())
        .arg("run")
        .arg(path(SHARED))
        .args(["--seed", "5", "--until", "300", "--threads", "1", "--quiet", "--commands"])
        .arg(live.join("commands.ron"))
        .arg("--out")
        .arg(&replayed)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for file in ["vehicles.csv", "trajectories.txt", "summary.json", "commands.ron"] {
        assert!(
            std::fs::read(live.join(file)).unwrap() == std::fs::read(replayed.join(file)).unwrap(),
            "{file} differs in the replay"
        );
    }
}

#[test]
fn bad_traffic_input_is_refused_with_located_errors() {
    let cases = [
        (
            "flow on a missing street",
            r#"traffic: Traffic(flows: [Flow(id: "f", street: "nowhere", rate: [(0.0, 100.0)], mix: [(Car, 1.0)])]),"#,
            "there is no street 'nowhere'",
        ),
        (
            "NaN rate",
            r#"traffic: Traffic(flows: [Flow(id: "f", street: "main", rate: [(0.0, NaN)], mix: [(Car, 1.0)])]),"#,
            "rate must list",
        ),
        (
            "signal head on an unknown crossing",
            r#"signals: [Signal(id: "s", heads: [SignalHead(id: "h", crossings: ["nope"])], plans: [SignalPlan(id: "p", phases: [Phase(duration: 10.0, green: ["h"])])])],"#,
            "there is no crossing 'nope'",
        ),
        (
            "phase naming an unknown head",
            r#"signals: [Signal(id: "s", heads: [SignalHead(id: "h", crossings: ["lights"])], plans: [SignalPlan(id: "p", phases: [Phase(duration: 10.0, green: ["x"])])])],"#,
            "there is no head 'x'",
        ),
        ("signalised crossing without a head", "", "no signal head controls it"),
        (
            "parked car off the street",
            r#"traffic: Traffic(parked: [Parked(id: "p1", street: "main", at: 500.0)]),"#,
            "does not fit",
        ),
    ];
    for (what, insert, expected) in cases {
        let mut text = format!(
            "Scene(version: 1, unit: Unit(name: \"t\", kind: StreetShops, origin: (lat: 31.2, lon: 121.47)),\n\
             run: RunSettings(step: 0.05, duration: 10.0, seed: 1, output_interval: 1.0),\n\
             levels: [Level(id: \"street\", walkable: [])],\n\
             streets: [Street(id: \"main\", level: \"street\", centerline: [(0.0, 0.0), (60.0, 0.0)], carriageway: 7.0, sidewalks: (3.0, 3.0), lanes: 2,\n\
             crossings: [Crossing(id: \"lights\", at: 30.0, width: 4.0, signal: true)])],\n\
             {insert}\n\
             populations: [])\n"
        );
        if what != "signalised crossing without a head" && !insert.starts_with("signals") {
            text = text.replace(
                "populations: [])",
                "signals: [Signal(id: \"ok\", heads: [SignalHead(id: \"w\", crossings: [\"lights\"])], plans: [SignalPlan(id: \"p\", phases: [Phase(duration: 10.0, green: [\"w\"])])])],\npopulations: [])",
            );
        }
        let file = tempfile::Builder::new().suffix(".ron").tempfile().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let out = Process::new(env!("CARGO_BIN_EXE_unitwin")).arg("check").arg(file.path()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: exit 2, got {:?}\n{err}", out.status.code());
        assert!(err.contains(expected), "{what}: expected '{expected}' in:\n{err}");
        assert!(err.contains(".ron:"), "{what}: the error is located:\n{err}");
    }
}
