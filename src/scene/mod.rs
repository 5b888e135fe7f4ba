//! Scenes: the RON file format, loading with located errors, and validation.
//! Owns everything between a `scenes/*.ron` file and a checked, ready-to-run `Scene`.

pub mod diagnostic;
pub mod format;
pub mod load;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, SourceMap};
pub use format::*;
pub use load::{LoadedScene, read_scene};
pub use validate::{CheckedScene, check_scene};
