//! The offscreen renderer draws what the twin holds, where it is: a top view of Yuyangli is checked
//! against the scene's own geometry projected with the view's camera, and a door closed by a command
//! changes colour. Needs a Vulkan adapter (Mesa's lavapipe: `mesa-vulkan-drivers libvulkan1`).
#![cfg(feature = "viewer")]

use std::path::Path;
use std::process::Command;

use geo::{Coord, Distance, Euclidean, LineString, Point, Polygon};
use unitwin::command::NamedCommand;
use unitwin::draw::WorldPoint;
use unitwin::viewer::palette::{self, AgentColouring, Rgb};
use unitwin::viewer::{Picture, Renderer, SceneFrame, Snapshot, ViewCamera, ViewName, simulate_to};

/// Unlit surfaces show their palette colour exactly; this allows for sRGB rounding in the shader
/// and the read-back, nothing more.
const SURFACE_TOLERANCE: u8 = 4;
/// Agents are small discs: their top face is exact, but the closest pixel may be an anti-aliased
/// edge blending into the floor, so a pixel within this of the agent's colour counts.
const AGENT_TOLERANCE: u8 = 10;
const SIZE: (u32, u32) = (600, 1000);
const DOOR: &str = "nanchang_lane_mouth";
const AT: f64 = 20.0;

fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

fn polygon(ring: &[WorldPoint]) -> Polygon<f64> {
    Polygon::new(LineString::from(ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect::<Vec<_>>()), vec![])
}

struct View {
    camera: ViewCamera,
    frame: SceneFrame,
}

impl View {
    fn pixel(&self, p: WorldPoint) -> (i64, i64) {
        let [x, y] = self.camera.world_to_pixel(self.frame, p, SIZE).expect("in front of the camera");
        (x.floor() as i64, y.floor() as i64)
    }
    fn colour_at(&self, picture: &Picture, p: WorldPoint) -> Option<Rgb> {
        let (x, y) = self.pixel(p);
        picture.pixel(x, y)
    }
}

/// Share of `points` whose pixel is within `tolerance` of `colour`.
fn share(picture: &Picture, view: &View, points: &[WorldPoint], colour: Rgb, tolerance: u8) -> f64 {
    let hits =
        points.iter().filter(|p| view.colour_at(picture, **p).is_some_and(|c| c.distance(colour) <= tolerance)).count();
    hits as f64 / points.len().max(1) as f64
}

fn render_pair() -> (Snapshot, Snapshot, Picture, Picture, View) {
    let twin = unitwin::twin::load(&Path::new(&manifest_dir()).join("scenes/yuyangli.ron")).expect("the pilot checks");
    let open = simulate_to(&twin, AT, &[]).expect("runs");
    let closed = simulate_to(&twin, AT, &[NamedCommand::CloseDoor(DOOR.into())]).expect("runs");
    let mut renderer = match Renderer::new(&open, SIZE) {
        Ok(r) => r,
        Err(e) => panic!("no renderer: {e}"),
    };
    let view = View { camera: ViewCamera::named(ViewName::Top, &open.twin, SIZE), frame: SceneFrame::of(&open.twin) };
    let open_picture = renderer.render(&open, &view.camera).expect("renders");
    let closed_picture = renderer.render(&closed, &view.camera).expect("renders");
    (open, closed, open_picture, closed_picture, view)
}

