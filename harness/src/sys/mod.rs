//! The only module with `unsafe`: thin wrappers over the system calls that
//! `nix` does not cover (SysV IPC, raw memory access at mapped addresses,
//! `fork`, signal dispositions, capabilities).
//!
//! Every wrapper makes exactly one call, converts the C convention
//! (`-1` plus `errno`) into `Result<_, Errno>` in one place, and carries a
//! `// SAFETY:` comment. Nothing here decides anything: callers judge.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub use nix::errno::Errno;

/// Convert a C return value that signals failure with `-1` and `errno`.
fn check(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

/// `SHMLBA`: the page size on most architectures (x86, arm64, riscv,
/// powerpc, s390), larger where caches alias (arch/*/include/asm/shmparam.h):
/// four pages on 32-bit ARM, 256 KiB on MIPS. libc does not export it.
pub fn shmlba() -> usize {
    if cfg!(target_arch = "arm") {
        4 * page_size()
    } else if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
        0x40000
    } else {
        page_size()
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(v).unwrap_or(4096)
}

/// A SysV IPC key (`key_t`).
pub type Key = libc::key_t;

pub fn ftok(path: &Path, proj: u8) -> Result<Key, Errno> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let key = unsafe { libc::ftok(c.as_ptr(), libc::c_int::from(proj)) };
    if key == -1 { Err(Errno::last()) } else { Ok(key) }
}

pub fn shmget(key: Key, size: usize, flags: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: shmget takes only integers.
    check(unsafe { libc::shmget(key, size, flags) })
}

/// Attach a segment; `addr` 0 lets the kernel choose. Returns the address.
pub fn shmat(id: libc::c_int, addr: usize, flags: libc::c_int) -> Result<usize, Errno> {
    // SAFETY: shmat validates the address itself; on success the kernel owns
    // the new mapping and we only keep its address as an integer. Without
    // SHM_REMAP the kernel refuses a range that overlaps any mapping, so no
    // Rust-owned memory can be replaced. With SHM_REMAP (asked for explicitly
    // by a scenario) a literal address could cover the role's own memory;
    // the role then faults, which its parent observes as a crash: the role
    // process is the only thing at risk, never the supervisor.
    let p = unsafe { libc::shmat(id, addr as *const libc::c_void, flags) };
    if p as isize == -1 { Err(Errno::last()) } else { Ok(p as usize) }
}

pub fn shmdt(addr: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: shmdt checks that `addr` is an attachment; we never hold Rust
    // references into attached memory, only integer addresses.
    check(unsafe { libc::shmdt(addr as *const libc::c_void) })
}

/// The fields of `struct shmid_ds` (and of the other kinds' status) that
/// scenarios check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ShmStat {
    pub segsz: u64,
    pub nattch: u64,
    pub cpid: i32,
    pub lpid: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Permission bits plus `SHM_DEST` (0o1000) and `SHM_LOCKED` (0o2000).
    pub mode: u32,
    pub key: i32,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    /// `sysv_sem`: the number of semaphores, and the last semop.
    pub nsems: u64,
    pub otime: i64,
    /// `sysv_msg`: messages and bytes queued, the byte limit, the last
    /// sender and receiver, and the times of the last send and receive.
    pub qnum: u64,
    pub qbytes: u64,
    pub cbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
    pub stime: i64,
    pub rtime: i64,
    /// The wall clock (seconds since the epoch) when the status was read,
    /// to compare the times with.
    pub read_at: i64,
}

/// Seconds since the epoch now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

pub fn shmctl_stat(id: libc::c_int) -> Result<ShmStat, Errno> {
    shmctl_stat_cmd(id, libc::IPC_STAT).map(|(_, s)| s)
}

/// IPC_STAT (by id), or SHM_STAT / SHM_STAT_ANY (by index: the return value
/// is the segment's id).
pub fn shmctl_stat_cmd(id: libc::c_int, cmd: libc::c_int) -> Result<(libc::c_int, ShmStat), Errno> {
    // SAFETY: shmid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a valid, writable shmid_ds for the duration of the call.
    let ret = check(unsafe { libc::shmctl(id, cmd, &mut ds) })?;
    Ok((
        ret,
        ShmStat {
            segsz: ds.shm_segsz as u64,
            nattch: ds.shm_nattch,
            cpid: ds.shm_cpid,
            lpid: ds.shm_lpid,
            uid: ds.shm_perm.uid,
            gid: ds.shm_perm.gid,
            cuid: ds.shm_perm.cuid,
            cgid: ds.shm_perm.cgid,
            mode: u32::from(ds.shm_perm.mode),
            key: ds.shm_perm.__key,
            atime: ds.shm_atime,
            dtime: ds.shm_dtime,
            ctime: ds.shm_ctime,
            read_at: unix_now(),
            ..ShmStat::default()
        },
    ))
}

/// `shmctl(2)` made directly (no C library conversion of the buffer) with
/// a buffer address in kernel space, which the kernel must refuse with
/// EFAULT, or with a command number Linux does not define.
pub fn shmctl_raw_bad(id: libc::c_int, cmd: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: the kernel checks the user pointer (copy_to_user/copy_from_user
    // fail on a kernel address) and touches nothing of this process.
    check(unsafe { libc::syscall(libc::SYS_shmctl, id, cmd, BAD_ADDRESS) } as libc::c_int)
}

/// A buffer address no process can use: the top page of the address space
/// is never user memory on Linux.
const BAD_ADDRESS: usize = usize::MAX & !0xfff;

/// `msgctl(2)` made directly, as [`shmctl_raw_bad`].
pub fn msgctl_raw_bad(id: libc::c_int, cmd: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: as in `shmctl_raw_bad`.
    check(unsafe { libc::syscall(libc::SYS_msgctl, id, cmd, BAD_ADDRESS) } as libc::c_int)
}

/// `semctl(2)` made directly, as [`shmctl_raw_bad`] (the fourth argument,
/// a union passed by value, carries the bad pointer).
pub fn semctl_raw_bad(id: libc::c_int, cmd: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: as in `shmctl_raw_bad`.
    check(unsafe { libc::syscall(libc::SYS_semctl, id, 0, cmd, BAD_ADDRESS) } as libc::c_int)
}

/// The index of a SysV id in its table (for SHM_STAT): the low 15 bits, or
/// 24 when the kernel was booted with `ipcmni_extend` (ipc/util.h).
pub fn ipc_index(id: libc::c_int) -> libc::c_int {
    let extended = std::fs::read_to_string("/proc/cmdline").is_ok_and(|c| c.split_whitespace().any(|w| w == "ipcmni_extend"));
    id & if extended { (1 << 24) - 1 } else { (1 << 15) - 1 }
}

/// `mprotect(2)` of part of a mapping.
pub fn mprotect(addr: usize, len: usize, prot: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: the harness never holds Rust references into mapped memory,
    // so changing its protection cannot invalidate one; a later access that
    // the protection forbids is a signal, which is the behaviour under test.
    check(unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) })
}

/// `shmctl` commands and flags from <linux/ipc.h> and <linux/shm.h>
/// (not all are exported by the libc crate).
pub mod shm_consts {
    pub const IPC_SET: libc::c_int = 1;
    pub const IPC_INFO: libc::c_int = 3;
    pub const SHM_LOCK: libc::c_int = 11;
    pub const SHM_UNLOCK: libc::c_int = 12;
    pub const SHM_STAT: libc::c_int = 13;
    pub const SHM_INFO: libc::c_int = 14;
    pub const SHM_STAT_ANY: libc::c_int = 15;
    /// A command number no Linux version defines.
    pub const UNDEFINED: libc::c_int = 99;
    pub const SHM_HUGETLB: libc::c_int = 0o4000;
    pub const SHM_NORESERVE: libc::c_int = 0o10000;
}

/// IPC_SET: change owner uid, gid and permission bits.
pub fn shmctl_set(id: libc::c_int, uid: u32, gid: u32, mode: u32) -> Result<libc::c_int, Errno> {
    // IPC_SET reads only shm_perm.uid, gid and mode, so no IPC_STAT first
    // (which would need read permission and mask IPC_SET's own EPERM).
    // SAFETY: shmid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    ds.shm_perm.uid = uid;
    ds.shm_perm.gid = gid;
    ds.shm_perm.mode = mode as _;
    // SAFETY: IPC_SET reads the shmid_ds we filled from IPC_STAT.
    check(unsafe { libc::shmctl(id, shm_consts::IPC_SET, &mut ds) })
}

/// SHM_LOCK or SHM_UNLOCK.
pub fn shmctl_lock(id: libc::c_int, lock: bool) -> Result<libc::c_int, Errno> {
    let cmd = if lock { shm_consts::SHM_LOCK } else { shm_consts::SHM_UNLOCK };
    // SAFETY: SHM_LOCK and SHM_UNLOCK ignore the buffer; null is allowed.
    check(unsafe { libc::shmctl(id, cmd, std::ptr::null_mut()) })
}

/// What IPC_INFO and SHM_INFO report, and the sysctls they should agree
/// with, read at the same moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ShmInfo {
    /// IPC_INFO's return value: the highest used index.
    pub highest_index: i64,
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmall: u64,
    /// SHM_INFO: segments in use, and pages allocated.
    pub used_ids: i64,
    pub shm_tot: u64,
    pub shm_rss: u64,
}

