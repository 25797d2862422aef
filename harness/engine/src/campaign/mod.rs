//! Campaigns: for each subject, golden runs, then trials across worker threads, then a verdict.
//!
//! Per subject:
//! 1. `--initial old`: an untraced generation-1 run makes the old version.
//! 2. An untraced generation-2 run (it shows the writer works, with its stderr if it does not),
//!    then the traced golden run (`tracer::record_golden`): the new version, the trace and the
//!    kill space. If the two generation-2 outputs differ, both are new versions and the oracle
//!    also accepts any valid file that is not the old version (`NewRule::ValidNotOld`).
//! 3. Trials on `--jobs` worker threads, each in its own sandbox: seed, run to the kill point,
//!    list orphans, classify the target (under `--check`, the checker judges the whole tree,
//!    `crash_tree`), run the writer again uncrashed (recovery; with `--check --recover`, the
//!    recovery command ran in the check instead), list orphans.
//!    Under `--partition M/N` only this shard's kill points run; each trial keeps its number in
//!    the unpartitioned list, and the subject carries a fingerprint of its kill space so that
//!    `torture merge` can join the shards.
//!
//! Ctrl-C sets the shared cancel flag: the tracer and every wait in here stop, children are
//! killed, and the run returns what it has so far ([`RunEnd::Interrupted`]).

mod crash_tree;
mod error;
pub mod errors;
mod golden;
mod pool;
pub mod power;
pub mod process;
pub mod race;
pub mod real;
mod replay;
mod subject;
pub mod traces;
pub mod tree;
mod trial;
mod unit;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::sandbox::{Orphan, RunRoot};
use crate::tracer::{Outcome, WriterAck};
use torture_core::killpoint::{KillPoint, Partition};
use torture_core::oracle::{
    self, Ack, Coverage, Initial, RecoveryFailure, RunExit, SubjectStatus, Verdict, Violation,
};
use torture_core::trace::Trace;

pub use error::CampaignError;

/// The status of a subject that ran `done` of its `planned` runs: one stopped early (Ctrl-C, a
/// harness error such as a timeout) keeps what it found (a violation, a canary caught), but
/// its pass, or its canary not caught, is no verdict: it is incomplete.
pub(crate) fn finished_status(status: SubjectStatus, done: u64, planned: u64) -> SubjectStatus {
    if done >= planned {
        return status;
    }
    match status {
        SubjectStatus::Caught | SubjectStatus::Failed => status,
        SubjectStatus::Passed
        | SubjectStatus::NotCaught
        | SubjectStatus::NotCaughtInShard
        | SubjectStatus::NotModelled
        | SubjectStatus::Incomplete => SubjectStatus::Incomplete,
    }
}
pub use golden::GoldenSummary;
pub(crate) use replay::differing_options;
pub use replay::{
    DEFAULT_TARGET, DEFAULT_TIMEOUT_MS, initial_name, replay_command, selection_name, shell_quote,
    shell_words,
};
pub use subject::{
    Builtin, Subject, SubjectKind, WriterProgram, builtin, builtins, named_only_builtins,
    writer_path,
};
pub use torture_writers::strategies::Origin;

/// How the content of a torn target is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "command")]
pub enum ValidationChoice {
    /// JSON if the golden output is JSON, JSON lines if it is that, else bytes.
    Auto,
    /// `--validate json`.
    Json,
    /// `--validate jsonl`.
    JsonLines,
    /// `--validate bytes`.
    Bytes,
    /// `--check CMD`: a shell command; the file's path replaces `{file}` or is appended.
    Check(String),
}

/// Which kill points a campaign tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// `--trials N` points drawn with the seed.
    Sample {
        /// How many.
        trials: u64,
    },
    /// `--exhaustive`: every point.
    Exhaustive,
    /// `--kill-at`: replay exactly one trial.
    One(KillPoint),
}

/// Options shared by every subject of a run (written to `run.json`, read back by the merge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Where trials start.
    pub initial: Initial,
    /// Content check.
    pub validation: ValidationChoice,
    /// Which kill points.
    pub selection: Selection,
    /// Seed for sampling.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Per-run timeout (every writer run: golden, trial, recovery, check).
    pub timeout_ms: u64,
    /// `--dir`: where the sandboxes go.
    pub dir: PathBuf,
    /// Target name inside each sandbox (checked relative).
    pub target: PathBuf,
    /// `--target` repeated or a glob, `--marker`: files judged as one unit (empty: the target
    /// alone, and `run.json` leaves it out).
    #[serde(default, skip_serializing_if = "UnitSpec::is_single")]
    pub unit: UnitSpec,
    /// Orphans surviving recovery are violations.
    pub strict: bool,
    /// `--partition M/N`: run only this shard of every subject's kill points.
    pub partition: Option<Partition>,

    /// `--ack-line REGEX`: every stdout line matching it acknowledges an operation (checked by
    /// the command line; the built-in judge uses the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_line: Option<String>,
    /// `--setup CMD`: prepares the starting tree of every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// `--recover CMD`: runs on a crash tree before `--check`, instead of the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover: Option<String>,
}

