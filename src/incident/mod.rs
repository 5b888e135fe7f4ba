//! Incidents and disposal measures: timed events from the scene and live commands from code,
//! applied at the start of a step (doors open or close; walls and floor fields are rebuilt).

use bevy::prelude::*;

use crate::nav::Navigation;
use crate::scene::{Action, Scene};
use crate::sim::{SimClock, SimSystems};
use crate::space::{Space, SpaceRes};

/// Scene events in time order, and commands queued by other code (the viewer, measures).
#[derive(Resource, Clone, Debug, Default)]
pub struct TimedEvents {
    pub scheduled: Vec<(f64, Action)>,
    pub next: usize,
    /// Applied at the start of the next step, in order.
    pub live: Vec<Action>,
    /// What happened and when, for the report.
    pub log: Vec<(f64, Action)>,
}

impl TimedEvents {
    pub fn from_scene(scene: &Scene, _space: &Space) -> Self {
        let mut scheduled: Vec<(f64, Action)> = scene.events.iter().map(|e| (e.at, e.action.clone())).collect();
        scheduled.sort_by(|a, b| a.0.total_cmp(&b.0));
        TimedEvents { scheduled, ..default() }
    }

    /// Queues an action to happen at the start of the next step.
    pub fn push(&mut self, action: Action) {
        self.live.push(action);
    }
}

pub struct IncidentPlugin;

impl Plugin for IncidentPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TimedEvents>().add_systems(crate::sim::SimStep, apply_events.in_set(SimSystems::Incidents));
    }
}

fn apply_events(
    clock: Res<SimClock>,
    mut events: ResMut<TimedEvents>,
    mut space: ResMut<SpaceRes>,
    mut nav: ResMut<Navigation>,
) {
    let now = clock.now();
    let events = &mut *events;
    let mut due: Vec<Action> = Vec::new();
    while events.next < events.scheduled.len() && events.scheduled[events.next].0 <= now + 1e-9 {
        due.push(events.scheduled[events.next].1.clone());
        events.next += 1;
    }
    due.append(&mut events.live);
    for action in due {
        apply(&mut space.0, &mut nav, &action);
        events.log.push((now, action));
    }
}

/// Carries out one action on the space and rebuilds what depends on it.
pub fn apply(space: &mut Space, nav: &mut Navigation, action: &Action) {
    match action {
        Action::CloseDoor(id) | Action::OpenDoor(id) => {
            let open = matches!(action, Action::OpenDoor(_));
            let Some(&index) = space.door_index.get(id) else { return };
            if space.doors[index].open != open {
                let level = space.set_door_open(index, open);
                nav.rebuild_level(space, level);
            }
        }
        Action::BlockZone(id) | Action::UnblockZone(id) => {
            let blocked = matches!(action, Action::BlockZone(_));
            let Some(&index) = space.zone_index.get(id) else { return };
            if space.zones[index].blocked != blocked {
                space.zones[index].blocked = blocked;
                nav.rebuild_level(space, space.zones[index].level);
            }
        }
    }
}
