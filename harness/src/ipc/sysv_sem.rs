//! System V semaphore sets: `semget`, `semop`/`semtimedop`, `semctl`, and
//! the supervisor's view of sets through `/proc/sysvipc/sem`.

use super::{StepError, SysvTable};
use crate::exec::trace::Outcome;
use crate::plan::{Kind, SemOp, SemctlCmd, ShmSet};
use crate::sys;

/// `/proc/sysvipc/sem`: key semid perms nsems uid gid cuid cgid otime ctime.
pub const SYSV_SEM: SysvTable =
    SysvTable { name: "sysv_sem", table: "sem", kind: Some(Kind::SysvSem), rmid: crate::sys::semctl_rmid, stat: crate::sys::semctl_stat };

/// `semctl` commands Linux has and the libc crate does not export.
const SEM_STAT: libc::c_int = 18;
const SEM_STAT_ANY: libc::c_int = 20;

/// One semctl call as the plan states it.
#[derive(Debug, Clone, Copy)]
pub struct Semctl<'a> {
    pub cmd: SemctlCmd,
    pub sem: u16,
    pub value: Option<i32>,
    pub values: Option<&'a [u16]>,
    pub set: Option<ShmSet>,
    pub invalid_id: Option<i32>,
    pub bad_buffer: bool,
}

/// A set as one process knows it.
#[derive(Debug)]
pub struct Live {
    pub nsems: u32,
    /// The id from `semget` in this process (or inherited through fork).
    pub id: Option<i32>,
}

impl Live {
    pub fn new(nsems: u32) -> Self {
        Live { nsems, id: None }
    }

    fn id(&self, name: &str) -> Result<i32, StepError> {
        self.id.ok_or_else(|| StepError::Misuse(format!("`{name}` has no id in this process: run `semget` first")))
    }

    /// `shmflg`-style flags: IPC_CREAT, IPC_EXCL and the permission bits.
    pub fn semget(&mut self, key: sys::Key, nsems: u32, flags: libc::c_int) -> Result<i32, StepError> {
        // The int semget(2) takes: a count above INT_MAX arrives negative,
        // as it would from C, and the kernel judges it.
        let id = sys::semget(key, nsems as libc::c_int, flags)?;
        self.id = Some(id);
        Ok(id)
    }

    pub fn semop(
        &self,
        name: &str,
        invalid_id: Option<i32>,
        ops: &[SemOp],
        timeout: Option<std::time::Duration>,
        faults: sys::SemopFaults,
    ) -> Result<Outcome, StepError> {
        let bufs: Vec<sys::SemBuf> = ops
            .iter()
            .map(|o| {
                let mut flags = 0;
                if o.nowait {
                    flags |= libc::IPC_NOWAIT as i16;
                }
                if o.undo {
                    flags |= libc::SEM_UNDO as i16;
                }
                sys::SemBuf { num: o.sem, op: o.op, flags }
            })
            .collect();
        Ok(Outcome::ok(sys::semop_with(super::sysv_id(self.id, invalid_id, name, "semget")?, &bufs, timeout, faults)?.into()))
    }

