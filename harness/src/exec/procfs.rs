//! What `/proc` says about a role process: whether it sleeps in the kernel,
//! in which function and system call.

use std::io::Read;

use super::trace::Blocked;

/// The trimmed content of `/proc/PID/FILE`, empty when unreadable.
pub fn read(pid: i32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// The process has exited (a zombie not yet reaped, or gone).
pub fn has_exited(pid: i32) -> bool {
    state(pid).is_none_or(|s| s == 'Z' || s == 'X')
}

fn state(pid: i32) -> Option<char> {
    let mut stat = String::new();
    std::fs::File::open(format!("/proc/{pid}/stat")).ok()?.read_to_string(&mut stat).ok()?;
    // The state follows the command name, which may itself hold spaces or ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The process sleeps in the kernel: `/proc/PID/stat` state S or D.
pub fn blocked_now(pid: i32) -> Option<Blocked> {
    let state = state(pid)?;
    if state != 'S' && state != 'D' {
        return None;
    }
    let syscall = read(pid, "syscall").split_whitespace().next().and_then(|n| n.parse().ok());
    Some(Blocked { state, wchan: read(pid, "wchan"), syscall })
}
