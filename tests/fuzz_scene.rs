//! Fuzzing the scene loader, checker and world builder: bundled scenes are mutated at random (bytes
//! flipped, spans cut, deleted or repeated, random bytes and RON tokens inserted, numbers replaced by
//! NaN, infinities and extremes, ids replaced) and each result must come back `Ok` or as located
//! diagnostics — never a panic, never a position outside the text, never more than a few seconds.
//! A scene that builds must also place its people (`unitwin check` and `unitwin run` agree).
//!
//! The default case count keeps the test under a minute in release, drawn from a fixed seed so
//! that the suite gives the same verdict on every run; explore new cases with e.g.
//! `PROPTEST_CASES=20000 PROPTEST_RNG_SEED=$RANDOM cargo test --release --test fuzz_scene`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use unitwin::scene::{Diagnostics, SourceMap, load::decode, parse_scene};

/// Cases run when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 4000;
/// Seed of the cases when `PROPTEST_RNG_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_202;
/// Longest a single case may take to load, check and build (release build) before it counts as
/// hung. Scenes within the limits of src/scene/limits.rs can take longer than this (a navigation
/// grid of 40 million cells takes about 45 s to build), so replacement numbers stay under 5 km.
const CASE_LIMIT: Duration = Duration::from_secs(20);
/// Cases slower than this are listed at the end.
const SLOW: Duration = Duration::from_secs(2);

const SEEDS: &[&str] = &[
    "scenes/demo_hall.ron",
    "scenes/verification/rimea_02_stairs_up.ron",
    "scenes/verification/rimea_14_route_choice_floors.ron",
    "scenes/verification/door_closes.ron",
    "scenes/verification/zone_blocked.ron",
    "scenes/verification/rimea_10_route_allocation.ron",
    "tests/scenes/street_crossing.ron",
];

/// Values a number may be replaced by.
const NUMBERS: &[&str] = &[
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1e-300",
    "-1e-300",
    "1e400",
    "4294967296",
    "18446744073709551616",
    "-1",
    "99999",
    "-99999",
    "5000.0",
    "-4999.5",
    "0.001",
    "1e9",
    "3",
    "0.5",
];

/// Tokens that break or bend RON structure.
const TOKENS: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ":", ",", "\"", "'", "/*", "*/", "//", "r#\"", "\"#", "\\", "\n", "Some(", "None",
    "-", ".", "e", "#", "，", "：", "\u{feff}", "\u{0}", "\r", "\t", "Area(", "Door(", "id: ", "level: ",
];

