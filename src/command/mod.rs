//! Commands: every change made to the twin while it runs (doors, zones; measures, signals and
//! vehicles to come). Checked when issued, applied at the start of the next step, recorded with their step.

pub mod script;

use bevy::ecs::system::SystemParam;
use bevy::math::DVec2;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::{BarrierId, DoorId, HazardId, HoldLineId, Id, PopulationId, SignalId, StairId, StreetId, ZoneId};
use crate::nav::Navigation;
use crate::scene::MAX_ASSIGNED_EXITS;
use crate::schedule::{SimClock, SimStep, SimSystems};
use crate::space::{DoorKind, LineRelease, Space, SpaceRes, StairDirection};

pub use script::{CommandScript, SCRIPT_VERSION, read_script};

/// A change to the twin, naming its objects by their runtime ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    CloseDoor(DoorId),
    OpenDoor(DoorId),
    BlockZone(ZoneId),
    UnblockZone(ZoneId),
    PlaceBarrier(BarrierId),
    RemoveBarrier(BarrierId),
    StartHazard(HazardId),
    EndHazard(HazardId),
    /// Opens the first door and closes the second now; they swap every so many seconds.
    Alternate(DoorId, DoorId, f64),
    /// Ends the alternation that involves this door, leaving both doors open.
    StopAlternating(DoorId),
    /// A boundary door becomes an exit (true) or an entrance only (false).
    SetExit(DoorId, bool),
    /// Smoke in a zone with this extinction coefficient (1/m; 0 clears it).
    Smoke(ZoneId, f64),
    CloseStreet(StreetId),
    OpenStreet(StreetId),
    /// Holds the signal in this phase of its running plan.
    HoldPhase(SignalId, u32),
    ReleaseSignal(SignalId),
    /// Switches the signal to this plan.
    SwitchPlan(SignalId, u32),
    /// Holds people arriving at the line and lets them through as the release says.
    HoldLine(HoldLineId, LineRelease),
    ReleaseLine(HoldLineId),
    /// Only this share (0–1) of the arrivals scheduled at the entrance come, from now on.
    LimitArrivals(DoorId, f64),
    /// The arrivals scheduled at the first entrance come through the second.
    DivertArrivals(DoorId, DoorId),
    RestoreArrivals(DoorId),
    /// Makes a stair one-way, or two-way again (单向循环). Nobody steps on against the new
    /// direction; those on the flight walking against it turn back.
    SetStairDirection(StairId, StairDirection),
    /// Makes an interior door one-way towards the side of the point, or two-way again (`None`).
    /// Nobody crosses it against the direction; routes respect it.
    SetDoorDirection(DoorId, Option<DVec2>),
    /// The population leaves only by these exits from now on (单向循环); none gives it back the
    /// exits of its goal.
    AssignExits(PopulationId, ExitSet),
}

/// Up to [`MAX_ASSIGNED_EXITS`] exit doors, in id order (a command stays `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitSet {
    len: u8,
    doors: [DoorId; MAX_ASSIGNED_EXITS],
}

impl ExitSet {
    /// The set of these doors (sorted, each once); `None` if there are too many.
    pub fn new(doors: &[DoorId]) -> Option<Self> {
        let mut sorted = doors.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() > MAX_ASSIGNED_EXITS {
            return None;
        }
        let mut set = ExitSet { len: sorted.len() as u8, doors: [DoorId::from_index(0); MAX_ASSIGNED_EXITS] };
        set.doors[..sorted.len()].copy_from_slice(&sorted);
        Some(set)
    }
    pub fn doors(&self) -> &[DoorId] {
        &self.doors[..self.len as usize]
    }
}

