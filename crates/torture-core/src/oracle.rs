//! The oracle: after a crash, is the target absent, the old version, the new version, or torn?
//!
//! Pure code: it sees bytes and facts, never a process or a file, so proptest and fuzz drive it
//! directly. The campaign gathers the facts (target contents, recovery exit, orphans) and asks
//! the oracle for a [`Verdict`] and the [`Violation`]s it implies.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod json;
pub mod unit;

/// What the harness found at the target path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// No directory entry at the target path.
    Absent,
    /// A regular file with these contents.
    Regular(Vec<u8>),
    /// Something that is not a regular file (never followed or read).
    NotRegular(FileKind),
}

/// Kind of a target that is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A symbolic link (never followed).
    Symlink,
    /// A fifo, socket or device.
    Other,
}

/// The state a trial starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initial {
    /// No target: the pipeline's first run.
    Absent,
    /// A complete old version is in place.
    Old,
}

/// Whether a file passes the content check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// It parses (or `--check` exited 0).
    Valid,
    /// It does not.
    Invalid,
    /// No check applies (`--validate bytes`).
    Unchecked,
}

/// The content check for torn files and for nondeterministic writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// One JSON value.
    Json,
    /// One JSON value per line.
    JsonLines,
    /// No structure: only byte comparison.
    Bytes,
    /// The result of the user's `--check CMD` on this file (the campaign runs it; see
    /// [`needs_validation`]).
    Command(Validity),
}

/// How a file that is none of the new versions byte for byte may still count as new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewRule {
    /// Only byte equality with one of the new versions counts.
    Exact,
    /// Any complete, valid file that is not the old version counts too: for writers whose runs
    /// disagree (timestamps in the output), where byte equality proves nothing.
    ValidNotOld,
}

/// The versions a crashed target may legitimately be: the old one (or none) and every new version
/// a writer produced. A value: the campaign builds it once per subject from its golden runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// The old version seeded before the trial (`None` under `--initial absent`).
    pub old: Option<Vec<u8>>,
    /// Every new version the writer produced (several runs or writers give several). Empty only in
    /// fuzzing: then nothing but old or absent is acceptable.
    pub new: Vec<Vec<u8>>,
    /// Whether a valid file that matches none of them counts as new.
    pub rule: NewRule,
}

/// What the writer had acknowledged when it was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    /// Nothing yet: absent, old or new are all fine.
    Pending,
    /// It printed its acknowledgement or exited 0: the target must be a new version.
    Acked,
}

/// What a crash left at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No file.
    Absent,
    /// Byte-identical to the old version.
    Old,
    /// A new version.
    New {
        /// `Some(i)`: byte-identical to `Versions::new[i]`; `None`: accepted by
        /// [`NewRule::ValidNotOld`] (valid, and not the old version).
        index: Option<usize>,
    },
    /// Anything else.
    Torn {
        /// Whether the torn file still passes the content check.
        parses: Validity,
        /// First offset where it differs from the nearest new version (its length if it is a
        /// prefix of it).
        first_diff_offset: u64,
        /// Its length (0 for a target that is not a regular file).
        len_bytes: u64,
    },
}

/// How an uncrashed run (recovery) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "end", content = "value")]
pub enum RunExit {
    /// Exited with this status code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Did not finish within the per-trial timeout.
    TimedOut,
}

/// Why the recovery run (the writer run again, uncrashed, over a crash's leftovers) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryFailure {
    /// The writer did not exit 0.
    Exit(RunExit),
    /// It exited 0 but the target is not the new version: it was fooled by the leftovers.
    Left(Verdict),
}

/// One reason a trial fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// The crash left a torn target.
    Torn,
    /// The crash left no target although the old version was in place.
    OldLost,
    /// The writer had acknowledged (printed its acknowledgement or exited 0), yet the target is
    /// not a new version.
    NotNewAfterAck,
    /// The writer hung and was killed at the per-trial timeout.
    WriterHung,
    /// The run after the crash failed or left something other than the new version.
    Recovery(RecoveryFailure),
    /// Files other than the target survived the recovery run (a failure only under `--strict`).
    OrphansAfterRecovery {
        /// How many.
        count: usize,
    },
    /// Under `--check`: the checker (or `--recover` before it) rejected the whole tree the
    /// crash left; its reason is kept beside the trial.
    CheckFailed,
}

