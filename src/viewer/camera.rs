//! Named views of a unit (`overview`, `top`), each fitted to the scene's bounds: where the camera
//! stands, its projection, and the world point → pixel mapping tests use to find objects in a picture.

use bevy::camera::{OrthographicProjection, PerspectiveProjection, Projection, ScalingMode};
use bevy::math::{Mat4, Vec3, Vec4};
use bevy::prelude::Transform;

use super::decorations::Decorations;
use super::geometry::SceneFrame;
use crate::draw::{DrawTwin, WorldPoint};

/// A view the command line can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewName {
    /// An oblique bird's-eye view from the south-south-west, the whole unit in the picture.
    Overview,
    /// Straight down, north up, orthographic: a plan.
    Top,
}

impl ViewName {
    pub const ALL: [ViewName; 2] = [ViewName::Overview, ViewName::Top];

    pub fn name(self) -> &'static str {
        match self {
            ViewName::Overview => "overview",
            ViewName::Top => "top",
        }
    }

    pub fn parse(name: &str) -> Result<ViewName, String> {
        ViewName::ALL.into_iter().find(|v| v.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ViewName::ALL.iter().map(|v| v.name()).collect();
            format!("there is no view '{name}' (views: {})", names.join(", "))
        })
    }
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
                }
            }
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
