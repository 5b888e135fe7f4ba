mod common;
use bevy::math::DVec2;
use common::{app, load, positions};
use unitwin::incident::TimedEvents;
use unitwin::scene::Action;
use unitwin::space::geom::ring_contains;
use unitwin::sim::SimClock;
#[test]
fn debug() {
    let checked = load("scenes/verification/zone_blocked.ron");
    let mut app = app(&checked, 6);
    let zone = [[8.0, 0.0], [14.0, 0.0], [14.0, 7.0], [8.0, 7.0]];
    for i in 0..400 { app.update();
        let w = app.world_mut(); let t = w.resource::<SimClock>().now();
        if (t - 4.0).abs() < 1e-9 { w.resource_mut::<TimedEvents>().push(Action::BlockZone("smoke".into())); }
        if i % 20 == 0 && t > 4.0 && t < 20.0 {
            let inside: Vec<(u32, DVec2)> = positions(w).into_iter().filter(|a| ring_contains(&zone, a.1)).collect();
            println!("t={t:.1} inside: {:?}", inside.iter().map(|a| format!("{}@({:.2},{:.2})", a.0, a.1.x, a.1.y)).collect::<Vec<_>>());
        }
    }
}
