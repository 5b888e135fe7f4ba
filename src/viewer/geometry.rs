//! The unit as triangles: turns `DrawTwin` into one vertex-coloured mesh (ground, floors, buildings
//! with roofs, streets, stairs, doors, zones, measurements), in the viewer's frame. Pure data, no Bevy.

use geo::{Coord, LineString, Polygon, TriangulateEarcut};

use super::camera::LEVEL_GAP;
use super::decorations::Decorations;
use super::palette::{self, Rgb};
use crate::draw::{DrawMeasurement, DrawTwin, WorldPoint};

/// Where the scene sits in Bevy's space: Bevy's y is up, so world (x east, y north, z up) maps to
/// (x − cx, z, −(y − cy)). Centring on the twin keeps f32 precise for units far from the origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SceneFrame {
    pub centre: [f64; 2],
}

impl SceneFrame {
    pub fn of(twin: &DrawTwin) -> SceneFrame {
        SceneFrame { centre: [(twin.min[0] + twin.max[0]) / 2.0, (twin.min[1] + twin.max[1]) / 2.0] }
    }

    /// A world point in Bevy's coordinates.
    pub fn to_bevy(&self, p: WorldPoint) -> [f32; 3] {
        [(p[0] - self.centre[0]) as f32, p[2] as f32, -(p[1] - self.centre[1]) as f32]
    }
}

/// Heights above a floor (m) at which the flat layers are drawn, so that none hides another.
mod lift {
    pub const GROUND: f64 = -0.06;
    pub const WALKABLE: f64 = 0.0;
    pub const SIDEWALK: f64 = 0.02;
    pub const CARRIAGEWAY: f64 = 0.03;
    pub const CROSSING: f64 = 0.05;
    pub const MARKING: f64 = 0.06;
    pub const ZONE: f64 = 0.08;
    pub const MEASUREMENT: f64 = 0.1;
}

/// Interior walls and the walkable boundary stand this high: low enough to see over in an
/// oblique view, high enough to read as walls.
pub const WALL_HEIGHT: f64 = 1.0;
pub const WALL_THICKNESS: f64 = 0.15;
/// Door markers are boxes across the opening, taller than walls (so they show in a top view even in
/// a wall when closed) and lower than people (so the crowd passing shows above them).
pub const DOOR_HEIGHT: f64 = 1.2;
pub const DOOR_THICKNESS: f64 = 0.6;

/// Vertices (Bevy frame), normals, linear RGBA colours and triangle indices.
#[derive(Clone, Debug, Default)]
pub struct MeshData {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub colours: Vec<[f32; 4]>,
    pub indices: Vec<u32>,
}

fn linear(c: Rgb) -> [f32; 4] {
    use bevy::color::ColorToComponents;
    c.color().to_linear().to_f32_array()
}

pub(super) struct Builder {
    frame: SceneFrame,
    pub(super) mesh: MeshData,
}

impl Builder {
    pub(super) fn new(frame: SceneFrame) -> Builder {
        Builder { frame, mesh: MeshData::default() }
    }

    fn vertex(&mut self, p: WorldPoint, normal: [f32; 3], colour: [f32; 4]) -> u32 {
        let i = self.mesh.positions.len() as u32;
        self.mesh.positions.push(self.frame.to_bevy(p));
        self.mesh.normals.push(normal);
        self.mesh.colours.push(colour);
        i
    }

    /// A flat polygon with holes at height `z`, facing up.
    pub(super) fn polygon(&mut self, outer: &[WorldPoint], holes: &[Vec<WorldPoint>], z: f64, colour: Rgb) {
        let ring =
            |r: &[WorldPoint]| LineString::from(r.iter().map(|p| Coord { x: p[0], y: p[1] }).collect::<Vec<_>>());
        if outer.len() < 3 {
            return;
        }
        let polygon = Polygon::new(ring(outer), holes.iter().map(|h| ring(h)).collect());
        let raw = polygon.earcut_triangles_raw();
        let colour = linear(colour);
        let base = self.mesh.positions.len() as u32;
        for v in &raw.vertices {
            self.vertex([v[0], v[1], z], [0.0, 1.0, 0.0], colour);
        }
        self.mesh.indices.extend(raw.triangle_indices.iter().map(|&i| base + i as u32));
    }

