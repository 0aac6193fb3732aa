//! System V shared memory: `shmget`, `shmat`, `shmdt`, `shmctl`, and the
//! supervisor's view of segments through `/proc/sysvipc/shm`.

use super::{Lifecycle, Mapping, StepError, Transfer};
use crate::exec::trace::Outcome;
use crate::exec::trace::Residue;
use crate::plan::{AttachAt, Kind, ShmSet, ShmctlCmd};
use crate::sys::{self, Errno, ShmStat, shm_consts};

/// A segment as one process knows it.
#[derive(Debug)]
pub struct Live {
    pub size: u64,
    /// The id from `shmget` in this process (or inherited through fork).
    pub id: Option<i32>,
    pub attach: Option<Mapping>,
    /// Where the last attachment was, after `shmdt`: a store there must
    /// fault, which scenarios check with `killed_by`.
    pub detached: Option<Mapping>,
}

impl Live {
    pub fn new(size: u64) -> Self {
        Live { size, id: None, attach: None, detached: None }
    }

    fn id(&self, name: &str) -> Result<i32, StepError> {
        self.id.ok_or_else(|| {
            StepError::Misuse(format!("`{name}` has no id in this process: run `shmget` first (a role started by exec inherits nothing)"))
        })
    }

    /// `shmflg`: the flags and the permission bits, as shmget takes them.
    pub fn shmget(&mut self, key: sys::Key, size: u64, flags: libc::c_int) -> Result<i32, StepError> {
        let id = sys::shmget(key, usize::try_from(size).map_err(|_| Errno::EINVAL)?, flags)?;
        self.id = Some(id);
        Ok(id)
    }

    /// Attach; returns (address, requested address).
    pub fn shmat(
        &mut self,
        name: &str,
        at: AttachAt,
        rdonly: bool,
        rnd: bool,
        remap: bool,
        invalid_id: Option<i32>,
    ) -> Result<(usize, usize), StepError> {
        let id = super::sysv_id(self.id, invalid_id, name, "shmget")?;
        let requested = match at {
            AttachAt::Kernel => 0,
            AttachAt::Address(a) => a as usize,
            AttachAt::Free => free_address(self.size)?,
            AttachAt::FreePlus(off) => free_address(self.size + off)? + off as usize,
        };
        let mut flags = 0;
        if rdonly {
            flags |= libc::SHM_RDONLY;
        }
        if rnd {
            flags |= libc::SHM_RND;
        }
        if remap {
            flags |= libc::SHM_REMAP;
        }
        let addr = sys::shmat(id, requested, flags)?;
        self.attach = Some(Mapping { addr, len: self.size as usize });
        Ok((addr, requested))
    }

    /// The value is shmdt's return value.
    pub fn shmdt(&mut self, name: &str, offset: u64) -> Result<i32, StepError> {
        let m = self.attach.ok_or_else(|| StepError::Misuse(format!("`{name}` is not attached in this process")))?;
        let ret = sys::shmdt(m.addr + offset as usize)?;
        if offset == 0 {
            self.attach = None;
            self.detached = Some(m);
        }
        Ok(ret)
    }

    /// `shmdt` at a page-aligned address where nothing is attached.
    pub fn shmdt_unattached(&mut self) -> Result<i32, StepError> {
        Ok(sys::shmdt(free_address(self.size)?)?)
    }

