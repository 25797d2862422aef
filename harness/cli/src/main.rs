//! `torture`: a thin CLI over the `torture_engine` engine. See `torture --help`.
#![forbid(unsafe_code)]

mod cli;
mod errors;
mod main_job;
mod power;
mod race;
mod real;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;

use cli::{Cli, Command, KillArgs, MergeArgs};
use torture_core::oracle::CrashKind;
use torture_core::rng::SplitMix64;
use torture_engine::campaign::{self, Origin, RunContext, RunEnd};
use torture_engine::oracle::SubjectStatus;
use torture_engine::report::{self, Reporter};

/// `torture power --real FS ...` is `torture power-real --fs FS ...`: real file systems are the
/// power-cut simulation checked against ground truth, so they are spelled as an option of it,
/// while their own flags (`--settle-ms`, `--sample`, ...) live with the real runner.
fn real_as_power_real(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let is_power = argv.get(1).is_some_and(|a| a == "power");
    if let Some(at) = argv[..end].iter().position(|a| a == "--real")
        && is_power
    {
        argv[1] = "power-real".into();
        argv[at] = "--fs".into();
    }
    argv
}

/// Exit codes.
pub(crate) const EXIT_VIOLATION: u8 = 1;
const EXIT_HARNESS: u8 = 2;
pub(crate) const EXIT_INTERRUPTED: u8 = 130;
/// Nothing failed, but a subject does what the tracer cannot model (a shared writable mmap of a
/// sandbox file, io_uring): its pass cannot be trusted, and it is neither a pass nor a violation.
pub(crate) const EXIT_NOT_MODELLED: u8 = 3;

fn main() -> ExitCode {
    let mut raw = std::env::args_os().skip(1);
    if raw
        .next()
        .is_some_and(|first| first == torture_engine::writer::SUBCOMMAND)
    {
        return torture_engine::writer::run(raw.collect());
    }
    let cli = Cli::parse_from(real_as_power_real(std::env::args_os().collect()));
    match cli.command {
        Some(Command::Kill(args)) => kill(&args),
        Some(Command::Power(args)) => main_job::power(&args),
        Some(Command::Errors(args)) => errors::run(&args),
        Some(Command::List) => list(),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::Merge(args)) => merge(&args),
        Some(Command::Race(args)) => race::run(&args),
        Some(Command::PowerReal(args)) => power_real(&args),
        None if main_job::runs_every_kind(&cli.kill) => main_job::run(&cli.kill),
        None => kill(&cli.kill),
    }
}

