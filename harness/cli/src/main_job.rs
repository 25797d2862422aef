//! `torture power`, and the main job: every built-in and peer subject under every crash kind,
//! ending in one table of writers × crash kinds (`report::table`). A crash kind joins the main
//! job with a column runner here and its cells in the table.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::KillArgs;
use crate::power::{self, PowerArgs};
use crate::{finish, harness_error, random_seed, stop_of};
use torture_core::oracle::CrashKind;
use torture_engine::campaign::SubjectKind;
use torture_engine::campaign::errors as errors_engine;
use torture_engine::campaign::power::{self as engine, PowerPlan, PowerRun};
use torture_engine::campaign::race::{self as race_engine, RaceSettings};
use torture_engine::campaign::{RunContext, RunEnd, RunResult, SubjectResult};
use torture_engine::report::OutputFormat;
use torture_engine::report::power as power_report;
use torture_engine::report::summary::{self, RunSummary, Stop, SubjectSummary, Verdict};
use torture_engine::report::table::Cell;
use torture_engine::report::table::{self, CrashTable};
use torture_engine::report::terminal::Style;
use torture_engine::sandbox::RunRoot;
use torture_writers::Strategy;

/// Whether `torture` without a subcommand runs every crash kind: not for one subject, a command,
/// a replay, or one shard of a partitioned campaign (the merge judges kill shards alone).
pub fn runs_every_kind(args: &KillArgs) -> bool {
    args.common.subjects.is_empty()
        && args.common.command.is_empty()
        && args.kill_at.is_none()
        && args.shard.partition.is_none()
}

fn style() -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// `torture power`.
pub fn power(args: &PowerArgs) -> ExitCode {
    let plan = match args.plan(args.common.seed.unwrap_or_else(random_seed)) {
        Ok(plan) => plan,
        Err(message) => return harness_error(&message),
    };
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let run_id = crate::run_id();
    let report_dir = match crate::report_dir_of(&args.common, &run_id) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let format = args.common.output_format();
    let run = match run_power(&plan, run_id, &cancel, format) {
        Ok(run) => run,
        Err(code) => return code,
    };
    let traces = run.subjects.iter().map(|r| (&r.subject, &r.golden.trace));
    if let Err(code) = crate::save_traces(&args.common, plan.subjects.len(), traces) {
        return code;
    }
    if let Some(dir) = &report_dir {
        write_reports(dir, &run, format);
    }
    finish(power_summary(&run), format, report_dir.as_deref())
}

/// A power campaign's summary.
fn power_summary(run: &PowerRun) -> RunSummary {
    let subjects = run.subjects.iter().map(summary::power_subject).collect();
    let (stop, floor) = stop_of(&run.end);
    let mut summary = RunSummary::new("power", &run.run_id, subjects, stop).at_least(floor);
    summary.seed = Some(run.power.options.seed);
    summary.partition = run.power.options.partition.map(|p| p.to_string());
    summary.elapsed_ms = run.elapsed.as_millis() as u64;
    summary
}

fn header(plan: &PowerPlan) {
    let names: Vec<&str> = plan.subjects.iter().map(|s| s.label.as_str()).collect();
    let o = &plan.power.options;
    println!(
        "  Starting power cuts over {} ({}): model {}, torn {}, fill {}, at most {} states each, seed {}",
        torture_core::words::count_of(names.len() as u64, "subject", "subjects"),
        names.join(", "),
        power_report::models_label(&plan.power),
        o.torn,
        o.fill,
        o.max_states,
        o.seed
    );
}

/// Runs a power campaign and prints it: subjects on `--jobs` threads, each its own campaign (its
/// sandboxes under `<run-id>-<n>`), joined in plan order.
fn run_power(
    plan: &PowerPlan,
    run_id: String,
    cancel: &Arc<AtomicBool>,
    format: OutputFormat,
) -> Result<PowerRun, ExitCode> {
    if format == OutputFormat::Human {
        header(plan);
    }
    let style = style();
    let print = |result: &engine::PowerResult| {
        let text = match format {
            OutputFormat::Human => {
                let mut lines = vec![power_report::status_line(result, style)];
                lines.extend(power_report::detail_lines(
                    result,
                    &plan.settings,
                    &plan.power,
                ));
                lines.join("\n")
            }
            OutputFormat::Json => power_report::subject_json(result, &plan.power).to_string(),
        };
        println!("{text}");
    };
    let began = std::time::Instant::now();
    let stop = || cancel.load(Ordering::Relaxed);
    let run_one = |at: usize| {
        let one = PowerPlan {
            subjects: vec![plan.subjects[at].clone()],
            ..plan.clone()
        };
        let context = RunContext {
            run_id: format!("{run_id}-{at}"),
            cancel: cancel.clone(),
        };
        engine::run(&one, &context, &mut |r| print(r)).map_err(|e| e.to_string())
    };
    let runs = crate::in_parallel(plan.subjects.len(), plan.settings.jobs, &stop, &run_one);
    let run = joined(plan, run_id, runs.into_iter(), began.elapsed())
        .map_err(|message| harness_error(&message))?;
    print_run(&run, format, style);
    Ok(run)
}

