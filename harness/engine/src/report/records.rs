//! Machine-readable records: `results.jsonl` (one object per trial), `subjects.jsonl` and the
//! `--format json` summary object (one per subject), and `run.json` (the settings). Every trial
//! and subject record carries the kill space's fingerprint, the seed and the partition, so the
//! shards of a split campaign can be read back ([`read_run`]) and merged.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::campaign::{
    self, Baseline, GoldenSummary, RecoveryRecord, RunEnd, RunResult, Selection, Settings, Subject,
    SubjectKind, SubjectResult, TrialRecord,
};
use crate::sandbox::Orphan;
use crate::tracer::{Outcome, WriterAck};
use torture_core::killpoint::{KillPoint, Partition};
use torture_core::oracle::{
    self, Ack, Coverage, Expect, FileKind, RunExit, SubjectStatus, TrialFacts, Validity, Verdict,
    Violation,
};
use torture_core::trace::ExitStatus;

/// One line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialLine {
    pub subject: String,
    /// The subject's kill-space fingerprint (see [`campaign::fingerprint`]).
    pub fingerprint: String,
    pub seed: u64,
    /// `M/N` under `--partition`, else `null`.
    pub partition: Option<Partition>,
    /// Position in the subject's unpartitioned list of kill points.
    pub trial: u64,
    pub kill_point: KillPoint,
    /// `killed`, `not_reached` or `timed_out`.
    pub end: String,
    /// The writer's exit code when it finished before the kill point.
    pub writer_exit_code: Option<i32>,
    /// `acked` when the writer had acknowledged (exited 0, or printed an `--ack-line` match)
    /// before the crash, else `pending`.
    pub ack: Ack,
    #[serde(flatten)]
    pub verdict: VerdictLine,
    /// Under `--check`: the checker's (or `--recover`'s, prefixed `--recover: `) first line of
    /// output when it rejected the crash tree; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `directory`, `symlink` or `other` when the target was not a regular file.
    pub target_kind: Option<FileKind>,
    /// `[name, size_bytes]` pairs left right after the crash.
    pub orphans: Vec<(String, u64)>,
    /// `null` under `--check` with `--recover`: the recovery command replaced the writer's
    /// recovery run and ran before the checker.
    pub recovery: Option<RecoveryLine>,
    pub violation: bool,
    pub violations: Vec<String>,
    pub replay: String,
}

/// A verdict as flat fields: `verdict` is `absent`, `old`, `new` or `torn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictLine {
    pub verdict: String,
    /// Which new version (0-based) a `new` target is byte for byte; `null` when accepted as
    /// valid and not old.
    pub new_index: Option<usize>,
    /// Torn only: where it first differs from the nearest new version.
    pub first_diff_offset: Option<u64>,
    /// Torn only: `true`/`false`, or `null` when unchecked.
    pub parses: Option<bool>,
    /// Torn only: its length.
    pub len_bytes: Option<u64>,
}

/// The recovery part of a [`TrialLine`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryLine {
    pub ok: bool,
    pub exit: RunExit,
    #[serde(flatten)]
    pub verdict: VerdictLine,
    /// Under `--check`: the checker's first line when it rejected the recovered tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `[name, size_bytes]` pairs that survived the recovery run.
    pub orphans: Vec<(String, u64)>,
}

/// Verdict counts inside a [`SubjectLine`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerdictCounts {
    pub absent: u64,
    pub old: u64,
    pub new: u64,
    pub torn: u64,
}

/// The smallest violating kill point of a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Smallest {
    pub kill_point: String,
    pub violation: String,
    pub replay: String,
}

/// What a subject runs, as written to its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SubjectKindLine {
    /// A built-in strategy.
    Builtin { name: String, size_bytes: u64 },
    /// A command (arguments as given, lossily UTF-8).
    Command { argv: Vec<String> },
}

