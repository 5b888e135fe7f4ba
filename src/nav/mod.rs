//! Navigation: a grid over each level (stair corridors included) and floor fields: travel times
//! to each target across all levels, joined through the stairs' openings.

pub mod fmm;
mod grid;

pub use fmm::FloorField;
pub use grid::NavGrid;

use std::collections::BTreeMap;

use bevy::prelude::Resource;

use crate::space::Space;
use crate::space::geom::distance_to_segment;

/// What a floor field leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKey {
    /// The nearest open exit among `doors` (door indices, sorted), on any level; `None` means all.
    Exits { doors: Option<Vec<usize>> },
    /// A destination area (index into the scene's destinations).
    Destination { destination: usize },
}

/// Destination polygons by index, with their level, as navigation needs them.
#[derive(Clone, Debug, Default)]
pub struct DestinationAreas(pub Vec<(usize, usize, Vec<[f64; 2]>)>);

/// A way across a stair opening: an agent in cell `from` of level `from_level` can step to cell
/// `to` of level `to_level` through door `door`, at a cost in metres of free walking.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub from_level: usize,
    pub from: usize,
    pub to_level: usize,
    pub to: usize,
    pub door: usize,
    pub cost: f64,
}

/// Every grid and every field in use. Fields are addressed by target index, then level.
#[derive(Resource, Clone, Debug)]
pub struct Navigation {
    pub grids: Vec<NavGrid>,
    fields: Vec<Vec<FloorField>>,
    pub keys: BTreeMap<TargetKey, usize>,
    targets: Vec<TargetKey>,
    /// The target "nearest open exit anywhere", used when an agent's own target cannot be reached.
    pub any_exit: Option<usize>,
    destinations: DestinationAreas,
    /// Links into each cell that agents can enter through an opening, by (level, cell).
    links_into: BTreeMap<(usize, usize), Vec<Link>>,
}

impl Navigation {
    pub fn new(space: &Space, cell: f64, destinations: DestinationAreas) -> Self {
        let grids = (0..space.levels.len())
            .map(|li| NavGrid::build(&space.levels[li], cell, &space.blocked_zones(li)))
            .collect();
        let mut nav = Navigation {
            grids,
            fields: Vec::new(),
            keys: BTreeMap::new(),
            targets: Vec::new(),
            any_exit: None,
            destinations,
            links_into: BTreeMap::new(),
        };
        nav.links_into = nav.portal_links(space);
        if space.doors.iter().any(|d| d.boundary && d.exit) {
            nav.any_exit = Some(nav.target(space, TargetKey::Exits { doors: None }));
        }
        nav
    }

    /// The field of `target` on `level`.
    #[inline]
    pub fn field(&self, target: u32, level: usize) -> &FloorField {
        &self.fields[target as usize][level]
    }

    /// The index of the target `key`, computing its fields on first use.
    pub fn target(&mut self, space: &Space, key: TargetKey) -> usize {
        if let Some(&i) = self.keys.get(&key) {
            return i;
        }
        let fields = self.compute(space, &key);
        self.fields.push(fields);
        self.targets.push(key.clone());
        self.keys.insert(key, self.fields.len() - 1);
        self.fields.len() - 1
    }

    /// Rebuilds a level's grid after its walls or zones changed, and every field.
    pub fn rebuild_level(&mut self, space: &Space, level: usize) {
        let cell = self.grids[level].cell;
        self.grids[level] = NavGrid::build(&space.levels[level], cell, &space.blocked_zones(level));
        self.links_into = self.portal_links(space);
        self.recompute_all(space);
    }

    /// Recomputes every field for the crowd now present (`counts[level][cell]`: agents per cell).
    pub fn follow_crowd(&mut self, space: &Space, counts: &[Vec<u32>]) {
        for (grid, counts) in self.grids.iter_mut().zip(counts) {
            grid.apply_crowd(counts);
        }
        self.recompute_all(space);
    }

    fn recompute_all(&mut self, space: &Space) {
        for i in 0..self.targets.len() {
            self.fields[i] = self.compute(space, &self.targets[i].clone());
        }
    }

    fn compute(&self, space: &Space, key: &TargetKey) -> Vec<FloorField> {
        let mut seeds = fmm::Seeds::new(&self.grids);
        match key {
            TargetKey::Exits { doors } => {
                for (i, door) in space.doors.iter().enumerate() {
                    if door.is_open_exit() && doors.as_ref().is_none_or(|list| list.contains(&i)) {
                        seeds.door(&self.grids[door.level], space, i);
                    }
                }
            }
            TargetKey::Destination { destination } => {
                if let Some((_, level, polygon)) = self.destinations.0.iter().find(|(i, ..)| i == destination) {
                    seeds.area(&self.grids[*level], *level, polygon);
                }
            }
        }
        FloorField::solve(&self.grids, &self.links_into, seeds)
    }

    /// Links through every stair opening that the stair's direction allows.
    fn portal_links(&self, space: &Space) -> BTreeMap<(usize, usize), Vec<Link>> {
        let mut links: BTreeMap<(usize, usize), Vec<Link>> = BTreeMap::new();
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