/// IPC_INFO then SHM_INFO.
pub fn shmctl_info() -> Result<ShmInfo, Errno> {
    // The kernel's struct shminfo64 and struct shm_info on 64-bit Linux.
    #[repr(C)]
    #[derive(Default)]
    struct Limits {
        shmmax: libc::c_ulong,
        shmmin: libc::c_ulong,
        shmmni: libc::c_ulong,
        shmseg: libc::c_ulong,
        shmall: libc::c_ulong,
        unused: [libc::c_ulong; 4],
    }
    #[repr(C)]
    #[derive(Default)]
    struct Usage {
        used_ids: libc::c_int,
        shm_tot: libc::c_ulong,
        shm_rss: libc::c_ulong,
        shm_swp: libc::c_ulong,
        swap_attempts: libc::c_ulong,
        swap_successes: libc::c_ulong,
    }
    let mut limits = Limits::default();
    // SAFETY: IPC_INFO writes a struct shminfo, which `Limits` lays out
    // (and is larger than shmid_ds needs to be for the cast); it lives for
    // the call.
    let highest = check(unsafe { libc::shmctl(0, shm_consts::IPC_INFO, (&mut limits as *mut Limits).cast()) })?;
    let mut usage = Usage::default();
    // SAFETY: SHM_INFO writes a struct shm_info, laid out by `Usage`.
    check(unsafe { libc::shmctl(0, shm_consts::SHM_INFO, (&mut usage as *mut Usage).cast()) })?;
    Ok(ShmInfo {
        highest_index: i64::from(highest),
        shmmax: limits.shmmax,
        shmmin: limits.shmmin,
        shmmni: limits.shmmni,
        shmall: limits.shmall,
        used_ids: i64::from(usage.used_ids),
        shm_tot: usage.shm_tot,
        shm_rss: usage.shm_rss,
    })
}

pub fn shmctl_rmid(id: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: IPC_RMID ignores the buffer argument; null is allowed.
    check(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) })
}

pub fn semctl_rmid(id: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: IPC_RMID takes no fourth argument.
    check(unsafe { libc::semctl(id, 0, libc::IPC_RMID) })
}

/// Make every write on `fd` append (O_APPEND).
pub fn set_append(fd: libc::c_int) -> Result<(), Errno> {
    // SAFETY: F_GETFL/F_SETFL only read and change the file's status flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_APPEND) }).map(drop)
}

/// write(2) until every byte is written.
pub fn write_all(fd: libc::c_int, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for `data.len()` bytes.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            return Err(Errno::last());
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// read(2) a stream until end of file.
pub fn read_to_end(fd: libc::c_int) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n < 0 => return Err(Errno::last()),
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n as usize]),
        }
    }
}

/// pread(2) the whole file from offset 0.
pub fn read_whole(fd: libc::c_int) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), out.len() as libc::off_t) };
        match n {
            n if n < 0 => return Err(Errno::last()),
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n as usize]),
        }
    }
}

/// `sem_open(3)`: the address of the named semaphore (mapped by the C
/// library from /dev/shm/sem.NAME).
pub fn sem_open(name: &str, flags: libc::c_int, mode: u32, value: u32) -> Result<usize, Errno> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid C string; mode and value are read only with
    // O_CREAT, as the variadic prototype allows.
    let sem = unsafe { libc::sem_open(c.as_ptr(), flags, mode as libc::c_uint, value as libc::c_uint) };
    if sem == libc::SEM_FAILED { Err(Errno::last()) } else { Ok(sem as usize) }
}

pub fn sem_unlink(name: &str) -> Result<libc::c_int, Errno> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid C string.
    check(unsafe { libc::sem_unlink(c.as_ptr()) })
}

/// The semaphore operations on an address from [`sem_open`] or inside a
/// shared mapping this process holds (checked by the caller). They return
/// what the call returned, so a scenario can check that success is 0.
pub fn sem_close(sem: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: `sem` came from sem_open and is closed once.
    check(unsafe { libc::sem_close(sem as *mut libc::sem_t) })
}

pub fn sem_init(sem: usize, value: u32) -> Result<libc::c_int, Errno> {
    // SAFETY: `sem` is 32 aligned bytes of a shared mapping (checked by the
    // plan), which sem_init fills; pshared 1 lets other processes use it.
    check(unsafe { libc::sem_init(sem as *mut libc::sem_t, 1, value) })
}

pub fn sem_destroy(sem: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: as in `sem_init`.
    check(unsafe { libc::sem_destroy(sem as *mut libc::sem_t) })
}

pub fn sem_post(sem: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: a semaphore from sem_open or sem_init, as above.
    check(unsafe { libc::sem_post(sem as *mut libc::sem_t) })
}

pub fn sem_trywait(sem: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: as in `sem_post`.
    check(unsafe { libc::sem_trywait(sem as *mut libc::sem_t) })
}

/// sem_wait, or sem_timedwait with `deadline`.
pub fn sem_wait(sem: usize, deadline: Option<Deadline>) -> Result<libc::c_int, Errno> {
    let Some(d) = deadline else {
        // SAFETY: as in `sem_post`.
        return check(unsafe { libc::sem_wait(sem as *mut libc::sem_t) });
    };
    // SAFETY: as in `sem_post`; the timespec pointer is valid for the call,
    // or the bad address (glibc reads it: the role may die of SIGSEGV,
    // which is the observation).
    d.with_pointer(|ts| check(unsafe { libc::sem_timedwait(sem as *mut libc::sem_t, ts) }))
}

pub fn sem_getvalue(sem: usize) -> Result<i32, Errno> {
    let mut v = 0;
    // SAFETY: as in `sem_post`, and `v` is valid for the call.
    check(unsafe { libc::sem_getvalue(sem as *mut libc::sem_t, &mut v) })?;
    Ok(v)
}

/// Mount an mqueue file system (of this process's IPC namespace) at `dir`.
pub fn mount_mqueue(dir: &Path) -> Result<(), Errno> {
    use nix::mount::{MsFlags, mount};
    mount(Some("mqueue"), dir, Some("mqueue"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>)
}

/// `unshare(2)` of the IPC namespace, and of the mount namespace too with
/// `mount`: this process (and what it spawns from now on) gets its own.
pub fn unshare_namespaces(mount: bool) -> Result<(), Errno> {
    use nix::sched::{CloneFlags, unshare};
    let mut flags = CloneFlags::CLONE_NEWIPC;
    if mount {
        flags |= CloneFlags::CLONE_NEWNS;
    }
    unshare(flags)
}

/// Detach a mount (a no-op error where nothing is mounted).
pub fn unmount(dir: &Path) -> Result<(), Errno> {
    nix::mount::umount2(dir, nix::mount::MntFlags::MNT_DETACH)
}

/// `mq_open(3)`; `attr` is (maxmsg, msgsize) with O_CREAT, None for NULL.
pub fn mq_open(name: &str, flags: libc::c_int, mode: u32, attr: Option<(i64, i64)>) -> Result<libc::c_int, Errno> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: mq_attr is plain old data; zeroed is a valid value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    let ptr = match attr {
        Some((maxmsg, msgsize)) => {
            a.mq_maxmsg = maxmsg as _;
            a.mq_msgsize = msgsize as _;
            &mut a as *mut libc::mq_attr
        }
        None => std::ptr::null_mut(),
    };
    // SAFETY: `c` is a valid C string and `ptr` null or a valid mq_attr.
    check(unsafe { libc::mq_open(c.as_ptr(), flags, mode as libc::mode_t, ptr) })
}

pub fn mq_unlink(name: &str) -> Result<libc::c_int, Errno> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid C string.
    check(unsafe { libc::mq_unlink(c.as_ptr()) })
}

pub fn mq_close(mqd: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: mq_close takes only the descriptor.
    check(unsafe { libc::mq_close(mqd) })
}

/// A deadline other than "this long from now", for the timed calls
/// (`sem_timedwait`, `mq_timedsend`, `mq_timedreceive`): the edge cases of
/// a timespec. Scenarios name them with `deadline:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BadDeadline {
    /// One second in the past.
    Past,
    /// Now, with tv_nsec -1.
    NsecNegative,
    /// Now, with tv_nsec 1 000 000 000.
    NsecBillion,
    /// Now, with tv_nsec 1 000 000 001.
    NsecAboveBillion,
    /// tv_sec -1.
    SecNegative,
    /// The timespec is at an address no process can use (EFAULT from the
    /// kernel; glibc's sem_timedwait reads it itself, and faults).
    BadAddress,
}

/// The absolute CLOCK_REALTIME deadline a timed call is given: POSIX says
/// these calls take a time on CLOCK_REALTIME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// This long from now.
    In(std::time::Duration),
    Fixed(BadDeadline),
}

