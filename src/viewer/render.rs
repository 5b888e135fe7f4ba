//! Offscreen pictures: a Bevy app without a window renders draw data through a named view into an
//! image (Mesa's software Vulkan suffices), read back and written as PNG; `unitwin render` drives it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bevy::app::{PanicHandlerPlugin, SubApps, TerminalCtrlCHandlerPlugin};
use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::image::Image;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::render_resource::{Extent3d, PollType, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::renderer::RenderDevice;
use bevy::render::view::Msaa;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;

use super::ViewerError;
use super::camera::ViewCamera;
use super::palette::{self, Rgb};
use super::scene::{Heatmap, LevelCut, ScenePlugin, SceneTiming};
use crate::draw::{DrawAgents, DrawTraffic, DrawTwin};

/// The draw data of one moment of a run: all a picture needs.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub twin: DrawTwin,
    pub agents: DrawAgents,
    pub traffic: DrawTraffic,
}

impl Snapshot {
    /// The draw data a simulation world publishes.
    pub fn of(world: &World) -> Snapshot {
        Snapshot {
            twin: world.resource::<DrawTwin>().clone(),
            agents: world.resource::<DrawAgents>().clone(),
            traffic: world.resource::<DrawTraffic>().clone(),
        }
    }
}

/// A rendered picture: RGBA, 8 bits per channel, sRGB, rows from the top.
#[derive(Clone, Debug)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Picture {
    /// The colour at column `x`, row `y` (`None` outside the picture).
    pub fn pixel(&self, x: i64, y: i64) -> Option<Rgb> {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some(Rgb(self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]))
    }

    /// The picture as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, ViewerError> {
        let buffer = image::RgbaImage::from_raw(self.width, self.height, self.rgba.clone())
            .ok_or_else(|| ViewerError::Render("the picture's size does not match its pixels".into()))?;
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(buffer)
            .to_rgb8()
            .write_to(&mut bytes, image::ImageFormat::Png)
            .map_err(|e| ViewerError::Render(format!("cannot encode the PNG: {e}")))?;
        Ok(bytes.into_inner())
    }

    /// Writes the PNG atomically (a temporary file renamed); an existing file is replaced only
    /// with `force`.
    pub fn write_png(&self, path: &Path, force: bool) -> Result<(), ViewerError> {
        if path.exists() && !force {
            return Err(ViewerError::Exists(path.to_path_buf()));
        }
        let bytes = self.to_png()?;
        crate::report::write_atomic(path, &bytes).map_err(|e| ViewerError::Output(e.to_string()))
    }
}

/// Largest picture side, pixels (Vulkan's guaranteed minimum image size is 4096; lavapipe allows 8192+).
pub const MAX_SIDE: u32 = 8192;

/// An offscreen renderer: a windowless Bevy app with one camera drawing into an image.
pub struct Renderer {
    apps: SubApps,
    target: Handle<Image>,
    camera: Entity,
    size: (u32, u32),
}

/// Frames rendered before the picture is taken: meshes spawned in one frame are extracted and
/// their pipelines compiled (synchronously) in the next ones.
const WARM_UP_FRAMES: usize = 3;
/// Frames to wait for the read-back after the screenshot is requested.
const CAPTURE_FRAMES: usize = 30;

impl Renderer {
    /// A renderer of pictures of `size` pixels for the twin of `snapshot`. Fails with a message
    /// naming the missing driver when there is no graphics adapter (GPU or Mesa's lavapipe).
    pub fn new(snapshot: &Snapshot, size: (u32, u32)) -> Result<Renderer, ViewerError> {
        if size.0 == 0 || size.1 == 0 || size.0 > MAX_SIDE || size.1 > MAX_SIDE {
            return Err(ViewerError::Arguments(format!(
                "picture size {}x{} is outside 1–{MAX_SIDE} pixels a side",
                size.0, size.1
            )));
        }
        let (mut app, target, camera) = catch_renderer_panic(|| build_app(snapshot, size))?;
        if app.world().get_resource::<RenderDevice>().is_none() {
            return Err(ViewerError::NoAdapter);
        }
        Ok(Renderer { apps: std::mem::take(app.sub_apps_mut()), target, camera, size })
    }

    /// Covers the floors with the density heatmap in the pictures from now on (or not).
    pub fn set_heatmap(&mut self, on: bool) {
        self.apps.main.world_mut().insert_resource(Heatmap(on));
    }

    /// Draws `agents` (another run's people at the same time) as ghosts in the pictures from now on
    /// (`None`: no more).
    pub fn set_compare(&mut self, agents: Option<&DrawAgents>) {
        self.apps.main.world_mut().insert_resource(super::compare::CompareAgents(agents.cloned()));
    }

    /// Puts `snapshot`'s draw data in the renderer's world and the camera at `view`.
    fn show(&mut self, snapshot: &Snapshot, view: &ViewCamera) {
        let world = self.apps.main.world_mut();
        world.insert_resource(snapshot.twin.clone());
        world.insert_resource(snapshot.agents.clone());
        world.insert_resource(snapshot.traffic.clone());
        world.insert_resource(LevelCut(view.cut));
        world.entity_mut(self.camera).insert((view.transform(), view.bevy_projection()));
    }

