//! Incidents (issue 11): smoke slows walking by Frantzich & Nilsson's speed–extinction relation
//! (the FDS+Evac default: v = v0 · max(0.1, 1 + β K / α), α = 0.706 m/s, β = −0.057 m²/s), and
//! routes weigh it: people take a longer clear way when the smoky one is slower by that relation.
//! The references are the relation and the scene's lengths, not the engine's output.

mod common;

use std::path::Path;

use unitwin::app::{RunOptions, headless_app};
use unitwin::scene::{SourceMap, parse_scene};
use unitwin::schedule::{SimClock, SimControl};
use unitwin::twin::Twin;

const SCENE: &str = "tests/scenes/measures/smoke_routes.ron";
const FREE_SPEED: f64 = 1.34;

/// Frantzich & Nilsson's relation, written out here from the source (not taken from the engine).
fn speed_in_smoke(extinction: f64) -> f64 {
    FREE_SPEED * (1.0 - 0.057 * extinction / 0.706).max(0.1)
}

/// The smoke scene with `people` in the start room, smoke `at_start` in the corridor zone, and
/// `events` (RON, inside the list).
fn smoke_scene(people: u32, at_start: f64, events: &str) -> Twin {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(SCENE);
    let text = std::fs::read_to_string(path).unwrap();
    let swap = |text: String, from: &str, to: String| {
        assert!(text.contains(from), "the scene has `{from}`");
        text.replacen(from, &to, 1)
    };
    let text = swap(text, "smoke: 0.0)", format!("smoke: {at_start:?})"));
    let text = swap(text, "count: 1)", format!("count: {people})"));
    let text = swap(text, "events: [],", format!("events: [{events}],"));
    let loaded = parse_scene(SourceMap::new(Path::new("smoke_variant.ron"), text), String::new())
        .unwrap_or_else(|d| panic!("the variant does not parse:\n{d}"));
    unitwin::twin::build(loaded).unwrap_or_else(|d| panic!("the variant does not check:\n{d}"))
}

/// Runs to the end with the invariants checked; `each` sees the time and every position.
fn run(twin: &Twin, mut each: impl FnMut(f64, &[(u32, bevy::math::DVec2)])) -> unitwin::crowd::Census {
    let options = RunOptions { seed: 4, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(twin, &options).unwrap();
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        let t = app.world().resource::<SimClock>().now();
        each(t, &common::positions(app.world_mut()));
    }
    app.world().resource::<unitwin::crowd::Census>().clone()
}

/// A lone walker's time over 12 m inside the smoke (x 14–26 of the 16 m zone, away from its edges),
/// in clear air and in smoke of K = 2, 4 and 6 per metre filled by a timed command at the start
/// (thin enough that the corridor, at most about 35 m of free walking, stays quicker than the
/// 50 m detour).
#[test]
fn walking_speed_in_smoke_follows_the_speed_extinction_relation() {
    for extinction in [0.0, 2.0, 4.0, 6.0] {
        let events =
            format!("TimedEvent(at: 0.0, action: Smoke(zone: \"corridor_smoke\", extinction: {extinction:?}))");
        let twin = smoke_scene(1, 0.0, &events);
        let (mut enter, mut leave) = (None, None);
        let census = run(&twin, |t, agents| {
            if let Some(&(_, p)) = agents.first()
                && (4.0..6.0).contains(&p.y)
            {
                if (14.0..16.0).contains(&p.x) && enter.is_none() {
                    enter = Some(t);
                }
                if p.x >= 26.0 && leave.is_none() {
                    leave = Some(t);
                }
            }
        });
        assert_eq!(census.exited, 1, "K = {extinction}: the walker gets out");
        let (Some(a), Some(b)) = (enter, leave) else {
            panic!("K = {extinction}: the walker did not take the corridor ({enter:?}, {leave:?})")
        };
        let expected = 12.0 / speed_in_smoke(extinction);
        // One step (0.05 s) of timing at each end, and 2 % for the walker's path not being straight.
        let band = expected * 0.02 + 0.1;
        println!("K = {extinction}: 12 m in {:.2} s, the relation gives {expected:.2} s", b - a);
        assert!(
            (b - a - expected).abs() <= band,
            "K = {extinction} /m: 12 m of smoky corridor took {:.2} s; Frantzich & Nilsson give {expected:.2} s (±{band:.2})",
            b - a
        );
    }
}

