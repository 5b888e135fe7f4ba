//! `unitwin batch` and `unitwin merge` through the binary: a batch of 2 variants × 3 seeds checked
//! against `unitwin run` and against the textbook t interval computed here from each run's
//! summary.json; --jobs-independent output; resuming after kill -9 without losing or repeating a
//! run; shards merging to the unsharded comparison byte for byte; refusals and located errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const ROOM: &str = include_str!("scenes/batch/room.ron");
const MANIFEST: &str = include_str!("scenes/batch/two_variants.ron");
const RUN_FILES: [&str; 4] = ["trajectories.txt", "summary.json", "run.ron", "commands.ron"];

/// A scratch folder holding the test room and the two-variant manifest.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("room.ron"), ROOM).unwrap();
    std::fs::write(dir.path().join("m.ron"), MANIFEST).unwrap();
    dir
}

fn unitwin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitwin")).current_dir(dir).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(run.join("summary.json"))).unwrap()
}

/// compare.csv as (scene, figure, variant) → column → text.
fn compare_csv(dir: &Path) -> BTreeMap<(String, String, String), BTreeMap<String, String>> {
    let text = String::from_utf8(read(dir.join("compare.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut rows = BTreeMap::new();
    for line in lines {
        // Labels may be quoted (they contain commas); the columns used here never are.
        let fields = split_csv(line);
        assert_eq!(fields.len(), header.len(), "{line}");
        let row: BTreeMap<String, String> = header.iter().map(|h| h.to_string()).zip(fields).collect();
        rows.insert((row["scene"].clone(), row["figure"].clone(), row["variant"].clone()), row);
    }
    rows
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn num(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("{column} = '{}'", row[column]))
}

/// The textbook 95 % interval: mean ± t(0.975, n − 1) · s / √n, with t(0.975, 2) = 4.303 (any
/// table of Student's t distribution).
fn textbook(values: &[f64]) -> (f64, f64, f64) {
    assert_eq!(values.len(), 3, "the tables here know n = 3 only");
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let s = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = 4.303 * s / n.sqrt();
    (mean, mean - half, mean + half)
}

/// Seconds with more than 4 persons/m² in a 1 m disc around some agent, by brute force over
/// every pair of each frame of trajectories.txt.
fn time_above_4(trajectories: &Path) -> f64 {
    let text = String::from_utf8(read(trajectories)).unwrap();
    let rate: f64 = text.lines().find_map(|l| l.strip_prefix("#framerate:")).unwrap().trim().parse().unwrap();
    let mut frames: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let c: Vec<f64> = line.split_whitespace().map(|v| v.parse().unwrap()).collect();
        frames.entry(c[1] as i64).or_default().push((c[2], c[3]));
    }
    let dense = frames
        .values()
        .filter(|agents| {
            agents.iter().any(|a| {
                let n = agents.iter().filter(|b| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2) <= 1.0).count();
                n as f64 / std::f64::consts::PI > 4.0
            })
        })
        .count();
    dense as f64 / rate
}

const VARIANTS: [&str; 2] = ["open", "east_closed"];
const SEEDS: [u64; 3] = [1, 2, 3];

#[test]
fn two_variants_three_seeds_match_unitwin_run_and_the_textbook_interval() {
    let ws = workspace();
    let dir = ws.path();
    let stdout = ok(&unitwin(dir, &["batch", "m.ron", "--out", "b", "--jobs", "2", "--quiet"]));
    assert!(stdout.contains("6 runs: 0 already finished, 6 run now"), "{stdout}");
    let batch = dir.join("b");

    // Every run folder holds what `unitwin run` writes, and the baseline's runs are byte for byte
    // the runs of `unitwin run` with the same scene and seed.
    for variant in VARIANTS {
        for seed in SEEDS {
            let run = batch.join("room").join(variant).join(format!("seed{seed}"));
            for file in RUN_FILES {
                assert!(run.join(file).is_file(), "{}/{file}", run.display());
            }
        }
    }
    let single = dir.join("single");
    ok(&unitwin(dir, &["run", "room.ron", "--seed", "2", "--out", "single", "--quiet"]));
    for file in RUN_FILES {
        assert_eq!(read(single.join(file)), read(batch.join("room/open/seed2").join(file)), "{file}");
    }
    // The variant runs from its own scene file, which repeats it with `unitwin run`.
    let variant_scene = batch.join("room/east_closed/scene.ron");
    let record = String::from_utf8(read(batch.join("room/east_closed/seed1/run.ron"))).unwrap();
    assert!(record.contains("b/room/east_closed/scene.ron"), "{record}");
    assert!(String::from_utf8(read(&variant_scene)).unwrap().contains("open: false"));

    // The comparison against the per-run summaries, by the textbook formulas.
    let rows = compare_csv(&batch);
    let figure = |variant: &str, get: &dyn Fn(&Path) -> f64| -> Vec<f64> {
        SEEDS.iter().map(|s| get(&batch.join("room").join(variant).join(format!("seed{s}")))).collect()
    };
    let evacuation = |run: &Path| summary(run)["evacuation_time"].as_f64().unwrap();
    let peak = |run: &Path| summary(run)["peak_density"]["density"].as_f64().unwrap();
    let above = |run: &Path| time_above_4(&run.join("trajectories.txt"));
    let crossings = |run: &Path| {
        let line = &summary(run)["lines"][0];
        line["left_to_right"].as_f64().unwrap() + line["right_to_left"].as_f64().unwrap()
    };
    type Reader<'a> = &'a dyn Fn(&Path) -> f64;
    let figures: [(&str, Reader); 4] = [
        ("evacuation_time", &evacuation),
        ("peak_density", &peak),
        ("time_above_4", &above),
        ("line:before_east:crossings", &crossings),
    ];
    let mut dense_somewhere = false;
    for (key, get) in figures {
        let base = figure("open", get);
        for variant in VARIANTS {
            let values = figure(variant, get);
            let row = &rows[&("room".to_string(), key.to_string(), variant.to_string())];
            let (mean, low, high) = textbook(&values);
            assert_eq!(row["n"], "3");
            for (column, expected) in [("mean", mean), ("ci95_low", low), ("ci95_high", high)] {
                assert!((num(row, column) - expected).abs() < 1e-5, "{key} {variant} {column}: {row:?} vs {expected}");
            }
            if variant != "open" {
                // Paired by seed: the interval of the mean of the per-seed differences.
                let d: Vec<f64> = values.iter().zip(&base).map(|(v, b)| v - b).collect();
                let (mean, low, high) = textbook(&d);
                for (column, expected) in [("diff_mean", mean), ("diff_ci95_low", low), ("diff_ci95_high", high)] {
                    assert!((num(row, column) - expected).abs() < 1e-5, "{key} {variant} {column}: {row:?}");
                }
            } else {
                assert_eq!(row["diff_mean"], "");
                assert_eq!(row["baseline"], "true");
            }
            if key == "time_above_4" {
                dense_somewhere |= values.iter().any(|v| *v > 0.0);
            }
        }
    }
    assert!(dense_somewhere, "the closed exit should crowd the room past 4 persons/m² at some time");
    let html = String::from_utf8(read(batch.join("compare.html"))).unwrap();
    assert!(html.contains("<svg"), "inline charts");
    assert!(
        !html.contains("<script") && !html.contains("src=") && !html.contains("<link"),
        "self-contained, no network"
    );

    // The same manifest with one job at a time gives the same comparison, byte for byte.
    ok(&unitwin(dir, &["batch", "m.ron", "--out", "one", "--jobs", "1", "--quiet"]));
    for file in ["compare.csv", "compare.html"] {
        assert_eq!(read(batch.join(file)), read(dir.join("one").join(file)), "{file} depends on --jobs");
    }
    // Running a finished batch again runs nothing and writes the same comparison.
    let stdout = ok(&unitwin(dir, &["batch", "m.ron", "--out", "b", "--quiet"]));
    assert!(stdout.contains("6 already finished, 0 run now"), "{stdout}");
    assert_eq!(read(batch.join("compare.csv")), read(dir.join("one/compare.csv")));
}

/// Lines `finished <run>` of a batch log.
fn finished_lines(batch: &Path) -> Vec<String> {
    let log = String::from_utf8(std::fs::read(batch.join("batch.log")).unwrap_or_default()).unwrap();
    log.lines().filter_map(|l| l.strip_prefix("finished ")).map(|l| l.split(':').next().unwrap().to_string()).collect()
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_killed_batch_resumes_without_losing_or_repeating_runs() {
    let ws = workspace();
    let dir = ws.path();
    // Runs of about two seconds each, so that the batch can be killed between runs.
    let hall = ROOM
        .replace("(12.0, 0.0), (12.0, 8.0)", "(30.0, 0.0), (30.0, 20.0)")
        .replace("(0.0, 8.0)", "(0.0, 20.0)")
        .replace("at: (12.0, 4.0)", "at: (30.0, 10.0)")
        .replace("at: (0.0, 4.0)", "at: (0.0, 10.0)")
        .replace(
            "[(3.0, 1.0), (10.0, 1.0), (10.0, 7.0), (3.0, 7.0)], count: 80",
            "[(2.0, 2.0), (28.0, 2.0), (28.0, 18.0), (2.0, 18.0)], count: 800",
        );
    std::fs::write(dir.join("room.ron"), hall).unwrap();
    std::fs::write(dir.join("m.ron"), MANIFEST.replace("seeds: [1, 2, 3],", "seeds: [1, 2, 3],\n    until: 20.0,"))
        .unwrap();
    let batch = dir.join("b");
    let mut child = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(dir)
        .args(["batch", "m.ron", "--out", "b", "--jobs", "1", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while finished_lines(&batch).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(120), "no run finished in 2 minutes");
        assert!(child.try_wait().unwrap().is_none(), "the batch ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let before = finished_lines(&batch);
    assert!(!before.is_empty() && before.len() < 6, "{before:?}");
    let kept: Vec<(PathBuf, SystemTime)> = before
        .iter()
        .map(|name| {
            let summary = batch.join(name).join("summary.json");
            let t = modified(&summary);
            (summary, t)
        })
        .collect();
    // What a run killed mid-write leaves: a staging folder of a dead process, half written; and a
    // run folder holding only part of a run's files (as a careless copy would leave it).
    let half_staging = batch.join("room/east_closed/.seed3.unitwin-tmp-999999999");
    std::fs::create_dir_all(&half_staging).unwrap();
    std::fs::write(half_staging.join("trajectories.txt"), "#framerate: 2\n# ID FRAME X Y Z\n1 0 1.0 1.0").unwrap();
    let half_run = batch.join("room/east_closed/seed2");
    std::fs::create_dir_all(&half_run).unwrap();
    std::fs::write(half_run.join("trajectories.txt"), "#framerate: 2\n").unwrap();
    std::fs::write(half_run.join("summary.json"), "{\"evacuation_time\": 1.0").unwrap();

    let stdout = ok(&unitwin(dir, &["batch", "m.ron", "--out", "b", "--jobs", "2", "--quiet"]));
    assert!(stdout.contains(&format!("{} already finished, {} run now", before.len(), 6 - before.len())), "{stdout}");
    // Nothing lost: the runs finished before the kill are untouched.
    for (summary, t) in kept {
        assert_eq!(modified(&summary), t, "{} was rewritten", summary.display());
    }
    // Nothing run twice: every run finished exactly once over both invocations.
    let mut all = finished_lines(&batch);
    all.sort();
    let mut expected: Vec<String> =
        VARIANTS.iter().flat_map(|v| SEEDS.iter().map(move |s| format!("room/{v}/seed{s}"))).collect();
    expected.sort();
    assert_eq!(all, expected);
    // Nothing half-written taken: the planted folders were made again, whole.
    assert!(!half_staging.exists(), "the dead run's staging folder is cleaned up");
    assert!(summary(&half_run)["agents"]["spawned"].as_u64().unwrap() > 0);
    let rows = compare_csv(&batch);
    assert_eq!(rows[&("room".into(), "peak_density".into(), "east_closed".into())]["n"], "3");
}

#[test]
fn shards_merge_to_the_unsharded_comparison_and_mismatches_are_refused() {
    let ws = workspace();
    let dir = ws.path();
    ok(&unitwin(dir, &["batch", "m.ron", "--out", "whole", "--quiet"]));
    let mut shard_runs = Vec::new();
    for i in 0..3 {
        let out = format!("s{i}");
        let stdout = ok(&unitwin(dir, &["batch", "m.ron", "--out", &out, "--shard", &format!("{i}/3"), "--quiet"]));
        assert!(stdout.contains("2 runs"), "{stdout}");
        assert!(!dir.join(&out).join("compare.csv").exists(), "a shard alone writes no comparison");
        for v in VARIANTS {
            for s in SEEDS {
                if dir.join(&out).join(format!("room/{v}/seed{s}/run.ron")).exists() {
                    shard_runs.push(format!("{v}/{s}"));
                }
            }
        }
    }
    shard_runs.sort();
    assert_eq!(shard_runs.len(), 6, "the shards split the runs without overlap: {shard_runs:?}");
    shard_runs.dedup();
    assert_eq!(shard_runs.len(), 6);

    // A shard missing: refused, naming what is missing.
    let out = unitwin(dir, &["merge", "s0", "s2", "--out", "merged"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 of 6 runs are missing: room/open/seed2, room/east_closed/seed2"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("merged/compare.csv").exists());

    ok(&unitwin(dir, &["merge", "s0", "s1", "s2", "--out", "merged"]));
    for file in ["compare.csv", "compare.html"] {
        assert_eq!(read(dir.join("whole").join(file)), read(dir.join("merged").join(file)), "{file}");
    }

    // A shard of another manifest (other seeds) is refused.
    std::fs::write(dir.join("other.ron"), MANIFEST.replace("seeds: [1, 2, 3]", "seeds: [1, 2, 4]")).unwrap();
    ok(&unitwin(dir, &["batch", "other.ron", "--out", "o1", "--shard", "1/3", "--quiet"]));
    let out = unitwin(dir, &["merge", "s0", "o1", "s2", "--out", "merged2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot merge s0 and o1"), "{}", stderr(&out));
    // So is a shard of another unitwin version.
    let record = String::from_utf8(read(dir.join("s1/batch.ron"))).unwrap();
    let version = format!("unitwin_version: \"{}\"", env!("CARGO_PKG_VERSION"));
    std::fs::write(dir.join("s1/batch.ron"), record.replace(&version, "unitwin_version: \"0.0.1\"")).unwrap();
    let out = unitwin(dir, &["merge", "s0", "s1", "s2", "--out", "merged3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("against unitwin 0.0.1"), "{}", stderr(&out));

    // Resuming into a folder of another manifest is refused too, unless --force.
    let out = unitwin(dir, &["batch", "other.ron", "--out", "whole", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("holds a batch of another manifest"), "{}", stderr(&out));
    let stdout = ok(&unitwin(dir, &["batch", "other.ron", "--out", "whole", "--force", "--quiet"]));
    assert!(stdout.contains("0 already finished, 6 run now"), "{stdout}");
}

#[test]
fn bad_manifests_exit_2_with_file_line_and_column() {
    let ws = workspace();
    let dir = ws.path();
    let cases: [(&str, &str, &str); 6] = [
        (
            "unknown field",
            "BatchManifest(\n    version: 1,\n    scenes: [\"room.ron\"],\n    seeds: [1],\n    variants: [Variant(id: \"a\", overides: [])],\n)\n",
            "bad.ron:5:33: error: unknown field `overides` in Variant",
        ),
        (
            "unknown door",
            "BatchManifest(\n    version: 1,\n    scenes: [\"room.ron\"],\n    seeds: [1],\n    variants: [\n        Variant(id: \"a\"),\n        Variant(id: \"b\", overrides: [CloseDoor(\"north\")]),\n    ],\n)\n",
            "bad.ron:7:48: error: variant 'b': scene 'room' has no door 'north'",
        ),
        (
            "two baselines",
            "BatchManifest(\n    version: 1,\n    scenes: [\"room.ron\"],\n    seeds: [1],\n    variants: [\n        Variant(id: \"a\", baseline: true),\n        Variant(id: \"b\", baseline: true),\n    ],\n)\n",
            "bad.ron:7:21: error: variant 'b': a second baseline (the first is 'a')",
        ),
        (
            "missing scene",
            "BatchManifest(\n    version: 1,\n    scenes: [\"nowhere.ron\"],\n    seeds: [1],\n    variants: [Variant(id: \"a\")],\n)\n",
            "bad.ron:3:14: error: scene 'nowhere.ron': cannot read",
        ),
        (
            "newer version",
            "BatchManifest(\n    version: 2,\n    scenes: [\"room.ron\"],\n    seeds: [1],\n    variants: [Variant(id: \"a\")],\n)\n",
            "bad.ron:2:5: error: batch manifest version 2 is not supported",
        ),
        (
            "unknown override",
            "BatchManifest(\n    version: 1,\n    scenes: [\"room.ron\"],\n    seeds: [1],\n    variants: [Variant(id: \"a\", overrides: [CloseGate(\"east\")])],\n)\n",
            "bad.ron:5:45: error: unknown variant `CloseGate` of Override",
        ),
    ];
    for (what, text, expected) in cases {
        std::fs::write(dir.join("bad.ron"), text).unwrap();
        let out = unitwin(dir, &["batch", "bad.ron", "--out", "never", "--quiet"]);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{what}: expected '{expected}' in:\n{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{what}");
        assert!(!dir.join("never").exists(), "{what}: an invalid manifest writes nothing");
    }
    for args in [["--jobs", "0"], ["--shard", "3/3"]] {
        let out = unitwin(dir, &["batch", "m.ron", "--out", "never", args[0], args[1]]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_measure_at_the_start_and_a_replayed_command_file_give_the_same_runs() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(
        dir.join("a.ron"),
        "BatchManifest(version: 1, scenes: [\"room.ron\"], seeds: [1, 2], variants: [\n    \
         Variant(id: \"base\"),\n    Variant(id: \"at_start\", overrides: [AtStart(CloseDoor(\"east\"))]),\n])\n",
    )
    .unwrap();
    ok(&unitwin(dir, &["batch", "a.ron", "--out", "a", "--quiet"]));
    // The variant's own scene file repeats its runs with `unitwin run`.
    ok(&unitwin(dir, &["run", "a/room/at_start/scene.ron", "--seed", "2", "--out", "again", "--quiet"]));
    assert_eq!(read(dir.join("again/trajectories.txt")), read(dir.join("a/room/at_start/seed2/trajectories.txt")));
    // Its command log, replayed on the unchanged scene, gives the same runs.
    std::fs::write(
        dir.join("b.ron"),
        "BatchManifest(version: 1, scenes: [\"room.ron\"], seeds: [1, 2], variants: [\n    \
         Variant(id: \"base\"),\n    Variant(id: \"replayed\", overrides: [Commands(\"a/room/at_start/seed1/commands.ron\")]),\n])\n",
    )
    .unwrap();
    ok(&unitwin(dir, &["batch", "b.ron", "--out", "b", "--quiet"]));
    for seed in [1, 2] {
        let (at_start, replayed) =
            (dir.join(format!("a/room/at_start/seed{seed}")), dir.join(format!("b/room/replayed/seed{seed}")));
        assert_eq!(read(at_start.join("trajectories.txt")), read(replayed.join("trajectories.txt")), "seed {seed}");
        assert_eq!(summary(&replayed)["exits"]["east"], 0);
    }
    let record = String::from_utf8(read(dir.join("b/room/replayed/seed1/run.ron"))).unwrap();
    assert!(record.contains("--commands a/room/at_start/seed1/commands.ron"), "{record}");
}

#[test]
fn the_bundled_manifests_check_clean() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut n = 0;
    for entry in std::fs::read_dir(root.join("scenes/batch")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let out = unitwin(&root, &["batch", path.to_str().unwrap(), "--dry-run", "--shard", "1/2"]);
            let stdout = ok(&out);
            assert!(stdout.starts_with("ok: ") && stdout.contains("seed"), "{stdout}");
            n += 1;
        }
    }
    assert!(n >= 2);
}
