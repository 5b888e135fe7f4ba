//! The replay embedded in `report.html`: a frame sink that keeps a compact, bounded copy of the
//! trajectories (fewer frames, then fewer agents, when a run is large) beside the trajectory file.

use std::io;
use std::sync::{Arc, Mutex};

use crate::ids::Id;
use crate::metrics::cells::{CellMaps, fruin_los};
use crate::metrics::{FrameAgent, FrameSink};

/// Most agent positions the replay keeps; about 8 bytes each in the page (base64 of 6 bytes).
pub const REPLAY_BUDGET: usize = 1_250_000;
/// Most agents drawn in one frame; beyond that only every k-th agent id is kept.
pub const REPLAY_MAX_AGENTS_PER_FRAME: usize = 20_000;

#[derive(Clone, Copy, Debug)]
pub struct ReplayAgent {
    pub id: u32,
    /// Index of the floor (in the cell maps' order) the agent is drawn on.
    pub floor: u8,
    /// Fruin Level of Service of its local density, 0 = A … 5 = F.
    pub los: u8,
    /// World position, m.
    pub x: f32,
    pub y: f32,
}

#[derive(Clone, Copy, Debug)]
pub struct ReplayFrame {
    pub number: u64,
    pub t: f64,
    /// Its agents are `agents[start..start + count]`.
    pub start: usize,
    pub count: usize,
}

/// The kept frames: every `frame_stride`-th output frame, and of each the agents whose id is a
/// multiple of `agent_stride`. Both strides are powers of two, doubled (and what was kept thinned
/// to match) whenever the budget would be exceeded, so the result depends only on the run.
#[derive(Clone, Debug)]
pub struct ReplayBuffer {
    pub frame_stride: u64,
    pub agent_stride: u32,
    pub frames: Vec<ReplayFrame>,
    pub agents: Vec<ReplayAgent>,
    /// Agents on site in each kept frame before thinning by id (what the page says is on site).
    pub on_site: Vec<u32>,
    /// The map index of each level (stairs drawn on the floor at their foot).
    floor_of: Vec<Option<u8>>,
    /// The latest frame pushed, kept or not.
    latest: Vec<ReplayAgent>,
    latest_frame: Option<(u64, f64, u32)>,
    budget: usize,
    max_per_frame: usize,
}

impl ReplayBuffer {
    /// A replay of a space with `levels` levels, drawn on the floors of `cells`.
    pub fn new(cells: &CellMaps, levels: usize) -> Self {
        let floor_of = (0..levels)
            .map(|i| cells.floor_of(crate::ids::LevelId::from_index(i)).and_then(|f| u8::try_from(f).ok()))
            .collect();
        Self::with_budget(floor_of, REPLAY_BUDGET, REPLAY_MAX_AGENTS_PER_FRAME)
    }

    /// `floor_of`: the floor each level is drawn on (none: not drawn).
    pub fn with_budget(floor_of: Vec<Option<u8>>, budget: usize, max_per_frame: usize) -> Self {
        ReplayBuffer {
            frame_stride: 1,
            agent_stride: 1,
            frames: Vec::new(),
            agents: Vec::new(),
            on_site: Vec::new(),
            floor_of,
            latest: Vec::new(),
            latest_frame: None,
            budget: budget.max(1),
            max_per_frame: max_per_frame.max(1),
        }
    }

    pub fn push(&mut self, number: u64, t: f64, frame: &[FrameAgent]) {
        while frame.len().div_ceil(self.agent_stride as usize) > self.max_per_frame {
            self.thin_agents();
        }
        // Every frame is held until the next, so that the run's last frame is shown whatever the stride.
        self.latest.clear();
        for a in frame.iter().filter(|a| a.id.is_multiple_of(self.agent_stride)) {
            let Some(floor) = self.floor_of.get(a.level.index()).copied().flatten() else { continue };
            self.latest.push(ReplayAgent {
                id: a.id,
                floor,
                los: fruin_los(a.density as f64) as u8,
                x: a.world[0] as f32,
                y: a.world[1] as f32,
            });
        }
        self.latest_frame = Some((number, t, frame.len() as u32));
        if number.is_multiple_of(self.frame_stride) {
            self.keep_latest();
            while self.agents.len() > self.budget && self.frames.len() > 1 {
                self.thin_frames();
            }
        }
    }

