//! Crowd-management measures while the twin runs: hold lines that keep arrivals back and let them
//! through in waves, each area's density and warning level, and playbooks that order measures.

use std::collections::{BTreeMap, BTreeSet};

use bevy::math::DVec2;
use bevy::prelude::*;
use serde::Serialize;

use crate::command::{Command, CommandQueue, Origin};
use crate::crowd::{Activity, AgentId, Body, CrowdSnapshot, Plan, Velocity};
use crate::geom::{ring_contains, segments_intersect};
use crate::ids::HoldLineId;
use crate::scene::{QUEUED_SPEED, WarningLevel};
use crate::schedule::{SimClock, SimStep, SimSystems};
use crate::space::{LineRelease, Space, SpaceRes};
use crate::traffic::{LaneBlocks, TrafficNet, VehicleState, Vehicles};
use crate::twin::{ConditionPlan, ConditionTest, Scenario, Subject};

/// Each measurement area at the start of this step: people inside, density over the polygon, and
/// the warning level reached when the area has a capacity.
#[derive(Resource, Clone, Debug, Default)]
pub struct AreaStatus {
    pub areas: Vec<AreaNow>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AreaNow {
    pub inside: u32,
    /// Those inside moving slower than [`STANDING_SPEED`].
    pub standing: u32,
    /// Persons per m² of the polygon.
    pub density: f64,
    /// Share of the maximum instantaneous capacity, when the area has one.
    pub occupancy: Option<f64>,
}

impl AreaNow {
    pub fn warning(&self) -> Option<WarningLevel> {
        let share = self.occupancy?;
        WarningLevel::ALL.iter().rev().copied().find(|l| share >= l.share())
    }

    /// Whether the crowd inside stands (at least half of it slower than [`STANDING_SPEED`]).
    pub fn crowd(&self) -> CrowdState {
        if self.inside > 0 && 2 * self.standing >= self.inside { CrowdState::Standing } else { CrowdState::Moving }
    }

    /// The density alarm this area is in, if any: above 4 persons/m² while its crowd moves, above
    /// 4.7 while it stands (Shanghai's thresholds since 2015).
    pub fn alarm(&self) -> Option<CrowdState> {
        let crowd = self.crowd();
        (self.density > crowd.alarm_density()).then_some(crowd)
    }
}

/// Slower than this, m/s, a person counts as standing [est]: a moving crowd at Shanghai's 4
/// persons/m² alarm still walks at about 0.16 m/s by Weidmann's (1993) fundamental diagram.
pub const STANDING_SPEED: f64 = 0.1;

/// Whether a crowd walks or stands, which sets its density alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CrowdState {
    Moving,
    Standing,
}

impl CrowdState {
    /// Shanghai's critical densities (press, 2015; `validation.md`): 4 persons/m² for a moving
    /// crowd, 4.7 for a standing one.
    pub fn alarm_density(self) -> f64 {
        match self {
            CrowdState::Moving => 4.0,
            CrowdState::Standing => 4.7,
        }
    }
}

/// One spell of an area in a density alarm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AlarmSpell {
    /// Whether the crowd moved or stood when the alarm was raised (it may flip during the spell).
    pub crowd: CrowdState,
    /// When it was raised and cleared, s (`to` is null if it still held at the end).
    pub from: f64,
    pub to: Option<f64>,
    /// The area's highest density during the spell, persons/m², and people inside then.
    pub peak_density: f64,
    pub peak_inside: u32,
}

/// Each measurement area's density alarms over the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AreaAlarms {
    pub area: String,
    /// Seconds in alarm (counted at steps).
    pub seconds: f64,
    pub spells: Vec<AlarmSpell>,
}

/// Every area's alarms, in area id order.
#[derive(Resource, Clone, Debug, Default)]
pub struct DensityAlarms(pub Vec<AreaAlarms>);

/// One wave let through a hold line.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Wave {
    /// When it was released, s.
    pub t: f64,
    /// Places it offered.
    pub size: u32,
    /// People who crossed in it.
    pub admitted: u32,
}

