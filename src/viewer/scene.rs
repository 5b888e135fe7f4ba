//! The 3D scene in a Bevy world: the static twin mesh (rebuilt when a door or zone changes), the north
//! arrow and scale bar, and the agents and vehicles (instances of one mesh each, coloured by `MeshTag`).

use bevy::asset::{RenderAssetUsages, uuid_handle};
use bevy::mesh::{Indices, MeshTag, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, Face};
use bevy::shader::ShaderRef;

use super::compare::CompareAgents;
use super::decorations::Decorations;
use super::geometry::{MeshData, SceneFrame, below_cut, twin_mesh};
use super::heatmap::{HeatGrid, densest, peak_marker};
use super::palette::{self, AgentColouring};
use crate::draw::{DrawAgents, DrawTraffic, DrawTwin};
use crate::scene::VehicleKind;

/// Drawn height of a person, m.
pub const AGENT_HEIGHT: f32 = 1.7;
/// Drawn height of a compared run's person (a ghost): lower than this run's people, so that a
/// ghost shows beside them and vanishes inside one standing where it stands.
pub const GHOST_HEIGHT: f32 = 1.0;
/// Brightness of the sides of agents and vehicles (their tops keep their colour).
const SIDE_BRIGHTNESS: f32 = 0.78;

const AGENT_SHADER: Handle<Shader> = uuid_handle!("6b1f4d5e-23c8-4e0b-9a57-0d4f1c8e7a31");

/// The material of every agent and vehicle: the colour comes from each instance's `MeshTag`.
#[derive(Asset, TypePath, AsBindGroup, Clone, Debug)]
pub struct TagColourMaterial {
    /// x: brightness of the sides.
    #[uniform(0)]
    pub shading: Vec4,
}

impl Material for TagColourMaterial {
    fn vertex_shader() -> ShaderRef {
        AGENT_SHADER.into()
    }
    fn fragment_shader() -> ShaderRef {
        AGENT_SHADER.into()
    }
}

/// The agents' colouring now (a key or the panel switches it).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Colouring(pub AgentColouring);

/// Floors above this elevation are left out, with the people on them (`None`: all drawn); set by
/// the view, `--level` or the window's level keys.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq)]
pub struct LevelCut(pub Option<f64>);

/// Whether the density heatmap covers the floors (H in the window, `--heatmap` for pictures). The
/// densest person is marked while it does, and whenever someone is in Level of Service F.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heatmap(pub bool);

/// The CPU time the scene's systems took in the last frame (for `unitwin bench-viewer`).
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct SceneTiming {
    pub seconds: f64,
    started: Option<std::time::Instant>,
}

fn start_timing(mut timing: ResMut<SceneTiming>) {
    timing.started = Some(std::time::Instant::now());
}

fn stop_timing(mut timing: ResMut<SceneTiming>) {
    if let Some(started) = timing.started.take() {
        timing.seconds = started.elapsed().as_secs_f64();
    }
}

/// Where the scene sits in Bevy's space (fixed when the twin is first drawn).
#[derive(Resource, Clone, Copy, Debug)]
pub struct Frame(pub SceneFrame);

/// The entities drawing the twin, and the shared meshes and materials.
#[derive(Resource)]
struct SceneEntities {
    twin: Option<(u64, Option<f64>, Entity)>,
    /// The north arrow and scale bar, and what they were drawn for.
    decorations: Option<(Decorations, Entity)>,
    twin_material: Handle<StandardMaterial>,
    person: Handle<Mesh>,
    block: Handle<Mesh>,
    tag_material: Handle<TagColourMaterial>,
    agents: Vec<Entity>,
    vehicles: Vec<Entity>,
    ghosts: Vec<Entity>,
    /// The heatmap's cells (built for the first twin drawn), its entity and the peak marker's.
    heat_grid: Option<HeatGrid>,
    heat: Option<Entity>,
    peak: Option<Entity>,
}

