//! Judging one faulted run: facts in, violations out.
//!
//! The rules (issue 10):
//!
//! - The writer exits 0 (it acknowledged): the target must be new, and must survive a power cut
//!   under the `linux` model, where a failed fsync counts as never having happened and its pages
//!   may be lost (`power_safe`, computed by the power explorer).
//! - It exits non-zero, is killed by a signal or hangs: the target must be the old version (or
//!   absent when there was none), or new when the failed call came after the publishing rename or
//!   link (a failed directory fsync, say). Never torn.
//! - The writer must not hang.
//! - The recovery run (the writer again, no faults) must exit 0 and leave the new version.
//! - Leftover files after recovery are counted, and are a violation under `--strict`.

use std::fmt;

use super::Injection;
use crate::oracle::{Initial, RunExit};

/// What the faulted run left at the target (the caller classifies it with the oracle).
pub use crate::oracle::TargetClass;

/// Where the faulted call sits against the publishing rename or link of the golden run
/// ([`super::publish_point`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// At or before it: the failed call is part of preparing the new version (or is the publish).
    BeforePublish,
    /// After it: the new version was already in place (a failed directory fsync, a late close).
    AfterPublish,
    /// Nothing publishes the target by name: the writer writes it in place.
    Unpublished,
}

impl Position {
    /// The position of the call `fault_seq` given the publish point.
    pub fn of(fault_seq: u64, publish_seq: Option<u64>) -> Position {
        match publish_seq {
            None => Position::Unpublished,
            Some(publish) if fault_seq > publish => Position::AfterPublish,
            Some(_) => Position::BeforePublish,
        }
    }
}

/// How the recovery run (no faults, over the faulted run's leftovers) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Its exit.
    pub exit: RunExit,
    /// What it left at the target.
    pub target: TargetClass,
}

/// Everything the campaign learned about one faulted run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsFacts {
    /// The fault injected.
    pub injection: Injection,
    /// Where it sits against the publish point.
    pub position: Position,
    /// What was at the target before the run.
    pub initial: Initial,
    /// How the faulted writer ended (`TimedOut`: it hung and was killed).
    pub exit: RunExit,
    /// `--ack-line`: whether the writer printed a matching line (`None`: no `--ack-line`, its
    /// exit 0 is the acknowledgement).
    pub ack_line: Option<bool>,
    /// What it left at the target.
    pub target: TargetClass,
    /// Whether the target survives every power cut after the run under the `linux` model (with
    /// the writes [`super::gate::fsyncgate_lost_writes`] names dropped, for fsyncgate); `None`:
    /// not computed.
    pub power_safe: Option<bool>,
    /// The recovery run, when one ran.
    pub recovery: Option<Recovery>,
    /// Files other than the target left after the recovery run (or after the faulted run when
    /// no recovery ran).
    pub leftovers: usize,
    /// `--strict`: leftovers are a violation.
    pub strict: bool,
}

/// One way a faulted run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorsViolation {
    /// The writer acknowledged (exited 0, or printed an `--ack-line` match), yet the target is
    /// absent or the old version.
    AckedNotNew { target: TargetClass },
    /// The writer exited 0 and the target is new, but a power cut can lose it.
    AckedLostAtPowerCut,
    /// The target is torn (whatever the exit).
    Torn,
    /// The writer failed and the old version is gone (target absent).
    OldLost,
    /// The writer failed before the publish, yet the target holds the new version: the caller
    /// believes the old one is in place.
    FailedButNotOld,
    /// The writer hung and was killed at the timeout.
    Hung,
    /// The recovery run did not exit 0 with the new version in place.
    RecoveryFailed { exit: RunExit, target: TargetClass },
    /// Files other than the target survive (a violation only under `--strict`).
    Leftovers { count: usize },
}

/// Every violation the facts show, in a fixed order: target, hang, recovery, leftovers.
pub fn judge(facts: &ErrorsFacts) -> Vec<ErrorsViolation> {
    let mut violations: Vec<ErrorsViolation> = target_violation(facts).into_iter().collect();
    if facts.exit == RunExit::TimedOut {
        violations.push(ErrorsViolation::Hung);
    }
    if let Some(recovery) = facts.recovery {
        let recovered = recovery.exit == RunExit::Code(0) && recovery.target == TargetClass::New;
        if !recovered {
            violations.push(ErrorsViolation::RecoveryFailed {
                exit: recovery.exit,
                target: recovery.target,
            });
        }
    }
    if facts.strict && facts.leftovers > 0 {
        violations.push(ErrorsViolation::Leftovers {
            count: facts.leftovers,
        });
    }
    violations
}

/// What the target alone says, given whether the writer acknowledged (exited 0, or printed an
/// `--ack-line` match).
fn target_violation(facts: &ErrorsFacts) -> Option<ErrorsViolation> {
    let acked = facts.ack_line.unwrap_or(facts.exit == RunExit::Code(0));
    match (facts.target, acked) {
        (TargetClass::Torn, true | false) => Some(ErrorsViolation::Torn),
        (TargetClass::New, true) => {
            (facts.power_safe == Some(false)).then_some(ErrorsViolation::AckedLostAtPowerCut)
        }
        (TargetClass::Absent | TargetClass::Old, true) => Some(ErrorsViolation::AckedNotNew {
            target: facts.target,
        }),
        (TargetClass::New, false) => match facts.position {
            Position::AfterPublish => None,
            Position::BeforePublish | Position::Unpublished => {
                Some(ErrorsViolation::FailedButNotOld)
            }
        },
        (TargetClass::Absent, false) => match facts.initial {
            Initial::Old => Some(ErrorsViolation::OldLost),
            Initial::Absent => None,
        },
        (TargetClass::Old, false) => None,
    }
}

impl ErrorsViolation {
    /// Stable snake_case name, for results files.
    pub fn name(self) -> &'static str {
        match self {
            ErrorsViolation::AckedNotNew { .. } => "acked_not_new",
            ErrorsViolation::AckedLostAtPowerCut => "acked_lost_at_power_cut",
            ErrorsViolation::Torn => "torn",
            ErrorsViolation::OldLost => "old_lost",
            ErrorsViolation::FailedButNotOld => "failed_but_not_old",
            ErrorsViolation::Hung => "hung",
            ErrorsViolation::RecoveryFailed { .. } => "recovery_failed",
            ErrorsViolation::Leftovers { .. } => "leftovers",
        }
    }
}

impl fmt::Display for ErrorsViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorsViolation::AckedNotNew { target } => {
                write!(f, "writer acknowledged but the target is {target}")
            }
            ErrorsViolation::AckedLostAtPowerCut => {
                f.write_str("writer exited 0 but a power cut loses the new version")
            }
            ErrorsViolation::Torn => f.write_str("torn target"),
            ErrorsViolation::OldLost => f.write_str("writer failed and the old version is lost"),
            ErrorsViolation::FailedButNotOld => {
                f.write_str("writer failed before the publish but the target is new")
            }
            ErrorsViolation::Hung => f.write_str("writer hung (killed at the timeout)"),
            ErrorsViolation::RecoveryFailed { exit, target } => {
                write!(f, "recovery run failed ({exit}, target {target})")
            }
            ErrorsViolation::Leftovers { count } => {
                write!(f, "{count} leftover file(s) after recovery (--strict)")
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests;
