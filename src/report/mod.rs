//! Run outputs a planner can open: PedPy trajectories, `vehicles.csv`, `summary.json`, `run.ron`
//! and `commands.ron`, written into a staging folder and committed as one unit; never silently overwritten.

pub mod output;
pub mod pedpy;
pub mod summary;
pub mod traffic;
pub mod vehicles;

pub use output::{OutputError, RUN_FILES, Staging, write_atomic};
pub use pedpy::{TrajectoryWriter, trajectory_header};
pub use summary::{RunRecord, Summary, VERSION};
pub use traffic::TrafficSummary;
pub use vehicles::VehicleCsvWriter;
