//! `ipc-harness limits`: what this process really gets from the kernel and
//! its container (a snapshot), whether that meets a workload's needs
//! (requirement profiles, with fixes), and whether each limit is enforced
//! at its edge (probes). The snapshot is also embedded in every run
//! report's environment.

pub mod enforce;
pub mod profile;
pub mod snapshot;

use std::fmt::Write as _;

use serde::Serialize;

pub use enforce::{Enforced, Probe};
pub use profile::{Check, Profile};
pub use snapshot::{Snapshot, Unit};

/// A profile's checks.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProfileResult {
    pub name: String,
    pub description: String,
    pub met: bool,
    pub checks: Vec<Check>,
}

/// Everything `limits` found: rendered as a table or as JSON.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub snapshot: Snapshot,
    pub profiles: Vec<ProfileResult>,
    /// Empty unless `--probe`.
    pub probes: Vec<Probe>,
    /// What a workload meets when /dev/shm runs out (with `--probe`).
    pub shm_when_full: Option<String>,
}

impl Report {
    /// Every requirement met and no probe contradicted.
    pub fn ok(&self) -> bool {
        self.profiles.iter().all(|p| p.met) && self.probes.iter().all(|p| p.verdict != Enforced::Contradicted)
    }
}

/// Check a profile against a snapshot.
pub fn check_profile(p: &Profile, snap: &Snapshot) -> ProfileResult {
    let checks = profile::check(p, snap);
    ProfileResult { name: p.name.clone(), description: p.description.clone(), met: checks.iter().all(|c| c.met), checks }
}

