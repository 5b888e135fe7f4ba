//! The 3D viewer (feature `viewer`): the unit, its crowd and vehicles drawn from the draw data only,
//! changed only through commands; offscreen pictures (`unitwin render`) and the window (`unitwin view`).

pub mod bench;
pub mod camera;
pub mod compare;
pub mod decorations;
pub mod fonts;
pub mod geometry;
pub mod heatmap;
pub mod labels;
pub mod legend;
pub mod palette;
pub mod recording;
pub mod render;
pub mod replay;
pub mod scene;
pub mod views;
pub mod window;

use std::path::PathBuf;

use crate::app::RunOptions;
use crate::command::NamedCommand;
use crate::runner::Run;
use crate::scene::Diagnostics;
use crate::twin::Twin;

pub use camera::{ViewCamera, ViewName};
pub use compare::{CompareAgents, Comparison};
pub use geometry::SceneFrame;
pub use recording::{Recording, TrajectoryIndex};
pub use render::{Picture, Renderer, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("{0}")]
    Scene(Diagnostics),
    #[error("{0}")]
    Arguments(String),
    #[error("{0}")]
    Command(String),
    #[error(
        "no graphics adapter: unitwin renders through Vulkan; on a machine without a GPU install Mesa's software \
         renderer (sudo apt-get install mesa-vulkan-drivers libvulkan1)"
    )]
    NoAdapter,
    #[error("{0}")]
    Render(String),
    #[error("{} exists; add --force to replace it", .0.display())]
    Exists(PathBuf),
    #[error("{0}")]
    Output(String),
}

/// Runs `twin` headless from the start to `at` seconds (or until everyone has left, if earlier),
/// with `commands` issued before the first step, and returns the draw data of that moment.
pub fn simulate_to(twin: &Twin, at: f64, commands: &[NamedCommand]) -> Result<Snapshot, ViewerError> {
    let mut snapshot = None;
    simulate_each(twin, &[at], commands, |_, s| {
        snapshot = Some(s);
        Ok(())
    })?;
    snapshot.ok_or_else(|| ViewerError::Render("the run gave no snapshot".into()))
}

/// Runs `twin` headless once through `times` (ascending, seconds), with `commands` issued before the
/// first step, and hands `each` the draw data at each time (the end, if everyone has left earlier).
pub fn simulate_each(
    twin: &Twin,
    times: &[f64],
    commands: &[NamedCommand],
    mut each: impl FnMut(f64, Snapshot) -> Result<(), ViewerError>,
) -> Result<(), ViewerError> {
    let Some(last) = times.iter().copied().reduce(f64::max) else { return Ok(()) };
    let mut options = RunOptions::from_twin(twin);
    // One worker: results never depend on it, and the renderer needs the other core.
    options.threads = Some(1);
    options.until = last.max(twin.scenario.run.step);
    let mut run = Run::new(twin, &options).map_err(ViewerError::Scene)?;
    for named in commands {
        crate::command::issue(run.world_mut(), named).map_err(|e| ViewerError::Command(e.to_string()))?;
    }
    // The first update only starts the clock; stepping once publishes the twin and crowd at t = 0.
    run.step();
    for &at in times {
        while !run.is_finished() && run.clock().now() < at - 1e-9 {
            run.step();
        }
        each(at, Snapshot::of(run.world()))?;
    }
    Ok(())
}
