//! Requirement profiles: what a workload needs from the IPC limits (YAML,
//! built in or the user's own), checked against a snapshot, with the fix
//! for each platform. Profiles say what and why; the fixes are the
//! harness's, one table by limit, so a user's profile gets them too.

use serde::Deserialize;

use super::snapshot::{Snapshot, Unit, unit_of};
use crate::scenario::span::{Loc, Sp};
use crate::scenario::{Diagnostic, FileDiagnostics};

/// The profiles that ship with the harness.
pub const BUILTIN: &[(&str, &str)] = &[
    ("postgresql", include_str!("../../profiles/postgresql.yaml")),
    ("chromium", include_str!("../../profiles/chromium.yaml")),
    ("pytorch-dataloader", include_str!("../../profiles/pytorch-dataloader.yaml")),
    ("nccl", include_str!("../../profiles/nccl.yaml")),
    ("oracle-database", include_str!("../../profiles/oracle-database.yaml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDoc {
    name: Sp<String>,
    description: String,
    #[serde(default)]
    sources: Vec<String>,
    requires: Vec<RequirementDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementDoc {
    limit: Sp<String>,
    at_least: Option<Sp<AmountDoc>>,
    at_most: Option<Sp<AmountDoc>>,
    why: String,
    source: Option<Sp<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AmountDoc {
    Number(u64),
    Text(String),
}

/// Which side of the value a requirement bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    AtLeast,
    AtMost,
}

/// One requirement of a profile.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub metric: String,
    pub bound: Bound,
    pub value: u64,
    pub why: String,
    pub source: Option<String>,
}

/// A validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub sources: Vec<String>,
    pub requires: Vec<Requirement>,
}

/// Find a profile by built-in name or file path, and validate it.
pub fn load(name_or_path: &str) -> Result<Profile, String> {
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(&format!("<built-in profile {name_or_path}>"), text).map_err(|d| d.render());
    }
    let path = std::path::Path::new(name_or_path);
    if !path.exists() {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "error: no built-in profile `{name_or_path}`, and no such file\n  = help: built-in profiles: {}; or give the path of a profile file (YAML)\n",
            names.join(", ")
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("error: {}: {e}\n", path.display()))?;
    parse(&path.display().to_string(), &text).map_err(|d| d.render())
}