/// One `--format json` line and one `subjects.jsonl` line: a subject's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectLine {
    pub subject: String,
    pub trials: u64,
    pub verdicts: VerdictCounts,
    /// Trials whose crash left orphan files.
    pub orphans: u64,
    pub recovery_failures: u64,
    /// Trials with at least one violation.
    pub violations: u64,
    pub expected: Expect,
    pub status: SubjectStatus,
    pub as_expected: bool,
    pub planned_trials: u64,
    /// Kill points of the unpartitioned selection (the union of every shard's).
    pub selected_points: u64,
    pub complete: bool,
    pub orphans_after_recovery: u64,
    pub not_reached: u64,
    pub timed_out: u64,
    pub trials_per_second: f64,
    pub trial_time_ms: u64,
    pub baseline_per_second: Option<f64>,
    pub kill_space: Option<KillSpaceLine>,
    pub smallest_violation: Option<Smallest>,
    pub fingerprint: String,
    pub seed: u64,
    pub partition: Option<Partition>,
    /// Where the report files of this run go (`null` with `--no-report`).
    pub report_dir: Option<PathBuf>,
    pub notes: Vec<String>,
    pub run: SubjectKindLine,
    /// The subject's own kill-point selection, when it overrides the run's.
    pub selection: Option<Selection>,
    pub golden: Option<GoldenSummary>,
    pub baseline: Option<Baseline>,
}

/// Size of a subject's kill space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSpaceLine {
    pub bytes: u64,
    pub boundaries: u64,
}

/// `run.json`: the settings of a run and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLine {
    pub run_id: String,
    pub settings: Settings,
    /// `completed`, `interrupted` or `failed`.
    pub end: String,
    pub elapsed_ms: u64,
}

