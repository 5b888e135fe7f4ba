//! The runtime's own validated parameter types, made from the scene format once it is checked.
//! A new model, measure or vehicle exists here first; the scene format only has to describe it.

use bevy::math::DVec2;

use crate::geom::Point;
use crate::ids::{DoorId, LevelId, TargetId};
use crate::scene;

/// A random quantity (speeds, pre-movement and dwell times).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
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
    /// A group drawn by share, then a speed uniformly within the group's range.
    AgeGroups(Vec<(AgeGroup, f64)>),
}

impl Dist {
    /// The largest value the distribution can give.
    pub fn max(&self) -> f64 {
        match *self {
            Dist::Constant(c) => c,
            Dist::Uniform { max, .. } | Dist::Normal { max, .. } | Dist::LogNormal { max, .. } => max,
            Dist::AgeGroups(ref groups) => groups.iter().map(|g| g.0.speed_range().1).fold(0.0, f64::max),
        }
    }
}

impl From<&scene::Distribution> for Dist {
    fn from(d: &scene::Distribution) -> Self {
        match *d {
            scene::Distribution::Constant(c) => Dist::Constant(c),
            scene::Distribution::Uniform { min, max } => Dist::Uniform { min, max },
            scene::Distribution::Normal { mean, sd, min, max } => Dist::Normal { mean, sd, min, max },
            scene::Distribution::LogNormal { mu, sigma, min, max } => Dist::LogNormal { mu, sigma, min, max },
            scene::Distribution::AgeGroups(ref groups) => {
                Dist::AgeGroups(groups.iter().map(|&(g, share)| (g.into(), share)).collect())
            }
        }
    }
}

/// Walking-speed groups of RiMEA 3.0 test 7 (after Weidmann 1993).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl From<scene::AgeGroup> for AgeGroup {
    fn from(g: scene::AgeGroup) -> Self {
        match g {
            scene::AgeGroup::Under30 => AgeGroup::Under30,
            scene::AgeGroup::From30To50 => AgeGroup::From30To50,
            scene::AgeGroup::Over50 => AgeGroup::Over50,
            scene::AgeGroup::LimitedMobility => AgeGroup::LimitedMobility,
        }
    }
}

/// The operational model and its constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PedModel {
    /// Tordeux, Chraibi & Seyfried (2016).
    CollisionFreeSpeed { neighbour_strength: f64, neighbour_range: f64, wall_strength: f64, wall_range: f64 },
    /// Helbing & Molnár (1995) with the body and friction forces of Helbing, Farkas & Vicsek (2000).
    SocialForce { strength: f64, range: f64, body_force: f64, friction: f64, mass: f64 },
}

impl PedModel {
    /// How far from a wall (beyond the body's radius) the model still feels it, m.
    pub fn wall_reach(&self) -> f64 {
        match *self {
            PedModel::CollisionFreeSpeed { wall_range, .. } => 10.0 * wall_range,
            PedModel::SocialForce { range, .. } => 12.0 * range,
        }
    }
    /// The most a desired speed can be exceeded (the social force model caps speeds at 1.3 v0).
    pub fn speed_cap(&self) -> f64 {
        match self {
            PedModel::CollisionFreeSpeed { .. } => 1.0,
            PedModel::SocialForce { .. } => 1.3,
        }
    }
}

impl From<&scene::PedestrianModel> for PedModel {
    fn from(m: &scene::PedestrianModel) -> Self {
        match *m {
            scene::PedestrianModel::CollisionFreeSpeed {
                neighbour_strength,
                neighbour_range,
                wall_strength,
                wall_range,
            } => PedModel::CollisionFreeSpeed { neighbour_strength, neighbour_range, wall_strength, wall_range },
            scene::PedestrianModel::SocialForce { strength, range, body_force, friction, mass } => {
                PedModel::SocialForce { strength, range, body_force, friction, mass }
            }
        }
    }
}

/// How floor fields follow the crowd.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RoutingMode {
    /// Shortest paths, fixed until a door or zone changes.
    #[default]
    Static,
    /// Recomputed every `interval` seconds with walking slower where it is crowded.
    DensityAware { interval: f64 },
}

impl From<scene::Routing> for RoutingMode {
    fn from(r: scene::Routing) -> Self {
        match r {
            scene::Routing::Static => RoutingMode::Static,
            scene::Routing::DensityAware { interval } => RoutingMode::DensityAware { interval },
        }
    }
}

/// How an exit is chosen among a population's exits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExitChoice {
    #[default]
    Nearest,
    /// Re-decided every second: the earliest expected exit time, walk against queue.
    Quickest,
}

impl From<scene::ExitChoice> for ExitChoice {
    fn from(e: scene::ExitChoice) -> Self {
        match e {
            scene::ExitChoice::Nearest => ExitChoice::Nearest,
            scene::ExitChoice::Quickest => ExitChoice::Quickest,
        }
    }
}

/// One leg of a population's route: the field it follows and, for destinations, how long to stay.
#[derive(Clone, Debug)]
pub struct Leg {
    pub target: TargetId,
    pub dwell: Option<Dist>,
}

/// Where a population's agents come from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// `count` agents placed at random inside `polygon` at the start.
    Area {
        polygon: Vec<Point>,
        count: u32,
        /// Walkable m² of the polygon.
        free_area: f64,
    },
    /// A flow through a boundary door: `(from_time_s, persons_per_hour)` steps, up to `total`.
    Arrivals { door: DoorId, rates: Vec<(f64, f64)>, total: Option<u32> },
}

/// Everything the crowd needs to know about one population.
#[derive(Clone, Debug)]
pub struct PopulationPlan {
    pub id: String,
    pub level: LevelId,
    pub origin: Origin,
    pub radius: f64,
    pub time_gap: f64,
    pub relaxation: f64,
    pub speed: Dist,
    pub premovement: Dist,
    /// The last leg leads out.
    pub legs: Vec<Leg>,
    pub exit_choice: ExitChoice,
    /// For `Quickest`: each candidate exit door and the target of it alone.
    pub exit_options: Vec<(DoorId, TargetId)>,
}

/// A measurement to record.
#[derive(Clone, Debug)]
pub enum MeasurementPlan {
    /// Counts crossings of the segment `a`–`b` (both ways).
    Line { id: String, level: LevelId, a: DVec2, b: DVec2 },
    /// Records the density inside a polygon.
    Area { id: String, level: LevelId, polygon: Vec<Point> },
}

impl MeasurementPlan {
    pub fn id(&self) -> &str {
        match self {
            MeasurementPlan::Line { id, .. } | MeasurementPlan::Area { id, .. } => id,
        }
    }
}

/// A playbook with its areas and actions resolved.
#[derive(Clone, Debug)]
pub struct PlaybookPlan {
    pub id: String,
    pub when: ConditionPlan,
    pub then: Vec<crate::command::Command>,
    pub until: Option<ConditionPlan>,
    pub after: Vec<crate::command::Command>,
}

/// A condition on one area or street that must hold for `duration` seconds without a break.
#[derive(Clone, Copy, Debug)]
pub struct ConditionPlan {
    pub subject: Subject,
    pub test: ConditionTest,
    pub duration: f64,
}

/// What a condition watches: a measurement area's crowd or a street's vehicle queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Area(crate::ids::AreaId),
    Street(crate::ids::StreetId),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConditionTest {
    DensityAbove(f64),
    DensityBelow(f64),
    WarningAtLeast(crate::scene::WarningLevel),
    WarningBelow(crate::scene::WarningLevel),
    QueueAtLeast(u32),
    QueueBelow(u32),
    LaneBlocked,
    LanesClear,
}
