//! Placing people in spawn areas: a randomly shifted hexagonal lattice, as dense as needed, clear
//! of walls and of each other; and the seed-independent test of whether a count fits at all.

use bevy::math::DVec2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::geom::{Point, bounds};
use crate::space::LevelSpace;

/// Side of the grid of fixed lattice offsets tried when the random one leaves too few places.
const FIXED_OFFSETS: usize = 4;

fn min_spacing(radius: f64) -> f64 {
    2.0 * radius + 0.01
}

/// Edges of closed rings for a scanline in increasing `y`: each edge as the two corners of
/// [`ring_contains`](crate::geom::ring_contains) (`(xi, yi)` and the corner before it, `(xj, yj)`), sorted by its lower end.
/// Horizontal edges never cross a scanline and are left out.
struct Scanline {
    edges: Vec<[f64; 4]>,
    next: usize,
    active: Vec<[f64; 4]>,
    crossings: Vec<f64>,
}

impl Scanline {
    fn new<'a>(rings: impl Iterator<Item = &'a [Point]>) -> Self {
        let mut edges = Vec::new();
        for ring in rings {
            let n = ring.len();
            let mut j = n.wrapping_sub(1);
            for i in 0..n {
                let (a, b) = (ring[i], ring[j]);
                if a[1] != b[1] {
                    edges.push([a[0], a[1], b[0], b[1]]);
                }
                j = i;
            }
        }
        edges.sort_by(|e, f| e[1].min(e[3]).total_cmp(&f[1].min(f[3])));
        Scanline { edges, next: 0, active: Vec::new(), crossings: Vec::new() }
    }

    /// The half-open intervals `[a, b)` of x where the line at `y` lies inside the rings by the
    /// even-odd rule: exactly the points that [`ring_contains`](crate::geom::ring_contains) accepts. `y` must not decrease
    /// from one call to the next.
    fn intervals(&mut self, y: f64) -> Vec<(f64, f64)> {
        while self.next < self.edges.len() && {
            let e = self.edges[self.next];
            e[1].min(e[3]) <= y
        } {
            self.active.push(self.edges[self.next]);
            self.next += 1;
        }
        self.active.retain(|e| e[1].max(e[3]) > y);
        self.crossings.clear();
        for &[xi, yi, xj, yj] in &self.active {
            if (yi > y) != (yj > y) {
                self.crossings.push((xj - xi) * (y - yi) / (yj - yi) + xi);
            }
        }
        self.crossings.sort_by(f64::total_cmp);
        self.crossings.chunks_exact(2).map(|c| (c[0], c[1])).filter(|c| c.0 < c.1).collect()
    }
}

/// The intersection of two sorted lists of disjoint intervals.
fn intersect(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (lo, hi) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if lo < hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    out
}

/// Lattice points inside `polygon` ∩ walkable space at least `clearance` from every wall, rows
/// `spacing`·√3/2 apart, shifted by `offset`; at most `limit` of them (whole rows are kept).
/// Each row visits only the stretches inside both the polygon and the walkable space, found by a
/// scanline, so the work follows the area that can hold people, not the polygon's bounding box.
fn lattice(
    level: &LevelSpace,
    polygon: &[Point],
    spacing: f64,
    offset: DVec2,
    clearance: f64,
    limit: usize,
) -> Vec<DVec2> {
    let mut candidates = Vec::new();
    if !(spacing > 0.0 && spacing.is_finite() && offset.is_finite()) {
        return candidates;
    }
    let (lo, hi) = bounds(polygon);
    let row = spacing * 3f64.sqrt() / 2.0;
    let mut inside = Scanline::new(std::iter::once(polygon));
    let walkable_rings: Vec<Vec<Point>> = level
        .walkable
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|ring| ring.coords().map(|c| [c.x, c.y]).collect())
        .collect();
    let mut walkable = Scanline::new(walkable_rings.iter().map(|r| r.as_slice()));
    let mut y = lo.y + offset.y;
    let mut r = 0;
    while y <= hi.y && candidates.len() < limit {
        let first = lo.x + offset.x + if r % 2 == 1 { spacing / 2.0 } else { 0.0 } - spacing;
        for (a, b) in intersect(&inside.intervals(y), &walkable.intervals(y)) {
            let from = a.max(lo.x);
            let mut k = ((from - first) / spacing).floor().max(0.0);
            loop {
                let x = first + k * spacing;
                if x >= b || x > hi.x {
                    break;
                }
                let p = DVec2::new(x, y);
                // `contains` last: the scanline already put `p` inside; it only rules out the
                // boundary itself where a door leaves a gap in the walls.
                if x >= from && level.wall_distance(p) >= clearance && level.contains(p) {
                    candidates.push(p);
                }
                k += 1.0;
            }
        }
        y += row;
        r += 1;
    }
    candidates
}

