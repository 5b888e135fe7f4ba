//! A recorded run folder read back for replay, without simulating: its scene, its trajectories in an
//! in-memory frame index, and its commands turned into the twin's door and zone states over time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ViewerError;
use super::render::Snapshot;
use crate::command::{Origin, read_script};
use crate::crowd::AgentId;
use crate::draw::{DENSITY_CELL, DrawActivity, DrawAgent, DrawAgents, DrawTraffic, DrawTwin, DrawVehicle};
use crate::ids::{Id, LevelId, PopulationId};
use crate::scene::VehicleKind;

/// Drawn radius of a replayed agent, m: trajectories do not record bodies, and this is a typical
/// adult's (the crowd model's bodies are 0.18–0.26 m).
pub const REPLAY_RADIUS: f32 = 0.22;
/// Below this speed a replayed agent counts as waiting, m/s.
const STANDING_SPEED: f32 = 0.1;

/// Most frames an index holds (a day at 0.5 s is 172,800): a damaged frame number or `until` must
/// not make the index reserve memory for billions of empty frames.
pub const MAX_FRAMES: usize = 10_000_000;

/// One agent in one recorded frame: 16 bytes, so a 10,000-agent, 10-minute run at 2 frames/s
/// (12 million records) takes about 190 MB.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentRecord {
    pub id: u32,
    pub x: f32,
    pub y: f32,
    /// The elevation the trajectory file gives (the floor's, or along a stair); stands for the level.
    pub z: f32,
}

/// Every recorded frame, dense from frame 0 (frames nobody was on site in are empty, as the file
/// writes no line for them): frame `k`'s agents are `records[offsets[k]..offsets[k + 1]]`, in id
/// order. Seeking is an index computation and a slice: nothing is allocated or parsed.
#[derive(Clone, Debug)]
pub struct TrajectoryIndex {
    /// Seconds between frames (the run's output interval).
    pub interval: f64,
    offsets: Vec<usize>,
    records: Vec<AgentRecord>,
}

impl TrajectoryIndex {
    /// An empty index of frames `interval` seconds apart.
    pub fn new(interval: f64) -> TrajectoryIndex {
        TrajectoryIndex { interval, offsets: vec![0], records: Vec::new() }
    }

    /// Number of frames (the last is at `(frames - 1) × interval` seconds).
    pub fn frames(&self) -> usize {
        self.offsets.len() - 1
    }

    /// All records held.
    pub fn records_len(&self) -> usize {
        self.records.len()
    }

    /// Time of frame `k`, s.
    pub fn time(&self, k: usize) -> f64 {
        k as f64 * self.interval
    }

    /// Time of the last frame, s.
    pub fn end_time(&self) -> f64 {
        self.time(self.frames().saturating_sub(1))
    }

    /// The frame shown at time `t`: the latest recorded at or before it (clamped to the recording).
    pub fn frame_at(&self, t: f64) -> usize {
        if !(t > 0.0) {
            return 0;
        }
        // The tolerance keeps a time given as frame × interval on its own frame despite rounding.
        ((t / self.interval + 1e-6).floor() as usize).min(self.frames().saturating_sub(1))
    }

