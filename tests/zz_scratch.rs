mod common;
use std::path::Path;
use unitwin::app::{RunOptions, headless_app};
use unitwin::scene::{SourceMap, parse_scene};
use unitwin::schedule::{SimClock, SimControl};

#[test]
fn scratch_oneway() {
    use unitwin::scene::{Action, DoorWay};
    let text = std::fs::read_to_string("tests/scenes/measures/oneway_doors.ron").unwrap().replace(
        "DoorDirection(door: \"south_door\", direction: Towards((4.0, 2.0)))",
        "DoorDirection(door: \"south_door\", direction: Towards((20.0, 2.0)))),\n        \
         TimedEvent(at: 0.0, action: SetExit(door: \"east_exit\", exit: false)",
    );
    let loaded = parse_scene(SourceMap::new(Path::new("no_way_west.ron"), text), String::new()).unwrap();
    let twin = unitwin::twin::build(loaded).unwrap();
    let options = RunOptions { seed: 11, until: twin.scene().run.duration, threads: Some(2), replay: None };
    let mut app = headless_app(&twin, &options).unwrap();
    while !app.world().resource::<SimControl>().finished {
        let now = app.world().resource::<SimClock>().now();
        if (now - 40.0).abs() < 1e-9 {
            let order = Action::DoorDirection { door: "south_door".into(), direction: DoorWay::Both };
            unitwin::command::issue(app.world_mut(), &order).unwrap();
        }
        app.update();
        let t = app.world().resource::<SimClock>().now();
        if (t % 10.0).abs() < 1e-6 || (t % 10.0 - 10.0).abs() < 1e-6 {
            let mut p = common::positions(app.world_mut());
            p.sort_by(|a, b| a.1.x.total_cmp(&b.1.x));
            let s: Vec<String> = p.iter().take(12).map(|(i, q)| format!("{i}:({:.1},{:.1})", q.x, q.y)).collect();
            println!("{t:.0}: {} agents; {}", p.len(), s.join(" "));
        }
    }
}
