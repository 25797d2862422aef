//! The oracle: after a crash, is the target absent, the old version, the new version, or torn?
//!
//! Pure code: it sees bytes and facts, never a process or a file, so proptest and fuzz drive it
//! directly. The campaign gathers the facts (target contents, recovery exit, orphans) and asks
//! the oracle for a [`Verdict`] and the [`Violation`]s it implies.

use std::fmt;

use serde::Serialize;

pub mod json;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// The versions a crashed target may legitimately be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The old version seeded before the trial (`None` under `--initial absent`).
    pub old: Option<&'a [u8]>,
    /// The golden run's output.
    pub new: &'a [u8],
    /// Whether two golden runs wrote identical bytes. When they did not, any complete, valid file
    /// that is not the old version counts as new.
    pub goldens_agree: bool,
}

/// What a crash left at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No file.
    Absent,
    /// Byte-identical to the old version.
    Old,
    /// Byte-identical to the golden output (or valid, when the goldens disagree).
    New,
    /// Anything else.
    Torn {
        /// Whether the torn file still passes the content check.
        parses: Validity,
        /// First offset where it differs from the new version (its length if it is a prefix of it).
        first_diff_offset: u64,
        /// Its length (0 for a target that is not a regular file).
        len_bytes: u64,
    },
}

/// How an uncrashed run (recovery) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// The writer hung and was killed at the per-trial timeout.
    WriterHung,
    /// The run after the crash failed or left something other than the new version.
    Recovery(RecoveryFailure),
    /// Files other than the target survived the recovery run (a failure only under `--strict`).
    OrphansAfterRecovery {
        /// How many.
        count: usize,
    },
}

/// What a subject is expected to do under SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// No trial may show a violation.
    Pass,
    /// A canary: at least one trial must show a violation.
    Caught,
}

/// How a subject's campaign compares with its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Expected to pass and no violation, but the writer did something the tracer does not
    /// model (mmap writes, io_uring): a pass would not be trustworthy.
    NotModelled,
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
/// run `--check CMD` before classifying. False when the bytes are exactly old or new.
pub fn needs_validation(state: &TargetState, expected: &Expected<'_>) -> bool {
    match state {
        TargetState::Regular(bytes) => exact_version(bytes, expected).is_none(),
        TargetState::Absent | TargetState::NotRegular(_) => false,
    }
}

/// Classifies what a crash left at the target.
pub fn classify(state: &TargetState, expected: &Expected<'_>, validation: &Validation) -> Verdict {
    match state {
        TargetState::Absent => Verdict::Absent,
        TargetState::NotRegular(_) => Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 0,
            len_bytes: 0,
        },
        TargetState::Regular(bytes) => classify_bytes(bytes, expected, validation),
    }
}

/// Classifies a regular file's contents: the fuzzing entry point.
pub fn classify_bytes(bytes: &[u8], expected: &Expected<'_>, validation: &Validation) -> Verdict {
    if let Some(verdict) = exact_version(bytes, expected) {
        return verdict;
    }
    let parses = validation.check(bytes);
    // Two goldens disagree: byte equality with one of them proves nothing, so a complete,
    // valid file counts as new. Unchecked (bytes) cannot vouch for anything.
    if !expected.goldens_agree && parses == Validity::Valid {
        return Verdict::New;
    }
    Verdict::Torn {
        parses,
        first_diff_offset: first_diff_offset(bytes, expected.new),
        len_bytes: bytes.len() as u64,
    }
}

/// New is checked first: a writer that writes the same bytes for both generations leaves `new`.
fn exact_version(bytes: &[u8], expected: &Expected<'_>) -> Option<Verdict> {
    if bytes == expected.new {
        Some(Verdict::New)
    } else if expected.old == Some(bytes) {
        Some(Verdict::Old)
    } else {
        None
    }
}

/// First offset where `a` and `b` differ; the shorter length when one is a prefix of the other.
pub fn first_diff_offset(a: &[u8], b: &[u8]) -> u64 {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    same as u64
}

/// The violation a crash verdict is on its own, given where the trial started.
pub fn crash_violation(verdict: &Verdict, initial: Initial) -> Option<Violation> {
    match (verdict, initial) {
        (Verdict::Torn { .. }, Initial::Absent | Initial::Old) => Some(Violation::Torn),
        (Verdict::Absent, Initial::Old) => Some(Violation::OldLost),
        (Verdict::Absent, Initial::Absent)
        | (Verdict::Old | Verdict::New, Initial::Absent | Initial::Old) => None,
    }
}

