//! Named views of a unit (`overview`, `top`), each fitted to the scene's bounds: where the camera
//! stands, its projection, and the world point → pixel mapping tests use to find objects in a picture.

use bevy::camera::{OrthographicProjection, PerspectiveProjection, Projection, ScalingMode};
use bevy::math::{Mat4, Vec3, Vec4};
use bevy::prelude::Transform;

use super::decorations::Decorations;
use super::geometry::SceneFrame;
use geo::{Area, BooleanOps};

use crate::draw::{DrawDoor, DrawDoorKind, DrawPolygon, DrawTwin, WorldPoint};

/// A view the command line and the window can name: the whole unit, or one of its entrances,
/// exits and stairs (by the door's or stair's id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewName {
    /// An oblique bird's-eye view from the south-south-west, the whole unit in the picture.
    Overview,
    /// Straight down, north up, orthographic: a plan.
    Top,
    /// From outside an entrance or exit (index in `DrawTwin::doors`), looking in at the crowd
    /// coming to it.
    Door(usize),
    /// From beside the foot of a stair (index in `DrawTwin::stairs`), looking up the flight.
    Stair(usize),
}

/// Radius of the ground an entrance's view shows at least, m: the queue in front of a door.
const DOOR_VIEW_RADIUS: f64 = 12.0;
/// Elevation of the camera above the ground seen from a door, radians (57°): high enough to look
/// over the people near the door and over the buildings beside it.
const DOOR_VIEW_PITCH: f64 = 1.0;

impl ViewName {
    /// Every view of `twin`: overview, top, each entrance and exit, each stair.
    pub fn all(twin: &DrawTwin) -> Vec<ViewName> {
        let doors = twin.doors.iter().enumerate().filter(|(_, d)| is_boundary(d)).map(|(i, _)| ViewName::Door(i));
        let stairs = (0..twin.stairs.len()).map(ViewName::Stair);
        [ViewName::Overview, ViewName::Top].into_iter().chain(doors).chain(stairs).collect()
    }

    pub fn name(self, twin: &DrawTwin) -> String {
        match self {
            ViewName::Overview => "overview".into(),
            ViewName::Top => "top".into(),
            ViewName::Door(i) => twin.doors.get(i).map_or_else(String::new, |d| d.name.clone()),
            ViewName::Stair(i) => twin.stairs.get(i).map_or_else(String::new, |s| s.name.clone()),
        }
    }

    /// What the view looks at, for a list: "overview", "entrance nanchang_lane_mouth", "stair …".
    pub fn describe(self, twin: &DrawTwin) -> String {
        let kind = match self {
            ViewName::Overview | ViewName::Top => return self.name(twin),
            ViewName::Door(i) => match twin.doors.get(i).map(|d| d.kind) {
                Some(DrawDoorKind::Entrance) => "entrance",
                _ => "exit",
            },
            ViewName::Stair(_) => "stair",
        };
        format!("{kind} {}", self.name(twin))
    }

    /// The view named `name` in `twin`: overview, top, or the id of an entrance, exit or stair.
    pub fn parse(name: &str, twin: &DrawTwin) -> Result<ViewName, String> {
        let all = ViewName::all(twin);
        all.iter().copied().find(|v| v.name(twin) == name).ok_or_else(|| {
            let names: Vec<String> = all.iter().map(|v| v.name(twin)).collect();
            let interior = twin.doors.iter().any(|d| d.name == name);
            let why = if interior { " (an interior door has no view: pick a stair, entrance or exit)" } else { "" };
            format!("there is no view '{name}'{why}; views of this unit: {}", names.join(", "))
        })
    }

