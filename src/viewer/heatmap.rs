//! The density heatmap on the floors (1 m cells coloured by Fruin's Level of Service of the density
//! around them) and the marker on the densest person now; built from the draw data alone.

use geo::{Contains, Point, Polygon};

use super::camera::draw_polygon;
use super::geometry::{Builder, MeshData, SceneFrame, below_cut};
use super::palette;
use crate::draw::{DrawAgent, DrawAgents, DrawTwin};

/// Edge of a heatmap cell, m.
pub const HEAT_CELL: f64 = 1.0;
/// A cell's density is the people in the 3 × 3 cells around it over their area (9 m²): a box
/// filter wide enough to smooth single people into a map, narrow enough to show a queue.
const BLOCK: i64 = 1;
/// The cells are drawn this far above their floor: over zones and measurements, under people.
const LIFT: f64 = 0.09;
/// The ring round the densest person has the radius of the disc local density is measured in.
pub const PEAK_RING_RADIUS: f64 = 1.0;
const PEAK_RING_WIDTH: f64 = 0.3;
/// The pole over the densest person shows above the crowd.
const PEAK_POLE_HEIGHT: f64 = 3.0;

/// One floor's cells: which are walkable, and the people counted in each.
struct FloorCells {
    elevation: f64,
    origin: [f64; 2],
    nx: usize,
    ny: usize,
    walkable: Vec<bool>,
    counts: Vec<u16>,
    /// Cells already drawn this frame (cleared again after drawing).
    drawn: Vec<bool>,
}

/// The unit's floors as cells, built once per unit and counted again for each frame.
pub struct HeatGrid {
    floors: Vec<FloorCells>,
    /// Cells with people this frame, to clear them cheaply.
    touched: Vec<(usize, usize)>,
    /// Cells drawn this frame, to clear their marks (kept to reuse its memory).
    drawn_cells: Vec<(usize, usize)>,
}

impl HeatGrid {
    pub fn of(twin: &DrawTwin) -> HeatGrid {
        let origin = [libm::floor(twin.min[0]), libm::floor(twin.min[1])];
        let nx = (libm::ceil(twin.max[0] - origin[0]) / HEAT_CELL) as usize + 1;
        let ny = (libm::ceil(twin.max[1] - origin[1]) / HEAT_CELL) as usize + 1;
        let floors = twin
            .levels
            .iter()
            .map(|level| {
                let polygons: Vec<Polygon<f64>> = level.walkable.iter().map(draw_polygon).collect();
                let mut walkable = vec![false; nx * ny];
                for j in 0..ny {
                    for i in 0..nx {
                        let centre = Point::new(
                            origin[0] + (i as f64 + 0.5) * HEAT_CELL,
                            origin[1] + (j as f64 + 0.5) * HEAT_CELL,
                        );
                        walkable[j * nx + i] = polygons.iter().any(|p| p.contains(&centre));
                    }
                }
                FloorCells {
                    elevation: level.elevation,
                    origin,
                    nx,
                    ny,
                    walkable,
                    counts: vec![0; nx * ny],
                    drawn: vec![false; nx * ny],
                }
            })
            .collect();
        HeatGrid { floors, touched: Vec::new(), drawn_cells: Vec::new() }
    }

    /// The floor an agent stands on: the one nearest below its height.
    fn floor_of(&self, agent: &DrawAgent) -> Option<usize> {
        let z = agent.pos[2];
        (0..self.floors.len())
            .filter(|&f| self.floors[f].elevation <= z + 0.25)
            .max_by(|&a, &b| self.floors[a].elevation.total_cmp(&self.floors[b].elevation))
    }

    /// Counts the agents into their cells (people on flights are left out: a flight is not a floor).
    pub fn count(&mut self, agents: &DrawAgents) {
        for &(f, c) in &self.touched {
            self.floors[f].counts[c] = 0;
        }
        self.touched.clear();
        for agent in agents.agents.iter().filter(|a| a.on_stair.is_none()) {
            let Some(f) = self.floor_of(agent) else { continue };
            let floor = &mut self.floors[f];
            let i = libm::floor((agent.pos[0] - floor.origin[0]) / HEAT_CELL);
            let j = libm::floor((agent.pos[1] - floor.origin[1]) / HEAT_CELL);
            if i < 0.0 || j < 0.0 || i >= floor.nx as f64 || j >= floor.ny as f64 {
                continue;
            }
            let c = j as usize * floor.nx + i as usize;
            if floor.counts[c] == 0 {
                self.touched.push((f, c));
            }
            floor.counts[c] = floor.counts[c].saturating_add(1);
        }
    }

