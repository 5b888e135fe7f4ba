//! `unitwin view --replay`: the window playing a recorded run from its files, no simulation: a
//! timeline to scrub, play either way at 0.25–32×, step frames, and jump to the run's commands.

use std::time::Instant;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::ViewerError;
use super::compare::{CompareAgents, Comparison, RunCounts, compare_section, follow_comparison};
use super::palette::COMPARE;
use super::recording::Recording;
use super::scene::{Colouring, Heatmap, LevelCut};
use super::views::{ViewChoice, view_pickers};
use super::window::{PointerOnPanel, require_display, speed_name, view_keys, window_app};
use crate::command::Origin;
use crate::draw::{DrawAgents, DrawDoorKind, DrawTraffic, DrawTwin};

/// Replay speeds, × real time; each plays forward or backward.
pub const REPLAY_SPEEDS: [f64; 8] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

/// The replay's clock and what it shows.
#[derive(Resource)]
pub struct Player {
    pub recording: Recording,
    /// The time asked for, s (between 0 and the recording's end).
    pub t: f64,
    pub playing: bool,
    pub backward: bool,
    /// Index into [`REPLAY_SPEEDS`].
    pub speed: usize,
    /// The frame and twin state in the draw data now (`None`: not drawn yet).
    shown: Option<(usize, usize)>,
    /// Wall time of the latest seek, ms.
    pub seek_ms: f64,
    /// People come and gone by each frame, for the comparison's figures.
    counts: RunCounts,
}

impl Player {
    pub fn new(recording: Recording) -> Player {
        let counts = RunCounts::of(&recording.index);
        Player { recording, t: 0.0, playing: false, backward: false, speed: 2, shown: None, seek_ms: 0.0, counts }
    }

    /// Moves to frame `k` (clamped) and pauses.
    fn step_to(&mut self, k: isize) {
        let last = self.recording.index.frames().saturating_sub(1) as isize;
        self.t = self.recording.index.time(k.clamp(0, last) as usize);
        self.playing = false;
    }

    /// The frame shown now.
    fn frame(&self) -> usize {
        self.recording.index.frame_at(self.t)
    }
}

/// Opens the window on a recording and plays it until the window is closed, with `compare` (a
/// recorded run of the same unit) drawn as ghosts at the same time. Writes nothing.
pub fn view_replay(recording: Recording, compare: Option<&std::path::Path>) -> Result<(), ViewerError> {
    require_display()?;
    let mut player = Player::new(recording);
    let snapshot = player.recording.snapshot_at(0.0);
    player.shown = Some((0, player.recording.state_at(0.0)));
    let comparison = compare.map(|f| Comparison::open(f, &snapshot.twin)).transpose()?;
    let title = format!("unitwin replay — {} ({})", snapshot.twin.name, player.recording.folder.display());
    let mut app = window_app(title, snapshot)?;
    if let Some(comparison) = comparison {
        app.insert_resource(comparison);
    }
    app.insert_resource(player)
        .add_systems(Update, (replay_keys, advance_replay, follow_comparison).chain().before(view_keys))
        .add_systems(EguiPrimaryContextPass, replay_panel);
    app.run();
    Ok(())
}

/// Keys: Space play/pause, R reverse, comma/period one frame back/forward, +/- speed, Home/End.
fn replay_keys(keys: Res<ButtonInput<KeyCode>>, mut player: ResMut<Player>) {
    if keys.just_pressed(KeyCode::Space) {
        player.playing = !player.playing;
    }
    if keys.just_pressed(KeyCode::KeyR) {
        player.backward = !player.backward;
    }
    let frame = player.frame() as isize;
    if keys.just_pressed(KeyCode::Comma) {
        player.step_to(frame - 1);
    }
    if keys.just_pressed(KeyCode::Period) {
        player.step_to(frame + 1);
    }
    if keys.just_pressed(KeyCode::Home) {
        player.step_to(0);
    }
    if keys.just_pressed(KeyCode::End) {
        player.step_to(isize::MAX);
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        player.speed = (player.speed + 1).min(REPLAY_SPEEDS.len() - 1);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        player.speed = player.speed.saturating_sub(1);
    }
}

