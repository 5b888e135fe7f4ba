//! Each plugin initialises its own state from the built twin, so one can be tested alone: an app
//! with `MinimalPlugins`, the schedule, the twin's resources and the crowd, nothing else.

use std::path::Path;
use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use unitwin::crowd::{AgentId, Body, Census, CrowdPlugin};
use unitwin::schedule::{SchedulePlugin, SimClock, SimControl, SimSeed, SimThreads};
use unitwin::space::SpaceRes;

#[test]
fn the_crowd_runs_on_its_own() {
    let twin = unitwin::twin::load(&Path::new(&unitwin_manifest_dir()).join("scenes/demo_hall.ron")).unwrap();
    let run = &twin.scenario.run;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins.build().disable::<ScheduleRunnerPlugin>())
        .insert_resource(TimeUpdateStrategy::FixedTimesteps(1))
        .insert_resource(Time::<Fixed>::from_duration(Duration::from_secs_f64(run.step)))
        .insert_resource(SimClock::new(run.step, run.output_interval, 300.0))
        .insert_resource(SimSeed(7))
        .insert_resource(SimThreads(1))
        .insert_resource(SpaceRes(twin.space.clone()))
        .insert_resource(twin.nav.clone())
        .insert_resource(twin.scenario.clone())
        .add_plugins((SchedulePlugin, CrowdPlugin));
    app.update();
    app.update();
    assert_eq!(app.world().resource::<Census>().spawned, 200, "the hall's audience is placed in the first step");
    while !app.world().resource::<SimControl>().finished {
        app.update();
    }
    let census = app.world().resource::<Census>();
    assert_eq!((census.exited, census.on_site()), (200, 0), "everyone leaves without metrics, commands or draw data");
    let t = app.world().resource::<SimClock>().now();
    // The README's demo hall figure: Seyfried capacity 200 / (2 · 1.9 · 1.2) = 43.9 s; within 20 %.
    assert!((35.1..=52.7).contains(&t), "the hall empties in {t:.1} s");
    let mut q = app.world_mut().query::<(&AgentId, &Body)>();
    assert_eq!(q.iter(app.world()).count(), 0);
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
