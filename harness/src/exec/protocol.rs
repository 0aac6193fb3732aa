//! The messages between roles and their supervisor, one JSON object per
//! line over a Unix stream socket. Roles report facts (a step started, its
//! outcome, an object created, a child's exit) and ask for synchronisation;
//! the supervisor answers synchronisation requests with `Go`.
//!
//! The socket lives in the abstract namespace under a run-unique name, so it
//! needs no file and works for roles with other credentials.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

use super::trace::{Outcome, Termination};
use crate::plan::{BarrierId, EventId, ObjectId, RoleId};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Up {
    /// The first message on a connection. `token` proves the sender is a
    /// process of this run (it comes through the environment, which other
    /// users cannot read), so nothing else can make the ledger claim an
    /// object that is not the run's.
    Hello {
        role: RoleId,
        instance: u32,
        pid: i32,
        token: String,
        /// The new image after this step's `exec`: the same process goes on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed_after: Option<usize>,
    },
    StepStart {
        step: usize,
    },
    StepDone {
        step: usize,
        outcome: Box<Outcome>,
    },
    /// A SysV object was created or looked up: the ledger records it before
    /// the role uses it.
    Created {
        object: ObjectId,
        id: i64,
        key: i64,
    },
    Signal {
        event: EventId,
    },
    /// The pid of a replica of a role, so that the asking role can signal
    /// it itself: answered with `Pid` once the replica has started (0 if
    /// it has already ended).
    PidOf {
        role: RoleId,
        instance: u32,
    },
    /// The role is about to replace its image (`exec` step): answered with
    /// go once everything it sent before was read, so the new image's
    /// messages cannot overtake the old one's.
    Exec,
    Wait {
        event: EventId,
        count: u32,
    },
    Barrier {
        barrier: BarrierId,
    },
    WaitBlocked {
        role: RoleId,
        instance: u32,
        /// Wait until it is stopped (state T) rather than asleep.
        #[serde(default)]
        stopped: bool,
    },
    ChildExited {
        pid: i32,
        termination: Termination,
    },
    /// The step's outcome did not meet its expectation; the role stops.
    Abort {
        step: usize,
    },
    /// The harness failed inside the role.
    Error {
        message: String,
    },
}

/// The environment variable that carries the run's token to its roles.
pub const TOKEN_VAR: &str = "IPC_HARNESS_RUN_TOKEN";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Down {
    Go,
    Pid { pid: i32 },
}

/// One role's connection to the supervisor.
#[derive(Debug)]
pub struct Channel {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Channel {
    pub fn connect(socket_name: &str) -> std::io::Result<Channel> {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(socket_name.as_bytes())?;
        let writer = UnixStream::connect_addr(&addr)?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Channel { writer, reader })
    }

    pub fn send(&mut self, msg: &Up) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)
    }

    /// Block until the supervisor says go (bounded by the scenario watchdog,
    /// which kills this process if it never comes).
    pub fn await_go(&mut self) -> std::io::Result<()> {
        match self.receive()? {
            Down::Go => Ok(()),
            other => Err(std::io::Error::other(format!("expected go, got {other:?}"))),
        }
    }

    /// Block until the supervisor answers a `PidOf` (bounded as `await_go`).
    pub fn await_pid(&mut self) -> std::io::Result<i32> {
        match self.receive()? {
            Down::Pid { pid } => Ok(pid),
            other => Err(std::io::Error::other(format!("expected a pid, got {other:?}"))),
        }
    }

    fn receive(&mut self) -> std::io::Result<Down> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "supervisor closed the channel"));
        }
        serde_json::from_str::<Down>(&line).map_err(std::io::Error::other)
    }
}
