//! Terminal lines: one fixed-width status line per subject, its violations with replay commands,
//! and one summary line for the run. Pure formatting; [`super::Reporter`] prints.

use std::time::Duration;

use super::records::{describe_violations, end_name};
use crate::campaign::{self, RecoveryRecord, RunResult, Settings, SubjectResult, TrialRecord};
use torture_core::killpoint::{KillPoint, When};
use torture_core::oracle::{SubjectStatus, Tally};
pub use torture_core::words::count_of;

/// Violations printed per unexpectedly failing subject; the rest are in `results.jsonl`.
pub const MAX_PRINTED_VIOLATIONS: usize = 5;

/// ANSI styling, off when not writing to a terminal or when `NO_COLOR` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Whether to emit colour codes.
    pub color: bool,
}

impl Style {
    pub(crate) fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn status(self, status: SubjectStatus) -> String {
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
        line.push_str(&format!(
            "  stopped after {} of {}",
            counts.trials, result.planned_trials
        ));
    }
    line
}

/// Lines under a status line: notes, the smallest violating kill points, and (for unexpected
/// failures) violations with their replay commands.
pub fn detail_lines(result: &SubjectResult, settings: &Settings, style: Style) -> Vec<String> {
    let indent = " ".repeat(11);
    let mut lines: Vec<String> = match &result.golden {
        Some(golden) => golden
            .notes
            .iter()
            .map(|note| format!("{indent}note: {note}"))
            .collect(),
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
        SubjectStatus::NotCaughtInShard => lines.push(format!(
            "{indent}canary not caught in this shard: its violations may lie in another; `torture merge` judges it"
        )),
        SubjectStatus::Incomplete => lines.push(format!(
            "{indent}the run stopped before this subject was judged: no verdict"
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
                "{indent}smallest violating {label}: {}{}: {}",
                trial.point,
                point_context(result, trial.point),
                describe_violations(trial)
            ));
            lines.push(format!(
                "{indent}  replay: {}",
                campaign::replay_command(&result.subject, settings, trial.point)
            ));
        }
    }
    let first = [by_byte, by_syscall].into_iter().flatten().next();
    if let Some(violation) = first.and_then(|trial| trial.violations.first()) {
        lines.push(format!("{indent}  Fix: {}.", violation.fix()));
    }
    lines
}

fn violation_lines(result: &SubjectResult, settings: &Settings, indent: &str) -> Vec<String> {
    let violating: Vec<&TrialRecord> = result
        .trials
        .iter()
        .filter(|t| !t.violations.is_empty())
        .collect();
    let mut lines: Vec<String> = violating
        .iter()
        .take(MAX_PRINTED_VIOLATIONS)
        .map(|trial| {
            format!(
                "{indent}violation at {}{}: {}\n{indent}  replay: {}",
                trial.point,
                point_context(result, trial.point),
                describe_violations(trial),
                campaign::replay_command(&result.subject, settings, trial.point)
            )
        })
        .collect();
    if violating.len() > MAX_PRINTED_VIOLATIONS {
        let more = (violating.len() - MAX_PRINTED_VIOLATIONS) as u64;
        lines.push(format!(
            "{indent}... and {} (each with its replay command in results.jsonl)",
            count_of(more, "more violation", "more violations")
        ));
    }
    lines
}

/// `   Summary [  23.4s] 8000 trials, 8 subjects: 6 passed, 2 canaries caught, 0 failed; ...`
pub fn summary_line(run: &RunResult, style: Style) -> String {
    let Tally {
        passed,
        caught,
        pending,
        failed,
    } = Tally::of(run.subjects.iter().map(|s| s.status()));
    let trials: u64 = run.subjects.iter().map(|s| s.trials.len() as u64).sum();
    let label = if run.all_as_expected() && failed == 0 {
        style.paint("1;32", "Summary")
    } else {
        style.paint("1;31", "Summary")
    };
    let mut line = format!(
        "{:>width$} [{:>7}] {}, {}: {passed} passed, {} caught, {failed} failed",
        label,
        format_seconds(run.elapsed),
        count_of(trials, "trial", "trials"),
        count_of(run.subjects.len() as u64, "subject", "subjects"),
        count_of(caught as u64, "canary", "canaries"),
        width = if style.color { 10 + 11 } else { 10 }
    );
    if pending > 0 {
        let canaries = count_of(pending as u64, "canary", "canaries");
        line.push_str(&format!(", {canaries} not caught in this shard"));
    }
    if let Some(partition) = run.settings.partition {
        line.push_str(&format!("; partition {partition}"));
    }
    if let Some(speed) = speed_phrase(run) {
        line.push_str(&format!("; {speed}"));
    }
    line.push_str(&format!("; seed {}", run.settings.seed));
    line
}