    /// Renders `snapshot` through `view` and reads the picture back.
    pub fn render(&mut self, snapshot: &Snapshot, view: &ViewCamera) -> Result<Picture, ViewerError> {
        self.show(snapshot, view);
        for _ in 0..WARM_UP_FRAMES {
            self.update()?;
        }
        let captured: Arc<Mutex<Option<Image>>> = Arc::default();
        let slot = captured.clone();
        self.apps.main.world_mut().spawn(Screenshot::image(self.target.clone())).observe(
            move |shot: On<ScreenshotCaptured>| {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(shot.image.clone());
                }
            },
        );
        for _ in 0..CAPTURE_FRAMES {
            self.update()?;
            let image = captured.lock().ok().and_then(|mut s| s.take());
            if let Some(image) = image {
                return picture_of(image, self.size);
            }
        }
        Err(ViewerError::Render(format!("the picture was not read back within {CAPTURE_FRAMES} frames")))
    }

    /// Draws one frame of `snapshot` through `view` without reading it back; returns the seconds
    /// the viewer's own systems took in it.
    pub fn frame(&mut self, snapshot: &Snapshot, view: &ViewCamera) -> Result<f64, ViewerError> {
        self.show(snapshot, view);
        self.update()?;
        Ok(self.apps.main.world().resource::<SceneTiming>().seconds)
    }

    /// One frame, waiting for the GPU (or lavapipe) to finish it.
    fn update(&mut self) -> Result<(), ViewerError> {
        self.apps.update();
        self.apps
            .main
            .world()
            .resource::<RenderDevice>()
            .wgpu_device()
            .poll(PollType::Wait { submission_index: None, timeout: None })
            .map(|_| ())
            .map_err(|e| ViewerError::Render(format!("rendering failed: {e}")))
    }
}

/// Runs `build` (which adds Bevy's render plugins), turning Bevy's panic when it finds no graphics
/// adapter into [`ViewerError::NoAdapter`]: that is a missing driver here, not a bug (and the
/// panic's message is kept off the terminal).
pub fn catch_renderer_panic<T>(build: impl FnOnce() -> T) -> Result<T, ViewerError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = catch_unwind(AssertUnwindSafe(build));
    std::panic::set_hook(hook);
    built.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        if message.contains("GPU") || message.contains("adapter") {
            ViewerError::NoAdapter
        } else {
            ViewerError::Render(format!("the renderer could not start: {message}"))
        }
    })
}

fn build_app(snapshot: &Snapshot, size: (u32, u32)) -> (App, Handle<Image>, Entity) {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin { primary_window: None, exit_condition: ExitCondition::DontExit, ..default() })
            // Every pipeline compiled before the frame that needs it: otherwise the first frames are black.
            .set(RenderPlugin { synchronous_pipeline_compilation: true, ..default() })
            // One update renders one frame, so the frame read back is the one just drawn.
            .disable::<PipelinedRenderingPlugin>()
            .disable::<WinitPlugin>()
            // unitwin reports its own errors and handles Ctrl-C; a renderer made twice in one process
            // must not install a second global logger.
            .disable::<LogPlugin>()
            .disable::<TerminalCtrlCHandlerPlugin>()
            .disable::<PanicHandlerPlugin>(),
    );
    app.insert_resource(snapshot.twin.clone())
        .insert_resource(snapshot.agents.clone())
        .insert_resource(snapshot.traffic.clone())
        .add_plugins(ScenePlugin);
    let mut image = Image::new_uninit(
        Extent3d { width: size.0, height: size.1, depth_or_array_layers: 1 },
        TextureDimension::D2,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT;
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
    let camera = app
        .world_mut()
        .spawn((
            Camera3d::default(),
            Camera { clear_color: ClearColorConfig::Custom(palette::BACKGROUND.color()), ..default() },
            RenderTarget::Image(target.clone().into()),
            // Exact palette colours in the picture: no tone mapping, no dithering noise.
            Tonemapping::None,
            DebandDither::Disabled,
            Msaa::Sample4,
        ))
        .id();
    app.finish();
    app.cleanup();
    (app, target, camera)
}

/// A picture of an image read back from the GPU (any size).
pub fn picture_of_image(image: Image) -> Result<Picture, ViewerError> {
    let dynamic =
        image.try_into_dynamic().map_err(|e| ViewerError::Render(format!("unreadable picture from the GPU: {e}")))?;
    let rgba = dynamic.to_rgba8();
    Ok(Picture { width: rgba.width(), height: rgba.height(), rgba: rgba.into_raw() })
}

fn picture_of(image: Image, size: (u32, u32)) -> Result<Picture, ViewerError> {
    let picture = picture_of_image(image)?;
    if (picture.width, picture.height) != size {
        return Err(ViewerError::Render(format!(
            "the picture read back is {}x{}, not {}x{}",
            picture.width, picture.height, size.0, size.1
        )));
    }
    Ok(picture)
}