    /// Frame `k`'s agents, in id order (empty past the end).
    pub fn frame(&self, k: usize) -> &[AgentRecord] {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&a), Some(&b)) => &self.records[a..b],
            _ => &[],
        }
    }

    /// Appends frame `number` (empty frames are added for any skipped); its agents in id order.
    /// A frame written twice (a run ending on a frame step writes it again) keeps the later copy.
    pub fn push_frame(&mut self, number: usize, agents: &[AgentRecord]) -> Result<(), String> {
        self.begin_frame(number)?;
        self.records.extend_from_slice(agents);
        self.end_frame();
        Ok(())
    }

    fn begin_frame(&mut self, number: usize) -> Result<(), String> {
        let frames = self.frames();
        if number >= MAX_FRAMES {
            return Err(format!("frame {number} is beyond the {MAX_FRAMES} frames a replay holds"));
        }
        if number + 1 < frames {
            return Err(format!("frame {number} comes after frame {}", frames - 1));
        }
        if number + 1 == frames {
            // The frame again: drop the earlier copy.
            self.offsets.pop();
            self.records.truncate(*self.offsets.last().expect("offsets start with 0"));
        }
        while self.frames() < number {
            self.offsets.push(self.records.len());
        }
        Ok(())
    }

    fn end_frame(&mut self) {
        let start = *self.offsets.last().expect("offsets start with 0");
        let frame = &mut self.records[start..];
        if !frame.is_sorted_by_key(|a| a.id) {
            frame.sort_by_key(|a| a.id);
        }
        self.offsets.push(self.records.len());
    }

    /// Empty frames up to and including frame `last` (a run's frames after everyone left).
    pub fn extend_to(&mut self, last: usize) {
        while self.frames() <= last {
            self.offsets.push(self.records.len());
        }
    }

    /// Reads a trajectory file (`ID FRAME X Y Z` lines, PedPy's text format as `unitwin run` writes
    /// it; `#` lines are comments). Problems name the file and line.
    pub fn read(path: &Path, interval: f64) -> Result<TrajectoryIndex, ViewerError> {
        let file =
            File::open(path).map_err(|e| ViewerError::Arguments(format!("cannot read {}: {e}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut index = TrajectoryIndex::new(interval);
        // About 32 bytes a line: reserving avoids copying a large index while it grows.
        index.records.reserve((size / 32) as usize);
        let mut line = Vec::with_capacity(128);
        let mut current: Option<(usize, u32)> = None;
        let mut number = 0usize;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| ViewerError::Arguments(format!("cannot read {}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            number += 1;
            let text = line.trim_ascii();
            if text.is_empty() || text[0] == b'#' {
                continue;
            }
            let bad = |why: &str| {
                ViewerError::Arguments(format!(
                    "{}:{number}: {why} (expected `ID FRAME X Y Z`, found `{}`)",
                    path.display(),
                    String::from_utf8_lossy(text).chars().take(80).collect::<String>()
                ))
            };
            let mut fields = text.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty());
            let mut next = || fields.next().and_then(|f| std::str::from_utf8(f).ok());
            let (Some(id), Some(frame), Some(x), Some(y), Some(z)) = (next(), next(), next(), next(), next()) else {
                return Err(bad("too few fields"));
            };
            let id: u32 = id.parse().map_err(|_| bad("the id is not a whole number"))?;
            let frame: usize = frame.parse().map_err(|_| bad("the frame is not a whole number"))?;
            let coordinate = |s: &str| s.parse::<f32>().ok().filter(|v| v.is_finite());
            let (Some(x), Some(y), Some(z)) = (coordinate(x), coordinate(y), coordinate(z)) else {
                return Err(bad("a coordinate is not a finite number"));
            };
            match current {
                // The same frame continues while ids rise; an id that does not rise starts the
                // frame again (the copy written when a run ends on a frame step).
                Some((f, last_id)) if f == frame && id > last_id => {}
                Some(_) => {
                    index.end_frame();
                    index.begin_frame(frame).map_err(|why| bad(&why))?;
                }
                None => index.begin_frame(frame).map_err(|why| bad(&why))?,
            }
            current = Some((frame, id));
            index.records.push(AgentRecord { id, x, y, z });
        }
        if current.is_some() {
            index.end_frame();
        }
        Ok(index)
    }
}

/// One vehicle in one recorded frame, as `vehicles.csv` has it: the front of the body.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleRecord {
    pub id: u32,
    pub kind: VehicleKind,
    pub front: [f32; 3],
    /// Direction of travel, radians from east.
    pub heading: f32,
    /// m/s
    pub speed: f32,
}

/// `vehicles.csv` by frame, like [`TrajectoryIndex`]: frame `k`'s vehicles are
/// `records[offsets[k]..offsets[k + 1]]`, in id order.
#[derive(Clone, Debug)]
pub struct VehicleIndex {
    offsets: Vec<usize>,
    records: Vec<VehicleRecord>,
    /// By vehicle id: whether it ever moved in the recording (one that never did is drawn parked:
    /// the file does not record the parked state).
    moved: Vec<bool>,
}

impl VehicleIndex {
    /// Frame `k`'s vehicles (empty past the end).
    pub fn frame(&self, k: usize) -> &[VehicleRecord] {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&a), Some(&b)) => &self.records[a..b],
            _ => &[],
        }
    }

    /// Reads `vehicles.csv` (`t,id,type,x,y,z,heading_deg,speed,lane`, frames `interval` apart).
    pub fn read(path: &Path, interval: f64) -> Result<VehicleIndex, ViewerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ViewerError::Arguments(format!("cannot read {}: {e}", path.display())))?;
        let mut index = VehicleIndex { offsets: vec![0], records: Vec::new(), moved: Vec::new() };
        let mut first_seen: Vec<Option<[f32; 3]>> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if n == 0 || line.is_empty() {
                continue; // the header
            }
            let bad = |why: &str| {
                ViewerError::Arguments(format!(
                    "{}:{}: {why} (expected `t,id,type,x,y,z,heading_deg,speed,lane`, found `{}`)",
                    path.display(),
                    n + 1,
                    line.chars().take(80).collect::<String>()
                ))
            };
            let fields: Vec<&str> = line.split(',').collect();
            let [t, id, kind, x, y, z, heading, speed, ..] = fields[..] else { return Err(bad("too few fields")) };
            let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            let (Some(t), Some(x), Some(y), Some(z), Some(heading), Some(speed)) =
                (number(t), number(x), number(y), number(z), number(heading), number(speed))
            else {
                return Err(bad("a number is not a finite number"));
            };
            let id: u32 = id.trim().parse().map_err(|_| bad("the id is not a whole number"))?;
            let kind =
                VehicleKind::ALL.into_iter().find(|k| k.name() == kind.trim()).ok_or_else(|| bad("unknown type"))?;
            let frame = (t / interval).round();
            if !(frame >= 0.0 && frame < MAX_FRAMES as f64) || id as usize >= MAX_FRAMES {
                return Err(bad("the time or id is out of range"));
            }
            let frame = frame as usize;
            // Frame `offsets.len() - 2` is the one being filled.
            if frame + 2 < index.offsets.len() {
                return Err(bad("the time goes back"));
            }
            while index.offsets.len() <= frame + 1 {
                index.offsets.push(index.records.len());
            }
            let front = [x as f32, y as f32, z as f32];
            let id_slot = id as usize;
            if first_seen.len() <= id_slot {
                first_seen.resize(id_slot + 1, None);
                index.moved.resize(id_slot + 1, false);
            }
            match first_seen[id_slot] {
                None => first_seen[id_slot] = Some(front),
                Some(first) => index.moved[id_slot] |= first != front,
            }
            index.records.push(VehicleRecord {
                id,
                kind,
                front,
                heading: heading.to_radians() as f32,
                speed: speed as f32,
            });
            *index.offsets.last_mut().expect("pushed above") = index.records.len();
        }
        for k in 0..index.offsets.len() - 1 {
            let frame = &mut index.records[index.offsets[k]..index.offsets[k + 1]];
            if !frame.is_sorted_by_key(|v| v.id) {
                frame.sort_by_key(|v| v.id);
            }
        }
        Ok(index)
    }

    /// Whether vehicle `id` never moved in the recording.
    pub fn parked(&self, id: u32) -> bool {
        !self.moved.get(id as usize).copied().unwrap_or(true)
    }
}