fn list() -> ExitCode {
    use std::io::Write as _;
    // A closed pipe (`torture list | head`) ends the listing quietly, never with a panic.
    let mut out = std::io::stdout().lock();
    let mut line = |text: String| writeln!(out, "{text}").is_ok();
    let headings = CrashKind::ALL.map(|kind| format!("{:<11}", kind.heading()));
    if !line(format!(
        "{:<18} {} {:<9} description",
        "subject",
        headings.join(" "),
        "origin"
    )) {
        return ExitCode::SUCCESS;
    }
    for builtin in campaign::builtins()
        .into_iter()
        .chain(campaign::named_only_builtins())
    {
        let origin = match builtin.origin {
            Origin::BuiltIn => "built-in",
            Origin::Peer => "peer",
        };
        let Ok(strategy) = builtin
            .name
            .parse::<torture_writers::strategies::Strategy>()
        else {
            continue;
        };
        let cells = CrashKind::ALL.map(|kind| format!("{:<11}", strategy.expect(kind).to_string()));
        let row = format!(
            "{:<18} {} {:<9} {}",
            builtin.name,
            cells.join(" "),
            origin,
            builtin.description
        );
        if !line(row) {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// `torture power-real` (in `real.rs`).
fn power_real(args: &real::PowerRealArgs) -> ExitCode {
    let cancel = Arc::new(AtomicBool::new(false));
    if let Err(e) = install_interrupt_handler(&cancel) {
        return harness_error(&format!("cannot install the Ctrl-C handler: {e}"));
    }
    real::run(args, &cancel)
}

/// `torture merge`: joins shards, writes one report, exits like a run over every trial.
fn merge(args: &MergeArgs) -> ExitCode {
    let run = match report::merge::merge(&args.dirs) {
        Ok(run) => run,
        Err(e) => return harness_error(&format!("cannot merge: {e}")),
    };
    let written = std::fs::create_dir_all(&args.report_dir)
        .and_then(|()| report::write_files(&args.report_dir, &run));
    if let Err(e) = written {
        let dir = args.report_dir.display();
        return harness_error(&format!("cannot write the merged report to {dir}: {e}"));
    }
    report::print_run(args.format.output_format(), &run, &args.report_dir);
    exit_code(&run)
}

/// `torture bench` (in `intact-bench`): exit 0 when it ran (missed targets are findings in its
/// report), 2 on errors, 130 after Ctrl-C.
fn bench(args: &intact_bench::bench::BenchArgs) -> ExitCode {
    let cancel = Arc::new(AtomicBool::new(false));
    if let Err(e) = install_interrupt_handler(&cancel) {
        return harness_error(&format!("cannot install the Ctrl-C handler: {e}"));
    }
    match intact_bench::bench::run(args, cancel) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("torture bench: error: {error}");
            error.exit_code()
        }
    }
}

fn kill(args: &KillArgs) -> ExitCode {
    let cancel = match interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    match run_kill(args, &cancel) {
        Ok((run, _)) => exit_code(&run),
        Err(code) => code,
    }
}

/// The Ctrl-C flag, its handler installed (once per process).
pub(crate) fn interrupt_flag() -> Result<Arc<AtomicBool>, ExitCode> {
    let cancel = Arc::new(AtomicBool::new(false));
    match install_interrupt_handler(&cancel) {
        Ok(()) => Ok(cancel),
        Err(e) => Err(harness_error(&format!(
            "cannot install the Ctrl-C handler: {e}"
        ))),
    }
}

/// A report directory under `base` for `run_id`, or the exit code of the error.
pub(crate) fn report_dir_for(
    base: &std::path::Path,
    run_id: &str,
) -> Result<std::path::PathBuf, ExitCode> {
    report::prepare_dir(base, run_id).map_err(|e| {
        let dir = base.display();
        harness_error(&format!(
            "cannot create the report directory under {dir}: {e}\n  hint: pass --report-dir a writable directory, or --no-report"
        ))
    })
}

/// Runs a kill campaign, printing as it goes; returns it and its report directory.
pub(crate) fn run_kill(
    args: &KillArgs,
    cancel: &Arc<AtomicBool>,
) -> Result<(campaign::RunResult, Option<std::path::PathBuf>), ExitCode> {
    let run_id = run_id();
    let plan = args
        .plan(args.seed.unwrap_or_else(random_seed))
        .map_err(|message| harness_error(&message))?;
    let report_dir = match args.no_report {
        true => None,
        false => Some(report_dir_for(&args.report_dir, &run_id)?),
    };
    let mut reporter = Reporter::new(args.output_format(), &plan, report_dir.clone());
    reporter.header(&plan);
    let context = RunContext {
        run_id,
        cancel: cancel.clone(),
    };
    match campaign::run(&plan, &context, &mut reporter) {
        Ok(run) => {
            reporter.finish(&run);
            Ok((run, report_dir))
        }
        Err(e) => {
            if let Some(dir) = &report_dir {
                report::discard_empty_dir(dir);
            }
            Err(harness_error(&e.to_string()))
        }
    }
}

/// What a not-modelled subject did that the tracer cannot see.
fn unmodelled_what(subject: &campaign::SubjectResult) -> String {
    subject
        .golden
        .as_ref()
        .map(|golden| golden.unmodelled.join("; "))
        .unwrap_or_default()
}

pub(crate) fn exit_code(run: &campaign::RunResult) -> ExitCode {
    match &run.end {
        RunEnd::Interrupted => {
            eprintln!("torture: interrupted; sandboxes removed, partial report written");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        RunEnd::Failed(e) => harness_error(&e.to_string()),
        RunEnd::Completed if run.all_as_expected() => ExitCode::SUCCESS,
        RunEnd::Completed => {
            let mut only_unmodelled = true;
            for subject in run.subjects.iter().filter(|s| !s.status().as_expected()) {
                match subject.status() {
                    SubjectStatus::NotCaught => eprintln!(
                        "error: {}: canary not caught: the harness itself has failed",
                        subject.subject.label
                    ),
                    SubjectStatus::NotModelled => eprintln!(
                        "not modelled: {}: {}; no verdict (exit {EXIT_NOT_MODELLED})",
                        subject.subject.label,
                        unmodelled_what(subject)
                    ),
                    SubjectStatus::Passed
                    | SubjectStatus::Caught
                    | SubjectStatus::Failed
                    | SubjectStatus::NotCaughtInShard => {}
                }
                only_unmodelled &= subject.status() == SubjectStatus::NotModelled;
            }
            match only_unmodelled {
                true => ExitCode::from(EXIT_NOT_MODELLED),
                false => ExitCode::from(EXIT_VIOLATION),
            }
        }
    }
}

pub(crate) fn harness_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_HARNESS)
}

/// First Ctrl-C (or SIGTERM/SIGHUP): stop cleanly (children killed, sandboxes removed, partial
/// report). A second one exits at once.
fn install_interrupt_handler(cancel: &Arc<AtomicBool>) -> Result<(), ctrlc::Error> {
    let cancel = cancel.clone();
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ntorture: interrupted, stopping (press Ctrl-C again to quit at once)");
    })
}

/// A fresh seed, short enough to type in a replay command.
pub(crate) fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() % 1_000_000
}

/// `20251126-043012-<pid>` in UTC: sorts by time, unique per process.
pub(crate) fn run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let (h, m, s) = (day_secs / 3600, day_secs / 60 % 60, day_secs % 60);
    format!(
        "{year:04}{month:02}{day:02}-{h:02}{m:02}{s:02}-{}",
        std::process::id()
    )
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }
}
