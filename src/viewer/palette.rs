//! The viewer's colours: one fixed sRGB colour per kind of object, and the agent colour scales (speed,
//! Fruin's Level of Service). Tests check rendered pixels against these same constants.

use crate::draw::{DrawAgent, DrawBuilding};
use crate::space::BuildingUse;

/// An sRGB colour, 8 bits per channel: what an unlit surface shows on screen and in a PNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// The colour as Bevy's sRGB colour.
    pub fn color(self) -> bevy::color::Color {
        bevy::color::Color::srgb_u8(self.0, self.1, self.2)
    }

    /// Packed as `r | g << 8 | b << 16`, the agents' `MeshTag` (unpacked by `agents.wgsl`).
    pub fn packed(self) -> u32 {
        self.0 as u32 | (self.1 as u32) << 8 | (self.2 as u32) << 16
    }

    /// This colour darkened to `factor` (0–1) in sRGB space: the baked shading of walls.
    pub fn shaded(self, factor: f32) -> Rgb {
        let f = |c: u8| (c as f32 * factor).round().clamp(0.0, 255.0) as u8;
        Rgb(f(self.0), f(self.1), f(self.2))
    }

    /// Largest difference of one channel to `other`.
    pub fn distance(self, other: Rgb) -> u8 {
        let d = |a: u8, b: u8| a.abs_diff(b);
        d(self.0, other.0).max(d(self.1, other.1)).max(d(self.2, other.2))
    }

    fn lerp(self, other: Rgb, t: f32) -> Rgb {
        let l = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
        Rgb(l(self.0, other.0), l(self.1, other.1), l(self.2, other.2))
    }
}

/// The sky behind the scene.
pub const BACKGROUND: Rgb = Rgb(196, 212, 228);
/// Ground around and under the unit (not walkable in the twin).
pub const GROUND: Rgb = Rgb(150, 168, 132);
/// Walkable floor.
pub const WALKABLE: Rgb = Rgb(228, 222, 206);
/// Walkable floor of upper levels, a shade apart so floors read as floors.
pub const WALKABLE_UPPER: Rgb = Rgb(214, 214, 224);
pub const CARRIAGEWAY: Rgb = Rgb(74, 78, 84);
pub const SIDEWALK: Rgb = Rgb(198, 194, 186);
pub const CROSSING: Rgb = Rgb(236, 236, 230);
pub const LANE_MARKING: Rgb = Rgb(244, 244, 244);
pub const WALL: Rgb = Rgb(112, 104, 98);
pub const OBSTACLE: Rgb = Rgb(132, 124, 116);
pub const STAIR: Rgb = Rgb(176, 170, 160);
pub const DOOR_OPEN: Rgb = Rgb(20, 170, 90);
pub const DOOR_CLOSED: Rgb = Rgb(220, 30, 40);
/// The outline of a zone people may enter.
pub const ZONE: Rgb = Rgb(232, 176, 20);
/// A blocked zone's fill.
pub const ZONE_BLOCKED: Rgb = Rgb(186, 64, 170);
/// A smoky zone's fill.
pub const ZONE_SMOKE: Rgb = Rgb(92, 92, 100);
/// Measurement lines and the outlines of measurement areas.
pub const MEASUREMENT: Rgb = Rgb(40, 110, 220);
/// Vehicles by state (moving, braking or standing, parked).
pub const VEHICLE: Rgb = Rgb(60, 90, 200);
pub const VEHICLE_BRAKING: Rgb = Rgb(250, 120, 20);
pub const VEHICLE_PARKED: Rgb = Rgb(110, 110, 130);
/// The north arrow, its "N" and the scale bar's label.
pub const NORTH_ARROW: Rgb = Rgb(28, 30, 36);
/// The scale bar's alternating segments (its frame is the dark one).
pub const SCALE_DARK: Rgb = Rgb(28, 30, 36);
pub const SCALE_LIGHT: Rgb = Rgb(250, 250, 246);

/// Roof colour of a building by its use.
pub fn roof(usage: BuildingUse) -> Rgb {
    match usage {
        BuildingUse::Residence => Rgb(156, 86, 64),
        BuildingUse::Shop => Rgb(190, 136, 72),
        BuildingUse::Office => Rgb(112, 124, 146),
        BuildingUse::Heritage => Rgb(120, 52, 44),
        BuildingUse::Mixed => Rgb(150, 116, 96),
    }
}

/// The roof colour of a drawn building.
pub fn building_roof(building: &DrawBuilding) -> Rgb {
    roof(building.usage)
}

