//! Scoring rehearsals against a baseline (`unitwin compare`): the key figures of run folders, paired
//! by seed, with a verdict per figure (better, worse, or within seed noise); `compare.csv`/`.html`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::compare::{Figure, STYLE, csv_field, esc, estimate, fmt_num, interval_text, num, run_figures};
use super::run_finished;
use super::stats::{Estimate, paired_difference};
use crate::report::write_atomic;

/// The runs of one side of a comparison (a run folder, or a folder of run folders), by seed.
#[derive(Clone, Debug)]
pub struct RunSet {
    /// As given on the command line.
    pub name: String,
    /// Per seed: the run folder and its figures.
    pub runs: BTreeMap<u64, (PathBuf, Vec<Figure>)>,
    /// The unit the runs are of (from `summary.json`).
    pub unit: String,
    /// Where the peak local density was, per seed: "4.6 persons/m² at (12.0, 3.1) on 'ground', t = 81 s".
    pub peaks: BTreeMap<u64, String>,
}

impl RunSet {
    /// Reads a finished run folder, or every finished run folder directly inside `dir`.
    pub fn read(dir: &Path) -> Result<RunSet, String> {
        let folders: Vec<PathBuf> = if run_finished(dir) {
            vec![dir.to_path_buf()]
        } else if dir.is_dir() {
            let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let mut found: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| run_finished(p)).collect();
            found.sort();
            found
        } else {
            return Err(format!("{} is not a folder", dir.display()));
        };
        if folders.is_empty() {
            return Err(format!(
                "{} is not a finished run folder (run.ron, summary.json, commands.ron and trajectories.txt) and holds none",
                dir.display()
            ));
        }
        let mut set = RunSet {
            name: dir.display().to_string(),
            runs: BTreeMap::new(),
            unit: String::new(),
            peaks: BTreeMap::new(),
        };
        for folder in folders {
            let path = folder.join("summary.json");
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let s: Value =
                serde_json::from_str(&text).map_err(|e| format!("{} is not a unitwin summary: {e}", path.display()))?;
            let seed = s["seed"].as_u64().ok_or_else(|| format!("{} names no seed", path.display()))?;
            if let Some((other, _)) = set.runs.get(&seed) {
                return Err(format!(
                    "{} and {} are both runs with seed {seed}: give one run per seed",
                    other.display(),
                    folder.display()
                ));
            }
            set.unit = s["unit"].as_str().unwrap_or("?").to_string();
            let p = &s["peak_density"];
            if let (Some(d), Some(x), Some(y), Some(t)) =
                (p["density"].as_f64(), p["x"].as_f64(), p["y"].as_f64(), p["t"].as_f64())
            {
                let level = p["level"].as_str().unwrap_or("?");
                set.peaks.insert(seed, format!("{d:.2} persons/m² at ({x:.1}, {y:.1}) on '{level}', t = {t:.0} s"));
            }
            set.runs.insert(seed, (folder.clone(), run_figures(&folder)?));
        }
        Ok(set)
    }

    fn seeds(&self) -> Vec<u64> {
        self.runs.keys().copied().collect()
    }

    /// The figure's value per seed of `seeds` (None where the run lacks it).
    fn values(&self, key: &str, seeds: &[u64]) -> Vec<Option<f64>> {
        seeds
            .iter()
            .map(|s| self.runs.get(s).and_then(|(_, f)| f.iter().find(|f| f.key == key)).and_then(|f| f.value))
            .collect()
    }
}

/// Whether a lower value of a figure is better (`Some(true)`), a higher one (`Some(false)`), or
/// neither (counts per exit or line, which depend on the measure's intent).
pub fn lower_is_better(key: &str) -> Option<bool> {
    let tail = key.rsplit(':').next().unwrap_or(key);
    match tail {
        "evacuation_time"
        | "peak_density"
        | "time_above_4"
        | "agents_on_site"
        | "person_seconds_above_4"
        | "person_seconds_above_6"
        | "max_density"
        | "mean_density"
        | "seconds_at_yellow"
        | "seconds_at_orange"
        | "seconds_at_red"
        | "wait_mean"
        | "wait_p95"
        | "still_waiting"
        | "kept_outside_peak"
        | "kept_outside_at_end"
        | "vehicle_delay"
        | "intervention_delay"
        | "conflicts"
        | "seconds_in_alarm"
        | "seconds_pressed"
        | "max_near" => Some(true),
        "agents_exited" | "vehicles_arrived" => Some(false),
        _ => None,
    }
}

