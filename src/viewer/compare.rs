//! `--compare RUN_DIR`: a second recorded run (a baseline without the intervention, another variant)
//! overlaid on the first as ghosts at the same simulated time, with both runs' figures side by side.

use std::path::Path;

use bevy::prelude::*;
use bevy_egui::egui;

use super::ViewerError;
use super::recording::{Recording, TrajectoryIndex};
use crate::draw::{DrawAgents, DrawTwin};

/// The run compared with: its recording, how many had come by each frame, and its agents at the
/// time shown (refilled only when that falls on another of its frames).
#[derive(Resource)]
pub struct Comparison {
    pub recording: Recording,
    counts: RunCounts,
    agents: DrawAgents,
    shown: Option<usize>,
}

/// People on site, come and gone at one moment of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub on_site: usize,
    pub came: usize,
    pub left: usize,
}

/// For each frame of a recording, how many distinct people had been on site by then.
#[derive(Clone, Debug, Default)]
pub struct RunCounts {
    came_by: Vec<u32>,
}

impl RunCounts {
    /// Counted in one pass over the recording (someone who came and left between two frames is
    /// never seen, as in the trajectories).
    pub fn of(index: &TrajectoryIndex) -> RunCounts {
        let mut seen: Vec<bool> = Vec::new();
        let mut came = 0u32;
        let came_by = (0..index.frames())
            .map(|k| {
                for record in index.frame(k) {
                    let id = record.id as usize;
                    if id >= seen.len() {
                        seen.resize(id + 1, false);
                    }
                    if !seen[id] {
                        seen[id] = true;
                        came += 1;
                    }
                }
                came
            })
            .collect();
        RunCounts { came_by }
    }

    /// The counts at frame `k` of `index` (the one they were counted on).
    pub fn at(&self, index: &TrajectoryIndex, k: usize) -> Counts {
        let on_site = index.frame(k).len();
        let came = self.came_by.get(k).or(self.came_by.last()).copied().unwrap_or(0) as usize;
        Counts { on_site, came, left: came.saturating_sub(on_site) }
    }
}

impl Comparison {
    /// Opens the run folder `folder` to compare with a run of the unit drawn in `unit`: it must be
    /// a run of the same unit (its own scene file may differ, e.g. a batch variant's).
    pub fn open(folder: &Path, unit: &DrawTwin) -> Result<Comparison, ViewerError> {
        let recording = Recording::open(folder, None)
            .map_err(|e| ViewerError::Arguments(format!("--compare {}: {e}", folder.display())))?;
        let theirs = &recording.states[0].1;
        let same_levels = theirs.levels.len() == unit.levels.len()
            && theirs.levels.iter().zip(&unit.levels).all(|(a, b)| a.id == b.id && a.elevation == b.elevation);
        if theirs.name != unit.name || !same_levels {
            return Err(ViewerError::Arguments(format!(
                "--compare {}: that run is of '{}' ({} levels), not of '{}' ({} levels): only runs of one unit \
                 can be overlaid",
                folder.display(),
                theirs.name,
                theirs.levels.len(),
                unit.name,
                unit.levels.len()
            )));
        }
        let counts = RunCounts::of(&recording.index);
        Ok(Comparison { recording, counts, agents: DrawAgents::default(), shown: None })
    }

    /// The compared run's agents at simulated time `t` (its last frame once it has ended).
    pub fn agents_at(&mut self, t: f64) -> &DrawAgents {
        let k = self.recording.index.frame_at(t);
        if self.shown != Some(k) {
            self.recording.fill_agents(k, &mut self.agents);
            self.shown = Some(k);
        }
        &self.agents
    }

    /// The compared run's figures at simulated time `t`.
    pub fn counts_at(&self, t: f64) -> Counts {
        self.counts.at(&self.recording.index, self.recording.index.frame_at(t))
    }

    /// Whether the compared run's recording ends before `t`.
    pub fn ended_before(&self, t: f64) -> bool {
        t > self.recording.end_time() + 1e-9
    }
}

/// The agents of the compared run now, drawn as ghosts (`None`: nothing compared).
#[derive(Resource, Clone, Debug, Default)]
pub struct CompareAgents(pub Option<DrawAgents>);

/// Keeps the ghosts at the simulated time of the draw data shown (live or replayed), refilling them
/// only when that reaches another frame of the compared run.
pub fn follow_comparison(
    agents: Res<DrawAgents>,
    comparison: Option<ResMut<Comparison>>,
    mut ghosts: ResMut<CompareAgents>,
) {
    let Some(mut comparison) = comparison else { return };
    let k = comparison.recording.index.frame_at(agents.t);
    if comparison.shown == Some(k) && ghosts.0.is_some() {
        return;
    }
    let theirs = comparison.agents_at(agents.t);
    match &mut ghosts.0 {
        Some(shown) => shown.clone_from(theirs),
        None => ghosts.0 = Some(theirs.clone()),
    }
}

/// The panel's comparison: this run's and the compared run's figures at the time shown.
pub fn compare_section(
    ui: &mut egui::Ui,
    here: Counts,
    here_agents: &DrawAgents,
    comparison: &Comparison,
    ghosts: &CompareAgents,
) {
    let t = here_agents.t;
    let there = comparison.counts_at(t);
    let densest = |agents: &DrawAgents| agents.agents.iter().map(|a| a.density).fold(0.0f32, f32::max);
    let there_densest = ghosts.0.as_ref().map_or(0.0, densest);
    ui.separator();
    ui.label(egui::RichText::new("compared with (ghosts)").strong().color(egui::Color32::from_rgb(
        super::palette::COMPARE.0,
        super::palette::COMPARE.1,
        super::palette::COMPARE.2,
    )));
    ui.label(format!("{}", comparison.recording.folder.display()));
    if comparison.ended_before(t) {
        ui.label(format!("its recording ends at {:.1} s: its last frame is shown", comparison.recording.end_time()));
    }
    egui::Grid::new("compare").striped(true).show(ui, |ui| {
        ui.label("");
        ui.label("this run");
        ui.label("compared");
        ui.label("difference");
        ui.end_row();
        let mut row = |name: &str, a: f64, b: f64, digits: usize| {
            ui.label(name);
            ui.label(format!("{a:.digits$}"));
            ui.label(format!("{b:.digits$}"));
            ui.label(format!("{:+.digits$}", a - b));
            ui.end_row();
        };
        row("on site", here.on_site as f64, there.on_site as f64, 0);
        row("came", here.came as f64, there.came as f64, 0);
        row("left", here.left as f64, there.left as f64, 0);
        row("densest now, p/m²", densest(here_agents) as f64, there_densest as f64, 2);
    });
}