impl Deadline {
    fn timespec(self) -> libc::timespec {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let at = |d: std::time::Duration| libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long };
        match self {
            Deadline::In(t) => at(now + t),
            Deadline::Fixed(BadDeadline::Past) => at(now.saturating_sub(std::time::Duration::from_secs(1))),
            Deadline::Fixed(BadDeadline::NsecNegative) => libc::timespec { tv_nsec: -1, ..at(now) },
            Deadline::Fixed(BadDeadline::NsecBillion) => libc::timespec { tv_nsec: 1_000_000_000, ..at(now) },
            Deadline::Fixed(BadDeadline::NsecAboveBillion) => libc::timespec { tv_nsec: 1_000_000_001, ..at(now) },
            Deadline::Fixed(BadDeadline::SecNegative) => libc::timespec { tv_sec: -1, tv_nsec: 0 },
            // Never read: `with_pointer` hands out the bad address instead.
            Deadline::Fixed(BadDeadline::BadAddress) => at(now),
        }
    }

    /// Run `call` with a pointer to this deadline's timespec (or the bad
    /// address), valid for the duration of the call.
    fn with_pointer<T>(self, call: impl FnOnce(*const libc::timespec) -> T) -> T {
        let ts = self.timespec();
        call(if self == Deadline::Fixed(BadDeadline::BadAddress) { BAD_ADDRESS as *const libc::timespec } else { &ts })
    }
}

/// `mq_send(3)`, or `mq_timedsend` with a deadline; `bad_buffer` passes an
/// unusable message address instead of `data` (glibc hands both pointers to
/// the kernel, which answers EFAULT).
pub fn mq_send(mqd: libc::c_int, data: &[u8], prio: u32, deadline: Option<Deadline>, bad_buffer: bool) -> Result<libc::c_int, Errno> {
    let ptr: *const libc::c_char = if bad_buffer { BAD_ADDRESS as *const libc::c_char } else { data.as_ptr().cast() };
    match deadline {
        // SAFETY: `ptr` is valid for `data.len()` bytes, or the bad address
        // the kernel checks before reading.
        None => check(unsafe { libc::mq_send(mqd, ptr, data.len(), prio) }),
        // SAFETY: as above, and the timespec pointer is valid for the call
        // or the bad address.
        Some(d) => d.with_pointer(|ts| check(unsafe { libc::mq_timedsend(mqd, ptr, data.len(), prio, ts) })),
    }
}

/// Receive into a buffer of `len` bytes (or at the bad address): the
/// message and its priority.
pub fn mq_receive(mqd: libc::c_int, len: usize, deadline: Option<Deadline>, bad_buffer: bool) -> Result<(Vec<u8>, u32), Errno> {
    let mut buf = vec![0u8; len];
    let mut prio = 0;
    let ptr: *mut libc::c_char = if bad_buffer { BAD_ADDRESS as *mut libc::c_char } else { buf.as_mut_ptr().cast() };
    let n = match deadline {
        // SAFETY: `ptr` is valid for `len` bytes (or the bad address the
        // kernel checks) and `prio` for a u32.
        None => unsafe { libc::mq_receive(mqd, ptr, len, &mut prio) },
        // SAFETY: as above, and the timespec pointer is valid for the call
        // or the bad address.
        Some(d) => d.with_pointer(|ts| unsafe { libc::mq_timedreceive(mqd, ptr, len, &mut prio, ts) }),
    };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok((buf, prio))
}

/// Message queue attributes: (maxmsg, msgsize, curmsgs, O_NONBLOCK set).
pub type MqAttr = (i64, i64, i64, bool);

// mq_attr's fields are longs: 32 bits on 32-bit ABIs, where the conversion
// is not a no-op.
#[allow(clippy::useless_conversion)]
fn mq_attr_of(a: &libc::mq_attr) -> MqAttr {
    (i64::from(a.mq_maxmsg), i64::from(a.mq_msgsize), i64::from(a.mq_curmsgs), a.mq_flags & libc::c_long::from(libc::O_NONBLOCK) != 0)
}

/// mq_getattr: its return value and the attributes.
pub fn mq_getattr(mqd: libc::c_int) -> Result<(libc::c_int, MqAttr), Errno> {
    // SAFETY: mq_attr is plain old data; zeroed is a valid value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: `a` is valid for the call.
    let ret = check(unsafe { libc::mq_getattr(mqd, &mut a) })?;
    Ok((ret, mq_attr_of(&a)))
}

/// mq_setattr: set or clear O_NONBLOCK (the only attribute it changes); the
/// return value and the attributes it reports as the old ones. The other
/// fields passed are `ignored` (mq_setattr(3) says they are).
pub fn mq_setattr(mqd: libc::c_int, nonblock: bool, ignored: MqAttr) -> Result<(libc::c_int, MqAttr), Errno> {
    // SAFETY: mq_attr is plain old data; zeroed is a valid value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    a.mq_flags = if nonblock { libc::O_NONBLOCK as _ } else { 0 };
    a.mq_maxmsg = ignored.0 as _;
    a.mq_msgsize = ignored.1 as _;
    a.mq_curmsgs = ignored.2 as _;
    // SAFETY: as above.
    let mut old: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: `a` and `old` are valid for the call.
    let ret = check(unsafe { libc::mq_setattr(mqd, &a, &mut old) })?;
    Ok((ret, mq_attr_of(&old)))
}

/// What `mq_notify(3)` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// A null sigevent: remove this process's registration.
    Unregister,
    /// SIGEV_SIGNAL: this signal number (not checked here) with `value`.
    Signal(i32, i32),
    /// SIGEV_NONE: the registration, without any notification.
    Nothing,
    /// SIGEV_THREAD: glibc runs [`thread_notified`] in a new thread with
    /// `value`, which [`wait_thread_notification`] then reads.
    Thread(i32),
    /// sigev_notify -1.
    Invalid,
}

pub fn mq_notify(mqd: libc::c_int, how: Notify) -> Result<libc::c_int, Errno> {
    // SAFETY: sigevent is plain old data; zeroed is a valid value.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    let sigval = |v: i32| libc::sigval { sival_ptr: v as isize as *mut libc::c_void };
    match how {
        // SAFETY: a null sigevent unregisters.
        Notify::Unregister => return check(unsafe { libc::mq_notify(mqd, std::ptr::null()) }),
        Notify::Signal(sig, value) => {
            ev.sigev_notify = libc::SIGEV_SIGNAL;
            ev.sigev_signo = sig;
            ev.sigev_value = sigval(value);
        }
        Notify::Nothing => ev.sigev_notify = libc::SIGEV_NONE,
        Notify::Thread(value) => {
            thread_notifications()?;
            ev.sigev_notify = libc::SIGEV_THREAD;
            ev.sigev_value = sigval(value);
            // The libc crate exposes only the first int of sigevent's union
            // (`sigev_notify_thread_id`); for SIGEV_THREAD glibc reads the
            // union as { function pointer, attribute pointer }. The union
            // starts pointer-aligned, and the attribute stays null.
            let offset = std::mem::offset_of!(libc::sigevent, sigev_notify_thread_id);
            const { assert!(std::mem::offset_of!(libc::sigevent, sigev_notify_thread_id) % std::mem::align_of::<usize>() == 0) };
            // SAFETY: `offset` is the union's start inside `ev`, aligned for a
            // pointer, with room for two pointers (the union is 48 or 52
            // bytes); the write stores the callback where glibc reads
            // `sigev_notify_function`.
            unsafe {
                (&mut ev as *mut libc::sigevent).cast::<u8>().add(offset).cast::<extern "C" fn(libc::sigval)>().write(thread_notified)
            };
        }
        Notify::Invalid => ev.sigev_notify = -1,
    }
    // SAFETY: `ev` is valid for the call.
    check(unsafe { libc::mq_notify(mqd, &ev) })
}

/// The pipe SIGEV_THREAD notifications are written to: (read, write).
static THREAD_PIPE: std::sync::OnceLock<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> = std::sync::OnceLock::new();

fn thread_notifications() -> Result<&'static (std::os::fd::OwnedFd, std::os::fd::OwnedFd), Errno> {
    if let Some(p) = THREAD_PIPE.get() {
        return Ok(p);
    }
    let p = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok(THREAD_PIPE.get_or_init(|| p))
}

/// The SIGEV_THREAD callback: writes the value it was given to the pipe
/// (write(2) is safe from any thread).
extern "C" fn thread_notified(v: libc::sigval) {
    if let Some((_, w)) = THREAD_PIPE.get() {
        let bytes = (v.sival_ptr as isize as i32).to_ne_bytes();
        let _ = nix::unistd::write(w, &bytes);
    }
}

/// Wait up to `timeout` for a SIGEV_THREAD notification: its value
/// (EAGAIN when none came in time).
pub fn wait_thread_notification(timeout: std::time::Duration) -> Result<i32, Errno> {
    use std::os::fd::AsFd;
    let (r, _) = thread_notifications()?;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [nix::poll::PollFd::new(r.as_fd(), nix::poll::PollFlags::POLLIN)];
    if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))? == 0 {
        return Err(Errno::EAGAIN);
    }
    let mut buf = [0u8; 4];
    let n = nix::unistd::read(r, &mut buf)?;
    if n != 4 {
        return Err(Errno::EIO);
    }
    Ok(i32::from_ne_bytes(buf))
}

/// Block these signals for the whole process (they are then taken with
/// [`wait_signal`]).
pub fn block_signals(sigs: &[i32]) -> Result<(), Errno> {
    // Real-time signals have no nix `Signal`, so the set is libc's.
    let set = sigset(sigs);
    // SAFETY: `set` is a valid sigset_t; the old mask is not asked for.
    check(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) }).map(drop)
}

