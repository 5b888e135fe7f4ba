// Agents and vehicles: one mesh and one material for all of them (so Bevy instances them in one
// draw call); each instance's colour is its MeshTag, an sRGB colour packed as r | g << 8 | b << 16.

#import bevy_pbr::{
    mesh_functions,
    view_transformations::position_world_to_clip
}

// x: brightness of the sides (tops keep the colour exactly, as seen from above).
@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> shading: vec4<f32>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
};

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + vec3(0.055)) / 1.055, vec3(2.4));
    return select(high, low, c <= vec3(0.04045));
}

@vertex
fn vertex(vertex: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let tag = mesh_functions::get_tag(vertex.instance_index);
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    let world_position = mesh_functions::mesh_position_local_to_world(world_from_local, vec4(vertex.position, 1.0));
    out.clip_position = position_world_to_clip(world_position.xyz);
    let srgb = unpack4x8unorm(tag).rgb;
    let brightness = select(shading.x, 1.0, vertex.normal.y > 0.5);
    out.color = vec4(srgb_to_linear(srgb * brightness), 1.0);
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    return in.color;
}
