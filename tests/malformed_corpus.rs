//! Every file in tests/scenes/invalid/ goes through the release CLI, `unitwin check FILE` and
//! `unitwin run FILE`, each in about 3 GB of address space and under a 30 s wall-clock limit. Each
//! must be refused with exit status 2 (not 101, a panic, nor a signal) and the located message its
//! first line names (`// expect: LINE:COL: message fragment`), and `run` must create no output
//! folder. Files whose bytes are not plain UTF-8 text (a byte-order mark, Latin-1 or GBK bytes)
//! are named `*.ron.bytes`, so that tests/invalid_scenes.rs, which reads text, leaves them to this
//! test. Scenes too large to keep in the repository (rings, files and object counts over the
//! limits in src/scene/limits.rs) are generated here. The scenes in tests/scenes/accepted/ are edge
//! cases that must check clean: Chinese text in comments and strings, CRLF line endings, tabs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod bounded;

use unitwin::scene::limits::{MAX_FILE_BYTES, MAX_OBJECTS, MAX_RING_POINTS, MAX_TOTAL_POINTS};

/// Longest a single command may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Address space for each command, KiB (`ulimit -v`).
const ADDRESS_SPACE_KIB: u64 = 3_000_000;

/// One scene file and what it must give.
struct Case {
    path: PathBuf,
    /// `LINE:COL` and a fragment of the message; `None` for a scene that must be accepted.
    expect: Option<(String, String)>,
}

type Outcome = bounded::Bounded;

/// Runs the CLI with `args` under the address-space limit, killing it after [`TIMEOUT`].
fn unitwin(args: &[&std::ffi::OsStr]) -> Outcome {
    bounded::run_bounded(args, Path::new("."), ADDRESS_SPACE_KIB, TIMEOUT)
}

/// The `// expect: LINE:COL: message` line at the top of a malformed scene (after a byte-order mark).
fn expectation(path: &Path) -> (String, String) {
    let bytes = std::fs::read(path).unwrap();
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&bytes);
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let expect = first
        .trim_end_matches('\r')
        .strip_prefix("// expect: ")
        .unwrap_or_else(|| panic!("{}: first line is not `// expect: LINE:COL: message`", path.display()));
    let (pos, message) = expect.split_once(": ").expect("`LINE:COL: message`");
    (pos.to_string(), message.to_string())
}

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(&unitwin_manifest_dir()).join(dir);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// A small room whose `doors` line can be preceded by extra objects.
fn room(extra: &str) -> String {
    format!(
        "// expect: generated\nScene(\n    version: 1,\n    unit: Unit(name: \"Generated\", kind: Building, origin: (lat: 31.24, lon: 121.48)),\n    run: RunSettings(step: 0.05, duration: 60.0, seed: 1),\n    levels: [Level(id: \"floor\", walkable: [Area(id: \"room\", outer: [(0.0, 0.0), (10.0, 0.0), (10.0, 6.0), (0.0, 6.0)])])],\n{extra}    doors: [Door(id: \"exit\", level: \"floor\", at: (10.0, 3.0), width: 1.0)],\n    populations: [Population(id: \"people\", level: \"floor\", placement: Area(polygon: [(1.0, 1.0), (6.0, 1.0), (6.0, 5.0), (1.0, 5.0)], count: 20))],\n)\n"
    )
}

/// A ring of `n` corners on a circle of radius `r` around (x, y), as RON.
fn circle(n: usize, r: f64, x: f64, y: f64) -> String {
    let mut s = String::with_capacity(n * 24);
    s.push('[');
    for i in 0..n {
        let a = std::f64::consts::TAU * i as f64 / n as f64;
        s.push_str(&format!("({:.4},{:.4}),", x + r * a.cos(), y + r * a.sin()));
    }
    s.push(']');
    s
}