impl Settings {
    /// `--ack-line`, compiled.
    pub fn ack_regex(&self) -> Result<Option<regex::Regex>, CampaignError> {
        self.ack_line
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| CampaignError::Usage(format!("--ack-line: not a regular expression: {e}")))
    }

    /// `--check CMD`, the whole-tree checker, if given.
    pub fn check_command(&self) -> Option<&str> {
        match &self.validation {
            ValidationChoice::Check(command) => Some(command),
            ValidationChoice::Auto
            | ValidationChoice::Json
            | ValidationChoice::JsonLines
            | ValidationChoice::Bytes => None,
        }
    }
}

/// Several files judged as one unit: `--target` repeated or a glob, and `--marker`. Empty (the
/// default): the target alone, judged as it always was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpec {
    /// Every `--target`, in order (paths or globs), the target among them.
    pub targets: Vec<String>,
    /// `--marker FILE`: part of the unit; its presence implies every other file is new.
    pub marker: Option<String>,
}

impl UnitSpec {
    /// Whether several files are judged as one (else the target alone).
    pub fn is_unit(&self) -> bool {
        !self.targets.is_empty() || self.marker.is_some()
    }

    /// The target alone.
    pub fn is_single(&self) -> bool {
        !self.is_unit()
    }
}

/// The whole plan of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Subjects, run one after another.
    pub subjects: Vec<Subject>,
    /// Shared options.
    pub settings: Settings,
}

/// The recovery run of one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRecord {
    /// How it ended.
    pub exit: RunExit,
    /// What it left at the target.
    pub verdict: Verdict,
    /// Why it failed, if it did.
    pub failure: Option<RecoveryFailure>,
    /// Under `--check`: the checker's reason when it rejected the tree the run left.
    pub reason: Option<String>,
    /// Files other than the target after it.
    pub orphans: Vec<Orphan>,
}

/// Everything about one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialRecord {
    /// Position in the subject's list of kill points.
    pub number: u64,
    /// Where the writer was killed.
    pub point: KillPoint,
    /// How the killed run ended.
    pub end: Outcome,
    /// What the writer printed and how it ended, up to the kill.
    pub writer: WriterAck,
    /// What the crash left at the target (under `--check`: new when the checker accepted the
    /// whole tree, torn when it rejected it).
    pub verdict: Verdict,
    /// Under `--check`: the checker's (or `--recover`'s) first line when it rejected the tree.
    pub reason: Option<String>,
    /// What the writer had acknowledged before it was killed.
    pub ack: Ack,
    /// Set when the target was not a regular file.
    pub target_kind: Option<oracle::FileKind>,
    /// Files other than the target right after the crash.
    pub orphans: Vec<Orphan>,
    /// The recovery run (`None`: under `--check`, `--recover` replaced it and ran before the
    /// checker).
    pub recovery: Option<RecoveryRecord>,
    /// Every violation, in a fixed order; empty when the trial is clean.
    pub violations: Vec<Violation>,
}

/// Whether the writer had acknowledged: it exited 0 (the pipeline's "this step finished").
pub fn ack_of(writer: &WriterAck) -> Ack {
    match writer.exit {
        Some(torture_core::trace::ExitStatus::Code(0)) => Ack::Acked,
        Some(_) | None => Ack::Pending,
    }
}

/// Spawn-and-reap speed of a writer, the yardstick for the trial rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What was measured, e.g. "spawn and reap `torture-writer --help`".
    pub what: String,
    /// Runs measured.
    pub runs: u64,
    /// Runs per second over `--jobs` threads.
    pub per_second: f64,
}

/// Verdict counts of one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Trials run.
    pub trials: u64,
    /// Verdicts.
    pub absent: u64,
    /// Verdicts.
    pub old: u64,
    /// Verdicts.
    pub new: u64,
    /// Verdicts.
    pub torn: u64,
    /// Trials whose crash left at least one orphan.
    pub orphans: u64,
    /// Trials whose orphans survived the recovery run.
    pub orphans_after_recovery: u64,
    /// Trials whose recovery run failed.
    pub recovery_failures: u64,
    /// Trials with at least one violation.
    pub violations: u64,
    /// Trials whose writer finished before the kill point.
    pub not_reached: u64,
    /// Trials whose writer hung.
    pub timed_out: u64,
}

