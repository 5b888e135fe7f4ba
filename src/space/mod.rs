//! The runtime space of the twin: walkable space per level, walls with door gaps, doors, stair
//! portals, zones, destinations, and the static objects (buildings, obstacles, streets) others draw.

use std::collections::BTreeMap;

use bevy::math::DVec2;
use geo::{Contains, MultiPolygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use crate::geom::{Point, distance_to_segment, v};
use crate::ids::{
    AreaId, BarrierId, BuildingId, CrossingId, DestinationId, DoorId, HazardId, HoldLineId, IdVec, LaneId, LevelId,
    PortalId, SignalId, StairId, StreetId, ZoneId,
};

pub type WallObject = GeomWithData<Line<[f64; 2]>, u32>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WallSegment {
    pub a: DVec2,
    pub b: DVec2,
}

/// What an opening is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorKind {
    /// A door of the scene (an exit, an entrance or an interior door).
    Scene,
    /// One of a stair's four openings.
    StairOpening(PortalId),
}

#[derive(Clone, Debug)]
pub struct DoorGeom {
    /// The scene's id (stair openings: `<stair>:foot`, `:foot-step`, `:head-step`, `:head`).
    pub id: String,
    pub level: LevelId,
    pub a: DVec2,
    pub b: DVec2,
    pub open: bool,
    /// On the outer boundary of the walkable space (one side is outside).
    pub boundary: bool,
    /// A boundary door that agents may leave by.
    pub exit: bool,
    /// Unit normal; for boundary doors it points out of the walkable space.
    pub normal: DVec2,
    pub kind: DoorKind,
    /// For an interior door made one-way: `normal` or its opposite, pointing to the side people
    /// may pass towards.
    pub one_way: Option<DVec2>,
}

impl DoorGeom {
    pub fn width(&self) -> f64 {
        self.a.distance(self.b)
    }
    pub fn midpoint(&self) -> DVec2 {
        (self.a + self.b) * 0.5
    }
    /// Whether agents can currently leave the space through it.
    pub fn is_open_exit(&self) -> bool {
        self.open && self.boundary && self.exit
    }
    /// Whether a step from `a` to `b` goes through the door against its one-way direction: from
    /// the side it leads to (strictly) back to the other. The test holds for the door's line
    /// itself, so that a step that only touches it from the far side does not slip through.
    #[inline]
    pub fn against(&self, a: DVec2, b: DVec2) -> bool {
        let Some(towards) = self.one_way else { return false };
        (a - self.a).dot(towards) > 0.0
            && (b - self.a).dot(towards) <= 0.0
            && crate::geom::segments_intersect(a, b, self.a, self.b)
    }
    /// The door's normal or its opposite, whichever points to the side `p` lies on.
    pub fn side_of(&self, p: DVec2) -> DVec2 {
        if (p - self.a).dot(self.normal) > 0.0 { self.normal } else { -self.normal }
    }
    /// The portal, for a stair opening.
    pub fn portal(&self) -> Option<PortalId> {
        match self.kind {
            DoorKind::StairOpening(p) => Some(p),
            DoorKind::Scene => None,
        }
    }
    /// Whether walls have a gap here now. A stair opening has one only where crossing it is
    /// allowed: people stepping off the stair are placed on the far side, so a one-way stair is
    /// wall from the side it may not be entered.
    pub fn cuts_wall(&self, portals: &IdVec<PortalId, Portal>) -> bool {
        self.open && (!self.boundary || self.exit || self.portal().is_some_and(|p| portals[p].allowed))
    }
}

/// One side of a stair opening: crossing `door` puts an agent at `peer` on the other level.
#[derive(Clone, Copy, Debug)]
pub struct Portal {
    pub door: DoorId,
    pub peer: DoorId,
    pub stair: StairId,
    /// Crossing here steps onto the stair (as opposed to off it).
    pub onto_stair: bool,
    /// The stair's direction allows crossing here.
    pub allowed: bool,
}

/// Which ways a stair may be walked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StairDirection {
    #[default]
    Both,
    UpOnly,
    DownOnly,
}

