//! `unitwin view`: the window. The simulation steps in a budget per frame at the chosen speed; an
//! egui panel shows live figures and issues commands (doors); "save rehearsal" writes the run folder.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::app::TerminalCtrlCHandlerPlugin;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use bevy_panorbit_camera::{PanOrbitCamera, PanOrbitCameraPlugin};

use super::ViewerError;
use super::camera::{ViewCamera, ViewName};
use super::compare::{CompareAgents, Comparison, Counts, compare_section, follow_comparison};
use super::labels::{Labels, draw_labels, labels_key};
use super::palette;
use super::render::{Snapshot, catch_renderer_panic};
use super::scene::{Colouring, Heatmap, LevelCut, ScenePlugin};
use super::views::{ViewChoice, apply_view_choice, orbit_of, view_choice_keys, view_pickers};
use crate::app::RunOptions;
use crate::command::NamedCommand;
use crate::draw::{DrawAgents, DrawDoorKind, DrawFigures, DrawTraffic, DrawTwin};
use crate::runner::{FolderRun, RunError, RunRequest};
use crate::twin::Twin;

/// What `unitwin view` was asked for.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    pub seed: Option<u64>,
    /// Where "save rehearsal" writes the run folder.
    pub out_dir: PathBuf,
    pub force: bool,
    /// A recorded run of the same unit drawn as ghosts at the same simulated time (`--compare`).
    pub compare: Option<PathBuf>,
}

/// Simulation speeds offered, × real time; `None` is as fast as the frame budget allows.
pub const SPEEDS: [Option<f64>; 9] =
    [Some(0.25), Some(0.5), Some(1.0), Some(2.0), Some(4.0), Some(8.0), Some(16.0), Some(32.0), None];

/// Wall time per frame the simulation may use, so the window stays responsive when it is slower
/// than asked.
const STEP_BUDGET: Duration = Duration::from_millis(12);

/// The rehearsal under way: the run (writing into its staging folder) and the twin it runs.
struct Rehearsal {
    twin: Twin,
    folder: Option<FolderRun>,
    /// The last command refused, the folder saved, or why saving failed.
    message: Option<String>,
}

#[derive(Resource)]
struct TimeControl {
    paused: bool,
    /// Index into [`SPEEDS`].
    speed: usize,
    step_once: bool,
    /// Steps owed to real time (fractions carry over).
    owed: f64,
    /// Simulated seconds per wall second over the last frames.
    achieved: f64,
    /// Whether the last frame ran out of budget before catching up.
    behind: bool,
}

impl Default for TimeControl {
    fn default() -> Self {
        TimeControl { paused: true, speed: 2, step_once: false, owed: 0.0, achieved: 0.0, behind: false }
    }
}

/// Whether the pointer is over the panel (then the mouse does not move the camera).
#[derive(Resource, Default)]
pub(super) struct PointerOnPanel(pub(super) bool);

/// Opens the window on `twin` and runs until it is closed. Nothing is written unless the user saves
/// the rehearsal; the run folder is checked (and refused when it exists without `force`) first.
pub fn view(twin: Twin, options: ViewOptions) -> Result<(), ViewerError> {
    require_display()?;
    let mut run_options = RunOptions::from_twin(&twin);
    run_options.seed = options.seed.unwrap_or(run_options.seed);
    // One worker: the frame's own systems need the other cores, and results never depend on it.
    run_options.threads = Some(1);
    let request = RunRequest {
        options: run_options,
        out_dir: options.out_dir.clone(),
        force: options.force,
        progress: false,
        commands_file: None,
    };
    let mut folder = FolderRun::start(&twin, &request).map_err(|e| match e {
        RunError::Scene(d) => ViewerError::Scene(d),
        e => ViewerError::Output(e.to_string()),
    })?;
    // The first step publishes the twin and the crowd at the start.
    folder.run().step();
    let snapshot = Snapshot::of(folder.run().world());
    let figures = folder.run().world().resource::<DrawFigures>().clone();
    let comparison = options.compare.as_deref().map(|f| Comparison::open(f, &snapshot.twin)).transpose()?;
    let title = format!("unitwin — {}", snapshot.twin.name);
    let mut app = window_app(title, snapshot)?;
    if let Some(comparison) = comparison {
        app.insert_resource(comparison);
    }
    app.insert_resource(figures)
        .insert_non_send(Rehearsal { twin, folder: Some(folder), message: None })
        .init_resource::<TimeControl>()
        .add_systems(Update, (time_keys, advance_simulation, follow_comparison).chain().before(view_keys))
        .add_systems(EguiPrimaryContextPass, panel);
    app.run();
    Ok(())
}

