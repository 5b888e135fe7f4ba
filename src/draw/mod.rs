//! Read-only draw data: the one thing a renderer or a report reads from a running twin. The static
//! twin in world coordinates, and each step's agents, published in the schedule's last set.

use bevy::math::DVec2;
use bevy::prelude::*;

use crate::crowd::{Activity, AgentId, Body, Census, Outside, Plan, Velocity, Walker};
use crate::geom::Point;
use crate::ids::{DoorId, LevelId, PopulationId, StairId, ZoneId};
use crate::metrics::Measurements;
use crate::nav::Navigation;
use crate::schedule::{SimClock, SimStep, SimSystems};
use crate::space::{BuildingUse, DoorKind, LaneDirection, LevelKind, LineRelease, Space, SpaceRes, StairDirection};
use crate::twin::{MeasurementPlan, Scenario};

/// A point in world coordinates: x east, y north, z up, metres.
pub type WorldPoint = [f64; 3];

/// A polygon on a level, in world coordinates (z is the level's elevation).
#[derive(Clone, Debug, PartialEq)]
pub struct DrawPolygon {
    pub outer: Vec<WorldPoint>,
    pub holes: Vec<Vec<WorldPoint>>,
}

#[derive(Clone, Debug)]
pub struct DrawLevel {
    pub id: LevelId,
    pub name: String,
    pub elevation: f64,
    pub walkable: Vec<DrawPolygon>,
    /// Walls as they stand now (closed doors included, open doors as gaps).
    pub walls: Vec<[WorldPoint; 2]>,
}

/// What an opening is to someone looking at the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawDoorKind {
    /// On the outer boundary; people may leave by it.
    Exit,
    /// On the outer boundary; people only come in by it.
    Entrance,
    /// Between two rooms.
    Interior,
    /// Where a stair meets a floor.
    StairOpening,
}