impl From<crate::scene::StairDirection> for StairDirection {
    fn from(d: crate::scene::StairDirection) -> Self {
        match d {
            crate::scene::StairDirection::Both => StairDirection::Both,
            crate::scene::StairDirection::UpOnly => StairDirection::UpOnly,
            crate::scene::StairDirection::DownOnly => StairDirection::DownOnly,
        }
    }
}

impl From<StairDirection> for crate::scene::StairDirection {
    fn from(d: StairDirection) -> Self {
        match d {
            StairDirection::Both => crate::scene::StairDirection::Both,
            StairDirection::UpOnly => crate::scene::StairDirection::UpOnly,
            StairDirection::DownOnly => crate::scene::StairDirection::DownOnly,
        }
    }
}

impl StairDirection {
    /// Whether the stair may be entered at its foot (going up) and at its head (going down).
    pub fn entries(self) -> (bool, bool) {
        match self {
            StairDirection::Both => (true, true),
            StairDirection::UpOnly => (true, false),
            StairDirection::DownOnly => (false, true),
        }
    }
}

/// A stair's runtime facts; its walkable corridor is the level `level`.
#[derive(Clone, Debug)]
pub struct StairGeom {
    pub id: String,
    pub level: LevelId,
    pub foot_level: LevelId,
    pub head_level: LevelId,
    pub width: f64,
    pub run: f64,
    pub rise: f64,
    /// Horizontal free speeds, m/s.
    pub speed_up: f64,
    pub speed_down: f64,
    /// Most persons per metre of width per second stepping on.
    pub flow_up: f64,
    pub flow_down: f64,
    pub direction: StairDirection,
    /// World positions (x, y) of the foot and head openings.
    pub foot_world: DVec2,
    pub head_world: DVec2,
}

/// What a level is: a floor of the scene, or a stair's corridor (in its own frame: x along the
/// run from the foot, y across).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LevelKind {
    Floor,
    Stair(StairId),
}

#[derive(Clone, Debug)]
pub struct LevelSpace {
    pub id: String,
    pub kind: LevelKind,
    pub elevation: f64,
    pub walkable: MultiPolygon<f64>,
    /// The walkable areas joined, before obstacles and buildings are cut out.
    pub outline: MultiPolygon<f64>,
    /// Boundary edges and interior walls, before doors are cut into them.
    pub base_walls: Vec<WallSegment>,
    /// Walls as they stand now: open doors are gaps, closed doors are wall.
    pub walls: Vec<WallSegment>,
    pub wall_tree: RTree<WallObject>,
    pub min: DVec2,
    pub max: DVec2,
    /// The same level for pedestrians who cross streets outside the crossings, when the scene has
    /// some and the level has unfenced streets.
    pub open: Option<Box<OpenLevel>>,
}

/// A level as seen by pedestrians who cross outside the crossings: unfenced carriageways are
/// walkable for them, so the kerbs there are no walls.
#[derive(Clone, Debug)]
pub struct OpenLevel {
    pub walkable: MultiPolygon<f64>,
    pub base_walls: Vec<WallSegment>,
    pub walls: Vec<WallSegment>,
    pub wall_tree: RTree<WallObject>,
}

/// One set of walls of a level, with its index.
#[derive(Clone, Copy)]
pub struct Walls<'a> {
    pub segments: &'a [WallSegment],
    pub tree: &'a RTree<WallObject>,
}

impl<'a> Walls<'a> {
    /// Walls within `radius` of `p`.
    pub fn near(self, p: DVec2, radius: f64) -> impl Iterator<Item = &'a WallObject> {
        self.tree.locate_within_distance([p.x, p.y], radius * radius)
    }
}

impl LevelSpace {
    /// A level whose walls are still to be cut (see [`Space::new`]). Its bounds are those of its walls.
    pub fn new(
        id: String,
        kind: LevelKind,
        elevation: f64,
        walkable: MultiPolygon<f64>,
        outline: MultiPolygon<f64>,
        base_walls: Vec<WallSegment>,
    ) -> Self {
        let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
        for w in &base_walls {
            min = min.min(w.a).min(w.b);
            max = max.max(w.a).max(w.b);
        }
        if base_walls.is_empty() {
            (min, max) = (DVec2::ZERO, DVec2::ZERO);
        }
        LevelSpace {
            id,
            kind,
            elevation,
            walkable,
            outline,
            base_walls,
            walls: Vec::new(),
            wall_tree: RTree::new(),
            min,
            max,
            open: None,
        }
    }

