//! Judging a crash state: what the target is, whether the crash came before or after the
//! writer's acknowledgement, and which outcomes are violations.
//!
//! The classification is the caller's (a closure from [`TargetState`] to [`TargetClass`]), so
//! the CLI can plug in the oracle with its `--validate`/`--check` options; [`exact_classifier`]
//! is the byte-for-byte default.

use std::fmt;

use crate::oracle::TargetState;
use crate::trace::{AckKind, TraceHeader};

pub use crate::oracle::TargetClass;

/// Why a crash state fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PowerViolation {
    /// The target is neither old nor new.
    Torn,
    /// The target is gone although an old version existed.
    OldLost,
    /// The writer had acknowledged, yet the new version is not there (the old one is, or, on a
    /// first run, nothing).
    AckedLost,
    /// The whole-tree checker (`--check`) rejected the crash state.
    CheckFailed,
}

/// Which acknowledgement counts.
#[derive(Clone, Copy)]
pub enum AckSelect<'a> {
    /// The writer's exit with status 0 (the default).
    Exit,
    /// The first standard-output line the predicate accepts (the CLI passes a regex).
    FirstLine(&'a dyn Fn(&str) -> bool),
}

impl fmt::Debug for AckSelect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckSelect::Exit => f.write_str("Exit"),
            AckSelect::FirstLine(_) => f.write_str("FirstLine(..)"),
        }
    }
}

/// The acknowledgement that counts: how many events came before it, and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckPoint {
    /// Crash states with at least this many events issued come after it.
    pub events_before: usize,
    /// What the writer did, for diagnoses: `exited 0`, `printed "committed"`.
    pub said: String,
}

/// Finds the acknowledgement in the trace header; `None` when the writer gave none (then every
/// crash comes before it, and only torn or lost-old states are violations).
pub fn ack_point(header: &TraceHeader, select: AckSelect<'_>) -> Option<AckPoint> {
    header.acks.iter().find_map(|ack| {
        let said = match (&ack.kind, select) {
            (AckKind::Exit, AckSelect::Exit) => "exited 0".to_owned(),
            (AckKind::Line { text }, AckSelect::FirstLine(accepts)) if accepts(text) => {
                format!("printed {text:?}")
            }
            (AckKind::Line { .. }, AckSelect::Exit | AckSelect::FirstLine(_))
            | (AckKind::Exit, AckSelect::FirstLine(_)) => return None,
        };
        Some(AckPoint {
            events_before: usize::try_from(ack.events_before).unwrap_or(usize::MAX),
            said,
        })
    })
}

/// The verdict rule: before the acknowledgement the target may be old, new, or (on a first run)
/// absent; after it only new. Never torn; an old version is never lost.
pub fn verdict_rule(before_ack: bool, class: TargetClass, had_old: bool) -> Option<PowerViolation> {
    match (class, before_ack, had_old) {
        (TargetClass::Torn, _, _) => Some(PowerViolation::Torn),
        (TargetClass::Absent, _, true) => Some(PowerViolation::OldLost),
        (TargetClass::Absent, false, false) | (TargetClass::Old, false, _) => {
            Some(PowerViolation::AckedLost)
        }
        (TargetClass::Absent, true, false)
        | (TargetClass::Old, true, _)
        | (TargetClass::New, _, _) => None,
    }
}

/// The byte-for-byte classifier: new is checked first (a writer may write the same bytes again).
pub fn exact_classifier<'a>(
    old: Option<&'a [u8]>,
    new: &'a [u8],
) -> impl FnMut(&TargetState) -> TargetClass + 'a {
    move |state| match state {
        TargetState::Absent => TargetClass::Absent,
        TargetState::Regular(bytes) if bytes.as_slice() == new => TargetClass::New,
        TargetState::Regular(bytes) if Some(bytes.as_slice()) == old => TargetClass::Old,
        TargetState::Regular(_) | TargetState::NotRegular(_) => TargetClass::Torn,
    }
}

impl PowerViolation {
    /// `torn`, `old-lost`, `acked-lost`.
    pub fn name(self) -> &'static str {
        match self {
            PowerViolation::Torn => "torn",
            PowerViolation::OldLost => "old-lost",
            PowerViolation::AckedLost => "acked-lost",
            PowerViolation::CheckFailed => "check-failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Ack, Trace};

    #[test]
    fn the_verdict_rule_table() {
        use PowerViolation::{AckedLost, OldLost, Torn};
        use TargetClass::{Absent, New, Old};
        let cases = [
            // before ack, class, had old, expected
            (true, Absent, false, None),
            (true, Absent, true, Some(OldLost)),
            (true, Old, true, None),
            (true, New, true, None),
            (true, TargetClass::Torn, false, Some(Torn)),
            (false, Absent, false, Some(AckedLost)),
            (false, Absent, true, Some(OldLost)),
            (false, Old, true, Some(AckedLost)),
            (false, New, false, None),
            (false, TargetClass::Torn, true, Some(Torn)),
        ];
        for (before, class, had_old, expected) in cases {
            assert_eq!(
                verdict_rule(before, class, had_old),
                expected,
                "{before} {class:?} {had_old}"
            );
        }
    }

    #[test]
    fn picks_the_exit_or_the_first_matching_line() {
        let mut trace = Trace::new("/s".into(), vec![]);
        trace.header.acks = vec![
            Ack {
                events_before: 2,
                kind: AckKind::Line {
                    text: "starting".into(),
                },
            },
            Ack {
                events_before: 5,
                kind: AckKind::Line {
                    text: "committed 1".into(),
                },
            },
            Ack {
                events_before: 7,
                kind: AckKind::Exit,
            },
        ];
        let exit = ack_point(&trace.header, AckSelect::Exit).unwrap();
        assert_eq!((exit.events_before, exit.said.as_str()), (7, "exited 0"));
        let committed = |line: &str| line.starts_with("committed");
        let line = ack_point(&trace.header, AckSelect::FirstLine(&committed)).unwrap();
        assert_eq!(line.events_before, 5);
        assert_eq!(line.said, "printed \"committed 1\"");
        let never = |_: &str| false;
        assert_eq!(ack_point(&trace.header, AckSelect::FirstLine(&never)), None);
        trace.header.acks.clear();
        assert_eq!(ack_point(&trace.header, AckSelect::Exit), None);
    }

    #[test]
    fn the_exact_classifier_prefers_new() {
        let mut classify = exact_classifier(Some(b"same"), b"same");
        assert_eq!(
            classify(&TargetState::Regular(b"same".to_vec())),
            TargetClass::New
        );
        let mut classify = exact_classifier(Some(b"old"), b"new");
        assert_eq!(
            classify(&TargetState::Regular(b"old".to_vec())),
            TargetClass::Old
        );
        assert_eq!(
            classify(&TargetState::Regular(b"ne".to_vec())),
            TargetClass::Torn
        );
        assert_eq!(classify(&TargetState::Absent), TargetClass::Absent);
    }
}
