//! Navigation: a grid over each level (stair corridors included) and floor fields: travel times
//! to each target across all levels, joined through the stairs' openings.

pub mod fmm;
mod grid;

pub use fmm::{CellSource, FloorField};
pub use grid::{NEAR_WALL, NavGrid};

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::math::DVec2;
use bevy::prelude::Resource;

use crate::geom::{closest_on_segment, distance_to_segment};
use crate::ids::{DestinationId, DoorId, IdVec, LevelId, TargetId};
use crate::space::Space;

/// What a floor field leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKey {
    /// The nearest open exit among `doors` (sorted), on any level; `None` means all.
    Exits { doors: Option<Vec<DoorId>> },
    /// A destination area.
    Destination { destination: DestinationId },
}

impl TargetKey {
    /// Whether leaving by `door` reaches this target.
    pub fn leaves_by(&self, door: DoorId) -> bool {
        match self {
            TargetKey::Exits { doors: None } => true,
            TargetKey::Exits { doors: Some(doors) } => doors.contains(&door),
            TargetKey::Destination { .. } => false,
        }
    }
}

/// A way across a stair opening: an agent in cell `from` of level `from_level` can step to cell
/// `to` of level `to_level` through door `door`, at a cost in metres of free walking.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub from_level: LevelId,
    pub from: usize,
    pub to_level: LevelId,
    pub to: usize,
    pub door: DoorId,
    pub cost: f64,
}

/// Every grid and every field in use. Fields are addressed by target, then level.
#[derive(Resource, Clone, Debug)]
pub struct Navigation {
    pub grids: IdVec<LevelId, NavGrid>,
    /// Shared, not copied, when the navigation is cloned (the twin keeps one, the world another):
    /// at full scale the fields are most of a run's memory. Recomputing replaces a target's fields.
    fields: IdVec<TargetId, Arc<IdVec<LevelId, FloorField>>>,
    pub keys: BTreeMap<TargetKey, TargetId>,
    targets: IdVec<TargetId, TargetKey>,
    /// The target "nearest open exit anywhere", used when an agent's own target cannot be reached.
    pub any_exit: Option<TargetId>,
    /// Links into each cell that agents can enter through an opening, by (level, cell).
    links_into: BTreeMap<(LevelId, usize), Vec<Link>>,
    /// The carriageway's cost factor on open grids (`None`: these are everyone's grids).
    carriageway_cost: Option<f64>,
    /// The grids and fields of those who cross streets outside crossings, with the same target ids.
    pub open: Option<Box<Navigation>>,
}

impl Navigation {
    /// Grids for every level at `cell` metres; `near_wall_reach` as in [`NavGrid::near_wall_reach`].
    /// With `carriageway_cost`, also those of pedestrians who cross streets anywhere unfenced,
    /// where walking on a carriageway counts that many times its length.
    pub fn new(space: &Space, cell: f64, near_wall_reach: f64, carriageway_cost: Option<f64>) -> Self {
        let mut nav = Self::layer(space, cell, near_wall_reach, None);
        if let Some(cost) = carriageway_cost
            && space.levels.iter().any(|l| l.open.is_some())
        {
            nav.open = Some(Box::new(Self::layer(space, cell, near_wall_reach, Some(cost))));
        }
        nav
    }

    /// The navigation an agent follows.
    #[inline]
    pub fn for_agent(&self, crosses_anywhere: bool) -> &Navigation {
        match (&self.open, crosses_anywhere) {
            (Some(open), true) => open,
            _ => self,
        }
    }

    fn layer(space: &Space, cell: f64, near_wall_reach: f64, carriageway_cost: Option<f64>) -> Self {
        let grids =
            space.levels.ids().map(|li| NavGrid::build(space, li, cell, near_wall_reach, carriageway_cost)).collect();
        let mut nav = Navigation {
            grids,
            fields: IdVec::new(),
            keys: BTreeMap::new(),
            targets: IdVec::new(),
            any_exit: None,
            links_into: BTreeMap::new(),
            carriageway_cost,
            open: None,
        };
        nav.links_into = nav.portal_links(space);
        if space.doors.iter().any(|d| d.boundary && d.exit) {
            nav.any_exit = Some(nav.target(space, TargetKey::Exits { doors: None }));
        }
        nav
    }

    /// What `target` leads to.
    #[inline]
    pub fn key(&self, target: TargetId) -> &TargetKey {
        &self.targets[target]
    }

    /// Whether leaving by `door` from `p`, off the grid in its doorway, is a way out for someone
    /// following `target`: the door leads to it, or the target's own field does not reach the
    /// cell just inside the door, where its followers walk by the nearest exit instead (as
    /// `crowd::model::desired_direction` has them do).
    pub fn leaves_by(&self, space: &Space, target: TargetId, level: LevelId, door: DoorId, p: DVec2) -> bool {
        if self.key(target).leaves_by(door) {
            return true;
        }
        let d = &space.doors[door];
        let grid = &self.grids[level];
        let inside = closest_on_segment(p, d.a, d.b) - d.normal * grid.cell;
        grid.cell_at(inside).is_none_or(|k| !self.field(target, level).time[k].is_finite())
    }

