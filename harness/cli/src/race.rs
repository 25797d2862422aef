//! `torture race`: several instances of a writer at once on one target, interleaved one traced
//! syscall at a time. The options, and the loop over subjects; the engine does the rest
//! (`torture_engine::campaign::race`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::Args;

use torture_core::race::schedule::Schedule;
use torture_engine::campaign::Subject;
use torture_engine::campaign::race::{self, RaceResult, RaceSettings};
use torture_engine::report::summary::{self, RunSummary, Stop, Verdict};
use torture_engine::report::{self, OutputFormat};
use torture_engine::sandbox::{self, RunRoot};
use torture_writers::strategies::Strategy;

use crate::cli::{Common, InitialArg, Jobs, Shard, ValidateArg};

/// Payload size of built-in subjects in a race: a few writes each, so schedules stay short.
pub const DEFAULT_RACE_SIZE_BYTES: u64 = 8 * 1024;

pub const RACE_AFTER_HELP: &str = "Each writer instance i (from 1) gets TORTURE_WRITER=i and \
TORTURE_GENERATION=i+1; the target starts as generation 1's output (--initial old), or every run starts \
from the tree --setup CMD prepared (its target, if any, is the old version). After every step \
the target must be absent, the old version or one writer's complete version; at the end it must be \
the version of a writer that succeeded (no-clobber: exactly one winner, the others fail and leave \
nothing), and one more clean run must leave its own version. With --check CMD the whole sandbox \
tree is also judged after every step, at the end and after the clean run (distinct trees once).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a \
harness error; 130 interrupted, with a partial report whose JUnit is marked failed.

Examples:
  torture race                                          # every built-in subject
  torture race --subject fixed-temp --writers 2
  torture race --writers 3 --schedules 50 -- python3 harness/writers/write_report_atomic.py {target}
  torture race --subject fixed-temp --seed 1 --schedule 1x2.3.2x4.1x2.3x3   # replay one interleaving
  torture race --writers 2 --seed 1 --check \"python3 $PWD/harness/cli/tests/it/writers/race_index_check.py {dir}\" \
-- python3 harness/cli/tests/it/writers/race_index.py {target} fixed   # exit 1: a torn index beside the target";

/// Options of `torture race`.
#[derive(Debug, Clone, Args)]
pub struct RaceArgs {
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

    #[command(flatten)]
    pub shard: Shard,

    #[command(flatten)]
    pub jobs: Jobs,

    #[command(flatten)]
    pub common: Common,
}

fn schedule_id(id: &str) -> Result<Schedule, String> {
    id.parse::<Schedule>().map_err(|e| e.to_string())
}

/// The first shared option `torture race` cannot honour, with its reason: refused, never
/// ignored.
fn refused_for_race(c: &Common) -> Result<Option<String>, String> {
    let refusals = [
        (
            c.ack_line.is_some(),
            "--ack-line is not supported by race: it judges each read of the target against the \
             versions the writers wrote; a racing writer acknowledges by its exit",
        ),
        (
            c.validate != ValidateArg::Auto,
            "--validate is not supported by race: it judges each read against the versions \
             the writers wrote, byte for byte (judge the whole tree with --check CMD)",
        ),
        (
            c.recover.is_some(),
            "--recover is not supported by race: the clean run after each interleaving is \
             its recovery (judge the whole tree with --check CMD)",
        ),
        (
            c.save_trace.is_some(),
            "--save-trace: race records no golden trace (each schedule is traced anew); save \
             one with kill, power or errors",
        ),
        (
            c.unit()?.is_unit(),
            "race judges one target: several --target, a glob or --marker are not supported by \
             race (its own judge reads the one target against the versions the racing writers \
             wrote; judge several files together with --check CMD, which sees the whole tree \
             after every step)",
        ),
    ];
    Ok(refusals
        .into_iter()
        .find(|(refused, _)| *refused)
        .map(|(_, reason)| reason.to_owned()))
}

impl RaceArgs {
    fn settings(&self, seed: u64) -> Result<RaceSettings, String> {
        let c = &self.common;
        if let Some(refused) = refused_for_race(c)? {
            return Err(refused);
        }
        if self.shard.partition.is_some() && self.schedule.is_some() {
            return Err(
                "--partition splits the searches; --schedule replays one interleaving".to_owned(),
            );
        }
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
            initial_old: c.initial != Some(InitialArg::Absent),
            setup: c.setup.clone(),
            target: c.target()?,
            timeout_ms: c.timeout_ms,
            partition: self.shard.partition,
            check: c.check.clone(),
            check_jobs: self
                .jobs
                .jobs
                .map_or_else(crate::cli::default_jobs, |n| n as usize),
        })
    }

    fn subjects(&self) -> Result<Vec<Subject>, String> {
        let c = &self.common;
        if !c.command.is_empty() {
            return c.subjects(DEFAULT_RACE_SIZE_BYTES);
        }
        if c.expect.is_some() || self.no_clobber {
            return Err(
                "--expect and --no-clobber are for a command after `--`; built-ins know theirs"
                    .to_owned(),
            );
        }
        for name in &c.subjects {
            name.parse::<Strategy>()
                .map_err(|e| format!("{e}: only built-in strategies race (see `torture list`)"))?;
        }
        let all = race::builtin_subjects(c.size.unwrap_or(DEFAULT_RACE_SIZE_BYTES));
        Ok(all
            .into_iter()
            .filter(|s| c.subjects.is_empty() || c.subjects.contains(&s.name))
            .collect())
    }
}

