//! The operations a sequence is made of, decodable from fuzzer bytes.

use std::fmt;
use std::io::SeekFrom;

use arbitrary::{Arbitrary, Unstructured};

/// How many `AtomicFile`s may be open on the target at once.
pub const SLOT_COUNT: usize = 3;

/// Longest byte string one `Write` or `ReplaceTarget` carries; small keeps
/// every check cheap while still crossing any buffer boundary that matters
/// for a model of offsets.
pub const MAX_WRITE_BYTES: usize = 64;

/// One step of a sequence. Ops naming an empty slot are valid and do nothing,
/// in the model and in reality alike, so every decoded sequence can run.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Options::new()...create(target)` into `slot`, dropping what was there.
    Open { slot: Slot, spec: OpenSpec },
    /// `write_all(bytes)` at the slot's cursor.
    Write { slot: Slot, bytes: Bytes },
    /// `seek(to)`; a seek before offset 0 is refused and moves nothing.
    Seek { slot: Slot, to: SeekTo },
    /// `as_file().set_len(len_bytes)`; the cursor stays where it was.
    SetLen { slot: Slot, len_bytes: u8 },
    /// `commit()`; a refused no-clobber commit hands the file back to the slot.
    Commit { slot: Slot },
    /// `abort()`.
    Abort { slot: Slot },
    /// Drop the uncommitted file.
    Drop { slot: Slot },
    /// Another process atomically replaces the target with `bytes`.
    ReplaceTarget { bytes: Bytes },
    /// Another process removes the target.
    RemoveTarget,
    /// `intact::sweep(dir)`: every writer is alive, so nothing may go.
    Sweep,
}

/// Which of the [`SLOT_COUNT`] open-file slots an op addresses.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
    C,
}

impl Slot {
    /// Every slot, in index order.
    pub const ALL: [Slot; SLOT_COUNT] = [Slot::A, Slot::B, Slot::C];

    /// Position of this slot in a `[_; SLOT_COUNT]` array.
    pub fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
            Slot::C => 2,
        }
    }
}

/// The `Options` an `Open` uses; mirrors `intact`'s enums so that sequences
/// stay plain data (`intact`'s own types need not implement `Arbitrary`).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSpec {
    pub durability: Durability,
    pub overwrite: Overwrite,
    pub temp: Temp,
}

/// Mirror of `intact::Durability`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    None,
    Data,
    Full,
}

/// Mirror of `intact::Overwrite`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Replace,
    NoClobber,
}

/// Mirror of `intact::Temp`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temp {
    Auto,
    Named,
    Anonymous,
}

/// Bounded `SeekFrom`: small offsets keep files small and make seeks before
/// the start (refused) and past the end (a hole) both common.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTo {
    Start(u8),
    Current(i8),
    End(i8),
}

impl From<SeekTo> for SeekFrom {
    fn from(to: SeekTo) -> SeekFrom {
        match to {
            SeekTo::Start(offset) => SeekFrom::Start(u64::from(offset)),
            SeekTo::Current(delta) => SeekFrom::Current(i64::from(delta)),
            SeekTo::End(delta) => SeekFrom::End(i64::from(delta)),
        }
    }
}

/// At most [`MAX_WRITE_BYTES`] bytes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(Vec<u8>);

impl Bytes {
    /// Keeps the first [`MAX_WRITE_BYTES`] bytes of `bytes`.
    pub fn new(mut bytes: Vec<u8>) -> Bytes {
        bytes.truncate(MAX_WRITE_BYTES);
        Bytes(bytes)
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes::new(bytes.to_vec())
    }
}

impl<'a> Arbitrary<'a> for Bytes {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Bytes> {
        let wanted = u.int_in_range(0..=MAX_WRITE_BYTES)?;
        let available = wanted.min(u.len());
        Ok(Bytes(u.bytes(available)?.to_vec()))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1 + MAX_WRITE_BYTES))
    }
}

// Escaped text reads far better than a list of numbers in a failing sequence.
impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl Op {
    /// Opens `slot` with [`Durability::Full`], the default most sequences want.
    pub fn open_durable(slot: Slot, overwrite: Overwrite, temp: Temp) -> Op {
        let spec = OpenSpec {
            durability: Durability::Full,
            overwrite,
            temp,
        };
        Op::Open { slot, spec }
    }

    /// Writes `bytes` to `slot`.
    pub fn write_bytes(slot: Slot, bytes: &[u8]) -> Op {
        Op::Write {
            slot,
            bytes: Bytes::from(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_capped_at_the_write_bound() {
        assert_eq!(Bytes::new(vec![7; 1000]).as_slice().len(), MAX_WRITE_BYTES);
    }

    #[test]
    fn arbitrary_bytes_never_exceed_the_bound_even_with_plenty_of_input() {
        let data = [0xffu8; 4096];
        let mut u = Unstructured::new(&data);
        let bytes = Bytes::arbitrary(&mut u).expect("enough data");
        assert!(bytes.as_slice().len() <= MAX_WRITE_BYTES);
    }

    #[test]
    fn debug_shows_escaped_text() {
        assert_eq!(
            format!("{:?}", Bytes::from(&b"a\n\x00"[..])),
            "b\"a\\n\\x00\""
        );
    }

    #[test]
    fn slot_indices_match_their_position_in_all() {
        for (position, slot) in Slot::ALL.iter().enumerate() {
            assert_eq!(slot.index(), position);
        }
    }

    #[test]
    fn seek_to_converts_to_the_same_seek_from() {
        assert_eq!(SeekFrom::from(SeekTo::Start(9)), SeekFrom::Start(9));
        assert_eq!(SeekFrom::from(SeekTo::Current(-3)), SeekFrom::Current(-3));
        assert_eq!(SeekFrom::from(SeekTo::End(4)), SeekFrom::End(4));
    }
}
