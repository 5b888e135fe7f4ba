//! `unitwin bench-viewer`: the frame time of the offscreen renderer with a crowd of 10,000 to
//! 100,000 on the benchmark plaza, and the CPU time of the viewer's own systems per frame.

use std::time::Instant;

use super::render::{Renderer, Snapshot};
use super::{ViewCamera, ViewName, ViewerError};
use crate::app::RunOptions;
use crate::bench::{BenchScene, bench_loaded};
use crate::runner::Run;

/// Frames drawn before timing: meshes spawned, pipelines compiled, buffers grown.
const WARM_UP_FRAMES: usize = 3;

/// One crowd size timed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ViewerBench {
    pub agents: usize,
    pub frames: usize,
    pub width: u32,
    pub height: u32,
    /// Whole frames (the app's update, the software renderer and the wait for it), ms.
    pub frame_ms_mean: f64,
    pub frame_ms_max: f64,
    /// The viewer's own systems (the twin, agents, vehicles and heatmap drawn from the draw data), ms.
    pub systems_ms_mean: f64,
    pub systems_ms_max: f64,
}

/// Times `frames` frames of `agents` people on the benchmark plaza (1 person/m²) in the overview,
/// the crowd moved by its velocity each frame so that every agent's instance changes.
pub fn bench_viewer(agents: u32, frames: usize, size: (u32, u32), heatmap: bool) -> Result<ViewerBench, ViewerError> {
    let twin = crate::twin::build(bench_loaded(BenchScene::Plaza, agents, 10.0)).map_err(ViewerError::Scene)?;
    let options = RunOptions { seed: 1, until: 11.0, threads: None, replay: None };
    let mut run = Run::new(&twin, &options).map_err(ViewerError::Scene)?;
    // The first steps place everyone and give them a velocity.
    for _ in 0..3 {
        run.step();
    }
    let mut snapshot = Snapshot::of(run.world());
    drop(run);
    let mut renderer = Renderer::new(&snapshot, size)?;
    renderer.set_heatmap(heatmap);
    let camera = ViewCamera::named(ViewName::Overview, &snapshot.twin, size);
    let mut frame_ms = Vec::with_capacity(frames);
    let mut systems_ms = Vec::with_capacity(frames);
    for k in 0..WARM_UP_FRAMES + frames {
        step_crowd(&mut snapshot, 0.05);
        let started = Instant::now();
        let systems = renderer.frame(&snapshot, &camera)?;
        if k >= WARM_UP_FRAMES {
            frame_ms.push(started.elapsed().as_secs_f64() * 1e3);
            systems_ms.push(systems * 1e3);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    Ok(ViewerBench {
        agents: snapshot.agents.agents.len(),
        frames,
        width: size.0,
        height: size.1,
        frame_ms_mean: mean(&frame_ms),
        frame_ms_max: max(&frame_ms),
        systems_ms_mean: mean(&systems_ms),
        systems_ms_max: max(&systems_ms),
    })
}

/// Moves everyone by their velocity over `dt`, as a step of the simulation would.
fn step_crowd(snapshot: &mut Snapshot, dt: f64) {
    snapshot.agents.step += 1;
    snapshot.agents.t += dt;
    for a in &mut snapshot.agents.agents {
        a.pos[0] += f64::from(a.vel[0]) * dt;
        a.pos[1] += f64::from(a.vel[1]) * dt;
    }
}
