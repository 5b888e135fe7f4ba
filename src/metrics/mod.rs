//! Measurement: trajectory frames, the on-site timeline, local density peaks, line crossings
//! and area densities. Owns what is observed during a run; the report module writes it out.

pub mod cells;

use std::io;

use bevy::math::DVec2;
use bevy::prelude::*;
use rstar::RTree;

use crate::crowd::{AgentId, Body, Census, Outside};
use crate::geom::{distance_to_segment, ring_contains, ring_signed_area, segments_intersect};
use crate::ids::{BarrierId, DoorId, Id, LevelId};
use crate::schedule::{SimClock, SimStep, SimSystems};
use crate::space::{BarrierGeom, Space, SpaceRes};
use crate::twin::{MeasurementPlan, Scenario};

/// Radius (m) of the disc over which local density is measured around each agent.
pub const DENSITY_RADIUS: f64 = 1.0;

/// One agent in a recorded frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameAgent {
    pub id: u32,
    pub level: LevelId,
    /// Position on its level.
    pub pos: DVec2,
    /// Position in world coordinates (x, y, z).
    pub world: [f64; 3],
    /// Local density (persons/m² in a [`DENSITY_RADIUS`] disc around the agent, itself included).
    pub density: f32,
}

/// One vehicle in a recorded frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameVehicle {
    pub id: u32,
    pub kind: crate::scene::VehicleKind,
    /// Front bumper in world coordinates (x, y, z).
    pub world: [f64; 3],
    /// Direction of travel, degrees counterclockwise from east (x).
    pub heading: f64,
    /// m/s
    pub speed: f64,
    /// The lane or turn it is on (index into the network's links).
    pub link: u32,
}

