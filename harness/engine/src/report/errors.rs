//! What `torture errors` tells people and CI: a fixed-width status line per subject, the smallest
//! violation's diagnosis and a replay line per violation, one summary line; and in the report
//! directory `summary.md` (with faults checked per second), `results.jsonl` (one line per
//! injection) and `junit.xml`.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::OutputFormat;
use super::records::end_name;
use super::terminal::{Style, count_of, format_seconds};
use crate::campaign::errors::{
    ErrorsObserver, ErrorsPlan, ErrorsRunResult, ErrorsSubjectResult, InjectionRecord,
    replay_command,
};
use crate::campaign::{RunEnd, Settings, Subject, initial_name};
use torture_core::oracle::{SubjectStatus, Tally};

/// Violations printed with their replay line per subject; the rest are in `results.jsonl`.
pub const MAX_PRINTED_VIOLATIONS: usize = 5;

/// Prints each subject as it finishes and writes the report files at the end.
#[derive(Debug)]
pub struct ErrorsReporter {
    format: OutputFormat,
    style: Style,
    settings: Settings,
    report_dir: Option<PathBuf>,
    /// Injections of the current subject: a bar on a terminal, else a line every tenth.
    progress: Progress,
}

/// Where the current subject's injections stand.
#[derive(Debug, Default)]
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    done: u64,
    planned: u64,
}

impl ErrorsReporter {
    /// A reporter for `plan`; `report_dir` is `None` with `--no-report`.
    pub fn new(format: OutputFormat, plan: &ErrorsPlan, report_dir: Option<PathBuf>) -> Self {
        let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        ErrorsReporter {
            format,
            style: Style { color },
            settings: plan.settings.clone(),
            report_dir,
            progress: Progress::default(),
        }
    }

    /// Prints what the run is about to do.
    pub fn header(&self, plan: &ErrorsPlan) {
        if self.format == OutputFormat::Json {
            return;
        }
        let kinds: Vec<&str> = plan.options.kinds.iter().map(|k| k.name()).collect();
        let selection = match (&plan.options.inject, plan.options.trials) {
            (Some(one), _) => format!("replaying {one}"),
            (None, Some(trials)) => format!("{trials} injections each"),
            (None, None) => "every injection (sampled beyond 512)".to_owned(),
        };
        println!(
            "  Starting {}: {selection} of {}, --initial {}, seed {}, sandboxes in {}",
            count_of(plan.subjects.len() as u64, "subject", "subjects"),
            kinds.join(","),
            initial_name(plan.settings.initial),
            plan.settings.seed,
            plan.settings.dir.display()
        );
    }

    /// Prints the summary line and writes the report files. Returns the report directory.
    pub fn finish(&self, run: &ErrorsRunResult) -> Option<PathBuf> {
        if self.format == OutputFormat::Human && !run.subjects.is_empty() {
            println!("{}", summary_line(run, self.style));
        }
        let dir = self.report_dir.clone()?;
        match write_files(&dir, run) {
            Ok(()) if self.format == OutputFormat::Human => {
                println!("    Report {}", dir.join("summary.md").display());
            }
            Ok(()) => {}
            Err(e) => eprintln!("error: cannot write the report to {}: {e}", dir.display()),
        }
        Some(dir)
    }
}

impl ErrorsObserver for ErrorsReporter {
    fn subject_started(&mut self, subject: &Subject, space_len: u64, planned: u64) {
        if self.format == OutputFormat::Human {
            println!(
                "     START {}: {} of a fault space of {}",
                subject.label,
                count_of(planned, "injection", "injections"),
                space_len
            );
            self.progress = Progress::start(&subject.label, planned);
        }
    }

    fn injection_finished(&mut self, subject: &Subject, _: &InjectionRecord) {
        self.progress.step(&subject.label);
    }

    fn subject_finished(&mut self, result: &ErrorsSubjectResult) {
        if let Some(bar) = self.progress.bar.take() {
            bar.finish_and_clear();
        }
        match self.format {
            OutputFormat::Human => {
                println!("{}", status_line(result, self.style));
                for line in detail_lines(result, &self.settings) {
                    println!("{line}");
                }
            }
            OutputFormat::Json => match serde_json::to_string(&subject_line(result)) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: cannot encode {}: {e}", result.subject.label),
            },
        }
    }
}

