//! The ledger: every kernel-named object a run creates, recorded in the
//! supervisor (outside the roles, so it survives their crashes), plus the
//! scan that finds what is present, and the cleanup that removes only what
//! belongs to this run.

use std::hash::{BuildHasher, RandomState};

use super::error::{Context, Error};
use super::trace::{Isolation, Residue};
use crate::ipc::{self, Scope};
use crate::plan::{NamePlan, ObjectPlan};

#[derive(Debug)]
pub struct Ledger {
    isolation: Isolation,
    /// Names of POSIX objects and files of this run start with this.
    prefix: String,
    entries: Vec<Residue>,
    /// Keys handed out to this run before any role started.
    keys: Vec<i64>,
    /// Which key each object was given or reported.
    object_keys: Vec<(String, i64)>,
    /// Which POSIX name (without the leading `/`) each object was given.
    object_names: Vec<(String, String)>,
    /// Where each `fifo` object's node is made (in the run's folder, so
    /// every node there is this run's).
    fifos: Vec<(String, std::path::PathBuf)>,
}

impl Ledger {
    pub fn new(isolation: Isolation, prefix: String) -> Ledger {
        Ledger {
            isolation,
            prefix,
            entries: Vec::new(),
            keys: Vec::new(),
            object_keys: Vec::new(),
            object_names: Vec::new(),
            fifos: Vec::new(),
        }
    }

    /// A `fifo` object's node will be at `path`.
    pub fn fifo(&mut self, object: &str, path: std::path::PathBuf) {
        self.fifos.push((object.to_owned(), path));
    }

    pub fn entries(&self) -> &[Residue] {
        &self.entries
    }

    /// A SysV key no object in this IPC namespace uses now, recorded as
    /// this run's before any role starts. In a shared namespace it is also
    /// unlikely to be taken later (31 random bits).
    pub fn fresh_key(&mut self, tag: &str, object: usize) -> i32 {
        let in_use = keys_in_use();
        let state = RandomState::new();
        let key = (0u32..)
            .map(|n| {
                let h = state.hash_one((tag, object, n, std::process::id()));
                // Positive, non-zero, and never IPC_PRIVATE.
                ((h as u32) & 0x7fff_ffff).max(1) as i32
            })
            .find(|k| !in_use.contains(&i64::from(*k)))
            .unwrap_or(1);
        self.keys.push(i64::from(key));
        key
    }

    /// The POSIX name of an object, recorded before any role starts:
    /// run-unique (`/ipc-harness-<run>-<object>`, padded to a length if the
    /// scenario asks), or the scenario's literal text (only in a private
    /// /dev/shm, where nothing else lives).
    pub fn posix_name(&mut self, object: &str, plan: &NamePlan) -> Result<String, Error> {
        let mut name = format!("{}{object}", self.prefix);
        match plan {
            NamePlan::RunUnique => {}
            NamePlan::Padded(len) if name.len() > *len => {
                return Err(Error::Supervisor(format!(
                    "the run-unique name of object `{object}` ({name}) is longer than the {len} bytes asked for"
                )));
            }
            NamePlan::Padded(len) => name.extend(std::iter::repeat_n('x', len - name.len())),
            NamePlan::Literal(text) => {
                if let Some(file) = text.rsplit('/').next().filter(|f| !f.is_empty()) {
                    self.object_names.push((object.to_owned(), file.to_owned()));
                }
                return Ok(text.clone());
            }
        }
        self.object_names.push((object.to_owned(), name.clone()));
        Ok(format!("/{name}"))
    }

    /// Make sure `ftok(path, proj)` gives a key nobody uses, so a run in
    /// shared tables cannot pick up a foreign object by key: ftok keeps only
    /// 16 bits of the inode, so while the key is taken the file is made
    /// again (a new inode). The key is recorded as this run's.
    pub fn reserve_ftok_key(&mut self, path: &std::path::Path, proj: u8) -> Result<i32, Error> {
        let in_use = keys_in_use();
        let remake = |path: &std::path::Path| -> std::io::Result<()> {
            let content = std::fs::read(path)?;
            let moved = path.with_extension("old");
            std::fs::rename(path, &moved)?;
            std::fs::write(path, content)?;
            std::fs::remove_file(&moved)
        };
        for _ in 0..64 {
            let key = crate::sys::ftok(path, proj).context(format!("ftok({})", path.display()))?;
            if !in_use.contains(&i64::from(key)) {
                self.keys.push(i64::from(key));
                return Ok(key);
            }
            remake(path).context(format!("making {} again", path.display()))?;
        }
        Err(Error::Isolation(format!("every ftok key tried for {} is already in use", path.display())))
    }

    /// A role created or looked up an object, in the run's IPC namespace
    /// (`namespace` none) or in one that role `namespace` unshared. An entry
    /// of the run's namespace is completed with the creator's pid from
    /// IPC_STAT, so that a reused id is recognised. An entry of another
    /// namespace is only recorded: its id and key mean nothing in the run's
    /// tables (the same id may be another object there), so it is never
    /// looked up, owned, named, removed or judged there.
    pub fn record(&mut self, object: &ObjectPlan, id: i64, key: i64, namespace: Option<&str>) {
        let kind = object.kind();
        let mut r = Residue {
            kind: kind.name().to_owned(),
            object: Some(object.name.clone()),
            id,
            key,
            name: None,
            cpid: None,
            namespace: namespace.map(str::to_owned),
        };
        if self.entries.iter().any(|e| e.kind == r.kind && e.id == id && e.namespace == r.namespace) {
            return;
        }
        if namespace.is_none() {
            if key != 0 {
                self.keys.push(key);
            }
            self.object_keys.push((object.name.clone(), key));
            if let Some(l) = ipc::lifecycle(kind) {
                r.cpid = l.stat(&r).ok().map(|s| s.cpid);
            }
        }
        self.entries.push(r);
    }

