//! Replaying recorded run folders: agents are drawn where the trajectory file puts them, doors as
//! the recorded commands left them, seeking is exact in any order and fast on 10,000 agents, and
//! `unitwin render RUN_DIR` / `--frames` write what they should or fail clearly. Needs a Vulkan
//! adapter for the pictures (Mesa's lavapipe: `mesa-vulkan-drivers libvulkan1`).
#![cfg(feature = "viewer")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use unitwin::command::NamedCommand;
use unitwin::draw::{DrawAgents, WorldPoint};
use unitwin::viewer::palette::{self, AgentColouring};
use unitwin::viewer::{Comparison, Recording, Renderer, SceneFrame, ViewCamera, ViewName};

const DOOR: &str = "nanchang_lane_mouth";
/// Agents' closest pixel may be an anti-aliased edge; as in `viewer_render`.
const AGENT_TOLERANCE: u8 = 10;
const SURFACE_TOLERANCE: u8 = 4;
const SIZE: (u32, u32) = (600, 1000);

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
}

fn yuyangli() -> PathBuf {
    manifest_dir().join("scenes/yuyangli.ron")
}

/// Records Yuyangli for 30 s into `dir/run`, closing the door `DOOR` at 10 s as the viewer's panel
/// would, and saves it as "save rehearsal" does.
fn record_yuyangli(dir: &Path) -> PathBuf {
    record_yuyangli_as(dir, "run", true)
}

/// Records Yuyangli for 30 s into `dir/name`, closing `DOOR` at 10 s or not.
fn record_yuyangli_as(dir: &Path, name: &str, close: bool) -> PathBuf {
    use unitwin::app::RunOptions;
    use unitwin::runner::{FolderRun, RunRequest};
    let twin = unitwin::twin::load(&yuyangli()).expect("the pilot checks");
    let folder = dir.join(name);
    let mut options = RunOptions::from_twin(&twin);
    options.threads = Some(1);
    let request = RunRequest { options, out_dir: folder.clone(), force: false, progress: false, commands_file: None };
    let mut run = FolderRun::start(&twin, &request).expect("starts");
    while run.run().clock().now() < 10.0 {
        run.run().step();
    }
    if close {
        unitwin::command::issue(run.run().world_mut(), &NamedCommand::CloseDoor(DOOR.into())).expect("a door");
    }
    while run.run().clock().now() < 30.0 {
        run.run().step();
    }
    run.end_here();
    run.commit(&twin).expect("saves");
    folder
}

/// The trajectory file's frame `frame`: id → world position.
fn recorded_frame(folder: &Path, frame: u64) -> HashMap<u32, [f64; 3]> {
    let text = std::fs::read_to_string(folder.join("trajectories.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].parse::<u64>().unwrap() == frame)
                .then(|| (f[0].parse().unwrap(), [f[2].parse().unwrap(), f[3].parse().unwrap(), f[4].parse().unwrap()]))
        })
        .collect()
}

fn unitwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitwin")).args(args).env_remove("DISPLAY").output().expect("unitwin runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// How many of `agents` show their speed colour within a pixel of their projected top (1.7 m up).
fn speed_colours_shown(
    picture: &unitwin::viewer::Picture,
    agents: &[unitwin::draw::DrawAgent],
    pixel: impl Fn(WorldPoint) -> (i64, i64),
) -> usize {
    agents
        .iter()
        .filter(|a| {
            let colour = palette::agent_colour(a, AgentColouring::Speed);
            let (x, y) = pixel([a.pos[0], a.pos[1], a.pos[2] + 1.7]);
            (-1..=1).any(|dx| {
                (-1..=1).any(|dy| picture.pixel(x + dx, y + dy).is_some_and(|c| c.distance(colour) <= AGENT_TOLERANCE))
            })
        })
        .count()
}

