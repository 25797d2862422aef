//! `torture power --real FS` (also spelled `torture power-real --fs FS`): real file systems as
//! ground truth for the power-loss model (issue 9).

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
    self, CrashPoints, RealFs, RealOptions, RealRun, RealState, RealSubject,
};
use torture_engine::campaign::{self, Subject};

const AFTER_HELP: &str = "\
Needs root (loop devices, mount). Without root use `torture power`, the simulation.
Each crash point runs the writer once, held before that event while the image is copied; after \
the writer exits the image is copied at +0 ms and at doubling intervals up to --settle-ms.
Exit codes: 0 every real state lies inside the `linux` model; 1 a real state outside it (a model \
bug: the copy and trace are kept, a replay line is printed); 2 bad usage or a harness error (not \
root, a tool missing); 130 interrupted.";

/// Options of `torture power-real`.
#[derive(Debug, Clone, Args)]
#[command(after_help = AFTER_HELP)]
pub struct PowerRealArgs {
    /// File systems: ext4, ext4-noauto_da_alloc, xfs, btrfs, or all (comma-separated)
    #[arg(long, value_name = "FS,...", default_value = "ext4", value_parser = fs_list)]
    pub fs: FsList,

    /// More mount options for the original file system
    #[arg(long, value_name = "OPTS")]
    pub mount_options: Option<String>,

    /// Built-in subject (repeatable; default: every built-in unless commands are given)
    #[arg(long = "subject", value_name = "NAME")]
    pub subjects: Vec<String>,

    /// A writer command, split at spaces, `{target}` replaced (repeatable)
    #[arg(long = "command", value_name = "CMD")]
    pub commands: Vec<String>,

    /// Payload of the built-in subjects
    #[arg(long, value_name = "BYTES", default_value = "8KiB", value_parser = torture_core::size::parse_size_bytes)]
    pub size: u64,

    /// Hold at most this many crash points per subject (seeded sample; default: every event)
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,

    /// Only this crash point (`e7`; `eN` with N the event count: after exit), for replays
    #[arg(long, value_name = "eK", value_parser = crash_point)]
    pub at: Option<usize>,

    /// Seed of the sample
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// After-exit copies stop this long after the writer exited
    #[arg(long, value_name = "MS", default_value_t = 6000)]
    pub settle_ms: u64,

    /// Per writer run
    #[arg(long, value_name = "MS", default_value_t = campaign::DEFAULT_TIMEOUT_MS)]
    pub timeout_ms: u64,

    /// Where images and copies go (tmpfs keeps copies fast)
    #[arg(long, value_name = "DIR", default_value = "/dev/shm")]
    pub scratch: PathBuf,

    /// Where the copy and trace of a state outside the model are kept
    #[arg(long, value_name = "DIR", default_value = "reports/power-real")]
    pub keep_dir: PathBuf,

    /// Model states built per crash point at most (beyond: "unknown")
    #[arg(long, value_name = "N", default_value_t = 1 << 16)]
    pub max_states: u64,

    /// Write the Markdown table (subject × file system) here
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,

    /// The model checked against (a deliberately optimistic one shows the check works)
    #[arg(long, value_enum, default_value_t = AssumeArg::Linux, hide = true)]
    pub assume: AssumeArg,

    /// A writer command, `{target}` replaced (after `--`)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `--assume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssumeArg {
    /// The `linux` model
    Linux,
    /// `linux`, but a rename is durable at once (too optimistic: for tests of the check)
    RenameDurable,
}

/// `--fs`.
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

/// The subjects: built-ins by name, commands, or every built-in.
fn subjects(args: &PowerRealArgs) -> Result<Vec<Subject>, String> {
    let mut subjects = Vec::new();
    for name in &args.subjects {
        let builtin = campaign::builtin(name)
            .ok_or_else(|| format!("unknown subject `{name}` (see `torture list`)"))?;
        subjects.push(Subject::builtin(builtin, args.size));
    }
    let commands = args.commands.iter().map(|line| {
        line.split_whitespace()
            .map(OsString::from)
            .collect::<Vec<_>>()
    });
    let trailing = (!args.command.is_empty()).then(|| args.command.clone());
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
        subjects.extend(all.map(|builtin| Subject::builtin(builtin, args.size)));
    }
    Ok(subjects)
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

