//! The IPC kinds. Each kind is one module holding only what differs between
//! kinds: its operations inside a role, and — for kinds whose objects
//! outlive processes — how the supervisor finds, inspects and removes them
//! (the [`Lifecycle`] trait). Generic operations (`read`, `write`) go through
//! [`Transfer`], so the role interpreter never matches on kinds for them.

pub mod handoff;
pub mod mmap;
pub mod pipe;
pub mod posix_mq;
pub mod posix_shm;
pub mod publish;
pub mod records;
pub mod stress;
pub mod sysv_msg;
pub mod sysv_sem;
pub mod sysv_shm;

use crate::exec::trace::Residue;
use crate::plan::{Kind, ObjectSpec};
use crate::sys::{Errno, ShmStat};

/// The state of one object inside one role process. Forked roles inherit a
/// copy, exactly as the kernel lets them inherit attachments and descriptors.
#[derive(Debug)]
pub enum Live {
    SysvShm(sysv_shm::Live),
    Mmap(mmap::Live),
    Pipe(pipe::Live),
    PosixShm(posix_shm::Live),
    SysvSem(sysv_sem::Live),
    SysvMsg(sysv_msg::Live),
    PosixSem(PosixSem),
    PosixMq(posix_mq::Live),
}

impl Live {
    pub fn new(spec: &ObjectSpec) -> Live {
        match spec {
            ObjectSpec::SysvShm { size, .. } => Live::SysvShm(sysv_shm::Live::new(*size)),
            ObjectSpec::Mmap { size, shared } => Live::Mmap(mmap::Live::new(*size, *shared)),
            // A signalfd is kept as a read end: it is read and closed like one.
            ObjectSpec::Pipe | ObjectSpec::Fifo { .. } | ObjectSpec::Signalfd => Live::Pipe(pipe::Live::default()),
            // A file is used exactly like a POSIX object once open.
            ObjectSpec::PosixShm { size, .. } | ObjectSpec::File { size, .. } | ObjectSpec::Memfd { size } => {
                Live::PosixShm(posix_shm::Live::new(*size))
            }
            ObjectSpec::SysvSem { nsems, .. } => Live::SysvSem(sysv_sem::Live::new(*nsems)),
            ObjectSpec::SysvMsg { .. } => Live::SysvMsg(sysv_msg::Live::default()),
            ObjectSpec::PosixSem { .. } => Live::PosixSem(PosixSem::default()),
            ObjectSpec::PosixMq { .. } => Live::PosixMq(posix_mq::Live::default()),
        }
    }

    /// This process's mapping of the object, if it has one.
    pub fn mapping(&self) -> Option<Mapping> {
        match self {
            Live::SysvShm(l) => l.attach,
            Live::Mmap(l) => l.mapping,
            Live::PosixShm(l) => l.mapping,
            Live::Pipe(_) | Live::SysvSem(_) | Live::SysvMsg(_) | Live::PosixSem(_) | Live::PosixMq(_) => None,
        }
    }

    /// How bytes move in and out of the object; kinds that hold no bytes
    /// (semaphores, message queues) have none, and the plan never asks.
    pub fn transfer(&mut self) -> Result<&mut dyn Transfer, StepError> {
        Ok(match self {
            Live::SysvShm(l) => l,
            // Memory mapped with mmap(2): the same for every such kind.
            Live::Mmap(mmap::Live { mapping, .. }) | Live::PosixShm(posix_shm::Live { mapping, .. }) => mapping,
            Live::Pipe(l) => l,
            Live::SysvSem(_) | Live::SysvMsg(_) | Live::PosixSem(_) | Live::PosixMq(_) => {
                return Err(StepError::Misuse("this object holds no bytes to read or write".to_owned()));
            }
        })
    }
}

/// Moving bytes in or out of an object: memory at an offset, or a stream.
pub trait Transfer {
    /// Read `len` bytes (for streams: one `read(2)`, or until `len` or end
    /// of file when `all`).
    fn read(&mut self, offset: u64, len: u64, all: bool) -> Result<Vec<u8>, StepError>;
    /// Write `data`; returns the count the call reported.
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<i64, StepError>;
}

/// A POSIX semaphore in one process: a named one's address once opened (an
/// unnamed one lives in another object's mapping).
#[derive(Debug, Default)]
pub struct PosixSem {
    pub addr: Option<usize>,
}