/// Draws whatever `DrawTwin`, `DrawAgents` and `DrawTraffic` hold in this world.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.world_mut()
            .resource_mut::<Assets<Shader>>()
            .insert(AGENT_SHADER.id(), Shader::from_wgsl(include_str!("agents.wgsl"), "unitwin/viewer/agents.wgsl"))
            .expect("a fixed handle takes the agents' shader");
        app.add_plugins(MaterialPlugin::<TagColourMaterial>::default())
            .init_resource::<Colouring>()
            .init_resource::<LevelCut>()
            .init_resource::<Heatmap>()
            .init_resource::<CompareAgents>()
            .add_systems(PreStartup, setup_scene)
            .init_resource::<SceneTiming>()
            .add_systems(
                Update,
                (start_timing, (draw_twin, draw_agents, draw_vehicles, draw_ghosts, draw_heatmap), stop_timing).chain(),
            );
    }
}

fn setup_scene(
    mut commands: Commands,
    twin: Res<DrawTwin>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut tag_materials: ResMut<Assets<TagColourMaterial>>,
) {
    commands.insert_resource(Frame(SceneFrame::of(&twin)));
    commands.insert_resource(SceneEntities {
        twin: None,
        decorations: None,
        // Unlit: the colours are baked into the vertices, so the scene needs no lights and every
        // surface shows exactly its palette colour (walls darkened by their baked shade).
        twin_material: materials.add(StandardMaterial {
            base_color: Color::WHITE,
            unlit: true,
            cull_mode: None::<Face>,
            double_sided: true,
            ..default()
        }),
        person: meshes.add(Cylinder::new(1.0, 1.0)),
        block: meshes.add(Cuboid::new(1.0, 1.0, 1.0)),
        tag_material: tag_materials.add(TagColourMaterial { shading: Vec4::new(SIDE_BRIGHTNESS, 0.0, 0.0, 0.0) }),
        agents: Vec::new(),
        vehicles: Vec::new(),
        ghosts: Vec::new(),
        heat_grid: None,
        heat: None,
        peak: None,
    });
}

/// A Bevy mesh of mesh data.
pub fn to_mesh(data: MeshData) -> Mesh {
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::default())
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, data.positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, data.normals)
        .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, data.colours)
        .with_inserted_indices(Indices::U32(data.indices))
}

fn draw_twin(
    mut commands: Commands,
    twin: Res<DrawTwin>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    mut scene: ResMut<SceneEntities>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    // A new twin (another snapshot), a new state of its doors and zones, or another cut.
    if !twin.is_changed() && scene.twin.is_some_and(|(version, drawn, _)| version == twin.version && drawn == cut.0) {
        return;
    }
    // The arrow and bar depend only on the unit's bounds: drawn once, again only for another unit.
    let decorations = Decorations::of(&twin);
    if scene.decorations.as_ref().is_none_or(|(drawn, _)| *drawn != decorations) {
        let mesh = meshes.add(to_mesh(decorations.mesh(frame.0)));
        match scene.decorations.take() {
            Some((_, entity)) => {
                commands.entity(entity).insert(Mesh3d(mesh));
                scene.decorations = Some((decorations, entity));
            }
            None => {
                let entity = commands.spawn((Mesh3d(mesh), MeshMaterial3d(scene.twin_material.clone()))).id();
                scene.decorations = Some((decorations, entity));
            }
        }
    }
    let mesh = meshes.add(to_mesh(twin_mesh(&twin, frame.0, cut.0)));
    match scene.twin {
        Some((_, _, entity)) => {
            commands.entity(entity).insert(Mesh3d(mesh));
            scene.twin = Some((twin.version, cut.0, entity));
        }
        None => {
            let entity = commands.spawn((Mesh3d(mesh), MeshMaterial3d(scene.twin_material.clone()))).id();
            scene.twin = Some((twin.version, cut.0, entity));
        }
    }
}

/// An instance's place in its pool (the agents' or the vehicles'): it draws item `0` of the frame.
#[derive(Component, Clone, Copy, Debug)]
struct Slot(u32);

#[derive(Component, Default)]
struct AgentInstance;

#[derive(Component, Default)]
struct VehicleInstance;

/// One of the compared run's people.
#[derive(Component, Default)]
struct GhostInstance;

type Instances<'w, 's, F> =
    Query<'w, 's, (&'static Slot, &'static mut Transform, &'static mut MeshTag, &'static mut Visibility), F>;

