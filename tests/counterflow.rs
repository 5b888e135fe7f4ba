//! Counterflow against the bidirectional experiments of Zhang, Klingsch, Schadschneider & Seyfried
//! (2012) and Zhang & Seyfried (2014): opposing and crossing groups get through, bodies stay apart.
//! Known deviation (issue 12): in the corridors the low-density flow is 20–30 % below Weidmann (nobody
//! overtakes), so that test is ignored and prints the figures; the crossing passes.

mod common;

use std::path::Path;

use bevy::math::DVec2;
use common::run_verified;
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::{AgentId, Body};
use unitwin::scene::{Placement, read_scene};
use unitwin::schedule::SimClock;

/// Weidmann (1993): v(ρ) = 1.34 · [1 − exp(−1.913 · (1/ρ − 1/5.4))] m/s.
fn weidmann(density: f64) -> f64 {
    1.34 * (1.0 - (-1.913 * (1.0 / density - 1.0 / 5.4)).exp())
}

struct Counterflow {
    spawned: u32,
    exited: u32,
    /// When the last person left, s.
    end: f64,
    /// Per frame in the measurement area: (density p/m², specific flow p/(m·s)).
    samples: Vec<(f64, f64)>,
    /// Mean lane order in the measurement area: 1 when every 0.5 m strip holds one direction only.
    lane_order: f64,
    /// Deepest overlap of two bodies seen, m, and in how many frames any two overlapped by more.
    max_overlap: f64,
    overlap_frames: u32,
}

/// Real bodies compress by a few centimetres at most (reference: validation.md, body overlap).
const BODY_OVERLAP_TOLERANCE: f64 = 0.04;

/// The deepest overlap between two bodies on one level now, m (negative: none touch).
/// Bodies are hashed into 1 m cells (no radius exceeds 0.5 m), so the check is linear.
fn deepest_overlap(world: &mut bevy::prelude::World) -> f64 {
    let mut q = world.query::<(&AgentId, &Body)>();
    let mut bodies: Vec<(u32, i64, i64, u32, DVec2, f64)> = q
        .iter(world)
        .map(|(id, b)| (b.level.index() as u32, b.pos.x.floor() as i64, b.pos.y.floor() as i64, id.0, b.pos, b.radius))
        .collect();
    bodies.sort_by_key(|b| (b.0, b.1, b.2, b.3));
    let mut deepest = f64::NEG_INFINITY;
    for a in &bodies {
        for dx in -1..=1 {
            for dy in -1..=1 {
                let key = (a.0, a.1 + dx, a.2 + dy);
                let start = bodies.partition_point(|b| (b.0, b.1, b.2) < key);
                for b in bodies[start..].iter().take_while(|b| (b.0, b.1, b.2) == key) {
                    if b.3 > a.3 {
                        deepest = deepest.max(a.5 + b.5 - a.4.distance(b.4));
                    }
                }
            }
        }
    }
    deepest
}

/// Two groups of `per_side` walk against each other in a corridor `width` m wide; the corridor is
/// long enough to place each group at 2 persons/m² with 20 m between them.
fn corridor(width: f64, per_side: u32, seed: u64) -> Counterflow {
    let path = Path::new(&manifest_dir()).join("tests/scenes/counterflow/corridor.ron");
    let mut loaded = read_scene(&path).unwrap();
    let block = (per_side as f64 / (2.0 * (width - 0.6))).max(10.0);
    let length = 2.0 * block + 21.0;
    let scene = &mut loaded.scene;
    scene.levels[0].walkable[0].outer = vec![[0.0, 0.0], [length, 0.0], [length, width], [0.0, width]];
    scene.doors[0].at = [0.0, width / 2.0];
    scene.doors[1].at = [length, width / 2.0];
    for d in &mut scene.doors {
        d.width = width;
    }
    let areas = [(0.5, 0.5 + block), (length - 0.5 - block, length - 0.5)];
    for (population, (x0, x1)) in scene.populations.iter_mut().zip(areas) {
        let Placement::Area { polygon, count } = &mut population.placement else { unreachable!() };
        *polygon = vec![[x0, 0.3], [x1, 0.3], [x1, width - 0.3], [x0, width - 0.3]];
        *count = per_side;
    }
    let checked = unitwin::twin::build(loaded).unwrap();
    let mut app = headless_app(&checked, &RunOptions { seed, until: 900.0, threads: None, replay: None }).unwrap();
    // Measurement area: 8 m of the corridor's middle, as in the experiments.
    let (mx0, mx1) = (length / 2.0 - 4.0, length / 2.0 + 4.0);
    let area = 8.0 * width;
    let strips = (width / 0.5).floor() as usize;
    let (mut samples, mut order_sum, mut order_frames) = (Vec::new(), 0.0, 0u32);
    let (mut max_overlap, mut overlap_frames) = (f64::NEG_INFINITY, 0u32);
    let out = run_verified(&mut app, |world| {
        let overlap = deepest_overlap(world);
        max_overlap = max_overlap.max(overlap);
        overlap_frames += (overlap > BODY_OVERLAP_TOLERANCE) as u32;
        let clock = *world.resource::<SimClock>();
        let mut q = world.query::<(&AgentId, &Body)>();
        let (mut n, mut flow) = (0u32, 0.0);
        let mut per_strip = vec![(0u32, 0u32); strips];
        for (_, body) in q.iter(world) {
            if (mx0..mx1).contains(&body.pos.x) {
                n += 1;
                let vx = (body.pos.x - body.prev.x) / clock.dt;
                flow += vx.abs();
                let s = ((body.pos.y / width * strips as f64) as usize).min(strips - 1);
                if body.pos.x - body.prev.x >= 0.0 {
                    per_strip[s].0 += 1;
                } else {
                    per_strip[s].1 += 1;
                }
            }
        }
        if n >= 4 {
            samples.push((n as f64 / area, flow / area / 1.0));
            let (mut weighted, mut total) = (0.0, 0.0);
            for &(e, w) in &per_strip {
                let m = (e + w) as f64;
                if m > 0.0 {
                    weighted += (e as f64 - w as f64).abs();
                    total += m;
                }
            }
            order_sum += weighted / total;
            order_frames += 1;
        }
    });
    Counterflow {
        spawned: out.census.spawned,
        exited: out.census.exited,
        end: out.end,
        samples,
        lane_order: order_sum / order_frames.max(1) as f64,
        max_overlap,
        overlap_frames,
    }
}