/// Advances the replay's clock and, when the frame or the twin's state changes, puts the recorded
/// frame into the draw data (the same resources the live run fills, drawn by the same systems).
fn advance_replay(
    mut player: ResMut<Player>,
    clock: Res<Time<Real>>,
    mut twin: ResMut<DrawTwin>,
    mut agents: ResMut<DrawAgents>,
    mut traffic: ResMut<DrawTraffic>,
) {
    let player = &mut *player;
    let end = player.recording.end_time();
    if player.playing {
        // A long frame (a software renderer) moves the clock at most a second of wall time.
        let wall = clock.delta_secs_f64().min(1.0);
        let direction = if player.backward { -1.0 } else { 1.0 };
        player.t += wall * REPLAY_SPEEDS[player.speed] * direction;
        if player.t <= 0.0 || player.t >= end {
            player.playing = false;
        }
    }
    player.t = player.t.clamp(0.0, end.max(0.0));
    let wanted = (player.frame(), player.recording.state_at(player.t));
    if player.shown == Some(wanted) {
        return;
    }
    let started = Instant::now();
    if player.shown.is_none_or(|(frame, _)| frame != wanted.0) {
        player.recording.fill_agents(wanted.0, &mut agents);
        if player.recording.vehicles.is_some() {
            player.recording.fill_vehicles(wanted.0, &mut traffic);
        }
    }
    if player.shown.is_none_or(|(_, state)| state != wanted.1) {
        // Rebuilding the unit's mesh is the draw systems' work; here only the state is swapped.
        *twin = player.recording.states[wanted.1].1.clone();
    }
    player.seek_ms = started.elapsed().as_secs_f64() * 1e3;
    player.shown = Some(wanted);
}

/// Colour of an event's mark on the timeline, by where the command came from.
fn origin_colour(origin: Origin) -> egui::Color32 {
    match origin {
        Origin::Scene => egui::Color32::from_rgb(60, 120, 220),
        Origin::Live => egui::Color32::from_rgb(220, 40, 40),
        Origin::Playbook => egui::Color32::from_rgb(200, 120, 0),
        Origin::Measure => egui::Color32::from_rgb(120, 120, 120),
        Origin::Incident => egui::Color32::from_rgb(170, 40, 170),
    }
}