/// Shading of a vertical face by its outward horizontal normal (x east, y north): a fixed light from
/// the south-west and above, baked into the vertex colours so the scene needs no lights (cheap on a
/// software renderer, and the same pixels on every machine). Roofs and floors are not shaded.
pub fn wall_shade(normal: [f32; 2]) -> f32 {
    let light = [-0.6f32, -0.8f32];
    0.72 + 0.2 * (normal[0] * light[0] + normal[1] * light[1])
}

/// How agents are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AgentColouring {
    /// By walking speed: standing red, slow orange, walking yellow to green.
    #[default]
    Speed,
    /// By local density as Fruin's Level of Service A–F (the report's colours).
    Density,
    /// By population, one colour each ([`POPULATIONS`], repeating after the last).
    Population,
}

impl AgentColouring {
    pub const ALL: [AgentColouring; 3] = [AgentColouring::Speed, AgentColouring::Density, AgentColouring::Population];

    /// The name the panel shows.
    pub fn name(self) -> &'static str {
        match self {
            AgentColouring::Speed => "speed",
            AgentColouring::Density => "density (LoS)",
            AgentColouring::Population => "population",
        }
    }

    /// The next colouring (the C key).
    pub fn next(self) -> AgentColouring {
        let i = AgentColouring::ALL.iter().position(|&c| c == self).unwrap_or(0);
        AgentColouring::ALL[(i + 1) % AgentColouring::ALL.len()]
    }
}

/// The speed scale's stops, m/s.
pub const SPEED_STOPS: [(f32, Rgb); 4] =
    [(0.0, Rgb(214, 20, 60)), (0.5, Rgb(255, 140, 0)), (1.0, Rgb(255, 224, 0)), (1.5, Rgb(20, 200, 120))];

/// The colour of a speed (m/s) on the speed scale.
pub fn speed_colour(speed: f32) -> Rgb {
    let speed = if speed.is_finite() { speed.max(0.0) } else { 0.0 };
    for pair in SPEED_STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (pair[0], pair[1]);
        if speed <= b {
            return ca.lerp(cb, (speed - a) / (b - a));
        }
    }
    SPEED_STOPS[SPEED_STOPS.len() - 1].1
}

/// The marker on the densest person now: a magenta no scale of the viewer uses.
pub const PEAK: Rgb = Rgb(200, 0, 200);

/// The compared run's people (`--compare`), drawn as ghosts: a cyan no scale of the viewer uses.
pub const COMPARE: Rgb = Rgb(0, 230, 255);

/// Fruin's Levels of Service A–F, as the report draws them (`report::charts::LOS_COLOURS`).
pub const LOS: [Rgb; 6] = [
    Rgb(0x1a, 0x98, 0x50),
    Rgb(0x91, 0xcf, 0x60),
    Rgb(0xd9, 0xef, 0x8b),
    Rgb(0xfe, 0xe0, 0x8b),
    Rgb(0xfc, 0x8d, 0x59),
    Rgb(0xd7, 0x30, 0x27),
];

/// The colour of a local density (persons/m²) as its Level of Service.
pub fn density_colour(density: f32) -> Rgb {
    LOS[crate::metrics::cells::fruin_los(density as f64)]
}

/// Population colours, by the population's place in the scene (distinct from the speed and LoS
/// scales' reds and greens where possible).
pub const POPULATIONS: [Rgb; 8] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(148, 103, 189),
    Rgb(23, 190, 207),
    Rgb(227, 119, 194),
    Rgb(140, 86, 75),
    Rgb(188, 189, 34),
    Rgb(44, 160, 44),
];

/// The colour of the population at `index` in the scene.
pub fn population_colour(index: usize) -> Rgb {
    POPULATIONS[index % POPULATIONS.len()]
}

/// An agent's colour under `colouring`.
pub fn agent_colour(agent: &DrawAgent, colouring: AgentColouring) -> Rgb {
    match colouring {
        AgentColouring::Speed => speed_colour((agent.vel[0] * agent.vel[0] + agent.vel[1] * agent.vel[1]).sqrt()),
        AgentColouring::Density => density_colour(agent.density),
        AgentColouring::Population => population_colour(agent.population.index()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speed_scale_runs_through_its_stops() {
        assert_eq!(speed_colour(0.0), SPEED_STOPS[0].1);
        assert_eq!(speed_colour(1.0), SPEED_STOPS[2].1);
        assert_eq!(speed_colour(9.0), SPEED_STOPS[3].1);
        assert_eq!(speed_colour(f32::NAN), SPEED_STOPS[0].1);
        assert_eq!(Rgb(1, 2, 3).packed(), 0x030201);
        assert_eq!(population_colour(POPULATIONS.len() + 1), POPULATIONS[1]);
        assert_eq!(AgentColouring::Population.next(), AgentColouring::Speed);
    }
}