/// Parse and validate one profile.
pub fn parse(path: &str, text: &str) -> Result<Profile, FileDiagnostics> {
    let fail = |diagnostics: Vec<Diagnostic>| FileDiagnostics { path: path.to_owned(), source: text.to_owned(), diagnostics };
    let doc: ProfileDoc = serde_saphyr::from_str(text).map_err(|e| fail(vec![yaml_error(&e)]))?;
    let mut problems = Vec::new();
    let mut requires = Vec::new();
    if doc.requires.is_empty() {
        problems.push(
            Diagnostic::new(doc.name.loc(), "this profile requires nothing")
                .label("profile")
                .hint("add `requires:` entries such as `- { limit: shm.capacity, at_least: 256MiB, why: ... }`"),
        );
    }
    for r in doc.requires {
        let Some(unit) = unit_of(&r.limit) else {
            let known: Vec<String> = super::snapshot::METRICS.iter().map(|(m, _)| (*m).to_owned()).collect();
            problems.push(
                Diagnostic::new(r.limit.loc(), format!("unknown limit `{}`", r.limit.value()))
                    .label("here")
                    .hint(crate::scenario::load::suggest(r.limit.value(), &known, "limits a profile can name")),
            );
            continue;
        };
        let (bound, amount) = match (r.at_least, r.at_most) {
            (Some(a), None) => (Bound::AtLeast, a),
            (None, Some(a)) => (Bound::AtMost, a),
            (Some(_), Some(b)) => {
                problems.push(
                    Diagnostic::new(b.loc(), "a requirement gives both `at_least` and `at_most`")
                        .label("second bound")
                        .hint("write two requirements, one for each bound"),
                );
                continue;
            }
            (None, None) => {
                problems.push(
                    Diagnostic::new(r.limit.loc(), format!("the requirement on `{}` gives no bound", r.limit.value()))
                        .label("here")
                        .hint("add `at_least:` or `at_most:`"),
                );
                continue;
            }
        };
        let value = match amount_value(amount.value(), unit) {
            Ok(v) => v,
            Err(e) => {
                problems.push(
                    Diagnostic::new(amount.loc(), e)
                        .label("here")
                        .hint("write a whole number, a size with a unit (`64MiB`, `2GiB`, `512KiB`), or `unlimited` (resource limits)"),
                );
                continue;
            }
        };
        let source = match &r.source {
            None => None,
            Some(i) => match doc.sources.get(i.value().wrapping_sub(1)) {
                Some(s) => Some(s.clone()),
                None => {
                    problems.push(
                        Diagnostic::new(i.loc(), format!("there is no source {} (this profile lists {})", i.value(), doc.sources.len()))
                            .label("here")
                            .hint("`source:` is the 1-based position of an entry in `sources:`"),
                    );
                    None
                }
            },
        };
        requires.push(Requirement { metric: r.limit.into_value(), bound, value, why: r.why.trim().to_owned(), source });
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    Ok(Profile { name: doc.name.into_value(), description: doc.description.trim().to_owned(), sources: doc.sources, requires })
}

fn yaml_error(e: &serde_saphyr::Error) -> Diagnostic {
    let loc = e.location().map(Loc::from).unwrap_or_default();
    let rendered = e.without_snippet().to_string();
    let message = rendered.lines().next().unwrap_or("invalid profile").trim_start_matches("error: ").to_owned();
    let message = message.split(" at line ").next().unwrap_or_default().to_owned();
    Diagnostic::new(loc, message).label("here").hint(
        "a profile has `name`, `description`, `sources` (a list of strings) and `requires` (a list of `{ limit, at_least | at_most, why, source }`)",
    )
}

/// A number, `64MiB`-style size, or `unlimited`.
fn amount_value(a: &AmountDoc, unit: Unit) -> Result<u64, String> {
    let text = match a {
        AmountDoc::Number(n) => return Ok(*n),
        AmountDoc::Text(t) => t.trim(),
    };
    if text == "unlimited" {
        return Ok(u64::MAX);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not an amount"))?;
    let scale: u64 = match suffix.trim() {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => return Err(format!("unknown unit `{other}` in `{text}`")),
    };
    if scale > 1 && unit != Unit::Bytes {
        return Err(format!("`{text}` is a size, but this limit is counted in {}", if unit == Unit::Pages { "pages" } else { "objects" }));
    }
    n.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

/// A requirement checked against the snapshot.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Check {
    pub profile: String,
    pub limit: String,
    pub bound: Bound,
    pub required: u64,
    /// What this process has; `None` when it cannot be read here.
    pub have: Option<u64>,
    pub met: bool,
    pub why: String,
    pub source: Option<String>,
    /// How to meet it, by platform (empty when met).
    pub fixes: Vec<Fix>,
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Fix {
    /// `docker`, `podman`, `kubernetes` or `host`.
    pub platform: String,
    pub how: String,
}

/// Check every requirement of a profile.
pub fn check(profile: &Profile, snap: &Snapshot) -> Vec<Check> {
    profile
        .requires
        .iter()
        .map(|r| {
            let have = snap.value(&r.metric);
            let met = have.is_some_and(|h| match r.bound {
                Bound::AtLeast => h >= r.value,
                Bound::AtMost => h <= r.value,
            });
            Check {
                profile: profile.name.clone(),
                limit: r.metric.clone(),
                bound: r.bound,
                required: r.value,
                have,
                met,
                why: r.why.clone(),
                source: r.source.clone(),
                fixes: if met { Vec::new() } else { fixes(&r.metric, r.value, snap) },
            }
        })
        .collect()
}

/// An amount as people read it: `64 MiB`, `unlimited`, `4096`.
pub fn show(value: u64, unit: Unit) -> String {
    if value == u64::MAX {
        return "unlimited".to_owned();
    }
    // Below a KiB, not bytes, or beyond any real memory (the kernel's
    // "no limit" values such as shmmax's ULONG_MAX - 2^24): the number.
    if unit != Unit::Bytes || !(1 << 10..1 << 50).contains(&value) {
        return value.to_string();
    }
    for (scale, name) in [(1u64 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if value >= scale {
            return if value % scale == 0 {
                format!("{} {name}", value / scale)
            } else {
                format!("{:.1} {name}", value as f64 / scale as f64)
            };
        }
    }
    value.to_string()
}

/// How to give this process `value` of `metric`, on each platform.
fn fixes(metric: &str, value: u64, snap: &Snapshot) -> Vec<Fix> {
    let fix = |platform: &str, how: String| Fix { platform: platform.to_owned(), how };
    let mib = value.div_ceil(1 << 20);
    match metric {
        "shm.capacity" | "dev_shm.size" | "dev_shm.free" => {
            let memory_bound = metric == "shm.capacity" && snap.shm_capacity_bound.as_deref() == Some("memory cgroup");
            let mem_note = if memory_bound {
                " The memory cgroup's headroom is the bound here: also raise the memory limit (--memory) above the shm size plus the workload's own memory."
            } else {
                " tmpfs pages count against the container's memory limit: keep --memory above the shm size plus the workload's own memory."
            };
            vec![
                fix(
                    "docker",
                    format!("docker run --shm-size={mib}m ...  (compose: shm_size: {mib}m; daemon default: default-shm-size).{mem_note}"),
                ),
                fix("podman", format!("podman run --shm-size={mib}m ...")),
                fix(
                    "kubernetes",
                    format!(
                        "Kubernetes has no shm size: mount an emptyDir {{ medium: Memory, sizeLimit: {mib}Mi }} at /dev/shm; it counts against the pod's memory limit, so set resources.limits.memory above it."
                    ),
                ),
                fix("host", format!("mount -o remount,size={mib}M /dev/shm, and the same size in /etc/fstab")),
            ]
        }
        "memory.limit" | "memory.headroom" => vec![
            fix("docker", format!("docker run --memory={mib}m ...")),
            fix("podman", format!("podman run --memory={mib}m ...")),
            fix("kubernetes", format!("resources.limits.memory: {mib}Mi")),
            fix("host", format!("raise the memory cgroup's memory.max (systemd: MemoryMax={mib}M)")),
        ],
        m if m.starts_with("kernel.") || m.starts_with("fs.mqueue.") => {
            let (key, v) = sysctl_setting(m, value, snap);
            let k8s_safe = key == "kernel.shm_rmid_forced";
            vec![
                fix("docker", format!("docker run --sysctl {key}={v} ...  (refused with --ipc=host: then set it on the host)")),
                fix("podman", format!("podman run --sysctl {key}={v} ...  (rootless: needs Linux 6.9 or a backport)")),
                fix(
                    "kubernetes",
                    if k8s_safe {
                        format!("securityContext.sysctls: [{{ name: {key}, value: \"{v}\" }}] (a safe sysctl)")
                    } else {
                        format!(
                            "securityContext.sysctls: [{{ name: {key}, value: \"{v}\" }}], and allow it on the node: kubelet --allowed-unsafe-sysctls={key}"
                        )
                    },
                ),
                fix("host", format!("sysctl -w {key}=\"{v}\", and in /etc/sysctl.d/90-ipc.conf to keep it")),
            ]
        }
        m if m.starts_with("rlimit.") => {
            let name = m.trim_start_matches("rlimit.");
            let (docker_v, systemd) =
                if value == u64::MAX { ("-1".to_owned(), "infinity".to_owned()) } else { (value.to_string(), value.to_string()) };
            let limits_conf = if value == u64::MAX { "unlimited".to_owned() } else { value.to_string() };
            let systemd_key = match name {
                "msgqueue" => "LimitMSGQUEUE",
                "memlock" => "LimitMEMLOCK",
                "nofile" => "LimitNOFILE",
                _ => "LimitSIGPENDING",
            };
            vec![
                fix("docker", format!("docker run --ulimit {name}={docker_v}:{docker_v} ...")),
                fix("podman", format!("podman run --ulimit {name}={docker_v}:{docker_v} ...")),
                fix(
                    "kubernetes",
                    "pods cannot set resource limits: set the container runtime's default (containerd or CRI-O configuration), or raise the soft limit in the entrypoint within the hard one".to_owned(),
                ),
                fix("host", format!("{systemd_key}={systemd} in the service's unit, or `* - {name} {limits_conf}` in /etc/security/limits.conf")),
            ]
        }
        _ => Vec::new(),
    }
}

/// The sysctl key and value that set a metric: `kernel.sem` takes all four
/// fields, with the one asked for changed and the others as they are.
fn sysctl_setting(metric: &str, value: u64, snap: &Snapshot) -> (String, String) {
    if let Some(field) = metric.strip_prefix("kernel.sem.") {
        let fields: Vec<String> = ["semmsl", "semmns", "semopm", "semmni"]
            .iter()
            .map(|f| {
                if *f == field {
                    value.to_string()
                } else {
                    snap.value(&format!("kernel.sem.{f}")).map_or("?".to_owned(), |v| v.to_string())
                }
            })
            .collect();
        return ("kernel.sem".to_owned(), fields.join(" "));
    }
    (metric.to_owned(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_is_valid_and_named_after_itself() {
        for (name, text) in BUILTIN {
            let p = parse(name, text).unwrap_or_else(|d| panic!("{}", d.render()));
            assert_eq!(p.name, *name);
            assert!(!p.sources.is_empty(), "{name} cites its sources");
            assert!(p.requires.iter().all(|r| !r.why.is_empty()), "{name}: every requirement says why");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(amount_value(&AmountDoc::Text("64MiB".into()), Unit::Bytes), Ok(64 << 20));
        assert_eq!(amount_value(&AmountDoc::Text("unlimited".into()), Unit::Bytes), Ok(u64::MAX));
        assert_eq!(amount_value(&AmountDoc::Number(250), Unit::Count), Ok(250));
        assert!(amount_value(&AmountDoc::Text("2GB".into()), Unit::Bytes).is_err());
        assert!(amount_value(&AmountDoc::Text("2GiB".into()), Unit::Count).is_err());
        assert_eq!(show(64 << 20, Unit::Bytes), "64 MiB");
        assert_eq!(show(u64::MAX, Unit::Bytes), "unlimited");
    }
}
