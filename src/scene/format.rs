//! The scene file format (`scenes/*.ron`, version 1): plain serde types, no behaviour.
//! Every object carries an `id` so that diagnostics and outputs can name it; unknown fields are refused everywhere.

use serde::{Deserialize, Serialize};

/// A point in local metres: `(x, y)`, x east, y north of the unit's origin.
pub use crate::geom::Point;

/// The only scene format version this build reads.
pub const SCENE_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    pub version: u32,
    pub unit: Unit,
    pub run: RunSettings,
    /// The operational pedestrian model (default: the collision-free speed model).
    #[serde(default)]
    pub model: PedestrianModel,
    /// How floor fields follow the crowd (default: fixed shortest paths).
    #[serde(default)]
    pub routing: Routing,
    pub levels: Vec<Level>,
    /// Stairs joining levels.
    #[serde(default)]
    pub stairs: Vec<Stair>,
    /// Streets: carriageways (not walkable), sidewalks and crossings (walkable), kerbs between.
    #[serde(default)]
    pub streets: Vec<Street>,
    /// Where street ends meet (vehicles turn there).
    #[serde(default)]
    pub junctions: Vec<super::traffic::Junction>,
    /// Fixed-time traffic signals.
    #[serde(default)]
    pub signals: Vec<super::traffic::Signal>,
    /// Vehicle flows, parked vehicles and rules at crossings.
    #[serde(default)]
    pub traffic: super::traffic::Traffic,
    #[serde(default)]
    pub obstacles: Vec<Obstacle>,
    #[serde(default)]
    pub buildings: Vec<Building>,
    #[serde(default)]
    pub doors: Vec<Door>,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// Named areas that events can block (smoke, a cordon) and unblock.
    #[serde(default)]
    pub zones: Vec<Zone>,
    pub populations: Vec<Population>,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default)]
    pub events: Vec<TimedEvent>,
    /// Lines where arriving people can be held and released in waves (波次放行) or kept back (a
    /// cordon), by commands.
    #[serde(default)]
    pub hold_lines: Vec<HoldLine>,
    /// Measures that start and stop themselves when an area's density or warning level says so.
    #[serde(default)]
    pub playbooks: Vec<Playbook>,
    /// Barriers, cordons and obstacles that appear during an incident (a fallen person, a crashed
    /// vehicle): walls placed and removed by commands.
    #[serde(default)]
    pub barriers: Vec<Barrier>,
    /// Hazards that spread from a point once started (a gas leak): nobody enters them, whoever is
    /// inside leaves.
    #[serde(default)]
    pub hazards: Vec<Hazard>,
}

/// A hazard zone that grows: a disc of `radius` m round `at` when started, growing by `growth` m/s
/// up to `max_radius` m (a gas leak's evacuation radius widening).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hazard {
    pub id: String,
    pub level: String,
    pub at: Point,
    pub radius: f64,
    #[serde(default)]
    pub growth: f64,
    pub max_radius: f64,
}

/// A wall placed and removed while the twin runs: a barrier line (metal crowd barriers, a police
/// cordon) or, `closed`, the outline of an obstacle (a fallen person, a crashed vehicle).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Barrier {
    pub id: String,
    pub level: String,
    /// The barrier's line, or the obstacle's outline.
    pub line: Vec<Point>,
    /// The last point joins the first: an obstacle nobody walks through.
    #[serde(default)]
    pub closed: bool,
    /// In place from the start.
    #[serde(default)]
    pub placed: bool,
    /// The outline is a person fallen to the ground (`closed` is then required): while placed, the
    /// crowd pressing round it is watched as a local risk (see `metrics::FallenMonitor`).
    #[serde(default)]
    pub fallen: bool,
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
#[serde(deny_unknown_fields)]
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
    /// What the building is used for (default: mixed).
    #[serde(default, rename = "use")]
    pub usage: BuildingUse,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum BuildingUse {
    Shop,
    Office,
    Residence,
    Heritage,
    #[default]
    Mixed,
}

