//! The offscreen renderer draws what the twin holds, where it is: a top view of Yuyangli is checked
//! against the scene's own geometry projected with the view's camera, a door closed by a command
//! changes colour, and the north arrow and scale bar show where and as long as the camera puts them. Needs a Vulkan adapter (Mesa's lavapipe: `mesa-vulkan-drivers libvulkan1`).
#![cfg(feature = "viewer")]

use std::path::Path;
use std::process::Command;

use geo::{Coord, Distance, Euclidean, LineString, Point, Polygon};
use unitwin::command::NamedCommand;
use unitwin::draw::WorldPoint;
use unitwin::viewer::decorations::Decorations;
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

fn ring(points: &[WorldPoint]) -> LineString<f64> {
    LineString::from(points.iter().map(|p| Coord { x: p[0], y: p[1] }).collect::<Vec<_>>())
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
    let [dlo, dhi] = Decorations::of(twin).bounds();
    drawn.push(polygon(&[[dlo[0], dlo[1], 0.0], [dhi[0], dlo[1], 0.0], [dhi[0], dhi[1], 0.0], [dlo[0], dhi[1], 0.0]]));
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

/// The run of `wanted` pixels through the middle of the projected segment `a`–`b`: walking along
/// the line through them (a quarter pixel at a time, up to a quarter of its length beyond either
/// end), the distance in pixels between the first and last pixel centres of the unbroken run that
/// holds its midpoint, plus one pixel (a pixel's own width).
fn drawn_length(picture: &Picture, a: [f32; 2], b: [f32; 2], wanted: impl Fn(Rgb) -> bool) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length = (dx * dx + dy * dy).sqrt();
    let steps = (length * 4.0).ceil() as i64;
    let hit = |k: i64| {
        let t = k as f32 / steps as f32;
        let (x, y) = (a[0] + dx * t, a[1] + dy * t);
        (picture.pixel(x.floor() as i64, y.floor() as i64).is_some_and(&wanted), [x, y])
    };
    let middle = steps / 2;
    assert!(hit(middle).0, "the middle of the bar is drawn");
    let (mut first, mut last) = (middle, middle);
    while first > -steps / 4 && hit(first - 1).0 {
        first -= 1;
    }
    while last < steps + steps / 4 && hit(last + 1).0 {
        last += 1;
    }
    let (p, q) = (hit(first).1, hit(last).1);
    // The walk's points lie anywhere in their pixels: measure between pixel centres along the line.
    let centre = |p: [f32; 2]| [p[0].floor() + 0.5, p[1].floor() + 0.5];
    let (p, q) = (centre(p), centre(q));
    let along = ((q[0] - p[0]) * dx + (q[1] - p[1]) * dy) / length;
    along + 1.0
}