/// Why a run's records could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file is missing or unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// A line is not a record of this version of torture.
    #[error("{}:{line}: not a torture record: {source}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    /// A record contradicts itself or the run's settings.
    #[error("{}:{line}: {message}", path.display())]
    Inconsistent {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn orphan_pairs(orphans: &[Orphan]) -> Vec<(String, u64)> {
    orphans
        .iter()
        .map(|o| (o.name.clone(), o.size_bytes))
        .collect()
}

fn orphans_of(pairs: &[(String, u64)]) -> Vec<Orphan> {
    pairs
        .iter()
        .map(|(name, size_bytes)| Orphan {
            name: name.clone(),
            size_bytes: *size_bytes,
        })
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

/// The outcome a line names. Kill campaigns never inject another fault, and the line keeps
/// neither a timeout's duration nor what was unmodelled: those come back empty.
fn end_of(name: &str, exit_code: Option<i32>, point: KillPoint) -> Option<Outcome> {
    match (name, exit_code) {
        ("killed", _) => Some(Outcome::Killed { point }),
        ("not_reached", Some(code)) => Some(Outcome::NotReached {
            exit: ExitStatus::Code(code),
        }),
        ("timed_out", _) => Some(Outcome::TimedOut { elapsed_ms: 0 }),
        ("cancelled", _) => Some(Outcome::Cancelled),
        ("unmodelled", _) => Some(Outcome::Unmodelled {
            what: String::new(),
        }),
        _ => None,
    }
}

impl VerdictLine {
    /// The flat fields of `verdict`.
    pub fn of(verdict: &Verdict) -> VerdictLine {
        let (new_index, first_diff_offset, parses, len_bytes) = match verdict {
            Verdict::Torn {
                parses,
                first_diff_offset,
                len_bytes,
            } => (
                None,
                Some(*first_diff_offset),
                parses.as_bool(),
                Some(*len_bytes),
            ),
            Verdict::New { index } => (*index, None, None, None),
            Verdict::Absent | Verdict::Old => (None, None, None, None),
        };
        VerdictLine {
            verdict: verdict.name().to_owned(),
            new_index,
            first_diff_offset,
            parses,
            len_bytes,
        }
    }

    /// The verdict back; `None` for an unknown name.
    pub fn verdict(&self) -> Option<Verdict> {
        match self.verdict.as_str() {
            "absent" => Some(Verdict::Absent),
            "old" => Some(Verdict::Old),
            "new" => Some(Verdict::New {
                index: self.new_index,
            }),
            "torn" => Some(Verdict::Torn {
                parses: match self.parses {
                    Some(true) => Validity::Valid,
                    Some(false) => Validity::Invalid,
                    None => Validity::Unchecked,
                },
                first_diff_offset: self.first_diff_offset.unwrap_or(0),
                len_bytes: self.len_bytes.unwrap_or(0),
            }),
            _ => None,
        }
    }
}

fn recovery_line(recovery: &RecoveryRecord) -> RecoveryLine {
    RecoveryLine {
        ok: recovery.failure.is_none(),
        exit: recovery.exit,
        verdict: VerdictLine::of(&recovery.verdict),
        reason: recovery.reason.clone(),
        orphans: orphan_pairs(&recovery.orphans),
    }
}

/// The `results.jsonl` object for one trial.
pub fn trial_line(result: &SubjectResult, settings: &Settings, trial: &TrialRecord) -> TrialLine {
    TrialLine {
        subject: result.subject.label.clone(),
        fingerprint: result.fingerprint.clone(),
        seed: settings.seed,
        partition: settings.partition,
        trial: trial.number,
        kill_point: trial.point,
        end: end_name(&trial.end).to_owned(),
        writer_exit_code: match trial.writer.exit {
            Some(ExitStatus::Code(code)) => Some(code),
            Some(ExitStatus::Signal(_)) | None => None,
        },
        ack: trial.ack,
        verdict: VerdictLine::of(&trial.verdict),
        reason: trial.reason.clone(),
        target_kind: trial.target_kind,
        orphans: orphan_pairs(&trial.orphans),
        recovery: trial.recovery.as_ref().map(recovery_line),
        violation: !trial.violations.is_empty(),
        violations: trial.violations.iter().map(Violation::to_string).collect(),
        replay: campaign::replay_command(&result.subject, settings, trial.point),
    }
}

/// The trial a line records, its violations judged again from its facts under `settings`.
/// `Err` names what does not fit (a line written by another version of torture, or edited).
pub fn trial_record(line: &TrialLine, settings: &Settings) -> Result<TrialRecord, String> {
    let end = end_of(&line.end, line.writer_exit_code, line.kill_point)
        .ok_or_else(|| format!("unknown writer end `{}`", line.end))?;
    let verdict = line
        .verdict
        .verdict()
        .ok_or_else(|| format!("unknown verdict `{}`", line.verdict.verdict))?;
    let recovery = line.recovery.as_ref().map(recovery_record).transpose()?;
    let facts = TrialFacts {
        initial: settings.initial,
        verdict,
        ack: line.ack,
        hung: matches!(end, Outcome::TimedOut { .. }),
        recovery: recovery.as_ref().and_then(|r| r.failure),
        orphans_after_recovery: recovery.as_ref().map_or(0, |r| r.orphans.len()),
        strict: settings.strict,
    };
    let violations = match settings.check_command() {
        Some(_) => oracle::tree_trial_violations(&facts),
        None => oracle::trial_violations(&facts),
    };
    let judged: Vec<String> = violations.iter().map(Violation::to_string).collect();
    if judged != line.violations {
        return Err(format!(
            "the recorded violations {:?} do not follow from the recorded facts ({judged:?})",
            line.violations
        ));
    }
    Ok(TrialRecord {
        number: line.trial,
        point: line.kill_point,
        writer: WriterAck {
            stdout: Vec::new(),
            exit: line.writer_exit_code.map(ExitStatus::Code),
        },
        end,
        verdict,
        reason: line.reason.clone(),
        ack: line.ack,
        target_kind: line.target_kind,
        orphans: orphans_of(&line.orphans),
        recovery,
        violations,
    })
}

fn recovery_record(line: &RecoveryLine) -> Result<RecoveryRecord, String> {
    let verdict = line
        .verdict
        .verdict()
        .ok_or_else(|| format!("unknown verdict `{}`", line.verdict.verdict))?;
    Ok(RecoveryRecord {
        exit: line.exit,
        verdict,
        failure: oracle::judge_recovery(line.exit, &verdict),
        reason: line.reason.clone(),
        orphans: orphans_of(&line.orphans),
    })
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
            Violation::CheckFailed => match &trial.reason {
                Some(reason) => format!("{v}: {reason}"),
                None => v.to_string(),
            },
            Violation::Recovery(_) => match trial.recovery.as_ref().and_then(|r| r.reason.as_ref())
            {
                Some(reason) => format!("{v}: {reason}"),
                None => v.to_string(),
            },
            Violation::OldLost
            | Violation::NotNewAfterAck
            | Violation::WriterHung
            | Violation::OrphansAfterRecovery { .. } => v.to_string(),
        })
        .collect();
    parts.join("; ")
}