    /// Persons/m² around cell (i, j) of floor `f`: the people in the 3 × 3 cells around it over
    /// their area.
    pub fn density(&self, f: usize, i: usize, j: usize) -> f64 {
        let floor = &self.floors[f];
        let mut people = 0u32;
        for dj in -BLOCK..=BLOCK {
            for di in -BLOCK..=BLOCK {
                let (x, y) = (i as i64 + di, j as i64 + dj);
                if x >= 0 && y >= 0 && (x as usize) < floor.nx && (y as usize) < floor.ny {
                    people += u32::from(floor.counts[y as usize * floor.nx + x as usize]);
                }
            }
        }
        let side = (2 * BLOCK + 1) as f64 * HEAT_CELL;
        people as f64 / (side * side)
    }

    /// The walkable cells with people around them, coloured by their Level of Service, on the
    /// floors under `cut`.
    pub fn mesh(&mut self, frame: SceneFrame, cut: Option<f64>) -> MeshData {
        let mut b = Builder::new(frame);
        let mut drawn = std::mem::take(&mut self.drawn_cells);
        for t in 0..self.touched.len() {
            let (f, c) = self.touched[t];
            let FloorCells { elevation, origin, nx, ny, .. } = self.floors[f];
            if !below_cut(elevation, cut) {
                continue;
            }
            // Only cells within reach of someone can be above zero: the blocks round the people.
            let (ci, cj) = ((c % nx) as i64, (c / nx) as i64);
            for dj in -BLOCK..=BLOCK {
                for di in -BLOCK..=BLOCK {
                    let (x, y) = (ci + di, cj + dj);
                    if x < 0 || y < 0 || x as usize >= nx || y as usize >= ny {
                        continue;
                    }
                    let k = y as usize * nx + x as usize;
                    if self.floors[f].drawn[k] || !self.floors[f].walkable[k] {
                        continue;
                    }
                    drawn.push((f, k));
                    let density = self.density(f, x as usize, y as usize);
                    let (x0, y0) = (origin[0] + x as f64 * HEAT_CELL, origin[1] + y as f64 * HEAT_CELL);
                    let z = elevation + LIFT;
                    b.quad(
                        [
                            [x0, y0, z],
                            [x0 + HEAT_CELL, y0, z],
                            [x0 + HEAT_CELL, y0 + HEAT_CELL, z],
                            [x0, y0 + HEAT_CELL, z],
                        ],
                        [0.0, 1.0, 0.0],
                        palette::density_colour(density as f32),
                    );
                    self.floors[f].drawn[k] = true;
                }
            }
        }
        for &(f, k) in &drawn {
            self.floors[f].drawn[k] = false;
        }
        drawn.clear();
        self.drawn_cells = drawn;
        b.mesh
    }
}

/// The person with the highest local density now on the floors under `cut` (the lowest id among
/// equals: agents come sorted by id).
pub fn densest(agents: &DrawAgents, cut: Option<f64>) -> Option<&DrawAgent> {
    agents.agents.iter().filter(|a| below_cut(a.pos[2], cut)).fold(None, |best: Option<&DrawAgent>, a| match best {
        Some(b) if b.density >= a.density => Some(b),
        _ => Some(a),
    })
}

/// A ring of the 1 m measuring disc round `agent` on its floor, and a pole over it.
pub fn peak_marker(agent: &DrawAgent, frame: SceneFrame) -> MeshData {
    let mut b = Builder::new(frame);
    let [x, y, z] = agent.pos;
    let ring: Vec<[f64; 3]> = (0..32)
        .map(|k| {
            let a = k as f64 / 32.0 * std::f64::consts::TAU;
            [x + PEAK_RING_RADIUS * libm::cos(a), y + PEAK_RING_RADIUS * libm::sin(a), z]
        })
        .collect();
    b.outline(&ring, PEAK_RING_WIDTH, z + LIFT + 0.03, palette::PEAK);
    let h = 0.08;
    b.beam([x - h, y, z], [x + h, y, z], 2.0 * h, z, z + PEAK_POLE_HEIGHT, palette::PEAK);
    b.mesh
}