#[test]
fn the_north_arrow_and_scale_bar_show_where_the_camera_puts_them() {
    let twin = unitwin::twin::load(&Path::new(&manifest_dir()).join("scenes/yuyangli.ron")).expect("the pilot checks");
    let snapshot = simulate_to(&twin, 0.0, &[]).expect("runs");
    let marks = Decorations::of(&snapshot.twin);
    let width = snapshot.twin.max[0] - snapshot.twin.min[0];
    assert!(
        [1.0, 2.0, 5.0].iter().any(|m| (marks.length / m).log10().fract().abs() < 1e-9),
        "{} m is a round length",
        marks.length
    );
    assert!(
        marks.length >= width / 5.0 / 1.6 && marks.length <= width / 5.0 * 1.6,
        "{} m is about a fifth of the unit's width ({width:.1} m)",
        marks.length
    );
    let mut renderer = Renderer::new(&snapshot, SIZE).expect("a renderer");
    let frame = SceneFrame::of(&snapshot.twin);
    let z = marks.z;
    // A pixel of the bar is dark, light, or (where a dark segment meets a light one) an anti-aliased
    // blend of the two, mixed in linear light as the GPU resolves samples.
    let linear = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let srgb = |l: f64| {
        let c = if l <= 0.0031308 { l * 12.92 } else { 1.055 * l.powf(1.0 / 2.4) - 0.055 };
        (c * 255.0).round().clamp(0.0, 255.0) as u8
    };
    let (d, l) = (palette::SCALE_DARK, palette::SCALE_LIGHT);
    let blends: Vec<Rgb> = (0..=64)
        .map(|k| {
            let t = k as f64 / 64.0;
            let mix = |a: u8, b: u8| srgb(linear(a) * (1.0 - t) + linear(b) * t);
            Rgb(mix(d.0, l.0), mix(d.1, l.1), mix(d.2, l.2))
        })
        .collect();
    let bar = |c: Rgb| blends.iter().any(|b| c.distance(*b) <= SURFACE_TOLERANCE);
    assert!(!bar(palette::GROUND) && !bar(palette::BACKGROUND), "the bar's colours stand apart from the ground");
    for name in [ViewName::Overview, ViewName::Top] {
        let view = View { camera: ViewCamera::named(name, &snapshot.twin, SIZE), frame };
        let picture = renderer.render(&snapshot, &view.camera).expect("renders");
        let at = |x: f64, y: f64| [x, y, z];
        // The whole of both marks is in the picture.
        let [lo, hi] = marks.bounds();
        for corner in [at(lo[0], lo[1]), at(hi[0], lo[1]), at(lo[0], hi[1]), at(hi[0], hi[1])] {
            let (x, y) = view.pixel(corner);
            assert!(
                picture.pixel(x, y).is_some(),
                "{}: the marks' corner {corner:?} is in the picture",
                name.name(&snapshot.twin)
            );
        }
        // The arrow: its shaft and head where they are, the ground beside its tail and wider than
        // its shaft only at the north end, and the N above it.
        let [ax, tail] = marks.arrow_tail;
        let tip = marks.arrow_tip[1];
        let head = tip - 1.6 * marks.head_width;
        let mut arrow: Vec<WorldPoint> = (1..10).map(|k| at(ax, tail + (tip - tail) * k as f64 / 10.0)).collect();
        let beside_head = 0.3 * marks.head_width;
        arrow.extend([
            at(ax - beside_head, head + 0.1 * marks.head_width),
            at(ax + beside_head, head + 0.1 * marks.head_width),
        ]);
        let arrow_share = share(&picture, &view, &arrow, palette::NORTH_ARROW, SURFACE_TOLERANCE);
        assert_eq!(arrow_share, 1.0, "{}: the arrow shows where it stands", name.name(&snapshot.twin));
        // The N's left stroke, a few pixels wide: within a pixel of its middle line.
        let north = marks.north_at;
        let stroke = 0.13 * marks.text_height;
        let (nx, ny) = view.pixel(at(north[0] + stroke / 2.0, north[1] + marks.text_height / 2.0));
        let letter = (-1..=1).any(|dx| {
            (-1..=1).any(|dy| {
                picture.pixel(nx + dx, ny + dy).is_some_and(|c| c.distance(palette::NORTH_ARROW) <= SURFACE_TOLERANCE)
            })
        });
        assert!(letter, "{}: the N stands above the arrow", name.name(&snapshot.twin));
        let beside = 0.4 * marks.head_width;
        let beside_tail =
            [at(ax - beside, tail + 0.05 * marks.head_width), at(ax + beside, tail + 0.05 * marks.head_width)];
        assert_eq!(
            share(&picture, &view, &beside_tail, palette::GROUND, SURFACE_TOLERANCE),
            1.0,
            "{}: ground beside the tail",
            name.name(&snapshot.twin)
        );

        // The bar: each segment's middle in its colour, alternately dark and light.
        let y = marks.bar_start[1];
        for i in 0..marks.segments {
            let (a, b, colour) = marks.segment(i);
            let middle = [at((a + b) / 2.0, y)];
            assert_eq!(
                share(&picture, &view, &middle, colour, SURFACE_TOLERANCE),
                1.0,
                "{}: segment {i}",
                name.name(&snapshot.twin)
            );
        }
        // Its drawn length along its middle line against its projected length.
        let p = view.camera.world_to_pixel(frame, at(marks.bar_start[0], y), SIZE).unwrap();
        let q = view.camera.world_to_pixel(frame, at(marks.bar_end()[0], y), SIZE).unwrap();
        let projected = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt();
        let drawn = drawn_length(&picture, p, q, bar);
        eprintln!(
            "{}: bar {} m: projected {projected:.2} px, drawn {drawn:.2} px",
            name.name(&snapshot.twin),
            marks.length
        );
        assert!(
            projected > 40.0,
            "{}: the bar is long enough to measure ({projected:.1} px)",
            name.name(&snapshot.twin)
        );
        assert!(
            (drawn - projected).abs() <= 2.0,
            "{}: the bar is drawn {drawn:.2} px long, projected {projected:.2} px",
            name.name(&snapshot.twin)
        );
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
    let said = String::from_utf8_lossy(&bad_view.stderr);
    assert!(said.contains("no view 'sideways'") && said.contains("views of this unit: overview, top, "), "{said}");
    let bad_level = run(&["--force", "--level", "roof"]);
    assert_eq!(bad_level.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_level.stderr).contains("there is no level 'roof' (levels: "));
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

/// The Chinese the pilots are known by, and every Chinese character in our scenes, shows in the
/// viewer's panels: egui's own fonts have none of it, so this fails without the shipped font.
#[test]
fn the_panels_show_the_chinese_names_of_the_units() {
    use bevy_egui::egui;
    let mut text: String = "南京大楼 田子坊 春江小区 瞿溪路 渔阳里 陈毅广场 外滩 南京东路 中山东一路".into();
    for entry in std::fs::read_dir(Path::new(&manifest_dir()).join("scenes")).expect("scenes/") {
        let path = entry.expect("a scene").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let source = std::fs::read_to_string(&path).expect("a scene reads");
            text.extend(source.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)));
        }
    }
    let shows = |fonts: egui::FontDefinitions| {
        let ctx = egui::Context::default();
        ctx.set_fonts(fonts);
        let _ = ctx.run_ui(egui::RawInput::default(), |_| {});
        let font = egui::FontId::proportional(14.0);
        let missing: String = text.chars().filter(|&c| !ctx.fonts_mut(|f| f.has_glyph(&font, c))).collect();
        missing
    };
    assert!(!shows(egui::FontDefinitions::default()).is_empty(), "egui's own fonts were expected to lack Chinese");
    let missing = shows(unitwin::viewer::fonts::font_definitions());
    assert!(missing.is_empty(), "the panel cannot show: {missing}");
}

