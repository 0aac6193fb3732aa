//! POSIX message queues (`mq_open(3)`): opened by a run-unique name, with
//! priorities, attributes and notification. The supervisor finds the ones a
//! run leaves behind through an mqueue file system: `/dev/mqueue` where the
//! host mounts it, otherwise its own mount in the run's private namespace.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Lifecycle, StepError};
use crate::exec::trace::{Outcome, Residue};
use crate::plan::Kind;
use crate::sys::{self, Errno};

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where this process sees the queues of its IPC namespace (set by the
/// supervisor when it mounts its own mqueue file system).
pub fn set_dir(dir: PathBuf) {
    let _ = DIR.set(dir);
}

fn dir() -> &'static Path {
    DIR.get().map_or(Path::new("/dev/mqueue"), PathBuf::as_path)
}

#[derive(Debug)]
pub struct PosixMqKind;

pub const POSIX_MQ: PosixMqKind = PosixMqKind;

impl Lifecycle for PosixMqKind {
    fn name(&self) -> &'static str {
        "posix_mq"
    }

    fn kind(&self) -> Option<Kind> {
        Some(Kind::PosixMq)
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        super::folder_entries(self.name(), &dir().to_string_lossy())
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let file = r.name.as_deref().and_then(|p| p.rsplit('/').next()).ok_or(Errno::EINVAL)?;
        sys::mq_unlink(&format!("/{file}"))
    }
}

/// A queue as one process knows it: its descriptor once opened.
#[derive(Debug, Default)]
pub struct Live {
    pub mqd: Option<i32>,
}

impl Live {
    fn mqd(&self, name: &str) -> Result<i32, StepError> {
        self.mqd.ok_or_else(|| StepError::Misuse(format!("`{name}` is not open in this process: run `mq_open` first")))
    }

    pub fn open(&mut self, path: &str, flags: i32, mode: u32, attr: Option<(i64, i64)>) -> Result<Outcome, StepError> {
        let mqd = sys::mq_open(path, flags, mode, attr)?;
        self.mqd = Some(mqd);
        Ok(Outcome::ok(i64::from(mqd)))
    }

    pub fn send(&self, name: &str, data: &[u8], prio: u32, timeout: Option<std::time::Duration>) -> Result<Outcome, StepError> {
        sys::mq_send(self.mqd(name)?, data, prio, timeout)?;
        Ok(Outcome::ok(0))
    }

    pub fn receive(&self, name: &str, len: usize, timeout: Option<std::time::Duration>) -> Result<Outcome, StepError> {
        let (data, prio) = sys::mq_receive(self.mqd(name)?, len, timeout)?;
        Ok(Outcome { prio: Some(prio), data: Some(data.clone()), ..Outcome::ok(data.len() as i64) })
    }

    pub fn getattr(&self, name: &str) -> Result<Outcome, StepError> {
        let a = sys::mq_getattr(self.mqd(name)?)?;
        Ok(Outcome { attr: Some(a), ..Outcome::ok(0) })
    }

    pub fn setattr(&self, name: &str, nonblock: bool) -> Result<Outcome, StepError> {
        sys::mq_setattr(self.mqd(name)?, nonblock)?;
        Ok(Outcome::ok(0))
    }

    pub fn notify(&self, name: &str, signal: Option<i32>, value: i32) -> Result<Outcome, StepError> {
        sys::mq_notify(self.mqd(name)?, signal, value)?;
        Ok(Outcome::ok(0))
    }

    pub fn close(&mut self, name: &str) -> Result<Outcome, StepError> {
        sys::mq_close(self.mqd(name)?)?;
        self.mqd = None;
        Ok(Outcome::ok(0))
    }
}