/// Strings an id or other string may be replaced by.
const STRINGS: &[&str] = &[
    "",
    " ",
    "a b",
    "东出口",
    "x\\ny",
    "x\\\"y",
    "\\u{0}",
    "ground",
    "first",
    "exit",
    "hall",
    "lobby_door",
    "stair",
    "east",
    "smoke",
    "upper",
    "lower",
    "down_stair",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Duplicate(Index, usize, Index),
    InsertBytes(Index, Vec<u8>),
    InsertToken(Index, usize),
    ReplaceNumber(Index, usize),
    ReplaceString(Index, usize),
    LongString(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Weighted towards changes that keep the text parseable, so that most cases reach the checks.
    prop_oneof![
        1 => (any::<Index>(), 1u8..=255).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..400, any::<Index>()).prop_map(|(i, n, j)| Mutation::Duplicate(i, n, j)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        2 => (any::<Index>(), 0..TOKENS.len()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        8 => (any::<Index>(), 0..NUMBERS.len()).prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
        3 => (any::<Index>(), 0..STRINGS.len()).prop_map(|(i, s)| Mutation::ReplaceString(i, s)),
        1 => (any::<Index>(), 100usize..300).prop_map(|(i, n)| Mutation::LongString(i, n)),
    ]
}

/// Byte spans of numeric literals (an optional `-`, then a digit, then digits, `.`, `e`, `+`, `-`).
fn numbers(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let starts = text[i].is_ascii_digit() || (text[i] == b'-' && text.get(i + 1).is_some_and(u8::is_ascii_digit));
        let after_word = i > 0 && (text[i - 1].is_ascii_alphanumeric() || text[i - 1] == b'_');
        if starts && !after_word {
            let mut j = i + 1;
            while j < text.len()
                && (text[j].is_ascii_digit()
                    || matches!(text[j], b'.' | b'e' | b'E' | b'_')
                    || (matches!(text[j], b'+' | b'-') && matches!(text[j - 1], b'e' | b'E')))
            {
                j += 1;
            }
            spans.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    spans
}

/// Byte spans of the contents of `"…"` strings.
fn strings(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < text.len() && text[j] != b'"' && text[j] != b'\n' {
                j += if text[j] == b'\\' { 2 } else { 1 };
            }
            if j < text.len() && text[j] == b'"' {
                spans.push((start, j));
            }
            i = j + 1;
        } else if text[i..].starts_with(b"//") {
            while i < text.len() && text[i] != b'\n' {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    spans
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
    match m {
        Mutation::FlipByte(i, b) if len > 0 => {
            let k = i.index(len);
            bytes[k] ^= b;
        }
        Mutation::Truncate(i) => bytes.truncate(at(i)),
        Mutation::Delete(i, n) => {
            let k = at(i);
            bytes.drain(k..(k + n).min(len));
        }
        Mutation::Duplicate(i, n, j) => {
            let k = at(i);
            let span: Vec<u8> = bytes[k..(k + n).min(len)].to_vec();
            let dest = at(j);
            bytes.splice(dest..dest, span);
        }
        Mutation::InsertBytes(i, b) => {
            let k = at(i);
            bytes.splice(k..k, b.iter().copied());
        }
        Mutation::InsertToken(i, t) => {
            let k = at(i);
            bytes.splice(k..k, TOKENS[*t].bytes());
        }
        Mutation::ReplaceNumber(i, n) => {
            let spans = numbers(bytes);
            if !spans.is_empty() {
                let (a, b) = spans[i.index(spans.len())];
                bytes.splice(a..b, NUMBERS[*n].bytes());
            }
        }
        Mutation::ReplaceString(i, s) => {
            let spans = strings(bytes);
            if !spans.is_empty() {
                let (a, b) = spans[i.index(spans.len())];
                bytes.splice(a..b, STRINGS[*s].bytes());
            }
        }
        Mutation::LongString(i, n) => {
            let spans = strings(bytes);
            if !spans.is_empty() {
                let (a, b) = spans[i.index(spans.len())];
                bytes.splice(a..b, std::iter::repeat_n(b'x', *n));
            }
        }
        Mutation::FlipByte(..) => {}
    }
}

/// Every diagnostic names the file and a position inside `text` (line ≥ 1, column ≥ 1, both
/// within the text, the end of the text included).
fn check_positions(path: &Path, text: &str, diags: &Diagnostics) -> Result<(), String> {
    if diags.0.is_empty() {
        return Err("an error without diagnostics".into());
    }
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &diags.0 {
        if d.file != path {
            return Err(format!("diagnostic names file {} instead of {}", d.file.display(), path.display()));
        }
        if d.line < 1 || d.col < 1 || d.line > lines.len() {
            return Err(format!("position {}:{} outside the text's {} lines: {d}", d.line, d.col, lines.len()));
        }
        let width = lines[d.line - 1].chars().count() + 1;
        if d.col > width {
            return Err(format!("column {} beyond the end of line {} ({} characters): {d}", d.col, d.line, width - 1));
        }
        if d.message.is_empty() {
            return Err(format!("empty message at {}:{}", d.line, d.col));
        }
    }
    Ok(())
}

/// Loads, checks and builds one mutated file; `Err` describes a broken property.
fn exercise(path: PathBuf, bytes: Vec<u8>) -> Result<&'static str, String> {
    let text = match decode(&path, &bytes) {
        Ok(text) => text,
        Err(diags) => {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            // A byte-order mark is reported at 1:1 of the text after it.
            check_positions(&path, &lossy, &diags)?;
            return Ok("not UTF-8");
        }
    };
    let loaded = match parse_scene(SourceMap::new(&path, text.clone()), String::new()) {
        Ok(loaded) => loaded,
        Err(diags) => {
            check_positions(&path, &text, &diags)?;
            return Ok("not parsed");
        }
    };
    let twin = match unitwin::twin::build(loaded) {
        Ok(twin) => twin,
        Err(diags) => {
            check_positions(&path, &text, &diags)?;
            return Ok("refused");
        }
    };
    // What `check` accepts, `run` must be able to start: everyone placed, whatever the seed.
    let options = unitwin::app::RunOptions { seed: 1, until: 1.0, threads: Some(1), replay: None };
    if let Err(diags) = unitwin::app::headless_app(&twin, &options) {
        return Err(format!("checked clean, but the run cannot start:\n{diags}"));
    }
    Ok("accepted")
}

/// Runs `exercise` on its own thread: a panic or a case over [`CASE_LIMIT`] fails the property.
fn bounded(path: PathBuf, bytes: Vec<u8>) -> Result<&'static str, String> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let _ = tx.send(exercise(path, bytes));
        })
        .expect("spawn a thread");
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(result) => {
            handle.join().ok();
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("took more than {CASE_LIMIT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = handle.join().err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            Err(format!("panicked after {:?}: {}", started.elapsed(), panic.unwrap_or_default()))
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES)
}

#[test]
fn mutated_scenes_are_refused_with_located_messages_or_accepted() {
    let root = std::path::PathBuf::from(unitwin_manifest_dir());
    let seeds: Vec<(PathBuf, Vec<u8>)> = SEEDS
        .iter()
        .map(|s| (PathBuf::from(s), std::fs::read(root.join(s)).unwrap_or_else(|e| panic!("{s}: {e}"))))
        .collect();
    // `Config::default()` reads PROPTEST_RNG_SEED; without it the seed is fixed.
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => Config::default().rng_seed,
        None => RngSeed::Fixed(DEFAULT_SEED),
    };
    let config =
        Config { cases: cases(), rng_seed, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let tally = std::sync::Mutex::new(std::collections::BTreeMap::<&str, u32>::new());
    let slowest = std::sync::Mutex::new((Duration::ZERO, String::new()));
    let slow = std::sync::Mutex::new(Vec::<String>::new());
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..5));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let (path, original) = &seeds[seed];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let case_started = Instant::now();
        let outcome = bounded(path.clone(), bytes.clone());
        let took = case_started.elapsed();
        {
            let mut s = slowest.lock().unwrap();
            if took > s.0 {
                *s = (took, format!("{} with {mutations:?}", path.display()));
            }
        }
        if took > SLOW {
            // Kept for a closer look: `unitwin check` on the file shows where the time goes.
            let mut slow = slow.lock().unwrap();
            let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-slow-{}.ron", slow.len()));
            let _ = std::fs::write(&keep, &bytes);
            slow.push(format!(
                "{:.1} s: {} with {mutations:?} (kept as {})",
                took.as_secs_f64(),
                path.display(),
                keep.display()
            ));
        }
        match outcome {
            Ok(kind) => {
                *tally.lock().unwrap().entry(kind).or_default() += 1;
                Ok(())
            }
            Err(problem) => Err(TestCaseError::fail(format!(
                "{problem}\n--- mutated {} ({mutations:?}) ---\n{}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            ))),
        }
    });
    let (took, which) = slowest.into_inner().unwrap();
    eprintln!(
        "fuzz_scene: {} cases in {:.1} s, outcomes {:?}; slowest case {:.3} s ({which})",
        cases(),
        started.elapsed().as_secs_f64(),
        tally.into_inner().unwrap(),
        took.as_secs_f64()
    );
    for case in slow.into_inner().unwrap() {
        eprintln!("  slow: {case}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The mutations themselves work: each kind changes the text where it should.
#[test]
fn mutations_find_numbers_and_strings() {
    let text = b"Door(id: \"exit\", at: (10.0, -3.5e2), width: 1, x_2: 5)";
    let spans: Vec<&str> = numbers(text).iter().map(|&(a, b)| std::str::from_utf8(&text[a..b]).unwrap()).collect();
    assert_eq!(spans, ["10.0", "-3.5e2", "1", "5"]);
    let spans: Vec<&str> = strings(text).iter().map(|&(a, b)| std::str::from_utf8(&text[a..b]).unwrap()).collect();
    assert_eq!(spans, ["exit"]);
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