#[derive(Clone, Debug)]
pub struct DrawDoor {
    pub id: DoorId,
    pub name: String,
    pub level: LevelId,
    pub a: WorldPoint,
    pub b: WorldPoint,
    pub open: bool,
    pub kind: DrawDoorKind,
    /// Two points in the level's scene coordinates, 1 m either side of the door's middle: the
    /// `Towards` points of a one-way order through it.
    pub sides: [crate::geom::Point; 2],
    /// For an interior door made one-way, which of `sides` it may be passed towards.
    pub one_way_to: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct DrawBuilding {
    pub name: String,
    pub footprint: Vec<WorldPoint>,
    /// Height above its level, m.
    pub height: f64,
    pub floors: u32,
    pub usage: BuildingUse,
}

#[derive(Clone, Debug)]
pub struct DrawObstacle {
    pub name: String,
    pub footprint: Vec<WorldPoint>,
    pub height: f64,
}

#[derive(Clone, Debug)]
pub struct DrawLane {
    /// Centre line in the direction of travel.
    pub centerline: Vec<WorldPoint>,
    pub width: f64,
    pub forward: bool,
}

#[derive(Clone, Debug)]
pub struct DrawCrossing {
    pub name: String,
    pub polygon: Vec<WorldPoint>,
    pub signal: bool,
}

#[derive(Clone, Debug)]
pub struct DrawStreet {
    pub name: String,
    pub level: LevelId,
    pub centerline: Vec<WorldPoint>,
    pub carriageway: Vec<Vec<WorldPoint>>,
    pub sidewalks: Vec<Vec<WorldPoint>>,
    pub kerbs: Vec<Vec<WorldPoint>>,
    pub kerb_height: f64,
    pub lane_markings: Vec<Vec<WorldPoint>>,
    pub lanes: Vec<DrawLane>,
    pub crossings: Vec<DrawCrossing>,
    pub one_way: bool,
    /// Closed to vehicles now.
    pub closed: bool,
}

/// A stair as a flight in 3D: from its foot opening (on the lower level) to its head opening.
#[derive(Clone, Debug)]
pub struct DrawStair {
    pub id: StairId,
    pub name: String,
    /// Centre of the foot and the head openings.
    pub foot: WorldPoint,
    pub head: WorldPoint,
    pub width: f64,
    /// The corners of the flight: foot left, foot right, head right, head left.
    pub corners: [WorldPoint; 4],
    /// Risers of about 0.17 m, the usual step height.
    pub steps: u32,
    pub direction: StairDirection,
}

#[derive(Clone, Debug)]
pub struct DrawZone {
    pub id: ZoneId,
    pub name: String,
    pub level: LevelId,
    pub polygon: Vec<WorldPoint>,
    pub blocked: bool,
    /// Smoke's extinction coefficient, 1/m (0: clear air).
    pub smoke: f64,
}

/// A hold line and what it does now ("free", "cordon", "waves of 15 every 20 s", …).
#[derive(Clone, Debug)]
pub struct DrawHoldLine {
    pub name: String,
    pub level: LevelId,
    pub a: WorldPoint,
    pub b: WorldPoint,
    pub held: bool,
    pub state: String,
}

/// A barrier of the scene (a line, or an obstacle's outline), and whether it stands now. Placed
/// barriers are also among their level's walls.
#[derive(Clone, Debug)]
pub struct DrawBarrier {
    pub name: String,
    pub level: LevelId,
    /// World points; an outline's last point joins its first.
    pub line: Vec<WorldPoint>,
    pub closed: bool,
    /// A fallen person: drawn as a risk spot.
    pub fallen: bool,
    pub placed: bool,
}

/// A hazard of the scene and the disc it blocks now (empty until started).
#[derive(Clone, Debug)]
pub struct DrawHazard {
    pub name: String,
    pub level: LevelId,
    pub polygon: Vec<WorldPoint>,
    pub active: bool,
    /// m, while active.
    pub radius: f64,
}

/// An entrance that arrival flows come through, with the far-end control on it now.
#[derive(Clone, Debug)]
pub struct DrawEntrance {
    pub name: String,
    /// Share of the scheduled arrivals let come now (1 without control).
    pub share: f64,
    /// The door they come through instead, if diverted.
    pub diverted_to: Option<String>,
}

#[derive(Clone, Debug)]
pub enum DrawMeasurement {
    Line { name: String, level: LevelId, a: WorldPoint, b: WorldPoint },
    Area { name: String, level: LevelId, polygon: Vec<WorldPoint> },
}

/// The twin as drawn: everything static, in world coordinates, with the state of doors, zones,
/// hold lines and entrances. `version` changes whenever a command changes the space.
#[derive(Resource, Clone, Debug)]
pub struct DrawTwin {
    pub version: u64,
    pub name: String,
    /// WGS84 latitude and longitude of the local origin; y points north.
    pub origin: (f64, f64),
    pub min: WorldPoint,
    pub max: WorldPoint,
    /// The scene's floors (stair corridors are drawn as `stairs`).
    pub levels: Vec<DrawLevel>,
    pub doors: Vec<DrawDoor>,
    pub buildings: Vec<DrawBuilding>,
    pub obstacles: Vec<DrawObstacle>,
    pub streets: Vec<DrawStreet>,
    pub stairs: Vec<DrawStair>,
    pub zones: Vec<DrawZone>,
    pub measurements: Vec<DrawMeasurement>,
    pub hold_lines: Vec<DrawHoldLine>,
    pub entrances: Vec<DrawEntrance>,
    pub barriers: Vec<DrawBarrier>,
    pub hazards: Vec<DrawHazard>,
    /// The scenario's populations by id, in the order of their `PopulationId`s.
    pub populations: Vec<String>,
}

/// What an agent is doing, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawActivity {
    Waiting,
    Walking,
    Dwelling,
    /// In a stair opening, waiting to step through.
    Queueing,
    Leaving,
}

/// One agent at the end of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawAgent {
    pub id: AgentId,
    /// World coordinates.
    pub pos: WorldPoint,
    /// World velocity (horizontal), m/s.
    pub vel: [f32; 2],
    /// The floor the agent is on; on a stair, the floor at its foot.
    pub level: LevelId,
    pub on_stair: Option<StairId>,
    pub population: PopulationId,
    /// Persons/m² over the 1.5 m × 1.5 m square of density cells around the agent.
    pub density: f32,
    pub radius: f32,
    pub activity: DrawActivity,
}

