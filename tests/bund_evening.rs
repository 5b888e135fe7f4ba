//! The Bund waterfront at full scale (`scenes/bund_evening.ron`, issue 12): the first minutes of
//! New Year's Eve 2014 with 1.8 km of platform, twelve stairways, eight side streets and the
//! signalised crossings of Zhongshan East 1st Road, at the published arrival rate of 120,000 an hour.
//!
//! At that scale the crowd must still come in at the published rate (no way in held shut by the
//! crowd), let each visitor reach their place within their own walk at an uncrowded pace, spread
//! along the platform without crowding anywhere on it, and keep every physical invariant
//! (`common::run_verified`: walls, bodies, walkable floor, conservation, no NaN). Reaching the place
//! in time and spreading along the platform are not met yet (issue 12): that test is ignored, and
//! `--ignored` runs it. `cargo test --release --test bund_evening -- --nocapture` prints what it
//! measured.

mod common;

use std::collections::BTreeMap;

use common::{load, run_verified};
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::crossing::KerbWait;
use unitwin::crowd::{Activity, AgentId, Body, Plan, Velocity, Walker};
use unitwin::metrics::Measurements;
use unitwin::nav::Navigation;
use unitwin::schedule::SimClock;
use unitwin::space::{LevelKind, SpaceRes};

/// People entering the Bund area from 20:00 on 2014-12-31, per hour (official investigation,
/// ../shared/reference/pilot-units.md).
const ARRIVALS_20_TO_21: f64 = 120_000.0;
/// The run: the first eight minutes of the evening.
const RUN: f64 = 480.0;
/// The first hour of 2014-12-31 passed without crowding (the police cordon broke at 22:37, the
/// stairway jammed at 23:23). Uncrowded is taken as Fruin's level of service D or better (at least
/// 0.93 m² each, validation.md), where Weidmann's speed is this share of the free speed:
/// 1 − exp(−1.913 (0.93 − 1/5.4)) = 0.759. So each visitor is due at their place after their own
/// way there (the floor fields' shortest way in, via the stairway foot their route names, then
/// straight to the spot they stand at) walked at that share of their own free speed, the stairs at
/// IMO's speeds likewise, plus the longest wait for a green light: a 170 s cycle's 50 s for vehicles,
/// 5 s all red and 10 s of flashing green (65 s), allowed to everyone.
const LOS_D_AREA: f64 = 0.93;
const LONGEST_RED: f64 = 65.0;
/// All but 1 % of those due at their place stand there by then.
const AT_THEIR_PLACE: f64 = 0.99;
/// Shanghai's critical density for a standing crowd, persons/m² (press, 2015; validation.md). The
/// first hour of 2014-12-31 passed without crowding on the platform: the police cordon broke at 22:37
/// and the stairway jammed at 23:23. At 120,000 an hour, a local density (1 m disc) above this anywhere
/// on the platform means visitors stand where they come up instead of spreading along it.
const STANDING_CRITICAL: f64 = 4.7;

/// Weidmann's (1993) speed at `density` over the free speed.
fn weidmann_share(density: f64) -> f64 {
    1.0 - (-1.913 * (1.0 / density - 1.0 / 5.4)).exp()
}

/// One visitor, followed from their arrival to their place.
#[derive(Clone, Copy)]
struct Track {
    arrived: f64,
    to_platform: bool,
    /// Their free speed, and their way as planned so far, m (stairways' flights at their run).
    v0: f64,
    way: f64,
    leg: u16,
    spot_seen: bool,
    /// When they first stood at their place.
    reached: Option<f64>,
}

impl Track {
    /// Seconds from arriving to being due at their place (see `LOS_D_AREA`).
    /// `climb`: the run of a stairway's flights, m, climbed at `stair_share` of the pace on the level.
    fn allowed(&self, climb: f64, stair_share: f64) -> f64 {
        let pace = self.v0 * weidmann_share(1.0 / LOS_D_AREA);
        let climb = if self.to_platform { climb } else { 0.0 };
        (self.way + climb * (1.0 / stair_share - 1.0)) / pace + LONGEST_RED
    }
}

