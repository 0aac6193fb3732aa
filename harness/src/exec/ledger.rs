//! The ledger: every kernel-named object a run creates, recorded in the
//! supervisor (outside the roles, so it survives their crashes), plus the
//! scan that finds what is present, and the cleanup that removes only what
//! belongs to this run.

use std::hash::{BuildHasher, RandomState};

use super::error::{Context, Error};
use super::trace::{Isolation, Residue};
use crate::ipc::{self, Scope};
use crate::plan::{NamePlan, ObjectId, Plan};

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

    /// A role created or looked up an object. The entry is completed with
    /// the creator's pid from IPC_STAT, so that a reused id is recognised.
    pub fn record(&mut self, plan: &Plan, object: ObjectId, id: i64, key: i64) {
        let o = plan.object(object);
        let kind = o.kind();
        if key != 0 {
            self.keys.push(key);
        }
        self.object_keys.push((o.name.clone(), key));
        if self.entries.iter().any(|e| e.kind == kind.name() && e.id == id) {
            return;
        }
        let mut r = Residue { kind: kind.name().to_owned(), object: Some(o.name.clone()), id, key, name: None, cpid: None };
        if let Some(l) = ipc::lifecycle(kind) {
            r.cpid = l.stat(&r).ok().map(|s| s.cpid);
        }
        self.entries.push(r);
    }

    fn scope(&self, pids: &[i32]) -> Scope {
        match self.isolation {
            Isolation::Namespaces | Isolation::UserNamespace => Scope::Namespace,
            Isolation::RunUnique => Scope::Shared {
                keys: self.keys.clone(),
                ids: self.entries.iter().map(|e| (e.kind.clone(), e.id)).collect(),
                pids: pids.to_vec(),
                prefix: self.prefix.clone(),
            },
        }
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
                let known = self.entries.iter().find(|e| e.kind == r.kind && e.id == r.id);
                r.object = known
                    .and_then(|e| e.object.clone())
                    .or_else(|| self.object_keys.iter().find(|(_, k)| *k != 0 && *k == r.key).map(|(n, _)| n.clone()))
                    .or_else(|| {
                        let file = ipc::posix_name(r.name.as_deref()?.rsplit('/').next()?);
                        self.object_names.iter().find(|(_, n)| n == file).map(|(o, _)| o.clone())
                    });
                out.push(r);
            }
        }
        // FIFO nodes are files, not kernel-named objects: the run's are
        // found at the paths it gave them.
        use std::os::unix::fs::FileTypeExt;
        for (object, path) in &self.fifos {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
                let name = Some(path.display().to_string());
                out.push(Residue { kind: FIFO.to_owned(), object: Some(object.clone()), id: -1, key: 0, name, cpid: None });
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