/// Scenes too large to keep in the repository: each is written to `dir` with its expectation.
fn generated(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, text: String, line: usize, col: usize, message: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        cases.push(Case { path, expect: Some((format!("{line}:{col}"), message.to_string())) });
    };
    // A zone whose outline has one corner more than a ring may have.
    let zone = format!(
        "    zones: [Zone(id: \"fine_outline\", level: \"floor\", polygon: {})],\n",
        circle(MAX_RING_POINTS + 1, 2.0, 5.0, 3.0)
    );
    add(
        "generated_ring_over_limit.ron",
        room(&zone),
        7,
        22,
        &format!("zone 'fine_outline': has {} points in one ring; at most {MAX_RING_POINTS}", MAX_RING_POINTS + 1),
    );
    // Rings each within the limit, more corners than the whole scene may have.
    let rings = MAX_TOTAL_POINTS / MAX_RING_POINTS + 1;
    let zones: String = (0..rings)
        .map(|k| {
            format!(
                "        Zone(id: \"z{k}\", level: \"floor\", polygon: {}),\n",
                circle(MAX_RING_POINTS, 0.5, 1.0 + (k % 8) as f64, 1.0 + (k / 8) as f64)
            )
        })
        .collect();
    add(
        "generated_total_points_over_limit.ron",
        room(&format!("    zones: [\n{zones}    ],\n")),
        6,
        5,
        &format!("the scene has {} points; at most {MAX_TOTAL_POINTS} are read", rings * MAX_RING_POINTS + 9),
    );
    // One object more than allowed, and as many objects as allowed each with a bad reference: the
    // messages must come quickly however many there are.
    let events: String =
        (0..=MAX_OBJECTS).map(|i| format!("        (at: {i}.0, action: CloseDoor(\"exit\")),\n")).collect();
    let mut text = room("");
    text.truncate(text.len() - 2);
    text.push_str(&format!("    events: [\n{events}    ],\n)\n"));
    add(
        "generated_too_many_events.ron",
        text,
        9,
        5,
        &format!("too many events: {} (at most {MAX_OBJECTS}", MAX_OBJECTS + 1),
    );
    let zones: String = (0..MAX_OBJECTS)
        .map(|i| {
            format!("        Zone(id: \"z{i}\", level: \"basement\", polygon: [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0)]),\n")
        })
        .collect();
    add(
        "generated_many_bad_references.ron",
        room(&format!("    zones: [\n{zones}    ],\n")),
        8,
        18,
        "zone 'z0': refers to level 'basement', which does not exist",
    );
    // A file over the size limit: a valid scene after a long comment.
    let mut text = String::from("// expect: generated\n");
    let line = format!("// {}\n", "padding ".repeat(12));
    while (text.len() as u64) <= MAX_FILE_BYTES {
        text.push_str(&line);
    }
    text.push_str(&room("")[21..]);
    add("generated_file_too_large.ron", text, 1, 1, &format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20));
    cases
}

/// What is wrong with one outcome of `unitwin check` or `unitwin run` on a malformed scene.
fn refusal_problem(what: &str, case: &Case, out: &Outcome) -> Option<String> {
    let (pos, message) = case.expect.as_ref().unwrap();
    let path = case.path.display();
    let located = format!("{path}:{pos}: error: ");
    let stderr = &out.stderr;
    if out.timed_out {
        return Some(format!("{what} {path}: still running after {TIMEOUT:?}; killed"));
    }
    if out.code != Some(2) {
        let code = out.code.map_or("a signal (abort, out of memory or a crash)".to_string(), |c| c.to_string());
        return Some(format!("{what} {path}: exit status {code}, expected 2; stderr:\n{stderr}"));
    }
    if stderr.contains("panicked") {
        return Some(format!("{what} {path}: panicked:\n{stderr}"));
    }
    // Each diagnostic runs from its `FILE:LINE:COL: error:` to the next one (or the summary).
    let next = format!("\n{path}:");
    let diagnostics: Vec<&str> = stderr
        .match_indices(&located)
        .map(|(start, _)| {
            let rest = &stderr[start..];
            rest.get(1..).and_then(|r| r.find(&next)).map_or(rest, |end| &rest[..end + 1])
        })
        .collect();
    let Some(diagnostic) = diagnostics.iter().find(|d| d.contains(message.as_str())) else {
        return Some(format!("{what} {path}: expected `{pos}: {message}`, got:\n{stderr}"));
    };
    if !diagnostic.contains("\n  help: ") {
        return Some(format!("{what} {path}: no `help:` line:\n{diagnostic}"));
    }
    None
}

