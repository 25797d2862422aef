//! The race oracle: from what the harness observed during one interleaving (reads of the target
//! between steps, each writer's end, the final target, leftovers, the recovery run), every rule
//! the race broke.
//!
//! The rules:
//! - every read is absent (only before anything was there), the old version, or one writer's
//!   complete version; once something is there the target never vanishes;
//! - the final target is a complete version of a writer that exited 0 or was killed (a killed
//!   writer may have published before it died); when no writer exited 0 it may also still be
//!   the old version (or absent, when there was none);
//! - replace: a writer may fail (exit non-zero) only if it left the target alone: its version
//!   never appeared and no call of it that succeeded changed the target (its [`Trail`]); at
//!   least one writer that was not killed succeeds; no writer exits 0 while its version is
//!   later overwritten by a torn one;
//! - no-clobber: at most one writer's version ever appears (none over an old version), and
//!   the writers that did not win exit non-zero;
//! - `--strict`: nothing is left beside the target;
//! - one more clean run exits 0 and leaves its own version.

use std::fmt;

use crate::oracle::{RunExit, TargetState};

use super::classify::{Mix, Reading, Versions, classify};
use super::schedule::WriterId;
use super::trail::Trail;

/// What the writers promise when the target exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace it: every writer succeeds, the last one to publish wins.
    Replace,
    /// Never replace it: one writer wins, the others fail and leave nothing.
    NoClobber,
}

/// How one writer's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// It exited, or died of a signal, or timed out, by itself.
    Exit(RunExit),
    /// The harness SIGKILLed it (`--kill`).
    Killed,
}

/// One read of the target, taken between steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRead {
    /// The read happened after this step (0-based) of the interleaving.
    pub after_step: u64,
    /// What was there.
    pub state: TargetState,
}

/// The clean run after the race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// How it ended.
    pub exit: RunExit,
    /// The version it writes.
    pub version: Vec<u8>,
    /// The target after it.
    pub after: TargetState,
}

/// Everything observed about one interleaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceFacts {
    /// Replace or no-clobber.
    pub mode: Mode,
    /// The version in place before the race, if any.
    pub old: Option<Vec<u8>>,
    /// Writer `i + 1`'s complete version at index `i`.
    pub versions: Vec<Vec<u8>>,
    /// Writer `i + 1`'s end at index `i` (missing entries count as killed).
    pub ends: Vec<WriterEnd>,
    /// Writer `i + 1`'s trail at index `i` (a missing one counts as having changed the target).
    pub trails: Vec<Trail>,
    /// Reads between steps, in order.
    pub reads: Vec<TargetRead>,
    /// The target after every writer ended.
    pub final_state: TargetState,
    /// Files beside the target after the race.
    pub leftovers: usize,
    /// `--strict`: leftovers are a violation.
    pub strict: bool,
    /// The clean run after the race, if one was made.
    pub recovery: Option<Recovery>,
    /// `--check CMD`: the whole trees it rejected, in the order they were seen (empty without
    /// `--check`).
    pub check_failures: Vec<CheckFailure>,
}

/// When a whole tree judged by `--check` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckPoint {
    /// Between steps, after this step (every writer held).
    AfterStep(u64),
    /// After every writer ended.
    End,
    /// After the clean run.
    AfterRecovery,
}

/// A whole tree `--check` rejected: when it was read, and the checker's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// When.
    pub at: CheckPoint,
    /// The checker's first line of output (else its exit status).
    pub reason: String,
}

/// One rule an interleaving broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A read between steps saw a torn file.
    TornRead {
        /// After which step.
        after_step: u64,
        /// What it saw.
        mix: Mix,
    },
    /// The target disappeared after a version had been there.
    Vanished {
        /// After which step.
        after_step: u64,
    },
    /// The final target is torn.
    TornFinal {
        /// What it is.
        mix: Mix,
    },
    /// The final target is whole but not from a writer allowed to have published it.
    FinalNotFromSuccessfulWriter {
        /// What it is.
        reading: Reading,
    },
    /// Replace mode: a writer failed after it changed the target (or published its version).
    WriterFailed {
        /// Who.
        writer: WriterId,
        /// How it ended.
        exit: RunExit,
    },
    /// Replace mode: every writer failed (none was killed), so nobody replaced the target.
    NoWriterSucceeded,
    /// A writer exited 0, and its version, once in place, was overwritten by a torn file.
    SuccessOverwrittenByTorn {
        /// Who.
        writer: WriterId,
        /// The read that saw the torn file (`None`: the final target).
        after_step: Option<u64>,
    },
    /// No-clobber: more than one version was published (or one over the old version).
    SeveralWinners {
        /// Every writer whose version appeared, in order of appearance.
        writers: Vec<WriterId>,
        /// Whether an old version was clobbered.
        over_old: bool,
    },
    /// No-clobber: a writer exited 0 but its version is not the final target.
    LoserExitedZero {
        /// Who.
        writer: WriterId,
    },
    /// `--strict`: files were left beside the target.
    Leftovers {
        /// How many.
        count: usize,
    },
    /// The clean run after the race failed or did not leave its own version.
    RecoveryFailed {
        /// How it ended.
        exit: RunExit,
        /// What it left; the clean run is the writer numbered after the racers.
        left: Reading,
    },
    /// `--check CMD` rejected a whole tree (the first it rejected in the interleaving).
    CheckFailed(CheckFailure),
}