#[test]
fn a_replay_draws_agents_where_the_trajectories_put_them_and_doors_as_the_commands_left_them() {
    let dir = tempfile::tempdir().unwrap();
    let folder = record_yuyangli(dir.path());
    let started = Instant::now();
    let mut recording = Recording::open(&folder, None).expect("the folder opens");
    eprintln!("opened in {:.3} s", started.elapsed().as_secs_f64());
    assert_eq!(recording.index.frames(), 61, "frames 0 to 60 of 0.5 s");
    assert_eq!(recording.end_time(), 30.0);
    let closing = recording.events.iter().find(|e| e.text.contains(DOOR)).expect("the closing is on the timeline");
    assert!((10.0..10.2).contains(&closing.t), "closed at {} s", closing.t);
    assert_eq!(recording.state_at(closing.t - 0.01), 0);
    assert_eq!(recording.state_at(closing.t), 1);

    // The door: open before the command, closed after it.
    let door_open =
        |snapshot: &unitwin::viewer::Snapshot| snapshot.twin.doors.iter().find(|d| d.name == DOOR).unwrap().open;
    assert!(door_open(&recording.snapshot_at(9.5)));
    let snapshot = recording.snapshot_at(20.0);
    assert!(!door_open(&snapshot), "closed at 10 s by the recorded command");

    // Agents: exactly the file's frame 40, where the file puts them.
    let recorded = recorded_frame(&folder, 40);
    assert_eq!(snapshot.agents.t, 20.0);
    assert_eq!(snapshot.agents.agents.len(), recorded.len());
    assert!(recorded.len() > 100, "the crowd is on site ({} agents)", recorded.len());
    for agent in &snapshot.agents.agents {
        let p = recorded[&agent.id.0];
        let error = (0..3).map(|i| (agent.pos[i] - p[i]).abs()).fold(0.0, f64::max);
        assert!(error < 1e-3, "agent {} drawn at {:?}, recorded at {p:?}", agent.id.0, agent.pos);
    }
    let moving = snapshot.agents.agents.iter().filter(|a| a.vel[0].hypot(a.vel[1]) > 0.3).count();
    assert!(moving > 10, "speeds come from the frames around ({moving} moving)");
    assert!(snapshot.agents.agents.iter().any(|a| a.density > 0.5), "local densities are counted");

    // The picture: each agent's speed colour within 1 px of its projected top, the door red.
    let mut renderer = Renderer::new(&snapshot, SIZE).unwrap_or_else(|e| panic!("no renderer: {e}"));
    let camera = ViewCamera::named(ViewName::Top, &snapshot.twin, SIZE);
    let frame = SceneFrame::of(&snapshot.twin);
    let pixel = |p: WorldPoint| {
        let [x, y] = camera.world_to_pixel(frame, p, SIZE).expect("in front of the camera");
        (x.floor() as i64, y.floor() as i64)
    };
    let picture = renderer.render(&snapshot, &camera).expect("renders");
    let agents = &snapshot.agents.agents;
    let found = speed_colours_shown(&picture, agents, pixel);
    assert!(found as f64 >= 0.9 * agents.len() as f64, "{found} of {} agents drawn where recorded", agents.len());
    let door = snapshot.twin.doors.iter().find(|d| d.name == DOOR).unwrap();
    let z = door.a[2] + unitwin::viewer::geometry::DOOR_HEIGHT;
    let along: Vec<(i64, i64)> = (1..=7)
        .map(|k| {
            let t = k as f64 / 8.0;
            pixel([door.a[0] + (door.b[0] - door.a[0]) * t, door.a[1] + (door.b[1] - door.a[1]) * t, z])
        })
        .collect();
    let share = |colour| {
        along
            .iter()
            .filter(|(x, y)| picture.pixel(*x, *y).is_some_and(|c| c.distance(colour) <= SURFACE_TOLERANCE))
            .count()
    };
    assert!(share(palette::DOOR_CLOSED) >= 4 && share(palette::DOOR_OPEN) == 0, "the door shows closed");
}