    /// A quad from four corners (in order around it).
    pub(super) fn quad(&mut self, corners: [WorldPoint; 4], normal: [f32; 3], colour: Rgb) {
        let colour = linear(colour);
        let i: Vec<u32> = corners.iter().map(|&p| self.vertex(p, normal, colour)).collect();
        self.mesh.indices.extend([i[0], i[1], i[2], i[0], i[2], i[3]]);
    }

    /// Vertical faces of a prism over `ring` from `z0` to `z1`, each shaded by its direction.
    fn walls(&mut self, ring: &[WorldPoint], z0: f64, z1: f64, colour: Rgb) {
        let n = ring.len();
        // Outward normals follow from the ring's orientation (positive signed area: counterclockwise).
        let area: f64 = (0..n).map(|i| ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1]).sum();
        let sign = if area >= 0.0 { 1.0 } else { -1.0 };
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len = (dx * dx + dy * dy).sqrt();
            if len < 1e-9 {
                continue;
            }
            let normal = [(sign * dy / len) as f32, (-sign * dx / len) as f32];
            let shade = palette::wall_shade(normal);
            self.quad(
                [[a[0], a[1], z0], [b[0], b[1], z0], [b[0], b[1], z1], [a[0], a[1], z1]],
                [normal[0], 0.0, -normal[1]],
                colour.shaded(shade),
            );
        }
    }

    /// A solid over a footprint from `z0` to `z1`: shaded walls and a flat top of `top` colour.
    fn prism(&mut self, ring: &[WorldPoint], z0: f64, z1: f64, side: Rgb, top: Rgb) {
        let ring = open_ring(ring);
        if ring.len() < 3 {
            return;
        }
        self.walls(&ring, z0, z1, side);
        self.polygon(&ring, &[], z1, top);
    }

    /// A box along the segment `a`–`b`, `thickness` wide, from `z0` to `z1`.
    pub(super) fn beam(&mut self, a: WorldPoint, b: WorldPoint, thickness: f64, z0: f64, z1: f64, colour: Rgb) {
        let ring = segment_rectangle(a, b, thickness);
        if let Some(ring) = ring {
            self.prism(&ring, z0, z1, colour, colour);
        }
    }

    /// A flat strip along a polyline, `width` wide, at height `z`.
    pub(super) fn ribbon(&mut self, line: &[WorldPoint], width: f64, z: f64, colour: Rgb) {
        for pair in line.windows(2) {
            if let Some(r) = segment_rectangle(pair[0], pair[1], width) {
                let r = r.map(|p| [p[0], p[1], z]);
                self.quad(r, [0.0, 1.0, 0.0], colour);
            }
        }
    }

    /// The outline of a closed ring as a flat strip.
    pub(super) fn outline(&mut self, ring: &[WorldPoint], width: f64, z: f64, colour: Rgb) {
        let mut closed = open_ring(ring);
        if let Some(&first) = closed.first() {
            closed.push(first);
        }
        self.ribbon(&closed, width, z, colour);
    }
}

/// The ring without its closing point, if it repeats the first.
fn open_ring(ring: &[WorldPoint]) -> Vec<WorldPoint> {
    let mut ring = ring.to_vec();
    if ring.len() > 1 && ring.first().map(|p| [p[0], p[1]]) == ring.last().map(|p| [p[0], p[1]]) {
        ring.pop();
    }
    ring
}

/// The rectangle `thickness` wide around segment `a`–`b` (counterclockwise), at `a`'s height.
fn segment_rectangle(a: WorldPoint, b: WorldPoint, thickness: f64) -> Option<[WorldPoint; 4]> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1e-9 {
        return None;
    }
    let (nx, ny) = (-dy / len * thickness / 2.0, dx / len * thickness / 2.0);
    let z = a[2];
    Some([[a[0] - nx, a[1] - ny, z], [b[0] - nx, b[1] - ny, z], [b[0] + nx, b[1] + ny, z], [a[0] + nx, a[1] + ny, z]])
}

/// Margin of ground around the unit's bounds, as a share of its larger side.
pub const GROUND_MARGIN: f64 = 0.15;