impl Progress {
    /// A bar on an interactive stderr, like kill's; else counted lines.
    fn start(label: &str, planned: u64) -> Progress {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(planned),
                indicatif::ProgressDrawTarget::stderr(),
            );
            let template =
                "{prefix:>10.green.bold} [{elapsed_precise}] [{bar:30}] {pos:>6}/{len:6} {msg}";
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix("Injecting");
            bar.set_message(label.to_owned());
            bar
        });
        Progress {
            bar,
            done: 0,
            planned,
        }
    }

    fn step(&mut self, label: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            // Without a terminal, a line at every tenth of a long subject (a log shows it moves).
            None if self.planned >= 50 && self.done % (self.planned / 10) == 0 => {
                eprintln!("  {label}: {}/{} injections", self.done, self.planned)
            }
            None => {}
        }
    }
}

fn paint(style: Style, code: &str, text: &str) -> String {
    match style.color {
        true => format!("\x1b[{code}m{text}\x1b[0m"),
        false => text.to_owned(),
    }
}

fn status_text(status: SubjectStatus, style: Style) -> String {
    let text = format!("{:>10}", status.to_string());
    let code = match status {
        SubjectStatus::Passed => "1;32",
        SubjectStatus::Caught => "1;36",
        SubjectStatus::NotCaughtInShard => "1;33",
        SubjectStatus::Failed
        | SubjectStatus::NotCaught
        | SubjectStatus::NotModelled
        | SubjectStatus::Incomplete => "1;31",
    };
    paint(style, code, &text)
}

/// `      PASS [   212 faults] intact            exit0 0     failed 212   old 212   new 0     torn 0     violations 0      95.2 faults/s`
pub fn status_line(result: &ErrorsSubjectResult, style: Style) -> String {
    let counts = result.counts();
    let mut line = format!(
        "{} [{:>6} faults] {:<17} exit0 {:<5} failed {:<5} old {:<5} new {:<5} absent {:<5} torn {:<5} violations {:<5} {:>7.1} faults/s",
        status_text(result.status(), style),
        counts.injections,
        result.subject.label,
        counts.exited_ok,
        counts.exited_failed,
        counts.old,
        counts.new,
        counts.absent,
        counts.torn,
        counts.violations,
        result.faults_per_second(),
    );
    for (label, count) in [("hung", counts.hung), ("not reached", counts.not_reached)] {
        if count > 0 {
            let _ = write!(line, "  {label} {count}");
        }
    }
    if result.incomplete {
        let _ = write!(
            line,
            "  stopped after {} of {}",
            counts.injections, result.planned
        );
    }
    line
}

/// The smallest violation's diagnosis, then a replay line per violation (the first
/// [`MAX_PRINTED_VIOLATIONS`]).
pub fn detail_lines(result: &ErrorsSubjectResult, settings: &Settings) -> Vec<String> {
    let indent = " ".repeat(11);
    let mut lines = Vec::new();
    if let Some(golden) = &result.golden {
        for what in &golden.unmodelled {
            lines.push(format!("{indent}not modelled: {what}"));
        }
        let left = crate::tracer::left_running_note(&golden.left_running);
        lines.extend(left.map(|note| format!("{indent}note: {note}")));
    }
    if let Some(smallest) = result.smallest() {
        let text = smallest.diagnosis.as_deref().unwrap_or_default();
        lines.push(format!("{indent}{}: {text}", smallest.injection));
    }
    let violating: Vec<&InjectionRecord> = result.violating().collect();
    for record in violating.iter().take(MAX_PRINTED_VIOLATIONS) {
        let what: Vec<String> = record.violations.iter().map(|v| v.to_string()).collect();
        lines.push(format!(
            "{indent}{}: {}; replay: {}",
            record.injection,
            what.join("; "),
            replay_command(&result.subject, settings, &record.injection)
        ));
    }
    if violating.len() > MAX_PRINTED_VIOLATIONS {
        let more = (violating.len() - MAX_PRINTED_VIOLATIONS) as u64;
        lines.push(format!(
            "{indent}... and {} (each with its replay command in results.jsonl)",
            count_of(more, "more violation", "more violations")
        ));
    }
    lines
}