impl Violation {
    /// What a writer changes so that a crash cannot leave this: the `Fix:` line of a diagnosis.
    pub fn fix(self) -> &'static str {
        match self {
            Violation::Torn | Violation::OldLost => {
                "write the new version to a temp file in the same directory, then rename it over the target"
            }
            Violation::NotNewAfterAck => {
                "acknowledge (exit 0, print the ack line) only after the rename that publishes the new version"
            }
            Violation::WriterHung => "bound every wait and retry; a writer must finish or fail",
            Violation::Recovery(RecoveryFailure::Exit(_)) => {
                "start cleanly over what a crash leaves: ignore or remove stale temp files and locks"
            }
            Violation::Recovery(RecoveryFailure::Left(_)) => {
                "never trust a leftover temp file: write the new version afresh and rename it"
            }
            Violation::OrphansAfterRecovery { .. } => {
                "remove the temp files a crashed run left (a per-run name the next run can find)"
            }
            Violation::CheckFailed => {
                "make each step complete (and durable) before a later step or an acknowledgement depends on it"
            }
        }
    }
}

/// What a subject must show under one crash kind. One enum for the concept: the strategy
/// catalogue (`torture_writers`) re-exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// No trial may show a violation.
    Pass,
    /// A canary: at least one trial must show a violation.
    Caught,
}

/// How many subjects of a run ended each way: the counts of every summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Expected to pass, and passed.
    pub passed: usize,
    /// Canaries caught.
    pub caught: usize,
    /// Canaries not caught in this shard (the merge decides).
    pub pending: usize,
    /// Everything else: violations, canaries not caught, writers that cannot be judged.
    pub failed: usize,
}

impl Tally {
    /// Counts `statuses`.
    pub fn of(statuses: impl IntoIterator<Item = SubjectStatus>) -> Tally {
        let mut tally = Tally::default();
        for status in statuses {
            match status {
                SubjectStatus::Passed => tally.passed += 1,
                SubjectStatus::Caught => tally.caught += 1,
                SubjectStatus::NotCaughtInShard => tally.pending += 1,
                SubjectStatus::Failed
                | SubjectStatus::NotCaught
                | SubjectStatus::NotModelled
                | SubjectStatus::Incomplete => tally.failed += 1,
            }
        }
        tally
    }
}

/// What a crash (or a fault, or a race) left at the target, in one word: the class every campaign
/// counts. [`Verdict`] is the detailed form (which new version, where a torn file differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetClass {
    /// No file.
    Absent,
    /// The old version.
    Old,
    /// A new version.
    New,
    /// Anything else (including something that is not a regular file).
    Torn,
}

impl TargetClass {
    /// `absent`, `old`, `new`, `torn`.
    pub fn name(self) -> &'static str {
        match self {
            TargetClass::Absent => "absent",
            TargetClass::Old => "old",
            TargetClass::New => "new",
            TargetClass::Torn => "torn",
        }
    }
}

impl fmt::Display for TargetClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A way to crash a writer: each is a mode of `torture` and a column of the main job's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashKind {
    /// `SIGKILL` at byte offsets and syscall boundaries (`torture kill`): the page cache survives.
    Kill,
    /// A power cut, simulated over the recorded trace (`torture power`): unsynced data may be lost.
    Power,
    /// One failed call per run: EIO, ENOSPC, EDQUOT, EINTR, a short write, fsyncgate
    /// (`torture errors`).
    Errors,
    /// Several runs of the writer at once on one target, interleaved (`torture race`).
    Race,
}

impl CrashKind {
    /// Every crash kind, in the main job's column order.
    pub const ALL: [CrashKind; 4] = [
        CrashKind::Kill,
        CrashKind::Power,
        CrashKind::Errors,
        CrashKind::Race,
    ];

    /// The subcommand: `kill`, `power`, `errors`, `race`.
    pub fn name(self) -> &'static str {
        match self {
            CrashKind::Kill => "kill",
            CrashKind::Power => "power",
            CrashKind::Errors => "errors",
            CrashKind::Race => "race",
        }
    }

    /// The column heading: `SIGKILL`, `power cut`, `I/O errors`, `racing`.
    pub fn heading(self) -> &'static str {
        match self {
            CrashKind::Kill => "SIGKILL",
            CrashKind::Power => "power cut",
            CrashKind::Errors => "I/O errors",
            CrashKind::Race => "racing",
        }
    }
}

/// Whether a campaign saw every kill point of its selection or one `--partition` shard of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every selected kill point (an unpartitioned run, or shards merged).
    Whole,
    /// One shard: a canary's violations may all lie in other shards.
    Shard,
}

