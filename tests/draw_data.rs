//! Draw data: the static twin in world coordinates matches the scene it was built from, refreshes
//! when a door closes, and each step's agents are published sorted by id, where the simulation has them.

use std::path::Path;

use unitwin::app::RunOptions;
use unitwin::command::NamedCommand;
use unitwin::crowd::{AgentId, Body, Census};
use unitwin::draw::{DrawActivity, DrawAgents, DrawDoorKind, DrawMeasurement, DrawTwin};
use unitwin::runner::Run;
use unitwin::scene::DoorWay;
use unitwin::space::SpaceRes;
use unitwin::twin::Twin;

fn twin(p: &str) -> Twin {
    unitwin::twin::load(&Path::new(&unitwin_manifest_dir()).join(p)).unwrap_or_else(|d| panic!("{p}:\n{d}"))
}

fn run(twin: &Twin) -> Run {
    Run::new(twin, &RunOptions::from_twin(twin)).unwrap()
}

#[test]
fn buildings_stairs_and_doors_are_drawn_in_world_coordinates() {
    let twin = twin("scenes/nanjing_building.ron");
    let scene = twin.scene();
    let run = run(&twin);
    let draw = run.world().resource::<DrawTwin>();
    assert_eq!(draw.name, scene.unit.name);
    assert_eq!(draw.origin, (scene.unit.origin.lat, scene.unit.origin.lon));
    assert_eq!(draw.levels.len(), scene.levels.len(), "every floor, and no stair corridor, is a drawn level");
    for (drawn, level) in draw.levels.iter().zip(&scene.levels) {
        assert_eq!((drawn.name.as_str(), drawn.elevation), (level.id.as_str(), level.elevation));
        assert!(drawn.walkable.iter().flat_map(|p| &p.outer).all(|q| q[2] == level.elevation));
        assert!(!drawn.walls.is_empty());
    }
    assert_eq!(draw.buildings.len(), scene.buildings.len());
    for (drawn, b) in draw.buildings.iter().zip(&scene.buildings) {
        assert_eq!((drawn.height, drawn.floors), (b.height, b.floors), "building '{}'", b.id);
        assert_eq!(drawn.footprint.len(), b.footprint.len());
    }
    assert_eq!(draw.stairs.len(), scene.stairs.len());
    let elevation = |id: &str| scene.levels.iter().find(|l| l.id == id).unwrap().elevation;
    for (drawn, st) in draw.stairs.iter().zip(&scene.stairs) {
        assert!((drawn.foot[2] - elevation(&st.foot.level)).abs() < 1e-9, "stair '{}' starts at its foot level", st.id);
        assert!((drawn.head[2] - elevation(&st.head.level)).abs() < 1e-9, "stair '{}' ends at its head level", st.id);
        assert!((drawn.foot[0] - st.foot.at[0]).abs() < 1e-9 && (drawn.head[1] - st.head.at[1]).abs() < 1e-9);
        assert!(drawn.steps >= 1);
    }
    let scene_doors: Vec<_> = draw.doors.iter().filter(|d| d.kind != DrawDoorKind::StairOpening).collect();
    assert_eq!(scene_doors.len(), scene.doors.len(), "each scene door is drawn once");
    let exits = draw.doors.iter().filter(|d| d.kind == DrawDoorKind::Exit).count();
    assert_eq!(exits, scene.doors.iter().filter(|d| d.exit).count());
    assert!(draw.min[2] <= 0.0 && draw.max[2] > 10.0, "the bounds span the storeys: {:?}..{:?}", draw.min, draw.max);
}

#[test]
fn streets_bring_carriageway_lanes_kerbs_and_crossings() {
    let twin = twin("scenes/quxi_road.ron");
    let scene = twin.scene();
    let run = run(&twin);
    let draw = run.world().resource::<DrawTwin>();
    assert_eq!(draw.streets.len(), scene.streets.len());
    for (drawn, st) in draw.streets.iter().zip(&scene.streets) {
        assert_eq!(drawn.lanes.len(), st.lanes as usize, "street '{}'", st.id);
        assert_eq!(drawn.lane_markings.len(), st.lanes as usize - 1);
        assert_eq!(drawn.kerbs.len(), 2);
        assert_eq!(drawn.crossings.len(), st.crossings.len());
        assert!(!drawn.carriageway.is_empty());
        if st.one_way {
            assert!(drawn.lanes.iter().all(|l| l.forward), "a one-way street's lanes all run forward");
        }
        // Each lane lies within the carriageway: its offset from the centre line is under half the width.
        let c = &st.centerline;
        let dir = [c[1][0] - c[0][0], c[1][1] - c[0][1]];
        let len = (dir[0] * dir[0] + dir[1] * dir[1]).sqrt();
        for lane in &drawn.lanes {
            let p = lane.centerline[0];
            let off = ((p[0] - c[0][0]) * -dir[1] + (p[1] - c[0][1]) * dir[0]) / len;
            assert!(off.abs() < st.carriageway / 2.0, "lane offset {off} outside the carriageway");
        }
    }
    let measured = draw.measurements.iter().filter(|m| matches!(m, DrawMeasurement::Area { .. })).count()
        + draw.measurements.iter().filter(|m| matches!(m, DrawMeasurement::Line { .. })).count();
    assert_eq!(measured, scene.measurements.len());
}

