//! The headless scenario runner: builds the app for a checked scene, steps it to the end with a
//! progress bar, and writes the outputs atomically into the run's folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bevy::ecs::system::RunSystemOnce;
use indicatif::{ProgressBar, ProgressStyle};

use crate::crowd::Census;
use crate::incident::TimedEvents;
use crate::metrics::{Measurements, TrajectorySink, count_crossings, record_frame};
use crate::report::{AtomicFile, OutputError, RunRecord, Summary, prepare_out_dir, trajectory_header, write_atomic};
use crate::scene::{CheckedScene, Diagnostics};
use crate::sim::{RunOptions, SimClock, SimControl, headless_app};

#[derive(Clone, Debug)]
pub struct RunRequest {
    pub options: RunOptions,
    pub out_dir: PathBuf,
    pub force: bool,
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scene(Diagnostics),
    #[error(transparent)]
    Output(#[from] OutputError),
}

pub struct RunResult {
    pub summary: Summary,
    pub out_dir: PathBuf,
    pub wall_seconds: f64,
    pub steps: u64,
}

pub fn default_out_dir(checked: &CheckedScene, seed: u64) -> PathBuf {
    Path::new("out").join(format!("{}-seed{seed}", checked.loaded.stem()))
}

pub fn run_scene(checked: &CheckedScene, request: &RunRequest) -> Result<RunResult, RunError> {
    let mut app = headless_app(checked, &request.options).map_err(RunError::Scene)?;
    prepare_out_dir(&request.out_dir, request.force)?;
    let scene = checked.scene();
    let traj_path = request.out_dir.join("trajectories.txt");
    let (traj_file, mut writer) = AtomicFile::create(&traj_path)?;
    let framerate = 1.0 / scene.run.output_interval;
    std::io::Write::write_all(
        &mut writer,
        trajectory_header(&scene.unit.name, request.options.seed, framerate).as_bytes(),
    )
    .map_err(|e| OutputError::Io(traj_path.clone(), e))?;
    app.world_mut().resource_mut::<TrajectorySink>().writer = Some(Box::new(writer));

    let until = request.options.until;
    let bar = if request.progress { ProgressBar::new((until * 10.0).ceil() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {msg} ({elapsed}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    loop {
        app.update();
        let world = app.world();
        let clock = *world.resource::<SimClock>();
        if clock.step % 20 == 0 || world.resource::<SimControl>().finished {
            let census = world.resource::<Census>();
            bar.set_position((clock.now() * 10.0) as u64);
            bar.set_message(format!(
                "t = {:.1}/{until:.0} s, {} on site, {} left",
                clock.now(),
                census.on_site(),
                census.exited
            ));
        }
        if world.resource::<SimControl>().finished {
            break;
        }
    }
    let world = app.world_mut();
    // The final state has not been measured yet.
    let _ = world.run_system_once(count_crossings);
    let _ = world.run_system_once(record_frame);
    bar.finish_and_clear();
    let wall_seconds = started.elapsed().as_secs_f64();

    let mut sink = world.resource_mut::<TrajectorySink>();
    let (writer, error, frames) = (sink.writer.take(), sink.error.take(), sink.frames);
    if let Some(e) = error {
        traj_file.abandon();
        return Err(OutputError::Io(traj_path, e).into());
    }
    traj_file.commit(writer.expect("the sink was set above"))?;

    let clock = *world.resource::<SimClock>();
    let control = *world.resource::<SimControl>();
    let summary = Summary::collect(
        checked,
        request.options.seed,
        &clock,
        world.resource::<Census>(),
        world.resource::<Measurements>(),
        world.resource::<TimedEvents>(),
        control.everyone_left,
    );
    let json = serde_json::to_string_pretty(&summary).expect("plain data serialises");
    write_atomic(&request.out_dir.join("summary.json"), format!("{json}\n").as_bytes())?;
    let record = RunRecord {
        unitwin_version: crate::report::VERSION.into(),
        scene_file: checked.loaded.source.file.display().to_string(),
        scene_sha256: checked.loaded.hash.clone(),
        seed: request.options.seed,
        until,
        step: scene.run.step,
        output_interval: scene.run.output_interval,
        nav_cell: scene.run.nav_cell,
        frames,
    };
    write_atomic(&request.out_dir.join("run.ron"), record.to_ron().as_bytes())?;
    Ok(RunResult { summary, out_dir: request.out_dir.clone(), wall_seconds, steps: clock.step })
}