/// How a subject's campaign compares with its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    /// Expected to pass, and no violation.
    Passed,
    /// A canary, and it was caught.
    Caught,
    /// Expected to pass, and a violation was found.
    Failed,
    /// A canary that was not caught: the harness itself has failed.
    NotCaught,
    /// A canary with no violation in this `--partition` shard: its violations may lie in other
    /// shards, so only `torture merge` can judge it.
    NotCaughtInShard,
    /// Expected to pass and no violation, but the writer did something the tracer does not
    /// model (mmap writes, io_uring): a pass would not be trustworthy.
    NotModelled,
    /// The campaign did not finish the subject (interrupted, or a cell it could not fill): it
    /// has no verdict, and an unfinished subject is never a pass.
    Incomplete,
}

impl Validation {
    /// Checks `bytes`. For [`Validation::Command`] this is the result the campaign passed in.
    pub fn check(&self, bytes: &[u8]) -> Validity {
        match self {
            Validation::Json => validity(is_json(bytes)),
            Validation::JsonLines => validity(is_json_lines(bytes)),
            Validation::Bytes => Validity::Unchecked,
            Validation::Command(result) => *result,
        }
    }
}

fn validity(valid: bool) -> Validity {
    if valid {
        Validity::Valid
    } else {
        Validity::Invalid
    }
}

/// True when `bytes` is exactly one JSON value (surrounding whitespace allowed), at any depth.
pub fn is_json(bytes: &[u8]) -> bool {
    json::validate(bytes).is_ok()
}

/// True when every non-blank line of `bytes` is one JSON value.
pub fn is_json_lines(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .all(is_json)
}

/// Whether [`classify`] will look at the validity of this state, i.e. whether the campaign must
/// run `--check CMD` before classifying. False when the bytes are exactly old or a new version.
pub fn needs_validation(state: &TargetState, versions: &Versions) -> bool {
    match state {
        TargetState::Regular(bytes) => versions.exact_match(bytes).is_none(),
        TargetState::Absent | TargetState::NotRegular(_) => false,
    }
}

/// Classifies what a crash left at the target.
pub fn classify(state: &TargetState, versions: &Versions, validation: &Validation) -> Verdict {
    match state {
        TargetState::Absent => Verdict::Absent,
        TargetState::NotRegular(_) => Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 0,
            len_bytes: 0,
        },
        TargetState::Regular(bytes) => classify_bytes(bytes, versions, validation),
    }
}

/// Classifies a regular file's contents: the fuzzing entry point.
pub fn classify_bytes(bytes: &[u8], versions: &Versions, validation: &Validation) -> Verdict {
    if let Some(verdict) = versions.exact_match(bytes) {
        return verdict;
    }
    let parses = validation.check(bytes);
    // Byte equality proves nothing for a writer whose runs disagree, so a complete, valid file
    // counts as new. Unchecked (bytes) cannot vouch for anything.
    if versions.rule == NewRule::ValidNotOld && parses == Validity::Valid {
        return Verdict::New { index: None };
    }
    Verdict::Torn {
        parses,
        first_diff_offset: versions.nearest_diff_offset(bytes),
        len_bytes: bytes.len() as u64,
    }
}

impl Versions {
    /// One old version (or none) and one new version, matched byte for byte.
    pub fn one(old: Option<Vec<u8>>, new: Vec<u8>) -> Versions {
        Versions {
            old,
            new: vec![new],
            rule: NewRule::Exact,
        }
    }

    /// The verdict for bytes equal to a known version. New versions are checked first: a writer
    /// that writes the same bytes for both generations leaves `new`.
    fn exact_match(&self, bytes: &[u8]) -> Option<Verdict> {
        if let Some(index) = self.new.iter().position(|new| new == bytes) {
            Some(Verdict::New { index: Some(index) })
        } else if self.old.as_deref() == Some(bytes) {
            Some(Verdict::Old)
        } else {
            None
        }
    }

    /// The longest prefix `bytes` shares with any new version (0 when there is none).
    pub fn nearest_diff_offset(&self, bytes: &[u8]) -> u64 {
        self.new
            .iter()
            .map(|new| first_diff_offset(bytes, new))
            .max()
            .unwrap_or(0)
    }
}

/// First offset where `a` and `b` differ; the shorter length when one is a prefix of the other.
pub fn first_diff_offset(a: &[u8], b: &[u8]) -> u64 {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    same as u64
}