    /// The entries of objects in the run's own IPC namespace.
    fn in_run_namespace(&self) -> impl Iterator<Item = &Residue> {
        self.entries.iter().filter(|e| e.namespace.is_none())
    }

    fn scope(&self, pids: &[i32]) -> Scope {
        match self.isolation {
            Isolation::Namespaces | Isolation::UserNamespace => Scope::Namespace,
            Isolation::RunUnique => Scope::Shared {
                keys: self.keys.clone(),
                ids: self.in_run_namespace().map(|e| (e.kind.clone(), e.id)).collect(),
                pids: pids.to_vec(),
                prefix: self.prefix.clone(),
            },
        }
    }

    /// The scenario object a present object is, by its recorded id, its key
    /// or its POSIX name (never by an entry of another namespace).
    fn object_of(&self, r: &Residue) -> Option<String> {
        self.in_run_namespace()
            .find(|e| e.kind == r.kind && e.id == r.id)
            .and_then(|e| e.object.clone())
            .or_else(|| self.object_keys.iter().find(|(_, k)| *k != 0 && *k == r.key).map(|(n, _)| n.clone()))
            .or_else(|| {
                let file = ipc::posix_name(r.name.as_deref()?.rsplit('/').next()?);
                self.object_names.iter().find(|(_, n)| n == file).map(|(o, _)| o.clone())
            })
    }

    /// Every object of this run present in the kernel now, named after the
    /// scenario object where the ledger knows it.
    pub fn scan(&self, pids: &[i32]) -> Vec<Residue> {
        let scope = self.scope(pids);
        let mut out = Vec::new();
        for l in ipc::lifecycles() {
            for mut r in l.present().unwrap_or_default() {
                if !scope.owns(&r) {
                    continue;
                }
                r.object = self.object_of(&r);
                out.push(r);
            }
        }
        // FIFO nodes are files, not kernel-named objects: the run's are
        // found at the paths it gave them.
        use std::os::unix::fs::FileTypeExt;
        for (object, path) in &self.fifos {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
                let name = Some(path.display().to_string());
                out.push(Residue {
                    kind: FIFO.to_owned(),
                    object: Some(object.clone()),
                    id: -1,
                    key: 0,
                    name,
                    cpid: None,
                    namespace: None,
                });
            }
        }
        out
    }

    /// Remove every object of this run, then scan again: what is still
    /// there was not removed (and is reported).
    pub fn clean(&self, present: &[Residue], pids: &[i32]) -> Vec<Residue> {
        if present.is_empty() {
            return Vec::new();
        }
        for r in present {
            if let Some(l) = ipc::lifecycles().iter().find(|l| l.name() == r.kind) {
                let _ = l.remove(r);
            }
            // Only the run's own nodes are listed (see `scan`).
            if let (FIFO, Some(path)) = (r.kind.as_str(), &r.name) {
                let _ = std::fs::remove_file(path);
            }
        }
        self.scan(pids)
    }
}

const FIFO: &str = "fifo";

/// Every SysV key in use in this IPC namespace.
fn keys_in_use() -> Vec<i64> {
    ipc::lifecycles().iter().flat_map(|l| l.present().unwrap_or_default()).filter(|r| r.key != 0).map(|r| r.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{KeyPlan, ObjectSpec};

    fn segment(name: &str) -> ObjectPlan {
        ObjectPlan {
            name: name.to_owned(),
            spec: ObjectSpec::SysvShm { size: 4096, key: KeyPlan::Generated, mode: 0o600 },
            loc: Default::default(),
        }
    }

    /// A segment a role made in its own IPC namespace has id 0 there; in
    /// the tables the supervisor scans (the run's, or the host's when they
    /// are shared), id 0 is another segment, which must not be taken for it.
    #[test]
    fn an_object_of_a_role_namespace_is_never_one_of_the_run_tables() {
        let mut ledger = Ledger::new(Isolation::RunUnique, "ipc-harness-1-2-".to_owned());
        ledger.record(&segment("inner"), 0, 0x1234, Some("child"));
        assert_eq!(ledger.entries().len(), 1);
        assert_eq!(ledger.entries()[0].namespace.as_deref(), Some("child"));
        assert_eq!(ledger.entries()[0].cpid, None, "never looked up in the run's tables");
        let other = Residue { kind: "sysv_shm".to_owned(), object: None, id: 0, key: 0x5678, name: None, cpid: Some(1), namespace: None };
        assert!(!ledger.scope(&[]).owns(&other), "the same id in the scanned tables is not this run's");
        assert_eq!(ledger.object_of(&other), None, "nor named after the other namespace's object");
        let same_key = Residue { key: 0x1234, ..other.clone() };
        assert!(!ledger.scope(&[]).owns(&same_key), "a key used in another namespace is not recorded as the run's");
        assert_eq!(ledger.object_of(&same_key), None);
        // Recorded again (a forked child reports it too): one entry.
        ledger.record(&segment("inner"), 0, 0x1234, Some("child"));
        assert_eq!(ledger.entries().len(), 1);
    }
}