/// The `--format json` and `subjects.jsonl` object for one subject.
pub fn subject_line(
    result: &SubjectResult,
    settings: &Settings,
    report_dir: Option<&Path>,
) -> SubjectLine {
    let counts = result.counts();
    let status = result.status();
    SubjectLine {
        subject: result.subject.label.clone(),
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
        expected: result.subject.expect,
        status,
        as_expected: status.as_expected(),
        planned_trials: result.planned_trials,
        selected_points: result.selected_points,
        complete: !result.incomplete,
        orphans_after_recovery: counts.orphans_after_recovery,
        not_reached: counts.not_reached,
        timed_out: counts.timed_out,
        trials_per_second: round1(result.trials_per_second()),
        trial_time_ms: result.trial_time.as_millis() as u64,
        baseline_per_second: result.baseline.as_ref().map(|b| round1(b.per_second)),
        kill_space: result.golden.as_ref().map(|g| KillSpaceLine {
            bytes: g.space.total_bytes,
            boundaries: g.space.boundaries.len() as u64,
        }),
        smallest_violation: smallest(result, settings),
        fingerprint: result.fingerprint.clone(),
        seed: settings.seed,
        partition: settings.partition,
        report_dir: report_dir.map(Path::to_owned),
        notes: result
            .golden
            .as_ref()
            .map(|g| g.notes.clone())
            .unwrap_or_default(),
        run: kind_line(&result.subject),
        selection: result.subject.selection,
        golden: result.golden.as_ref().map(GoldenSummary::without_trace),
        baseline: result.baseline.clone(),
    }
}

fn kind_line(subject: &Subject) -> SubjectKindLine {
    match &subject.kind {
        SubjectKind::Builtin { size_bytes } => SubjectKindLine::Builtin {
            name: subject.name.clone(),
            size_bytes: *size_bytes,
        },
        SubjectKind::Command { argv } => SubjectKindLine::Command {
            argv: argv
                .iter()
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect(),
        },
    }
}

/// The subject a line describes (its trials not yet attached).
pub fn subject_of(line: &SubjectLine) -> Subject {
    let (name, kind) = match &line.run {
        SubjectKindLine::Builtin { name, size_bytes } => (
            name.clone(),
            SubjectKind::Builtin {
                size_bytes: *size_bytes,
            },
        ),
        SubjectKindLine::Command { argv } => {
            let name = Subject::command(argv.iter().map(Into::into).collect(), line.expected).name;
            let argv = argv.iter().map(Into::into).collect();
            (name, SubjectKind::Command { argv })
        }
    };
    Subject {
        name,
        label: line.subject.clone(),
        kind,
        expect: line.expected,
        selection: line.selection,
    }
}

/// A subject result rebuilt from its line and its trials, judged as covering `coverage`.
pub fn subject_result(
    line: &SubjectLine,
    trials: Vec<TrialRecord>,
    coverage: Coverage,
) -> SubjectResult {
    SubjectResult {
        subject: subject_of(line),
        golden: line.golden.clone(),
        incomplete: (trials.len() as u64) < line.selected_points,
        planned_trials: line.selected_points,
        selected_points: line.selected_points,
        trials,
        fingerprint: line.fingerprint.clone(),
        coverage,
        trial_time: Duration::from_millis(line.trial_time_ms),
        baseline: line.baseline.clone(),
    }
}

