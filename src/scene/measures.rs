//! Checks of the crowd-management parts of a scene: hold lines, playbooks, the measures their
//! actions order, and the areas they watch. Names, numbers and geometry that need no world.

use std::collections::BTreeSet;

use super::check::{Precheck, list};
use super::diagnostic::{SourceMap, number};
use super::format::*;
use super::limits::MAX_DURATION;

/// Most people one wave may release.
pub const MAX_WAVE: u32 = 1_000_000;
/// Highest density a condition or release may name, persons/m² (crush densities stay below 10).
pub const MAX_CONDITION_DENSITY: f64 = 10.0;
/// Area per person of a capacity, m²: from a standing crowd (0.2 m², 5 p/m²) to a park (100 m²).
pub const AREA_PER_PERSON: (f64, f64) = (0.2, 100.0);
/// Shortest hold line, m.
pub const MIN_HOLD_LINE: f64 = 0.3;

/// The names objects of each kind go by, for references in actions and conditions.
pub struct Names<'a> {
    kinds: Vec<(&'static str, BTreeSet<&'a str>)>,
}

impl<'a> Names<'a> {
    pub fn new(scene: &'a Scene) -> Self {
        let areas = scene.measurements.iter().filter(|m| matches!(m, Measurement::Area { .. })).map(|m| m.id());
        Names {
            kinds: vec![
                ("door", scene.doors.iter().map(|d| d.id.as_str()).collect()),
                ("zone", scene.zones.iter().map(|z| z.id.as_str()).collect()),
                ("street", scene.streets.iter().map(|s| s.id.as_str()).collect()),
                ("signal", scene.signals.iter().map(|s| s.id.as_str()).collect()),
                ("hold line", scene.hold_lines.iter().map(|h| h.id.as_str()).collect()),
                ("stair", scene.stairs.iter().map(|s| s.id.as_str()).collect()),
                ("barrier", scene.barriers.iter().map(|b| b.id.as_str()).collect()),
                ("hazard", scene.hazards.iter().map(|h| h.id.as_str()).collect()),
                ("measurement area", areas.collect()),
                ("population", scene.populations.iter().map(|p| p.id.as_str()).collect()),
            ],
        }
    }
    pub fn contains(&self, kind: &str, name: &str) -> bool {
        self.kinds.iter().any(|(k, names)| *k == kind && names.contains(name))
    }
    pub fn of(&self, kind: &str) -> Vec<&'a str> {
        self.kinds.iter().filter(|(k, _)| *k == kind).flat_map(|(_, names)| names.iter().copied()).collect()
    }
}

/// The objects an action names: (kind, name).
pub fn action_refs(action: &Action) -> Vec<(&'static str, &str)> {
    match action {
        Action::CloseDoor(d) | Action::OpenDoor(d) => vec![("door", d)],
        Action::BlockZone(z) | Action::UnblockZone(z) | Action::Smoke { zone: z, .. } => vec![("zone", z)],
        Action::CloseStreet(s) | Action::OpenStreet(s) => vec![("street", s)],
        Action::HoldPhase { signal, .. } | Action::ReleaseSignal(signal) | Action::SwitchPlan { signal, .. } => {
            vec![("signal", signal)]
        }
        Action::HoldLine { line, release: Release::WhenBelow { area, .. } } => {
            vec![("hold line", line), ("measurement area", area)]
        }
        Action::HoldLine { line, .. } | Action::ReleaseLine(line) => vec![("hold line", line)],
        Action::LimitArrivals { door, .. } | Action::RestoreArrivals(door) => vec![("door", door)],
        Action::DivertArrivals { from, to } => vec![("door", from), ("door", to)],
        Action::StairDirection { stair, .. } => vec![("stair", stair)],
        Action::PlaceBarrier(b) | Action::RemoveBarrier(b) => vec![("barrier", b)],
        Action::StartHazard(h) | Action::EndHazard(h) => vec![("hazard", h)],
        Action::Alternate { first, second, .. } => vec![("door", first), ("door", second)],
        Action::StopAlternating(d) | Action::SetExit { door: d, .. } | Action::DoorDirection { door: d, .. } => {
            vec![("door", d)]
        }
        Action::AssignExits { population, exits } => std::iter::once(("population", population.as_str()))
            .chain(exits.iter().map(|e| ("door", e.as_str())))
            .collect(),
    }
}