/// The violations a crash verdict is on its own, given where the trial started and what the
/// writer had acknowledged, in a fixed order. Before an acknowledgement absent (on a first run),
/// old and new are all fine; after it only new is; torn never is, nor losing the old version.
pub fn crash_violations(verdict: &Verdict, initial: Initial, ack: Ack) -> Vec<Violation> {
    let mut violations = Vec::new();
    match (verdict, initial) {
        (Verdict::Torn { .. }, Initial::Absent | Initial::Old) => {
            violations.push(Violation::Torn);
        }
        (Verdict::Absent, Initial::Old) => violations.push(Violation::OldLost),
        (Verdict::Absent, Initial::Absent)
        | (Verdict::Old | Verdict::New { .. }, Initial::Absent | Initial::Old) => {}
    }
    match (ack, verdict) {
        (Ack::Acked, Verdict::Absent | Verdict::Old | Verdict::Torn { .. }) => {
            violations.push(Violation::NotNewAfterAck);
        }
        (Ack::Acked, Verdict::New { .. }) | (Ack::Pending, _) => {}
    }
    violations
}

/// Whether a recovery run succeeded: it must exit 0 and leave a new version.
pub fn judge_recovery(exit: RunExit, after: &Verdict) -> Option<RecoveryFailure> {
    match exit {
        RunExit::Code(0) => match after {
            Verdict::New { .. } => None,
            Verdict::Absent | Verdict::Old | Verdict::Torn { .. } => {
                Some(RecoveryFailure::Left(*after))
            }
        },
        RunExit::Code(_) | RunExit::Signal(_) | RunExit::TimedOut => {
            Some(RecoveryFailure::Exit(exit))
        }
    }
}

/// Everything the campaign learned about one trial, for [`trial_violations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialFacts {
    /// Where the trial started.
    pub initial: Initial,
    /// What the crash left.
    pub verdict: Verdict,
    /// What the writer had acknowledged before it was killed.
    pub ack: Ack,
    /// Whether the harness had to kill a hung writer.
    pub hung: bool,
    /// The recovery run's failure, if any.
    pub recovery: Option<RecoveryFailure>,
    /// Files other than the target left after the recovery run.
    pub orphans_after_recovery: usize,
    /// `--strict`: orphans are a failure.
    pub strict: bool,
}

/// Every violation one trial shows, in a fixed order.
pub fn trial_violations(facts: &TrialFacts) -> Vec<Violation> {
    let mut violations = crash_violations(&facts.verdict, facts.initial, facts.ack);
    if facts.hung {
        violations.push(Violation::WriterHung);
    }
    if let Some(failure) = facts.recovery {
        violations.push(Violation::Recovery(failure));
    }
    if facts.strict && facts.orphans_after_recovery > 0 {
        violations.push(Violation::OrphansAfterRecovery {
            count: facts.orphans_after_recovery,
        });
    }
    violations
}

/// Every violation one trial shows when `--check` judged whole trees: the checker's verdict
/// (a torn verdict is its rejection) replaces the target's rules, acknowledgements included
/// (the checker reads them in `{stdout}`); hang, recovery and leftovers as in
/// [`trial_violations`].
pub fn tree_trial_violations(facts: &TrialFacts) -> Vec<Violation> {
    let mut violations = match facts.verdict {
        Verdict::Torn { .. } => vec![Violation::CheckFailed],
        Verdict::Absent | Verdict::Old | Verdict::New { .. } => Vec::new(),
    };
    let rest = trial_violations(&TrialFacts {
        verdict: Verdict::New { index: None },
        ack: Ack::Pending,
        ..*facts
    });
    violations.extend(rest);
    violations
}

/// Compares a subject's violation count with what it must show. A subject that did something
/// the tracer does not model cannot pass; a canary with no violation in one shard is not judged.
pub fn subject_status(
    expect: Expect,
    violations: u64,
    fully_modelled: bool,
    coverage: Coverage,
) -> SubjectStatus {
    match (expect, violations, coverage) {
        (Expect::Pass, 0, _) if !fully_modelled => SubjectStatus::NotModelled,
        (Expect::Pass, 0, _) => SubjectStatus::Passed,
        (Expect::Pass, _, _) => SubjectStatus::Failed,
        (Expect::Caught, 0, Coverage::Whole) => SubjectStatus::NotCaught,
        (Expect::Caught, 0, Coverage::Shard) => SubjectStatus::NotCaughtInShard,
        (Expect::Caught, _, _) => SubjectStatus::Caught,
    }
}

impl SubjectStatus {
    /// Whether the subject behaved as expected (a canary not caught in one shard is not a
    /// failure of that shard).
    pub fn as_expected(self) -> bool {
        match self {
            SubjectStatus::Passed | SubjectStatus::Caught | SubjectStatus::NotCaughtInShard => true,
            SubjectStatus::Failed
            | SubjectStatus::NotCaught
            | SubjectStatus::NotModelled
            | SubjectStatus::Incomplete => false,
        }
    }
}

