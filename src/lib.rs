//! unitwin: a digital-twin spatial simulation engine for urban minimum management units.
//! Layers, each importing only those before it (checked by `tests/architecture.rs`):
//! geom, ids, schedule → scene → space → nav → command → traffic → twin → crowd → metrics → measures → draw →
//! app →
//! report → runner → batch → bench → import → viewer (feature `viewer`) → cli.

pub mod geom;
pub mod ids;
pub mod schedule;

pub mod scene;
pub mod space;

pub mod nav;

pub mod command;
pub mod traffic;
pub mod twin;

pub mod crowd;
pub mod measures;
pub mod metrics;

pub mod draw;

pub mod app;
pub mod report;
pub mod runner;

pub mod batch;

pub mod bench;
pub mod cli;
pub mod import;
#[cfg(feature = "viewer")]
pub mod viewer;
