//! System V message queues. Scenario operations come with their issue; the
//! supervisor already finds and removes queues a run leaves behind.

use super::SysvTable;

/// `/proc/sysvipc/msg`: key msqid perms cbytes qnum lspid lrpid uid ...
pub const SYSV_MSG: SysvTable = SysvTable { name: "sysv_msg", table: "msg", kind: None, rmid: crate::sys::msgctl_rmid };