/// Places the pool's instances of `mesh`: instance `i` draws item `item(i)` (transform, packed
/// colour) for `i < count`, what is missing is spawned and the rest hidden. Existing instances are
/// updated in place and in parallel (each writes only itself), so a frame issues no command per
/// agent once the crowd is there.
fn place<M: Component + Default, F: bevy::ecs::query::QueryFilter>(
    commands: &mut Commands,
    pool: &mut Vec<Entity>,
    count: usize,
    item: impl Fn(usize) -> (Transform, u32) + Sync,
    mesh: &Handle<Mesh>,
    material: &Handle<TagColourMaterial>,
    instances: &mut Instances<F>,
) {
    for i in pool.len()..count {
        let (transform, tag) = item(i);
        let slot = Slot(i as u32);
        pool.push(
            commands
                .spawn((
                    M::default(),
                    slot,
                    Mesh3d(mesh.clone()),
                    MeshMaterial3d(material.clone()),
                    MeshTag(tag),
                    transform,
                ))
                .id(),
        );
    }
    instances.par_iter_mut().for_each(|(slot, mut t, mut m, mut v)| {
        let i = slot.0 as usize;
        if i < count {
            let (transform, tag) = item(i);
            *t = transform;
            m.0 = tag;
            v.set_if_neq(Visibility::Inherited);
        } else {
            v.set_if_neq(Visibility::Hidden);
        }
    });
}

fn draw_agents(
    mut commands: Commands,
    agents: Res<DrawAgents>,
    twin: Res<DrawTwin>,
    colouring: Res<Colouring>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    mut scene: ResMut<SceneEntities>,
    mut instances: Instances<(With<AgentInstance>, Without<VehicleInstance>, Without<GhostInstance>)>,
    mut shown: Local<Vec<u32>>,
) {
    if !agents.is_changed() && !colouring.is_changed() && !cut.is_changed() {
        return;
    }
    let scene = &mut *scene;
    // People on a flight show with the floor it leaves from.
    let on_shown_stair = |agent: &crate::draw::DrawAgent| {
        agent
            .on_stair
            .is_some_and(|id| twin.stairs.iter().any(|s| s.id == id && below_cut(s.foot[2].min(s.head[2]), cut.0)))
    };
    shown.clear();
    if cut.0.is_some() {
        let visible = |(_, a): &(usize, &crate::draw::DrawAgent)| below_cut(a.pos[2], cut.0) || on_shown_stair(a);
        shown.extend(agents.agents.iter().enumerate().filter(visible).map(|(i, _)| i as u32));
    }
    let (all, shown) = (cut.0.is_none(), &*shown);
    let count = if all { agents.agents.len() } else { shown.len() };
    let item = |i: usize| {
        let agent = &agents.agents[if all { i } else { shown[i] as usize }];
        let [x, y, z] = frame.0.to_bevy(agent.pos);
        let r = agent.radius.max(0.05);
        (
            Transform::from_xyz(x, y + AGENT_HEIGHT / 2.0, z).with_scale(Vec3::new(r, AGENT_HEIGHT, r)),
            palette::agent_colour(agent, colouring.0).packed(),
        )
    };
    place::<AgentInstance, _>(
        &mut commands,
        &mut scene.agents,
        count,
        item,
        &scene.person,
        &scene.tag_material,
        &mut instances,
    );
}

/// Drawn height of a vehicle of a kind, m.
fn vehicle_height(kind: VehicleKind) -> f32 {
    match kind {
        VehicleKind::Car => 1.5,
        VehicleKind::Van => 2.2,
        VehicleKind::Bus => 3.2,
        VehicleKind::Ebike => 1.2,
    }
}

