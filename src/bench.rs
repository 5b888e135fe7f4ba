//! The benchmarks: an open plaza with four exits filled at 1 person/m², and a hall packed at 3
//! persons/m² with queues at four narrow exits (wall time per simulated second, µs per agent-step);
//! and a grid of signalised junctions (vehicle updates per second).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::app::RunOptions;
use crate::runner::Run;
use crate::scene::format::*;
use crate::scene::{LoadedScene, SourceMap, VehicleKind, parse_scene};

/// Persons per m² across the plaza at the start.
pub const PLAZA_DENSITY: f64 = 1.0;
/// Persons per m² across the hall at the start: a dense crowd that can only shuffle forwards
/// (Weidmann: about 0.4 m/s), as behind the exits of a real evacuation.
pub const HALL_DENSITY: f64 = 3.0;
/// Width of each of the hall's four exits, m: narrow enough that everyone near them queues.
pub const HALL_EXIT_WIDTH: f64 = 1.2;

/// Which crowd a benchmark times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BenchScene {
    /// An open plaza at 1 person/m² with a 4 m exit in the middle of each side: people walk
    /// almost freely.
    Plaza,
    /// A hall packed at 3 persons/m² with a 1.2 m exit in the middle of each side: everyone is in
    /// a dense crowd and those near the exits queue (the costly case of a real evacuation).
    Hall,
}

impl BenchScene {
    pub fn describe(self) -> String {
        match self {
            BenchScene::Plaza => format!("open plaza at {PLAZA_DENSITY} person/m², four 4 m exits"),
            BenchScene::Hall => {
                format!("hall packed at {HALL_DENSITY} persons/m², queues at four {HALL_EXIT_WIDTH} m exits")
            }
        }
    }
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BenchScene::Plaza => "plaza",
            BenchScene::Hall => "hall",
        }
    }
    fn density_and_exit_width(self) -> (f64, f64) {
        match self {
            BenchScene::Plaza => (PLAZA_DENSITY, 4.0),
            BenchScene::Hall => (HALL_DENSITY, HALL_EXIT_WIDTH),
        }
    }
}

/// A benchmark scene for `agents` people: a square filled at the scene's density, with an exit in
/// the middle of each side.
pub fn bench_scene(kind: BenchScene, agents: u32, seconds: f64) -> Scene {
    let (density, exit_width) = kind.density_and_exit_width();
    let side = (agents as f64 / density).sqrt().ceil() + 2.0;
    let mid = side / 2.0;
    let door = |id: &str, at: Point| Door {
        id: id.into(),
        level: "plaza".into(),
        at,
        width: exit_width,
        open: true,
        exit: true,
    };
    Scene {
        version: SCENE_VERSION,
        unit: Unit {
            name: format!("Benchmark {}, {agents} agents", kind.name()),
            kind: UnitKind::Plaza,
            origin: LatLon { lat: 31.2410, lon: 121.4860 },
            sources: "Synthetic benchmark geometry.".into(),
        },
        run: RunSettings { step: 0.05, duration: seconds, seed: 1, output_interval: 1.0, nav_cell: 0.25 },
        model: PedestrianModel::default(),
        routing: Routing::Static,
        levels: vec![Level {
            id: "plaza".into(),
            elevation: 0.0,
            walkable: vec![Area {
                id: "square".into(),
                outer: vec![[0.0, 0.0], [side, 0.0], [side, side], [0.0, side]],
                holes: vec![],
            }],
            walls: vec![],
        }],
        stairs: vec![],
        streets: vec![],
        junctions: vec![],
        signals: vec![],
        traffic: Default::default(),
        obstacles: vec![],
        buildings: vec![],
        doors: vec![
            door("north", [mid, side]),
            door("east", [side, mid]),
            door("south", [mid, 0.0]),
            door("west", [0.0, mid]),
        ],
        destinations: vec![],
        zones: vec![],
        populations: vec![Population {
            id: "crowd".into(),
            level: "plaza".into(),
            placement: Placement::Area {
                polygon: vec![[1.0, 1.0], [side - 1.0, 1.0], [side - 1.0, side - 1.0], [1.0, side - 1.0]],
                count: agents,
            },
            speed: Distribution::Normal { mean: 1.34, sd: 0.26, min: 0.5, max: 2.0 },
            premovement: Distribution::Constant(0.0),
            goal: Goal::NearestExit,
            exit_choice: ExitChoice::Nearest,
            radius: 0.21,
            time_gap: 0.5,
            relaxation: 0.5,
        }],
        measurements: vec![],
        events: vec![],
        hold_lines: vec![],
        playbooks: vec![],
        barriers: vec![],
        hazards: vec![],
    }
}

