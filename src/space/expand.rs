//! Turns the scene's composite objects into plain geometry: streets into sidewalk, crossing and
//! carriageway polygons; stairs into narrow levels of their own with an opening at each end.

use bevy::math::DVec2;
use geo::Polygon;

use super::geom::v;
use super::polygon;
use crate::scene::{Point, Stair, StairDirection, Street};

/// The walkable and the blocked polygons a street adds to its level.
pub struct StreetGeometry {
    pub walkable: Vec<Polygon<f64>>,
    pub carriageway: Vec<Polygon<f64>>,
    pub crossings: Vec<Polygon<f64>>,
}

fn quad(a: DVec2, b: DVec2, c: DVec2, d: DVec2) -> Polygon<f64> {
    polygon(&[[a.x, a.y], [b.x, b.y], [c.x, c.y], [d.x, d.y]], &[])
}

/// Where a distance along a polyline falls: the point and the unit direction there.
pub fn along(line: &[Point], distance: f64) -> Option<(DVec2, DVec2)> {
    let mut left = distance;
    for pair in line.windows(2) {
        let (a, b) = (v(pair[0]), v(pair[1]));
        let len = a.distance(b);
        if len > 1e-9 && left <= len {
            let dir = (b - a) / len;
            return Some((a + dir * left, dir));
        }
        left -= len;
    }
    None
}

pub fn street(street: &Street) -> StreetGeometry {
    let half = street.carriageway / 2.0;
    let (left, right) = street.sidewalks;
    let mut g = StreetGeometry { walkable: Vec::new(), carriageway: Vec::new(), crossings: Vec::new() };
    for pair in street.centerline.windows(2) {
        let (a, b) = (v(pair[0]), v(pair[1]));
        if a.distance(b) < 1e-9 {
            continue;
        }
        let n = (b - a).normalize().perp();
        // Extended a little along the line so that consecutive segments overlap at bends.
        let d = (b - a).normalize() * 0.01;
        let (a, b) = (a - d, b + d);
        g.carriageway.push(quad(a - n * half, b - n * half, b + n * half, a + n * half));
        if left > 0.0 {
            g.walkable.push(quad(a + n * half, b + n * half, b + n * (half + left), a + n * (half + left)));
        }
        if right > 0.0 {
            g.walkable.push(quad(a - n * (half + right), b - n * (half + right), b - n * half, a - n * half));
        }
    }
    for crossing in &street.crossings {
        if let Some((p, dir)) = along(&street.centerline, crossing.at) {
            let (n, w) = (dir.perp(), dir * crossing.width / 2.0);
            // Across the whole carriageway and a hair into each sidewalk, so that it joins them.
            let reach = half + 0.05;
            g.crossings.push(quad(p - w - n * reach, p + w - n * reach, p + w + n * reach, p - w + n * reach));
        }
    }
    g
}

/// A stair's horizontal free speeds (up, down), m/s: the scene's, or IMO MSC.1/Circ.1533's along the
/// slope (0.8 up, 1.0 down) projected onto the horizontal.
pub fn stair_speeds(stair: &Stair, rise: f64) -> (f64, f64) {
    let horizontal = stair.run / (stair.run * stair.run + rise * rise).sqrt();
    (stair.speed_up.unwrap_or(0.8 * horizontal), stair.speed_down.unwrap_or(1.0 * horizontal))
}

/// Whether a stair may be entered at its foot (going up) and at its head (going down).
pub fn stair_entries(direction: StairDirection) -> (bool, bool) {
    match direction {
        StairDirection::Both => (true, true),
        StairDirection::UpOnly => (true, false),
        StairDirection::DownOnly => (false, true),
    }
}