/// Local density per floor on a grid of [`DENSITY_CELL`] cells over the unit's bounds, counted the
/// way the live draw data counts it (3 × 3 cells around the agent). Its buffers are allocated once.
#[derive(Clone, Debug)]
struct DensityCounter {
    origin: [f64; 2],
    nx: usize,
    ny: usize,
    /// Cells of floor `f` are `counts[f * nx * ny..]`; empty when the unit is too large to count.
    counts: Vec<u16>,
    touched: Vec<u32>,
}

/// Most cells counted (8 M cells of 2 bytes: 16 MB; a 1.4 km square unit at 0.5 m on one floor).
const MAX_DENSITY_CELLS: usize = 8 << 20;

impl DensityCounter {
    fn new(twin: &DrawTwin, floors: usize) -> DensityCounter {
        let margin = 2.0;
        let origin = [twin.min[0] - margin, twin.min[1] - margin];
        let nx = ((twin.max[0] - origin[0] + margin) / DENSITY_CELL).ceil().max(1.0) as usize;
        let ny = ((twin.max[1] - origin[1] + margin) / DENSITY_CELL).ceil().max(1.0) as usize;
        let cells = nx.saturating_mul(ny).saturating_mul(floors.max(1));
        let counts = if cells <= MAX_DENSITY_CELLS { vec![0; cells] } else { Vec::new() };
        DensityCounter { origin, nx, ny, counts, touched: Vec::new() }
    }