fn replay_panel(
    mut contexts: EguiContexts,
    mut player: ResMut<Player>,
    mut colouring: ResMut<Colouring>,
    mut on_panel: ResMut<PointerOnPanel>,
    twin: Res<DrawTwin>,
    agents: Res<DrawAgents>,
    traffic: Res<DrawTraffic>,
    mut choice: ResMut<ViewChoice>,
    mut cut: ResMut<LevelCut>,
    mut heatmap: ResMut<Heatmap>,
    (comparison, ghosts): (Option<Res<Comparison>>, Res<CompareAgents>),
    mut labels: ResMut<super::labels::Labels>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let player = &mut *player;
    let end = player.recording.end_time();
    egui::Window::new("replay").default_pos([12.0, 12.0]).default_width(340.0).show(
        ctx,
        |ui| {
            ui.label(egui::RichText::new(&twin.name).strong());
            ui.heading(format!("t = {:.1} s of {:.1} s", agents.t, end));
            ui.label(format!("{}", player.recording.folder.display()));
            // The timeline: the slider scrubs; the run's commands are marked under it.
            let mut t = player.t;
            // The whole panel's width: a long rail scrubs finely and leaves room for the marks.
            ui.spacing_mut().slider_width = ui.available_width();
            let slider = ui
                .add(egui::Slider::new(&mut t, 0.0..=end.max(1e-3)).show_value(false).step_by(0.0).trailing_fill(true));
            if slider.changed() {
                player.t = t;
                player.playing = false;
            }
            let rail = slider.rect;
            let painter = ui.painter();
            for event in &player.recording.events {
                let x = rail.left() + (event.t / end.max(1e-9)).clamp(0.0, 1.0) as f32 * rail.width();
                painter.line_segment(
                    [egui::pos2(x, rail.bottom() - 2.0), egui::pos2(x, rail.bottom() + 5.0)],
                    egui::Stroke::new(2.0, origin_colour(event.origin)),
                );
            }
            // The compared run's commands, in its colour, in a row of their own under this run's.
            if let Some(comparison) = &comparison {
                let colour = egui::Color32::from_rgb(COMPARE.0, COMPARE.1, COMPARE.2);
                for event in &comparison.recording.events {
                    let x = rail.left() + (event.t / end.max(1e-9)).clamp(0.0, 1.0) as f32 * rail.width();
                    painter.line_segment(
                        [egui::pos2(x, rail.bottom() + 7.0), egui::pos2(x, rail.bottom() + 12.0)],
                        egui::Stroke::new(2.0, colour),
                    );
                }
            }
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                let frame = player.frame() as isize;
                if ui.button("|<").on_hover_text("start").clicked() {
                    player.step_to(0);
                }
                if ui.button("< frame").clicked() {
                    player.step_to(frame - 1);
                }
                if ui.button(if player.playing && player.backward { "pause" } else { "◀ back" }).clicked() {
                    player.playing = !(player.playing && player.backward);
                    player.backward = true;
                }
                if ui.button(if player.playing && !player.backward { "pause" } else { "play ▶" }).clicked() {
                    player.playing = !(player.playing && !player.backward);
                    player.backward = false;
                }
                if ui.button("frame >").clicked() {
                    player.step_to(frame + 1);
                }
                if ui.button(">|").on_hover_text("end").clicked() {
                    player.step_to(isize::MAX);
                }
            });
            ui.horizontal_wrapped(|ui| {
                for (i, speed) in REPLAY_SPEEDS.iter().enumerate() {
                    ui.selectable_value(&mut player.speed, i, speed_name(Some(*speed)));
                }
            });
            ui.label(format!(
                "frame {} of {} ({} s apart); {} agents, {} vehicles; last seek {:.2} ms",
                player.frame(),
                player.recording.index.frames(),
                player.recording.index.interval,
                agents.agents.len(),
                traffic.vehicles.len(),
                player.seek_ms
            ));
            if let Some(comparison) = &comparison {
                let here = player.counts.at(&player.recording.index, player.frame());
                compare_section(ui, here, &agents, comparison, &ghosts);
            }
            view_pickers(ui, &twin, &mut choice, &mut cut, &mut heatmap);
            ui.checkbox(&mut labels.0, "labels (L): doors, stairs, zones, measurements");
            super::legend::legend(ui, &mut colouring.0, &twin);
            ui.separator();
            ui.label(format!("commands applied ({}; click to jump):", player.recording.events.len()));
            let mut jump = None;
            egui::ScrollArea::vertical().id_salt("events").max_height(220.0).show(ui, |ui| {
                for (i, event) in player.recording.events.iter().enumerate() {
                    let text = egui::RichText::new(format!("{:>8.1} s  {:?}  {}", event.t, event.origin, event.text))
                        .color(origin_colour(event.origin));
                    if ui.add(egui::Button::new(text).frame(false)).clicked() {
                        jump = Some(i);
                    }
                }
            });
            if let Some(i) = jump {
                player.t = player.recording.events[i].t;
                player.playing = false;
            }
            ui.separator();
            ui.label("doors at this time:");
            egui::ScrollArea::vertical().id_salt("doors").max_height(160.0).show(ui, |ui| {
                for door in twin.doors.iter().filter(|d| d.kind != DrawDoorKind::StairOpening) {
                    ui.label(format!("[{}] {}", if door.open { "open" } else { "closed" }, door.name));
                }
            });
            ui.small(
                "Space play/pause, R reverse, , . one frame, +/- speed, Home/End, C colours, H heatmap, L labels, O/T/V views, PgUp/PgDn floors, arrows \
                 orbit, WASD pan, Q/E zoom, F12 picture",
            );
        },
    );
    on_panel.0 = ctx.is_pointer_over_egui() || ctx.egui_wants_pointer_input();
    Ok(())
}