/// The agents at the end of the latest step, sorted by id.
#[derive(Resource, Clone, Debug, Default)]
pub struct DrawAgents {
    pub step: u64,
    pub t: f64,
    pub agents: Vec<DrawAgent>,
}

/// One vehicle at the end of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawVehicle {
    pub id: u32,
    pub kind: crate::scene::VehicleKind,
    /// Centre of the body, world coordinates (z: the road surface).
    pub centre: WorldPoint,
    /// Unit direction of travel (x, y).
    pub heading: [f64; 2],
    pub length: f64,
    pub width: f64,
    /// m/s
    pub speed: f64,
    /// Braking harder than its comfortable deceleration, or standing.
    pub braking: bool,
    pub parked: bool,
}

/// A signal head's stop line or crossing, with its light now.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawSignalHead {
    pub signal: String,
    pub head: String,
    pub light: crate::traffic::Light,
    /// Stop lines across lanes, as segments in world coordinates.
    pub stop_lines: Vec<[WorldPoint; 2]>,
    /// The crossings it controls (their ids).
    pub crossings: Vec<String>,
}

/// Vehicles (sorted by id) and signal heads at the end of the latest step.
#[derive(Resource, Clone, Debug, Default)]
pub struct DrawTraffic {
    pub step: u64,
    pub vehicles: Vec<DrawVehicle>,
    pub heads: Vec<DrawSignalHead>,
    /// Lanes and turns' centre lines with their direction of travel (static).
    pub lanes: Vec<Vec<WorldPoint>>,
}

/// The run's figures at the end of the latest step, for a viewer's panel: who came and went by which
/// exit, and the peak local density so far.
#[derive(Resource, Clone, Debug, Default)]
pub struct DrawFigures {
    pub t: f64,
    pub spawned: u32,
    pub exited: u32,
    pub on_site: u32,
    /// Arrivals due but kept outside for want of room at their door (scenes with arrival flows).
    pub kept_outside: Option<u32>,
    /// Agents out by each exit so far (exits nobody used yet are absent), by door id.
    pub per_exit: Vec<(DoorId, u32)>,
    /// Persons/m² within 1 m of an agent (the summary's peak), when and where (world x, y, floor).
    pub peak_density: Option<(f64, f64, WorldPoint, LevelId)>,
}

/// Edge of the cells local density is counted in, m; the density is taken over 3 × 3 cells.
pub const DENSITY_CELL: f64 = 0.5;

/// Per-level agent counts on a coarse grid, reused every step.
#[derive(Resource)]
pub struct DensityGrid {
    levels: Vec<LevelCounts>,
}

#[derive(Default)]
struct LevelCounts {
    origin: DVec2,
    nx: usize,
    ny: usize,
    counts: Vec<u16>,
    touched: Vec<u32>,
}

impl LevelCounts {
    fn cell(&self, p: DVec2) -> Option<(usize, usize)> {
        let q = (p - self.origin) / DENSITY_CELL;
        (q.x >= 0.0 && q.y >= 0.0 && (q.x as usize) < self.nx && (q.y as usize) < self.ny)
            .then(|| (q.x as usize, q.y as usize))
    }
    fn add(&mut self, p: DVec2) {
        if let Some((i, j)) = self.cell(p) {
            let k = j * self.nx + i;
            if self.counts[k] == 0 {
                self.touched.push(k as u32);
            }
            self.counts[k] = self.counts[k].saturating_add(1);
        }
    }
    fn density(&self, p: DVec2) -> f32 {
        let Some((i, j)) = self.cell(p) else { return 0.0 };
        let mut n = 0u32;
        for jj in j.saturating_sub(1)..=(j + 1).min(self.ny - 1) {
            for ii in i.saturating_sub(1)..=(i + 1).min(self.nx - 1) {
                n += self.counts[jj * self.nx + ii] as u32;
            }
        }
        (n as f64 / (9.0 * DENSITY_CELL * DENSITY_CELL)) as f32
    }
    fn clear(&mut self) {
        for &k in &self.touched {
            self.counts[k as usize] = 0;
        }
        self.touched.clear();
    }
}

