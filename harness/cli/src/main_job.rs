//! `torture power`, and the main job: every built-in and peer subject under every crash kind,
//! ending in one table of writers × crash kinds (`report::table`). A crash kind joins the main
//! job with a column runner here and its cells in the table.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::cli::KillArgs;
use crate::power::{self, PowerArgs};
use crate::{EXIT_INTERRUPTED, EXIT_VIOLATION, harness_error, random_seed};
use torture_core::oracle::{CrashKind, SubjectStatus};
use torture_engine::campaign::SubjectKind;
use torture_engine::campaign::errors as errors_engine;
use torture_engine::campaign::power::{self as engine, PowerPlan, PowerRun};
use torture_engine::campaign::race::{self as race_engine, RaceSettings};
use torture_engine::campaign::{RunContext, RunEnd, RunResult};
use torture_engine::report::OutputFormat;
use torture_engine::report::power as power_report;
use torture_engine::report::table::Cell;
use torture_engine::report::table::{self, CrashTable};
use torture_engine::report::terminal::Style;
use torture_engine::sandbox::RunRoot;
use torture_writers::Strategy;

/// Whether `torture` without a subcommand runs every crash kind: not for one subject, a command,
/// a replay, or one shard of a partitioned campaign (the merge judges kill shards alone).
pub fn runs_every_kind(args: &KillArgs) -> bool {
    args.subjects.is_empty()
        && args.command.is_empty()
        && args.kill_at.is_none()
        && args.partition.is_none()
}