/// What a *_INFO call reported next to what /proc/sysvipc lists, read at
/// the same moment: (name, reported, listed) pairs that must be equal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Agreement {
    pub what: String,
    pub against: String,
    pub pairs: Vec<(String, u64, u64)>,
}

/// Lines of /proc/sysvipc/`table` and, for each column index given, the
/// sum of that column over them.
pub fn proc_columns(table: &str, columns: &[usize]) -> (u64, Vec<u64>) {
    let text = std::fs::read_to_string(format!("/proc/sysvipc/{table}")).unwrap_or_default();
    let mut sums = vec![0u64; columns.len()];
    let mut lines = 0;
    for line in text.lines().skip(1) {
        let f: Vec<u64> = line.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect();
        lines += 1;
        for (s, c) in sums.iter_mut().zip(columns) {
            *s += f.get(*c).copied().unwrap_or(0);
        }
    }
    (lines, sums)
}

/// A *_STAT_ANY scan of every index up to IPC_INFO's highest (unused
/// indices answer EINVAL): the objects found, and the sum of `measure`
/// over their status.
pub fn scan_stat_any(highest: i32, stat: impl Fn(i32) -> Result<(i32, ShmStat), Errno>, measure: impl Fn(&ShmStat) -> u64) -> [u64; 2] {
    let mut found = [0u64; 2];
    for st in (0..=highest).filter_map(|index| stat(index).ok().map(|(_, st)| st)) {
        found[0] += 1;
        found[1] += measure(&st);
    }
    found
}

/// Why a step produced no outcome of its own.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The system call failed: an observation, compared with `errno`.
    #[error("{}", crate::sys::errno_name(*.0))]
    Errno(Errno),
    /// The scenario used an object in a state where the call cannot be made
    /// (for example reading a segment this process never attached).
    #[error("{0}")]
    Misuse(String),
}

impl From<Errno> for StepError {
    fn from(e: Errno) -> Self {
        StepError::Errno(e)
    }
}

/// Memory that a role has mapped: an attached segment or an mmap.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    pub addr: usize,
    pub len: usize,
}

impl Mapping {
    /// Memory is read and written with plain loads and stores; a fault is the
    /// observation (SIGSEGV on a read-only attachment, for instance).
    pub fn read(&self, offset: u64, len: u64) -> Vec<u8> {
        crate::sys::read_mapped(self.addr + offset as usize, len as usize)
    }
    pub fn write(&self, offset: u64, data: &[u8]) -> i64 {
        crate::sys::write_mapped(self.addr + offset as usize, data);
        data.len() as i64
    }
}

impl Mapping {
    /// `munmap(2)` of the whole mapping a kind holds in this process.
    pub fn unmap(slot: &mut Option<Mapping>) -> Result<(), StepError> {
        let m = slot.ok_or_else(not_mapped)?;
        crate::sys::munmap(m.addr, m.len)?;
        *slot = None;
        Ok(())
    }
}

fn not_mapped() -> StepError {
    StepError::Misuse("the object is not mapped in this process: run `mmap` first".to_owned())
}

