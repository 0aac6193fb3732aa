//! Isolation of one scenario run: new IPC and mount namespaces with a
//! private `/dev/shm` (and `/dev/mqueue` where the host has the mount
//! point), as root or through an unprivileged user namespace. Where neither
//! works the run falls back to run-unique keys and names.
//!
//! Must be called while the supervisor is still single-threaded
//! (`unshare(CLONE_NEWUSER)` refuses multithreaded callers).

use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use super::error::Error;
use super::trace::Isolation;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum Wanted {
    /// Namespaces if the kernel allows them, else run-unique names.
    Auto,
    /// Only namespaces (as root or in a user namespace); otherwise broken.
    Namespaces,
    /// No namespaces: share the host's IPC tables, apart by run-unique names.
    None,
}

/// Enter the best isolation allowed. Returns what was achieved, and why
/// namespaces were not, when they were not.
pub fn isolate(wanted: Wanted, dev_shm_size: Option<u64>) -> Result<(Isolation, Option<String>), Error> {
    if wanted == Wanted::None {
        return Ok((Isolation::RunUnique, Some("namespaces not asked for (--isolation none)".to_owned())));
    }
    let root_err = match unshare(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNS) {
        Ok(()) => {
            private_mounts(dev_shm_size).map_err(Error::Isolation)?;
            return Ok((Isolation::Namespaces, None));
        }
        Err(e) => e,
    };
    match user_namespace() {
        Ok(()) => {
            private_mounts(dev_shm_size).map_err(Error::Isolation)?;
            Ok((Isolation::UserNamespace, Some(format!("unshare(CLONE_NEWIPC|CLONE_NEWNS) failed with {root_err}"))))
        }
        Err(user_err) if wanted == Wanted::Auto => {
            Ok((Isolation::RunUnique, Some(format!("unshare(CLONE_NEWIPC|CLONE_NEWNS): {root_err}; in a user namespace: {user_err}"))))
        }
        Err(user_err) => Err(Error::Isolation(format!(
            "cannot create namespaces: unshare(CLONE_NEWIPC|CLONE_NEWNS) failed with {root_err}, and with a user namespace: {user_err}"
        ))),
    }
}

fn user_namespace() -> Result<(), String> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare with CLONE_NEWUSER: {e}"))?;
    let write = |f: &str, s: String| std::fs::write(f, s).map_err(|e| format!("{f}: {e}"));
    write("/proc/self/setgroups", "deny".to_owned())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// A role's own namespaces (`unshare:`), entered at its start: a new IPC
/// namespace, and with `mount` a new mount namespace with a private
/// `/dev/shm` and its IPC namespace's queues at `/dev/mqueue` and at
/// `run_mqueue` (where the run mounted its own, if it did).
pub fn enter_role_namespaces(mount: bool, run_mqueue: &Path) -> Result<(), String> {
    crate::sys::unshare_namespaces(mount).map_err(|e| format!("unshare(CLONE_NEWIPC{}): {e}", if mount { "|CLONE_NEWNS" } else { "" }))?;
    if mount {
        private_mounts(None)?;
        if run_mqueue.is_dir() {
            crate::sys::mount_mqueue(run_mqueue).map_err(|e| format!("mounting the role's mqueue file system: {e}"))?;
        }
    }
    Ok(())
}

/// Make every mount private to this namespace, then give it its own
/// `/dev/shm` and `/dev/mqueue`, so POSIX objects are isolated too.
fn private_mounts(dev_shm_size: Option<u64>) -> Result<(), String> {
    let options = match dev_shm_size {
        Some(n) => format!("mode=1777,size={n}"),
        None => "mode=1777".to_owned(),
    };
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("making mounts private: {e}"))?;
    if Path::new("/dev/shm").is_dir() {
        mount(Some("tmpfs"), "/dev/shm", Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some(options.as_str()))
            .map_err(|e| format!("mounting a private /dev/shm: {e}"))?;
    }
    if Path::new("/dev/mqueue").is_dir() {
        mount(Some("mqueue"), "/dev/mqueue", Some("mqueue"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>)
            .map_err(|e| format!("mounting a private /dev/mqueue: {e}"))?;
    }
    Ok(())
}