/// The viewer needs a desktop: say so before Bevy fails to open a window.
pub(super) fn require_display() -> Result<(), ViewerError> {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Err(ViewerError::Arguments(
            "no display: unitwin view needs a desktop session (DISPLAY is not set); `unitwin render` draws \
             pictures without one"
                .into(),
        ));
    }
    Ok(())
}

/// The window both the live viewer and the replay open: the scene of `snapshot`, the orbit camera
/// with its keys and mouse, colours, views and F12 pictures. Each adds its own clock and panel.
pub(super) fn window_app(title: String, snapshot: Snapshot) -> Result<App, ViewerError> {
    let mut app = catch_renderer_panic(|| {
        let mut app = App::new();
        app.add_plugins(
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: Some(Window { title, resolution: (1600, 1000).into(), ..default() }),
                    ..default()
                })
                .set(LogPlugin { filter: "warn,wgpu=error,naga=warn".into(), ..default() })
                // Closing the window ends the viewer; unitwin handles no Ctrl-C here.
                .disable::<TerminalCtrlCHandlerPlugin>(),
        );
        app
    })?;
    app.add_plugins((EguiPlugin::default(), PanOrbitCameraPlugin))
        .insert_resource(snapshot.twin)
        .insert_resource(snapshot.agents)
        .insert_resource(snapshot.traffic)
        .insert_resource(ClearColor(palette::BACKGROUND.color()))
        .add_plugins(ScenePlugin)
        .init_resource::<PointerOnPanel>()
        .add_systems(Startup, spawn_camera)
        .init_resource::<ViewChoice>()
        .add_systems(Update, ((view_choice_keys, apply_view_choice, view_keys, camera_input).chain(), screenshot_key))
        .init_resource::<Labels>()
        .add_systems(Update, labels_key)
        .add_systems(EguiPrimaryContextPass, (super::fonts::install_fonts, draw_labels));
    Ok(app)
}

fn spawn_camera(mut commands: Commands, twin: Res<DrawTwin>, windows: Query<&Window>) {
    let size = windows.iter().next().map_or((1600, 1000), |w| (w.physical_width(), w.physical_height()));
    let view = ViewCamera::named(ViewName::Overview, &twin, size);
    commands.spawn((
        Camera3d::default(),
        view.transform(),
        view.bevy_projection(),
        orbit_of(&view),
        Tonemapping::None,
        DebandDither::Disabled,
    ));
}

/// F12 saves the window as `unitwin-<unit>-t<seconds>.png` in the current folder (never over an
/// existing file: `-2`, `-3`, … are added).
fn screenshot_key(
    mut commands: Commands,
    keys: Res<ButtonInput<KeyCode>>,
    agents: Res<DrawAgents>,
    twin: Res<DrawTwin>,
) {
    if !keys.just_pressed(KeyCode::F12) {
        return;
    }
    let stem: String = twin.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let base = format!("unitwin-{stem}-t{:.0}", agents.t);
    let path = (1..)
        .map(|n| PathBuf::from(if n == 1 { format!("{base}.png") } else { format!("{base}-{n}.png") }))
        .find(|p| !p.exists())
        .expect("some name is free");
    commands.spawn(Screenshot::primary_window()).observe(move |shot: On<ScreenshotCaptured>| {
        let written =
            super::render::picture_of_image(shot.image.clone()).and_then(|picture| picture.write_png(&path, false));
        match written {
            Ok(()) => info!("saved {}", path.display()),
            Err(e) => error!("screenshot not saved: {e}"),
        }
    });
}

/// Keys of the live run: Space pause, N one step, +/- speed, M as fast as possible.
fn time_keys(keys: Res<ButtonInput<KeyCode>>, mut time: ResMut<TimeControl>) {
    if keys.just_pressed(KeyCode::Space) {
        time.paused = !time.paused;
    }
    if keys.just_pressed(KeyCode::KeyN) || keys.just_pressed(KeyCode::Period) {
        time.paused = true;
        time.step_once = true;
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        time.speed = (time.speed + 1).min(SPEEDS.len() - 1);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        time.speed = time.speed.saturating_sub(1);
    }
    if keys.just_pressed(KeyCode::KeyM) {
        time.speed = SPEEDS.len() - 1;
    }
}

