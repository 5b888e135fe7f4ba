//! Pedestrians: agent components, placement and arrivals, exit choice, steering and movement.
//! The operational model is the collision-free speed model (Tordeux, Chraibi, Seyfried 2016).

pub mod cells;
pub mod crossing;
pub mod model;
pub mod motion;
pub mod route;
pub mod spawn;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use bevy::math::DVec2;
use bevy::prelude::*;

pub use crate::ids::AgentId;
use crate::ids::{DestinationId, DoorId, Id, LevelId, PopulationId, PortalId, TargetId};
use crate::nav::Navigation;
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

/// Where the agent wants to go, as steering last chose it (unit vectors, zero when standing):
/// `desired` from its floor field, so that others can tell someone coming towards them even in a
/// jam; `intent` after neighbours and walls bent it, so that those in its way can tell.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Heading {
    pub desired: DVec2,
    pub intent: DVec2,
    /// In contact with someone behind (against `intent`): it cannot step back to make room, so
    /// among the stalled it goes first and those who can step aside make way for it.
    pub boxed: bool,
    /// Stepping out of someone's way (then `intent` is the direction it steps in): those in
    /// that way give way in turn, so that room travels back through a packed crowd.
    pub yielding: bool,
    /// The free speed it wanted last step (its own, slowed on stairs and in smoke), m/s: whoever
    /// walks at about that pace walks freely, and may be overtaken.
    pub free_speed: f64,
}

/// Progress towards the current target: the best travel time to it reached so far, and for how
/// long it has not improved (s). The best counts only for the target, level and walls it was
/// measured on: with a new leg of a route, a new level or a new floor field, progress starts
/// afresh (else a stroller bound for the next point, farther than the one just reached, would
/// count as stalled all the way there).
#[derive(Component, Clone, Copy, Debug)]
pub struct Stalled {
    pub best: f32,
    pub since: f32,
    /// The target, level, walls' version, and whether progress is measured towards the agent's spot
    /// in its destination rather than along the floor field.
    pub measured_on: Option<(TargetId, LevelId, u64, bool)>,
    /// Last step it had someone crossing its way within reach (see `model::RELIEF_AMONG_CROSSERS_AFTER`).
    pub among_crossers: bool,
}

impl Stalled {
    /// Stalled long enough for deadlock relief: sooner among crossers.
    pub fn relieved(&self) -> bool {
        self.since >= model::DEADLOCK_RELIEF_AFTER
            || (self.among_crossers && self.since >= model::RELIEF_AMONG_CROSSERS_AFTER)
    }
}

