//! POSIX message queues (`mq_open(3)`): opened by a run-unique name, with
//! priorities, attributes and notification. The supervisor finds the ones a
//! run leaves behind through an mqueue file system: `/dev/mqueue` where the
//! host mounts it, otherwise its own mount in the run's private namespace.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Lifecycle, StepError};
use crate::exec::trace::{Outcome, Residue};
use crate::plan::{BadDescriptor, Kind};
use crate::sys::{self, Deadline, Errno};

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
        sys::mq_unlink(&format!("/{file}")).map(drop)
    }
}

/// A queue's line in the mqueue file system, as `mqueue_read_file` in
/// ipc/mqueue.c prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MqStatus {
    pub qsize: u64,
    pub notify: i32,
    pub signo: i32,
    pub notify_pid: i32,
}

/// Read `QSIZE:n NOTIFY:n SIGNO:n NOTIFY_PID:n` from the queue's file.
pub fn status(path: &str) -> Result<MqStatus, StepError> {
    let file = dir().join(path.trim_start_matches('/'));
    let text = std::fs::read_to_string(&file).map_err(|e| StepError::Misuse(format!("cannot read {}: {e}", file.display())))?;
    let field = |name: &str| -> Result<i64, StepError> {
        let mut words = text.split_whitespace();
        words
            .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix(':')).and_then(|v| v.parse().ok()))
            .ok_or_else(|| StepError::Misuse(format!("no {name} in {}: {text:?}", file.display())))
    };
    Ok(MqStatus {
        qsize: field("QSIZE")? as u64,
        notify: field("NOTIFY")? as i32,
        signo: field("SIGNO")? as i32,
        notify_pid: field("NOTIFY_PID")? as i32,
    })
}

/// A queue as one process knows it: its descriptor once opened, and the
/// number it had once closed (for `descriptor: closed`).
#[derive(Debug, Default)]
pub struct Live {
    pub mqd: Option<i32>,
    closed: Option<i32>,
}

/// The descriptor a call is given, and what was opened to make it.
struct Given {
    fd: i32,
    held: Option<std::fs::File>,
}

impl Live {
    fn mqd(&self, name: &str) -> Result<i32, StepError> {
        self.mqd.ok_or_else(|| StepError::Misuse(format!("`{name}` is not open in this process: run `mq_open` first")))
    }

    fn given(&self, name: &str, bad: Option<BadDescriptor>) -> Result<Given, StepError> {
        use std::os::fd::AsRawFd;
        let fd = match bad {
            None => self.mqd(name)?,
            Some(BadDescriptor::Closed) => self.closed.ok_or_else(|| {
                StepError::Misuse(format!("`descriptor: closed` needs an earlier `mq_close` of `{name}` in this process"))
            })?,
            Some(BadDescriptor::MinusOne) => -1,
            Some(BadDescriptor::Huge) => i32::MAX - 1,
            Some(BadDescriptor::NotAQueue) => {
                let f = std::fs::File::open("/dev/null").map_err(|e| StepError::Misuse(format!("cannot open /dev/null: {e}")))?;
                return Ok(Given { fd: f.as_raw_fd(), held: Some(f) });
            }
        };
        Ok(Given { fd, held: None })
    }

    pub fn open(&mut self, path: &str, flags: i32, mode: u32, attr: Option<(i64, i64)>) -> Result<Outcome, StepError> {
        let mqd = sys::mq_open(path, flags, mode, attr)?;
        self.mqd = Some(mqd);
        Ok(Outcome::ok(i64::from(mqd)))
    }

    /// `bad_buffer`: the message is at an unusable address (EFAULT).
    pub fn send(
        &self,
        name: &str,
        bad: Option<BadDescriptor>,
        data: &[u8],
        prio: u32,
        deadline: Option<Deadline>,
        bad_buffer: bool,
    ) -> Result<Outcome, StepError> {
        Ok(Outcome::ok(sys::mq_send(self.given(name, bad)?.fd, data, prio, deadline, bad_buffer)?.into()))
    }