/// One power run from the subjects' runs: an error or interruption in any ends it so.
fn joined(
    plan: &PowerPlan,
    run_id: String,
    runs: impl Iterator<Item = Result<PowerRun, String>>,
    elapsed: std::time::Duration,
) -> Result<PowerRun, String> {
    let mut joined = PowerRun {
        run_id,
        settings: plan.settings.clone(),
        power: plan.power.clone(),
        subjects: Vec::new(),
        end: RunEnd::Completed,
        elapsed,
    };
    for run in runs {
        let run = run?;
        joined.subjects.extend(run.subjects);
        joined.end = match (joined.end, run.end) {
            (RunEnd::Failed(e), _) | (_, RunEnd::Failed(e)) => RunEnd::Failed(e),
            (RunEnd::Interrupted, _) | (_, RunEnd::Interrupted) => RunEnd::Interrupted,
            (RunEnd::Completed, RunEnd::Completed) => RunEnd::Completed,
        };
    }
    if joined.subjects.len() < plan.subjects.len() && matches!(joined.end, RunEnd::Completed) {
        joined.end = RunEnd::Interrupted;
    }
    Ok(joined)
}

fn print_run(run: &PowerRun, format: OutputFormat, style: Style) {
    if format == OutputFormat::Human && !run.subjects.is_empty() {
        println!("{}", power_report::summary_line(run, style));
    }
}

fn write_reports(dir: &Path, run: &PowerRun, format: OutputFormat) {
    let _ = std::fs::remove_dir(dir.join("traces"));
    match power_report::write_files(dir, run) {
        Ok(()) if format == OutputFormat::Human => {
            println!("    Report {}", dir.join("summary.md").display())
        }
        Ok(()) => {}
        Err(e) => eprintln!("warning: cannot write the report to {}: {e}", dir.display()),
    }
}

/// The main job as it goes: every subject's summary under every kind, the table, and how it
/// stopped.
struct MainJob {
    subjects: Vec<SubjectSummary>,
    table: CrashTable,
    stop: Stop,
    floor: Verdict,
}

impl MainJob {
    fn stopped(&self) -> bool {
        self.stop == Stop::Interrupted || self.floor == Verdict::HarnessError
    }

    fn end(&mut self, end: &RunEnd) {
        let (stop, floor) = stop_of(end);
        self.stop = match stop {
            Stop::Interrupted => Stop::Interrupted,
            Stop::Completed => self.stop,
        };
        self.floor = self.floor.max(floor);
    }
}

/// The main job: the kill campaign, then power cuts, I/O errors and racing runs over the same
/// built-ins, one table; an unfilled cell fails it, Ctrl-C in any phase gives 130.
pub fn run(args: &KillArgs) -> ExitCode {
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let (kill, report_dir) = match crate::run_kill(args, &cancel) {
        Ok(done) => done,
        Err(code) => return code,
    };
    let format = args.output_format();
    let mut job = MainJob {
        subjects: kill
            .subjects
            .iter()
            .map(|s| summary::kill_subject(s, &kill.settings))
            .collect(),
        table: kill_table(&kill),
        stop: Stop::Completed,
        floor: Verdict::AsExpected,
    };
    job.end(&kill.end);
    let power_run = match job.stopped() {
        true => None,
        false => power_column(args, &kill, &cancel, format, &mut job),
    };
    if !job.stopped() {
        errors_and_race_columns(&mut job, &kill, &cancel, format);
    }
    let summary = main_summary(&mut job, &kill);
    if format == OutputFormat::Human {
        println!();
        for line in job.table.terminal_lines() {
            println!("  {line}");
        }
    }
    if let Some(dir) = &report_dir {
        write_main_job_reports(dir, power_run.as_ref(), &job.table, &summary);
    }
    finish(summary, format, report_dir.as_deref())
}

