//! The panel's legend, shared by the live and the replay window: the choice of agent colouring, what
//! the colours mean (speed ramp, Fruin's Levels of Service, populations) and the symbols drawn.

use bevy_egui::egui;

use super::decorations::Decorations;
use super::palette::{self, AgentColouring, Rgb};
use crate::draw::DrawTwin;
use crate::metrics::cells::{LOS_NAMES, los_upper_density};
use crate::space::BuildingUse;

/// Size of a colour swatch, points.
const SWATCH: egui::Vec2 = egui::vec2(22.0, 12.0);
/// Width of the speed ramp, points.
const RAMP_WIDTH: f32 = 220.0;

fn colour32(c: Rgb) -> egui::Color32 {
    egui::Color32::from_rgb(c.0, c.1, c.2)
}

/// How a symbol is drawn in its swatch.
#[derive(Clone, Copy)]
enum Swatch {
    /// A filled box.
    Fill(Rgb),
    /// An outline (zones, measurement areas).
    Outline(Rgb),
    /// A fill with an outline round it (a blocked or smoky zone).
    Framed(Rgb, Rgb),
}

fn swatch(ui: &mut egui::Ui, kind: Swatch) {
    let (rect, _) = ui.allocate_exact_size(SWATCH, egui::Sense::hover());
    let painter = ui.painter();
    let outline = |c: Rgb| {
        painter.rect_stroke(rect.shrink(1.0), 0.0, egui::Stroke::new(2.5, colour32(c)), egui::StrokeKind::Inside)
    };
    match kind {
        Swatch::Fill(c) => {
            painter.rect_filled(rect, 1.0, colour32(c));
        }
        Swatch::Outline(c) => {
            outline(c);
        }
        Swatch::Framed(fill, frame) => {
            painter.rect_filled(rect, 1.0, colour32(fill));
            outline(frame);
        }
    }
}

/// Rows of swatch and label in a grid.
fn rows(ui: &mut egui::Ui, id: &str, items: &[(Swatch, String)]) {
    egui::Grid::new(id).num_columns(2).spacing([8.0, 3.0]).show(ui, |ui| {
        for (kind, label) in items {
            swatch(ui, *kind);
            ui.label(label);
            ui.end_row();
        }
    });
}

/// The speed scale as a ramp with its stops marked in m/s.
fn speed_ramp(ui: &mut egui::Ui) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(RAMP_WIDTH, 30.0), egui::Sense::hover());
    let painter = ui.painter();
    let top = rect.top();
    let bar = egui::Rect::from_min_size(rect.min, egui::vec2(RAMP_WIDTH, 14.0));
    let max = palette::SPEED_STOPS[palette::SPEED_STOPS.len() - 1].0;
    let steps = 88;
    for i in 0..steps {
        let (a, b) = (i as f32 / steps as f32, (i + 1) as f32 / steps as f32);
        let colour = palette::speed_colour(max * (a + b) / 2.0);
        let cell =
            egui::Rect::from_x_y_ranges(bar.left() + a * RAMP_WIDTH..=bar.left() + b * RAMP_WIDTH + 0.5, bar.y_range());
        painter.rect_filled(cell, 0.0, colour32(colour));
    }
    let text = ui.visuals().text_color();
    let font = egui::FontId::proportional(11.0);
    for (k, (speed, _)) in palette::SPEED_STOPS.iter().enumerate() {
        let x = bar.left() + speed / max * RAMP_WIDTH;
        painter.line_segment([egui::pos2(x, top + 12.0), egui::pos2(x, top + 18.0)], egui::Stroke::new(1.0, text));
        let (label, anchor) = match k {
            0 => ("0".to_string(), egui::Align2::LEFT_TOP),
            k if k + 1 == palette::SPEED_STOPS.len() => (format!("≥ {speed} m/s"), egui::Align2::RIGHT_TOP),
            _ => (format!("{speed}"), egui::Align2::CENTER_TOP),
        };
        painter.text(egui::pos2(x, top + 18.0), anchor, label, font.clone(), text);
    }
}

fn use_name(usage: BuildingUse) -> &'static str {
    match usage {
        BuildingUse::Residence => "residence",
        BuildingUse::Shop => "shop",
        BuildingUse::Office => "office",
        BuildingUse::Heritage => "heritage",
        BuildingUse::Mixed => "mixed use",
    }
}

