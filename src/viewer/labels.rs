//! The window's labels: the scene's names of its doors, stairs, zones and measurement lines and areas,
//! written over the 3D scene where each stands, in the panel's fonts (Chinese included). L toggles them.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

use super::geometry::below_cut;
use super::palette::{self, Rgb};
use super::scene::{Frame, LevelCut};
use crate::draw::{DrawDoorKind, DrawMeasurement, DrawTwin, WorldPoint};

/// Height above its floor a label is pinned at, m: above the heads of the crowd.
const LABEL_HEIGHT: f64 = 2.4;

/// Whether the labels are shown (on at the start).
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Labels(pub bool);

impl Default for Labels {
    fn default() -> Self {
        Labels(true)
    }
}

/// One label: its text, where it is pinned (world coordinates) and the colour of what it names.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub text: String,
    pub at: WorldPoint,
    pub colour: Rgb,
}

fn centroid(polygon: &[WorldPoint]) -> Option<WorldPoint> {
    let n = polygon.len() as f64;
    (n > 0.0).then(|| {
        let sum = polygon.iter().fold([0.0; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]]);
        [sum[0] / n, sum[1] / n, sum[2] / n]
    })
}

fn lifted(p: WorldPoint) -> WorldPoint {
    [p[0], p[1], p[2] + LABEL_HEIGHT]
}

/// The labels of `twin` below `cut`: every door but a stair's opening (by its state's colour), every
/// stair at the middle of its flight, every zone and measurement area at its centroid and every
/// measurement line at its middle.
pub fn labels(twin: &DrawTwin, cut: Option<f64>) -> Vec<Label> {
    let mut out = Vec::new();
    for door in twin.doors.iter().filter(|d| d.kind != DrawDoorKind::StairOpening) {
        let middle = [(door.a[0] + door.b[0]) / 2.0, (door.a[1] + door.b[1]) / 2.0, door.a[2]];
        let colour = if door.open { palette::DOOR_OPEN } else { palette::DOOR_CLOSED };
        out.push(Label { text: door.name.clone(), at: lifted(middle), colour });
    }
    for stair in &twin.stairs {
        let middle = [(stair.foot[0] + stair.head[0]) / 2.0, (stair.foot[1] + stair.head[1]) / 2.0, stair.foot[2]];
        out.push(Label { text: stair.name.clone(), at: lifted(middle), colour: palette::STAIR });
    }
    for zone in &twin.zones {
        if let Some(c) = centroid(&zone.polygon) {
            let colour = if zone.blocked { palette::ZONE_BLOCKED } else { palette::ZONE };
            out.push(Label { text: zone.name.clone(), at: lifted(c), colour });
        }
    }
    for measurement in &twin.measurements {
        let (name, at) = match measurement {
            DrawMeasurement::Line { name, a, b, .. } => {
                (name, Some([(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0, a[2].min(b[2])]))
            }
            DrawMeasurement::Area { name, polygon, .. } => (name, centroid(polygon)),
        };
        if let Some(at) = at {
            out.push(Label { text: name.clone(), at: lifted(at), colour: palette::MEASUREMENT });
        }
    }
    out.retain(|l| below_cut(l.at[2] - LABEL_HEIGHT, cut));
    out
}

/// The labels worked out for a twin's version and cut, kept until either changes.
type CachedLabels = Option<(u64, Option<f64>, Vec<Label>)>;

/// L toggles the labels.
pub(super) fn labels_key(keys: Res<ButtonInput<KeyCode>>, mut shown: ResMut<Labels>) {
    if keys.just_pressed(KeyCode::KeyL) {
        shown.0 = !shown.0;
    }
}

/// Writes the labels over the scene, behind the panel: each where its point projects through the
/// camera, on a dark plate with a stripe of its object's colour.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_labels(
    mut contexts: EguiContexts,
    shown: Res<Labels>,
    twin: Res<DrawTwin>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    mut cached: Local<CachedLabels>,
    mut plates: Local<Vec<egui::Rect>>,
) -> Result {
    if !shown.0 {
        return Ok(());
    }
    let Ok((camera, transform)) = cameras.single() else { return Ok(()) };
    if cached.as_ref().is_none_or(|(version, c, _)| *version != twin.version || *c != cut.0 || twin.is_changed()) {
        *cached = Some((twin.version, cut.0, labels(&twin, cut.0)));
    }
    let Some((_, _, labels)) = cached.as_ref() else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Background, egui::Id::new("scene labels")));
    let font = egui::FontId::proportional(12.0);
    plates.clear();
    for label in labels {
        let [x, y, z] = frame.0.to_bevy(label.at);
        let Ok(p) = camera.world_to_viewport(transform, Vec3::new(x, y, z)) else { continue };
        let galley = painter.layout_no_wrap(label.text.clone(), font.clone(), egui::Color32::WHITE);
        let size = galley.size();
        let mut top_left = egui::pos2(p.x - size.x / 2.0, p.y - size.y);
        let mut plate = egui::Rect::from_min_size(top_left, size).expand2(egui::vec2(4.0, 1.0));
        // Labels of things close together (a door and its counting line) stack instead of covering
        // each other.
        for _ in 0..8 {
            let Some(below) = plates.iter().find(|p| p.intersects(plate)) else { break };
            let lift = plate.bottom() - below.top() + 1.0;
            plate = plate.translate(egui::vec2(0.0, -lift));
            top_left.y -= lift;
        }
        plates.push(plate);
        painter.rect_filled(plate, 3.0, egui::Color32::from_rgba_unmultiplied(20, 22, 28, 190));
        let stripe = egui::Rect::from_min_max(plate.left_top(), egui::pos2(plate.left() + 3.0, plate.bottom()));
        painter.rect_filled(stripe, 1.0, egui::Color32::from_rgb(label.colour.0, label.colour.1, label.colour.2));
        painter.galley(top_left, galley, egui::Color32::WHITE);
    }
    Ok(())
}