    /// The walls an agent meets: those of the open level if it crosses outside crossings.
    #[inline]
    pub fn walls_for(&self, crosses_anywhere: bool) -> Walls<'_> {
        match (&self.open, crosses_anywhere) {
            (Some(open), true) => Walls { segments: &open.walls, tree: &open.wall_tree },
            _ => Walls { segments: &self.walls, tree: &self.wall_tree },
        }
    }

    pub fn contains(&self, p: DVec2) -> bool {
        self.walkable.contains(&geo::Point::new(p.x, p.y))
    }

    /// Distance from `p` to the nearest wall, or infinity on a level without walls.
    pub fn wall_distance(&self, p: DVec2) -> f64 {
        self.wall_tree
            .nearest_neighbor(&[p.x, p.y])
            .map_or(f64::INFINITY, |w| distance_to_segment(p, v(w.geom().from), v(w.geom().to)))
    }

    /// Walls within `radius` of `p`, in index order.
    pub fn walls_near(&self, p: DVec2, radius: f64) -> impl Iterator<Item = &WallObject> {
        self.wall_tree.locate_within_distance([p.x, p.y], radius * radius)
    }

    pub fn walkable_area(&self) -> f64 {
        use geo::Area;
        self.walkable.unsigned_area()
    }

    pub fn is_stair(&self) -> bool {
        matches!(self.kind, LevelKind::Stair(_))
    }
}

/// A barrier of the scene: its wall segments, standing while placed.
#[derive(Clone, Debug)]
pub struct BarrierGeom {
    pub id: String,
    pub level: LevelId,
    pub segments: Vec<WallSegment>,
    /// An obstacle's outline rather than a line.
    pub closed: bool,
    /// The outline is a fallen person, whose surroundings are watched as a local risk.
    pub fallen: bool,
    pub placed: bool,
}

/// A hazard of the scene: a disc round `at` that, once started, blocks its ground and grows.
#[derive(Clone, Debug)]
pub struct HazardGeom {
    pub id: String,
    pub level: LevelId,
    pub at: DVec2,
    pub radius: f64,
    pub growth: f64,
    pub max_radius: f64,
    /// When it was started, while it is.
    pub started: Option<f64>,
    /// The disc blocked now (the radius the fields were last built for), as a polygon.
    pub blocked_radius: f64,
    pub polygon: Vec<Point>,
}

/// Sides of the polygon a hazard's disc is drawn and blocked as.
const HAZARD_SIDES: usize = 32;

impl HazardGeom {
    /// The radius at time `now`, while started.
    pub fn radius_at(&self, now: f64) -> Option<f64> {
        self.started.map(|t0| (self.radius + self.growth * (now - t0).max(0.0)).min(self.max_radius))
    }

    /// The radius to block now, if it has grown by `step` metres (or reached its largest) since
    /// the fields were built.
    fn grown(&self, now: f64, step: f64) -> Option<f64> {
        self.radius_at(now).filter(|&r| {
            r - self.blocked_radius >= step || (r >= self.max_radius && self.blocked_radius < self.max_radius)
        })
    }

    /// Sets the blocked disc to `radius` (a polygon round it, so the disc lies inside).
    fn block(&mut self, radius: f64) {
        self.blocked_radius = radius;
        let r = radius / libm::cos(std::f64::consts::PI / HAZARD_SIDES as f64);
        self.polygon = (0..HAZARD_SIDES)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / HAZARD_SIDES as f64;
                [self.at.x + r * libm::cos(a), self.at.y + r * libm::sin(a)]
            })
            .collect();
    }
}

/// A named polygon that can be blocked (nobody enters; those inside leave) or filled with smoke.
#[derive(Clone, Debug)]
pub struct ZoneGeom {
    pub id: String,
    pub level: LevelId,
    pub polygon: Vec<Point>,
    pub blocked: bool,
    /// Smoke's extinction coefficient K, 1/m (0: clear air).
    pub smoke: f64,
}

