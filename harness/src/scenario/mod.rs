//! Scenario files: the YAML model, parsing with locations, parameter tables,
//! diagnostics, and where scenario files come from (paths or the library
//! embedded in the binary). Pure: no system calls beyond reading files.

pub mod diag;
pub mod load;
pub mod model;
pub mod source;
pub mod span;

pub use diag::{Diagnostic, FileDiagnostics};
pub use load::{ParsedCase, Source, parse};
