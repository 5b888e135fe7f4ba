//! Shared harness for the verification tests: load a scene, step it, and after every step check
//! that every agent stands on walkable floor, overlaps no wall or body, and that agents are conserved.
#![allow(dead_code)]

use std::path::Path;

use bevy::prelude::*;
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::crossing::KerbWait;
use unitwin::crowd::{AgentId, Body, Census, Plan};
use unitwin::geom::{distance_to_segment, segments_intersect};
use unitwin::nav::Navigation;
use unitwin::scene::read_scene;
use unitwin::schedule::{SimClock, SimControl};
use unitwin::space::{Space, SpaceRes};
use unitwin::twin::Twin;

pub fn load(path: &str) -> Twin {
    let full = Path::new(&unitwin_manifest_dir()).join(path);
    match read_scene(&full).and_then(unitwin::twin::build) {
        Ok(c) => c,
        Err(d) => panic!("{path} does not check:\n{d}"),
    }
}

pub fn app(checked: &Twin, seed: u64) -> App {
    let options = RunOptions { seed, until: checked.scene().run.duration, threads: None, replay: None };
    headless_app(checked, &options).expect("placement succeeds")
}

/// Result of a verified run.
pub struct Outcome {
    pub census: Census,
    /// Agents who left by each exit, by the exit's scene id.
    pub per_exit: std::collections::BTreeMap<String, u32>,
    /// Simulated time when the run ended.
    pub end: f64,
    /// Smallest clearance (centre-to-wall distance minus radius) seen, m, if under `CLEARANCE_SEEN_WITHIN`.
    pub min_clearance: f64,
}

/// How far two bodies may overlap, m: real bodies compress by a few centimetres at most
/// (reference: validation.md, body overlap), and the model's bodies are rigid discs.
pub const BODY_OVERLAP_TOLERANCE: f64 = 0.04;

/// How far beyond an opening's line a centre may be, m, beyond its radius: a walker's step in one
/// tick at up to 4 m/s (0.05 s). Someone in a stair opening waits there with its centre past the
/// line until the stair lets it on; someone leaving by an exit is gone within the step.
pub const DOORWAY_REACH: f64 = 0.2;

/// Clearances from walls up to this, m, are reported exactly by `check_invariants` (it looks no further for
/// walls: a wider look costs the largest scenes more than their run).
pub const CLEARANCE_SEEN_WITHIN: f64 = 0.1;

/// One agent as the invariant checks see it: copied out of the world once a step.
#[derive(Clone, Copy)]
struct Seen {
    entity: Entity,
    id: u32,
    body: Body,
    crosses_anywhere: bool,
}

/// Below this many agents the checks run on the calling thread: starting threads every step would
/// cost small scenes more than the checks.
const CHECK_IN_PARALLEL_FROM: usize = 2_000;

/// Checks the invariants on the current state; panics with the offending agent. Returns the
/// smallest clearance from a wall seen (see `CLEARANCE_SEEN_WITHIN`).
pub fn check_invariants(world: &mut World) -> f64 {
    let mut q = world.query::<(Entity, &AgentId, &Body, &KerbWait)>();
    let mut seen: Vec<Seen> = q
        .iter(world)
        .map(|(entity, id, body, kerb)| Seen { entity, id: id.0, body: *body, crosses_anywhere: kerb.crosses_anywhere })
        .collect();
    let world: &World = world;
    let t = world.resource::<SimClock>().now();
    let census = world.resource::<Census>();
    let present = seen.len() as u32;
    assert_eq!(
        census.spawned,
        present + census.exited,
        "t = {t:.2} s: agents not conserved: {} spawned, {present} on site, {} exited",
        census.spawned,
        census.exited
    );
    let space = &world.resource::<SpaceRes>().0;
    let nav = world.resource::<Navigation>();
    let checked = in_parallel(&seen, |agents| check_walls_and_floor(space, nav, agents, t));
    let min_clearance = match checked {
        Ok(clearances) => clearances.into_iter().fold(f64::INFINITY, f64::min),
        Err((agent, message)) => panic!("{message}; plan: {:?}", world.get::<Plan>(agent)),
    };
    if let Err(message) = check_bodies(&mut seen, t) {
        panic!("{message}");
    }
    min_clearance
}

/// Runs `check` over `agents`, split across the machine's threads when there are many; the first
/// failure (in the order the agents were seen) wins.
fn in_parallel<T: Send, E: Send>(agents: &[Seen], check: impl Fn(&[Seen]) -> Result<T, E> + Sync) -> Result<Vec<T>, E> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if agents.len() < CHECK_IN_PARALLEL_FROM || threads == 1 {
        return check(agents).map(|r| vec![r]);
    }
    let chunk = agents.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = agents.chunks(chunk).map(|part| s.spawn(|| check(part))).collect();
        handles.into_iter().map(|h| h.join().expect("the check thread does not panic")).collect()
    })
}

