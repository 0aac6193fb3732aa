//! What `/proc` says about a role process: whether it sleeps in the kernel,
//! in which function and system call.

use std::io::Read;

use super::trace::Blocked;

/// The trimmed content of `/proc/PID/FILE`, empty when unreadable.
pub fn read(pid: i32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// This process's `/proc/self/maps` line for the mapping at `addr`.
pub fn maps_line(addr: usize) -> String {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    text.lines()
        .find(|l| l.split('-').next().and_then(|a| usize::from_str_radix(a, 16).ok()) == Some(addr))
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The physical frame number behind the page at `addr` (pagemap(5): bits
/// 0-54 when bit 63, present, is set; the kernel reports 0 to processes
/// without CAP_SYS_ADMIN).
pub fn frame_of(addr: usize) -> u64 {
    use std::io::{Seek, SeekFrom};
    let page = crate::sys::page_size();
    let Ok(mut f) = std::fs::File::open("/proc/self/pagemap") else { return 0 };
    let mut entry = [0u8; 8];
    if f.seek(SeekFrom::Start((addr / page * 8) as u64)).is_err() || f.read_exact(&mut entry).is_err() {
        return 0;
    }
    let e = u64::from_le_bytes(entry);
    if e >> 63 & 1 == 1 { e & ((1 << 55) - 1) } else { 0 }
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

/// The process is stopped by a signal (`/proc/PID/stat` state T).
pub fn stopped_now(pid: i32) -> bool {
    state(pid) == Some('T')
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