/// The window's labels name every door (but a stair's opening), stair, zone and measurement of the
/// scene, pinned 2.4 m over where it stands, coloured by its state, and follow the floors' cut.
#[test]
fn labels_name_every_door_stair_zone_and_measurement_where_it_stands_and_follow_the_cut() {
    use unitwin::draw::{DrawDoorKind, DrawMeasurement};
    use unitwin::viewer::labels::labels;
    for scene in ["nanjing_building.ron", "yuyangli.ron", "tianzifang.ron"] {
        let twin = unitwin::twin::load(&Path::new(&manifest_dir()).join("scenes").join(scene)).expect("a pilot checks");
        let mut draw = empty(&twin).twin;
        let all = labels(&draw, None);
        let named = |text: &str, at: [f64; 2]| {
            all.iter().any(|l| l.text == text && (l.at[0] - at[0]).abs() < 1e-9 && (l.at[1] - at[1]).abs() < 1e-9)
        };
        let doors: Vec<_> = draw.doors.iter().filter(|d| d.kind != DrawDoorKind::StairOpening).collect();
        for door in &doors {
            assert!(
                named(&door.name, [(door.a[0] + door.b[0]) / 2.0, (door.a[1] + door.b[1]) / 2.0]),
                "{scene}: door {}",
                door.name
            );
        }
        for stair in &draw.stairs {
            assert!(
                named(&stair.name, [(stair.foot[0] + stair.head[0]) / 2.0, (stair.foot[1] + stair.head[1]) / 2.0]),
                "{scene}: stair {}",
                stair.name
            );
        }
        for measurement in &draw.measurements {
            let name = match measurement {
                DrawMeasurement::Line { name, .. } | DrawMeasurement::Area { name, .. } => name,
            };
            assert!(all.iter().any(|l| &l.text == name), "{scene}: measurement {name}");
        }
        for zone in &draw.zones {
            assert!(all.iter().any(|l| l.text == zone.name), "{scene}: zone {}", zone.name);
        }
        assert_eq!(all.len(), doors.len() + draw.stairs.len() + draw.measurements.len() + draw.zones.len(), "{scene}");
        assert!(
            all.iter()
                .all(|l| l.at[2] >= 2.4 - 1e-9 + draw.levels.iter().map(|l| l.elevation).fold(f64::INFINITY, f64::min))
        );

        // Cut to the lowest floor: only what stands there keeps its label.
        let ground = draw.levels.iter().map(|l| l.elevation).fold(f64::INFINITY, f64::min);
        let low = labels(&draw, Some(ground));
        assert!(low.iter().all(|l| l.at[2] - 2.4 <= ground + 0.5 + 1e-9), "{scene}");
        if draw.levels.iter().any(|l| l.elevation > ground + 1.0) {
            assert!(low.len() < all.len(), "{scene}: the floors above had labels of their own");
        }

        // A closed door's label takes the closed colour.
        let door = draw.doors.iter_mut().find(|d| d.kind != DrawDoorKind::StairOpening).expect("a door");
        let name = door.name.clone();
        assert_eq!(labels(&draw, None).iter().find(|l| l.text == name).unwrap().colour, palette::DOOR_OPEN);
        draw.doors.iter_mut().find(|d| d.name == name).unwrap().open = false;
        assert_eq!(labels(&draw, None).iter().find(|l| l.text == name).unwrap().colour, palette::DOOR_CLOSED);
    }
}

