//! Hand-written sequences for the promises that matter most. The tests run
//! them, and `examples/fuzz_seeds.rs` writes them (encoded) as the fuzzer's
//! committed seeds, so fuzzing starts from states random bytes reach rarely.

use crate::op::{Bytes, Op, Overwrite, SeekTo, Slot, Temp};

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

fn seek(slot: Slot, to: SeekTo) -> Op {
    Op::Seek { slot, to }
}

fn replace_twice() -> Vec<Op> {
    vec![
        Op::open_durable(Slot::A, Overwrite::Replace, Temp::Auto),
        Op::write_bytes(Slot::A, b"first"),
        Op::Commit { slot: Slot::A },
        Op::open_durable(Slot::A, Overwrite::Replace, Temp::Named),
        Op::write_bytes(Slot::A, b"second"),
        seek(Slot::A, SeekTo::Start(0)),
        Op::write_bytes(Slot::A, b"S"),
        Op::Commit { slot: Slot::A },
    ]
}

/// Another process creates the target between open and commit: the
/// no-clobber commit is refused, hands the file back, and succeeds once the
/// target is gone.
fn no_clobber_race() -> Vec<Op> {
    vec![
        Op::open_durable(Slot::A, Overwrite::NoClobber, Temp::Named),
        Op::write_bytes(Slot::A, b"mine"),
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
        Op::open_durable(Slot::A, Overwrite::Replace, Temp::Named),
        Op::open_durable(Slot::B, Overwrite::Replace, Temp::Anonymous),
        Op::open_durable(Slot::C, Overwrite::NoClobber, Temp::Named),
        Op::write_bytes(Slot::A, b"a"),
        Op::write_bytes(Slot::B, b"b"),
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
        Op::open_durable(Slot::B, Overwrite::Replace, Temp::Auto),
        Op::write_bytes(Slot::B, b"abcdef"),
        Op::SetLen {
            slot: Slot::B,
            len_bytes: 2,
        },
        seek(Slot::B, SeekTo::End(3)),
        Op::write_bytes(Slot::B, b"Z"),
        seek(Slot::B, SeekTo::Current(-100)),
        Op::Commit { slot: Slot::B },
    ]
}

fn discard_keeps_target() -> Vec<Op> {
    vec![
        Op::ReplaceTarget {
            bytes: Bytes::from(&b"old"[..]),
        },
        Op::open_durable(Slot::A, Overwrite::Replace, Temp::Named),
        Op::write_bytes(Slot::A, b"new"),
        Op::Abort { slot: Slot::A },
        Op::open_durable(Slot::B, Overwrite::Replace, Temp::Anonymous),
        Op::write_bytes(Slot::B, b"newer"),
        Op::Drop { slot: Slot::B },
        Op::Sweep,
    ]
}
