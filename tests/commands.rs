//! Commands: checked when issued (an unknown id is an error, never a silent no-op), applied at the
//! start of the next step, recorded with their step in `commands.ron`, and replayed by
//! `unitwin run --commands` to byte-identical outputs.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::AtomicBool;

use unitwin::app::RunOptions;
use unitwin::command::{Command, CommandError, CommandLog, CommandQueue, NamedCommand, Origin, read_script};
use unitwin::ids::{DoorId, ZoneId};
use unitwin::runner::{FolderRun, Run, RunRequest, run_to_folder};
use unitwin::schedule::SimClock;
use unitwin::space::SpaceRes;
use unitwin::twin::Twin;

const HALL: &str = "scenes/demo_hall.ron";
const RUNTIME: &str = "scenes/verification/zone_blocked.ron";

fn path(p: &str) -> PathBuf {
    Path::new(&unitwin_manifest_dir()).join(p)
}

fn twin(p: &str) -> Twin {
    unitwin::twin::load(&path(p)).unwrap_or_else(|d| panic!("{p}:\n{d}"))
}

fn run(twin: &Twin) -> Run {
    Run::new(twin, &RunOptions::from_twin(twin)).unwrap()
}

#[test]
fn an_unknown_id_is_an_error_returned_to_the_caller_and_nothing_is_logged() {
    let twin = twin(HALL);
    let mut run = run(&twin);
    run.step();
    let err = unitwin::command::issue(run.world_mut(), &NamedCommand::CloseDoor("east_exitt".into())).unwrap_err();
    assert!(matches!(&err, CommandError::UnknownDoor { name, .. } if name == "east_exitt"), "{err:?}");
    assert!(err.to_string().contains("east_exit"), "the message lists the doors there are: {err}");
    let err = unitwin::command::issue(run.world_mut(), &NamedCommand::BlockZone("smoke".into())).unwrap_err();
    assert!(matches!(err, CommandError::UnknownZone { .. }), "{err:?}");
    // Typed ids are checked too: one past the last door, and a zone of a scene without zones.
    let space = run.world().resource::<SpaceRes>().0.clone();
    let mut queue = run.world_mut().resource_mut::<CommandQueue>();
    assert_eq!(
        queue.issue(&space, Command::CloseDoor(DoorId(space.doors.len() as u16))),
        Err(CommandError::NoSuchDoor(DoorId(space.doors.len() as u16)))
    );
    assert_eq!(queue.issue(&space, Command::BlockZone(ZoneId(0))), Err(CommandError::NoSuchZone(ZoneId(0))));
    assert!(queue.pending().is_empty(), "refused commands must not be queued");
    run.step();
    assert!(run.world().resource::<CommandLog>().entries.is_empty(), "refused commands must not be logged");
}

#[test]
fn a_stair_opening_is_not_a_door_a_command_may_close() {
    let twin = twin("scenes/verification/rimea_02_stairs_up.ron");
    let opening = twin.space.doors.iter().find(|d| d.portal().is_some()).expect("the stair has openings");
    let err = Command::resolve(&NamedCommand::CloseDoor(opening.id.clone()), &twin.space).unwrap_err();
    assert_eq!(err, CommandError::StairOpening(opening.id.clone()));
}

#[test]
fn a_command_applies_at_the_start_of_the_next_step_and_is_recorded_with_it() {
    let twin = twin(HALL);
    let mut run = run(&twin);
    for _ in 0..40 {
        run.step();
    }
    let issued_at = run.clock().step;
    let door = unitwin::command::issue(run.world_mut(), &NamedCommand::CloseDoor("east_exit".into())).unwrap();
    let Command::CloseDoor(id) = door else { panic!("resolved to {door:?}") };
    assert!(run.world().resource::<SpaceRes>().0.doors[id].open, "not applied before the next step");
    run.step();
    assert!(!run.world().resource::<SpaceRes>().0.doors[id].open, "applied in the next step");
    let log = &run.world().resource::<CommandLog>().entries;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].step, issued_at, "recorded with the step it was applied at");
    assert_eq!(log[0].origin, Origin::Live);
    assert_eq!(log[0].command, NamedCommand::CloseDoor("east_exit".into()));
    let dt = run.world().resource::<SimClock>().dt;
    assert!((log[0].t - issued_at as f64 * dt).abs() < 1e-9);
}

#[test]
fn timed_scene_events_are_recorded_as_scene_commands() {
    let twin = twin("scenes/verification/door_closes.ron");
    let mut run = run(&twin);
    while run.clock().now() < 6.0 {
        run.step();
    }
    let log = &run.world().resource::<CommandLog>().entries;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].origin, log[0].t), (Origin::Scene, 5.0), "the scene closes the door at 5 s");
}