/// What the first minutes measured.
struct FirstMinutes {
    out: common::Outcome,
    expected: f64,
    /// Those bound for the platform, and for the ground, due at their place before the end: how
    /// many, and how many of them stood there by then.
    due_up: usize,
    on_time_up: usize,
    due_below: usize,
    on_time_below: usize,
    platform_peak: f32,
}

fn first_minutes() -> FirstMinutes {
    let twin = load("scenes/bund_evening.ron");
    // Who is bound for the platform (the rest watch from the ground: `ground_view_*`), by population.
    let to_platform: Vec<bool> =
        twin.loaded.scene.populations.iter().map(|p| !p.id.contains("_to_ground_view_")).collect();
    let mut app = headless_app(&twin, &RunOptions { seed: 2014, until: RUN, threads: None, replay: None })
        .expect("placement succeeds");
    drop(twin);
    // The Chen Yi Square stairway: its two flights (the fourth stairway from the north). Every
    // stairway is built as this one; those going up walk at its speed up.
    let (chen_yi, climb, stair_share): (Vec<_>, f64, f64) = {
        let space = &app.world().resource::<SpaceRes>().0;
        let flights: Vec<_> = space
            .levels
            .enumerate()
            .filter_map(|(id, l)| match l.kind {
                LevelKind::Stair(s) if space.stairs[s].id.starts_with("stair_4_") => Some((id, s)),
                _ => None,
            })
            .collect();
        let climb = flights.iter().map(|&(_, s)| space.stairs[s].run).sum();
        let share = space.stairs[flights[0].1].speed_up / 1.34;
        (flights.into_iter().map(|(id, _)| id).collect(), climb, share)
    };
    assert_eq!(chen_yi.len(), 2, "the Chen Yi Square stairway has two flights");
    let platform = {
        let space = &app.world().resource::<SpaceRes>().0;
        space.levels.enumerate().find(|(_, l)| l.id == "platform").map(|(id, _)| id).expect("a platform level")
    };
    let mut tracks: Vec<Option<Track>> = Vec::new();
    let mut on_site_peak = 0u32;
    let mut chen_yi_peak = 0u32;
    let mut step = 0u64;
    let out = run_verified(&mut app, |world| {
        step += 1;
        let t = world.resource::<SimClock>().now();
        let counting = step % 20 == 0;
        let (mut on_site, mut on_chen_yi) = (0, 0);
        let mut walked = world.query::<(&AgentId, &Body, &Plan, &Walker, &KerbWait)>();
        let all_nav = world.resource::<Navigation>();
        for (id, body, plan, walker, kerb) in walked.iter(world) {
            if counting {
                on_site += 1;
                on_chen_yi += u32::from(chen_yi.contains(&body.level));
            }
            // The shortest way on from here to the current leg's target, m (static fields: metres).
            let way_on = || {
                let nav = all_nav.for_agent(kerb.crosses_anywhere);
                f64::from(nav.field(plan.target, body.level).time_at(&nav.grids[body.level], body.pos))
            };
            let i = id.0 as usize;
            if tracks.len() <= i {
                tracks.resize(i + 1, None);
            }
            let track = tracks[i].get_or_insert_with(|| Track {
                arrived: t,
                to_platform: to_platform[walker.population.index()],
                v0: walker.v0,
                way: way_on(),
                leg: plan.leg,
                spot_seen: false,
                reached: None,
            });
            if plan.leg != track.leg {
                track.leg = plan.leg;
                track.way += way_on();
            }
            if !track.spot_seen
                && let Some(spot) = plan.spot
            {
                track.spot_seen = true;
                track.way += body.pos.distance(spot);
            }
            // Only the viewing stretches are stayed at (the stairways' feet on the way are passed by).
            if track.reached.is_none() && matches!(plan.activity, Activity::Dwelling { .. }) {
                track.reached = Some(t);
            }
        }
        on_site_peak = on_site_peak.max(on_site);
        chen_yi_peak = chen_yi_peak.max(on_chen_yi);
    });

    let expected = ARRIVALS_20_TO_21 * out.end / 3600.0;
    // Those due at their place before the end, and those of them there in time, by where they watch
    // from; and how much longer than their own free walk the ways up took.
    let tracks: Vec<(u32, Track)> = tracks.iter().enumerate().filter_map(|(i, t)| Some((i as u32, (*t)?))).collect();
    let due = |t: &Track| t.arrived + t.allowed(climb, stair_share) <= out.end;
    let on_time = |t: &Track| t.reached.is_some_and(|r| r - t.arrived <= t.allowed(climb, stair_share));
    let count =
        |up: bool, f: &dyn Fn(&Track) -> bool| tracks.iter().filter(|(_, t)| t.to_platform == up && f(t)).count();
    let (due_up, due_below) = (count(true, &due), count(false, &due));
    let (on_time_up, on_time_below) = (count(true, &|t| due(t) && on_time(t)), count(false, &|t| due(t) && on_time(t)));
    let ratios: Vec<f64> = tracks
        .iter()
        .filter(|(_, t)| t.to_platform)
        .filter_map(|(_, t)| Some((t.reached? - t.arrived) / (t.way / t.v0)))
        .collect();
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    let longest_due = tracks.iter().filter(|(_, t)| due(t)).map(|(_, t)| t.way).fold(0.0, f64::max);
    // The platform's densest cell, and where and when it was (its cells are 1 m).
    let (platform_peak, peak_at, peak_t) = {
        let cells = &app.world().resource::<Measurements>().cells;
        let floor = &cells.floors[cells.floor_of(platform).expect("the platform has a density map")];
        let k =
            (0..floor.peak.len()).max_by(|&a, &b| floor.peak[a].total_cmp(&floor.peak[b]).then(b.cmp(&a))).unwrap_or(0);
        let at = floor.origin
            + bevy::math::DVec2::new((k % floor.nx) as f64 + 0.5, (k / floor.nx) as f64 + 0.5) * floor.cell;
        (floor.peak.get(k).copied().unwrap_or(0.0), at, floor.peak_t.get(k).copied().unwrap_or(0.0))
    };
    // Where those due but late are at the end (west of the road: the side streets and the west
    // sidewalk; the road: its carriageway and crossings; on the belt: the east sidewalk, the strip
    // along it where some watch, the planted part's paths and Chen Yi Square, and the stairways'
    // feet), whether they have their spot yet and how many stand still.
    let mut late: BTreeMap<(&str, &str, i64), (u32, u32, u32)> = BTreeMap::new();
    {
        let world = app.world_mut();
        let levels: Vec<String> = world.resource::<SpaceRes>().0.levels.iter().map(|l| l.id.clone()).collect();
        for (id, body, plan, velocity) in world.query::<(&AgentId, &Body, &Plan, &Velocity)>().iter(world) {
            let Ok(k) = tracks.binary_search_by_key(&id.0, |(i, _)| *i) else { continue };
            let t = &tracks[k].1;
            if !due(t) || on_time(t) {
                continue;
            }
            let x = body.pos.x;
            let zone = match levels[body.level.index()].as_str() {
                "ground" if x < -7.5 => "west of the road",
                "ground" if x < 7.5 => "on the road",
                "ground" if x < 12.5 => "on the east sidewalk",
                "ground" if x < 20.0 => "in the strip along it",
                "ground" if x < 64.0 => "in the planted belt or the square",
                "ground" => "before the stairways",
                "platform" => "on the platform",
                _ => "on a stairway",
            };
            let entry = late
                .entry((if t.to_platform { "up" } else { "below" }, zone, (body.pos.y / 50.0).round() as i64 * 50))
                .or_default();
            entry.0 += 1;
            entry.1 += u32::from(plan.spot.is_some());
            entry.2 += u32::from(velocity.0.length() < 0.1);
        }
    }
    // By zone, with the 50 m stretches of waterfront where ten or more of them are.
    let mut zones: BTreeMap<(&str, &str), (u32, u32, u32, Vec<String>)> = BTreeMap::new();
    for ((bound, zone, y), (n, spot, still)) in &late {
        let z = zones.entry((bound, zone)).or_default();
        (z.0, z.1, z.2) = (z.0 + n, z.1 + spot, z.2 + still);
        if *n >= 10 {
            z.3.push(format!("{n} near y {y}"));
        }
    }
    let zones: Vec<String> = zones
        .iter()
        .map(|((bound, zone), (n, spot, still, at))| {
            format!("{n} bound {bound} {zone} ({spot} with their spot, {still} standing; {})", at.join(", "))
        })
        .collect();
    println!("due at their place but not there by the end:\n  {}", zones.join("\n  "));
    let there_late = tracks.iter().filter(|(_, t)| due(t) && !on_time(t) && t.reached.is_some()).count();
    println!("{there_late} of those due reached their place late");
    println!(
        "the Bund at full scale, first {:.0} s: {} arrived ({expected:.0} at 120,000/h), {} left, at most {on_site_peak} on site; \
         due at their place (own way at {:.0} % of own free speed, + {LONGEST_RED} s for the lights): \
         {on_time_up} of {due_up} bound for the platform there in time, {on_time_below} of {due_below} staying on the ground \
         (longest way of those due {longest_due:.0} m); those up took {mean_ratio:.2}× their free walk on average; \
         at most {chen_yi_peak} on the Chen Yi Square stairway's flights; peak local density on the platform \
         {platform_peak:.2} persons/m² at ({:.0}, {:.0}) at {peak_t:.0} s",
        out.end,
        out.census.spawned,
        out.census.exited,
        100.0 * weidmann_share(1.0 / LOS_D_AREA),
        peak_at.x,
        peak_at.y
    );
    FirstMinutes { out, expected, due_up, on_time_up, due_below, on_time_below, platform_peak }
}