/// The "agents by" choice and, under it, the legend: what the agents' colours mean under the
/// colouring chosen, then each kind of symbol this unit has, as the scene draws it.
pub fn legend(ui: &mut egui::Ui, colouring: &mut AgentColouring, twin: &DrawTwin) {
    ui.horizontal(|ui| {
        ui.label("agents by");
        for c in AgentColouring::ALL {
            ui.selectable_value(colouring, c, c.name());
        }
    });
    egui::CollapsingHeader::new("legend").id_salt("legend").default_open(true).show(ui, |ui| {
        match *colouring {
            AgentColouring::Speed => {
                ui.label("walking speed, m/s (red standing):");
                speed_ramp(ui);
            }
            AgentColouring::Density => {
                ui.label("local density, persons/m², as Fruin's Level of Service:");
                let items: Vec<(Swatch, String)> = (0..LOS_NAMES.len())
                    .map(|los| {
                        let range = match los {
                            0 => format!("≤ {:.2}", los_upper_density(0)),
                            l if l + 1 == LOS_NAMES.len() => format!("> {:.2}", los_upper_density(l - 1)),
                            l => format!("{:.2}–{:.2}", los_upper_density(l - 1), los_upper_density(l)),
                        };
                        (Swatch::Fill(palette::LOS[los]), format!("{}   {range}", LOS_NAMES[los]))
                    })
                    .collect();
                rows(ui, "legend-los", &items);
            }
            AgentColouring::Population => {
                ui.label("population:");
                let items: Vec<(Swatch, String)> = twin
                    .populations
                    .iter()
                    .enumerate()
                    .map(|(i, name)| (Swatch::Fill(palette::population_colour(i)), name.clone()))
                    .collect();
                rows(ui, "legend-populations", &items);
            }
        }
        ui.add_space(4.0);
        ui.label("symbols:");
        rows(ui, "legend-symbols", &symbols(twin));
        let marks = Decorations::of(twin);
        let segment = marks.length / marks.segments as f64;
        ui.label(format!("arrow: north; scale bar {} m, {} segments of {segment} m", marks.length, marks.segments));
    });
}

/// The symbols of `twin`, each as drawn (only kinds the unit has, doors always).
fn symbols(twin: &DrawTwin) -> Vec<(Swatch, String)> {
    let mut items = vec![
        (Swatch::Fill(palette::DOOR_OPEN), "door open".to_string()),
        (Swatch::Fill(palette::DOOR_CLOSED), "door closed".to_string()),
    ];
    let lowest = twin.levels.iter().map(|l| l.elevation).fold(f64::INFINITY, f64::min);
    items.push((Swatch::Fill(palette::WALKABLE), "walkable floor".into()));
    if twin.levels.iter().any(|l| l.elevation > lowest + 0.5) {
        items.push((Swatch::Fill(palette::WALKABLE_UPPER), "upper floors".into()));
    }
    let wall = if twin.barriers.is_empty() { "wall (1 m high)" } else { "wall, placed barrier" };
    items.push((Swatch::Fill(palette::WALL), wall.into()));
    if !twin.obstacles.is_empty() {
        items.push((Swatch::Fill(palette::OBSTACLE), "obstacle".into()));
    }
    if !twin.stairs.is_empty() {
        items.push((Swatch::Fill(palette::STAIR), "stair".into()));
    }
    if !twin.zones.is_empty() {
        items.push((Swatch::Outline(palette::ZONE), "zone".into()));
        items.push((Swatch::Framed(palette::ZONE_BLOCKED, palette::ZONE), "zone blocked".into()));
        items.push((Swatch::Framed(palette::ZONE_SMOKE, palette::ZONE), "zone with smoke".into()));
    }
    if !twin.hazards.is_empty() {
        items.push((Swatch::Fill(palette::ZONE_BLOCKED), "hazard (active)".into()));
    }
    if !twin.measurements.is_empty() {
        items.push((Swatch::Outline(palette::MEASUREMENT), "measurement line or area".into()));
    }
    if !twin.streets.is_empty() {
        items.push((Swatch::Fill(palette::CARRIAGEWAY), "carriageway".into()));
        items.push((Swatch::Fill(palette::SIDEWALK), "sidewalk".into()));
        items.push((Swatch::Fill(palette::CROSSING), "crossing".into()));
        items.push((Swatch::Fill(palette::VEHICLE), "vehicle moving".into()));
        items.push((Swatch::Fill(palette::VEHICLE_BRAKING), "vehicle braking or standing".into()));
        items.push((Swatch::Fill(palette::VEHICLE_PARKED), "vehicle parked".into()));
    }
    let mut uses: Vec<BuildingUse> = Vec::new();
    for b in &twin.buildings {
        if !uses.contains(&b.usage) {
            uses.push(b.usage);
        }
    }
    for usage in uses {
        items.push((Swatch::Fill(palette::roof(usage)), format!("roof: {}", use_name(usage))));
    }
    items
}