pub fn bench_loaded(kind: BenchScene, agents: u32, seconds: f64) -> LoadedScene {
    let scene = bench_scene(kind, agents, seconds);
    let text = ron::ser::to_string_pretty(&scene, ron::ser::PrettyConfig::default()).expect("plain data serialises");
    let source = SourceMap::new(std::path::Path::new("<benchmark scene>"), text);
    parse_scene(source, String::new()).expect("the generated benchmark scene parses")
}

/// One timed configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    pub scene: BenchScene,
    pub agents: u32,
    pub threads: usize,
    pub steps: u64,
    pub simulated_seconds: f64,
    pub wall_seconds: f64,
    /// Agents still in the scene at the end (the rest left by the exits).
    pub agents_at_end: u32,
    pub agent_steps: u64,
}

impl BenchResult {
    pub fn wall_per_simulated_second(&self) -> f64 {
        self.wall_seconds / self.simulated_seconds
    }
    pub fn micros_per_agent_step(&self) -> f64 {
        1e6 * self.wall_seconds / self.agent_steps as f64
    }
}

/// Runs one configuration in this process (the thread count is fixed per process).
pub fn run_one(kind: BenchScene, agents: u32, seconds: f64, threads: Option<usize>) -> Result<BenchResult, String> {
    let twin = crate::twin::build(bench_loaded(kind, agents, seconds)).map_err(|d| d.to_string())?;
    let options = RunOptions { seed: 1, until: seconds + 1.0, threads, replay: None };
    let mut run = Run::new(&twin, &options).map_err(|d| d.to_string())?;
    // The first step places everyone.
    run.step();
    let steps = (seconds / twin.scenario.run.step).round() as u64;
    let mut agent_steps = 0u64;
    let started = Instant::now();
    for _ in 0..steps {
        agent_steps += run.world().resource::<crate::crowd::Census>().on_site() as u64;
        run.step();
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let census = run.world().resource::<crate::crowd::Census>();
    Ok(BenchResult {
        scene: kind,
        agents,
        threads: threads.unwrap_or_else(crate::schedule::available_cores),
        steps,
        simulated_seconds: steps as f64 * twin.scenario.run.step,
        wall_seconds,
        agents_at_end: census.on_site(),
        agent_steps,
    })
}

/// Milliseconds to refresh an R-tree of `n` moving points: rebuilt with `bulk_load`, and updated
/// in place (each point removed and inserted again), after every point moved by up to 0.1 m.
pub fn rtree_refresh_millis(n: usize) -> (f64, f64) {
    use rand::{Rng, SeedableRng};
    use rstar::RTree;
    use rstar::primitives::GeomWithData;
    let side = (n as f64).sqrt();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let before: Vec<[f32; 2]> =
        (0..n).map(|_| [(rng.random::<f64>() * side) as f32, (rng.random::<f64>() * side) as f32]).collect();
    let after: Vec<[f32; 2]> = before
        .iter()
        .map(|p| [p[0] + (rng.random::<f32>() - 0.5) * 0.2, p[1] + (rng.random::<f32>() - 0.5) * 0.2])
        .collect();
    let points =
        |ps: &[[f32; 2]]| ps.iter().enumerate().map(|(i, p)| GeomWithData::new(*p, i as u32)).collect::<Vec<_>>();
    let started = Instant::now();
    let rebuilt = RTree::bulk_load(points(&after));
    let bulk = started.elapsed().as_secs_f64() * 1e3;
    let mut tree = RTree::bulk_load(points(&before));
    let started = Instant::now();
    for (i, (old, new)) in before.iter().zip(&after).enumerate() {
        tree.remove(&GeomWithData::new(*old, i as u32));
        tree.insert(GeomWithData::new(*new, i as u32));
    }
    let update = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(tree.size(), rebuilt.size());
    (bulk, update)
}

/// Milliseconds to rebuild a warm agent cell list (`crowd::cells`) of `n` points spread as in
/// `rtree_refresh_millis`, on one level: what unitwin does every step.
pub fn cell_list_rebuild_millis(n: usize) -> f64 {
    use bevy::math::DVec2;
    use rand::{Rng, SeedableRng};
    let side = (n as f64).sqrt();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let points: Vec<DVec2> =
        (0..n).map(|_| DVec2::new(rng.random::<f64>() * side, rng.random::<f64>() * side)).collect();
    let mut list = crate::crowd::cells::CellList::default();
    let bounds = || std::iter::once((DVec2::ZERO, DVec2::splat(side)));
    list.rebuild(bounds(), n, |k| (0, points[k], k as u32));
    let started = Instant::now();
    list.rebuild(bounds(), n, |k| (0, points[k] + DVec2::splat(0.05), k as u32));
    started.elapsed().as_secs_f64() * 1e3
}

/// The traffic benchmark's network: an `n` × `n` grid of signalised junctions `spacing` m apart,
/// two-way streets with one lane each way, and a 100 m street out of every edge junction where
/// vehicles come in (100 per hour each) and leave. Each junction runs a two-phase 60 s plan;
/// offsets step by 10 s across the grid.
pub fn traffic_grid_scene(n: usize, spacing: f64) -> Scene {
    let at = |i: usize, j: usize| [i as f64 * spacing, j as f64 * spacing];
    let junction = |i: usize, j: usize| format!("j{i}_{j}");
    let street = |id: String, a: Point, b: Point| Street {
        id,
        level: "roads".into(),
        centerline: vec![a, b],
        carriageway: 7.0,
        sidewalks: (1.0, 1.0),
        kerb: 0.15,
        fenced: false,
        one_way: false,
        lanes: 2,
        speed_limit: 50.0,
        bike_lanes: false,
        crossings: vec![],
    };
    let mut streets = Vec::new();
    let mut arms: Vec<Vec<(String, bool)>> = vec![Vec::new(); n * n];
    for j in 0..n {
        for i in 0..n {
            if i + 1 < n {
                let id = format!("h{i}_{j}");
                streets.push(street(id.clone(), at(i, j), at(i + 1, j)));
                arms[j * n + i].push((id.clone(), true));
                arms[j * n + i + 1].push((id, true));
            }
            if j + 1 < n {
                let id = format!("v{i}_{j}");
                streets.push(street(id.clone(), at(i, j), at(i, j + 1)));
                arms[j * n + i].push((id.clone(), false));
                arms[(j + 1) * n + i].push((id, false));
            }
        }
    }
    let mut flows = Vec::new();
    let mut edge = |id: String, inner: Point, outer: Point, k: usize, horizontal: bool, streets: &mut Vec<Street>| {
        streets.push(street(id.clone(), outer, inner));
        arms[k].push((id.clone(), horizontal));
        flows.push(crate::scene::Flow {
            id: format!("in_{id}"),
            street: id,
            from: crate::scene::StreetEnd::Start,
            rate: vec![(0.0, 100.0)],
            mix: vec![(crate::scene::VehicleKind::Car, 0.9), (crate::scene::VehicleKind::Bus, 0.1)],
            route: vec![],
            stops: vec![],
        });
    };
    for k in 0..n {
        let (lo, hi) = (-100.0, (n - 1) as f64 * spacing + 100.0);
        let x = k as f64 * spacing;
        edge(format!("w{k}"), at(0, k), [lo, x], k * n, true, &mut streets);
        edge(format!("e{k}"), at(n - 1, k), [hi, x], k * n + n - 1, true, &mut streets);
        edge(format!("s{k}"), at(k, 0), [x, lo], k, false, &mut streets);
        edge(format!("n{k}"), at(k, n - 1), [x, hi], (n - 1) * n + k, false, &mut streets);
    }
    let mut junctions = Vec::new();
    let mut signals = Vec::new();
    for j in 0..n {
        for i in 0..n {
            junctions.push(crate::scene::Junction {
                id: junction(i, j),
                level: "roads".into(),
                at: at(i, j),
                radius: 1.0,
                turns: vec![],
            });
            let head = |id: &str, horizontal: bool| crate::scene::SignalHead {
                id: id.into(),
                vehicles: arms[j * n + i]
                    .iter()
                    .filter(|a| a.1 == horizontal)
                    .map(|a| crate::scene::Approach { street: a.0.clone(), at: junction(i, j) })
                    .collect(),
                crossings: vec![],
            };
            let phase = |d: f64, g: &[&str], a: &[&str]| crate::scene::Phase {
                duration: d,
                green: g.iter().map(|s| s.to_string()).collect(),
                amber: a.iter().map(|s| s.to_string()).collect(),
            };
            signals.push(crate::scene::Signal {
                id: format!("signal_{i}_{j}"),
                heads: vec![head("east_west", true), head("north_south", false)],
                plans: vec![crate::scene::SignalPlan {
                    id: "fixed".into(),
                    offset: ((i + j) % 6) as f64 * 10.0,
                    phases: vec![
                        phase(25.0, &["east_west"], &[]),
                        phase(3.0, &[], &["east_west"]),
                        phase(2.0, &[], &[]),
                        phase(25.0, &["north_south"], &[]),
                        phase(3.0, &[], &["north_south"]),
                        phase(2.0, &[], &[]),
                    ],
                }],
            });
        }
    }
    let mut scene = bench_scene(BenchScene::Plaza, 1, 10.0);
    scene.unit.name = format!("Benchmark grid, {n} × {n} signalised junctions");
    scene.unit.kind = UnitKind::Neighbourhood;
    scene.run = RunSettings { step: 0.1, duration: 3600.0, seed: 1, output_interval: 1.0, nav_cell: 1.0 };
    scene.levels = vec![Level { id: "roads".into(), elevation: 0.0, walkable: vec![], walls: vec![] }];
    scene.doors = vec![];
    scene.populations = vec![];
    scene.streets = streets;
    scene.junctions = junctions;
    scene.signals = signals;
    scene.traffic.flows = flows;
    scene
}

/// One timed traffic configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrafficBenchResult {
    pub grid: usize,
    pub threads: usize,
    pub vehicles_at_start: usize,
    pub vehicles_at_end: usize,
    pub simulated_seconds: f64,
    pub wall_seconds: f64,
    pub vehicle_updates: u64,
    /// Of the whole step (signals, spawning, lane changes, junctions, IDM, movement, statistics).
    pub updates_per_second: f64,
    pub red_light_violations: u32,
    pub overlaps: u32,
}

