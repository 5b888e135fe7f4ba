//! `unitwin bench --scene hall`: the benchmark of a packed crowd queueing at narrow exits times
//! what it says it times, a wrong scene name is refused, and the JuPedSim comparison's scenes check.

use std::process::Command;

use unitwin::bench::{BenchScene, HALL_DENSITY, HALL_EXIT_WIDTH, bench_scene};
use unitwin::scene::format::Placement;

fn unitwin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unitwin")).args(args).output().unwrap()
}

#[test]
fn the_hall_is_packed_and_its_exits_are_narrow() {
    let scene = bench_scene(BenchScene::Hall, 3000, 10.0);
    let Placement::Area { polygon, count } = &scene.populations[0].placement else { panic!("an area placement") };
    let side = polygon[1][0] - polygon[0][0];
    let density = *count as f64 / (side * side);
    // Packed: within a person per 10 m² of the stated density, never above it.
    assert!((HALL_DENSITY - 0.1..=HALL_DENSITY).contains(&density), "{count} people on {side} m × {side} m");
    assert_eq!(scene.doors.len(), 4);
    assert!(scene.doors.iter().all(|d| d.width == HALL_EXIT_WIDTH && d.exit && d.open));
}

#[test]
fn bench_hall_times_a_crowd_that_queues() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("hall.json");
    let out =
        unitwin(&["bench", "--scene", "hall", "--agents", "300", "--seconds", "5", "--json", json.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("hall packed at 3 persons/m²"), "{stdout}");
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = results.as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert_eq!(r["scene"], "hall");
        assert_eq!(r["agents"], 300);
        assert_eq!(r["steps"], 100);
        // A queue, not a walk-out: four 1.2 m exits pass at most 1.9 persons/(m·s) each
        // (Seyfried et al. 2009), about 46 people in 5 s; allow half again for short doors.
        let left = 300 - r["agents_at_end"].as_u64().unwrap();
        assert!(left as f64 <= 1.5 * 4.0 * 1.9 * HALL_EXIT_WIDTH * 5.0, "{left} left the hall in 5 s");
        let steps = r["agent_steps"].as_u64().unwrap();
        assert!(steps > 100 * (300 - left) && steps <= 100 * 300, "{steps} agent-steps");
    }
}

#[test]
fn an_unknown_bench_scene_is_refused() {
    let out = unitwin(&["bench", "--scene", "stadium", "--agents", "10"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stadium") && stderr.contains("plaza") && stderr.contains("hall"), "{stderr}");
}

#[test]
fn the_jupedsim_side_by_side_scenes_check() {
    // tools/jupedsim/side_by_side.py times these against JuPedSim; they must stay valid scenes.
    for (scene, people) in [("tools/jupedsim/bottleneck_300.ron", 300), ("tools/jupedsim/hall_3000.ron", 3000)] {
        let path = format!("{}/{scene}", env!("CARGO_MANIFEST_DIR"));
        let out = unitwin(&["check", &path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{scene}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("{people} agents placed")), "{stdout}");
    }
}
