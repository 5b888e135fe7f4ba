//! The comparison across variants: key figures read from each run's `summary.json` (and the time
//! above 4 persons/m² from its trajectories), means and 95 % intervals over seeds, paired differences
//! to the baseline; `compare.csv` and a self-contained `compare.html` with inline SVG.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::stats::{Estimate, paired_difference};
use super::{BatchRecord, RunId, run_finished};
use crate::metrics::DENSITY_RADIUS;
use crate::report::write_atomic;

/// The density above which the time is counted: Fruin's level of service F begins at about 2.2
/// persons/m²; 4 persons/m² is where walking becomes shuffling and crowd pressure starts to build.
pub const DENSE: f64 = 4.0;

/// One figure of one run.
#[derive(Clone, Debug)]
pub struct Figure {
    pub key: String,
    pub label: String,
    pub unit: &'static str,
    pub value: Option<f64>,
}

/// One figure of a scene over its variants and seeds.
#[derive(Clone, Debug)]
pub struct FigureRow {
    pub key: String,
    pub label: String,
    pub unit: &'static str,
    /// Per variant, per seed (manifest order); `None` where the run lacks the figure or is missing.
    pub values: Vec<Vec<Option<f64>>>,
}

/// Everything compared, in manifest order.
pub struct Comparison {
    pub record: BatchRecord,
    /// Per scene, its figures in the order runs report them.
    pub scenes: Vec<Vec<FigureRow>>,
    /// Runs with no finished folder in any of the directories.
    pub missing: Vec<String>,
}

impl Comparison {
    /// Reads every run of `record` from the first of `dirs` holding it finished.
    pub fn collect(record: &BatchRecord, dirs: &[PathBuf]) -> Result<Comparison, String> {
        let (nv, ns) = (record.variants.len(), record.seeds.len());
        let mut scenes: Vec<Vec<FigureRow>> = vec![Vec::new(); record.scenes.len()];
        let mut missing = Vec::new();
        for run in record.runs() {
            let Some(dir) = dirs.iter().map(|d| record.run_dir(d, &run)).find(|d| run_finished(d)) else {
                missing.push(record.run_name(&run));
                continue;
            };
            let figures = run_figures(&dir)?;
            let rows = &mut scenes[run.scene];
            for figure in figures {
                let row = match rows.iter().position(|r| r.key == figure.key) {
                    Some(i) => &mut rows[i],
                    None => {
                        rows.push(FigureRow {
                            key: figure.key.clone(),
                            label: figure.label.clone(),
                            unit: figure.unit,
                            values: vec![vec![None; ns]; nv],
                        });
                        rows.last_mut().expect("just pushed")
                    }
                };
                row.values[run.variant][run.seed_index] = figure.value;
            }
        }
        Ok(Comparison { record: record.clone(), scenes, missing })
    }