/// What a hold line has done so far.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LineRecord {
    pub id: String,
    /// People who have crossed from the held side, each counted once (someone pressed back over
    /// the line who crosses again is neither counted nor held again).
    pub crossed: u32,
    /// People sent back at the line in the last step.
    pub held_now: u32,
    pub waves: Vec<Wave>,
    /// For each person who was held and then crossed: seconds from first being held to crossing.
    pub waits: Vec<f64>,
    /// People waiting (held at the line, or standing in its queue area while it is held) who
    /// have neither crossed (yet) nor left the space, with the time their wait began.
    #[serde(skip)]
    held_since: BTreeMap<u32, f64>,
    /// People who waited (as in `held_since`) and then left the space another way, without
    /// crossing: bound for another exit past the line's queue, or turned away by the wait.
    pub left_without_crossing: u32,
    /// Who has crossed.
    #[serde(skip)]
    through: BTreeSet<u32>,
    /// The order being carried out (the line's command version).
    #[serde(skip)]
    version: u32,
    #[serde(skip)]
    next_wave: f64,
    /// Places left in the current wave.
    #[serde(skip)]
    open: u32,
}

impl LineRecord {
    /// People waiting when the run ended (still in the space, not crossed).
    pub fn still_waiting(&self) -> usize {
        self.held_since.len()
    }
}

/// Every hold line's record, in hold-line id order.
#[derive(Resource, Clone, Debug, Default)]
pub struct HoldLines(pub Vec<LineRecord>);

/// A playbook firing: when, which, what it issued, and the figure that fired it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    pub t: f64,
    pub playbook: String,
    /// `then` or `after`.
    pub issued: &'static str,
    pub figure: String,
    pub actions: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Stage {
    #[default]
    Watching,
    Active,
    Done,
}

#[derive(Clone, Copy, Debug, Default)]
struct PlaybookState {
    stage: Stage,
    /// Since when the condition watched now has held without a break.
    since: Option<f64>,
}

/// The playbooks' stages and every firing so far.
#[derive(Resource, Clone, Debug, Default)]
pub struct Playbooks {
    states: Vec<PlaybookState>,
    pub firings: Vec<Firing>,
}

/// What the measures did in a run, for its summary.
#[derive(Clone, Debug, Default)]
pub struct MeasuresRecord {
    pub hold_lines: Vec<LineRecord>,
    pub firings: Vec<Firing>,
    pub alarms: Vec<AreaAlarms>,
}

/// Hold lines, area status and playbooks.
pub struct MeasuresPlugin;

impl Plugin for MeasuresPlugin {
    fn build(&self, app: &mut App) {
        let space = &app.world().resource::<SpaceRes>().0;
        let lines = space.hold_lines.iter().map(|h| LineRecord { id: h.id.clone(), ..default() }).collect();
        let areas = vec![AreaNow::default(); space.areas.len()];
        let alarms = space.areas.iter().map(|a| AreaAlarms { area: a.id.clone(), ..default() }).collect();
        let states = vec![PlaybookState::default(); app.world().resource::<Scenario>().playbooks.len()];
        app.insert_resource(HoldLines(lines))
            .insert_resource(AreaStatus { areas })
            .insert_resource(DensityAlarms(alarms))
            .insert_resource(Playbooks { states, firings: Vec::new() })
            .add_systems(
                SimStep,
                (survey_areas, watch_alarms, open_waves, run_playbooks, swap_alternations)
                    .chain()
                    .in_set(SimSystems::Measures),
            )
            .add_systems(SimStep, (hold_at_lines, keep_doors_one_way).chain().in_set(SimSystems::Hold));
    }
}

