//! Floor fields: travel time to a target over the navigation grid, solved with the fast marching
//! method (first-order upwind eikonal), and the desired walking direction derived from it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use bevy::math::DVec2;

use super::grid::NavGrid;
use crate::space::Space;
use crate::space::geom::{closest_on_segment, distance_to_segment, ring_contains, segments_intersect};

/// `source` value of a cell that is not a target cell.
pub const NOT_SOURCE: u16 = u16::MAX;
/// `source` value of a cell inside a destination area.
pub const IN_DESTINATION: u16 = u16::MAX - 1;

#[derive(Clone, Debug)]
pub struct FloorField {
    pub level: usize,
    /// Travel time in seconds at 1 m/s, infinite where the target cannot be reached.
    pub time: Vec<f32>,
    /// Unit desired direction (zero where unreachable or at the target).
    pub dir: Vec<[f32; 2]>,
    /// For target cells: the door index, or `IN_DESTINATION`.
    pub source: Vec<u16>,
}

impl FloorField {
    /// Field to the nearest of the given (open exit) doors.
    pub fn to_doors(grid: &NavGrid, space: &Space, level: usize, doors: &[usize]) -> Self {
        let n = grid.nx * grid.ny;
        let mut source = vec![NOT_SOURCE; n];
        let mut best = vec![f64::INFINITY; n];
        let mut seeds = Vec::new();
        let walls = &space.levels[level];
        for &d in doors {
            let door = &space.doors[d];
            let reach = 1.5 * grid.cell;
            let along = (door.b - door.a).normalize_or_zero();
            // The door line itself, pulled in from its frame and back into the room, so that the
            // sight line to it touches no wall unless a wall really stands in between.
            let (a, b) = (door.a + along * 0.01 - door.normal * 0.01, door.b - along * 0.01 - door.normal * 0.01);
            let lo = door.a.min(door.b) - DVec2::splat(reach);
            let hi = door.a.max(door.b) + DVec2::splat(reach);
            for_cells_in(grid, lo, hi, |k| {
                let c = grid.center(k);
                let dist = distance_to_segment(c, door.a, door.b);
                if !grid.walkable[k] || dist > reach || (c - door.a).dot(door.normal) > 0.0 {
                    return;
                }
                let q = closest_on_segment(c, a, b);
                let blocked = walls.walls_near((c + q) * 0.5, c.distance(q) * 0.5 + 1e-6).any(|w| {
                    segments_intersect(
                        c,
                        q,
                        DVec2::new(w.geom().from[0], w.geom().from[1]),
                        DVec2::new(w.geom().to[0], w.geom().to[1]),
                    )
                });
                let t = dist * grid.slowness[k] as f64;
                if !blocked && t < best[k] {
                    best[k] = t;
                    source[k] = d as u16;
                    seeds.push((k, t));
                }
            });
        }
        Self::solve(grid, level, seeds, source)
    }

    /// Field to a destination polygon.
    pub fn to_area(grid: &NavGrid, level: usize, _destination: usize, polygon: &[[f64; 2]]) -> Self {
        let mut source = vec![NOT_SOURCE; grid.nx * grid.ny];
        let mut seeds = Vec::new();
        if !polygon.is_empty() {
            let lo = polygon.iter().fold(DVec2::splat(f64::INFINITY), |m, p| m.min(DVec2::new(p[0], p[1])));
            let hi = polygon.iter().fold(DVec2::splat(f64::NEG_INFINITY), |m, p| m.max(DVec2::new(p[0], p[1])));
            for_cells_in(grid, lo, hi, |k| {
                if grid.walkable[k] && ring_contains(polygon, grid.center(k)) {
                    source[k] = IN_DESTINATION;
                    seeds.push((k, 0.0));
                }
            });
        }
        Self::solve(grid, level, seeds, source)
    }

    fn solve(grid: &NavGrid, level: usize, seeds: Vec<(usize, f64)>, source: Vec<u16>) -> Self {
        let n = grid.nx * grid.ny;
        let mut time = vec![f64::INFINITY; n];
        let mut frozen = vec![false; n];
        // Ordered by (time bits, cell): times are non-negative, so bit order is numeric order,
        // and ties break on the cell index, which keeps the result independent of insertion order.
        let mut heap = BinaryHeap::new();
        for (k, t) in seeds {
            if t < time[k] {
                time[k] = t;
                heap.push(Reverse((t.to_bits(), k)));
            }
        }
        while let Some(Reverse((bits, k))) = heap.pop() {
            if frozen[k] || f64::from_bits(bits) > time[k] {
                continue;
            }
            frozen[k] = true;
            for nb in grid.neighbours(k) {
                if frozen[nb] {
                    continue;
                }
                let t = Self::update(grid, &time, &frozen, nb);
                if t < time[nb] {
                    time[nb] = t;
                    heap.push(Reverse((t.to_bits(), nb)));
                }
            }
        }
        let dir = Self::directions(grid, &time);
        FloorField { level, time: time.iter().map(|&t| t as f32).collect(), dir, source }
    }

    /// First-order upwind solution of |∇T| = slowness at cell `k` from its frozen neighbours.
    fn update(grid: &NavGrid, time: &[f64], frozen: &[bool], k: usize) -> f64 {
        let (i, j) = (k % grid.nx, k / grid.nx);
        let mut tx = f64::INFINITY;
        let mut ty = f64::INFINITY;
        for nb in grid.neighbours(k) {
            if !frozen[nb] {
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
                for nb in grid.neighbours(k) {
                    if time[nb].is_finite() {
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
                    (Some(l), None) => time[k] - l,
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
