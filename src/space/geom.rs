//! Small exact vector helpers shared by the space, navigation and crowd modules.
//! Everything is in local metres, f64, with no allocation.

use bevy::math::DVec2;

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
