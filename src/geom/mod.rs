//! Plane geometry shared by every layer: exact vector helpers, rings and polygons, and a
//! self-intersection test that stays O(n log n) for outlines of any size. Local metres, f64.

use bevy::math::DVec2;
use geo::{BooleanOps, Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Line};
use rstar::{AABB, RTree};

/// A point in local metres: `[x, y]`, x east, y north.
pub type Point = [f64; 2];

/// The corners of a polygon's bounding box, lowest and highest.
pub fn bounds(polygon: &[Point]) -> (DVec2, DVec2) {
    let lo = polygon.iter().fold(DVec2::splat(f64::INFINITY), |m, p| m.min(DVec2::new(p[0], p[1])));
    let hi = polygon.iter().fold(DVec2::splat(f64::NEG_INFINITY), |m, p| m.max(DVec2::new(p[0], p[1])));
    (lo, hi)
}

/// e^x within 1e-9 relative error, from IEEE arithmetic alone (no platform maths and no fused
/// multiply-add, so the same bits on every machine). The crowd's repulsions call it for every
/// neighbour in every step; `libm::exp`, exact to the last bit, took a quarter of the step.
/// Below e^-700 it gives 0, above e^700 it stops growing; NaN stays NaN.
#[inline]
pub fn exp(x: f64) -> f64 {
    // Cody and Waite's reduction: x = k ln 2 + r with |r| ≤ ln 2 / 2, ln 2 split so that k ln2_hi
    // is exact (fdlibm's constants), then e^r by its Taylor series to r⁸ (error below r⁹/9! ≈ 2e-10).
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    // Adding and removing 1.5 · 2⁵² rounds to the nearest integer in IEEE double arithmetic.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    if x < -700.0 {
        return 0.0;
    }
    let x = if x > 700.0 { 700.0 } else { x };
    let k = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let r2 = r * r;
    let r4 = r2 * r2;
    let p = (1.0 + r)
        + r2 * (1.0 / 2.0 + r * (1.0 / 6.0))
        + r4 * ((1.0 / 24.0 + r * (1.0 / 120.0)) + r2 * (1.0 / 720.0 + r * (1.0 / 5040.0)))
        + r4 * r4 * (1.0 / 40320.0);
    // 2^k from its exponent bits (k is within ±1010 here; NaN casts to 0 and p carries it).
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// Closest point to `p` on the segment `a`–`b`.
#[inline]
pub fn closest_on_segment(p: DVec2, a: DVec2, b: DVec2) -> DVec2 {
    let ab = b - a;
    let len2 = ab.length_squared();
    if len2 <= f64::EPSILON {
        return a;
    }
    let t = ((p - a).dot(ab) / len2).clamp(0.0, 1.0);
    a + ab * t
}

#[inline]
pub fn distance_to_segment(p: DVec2, a: DVec2, b: DVec2) -> f64 {
    p.distance(closest_on_segment(p, a, b))
}

#[inline]
fn cross(a: DVec2, b: DVec2) -> f64 {
    a.x * b.y - a.y * b.x
}

/// Whether the segments `p1`–`p2` and `q1`–`q2` intersect (touching counts).
pub fn segments_intersect(p1: DVec2, p2: DVec2, q1: DVec2, q2: DVec2) -> bool {
    let d1 = cross(q2 - q1, p1 - q1);
    let d2 = cross(q2 - q1, p2 - q1);
    let d3 = cross(p2 - p1, q1 - p1);
    let d4 = cross(p2 - p1, q2 - p1);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |a: DVec2, b: DVec2, p: DVec2, d: f64| {
        d == 0.0 && p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
    };
    on(q1, q2, p1, d1) || on(q1, q2, p2, d2) || on(p1, p2, q1, d3) || on(p1, p2, q2, d4)
}