/// Twenty people choose between the 20 m corridor and the ≈ 50 m clear detour. In light smoke
/// (K = 2: 0.84 v0, the corridor costs about 24 m of free walking) all take the corridor; in thick
/// smoke (K = 10: 0.19 v0, about 104 m) all take the detour.
#[test]
fn routes_avoid_smoke_when_it_makes_the_way_slower_than_a_detour() {
    for (extinction, detour_expected) in [(2.0, false), (10.0, true)] {
        let twin = smoke_scene(20, extinction, "");
        let mut took_detour = std::collections::BTreeMap::new();
        let census = run(&twin, |_, agents| {
            for &(id, p) in agents {
                if p.y > 12.0 {
                    took_detour.insert(id, true);
                } else if p.x > 12.0 && p.y < 7.0 {
                    took_detour.entry(id).or_insert(false);
                }
            }
        });
        assert_eq!((census.spawned, census.exited), (20, 20), "K = {extinction}: everyone gets out");
        let detours = took_detour.values().filter(|&&d| d).count();
        println!("K = {extinction}: {detours} of 20 took the detour");
        let expected = if detour_expected { 20 } else { 0 };
        assert_eq!(
            detours, expected,
            "K = {extinction} /m: {detours} of 20 took the detour; the relation says {expected}"
        );
    }
}

