//! Execution: the supervisor process of each run, the role interpreter,
//! their protocol, isolation, the ledger of created objects, the trace they
//! record, and the runner that drives many plans in parallel.

pub mod error;
pub mod isolation;
pub mod ledger;
pub mod procfs;
pub mod protocol;
pub mod role;
pub mod runner;
pub mod supervisor;
pub mod trace;

pub use isolation::Wanted;
pub use runner::{RunOptions, run_all, run_one};
