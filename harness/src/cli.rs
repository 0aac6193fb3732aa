//! The command line: argument parsing and the commands, written against
//! output streams passed in (the binary gives stdout and stderr), returning
//! the documented exit code.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exec::{self, RunOptions, Wanted};
use crate::plan::{self, Environment, Plan};
use crate::report::{self, Run};
use crate::scenario::{self, FileDiagnostics, Source, source};

/// Documented exit codes.
pub mod code {
    /// Every selected scenario passed or was skipped.
    pub const OK: i32 = 0;
    /// At least one scenario failed.
    pub const FAILED: i32 = 1;
    /// The harness or the environment broke (and nothing failed).
    pub const BROKEN: i32 = 2;
    /// A scenario file or the command line is invalid.
    pub const INVALID: i32 = 3;
    /// The selection matched no scenario.
    pub const NOTHING_SELECTED: i32 = 4;

    /// kselftest's codes (`tools/testing/selftests/kselftest.h`), for
    /// `run --exit-codes kselftest`.
    pub mod kselftest {
        /// Nothing failed or broke, and something passed.
        pub const PASS: i32 = 0;
        /// Something failed or broke, or the input was invalid.
        pub const FAIL: i32 = 1;
        /// Everything selected was skipped (or nothing was selected).
        pub const SKIP: i32 = 4;
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "ipc-harness",
    version,
    about = "Conformance and stress tests for Linux IPC, written as YAML scenarios",
    after_help = "Exit codes: 0 all passed or skipped, 1 failures, 2 broken, 3 invalid input (a scenario file or the command line), 4 nothing selected. `run --exit-codes kselftest` uses kselftest's instead: 0 pass, 1 fail (failures, broken runs or invalid input), 4 skip (everything skipped)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios (the built-in library when no path is given).
    Run(RunArgs),
    /// List scenarios and their cases.
    List(ListArgs),
    /// Check scenario files without running them.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (with `--report`, of the
    /// JSON report).
    Schema {
        #[arg(long)]
        report: bool,
        /// The JSON Schema of `limits --json`.
        #[arg(long, conflicts_with = "report")]
        limits: bool,
    },
    /// Compare two JSON reports: new failures, fixes, skips, new and
    /// vanished scenarios, slowdowns, and the environment's differences
    /// first. Exits 1 exactly when something regressed.
    Compare(CompareArgs),
    /// What this process really gets: every IPC limit in effect, use and
    /// headroom, /dev/shm and the memory cgroup, namespaces, capabilities
    /// and which sysctls can be written. `--require` checks workload
    /// profiles (with fixes per platform); `--probe` proves each limit is
    /// enforced at its edge. Exits 1 when a requirement is not met or a
    /// probe contradicts a limit.
    Limits(LimitsArgs),
    #[command(name = "__limits-probe", hide = true)]
    LimitsProbe {
        #[arg(long)]
        allow_shared_namespace: bool,
    },
    #[command(name = "__probe-sysctl-writes", hide = true)]
    ProbeSysctlWrites {
        #[arg(long)]
        user_namespace: bool,
    },
    #[command(name = "__supervise", hide = true)]
    Supervise {
        #[arg(long, value_enum, default_value = "auto")]
        isolation: Wanted,
    },
    #[command(name = "__probe-isolation", hide = true)]
    ProbeIsolation,
    #[command(name = "__role", hide = true)]
    Role {
        context: PathBuf,
        role: usize,
        instance: u32,
        /// The new image of a role that made an `exec` step: continue after it.
        #[arg(long)]
        resume: Option<usize>,
    },
}

#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Scenario files or folders; the built-in library when none is given.
    pub paths: Vec<PathBuf>,
    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only scenarios whose name contains this text (repeatable: any of them).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Include the must-fail twins of the library (negative tests).
    #[arg(long)]
    pub negative: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
    Ktap,
    Kirk,
    Markdown,
}