/// Builds the grid, puts `vehicles` cars evenly on its lanes at their equilibrium speed, and times
/// `seconds` of simulated traffic on `threads` workers.
pub fn run_traffic(grid: usize, vehicles: usize, seconds: f64, threads: usize) -> Result<TrafficBenchResult, String> {
    let scene = traffic_grid_scene(grid, 200.0);
    let text = ron::ser::to_string_pretty(&scene, ron::ser::PrettyConfig::default()).expect("plain data serialises");
    let source = SourceMap::new(std::path::Path::new("<benchmark grid>"), text);
    let loaded = parse_scene(source, String::new()).map_err(|d| d.to_string())?;
    let twin = crate::twin::build(loaded).map_err(|d| d.to_string())?;
    let options = RunOptions { seed: 1, until: seconds + 10.0, threads: Some(threads), replay: None };
    let mut run = Run::new(&twin, &options).map_err(|d| d.to_string())?;
    let net = twin.traffic.clone();
    let lanes: Vec<u32> = (0..net.links.len() as u32).filter(|&l| !net.links[l as usize].is_turn()).collect();
    let total: f64 = lanes.iter().map(|&l| net.links[l as usize].length).sum();
    let spacing = total / vehicles as f64;
    let car = *net.params(VehicleKind::Car);
    let v = car.equilibrium_speed(car.v0.min(50.0 / 3.6), spacing - car.length);
    {
        let world = run.world_mut();
        let mut placed = world.resource_mut::<crate::traffic::Vehicles>();
        // Each lane gets its share, evenly spaced along it.
        let mut owed = 0.0;
        for &l in &lanes {
            let len = net.links[l as usize].length;
            owed += len / spacing;
            let n = owed.floor();
            owed -= n;
            let gap = len / (n + 1.0);
            for k in 1..=n as usize {
                placed.place(&net, &twin.space, VehicleKind::Car, l, gap * k as f64 + car.length / 2.0, v);
            }
        }
    }
    run.step();
    let start = run.world().resource::<crate::traffic::Vehicles>().count();
    let updates_before = run.world().resource::<crate::traffic::TrafficStats>().updates;
    let steps = (seconds / twin.scenario.run.step).round() as u64;
    let started = Instant::now();
    for _ in 0..steps {
        run.step();
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let stats = run.world().resource::<crate::traffic::TrafficStats>();
    let vehicle_updates = stats.updates - updates_before;
    Ok(TrafficBenchResult {
        grid,
        threads,
        vehicles_at_start: start,
        vehicles_at_end: run.world().resource::<crate::traffic::Vehicles>().count(),
        simulated_seconds: steps as f64 * twin.scenario.run.step,
        wall_seconds,
        vehicle_updates,
        updates_per_second: vehicle_updates as f64 / wall_seconds,
        red_light_violations: stats.red_violations,
        overlaps: stats.overlaps,
    })
}