/// What a delivered signal's siginfo says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    /// si_value's int (meaningful for SI_QUEUE, SI_MESGQ, SI_TIMER).
    pub value: i32,
}

/// The si_code names of signal(7) and what they mean.
pub const SI_CODES: &[(&str, i32)] = &[
    ("SI_USER", libc::SI_USER),
    ("SI_KERNEL", 0x80),
    ("SI_QUEUE", libc::SI_QUEUE),
    ("SI_TIMER", libc::SI_TIMER),
    ("SI_MESGQ", libc::SI_MESGQ),
    ("SI_ASYNCIO", libc::SI_ASYNCIO),
    ("SI_SIGIO", libc::SI_SIGIO),
    ("SI_TKILL", libc::SI_TKILL),
];

pub fn si_code_name(code: i32) -> String {
    SI_CODES.iter().find(|(_, c)| *c == code).map_or_else(|| code.to_string(), |(n, _)| (*n).to_owned())
}

fn sigset(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain old data; zeroed is valid, and sigemptyset
    // and sigaddset only write into it (an invalid number is skipped).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        set
    }
}

fn from_siginfo(signo: i32, info: &libc::siginfo_t) -> SigInfo {
    // SAFETY: the kernel filled `info`; si_pid, si_uid and si_value sit
    // where these accessors read them for every user-sent and queued signal
    // (for others they read what the kernel zeroed).
    let (pid, uid, value) = unsafe { (info.si_pid(), info.si_uid(), info.si_value().sival_ptr as isize as i32) };
    SigInfo { signo, code: info.si_code, pid, uid, value }
}

/// How a blocked signal is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigWait {
    Timed(std::time::Duration),
    Info,
    /// sigwait(3): only the number is reported.
    Plain,
    /// A signalfd(2) of the set, read once within the duration.
    Fd(std::time::Duration),
    /// The raw rt_sigtimedwait(2) with one argument an unusable address.
    BadAddress(std::time::Duration, crate::scenario::model::SigwaitArg),
}

/// Wait for one of the (blocked) signals `sigs`: what its siginfo says.
pub fn wait_signal(sigs: &[i32], how: SigWait, no_info: bool) -> Result<SigInfo, Errno> {
    let set = sigset(sigs);
    // SAFETY: siginfo_t is plain old data; zeroed is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // Without a buffer the kernel reports the number only (the zeroed
    // `info` is what the outcome then shows).
    let info_ptr: *mut libc::siginfo_t = if no_info { std::ptr::null_mut() } else { &mut info };
    let signo = match how {
        SigWait::Timed(t) => {
            let ts = libc::timespec { tv_sec: t.as_secs() as libc::time_t, tv_nsec: t.subsec_nanos() as libc::c_long };
            // SAFETY: every pointer is to a valid local for the call, or null.
            check(unsafe { libc::sigtimedwait(&set, info_ptr, &ts) })?
        }
        // SAFETY: as above.
        SigWait::Info => check(unsafe { libc::sigwaitinfo(&set, info_ptr) })?,
        SigWait::Plain => {
            let mut sig = 0;
            // SAFETY: as above; sigwait returns an error number, not -1.
            match unsafe { libc::sigwait(&set, &mut sig) } {
                0 => return Ok(SigInfo { signo: sig, code: 0, pid: 0, uid: 0, value: 0 }),
                e => return Err(Errno::from_raw(e)),
            }
        }
        SigWait::Fd(t) => return read_signalfd(sigs, t),
        SigWait::BadAddress(t, arg) => {
            use crate::scenario::model::SigwaitArg;
            let ts = libc::timespec { tv_sec: t.as_secs() as libc::time_t, tv_nsec: t.subsec_nanos() as libc::c_long };
            let bad = BAD_ADDRESS as *const libc::c_void;
            let set_ptr = if arg == SigwaitArg::Set { bad } else { (&set as *const libc::sigset_t).cast() };
            let info_ptr = if arg == SigwaitArg::Info { bad } else { (&mut info as *mut libc::siginfo_t).cast_const().cast() };
            let ts_ptr = if arg == SigwaitArg::Timeout { bad } else { (&ts as *const libc::timespec).cast() };
            // The kernel's sigset is 64 bits (_NSIG / 8), not glibc's 128 bytes.
            let kernel_sigset_size: libc::size_t = 8;
            // SAFETY: each pointer is a valid local or an address the kernel
            // refuses with EFAULT, never touching this process's memory.
            check(unsafe { libc::syscall(libc::SYS_rt_sigtimedwait, set_ptr, info_ptr, ts_ptr, kernel_sigset_size) } as libc::c_int)?
        }
    };
    Ok(from_siginfo(signo, &info))
}

fn read_signalfd(sigs: &[i32], timeout: std::time::Duration) -> Result<SigInfo, Errno> {
    let (fd, _) = signalfd(None, sigs, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)?;
    read_signalfd_from(fd.as_ref().map(OwnedFd::as_fd).ok_or(Errno::EBADF)?, timeout)
}

/// `signalfd(2)`: with `given` (a descriptor, or any number such as -2),
/// a new mask for it, and what the call returned; without, a new signalfd.
pub fn signalfd(given: Option<i32>, sigs: &[i32], flags: i32) -> Result<(Option<OwnedFd>, i32), Errno> {
    use std::os::fd::FromRawFd;
    let set = sigset(sigs);
    // SAFETY: `set` is a valid sigset_t; the descriptor is only an integer
    // to the kernel, which checks it.
    let raw = check(unsafe { libc::signalfd(given.unwrap_or(-1), &set, flags) })?;
    // SAFETY: without `given`, the call made a new descriptor, ours alone.
    Ok((given.is_none().then(|| unsafe { OwnedFd::from_raw_fd(raw) }), raw))
}

/// Read one signalfd_siginfo from a signalfd, waiting at most `timeout`.
pub fn read_signalfd_from(fd: BorrowedFd<'_>, timeout: std::time::Duration) -> Result<SigInfo, Errno> {
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))? == 0 {
        return Err(Errno::EAGAIN);
    }
    // SAFETY: signalfd_siginfo is plain old data; zeroed is valid.
    let mut s: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `s` is valid for `size` bytes, the size signalfd reads in.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&mut s as *mut libc::signalfd_siginfo).cast(), size) };
    if n != size as isize {
        return Err(if n < 0 { Errno::last() } else { Errno::EIO });
    }
    Ok(SigInfo { signo: s.ssi_signo as i32, code: s.ssi_code, pid: s.ssi_pid as i32, uid: s.ssi_uid, value: s.ssi_int })
}

/// Take every pending signal of the (blocked) set without waiting, in the
/// order the kernel hands them out.
pub fn take_pending(sigs: &[i32]) -> Result<Vec<SigInfo>, Errno> {
    let mut out = Vec::new();
    // Bounded: at most RLIMIT_SIGPENDING queued signals exist.
    while out.len() < 1 << 16 {
        match wait_signal(sigs, SigWait::Timed(std::time::Duration::ZERO), false) {
            Ok(info) => out.push(info),
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// How `send_signal` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Kill,
    Sigqueue(i32),
    /// pidfd_send_signal(2), with a SI_QUEUE siginfo carrying the value if
    /// one is given, else none (the kernel then fills in SI_USER).
    Pidfd(Option<i32>),
    /// tkill(2) of the thread whose tid is the pid (a single-threaded role).
    Tkill,
    /// tgkill(2) with the pid as both the thread group and the thread.
    Tgkill,
}

/// The siginfo a process may pass for itself: si_code SI_QUEUE, its own
/// pid and uid, and a value (the layout of siginfo_t's _rt member).
#[repr(C)]
struct QueueInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: usize,
    _rest: [u8; 128 - 32],
}
const _: () = assert!(std::mem::size_of::<QueueInfo>() == std::mem::size_of::<libc::siginfo_t>());

/// Send `sig` (passed as it is, so invalid numbers reach the kernel) to
/// `pid`: what the call returned.
pub fn send_signal(how: Sender, pid: i32, sig: i32) -> Result<libc::c_int, Errno> {
    match how {
        // SAFETY: kill takes only integers.
        Sender::Kill => check(unsafe { libc::kill(pid, sig) }),
        // SAFETY: tkill and tgkill take only integers.
        Sender::Tkill => check(unsafe { libc::syscall(libc::SYS_tkill, pid, sig) } as libc::c_int),
        // SAFETY: as above.
        Sender::Tgkill => check(unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, sig) } as libc::c_int),
        Sender::Sigqueue(value) => {
            let v = libc::sigval { sival_ptr: value as isize as *mut libc::c_void };
            // SAFETY: sigqueue takes integers and a union passed by value.
            check(unsafe { libc::sigqueue(pid, sig, v) })
        }
        Sender::Pidfd(value) => {
            // SAFETY: pidfd_open takes integers and returns a new descriptor.
            let raw = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int)?;
            // SAFETY: the call succeeded, so `raw` is a new descriptor we own.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
            let info = value.map(|v| QueueInfo {
                signo: sig,
                errno: 0,
                code: libc::SI_QUEUE,
                _pad: 0,
                pid: std::process::id() as libc::pid_t,
                // SAFETY: getuid cannot fail.
                uid: unsafe { libc::getuid() },
                value: v as isize as usize,
                _rest: [0; 96],
            });
            let ptr = info.as_ref().map_or(std::ptr::null(), |i| i as *const QueueInfo);
            // SAFETY: `ptr` is null or a siginfo-sized, initialised local.
            check(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig, ptr, 0) } as libc::c_int)
        }
    }
}

