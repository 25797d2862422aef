//! `torture race`: several instances of a writer at once on one target, interleaved one traced
//! syscall at a time. The options, and the loop over subjects; the engine does the rest
//! (`torture_engine::campaign::race`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::Args;

use torture_core::race::schedule::Schedule;
use torture_engine::campaign::race::{self, RaceResult, RaceSettings};
use torture_engine::campaign::{self, Subject};
use torture_engine::oracle::Expect;
use torture_engine::report;
use torture_engine::sandbox::{self, RunRoot};
use torture_writers::strategies::Strategy;

use crate::cli::{ExpectArg, InitialArg};

/// Payload size of built-in subjects in a race: a few writes each, so schedules stay short.
pub const DEFAULT_RACE_SIZE_BYTES: u64 = 8 * 1024;

pub const RACE_AFTER_HELP: &str = "Each writer instance i (from 1) gets TORTURE_WRITER=i and \
TORTURE_GENERATION=i+1; the target starts as generation 1's output (--initial old). After every step \
the target must be absent, the old version or one writer's complete version; at the end it must be \
the version of a writer that succeeded (no-clobber: exactly one winner, the others fail and leave \
nothing), and one more clean run must leave its own version.

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a \
harness error; 130 interrupted.

Examples:
  torture race                                          # every built-in subject
  torture race --subject fixed-temp --writers 2
  torture race --writers 3 --schedules 50 -- python3 writer.py {target}
  torture race --subject fixed-temp --seed 1 --schedule 1x3.2x5.1   # replay one interleaving";

/// Options of `torture race`.
#[derive(Debug, Clone, Args)]
pub struct RaceArgs {
    /// Built-in subject to race (repeatable) [default: all, unless a command is given]
    #[arg(long = "subject", value_name = "NAME", value_parser = race_subject)]
    pub subjects: Vec<String>,

    /// Writer instances racing on one target
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub writers: u32,

    /// Random-walk schedules per subject, and as many PCT schedules
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub schedules: u64,

    /// For small writers, also every schedule with at most K preemptions
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub preemptions: u32,

    /// PCT's bug depth
    #[arg(long, value_name = "D", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pct_depth: u32,

    /// Seed of every search [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// SIGKILL one writer at a sampled step of each schedule
    #[arg(long)]
    pub kill: bool,

    /// Replay one interleaving, e.g. 1x3.2x2.1 or 1x3.2x2-k2@5
    #[arg(long, value_name = "ID", value_parser = schedule_id)]
    pub schedule: Option<Schedule>,

    /// Files left besides the target are a failure
    #[arg(long)]
    pub strict: bool,

    /// The command must never replace an existing target: one winner, the others fail
    #[arg(long)]
    pub no_clobber: bool,

    /// What is at the target before the race
    #[arg(long, value_enum, default_value_t = InitialArg::Old)]
    pub initial: InitialArg,

    /// Payload size of built-in subjects, e.g. 2048, 8KiB [default: 8KiB]
    #[arg(long, value_name = "BYTES", value_parser = torture_core::size::parse_size_bytes)]
    pub size: Option<u64>,

    /// Target file name, relative to each sandbox
    #[arg(long, value_name = "NAME", default_value = campaign::DEFAULT_TARGET)]
    pub target: String,

    /// Per-writer timeout
    #[arg(long, value_name = "MS", default_value_t = campaign::DEFAULT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// What the command after `--` must do [default: pass]
    #[arg(long, value_enum, value_name = "EXPECT")]
    pub expect: Option<ExpectArg>,

    /// Directory for the sandboxes [default: $TMPDIR, else /dev/shm, else /tmp]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Where run reports go (a directory per run)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub report_dir: PathBuf,

    /// Write no report files
    #[arg(long)]
    pub no_report: bool,

    /// The writer to race instead of the built-ins; `{target}` is replaced by the target's path
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn race_subject(name: &str) -> Result<String, String> {
    name.parse::<Strategy>()
        .map(|s| s.name().to_owned())
        .map_err(|e| e.to_string())
}

fn schedule_id(id: &str) -> Result<Schedule, String> {
    id.parse::<Schedule>().map_err(|e| e.to_string())
}

impl RaceArgs {
    fn settings(&self, seed: u64) -> Result<RaceSettings, String> {
        Ok(RaceSettings {
            writers: self.writers,
            schedules: self.schedules,
            preemptions: self.preemptions,
            pct_depth: self.pct_depth,
            seed,
            kill: self.kill,
            replay: self.schedule.clone(),
            strict: self.strict,
            no_clobber: self.no_clobber,
            initial_old: self.initial == InitialArg::Old,
            target: sandbox::check_target_name(&self.target)?,
            timeout_ms: self.timeout_ms,
        })
    }

