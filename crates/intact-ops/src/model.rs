//! What a correct `intact` does, with no I/O: the target's bytes and, for
//! each open `AtomicFile`, its temp file's bytes, cursor and kind.

use std::io;

use crate::op::{Op, OpenSpec, Overwrite, SLOT_COUNT, SeekTo, Slot, Temp};

/// What one op reports, predicted by the model or observed for real.
/// The executor compares the two with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The op named an empty slot and did nothing.
    EmptySlot,
    Opened,
    /// `Temp::Anonymous` on a filesystem without `O_TMPFILE`.
    OpenRefused,
    Wrote,
    Sought {
        position: u64,
    },
    /// A seek to before offset 0 (`EINVAL`).
    SeekRejected,
    Resized,
    Published,
    /// No-clobber commit while the target exists: `AlreadyExists`.
    RefusedExisting,
    Discarded,
    TargetReplaced,
    TargetRemoved,
    /// `sweep`'s report: files removed, live writers' temps spared, and
    /// temp-shaped names it could not judge.
    Swept {
        removed: usize,
        live: usize,
        skipped: usize,
    },
    /// Only ever observed, never predicted: an unexpected I/O error.
    Failed {
        kind: io::ErrorKind,
        message: String,
    },
}

/// Which kind of temp file an open `AtomicFile` should be using.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempKind {
    /// `.{target}.{random}.intact-tmp` in the target's directory.
    Named,
    /// `O_TMPFILE`: no name until commit.
    Anonymous,
}

/// The model of one open `AtomicFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    pub contents: Vec<u8>,
    pub cursor_bytes: u64,
    pub overwrite: Overwrite,
    pub temp: TempKind,
}

impl ModelFile {
    fn new(spec: OpenSpec, temp: TempKind) -> ModelFile {
        ModelFile {
            contents: Vec::new(),
            cursor_bytes: 0,
            overwrite: spec.overwrite,
            temp,
        }
    }

    // Like write(2) at the cursor: a cursor past the end leaves a zero-filled
    // hole, but only once at least one byte lands (write_all of nothing makes
    // no syscall).
    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let start = usize::try_from(self.cursor_bytes).unwrap_or(usize::MAX);
        let end = start.saturating_add(bytes.len());
        if self.contents.len() < end {
            self.contents.resize(end, 0);
        }
        self.contents[start..end].copy_from_slice(bytes);
        self.cursor_bytes = end as u64;
    }

    fn seek(&mut self, to: SeekTo) -> Outcome {
        let base: i128 = match to {
            SeekTo::Start(_) => 0,
            SeekTo::Current(_) => i128::from(self.cursor_bytes),
            SeekTo::End(_) => self.contents.len() as i128,
        };
        let delta: i128 = match to {
            SeekTo::Start(offset) => i128::from(offset),
            SeekTo::Current(delta) | SeekTo::End(delta) => i128::from(delta),
        };
        match u64::try_from(base + delta) {
            Ok(position) => {
                self.cursor_bytes = position;
                Outcome::Sought { position }
            }
            Err(_) => Outcome::SeekRejected,
        }
    }
}

/// The expected state of the directory and of every slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    target: Option<Vec<u8>>,
    slots: [Option<ModelFile>; SLOT_COUNT],
    anonymous_supported: bool,
}

impl Model {
    /// An absent target and no open file. `anonymous_supported` says whether
    /// the directory's filesystem takes `O_TMPFILE`, which decides what
    /// `Temp::Anonymous` and `Temp::Auto` do.
    pub fn new(anonymous_supported: bool) -> Model {
        Model {
            target: None,
            slots: [None, None, None],
            anonymous_supported,
        }
    }

    /// The target's bytes, `None` when it must not exist.
    pub fn target(&self) -> Option<&[u8]> {
        self.target.as_deref()
    }

    pub fn slot(&self, slot: Slot) -> Option<&ModelFile> {
        self.slots[slot.index()].as_ref()
    }

