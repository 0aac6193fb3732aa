//! What `/proc` says about a role process: whether it sleeps in the kernel,
//! in which function and system call.

use std::io::Read;

use super::trace::Blocked;

/// The trimmed content of `/proc/PID/FILE`, empty when unreadable.
pub fn read(pid: i32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// The process sleeps in the kernel: `/proc/PID/stat` state S or D.
pub fn blocked_now(pid: i32) -> Option<Blocked> {
    let mut stat = String::new();
    std::fs::File::open(format!("/proc/{pid}/stat")).ok()?.read_to_string(&mut stat).ok()?;
    // The state follows the command name, which may itself hold spaces or ')'.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    if state != 'S' && state != 'D' {
        return None;
    }
    let syscall = read(pid, "syscall").split_whitespace().next().and_then(|n| n.parse().ok());
    Some(Blocked { state, wchan: read(pid, "wchan"), syscall })
}