/// The ground rectangle (world x, y): the bounds grown by [`GROUND_MARGIN`], and further where the
/// north arrow and scale bar need it (with half that margin around them).
pub fn ground_rectangle(twin: &DrawTwin) -> [[f64; 2]; 2] {
    let size = (twin.max[0] - twin.min[0]).max(twin.max[1] - twin.min[1]).max(10.0);
    let m = size * GROUND_MARGIN;
    let [lo, hi] = Decorations::of(twin).bounds();
    let d = m / 2.0;
    [
        [(twin.min[0] - m).min(lo[0] - d), (twin.min[1] - m).min(lo[1] - d)],
        [(twin.max[0] + m).max(hi[0] + d), (twin.max[1] + m).max(hi[1] + d)],
    ]
}

/// Whether something at elevation `z` is drawn under a cut at `cut` (floors above it left out).
pub fn below_cut(z: f64, cut: Option<f64>) -> bool {
    cut.is_none_or(|c| z <= c + LEVEL_GAP)
}

/// The whole static twin as one mesh, leaving out what lies above `cut`. Doors are coloured by
/// their state now, zones by theirs.
pub fn twin_mesh(twin: &DrawTwin, frame: SceneFrame, cut: Option<f64>) -> MeshData {
    let mut b = Builder { frame, mesh: MeshData::default() };
    let shown = |z: f64| below_cut(z, cut);
    let [lo, hi] = ground_rectangle(twin);
    let gz = twin.min[2] + lift::GROUND;
    b.quad(
        [[lo[0], lo[1], gz], [hi[0], lo[1], gz], [hi[0], hi[1], gz], [lo[0], hi[1], gz]],
        [0.0, 1.0, 0.0],
        palette::GROUND,
    );

    let lowest = twin.levels.iter().map(|l| l.elevation).fold(f64::INFINITY, f64::min);
    for level in twin.levels.iter().filter(|l| shown(l.elevation)) {
        let floor = if level.elevation > lowest + 0.5 { palette::WALKABLE_UPPER } else { palette::WALKABLE };
        let z = level.elevation + lift::WALKABLE;
        for p in &level.walkable {
            b.polygon(&p.outer, &p.holes, z, floor);
        }
        for w in &level.walls {
            b.beam(w[0], w[1], WALL_THICKNESS, level.elevation, level.elevation + WALL_HEIGHT, palette::WALL);
        }
    }
    for s in &twin.streets {
        let z = s.centerline.first().map_or(0.0, |p| p[2]);
        if !shown(z) {
            continue;
        }
        for q in &s.sidewalks {
            b.polygon(q, &[], z + lift::SIDEWALK, palette::SIDEWALK);
        }
        for q in &s.carriageway {
            b.polygon(q, &[], z + lift::CARRIAGEWAY, palette::CARRIAGEWAY);
        }
        for c in &s.crossings {
            b.polygon(&c.polygon, &[], z + lift::CROSSING, palette::CROSSING);
        }
        for m in &s.lane_markings {
            b.ribbon(m, 0.15, z + lift::MARKING, palette::LANE_MARKING);
        }
    }
    for building in &twin.buildings {
        let z0 = building.footprint.first().map_or(0.0, |p| p[2]);
        if !shown(z0) {
            continue;
        }
        let roof = palette::building_roof(building);
        b.prism(&building.footprint, z0, z0 + building.height, roof, roof);
        // Floor lines on the façade: a thin darker band at each storey.
        let storey = building.height / building.floors.max(1) as f64;
        for f in 1..building.floors {
            let z = z0 + storey * f as f64;
            let ring = grow_ring(&open_ring(&building.footprint), 0.03);
            b.walls(&ring, z - 0.08, z + 0.08, roof.shaded(0.6));
        }
    }
    for o in &twin.obstacles {
        let z0 = o.footprint.first().map_or(0.0, |p| p[2]);
        if !shown(z0) {
            continue;
        }
        b.prism(&o.footprint, z0, z0 + o.height, palette::OBSTACLE, palette::OBSTACLE);
    }
    for st in twin.stairs.iter().filter(|s| shown(s.foot[2].min(s.head[2]))) {
        let n = st.steps.max(1);
        let [fl, fr, hr, hl] = st.corners;
        let at = |p: WorldPoint, q: WorldPoint, t: f64| [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t];
        let (z_foot, z_head) = (st.foot[2], st.head[2]);
        for i in 0..n {
            let (t0, t1) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
            let tread = z_foot + (z_head - z_foot) * t1;
            let [a, c] = [at(fl, hl, t0), at(fl, hl, t1)];
            let [d, e] = [at(fr, hr, t0), at(fr, hr, t1)];
            let ring = [[a[0], a[1], z_foot], [d[0], d[1], z_foot], [e[0], e[1], z_foot], [c[0], c[1], z_foot]];
            b.prism(&ring, z_foot, tread, palette::STAIR, palette::STAIR);
        }
    }
    for z in &twin.zones {
        let h = z.polygon.first().map_or(0.0, |p| p[2]) + lift::ZONE;
        if !shown(h) {
            continue;
        }
        if z.blocked {
            b.polygon(&z.polygon, &[], h, palette::ZONE_BLOCKED);
        } else if z.smoke > 0.0 {
            b.polygon(&z.polygon, &[], h, palette::ZONE_SMOKE);
        }
        b.outline(&z.polygon, 0.3, h + 0.005, palette::ZONE);
    }
    for hazard in twin.hazards.iter().filter(|h| h.active && h.polygon.len() >= 3 && shown(h.polygon[0][2])) {
        let h = hazard.polygon[0][2] + lift::ZONE;
        b.polygon(&hazard.polygon, &[], h, palette::ZONE_BLOCKED);
    }
    for m in &twin.measurements {
        let z = match m {
            DrawMeasurement::Line { a, .. } => a[2],
            DrawMeasurement::Area { polygon, .. } => polygon.first().map_or(0.0, |p| p[2]),
        };
        if !shown(z) {
            continue;
        }
        match m {
            DrawMeasurement::Line { a, b: end, .. } => {
                let z = a[2] + lift::MEASUREMENT;
                b.ribbon(&[[a[0], a[1], z], [end[0], end[1], z]], 0.25, z, palette::MEASUREMENT)
            }
            DrawMeasurement::Area { polygon, .. } => {
                let z = polygon.first().map_or(0.0, |p| p[2]) + lift::MEASUREMENT;
                b.outline(polygon, 0.2, z, palette::MEASUREMENT)
            }
        }
    }
    for d in twin.doors.iter().filter(|d| shown(d.a[2])) {
        let colour = door_colour(d.open);
        b.beam(d.a, d.b, DOOR_THICKNESS, d.a[2], d.a[2] + DOOR_HEIGHT, colour);
    }
    b.mesh
}