impl Expect {
    /// `pass` or `caught (canary)`, for tables and `torture list`.
    pub fn label(self) -> &'static str {
        match self {
            Expect::Pass => "pass",
            Expect::Caught => "caught (canary)",
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Pass => "pass",
            Expect::Caught => "caught",
        })
    }
}

impl Verdict {
    /// Short name: `absent`, `old`, `new`, `torn`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Absent => "absent",
            Verdict::Old => "old",
            Verdict::New { .. } => "new",
            Verdict::Torn { .. } => "torn",
        }
    }
}

impl Validity {
    /// `Some(true)` valid, `Some(false)` invalid, `None` unchecked.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Validity::Valid => Some(true),
            Validity::Invalid => Some(false),
            Validity::Unchecked => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Absent | Verdict::Old | Verdict::New { .. } => f.write_str(self.name()),
            Verdict::Torn {
                parses,
                first_diff_offset,
                len_bytes,
            } => {
                let parses = match parses {
                    Validity::Valid => ", still parses",
                    Validity::Invalid => ", does not parse",
                    Validity::Unchecked => "",
                };
                match (*len_bytes, *first_diff_offset == *len_bytes) {
                    (0, _) => write!(f, "torn (empty{parses})"),
                    (len, true) => {
                        write!(f, "torn (a {len}-byte prefix of the new version{parses})")
                    }
                    (len, false) => {
                        write!(
                            f,
                            "torn ({len} bytes, differs from the new version at byte {first_diff_offset}{parses})"
                        )
                    }
                }
            }
        }
    }
}

impl fmt::Display for RunExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunExit::Code(code) => write!(f, "exit status {code}"),
            RunExit::Signal(signal) => write!(f, "killed by signal {signal}"),
            RunExit::TimedOut => f.write_str("timed out"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Torn => f.write_str("torn target"),
            Violation::OldLost => f.write_str("old version lost (target absent)"),
            Violation::NotNewAfterAck => {
                f.write_str("the writer acknowledged, but the target is not a new version")
            }
            Violation::WriterHung => f.write_str("writer hung (killed at the timeout)"),
            Violation::Recovery(RecoveryFailure::Exit(exit)) => {
                write!(f, "recovery run failed ({exit})")
            }
            Violation::Recovery(RecoveryFailure::Left(verdict)) => {
                write!(f, "recovery run exited 0 but left the target {verdict}")
            }
            Violation::OrphansAfterRecovery { count } => {
                let files = crate::words::count_of(*count as u64, "orphan file", "orphan files");
                let survive = if *count == 1 { "survives" } else { "survive" };
                write!(f, "{files} {survive} recovery (--strict)")
            }
            Violation::CheckFailed => f.write_str("the --check command rejected the crash tree"),
        }
    }
}

