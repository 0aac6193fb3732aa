//! Failures of the harness itself while it runs a scenario (never an
//! observation about the kernel under test: those are in the trace). They
//! end a run as BROKEN, with this text as the reason.

use crate::sys::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation the harness needs failed.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// A system call the harness needs failed.
    #[error("{context}: {source}")]
    Sys { context: String, source: Errno },
    /// A role sent something the supervisor cannot read, or the other way.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The isolation asked for cannot be had.
    #[error("{0}")]
    Isolation(String),
    /// The supervisor process failed or vanished.
    #[error("{0}")]
    Supervisor(String),
}

/// Say what was being done when a lower-level error happened.
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn context(self, what: impl Into<String>) -> Result<T, Error> {
        self.map_err(|source| Error::Io { context: what.into(), source })
    }
}

impl<T> Context<T> for Result<T, Errno> {
    fn context(self, what: impl Into<String>) -> Result<T, Error> {
        self.map_err(|source| Error::Sys { context: what.into(), source })
    }
}
