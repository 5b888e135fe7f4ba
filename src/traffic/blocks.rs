//! Lanes blocked by barriers and obstacles placed on the carriageway (a crashed vehicle, police
//! barriers across a road): where along each lane vehicles must stop short.

use bevy::math::DVec2;
use bevy::prelude::Resource;

use super::network::Network;
use crate::space::Space;

/// Sample spacing along a barrier, m: finer than any lane is wide.
const SAMPLE: f64 = 0.25;

/// For each link, the distances along it (sorted) at which a placed barrier stands in its way.
#[derive(Resource, Default, Debug)]
pub struct LaneBlocks {
    per_link: Vec<Vec<f64>>,
    /// The space's walls version these were found for.
    walls_version: u64,
}

impl LaneBlocks {
    /// Finds the blocks again if barriers changed since the last call.
    pub fn follow(&mut self, net: &Network, space: &Space) {
        if self.walls_version == space.walls_version && self.per_link.len() == net.links.len() {
            return;
        }
        self.walls_version = space.walls_version;
        self.per_link.clear();
        self.per_link.resize(net.links.len(), Vec::new());
        for barrier in space.barriers.iter().filter(|b| b.placed) {
            let samples: Vec<DVec2> = barrier
                .segments
                .iter()
                .flat_map(|s| {
                    let n = (s.a.distance(s.b) / SAMPLE).ceil().max(1.0) as usize;
                    (0..=n).map(move |i| s.a.lerp(s.b, i as f64 / n as f64))
                })
                .collect();
            for (k, link) in net.links.iter().enumerate() {
                if link.level != barrier.level {
                    continue;
                }
                // The first place along the lane that the barrier reaches into.
                let first = samples
                    .iter()
                    .map(|&p| link.project(p))
                    .filter(|&(s, off)| off <= link.width / 2.0 && (0.0..=link.length).contains(&s))
                    .map(|(s, _)| s)
                    .min_by(f64::total_cmp);
                if let Some(s) = first {
                    self.per_link[k].push(s);
                }
            }
        }
        for blocks in &mut self.per_link {
            blocks.sort_by(f64::total_cmp);
        }
    }

    /// Where `link` is blocked, by distance along it.
    #[inline]
    pub fn on_link(&self, link: u32) -> &[f64] {
        self.per_link.get(link as usize).map_or(&[], Vec::as_slice)
    }
}