/// The same change naming objects by their scene ids: the form of scene events and of
/// `commands.ron` (one type for both, so that a recording replays like a scene's events).
pub use crate::scene::Action as NamedCommand;
use crate::scene::Release;

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("there is no door '{name}' (doors: {known})")]
    UnknownDoor { name: String, known: String },
    #[error("there is no zone '{name}' (zones: {known})")]
    UnknownZone { name: String, known: String },
    #[error("'{0}' is a stair opening, not a door of the scene")]
    StairOpening(String),
    #[error("{0} is not a door of this twin")]
    NoSuchDoor(DoorId),
    #[error("{0} is not a zone of this twin")]
    NoSuchZone(ZoneId),
    #[error("there is no street '{name}' (streets: {known})")]
    UnknownStreet { name: String, known: String },
    #[error("there is no signal '{name}' (signals: {known})")]
    UnknownSignal { name: String, known: String },
    #[error("signal '{signal}' has no plan '{name}' (plans: {known})")]
    UnknownPlan { signal: String, name: String, known: String },
    #[error("signal '{signal}' runs plan '{plan}', which has phases 0–{last}; there is no phase {phase}")]
    NoSuchPhase { signal: String, plan: String, phase: u32, last: usize },
    #[error("{0} is not a street of this twin")]
    NoSuchStreet(StreetId),
    #[error("{0} is not a signal of this twin")]
    NoSuchSignal(SignalId),
    #[error("there is no hold line '{name}' (hold lines: {known})")]
    UnknownHoldLine { name: String, known: String },
    #[error("there is no measurement area '{name}' (areas: {known})")]
    UnknownArea { name: String, known: String },
    #[error("{0} is not a hold line of this twin")]
    NoSuchHoldLine(HoldLineId),
    #[error("{0}")]
    BadRelease(String),
    #[error("no arrivals come through door '{door}' (entrances with arrivals: {known})")]
    NoArrivals { door: String, known: String },
    #[error("door '{0}' is not on the boundary of the walkable space: arrivals cannot come through it")]
    NotAnEntrance(String),
    #[error("door '{0}' is not on the outer boundary of the walkable space: only such a door can be an exit")]
    NotOnBoundary(String),
    #[error("there is no barrier '{name}' (barriers: {known})")]
    UnknownBarrier { name: String, known: String },
    #[error("{0} is not a barrier of this twin")]
    NoSuchBarrier(BarrierId),
    #[error("there is no hazard '{name}' (hazards: {known})")]
    UnknownHazard { name: String, known: String },
    #[error("{0} is not a hazard of this twin")]
    NoSuchHazard(HazardId),
    #[error("there is no stair '{name}' (stairs: {known})")]
    UnknownStair { name: String, known: String },
    #[error("{0} is not a stair of this twin")]
    NoSuchStair(StairId),
    #[error("door '{0}' is on the outer boundary: make it entrance-only with SetExit instead")]
    BoundaryDoor(String),
    #[error("the point ({x}, {y}) lies on the line of door '{door}': give a point on the side people may pass towards")]
    OnDoorLine { door: String, x: f64, y: f64 },
    #[error("doors '{from}' and '{to}' are on different levels: arrivals are diverted on one level")]
    OtherLevel { from: String, to: String },
    #[error("there is no population '{name}' (populations: {known})")]
    UnknownPopulation { name: String, known: String },
    #[error("{0} is not a population of this twin")]
    NoSuchPopulation(PopulationId),
    #[error("at most {MAX_ASSIGNED_EXITS} exits may be assigned to a population (got {0})")]
    TooManyExits(usize),
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