#[test]
fn seeking_backward_then_forward_gives_the_same_frame_as_seeking_directly() {
    let dir = tempfile::tempdir().unwrap();
    let folder = record_yuyangli(dir.path());
    let mut direct = Recording::open(&folder, None).unwrap();
    let mut wandering = Recording::open(&folder, None).unwrap();
    for target in [0, 1, 17, 40, 60] {
        let mut expected = DrawAgents::default();
        direct.fill_agents(target, &mut expected);
        let mut seen = DrawAgents::default();
        for k in [60, target, 3, 59, 0, target + 1, target.saturating_sub(1), target] {
            wandering.fill_agents(k, &mut seen);
        }
        assert_eq!((seen.t, seen.step), (expected.t, expected.step));
        assert_eq!(seen.agents, expected.agents, "frame {target}");
        // By time too: any time within a frame shows that frame.
        let t = direct.index.time(target);
        assert_eq!(direct.index.frame_at(t + 0.49 * direct.index.interval), target);
    }
    assert_eq!(direct.states.len(), 2, "the scene's state and the one the closing made");
}

/// The issue's requirement: seeking to any second of a 10,000-agent run takes under 100 ms. The run
/// is synthetic (10,000 agents walking across Yuyangli for 300 s, written by unitwin's own trajectory
/// writer), so the file has the size and format of a real one.
#[test]
fn seeking_a_10000_agent_recording_takes_under_100_ms() {
    use unitwin::ids::{Id, LevelId};
    use unitwin::metrics::{FrameAgent, FrameSink};
    const AGENTS: u32 = 10_000;
    const SECONDS: f64 = 300.0;
    const INTERVAL: f64 = 0.5;

    let twin = unitwin::twin::load(&yuyangli()).expect("the pilot checks");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("big");
    std::fs::create_dir(&folder).unwrap();
    let frames = (SECONDS / INTERVAL) as u64;
    let record = unitwin::report::RunRecord {
        unitwin_version: unitwin::report::VERSION.into(),
        scene_file: yuyangli().display().to_string(),
        scene_sha256: twin.loaded.hash.clone(),
        seed: 1,
        until: SECONDS,
        step: twin.scenario.run.step,
        output_interval: INTERVAL,
        nav_cell: twin.scenario.run.nav_cell,
        frames: frames + 1,
        commands_replayed: None,
    };
    std::fs::write(folder.join("run.ron"), record.to_ron()).unwrap();
    let written = Instant::now();
    let file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(folder.join("trajectories.txt")).unwrap());
    let mut writer = unitwin::report::TrajectoryWriter::new(file, "synthetic", 1, 1.0 / INTERVAL).unwrap();
    // Yuyangli's lanes and square lie within about 150 m of its origin.
    let (lo, hi) = ([0.0, 0.0], [150.0, 150.0]);
    let mut agents: Vec<FrameAgent> = (0..AGENTS)
        .map(|id| FrameAgent {
            id,
            level: LevelId::from_index(0),
            pos: bevy::math::DVec2::ZERO,
            world: [0.0; 3],
            density: 0.0,
        })
        .collect();
    for frame in 0..=frames {
        let t = frame as f64 * INTERVAL;
        for a in &mut agents {
            // Each walks a straight line at 0.6–1.4 m/s, wrapping around the square.
            let id = a.id as f64;
            let (vx, vy) = (0.6 + (id * 0.37) % 0.8, 0.6 + (id * 0.71) % 0.8);
            a.world =
                [lo[0] + (id * 1.3 + vx * t).rem_euclid(hi[0]), lo[1] + (id * 0.9 + vy * t).rem_euclid(hi[1]), 0.0];
        }
        writer.frame(frame, t, &agents).unwrap();
    }
    writer.finish().unwrap();
    let bytes = std::fs::metadata(folder.join("trajectories.txt")).unwrap().len();
    eprintln!("wrote {:.0} MB of trajectories in {:.1} s", bytes as f64 / 1e6, written.elapsed().as_secs_f64());

    let loading = Instant::now();
    let mut recording = Recording::open(&folder, None).expect("opens");
    let load_seconds = loading.elapsed().as_secs_f64();
    assert_eq!(recording.index.frames() as u64, frames + 1);
    assert_eq!(recording.index.records_len() as u64, (frames + 1) * AGENTS as u64);

    // Seeks to seconds spread over the run, forward and back (a fixed pseudo-random order).
    let mut out = DrawAgents::default();
    let (mut worst, mut total, mut n) = (0.0f64, 0.0, 0);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let second = (x % (SECONDS as u64 + 1)) as f64;
        let seek = Instant::now();
        let k = recording.index.frame_at(second);
        let _state = recording.state_at(second);
        recording.fill_agents(k, &mut out);
        let ms = seek.elapsed().as_secs_f64() * 1e3;
        worst = worst.max(ms);
        total += ms;
        n += 1;
        assert_eq!(out.agents.len(), AGENTS as usize);
        assert_eq!(out.t, second);
    }
    eprintln!(
        "10,000 agents × {} frames ({:.0} MB): loaded in {load_seconds:.2} s; seek mean {:.2} ms, worst {worst:.2} ms",
        frames + 1,
        bytes as f64 / 1e6,
        total / n as f64
    );
    assert!(worst < 100.0, "a seek took {worst:.1} ms");
}

