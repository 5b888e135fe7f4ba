//! unitwin: a digital-twin spatial simulation engine for urban minimum management units.
//! Layers, each depending only on those above it: scene → space → nav → crowd/incident/metrics → sim → report/runner → cli.

pub mod bench;
pub mod cli;
pub mod crowd;
pub mod import;
pub mod incident;
pub mod metrics;
pub mod nav;
pub mod report;
pub mod runner;
pub mod scene;
pub mod sim;
pub mod space;