/// Trial rate against the spawn baseline, over built-in subjects: trials over trial time,
/// against the per-subject baselines weighted by each subject's trial time.
pub fn speed_phrase(run: &RunResult) -> Option<String> {
    let measured: Vec<(&SubjectResult, f64)> = run
        .subjects
        .iter()
        .filter(|s| matches!(s.subject.kind, campaign::SubjectKind::Builtin { .. }))
        .filter_map(|s| s.baseline.as_ref().map(|b| (s, b.per_second)))
        .filter(|(_, per_second)| *per_second > 0.0)
        .collect();
    let seconds: f64 = measured
        .iter()
        .map(|(s, _)| s.trial_time.as_secs_f64())
        .sum();
    if seconds <= 0.0 {
        return None;
    }
    let trials: usize = measured.iter().map(|(s, _)| s.trials.len()).sum();
    let baseline: f64 = measured
        .iter()
        .map(|(s, b)| b * s.trial_time.as_secs_f64())
        .sum::<f64>()
        / seconds;
    let rate = trials as f64 / seconds;
    Some(format!(
        "{rate:.1} trials/s vs {baseline:.1} spawns/s baseline ({:.2}x)",
        rate / baseline
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
        lines.push(format!(
            "{indent}kill point {}{}: writer {}",
            trial.point,
            point_context(result, trial.point),
            end_name(&trial.end)
        ));
        lines.push(match &trial.reason {
            Some(reason) => format!("{indent}after the crash: --check rejected the tree: {reason}"),
            None => format!("{indent}after the crash: target {}", trial.verdict),
        });
        for orphan in &trial.orphans {
            lines.push(format!(
                "{indent}  orphan: {} ({} bytes)",
                orphan.name, orphan.size_bytes
            ));
        }
        lines.extend(recovery_lines(trial.recovery.as_ref(), &indent));
        if !trial.violations.is_empty() {
            lines.push(format!("{indent}violation: {}", describe_violations(trial)));
        }
    }
    lines
}

/// The recovery run of a trial as replay lines.
fn recovery_lines(recovery: Option<&RecoveryRecord>, indent: &str) -> Vec<String> {
    let Some(recovery) = recovery else {
        return vec![format!(
            "{indent}recovery: --recover ran before --check, in place of the writer's run"
        )];
    };
    let outcome = match recovery.failure {
        None => "ok",
        Some(_) => "FAILED",
    };
    let mut lines = vec![format!(
        "{indent}recovery run: {}, target {}: {outcome}",
        recovery.exit, recovery.verdict
    )];
    for orphan in &recovery.orphans {
        lines.push(format!(
            "{indent}  orphan after recovery: {} ({} bytes)",
            orphan.name, orphan.size_bytes
        ));
    }
    lines
}

/// `, before renameat2 .tmp-x` for a syscall point, empty for a byte point.
pub fn point_context(result: &SubjectResult, point: KillPoint) -> String {
    let KillPoint::Syscall(index) = point else {
        return String::new();
    };
    let boundary = result.golden.as_ref().and_then(|g| g.space.boundary(index));
    match boundary {
        Some(b) => {
            let when = match b.when {
                When::Before => "before",
                When::After => "after",
            };
            format!(", {when} {} {}", b.syscall, b.path)
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use torture_core::oracle::Expect;

    const PLAIN: Style = Style { color: false };

    #[test]
    fn status_line_has_fixed_columns() {
        let result = fixture::subject("plain", Expect::Caught, 4, 3);
        let line = status_line(&result, PLAIN);
        assert_eq!(
            line,
            "    CAUGHT [     4 trials] plain             absent 0     old 1     new 0     torn 3     orphans 0         8.0 trials/s"
        );
        let other = status_line(
            &fixture::subject("intact-anonymous", Expect::Pass, 4, 0),
            PLAIN,
        );
        assert_eq!(line.find("absent"), other.find("absent"), "{other}");
        assert!(other.starts_with("      PASS ["), "{other}");
    }

    #[test]
    fn a_caught_canary_shows_its_smallest_violations_with_replays() {
        let result = fixture::subject("plain", Expect::Caught, 4, 4);
        let lines = detail_lines(&result, &fixture::settings(), PLAIN).join("\n");
        assert!(
            lines.contains("smallest violating byte offset: byte:1: target torn"),
            "{lines}"
        );
        assert!(
            lines.contains(
                "smallest violating syscall boundary: syscall:1, after openat target.json"
            ),
            "{lines}"
        );
        assert!(lines.contains("replay: torture kill --subject plain --size 4096 --initial old --seed 7 --kill-at byte:1"), "{lines}");
        assert!(
            !lines.contains("violation at"),
            "expected violations are not listed one by one: {lines}"
        );
    }

    #[test]
    fn an_unexpected_failure_lists_violations_with_replays() {
        let result = fixture::subject("intact", Expect::Pass, 9, 8);
        let lines = detail_lines(&result, &fixture::settings(), PLAIN).join("\n");
        assert_eq!(
            lines.matches("violation at").count(),
            MAX_PRINTED_VIOLATIONS,
            "{lines}"
        );
        assert!(
            lines.contains("violation at byte:1: target torn"),
            "{lines}"
        );
        assert!(lines.contains("... and 3 more violations"), "{lines}");
        let one_more = fixture::subject("intact", Expect::Pass, 7, 6);
        let lines = detail_lines(&one_more, &fixture::settings(), PLAIN).join("\n");
        assert!(lines.contains("... and 1 more violation "), "{lines}");
        assert_eq!(
            status_line(&result, PLAIN).trim_start().split(' ').next(),
            Some("FAIL")
        );
    }

    #[test]
    fn a_canary_that_is_not_caught_says_the_harness_failed() {
        let result = fixture::subject("plain", Expect::Caught, 4, 0);
        let lines = detail_lines(&result, &fixture::settings(), PLAIN).join("\n");
        assert!(
            lines.contains("canary not caught: the harness itself has failed"),
            "{lines}"
        );
    }

    #[test]
    fn the_summary_line_pluralises() {
        let run = fixture::run(vec![fixture::subject("intact", Expect::Pass, 1, 0)]);
        let line = summary_line(&run, PLAIN);
        assert!(
            line.contains("1 trial, 1 subject: 1 passed, 0 canaries caught"),
            "{line}"
        );
    }

    #[test]
    fn a_shard_reports_an_uncaught_canary_as_pending() {
        let mut result = fixture::subject("plain", Expect::Caught, 4, 0);
        result.coverage = torture_core::oracle::Coverage::Shard;
        assert_eq!(result.status(), SubjectStatus::NotCaughtInShard);
        let line = status_line(&result, PLAIN);
        assert!(line.starts_with("   PENDING ["), "{line}");
        let lines = detail_lines(&result, &fixture::settings(), PLAIN).join("\n");
        assert!(lines.contains("canary not caught in this shard"), "{lines}");
        let run = fixture::run(vec![result]);
        assert!(run.all_as_expected());
        let summary = summary_line(&run, PLAIN);
        assert!(
            summary.contains("1 canary not caught in this shard"),
            "{summary}"
        );
    }

    #[test]
    fn summary_line_counts_subjects_and_compares_with_the_baseline() {
        let run = fixture::run(vec![
            fixture::subject("plain", Expect::Caught, 4, 4),
            fixture::subject("intact", Expect::Pass, 4, 0),
        ]);
        let line = summary_line(&run, PLAIN);
        assert!(
            line.starts_with(
                "   Summary [   1.0s] 8 trials, 2 subjects: 1 passed, 1 canary caught, 0 failed"
            ),
            "{line}"
        );
        assert!(
            line.contains("8.0 trials/s vs 400.0 spawns/s baseline (0.02x)"),
            "{line}"
        );
    }
}
