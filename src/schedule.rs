//! The bottom of the engine: the `SimStep` schedule of chained system sets, the simulated clock,
//! the run's seed and worker count. Every simulation plugin hangs its systems into these sets.

use bevy::ecs::batching::BatchingStrategy;
use bevy::ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel};
use bevy::prelude::*;

/// One simulation step. Runs once per tick of `FixedUpdate`.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimStep;

/// The phases of a step, always in this order. Sets that nothing uses yet are slots for the
/// layers to come (signals, vehicles).
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimSystems {
    /// Commands issued since the last step (and timed ones now due) change the twin; fields are rebuilt.
    Commands,
    /// Traffic signals change phase.
    Signals,
    /// Whoever stands in a doorway that has just become wall steps out of it; agents are placed or arrive.
    Spawn,
    /// The state at the start of the step is measured and recorded.
    Measure,
    /// Positions are copied into the read-only neighbour snapshot.
    Snapshot,
    /// Areas are surveyed, hold lines open waves, playbooks issue measures.
    Measures,
    /// Agents choosing among exits re-decide from the snapshot.
    Route,
    /// Each agent chooses its velocity from the snapshot.
    Steer,
    /// Vehicles choose their acceleration from the snapshot.
    Drive,
    /// Each agent moves, leaves or reaches a destination.
    Move,
    /// People crossing a held line without a place in its wave step back.
    Hold,
    /// What moved during this step is counted (measurement lines).
    Count,
    /// Agents that left are removed and counted; stair openings are crossed.
    Leave,
    /// The clock advances and the end of the run is detected.
    Advance,
    /// Read-only draw data for renderers and reports is published.
    Publish,
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
    pub fn new(dt: f64, output_interval: f64, until: f64) -> Self {
        SimClock { step: 0, dt, steps_per_frame: (output_interval / dt).round().max(1.0) as u64, until }
    }
    /// Seconds since the start, rounded to the nanosecond so that 24 × 0.05 reads 1.2, not 1.2000000000000002.
    pub fn now(&self) -> f64 {
        self.time_of(self.step)
    }
    /// The time at the start of step `step`, rounded like [`SimClock::now`].
    pub fn time_of(&self, step: u64) -> f64 {
        (step as f64 * self.dt * 1e9).round() / 1e9
    }
    /// The time at the end of the current step.
    pub fn end_of_step(&self) -> f64 {
        self.time_of(self.step + 1)
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
    /// Everyone who was ever going to come has come and gone (set by the crowd before `Advance`).
    pub everyone_left: bool,
    /// Vehicles are on the road or still to come (set by the traffic before `Advance`): the run
    /// goes on to its end time.
    pub vehicles_active: bool,
}

/// How many agent batches a step processes at once. Results never depend on it: every parallel
/// update reads a snapshot and writes only its own agent. It is a per-run setting, so runs with
/// different worker counts can share one process (and Bevy's one global compute pool).
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimThreads(pub usize);

impl Default for SimThreads {
    fn default() -> Self {
        SimThreads(available_cores())
    }
}

/// The cores this process may use (1 when unknown).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How to iterate `items` agents with `SimThreads`.
#[derive(Clone, Debug)]
pub enum Parallelism {
    /// On the calling thread.
    Serial,
    /// In batches: at most as many at once as the run's worker count.
    Batches(BatchingStrategy),
}

impl SimThreads {
    pub fn plan(self, items: usize) -> Parallelism {
        if self.0 <= 1 || items < 2 {
            Parallelism::Serial
        } else {
            Parallelism::Batches(BatchingStrategy::new().min_batch_size(items.div_ceil(self.0)))
        }
    }
}

/// Runs `f` on every item of `query`, in parallel batches as the run's worker count allows.
#[macro_export]
macro_rules! for_each_agent {
    ($query:expr, $threads:expr, $f:expr) => {{
        let f = $f;
        match $threads.plan($query.iter().len()) {
            $crate::schedule::Parallelism::Serial => $query.iter_mut().for_each(f),
            $crate::schedule::Parallelism::Batches(strategy) => {
                $query.par_iter_mut().batching_strategy(strategy).for_each(f)
            }
        }
    }};
}

/// The `SimStep` schedule, its chained sets, and the clock. Ambiguity detection is an error: no
/// two systems with conflicting access may run in an undefined order.
pub struct SchedulePlugin;

impl Plugin for SchedulePlugin {
    fn build(&self, app: &mut App) {
        let mut schedule = Schedule::new(SimStep);
        schedule.set_build_settings(ScheduleBuildSettings { ambiguity_detection: LogLevel::Error, ..default() });
        app.add_schedule(schedule)
            .init_resource::<SimControl>()
            .init_resource::<SimThreads>()
            .configure_sets(
                SimStep,
                (
                    SimSystems::Commands,
                    SimSystems::Signals,
                    SimSystems::Spawn,
                    SimSystems::Measure,
                    SimSystems::Snapshot,
                    SimSystems::Measures,
                    SimSystems::Route,
                    SimSystems::Steer,
                    SimSystems::Drive,
                    SimSystems::Move,
                    SimSystems::Hold,
                    SimSystems::Count,
                    SimSystems::Leave,
                    SimSystems::Advance,
                    SimSystems::Publish,
                )
                    .chain(),
            )
            .add_systems(FixedUpdate, run_sim_step)
            .add_systems(SimStep, advance_clock.in_set(SimSystems::Advance));
    }
}

fn run_sim_step(world: &mut World) {
    let control = *world.resource::<SimControl>();
    if !control.paused && !control.finished {
        world.run_schedule(SimStep);
    }
}

fn advance_clock(mut clock: ResMut<SimClock>, mut control: ResMut<SimControl>) {
    clock.step += 1;
    let now = clock.now();
    control.finished = (control.everyone_left && !control.vehicles_active) || now >= clock.until - 1e-9;
}