    /// The field of `target` on `level`.
    #[inline]
    pub fn field(&self, target: TargetId, level: LevelId) -> &FloorField {
        &self.fields[target][level]
    }

    /// The target `key`, computing its fields on first use.
    pub fn target(&mut self, space: &Space, key: TargetKey) -> TargetId {
        if let Some(&i) = self.keys.get(&key) {
            return i;
        }
        if let Some(open) = self.open.as_mut() {
            open.target(space, key.clone());
        }
        let fields = self.compute(space, &key);
        let id = self.fields.push(Arc::new(fields));
        self.targets.push(key.clone());
        self.keys.insert(key, id);
        id
    }

    /// Rebuilds a level's grid after its walls or zones changed, and every field.
    pub fn rebuild_level(&mut self, space: &Space, level: LevelId) {
        self.rebuild_levels(space, &[level]);
    }

    /// Rebuilds several levels' grids, then the links and every field once.
    pub fn rebuild_levels(&mut self, space: &Space, levels: &[LevelId]) {
        if let Some(open) = self.open.as_mut() {
            open.rebuild_levels(space, levels);
        }
        for &level in levels {
            let old = &self.grids[level];
            self.grids[level] = NavGrid::build(space, level, old.cell, old.near_wall_reach, self.carriageway_cost);
        }
        self.links_into = self.portal_links(space);
        self.recompute_all(space);
    }

    /// Recomputes every field for the crowd now present (`counts[level][cell]`: agents per cell;
    /// the open grids cover the same cells).
    pub fn follow_crowd(&mut self, space: &Space, counts: &[Vec<u32>]) {
        if let Some(open) = self.open.as_mut() {
            open.follow_crowd(space, counts);
        }
        for (grid, counts) in self.grids.iter_mut().zip(counts) {
            grid.apply_crowd(counts);
        }
        self.recompute_all(space);
    }

    fn recompute_all(&mut self, space: &Space) {
        for id in self.targets.ids() {
            self.fields[id] = Arc::new(self.compute(space, &self.targets[id].clone()));
        }
    }

    fn compute(&self, space: &Space, key: &TargetKey) -> IdVec<LevelId, FloorField> {
        let mut seeds = fmm::Seeds::new(&self.grids);
        match key {
            TargetKey::Exits { doors } => {
                for (id, door) in space.doors.enumerate() {
                    // An exit closed in its turn of an alternate opening still draws people: they
                    // wait at it for it to open rather than run to the other gate.
                    let waiting_turn = door.boundary && door.exit && space.alternations.iter().any(|a| a.shut == id);
                    if (door.is_open_exit() || waiting_turn) && doors.as_ref().is_none_or(|list| list.contains(&id)) {
                        seeds.door(&self.grids[door.level], space, id);
                    }
                }
            }
            TargetKey::Destination { destination } => {
                if let Some(d) = space.destinations.get(*destination) {
                    seeds.area(&self.grids[d.level], d.level, &d.area, d.passed_by);
                }
            }
        }
        FloorField::solve(&self.grids, &self.links_into, seeds)
    }

    /// Links through every stair opening that the stair's direction allows.
    fn portal_links(&self, space: &Space) -> BTreeMap<(LevelId, usize), Vec<Link>> {
        let mut links: BTreeMap<(LevelId, usize), Vec<Link>> = BTreeMap::new();
        for portal in space.portals.iter().filter(|p| p.allowed) {
            let (door, peer) = (&space.doors[portal.door], &space.doors[portal.peer]);
            if !door.open || !peer.open {
                continue;
            }
            let (from_grid, to_grid) = (&self.grids[door.level], &self.grids[peer.level]);
            let to_cells = fmm::cells_at_door(to_grid, space, portal.peer);
            if to_cells.is_empty() {
                continue;
            }
            for (from, _) in fmm::cells_at_door(from_grid, space, portal.door) {
                let c = from_grid.center(from);
                let u = ((c - door.a).dot(door.b - door.a) / (door.b - door.a).length_squared()).clamp(0.0, 1.0);
                // The same place across the opening, seen from the other side.
                let mirrored = peer.b + (peer.a - peer.b) * u;
                let (to, _) = to_cells
                    .iter()
                    .copied()
                    .min_by(|x, y| {
                        to_grid.center(x.0).distance(mirrored).total_cmp(&to_grid.center(y.0).distance(mirrored))
                    })
                    .expect("not empty");
                let cost =
                    distance_to_segment(c, door.a, door.b) + distance_to_segment(to_grid.center(to), peer.a, peer.b);
                links.entry((peer.level, to)).or_default().push(Link {
                    from_level: door.level,
                    from,
                    to_level: peer.level,
                    to,
                    door: portal.door,
                    cost,
                });
            }
        }
        links
    }
}
