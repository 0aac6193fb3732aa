//! System V message queues: `msgget`, `msgsnd`, `msgrcv`, `msgctl`, and the
//! supervisor's view of queues through `/proc/sysvipc/msg`.

use super::{StepError, SysvTable};
use crate::exec::trace::Outcome;
use crate::plan::{Kind, MsgSet, MsgctlCmd};
use crate::sys::{self, Errno};

/// `/proc/sysvipc/msg`: key msqid perms cbytes qnum lspid lrpid uid ...
pub const SYSV_MSG: SysvTable = SysvTable {
    name: "sysv_msg",
    table: "msg",
    kind: Some(Kind::SysvMsg),
    rmid: crate::sys::msgctl_rmid,
    stat: |id| crate::sys::msgctl_stat(id, libc::IPC_STAT).map(|(_, s)| s),
};

/// `msgctl` commands Linux has and the libc crate does not export.
const MSG_STAT: libc::c_int = 11;
const MSG_STAT_ANY: libc::c_int = 13;

/// A queue as one process knows it.
#[derive(Debug, Default)]
pub struct Live {
    /// The id from `msgget` in this process (or inherited through fork).
    pub id: Option<i32>,
}

/// The invalid arguments a msgsnd or msgrcv may pass instead of its own:
/// a negative id, a buffer at an unusable address (EFAULT), a negative
/// msgsz (msgrcv passes it with the unusable buffer, so a kernel that took
/// it as a size would fail with EFAULT rather than write memory; msgsnd
/// with its real message, whose type the kernel reads first).
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgFaults {
    pub invalid_id: Option<i32>,
    pub bad_buffer: bool,
    pub msgsz: Option<i64>,
}

impl Live {
    fn id(&self, name: &str) -> Result<i32, StepError> {
        self.id.ok_or_else(|| StepError::Misuse(format!("`{name}` has no id in this process: run `msgget` first")))
    }

    /// `flags`: IPC_CREAT, IPC_EXCL and the permission bits.
    pub fn msgget(&mut self, key: sys::Key, flags: libc::c_int) -> Result<i32, StepError> {
        let id = sys::msgget(key, flags)?;
        self.id = Some(id);
        Ok(id)
    }

    pub fn msgsnd(&self, name: &str, faults: MsgFaults, mtype: i64, text: &[u8], nowait: bool) -> Result<Outcome, StepError> {
        let id = super::sysv_id(self.id, faults.invalid_id, name, "msgget")?;
        let flags = if nowait { libc::IPC_NOWAIT } else { 0 };
        let ret = match faults.msgsz {
            Some(n) => sys::msgsnd_sized(id, mtype, text, Some(n), flags)?,
            None if faults.bad_buffer => sys::msg_bad_buffer(id, None, text.len(), flags)?,
            None => sys::msgsnd(id, mtype, text, flags)?,
        };
        Ok(Outcome::ok(ret.into()))
    }

    /// The value is the message's length; `data` its text.
    pub fn msgrcv(&self, name: &str, faults: MsgFaults, msgtyp: i64, len: u64, flags: libc::c_int) -> Result<Outcome, StepError> {
        let id = super::sysv_id(self.id, faults.invalid_id, name, "msgget")?;
        if let Some(n) = faults.msgsz {
            return Ok(Outcome::ok(sys::msg_bad_buffer(id, Some(msgtyp), n as usize, flags)?.into()));
        }
        if faults.bad_buffer {
            let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
            return Ok(Outcome::ok(sys::msg_bad_buffer(id, Some(msgtyp), len, flags)?.into()));
        }
        let (mtype, text) = sys::msgrcv(id, usize::try_from(len).map_err(|_| Errno::EINVAL)?, msgtyp, flags)?;
        Ok(Outcome { data: Some(text.clone()), mtype: Some(mtype), ..Outcome::ok(text.len() as i64) })
    }