/// Counts who is in each area at the start of the step, from the snapshot.
fn survey_areas(
    space: Res<SpaceRes>,
    snapshot: Res<CrowdSnapshot>,
    mut status: ResMut<AreaStatus>,
    mut boxes: Local<Vec<[f64; 4]>>,
) {
    let space = &space.0;
    if space.areas.is_empty() {
        return;
    }
    if boxes.len() != space.areas.len() {
        *boxes = space.areas.iter().map(|a| bounds(&a.polygon)).collect();
    }
    for ((area, now), b) in space.areas.iter().zip(&mut status.areas).zip(boxes.iter()) {
        let (mut inside, mut standing) = (0u32, 0u32);
        for a in snapshot.agents.iter().filter(|a| {
            a.level == area.level
                && a.pos.x >= b[0]
                && a.pos.x <= b[2]
                && a.pos.y >= b[1]
                && a.pos.y <= b[3]
                && ring_contains(&area.polygon, a.pos)
        }) {
            inside += 1;
            standing += u32::from(a.vel.length_squared() < STANDING_SPEED * STANDING_SPEED);
        }
        *now = AreaNow {
            inside,
            standing,
            density: inside as f64 / area.area_m2,
            occupancy: area.capacity.map(|c| inside as f64 / c),
        };
    }
}

/// Raises and clears each area's density alarm from this step's survey.
fn watch_alarms(clock: Res<SimClock>, status: Res<AreaStatus>, mut alarms: ResMut<DensityAlarms>) {
    let now = clock.now();
    for (area, record) in status.areas.iter().zip(&mut alarms.0) {
        let open = record.spells.last_mut().filter(|s| s.to.is_none());
        // A spell lasts while either alarm holds: a queue shuffling forward flips between moving
        // and standing from step to step without the danger ending.
        match (area.alarm(), open) {
            (Some(_), Some(spell)) => {
                if area.density > spell.peak_density {
                    (spell.peak_density, spell.peak_inside) = (area.density, area.inside);
                }
            }
            (None, Some(spell)) => spell.to = Some(now),
            (Some(crowd), None) => record.spells.push(AlarmSpell {
                crowd,
                from: now,
                to: None,
                peak_density: area.density,
                peak_inside: area.inside,
            }),
            (None, None) => {}
        }
        if area.alarm().is_some() {
            record.seconds += clock.dt;
        }
    }
}

fn bounds(ring: &[[f64; 2]]) -> [f64; 4] {
    ring.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
        [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]
    })
}

/// Starts waves on held lines: on a new order, every `every` seconds, or when the area beyond has
/// room again.
fn open_waves(clock: Res<SimClock>, space: Res<SpaceRes>, status: Res<AreaStatus>, mut lines: ResMut<HoldLines>) {
    let now = clock.now();
    for (line, record) in space.0.hold_lines.iter().zip(&mut lines.0) {
        if record.version != line.version {
            record.version = line.version;
            record.next_wave = now;
            record.open = 0;
        }
        match line.release {
            LineRelease::Free | LineRelease::Closed | LineRelease::OneWay => record.open = 0,
            LineRelease::Batches { size, every } => {
                if now >= record.next_wave - 1e-9 {
                    record.open = size;
                    record.waves.push(Wave { t: now, size, admitted: 0 });
                    // Whole intervals from the order, so that waves never drift.
                    while record.next_wave <= now + 1e-9 {
                        record.next_wave += every;
                    }
                }
            }
            LineRelease::WhenBelow { area, density, size } => {
                if record.open == 0 && status.areas[area.index()].density < density {
                    record.open = size;
                    record.waves.push(Wave { t: now, size, admitted: 0 });
                }
            }
        }
    }
}

