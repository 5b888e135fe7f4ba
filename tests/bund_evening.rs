//! The Bund waterfront at full scale (`scenes/bund_evening.ron`, issue 12): the first minutes of
//! New Year's Eve 2014 with 1.8 km of platform, twelve stairways, eight side streets and the
//! signalised crossings of Zhongshan East 1st Road, at the published arrival rate of 120,000 an hour.
//!
//! At that scale the crowd must still come in at the published rate (no way in held shut by the
//! crowd), reach the river railing within the walk Weidmann's speeds allow, and keep every physical
//! invariant (`common::run_verified`: walls, bodies, walkable floor, conservation, no NaN).
//! `cargo test --release --test bund_evening -- --nocapture` prints what it measured.

mod common;

use std::collections::BTreeMap;

use common::{load, run_verified};
use unitwin::app::{RunOptions, headless_app};
use unitwin::crowd::{Activity, AgentId, Body, Plan};
use unitwin::schedule::SimClock;
use unitwin::space::{LevelKind, SpaceRes};

/// People entering the Bund area from 20:00 on 2014-12-31, per hour (official investigation,
/// ../shared/reference/pilot-units.md).
const ARRIVALS_20_TO_21: f64 = 120_000.0;
/// The run: the first eight minutes of the evening.
const RUN: f64 = 480.0;
/// Those who arrive in the first minute are followed to the railing.
const FOLLOWED: f64 = 60.0;
/// The longest way in to a viewing stretch is about 250 m (Jinling East Road to the stretch nearest
/// it: the side street, the crossing, the belt, the stairs, the platform); at 0.74 m/s, Weidmann's
/// first percentile of free speeds (mean 1.34, sd 0.26), that is 338 s, plus at most 65 s before
/// the crossing turns green and about 15 s on the stairs: 418 s. All but the slowest 1 % of those
/// who came in the first minute are at the railing 420 s after it.
const AT_RAILING: f64 = 0.99;

#[test]
fn the_full_bund_takes_in_120000_an_hour_and_they_reach_the_river() {
    let twin = load("scenes/bund_evening.ron");
    let mut app = headless_app(&twin, &RunOptions { seed: 2014, until: RUN, threads: None, replay: None })
        .expect("placement succeeds");
    drop(twin);
    // The Chen Yi Square stairway: its two flights (the fourth stairway from the north).
    let chen_yi: Vec<_> = {
        let space = &app.world().resource::<SpaceRes>().0;
        space
            .levels
            .enumerate()
            .filter(|(_, l)| matches!(l.kind, LevelKind::Stair(s) if space.stairs[s].id.starts_with("stair_4_")))
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(chen_yi.len(), 2, "the Chen Yi Square stairway has two flights");
    let mut arrived_at: BTreeMap<u32, f64> = BTreeMap::new();
    let mut reached: BTreeMap<u32, f64> = BTreeMap::new();
    let mut on_site_peak = 0u32;
    let mut chen_yi_peak = 0u32;
    let mut step = 0u64;
    let out = run_verified(&mut app, |world| {
        step += 1;
        if step % 20 != 0 {
            return;
        }
        let t = world.resource::<SimClock>().now();
        let mut on_site = 0;
        let mut on_chen_yi = 0;
        for (id, body, plan) in world.query::<(&AgentId, &Body, &Plan)>().iter(world) {
            on_site += 1;
            on_chen_yi += u32::from(chen_yi.contains(&body.level));
            arrived_at.entry(id.0).or_insert(t);
            if matches!(plan.activity, Activity::Dwelling { .. }) || plan.leg > 0 {
                reached.entry(id.0).or_insert(t);
            }
        }
        on_site_peak = on_site_peak.max(on_site);
        chen_yi_peak = chen_yi_peak.max(on_chen_yi);
    });

    let expected = ARRIVALS_20_TO_21 * out.end / 3600.0;
    let followed: Vec<u32> = arrived_at.iter().filter(|(_, t)| **t <= FOLLOWED).map(|(id, _)| *id).collect();
    let at_railing = followed.iter().filter(|id| reached.contains_key(id)).count();
    let times: Vec<f64> = followed.iter().filter_map(|id| Some(reached.get(id)? - arrived_at[id])).collect();
    let mean_walk = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "the Bund at full scale, first {:.0} s: {} arrived ({expected:.0} at 120,000/h), {} left, at most {on_site_peak} on site; \
         of the {} who came in the first minute {at_railing} reached the railing (mean walk {mean_walk:.0} s); \
         at most {chen_yi_peak} on the Chen Yi Square stairway's flights",
        out.end,
        out.census.spawned,
        out.census.exited,
        followed.len()
    );
    // The arrival flows are scheduled at exactly the published rate; falling behind means the crowd
    // holds a way in shut.
    assert!(
        (f64::from(out.census.spawned) - expected).abs() <= 0.01 * expected,
        "{} arrived in {:.0} s, {expected:.0} at the published rate",
        out.census.spawned,
        out.end
    );
    assert!(
        at_railing as f64 >= AT_RAILING * followed.len() as f64,
        "{at_railing} of the {} who came in the first minute reached the railing by {:.0} s",
        followed.len(),
        out.end
    );
}