/// The walking-speed relation in smoke of Frantzich & Nilsson (2003, Lund University report 3126;
/// the default of FDS+Evac, Korhonen & Hostikka 2009, VTT Working Papers 119, eq. for v(K_s)):
/// `v = v0 · max(0.1, 1 + β K / α)` with α = 0.706 m/s and β = −0.057 m²/s.
pub const SMOKE_ALPHA: f64 = 0.706;
pub const SMOKE_BETA: f64 = -0.057;
/// The least share of the clear-air speed kept however thick the smoke (FDS+Evac: 0.1 v0).
pub const SMOKE_MIN_FACTOR: f64 = 0.1;

/// Walking speed in smoke of extinction coefficient `extinction` (1/m) over the speed in clear air.
pub fn smoke_speed_factor(extinction: f64) -> f64 {
    (1.0 + SMOKE_BETA / SMOKE_ALPHA * extinction.max(0.0)).clamp(SMOKE_MIN_FACTOR, 1.0)
}

/// How far a light-reflecting sign can be seen through smoke, m: Jin's V = C / K with C = 3
/// (C = 8 for a light-emitting sign; SFPE Handbook, Jin's visibility relation).
pub fn visibility(extinction: f64) -> f64 {
    if extinction > 0.0 { 3.0 / extinction } else { f64::INFINITY }
}

/// A measurement area: its polygon, the polygon's area, and its maximum instantaneous capacity
/// (walkable part ÷ area per person) when the scene gives an area per person.
#[derive(Clone, Debug)]
pub struct AreaGeom {
    pub id: String,
    pub level: LevelId,
    pub polygon: Vec<Point>,
    pub area_m2: f64,
    /// The part of the polygon that is walkable, m².
    pub walkable_m2: f64,
    pub capacity: Option<f64>,
}

/// A hold line and how it lets people through now (commands change `release`).
#[derive(Clone, Debug)]
pub struct HoldLineGeom {
    pub id: String,
    pub level: LevelId,
    pub a: DVec2,
    pub b: DVec2,
    /// The sign of `(b - a) × (p - a)` on the side held people arrive from: +1 or -1.
    pub held_side: f64,
    pub release: LineRelease,
    /// The measurement area where held people queue.
    pub queue: Option<AreaId>,
    /// Bumped by every command, so the line's state restarts on a new order.
    pub version: u32,
}

/// How a hold line lets people through.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LineRelease {
    Free,
    Closed,
    /// Nobody crosses from the held side, and the navigation grid marks the line one-way.
    OneWay,
    Batches {
        size: u32,
        every: f64,
    },
    WhenBelow {
        area: crate::ids::AreaId,
        density: f64,
        size: u32,
    },
}

/// A place agents walk to and stay at, or pass by.
#[derive(Clone, Debug)]
pub struct DestinationGeom {
    pub id: String,
    pub level: LevelId,
    pub area: Vec<Point>,
    /// The area's size, m² (its ring's area).
    pub area_m2: f64,
    /// Nobody stays (the dwell is always zero): reached on setting foot in it, not walked into.
    pub passed_by: bool,
    /// A visitor held up outside the place when it is full passes it by instead of staying at its edge.
    pub pass_by_when_full: bool,
    /// Visitors make for the furthest spot with room, not a spot anywhere (`scene::Fill`).
    pub fills_from_back: bool,
}

/// What a building is used for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuildingUse {
    Shop,
    Office,
    Residence,
    Heritage,
    #[default]
    Mixed,
}

#[derive(Clone, Debug)]
pub struct BuildingGeom {
    pub id: String,
    /// The level whose walkable space the footprint blocks; the building stands on it.
    pub level: LevelId,
    pub footprint: Vec<Point>,
    pub height: f64,
    pub floors: u32,
    pub usage: BuildingUse,
}

#[derive(Clone, Debug)]
pub struct ObstacleGeom {
    pub id: String,
    pub level: LevelId,
    pub footprint: Vec<Point>,
    pub height: f64,
}

/// Which way a lane's traffic runs, relative to its street's centre line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneDirection {
    Forward,
    Backward,
}

/// Who may drive in a lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneKind {
    /// Every vehicle.
    General,
    /// E-bikes and other non-motorised vehicles only.
    NonMotor,
}

