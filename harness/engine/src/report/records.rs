//! Machine-readable records: `results.jsonl` (one object per trial) and the `--format json`
//! summary object (one per subject).

use serde::Serialize;

use crate::campaign::{self, RecoveryRecord, Settings, SubjectResult, TrialRecord};
use crate::sandbox::Orphan;
use crate::tracer::Outcome;
use torture_core::oracle::{Expectation, RunExit, SubjectStatus, Verdict, Violation};

/// One line of `results.jsonl`.
#[derive(Debug, Serialize)]
pub struct TrialLine<'a> {
    pub subject: &'a str,
    pub trial: u64,
    pub kill_point: String,
    /// `killed`, `not_reached` or `timed_out`.
    pub end: &'static str,
    pub verdict: &'static str,
    pub first_diff_offset: Option<u64>,
    /// `true`/`false`, or `null` when unchecked or not torn.
    pub parses: Option<bool>,
    /// `directory`, `symlink` or `other` when the target was not a regular file.
    pub target_kind: Option<torture_core::oracle::FileKind>,
    /// `[name, size_bytes]` pairs left right after the crash.
    pub orphans: Vec<(&'a str, u64)>,
    pub recovery: RecoveryLine<'a>,
    pub violation: bool,
    pub violations: Vec<String>,
    pub replay: String,
}

/// The recovery part of a [`TrialLine`].
#[derive(Debug, Serialize)]
pub struct RecoveryLine<'a> {
    pub ok: bool,
    pub exit: RunExit,
    pub verdict: &'static str,
    /// `[name, size_bytes]` pairs that survived the recovery run.
    pub orphans: Vec<(&'a str, u64)>,
}

/// Verdict counts inside a [`SubjectLine`].
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerdictCounts {
    pub absent: u64,
    pub old: u64,
    pub new: u64,
    pub torn: u64,
}

/// The smallest violating kill point of a subject.
#[derive(Debug, Serialize)]
pub struct Smallest {
    pub kill_point: String,
    pub violation: String,
    pub replay: String,
}

/// One `--format json` line: a subject's summary.
#[derive(Debug, Serialize)]
pub struct SubjectLine<'a> {
    pub subject: &'a str,
    pub trials: u64,
    pub verdicts: VerdictCounts,
    /// Trials whose crash left orphan files.
    pub orphans: u64,
    pub recovery_failures: u64,
    /// Trials with at least one violation.
    pub violations: u64,
    pub expected: Expectation,
    pub status: SubjectStatus,
    pub as_expected: bool,
    pub planned_trials: u64,
    pub complete: bool,
    pub orphans_after_recovery: u64,
    pub not_reached: u64,
    pub timed_out: u64,
    pub trials_per_second: f64,
    pub baseline_per_second: Option<f64>,
    pub kill_space: Option<KillSpaceLine>,
    pub smallest_violation: Option<Smallest>,
    pub seed: u64,
    pub notes: Vec<String>,
}

/// Size of a subject's kill space.
#[derive(Debug, Serialize)]
pub struct KillSpaceLine {
    pub bytes: u64,
    pub boundaries: u64,
}

fn orphan_pairs(orphans: &[Orphan]) -> Vec<(&str, u64)> {
    orphans
        .iter()
        .map(|o| (o.name.as_str(), o.size_bytes))
        .collect()
}

/// `killed`, `not_reached`, `timed_out` (and, for runs other than kill trials, `injected`,
/// `cancelled`, `unmodelled`).
pub fn end_name(end: &Outcome) -> &'static str {
    match end {
        Outcome::Killed { .. } => "killed",
        Outcome::NotReached { .. } => "not_reached",
        Outcome::TimedOut { .. } => "timed_out",
        Outcome::Injected { .. } => "injected",
        Outcome::Cancelled => "cancelled",
        Outcome::Unmodelled { .. } => "unmodelled",
    }
}