/// The result of one subject.
#[derive(Debug, Clone)]
pub struct SubjectResult {
    /// The subject.
    pub subject: Subject,
    /// What the golden runs established (absent if they failed).
    pub golden: Option<GoldenSummary>,
    /// Trials in kill-point order.
    pub trials: Vec<TrialRecord>,
    /// Trials planned (in this shard, under `--partition`).
    pub planned_trials: u64,
    /// Kill points of the unpartitioned selection (equal to `planned_trials` without a partition).
    pub selected_points: u64,
    /// Fingerprint of the golden run's kill space, the subject, its size and the initial state:
    /// shards with equal fingerprints may be merged.
    pub fingerprint: String,
    /// Whether this result covers every selected kill point or one shard.
    pub coverage: Coverage,
    /// Wall time of the trial phase.
    pub trial_time: Duration,
    /// The spawn-and-reap yardstick.
    pub baseline: Option<Baseline>,
    /// Ctrl-C or a harness error stopped it early.
    pub incomplete: bool,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunEnd {
    /// Every subject ran to the end.
    Completed,
    /// Ctrl-C.
    Interrupted,
    /// A harness error stopped the run.
    Failed(CampaignError),
}

/// The result of a whole run.
#[derive(Debug)]
pub struct RunResult {
    /// Identifies the run (report directory name).
    pub run_id: String,
    /// Options used.
    pub settings: Settings,
    /// Subjects, in plan order (only those started).
    pub subjects: Vec<SubjectResult>,
    /// How the run ended.
    pub end: RunEnd,
    /// Wall time.
    pub elapsed: Duration,
}

/// Hooks for progress output and reports, called from the thread that called [`run`].
pub trait Observer {
    /// A subject's goldens are done; its trials start.
    fn subject_started(
        &mut self,
        subject: &Subject,
        golden: &GoldenSummary,
        trace: &Trace,
        planned_trials: u64,
    );
    /// One trial finished.
    fn trial_finished(&mut self, subject: &Subject, record: &TrialRecord);
    /// A subject finished (or stopped early).
    fn subject_finished(&mut self, result: &SubjectResult);
}

/// What a run shares with the outside: its id and the Ctrl-C flag.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Run id (sandbox root and report directory names).
    pub run_id: String,
    /// Set by the Ctrl-C handler; the tracer watches it too.
    pub cancel: Arc<AtomicBool>,
}