impl FromWorld for DensityGrid {
    fn from_world(world: &mut World) -> Self {
        let nav = world.resource::<Navigation>();
        let levels = nav
            .grids
            .iter()
            .map(|g| {
                let size = DVec2::new(g.nx as f64, g.ny as f64) * g.cell;
                let (nx, ny) =
                    ((size.x / DENSITY_CELL).ceil() as usize + 1, (size.y / DENSITY_CELL).ceil() as usize + 1);
                LevelCounts { origin: g.origin, nx, ny, counts: vec![0; nx * ny], touched: Vec::new() }
            })
            .collect();
        DensityGrid { levels }
    }
}

fn world_ring(space: &Space, level: LevelId, ring: &[Point]) -> Vec<WorldPoint> {
    let z = space.levels[level].elevation;
    ring.iter().map(|p| [p[0], p[1], z]).collect()
}

fn world_line(space: &Space, level: LevelId, line: &[DVec2]) -> Vec<WorldPoint> {
    let z = space.levels[level].elevation;
    line.iter().map(|p| [p.x, p.y, z]).collect()
}

impl DrawTwin {
    /// The static twin of `space` with the scenario's measurements.
    pub fn new(space: &Space, scenario: &Scenario, name: &str, origin: (f64, f64)) -> Self {
        let mut twin = DrawTwin {
            version: 0,
            name: name.to_string(),
            origin,
            min: [0.0; 3],
            max: [0.0; 3],
            levels: Vec::new(),
            doors: Vec::new(),
            buildings: Vec::new(),
            obstacles: Vec::new(),
            hold_lines: Vec::new(),
            entrances: Vec::new(),
            barriers: Vec::new(),
            hazards: Vec::new(),
            populations: scenario.populations.iter().map(|p| p.id.clone()).collect(),
            streets: Vec::new(),
            stairs: Vec::new(),
            zones: Vec::new(),
            measurements: Vec::new(),
        };
        for (id, level) in space.levels.enumerate().filter(|(_, l)| !l.is_stair()) {
            let z = level.elevation;
            let ring = |r: &geo::LineString<f64>| r.coords().map(|c| [c.x, c.y, z]).collect::<Vec<_>>();
            twin.levels.push(DrawLevel {
                id,
                name: level.id.clone(),
                elevation: z,
                walkable: level
                    .walkable
                    .0
                    .iter()
                    .map(|p| DrawPolygon { outer: ring(p.exterior()), holes: p.interiors().iter().map(ring).collect() })
                    .collect(),
                walls: Vec::new(),
            });
        }
        for b in space.buildings.iter() {
            twin.buildings.push(DrawBuilding {
                name: b.id.clone(),
                footprint: world_ring(space, b.level, &b.footprint),
                height: b.height,
                floors: b.floors,
                usage: b.usage,
            });
        }
        for o in &space.obstacles {
            twin.obstacles.push(DrawObstacle {
                name: o.id.clone(),
                footprint: world_ring(space, o.level, &o.footprint),
                height: o.height,
            });
        }
        for s in space.streets.iter() {
            let line = |l: &[DVec2]| world_line(space, s.level, l);
            twin.streets.push(DrawStreet {
                name: s.id.clone(),
                level: s.level,
                centerline: line(&s.centerline),
                carriageway: s.carriageway.iter().map(|q| line(q)).collect(),
                sidewalks: s.sidewalks.iter().map(|q| line(q)).collect(),
                kerbs: s.kerbs.iter().map(|k| line(k)).collect(),
                kerb_height: s.kerb_height,
                lane_markings: s.lane_markings.iter().map(|m| line(m)).collect(),
                lanes: s
                    .lanes
                    .iter()
                    .map(|l| DrawLane {
                        centerline: line(&l.centerline),
                        width: l.width,
                        forward: l.direction == LaneDirection::Forward,
                    })
                    .collect(),
                crossings: s
                    .crossings
                    .iter()
                    .map(|c| DrawCrossing { name: c.id.clone(), polygon: line(&c.polygon), signal: c.signal })
                    .collect(),
                one_way: s.one_way,
                closed: s.closed,
            });
        }
        for (id, st) in space.stairs.enumerate() {
            let corridor = st.level;
            let corner = |x: f64, y: f64| space.to_world(corridor, DVec2::new(x, y));
            twin.stairs.push(DrawStair {
                id,
                name: st.id.clone(),
                foot: corner(0.0, st.width / 2.0),
                head: corner(st.run, st.width / 2.0),
                width: st.width,
                corners: [corner(0.0, st.width), corner(0.0, 0.0), corner(st.run, 0.0), corner(st.run, st.width)],
                steps: (st.rise / 0.17).round().max(1.0) as u32,
                direction: st.direction,
            });
        }
        for plan in &scenario.measurements {
            twin.measurements.push(match plan {
                MeasurementPlan::Line { id, level, a, b } => {
                    let [a, b] = [*a, *b].map(|p| space.to_world(*level, p));
                    DrawMeasurement::Line { name: id.clone(), level: *level, a, b }
                }
                MeasurementPlan::Area { id, level, polygon } => DrawMeasurement::Area {
                    name: id.clone(),
                    level: *level,
                    polygon: world_ring(space, *level, polygon),
                },
            });
        }
        let (mut min, mut max) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        let mut grow = |p: &WorldPoint| {
            for i in 0..3 {
                min[i] = min[i].min(p[i]);
                max[i] = max[i].max(p[i]);
            }
        };
        twin.levels.iter().flat_map(|l| &l.walkable).flat_map(|p| &p.outer).for_each(&mut grow);
        twin.buildings.iter().flat_map(|b| &b.footprint).for_each(&mut grow);
        twin.streets.iter().flat_map(|s| s.sidewalks.iter().chain(&s.carriageway)).flatten().for_each(&mut grow);
        twin.stairs.iter().flat_map(|s| &s.corners).for_each(&mut grow);
        if min[0].is_finite() {
            (twin.min, twin.max) = (min, max);
        }
        twin.refresh(space);
        twin
    }

