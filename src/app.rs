//! Assembling a simulation app from a built twin: the schedule, the twin's resources, and one
//! plugin per concern (commands, traffic, crowd, metrics, draw data). Headless or under a viewer alike.

use std::time::Duration;

use bevy::app::{ScheduleRunnerPlugin, TaskPoolThreadAssignmentPolicy};
use bevy::ecs::schedule::SingleThreadedExecutor;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;

use crate::command::{CommandPlugin, ReplayCommands, TimedCommands};
use crate::crowd::CrowdPlugin;
use crate::crowd::spawn::Populations;
use crate::draw::{DrawPlugin, TwinInfo};
use crate::measures::MeasuresPlugin;
use crate::metrics::MetricsPlugin;
use crate::scene::Diagnostics;
use crate::schedule::{SchedulePlugin, SimClock, SimSeed, SimThreads, available_cores};
use crate::space::SpaceRes;
use crate::traffic::{TrafficNet, TrafficPlugin};
use crate::twin::Twin;

/// Most worker threads a run may ask for.
pub const MAX_THREADS: usize = 256;

/// Settings of one run that may differ from the scene's own.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: u64,
    pub until: f64,
    /// Worker threads; `None` uses every core. Results never depend on it.
    pub threads: Option<usize>,
    /// Commands to replay instead of the scene's timed events.
    pub replay: Option<ReplayCommands>,
}

impl RunOptions {
    pub fn from_twin(twin: &Twin) -> Self {
        RunOptions { seed: twin.scenario.run.seed, until: twin.scenario.run.duration, threads: None, replay: None }
    }
}

/// A headless app for one run: `MinimalPlugins`, one simulation step per `update()`.
pub fn headless_app(twin: &Twin, options: &RunOptions) -> Result<App, Diagnostics> {
    let mut app = App::new();
    let plugins = MinimalPlugins
        .build()
        .disable::<ScheduleRunnerPlugin>()
        .set(TaskPoolPlugin { task_pool_options: compute_threads(available_cores()) });
    app.add_plugins(plugins).insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
    insert_simulation(&mut app, twin, options)?;
    if options.threads == Some(1) {
        // One worker: the systems run in order on the calling thread. The multi-threaded executor
        // would hand each system to the process-wide task pool and wait for it, which costs a
        // context switch per system, and several runs of a batch would contend for that pool.
        // Results do not change: the sets are chained and ambiguities are errors.
        for (_, schedule) in app.world_mut().resource_mut::<Schedules>().iter_mut() {
            schedule.set_executor(SingleThreadedExecutor::new());
        }
    }
    app.finish();
    app.cleanup();
    Ok(app)
}

/// Task pools for the simulation. Bevy's defaults give IO and async work a share of the cores
/// (on 2 cores that leaves 1 for compute); the simulation does no IO or async work, so those pools
/// get one idle thread each and compute gets the rest. The pools are global to the process: each
/// run's own worker count is [`SimThreads`].
fn compute_threads(threads: usize) -> TaskPoolOptions {
    let one = |percent| TaskPoolThreadAssignmentPolicy {
        min_threads: 1,
        max_threads: 1,
        percent,
        on_thread_spawn: None,
        on_thread_destroy: None,
    };
    TaskPoolOptions {
        min_total_threads: threads + 2,
        max_total_threads: threads + 2,
        io: one(0.0),
        async_compute: one(0.0),
        compute: TaskPoolThreadAssignmentPolicy {
            min_threads: threads,
            max_threads: threads,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        },
    }
}

/// Adds the simulation of `twin` to any app (headless or viewer): the twin's resources first, then
/// the plugins, each of which initialises its own state from them.
pub fn insert_simulation(app: &mut App, twin: &Twin, options: &RunOptions) -> Result<(), Diagnostics> {
    let run = &twin.scenario.run;
    let threads = options.threads.unwrap_or_else(available_cores).clamp(1, MAX_THREADS);
    let scene = twin.scene();
    app.insert_resource(Time::<Fixed>::from_duration(Duration::from_secs_f64(run.step)))
        .insert_resource(SimClock::new(run.step, run.output_interval, options.until))
        .insert_resource(SimSeed(options.seed))
        .insert_resource(SimThreads(threads))
        .insert_resource(SpaceRes(twin.space.clone()))
        .insert_resource(twin.nav.clone())
        .insert_resource(twin.scenario.clone())
        .insert_resource(TimedCommands(twin.scenario.timed.clone()))
        .insert_resource(TrafficNet(twin.traffic.clone()))
        .insert_resource(TwinInfo {
            name: scene.unit.name.clone(),
            origin: (scene.unit.origin.lat, scene.unit.origin.lon),
        });
    if let Some(replay) = &options.replay {
        app.insert_resource(replay.clone());
    }
    app.add_plugins((
        SchedulePlugin,
        CommandPlugin,
        TrafficPlugin,
        CrowdPlugin,
        MetricsPlugin,
        MeasuresPlugin,
        DrawPlugin,
    ));
    let problems = &app.world().resource::<Populations>().problems;
    if !problems.is_empty() {
        let src = &twin.loaded.source;
        let mut diags = Diagnostics::default();
        for (id, problem) in problems {
            diags.push(src.at_id("population", id, problem.clone()));
        }
        return Err(diags);
    }
    Ok(())
}