#[test]
fn the_full_bund_takes_in_120000_an_hour() {
    let m = first_minutes();
    // The arrival flows are scheduled at exactly the published rate; falling behind means the crowd
    // holds a way in shut. Every step was checked for the physical invariants.
    assert!(
        (f64::from(m.out.census.spawned) - m.expected).abs() <= 0.01 * m.expected,
        "{} arrived in {:.0} s, {:.0} at the published rate",
        m.out.census.spawned,
        m.out.end,
        m.expected
    );
}

#[test]
#[ignore = "known deviation (issue 12): 91.0 % of those staying on the ground stand at their place within their own walk at an uncrowded pace (99 % due), most of the late still working their way through those standing to their spot; those bound for the platform (99.3 %) and the platform's peak (3.18 persons/m², 4.7) meet their bands"]
fn the_full_bund_visitors_reach_the_river_within_their_walk_and_spread_along_it() {
    let m = first_minutes();
    for (what, due, on_time) in
        [("bound for the platform", m.due_up, m.on_time_up), ("staying on the ground", m.due_below, m.on_time_below)]
    {
        assert!(
            on_time as f64 >= AT_THEIR_PLACE * due as f64,
            "{on_time} of the {due} {what} due at their place by {:.0} s stood there in time",
            m.out.end
        );
    }
    assert!(
        f64::from(m.platform_peak) <= STANDING_CRITICAL,
        "local density on the platform reached {:.2} persons/m² (critical for standing: {STANDING_CRITICAL})",
        m.platform_peak
    );
}