impl Default for Stalled {
    fn default() -> Self {
        Stalled { best: f32::INFINITY, since: 0.0, measured_on: None, among_crossers: false }
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
    /// Where in the leg's destination the agent will stand: drawn once it sets foot in the place
    /// (`motion::spot_in_destination`), cleared with a new leg or target.
    pub spot: Option<DVec2>,
    /// The spot was drawn while the agent was held up just outside the place, in view (no wall in
    /// between): it heads straight there from where it is (`motion::spot_in_view`).
    pub spot_in_view: bool,
    /// A spot in view was drawn on this leg (it is drawn once: held up again outside the place on
    /// the way there, the agent gives it up and waits at the place's edge as before).
    pub looked_in_view: bool,
}

/// Positions of every agent at the start of the step (in storage order), with a cell list per
/// level for neighbour queries. Steering reads only this, so agents can be updated in parallel; it
/// sums over neighbours in `AgentId` order, so storage order never shows in the results.
#[derive(Resource, Default)]
pub struct CrowdSnapshot {
    pub agents: Vec<SnapAgent>,
    pub cells: cells::CellList,
    pub max_radius: f64,
    pub headings: HeadingGrid,
}

/// Where walkers head, counted per 1 m cell in eight sectors of direction: anyone can read in a
/// few lookups how many people come towards them further ahead. Counts are integers, so the
/// order agents are added in never shows.
#[derive(Default)]
pub struct HeadingGrid {
    levels: Vec<HeadingLevel>,
    /// The weight of the cells `k` m ahead, exp(−(k − 1) / `HEADING_DECAY`) for k = 1..=`LOOK_AHEAD`,
    /// worked out once instead of ten times per agent and step (the same `libm::exp`, so the same bits).
    weights: [f64; LOOK_AHEAD],
}

#[derive(Default)]
struct HeadingLevel {
    origin: DVec2,
    nx: usize,
    ny: usize,
    counts: Vec<[u16; 8]>,
    /// Per cell and sector, those heading into that sector or either next to it (what `oncoming`
    /// reads), summed once per step instead of at every look.
    within_sector: Vec<[u32; 8]>,
    /// Per cell, bit `s` set where `within_sector[s]` is not zero: one byte per cell, so that the
    /// look ahead reads a compact array and skips the empty cells.
    any_within_sector: Vec<u8>,
    /// Cells counted in this step, cleared at the next.
    touched: Vec<u32>,
}

/// Squared distance, m², at or below which someone stands on the very spot of an agent and is not
/// counted in the crowd around it (steering skips them too: they have no direction).
const CROWD_SAME_SPOT2: f64 = 1e-18;

/// How far ahead people look for others coming towards them, m (in 1 m cells).
const LOOK_AHEAD: usize = 10;
/// Over how many metres the weight of someone seen ahead falls by e.
const HEADING_DECAY: f64 = 5.0;

impl HeadingLevel {
    fn cell(&self, p: DVec2) -> Option<usize> {
        let q = p - self.origin;
        if q.x < 0.0 || q.y < 0.0 {
            return None;
        }
        let (i, j) = (q.x as usize, q.y as usize);
        (i < self.nx && j < self.ny).then_some(j * self.nx + i)
    }
}

/// The eighth of the compass a direction points to (0 = east, counter-clockwise): by comparisons
/// with tan 22.5°, and, within a millionth of a sector's edge, by the angle itself, so that it
/// always agrees with `sector_by_angle` (whose `atan2` was a per-agent cost twice a step).
fn sector(h: DVec2) -> usize {
    const TAN_22_5: f64 = 0.414_213_562_373_095_03;
    const MARGIN: f64 = 1e-6;
    let (ax, ay) = (h.x.abs(), h.y.abs());
    let size = ax + ay;
    let flat = ay - TAN_22_5 * ax;
    let steep = ax - TAN_22_5 * ay;
    if !(size > 0.0) || flat.abs() <= MARGIN * size || steep.abs() <= MARGIN * size {
        return sector_by_angle(h);
    }
    if flat < 0.0 {
        if h.x > 0.0 { 0 } else { 4 }
    } else if steep < 0.0 {
        if h.y > 0.0 { 2 } else { 6 }
    } else {
        match (h.x > 0.0, h.y > 0.0) {
            (true, true) => 1,
            (false, true) => 3,
            (false, false) => 5,
            (true, false) => 7,
        }
    }
}

fn sector_by_angle(h: DVec2) -> usize {
    (libm::round(libm::atan2(h.y, h.x) / std::f64::consts::FRAC_PI_4) as i64).rem_euclid(8) as usize
}

impl HeadingGrid {
    /// Counts every walker's heading in its cell; the grid covers each level's navigation grid.
    fn rebuild(&mut self, nav: &Navigation, agents: &[SnapAgent]) {
        if self.weights[0] == 0.0 {
            for (k, w) in (1..=LOOK_AHEAD).zip(&mut self.weights) {
                *w = libm::exp(-((k - 1) as f64) / HEADING_DECAY);
            }
        }
        if self.levels.len() != nav.grids.len() {
            self.levels = nav
                .grids
                .iter()
                .map(|g| {
                    let (nx, ny) = ((g.nx as f64 * g.cell).ceil() as usize, (g.ny as f64 * g.cell).ceil() as usize);
                    HeadingLevel {
                        origin: g.origin,
                        nx,
                        ny,
                        counts: vec![[0; 8]; nx * ny],
                        within_sector: vec![[0; 8]; nx * ny],
                        any_within_sector: vec![0; nx * ny],
                        touched: Vec::new(),
                    }
                })
                .collect();
        }
        for level in &mut self.levels {
            for &k in &level.touched {
                level.counts[k as usize] = [0; 8];
                level.within_sector[k as usize] = [0; 8];
                level.any_within_sector[k as usize] = 0;
            }
            level.touched.clear();
        }
        for a in agents {
            if a.heading == DVec2::ZERO {
                continue;
            }
            let level = &mut self.levels[a.level.index()];
            if let Some(k) = level.cell(a.pos) {
                let counts = &mut level.counts[k];
                if counts.iter().all(|&c| c == 0) {
                    level.touched.push(k as u32);
                }
                let s = sector(a.heading);
                counts[s] = counts[s].saturating_add(1);
            }
        }
        for level in &mut self.levels {
            for &k in &level.touched {
                let c = level.counts[k as usize];
                let within: [u32; 8] =
                    std::array::from_fn(|s| c[s] as u32 + c[(s + 1) % 8] as u32 + c[(s + 7) % 8] as u32);
                level.within_sector[k as usize] = within;
                level.any_within_sector[k as usize] = (0..8).fold(0, |m, s| m | u8::from(within[s] != 0) << s);
            }
        }
    }