    /// The elevation above which the view leaves floors out, because they lie over its subject and
    /// would hide it (`None`: everything drawn). A stair is seen with the floor it leaves from.
    pub fn cut(self, twin: &DrawTwin) -> Option<f64> {
        let (subject, z) = match self {
            ViewName::Overview | ViewName::Top => return None,
            ViewName::Door(i) => {
                // The door and the ground a queue would stand on inside it.
                let d = twin.doors.get(i)?;
                let inward = into_unit(d, twin);
                let deep = |p: WorldPoint| (p[0] + inward[0] * DOOR_QUEUE_DEPTH, p[1] + inward[1] * DOOR_QUEUE_DEPTH);
                let ring = vec![(d.a[0], d.a[1]), (d.b[0], d.b[1]), deep(d.b), deep(d.a)];
                (geo::Polygon::new(ring.into(), vec![]), d.a[2])
            }
            ViewName::Stair(i) => {
                let s = twin.stairs.get(i)?;
                let mut ring: Vec<(f64, f64)> = s.corners.iter().map(|p| (p[0], p[1])).collect();
                if geo::Polygon::new(ring.clone().into(), vec![]).unsigned_area() < 1.0 {
                    // A stairwell joining two floors at one point: the square its width spans.
                    let h = s.width.max(1.0) / 2.0;
                    let (x, y) = (s.foot[0], s.foot[1]);
                    ring = vec![(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)];
                }
                (geo::Polygon::new(ring.into(), vec![]), s.foot[2].min(s.head[2]))
            }
        };
        let area = subject.unsigned_area();
        let covered = twin.levels.iter().filter(|l| l.elevation > z + LEVEL_GAP).any(|l| {
            let over: f64 = l.walkable.iter().map(|p| draw_polygon(p).intersection(&subject).unsigned_area()).sum();
            over > COVERED_SHARE * area
        });
        covered.then_some(z)
    }
}

/// How deep inside a door its view's subject reaches, m: the people queueing at it.
const DOOR_QUEUE_DEPTH: f64 = 3.0;
/// Share of a view's subject a floor above must cover for the view to cut it away.
const COVERED_SHARE: f64 = 0.1;

/// Levels closer than this in elevation count as one floor, m.
pub const LEVEL_GAP: f64 = 0.5;

fn is_boundary(d: &DrawDoor) -> bool {
    matches!(d.kind, DrawDoorKind::Exit | DrawDoorKind::Entrance)
}

/// A walkable polygon of the draw data as a geo polygon (plan, holes kept).
pub(super) fn draw_polygon(p: &DrawPolygon) -> geo::Polygon<f64> {
    let ring = |r: &[WorldPoint]| geo::LineString::from(r.iter().map(|q| (q[0], q[1])).collect::<Vec<_>>());
    geo::Polygon::new(ring(&p.outer), p.holes.iter().map(|h| ring(h)).collect())
}

/// The unit vector from the middle of door `d` into the walkable area it opens onto.
fn into_unit(d: &DrawDoor, twin: &DrawTwin) -> [f64; 2] {
    let (dx, dy) = (d.b[0] - d.a[0], d.b[1] - d.a[1]);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    let normal = [-dy / len, dx / len];
    let mid = [(d.a[0] + d.b[0]) / 2.0, (d.a[1] + d.b[1]) / 2.0];
    let probe = geo::Point::new(mid[0] + normal[0], mid[1] + normal[1]);
    let inside = twin
        .levels
        .iter()
        .filter(|l| l.id == d.level)
        .flat_map(|l| &l.walkable)
        .any(|p| geo::Contains::contains(&draw_polygon(p), &probe));
    if inside { normal } else { [-normal[0], -normal[1]] }
}

/// How the camera projects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViewProjection {
    /// Vertical field of view, radians.
    Perspective { fov_y: f32 },
    /// The world extent shown, m.
    Orthographic { width: f32, height: f32 },
}

/// A camera placed in the viewer's (Bevy) frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewCamera {
    pub eye: Vec3,
    pub target: Vec3,
    pub up: Vec3,
    pub projection: ViewProjection,
    pub near: f32,
    pub far: f32,
    /// Floors above this elevation are left out of the picture (`None`: all drawn).
    pub cut: Option<f64>,
}

/// Field of view of the perspective views.
const FOV_Y: f32 = std::f32::consts::PI / 4.0;

/// The corners of the unit's bounding box (buildings' heights included) and of its north arrow and
/// scale bar, in the viewer's frame.
fn bounds_corners(twin: &DrawTwin, frame: SceneFrame) -> Vec<Vec3> {
    let top = twin
        .buildings
        .iter()
        .map(|b| b.footprint.first().map_or(0.0, |p| p[2]) + b.height)
        .chain(twin.obstacles.iter().map(|o| o.footprint.first().map_or(0.0, |p| p[2]) + o.height))
        .fold(twin.max[2] + 2.0, f64::max);
    let mut corners = Vec::new();
    for x in [twin.min[0], twin.max[0]] {
        for y in [twin.min[1], twin.max[1]] {
            for z in [twin.min[2], top] {
                corners.push(Vec3::from(frame.to_bevy([x, y, z])));
            }
        }
    }
    // The north arrow and the scale bar, on the ground off the south-west corner.
    let [lo, hi] = Decorations::of(twin).bounds();
    for x in [lo[0], hi[0]] {
        for y in [lo[1], hi[1]] {
            corners.push(Vec3::from(frame.to_bevy([x, y, twin.min[2]])));
        }
    }
    corners
}

