//! Requirement probes: what this kernel and process offer, read once, and
//! the decision whether a plan can run here or is skipped (with a reason).
//! Probes read the system; they never guess from the kernel version what
//! could be measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::Plan;
use crate::exec::trace::Isolation;

/// Kernel features a scenario may require.
pub const FEATURES: &[&str] =
    &["sysv_ipc", "posix_mqueue", "next_id_sysctls", "no_hugetlb_pages", "overcommit_heuristic", "core_dump_to_cwd"];

/// File systems a scenario may require (as `/proc/filesystems` names them).
pub const FILESYSTEMS: &[&str] = &["mqueue", "tmpfs", "hugetlbfs", "ramfs", "devpts", "proc", "sysfs", "cgroup2", "overlay"];

const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The bit number of a capability name (capabilities(7)).
pub fn capability_bit(name: &str) -> Option<u32> {
    CAPABILITIES.iter().position(|c| *c == name).map(|i| i as u32)
}

/// The capabilities in a mask, by name.
pub fn capability_names(mask: u64) -> Vec<String> {
    CAPABILITIES.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| (*n).to_owned()).collect()
}

/// The limits that belong to an IPC namespace (ipc_namespaces(7)), which a
/// scenario with its own namespace may change.
pub const IPC_NAMESPACED: &[&str] = &[
    "kernel.shmmax",
    "kernel.shmall",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "fs.mqueue.msg_max",
    "fs.mqueue.msgsize_max",
    "fs.mqueue.msg_default",
    "fs.mqueue.msgsize_default",
    "fs.mqueue.queues_max",
];

/// Knobs of the IPC namespace that are not limits: the id the next object
/// gets (CONFIG_CHECKPOINT_RESTORE; -1 when unset). Scenarios may set them
/// in their own namespace.
pub const NEXT_ID_KNOBS: &[&str] = &["kernel.shm_next_id", "kernel.sem_next_id", "kernel.msg_next_id"];

/// A sysctl a scenario may read, and write in its own IPC namespace.
pub fn sysctl_path(name: &str) -> Option<PathBuf> {
    (IPC_NAMESPACED.contains(&name) || NEXT_ID_KNOBS.contains(&name)).then(|| PathBuf::from("/proc/sys").join(name.replace('.', "/")))
}

/// System-wide limits that matter for IPC but no namespace owns.
pub const GLOBAL_LIMITS: &[&str] = &["fs.pipe-max-size"];

/// Every IPC limit this harness reads, by sysctl name.
pub fn limits() -> impl Iterator<Item = &'static str> {
    IPC_NAMESPACED.iter().chain(GLOBAL_LIMITS).copied()
}

pub fn limit_path(name: &str) -> Option<PathBuf> {
    limits().any(|l| l == name).then(|| PathBuf::from("/proc/sys").join(name.replace('.', "/")))
}

/// Why a plan cannot run with this isolation, if it cannot. Decided before
/// the run from the probed isolation, and again by the supervisor with the
/// isolation it actually got.
pub fn unmet_with(plan: &Plan, isolation: Isolation) -> Option<String> {
    if plan.requires.private_ipc_namespace && isolation == Isolation::RunUnique {
        return Some("needs a private IPC namespace, and this run shares the host's IPC tables".to_owned());
    }
    if plan.requires.unshare && isolation == Isolation::RunUnique {
        return Some(
            "a role unshares namespaces of its own, which needs CAP_SYS_ADMIN in the run's user namespace, and this run shares the host's IPC tables"
                .to_owned(),
        );
    }
    if plan.requires.dev_shm_size.is_some() && isolation == Isolation::RunUnique {
        return Some("needs a private /dev/shm of its own size, and this run shares the host's".to_owned());
    }
    if plan.requires.private_dev_shm && isolation == Isolation::RunUnique {
        return Some(
            "an object has a literal POSIX name, which is only safe in a private /dev/shm, and this run shares the host's".to_owned(),
        );
    }
    if plan.requires.posix_mq && isolation == Isolation::RunUnique && !std::path::Path::new("/dev/mqueue").is_dir() {
        return Some(
            "uses POSIX message queues, and this run shares the host's IPC namespace without /dev/mqueue to find leftovers in".to_owned(),
        );
    }
    if plan.requires.credentials && isolation == Isolation::UserNamespace {
        return Some("a role runs with other credentials, which a single-uid user namespace cannot map".to_owned());
    }
    None
}

