//! The one verdict of a run and its one JSON summary, the same for every command (`kill`,
//! `power`, `power --real`, `errors`, `race`, `merge`, the main job). The exit code is decided
//! here, by [`Verdict::exit_code`], and nowhere else. The schema is documented in
//! `reports/README.md`, and a test checks it against every command's real output.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use torture_core::oracle::{self, Coverage, Expect, SubjectStatus};
use torture_core::power::PowerViolation;

use crate::campaign::errors::ErrorsSubjectResult;
use crate::campaign::power::PowerResult;
use crate::campaign::race::RaceResult;
use crate::campaign::real::{RealState, RealSubject};
use crate::campaign::{Settings, SubjectResult};

/// How a run, or one subject of it, ended. Ordered from best to worst: a run's verdict is the
/// worst of its subjects' and of how it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every subject as expected (exit 0).
    AsExpected,
    /// No violation, but the tracer could not see everything the writer did (exit 3).
    NotModelled,
    /// A violation, a canary not caught, a real state that breaks the writer's contract, or a
    /// subject the run could not finish (exit 1).
    Violation,
    /// A real file system left a state the power-cut model does not allow: the harness's model
    /// is wrong, whatever the writer did (exit 4).
    ModelBug,
    /// Bad usage, or the harness could not do its work (exit 2).
    HarnessError,
    /// Stopped by Ctrl-C or a signal; the report is partial (exit 130).
    Interrupted,
}

impl Verdict {
    /// The process exit code of a run with this verdict: the one place it is decided.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::AsExpected => 0,
            Verdict::Violation => 1,
            Verdict::HarnessError => 2,
            Verdict::NotModelled => 3,
            Verdict::ModelBug => 4,
            Verdict::Interrupted => 130,
        }
    }

    /// A subject's verdict from its status.
    pub fn of_status(status: SubjectStatus) -> Verdict {
        match status {
            SubjectStatus::Passed | SubjectStatus::Caught | SubjectStatus::NotCaughtInShard => {
                Verdict::AsExpected
            }
            SubjectStatus::Failed | SubjectStatus::NotCaught | SubjectStatus::Incomplete => {
                Verdict::Violation
            }
            SubjectStatus::NotModelled => Verdict::NotModelled,
        }
    }

    /// The name used in JSON and on the verdict line.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::AsExpected => "as_expected",
            Verdict::NotModelled => "not_modelled",
            Verdict::Violation => "violation",
            Verdict::ModelBug => "model_bug",
            Verdict::HarnessError => "harness_error",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// One subject under one crash kind, in every command's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSummary {
    /// The subject's label.
    pub subject: String,
    /// `kill`, `power`, `errors`, `race`, or `real:<fs>` for `power --real`.
    pub crash_kind: String,
    /// What it must show.
    pub expected: Expect,
    /// How it compared with that.
    pub status: SubjectStatus,
    /// Its verdict (the run's is the worst of these).
    pub verdict: Verdict,
    /// Trials, crash states, injections, interleavings or real states judged.
    pub checked: u64,
    /// Of those, how many showed a violation of the writer's contract.
    pub violations: u64,
    /// Real states outside the power-cut model (`power --real` only; else 0).
    pub model_bugs: u64,
    /// The smallest violation, in a phrase.
    pub diagnosis: Option<String>,
    /// What the writer changes to avoid it.
    pub fix: Option<String>,
}

/// The last line of every command's `--format json` output, and `summary.json` in its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSummary {
    /// Always `"summary"`, to tell this line from per-subject lines.
    pub kind: String,
    /// `kill`, `power`, `power --real`, `errors`, `race`, `merge` or `main`.
    pub command: String,
    /// The run's id (its report directory's name).
    pub run_id: String,
    /// The seed of every draw, to replay the run.
    pub seed: Option<u64>,
    /// The `--partition` shard `M/N` this run covers; `null` for a whole run.
    pub partition: Option<String>,
    /// The run's verdict.
    pub verdict: Verdict,
    /// The process's exit code (`verdict`'s).
    pub exit_code: u8,
    /// Whether the run was stopped before its end (the counts are partial).
    pub interrupted: bool,
    /// Every subject under every crash kind the run judged.
    pub subjects: Vec<SubjectSummary>,
    /// The report directory, `null` with `--no-report`.
    pub report_dir: Option<PathBuf>,
    /// Wall time of the run.
    pub elapsed_ms: u64,
}