/// A traffic lane: its centre line in the direction of travel.
#[derive(Clone, Debug)]
pub struct LaneGeom {
    pub id: LaneId,
    pub centerline: Vec<DVec2>,
    pub width: f64,
    pub direction: LaneDirection,
    /// Position among the lanes of its direction, counted from the kerb on the driver's right.
    pub slot: u32,
    pub kind: LaneKind,
}

/// A pedestrian crossing over a street's carriageway.
#[derive(Clone, Debug)]
pub struct CrossingGeom {
    pub id: String,
    pub crossing: CrossingId,
    /// Distance along the street's centre line, m.
    pub at: f64,
    pub width: f64,
    pub signal: bool,
    pub polygon: Vec<DVec2>,
}

/// A street: carriageway closed to pedestrians except at crossings, sidewalks either side, kerbs
/// between, and lanes for vehicles.
#[derive(Clone, Debug)]
pub struct StreetGeom {
    pub id: String,
    pub level: LevelId,
    pub centerline: Vec<DVec2>,
    /// Carriageway width, m.
    pub width: f64,
    pub kerb_height: f64,
    /// Railings along the kerbs: nobody crosses outside the crossings.
    pub fenced: bool,
    pub one_way: bool,
    /// m/s.
    pub speed_limit: f64,
    /// Closed to vehicles (by a command): none enter; those on it drive out.
    pub closed: bool,
    /// One quadrilateral per centre-line segment.
    pub carriageway: Vec<Vec<DVec2>>,
    pub sidewalks: Vec<Vec<DVec2>>,
    /// The carriageway's edges, left and right of the centre line.
    pub kerbs: Vec<Vec<DVec2>>,
    /// Lines between lanes (dividing opposing traffic included).
    pub lane_markings: Vec<Vec<DVec2>>,
    pub lanes: Vec<LaneGeom>,
    pub crossings: Vec<CrossingGeom>,
}

#[derive(Clone, Debug, Default)]
pub struct Space {
    pub levels: IdVec<LevelId, LevelSpace>,
    pub doors: IdVec<DoorId, DoorGeom>,
    pub zones: IdVec<ZoneId, ZoneGeom>,
    pub portals: IdVec<PortalId, Portal>,
    pub stairs: IdVec<StairId, StairGeom>,
    pub destinations: IdVec<DestinationId, DestinationGeom>,
    pub buildings: IdVec<BuildingId, BuildingGeom>,
    pub obstacles: Vec<ObstacleGeom>,
    pub streets: IdVec<StreetId, StreetGeom>,
    pub signals: IdVec<SignalId, SignalControl>,
    pub areas: IdVec<AreaId, AreaGeom>,
    pub hold_lines: IdVec<HoldLineId, HoldLineGeom>,
    pub barriers: IdVec<BarrierId, BarrierGeom>,
    pub hazards: IdVec<HazardId, HazardGeom>,
    /// The scene's levels by id (stair corridors, which follow them, are not listed).
    pub level_index: BTreeMap<String, LevelId>,
    pub door_index: BTreeMap<String, DoorId>,
    pub zone_index: BTreeMap<String, ZoneId>,
    pub destination_index: BTreeMap<String, DestinationId>,
    pub street_index: BTreeMap<String, StreetId>,
    pub signal_index: BTreeMap<String, SignalId>,
    pub area_index: BTreeMap<String, AreaId>,
    pub hold_line_index: BTreeMap<String, HoldLineId>,
    pub barrier_index: BTreeMap<String, BarrierId>,
    pub hazard_index: BTreeMap<String, HazardId>,
    /// Entrances that arrival flows come through.
    pub arrival_doors: std::collections::BTreeSet<DoorId>,
    /// Far-end control ordered at entrances.
    pub arrival_control: BTreeMap<DoorId, ArrivalControl>,
    /// Doors opened and closed in turn (alternate opening), in the order ordered.
    pub alternations: Vec<Alternation>,
    /// The populations' names, indexed by their ids (for commands that name one).
    pub populations: Vec<String>,
    /// Exits assigned to each population by a command, indexed like `populations`.
    pub exit_assignments: Vec<Option<AssignedExits>>,
    /// Bumped whenever a level's walls are rebuilt (a door closed or opened, a stair's direction set).
    pub walls_version: u64,
    /// Each level's doors, in id order (indexed by `finish`): agents ask for those of their own
    /// level every step, and a large scene has dozens on other levels.
    level_doors: Vec<Vec<DoorId>>,
}