    /// `compare.csv`: one line per scene, figure and variant.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "scene,figure,label,unit,variant,baseline,n,mean,sd,ci95_low,ci95_high,diff_n,diff_mean,diff_ci95_low,diff_ci95_high\n",
        );
        let base = self.record.baseline_index();
        for (si, rows) in self.scenes.iter().enumerate() {
            for row in rows {
                for (vi, variant) in self.record.variants.iter().enumerate() {
                    let e = estimate(&row.values[vi]);
                    let d = (vi != base).then(|| paired_difference(&row.values[vi], &row.values[base])).flatten();
                    let _ = writeln!(
                        out,
                        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        csv_field(&self.record.scenes[si]),
                        csv_field(&row.key),
                        csv_field(&row.label),
                        csv_field(row.unit),
                        csv_field(variant),
                        vi == base,
                        e.map_or(0, |e| e.n),
                        num(e.map(|e| e.mean)),
                        num(e.and_then(|e| e.sd)),
                        num(e.and_then(|e| e.low())),
                        num(e.and_then(|e| e.high())),
                        if vi == base { String::new() } else { d.map_or(0, |d| d.n).to_string() },
                        num(d.map(|d| d.mean)),
                        num(d.and_then(|d| d.low())),
                        num(d.and_then(|d| d.high())),
                    );
                }
            }
        }
        out
    }

    /// Writes `compare.csv` and `compare.html` into `out`, each atomically.
    pub fn write(&self, out: &Path) -> Result<(), String> {
        write_atomic(&out.join("compare.csv"), self.csv().as_bytes()).map_err(|e| e.to_string())?;
        write_atomic(&out.join("compare.html"), self.html().as_bytes()).map_err(|e| e.to_string())
    }

    /// `compare.html`: one section per scene, a chart per key figure and a table of every figure.
    pub fn html(&self) -> String {
        let r = &self.record;
        let base = r.baseline_index();
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>unitwin batch comparison</title>\n<style>{STYLE}</style></head><body>\n"
        );
        let _ = writeln!(
            h,
            "<h1>Batch comparison</h1>\n<p>{} scene(s) × {} variant(s) × {} seed(s) ({}); baseline <b>{}</b>; unitwin {}; manifest key <code>{}</code>.</p>",
            r.scenes.len(),
            r.variants.len(),
            r.seeds.len(),
            esc(&r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
            esc(&r.baseline),
            esc(&r.unitwin_version),
            esc(r.manifest_key.get(..16).unwrap_or(&r.manifest_key)),
        );
        let _ = writeln!(
            h,
            "<p class=\"note\">Means over seeds with 95 % Student t intervals (mean ± t(0.975, n−1)·s/√n). Differences \
             to the baseline are paired by seed: each seed gives every variant the same random streams (common \
             random numbers), so the interval of the mean difference d̄ ± t(0.975, n−1)·s<sub>d</sub>/√n over the \
             seeds both ran is narrower than Welch's for independent samples. A difference whose interval excludes 0 \
             is marked ▲ (higher) or ▼ (lower).</p>"
        );
        if !self.missing.is_empty() {
            let _ = writeln!(
                h,
                "<p class=\"warn\">{} run(s) missing: {}</p>",
                self.missing.len(),
                esc(&self.missing.join(", "))
            );
        }
        for (si, rows) in self.scenes.iter().enumerate() {
            let _ = writeln!(h, "<h2>{}</h2>", esc(&r.scenes[si]));
            let _ = writeln!(h, "<div class=\"charts\">");
            for row in rows.iter().filter(|row| is_key_figure(&row.key)) {
                h.push_str(&chart(row, &r.variants, base));
            }
            let _ = writeln!(h, "</div>");
            let _ = write!(h, "<table><tr><th>figure</th>");
            for (vi, v) in r.variants.iter().enumerate() {
                let mark = if vi == base { " (baseline)" } else { "" };
                let _ = write!(h, "<th>{}{mark}</th>", esc(v));
            }
            let _ = writeln!(h, "</tr>");
            for row in rows {
                let _ = write!(h, "<tr><td>{} <span class=\"unit\">{}</span></td>", esc(&row.label), esc(row.unit));
                for vi in 0..r.variants.len() {
                    let e = estimate(&row.values[vi]);
                    let _ = write!(h, "<td>{}", interval_text(e));
                    if vi != base {
                        let d = paired_difference(&row.values[vi], &row.values[base]);
                        let (class, arrow) = match d.and_then(|d| Some((d.low()?, d.high()?))) {
                            Some((lo, _)) if lo > 0.0 => ("up", " ▲"),
                            Some((_, hi)) if hi < 0.0 => ("down", " ▼"),
                            _ => ("same", ""),
                        };
                        let _ = write!(h, "<br><span class=\"{class}\">Δ {}{arrow}</span>", interval_text(d));
                    }
                    let _ = write!(h, "</td>");
                }
                let _ = writeln!(h, "</tr>");
            }
            let _ = writeln!(h, "</table>");
        }
        h.push_str("</body></html>\n");
        h
    }
}

pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right;vertical-align:top}\
td:first-child,th:first-child{text-align:left}.unit{color:#777;font-size:.85em}.note{color:#555;font-size:.9em}\
.warn{color:#a00}.up{color:#b33}.down{color:#36b}.same{color:#777}.charts{display:flex;flex-wrap:wrap;gap:1em}\
svg{border:1px solid #eee}";

fn is_key_figure(key: &str) -> bool {
    matches!(key, "evacuation_time" | "peak_density" | "time_above_4" | "agents_exited")
        || (key.starts_with("line:") && key.ends_with(":flow"))
}

/// A horizontal chart: each variant's mean as a dot with its 95 % interval as a whisker.
fn chart(row: &FigureRow, variants: &[String], base: usize) -> String {
    let estimates: Vec<Option<Estimate>> = row.values.iter().map(|v| estimate(v)).collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for e in estimates.iter().flatten() {
        lo = lo.min(e.low().unwrap_or(e.mean));
        hi = hi.max(e.high().unwrap_or(e.mean));
    }
    if !lo.is_finite() {
        return String::new();
    }
    lo = lo.min(0.0);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let (w, label_w, row_h) = (520.0, 150.0, 22.0);
    let height = 30.0 + row_h * variants.len() as f64 + 20.0;
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * (w - label_w - 20.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" role=\"img\"><title>{}</title>",
        esc(&row.label)
    );
    let _ = writeln!(
        s,
        "<text x=\"4\" y=\"16\" font-size=\"12\" font-weight=\"bold\">{} ({})</text>",
        // Without the explanation in brackets, which the table gives.
        esc(row.label.split(" (").next().unwrap_or(&row.label)),
        esc(row.unit)
    );
    for (vi, (name, e)) in variants.iter().zip(&estimates).enumerate() {
        let y = 30.0 + row_h * (vi as f64 + 0.5);
        let colour = if vi == base { "#444" } else { "#c60" };
        let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{}</text>", y + 4.0, esc(name));
        let Some(e) = e else { continue };
        if let (Some(a), Some(b)) = (e.low(), e.high()) {
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                x(a),
                x(b)
            );
        }
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\"><title>{}</title></circle>",
            x(e.mean),
            interval_text(Some(*e))
        );
    }
    let axis_y = 30.0 + row_h * variants.len() as f64 + 12.0;
    let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{axis_y:.1}\" font-size=\"11\">{}</text>", x(lo), fmt_num(lo));
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{axis_y:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        x(hi),
        fmt_num(hi)
    );
    s.push_str("</svg>\n");
    s
}

pub(super) fn estimate(values: &[Option<f64>]) -> Option<Estimate> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    Estimate::of(&present)
}

pub(super) fn interval_text(e: Option<Estimate>) -> String {
    match e {
        None => "–".into(),
        Some(e) => match (e.low(), e.high()) {
            (Some(a), Some(b)) => format!("{} [{}, {}] (n={})", fmt_num(e.mean), fmt_num(a), fmt_num(b), e.n),
            _ => format!("{} (n={})", fmt_num(e.mean), e.n),
        },
    }
}