#[test]
fn unitwin_render_of_a_run_folder_writes_a_numbered_sequence_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = record_yuyangli(dir.path());
    let run = folder.to_str().unwrap();
    let seq = dir.path().join("seq");
    let args =
        ["render", run, "--frames", "0:10:5", "--view", "top", "--size", "160x100", "--out", seq.to_str().unwrap()];
    let first = unitwin(&args);
    assert!(first.status.success(), "render failed: {}", stderr(&first));
    let mut names: Vec<String> =
        std::fs::read_dir(&seq).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["frame-00000.png", "frame-00001.png", "frame-00002.png"]);
    let before = std::fs::read(seq.join("frame-00001.png")).unwrap();
    assert_eq!(&before[..8], b"\x89PNG\r\n\x1a\n");
    let again = unitwin(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force") && stderr(&again).contains("frame-00000.png"), "{}", stderr(&again));
    assert_eq!(std::fs::read(seq.join("frame-00001.png")).unwrap(), before, "untouched");

    // One picture of the run, and a scene's sequence through a pattern.
    let single = dir.path().join("at20.png");
    let one = unitwin(&["render", run, "--at", "20", "--size", "160x100", "--out", single.to_str().unwrap()]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(single.exists());
    let pattern = dir.path().join("hall-{}.png");
    let scene = manifest_dir().join("scenes/demo_hall.ron");
    let hall = unitwin(&[
        "render",
        scene.to_str().unwrap(),
        "--frames",
        "0:1:0.5",
        "--size",
        "160x100",
        "--out",
        pattern.to_str().unwrap(),
    ]);
    assert!(hall.status.success(), "{}", stderr(&hall));
    for i in 0..3 {
        assert!(dir.path().join(format!("hall-0000{i}.png")).exists());
    }

    // Bad arguments: exit 2, no file, no panic.
    let late = unitwin(&["render", run, "--at", "31", "--out", dir.path().join("late.png").to_str().unwrap()]);
    assert_eq!(late.status.code(), Some(2), "{}", stderr(&late));
    assert!(stderr(&late).contains("after the end of the recording"), "{}", stderr(&late));
    for bad in ["5:1:1", "0:10", "0:10:0", "a:b:c"] {
        let output = unitwin(&["render", run, "--frames", bad, "--out", dir.path().join("bad").to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "--frames {bad}: {}", stderr(&output));
        assert!(stderr(&output).contains("FROM:TO:EVERY"), "{}", stderr(&output));
    }
    let door = unitwin(&["render", run, "--at", "1", "--close-door", DOOR, "--out", "x.png"]);
    assert_eq!(door.status.code(), Some(2));
    assert!(!dir.path().join("late.png").exists() && !dir.path().join("bad").exists());
}

#[test]
fn a_missing_folder_a_folder_without_trajectories_and_another_scene_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let out = out.to_str().unwrap();

    let missing = dir.path().join("no-such-run");
    let output = unitwin(&["render", missing.to_str().unwrap(), "--at", "1", "--out", out]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no-such-run") && stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    let output = unitwin(&["view", "--replay", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no-such-run"), "{}", stderr(&output));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("run.ron"), "()").unwrap();
    let output = unitwin(&["render", empty.to_str().unwrap(), "--at", "1", "--out", out]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("empty/trajectories.txt is missing"), "{}", stderr(&output));

    // A real run replayed on another scene: refused, naming run.ron and the scene.
    let folder = record_yuyangli(dir.path());
    let hall = manifest_dir().join("scenes/demo_hall.ron");
    let output = unitwin(&["view", hall.to_str().unwrap(), "--replay", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("run.ron") && message.contains("demo_hall.ron") && message.contains("another scene"),
        "{message}"
    );
    let output =
        unitwin(&["render", folder.to_str().unwrap(), "--scene", hall.to_str().unwrap(), "--at", "1", "--out", out]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("another scene"), "{}", stderr(&output));
    // The right scene given explicitly opens (the window then needs a display).
    assert!(Recording::open(&folder, Some(&yuyangli())).is_ok());

    // A damaged trajectory line is named by file and line.
    let text = std::fs::read_to_string(folder.join("trajectories.txt")).unwrap();
    std::fs::write(folder.join("trajectories.txt"), text.replacen("\n0 0 ", "\n0 zero ", 1)).unwrap();
    let output = unitwin(&["render", folder.to_str().unwrap(), "--at", "1", "--out", out]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("trajectories.txt:6: the frame is not a whole number"), "{}", stderr(&output));
    // Without run.ron and without a scene: the message says to give the scene.
    std::fs::remove_file(folder.join("run.ron")).unwrap();
    let output = unitwin(&["view", "--replay", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("run.ron is missing") && stderr(&output).contains("give the scene"),
        "{}",
        stderr(&output)
    );
    for output in [&output] {
        assert!(!stderr(output).contains("panicked"));
    }
}

/// The trajectory file skips frames nobody was on site in and may write a run's last frame twice:
/// the index has every frame, empty where the file has none, and the later copy of a repeated one.
#[test]
fn the_index_fills_skipped_frames_and_keeps_the_later_copy_of_a_repeated_one() {
    use unitwin::viewer::recording::AgentRecord;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trajectories.txt");
    let text = "# header\n#framerate: 2\n\n1 1 0.5 0.5 0.0\n3 1 1.0 2.0 0.0\n2 4 9.0 9.0 3.5\n2 4 9.5 9.0 3.5\n";
    std::fs::write(&path, text).unwrap();
    let mut index = unitwin::viewer::TrajectoryIndex::read(&path, 0.5).expect("reads");
    index.extend_to(6);
    assert_eq!(index.frames(), 7);
    assert!(index.frame(0).is_empty() && index.frame(2).is_empty() && index.frame(5).is_empty());
    let ids: Vec<u32> = index.frame(1).iter().map(|a| a.id).collect();
    assert_eq!(ids, [1, 3]);
    assert_eq!(index.frame(4), [AgentRecord { id: 2, x: 9.5, y: 9.0, z: 3.5 }], "the later copy");
    assert_eq!((index.frame_at(-1.0), index.frame_at(2.0), index.frame_at(2.2), index.frame_at(99.0)), (0, 4, 4, 6));
    // Frames pushed out of id order are sorted; a frame pushed again replaces the earlier copy.
    let record = |id| AgentRecord { id, x: 0.0, y: 0.0, z: 0.0 };
    index.push_frame(7, &[record(5), record(2)]).unwrap();
    index.push_frame(7, &[record(9), record(4)]).unwrap();
    assert_eq!(index.frame(7).iter().map(|a| a.id).collect::<Vec<_>>(), [4, 9]);
    assert!(index.push_frame(3, &[]).is_err(), "frames only move forward");

    for (bad, why) in [
        ("1 0 1 2\n", "trajectories.txt:1: too few fields"),
        ("1 5 1 2 0\n1 3 1 2 0\n", "trajectories.txt:2: frame 3 comes after frame 5"),
        ("1 0 nan 2 0\n", "trajectories.txt:1: a coordinate is not a finite number"),
        ("1 99999999999 1 2 0\n", "beyond the"),
    ] {
        std::fs::write(&path, bad).unwrap();
        let message = unitwin::viewer::TrajectoryIndex::read(&path, 0.5).expect_err(bad).to_string();
        assert!(message.contains(why), "{message}");
    }
}

/// Quxi Road's vehicles come back from `vehicles.csv`: as many as the file has at that time, each
/// body's centre half its length behind the recorded front, the parked cars (never moving) as parked.
#[test]
fn a_replay_draws_the_recorded_vehicles() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("quxi");
    let scene = manifest_dir().join("scenes/quxi_road.ron");
    let run = unitwin(&["run", scene.to_str().unwrap(), "--until", "40", "--out", folder.to_str().unwrap(), "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let mut recording = Recording::open(&folder, None).expect("opens");
    let snapshot = recording.snapshot_at(30.0);
    let text = std::fs::read_to_string(folder.join("vehicles.csv")).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f[0] == "30.00")
        .collect();
    assert!(rows.len() >= 18, "the parked cars and traffic are recorded ({})", rows.len());
    assert_eq!(snapshot.traffic.vehicles.len(), rows.len());
    for (v, row) in snapshot.traffic.vehicles.iter().zip(&rows) {
        assert_eq!(v.id.to_string(), row[1]);
        let front: Vec<f64> = row[3..5].iter().map(|c| c.parse().unwrap()).collect();
        let back_to_front = [front[0] - v.centre[0], front[1] - v.centre[1]];
        let error = (back_to_front[0] - v.heading[0] * v.length / 2.0).abs()
            + (back_to_front[1] - v.heading[1] * v.length / 2.0).abs();
        assert!(error < 1e-3, "vehicle {} is centred half its length behind its front", v.id);
    }
    let parked = snapshot.traffic.vehicles.iter().filter(|v| v.parked).count();
    assert!((10..=18).contains(&parked), "{parked} parked of the scene's 18 kerb cars");
}

#[test]
fn a_compared_run_is_drawn_as_ghosts_where_its_trajectories_put_them_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let rehearsal = record_yuyangli(dir.path());
    let baseline = record_yuyangli_as(dir.path(), "baseline", false);
    let mut recording = Recording::open(&rehearsal, None).expect("the rehearsal opens");
    let snapshot = recording.snapshot_at(30.0);
    let mut comparison = Comparison::open(&baseline, &snapshot.twin).expect("a run of the same unit");

    // Synchronised: the baseline's own frame 60 (30 s), every person where its file puts them.
    let recorded = recorded_frame(&baseline, 60);
    let ghosts = comparison.agents_at(snapshot.agents.t).clone();
    assert_eq!(ghosts.t, 30.0);
    assert_eq!(ghosts.agents.len(), recorded.len());
    for ghost in &ghosts.agents {
        let p = recorded[&ghost.id.0];
        let error = (0..3).map(|i| (ghost.pos[i] - p[i]).abs()).fold(0.0, f64::max);
        assert!(error < 1e-3, "ghost {} at {:?}, recorded at {p:?}", ghost.id.0, ghost.pos);
    }
    let counts = comparison.counts_at(30.0);
    assert_eq!(counts.on_site, recorded.len());
    assert!(counts.came >= counts.on_site && counts.left == counts.came - counts.on_site);
    assert!(!comparison.ended_before(30.0) && comparison.ended_before(30.5));

    // Ghosts the rehearsal's people do not cover (nobody of the rehearsal within 0.6 m): their
    // colour within a pixel of where each stands, projected at the ghost's height.
    let near = |g: &unitwin::draw::DrawAgent| {
        snapshot.agents.agents.iter().any(|a| (a.pos[0] - g.pos[0]).hypot(a.pos[1] - g.pos[1]) < 0.6)
    };
    let apart: Vec<_> = ghosts.agents.iter().filter(|g| !near(g)).collect();
    assert!(apart.len() >= 10, "closing the lane mouth moves people: {} ghosts stand apart at 30 s", apart.len());
    let mut renderer = Renderer::new(&snapshot, SIZE).unwrap_or_else(|e| panic!("no renderer: {e}"));
    let camera = ViewCamera::named(ViewName::Top, &snapshot.twin, SIZE);
    let frame = SceneFrame::of(&snapshot.twin);
    let pixel = |p: WorldPoint| {
        let [x, y] = camera.world_to_pixel(frame, p, SIZE).expect("in front of the camera");
        (x.floor() as i64, y.floor() as i64)
    };
    renderer.set_compare(Some(&ghosts));
    let picture = renderer.render(&snapshot, &camera).expect("renders");
    let ghost_height = unitwin::viewer::scene::GHOST_HEIGHT as f64;
    let shows = |picture: &unitwin::viewer::Picture, (x, y): (i64, i64)| {
        (-1..=1).any(|dx| {
            (-1..=1).any(|dy| {
                picture.pixel(x + dx, y + dy).is_some_and(|c| c.distance(palette::COMPARE) <= AGENT_TOLERANCE)
            })
        })
    };
    let found = apart.iter().filter(|g| shows(&picture, pixel([g.pos[0], g.pos[1], g.pos[2] + ghost_height]))).count();
    eprintln!("{found} of {} ghosts apart from the rehearsal's people show", apart.len());
    assert!(found as f64 >= 0.9 * apart.len() as f64, "{found} of {} ghosts drawn where recorded", apart.len());
    // This run's people are still drawn over them.
    let people = speed_colours_shown(&picture, &snapshot.agents.agents, pixel);
    assert!(people as f64 >= 0.9 * snapshot.agents.agents.len() as f64, "{people} of this run's people show");

    // Without the comparison no pixel has the ghosts' colour.
    renderer.set_compare(None);
    let plain = renderer.render(&snapshot, &camera).expect("renders");
    let cyan = |p: &unitwin::viewer::Picture| {
        p.rgba
            .chunks(4)
            .filter(|c| palette::Rgb(c[0], c[1], c[2]).distance(palette::COMPARE) <= AGENT_TOLERANCE)
            .count()
    };
    assert!(cyan(&picture) > 0);
    assert_eq!(cyan(&plain), 0, "ghost-coloured pixels without a comparison");

    // The command line: `--compare` draws it; a run of another unit is refused (exit 2).
    let out = dir.path().join("compare.png");
    let (run, base) = (rehearsal.to_str().unwrap(), baseline.to_str().unwrap());
    let ok =
        unitwin(&["render", run, "--at", "20", "--compare", base, "--size", "160x100", "--out", out.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("cyan ghosts"), "{}", String::from_utf8_lossy(&ok.stdout));
    let hall_run = dir.path().join("hall");
    let scene = manifest_dir().join("scenes/demo_hall.ron");
    let hall =
        unitwin(&["run", scene.to_str().unwrap(), "--until", "2", "--quiet", "--out", hall_run.to_str().unwrap()]);
    assert!(hall.status.success(), "{}", stderr(&hall));
    let other = dir.path().join("other.png");
    let refused = unitwin(&[
        "render",
        run,
        "--at",
        "20",
        "--compare",
        hall_run.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("only runs of one unit"), "{}", stderr(&refused));
    let missing = unitwin(&["render", run, "--at", "20", "--compare", "no-such-run", "--out", other.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("--compare no-such-run"), "{}", stderr(&missing));
    assert!(!other.exists());
}