/// After everyone moved: people who crossed a held line without a place in the wave go back to
/// where they stood. Places go to the lowest agent ids first, so the outcome never depends on the
/// order agents are stored in.
fn hold_at_lines(
    clock: Res<SimClock>,
    space: Res<SpaceRes>,
    mut lines: ResMut<HoldLines>,
    mut agents: Query<(Entity, &AgentId, &mut Body, &mut Velocity, &mut Plan)>,
    mut crossing: Local<Vec<(HoldLineId, u32, Entity)>>,
) {
    let space = &space.0;
    if space.hold_lines.is_empty() {
        return;
    }
    let now = clock.end_of_step();
    crossing.clear();
    for (entity, id, body, _, _) in agents.iter() {
        if body.pos == body.prev {
            continue;
        }
        for (line_id, line) in space.hold_lines.enumerate() {
            if line.level == body.level && crosses_from_held_side(line, body.prev, body.pos) {
                crossing.push((line_id, id.0, entity));
            }
        }
    }
    crossing.sort_unstable_by_key(|c| (c.0, c.1));
    queue_waits(&clock, space, &mut lines, &agents);
    for record in &mut lines.0 {
        record.held_now = 0;
    }
    for &(line_id, agent, entity) in crossing.iter() {
        let line = &space.hold_lines[line_id];
        let record = &mut lines.0[line_id.index()];
        let Ok((_, _, mut body, mut velocity, mut plan)) = agents.get_mut(entity) else { continue };
        // Someone already sent back by an earlier line stands where they were.
        if body.pos == body.prev {
            continue;
        }
        if record.through.contains(&agent) {
            continue;
        }
        let admitted = match line.release {
            LineRelease::Free => true,
            LineRelease::Closed | LineRelease::OneWay => false,
            LineRelease::Batches { .. } | LineRelease::WhenBelow { .. } => {
                if record.open > 0 {
                    record.open -= 1;
                    if let Some(wave) = record.waves.last_mut() {
                        wave.admitted += 1;
                    }
                    true
                } else {
                    false
                }
            }
        };
        if admitted {
            record.crossed += 1;
            record.through.insert(agent);
            if let Some(since) = record.held_since.remove(&agent) {
                record.waits.push(now - since);
            }
        } else {
            body.pos = body.prev;
            velocity.0 = DVec2::ZERO;
            if matches!(plan.activity, Activity::Left { .. }) {
                plan.activity = Activity::Walking;
            }
            record.held_now += 1;
            record.held_since.entry(agent).or_insert(clock.now());
        }
    }
    forget_leavers(&mut lines, &agents);
}

/// Whoever leaves the space this step without having crossed was not waiting to cross: someone
/// bound for an exit who stood in a queue area on the way out (leavers pass through the entrance
/// mouths where arrivals are held), or someone who gave up. They drop out of the waiting.
fn forget_leavers(lines: &mut HoldLines, agents: &Query<(Entity, &AgentId, &mut Body, &mut Velocity, &mut Plan)>) {
    if lines.0.iter().all(|r| r.held_since.is_empty()) {
        return;
    }
    for (_, id, _, _, plan) in agents.iter() {
        if matches!(plan.activity, Activity::Left { .. }) {
            for record in &mut lines.0 {
                if record.held_since.remove(&id.0).is_some() {
                    record.left_without_crossing += 1;
                }
            }
        }
    }
}

/// After everyone moved: whoever stepped through a one-way door against its direction goes back
/// to where they stood, as if it were shut from that side. Someone in the doorway whose centre is
/// already past the line in the allowed direction is on the far side and walks on.
fn keep_doors_one_way(space: Res<SpaceRes>, mut agents: Query<(&mut Body, &mut Velocity)>) {
    let space = &space.0;
    if !space.doors.iter().any(|d| d.one_way.is_some()) {
        return;
    }
    for (mut body, mut velocity) in agents.iter_mut() {
        if body.pos == body.prev {
            continue;
        }
        let (level, prev, pos) = (body.level, body.prev, body.pos);
        if space.doors.iter().any(|d| d.level == level && d.against(prev, pos)) {
            body.pos = prev;
            velocity.0 = DVec2::ZERO;
        }
    }
}

