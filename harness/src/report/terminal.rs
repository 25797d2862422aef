//! Terminal lines: one fixed-width status line per subject, its violations with replay commands,
//! and one summary line for the run. Pure formatting; [`super::Reporter`] prints.

use std::time::Duration;

use super::records::{describe_violations, end_name};
use crate::campaign::{self, RunResult, Settings, SubjectResult, TrialRecord};
use crate::oracle::SubjectStatus;

/// Violations printed per unexpectedly failing subject; the rest are in `results.jsonl`.
pub const MAX_PRINTED_VIOLATIONS: usize = 5;

/// ANSI styling, off when not writing to a terminal or when `NO_COLOR` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Whether to emit colour codes.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn status(self, status: SubjectStatus) -> String {
        let text = format!("{:>10}", status.to_string());
        let code = match status {
            SubjectStatus::Passed => "1;32",
            SubjectStatus::Caught => "1;36",
            SubjectStatus::Failed | SubjectStatus::NotCaught | SubjectStatus::NotModelled => "1;31",
        };
        self.paint(code, &text)
    }
}

/// `   PASS [  1000 trials] intact            absent 0     old 612   new 388   torn 0     orphans 0     412.3 trials/s`
pub fn status_line(result: &SubjectResult, style: Style) -> String {
    let counts = result.counts();
    let mut line = format!(
        "{} [{:>6} trials] {:<17} absent {:<5} old {:<5} new {:<5} torn {:<5} orphans {:<5} {:>7.1} trials/s",
        style.status(result.status()),
        counts.trials,
        result.subject.label,
        counts.absent,
        counts.old,
        counts.new,
        counts.torn,
        counts.orphans,
        result.trials_per_second(),
    );
    let extras = [
        ("recovery failed", counts.recovery_failures),
        ("not reached", counts.not_reached),
        ("hung", counts.timed_out),
    ];
    for (label, count) in extras.into_iter().filter(|(_, count)| *count > 0) {
        line.push_str(&format!("  {label} {count}"));
    }
    if result.incomplete {
        line.push_str(&format!("  stopped after {} of {}", counts.trials, result.planned_trials));
    }
    line
}

/// Lines under a status line: notes, the smallest violating kill points, and (for unexpected
/// failures) violations with their replay commands.
pub fn detail_lines(result: &SubjectResult, settings: &Settings, style: Style) -> Vec<String> {
    let indent = " ".repeat(11);
    let mut lines: Vec<String> = match &result.golden {
        Some(golden) => golden.notes.iter().map(|note| format!("{indent}note: {note}")).collect(),
        None => Vec::new(),
    };
    let status = result.status();
    match status {
        SubjectStatus::NotCaught => lines.push(format!(
            "{indent}{}",
            style.paint("1;31", "canary not caught: the harness itself has failed")
        )),
        SubjectStatus::NotModelled => lines.push(format!(
            "{indent}the writer does something the tracer does not model: this pass cannot be trusted"
        )),
        SubjectStatus::Passed | SubjectStatus::Caught | SubjectStatus::Failed => {}
    }
    lines.extend(smallest_lines(result, settings, &indent));
    if status == SubjectStatus::Failed {
        lines.extend(violation_lines(result, settings, &indent));
    }
    lines
}

fn smallest_lines(result: &SubjectResult, settings: &Settings, indent: &str) -> Vec<String> {
    let (by_byte, by_syscall) = result.smallest_violations();
    let mut lines = Vec::new();
    for (label, trial) in [("byte offset", by_byte), ("syscall boundary", by_syscall)] {
        if let Some(trial) = trial {
            lines.push(format!(
                "{indent}smallest violating {label}: {} ({})",
                trial.point,
                describe_violations(trial)
            ));
            lines.push(format!("{indent}  replay: {}", campaign::replay_command(&result.subject, settings, trial.point)));
        }
    }
    lines
}