/// Every agent's position is finite, overlaps no wall and crossed none this step, and stands on its
/// level's walkable floor or in an open doorway. Returns the smallest clearance from a wall seen.
fn check_walls_and_floor(space: &Space, nav: &Navigation, agents: &[Seen], t: f64) -> Result<f64, (Entity, String)> {
    let mut min_clearance = f64::INFINITY;
    for &Seen { entity, id, body, crosses_anywhere } in agents {
        if !(body.pos.is_finite() && body.prev.is_finite() && body.radius.is_finite()) {
            return Err((
                entity,
                format!("t = {t:.2} s: agent {id} is not at a finite position ({:?} from {:?})", body.pos, body.prev),
            ));
        }
        // Those who cross streets anywhere meet the open level's walls (no kerbs on unfenced streets).
        let walls = space.levels[body.level].walls_for(crosses_anywhere);
        if walls.tree.size() != walls.segments.len() {
            return Err((entity, format!("t = {t:.2} s: the wall index does not hold every wall")));
        }
        // A wall the body overlaps is within its radius, one crossed this step within the step's length;
        // the margin keeps the smallest clearance exact below it (the R-tree makes this linear in agents).
        let reach = body.radius + body.prev.distance(body.pos) + CLEARANCE_SEEN_WITHIN;
        for wall in walls.near(body.pos, reach).map(|w| &walls.segments[w.data as usize]) {
            let d = distance_to_segment(body.pos, wall.a, wall.b);
            min_clearance = min_clearance.min(d - body.radius);
            if d < body.radius - 1e-6 {
                return Err((
                    entity,
                    format!(
                        "t = {t:.2} s: agent {id} overlaps a wall (centre {d:.3} m from it, radius {})",
                        body.radius
                    ),
                ));
            }
            if body.prev != body.pos && segments_intersect(body.prev, body.pos, wall.a, wall.b) {
                return Err((
                    entity,
                    format!("t = {t:.2} s: agent {id} crossed a wall between {:?} and {:?}", body.prev, body.pos),
                ));
            }
        }
        if !on_floor(space, nav, &body, crosses_anywhere) {
            return Err((
                entity,
                format!(
                    "t = {t:.2} s: agent {id} stands off the floor of level {} at ({:.3}, {:.3}), in no open doorway \
                     (from ({:.3}, {:.3}) this step)",
                    space.levels[body.level].id, body.pos.x, body.pos.y, body.prev.x, body.prev.y
                ),
            ));
        }
    }
    Ok(min_clearance)
}

/// Whether someone's centre is on its level's walkable area or in an open doorway there (within its
/// radius and `DOORWAY_REACH` of the opening). Walls alone do not show it: where a level ends at a
/// stair opening or an exit no wall goes on beyond it.
fn on_floor(space: &Space, nav: &Navigation, body: &Body, crosses_anywhere: bool) -> bool {
    use geo::Intersects;
    let grid = &nav.for_agent(crosses_anywhere).grids[body.level];
    // A walkable cell has its centre on the floor; only elsewhere is the outline itself asked.
    if grid.cell_at(body.pos).is_some_and(|k| grid.walkable[k]) {
        return true;
    }
    let level = &space.levels[body.level];
    let walkable = match (&level.open, crosses_anywhere) {
        (Some(open), true) => &open.walkable,
        _ => &level.walkable,
    };
    walkable.intersects(&geo::Point::new(body.pos.x, body.pos.y))
        || space.doors_on(body.level).any(|(_, d)| {
            d.boundary
                && d.cuts_wall(&space.portals)
                && distance_to_segment(body.pos, d.a, d.b) <= body.radius + DOORWAY_REACH
        })
}