/// People standing still in a held line's queue area are waiting from the first step they do so.
fn queue_waits(
    clock: &SimClock,
    space: &Space,
    lines: &mut HoldLines,
    agents: &Query<(Entity, &AgentId, &mut Body, &mut Velocity, &mut Plan)>,
) {
    // Below walking pace: a tenth of a metre per second.
    let still = 0.1 * clock.dt;
    for (line, record) in space.hold_lines.iter().zip(&mut lines.0) {
        let Some(area) = line.queue.map(|a| &space.areas[a]) else { continue };
        if line.release == LineRelease::Free {
            continue;
        }
        let b = bounds(&area.polygon);
        for (_, id, body, _, _) in agents.iter() {
            if body.level == area.level
                && body.pos.distance(body.prev) < still
                && body.pos.x >= b[0]
                && body.pos.x <= b[2]
                && body.pos.y >= b[1]
                && body.pos.y <= b[3]
                && line.held_side * (line.b - line.a).perp_dot(body.pos - line.a) > 0.0
                && ring_contains(&area.polygon, body.pos)
            {
                record.held_since.entry(id.0).or_insert(clock.now());
            }
        }
    }
}

/// Whether a step from `a` to `b` crosses the line from its held side.
fn crosses_from_held_side(line: &crate::space::HoldLineGeom, a: DVec2, b: DVec2) -> bool {
    let dir = line.b - line.a;
    let before = line.held_side * dir.perp_dot(a - line.a);
    let after = line.held_side * dir.perp_dot(b - line.a);
    before > 0.0 && after <= 0.0 && segments_intersect(a, b, line.a, line.b)
}

/// Watches each playbook's condition and issues its actions once the condition has held long
/// enough. When a recording is replayed, the recording carries the actions; firings are still logged.
fn run_playbooks(
    clock: Res<SimClock>,
    scenario: Res<Scenario>,
    space: Res<SpaceRes>,
    status: Res<AreaStatus>,
    mut playbooks: ResMut<Playbooks>,
    mut queue: ResMut<CommandQueue>,
    mut traffic: Option<(Res<Vehicles>, Res<TrafficNet>, ResMut<LaneBlocks>)>,
    mut streets: Local<Vec<StreetNow>>,
) {
    let now = clock.now();
    let playbooks = &mut *playbooks;
    let watches_streets = scenario
        .playbooks
        .iter()
        .any(|p| std::iter::once(&p.when).chain(&p.until).any(|c| matches!(c.subject, Subject::Street(_))));
    if watches_streets {
        survey_streets(&space.0, traffic.as_mut().map(|(v, n, b)| (&**v, &*n.0, &mut **b)), &mut streets);
    }
    for (plan, state) in scenario.playbooks.iter().zip(&mut playbooks.states) {
        let condition = match state.stage {
            Stage::Watching => Some(&plan.when),
            Stage::Active => plan.until.as_ref(),
            Stage::Done => None,
        };
        let Some(condition) = condition else { continue };
        let now_watched = match condition.subject {
            Subject::Area(area) => Watch::Area(status.areas[area.index()]),
            Subject::Street(street) => Watch::Street(streets[street.index()]),
        };
        if !holds(condition, &now_watched) {
            state.since = None;
            continue;
        }
        let since = *state.since.get_or_insert(now);
        if now - since < condition.duration - 1e-9 {
            continue;
        }
        let (issued, commands) = match state.stage {
            Stage::Watching => ("then", &plan.then),
            _ => ("after", &plan.after),
        };
        for &command in commands {
            queue.issue_from(Origin::Playbook, command);
        }
        playbooks.firings.push(Firing {
            t: now,
            playbook: plan.id.clone(),
            issued,
            figure: figure(&space.0, condition, &now_watched, now - since),
            actions: commands.iter().map(|c| c.named(&space.0).to_string()).collect(),
        });
        state.since = None;
        state.stage = match (state.stage, &plan.until) {
            (Stage::Watching, Some(_)) => Stage::Active,
            (Stage::Watching, None) => Stage::Done,
            _ => Stage::Watching,
        };
    }
}

/// What a condition's subject shows at the start of the step.
enum Watch {
    Area(AreaNow),
    Street(StreetNow),
}

/// A street at the start of the step, for playbooks that watch it.
#[derive(Clone, Copy, Debug, Default)]
struct StreetNow {
    /// Vehicles driving on its lanes slower than [`QUEUED_SPEED`].
    queued: u32,
    /// Whether something placed stands in one of its lanes.
    blocked: bool,
}

