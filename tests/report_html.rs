//! `report.html` and its CSVs after `unitwin run`: a well-formed page that needs no network, whose
//! figures and CSVs agree with `summary.json`, with Levels of Service after Fruin's bounds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SCENE: &str = "tests/scenes/report_hall.ron";

/// Fruin's walkway Levels of Service as area per person, m² (shared/reference/validation.md):
/// A ≥ 3.25, B ≥ 2.32, C ≥ 1.39, D ≥ 0.93, E ≥ 0.46, F below.
const FRUIN_AREA_PER_PERSON: [f64; 5] = [3.25, 2.32, 1.39, 0.93, 0.46];

fn fruin(density: f64) -> &'static str {
    let area = if density > 0.0 { 1.0 / density } else { f64::INFINITY };
    ["A", "B", "C", "D", "E"].into_iter().zip(FRUIN_AREA_PER_PERSON).find(|(_, a)| area >= *a).map_or("F", |(l, _)| l)
}

fn run(out: &Path, extra: &[&str]) {
    run_scene(SCENE, out, extra);
}

fn run_scene(scene: &str, out: &Path, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(["run", scene, "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "unitwin run failed: {}", String::from_utf8_lossy(&o.stderr));
}

fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("a header line").split(',').map(String::from).collect();
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{}: row {r:?} has the wrong number of fields", path.display());
    }
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

struct Report {
    summary: Value,
    html: String,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn report() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run(&out, &[]);
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    Report { summary, html, out, _dir: dir }
}

/// `data-figure` → `data-value` of every figure the page shows.
fn figures(doc: &roxmltree::Document) -> BTreeMap<String, String> {
    doc.descendants()
        .filter_map(|n| {
            Some((n.attribute("data-figure")?.to_string(), n.attribute("data-value").unwrap_or("").to_string()))
        })
        .collect()
}

#[test]
fn the_report_is_well_formed_self_contained_and_agrees_with_the_summary() {
    let r = report();
    let s = &r.summary;
    // The folder: the run's files and the report's, nothing else.
    let mut names: Vec<String> =
        std::fs::read_dir(&r.out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut expected: Vec<&str> = unitwin::report::RUN_FILES.iter().copied().filter(|f| *f != "vehicles.csv").collect();
    expected.sort();
    assert_eq!(names, expected);

    // Well-formed: the page is written as XHTML-compatible HTML, so an XML parser must accept it.
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&r.html, options)
        .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "html");
    assert!(r.html.starts_with("<!DOCTYPE html>\n"));
    for id in ["figures", "provenance", "replay", "charts", "los", "maps", "hotspots", "timeline"] {
        assert!(doc.descendants().any(|n| n.attribute("id") == Some(id)), "no section #{id}");
    }

    // No network: no URL anywhere, no external resource of any kind.
    for needle in ["http://", "https://", "//cdn", "@import", "url(", "<link", "<iframe", "fetch(", "XMLHttpRequest"] {
        assert!(!r.html.contains(needle), "report.html contains `{needle}`");
    }
    for n in doc.descendants().filter(|n| n.is_element()) {
        for attr in ["src", "href", "xlink:href", "action"] {
            assert!(n.attribute(attr).is_none(), "<{}> has a {attr} attribute", n.tag_name().name());
        }
    }

    // The scene's own name, escaped and intact (Chinese, '<' and '&').
    let unit = s["unit"].as_str().unwrap();
    let title = doc.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text()).unwrap();
    assert_eq!(title, format!("Run report: {unit}"));
    assert!(unit.contains("报告") && unit.contains('<') && unit.contains('&'));

    // Every figure shown equals summary.json's exactly.
    let f = figures(&doc);
    let value = |name: &str| f.get(name).unwrap_or_else(|| panic!("figure {name} missing: {f:?}")).clone();
    assert_eq!(value("spawned"), s["agents"]["spawned"].to_string());
    assert_eq!(value("exited"), s["agents"]["exited"].to_string());
    assert_eq!(value("on_site"), s["agents"]["on_site"].to_string());
    assert_eq!(num(&value("evacuation_time")), s["evacuation_time"].as_f64().expect("everyone leaves this scene"));
    assert_eq!(num(&value("simulated_time")), s["simulated_time"].as_f64().unwrap());
    assert_eq!(num(&value("seed")), s["seed"].as_f64().unwrap());
    assert_eq!(value("commands"), s["events"].as_array().unwrap().len().to_string());
    assert!(s["events"].as_array().unwrap().len() == 1, "the scene closes a door");
    let exits = s["exits"].as_object().unwrap();
    assert!(exits.len() >= 2);
    for (name, n) in exits {
        assert_eq!(value(&format!("exit:{name}")), n.to_string(), "exit {name}");
    }
    let peak = s["peak_density"]["density"].as_f64().unwrap();
    assert_eq!(num(&value("peak_density")), peak);
    // The plan map's densest cell is the summary's peak (no stairs here), stored as f32.
    assert!((num(&value("map_peak")) - peak).abs() < 1e-5, "map peak {} vs summary {peak}", value("map_peak"));
    let record = std::fs::read_to_string(r.out.join("run.ron")).unwrap();
    let sha = doc.descendants().find(|n| n.attribute("data-figure") == Some("scene_sha256")).and_then(|n| n.text());
    assert!(record.contains(&format!("scene_sha256: \"{}\"", sha.unwrap())));
    // Reproducible: no path of this machine in the page.
    assert!(!r.html.contains(&r.out.display().to_string()) && !r.html.contains("/tmp/"));

    // N(t): on site = spawned − exited, exits add up, and the last row is the summary's.
    let (h, rows) = csv(&r.out.join("report_nt.csv"));
    let exit_cols: Vec<(String, usize)> =
        h.iter().enumerate().filter_map(|(i, c)| Some((c.strip_prefix("exit:")?.to_string(), i))).collect();
    assert_eq!(
        exit_cols.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        exits.keys().map(|k| k.as_str()).collect::<Vec<_>>()
    );
    for row in &rows {
        let [on, sp, ex] = ["on_site", "spawned", "exited"].map(|c| num(&row[col(&h, c)]) as u64);
        assert_eq!(on, sp - ex, "{row:?}");
        assert_eq!(ex, exit_cols.iter().map(|(_, i)| num(&row[*i]) as u64).sum::<u64>(), "{row:?}");
    }
    let last = rows.last().unwrap();
    assert_eq!(num(&last[col(&h, "t")]), (s["simulated_time"].as_f64().unwrap() * 1000.0).round() / 1000.0);
    assert_eq!(num(&last[col(&h, "on_site")]), s["agents"]["on_site"].as_f64().unwrap());
    for (name, i) in &exit_cols {
        assert_eq!(num(&last[*i]), exits[name].as_f64().unwrap(), "exit {name} at the end");
    }

    // Flows: the last cumulative counts are the summary's crossings.
    let (h, rows) = csv(&r.out.join("report_flows.csv"));
    for line in s["lines"].as_array().unwrap() {
        let id = line["id"].as_str().unwrap();
        let last = rows.iter().rev().find(|r| r[col(&h, "line")] == id).expect("rows for every line");
        assert_eq!(num(&last[col(&h, "crossed_left_to_right")]), line["left_to_right"].as_f64().unwrap());
        assert_eq!(num(&last[col(&h, "crossed_right_to_left")]), line["right_to_left"].as_f64().unwrap());
        assert!(line["left_to_right"].as_u64().unwrap() > 50, "people cross the line towards the exit");
    }

    // Area densities: maxima as in the summary; LoS letters by Fruin's bounds; shares and the IMO
    // flag recomputed from the densities.
    let (h, rows) = csv(&r.out.join("report_density.csv"));
    let (lh, los_rows) = csv(&r.out.join("report_los.csv"));
    for area in s["areas"].as_array().unwrap() {
        let id = area["id"].as_str().unwrap();
        let densities: Vec<(f64, String)> = rows
            .iter()
            .filter(|r| r[col(&h, "area")] == id)
            .map(|r| (num(&r[col(&h, "density_persons_per_m2")]), r[col(&h, "los")].clone()))
            .collect();
        assert!(!densities.is_empty());
        let max = densities.iter().map(|d| d.0).fold(0.0, f64::max);
        assert!((max - area["max_density"].as_f64().unwrap()).abs() < 1e-4, "{id}: max {max}");
        for (d, los) in &densities {
            assert_eq!(los, fruin(*d), "{id}: {d} persons/m²");
        }
        let row = los_rows.iter().find(|r| r[col(&lh, "area")] == id).expect("a LoS row per area");
        let n = densities.len() as f64;
        assert_eq!(num(&row[col(&lh, "frames")]), n);
        for letter in ["A", "B", "C", "D", "E", "F"] {
            let share = densities.iter().filter(|d| d.1 == letter).count() as f64 / n;
            assert!((num(&row[col(&lh, &format!("share_{letter}"))]) - share).abs() < 1e-4, "{id} LoS {letter}");
        }
        let above = densities.iter().filter(|d| d.0 > 4.0).count() as f64 / n;
        assert!((num(&row[col(&lh, "share_above_4")]) - above).abs() < 1e-4);
        let flagged = above > 0.10;
        assert_eq!(row[col(&lh, "significant_congestion")], flagged.to_string(), "{id}: IMO flag");
        let cell = doc
            .descendants()
            .find(|n| n.attribute("data-area") == Some(id))
            .and_then(|tr| tr.descendants().find(|n| n.attribute("data-congested").is_some()))
            .expect("the LoS table has a row per area");
        assert_eq!(cell.attribute("data-congested"), Some(flagged.to_string().as_str()));
    }
    let queue = los_rows.iter().find(|r| r[0] == "east_queue").unwrap();
    assert!(num(&queue[col(&lh, "share_F")]) > 0.3, "the 1 m² before the exit is at LoS F for much of the run");

    // Cells and hotspots: the densest cell is the summary's peak; hotspots are LoS F and counted.
    let (h, cells) = csv(&r.out.join("report_cells.csv"));
    let densest = cells.iter().map(|c| num(&c[col(&h, "peak_density")])).fold(0.0, f64::max);
    assert!((densest - peak).abs() < 1e-3);
    for c in &cells {
        assert_eq!(c[col(&h, "los")], fruin(num(&c[col(&h, "peak_density")])));
    }
    let (h, hotspots) = csv(&r.out.join("report_hotspots.csv"));
    assert_eq!(value("hotspots"), hotspots.len().to_string());
    assert!(!hotspots.is_empty(), "the exit queue reaches LoS F");
    assert!((num(&hotspots[0][col(&h, "peak_density")]) - peak).abs() < 1e-3);
    for hs in &hotspots {
        assert_eq!(fruin(num(&hs[col(&h, "peak_density")])), "F");
    }

    // The replay: as many agents per frame as the trajectories hold, nothing thinned here.
    let script = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id)).and_then(|n| n.text()).unwrap();
    let header: Value = serde_json::from_str(script("replay-header")).unwrap();
    assert_eq!(header["frameStride"], 1);
    assert_eq!(header["agentStride"], 1);
    let counts: Vec<u64> = header["n"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    let blob = script("replay-data").trim().len();
    assert_eq!(blob, counts.iter().sum::<u64>() as usize * 8, "6 bytes per agent, base64");
    let timeline = s["timeline"].as_array().unwrap();
    assert_eq!(counts.len(), timeline.len());
    for (n, row) in counts.iter().zip(timeline) {
        assert_eq!(*n, row["on_site"].as_u64().unwrap());
    }
    serde_json::from_str::<Value>(script("plan-data")).expect("plan data is JSON");
}

