//! Property-based fuzzing of both importers: the files in tests/gis/ with random mutations (bit
//! flips, truncation, inserted bytes and structural tokens, duplicated and deleted chunks,
//! numbers replaced by NaN, ±1e308, -0, huge and tiny values) go through
//! `unitwin::import::import_geojson` / `import_osm` (after `decode`, as the command line does).
//! Nothing is caught: a panic fails the test. Every result must be a scene or located errors
//! (line:column or the feature at fault, except the whole-file "no walkable features found" and
//! `--people` requests that the space cannot meet),
//! each with a hint, and never "the imported scene does not check" (the importer's own output
//! refused by the checker).
//!
//! `fuzz_geometry` moves and copies numbers only, which keeps the files readable and so tests the
//! geometry (cleaning, buffering, exits, people) rather than the parsers.
//!
//! 48 cases per test by default (a few seconds in release), drawn from a fixed seed so that the
//! test suite gives the same verdict on every run; explore new cases with e.g.
//! `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=$RANDOM cargo test --release --test fuzz_import`.
//! `FUZZ_VERBOSE=1` (with `-- --nocapture`) prints each case's outcome.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use unitwin::import::{ImportError, ImportOptions, decode, import_geojson, import_osm};
use unitwin::scene::LatLon;

const DEFAULT_CASES: u32 = 48;
/// Seed of the cases when `PROPTEST_RNG_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_202;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES);
    // `Config::default()` reads PROPTEST_RNG_SEED; without it the seed is fixed.
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => Config::default().rng_seed,
        None => RngSeed::Fixed(DEFAULT_SEED),
    };
    // Failing inputs are shrunk and printed; none are written into the source tree.
    Config { cases, rng_seed, failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() }
}

