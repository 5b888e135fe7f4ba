//! `report.html` and its CSVs: one self-contained page (inline SVG charts and plan maps, a canvas
//! replay, no network) showing what a run found, with every chart's data beside it as CSV.

use std::collections::BTreeMap;
use std::fmt::Write;

use bevy::math::DVec2;

use super::charts::{Band, FONT_STACK, LOS_COLOURS, LineChart, Series, base64, esc, tick};
use super::replay::ReplayBuffer;
use super::summary::{RunRecord, Summary};
use crate::draw::{DrawDoorKind, DrawMeasurement, DrawTwin};
use crate::geom::ring_contains;
use crate::metrics::Measurements;
use crate::metrics::cells::{
    CONGESTION_DENSITY, CONGESTION_SHARE, FloorCells, LOS_NAMES, fruin_los, los_upper_density,
};
use crate::twin::Twin;

/// The files the report adds to a run folder.
pub const REPORT_FILES: [&str; 7] = [
    "report.html",
    "report_nt.csv",
    "report_flows.csv",
    "report_density.csv",
    "report_los.csv",
    "report_hotspots.csv",
    "report_cells.csv",
];

/// Flows at measurement lines are averaged over this window (s), or one frame if longer.
pub const FLOW_WINDOW: f64 = 10.0;
/// Hotspots listed in the page (the CSV lists them all, up to `MAX_HOTSPOTS`).
const HOTSPOTS_SHOWN: usize = 15;
const MAX_HOTSPOTS: usize = 1000;

const STYLE: &str = include_str!("../../assets/report/report.css");
const SCRIPT: &str = include_str!("../../assets/report/report.js");

/// What the report is made of: the run's summary and record, and what was measured.
pub struct ReportInput<'a> {
    pub twin: &'a Twin,
    pub summary: &'a Summary,
    pub record: &'a RunRecord,
    pub measurements: &'a Measurements,
    pub replay: &'a ReplayBuffer,
}

/// A cluster of neighbouring cells that reached LoS F.
#[derive(Clone, Debug)]
pub struct Hotspot {
    pub level: String,
    /// Centre of its densest cell, world coordinates.
    pub x: f64,
    pub y: f64,
    pub min: DVec2,
    pub max: DVec2,
    pub cells: usize,
    pub peak_density: f64,
    pub peak_t: f64,
    /// Longest time one of its cells spent at LoS F, and above 4 persons/m², s.
    pub seconds_los_f: f64,
    pub seconds_above_congestion: f64,
    /// A measurement area holding it, or the nearest door.
    pub near: String,
}

/// The report page and its CSVs, as (file name, contents), in [`REPORT_FILES`] order.
pub fn build(input: &ReportInput) -> Vec<(&'static str, String)> {
    let data = ReportData::new(input);
    let html = page(input, &data);
    vec![
        ("report.html", html),
        ("report_nt.csv", data.nt_csv()),
        ("report_flows.csv", data.flows_csv()),
        ("report_density.csv", data.density_csv()),
        ("report_los.csv", data.los_csv(input)),
        ("report_hotspots.csv", hotspots_csv(&data.hotspots)),
        ("report_cells.csv", cells_csv(input)),
    ]
}

/// A measurement line: its name, crossings so far [left→right, right→left] and flows (persons/s)
/// at every row of the counts.
type LineSeries = (String, Vec<[u32; 2]>, Vec<[f64; 2]>);

/// The series the charts and CSVs share.
struct ReportData {
    /// Times of the counts: every frame, and the end of the run.
    times: Vec<f64>,
    /// Times of the area densities: every frame.
    area_times: Vec<f64>,
    interval: f64,
    on_site: Vec<u32>,
    spawned: Vec<u32>,
    exited: Vec<u32>,
    /// Arrivals kept outside for want of room at their door (scenes with arrival flows).
    kept_outside: Option<Vec<u32>>,
    /// Exit name → agents out by it so far, per frame (by name, as in `summary.json`).
    exits: BTreeMap<String, Vec<u32>>,
    lines: Vec<LineSeries>,
    /// Per area: (name, density per frame).
    areas: Vec<(String, Vec<f32>)>,
    hotspots: Vec<Hotspot>,
}

impl ReportData {
    fn new(input: &ReportInput) -> Self {
        let m = input.measurements;
        let space = &input.twin.space;
        let s = input.summary;
        let frames = m.timeline.len();
        let mut times: Vec<f64> = m.timeline.iter().map(|r| r.t).collect();
        let mut on_site: Vec<u32> = m.timeline.iter().map(|r| r.on_site).collect();
        let mut spawned: Vec<u32> = m.timeline.iter().map(|r| r.spawned).collect();
        let mut exited: Vec<u32> = m.timeline.iter().map(|r| r.exited).collect();
        let mut kept_outside: Option<Vec<u32>> =
            s.kept_outside.as_ref().map(|_| m.timeline.iter().map(|r| r.kept_outside.unwrap_or(0)).collect());
        // Frames are taken at the start of a step; the run's end (the summary's figures) comes after
        // the last one, so counts over time end with a row at the end of the run.
        let end_row = times.last().is_none_or(|&t| s.simulated_time > t + 1e-9);
        if end_row {
            times.push(s.simulated_time);
            on_site.push(s.agents.on_site);
            spawned.push(s.agents.spawned);
            exited.push(s.agents.exited);
            if let (Some(series), Some(k)) = (kept_outside.as_mut(), &s.kept_outside) {
                series.push(k.at_end);
            }
        }
        let rows = times.len();
        let mut exits = BTreeMap::new();
        let n_exits = m.exit_doors.len();
        for (k, door) in m.exit_doors.iter().enumerate() {
            let name = space.doors[*door].id.clone();
            let mut series: Vec<u32> =
                (0..frames).map(|f| m.exit_series.get(f * n_exits + k).copied().unwrap_or(0)).collect();
            if end_row {
                series.push(s.exits.get(&name).copied().unwrap_or(0));
            }
            exits.insert(name, series);
        }
        let n_lines = m.lines.len();
        let lines = m
            .lines
            .iter()
            .enumerate()
            .map(|(k, line)| {
                let mut cumulative: Vec<[u32; 2]> =
                    (0..frames).map(|f| m.line_series.get(f * n_lines + k).copied().unwrap_or([0, 0])).collect();
                if end_row {
                    cumulative.push([line.left_to_right, line.right_to_left]);
                }
                let mut flows = Vec::with_capacity(rows);
                let mut from = 0;
                for i in 0..rows {
                    while from < i && times[from] < times[i] - FLOW_WINDOW - 1e-9 {
                        from += 1;
                    }
                    let j = if from == i { i.saturating_sub(1) } else { from };
                    let dt = times[i] - times[j];
                    flows.push(if dt > 0.0 {
                        [0, 1].map(|d| (cumulative[i][d] as f64 - cumulative[j][d] as f64) / dt)
                    } else {
                        [0.0, 0.0]
                    });
                }
                (line.id.clone(), cumulative, flows)
            })
            .collect();
        let n_areas = m.areas.len();
        let areas = m
            .areas
            .iter()
            .enumerate()
            .map(|(k, a)| {
                (
                    a.id.clone(),
                    (0..frames).map(|f| m.area_series.get(f * n_areas + k).copied().unwrap_or(0.0)).collect(),
                )
            })
            .collect();
        let interval = input.twin.scenario.run.output_interval;
        ReportData {
            area_times: m.timeline.iter().map(|r| r.t).collect(),
            on_site,
            spawned,
            exited,
            kept_outside,
            times,
            interval,
            exits,
            lines,
            areas,
            hotspots: hotspots(input, interval),
        }
    }

