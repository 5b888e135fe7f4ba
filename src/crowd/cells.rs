//! The agents' cell list: one uniform grid per level, rebuilt every step by a counting sort into
//! flat arrays, that answers which agents stand in a box (walls and static geometry keep R-trees).

use bevy::math::DVec2;

/// Side of a cell, m. Steering looks 2 m around each agent and 3 m along the lane ahead
/// (`CrowdSnapshot::neighbours_ahead`), the move about 0.7 m: a query's box then spans a handful
/// of cells per axis, and since the cells of a row are stored one after the other it reads one
/// contiguous run per row.
pub const CELL: f64 = 1.0;
/// Cells per level are capped at this many per agent on the level (but at least `MIN_CELLS`), so
/// that a huge, nearly empty level costs no more to rebuild than its agents; its cells grow instead.
const CELLS_PER_AGENT: usize = 2;
const MIN_CELLS: usize = 256;
/// And at most this many on one level, whatever the crowd (4 MB of offsets).
const MAX_CELLS: usize = 1 << 20;
/// No cell.
const NONE: u32 = u32::MAX;

/// One level's grid: cell `(i, j)` is number `first + j * nx + i` of the list's cells. Positions
/// outside the grid fall into its border cells, so every finite position has a cell.
#[derive(Clone, Copy, Debug)]
struct LevelGrid {
    origin: DVec2,
    /// One over the cell's side.
    inv: f64,
    nx: usize,
    ny: usize,
    first: usize,
}

impl LevelGrid {
    /// The cell column or row of coordinate `x` along an axis starting at `origin` with `n` cells;
    /// monotone in `x`, clamped to the grid (`as` saturates: NaN and below zero give 0, beyond give
    /// the last).
    #[inline]
    fn axis(x: f64, origin: f64, inv: f64, n: usize) -> usize {
        (((x - origin) * inv) as usize).min(n - 1)
    }

    #[inline]
    fn cell(&self, p: DVec2) -> usize {
        let i = Self::axis(p.x, self.origin.x, self.inv, self.nx);
        let j = Self::axis(p.y, self.origin.y, self.inv, self.ny);
        self.first + j * self.nx + i
    }
}

/// All agents by level and cell. The arrays are rebuilt in place every step and only grow, so a
/// warm list allocates nothing.
#[derive(Default)]
pub struct CellList {
    levels: Vec<LevelGrid>,
    /// Where each cell's agents start in `indices` (cells of all levels, level by level), and the
    /// total at the end; the agents of a cell run up to the start of the next.
    starts: Vec<u32>,
    /// Snapshot indices of the agents, cell by cell, in snapshot order within a cell.
    indices: Vec<u32>,
    /// Their positions and ids, in the same order, so that a query reads memory in sequence.
    points: Vec<DVec2>,
    ids: Vec<u32>,
    /// Scratch: each agent's cell (`NONE` for a position that is not finite or an unknown level).
    cell_of: Vec<u32>,
    /// Scratch: agents per level.
    per_level: Vec<usize>,
}