    /// `bad_buffer`: the buffer is at an unusable address (EFAULT).
    pub fn receive(
        &self,
        name: &str,
        bad: Option<BadDescriptor>,
        len: usize,
        deadline: Option<Deadline>,
        bad_buffer: bool,
    ) -> Result<Outcome, StepError> {
        let (data, prio) = sys::mq_receive(self.given(name, bad)?.fd, len, deadline, bad_buffer)?;
        Ok(Outcome { prio: Some(prio), data: Some(data.clone()), ..Outcome::ok(data.len() as i64) })
    }

    pub fn getattr(&self, name: &str, bad: Option<BadDescriptor>) -> Result<Outcome, StepError> {
        let (ret, a) = sys::mq_getattr(self.given(name, bad)?.fd)?;
        Ok(Outcome { attr: Some(a), ..Outcome::ok(ret.into()) })
    }

    /// The outcome's `attr` is the old attributes mq_setattr reported.
    pub fn setattr(&self, name: &str, bad: Option<BadDescriptor>, nonblock: bool, ignored: (i64, i64, i64)) -> Result<Outcome, StepError> {
        let (ret, old) = sys::mq_setattr(self.given(name, bad)?.fd, nonblock, (ignored.0, ignored.1, ignored.2, false))?;
        Ok(Outcome { attr: Some(old), ..Outcome::ok(ret.into()) })
    }

    pub fn notify(&self, name: &str, bad: Option<BadDescriptor>, how: sys::Notify) -> Result<Outcome, StepError> {
        Ok(Outcome::ok(sys::mq_notify(self.given(name, bad)?.fd, how)?.into()))
    }

    /// Ping-pong with the other side: the first side sends on this queue
    /// and takes replies from `back`, the second the reverse. `len` is the
    /// receive buffer (at least the queues' mq_msgsize).
    pub fn ping_pong(&self, name: &str, back: (&Live, &str), len: usize, rounds: u32, first: bool) -> Result<Outcome, StepError> {
        let (here, there) = (self.mqd(name)?, back.0.mqd(back.1)?);
        let (out, inbox) = if first { (here, there) } else { (there, here) };
        let send = |m: &[u8]| sys::mq_send(out, m, 0, None, false).map(drop).map_err(StepError::from);
        let take = || sys::mq_receive(inbox, len, None, false).map(|(m, _)| m).map_err(StepError::from);
        super::handoff::ping_pong_messages(rounds, first, send, take)
    }

    pub fn send_numbered(&self, name: &str, instance: u32, messages: u32, prio: u32) -> Result<Outcome, StepError> {
        let mqd = self.mqd(name)?;
        super::handoff::send_numbered(instance, messages, |m| sys::mq_send(mqd, m, prio, None, false).map(drop).map_err(StepError::from))
    }

    /// Numbered messages, highest priority first (see
    /// `handoff::receive_numbered`); a leftover is looked for with a
    /// deadline already past, which returns at once on an empty queue.
    pub fn receive_numbered(&self, name: &str, len: usize, messages: u32, per_producer: u32, alone: bool) -> Result<Outcome, StepError> {
        let mqd = self.mqd(name)?;
        let take = || sys::mq_receive(mqd, len, None, false).map(|(m, _)| m).map_err(StepError::from);
        let leftover = || match sys::mq_receive(mqd, len, Some(Deadline::Fixed(sys::BadDeadline::Past)), false) {
            Ok((m, _)) => Ok(Some(m)),
            Err(Errno::ETIMEDOUT | Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        };
        super::handoff::receive_numbered(messages, per_producer, alone, take, leftover)
    }

    pub fn close(&mut self, name: &str, bad: Option<BadDescriptor>) -> Result<Outcome, StepError> {
        let given = self.given(name, bad)?;
        let ret = sys::mq_close(given.fd)?;
        if bad.is_none() {
            self.closed = self.mqd.take();
        }
        // glibc's mq_close is close(2): it closed a non-queue descriptor too,
        // so the file must not close that number again.
        if let Some(f) = given.held {
            let _ = std::os::fd::IntoRawFd::into_raw_fd(f);
        }
        Ok(Outcome::ok(ret.into()))
    }
}