fn violation_lines(result: &SubjectResult, settings: &Settings, indent: &str) -> Vec<String> {
    let violating: Vec<&TrialRecord> = result.trials.iter().filter(|t| !t.violations.is_empty()).collect();
    let mut lines: Vec<String> = violating
        .iter()
        .take(MAX_PRINTED_VIOLATIONS)
        .map(|trial| {
            format!(
                "{indent}violation at {}: {}\n{indent}  replay: {}",
                trial.point,
                describe_violations(trial),
                campaign::replay_command(&result.subject, settings, trial.point)
            )
        })
        .collect();
    if violating.len() > MAX_PRINTED_VIOLATIONS {
        lines.push(format!(
            "{indent}... and {} more violations (each with its replay command in results.jsonl)",
            violating.len() - MAX_PRINTED_VIOLATIONS
        ));
    }
    lines
}

/// `   Summary [  23.4s] 8000 trials, 8 subjects: 6 passed, 2 canaries caught, 0 failed; ...`
pub fn summary_line(run: &RunResult, style: Style) -> String {
    let count = |wanted: &[SubjectStatus]| run.subjects.iter().filter(|s| wanted.contains(&s.status())).count();
    let passed = count(&[SubjectStatus::Passed]);
    let caught = count(&[SubjectStatus::Caught]);
    let failed = count(&[SubjectStatus::Failed, SubjectStatus::NotCaught, SubjectStatus::NotModelled]);
    let trials: u64 = run.subjects.iter().map(|s| s.trials.len() as u64).sum();
    let label = if run.all_as_expected() && failed == 0 { style.paint("1;32", "Summary") } else { style.paint("1;31", "Summary") };
    let mut line = format!(
        "{:>width$} [{:>7}] {trials} trials, {} subjects: {passed} passed, {caught} canaries caught, {failed} failed",
        label,
        format_seconds(run.elapsed),
        run.subjects.len(),
        width = if style.color { 10 + 11 } else { 10 }
    );
    if let Some(speed) = speed_phrase(run) {
        line.push_str(&format!("; {speed}"));
    }
    line.push_str(&format!("; seed {}", run.settings.seed));
    line
}

/// Trial rate against the spawn baseline, over built-in subjects.
pub fn speed_phrase(run: &RunResult) -> Option<String> {
    let builtins: Vec<&SubjectResult> = run
        .subjects
        .iter()
        .filter(|s| matches!(s.subject.kind, campaign::SubjectKind::Builtin { .. }))
        .collect();
    let baseline = builtins.iter().find_map(|s| s.baseline.as_ref())?;
    let trials: usize = builtins.iter().map(|s| s.trials.len()).sum();
    let seconds: f64 = builtins.iter().map(|s| s.trial_time.as_secs_f64()).sum();
    if seconds <= 0.0 || baseline.per_second <= 0.0 {
        return None;
    }
    let rate = trials as f64 / seconds;
    Some(format!(
        "{rate:.1} trials/s vs {:.1} spawns/s baseline ({:.2}x)",
        baseline.per_second,
        rate / baseline.per_second
    ))
}

/// `12.3s`
pub fn format_seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// The detailed lines of a single replayed trial (`--kill-at`).
pub fn replay_lines(result: &SubjectResult) -> Vec<String> {
    let indent = " ".repeat(11);
    let mut lines = Vec::new();
    for trial in &result.trials {
        lines.push(format!("{indent}kill point {}: writer {}", trial.point, end_name(trial.end)));
        lines.push(format!("{indent}after the crash: target {}", trial.verdict));
        for orphan in &trial.orphans {
            lines.push(format!("{indent}  orphan: {} ({} bytes)", orphan.name, orphan.size_bytes));
        }
        let recovery = &trial.recovery;
        let outcome = if recovery.failure.is_none() { "ok" } else { "FAILED" };
        lines.push(format!("{indent}recovery run: {}, target {}: {outcome}", recovery.exit, recovery.verdict));
        for orphan in &recovery.orphans {
            lines.push(format!("{indent}  orphan after recovery: {} ({} bytes)", orphan.name, orphan.size_bytes));
        }
        if !trial.violations.is_empty() {
            lines.push(format!("{indent}violation: {}", describe_violations(trial)));
        }
    }
    lines
}