/// `   Summary [  12.3s] 640 faults, 4 subjects: 2 passed, 2 canaries caught, 0 failed; 52.1 faults/s; seed 1`
pub fn summary_line(run: &ErrorsRunResult, style: Style) -> String {
    let tally = Tally::of(run.subjects.iter().map(|s| s.status()));
    let failed = tally.failed + tally.pending;
    let label = match run.all_as_expected() {
        true => paint(style, "1;32", "Summary"),
        false => paint(style, "1;31", "Summary"),
    };
    format!(
        "{:>width$} [{:>7}] {}, {}: {} passed, {} caught, {failed} failed; {:.1} faults/s; seed {}",
        label,
        format_seconds(run.elapsed),
        count_of(total_faults(run), "fault", "faults"),
        count_of(run.subjects.len() as u64, "subject", "subjects"),
        tally.passed,
        count_of(tally.caught as u64, "canary", "canaries"),
        faults_per_second(run),
        run.settings.seed,
        width = if style.color { 10 + 11 } else { 10 }
    )
}

fn total_faults(run: &ErrorsRunResult) -> u64 {
    run.subjects.iter().map(|s| s.records.len() as u64).sum()
}

/// Faults checked per second over the subjects' injection phases.
pub fn faults_per_second(run: &ErrorsRunResult) -> f64 {
    let seconds: f64 = run
        .subjects
        .iter()
        .map(|s| s.trial_time.as_secs_f64())
        .sum();
    match seconds > 0.0 {
        true => total_faults(run) as f64 / seconds,
        false => 0.0,
    }
}

/// One line of `results.jsonl`: one injection.
#[derive(Debug, Serialize)]
pub struct InjectionLine {
    pub subject: String,
    pub number: u64,
    pub injection: String,
    pub kind: &'static str,
    pub end: &'static str,
    pub exit: String,
    pub target: &'static str,
    pub power_safe: Option<bool>,
    pub orphans: Vec<String>,
    pub leftovers_after_recovery: usize,
    pub violations: Vec<&'static str>,
    pub diagnosis: Option<String>,
    pub replay: String,
}

/// One `--format json` line: one subject.
#[derive(Debug, Serialize)]
pub struct ErrorsSubjectLine {
    pub subject: String,
    pub status: String,
    pub expected: &'static str,
    pub fault_space: u64,
    pub injections: u64,
    pub violations: u64,
    pub faults_per_second: f64,
    pub smallest: Option<String>,
}

/// The injection's results line.
pub fn injection_line(
    result: &ErrorsSubjectResult,
    settings: &Settings,
    record: &InjectionRecord,
) -> InjectionLine {
    InjectionLine {
        subject: result.subject.label.clone(),
        number: record.number,
        injection: record.injection.to_string(),
        kind: record.injection.action.kind().name(),
        end: end_name(&record.end),
        exit: record.facts.exit.to_string(),
        target: record.facts.target.name(),
        power_safe: record.facts.power_safe,
        orphans: record.orphans.iter().map(|o| o.name.clone()).collect(),
        leftovers_after_recovery: record.facts.leftovers,
        violations: record.violations.iter().map(|v| v.name()).collect(),
        diagnosis: record.diagnosis.clone(),
        replay: replay_command(&result.subject, settings, &record.injection),
    }
}

/// The subject's `--format json` line.
pub fn subject_line(result: &ErrorsSubjectResult) -> ErrorsSubjectLine {
    let counts = result.counts();
    ErrorsSubjectLine {
        subject: result.subject.label.clone(),
        status: result.status().to_string(),
        expected: result.subject.expect.label(),
        fault_space: result.space_len,
        injections: counts.injections,
        violations: counts.violations,
        faults_per_second: result.faults_per_second(),
        smallest: result.smallest().and_then(|r| r.diagnosis.clone()),
    }
}