impl CellList {
    /// Rebuilds the list for `n` agents; `agent(k)` gives agent `k`'s level index, position and
    /// id. `bounds` gives each level's extent (lowest and highest corner): cells cover it, and
    /// agents beyond it are kept in its border cells. Agents whose position is not finite are left
    /// out (they are within no distance of anyone).
    pub fn rebuild(
        &mut self,
        bounds: impl ExactSizeIterator<Item = (DVec2, DVec2)>,
        n: usize,
        agent: impl Fn(usize) -> (usize, DVec2, u32),
    ) {
        let levels = bounds.len();
        self.per_level.clear();
        self.per_level.resize(levels, 0);
        for k in 0..n {
            let (level, pos, _) = agent(k);
            if level < levels && pos.is_finite() {
                self.per_level[level] += 1;
            }
        }
        self.levels.clear();
        let mut total = 0usize;
        for ((lo, hi), &count) in bounds.zip(&self.per_level) {
            let (origin, size) = if lo.is_finite() && hi.is_finite() && hi.x >= lo.x && hi.y >= lo.y {
                (lo, hi - lo)
            } else {
                (DVec2::ZERO, DVec2::ZERO)
            };
            let cap = (count.saturating_mul(CELLS_PER_AGENT)).clamp(MIN_CELLS, MAX_CELLS) as f64;
            let cells = |side: f64| ((size.x / side).ceil().max(1.0), (size.y / side).ceil().max(1.0));
            let mut side = CELL;
            let (mut nx, mut ny) = cells(side);
            if nx * ny > cap {
                side = (size.x * size.y / cap).sqrt().max(side);
                (nx, ny) = cells(side);
                while nx * ny > cap {
                    side *= 1.25;
                    (nx, ny) = cells(side);
                }
            }
            let (nx, ny) = (nx as usize, ny as usize);
            self.levels.push(LevelGrid { origin, inv: 1.0 / side, nx, ny, first: total });
            total += nx * ny;
        }
        self.starts.clear();
        self.starts.resize(total + 1, 0);
        self.cell_of.clear();
        for k in 0..n {
            let (level, pos, _) = agent(k);
            let cell = match self.levels.get(level) {
                Some(grid) if pos.is_finite() => grid.cell(pos),
                _ => {
                    self.cell_of.push(NONE);
                    continue;
                }
            };
            self.cell_of.push(cell as u32);
            self.starts[cell] += 1;
        }
        // Counting sort: each cell's count becomes its end, then agents are placed from the back,
        // so that each cell keeps them in snapshot order and its entry ends at its start.
        let mut sum = 0u32;
        for s in &mut self.starts[..total] {
            sum += *s;
            *s = sum;
        }
        self.starts[total] = sum;
        let placed = sum as usize;
        self.indices.clear();
        self.indices.resize(placed, 0);
        self.points.clear();
        self.points.resize(placed, DVec2::ZERO);
        self.ids.clear();
        self.ids.resize(placed, 0);
        for k in (0..n).rev() {
            let cell = self.cell_of[k];
            if cell == NONE {
                continue;
            }
            let start = &mut self.starts[cell as usize];
            *start -= 1;
            let at = *start as usize;
            let (_, pos, id) = agent(k);
            self.indices[at] = k as u32;
            self.points[at] = pos;
            self.ids[at] = id;
        }
    }

    /// Calls `visit(indices, positions, ids)` for runs of agents on `level` that together hold
    /// every agent within the box `p ± half` (and others near it). Nothing for a position that is
    /// not finite or a half-width that is NaN, as no distance to it can be within reach.
    #[inline]
    pub fn for_each_run(&self, level: usize, p: DVec2, half: f64, visit: impl FnMut(&[u32], &[DVec2], &[u32])) {
        if !p.is_finite() || half.is_nan() {
            return;
        }
        self.for_each_run_in(level, p - DVec2::splat(half), p + DVec2::splat(half), visit);
    }

    /// Like `for_each_run`, for the box from `lo` to `hi` (infinite corners reach the grid's border).
    /// Nothing if a corner is NaN.
    #[inline]
    pub fn for_each_run_in(&self, level: usize, lo: DVec2, hi: DVec2, mut visit: impl FnMut(&[u32], &[DVec2], &[u32])) {
        let Some(grid) = self.levels.get(level) else { return };
        if lo.is_nan() || hi.is_nan() {
            return;
        }
        let i0 = LevelGrid::axis(lo.x, grid.origin.x, grid.inv, grid.nx);
        let i1 = LevelGrid::axis(hi.x, grid.origin.x, grid.inv, grid.nx);
        let j0 = LevelGrid::axis(lo.y, grid.origin.y, grid.inv, grid.ny);
        let j1 = LevelGrid::axis(hi.y, grid.origin.y, grid.inv, grid.ny);
        for j in j0..=j1 {
            let row = grid.first + j * grid.nx;
            let (a, b) = (self.starts[row + i0] as usize, self.starts[row + i1 + 1] as usize);
            if a < b {
                visit(&self.indices[a..b], &self.points[a..b], &self.ids[a..b]);
            }
        }
    }

    /// Snapshot indices of the agents on `level` within `reach` of `p` (exact f64 distance,
    /// `|q − p|² ≤ reach²`), in cell order.
    pub fn within(&self, level: usize, p: DVec2, reach: f64, mut visit: impl FnMut(u32)) {
        let reach2 = reach * reach;
        self.for_each_run(level, p, reach + MARGIN, |indices, points, _| {
            for (k, q) in points.iter().enumerate() {
                if q.distance_squared(p) <= reach2 {
                    visit(indices[k]);
                }
            }
        });
    }
}

