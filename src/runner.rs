//! Running a twin: a `Run` steps an app and returns a `RunOutcome`; `run_to_folder` adds the
//! progress bar, Ctrl-C and the output files, committed together. Batches and viewers reuse `Run`.

use crate::measures::{DensityAlarms, HoldLines, MeasuresRecord, Playbooks};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{RunOptions, headless_app};
use crate::command::{CommandLog, CommandScript, ReplayCommands, SCRIPT_VERSION, read_script};
use crate::crowd::{Census, PlaceVisits};
use crate::metrics::{FrameSink, Measurements, Recorder, VehicleRecorder, VehicleSink, record_frame};
use crate::report::{
    OutputError, ReplayBuffer, ReplayTee, ReportInput, RunRecord, Staging, Summary, TrafficSummary, TrajectoryWriter,
    VehicleCsvWriter,
};
use crate::scene::Diagnostics;
use crate::schedule::{SimClock, SimControl};
use crate::traffic::{CrossingStats, SignalStates, TrafficNet, TrafficStats, Vehicles};
use crate::twin::Twin;

/// One run of a twin, stepped on demand.
pub struct Run {
    app: App,
    started: Instant,
}

/// What a finished (or stopped) run leaves.
pub struct RunOutcome {
    pub clock: SimClock,
    pub census: Census,
    /// How many stayed at each destination and how many passed it by full, in destination order.
    pub place_visits: Vec<[u32; 2]>,
    pub measurements: Measurements,
    pub commands: CommandLog,
    pub everyone_left: bool,
    /// The traffic section of the summary (absent without streets).
    pub traffic: Option<TrafficSummary>,
    /// Hold lines and playbook firings.
    pub measures: MeasuresRecord,
    pub frames: u64,
    /// The first error the frame sink returned.
    pub sink_error: Option<std::io::Error>,
    pub wall_seconds: f64,
}

impl Run {
    pub fn new(twin: &Twin, options: &RunOptions) -> Result<Run, Diagnostics> {
        Ok(Run { app: headless_app(twin, options)?, started: Instant::now() })
    }

    /// Where recorded vehicle frames go (`vehicles.csv`); set before the first step.
    pub fn record_vehicles_to(&mut self, sink: Box<dyn VehicleSink>) {
        self.app.world_mut().resource_mut::<VehicleRecorder>().sink = Some(sink);
    }

    /// Where recorded frames go (a trajectory file); set before the first step.
    pub fn record_to(&mut self, sink: Box<dyn FrameSink>) {
        self.app.world_mut().resource_mut::<Recorder>().sink = Some(sink);
    }

    pub fn world(&self) -> &World {
        self.app.world()
    }

    pub fn world_mut(&mut self) -> &mut World {
        self.app.world_mut()
    }

    pub fn clock(&self) -> SimClock {
        *self.world().resource::<SimClock>()
    }

    pub fn is_finished(&self) -> bool {
        self.world().resource::<SimControl>().finished
    }

    /// Runs one simulation step (none once finished or paused).
    pub fn step(&mut self) {
        let control = *self.world().resource::<SimControl>();
        if control.finished || control.paused {
            return;
        }
        let before = self.clock().step;
        // Bevy's first update only starts the clock; every later one is one fixed step.
        for _ in 0..2 {
            self.app.update();
            if self.clock().step != before {
                break;
            }
        }
    }

    /// Steps to the end; `progress` is called every 20 steps and at the end. Stops early, returning
    /// false, when `stop` is set.
    pub fn run_until_finished(&mut self, stop: &AtomicBool, mut progress: impl FnMut(&World)) -> bool {
        while !self.is_finished() {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            self.step();
            if self.clock().step % 20 == 0 {
                progress(self.world());
            }
        }
        progress(self.world());
        true
    }