/// What caught signals' handlers recorded, in arrival order.
struct Recorded {
    count: std::sync::atomic::AtomicUsize,
    slots: [[std::sync::atomic::AtomicI32; 5]; RECORDED_MAX],
}
const RECORDED_MAX: usize = 1024;
static RECORDED: Recorded = Recorded {
    count: std::sync::atomic::AtomicUsize::new(0),
    slots: [const { [const { std::sync::atomic::AtomicI32::new(0) }; 5] }; RECORDED_MAX],
};

extern "C" fn record_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::sync::atomic::Ordering::SeqCst;
    let i = RECORDED.count.fetch_add(1, SeqCst);
    let Some(slot) = RECORDED.slots.get(i) else { return };
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t.
    let s = from_siginfo(sig, unsafe { &*info });
    for (cell, v) in slot.iter().zip([s.signo, s.code, s.pid, s.uid as i32, s.value]) {
        cell.store(v, SeqCst);
    }
}

/// Every signal a `catch_signal` handler recorded so far (at most the
/// first 1024), and how many arrived.
pub fn handled() -> (usize, Vec<SigInfo>) {
    use std::sync::atomic::Ordering::SeqCst;
    let n = RECORDED.count.load(SeqCst);
    let list = RECORDED.slots[..n.min(RECORDED_MAX)]
        .iter()
        .map(|s| {
            let v: Vec<i32> = s.iter().map(|c| c.load(SeqCst)).collect();
            SigInfo { signo: v[0], code: v[1], pid: v[2], uid: v[3] as u32, value: v[4] }
        })
        .collect();
    (n, list)
}

/// `shm_unlink(3)`, returning what the call returned.
pub fn shm_unlink(name: &str) -> Result<libc::c_int, Errno> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid C string.
    check(unsafe { libc::shm_unlink(c.as_ptr()) })
}

pub fn msgget(key: Key, flags: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: msgget takes only integers.
    check(unsafe { libc::msgget(key, flags) })
}

/// `msgsnd(2)` of one message: `mtype` followed by the text.
pub fn msgsnd(id: libc::c_int, mtype: i64, text: &[u8], flags: libc::c_int) -> Result<libc::c_int, Errno> {
    msgsnd_sized(id, mtype, text, None, flags)
}

/// `msgsnd(2)` of `text` with its type, telling the kernel the message is
/// `negative_size` bytes (a size_t above LONG_MAX) instead of its length.
/// The kernel reads the type, then refuses the size before copying any
/// text; were it to take the size, it could only read past the buffer
/// (EFAULT or bytes of this process in a message), never write.
pub fn msgsnd_sized(
    id: libc::c_int,
    mtype: i64,
    text: &[u8],
    negative_size: Option<i64>,
    flags: libc::c_int,
) -> Result<libc::c_int, Errno> {
    let mut buf = Vec::with_capacity(8 + text.len());
    buf.extend_from_slice(&(mtype as libc::c_long).to_ne_bytes());
    buf.extend_from_slice(text);
    let size = negative_size.filter(|n| *n < 0).map_or(text.len(), |n| n as usize);
    // SAFETY: `buf` is a struct msgbuf: a long mtype then `text.len()` bytes;
    // a larger `size` is only ever negative as a long, see above.
    check(unsafe { libc::msgsnd(id, buf.as_ptr().cast(), size, flags) })
}

/// `msgsnd(2)` (of `len` bytes) or, with `receive: Some(msgtyp)`,
/// `msgrcv(2)` (into `len` bytes) with the message buffer at an address no
/// process can use.
pub fn msg_bad_buffer(id: libc::c_int, receive: Option<i64>, len: usize, flags: libc::c_int) -> Result<libc::c_int, Errno> {
    let bad = BAD_ADDRESS as *mut libc::c_void;
    if let Some(msgtyp) = receive {
        // SAFETY: the kernel checks the address when it copies out and fails
        // with EFAULT; no memory of this process is touched.
        let n = unsafe { libc::msgrcv(id, bad, len, msgtyp as libc::c_long, flags) };
        return if n == -1 { Err(Errno::last()) } else { Ok(n as libc::c_int) };
    }
    // SAFETY: as above, for reading.
    check(unsafe { libc::msgsnd(id, bad, len, flags) })
}

/// `msgrcv(2)` into a buffer of `len` bytes: the type and the text.
pub fn msgrcv(id: libc::c_int, len: usize, msgtyp: i64, flags: libc::c_int) -> Result<(i64, Vec<u8>), Errno> {
    let head = std::mem::size_of::<libc::c_long>();
    let mut buf = vec![0u8; head + len];
    // SAFETY: `buf` holds a long and `len` bytes, as msgrcv writes at most.
    let n = unsafe { libc::msgrcv(id, buf.as_mut_ptr().cast(), len, msgtyp as libc::c_long, flags) };
    if n == -1 {
        return Err(Errno::last());
    }
    let mtype = libc::c_long::from_ne_bytes(buf[..head].try_into().map_err(|_| Errno::EIO)?);
    // c_long is 32 bits on 32-bit ABIs, where the conversion is not a no-op.
    #[allow(clippy::useless_conversion)]
    let mtype = i64::from(mtype);
    Ok((mtype, buf[head..head + n as usize].to_vec()))
}

/// IPC_STAT (by id), or MSG_STAT / MSG_STAT_ANY (by index: the return
/// value is the queue's id).
pub fn msgctl_stat(id: libc::c_int, cmd: libc::c_int) -> Result<(libc::c_int, ShmStat), Errno> {
    // SAFETY: msqid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: the status commands write a msqid_ds into `ds`.
    let ret = check(unsafe { libc::msgctl(id, cmd, &mut ds) })?;
    Ok((
        ret,
        ShmStat {
            qnum: ds.msg_qnum as u64,
            qbytes: ds.msg_qbytes as u64,
            cbytes: ds.__msg_cbytes as u64,
            lspid: ds.msg_lspid,
            lrpid: ds.msg_lrpid,
            stime: ds.msg_stime,
            rtime: ds.msg_rtime,
            ctime: ds.msg_ctime,
            uid: ds.msg_perm.uid,
            gid: ds.msg_perm.gid,
            cuid: ds.msg_perm.cuid,
            cgid: ds.msg_perm.cgid,
            mode: u32::from(ds.msg_perm.mode),
            key: ds.msg_perm.__key,
            read_at: unix_now(),
            ..ShmStat::default()
        },
    ))
}

/// IPC_SET of a queue: owner, permission bits and msg_qbytes.
pub fn msgctl_set(id: libc::c_int, uid: u32, gid: u32, mode: u32, qbytes: u64) -> Result<libc::c_int, Errno> {
    // SAFETY: msqid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    ds.msg_perm.uid = uid;
    ds.msg_perm.gid = gid;
    ds.msg_perm.mode = mode as _;
    ds.msg_qbytes = qbytes as _;
    // SAFETY: IPC_SET reads the fields set above from `ds`.
    check(unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) })
}

/// IPC_INFO and the *_INFO usage of semaphores or message queues.
#[derive(Debug, Clone, Copy)]
pub struct IpcUsage<const N: usize> {
    /// IPC_INFO's return value: the highest used index.
    pub highest: libc::c_int,
    pub limits: [u64; N],
    /// Objects in use (SEM_INFO semusz, MSG_INFO msgpool).
    pub in_use: i64,
    /// SEM_INFO: [semaem (semaphores in use), 0]; MSG_INFO: [msgmap
    /// (messages queued), msgtql (bytes queued)].
    pub totals: [u64; 2],
}

/// IPC_INFO of semaphores: its return value (the highest used index), the
/// limits (SEMMSL, SEMMNS, SEMOPM, SEMMNI, as kernel.sem orders them), and
/// SEM_INFO's count of sets in use.
pub fn semctl_info() -> Result<IpcUsage<4>, Errno> {
    // struct seminfo: ten ints.
    #[repr(C)]
    #[derive(Default)]
    struct SemInfo {
        semmap: libc::c_int,
        semmni: libc::c_int,
        semmns: libc::c_int,
        semmnu: libc::c_int,
        semmsl: libc::c_int,
        semopm: libc::c_int,
        semume: libc::c_int,
        semusz: libc::c_int,
        semvmx: libc::c_int,
        semaem: libc::c_int,
    }
    const SEM_INFO: libc::c_int = 19;
    let mut limits = SemInfo::default();
    // SAFETY: IPC_INFO writes a struct seminfo, laid out by `SemInfo`.
    let highest = check(unsafe { libc::semctl(0, 0, libc::IPC_INFO, Semun { buf: (&mut limits as *mut SemInfo).cast() }) })?;
    let mut usage = SemInfo::default();
    // SAFETY: SEM_INFO writes a struct seminfo too.
    check(unsafe { libc::semctl(0, 0, SEM_INFO, Semun { buf: (&mut usage as *mut SemInfo).cast() }) })?;
    let l = [limits.semmsl, limits.semmns, limits.semopm, limits.semmni].map(|v| v as u64);
    Ok(IpcUsage { highest, limits: l, in_use: i64::from(usage.semusz), totals: [usage.semaem as u64, 0] })
}

