//! The Intelligent Driver Model against theory and against SUMO (validation/sumo): free
//! acceleration, the equilibrium flow–density relation on a ring, and queue discharge at a signal.

use std::path::Path;

use unitwin::app::{RunOptions, headless_app};
use unitwin::scene::VehicleKind;
use unitwin::traffic::network::LinkKind;
use unitwin::traffic::{TrafficNet, Vehicles};
use unitwin::twin::Twin;

fn manifest() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

fn twin(name: &str) -> Twin {
    unitwin::twin::load(&Path::new(&manifest()).join("tests/scenes/traffic").join(name)).expect("scene builds")
}

fn sumo() -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(&manifest()).join("validation/sumo/sumo_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn now(app: &bevy::app::App) -> f64 {
    app.world().resource::<unitwin::schedule::SimClock>().now()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The links of a street's lane, in order, and the lane's link.
fn lane_of(twin: &Twin, street: &str) -> u32 {
    let net = &twin.traffic;
    let sid = twin.space.street_index[street];
    net.streets[sid.0 as usize].forward.lanes[0]
}

/// Distance driven along the path approach → turn → beyond, for a vehicle on `link` at `s`.
fn path_position(net: &unitwin::traffic::Network, approach: u32, link: u32, s: f64) -> f64 {
    let a = net.links[approach as usize].length;
    match net.links[link as usize].kind {
        _ if link == approach => s,
        LinkKind::Turn { .. } => a + s,
        _ => a + net.links[net.links[approach as usize].next[0] as usize].length + s,
    }
}

#[test]
fn free_acceleration_follows_the_idm_and_matches_sumo() {
    let twin = twin("signal_discharge.ron");
    let mut app = headless_app(&twin, &RunOptions::from_twin(&twin)).unwrap();
    let lane = lane_of(&twin, "approach");
    let net = app.world().resource::<TrafficNet>().0.clone();
    app.world_mut().resource_mut::<Vehicles>().place(&net, &twin.space, VehicleKind::Car, lane, 5.0, 0.0);
    let mut speeds = vec![0.0];
    while now(&app) < 25.5 {
        app.update();
        if now(&app) >= speeds.len() as f64 - 1e-9 {
            speeds.push(app.world().resource::<Vehicles>().iter().next().unwrap().v);
        }
    }
    let reference = sumo();
    let sumo_speeds = floats(&reference["free"]["speeds"]);
    // Same model and the same Euler update as SUMO: equal to rounding.
    for t in [5usize, 10, 15, 20, 25] {
        assert!((speeds[t] - sumo_speeds[t]).abs() < 0.01, "v({t} s) = {:.4}, SUMO {:.4}", speeds[t], sumo_speeds[t]);
    }
    // The exact solution of dv/dt = a (1 - (v/v0)^4), integrated finely here.
    let (a, v0) = (1.0, 13.89);
    let (mut v, mut t, h) = (0.0f64, 0.0, 1e-4);
    let mut exact = vec![0.0];
    while t < 25.0 - 1e-9 {
        let f = |v: f64| a * (1.0 - (v / v0).powi(4));
        let (k1, k2) = (f(v), f(v + 0.5 * h * f(v)));
        let (k3, k4) = (f(v + 0.5 * h * k2), f(v + h * f(v + 0.5 * h * k2)));
        v += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        t += h;
        if (t - exact.len() as f64).abs() < h / 2.0 {
            exact.push(v);
        }
    }
    // A first-order step of 0.1 s is off by at most a few percent of v0 while accelerating.
    println!(
        "free acceleration: v(5, 10, 20 s) = {:.3}, {:.3}, {:.3} m/s; SUMO {:.3}, {:.3}, {:.3}; exact IDM {:.3}, {:.3}, {:.3}",
        speeds[5],
        speeds[10],
        speeds[20],
        sumo_speeds[5],
        sumo_speeds[10],
        sumo_speeds[20],
        exact[5],
        exact[10],
        exact[20]
    );
    for t in [5usize, 10, 20] {
        assert!((speeds[t] - exact[t]).abs() < 0.02 * v0, "v({t} s) = {:.3}, exact IDM {:.3}", speeds[t], exact[t]);
    }
}

#[test]
fn ring_road_keeps_the_equilibrium_flow_of_the_idm() {
    let twin = twin("ring.ron");
    let net = twin.traffic.clone();
    let east = lane_of(&twin, "east_half");
    let west = lane_of(&twin, "west_half");
    let ring: Vec<u32> = vec![east, net.links[east as usize].next[0], west, net.links[west as usize].next[0]];
    let length: f64 = ring.iter().map(|&l| net.links[l as usize].length).sum();
    assert!((length - 1400.0).abs() < 0.5, "ring length {length}");
    let p = *net.params(VehicleKind::Car);
    for density in [20.0, 40.0, 60.0] {
        let n = (density * length / 1000.0).round() as usize;
        let spacing = length / n as f64;
        let v_eq = p.equilibrium_speed(p.v0, spacing - p.length);
        let mut app = headless_app(&twin, &RunOptions::from_twin(&twin)).unwrap();
        {
            let mut vehicles = app.world_mut().resource_mut::<Vehicles>();
            for k in 0..n {
                let mut x = k as f64 * spacing + 1.0;
                let mut i = 0;
                while x > net.links[ring[i] as usize].length {
                    x -= net.links[ring[i] as usize].length;
                    i += 1;
                }
                vehicles.place(&net, &twin.space, VehicleKind::Car, ring[i], x, v_eq);
            }
        }
        for _ in 0..2000 {
            app.update();
        }
        let vehicles = app.world().resource::<Vehicles>();
        assert_eq!(vehicles.count(), n, "nobody leaves a ring");
        let mean: f64 = vehicles.iter().map(|v| v.v).sum::<f64>() / n as f64;
        let flow = density * mean * 3.6;
        let analytic = density * v_eq * 3.6;
        assert!(
            (flow - analytic).abs() < 0.02 * analytic,
            "{density} veh/km: flow {flow:.0} veh/h, analytic IDM equilibrium {analytic:.0} veh/h"
        );
        let stats = app.world().resource::<unitwin::traffic::TrafficStats>();
        assert_eq!(stats.overlaps, 0);
        println!("ring {density} veh/km: {flow:.1} veh/h after 200 s, analytic {analytic:.1} veh/h");
    }
}

#[test]
fn queue_discharge_at_a_signal_matches_sumo_and_the_idm_equilibrium() {
    let twin = twin("signal_discharge.ron");
    let mut app = headless_app(&twin, &RunOptions::from_twin(&twin)).unwrap();
    let net = app.world().resource::<TrafficNet>().0.clone();
    let lane = lane_of(&twin, "approach");
    let stop = net.links[lane as usize].length;
    {
        let mut vehicles = app.world_mut().resource_mut::<Vehicles>();
        for i in 0..30 {
            vehicles.place(&net, &twin.space, VehicleKind::Car, lane, stop - 1.0 - 7.0 * i as f64, 0.0);
        }
    }
    let mut crossed = vec![f64::NAN; 30];
    let mut speeds = vec![f64::NAN; 30];
    let mut before: Vec<f64> = vec![0.0; 30];
    let dt = 0.1;
    for _ in 0..1600 {
        let t0 = now(&app);
        {
            let vehicles = app.world().resource::<Vehicles>();
            for v in vehicles.iter() {
                before[v.id as usize] = path_position(&net, lane, v.link, v.s);
            }
        }
        app.update();
        let vehicles = app.world().resource::<Vehicles>();
        for v in vehicles.iter() {
            let i = v.id as usize;
            let after = path_position(&net, lane, v.link, v.s);
            if crossed[i].is_nan() && before[i] < stop && after >= stop {
                crossed[i] = t0 + dt * (stop - before[i]) / (after - before[i]);
                speeds[i] = v.v;
            }
        }
        if crossed.iter().all(|c| !c.is_nan()) {
            break;
        }
    }
    assert!(crossed.iter().all(|c| !c.is_nan()), "all 30 cross within 150 s");
    let reference = sumo();
    let sumo_times = floats(&reference["discharge"]["green_read_at_step_start"]["crossing_times"]);
    for i in 0..30 {
        assert!(
            (crossed[i] - sumo_times[i]).abs() < 0.1,
            "vehicle {}: crosses at {:.3} s, SUMO {:.3} s",
            i + 1,
            crossed[i],
            sumo_times[i]
        );
    }
    let headways: Vec<f64> = (1..30).map(|i| crossed[i] - crossed[i - 1]).collect();
    let saturation = headways[3..].iter().sum::<f64>() / headways[3..].len() as f64;
    let sumo_saturation = reference["discharge"]["saturation_headway"].as_f64().unwrap();
    assert!(
        (saturation - sumo_saturation).abs() < 0.02 * sumo_saturation,
        "saturation headway {saturation:.3} s, SUMO {sumo_saturation:.3} s"
    );
    // Theory: no flow exceeds the IDM's capacity (the maximum of its equilibrium flow), and the
    // platoon's tail drives at equilibrium: its headway is that of the equilibrium gap at its speed.
    let p = *net.params(VehicleKind::Car);
    let capacity = (1..1389)
        .map(|k| {
            let v = k as f64 * 0.01;
            v / (p.length + p.equilibrium_gap(p.v0, v))
        })
        .fold(0.0, f64::max);
    assert!(
        1.0 / saturation <= capacity,
        "discharge flow {:.0} veh/h above capacity {:.0}",
        3600.0 / saturation,
        capacity * 3600.0
    );
    let worst = (0..30).map(|i| (crossed[i] - sumo_times[i]).abs()).fold(0.0, f64::max);
    println!("discharge: largest difference from SUMO's crossing times {worst:.4} s");
    let v = speeds[29];
    let equilibrium = (p.length + p.equilibrium_gap(p.v0, v)) / v;
    assert!(
        (headways[28] - equilibrium).abs() < 0.03 * equilibrium,
        "tail headway {:.3} s, equilibrium {equilibrium:.3} s",
        headways[28]
    );
    println!(
        "discharge: first {:.3} s after green, saturation headway {saturation:.3} s ({:.0} veh/h); SUMO {sumo_saturation:.3} s; IDM capacity {:.0} veh/h",
        crossed[0] - 10.0,
        3600.0 / saturation,
        capacity * 3600.0
    );
}