    fn nt_csv(&self) -> String {
        let mut o = String::from("t,on_site,spawned,exited");
        for name in self.exits.keys() {
            let _ = write!(o, ",exit:{name}");
        }
        if self.kept_outside.is_some() {
            o.push_str(",kept_outside");
        }
        o.push('\n');
        for (i, t) in self.times.iter().enumerate() {
            let _ = write!(o, "{t:.3},{},{},{}", self.on_site[i], self.spawned[i], self.exited[i]);
            for series in self.exits.values() {
                let _ = write!(o, ",{}", series[i]);
            }
            if let Some(series) = &self.kept_outside {
                let _ = write!(o, ",{}", series[i]);
            }
            o.push('\n');
        }
        o
    }

    fn flows_csv(&self) -> String {
        let mut o = String::from(
            "t,line,crossed_left_to_right,crossed_right_to_left,flow_left_to_right_per_s,flow_right_to_left_per_s\n",
        );
        for (name, cumulative, flows) in &self.lines {
            for (i, t) in self.times.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "{t:.3},{name},{},{},{:.4},{:.4}",
                    cumulative[i][0], cumulative[i][1], flows[i][0], flows[i][1]
                );
            }
        }
        o
    }

    fn density_csv(&self) -> String {
        let mut o = String::from("t,area,density_persons_per_m2,los\n");
        for (name, series) in &self.areas {
            for (i, t) in self.area_times.iter().enumerate() {
                let d = series[i] as f64;
                let _ = writeln!(o, "{t:.3},{name},{d:.4},{}", LOS_NAMES[fruin_los(d)]);
            }
        }
        o
    }

    fn los_csv(&self, input: &ReportInput) -> String {
        let mut o = String::from(
            "area,level,area_m2,frames,share_A,share_B,share_C,share_D,share_E,share_F,share_above_4,significant_congestion,max_density,mean_density\n",
        );
        for a in &input.measurements.areas {
            let frames: u32 = a.frames_per_los.iter().sum();
            let share = |n: u32| if frames > 0 { n as f64 / frames as f64 } else { 0.0 };
            let _ = write!(o, "{},{},{:.2},{frames}", a.id, input.twin.space.levels[a.level].id, a.area_m2);
            for n in a.frames_per_los {
                let _ = write!(o, ",{:.4}", share(n));
            }
            let above = share(a.frames_above_congestion);
            let _ = writeln!(o, ",{above:.4},{},{:.4},{:.4}", above > CONGESTION_SHARE, a.max_density, a.mean_density);
        }
        o
    }
}

