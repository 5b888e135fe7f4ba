//! The navigation grid of one level: which cells are walkable, which cell edges a wall crosses,
//! and how slow walking is in each cell (blocked zones, and the crowd with density-aware routing).

use bevy::math::DVec2;

use crate::geom::{distance_to_segment, ring_contains, segments_intersect};

/// Even-odd point in polygon, for rings of `DVec2`.
fn polygon_contains(ring: &[DVec2], p: DVec2) -> bool {
    let mut inside = false;
    for (i, &a) in ring.iter().enumerate() {
        let b = ring[(i + ring.len() - 1) % ring.len()];
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}
use geo::MultiPolygon;

use crate::ids::LevelId;
use crate::space::{LevelSpace, LineRelease, Space, WallSegment};

/// A wall crosses the edge to the cell at +x.
pub const BLOCK_X: u8 = 1;
/// A wall crosses the edge to the cell at +y.
pub const BLOCK_Y: u8 = 2;

/// One-way doors: stepping from cell `k` to `k + 1` is against a door's direction.
const AGAINST_XP: u8 = 1;
/// Stepping from `k + 1` to `k` is.
const AGAINST_XN: u8 = 2;
/// Stepping from `k` to `k + nx` is.
const AGAINST_YP: u8 = 4;
/// Stepping from `k + nx` to `k` is.
const AGAINST_YN: u8 = 8;

/// Cost factor inside a blocked zone: routes avoid it, and from inside it the cheapest way is the
/// shortest way out.
const CLOSED_COST: f32 = 1000.0;

#[derive(Clone, Debug)]
pub struct NavGrid {
    pub origin: DVec2,
    pub cell: f64,
    pub nx: usize,
    pub ny: usize,
    pub walkable: Vec<bool>,
    pub blocked: Vec<u8>,
    /// Travel time per metre relative to free walking, crowd included.
    pub slowness: Vec<f32>,
    /// The same for an empty space (walls and blocked zones only).
    pub empty_slowness: Vec<f32>,
    /// Inside a blocked zone.
    pub closed: Vec<bool>,
    /// Walking speed over clear-air speed in smoke, per cell (empty: no smoke on the level).
    pub smoke: Vec<f32>,
    /// Within `near_wall_reach` of a wall; agents elsewhere skip wall queries altogether.
    pub near_wall: Vec<bool>,
    /// Walls further than this (m) from a cell's centre cannot touch or repel an agent in the cell
    /// during one step: the largest radius, the model's wall range and one step's walk.
    pub near_wall_reach: f64,
    /// The grid of those who cross streets outside crossings (the level's open walls and walkable space).
    pub open: bool,
    /// Per cell, the `AGAINST_*` edges out of it that cross a one-way door the wrong way (empty:
    /// no one-way door on the level, every open edge goes both ways).
    pub one_way: Vec<u8>,
    /// On open grids, the street whose carriageway a cell lies on (`NO_STREET` if none; crossings
    /// are not carriageway here).
    pub street: Vec<u32>,
}

/// No street: see [`NavGrid::street`].
pub const NO_STREET: u32 = u32::MAX;

/// The least distance (m) from a wall within which cells count as near it: it covers the largest
/// radius (0.5 m), the default models' wall ranges and one step's walk at up to 2.6 m/s at 0.25 s.
/// Scenes that allow faster walking or longer ranges get a larger reach (see `twin`).
pub const NEAR_WALL: f64 = 1.3;

/// Free speed over Weidmann's speed at density ρ (persons/m²), at most 20.
pub fn crowd_slowness(density: f64) -> f32 {
    if density <= 0.0 {
        return 1.0;
    }
    let relative = 1.0 - libm::exp(-1.913 * (1.0 / density - 1.0 / 5.4));
    if relative <= 0.05 { 20.0 } else { (1.0 / relative).min(20.0) as f32 }
}

impl NavGrid {
    /// The grid's size in cells (columns, rows) for a level: its bounds, two cells wider each side.
    pub fn dimensions(level: &LevelSpace, cell: f64) -> (f64, f64) {
        let size = level.max - level.min + DVec2::splat(4.0 * cell);
        ((size.x / cell).ceil().max(1.0), (size.y / cell).ceil().max(1.0))
    }

    /// The grid of a level as seen by everyone (`open` false), or by those who cross anywhere.
    pub fn build(space: &Space, level_id: LevelId, cell: f64, near_wall_reach: f64, open: Option<f64>) -> Self {
        let level = &space.levels[level_id];
        let mut grid = Self::build_walls(level, cell, &space.blocked_zones(level_id), near_wall_reach, open.is_some());
        grid.fill_smoke(&space.smoky_zones(level_id));
        grid.mark_one_way_doors(space, level_id);
        if let Some(cost) = open {
            grid.mark_carriageways(space, level_id, cost as f32);
        }
        grid.empty_slowness = grid.slowness.clone();
        grid
    }

    /// The cell edges that cross an open one-way door or a one-way hold line, marked against its
    /// direction: walls keep their gap there, so this is all that tells the fields which way it
    /// may be passed.
    fn mark_one_way_doors(&mut self, space: &Space, level_id: LevelId) {
        let doors = space.doors_on(level_id).filter_map(|(_, d)| Some((d.a, d.b, d.one_way.filter(|_| d.open)?)));
        // A one-way line may be crossed only towards its held side.
        let lines =
            space.hold_lines.iter().filter(|h| h.level == level_id && h.release == LineRelease::OneWay).map(|h| {
                let along = (h.b - h.a).normalize_or_zero();
                (h.a, h.b, DVec2::new(-along.y, along.x) * h.held_side)
            });
        let mut segments = doors.chain(lines).peekable();
        if segments.peek().is_none() {
            return;
        }
        self.one_way = vec![0; self.nx * self.ny];
        for (a, b, towards) in segments {
            let (is, js) = self.cells_around(a, b);
            for j in js {
                for i in is.clone() {
                    let k = j * self.nx + i;
                    let c = self.center(k);
                    for (next, forward, backward) in [
                        ((i + 1 < self.nx).then(|| k + 1), AGAINST_XP, AGAINST_XN),
                        ((j + 1 < self.ny).then(|| k + self.nx), AGAINST_YP, AGAINST_YN),
                    ] {
                        let Some(n) = next else { continue };
                        let cn = self.center(n);
                        if !segments_intersect(c, cn, a, b) {
                            continue;
                        }
                        // An edge along the line (neither end beyond it) is left alone.
                        let (sc, sn) = ((c - a).dot(towards), (cn - a).dot(towards));
                        if sc > 0.0 && sn <= 0.0 {
                            self.one_way[k] |= forward;
                        } else if sn > 0.0 && sc <= 0.0 {
                            self.one_way[k] |= backward;
                        }
                    }
                }
            }
        }
    }

    /// Whether an agent in cell `from` may step to its 4-neighbour `to` as far as one-way doors
    /// go (walls are [`NavGrid::neighbours`]'s business).
    #[inline]
    pub fn can_step(&self, from: usize, to: usize) -> bool {
        if self.one_way.is_empty() {
            return true;
        }
        let nx = self.nx;
        if to == from + 1 {
            self.one_way[from] & AGAINST_XP == 0
        } else if to + 1 == from {
            self.one_way[to] & AGAINST_XN == 0
        } else if to == from + nx {
            self.one_way[from] & AGAINST_YP == 0
        } else {
            self.one_way[to] & AGAINST_YN == 0
        }
    }

    /// Carriageway cells of unfenced streets: which street, and the extra cost of walking there.
    fn mark_carriageways(&mut self, space: &Space, level_id: LevelId, cost: f32) {
        self.street = vec![NO_STREET; self.nx * self.ny];
        for (si, street) in space.streets.enumerate() {
            if street.level != level_id || street.fenced {
                continue;
            }
            for quad in &street.carriageway {
                let lo = quad.iter().fold(DVec2::splat(f64::INFINITY), |m, &p| m.min(p));
                let hi = quad.iter().fold(DVec2::splat(f64::NEG_INFINITY), |m, &p| m.max(p));
                let (i0, j0) = self.index_clamped(lo);
                let (i1, j1) = self.index_clamped(hi);
                for j in j0..=j1 {
                    for i in i0..=i1 {
                        let k = j * self.nx + i;
                        let c = self.center(k);
                        let on_crossing = street.crossings.iter().any(|x| polygon_contains(&x.polygon, c));
                        if self.walkable[k] && self.street[k] == NO_STREET && polygon_contains(quad, c) && !on_crossing
                        {
                            self.street[k] = si.index() as u32;
                            self.slowness[k] *= cost;
                        }
                    }
                }
            }
        }
    }

    fn index_clamped(&self, p: DVec2) -> (usize, usize) {
        let q = ((p - self.origin) / self.cell).max(DVec2::ZERO);
        ((q.x as usize).min(self.nx - 1), (q.y as usize).min(self.ny - 1))
    }

    /// The street whose carriageway `p` is on, on an open grid.
    #[inline]
    pub fn street_at(&self, p: DVec2) -> Option<u32> {
        let k = self.cell_at(p)?;
        self.street.get(k).copied().filter(|&s| s != NO_STREET)
    }

    fn build_walls(
        level: &LevelSpace,
        cell: f64,
        blocked_zones: &[&[[f64; 2]]],
        near_wall_reach: f64,
        open: bool,
    ) -> Self {
        let origin = level.min - DVec2::splat(2.0 * cell);
        let (nx, ny) = Self::dimensions(level, cell);
        let (nx, ny) = (nx as usize, ny as usize);
        let mut grid = NavGrid {
            origin,
            cell,
            nx,
            ny,
            walkable: vec![false; nx * ny],
            blocked: vec![0; nx * ny],
            slowness: vec![1.0; nx * ny],
            empty_slowness: Vec::new(),
            closed: vec![false; nx * ny],
            smoke: Vec::new(),
            near_wall: vec![false; nx * ny],
            near_wall_reach: near_wall_reach.max(NEAR_WALL),
            open,
            street: Vec::new(),
            one_way: Vec::new(),
        };
        let (walkable, walls) = match (&level.open, open) {
            (Some(o), true) => (&o.walkable, o.walls.as_slice()),
            _ => (&level.walkable, level.walls.as_slice()),
        };
        grid.rasterize(walkable);
        grid.block_walls(walls);
        grid.mark_near_walls(walls);
        for k in 0..nx * ny {
            if grid.walkable[k] && !blocked_zones.is_empty() {
                let c = grid.center(k);
                if blocked_zones.iter().any(|z| ring_contains(z, c)) {
                    grid.closed[k] = true;
                    grid.slowness[k] *= CLOSED_COST;
                }
            }
        }
        grid
    }

    /// Cells in smoke walk slower by the zone's speed factor (the thickest smoke where zones overlap).
    fn fill_smoke(&mut self, zones: &[(&[[f64; 2]], f64)]) {
        if zones.is_empty() {
            return;
        }
        self.smoke = vec![1.0; self.nx * self.ny];
        for k in 0..self.nx * self.ny {
            if !self.walkable[k] {
                continue;
            }
            let c = self.center(k);
            for &(ring, factor) in zones {
                if ring_contains(ring, c) && (factor as f32) < self.smoke[k] {
                    self.smoke[k] = factor as f32;
                }
            }
            self.slowness[k] /= self.smoke[k];
        }
    }

    /// Walking speed at `p` over clear-air speed: below 1 in smoke.
    #[inline]
    pub fn smoke_factor(&self, p: DVec2) -> f64 {
        if self.smoke.is_empty() {
            return 1.0;
        }
        self.cell_at(p).map_or(1.0, |k| self.smoke[k] as f64)
    }

    /// Makes walking slower where it is crowded: `counts` holds the agents in each cell. Density is
    /// averaged over about 1 m × 1 m and turned into a slowness by Weidmann's v(ρ).
    pub fn apply_crowd(&mut self, counts: &[u32]) {
        let half = (0.5 / self.cell).round().max(1.0) as usize;
        let (nx, ny) = (self.nx, self.ny);
        // Box sums via prefix sums along rows, then along columns.
        let mut rows = vec![0u32; nx * ny];
        for j in 0..ny {
            let mut prefix = vec![0u32; nx + 1];
            for i in 0..nx {
                prefix[i + 1] = prefix[i] + counts[j * nx + i];
            }
            for i in 0..nx {
                rows[j * nx + i] = prefix[(i + half + 1).min(nx)] - prefix[i.saturating_sub(half)];
            }
        }
        let side = (2 * half + 1) as f64 * self.cell;
        let window = side * side;
        for i in 0..nx {
            let mut prefix = vec![0u32; ny + 1];
            for j in 0..ny {
                prefix[j + 1] = prefix[j] + rows[j * nx + i];
            }
            for j in 0..ny {
                let k = j * nx + i;
                let sum = prefix[(j + half + 1).min(ny)] - prefix[j.saturating_sub(half)];
                self.slowness[k] = self.empty_slowness[k] * crowd_slowness(sum as f64 / window);
            }
        }
    }

    /// Whether a wall may be within reach of an agent at `p` (true outside the grid).
    #[inline]
    pub fn near_wall(&self, p: DVec2) -> bool {
        self.cell_at(p).is_none_or(|k| self.near_wall[k])
    }

    fn mark_near_walls(&mut self, walls: &[WallSegment]) {
        let reach = self.near_wall_reach + self.cell * std::f64::consts::FRAC_1_SQRT_2;
        for wall in walls {
            let lo = ((wall.a.min(wall.b) - DVec2::splat(reach) - self.origin) / self.cell).max(DVec2::ZERO);
            let hi = (wall.a.max(wall.b) + DVec2::splat(reach) - self.origin) / self.cell;
            let (i1, j1) = ((hi.x as usize).min(self.nx - 1), (hi.y as usize).min(self.ny - 1));
            for j in lo.y as usize..=j1 {
                for i in lo.x as usize..=i1 {
                    let k = j * self.nx + i;
                    if !self.near_wall[k] && distance_to_segment(self.center(k), wall.a, wall.b) <= reach {
                        self.near_wall[k] = true;
                    }
                }
            }
        }
    }

    /// Whether `p` lies in a blocked zone.
    #[inline]
    pub fn is_closed(&self, p: DVec2) -> bool {
        self.cell_at(p).is_some_and(|k| self.closed[k])
    }

    #[inline]
    pub fn center(&self, k: usize) -> DVec2 {
        let (i, j) = (k % self.nx, k / self.nx);
        self.origin + DVec2::new((i as f64 + 0.5) * self.cell, (j as f64 + 0.5) * self.cell)
    }

    /// The cell containing `p`, if inside the grid.
    #[inline]
    pub fn cell_at(&self, p: DVec2) -> Option<usize> {
        let q = (p - self.origin) / self.cell;
        if q.x < 0.0 || q.y < 0.0 {
            return None;
        }
        let (i, j) = (q.x as usize, q.y as usize);
        (i < self.nx && j < self.ny).then_some(j * self.nx + i)
    }

    /// Walkable 4-neighbours reachable from `k` without crossing a wall.
    #[inline]
    pub fn neighbours(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        let (i, j) = (k % self.nx, k / self.nx);
        let nx = self.nx;
        let cands = [
            (i + 1 < nx && self.blocked[k] & BLOCK_X == 0).then(|| k + 1),
            (i > 0 && self.blocked[k - 1] & BLOCK_X == 0).then(|| k - 1),
            (j + 1 < self.ny && self.blocked[k] & BLOCK_Y == 0).then(|| k + nx),
            (j > 0 && self.blocked[k - nx] & BLOCK_Y == 0).then(|| k - nx),
        ];
        cands.into_iter().flatten().filter(|&n| self.walkable[n])
    }

    /// Marks cells whose centre lies inside the walkable space (scanline, even-odd rule).
    fn rasterize(&mut self, walkable: &MultiPolygon<f64>) {
        let mut crossings: Vec<Vec<f64>> = vec![Vec::new(); self.ny];
        for poly in &walkable.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for line in ring.lines() {
                    let (y0, y1) = (line.start.y, line.end.y);
                    if y0 == y1 {
                        continue;
                    }
                    let rows = |y: f64| (y - self.origin.y) / self.cell - 0.5;
                    let lo = rows(y0.min(y1)).ceil().max(0.0) as usize;
                    let hi = (rows(y0.max(y1)).ceil().max(0.0) as usize).min(self.ny);
                    for (j, row) in crossings.iter_mut().enumerate().take(hi).skip(lo) {
                        let y = self.origin.y + (j as f64 + 0.5) * self.cell;
                        if (y0 > y) != (y1 > y) {
                            row.push(line.start.x + (y - y0) * (line.end.x - line.start.x) / (y1 - y0));
                        }
                    }
                }
            }
        }
        for (j, xs) in crossings.iter_mut().enumerate() {
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let first = ((pair[0] - self.origin.x) / self.cell - 0.5).ceil().max(0.0) as usize;
                let last = ((pair[1] - self.origin.x) / self.cell - 0.5).ceil().max(0.0) as usize;
                for i in first..last.min(self.nx) {
                    self.walkable[j * self.nx + i] = true;
                }
            }
        }
    }

    /// Column and row ranges of the cells whose centre-to-centre links may cross the segment `a`–`b`:
    /// its bounding box widened by a cell and a half, clamped to the grid.
    fn cells_around(&self, a: DVec2, b: DVec2) -> (std::ops::RangeInclusive<usize>, std::ops::RangeInclusive<usize>) {
        let lo = ((a.min(b) - self.origin) / self.cell - DVec2::splat(1.5)).max(DVec2::ZERO);
        let hi = (a.max(b) - self.origin) / self.cell + DVec2::splat(1.5);
        let (i1, j1) = ((hi.x as usize).min(self.nx - 1), (hi.y as usize).min(self.ny - 1));
        (lo.x as usize..=i1, lo.y as usize..=j1)
    }

    /// Marks every cell edge whose centre-to-centre link crosses a wall.
    fn block_walls(&mut self, walls: &[WallSegment]) {
        for wall in walls {
            let (is, js) = self.cells_around(wall.a, wall.b);
            for j in js {
                for i in is.clone() {
                    let k = j * self.nx + i;
                    let c = self.center(k);
                    if i + 1 < self.nx && segments_intersect(c, self.center(k + 1), wall.a, wall.b) {
                        self.blocked[k] |= BLOCK_X;
                    }
                    if j + 1 < self.ny && segments_intersect(c, self.center(k + self.nx), wall.a, wall.b) {
                        self.blocked[k] |= BLOCK_Y;
                    }
                }
            }
        }
    }
}