impl RaceFacts {
    fn classify(&self, state: &TargetState) -> Reading {
        let versions = Versions {
            old: self.old.as_deref(),
            writers: &self.versions,
        };
        classify(state, &versions)
    }

    fn end(&self, writer: WriterId) -> WriterEnd {
        let index = (writer.0 as usize).wrapping_sub(1);
        self.ends.get(index).copied().unwrap_or(WriterEnd::Killed)
    }

    fn exited_zero(&self, writer: WriterId) -> bool {
        self.end(writer) == WriterEnd::Exit(RunExit::Code(0))
    }

    fn writers(&self) -> impl Iterator<Item = WriterId> + '_ {
        (1..=self.versions.len().max(self.ends.len())).map(|n| WriterId(n as u32))
    }

    fn trail(&self, writer: WriterId) -> Option<&Trail> {
        self.trails.get((writer.0 as usize).wrapping_sub(1))
    }

    /// How `writer` ended when it failed by itself (not killed by the harness, not exit 0).
    fn failure(&self, writer: WriterId) -> Option<RunExit> {
        match self.end(writer) {
            WriterEnd::Exit(RunExit::Code(0)) | WriterEnd::Killed => None,
            WriterEnd::Exit(exit) => Some(exit),
        }
    }

    /// Whether `writer` left the target alone: no call of it changed the target and its
    /// version was never seen there.
    fn left_alone(&self, writer: WriterId, seen: &[&Reading]) -> bool {
        let untouched = self.trail(writer).is_some_and(|t| !t.touched_target);
        untouched && !seen.contains(&&Reading::Version(writer))
    }
}

/// Every rule the interleaving broke, in a fixed order.
pub fn judge(facts: &RaceFacts) -> Vec<Violation> {
    let reads: Vec<(u64, Reading)> = facts
        .reads
        .iter()
        .map(|read| (read.after_step, facts.classify(&read.state)))
        .collect();
    let final_reading = facts.classify(&facts.final_state);
    let mut violations = read_violations(facts, &reads);
    violations.extend(final_violation(facts, &final_reading));
    violations.extend(overwritten_successes(facts, &reads, &final_reading));
    let seen: Vec<&Reading> = reads
        .iter()
        .map(|(_, r)| r)
        .chain([&final_reading])
        .collect();
    violations.extend(match facts.mode {
        Mode::Replace => failed_writers(facts, &seen),
        Mode::NoClobber => no_clobber_violations(facts, &reads, &final_reading),
    });
    if facts.strict && facts.leftovers > 0 {
        violations.push(Violation::Leftovers {
            count: facts.leftovers,
        });
    }
    violations.extend(
        facts
            .recovery
            .as_ref()
            .and_then(|r| recovery_violation(facts, r)),
    );
    // The oracle's own rules come first: they say more about the bytes of the target.
    violations.extend(
        facts
            .check_failures
            .first()
            .cloned()
            .map(Violation::CheckFailed),
    );
    violations
}

fn read_violations(facts: &RaceFacts, reads: &[(u64, Reading)]) -> Vec<Violation> {
    let mut something_there = facts.old.is_some();
    let mut violations = Vec::new();
    for (after_step, reading) in reads {
        let after_step = *after_step;
        match reading {
            Reading::Absent if something_there => {
                violations.push(Violation::Vanished { after_step })
            }
            Reading::Torn(mix) => violations.push(Violation::TornRead {
                after_step,
                mix: mix.clone(),
            }),
            Reading::Absent | Reading::Old | Reading::Version(_) | Reading::NotRegular(_) => {}
        }
        something_there |= *reading != Reading::Absent;
    }
    violations
}

