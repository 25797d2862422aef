//! `torture power --real FS`: real file systems as ground truth for the power-cut model. Every
//! real state is judged twice: against the writer's contract (a violation: exit 1) and against
//! the model (a state outside it is a model bug: exit 4, its own line and JSON field).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Args, ValueEnum};

use torture_core::oracle::Expect;
use torture_core::power::{Assume, Reach, TargetClass};
use torture_engine::campaign::real::{
    self, CrashPoints, RealFs, RealOptions, RealRun, RealState, RealSubject, RealTreeOptions,
};
use torture_engine::campaign::{self, Subject, named_only_builtins};
use torture_engine::report::OutputFormat;
use torture_engine::report::summary::{self, RunSummary, Stop, SubjectSummary};

use crate::cli::Common;
use crate::power::PowerArgs;

/// The options of `torture power` that only `--real` uses.
#[derive(Debug, Clone, Args)]
pub struct RealArgs {
    /// Run on real file systems instead of the simulation (root): ext4, ext4-noauto_da_alloc,
    /// xfs, btrfs, or all (comma-separated)
    #[arg(long, value_name = "FS,...", value_parser = fs_list)]
    pub real: Option<FsList>,

    /// With --real: more mount options for the original file system
    #[arg(long, value_name = "OPTS", requires = "real")]
    pub mount_options: Option<String>,

    /// With --real: a writer command, split at spaces, `{target}` replaced (repeatable)
    #[arg(long = "command", value_name = "CMD", requires = "real")]
    pub commands: Vec<String>,

    /// With --real: hold at most this many crash points per subject (seeded sample; default:
    /// every event)
    #[arg(long, value_name = "N", requires = "real")]
    pub sample: Option<usize>,

    /// With --real: only this crash point (`e7`; `eN` with N the event count: after exit)
    #[arg(long, value_name = "eK", value_parser = crash_point, requires = "real")]
    pub at: Option<usize>,

    /// With --real: after-exit copies stop this long after the writer exited
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    pub settle_ms: u64,

    /// With --real: write the Markdown table (subject × file system) here
    #[arg(long, value_name = "FILE", requires = "real")]
    pub markdown: Option<PathBuf>,

    /// With --real: the model checked against (a deliberately optimistic one shows the check works)
    #[arg(long, value_enum, default_value_t = AssumeArg::Linux, hide = true)]
    pub assume: AssumeArg,
}

/// `--assume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssumeArg {
    /// The file system's own model (`ext4`, `xfs`, `btrfs`)
    Linux,
    /// That model, but a rename is durable at once (too optimistic: for tests of the check)
    RenameDurable,
}

/// `--real`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsList(pub Vec<RealFs>);

fn fs_list(text: &str) -> Result<FsList, String> {
    if text.trim() == "all" {
        return Ok(FsList(RealFs::ALL.to_vec()));
    }
    let list: Result<Vec<RealFs>, String> = text.split(',').map(str::parse).collect();
    list.map(FsList)
}

