//! PedPy's text trajectory format: a header, then one line per agent per frame, in frame and
//! agent-id order, world coordinates in metres.

use std::io::{self, Write};

use super::summary::VERSION;
use crate::metrics::{FrameAgent, FrameSink};
use crate::scene::diagnostic::one_line;

/// The header of a PedPy-compatible text trajectory file.
pub fn trajectory_header(scene_name: &str, seed: u64, framerate: f64) -> String {
    format!(
        "# description: unitwin {VERSION} trajectories of '{}', seed {seed}\n\
         #framerate: {framerate}\n\
         # units: x/m y/m z/m (metres)\n\
         # ID: agent id, FRAME: frame number, X Y: position, Z: level elevation\n\
         # ID\tFRAME\tX\tY\tZ\n",
        one_line(scene_name)
    )
}

/// Writes frames as PedPy text lines.
pub struct TrajectoryWriter<W: Write + Send + Sync> {
    out: W,
}

impl<W: Write + Send + Sync> TrajectoryWriter<W> {
    pub fn new(mut out: W, scene_name: &str, seed: u64, framerate: f64) -> io::Result<Self> {
        out.write_all(trajectory_header(scene_name, seed, framerate).as_bytes())?;
        Ok(TrajectoryWriter { out })
    }
}

impl<W: Write + Send + Sync> FrameSink for TrajectoryWriter<W> {
    fn frame(&mut self, number: u64, _t: f64, agents: &[FrameAgent]) -> io::Result<()> {
        for a in agents {
            let [x, y, z] = a.world;
            writeln!(self.out, "{} {number} {x:.4} {y:.4} {z:.4}", a.id)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
