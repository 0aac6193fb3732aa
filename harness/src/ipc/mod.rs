//! The IPC kinds. Each kind is one module holding only what differs between
//! kinds: its operations inside a role, and — for kinds whose objects
//! outlive processes — how the supervisor finds, inspects and removes them
//! (the [`Lifecycle`] trait). Generic operations (`read`, `write`) go through
//! [`Transfer`], so the role interpreter never matches on kinds for them.

pub mod mmap;
pub mod pipe;
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
}

impl Live {
    pub fn new(spec: &ObjectSpec) -> Live {
        match spec {
            ObjectSpec::SysvShm { size, .. } => Live::SysvShm(sysv_shm::Live::new(*size)),
            ObjectSpec::Mmap { size, shared } => Live::Mmap(mmap::Live::new(*size, *shared)),
            ObjectSpec::Pipe => Live::Pipe(pipe::Live::default()),
        }
    }

    pub fn transfer(&mut self) -> &mut dyn Transfer {
        match self {
            Live::SysvShm(l) => l,
            Live::Mmap(l) => l,
            Live::Pipe(l) => l,
        }
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

/// Which objects belong to this run when the supervisor scans the kernel.
#[derive(Debug, Clone)]
pub enum Scope {
    /// A private IPC namespace: everything in it is ours.
    Namespace,
    /// A shared namespace: only objects with our keys, our recorded ids, or
    /// created by one of our processes.
    Shared { keys: Vec<i64>, ids: Vec<i64>, pids: Vec<i32> },
}

impl Scope {
    pub fn owns(&self, r: &Residue) -> bool {
        match self {
            Scope::Namespace => true,
            Scope::Shared { keys, ids, pids } => {
                (r.key != 0 && keys.contains(&r.key)) || ids.contains(&r.id) || r.cpid.is_some_and(|p| pids.contains(&p))
            }
        }
    }
}

/// What the supervisor needs of a kind whose objects outlive processes.
pub trait Lifecycle: Sync {
    fn kind(&self) -> Kind;
    /// Every object of this kind visible in the kernel now.
    fn present(&self) -> std::io::Result<Vec<Residue>>;
    /// Remove one object, after checking it is still the one recorded (ids
    /// are reused; a foreign object must never be touched).
    fn remove(&self, r: &Residue) -> Result<(), Errno>;
    /// IPC_STAT of an object, for post-conditions.
    fn stat(&self, r: &Residue) -> Result<ShmStat, Errno>;
}

/// Every kind with persistent objects. A new kind adds itself here.
pub fn lifecycles() -> &'static [&'static dyn Lifecycle] {
    &[&sysv_shm::SysvShmKind]
}

pub fn lifecycle(kind: Kind) -> Option<&'static dyn Lifecycle> {
    lifecycles().iter().copied().find(|l| l.kind() == kind)
}