/// The power-cut column: a sampled power campaign over the kill run's subjects.
fn power_column(
    args: &KillArgs,
    kill: &RunResult,
    cancel: &Arc<AtomicBool>,
    format: OutputFormat,
    job: &mut MainJob,
) -> Option<PowerRun> {
    let seed = kill.settings.seed;
    let settings = power::main_job_settings(seed);
    let plan = match args.plan(seed) {
        Ok(plan) => power::power_plan(plan, settings),
        Err(message) => {
            eprintln!("error: {message}");
            job.floor = Verdict::HarnessError;
            return None;
        }
    };
    let run_id = format!("{}-power", kill.run_id);
    let Ok(run) = run_power(&plan, run_id, cancel, format) else {
        job.floor = Verdict::HarnessError;
        return None;
    };
    for result in &run.subjects {
        job.table.set(
            &result.subject.label,
            CrashKind::Power,
            table::power_cell(result),
        );
        job.subjects.push(summary::power_subject(result));
    }
    job.end(&run.end);
    Some(run)
}

/// The main job's summary: its subjects' worst verdict, and a violation when a cell of the table
/// was left unfilled (nothing tested is no pass).
fn main_summary(job: &mut MainJob, kill: &RunResult) -> RunSummary {
    for result in kill
        .subjects
        .iter()
        .filter(|r| r.subject.label != r.subject.name)
    {
        for kind in [CrashKind::Power, CrashKind::Errors, CrashKind::Race] {
            job.table.not_run(&result.subject.label, kind);
        }
    }
    let subjects = std::mem::take(&mut job.subjects);
    let mut summary = RunSummary::new("main", &kill.run_id, subjects, job.stop).at_least(job.floor);
    if summary.verdict < Verdict::Violation && !job.table.all_as_expected() {
        eprintln!(
            "error: a cell of the table was not filled: the run did not test it (see MISSING above)"
        );
        summary = summary.at_least(Verdict::Violation);
    }
    summary.seed = Some(kill.settings.seed);
    summary
}

/// The main job's budget per subject for the sampled columns: injections of every fault kind,
/// and interleavings (`RaceSettings::main_job`: two writers, ten random walks, ten PCT runs).
const MAIN_JOB_INJECTIONS: u64 = 40;

/// Fills the "I/O errors" and "racing" columns for every built-in of the kill run, with a small
/// sampled budget each (the subcommands exhaust what the main job samples). Ctrl-C is checked
/// after every cell; a cell that could not be filled stays MISSING and fails the table.
fn errors_and_race_columns(
    job: &mut MainJob,
    kill: &RunResult,
    cancel: &Arc<AtomicBool>,
    format: OutputFormat,
) {
    let root = match RunRoot::create(&kill.settings.dir, &format!("{}-race", kill.run_id)) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("error: cannot make the race sandboxes: {e}");
            job.floor = Verdict::HarnessError;
            return;
        }
    };
    let subjects: Vec<_> = kill
        .subjects
        .iter()
        .filter(|r| r.subject.label == r.subject.name)
        .filter_map(|r| Some((r, r.subject.name.parse::<Strategy>().ok()?)))
        .collect();
    for (at, (result, strategy)) in subjects.iter().enumerate() {
        let progress = |column: &str| {
            if format == OutputFormat::Human {
                println!(
                    "  [{}/{}] {column}: {}",
                    at + 1,
                    subjects.len(),
                    result.subject.label
                );
            }
        };
        progress("I/O errors");
        errors_cell(job, result, *strategy, kill, cancel);
        if !job.stopped() && !cancel.load(Ordering::Relaxed) {
            progress("racing");
            race_cell(job, result, *strategy, kill.settings.seed, &root, cancel);
        }
        if cancel.load(Ordering::Relaxed) {
            job.stop = Stop::Interrupted;
        }
        if job.stopped() {
            return;
        }
    }
}

