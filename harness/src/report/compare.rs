//! `ipc-harness compare BASE NEW`: what changed between two runs' JSON
//! reports. It compares verdicts the judge already made; it judges nothing
//! about the kernel itself. The environment comes first, so that a
//! comparison across two kernels reads as one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Run;
use crate::check::{Status, Verdict};

/// How one scenario changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// (name, value in base, value in new), for the kernel, capabilities,
    /// isolation and every limit that differs.
    pub environment: Vec<(String, String, String)>,
    /// Failing or broken now, and not before (or new).
    pub new_failures: Vec<(String, String)>,
    pub fixed: Vec<String>,
    pub newly_skipped: Vec<(String, String)>,
    pub no_longer_skipped: Vec<String>,
    pub new: Vec<String>,
    pub vanished: Vec<String>,
    /// (name, base ms, new ms) beyond the threshold.
    pub slower: Vec<(String, f64, f64)>,
}

impl Changes {
    /// Whether anything got worse: the exit status is non-zero exactly then.
    pub fn regressed(&self) -> bool {
        !self.new_failures.is_empty() || !self.newly_skipped.is_empty() || !self.vanished.is_empty() || !self.slower.is_empty()
    }
}

fn failing(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Broken)
}

fn why(v: &Verdict) -> String {
    match v.failures.first() {
        Some(f) => format!("{}: expected {}, observed {}", f.mismatch.what, f.mismatch.expected, f.mismatch.observed).replace('\n', " "),
        None => v.reason.clone().unwrap_or_default().replace('\n', " "),
    }
}

/// Compare two runs. A scenario is slower when it took more than
/// `threshold` times as long and at least `floor_ms` more.
pub fn compare(base: &Run, new: &Run, threshold: f64, floor_ms: f64) -> Changes {
    let mut c = Changes::default();
    let both_snapshots = base.environment.snapshot.is_some() && new.environment.snapshot.is_some();
    let env = |r: &Run| {
        let e = &r.environment;
        let mut m = BTreeMap::new();
        m.insert("kernel".to_owned(), format!("{} {}", e.kernel_release, e.kernel_version));
        m.insert("arch".to_owned(), e.arch.clone());
        m.insert("libc".to_owned(), e.libc.clone());
        m.insert("euid".to_owned(), e.euid.to_string());
        m.insert("capabilities missing".to_owned(), e.capabilities_missing.join(" "));
        m.insert("isolation".to_owned(), e.isolation.map(|i| format!("{i:?}")).unwrap_or_default());
        for (k, v) in &e.limits {
            m.insert(k.clone(), v.clone());
        }
        // What the container gave beyond sysctls (the steady values, not
        // free space or headroom, which change from run to run); only when
        // both reports carry a snapshot.
        if let (Some(s), true) = (&e.snapshot, both_snapshots) {
            for l in s.limits.iter().filter(|l| l.name.starts_with("rlimit.") || l.name == "dev_shm.size" || l.name == "memory.limit") {
                m.insert(l.name.clone(), l.value.map_or("unreadable".to_owned(), |v| crate::limits::profile::show(v, l.unit)));
            }
        }
        m
    };
    let (eb, en) = (env(base), env(new));
    for key in eb.keys().chain(en.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (b, n) = (eb.get(key).cloned().unwrap_or_default(), en.get(key).cloned().unwrap_or_default());
        if b != n {
            c.environment.push((key.clone(), b, n));
        }
    }
    let base_by: BTreeMap<&str, &Verdict> = base.verdicts.iter().map(|v| (v.name.as_str(), v)).collect();
    let new_by: BTreeMap<&str, &Verdict> = new.verdicts.iter().map(|v| (v.name.as_str(), v)).collect();
    for (name, n) in &new_by {
        let Some(b) = base_by.get(name) else {
            c.new.push((*name).to_owned());
            if failing(n.status) {
                c.new_failures.push(((*name).to_owned(), why(n)));
            }
            continue;
        };
        match (b.status, n.status) {
            (bs, ns) if !failing(bs) && failing(ns) => c.new_failures.push(((*name).to_owned(), why(n))),
            (bs, ns) if failing(bs) && !failing(ns) => c.fixed.push((*name).to_owned()),
            (Status::Pass, Status::Skip) => c.newly_skipped.push(((*name).to_owned(), why(n))),
            (Status::Skip, Status::Pass) => c.no_longer_skipped.push((*name).to_owned()),
            _ => {}
        }
        let ran = |v: &Verdict| v.status != Status::Skip;
        if ran(b) && ran(n) && n.duration_ms > b.duration_ms * threshold && n.duration_ms - b.duration_ms >= floor_ms {
            c.slower.push(((*name).to_owned(), b.duration_ms, n.duration_ms));
        }
    }
    c.vanished = base_by.keys().filter(|n| !new_by.contains_key(*n)).map(|n| (*n).to_owned()).collect();
    c
}

/// The comparison for people (`markdown: false`) or for a CI comment.
pub fn render(c: &Changes, markdown: bool) -> String {
    let mut out = String::new();
    let verdict = if c.regressed() { "regressed" } else { "no regression" };
    let _ = writeln!(out, "{}ipc-harness compare: {verdict}", if markdown { "### " } else { "" });
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        let _ = if markdown { writeln!(out, "\n#### {title} ({})\n", lines.len()) } else { writeln!(out, "\n{title} ({}):", lines.len()) };
        for l in lines {
            let _ = writeln!(out, "{}{l}", if markdown { "- " } else { "  " });
        }
    };
    let code = |s: &str| if markdown { format!("`{s}`") } else { s.to_owned() };
    section("Environment changed", c.environment.iter().map(|(k, b, n)| format!("{}: {b} -> {n}", code(k))).collect());
    section("New failures", c.new_failures.iter().map(|(n, w)| format!("{}: {w}", code(n))).collect());
    section("Newly skipped", c.newly_skipped.iter().map(|(n, w)| format!("{}: {w}", code(n))).collect());
    section("Vanished", c.vanished.iter().map(|n| code(n)).collect());
    section("Slower", c.slower.iter().map(|(n, b, a)| format!("{}: {b:.1} ms -> {a:.1} ms ({:.1}x)", code(n), a / b.max(0.001))).collect());
    section("Fixed", c.fixed.iter().map(|n| code(n)).collect());
    section("No longer skipped", c.no_longer_skipped.iter().map(|n| code(n)).collect());
    section("New", c.new.iter().map(|n| code(n)).collect());
    out
}