/// How a run stopped, apart from its subjects' verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It ran to its end.
    Completed,
    /// Ctrl-C or a signal.
    Interrupted,
}

impl RunSummary {
    /// A summary of `subjects`: the verdict is the worst subject's, `Interrupted` when the run
    /// was stopped, and a harness error when no subject was judged (nothing tested is no pass).
    pub fn new(command: &str, run_id: &str, subjects: Vec<SubjectSummary>, stop: Stop) -> Self {
        let worst = subjects.iter().map(|s| s.verdict).max();
        let verdict = match (stop, worst) {
            (Stop::Interrupted, _) => Verdict::Interrupted,
            (Stop::Completed, None) => Verdict::HarnessError,
            (Stop::Completed, Some(worst)) => worst,
        };
        RunSummary {
            kind: "summary".to_owned(),
            command: command.to_owned(),
            run_id: run_id.to_owned(),
            seed: None,
            partition: None,
            verdict,
            exit_code: verdict.exit_code(),
            interrupted: stop == Stop::Interrupted,
            subjects,
            report_dir: None,
            elapsed_ms: 0,
        }
    }

    /// The summary, with a verdict no better than `floor` (a harness error met on the way).
    pub fn at_least(mut self, floor: Verdict) -> Self {
        self.verdict = self.verdict.max(floor);
        self.exit_code = self.verdict.exit_code();
        self
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"kind\":\"summary\",\"error\":\"{e}\"}}"))
    }

    /// Writes `summary.json` into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("summary.json"), text)
    }

    /// Why the verdict is what it is, one line per subject that is not as expected, for stderr.
    pub fn explanations(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .subjects
            .iter()
            .filter(|s| s.verdict != Verdict::AsExpected)
            .map(explanation)
            .collect();
        if self.subjects.is_empty() && !self.interrupted {
            lines.push("error: no subject was judged: nothing was tested".to_owned());
        }
        lines
    }
}

/// `torture: <subject> (<kind>): <why>`, by status; model bugs get their own words.
fn explanation(s: &SubjectSummary) -> String {
    let why = match (s.model_bugs, s.status) {
        (1.., _) => format!(
            "MODEL BUG: {} real states outside the power-cut model: the harness's model is wrong, not only the writer",
            s.model_bugs
        ),
        (0, SubjectStatus::NotCaught) => {
            "canary not caught: the harness itself has failed".to_owned()
        }
        (0, SubjectStatus::NotModelled) => {
            "not modelled: the writer does what the tracer cannot see; no verdict".to_owned()
        }
        (0, SubjectStatus::Incomplete) => {
            "incomplete: the run stopped before this subject was judged".to_owned()
        }
        (0, SubjectStatus::Failed) => format!(
            "{} of {} checked broke the contract{}",
            s.violations,
            s.checked,
            s.diagnosis
                .as_deref()
                .map(|d| format!("; smallest: {d}"))
                .unwrap_or_default()
        ),
        (0, SubjectStatus::Passed | SubjectStatus::Caught | SubjectStatus::NotCaughtInShard) => {
            "as expected".to_owned()
        }
    };
    let fix = s
        .fix
        .as_deref()
        .map(|fix| format!("\n  Fix: {fix}."))
        .unwrap_or_default();
    format!("torture: {} ({}): {why}{fix}", s.subject, s.crash_kind)
}

/// Joins the summaries of a campaign split with `--partition` (kill has its own trial-level merge;
/// this one serves every campaign whose shards leave a `summary.json`): the same command and
/// seed, shards 1/N to N/N once each, the same subjects; counts add up and each subject is judged
/// again over all shards (a canary caught in any shard is caught).
pub fn merge(run_id: &str, shards: &[RunSummary]) -> Result<RunSummary, String> {
    let first = one_campaign(shards)?;
    let subjects = first
        .subjects
        .iter()
        .map(|s| merged_subject(s, shards))
        .collect::<Result<Vec<_>, String>>()?;
    let stop = match shards.iter().any(|s| s.interrupted) {
        true => Stop::Interrupted,
        false => Stop::Completed,
    };
    let floor = shards
        .iter()
        .map(|s| s.verdict)
        .filter(|v| *v == Verdict::HarnessError)
        .max();
    let mut merged = RunSummary::new("merge", run_id, subjects, stop)
        .at_least(floor.unwrap_or(Verdict::AsExpected));
    merged.seed = first.seed;
    merged.elapsed_ms = shards.iter().map(|s| s.elapsed_ms).sum();
    Ok(merged)
}