fn errors_cell(
    job: &mut MainJob,
    result: &SubjectResult,
    strategy: Strategy,
    kill: &RunResult,
    cancel: &Arc<AtomicBool>,
) {
    let context = RunContext {
        run_id: kill.run_id.clone(),
        cancel: cancel.clone(),
    };
    let mut subject = result.subject.clone();
    subject.expect = strategy.expect(CrashKind::Errors);
    match errors_engine::run_cell(&subject, &kill.settings, MAIN_JOB_INJECTIONS, &context) {
        Ok(Some(cell)) => {
            let diagnosis = cell.smallest().map(|r| {
                let replay =
                    errors_engine::replay_command(&cell.subject, &kill.settings, &r.injection);
                format!(
                    "{} replay: {replay}",
                    r.diagnosis.as_deref().unwrap_or_default()
                )
            });
            let status = cell.status();
            job.table.set(
                &subject.label,
                CrashKind::Errors,
                Cell { status, diagnosis },
            );
            job.subjects.push(summary::errors_subject(&cell));
        }
        Ok(None) => {} // Ctrl-C (the caller checks), or no result: the cell stays MISSING
        Err(e) => {
            eprintln!("error: {}: I/O errors: {e}", subject.label);
            job.floor = Verdict::HarnessError;
        }
    }
}

fn race_cell(
    job: &mut MainJob,
    result: &SubjectResult,
    strategy: Strategy,
    seed: u64,
    root: &RunRoot,
    cancel: &Arc<AtomicBool>,
) {
    let SubjectKind::Builtin { size_bytes } = result.subject.kind else {
        return;
    };
    let settings = RaceSettings::main_job(seed);
    let subject = race_engine::builtin_subject(strategy, size_bytes);
    match race_engine::run_subject(&subject, &settings, root, cancel.clone()) {
        Ok(racing) => {
            let cell = Cell {
                status: racing.status,
                diagnosis: racing.finding.as_ref().map(|f| f.violation.clone()),
            };
            job.table.set(&result.subject.label, CrashKind::Race, cell);
            job.subjects.push(summary::race_subject(&racing));
        }
        Err(e) => {
            eprintln!("error: {}: racing: {e}", result.subject.label);
            job.floor = Verdict::HarnessError;
        }
    }
}

/// Writers × the SIGKILL column, from the kill run.
fn kill_table(kill: &RunResult) -> CrashTable {
    let mut table = CrashTable::new(&CrashKind::ALL);
    for result in &kill.subjects {
        let cell = table::kill_cell(result, &kill.settings);
        table.set(&result.subject.label, CrashKind::Kill, cell);
    }
    table
}

/// The main job's reports: `summary.md` titled for every crash kind with the table first and the
/// kill details after it, `junit.xml` over every kind, the power reports in `power/`.
fn write_main_job_reports(
    dir: &Path,
    power: Option<&PowerRun>,
    table: &CrashTable,
    summary: &RunSummary,
) {
    let power_dir = dir.join("power");
    let power_written = match power {
        Some(run) => std::fs::create_dir_all(&power_dir)
            .and_then(|()| power_report::write_files(&power_dir, run)),
        None => Ok(()),
    };
    let written = power_written
        .and_then(|()| summary::junit(summary).map_err(std::io::Error::other))
        .and_then(|xml| std::fs::write(dir.join("junit.xml"), xml))
        .and_then(|()| rewrite_summary(&dir.join("summary.md"), table, summary));
    if let Err(e) = written {
        eprintln!("warning: cannot write the report to {}: {e}", dir.display());
    }
}

/// Puts the verdict over every kind and the table at the top of the kill report's `summary.md`.
fn rewrite_summary(path: &Path, table: &CrashTable, summary: &RunSummary) -> std::io::Result<()> {
    let kill = std::fs::read_to_string(path).unwrap_or_default();
    let kill_details = kill.split_once('\n').map_or("", |(_, rest)| rest);
    let mark = match summary.interrupted {
        true => " — INTERRUPTED, partial",
        false => "",
    };
    let text = format!(
        "# torture: every crash kind, run {}\n\n**{}**{mark} (exit {})\n\n## Writers × crash kinds\n\n\
         Each cell: the verdict against the catalogue's expectation and, when a crash showed a violation, \
         the smallest one. Power cuts: model `linux`, sampled; details in \
         [`power/summary.md`](power/summary.md). MISSING: a cell the run did not fill (it fails the run).\n\n{}\n\
         ## SIGKILL\n{kill_details}",
        summary.run_id,
        summary.verdict.name().to_uppercase(),
        summary.exit_code,
        table.markdown()
    );
    std::fs::write(path, text)
}
