//! `ipc-harness limits` end to end, in a container-like environment built
//! with unshare(1): new IPC and mount namespaces, a tmpfs of a chosen size
//! on /dev/shm, and kernel.msgmnb lowered. The snapshot must report exactly
//! those values, the probes must confirm them at their edges, and the
//! PostgreSQL profile must fail at Docker's 64 MiB with the fix, and pass
//! once the fix is applied.
//!
//! These tests need root (or CAP_SYS_ADMIN) and util-linux's unshare; where
//! either is missing they print why and check nothing more.

use std::path::Path;
use std::process::Command;

mod common;
use common::{Out, limit, output, probe};

const BIN: &str = env!("CARGO_BIN_EXE_ipc-harness");
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Why a container-like environment cannot be built here, if it cannot.
fn cannot_unshare() -> Option<String> {
    match Command::new("unshare").args(["--ipc", "--mount", "--propagation", "private", "true"]).output() {
        Err(e) => Some(format!("util-linux's unshare cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!("unshare --ipc --mount fails here: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Ok(_) => None,
    }
}

/// `ipc-harness ARGS` in new IPC and mount namespaces with a `shm` tmpfs
/// on /dev/shm (mount(8) size, e.g. `64m`) and kernel.msgmnb set to
/// `msgmnb`; None (with the reason printed) where that cannot be built.
fn container_like(test: &str, shm: &str, msgmnb: u64, args: &[&str]) -> Option<Out> {
    if let Some(why) = cannot_unshare() {
        eprintln!("SKIP {test}: {why}");
        return None;
    }
    let script = r#"mount -t tmpfs -o "size=$1,mode=1777" tmpfs /dev/shm && echo "$2" > /proc/sys/kernel/msgmnb && shift 2 && exec "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--ipc", "--mount", "--propagation", "private", "sh", "-c", script, "sh", shm]).arg(msgmnb.to_string()).arg(BIN).args(args);
    Some(output(&mut cmd))
}

/// Whether this test process holds CAP_SYS_RESOURCE where the kernel counts
/// it (the effective set, in the initial user namespace).
fn holds_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()).unwrap_or(0);
    let initial =
        std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    eff & (1 << 24) != 0 && initial
}

#[test]
fn the_snapshot_reports_exactly_what_the_container_was_given() {
    let Some(o) = container_like("the_snapshot_reports_exactly_what_the_container_was_given", "64m", 8192, &["limits", "--json"]) else {
        return;
    };
    assert_eq!(o.code, 0, "no requirement, no probe: exit 0\n{}", o.stderr);
    let r = o.json();
    let s = &r["snapshot"];
    assert_eq!(limit(&r, "dev_shm.size")["value"], 64 << 20);
    assert_eq!(s["dev_shm"]["fstype"], "tmpfs");
    assert_eq!(s["dev_shm"]["own_mount"], true);
    assert_eq!(limit(&r, "kernel.msgmnb")["value"], 8192);
    // The other SysV limits are the new namespace's: the kernel defaults.
    assert_eq!(limit(&r, "kernel.shmmni")["value"], 4096);
    assert_eq!(limit(&r, "kernel.shmmni")["in_use"], 0, "a new IPC namespace holds no segment");
    let capacity = limit(&r, "shm.capacity")["value"].as_u64().expect("a capacity");
    assert!(capacity <= 64 << 20, "the capacity is at most the tmpfs: {capacity}");
    // Its IPC namespace is not this test's.
    let ours = std::fs::read_link("/proc/self/ns/ipc").expect("our IPC namespace").to_string_lossy().into_owned();
    let ipc = s["namespaces"].as_array().expect("namespaces").iter().find(|n| n["kind"] == "ipc").expect("the ipc namespace");
    assert_ne!(ipc["this"], ours.as_str());
    // CAP_SYS_RESOURCE as the kernel counts it (this machine's root lacks it).
    let cap = s["capabilities"].as_array().expect("capabilities").iter().find(|c| c["name"] == "CAP_SYS_RESOURCE").expect("listed");
    assert_eq!(cap["held"], holds_sys_resource());
    // As root, every IPC sysctl can be written in a new IPC namespace.
    for a in s["sysctls"].as_array().expect("sysctls") {
        assert_eq!(a["new_ipc_namespace"], "yes", "{a}");
    }
}