/// What is wrong with an action's numbers, if anything.
pub fn action_problem(action: &Action) -> Option<String> {
    if let Action::Smoke { extinction, .. } = action {
        return smoke_problem(*extinction);
    }
    if let Action::Alternate { first, second, every } = action {
        if first == second {
            return Some(format!("alternate opening needs two different doors (got '{first}' twice)"));
        }
        return (!(every.is_finite() && *every >= MIN_ALTERNATION && *every <= MAX_DURATION))
            .then(|| format!("doors alternate every {MIN_ALTERNATION} s or more (got {} s)", number(*every)));
    }
    if let Action::DoorDirection { direction: DoorWay::Towards(p), .. } = action {
        return (!(p[0].is_finite() && p[1].is_finite()))
            .then(|| format!("a door's direction needs a finite point (got ({}, {}))", number(p[0]), number(p[1])));
    }
    if let Action::AssignExits { exits, .. } = action {
        let mut seen = BTreeSet::new();
        if let Some(twice) = exits.iter().find(|e| !seen.insert(e.as_str())) {
            return Some(format!("exits assigned to a population are each named once (got '{twice}' twice)"));
        }
        return (exits.len() > MAX_ASSIGNED_EXITS).then(|| {
            format!("at most {MAX_ASSIGNED_EXITS} exits may be assigned to a population (got {})", exits.len())
        });
    }
    if let Action::LimitArrivals { share, .. } = action {
        return (!(share.is_finite() && (0.0..=1.0).contains(share)))
            .then(|| format!("the share of arrivals let in must be 0–1 (got {})", number(*share)));
    }
    let Action::HoldLine { release, .. } = action else { return None };
    match release {
        Release::Closed | Release::OneWay => None,
        &Release::Batches { size, every } => (!(1..=MAX_WAVE).contains(&size)
            || !(every.is_finite() && every > 0.0 && every <= MAX_DURATION))
            .then(|| {
                format!(
                    "a wave release needs a size of 1–{MAX_WAVE} people and an interval above 0 s (got size {size}, every {} s)",
                    number(every)
                )
            }),
        &Release::WhenBelow { density, size, .. } => (!(1..=MAX_WAVE).contains(&size)
            || !(density.is_finite() && density > 0.0 && density <= MAX_CONDITION_DENSITY))
            .then(|| {
                format!(
                    "a release by density needs a size of 1–{MAX_WAVE} people and a density above 0 and at most {MAX_CONDITION_DENSITY} persons/m² (got size {size}, density {})",
                    number(density)
                )
            }),
    }
}

/// Shortest time between two swaps of an alternate opening, s.
pub const MIN_ALTERNATION: f64 = 1.0;
/// Largest radius a hazard may reach, m.
pub const MAX_HAZARD_RADIUS: f64 = 5_000.0;
/// Fastest a hazard may spread, m/s (faster than anyone walks is an explosion, not an evacuation).
pub const MAX_HAZARD_GROWTH: f64 = 10.0;
/// Most points of one barrier.
pub const MAX_BARRIER_POINTS: usize = 10_000;
/// Shortest segment of a barrier, m.
pub const MIN_BARRIER_SEGMENT: f64 = 0.01;

/// Thickest smoke a scene may name: extinction coefficient, 1/m (K = 10 already leaves 0.3 m of
/// visibility; speed is at its floor from K ≈ 11).
pub const MAX_EXTINCTION: f64 = 50.0;

/// What is wrong with a smoke's extinction coefficient, if anything.
pub fn smoke_problem(extinction: f64) -> Option<String> {
    (!(extinction.is_finite() && (0.0..=MAX_EXTINCTION).contains(&extinction))).then(|| {
        format!("smoke's extinction coefficient must be 0–{MAX_EXTINCTION} per metre (got {})", number(extinction))
    })
}

/// Hold lines, playbooks, releases ordered by events, and capacities.
/// Most vehicles a queue condition may count: far more than any street in a unit holds.
const MAX_QUEUE_VEHICLES: u32 = 10_000;

/// A street condition names a street (one that vehicles drive, for a queue), a count of 1 or more
/// and a sound `for`.
fn check_queue_condition(
    scene: &Scene,
    src: &SourceMap,
    names: &Names,
    playbook: &str,
    c: &Condition,
    street: &str,
    diags: &mut super::diagnostic::Diagnostics,
) {
    if !names.contains("street", street) {
        diags.push(
            src.at_id("playbook", playbook, format!("its condition watches street '{street}', which does not exist"))
                .hint(format!("streets in this scene: {}", list(names.of("street")))),
        );
    } else if matches!(c, Condition::QueueAtLeast { .. } | Condition::QueueBelow { .. })
        && scene.traffic.flows.is_empty()
    {
        diags.push(
            src.at_id(
                "playbook",
                playbook,
                format!("its condition watches the queue on street '{street}', but no vehicles drive in this scene"),
            )
            .hint("add a vehicle flow under traffic: (flows: [...]), or watch a measurement area instead"),
        );
    }
    let vehicles = match c {
        Condition::QueueAtLeast { vehicles, .. } | Condition::QueueBelow { vehicles, .. } => *vehicles,
        _ => 1,
    };
    let d = c.duration();
    if !(1..=MAX_QUEUE_VEHICLES).contains(&vehicles) || !(d.is_finite() && (0.0..=MAX_DURATION).contains(&d)) {
        diags.push(
            src.at_id(
                "playbook",
                playbook,
                format!(
                    "a queue condition needs 1–{MAX_QUEUE_VEHICLES} vehicles and `for` of 0–{MAX_DURATION} s (got {vehicles} vehicles, `for` {})",
                    number(d)
                ),
            )
            .hint("e.g. when: QueueAtLeast(street: \"quxi_road\", vehicles: 12, for: 60.0)"),
        );
    }
}