/// The first shard, once the shards are checked to be one campaign: the same command and seed,
/// and every partition 1/N to N/N once.
fn one_campaign(shards: &[RunSummary]) -> Result<&RunSummary, String> {
    let first = shards.first().ok_or("no shard to merge")?;
    let mut seen: Vec<String> = shards.iter().filter_map(|s| s.partition.clone()).collect();
    seen.sort();
    let count = shards.len();
    let mut expected: Vec<String> = (1..=count).map(|m| format!("{m}/{count}")).collect();
    expected.sort();
    if seen != expected {
        return Err(format!(
            "the shards are {seen:?}: give every partition 1/{count} to {count}/{count} once"
        ));
    }
    match shards
        .iter()
        .find(|s| (s.command.as_str(), s.seed) != (first.command.as_str(), first.seed))
    {
        Some(odd) => Err(format!(
            "shard {} is `{}` with seed {:?}, shard {} `{}` with seed {:?}: not one campaign",
            odd.partition.as_deref().unwrap_or("?"),
            odd.command,
            odd.seed,
            first.partition.as_deref().unwrap_or("?"),
            first.command,
            first.seed
        )),
        None => Ok(first),
    }
}

/// One subject over every shard.
fn merged_subject(one: &SubjectSummary, shards: &[RunSummary]) -> Result<SubjectSummary, String> {
    let parts: Vec<&SubjectSummary> = shards
        .iter()
        .filter_map(|shard| {
            shard
                .subjects
                .iter()
                .find(|s| s.subject == one.subject && s.crash_kind == one.crash_kind)
        })
        .collect();
    if parts.len() != shards.len() {
        return Err(format!("subject {} is not in every shard", one.subject));
    }
    let violations = parts.iter().map(|s| s.violations).sum();
    let statuses = parts.iter().map(|s| s.status);
    let status = match statuses.clone().any(|s| s == SubjectStatus::Incomplete) {
        true => SubjectStatus::Incomplete,
        false => {
            let modelled = statuses.clone().all(|s| s != SubjectStatus::NotModelled);
            oracle::subject_status(one.expected, violations, modelled, Coverage::Whole)
        }
    };
    let first_found = parts.iter().find(|s| s.diagnosis.is_some());
    Ok(SubjectSummary {
        status,
        verdict: Verdict::of_status(status),
        checked: parts.iter().map(|s| s.checked).sum(),
        violations,
        model_bugs: parts.iter().map(|s| s.model_bugs).sum(),
        diagnosis: first_found.and_then(|s| s.diagnosis.clone()),
        fix: first_found.and_then(|s| s.fix.clone()),
        ..one.clone()
    })
}

/// Splits `… Fix: what.` into the diagnosis and the fix.
pub fn split_fix(text: &str) -> (String, Option<String>) {
    match text.split_once("Fix: ") {
        Some((diagnosis, fix)) => (
            diagnosis.trim_end().to_owned(),
            Some(fix.trim_end_matches('.').trim().to_owned()),
        ),
        None => (text.to_owned(), None),
    }
}

fn subject_summary(
    subject: &str,
    crash_kind: &str,
    expected: Expect,
    status: SubjectStatus,
    counts: (u64, u64),
    diagnosis: Option<String>,
) -> SubjectSummary {
    let (diagnosis, fix) = match diagnosis.as_deref().map(split_fix) {
        Some((diagnosis, fix)) => (Some(diagnosis), fix),
        None => (None, None),
    };
    SubjectSummary {
        subject: subject.to_owned(),
        crash_kind: crash_kind.to_owned(),
        expected,
        status,
        verdict: Verdict::of_status(status),
        checked: counts.0,
        violations: counts.1,
        model_bugs: 0,
        diagnosis,
        fix,
    }
}

/// A kill campaign's subject.
pub fn kill_subject(result: &SubjectResult, settings: &Settings) -> SubjectSummary {
    let counts = result.counts();
    let smallest = super::records::smallest(result, settings);
    let first = result.trials.iter().find_map(|t| t.violations.first());
    let mut summary = subject_summary(
        &result.subject.label,
        "kill",
        result.subject.expect,
        result.status(),
        (counts.trials, counts.violations),
        smallest.map(|s| format!("{} at {}", s.violation, s.kill_point)),
    );
    summary.fix = first.map(|v| v.fix().to_owned());
    summary
}

