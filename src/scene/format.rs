//! The scene file format (`scenes/*.ron`, version 1): plain serde types, no behaviour.
//! Every object carries an `id` so that diagnostics and outputs can name it.

use serde::{Deserialize, Serialize};

/// A point in local metres: `(x, y)`, x east, y north of the unit's origin.
pub type Point = [f64; 2];

/// The only scene format version this build reads.
pub const SCENE_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    pub version: u32,
    pub unit: Unit,
    pub run: RunSettings,
    pub levels: Vec<Level>,
    #[serde(default)]
    pub obstacles: Vec<Obstacle>,
    #[serde(default)]
    pub buildings: Vec<Building>,
    #[serde(default)]
    pub doors: Vec<Door>,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    pub populations: Vec<Population>,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default)]
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub name: String,
    pub kind: UnitKind,
    pub origin: LatLon,
    /// Where the figures come from, and which dimensions are estimated.
    #[serde(default)]
    pub sources: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitKind {
    Building,
    ScenicArea,
    ResidentialCompound,
    StreetShops,
    Neighbourhood,
    Plaza,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Fixed simulation step in seconds.
    #[serde(default = "default_step")]
    pub step: f64,
    /// Longest simulated time in seconds; the run ends earlier once everyone has left.
    pub duration: f64,
    pub seed: u64,
    /// Seconds between trajectory frames; a whole multiple of `step`.
    #[serde(default = "default_output_interval")]
    pub output_interval: f64,
    /// Edge of a navigation grid cell in metres.
    #[serde(default = "default_nav_cell")]
    pub nav_cell: f64,
}

fn default_step() -> f64 {
    0.05
}
fn default_output_interval() -> f64 {
    0.5
}
fn default_nav_cell() -> f64 {
    0.25
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub id: String,
    #[serde(default)]
    pub elevation: f64,
    /// Walkable areas; where they overlap or touch they join into one space.
    pub walkable: Vec<Area>,
    /// Interior walls (zero-thickness polylines), e.g. partitions between rooms.
    #[serde(default)]
    pub walls: Vec<Wall>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub id: String,
    pub outer: Vec<Point>,
    #[serde(default)]
    pub holes: Vec<Vec<Point>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wall {
    pub id: String,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obstacle {
    pub id: String,
    pub level: String,
    pub footprint: Vec<Point>,
    #[serde(default = "default_obstacle_height")]
    pub height: f64,
}

fn default_obstacle_height() -> f64 {
    1.0
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Building {
    pub id: String,
    /// The level whose walkable space the footprint blocks (usually the street level).
    pub level: String,
    pub footprint: Vec<Point>,
    pub height: f64,
    pub floors: u32,
}

/// An opening in a wall or in the boundary of the walkable space.
/// It is placed by a point on the wall and a width along it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Door {
    pub id: String,
    pub level: String,
    pub at: Point,
    pub width: f64,
    #[serde(default = "yes")]
    pub open: bool,
    /// A door on the outer boundary is an exit unless this is false (an entrance only).
    #[serde(default = "yes")]
    pub exit: bool,
}

fn yes() -> bool {
    true
}

/// A place agents walk to and stay for a while before going on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub id: String,
    pub level: String,
    pub area: Vec<Point>,
    #[serde(default)]
    pub dwell: Distribution,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub id: String,
    pub level: String,
    pub placement: Placement,
    #[serde(default = "default_speed")]
    pub speed: Distribution,
    #[serde(default)]
    pub premovement: Distribution,
    #[serde(default)]
    pub goal: Goal,
    /// Body radius in metres.
    #[serde(default = "default_radius")]
    pub radius: f64,
}

/// Weidmann (1993): free walking speed 1.34 m/s, standard deviation 0.26 m/s.
fn default_speed() -> Distribution {
    Distribution::Normal { mean: 1.34, sd: 0.26, min: 0.5, max: 2.0 }
}

fn default_radius() -> f64 {
    0.2
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Placement {
    /// `count` agents placed at random, without overlap, inside the polygon.
    Area { polygon: Vec<Point>, count: u32 },
    /// Agents arrive through a boundary door; `rates` lists `(from_time_s, persons_per_hour)`
    /// steps. Arrivals stop after `total` agents when it is given.
    Arrivals {
        door: String,
        rates: Vec<(f64, f64)>,
        #[serde(default)]
        total: Option<u32>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Goal {
    /// The exit with the shortest walking distance.
    #[default]
    NearestExit,
    /// The nearest of the listed exit doors.
    Exits(Vec<String>),
    /// Visit the destinations in order, then leave by the nearest exit.
    Route(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    Constant(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    /// Truncated to `[min, max]` by redrawing.
    Normal {
        mean: f64,
        sd: f64,
        min: f64,
        max: f64,
    },
    /// `ln X ~ N(mu, sigma)`, truncated to `[min, max]` by redrawing.
    LogNormal {
        mu: f64,
        sigma: f64,
        min: f64,
        max: f64,
    },
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Constant(0.0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Measurement {
    /// Counts crossings of a line (both directions).
    Line { id: String, level: String, from: Point, to: Point },
    /// Records the density inside a polygon.
    Area { id: String, level: String, polygon: Vec<Point> },
}

impl Measurement {
    pub fn id(&self) -> &str {
        match self {
            Measurement::Line { id, .. } | Measurement::Area { id, .. } => id,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    /// Simulated time in seconds.
    pub at: f64,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    CloseDoor(String),
    OpenDoor(String),
}