/// Runs `check` and `run` on each case on two worker threads; returns problems and timings.
fn exercise(cases: &[Case], out_root: &Path) -> (Vec<String>, Vec<(Duration, String)>) {
    let next = Mutex::new(0usize);
    let problems = Mutex::new(Vec::new());
    let times = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases.get(i) else { break };
                    let name = case.path.file_name().unwrap().to_string_lossy().into_owned();
                    let check = unitwin(&["check".as_ref(), case.path.as_os_str()]);
                    times.lock().unwrap().push((check.took, format!("check {name}")));
                    match &case.expect {
                        Some(_) => {
                            let out_dir = out_root.join(format!("run-{i}"));
                            let run = unitwin(&[
                                "run".as_ref(),
                                case.path.as_os_str(),
                                "--until".as_ref(),
                                "5".as_ref(),
                                "--quiet".as_ref(),
                                "--out".as_ref(),
                                out_dir.as_os_str(),
                            ]);
                            times.lock().unwrap().push((run.took, format!("run {name}")));
                            let mut p = problems.lock().unwrap();
                            p.extend(refusal_problem("check", case, &check));
                            p.extend(refusal_problem("run", case, &run));
                            if out_dir.exists() {
                                p.push(format!("run {}: created {} for a refused scene", name, out_dir.display()));
                            }
                        }
                        None => {
                            if check.code != Some(0) || !check.stdout.starts_with("ok: ") {
                                problems.lock().unwrap().push(format!(
                                    "check {name}: expected to be accepted, got exit status {:?}:\n{}{}",
                                    check.code, check.stdout, check.stderr
                                ));
                            }
                        }
                    }
                }
            });
        }
    });
    (problems.into_inner().unwrap(), times.into_inner().unwrap())
}

#[test]
fn every_malformed_scene_is_refused_in_bounded_time_and_memory_and_edge_cases_are_accepted() {
    let started = Instant::now();
    let scratch = tempfile::tempdir().unwrap();
    let mut cases: Vec<Case> = files("tests/scenes/invalid")
        .into_iter()
        .map(|path| {
            let expect = expectation(&path);
            Case { path, expect: Some(expect) }
        })
        .collect();
    let committed = cases.len();
    assert!(committed >= 80, "only {committed} malformed scenes in tests/scenes/invalid");
    let gen_dir = scratch.path().join("generated");
    std::fs::create_dir(&gen_dir).unwrap();
    cases.extend(generated(&gen_dir));
    let accepted: Vec<Case> =
        files("tests/scenes/accepted").into_iter().map(|path| Case { path, expect: None }).collect();
    assert!(accepted.len() >= 3, "the accepted edge cases are missing");
    let all: Vec<Case> = cases.into_iter().chain(accepted).collect();
    let out_root = scratch.path().join("out");
    std::fs::create_dir(&out_root).unwrap();
    let (problems, mut times) = exercise(&all, &out_root);
    times.sort_by(|a, b| b.0.cmp(&a.0));
    let slowest: Vec<String> =
        times.iter().take(5).map(|(t, what)| format!("{:.2} s {what}", t.as_secs_f64())).collect();
    eprintln!(
        "malformed_corpus: {} files ({committed} committed, {} generated, {} accepted) in {:.1} s; slowest: {}",
        all.len(),
        all.len() - committed - all.iter().filter(|c| c.expect.is_none()).count(),
        all.iter().filter(|c| c.expect.is_none()).count(),
        started.elapsed().as_secs_f64(),
        slowest.join("; ")
    );
    assert!(problems.is_empty(), "{} problem(s):\n\n{}", problems.len(), problems.join("\n\n"));
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
