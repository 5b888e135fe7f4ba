//! A run commits its files as one unit: `--force` replaces an earlier run whole and never anything
//! else; stale temporaries of killed runs are cleaned; Ctrl-C stops within a second and writes
//! nothing; a killed run leaves the earlier run as it was.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HALL: &str = "scenes/demo_hall.ron";
/// A run long enough to interrupt (the holiday afternoon takes minutes).
const LONG: &str = "scenes/tianzifang.ron";

fn unitwin(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn spawn(args: &[&str], out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every entry of a folder with its bytes, sorted.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Entries of `parent` that are hidden unitwin temporaries.
fn temporaries(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".unitwin-"))
        .collect()
}

/// Waits until the run has started writing (its staging folder exists), at most 60 s.
fn wait_for_staging(parent: &Path, child: &mut Child) {
    let started = Instant::now();
    while temporaries(parent).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it started writing");
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn force_replaces_a_run_folder_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hall");
    assert!(unitwin(&["run", HALL, "--quiet", "--seed", "3"], &out).status.success());
    let refused = unitwin(&["run", HALL, "--quiet", "--seed", "4"], &out);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));
    assert!(unitwin(&["run", HALL, "--quiet", "--seed", "4", "--force"], &out).status.success());
    let fresh = dir.path().join("fresh");
    assert!(unitwin(&["run", HALL, "--quiet", "--seed", "4"], &fresh).status.success());
    let (a, b) = (contents(&out), contents(&fresh));
    assert_eq!(a.iter().map(|f| &f.0).collect::<Vec<_>>(), b.iter().map(|f| &f.0).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        if name != "run.ron" {
            assert!(x == y, "{name}: the forced run must equal a fresh run of seed 4");
        }
    }
    assert!(temporaries(dir.path()).is_empty(), "nothing left beside the folder");
}

#[test]
fn a_folder_that_is_not_a_run_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("notes");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("minutes.txt"), "keep me").unwrap();
    let o = unitwin(&["run", HALL, "--quiet", "--force"], &out);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a unitwin run folder"));
    assert_eq!(std::fs::read_to_string(out.join("minutes.txt")).unwrap(), "keep me");
    // A run folder someone added a file to is not one any more.
    let run = dir.path().join("run");
    assert!(unitwin(&["run", HALL, "--quiet"], &run).status.success());
    std::fs::write(run.join("my-analysis.csv"), "x").unwrap();
    assert_eq!(unitwin(&["run", HALL, "--quiet", "--force"], &run).status.code(), Some(1));
    assert!(run.join("my-analysis.csv").exists());
}

#[test]
fn stale_temporaries_of_killed_runs_are_cleaned_and_block_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hall");
    // Left by a process that no longer exists (pids this large are never handed out).
    for role in ["tmp", "old"] {
        let stale = dir.path().join(format!(".hall.unitwin-{role}-4194000"));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("trajectories.txt"), "half a run").unwrap();
    }
    assert!(unitwin(&["run", HALL, "--quiet"], &out).status.success());
    assert!(temporaries(dir.path()).is_empty(), "stale temporaries removed: {:?}", temporaries(dir.path()));
    // trajectories, summary, run record, commands, and the report with its six CSVs.
    assert_eq!(contents(&out).len(), 4 + unitwin::report::REPORT_FILES.len());
}

/// An earlier run in `dir/lanes`, its contents, and a long run over it (`--force`) that has started writing.
fn long_run_over_an_earlier_one(dir: &Path) -> (PathBuf, Vec<(String, Vec<u8>)>, Child) {
    let out = dir.join("lanes");
    assert!(unitwin(&["run", LONG, "--quiet", "--until", "5"], &out).status.success());
    let before = contents(&out);
    let mut child = spawn(&["run", LONG, "--quiet", "--force"], &out);
    wait_for_staging(dir, &mut child);
    (out, before, child)
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_within_a_second_and_leaves_the_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let (out, before, mut child) = long_run_over_an_earlier_one(dir.path());
    assert!(child.try_wait().unwrap().is_none(), "the run is still going");
    let sent = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_timeout(&mut child, Duration::from_secs(5)).expect("the run stops after Ctrl-C");
    let took = sent.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(1), "stopped after {took:?}");
    assert!(stderr.contains("interrupted at t ="), "says where it stopped: {stderr}");
    assert!(contents(&out) == before, "the earlier run is untouched");
    assert!(temporaries(dir.path()).is_empty(), "and nothing else is left: {:?}", temporaries(dir.path()));
}

#[cfg(unix)]
#[test]
fn a_killed_run_leaves_the_earlier_run_and_the_next_run_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let (out, before, mut child) = long_run_over_an_earlier_one(dir.path());
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    assert!(contents(&out) == before, "a killed run never touches the earlier run");
    assert_eq!(temporaries(dir.path()).len(), 1, "it leaves its staging folder");
    assert!(unitwin(&["run", LONG, "--quiet", "--until", "5", "--force"], &out).status.success());
    assert!(temporaries(dir.path()).is_empty(), "the next run removes it");
}

#[test]
fn bad_run_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (vec!["run", HALL, "--threads", "100000"], "--threads must be between 1 and 256"),
        (vec!["run", HALL, "--threads", "0"], "--threads must be between 1 and 256"),
        (vec!["run", HALL, "--until", "NaN"], "--until must be a positive number"),
        (vec!["run", HALL, "--until", "1e300"], "--until must be a positive number"),
    ] {
        let o = unitwin(&args, &dir.path().join("x"));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    assert!(!dir.path().join("x").exists());
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