#[test]
fn the_report_is_the_same_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b-elsewhere"));
    run(&a, &["--threads", "1"]);
    run(&b, &["--threads", "2"]);
    for file in unitwin::report::REPORT_FILES {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(x == y, "{file} differs between runs");
    }
}

/// The package root, read when the test runs (see tests/golden.rs).
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

#[test]
fn the_report_names_no_path_of_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("abs");
    let root = unitwin_manifest_dir();
    let scene = Path::new(&root).join(SCENE);
    let o = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&scene)
        .output()
        .unwrap();
    assert!(o.status.success(), "unitwin run failed: {}", String::from_utf8_lossy(&o.stderr));
    for file in unitwin::report::REPORT_FILES {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(!text.contains(&root), "{file} names the checkout {root}");
        assert!(!text.contains(&dir.path().display().to_string()), "{file} names the output folder");
    }
}

/// A scene with a place people stay at: the page lists it with its stays and those who passed it by,
/// as `summary.json` counts them, and every visit is one or the other.
#[test]
fn the_report_lists_the_places_people_stay_at() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run_scene("tests/scenes/shop_from_the_back.ron", &out, &[]);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&html, options).unwrap();
    assert!(doc.descendants().any(|n| n.attribute("id") == Some("places")), "no section #places");
    let f = figures(&doc);
    let places = summary["places"].as_array().expect("summary.json lists the places");
    assert_eq!(places.len(), 1, "the shop");
    let (stayed, passed_by) = (places[0]["stayed"].as_u64().unwrap(), places[0]["passed_by"].as_u64().unwrap());
    assert_eq!(stayed + passed_by, summary["agents"]["spawned"].as_u64().unwrap(), "every shopper's visit, once");
    assert_eq!(f["stayed:shop"], stayed.to_string());
    assert_eq!(f["passed_by:shop"], passed_by.to_string());
    assert_eq!(f["places_stayed"], stayed.to_string());
    assert_eq!(f["places_passed_by"], passed_by.to_string());
}