    /// Takes the current state of doors, walls, zones, hold lines and entrances from `space`.
    pub fn refresh(&mut self, space: &Space) {
        self.version += 1;
        for (street, now) in self.streets.iter_mut().zip(space.streets.iter()) {
            street.closed = now.closed;
        }
        for level in &mut self.levels {
            let z = level.elevation;
            level.walls.clear();
            level.walls.extend(space.levels[level.id].walls.iter().map(|w| [[w.a.x, w.a.y, z], [w.b.x, w.b.y, z]]));
        }
        self.doors = space
            .doors
            .enumerate()
            .filter(|(_, d)| !space.levels[d.level].is_stair())
            .map(|(id, d)| DrawDoor {
                id,
                name: d.id.clone(),
                level: d.level,
                a: space.to_world(d.level, d.a),
                b: space.to_world(d.level, d.b),
                open: d.open,
                kind: match d.kind {
                    DoorKind::StairOpening(_) => DrawDoorKind::StairOpening,
                    DoorKind::Scene if !d.boundary => DrawDoorKind::Interior,
                    DoorKind::Scene if d.exit => DrawDoorKind::Exit,
                    DoorKind::Scene => DrawDoorKind::Entrance,
                },
                sides: {
                    let (m, n) = (d.midpoint(), d.normal);
                    [[m.x + n.x, m.y + n.y], [m.x - n.x, m.y - n.y]]
                },
                one_way_to: d.one_way.map(|towards| if towards.dot(d.normal) > 0.0 { 0 } else { 1 }),
            })
            .collect();
        self.zones = space
            .zones
            .enumerate()
            .map(|(id, z)| DrawZone {
                id,
                name: z.id.clone(),
                level: z.level,
                polygon: world_ring(space, z.level, &z.polygon),
                blocked: z.blocked,
                smoke: z.smoke,
            })
            .collect();
        self.hold_lines = space
            .hold_lines
            .iter()
            .map(|h| DrawHoldLine {
                name: h.id.clone(),
                level: h.level,
                a: space.to_world(h.level, h.a),
                b: space.to_world(h.level, h.b),
                held: h.release != LineRelease::Free,
                state: match h.release {
                    LineRelease::Free => "free".into(),
                    LineRelease::Closed => "cordon: nobody crosses".into(),
                    LineRelease::OneWay => "one-way: nobody crosses from the held side".into(),
                    LineRelease::Batches { size, every } => format!("waves of {size} every {every} s"),
                    LineRelease::WhenBelow { area, density, size } => {
                        format!("waves of {size} while '{}' is below {density} persons/m²", space.areas[area].id)
                    }
                },
            })
            .collect();
        self.entrances = space
            .arrival_doors
            .iter()
            .map(|&d| {
                let control = space.arrival_control.get(&d);
                DrawEntrance {
                    name: space.doors[d].id.clone(),
                    share: control.and_then(|c| c.shares.last()).map_or(1.0, |s| s.1),
                    diverted_to: control.and_then(|c| c.divert_to).map(|t| space.doors[t].id.clone()),
                }
            })
            .collect();
        for stair in &mut self.stairs {
            stair.direction = space.stairs[stair.id].direction;
        }
        self.barriers = space
            .barriers
            .iter()
            .map(|b| {
                let mut line: Vec<WorldPoint> = b.segments.iter().map(|s| space.to_world(b.level, s.a)).collect();
                if let (false, Some(last)) = (b.closed, b.segments.last()) {
                    line.push(space.to_world(b.level, last.b));
                }
                DrawBarrier {
                    name: b.id.clone(),
                    level: b.level,
                    line,
                    closed: b.closed,
                    fallen: b.fallen,
                    placed: b.placed,
                }
            })
            .collect();
        self.hazards = space
            .hazards
            .iter()
            .map(|h| DrawHazard {
                name: h.id.clone(),
                level: h.level,
                polygon: world_ring(space, h.level, &h.polygon),
                active: h.started.is_some(),
                radius: if h.started.is_some() { h.blocked_radius } else { 0.0 },
            })
            .collect();
    }