/// Whether a recovery run succeeded: it must exit 0 and leave the new version.
pub fn judge_recovery(exit: RunExit, after: &Verdict) -> Option<RecoveryFailure> {
    match exit {
        RunExit::Code(0) => match after {
            Verdict::New => None,
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
    let mut violations: Vec<Violation> = crash_violation(&facts.verdict, facts.initial)
        .into_iter()
        .collect();
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

/// Compares a subject's violation count with its expectation. A subject that did something the
/// tracer does not model cannot pass.
pub fn subject_status(
    expectation: Expectation,
    violations: u64,
    fully_modelled: bool,
) -> SubjectStatus {
    match (expectation, violations) {
        (Expectation::Pass, 0) if !fully_modelled => SubjectStatus::NotModelled,
        (Expectation::Pass, 0) => SubjectStatus::Passed,
        (Expectation::Pass, _) => SubjectStatus::Failed,
        (Expectation::Caught, 0) => SubjectStatus::NotCaught,
        (Expectation::Caught, _) => SubjectStatus::Caught,
    }
}

impl SubjectStatus {
    /// Whether the subject behaved as expected.
    pub fn as_expected(self) -> bool {
        match self {
            SubjectStatus::Passed | SubjectStatus::Caught => true,
            SubjectStatus::Failed | SubjectStatus::NotCaught | SubjectStatus::NotModelled => false,
        }
    }
}

impl Verdict {
    /// Short name: `absent`, `old`, `new`, `torn`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Absent => "absent",
            Verdict::Old => "old",
            Verdict::New => "new",
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
            Verdict::Absent | Verdict::Old | Verdict::New => f.write_str(self.name()),
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
            Violation::WriterHung => f.write_str("writer hung (killed at the timeout)"),
            Violation::Recovery(RecoveryFailure::Exit(exit)) => {
                write!(f, "recovery run failed ({exit})")
            }
            Violation::Recovery(RecoveryFailure::Left(verdict)) => {
                write!(f, "recovery run exited 0 but left the target {verdict}")
            }
            Violation::OrphansAfterRecovery { count } => {
                write!(f, "{count} orphan file(s) survive recovery (--strict)")
            }
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
            SubjectStatus::NotModelled => "UNMODELLED",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OLD: &[u8] = br#"{"generation":1,"items":[1,2,3]}"#;
    const NEW: &[u8] = br#"{"generation":2,"items":[4,5,6,7]}"#;

    fn expected(goldens_agree: bool) -> Expected<'static> {
        Expected {
            old: Some(OLD),
            new: NEW,
            goldens_agree,
        }
    }

    fn regular(bytes: &[u8]) -> TargetState {
        TargetState::Regular(bytes.to_vec())
    }

    #[test]
    fn exact_versions_and_absence() {
        let e = expected(true);
        assert_eq!(
            classify(&TargetState::Absent, &e, &Validation::Json),
            Verdict::Absent
        );
        assert_eq!(classify(&regular(OLD), &e, &Validation::Json), Verdict::Old);
        assert_eq!(classify(&regular(NEW), &e, &Validation::Json), Verdict::New);
    }

    #[test]
    fn a_prefix_of_new_is_torn_at_its_length() {
        let verdict = classify(&regular(&NEW[..10]), &expected(true), &Validation::Json);
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
        let verdict = classify(&regular(b""), &expected(true), &Validation::Json);
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
    fn a_valid_but_different_file_is_torn_when_goldens_agree() {
        let verdict = classify(&regular(b"{}"), &expected(true), &Validation::Json);
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
    fn disagreeing_goldens_fall_back_to_validity() {
        let e = expected(false);
        assert_eq!(
            classify(&regular(b"{\"x\":1}"), &e, &Validation::Json),
            Verdict::New
        );
        assert!(matches!(
            classify(&regular(b"{\"x\":"), &e, &Validation::Json),
            Verdict::Torn { .. }
        ));
        assert!(matches!(
            classify(&regular(b"{}"), &e, &Validation::Bytes),
            Verdict::Torn { .. }
        ));
        assert_eq!(
            classify(&regular(b"{}"), &e, &Validation::Command(Validity::Valid)),
            Verdict::New
        );
    }

    #[test]
    fn not_regular_targets_are_torn() {
        let state = TargetState::NotRegular(FileKind::Symlink);
        assert!(matches!(
            classify(&state, &expected(true), &Validation::Json),
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
    fn crash_violations_depend_on_the_initial_state() {
        assert_eq!(
            crash_violation(&Verdict::Absent, Initial::Old),
            Some(Violation::OldLost)
        );
        assert_eq!(crash_violation(&Verdict::Absent, Initial::Absent), None);
        assert_eq!(crash_violation(&Verdict::Old, Initial::Old), None);
        assert_eq!(crash_violation(&Verdict::New, Initial::Absent), None);
        let torn = Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 3,
            len_bytes: 3,
        };
        assert_eq!(
            crash_violation(&torn, Initial::Absent),
            Some(Violation::Torn)
        );
    }

    #[test]
    fn recovery_must_exit_zero_and_leave_new() {
        assert_eq!(judge_recovery(RunExit::Code(0), &Verdict::New), None);
        let torn = Verdict::Torn {
            parses: Validity::Invalid,
            first_diff_offset: 3,
            len_bytes: 9,
        };
        assert_eq!(
            judge_recovery(RunExit::Code(0), &torn),
            Some(RecoveryFailure::Left(torn))
        );
        let failed = judge_recovery(RunExit::Code(1), &Verdict::New);
        assert_eq!(failed, Some(RecoveryFailure::Exit(RunExit::Code(1))));
        let hung = judge_recovery(RunExit::TimedOut, &Verdict::New);
        assert_eq!(hung, Some(RecoveryFailure::Exit(RunExit::TimedOut)));
    }

    #[test]
    fn orphans_fail_only_under_strict() {
        let facts = TrialFacts {
            initial: Initial::Old,
            verdict: Verdict::New,
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
    fn subject_status_compares_with_expectation() {
        assert_eq!(
            subject_status(Expectation::Pass, 0, true),
            SubjectStatus::Passed
        );
        assert_eq!(
            subject_status(Expectation::Pass, 1, true),
            SubjectStatus::Failed
        );
        assert_eq!(
            subject_status(Expectation::Caught, 0, true),
            SubjectStatus::NotCaught
        );
        assert_eq!(
            subject_status(Expectation::Caught, 5, true),
            SubjectStatus::Caught
        );
        assert_eq!(
            subject_status(Expectation::Pass, 0, false),
            SubjectStatus::NotModelled
        );
        assert_eq!(
            subject_status(Expectation::Pass, 2, false),
            SubjectStatus::Failed
        );
        assert!(!SubjectStatus::NotCaught.as_expected());
        assert!(!SubjectStatus::NotModelled.as_expected());
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

    proptest! {
        #[test]
        fn every_strict_prefix_of_json_is_torn_and_unparseable(
            new in json_payload(),
            cut in any::<prop::sample::Index>(),
        ) {
            let prefix = &new[..cut.index(new.len())];
            let e = Expected { old: Some(OLD), new: &new, goldens_agree: true };
            let verdict = classify(&regular(prefix), &e, &Validation::Json);
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
        fn strict_prefixes_stay_torn_when_goldens_disagree(
            new in json_payload(),
            cut in any::<prop::sample::Index>(),
        ) {
            let prefix = &new[..cut.index(new.len())];
            let e = Expected { old: None, new: &new, goldens_agree: false };
            let verdict = classify(&regular(prefix), &e, &Validation::Json);
            prop_assert!(matches!(verdict, Verdict::Torn { .. }), "{} gave {}", String::from_utf8_lossy(prefix), verdict);
        }

        #[test]
        fn classify_never_panics_and_is_consistent(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            old in prop::option::of(prop::collection::vec(any::<u8>(), 0..50)),
            new in prop::collection::vec(any::<u8>(), 0..50),
            goldens_agree in any::<bool>(),
            which in 0usize..4,
        ) {
            let validation = [Validation::Json, Validation::JsonLines, Validation::Bytes,
                Validation::Command(Validity::Invalid)][which];
            let e = Expected { old: old.as_deref(), new: &new, goldens_agree };
            let verdict = classify(&regular(&bytes), &e, &validation);
            match verdict {
                Verdict::New => prop_assert!(bytes == new || !goldens_agree),
                Verdict::Old => prop_assert_eq!(old.as_deref(), Some(&bytes[..])),
                Verdict::Absent => prop_assert!(false, "a regular file is never absent"),
                Verdict::Torn { first_diff_offset, len_bytes, .. } => {
                    prop_assert!(bytes != new);
                    prop_assert_eq!(len_bytes, bytes.len() as u64);
                    prop_assert!(first_diff_offset <= bytes.len().min(new.len()) as u64);
                    let offset = first_diff_offset as usize;
                    prop_assert_eq!(&bytes[..offset], &new[..offset]);
                }
            }
            prop_assert_eq!(needs_validation(&regular(&bytes), &e), bytes != new && old.as_deref() != Some(&bytes[..]));
        }
    }
}
