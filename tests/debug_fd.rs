mod common;
use std::path::Path;
use unitwin::crowd::{AgentId, Body, Census};
use unitwin::scene::{Placement, check_scene, read_scene};
use unitwin::sim::{RunOptions, SimClock, SimControl, headless_app};
fn weidmann(d: f64) -> f64 {
    1.34 * (1.0 - (-1.913 * (1.0 / d - 1.0 / 5.4)).exp())
}
fn fd(nominal: f64, tg: f64, r: f64) -> (f64, f64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/verification/fd_corridor.ron");
    let mut loaded = read_scene(&path).unwrap();
    let Placement::Area { count, .. } = &mut loaded.scene.populations[0].placement else { unreachable!() };
    *count = (nominal * 300.0).round() as u32;
    loaded.scene.populations[0].time_gap = tg;
    loaded.scene.populations[0].radius = r;
    if std::env::var("CONST").is_ok() {
        loaded.scene.populations[0].speed = unitwin::scene::Distribution::Constant(1.34);
    }
    if let Ok(d) = std::env::var("DN") {
        loaded.scene.model = unitwin::scene::PedestrianModel::CollisionFreeSpeed {
            neighbour_strength: 8.0,
            neighbour_range: d.parse().unwrap(),
            wall_strength: 5.0,
            wall_range: 0.02,
        };
    }
    let checked = check_scene(loaded).unwrap();
    let mut app = headless_app(&checked, &RunOptions { seed: 4, until: 70.0, threads: None }).unwrap();
    let (mut n, mut ds, mut ss, mut sn) = (0u64, 0.0, 0.0, 0u64);
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let world = app.world_mut();
        let c = *world.resource::<SimClock>();
        if c.now() < 10.0 {
            continue;
        }
        let mut q = world.query::<(&AgentId, &Body)>();
        let mut inside = 0;
        for (_, b) in q.iter(world) {
            if (45.0..55.0).contains(&b.pos.x) {
                inside += 1;
                ss += (b.pos.x - b.prev.x) / c.dt;
                sn += 1;
            }
        }
        ds += inside as f64 / 30.0;
        n += 1;
    }
    (ds / n as f64, ss / sn.max(1) as f64)
}
fn bn(width: f64, tg: f64, r: f64) -> (f64, u32) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/verification/bottleneck.ron");
    let mut loaded = read_scene(&path).unwrap();
    let (lo, hi) = (5.0 - width / 2.0, 5.0 + width / 2.0);
    loaded.scene.levels[0].walkable[1].outer = vec![[8.0, lo], [10.0, lo], [10.0, hi], [8.0, hi]];
    loaded.scene.doors[0].width = width;
    loaded.scene.populations[0].time_gap = tg;
    loaded.scene.populations[0].radius = r;
    if let Ok(d) = std::env::var("DN") {
        loaded.scene.model = unitwin::scene::PedestrianModel::CollisionFreeSpeed {
            neighbour_strength: 8.0,
            neighbour_range: d.parse().unwrap(),
            wall_strength: 5.0,
            wall_range: 0.02,
        };
    }
    let checked = check_scene(loaded).unwrap();
    let mut app = headless_app(&checked, &RunOptions { seed: 9, until: 200.0, threads: None }).unwrap();
    let mut exits = Vec::new();
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let w = app.world();
        let e = w.resource::<Census>().exited as usize;
        let t = w.resource::<SimClock>().now();
        while exits.len() < e {
            exits.push(t);
        }
    }
    let n = exits.len();
    if n < 10 {
        return (0.0, n as u32);
    }
    let (a, b) = (n / 5, 4 * n / 5);
    ((b - a) as f64 / (exits[b] - exits[a]), n as u32)
}
#[test]
fn sweep() {
    let tgs: Vec<f64> = std::env::var("TG").unwrap_or("1.0".into()).split(',').map(|x| x.parse().unwrap()).collect();
    let rs: Vec<f64> = std::env::var("RR").unwrap_or("0.2".into()).split(',').map(|x| x.parse().unwrap()).collect();
    for &tg in &tgs {
        for &r in &rs {
            let mut line = format!("T={tg} r={r}: FD");
            for d in [0.5, 1.0, 2.0, 3.0, 4.0] {
                let (m, v) = fd(d, tg, r);
                line += &format!(" {m:.2}:{:+.0}%", 100.0 * (v / weidmann(m) - 1.0));
            }
            line += " | BN";
            for w in [0.8, 1.2, 1.6, 2.4] {
                let (j, n) = bn(w, tg, r);
                line += &format!(" {w}:{:+.0}%({n})", 100.0 * (j / (1.9 * w) - 1.0));
            }
            println!("{line}");
        }
    }
}
