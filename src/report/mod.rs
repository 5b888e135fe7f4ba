//! Run outputs a planner can open: PedPy trajectories, `vehicles.csv`, `summary.json`, `run.ron`,
//! `commands.ron` and `report.html` with its CSVs, staged and committed as one unit; never silently overwritten.

pub mod charts;
pub mod html;
pub mod output;
pub mod pedpy;
pub mod replay;
pub mod summary;
pub mod traffic;
pub mod vehicles;

pub use html::{REPORT_FILES, ReportInput};
pub use output::{OutputError, RUN_FILES, Staging, write_atomic};
pub use pedpy::{TrajectoryWriter, trajectory_header};
pub use replay::{ReplayBuffer, ReplayTee};
pub use summary::{RunRecord, Summary, VERSION};
pub use traffic::TrafficSummary;
pub use vehicles::VehicleCsvWriter;