    /// Applies `op` and returns what the real op must report.
    pub fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Open { slot, spec } => self.open(*slot, *spec),
            Op::Write { slot, bytes } => self.with_file(*slot, |file| {
                file.write(bytes.as_slice());
                Outcome::Wrote
            }),
            Op::Seek { slot, to } => self.with_file(*slot, |file| file.seek(*to)),
            Op::SetLen { slot, len_bytes } => self.with_file(*slot, |file| {
                file.contents.resize(usize::from(*len_bytes), 0);
                Outcome::Resized
            }),
            Op::Commit { slot } => self.commit(*slot),
            Op::Abort { slot } | Op::Drop { slot } => self.discard(*slot),
            Op::ReplaceTarget { bytes } => {
                self.target = Some(bytes.as_slice().to_vec());
                Outcome::TargetReplaced
            }
            Op::RemoveTarget => {
                self.target = None;
                Outcome::TargetRemoved
            }
            Op::Sweep => Outcome::Swept {
                removed: 0,
                live: self.named_temp_count(),
                skipped: 0,
            },
        }
    }

    /// How many open files use a named temp (each one is a live writer's).
    pub fn named_temp_count(&self) -> usize {
        let named = |file: &&ModelFile| file.temp == TempKind::Named;
        self.slots.iter().flatten().filter(named).count()
    }

    /// Drops every open file, as the end of a sequence does.
    pub fn drop_all(&mut self) {
        self.slots = [None, None, None];
    }

    /// The temp kind `temp` resolves to on this filesystem, `None` when the
    /// open must be refused.
    pub fn resolve_temp(&self, temp: Temp) -> Option<TempKind> {
        match (temp, self.anonymous_supported) {
            (Temp::Named, _) | (Temp::Auto, false) => Some(TempKind::Named),
            (Temp::Anonymous, true) | (Temp::Auto, true) => Some(TempKind::Anonymous),
            (Temp::Anonymous, false) => None,
        }
    }

    fn open(&mut self, slot: Slot, spec: OpenSpec) -> Outcome {
        self.slots[slot.index()] = None;
        match self.resolve_temp(spec.temp) {
            Some(kind) => {
                self.slots[slot.index()] = Some(ModelFile::new(spec, kind));
                Outcome::Opened
            }
            None => Outcome::OpenRefused,
        }
    }

    fn commit(&mut self, slot: Slot) -> Outcome {
        let target_exists = self.target.is_some();
        let Some(file) = self.slots[slot.index()].as_ref() else {
            return Outcome::EmptySlot;
        };
        match (file.overwrite, target_exists) {
            (Overwrite::NoClobber, true) => Outcome::RefusedExisting,
            (Overwrite::NoClobber, false) | (Overwrite::Replace, _) => {
                self.target = self.slots[slot.index()].take().map(|file| file.contents);
                Outcome::Published
            }
        }
    }

    fn discard(&mut self, slot: Slot) -> Outcome {
        match self.slots[slot.index()].take() {
            Some(_) => Outcome::Discarded,
            None => Outcome::EmptySlot,
        }
    }

    fn with_file(&mut self, slot: Slot, apply: impl FnOnce(&mut ModelFile) -> Outcome) -> Outcome {
        match self.slots[slot.index()].as_mut() {
            Some(file) => apply(file),
            None => Outcome::EmptySlot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Bytes, Durability};

    fn spec(overwrite: Overwrite, temp: Temp) -> OpenSpec {
        OpenSpec {
            durability: Durability::None,
            overwrite,
            temp,
        }
    }

    fn write(slot: Slot, bytes: &[u8]) -> Op {
        Op::Write {
            slot,
            bytes: Bytes::from(bytes),
        }
    }

    fn open(model: &mut Model, slot: Slot, overwrite: Overwrite) {
        let outcome = model.apply(&Op::Open {
            slot,
            spec: spec(overwrite, Temp::Named),
        });
        assert_eq!(outcome, Outcome::Opened);
    }

    #[test]
    fn replace_commit_publishes_exactly_the_written_bytes() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&write(Slot::A, b"hello"));
        assert_eq!(
            model.apply(&Op::Commit { slot: Slot::A }),
            Outcome::Published
        );
        assert_eq!(model.target(), Some(&b"hello"[..]));
        assert_eq!(model.slot(Slot::A), None);
    }

    #[test]
    fn no_clobber_commit_is_refused_when_the_target_exists_and_keeps_the_file() {
        let mut model = Model::new(true);
        model.apply(&Op::ReplaceTarget {
            bytes: Bytes::from(&b"old"[..]),
        });
        open(&mut model, Slot::B, Overwrite::NoClobber);
        model.apply(&write(Slot::B, b"new"));
        let outcome = model.apply(&Op::Commit { slot: Slot::B });
        assert_eq!(outcome, Outcome::RefusedExisting);
        assert_eq!(model.target(), Some(&b"old"[..]));
        assert_eq!(
            model.slot(Slot::B).map(|f| f.contents.clone()),
            Some(b"new".to_vec())
        );
    }

    #[test]
    fn no_clobber_commit_publishes_when_the_target_is_absent() {
        let mut model = Model::new(true);
        open(&mut model, Slot::C, Overwrite::NoClobber);
        model.apply(&write(Slot::C, b"x"));
        assert_eq!(
            model.apply(&Op::Commit { slot: Slot::C }),
            Outcome::Published
        );
        assert_eq!(model.target(), Some(&b"x"[..]));
    }

    #[test]
    fn seek_past_the_end_then_write_leaves_a_zero_hole() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&write(Slot::A, b"ab"));
        let sought = model.apply(&Op::Seek {
            slot: Slot::A,
            to: SeekTo::End(2),
        });
        assert_eq!(sought, Outcome::Sought { position: 4 });
        model.apply(&write(Slot::A, b"c"));
        assert_eq!(
            model.slot(Slot::A).map(|f| f.contents.clone()),
            Some(b"ab\0\0c".to_vec())
        );
    }

    #[test]
    fn an_empty_write_past_the_end_leaves_no_hole() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&Op::Seek {
            slot: Slot::A,
            to: SeekTo::Start(3),
        });
        model.apply(&write(Slot::A, b""));
        let file = model.slot(Slot::A).cloned();
        assert_eq!(file.as_ref().map(|f| f.contents.len()), Some(0));
        assert_eq!(file.map(|f| f.cursor_bytes), Some(3));
    }

    #[test]
    fn seek_before_the_start_is_rejected_and_keeps_the_cursor() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&write(Slot::A, b"abc"));
        let outcome = model.apply(&Op::Seek {
            slot: Slot::A,
            to: SeekTo::Current(-4),
        });
        assert_eq!(outcome, Outcome::SeekRejected);
        assert_eq!(model.slot(Slot::A).map(|f| f.cursor_bytes), Some(3));
    }

    #[test]
    fn set_len_truncates_and_extends_without_moving_the_cursor() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&write(Slot::A, b"abcdef"));
        model.apply(&Op::SetLen {
            slot: Slot::A,
            len_bytes: 2,
        });
        model.apply(&write(Slot::A, b"Z"));
        let file = model.slot(Slot::A).cloned();
        assert_eq!(
            file.as_ref().map(|f| f.contents.clone()),
            Some(b"ab\0\0\0\0Z".to_vec())
        );
        assert_eq!(file.map(|f| f.cursor_bytes), Some(7));
    }

    #[test]
    fn ops_on_an_empty_slot_change_nothing() {
        let mut model = Model::new(true);
        let before = model.clone();
        for op in [
            write(Slot::A, b"x"),
            Op::Commit { slot: Slot::A },
            Op::Abort { slot: Slot::B },
            Op::Drop { slot: Slot::C },
        ] {
            assert_eq!(model.apply(&op), Outcome::EmptySlot);
        }
        assert_eq!(model, before);
    }

    #[test]
    fn reopening_a_slot_starts_from_an_empty_file() {
        let mut model = Model::new(true);
        open(&mut model, Slot::A, Overwrite::Replace);
        model.apply(&write(Slot::A, b"abc"));
        open(&mut model, Slot::A, Overwrite::Replace);
        assert_eq!(model.slot(Slot::A).map(|f| f.contents.len()), Some(0));
    }

    #[test]
    fn auto_and_anonymous_follow_filesystem_support() {
        let with = Model::new(true);
        let without = Model::new(false);
        assert_eq!(with.resolve_temp(Temp::Auto), Some(TempKind::Anonymous));
        assert_eq!(without.resolve_temp(Temp::Auto), Some(TempKind::Named));
        assert_eq!(without.resolve_temp(Temp::Anonymous), None);
        assert_eq!(with.resolve_temp(Temp::Named), Some(TempKind::Named));
    }
}