/// Even-odd point-in-polygon test for one ring (closing edge implied).
pub fn ring_contains(ring: &[[f64; 2]], p: DVec2) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (xi, yi) = (ring[i][0], ring[i][1]);
        let (xj, yj) = (ring[j][0], ring[j][1]);
        if (yi > p.y) != (yj > p.y) && p.x < (xj - xi) * (p.y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Signed area of a ring (positive when counter-clockwise).
pub fn ring_signed_area(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

#[inline]
pub fn v(p: [f64; 2]) -> DVec2 {
    DVec2::new(p[0], p[1])
}

/// A geo polygon from an outline and holes (rings close by themselves).
pub fn polygon(outer: &[Point], holes: &[Vec<Point>]) -> Polygon<f64> {
    let ring = |pts: &[Point]| LineString::from(pts.iter().map(|p| Coord { x: p[0], y: p[1] }).collect::<Vec<_>>());
    Polygon::new(ring(outer), holes.iter().map(|h| ring(h)).collect())
}

/// The union of many polygons, merged pairwise in a balanced tree. geo's `unary_union` (geo 0.33,
/// i_overlay 4.5) never returns on some sets of touching polygons that this unions in milliseconds.
pub fn union_all<'a>(polygons: impl IntoIterator<Item = &'a Polygon<f64>>) -> MultiPolygon<f64> {
    let mut layer: Vec<MultiPolygon<f64>> = polygons.into_iter().map(|p| MultiPolygon::new(vec![p.clone()])).collect();
    if layer.is_empty() {
        return MultiPolygon::new(Vec::new());
    }
    while layer.len() > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        let mut pairs = layer.into_iter();
        while let Some(a) = pairs.next() {
            next.push(match pairs.next() {
                Some(b) => a.union(&b),
                None => a,
            });
        }
        layer = next;
    }
    let single = layer.pop().expect("one left");
    // A lone polygon is normalised like a union would be.
    clean(&single.union(&MultiPolygon::new(Vec::new())))
}

/// Coordinates are kept to the micrometre: boolean operations leave noise of about 1e-7 m (and
/// now and then a sliver edge that short), which would otherwise reach walls and floor fields.
pub const SNAP: f64 = 1e-6;

fn snap(x: f64) -> f64 {
    // `+ 0.0` turns -0.0 into 0.0.
    libm::round(x / SNAP) * SNAP + 0.0
}

/// A polygon set with coordinates snapped to [`SNAP`], repeated corners and spikes (a corner whose
/// two neighbours coincide) removed, and rings left with fewer than three corners dropped.
pub fn clean(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let ring = |r: &LineString<f64>| -> Option<LineString<f64>> {
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(r.0.len());
        for c in &r.0 {
            let c = Coord { x: snap(c.x), y: snap(c.y) };
            if pts.last() != Some(&c) {
                pts.push(c);
            }
        }
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        // Remove spikes until none is left: a → b → a.
        let mut changed = true;
        while changed && pts.len() >= 3 {
            changed = false;
            let n = pts.len();
            for i in 0..n {
                if pts[(i + n - 1) % n] == pts[(i + 1) % n] {
                    pts.remove(i);
                    let j = i % pts.len();
                    pts.remove(j);
                    changed = true;
                    break;
                }
            }
        }
        (pts.len() >= 3).then(|| {
            pts.push(pts[0]);
            LineString::from(pts)
        })
    };
    MultiPolygon::new(
        mp.0.iter()
            .filter_map(|p| Some(Polygon::new(ring(p.exterior())?, p.interiors().iter().filter_map(ring).collect())))
            .collect(),
    )
}

/// The ring's corners without repeats: consecutive duplicates and a closing copy of the first removed.
pub fn distinct_corners(ring: &[Point]) -> Vec<Point> {
    let mut distinct: Vec<Point> = Vec::with_capacity(ring.len());
    for p in ring {
        if distinct.last() != Some(p) {
            distinct.push(*p);
        }
    }
    if distinct.len() > 1 && distinct.first() == distinct.last() {
        distinct.pop();
    }
    distinct
}