/// The box of a query is widened by a millimetre, so that rounding in the distance never leaves
/// out someone the exact test takes in.
pub const MARGIN: f64 = 1e-3;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn brute(agents: &[(usize, DVec2, u32)], level: usize, p: DVec2, reach: f64) -> Vec<u32> {
        let mut out: Vec<u32> = (0..agents.len() as u32)
            .filter(|&k| {
                let (l, q, _) = agents[k as usize];
                l == level && q.distance_squared(p) <= reach * reach
            })
            .collect();
        out.sort_unstable_by_key(|&k| agents[k as usize].2);
        out
    }

    fn query(list: &CellList, level: usize, p: DVec2, reach: f64) -> Vec<u32> {
        let mut keys = Vec::new();
        list.for_each_run(level, p, reach + MARGIN, |indices, points, ids| {
            for k in 0..points.len() {
                if points[k].distance_squared(p) <= reach * reach {
                    keys.push(((ids[k] as u64) << 32) | indices[k] as u64);
                }
            }
        });
        keys.sort_unstable();
        let out: Vec<u32> = keys.iter().map(|&k| k as u32).collect();
        let mut plain = Vec::new();
        list.within(level, p, reach, |k| plain.push(k));
        plain.sort_unstable_by_key(|&k| keys.iter().position(|&key| key as u32 == k));
        assert_eq!(plain, out);
        out
    }

    /// Levels of very different extents (a 2 m landing, a hall, a 5 km street, a level with no
    /// extent), agents far outside them, on cell borders and at NaN or infinity, against a scan.
    #[test]
    fn cell_list_matches_brute_force() {
        let bounds = [
            (DVec2::new(0.0, 0.0), DVec2::new(2.0, 2.0)),
            (DVec2::new(-20.0, 10.0), DVec2::new(40.0, 50.0)),
            (DVec2::new(-2500.0, 0.0), DVec2::new(2500.0, 12.0)),
            (DVec2::new(f64::NAN, 0.0), DVec2::new(1.0, 1.0)),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut list = CellList::default();
        for round in 0..6 {
            let n = [0, 1, 50, 400, 3000, 800][round];
            let mut agents: Vec<(usize, DVec2, u32)> = Vec::with_capacity(n + 8);
            for k in 0..n {
                let level = rng.random_range(0..bounds.len());
                let (lo, hi) = bounds[level];
                let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (DVec2::ZERO, DVec2::ONE) };
                let size = hi - lo;
                let pos = match rng.random_range(0..10) {
                    // Beyond the extent, near and very far.
                    0 => lo - DVec2::new(rng.random::<f64>() * 5.0, rng.random::<f64>() * 5.0),
                    1 => hi + DVec2::new(rng.random::<f64>() * 1e6, rng.random::<f64>() * 3.0),
                    // On cell borders.
                    2 => lo + DVec2::new(rng.random_range(0..=40) as f64 * 0.5, rng.random_range(0..=20) as f64),
                    _ => lo + DVec2::new(rng.random::<f64>() * size.x, rng.random::<f64>() * size.y),
                };
                // Ids in another order than the indices.
                agents.push((level, pos, (k as u32).wrapping_mul(2_654_435_761) >> 8));
            }
            if round > 0 {
                let id = 1 << 30;
                agents.push((1, DVec2::new(f64::NAN, 20.0), id));
                agents.push((1, DVec2::new(f64::INFINITY, 20.0), id + 1));
                agents.push((2, DVec2::new(-1e300, 5.0), id + 2));
                agents.push((7, DVec2::new(1.0, 1.0), id + 3));
            }
            list.rebuild(bounds.iter().copied(), agents.len(), |k| agents[k]);
            for _ in 0..400 {
                let level = rng.random_range(0..bounds.len() + 1);
                let centre = match rng.random_range(0..4) {
                    0 if !agents.is_empty() => agents[rng.random_range(0..agents.len())].1,
                    1 => DVec2::new(rng.random_range(-30..=45) as f64 * 0.5, rng.random_range(0..=110) as f64 * 0.5),
                    2 => DVec2::new(rng.random::<f64>() * 8000.0 - 4000.0, rng.random::<f64>() * 100.0 - 50.0),
                    _ => DVec2::new(rng.random::<f64>() * 80.0 - 30.0, rng.random::<f64>() * 60.0),
                };
                let reach = [0.0, 0.5, 1.0, 3.0, 3.7, 25.0][rng.random_range(0..6)];
                assert_eq!(query(&list, level, centre, reach), brute(&agents, level, centre, reach));
            }
            for p in [DVec2::new(f64::NAN, 1.0), DVec2::new(f64::INFINITY, 0.0), DVec2::new(-1e300, 5.0)] {
                for level in 0..bounds.len() {
                    assert_eq!(query(&list, level, p, 3.0), brute(&agents, level, p, 3.0));
                }
            }
            // Everyone on a level, even far away.
            for level in 0..bounds.len() {
                assert_eq!(query(&list, level, DVec2::ZERO, 1e9), brute(&agents, level, DVec2::ZERO, 1e9));
            }
        }
    }
}