/// `torture race`.
pub fn run(args: &RaceArgs) -> ExitCode {
    let seed = args.common.seed.unwrap_or_else(crate::random_seed);
    let prepared = args.settings(seed).and_then(|s| Ok((s, args.subjects()?)));
    let (settings, subjects) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return crate::harness_error(&message),
    };
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let run_id = crate::run_id();
    let dir = args.common.dir.clone().unwrap_or_else(sandbox::default_dir);
    let root = match RunRoot::create(&dir, &run_id) {
        Ok(root) => root,
        Err(e) => return crate::harness_error(&e.to_string()),
    };
    let format = args.common.output_format();
    if format == OutputFormat::Human {
        println!(
            "torture race: {} subjects, {} writers each, seed {seed}",
            subjects.len(),
            settings.writers
        );
    }
    let began = Instant::now();
    let jobs = args
        .jobs
        .jobs
        .map_or_else(crate::cli::default_jobs, |n| n as usize);
    let (results, failure) = race_all(&subjects, &settings, (&root, jobs), &cancel, format);
    let elapsed = began.elapsed();
    if format == OutputFormat::Human {
        println!("{}", report::race::summary_line(&results, elapsed));
    }
    let mut summary = race_summary(&results, &run_id, seed, &cancel, failure);
    summary.partition = settings.partition.map(|p| p.to_string());
    summary.elapsed_ms = elapsed.as_millis() as u64;
    let report_dir = match write_reports(args, &run_id, &results, &settings, elapsed, format) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    crate::finish(summary, format, report_dir.as_deref())
}

/// Races the subjects on `--jobs` threads until the end, Ctrl-C or a harness error (returned
/// beside the results so far, which still get their report).
fn race_all(
    subjects: &[Subject],
    settings: &RaceSettings,
    (root, jobs): (&RunRoot, usize),
    cancel: &Arc<AtomicBool>,
    format: OutputFormat,
) -> (Vec<RaceResult>, Option<String>) {
    let failed = AtomicBool::new(false);
    let stop = || cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
    let race_one = |at: usize| {
        let subject = &subjects[at];
        if format == OutputFormat::Human {
            println!(
                "  [{}/{}] racing {} ...",
                at + 1,
                subjects.len(),
                subject.label
            );
        }
        let result = race::run_subject(subject, settings, root, cancel.clone());
        match &result {
            Ok(result) => print_result(result, settings, format),
            Err(_) => failed.store(true, Ordering::Relaxed),
        }
        result.map_err(|e| format!("{}: {e}", subject.label))
    };
    let mut results = Vec::new();
    let mut failure = None;
    for result in crate::in_parallel(subjects.len(), jobs, &stop, &race_one) {
        match result {
            Ok(result) => results.push(result),
            Err(message) => failure = failure.or(Some(message)),
        }
    }
    (results, failure)
}

fn race_summary(
    results: &[RaceResult],
    run_id: &str,
    seed: u64,
    cancel: &AtomicBool,
    failure: Option<String>,
) -> RunSummary {
    let stop = match cancel.load(Ordering::Relaxed) {
        true => Stop::Interrupted,
        false => Stop::Completed,
    };
    let subjects = results.iter().map(summary::race_subject).collect();
    let mut summary = RunSummary::new("race", run_id, subjects, stop);
    summary.seed = Some(seed);
    match failure {
        Some(message) => {
            eprintln!("error: {message}");
            summary.at_least(Verdict::HarnessError)
        }
        None => summary,
    }
}

/// A subject's lines, in one write (workers print as they finish).
fn print_result(result: &RaceResult, settings: &RaceSettings, format: OutputFormat) {
    let text = match format {
        OutputFormat::Human => {
            let mut lines = vec![report::race::status_line(result)];
            lines.extend(report::race::finding_lines(result));
            lines.join("\n") + "\n"
        }
        OutputFormat::Json => report::race::jsonl(std::slice::from_ref(result), settings),
    };
    print!("{text}");
}

/// Writes the report files; the report directory, or the exit code when that failed.
fn write_reports(
    args: &RaceArgs,
    run_id: &str,
    results: &[RaceResult],
    settings: &RaceSettings,
    elapsed: std::time::Duration,
    format: OutputFormat,
) -> Result<Option<PathBuf>, ExitCode> {
    let Some(dir) = crate::report_dir_of(&args.common, run_id)? else {
        return Ok(None);
    };
    match report::race::write_files(&dir, results, settings, elapsed) {
        Ok(()) => {
            if format == OutputFormat::Human {
                println!("report: {}", dir.join("summary.md").display());
            }
            Ok(Some(dir))
        }
        Err(e) => Err(crate::harness_error(&format!(
            "cannot write the race report under {}: {e}",
            args.common.report_dir.display()
        ))),
    }
}