    pub fn semctl(&self, name: &str, call: Semctl<'_>) -> Result<Outcome, StepError> {
        let Semctl { cmd, sem, value, values, set, invalid_id, bad_buffer } = call;
        if cmd == SemctlCmd::IpcInfo {
            let u = sys::semctl_info()?;
            let file = std::fs::read_to_string("/proc/sys/kernel/sem").unwrap_or_default();
            let files: Vec<u64> = file.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            let names = ["semmsl", "semmns", "semopm", "semmni"];
            let pairs = names.iter().enumerate().map(|(i, n)| ((*n).to_owned(), u.limits[i], files.get(i).copied().unwrap_or(0))).collect();
            // /proc/sysvipc/sem: key semid perms nsems ...; a SEM_STAT_ANY
            // scan of every index finds the same sets (EINVAL where unused).
            let listed = super::proc_columns("sem", &[3]);
            let found = super::scan_stat_any(u.highest, |i| sys::semctl_stat_cmd(i, SEM_STAT_ANY), |st| st.nsems);
            let agreement = super::Agreement {
                what: "SEM_INFO".to_owned(),
                against: "/proc/sysvipc/sem".to_owned(),
                pairs: vec![
                    ("used_ids (semusz)".to_owned(), u.in_use as u64, listed.0),
                    ("semaem (semaphores in use)".to_owned(), u.totals[0], listed.1[0]),
                    ("sets found by a SEM_STAT_ANY scan".to_owned(), found[0], listed.0),
                    ("semaphores found by a SEM_STAT_ANY scan".to_owned(), found[1], listed.1[0]),
                ],
            };
            return Ok(Outcome {
                limits: Some(pairs),
                used_ids: Some(u.in_use),
                agreement: Some(Box::new(agreement)),
                ..Outcome::ok(u.highest.into())
            });
        }
        let id = super::sysv_id(self.id, invalid_id, name, "semget")?;
        if bad_buffer || cmd == SemctlCmd::Undefined {
            let raw = match cmd {
                SemctlCmd::IpcStat => libc::IPC_STAT,
                SemctlCmd::IpcSet => libc::IPC_SET,
                SemctlCmd::Getall => libc::GETALL,
                SemctlCmd::Setall => libc::SETALL,
                _ => sys::shm_consts::UNDEFINED,
            };
            return Ok(Outcome::ok(sys::semctl_raw_bad(id, raw)?.into()));
        }
        let num = libc::c_int::from(sem);
        let get = |cmd| -> Result<Outcome, StepError> { Ok(Outcome::ok(i64::from(sys::semctl_get(id, num, cmd)?))) };
        match cmd {
            SemctlCmd::Getval => get(libc::GETVAL),
            SemctlCmd::Getpid => get(libc::GETPID),
            SemctlCmd::Getncnt => get(libc::GETNCNT),
            SemctlCmd::Getzcnt => get(libc::GETZCNT),
            SemctlCmd::Setval => Ok(Outcome::ok(sys::semctl_setval(id, num, value.unwrap_or(0))?.into())),
            SemctlCmd::Getall => {
                // The set's own size, so GETALL never writes past the buffer.
                let n = sys::semctl_stat(id)?.nsems as usize;
                let values = sys::semctl_getall(id, n)?;
                Ok(Outcome { values: Some(values.iter().map(|v| i64::from(*v)).collect()), ..Outcome::ok(0) })
            }
            SemctlCmd::Setall => {
                let values = values.unwrap_or_default();
                let n = sys::semctl_stat(id)?.nsems as usize;
                if values.len() != n {
                    return Err(StepError::Misuse(format!("`setall` gives {} values for a set of {n}", values.len())));
                }
                Ok(Outcome::ok(sys::semctl_setall(id, values)?.into()))
            }
            SemctlCmd::IpcStat => {
                let (ret, stat) = sys::semctl_stat_cmd(id, libc::IPC_STAT)?;
                Ok(Outcome { stat: Some(Box::new(stat)), ..Outcome::ok(ret.into()) })
            }
            SemctlCmd::IpcSet => {
                let s = set.ok_or_else(|| StepError::Misuse("`ipc_set` without `set`".to_owned()))?;
                Ok(Outcome::ok(sys::semctl_set(id, s.uid, s.gid, s.mode)?.into()))
            }
            SemctlCmd::IpcRmid => Ok(Outcome::ok(sys::semctl_rmid(id)?.into())),
            SemctlCmd::SemStat | SemctlCmd::SemStatAny => {
                let raw = if cmd == SemctlCmd::SemStat { SEM_STAT } else { SEM_STAT_ANY };
                super::stat_by_index(id, invalid_id.is_some(), name, |index| sys::semctl_stat_cmd(index, raw))
            }
            SemctlCmd::IpcInfo | SemctlCmd::Undefined => Err(StepError::Misuse("handled above".to_owned())),
        }
    }
}

impl Live {
    /// Ping-pong over the set's semaphores 0 (the first side's) and 1.
    pub fn ping_pong(&self, name: &str, rounds: u32, first: bool) -> Result<Outcome, StepError> {
        let id = self.id(name)?;
        let (mine, theirs) = if first { (0u16, 1u16) } else { (1, 0) };
        let op = |num: u16, op: i16| sys::semop(id, &[sys::SemBuf { num, op, flags: 0 }], None).map(drop).map_err(StepError::from);
        let value = || sys::semctl_get(id, libc::c_int::from(mine), libc::GETVAL).map(i64::from).map_err(StepError::from);
        super::handoff::ping_pong_semaphores(rounds, first, || op(mine, 1), || op(theirs, -1), value)
    }
}