/// Exits assigned to a population: the doors, and the floor-field target that leads to them.
#[derive(Clone, Debug, PartialEq)]
pub struct AssignedExits {
    pub doors: Vec<DoorId>,
    pub target: crate::ids::TargetId,
}

/// Two doors opened and closed in turn: `open` is open now and `shut` closed, until `next`, when
/// they swap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alternation {
    pub open: DoorId,
    pub shut: DoorId,
    pub every: f64,
    pub next: f64,
}

/// Far-end control at one entrance: the share of scheduled arrivals let in, as `(from_time_s,
/// share)` steps, and where they come in instead.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArrivalControl {
    pub shares: Vec<(f64, f64)>,
    pub divert_to: Option<DoorId>,
}

impl ArrivalControl {
    /// The share let in at time `t`.
    pub fn share_at(&self, t: f64) -> f64 {
        self.shares.iter().rev().find(|s| s.0 <= t).map_or(1.0, |s| s.1)
    }
}

/// A traffic signal as commands see it: its plans' names and phase counts, and what it has been
/// told to run (the controller in `traffic` follows these).
#[derive(Clone, Debug)]
pub struct SignalControl {
    pub id: String,
    /// `(plan id, number of phases)` in scene order.
    pub plans: Vec<(String, usize)>,
    /// The plan to run (index into `plans`).
    pub plan: usize,
    /// The phase to hold, if held.
    pub hold: Option<usize>,
    /// Bumped by every command, so the controller sees a switch to the plan already running.
    pub version: u32,
}

impl Space {
    /// Cuts the door gaps into every level's walls and indexes them. Call once all levels, doors
    /// and portals are in place.
    pub fn finish(&mut self) {
        self.door_index = self.doors.enumerate().map(|(id, d)| (d.id.clone(), id)).collect();
        self.zone_index = self.zones.enumerate().map(|(id, z)| (z.id.clone(), id)).collect();
        self.destination_index = self.destinations.enumerate().map(|(id, d)| (d.id.clone(), id)).collect();
        self.street_index = self.streets.enumerate().map(|(id, s)| (s.id.clone(), id)).collect();
        self.signal_index = self.signals.enumerate().map(|(id, s)| (s.id.clone(), id)).collect();
        self.area_index = self.areas.enumerate().map(|(id, a)| (a.id.clone(), id)).collect();
        self.hold_line_index = self.hold_lines.enumerate().map(|(id, h)| (h.id.clone(), id)).collect();
        self.barrier_index = self.barriers.enumerate().map(|(id, b)| (b.id.clone(), id)).collect();
        self.hazard_index = self.hazards.enumerate().map(|(id, h)| (h.id.clone(), id)).collect();
        self.level_doors = vec![Vec::new(); self.levels.len()];
        for (id, door) in self.doors.enumerate() {
            self.level_doors[door.level.index()].push(id);
        }
        for level in self.levels.ids() {
            self.rebuild_walls(level);
        }
    }

    /// The number of scene floors (stair corridors follow them).
    pub fn floors(&self) -> usize {
        self.levels.iter().filter(|l| !l.is_stair()).count()
    }

    /// Makes a boundary door an exit or an entrance only, and rebuilds its level's walls. Returns
    /// the level.
    pub fn set_door_exit(&mut self, door: DoorId, exit: bool) -> LevelId {
        self.doors[door].exit = exit && self.doors[door].boundary;
        let level = self.doors[door].level;
        self.rebuild_walls(level);
        level
    }

    /// Opens or closes a door and rebuilds its level's walls. Returns the level.
    pub fn set_door_open(&mut self, door: DoorId, open: bool) -> LevelId {
        self.doors[door].open = open;
        let level = self.doors[door].level;
        self.rebuild_walls(level);
        level
    }