fn final_violation(facts: &RaceFacts, reading: &Reading) -> Option<Violation> {
    let anyone_succeeded = facts.writers().any(|w| facts.exited_zero(w));
    let allowed = match reading {
        Reading::Torn(mix) => return Some(Violation::TornFinal { mix: mix.clone() }),
        Reading::Version(writer) => {
            facts.exited_zero(*writer) || facts.end(*writer) == WriterEnd::Killed
        }
        Reading::Old => !anyone_succeeded,
        Reading::Absent => !anyone_succeeded && facts.old.is_none(),
        Reading::NotRegular(_) => false,
    };
    (!allowed).then(|| Violation::FinalNotFromSuccessfulWriter {
        reading: reading.clone(),
    })
}

/// A writer that exited 0 saw its version, once in place, replaced by a torn file.
fn overwritten_successes(
    facts: &RaceFacts,
    reads: &[(u64, Reading)],
    final_reading: &Reading,
) -> Vec<Violation> {
    let sequence = reads
        .iter()
        .map(|(step, reading)| (Some(*step), reading))
        .chain([(None, final_reading)]);
    let mut in_place: Option<WriterId> = None;
    let mut violations: Vec<Violation> = Vec::new();
    for (after_step, reading) in sequence {
        match reading {
            Reading::Version(writer) => in_place = Some(*writer),
            Reading::Torn(_) => {
                if let Some(writer) = in_place.take().filter(|w| facts.exited_zero(*w)) {
                    violations.push(Violation::SuccessOverwrittenByTorn { writer, after_step });
                }
            }
            Reading::Absent | Reading::Old | Reading::NotRegular(_) => in_place = None,
        }
    }
    violations
}

/// Replace mode: failing is allowed to a writer that left the target alone, as long as some
/// writer succeeded (or was killed, and may have published before it died).
fn failed_writers(facts: &RaceFacts, seen: &[&Reading]) -> Vec<Violation> {
    let mut violations: Vec<Violation> = facts
        .writers()
        .filter_map(|writer| Some((writer, facts.failure(writer)?)))
        .filter(|(writer, _)| !facts.left_alone(*writer, seen))
        .map(|(writer, exit)| Violation::WriterFailed { writer, exit })
        .collect();
    let anyone_through = facts.writers().any(|w| facts.failure(w).is_none());
    if violations.is_empty() && !anyone_through {
        violations.push(Violation::NoWriterSucceeded);
    }
    violations
}

/// The writers that failed without breaking a rule, each in one sentence: "writer 2 found
/// `x.lock` already there (openat O_CREAT|O_EXCL: EEXIST) and exited with status 255 without
/// touching the target".
pub fn clean_failures(facts: &RaceFacts) -> Vec<String> {
    let reads = facts.reads.iter().map(|r| facts.classify(&r.state));
    let mut seen: Vec<Reading> = reads.collect();
    seen.push(facts.classify(&facts.final_state));
    let seen: Vec<&Reading> = seen.iter().collect();
    facts
        .writers()
        .filter_map(|writer| Some((writer, facts.failure(writer)?)))
        .filter(|(writer, _)| facts.left_alone(*writer, &seen))
        .map(|(writer, exit)| {
            let what = facts
                .trail(writer)
                .and_then(|t| t.first_failure.as_ref())
                .map_or_else(|| "failed".to_owned(), ToString::to_string);
            format!(
                "{writer} {what} and {} without touching the target",
                ended(exit)
            )
        })
        .collect()
}

fn no_clobber_violations(
    facts: &RaceFacts,
    reads: &[(u64, Reading)],
    final_reading: &Reading,
) -> Vec<Violation> {
    let mut published: Vec<WriterId> = Vec::new();
    for reading in reads.iter().map(|(_, r)| r).chain([final_reading]) {
        if let Reading::Version(writer) = reading {
            if !published.contains(writer) {
                published.push(*writer);
            }
        }
    }
    let over_old = facts.old.is_some() && !published.is_empty();
    let mut violations = Vec::new();
    if published.len() > 1 || over_old {
        violations.push(Violation::SeveralWinners {
            writers: published,
            over_old,
        });
    }
    let losers = facts
        .writers()
        .filter(|w| facts.exited_zero(*w) && *final_reading != Reading::Version(*w));
    violations.extend(losers.map(|writer| Violation::LoserExitedZero { writer }));
    violations
}