/// A stair between two levels, walked like a narrow corridor at stair speeds. Its ends are
/// openings of `width` at points on the boundaries of the two levels' walkable space.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stair {
    pub id: String,
    /// The lower end.
    pub foot: StairEnd,
    /// The upper end, on a higher level.
    pub head: StairEnd,
    pub width: f64,
    /// Horizontal length of the flights, m (landings included).
    pub run: f64,
    /// Free speed going up, along the stair's horizontal projection, m/s
    /// (default: IMO MSC.1/Circ.1533's 0.8 m/s along the slope, projected).
    #[serde(default)]
    pub speed_up: Option<f64>,
    /// Free speed going down, likewise (default: IMO's 1.0 m/s along the slope, projected).
    #[serde(default)]
    pub speed_down: Option<f64>,
    /// Most persons per metre of width per second stepping on going up (IMO: 0.88).
    #[serde(default = "imo_flow_up")]
    pub flow_up: f64,
    /// Likewise going down (IMO: 1.1).
    #[serde(default = "imo_flow_down")]
    pub flow_down: f64,
    /// Which ways the stair may be used (a one-way measure sets `UpOnly` or `DownOnly`).
    #[serde(default)]
    pub direction: StairDirection,
}

fn imo_flow_up() -> f64 {
    0.88
}
fn imo_flow_down() -> f64 {
    1.1
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StairEnd {
    pub level: String,
    pub at: Point,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum StairDirection {
    #[default]
    Both,
    UpOnly,
    DownOnly,
}

/// A street along a centre line: the carriageway is closed to pedestrians except at crossings;
/// sidewalks on either side are walkable; kerbs are the walls between.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Street {
    pub id: String,
    pub level: String,
    pub centerline: Vec<Point>,
    /// Carriageway width, m.
    pub carriageway: f64,
    /// Sidewalk widths left and right of the centre line (looking along it), m.
    #[serde(default)]
    pub sidewalks: (f64, f64),
    /// Kerb height, m (geometry for the viewer and vehicles).
    #[serde(default = "default_kerb")]
    pub kerb: f64,
    /// Railings along both kerbs: nobody crosses outside the crossings here (see
    /// `traffic.crossing_rules.outside_crossings`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fenced: bool,
    /// Traffic runs only in the direction of the centre line.
    #[serde(default)]
    pub one_way: bool,
    /// Lanes for vehicles in total, non-motorised lanes included.
    #[serde(default = "one_lane")]
    pub lanes: u32,
    /// Speed limit, km/h (vehicles drive at most this fast here).
    #[serde(default = "default_speed_limit")]
    pub speed_limit: f64,
    /// The kerb-side lane of each direction is a non-motorised lane (e-bikes only).
    #[serde(default)]
    pub bike_lanes: bool,
    #[serde(default)]
    pub crossings: Vec<Crossing>,
}

fn default_kerb() -> f64 {
    0.15
}
fn one_lane() -> u32 {
    1
}
/// China's default on urban roads without a centre line (Road Traffic Safety Law Implementing
/// Regulations, art. 45): 30 km/h.
fn default_speed_limit() -> f64 {
    30.0
}

/// A pedestrian crossing over a street's carriageway.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crossing {
    pub id: String,
    /// Distance along the centre line, m.
    pub at: f64,
    pub width: f64,
    /// Controlled by a signal: one signal head must list it. Without, vehicles yield to
    /// pedestrians on or stepping onto it (Road Traffic Safety Law, art. 47).
    #[serde(default)]
    pub signal: bool,
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
    #[serde(default, skip_serializing_if = "WhenFull::is_wait")]
    pub when_full: WhenFull,
    #[serde(default, skip_serializing_if = "Fill::is_anywhere")]
    pub fill: Fill,
}

