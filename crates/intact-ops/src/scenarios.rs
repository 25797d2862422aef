//! Hand-written sequences for the promises that matter most. The tests run
//! them, and `examples/fuzz_seeds.rs` writes them (encoded) as the fuzzer's
//! committed seeds, so fuzzing starts from states random bytes reach rarely.

use crate::op::{Bytes, Durability, Op, OpenSpec, Overwrite, SeekTo, Slot, Temp};

/// `(name, sequence)` pairs; each name is also the seed's file name.
pub fn scenarios() -> Vec<(&'static str, Vec<Op>)> {
    vec![
        ("replace-twice", replace_twice()),
        ("no-clobber-race", no_clobber_race()),
        ("live-writers-and-sweep", live_writers_and_sweep()),
        ("holes-and-truncation", holes_and_truncation()),
        ("discard-keeps-target", discard_keeps_target()),
    ]
}

fn open(slot: Slot, overwrite: Overwrite, temp: Temp) -> Op {
    let spec = OpenSpec {
        durability: Durability::Full,
        overwrite,
        temp,
    };
    Op::Open { slot, spec }
}

fn write(slot: Slot, bytes: &[u8]) -> Op {
    Op::Write {
        slot,
        bytes: Bytes::from(bytes),
    }
}

fn seek(slot: Slot, to: SeekTo) -> Op {
    Op::Seek { slot, to }
}

fn replace_twice() -> Vec<Op> {
    vec![
        open(Slot::A, Overwrite::Replace, Temp::Auto),
        write(Slot::A, b"first"),
        Op::Commit { slot: Slot::A },
        open(Slot::A, Overwrite::Replace, Temp::Named),
        write(Slot::A, b"second"),
        seek(Slot::A, SeekTo::Start(0)),
        write(Slot::A, b"S"),
        Op::Commit { slot: Slot::A },
    ]
}

/// Another process creates the target between open and commit: the
/// no-clobber commit is refused, hands the file back, and succeeds once the
/// target is gone.
fn no_clobber_race() -> Vec<Op> {
    vec![
        open(Slot::A, Overwrite::NoClobber, Temp::Named),
        write(Slot::A, b"mine"),
        Op::ReplaceTarget {
            bytes: Bytes::from(&b"theirs"[..]),
        },
        Op::Commit { slot: Slot::A },
        Op::RemoveTarget,
        Op::Commit { slot: Slot::A },
    ]
}

fn live_writers_and_sweep() -> Vec<Op> {
    vec![
        open(Slot::A, Overwrite::Replace, Temp::Named),
        open(Slot::B, Overwrite::Replace, Temp::Anonymous),
        open(Slot::C, Overwrite::NoClobber, Temp::Named),
        write(Slot::A, b"a"),
        write(Slot::B, b"b"),
        Op::Sweep,
        Op::Commit { slot: Slot::B },
        Op::Commit { slot: Slot::C },
        Op::Abort { slot: Slot::C },
        Op::Drop { slot: Slot::A },
        Op::Sweep,
    ]
}

fn holes_and_truncation() -> Vec<Op> {
    vec![
        open(Slot::B, Overwrite::Replace, Temp::Auto),
        write(Slot::B, b"abcdef"),
        Op::SetLen {
            slot: Slot::B,
            len_bytes: 2,
        },
        seek(Slot::B, SeekTo::End(3)),
        write(Slot::B, b"Z"),
        seek(Slot::B, SeekTo::Current(-100)),
        Op::Commit { slot: Slot::B },
    ]
}

fn discard_keeps_target() -> Vec<Op> {
    vec![
        Op::ReplaceTarget {
            bytes: Bytes::from(&b"old"[..]),
        },
        open(Slot::A, Overwrite::Replace, Temp::Named),
        write(Slot::A, b"new"),
        Op::Abort { slot: Slot::A },
        open(Slot::B, Overwrite::Replace, Temp::Anonymous),
        write(Slot::B, b"newer"),
        Op::Drop { slot: Slot::B },
        Op::Sweep,
    ]
}