fn style() -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// `torture power`.
pub fn power(args: &PowerArgs) -> ExitCode {
    let plan = match args.plan(args.seed.unwrap_or_else(random_seed)) {
        Ok(plan) => plan,
        Err(message) => return harness_error(&message),
    };
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let run_id = crate::run_id();
    let report_dir = match args.no_report {
        true => None,
        false => match crate::report_dir_for(&args.report_dir, &run_id) {
            Ok(dir) => Some(dir),
            Err(code) => return code,
        },
    };
    let format = args.format.output_format();
    let run = match run_power(&plan, run_id, &cancel, format) {
        Ok(run) => run,
        Err(code) => return code,
    };
    if let Some(dir) = &report_dir {
        write_reports(dir, &run);
    }
    power_exit_code(&run)
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

/// Runs a power campaign and prints it.
fn run_power(
    plan: &PowerPlan,
    run_id: String,
    cancel: &Arc<AtomicBool>,
    format: OutputFormat,
) -> Result<PowerRun, ExitCode> {
    if format == OutputFormat::Human {
        header(plan);
    }
    let context = RunContext {
        run_id,
        cancel: cancel.clone(),
    };
    let style = style();
    let run = engine::run(plan, &context, &mut |result| match format {
        OutputFormat::Human => {
            println!("{}", power_report::status_line(result, style));
            for line in power_report::detail_lines(result, &plan.settings, &plan.power) {
                println!("{line}");
            }
        }
        OutputFormat::Json => println!("{}", power_report::subject_json(result, &plan.power)),
    })
    .map_err(|e| harness_error(&e.to_string()))?;
    print_run(&run, format, style);
    Ok(run)
}

fn print_run(run: &PowerRun, format: OutputFormat, style: Style) {
    if format == OutputFormat::Human && !run.subjects.is_empty() {
        println!("{}", power_report::summary_line(run, style));
    }
}

fn write_reports(dir: &Path, run: &PowerRun) {
    let _ = std::fs::remove_dir(dir.join("traces"));
    match power_report::write_files(dir, run) {
        Ok(()) => println!("    Report {}", dir.join("summary.md").display()),
        Err(e) => eprintln!("warning: cannot write the report to {}: {e}", dir.display()),
    }
}

fn power_exit_code(run: &PowerRun) -> ExitCode {
    match &run.end {
        RunEnd::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        RunEnd::Failed(e) => harness_error(&e.to_string()),
        RunEnd::Completed if run.all_as_expected() => ExitCode::SUCCESS,
        RunEnd::Completed => {
            for subject in run.subjects.iter() {
                if subject.status() == SubjectStatus::NotCaught {
                    eprintln!(
                        "error: {}: canary not caught by a power cut: the harness itself has failed",
                        subject.subject.label
                    );
                }
            }
            ExitCode::from(EXIT_VIOLATION)
        }
    }
}

/// The main job: the kill campaign, the power campaign over the same subjects, one table.
pub fn run(args: &KillArgs) -> ExitCode {
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let (kill, report_dir) = match crate::run_kill(args, &cancel) {
        Ok(done) => done,
        Err(code) => return code,
    };
    if !matches!(kill.end, RunEnd::Completed) {
        return crate::exit_code(&kill);
    }
    let seed = kill.settings.seed;
    let plan = match args.plan(seed) {
        Ok(plan) => power::power_plan(plan, power::main_job_settings(seed)),
        Err(message) => return harness_error(&message),
    };
    let format = args.output_format();
    let run_id = format!("{}-power", kill.run_id);
    let power_run = match run_power(&plan, run_id, &cancel, format) {
        Ok(run) => run,
        Err(code) => return code,
    };
    let mut table = crash_table(&kill, &power_run);
    if let Err(code) = errors_and_race_columns(&mut table, &kill, &cancel) {
        return code;
    }
    if format == OutputFormat::Human {
        println!();
        for line in table.terminal_lines() {
            println!("  {line}");
        }
    }
    if let Some(dir) = &report_dir {
        write_main_job_reports(dir, &power_run, &table);
    }
    match &power_run.end {
        RunEnd::Completed if table.all_as_expected() && kill.all_as_expected() => ExitCode::SUCCESS,
        RunEnd::Completed => {
            eprintln!("error: not every cell of the table is as expected (see above)");
            ExitCode::from(EXIT_VIOLATION)
        }
        RunEnd::Interrupted | RunEnd::Failed(_) => power_exit_code(&power_run),
    }
}

/// The main job's budget per subject for the sampled columns: injections of every fault kind,
/// and interleavings (`RaceSettings::main_job`: two writers, ten random walks, ten PCT runs).
const MAIN_JOB_INJECTIONS: u64 = 40;

/// Fills the "I/O errors" and "racing" columns for every built-in of the kill run, with a small
/// sampled budget each (the subcommands exhaust what the main job samples).
fn errors_and_race_columns(
    table: &mut CrashTable,
    kill: &RunResult,
    cancel: &Arc<AtomicBool>,
) -> Result<(), ExitCode> {
    let context = RunContext {
        run_id: kill.run_id.clone(),
        cancel: cancel.clone(),
    };
    let root = RunRoot::create(&kill.settings.dir, &format!("{}-race", kill.run_id))
        .map_err(|e| harness_error(&format!("cannot make the race sandboxes: {e}")))?;
    for result in &kill.subjects {
        let Ok(strategy) = result.subject.name.parse::<Strategy>() else {
            continue;
        };
        let SubjectKind::Builtin { size_bytes } = result.subject.kind else {
            continue;
        };
        if result.subject.label != result.subject.name {
            continue; // `intact@2KiB-all`: the same writer, an extra kill sweep only
        }
        let mut subject = result.subject.clone();
        subject.expect = strategy.expect(CrashKind::Errors);
        let errors =
            errors_engine::run_cell(&subject, &kill.settings, MAIN_JOB_INJECTIONS, &context)
                .map_err(|e| harness_error(&format!("{}: I/O errors: {e}", subject.label)))?;
        if let Some(cell) = errors {
            table.set(
                &subject.label,
                CrashKind::Errors,
                Cell {
                    status: cell.status,
                    diagnosis: cell.smallest,
                },
            );
        }
        let settings = RaceSettings::main_job(kill.settings.seed);
        let racing = race_engine::run_subject(
            &race_engine::builtin_subject(strategy, size_bytes),
            &settings,
            &root,
            cancel.clone(),
        )
        .map_err(|e| harness_error(&format!("{}: racing: {e}", subject.label)))?;
        let diagnosis = racing.finding.map(|f| f.violation);
        table.set(
            &subject.label,
            CrashKind::Race,
            Cell {
                status: racing.status,
                diagnosis,
            },
        );
    }
    Ok(())
}

/// Writers × crash kinds, from each kind's results.
fn crash_table(kill: &RunResult, power: &PowerRun) -> CrashTable {
    let mut table = CrashTable::new(&CrashKind::ALL);
    for result in &kill.subjects {
        let cell = table::kill_cell(result, &kill.settings);
        table.set(&result.subject.label, CrashKind::Kill, cell);
    }
    for result in &power.subjects {
        table.set(
            &result.subject.label,
            CrashKind::Power,
            table::power_cell(result),
        );
    }
    table
}

/// The power reports go to `<run>/power/`; the table is appended to `<run>/summary.md`.
fn write_main_job_reports(dir: &Path, power: &PowerRun, table: &CrashTable) {
    let power_dir = dir.join("power");
    let written = std::fs::create_dir_all(&power_dir)
        .and_then(|()| power_report::write_files(&power_dir, power))
        .and_then(|()| append_table(&dir.join("summary.md"), table));
    if let Err(e) = written {
        eprintln!(
            "warning: cannot write the power report to {}: {e}",
            power_dir.display()
        );
    }
}

fn append_table(summary: &Path, table: &CrashTable) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(summary)?;
    write!(
        file,
        "\n## Writers × crash kinds\n\nEach cell: the verdict against the catalogue's expectation and, when a \
         crash showed a violation, the smallest one. Power cuts: model `linux`, sampled; details in \
         [`power/summary.md`](power/summary.md).\n\n{}",
        table.markdown()
    )
}
