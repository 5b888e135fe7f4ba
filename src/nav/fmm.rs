//! Floor fields: travel time to a target over the navigation grid, solved with the fast marching
//! method (first-order upwind eikonal), and the desired walking direction derived from it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use bevy::math::DVec2;

use super::Link;
use super::grid::NavGrid;
use crate::geom::{bounds, closest_on_segment, distance_to_segment, ring_contains, segments_intersect};
use crate::ids::{DoorId, IdVec, LevelId};
use crate::space::Space;

/// How far into a destination area those arriving walk before they stop there, m [est]: two
/// rows of people, so that the edge stays free for those coming after them (people at an
/// assembly point or in front of a shop walk in among the others, they do not stop on its edge).
pub const SETTLE_DEPTH: f64 = 2.0;

/// What a cell of a floor field is, beyond its travel time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellSource {
    /// An ordinary cell: follow the direction.
    NotTarget,
    /// Inside the destination area the field leads to.
    InDestination,
    /// In front of this opening: an exit of the target, or a stair opening the best route takes.
    Door(DoorId),
}

#[derive(Clone, Debug)]
pub struct FloorField {
    pub level: LevelId,
    /// Travel time in seconds at 1 m/s, infinite where the target cannot be reached.
    pub time: Vec<f32>,
    /// Unit desired direction (zero where unreachable or at the target).
    pub dir: Vec<[f32; 2]>,
    pub source: Vec<CellSource>,
}

/// Where a field starts: target cells with their initial times, and what each target cell is.
pub struct Seeds {
    pub cells: Vec<(LevelId, usize, f64)>,
    pub source: IdVec<LevelId, Vec<CellSource>>,
}

impl Seeds {
    pub fn new(grids: &IdVec<LevelId, NavGrid>) -> Self {
        Seeds { cells: Vec::new(), source: grids.iter().map(|g| vec![CellSource::NotTarget; g.nx * g.ny]).collect() }
    }

    /// The cells in front of an open exit.
    pub fn door(&mut self, grid: &NavGrid, space: &Space, door: DoorId) {
        let level = space.doors[door].level;
        for (k, dist) in cells_at_door(grid, space, door) {
            self.source[level][k] = CellSource::Door(door);
            self.cells.push((level, k, dist * grid.slowness[k] as f64));
        }
    }

