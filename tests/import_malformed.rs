//! Malformed and extreme GIS input: every file in tests/malformed/gis/ goes through the
//! `unitwin import` binary under a 4 GB address-space limit and a 20 s wall-clock limit, and must
//! be refused with exit status 2, a located message (`FILE:LINE:COL: error:`, or the feature's
//! name for problems found after parsing), the fragment its `.expect` file names, no panic, and
//! nothing written. Also: a valid 100,000-vertex polygon imports in seconds, and a 100,000-corner
//! jagged one is refused in seconds.
//!
//! A corpus file `NAME.geojson` or `NAME.osm` has a sidecar `NAME.geojson.expect` /
//! `NAME.osm.expect` of `key: value` lines:
//! - `at: LINE:COL` — stderr must contain `FILE:LINE:COL: error:`;
//! - `object: NAME` — stderr must contain `error: NAME: ` or (for a file-level message) `NAME`;
//! - `message: TEXT` — stderr must contain TEXT (one or more lines);
//! - `status: 0` — the input is odd but usable (e.g. a road with `lanes=abc`): the import must
//!   succeed, write a scene that `unitwin check` accepts, and record `object` and each `message`
//!   in the written scene or its summary (a default taken, with a note, rather than a refusal).
//!
//! At least one of `at` and `object` is required.

mod bounded;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn corpus_dir() -> PathBuf {
    Path::new(&unitwin_manifest_dir()).join("tests/malformed/gis")
}

/// Address-space limit for the importer, KiB (4 GB).
const ULIMIT_V_KIB: u64 = 4_000_000;
/// Wall-clock limit for one import.
const TIMEOUT: Duration = Duration::from_secs(20);

type Run = bounded::Bounded;

/// Runs `unitwin ARGS` under `ulimit -v` in `dir`, killing it after `TIMEOUT`.
fn run_limited(args: &[&str], dir: &Path) -> Run {
    bounded::run_bounded(args, dir, ULIMIT_V_KIB, TIMEOUT)
}

#[derive(Debug, Default)]
struct Expect {
    at: Option<String>,
    object: Option<String>,
    messages: Vec<String>,
    /// The exit status expected: 2 (refused, the default) or 0 (imported with notes).
    status: i32,
}

fn read_expect(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut e = Expect { status: 2, ..Expect::default() };
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once(": ").unwrap_or_else(|| panic!("{}: bad line '{line}'", path.display()));
        match key {
            "at" => e.at = Some(value.to_string()),
            "object" => e.object = Some(value.to_string()),
            "message" => e.messages.push(value.to_string()),
            "status" => e.status = value.parse().unwrap_or_else(|_| panic!("{}: bad status '{value}'", path.display())),
            other => panic!("{}: unknown key '{other}'", path.display()),
        }
    }
    assert!(e.at.is_some() || e.object.is_some(), "{}: needs `at` or `object`", path.display());
    assert!(!e.messages.is_empty(), "{}: needs a `message`", path.display());
    assert!(matches!(e.status, 0 | 2), "{}: status must be 0 or 2", path.display());
    e
}

/// The corpus files, sorted, with their format.
fn corpus() -> Vec<(PathBuf, &'static str)> {
    let mut files: Vec<(PathBuf, &'static str)> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| match p.extension().and_then(|e| e.to_str()) {
            Some("geojson") => Some((p, "geojson")),
            Some("osm") => Some((p, "osm")),
            _ => None,
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_complete() {
    let files = corpus();
    let (geojson, osm) =
        (files.iter().filter(|f| f.1 == "geojson").count(), files.iter().filter(|f| f.1 == "osm").count());
    println!("{} corpus files: {geojson} GeoJSON, {osm} OSM", files.len());
    assert!(files.len() >= 30, "at least 30 malformed inputs");
    assert!(geojson >= 10 && osm >= 10);
    for (file, _) in &files {
        let expect = PathBuf::from(format!("{}.expect", file.display()));
        assert!(expect.exists(), "{} has no {}", file.display(), expect.display());
        read_expect(&expect);
    }
    // Every .expect belongs to a corpus file.
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let p = entry.unwrap().path();
        if let Some(name) = p.to_str().and_then(|s| s.strip_suffix(".expect")) {
            assert!(Path::new(name).exists(), "{} has no corpus file", p.display());
        }
    }
}

#[test]
fn every_malformed_file_is_refused_located_in_bounded_time_and_memory() {
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for (file, kind) in corpus() {
        let expect = read_expect(Path::new(&format!("{}.expect", file.display())));
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x.ron");
        let file_arg = file.to_str().unwrap();
        let args = ["import", kind, file_arg, "--origin", "31.24,121.48", "--out", out.to_str().unwrap()];
        let run = run_limited(&args, tmp.path());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if run.took > slowest.0 {
            slowest = (run.took, name.clone());
        }
        let mut problems = Vec::new();
        if run.timed_out {
            problems.push(format!("still running after {TIMEOUT:?}: killed"));
        }
        if expect.status == 0 {
            problems.extend(imported_with_notes(&run, &expect, &out, tmp.path()));
            println!(
                "{name}: {:?} in {:.0} ms: {}",
                run.code,
                run.took.as_secs_f64() * 1000.0,
                first_line(&run.stdout)
            );
            if !problems.is_empty() {
                failures.push(format!(
                    "{name}: {}\n--- stdout:\n{}\n--- stderr:\n{}",
                    problems.join("; "),
                    run.stdout,
                    run.stderr
                ));
            }
            continue;
        }
        if run.code != Some(2) {
            problems.push(format!("exit status {:?}, expected 2", run.code));
        }
        if run.stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if let Some(at) = &expect.at {
            let located = format!("{file_arg}:{at}: error:");
            if !run.stderr.contains(&located) {
                problems.push(format!("no '{located}'"));
            }
        }
        if let Some(object) = &expect.object
            && !run.stderr.contains(&format!("error: {object}: "))
            && !run.stderr.contains(&format!(": {object}: "))
            && !run.stderr.contains(object.as_str())
        {
            problems.push(format!("does not name '{object}'"));
        }
        for m in &expect.messages {
            if !run.stderr.contains(m.as_str()) {
                problems.push(format!("no '{m}'"));
            }
        }
        if !run.stderr.contains("help: ") {
            problems.push("no hint".into());
        }
        if !run.stderr.contains("nothing written") {
            problems.push("does not say 'nothing written'".into());
        }
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        if out.exists() || !left.is_empty() {
            problems.push(format!("wrote {} file(s)", left.len()));
        }
        if !run.stdout.is_empty() {
            problems.push(format!("printed on stdout: {}", run.stdout));
        }
        println!("{name}: {:?} in {:.0} ms: {}", run.code, run.took.as_secs_f64() * 1000.0, first_line(&run.stderr));
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n--- stderr:\n{}", problems.join("; "), run.stderr));
        }
    }
    println!("slowest: {} ({:.0} ms)", slowest.1, slowest.0.as_secs_f64() * 1000.0);
    assert!(failures.is_empty(), "{} corpus file(s) not handled as expected:\n{}", failures.len(), failures.join("\n"));
}