#[test]
fn the_probes_confirm_the_container_limits_at_their_edges() {
    let Some(o) = container_like("the_probes_confirm_the_container_limits_at_their_edges", "64m", 8192, &["limits", "--json", "--probe"])
    else {
        return;
    };
    let r = o.json();
    assert_eq!(o.code, 0, "every probe confirmed: exit 0\n{}", serde_json::to_string_pretty(&r["probes"]).unwrap_or_default());
    for p in r["probes"].as_array().expect("probes") {
        assert_ne!(p["verdict"], "contradicted", "{p}");
    }
    let mnb = probe(&r, "kernel.msgmnb");
    assert_eq!((mnb["verdict"].as_str(), mnb["edge"].as_u64(), mnb["past_edge"].as_str()), (Some("confirmed"), Some(8192), Some("EAGAIN")));
    assert_eq!(mnb["namespace"], "this", "the container's own value is probed, not a lowered one");
    let falloc = probe(&r, "dev_shm.size");
    assert_eq!((falloc["verdict"].as_str(), falloc["edge"].as_u64()), (Some("confirmed"), Some(64 << 20)));
    assert_eq!(falloc["past_edge"], "ENOSPC");
    assert!(falloc["lowered_from"].is_null(), "64 MiB is probed at its real size");
    let touch = probe(&r, "dev_shm.size (touch)");
    assert_eq!((touch["verdict"].as_str(), touch["past_edge"].as_str()), (Some("confirmed"), Some("SIGBUS")));
    // Exhausting probes ran in a private namespace, with lowered limits.
    let shmmni = probe(&r, "kernel.shmmni");
    assert_eq!((shmmni["namespace"].as_str(), shmmni["lowered_from"].as_u64()), (Some("private"), Some(4096)));
    // POSIX queue limits: EINVAL one past, unless CAP_SYS_RESOURCE lifts them.
    let expected = if holds_sys_resource() { "ok" } else { "EINVAL" };
    assert_eq!(probe(&r, "fs.mqueue.msg_max")["expected"], expected);
    for name in
        ["kernel.msgmax", "kernel.sem.semmsl", "kernel.sem.semopm", "SEMVMX", "kernel.msgmni", "kernel.sem.semmni", "rlimit.msgqueue"]
    {
        assert_eq!(probe(&r, name)["verdict"], "confirmed", "{name}");
    }
    // The third outcome: a memory cgroup below the tmpfs ends the process
    // touching pages with the OOM killer, where a child cgroup can be made.
    let oom = probe(&r, "memory cgroup (touch)");
    if oom["verdict"] == "skipped" && oom["detail"].as_str().is_some_and(|d| d.contains("cannot make a child memory cgroup")) {
        eprintln!("SKIP the OOM probe: {}", oom["detail"]);
    } else {
        assert_eq!((oom["verdict"].as_str(), oom["past_edge"].as_str()), (Some("confirmed"), Some("SIGKILL (oom_kill 1)")), "{oom}");
    }
    let full = r["shm_when_full"].as_str().expect("what a full /dev/shm does");
    assert!(full.contains("ENOSPC") && full.contains("SIGBUS") && full.contains("both confirmed"), "{full}");
}

