//! POSIX message queues (`mq_open(3)`), visible as files where the
//! mqueue file system is mounted at `/dev/mqueue`. Scenario operations come with their issue; the supervisor already
//! finds and removes the ones a run leaves behind (in a shared `/dev/mqueue`,
//! only names with the run's prefix).

use super::Lifecycle;
use crate::exec::trace::Residue;
use crate::sys::Errno;

#[derive(Debug)]
pub struct PosixMqKind;

impl Lifecycle for PosixMqKind {
    fn name(&self) -> &'static str {
        "posix_mq"
    }

    fn present(&self) -> std::io::Result<Vec<Residue>> {
        super::folder_entries(self.name(), "/dev/mqueue")
    }

    fn remove(&self, r: &Residue) -> Result<(), Errno> {
        let path = r.name.as_deref().ok_or(Errno::EINVAL)?;
        std::fs::remove_file(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }
}