/// Loads and stores through an mmap(2) mapping, whatever backs it.
impl Transfer for Option<Mapping> {
    fn read(&mut self, offset: u64, len: u64, _all: bool) -> Result<Vec<u8>, StepError> {
        Ok(self.ok_or_else(not_mapped)?.read(offset, len))
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<i64, StepError> {
        Ok(self.ok_or_else(not_mapped)?.write(offset, data))
    }
}

/// The id a SysV *ctl step uses: the negative one the scenario gives, or the
/// object's own from its get call in this process.
pub fn sysv_id(own: Option<i32>, invalid: Option<i32>, name: &str, get: &str) -> Result<i32, StepError> {
    invalid.or(own).ok_or_else(|| StepError::Misuse(format!("`{name}` has no id in this process: run `{get}` first")))
}

/// SHM_STAT, SEM_STAT or MSG_STAT (and their _ANY forms): look the object up
/// by its index in the kernel's table; the call returns its id and status.
/// A given invalid id is passed as it is. The index is computed the way
/// ipc/util.h does, so another id there is the harness's mistake, not the
/// kernel's.
pub fn stat_by_index(
    id: i32,
    invalid: bool,
    name: &str,
    call: impl FnOnce(i32) -> Result<(i32, ShmStat), Errno>,
) -> Result<crate::exec::trace::Outcome, StepError> {
    let index = if invalid { id } else { crate::sys::ipc_index(id) };
    let (found, stat) = call(index)?;
    if !invalid && found != id {
        return Err(StepError::Misuse(format!("the status at index {index} is id {found}, not `{name}`'s {id}")));
    }
    Ok(crate::exec::trace::Outcome { stat: Some(Box::new(stat)), ..crate::exec::trace::Outcome::ok(i64::from(found)) })
}

/// Which objects belong to this run when the supervisor scans the kernel.
#[derive(Debug, Clone)]
pub enum Scope {
    /// A private IPC namespace and `/dev/shm`: everything in them is ours.
    Namespace,
    /// Shared tables: only objects with our keys, our recorded ids, created
    /// by one of our processes, or named with this run's prefix.
    Shared { keys: Vec<i64>, ids: Vec<(String, i64)>, pids: Vec<i32>, prefix: String },
}

impl Scope {
    pub fn owns(&self, r: &Residue) -> bool {
        match self {
            Scope::Namespace => true,
            Scope::Shared { keys, ids, pids, prefix } => match &r.name {
                Some(path) => path.rsplit('/').next().map(posix_name).is_some_and(|n| n.starts_with(prefix.as_str())),
                None => {
                    (r.key != 0 && keys.contains(&r.key))
                        || ids.iter().any(|(k, i)| *k == r.kind && *i == r.id)
                        || r.cpid.is_some_and(|p| pids.contains(&p))
                }
            },
        }
    }
}

/// The name a POSIX object was given, from its file: named semaphores are
/// `sem.NAME` in /dev/shm.
pub fn posix_name(file: &str) -> &str {
    file.strip_prefix("sem.").unwrap_or(file)
}

/// What the supervisor needs of a kind whose objects outlive processes:
/// finding them, removing them, and (where the kind has one) IPC_STAT.
/// Kinds whose scenario operations come later (semaphores, queues, POSIX
/// objects) already take part in leak scans and cleanup.
pub trait Lifecycle: Sync {
    /// The kind's name in the vocabulary (`sysv_sem`, `posix_shm`, ...).
    fn name(&self) -> &'static str;
    /// The scenario kind, for kinds scenarios can declare.
    fn kind(&self) -> Option<Kind> {
        None
    }
    /// Every object of this kind visible in the kernel now.
    fn present(&self) -> std::io::Result<Vec<Residue>>;
    /// Remove one object, after checking it is still the one recorded (ids
    /// are reused; a foreign object must never be touched).
    fn remove(&self, r: &Residue) -> Result<(), Errno>;
    /// IPC_STAT of an object, for post-conditions.
    fn stat(&self, _r: &Residue) -> Result<ShmStat, Errno> {
        Err(Errno::ENOSYS)
    }
}

/// Every kind with persistent objects. A new kind adds itself here.
pub fn lifecycles() -> &'static [&'static dyn Lifecycle] {
    &[&sysv_shm::SysvShmKind, &sysv_sem::SYSV_SEM, &sysv_msg::SYSV_MSG, &posix_shm::POSIX_SHM, &posix_shm::POSIX_SEM, &posix_mq::POSIX_MQ]
}

/// A System V table whose objects the supervisor can only list and remove
/// (no creator pid in `/proc/sysvipc`, no stat needed yet).
#[derive(Debug)]
pub struct SysvTable {
    pub name: &'static str,
    /// The file under `/proc/sysvipc`.
    pub table: &'static str,
    /// The scenario kind, once scenarios can declare it.
    pub kind: Option<Kind>,
    pub rmid: fn(libc::c_int) -> Result<libc::c_int, Errno>,
    /// IPC_STAT, for post-conditions.
    pub stat: fn(libc::c_int) -> Result<ShmStat, Errno>,
}

