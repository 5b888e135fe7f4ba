//! `unitwin run` on a small room: the output files exist, parse, and agree with each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

const SCENE: &str = "tests/scenes/small_room.ron";

fn run(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(["run", SCENE, "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

struct Trajectories {
    framerate: f64,
    header: Vec<String>,
    /// frame → [(id, x, y, z)]
    frames: BTreeMap<u64, Vec<(u32, f64, f64, f64)>>,
}

fn parse_trajectories(path: &Path) -> Trajectories {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t = Trajectories { framerate: 0.0, header: Vec::new(), frames: BTreeMap::new() };
    let mut last_frame = 0;
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(rate) = comment.trim().strip_prefix("framerate:") {
                t.framerate = rate.trim().parse().unwrap();
            }
            t.header.push(line.to_string());
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 5, "line `{line}` should be `ID FRAME X Y Z`");
        let frame: u64 = f[1].parse().unwrap();
        assert!(frame >= last_frame, "frames out of order at `{line}`");
        last_frame = frame;
        t.frames.entry(frame).or_default().push((
            f[0].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        ));
    }
    t
}

#[test]
fn a_run_writes_consistent_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("room");
    let result = run(&out, &[]);
    assert!(result.status.success(), "run failed: {}", String::from_utf8_lossy(&result.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "commands.ron",
            "report.html",
            "report_cells.csv",
            "report_density.csv",
            "report_flows.csv",
            "report_hotspots.csv",
            "report_los.csv",
            "report_nt.csv",
            "run.ron",
            "summary.json",
            "trajectories.txt"
        ],
        "no temporary files may be left behind"
    );

    // PedPy's text format: a framerate line and a column header naming ID FRAME X Y Z in metres.
    let traj = parse_trajectories(&out.join("trajectories.txt"));
    assert_eq!(traj.framerate, 2.0);
    assert!(traj.header.iter().any(|h| {
        let cols: Vec<&str> = h.trim_start_matches('#').split_whitespace().collect();
        cols == ["ID", "FRAME", "X", "Y", "Z"]
    }));
    assert!(traj.header.iter().any(|h| h.contains("x/m")));

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let spawned = summary["agents"]["spawned"].as_u64().unwrap();
    assert_eq!(spawned, 20, "the scene places 20 agents");
    assert_eq!(summary["agents"]["exited"], 20);
    assert_eq!(summary["agents"]["on_site"], 0);
    assert_eq!(summary["everyone_left"], true);
    assert_eq!(summary["exits"]["exit"], 20);

    let ids: BTreeSet<u32> = traj.frames.values().flatten().map(|a| a.0).collect();
    assert_eq!(ids, (0..spawned as u32).collect(), "every spawned agent appears in the trajectories");

    // The timeline and the trajectory file tell the same story, frame by frame.
    let timeline = summary["timeline"].as_array().unwrap();
    assert!(timeline.len() as u64 > *traj.frames.keys().max().unwrap(), "a timeline row for every frame");
    for (frame, row) in timeline.iter().enumerate() {
        let on_site = row["on_site"].as_u64().unwrap();
        let present = traj.frames.get(&(frame as u64)).map_or(0, |f| f.len()) as u64;
        assert_eq!(present, on_site, "frame {frame}: {present} agents in trajectories, {on_site} on site in summary");
        assert_eq!(
            row["spawned"].as_u64().unwrap(),
            on_site + row["exited"].as_u64().unwrap(),
            "conservation at frame {frame}"
        );
        assert!((row["t"].as_f64().unwrap() - frame as f64 / traj.framerate).abs() < 1e-9);
        let agents = traj.frames.get(&(frame as u64)).cloned().unwrap_or_default();
        assert!(agents.windows(2).all(|w| w[0].0 < w[1].0), "agents ordered by id in frame {frame}");
        for (_, x, y, z) in agents {
            assert!(
                (0.0..=10.0).contains(&x) && (0.0..=6.0).contains(&y) && z == 0.0,
                "({x}, {y}) is outside the room"
            );
        }
    }
    // Nobody walks faster than the scene's speed cap of 2.0 m/s between frames.
    let mut last: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    for agents in traj.frames.values() {
        for &(id, x, y, _) in agents {
            if let Some(&(px, py)) = last.get(&id) {
                let speed = ((x - px).powi(2) + (y - py).powi(2)).sqrt() * traj.framerate;
                assert!(speed <= 2.0 + 1e-3, "agent {id} moved at {speed:.2} m/s");
            }
            last.insert(id, (x, y));
        }
    }
    // The last agent leaves after the last frame that shows anyone, and before the next.
    let evacuation = summary["evacuation_time"].as_f64().unwrap();
    let last_seen =
        traj.frames.iter().filter(|(_, a)| !a.is_empty()).map(|(f, _)| *f).max().unwrap() as f64 / traj.framerate;
    assert!(evacuation > last_seen && evacuation <= last_seen + 1.0 / traj.framerate + 1e-9);

    let record = std::fs::read_to_string(out.join("run.ron")).unwrap();
    let hash: String = Sha256::digest(std::fs::read(Path::new(&unitwin_manifest_dir()).join(SCENE)).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(record.contains(&format!("scene_sha256: \"{hash}\"")), "{record}");
    assert!(
        record.contains("seed: 3,") && record.contains(&format!("unitwin_version: \"{}\"", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn an_existing_output_folder_is_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("room");
    assert!(run(&out, &[]).status.success());
    std::fs::write(out.join("summary.json"), "keep me").unwrap();

    let again = run(&out, &["--seed", "4"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "keep me");

    let forced = run(&out, &["--seed", "4", "--force"]);
    assert!(forced.status.success());
    assert!(std::fs::read_to_string(out.join("summary.json")).unwrap().contains("\"seed\": 4"));
}

#[test]
fn until_shortens_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("short");
    assert!(run(&out, &["--until", "2"]).status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["simulated_time"], 2.0);
    assert_eq!(summary["everyone_left"], false);
    assert!(summary["evacuation_time"].is_null());
    assert_eq!(summary["agents"]["on_site"], 20, "nobody can walk out of the room in 2 s");
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// A run with nobody in it (vehicles only) says so, on the console and in the report, instead of
/// reporting that not everyone left.
#[test]
fn a_run_without_pedestrians_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ring");
    let o = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(["run", "tests/scenes/traffic/ring.ron", "--quiet", "--until", "5", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("no pedestrians in this run"), "{said}");
    assert!(!said.contains("not everyone left"), "{said}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("no pedestrians in this run") && !report.contains("not everyone left"));
}