    /// Measures the final state and hands over what the run observed.
    pub fn finish(mut self) -> RunOutcome {
        let world = self.app.world_mut();
        let _ = world.run_system_once(record_frame);
        let mut recorder = world.resource_mut::<Recorder>();
        let mut sink_error = recorder.error.take();
        if let Some(mut sink) = recorder.sink.take()
            && let Err(e) = sink.finish()
        {
            sink_error.get_or_insert(e);
        }
        let frames = recorder.frames;
        let mut vehicle_recorder = world.resource_mut::<VehicleRecorder>();
        let vehicle_error = vehicle_recorder.error.take();
        if let Some(mut sink) = vehicle_recorder.sink.take()
            && let Err(e) = sink.finish()
        {
            sink_error.get_or_insert(e);
        }
        if let Some(e) = vehicle_error {
            sink_error.get_or_insert(e);
        }
        let traffic = TrafficSummary::collect(
            &world.resource::<TrafficNet>().0,
            world.resource::<TrafficStats>(),
            world.resource::<CrossingStats>(),
            world.resource::<SignalStates>(),
            world.resource::<Vehicles>().count() as u32,
        );
        let measures = MeasuresRecord {
            hold_lines: world.remove_resource::<HoldLines>().map(|h| h.0).unwrap_or_default(),
            firings: world.remove_resource::<Playbooks>().map(|p| p.firings).unwrap_or_default(),
            alarms: world.remove_resource::<DensityAlarms>().map(|a| a.0).unwrap_or_default(),
        };
        RunOutcome {
            traffic,
            measures,
            clock: *world.resource::<SimClock>(),
            census: world.resource::<Census>().clone(),
            place_visits: world.get_resource::<PlaceVisits>().map(PlaceVisits::totals).unwrap_or_default(),
            measurements: world.remove_resource::<Measurements>().unwrap_or_else(|| Measurements::new(&[])),
            commands: world.remove_resource::<CommandLog>().unwrap_or_default(),
            everyone_left: world.resource::<SimControl>().everyone_left,
            frames,
            sink_error,
            wall_seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// A run that writes its folder.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub options: RunOptions,
    pub out_dir: PathBuf,
    pub force: bool,
    pub progress: bool,
    /// The command file replayed, for the run record.
    pub commands_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scene(Diagnostics),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("interrupted at t = {t:.1} s; nothing was written to {dir} (an earlier run there is untouched)")]
    Interrupted { t: f64, dir: PathBuf },
}

pub struct RunResult {
    pub summary: Summary,
    pub out_dir: PathBuf,
    pub wall_seconds: f64,
    pub steps: u64,
    /// Wall time spent building the report, s, and its size in bytes.
    pub report_seconds: f64,
    pub report_bytes: usize,
}

pub fn default_out_dir(twin: &Twin, seed: u64) -> PathBuf {
    Path::new("out").join(format!("{}-seed{seed}", twin.loaded.stem()))
}

/// The command log as the file `commands.ron` holds it.
pub fn command_script(twin: &Twin, log: &CommandLog) -> CommandScript {
    CommandScript {
        version: SCRIPT_VERSION,
        scene_sha256: twin.loaded.hash.clone(),
        step: twin.scenario.run.step,
        commands: log.entries.clone(),
    }
}

/// A run writing its folder: trajectories stream into the staging folder while it steps; the
/// summary, run record and commands are written and everything committed at the end. A viewer or
/// a test drives `run()` itself (and may issue commands); `unitwin run` uses [`run_to_folder`].
pub struct FolderRun {
    run: Run,
    staging: Staging,
    request: RunRequest,
    traj_path: PathBuf,
    /// The trajectories kept for the report's replay.
    replay: Arc<Mutex<ReplayBuffer>>,
}

impl FolderRun {
    pub fn start(twin: &Twin, request: &RunRequest) -> Result<FolderRun, RunError> {
        let mut run = Run::new(twin, &request.options).map_err(RunError::Scene)?;
        let staging = Staging::begin(&request.out_dir, request.force)?;
        let traj_path = staging.path("trajectories.txt");
        let file = staging.create("trajectories.txt")?;
        let framerate = 1.0 / twin.scenario.run.output_interval;
        let writer = TrajectoryWriter::new(file, &twin.scene().unit.name, request.options.seed, framerate)
            .map_err(|e| OutputError::Io(traj_path.clone(), e))?;
        let replay = Arc::new(Mutex::new(ReplayBuffer::new(
            &run.world().resource::<Measurements>().cells,
            twin.space.levels.len(),
        )));
        run.record_to(Box::new(ReplayTee { inner: Box::new(writer), replay: replay.clone() }));
        if twin.traffic.has_vehicles() {
            let path = staging.path("vehicles.csv");
            let file = staging.create("vehicles.csv")?;
            let writer = VehicleCsvWriter::new(file, &twin.traffic).map_err(|e| OutputError::Io(path, e))?;
            run.record_vehicles_to(Box::new(writer));
        }
        Ok(FolderRun { run, staging, request: request.clone(), traj_path, replay })
    }

    pub fn run(&mut self) -> &mut Run {
        &mut self.run
    }

    /// Makes the run end where it stands: the run record names this time as the end, so that
    /// `unitwin run --commands commands.ron --until T` repeats it (a rehearsal saved from a viewer).
    pub fn end_here(&mut self) {
        self.request.options.until = self.run.clock().now();
    }