/// IPC_INFO of message queues: its return value (the highest used index),
/// the limits (msgmax, msgmnb, msgmni), and MSG_INFO's count of queues in use.
pub fn msgctl_info() -> Result<IpcUsage<3>, Errno> {
    // struct msginfo: seven ints and an unsigned short.
    #[repr(C)]
    #[derive(Default)]
    struct MsgInfo {
        msgpool: libc::c_int,
        msgmap: libc::c_int,
        msgmax: libc::c_int,
        msgmnb: libc::c_int,
        msgmni: libc::c_int,
        msgssz: libc::c_int,
        msgtql: libc::c_int,
        msgseg: libc::c_ushort,
    }
    const MSG_INFO: libc::c_int = 12;
    let mut limits = MsgInfo::default();
    // SAFETY: IPC_INFO writes a struct msginfo, laid out by `MsgInfo`, which
    // is smaller than the msqid_ds the prototype names.
    let highest = check(unsafe { libc::msgctl(0, libc::IPC_INFO, (&mut limits as *mut MsgInfo).cast()) })?;
    let mut usage = MsgInfo::default();
    // SAFETY: MSG_INFO writes a struct msginfo too.
    check(unsafe { libc::msgctl(0, MSG_INFO, (&mut usage as *mut MsgInfo).cast()) })?;
    Ok(IpcUsage {
        highest,
        limits: [limits.msgmax, limits.msgmnb, limits.msgmni].map(|v| v as u64),
        in_use: i64::from(usage.msgpool),
        totals: [usage.msgmap as u64, usage.msgtql as u64],
    })
}

pub fn semget(key: Key, nsems: libc::c_int, flags: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: semget takes only integers.
    check(unsafe { libc::semget(key, nsems, flags) })
}

/// One `struct sembuf`: semaphore number, operation, flags.
#[derive(Debug, Clone, Copy)]
pub struct SemBuf {
    pub num: u16,
    pub op: i16,
    pub flags: i16,
}

/// `semop(2)`, or `semtimedop(2)` when a timeout is given.
pub fn semop(id: libc::c_int, ops: &[SemBuf], timeout: Option<std::time::Duration>) -> Result<libc::c_int, Errno> {
    semop_with(id, ops, timeout, SemopFaults::default())
}

/// Unusable addresses a `semop` may pass instead of its own buffers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemopFaults {
    /// The operations array (nsops stays the number of operations).
    pub ops: bool,
    /// semtimedop's timeout.
    pub timeout: bool,
}

/// `semop(2)`, or `semtimedop(2)` when a timeout is given (or `faults`
/// asks for a bad timeout address), with the addresses `faults` names.
pub fn semop_with(
    id: libc::c_int,
    ops: &[SemBuf],
    timeout: Option<std::time::Duration>,
    faults: SemopFaults,
) -> Result<libc::c_int, Errno> {
    let mut bufs: Vec<libc::sembuf> = ops.iter().map(|o| libc::sembuf { sem_num: o.num, sem_op: o.op, sem_flg: o.flags }).collect();
    let ptr = if faults.ops { BAD_ADDRESS as *mut libc::sembuf } else { bufs.as_mut_ptr() };
    if timeout.is_none() && !faults.timeout {
        // SAFETY: `ptr` holds `bufs.len()` valid sembufs for the call, or is
        // the bad address the kernel checks before reading.
        return check(unsafe { libc::semop(id, ptr, bufs.len()) });
    }
    let t = timeout.unwrap_or_default();
    let ts = libc::timespec { tv_sec: t.as_secs() as libc::time_t, tv_nsec: t.subsec_nanos() as libc::c_long };
    let ts_ptr = if faults.timeout { BAD_ADDRESS as *const libc::timespec } else { &ts as *const libc::timespec };
    // SAFETY: as above, and `ts_ptr` is a valid timespec for the call or
    // the bad address.
    let ret = unsafe { libc::syscall(libc::SYS_semtimedop, id, ptr, bufs.len(), ts_ptr) };
    check(ret as libc::c_int)
}

/// The fourth argument of semctl (`union semun`).
#[repr(C)]
#[derive(Clone, Copy)]
union Semun {
    val: libc::c_int,
    buf: *mut libc::semid_ds,
    array: *mut libc::c_ushort,
}

/// GETVAL, GETPID, GETNCNT, GETZCNT: commands that return an integer.
pub fn semctl_get(id: libc::c_int, num: libc::c_int, cmd: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: these commands take no fourth argument.
    check(unsafe { libc::semctl(id, num, cmd) })
}

/// SETVAL.
pub fn semctl_setval(id: libc::c_int, num: libc::c_int, val: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: SETVAL reads `val` from the semun passed by value.
    check(unsafe { libc::semctl(id, num, libc::SETVAL, Semun { val }) })
}

/// GETALL for a set of `n` semaphores.
pub fn semctl_getall(id: libc::c_int, n: usize) -> Result<Vec<u16>, Errno> {
    let mut values = vec![0u16; n];
    // SAFETY: GETALL writes nsems values into `values`, which holds `n`, the
    // set's size as the caller knows it; a larger set would overrun, so the
    // caller reads nsems from IPC_STAT first.
    check(unsafe { libc::semctl(id, 0, libc::GETALL, Semun { array: values.as_mut_ptr() }) })?;
    Ok(values)
}

/// SETALL: one value per semaphore of the set.
pub fn semctl_setall(id: libc::c_int, values: &[u16]) -> Result<libc::c_int, Errno> {
    let mut values = values.to_vec();
    // SAFETY: SETALL reads nsems values; the caller gives exactly nsems
    // (from IPC_STAT), so the kernel reads only `values`.
    check(unsafe { libc::semctl(id, 0, libc::SETALL, Semun { array: values.as_mut_ptr() }) })
}

/// IPC_STAT of a semaphore set, in the fields scenarios compare.
pub fn semctl_stat(id: libc::c_int) -> Result<ShmStat, Errno> {
    semctl_stat_cmd(id, libc::IPC_STAT).map(|(_, s)| s)
}

/// IPC_STAT (by id), or SEM_STAT / SEM_STAT_ANY (by index: the return value
/// is the set's id).
pub fn semctl_stat_cmd(id: libc::c_int, cmd: libc::c_int) -> Result<(libc::c_int, ShmStat), Errno> {
    // SAFETY: semid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: the status commands write a semid_ds into `ds`, valid for the call.
    let ret = check(unsafe { libc::semctl(id, 0, cmd, Semun { buf: &mut ds }) })?;
    let stat = ShmStat {
        nsems: ds.sem_nsems as u64,
        uid: ds.sem_perm.uid,
        gid: ds.sem_perm.gid,
        cuid: ds.sem_perm.cuid,
        cgid: ds.sem_perm.cgid,
        mode: u32::from(ds.sem_perm.mode),
        key: ds.sem_perm.__key,
        otime: ds.sem_otime,
        ctime: ds.sem_ctime,
        read_at: unix_now(),
        ..ShmStat::default()
    };
    Ok((ret, stat))
}

/// IPC_SET of a semaphore set: owner and permission bits.
pub fn semctl_set(id: libc::c_int, uid: u32, gid: u32, mode: u32) -> Result<libc::c_int, Errno> {
    // SAFETY: semid_ds is plain old data; zeroed is a valid value.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    ds.sem_perm.uid = uid;
    ds.sem_perm.gid = gid;
    ds.sem_perm.mode = mode as _;
    // SAFETY: IPC_SET reads uid, gid and mode from `ds`, valid for the call.
    check(unsafe { libc::semctl(id, 0, libc::IPC_SET, Semun { buf: &mut ds }) })
}

pub fn msgctl_rmid(id: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: IPC_RMID ignores the buffer argument; null is allowed.
    check(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) })
}

/// Map anonymous memory, shared or private, read-write.
pub fn mmap_anonymous(len: usize, shared: bool, at: Placement) -> Result<usize, Errno> {
    let vis = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
    let (addr, fixed) = at.parts();
    // SAFETY: at a kernel-chosen address a new mapping cannot alias Rust
    // memory; a fixed one only goes over a mapping the scenario made itself
    // (`Placement::Over`), never over memory Rust owns.
    let p =
        unsafe { libc::mmap(addr as *mut libc::c_void, len, libc::PROT_READ | libc::PROT_WRITE, vis | libc::MAP_ANONYMOUS | fixed, -1, 0) };
    if p == libc::MAP_FAILED { Err(Errno::last()) } else { Ok(p as usize) }
}

/// Where a new mapping goes.
#[derive(Debug, Clone, Copy)]
pub enum Placement {
    /// Where the kernel chooses.
    Anywhere,
    /// Exactly over an existing mapping of the scenario's: replacing it
    /// (MAP_FIXED) or refusing to (MAP_FIXED_NOREPLACE, EEXIST).
    Over { addr: usize, replace: bool },
}