fn ended(exit: RunExit) -> String {
    match exit {
        RunExit::Code(code) => format!("exited {code}"),
        RunExit::Signal(signal) => format!("died of signal {signal}"),
        RunExit::TimedOut => "timed out".to_owned(),
    }
}

/// The recovery run is one more writer, numbered after the racers.
fn recovery_violation(facts: &RaceFacts, recovery: &Recovery) -> Option<Violation> {
    let left_own =
        matches!(&recovery.after, TargetState::Regular(bytes) if *bytes == recovery.version);
    if recovery.exit == RunExit::Code(0) && left_own {
        return None;
    }
    let mut writers = facts.versions.clone();
    writers.push(recovery.version.clone());
    let versions = Versions {
        old: facts.old.as_deref(),
        writers: &writers,
    };
    Some(Violation::RecoveryFailed {
        exit: recovery.exit,
        left: classify(&recovery.after, &versions),
    })
}

impl Violation {
    /// A short stable name, for results and for "does the same violation persist" checks.
    pub fn kind(&self) -> &'static str {
        match self {
            Violation::TornRead { .. } => "torn-read",
            Violation::Vanished { .. } => "vanished",
            Violation::TornFinal { .. } => "torn-final",
            Violation::FinalNotFromSuccessfulWriter { .. } => "final-not-from-successful-writer",
            Violation::WriterFailed { .. } => "writer-failed",
            Violation::NoWriterSucceeded => "no-writer-succeeded",
            Violation::SuccessOverwrittenByTorn { .. } => "success-overwritten-by-torn",
            Violation::SeveralWinners { .. } => "several-winners",
            Violation::LoserExitedZero { .. } => "loser-exited-zero",
            Violation::Leftovers { .. } => "leftovers",
            Violation::RecoveryFailed { .. } => "recovery-failed",
            Violation::CheckFailed(_) => "check-failed",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::TornRead { after_step, mix } => {
                write!(f, "a read after #{after_step} saw a torn target: {mix}")
            }
            Violation::Vanished { after_step } => {
                write!(f, "the target vanished after #{after_step}")
            }
            Violation::TornFinal { mix } => write!(f, "the final target is torn: {mix}"),
            Violation::FinalNotFromSuccessfulWriter { reading } => {
                write!(
                    f,
                    "the final target is {reading}, not a successful writer's version"
                )
            }
            Violation::WriterFailed { writer, exit } => {
                write!(
                    f,
                    "{writer} failed ({exit}) after it changed the target: a writer that \
                     fails must leave the target as it found it"
                )
            }
            Violation::NoWriterSucceeded => f.write_str(
                "every writer failed: none replaced the target, although each succeeds alone",
            ),
            Violation::SuccessOverwrittenByTorn { writer, after_step } => match after_step {
                Some(step) => write!(
                    f,
                    "{writer} exited 0 but a torn file replaced its version after #{step}"
                ),
                None => write!(
                    f,
                    "{writer} exited 0 but a torn file replaced its version at the end"
                ),
            },
            Violation::SeveralWinners { writers, over_old } => {
                let names: Vec<String> = writers.iter().map(WriterId::to_string).collect();
                let old = if *over_old {
                    " over the old version"
                } else {
                    ""
                };
                write!(f, "no-clobber published {}{old}", names.join(", then "))
            }
            Violation::LoserExitedZero { writer } => {
                write!(
                    f,
                    "{writer} exited 0 but its version is not the target (no-clobber loser)"
                )
            }
            Violation::Leftovers { count } => {
                write!(f, "{count} file(s) left beside the target (--strict)")
            }
            Violation::RecoveryFailed { exit, left } => {
                write!(
                    f,
                    "the clean run after the race ended with {exit} and left {left}"
                )
            }
            Violation::CheckFailed(CheckFailure { at, reason }) => {
                write!(f, "--check rejected the whole tree {at}: {reason}")
            }
        }
    }
}