    fn cell(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let (i, j) = ((x - self.origin[0]) / DENSITY_CELL, (y - self.origin[1]) / DENSITY_CELL);
        (i >= 0.0 && j >= 0.0 && (i as usize) < self.nx && (j as usize) < self.ny).then(|| (i as usize, j as usize))
    }

    fn add(&mut self, floor: usize, x: f64, y: f64) {
        if self.counts.is_empty() {
            return;
        }
        if let Some((i, j)) = self.cell(x, y) {
            let k = floor * self.nx * self.ny + j * self.nx + i;
            if self.counts[k] == 0 {
                self.touched.push(k as u32);
            }
            self.counts[k] = self.counts[k].saturating_add(1);
        }
    }

    fn density(&self, floor: usize, x: f64, y: f64) -> f32 {
        if self.counts.is_empty() {
            return 0.0;
        }
        let Some((i, j)) = self.cell(x, y) else { return 0.0 };
        let base = floor * self.nx * self.ny;
        let mut n = 0u32;
        for jj in j.saturating_sub(1)..=(j + 1).min(self.ny - 1) {
            for ii in i.saturating_sub(1)..=(i + 1).min(self.nx - 1) {
                n += self.counts[base + jj * self.nx + ii] as u32;
            }
        }
        (n as f64 / (9.0 * DENSITY_CELL * DENSITY_CELL)) as f32
    }

    fn clear(&mut self) {
        for &k in &self.touched {
            self.counts[k as usize] = 0;
        }
        self.touched.clear();
    }
}

/// A command the run applied, for the timeline.
#[derive(Clone, Debug)]
pub struct RecordedEvent {
    pub t: f64,
    pub origin: Origin,
    pub text: String,
}

/// What `run.ron` says (fields this reader does not need are ignored).
#[derive(Clone, Debug, Deserialize)]
struct RunRecordFile {
    scene_file: String,
    scene_sha256: String,
    seed: u64,
    until: f64,
    output_interval: f64,
}

/// A recorded run ready to replay: the twin's states over time, the trajectory index and the
/// buffers a seek reuses.
pub struct Recording {
    pub folder: PathBuf,
    pub scene_file: PathBuf,
    pub seed: Option<u64>,
    pub index: TrajectoryIndex,
    /// The twin drawn from time `.0` on (the first from the start), one per step that changed it.
    pub states: Vec<(f64, DrawTwin)>,
    /// Every command applied, in order.
    pub events: Vec<RecordedEvent>,
    /// The vehicles, when the run had any (`vehicles.csv`).
    pub vehicles: Option<VehicleIndex>,
    /// Length and width of each kind of vehicle, m (the scene's), by `VehicleKind as usize`.
    vehicle_sizes: [(f64, f64); 4],
    /// Floors' elevations, ascending, with their level.
    floors: Vec<(f64, LevelId)>,
    density: DensityCounter,
    /// Per record of the frame being built: its floor (reused).
    floor_of: Vec<u16>,
}

