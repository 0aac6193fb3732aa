//! Validation and lowering (`ParsedCase` → `Plan`), and the requirement
//! probes that decide, before anything runs, whether a plan is skipped.

pub mod build;
mod flow;
pub mod probe;
mod steps;
pub mod types;

pub use build::build;
pub use probe::Environment;
pub use types::*;