    fn subjects(&self) -> Result<Vec<Subject>, String> {
        let size_bytes = self.size.unwrap_or(DEFAULT_RACE_SIZE_BYTES);
        if !self.command.is_empty() {
            if !self.subjects.is_empty() || self.size.is_some() {
                return Err(
                    "--subject and --size are for built-in subjects, not a command after `--`"
                        .to_owned(),
                );
            }
            let expect = match self.expect.unwrap_or(ExpectArg::Pass) {
                ExpectArg::Pass => Expect::Pass,
                ExpectArg::Caught => Expect::Caught,
            };
            return Ok(vec![Subject::command(self.command.clone(), expect)]);
        }
        if self.expect.is_some() || self.no_clobber {
            return Err(
                "--expect and --no-clobber are for a command after `--`; built-ins know theirs"
                    .to_owned(),
            );
        }
        let all = race::builtin_subjects(size_bytes);
        if self.subjects.is_empty() {
            return Ok(all);
        }
        Ok(all
            .into_iter()
            .filter(|s| self.subjects.contains(&s.name))
            .collect())
    }
}

/// `torture race`.
pub fn run(args: &RaceArgs) -> ExitCode {
    let seed = args.seed.unwrap_or_else(crate::random_seed);
    let prepared = args.settings(seed).and_then(|s| Ok((s, args.subjects()?)));
    let (settings, subjects) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return crate::harness_error(&message),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    if let Err(e) = crate::install_interrupt_handler(&cancel) {
        return crate::harness_error(&format!("cannot install the Ctrl-C handler: {e}"));
    }
    let run_id = crate::run_id();
    let dir = args.dir.clone().unwrap_or_else(sandbox::default_dir);
    let root = match RunRoot::create(&dir, &run_id) {
        Ok(root) => root,
        Err(e) => return crate::harness_error(&e.to_string()),
    };
    println!(
        "torture race: {} subjects, {} writers each, seed {seed}",
        subjects.len(),
        settings.writers
    );
    let began = Instant::now();
    let mut results = Vec::new();
    for subject in &subjects {
        match race::run_subject(subject, &settings, &root, cancel.clone()) {
            Ok(result) => {
                print_result(&result);
                results.push(result);
            }
            Err(e) => return crate::harness_error(&e.to_string()),
        }
        if cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    let elapsed = began.elapsed();
    println!("{}", report::race::summary_line(&results, elapsed));
    if let Some(code) = write_reports(args, &run_id, &results, &settings, elapsed) {
        return code;
    }
    exit_code(&results, cancel.load(Ordering::Relaxed))
}

fn print_result(result: &RaceResult) {
    println!("{}", report::race::status_line(result));
    for line in report::race::finding_lines(result) {
        println!("{line}");
    }
}

/// Writes the report files; `Some(exit code)` when that failed.
fn write_reports(
    args: &RaceArgs,
    run_id: &str,
    results: &[RaceResult],
    settings: &RaceSettings,
    elapsed: std::time::Duration,
) -> Option<ExitCode> {
    if args.no_report {
        return None;
    }
    let written = report::prepare_dir(&args.report_dir, run_id)
        .and_then(|dir| report::race::write_files(&dir, results, settings, elapsed).map(|()| dir));
    match written {
        Ok(dir) => {
            println!("report: {}", dir.join("summary.md").display());
            None
        }
        Err(e) => Some(crate::harness_error(&format!(
            "cannot write the race report under {}: {e}",
            args.report_dir.display()
        ))),
    }
}

fn exit_code(results: &[RaceResult], interrupted: bool) -> ExitCode {
    if interrupted {
        eprintln!("torture race: interrupted; sandboxes removed, partial report written");
        return ExitCode::from(crate::EXIT_INTERRUPTED);
    }
    let mut ok = true;
    for result in results.iter().filter(|r| !r.status.as_expected()) {
        ok = false;
        if result.expect == Expect::Caught {
            eprintln!(
                "error: {}: race canary not caught: the harness itself has failed",
                result.label
            );
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_VIOLATION)
    }
}