fn missing(path: &Path, what: &str) -> ViewerError {
    ViewerError::Arguments(format!("{} is missing: {what}", path.display()))
}

impl Recording {
    /// Opens the run folder `folder` written by `unitwin run` or the viewer's "save rehearsal".
    /// The scene is the one its `run.ron` names unless `scene` is given; either way the folder
    /// must have been recorded on that very scene file (same SHA-256).
    pub fn open(folder: &Path, scene: Option<&Path>) -> Result<Recording, ViewerError> {
        if !folder.is_dir() {
            return Err(ViewerError::Arguments(format!(
                "{} is not a run folder: {}",
                folder.display(),
                if folder.exists() { "it is a file" } else { "it does not exist" }
            )));
        }
        let trajectories = folder.join("trajectories.txt");
        if !trajectories.is_file() {
            return Err(missing(&trajectories, "the folder is not a finished unitwin run folder"));
        }
        let record_path = folder.join("run.ron");
        let record = match std::fs::read_to_string(&record_path) {
            Ok(text) => Some(ron::from_str::<RunRecordFile>(&text).map_err(|e| {
                ViewerError::Arguments(format!("{} is not a unitwin run record: {e}", record_path.display()))
            })?),
            Err(_) if scene.is_some() => None,
            Err(_) => {
                return Err(missing(
                    &record_path,
                    &format!(
                        "it names the scene; give the scene instead: unitwin view SCENE --replay {0} (or \
                         unitwin render {0} --scene SCENE)",
                        folder.display()
                    ),
                ));
            }
        };
        let scene_file = match (scene, &record) {
            (Some(scene), _) => scene.to_path_buf(),
            (None, Some(record)) => {
                let named = PathBuf::from(&record.scene_file);
                if !named.is_file() {
                    return Err(ViewerError::Arguments(format!(
                        "{} names the scene {}, which is not there (run from another folder, or moved); give \
                         it: unitwin view SCENE --replay {2} (or unitwin render {2} --scene SCENE)",
                        record_path.display(),
                        named.display(),
                        folder.display()
                    )));
                }
                named
            }
            (None, None) => return Err(missing(&record_path, "it names the scene")),
        };
        let mut twin = crate::twin::load(&scene_file).map_err(ViewerError::Scene)?;
        let short = |hash: &str| hash.get(..12).unwrap_or(hash).to_string();
        let another_scene = |recorded_in: &Path, recorded: &str| {
            ViewerError::Arguments(format!(
                "{} was recorded on a scene with SHA-256 {}…, but {} has {}…: the run folder belongs to another \
                 scene (or another version of it)",
                recorded_in.display(),
                short(recorded),
                scene_file.display(),
                short(&twin.loaded.hash)
            ))
        };
        if let Some(record) = &record
            && record.scene_sha256 != twin.loaded.hash
        {
            return Err(another_scene(&record_path, &record.scene_sha256));
        }
        let interval = record.as_ref().map_or(twin.scenario.run.output_interval, |r| r.output_interval);
        if !(interval.is_finite() && interval > 0.0) {
            return Err(ViewerError::Arguments(format!(
                "{}: output_interval must be a positive number of seconds (got {interval})",
                record_path.display()
            )));
        }
        let mut index = TrajectoryIndex::read(&trajectories, interval)?;
        if let Some(record) = &record {
            let last = record.until / interval + 1e-6;
            if !(record.until >= 0.0 && last < MAX_FRAMES as f64) {
                return Err(ViewerError::Arguments(format!(
                    "{}: until = {} s at {interval} s a frame is not a run a replay can hold (at most {MAX_FRAMES} \
                     frames)",
                    record_path.display(),
                    record.until
                )));
            }
            index.extend_to(last.floor() as usize);
        }
        if index.frames() == 0 {
            index.extend_to(0);
        }

        // The twin's states: the scene's, then again after each step the recorded commands changed.
        let unit = &twin.scene().unit;
        let (name, origin) = (unit.name.clone(), (unit.origin.lat, unit.origin.lon));
        let mut draw = DrawTwin::new(&twin.space, &twin.scenario, &name, origin);
        let mut states = vec![(f64::NEG_INFINITY, draw.clone())];
        let mut events = Vec::new();
        let commands_path = folder.join("commands.ron");
        if commands_path.is_file() {
            let (script, source) = read_script(&commands_path).map_err(ViewerError::Scene)?;
            if script.scene_sha256 != twin.loaded.hash {
                return Err(another_scene(&commands_path, &script.scene_sha256));
            }
            let step = twin.scenario.run.step;
            let resolved = script.resolve(&source, &twin.space, step).map_err(ViewerError::Scene)?;
            let mut changed_at: Option<u64> = None;
            for (n, (at_step, _, command)) in resolved.iter().enumerate() {
                let t = *at_step as f64 * step;
                if crate::command::apply(&mut twin.space, &mut twin.nav, *command, t) {
                    changed_at = Some(*at_step);
                }
                // One state per step: several commands at the start of one step show together.
                let last_of_step = resolved.get(n + 1).is_none_or(|next| next.0 != *at_step);
                if last_of_step && changed_at.take().is_some() {
                    draw.refresh(&twin.space);
                    states.push((t, draw.clone()));
                }
            }
            events = script
                .commands
                .iter()
                .map(|c| RecordedEvent { t: c.t, origin: c.origin, text: format!("{:?}", c.command) })
                .collect();
        }
        let vehicles_path = folder.join("vehicles.csv");
        let vehicles = if vehicles_path.is_file() { Some(VehicleIndex::read(&vehicles_path, interval)?) } else { None };
        let vehicle_sizes = VehicleKind::ALL.map(|kind| {
            let params = twin.traffic.params(kind);
            (params.length, params.width)
        });
        let first = &states[0].1;
        let mut floors: Vec<(f64, LevelId)> = first.levels.iter().map(|l| (l.elevation, l.id)).collect();
        floors.sort_by(|a, b| a.0.total_cmp(&b.0));
        let density = DensityCounter::new(first, floors.len());
        Ok(Recording {
            folder: folder.to_path_buf(),
            scene_file,
            seed: record.as_ref().map(|r| r.seed),
            index,
            states,
            events,
            vehicles,
            vehicle_sizes,
            floors,
            density,
            floor_of: Vec::new(),
        })
    }