impl ViewCamera {
    /// The named view of `twin` for a picture of `size` pixels.
    pub fn named(view: ViewName, twin: &DrawTwin, size: (u32, u32)) -> ViewCamera {
        let frame = SceneFrame::of(twin);
        let cut = view.cut(twin);
        let aspect = size.0.max(1) as f32 / size.1.max(1) as f32;
        let corners = bounds_corners(twin, frame);
        let (lo, hi) = corners
            .iter()
            .fold((Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY)), |(lo, hi), c| (lo.min(*c), hi.max(*c)));
        let centre = (lo + hi) / 2.0;
        match view {
            ViewName::Top => {
                // A 4 % margin around the bounds, widened to the picture's aspect.
                let (w, h) = ((hi.x - lo.x).max(1.0) * 1.08, (hi.z - lo.z).max(1.0) * 1.08);
                let (width, height) = if w / h > aspect { (w, w / aspect) } else { (h * aspect, h) };
                let eye = Vec3::new(centre.x, hi.y + 20.0, centre.z);
                ViewCamera {
                    eye,
                    target: Vec3::new(centre.x, lo.y, centre.z),
                    up: Vec3::NEG_Z,
                    projection: ViewProjection::Orthographic { width, height },
                    near: 0.0,
                    far: eye.y - lo.y + 100.0,
                    cut,
                }
            }
            ViewName::Overview => {
                // From the south-south-west, about 40° above the horizon (world x east, y north, z up).
                let back = Vec3::from(frame.to_bevy([-0.4, -1.0, 1.0])) - Vec3::from(frame.to_bevy([0.0, 0.0, 0.0]));
                let back = back.normalize();
                let camera = Transform::from_translation(back).looking_at(Vec3::ZERO, Vec3::Y);
                let (right, up) = (camera.right().as_vec3(), camera.up().as_vec3());
                let tan_v = (FOV_Y / 2.0).tan();
                let tan_h = tan_v * aspect;
                let distance = corners
                    .iter()
                    .map(|c| {
                        let p = *c - centre;
                        (p.dot(right).abs() / tan_h).max(p.dot(up).abs() / tan_v) + p.dot(back)
                    })
                    .fold(1.0f32, f32::max)
                    * 1.05;
                ViewCamera {
                    eye: centre + back * distance,
                    target: centre,
                    up: Vec3::Y,
                    projection: ViewProjection::Perspective { fov_y: FOV_Y },
                    near: 0.1,
                    far: distance * 4.0 + 1000.0,
                    cut,
                }
            }
            ViewName::Door(i) => {
                let Some(d) = twin.doors.get(i) else { return ViewCamera::named(ViewName::Overview, twin, size) };
                let width = ((d.b[0] - d.a[0]).powi(2) + (d.b[1] - d.a[1]).powi(2)).sqrt();
                let radius = DOOR_VIEW_RADIUS.max(0.6 * width + 6.0);
                let inward = into_unit(d, twin);
                // The ground in front of the door, a third of the radius in, seen from outside.
                let look_at = [
                    (d.a[0] + d.b[0]) / 2.0 + inward[0] * radius / 3.0,
                    (d.a[1] + d.b[1]) / 2.0 + inward[1] * radius / 3.0,
                    d.a[2],
                ];
                let (sin, cos) = (DOOR_VIEW_PITCH.sin(), DOOR_VIEW_PITCH.cos());
                let back = [-inward[0] * cos, -inward[1] * cos, sin];
                ViewCamera::looking(frame, look_at, back, radius, aspect, cut)
            }
            ViewName::Stair(i) => {
                let Some(s) = twin.stairs.get(i) else { return ViewCamera::named(ViewName::Overview, twin, size) };
                // The flight as drawn (a stair may join two floors at one point, its flight drawn
                // beside it): from the middle of its foot edge to the middle of its head edge.
                let [fl, fr, hr, hl] = s.corners;
                let foot = [(fl[0] + fr[0]) / 2.0, (fl[1] + fr[1]) / 2.0];
                let head = [(hl[0] + hr[0]) / 2.0, (hl[1] + hr[1]) / 2.0];
                let (dx, dy) = (head[0] - foot[0], head[1] - foot[1]);
                let length = (dx * dx + dy * dy).sqrt();
                // A stair joining two floors at one point (a stairwell): seen as the overview sees.
                let (ux, uy) = if length > 0.5 { (dx / length, dy / length) } else { (0.0, 1.0) };
                let middle = [(foot[0] + head[0]) / 2.0, (foot[1] + head[1]) / 2.0, (s.foot[2] + s.head[2]) / 2.0];
                // Behind the foot and to the right of the flight, above it: the treads and the
                // people on them in view, the landing at the head beyond.
                let back = [-ux * 0.55 + uy * 0.55, -uy * 0.55 - ux * 0.55, 0.63];
                let radius = (length / 2.0 + 4.0).max(2.0 * s.width).max(8.0);
                ViewCamera::looking(frame, middle, back, radius, aspect, cut)
            }
        }
    }

    /// A perspective camera looking at `target` (world) from direction `back` (world, from the
    /// target towards the eye), far enough that a disc of `radius` around it fits.
    fn looking(
        frame: SceneFrame,
        target: WorldPoint,
        back: [f64; 3],
        radius: f64,
        aspect: f32,
        cut: Option<f64>,
    ) -> ViewCamera {
        let norm = (back[0] * back[0] + back[1] * back[1] + back[2] * back[2]).sqrt().max(1e-9);
        let half = (FOV_Y as f64 / 2.0).tan() * (aspect as f64).min(1.0);
        let distance = radius / half;
        let eye = [
            target[0] + back[0] / norm * distance,
            target[1] + back[1] / norm * distance,
            target[2] + back[2] / norm * distance,
        ];
        ViewCamera {
            eye: Vec3::from(frame.to_bevy(eye)),
            target: Vec3::from(frame.to_bevy(target)),
            up: Vec3::Y,
            projection: ViewProjection::Perspective { fov_y: FOV_Y },
            near: 0.1,
            far: (distance * 4.0 + 1000.0) as f32,
            cut,
        }
    }

    pub fn transform(&self) -> Transform {
        Transform::from_translation(self.eye).looking_at(self.target, self.up)
    }

    /// Bevy's projection for this camera.
    pub fn bevy_projection(&self) -> Projection {
        match self.projection {
            ViewProjection::Perspective { fov_y } => Projection::Perspective(PerspectiveProjection {
                fov: fov_y,
                near: self.near,
                far: self.far,
                ..Default::default()
            }),
            ViewProjection::Orthographic { width, height } => Projection::Orthographic(OrthographicProjection {
                scaling_mode: ScalingMode::Fixed { width, height },
                near: self.near,
                far: self.far,
                ..OrthographicProjection::default_3d()
            }),
        }
    }

    /// Where world point `p` lands in a picture of `size` pixels: (column, row) from the top left,
    /// in pixels; `None` behind the camera.
    pub fn world_to_pixel(&self, frame: SceneFrame, p: WorldPoint, size: (u32, u32)) -> Option<[f32; 2]> {
        let (w, h) = (size.0 as f32, size.1 as f32);
        let view = Mat4::look_at_rh(self.eye, self.target, self.up);
        let proj = match self.projection {
            ViewProjection::Perspective { fov_y } => Mat4::perspective_rh(fov_y, w / h, self.near.max(1e-3), self.far),
            ViewProjection::Orthographic { width, height } => {
                Mat4::orthographic_rh(-width / 2.0, width / 2.0, -height / 2.0, height / 2.0, self.near, self.far)
            }
        };
        let q = Vec3::from(frame.to_bevy(p));
        let clip = proj * view * Vec4::new(q.x, q.y, q.z, 1.0);
        if clip.w <= 0.0 {
            return None;
        }
        let ndc = clip / clip.w;
        Some([(ndc.x + 1.0) / 2.0 * w, (1.0 - ndc.y) / 2.0 * h])
    }

    /// Metres per pixel at the target (exact for the orthographic top view).
    pub fn metres_per_pixel(&self, size: (u32, u32)) -> f32 {
        match self.projection {
            ViewProjection::Orthographic { width, .. } => width / size.0.max(1) as f32,
            ViewProjection::Perspective { fov_y } => {
                2.0 * (self.eye - self.target).length() * (fov_y / 2.0).tan() / size.1.max(1) as f32
            }
        }
    }
}