fn report(label: &str, c: &Counterflow) -> Vec<String> {
    let mut failures = Vec::new();
    let peak = c.samples.iter().map(|s| s.0).fold(0.0, f64::max);
    println!(
        "  {label}: {}/{} through in {:.0} s; {} frames measured, peak {peak:.2} p/m²; lane order {:.2}; \
         deepest overlap {:.3} m, over {BODY_OVERLAP_TOLERANCE} m in {} steps",
        c.exited,
        c.spawned,
        c.end,
        c.samples.len(),
        c.lane_order,
        c.max_overlap,
        c.overlap_frames
    );
    if c.max_overlap > BODY_OVERLAP_TOLERANCE {
        failures.push(format!("{label}: bodies overlap by up to {:.3} m", c.max_overlap));
    }
    if c.exited != c.spawned {
        failures.push(format!(
            "{label}: {} of {} still in the corridor after {:.0} s",
            c.spawned - c.exited,
            c.spawned,
            c.end
        ));
    }
    // Frames binned by density (0.5 p/m² wide); bins with under 2 s of frames are too thin to judge.
    let mut bins = [(0.0, 0.0, 0u32); 12];
    for &(rho, js) in &c.samples {
        let b = ((rho / 0.5) as usize).min(bins.len() - 1);
        bins[b] = (bins[b].0 + rho, bins[b].1 + js, bins[b].2 + 1);
    }
    for (rho_sum, js_sum, n) in bins {
        // Beyond 4 p/m² lies outside the experiments' observed range (and near Weidmann's 5.4 jam density).
        if n < 40 || rho_sum / n as f64 > 4.0 {
            continue;
        }
        let (rho, js) = (rho_sum / n as f64, js_sum / n as f64);
        let unidirectional = rho * weidmann(rho);
        println!(
            "      {rho:.2} p/m²: specific flow {js:.2} p/(m·s), speed {:.2} m/s; unidirectional (Weidmann) {unidirectional:.2}",
            js / rho
        );
        // Up to 1 p/m² the bidirectional diagram matches the unidirectional one (the fundamental
        // diagram test's ±20 % around Weidmann); above it, it lies at or below it.
        if rho <= 1.0 && (js / unidirectional - 1.0).abs() > 0.2 {
            failures.push(format!(
                "{label}: at {rho:.2} p/m² specific flow {js:.2}, unidirectional {unidirectional:.2} (±20 %)"
            ));
        }
        if rho > 1.0 && js > 1.2 * unidirectional {
            failures.push(format!(
                "{label}: at {rho:.2} p/m² specific flow {js:.2} above the unidirectional {unidirectional:.2} (+20 %)"
            ));
        }
        // Zhang et al.'s streams kept moving over the whole observed density range.
        if js / rho < 0.1 {
            failures.push(format!("{label}: at {rho:.2} p/m² the streams stand (speed {:.2} m/s)", js / rho));
        }
    }
    failures
}

/// Zhang et al. (2012): in a 3.6 m corridor the opposing streams form lanes and keep moving over
/// the whole observed density range; no gridlock.
#[test]
fn opposing_groups_get_through_a_corridor() {
    let mut failures = Vec::new();
    println!("counterflow corridor (max body overlap tolerance {BODY_OVERLAP_TOLERANCE} m):");
    for (width, per_side) in [(4.0, 50), (4.0, 150), (4.0, 300), (3.0, 150), (6.0, 300)] {
        let c = corridor(width, per_side, 7);
        failures.extend(report(&format!("{width} m, {per_side} each way"), &c));
    }
    assert!(failures.is_empty(), "counterflow failed:\n{}", failures.join("\n"));
}

/// Zhang & Seyfried (2014): streams crossing at 90° also keep moving; both groups of 150 cross.
#[test]
fn flows_crossing_at_right_angles_get_through() {
    let path = Path::new(&manifest_dir()).join("tests/scenes/counterflow/crossing.ron");
    let checked = unitwin::twin::build(read_scene(&path).unwrap()).unwrap();
    let mut app = headless_app(&checked, &RunOptions { seed: 5, until: 900.0, threads: None, replay: None }).unwrap();
    let mut max_overlap = f64::NEG_INFINITY;
    let out = run_verified(&mut app, |world| max_overlap = max_overlap.max(deepest_overlap(world)));
    println!(
        "crossing at 90°: {}/{} through in {:.0} s (free walk of the longest path about 45 s); deepest overlap {max_overlap:.3} m",
        out.census.exited, out.census.spawned, out.end
    );
    assert_eq!(out.census.exited, out.census.spawned, "everyone crosses within 900 s");
    assert!(max_overlap <= BODY_OVERLAP_TOLERANCE, "bodies overlap by up to {max_overlap:.3} m");
}

fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