/// Writes `results.jsonl`, `summary.md` and `junit.xml` into `dir`.
pub fn write_files(dir: &Path, run: &ErrorsRunResult) -> io::Result<()> {
    let mut results = BufWriter::new(fs::File::create(dir.join("results.jsonl"))?);
    for result in &run.subjects {
        for record in &result.records {
            serde_json::to_writer(&mut results, &injection_line(result, &run.settings, record))?;
            results.write_all(b"\n")?;
        }
    }
    results.flush()?;
    fs::write(dir.join("summary.md"), summary_markdown(run))?;
    fs::write(dir.join("junit.xml"), junit(run).map_err(io::Error::other)?)
}

/// `summary.md`: a table of subjects, the smallest violations with replay commands, the speed.
pub fn summary_markdown(run: &ErrorsRunResult) -> String {
    let mut out = String::from("# torture errors\n\n");
    let _ = writeln!(
        out,
        "{} in {}: **{:.1} faults checked per second**; seed {}, --initial {}.\n",
        count_of(total_faults(run), "fault", "faults"),
        format_seconds(run.elapsed),
        faults_per_second(run),
        run.settings.seed,
        initial_name(run.settings.initial)
    );
    out.push_str("| subject | status | expected | fault space | injections | exited 0 | failed | torn | violating | faults/s |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for result in &run.subjects {
        let counts = result.counts();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            result.subject.label,
            result.status(),
            result.subject.expect.label(),
            result.space_len,
            counts.injections,
            counts.exited_ok,
            counts.exited_failed,
            counts.torn,
            counts.violations,
            result.faults_per_second()
        );
    }
    for result in &run.subjects {
        if let Some(smallest) = result.smallest() {
            let _ = write!(
                out,
                "\n## `{}`\n\n{}\n\n```sh\n{}\n```\n",
                result.subject.label,
                smallest.diagnosis.as_deref().unwrap_or_default(),
                replay_command(&result.subject, &run.settings, &smallest.injection)
            );
        }
    }
    if let Some(why) = unfinished(&run.end) {
        let _ = write!(out, "\n**Incomplete:** {why}\n");
    }
    out
}

fn unfinished(end: &RunEnd) -> Option<String> {
    match end {
        RunEnd::Completed => None,
        RunEnd::Interrupted => Some("the run was interrupted (Ctrl-C)".to_owned()),
        RunEnd::Failed(e) => Some(format!("harness error: {e}")),
    }
}

/// `junit.xml`: a suite per subject with its expectation case, and a failing case per
/// unexpected violation carrying the diagnosis and the replay command.
pub fn junit(run: &ErrorsRunResult) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("torture errors");
    report.set_time(run.elapsed);
    for result in &run.subjects {
        let classname = format!("torture-errors::{}", result.subject.label);
        let mut suite = TestSuite::new(classname.clone());
        suite.set_time(result.trial_time);
        let status = match result.status().as_expected() {
            true => TestCaseStatus::success(),
            false => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!("{}: {}", result.status(), expectation(result)));
                status
            }
        };
        suite.add_test_case(TestCase::new("expectation", status));
        if result.status() == SubjectStatus::Failed {
            for record in result.violating().take(100) {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(record.diagnosis.clone().unwrap_or_default());
                status.set_description(format!(
                    "replay: {}",
                    replay_command(&result.subject, &run.settings, &record.injection)
                ));
                let mut case = TestCase::new(format!("inject {}", record.injection), status);
                case.set_classname(classname.clone());
                suite.add_test_case(case);
            }
        }
        report.add_test_suite(suite);
    }
    if let Some(why) = unfinished(&run.end) {
        let mut suite = TestSuite::new("torture errors harness");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(why);
        suite.add_test_case(TestCase::new("run incomplete", status));
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn expectation(result: &ErrorsSubjectResult) -> String {
    format!(
        "expected {}, {} of {} violating",
        result.subject.expect.label(),
        result.counts().violations,
        count_of(result.records.len() as u64, "injection", "injections")
    )
}
