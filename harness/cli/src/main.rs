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

use cli::{Cli, Command, KillArgs, ListArgs, MergeArgs};
use torture_core::oracle::CrashKind;
use torture_core::rng::SplitMix64;
use torture_engine::campaign::{self, Origin, RunContext, RunEnd};
use torture_engine::report::summary::{self, RunSummary, Stop, Verdict};
use torture_engine::report::{self, OutputFormat, Reporter};

fn main() -> ExitCode {
    let mut raw = std::env::args_os().skip(1);
    if raw
        .next()
        .is_some_and(|first| first == torture_engine::writer::SUBCOMMAND)
    {
        return torture_engine::writer::run(raw.collect());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    match cli.command {
        Some(Command::Kill(args)) => kill(&args),
        Some(Command::Power(args)) => match &args.real.real {
            Some(fs) => real::run(&args, fs),
            None => main_job::power(&args),
        },
        Some(Command::Errors(args)) => errors::run(&args),
        Some(Command::List(args)) => list(&args),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::Merge(args)) => merge(&args),
        Some(Command::Race(args)) => race::run(&args),
        None if main_job::runs_every_kind(&cli.kill) => main_job::run(&cli.kill),
        None => kill(&cli.kill),
    }
}

/// `torture list`: the catalogue, one subject a line (or a JSON object a line).
fn list(args: &ListArgs) -> ExitCode {
    use std::io::Write as _;
    // A closed pipe (`torture list | head`) ends the listing quietly, never with a panic.
    let mut out = std::io::stdout().lock();
    let mut line = |text: String| writeln!(out, "{text}").is_ok();
    let json = args.format.output_format() == OutputFormat::Json;
    let headings = CrashKind::ALL.map(|kind| format!("{:<11}", kind.heading()));
    let header = format!(
        "{:<18} {} {:<9} description",
        "subject",
        headings.join(" "),
        "origin"
    );
    if !json && !line(header) {
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
        let row = list_row(&builtin, strategy, origin, json);
        if !line(row) {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// One subject of `torture list`: a table row, or a JSON object.
fn list_row(
    builtin: &campaign::Builtin,
    strategy: torture_writers::strategies::Strategy,
    origin: &str,
    json: bool,
) -> String {
    if json {
        let expected: serde_json::Map<String, serde_json::Value> = CrashKind::ALL
            .iter()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    strategy.expect(*kind).to_string().into(),
                )
            })
            .collect();
        let row = serde_json::json!({"subject": builtin.name, "origin": origin,
            "expected": expected, "description": builtin.description});
        return row.to_string();
    }
    let cells = CrashKind::ALL.map(|kind| format!("{:<11}", strategy.expect(kind).to_string()));
    format!(
        "{:<18} {} {:<9} {}",
        builtin.name,
        cells.join(" "),
        origin,
        builtin.description
    )
}

/// `torture merge`: joins shards, writes one report, exits like a run over every trial. Kill
/// shards are merged trial by trial (`report::merge`); other campaigns' by their summaries.
fn merge(args: &MergeArgs) -> ExitCode {
    let by_summary = args.dirs.iter().all(|dir| {
        report::merge::locate_run(dir).is_err()
            && read_summary(dir).is_ok_and(|s| s.command != "kill")
    });
    if by_summary {
        return merge_summaries(args);
    }
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
    let format = args.format.output_format();
    report::print_run(format, &run, &args.report_dir);
    let mut summary = kill_summary(&run);
    summary.command = "merge".to_owned();
    finish(summary, format, Some(&args.report_dir))
}

/// Merges shards by their `summary.json` (`torture errors --partition M/N`).
fn merge_summaries(args: &MergeArgs) -> ExitCode {
    let mut shards = Vec::new();
    for dir in &args.dirs {
        match read_summary(dir) {
            Ok(shard) => shards.push(shard),
            Err(message) => return harness_error(&format!("cannot merge: {message}")),
        }
    }
    let run_id = format!("{}-merged-{}", shards[0].run_id, shards.len());
    let merged = match summary::merge(&run_id, &shards) {
        Ok(merged) => merged,
        Err(message) => return harness_error(&format!("cannot merge: {message}")),
    };
    let written = std::fs::create_dir_all(&args.report_dir).and_then(|()| {
        let xml = summary::junit(&merged).map_err(std::io::Error::other)?;
        std::fs::write(args.report_dir.join("junit.xml"), xml)
    });
    if let Err(e) = written {
        let dir = args.report_dir.display();
        return harness_error(&format!("cannot write the merged report to {dir}: {e}"));
    }
    finish(merged, args.format.output_format(), Some(&args.report_dir))
}