    /// People heading against `e0` (within 67.5° of the opposite direction) in the cells up to
    /// `LOOK_AHEAD` m ahead of `p` and a metre to either side, nearer cells weighing more.
    pub fn oncoming(&self, level: LevelId, p: DVec2, e0: DVec2) -> f64 {
        let Some(grid) = self.levels.get(level.index()) else { return 0.0 };
        let against = sector(-e0);
        let bit = 1u8 << against;
        let left = e0.perp();
        let mut total = 0.0;
        for (k, &weight) in (1..=LOOK_AHEAD).zip(&self.weights) {
            for m in [-1.0, 0.0, 1.0] {
                // An empty cell adds +0.0, which leaves the sum's bits as they are: skipped.
                if let Some(cell) = grid.cell(p + e0 * k as f64 + left * m)
                    && grid.any_within_sector[cell] & bit != 0
                {
                    total += weight * grid.within_sector[cell][against] as f64;
                }
            }
        }
        total
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SnapAgent {
    pub id: u32,
    pub level: LevelId,
    pub pos: DVec2,
    pub vel: DVec2,
    /// Desired direction (unit, or zero when standing).
    pub heading: DVec2,
    /// The direction it tried to walk in last step, after neighbours and walls (unit, or zero).
    pub intent: DVec2,
    /// It could not step back last step (see `Heading::boxed`).
    pub boxed: bool,
    /// Stepping out of someone's way (see `Heading::yielding`).
    pub yielding: bool,
    /// Stalled long enough for deadlock relief: others in its way make room for it.
    pub relieved: bool,
    /// The free speed it wanted last step, m/s (see `Heading::free_speed`).
    pub free_speed: f64,
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
    /// Each arrival flow's people kept outside: due by its rate but not yet in, for want of room
    /// at the door or behind a held line's queue (absent for populations placed at the start).
    pub outside: BTreeMap<PopulationId, Outside>,
    /// All arrival flows together (the peak is of the sum, not the sum of each flow's peak).
    pub outside_total: Outside,
}

/// People due by an arrival flow who have not found room to come in (yet): now, and at most.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outside {
    /// Due by the rate (after any far-end control's share) up to now.
    pub due: u32,
    /// Come in.
    pub let_in: u32,
    /// The most kept outside at once, and when that was first reached, s.
    pub peak: u32,
    pub peak_at: f64,
}

impl Outside {
    /// Kept outside now.
    pub fn now(&self) -> u32 {
        self.due.saturating_sub(self.let_in)
    }
}

impl Census {
    pub fn on_site(&self) -> u32 {
        self.spawned - self.exited
    }