    pub fn shmctl(
        &mut self,
        name: &str,
        cmd: ShmctlCmd,
        set: Option<ShmSet>,
        invalid_id: Option<i32>,
        bad_buffer: bool,
    ) -> Result<Outcome, StepError> {
        // IPC_INFO is about the namespace, not one segment.
        let id = match (invalid_id, cmd) {
            (Some(id), _) => id,
            (None, ShmctlCmd::IpcInfo) => 0,
            (None, _) => self.id(name)?,
        };
        if bad_buffer {
            let raw = if cmd == ShmctlCmd::IpcSet { shm_consts::IPC_SET } else { libc::IPC_STAT };
            return sys::shmctl_raw_bad(id, raw).map(|r| Outcome::ok(r.into())).map_err(Into::into);
        }
        match cmd {
            ShmctlCmd::IpcStat => {
                let (ret, stat) = sys::shmctl_stat_cmd(id, libc::IPC_STAT)?;
                Ok(Outcome { stat: Some(Box::new(stat)), ..Outcome::ok(ret.into()) })
            }
            ShmctlCmd::ShmStat | ShmctlCmd::ShmStatAny => {
                let raw = if cmd == ShmctlCmd::ShmStat { shm_consts::SHM_STAT } else { shm_consts::SHM_STAT_ANY };
                super::stat_by_index(id, invalid_id.is_some(), name, |index| sys::shmctl_stat_cmd(index, raw))
            }
            ShmctlCmd::Undefined => sys::shmctl_raw_bad(id, shm_consts::UNDEFINED).map(|r| Outcome::ok(r.into())).map_err(Into::into),
            ShmctlCmd::IpcRmid => sys::shmctl_rmid(id).map(|r| Outcome::ok(r.into())).map_err(Into::into),
            ShmctlCmd::IpcSet => {
                let s = set.ok_or_else(|| StepError::Misuse("`ipc_set` without `set`".to_owned()))?;
                sys::shmctl_set(id, s.uid, s.gid, s.mode).map(|r| Outcome::ok(r.into())).map_err(Into::into)
            }
            ShmctlCmd::ShmLock => sys::shmctl_lock(id, true).map(|r| Outcome::ok(r.into())).map_err(Into::into),
            ShmctlCmd::ShmUnlock => sys::shmctl_lock(id, false).map(|r| Outcome::ok(r.into())).map_err(Into::into),
            ShmctlCmd::IpcInfo => {
                let info = sys::shmctl_info()?;
                let read = |n: &str| {
                    std::fs::read_to_string(format!("/proc/sys/kernel/{n}")).ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0)
                };
                let limits = ["shmmax", "shmall", "shmmni"]
                    .iter()
                    .zip([info.shmmax, info.shmall, info.shmmni])
                    .map(|(n, reported)| ((*n).to_owned(), reported, read(n)))
                    .collect();
                let page = sys::page_size() as u64;
                // Columns: key shmid perms size cpid lpid nattch uid gid cuid
                // cgid atime dtime ctime rss swap. Pages are counted per
                // segment, rounded up, as shm_tot counts them.
                let (mut segments, mut pages, mut rss_pages) = (0, 0, 0);
                let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
                for line in table.lines().skip(1) {
                    let f: Vec<u64> = line.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect();
                    segments += 1;
                    pages += f.get(3).copied().unwrap_or(0).div_ceil(page);
                    rss_pages += f.get(14).copied().unwrap_or(0) / page;
                }
                let found = super::scan_stat_any(
                    info.highest_index as libc::c_int,
                    |i| sys::shmctl_stat_cmd(i, shm_consts::SHM_STAT_ANY),
                    |st| st.segsz.div_ceil(page),
                );
                let agreement = super::Agreement {
                    what: "SHM_INFO".to_owned(),
                    against: "/proc/sysvipc/shm".to_owned(),
                    pairs: vec![
                        ("used_ids".to_owned(), info.used_ids as u64, segments),
                        ("shm_tot".to_owned(), info.shm_tot, pages),
                        ("shm_rss".to_owned(), info.shm_rss, rss_pages),
                        ("segments found by a SHM_STAT_ANY scan".to_owned(), found[0], segments),
                        ("pages found by a SHM_STAT_ANY scan".to_owned(), found[1], pages),
                    ],
                };
                Ok(Outcome {
                    info: Some(Box::new(info)),
                    limits: Some(limits),
                    used_ids: Some(info.used_ids),
                    agreement: Some(Box::new(agreement)),
                    ..Outcome::ok(info.highest_index)
                })
            }
        }
    }

    fn mapping(&self) -> Result<Mapping, StepError> {
        self.attach.ok_or_else(|| StepError::Misuse("the segment is not attached in this process: run `shmat` first".to_owned()))
    }
}

/// A page-aligned address range of `len` bytes that nothing in this process
/// uses: reserve it, then release it for the attach (roles are
/// single-threaded, so nothing can take it in between).
fn free_address(len: u64) -> Result<usize, StepError> {
    let len = (len as usize).next_multiple_of(sys::shmlba()).max(sys::shmlba());
    let addr = sys::reserve_address_space(len)?;
    sys::munmap(addr, len)?;
    Ok(addr)
}

impl Transfer for Live {
    fn read(&mut self, offset: u64, len: u64, _all: bool) -> Result<Vec<u8>, StepError> {
        Ok(self.mapping_or_former()?.read(offset, len))
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<i64, StepError> {
        Ok(self.mapping_or_former()?.write(offset, data))
    }
}

impl Live {
    /// The attachment, or where it was before `shmdt` (the plan allows that
    /// only for an access expected to fault).
    fn mapping_or_former(&self) -> Result<Mapping, StepError> {
        self.mapping().or_else(|e| self.detached.ok_or(e))
    }
}

/// Segments as the supervisor sees them.
#[derive(Debug)]
pub struct SysvShmKind;

impl Lifecycle for SysvShmKind {
    fn name(&self) -> &'static str {
        Kind::SysvShm.name()
    }

    fn kind(&self) -> Option<Kind> {
        Some(Kind::SysvShm)
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        // Columns: key shmid perms size cpid lpid nattch uid gid ...
        super::sysv_table(self.name(), "shm", Some(4))
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let id = i32::try_from(r.id).map_err(|_| Errno::EINVAL)?;
        let now = sys::shmctl_stat(id)?;
        // The id may have been reused by someone else since we recorded it.
        if i64::from(now.key) != r.key || r.cpid.is_some_and(|p| p != now.cpid) {
            return Err(Errno::ESTALE);
        }
        sys::shmctl_rmid(id).map(drop)
    }

    fn stat(&self, r: &Residue) -> Result<ShmStat, Errno> {
        sys::shmctl_stat(i32::try_from(r.id).map_err(|_| Errno::EINVAL)?)
    }
}
