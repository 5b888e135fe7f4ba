//! `vehicles.csv`: every vehicle at every output frame (time, id, type, position, heading,
//! speed, lane), in time and id order.

use std::io::{self, Write};

use crate::metrics::{FrameVehicle, VehicleSink};
use crate::traffic::Network;

pub const VEHICLES_HEADER: &str = "t,id,type,x,y,z,heading_deg,speed,lane\n";

/// Writes vehicle frames as CSV lines.
pub struct VehicleCsvWriter<W: Write + Send + Sync> {
    out: W,
    labels: Vec<String>,
}

impl<W: Write + Send + Sync> VehicleCsvWriter<W> {
    pub fn new(mut out: W, net: &Network) -> io::Result<Self> {
        out.write_all(VEHICLES_HEADER.as_bytes())?;
        let labels = (0..net.links.len() as u32).map(|l| net.link_label(l)).collect();
        Ok(VehicleCsvWriter { out, labels })
    }
}

impl<W: Write + Send + Sync> VehicleSink for VehicleCsvWriter<W> {
    fn frame(&mut self, t: f64, vehicles: &[FrameVehicle]) -> io::Result<()> {
        for v in vehicles {
            let [x, y, z] = v.world;
            writeln!(
                self.out,
                "{t:.2},{},{},{x:.3},{y:.3},{z:.3},{:.1},{:.3},{}",
                v.id,
                v.kind.name(),
                v.heading,
                v.speed,
                self.labels[v.link as usize]
            )?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