fn draw_vehicles(
    mut commands: Commands,
    traffic: Res<DrawTraffic>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    mut scene: ResMut<SceneEntities>,
    mut instances: Instances<(With<VehicleInstance>, Without<AgentInstance>, Without<GhostInstance>)>,
    mut items: Local<Vec<(Transform, u32)>>,
) {
    if !traffic.is_changed() && !cut.is_changed() {
        return;
    }
    let scene = &mut *scene;
    items.clear();
    items.extend(traffic.vehicles.iter().filter(|v| below_cut(v.centre[2], cut.0)).map(|v| {
        let [x, y, z] = frame.0.to_bevy(v.centre);
        let h = vehicle_height(v.kind);
        let colour = if v.parked {
            palette::VEHICLE_PARKED
        } else if v.braking {
            palette::VEHICLE_BRAKING
        } else {
            palette::VEHICLE
        };
        (
            Transform::from_xyz(x, y + h / 2.0, z)
                .with_rotation(Quat::from_rotation_y(v.heading[1].atan2(v.heading[0]) as f32))
                .with_scale(Vec3::new(v.length as f32, h, v.width as f32)),
            colour.packed(),
        )
    }));
    let items = &*items;
    place::<VehicleInstance, _>(
        &mut commands,
        &mut scene.vehicles,
        items.len(),
        |i| items[i],
        &scene.block,
        &scene.tag_material,
        &mut instances,
    );
}

/// Draws the compared run's people (`--compare`) as ghosts of one colour, the floors above the cut
/// left out as for this run's people.
fn draw_ghosts(
    mut commands: Commands,
    ghosts: Res<CompareAgents>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    mut scene: ResMut<SceneEntities>,
    mut instances: Instances<(With<GhostInstance>, Without<AgentInstance>, Without<VehicleInstance>)>,
    mut shown: Local<Vec<u32>>,
) {
    if !ghosts.is_changed() && !cut.is_changed() {
        return;
    }
    let scene = &mut *scene;
    let agents = ghosts.0.as_ref().map_or(&[][..], |g| &g.agents[..]);
    shown.clear();
    shown.extend(agents.iter().enumerate().filter(|(_, a)| below_cut(a.pos[2], cut.0)).map(|(i, _)| i as u32));
    let shown = &*shown;
    let item = |i: usize| {
        let agent = &agents[shown[i] as usize];
        let [x, y, z] = frame.0.to_bevy(agent.pos);
        let r = agent.radius.max(0.05);
        (
            Transform::from_xyz(x, y + GHOST_HEIGHT / 2.0, z).with_scale(Vec3::new(r, GHOST_HEIGHT, r)),
            palette::COMPARE.packed(),
        )
    };
    place::<GhostInstance, _>(
        &mut commands,
        &mut scene.ghosts,
        shown.len(),
        item,
        &scene.person,
        &scene.tag_material,
        &mut instances,
    );
}

/// Redraws the heatmap and the peak marker when the people, the switch or the cut change.
#[allow(clippy::too_many_arguments)]
fn draw_heatmap(
    mut commands: Commands,
    agents: Res<DrawAgents>,
    twin: Res<DrawTwin>,
    heatmap: Res<Heatmap>,
    cut: Res<LevelCut>,
    frame: Res<Frame>,
    mut scene: ResMut<SceneEntities>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    if !agents.is_changed() && !heatmap.is_changed() && !cut.is_changed() {
        return;
    }
    let scene = &mut *scene;
    let material = scene.twin_material.clone();
    let mut show = |slot: &mut Option<Entity>, mesh: Option<MeshData>, commands: &mut Commands| match (mesh, *slot) {
        (Some(data), Some(entity)) => {
            commands.entity(entity).insert((Mesh3d(meshes.add(to_mesh(data))), Visibility::Inherited));
        }
        (Some(data), None) => {
            *slot = Some(commands.spawn((Mesh3d(meshes.add(to_mesh(data))), MeshMaterial3d(material.clone()))).id());
        }
        (None, Some(entity)) => {
            commands.entity(entity).insert(Visibility::Hidden);
        }
        (None, None) => {}
    };
    let cells = heatmap.0.then(|| {
        let grid = scene.heat_grid.get_or_insert_with(|| HeatGrid::of(&twin));
        grid.count(&agents);
        grid.mesh(frame.0, cut.0)
    });
    show(&mut scene.heat, cells, &mut commands);
    let crowded = |d: f32| crate::metrics::cells::fruin_los(d as f64) == palette::LOS.len() - 1;
    let peak = densest(&agents, cut.0).filter(|a| heatmap.0 || crowded(a.density)).map(|a| peak_marker(a, frame.0));
    show(&mut scene.peak, peak, &mut commands);
}