impl Placement {
    fn parts(self) -> (usize, libc::c_int) {
        match self {
            Placement::Anywhere => (0, 0),
            Placement::Over { addr, replace: true } => (addr, libc::MAP_FIXED),
            Placement::Over { addr, replace: false } => (addr, libc::MAP_FIXED_NOREPLACE),
        }
    }
}

/// Map `len` bytes of a file (or shared memory object) MAP_SHARED, read-only
/// or read-write, at a kernel-chosen address.
pub fn mmap_fd(fd: &std::os::fd::OwnedFd, len: usize, writable: bool, at: Placement) -> Result<usize, Errno> {
    use std::os::fd::AsRawFd;
    let prot = if writable { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
    let (addr, fixed) = at.parts();
    // SAFETY: as in `mmap_anonymous`: kernel-chosen, or over a mapping the
    // scenario made; the descriptor is valid for the call (borrowed).
    let p = unsafe { libc::mmap(addr as *mut libc::c_void, len, prot, libc::MAP_SHARED | fixed, fd.as_raw_fd(), 0) };
    if p == libc::MAP_FAILED { Err(Errno::last()) } else { Ok(p as usize) }
}

/// `msync(2)` of a range this process mapped.
pub fn msync(addr: usize, len: usize, flags: libc::c_int) -> Result<libc::c_int, Errno> {
    // SAFETY: msync does not change memory contents or mappings; the kernel
    // checks the range (ENOMEM if it is not mapped).
    check(unsafe { libc::msync(addr as *mut libc::c_void, len, flags) })
}

/// Take ownership of a descriptor this process inherited across exec.
/// Returns `None` if `fd` is not open.
pub fn adopt_inherited_fd(fd: i32) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    nix::fcntl::fcntl(borrow_for_probe(fd).ok_or(Errno::EBADF)?, nix::fcntl::FcntlArg::F_GETFD)?;
    // SAFETY: the descriptor is open (F_GETFD succeeded), it was inherited
    // across exec, and nothing else in this fresh image owns it: the
    // parent role passed its number for exactly this object.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

fn borrow_for_probe(fd: i32) -> Option<std::os::fd::BorrowedFd<'static>> {
    (fd >= 0).then(|| {
        // SAFETY: only used for the F_GETFD probe above, which tolerates a
        // closed descriptor (EBADF).
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
    })
}

/// Reserve `len` bytes of address space with no access, so that fixed
/// attaches can be placed inside a range nothing else uses.
pub fn reserve_address_space(len: usize) -> Result<usize, Errno> {
    // SAFETY: as above, a fresh PROT_NONE mapping at a kernel-chosen address.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
    };
    if p == libc::MAP_FAILED { Err(Errno::last()) } else { Ok(p as usize) }
}

pub fn munmap(addr: usize, len: usize) -> Result<libc::c_int, Errno> {
    // SAFETY: the harness only unmaps ranges it mapped or attached itself and
    // never holds Rust references into them.
    check(unsafe { libc::munmap(addr as *mut libc::c_void, len) })
}

/// Copy `len` bytes out of memory mapped at `addr`.
///
/// If the range is not readable the process receives SIGSEGV or SIGBUS:
/// that is an observation the scenario may expect, not a harness bug.
pub fn read_mapped(addr: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, b) in out.iter_mut().enumerate() {
        // SAFETY: `addr..addr+len` is a range the scenario mapped. Volatile
        // reads because other processes write it concurrently; a fault is
        // delivered as a signal, which is the behaviour under test.
        *b = unsafe { std::ptr::read_volatile((addr + i) as *const u8) };
    }
    out
}

/// Copy `data` into memory mapped at `addr` (see [`read_mapped`]).
pub fn write_mapped(addr: usize, data: &[u8]) {
    for (i, b) in data.iter().enumerate() {
        // SAFETY: as in `read_mapped`; a write to a read-only attachment
        // raises SIGSEGV, which scenarios expect with `killed_by`.
        unsafe { std::ptr::write_volatile((addr + i) as *mut u8, *b) };
    }
}

/// Load a `u64` at `addr` with acquire ordering (the publication check).
pub fn load_acquire_u64(addr: usize) -> u64 {
    // SAFETY: `addr` is 8-byte aligned inside a live shared mapping (checked
    // by the caller); other processes access it only atomically.
    unsafe { std::sync::atomic::AtomicU64::from_ptr(addr as *mut u64) }.load(std::sync::atomic::Ordering::Acquire)
}

/// Store a `u64` at `addr` with release ordering (see [`load_acquire_u64`]).
pub fn store_release_u64(addr: usize, value: u64) {
    // SAFETY: as in `load_acquire_u64`.
    unsafe { std::sync::atomic::AtomicU64::from_ptr(addr as *mut u64) }.store(value, std::sync::atomic::Ordering::Release);
}

/// The lowest descriptor number not in use (what the next open returns).
pub fn lowest_free_fd() -> i32 {
    // SAFETY: F_GETFD only reads the descriptor's flags; EBADF marks a free
    // number.
    (0..).find(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1).unwrap_or(0)
}

/// The RLIMIT_NOFILE that leaves exactly `spare` descriptor numbers free
/// (numbers at or above the limit cannot be allocated).
pub fn limit_leaving(spare: u32) -> u64 {
    let mut free = 0;
    for fd in 0.. {
        // SAFETY: as in `lowest_free_fd`.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            if free == spare {
                return fd as u64;
            }
            free += 1;
        }
    }
    0
}

/// Whether FD_CLOEXEC is set on `fd`.
pub fn is_cloexec(fd: libc::c_int) -> Result<bool, Errno> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// Lower RLIMIT_NOFILE (soft and hard) to `limit` descriptors.
pub fn limit_open_files(limit: u64) -> Result<(), Errno> {
    set_rlimit(libc::RLIMIT_NOFILE as i32, limit)
}

/// Set a resource limit's soft and hard values (lowering needs no
/// privilege; raising the hard limit needs CAP_SYS_RESOURCE).
pub fn set_rlimit(resource: i32, limit: u64) -> Result<(), Errno> {
    let rl = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: `rl` is a valid rlimit for the duration of the call.
    check(unsafe { libc::setrlimit(resource as _, &rl) }).map(drop)
}

/// The file system type of `path` (or of its nearest existing ancestor:
/// where it would be made) by its statfs(2) magic (`tmpfs`, `ext4`,
/// `fuse`, ...), or `0x...` for one without a name here.
pub fn fs_type_name(path: &Path) -> String {
    let Some(s) = path.ancestors().find_map(|p| nix::sys::statfs::statfs(p).ok()) else { return "unknown".to_owned() };
    // Magic numbers from linux/magic.h.
    // __fsword_t is i64 here but narrower on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let magic = s.filesystem_type().0 as i64;
    match magic {
        0x0102_1994 => "tmpfs",
        0xEF53 => "ext4",
        0x6573_5546 => "fuse",
        0x794c_7630 => "overlayfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x8584_58f6 => "ramfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0x0102_1997 => "9p",
        _ => return format!("{magic:#x}"),
    }
    .to_owned()
}

/// A resource limit's soft and hard values (`u64::MAX`: unlimited).
pub fn get_rlimit(resource: i32) -> Result<(u64, u64), Errno> {
    // SAFETY: rlimit is plain old data; getrlimit fills it.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `rl` is valid for writing.
    check(unsafe { libc::getrlimit(resource as _, &mut rl) })?;
    Ok((rl.rlim_cur, rl.rlim_max))
}

/// Enter a new user namespace, mapped to this uid and gid as root, and a
/// new IPC namespace it owns: what a rootless container runtime does.
pub fn enter_user_and_ipc_namespace() -> Result<(), Errno> {
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER | nix::sched::CloneFlags::CLONE_NEWIPC)?;
    let write = |f: &str, s: String| std::fs::write(f, s).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    write("/proc/self/setgroups", "deny".to_owned())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// Set only the soft limit, keeping the hard one (so a child may raise
/// its own soft limit again).
pub fn set_soft_rlimit(resource: i32, limit: u64) -> Result<(), Errno> {
    // SAFETY: rlimit is plain old data; getrlimit fills it.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `rl` is valid for writing.
    check(unsafe { libc::getrlimit(resource as _, &mut rl) })?;
    rl.rlim_cur = limit;
    // SAFETY: `rl` is a valid rlimit for the duration of the call.
    check(unsafe { libc::setrlimit(resource as _, &rl) }).map(drop)
}

/// The result of [`fork`].
#[derive(Debug)]
pub enum Forked {
    Parent(nix::unistd::Pid),
    Child,
}

/// `fork(2)`. Only role processes call this, and they are single-threaded.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: role processes are single-threaded (they are fresh exec'd
    // images that start no threads), so the child may run arbitrary code.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Leave the process at once, without running destructors or atexit handlers
/// (which a forked child must not run twice).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call.
    unsafe { libc::_exit(code) }
}