pub(super) fn fmt_num(v: f64) -> String {
    let text = if v.abs() >= 100.0 { format!("{v:.1}") } else { format!("{v:.3}") };
    // A tiny negative rounds to "-0.000", which reads as a sign that is not there.
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// Numbers in `compare.csv`: fixed to 6 decimals (identical text for identical values), empty
/// when undefined.
pub(super) fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

pub(super) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The figures of one finished run.
pub fn run_figures(dir: &Path) -> Result<Vec<Figure>, String> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let s: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not a unitwin summary: {e}", path.display()))?;
    let mut figures = Vec::new();
    let mut push = |key: String, label: String, unit: &'static str, value: Option<f64>| {
        figures.push(Figure { key, label, unit, value });
    };
    let f = |v: &Value| v.as_f64();
    push(
        "evacuation_time".into(),
        "evacuation time (last agent out; only runs where everyone left)".into(),
        "s",
        f(&s["evacuation_time"]),
    );
    push("agents_spawned".into(), "agents spawned".into(), "persons", f(&s["agents"]["spawned"]));
    push("agents_exited".into(), "agents exited".into(), "persons", f(&s["agents"]["exited"]));
    push("agents_on_site".into(), "agents on site at the end".into(), "persons", f(&s["agents"]["on_site"]));
    push(
        "peak_density".into(),
        "peak local density (1 m disc)".into(),
        "persons/m²",
        Some(f(&s["peak_density"]["density"]).unwrap_or(0.0)),
    );
    let traj = dir.join("trajectories.txt");
    push(
        "time_above_4".into(),
        format!("time with a local density above {DENSE} persons/m² somewhere"),
        "s",
        Some(time_above(&traj, DENSE)?),
    );
    for (key, threshold) in [("person_seconds_above_4", 4), ("person_seconds_above_6", 6)] {
        if s[key].is_number() {
            push(
                key.into(),
                format!("person-seconds with a local density above {threshold} persons/m² (anywhere)"),
                "person·s",
                f(&s[key]),
            );
        }
    }
    if let Some(events) = s["events"].as_array() {
        let first = events.iter().find(|e| matches!(e["origin"].as_str(), Some("Live" | "Playbook")));
        push(
            "first_measure".into(),
            "first live or playbook measure (time)".into(),
            "s",
            first.and_then(|e| f(&e["t"])),
        );
        // The rehearsal's incident (a timed event marked `incident: true`) and the first measure
        // taken at or after it: timed in the scene, live, by a playbook or by a running measure.
        let incident = events.iter().find(|e| e["origin"].as_str() == Some("Incident")).and_then(|e| f(&e["t"]));
        if let Some(at) = incident {
            let response = events
                .iter()
                .filter(|e| e["origin"].as_str().is_some_and(|o| o != "Incident"))
                .filter_map(|e| f(&e["t"]))
                .find(|t| *t >= at - 1e-9);
            push(
                "intervention_delay".into(),
                "first measure's delay after the incident".into(),
                "s",
                response.map(|t| t - at),
            );
        }
    }
    if let Some(exits) = s["exits"].as_object() {
        for (id, n) in exits {
            push(format!("exit:{id}"), format!("agents out by exit {id}"), "persons", f(n));
        }
    }
    for line in s["lines"].as_array().into_iter().flatten() {
        let id = line["id"].as_str().unwrap_or("?");
        let ltr = f(&line["left_to_right"]).unwrap_or(0.0);
        let rtl = f(&line["right_to_left"]).unwrap_or(0.0);
        push(format!("line:{id}:crossings"), format!("line {id}: crossings, both ways"), "persons", Some(ltr + rtl));
        let flow = match (f(&line["first"]), f(&line["last"])) {
            (Some(a), Some(b)) if b > a => Some((ltr + rtl) / (b - a)),
            _ => None,
        };
        push(
            format!("line:{id}:flow"),
            format!("line {id}: mean flow between first and last crossing"),
            "persons/s",
            flow,
        );
    }
    for area in s["areas"].as_array().into_iter().flatten() {
        let id = area["id"].as_str().unwrap_or("?");
        push(
            format!("area:{id}:max_density"),
            format!("area {id}: largest density"),
            "persons/m²",
            f(&area["max_density"]),
        );
        push(
            format!("area:{id}:mean_density"),
            format!("area {id}: mean density"),
            "persons/m²",
            f(&area["mean_density"]),
        );
        for (i, threshold) in [4, 6].iter().enumerate() {
            if let Some(v) = area["person_seconds_above"].get(i).and_then(Value::as_f64) {
                push(
                    format!("area:{id}:person_seconds_above_{threshold}"),
                    format!("area {id}: person-seconds above {threshold} persons/m² (local density)"),
                    "person·s",
                    Some(v),
                );
            }
        }
        let alarm = s["alarms"].as_array().into_iter().flatten().find(|a| a["area"].as_str() == Some(id));
        push(
            format!("area:{id}:seconds_in_alarm"),
            format!("area {id}: time in a density alarm (above 4 persons/m² moving, 4.7 standing)"),
            "s",
            Some(alarm.and_then(|a| f(&a["seconds"])).unwrap_or(0.0)),
        );
        for (i, level) in ["yellow", "orange", "red"].iter().enumerate() {
            if let Some(v) = area["seconds_at_warning"].get(i).and_then(Value::as_f64) {
                push(
                    format!("area:{id}:seconds_at_{level}"),
                    format!("area {id}: time at {level} warning or above"),
                    "s",
                    Some(v),
                );
            }
        }
    }
    for fallen in s["fallen"].as_array().into_iter().flatten() {
        let id = fallen["id"].as_str().unwrap_or("?");
        push(
            format!("fallen:{id}:seconds_pressed"),
            format!("fallen person {id}: time with someone within reach above 4 persons/m²"),
            "s",
            f(&fallen["seconds_pressed"]),
        );
        push(
            format!("fallen:{id}:max_near"),
            format!("fallen person {id}: most people within reach at once"),
            "persons",
            f(&fallen["max_near"]),
        );
        for (i, threshold) in [4, 6].iter().enumerate() {
            if let Some(v) = fallen["person_seconds_above"].get(i).and_then(Value::as_f64) {
                push(
                    format!("fallen:{id}:person_seconds_above_{threshold}"),
                    format!("fallen person {id}: person-seconds within reach above {threshold} persons/m²"),
                    "person·s",
                    Some(v),
                );
            }
        }
    }
    for line in s["hold_lines"].as_array().into_iter().flatten() {
        let id = line["id"].as_str().unwrap_or("?");
        push(
            format!("hold:{id}:crossed"),
            format!("hold line {id}: people let through"),
            "persons",
            f(&line["crossed"]),
        );
        push(
            format!("hold:{id}:waited"),
            format!("hold line {id}: people held, then through"),
            "persons",
            f(&line["waited"]),
        );
        push(format!("hold:{id}:wait_mean"), format!("hold line {id}: mean wait"), "s", f(&line["wait_mean"]));
        push(format!("hold:{id}:wait_p95"), format!("hold line {id}: 95th percentile wait"), "s", f(&line["wait_p95"]));
        push(
            format!("hold:{id}:still_waiting"),
            format!("hold line {id}: people still waiting at the end"),
            "persons",
            f(&line["still_waiting"]),
        );
        push(
            format!("hold:{id}:left_without_crossing"),
            format!("hold line {id}: people who stood at the line or in its queue, then left without crossing it"),
            "persons",
            f(&line["left_without_crossing"]),
        );
    }
    let kept = &s["kept_outside"];
    if kept.is_object() {
        push(
            "kept_outside_peak".into(),
            "most arrivals kept outside at once (no room at the door)".into(),
            "persons",
            f(&kept["peak"]),
        );
        push("kept_outside_at_end".into(), "arrivals kept outside at the end".into(), "persons", f(&kept["at_end"]));
    }
    if let Some(firings) = s["playbooks"].as_array() {
        push("playbook_firings".into(), "playbook firings".into(), "count", Some(firings.len() as f64));
    }
    let t = &s["traffic"];
    if t.is_object() {
        push("vehicles_arrived".into(), "vehicles through".into(), "vehicles", f(&t["vehicles_arrived"]));
        push("vehicle_delay".into(), "mean vehicle delay".into(), "s", f(&t["mean_trip_delay"]));
        push("conflicts".into(), "pedestrian–vehicle conflicts".into(), "count", f(&t["conflicts"]));
    }
    Ok(figures)
}