pub fn check_measures(scene: &Scene, src: &SourceMap, p: &mut Precheck) {
    let diags = &mut p.problems;
    let finite = |x: f64| x.is_finite();
    for h in &scene.hold_lines {
        let (a, b, q) = (h.from, h.to, h.held_from);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let length = dx.hypot(dy);
        let offset = if length > 0.0 { (dx * (q[1] - a[1]) - dy * (q[0] - a[0])) / length } else { f64::NAN };
        if ![a, b, q].iter().flatten().all(|x| finite(*x)) || length.is_nan() || length < MIN_HOLD_LINE {
            diags.push(
                src.at_id(
                    "hold line",
                    &h.id,
                    format!("needs two finite end points at least {MIN_HOLD_LINE} m apart (got {})", number(length)),
                )
                .hint("draw the line across the way where people are held: from: (x, y), to: (x, y)"),
            );
            p.unusable.insert(h.id.clone());
        } else if offset.abs() < 0.05 {
            diags.push(
                src.at_id("hold line", &h.id, "`held_from` lies on the line: it must name a side")
                    .hint("give any point on the side the held people arrive from, e.g. a metre before the line"),
            );
            p.unusable.insert(h.id.clone());
        }
    }
    let areas = Names::new(scene);
    for h in &scene.hold_lines {
        if let Some(q) = &h.queue
            && !areas.contains("measurement area", q)
        {
            diags.push(
                src.at_id("hold line", &h.id, format!("its `queue` names area '{q}', which is not a measurement area"))
                    .hint(format!("measurement areas in this scene: {}", list(areas.of("measurement area")))),
            );
            p.unusable.insert(h.id.clone());
        }
    }
    let diags = &mut p.problems;
    for m in &scene.measurements {
        if let Measurement::Area { id, area_per_person: Some(a), .. } = m
            && !(a.is_finite() && (AREA_PER_PERSON.0..=AREA_PER_PERSON.1).contains(a))
        {
            diags.push(
                src.at_id(
                    "measurement",
                    id,
                    format!(
                        "`area_per_person` must be {}–{} m² (got {})",
                        AREA_PER_PERSON.0,
                        AREA_PER_PERSON.1,
                        number(*a)
                    ),
                )
                .hint("the area one visitor needs at the maximum instantaneous capacity, e.g. 1.0 for a lane quarter at a holiday peak"),
            );
            p.unusable.insert(id.clone());
        }
    }
    for b in &scene.barriers {
        let needed = if b.closed { 3 } else { 2 };
        let shortest = b
            .line
            .windows(2)
            .chain(b.closed.then(|| [b.line[b.line.len() - 1], b.line[0]]).as_ref().map(|p| p.as_slice()))
            .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
            .fold(f64::INFINITY, f64::min);
        if b.line.len() < needed || b.line.len() > MAX_BARRIER_POINTS {
            diags.push(
                src.at_id(
                    "barrier",
                    &b.id,
                    format!("needs {needed}–{MAX_BARRIER_POINTS} points (got {})", b.line.len()),
                )
                .hint("line: [(x, y), (x, y), ...]; closed: true for an obstacle's outline"),
            );
        } else if b.fallen && !b.closed {
            diags.push(
                src.at_id(
                    "barrier",
                    &b.id,
                    "a fallen person (`fallen: true`) needs `closed: true`: an outline, not a line",
                )
                .hint(
                    "e.g. line: [(70.0, 60.0), (71.8, 60.0), (71.8, 60.6), (70.0, 60.6)], closed: true, fallen: true",
                ),
            );
        } else if !(shortest >= MIN_BARRIER_SEGMENT) {
            diags.push(
                src.at_id(
                    "barrier",
                    &b.id,
                    format!(
                        "has a segment shorter than {} m ({} m): points repeat or are not finite",
                        MIN_BARRIER_SEGMENT,
                        number(shortest)
                    ),
                )
                .hint("give distinct points, in metres"),
            );
        }
    }
    for h in &scene.hazards {
        let (r, g, m) = (h.radius, h.growth, h.max_radius);
        let fine = r.is_finite() && g.is_finite() && m.is_finite();
        if !(fine && r > 0.0 && g >= 0.0 && g <= MAX_HAZARD_GROWTH && m >= r && m <= MAX_HAZARD_RADIUS) {
            diags.push(
                src.at_id(
                    "hazard",
                    &h.id,
                    format!(
                        "needs 0 < radius ≤ max_radius ≤ {MAX_HAZARD_RADIUS} m and a growth of 0–{MAX_HAZARD_GROWTH} m/s (got radius {}, growth {}, max_radius {})",
                        number(r),
                        number(g),
                        number(m)
                    ),
                )
                .hint("e.g. Hazard(id: \"gas_leak\", level: \"ground\", at: (10.0, 5.0), radius: 5.0, growth: 0.2, max_radius: 50.0)"),
            );
        }
    }
    for z in &scene.zones {
        if let Some(problem) = smoke_problem(z.smoke) {
            diags.push(src.at_id("zone", &z.id, problem).hint("smoke: K in 1/m, e.g. smoke: 2.0 (visibility ≈ 1.5 m)"));
        }
    }
    for (i, e) in scene.events.iter().enumerate() {
        if let Some(problem) = action_problem(&e.action) {
            let (line, col) = src.element_span("events", i).map_or((1, 1), |(start, _)| src.position(start));
            diags.push(src.at(line, col, Some(format!("event #{} at {} s", i + 1, number(e.at))), problem).hint(
                if matches!(e.action, Action::AssignExits { .. }) {
                    "e.g. AssignExits(population: \"visitors\", exits: [\"north_gate\"])"
                } else {
                    "e.g. HoldLine(line: \"gate7\", release: Batches(size: 100, every: 150.0))"
                },
            ));
        }
    }
    let names = Names::new(scene);
    let capacities: BTreeSet<&str> = scene
        .measurements
        .iter()
        .filter(|m| matches!(m, Measurement::Area { area_per_person: Some(_), .. }))
        .map(|m| m.id())
        .collect();
    for pb in &scene.playbooks {
        if pb.then.is_empty() {
            diags.push(
                src.at_id("playbook", &pb.id, "`then` lists no action")
                    .hint("e.g. then: [HoldLine(line: \"gate7\", release: Batches(size: 100, every: 150.0))]"),
            );
        }
        if pb.until.is_none() && !pb.after.is_empty() {
            diags.push(
                src.at_id("playbook", &pb.id, "`after` is never issued without an `until` condition")
                    .hint("add until: Some(DensityBelow(area: \"…\", density: 2.0, for: 60.0)), or drop `after`"),
            );
        }
        for c in std::iter::once(&pb.when).chain(&pb.until) {
            let area = match c.watches() {
                Watched::Area(area) => area,
                Watched::Street(street) => {
                    check_queue_condition(scene, src, &names, &pb.id, c, street, diags);
                    continue;
                }
            };
            if !names.contains("measurement area", area) {
                diags.push(
                    src.at_id(
                        "playbook",
                        &pb.id,
                        format!("its condition watches area '{area}', which is not a measurement area"),
                    )
                    .hint(format!("measurement areas in this scene: {}", list(names.of("measurement area")))),
                );
            } else if matches!(c, Condition::WarningAtLeast { .. } | Condition::WarningBelow { .. })
                && !capacities.contains(area)
            {
                diags.push(
                    src.at_id(
                        "playbook",
                        &pb.id,
                        format!("a warning level needs a capacity, and area '{area}' has no `area_per_person`"),
                    )
                    .hint("add area_per_person: Some(1.0) (m² per visitor) to the measurement area"),
                );
            }
            let density_ok = match c {
                Condition::DensityAbove { density, .. } | Condition::DensityBelow { density, .. } => {
                    density.is_finite() && *density > 0.0 && *density <= MAX_CONDITION_DENSITY
                }
                _ => true,
            };
            let d = c.duration();
            if !density_ok || !(d.is_finite() && (0.0..=MAX_DURATION).contains(&d)) {
                diags.push(
                    src.at_id(
                        "playbook",
                        &pb.id,
                        format!("a condition needs a density above 0 and at most {MAX_CONDITION_DENSITY} persons/m², and `for` of 0–{MAX_DURATION} s (got `for` {})", number(d)),
                    )
                    .hint("e.g. when: DensityAbove(area: \"square\", density: 4.0, for: 30.0)"),
                );
            }
        }
        for action in pb.then.iter().chain(&pb.after) {
            for (kind, name) in action_refs(action) {
                if !names.contains(kind, name) {
                    diags.push(
                        src.at_id(
                            "playbook",
                            &pb.id,
                            format!("its action '{action}' refers to {kind} '{name}', which does not exist"),
                        )
                        .hint(format!("{kind}s in this scene: {}", list(names.of(kind)))),
                    );
                }
            }
            if let Some(problem) = action_problem(action) {
                diags.push(src.at_id("playbook", &pb.id, problem).hint("e.g. Batches(size: 100, every: 150.0)"));
            }
        }
    }
}