    /// All arrival flows' people kept outside, or `None` in a scene without arrival flows (whose
    /// outputs then carry no such figure at all, rather than a zero that means nothing).
    pub fn kept_outside(&self) -> Option<&Outside> {
        (!self.outside.is_empty()).then_some(&self.outside_total)
    }
}

/// Stays begun at each place people stay at, by destination: how many stayed, and how many found
/// it full and passed it by (`when_full: PassBy`). Counted from the parallel step with atomics:
/// sums of integers, so the order agents are stepped in never shows.
#[derive(Resource)]
pub struct PlaceVisits(Vec<[AtomicU32; 2]>);

impl FromWorld for PlaceVisits {
    fn from_world(world: &mut World) -> Self {
        let places = world.get_resource::<SpaceRes>().map_or(0, |s| s.0.destinations.len());
        PlaceVisits((0..places).map(|_| [AtomicU32::new(0), AtomicU32::new(0)]).collect())
    }
}

impl PlaceVisits {
    pub fn count(&self, place: DestinationId, passed_by: bool) {
        if let Some(counts) = self.0.get(place.index()) {
            counts[usize::from(passed_by)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many stayed and how many passed by, for each destination in order.
    pub fn totals(&self) -> Vec<[u32; 2]> {
        self.0.iter().map(|c| [c[0].load(Ordering::Relaxed), c[1].load(Ordering::Relaxed)]).collect()
    }
}

/// The crowd: spawning, the snapshot, routes, steering, movement, leaving and stairs.
pub struct CrowdPlugin;

impl Plugin for CrowdPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CrowdSnapshot>()
            .init_resource::<Census>()
            .init_resource::<PlaceVisits>()
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
            .add_systems(
                SimStep,
                (route::follow_crowd, route::follow_exit_assignments, route::choose_exits)
                    .chain()
                    .in_set(SimSystems::Route),
            )
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
    agents: Query<(&AgentId, &Body, &Velocity, &Heading, &Stalled, &Plan, &crossing::KerbWait)>,
    space: Res<SpaceRes>,
    nav: Res<Navigation>,
) {
    let snapshot = &mut *snapshot;
    snapshot.agents.clear();
    snapshot.agents.extend(agents.iter().map(|(id, body, velocity, heading, stalled, plan, kerb)| SnapAgent {
        id: id.0,
        level: body.level,
        pos: body.pos,
        vel: velocity.0,
        heading: heading.desired,
        intent: heading.intent,
        boxed: heading.boxed,
        yielding: heading.yielding,
        relieved: stalled.relieved(),
        free_speed: heading.free_speed,
        radius: body.radius,
        target: plan.target,
        crosses_anywhere: kerb.crosses_anywhere,
    }));
    // By id, so that the cell list holds each cell's agents in id order and every neighbour list
    // comes out in an order that does not depend on how the ECS stores agents. Nearly sorted
    // already (agents are stored about in the order they came), which the stable sort runs through.
    snapshot.agents.sort_by_key(|a| a.id);
    snapshot.max_radius = snapshot.agents.iter().map(|a| a.radius).fold(0.0, f64::max);
    // Each level's cells cover its navigation grid; anyone beyond it is kept in the border cells.
    let bounds = (0..space.0.levels.len()).map(|level| match nav.grids.get(LevelId::from_index(level)) {
        Some(g) => (g.origin, g.origin + DVec2::new(g.nx as f64, g.ny as f64) * g.cell),
        None => (DVec2::ZERO, DVec2::ZERO),
    });
    let agents = &snapshot.agents;
    snapshot.cells.rebuild(bounds, agents.len(), |k| {
        let a = &agents[k];
        (a.level.index(), a.pos, a.id)
    });
    snapshot.headings.rebuild(&nav, &snapshot.agents);
}

impl CrowdSnapshot {
    /// Fills `out` with the snapshot indices of agents on `level` within `reach` of `p`, in cell
    /// order and by `AgentId` within a cell: an order fixed by positions and ids alone, whatever
    /// the order agents were spawned, stored or stepped in.
    pub fn neighbours(&self, level: LevelId, p: DVec2, reach: f64, out: &mut Vec<u32>) {
        let reach2 = reach * reach;
        self.collect(
            level,
            p - DVec2::splat(reach + cells::MARGIN),
            p + DVec2::splat(reach + cells::MARGIN),
            out,
            |q| q.distance_squared(p) <= reach2,
        );
    }

    /// Fills `out` like `neighbours` within `near` of `p`, and besides them with those up to `far`
    /// away that are ahead of `p` along the unit `ahead` and less than `half_width` to either side
    /// of that line: the disc and the lane ahead that steering reads, without the rest of the
    /// wider disc. Returns the crowd around `p`: how many agents are within `crowd_radius` (other
    /// than any on `p` itself), and how many of those are ahead, counted in the same pass.
    #[allow(clippy::too_many_arguments)]
    pub fn neighbours_ahead_and_crowd(
        &self,
        level: LevelId,
        p: DVec2,
        near: f64,
        far: f64,
        ahead: DVec2,
        half_width: f64,
        crowd_radius: f64,
        out: &mut Vec<u32>,
    ) -> (u32, u32) {
        let (near2, far2, crowd2) = (near * near, far * far, crowd_radius * crowd_radius);
        let across = ahead.perp();
        // The box around the disc, the crowd's disc and the lane's far corners.
        let (a, b) = (p + ahead * far + across * half_width, p + ahead * far - across * half_width);
        let disc = DVec2::splat(near.max(crowd_radius));
        let lo = (p - disc).min(a).min(b) - DVec2::splat(cells::MARGIN);
        let hi = (p + disc).max(a).max(b) + DVec2::splat(cells::MARGIN);
        let (mut crowd, mut crowd_ahead) = (0u32, 0u32);
        self.collect(level, lo, hi, out, |q| {
            let offset = q - p;
            let d2 = offset.length_squared();
            let forward = offset.dot(ahead);
            let around = (d2 < crowd2) & (d2 > CROWD_SAME_SPOT2);
            crowd += around as u32;
            crowd_ahead += (around & (forward > 0.0)) as u32;
            (d2 <= near2) | ((d2 <= far2) & (forward > 0.0) & (offset.dot(across).abs() < half_width))
        });
        (crowd, crowd_ahead)
    }

    /// The snapshot indices of agents on `level` in the box `lo`–`hi` for which `keep(position)`.
    #[inline]
    fn collect(&self, level: LevelId, lo: DVec2, hi: DVec2, out: &mut Vec<u32>, mut keep: impl FnMut(DVec2) -> bool) {
        out.clear();
        self.cells.for_each_run_in(level.index(), lo, hi, |indices, points, _| {
            // Without a branch: every candidate is written, and only those kept are counted.
            let mut n = out.len();
            out.resize(n + points.len(), 0);
            for (q, &index) in points.iter().zip(indices) {
                out[n] = index;
                n += keep(*q) as usize;
            }
            out.truncate(n);
        });
    }

    /// Whether every agent on `level` within `reach` of `p` (exact f64 distance) passes `test`,
    /// in no particular order.
    pub fn all_within(&self, level: LevelId, p: DVec2, reach: f64, mut test: impl FnMut(&SnapAgent) -> bool) -> bool {
        let mut all = true;
        self.cells.for_each_run(level.index(), p, reach + cells::MARGIN, |indices, points, _| {
            if all {
                for (k, q) in points.iter().enumerate() {
                    if q.distance_squared(p) <= reach * reach && !test(&self.agents[indices[k] as usize]) {
                        all = false;
                        return;
                    }
                }
            }
        });
        all
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The comparisons agree with the angle everywhere, also next to each sector's edge.
    #[test]
    fn sector_agrees_with_the_angle() {
        let mut directions = vec![DVec2::ZERO, DVec2::new(-0.0, 0.0), DVec2::new(-1.0, -0.0), DVec2::new(0.0, -1.0)];
        for i in 0..200_000 {
            let a = i as f64 / 200_000.0 * std::f64::consts::TAU;
            directions.push(DVec2::new(libm::cos(a), libm::sin(a)));
        }
        for edge in 0..8 {
            let a = (edge as f64 + 0.5) * std::f64::consts::FRAC_PI_4;
            for k in -20_000..=20_000 {
                let b = a + k as f64 * if k % 2 == 0 { 1e-13 } else { 1e-8 };
                directions.push(DVec2::new(libm::cos(b), libm::sin(b)) * 3.7);
            }
        }
        for h in directions {
            assert_eq!(sector(h), sector_by_angle(h), "{h:?}");
        }
    }
}
