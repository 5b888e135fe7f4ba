//! The scene format's traffic part: junctions, signals, vehicle types, flows, stops and parked
//! vehicles. Plain serde types like the rest of the format; `traffic` turns them into a network.

use serde::{Deserialize, Serialize};

use super::format::{Distribution, Point};

/// Where street ends meet. Every street end within `radius` of `at` joins the junction; vehicles
/// turn from each joining street into the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Junction {
    pub id: String,
    pub level: String,
    pub at: Point,
    /// How far from `at` a street's end may lie and still join, m.
    #[serde(default = "default_junction_radius")]
    pub radius: f64,
    /// Turn shares from one street into others; streets not listed split evenly among the turns left.
    #[serde(default)]
    pub turns: Vec<Turn>,
}

fn default_junction_radius() -> f64 {
    2.0
}

/// The share of vehicles coming from `from` that turn into `to`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    pub from: String,
    pub to: String,
    pub share: f64,
}

/// A fixed-time signal controller: signal heads, and plans that switch them by phases.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub id: String,
    pub heads: Vec<SignalHead>,
    /// The first plan runs from the start; commands switch plans or hold a phase.
    pub plans: Vec<SignalPlan>,
}

/// One signal head: the stop lines of vehicle approaches, or pedestrian crossings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalHead {
    pub id: String,
    /// Vehicle stop lines this head controls.
    #[serde(default)]
    pub vehicles: Vec<Approach>,
    /// Pedestrian crossings this head controls (by crossing id).
    #[serde(default)]
    pub crossings: Vec<String>,
}

/// Vehicles on `street` stopping before `at`: one of the street's crossings (both directions stop),
/// or a junction at one of its ends (the lanes running into it stop).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approach {
    pub street: String,
    pub at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalPlan {
    pub id: String,
    /// Seconds into the cycle at t = 0 is `-offset`: the first phase starts at `offset`.
    #[serde(default)]
    pub offset: f64,
    pub phases: Vec<Phase>,
}

/// A stage of the cycle. Heads listed in `green` show green, those in `amber` amber (vehicles
/// stop if they can; pedestrians do not start), all others red.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub duration: f64,
    #[serde(default)]
    pub green: Vec<String>,
    #[serde(default)]
    pub amber: Vec<String>,
}

/// Kinds of road user on the carriageway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum VehicleKind {
    Car,
    Bus,
    Van,
    /// E-bikes and other non-motorised vehicles: in the non-motorised lane where there is one.
    Ebike,
}

impl VehicleKind {
    pub const ALL: [VehicleKind; 4] = [VehicleKind::Car, VehicleKind::Bus, VehicleKind::Van, VehicleKind::Ebike];
    pub fn name(self) -> &'static str {
        match self {
            VehicleKind::Car => "car",
            VehicleKind::Bus => "bus",
            VehicleKind::Van => "van",
            VehicleKind::Ebike => "ebike",
        }
    }
}

/// Intelligent Driver Model parameters replacing the defaults for one kind (all optional).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleType {
    pub kind: Option<VehicleKind>,
    /// Length, m.
    #[serde(default)]
    pub length: Option<f64>,
    /// Width, m (drawing and the pedestrian clearance).
    #[serde(default)]
    pub width: Option<f64>,
    /// Desired speed, km/h (capped by each street's limit).
    #[serde(default)]
    pub v0: Option<f64>,
    /// Safe time headway T, s.
    #[serde(default)]
    pub t: Option<f64>,
    /// Jam distance s0, m.
    #[serde(default)]
    pub s0: Option<f64>,
    /// Maximum acceleration a, m/s².
    #[serde(default)]
    pub a: Option<f64>,
    /// Comfortable deceleration b, m/s².
    #[serde(default)]
    pub b: Option<f64>,
}

/// Which end of a street vehicles come in by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum StreetEnd {
    #[default]
    Start,
    End,
}

/// Vehicles entering by one end of a street.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub id: String,
    pub street: String,
    /// The end they come in by; it must not join a junction.
    #[serde(default)]
    pub from: StreetEnd,
    /// `(from time s, vehicles per hour)`: each rate holds until the next entry.
    pub rate: Vec<(f64, f64)>,
    /// `(kind, share)`; shares are normalised.
    pub mix: Vec<(VehicleKind, f64)>,
    /// Streets to follow after the first, in order; empty follows the junctions' turn shares.
    #[serde(default)]
    pub route: Vec<String>,
    /// Short stops (deliveries, taxis) some of these vehicles make.
    #[serde(default)]
    pub stops: Vec<Stop>,
}

/// A share of a flow's vehicles stop on `street` at `at` m along its centre line for `dwell` s,
/// blocking their lane.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    pub street: String,
    pub at: f64,
    pub dwell: Distribution,
    pub share: f64,
}

/// A vehicle standing in a lane for the whole run (a parked car on the carriageway).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parked {
    pub id: String,
    pub street: String,
    /// Distance of its centre along the street's centre line, m.
    pub at: f64,
    /// Lane, counted from the right-hand kerb of the centre line's direction (0 = kerb lane).
    #[serde(default)]
    pub lane: u32,
    #[serde(default = "default_parked_kind")]
    pub kind: VehicleKind,
}

fn default_parked_kind() -> VehicleKind {
    VehicleKind::Car
}

/// How pedestrians behave at crossings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossingRules {
    /// At a signalised crossing, a pedestrian starts on green only if they can reach the far kerb
    /// at their own free speed before the pedestrian signal turns red.
    #[serde(default = "yes")]
    pub start_only_if_clear: bool,
    /// Some pedestrians cross streets anywhere the kerb is not fenced, when the traffic leaves a gap.
    #[serde(default)]
    pub outside_crossings: Option<OutsideCrossings>,
}

impl Default for CrossingRules {
    fn default() -> Self {
        CrossingRules { start_only_if_clear: true, outside_crossings: None }
    }
}

/// Pedestrians who cross outside the crossings, and how they accept gaps in the traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutsideCrossings {
    /// Share of every population's pedestrians who do so, 0–1.
    pub share: f64,
    /// Start-up and end clearance time t_s of the critical gap t_c = L/S_p + t_s, s: a pedestrian
    /// steps off the kerb only when every vehicle is further than t_c away (HCM 2010, two-way
    /// stop-controlled intersections, pedestrian gap acceptance: t_s = 3 s).
    #[serde(default = "default_start_up")]
    pub start_up: f64,
    /// Walking on the carriageway counts this many times its length when they choose a route, so
    /// they cross rather than walk along it, and only where a crossing is a detour.
    #[serde(default = "default_carriageway_cost")]
    pub carriageway_cost: f64,
    /// After waiting this long at the kerb for a gap, s, they walk to a crossing instead.
    #[serde(default = "default_patience")]
    pub patience: f64,
}

fn default_start_up() -> f64 {
    3.0
}
fn default_carriageway_cost() -> f64 {
    3.0
}
/// HCM 2010 (pedestrian level of service at unsignalised crossings): beyond about 30 s of delay
/// pedestrians become impatient and take risks; here they give up on the gap and use a crossing.
fn default_patience() -> f64 {
    30.0
}

fn yes() -> bool {
    true
}

/// Vehicle demand and behaviour of the scene.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Overrides of the default Intelligent Driver Model parameters, per kind.
    #[serde(default)]
    pub vehicle_types: Vec<VehicleType>,
    #[serde(default)]
    pub flows: Vec<Flow>,
    #[serde(default)]
    pub parked: Vec<Parked>,
    #[serde(default)]
    pub crossing_rules: CrossingRules,
}