/// The seed files of one format, those in tests/gis/ that import as they are: (path, bytes).
fn seeds(ext: &str) -> &'static [(PathBuf, Vec<u8>)] {
    static GEOJSON: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    static OSM: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    let cell = if ext == "geojson" { &GEOJSON } else { &OSM };
    cell.get_or_init(|| {
        let dir = Path::new(&unitwin_manifest_dir()).join("tests/gis");
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .filter(|(p, bytes)| {
                let text = String::from_utf8_lossy(bytes);
                let options = ImportOptions::default();
                match ext {
                    "geojson" => import_geojson(&text, p, origin(ext), &options).is_ok(),
                    _ => import_osm(&text, p, origin(ext), &options).is_ok(),
                }
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no .{ext} files in {}", dir.display());
        files
    })
}

/// The seed files' origins: the square's at 31.23,121.47, the quarter's at 31.24,121.482.
fn origin(ext: &str) -> LatLon {
    if ext == "geojson" { LatLon { lat: 31.23, lon: 121.47 } } else { LatLon { lat: 31.24, lon: 121.482 } }
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip bit `1` of the byte at `0`.
    Flip(Index, u8),
    /// Cut the file at `0`.
    Truncate(Index),
    /// Insert bytes at `0`.
    Insert(Index, Vec<u8>),
    /// Copy `1` bytes from `0` to `2`.
    Duplicate(Index, usize, Index),
    /// Delete `1` bytes at `0`.
    Delete(Index, usize),
    /// Replace the `0`-th number in the text.
    Number(Index, &'static str),
    /// Add `1` to the `0`-th number (a coordinate moved by up to ~20 m, an id or width changed a little).
    Nudge(Index, f64),
    /// Replace the `0`-th number by the `1`-th (repeated points, degenerate rings).
    Copy(Index, Index),
}

const NUMBERS: &[&str] = &[
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "1e999",
    "-0",
    "0",
    "-0.0",
    "1e-320",
    "99999999",
    "99999999999999999999999",
    "-180.0000001",
    "90.0000001",
    "1.",
    ".5",
    "--1",
    "",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "[]",
    "{}",
    "[[]]",
    "[[[]]]",
    "\\",
    "\\u0000",
    "\u{0}",
    "\u{feff}",
    "é",
    "\"type\": \"Feature\", ",
    "\"type\": \"GeometryCollection\", ",
    "\"coordinates\": [], ",
    "\"coordinates\": [[[121.47, 31.23], [121.47, 31.23]]], ",
    "\"properties\": {\"highway\": \"footway\", \"width\": \"1e9\"}, ",
    "\"properties\": {\"building\": \"yes\", \"building:levels\": \"1e300\"}, ",
    "\"properties\": {\"entrance\": \"yes\"}, ",
    "{\"type\": \"Feature\", \"geometry\": {\"type\": \"Point\", \"coordinates\": [121.47, 31.23]}, \"properties\": {\"unitwin\": \"exit\"}}, ",
    "\"crs\": {\"properties\": {\"name\": \"EPSG:3857\"}}, ",
    "[[[[[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]]]]]]]]]]]",
];

const XML_TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "</osm>",
    "<osm>",
    "\"",
    "'",
    "&",
    "&amp;",
    "&lol;",
    "&#0;",
    "&#x110000;",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE osm [<!ENTITY a \"aaaaaaaaaa\">]>",
    "\u{0}",
    "\u{feff}",
    "é",
    "<node id=\"101\" lat=\"31.24\" lon=\"121.482\"/>",
    "<node id=\"9\" lat=\"NaN\" lon=\"1e308\"/>",
    "<nd ref=\"101\"/>",
    "<nd ref=\"999999\"/>",
    "<nd/>",
    "<tag k=\"width\" v=\"99999999\"/>",
    "<tag k=\"building:levels\" v=\"1e300\"/>",
    "<tag k=\"highway\" v=\"footway\"/>",
    "<tag k=\"area\" v=\"yes\"/>",
    "<tag k=\"entrance\" v=\"yes\"/>",
    "<way id=\"1\">",
    "</way>",
    "<relation id=\"40\">",
    "</relation>",
    "<member type=\"way\" ref=\"1\" role=\"outer\"/>",
    "<member type=\"way\" ref=\"424242\" role=\"inner\"/>",
    "<tag k=\"type\" v=\"multipolygon\"/>",
    " action=\"delete\"",
    " visible=\"false\"",
    "<x><x><x><x><x><x><x><x>",
    "</x></x></x></x></x></x></x></x>",
];

fn mutation(tokens: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    let insert = prop_oneof![
        3 => select(tokens).prop_map(|t| t.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..8),
    ];
    // Number replacements mostly keep the syntax, so they reach the geometry; the rest mostly
    // test the parsers and their messages.
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), insert).prop_map(|(i, t)| Mutation::Insert(i, t)),
        1 => (any::<Index>(), 1usize..400, any::<Index>()).prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        10 => (any::<Index>(), select(NUMBERS)).prop_map(|(i, n)| Mutation::Number(i, n)),
    ]
}

/// Byte ranges of the number literals in `bytes` (runs of digits, signs, points and exponents
/// holding at least one digit).
fn numbers(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() || bytes[i] == b'-' {
            let start = i;
            while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            if bytes[start..i].iter().any(u8::is_ascii_digit) {
                out.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Mutation::Insert(i, t) => {
                let at = i.index(len + 1);
                bytes.splice(at..at, t.iter().copied());
            }
            Mutation::Duplicate(a, n, b) if len > 0 => {
                let start = a.index(len);
                let chunk = bytes[start..(start + n).min(len)].to_vec();
                let at = b.index(len + 1);
                bytes.splice(at..at, chunk);
            }
            Mutation::Delete(a, n) if len > 0 => {
                let start = a.index(len);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Number(i, with) => {
                let spans = numbers(&bytes);
                if !spans.is_empty() {
                    let (s, e) = spans[i.index(spans.len())];
                    bytes.splice(s..e, with.bytes());
                }
            }
            Mutation::Nudge(i, delta) => {
                let spans = numbers(&bytes);
                if !spans.is_empty() {
                    let (s, e) = spans[i.index(spans.len())];
                    if let Some(x) = std::str::from_utf8(&bytes[s..e]).ok().and_then(|t| t.parse::<f64>().ok()) {
                        let y = if x.fract() == 0.0 {
                            format!("{}", (x + delta * 1e4).round())
                        } else {
                            format!("{:.8}", x + delta)
                        };
                        bytes.splice(s..e, y.bytes());
                    }
                }
            }
            Mutation::Copy(i, j) => {
                let spans = numbers(&bytes);
                if !spans.is_empty() {
                    let (s, e) = spans[i.index(spans.len())];
                    let (a, b) = spans[j.index(spans.len())];
                    let with = bytes[a..b].to_vec();
                    bytes.splice(s..e, with);
                }
            }
            _ => {}
        }
    }
    bytes
}

/// Mutations that keep the syntax: coordinates and other numbers moved a little or copied, which
/// reaches the geometry (self-intersections, slivers, degenerate rings, exits off the edge).
fn geometry_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), -2e-4f64..2e-4).prop_map(|(i, d)| Mutation::Nudge(i, d)),
        1 => (any::<Index>(), -1e-6f64..1e-6).prop_map(|(i, d)| Mutation::Nudge(i, d)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::Copy(i, j)),
    ]
}

