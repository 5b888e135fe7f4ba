//! Run outputs a planner can open: PedPy trajectories, `summary.json`, `run.ron`.
//! Every file is written to a temporary name and renamed into place; nothing is silently overwritten.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::crowd::Census;
use crate::incident::TimedEvents;
use crate::metrics::{AreaMonitor, LineCounter, Measurements, TimelineRow};
use crate::scene::CheckedScene;
use crate::sim::SimClock;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "output folder {0} already exists and is not empty; pass --force to overwrite its files, or choose another --out"
    )]
    Exists(PathBuf),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, io::Error),
}

/// Creates the output folder; refuses a non-empty one unless `force`.
pub fn prepare_out_dir(dir: &Path, force: bool) -> Result<(), OutputError> {
    if let Ok(mut entries) = fs::read_dir(dir)
        && entries.next().is_some()
        && !force
    {
        return Err(OutputError::Exists(dir.to_path_buf()));
    }
    fs::create_dir_all(dir).map_err(|e| OutputError::Io(dir.to_path_buf(), e))
}

/// A file written under a temporary name in its destination folder, renamed on `commit`.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Opens the temporary file and returns it with a buffered writer.
    pub fn create(dest: &Path) -> Result<(Self, BufWriter<File>), OutputError> {
        let name = dest.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| OutputError::Io(tmp.clone(), e))?;
        Ok((AtomicFile { tmp, dest: dest.to_path_buf() }, BufWriter::with_capacity(1 << 20, file)))
    }

    /// Flushes and syncs the data, then renames it into place.
    pub fn commit(self, mut writer: impl Write) -> Result<(), OutputError> {
        let io = |e| OutputError::Io(self.dest.clone(), e);
        writer.flush().map_err(io)?;
        drop(writer);
        File::open(&self.tmp).and_then(|f| f.sync_all()).map_err(io)?;
        fs::rename(&self.tmp, &self.dest).map_err(io)
    }

    pub fn abandon(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let (file, mut writer) = AtomicFile::create(dest)?;
    if let Err(e) = writer.write_all(bytes) {
        file.abandon();
        return Err(OutputError::Io(dest.to_path_buf(), e));
    }
    file.commit(writer)
}

/// The header of a PedPy-compatible text trajectory file.
pub fn trajectory_header(scene_name: &str, seed: u64, framerate: f64) -> String {
    format!(
        "# description: unitwin {VERSION} trajectories of '{scene_name}', seed {seed}\n\
         #framerate: {framerate}\n\
         # units: x/m y/m z/m (metres)\n\
         # ID: agent id, FRAME: frame number, X Y: position, Z: level elevation\n\
         # ID\tFRAME\tX\tY\tZ\n"
    )
}

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

#[derive(Clone, Debug, Serialize)]
pub struct EventRecord {
    pub t: f64,
    pub action: String,
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
    pub lines: Vec<LineCounter>,
    pub areas: Vec<AreaMonitor>,
    pub events: Vec<EventRecord>,
    /// Spawned, on site and exited at every output frame.
    pub timeline: Vec<TimelineRow>,
}

impl Summary {
    pub fn collect(
        checked: &CheckedScene,
        seed: u64,
        clock: &SimClock,
        census: &Census,
        measurements: &Measurements,
        events: &TimedEvents,
        everyone_left: bool,
    ) -> Self {
        let space = &checked.space;
        let mut exits: BTreeMap<String, u32> =
            space.doors.iter().filter(|d| d.boundary && d.exit).map(|d| (d.id.clone(), 0)).collect();
        for (door, n) in &census.per_exit {
            *exits.entry(door.clone()).or_default() += n;
        }
        Summary {
            unitwin_version: VERSION.into(),
            unit: checked.scene().unit.name.clone(),
            scene_file: checked.loaded.source.file.display().to_string(),
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
            lines: measurements.lines.clone(),
            areas: measurements.areas.clone(),
            events: events.log.iter().map(|(t, a)| EventRecord { t: *t, action: a.to_string() }).collect(),
            timeline: measurements.timeline.clone(),
        }
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
}

impl RunRecord {
    pub fn to_ron(&self) -> String {
        let body = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).expect("plain data serialises");
        format!(
            "// unitwin run record: repeat with `unitwin run {} --seed {} --until {}`\n{body}\n",
            self.scene_file, self.seed, self.until
        )
    }
}