/// Where in the place a visitor makes for, drawn on setting foot in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fill {
    /// A spot anywhere in it at random: visitors spread along a railing or a viewing strip.
    #[default]
    Anywhere,
    /// The furthest from the entry of a few random spots with room around them: a room walked into
    /// by its door (a shop) fills from the back, so those arriving need not pass those standing.
    FromTheBack,
}

impl Fill {
    fn is_anywhere(&self) -> bool {
        *self == Fill::Anywhere
    }
}

/// What a visitor does who finds the place full: held up just outside it by those standing there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WhenFull {
    /// Stays at the edge for the whole stay and moves in as room opens: a sight people came to see.
    #[default]
    Wait,
    /// Passes the place by and goes on to the next leg: a shop too full to walk into.
    PassBy,
}

impl WhenFull {
    fn is_wait(&self) -> bool {
        *self == WhenFull::Wait
    }
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
    /// How an exit is chosen among the goal's exits.
    #[serde(default)]
    pub exit_choice: ExitChoice,
    /// Body radius in metres (default 0.21).
    #[serde(default = "default_radius")]
    pub radius: f64,
    /// Collision-free speed model: time gap to the person ahead, s. Tordeux et al. (2016) fit 1 s to
    /// single-file data; 0.5 s reproduces Weidmann's planar fundamental diagram within ±20 %.
    #[serde(default = "default_time_gap")]
    pub time_gap: f64,
    /// Social force model: relaxation time τ, s (Helbing, Farkas, Vicsek 2000: 0.5 s).
    #[serde(default = "default_relaxation")]
    pub relaxation: f64,
}

fn default_time_gap() -> f64 {
    0.55
}
fn default_relaxation() -> f64 {
    0.5
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ExitChoice {
    /// The exit with the shortest walk.
    #[default]
    Nearest,
    /// The exit with the earliest expected exit time: the longer of the walk and the time for the
    /// people already heading there to pass it (1.9 persons/s per metre of width); re-decided every second.
    Quickest,
}

/// A named polygon that events can block and unblock. While blocked, nobody enters it and
/// everyone inside leaves it by the nearest way.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub level: String,
    pub polygon: Vec<Point>,
    #[serde(default)]
    pub blocked: bool,
    /// Smoke at the start: its extinction coefficient K, 1/m (0, the default: clear air). People
    /// walk slower in it (Frantzich & Nilsson's relation) and routes weigh that.
    #[serde(default)]
    pub smoke: f64,
}

/// How routes respond to the crowd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Routing {
    /// Shortest paths, fixed until a door or zone changes.
    #[default]
    Static,
    /// Quickest paths: every `interval` seconds the fields are recomputed with walking made slower
    /// where it is crowded, by Weidmann's speed–density relation, so that crowds spread out.
    DensityAware {
        #[serde(default = "default_reroute_interval")]
        interval: f64,
    },
}

fn default_reroute_interval() -> f64 {
    2.0
}

/// The operational model and its constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PedestrianModel {
    /// Tordeux, Chraibi & Seyfried (2016). Defaults are JuPedSim's.
    CollisionFreeSpeed {
        #[serde(default = "cfsm_neighbour_strength")]
        neighbour_strength: f64,
        #[serde(default = "cfsm_neighbour_range")]
        neighbour_range: f64,
        #[serde(default = "cfsm_wall_strength")]
        wall_strength: f64,
        #[serde(default = "cfsm_wall_range")]
        wall_range: f64,
    },
    /// Helbing & Molnár (1995) with the body and friction forces of Helbing, Farkas & Vicsek (2000).
    /// Defaults are the 2000 paper's. Needs `step` ≤ 0.01 s.
    SocialForce {
        /// A, N
        #[serde(default = "sfm_strength")]
        strength: f64,
        /// B, m
        #[serde(default = "sfm_range")]
        range: f64,
        /// k, kg/s²
        #[serde(default = "sfm_body_force")]
        body_force: f64,
        /// κ, kg/(m·s)
        #[serde(default = "sfm_friction")]
        friction: f64,
        /// m, kg
        #[serde(default = "sfm_mass")]
        mass: f64,
    },
}