    fn rebuild_walls(&mut self, li: LevelId) {
        let cuts: Vec<(DVec2, DVec2)> =
            self.doors.iter().filter(|d| d.level == li && d.cuts_wall(&self.portals)).map(|d| (d.a, d.b)).collect();
        self.walls_version += 1;
        // Barriers stand across door gaps too: they are added after the gaps are cut.
        let barriers: Vec<WallSegment> = self
            .barriers
            .iter()
            .filter(|b| b.level == li && b.placed)
            .flat_map(|b| b.segments.iter().copied())
            .collect();
        let level = &mut self.levels[li];
        (level.walls, level.wall_tree) = cut_and_index(&level.base_walls, &cuts, &barriers);
        if let Some(open) = level.open.as_mut() {
            (open.walls, open.wall_tree) = cut_and_index(&open.base_walls, &cuts, &barriers);
        }
    }

    /// Places or removes a barrier and rebuilds its level's walls. Returns the level.
    pub fn set_barrier(&mut self, barrier: BarrierId, placed: bool) -> LevelId {
        self.barriers[barrier].placed = placed;
        let level = self.barriers[barrier].level;
        self.rebuild_walls(level);
        level
    }

    /// Makes an interior door one-way towards the side of `towards`, or two-way again (`None`).
    /// Walls stand as they were: the door stays a gap, and the fields and the one-way check of
    /// the measures plugin keep people from passing it the wrong way. Returns its level.
    pub fn set_door_direction(&mut self, door: DoorId, towards: Option<DVec2>) -> LevelId {
        let d = &mut self.doors[door];
        d.one_way = towards.map(|p| d.side_of(p));
        d.level
    }

    /// Sets a stair's direction and opens or walls its openings to match: nobody steps on against
    /// it from now on, and whoever is on the flight walking the other way turns back (its way off
    /// there is wall now). Rebuilds the walls of both floors and the flight, and returns those levels.
    pub fn set_stair_direction(&mut self, stair: StairId, direction: StairDirection) -> [LevelId; 3] {
        let st = &mut self.stairs[stair];
        st.direction = direction;
        let (up, down) = direction.entries();
        let (head_level, levels) = (st.head_level, [st.foot_level, st.head_level, st.level]);
        for portal in self.portals.iter_mut().filter(|p| p.stair == stair) {
            let at_head = self.doors[portal.door].level == head_level || self.doors[portal.peer].level == head_level;
            // On at the foot and off at the head go up; on at the head and off at the foot go down.
            portal.allowed = if at_head == portal.onto_stair { down } else { up };
        }
        for level in levels {
            self.rebuild_walls(level);
        }
        levels
    }

    /// The zones with smoke now on a level (blocked ones excepted), with the walking-speed factor there.
    pub fn smoky_zones(&self, level: LevelId) -> Vec<(&[Point], f64)> {
        self.zones
            .iter()
            .filter(|z| z.level == level && !z.blocked && z.smoke > 0.0)
            .map(|z| (z.polygon.as_slice(), smoke_speed_factor(z.smoke)))
            .collect()
    }

    /// Polygons of the zones blocked now on a level, hazards included.
    pub fn blocked_zones(&self, level: LevelId) -> Vec<&[Point]> {
        let zones = self.zones.iter().filter(|z| z.level == level && z.blocked).map(|z| z.polygon.as_slice());
        let hazards =
            self.hazards.iter().filter(|h| h.level == level && h.started.is_some()).map(|h| h.polygon.as_slice());
        zones.chain(hazards).collect()
    }

    /// Starts (at `now`) or ends a hazard. Returns its level.
    pub fn set_hazard(&mut self, hazard: HazardId, now: Option<f64>) -> LevelId {
        let h = &mut self.hazards[hazard];
        h.started = now;
        let radius = h.radius;
        if now.is_some() {
            h.block(radius);
        } else {
            h.polygon.clear();
        }
        h.level
    }

    /// Whether a started hazard has grown by `step` metres (or reached its largest radius) since
    /// the fields were built.
    pub fn hazards_due(&self, now: f64, step: f64) -> bool {
        self.hazards.iter().any(|h| h.grown(now, step).is_some())
    }

    /// Grows the started hazards to their radius at `now`, when that has grown by at least `step`
    /// metres since the fields were built. Returns the levels whose blocked ground changed.
    pub fn grow_hazards(&mut self, now: f64, step: f64) -> Vec<LevelId> {
        let mut levels = Vec::new();
        for h in self.hazards.iter_mut() {
            if let Some(r) = h.grown(now, step) {
                h.block(r);
                levels.push(h.level);
            }
        }
        levels.sort();
        levels.dedup();
        levels
    }