    /// Abandons the run: nothing is written, an earlier run in the folder stays as it was.
    pub fn abandon(self) -> RunError {
        let t = self.run.clock().now();
        drop(self.staging);
        RunError::Interrupted { t, dir: self.request.out_dir }
    }

    /// Finishes the run where it stands and commits all its files as one unit.
    pub fn commit(self, twin: &Twin) -> Result<RunResult, RunError> {
        let FolderRun { run, staging, request, traj_path, replay } = self;
        let outcome = run.finish();
        if let Some(e) = outcome.sink_error {
            return Err(OutputError::Io(traj_path, e).into());
        }
        let summary = Summary::collect(
            twin,
            request.options.seed,
            &outcome.clock,
            &outcome.census,
            &outcome.place_visits,
            &outcome.measurements,
            &outcome.commands,
            outcome.everyone_left,
            outcome.traffic.clone(),
            &outcome.measures,
        );
        staging.write("summary.json", summary.to_json().as_bytes())?;
        staging.write("commands.ron", command_script(twin, &outcome.commands).to_ron().as_bytes())?;
        let run_params = &twin.scenario.run;
        let record = RunRecord {
            unitwin_version: crate::report::VERSION.into(),
            scene_file: twin.loaded.source.file.display().to_string(),
            scene_sha256: twin.loaded.hash.clone(),
            seed: request.options.seed,
            until: request.options.until,
            step: run_params.step,
            output_interval: run_params.output_interval,
            nav_cell: run_params.nav_cell,
            frames: outcome.frames,
            commands_replayed: request.commands_file.as_ref().map(|p| p.display().to_string()),
        };
        staging.write("run.ron", record.to_ron().as_bytes())?;
        let report_started = Instant::now();
        // The sink (and with it the other handle) was dropped by `finish`; a poisoned lock still
        // holds whole frames, as a frame is pushed under one lock.
        let mut replay = match Arc::try_unwrap(replay) {
            Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(shared) => shared.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        };
        replay.close();
        let input = ReportInput {
            twin,
            summary: &summary,
            record: &record,
            measurements: &outcome.measurements,
            replay: &replay,
        };
        let mut report_bytes = 0;
        for (file, contents) in crate::report::html::build(&input) {
            if file == "report.html" {
                report_bytes = contents.len();
            }
            staging.write(file, contents.as_bytes())?;
        }
        let report_seconds = report_started.elapsed().as_secs_f64();
        staging.commit()?;
        Ok(RunResult {
            summary,
            out_dir: request.out_dir,
            wall_seconds: outcome.wall_seconds,
            steps: outcome.clock.step,
            report_seconds,
            report_bytes,
        })
    }
}

/// Runs `twin` to the end with a progress bar and commits its outputs (trajectories, summary, run
/// record, commands) to `request.out_dir` as one unit. Setting `stop` (Ctrl-C) abandons the run
/// within a step and writes nothing.
pub fn run_to_folder(twin: &Twin, request: &RunRequest, stop: &AtomicBool) -> Result<RunResult, RunError> {
    let mut folder = FolderRun::start(twin, request)?;
    let until = request.options.until;
    let bar = if request.progress { ProgressBar::new((until * 10.0).ceil() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {msg} ({elapsed}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let finished = folder.run().run_until_finished(stop, |world| {
        let clock = world.resource::<SimClock>();
        let census = world.resource::<Census>();
        bar.set_position((clock.now() * 10.0) as u64);
        bar.set_message(format!(
            "t = {:.1}/{until:.0} s, {} on site, {} left",
            clock.now(),
            census.on_site(),
            census.exited
        ));
    });
    bar.finish_and_clear();
    if !finished {
        return Err(folder.abandon());
    }
    folder.commit(twin)
}

/// Reads a `commands.ron` to replay on `twin` instead of its timed events, as `unitwin run
/// --commands` and batch variants do. The second value warns when the file was recorded on
/// another version of the scene (it is replayed anyway).
pub fn replay_from_file(twin: &Twin, file: &Path) -> Result<(ReplayCommands, Option<String>), Diagnostics> {
    let (script, source) = read_script(file)?;
    let warning = (script.scene_sha256 != twin.loaded.hash).then(|| {
        format!(
            "{} was recorded on another version of {} (scene SHA-256 {}…, now {}…); replaying it anyway",
            file.display(),
            twin.loaded.source.file.display(),
            script.scene_sha256.get(..12).unwrap_or(&script.scene_sha256),
            &twin.loaded.hash[..12]
        )
    });
    let commands = script.resolve(&source, &twin.space, twin.scenario.run.step)?;
    Ok((ReplayCommands(commands), warning))
}