/// Errors must be located (line:column or the object), carry a hint, and never be the checker
/// refusing the importer's own scene.
fn check_errors(errors: &[ImportError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an Err without errors");
    for e in errors {
        let shown = e.to_string();
        // Whole-file outcomes: nothing walkable, or `--people` that cannot be met.
        let whole_file = e.message.starts_with("no walkable features found") || e.message.starts_with("--people");
        prop_assert!(e.pos.is_some() || e.object.is_some() || whole_file, "not located: {}", shown);
        prop_assert!(e.hint.is_some(), "no hint: {}", shown);
        prop_assert!(
            !e.message.contains("the imported scene does not check"),
            "the importer wrote a bad scene: {}",
            shown
        );
        if let Some((line, col)) = e.pos {
            prop_assert!(line >= 1 && col >= 1, "position {}:{} in {}", line, col, shown);
        }
    }
    Ok(())
}

fn run(ext: &str, seed: usize, mutations: &[Mutation], people: Option<u32>) -> Result<(), TestCaseError> {
    let (path, bytes) = &seeds(ext)[seed % seeds(ext).len()];
    let mutated = apply(bytes.clone(), mutations);
    let file = Path::new(path.file_name().unwrap());
    let text = match decode(mutated, file) {
        Ok(t) => t,
        Err(e) => return check_errors(&[e]),
    };
    let origin = origin(ext);
    let options = ImportOptions { people, ..ImportOptions::default() };
    let result = if ext == "geojson" {
        import_geojson(&text, file, origin, &options)
    } else {
        import_osm(&text, file, origin, &options)
    };
    if std::env::var_os("FUZZ_VERBOSE").is_some() {
        match &result {
            Ok(i) => eprintln!("{}: ok, {} area(s)", file.display(), i.summary.areas),
            Err(e) => eprintln!("{}", e[0]),
        }
    }
    match result {
        Ok(imported) => {
            prop_assert!(imported.text.starts_with("// Imported from"));
            Ok(())
        }
        Err(errors) => check_errors(&errors),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_geojson(
        seed in any::<usize>(),
        mutations in proptest::collection::vec(mutation(JSON_TOKENS), 1..5),
        people in prop_oneof![3 => Just(None), 1 => Just(Some(20u32))],
    ) {
        run("geojson", seed, &mutations, people)?;
    }

    #[test]
    fn fuzz_geometry(
        osm in any::<bool>(),
        seed in any::<usize>(),
        mutations in proptest::collection::vec(geometry_mutation(), 1..12),
        people in prop_oneof![2 => Just(None), 1 => Just(Some(30u32))],
    ) {
        run(if osm { "osm" } else { "geojson" }, seed, &mutations, people)?;
    }

    #[test]
    fn fuzz_osm(
        seed in any::<usize>(),
        mutations in proptest::collection::vec(mutation(XML_TOKENS), 1..5),
        people in prop_oneof![3 => Just(None), 1 => Just(Some(20u32))],
    ) {
        run("osm", seed, &mutations, people)?;
    }
}

/// Number literals are found where the replacements expect them.
#[test]
fn numbers_are_found() {
    let text = br#"{"a": [121.47, -31.2e3], "b": "x1"}"#;
    assert_eq!(numbers(text), vec![(7, 13), (15, 22), (32, 33)]);
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