impl Command {
    /// The command a named command stands for in `space`, or why there is none.
    pub fn resolve(named: &NamedCommand, space: &Space) -> Result<Command, CommandError> {
        let door = |name: &String| match space.door_index.get(name) {
            Some(&id) if space.doors[id].kind == DoorKind::Scene => Ok(id),
            Some(_) => Err(CommandError::StairOpening(name.clone())),
            None => Err(CommandError::UnknownDoor {
                name: name.clone(),
                known: list(space.doors.iter().filter(|d| d.kind == DoorKind::Scene).map(|d| &d.id)),
            }),
        };
        let zone = |name: &String| {
            space.zone_index.get(name).copied().ok_or_else(|| CommandError::UnknownZone {
                name: name.clone(),
                known: list(space.zones.iter().map(|z| &z.id)),
            })
        };
        let street = |name: &String| {
            space.street_index.get(name).copied().ok_or_else(|| CommandError::UnknownStreet {
                name: name.clone(),
                known: list(space.streets.iter().map(|s| &s.id)),
            })
        };
        let signal = |name: &String| {
            space.signal_index.get(name).copied().ok_or_else(|| CommandError::UnknownSignal {
                name: name.clone(),
                known: list(space.signals.iter().map(|s| &s.id)),
            })
        };
        let hold_line = |name: &String| {
            space.hold_line_index.get(name).copied().ok_or_else(|| CommandError::UnknownHoldLine {
                name: name.clone(),
                known: list(space.hold_lines.iter().map(|h| &h.id)),
            })
        };
        let barrier = |name: &String| {
            space.barrier_index.get(name).copied().ok_or_else(|| CommandError::UnknownBarrier {
                name: name.clone(),
                known: list(space.barriers.iter().map(|b| &b.id)),
            })
        };
        let command = match named {
            NamedCommand::Alternate { first, second, every } => {
                if let Some(problem) = crate::scene::measures::action_problem(named) {
                    return Err(CommandError::BadRelease(problem));
                }
                Command::Alternate(door(first)?, door(second)?, *every)
            }
            NamedCommand::StopAlternating(d) => Command::StopAlternating(door(d)?),
            NamedCommand::SetExit { door: d, exit } => Command::SetExit(door(d)?, *exit),
            NamedCommand::AssignExits { population, exits } => {
                let index = space.populations.iter().position(|p| p == population).ok_or_else(|| {
                    CommandError::UnknownPopulation { name: population.clone(), known: list(space.populations.iter()) }
                })?;
                let doors = exits.iter().map(door).collect::<Result<Vec<_>, _>>()?;
                let set = ExitSet::new(&doors).ok_or(CommandError::TooManyExits(doors.len()))?;
                Command::AssignExits(PopulationId::from_index(index), set)
            }
            NamedCommand::StartHazard(h) | NamedCommand::EndHazard(h) => {
                let id = space.hazard_index.get(h).copied().ok_or_else(|| CommandError::UnknownHazard {
                    name: h.clone(),
                    known: list(space.hazards.iter().map(|h| &h.id)),
                })?;
                if matches!(named, NamedCommand::StartHazard(_)) {
                    Command::StartHazard(id)
                } else {
                    Command::EndHazard(id)
                }
            }
            NamedCommand::PlaceBarrier(b) => Command::PlaceBarrier(barrier(b)?),
            NamedCommand::RemoveBarrier(b) => Command::RemoveBarrier(barrier(b)?),
            NamedCommand::CloseDoor(d) => Command::CloseDoor(door(d)?),
            NamedCommand::OpenDoor(d) => Command::OpenDoor(door(d)?),
            NamedCommand::BlockZone(z) => Command::BlockZone(zone(z)?),
            NamedCommand::UnblockZone(z) => Command::UnblockZone(zone(z)?),
            NamedCommand::Smoke { zone: z, extinction } => {
                if let Some(problem) = crate::scene::measures::action_problem(named) {
                    return Err(CommandError::BadRelease(problem));
                }
                Command::Smoke(zone(z)?, *extinction)
            }
            NamedCommand::CloseStreet(s) => Command::CloseStreet(street(s)?),
            NamedCommand::OpenStreet(s) => Command::OpenStreet(street(s)?),
            NamedCommand::HoldPhase { signal: s, phase } => Command::HoldPhase(signal(s)?, *phase),
            NamedCommand::ReleaseSignal(s) => Command::ReleaseSignal(signal(s)?),
            NamedCommand::SwitchPlan { signal: s, plan } => {
                let id = signal(s)?;
                let control = &space.signals[id];
                let index =
                    control.plans.iter().position(|(p, _)| p == plan).ok_or_else(|| CommandError::UnknownPlan {
                        signal: s.clone(),
                        name: plan.clone(),
                        known: list(control.plans.iter().map(|(p, _)| p)),
                    })?;
                Command::SwitchPlan(id, index as u32)
            }
            NamedCommand::HoldLine { line, release } => {
                if let Some(problem) = crate::scene::measures::action_problem(named) {
                    return Err(CommandError::BadRelease(problem));
                }
                let release = match release {
                    Release::Closed => LineRelease::Closed,
                    Release::OneWay => LineRelease::OneWay,
                    Release::Batches { size, every } => LineRelease::Batches { size: *size, every: *every },
                    Release::WhenBelow { area, density, size } => LineRelease::WhenBelow {
                        area: space.area_index.get(area).copied().ok_or_else(|| CommandError::UnknownArea {
                            name: area.clone(),
                            known: list(space.areas.iter().map(|a| &a.id)),
                        })?,
                        density: *density,
                        size: *size,
                    },
                };
                Command::HoldLine(hold_line(line)?, release)
            }
            NamedCommand::ReleaseLine(line) => Command::ReleaseLine(hold_line(line)?),
            NamedCommand::LimitArrivals { door: d, share } => {
                if let Some(problem) = crate::scene::measures::action_problem(named) {
                    return Err(CommandError::BadRelease(problem));
                }
                Command::LimitArrivals(door(d)?, *share)
            }
            NamedCommand::DivertArrivals { from, to } => Command::DivertArrivals(door(from)?, door(to)?),
            NamedCommand::RestoreArrivals(d) => Command::RestoreArrivals(door(d)?),
            NamedCommand::StairDirection { stair, direction } => {
                let id = space.stairs.enumerate().find(|(_, s)| &s.id == stair).map(|(id, _)| id).ok_or_else(|| {
                    CommandError::UnknownStair { name: stair.clone(), known: list(space.stairs.iter().map(|s| &s.id)) }
                })?;
                Command::SetStairDirection(id, crate::space::StairDirection::from(*direction))
            }
            NamedCommand::DoorDirection { door: d, direction } => {
                if let Some(problem) = crate::scene::measures::action_problem(named) {
                    return Err(CommandError::BadRelease(problem));
                }
                let towards = match direction {
                    crate::scene::DoorWay::Both => None,
                    crate::scene::DoorWay::Towards(p) => Some(DVec2::new(p[0], p[1])),
                };
                Command::SetDoorDirection(door(d)?, towards)
            }
        };
        command.check(space)?;
        Ok(command)
    }

