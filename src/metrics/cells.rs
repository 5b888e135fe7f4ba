//! Per-cell density maps for the run report: on every floor, each cell's peak local density and how
//! long local density stayed above Fruin's LoS F and IMO's 4 persons/m²; and Fruin's Levels of Service.

use bevy::math::DVec2;

use crate::ids::LevelId;
use crate::space::{LevelKind, Space};

/// Fruin's walkway Levels of Service, best first.
pub const LOS_NAMES: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// Smallest walkway area per person (m²) of LoS A–E (Fruin 1971, walkways); below the last, LoS F.
/// The densities the report prints (0.31, 0.43, 0.72, 1.08, 2.17 persons/m²) are their inverses.
pub const LOS_AREA_PER_PERSON: [f64; 5] = [3.25, 2.32, 1.39, 0.93, 0.46];

/// IMO MSC.1/Circ.1533: above this density (persons/m²) for more than [`CONGESTION_SHARE`] of the
/// time, an area is significantly congested.
pub const CONGESTION_DENSITY: f64 = 4.0;
pub const CONGESTION_SHARE: f64 = 0.10;

/// Cell edge (m) of the density maps, unless a floor is too large for it.
pub const CELL_SIZE: f64 = 1.0;
/// Most cells per floor and over all floors (24 bytes each); larger plans get coarser cells
/// (doubling, the same size on every floor) to bound memory.
pub const MAX_CELLS_PER_FLOOR: usize = 1 << 20;
pub const MAX_CELLS: usize = 4 << 20;

/// The Level of Service (0 = A … 5 = F) of a density in persons/m².
pub fn fruin_los(density: f64) -> usize {
    // Compared as area per person, the way Fruin states the bounds: density · area ≤ 1.
    LOS_AREA_PER_PERSON.iter().position(|&area| density * area <= 1.0).unwrap_or(LOS_AREA_PER_PERSON.len())
}

/// The upper density bound (persons/m²) of LoS A–E.
pub fn los_upper_density(los: usize) -> f64 {
    1.0 / LOS_AREA_PER_PERSON[los]
}

/// One floor's density map, in world coordinates (x east, y north).
#[derive(Clone, Debug)]
pub struct FloorCells {
    pub level: LevelId,
    /// South-west corner of cell (0, 0).
    pub origin: DVec2,
    pub cell: f64,
    pub nx: usize,
    pub ny: usize,
    /// Highest local density (persons/m²) of an agent in the cell, and when (s).
    pub peak: Vec<f32>,
    pub peak_t: Vec<f32>,
    /// Frames in which some agent in the cell stood at LoS F, and above 4 persons/m².
    pub frames_los_f: Vec<u32>,
    pub frames_above_congestion: Vec<u32>,
    /// The last frame counted in the two counts above (frame number + 1; 0 = never), so that
    /// several agents in one cell count a frame once.
    stamp_f: Vec<u32>,
    stamp_congestion: Vec<u32>,
}

/// The density maps of every floor; agents on a stair count on the floor at its foot.
#[derive(Clone, Debug, Default)]
pub struct CellMaps {
    pub floors: Vec<FloorCells>,
    /// For each level of the space, the index of its map in `floors`.
    floor_of: Vec<Option<usize>>,
}

impl CellMaps {
    pub fn new(space: &Space) -> Self {
        let mut maps = CellMaps::default();
        let mut floor_index = vec![None; space.levels.len()];
        let floors: Vec<(LevelId, DVec2, DVec2)> = space
            .levels
            .enumerate()
            .filter(|(_, l)| !l.is_stair())
            .map(|(id, l)| (id, l.min, (l.max - l.min).max(DVec2::ZERO)))
            .collect();
        let dims =
            |size: DVec2, cell: f64| ((size.x / cell).floor() as usize + 1, (size.y / cell).floor() as usize + 1);
        let too_many = |cell: f64| {
            let counts = floors.iter().map(|f| {
                let (nx, ny) = dims(f.2, cell);
                nx.saturating_mul(ny)
            });
            counts.clone().any(|n| n > MAX_CELLS_PER_FLOOR) || counts.fold(0usize, usize::saturating_add) > MAX_CELLS
        };
        let mut cell = CELL_SIZE;
        while too_many(cell) {
            cell *= 2.0;
        }
        for (id, origin, size) in floors {
            let (nx, ny) = dims(size, cell);
            let n = nx * ny;
            floor_index[id.index()] = Some(maps.floors.len());
            maps.floors.push(FloorCells {
                level: id,
                origin,
                cell,
                nx,
                ny,
                peak: vec![0.0; n],
                peak_t: vec![0.0; n],
                frames_los_f: vec![0; n],
                frames_above_congestion: vec![0; n],
                stamp_f: vec![0; n],
                stamp_congestion: vec![0; n],
            });
        }
        maps.floor_of = space
            .levels
            .iter()
            .map(|l| match l.kind {
                LevelKind::Floor => None,
                LevelKind::Stair(s) => Some(space.stairs[s].foot_level),
            })
            .enumerate()
            .map(|(i, foot)| floor_index[foot.map_or(i, |f| f.index())])
            .collect();
        maps
    }

    /// The map an agent on `level` counts in.
    pub fn floor_of(&self, level: LevelId) -> Option<usize> {
        self.floor_of.get(level.index()).copied().flatten()
    }

    /// Adds one agent's local density at world position (x, y) in frame `frame` (0-based) at time `t`.
    pub fn add(&mut self, level: LevelId, x: f64, y: f64, density: f64, frame: u32, t: f64) {
        let Some(floor) = self.floor_of(level) else { return };
        let map = &mut self.floors[floor];
        let q = (DVec2::new(x, y) - map.origin) / map.cell;
        if !(q.x >= 0.0 && q.y >= 0.0) {
            return;
        }
        let (i, j) = (q.x as usize, q.y as usize);
        if i >= map.nx || j >= map.ny {
            return;
        }
        let k = j * map.nx + i;
        if density as f32 > map.peak[k] {
            map.peak[k] = density as f32;
            map.peak_t[k] = t as f32;
        }
        let stamp = frame + 1;
        if fruin_los(density) == 5 && map.stamp_f[k] != stamp {
            map.stamp_f[k] = stamp;
            map.frames_los_f[k] += 1;
        }
        if density > CONGESTION_DENSITY && map.stamp_congestion[k] != stamp {
            map.stamp_congestion[k] = stamp;
            map.frames_above_congestion[k] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn los_bounds_follow_fruin() {
        // Fruin's walkway bounds, as area per person: A ≥ 3.25 m², …, E ≥ 0.46 m², F below.
        assert_eq!(fruin_los(0.0), 0);
        assert_eq!(fruin_los(1.0 / 3.25), 0);
        assert_eq!(fruin_los(0.31), 1);
        assert_eq!(fruin_los(0.43), 1);
        assert_eq!(fruin_los(0.44), 2);
        assert_eq!(fruin_los(0.71), 2);
        // 1/1.39 = 0.7194 persons/m²: the bound printed as 0.72 is rounded.
        assert_eq!(fruin_los(0.72), 3);
        assert_eq!(fruin_los(1.07), 3);
        // 1/0.93 = 1.0753.
        assert_eq!(fruin_los(1.08), 4);
        assert_eq!(fruin_los(2.17), 4);
        assert_eq!(fruin_los(2.18), 5);
        assert_eq!(fruin_los(7.0), 5);
    }
}
