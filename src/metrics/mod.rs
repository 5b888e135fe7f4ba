//! Measurement: trajectory frames, the on-site timeline, local density peaks, line crossings
//! and area densities. Owns what is observed during a run; the report module writes it out.

use std::io::Write;

use bevy::math::DVec2;
use bevy::prelude::*;
use rstar::RTree;

use crate::crowd::{AgentId, Body, Census};
use crate::scene::{Measurement, Scene};
use crate::sim::{SimClock, SimSystems};
use crate::space::geom::{ring_contains, ring_signed_area, segments_intersect, v};
use crate::space::{Space, SpaceRes};

/// Radius (m) of the disc over which local density is measured around each agent.
pub const DENSITY_RADIUS: f64 = 1.0;

/// Where trajectory lines go (PedPy text format); `None` records nothing.
#[derive(Resource, Default)]
pub struct TrajectorySink {
    pub writer: Option<Box<dyn Write + Send + Sync>>,
    pub error: Option<std::io::Error>,
    pub frames: u64,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct TimelineRow {
    pub t: f64,
    pub spawned: u32,
    pub on_site: u32,
    pub exited: u32,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct DensityPeak {
    /// persons/m²
    pub density: f64,
    pub t: f64,
    pub level: usize,
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LineCounter {
    pub id: String,
    #[serde(skip)]
    pub level: usize,
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
    pub level: usize,
    #[serde(skip)]
    pub polygon: Vec<[f64; 2]>,
    pub area_m2: f64,
    pub max_density: f64,
    pub max_at: f64,
    pub mean_density: f64,
    #[serde(skip)]
    pub samples: u64,
}

/// Everything observed in a run.
#[derive(Resource, Clone, Debug, Default)]
pub struct Measurements {
    pub timeline: Vec<TimelineRow>,
    pub peak: Option<DensityPeak>,
    pub lines: Vec<LineCounter>,
    pub areas: Vec<AreaMonitor>,
}

impl Measurements {
    pub fn from_scene(scene: &Scene, space: &Space) -> Self {
        let mut m = Measurements::default();
        for measurement in &scene.measurements {
            match measurement {
                Measurement::Line { id, level, from, to } => m.lines.push(LineCounter {
                    id: id.clone(),
                    level: space.level_index[level],
                    a: v(*from),
                    b: v(*to),
                    left_to_right: 0,
                    right_to_left: 0,
                    first: None,
                    last: None,
                }),
                Measurement::Area { id, level, polygon } => m.areas.push(AreaMonitor {
                    id: id.clone(),
                    level: space.level_index[level],
                    polygon: polygon.clone(),
                    area_m2: ring_signed_area(polygon).abs(),
                    max_density: 0.0,
                    max_at: 0.0,
                    mean_density: 0.0,
                    samples: 0,
                }),
            }
        }
        m
    }
}

pub struct MetricsPlugin;

impl Plugin for MetricsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TrajectorySink>()
            .init_resource::<Measurements>()
            .add_systems(crate::sim::SimStep, (count_crossings, record_frame).chain().in_set(SimSystems::Measure));
    }
}

/// Agents as recorded in one frame, reused between frames.
#[derive(Default)]
pub struct FrameBuffer(Vec<(u32, u16, DVec2)>);

pub fn record_frame(
    clock: Res<SimClock>,
    census: Res<Census>,
    space: Res<SpaceRes>,
    mut sink: ResMut<TrajectorySink>,
    mut measurements: ResMut<Measurements>,
    agents: Query<(&AgentId, &Body)>,
    mut frame: Local<FrameBuffer>,
) {
    if !clock.is_frame() {
        return;
    }
    let t = clock.now();
    let frame = &mut frame.0;
    frame.clear();
    frame.extend(agents.iter().map(|(id, body)| (id.0, body.level, body.pos)));
    frame.sort_unstable_by_key(|a| a.0);
    measurements.timeline.push(TimelineRow {
        t,
        spawned: census.spawned,
        on_site: census.on_site(),
        exited: census.exited,
    });
    let sink = &mut *sink;
    if let Some(writer) = sink.writer.as_mut().filter(|_| sink.error.is_none()) {
        let number = clock.frame();
        for &(id, level, pos) in frame.iter() {
            let [x, y, z] = space.0.to_world(level as usize, pos);
            if let Err(e) = writeln!(writer, "{id} {number} {x:.4} {y:.4} {z:.4}") {
                sink.error = Some(e);
                break;
            }
        }
    }
    sink.frames += 1;
    measure_density(t, frame, &space.0, &mut measurements);
}

fn measure_density(t: f64, frame: &[(u32, u16, DVec2)], space: &Space, measurements: &mut Measurements) {
    let levels = frame.iter().map(|a| a.1 as usize + 1).max().unwrap_or(0);
    for level in 0..levels {
        let points: Vec<[f64; 2]> = frame.iter().filter(|a| a.1 as usize == level).map(|a| [a.2.x, a.2.y]).collect();
        let tree = RTree::bulk_load(points.clone());
        for p in &points {
            let n = tree.locate_within_distance(*p, DENSITY_RADIUS * DENSITY_RADIUS).count();
            let density = n as f64 / (std::f64::consts::PI * DENSITY_RADIUS * DENSITY_RADIUS);
            if measurements.peak.is_none_or(|peak| density > peak.density) {
                let [x, y, _] = space.to_world(level, DVec2::new(p[0], p[1]));
                measurements.peak = Some(DensityPeak { density, t, level, x, y });
            }
        }
    }
    for area in &mut measurements.areas {
        let inside = frame.iter().filter(|a| a.1 as usize == area.level && ring_contains(&area.polygon, a.2)).count();
        let density = inside as f64 / area.area_m2;
        if density > area.max_density {
            area.max_density = density;
            area.max_at = t;
        }
        area.mean_density += (density - area.mean_density) / (area.samples + 1) as f64;
        area.samples += 1;
    }
}

/// Counts the crossings of measurement lines made during the previous step.
pub fn count_crossings(clock: Res<SimClock>, mut measurements: ResMut<Measurements>, agents: Query<(&AgentId, &Body)>) {
    if measurements.lines.is_empty() {
        return;
    }
    let t = clock.now();
    for line in &mut measurements.lines {
        let dir = line.b - line.a;
        for (_, body) in agents.iter() {
            if body.level as usize != line.level || body.prev == body.pos {
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