/// A live smoke order is checked: an unknown zone and an impossible extinction are refused with
/// the reason, and nothing is applied.
#[test]
fn smoke_orders_are_checked() {
    use unitwin::command::NamedCommand;
    let twin = smoke_scene(1, 0.0, "");
    let options = RunOptions { seed: 4, until: 10.0, threads: Some(1), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    app.update();
    let unknown = NamedCommand::Smoke { zone: "lobby".into(), extinction: 1.0 };
    let err = unitwin::command::issue(app.world_mut(), &unknown).unwrap_err().to_string();
    assert!(err.contains("no zone 'lobby'") && err.contains("corridor_smoke"), "{err}");
    for bad in [-1.0, f64::NAN, 1e9] {
        let order = NamedCommand::Smoke { zone: "corridor_smoke".into(), extinction: bad };
        let err = unitwin::command::issue(app.world_mut(), &order).unwrap_err().to_string();
        assert!(err.contains("extinction coefficient must be 0–50"), "{bad}: {err}");
    }
}

const BARRIERS: &str = "tests/scenes/measures/barriers.ron";

/// A cordon placed across the plaza is never crossed while it stands (those it lands on step
/// aside to the side they were on); a fallen person's outline is never entered; routes re-plan
/// round it; everyone gets out once the cordon is lifted; the run replays identically. The
/// harness's invariants check every step that no body overlaps a wall, and placed barriers are walls.
#[test]
fn a_barrier_is_never_crossed_while_it_stands() {
    use std::collections::BTreeMap;
    let twin = common::load(BARRIERS);
    let step = twin.scene().run.step;
    let mut side: BTreeMap<u32, bool> = BTreeMap::new();
    let (mut crossings, mut inside) = (Vec::new(), Vec::new());
    let mut east_at_lift = 0;
    let census = run(&twin, |t, agents| {
        // `t` is the start of the next step: this step began at t − dt.
        let began = t - step;
        for &(id, p) in agents {
            let east = p.x >= 15.0;
            let was_east = side.insert(id, east);
            if (2.0 - 1e-9..25.0 - 1e-9).contains(&began) && was_east == Some(false) && east {
                crossings.push(format!("agent {id} crossed the cordon at {began:.2} s"));
            }
            if began + 1e-9 >= 20.0 && (21.1..=22.9).contains(&p.x) && (9.75..=10.25).contains(&p.y) {
                inside.push(format!("agent {id} inside the fallen person's outline at {began:.2} s"));
            }
        }
        if (began - 24.95).abs() < 1e-6 {
            east_at_lift = agents.iter().filter(|a| a.1.x >= 15.0).count();
        }
    });
    assert!(crossings.is_empty(), "{}", crossings.join("\n"));
    assert!(inside.is_empty(), "{}", inside[..inside.len().min(10)].join("\n"));
    assert_eq!((census.spawned, census.exited), (80, 80), "everyone gets out once the cordon is lifted");
    assert!(east_at_lift < 80, "the cordon held people back ({east_at_lift} east of it when lifted)");
    println!(
        "cordon: {east_at_lift} of 80 east of it when lifted at 25 s; all out at {:.1} s",
        census.last_exit.unwrap_or(f64::NAN)
    );

    // Replayed from its command log, the run gives the same trajectories.
    let dir = common::run_and_replay(&twin, 3, 200.0);
    let log = std::fs::read_to_string(dir.path().join("first/commands.ron")).unwrap();
    assert!(log.contains("PlaceBarrier(\"cordon\")") && log.contains("RemoveBarrier(\"cordon\")"), "{log}");
}

/// A crashed car placed across a one-lane street: no vehicle behind it drives past its rear while
/// it stands (its outline starts at x = 120 m), except one too close to stop for even at a car's
/// emergency deceleration (9 m/s²), which ends in the crash and stays there; the lane behind fills (120 m holds about 18 cars
/// at a jam spacing of a 4.5 m car plus IDM's 2 m minimum gap), traffic flows again once it is
/// cleared, and walkers on the sidewalk are not held. No two vehicles ever overlap.
#[test]
fn a_crash_blocks_the_lane_until_it_is_cleared() {
    use unitwin::traffic::{TrafficNet, TrafficStats, Vehicles};
    let twin = common::load("tests/scenes/traffic/crash.ron");
    let options = RunOptions { seed: 21, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    let net = app.world().resource::<TrafficNet>().0.clone();
    const CRASH_X: f64 = 120.0;
    let (mut upstream_at_crash, mut passed, mut standing_before_clear) =
        (std::collections::BTreeSet::new(), Vec::new(), 0usize);
    let (mut passed_after, mut involved) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    while !app.world().resource::<SimControl>().finished {
        app.update();
        common::check_invariants(app.world_mut());
        let began = app.world().resource::<SimClock>().now() - twin.scene().run.step;
        let vehicles = app.world().resource::<Vehicles>();
        for v in vehicles.iter() {
            let front = v.pose(&net).0.x;
            // Stopping distance at an emergency deceleration of 9 m/s².
            if (began - 60.0).abs() < 1e-6 && front + v.v * v.v / (2.0 * 9.0) < CRASH_X {
                upstream_at_crash.insert(v.id);
            }
            if (began - 60.0).abs() < 1e-6 && front < CRASH_X && front + v.v * v.v / 18.0 >= CRASH_X {
                involved.insert(v.id);
            }
            if began > 60.0 && began < 240.0 - 1e-9 && involved.contains(&v.id) && front > CRASH_X + 4.5 {
                passed.push(format!("vehicle {} (in the crash) drove on to x = {front:.2} m at {began:.2} s", v.id));
            }
            if began > 60.0 && began < 240.0 - 1e-9 && upstream_at_crash.contains(&v.id) && front > CRASH_X {
                passed.push(format!("vehicle {} at x = {front:.2} m at {began:.2} s", v.id));
            }
            if began > 240.0 && front > CRASH_X + 5.0 {
                passed_after.insert(v.id);
            }
        }
        if (began - 239.0).abs() < 1e-6 {
            standing_before_clear = vehicles.iter().filter(|v| v.v < 0.1 && v.pose(&net).0.x < CRASH_X).count();
        }
    }
    assert!(passed.is_empty(), "vehicles drove into the crash:\n{}", passed.join("\n"));
    let stats = app.world().resource::<TrafficStats>();
    assert_eq!(stats.overlaps, 0, "vehicles overlapped");
    assert!(
        (15..=19).contains(&standing_before_clear),
        "the lane behind the crash fills with about 18 standing cars ({standing_before_clear} standing)"
    );
    // 160 s of 600 vehicles per hour after the clearance, and the queue, minus the 200 m drive.
    assert!(passed_after.len() >= 20, "traffic flows again after clearing ({} passed)", passed_after.len());
    let census = app.world().resource::<unitwin::crowd::Census>();
    assert_eq!((census.spawned, census.exited), (10, 10), "walkers on the sidewalk are not held");
    println!(
        "crash: {standing_before_clear} cars standing behind it at 239 s, {} past it after clearing",
        passed_after.len()
    );
}

/// A playbook watching a street's vehicle queue: the street closes once at least 10 vehicles have
/// queued (driving slower than 5 km/h) for 20 s without a break, and reopens once fewer than 1 has
/// for 10 s. The firing times and the counts they carry equal the rule applied to the vehicles'
/// own speeds, recounted here at every step; the closure stops new vehicles entering; a replay
/// gives the same run.
#[test]
fn a_queue_playbook_closes_the_street_when_the_rule_says() {
    use unitwin::traffic::{TrafficNet, TrafficStats, VehicleState, Vehicles};
    let path = "tests/scenes/traffic/crash_queue_playbook.ron";
    let twin = common::load(path);
    let step = twin.scene().run.step;
    let options = RunOptions { seed: 21, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    let net = app.world().resource::<TrafficNet>().0.clone();
    let queued = |app: &bevy::app::App| {
        app.world()
            .resource::<Vehicles>()
            .iter()
            .filter(|v| {
                v.state == VehicleState::Driving && v.v < 5.0 / 3.6 && net.links[v.link as usize].street().is_some()
            })
            .count() as u32
    };
    // (time the step began, vehicles queued then) for every step, as the measures see it: after
    // that step's arrivals, before anyone drives.
    let mut seen: Vec<(f64, u32)> = Vec::new();
    let mut spawned_at_close = None;
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let firings = &app.world().resource::<unitwin::measures::Playbooks>().firings;
        if firings.len() == 1 && spawned_at_close.is_none() {
            spawned_at_close = Some(app.world().resource::<TrafficStats>().spawned);
        }
        seen.push((app.world().resource::<SimClock>().now(), queued(&app)));
    }
    // The rule: the first time the test has held for its whole duration, counted from when it began to hold.
    let first_held = |from: f64, test: &dyn Fn(u32) -> bool, duration: f64| -> Option<(f64, u32)> {
        let mut since = None;
        for &(t, q) in seen.iter().filter(|(t, _)| *t >= from - 1e-9) {
            if !test(q) {
                since = None;
                continue;
            }
            let s = *since.get_or_insert(t);
            if t - s >= duration - 1e-9 {
                return Some((t, q));
            }
        }
        None
    };
    let (close_t, close_q) = first_held(0.0, &|q| q >= 10, 20.0).expect("the queue reaches 10 for 20 s");
    let (open_t, open_q) = first_held(close_t + step, &|q| q < 1, 10.0).expect("the queue clears after the crash");
    let firings = &app.world().resource::<unitwin::measures::Playbooks>().firings;
    assert_eq!(firings.len(), 2, "closes once and reopens once: {firings:?}");
    let (close, open) = (&firings[0], &firings[1]);
    // The measures count at the start of a step what the end of the previous step left.
    assert!((close.t - (close_t)).abs() <= step + 1e-9, "closed at {:.2} s, the rule says {close_t:.2} s", close.t);
    assert!(close.figure.contains(&format!("{close_q} vehicles queued")), "{} (rule: {close_q})", close.figure);
    assert!((open.t - open_t).abs() <= step + 1e-9, "reopened at {:.2} s, the rule says {open_t:.2} s", open.t);
    assert!(open.figure.contains(&format!("{open_q} vehicles queued")), "{} (rule: {open_q})", open.figure);
    assert!(close.t > 60.0 && open.t > 240.0, "the queue forms behind the crash and clears after it: {firings:?}");
    let stats = app.world().resource::<TrafficStats>();
    assert!(stats.refused > 0, "the closure turned arriving vehicles away");
    println!(
        "queue playbook: closed at {:.2} s ({}), reopened at {:.2} s ({}); {} vehicles in by the closure, {} refused",
        close.t,
        close.figure,
        open.t,
        open.figure,
        spawned_at_close.unwrap_or(0),
        stats.refused
    );
    common::run_and_replay(&twin, 21, twin.scene().run.duration);
}

/// Chunjiang's night evacuation with the main gate blocked by a van from 30 s: the playbook
/// `gate_jam` fires once, when more than 0.3 persons/m² have stood at the assembly point for 60 s
/// (its own rule, checked here on the logged figure), the wardens open the east fire gate, and all
/// 864 residents leave by it before the van is towed at 1,200 s (without the playbook nobody could
/// leave before then).
#[test]
fn chunjiang_blocked_gate_playbook_opens_the_fire_gate() {
    let twin = common::load("scenes/chunjiang_blocked_gate.ron");
    let mut app = common::app(&twin, twin.scene().run.seed);
    let out = common::run_verified(&mut app, |_| {});
    let firings = &app.world().resource::<unitwin::measures::Playbooks>().firings;
    assert_eq!(firings.len(), 1, "the playbook fires once: {firings:?}");
    let f = &firings[0];
    assert!(f.figure.contains("above 0.3 persons/m² for 60.0 s"), "{}", f.figure);
    let people: u32 = f.figure.split("': ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(people as f64 / 576.0 > 0.3, "the figure that fired it: {}", f.figure);
    assert_eq!(out.census.exited, 864, "everyone gets out");
    assert_eq!(out.per_exit.get("east_fire_gate").copied(), Some(864), "by the fire gate: {:?}", out.per_exit);
    let last = out.census.last_exit.unwrap();
    assert!(last < 1200.0, "everyone is out before the van is towed at 1,200 s (last at {last:.0} s)");
    println!("chunjiang blocked gate: playbook at {:.0} s ({}); last out at {last:.0} s", f.t, f.figure);
}

/// Quxi Road's evening peak with the crash at 17:45 (t = 2,700 s) in its one moving lane, run to
/// 18:10: no vehicle behind the crash passes it while it stands; the lane behind it fills: everyone
/// driving in that lane behind the crash when it happened ends up standing in one queue, whose
/// bodies and standstill gaps (IDM: length + s0 each) fit in the 140 m of lane before the car; and
/// vehicles pass the crash site again once the car is towed at 3,900 s. The street's closure and
/// reopening come from the scene's playbook, 120 s after the lane is blocked and 60 s after it is clear.
#[test]
fn quxi_road_crash_blocks_the_moving_lane_until_towed() {
    use unitwin::traffic::{TrafficNet, TrafficStats, Vehicles};
    let twin = common::load("scenes/quxi_road_crash.ron");
    let options = RunOptions { seed: twin.scene().run.seed, until: 4200.0, threads: None, replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    let net = app.world().resource::<TrafficNet>().0.clone();
    const CRASH_X: f64 = 140.0;
    // The lane the crashed car stands in (its outline spans y 0.3–2.1 m at x 140–144.5 m): only the
    // queue in it is bounded by the lane's length; vehicles stand elsewhere for their own reasons.
    let crash_lane = (0..net.links.len())
        .filter(|&l| net.links[l].street().is_some())
        .min_by(|&a, &b| {
            let off = |l: usize| net.links[l].project(bevy::math::DVec2::new(142.0, 1.2)).1;
            off(a).total_cmp(&off(b))
        })
        .expect("Quxi Road has lanes") as u32;
    let (mut upstream, mut passed, mut standing_max) = (std::collections::BTreeSet::new(), Vec::new(), 0usize);
    let (mut caught, mut occupied_max) = (0usize, 0.0f64);
    let mut after = std::collections::BTreeSet::new();
    while !app.world().resource::<SimControl>().finished {
        app.update();
        let began = app.world().resource::<SimClock>().now() - twin.scene().run.step;
        let vehicles = app.world().resource::<Vehicles>();
        for v in vehicles.iter().filter(|v| v.state != unitwin::traffic::VehicleState::Parked) {
            let front = v.pose(&net).0.x;
            if (began - 2700.0).abs() < 1e-6 && front + v.v * v.v / 18.0 < CRASH_X {
                upstream.insert(v.id);
                // Vans may still pull into a loading gap in the kerb lane, out of the queue.
                if v.link == crash_lane && v.kind != unitwin::scene::VehicleKind::Van {
                    caught += 1;
                }
            }
            if began > 2700.0 && began < 3900.0 - 1e-9 && upstream.contains(&v.id) && front > CRASH_X {
                passed.push(format!("vehicle {} at x = {front:.1} m at {began:.1} s", v.id));
            }
            if began > 3900.0 && front > CRASH_X + 7.0 {
                after.insert(v.id);
            }
        }
        if began > 2700.0 && began < 3900.0 {
            let queue = vehicles.iter().filter(|v| {
                v.link == crash_lane
                    && v.state == unitwin::traffic::VehicleState::Driving
                    && v.v < 0.1
                    && v.pose(&net).0.x < CRASH_X
            });
            let (standing, occupied) = queue.fold((0usize, 0.0f64), |(n, len), v| {
                let p = net.params(v.kind);
                (n + 1, len + p.length + p.s0)
            });
            if standing > standing_max {
                (standing_max, occupied_max) = (standing, occupied);
            }
        }
    }
    assert!(passed.is_empty(), "vehicles drove through the crash:\n{}", passed.join("\n"));
    assert_eq!(app.world().resource::<TrafficStats>().overlaps, 0, "vehicles overlapped");
    assert!(
        standing_max >= caught && caught > 0,
        "all {caught} driving in the lane behind the crash when it happened stand in the queue ({standing_max} at most)"
    );
    // The crashed car's rear is at 140 m and the lane starts at 0 m; IDM keeps s0 at a standstill
    // (a few centimetres less after a hard stop, hence 1 m of slack over the whole queue).
    assert!(
        occupied_max <= CRASH_X + 1.0,
        "the queue's bodies and standstill gaps fit in the lane behind the crash ({occupied_max:.1} m of {CRASH_X} m)"
    );
    assert!(!after.is_empty(), "vehicles pass the crash site again after it is cleared");
    // The police's playbook: the street closes 2 min after the lane is blocked and reopens 1 min
    // after it is clear, each firing carrying what it saw.
    let step = twin.scene().run.step;
    let firings = &app.world().resource::<unitwin::measures::Playbooks>().firings;
    let at = |issued: &str| firings.iter().filter(|f| f.issued == issued).map(|f| f.t).collect::<Vec<_>>();
    assert_eq!(firings.len(), 2, "the closure fires once and is lifted once: {firings:?}");
    assert!((at("then")[0] - 2820.0).abs() <= step + 1e-9, "the street closes 120 s after the crash: {firings:?}");
    assert!((at("after")[0] - 3960.0).abs() <= step + 1e-9, "it reopens 60 s after the tow: {firings:?}");
    assert!(firings[0].figure.contains("a lane blocked; a lane blocked for 120.0 s"), "{}", firings[0].figure);
    assert!(firings[1].figure.contains("lanes clear; all lanes clear for 60.0 s"), "{}", firings[1].figure);
    println!(
        "quxi crash: up to {standing_max} vehicles standing behind it ({caught} caught behind it at the crash, \
         {occupied_max:.1} m of lane); {} past it after the tow",
        after.len()
    );
}

/// Nanjing Building's fire-in-a-staircase rehearsal: light smoke in the west staircase at 60 s,
/// untenable at 150 s; the phased-evacuation playbook holds floors 4 and 5 at stair E when its
/// third-floor landing fills and releases them when it empties, each firing carrying a figure that
/// satisfies its own rule; everyone gets out (the harness checks walls and conservation every step).
#[test]
fn nanjing_fire_rehearsal_phases_the_upper_floors() {
    let twin = common::load("scenes/nanjing_building_fire.ron");
    let mut app = common::app(&twin, twin.scene().run.seed);
    let out = common::run_verified(&mut app, |_| {});
    assert_eq!(out.census.exited, 1350, "everyone gets out");
    let firings = &app.world().resource::<unitwin::measures::Playbooks>().firings;
    assert!(firings.len() >= 2, "the playbook holds and releases: {firings:?}");
    assert_eq!((firings[0].issued, firings[1].issued), ("then", "after"));
    let density =
        |figure: &str| -> f64 { figure.split(", ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap() };
    assert!(density(&firings[0].figure) > 0.8, "{}", firings[0].figure);
    assert!(density(&firings[1].figure) < 0.5, "{}", firings[1].figure);
    println!(
        "nanjing fire: held {:.0}–{:.0} s; last out at {:.0} s; {:?}",
        firings[0].t,
        firings[1].t,
        out.census.last_exit.unwrap(),
        out.per_exit
    );
}

/// A gas leak started at 10 s spreads from (14, 20) at 0.5 m/s from 3 m to 15 m (at 34 s). Nobody
/// walks into the blocked disc (its edge lags the radius by under half a metre, the growth step, and
/// cells are 0.25 m, so the edge is taken 0.75 m inside the radius); those it reaches, waiting
/// included, walk out, and 20 s after it stops growing nobody is inside; everyone gets out.
#[test]
fn a_spreading_hazard_is_left_and_never_entered() {
    let twin = common::load("tests/scenes/measures/gas_leak.ron");
    let step = twin.scene().run.step;
    let edge = |t: f64| if (10.0..120.0).contains(&t) { (3.0 + 0.5 * (t - 10.0)).min(15.0) - 0.75 } else { 0.0 };
    let centre = bevy::math::DVec2::new(14.0, 20.0);
    let mut last: std::collections::BTreeMap<u32, f64> = Default::default();
    let (mut entered, mut inside_late, mut inside_at_start) = (Vec::new(), Vec::new(), 0);
    let census = run(&twin, |t, agents| {
        let began = t - step;
        let r = edge(began);
        for &(id, p) in agents {
            let d = p.distance(centre);
            if (began - 10.0).abs() < 1e-6 && d < 3.0 {
                inside_at_start += 1;
            }
            if let Some(&before) = last.get(&id)
                && before >= r
                && d < r
                && d < before
            {
                entered.push(format!(
                    "agent {id} walked into the leak at {began:.2} s ({before:.2} → {d:.2} m, edge {r:.2} m)"
                ));
            }
            if began >= 54.0 && d < r {
                inside_late.push(format!("agent {id} {d:.2} m from the leak at {began:.2} s"));
            }
            last.insert(id, d);
        }
    });
    assert!(inside_at_start > 0, "the test needs people where the leak starts");
    assert!(entered.is_empty(), "{}", entered[..entered.len().min(10)].join("\n"));
    assert!(inside_late.is_empty(), "{}", inside_late[..inside_late.len().min(10)].join("\n"));
    assert_eq!((census.spawned, census.exited), (150, 150), "everyone gets out");
    println!(
        "gas leak: {inside_at_start} inside the first 3 m disc got out; all out at {:.1} s",
        census.last_exit.unwrap()
    );
}

/// A timed event marked `incident: true` is recorded with origin `Incident`, replays as such, and
/// `compare` scores the first measure's delay after it: here the leak starts at 10 s and the north
/// gate is closed at 25 s (a measure of the scene), so the delay is 15 s.
#[test]
fn the_delay_of_the_first_measure_after_the_incident_is_scored() {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("tests/scenes/measures/gas_leak.ron");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "TimedEvent(at: 10.0, action: StartHazard(\"gas_leak\")),",
        "TimedEvent(at: 10.0, action: StartHazard(\"gas_leak\"), incident: true), \
         TimedEvent(at: 25.0, action: CloseDoor(\"north\")),",
    );
    let loaded = parse_scene(SourceMap::new(Path::new("incident.ron"), text), String::new()).unwrap();
    let twin = unitwin::twin::build(loaded).unwrap();
    let dir = common::run_and_replay(&twin, 12, 200.0);
    let first = dir.path().join("first");
    let log = std::fs::read_to_string(first.join("commands.ron")).unwrap();
    assert!(log.contains("origin: Incident"), "{log}");
    let figures = unitwin::batch::compare::run_figures(&first).unwrap();
    let delay = figures.iter().find(|f| f.key == "intervention_delay").and_then(|f| f.value);
    assert_eq!(delay, Some(15.0), "the first measure came 15 s after the incident");
}

const FALLEN_RISK: &str = "tests/scenes/measures/fallen_risk.ron";

/// A fallen person raises the risk round them, and the run says how much: `summary.json`'s record
/// of each fallen person equals what the definition gives when worked out here from the run's own
/// trajectories (local density: people within 1 m, oneself included, per π m²; within reach: 1 m
/// of the outline; pressed: someone within reach above Shanghai's 4 persons/m² moving-crowd
/// alarm). The queue at the 1.2 m door presses round the person who fell in front of it; nobody
/// comes near the one in the far corner; nobody steps into either; the run replays identically.
#[test]
fn a_fallen_person_raises_the_risk_round_them_as_the_trajectories_show() {
    use bevy::math::DVec2;
    let twin = common::load(FALLEN_RISK);
    let dir = common::run_and_replay(&twin, 5, 300.0);
    let run = dir.path().join("first");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(run.join("trajectories.txt")).unwrap();
    let rate: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#framerate:"))
        .map(|r| r.trim().parse().unwrap())
        .expect("a framerate line");
    let mut frames: std::collections::BTreeMap<u64, Vec<DVec2>> = Default::default();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
        frames.entry(f[1] as u64).or_default().push(DVec2::new(f[2], f[3]));
    }
    let interval = 1.0 / rate;
    let placed_at = 5.0;
    let outlines = [
        ("fallen_at_door", [(36.2, 15.8), (38.0, 15.8), (38.0, 16.4), (36.2, 16.4)]),
        ("fallen_in_corner", [(37.0, 1.0), (38.8, 1.0), (38.8, 1.6), (37.0, 1.6)]),
    ];
    let records = summary["fallen"].as_array().expect("summary.json lists the fallen persons");
    assert_eq!(records.len(), 2, "{records:?}");
    let mut pressed_at_door = 0.0;
    for ((id, outline), record) in outlines.iter().zip(records) {
        assert_eq!(record["id"], *id);
        let corners: Vec<DVec2> = outline.iter().map(|&(x, y)| DVec2::new(x, y)).collect();
        let to_outline = |p: DVec2| {
            (0..4)
                .map(|i| {
                    let (a, b) = (corners[i], corners[(i + 1) % 4]);
                    let t = ((p - a).dot(b - a) / (b - a).length_squared()).clamp(0.0, 1.0);
                    p.distance(a + (b - a) * t)
                })
                .fold(f64::INFINITY, f64::min)
        };
        let (mut seconds_down, mut seconds_pressed, mut above) = (0.0, 0.0, [0.0f64; 2]);
        let (mut max_near, mut max_near_at, mut first_pressed, mut max_density) = (0u32, None, None, 0.0f64);
        for (&frame, agents) in &frames {
            let t = frame as f64 * interval;
            if t + 1e-9 < placed_at {
                continue;
            }
            seconds_down += interval;
            let mut near = 0;
            let mut pressed = false;
            for &p in agents {
                let inside =
                    (outline[0].0..=outline[2].0).contains(&p.x) && (outline[0].1..=outline[2].1).contains(&p.y);
                assert!(!inside, "someone stands on {id} at {t} s: {p}");
                if to_outline(p) > 1.0 {
                    continue;
                }
                near += 1;
                let within = agents.iter().filter(|q| q.distance_squared(p) <= 1.0).count();
                let density = within as f64 / std::f64::consts::PI;
                max_density = max_density.max(density);
                pressed |= density > 4.0;
                for (threshold, sum) in [4.0, 6.0].iter().zip(&mut above) {
                    if density > *threshold {
                        *sum += interval;
                    }
                }
            }
            if near > max_near {
                (max_near, max_near_at) = (near, Some(t));
            }
            if pressed {
                seconds_pressed += interval;
                first_pressed.get_or_insert(t);
            }
        }
        let close = |key: &str, expected: f64, tolerance: f64| {
            let got = record[key].as_f64().unwrap_or(f64::NAN);
            assert!((got - expected).abs() <= tolerance, "{id}: {key} is {got}, the trajectories give {expected}");
        };
        close("first_down", placed_at, 1e-9);
        close("seconds_down", seconds_down, 1e-6);
        close("seconds_pressed", seconds_pressed, 1e-6);
        close("max_density_near", max_density, 1e-5);
        assert_eq!(record["max_near"].as_u64(), Some(max_near as u64), "{id}: most people within reach");
        assert_eq!(record["max_near_at"].as_f64(), max_near_at, "{id}: when most were within reach");
        assert_eq!(record["first_pressed_at"].as_f64(), first_pressed, "{id}: when first pressed");
        for (i, sum) in above.iter().enumerate() {
            let got = record["person_seconds_above"][i].as_f64().unwrap();
            assert!((got - sum).abs() < 1e-6, "{id}: person-seconds above threshold #{i}: {got} against {sum}");
        }
        println!(
            "{id}: down {seconds_down:.1} s, at most {max_near} within 1 m (at {max_near_at:?} s), densest {max_density:.2} p/m², \
             pressed above 4 p/m² for {seconds_pressed:.1} s (first at {first_pressed:?} s), person-seconds above 4/6: {above:?}"
        );
        if *id == "fallen_at_door" {
            pressed_at_door = seconds_pressed;
            assert!(
                max_near >= 3,
                "{id}: the queue at the door stands round the fallen person ({max_near} within reach)"
            );
        } else {
            assert_eq!(max_near, 0, "{id}: nobody's route passes the far corner");
        }
    }
    assert_eq!(summary["agents"]["exited"], 200, "everyone gets out past the fallen person");
    // The report names the risk on its timeline.
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    let expected = if pressed_at_door > 0.0 { "crowd pressing on fallen person" } else { "fallen person" };
    assert!(report.contains(expected), "report.html mentions the fallen person");
}

/// The pilot scenes' incident libraries: each fallen person, placed at the start by a timed
/// `PlaceBarrier` (and each library fire by `Smoke`), is walked round: nobody ever stands in the
/// outline, people pass within reach of it (1 m, the risk's reach) on their way, the run's
/// invariants hold at every step, and the fallen person's record counts who was within reach.
#[test]
fn the_pilot_incident_libraries_are_walked_round() {
    use bevy::math::DVec2;
    use unitwin::metrics::Measurements;
    // (scene, barrier, outline (x0, y0, x1, y1), its level, extra events, run until)
    let cases = [
        (
            "scenes/tianzifang_wave_release.ron",
            "fallen_visitor_alley_w2",
            [40.0, 72.2, 41.8, 72.8],
            "lanes",
            "TimedEvent(at: 0.0, action: Smoke(zone: \"shop_lane_210_e1_fire\", extinction: 2.0)),",
            // The quarter's local routes bring the first visitors to this alley only after about ten minutes.
            1200.0,
        ),
        (
            "scenes/yuyangli.ron",
            "fallen_visitor_lane",
            [17.2, 38.0, 17.8, 39.8],
            "ground",
            "TimedEvent(at: 0.0, action: Smoke(zone: \"branch_lane_2_east_smoke\", extinction: 2.0)),",
            300.0,
        ),
        ("scenes/yuyangli.ron", "fallen_visitor_square", [50.0, 6.0, 51.8, 6.6], "ground", "", 300.0),
        ("scenes/bund_chenyi_rehearsal.ron", "fallen_at_stair_foot", [69.0, -2.5, 70.8, -1.9], "square", "", 300.0),
        ("scenes/bund_chenyi_rehearsal.ron", "fallen_on_landing", [75.0, 1.9, 76.8, 2.5], "landing", "", 300.0),
    ];
    for (scene, barrier, [x0, y0, x1, y1], level_name, extra, until) in cases {
        let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(scene);
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(&format!("Barrier(id: \"{barrier}\"")), "{scene} has {barrier} in its library");
        let order = format!("TimedEvent(at: 0.0, action: PlaceBarrier(\"{barrier}\")), {extra}");
        let text = match text.find("    events: [") {
            Some(i) => format!("{}    events: [{order}{}", &text[..i], &text[i + "    events: [".len()..]),
            None => {
                let end = text.rfind(')').unwrap();
                format!("{}    events: [{order}],\n)\n", &text[..end])
            }
        };
        let loaded = parse_scene(SourceMap::new(Path::new(scene), text), String::new()).unwrap();
        let twin = unitwin::twin::build(loaded).unwrap();
        let level = twin.space.levels.iter().position(|l| l.id == level_name).expect("the level exists");
        let options = RunOptions { seed: 1, until, threads: Some(2), replay: None };
        let mut app = headless_app(&twin, &options).unwrap();
        let mut near = std::collections::BTreeSet::new();
        let mut inside = Vec::new();
        while !app.world().resource::<SimControl>().finished {
            app.update();
            common::check_invariants(app.world_mut());
            let t = app.world().resource::<SimClock>().now();
            let world = app.world_mut();
            let mut q = world.query::<(&unitwin::crowd::AgentId, &unitwin::crowd::Body)>();
            for (id, body) in q.iter(world) {
                if body.level.index() != level {
                    continue;
                }
                let p = body.pos;
                let gap = DVec2::new((x0 - p.x).max(p.x - x1).max(0.0), (y0 - p.y).max(p.y - y1).max(0.0)).length();
                if gap == 0.0 {
                    inside.push(format!("agent {} in {barrier} at {t:.2} s", id.0));
                }
                if gap <= 1.0 {
                    near.insert(id.0);
                }
            }
        }
        assert!(inside.is_empty(), "{scene}: {}", inside[..inside.len().min(5)].join("; "));
        let record = app.world().resource::<Measurements>().fallen.iter().find(|f| f.id == barrier).cloned();
        let record = record.expect("the fallen person is watched");
        println!(
            "{scene} {barrier}: {} people passed within 1 m of the centre's outline in {until} s; record: at most {} within reach, \
             pressed {:.1} s",
            near.len(),
            record.max_near,
            record.seconds_pressed
        );
        assert!(near.len() >= 3, "{scene}: people walk past {barrier} ({} within 1 m)", near.len());
        assert!(
            record.max_near >= 1 && record.first_down == Some(0.0),
            "{scene}: {barrier} is watched from 0 s: {record:?}"
        );
    }
}