/// The unit without its people: what a view shows of the geometry itself.
fn empty(twin: &unitwin::twin::Twin) -> Snapshot {
    let mut snapshot = simulate_to(twin, 0.0, &[]).expect("sets up");
    snapshot.agents.agents.clear();
    snapshot.traffic.vehicles.clear();
    snapshot
}

/// Each entrance and exit has a view from outside that shows its door in the middle of the
/// picture; each stair one that shows its treads, with the floors over it cut away (Nanjing
/// Building's stairs lie under five floors: without the cut they are hidden).
#[test]
fn each_entrance_exit_and_stair_has_a_view_that_shows_it() {
    let size = (800u32, 600u32);
    let in_middle = |p: [f32; 2]| {
        (size.0 as f32 * 0.2..size.0 as f32 * 0.8).contains(&p[0])
            && (size.1 as f32 * 0.2..size.1 as f32 * 0.8).contains(&p[1])
    };
    let colour_share = |picture: &Picture, camera: &ViewCamera, frame: SceneFrame, points: &[WorldPoint], c: Rgb| {
        let hits = points
            .iter()
            .filter(|p| {
                let [x, y] = camera.world_to_pixel(frame, **p, size).expect("in front of the camera");
                picture.pixel(x.floor() as i64, y.floor() as i64).is_some_and(|q| q.distance(c) <= SURFACE_TOLERANCE)
            })
            .count();
        hits as f64 / points.len() as f64
    };
    let root = Path::new(&manifest_dir()).join("scenes");
    let mut doors_seen = 0;
    let mut stairs_seen = 0;
    let mut stairs_under_floors = 0;
    for scene in ["yuyangli.ron", "bund_chenyi.ron", "nanjing_building.ron"] {
        let twin = unitwin::twin::load(&root.join(scene)).expect("the pilot checks");
        let snapshot = empty(&twin);
        let draw = &snapshot.twin;
        let frame = SceneFrame::of(draw);
        // A renderer places meshes around the first twin it draws: one per unit.
        let mut renderer = Renderer::new(&snapshot, size).expect("a renderer");
        if scene == "nanjing_building.ron" {
            // PageDown from everything shown cuts the fifth floor away; PageUp from the fourth restores all.
            use unitwin::viewer::views::{floors, step_cut};
            assert_eq!(floors(draw).len(), 6, "ground and five floors");
            let fourth = floors(draw)[4].0;
            assert_eq!(step_cut(draw, None, true), Some(fourth));
            assert_eq!(step_cut(draw, Some(fourth), false), None);
            assert_eq!(step_cut(draw, Some(0.0), true), Some(0.0), "the ground floor stays");
        }
        let views = ViewName::all(draw);
        assert_eq!(
            views.len(),
            2 + draw
                .doors
                .iter()
                .filter(|d| {
                    matches!(d.kind, unitwin::draw::DrawDoorKind::Exit | unitwin::draw::DrawDoorKind::Entrance)
                })
                .count()
                + draw.stairs.len()
        );
        for view in views {
            let name = view.name(draw);
            assert_eq!(ViewName::parse(&name, draw), Ok(view), "{scene}: '{name}' names its view");
            let camera = ViewCamera::named(view, draw, size);
            let (subject, colour) = match view {
                ViewName::Overview | ViewName::Top => continue,
                ViewName::Door(i) => {
                    let d = &draw.doors[i];
                    let top = d.a[2] + unitwin::viewer::geometry::DOOR_HEIGHT;
                    let along = |t: f64| [d.a[0] + (d.b[0] - d.a[0]) * t, d.a[1] + (d.b[1] - d.a[1]) * t, top];
                    doors_seen += 1;
                    (vec![along(0.3), along(0.5), along(0.7)], unitwin::viewer::geometry::door_colour(d.open))
                }
                ViewName::Stair(i) => {
                    let s = &draw.stairs[i];
                    let n = s.steps.max(1) as f64;
                    // The middle of treads across the flight's middle third, on their top.
                    let [fl, fr, hr, hl] = s.corners;
                    let (foot, head) = (
                        [(fl[0] + fr[0]) / 2.0, (fl[1] + fr[1]) / 2.0],
                        [(hl[0] + hr[0]) / 2.0, (hl[1] + hr[1]) / 2.0],
                    );
                    let tread = |k: f64| {
                        let t = (k + 0.5) / n;
                        let z = s.foot[2] + (s.head[2] - s.foot[2]) * (k + 1.0) / n;
                        [foot[0] + (head[0] - foot[0]) * t, foot[1] + (head[1] - foot[1]) * t, z]
                    };
                    let ks = (0..s.steps).map(f64::from).filter(|k| (n / 3.0..2.0 * n / 3.0).contains(k));
                    stairs_seen += 1;
                    let length = ((head[0] - foot[0]).powi(2) + (head[1] - foot[1]).powi(2)).sqrt();
                    if length > 0.5 {
                        (ks.map(tread).collect::<Vec<_>>(), palette::STAIR)
                    } else {
                        // A stairwell joining two floors at one point: its opening on the lower floor.
                        let z = s.foot[2].min(s.head[2]);
                        let opening = draw
                            .doors
                            .iter()
                            .find(|d| {
                                d.kind == unitwin::draw::DrawDoorKind::StairOpening
                                    && (d.a[2] - z).abs() < 0.1
                                    && ((d.a[0] + d.b[0]) / 2.0 - foot[0]).hypot((d.a[1] + d.b[1]) / 2.0 - foot[1])
                                        < 3.0
                            })
                            .expect("a stairwell has an opening on its lower floor");
                        let top = z + unitwin::viewer::geometry::DOOR_HEIGHT;
                        let along = |t: f64| {
                            [
                                opening.a[0] + (opening.b[0] - opening.a[0]) * t,
                                opening.a[1] + (opening.b[1] - opening.a[1]) * t,
                                top,
                            ]
                        };
                        (vec![along(0.3), along(0.5), along(0.7)], unitwin::viewer::geometry::door_colour(opening.open))
                    }
                }
            };
            let centre = camera.world_to_pixel(frame, subject[subject.len() / 2], size).expect("in front");
            assert!(in_middle(centre), "{scene}: {name} is in the middle of its view (at {centre:?})");
            let picture = renderer.render(&snapshot, &camera).expect("renders");
            let seen = colour_share(&picture, &camera, frame, &subject, colour);
            let mut uncut = camera;
            uncut.cut = None;
            let seen_uncut = if camera.cut.is_some() {
                colour_share(&renderer.render(&snapshot, &uncut).expect("renders"), &uncut, frame, &subject, colour)
            } else {
                seen
            };
            eprintln!(
                "{scene}: {name}: cut {:?}, seen {:.0} % (uncut {:.0} %)",
                camera.cut,
                seen * 100.0,
                seen_uncut * 100.0
            );
            assert!(seen >= 0.99, "{scene}: {name} shows in its view ({:.0} % of its points)", seen * 100.0);
            if matches!(view, ViewName::Stair(_)) && camera.cut.is_some() {
                assert!(seen_uncut < 0.5, "{scene}: {name}: the floors cut away would hide it");
                stairs_under_floors += 1;
            }
        }
    }
    assert!(doors_seen >= 5 && stairs_seen >= 12, "{doors_seen} doors and {stairs_seen} stairs were looked at");
    assert_eq!(stairs_under_floors, 10, "Nanjing Building's ten stairwells lie under the floors above");
}