/// A power campaign's subject.
pub fn power_subject(result: &PowerResult) -> SubjectSummary {
    subject_summary(
        &result.subject.label,
        "power",
        result.subject.expect,
        result.status(),
        (result.exploration.states_checked, result.violations()),
        super::power::smallest_diagnosis(result),
    )
}

/// An I/O-errors campaign's subject.
pub fn errors_subject(result: &ErrorsSubjectResult) -> SubjectSummary {
    let counts = result.counts();
    subject_summary(
        &result.subject.label,
        "errors",
        result.subject.expect,
        result.status(),
        (counts.injections, counts.violations),
        result.smallest().and_then(|r| r.diagnosis.clone()),
    )
}

/// A race campaign's subject.
pub fn race_subject(result: &RaceResult) -> SubjectSummary {
    let fix_line = result.finding.as_ref().and_then(|f| {
        f.diagnosis
            .lines
            .iter()
            .find_map(|line| line.strip_prefix("Fix: "))
            .map(|fix| fix.trim_end_matches('.').to_owned())
    });
    let mut summary = subject_summary(
        &result.label,
        "race",
        result.expect,
        result.status,
        (result.explored, u64::from(result.finding.is_some())),
        result.finding.as_ref().map(|f| f.violation.clone()),
    );
    summary.fix = fix_line;
    summary
}

/// A real file system's subject: every subject must keep its contract on real disks (a canary
/// that a kind file system spares is no harness failure), and a state outside the model is a
/// model bug, apart from the writer's verdict.
pub fn real_subject(fs: &str, subject: &RealSubject) -> SubjectSummary {
    let violations = subject
        .states
        .iter()
        .filter(|s| s.violation.is_some())
        .count() as u64;
    let model_bugs = subject.model_bugs().count() as u64;
    let status = match subject.states.is_empty() {
        true => SubjectStatus::Incomplete,
        false => oracle::subject_status(Expect::Pass, violations, true, Coverage::Whole),
    };
    let first = subject.first_violation();
    let (_, model_fix) = split_fix(subject.model.diagnosis.as_deref().unwrap_or_default());
    SubjectSummary {
        subject: subject.label.clone(),
        crash_kind: format!("real:{fs}"),
        expected: Expect::Pass,
        status,
        verdict: match model_bugs {
            0 => Verdict::of_status(status),
            _ => Verdict::ModelBug,
        },
        checked: subject.states.len() as u64,
        violations,
        model_bugs,
        diagnosis: first.map(real_diagnosis),
        // The simulation's first fix speaks of the target alone: a checker's verdict gets the
        // fix of the state the model places its tree at.
        fix: first
            .and_then(|s| s.violation.map(|v| (s, v)))
            .map(|(s, v)| match v {
                PowerViolation::CheckFailed => s
                    .diagnosis
                    .as_deref()
                    .and_then(|d| split_fix(d).1)
                    .unwrap_or_else(|| real_fix(v).to_owned()),
                PowerViolation::Torn | PowerViolation::OldLost | PowerViolation::AckedLost => {
                    model_fix.unwrap_or_else(|| real_fix(v).to_owned())
                }
            }),
    }
}

/// `ACK-LOST: target old at e9+0ms`.
pub fn real_diagnosis(state: &RealState) -> String {
    let what = state.violation.map_or("ok", |v| v.name());
    match &state.reason {
        Some(reason) => {
            let placed = state.diagnosis.as_deref().map(|d| split_fix(d).0);
            let placed = placed.map_or(String::new(), |told| format!("; {told}"));
            format!(
                "{what} at {}: the checker said {reason:?}{placed}",
                state.point
            )
        }
        None => format!("{what}: target {} at {}", state.class.name(), state.point),
    }
}

/// The fix for a real violation when the simulation had none to offer (under `--check`: a
/// tree the model does not place).
fn real_fix(violation: PowerViolation) -> &'static str {
    match violation {
        PowerViolation::Torn => "write a temp file, fsync it, then rename it over the target",
        PowerViolation::OldLost => {
            "never truncate or unlink the target before the new version is durable"
        }
        PowerViolation::AckedLost => {
            "fsync the temp file before the rename and the directory after it, then acknowledge"
        }
        PowerViolation::CheckFailed => {
            "make each step durable (fsync the file, then its directory) before a later step or an acknowledgement depends on it"
        }
    }
}