impl fmt::Display for CheckPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckPoint::AfterStep(step) => write!(f, "after #{step}"),
            CheckPoint::End => f.write_str("after every writer ended"),
            CheckPoint::AfterRecovery => f.write_str("after the clean run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"old version, generation 1";
    const ONE: &[u8] = b"writer one's version, generation 2";
    const TWO: &[u8] = b"writer two's version, generation 3";
    const CLEAN: &[u8] = b"the clean run's version, generation 4";

    fn w(n: u32) -> WriterId {
        WriterId(n)
    }

    fn file(bytes: &[u8]) -> TargetState {
        TargetState::Regular(bytes.to_vec())
    }

    fn read(after_step: u64, state: TargetState) -> TargetRead {
        TargetRead { after_step, state }
    }

    fn exit(code: i32) -> WriterEnd {
        WriterEnd::Exit(RunExit::Code(code))
    }

    /// A clean replace race: writer 1 published, then writer 2; both exited 0.
    fn clean(mode: Mode) -> RaceFacts {
        RaceFacts {
            mode,
            old: Some(OLD.to_vec()),
            versions: vec![ONE.to_vec(), TWO.to_vec()],
            ends: vec![exit(0), exit(0)],
            trails: vec![Trail::default(), Trail::default()],
            reads: vec![read(0, file(OLD)), read(3, file(ONE)), read(6, file(TWO))],
            final_state: file(TWO),
            leftovers: 0,
            strict: true,
            recovery: Some(Recovery {
                exit: RunExit::Code(0),
                version: CLEAN.to_vec(),
                after: file(CLEAN),
            }),
            check_failures: Vec::new(),
        }
    }

    /// A no-clobber race into an empty directory that writer 2 won.
    fn clean_no_clobber() -> RaceFacts {
        RaceFacts {
            old: None,
            ends: vec![exit(1), exit(0)],
            reads: vec![read(0, TargetState::Absent), read(4, file(TWO))],
            ..clean(Mode::NoClobber)
        }
    }

    fn kinds(facts: &RaceFacts) -> Vec<&'static str> {
        judge(facts).iter().map(Violation::kind).collect()
    }

    #[test]
    fn the_first_tree_check_rejects_is_one_violation_told_with_its_reason() {
        let failure = |at, reason: &str| CheckFailure {
            at,
            reason: reason.to_owned(),
        };
        let facts = RaceFacts {
            check_failures: vec![
                failure(CheckPoint::AfterStep(4), "index names a missing record"),
                failure(CheckPoint::End, "later"),
            ],
            ..clean(Mode::Replace)
        };
        let violations = judge(&facts);
        assert_eq!(kinds(&facts), ["check-failed"]);
        assert_eq!(
            violations[0].to_string(),
            "--check rejected the whole tree after #4: index names a missing record"
        );
        assert!(judge(&clean(Mode::Replace)).is_empty());
    }

    #[test]
    fn clean_races_break_no_rule() {
        assert_eq!(kinds(&clean(Mode::Replace)), Vec::<&str>::new());
        assert_eq!(kinds(&clean_no_clobber()), Vec::<&str>::new());
    }

    #[test]
    fn torn_reads_and_a_vanished_target_are_caught() {
        let mut facts = clean(Mode::Replace);
        facts.reads.insert(1, read(2, file(&ONE[..5])));
        facts.reads.push(read(7, TargetState::Absent));
        facts.reads.push(read(8, file(TWO)));
        let violations = judge(&facts);
        assert_eq!(kinds(&facts), ["torn-read", "vanished"]);
        assert_eq!(
            violations[0].to_string(),
            "a read after #2 saw a torn target: the first 5 bytes of writer 1's version (of 34 bytes)"
        );
        // Absent before anything was ever there is fine.
        let mut facts = clean_no_clobber();
        facts.reads.insert(0, read(0, TargetState::Absent));
        assert_eq!(kinds(&facts), Vec::<&str>::new());
    }

    #[test]
    fn a_torn_final_that_replaced_a_success_is_caught_twice() {
        let mut facts = clean(Mode::Replace);
        let torn = [&TWO[..10], &ONE[10..]].concat();
        facts.final_state = file(&torn);
        assert_eq!(kinds(&facts), ["torn-final", "success-overwritten-by-torn"]);
        assert_eq!(
            judge(&facts)[1],
            Violation::SuccessOverwrittenByTorn {
                writer: w(2),
                after_step: None
            }
        );
        // The same torn file over a writer that failed is only torn, plus the failure.
        facts.ends[1] = exit(1);
        assert_eq!(kinds(&facts), ["torn-final", "writer-failed"]);
    }

    #[test]
    fn the_final_must_come_from_a_writer_that_exited_zero_or_was_killed() {
        let mut facts = clean(Mode::Replace);
        facts.final_state = file(OLD);
        assert_eq!(kinds(&facts), ["final-not-from-successful-writer"]);
        facts.final_state = TargetState::Absent;
        assert_eq!(kinds(&facts), ["final-not-from-successful-writer"]);
        // Writer 2 killed after publishing: its version is a legitimate final.
        let mut facts = clean(Mode::Replace);
        facts.ends[1] = WriterEnd::Killed;
        assert_eq!(kinds(&facts), Vec::<&str>::new());
        // Nobody succeeded: the old version may stay.
        facts.ends = vec![WriterEnd::Killed, WriterEnd::Killed];
        facts.reads.truncate(1);
        facts.final_state = file(OLD);
        assert_eq!(kinds(&facts), Vec::<&str>::new());
    }

    #[test]
    fn a_replace_writer_may_fail_only_without_touching_the_target() {
        let mut facts = clean(Mode::Replace);
        facts.ends[0] = WriterEnd::Exit(RunExit::Signal(11));
        facts.trails[0].touched_target = true;
        let violations = judge(&facts);
        assert_eq!(
            violations,
            [Violation::WriterFailed {
                writer: w(1),
                exit: RunExit::Signal(11)
            }]
        );
        assert!(
            violations[0]
                .to_string()
                .contains("writer 1 failed (killed by signal 11) after it changed the target")
        );
        // Its version seen at the target is a change too, whatever its trail says.
        facts.trails[0].touched_target = false;
        assert_eq!(kinds(&facts), ["writer-failed"]);
    }

    #[test]
    fn a_writer_that_finds_the_lock_and_leaves_is_told_not_judged() {
        let mut facts = clean(Mode::Replace);
        facts.ends[0] = exit(255);
        facts.reads = vec![read(0, file(OLD)), read(6, file(TWO))];
        facts.trails[0].first_failure = Some(crate::race::trail::FailedCall {
            syscall: "openat".to_owned(),
            path: "target.json.lock".to_owned(),
            errno: crate::fault::Errno::new(17).unwrap(),
            exclusive_create: true,
        });
        assert_eq!(kinds(&facts), Vec::<&str>::new());
        assert_eq!(
            clean_failures(&facts),
            [
                "writer 1 found `target.json.lock` already there (openat O_CREAT|O_EXCL: EEXIST) \
              and exited 255 without touching the target"
            ]
        );
        // Without a trail it may have changed the target.
        facts.trails.clear();
        assert_eq!(kinds(&facts), ["writer-failed"]);
        assert!(clean_failures(&facts).is_empty());
    }

    #[test]
    fn a_race_that_every_writer_failed_is_a_violation() {
        let mut facts = clean(Mode::Replace);
        facts.ends = vec![exit(1), exit(255)];
        facts.reads.truncate(1);
        facts.final_state = file(OLD);
        assert_eq!(kinds(&facts), ["no-writer-succeeded"]);
        facts.ends[0] = WriterEnd::Killed;
        assert_eq!(kinds(&facts), Vec::<&str>::new());
    }

    #[test]
    fn no_clobber_allows_one_winner_and_no_successful_loser() {
        let mut facts = clean_no_clobber();
        facts.reads.insert(1, read(2, file(ONE)));
        assert_eq!(
            judge(&facts),
            [Violation::SeveralWinners {
                writers: vec![w(1), w(2)],
                over_old: false
            }]
        );
        let mut facts = clean_no_clobber();
        facts.ends[0] = exit(0);
        assert_eq!(judge(&facts), [Violation::LoserExitedZero { writer: w(1) }]);
        let mut facts = clean_no_clobber();
        facts.old = Some(OLD.to_vec());
        facts.reads[0] = read(0, file(OLD));
        assert_eq!(kinds(&facts), ["several-winners"]);
        assert!(
            judge(&facts)[0]
                .to_string()
                .ends_with("writer 2 over the old version")
        );
    }

    #[test]
    fn leftovers_fail_only_under_strict() {
        let mut facts = clean(Mode::Replace);
        facts.leftovers = 2;
        assert_eq!(judge(&facts), [Violation::Leftovers { count: 2 }]);
        facts.strict = false;
        assert_eq!(kinds(&facts), Vec::<&str>::new());
    }

    #[test]
    fn recovery_must_exit_zero_and_leave_its_own_version() {
        let mut facts = clean(Mode::Replace);
        let recovery = facts.recovery.as_mut().unwrap();
        recovery.after = file(TWO);
        assert_eq!(
            judge(&facts),
            [Violation::RecoveryFailed {
                exit: RunExit::Code(0),
                left: Reading::Version(w(2))
            }]
        );
        let recovery = facts.recovery.as_mut().unwrap();
        recovery.after = file(CLEAN);
        recovery.exit = RunExit::Code(1);
        assert_eq!(
            judge(&facts)[0].to_string(),
            "the clean run after the race ended with exit status 1 and left writer 3's version"
        );
    }
}