#[test]
fn a_top_view_shows_ground_roofs_agents_and_doors_where_the_scene_has_them() {
    let started = std::time::Instant::now();
    let (open, closed, picture, closed_picture, view) = render_pair();
    eprintln!("simulated and rendered twice in {:.1} s", started.elapsed().as_secs_f64());
    let twin = &open.twin;
    assert!(view.camera.metres_per_pixel(SIZE) < 0.2, "the unit fills the picture");

    // Ground: a grid over the picture, kept to points at least 1 m from anything drawn on it.
    let mut drawn: Vec<Polygon<f64>> = Vec::new();
    for level in &twin.levels {
        drawn.extend(level.walkable.iter().map(|p| polygon(&p.outer)));
    }
    drawn.extend(twin.buildings.iter().map(|b| polygon(&b.footprint)));
    drawn.extend(twin.obstacles.iter().map(|o| polygon(&o.footprint)));
    for s in &twin.streets {
        drawn.extend(s.carriageway.iter().chain(&s.sidewalks).map(|q| polygon(q)));
    }
    let (lo, hi) = (twin.min, twin.max);
    let mut ground = Vec::new();
    for i in 0..=40 {
        for j in 0..=60 {
            let p = [
                lo[0] - 8.0 + (hi[0] - lo[0] + 16.0) * i as f64 / 40.0,
                lo[1] - 8.0 + (hi[1] - lo[1] + 16.0) * j as f64 / 60.0,
                0.0,
            ];
            let point = Point::new(p[0], p[1]);
            let (x, y) = view.pixel(p);
            let in_picture = (0..SIZE.0 as i64).contains(&x) && (0..SIZE.1 as i64).contains(&y);
            if in_picture && drawn.iter().all(|poly| Euclidean.distance(&point, poly) >= 1.0) {
                ground.push(p);
            }
        }
    }
    assert!(ground.len() > 200, "the grid has ground to check ({} points)", ground.len());
    let ground_share = share(&picture, &view, &ground, palette::GROUND, SURFACE_TOLERANCE);
    assert!(ground_share >= 0.98, "{:.1} % of ground points show the ground colour", ground_share * 100.0);

    // Roofs: each building's centre and four points 1 m from it (houses are 4.3 m or wider).
    let mut roofs_ok = 0;
    for b in &twin.buildings {
        let n = b.footprint.len() as f64;
        let (cx, cy) =
            (b.footprint.iter().map(|p| p[0]).sum::<f64>() / n, b.footprint.iter().map(|p| p[1]).sum::<f64>() / n);
        let points: Vec<WorldPoint> = [(0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)]
            .iter()
            .map(|(dx, dy)| [cx + dx, cy + dy, b.footprint[0][2] + b.height])
            .collect();
        if share(&picture, &view, &points, palette::building_roof(b), SURFACE_TOLERANCE) == 1.0 {
            roofs_ok += 1;
        }
    }
    assert!(twin.buildings.len() >= 40, "Yuyangli has its houses");
    assert_eq!(roofs_ok, twin.buildings.len(), "every building shows its roof colour inside its footprint");

    // Agents: at each agent's position (the top of its body), a pixel of its speed colour within 1 px.
    let agents = &open.agents.agents;
    assert!(agents.len() > 100, "the crowd is on site at {AT} s ({} agents)", agents.len());
    let found = agents
        .iter()
        .filter(|a| {
            let colour = palette::agent_colour(a, AgentColouring::Speed);
            let (x, y) = view.pixel([a.pos[0], a.pos[1], a.pos[2] + 1.7]);
            (-1..=1).any(|dx| {
                (-1..=1).any(|dy| picture.pixel(x + dx, y + dy).is_some_and(|c| c.distance(colour) <= AGENT_TOLERANCE))
            })
        })
        .count();
    assert!(
        found as f64 >= 0.9 * agents.len() as f64,
        "{found} of {} agents are drawn in their colour where they stand",
        agents.len()
    );
    // And agent colours are not everywhere: the ground points show none.
    let slowest = palette::SPEED_STOPS[0].1;
    assert_eq!(share(&picture, &view, &ground, slowest, AGENT_TOLERANCE), 0.0);

    // The door: open (green) in one run, closed (red) in the run that closed it by a command.
    let door = twin.doors.iter().find(|d| d.name == DOOR).expect("the door is drawn");
    assert!(door.open);
    let closed_door = closed.twin.doors.iter().find(|d| d.name == DOOR).expect("the door is drawn");
    assert!(!closed_door.open, "the command closed the door in the draw data");
    let along: Vec<WorldPoint> = (1..=7)
        .map(|k| {
            let t = k as f64 / 8.0;
            let z = door.a[2] + unitwin::viewer::geometry::DOOR_HEIGHT;
            [door.a[0] + (door.b[0] - door.a[0]) * t, door.a[1] + (door.b[1] - door.a[1]) * t, z]
        })
        .collect();
    let open_green = share(&picture, &view, &along, palette::DOOR_OPEN, SURFACE_TOLERANCE);
    let open_red = share(&picture, &view, &along, palette::DOOR_CLOSED, SURFACE_TOLERANCE);
    let closed_green = share(&closed_picture, &view, &along, palette::DOOR_OPEN, SURFACE_TOLERANCE);
    let closed_red = share(&closed_picture, &view, &along, palette::DOOR_CLOSED, SURFACE_TOLERANCE);
    // People walking out through the open door may cover part of it.
    assert!(open_green >= 0.5 && open_red == 0.0, "open door: {open_green:.2} green, {open_red:.2} red");
    assert!(closed_red == 1.0 && closed_green == 0.0, "closed door: {closed_green:.2} green, {closed_red:.2} red");
    // Every other door keeps its colour.
    for (a, b) in twin.doors.iter().zip(&closed.twin.doors).filter(|(a, _)| a.name != DOOR) {
        assert_eq!(a.open, b.open, "door {} is untouched", a.name);
    }
}

