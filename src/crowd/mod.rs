//! Pedestrians: agent components, placement and arrivals, exit choice, steering and movement.
//! The operational model is the collision-free speed model (Tordeux, Chraibi, Seyfried 2016).

pub mod crossing;
pub mod model;
pub mod motion;
pub mod route;
pub mod spawn;

use std::collections::BTreeMap;

use bevy::math::DVec2;
use bevy::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

pub use crate::ids::AgentId;
use crate::ids::{DoorId, Id, LevelId, PopulationId, PortalId, TargetId};
use crate::schedule::{SimClock, SimControl, SimStep, SimSystems};
use crate::space::SpaceRes;
use crate::twin::AgeGroup;

/// Where an agent is, and where it was one step ago.
#[derive(Component, Clone, Copy, Debug)]
pub struct Body {
    pub level: LevelId,
    pub pos: DVec2,
    pub prev: DVec2,
    pub radius: f64,
}

/// Personal walking parameters.
#[derive(Component, Clone, Copy, Debug)]
pub struct Walker {
    /// Desired (free) speed, m/s.
    pub v0: f64,
    /// Time gap to the person in front, s (collision-free speed model).
    pub time_gap: f64,
    /// Relaxation time τ, s (social force model).
    pub relaxation: f64,
    /// The population the agent belongs to.
    pub population: PopulationId,
}

#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Velocity(pub DVec2);

/// Progress towards the current target: the best travel time to it reached so far, and for how
/// long it has not improved (s).
#[derive(Component, Clone, Copy, Debug)]
pub struct Stalled {
    pub best: f32,
    pub since: f32,
}

impl Default for Stalled {
    fn default() -> Self {
        Stalled { best: f32::INFINITY, since: 0.0 }
    }
}

/// The age group an agent's walking speed was drawn for (RiMEA test 7), when drawn by group.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demographic(pub AgeGroup);

/// What the agent is doing now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activity {
    /// Pre-movement: standing until the given time.
    Waiting { until: f64 },
    /// Walking along a floor field.
    Walking,
    /// Staying at a destination until the given time.
    Dwelling { until: f64 },
    /// Left the space through a door this step.
    Left { door: DoorId },
    /// In a stair opening, waiting to step through it.
    Crossing { portal: PortalId },
}

/// The agent's route: which leg it is on and the navigation target that leg follows.
#[derive(Component, Clone, Copy, Debug)]
pub struct Plan {
    pub activity: Activity,
    pub leg: u16,
    pub target: TargetId,
}

/// rstar's default node sizes measured fastest here (6 against 12, 24 and 48 at 100,000 agents).
/// Points are stored in f32, half the memory of f64 and faster to search; exact distances are
/// always taken from the f64 positions in the snapshot.
pub type AgentTree = RTree<GeomWithData<[f32; 2], u32>>;

/// Positions of every agent at the start of the step (in storage order), with one R-tree per level
/// for neighbour queries. Steering reads only this, so agents can be updated in parallel; it sums
/// over neighbours in `AgentId` order, so storage order never shows in the results.
#[derive(Resource, Default)]
pub struct CrowdSnapshot {
    pub agents: Vec<SnapAgent>,
    pub trees: Vec<AgentTree>,
    pub max_radius: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct SnapAgent {
    pub id: u32,
    pub level: LevelId,
    pub pos: DVec2,
    pub vel: DVec2,
    pub radius: f64,
    /// The navigation target the agent follows.
    pub target: TargetId,
    /// Follows the fields of those who cross streets anywhere (their travel times differ).
    pub crosses_anywhere: bool,
}

/// Running totals of who came and who left.
#[derive(Resource, Clone, Debug, Default)]
pub struct Census {
    pub spawned: u32,
    pub exited: u32,
    pub per_exit: BTreeMap<DoorId, u32>,
    pub last_exit: Option<f64>,
}

impl Census {
    pub fn on_site(&self) -> u32 {
        self.spawned - self.exited
    }
}

/// The crowd: spawning, the snapshot, routes, steering, movement, leaving and stairs.
pub struct CrowdPlugin;

impl Plugin for CrowdPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CrowdSnapshot>()
            .init_resource::<Census>()
            .init_resource::<spawn::Populations>()
            .init_resource::<model::ModelParams>()
            .init_resource::<route::Routing>()
            .init_resource::<motion::StairGates>()
            // Without traffic every crossing is open (these are the traffic plugin's, if present).
            .init_resource::<crate::traffic::TrafficNet>()
            .init_resource::<crate::traffic::CrossingMap>()
            .init_resource::<crate::traffic::CrossingGates>()
            .init_resource::<crate::traffic::CrossingOccupancy>()
            .init_resource::<crate::traffic::CrossingStats>()
            .init_resource::<crate::traffic::CarriagewayOccupancy>()
            .init_resource::<crate::traffic::Vehicles>()
            .init_resource::<motion::ClearedWalls>()
            .add_systems(
                SimStep,
                (motion::leave_closed_doorways, spawn::spawn_agents).chain().in_set(SimSystems::Spawn),
            )
            .add_systems(SimStep, (build_snapshot, crossing::observe_crossings).chain().in_set(SimSystems::Snapshot))
            .add_systems(SimStep, crossing::record_crossing_entries.in_set(SimSystems::Count))
            .add_systems(SimStep, (route::follow_crowd, route::choose_exits).chain().in_set(SimSystems::Route))
            .add_systems(SimStep, model::steer.in_set(SimSystems::Steer))
            .add_systems(SimStep, motion::advance.in_set(SimSystems::Move))
            .add_systems(
                SimStep,
                (motion::remove_leavers, motion::cross_portals, detect_everyone_left).chain().in_set(SimSystems::Leave),
            );
    }
}

fn build_snapshot(
    mut snapshot: ResMut<CrowdSnapshot>,
    agents: Query<(&AgentId, &Body, &Velocity, &Plan, &crossing::KerbWait)>,
    space: Res<SpaceRes>,
) {
    let snapshot = &mut *snapshot;
    snapshot.agents.clear();
    snapshot.agents.extend(agents.iter().map(|(id, body, velocity, plan, kerb)| SnapAgent {
        id: id.0,
        level: body.level,
        pos: body.pos,
        vel: velocity.0,
        radius: body.radius,
        target: plan.target,
        crosses_anywhere: kerb.crosses_anywhere,
    }));
    snapshot.max_radius = snapshot.agents.iter().map(|a| a.radius).fold(0.0, f64::max);
    let levels = space.0.levels.len();
    snapshot.trees.resize_with(levels, RTree::new);
    for (level, tree) in snapshot.trees.iter_mut().enumerate() {
        let level = LevelId::from_index(level);
        let points: Vec<_> = snapshot
            .agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.level == level)
            .map(|(i, a)| GeomWithData::new([a.pos.x as f32, a.pos.y as f32], i as u32))
            .collect();
        *tree = RTree::bulk_load(points);
    }
}

/// Whether everyone who was ever going to come has come and gone, by the end of this step.
fn detect_everyone_left(
    clock: Res<SimClock>,
    populations: Res<spawn::Populations>,
    census: Res<Census>,
    mut control: ResMut<SimControl>,
) {
    control.everyone_left = populations.all_in(clock.end_of_step()) && census.on_site() == 0;
}
