//! ipc-harness: a conformance and stress-test harness for Linux IPC.
//!
//! A scenario is a YAML choreography of processes over IPC objects. It goes
//! through phases, each a type that the next one consumes:
//!
//! ```text
//! YAML ──scenario::parse──▶ ParsedCase ──plan::build──▶ Plan
//!      ──exec (supervisor + roles)──▶ Trace ──check::judge──▶ Verdict
//!      ──report──▶ human, JSON
//! ```
//!
//! - [`scenario`]: the file format, parameter tables, diagnostics (pure).
//! - [`plan`]: validation, name resolution, requirement probes.
//! - [`exec`]: the supervisor process, the role interpreter, isolation, the
//!   ledger of created objects, and the parallel runner.
//! - [`ipc`]: one module per IPC kind behind the `Lifecycle` and `Transfer`
//!   traits.
//! - [`check`]: expectations against observations, verdicts.
//! - [`report`]: renderers; they never judge.
//! - [`limits`]: the limits this process really gets, requirement
//!   profiles, and probes that prove each limit at its edge.
//! - [`sys`]: the only module with `unsafe`.
#![deny(unsafe_code)]

pub mod check;
pub mod cli;
pub mod exec;
pub mod ipc;
pub mod limits;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod sys;
