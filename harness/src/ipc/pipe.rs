//! Anonymous pipes (`pipe(2)`): unidirectional byte streams. Both ends are
//! created close-on-exec, so a role started by exec inherits neither (it is
//! a fresh image), while a forked role inherits both, as a shell's children do.

use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;

use super::{StepError, Transfer};
use crate::plan::PipeEnd;

#[derive(Debug, Default)]
pub struct Live {
    pub read: Option<OwnedFd>,
    pub write: Option<OwnedFd>,
}

impl Live {
    pub fn create(&mut self) -> Result<(), StepError> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        self.read = Some(r);
        self.write = Some(w);
        Ok(())
    }

    pub fn close(&mut self, end: PipeEnd) -> Result<(), StepError> {
        let fd = match end {
            PipeEnd::Read => self.read.take(),
            PipeEnd::Write => self.write.take(),
        };
        fd.map(drop).ok_or_else(|| StepError::Misuse(format!("the {end:?} end is not open in this process").to_lowercase()))
    }
}

impl Transfer for Live {
    fn read(&mut self, _offset: u64, len: u64, all: bool) -> Result<Vec<u8>, StepError> {
        let fd = self.read.as_ref().ok_or_else(|| StepError::Misuse("the read end is not open in this process".to_owned()))?;
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

    fn write(&mut self, _offset: u64, data: &[u8]) -> Result<i64, StepError> {
        let fd = self.write.as_ref().ok_or_else(|| StepError::Misuse("the write end is not open in this process".to_owned()))?;
        Ok(nix::unistd::write(fd, data)? as i64)
    }
}
