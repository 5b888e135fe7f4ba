//! The traffic part of `summary.json`: vehicles in and out per street and approach, travel time,
//! delay and queues, pedestrians' waits at each crossing, conflicts and red-light violations.

use serde::Serialize;

use crate::traffic::network::LaneEnd;
use crate::traffic::{CrossingStats, Network, SignalStates, TrafficStats};

#[derive(Clone, Debug, Serialize)]
pub struct ApproachSummary {
    pub street: String,
    /// `forward` runs along the street's centre line, `backward` against it.
    pub direction: String,
    /// Where this direction ends: `edge` of the scene, or the junction's id.
    pub towards: String,
    pub vehicles_in: u32,
    pub vehicles_out: u32,
    /// s, over vehicles that drove the whole street
    pub mean_travel_time: Option<f64>,
    /// s: travel time minus the time at the desired speed
    pub mean_delay: Option<f64>,
    /// Largest queue (vehicles standing or below 2 m/s from a lane's front), m and vehicles.
    pub max_queue_m: f64,
    pub max_queue_vehicles: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct CrossingSummary {
    pub crossing: String,
    pub street: String,
    pub signal: bool,
    pub pedestrians_crossed: u32,
    /// s held at the kerb by the light or by vehicles, per pedestrian who crossed
    pub mean_wait: Option<f64>,
    pub max_wait: f64,
    /// A vehicle within 1 m of a pedestrian on the crossing (each pair once per encounter).
    pub conflicts: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignalSummary {
    pub signal: String,
    /// The plan running at the end.
    pub plan: String,
    pub cycle: f64,
    pub held: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrafficSummary {
    pub vehicles_spawned: u32,
    pub vehicles_arrived: u32,
    pub vehicles_on_road: u32,
    pub mean_trip_time: Option<f64>,
    pub mean_trip_delay: Option<f64>,
    /// Most vehicles of all flows waiting at once to get onto their entry lane.
    pub max_waiting_to_enter: u32,
    /// Vehicles that did not come because their street was closed.
    pub refused_closed_street: u32,
    pub red_light_violations: u32,
    /// Pedestrian–vehicle conflicts on crossings, all crossings.
    pub conflicts: u32,
    /// Vehicles found overlapping in a lane (an engine invariant: always 0).
    pub overlaps: u32,
    pub approaches: Vec<ApproachSummary>,
    pub crossings: Vec<CrossingSummary>,
    pub signals: Vec<SignalSummary>,
    /// Pedestrians crossing outside the crossings, when the scene has some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_crossings: Option<OutsideSummary>,
}

/// Pedestrians who cross streets anywhere unfenced, accepting gaps in the traffic.
#[derive(Clone, Debug, Serialize)]
pub struct OutsideSummary {
    /// The scene's share of pedestrians who do so.
    pub share: f64,
    /// Carriageways crossed outside a crossing.
    pub pedestrians_crossed: u32,
    /// Seconds waited at the kerb for a gap (mean over those who crossed, and the longest).
    pub mean_wait: Option<f64>,
    pub max_wait: f64,
    /// Gave up waiting for a gap and walked to a crossing.
    pub gave_up: u32,
    /// A vehicle within 1 m of a pedestrian on the carriageway.
    pub conflicts: u32,
    /// A vehicle's body overlapping a pedestrian's (an engine invariant: always 0).
    pub collisions: u32,
}

fn mean(total: f64, n: u32) -> Option<f64> {
    (n > 0).then(|| total / n as f64)
}

impl TrafficSummary {
    /// The section, or `None` for a scene without streets.
    pub fn collect(
        net: &Network,
        stats: &TrafficStats,
        crossings: &CrossingStats,
        signals: &SignalStates,
        on_road: u32,
    ) -> Option<Self> {
        if net.streets.is_empty() {
            return None;
        }
        let mut approaches = Vec::new();
        for (i, street) in net.streets.iter().enumerate() {
            for (k, way) in [&street.forward, &street.backward].into_iter().enumerate() {
                if way.lanes.is_empty() {
                    continue;
                }
                let w = &stats.ways[i][k];
                approaches.push(ApproachSummary {
                    street: street.id.clone(),
                    direction: if k == 0 { "forward" } else { "backward" }.into(),
                    towards: match way.end {
                        Some(LaneEnd::Junction(j)) => net.junctions[j as usize].id.clone(),
                        _ => "edge".into(),
                    },
                    vehicles_in: w.vehicles_in,
                    vehicles_out: w.vehicles_out,
                    mean_travel_time: mean(w.travel_time, w.vehicles_out),
                    mean_delay: mean(w.delay, w.vehicles_out),
                    max_queue_m: w.max_queue_m,
                    max_queue_vehicles: w.max_queue_vehicles,
                });
            }
        }
        let crossing_rows = net
            .crossings
            .iter()
            .zip(&crossings.crossings)
            .map(|(c, r)| CrossingSummary {
                crossing: c.id.clone(),
                street: net.streets[c.street.0 as usize].id.clone(),
                signal: c.head.is_some(),
                pedestrians_crossed: r.crossed,
                mean_wait: mean(r.wait_total, r.crossed),
                max_wait: r.wait_max,
                conflicts: r.conflicts,
            })
            .collect();
        let signal_rows = net
            .signals
            .iter()
            .zip(&signals.controllers)
            .map(|(s, c)| SignalSummary {
                signal: s.id.clone(),
                plan: s.plans[c.plan].id.clone(),
                cycle: s.plans[c.plan].cycle(),
                held: c.held,
            })
            .collect();
        Some(TrafficSummary {
            vehicles_spawned: stats.spawned,
            vehicles_arrived: stats.arrived,
            vehicles_on_road: on_road,
            mean_trip_time: mean(stats.trip_time, stats.arrived),
            mean_trip_delay: mean(stats.trip_delay, stats.arrived),
            max_waiting_to_enter: stats.entry_waiting_max,
            refused_closed_street: stats.refused,
            red_light_violations: stats.red_violations,
            conflicts: crossings.conflicts(),
            overlaps: stats.overlaps,
            approaches,
            crossings: crossing_rows,
            signals: signal_rows,
            outside_crossings: net.rules.outside_crossings.as_ref().map(|rules| {
                let o = &crossings.outside;
                OutsideSummary {
                    share: rules.share,
                    pedestrians_crossed: o.crossed,
                    mean_wait: mean(o.wait_total, o.crossed),
                    max_wait: o.wait_max,
                    gave_up: o.gave_up,
                    conflicts: o.conflicts,
                    collisions: o.collisions,
                }
            }),
        })
    }
}
