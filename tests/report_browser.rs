//! `report.html` in a real headless browser (Chromium): opened with `#selftest`, the page plays its
//! replay and writes what it shows into `#selftest`; no script errors, the replay advances, agents
//! are drawn, charts export, and the figures shown equal `summary.json`.
//!
//! Needs `chromium` (CI installs it: `.ci/run`). Without it the test fails, unless
//! `UNITWIN_SKIP_BROWSER=1` says to skip it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SCENE: &str = "tests/scenes/report_hall.ron";
const BROWSERS: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    BROWSERS.iter().flat_map(|b| std::env::split_paths(&path).map(move |d| d.join(b))).find(|p| p.is_file())
}

/// The attributes of the first element whose opening tag starts with `open` (e.g. `<div id="selftest"`).
fn attributes(text: &str, open: &str) -> Option<BTreeMap<String, String>> {
    let start = text.find(open)?;
    let end = start + text[start..].find('>')?;
    let mut attrs = BTreeMap::new();
    let mut rest = &text[start + 1..end];
    rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"')?;
        let value = after[..close]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        attrs.insert(name, value);
        rest = &after[close + 1..];
    }
    Some(attrs)
}

/// Runs the browser on `url` and returns the DOM it dumps, killing it after `limit`. Its output
/// goes to files (`work`), not pipes: a page of a few hundred kB would fill a pipe and block it.
fn dump_dom(browser: &Path, url: &str, work: &Path, limit: Duration) -> String {
    let (dom_file, log_file) = (work.join("dom.html"), work.join("browser.log"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--virtual-time-budget=10000",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", work.join("profile").display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom_file).unwrap())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {limit:?}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = std::fs::read_to_string(&dom_file).unwrap_or_default();
    assert!(
        dom.contains("</html>"),
        "{} dumped no page (status {status}): {}",
        browser.display(),
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    dom
}

#[test]
fn the_report_plays_in_a_headless_browser_and_shows_the_summary() {
    let Some(browser) = find_browser() else {
        if std::env::var("UNITWIN_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!("UNITWIN_SKIP_BROWSER=1: the browser test is skipped");
            return;
        }
        panic!(
            "no headless browser found (looked for {} on PATH). Install Chromium (Debian: `apt-get install -y \
             --no-install-recommends chromium`; `.ci/run` does), or set UNITWIN_SKIP_BROWSER=1 to skip this test.",
            BROWSERS.join(", ")
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .args(["run", SCENE, "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "unitwin run failed: {}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();

    let url = format!("file://{}#selftest", out.join("report.html").display());
    let dom = dump_dom(&browser, &url, dir.path(), Duration::from_secs(90));
    let status = attributes(&dom, "<div id=\"selftest\"").unwrap_or_else(|| {
        panic!(
            "the page wrote no #selftest status (its script did not run to the end, or the PNG export never answered); DOM tail: {}",
            &dom[dom.len().saturating_sub(2000)..]
        )
    });
    let get = |k: &str| status.get(k).cloned().unwrap_or_else(|| panic!("#selftest has no {k}: {status:?}"));
    assert_eq!(get("data-errors"), "0", "script errors: {}", get("data-messages"));
    assert_eq!(get("data-frame-advanced"), "1", "the replay did not advance when played: {status:?}");
    assert!(get("data-frame-now").parse::<u64>().unwrap() >= 2, "{status:?}");
    assert!(
        get("data-coloured-pixels").parse::<u64>().unwrap() > 500,
        "no agents drawn at the busiest frame: {status:?}"
    );
    assert_eq!(get("data-svg-export"), "ok");
    assert_eq!(get("data-png-export"), "ok", "a chart could not be drawn as PNG");
    let timeline = summary["timeline"].as_array().unwrap();
    assert_eq!(get("data-frames"), timeline.len().to_string());
    assert_eq!(get("data-last-on-site"), timeline.last().unwrap()["on_site"].to_string());

    // The figures as the browser shows them.
    let mut shown = BTreeMap::new();
    let mut rest = &dom[dom.find("<div id=\"selftest\"").unwrap()..];
    while let Some(i) = rest.find("<span data-name=") {
        let a = attributes(&rest[i..], "<span").unwrap();
        shown.insert(a["data-name"].clone(), (a["data-value"].clone(), a["data-text"].clone()));
        rest = &rest[i + 5..];
    }
    let check = |name: &str, expected: f64, shown_digits: f64| {
        let (value, text) = shown.get(name).unwrap_or_else(|| panic!("the page shows no {name}: {shown:?}"));
        assert_eq!(value.parse::<f64>().unwrap(), expected, "{name}");
        let leading: String = text.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let text_value: f64 = leading.parse().unwrap_or_else(|_| panic!("{name} shown as `{text}`"));
        assert!(
            (text_value - expected).abs() <= shown_digits / 2.0 + 1e-9,
            "{name} shown as `{text}`, summary {expected}"
        );
    };
    check("spawned", summary["agents"]["spawned"].as_f64().unwrap(), 0.0);
    check("exited", summary["agents"]["exited"].as_f64().unwrap(), 0.0);
    check("on_site", summary["agents"]["on_site"].as_f64().unwrap(), 0.0);
    check("evacuation_time", summary["evacuation_time"].as_f64().unwrap(), 0.1);
    check("peak_density", summary["peak_density"]["density"].as_f64().unwrap(), 0.01);
    for (exit, n) in summary["exits"].as_object().unwrap() {
        check(&format!("exit:{exit}"), n.as_f64().unwrap(), 0.0);
    }
    check("commands", summary["events"].as_array().unwrap().len() as f64, 0.0);
}
