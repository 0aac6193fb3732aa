//! System V message queues. Scenario operations come with their issue; the
//! supervisor already finds and removes queues a run leaves behind.

use super::Lifecycle;
use crate::exec::trace::Residue;
use crate::sys::{self, Errno};

#[derive(Debug)]
pub struct SysvMsgKind;

impl Lifecycle for SysvMsgKind {
    fn name(&self) -> &'static str {
        "sysv_msg"
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        // Columns: key msqid perms cbytes qnum lspid lrpid uid ...: no
        // creator pid.
        super::sysv_table(self.name(), "msg", None)
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let id = i32::try_from(r.id).map_err(|_| Errno::EINVAL)?;
        if !self.present().map_err(|_| Errno::EIO)?.iter().any(|p| p.id == r.id && p.key == r.key) {
            return Err(Errno::ESTALE);
        }
        sys::msgctl_rmid(id)
    }
}