fn options(args: &PowerRealArgs, fs: RealFs, cancel: &Arc<AtomicBool>) -> RealOptions {
    let crash_points = match (args.at, args.sample) {
        (Some(events), _) => CrashPoints::One { events },
        (None, Some(count)) => CrashPoints::Sample { count },
        (None, None) => CrashPoints::All,
    };
    RealOptions {
        fs,
        mount_options: args.mount_options.clone(),
        crash_points,
        seed: args.seed,
        settle_ms: args.settle_ms,
        scratch: args.scratch.clone(),
        keep_dir: args.keep_dir.clone(),
        timeout_ms: args.timeout_ms,
        assume: match args.assume {
            AssumeArg::Linux => Assume::Model,
            AssumeArg::RenameDurable => Assume::RenamesDurableAtOnce,
        },
        max_states: args.max_states,
        cancel: cancel.clone(),
    }
}

/// Runs every configuration; exit 1 on a model bug, 2 on errors, 130 when interrupted.
pub fn run(args: &PowerRealArgs, cancel: &Arc<AtomicBool>) -> ExitCode {
    let subjects = match subjects(args) {
        Ok(subjects) => subjects,
        Err(message) => return harness_error(&message),
    };
    let mut runs = Vec::new();
    for &fs in &args.fs.0 {
        let mut print = |label: &str, state: &RealState| print_state(fs, label, state);
        match real::run(&subjects, &options(args, fs, cancel), &mut print) {
            Ok(run) => {
                print_summary(&run);
                let interrupted = run.interrupted;
                runs.push(run);
                if interrupted {
                    return ExitCode::from(130);
                }
            }
            Err(error) => return harness_error(&format!("{fs}: {error}")),
        }
    }
    if let Some(path) = &args.markdown {
        if let Err(error) = std::fs::write(path, markdown(&runs)) {
            return harness_error(&format!("cannot write {}: {error}", path.display()));
        }
    }
    let bugs = runs
        .iter()
        .flat_map(|run| &run.subjects)
        .any(|s| s.model_bugs().next().is_some());
    ExitCode::from(u8::from(bugs))
}

fn harness_error(message: &str) -> ExitCode {
    eprintln!("torture: {message}");
    ExitCode::from(2)
}

fn violation_name(state: &RealState) -> &'static str {
    use torture_core::power::PowerViolation;
    match state.violation {
        None => "ok",
        Some(PowerViolation::Torn) => "TORN",
        Some(PowerViolation::OldLost) => "OLD-LOST",
        Some(PowerViolation::AckedLost) => "ACK-LOST",
    }
}

fn reach_name(reach: &Reach) -> String {
    match reach {
        Reach::Inside { state } => format!("in {state}"),
        Reach::Outside => "OUTSIDE".to_owned(),
        Reach::Unknown { state_space } => format!("unknown ({state_space} states)"),
    }
}

/// One fixed-width line per real state; a model bug gets its tree, files and replay line.
fn print_state(fs: RealFs, label: &str, state: &RealState) {
    println!(
        "{:<20} {:<18} {:<14} {:<6} {:<8} {}",
        fs.name(),
        label,
        state.point.to_string(),
        state.class.name(),
        violation_name(state),
        reach_name(&state.reach)
    );
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

/// The `linux` rules the real states leaned on (the rule text of the model's table), each once.
fn rules_exercised(run: &RealRun) -> Vec<&'static str> {
    let mut seen: Vec<torture_core::power::RuleId> = Vec::new();
    for rule in run.subjects.iter().flat_map(|s| s.coverage.rules.iter()) {
        if !seen.contains(rule) {
            seen.push(*rule);
        }
    }
    torture_core::power::Model::Linux
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
        "{}: {} of the linux model exercised by real states:",
        run.fs,
        torture_core::words::count_of(rules.len() as u64, "rule", "rules")
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