    /// The level a floor id names, if it is a floor.
    pub fn level(&self, id: LevelId) -> Option<&DrawLevel> {
        self.levels.iter().find(|l| l.id == id)
    }
}

impl FromWorld for DrawTwin {
    fn from_world(world: &mut World) -> Self {
        let space = &world.resource::<SpaceRes>().0;
        let scenario = world.resource::<Scenario>();
        let meta = world.get_resource::<TwinInfo>().cloned().unwrap_or_default();
        DrawTwin::new(space, scenario, &meta.name, meta.origin)
    }
}

/// The unit's name and origin, for titles and north arrows (inserted with the twin).
#[derive(Resource, Clone, Debug, Default)]
pub struct TwinInfo {
    pub name: String,
    pub origin: (f64, f64),
}

/// Publishes the draw data: the static twin once (and again when a door or zone changes), the
/// agents at the end of every step.
pub struct DrawPlugin;

impl Plugin for DrawPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<DrawTwin>()
            .init_resource::<DrawAgents>()
            .init_resource::<DensityGrid>()
            .init_resource::<DrawTraffic>()
            .init_resource::<DrawFigures>()
            .init_resource::<crate::traffic::TrafficNet>()
            .init_resource::<crate::traffic::Vehicles>()
            .init_resource::<crate::traffic::SignalStates>()
            .add_systems(
                SimStep,
                (refresh_twin, publish_agents, publish_traffic, publish_figures).chain().in_set(SimSystems::Publish),
            );
    }
}

fn refresh_twin(space: Res<SpaceRes>, mut twin: ResMut<DrawTwin>) {
    // On the first step the space counts as changed whether or not a command changed it (this
    // system has never seen it): refreshing then is cheap and catches a door closed before the
    // first step, which skipping added resources missed.
    if space.is_changed() {
        twin.refresh(&space.0);
    }
}

