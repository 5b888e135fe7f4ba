//! Scenes: the RON file format, loading with located errors, and the checks that need no world.
//! Owns everything between a `scenes/*.ron` file and a `CheckedScene`; it builds nothing.

pub mod check;
pub mod diagnostic;
pub mod format;
pub mod limits;
pub mod load;
pub mod measures;
pub mod traffic;

pub use check::{CheckedScene, MAX_SPAWN_DENSITY, Precheck, check_scene, precheck};
pub use diagnostic::{Diagnostic, Diagnostics, SourceMap, number};
pub use format::*;
pub use load::{LoadedScene, parse_scene, read_scene};
pub use traffic::*;
