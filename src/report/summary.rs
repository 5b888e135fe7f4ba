//! `summary.json` and `run.ron`: what a run found, and what was run, so that it can be traced
//! and repeated.

use std::collections::BTreeMap;

use serde::Serialize;

use super::output::RUN_RECORD_MARK;
use crate::command::CommandLog;
use crate::crowd::Census;
use crate::measures::{AreaAlarms, Firing, LineRecord, MeasuresRecord, Wave};
use crate::metrics::{AreaMonitor, FallenMonitor, LineCounter, Measurements, TimelineRow};
use crate::scene::diagnostic::one_line;
use crate::schedule::SimClock;
use crate::twin::Twin;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, Serialize)]
pub struct AgentTotals {
    pub spawned: u32,
    pub exited: u32,
    pub on_site: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct PeakDensity {
    /// persons/m², counted in a disc of 1 m radius around an agent
    pub density: f64,
    pub t: f64,
    pub level: String,
    pub x: f64,
    pub y: f64,
}

/// A place people stay at, over the run: stays begun there, and visitors who found it full and
/// passed it by (`when_full: PassBy`).
#[derive(Clone, Debug, Serialize)]
pub struct PlaceVisitsSummary {
    pub id: String,
    pub stayed: u32,
    pub passed_by: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    pub t: f64,
    pub action: String,
    /// `Scene` (a timed event), `Incident` (a timed event marked as the incident), `Live` (issued
    /// while running), `Playbook` or `Measure` (a running measure's own step, e.g. a gate swap).
    pub origin: String,
}

/// An arrival flow over the run: who was due by its rate, who came in, and who was kept outside
/// for want of room at the door (a queue beyond the twin's edge, which no other figure shows).
#[derive(Clone, Debug, Serialize)]
pub struct ArrivalSummary {
    pub population: String,
    pub door: String,
    /// Due by the rate up to the end (after any far-end control's share).
    pub due: u32,
    pub let_in: u32,
    /// Due but not in at the end.
    pub outside_at_end: u32,
    /// The most kept outside at once, and when that was first reached (null if nobody ever was).
    pub outside_peak: u32,
    pub outside_peak_at: Option<f64>,
}

/// All arrival flows together over the run.
#[derive(Clone, Debug, Serialize)]
pub struct KeptOutside {
    pub due: u32,
    pub let_in: u32,
    pub at_end: u32,
    /// The most kept outside at once (all flows summed at each step), and when first reached.
    pub peak: u32,
    pub peak_at: Option<f64>,
}

/// A hold line over the run.
#[derive(Clone, Debug, Serialize)]
pub struct HoldLineSummary {
    pub id: String,
    /// Crossings from the held side.
    pub crossed: u32,
    /// People standing at the line at the end.
    pub held_at_end: u32,
    /// People held at some time who had neither crossed nor left the space by the end.
    pub still_waiting: u32,
    /// People who waited and then left the space another way, without crossing.
    pub left_without_crossing: u32,
    pub waves: Vec<Wave>,
    /// People who were held and then crossed, and their waits (s).
    pub waited: u32,
    pub wait_mean: Option<f64>,
    pub wait_p95: Option<f64>,
    pub wait_max: Option<f64>,
}

impl HoldLineSummary {
    pub fn new(record: &LineRecord) -> Self {
        let mut waits = record.waits.clone();
        waits.sort_by(f64::total_cmp);
        let n = waits.len();
        // Nearest rank: the smallest wait at or above which 5 % of the waits lie.
        let p95 = (n > 0).then(|| waits[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1]);
        HoldLineSummary {
            id: record.id.clone(),
            crossed: record.crossed,
            held_at_end: record.held_now,
            still_waiting: record.still_waiting() as u32,
            left_without_crossing: record.left_without_crossing,
            waves: record.waves.clone(),
            waited: n as u32,
            wait_mean: (n > 0).then(|| waits.iter().sum::<f64>() / n as f64),
            wait_p95: p95,
            wait_max: waits.last().copied(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub unitwin_version: String,
    pub unit: String,
    pub scene_file: String,
    pub seed: u64,
    pub step: f64,
    pub simulated_time: f64,
    pub agents: AgentTotals,
    /// Everyone who was to come came and left before the end of the run.
    pub everyone_left: bool,
    /// Time the last agent left, when everyone left; otherwise null.
    pub evacuation_time: Option<f64>,
    /// Agents who left by each exit (every exit listed).
    pub exits: BTreeMap<String, u32>,
    pub peak_density: Option<PeakDensity>,
    /// Person-seconds anywhere with a local density above 4 and above 6 persons/m² (counted at
    /// output frames).
    pub person_seconds_above_4: f64,
    pub person_seconds_above_6: f64,
    pub lines: Vec<LineCounter>,
    pub areas: Vec<AreaMonitor>,
    /// Places people stay at (destinations with a dwell), absent if there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<PlaceVisitsSummary>,
    /// Each fallen person of the scene: how long they lay there and how the crowd pressed round
    /// them; absent without fallen persons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallen: Vec<FallenMonitor>,
    /// Commands applied (timed scene events and live commands), in order.
    pub events: Vec<EventRecord>,
    /// All arrival flows together: due, let in and kept outside; absent without arrival flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_outside: Option<KeptOutside>,
    /// Each arrival flow: due, let in and kept outside; absent without arrival flows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<ArrivalSummary>,
    /// Each hold line: crossings, waves and waiting times; absent without hold lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hold_lines: Vec<HoldLineSummary>,
    /// Each measurement area that was ever in a density alarm (above 4 persons/m² while its crowd
    /// moved, 4.7 while it stood): seconds in alarm and every spell; absent when none was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<AreaAlarms>,
    /// Every playbook firing, with the figure that fired it; absent without playbooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playbooks: Option<Vec<Firing>>,
    /// Vehicles, approaches, crossings and signals; absent for a scene without streets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<super::TrafficSummary>,
    /// Spawned, on site and exited at every output frame.
    pub timeline: Vec<TimelineRow>,
}

impl Summary {
    pub fn collect(
        twin: &Twin,
        seed: u64,
        clock: &SimClock,
        census: &Census,
        place_visits: &[[u32; 2]],
        measurements: &Measurements,
        commands: &CommandLog,
        everyone_left: bool,
        traffic: Option<super::TrafficSummary>,
        measures: &MeasuresRecord,
    ) -> Self {
        let space = &twin.space;
        let mut exits: BTreeMap<String, u32> = space.exits().map(|(_, d)| (d.id.clone(), 0)).collect();
        for (door, n) in &census.per_exit {
            *exits.entry(space.doors[*door].id.clone()).or_default() += n;
        }
        Summary {
            unitwin_version: VERSION.into(),
            unit: twin.scene().unit.name.clone(),
            scene_file: twin.loaded.source.file.display().to_string(),
            seed,
            step: clock.dt,
            simulated_time: clock.now(),
            agents: AgentTotals { spawned: census.spawned, exited: census.exited, on_site: census.on_site() },
            everyone_left,
            evacuation_time: if everyone_left && census.spawned > 0 { census.last_exit } else { None },
            exits,
            peak_density: measurements.peak.map(|p| PeakDensity {
                density: p.density,
                t: p.t,
                level: space.levels[p.level].id.clone(),
                x: p.x,
                y: p.y,
            }),
            person_seconds_above_4: measurements.person_seconds_above[0],
            person_seconds_above_6: measurements.person_seconds_above[1],
            lines: measurements.lines.clone(),
            areas: measurements.areas.clone(),
            places: space
                .destinations
                .iter()
                .zip(place_visits)
                .filter(|(place, _)| !place.passed_by)
                .map(|(place, &[stayed, passed_by])| PlaceVisitsSummary { id: place.id.clone(), stayed, passed_by })
                .collect(),
            fallen: measurements.fallen.clone(),
            events: commands
                .entries
                .iter()
                .map(|c| EventRecord { t: c.t, action: c.command.to_string(), origin: format!("{:?}", c.origin) })
                .collect(),
            kept_outside: census.kept_outside().map(|total| KeptOutside {
                due: total.due,
                let_in: total.let_in,
                at_end: total.now(),
                peak: total.peak,
                peak_at: (total.peak > 0).then_some(total.peak_at),
            }),
            arrivals: census
                .outside
                .iter()
                .map(|(&population, outside)| {
                    let plan = &twin.scenario.populations[population.index()];
                    let door = match plan.origin {
                        crate::twin::Origin::Arrivals { door, .. } => space.doors[door].id.clone(),
                        crate::twin::Origin::Area { .. } => String::new(),
                    };
                    ArrivalSummary {
                        population: plan.id.clone(),
                        door,
                        due: outside.due,
                        let_in: outside.let_in,
                        outside_at_end: outside.now(),
                        outside_peak: outside.peak,
                        outside_peak_at: (outside.peak > 0).then_some(outside.peak_at),
                    }
                })
                .collect(),
            hold_lines: measures.hold_lines.iter().map(HoldLineSummary::new).collect(),
            alarms: measures.alarms.iter().filter(|a| !a.spells.is_empty()).cloned().collect(),
            playbooks: (!twin.scene().playbooks.is_empty()).then(|| measures.firings.clone()),
            traffic,
            timeline: measurements.timeline.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        format!("{}\n", serde_json::to_string_pretty(self).expect("plain data serialises"))
    }
}

/// What was run, so that a result can be traced and repeated.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub unitwin_version: String,
    pub scene_file: String,
    pub scene_sha256: String,
    pub seed: u64,
    pub until: f64,
    pub step: f64,
    pub output_interval: f64,
    pub nav_cell: f64,
    pub frames: u64,
    /// The command file replayed, if any.
    pub commands_replayed: Option<String>,
}

impl RunRecord {
    pub fn to_ron(&self) -> String {
        let body = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).expect("plain data serialises");
        let replay = match &self.commands_replayed {
            Some(file) => format!(" --commands {}", shell_word(file)),
            None => String::new(),
        };
        format!(
            "{RUN_RECORD_MARK}: repeat with `unitwin run {} --seed {} --until {}{replay}`\n{body}\n",
            shell_word(&self.scene_file),
            self.seed,
            self.until
        )
    }
}

/// A path as one shell word, on one line.
pub fn shell_word(text: &str) -> String {
    let escaped = one_line(text);
    if escaped.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@".contains(c)) {
        escaped
    } else {
        format!("'{}'", escaped.replace('\'', "'\\''"))
    }
}
