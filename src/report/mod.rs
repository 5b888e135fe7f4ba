//! Run outputs a planner can open: PedPy trajectories, `summary.json`, `run.ron` and
//! `commands.ron`, written into a staging folder and committed as one unit; never silently overwritten.

pub mod output;
pub mod pedpy;
pub mod summary;

pub use output::{OutputError, RUN_FILES, Staging, write_atomic};
pub use pedpy::{TrajectoryWriter, trajectory_header};
pub use summary::{RunRecord, Summary, VERSION};
