//! One trial per scenario case under `scenarios/`, named by its path
//! (`sysv_shm::attach_fixed_address`):
//!
//! - ordinary scenarios must pass; unmet requirements show as ignored, with
//!   the reason as the trial's kind;
//! - `must_fail/` scenarios must fail at the place they name (the verdict
//!   logic turns that into a pass; anything else fails the trial);
//! - `invalid/` files must produce exactly the diagnostics in the `.stderr`
//!   file beside them (set `IPC_HARNESS_BLESS=1` to write them after review).
//!
//! Zero collected scenarios is a failure, and so is any IPC object or
//! `/dev/shm` entry left in the kernel after all trials.
//!
//! libtest cannot show a skip decided at run time, so every scenario's
//! verdict also goes into the native JSON report, written to `reports/` (or
//! to `IPC_HARNESS_REPORT_DIR`); where it went is printed at the end.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ipc_harness::check::{Status, Verdict};
use ipc_harness::cli;
use ipc_harness::exec::{RunOptions, Wanted, run_one};
use ipc_harness::plan::Environment;
use ipc_harness::report::human;
use ipc_harness::scenario::source;
use libtest_mimic::{Arguments, Failed, Trial};

/// Relative, so that paths in diagnostics (and golden files) do not depend
/// on where the checkout is; cargo runs tests from the crate's folder.
fn root() -> PathBuf {
    PathBuf::from("../scenarios")
}

fn main() {
    let args = Arguments::from_args();
    let before = kernel_ipc_snapshot();
    let env = Environment::probe_with(Path::new(env!("CARGO_BIN_EXE_ipc-harness")));
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    // Scenarios skipped before they run are in the report only when every
    // trial is selected (a filtered run reports what it ran).
    let whole = args.filter.is_none() && args.skip.is_empty();
    let mut trials = scenario_trials(&env, &verdicts, whole);
    trials.extend(invalid_trials());
    let collected = trials.len();
    let conclusion = libtest_mimic::run(&args, trials);
    if !args.list {
        let mut verdicts = verdicts.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
        verdicts.sort_by(|a, b| a.name.cmp(&b.name));
        write_report(env, verdicts, started.elapsed().as_secs_f64() * 1000.0);
    }
    let mut ok = !conclusion.has_failed();
    if collected == 0 {
        eprintln!("error: no scenario was collected under {}", root().display());
        ok = false;
    }
    // Only a full run can judge the kernel's tables: a filtered run may be
    // one of several concurrent `cargo test` invocations.
    if args.filter.is_none() && args.skip.is_empty() && !args.list {
        let after = kernel_ipc_snapshot();
        let new: Vec<&String> = after.iter().filter(|x| !before.contains(x)).collect();
        if !new.is_empty() {
            eprintln!("error: the scenario runs left IPC objects in the kernel: {new:?}");
            ok = false;
        }
    }
    std::process::exit(if ok { 0 } else { 101 });
}

/// The run's verdicts as the native JSON report; a report that cannot be
/// written is said, not hidden.
fn write_report(environment: Environment, verdicts: Vec<Verdict>, wall_ms: f64) {
    if verdicts.is_empty() {
        return;
    }
    let dir = std::env::var_os("IPC_HARNESS_REPORT_DIR").map_or_else(|| PathBuf::from("../reports"), PathBuf::from);
    let run = ipc_harness::report::Run { environment, verdicts, plans: Vec::new(), wall_ms, jobs: 0 };
    let t = run.totals();
    let path = dir.join("cargo-test.json");
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, ipc_harness::report::json::render(&run)));
    match written {
        Ok(()) => eprintln!(
            "scenario report ({} pass, {} fail, {} skip, {} broken): {}",
            t.pass,
            t.fail,
            t.skip,
            t.broken,
            path.canonicalize().unwrap_or(path).display()
        ),
        Err(e) => eprintln!("warning: the scenario report was not written to {}: {e}", path.display()),
    }
}