impl Format {
    /// The report in this format, and its file extension (None for the
    /// human report, which is only printed).
    fn render(self, run: &Run) -> Option<(String, &'static str)> {
        Some(match self {
            Format::Human => return None,
            Format::Json => (report::json::render(run), "json"),
            Format::Junit => (report::formats::junit(run), "junit.xml"),
            Format::Ktap => (report::formats::ktap(run), "ktap"),
            Format::Kirk => (report::formats::kirk(run), "kirk.json"),
            Format::Markdown => (report::formats::markdown(run), "md"),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Scenarios run at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Report formats, comma-separated (`human,junit,ktap`): each is written
    /// to `--out`; standard output gets the human report if asked for,
    /// otherwise the only format asked for.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "human")]
    pub format: Vec<Format>,
    /// Folder for the reports (the JSON report is always written).
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Isolation of each run.
    #[arg(long, value_enum, default_value = "auto")]
    pub isolation: Wanted,
    /// Run each selected scenario this many times (for measurements and
    /// flakiness hunts); repetitions are named `NAME#k`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeat: u32,
    /// Exit codes: the harness's own, or kselftest's (0 pass, 1 fail, 4
    /// skip), for runners that read KTAP from `--format ktap`.
    #[arg(long, value_enum, default_value = "harness")]
    pub exit_codes: ExitCodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExitCodes {
    Harness,
    Kselftest,
}

impl ExitCodes {
    /// The exit code of a run with these totals.
    fn of_run(self, t: report::Totals) -> i32 {
        match self {
            ExitCodes::Harness if t.fail > 0 => code::FAILED,
            ExitCodes::Harness if t.broken > 0 => code::BROKEN,
            ExitCodes::Harness => code::OK,
            ExitCodes::Kselftest if t.fail + t.broken > 0 => code::kselftest::FAIL,
            ExitCodes::Kselftest if t.pass == 0 => code::kselftest::SKIP,
            ExitCodes::Kselftest => code::kselftest::PASS,
        }
    }

    /// The exit code when the run could not start (a harness code).
    fn of_refusal(self, harness: i32) -> i32 {
        match self {
            ExitCodes::Harness => harness,
            ExitCodes::Kselftest if harness == code::NOTHING_SELECTED => code::kselftest::SKIP,
            ExitCodes::Kselftest => code::kselftest::FAIL,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The earlier run's JSON report.
    pub base: PathBuf,
    /// The later run's JSON report.
    pub new: PathBuf,
    /// A scenario is slower when it takes more than this many times as long...
    #[arg(long, default_value_t = 2.0)]
    pub slower_than: f64,
    /// ...and at least this many milliseconds more.
    #[arg(long, default_value_t = 100.0)]
    pub slower_by_ms: f64,
    /// Markdown instead of plain text.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, clap::Args)]
pub struct LimitsArgs {
    /// The snapshot (and checks and probes) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Check a requirement profile: a built-in name (postgresql, chromium,
    /// pytorch-dataloader, nccl, oracle-database) or a YAML file
    /// (repeatable).
    #[arg(long = "require", value_name = "NAME|FILE")]
    pub require: Vec<String>,
    /// Prove each limit is enforced at its edge. Exhausting probes run in
    /// a private IPC and mount namespace with the limits lowered there.
    #[arg(long)]
    pub probe: bool,
    /// Where no private namespace can be made, run the exhausting probes
    /// in this process's own one (they starve other users of it briefly).
    #[arg(long, requires = "probe")]
    pub allow_shared_namespace: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: Selection,
    #[arg(long)]
    pub json: bool,
}

/// Run the command line. `out` and `err` are standard output and error.
pub fn main(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cli.command {
        Command::Run(a) => run(a, out, err),
        Command::List(a) => list(a, out, err),
        Command::Compare(a) => compare(&a, out, err),
        Command::Limits(a) => limits(&a, out, err),
        Command::LimitsProbe { allow_shared_namespace } => {
            let probes = crate::limits::enforce::run(crate::limits::enforce::Options { allow_shared: allow_shared_namespace });
            let _ = writeln!(out, "{}", serde_json::to_string(&probes).unwrap_or_default());
            code::OK
        }
        Command::ProbeSysctlWrites { user_namespace } => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string(&crate::limits::snapshot::probe_sysctl_writes(user_namespace)).unwrap_or_default()
            );
            code::OK
        }
        Command::Validate { paths } => validate(&paths, out, err),
        Command::Schema { report: true, .. } => {
            let _ = write!(out, "{}", report::json::schema());
            code::OK
        }
        Command::Schema { limits: true, .. } => {
            let schema = schemars::schema_for!(crate::limits::Report);
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
            code::OK
        }
        Command::Schema { .. } => {
            let schema = schemars::schema_for!(scenario::model::ScenarioDoc);
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
            code::OK
        }
        Command::Supervise { isolation } => exec::supervisor::main(isolation),
        Command::Role { context, role, instance, resume } => exec::role::main(&context, role, instance, resume),
        Command::ProbeIsolation => match exec::isolation::isolate(Wanted::Auto, None) {
            Ok((i, _)) => {
                let _ = writeln!(out, "{}", serde_json::to_string(&i).unwrap_or_default());
                code::OK
            }
            Err(e) => {
                let _ = writeln!(err, "{e}");
                code::BROKEN
            }
        },
    }
}

/// Parse and validate every source; plans in source order, and the
/// diagnostics of every invalid file.
pub fn load(sources: &[Source]) -> (Vec<Plan>, Vec<FileDiagnostics>) {
    let mut plans = Vec::new();
    let mut bad = Vec::new();
    for src in sources {
        match scenario::parse(src) {
            Err(d) => bad.push(d),
            Ok(cases) => {
                let total = cases.len();
                // The same mistake in several cases is one diagnostic, at its
                // place in the file the user wrote.
                let mut found: Vec<(scenario::Diagnostic, Vec<String>)> = Vec::new();
                for case in cases {
                    match plan::build(&case, &src.path) {
                        Ok(p) => plans.push(p),
                        Err(d) => {
                            for mut x in d {
                                x.loc = case.columns.to_original(x.loc);
                                let name = case.case.clone().unwrap_or_default();
                                match found.iter_mut().find(|(f, _)| f.loc == x.loc && f.message == x.message) {
                                    Some((_, names)) => names.push(name),
                                    None => found.push((x, vec![name])),
                                }
                            }
                        }
                    }
                }
                if !found.is_empty() {
                    let diagnostics = found
                        .into_iter()
                        .map(|(mut d, names)| {
                            if total > 1 && names.len() < total {
                                let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                                d.message = format!("{} (in case {list})", d.message);
                            }
                            d
                        })
                        .collect();
                    bad.push(FileDiagnostics { path: src.path.clone(), source: src.text.clone(), diagnostics });
                }
            }
        }
    }
    (plans, bad)
}

fn sources(sel: &Selection) -> Result<Vec<Source>, String> {
    if sel.paths.is_empty() { Ok(source::library(sel.negative)) } else { source::discover(&sel.paths) }
}

fn select(plans: Vec<Plan>, sel: &Selection) -> Vec<Plan> {
    plans
        .into_iter()
        .filter(|p| sel.tags.is_empty() || p.tags.iter().any(|t| sel.tags.contains(t)))
        .filter(|p| sel.names.is_empty() || sel.names.iter().any(|n| p.name.contains(n.as_str())))
        .collect()
}

fn load_selected(sel: &Selection, err: &mut dyn Write) -> Result<Vec<Plan>, i32> {
    let srcs = sources(sel).map_err(|e| {
        let _ = writeln!(err, "error: {e}");
        code::INVALID
    })?;
    let (plans, bad) = load(&srcs);
    if !bad.is_empty() {
        for b in &bad {
            let _ = write!(err, "{}", b.render());
        }
        return Err(code::INVALID);
    }
    let plans = select(plans, sel);
    if plans.is_empty() {
        let _ = writeln!(err, "error: no scenario matches the selection");
        return Err(code::NOTHING_SELECTED);
    }
    Ok(plans)
}

fn run(a: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut plans = match load_selected(&a.select, err) {
        Ok(p) => p,
        Err(c) => return a.exit_codes.of_refusal(c),
    };
    if a.repeat > 1 {
        plans = (1..=a.repeat)
            .flat_map(|k| {
                plans.iter().cloned().map(move |mut p| {
                    p.name = format!("{}#{k}", p.name);
                    p
                })
            })
            .collect();
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(err, "error: cannot find the harness binary: {e}");
            return a.exit_codes.of_refusal(code::BROKEN);
        }
    };
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let opts = RunOptions { exe, jobs, isolation: a.isolation };
    let environment = Environment::probe_with(&opts.exe);
    let started = Instant::now();
    let human = a.format.contains(&Format::Human);
    let verdicts = exec::run_all(&plans, &environment, &opts, |v| {
        if human {
            let _ = writeln!(out, "{}", report::human::line(v));
        }
    });
    let run = Run { environment, verdicts, plans, wall_ms: started.elapsed().as_secs_f64() * 1000.0, jobs };
    let mut formats = a.format.clone();
    if !formats.contains(&Format::Json) {
        formats.push(Format::Json);
    }
    let rendered: Vec<(Format, String, &str)> = formats.iter().filter_map(|f| f.render(&run).map(|(text, ext)| (*f, text, ext))).collect();
    if human {
        let _ = write!(out, "{}", report::human::summary(&run));
    } else if let [only] = a.format.as_slice() {
        if let Some((_, text, _)) = rendered.iter().find(|(f, _, _)| f == only) {
            let _ = writeln!(out, "{}", text.trim_end());
        }
    }
    let _ = out.flush();
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let stem = format!("run-{secs}-{}", std::process::id());
    for (_, text, ext) in &rendered {
        let (line, to_out) = match write_report(&a.out, &stem, ext, text) {
            Ok(p) => (format!("report: {}", p.display()), human),
            Err(e) => (format!("warning: the {ext} report was not written: {e}"), false),
        };
        let _ = if to_out { writeln!(out, "{line}") } else { writeln!(err, "{line}") };
    }
    a.exit_codes.of_run(run.totals())
}

/// Write `DIR/STEM.EXT`, and the same as `DIR/latest.EXT`.
fn write_report(dir: &std::path::Path, stem: &str, ext: &str, text: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{stem}.{ext}"));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = std::fs::write(dir.join(format!("latest.{ext}")), text);
    Ok(path)
}

fn compare(a: &CompareArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let read = |p: &std::path::Path| -> Result<Run, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not an ipc-harness JSON report ({e})", p.display()))
    };
    let (base, new) = match (read(&a.base), read(&a.new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(err, "error: {e}");
            return code::BROKEN;
        }
    };
    let changes = report::compare::compare(&base, &new, a.slower_than, a.slower_by_ms);
    let _ = write!(out, "{}", report::compare::render(&changes, a.markdown));
    if changes.regressed() { code::FAILED } else { code::OK }
}

fn limits(a: &LimitsArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    use crate::limits;
    let mut profiles = Vec::new();
    for name in &a.require {
        match limits::profile::load(name) {
            Ok(p) => profiles.push(p),
            Err(e) => {
                let _ = write!(err, "{e}");
                return code::INVALID;
            }
        }
    }
    let exe = std::env::current_exe().ok();
    let snapshot = limits::snapshot::take(exe.as_deref());
    let mut probes = Vec::new();
    if a.probe {
        let Some(exe) = &exe else {
            let _ = writeln!(err, "error: cannot find the harness binary to run the probes in");
            return code::BROKEN;
        };
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("__limits-probe");
        if a.allow_shared_namespace {
            cmd.arg("--allow-shared-namespace");
        }
        match cmd.output() {
            Ok(o) if o.status.success() => match serde_json::from_slice(&o.stdout) {
                Ok(p) => probes = p,
                Err(e) => {
                    let _ = writeln!(err, "error: the probe's output is not understood: {e}");
                    return code::BROKEN;
                }
            },
            Ok(o) => {
                let _ = writeln!(err, "error: the probe process failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr).trim());
                return code::BROKEN;
            }
            Err(e) => {
                let _ = writeln!(err, "error: cannot start the probe process: {e}");
                return code::BROKEN;
            }
        }
    }
    let shm_when_full = a.probe.then(|| limits::enforce::shm_outcome(&snapshot, &probes));
    let profiles = profiles.iter().map(|p| limits::check_profile(p, &snapshot)).collect();
    let report = limits::Report { snapshot, profiles, probes, shm_when_full };
    if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", limits::render(&report));
    }
    if report.ok() { code::OK } else { code::FAILED }
}

fn list(a: ListArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let plans = match load_selected(&a.select, err) {
        Ok(p) => p,
        Err(c) => return c,
    };
    if a.json {
        let rows: Vec<_> = plans.iter().map(|p| serde_json::json!({"name": p.name, "path": p.path, "case": p.case, "description": p.description, "tags": p.tags, "must_fail": p.must_fail.is_some(), "assertions": p.assertions()})).collect();
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
    } else {
        for p in &plans {
            let tags = if p.tags.is_empty() { String::new() } else { format!("  [{}]", p.tags.join(", ")) };
            let _ = writeln!(out, "{}{tags}\n    {}", p.name, p.description);
        }
    }
    code::OK
}

fn validate(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let srcs = match source::discover(paths) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return code::INVALID;
        }
    };
    let (plans, bad) = load(&srcs);
    for b in &bad {
        let _ = write!(err, "{}", b.render());
    }
    let _ = writeln!(out, "{} file(s): {} valid case(s), {} invalid file(s)", srcs.len(), plans.len(), bad.len());
    if bad.is_empty() { code::OK } else { code::INVALID }
}