/// Seconds of a run's trajectories during which somewhere a local density (persons within
/// `DENSITY_RADIUS` of an agent, itself included, per disc area: the measure of `peak_density`)
/// exceeded `threshold`: the frames where it did, times the frame interval. Agents at different
/// heights (levels) do not count for each other.
pub fn time_above(path: &Path, threshold: f64) -> Result<f64, String> {
    use std::io::BufRead;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    // Streamed: a long run's trajectories run to gigabytes.
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(cannot)?);
    let bad = |line: usize| format!("{}:{line}: not a unitwin trajectory line", path.display());
    let mut framerate = None;
    let mut frames_above = 0u64;
    let mut frame: Option<i64> = None;
    let mut points: Vec<[f64; 3]> = Vec::new();
    let mut flush = |points: &mut Vec<[f64; 3]>| {
        if max_density(points) > threshold {
            frames_above += 1;
        }
        points.clear();
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(cannot)?;
        let line = line.as_str();
        if let Some(rest) = line.strip_prefix("#framerate:") {
            framerate = rest.trim().parse::<f64>().ok();
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split_whitespace();
        let (_id, f, x, y, z) = (cols.next(), cols.next(), cols.next(), cols.next(), cols.next());
        let f: i64 = f.and_then(|v| v.parse().ok()).ok_or_else(|| bad(i + 1))?;
        let p = [x, y, z].map(|v| v.and_then(|v| v.parse::<f64>().ok()));
        let [Some(x), Some(y), Some(z)] = p else { return Err(bad(i + 1)) };
        if frame != Some(f) {
            flush(&mut points);
            frame = Some(f);
        }
        points.push([x, y, z]);
    }
    flush(&mut points);
    let framerate = framerate.filter(|r| *r > 0.0).ok_or_else(|| format!("{}: no #framerate line", path.display()))?;
    Ok(frames_above as f64 / framerate)
}

/// The largest local density around any of these agents, by a grid of cells one radius wide.
fn max_density(points: &[[f64; 3]]) -> f64 {
    let r = DENSITY_RADIUS;
    let cell = |p: &[f64; 3]| ((p[0] / r).floor() as i64, (p[1] / r).floor() as i64, p[2].to_bits());
    let mut grid: BTreeMap<(i64, i64, u64), Vec<usize>> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        grid.entry(cell(p)).or_default().push(i);
    }
    let mut most = 0usize;
    for p in points {
        let (cx, cy, z) = cell(p);
        let mut n = 0;
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &j in grid.get(&(cx + dx, cy + dy, z)).into_iter().flatten() {
                    let q = &points[j];
                    if (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) <= r * r {
                        n += 1;
                    }
                }
            }
        }
        most = most.max(n);
    }
    most as f64 / (std::f64::consts::PI * r * r)
}

/// The runs of `record` that none of `dirs` holds finished.
pub fn missing_runs(record: &BatchRecord, dirs: &[PathBuf]) -> Vec<RunId> {
    record.runs().into_iter().filter(|run| !dirs.iter().any(|d| run_finished(&record.run_dir(d, run)))).collect()
}