    /// Time of the last frame, s.
    pub fn end_time(&self) -> f64 {
        self.index.end_time()
    }

    /// The index into `states` of the twin as it stood at time `t`.
    pub fn state_at(&self, t: f64) -> usize {
        self.states.partition_point(|(from, _)| *from <= t + 1e-9).saturating_sub(1)
    }

    /// Fills `out` with frame `k`'s agents as the live draw data has them: positions from the
    /// file, velocity from the neighbouring frame, local density counted here. Reuses `out`'s and
    /// its own buffers, so a seek allocates nothing once they have grown to the largest frame.
    pub fn fill_agents(&mut self, k: usize, out: &mut DrawAgents) {
        let k = k.min(self.index.frames().saturating_sub(1));
        let interval = self.index.interval;
        let frame = self.index.frame(k);
        // Velocity from the frame before (the file's frames are `interval` apart); an agent that
        // has just arrived takes it from the frame after.
        let (before, after) = (if k > 0 { self.index.frame(k - 1) } else { &[] }, self.index.frame(k + 1));
        self.floor_of.clear();
        for a in frame {
            let floor = floor_at(&self.floors, a.z);
            self.floor_of.push(floor as u16);
            self.density.add(floor, a.x as f64, a.y as f64);
        }
        out.step = k as u64;
        out.t = self.index.time(k);
        out.agents.clear();
        let (mut i, mut j) = (0, 0);
        for (n, a) in frame.iter().enumerate() {
            let vel = match find(before, &mut i, a.id) {
                Some(p) => [(a.x - p.x) / interval as f32, (a.y - p.y) / interval as f32],
                None => match find(after, &mut j, a.id) {
                    Some(q) => [(q.x - a.x) / interval as f32, (q.y - a.y) / interval as f32],
                    None => [0.0, 0.0],
                },
            };
            let floor = self.floor_of[n] as usize;
            let speed = (vel[0] * vel[0] + vel[1] * vel[1]).sqrt();
            out.agents.push(DrawAgent {
                id: AgentId(a.id),
                pos: [a.x as f64, a.y as f64, a.z as f64],
                vel,
                level: self.floors.get(floor).map_or(LevelId::from_index(0), |f| f.1),
                on_stair: None,
                population: PopulationId::from_index(0),
                density: self.density.density(floor, a.x as f64, a.y as f64),
                radius: REPLAY_RADIUS,
                activity: if speed < STANDING_SPEED { DrawActivity::Waiting } else { DrawActivity::Walking },
            });
        }
        self.density.clear();
    }

