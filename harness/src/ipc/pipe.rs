//! Byte streams with a read end and a write end: anonymous pipes
//! (`pipe2(2)`) and named pipes (`mkfifo(3)`, opened by path). Both are
//! pipes in the kernel; they differ in how a process gets its descriptors.
//!
//! A forked role inherits every end its parent held. An exec'd image keeps
//! the ends that are not close-on-exec: the parent passes their numbers
//! (see `role::INHERITED_VAR`), and the new image checks each with F_GETFD.
//! An end that the exec closed is remembered with the errno that check
//! gave, so a step can show that the descriptor is gone.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{StepError, Transfer};
use crate::plan::PipeEnd;
use crate::sys::{self, Errno};

#[derive(Debug, Default)]
pub struct Live {
    pub read: Option<OwnedFd>,
    pub write: Option<OwnedFd>,
    /// Ends the last exec closed, with what F_GETFD said of their numbers.
    pub closed_by_exec: Vec<(PipeEnd, Errno)>,
}

/// Descriptor flags of one end, as `fcntl` reports them.
#[derive(Debug, Clone, Copy)]
pub struct EndFlags {
    pub cloexec: bool,
    pub status: i32,
}

impl Live {
    /// `pipe2(2)` with the given O_* flags.
    pub fn create(&mut self, flags: i32, bad_buffer: bool) -> Result<(), StepError> {
        let (r, w) = sys::pipe2(flags, bad_buffer)?;
        self.read = Some(r);
        self.write = Some(w);
        self.closed_by_exec.clear();
        Ok(())
    }

    /// `open(2)` of a FIFO: the read end, the write end, or (O_RDWR, or the
    /// access mode 3 Linux also accepts) one descriptor that is both, kept
    /// as the read end and a duplicate as the write end.
    pub fn open_fifo(&mut self, path: &std::path::Path, oflag: i32) -> Result<(), StepError> {
        let fd = nix::fcntl::open(path, nix::fcntl::OFlag::from_bits_retain(oflag), nix::sys::stat::Mode::empty())?;
        match oflag & libc::O_ACCMODE {
            libc::O_RDONLY => self.read = Some(fd),
            libc::O_WRONLY => self.write = Some(fd),
            _ => {
                self.write = Some(nix::unistd::dup(&fd)?);
                self.read = Some(fd);
            }
        }
        self.closed_by_exec.clear();
        Ok(())
    }

    pub fn close(&mut self, end: PipeEnd) -> Result<(), StepError> {
        let fd = match end {
            PipeEnd::Read => self.read.take(),
            PipeEnd::Write => self.write.take(),
        };
        fd.map(drop).ok_or_else(|| self.missing(end))
    }

    /// The descriptor of one end; without `end`, the read end, or the
    /// write end if only that one is open.
    pub fn end(&self, end: Option<PipeEnd>) -> Result<BorrowedFd<'_>, StepError> {
        let which = end.unwrap_or(if self.read.is_none() && self.write.is_some() { PipeEnd::Write } else { PipeEnd::Read });
        let fd = match which {
            PipeEnd::Read => self.read.as_ref(),
            PipeEnd::Write => self.write.as_ref(),
        };
        fd.map(AsFd::as_fd).ok_or_else(|| self.missing(which))
    }

    /// An end this process does not hold: EBADF if an exec closed it (what
    /// the kernel said of its number then), otherwise a scenario mistake.
    fn missing(&self, end: PipeEnd) -> StepError {
        match self.closed_by_exec.iter().find(|(e, _)| *e == end) {
            Some((_, errno)) => StepError::Errno(*errno),
            None => {
                StepError::Misuse(format!("the {} end is not open in this process", if end == PipeEnd::Read { "read" } else { "write" }))
            }
        }
    }

    pub fn flags(&self, end: Option<PipeEnd>) -> Result<EndFlags, StepError> {
        let fd = self.end(end)?;
        let fd_flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)?;
        let status = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
        Ok(EndFlags { cloexec: fd_flags & libc::FD_CLOEXEC != 0, status })
    }

    pub fn read_from(&self, end: Option<PipeEnd>, len: u64, all: bool) -> Result<Vec<u8>, StepError> {
        let fd = self.end(Some(end.unwrap_or(PipeEnd::Read)))?;
        let mut buf = vec![0u8; len as usize];
        let mut got = 0;
        loop {
            let n = nix::unistd::read(fd, &mut buf[got..])?;
            got += n;
            if !all || n == 0 || got == buf.len() {
                break;
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// One `write(2)`: its count (short for a non-blocking pipe with less
    /// room, or a blocking write a signal interrupted after some bytes).
    pub fn write_to(&self, end: Option<PipeEnd>, data: &[u8]) -> Result<i64, StepError> {
        let fd = self.end(Some(end.unwrap_or(PipeEnd::Write)))?;
        Ok(nix::unistd::write(fd, data)? as i64)
    }
}

impl Transfer for Live {
    fn read(&mut self, _offset: u64, len: u64, all: bool) -> Result<Vec<u8>, StepError> {
        self.read_from(None, len, all)
    }

    fn write(&mut self, _offset: u64, data: &[u8]) -> Result<i64, StepError> {
        self.write_to(None, data)
    }
}
