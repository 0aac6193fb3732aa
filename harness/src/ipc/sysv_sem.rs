//! System V semaphore sets. Scenario operations come with their issue; the
//! supervisor already finds and removes sets a run leaves behind.

use super::SysvTable;

/// `/proc/sysvipc/sem`: key semid perms nsems uid gid cuid cgid otime ctime.
pub const SYSV_SEM: SysvTable = SysvTable { name: "sysv_sem", table: "sem", rmid: crate::sys::semctl_rmid };