fn show_value(v: Option<u64>, unit: Unit) -> String {
    v.map_or_else(|| "-".to_owned(), |v| profile::show(v, unit))
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    let s = &r.snapshot;
    let mut out = String::new();
    let missing: Vec<&str> = s.capabilities.iter().filter(|c| !c.held).map(|c| c.name.as_str()).collect();
    let who = match (s.euid, missing.is_empty()) {
        (0, true) => "root".to_owned(),
        (0, false) => format!("root without {}", missing.join(", ")),
        (uid, _) => format!("uid {uid}"),
    };
    let _ = writeln!(out, "IPC limits of this process ({who})");
    for h in &s.runtime {
        let _ = writeln!(out, "runtime: {} ({})", h.runtime, h.evidence);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<26} {:>20} {:>12} {:>20}  source", "limit", "value", "in use", "headroom");
    for l in &s.limits {
        let mut value = show_value(l.value, l.unit);
        if let Some(h) = l.hard.filter(|h| Some(*h) != l.value) {
            let _ = write!(value, " (hard {})", profile::show(h, l.unit));
        }
        let _ = writeln!(
            out,
            "{:<26} {:>20} {:>12} {:>20}  {}",
            l.name,
            value,
            show_value(l.in_use, l.unit),
            show_value(l.headroom, l.unit),
            l.source
        );
    }
    let _ = writeln!(out);
    let d = &s.dev_shm;
    if d.present {
        let _ = writeln!(
            out,
            "/dev/shm: {} {}, {} free{}{}",
            d.fstype.as_deref().unwrap_or("?"),
            show_value(d.size, Unit::Bytes),
            show_value(d.free, Unit::Bytes),
            if d.own_mount { ", its own mount" } else { ", not a mount of its own" },
            d.options.as_deref().map(|o| format!(" ({o})")).unwrap_or_default()
        );
    } else {
        let _ = writeln!(out, "/dev/shm: missing (POSIX shared memory has nowhere to live)");
    }
    let _ = writeln!(
        out,
        "/dev/mqueue: {}",
        if s.mqueue_mounted { "mounted" } else { "not mounted (mq_open still works; queues are not visible as files)" }
    );
    match &s.memory.cgroup {
        Some(c) => {
            let _ = writeln!(
                out,
                "memory cgroup {c}: limit {}, usage {}",
                s.memory.limit.map_or("none".to_owned(), |l| profile::show(l, Unit::Bytes)),
                show_value(s.memory.usage, Unit::Bytes)
            );
        }
        None => {
            let _ = writeln!(out, "memory cgroup: none visible");
        }
    }
    let u = &s.in_use;
    let _ = writeln!(
        out,
        "in use: {} SysV segments ({}), {} semaphore sets ({} semaphores), {} SysV queues ({} messages, {}); /dev/shm: {} files ({})",
        u.shm_segments,
        profile::show(u.shm_bytes, Unit::Bytes),
        u.sem_sets,
        u.semaphores,
        u.msg_queues,
        u.msg_messages,
        profile::show(u.msg_bytes, Unit::Bytes),
        u.dev_shm_files,
        profile::show(u.dev_shm_bytes, Unit::Bytes)
    );
    let _ = writeln!(
        out,
        "effective shared-memory capacity: {}{}",
        show_value(s.shm_capacity, Unit::Bytes),
        s.shm_capacity_bound.as_deref().map(|b| format!(" (bound by the {b})")).unwrap_or_default()
    );
    let _ = writeln!(out);
    for n in &s.namespaces {
        let rel = match n.same_as_pid1 {
            Some(true) => "the same as PID 1's",
            Some(false) => "not PID 1's",
            None => "PID 1's cannot be read",
        };
        let _ = writeln!(out, "{} namespace: {} ({rel})", n.kind, n.this.as_deref().unwrap_or("?"));
    }
    for c in &s.capabilities {
        let _ = writeln!(out, "{:<17} {:<4} {}", c.name, if c.held { "yes" } else { "NO" }, c.effect);
        if let Some(n) = &c.note {
            let _ = writeln!(out, "{:<22} ({n})", "");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "sysctl writable: here (opens for writing; nothing written), in a new IPC namespace, in a new user namespace");
    for a in &s.sysctls {
        let _ = writeln!(out, "  {:<26} {:<8} {:<18} {}", a.name, a.here, a.new_ipc_namespace, a.new_user_namespace);
    }
    for p in &r.profiles {
        let _ = writeln!(out);
        let failed = p.checks.iter().filter(|c| !c.met).count();
        if p.met {
            let _ = writeln!(out, "profile {}: PASS ({} requirements met)", p.name, p.checks.len());
        } else {
            let _ = writeln!(out, "profile {}: FAIL ({failed} of {} requirements not met)", p.name, p.checks.len());
        }
        for c in &p.checks {
            let unit = snapshot::unit_of(&c.limit).unwrap_or(Unit::Count);
            let op = if c.bound == profile::Bound::AtLeast { ">=" } else { "<=" };
            let _ = writeln!(
                out,
                "  {}  {} {op} {}: this process has {}",
                if c.met { "PASS" } else { "FAIL" },
                c.limit,
                profile::show(c.required, unit),
                c.have.map_or("nothing readable".to_owned(), |h| profile::show(h, unit))
            );
            if !c.met {
                let _ = writeln!(out, "        why: {}", c.why.replace('\n', " "));
                if let Some(src) = &c.source {
                    let _ = writeln!(out, "        source: {src}");
                }
                for f in &c.fixes {
                    let _ = writeln!(out, "        fix ({}): {}", f.platform, f.how);
                }
            }
        }
    }
    if !r.probes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "enforcement, probed at each edge:");
        for p in &r.probes {
            let tag = match p.verdict {
                Enforced::Confirmed => "CONFIRMED",
                Enforced::Contradicted => "CONTRADICTED",
                Enforced::Skipped => "SKIPPED",
            };
            let ns = if p.namespace == "private" { "private namespace" } else { "this namespace" };
            match p.verdict {
                Enforced::Skipped => {
                    let _ = writeln!(out, "  {tag:<12} {:<24} {}", p.limit, p.detail);
                }
                _ => {
                    let lowered = p.lowered_from.map(|v| format!(", lowered from {v}")).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {tag:<12} {:<24} at {} ({ns}{lowered}): {}; one past: {} (expected {})",
                        p.limit,
                        p.edge.map_or("?".to_owned(), |e| e.to_string()),
                        p.at_edge,
                        p.past_edge,
                        p.expected
                    );
                    let _ = writeln!(out, "  {:<12} {:<24} {}", "", "", p.detail);
                }
            }
        }
        if let Some(w) = &r.shm_when_full {
            let _ = writeln!(out, "/dev/shm when full: {w}");
        }
    }
    out
}
