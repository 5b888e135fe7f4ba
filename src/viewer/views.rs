//! The window's choice of view and of the floors shown: V and Shift+V step through the unit's named
//! views (overview, top, each entrance, exit and stair), PageDown and PageUp cut floors away.

use bevy::prelude::*;
use bevy_egui::egui;
use bevy_panorbit_camera::PanOrbitCamera;

use super::camera::{LEVEL_GAP, ViewCamera, ViewName};
use super::scene::{Heatmap, LevelCut};
use crate::draw::DrawTwin;

/// The view shown last and one asked for (by a key or the panel), applied by [`apply_view_choice`].
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewChoice {
    pub current: ViewName,
    pub requested: Option<ViewName>,
}

impl Default for ViewChoice {
    fn default() -> Self {
        ViewChoice { current: ViewName::Overview, requested: None }
    }
}

/// The floors of `twin` from the lowest up: each elevation with the names of its levels (levels
/// within [`LEVEL_GAP`] of each other are one floor).
pub fn floors(twin: &DrawTwin) -> Vec<(f64, String)> {
    let mut levels: Vec<(f64, &str)> = twin.levels.iter().map(|l| (l.elevation, l.name.as_str())).collect();
    levels.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    let mut floors: Vec<(f64, String)> = Vec::new();
    for (z, name) in levels {
        match floors.last_mut() {
            Some((top, names)) if z <= *top + LEVEL_GAP => {
                names.push_str(", ");
                names.push_str(name);
            }
            _ => floors.push((z, name.to_string())),
        }
    }
    floors
}

/// The cut one floor lower (`down`) or higher than `cut`; up to the top floor nothing is cut.
pub fn step_cut(twin: &DrawTwin, cut: Option<f64>, down: bool) -> Option<f64> {
    let floors = floors(twin);
    let Some(top) = floors.len().checked_sub(1) else { return None };
    let index = match cut {
        None => top,
        Some(c) => floors.iter().rposition(|(z, _)| *z <= c + LEVEL_GAP).unwrap_or(0),
    };
    let index = if down { index.saturating_sub(1) } else { (index + 1).min(top) };
    (index < top).then(|| floors[index].0)
}

/// V next view, Shift+V previous, O overview, T top; PageDown one floor fewer, PageUp one more;
/// H the heatmap.
pub(super) fn view_choice_keys(
    keys: Res<ButtonInput<KeyCode>>,
    twin: Res<DrawTwin>,
    mut choice: ResMut<ViewChoice>,
    mut cut: ResMut<LevelCut>,
    mut heatmap: ResMut<Heatmap>,
) {
    if keys.just_pressed(KeyCode::KeyH) {
        heatmap.0 = !heatmap.0;
    }
    if keys.just_pressed(KeyCode::KeyO) {
        choice.requested = Some(ViewName::Overview);
    }
    if keys.just_pressed(KeyCode::KeyT) {
        choice.requested = Some(ViewName::Top);
    }
    if keys.just_pressed(KeyCode::KeyV) {
        let all = ViewName::all(&twin);
        let at = all.iter().position(|v| *v == choice.current).unwrap_or(0);
        let back = keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight);
        let next = if back { (at + all.len() - 1) % all.len() } else { (at + 1) % all.len() };
        choice.requested = Some(all[next]);
    }
    if keys.just_pressed(KeyCode::PageDown) {
        cut.0 = step_cut(&twin, cut.0, true);
    }
    if keys.just_pressed(KeyCode::PageUp) {
        cut.0 = step_cut(&twin, cut.0, false);
    }
}

/// Moves the orbit camera to the view asked for and cuts away the floors that would hide it.
pub(super) fn apply_view_choice(
    twin: Res<DrawTwin>,
    mut choice: ResMut<ViewChoice>,
    mut cut: ResMut<LevelCut>,
    mut cameras: Query<&mut PanOrbitCamera>,
) {
    let Some(view) = choice.requested.take() else { return };
    choice.current = view;
    cut.set_if_neq(LevelCut(view.cut(&twin)));
    let Ok(mut camera) = cameras.single_mut() else { return };
    let mut orbit = orbit_of(&ViewCamera::named(view, &twin, (1600, 1000)));
    if view == ViewName::Top {
        // Straight down, north up: the orbit camera's pitch stops just short of the vertical.
        orbit.pitch = Some(std::f32::consts::FRAC_PI_2 - 1e-3);
        orbit.yaw = Some(0.0);
        let [lo, hi] = [twin.min, twin.max];
        let extent = ((hi[0] - lo[0]).max(hi[1] - lo[1]) as f32).max(10.0);
        orbit.radius = Some(extent * 1.3);
    }
    camera.target_focus = orbit.focus;
    camera.target_yaw = orbit.yaw.unwrap_or(0.0);
    camera.target_pitch = orbit.pitch.unwrap_or(0.5);
    camera.target_radius = orbit.radius.unwrap_or(100.0);
}

/// The orbit camera's angles and distance looking from `eye` at `focus` (its convention: yaw about
/// the vertical, pitch above the horizon).
pub(super) fn orbit_of(camera: &ViewCamera) -> PanOrbitCamera {
    let offset = camera.eye - camera.target;
    let radius = offset.length().max(1.0);
    let d = offset / radius;
    PanOrbitCamera {
        focus: camera.target,
        radius: Some(radius),
        yaw: Some(d.x.atan2(d.z)),
        pitch: Some(d.y.clamp(-1.0, 1.0).asin()),
        zoom_lower_limit: 2.0,
        ..default()
    }
}

/// The panel's view and floor pickers and the heatmap's switch.
pub fn view_pickers(
    ui: &mut egui::Ui,
    twin: &DrawTwin,
    choice: &mut ViewChoice,
    cut: &mut LevelCut,
    heatmap: &mut Heatmap,
) {
    ui.checkbox(&mut heatmap.0, "density heatmap (H), densest person ringed");
    ui.horizontal(|ui| {
        ui.label("view (V):");
        egui::ComboBox::from_id_salt("view").selected_text(choice.current.describe(twin)).show_ui(ui, |ui| {
            for view in ViewName::all(twin) {
                if ui.selectable_label(view == choice.current, view.describe(twin)).clicked() {
                    choice.requested = Some(view);
                }
            }
        });
    });
    let floors = floors(twin);
    if floors.len() < 2 {
        return;
    }
    ui.horizontal(|ui| {
        ui.label("floors (PgUp/PgDn):");
        let shown = match cut.0 {
            None => "all".to_string(),
            Some(c) => floors
                .iter()
                .rfind(|(z, _)| *z <= c + LEVEL_GAP)
                .map_or_else(|| "all".into(), |(_, names)| format!("up to {names}")),
        };
        egui::ComboBox::from_id_salt("floors").selected_text(shown).show_ui(ui, |ui| {
            if ui.selectable_label(cut.0.is_none(), "all").clicked() {
                cut.0 = None;
            }
            for (z, names) in floors.iter().rev() {
                let selected = cut.0.is_some_and(|c| (c - z).abs() <= LEVEL_GAP);
                if ui.selectable_label(selected, format!("up to {names} ({z:.1} m)")).clicked() {
                    cut.0 = Some(*z);
                }
            }
        });
    });
}
