//! The inverse of decoding a `Vec<Op>` with `arbitrary`: turns a sequence
//! (a proptest failure, a hand-written scenario) into fuzzer input bytes.
//!
//! It mirrors arbitrary 1.x's decoding: `Vec::arbitrary_take_rest` reads a
//! "keep going" bool byte before each element; a derived enum reads a
//! little-endian `u32` `x` and picks variant `(x * count) >> 32`; fields
//! follow in declaration order; `Bytes` reads one length byte (modulo
//! `MAX_WRITE_BYTES + 1`) then the bytes. A round-trip test guards this
//! against a change in arbitrary.

use crate::op::{Bytes, Durability, Op, OpenSpec, Overwrite, SeekTo, Slot, Temp};

/// Bytes that `Vec::<Op>::arbitrary_take_rest` decodes back to `ops`.
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        out.push(1);
        encode_op(op, &mut out);
    }
    out.push(0);
    out
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    const OPS: u32 = 10;
    match op {
        Op::Open { slot, spec } => {
            variant(out, 0, OPS);
            encode_slot(*slot, out);
            encode_spec(*spec, out);
        }
        Op::Write { slot, bytes } => {
            variant(out, 1, OPS);
            encode_slot(*slot, out);
            encode_bytes(bytes, out);
        }
        Op::Seek { slot, to } => {
            variant(out, 2, OPS);
            encode_slot(*slot, out);
            encode_seek(*to, out);
        }
        Op::SetLen { slot, len_bytes } => {
            variant(out, 3, OPS);
            encode_slot(*slot, out);
            out.push(*len_bytes);
        }
        Op::Commit { slot } => slot_op(out, 4, *slot),
        Op::Abort { slot } => slot_op(out, 5, *slot),
        Op::Drop { slot } => slot_op(out, 6, *slot),
        Op::ReplaceTarget { bytes } => {
            variant(out, 7, OPS);
            encode_bytes(bytes, out);
        }
        Op::RemoveTarget => variant(out, 8, OPS),
        Op::Sweep => variant(out, 9, OPS),
    }
}

fn slot_op(out: &mut Vec<u8>, index: u32, slot: Slot) {
    variant(out, index, 10);
    encode_slot(slot, out);
}

/// The smallest `x` with `(x * count) >> 32 == index`.
fn variant(out: &mut Vec<u8>, index: u32, count: u32) {
    let x = (u64::from(index) << 32).div_ceil(u64::from(count));
    out.extend_from_slice(&(x as u32).to_le_bytes());
}

fn encode_slot(slot: Slot, out: &mut Vec<u8>) {
    variant(out, slot.index() as u32, 3);
}

fn encode_spec(spec: OpenSpec, out: &mut Vec<u8>) {
    let durability = match spec.durability {
        Durability::None => 0,
        Durability::Data => 1,
        Durability::Full => 2,
    };
    let overwrite = match spec.overwrite {
        Overwrite::Replace => 0,
        Overwrite::NoClobber => 1,
    };
    let temp = match spec.temp {
        Temp::Auto => 0,
        Temp::Named => 1,
        Temp::Anonymous => 2,
    };
    variant(out, durability, 3);
    variant(out, overwrite, 2);
    variant(out, temp, 3);
}

fn encode_seek(to: SeekTo, out: &mut Vec<u8>) {
    match to {
        SeekTo::Start(offset) => {
            variant(out, 0, 3);
            out.push(offset);
        }
        SeekTo::Current(delta) => {
            variant(out, 1, 3);
            out.extend_from_slice(&delta.to_le_bytes());
        }
        SeekTo::End(delta) => {
            variant(out, 2, 3);
            out.extend_from_slice(&delta.to_le_bytes());
        }
    }
}

fn encode_bytes(bytes: &Bytes, out: &mut Vec<u8>) {
    // `Bytes` holds at most MAX_WRITE_BYTES (64), so the length fits a byte.
    out.push(bytes.as_slice().len() as u8);
    out.extend_from_slice(bytes.as_slice());
}

#[cfg(test)]
mod tests {
    use arbitrary::{Arbitrary, Unstructured};

    use super::*;

    fn decode(data: &[u8]) -> Vec<Op> {
        Vec::<Op>::arbitrary_take_rest(Unstructured::new(data)).expect("decodes")
    }

    #[test]
    fn every_variant_index_decodes_back() {
        for count in 1..=10u32 {
            for index in 0..count {
                let mut out = Vec::new();
                variant(&mut out, index, count);
                let x = u32::from_le_bytes([out[0], out[1], out[2], out[3]]);
                assert_eq!((u64::from(x) * u64::from(count)) >> 32, u64::from(index));
            }
        }
    }

    #[test]
    fn a_sequence_of_every_op_round_trips() {
        let spec = OpenSpec {
            durability: Durability::Data,
            overwrite: Overwrite::NoClobber,
            temp: Temp::Anonymous,
        };
        let ops = vec![
            Op::Open {
                slot: Slot::C,
                spec,
            },
            Op::Write {
                slot: Slot::C,
                bytes: Bytes::from(&b"payload"[..]),
            },
            Op::Seek {
                slot: Slot::B,
                to: SeekTo::Current(-7),
            },
            Op::SetLen {
                slot: Slot::A,
                len_bytes: 200,
            },
            Op::Commit { slot: Slot::C },
            Op::Abort { slot: Slot::B },
            Op::Drop { slot: Slot::A },
            Op::ReplaceTarget {
                bytes: Bytes::from(&[0xffu8; 64][..]),
            },
            Op::RemoveTarget,
            Op::Sweep,
        ];
        assert_eq!(decode(&encode(&ops)), ops);
    }

    #[test]
    fn the_empty_sequence_round_trips() {
        assert_eq!(decode(&encode(&[])), Vec::<Op>::new());
    }
}