/// The verdict on one figure of a rehearsal against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    /// The 95 % interval of the paired difference includes 0.
    WithinNoise,
    /// Higher or lower, for a figure that has no better direction.
    Higher,
    Lower,
    Same,
    Missing,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "within seed noise",
            Verdict::Higher => "higher",
            Verdict::Lower => "lower",
            Verdict::Same => "same",
            Verdict::Missing => "–",
        }
    }
    fn class(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            _ => "same",
        }
    }
}

/// The verdict from a paired difference (rehearsal − baseline) over seeds. With one seed there is
/// no interval: the sign of the difference decides, and [`Scored::one_seed`] says so.
pub fn verdict(key: &str, d: Option<Estimate>) -> Verdict {
    let Some(d) = d else { return Verdict::Missing };
    let up = match (d.low(), d.high()) {
        (Some(lo), _) if lo > 0.0 => true,
        (_, Some(hi)) if hi < 0.0 => false,
        (Some(_), Some(_)) if d.mean == 0.0 && d.sd == Some(0.0) => return Verdict::Same,
        (Some(_), Some(_)) => return Verdict::WithinNoise,
        _ if d.mean == 0.0 => return Verdict::Same,
        _ => d.mean > 0.0,
    };
    match (lower_is_better(key), up) {
        (Some(lower), up) if lower != up => Verdict::Better,
        (Some(_), _) => Verdict::Worse,
        (None, true) => Verdict::Higher,
        (None, false) => Verdict::Lower,
    }
}