/// Problems with a corpus file that must import (`status: 0`): it imports, the scene checks, and
/// the object and messages are in the scene (its notes) or the summary.
fn imported_with_notes(run: &Run, expect: &Expect, out: &Path, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    if run.code != Some(0) {
        problems.push(format!("exit status {:?}, expected 0", run.code));
    }
    if run.stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    let scene = std::fs::read_to_string(out).unwrap_or_default();
    if scene.is_empty() {
        problems.push("no scene written".into());
        return problems;
    }
    let all = format!("{}\n{}", run.stdout, scene);
    for m in expect.messages.iter().chain(&expect.object) {
        if !all.contains(m.as_str()) {
            problems.push(format!("no '{m}' in the scene or the summary"));
        }
    }
    let check = Command::new(env!("CARGO_BIN_EXE_unitwin")).arg("check").arg(out).current_dir(dir).output().unwrap();
    if !check.status.success() {
        problems.push(format!("the scene does not check: {}", String::from_utf8_lossy(&check.stderr)));
    }
    problems
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

// ---- Large inputs ------------------------------------------------------------------------

/// Degrees per metre at the corpus origin, near enough for making test files.
const ORIGIN: (f64, f64) = (31.24, 121.48);

fn lon_lat(x: f64, y: f64) -> (f64, f64) {
    let p = unitwin::import::Projection::new(unitwin::scene::LatLon { lat: ORIGIN.0, lon: ORIGIN.1 });
    let q = p.to_wgs84([x, y]);
    (q.lon, q.lat)
}

/// A GeoJSON file with one walkable polygon of `n` corners, radius `r(i)` at corner `i`.
fn polygon_file(dir: &Path, name: &str, n: usize, r: impl Fn(usize) -> f64) -> PathBuf {
    let mut coords = String::with_capacity(n * 40);
    for i in 0..=n {
        let k = i % n;
        let a = std::f64::consts::TAU * k as f64 / n as f64;
        let (lon, lat) = lon_lat(r(k) * a.cos(), r(k) * a.sin());
        if i > 0 {
            coords.push(',');
        }
        coords += &format!("[{lon:.9},{lat:.9}]");
    }
    let text = format!(
        r#"{{"type": "FeatureCollection", "features": [
  {{"type": "Feature", "id": "{name}", "properties": {{"unitwin": "walkable"}}, "geometry": {{"type": "Polygon", "coordinates": [[{coords}]]}}}}
]}}
"#
    );
    let path = dir.join(format!("{name}.geojson"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_100000_vertex_polygon_imports_in_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = polygon_file(tmp.path(), "round", 100_000, |_| 200.0);
    let args = ["import", "geojson", file.to_str().unwrap(), "--origin", "31.24,121.48", "--out", "round.ron"];
    let run = run_limited(&args, tmp.path());
    println!("100,000-vertex circle: {:?} in {:.2} s\n{}{}", run.code, run.took.as_secs_f64(), run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(15), "took {:?}", run.took);
    // The written scene checks.
    let check = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["check", "round.ron"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn a_100000_corner_jagged_polygon_is_refused_in_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    // Every other corner 5 m further out: nothing to simplify away.
    let file = polygon_file(tmp.path(), "jagged", 100_000, |i| if i % 2 == 0 { 200.0 } else { 205.0 });
    let args = ["import", "geojson", file.to_str().unwrap(), "--origin", "31.24,121.48", "--out", "jagged.ron"];
    let run = run_limited(&args, tmp.path());
    println!("100,000-corner jagged polygon: {:?} in {:.2} s\n{}", run.code, run.took.as_secs_f64(), run.stderr);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("features[0] (id 'jagged'): its outline has 100000 corners once cleaned"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("help: simplify the outline"));
    assert!(run.took < Duration::from_secs(15), "took {:?}", run.took);
    assert!(!tmp.path().join("jagged.ron").exists());
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