/// The first pair of non-adjacent edges `(i, j)`, `i < j`, of a closed ring that intersect (edge `i`
/// runs from corner `i` to corner `i + 1`). Edges are found through an R-tree of their boxes, so a
/// ring of 100,000 corners is checked in well under a second; the pair reported is the one with the
/// smallest `i`, then `j`, whatever the tree's layout.
pub fn first_self_intersection(ring: &[Point]) -> Option<(usize, usize)> {
    let n = ring.len();
    if n < 4 {
        return None;
    }
    let edge = |i: usize| (v(ring[i]), v(ring[(i + 1) % n]));
    let tree: RTree<GeomWithData<Line<[f64; 2]>, usize>> = RTree::bulk_load(
        (0..n)
            .map(|i| {
                let (a, b) = edge(i);
                GeomWithData::new(Line::new([a.x, a.y], [b.x, b.y]), i)
            })
            .collect(),
    );
    let mut best: Option<(usize, usize)> = None;
    for i in 0..n {
        if best.is_some_and(|(bi, _)| bi < i) {
            break;
        }
        let (a, b) = edge(i);
        let envelope = AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let j = other.data;
            if j < i + 2 || (i == 0 && j == n - 1) {
                continue;
            }
            let (c, d) = edge(j);
            if segments_intersect(a, b, c, d) && best.is_none_or(|(bi, bj)| (i, j) < (bi, bj)) {
                best = Some((i, j));
            }
        }
    }
    best
}

/// How the rings of a polygon (each already simple) sit wrongly together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingsProblem {
    /// Two rings cross or share a stretch of edge (ring 0 is the outline, ring k the k-th hole).
    Cross(usize, usize),
    /// Hole `k` (from 1) lies outside the outline.
    HoleOutside(usize),
    /// Hole `k` lies inside hole `m`.
    HoleInHole(usize, usize),
}

type EdgeTree = RTree<GeomWithData<Line<[f64; 2]>, (usize, usize)>>;

/// Whether two segments cross properly or overlap along a stretch (touching at a point does not count).
fn rings_clash(a: DVec2, b: DVec2, c: DVec2, d: DVec2) -> bool {
    let (d1, d2) = (cross(d - c, a - c), cross(d - c, b - c));
    let (d3, d4) = (cross(b - a, c - a), cross(b - a, d - a));
    if d1 * d2 < 0.0 && d3 * d4 < 0.0 {
        return true;
    }
    let len = a.distance(b);
    if len <= 0.0 || d1.abs() > 1e-12 * len || d2.abs() > 1e-12 * len {
        return false;
    }
    let dir = (b - a) / len;
    let (s0, s1) = ((c - a).dot(dir), (d - a).dot(dir));
    s0.max(s1).min(len) - s0.min(s1).max(0.0) > 1e-9
}

/// A corner of `ring` that does not lie on an edge of ring `other` (all of them might, in theory).
fn corner_off(ring: &[Point], other: usize, tree: &EdgeTree) -> DVec2 {
    let on = |p: DVec2| {
        tree.locate_within_distance([p.x, p.y], 1e-18)
            .any(|e| e.data.0 == other && distance_to_segment(p, v(e.geom().from), v(e.geom().to)) < 1e-9)
    };
    ring.iter().map(|p| v(*p)).find(|&p| !on(p)).unwrap_or(v(ring[0]))
}

