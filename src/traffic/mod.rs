//! Vehicle traffic: the road network, fixed-time signals, IDM vehicles on lanes and through
//! junctions, and pedestrian crossings shared with the crowd as gated links.

pub mod blocks;
pub mod crossings;
pub mod network;
pub mod outside;
pub mod params;
pub mod signals;
pub mod vehicles;

use std::sync::Arc;

use bevy::math::{DVec2, DVec3};
use bevy::prelude::*;

pub use blocks::LaneBlocks;
pub use crossings::{CrossingGates, CrossingMap, CrossingOccupancy, CrossingStats};
pub use network::{Light, Network};
pub use outside::CarriagewayOccupancy;
pub use params::VehicleParams;
pub use signals::SignalStates;
pub use vehicles::{TrafficStats, Vehicle, VehicleState, Vehicles};

use crate::schedule::{SimSeed, SimStep, SimSystems};
use crate::space::SpaceRes;

/// The twin's road network (shared, never changed while running).
#[derive(Resource, Clone, Debug, Default)]
pub struct TrafficNet(pub Arc<Network>);

impl Vehicle {
    /// Front-bumper position, heading (unit) and height, including the lane-change offset.
    pub fn pose(&self, net: &Network) -> (DVec3, DVec2) {
        let link = &net.links[self.link as usize];
        let (p, dir) = link.at(self.s);
        let p = p + dir.perp() * self.lateral;
        (DVec3::new(p.x, p.y, link.z), dir)
    }
}

/// Signals, vehicles and the crossings they share with pedestrians. Without vehicles or signals
/// in the scene it still opens every crossing to pedestrians.
pub struct TrafficPlugin;

impl Plugin for TrafficPlugin {
    fn build(&self, app: &mut App) {
        let world = app.world_mut();
        let net = world.get_resource_or_insert_with(TrafficNet::default).0.clone();
        let seed = world.get_resource::<SimSeed>().map_or(0, |s| s.0);
        let map = world.get_resource::<SpaceRes>().map(|s| CrossingMap::build(&s.0, &net)).unwrap_or_default();
        let states = SignalStates::start(&net);
        let mut gates = CrossingGates::default();
        gates.follow_signals(&net, &states);
        let mut occupancy = CrossingOccupancy::default();
        occupancy.clear(net.crossings.len());
        app.insert_resource(map)
            .insert_resource(gates)
            .insert_resource(occupancy)
            .insert_resource(CrossingStats {
                crossings: vec![Default::default(); net.crossings.len()],
                ..Default::default()
            })
            .insert_resource(CarriagewayOccupancy::default())
            .insert_resource(LaneBlocks::default())
            .insert_resource(TrafficStats { ways: vec![Default::default(); net.streets.len()], ..Default::default() })
            .insert_resource(Vehicles::new(&net, seed))
            .insert_resource(states)
            .add_systems(SimStep, signals::run_signals.in_set(SimSystems::Signals))
            .add_systems(SimStep, vehicles::spawn_vehicles.in_set(SimSystems::Spawn))
            .add_systems(SimStep, vehicles::drive.in_set(SimSystems::Drive));
    }
}