/// The fixed lattice offsets at the densest spacing, in the order they are tried.
fn fixed_offsets(radius: f64) -> impl Iterator<Item = DVec2> {
    let spacing = min_spacing(radius);
    let row = spacing * 3f64.sqrt() / 2.0;
    (0..FIXED_OFFSETS * FIXED_OFFSETS).map(move |k| {
        let (i, j) = (k % FIXED_OFFSETS, k / FIXED_OFFSETS);
        DVec2::new(spacing * i as f64 / FIXED_OFFSETS as f64, row * j as f64 / FIXED_OFFSETS as f64)
    })
}

/// Whether `count` bodies of `radius` fit at the densest packing, whatever the seed: `Err` holds the
/// most that fit. [`place_in_area`] succeeds for every seed exactly when this does.
pub fn fits(level: &LevelSpace, polygon: &[Point], count: usize, radius: f64) -> Result<(), usize> {
    if count == 0 {
        return Ok(());
    }
    let mut most = 0;
    for offset in fixed_offsets(radius) {
        let found = lattice(level, polygon, min_spacing(radius), offset, radius + 0.005, count).len();
        if found >= count {
            return Ok(());
        }
        most = most.max(found);
    }
    Err(most)
}

/// Places `count` bodies of `radius` inside `polygon` ∩ walkable space without overlap and clear
/// of walls: a randomly shifted hexagonal lattice, as dense as needed, with random picks and jitter.
/// At the densest spacing the fixed offsets of [`fits`] are tried too. Errs with the most that fit.
pub fn place_in_area(
    level: &LevelSpace,
    polygon: &[Point],
    count: usize,
    radius: f64,
    area: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<DVec2>, usize> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let (lo, _) = bounds(polygon);
    let min_spacing = min_spacing(radius);
    let mut spacing = (2.0 / (3f64.sqrt() * count as f64 / area.max(1e-9))).sqrt().max(min_spacing);
    let mut fitted = 0;
    loop {
        let jitter = ((spacing - min_spacing) / 2.0).max(0.0);
        let row = spacing * 3f64.sqrt() / 2.0;
        let offset = DVec2::new(rng.random::<f64>() * spacing, rng.random::<f64>() * row);
        let mut candidates = lattice(level, polygon, spacing, offset, radius + jitter + 0.005, usize::MAX);
        if candidates.len() < count && spacing <= min_spacing {
            if let Some(fixed) = fixed_offsets(radius)
                .map(|o| lattice(level, polygon, min_spacing, o, radius + 0.005, usize::MAX))
                .find(|c| c.len() >= count)
            {
                candidates = fixed;
            }
        }
        fitted = fitted.max(candidates.len());
        if candidates.len() >= count {
            for i in 0..count {
                let j = rng.random_range(i..candidates.len());
                candidates.swap(i, j);
            }
            candidates.truncate(count);
            for p in &mut candidates {
                let angle = rng.random::<f64>() * std::f64::consts::TAU;
                let dist = jitter * rng.random::<f64>().sqrt();
                *p += DVec2::new(libm::cos(angle), libm::sin(angle)) * dist;
            }
            // Spawned (and so stored and numbered) along a Z-order curve: agents that are near each
            // other are near in memory, which keeps neighbour queries and field lookups in cache.
            candidates.sort_by_key(|p| z_order(*p - lo));
            return Ok(candidates);
        }
        if spacing <= min_spacing {
            return Err(fitted);
        }
        spacing = (spacing * 0.93).max(min_spacing);
    }
}

/// Position on a Z-order (Morton) curve over 1 m cells.
fn z_order(p: DVec2) -> u64 {
    let spread = |v: f64| {
        let mut x = (v.max(0.0) as u64).min(u32::MAX as u64);
        x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
        x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
        x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        (x | (x << 1)) & 0x5555_5555_5555_5555
    };
    spread(p.x) | (spread(p.y) << 1)
}