fn torn_details(verdict: &Verdict) -> (Option<u64>, Option<bool>) {
    match verdict {
        Verdict::Torn {
            parses,
            first_diff_offset,
            ..
        } => (Some(*first_diff_offset), parses.as_bool()),
        Verdict::Absent | Verdict::Old | Verdict::New => (None, None),
    }
}

fn recovery_line(recovery: &RecoveryRecord) -> RecoveryLine<'_> {
    RecoveryLine {
        ok: recovery.failure.is_none(),
        exit: recovery.exit,
        verdict: recovery.verdict.name(),
        orphans: orphan_pairs(&recovery.orphans),
    }
}

/// The `results.jsonl` object for one trial.
pub fn trial_line<'a>(
    result: &'a SubjectResult,
    settings: &Settings,
    trial: &'a TrialRecord,
) -> TrialLine<'a> {
    let (first_diff_offset, parses) = torn_details(&trial.verdict);
    TrialLine {
        subject: &result.subject.label,
        trial: trial.number,
        kill_point: trial.point.to_string(),
        end: end_name(&trial.end),
        verdict: trial.verdict.name(),
        first_diff_offset,
        parses,
        target_kind: trial.target_kind,
        orphans: orphan_pairs(&trial.orphans),
        recovery: recovery_line(&trial.recovery),
        violation: !trial.violations.is_empty(),
        violations: trial.violations.iter().map(Violation::to_string).collect(),
        replay: campaign::replay_command(&result.subject, settings, trial.point),
    }
}

/// The smallest violating kill point (bytes before syscalls).
pub fn smallest(result: &SubjectResult, settings: &Settings) -> Option<Smallest> {
    let (by_byte, by_syscall) = result.smallest_violations();
    by_byte.or(by_syscall).map(|trial| Smallest {
        kill_point: trial.point.to_string(),
        violation: describe_violations(trial),
        replay: campaign::replay_command(&result.subject, settings, trial.point),
    })
}

/// All violations of a trial in one phrase.
pub fn describe_violations(trial: &TrialRecord) -> String {
    let parts: Vec<String> = trial
        .violations
        .iter()
        .map(|v| match v {
            Violation::Torn => match trial.target_kind {
                Some(kind) => format!(
                    "target is {}, not a regular file",
                    crate::sandbox::kind_name(kind)
                ),
                None => format!("target {}", trial.verdict),
            },
            Violation::OldLost
            | Violation::WriterHung
            | Violation::Recovery(_)
            | Violation::OrphansAfterRecovery { .. } => v.to_string(),
        })
        .collect();
    parts.join("; ")
}

/// The `--format json` object for one subject.
pub fn subject_line<'a>(result: &'a SubjectResult, settings: &Settings) -> SubjectLine<'a> {
    let counts = result.counts();
    let status = result.status();
    SubjectLine {
        subject: &result.subject.label,
        trials: counts.trials,
        verdicts: VerdictCounts {
            absent: counts.absent,
            old: counts.old,
            new: counts.new,
            torn: counts.torn,
        },
        orphans: counts.orphans,
        recovery_failures: counts.recovery_failures,
        violations: counts.violations,
        expected: result.subject.expectation,
        status,
        as_expected: status.as_expected(),
        planned_trials: result.planned_trials,
        complete: !result.incomplete,
        orphans_after_recovery: counts.orphans_after_recovery,
        not_reached: counts.not_reached,
        timed_out: counts.timed_out,
        trials_per_second: round1(result.trials_per_second()),
        baseline_per_second: result.baseline.as_ref().map(|b| round1(b.per_second)),
        kill_space: result.golden.as_ref().map(|g| KillSpaceLine {
            bytes: g.space.total_bytes,
            boundaries: g.space.boundaries.len() as u64,
        }),
        smallest_violation: smallest(result, settings),
        seed: settings.seed,
        notes: result
            .golden
            .as_ref()
            .map(|g| g.notes.clone())
            .unwrap_or_default(),
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}