/// A subject's test case: failed unless as expected.
fn junit_case(kind: &str, s: &SubjectSummary) -> quick_junit::TestCase {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus};
    let status = match s.verdict {
        Verdict::AsExpected => TestCaseStatus::success(),
        other @ (Verdict::NotModelled
        | Verdict::Violation
        | Verdict::ModelBug
        | Verdict::HarnessError
        | Verdict::Interrupted) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!(
                "{}: {} (expected {})",
                other.name(),
                s.status,
                s.expected
            ));
            status.set_description(explanation(s));
            status
        }
    };
    let mut case = TestCase::new(format!("{} ({kind})", s.subject), status);
    case.set_classname(format!("torture-{kind}::{}", s.subject));
    case
}

/// `junit.xml` from a summary: a suite per crash kind, a case per subject; failed unless as
/// expected, and an interrupted run is an error case of its own (never green).
pub fn junit(summary: &RunSummary) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new(format!("torture {}", summary.command));
    report.set_time(std::time::Duration::from_millis(summary.elapsed_ms));
    let mut kinds: Vec<&str> = Vec::new();
    for s in &summary.subjects {
        if !kinds.contains(&s.crash_kind.as_str()) {
            kinds.push(&s.crash_kind);
        }
    }
    for kind in kinds {
        let mut suite = TestSuite::new(format!("torture-{kind}"));
        for s in summary.subjects.iter().filter(|s| s.crash_kind == kind) {
            suite.add_test_case(junit_case(kind, s));
        }
        report.add_test_suite(suite);
    }
    if summary.interrupted || summary.subjects.is_empty() {
        let mut suite = TestSuite::new("torture-run");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(match summary.interrupted {
            true => "run interrupted: the report is partial",
            false => "no subject was judged",
        });
        suite.add_test_case(TestCase::new("run completes", status));
        report.add_test_suite(suite);
    }
    report.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(status: SubjectStatus, model_bugs: u64) -> SubjectSummary {
        let verdict = match model_bugs {
            0 => Verdict::of_status(status),
            _ => Verdict::ModelBug,
        };
        SubjectSummary {
            subject: "s".to_owned(),
            crash_kind: "kill".to_owned(),
            expected: Expect::Pass,
            status,
            verdict,
            checked: 3,
            violations: 0,
            model_bugs,
            diagnosis: None,
            fix: None,
        }
    }

    #[test]
    fn the_worst_subject_decides_and_nothing_tested_is_no_pass() {
        let run = |subjects, stop| RunSummary::new("kill", "r", subjects, stop).exit_code;
        assert_eq!(run(vec![], Stop::Completed), 2);
        assert_eq!(
            run(vec![subject(SubjectStatus::Passed, 0)], Stop::Completed),
            0
        );
        let mixed = vec![
            subject(SubjectStatus::NotModelled, 0),
            subject(SubjectStatus::Passed, 0),
        ];
        assert_eq!(run(mixed, Stop::Completed), 3);
        let failed = vec![
            subject(SubjectStatus::NotModelled, 0),
            subject(SubjectStatus::Incomplete, 0),
        ];
        assert_eq!(run(failed, Stop::Completed), 1);
        let bug = vec![
            subject(SubjectStatus::Failed, 0),
            subject(SubjectStatus::Passed, 2),
        ];
        assert_eq!(run(bug, Stop::Completed), 4);
        assert_eq!(
            run(vec![subject(SubjectStatus::Passed, 0)], Stop::Interrupted),
            130
        );
    }

    #[test]
    fn a_summary_reads_back_and_refuses_unknown_fields() {
        let summary = RunSummary::new(
            "race",
            "r",
            vec![subject(SubjectStatus::Caught, 0)],
            Stop::Completed,
        );
        let back: RunSummary = serde_json::from_str(&summary.to_json()).expect("reads back");
        assert_eq!(back, summary);
        let extra = summary.to_json().replacen('{', "{\"violating\":1,", 1);
        assert!(serde_json::from_str::<RunSummary>(&extra).is_err());
    }
}