/// A shard's `summary.json`: in `dir`, or in the one run directory under it.
fn read_summary(dir: &std::path::Path) -> Result<RunSummary, String> {
    let runs: Vec<std::path::PathBuf> = match dir.join("summary.json").is_file() {
        true => vec![dir.to_owned()],
        false => std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .filter(|entry| entry.file_name() != "latest")
            .map(|entry| entry.path())
            .filter(|path| path.join("summary.json").is_file())
            .collect(),
    };
    let [run] = runs.as_slice() else {
        return Err(format!(
            "{}: expected one run with a summary.json, found {}",
            dir.display(),
            runs.len()
        ));
    };
    let text = std::fs::read_to_string(run.join("summary.json"))
        .map_err(|e| format!("{}: {e}", run.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", run.join("summary.json").display()))
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
        Ok((run, dir)) => finish(kill_summary(&run), args.output_format(), dir.as_deref()),
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
        .plan(args.common.seed.unwrap_or_else(random_seed))
        .map_err(|message| harness_error(&message))?;
    let report_dir = report_dir_of(&args.common, &run_id)?;
    let mut reporter = Reporter::new(args.output_format(), &plan, report_dir.clone());
    reporter.header(&plan);
    let context = RunContext {
        run_id,
        cancel: cancel.clone(),
    };
    match campaign::run(&plan, &context, &mut reporter) {
        Ok(run) => {
            reporter.finish(&run);
            let traces = run.subjects.iter().filter_map(|r| {
                let golden = r.golden.as_ref()?;
                Some((&r.subject, &golden.trace))
            });
            save_traces(&args.common, plan.subjects.len(), traces)?;
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

/// `--save-trace FILE`: writes the golden trace of each subject that recorded one (to FILE for a
/// plan of one subject, else to FILE/<subject>.jsonl). Failing to is a harness error.
pub(crate) fn save_traces<'a>(
    common: &cli::Common,
    planned: usize,
    traces: impl Iterator<Item = (&'a campaign::Subject, &'a torture_engine::trace::Trace)>,
) -> Result<(), ExitCode> {
    let Some(path) = &common.save_trace else {
        return Ok(());
    };
    let traces: Vec<_> = traces.collect();
    match campaign::traces::save(path, &traces, planned > 1) {
        Ok(written) => {
            if common.output_format() == OutputFormat::Human {
                for file in written {
                    println!("     Trace {}", file.display());
                }
            }
            Ok(())
        }
        Err(e) => Err(harness_error(&format!(
            "--save-trace {}: cannot write the golden trace: {e}",
            path.display()
        ))),
    }
}

/// The report directory of a run (`None` with `--no-report`), or the exit code of the error.
pub(crate) fn report_dir_of(
    common: &cli::Common,
    run_id: &str,
) -> Result<Option<std::path::PathBuf>, ExitCode> {
    match common.no_report {
        true => Ok(None),
        false => report_dir_for(&common.report_dir, run_id).map(Some),
    }
}

/// A kill campaign's summary (also a merged one's).
pub(crate) fn kill_summary(run: &campaign::RunResult) -> RunSummary {
    let subjects = run
        .subjects
        .iter()
        .map(|s| summary::kill_subject(s, &run.settings))
        .collect();
    let (stop, floor) = stop_of(&run.end);
    let mut summary = RunSummary::new("kill", &run.run_id, subjects, stop).at_least(floor);
    summary.seed = Some(run.settings.seed);
    summary.partition = run.settings.partition.map(|p| p.to_string());
    summary
}

/// How a campaign's end bears on the verdict: its stop, and a harness error (said on stderr).
pub(crate) fn stop_of(end: &RunEnd) -> (Stop, Verdict) {
    match end {
        RunEnd::Completed => (Stop::Completed, Verdict::AsExpected),
        RunEnd::Interrupted => (Stop::Interrupted, Verdict::AsExpected),
        RunEnd::Failed(e) => {
            eprintln!("error: {e}");
            (Stop::Completed, Verdict::HarnessError)
        }
    }
}

/// Ends every command: says why the verdict is not a pass (stderr), prints the JSON summary
/// (`--format json`) or the verdict line, writes `summary.json`; the exit code is the verdict's
/// ([`Verdict::exit_code`], the one place it is decided).
pub(crate) fn finish(
    mut summary: RunSummary,
    format: OutputFormat,
    report_dir: Option<&std::path::Path>,
) -> ExitCode {
    summary.report_dir = report_dir.map(std::path::Path::to_owned);
    for line in summary.explanations() {
        eprintln!("{line}");
    }
    if summary.interrupted {
        eprintln!("torture: interrupted; sandboxes removed, partial report written");
    }
    if let Some(dir) = report_dir {
        if let Err(e) = summary.write(dir) {
            eprintln!(
                "warning: cannot write {}: {e}",
                dir.join("summary.json").display()
            );
        }
    }
    match format {
        OutputFormat::Json => println!("{}", summary.to_json()),
        OutputFormat::Human => println!(
            "    Verdict {} (exit {})",
            summary.verdict.name(),
            summary.exit_code
        ),
    }
    ExitCode::from(summary.exit_code)
}

/// Bad usage or a harness failure, said on stderr (and, with `--format json`, as one JSON
/// error object on stdout): exit 2.
pub(crate) fn harness_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    error_object(message)
}

/// A command line clap refused: its message on stderr (and as a JSON error object with
/// `--format json`), exit 2; `--help` and `--version` print and exit 0 as usual.
fn usage_error(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        error.exit();
    }
    let _ = error.print();
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    error_object(first.strip_prefix("error: ").unwrap_or(first))
}

/// Exit 2, after printing `{"kind": "error", "error": message, "exit_code": 2}` on stdout when
/// the command line asks for `--format json` (`reports/README.md` documents it).
fn error_object(message: &str) -> ExitCode {
    let code = Verdict::HarnessError.exit_code();
    if json_requested(std::env::args_os().skip(1)) {
        let object = serde_json::json!({"kind": "error", "error": message, "exit_code": code});
        println!("{object}");
    }
    ExitCode::from(code)
}

/// Whether `--format json` (or `--format=json`) is among the options, before any `--`: read
/// from the raw arguments, so it holds for a command line clap could not parse.
fn json_requested(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<std::ffi::OsString> = args.take_while(|arg| arg != "--").collect();
    args.iter().enumerate().any(|(at, arg)| {
        arg == "--format=json"
            || (arg == "--format" && args.get(at + 1).is_some_and(|v| v == "json"))
    })
}

/// First Ctrl-C (or SIGTERM/SIGHUP): stop cleanly (children killed, sandboxes removed, partial
/// report). A second one exits at once.
fn install_interrupt_handler(cancel: &Arc<AtomicBool>) -> Result<(), ctrlc::Error> {
    let cancel = cancel.clone();
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(Verdict::Interrupted.exit_code()));
        }
        eprintln!("\ntorture: interrupted, stopping (press Ctrl-C again to quit at once)");
    })
}

/// Runs `work(i)` for every `i` below `count` on `jobs` threads (each traces its own writers),
/// starting no new one once `stop()` says so; the results in index order.
pub(crate) fn in_parallel<T: Send>(
    count: usize,
    jobs: usize,
    stop: &(dyn Fn() -> bool + Sync),
    work: &(dyn Fn(usize) -> T + Sync),
) -> Vec<T> {
    use std::sync::{Mutex, PoisonError, atomic::AtomicUsize};
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    if at >= count || stop() {
                        return;
                    }
                    let result = work(at);
                    let mut done = done.lock().unwrap_or_else(PoisonError::into_inner);
                    done.push((at, result));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    done.sort_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, result)| result).collect()
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
    use super::{civil_from_days, json_requested};

    #[test]
    fn json_is_requested_before_the_command_only() {
        let asks = |args: &[&str]| json_requested(args.iter().map(std::ffi::OsString::from));
        assert!(asks(&["kill", "--format", "json", "--trials", "x"]));
        assert!(asks(&["race", "--format=json"]));
        assert!(!asks(&["kill", "--format", "text"]));
        assert!(!asks(&["kill", "--", "w", "--format", "json"]));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }
}