    pub fn msgctl(
        &self,
        name: &str,
        cmd: MsgctlCmd,
        set: Option<MsgSet>,
        invalid_id: Option<i32>,
        bad_buffer: bool,
    ) -> Result<Outcome, StepError> {
        if cmd == MsgctlCmd::IpcInfo {
            let u = sys::msgctl_info()?;
            let read = |n: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{n}")).ok().and_then(|v| v.trim().parse().ok());
            let pairs = ["msgmax", "msgmnb", "msgmni"]
                .iter()
                .enumerate()
                .map(|(i, n)| ((*n).to_owned(), u.limits[i], read(n).unwrap_or(0)))
                .collect();
            // /proc/sysvipc/msg: key msqid perms cbytes qnum ...; a
            // MSG_STAT_ANY scan of every index finds the same queues.
            let (queues, sums) = super::proc_columns("msg", &[4, 3]);
            let found = super::scan_stat_any(u.highest, |i| sys::msgctl_stat(i, MSG_STAT_ANY), |st| st.qnum);
            let agreement = super::Agreement {
                what: "MSG_INFO".to_owned(),
                against: "/proc/sysvipc/msg".to_owned(),
                pairs: vec![
                    ("used_ids (msgpool)".to_owned(), u.in_use as u64, queues),
                    ("msgmap (messages queued)".to_owned(), u.totals[0], sums[0]),
                    ("msgtql (bytes queued)".to_owned(), u.totals[1], sums[1]),
                    ("queues found by a MSG_STAT_ANY scan".to_owned(), found[0], queues),
                    ("messages found by a MSG_STAT_ANY scan".to_owned(), found[1], sums[0]),
                ],
            };
            return Ok(Outcome {
                limits: Some(pairs),
                used_ids: Some(u.in_use),
                agreement: Some(Box::new(agreement)),
                ..Outcome::ok(u.highest.into())
            });
        }
        let id = super::sysv_id(self.id, invalid_id, name, "msgget")?;
        if bad_buffer || cmd == MsgctlCmd::Undefined {
            let raw = match cmd {
                MsgctlCmd::IpcStat => libc::IPC_STAT,
                MsgctlCmd::IpcSet => libc::IPC_SET,
                _ => sys::shm_consts::UNDEFINED,
            };
            return Ok(Outcome::ok(sys::msgctl_raw_bad(id, raw)?.into()));
        }
        match cmd {
            MsgctlCmd::IpcStat => {
                let (ret, stat) = sys::msgctl_stat(id, libc::IPC_STAT)?;
                Ok(Outcome { stat: Some(Box::new(stat)), ..Outcome::ok(ret.into()) })
            }
            MsgctlCmd::MsgStat | MsgctlCmd::MsgStatAny => {
                let raw = if cmd == MsgctlCmd::MsgStat { MSG_STAT } else { MSG_STAT_ANY };
                super::stat_by_index(id, invalid_id.is_some(), name, |index| sys::msgctl_stat(index, raw))
            }
            MsgctlCmd::IpcSet => {
                let s = set.ok_or_else(|| StepError::Misuse("`ipc_set` without `set`".to_owned()))?;
                Ok(Outcome::ok(sys::msgctl_set(id, s.uid, s.gid, s.mode, s.qbytes)?.into()))
            }
            MsgctlCmd::IpcRmid => Ok(Outcome::ok(sys::msgctl_rmid(id)?.into())),
            MsgctlCmd::IpcInfo | MsgctlCmd::Undefined => Err(StepError::Misuse("handled above".to_owned())),
        }
    }
}

impl Live {
    /// Ping-pong with the other side: the first sends type 1 and takes type
    /// 2, the second the reverse.
    pub fn ping_pong(&self, name: &str, rounds: u32, first: bool) -> Result<Outcome, StepError> {
        let id = self.id(name)?;
        let (out, back) = if first { (1, 2) } else { (2, 1) };
        let send = |m: &[u8]| sys::msgsnd(id, out, m, 0).map(drop).map_err(StepError::from);
        let take = || sys::msgrcv(id, 32, back, 0).map(|(_, t)| t).map_err(StepError::from);
        super::handoff::ping_pong_messages(rounds, first, send, take)
    }

    pub fn send_numbered(&self, name: &str, instance: u32, messages: u32, mtype: i64) -> Result<Outcome, StepError> {
        let id = self.id(name)?;
        super::handoff::send_numbered(instance, messages, |m| sys::msgsnd(id, mtype, m, 0).map(drop).map_err(StepError::from))
    }

    /// Numbered messages of any type (see `handoff::receive_numbered`).
    pub fn receive_numbered(&self, name: &str, messages: u32, per_producer: u32, alone: bool) -> Result<Outcome, StepError> {
        let id = self.id(name)?;
        let take = || sys::msgrcv(id, 64, 0, 0).map(|(_, t)| t).map_err(StepError::from);
        let leftover = || match sys::msgrcv(id, 64, 0, libc::IPC_NOWAIT) {
            Ok((_, t)) => Ok(Some(t)),
            Err(Errno::ENOMSG) => Ok(None),
            Err(e) => Err(e.into()),
        };
        super::handoff::receive_numbered(messages, per_producer, alone, take, leftover)
    }
}