impl Default for PedestrianModel {
    fn default() -> Self {
        PedestrianModel::CollisionFreeSpeed {
            neighbour_strength: cfsm_neighbour_strength(),
            neighbour_range: cfsm_neighbour_range(),
            wall_strength: cfsm_wall_strength(),
            wall_range: cfsm_wall_range(),
        }
    }
}

fn cfsm_neighbour_strength() -> f64 {
    8.0
}
fn cfsm_neighbour_range() -> f64 {
    0.1
}
fn cfsm_wall_strength() -> f64 {
    5.0
}
fn cfsm_wall_range() -> f64 {
    0.02
}
fn sfm_strength() -> f64 {
    2000.0
}
fn sfm_range() -> f64 {
    0.08
}
fn sfm_body_force() -> f64 {
    1.2e5
}
fn sfm_friction() -> f64 {
    2.4e5
}
fn sfm_mass() -> f64 {
    80.0
}

/// Weidmann (1993): free walking speed 1.34 m/s, standard deviation 0.26 m/s.
fn default_speed() -> Distribution {
    Distribution::Normal { mean: 1.34, sd: 0.26, min: 0.5, max: 2.0 }
}

/// Calibrated with the time gap against Weidmann's fundamental diagram (RiMEA test 4); a 0.42 m
/// shoulder width is within Weidmann's 0.46 m body ellipse.
fn default_radius() -> f64 {
    0.21
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
    /// Walking speeds by age group (RiMEA 3.0 test 7, after Weidmann 1993): each agent's group is
    /// drawn by share, then its speed uniformly within the group's range.
    AgeGroups(Vec<(AgeGroup, f64)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AgeGroup {
    Under30,
    From30To50,
    Over50,
    LimitedMobility,
}

impl AgeGroup {
    /// Free walking speed range in m/s (RiMEA 3.0, table for test 7).
    pub fn speed_range(self) -> (f64, f64) {
        match self {
            AgeGroup::Under30 => (0.58, 1.61),
            AgeGroup::From30To50 => (1.41, 1.54),
            AgeGroup::Over50 => (0.68, 1.41),
            AgeGroup::LimitedMobility => (0.46, 0.76),
        }
    }
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Constant(0.0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Measurement {
    /// Counts crossings of a line (both directions).
    Line { id: String, level: String, from: Point, to: Point },
    /// Records the density inside a polygon. With `area_per_person` (m²), the area has a maximum
    /// instantaneous capacity (its walkable part ÷ the area per person) and warning levels at 80,
    /// 90 and 100 % of it.
    Area {
        id: String,
        level: String,
        polygon: Vec<Point>,
        #[serde(default)]
        area_per_person: Option<f64>,
    },
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
    /// The rehearsal's incident (a fire, a crash, a leak) rather than a measure: recorded with
    /// origin `Incident`, so that scores can count the measures' delay after it.
    #[serde(default)]
    pub incident: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    CloseDoor(String),
    OpenDoor(String),
    BlockZone(String),
    UnblockZone(String),
    /// Closes a street to vehicles: none enter it; those on it drive out.
    CloseStreet(String),
    OpenStreet(String),
    /// Holds a signal in one phase (0 = the first of its running plan) until released.
    HoldPhase {
        signal: String,
        phase: u32,
    },
    /// Lets a held signal run its plan again from the held phase.
    ReleaseSignal(String),
    /// Switches a signal to another of its plans, starting at that plan's first phase.
    SwitchPlan {
        signal: String,
        plan: String,
    },
    /// Holds the people arriving at a hold line and lets them through as `release` says.
    HoldLine {
        line: String,
        release: Release,
    },
    /// Lets everyone through a hold line again.
    ReleaseLine(String),
    /// Far-end control (远端控制): from now on only `share` (0–1) of the arrivals scheduled at an
    /// entrance come (0 closes it, as a metro exit closed).
    LimitArrivals {
        door: String,
        share: f64,
    },
    /// Far-end control: the arrivals scheduled at entrance `from` come through `to` instead.
    DivertArrivals {
        from: String,
        to: String,
    },
    /// Arrivals at an entrance as scheduled again: all of them, through it.
    RestoreArrivals(String),
    /// Alternate opening (交替开关) of two doors or gates: `first` opens and `second` closes now, and
    /// they swap every `every` seconds until `StopAlternating` names either (which leaves both open).
    Alternate {
        first: String,
        second: String,
        every: f64,
    },
    StopAlternating(String),
    /// Makes a door on the outer boundary an exit again (`exit: true`), or an entrance only
    /// (`exit: false`: nobody leaves by it; arrivals still come in), as in "enter south, exit north"
    /// (南进北出).
    SetExit {
        door: String,
        exit: bool,
    },
    /// Puts a barrier of the scene in place: walls rebuilt, routes re-planned; whoever stands where
    /// it goes steps aside.
    PlaceBarrier(String),
    /// Takes a barrier away.
    RemoveBarrier(String),
    /// Starts a hazard of the scene: it blocks its disc, which grows as the scene says.
    StartHazard(String),
    /// Ends a hazard (the leak is sealed): its ground is free again.
    EndHazard(String),
    /// Smoke fills a zone, with extinction coefficient K (1/m; 0 clears it): people walk slower in
    /// it (Frantzich & Nilsson's speed–extinction relation) and routes weigh that.
    Smoke {
        zone: String,
        extinction: f64,
    },
    /// One-way circulation (单向循环): a stair walked only up, only down, or both ways again. Nobody
    /// steps on against the new direction; those on the flight walking against it turn back.
    StairDirection {
        stair: String,
        direction: StairDirection,
    },
    /// One-way circulation (单向循环) through an interior door or gate: `Towards(p)` lets people
    /// pass only towards the side of the door that point `p` lies on; `Both` opens it both ways
    /// again. Nobody crosses against it; routes go round by another way, or wait at it if there is
    /// none. (Boundary doors are made entrance-only with `SetExit`.)
    DoorDirection {
        door: String,
        direction: DoorWay,
    },
    /// Exits assigned per population (单向循环, 南进北出): from now on the population leaves only by
    /// these exits (at most [`MAX_ASSIGNED_EXITS`]); an empty list gives it back the exits its
    /// goal names.
    AssignExits {
        population: String,
        exits: Vec<String>,
    },
}

/// Most exits one `AssignExits` may name.
pub const MAX_ASSIGNED_EXITS: usize = 8;

/// Which way people may pass an interior door.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum DoorWay {
    #[default]
    Both,
    /// Only towards the side this point (on the door's level, off the door's line) lies on.
    Towards(Point),
}

/// How a held line lets people through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Release {
    /// Nobody crosses (a cordon).
    Closed,
    /// A one-way lane (单向循环): nobody crosses from the held side, and routes know it, so people
    /// go round by another way and wait at the line only when there is none. Crossings towards the
    /// held side are free.
    OneWay,
    /// Waves of `size` people, the first at once and then one every `every` seconds; places a
    /// wave does not use are not carried over.
    Batches { size: u32, every: f64 },
    /// A wave of `size` people whenever the previous wave has crossed and the density in `area`
    /// (a measurement area beyond the line) is below `density` persons/m².
    WhenBelow { area: String, density: f64, size: u32 },
}

/// A line across a way where people arriving from one side can be held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldLine {
    pub id: String,
    pub level: String,
    pub from: Point,
    pub to: Point,
    /// Any point on the side the held people arrive from; crossings the other way are free.
    pub held_from: Point,
    /// A measurement area where the held people queue: whoever stands still in it while the line
    /// is held is waiting from then on. Without it, a wait starts at the line itself.
    #[serde(default)]
    pub queue: Option<String>,
}

/// A measure that starts itself: when `when` has held, `then` is issued; afterwards, once `until`
/// has held, `after` is issued and the playbook waits for `when` again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub id: String,
    pub when: Condition,
    pub then: Vec<Action>,
    #[serde(default)]
    pub until: Option<Condition>,
    #[serde(default)]
    pub after: Vec<Action>,
}