    /// Whether the ids exist in `space` and name what the command acts on.
    pub fn check(self, space: &Space) -> Result<(), CommandError> {
        match self {
            Command::CloseDoor(d) | Command::OpenDoor(d) => match space.doors.get(d) {
                Some(door) if door.kind == DoorKind::Scene => Ok(()),
                Some(door) => Err(CommandError::StairOpening(door.id.clone())),
                None => Err(CommandError::NoSuchDoor(d)),
            },
            Command::Alternate(a, b, every) => {
                for d in [a, b] {
                    match space.doors.get(d) {
                        Some(door) if door.kind == DoorKind::Scene => {}
                        Some(door) => return Err(CommandError::StairOpening(door.id.clone())),
                        None => return Err(CommandError::NoSuchDoor(d)),
                    }
                }
                if a == b || !(every.is_finite() && every >= crate::scene::measures::MIN_ALTERNATION) {
                    return Err(CommandError::BadRelease(format!(
                        "alternate opening needs two different doors and an interval of at least {} s",
                        crate::scene::measures::MIN_ALTERNATION
                    )));
                }
                Ok(())
            }
            Command::AssignExits(p, set) => {
                if p.index() >= space.populations.len() {
                    return Err(CommandError::NoSuchPopulation(p));
                }
                for &d in set.doors() {
                    Command::SetExit(d, true).check(space)?;
                }
                Ok(())
            }
            Command::SetExit(d, _) => match space.doors.get(d) {
                Some(door) if door.kind != DoorKind::Scene => Err(CommandError::StairOpening(door.id.clone())),
                Some(door) if !door.boundary => Err(CommandError::NotOnBoundary(door.id.clone())),
                Some(_) => Ok(()),
                None => Err(CommandError::NoSuchDoor(d)),
            },
            Command::StopAlternating(d) => match space.doors.get(d) {
                None => Err(CommandError::NoSuchDoor(d)),
                Some(door) if !space.alternations.iter().any(|a| a.open == d || a.shut == d) => {
                    Err(CommandError::BadRelease(format!("door '{}' is not alternating", door.id)))
                }
                Some(_) => Ok(()),
            },
            Command::StartHazard(h) | Command::EndHazard(h) => {
                space.hazards.get(h).map(|_| ()).ok_or(CommandError::NoSuchHazard(h))
            }
            Command::PlaceBarrier(b) | Command::RemoveBarrier(b) => {
                space.barriers.get(b).map(|_| ()).ok_or(CommandError::NoSuchBarrier(b))
            }
            Command::Smoke(z, extinction) => {
                if let Some(problem) = crate::scene::measures::smoke_problem(extinction) {
                    return Err(CommandError::BadRelease(problem));
                }
                space.zones.get(z).map(|_| ()).ok_or(CommandError::NoSuchZone(z))
            }
            Command::BlockZone(z) | Command::UnblockZone(z) => {
                if space.zones.contains(z) {
                    Ok(())
                } else {
                    Err(CommandError::NoSuchZone(z))
                }
            }
            Command::CloseStreet(s) | Command::OpenStreet(s) => {
                if space.streets.contains(s) {
                    Ok(())
                } else {
                    Err(CommandError::NoSuchStreet(s))
                }
            }
            Command::ReleaseSignal(g) => space.signals.get(g).map(|_| ()).ok_or(CommandError::NoSuchSignal(g)),
            Command::SwitchPlan(g, plan) => match space.signals.get(g) {
                Some(c) if (plan as usize) < c.plans.len() => Ok(()),
                Some(c) => Err(CommandError::UnknownPlan {
                    signal: c.id.clone(),
                    name: format!("#{plan}"),
                    known: list(c.plans.iter().map(|(p, _)| p)),
                }),
                None => Err(CommandError::NoSuchSignal(g)),
            },
            Command::HoldLine(h, release) => {
                if space.hold_lines.get(h).is_none() {
                    return Err(CommandError::NoSuchHoldLine(h));
                }
                match release {
                    LineRelease::WhenBelow { area, .. } if space.areas.get(area).is_none() => {
                        Err(CommandError::UnknownArea {
                            name: area.to_string(),
                            known: list(space.areas.iter().map(|a| &a.id)),
                        })
                    }
                    LineRelease::Batches { size, every } if size == 0 || !(every.is_finite() && every > 0.0) => {
                        Err(CommandError::BadRelease(format!(
                            "a wave release needs a size above 0 and an interval above 0 s (got {size}, {every})"
                        )))
                    }
                    LineRelease::WhenBelow { size, density, .. }
                        if size == 0 || !(density.is_finite() && density > 0.0) =>
                    {
                        Err(CommandError::BadRelease(format!(
                            "a release by density needs a size above 0 and a density above 0 (got {size}, {density})"
                        )))
                    }
                    _ => Ok(()),
                }
            }
            Command::ReleaseLine(h) => space.hold_lines.get(h).map(|_| ()).ok_or(CommandError::NoSuchHoldLine(h)),
            Command::LimitArrivals(d, share) => {
                check_arrivals(space, d)?;
                if share.is_finite() && (0.0..=1.0).contains(&share) {
                    Ok(())
                } else {
                    Err(CommandError::BadRelease(format!("the share of arrivals let in must be 0–1 (got {share})")))
                }
            }
            Command::RestoreArrivals(d) => check_arrivals(space, d),
            Command::SetStairDirection(s, _) => space.stairs.get(s).map(|_| ()).ok_or(CommandError::NoSuchStair(s)),
            Command::SetDoorDirection(d, towards) => match space.doors.get(d) {
                None => Err(CommandError::NoSuchDoor(d)),
                Some(door) if door.kind != DoorKind::Scene => Err(CommandError::StairOpening(door.id.clone())),
                Some(door) if door.boundary => Err(CommandError::BoundaryDoor(door.id.clone())),
                Some(door) => match towards {
                    // A point within a centimetre of the door's line names no side for sure.
                    Some(p) if !(p.is_finite() && (p - door.a).dot(door.normal).abs() > 0.01) => {
                        Err(CommandError::OnDoorLine { door: door.id.clone(), x: p.x, y: p.y })
                    }
                    _ => Ok(()),
                },
            },
            Command::DivertArrivals(from, to) => {
                check_arrivals(space, from)?;
                let target = match space.doors.get(to) {
                    Some(t) if t.kind == DoorKind::Scene => t,
                    Some(t) => return Err(CommandError::StairOpening(t.id.clone())),
                    None => return Err(CommandError::NoSuchDoor(to)),
                };
                if !target.boundary {
                    return Err(CommandError::NotAnEntrance(target.id.clone()));
                }
                if target.level != space.doors[from].level {
                    return Err(CommandError::OtherLevel { from: space.doors[from].id.clone(), to: target.id.clone() });
                }
                Ok(())
            }
            Command::HoldPhase(g, phase) => match space.signals.get(g) {
                // Checked against the plan running when issued; a hold applied after a switch to
                // a shorter plan holds that plan's last phase.
                Some(c) if (phase as usize) < c.plans[c.plan].1 => Ok(()),
                Some(c) => Err(CommandError::NoSuchPhase {
                    signal: c.id.clone(),
                    plan: c.plans[c.plan].0.clone(),
                    phase,
                    last: c.plans[c.plan].1.saturating_sub(1),
                }),
                None => Err(CommandError::NoSuchSignal(g)),
            },
        }
    }

