//! System V semaphore sets. Scenario operations come with their issue; the
//! supervisor already finds and removes sets a run leaves behind.

use super::Lifecycle;
use crate::exec::trace::Residue;
use crate::sys::{self, Errno};

#[derive(Debug)]
pub struct SysvSemKind;

impl Lifecycle for SysvSemKind {
    fn name(&self) -> &'static str {
        "sysv_sem"
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        // Columns: key semid perms nsems uid gid cuid cgid otime ctime: no
        // creator pid, so a shared table is matched by key and id only.
        super::sysv_table(self.name(), "sem", None)
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let id = i32::try_from(r.id).map_err(|_| Errno::EINVAL)?;
        // The id may have been reused: remove only if the key still matches.
        if !self.present().map_err(|_| Errno::EIO)?.iter().any(|p| p.id == r.id && p.key == r.key) {
            return Err(Errno::ESTALE);
        }
        sys::semctl_rmid(id)
    }
}