fn crash_point(text: &str) -> Result<usize, String> {
    text.strip_prefix('e')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{text}` is not a crash point: write e<events>, e.g. e7"))
}

/// Payload of built-in subjects on real file systems: a few writes each, so runs stay short.
pub const DEFAULT_REAL_SIZE_BYTES: u64 = 8 * 1024;

/// A real crash point is the golden trace's event index replayed by running the writer again:
/// threads that interleave differently run to run reach another state at the same index, so a
/// concurrent writer's real states cannot be matched to its trace.
fn refuse_concurrent(name: &str) -> Result<(), String> {
    let concurrent = named_only_builtins().iter().any(|b| b.name == name);
    match concurrent {
        true => Err(format!(
            "`{name}` runs 16 threads whose order differs run to run, so a real crash point \
             cannot be matched to its trace; judge it with `torture power --subject {name}` (the \
             simulation)"
        )),
        false => Ok(()),
    }
}

/// The subjects: built-ins by name, commands, or every built-in. Every one must keep its
/// contract on a real disk (`Expect::Pass`).
fn subjects(common: &Common, real: &RealArgs) -> Result<Vec<Subject>, String> {
    refuse_simulation_only(common)?;
    let size = common.size.unwrap_or(DEFAULT_REAL_SIZE_BYTES);
    let mut subjects = Vec::new();
    for name in &common.subjects {
        let builtin = campaign::builtin(name)
            .ok_or_else(|| format!("unknown subject `{name}` (see `torture list`)"))?;
        refuse_concurrent(name)?;
        subjects.push(Subject::builtin(builtin, size));
    }
    let commands = real.commands.iter().map(|line| {
        line.split_whitespace()
            .map(OsString::from)
            .collect::<Vec<_>>()
    });
    let trailing = (!common.command.is_empty()).then(|| common.command.clone());
    for argv in commands.chain(trailing) {
        if argv.is_empty() {
            return Err("--command is empty".to_owned());
        }
        let mut subject = Subject::command(argv.clone(), Expect::Pass);
        subject.label = command_label(&argv);
        subjects.push(subject);
    }
    if subjects.is_empty() {
        let all = campaign::builtins().into_iter();
        subjects.extend(all.map(|builtin| Subject::builtin(builtin, size)));
    }
    for subject in &mut subjects {
        subject.expect = Expect::Pass;
    }
    Ok(subjects)
}

/// Shared options `--real` cannot honour are refused, never ignored.
fn refuse_simulation_only(common: &Common) -> Result<(), String> {
    torture_engine::sandbox::check_target_name(&common.target)?;
    let refused = [
        (
            common.validate != crate::cli::ValidateArg::Auto,
            "--validate",
        ),
        (
            common.expect == Some(crate::cli::ExpectArg::Caught),
            "--expect caught",
        ),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, option)) => Err(format!(
            "{option} is not supported with --real: real runs judge every state with the \
             built-in judge or --check, and every writer must pass"
        )),
        None => Ok(()),
    }
}

/// A command is called after its last argument that names a file (`plain_open.py`), else its
/// program.
fn command_label(argv: &[OsString]) -> String {
    argv.iter()
        .rev()
        .map(Path::new)
        .find(|path| path.is_file())
        .or_else(|| argv.first().map(Path::new))
        .and_then(Path::file_name)
        .map_or_else(
            || "command".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
}

fn options(
    args: &PowerArgs,
    seed: u64,
    fs: RealFs,
    kept: &Path,
    cancel: &Arc<AtomicBool>,
) -> RealOptions {
    let real = &args.real;
    let crash_points = match (real.at, real.sample) {
        (Some(events), _) => CrashPoints::One { events },
        (None, Some(count)) => CrashPoints::Sample { count },
        (None, None) => CrashPoints::All,
    };
    RealOptions {
        fs,
        mount_options: real.mount_options.clone(),
        crash_points,
        seed,
        settle_ms: real.settle_ms,
        scratch: args
            .common
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/shm")),
        keep_dir: kept.to_owned(),
        timeout_ms: args.common.timeout_ms,
        assume: match real.assume {
            AssumeArg::Linux => Assume::Model,
            AssumeArg::RenameDurable => Assume::RenamesDurableAtOnce,
        },
        max_states: args.max_states,
        cancel: cancel.clone(),
        tree: tree_options(&args.common),
    }
}

/// The options `--real` shares with the simulation.
fn tree_options(common: &Common) -> RealTreeOptions {
    RealTreeOptions {
        target: PathBuf::from(&common.target),
        ack_line: common.ack_line.as_ref().map(|r| r.as_str().to_owned()),
        check: common.check.clone(),
        setup: common.setup.clone(),
        recover: common.recover.clone(),
        initial_absent: common.initial == Some(crate::cli::InitialArg::Absent),
    }
}

/// `torture power --real FS`: every configuration, a report, one verdict.
pub fn run(args: &PowerArgs, fs_list: &FsList) -> ExitCode {
    let (subjects, cancel) = match prepare(args) {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let seed = args.common.seed.unwrap_or_else(crate::random_seed);
    let run_id = crate::run_id();
    let report_dir = match crate::report_dir_of(&args.common, &run_id) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let kept = report_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("torture-kept-{run_id}")));
    let format = args.common.output_format();
    if format == OutputFormat::Human {
        println!(
            "  Starting power cuts on real file systems: {} subjects, seed {seed}",
            subjects.len()
        );
    }
    let began = std::time::Instant::now();
    let options = |fs| options(args, seed, fs, &kept, &cancel);
    let (runs, mut failure) = run_all(&subjects, &fs_list.0, &options, format);
    if let (Some(path), None) = (&args.real.markdown, &failure) {
        if let Err(error) = std::fs::write(path, markdown(&runs)) {
            failure = Some(format!("cannot write {}: {error}", path.display()));
        }
    }
    let mut summary = run_summary(&runs, &run_id, seed, failure.is_some());
    summary.elapsed_ms = began.elapsed().as_millis() as u64;
    if let Some(message) = &failure {
        eprintln!("error: {message}");
    }
    if let Some(dir) = &report_dir {
        write_report(dir, &runs, &summary);
    }
    crate::finish(summary, format, report_dir.as_deref())
}

/// The subjects and the Ctrl-C flag, or the exit code of bad usage.
fn prepare(args: &PowerArgs) -> Result<(Vec<Subject>, Arc<AtomicBool>), ExitCode> {
    if args.jobs.jobs.is_some() {
        // One loop device and one held writer at a time: the snapshots time the disk.
        return Err(crate::harness_error(
            "--jobs is not supported with --real: real states are taken one at a time",
        ));
    }
    let subjects = subjects(&args.common, &args.real).map_err(|m| crate::harness_error(&m))?;
    Ok((subjects, crate::interrupt_flag()?))
}

/// Every configuration in turn, until Ctrl-C or a harness error (returned beside the runs so far).
fn run_all(
    subjects: &[Subject],
    configurations: &[RealFs],
    options: &dyn Fn(RealFs) -> RealOptions,
    format: OutputFormat,
) -> (Vec<RealRun>, Option<String>) {
    let mut runs = Vec::new();
    for &fs in configurations {
        let mut print = |label: &str, state: &RealState| print_state(format, fs, label, state);
        match real::run(subjects, &options(fs), &mut print) {
            Ok(run) => {
                if format == OutputFormat::Human {
                    print_summary(&run);
                }
                let interrupted = run.interrupted;
                runs.push(run);
                if interrupted {
                    break;
                }
            }
            Err(error) => return (runs, Some(format!("{fs}: {error}"))),
        }
    }
    (runs, None)
}

/// The verdict over every configuration: a harness error when one could not run.
fn run_summary(runs: &[RealRun], run_id: &str, seed: u64, failed: bool) -> RunSummary {
    let subjects: Vec<SubjectSummary> = runs
        .iter()
        .flat_map(|run| {
            run.subjects
                .iter()
                .map(|s| summary::real_subject(run.fs.name(), s))
        })
        .collect();
    let stop = match runs.iter().any(|run| run.interrupted) {
        true => Stop::Interrupted,
        false => Stop::Completed,
    };
    let mut summary = RunSummary::new("power --real", run_id, subjects, stop);
    summary.seed = Some(seed);
    match failed {
        true => summary.at_least(summary::Verdict::HarnessError),
        false => summary,
    }
}

/// `summary.md` (the verdict, each finding with its fix, the table), `results.jsonl` (a line per
/// real state), `junit.xml` and `summary.json`.
fn write_report(dir: &Path, runs: &[RealRun], summary: &RunSummary) {
    let written = std::fs::write(dir.join("summary.md"), report_markdown(runs, summary))
        .and_then(|()| std::fs::write(dir.join("results.jsonl"), state_lines(runs)))
        .and_then(|()| summary::junit(summary).map_err(std::io::Error::other))
        .and_then(|xml| std::fs::write(dir.join("junit.xml"), xml));
    if let Err(e) = written {
        eprintln!("warning: cannot write the report to {}: {e}", dir.display());
    }
}

fn report_markdown(runs: &[RealRun], summary: &RunSummary) -> String {
    let mut out = format!(
        "# torture power --real: run {}\n\n**{}**{}\n\n",
        summary.run_id,
        summary.verdict.name().to_uppercase(),
        match summary.interrupted {
            true => " (INTERRUPTED: partial)",
            false => "",
        }
    );
    for s in summary
        .subjects
        .iter()
        .filter(|s| s.violations > 0 || s.model_bugs > 0)
    {
        let _ = writeln!(out, "## `{}` on {}\n", s.subject, s.crash_kind);
        if s.model_bugs > 0 {
            let _ = writeln!(
                out,
                "- MODEL BUG: {} real states outside the model (copies kept beside this file)",
                s.model_bugs
            );
        }
        if let Some(diagnosis) = &s.diagnosis {
            let _ = writeln!(
                out,
                "- {} violating real states; first: {diagnosis}",
                s.violations
            );
        }
        if let Some(fix) = &s.fix {
            let _ = writeln!(out, "- Fix: {fix}.");
        }
        out.push('\n');
    }
    out.push_str(&markdown(runs));
    out
}

fn state_lines(runs: &[RealRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for subject in &run.subjects {
            for state in &subject.states {
                let line = serde_json::json!({
                    "fs": run.fs.name(), "subject": subject.label, "point": state.point.to_string(),
                    "target": state.class.name(), "violation": state.violation.map(|v| v.name()),
                    "reach": reach_name(&state.reach), "model_bug": state.model_bug.is_some(),
                    "reason": state.reason,
                    "replay": state.model_bug.as_ref().map(|b| b.replay.clone()),
                });
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

fn violation_name(state: &RealState) -> &'static str {
    use torture_core::power::PowerViolation;
    match state.violation {
        None => "ok",
        Some(PowerViolation::Torn) => "TORN",
        Some(PowerViolation::OldLost) => "OLD-LOST",
        Some(PowerViolation::AckedLost) => "ACK-LOST",
        Some(PowerViolation::CheckFailed) => "CHECK-FAILED",
    }
}

fn reach_name(reach: &Reach) -> String {
    match reach {
        Reach::Inside { state } => format!("in {state}"),
        Reach::Outside => "OUTSIDE".to_owned(),
        Reach::Unknown { state_space } => format!("unknown ({state_space} states)"),
    }
}

/// One fixed-width line per real state; a model bug gets its tree, files and replay line (in
/// JSON output, the summary says it all).
fn print_state(format: OutputFormat, fs: RealFs, label: &str, state: &RealState) {
    if format == OutputFormat::Json {
        return;
    }
    println!(
        "{:<20} {:<18} {:<14} {:<6} {:<8} {}",
        fs.name(),
        label,
        state.point.to_string(),
        state.class.name(),
        violation_name(state),
        reach_name(&state.reach)
    );
    if let Some(reason) = &state.reason {
        println!("  the checker said {reason:?}");
    }
    if let Some(bug) = &state.model_bug {
        println!(
            "MODEL BUG: {fs} {label} at {}: the disk held {} — no state the model allows at e{} leaves it",
            state.point,
            bug.tree,
            state.point.events()
        );
        println!(
            "  kept: {} and {}",
            bug.snapshot.display(),
            bug.trace.display()
        );
    }
}

/// The file system's model's rules the real states leaned on (the rule text of its table), each
/// once.
fn rules_exercised(run: &RealRun) -> Vec<&'static str> {
    let mut seen: Vec<torture_core::power::RuleId> = Vec::new();
    for rule in run.subjects.iter().flat_map(|s| s.coverage.rules.iter()) {
        if !seen.contains(rule) {
            seen.push(*rule);
        }
    }
    run.fs
        .model()
        .rules()
        .iter()
        .filter(|rule| seen.contains(&rule.id))
        .map(|rule| rule.text)
        .collect()
}

fn print_summary(run: &RealRun) {
    for subject in &run.subjects {
        for state in subject.model_bugs() {
            if let Some(bug) = &state.model_bug {
                println!("  replay: {}", bug.replay);
            }
        }
        let judged = summary::real_subject(run.fs.name(), subject);
        if let (Some(diagnosis), Some(fix)) = (&judged.diagnosis, &judged.fix) {
            println!(
                "{}: {}: {} violating real states, first {diagnosis}\n  Fix: {fix}.",
                run.fs, subject.label, judged.violations
            );
        }
    }
    let bugs: usize = run.subjects.iter().map(|s| s.model_bugs().count()).sum();
    let t = run.timing;
    // The settle waits are idle time by design: the rate is of the work.
    let busy_ms = t.total_ms.saturating_sub(t.settle_ms).max(1);
    let per_second = run.states as f64 * 1000.0 / busy_ms as f64;
    println!(
        "{}: {}, {} real states, {} outside the model; {per_second:.1} states/s \
         excluding settle waits (setup {} ms, seed {} ms, runs {} ms, copy {} ms, mount+read {} ms, model {} ms, settle {} ms, total {} ms)",
        run.fs,
        torture_core::words::count_of(run.subjects.len() as u64, "subject", "subjects"),
        run.states,
        bugs,
        t.setup_ms,
        t.seed_ms,
        t.runs_ms,
        t.copy_ms,
        t.mount_ms,
        t.model_ms,
        t.settle_ms,
        t.total_ms
    );
    let rules = rules_exercised(run);
    println!(
        "{}: {} of the {} model exercised by real states:",
        run.fs,
        torture_core::words::count_of(rules.len() as u64, "rule", "rules"),
        run.fs.model()
    );
    for rule in rules {
        println!("  - {rule}");
    }
}

/// The README table: a row per subject, a column per configuration.
pub fn markdown(runs: &[RealRun]) -> String {
    let mut out = String::from("| subject |");
    for run in runs {
        let _ = write!(out, " {} |", run.fs);
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(runs.len()));
    out.push('\n');
    let labels: Vec<&str> = runs
        .first()
        .map(|run| run.subjects.iter().map(|s| s.label.as_str()).collect())
        .unwrap_or_default();
    for label in labels {
        let _ = write!(out, "| {label} |");
        for run in runs {
            let cell = run
                .subjects
                .iter()
                .find(|s| s.label == label)
                .map_or_else(|| "—".to_owned(), cell);
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// `real: old after ack (e9+0ms); model: FAIL; 9/23 seen; held ✓`.
fn cell(subject: &RealSubject) -> String {
    let real = match subject.first_violation() {
        Some(state) => format!(
            "{} {} at {} ({})",
            state.class.name(),
            violation_words(state),
            state.point,
            classes_seen(subject)
        ),
        None => format!("pass ({})", classes_seen(subject)),
    };
    let model = match subject.model.violating_states {
        0 => "pass".to_owned(),
        n => format!("FAIL ({n})"),
    };
    let bugs = subject.model_bugs().count();
    let held = match (bugs, subject.coverage.incomplete_points) {
        (0, 0) => "held".to_owned(),
        (0, n) => format!("held ({n} points unchecked)"),
        (n, _) => format!("**BROKEN ({n})**"),
    };
    format!(
        "real: {real}; model: {model}{}; {}/{} seen; {held}",
        kinder(subject),
        subject.coverage.seen_distinct,
        subject.coverage.model_distinct
    )
}

/// Where the file system was kinder than the model: outcomes the simulation shows that no real
/// state showed (timing luck or a heuristic such as `auto_da_alloc`, not a promise).
fn kinder(subject: &RealSubject) -> String {
    let missing: Vec<&str> = [TargetClass::Absent, TargetClass::Torn]
        .into_iter()
        .filter(|class| subject.model.classes.contains(class))
        .filter(|class| !subject.states.iter().any(|s| s.class == *class))
        .map(TargetClass::name)
        .collect();
    match missing.is_empty() {
        true => String::new(),
        false => format!(" (kinder: model {}, real never)", missing.join("/")),
    }
}

fn violation_words(state: &RealState) -> &'static str {
    use torture_core::power::PowerViolation;
    match state.violation {
        None => "",
        Some(PowerViolation::Torn) => "(torn)",
        Some(PowerViolation::OldLost) => "(old lost)",
        Some(PowerViolation::AckedLost) => "after ack",
        Some(PowerViolation::CheckFailed) => "(check failed)",
    }
}

/// The distinct target classes seen for real, before and after the acknowledgement:
/// `old,new | new`.
fn classes_seen(subject: &RealSubject) -> String {
    let side = |after: bool| {
        let mut names: Vec<&str> = Vec::new();
        for class in [
            TargetClass::Absent,
            TargetClass::Old,
            TargetClass::New,
            TargetClass::Torn,
        ] {
            let seen = subject
                .states
                .iter()
                .any(|s| s.point.after_ack() == after && s.class == class);
            if seen {
                names.push(class.name());
            }
        }
        names.join(",")
    };
    format!("{} \\| {}", side(false), side(true))
}