    /// The command with scene ids (its ids must be valid in `space`).
    pub fn named(self, space: &Space) -> NamedCommand {
        match self {
            Command::CloseDoor(d) => NamedCommand::CloseDoor(space.doors[d].id.clone()),
            Command::OpenDoor(d) => NamedCommand::OpenDoor(space.doors[d].id.clone()),
            Command::BlockZone(z) => NamedCommand::BlockZone(space.zones[z].id.clone()),
            Command::UnblockZone(z) => NamedCommand::UnblockZone(space.zones[z].id.clone()),
            Command::Alternate(a, b, every) => {
                NamedCommand::Alternate { first: space.doors[a].id.clone(), second: space.doors[b].id.clone(), every }
            }
            Command::StopAlternating(d) => NamedCommand::StopAlternating(space.doors[d].id.clone()),
            Command::SetExit(d, exit) => NamedCommand::SetExit { door: space.doors[d].id.clone(), exit },
            Command::AssignExits(p, set) => NamedCommand::AssignExits {
                population: space.populations[p.index()].clone(),
                exits: set.doors().iter().map(|&d| space.doors[d].id.clone()).collect(),
            },
            Command::StartHazard(h) => NamedCommand::StartHazard(space.hazards[h].id.clone()),
            Command::EndHazard(h) => NamedCommand::EndHazard(space.hazards[h].id.clone()),
            Command::PlaceBarrier(b) => NamedCommand::PlaceBarrier(space.barriers[b].id.clone()),
            Command::RemoveBarrier(b) => NamedCommand::RemoveBarrier(space.barriers[b].id.clone()),
            Command::Smoke(z, extinction) => NamedCommand::Smoke { zone: space.zones[z].id.clone(), extinction },
            Command::CloseStreet(s) => NamedCommand::CloseStreet(space.streets[s].id.clone()),
            Command::OpenStreet(s) => NamedCommand::OpenStreet(space.streets[s].id.clone()),
            Command::HoldPhase(g, phase) => NamedCommand::HoldPhase { signal: space.signals[g].id.clone(), phase },
            Command::ReleaseSignal(g) => NamedCommand::ReleaseSignal(space.signals[g].id.clone()),
            Command::SwitchPlan(g, plan) => NamedCommand::SwitchPlan {
                signal: space.signals[g].id.clone(),
                plan: space.signals[g].plans[plan as usize].0.clone(),
            },
            // Holding with a free release frees the line.
            Command::HoldLine(h, LineRelease::Free) => NamedCommand::ReleaseLine(space.hold_lines[h].id.clone()),
            Command::HoldLine(h, release) => NamedCommand::HoldLine {
                line: space.hold_lines[h].id.clone(),
                release: match release {
                    // A free release is named `ReleaseLine` by the arm above.
                    LineRelease::Free | LineRelease::Closed => Release::Closed,
                    LineRelease::OneWay => Release::OneWay,
                    LineRelease::Batches { size, every } => Release::Batches { size, every },
                    LineRelease::WhenBelow { area, density, size } => {
                        Release::WhenBelow { area: space.areas[area].id.clone(), density, size }
                    }
                },
            },
            Command::ReleaseLine(h) => NamedCommand::ReleaseLine(space.hold_lines[h].id.clone()),
            Command::LimitArrivals(d, share) => NamedCommand::LimitArrivals { door: space.doors[d].id.clone(), share },
            Command::DivertArrivals(from, to) => {
                NamedCommand::DivertArrivals { from: space.doors[from].id.clone(), to: space.doors[to].id.clone() }
            }
            Command::RestoreArrivals(d) => NamedCommand::RestoreArrivals(space.doors[d].id.clone()),
            Command::SetStairDirection(s, direction) => {
                NamedCommand::StairDirection { stair: space.stairs[s].id.clone(), direction: direction.into() }
            }
            Command::SetDoorDirection(d, towards) => NamedCommand::DoorDirection {
                door: space.doors[d].id.clone(),
                direction: towards.map_or(crate::scene::DoorWay::Both, |p| crate::scene::DoorWay::Towards([p.x, p.y])),
            },
        }
    }
}