fn out(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Runs the hall with commands issued from code at chosen times, as a trainer in the viewer would,
/// and writes the run folder.
fn rehearse(twin: &Twin, dir: &Path) {
    let options = RunOptions { seed: 21, until: 60.0, threads: Some(2), replay: None };
    let request =
        RunRequest { options, out_dir: dir.to_path_buf(), force: false, progress: false, commands_file: None };
    let mut folder = FolderRun::start(twin, &request).unwrap();
    let script = [
        (4.0, NamedCommand::CloseDoor("east_exit".into())),
        (4.0, NamedCommand::CloseDoor("lobby_door".into())),
        (9.5, NamedCommand::OpenDoor("lobby_door".into())),
        (15.0, NamedCommand::OpenDoor("east_exit".into())),
    ];
    let mut next = 0;
    while !folder.run().is_finished() {
        let now = folder.run().clock().now();
        while next < script.len() && script[next].0 <= now {
            unitwin::command::issue(folder.run().world_mut(), &script[next].1).unwrap();
            next += 1;
        }
        folder.run().step();
    }
    assert_eq!(next, script.len());
    folder.commit(twin).unwrap();
}

#[test]
fn commands_ron_replays_to_byte_identical_outputs() {
    let twin = twin(HALL);
    let dir = tempfile::tempdir().unwrap();
    let live = out(dir.path(), "live");
    rehearse(&twin, &live);
    let (script, _) = read_script(&live.join("commands.ron")).unwrap();
    assert_eq!(script.commands.len(), 4, "every command is recorded: {script:?}");
    assert!(script.commands.iter().all(|c| c.origin == Origin::Live));

    // The command line replays it, on another thread count.
    let replayed = out(dir.path(), "replayed");
    let status = Process::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .arg("run")
        .arg(path(HALL))
        .args(["--seed", "21", "--until", "60", "--threads", "1", "--quiet", "--commands"])
        .arg(live.join("commands.ron"))
        .arg("--out")
        .arg(&replayed)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for file in ["trajectories.txt", "summary.json", "commands.ron"] {
        let a = std::fs::read(live.join(file)).unwrap();
        let b = std::fs::read(replayed.join(file)).unwrap();
        assert!(a == b, "{file} differs between the rehearsal and its replay");
    }
    let record = std::fs::read_to_string(replayed.join("run.ron")).unwrap();
    assert!(record.contains("--commands"), "run.ron says what was replayed:\n{record}");

    // Without the commands the run differs: the replay really applied them.
    let plain = out(dir.path(), "plain");
    let request = RunRequest {
        options: RunOptions { seed: 21, until: 60.0, threads: Some(2), replay: None },
        out_dir: plain.clone(),
        force: false,
        progress: false,
        commands_file: None,
    };
    run_to_folder(&twin, &request, &AtomicBool::new(false)).unwrap();
    assert!(
        std::fs::read(plain.join("trajectories.txt")).unwrap() != std::fs::read(live.join("trajectories.txt")).unwrap(),
        "closing both doors for seconds must change the run"
    );
}

#[test]
fn a_scene_with_timed_events_replays_its_own_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], out: &Path| {
        let o = Process::new(env!("CARGO_BIN_EXE_unitwin"))
            .current_dir(unitwin_manifest_dir())
            .args(["run", RUNTIME, "--quiet", "--until", "30"])
            .args(args)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let first = dir.path().join("first");
    run(&[], &first);
    let again = dir.path().join("again");
    run(&["--commands", first.join("commands.ron").to_str().unwrap()], &again);
    for file in ["trajectories.txt", "summary.json", "commands.ron"] {
        assert_eq!(std::fs::read(first.join(file)).unwrap(), std::fs::read(again.join(file)).unwrap(), "{file}");
    }
}

#[test]
fn a_bad_command_file_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commands.ron");
    std::fs::write(
        &file,
        "CommandScript(\n    version: 1,\n    scene_sha256: \"x\",\n    step: 0.05,\n    commands: [\n        LoggedCommand(step: 3, t: 0.15, origin: Live, command: CloseDoor(\"no_such_door\")),\n    ],\n)\n",
    )
    .unwrap();
    let o = Process::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(["run", HALL, "--quiet", "--commands"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:6:", file.display())), "located at line 6: {stderr}");
    assert!(stderr.contains("no door 'no_such_door'"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is written");

    std::fs::write(&file, "CommandScript(version: 1, scene_sha256: \"x\", step: 0.01, commands: [], extra: 1)\n")
        .unwrap();
    let o = Process::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(unitwin_manifest_dir())
        .args(["run", HALL, "--quiet", "--commands"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `extra`"), "{stderr}");
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