/// Keys of the picture: C colouring; arrows orbit, W/A/S/D pan, Q/E zoom (views: [`super::views`]).
pub(super) fn view_keys(
    keys: Res<ButtonInput<KeyCode>>,
    mut colouring: ResMut<Colouring>,
    mut cameras: Query<&mut PanOrbitCamera>,
    clock: Res<Time<Real>>,
) {
    if keys.just_pressed(KeyCode::KeyC) {
        colouring.0 = colouring.0.next();
    }
    let Ok(mut camera) = cameras.single_mut() else { return };
    let dt = clock.delta_secs();
    let turn = 1.2 * dt;
    if keys.pressed(KeyCode::ArrowLeft) {
        camera.target_yaw += turn;
    }
    if keys.pressed(KeyCode::ArrowRight) {
        camera.target_yaw -= turn;
    }
    if keys.pressed(KeyCode::ArrowUp) {
        camera.target_pitch = (camera.target_pitch + turn).min(std::f32::consts::FRAC_PI_2 - 1e-3);
    }
    if keys.pressed(KeyCode::ArrowDown) {
        camera.target_pitch = (camera.target_pitch - turn).max(0.05);
    }
    let pan = camera.target_radius * 0.8 * dt;
    let (sin, cos) = camera.target_yaw.sin_cos();
    // Forward on the ground is away from the camera; right is perpendicular to it.
    let (forward, right) = (Vec3::new(-sin, 0.0, -cos), Vec3::new(cos, 0.0, -sin));
    for (key, dir) in
        [(KeyCode::KeyW, forward), (KeyCode::KeyS, -forward), (KeyCode::KeyD, right), (KeyCode::KeyA, -right)]
    {
        if keys.pressed(key) {
            camera.target_focus += dir * pan;
        }
    }
    if keys.pressed(KeyCode::KeyQ) {
        camera.target_radius *= 1.0 + dt;
    }
    if keys.pressed(KeyCode::KeyE) {
        camera.target_radius = (camera.target_radius * (1.0 - dt)).max(2.0);
    }
}

/// The mouse moves the camera unless it is over the panel.
fn camera_input(on_panel: Res<PointerOnPanel>, mut cameras: Query<&mut PanOrbitCamera>) {
    for mut camera in &mut cameras {
        if camera.enabled == on_panel.0 {
            camera.enabled = !on_panel.0;
        }
    }
}

/// Steps the simulation as far as the speed asks, within the frame's budget, then copies its draw
/// data (the only thing the viewer reads from it) into the viewer's world.
#[allow(clippy::too_many_arguments)]
fn advance_simulation(
    mut rehearsal: NonSendMut<Rehearsal>,
    mut time: ResMut<TimeControl>,
    clock: Res<Time<Real>>,
    mut twin: ResMut<DrawTwin>,
    mut agents: ResMut<DrawAgents>,
    mut traffic: ResMut<DrawTraffic>,
    mut figures: ResMut<DrawFigures>,
) {
    let Some(folder) = rehearsal.folder.as_mut() else { return };
    let run = folder.run();
    let started = Instant::now();
    let t0 = run.clock().now();
    let dt = run.clock().dt;
    time.behind = false;
    if time.step_once {
        time.step_once = false;
        run.step();
    } else if !time.paused && !run.is_finished() {
        // A long frame (a dragged window, a software renderer) owes at most a second; the step
        // budget below bounds the work in any case.
        let frame = clock.delta_secs_f64().min(1.0);
        match SPEEDS[time.speed] {
            Some(speed) => {
                time.owed += frame * speed / dt;
                while time.owed >= 1.0 && !run.is_finished() {
                    if started.elapsed() > STEP_BUDGET {
                        time.behind = true;
                        time.owed = 0.0;
                        break;
                    }
                    run.step();
                    time.owed -= 1.0;
                }
            }
            None => {
                while started.elapsed() < STEP_BUDGET && !run.is_finished() {
                    run.step();
                }
            }
        }
    }
    let simulated = run.clock().now() - t0;
    let wall = clock.delta_secs_f64().max(1e-6);
    time.achieved = 0.9 * time.achieved + 0.1 * simulated / wall;
    if simulated > 0.0 {
        let world = run.world();
        let published = world.resource::<DrawTwin>();
        if published.version != twin.version {
            *twin = published.clone();
        }
        agents.clone_from(world.resource::<DrawAgents>());
        traffic.clone_from(world.resource::<DrawTraffic>());
        figures.clone_from(world.resource::<DrawFigures>());
    }
}