/// A door's colour: open or closed.
pub fn door_colour(open: bool) -> Rgb {
    if open { palette::DOOR_OPEN } else { palette::DOOR_CLOSED }
}

/// The ring moved outward by `d` along each corner's bisector (approximately; for façade bands).
fn grow_ring(ring: &[WorldPoint], d: f64) -> Vec<WorldPoint> {
    let n = ring.len() as f64;
    let (cx, cy) = (ring.iter().map(|p| p[0]).sum::<f64>() / n, ring.iter().map(|p| p[1]).sum::<f64>() / n);
    ring.iter()
        .map(|p| {
            let (dx, dy) = (p[0] - cx, p[1] - cy);
            let len = (dx * dx + dy * dy).sqrt().max(1e-9);
            [p[0] + dx / len * d, p[1] + dy / len * d, p[2]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_with_a_hole_triangulates_to_eight_triangles() {
        let mut b = Builder { frame: SceneFrame { centre: [0.0, 0.0] }, mesh: MeshData::default() };
        let sq = |s: f64, o: f64| vec![[o, o, 0.0], [o + s, o, 0.0], [o + s, o + s, 0.0], [o, o + s, 0.0]];
        b.polygon(&sq(10.0, 0.0), &[sq(2.0, 4.0)], 0.0, palette::WALKABLE);
        assert_eq!(b.mesh.indices.len(), 8 * 3);
    }

    #[test]
    fn north_is_minus_z_and_up_is_y() {
        let f = SceneFrame { centre: [10.0, 20.0] };
        assert_eq!(f.to_bevy([11.0, 23.0, 2.0]), [1.0, 2.0, -3.0]);
    }
}