/// A door arrival flows come through, or why it is not one.
fn check_arrivals(space: &Space, door: DoorId) -> Result<(), CommandError> {
    match space.doors.get(door) {
        None => Err(CommandError::NoSuchDoor(door)),
        Some(d) if !space.arrival_doors.contains(&door) => Err(CommandError::NoArrivals {
            door: d.id.clone(),
            known: list(space.arrival_doors.iter().map(|&a| &space.doors[a].id)),
        }),
        Some(_) => Ok(()),
    }
}

/// Carries out one checked command on the space at time `now` and rebuilds what depends on it.
/// Returns whether anything changed (closing a closed door changes nothing).
pub fn apply(space: &mut Space, nav: &mut Navigation, command: Command, now: f64) -> bool {
    match command {
        Command::CloseDoor(id) | Command::OpenDoor(id) => {
            let open = matches!(command, Command::OpenDoor(_));
            if space.doors[id].open == open {
                return false;
            }
            let level = space.set_door_open(id, open);
            nav.rebuild_level(space, level);
        }
        Command::BlockZone(id) | Command::UnblockZone(id) => {
            let blocked = matches!(command, Command::BlockZone(_));
            if space.zones[id].blocked == blocked {
                return false;
            }
            space.zones[id].blocked = blocked;
            nav.rebuild_level(space, space.zones[id].level);
        }
        // The doors are set now; the measures plugin swaps them when due (as recorded commands).
        Command::Alternate(first, second, every) => {
            space.alternations.retain(|a| ![a.open, a.shut].iter().any(|d| *d == first || *d == second));
            space.alternations.push(crate::space::Alternation { open: first, shut: second, every, next: now + every });
            let mut levels = Vec::new();
            for (door, open) in [(first, true), (second, false)] {
                if space.doors[door].open != open {
                    levels.push(space.set_door_open(door, open));
                }
            }
            levels.dedup();
            if !levels.is_empty() {
                nav.rebuild_levels(space, &levels);
            }
        }
        // A boundary door that is not an exit is wall to those inside; arrivals still come through it.
        Command::SetExit(door, exit) => {
            if space.doors[door].exit == exit {
                return false;
            }
            let level = space.set_door_exit(door, exit);
            nav.rebuild_level(space, level);
        }
        Command::StopAlternating(door) => {
            let Some(i) = space.alternations.iter().position(|a| a.open == door || a.shut == door) else {
                return false;
            };
            let stopped = space.alternations.remove(i);
            if !space.doors[stopped.shut].open {
                let level = space.set_door_open(stopped.shut, true);
                nav.rebuild_level(space, level);
            }
        }
        Command::StartHazard(id) | Command::EndHazard(id) => {
            let start = matches!(command, Command::StartHazard(_));
            if space.hazards[id].started.is_some() == start {
                return false;
            }
            let level = space.set_hazard(id, start.then_some(now));
            nav.rebuild_level(space, level);
        }
        Command::PlaceBarrier(id) | Command::RemoveBarrier(id) => {
            let placed = matches!(command, Command::PlaceBarrier(_));
            if space.barriers[id].placed == placed {
                return false;
            }
            let level = space.set_barrier(id, placed);
            nav.rebuild_level(space, level);
        }
        Command::Smoke(id, extinction) => {
            if space.zones[id].smoke == extinction {
                return false;
            }
            space.zones[id].smoke = extinction;
            nav.rebuild_level(space, space.zones[id].level);
        }
        // Vehicles read these at their next step; walls and floor fields do not change.
        Command::CloseStreet(id) | Command::OpenStreet(id) => {
            let closed = matches!(command, Command::CloseStreet(_));
            if space.streets[id].closed == closed {
                return false;
            }
            space.streets[id].closed = closed;
        }
        Command::HoldPhase(id, phase) => {
            let control = &mut space.signals[id];
            let last = control.plans[control.plan].1.saturating_sub(1);
            control.hold = Some((phase as usize).min(last));
            control.version += 1;
        }
        Command::ReleaseSignal(id) => {
            let control = &mut space.signals[id];
            if control.hold.is_none() {
                return false;
            }
            control.hold = None;
            control.version += 1;
        }
        Command::SwitchPlan(id, plan) => {
            let control = &mut space.signals[id];
            control.plan = plan as usize;
            control.hold = None;
            control.version += 1;
        }
        // The measures plugin reads the line's release at its next step; a repeated order
        // restarts the waves.
        Command::HoldLine(id, release) => {
            let line = &mut space.hold_lines[id];
            let was_one_way = line.release == LineRelease::OneWay;
            line.release = release;
            line.version += 1;
            // A one-way line is marked in its level's grid, so routes go round it.
            if was_one_way != (release == LineRelease::OneWay) {
                let level = line.level;
                nav.rebuild_level(space, level);
            }
        }
        Command::ReleaseLine(id) => {
            let line = &mut space.hold_lines[id];
            if line.release == LineRelease::Free {
                return false;
            }
            let was_one_way = line.release == LineRelease::OneWay;
            line.release = LineRelease::Free;
            line.version += 1;
            if was_one_way {
                let level = line.level;
                nav.rebuild_level(space, level);
            }
        }
        // Spawning reads these at the next arrival; arrivals already due are not taken back.
        Command::LimitArrivals(door, share) => {
            let control = space.arrival_control.entry(door).or_default();
            if control.share_at(now) == share {
                return false;
            }
            control.shares.push((now, share));
        }
        Command::DivertArrivals(from, to) => {
            let control = space.arrival_control.entry(from).or_default();
            let to = (to != from).then_some(to);
            if control.divert_to == to {
                return false;
            }
            control.divert_to = to;
        }
        Command::RestoreArrivals(door) => {
            let control = space.arrival_control.entry(door).or_default();
            let diverted = control.divert_to.take().is_some();
            if control.share_at(now) == 1.0 && !diverted {
                return false;
            }
            if control.share_at(now) != 1.0 {
                control.shares.push((now, 1.0));
            }
        }
        Command::SetStairDirection(stair, direction) => {
            if space.stairs[stair].direction == direction {
                return false;
            }
            let levels = space.set_stair_direction(stair, direction);
            nav.rebuild_levels(space, &levels);
        }
        // The grid of the door's level learns which of its edges may be walked only one way, and
        // every field is solved again with them.
        Command::SetDoorDirection(door, towards) => {
            let d = &space.doors[door];
            if d.one_way == towards.map(|p| d.side_of(p)) {
                return false;
            }
            let level = space.set_door_direction(door, towards);
            nav.rebuild_level(space, level);
        }
        Command::AssignExits(population, set) => {
            let assigned = (!set.doors().is_empty()).then(|| crate::space::AssignedExits {
                doors: set.doors().to_vec(),
                target: nav.target(space, crate::nav::TargetKey::Exits { doors: Some(set.doors().to_vec()) }),
            });
            let now = &mut space.exit_assignments[population.index()];
            if *now == assigned {
                return false;
            }
            *now = assigned;
        }
    }
    true
}

