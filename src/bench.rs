//! The benchmark: an open plaza with four exits filled at 1 person/m², stepped for a fixed
//! simulated time; reports wall time per simulated second and microseconds per agent-step.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::app::RunOptions;
use crate::runner::Run;
use crate::scene::format::*;
use crate::scene::{LoadedScene, SourceMap, parse_scene};

/// Persons per m² across the plaza at the start.
pub const PLAZA_DENSITY: f64 = 1.0;

/// The benchmark scene for `agents` people: a square plaza with a 4 m exit in the middle of each side.
pub fn plaza_scene(agents: u32, seconds: f64) -> Scene {
    let side = (agents as f64 / PLAZA_DENSITY).sqrt().ceil() + 2.0;
    let mid = side / 2.0;
    let door =
        |id: &str, at: Point| Door { id: id.into(), level: "plaza".into(), at, width: 4.0, open: true, exit: true };
    Scene {
        version: SCENE_VERSION,
        unit: Unit {
            name: format!("Benchmark plaza, {agents} agents"),
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
    }
}

pub fn plaza_loaded(agents: u32, seconds: f64) -> LoadedScene {
    let scene = plaza_scene(agents, seconds);
    let text = ron::ser::to_string_pretty(&scene, ron::ser::PrettyConfig::default()).expect("plain data serialises");
    let source = SourceMap::new(std::path::Path::new("<benchmark plaza>"), text);
    parse_scene(source, String::new()).expect("the generated plaza parses")
}

/// One timed configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    pub agents: u32,
    pub threads: usize,
    pub steps: u64,
    pub simulated_seconds: f64,
    pub wall_seconds: f64,
    /// Agents still on the plaza at the end (the rest left by the exits).
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
pub fn run_one(agents: u32, seconds: f64, threads: Option<usize>) -> Result<BenchResult, String> {
    let twin = crate::twin::build(plaza_loaded(agents, seconds)).map_err(|d| d.to_string())?;
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