/// The heatmap colours the floor by the Level of Service of the density around each 1 m cell: 36
/// people in a 3 m square (4 persons/m², LoS F) on Yuyangli's square turn the cells under them LoS F
/// red, the floor 4 m away stays the floor, and the densest person is ringed. Without the heatmap
/// the floor under them is the floor.
#[test]
fn the_heatmap_shows_a_dense_square_as_level_of_service_f_and_rings_the_densest() {
    use unitwin::draw::{DrawActivity, DrawAgent};
    use unitwin::ids::{AgentId, PopulationId};
    let twin = unitwin::twin::load(&Path::new(&manifest_dir()).join("scenes/yuyangli.ron")).expect("the pilot checks");
    let mut snapshot = empty(&twin);
    let draw = snapshot.twin.clone();
    // A cell centre on the ground floor at least 6 m from any edge of the walkable area or outline.
    let ground = &draw.levels[0];
    let polygons: Vec<Polygon<f64>> = ground
        .walkable
        .iter()
        .map(|p| Polygon::new(ring(&p.outer), p.holes.iter().map(|h| ring(h)).collect()))
        .collect();
    let outlines: Vec<LineString<f64>> = draw
        .zones
        .iter()
        .map(|z| ring(&z.polygon))
        .chain(draw.measurements.iter().map(|m| match m {
            unitwin::draw::DrawMeasurement::Line { a, b, .. } => ring(&[*a, *b]),
            unitwin::draw::DrawMeasurement::Area { polygon, .. } => ring(polygon),
        }))
        .collect();
    let centre = (draw.min[1].floor() as i64..draw.max[1].ceil() as i64)
        .flat_map(|y| (draw.min[0].floor() as i64..draw.max[0].ceil() as i64).map(move |x| (x, y)))
        .map(|(x, y)| Point::new(x as f64 + 0.5, y as f64 + 0.5))
        .find(|p| {
            polygons.iter().any(|poly| {
                geo::Contains::contains(poly, p)
                    && std::iter::once(poly.exterior()).chain(poly.interiors()).all(|r| Euclidean.distance(p, r) >= 6.0)
            }) && outlines.iter().all(|o| Euclidean.distance(p, o) >= 6.0)
        })
        .expect("Yuyangli's square has open floor");
    let (cx, cy) = (centre.x(), centre.y());
    let z = ground.elevation;
    snapshot.agents.agents = (0..36u32)
        .map(|k| DrawAgent {
            id: AgentId(k),
            pos: [cx - 1.25 + 0.5 * (k % 6) as f64, cy - 1.25 + 0.5 * (k / 6) as f64, z],
            vel: [0.0, 0.0],
            level: ground.id,
            on_stair: None,
            population: PopulationId(0),
            density: 4.0,
            // Thin people: the floor between them shows.
            radius: 0.05,
            activity: DrawActivity::Waiting,
        })
        .collect();
    let mut renderer = Renderer::new(&snapshot, SIZE).expect("a renderer");
    let view = View { camera: ViewCamera::named(ViewName::Top, &draw, SIZE), frame: SceneFrame::of(&draw) };
    // Between the people, away from the ring round the first of them (a crowd in LoS F is ringed
    // even without the heatmap): the middle cell (36 people in its 3 m square: 4 persons/m²) and
    // the four beside it (24: 2.7), LoS F; the four at its corners (16: 1.8), LoS E.
    let at = |dx: f64, dy: f64| [cx + dx, cy + dy, z];
    let middle_and_sides = vec![at(0.0, 0.0), at(1.0, 0.0), at(-1.0, 0.0), at(0.0, 1.0), at(0.0, -1.0)];
    let corners = vec![at(1.0, 1.0), at(-1.0, 1.0), at(1.0, -1.0), at(-1.0, -1.0)];
    let away: Vec<WorldPoint> = (0..16)
        .map(|k| {
            let a = k as f64 / 16.0 * std::f64::consts::TAU;
            [cx + 4.0 * a.cos(), cy + 4.0 * a.sin(), z]
        })
        .collect();
    let plain = renderer.render(&snapshot, &view.camera).expect("renders");
    assert_eq!(
        share(&plain, &view, &middle_and_sides, palette::WALKABLE, SURFACE_TOLERANCE),
        1.0,
        "no heatmap unless asked"
    );
    renderer.set_heatmap(true);
    let heat = renderer.render(&snapshot, &view.camera).expect("renders");
    let los_f = palette::LOS[5];
    let under = share(&heat, &view, &middle_and_sides, los_f, SURFACE_TOLERANCE);
    let around = share(&heat, &view, &corners, palette::LOS[4], SURFACE_TOLERANCE);
    let floor = share(&heat, &view, &away, palette::WALKABLE, SURFACE_TOLERANCE);
    // The ring of the 1 m disc round the first person (the densest, lowest id), on its outer side.
    let first = snapshot.agents.agents[0].pos;
    let on_ring: Vec<WorldPoint> = [(-1.0f64, 0.0f64), (0.0, -1.0), (-0.7071, -0.7071)]
        .iter()
        .map(|(dx, dy)| [first[0] + dx, first[1] + dy, z])
        .collect();
    // The ring is thin (0.3 m, 2 px here) and its edges blend: a pixel of it within 1 px counts.
    let ringed = on_ring
        .iter()
        .filter(|p| {
            let (x, y) = view.pixel(**p);
            (-1..=1).any(|dx| {
                (-1..=1).any(|dy| {
                    heat.pixel(x + dx, y + dy).is_some_and(|c| c.distance(palette::PEAK) <= SURFACE_TOLERANCE)
                })
            })
        })
        .count() as f64
        / on_ring.len() as f64;
    eprintln!(
        "LoS F in the middle {:.0} %, LoS E at the corners {:.0} %, floor 4 m out {:.0} %, ring {:.0} %",
        under * 100.0,
        around * 100.0,
        floor * 100.0,
        ringed * 100.0
    );
    assert_eq!(under, 1.0, "the middle cell (4 persons/m²) and those beside it (2.7) are LoS F");
    assert_eq!(around, 1.0, "the corner cells (1.8 persons/m²) are LoS E");
    assert_eq!(floor, 1.0, "the floor 4 m away, out of reach of the 3 m squares, is the floor");
    assert_eq!(ringed, 1.0, "the densest person is ringed");
}

/// `unitwin bench-viewer` times a small crowd and prints its row; bad arguments exit 2.
#[test]
fn unitwin_bench_viewer_prints_a_row_per_crowd_and_refuses_bad_arguments() {
    let exe = env!("CARGO_BIN_EXE_unitwin");
    let run = |args: &[&str]| Command::new(exe).arg("bench-viewer").args(args).output().expect("unitwin runs");
    let out = run(&["--agents", "200", "--frames", "2", "--size", "320x200"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().find(|l| l.trim_start().starts_with("200 ")).unwrap_or_else(|| panic!("no row: {text}"));
    let numbers: Vec<f64> = row.split_whitespace().skip(1).map(|n| n.parse().expect("a number")).collect();
    assert_eq!(numbers.len(), 4, "frame mean and max, systems mean and max: {row}");
    assert!(numbers.iter().all(|n| n.is_finite() && *n >= 0.0) && numbers[0] > 0.0, "{row}");
    assert!(numbers[1] >= numbers[0] && numbers[3] >= numbers[2], "a maximum is at least the mean: {row}");
    assert_eq!(run(&["--frames", "0"]).status.code(), Some(2));
    assert_eq!(run(&["--size", "wide"]).status.code(), Some(2));
}