impl SubjectResult {
    /// Verdict and failure counts.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            trials: self.trials.len() as u64,
            ..Counts::default()
        };
        for trial in &self.trials {
            counts.add(trial);
        }
        counts
    }

    /// How the subject compares with its expectation.
    pub fn status(&self) -> SubjectStatus {
        let violations = self.counts().violations;
        let status = GoldenSummary::subject_status(
            self.golden.as_ref(),
            self.subject.expect,
            violations,
            self.coverage,
        );
        finished_status(status, self.trials.len() as u64, self.planned_trials)
    }

    /// Trials per second in the trial phase.
    pub fn trials_per_second(&self) -> f64 {
        let seconds = self.trial_time.as_secs_f64();
        if seconds > 0.0 {
            self.trials.len() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The smallest byte and syscall kill points that show a violation.
    pub fn smallest_violations(&self) -> (Option<&TrialRecord>, Option<&TrialRecord>) {
        let violating = || self.trials.iter().filter(|t| !t.violations.is_empty());
        let by_byte = violating()
            .filter(|t| matches!(t.point, KillPoint::Byte(_)))
            .min_by_key(|t| t.point);
        let by_syscall = violating()
            .filter(|t| matches!(t.point, KillPoint::Syscall(_)))
            .min_by_key(|t| t.point);
        (by_byte, by_syscall)
    }
}

impl Counts {
    fn add(&mut self, trial: &TrialRecord) {
        match trial.verdict {
            Verdict::Absent => self.absent += 1,
            Verdict::Old => self.old += 1,
            Verdict::New { .. } => self.new += 1,
            Verdict::Torn { .. } => self.torn += 1,
        }
        self.orphans += u64::from(!trial.orphans.is_empty());
        let recovery = trial.recovery.as_ref();
        self.orphans_after_recovery += u64::from(recovery.is_some_and(|r| !r.orphans.is_empty()));
        self.recovery_failures += u64::from(recovery.is_some_and(|r| r.failure.is_some()));
        self.violations += u64::from(!trial.violations.is_empty());
        match trial.end {
            Outcome::NotReached { .. } => self.not_reached += 1,
            Outcome::TimedOut { .. } => self.timed_out += 1,
            Outcome::Killed { .. }
            | Outcome::Injected { .. }
            | Outcome::Cancelled
            | Outcome::Unmodelled { .. } => {}
        }
    }
}

impl RunResult {
    /// True when every subject behaved as expected and the run completed.
    pub fn all_as_expected(&self) -> bool {
        self.subjects.iter().all(|s| s.status().as_expected())
    }
}

/// Runs every subject of `plan`. Errors found before anything runs (a missing writer, an
/// unusable `--dir`) come back as `Err`; errors during the run end it with [`RunEnd::Failed`],
/// keeping the results so far for the report.
pub fn run(
    plan: &Plan,
    context: &RunContext,
    observer: &mut dyn Observer,
) -> Result<RunResult, CampaignError> {
    let started = Instant::now();
    subject::check_all(&plan.subjects)?;
    let root = RunRoot::create(&plan.settings.dir, &context.run_id)?;
    let mut subjects = Vec::new();
    let mut end = RunEnd::Completed;
    for subject in &plan.subjects {
        let prepared = match subject::prepare(subject) {
            Ok(prepared) => prepared,
            Err(e) => {
                end = RunEnd::Failed(e);
                break;
            }
        };
        let outcome = run_subject(&prepared, plan, context, &root, observer);
        let (result, subject_end) = outcome;
        if let Some(result) = result {
            observer.subject_finished(&result);
            subjects.push(result);
        }
        if let Some(subject_end) = subject_end {
            end = subject_end;
            break;
        }
    }
    let removed = root.remove();
    if let (Err(e), RunEnd::Completed) = (removed, &end) {
        end = RunEnd::Failed(e.into());
    }
    Ok(RunResult {
        run_id: context.run_id.clone(),
        settings: plan.settings.clone(),
        subjects,
        end,
        elapsed: started.elapsed(),
    })
}

/// One subject: goldens, baseline, trials. Returns its result (if it got past the goldens) and
/// the run's end when the run must stop here.
fn run_subject(
    prepared: &subject::Prepared,
    plan: &Plan,
    context: &RunContext,
    root: &RunRoot,
    observer: &mut dyn Observer,
) -> (Option<SubjectResult>, Option<RunEnd>) {
    let settings = &plan.settings;
    let golden = match golden::record(prepared, settings, context, root) {
        Ok(Some(golden)) => golden,
        Ok(None) => return (None, Some(RunEnd::Interrupted)),
        Err(e) => return (None, Some(RunEnd::Failed(e))),
    };
    // A replay of one trial has no rate worth comparing.
    let baseline = match settings.selection {
        Selection::One(_) => Ok(None),
        Selection::Sample { .. } | Selection::Exhaustive => {
            pool::baseline_for(prepared, settings, context, root)
        }
    };
    let baseline = match baseline {
        Ok(baseline) => baseline,
        Err(e) => return (None, Some(RunEnd::Failed(e))),
    };
    let selected = match golden.points(settings) {
        Ok(points) => points,
        Err(e) => return (None, Some(RunEnd::Failed(e))),
    };
    let points = settings
        .partition
        .unwrap_or(Partition { index: 1, count: 1 })
        .shard(&selected);
    observer.subject_started(
        &prepared.subject,
        &golden.summary,
        &golden.summary.trace,
        points.len() as u64,
    );
    let started = Instant::now();
    let trials = pool::run_trials(
        prepared, &golden, settings, context, root, &points, observer,
    );
    let (records, end) = match trials {
        Ok(pool::TrialsDone { records, cancelled }) => {
            (records, cancelled.then_some(RunEnd::Interrupted))
        }
        Err((records, e)) => (records, Some(RunEnd::Failed(e))),
    };
    let result = SubjectResult {
        subject: prepared.subject.clone(),
        fingerprint: fingerprint(&prepared.subject, &golden.summary, settings),
        golden: Some(golden.into_summary()),
        incomplete: records.len() < points.len(),
        trials: records,
        planned_trials: points.len() as u64,
        selected_points: selected.len() as u64,
        coverage: match settings.partition {
            Some(_) => Coverage::Shard,
            None => Coverage::Whole,
        },
        trial_time: started.elapsed(),
        baseline,
    };
    (Some(result), end)
}

/// The kill space's fingerprint over what makes two runs comparable: the subject (a built-in's
/// name and payload size, or the command as given), where trials start, the content check and
/// which kill points were selected.
pub fn fingerprint(subject: &Subject, golden: &GoldenSummary, settings: &Settings) -> String {
    let kind = match &subject.kind {
        SubjectKind::Builtin { size_bytes } => format!("builtin {} {size_bytes}", subject.name),
        SubjectKind::Command { argv } => {
            let words: Vec<String> = argv
                .iter()
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect();
            format!("command {}", shell_words_of(&words))
        }
    };
    let selection = subject.selection.unwrap_or(settings.selection);
    let identity = format!(
        "{}\n{kind}\ninitial {}\nvalidation {}\nselection {}",
        subject.label,
        initial_name(settings.initial),
        golden.validation,
        selection_name(selection)
    );
    golden.space.fingerprint(&identity)
}

fn shell_words_of(words: &[String]) -> String {
    words
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}
