//! Navigation: a grid over each level and floor fields (eikonal travel times) to each target.
//! Owns route geometry; agents read a desired direction from the field of their current target.

pub mod fmm;
mod grid;

pub use fmm::FloorField;
pub use grid::NavGrid;

use std::collections::BTreeMap;

use bevy::prelude::Resource;

use crate::space::Space;

/// What a floor field leads to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKey {
    /// The nearest open exit on the level among `doors` (door indices, sorted); `None` means all.
    Exits { level: usize, doors: Option<Vec<usize>> },
    /// A destination area (index into the scene's destinations).
    Destination { level: usize, destination: usize },
}

impl TargetKey {
    pub fn level(&self) -> usize {
        match self {
            TargetKey::Exits { level, .. } | TargetKey::Destination { level, .. } => *level,
        }
    }
}

/// Destination polygons, by index, as navigation needs them.
#[derive(Clone, Debug, Default)]
pub struct DestinationAreas(pub Vec<(usize, Vec<[f64; 2]>)>);

/// Every grid and every field in use; fields are addressed by a stable index.
#[derive(Resource, Clone, Debug)]
pub struct Navigation {
    pub grids: Vec<NavGrid>,
    pub fields: Vec<FloorField>,
    pub keys: BTreeMap<TargetKey, usize>,
    /// Per level, the field to the nearest open exit, when the level has exits.
    pub level_exits: Vec<Option<usize>>,
    targets: Vec<TargetKey>,
    destinations: DestinationAreas,
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
            level_exits: Vec::new(),
            targets: Vec::new(),
            destinations,
        };
        nav.level_exits = (0..space.levels.len())
            .map(|level| space.doors_on(level).any(|(_, d)| d.boundary && d.exit).then(|| nav.fallback(space, level)))
            .collect();
        nav
    }

    /// The index of the field for `key`, computing it on first use.
    pub fn field(&mut self, space: &Space, key: TargetKey) -> usize {
        if let Some(&i) = self.keys.get(&key) {
            return i;
        }
        let field = self.compute(space, &key);
        self.fields.push(field);
        self.targets.push(key.clone());
        self.keys.insert(key, self.fields.len() - 1);
        self.fields.len() - 1
    }

    /// The all-exits field of a level, used when an agent's own target cannot be reached.
    pub fn fallback(&mut self, space: &Space, level: usize) -> usize {
        self.field(space, TargetKey::Exits { level, doors: None })
    }

    /// Rebuilds the grid and every field of a level after its walls changed.
    pub fn rebuild_level(&mut self, space: &Space, level: usize) {
        let cell = self.grids[level].cell;
        self.grids[level] = NavGrid::build(&space.levels[level], cell, &space.blocked_zones(level));
        for i in 0..self.fields.len() {
            if self.targets[i].level() == level {
                self.fields[i] = self.compute(space, &self.targets[i].clone());
            }
        }
    }

    /// Recomputes every field of a level for the crowd now on it (`counts`: agents per cell).
    pub fn follow_crowd(&mut self, space: &Space, level: usize, counts: &[u32]) {
        self.grids[level].apply_crowd(counts);
        for i in 0..self.fields.len() {
            if self.targets[i].level() == level {
                self.fields[i] = self.compute(space, &self.targets[i].clone());
            }
        }
    }

    fn compute(&self, space: &Space, key: &TargetKey) -> FloorField {
        let grid = &self.grids[key.level()];
        match key {
            TargetKey::Exits { level, doors } => {
                let chosen: Vec<usize> = space
                    .doors_on(*level)
                    .filter(|(i, d)| d.is_open_exit() && doors.as_ref().is_none_or(|list| list.contains(i)))
                    .map(|(i, _)| i)
                    .collect();
                FloorField::to_doors(grid, space, *level, &chosen)
            }
            TargetKey::Destination { level, destination } => {
                let polygon = self.destinations.0.iter().find(|(i, _)| i == destination).map(|(_, p)| p.as_slice());
                FloorField::to_area(grid, *level, *destination, polygon.unwrap_or(&[]))
            }
        }
    }
}