/// The image for roles in containers: `IPC_HARNESS_IMAGE`, if the Docker
/// daemon is reachable and has it.
fn container_image() -> Result<String, String> {
    let image = std::env::var("IPC_HARNESS_IMAGE").map_err(|_| {
        "set IPC_HARNESS_IMAGE to an image of this harness (`scripts/build-static --image TAG`) and have a Docker daemon".to_owned()
    })?;
    match std::process::Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", &image]).output() {
        Ok(o) if o.status.success() => Ok(image),
        Ok(o) => Err(format!("the Docker daemon has no image {image}: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("cannot run docker: {e}")),
    }
}

/// What the running kernel and process offer, probed once per run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    pub kernel_release: String,
    pub kernel_version: String,
    pub arch: String,
    /// The C library the harness runs on (`glibc 2.36`, `musl`).
    #[serde(default)]
    pub libc: String,
    pub euid: u32,
    pub capabilities: Vec<String>,
    /// Capabilities a root process usually has that this one lacks
    /// (for example CAP_SYS_RESOURCE dropped by a container runtime).
    pub capabilities_missing: Vec<String>,
    pub filesystems: Vec<String>,
    pub features: Vec<String>,
    /// Every IPC limit in effect, as the files read (`kernel.sem` has four fields).
    pub limits: BTreeMap<String, String>,
    /// The isolation a scenario run gets here (probed in a child process).
    pub isolation: Option<Isolation>,
    /// The file system of the folder runs keep their files in (the temporary
    /// folder): `tmpfs`, `ext4`, `fuse` (then file scenarios are slow).
    #[serde(default)]
    pub run_folder_fs: String,
    /// The image roles in containers run from (`IPC_HARNESS_IMAGE`), when
    /// it is set and the Docker daemon has it.
    #[serde(default)]
    pub container_image: Option<String>,
    /// Why there is none.
    #[serde(skip)]
    no_container_image: String,
    /// What `ipc-harness limits` reports: limits with use and headroom,
    /// /dev/shm, the memory cgroup, namespaces, capabilities and sysctl
    /// writability.
    #[serde(default)]
    pub snapshot: Option<crate::limits::Snapshot>,
    #[serde(skip)]
    cap_mask: u64,
}