/// Fails when two bodies on one level overlap by more than `BODY_OVERLAP_TOLERANCE`. Bodies are
/// sorted into 1 m cells (no radius exceeds 0.5 m), so each meets only those in its own cell and the
/// next ones, found by binary search: the check costs the sort's n log n.
fn check_bodies(seen: &mut [Seen], t: f64) -> Result<(), String> {
    // The cell as one sortable key: level, then column, then row (positions are finite, checked above,
    // and within ±2^23 m of the origin).
    const OFFSET: i64 = 1 << 23;
    let key =
        |level: usize, x: i64, y: i64| ((level as u64) << 48) | (((x + OFFSET) as u64) << 24) | (y + OFFSET) as u64;
    let cell = |s: &Seen| (s.body.level.index(), s.body.pos.x.floor() as i64, s.body.pos.y.floor() as i64);
    let key_of = |s: &Seen| {
        let (l, x, y) = cell(s);
        key(l, x, y)
    };
    if let Some(far) =
        seen.iter().find(|s| s.body.pos.x.abs() >= (OFFSET - 4) as f64 || s.body.pos.y.abs() >= (OFFSET - 4) as f64)
    {
        return Err(format!("t = {t:.2} s: agent {} is {:?}, beyond any scene", far.id, far.body.pos));
    }
    seen.sort_unstable_by_key(|s| (key_of(s), s.id));
    let keys: Vec<u64> = seen.iter().map(key_of).collect();
    let first_at_or_after = |k: u64| keys.partition_point(|&c| c < k);
    let check_pair = |a: &Seen, b: &Seen| {
        let apart = a.body.pos.distance(b.body.pos);
        let overlap = a.body.radius + b.body.radius - apart;
        if overlap > BODY_OVERLAP_TOLERANCE {
            let (first, second) = if a.id < b.id { (a.id, b.id) } else { (b.id, a.id) };
            return Err(format!(
                "t = {t:.2} s: agents {first} and {second} overlap by {overlap:.3} m (centres {apart:.3} m apart; \
                 tolerance {BODY_OVERLAP_TOLERANCE} m)"
            ));
        }
        Ok(())
    };
    for (i, a) in seen.iter().enumerate() {
        let (l, x, y) = cell(a);
        // Each pair once: those after `a` in its own column up to the next row, then the next column's
        // three rows (the previous column's pairs were met from there).
        let own_column_end = first_at_or_after(key(l, x, y + 2));
        let next_column = first_at_or_after(key(l, x + 1, y - 1))..first_at_or_after(key(l, x + 1, y + 2));
        for b in seen[i + 1..own_column_end].iter().chain(&seen[next_column]) {
            check_pair(a, b)?;
        }
    }
    Ok(())
}

/// Steps to the end of the run, checking the invariants after every step and calling `observe`.
pub fn run_verified(app: &mut App, mut observe: impl FnMut(&mut World)) -> Outcome {
    let mut min_clearance = f64::INFINITY;
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let world = app.world_mut();
        min_clearance = min_clearance.min(check_invariants(world));
        observe(world);
    }
    let world = app.world();
    let census = world.resource::<Census>().clone();
    let space = &world.resource::<SpaceRes>().0;
    let per_exit = census.per_exit.iter().map(|(d, n)| (space.doors[*d].id.clone(), *n)).collect();
    Outcome { census, per_exit, end: world.resource::<SimClock>().now(), min_clearance }
}

/// Agents' (id, position) now, in id order.
pub fn positions(world: &mut World) -> Vec<(u32, bevy::math::DVec2)> {
    let mut q = world.query::<(&AgentId, &Body)>();
    let mut v: Vec<_> = q.iter(world).map(|(id, b)| (id.0, b.pos)).collect();
    v.sort_by_key(|a| a.0);
    v
}

/// Fruin's level of service for walkways at a density in persons/m² (validation.md: area per person
/// A ≥ 3.25 m², B 2.32–3.25, C 1.39–2.32, D 0.93–1.39, E 0.46–0.93, F < 0.46).
pub fn fruin(density: f64) -> char {
    match 1.0 / density.max(1e-9) {
        a if a >= 3.25 => 'A',
        a if a >= 2.32 => 'B',
        a if a >= 1.39 => 'C',
        a if a >= 0.93 => 'D',
        a if a >= 0.46 => 'E',
        _ => 'F',
    }
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// Runs `twin` to a run folder, replays that run from its `commands.ron` into another, and asserts
/// that trajectories, summary and command log are byte-identical. Returns the temporary folder
/// holding both (`first/` and `again/`).
#[allow(dead_code)]
pub fn run_and_replay(twin: &Twin, seed: u64, until: f64) -> tempfile::TempDir {
    use unitwin::runner::{RunRequest, replay_from_file, run_to_folder};
    let dir = tempfile::tempdir().unwrap();
    let go = |out: std::path::PathBuf, commands: Option<std::path::PathBuf>| {
        let replay = commands.as_ref().map(|c| replay_from_file(twin, c).unwrap().0);
        let options = RunOptions { seed, until, threads: Some(1), replay };
        let request = RunRequest { options, out_dir: out, force: false, progress: false, commands_file: commands };
        run_to_folder(twin, &request, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    };
    let (first, again) = (dir.path().join("first"), dir.path().join("again"));
    go(first.clone(), None);
    go(again, Some(first.join("commands.ron")));
    for file in ["trajectories.txt", "summary.json", "commands.ron"] {
        let read = |run: &str| std::fs::read(dir.path().join(run).join(file)).unwrap();
        assert!(read("first") == read("again"), "{file} differs between the run and its replay");
    }
    dir
}