fn publish_agents(
    clock: Res<SimClock>,
    space: Res<SpaceRes>,
    mut grid: ResMut<DensityGrid>,
    mut out: ResMut<DrawAgents>,
    agents: Query<(&AgentId, &Body, &Velocity, &Walker, &Plan)>,
) {
    let space = &space.0;
    let grid = &mut *grid;
    for (_, body, ..) in agents.iter() {
        if let Some(level) = grid.levels.get_mut(body.level.index()) {
            level.add(body.pos);
        }
    }
    let out = &mut *out;
    out.step = clock.step;
    out.t = clock.now();
    out.agents.clear();
    out.agents.extend(agents.iter().map(|(id, body, velocity, walker, plan)| {
        let vel = space.velocity_to_world(body.level, velocity.0);
        DrawAgent {
            id: *id,
            pos: space.to_world(body.level, body.pos),
            vel: [vel[0] as f32, vel[1] as f32],
            level: match space.levels[body.level].kind {
                LevelKind::Floor => body.level,
                LevelKind::Stair(s) => space.stairs[s].foot_level,
            },
            on_stair: match space.levels[body.level].kind {
                LevelKind::Floor => None,
                LevelKind::Stair(s) => Some(s),
            },
            population: walker.population,
            density: grid.levels.get(body.level.index()).map_or(0.0, |l| l.density(body.pos)),
            radius: body.radius as f32,
            activity: match plan.activity {
                Activity::Waiting { .. } => DrawActivity::Waiting,
                Activity::Walking => DrawActivity::Walking,
                Activity::Dwelling { .. } => DrawActivity::Dwelling,
                Activity::Crossing { .. } => DrawActivity::Queueing,
                Activity::Left { .. } => DrawActivity::Leaving,
            },
        }
    }));
    out.agents.sort_unstable_by_key(|a| a.id);
    for level in &mut grid.levels {
        level.clear();
    }
}

fn publish_traffic(
    clock: Res<SimClock>,
    net: Res<crate::traffic::TrafficNet>,
    vehicles: Res<crate::traffic::Vehicles>,
    signals: Res<crate::traffic::SignalStates>,
    mut out: ResMut<DrawTraffic>,
) {
    let net = &*net.0;
    if net.links.is_empty() {
        return;
    }
    let out = &mut *out;
    out.step = clock.step;
    if out.lanes.is_empty() {
        out.lanes = net.links.iter().map(|l| l.line.points.iter().map(|p| [p.x, p.y, l.z]).collect()).collect();
        out.heads = net
            .heads
            .iter()
            .map(|h| DrawSignalHead {
                signal: net.signals[h.signal as usize].id.clone(),
                head: h.id.clone(),
                light: crate::traffic::Light::Red,
                stop_lines: h
                    .stop_lines
                    .iter()
                    .map(|&(l, s)| {
                        let link = &net.links[l as usize];
                        let (p, dir) = link.at(s);
                        let n = dir.perp() * (link.width / 2.0);
                        [[p.x - n.x, p.y - n.y, link.z], [p.x + n.x, p.y + n.y, link.z]]
                    })
                    .collect(),
                crossings: h.crossings.iter().map(|&c| net.crossings[c as usize].id.clone()).collect(),
            })
            .collect();
    }
    for (i, head) in out.heads.iter_mut().enumerate() {
        head.light = signals.heads.get(i).map_or(crate::traffic::Light::Red, |h| h.light);
    }
    out.vehicles.clear();
    out.vehicles.extend(vehicles.iter().map(|v| {
        let p = net.params(v.kind);
        let (front, dir) = v.pose(net);
        let centre = front - bevy::math::DVec3::new(dir.x, dir.y, 0.0) * (p.length / 2.0);
        DrawVehicle {
            id: v.id,
            kind: v.kind,
            centre: [centre.x, centre.y, centre.z],
            heading: [dir.x, dir.y],
            length: p.length,
            width: p.width,
            speed: v.v,
            braking: v.acc < -p.b || v.v < 0.1,
            parked: v.state == crate::traffic::VehicleState::Parked,
        }
    }));
    out.vehicles.sort_unstable_by_key(|v| v.id);
}

fn publish_figures(
    clock: Res<SimClock>,
    census: Option<Res<Census>>,
    measurements: Option<Res<Measurements>>,
    space: Res<SpaceRes>,
    mut out: ResMut<DrawFigures>,
) {
    out.t = clock.now();
    let Some(census) = census else { return };
    out.spawned = census.spawned;
    out.exited = census.exited;
    out.on_site = census.on_site();
    out.kept_outside = census.kept_outside().map(Outside::now);
    // Cleared and refilled: no allocation per step once every exit has been used.
    out.per_exit.clear();
    out.per_exit.extend(census.per_exit.iter().map(|(&door, &n)| (door, n)));
    out.peak_density = measurements.and_then(|m| m.peak).map(|p| {
        let z = space.0.levels[p.level].elevation;
        (p.density, p.t, [p.x, p.y, z], p.level)
    });
}