    /// The cells inside a destination polygon. The field goes on inside it, up to `SETTLE_DEPTH`
    /// from its edge (or half its greatest depth, if it is narrower), so that those arriving walk
    /// in and leave the edge to those behind them instead of stopping where they first set foot.
    /// A place `passed_by` (nobody stays) is reached at its edge: walking in would only draw
    /// everyone passing it to one spot in its middle, and turn them there, in the thick of the
    /// crowd (a stroll point across a lane of Tianzifang became a jam).
    pub fn area(&mut self, grid: &NavGrid, level: LevelId, polygon: &[[f64; 2]], passed_by: bool) {
        if polygon.is_empty() {
            return;
        }
        let (lo, hi) = bounds(polygon);
        let depth = |c: DVec2| {
            let n = polygon.len();
            (0..n)
                .map(|i| {
                    let (a, b) = (polygon[i], polygon[(i + 1) % n]);
                    distance_to_segment(c, DVec2::new(a[0], a[1]), DVec2::new(b[0], b[1]))
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut inside = Vec::new();
        for_cells_in(grid, lo, hi, |k| {
            if grid.walkable[k] && ring_contains(polygon, grid.center(k)) {
                inside.push((k, depth(grid.center(k))));
            }
        });
        let deepest = inside.iter().map(|c| c.1).fold(0.0, f64::max);
        let settle = if passed_by { 0.0 } else { SETTLE_DEPTH.min(0.5 * deepest) };
        for (k, d) in inside {
            self.source[level][k] = CellSource::InDestination;
            self.cells.push((level, k, (settle - d).max(0.0) * grid.slowness[k] as f64));
        }
    }
}

/// Walkable cells within 1.5 cells of a door, on its inner side, that see the door without a wall
/// in between; with their distance to the door line.
pub fn cells_at_door(grid: &NavGrid, space: &Space, d: DoorId) -> Vec<(usize, f64)> {
    let door = &space.doors[d];
    let walls = space.levels[door.level].walls_for(grid.open);
    let reach = 1.5 * grid.cell;
    let along = (door.b - door.a).normalize_or_zero();
    // The door line itself, pulled in from its frame and back into the room, so that the sight
    // line to it touches no wall unless a wall really stands in between.
    let (a, b) = (door.a + along * 0.01 - door.normal * 0.01, door.b - along * 0.01 - door.normal * 0.01);
    let lo = door.a.min(door.b) - DVec2::splat(reach);
    let hi = door.a.max(door.b) + DVec2::splat(reach);
    let mut cells = Vec::new();
    for_cells_in(grid, lo, hi, |k| {
        let c = grid.center(k);
        let dist = distance_to_segment(c, door.a, door.b);
        if !grid.walkable[k] || dist > reach || (c - door.a).dot(door.normal) > 0.0 {
            return;
        }
        let q = closest_on_segment(c, a, b);
        let blocked = walls.near((c + q) * 0.5, c.distance(q) * 0.5 + 1e-6).any(|w| {
            segments_intersect(
                c,
                q,
                DVec2::new(w.geom().from[0], w.geom().from[1]),
                DVec2::new(w.geom().to[0], w.geom().to[1]),
            )
        });
        if !blocked {
            cells.push((k, dist));
        }
    });
    cells
}

impl FloorField {
    /// Travel times to the seeds over every level at once: fast marching within each level, and
    /// across stair openings along `links` (an opening's cells then lead through it).
    pub fn solve(
        grids: &IdVec<LevelId, NavGrid>,
        links: &BTreeMap<(LevelId, usize), Vec<Link>>,
        seeds: Seeds,
    ) -> IdVec<LevelId, FloorField> {
        let mut time: IdVec<LevelId, Vec<f64>> = grids.iter().map(|g| vec![f64::INFINITY; g.nx * g.ny]).collect();
        let mut frozen: IdVec<LevelId, Vec<bool>> = grids.iter().map(|g| vec![false; g.nx * g.ny]).collect();
        let mut source = seeds.source;
        // The opening through which each cell's best route leaves its level, if it does.
        let mut portal: IdVec<LevelId, Vec<Option<DoorId>>> = grids.iter().map(|g| vec![None; g.nx * g.ny]).collect();
        // Ordered by (time bits, level, cell): times are non-negative, so bit order is numeric
        // order, and ties break on the cell, which keeps the result independent of insertion order.
        let mut heap = BinaryHeap::new();
        for (level, k, t) in seeds.cells {
            if t < time[level][k] {
                time[level][k] = t;
                heap.push(Reverse((t.to_bits(), level, k)));
            }
        }
        while let Some(Reverse((bits, level, k))) = heap.pop() {
            if frozen[level][k] || f64::from_bits(bits) > time[level][k] {
                continue;
            }
            frozen[level][k] = true;
            let grid = &grids[level];
            for nb in grid.neighbours(k) {
                // Travel times run backwards from the target: `nb` learns from `k` only if
                // someone in `nb` may step to `k` (one-way doors).
                if frozen[level][nb] || !grid.can_step(nb, k) {
                    continue;
                }
                let t = Self::update(grid, &time[level], &frozen[level], nb);
                if t < time[level][nb] {
                    time[level][nb] = t;
                    portal[level][nb] = None; // reached more cheaply on this level
                    heap.push(Reverse((t.to_bits(), level, nb)));
                }
            }
            for link in links.get(&(level, k)).into_iter().flatten() {
                let (fl, f) = (link.from_level, link.from);
                let t = time[level][k] + link.cost * grids[fl].slowness[f] as f64;
                if !frozen[fl][f] && t < time[fl][f] {
                    time[fl][f] = t;
                    portal[fl][f] = Some(link.door);
                    heap.push(Reverse((t.to_bits(), fl, f)));
                }
            }
        }
        grids
            .enumerate()
            .map(|(level, grid)| {
                let mut source = std::mem::take(&mut source[level]);
                for (s, p) in source.iter_mut().zip(&portal[level]) {
                    if let (CellSource::NotTarget, Some(door)) = (*s, p) {
                        *s = CellSource::Door(*door);
                    }
                }
                // A cell just outside the walkable space, beside an opening's cells, leads through
                // that opening too: an opening's line can cross a cell anywhere, and a body whose
                // centre has strayed into such a cell must still go out, not back in.
                let nx = grid.nx;
                for k in 0..nx * grid.ny {
                    if grid.walkable[k] || source[k] != CellSource::NotTarget {
                        continue;
                    }
                    let (i, j) = (k % nx, k / nx);
                    let neighbours = [
                        (i + 1 < nx).then(|| k + 1),
                        (i > 0).then(|| k - 1),
                        (j + 1 < grid.ny).then(|| k + nx),
                        (j > 0).then(|| k - nx),
                    ];
                    let door = neighbours
                        .into_iter()
                        .flatten()
                        .filter(|&n| grid.walkable[n] && matches!(source[n], CellSource::Door(_)))
                        .min_by(|&a, &b| time[level][a].total_cmp(&time[level][b]).then(a.cmp(&b)))
                        .map(|n| source[n]);
                    if let Some(door) = door {
                        source[k] = door;
                    }
                }
                FloorField {
                    level,
                    dir: Self::directions(grid, &time[level]),
                    time: time[level].iter().map(|&t| t as f32).collect(),
                    source,
                }
            })
            .collect()
    }

    /// First-order upwind solution of |∇T| = slowness at cell `k` from its frozen neighbours.
    fn update(grid: &NavGrid, time: &[f64], frozen: &[bool], k: usize) -> f64 {
        let (i, j) = (k % grid.nx, k / grid.nx);
        let mut tx = f64::INFINITY;
        let mut ty = f64::INFINITY;
        for nb in grid.neighbours(k) {
            if !frozen[nb] || !grid.can_step(k, nb) {
                continue;
            }
            let (ni, nj) = (nb % grid.nx, nb / grid.nx);
            if nj == j && ni != i {
                tx = tx.min(time[nb]);
            } else {
                ty = ty.min(time[nb]);
            }
        }
        let h = grid.cell * grid.slowness[k] as f64;
        let (a, b) = (tx.min(ty), tx.max(ty));
        if b.is_finite() && b - a < h { (a + b + (2.0 * h * h - (a - b) * (a - b)).sqrt()) / 2.0 } else { a + h }
    }

    fn directions(grid: &NavGrid, time: &[f64]) -> Vec<[f32; 2]> {
        let n = grid.nx * grid.ny;
        let mut dir = vec![[0.0f32; 2]; n];
        let nx = grid.nx;
        for k in 0..n {
            if !grid.walkable[k] || !time[k].is_finite() {
                continue;
            }
            let mut grad = [0.0f64; 2];
            let mut best = (time[k], k);
            for (axis, step) in [(0usize, 1usize), (1, nx)] {
                let (mut lo, mut hi) = (None, None);
                // A neighbour behind a one-way door passed the wrong way: the direction must not
                // lead towards it, or people would press against the door for ever.
                let (mut lo_barred, mut hi_barred) = (false, false);
                for nb in grid.neighbours(k) {
                    if time[nb].is_finite() && !grid.can_step(k, nb) {
                        hi_barred |= nb == k + step;
                        lo_barred |= nb + step == k;
                    } else if time[nb].is_finite() {
                        if nb == k + step {
                            hi = Some(time[nb]);
                        } else if nb + step == k {
                            lo = Some(time[nb]);
                        }
                        if time[nb] < best.0 {
                            best = (time[nb], nb);
                        }
                    }
                }
                grad[axis] = match (lo, hi) {
                    (Some(l), Some(h)) => (h - l) / 2.0,
                    (Some(l), None) if hi_barred => (time[k] - l).max(0.0),
                    (Some(l), None) => time[k] - l,
                    (None, Some(h)) if lo_barred => (h - time[k]).min(0.0),
                    (None, Some(h)) => h - time[k],
                    (None, None) => 0.0,
                };
            }
            let g = DVec2::new(-grad[0], -grad[1]);
            let d = if g.length_squared() > 1e-18 {
                g.normalize()
            } else if best.1 != k {
                (grid.center(best.1) - grid.center(k)).normalize()
            } else {
                DVec2::ZERO
            };
            dir[k] = [d.x as f32, d.y as f32];
        }
        // Cells just outside the walkable space (bodies near walls can have their centre there)
        // point back to their best walkable neighbour.
        for k in 0..n {
            if grid.walkable[k] {
                continue;
            }
            let (i, j) = (k % nx, k / nx);
            let mut best: Option<(f64, usize)> = None;
            let cands = [
                (i + 1 < nx).then(|| k + 1),
                (i > 0).then(|| k - 1),
                (j + 1 < grid.ny).then(|| k + nx),
                (j > 0).then(|| k - nx),
            ];
            for nb in cands.into_iter().flatten() {
                if grid.walkable[nb] && time[nb].is_finite() && best.is_none_or(|b| time[nb] < b.0) {
                    best = Some((time[nb], nb));
                }
            }
            if let Some((_, nb)) = best {
                let d = (grid.center(nb) - grid.center(k)).normalize();
                dir[k] = [d.x as f32, d.y as f32];
            }
        }
        dir
    }

    #[inline]
    pub fn time_at(&self, grid: &NavGrid, p: DVec2) -> f32 {
        grid.cell_at(p).map_or(f32::INFINITY, |k| self.time[k])
    }

    /// Whether any cell of the target can be reached from the cell at `p`.
    pub fn reaches(&self, grid: &NavGrid, p: DVec2) -> bool {
        self.time_at(grid, p).is_finite()
    }
}

fn for_cells_in(grid: &NavGrid, lo: DVec2, hi: DVec2, mut f: impl FnMut(usize)) {
    let a = ((lo - grid.origin) / grid.cell).max(DVec2::ZERO);
    let b = (hi - grid.origin) / grid.cell;
    if b.x < 0.0 || b.y < 0.0 {
        return;
    }
    let (i1, j1) = ((b.x as usize).min(grid.nx - 1), (b.y as usize).min(grid.ny - 1));
    for j in a.y as usize..=j1 {
        for i in a.x as usize..=i1 {
            f(j * grid.nx + i);
        }
    }
}