    /// Fills `out` with frame `k`'s vehicles as the live draw data has them (centre of the body from
    /// the recorded front; standing ones as braking; never-moving ones as parked). Signal lights
    /// are not recorded, so `out.heads` stays empty. Reuses `out`'s buffer.
    pub fn fill_vehicles(&self, k: usize, out: &mut DrawTraffic) {
        out.step = k as u64;
        out.vehicles.clear();
        let Some(vehicles) = &self.vehicles else { return };
        out.vehicles.extend(vehicles.frame(k).iter().map(|v| {
            let (length, width) = self.vehicle_sizes[v.kind as usize];
            let heading = [(v.heading as f64).cos(), (v.heading as f64).sin()];
            let [x, y, z] = v.front.map(|c| c as f64);
            DrawVehicle {
                id: v.id,
                kind: v.kind,
                centre: [x - heading[0] * length / 2.0, y - heading[1] * length / 2.0, z],
                heading,
                length,
                width,
                speed: v.speed as f64,
                braking: v.speed < 0.1,
                parked: vehicles.parked(v.id),
            }
        }));
    }

    /// The draw data at time `t` (the frame at or before it, the twin as the commands left it).
    pub fn snapshot_at(&mut self, t: f64) -> Snapshot {
        let k = self.index.frame_at(t);
        let mut agents = DrawAgents::default();
        self.fill_agents(k, &mut agents);
        let mut traffic = DrawTraffic::default();
        self.fill_vehicles(k, &mut traffic);
        Snapshot { twin: self.states[self.state_at(t)].1.clone(), agents, traffic }
    }

    /// The floor index of an elevation (for tests and the panel).
    pub fn floor_level(&self, z: f32) -> Option<LevelId> {
        self.floors.get(floor_at(&self.floors, z)).map(|f| f.1)
    }
}

/// The floor (index into `floors`, ascending) an elevation is on: the highest at or below it (an
/// agent on a stair belongs to the floor at its foot, as in the live draw data).
fn floor_at(floors: &[(f64, LevelId)], z: f32) -> usize {
    floors.partition_point(|(elevation, _)| *elevation <= z as f64 + 0.05).saturating_sub(1)
}

/// The record of agent `id` in `frame` (sorted by id), searching on from `*cursor`: walking two
/// id-sorted frames side by side costs one pass.
fn find<'a>(frame: &'a [AgentRecord], cursor: &mut usize, id: u32) -> Option<&'a AgentRecord> {
    while *cursor < frame.len() && frame[*cursor].id < id {
        *cursor += 1;
    }
    frame.get(*cursor).filter(|r| r.id == id)
}