/// Where a command came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// A timed event of the scene.
    Scene,
    /// Issued while the twin ran: from code or the viewer.
    Live,
    /// Issued by one of the scene's playbooks when its condition held.
    Playbook,
    /// Issued by a running measure (the swaps of an alternate opening).
    Measure,
    /// A timed event of the scene marked as the incident rehearsed (`incident: true`).
    Incident,
}

/// A command as applied: at the start of step `step` (time `t`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedCommand {
    pub step: u64,
    /// Seconds: `step` × the step length.
    pub t: f64,
    pub origin: Origin,
    pub command: NamedCommand,
}

/// A timed event of the scene, resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedCommand {
    pub at: f64,
    pub command: Command,
    /// The scene marks it as the incident rehearsed.
    pub incident: bool,
}

/// The scene's timed commands, in time order (inserted by the twin before `CommandPlugin`).
#[derive(Resource, Clone, Debug, Default)]
pub struct TimedCommands(pub Vec<TimedCommand>);

/// A recorded run's commands to replay instead of the scene's timed events (inserted before
/// `CommandPlugin`): each applies at the start of its step, in the recorded order.
#[derive(Resource, Clone, Debug, Default)]
pub struct ReplayCommands(pub Vec<(u64, Origin, Command)>);

/// Commands waiting to be applied.
#[derive(Resource, Clone, Debug)]
pub struct CommandQueue {
    timed: Vec<TimedCommand>,
    next_timed: usize,
    replay: Vec<(u64, Origin, Command)>,
    next_replay: usize,
    /// A recording is replayed: it carries every command, so playbooks issue none themselves.
    replaying: bool,
    live: Vec<Command>,
    playbook: Vec<Command>,
    measure: Vec<Command>,
}