/// `run.json` for a run.
pub fn run_line(run: &RunResult) -> RunLine {
    RunLine {
        run_id: run.run_id.clone(),
        settings: run.settings.clone(),
        end: match run.end {
            RunEnd::Completed => "completed",
            RunEnd::Interrupted => "interrupted",
            RunEnd::Failed(_) => "failed",
        }
        .to_owned(),
        elapsed_ms: run.elapsed.as_millis() as u64,
    }
}

/// What one run directory holds: its settings, subject summaries and trial lines.
#[derive(Debug, Clone)]
pub struct RunRecords {
    /// The directory read.
    pub dir: PathBuf,
    /// `run.json`.
    pub run: RunLine,
    /// `subjects.jsonl`, in run order.
    pub subjects: Vec<SubjectLine>,
    /// `results.jsonl`, as written.
    pub trials: Vec<TrialLine>,
}

/// Reads `run.json`, `subjects.jsonl` and `results.jsonl` from a run directory.
pub fn read_run(dir: &Path) -> Result<RunRecords, ReadError> {
    let run_path = dir.join("run.json");
    let text = read(&run_path)?;
    let run = serde_json::from_str(&text).map_err(|source| ReadError::Json {
        path: run_path,
        line: 1,
        source,
    })?;
    Ok(RunRecords {
        dir: dir.to_owned(),
        run,
        subjects: read_lines(&dir.join("subjects.jsonl"))?,
        trials: read_lines(&dir.join("results.jsonl"))?,
    })
}

fn read(path: &Path) -> Result<String, ReadError> {
    fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Every non-blank line of a JSON-lines file.
pub fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, ReadError> {
    let text = read(path)?;
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|source| ReadError::Json {
            path: path.to_owned(),
            line: index + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(records)
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn trial_lines_read_back_to_the_same_record() {
        let result = fixture::subject("plain", Expect::Caught, 4, 3);
        let settings = fixture::settings();
        for trial in &result.trials {
            let line = trial_line(&result, &settings, trial);
            let json = serde_json::to_string(&line).expect("encodes");
            let back: TrialLine = serde_json::from_str(&json).expect("decodes");
            assert_eq!(back, line);
            assert_eq!(trial_record(&back, &settings).as_ref(), Ok(trial));
        }
    }

    #[test]
    fn an_edited_verdict_is_refused() {
        let result = fixture::subject("plain", Expect::Caught, 2, 1);
        let settings = fixture::settings();
        let mut line = trial_line(&result, &settings, &result.trials[0]);
        line.verdict = VerdictLine::of(&Verdict::Old);
        let err = trial_record(&line, &settings).expect_err("violations no longer follow");
        assert!(err.contains("do not follow"), "{err}");
        line.verdict.verdict = "shredded".to_owned();
        assert!(trial_record(&line, &settings).is_err());
    }

    #[test]
    fn subject_lines_read_back_to_the_same_subject() {
        let result = fixture::subject("intact", Expect::Pass, 3, 0);
        let line = subject_line(&result, &fixture::settings(), None);
        let json = serde_json::to_string(&line).expect("encodes");
        let back: SubjectLine = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, line);
        let rebuilt = subject_result(&back, result.trials.clone(), Coverage::Whole);
        assert_eq!(rebuilt.subject, result.subject);
        // The golden trace is not part of the records (it lives in `traces/`): it reads back
        // empty, and everything else of the golden summary reads back as it was.
        let (mut golden, rebuilt_golden) = (
            result.golden.clone().unwrap(),
            rebuilt.golden.clone().unwrap(),
        );
        assert!(
            rebuilt_golden.trace.events.is_empty()
                && rebuilt_golden.trace.header.command.is_empty()
        );
        golden.trace = rebuilt_golden.trace.clone();
        assert_eq!(rebuilt_golden, golden);
        assert_eq!(rebuilt.counts(), result.counts());
        assert_eq!(rebuilt.status(), result.status());
    }
}