/// A condition on a measurement area that must hold for `for` seconds without a break.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Condition {
    /// Persons per m² of the area's polygon above `density`.
    DensityAbove {
        area: String,
        density: f64,
        #[serde(rename = "for")]
        for_s: f64,
    },
    DensityBelow {
        area: String,
        density: f64,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// The area's warning level at `level` or above (it needs `area_per_person`).
    WarningAtLeast {
        area: String,
        level: WarningLevel,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// The area's warning level below `level`.
    WarningBelow {
        area: String,
        level: WarningLevel,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// At least `vehicles` queued on the street: driving on its lanes slower than
    /// [`QUEUED_SPEED`] (parked vehicles and those stopped to deliver do not count).
    QueueAtLeast {
        street: String,
        vehicles: u32,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// Fewer than `vehicles` queued on the street.
    QueueBelow {
        street: String,
        vehicles: u32,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// Something placed on the carriageway (a barrier: a crashed vehicle, a cordon) stands in one
    /// of the street's lanes.
    LaneBlocked {
        street: String,
        #[serde(rename = "for")]
        for_s: f64,
    },
    /// Nothing placed stands in any of the street's lanes.
    LanesClear {
        street: String,
        #[serde(rename = "for")]
        for_s: f64,
    },
}

/// Below this a driving vehicle counts as queued, m/s: 5 km/h [est], walking pace, a common
/// stopped-or-creeping criterion of queue surveys; a vehicle rolling up to a queue's tail passes it.
pub const QUEUED_SPEED: f64 = 5.0 / 3.6;

/// What a condition watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched<'a> {
    Area(&'a str),
    Street(&'a str),
}

impl Condition {
    pub fn watches(&self) -> Watched<'_> {
        match self {
            Condition::DensityAbove { area, .. }
            | Condition::DensityBelow { area, .. }
            | Condition::WarningAtLeast { area, .. }
            | Condition::WarningBelow { area, .. } => Watched::Area(area),
            Condition::QueueAtLeast { street, .. }
            | Condition::QueueBelow { street, .. }
            | Condition::LaneBlocked { street, .. }
            | Condition::LanesClear { street, .. } => Watched::Street(street),
        }
    }
    /// How long it must hold, s.
    pub fn duration(&self) -> f64 {
        match self {
            Condition::DensityAbove { for_s, .. }
            | Condition::DensityBelow { for_s, .. }
            | Condition::WarningAtLeast { for_s, .. }
            | Condition::WarningBelow { for_s, .. }
            | Condition::QueueAtLeast { for_s, .. }
            | Condition::QueueBelow { for_s, .. }
            | Condition::LaneBlocked { for_s, .. }
            | Condition::LanesClear { for_s, .. } => *for_s,
        }
    }
}

/// Warning levels of scenic areas: share of the maximum instantaneous capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WarningLevel {
    /// 80 % of capacity.
    Yellow,
    /// 90 %.
    Orange,
    /// 100 %.
    Red,
}

impl WarningLevel {
    pub const ALL: [WarningLevel; 3] = [WarningLevel::Yellow, WarningLevel::Orange, WarningLevel::Red];
    /// The share of capacity at which the level begins.
    pub fn share(self) -> f64 {
        match self {
            WarningLevel::Yellow => 0.8,
            WarningLevel::Orange => 0.9,
            WarningLevel::Red => 1.0,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            WarningLevel::Yellow => "yellow",
            WarningLevel::Orange => "orange",
            WarningLevel::Red => "red",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CloseDoor(d) => write!(f, "close door '{d}'"),
            Action::OpenDoor(d) => write!(f, "open door '{d}'"),
            Action::BlockZone(z) => write!(f, "block zone '{z}'"),
            Action::UnblockZone(z) => write!(f, "unblock zone '{z}'"),
            Action::CloseStreet(s) => write!(f, "close street '{s}' to vehicles"),
            Action::OpenStreet(s) => write!(f, "open street '{s}' to vehicles"),
            Action::HoldPhase { signal, phase } => write!(f, "hold signal '{signal}' in phase {phase}"),
            Action::ReleaseSignal(s) => write!(f, "release signal '{s}'"),
            Action::SwitchPlan { signal, plan } => write!(f, "switch signal '{signal}' to plan '{plan}'"),
            Action::HoldLine { line, release } => match release {
                Release::Closed => write!(f, "hold everyone at line '{line}'"),
                Release::OneWay => write!(f, "make line '{line}' one-way (no crossing from its held side)"),
                Release::Batches { size, every } => {
                    write!(f, "hold line '{line}', releasing {size} every {} s", super::number(*every))
                }
                Release::WhenBelow { area, density, size } => write!(
                    f,
                    "hold line '{line}', releasing {size} whenever area '{area}' is below {} persons/m²",
                    super::number(*density)
                ),
            },
            Action::ReleaseLine(line) => write!(f, "release line '{line}'"),
            Action::LimitArrivals { door, share } => {
                write!(f, "let {} % of the arrivals at '{door}' come", super::number(share * 100.0))
            }
            Action::DivertArrivals { from, to } => write!(f, "divert the arrivals at '{from}' to '{to}'"),
            Action::RestoreArrivals(door) => write!(f, "restore the arrivals at '{door}'"),
            Action::Alternate { first, second, every } => {
                write!(f, "alternate doors '{first}' and '{second}' every {} s", super::number(*every))
            }
            Action::StopAlternating(d) => write!(f, "stop alternating door '{d}'"),
            Action::SetExit { door, exit: true } => write!(f, "make door '{door}' an exit"),
            Action::SetExit { door, exit: false } => write!(f, "make door '{door}' an entrance only"),
            Action::PlaceBarrier(b) => write!(f, "place barrier '{b}'"),
            Action::RemoveBarrier(b) => write!(f, "remove barrier '{b}'"),
            Action::StartHazard(h) => write!(f, "start hazard '{h}'"),
            Action::EndHazard(h) => write!(f, "end hazard '{h}'"),
            Action::Smoke { zone, extinction } if *extinction > 0.0 => {
                write!(f, "fill zone '{zone}' with smoke (K = {} /m)", super::number(*extinction))
            }
            Action::Smoke { zone, .. } => write!(f, "clear the smoke from zone '{zone}'"),
            Action::StairDirection { stair, direction } => match direction {
                StairDirection::Both => write!(f, "open stair '{stair}' both ways"),
                StairDirection::UpOnly => write!(f, "make stair '{stair}' up only"),
                StairDirection::DownOnly => write!(f, "make stair '{stair}' down only"),
            },
            Action::DoorDirection { door, direction: DoorWay::Both } => write!(f, "open door '{door}' both ways"),
            Action::DoorDirection { door, direction: DoorWay::Towards(p) } => {
                write!(f, "make door '{door}' one-way towards ({}, {})", super::number(p[0]), super::number(p[1]))
            }
            Action::AssignExits { population, exits } if exits.is_empty() => {
                write!(f, "let population '{population}' leave by the exits of its goal")
            }
            Action::AssignExits { population, exits } => {
                let list: Vec<String> = exits.iter().map(|e| format!("'{e}'")).collect();
                write!(f, "send population '{population}' out by {}", list.join(", "))
            }
        }
    }
}