#[test]
fn postgresql_fails_at_64_mib_with_its_fix_and_passes_with_the_fix_applied() {
    let test = "postgresql_fails_at_64_mib_with_its_fix_and_passes_with_the_fix_applied";
    let Some(o) = container_like(test, "64m", 16384, &["limits", "--json", "--require", "postgresql"]) else { return };
    assert_eq!(o.code, 1, "an unmet requirement exits 1\n{}", o.stderr);
    let r = o.json();
    let pg = &r["profiles"][0];
    assert_eq!((pg["name"].as_str(), pg["met"].as_bool()), (Some("postgresql"), Some(false)));
    let check = pg["checks"].as_array().expect("checks").iter().find(|c| c["limit"] == "dev_shm.size").expect("a /dev/shm check");
    assert_eq!(
        (check["met"].as_bool(), check["have"].as_u64(), check["required"].as_u64()),
        (Some(false), Some(64 << 20), Some(256 << 20))
    );
    let fix = |platform: &str| -> String {
        check["fixes"]
            .as_array()
            .expect("fixes")
            .iter()
            .find(|f| f["platform"] == platform)
            .map(|f| f["how"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    assert!(fix("docker").contains("--shm-size=256m"), "{}", fix("docker"));
    assert!(fix("podman").contains("--shm-size=256m"), "{}", fix("podman"));
    assert!(fix("kubernetes").contains("medium: Memory") && fix("kubernetes").contains("sizeLimit: 256Mi"), "{}", fix("kubernetes"));
    // The human report shows the same, with the fix.
    let Some(human) = container_like(test, "64m", 16384, &["limits", "--require", "postgresql"]) else { return };
    assert!(human.stdout.contains("profile postgresql: FAIL"), "{}", human.stdout);
    assert!(human.stdout.contains("fix (docker): docker run --shm-size=256m"), "{}", human.stdout);
    // With the fix applied, the profile passes.
    let Some(fixed) = container_like(test, "256m", 16384, &["limits", "--require", "postgresql"]) else { return };
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    assert!(fixed.stdout.contains("profile postgresql: PASS"), "{}", fixed.stdout);
}

/// A user's own profile, in the same YAML: met and unmet by the values the
/// container was given.
#[test]
fn a_users_profile_is_checked_like_a_builtin_one() {
    let args = ["limits", "--json", "--require", "tests/fixtures/profiles/custom.yaml"];
    let Some(low) = container_like("a_users_profile_is_checked_like_a_builtin_one", "64m", 8192, &args) else { return };
    assert_eq!(low.code, 1);
    let checks = low.json()["profiles"][0]["checks"].clone();
    assert_eq!(checks[0]["met"], false, "msgmnb 8192 < 16 KiB: {checks}");
    assert_eq!(checks[0]["fixes"][0]["how"].as_str().map(|h| h.contains("--sysctl kernel.msgmnb=16384")), Some(true), "{checks}");
    assert_eq!(checks[1]["met"], true, "64 MiB of shm >= 32 MiB: {checks}");
    let Some(ok) = container_like("a_users_profile_is_checked_like_a_builtin_one", "64m", 16384, &args) else { return };
    assert_eq!(ok.code, 0, "{}", ok.stdout);
}

/// Where no private namespace can be made (here: user namespaces whose
/// namespace counts are 0), exhausting probes are refused with the reason,
/// unless allowed; allowed, they start from the measured headroom.
#[test]
fn exhausting_probes_are_refused_without_a_private_namespace_unless_allowed() {
    let test = "exhausting_probes_are_refused_without_a_private_namespace_unless_allowed";
    let script = r#"mount -t tmpfs -o size=8m,mode=1777 tmpfs /dev/shm && exec unshare --user --map-root-user sh -c 'for n in user ipc mnt; do echo 0 > /proc/sys/user/max_${n}_namespaces || exit 97; done; exec "$0" "$@"' "$@""#;
    let run = |extra: &[&str]| -> Option<Out> {
        if let Some(why) = cannot_unshare() {
            eprintln!("SKIP {test}: {why}");
            return None;
        }
        let mut cmd = Command::new("unshare");
        cmd.args(["--ipc", "--mount", "--propagation", "private", "sh", "-c", script, "sh", BIN, "limits", "--json", "--probe"])
            .args(extra);
        let o = output(&mut cmd);
        if o.code == 97 || o.stderr.contains("unshare failed") {
            eprintln!("SKIP {test}: user namespaces cannot be limited here: {}", o.stderr.trim());
            return None;
        }
        Some(o)
    };
    let Some(refused) = run(&[]) else { return };
    let r = refused.json();
    for name in ["kernel.shmmni", "kernel.msgmni", "fs.mqueue.queues_max", "rlimit.msgqueue", "dev_shm.size"] {
        let p = probe(&r, name);
        assert_eq!(p["verdict"], "skipped", "{p}");
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("--allow-shared-namespace")), "{p}");
    }
    assert_eq!(probe(&r, "kernel.msgmax")["verdict"], "confirmed", "per-call probes still run");
    // Inside a user namespace CAP_SYS_RESOURCE is in the effective set but
    // does not count: the mqueue limits hold, and the snapshot says why.
    let cap = r["snapshot"]["capabilities"]
        .as_array()
        .expect("caps")
        .iter()
        .find(|c| c["name"] == "CAP_SYS_RESOURCE")
        .cloned()
        .unwrap_or_default();
    assert_eq!(cap["held"], false, "{cap}");
    assert!(cap["note"].as_str().is_some_and(|n| n.contains("user namespace")), "{cap}");
    assert_eq!(probe(&r, "fs.mqueue.msg_max")["verdict"], "confirmed");
    // Allowed: in this (throw-away) namespace, from the measured headroom.
    let Some(allowed) = run(&["--allow-shared-namespace"]) else { return };
    let r = allowed.json();
    let shmmni = probe(&r, "kernel.shmmni");
    assert_eq!(
        (shmmni["verdict"].as_str(), shmmni["namespace"].as_str(), shmmni["edge"].as_u64()),
        (Some("confirmed"), Some("this"), Some(4096))
    );
    let msgmni = probe(&r, "kernel.msgmni");
    assert_eq!(msgmni["verdict"], "skipped", "32000 queues are too many to exhaust cheaply: {msgmni}");
    let falloc = probe(&r, "dev_shm.size");
    assert_eq!((falloc["verdict"].as_str(), falloc["edge"].as_u64()), (Some("confirmed"), Some(8 << 20)));
}

/// `limits --probe` in this process's own namespaces leaves nothing behind.
#[test]
fn probes_leave_no_object_behind() {
    let snapshot = || -> Vec<String> {
        let mut all: Vec<String> = ["shm", "sem", "msg"]
            .iter()
            .flat_map(|k| {
                std::fs::read_to_string(format!("/proc/sysvipc/{k}"))
                    .unwrap_or_default()
                    .lines()
                    .skip(1)
                    .map(|l| format!("{k} {}", l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.extend(std::fs::read_dir("/dev/shm").into_iter().flatten().flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
        all.sort();
        all
    };
    let before = snapshot();
    let o = output(Command::new(BIN).args(["limits", "--probe"]));
    assert!(o.code == 0 || o.code == 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(snapshot(), before, "the probe left objects behind");
}

#[test]
fn an_invalid_profile_is_diagnosed_with_its_locations() {
    let o = output(Command::new(BIN).args(["limits", "--require", "tests/fixtures/profiles/invalid.yaml"]));
    assert_eq!(o.code, 3);
    let golden = Path::new(CRATE).join("tests/fixtures/profiles/invalid.stderr");
    if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
        std::fs::write(&golden, &o.stderr).expect("writing the golden file");
    }
    assert_eq!(o.stderr, std::fs::read_to_string(&golden).unwrap_or_default(), "IPC_HARNESS_BLESS=1 to accept");
    assert!(o.stdout.is_empty(), "nothing is checked when a profile is invalid");
}

#[test]
fn an_unknown_profile_name_lists_the_builtin_ones() {
    let o = output(Command::new(BIN).args(["limits", "--require", "mysql"]));
    assert_eq!(o.code, 3);
    assert!(
        o.stderr.contains("no built-in profile `mysql`")
            && o.stderr.contains("postgresql, chromium, pytorch-dataloader, nccl, oracle-database"),
        "{}",
        o.stderr
    );
}

/// Every run report embeds the snapshot in its environment.
#[test]
fn a_run_report_embeds_the_snapshot() {
    let o = output(Command::new(BIN).args([
        "run",
        "--format",
        "json",
        "--out",
        env!("CARGO_TARGET_TMPDIR"),
        "tests/fixtures/pass_shared_anon.yaml",
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = o.json();
    assert!(
        r["environment"]["snapshot"]["limits"].as_array().is_some_and(|l| l.iter().any(|x| x["name"] == "shm.capacity")),
        "{}",
        r["environment"]
    );
}