impl fmt::Display for SubjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectStatus::Passed => "PASS",
            SubjectStatus::Caught => "CAUGHT",
            SubjectStatus::Failed => "FAIL",
            SubjectStatus::NotCaught => "NOT CAUGHT",
            SubjectStatus::NotCaughtInShard => "PENDING",
            SubjectStatus::NotModelled => "UNMODELLED",
            SubjectStatus::Incomplete => "INCOMPLETE",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_every_status_once() {
        let tally = Tally::of([
            SubjectStatus::Passed,
            SubjectStatus::Caught,
            SubjectStatus::Caught,
            SubjectStatus::NotCaughtInShard,
            SubjectStatus::Failed,
            SubjectStatus::NotCaught,
            SubjectStatus::NotModelled,
        ]);
        let expected = Tally {
            passed: 1,
            caught: 2,
            pending: 1,
            failed: 3,
        };
        assert_eq!(tally, expected);
    }
    use proptest::prelude::*;

    const OLD: &[u8] = br#"{"generation":1,"items":[1,2,3]}"#;
    const NEW: &[u8] = br#"{"generation":2,"items":[4,5,6,7]}"#;
    const OTHER_NEW: &[u8] = br#"{"generation":2,"items":[4,5,6,8]}"#;

    fn versions(rule: NewRule) -> Versions {
        Versions {
            old: Some(OLD.to_vec()),
            new: vec![NEW.to_vec()],
            rule,
        }
    }

    fn regular(bytes: &[u8]) -> TargetState {
        TargetState::Regular(bytes.to_vec())
    }

    const NEW0: Verdict = Verdict::New { index: Some(0) };

    #[test]
    fn exact_versions_and_absence() {
        let v = versions(NewRule::Exact);
        assert_eq!(
            classify(&TargetState::Absent, &v, &Validation::Json),
            Verdict::Absent
        );
        assert_eq!(classify(&regular(OLD), &v, &Validation::Json), Verdict::Old);
        assert_eq!(classify(&regular(NEW), &v, &Validation::Json), NEW0);
    }

    #[test]
    fn each_new_version_classifies_as_itself() {
        let v = Versions {
            new: vec![NEW.to_vec(), OTHER_NEW.to_vec()],
            ..versions(NewRule::Exact)
        };
        assert_eq!(classify_bytes(NEW, &v, &Validation::Json), NEW0);
        assert_eq!(
            classify_bytes(OTHER_NEW, &v, &Validation::Json),
            Verdict::New { index: Some(1) }
        );
        // A file cut where the two versions still agree is torn at its length.
        let cut = &OTHER_NEW[..OTHER_NEW.len() - 3];
        assert_eq!(
            classify_bytes(cut, &v, &Validation::Json),
            Verdict::Torn {
                parses: Validity::Invalid,
                first_diff_offset: cut.len() as u64,
                len_bytes: cut.len() as u64,
            }
        );
    }

    #[test]
    fn a_prefix_of_new_is_torn_at_its_length() {
        let verdict = classify(
            &regular(&NEW[..10]),
            &versions(NewRule::Exact),
            &Validation::Json,
        );
        assert_eq!(
            verdict,
            Verdict::Torn {
                parses: Validity::Invalid,
                first_diff_offset: 10,
                len_bytes: 10
            }
        );
        assert_eq!(
            verdict.to_string(),
            "torn (a 10-byte prefix of the new version, does not parse)"
        );
    }

    #[test]
    fn an_empty_file_is_torn_not_absent() {
        let verdict = classify(&regular(b""), &versions(NewRule::Exact), &Validation::Json);
        assert_eq!(
            verdict,
            Verdict::Torn {
                parses: Validity::Invalid,
                first_diff_offset: 0,
                len_bytes: 0
            }
        );
        assert_eq!(verdict.to_string(), "torn (empty, does not parse)");
    }

    #[test]
    fn a_valid_but_different_file_is_torn_under_the_exact_rule() {
        let verdict = classify(
            &regular(b"{}"),
            &versions(NewRule::Exact),
            &Validation::Json,
        );
        assert_eq!(
            verdict,
            Verdict::Torn {
                parses: Validity::Valid,
                first_diff_offset: 1,
                len_bytes: 2
            }
        );
        assert_eq!(
            verdict.to_string(),
            "torn (2 bytes, differs from the new version at byte 1, still parses)"
        );
    }

    #[test]
    fn valid_not_old_falls_back_to_validity() {
        let v = versions(NewRule::ValidNotOld);
        assert_eq!(
            classify(&regular(b"{\"x\":1}"), &v, &Validation::Json),
            Verdict::New { index: None }
        );
        assert_eq!(classify(&regular(OLD), &v, &Validation::Json), Verdict::Old);
        assert!(matches!(
            classify(&regular(b"{\"x\":"), &v, &Validation::Json),
            Verdict::Torn { .. }
        ));
        assert!(matches!(
            classify(&regular(b"{}"), &v, &Validation::Bytes),
            Verdict::Torn { .. }
        ));
        assert_eq!(
            classify(&regular(b"{}"), &v, &Validation::Command(Validity::Valid)),
            Verdict::New { index: None }
        );
    }

    #[test]
    fn not_regular_targets_are_torn() {
        let state = TargetState::NotRegular(FileKind::Symlink);
        assert!(matches!(
            classify(&state, &versions(NewRule::Exact), &Validation::Json),
            Verdict::Torn { .. }
        ));
    }

    #[test]
    fn json_lines_accepts_records_and_rejects_a_cut_line() {
        assert!(is_json_lines(b"{\"a\":1}\n{\"b\":2}\n"));
        assert!(is_json_lines(b"{\"a\":1}\n\n{\"b\":2}"));
        assert!(!is_json_lines(b"{\"a\":1}\n{\"b\":"));
    }

    #[test]
    fn deep_json_is_valid() {
        let depth = 1000;
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(is_json(deep.as_bytes()));
        assert!(!is_json(b"{} trailing"));
    }

    #[test]
    fn under_a_tree_check_the_checker_replaces_the_target_rules() {
        let torn = Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 0,
            len_bytes: 0,
        };
        let facts = |verdict, hung| TrialFacts {
            initial: Initial::Old,
            verdict,
            ack: Ack::Acked,
            hung,
            recovery: None,
            orphans_after_recovery: 0,
            strict: false,
        };
        assert_eq!(
            tree_trial_violations(&facts(torn, true)),
            [Violation::CheckFailed, Violation::WriterHung]
        );
        // Acked and the checker held: no ack rule of the target judge applies.
        assert_eq!(tree_trial_violations(&facts(NEW0, false)), []);
        assert_eq!(
            trial_violations(&facts(torn, false)),
            [Violation::Torn, Violation::NotNewAfterAck]
        );
    }

    #[test]
    fn crash_violations_depend_on_the_initial_state_and_the_ack() {
        let judge = |verdict, initial| crash_violations(&verdict, initial, Ack::Pending);
        assert_eq!(judge(Verdict::Absent, Initial::Old), [Violation::OldLost]);
        assert_eq!(judge(Verdict::Absent, Initial::Absent), []);
        assert_eq!(judge(Verdict::Old, Initial::Old), []);
        assert_eq!(judge(NEW0, Initial::Absent), []);
        let torn = Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 3,
            len_bytes: 3,
        };
        assert_eq!(judge(torn, Initial::Absent), [Violation::Torn]);
        let acked = |verdict, initial| crash_violations(&verdict, initial, Ack::Acked);
        assert_eq!(acked(NEW0, Initial::Old), []);
        assert_eq!(
            acked(Verdict::Old, Initial::Old),
            [Violation::NotNewAfterAck]
        );
        assert_eq!(
            acked(Verdict::Absent, Initial::Absent),
            [Violation::NotNewAfterAck]
        );
        assert_eq!(
            acked(Verdict::Absent, Initial::Old),
            [Violation::OldLost, Violation::NotNewAfterAck]
        );
        assert_eq!(
            acked(torn, Initial::Old),
            [Violation::Torn, Violation::NotNewAfterAck]
        );
    }

    #[test]
    fn recovery_must_exit_zero_and_leave_new() {
        assert_eq!(judge_recovery(RunExit::Code(0), &NEW0), None);
        let valid = Verdict::New { index: None };
        assert_eq!(judge_recovery(RunExit::Code(0), &valid), None);
        let torn = Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 3,
            len_bytes: 9,
        };
        assert_eq!(
            judge_recovery(RunExit::Code(0), &torn),
            Some(RecoveryFailure::Left(torn))
        );
        let failed = judge_recovery(RunExit::Code(1), &NEW0);
        assert_eq!(failed, Some(RecoveryFailure::Exit(RunExit::Code(1))));
        let hung = judge_recovery(RunExit::TimedOut, &NEW0);
        assert_eq!(hung, Some(RecoveryFailure::Exit(RunExit::TimedOut)));
    }

    #[test]
    fn orphans_fail_only_under_strict() {
        let facts = TrialFacts {
            initial: Initial::Old,
            verdict: NEW0,
            ack: Ack::Pending,
            hung: false,
            recovery: None,
            orphans_after_recovery: 2,
            strict: false,
        };
        assert!(trial_violations(&facts).is_empty());
        let strict = TrialFacts {
            strict: true,
            ..facts
        };
        assert_eq!(
            trial_violations(&strict),
            vec![Violation::OrphansAfterRecovery { count: 2 }]
        );
    }

    #[test]
    fn subject_status_compares_with_expect() {
        let status = |expect, violations, modelled| {
            subject_status(expect, violations, modelled, Coverage::Whole)
        };
        assert_eq!(status(Expect::Pass, 0, true), SubjectStatus::Passed);
        assert_eq!(status(Expect::Pass, 1, true), SubjectStatus::Failed);
        assert_eq!(status(Expect::Caught, 0, true), SubjectStatus::NotCaught);
        assert_eq!(status(Expect::Caught, 5, true), SubjectStatus::Caught);
        assert_eq!(status(Expect::Pass, 0, false), SubjectStatus::NotModelled);
        assert_eq!(status(Expect::Pass, 2, false), SubjectStatus::Failed);
        assert!(!SubjectStatus::NotCaught.as_expected());
        assert!(!SubjectStatus::NotModelled.as_expected());
    }

    #[test]
    fn a_shard_never_fails_for_want_of_a_canary_violation() {
        let shard = |expect, violations| subject_status(expect, violations, true, Coverage::Shard);
        assert_eq!(shard(Expect::Caught, 0), SubjectStatus::NotCaughtInShard);
        assert!(SubjectStatus::NotCaughtInShard.as_expected());
        assert_eq!(shard(Expect::Caught, 1), SubjectStatus::Caught);
        assert_eq!(shard(Expect::Pass, 1), SubjectStatus::Failed);
    }

    fn json_payload() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z]{0,12}".prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
        ];
        let tree = leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        // An object or array at the top, as real config/state files are: no strict prefix of
        // one is itself a complete JSON value.
        prop::collection::vec(tree, 0..6)
            .prop_map(|items| serde_json::to_vec(&items).unwrap_or_default())
    }

    fn any_rule() -> impl Strategy<Value = NewRule> {
        prop_oneof![Just(NewRule::Exact), Just(NewRule::ValidNotOld)]
    }

    fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    fn any_versions() -> impl Strategy<Value = Versions> {
        (
            prop::option::of(any_bytes(50)),
            prop::collection::vec(any_bytes(50), 0..4),
            any_rule(),
        )
            .prop_map(|(old, new, rule)| Versions { old, new, rule })
    }

    const VALIDATIONS: [Validation; 4] = [
        Validation::Json,
        Validation::JsonLines,
        Validation::Bytes,
        Validation::Command(Validity::Invalid),
    ];

    proptest! {
        #[test]
        fn every_strict_prefix_of_json_is_torn_and_unparseable(
            new in json_payload(),
            cut in any::<prop::sample::Index>(),
            rule in any_rule(),
        ) {
            let prefix = &new[..cut.index(new.len())];
            let v = Versions { old: Some(OLD.to_vec()), new: vec![new.clone()], rule };
            let verdict = classify(&regular(prefix), &v, &Validation::Json);
            prop_assert_eq!(
                verdict,
                Verdict::Torn {
                    parses: Validity::Invalid,
                    first_diff_offset: prefix.len() as u64,
                    len_bytes: prefix.len() as u64,
                }
            );
        }

        #[test]
        fn old_and_new_versions_classify_as_themselves(
            v in any_versions(),
            which in any::<prop::sample::Index>(),
            validation in 0usize..4,
        ) {
            let validation = VALIDATIONS[validation];
            if let Some(old) = &v.old {
                let verdict = classify_bytes(old, &v, &validation);
                // New is checked first: an old version equal to a new one is new.
                match v.new.iter().position(|n| n == old) {
                    Some(index) => prop_assert_eq!(verdict, Verdict::New { index: Some(index) }),
                    None => prop_assert_eq!(verdict, Verdict::Old),
                }
            }
            if !v.new.is_empty() {
                let index = which.index(v.new.len());
                let verdict = classify_bytes(&v.new[index], &v, &validation);
                let first = v.new.iter().position(|n| *n == v.new[index]);
                prop_assert_eq!(verdict, Verdict::New { index: first });
            }
        }

        #[test]
        fn an_acknowledged_old_version_is_a_violation_and_an_unacknowledged_one_is_not(
            initial in prop_oneof![Just(Initial::Absent), Just(Initial::Old)],
        ) {
            prop_assert!(crash_violations(&Verdict::Old, initial, Ack::Acked)
                .contains(&Violation::NotNewAfterAck));
            prop_assert!(crash_violations(&Verdict::Old, initial, Ack::Pending).is_empty());
        }

        #[test]
        fn classify_never_panics_and_is_consistent(
            bytes in any_bytes(200),
            v in any_versions(),
            which in 0usize..4,
            ack in prop_oneof![Just(Ack::Pending), Just(Ack::Acked)],
        ) {
            let validation = VALIDATIONS[which];
            let verdict = classify(&regular(&bytes), &v, &validation);
            let is_new = v.new.contains(&bytes);
            let is_old = v.old.as_deref() == Some(&bytes[..]);
            match verdict {
                Verdict::New { index: Some(index) } => prop_assert_eq!(&v.new[index], &bytes),
                Verdict::New { index: None } => {
                    prop_assert!(v.rule == NewRule::ValidNotOld && !is_new && !is_old);
                }
                Verdict::Old => prop_assert!(is_old && !is_new),
                Verdict::Absent => prop_assert!(false, "a regular file is never absent"),
                Verdict::Torn { first_diff_offset, len_bytes, .. } => {
                    prop_assert!(!is_new && !is_old);
                    prop_assert_eq!(len_bytes, bytes.len() as u64);
                    let offset = first_diff_offset as usize;
                    prop_assert!(offset <= bytes.len());
                    let shares_prefix = v.new.iter().any(|n| n.len() >= offset && bytes[..offset] == n[..offset]);
                    prop_assert!(offset == 0 || shares_prefix);
                    let violations = crash_violations(&verdict, Initial::Old, ack);
                    prop_assert!(violations.contains(&Violation::Torn));
                }
            }
            prop_assert_eq!(needs_validation(&regular(&bytes), &v), !is_new && !is_old);
        }
    }
}