/// Checks that holes lie inside the outline, apart from each other, with no two rings crossing or
/// sharing an edge (as in OGC's simple features, rings may touch at single points). Edges are
/// matched through an R-tree, so the cost grows as n log n.
pub fn rings_problem(outer: &[Point], holes: &[Vec<Point>]) -> Option<RingsProblem> {
    if holes.is_empty() {
        return None;
    }
    let rings: Vec<&[Point]> = std::iter::once(outer).chain(holes.iter().map(|h| h.as_slice())).collect();
    let mut edges = Vec::new();
    for (r, ring) in rings.iter().enumerate() {
        let n = ring.len();
        for i in 0..n {
            edges.push(GeomWithData::new(Line::new(ring[i], ring[(i + 1) % n]), (r, i)));
        }
    }
    let tree: EdgeTree = RTree::bulk_load(edges.clone());
    let mut first: Option<(usize, usize)> = None;
    for e in &edges {
        let r = e.data.0;
        let (a, b) = (e.geom().from, e.geom().to);
        let envelope = AABB::from_corners([a[0].min(b[0]), a[1].min(b[1])], [a[0].max(b[0]), a[1].max(b[1])]);
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let s = other.data.0;
            if s > r && rings_clash(v(a), v(b), v(other.geom().from), v(other.geom().to)) {
                first = Some(first.map_or((r, s), |f| f.min((r, s))));
            }
        }
    }
    if let Some((r, s)) = first {
        return Some(RingsProblem::Cross(r, s));
    }
    // No rings cross, so one corner off the other ring tells on which side of it a whole ring lies.
    for (k, hole) in holes.iter().enumerate() {
        if !ring_contains(outer, corner_off(hole, 0, &tree)) {
            return Some(RingsProblem::HoleOutside(k + 1));
        }
    }
    let boxes: RTree<GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>> = RTree::bulk_load(
        holes
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let lo = h.iter().fold([f64::INFINITY; 2], |m, p| [m[0].min(p[0]), m[1].min(p[1])]);
                let hi = h.iter().fold([f64::NEG_INFINITY; 2], |m, p| [m[0].max(p[0]), m[1].max(p[1])]);
                GeomWithData::new(rstar::primitives::Rectangle::from_corners(lo, hi), k)
            })
            .collect(),
    );
    for (k, hole) in holes.iter().enumerate() {
        let mut inside: Vec<usize> = boxes
            .locate_all_at_point(&hole[0])
            .map(|b| b.data)
            .filter(|&m| m != k && ring_contains(&holes[m], corner_off(hole, m + 1, &tree)))
            .collect();
        inside.sort_unstable();
        if let Some(&m) = inside.first() {
            return Some(RingsProblem::HoleInHole(k + 1, m + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_billionth_of_libm_and_keeps_its_limits() {
        let mut worst: f64 = 0.0;
        for k in 0..=2_000_000 {
            let x = -700.0 + 1399.0 * k as f64 / 2_000_000.0 + 1e-7 * (k % 7) as f64;
            let (ours, exact) = (exp(x), libm::exp(x));
            worst = worst.max(((ours - exact) / exact).abs());
        }
        assert!(worst < 1e-9, "worst relative error {worst:e}");
        for x in [-0.5f64, 0.0, 1e-12, -1e-300, 0.346, -0.347, 1.0, -30.0] {
            assert!(((exp(x) - libm::exp(x)) / libm::exp(x)).abs() < 1e-9, "{x}");
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-701.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), exp(700.0));
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn a_bow_tie_intersects_itself_and_a_square_does_not() {
        let square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert_eq!(first_self_intersection(&square), None);
        let bow_tie = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        assert_eq!(first_self_intersection(&bow_tie), Some((0, 2)));
    }

    #[test]
    fn holes_must_lie_apart_inside_the_outline() {
        let outer = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let square = |x: f64, y: f64, s: f64| vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]];
        assert_eq!(rings_problem(&outer, &[square(1.0, 1.0, 2.0), square(5.0, 5.0, 2.0)]), None);
        assert_eq!(rings_problem(&outer, &[square(9.0, 1.0, 2.0)]), Some(RingsProblem::Cross(0, 1)));
        assert_eq!(rings_problem(&outer, &[square(20.0, 1.0, 2.0)]), Some(RingsProblem::HoleOutside(1)));
        assert_eq!(
            rings_problem(&outer, &[square(1.0, 1.0, 6.0), square(2.0, 2.0, 1.0)]),
            Some(RingsProblem::HoleInHole(2, 1))
        );
        assert_eq!(
            rings_problem(&outer, &[square(1.0, 1.0, 3.0), square(2.0, 2.0, 3.0)]),
            Some(RingsProblem::Cross(1, 2))
        );
    }

    #[test]
    fn a_large_ring_is_checked_quickly() {
        let n = 100_000;
        let ring: Vec<Point> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [100.0 * libm::cos(a), 100.0 * libm::sin(a)]
            })
            .collect();
        let started = std::time::Instant::now();
        assert_eq!(first_self_intersection(&ring), None);
        assert!(started.elapsed().as_secs_f64() < 5.0, "took {:?}", started.elapsed());
    }
}
