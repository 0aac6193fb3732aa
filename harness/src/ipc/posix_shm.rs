//! POSIX shared memory objects (`shm_open(3)`), which live as files in
//! `/dev/shm`: opened by name, sized with `ftruncate`, mapped MAP_SHARED,
//! and removed by `shm_unlink` (existing mappings stay valid). The name is
//! made per run, so a run never opens another program's object. The
//! supervisor finds and removes the ones a run leaves behind (in a shared
//! `/dev/shm`, only names with the run's prefix).

use std::os::fd::OwnedFd;

use nix::sys::stat::Mode;

use super::{Folder, Mapping, StepError};
use crate::plan::OpenFlags;
use crate::sys;

pub const POSIX_SHM: Folder = Folder { name: "posix_shm", dir: "/dev/shm", holds: |f| !f.starts_with("sem.") };

/// Named POSIX semaphores live in the same folder as `sem.NAME` (glibc).
pub const POSIX_SEM: Folder = Folder { name: "posix_sem", dir: "/dev/shm", holds: |f| f.starts_with("sem.") };

/// An object as one process knows it.
#[derive(Debug)]
pub struct Live {
    pub size: u64,
    pub fd: Option<OwnedFd>,
    /// Whether the descriptor was opened read-only.
    pub rdonly: bool,
    pub mapping: Option<Mapping>,
}

impl Live {
    pub fn new(size: u64) -> Self {
        Live { size, fd: None, rdonly: false, mapping: None }
    }

    fn fd(&self) -> Result<&OwnedFd, StepError> {
        self.fd.as_ref().ok_or_else(|| StepError::Misuse("the object is not open in this process: run `shm_open` first".to_owned()))
    }

    pub fn open(&mut self, name: &str, flags: OpenFlags, mode: u32) -> Result<(), StepError> {
        self.fd = Some(nix::sys::mman::shm_open(name, flags.oflag(), Mode::from_bits_truncate(mode))?);
        self.rdonly = flags.rdonly;
        Ok(())
    }

    /// `open(2)` of a regular file (the `file` kind).
    pub fn open_file(&mut self, path: &std::path::Path, flags: OpenFlags, mode: u32) -> Result<(), StepError> {
        self.fd = Some(nix::fcntl::open(path, flags.oflag(), Mode::from_bits_truncate(mode))?);
        self.rdonly = flags.rdonly;
        Ok(())
    }

    /// `memfd_create(2)` (the `memfd` kind).
    pub fn memfd(&mut self, name: &str, cloexec: bool) -> Result<(), StepError> {
        let flags = if cloexec { nix::sys::memfd::MFdFlags::MFD_CLOEXEC } else { nix::sys::memfd::MFdFlags::empty() };
        self.fd = Some(nix::sys::memfd::memfd_create(name, flags)?);
        self.rdonly = false;
        Ok(())
    }

    /// `pwrite(2)` through the descriptor; returns the count written.
    pub fn pwrite(&self, offset: u64, data: &[u8]) -> Result<i64, StepError> {
        let off = i64::try_from(offset).map_err(|_| sys::Errno::EINVAL)?;
        Ok(nix::sys::uio::pwrite(self.fd()?, data, off)? as i64)
    }

    /// `pread(2)` through the descriptor: at most `len` bytes.
    pub fn pread(&self, offset: u64, len: u64) -> Result<Vec<u8>, StepError> {
        let off = i64::try_from(offset).map_err(|_| sys::Errno::EINVAL)?;
        let mut buf = vec![0u8; usize::try_from(len).map_err(|_| sys::Errno::EINVAL)?];
        let n = nix::sys::uio::pread(self.fd()?, &mut buf, off)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The open descriptor's number.
    pub fn raw_fd(&self) -> Result<i32, StepError> {
        use std::os::fd::AsRawFd;
        Ok(self.fd()?.as_raw_fd())
    }

    /// The descriptor number and whether FD_CLOEXEC is set.
    pub fn descriptor(&self) -> Result<(i32, bool), StepError> {
        use std::os::fd::AsRawFd;
        let fd = self.fd()?;
        Ok((fd.as_raw_fd(), sys::is_cloexec(fd.as_raw_fd())?))
    }

    pub fn ftruncate(&mut self, size: u64) -> Result<(), StepError> {
        nix::unistd::ftruncate(self.fd()?, i64::try_from(size).map_err(|_| sys::Errno::EINVAL)?)?;
        Ok(())
    }

    /// Allocate the object's pages now (`posix_fallocate` returns the
    /// error number itself rather than setting errno).
    pub fn fallocate(&mut self, size: u64) -> Result<(), StepError> {
        let len = i64::try_from(size).map_err(|_| sys::Errno::EINVAL)?;
        nix::fcntl::posix_fallocate(self.fd()?, 0, len)?;
        Ok(())
    }

    /// `st_size` of the open object.
    /// `fstat(2)` of the open object: its size, and the fields a scenario
    /// can compare (as for IPC_STAT: `segsz` is the size, `mode` the
    /// permission bits, `uid` and `gid` the owner).
    pub fn fstat(&self) -> Result<(i64, sys::ShmStat), StepError> {
        let st = nix::sys::stat::fstat(self.fd()?)?;
        let stat = sys::ShmStat {
            segsz: u64::try_from(st.st_size).unwrap_or(0),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            cuid: st.st_uid,
            cgid: st.st_gid,
            nattch: 0,
            cpid: 0,
            lpid: 0,
            key: 0,
            atime: st.st_atime,
            dtime: 0,
            ctime: st.st_ctime,
            read_at: sys::unix_now(),
            ..sys::ShmStat::default()
        };
        Ok((st.st_size, stat))
    }

    /// Map the object's declared size, shared, writable unless opened
    /// read-only.
    pub fn map(&mut self, at: sys::Placement) -> Result<(), StepError> {
        let len = usize::try_from(self.size).map_err(|_| sys::Errno::EINVAL)?;
        let addr = sys::mmap_fd(self.fd()?, len, !self.rdonly, at)?;
        self.mapping = Some(Mapping { addr, len });
        Ok(())
    }

    pub fn unmap(&mut self) -> Result<(), StepError> {
        Mapping::unmap(&mut self.mapping)
    }

    pub fn close(&mut self) -> Result<(), StepError> {
        self.fd.take().map(drop).ok_or_else(|| StepError::Misuse("the object is not open in this process".to_owned()))
    }
}