#[test]
fn a_closed_door_shows_closed_and_walls_follow() {
    let twin = twin("scenes/demo_hall.ron");
    let mut run = run(&twin);
    run.step();
    let before = run.world().resource::<DrawTwin>().clone();
    let door = before.doors.iter().find(|d| d.name == "east_exit").unwrap();
    assert!(door.open);
    unitwin::command::issue(run.world_mut(), &NamedCommand::CloseDoor("east_exit".into())).unwrap();
    run.step();
    let after = run.world().resource::<DrawTwin>().clone();
    assert!(after.version > before.version, "a change bumps the version");
    assert!(!after.doors.iter().find(|d| d.name == "east_exit").unwrap().open);
    let walls = |t: &DrawTwin| t.levels[0].walls.len();
    assert!(walls(&after) != walls(&before), "the closed door is wall now");
    run.step();
    assert_eq!(run.world().resource::<DrawTwin>().version, after.version, "no change, no new version");
}

/// The panel's one-way and road-closure orders read their state from the draw data: a door made
/// one-way towards one of its two drawn sides shows that side (and the order built from that side
/// is the one the twin applied), a street closed to vehicles shows closed, and both undo.
#[test]
fn one_way_doors_and_closed_streets_show_in_the_draw_data() {
    let twin = twin("tests/scenes/measures/oneway_doors.ron");
    let mut run = run(&twin);
    run.step();
    let door =
        |run: &Run| run.world().resource::<DrawTwin>().doors.iter().find(|d| d.name == "north_door").cloned().unwrap();
    let before = door(&run);
    assert_eq!(before.one_way_to, None, "two-way until ordered otherwise");
    for side in [0, 1] {
        let towards = before.sides[side];
        let order = NamedCommand::DoorDirection { door: "north_door".into(), direction: DoorWay::Towards(towards) };
        unitwin::command::issue(run.world_mut(), &order).unwrap();
        run.step();
        assert_eq!(door(&run).one_way_to, Some(side), "one-way towards side {side} {towards:?}");
        // The drawn side lies on the side the twin lets people pass towards.
        let geom = &run.world().resource::<SpaceRes>().0.doors[before.id];
        let p = bevy::math::DVec2::from_array(towards);
        assert!((p - geom.midpoint()).dot(geom.one_way.unwrap()) > 0.0);
    }
    unitwin::command::issue(
        run.world_mut(),
        &NamedCommand::DoorDirection { door: "north_door".into(), direction: DoorWay::Both },
    )
    .unwrap();
    run.step();
    assert_eq!(door(&run).one_way_to, None);

    let twin = self::twin("tests/scenes/traffic/crash.ron");
    let mut run = self::run(&twin);
    run.step();
    let closed = |run: &Run| run.world().resource::<DrawTwin>().streets[0].closed;
    assert!(!closed(&run));
    unitwin::command::issue(run.world_mut(), &NamedCommand::CloseStreet("lane".into())).unwrap();
    run.step();
    assert!(closed(&run), "the street shows closed");
    unitwin::command::issue(run.world_mut(), &NamedCommand::OpenStreet("lane".into())).unwrap();
    run.step();
    assert!(!closed(&run), "and open again");
}

#[test]
fn a_door_closed_before_the_first_step_shows_closed() {
    let twin = twin("scenes/demo_hall.ron");
    let mut run = run(&twin);
    unitwin::command::issue(run.world_mut(), &NamedCommand::CloseDoor("east_exit".into())).unwrap();
    run.step();
    let drawn = run.world().resource::<DrawTwin>();
    assert!(!drawn.doors.iter().find(|d| d.name == "east_exit").unwrap().open);
}

#[test]
fn agents_are_published_each_step_sorted_by_id_where_they_are() {
    let twin = twin("scenes/nanjing_building.ron");
    let mut run = run(&twin);
    let mut capacity = 0;
    let mut seen_on_stair = false;
    for step in 0..2400 {
        run.step();
        let world = run.world_mut();
        let published = world.resource::<DrawAgents>().clone();
        let census = world.resource::<Census>().clone();
        assert_eq!(published.step, world.resource::<unitwin::schedule::SimClock>().step);
        assert_eq!(published.agents.len() as u32, census.on_site(), "everyone on site is published");
        assert!(published.agents.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
        if step == 0 {
            capacity = published.agents.capacity();
        } else {
            assert!(published.agents.capacity() <= capacity, "no new allocation once the crowd is placed");
        }
        if step % 200 == 0 {
            let space = world.resource::<SpaceRes>().0.clone();
            let mut q = world.query::<(&AgentId, &Body)>();
            for (id, body) in q.iter(world) {
                let a = published.agents.binary_search_by_key(id, |a| a.id).map(|i| published.agents[i]).unwrap();
                assert_eq!(a.pos, space.to_world(body.level, body.pos), "agent {} published where it is", id.0);
                assert!(a.density > 0.0, "an agent counts itself");
                seen_on_stair |= a.on_stair.is_some();
                if let Some(stair) = a.on_stair {
                    assert_eq!(a.level, space.stairs[stair].foot_level);
                }
            }
            assert!(published.agents.iter().all(|a| a.activity != DrawActivity::Leaving));
        }
    }
    assert!(seen_on_stair, "the drill puts people on the stairs");
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