    /// Ends the replay with the run's last frame, if the strides left it out.
    pub fn close(&mut self) {
        if let Some((number, ..)) = self.latest_frame
            && self.frames.last().is_none_or(|f| f.number != number)
        {
            self.keep_latest();
        }
    }

    fn keep_latest(&mut self) {
        let Some((number, t, on_site)) = self.latest_frame else { return };
        // The frame written when a run ends may repeat the number of the one before: keep the later.
        if self.frames.last().is_some_and(|f| f.number == number) {
            let last = self.frames.pop().expect("checked");
            self.agents.truncate(last.start);
            self.on_site.pop();
        }
        let start = self.agents.len();
        self.agents.extend_from_slice(&self.latest);
        self.frames.push(ReplayFrame { number, t, start, count: self.latest.len() });
        self.on_site.push(on_site);
    }

    /// Keeps only frames on a stride twice as long.
    fn thin_frames(&mut self) {
        self.frame_stride *= 2;
        let stride = self.frame_stride;
        self.compact(|f| f.number.is_multiple_of(stride), |_| true);
    }

    /// Keeps only agents on an id stride twice as long.
    fn thin_agents(&mut self) {
        self.agent_stride *= 2;
        let stride = self.agent_stride;
        self.compact(|_| true, |a| a.id.is_multiple_of(stride));
    }

    /// Drops frames and agents in place, keeping the order.
    fn compact(&mut self, keep_frame: impl Fn(&ReplayFrame) -> bool, keep_agent: impl Fn(&ReplayAgent) -> bool) {
        let (mut frames, mut on_site, mut write) = (Vec::new(), Vec::new(), 0);
        for (i, f) in self.frames.iter().enumerate() {
            if !keep_frame(f) {
                continue;
            }
            let start = write;
            for k in f.start..f.start + f.count {
                let a = self.agents[k];
                if keep_agent(&a) {
                    self.agents[write] = a;
                    write += 1;
                }
            }
            frames.push(ReplayFrame { number: f.number, t: f.t, start, count: write - start });
            on_site.push(self.on_site[i]);
        }
        self.agents.truncate(write);
        self.frames = frames;
        self.on_site = on_site;
    }
}

/// Passes frames to the trajectory file and keeps the replay's copy.
pub struct ReplayTee {
    pub inner: Box<dyn FrameSink>,
    pub replay: Arc<Mutex<ReplayBuffer>>,
}

impl FrameSink for ReplayTee {
    fn frame(&mut self, number: u64, t: f64, agents: &[FrameAgent]) -> io::Result<()> {
        if let Ok(mut replay) = self.replay.lock() {
            replay.push(number, t, agents);
        }
        self.inner.frame(number, t, agents)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::LevelId;

    fn agent(id: u32) -> FrameAgent {
        FrameAgent {
            id,
            level: LevelId::from_index(0),
            pos: bevy::math::DVec2::ZERO,
            world: [id as f64, 0.0, 0.0],
            density: 0.0,
        }
    }

    #[test]
    fn thinning_keeps_the_budget_and_whole_strides() {
        let mut r = ReplayBuffer::with_budget(vec![Some(0)], 100, 8);
        let frame: Vec<FrameAgent> = (0..10).map(agent).collect();
        for n in 0..50 {
            r.push(n, n as f64 * 0.5, &frame);
        }
        assert_eq!(r.agent_stride, 2, "10 agents exceed 8 per frame");
        assert!(r.agents.len() <= 100);
        assert!(r.frames.iter().all(|f| f.number % r.frame_stride == 0 && f.count == 5));
        assert!(r.agents.iter().all(|a| a.id % 2 == 0));
        assert!(r.on_site.iter().all(|&n| n == 10));
        assert_eq!(r.frames[0].number, 0);
        r.close();
        assert_eq!(r.frames.last().unwrap().number, 49, "the last frame is always shown");
    }
}