pub(super) fn speed_name(speed: Option<f64>) -> String {
    match speed {
        Some(s) if s < 1.0 => format!("{s}×"),
        Some(s) => format!("{s:.0}×"),
        None => "max".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn panel(
    mut contexts: EguiContexts,
    mut rehearsal: NonSendMut<Rehearsal>,
    mut time: ResMut<TimeControl>,
    mut colouring: ResMut<Colouring>,
    mut on_panel: ResMut<PointerOnPanel>,
    twin: Res<DrawTwin>,
    agents: Res<DrawAgents>,
    traffic: Res<DrawTraffic>,
    figures: Res<DrawFigures>,
    mut choice: ResMut<ViewChoice>,
    mut cut: ResMut<LevelCut>,
    mut heatmap: ResMut<Heatmap>,
    mut wave: Local<Option<(u32, f64)>>,
    (comparison, ghosts): (Option<Res<Comparison>>, Res<CompareAgents>),
    mut labels: ResMut<Labels>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    // Tianzifang's gate 7 released about 100 people every 2–3 minutes.
    let wave = wave.get_or_insert((100, 150.0));
    let rehearsal = &mut *rehearsal;
    // The unit's name in full (often with Chinese) above the clock: a title bar would cut it short.
    egui::Window::new("live rehearsal").default_pos([12.0, 12.0]).default_width(300.0).show(ctx, |ui| {
        ui.label(egui::RichText::new(&twin.name).strong());
        let finished = rehearsal.folder.as_mut().is_none_or(|f| f.run().is_finished());
        ui.heading(format!("t = {:.1} s", agents.t));
        ui.horizontal(|ui| {
            if ui.button(if time.paused { "run" } else { "pause" }).clicked() {
                time.paused = !time.paused;
            }
            if ui.button("step").clicked() {
                time.paused = true;
                time.step_once = true;
            }
        });
        ui.horizontal_wrapped(|ui| {
            for (i, speed) in SPEEDS.iter().enumerate() {
                ui.selectable_value(&mut time.speed, i, speed_name(*speed));
            }
        });
        let state = if finished {
            "run finished".to_string()
        } else if time.paused {
            "paused".to_string()
        } else if time.behind {
            format!("{:.1}× real time (slower than asked)", time.achieved)
        } else {
            format!("{:.1}× real time", time.achieved)
        };
        ui.label(state);
        ui.separator();
        ui.label(format!("on site {}   exited {}   came {}", figures.on_site, figures.exited, figures.spawned));
        if let Some(kept) = figures.kept_outside.filter(|&n| n > 0) {
            ui.label(format!("kept outside {kept} (due, no room at their door yet)"));
        }
        for (door, n) in &figures.per_exit {
            let name = twin.doors.iter().find(|d| d.id == *door).map_or("?", |d| d.name.as_str());
            ui.label(format!("  by {name}: {n}"));
        }
        match figures.peak_density {
            Some((density, t, at, _)) => ui.label(format!(
                "peak local density {density:.2} persons/m² (LoS {}) at ({:.1}, {:.1}), t = {t:.1} s",
                crate::metrics::cells::LOS_NAMES[crate::metrics::cells::fruin_los(density)],
                at[0],
                at[1]
            )),
            None => ui.label("peak local density: none yet"),
        };
        if !traffic.vehicles.is_empty() {
            ui.label(format!("vehicles on the road {}", traffic.vehicles.len()));
        }
        if let Some(comparison) = &comparison {
            let here = Counts {
                on_site: figures.on_site as usize,
                came: figures.spawned as usize,
                left: figures.exited as usize,
            };
            compare_section(ui, here, &agents, comparison, &ghosts);
        }
        ui.separator();
        view_pickers(ui, &twin, &mut choice, &mut cut, &mut heatmap);
        ui.checkbox(&mut labels.0, "labels (L): doors, stairs, zones, measurements");
        super::legend::legend(ui, &mut colouring.0, &twin);
        ui.separator();
        ui.label("doors (close or open; exits entrance-only; interior doors one-way):");
        // Every order goes through the command queue: applied at the start of the next step and
        // recorded in commands.ron with its time.
        let mut orders: Vec<NamedCommand> = Vec::new();
        egui::ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
            for door in twin.doors.iter().filter(|d| d.kind != DrawDoorKind::StairOpening) {
                let kind = match (door.kind, door.one_way_to) {
                    (DrawDoorKind::Exit, _) => "exit",
                    (DrawDoorKind::Entrance, _) => "entrance",
                    (_, Some(_)) => "one-way door",
                    _ => "door",
                };
                ui.horizontal(|ui| {
                    let (label, command) = if door.open {
                        (format!("[open] {} ({kind}): close", door.name), NamedCommand::CloseDoor(door.name.clone()))
                    } else {
                        (format!("[closed] {} ({kind}): open", door.name), NamedCommand::OpenDoor(door.name.clone()))
                    };
                    if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                        orders.push(command);
                    }
                    let door_name = door.name.clone();
                    match door.kind {
                        // 南进北出: a boundary door made entrance-only, or an exit again.
                        DrawDoorKind::Exit | DrawDoorKind::Entrance => {
                            let exit = door.kind == DrawDoorKind::Entrance;
                            let label = if exit { "exit again" } else { "entrance only" };
                            if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                                orders.push(NamedCommand::SetExit { door: door_name, exit });
                            }
                        }
                        DrawDoorKind::Interior => {
                            for (side, label) in [(0, "one-way +"), (1, "one-way −")] {
                                let p = door.sides[side];
                                let button = egui::Button::new(label);
                                let hover = format!("only towards ({:.1}, {:.1})", p[0], p[1]);
                                if ui.add_enabled(!finished && door.one_way_to != Some(side), button).on_hover_text(hover).clicked() {
                                    orders.push(NamedCommand::DoorDirection {
                                        door: door_name.clone(),
                                        direction: crate::scene::DoorWay::Towards(p),
                                    });
                                }
                            }
                            if ui.add_enabled(!finished && door.one_way_to.is_some(), egui::Button::new("both ways")).clicked() {
                                orders.push(NamedCommand::DoorDirection { door: door_name, direction: crate::scene::DoorWay::Both });
                            }
                        }
                        DrawDoorKind::StairOpening => {}
                    }
                });
            }
        });
        if !twin.hold_lines.is_empty() {
            ui.separator();
            ui.label("hold lines:");
            ui.horizontal(|ui| {
                ui.label("waves of");
                ui.add(egui::DragValue::new(&mut wave.0).range(1..=100_000));
                ui.label("every");
                ui.add(egui::DragValue::new(&mut wave.1).range(1.0..=3600.0).suffix(" s"));
            });
            for line in &twin.hold_lines {
                ui.label(format!("{}: {}", line.name, line.state));
                ui.horizontal(|ui| {
                    let hold = |release| NamedCommand::HoldLine { line: line.name.clone(), release };
                    if ui.add_enabled(!finished, egui::Button::new("cordon")).clicked() {
                        orders.push(hold(crate::scene::Release::Closed));
                    }
                    if ui.add_enabled(!finished, egui::Button::new("waves")).clicked() {
                        orders.push(hold(crate::scene::Release::Batches { size: wave.0, every: wave.1 }));
                    }
                    // A one-way lane (单向循环): nobody crosses from the held side.
                    if ui.add_enabled(!finished, egui::Button::new("one-way")).clicked() {
                        orders.push(hold(crate::scene::Release::OneWay));
                    }
                    if ui.add_enabled(!finished && line.held, egui::Button::new("release")).clicked() {
                        orders.push(NamedCommand::ReleaseLine(line.name.clone()));
                    }
                });
            }
        }
        if !twin.entrances.is_empty() {
            ui.separator();
            ui.label("arrivals (far-end control):");
            for entrance in &twin.entrances {
                let diverted = entrance.diverted_to.as_ref().map_or(String::new(), |d| format!(", through {d}"));
                ui.label(format!("{}: {:.0} % let come{diverted}", entrance.name, entrance.share * 100.0));
                ui.horizontal(|ui| {
                    for (label, share) in [("close", 0.0), ("half", 0.5)] {
                        if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                            orders.push(NamedCommand::LimitArrivals { door: entrance.name.clone(), share });
                        }
                    }
                    if ui.add_enabled(!finished, egui::Button::new("restore")).clicked() {
                        orders.push(NamedCommand::RestoreArrivals(entrance.name.clone()));
                    }
                });
            }
        }
        if !twin.zones.is_empty() {
            ui.separator();
            ui.label("zones (block, or fill with smoke of extinction K /m):");
            for zone in &twin.zones {
                let state = match (zone.blocked, zone.smoke > 0.0) {
                    (true, _) => "blocked".to_string(),
                    (false, true) => format!("smoke K = {} /m", zone.smoke),
                    (false, false) => "clear".to_string(),
                };
                ui.label(format!("{}: {state}", zone.name));
                ui.horizontal(|ui| {
                    let block = if zone.blocked {
                        ("unblock", NamedCommand::UnblockZone(zone.name.clone()))
                    } else {
                        ("block", NamedCommand::BlockZone(zone.name.clone()))
                    };
                    if ui.add_enabled(!finished, egui::Button::new(block.0)).clicked() {
                        orders.push(block.1);
                    }
                    // Light smoke (visibility of a sign ≈ 1.5 m), thick smoke (≈ 0.4 m), clear air.
                    for (label, extinction) in [("smoke K 2", 2.0), ("K 8", 8.0), ("clear", 0.0)] {
                        if ui.add_enabled(!finished && zone.smoke != extinction, egui::Button::new(label)).clicked() {
                            orders.push(NamedCommand::Smoke { zone: zone.name.clone(), extinction });
                        }
                    }
                });
            }
        }
        if !twin.barriers.is_empty() {
            ui.separator();
            ui.label("barriers and obstacles:");
            for barrier in &twin.barriers {
                let (label, order) = if barrier.placed {
                    (format!("[placed] {}: remove", barrier.name), NamedCommand::RemoveBarrier(barrier.name.clone()))
                } else {
                    (format!("[away] {}: place", barrier.name), NamedCommand::PlaceBarrier(barrier.name.clone()))
                };
                if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                    orders.push(order);
                }
            }
        }
        if !twin.hazards.is_empty() {
            ui.separator();
            ui.label("hazards (spreading, e.g. a gas leak):");
            for hazard in &twin.hazards {
                let (label, order) = if hazard.active {
                    (
                        format!("[r = {:.1} m] {}: end", hazard.radius, hazard.name),
                        NamedCommand::EndHazard(hazard.name.clone()),
                    )
                } else {
                    (format!("[idle] {}: start", hazard.name), NamedCommand::StartHazard(hazard.name.clone()))
                };
                if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                    orders.push(order);
                }
            }
        }
        if !twin.streets.is_empty() {
            ui.separator();
            ui.label("streets (road closure):");
            for street in &twin.streets {
                let (label, order) = if street.closed {
                    (format!("[closed] {}: open to vehicles", street.name), NamedCommand::OpenStreet(street.name.clone()))
                } else {
                    (format!("[open] {}: close to vehicles", street.name), NamedCommand::CloseStreet(street.name.clone()))
                };
                if ui.add_enabled(!finished, egui::Button::new(label)).clicked() {
                    orders.push(order);
                }
            }
        }
        if !twin.stairs.is_empty() {
            ui.separator();
            ui.label("stairs (one-way circulation):");
            for stair in &twin.stairs {
                use crate::scene::StairDirection as Way;
                let now: Way = stair.direction.into();
                ui.horizontal(|ui| {
                    ui.label(format!("{}:", stair.name));
                    for (label, way) in [("up only", Way::UpOnly), ("down only", Way::DownOnly), ("both", Way::Both)] {
                        if ui.add_enabled(!finished && now != way, egui::Button::new(label)).clicked() {
                            orders.push(NamedCommand::StairDirection { stair: stair.name.clone(), direction: way });
                        }
                    }
                });
            }
        }
        if let Some(folder) = rehearsal.folder.as_mut() {
            for order in &orders {
                if let Err(e) = crate::command::issue(folder.run().world_mut(), order) {
                    rehearsal.message = Some(format!("refused: {e}"));
                }
            }
        }
        ui.separator();
        if let Some(folder) = rehearsal.folder.as_mut()
            && ui.button("save rehearsal (ends it)").clicked()
        {
            folder.end_here();
            let folder = rehearsal.folder.take().expect("checked above");
            rehearsal.message = Some(match folder.commit(&rehearsal.twin) {
                Ok(result) => format!(
                    "saved {} (replay: unitwin run SCENE --commands {}/commands.ron --until {:.2})",
                    result.out_dir.display(),
                    result.out_dir.display(),
                    result.summary.simulated_time
                ),
                Err(e) => format!("not saved: {e}"),
            });
        }
        if let Some(message) = &rehearsal.message {
            ui.label(message);
        }
        ui.small(
            "Space pause, N step, +/- speed, M max, C colours, H heatmap, L labels, O/T/V views, PgUp/PgDn floors, arrows orbit, WASD pan, Q/E zoom, F12 picture",
        );
    });
    on_panel.0 = ctx.is_pointer_over_egui() || ctx.egui_wants_pointer_input();
    Ok(())
}