/// A baseline and the rehearsals scored against it.
pub struct Scoring {
    pub baseline: RunSet,
    pub rehearsals: Vec<RunSet>,
    /// Figure keys in the order the runs report them, with label and unit.
    pub figures: Vec<(String, String, &'static str)>,
}

/// One compared figure of one rehearsal.
pub struct Scored {
    pub seeds: Vec<u64>,
    pub baseline: Option<Estimate>,
    pub rehearsal: Option<Estimate>,
    pub difference: Option<Estimate>,
    pub verdict: Verdict,
    /// Compared on one seed only: no noise estimate.
    pub one_seed: bool,
}

impl Scored {
    pub fn verdict_text(&self) -> String {
        match self.verdict {
            Verdict::Missing | Verdict::Same | Verdict::WithinNoise => self.verdict.text().into(),
            v if self.one_seed => format!("{} (one seed: noise unknown)", v.text()),
            v => v.text().into(),
        }
    }
}

impl Scoring {
    pub fn new(baseline: RunSet, rehearsals: Vec<RunSet>) -> Result<Scoring, String> {
        for r in &rehearsals {
            if !r.seeds().iter().any(|s| baseline.runs.contains_key(s)) {
                return Err(format!(
                    "{} (seeds {}) shares no seed with the baseline {} (seeds {}): runs are compared seed by seed",
                    r.name,
                    list(&r.seeds()),
                    baseline.name,
                    list(&baseline.seeds())
                ));
            }
        }
        let mut figures: Vec<(String, String, &'static str)> = Vec::new();
        for set in std::iter::once(&baseline).chain(&rehearsals) {
            for (_, run) in set.runs.values() {
                for f in run {
                    if !figures.iter().any(|(k, _, _)| *k == f.key) {
                        figures.push((f.key.clone(), f.label.clone(), f.unit));
                    }
                }
            }
        }
        Ok(Scoring { baseline, rehearsals, figures })
    }

    /// The figure `key` of rehearsal `r`, over the seeds both ran.
    pub fn score(&self, r: usize, key: &str) -> Scored {
        let seeds: Vec<u64> =
            self.rehearsals[r].seeds().into_iter().filter(|s| self.baseline.runs.contains_key(s)).collect();
        let base = self.baseline.values(key, &seeds);
        let run = self.rehearsals[r].values(key, &seeds);
        let difference = paired_difference(&run, &base);
        Scored {
            baseline: estimate(&base),
            rehearsal: estimate(&run),
            verdict: verdict(key, difference),
            one_seed: difference.is_some_and(|d| d.n < 2),
            difference,
            seeds,
        }
    }

    /// `compare.csv`: one line per rehearsal and figure.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "rehearsal,figure,label,unit,seeds,baseline_mean,rehearsal_mean,diff_mean,diff_ci95_low,diff_ci95_high,verdict\n",
        );
        for (r, set) in self.rehearsals.iter().enumerate() {
            for (key, label, unit) in &self.figures {
                let s = self.score(r, key);
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&set.name),
                    csv_field(key),
                    csv_field(label),
                    csv_field(unit),
                    s.seeds.len(),
                    num(s.baseline.map(|e| e.mean)),
                    num(s.rehearsal.map(|e| e.mean)),
                    num(s.difference.map(|e| e.mean)),
                    num(s.difference.and_then(|e| e.low())),
                    num(s.difference.and_then(|e| e.high())),
                    csv_field(&s.verdict_text())
                );
            }
        }
        out
    }

    /// `compare.html`: per rehearsal, the verdicts first, then every figure.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>unitwin rehearsal scores</title>\n<style>{STYLE}.better{{color:#070;font-weight:bold}}.worse{{color:#b00;font-weight:bold}}</style></head><body>\n"
        );
        let _ = writeln!(
            h,
            "<h1>Rehearsal scores</h1>\n<p>Baseline <b>{}</b> ({}; seed(s) {}).</p>",
            esc(&self.baseline.name),
            esc(&self.baseline.unit),
            esc(&list(&self.baseline.seeds()))
        );
        let _ = writeln!(
            h,
            "<p class=\"note\">Each rehearsal is compared seed by seed with the baseline (same seed, same random \
             streams). With two or more seeds, the 95 % interval of the mean paired difference (Student t) decides: a \
             figure is <span class=\"better\">better</span> or <span class=\"worse\">worse</span> when the interval \
             excludes 0, otherwise within seed noise. With one seed there is no noise estimate: the verdict says \
             so. Lower is better for densities, crowding, waits, warnings, delays and clearance times; higher for people \
             out.</p>"
        );
        for (r, set) in self.rehearsals.iter().enumerate() {
            let _ = writeln!(
                h,
                "<h2>{}</h2>\n<p>{}; seed(s) {}.</p>",
                esc(&set.name),
                esc(&set.unit),
                esc(&list(&set.seeds()))
            );
            for (label, source) in [("baseline", &self.baseline), ("rehearsal", set)] {
                for (seed, peak) in &source.peaks {
                    let _ = writeln!(h, "<p class=\"note\">Peak, {label}, seed {seed}: {}</p>", esc(peak));
                }
            }
            let _ = writeln!(
                h,
                "<table><tr><th>figure</th><th>baseline</th><th>rehearsal</th><th>difference</th><th>verdict</th></tr>"
            );
            for (key, label, unit) in &self.figures {
                let s = self.score(r, key);
                let _ = writeln!(
                    h,
                    "<tr><td>{} <span class=\"unit\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                    esc(label),
                    esc(unit),
                    interval_text(s.baseline),
                    interval_text(s.rehearsal),
                    s.difference.map_or("–".into(), |d| match (d.low(), d.high()) {
                        (Some(a), Some(b)) => format!("{} [{}, {}]", fmt_num(d.mean), fmt_num(a), fmt_num(b)),
                        _ => fmt_num(d.mean),
                    }),
                    s.verdict.class(),
                    esc(&s.verdict_text())
                );
            }
            let _ = writeln!(h, "</table>");
        }
        h.push_str("</body></html>\n");
        h
    }

    /// Writes `compare.csv` and `compare.html` into `out` (created if needed), each atomically;
    /// refuses to replace them unless `force`.
    pub fn write(&self, out: &Path, force: bool) -> Result<(), String> {
        let files = [out.join("compare.csv"), out.join("compare.html")];
        if !force && let Some(existing) = files.iter().find(|f| f.exists()) {
            return Err(format!("{} exists; pass --force to replace it", existing.display()));
        }
        std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        write_atomic(&files[0], self.csv().as_bytes()).map_err(|e| e.to_string())?;
        write_atomic(&files[1], self.html().as_bytes()).map_err(|e| e.to_string())
    }
}

fn list(seeds: &[u64]) -> String {
    seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}
