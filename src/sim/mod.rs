//! The simulation engine: one `SimStep` schedule of chained system sets on Bevy's fixed step,
//! its clock and seed, and the construction of a ready-to-run world from a checked scene.

use std::time::Duration;

use bevy::app::{ScheduleRunnerPlugin, TaskPoolThreadAssignmentPolicy};
use bevy::ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;

use crate::crowd::spawn::{Leg, PopulationRuntime, Populations, Source, place_in_area, population_rng};
use crate::crowd::{Census, CrowdPlugin};
use crate::incident::{IncidentPlugin, TimedEvents};
use crate::metrics::{Measurements, MetricsPlugin};
use crate::scene::{CheckedScene, Diagnostics, Placement};
use crate::space::SpaceRes;

/// One simulation step. Runs once per tick of `FixedUpdate`.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimStep;

/// The phases of a step, always in this order.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimSystems {
    /// Timed and live events: doors open or close, fields are rebuilt.
    Incidents,
    /// Agents are placed or arrive.
    Spawn,
    /// The state at the start of the step is measured and recorded.
    Measure,
    /// Positions are copied into the read-only neighbour snapshot.
    Snapshot,
    /// Agents choosing among exits re-decide from the snapshot.
    Route,
    /// Each agent chooses its velocity from the snapshot.
    Steer,
    /// Each agent moves, leaves or reaches a destination.
    Move,
    /// Agents that left are removed and counted.
    Leave,
    /// The clock advances and the end of the run is detected.
    Advance,
}

/// Simulated time, counted in whole steps so that it never drifts.
#[derive(Resource, Clone, Copy, Debug)]
pub struct SimClock {
    pub step: u64,
    pub dt: f64,
    /// Steps between trajectory frames.
    pub steps_per_frame: u64,
    /// The run stops when this time is reached.
    pub until: f64,
}

impl SimClock {
    /// Seconds since the start, rounded to the nanosecond so that 24 × 0.05 reads 1.2, not 1.2000000000000002.
    pub fn now(&self) -> f64 {
        (self.step as f64 * self.dt * 1e9).round() / 1e9
    }
    pub fn is_frame(&self) -> bool {
        self.step % self.steps_per_frame == 0
    }
    pub fn frame(&self) -> u64 {
        self.step / self.steps_per_frame
    }
}

/// The seed of this run; every random stream is forked from it.
#[derive(Resource, Clone, Copy, Debug)]
pub struct SimSeed(pub u64);

/// Pause, and the end of the run.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct SimControl {
    pub paused: bool,
    pub finished: bool,
    /// Everyone who was ever going to come has come and gone.
    pub everyone_left: bool,
}

pub struct SimulationPlugin;

impl Plugin for SimulationPlugin {
    fn build(&self, app: &mut App) {
        let mut schedule = Schedule::new(SimStep);
        schedule.set_build_settings(ScheduleBuildSettings { ambiguity_detection: LogLevel::Error, ..default() });
        app.add_schedule(schedule)
            .init_resource::<SimControl>()
            .configure_sets(
                SimStep,
                (
                    SimSystems::Incidents,
                    SimSystems::Spawn,
                    SimSystems::Measure,
                    SimSystems::Snapshot,
                    SimSystems::Route,
                    SimSystems::Steer,
                    SimSystems::Move,
                    SimSystems::Leave,
                    SimSystems::Advance,
                )
                    .chain(),
            )
            .add_systems(FixedUpdate, run_sim_step)
            .add_systems(SimStep, advance_clock.in_set(SimSystems::Advance))
            .add_plugins((CrowdPlugin, IncidentPlugin, MetricsPlugin));
    }
}

fn run_sim_step(world: &mut World) {
    let control = *world.resource::<SimControl>();
    if !control.paused && !control.finished {
        world.run_schedule(SimStep);
    }
}

fn advance_clock(
    mut clock: ResMut<SimClock>,
    mut control: ResMut<SimControl>,
    populations: Res<Populations>,
    census: Res<Census>,
) {
    clock.step += 1;
    let now = clock.now();
    control.everyone_left = populations.all_in(now) && census.on_site() == 0;
    control.finished = control.everyone_left || now >= clock.until - 1e-9;
}