fn scenario_trials(env: &Environment, verdicts: &Arc<Mutex<Vec<Verdict>>>, whole: bool) -> Vec<Trial> {
    let sources = match source::discover(&[root()]) {
        Ok(s) => s,
        Err(e) => return vec![Trial::test("collect", move || Err(e.into()))],
    };
    let runnable = sources;
    let (plans, bad) = cli::load(&runnable);
    let mut trials: Vec<Trial> = bad
        .into_iter()
        .map(|d| {
            let name = source::relative_path(Path::new(&d.path)).trim_end_matches(".yaml").replace('/', "::");
            Trial::test(name, move || Err(format!("invalid scenario:\n{}", d.render()).into()))
        })
        .collect();
    let opts = RunOptions { exe: PathBuf::from(env!("CARGO_BIN_EXE_ipc-harness")), jobs: 1, isolation: Wanted::Auto };
    for plan in plans {
        let name = plan.name.clone();
        let unmet = env.unmet(&plan);
        let env = env.clone();
        let opts = opts.clone();
        let negative = plan.must_fail.is_some();
        if let Some(reason) = unmet.as_ref().filter(|_| whole) {
            if let Ok(mut list) = verdicts.lock() {
                list.push(Verdict::skipped(&plan, reason.clone()));
            }
        }
        let collect = Arc::clone(verdicts);
        let trial = Trial::test(name, move || {
            let v = run_one(&plan, &env, &opts);
            if let Ok(mut list) = collect.lock() {
                list.push(Verdict { trace: None, ..v.clone() });
            }
            match v.status {
                Status::Pass => Ok(()),
                Status::Skip => Err(format!(
                    "skipped at run time ({}); libtest cannot show a run-time skip, so this is not a pass",
                    v.reason.unwrap_or_default()
                )
                .into()),
                Status::Fail | Status::Broken => {
                    let mut text = String::new();
                    human::details(&mut text, &v, Some(&plan));
                    Err(Failed::from(text))
                }
            }
        })
        .with_kind(if negative { "must_fail" } else { "" });
        trials.push(match unmet {
            Some(reason) => trial.with_ignored_flag(true).with_kind(format!("skip: {reason}")),
            None => trial,
        });
    }
    trials
}

/// Each `invalid/*.yaml` with its golden diagnostics.
fn invalid_trials() -> Vec<Trial> {
    let dir = root().join(source::INVALID_DIR);
    let Ok(sources) = source::discover(&[dir]) else { return Vec::new() };
    sources
        .into_iter()
        .map(|src| {
            let name = src.rel.trim_end_matches(".yaml").replace('/', "::");
            Trial::test(name, move || {
                let (_, bad) = cli::load(std::slice::from_ref(&src));
                let Some(d) = bad.first() else { return Err("this file is valid, but every file under invalid/ must be rejected".into()) };
                let rendered = d.render();
                let golden = PathBuf::from(src.path.replace(".yaml", ".stderr"));
                if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
                    std::fs::write(&golden, &rendered).map_err(|e| format!("{}: {e}", golden.display()))?;
                    return Ok(());
                }
                let want = std::fs::read_to_string(&golden)
                    .map_err(|e| format!("{}: {e} (run with IPC_HARNESS_BLESS=1 to create it, then review it)", golden.display()))?;
                if want == rendered {
                    Ok(())
                } else {
                    Err(format!("diagnostics differ from {}\n--- expected\n{want}\n--- actual\n{rendered}", golden.display()).into())
                }
            })
        })
        .collect()
}

/// SysV objects (kind, id, key) and `/dev/shm` entries present now.
fn kernel_ipc_snapshot() -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["shm", "sem", "msg"] {
        let text = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 1 {
                out.push(format!("sysv {kind} key {} id {}", f[0], f[1]));
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir("/dev/shm") {
        out.extend(rd.flatten().map(|e| format!("/dev/shm/{}", e.file_name().to_string_lossy())));
    }
    out
}