/// Where recorded vehicle frames go (`vehicles.csv`).
pub trait VehicleSink: Send + Sync {
    /// The frame at time `t`, vehicles in id order.
    fn frame(&mut self, t: f64, vehicles: &[FrameVehicle]) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The vehicle sink of a run, if it records vehicles.
#[derive(Resource, Default)]
pub struct VehicleRecorder {
    pub sink: Option<Box<dyn VehicleSink>>,
    pub error: Option<io::Error>,
    buffer: Vec<FrameVehicle>,
}

/// Records the vehicles at the start of the step, every `output_interval`.
pub fn record_vehicles(
    clock: Res<SimClock>,
    net: Res<crate::traffic::TrafficNet>,
    vehicles: Res<crate::traffic::Vehicles>,
    mut recorder: ResMut<VehicleRecorder>,
) {
    if !clock.is_frame() || recorder.sink.is_none() || recorder.error.is_some() {
        return;
    }
    let recorder = &mut *recorder;
    recorder.buffer.clear();
    recorder.buffer.extend(vehicles.iter().map(|v| {
        let (p, dir) = v.pose(&net.0);
        FrameVehicle {
            id: v.id,
            kind: v.kind,
            world: [p.x, p.y, p.z],
            heading: libm::atan2(dir.y, dir.x).to_degrees(),
            speed: v.v,
            link: v.link,
        }
    }));
    recorder.buffer.sort_unstable_by_key(|v| v.id);
    if let Some(sink) = recorder.sink.as_mut()
        && let Err(e) = sink.frame(clock.now(), &recorder.buffer)
    {
        recorder.error = Some(e);
    }
}

/// Where recorded frames go (a trajectory file, a replay buffer).
pub trait FrameSink: Send + Sync {
    /// Frame `number` at time `t`, agents in id order.
    fn frame(&mut self, number: u64, t: f64, agents: &[FrameAgent]) -> io::Result<()>;
    /// After the last frame: flush what is buffered.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The frame sink of a run; without one, frames are measured but not kept.
#[derive(Resource, Default)]
pub struct Recorder {
    pub sink: Option<Box<dyn FrameSink>>,
    /// The first error the sink returned; nothing more is written after it.
    pub error: Option<io::Error>,
    pub frames: u64,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct TimelineRow {
    pub t: f64,
    pub spawned: u32,
    pub on_site: u32,
    pub exited: u32,
    /// Arrivals due but kept outside for want of room at their door (scenes with arrival flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_outside: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
pub struct DensityPeak {
    /// persons/m²
    pub density: f64,
    pub t: f64,
    pub level: LevelId,
    /// World coordinates.
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LineCounter {
    pub id: String,
    #[serde(skip)]
    pub level: LevelId,
    #[serde(skip)]
    pub a: DVec2,
    #[serde(skip)]
    pub b: DVec2,
    /// Crossings from the left of from→to to its right, and back.
    pub left_to_right: u32,
    pub right_to_left: u32,
    pub first: Option<f64>,
    pub last: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct AreaMonitor {
    pub id: String,
    #[serde(skip)]
    pub level: LevelId,
    #[serde(skip)]
    pub polygon: Vec<[f64; 2]>,
    pub area_m2: f64,
    pub max_density: f64,
    pub max_at: f64,
    pub mean_density: f64,
    #[serde(skip)]
    pub samples: u64,
    /// Frames spent at each Level of Service (A–F) of the area's density.
    #[serde(skip)]
    pub frames_per_los: [u32; 6],
    /// Frames with the area's density above IMO's 4 persons/m².
    #[serde(skip)]
    pub frames_above_congestion: u32,
    /// Maximum instantaneous capacity (walkable part ÷ area per person), when the scene gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// Person-seconds (counted at output frames) of people inside whose local density was above 4
    /// and above 6 persons/m².
    pub person_seconds_above: [f64; 2],
    /// Seconds (counted at output frames) at or above the yellow, orange and red warning levels:
    /// 80, 90 and 100 % of capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_at_warning: Option<[f64; 3]>,
}

/// How far from a fallen person's outline someone is within reach of them, m: a stride (about
/// 0.7 m at walking speed, Weidmann 1993) plus a body's half-width; whoever is this close can step
/// on, trip over or be pushed onto the person on the ground [est].
pub const FALL_RISK_REACH: f64 = 1.0;

/// A fallen person's surroundings while they lie there: the people within [`FALL_RISK_REACH`] of
/// the outline and the crowding round them. A fall in a dense crowd is how crushes begin (the Bund,
/// 2014: people at the bottom of the stairway fell and others fell onto them; Fruin 1993), so the
/// risk counts from Shanghai's moving-crowd alarm of 4 persons/m² (see [`CROWDING`]).
#[derive(Clone, Debug, serde::Serialize)]
pub struct FallenMonitor {
    pub id: String,
    #[serde(skip)]
    pub barrier: BarrierId,
    /// When the person first lay there, and for how long in all (counted at output frames).
    pub first_down: Option<f64>,
    pub seconds_down: f64,
    /// Most people within reach at once, and when.
    pub max_near: u32,
    pub max_near_at: Option<f64>,
    /// Highest local density of anyone within reach.
    pub max_density_near: f64,
    /// Seconds during which someone within reach stood at a local density above 4 persons/m²:
    /// the crowd pressing on the fallen person. When it first did.
    pub seconds_pressed: f64,
    pub first_pressed_at: Option<f64>,
    /// Person-seconds of people within reach whose local density was above 4 and above 6
    /// persons/m².
    pub person_seconds_above: [f64; 2],
}

impl FallenMonitor {
    fn new(id: String, barrier: BarrierId) -> Self {
        FallenMonitor {
            id,
            barrier,
            first_down: None,
            seconds_down: 0.0,
            max_near: 0,
            max_near_at: None,
            max_density_near: 0.0,
            seconds_pressed: 0.0,
            first_pressed_at: None,
            person_seconds_above: [0.0; 2],
        }
    }

    /// Adds one output frame, whose agents carry their local densities.
    fn observe(&mut self, t: f64, interval: f64, outline: &BarrierGeom, frame: &[FrameAgent]) {
        self.first_down.get_or_insert(t);
        self.seconds_down += interval;
        let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
        for s in &outline.segments {
            lo = lo.min(s.a).min(s.b);
            hi = hi.max(s.a).max(s.b);
        }
        let (lo, hi) = (lo - DVec2::splat(FALL_RISK_REACH), hi + DVec2::splat(FALL_RISK_REACH));
        let mut near = 0u32;
        let mut pressed = false;
        for a in frame.iter().filter(|a| a.level == outline.level) {
            if a.pos.cmplt(lo).any() || a.pos.cmpgt(hi).any() {
                continue;
            }
            let distance =
                outline.segments.iter().map(|s| distance_to_segment(a.pos, s.a, s.b)).fold(f64::INFINITY, f64::min);
            if distance > FALL_RISK_REACH {
                continue;
            }
            near += 1;
            let density = a.density as f64;
            self.max_density_near = self.max_density_near.max(density);
            pressed |= density > CROWDING[0];
            for (threshold, sum) in CROWDING.iter().zip(&mut self.person_seconds_above) {
                if density > *threshold {
                    *sum += interval;
                }
            }
        }
        if near > self.max_near {
            self.max_near = near;
            self.max_near_at = Some(t);
        }
        if pressed {
            self.seconds_pressed += interval;
            self.first_pressed_at.get_or_insert(t);
        }
    }
}

/// Everything observed in a run.
#[derive(Resource, Clone, Debug)]
pub struct Measurements {
    pub timeline: Vec<TimelineRow>,
    pub peak: Option<DensityPeak>,
    pub lines: Vec<LineCounter>,
    pub areas: Vec<AreaMonitor>,
    /// The exits whose counts `exit_series` records, in id order.
    pub exit_doors: Vec<DoorId>,
    /// For the report, at every frame (the times of `timeline`): agents who left by each of
    /// `exit_doors` so far, crossings of each line each way so far (left to right, right to left),
    /// and each area's density; frame-major.
    pub exit_series: Vec<u32>,
    pub line_series: Vec<[u32; 2]>,
    pub area_series: Vec<f32>,
    /// Peak local density and time above thresholds per cell of each floor.
    pub cells: cells::CellMaps,
    /// Person-seconds (counted at output frames) of people anywhere whose local density was above
    /// [`CROWDING`]'s 4 and 6 persons/m².
    pub person_seconds_above: [f64; 2],
    /// Each fallen person of the scene (placed or not), in scene order.
    pub fallen: Vec<FallenMonitor>,
}

/// Local densities whose person-seconds are counted: 4 persons/m² (Shanghai's critical density for a
/// moving crowd, IMO's significant congestion) and 6 (where crush risk grows sharply).
pub const CROWDING: [f64; 2] = [4.0, 6.0];

impl Measurements {
    pub fn new(plans: &[MeasurementPlan]) -> Self {
        let mut m = Measurements {
            timeline: Vec::new(),
            peak: None,
            lines: Vec::new(),
            areas: Vec::new(),
            exit_doors: Vec::new(),
            exit_series: Vec::new(),
            line_series: Vec::new(),
            area_series: Vec::new(),
            cells: cells::CellMaps::default(),
            person_seconds_above: [0.0; 2],
            fallen: Vec::new(),
        };
        for plan in plans {
            match plan {
                MeasurementPlan::Line { id, level, a, b } => m.lines.push(LineCounter {
                    id: id.clone(),
                    level: *level,
                    a: *a,
                    b: *b,
                    left_to_right: 0,
                    right_to_left: 0,
                    first: None,
                    last: None,
                }),
                MeasurementPlan::Area { id, level, polygon } => m.areas.push(AreaMonitor {
                    id: id.clone(),
                    level: *level,
                    polygon: polygon.clone(),
                    area_m2: ring_signed_area(polygon).abs(),
                    max_density: 0.0,
                    max_at: 0.0,
                    mean_density: 0.0,
                    samples: 0,
                    frames_per_los: [0; 6],
                    frames_above_congestion: 0,
                    capacity: None,
                    seconds_at_warning: None,
                    person_seconds_above: [0.0; 2],
                }),
            }
        }
        m
    }
}

impl FromWorld for Measurements {
    fn from_world(world: &mut World) -> Self {
        let mut m = Measurements::new(&world.resource::<Scenario>().measurements);
        if let Some(space) = world.get_resource::<SpaceRes>() {
            m.exit_doors = space.0.exits().map(|(id, _)| id).collect();
            for area in &mut m.areas {
                area.capacity = space.0.area_index.get(&area.id).and_then(|&a| space.0.areas[a].capacity);
                area.seconds_at_warning = area.capacity.map(|_| [0.0; 3]);
            }
            m.cells = cells::CellMaps::new(&space.0);
            m.fallen = space
                .0
                .barriers
                .enumerate()
                .filter(|(_, b)| b.fallen)
                .map(|(id, b)| FallenMonitor::new(b.id.clone(), id))
                .collect();
        }
        m
    }
}

pub struct MetricsPlugin;

impl Plugin for MetricsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Recorder>()
            .init_resource::<VehicleRecorder>()
            .init_resource::<Measurements>()
            .init_resource::<crate::traffic::TrafficNet>()
            .init_resource::<crate::traffic::Vehicles>()
            .add_systems(SimStep, (record_frame, record_vehicles).chain().in_set(SimSystems::Measure))
            .add_systems(
                SimStep,
                count_crossings.after(crate::crowd::crossing::record_crossing_entries).in_set(SimSystems::Count),
            );
    }
}

/// Agents as recorded in one frame, and the density tree's points, reused between frames.
#[derive(Default)]
pub struct FrameBuffer {
    agents: Vec<FrameAgent>,
    points: Vec<[f64; 2]>,
}

/// Records the state at the start of the step, every `output_interval`.
pub fn record_frame(
    clock: Res<SimClock>,
    census: Res<Census>,
    space: Res<SpaceRes>,
    mut recorder: ResMut<Recorder>,
    mut measurements: ResMut<Measurements>,
    agents: Query<(&AgentId, &Body)>,
    mut buffer: Local<FrameBuffer>,
) {
    if !clock.is_frame() {
        return;
    }
    let t = clock.now();
    let buffer = &mut *buffer;
    buffer.agents.clear();
    buffer.agents.extend(agents.iter().map(|(id, body)| FrameAgent {
        id: id.0,
        level: body.level,
        pos: body.pos,
        world: space.0.to_world(body.level, body.pos),
        density: 0.0,
    }));
    buffer.agents.sort_unstable_by_key(|a| a.id);
    measurements.timeline.push(TimelineRow {
        t,
        spawned: census.spawned,
        on_site: census.on_site(),
        exited: census.exited,
        kept_outside: census.kept_outside().map(Outside::now),
    });
    let m = &mut *measurements;
    m.exit_series.extend(m.exit_doors.iter().map(|d| census.per_exit.get(d).copied().unwrap_or(0)));
    m.line_series.extend(m.lines.iter().map(|l| [l.left_to_right, l.right_to_left]));
    // Local densities first, so that the sink (a replay) sees them.
    let interval = clock.steps_per_frame as f64 * clock.dt;
    measure_density(t, interval, buffer, &space.0, &mut measurements);
    let recorder = &mut *recorder;
    if recorder.error.is_none()
        && let Some(sink) = recorder.sink.as_mut()
        && let Err(e) = sink.frame(clock.frame(), t, &buffer.agents)
    {
        recorder.error = Some(e);
    }
    recorder.frames += 1;
}

fn measure_density(t: f64, interval: f64, buffer: &mut FrameBuffer, space: &Space, measurements: &mut Measurements) {
    // The frame's index among those measured so far (the timeline row was pushed already).
    let frame_index = measurements.timeline.len().saturating_sub(1) as u32;
    let frame = &mut buffer.agents;
    let levels = frame.iter().map(|a| a.level.index() + 1).max().unwrap_or(0);
    for level in (0..levels).map(LevelId::from_index) {
        buffer.points.clear();
        buffer.points.extend(frame.iter().filter(|a| a.level == level).map(|a| [a.pos.x, a.pos.y]));
        let tree = RTree::bulk_load(buffer.points.clone());
        // The same agents in the same (id) order as the points.
        for agent in frame.iter_mut().filter(|a| a.level == level) {
            let p = [agent.pos.x, agent.pos.y];
            let n = tree.locate_within_distance(p, DENSITY_RADIUS * DENSITY_RADIUS).count();
            let density = n as f64 / (std::f64::consts::PI * DENSITY_RADIUS * DENSITY_RADIUS);
            agent.density = density as f32;
            if measurements.peak.is_none_or(|peak| density > peak.density) {
                let [x, y, _] = space.to_world(level, DVec2::new(p[0], p[1]));
                measurements.peak = Some(DensityPeak { density, t, level, x, y });
            }
            measurements.cells.add(level, agent.world[0], agent.world[1], density, frame_index, t);
            for (threshold, sum) in CROWDING.iter().zip(&mut measurements.person_seconds_above) {
                if density > *threshold {
                    *sum += interval;
                }
            }
        }
    }
    for area in &mut measurements.areas {
        let mut inside = 0usize;
        for a in frame.iter().filter(|a| a.level == area.level && ring_contains(&area.polygon, a.pos)) {
            inside += 1;
            for (threshold, sum) in CROWDING.iter().zip(&mut area.person_seconds_above) {
                if a.density as f64 > *threshold {
                    *sum += interval;
                }
            }
        }
        let density = inside as f64 / area.area_m2;
        measurements.area_series.push(density as f32);
        area.frames_per_los[cells::fruin_los(density)] += 1;
        if density > cells::CONGESTION_DENSITY {
            area.frames_above_congestion += 1;
        }
        if density > area.max_density {
            area.max_density = density;
            area.max_at = t;
        }
        if let (Some(capacity), Some(seconds)) = (area.capacity, area.seconds_at_warning.as_mut()) {
            for (level, s) in crate::scene::WarningLevel::ALL.iter().zip(seconds) {
                if inside as f64 >= level.share() * capacity {
                    *s += interval;
                }
            }
        }
        area.mean_density += (density - area.mean_density) / (area.samples + 1) as f64;
        area.samples += 1;
    }
    for fallen in &mut measurements.fallen {
        let outline = &space.barriers[fallen.barrier];
        if outline.placed {
            fallen.observe(t, interval, outline, frame);
        }
    }
}

/// Counts the crossings of measurement lines made during this step's movement, including those of
/// agents who leave by an exit in it (they are removed only after this).
pub fn count_crossings(clock: Res<SimClock>, mut measurements: ResMut<Measurements>, agents: Query<&Body>) {
    if measurements.lines.is_empty() {
        return;
    }
    let t = clock.end_of_step();
    for line in &mut measurements.lines {
        let dir = line.b - line.a;
        for body in agents.iter() {
            if body.level != line.level || body.prev == body.pos {
                continue;
            }
            if segments_intersect(body.prev, body.pos, line.a, line.b) {
                let before = dir.perp_dot(body.prev - line.a);
                let after = dir.perp_dot(body.pos - line.a);
                if before > 0.0 && after <= 0.0 {
                    line.left_to_right += 1;
                } else if before <= 0.0 && after > 0.0 {
                    line.right_to_left += 1;
                } else {
                    continue;
                }
                line.first.get_or_insert(t);
                line.last = Some(t);
            }
        }
    }
}