/// Settings of one run that may differ from the scene's own.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: u64,
    pub until: f64,
    /// Worker threads; `None` uses every core. Results never depend on it.
    pub threads: Option<usize>,
}

impl RunOptions {
    pub fn from_scene(checked: &CheckedScene) -> Self {
        RunOptions { seed: checked.scene().run.seed, until: checked.scene().run.duration, threads: None }
    }
}

/// A headless app for one run: `MinimalPlugins`, one simulation step per `update()`.
pub fn headless_app(checked: &CheckedScene, options: &RunOptions) -> Result<App, Diagnostics> {
    let mut app = App::new();
    let mut plugins = MinimalPlugins.build().disable::<ScheduleRunnerPlugin>();
    let threads = options.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    plugins = plugins.set(TaskPoolPlugin { task_pool_options: compute_threads(threads) });
    app.add_plugins(plugins).insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
    insert_simulation(&mut app, checked, options)?;
    app.finish();
    app.cleanup();
    Ok(app)
}

/// Task pools with `threads` compute threads. Bevy's defaults give IO and async work a share of
/// the cores (on 2 cores that leaves 1 for compute); the simulation does no IO or async work, so
/// those pools get one idle thread each and compute gets the rest.
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

/// Adds the simulation plugins and the world of `checked` to any app (headless or viewer).
pub fn insert_simulation(app: &mut App, checked: &CheckedScene, options: &RunOptions) -> Result<(), Diagnostics> {
    let scene = checked.scene();
    let dt = scene.run.step;
    let populations = build_populations(checked, options.seed)?;
    app.insert_resource(Time::<Fixed>::from_duration(Duration::from_secs_f64(dt)))
        .insert_resource(SimClock {
            step: 0,
            dt,
            steps_per_frame: (scene.run.output_interval / dt).round().max(1.0) as u64,
            until: options.until,
        })
        .insert_resource(SimSeed(options.seed))
        .insert_resource(crate::crowd::model::ModelParams(scene.model.clone()))
        .insert_resource(crate::crowd::route::RoutingMode(scene.routing))
        .insert_resource(SpaceRes(checked.space.clone()))
        .insert_resource(checked.nav.clone())
        .insert_resource(populations)
        .insert_resource(TimedEvents::from_scene(scene, &checked.space))
        .insert_resource(Measurements::from_scene(scene, &checked.space))
        .add_plugins(SimulationPlugin);
    Ok(())
}

fn build_populations(checked: &CheckedScene, seed: u64) -> Result<Populations, Diagnostics> {
    let scene = checked.scene();
    let mut list = Vec::new();
    let mut problems = Diagnostics::default();
    for (index, (pop, plan)) in scene.populations.iter().zip(&checked.plans).enumerate() {
        let mut rng = population_rng(seed, index);
        let level = &checked.space.levels[plan.level];
        let source = match &pop.placement {
            Placement::Area { polygon, count } => {
                match place_in_area(level, polygon, *count as usize, pop.radius, plan.spawn_area, &mut rng) {
                    Ok(positions) => Source::Placed { positions, done: false },
                    Err(fitted) => {
                        problems.push(
                            checked
                                .loaded
                                .source
                                .at_id("population", &pop.id, format!("only {fitted} of {count} agents fit in the spawn area without overlapping each other or a wall"))
                                .hint("enlarge the spawn area, lower the count, or move it away from obstacles"),
                        );
                        continue;
                    }
                }
            }
            Placement::Arrivals { rates, total, .. } => Source::Arrivals {
                door: plan.entrance.expect("arrivals have an entrance door"),
                rates: rates.clone(),
                total: *total,
                emitted: 0,
            },
        };
        list.push(PopulationRuntime {
            id: pop.id.clone(),
            level: plan.level as u16,
            radius: pop.radius,
            time_gap: pop.time_gap,
            relaxation: pop.relaxation,
            speed: pop.speed.clone(),
            premovement: pop.premovement.clone(),
            legs: plan
                .legs
                .iter()
                .map(|(target, dwell)| Leg { target: *target as u32, dwell: dwell.clone() })
                .collect(),
            exit_choice: pop.exit_choice,
            exit_options: plan.exit_options.iter().map(|&(door, target)| (door, target as u32)).collect(),
            source,
            rng,
        });
    }
    if problems.is_empty() { Ok(Populations { list, next_id: 0 }) } else { Err(problems) }
}