impl Lifecycle for SysvTable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> Option<Kind> {
        self.kind
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        sysv_table(self.name, self.table, None)
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let id = i32::try_from(r.id).map_err(|_| Errno::EINVAL)?;
        // The id may have been reused: remove only if the key still matches.
        if !self.present().map_err(|_| Errno::EIO)?.iter().any(|p| p.id == r.id && p.key == r.key) {
            return Err(Errno::ESTALE);
        }
        (self.rmid)(id).map(drop)
    }

    fn stat(&self, r: &Residue) -> Result<ShmStat, Errno> {
        (self.stat)(i32::try_from(r.id).map_err(|_| Errno::EINVAL)?)
    }
}

/// IPC objects that appear as files in a folder (`/dev/shm`, `/dev/mqueue`).
#[derive(Debug)]
pub struct Folder {
    pub name: &'static str,
    pub dir: &'static str,
    /// Which entries of the folder are of this kind (by file name).
    pub holds: fn(&str) -> bool,
}

impl Lifecycle for Folder {
    fn name(&self) -> &'static str {
        self.name
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        let mut all = folder_entries(self.name, self.dir)?;
        all.retain(|r| r.name.as_deref().and_then(|p| p.rsplit('/').next()).is_some_and(self.holds));
        Ok(all)
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let path = r.name.as_deref().ok_or(Errno::EINVAL)?;
        std::fs::remove_file(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }
}

pub fn lifecycle(kind: Kind) -> Option<&'static dyn Lifecycle> {
    lifecycles().iter().copied().find(|l| l.kind() == Some(kind))
}

/// The objects listed in `/proc/sysvipc/<table>`: key and id come first in
/// every table; `cpid_column` says where the creator's pid is, if listed.
pub fn sysv_table(kind: &str, table: &str, cpid_column: Option<usize>) -> std::io::Result<Vec<Residue>> {
    let text = std::fs::read_to_string(format!("/proc/sysvipc/{table}"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Residue {
                kind: kind.to_owned(),
                object: None,
                key: f.first()?.parse().ok()?,
                id: f.get(1)?.parse().ok()?,
                name: None,
                cpid: cpid_column.and_then(|c| f.get(c)?.parse().ok()),
                namespace: None,
            })
        })
        .collect())
}

/// The entries of a file-system view of IPC objects (`/dev/shm`,
/// `/dev/mqueue`); a missing folder holds nothing.
pub fn folder_entries(kind: &str, dir: &str) -> std::io::Result<Vec<Residue>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(rd
        .flatten()
        .map(|e| Residue {
            kind: kind.to_owned(),
            object: None,
            id: -1,
            key: 0,
            name: Some(e.path().display().to_string()),
            cpid: None,
            namespace: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysv(kind: &str, id: i64, key: i64, cpid: Option<i32>) -> Residue {
        Residue { kind: kind.to_owned(), object: None, id, key, name: None, cpid, namespace: None }
    }

    #[test]
    fn a_shared_scope_owns_only_this_runs_objects() {
        let scope = Scope::Shared {
            keys: vec![0x1234],
            ids: vec![("sysv_shm".to_owned(), 7)],
            pids: vec![4242],
            prefix: "ipc-harness-1-2-".to_owned(),
        };
        assert!(scope.owns(&sysv("sysv_shm", 1, 0x1234, None)), "our key");
        assert!(scope.owns(&sysv("sysv_shm", 7, 0, None)), "our recorded id");
        assert!(!scope.owns(&sysv("sysv_sem", 7, 0, None)), "the same id in another table is not ours");
        assert!(scope.owns(&sysv("sysv_shm", 9, 0, Some(4242))), "created by one of our processes");
        assert!(!scope.owns(&sysv("sysv_shm", 9, 0, Some(1))), "a foreign IPC_PRIVATE segment");
        assert!(!scope.owns(&sysv("sysv_shm", 9, 0x9999, None)), "a foreign key");
        let file = |n: &str| Residue {
            kind: "posix_shm".to_owned(),
            object: None,
            id: -1,
            key: 0,
            name: Some(format!("/dev/shm/{n}")),
            cpid: None,
            namespace: None,
        };
        assert!(scope.owns(&file("ipc-harness-1-2-seg")));
        assert!(!scope.owns(&file("ipc-harness-1-3-seg")), "another run's name");
        assert!(!scope.owns(&file("PostgreSQL.1234")));
        assert!(Scope::Namespace.owns(&file("anything")));
    }
}