fn hotspots(input: &ReportInput, interval: f64) -> Vec<Hotspot> {
    let space = &input.twin.space;
    let mut out = Vec::new();
    for map in &input.measurements.cells.floors {
        let hot = |k: usize| fruin_los(map.peak[k] as f64) == 5;
        let mut seen = vec![false; map.peak.len()];
        let mut stack = Vec::new();
        for start in 0..map.peak.len() {
            if seen[start] || !hot(start) {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let (mut cells, mut worst, mut f_frames, mut c_frames) = (0, start, 0, 0);
            let (mut lo, mut hi) = ((usize::MAX, usize::MAX), (0, 0));
            while let Some(k) = stack.pop() {
                cells += 1;
                let (i, j) = (k % map.nx, k / map.nx);
                lo = (lo.0.min(i), lo.1.min(j));
                hi = (hi.0.max(i), hi.1.max(j));
                if map.peak[k] > map.peak[worst] || (map.peak[k] == map.peak[worst] && k < worst) {
                    worst = k;
                }
                f_frames = f_frames.max(map.frames_los_f[k]);
                c_frames = c_frames.max(map.frames_above_congestion[k]);
                for (di, dj) in [(-1i64, -1i64), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (ni, nj) = (i as i64 + di, j as i64 + dj);
                    if ni < 0 || nj < 0 || ni >= map.nx as i64 || nj >= map.ny as i64 {
                        continue;
                    }
                    let n = nj as usize * map.nx + ni as usize;
                    if !seen[n] && hot(n) {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
            let centre = cell_centre(map, worst);
            out.push(Hotspot {
                level: space.levels[map.level].id.clone(),
                x: centre.x,
                y: centre.y,
                min: map.origin + DVec2::new(lo.0 as f64, lo.1 as f64) * map.cell,
                max: map.origin + DVec2::new(hi.0 as f64 + 1.0, hi.1 as f64 + 1.0) * map.cell,
                cells,
                peak_density: map.peak[worst] as f64,
                peak_t: map.peak_t[worst] as f64,
                seconds_los_f: f_frames as f64 * interval,
                seconds_above_congestion: c_frames as f64 * interval,
                near: near(input, map, centre),
            });
        }
    }
    // Densest first; the order found (floor, then cell index) breaks ties.
    out.sort_by(|a, b| b.peak_density.total_cmp(&a.peak_density));
    out.truncate(MAX_HOTSPOTS);
    out
}

fn cell_centre(map: &FloorCells, k: usize) -> DVec2 {
    map.origin + DVec2::new((k % map.nx) as f64 + 0.5, (k / map.nx) as f64 + 0.5) * map.cell
}

/// Where a point is, in the scene's own names: the measurement area holding it, else the nearest
/// named object on its level (door, destination, measurement, building).
fn near(input: &ReportInput, map: &FloorCells, p: DVec2) -> String {
    for plan in &input.twin.scenario.measurements {
        if let crate::twin::MeasurementPlan::Area { id, level, polygon } = plan
            && *level == map.level
            && ring_contains(polygon, p)
        {
            return format!("in area {id}");
        }
    }
    let space = &input.twin.space;
    let v = |q: &[f64; 2]| DVec2::new(q[0], q[1]);
    let ring_distance = |ring: &[[f64; 2]]| {
        (0..ring.len())
            .map(|i| crate::geom::distance_to_segment(p, v(&ring[i]), v(&ring[(i + 1) % ring.len()])))
            .fold(f64::INFINITY, f64::min)
    };
    // (distance, kind, id); the first of equals in this order wins.
    let mut candidates: Vec<(f64, &str, &str)> = Vec::new();
    for d in space.doors.iter().filter(|d| d.level == map.level) {
        candidates.push((crate::geom::distance_to_segment(p, d.a, d.b), "door", &d.id));
    }
    for d in space.destinations.iter().filter(|d| d.level == map.level) {
        candidates.push((if ring_contains(&d.area, p) { 0.0 } else { ring_distance(&d.area) }, "destination", &d.id));
    }
    for plan in &input.twin.scenario.measurements {
        match plan {
            crate::twin::MeasurementPlan::Line { id, level, a, b } if *level == map.level => {
                candidates.push((crate::geom::distance_to_segment(p, *a, *b), "line", id));
            }
            crate::twin::MeasurementPlan::Area { id, level, polygon } if *level == map.level => {
                candidates.push((ring_distance(polygon), "area", id));
            }
            _ => {}
        }
    }
    for b in space.buildings.iter().filter(|b| b.level == map.level) {
        candidates.push((ring_distance(&b.footprint), "building", &b.id));
    }
    candidates
        .iter()
        .filter(|c| c.0.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or_else(String::new, |(dist, kind, id)| format!("{dist:.0} m from {kind} {id}"))
}

fn hotspots_csv(hotspots: &[Hotspot]) -> String {
    let mut o = String::from(
        "rank,level,x,y,x_min,y_min,x_max,y_max,cells,peak_density,peak_t,seconds_los_f,seconds_above_4,near\n",
    );
    for (i, h) in hotspots.iter().enumerate() {
        let _ = writeln!(
            o,
            "{},{},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{},{:.3},{:.2},{:.1},{:.1},{}",
            i + 1,
            h.level,
            h.x,
            h.y,
            h.min.x,
            h.min.y,
            h.max.x,
            h.max.y,
            h.cells,
            h.peak_density,
            h.peak_t,
            h.seconds_los_f,
            h.seconds_above_congestion,
            h.near
        );
    }
    o
}

fn cells_csv(input: &ReportInput) -> String {
    let interval = input.twin.scenario.run.output_interval;
    let mut o = String::from("level,x_min,y_min,size,peak_density,peak_t,los,seconds_los_f,seconds_above_4\n");
    for map in &input.measurements.cells.floors {
        let level = &input.twin.space.levels[map.level].id;
        for k in (0..map.peak.len()).filter(|&k| map.peak[k] > 0.0) {
            let corner = map.origin + DVec2::new((k % map.nx) as f64, (k / map.nx) as f64) * map.cell;
            let _ = writeln!(
                o,
                "{level},{:.2},{:.2},{},{:.3},{:.2},{},{:.1},{:.1}",
                corner.x,
                corner.y,
                map.cell,
                map.peak[k],
                map.peak_t[k],
                LOS_NAMES[fruin_los(map.peak[k] as f64)],
                map.frames_los_f[k] as f64 * interval,
                map.frames_above_congestion[k] as f64 * interval
            );
        }
    }
    o
}

/// A figure as shown, with its exact value for readers and tests (`data-figure`, `data-value`).
fn figure(name: &str, value: impl std::fmt::Display, shown: &str) -> String {
    format!(r#"<span data-figure="{}" data-value="{}">{}</span>"#, esc(name), esc(&value.to_string()), esc(shown))
}

fn chart_figure(id: &str, svg: &str, caption: &str, csv: &str) -> String {
    format!(
        r#"<figure class="chart" id="{id}">{svg}<figcaption>{caption} Data: <code>{csv}</code>. <button type="button" data-export="svg">SVG</button> <button type="button" data-export="png">PNG</button></figcaption></figure>"#,
        id = esc(id),
        caption = caption,
        csv = esc(csv)
    )
}

fn fmt_time(t: f64) -> String {
    if t >= 120.0 { format!("{t:.1} s ({}:{:04.1})", (t / 60.0).floor(), t % 60.0) } else { format!("{t:.1} s") }
}

/// A moment as minutes:seconds from the start of the run.
fn fmt_clock(t: f64) -> String {
    let whole = t.round() as u64;
    format!("{}:{:02}", whole / 60, whole % 60)
}

/// A duration in seconds, or minutes from two minutes on.
fn fmt_duration(t: f64) -> String {
    if t >= 120.0 { format!("{:.1} min", t / 60.0) } else { format!("{t:.1} s") }
}

/// A run's end or evacuation time, to the output step (two decimals), so that the two never seem
/// to disagree by rounding.
fn fmt_end_time(t: f64) -> String {
    if t >= 120.0 { format!("{t:.2} s ({}:{:05.2})", (t / 60.0).floor(), t % 60.0) } else { format!("{t:.2} s") }
}

fn page(input: &ReportInput, data: &ReportData) -> String {
    let r = input.record;
    let twin = input.twin;
    let draw = DrawTwin::new(&twin.space, &twin.scenario, &twin.scene().unit.name, (0.0, 0.0));
    let unit = &twin.scene().unit;
    let scene_name = file_name(&r.scene_file);
    let mut o = String::with_capacity(1 << 20);
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>Run report: {title}</title><style>/*<![CDATA[*/
{STYLE}/*]]>*/</style></head><body><header><h1>Run report: {title}</h1><p class="sub">{kind} · scene <code>{scene}</code> · seed {seed} · unitwin {version}</p></header>"#,
        title = esc(&unit.name),
        kind = esc(&format!("{:?}", unit.kind)),
        scene = esc(&scene_name),
        seed = r.seed,
        version = esc(&r.unitwin_version),
    );
    o.push_str(&key_figures(input, data));
    o.push_str(&provenance(input, &scene_name));
    o.push_str(&replay_section(input, &draw));
    o.push_str(&charts(input, data));
    o.push_str(&los_section(input));
    o.push_str(&maps_section(input, &draw));
    o.push_str(&hotspots_section(&data.hotspots));
    o.push_str(&places_section(input));
    o.push_str(&timeline_section(input, data));
    o.push_str(&notes(input));
    let _ = write!(
        o,
        r#"<div id="status" hidden="hidden"></div><script>//<![CDATA[
{SCRIPT}//]]></script></body></html>
"#
    );
    o
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

fn key_figures(input: &ReportInput, data: &ReportData) -> String {
    let s = input.summary;
    let mut o = String::from(r#"<section id="figures"><h2>Key figures</h2><dl class="figures">"#);
    let _ = write!(
        o,
        "<dt>Agents</dt><dd>{} spawned, {} exited, {} on site at the end</dd>",
        figure("spawned", s.agents.spawned, &s.agents.spawned.to_string()),
        figure("exited", s.agents.exited, &s.agents.exited.to_string()),
        figure("on_site", s.agents.on_site, &s.agents.on_site.to_string()),
    );
    if let Some(k) = &s.kept_outside {
        let peak = match k.peak_at {
            Some(t) => format!(
                "up to {} kept outside at once ({}) for want of room at their door",
                figure("kept_outside_peak", k.peak, &k.peak.to_string()),
                fmt_time(t)
            ),
            None => format!("{} kept outside at any time", figure("kept_outside_peak", 0, "nobody")),
        };
        let _ = write!(
            o,
            "<dt>Arrivals</dt><dd>{} due, {} came in; {peak}; {} outside at the end</dd>",
            figure("arrivals_due", k.due, &k.due.to_string()),
            figure("arrivals_let_in", k.let_in, &k.let_in.to_string()),
            figure("kept_outside_at_end", k.at_end, &k.at_end.to_string()),
        );
    }
    match s.evacuation_time {
        Some(t) => {
            let _ = write!(
                o,
                "<dt>Evacuation time</dt><dd>{} (the last agent left)</dd>",
                figure("evacuation_time", t, &fmt_end_time(t))
            );
        }
        None => {
            let why = if s.agents.spawned == 0 {
                "no pedestrians in this run"
            } else {
                "not everyone left by the end of the run"
            };
            let _ = write!(o, "<dt>Evacuation time</dt><dd>{} — {why}</dd>", figure("evacuation_time", "none", "none"));
        }
    }
    let _ = write!(
        o,
        "<dt>Simulated</dt><dd>{}</dd>",
        figure("simulated_time", s.simulated_time, &fmt_end_time(s.simulated_time))
    );
    let exits: Vec<String> = s
        .exits
        .iter()
        .map(|(name, n)| format!("{} {}", esc(name), figure(&format!("exit:{name}"), n, &n.to_string())))
        .collect();
    let _ = write!(
        o,
        "<dt>Left by exit</dt><dd>{}</dd>",
        if exits.is_empty() { "no exits".into() } else { exits.join(", ") }
    );
    match &s.peak_density {
        Some(p) => {
            let los = LOS_NAMES[fruin_los(p.density)];
            let _ = write!(
                o,
                "<dt>Peak local density</dt><dd>{} persons/m² (LoS {los}) at ({:.1}, {:.1}) on {}, t = {}</dd>",
                figure("peak_density", p.density, &format!("{:.2}", p.density)),
                p.x,
                p.y,
                esc(&p.level),
                fmt_time(p.t)
            );
        }
        None => o.push_str("<dt>Peak local density</dt><dd>nobody on site</dd>"),
    }
    let map_peak = input.measurements.cells.floors.iter().flat_map(|f| f.peak.iter().copied()).fold(0f32, f32::max);
    let _ = write!(
        o,
        "<dt>Densest map cell</dt><dd>{} persons/m² (the plan maps' highest cell)</dd>",
        figure("map_peak", map_peak, &format!("{map_peak:.2}"))
    );
    let congested: Vec<&str> = input
        .measurements
        .areas
        .iter()
        .filter(|a| share(a.frames_above_congestion, a.frames_per_los.iter().sum()) > CONGESTION_SHARE)
        .map(|a| a.id.as_str())
        .collect();
    let _ = write!(
        o,
        "<dt>Significant congestion</dt><dd>{} of {} measurement areas{}</dd>",
        figure("congested_areas", congested.len(), &congested.len().to_string()),
        input.measurements.areas.len(),
        if congested.is_empty() { String::new() } else { format!(": {}", esc(&congested.join(", "))) }
    );
    let last = data.area_times.last().copied().unwrap_or(0.0);
    let _ = write!(
        o,
        "</dl><p class=\"note\">Frames recorded: {} (every {} s, the last at t = {last:.1} s).</p></section>",
        data.area_times.len(),
        tick(data.interval)
    );
    o
}

fn share(n: u32, of: u32) -> f64 {
    if of > 0 { n as f64 / of as f64 } else { 0.0 }
}

fn provenance(input: &ReportInput, scene_name: &str) -> String {
    let r = input.record;
    let s = input.summary;
    let mut o = String::from(r#"<section id="provenance"><h2>Provenance</h2><table class="kv"><tbody>"#);
    let mut row = |k: &str, v: String| {
        let _ = write!(o, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    row("Unit", esc(&input.twin.scene().unit.name));
    row("Scene file", format!("<code>{}</code>", esc(scene_name)));
    row("Scene SHA-256", format!("<code data-figure=\"scene_sha256\">{}</code>", esc(&r.scene_sha256)));
    row("unitwin version", esc(&r.unitwin_version));
    row("Seed", figure("seed", r.seed, &r.seed.to_string()));
    row(
        "Step / output interval / navigation cell",
        format!("{} s / {} s / {} m", tick(r.step), tick(r.output_interval), tick(r.nav_cell)),
    );
    row("Run until", format!("{} s (simulated {:.2} s)", tick(r.until), s.simulated_time));
    row(
        "Commands",
        match &r.commands_replayed {
            Some(file) => format!(
                "replayed from <code>{}</code>; {} applied (see <code>commands.ron</code>)",
                esc(&file_name(file)),
                s.events.len()
            ),
            None => format!("the scene's timed events; {} applied (see <code>commands.ron</code>)", s.events.len()),
        },
    );
    let populations: Vec<String> = input
        .twin
        .scene()
        .populations
        .iter()
        .map(|p| match &p.placement {
            crate::scene::Placement::Area { count, .. } => {
                format!("{} ({count} placed on {})", esc(&p.id), esc(&p.level))
            }
            crate::scene::Placement::Arrivals { door, total, .. } => format!(
                "{} (arriving at {}{})",
                esc(&p.id),
                esc(door),
                total.map_or(String::new(), |t| format!(", {t} in all"))
            ),
        })
        .collect();
    row("Populations", populations.join("; "));
    // A relative path as given on the command line; an absolute one would name this machine.
    let portable =
        |path: &str| if std::path::Path::new(path).is_absolute() { file_name(path) } else { path.to_string() };
    let repeat = format!(
        "unitwin run {} --seed {} --until {}{}",
        super::summary::shell_word(&portable(&r.scene_file)),
        r.seed,
        r.until,
        r.commands_replayed
            .as_ref()
            .map_or(String::new(), |c| format!(" --commands {}", super::summary::shell_word(&portable(c))))
    );
    row("Repeat with", format!("<code>{}</code>", esc(&repeat)));
    o.push_str("</tbody></table></section>");
    o
}

fn charts(input: &ReportInput, data: &ReportData) -> String {
    let mut o = String::from(r#"<section id="charts"><h2>Over time</h2>"#);
    let t = &data.times;
    let mut series = vec![Series {
        name: "on site".into(),
        points: t.iter().zip(&data.on_site).map(|(t, n)| (*t, *n as f64)).collect(),
        dashed: false,
    }];
    for (name, counts) in &data.exits {
        series.push(Series {
            name: format!("out by {name}"),
            points: t.iter().zip(counts).map(|(t, n)| (*t, *n as f64)).collect(),
            dashed: false,
        });
    }
    if let Some(kept) = data.kept_outside.as_ref().filter(|k| k.iter().any(|&n| n > 0)) {
        series.push(Series {
            name: "kept outside".into(),
            points: t.iter().zip(kept).map(|(t, n)| (*t, *n as f64)).collect(),
            dashed: true,
        });
    }
    let nt = LineChart {
        id: "chart-nt",
        title: "Persons on site and out by each exit, N(t)",
        x_label: "time (s)",
        y_label: "persons",
        series,
        bands: vec![],
        rules: vec![],
        y_min_top: 1.0,
    };
    o.push_str(&chart_figure(
        "chart-nt",
        &nt.svg(),
        "On site: spawned minus exited. Exits: agents who left by each, so far. Kept outside (dashed, shown once \
         anyone was): arrivals due by the arrival rates but not yet in for want of room at their door.",
        "report_nt.csv",
    ));
    if !data.lines.is_empty() {
        let mut series = Vec::new();
        for (name, cumulative, flows) in &data.lines {
            for (d, label) in [(0, "L→R"), (1, "R→L")] {
                if cumulative.last().is_some_and(|c| c[d] > 0) {
                    series.push(Series {
                        name: format!("{name} {label}"),
                        points: t.iter().zip(flows).map(|(t, f)| (*t, f[d])).collect(),
                        dashed: d == 1,
                    });
                }
            }
        }
        let chart = LineChart {
            id: "chart-flows",
            title: "Flow at measurement lines",
            x_label: "time (s)",
            y_label: "persons/s",
            series,
            bands: vec![],
            rules: vec![],
            y_min_top: 0.5,
        };
        o.push_str(&chart_figure(
            "chart-flows",
            &chart.svg(),
            &format!("Crossings per second over the preceding {} s. L→R: from the left of the line (looking from its first point to its second) to its right; R→L: back.", tick(FLOW_WINDOW)),
            "report_flows.csv",
        ));
    }
    if !data.areas.is_empty() {
        let series = data
            .areas
            .iter()
            .map(|(name, d)| Series {
                name: name.clone(),
                points: data.area_times.iter().zip(d).map(|(t, d)| (*t, *d as f64)).collect(),
                dashed: false,
            })
            .collect();
        let mut bands = Vec::new();
        let mut lower = 0.0;
        for los in 0..6 {
            let upper = if los < 5 { los_upper_density(los) } else { 1e9 };
            bands.push(Band {
                from: lower,
                to: upper,
                fill: LOS_COLOURS[los],
                label: format!("LoS {}", LOS_NAMES[los]),
            });
            lower = upper;
        }
        let chart = LineChart {
            id: "chart-density",
            title: "Density in measurement areas",
            x_label: "time (s)",
            y_label: "persons/m²",
            series,
            bands,
            rules: vec![(CONGESTION_DENSITY, "4 persons/m² (IMO congestion)".into())],
            // Up to LoS E at least, so that a calm area is seen to be calm.
            y_min_top: 2.5,
        };
        o.push_str(&chart_figure(
            "chart-density",
            &chart.svg(),
            "Persons in the area divided by its area, at every frame; backgrounds: Fruin's Levels of Service.",
            "report_density.csv",
        ));
    }
    let _ = input;
    o.push_str("</section>");
    o
}

fn los_section(input: &ReportInput) -> String {
    let areas = &input.measurements.areas;
    let mut o = String::from(r#"<section id="los"><h2>Level of Service per measurement area</h2>"#);
    if areas.is_empty() {
        o.push_str("<p>The scene has no measurement areas.</p></section>");
        return o;
    }
    o.push_str(r#"<table class="data" id="los-table"><thead><tr><th>area</th><th>level</th><th>m²</th>"#);
    for name in LOS_NAMES {
        let _ = write!(o, "<th>{name}</th>");
    }
    o.push_str("<th>share of time</th><th>&gt; 4 p/m²</th><th>max</th><th>mean</th><th>significant congestion</th></tr></thead><tbody>");
    for a in areas {
        let frames: u32 = a.frames_per_los.iter().sum();
        let above = share(a.frames_above_congestion, frames);
        let congested = above > CONGESTION_SHARE;
        let _ = write!(
            o,
            "<tr data-area=\"{}\"><td>{}</td><td>{}</td><td>{:.0}</td>",
            esc(&a.id),
            esc(&a.id),
            esc(&input.twin.space.levels[a.level].id),
            a.area_m2
        );
        let mut bar = String::from(r#"<svg class="bar" viewBox="0 0 200 14" width="200" height="14">"#);
        let mut x = 0.0;
        for (los, n) in a.frames_per_los.iter().enumerate() {
            let p = share(*n, frames);
            let _ = write!(o, "<td>{:.0} %</td>", p * 100.0);
            if p > 0.0 {
                let _ = write!(
                    bar,
                    r#"<rect x="{:.2}" y="0" width="{:.2}" height="14" fill="{}"/>"#,
                    x,
                    p * 200.0,
                    LOS_COLOURS[los]
                );
            }
            x += p * 200.0;
        }
        bar.push_str("</svg>");
        let _ = write!(
            o,
            "<td>{bar}</td><td>{:.1} %</td><td>{:.2}</td><td>{:.2}</td><td class=\"{}\" data-congested=\"{congested}\">{}</td></tr>",
            above * 100.0,
            a.max_density,
            a.mean_density,
            if congested { "flag" } else { "ok" },
            if congested { "YES" } else { "no" }
        );
    }
    let _ = write!(
        o,
        "</tbody></table><p class=\"note\">Share of frames at each Level of Service of the area's density (persons in the area ÷ its area). Significant congestion (IMO MSC.1/Circ.1533): above {} persons/m² for more than {:.0} % of the time. Data: <code>report_los.csv</code>.</p></section>",
        tick(CONGESTION_DENSITY),
        CONGESTION_SHARE * 100.0
    );
    o
}

/// The classes of the time-above-4 map: upper bounds in seconds and colours.
const TIME_CLASSES: [(f64, &str, &str); 4] = [
    (10.0, "#fcc5c0", "≤ 10 s"),
    (60.0, "#f768a1", "10–60 s"),
    (300.0, "#ae017e", "1–5 min"),
    (f64::INFINITY, "#49006a", "> 5 min"),
];

fn maps_section(input: &ReportInput, draw: &DrawTwin) -> String {
    let mut o = String::from(r#"<section id="maps"><h2>Plan maps</h2>"#);
    let interval = input.twin.scenario.run.output_interval;
    for map in &input.measurements.cells.floors {
        let Some(level) = draw.level(map.level) else { continue };
        let peak_svg = plan_svg(
            input,
            draw,
            map,
            &MapLook {
                id: &format!("map-peak-{}", level.name),
                title: &format!("Peak local density, {}", level.name),
                class: &|k| (map.peak[k] > 0.0).then(|| fruin_los(map.peak[k] as f64)),
                colours: &LOS_COLOURS,
                legend: &los_legend(),
            },
        );
        o.push_str(&chart_figure(
            &format!("map-peak-{}", level.name),
            &peak_svg,
            &format!("Level {}: the highest local density of any agent in each {} m cell over the run, coloured by Fruin's Level of Service.", esc(&level.name), tick(map.cell)),
            "report_cells.csv",
        ));
        let colours: Vec<&str> = TIME_CLASSES.iter().map(|c| c.1).collect();
        let legend: Vec<(String, &str)> = TIME_CLASSES.iter().map(|c| (c.2.to_string(), c.1)).collect();
        let time_svg = plan_svg(
            input,
            draw,
            map,
            &MapLook {
                id: &format!("map-time-{}", level.name),
                title: &format!("Time above 4 persons/m², {}", level.name),
                class: &|k| {
                    let secs = map.frames_above_congestion[k] as f64 * interval;
                    (secs > 0.0).then(|| TIME_CLASSES.iter().position(|c| secs <= c.0).unwrap_or(3))
                },
                colours: &colours,
                legend: &legend,
            },
        );
        o.push_str(&chart_figure(
            &format!("map-time-{}", level.name),
            &time_svg,
            &format!("Level {}: how long some agent in each cell had a local density above 4 persons/m²; cells never above it are not coloured.", esc(&level.name)),
            "report_cells.csv",
        ));
    }
    o.push_str("</section>");
    o
}

fn los_legend() -> Vec<(String, &'static str)> {
    (0..6)
        .map(|los| {
            let range = match los {
                0 => format!("≤ {:.2}", los_upper_density(0)),
                5 => format!("> {:.2}", los_upper_density(4)),
                _ => format!("{:.2}–{:.2}", los_upper_density(los - 1), los_upper_density(los)),
            };
            (format!("{} {range}", LOS_NAMES[los]), LOS_COLOURS[los])
        })
        .collect()
}

/// The extent of a floor's plan: its walkable space and buildings (else its walls), with a 1 m margin.
fn plan_bounds(input: &ReportInput, draw: &DrawTwin, map: &FloorCells) -> (DVec2, DVec2) {
    let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for lvl in draw.levels.iter().filter(|l| l.id == map.level) {
        for p in lvl.walkable.iter().flat_map(|p| &p.outer) {
            lo = lo.min(DVec2::new(p[0], p[1]));
            hi = hi.max(DVec2::new(p[0], p[1]));
        }
    }
    for b in input.twin.space.buildings.iter().filter(|b| b.level == map.level) {
        for p in &b.footprint {
            lo = lo.min(DVec2::new(p[0], p[1]));
            hi = hi.max(DVec2::new(p[0], p[1]));
        }
    }
    if !lo.x.is_finite() {
        let level = &input.twin.space.levels[map.level];
        (lo, hi) = (level.min, level.max);
    }
    (lo - DVec2::ONE, hi + DVec2::ONE)
}

/// What one plan map shows: its id and title, each cell's class (None: not drawn), the classes'
/// colours and the legend.
struct MapLook<'a> {
    id: &'a str,
    title: &'a str,
    class: &'a dyn Fn(usize) -> Option<usize>,
    colours: &'a [&'a str],
    legend: &'a [(String, &'a str)],
}

/// A floor's plan with its cells coloured by `class` (None: not drawn), and a legend, in pixels.
fn plan_svg(input: &ReportInput, draw: &DrawTwin, map: &FloorCells, look: &MapLook) -> String {
    let &MapLook { id, title, class, colours, legend } = look;
    let space = &input.twin.space;
    let (min, max) = plan_bounds(input, draw, map);
    let span = (max - min).max(DVec2::splat(1.0));
    let width = 860.0;
    let k = (width - 20.0) / span.x;
    let k = k.min(760.0 / span.y);
    let map_h = span.y * k;
    let height = map_h + 100.0;
    let px = |x: f64| x - min.x;
    let py = |y: f64| max.y - y;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg id="{}-svg" viewBox="0 0 {width} {height:.0}" width="{width}" height="{height:.0}" font-family="{FONT_STACK}" font-size="12" role="img" aria-label="{}"><rect x="0" y="0" width="{width}" height="{height:.0}" fill="#ffffff"/><text x="10" y="20" font-size="14" font-weight="bold">{}</text><g transform="translate(10 30) scale({k:.5})">"##,
        esc(id),
        esc(title),
        esc(title)
    );
    let sw = 1.0 / k;
    // Walkable space.
    let mut path = String::new();
    for lvl in draw.levels.iter().filter(|l| l.id == map.level) {
        for poly in &lvl.walkable {
            for ring in std::iter::once(&poly.outer).chain(&poly.holes) {
                for (i, p) in ring.iter().enumerate() {
                    let _ = write!(path, "{}{:.2} {:.2}", if i == 0 { "M" } else { "L" }, px(p[0]), py(p[1]));
                }
                path.push('Z');
            }
        }
    }
    let _ = write!(o, r##"<path d="{path}" fill="#eeeeee" fill-rule="evenodd" stroke="none"/>"##);
    for b in space.buildings.iter().filter(|b| b.level == map.level) {
        let pts: Vec<String> = b.footprint.iter().map(|p| format!("{:.2},{:.2}", px(p[0]), py(p[1]))).collect();
        let _ = write!(
            o,
            r##"<polygon points="{}" fill="#c8c8c8" stroke="#999999" stroke-width="{sw:.4}"/>"##,
            pts.join(" ")
        );
    }
    // Cells: runs of one class along a row drawn as one rectangle.
    for j in 0..map.ny {
        let mut i = 0;
        while i < map.nx {
            let Some(c) = class(j * map.nx + i) else {
                i += 1;
                continue;
            };
            let start = i;
            while i < map.nx && class(j * map.nx + i) == Some(c) {
                i += 1;
            }
            let x = map.origin.x + start as f64 * map.cell;
            let y = map.origin.y + (j + 1) as f64 * map.cell;
            let _ = write!(
                o,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"/>"#,
                px(x),
                py(y),
                (i - start) as f64 * map.cell,
                map.cell,
                colours[c.min(colours.len() - 1)]
            );
        }
    }
    // Walls, doors, stairs, measurements.
    let mut walls = String::new();
    for lvl in draw.levels.iter().filter(|l| l.id == map.level) {
        for [a, b] in &lvl.walls {
            let _ = write!(walls, "M{:.2} {:.2}L{:.2} {:.2}", px(a[0]), py(a[1]), px(b[0]), py(b[1]));
        }
    }
    let _ = write!(o, r##"<path d="{walls}" fill="none" stroke="#333333" stroke-width="{:.4}"/>"##, 1.2 * sw);
    for d in draw.doors.iter().filter(|d| d.level == map.level) {
        let colour = match d.kind {
            DrawDoorKind::Exit => "#1b7837",
            DrawDoorKind::Entrance => "#2166ac",
            DrawDoorKind::Interior => "#8c510a",
            DrawDoorKind::StairOpening => "#762a83",
        };
        let _ = write!(
            o,
            r#"<line x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="{colour}" stroke-width="{:.4}"{}><title>{}</title></line>"#,
            px(d.a[0]),
            py(d.a[1]),
            px(d.b[0]),
            py(d.b[1]),
            4.0 * sw,
            if d.open { "" } else { r#" stroke-dasharray="2 1""# },
            esc(&d.name)
        );
        if d.kind == DrawDoorKind::Exit {
            let _ = write!(
                o,
                r##"<text x="{:.2}" y="{:.2}" font-size="{:.3}" fill="#1b7837">{}</text>"##,
                px((d.a[0] + d.b[0]) / 2.0) + 3.0 * sw,
                py((d.a[1] + d.b[1]) / 2.0) - 3.0 * sw,
                11.0 * sw,
                esc(&d.name)
            );
        }
    }
    for st in draw.stairs.iter().filter(|st| space.stairs[st.id].foot_level == map.level) {
        let pts: Vec<String> = st.corners.iter().map(|p| format!("{:.2},{:.2}", px(p[0]), py(p[1]))).collect();
        let _ = write!(
            o,
            r##"<polygon points="{}" fill="none" stroke="#762a83" stroke-width="{:.4}"><title>stair {}</title></polygon>"##,
            pts.join(" "),
            sw,
            esc(&st.name)
        );
    }
    for m in &draw.measurements {
        match m {
            DrawMeasurement::Area { name, level, polygon } if *level == map.level => {
                let pts: Vec<String> = polygon.iter().map(|p| format!("{:.2},{:.2}", px(p[0]), py(p[1]))).collect();
                let _ = write!(
                    o,
                    r##"<polygon points="{}" fill="none" stroke="#542788" stroke-width="{:.4}" stroke-dasharray="{:.3} {:.3}"/><text x="{:.2}" y="{:.2}" font-size="{:.3}" fill="#542788">{}</text>"##,
                    pts.join(" "),
                    1.5 * sw,
                    5.0 * sw,
                    3.0 * sw,
                    px(polygon[0][0]) + 2.0 * sw,
                    py(polygon[0][1]) - 2.0 * sw,
                    11.0 * sw,
                    esc(name)
                );
            }
            DrawMeasurement::Line { name, level, a, b } if *level == map.level => {
                let _ = write!(
                    o,
                    r##"<line x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="#542788" stroke-width="{:.4}"/><text x="{:.2}" y="{:.2}" font-size="{:.3}" fill="#542788">{}</text>"##,
                    px(a[0]),
                    py(a[1]),
                    px(b[0]),
                    py(b[1]),
                    2.0 * sw,
                    px(b[0]) + 2.0 * sw,
                    py(b[1]),
                    11.0 * sw,
                    esc(name)
                );
            }
            _ => {}
        }
    }
    o.push_str("</g>");
    // Scale bar, then the legend, in pixels.
    let mut bar_m = super::charts::nice_step(140.0 / k, 1.0);
    if bar_m * k > 160.0 {
        bar_m /= 2.0;
    }
    let y0 = 30.0 + map_h + 24.0;
    let _ = write!(
        o,
        r##"<line x1="10" y1="{y0:.1}" x2="{:.1}" y2="{y0:.1}" stroke="#000000" stroke-width="3"/><text x="10" y="{:.1}">{} m</text><text x="{:.1}" y="{:.1}" font-weight="bold">N ↑</text>"##,
        10.0 + bar_m * k,
        y0 + 16.0,
        tick(bar_m),
        20.0 + bar_m * k,
        y0 + 5.0
    );
    let caption = if legend.len() == 6 { "Level of Service (persons/m²):" } else { "Time above 4 persons/m²:" };
    let _ = write!(o, r##"<text x="220" y="{:.1}" fill="#333333">{caption}</text>"##, y0 - 8.0);
    let (mut x, mut y) = (220.0, y0 + 12.0);
    for (label, colour) in legend {
        let w = 30.0 + 7.0 * label.chars().count() as f64;
        if x + w > width - 10.0 {
            (x, y) = (220.0, y + 20.0);
        }
        let _ = write!(
            o,
            r##"<rect x="{x:.1}" y="{:.1}" width="14" height="14" fill="{colour}" stroke="#666666" stroke-width="0.5"/><text x="{:.1}" y="{y:.1}">{}</text>"##,
            y - 11.0,
            x + 18.0,
            esc(label)
        );
        x += w;
    }
    o.push_str("</svg>");
    o
}

fn hotspots_section(hotspots: &[Hotspot]) -> String {
    let mut o = String::from(r#"<section id="hotspots"><h2>Hotspots</h2>"#);
    if hotspots.is_empty() {
        o.push_str(r#"<p data-figure="hotspots" data-value="0">No cell reached LoS F (local density above 2.17 persons/m²).</p></section>"#);
        return o;
    }
    let _ = write!(
        o,
        r#"<p>Groups of neighbouring cells where some agent's local density reached LoS F (above 2.17 persons/m²), densest first; {} in all{}.</p><table class="data" id="hotspot-table"><thead><tr><th>#</th><th>level</th><th>where (x, y)</th><th>near</th><th>extent</th><th>peak p/m²</th><th>at (m:ss)</th><th>at LoS F</th><th>above 4 p/m²</th></tr></thead><tbody>"#,
        figure("hotspots", hotspots.len(), &hotspots.len().to_string()),
        if hotspots.len() > HOTSPOTS_SHOWN {
            format!(", the first {HOTSPOTS_SHOWN} shown (all in <code>report_hotspots.csv</code>)")
        } else {
            String::new()
        }
    );
    for (i, h) in hotspots.iter().take(HOTSPOTS_SHOWN).enumerate() {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>({:.1}, {:.1})</td><td>{}</td><td>{:.0} × {:.0} m ({} cells)</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&h.level),
            h.x,
            h.y,
            esc(&h.near),
            h.max.x - h.min.x,
            h.max.y - h.min.y,
            h.cells,
            h.peak_density,
            fmt_clock(h.peak_t),
            fmt_duration(h.seconds_los_f),
            fmt_duration(h.seconds_above_congestion)
        );
    }
    o.push_str("</tbody></table><p class=\"note\">Durations: the longest any one cell of the group spent there (frames × output interval).</p></section>");
    o
}

/// Places people stay at: stays begun, and visitors who found one full and passed it by, the most
/// passed by first (nothing for a scene without such places).
fn places_section(input: &ReportInput) -> String {
    let places = &input.summary.places;
    if places.is_empty() {
        return String::new();
    }
    let (stayed, passed_by) = places.iter().fold((0u32, 0u32), |(a, b), p| (a + p.stayed, b + p.passed_by));
    let mut o = String::from(r#"<section id="places"><h2>Places people stay at</h2>"#);
    let _ = write!(
        o,
        r#"<p>{} stays begun at {} places; {} times a visitor found a place full (no room, with <code>when_full: PassBy</code>) and passed it by.</p><table class="data" id="places-table"><thead><tr><th>place</th><th>stays begun</th><th>passed by full</th><th>share passed by</th></tr></thead><tbody>"#,
        figure("places_stayed", stayed, &stayed.to_string()),
        places.len(),
        figure("places_passed_by", passed_by, &passed_by.to_string()),
    );
    let mut rows: Vec<_> = places.iter().collect();
    rows.sort_by(|a, b| b.passed_by.cmp(&a.passed_by).then_with(|| a.id.cmp(&b.id)));
    for p in rows {
        let visits = p.stayed + p.passed_by;
        let share = if visits > 0 {
            format!("{:.0} %", 100.0 * f64::from(p.passed_by) / f64::from(visits))
        } else {
            "-".into()
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{share}</td></tr>",
            esc(&p.id),
            figure(&format!("stayed:{}", p.id), p.stayed, &p.stayed.to_string()),
            figure(&format!("passed_by:{}", p.id), p.passed_by, &p.passed_by.to_string()),
        );
    }
    o.push_str("</tbody></table></section>");
    o
}

fn timeline_section(input: &ReportInput, data: &ReportData) -> String {
    let s = input.summary;
    // (time, order, kind, what): the order keeps equal times in a fixed sequence.
    let mut rows: Vec<(f64, usize, String, String)> = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        rows.push((e.t, i, format!("command ({})", e.origin), esc(&e.action)));
    }
    // A firing is logged at the step its condition completed; its commands apply at the next.
    for (i, f) in s.playbooks.iter().flatten().enumerate() {
        rows.push((
            f.t,
            s.events.len() + i,
            "playbook".into(),
            format!("'{}' issued {}: {}", esc(&f.playbook), f.issued, esc(&f.figure)),
        ));
    }
    // One row per hold line: its first wave, and what all its waves let through.
    for line in &s.hold_lines {
        if let (Some(first), Some(last)) = (line.waves.first(), line.waves.last()) {
            let through: u32 = line.waves.iter().map(|w| w.admitted).sum();
            let wait = line.wait_mean.map_or(String::new(), |m| {
                format!(
                    "; {} waited, mean {:.0} s, 95th percentile {:.0} s",
                    line.waited,
                    m,
                    line.wait_p95.unwrap_or(m)
                )
            });
            let left = match line.left_without_crossing {
                0 => String::new(),
                n => format!("; {n} stood at the line or in its queue, then left without crossing it"),
            };
            rows.push((
                first.t,
                usize::MAX - 4,
                "waves".into(),
                format!(
                    "hold line '{}': {} wave(s) from {} to {}, {through} through{wait}{left}",
                    esc(&line.id),
                    line.waves.len(),
                    fmt_clock(first.t),
                    fmt_clock(last.t)
                ),
            ));
        }
    }
    // Each area's density alarms: the first spell, and how many and how long in all.
    for (k, alarms) in s.alarms.iter().enumerate() {
        let Some(first) = alarms.spells.first() else { continue };
        let peak = alarms.spells.iter().map(|a| a.peak_density).fold(0.0, f64::max);
        rows.push((
            first.from,
            usize::MAX - 2000 - k.min(1000),
            "alarm".into(),
            format!(
                "area {}: density alarm ({} crowd above {} persons/m²); {} spell(s), {:.0} s in all, up to {:.2} persons/m²",
                esc(&alarms.area),
                if first.crowd == crate::measures::CrowdState::Moving { "moving" } else { "standing" },
                first.crowd.alarm_density(),
                alarms.spells.len(),
                alarms.seconds,
                peak
            ),
        ));
    }
    // Each fallen person: when the crowd first pressed round them, or that it never did.
    for (k, fallen) in s.fallen.iter().enumerate() {
        let Some(down) = fallen.first_down else { continue };
        let (t, what) = match fallen.first_pressed_at {
            Some(t) => (
                t,
                format!(
                    "crowd pressing on fallen person '{}': someone within {} m above 4 persons/m² ({:.0} s in all; at most {} within reach, up to {:.2} persons/m²)",
                    esc(&fallen.id),
                    crate::metrics::FALL_RISK_REACH,
                    fallen.seconds_pressed,
                    fallen.max_near,
                    fallen.max_density_near
                ),
            ),
            None => (
                down,
                format!(
                    "fallen person '{}' down for {:.0} s; nobody within {} m above 4 persons/m² (at most {} within reach)",
                    esc(&fallen.id),
                    fallen.seconds_down,
                    crate::metrics::FALL_RISK_REACH,
                    fallen.max_near
                ),
            ),
        };
        rows.push((t, usize::MAX - 10 - k.min(1000), "risk".into(), what));
    }
    if let Some(first) = data.spawned.iter().position(|&n| n > 0) {
        rows.push((data.times[first], usize::MAX - 3, "crowd".into(), "first agents on site".into()));
    }
    if let Some((i, n)) = data.on_site.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))) {
        rows.push((data.times[i], usize::MAX - 2, "crowd".into(), format!("most on site: {n}")));
    }
    if let Some(p) = &s.peak_density {
        rows.push((
            p.t,
            usize::MAX - 1,
            "density".into(),
            format!("peak local density {:.2} persons/m² on {}", p.density, esc(&p.level)),
        ));
    }
    if let Some(t) = s.evacuation_time {
        rows.push((t, usize::MAX, "crowd".into(), "the last agent left".into()));
    }
    // When each measurement area first reached LoS F and first went above 4 persons/m².
    for (k, (name, series)) in data.areas.iter().enumerate() {
        let first = |test: &dyn Fn(f64) -> bool| series.iter().position(|d| test(*d as f64));
        if let Some(i) = first(&|d| fruin_los(d) == 5) {
            rows.push((data.area_times[i], 1_000_000 + 2 * k, "area".into(), format!("{} reaches LoS F", esc(name))));
        }
        if let Some(i) = first(&|d| d > CONGESTION_DENSITY) {
            rows.push((
                data.area_times[i],
                1_000_001 + 2 * k,
                "area".into(),
                format!("{} above 4 persons/m²", esc(name)),
            ));
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut o = String::from(
        r#"<section id="timeline"><h2>Events and commands</h2><table class="data" id="events-table"><thead><tr><th>t</th><th>kind</th><th>what</th></tr></thead><tbody>"#,
    );
    for (t, _, kind, what) in rows {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td><td>{what}</td></tr>", fmt_time(t), esc(&kind));
    }
    let _ = write!(
        o,
        "</tbody></table><p class=\"note\">{} commands applied (see <code>commands.ron</code>).</p></section>",
        figure("commands", s.events.len(), &s.events.len().to_string())
    );
    o
}

fn replay_section(input: &ReportInput, draw: &DrawTwin) -> String {
    let replay = input.replay;
    let floors = &input.measurements.cells.floors;
    // Plan geometry for the canvas, metres rounded to the centimetre.
    let mut plan = String::from("{\"floors\":[");
    let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for (fi, map) in floors.iter().enumerate() {
        let level = &input.twin.space.levels[map.level];
        lo = lo.min(level.min);
        hi = hi.max(level.max);
        let _ = write!(plan, "{}{{\"name\":{},\"walk\":[", if fi == 0 { "" } else { "," }, json_string(&level.id));
        let mut first = true;
        for lvl in draw.levels.iter().filter(|l| l.id == map.level) {
            for poly in &lvl.walkable {
                for ring in std::iter::once(&poly.outer).chain(&poly.holes) {
                    plan.push_str(if first { "[" } else { ",[" });
                    first = false;
                    let coords: Vec<String> = ring.iter().map(|p| format!("{},{}", cm(p[0]), cm(p[1]))).collect();
                    plan.push_str(&coords.join(","));
                    plan.push(']');
                }
            }
        }
        plan.push_str("],\"walls\":[");
        let walls: Vec<String> = draw
            .levels
            .iter()
            .filter(|l| l.id == map.level)
            .flat_map(|l| &l.walls)
            .map(|[a, b]| format!("{},{},{},{}", cm(a[0]), cm(a[1]), cm(b[0]), cm(b[1])))
            .collect();
        plan.push_str(&walls.join(","));
        plan.push_str("],\"exits\":[");
        let exits: Vec<String> = draw
            .doors
            .iter()
            .filter(|d| d.level == map.level && d.kind == DrawDoorKind::Exit)
            .map(|d| format!("{},{},{},{}", cm(d.a[0]), cm(d.a[1]), cm(d.b[0]), cm(d.b[1])))
            .collect();
        plan.push_str(&exits.join(","));
        plan.push_str("]}");
    }
    if !lo.x.is_finite() {
        (lo, hi) = (DVec2::ZERO, DVec2::ONE);
    }
    let _ = write!(plan, "],\"min\":[{},{}],\"max\":[{},{}]}}", cm(lo.x), cm(lo.y), cm(hi.x), cm(hi.y));
    // Positions as u16 steps of `q` metres from `lo`: 0.05 m, coarser only for plans over 3 km.
    let span = (hi - lo).max_element().max(1.0) + 2.0;
    let q = (span / 65000.0).max(0.05);
    let origin = lo - DVec2::ONE;
    let mut bytes = Vec::with_capacity(replay.agents.len() * 6);
    for a in &replay.agents {
        let x = ((a.x as f64 - origin.x) / q).round().clamp(0.0, 65535.0) as u16;
        let y = ((a.y as f64 - origin.y) / q).round().clamp(0.0, 65535.0) as u16;
        bytes.extend_from_slice(&x.to_le_bytes());
        bytes.extend_from_slice(&y.to_le_bytes());
        bytes.push(a.floor);
        bytes.push(a.los);
    }
    let times: Vec<String> = replay.frames.iter().map(|f| format!("{}", (f.t * 1000.0).round() / 1000.0)).collect();
    let counts: Vec<String> = replay.frames.iter().map(|f| f.count.to_string()).collect();
    let on_site: Vec<String> = replay.on_site.iter().map(|n| n.to_string()).collect();
    let interval = input.twin.scenario.run.output_interval;
    let header = format!(
        "{{\"x0\":{},\"y0\":{},\"q\":{},\"t\":[{}],\"n\":[{}],\"onSite\":[{}],\"frameStride\":{},\"agentStride\":{},\"interval\":{},\"losColours\":[{}]}}",
        origin.x,
        origin.y,
        q,
        times.join(","),
        counts.join(","),
        on_site.join(","),
        replay.frame_stride,
        replay.agent_stride,
        interval,
        LOS_COLOURS.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(",")
    );
    let mut thinned = Vec::new();
    if replay.frame_stride > 1 {
        thinned.push(format!(
            "every {} frame (one every {} s of the {} s recorded)",
            ordinal(replay.frame_stride),
            tick(interval * replay.frame_stride as f64),
            tick(interval)
        ));
    }
    if replay.agent_stride > 1 {
        thinned.push(format!(
            "one agent in {} (those whose id is a multiple of {})",
            replay.agent_stride, replay.agent_stride
        ));
    }
    let sampling = if thinned.is_empty() {
        format!("Every recorded frame (every {} s) and every agent are shown.", tick(interval))
    } else {
        format!(
            "To keep this page small the replay shows {}; <code>trajectories.txt</code> has them all.",
            thinned.join(" and ")
        )
    };
    let floor_options: Vec<String> = floors
        .iter()
        .enumerate()
        .map(|(i, m)| format!(r#"<option value="{i}">{}</option>"#, esc(&input.twin.space.levels[m.level].id)))
        .collect();
    let mut o = String::from(r#"<section id="replay"><h2>Replay</h2>"#);
    let _ = write!(
        o,
        r#"<div class="controls"><button type="button" id="play">Play</button> <input type="range" id="scrub" min="0" max="{max}" value="0" step="1" aria-label="time"/> <span id="clock">t = 0.0 s</span> · <span id="onsite"></span> <label>speed <select id="speed"><option value="1">1×</option><option value="5">5×</option><option value="10" selected="selected">10×</option><option value="30">30×</option><option value="100">100×</option></select></label> <label>level <select id="floor">{floors}</select></label></div><canvas id="replay-canvas" width="860" height="560"></canvas><p class="legend">"#,
        max = replay.frames.len().saturating_sub(1),
        floors = floor_options.join("")
    );
    for los in 0..6 {
        let _ = write!(o, r#"<span class="swatch" style="background:{}"></span>{} "#, LOS_COLOURS[los], LOS_NAMES[los]);
    }
    let _ = write!(
        o,
        r#"· agents coloured by the Level of Service of their local density; exits in green.</p><p class="note" id="replay-sampling" data-frame-stride="{}" data-agent-stride="{}">{sampling} Agents on stairs are drawn on the level at the stair's foot.</p><script type="application/json" id="plan-data">{}</script><script type="application/json" id="replay-header">{}</script><script type="text/plain" id="replay-data">{}</script></section>"#,
        replay.frame_stride,
        replay.agent_stride,
        json_safe(&plan),
        json_safe(&header),
        base64(&bytes)
    );
    o
}

fn ordinal(n: u64) -> String {
    match n {
        2 => "second".into(),
        _ => format!("{n}th"),
    }
}

/// Centimetres, as a JSON number.
fn cm(v: f64) -> String {
    let s = format!("{:.2}", v);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// JSON safe inside a `<script>` element and as XML text: `<`, `>` and `&` only occur in strings
/// there, where their \u escapes mean the same.
fn json_safe(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

fn notes(input: &ReportInput) -> String {
    let cell = input.measurements.cells.floors.first().map_or(1.0, |f| f.cell);
    format!(
        r#"<section id="notes"><h2>Reading the report</h2><ul><li><b>Local density</b> is the number of agents within {r} m of an agent (itself included) divided by the disc's area, π·{r}² m², measured every output frame; the peak in the key figures and the plan maps use it. Plan-map cells are {cell} m squares; a cell takes the highest local density of any agent standing in it.</li><li><b>Area density</b> (charts and the Level-of-Service table) is the number of agents in a measurement area divided by its area.</li><li><b>Levels of Service</b> after Fruin (1971), walkways, by area per person: A ≥ 3.25 m² (≤ 0.31 persons/m²), B ≥ 2.32 (≤ 0.43), C ≥ 1.39 (≤ 0.72), D ≥ 0.93 (≤ 1.08), E ≥ 0.46 (≤ 2.17), F below 0.46 m² (above 2.17 persons/m²), as listed in the project's reference <code>shared/reference/validation.md</code>.</li><li><b>Significant congestion</b> after IMO MSC.1/Circ.1533: density above 4 persons/m² for more than 10 % of the time (same reference).</li><li>Each chart's data is in the CSV named under it; the buttons save a chart as SVG or PNG. The page needs no network: everything is in this file.</li></ul></section>"#,
        r = tick(crate::metrics::DENSITY_RADIUS),
        cell = tick(cell)
    )
}