fn survey_streets(
    space: &Space,
    traffic: Option<(&Vehicles, &crate::traffic::Network, &mut LaneBlocks)>,
    out: &mut Vec<StreetNow>,
) {
    out.clear();
    out.resize(space.streets.len(), StreetNow::default());
    let Some((vehicles, net, blocks)) = traffic else { return };
    for v in vehicles.iter() {
        if v.state == VehicleState::Driving
            && v.v < QUEUED_SPEED
            && let Some(street) = net.links[v.link as usize].street()
        {
            out[street.index()].queued += 1;
        }
    }
    // Barriers placed or removed by this step's commands are already in the walls.
    blocks.follow(net, space);
    for (link, lane) in net.links.iter().enumerate() {
        if let Some(street) = lane.street()
            && !blocks.on_link(link as u32).is_empty()
        {
            out[street.index()].blocked = true;
        }
    }
}

fn holds(condition: &ConditionPlan, now: &Watch) -> bool {
    match (condition.test, now) {
        (ConditionTest::DensityAbove(d), Watch::Area(area)) => area.density > d,
        (ConditionTest::DensityBelow(d), Watch::Area(area)) => area.density < d,
        (ConditionTest::WarningAtLeast(level), Watch::Area(area)) => area.warning().is_some_and(|w| w >= level),
        (ConditionTest::WarningBelow(level), Watch::Area(area)) => area.warning().is_none_or(|w| w < level),
        (ConditionTest::QueueAtLeast(n), Watch::Street(street)) => street.queued >= n,
        (ConditionTest::QueueBelow(n), Watch::Street(street)) => street.queued < n,
        (ConditionTest::LaneBlocked, Watch::Street(street)) => street.blocked,
        (ConditionTest::LanesClear, Watch::Street(street)) => !street.blocked,
        _ => false,
    }
}

fn figure(space: &Space, c: &ConditionPlan, now: &Watch, held: f64) -> String {
    let test = match c.test {
        ConditionTest::DensityAbove(d) => format!("above {d} persons/m²"),
        ConditionTest::DensityBelow(d) => format!("below {d} persons/m²"),
        ConditionTest::WarningAtLeast(l) => format!("at {} or above", l.name()),
        ConditionTest::WarningBelow(l) => format!("below {}", l.name()),
        ConditionTest::QueueAtLeast(n) => format!("at least {n} queued"),
        ConditionTest::QueueBelow(n) => format!("fewer than {n} queued"),
        ConditionTest::LaneBlocked => "a lane blocked".to_string(),
        ConditionTest::LanesClear => "all lanes clear".to_string(),
    };
    match (c.subject, now) {
        (Subject::Area(id), Watch::Area(area)) => {
            let occupancy = area.occupancy.map_or(String::new(), |o| format!(", {:.0} % of capacity", o * 100.0));
            format!(
                "area '{}': {} people, {:.2} persons/m²{occupancy}; {test} for {:.1} s",
                space.areas[id].id, area.inside, area.density, held
            )
        }
        (Subject::Street(id), Watch::Street(street)) => {
            let lanes = if street.blocked { "a lane blocked" } else { "lanes clear" };
            format!(
                "street '{}': {} vehicles queued, {lanes}; {test} for {held:.1} s",
                space.streets[id].id, street.queued
            )
        }
        _ => unreachable!("a condition's subject and what is watched agree"),
    }
}

/// Alternate openings: the doors swap (as a recorded command, applied at the start of the next
/// step) when the step that begins next reaches the swap time. A replay takes the swaps from its
/// recording.
fn swap_alternations(clock: Res<SimClock>, space: Res<SpaceRes>, mut queue: ResMut<CommandQueue>) {
    let next_step = clock.now() + clock.dt;
    for alternation in &space.0.alternations {
        if next_step + 1e-9 >= alternation.next {
            queue
                .issue_from(Origin::Measure, Command::Alternate(alternation.shut, alternation.open, alternation.every));
        }
    }
}