    /// World coordinates (x, y, z) of a point on a level: floors are in the world frame; a stair's
    /// corridor is mapped onto the line from its foot opening to its head opening, rising evenly.
    pub fn to_world(&self, level: LevelId, p: DVec2) -> [f64; 3] {
        let l = &self.levels[level];
        match l.kind {
            LevelKind::Floor => [p.x, p.y, l.elevation],
            LevelKind::Stair(si) => {
                let st = &self.stairs[si];
                let t = (p.x / st.run).clamp(0.0, 1.0);
                let axis = st.head_world - st.foot_world;
                let across = axis.try_normalize().map_or(DVec2::ZERO, |a| a.perp()) * (p.y - st.width / 2.0);
                let xy = st.foot_world + axis * t + across;
                [xy.x, xy.y, l.elevation + st.rise * t]
            }
        }
    }

    /// A level's velocity in world coordinates (stairs turn their corridor frame onto the flight).
    pub fn velocity_to_world(&self, level: LevelId, vel: DVec2) -> [f64; 2] {
        match self.levels[level].kind {
            LevelKind::Floor => [vel.x, vel.y],
            LevelKind::Stair(si) => {
                let st = &self.stairs[si];
                let axis = st.head_world - st.foot_world;
                let Some(along) = axis.try_normalize() else { return [0.0, 0.0] };
                let world = along * (vel.x * axis.length() / st.run) + along.perp() * vel.y;
                [world.x, world.y]
            }
        }
    }

    pub fn doors_on(&self, level: LevelId) -> impl Iterator<Item = (DoorId, &DoorGeom)> {
        self.level_doors[level.index()].iter().map(|&id| (id, &self.doors[id]))
    }

    /// Exits on the outer boundary that agents may leave by (open or not).
    pub fn exits(&self) -> impl Iterator<Item = (DoorId, &DoorGeom)> {
        self.doors.enumerate().filter(|(_, d)| d.boundary && d.exit)
    }
}

/// The walls left once the door gaps are cut, and their index.
fn cut_and_index(
    base: &[WallSegment],
    cuts: &[(DVec2, DVec2)],
    barriers: &[WallSegment],
) -> (Vec<WallSegment>, RTree<WallObject>) {
    let mut walls = Vec::new();
    for wall in base {
        cut_gaps(*wall, cuts, &mut walls);
    }
    walls.extend_from_slice(barriers);
    let objects = walls
        .iter()
        .enumerate()
        .map(|(i, w)| GeomWithData::new(Line::new([w.a.x, w.a.y], [w.b.x, w.b.y]), i as u32))
        .collect();
    (walls, RTree::bulk_load(objects))
}

/// Pushes the pieces of `wall` that no gap covers.
fn cut_gaps(wall: WallSegment, gaps: &[(DVec2, DVec2)], out: &mut Vec<WallSegment>) {
    let len = wall.a.distance(wall.b);
    let dir = (wall.b - wall.a) / len;
    let mut removed: Vec<(f64, f64)> = Vec::new();
    for &(a, b) in gaps {
        let off = |p: DVec2| (p - wall.a).perp_dot(dir).abs();
        if off(a) > 1e-3 || off(b) > 1e-3 {
            continue;
        }
        let (s0, s1) = ((a - wall.a).dot(dir), (b - wall.a).dot(dir));
        let (lo, hi) = (s0.min(s1).max(0.0), s0.max(s1).min(len));
        if hi > lo {
            removed.push((lo, hi));
        }
    }
    removed.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut start = 0.0;
    for (lo, hi) in removed {
        if lo > start + 1e-6 {
            out.push(WallSegment { a: wall.a + dir * start, b: wall.a + dir * lo });
        }
        start = start.max(hi);
    }
    if len > start + 1e-6 {
        out.push(WallSegment { a: wall.a + dir * start, b: wall.b });
    }
}

/// The space as a world resource; commands change it, everything else reads it.
#[derive(bevy::prelude::Resource, Clone, Debug)]
pub struct SpaceRes(pub Space);