impl Environment {
    pub fn probe() -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref().map(|u| f(u).to_string_lossy().into_owned()).unwrap_or_default()
        };
        let cap_mask = crate::sys::effective_capabilities();
        let filesystems: Vec<String> = std::fs::read_to_string("/proc/filesystems")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
            .collect();
        let mut features = Vec::new();
        if std::path::Path::new("/proc/sysvipc/shm").exists() {
            features.push("sysv_ipc".to_owned());
        }
        if filesystems.iter().any(|f| f == "mqueue") {
            features.push("posix_mqueue".to_owned());
        }
        // kernel.shm_next_id and friends exist with CONFIG_CHECKPOINT_RESTORE.
        if std::path::Path::new("/proc/sys/kernel/shm_next_id").exists() {
            features.push("next_id_sysctls".to_owned());
        }
        // No huge page is reserved and none may be allocated on demand, so a
        // SHM_HUGETLB segment cannot get memory (the pool is host-wide: the
        // harness only reads it).
        let zero = |p: &str| std::fs::read_to_string(p).is_ok_and(|v| v.trim() == "0");
        if zero("/proc/sys/vm/nr_hugepages") && zero("/proc/sys/vm/nr_overcommit_hugepages") {
            features.push("no_hugetlb_pages".to_owned());
        }
        // vm.overcommit_memory 0: an allocation larger than RAM plus swap is
        // refused at once, and SHM_NORESERVE skips that check.
        if zero("/proc/sys/vm/overcommit_memory") {
            features.push("overcommit_heuristic".to_owned());
        }
        // A core_pattern that names a file relative to the dumping process's
        // working directory (core(5)): a role's core lands in the run's
        // folder and goes with it. A pipe or an absolute path would hand it
        // to the host's collector or leave it behind, so those scenarios skip.
        let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
        if !pattern.trim().is_empty() && !pattern.starts_with('|') && !pattern.contains('/') {
            features.push("core_dump_to_cwd".to_owned());
        }
        let limits = limits()
            .filter_map(|n| {
                let v = std::fs::read_to_string(limit_path(n)?).ok()?;
                Some(((*n).to_owned(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
            })
            .collect();
        let all_caps = (1u64 << CAPABILITIES.len()) - 1;
        let euid = nix::unistd::geteuid().as_raw();
        Environment {
            kernel_release: field(nix::sys::utsname::UtsName::release),
            kernel_version: field(nix::sys::utsname::UtsName::version),
            arch: field(nix::sys::utsname::UtsName::machine),
            libc: crate::sys::libc_name(),
            euid,
            capabilities: capability_names(cap_mask),
            capabilities_missing: if euid == 0 { capability_names(all_caps & !cap_mask) } else { Vec::new() },
            filesystems,
            features,
            limits,
            isolation: None,
            run_folder_fs: crate::sys::fs_type_name(&std::env::temp_dir()),
            container_image: None,
            no_container_image: "not probed".to_owned(),
            snapshot: None,
            cap_mask,
        }
    }

    /// Probe, including the isolation a run would get: the harness binary
    /// `exe` tries it in a throw-away child (namespaces cannot be undone).
    pub fn probe_with(exe: &Path) -> Self {
        let mut env = Self::probe();
        env.isolation = std::process::Command::new(exe)
            .arg("__probe-isolation")
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<Isolation>(&o.stdout).ok());
        env.snapshot = Some(crate::limits::snapshot::take(Some(exe)));
        match container_image() {
            Ok(image) => env.container_image = Some(image),
            Err(why) => env.no_container_image = why,
        }
        env
    }

    fn has_capability(&self, name: &str) -> bool {
        capability_bit(name).is_some_and(|b| self.cap_mask & (1 << b) != 0)
    }

    fn kernel(&self) -> Option<(u32, u32)> {
        super::build::parse_kernel_version(&self.kernel_release)
    }

    /// Why this plan cannot run here, or `None` when every requirement holds.
    pub fn unmet(&self, plan: &Plan) -> Option<String> {
        let r = &plan.requires;
        if r.root && self.euid != 0 {
            return Some(format!("needs root (running as uid {})", self.euid));
        }
        if let Some(c) = r.capabilities.iter().find(|c| !self.has_capability(c)) {
            return Some(format!("needs {c}, which this process does not have"));
        }
        if r.credentials && !(self.has_capability("CAP_SETUID") && self.has_capability("CAP_SETGID")) {
            return Some("a role runs with other credentials, which needs CAP_SETUID and CAP_SETGID".to_owned());
        }
        if r.containers && self.container_image.is_none() {
            return Some(format!("a role runs in a container: {}", self.no_container_image));
        }
        if let Some(reason) = self.isolation.and_then(|i| unmet_with(plan, i)) {
            return Some(reason);
        }
        if let (Some(want), Some(have)) = (r.kernel, self.kernel()) {
            if have < want {
                return Some(format!("needs kernel {}.{} or newer (this is {})", want.0, want.1, self.kernel_release));
            }
        }
        if let Some(f) = r.filesystems.iter().find(|f| !self.filesystems.contains(f)) {
            return Some(format!("needs the {f} file system, which this kernel does not list in /proc/filesystems"));
        }
        if let Some(f) = r.features.iter().find(|f| !self.features.contains(f)) {
            return Some(format!("needs kernel feature {f}, not available here"));
        }
        for (name, min) in &r.limits {
            let have = self.limits.get(name).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
            match have {
                Some(h) if h >= *min => {}
                Some(h) => return Some(format!("needs {name} >= {min} (it is {h})")),
                None => return Some(format!("needs {name} >= {min}, which cannot be read here")),
            }
        }
        None
    }
}