#[test]
fn unitwin_render_writes_a_png_once_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.png");
    let exe = env!("CARGO_BIN_EXE_unitwin");
    let scene = Path::new(&manifest_dir()).join("scenes/demo_hall.ron");
    let run = |extra: &[&str]| {
        Command::new(exe)
            .args(["render", scene.to_str().unwrap(), "--at", "5", "--size", "320x200", "--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .expect("unitwin runs")
    };
    let first = run(&[]);
    assert!(first.status.success(), "render failed: {}", String::from_utf8_lossy(&first.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let second = run(&[]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), bytes, "the file is untouched");
    let forced = run(&["--force", "--view", "top"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let bad_view = run(&["--force", "--view", "sideways"]);
    assert_eq!(bad_view.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_view.stderr).contains("views: overview, top"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

/// What the viewer's panel does (steps, a door closed by a command, "save rehearsal"), without the
/// window: the saved folder replays through `unitwin run --commands` to the same files.
#[test]
fn a_saved_rehearsal_replays_with_unitwin_run_to_identical_trajectories() {
    use unitwin::app::RunOptions;
    use unitwin::runner::{FolderRun, RunRequest};

    let scene = Path::new(&manifest_dir()).join("scenes/yuyangli.ron");
    let twin = unitwin::twin::load(&scene).expect("the pilot checks");
    let dir = tempfile::tempdir().unwrap();
    let rehearsal = dir.path().join("rehearsal");
    let mut options = RunOptions::from_twin(&twin);
    options.threads = Some(1);
    let request =
        RunRequest { options, out_dir: rehearsal.clone(), force: false, progress: false, commands_file: None };
    let mut folder = FolderRun::start(&twin, &request).expect("starts");
    while folder.run().clock().now() < 10.0 {
        folder.run().step();
    }
    unitwin::command::issue(folder.run().world_mut(), &NamedCommand::CloseDoor(DOOR.into())).expect("a door");
    while folder.run().clock().now() < 30.0 {
        folder.run().step();
    }
    folder.end_here();
    folder.commit(&twin).expect("saves");

    let replay = dir.path().join("replay");
    let commands = rehearsal.join("commands.ron");
    let output = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["run", scene.to_str().unwrap(), "--commands", commands.to_str().unwrap(), "--until", "30"])
        .args(["--out", replay.to_str().unwrap(), "--quiet"])
        .output()
        .expect("unitwin runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let logged = std::fs::read_to_string(&commands).unwrap();
    assert!(logged.contains(&format!("CloseDoor(\"{DOOR}\")")) && logged.contains("Live"), "{logged}");
    for file in ["trajectories.txt", "commands.ron", "summary.json"] {
        let (a, b) = (std::fs::read(rehearsal.join(file)).unwrap(), std::fs::read(replay.join(file)).unwrap());
        assert!(a == b, "{file} differs between the rehearsal and its replay");
    }
}
