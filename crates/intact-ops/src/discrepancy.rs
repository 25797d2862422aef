//! Where reality and the model parted, and how.

use std::error::Error;
use std::ffi::OsString;
use std::fmt;

use crate::model::{Outcome, TempKind};
use crate::op::{Op, Slot};

/// The first point at which the real directory or an open file differed from
/// the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub step: Step,
    pub difference: Difference,
}

/// When the difference was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Before the first op (the directory was unusable or not empty).
    Setup,
    /// Right after op `index` (0-based) of the sequence.
    Op { index: usize, op: Op },
    /// After every remaining slot was dropped at the end of the sequence.
    End,
}

/// What differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The op reported something other than the model's prediction.
    Outcome { expected: Outcome, found: Outcome },
    /// The target's bytes (`None`: absent).
    Target {
        expected: Option<Vec<u8>>,
        found: Option<Vec<u8>>,
    },
    /// The target exists but is not a regular file.
    TargetNotAFile,
    /// An entry in the directory that is neither the target nor the named
    /// temp file of a currently open `AtomicFile`.
    StrayEntry { name: OsString },
    /// The model and reality disagree on whether a slot holds an open file.
    SlotOpen {
        slot: Slot,
        expected: bool,
        found: bool,
    },
    /// An open file's temp is not the kind the model expects: a named temp
    /// file that vanished or was renamed, or an anonymous one that has a name.
    TempKind {
        slot: Slot,
        expected: TempKind,
        found: String,
    },
    /// An open file's temp does not hold the bytes written to it.
    TempContents {
        slot: Slot,
        expected: Vec<u8>,
        found: Vec<u8>,
    },
    /// An open file's cursor is not where the writes and seeks put it.
    Cursor {
        slot: Slot,
        expected: u64,
        found: u64,
    },
    /// The directory was not empty before the first op.
    NotEmpty { name: OsString },
    /// Checking itself failed (the directory or `/proc` could not be read).
    Io { doing: String, error: String },
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Step::Setup => write!(f, "before the first op: ")?,
            Step::Op { index, op } => write!(f, "after op #{index} {op:?}: ")?,
            Step::End => write!(f, "after dropping every open file at the end: ")?,
        }
        write!(f, "{}", self.difference)
    }
}

impl Error for Discrepancy {}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Outcome { expected, found } => {
                write!(f, "op reported {found:?}, model expected {expected:?}")
            }
            Difference::Target { expected, found } => write!(
                f,
                "target holds {}, model expected {}",
                Shown(found.as_deref()),
                Shown(expected.as_deref())
            ),
            Difference::TargetNotAFile => write!(f, "target is not a regular file"),
            Difference::StrayEntry { name } => {
                write!(
                    f,
                    "stray entry {name:?}: not the target, not an open file's temp"
                )
            }
            Difference::SlotOpen {
                slot,
                expected,
                found,
            } => {
                write!(f, "slot {slot:?} open: {found}, model expected {expected}")
            }
            Difference::TempKind {
                slot,
                expected,
                found,
            } => {
                write!(
                    f,
                    "slot {slot:?} should have a {expected:?} temp, its fd is {found}"
                )
            }
            Difference::TempContents {
                slot,
                expected,
                found,
            } => write!(
                f,
                "slot {slot:?}'s temp holds {}, model expected {}",
                Shown(Some(found)),
                Shown(Some(expected))
            ),
            Difference::Cursor {
                slot,
                expected,
                found,
            } => {
                write!(
                    f,
                    "slot {slot:?}'s cursor is at {found}, model expected {expected}"
                )
            }
            Difference::NotEmpty { name } => {
                write!(f, "directory must start empty, it holds {name:?}")
            }
            Difference::Io { doing, error } => write!(f, "{doing}: {error}"),
        }
    }
}

/// Short rendering of possibly-absent bytes for one-line messages.
struct Shown<'a>(Option<&'a [u8]>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN_BYTES: usize = 48;
        let Some(bytes) = self.0 else {
            return write!(f, "nothing (absent)");
        };
        let head = &bytes[..bytes.len().min(SHOWN_BYTES)];
        let ellipsis = if bytes.len() > SHOWN_BYTES { "..." } else { "" };
        write!(
            f,
            "{} bytes b\"{}{ellipsis}\"",
            bytes.len(),
            head.escape_ascii()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_op_index_the_op_and_the_difference() {
        let discrepancy = Discrepancy {
            step: Step::Op {
                index: 3,
                op: Op::Commit { slot: Slot::B },
            },
            difference: Difference::Target {
                expected: Some(b"new".to_vec()),
                found: None,
            },
        };
        assert_eq!(
            discrepancy.to_string(),
            "after op #3 Commit { slot: B }: target holds nothing (absent), \
             model expected 3 bytes b\"new\""
        );
    }

    #[test]
    fn long_contents_are_cut_short() {
        let shown = Shown(Some(&[b'x'; 100])).to_string();
        assert!(shown.starts_with("100 bytes b\"xxx"), "{shown}");
        assert!(shown.ends_with("...\""), "{shown}");
    }
}