/// Give every catchable signal its default disposition and unblock all
/// signals. The Rust runtime ignores SIGPIPE at start-up; roles must not
/// inherit that, or SIGPIPE scenarios would silently see EPIPE instead.
pub fn reset_signal_dispositions() -> Result<(), Errno> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, sigprocmask};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in 1..=signal_max() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL cannot violate memory safety; there is
        // no handler code. Numbers without a Signal variant use libc. A
        // failure leaves that one signal as it was; SIGPIPE, the one that
        // matters, is a valid number and cannot fail.
        match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => {
                let _ = unsafe { nix::sys::signal::sigaction(s, &dfl) };
            }
            Err(_) => {
                // SAFETY: SIG_DFL for a real-time signal number in range.
                unsafe { libc::signal(sig, libc::SIG_DFL) };
            }
        }
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

pub fn signal_max() -> i32 {
    libc::SIGRTMAX()
}

pub fn signal_rtmin() -> i32 {
    libc::SIGRTMIN()
}

/// Catch `sig` with a handler that records its siginfo (see `handled`);
/// without `restart` a blocking call it interrupts fails with EINTR.
pub fn catch_signal(sig: i32, restart: bool) -> Result<(), Errno> {
    // SAFETY: sigaction is plain old data; zeroed is valid (empty mask).
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = record_signal as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as libc::sighandler_t;
    sa.sa_flags = libc::SA_SIGINFO | if restart { libc::SA_RESTART } else { 0 };
    // SAFETY: the handler only does atomic stores into a static, which is
    // async-signal-safe.
    check(unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) }).map(drop)
}

/// Set `sig` to SIG_IGN.
pub fn ignore_signal(sig: i32) -> Result<(), Errno> {
    // SAFETY: SIG_IGN installs no handler code.
    if unsafe { libc::signal(sig, libc::SIG_IGN) } == libc::SIG_ERR { Err(Errno::last()) } else { Ok(()) }
}

/// Raise `sig` with its default action; if it does not end the process
/// (for example because it is ignored by default), return.
pub fn raise_default(sig: i32) -> Result<(), Errno> {
    // SAFETY: setting SIG_DFL has no memory-safety implications.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
    // SAFETY: raise only sends a signal to this thread.
    check(unsafe { libc::raise(sig) }).map(drop)
}

/// Drop every capability from the effective, permitted and inheritable sets
/// and from the bounding set, keeping the uid.
pub fn drop_all_capabilities() -> Result<(), Errno> {
    for cap in 0..=63 {
        // SAFETY: prctl with integer arguments; EINVAL past the last cap.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } == -1 {
            break;
        }
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header { version: 0x2008_0522, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: header and data are valid for the call and laid out as the
    // kernel's _LINUX_CAPABILITY_VERSION_3 structures.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret == -1 { Err(Errno::last()) } else { Ok(()) }
}

/// Become the given user and group (supplementary groups: only `gid`). A
/// process that already is that user and group (a role spawned by a role
/// with the same credentials) keeps them: setgroups would need privilege.
pub fn set_credentials(uid: u32, gid: u32) -> Result<(), Errno> {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    if (getuid().as_raw(), geteuid().as_raw(), getgid().as_raw(), getegid().as_raw()) == (uid, uid, gid, gid) {
        return Ok(());
    }
    nix::unistd::setgroups(&[nix::unistd::Gid::from_raw(gid)])?;
    nix::unistd::setresgid(gid.into(), gid.into(), gid.into())?;
    nix::unistd::setresuid(uid.into(), uid.into(), uid.into())
}

/// Ask for SIGKILL when the parent dies, then make sure the parent is still
/// `parent` (it may have died before the request). False if it is gone.
pub fn die_with_parent(parent: i32) -> bool {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_ok() && nix::unistd::getppid().as_raw() == parent
}

/// The effective capability set of this process, as a bit mask, read from
/// `/proc/self/status` (no syscall needed, but kept here with its peers).
pub fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()))
        .unwrap_or(0)
}

/// The symbolic name of an errno (`EINVAL`), as scenarios spell it.
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}

/// Every errno name the libc knows.
pub fn errno_names() -> Vec<String> {
    (1..4096).map(Errno::from_raw).filter(|e| *e != Errno::UnknownErrno).map(errno_name).collect()
}

/// Resolve an errno name; the table is the libc's, read at run time.
pub fn errno_from_name(name: &str) -> Option<Errno> {
    (1..4096).map(Errno::from_raw).find(|e| *e != Errno::UnknownErrno && errno_name(*e) == name)
}

/// Resolve a signal name (`SIGSEGV`, `SIGRTMIN+2`, `SIGRTMAX-1`) at run time:
/// the real-time range differs between glibc and musl.
pub fn signal_from_name(name: &str) -> Option<i32> {
    let rt = |base: i32, rest: &str| -> Option<i32> {
        let n = if rest.is_empty() {
            0
        } else if let Some(p) = rest.strip_prefix('+') {
            p.parse::<i32>().ok()?
        } else {
            -rest.strip_prefix('-')?.parse::<i32>().ok()?
        };
        let s = base + n;
        (signal_rtmin()..=signal_max()).contains(&s).then_some(s)
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        return rt(signal_rtmin(), rest);
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX") {
        return rt(signal_max(), rest);
    }
    // signal(7)'s synonyms.
    match name {
        "SIGPOLL" => return Some(libc::SIGPOLL),
        "SIGIOT" => return Some(libc::SIGIOT),
        _ => {}
    }
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

/// The name of a signal number, real-time ones relative to SIGRTMIN.
pub fn signal_name(sig: i32) -> String {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        return s.as_str().to_owned();
    }
    let min = signal_rtmin();
    if (min..=signal_max()).contains(&sig) {
        if sig == min { "SIGRTMIN".to_owned() } else { format!("SIGRTMIN+{}", sig - min) }
    } else {
        format!("signal {sig}")
    }
}

/// `pipe2(2)`: the read end and the write end. With `bad_buffer` the
/// kernel is given an address it cannot write (EFAULT), so nothing is
/// created.
pub fn pipe2(flags: i32, bad_buffer: bool) -> Result<(OwnedFd, OwnedFd), Errno> {
    use std::os::fd::FromRawFd;
    let mut fds = [-1 as libc::c_int; 2];
    let ptr = if bad_buffer { BAD_ADDRESS as *mut libc::c_int } else { fds.as_mut_ptr() };
    // SAFETY: `ptr` is either room for two ints or an address the kernel
    // refuses (EFAULT) without touching this process's memory.
    check(unsafe { libc::syscall(libc::SYS_pipe2, ptr, flags) } as libc::c_int)?;
    // SAFETY: the call succeeded, so both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `fcntl(2)` F_GETPIPE_SZ, or F_SETPIPE_SZ with `set` passed as the
/// kernel's unsigned long (so sizes past 2^31 reach it): the capacity.
pub fn pipe_size(fd: BorrowedFd<'_>, set: Option<u64>) -> Result<libc::c_int, Errno> {
    // SAFETY: both commands take an integer argument and touch no memory.
    check(unsafe {
        match set {
            Some(size) => libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_ulong),
            None => libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ),
        }
    })
}

/// `ioctl(2)` FIONREAD: the bytes ready to read.
pub fn fionread(fd: BorrowedFd<'_>) -> Result<libc::c_int, Errno> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer, which is valid.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) })?;
    Ok(n)
}

/// `splice(2)` from one pipe to another, or `tee(2)` with `tee`: the bytes
/// moved or copied.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize, nonblock: bool, tee: bool) -> Result<i64, Errno> {
    let flags = if nonblock { libc::SPLICE_F_NONBLOCK } else { 0 };
    // SAFETY: null offsets are what pipes require; no memory is passed.
    let n = unsafe {
        if tee {
            libc::tee(from.as_raw_fd(), to.as_raw_fd(), len, flags)
        } else {
            libc::splice(from.as_raw_fd(), std::ptr::null_mut(), to.as_raw_fd(), std::ptr::null_mut(), len, flags)
        }
    };
    if n < 0 { Err(Errno::last()) } else { Ok(n as i64) }
}

/// How a child ended, from the raw wait status (nix's `WaitStatus` cannot
/// name real-time signals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    /// The signal number, and whether a core was dumped.
    Signaled(i32, bool),
}

/// `waitpid(2)` for `pid` (-1: any child) for an exit, stopped children
/// ignored: `None` with `nohang` while none has ended.
pub fn wait_end(pid: i32, nohang: bool) -> Result<Option<(i32, Ended)>, Errno> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int for the kernel to fill.
        let got = unsafe { libc::waitpid(pid, &mut status, if nohang { libc::WNOHANG } else { 0 }) };
        match got {
            -1 if Errno::last() == Errno::EINTR => continue,
            -1 => return Err(Errno::last()),
            0 => return Ok(None),
            _ if libc::WIFEXITED(status) => return Ok(Some((got, Ended::Exited(libc::WEXITSTATUS(status))))),
            _ if libc::WIFSIGNALED(status) => {
                return Ok(Some((got, Ended::Signaled(libc::WTERMSIG(status), libc::WCOREDUMP(status)))));
            }
            // Stopped or continued (only reported when asked for): not an end.
            _ => continue,
        }
    }
}

/// The C library this binary runs on, with its version where it says.
pub fn libc_name() -> String {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: gnu_get_libc_version returns a static C string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        format!("glibc {}", v.to_string_lossy())
    }
    #[cfg(not(target_env = "gnu"))]
    {
        if cfg!(target_env = "musl") { "musl".to_owned() } else { "unknown".to_owned() }
    }
}