impl FromWorld for CommandQueue {
    fn from_world(world: &mut World) -> Self {
        let replay = world.get_resource::<ReplayCommands>().map(|r| r.0.clone());
        let timed = match replay {
            // A recording already holds the scene's events that were applied.
            Some(_) => Vec::new(),
            None => world.get_resource::<TimedCommands>().map(|t| t.0.clone()).unwrap_or_default(),
        };
        CommandQueue {
            timed,
            next_timed: 0,
            replaying: replay.is_some(),
            replay: replay.unwrap_or_default(),
            next_replay: 0,
            live: Vec::new(),
            playbook: Vec::new(),
            measure: Vec::new(),
        }
    }
}

impl CommandQueue {
    /// Queues a command for the start of the next step, if its ids exist in `space`.
    pub fn issue(&mut self, space: &Space, command: Command) -> Result<(), CommandError> {
        command.check(space)?;
        self.live.push(command);
        Ok(())
    }

    /// Queues a command given with scene ids; returns it resolved.
    pub fn issue_named(&mut self, space: &Space, named: &NamedCommand) -> Result<Command, CommandError> {
        let command = Command::resolve(named, space)?;
        self.live.push(command);
        Ok(command)
    }

    /// Queues a checked command from a playbook (dropped while a recording is replayed, since
    /// the recording holds what the playbook issued).
    pub fn issue_from(&mut self, origin: Origin, command: Command) {
        match origin {
            Origin::Playbook | Origin::Measure if self.replaying => {}
            Origin::Playbook => self.playbook.push(command),
            Origin::Measure => self.measure.push(command),
            Origin::Live | Origin::Scene | Origin::Incident => self.live.push(command),
        }
    }

    /// Commands issued live and not yet applied.
    pub fn pending(&self) -> &[Command] {
        &self.live
    }
}

/// Every command applied so far, in order.
#[derive(Resource, Clone, Debug, Default)]
pub struct CommandLog {
    pub entries: Vec<LoggedCommand>,
}

/// Issues commands from a system (the viewer, measures): `commands.issue(...)`.
#[derive(SystemParam)]
pub struct TwinCommands<'w> {
    queue: ResMut<'w, CommandQueue>,
    space: Res<'w, SpaceRes>,
}

impl TwinCommands<'_> {
    pub fn issue(&mut self, command: Command) -> Result<(), CommandError> {
        self.queue.issue(&self.space.0, command)
    }
    pub fn issue_named(&mut self, named: &NamedCommand) -> Result<Command, CommandError> {
        self.queue.issue_named(&self.space.0, named)
    }
}

/// Issues a command from outside the schedule (tests, a runner between steps).
pub fn issue(world: &mut World, named: &NamedCommand) -> Result<Command, CommandError> {
    world
        .resource_scope(|world, mut queue: Mut<CommandQueue>| queue.issue_named(&world.resource::<SpaceRes>().0, named))
}

pub struct CommandPlugin;

impl Plugin for CommandPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CommandQueue>()
            .init_resource::<CommandLog>()
            .add_systems(SimStep, apply_commands.in_set(SimSystems::Commands));
    }
}

fn apply_commands(
    clock: Res<SimClock>,
    mut queue: ResMut<CommandQueue>,
    mut log: ResMut<CommandLog>,
    mut space: ResMut<SpaceRes>,
    mut nav: ResMut<Navigation>,
) {
    let (now, step) = (clock.now(), clock.step);
    // Spreading hazards block more ground as they grow: the fields are rebuilt each time the
    // radius has grown by a navigation cell, or half a metre if more.
    let growth_step = nav.grids.iter().next().map_or(0.25, |g| g.cell).max(0.5);
    if space.0.hazards_due(now, growth_step) {
        let levels = space.0.grow_hazards(now, growth_step);
        if !levels.is_empty() {
            nav.rebuild_levels(&space.0, &levels);
        }
    }
    let queue = &mut *queue;
    let timed_due = queue.timed[queue.next_timed..].iter().take_while(|c| c.at <= now + 1e-9).count();
    let replay_due = queue.replay[queue.next_replay..].iter().take_while(|c| c.0 <= step).count();
    if timed_due == 0
        && replay_due == 0
        && queue.live.is_empty()
        && queue.playbook.is_empty()
        && queue.measure.is_empty()
    {
        return;
    }
    let timed = queue.timed[queue.next_timed..][..timed_due]
        .iter()
        .map(|c| (if c.incident { Origin::Incident } else { Origin::Scene }, c.command));
    let replayed = queue.replay[queue.next_replay..][..replay_due].iter().map(|c| (c.1, c.2));
    let live = queue.live.drain(..).map(|c| (Origin::Live, c));
    let playbook = queue.playbook.drain(..).map(|c| (Origin::Playbook, c));
    let measure = queue.measure.drain(..).map(|c| (Origin::Measure, c));
    for (origin, command) in timed.chain(replayed).chain(live).chain(playbook).chain(measure) {
        apply(&mut space.0, &mut nav, command, now);
        log.entries.push(LoggedCommand { step, t: now, origin, command: command.named(&space.0) });
    }
    queue.next_timed += timed_due;
    queue.next_replay += replay_due;
}
