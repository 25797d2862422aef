//! Operation sequences over `intact::AtomicFile`, their model, and an
//! executor that checks one against the other after every op.
//!
//! The same [`Op`] sequences are driven by proptest (`tests/`) and by
//! cargo-fuzz (`fuzz/fuzz_targets/ops.rs`, decoding them with
//! [`arbitrary`]). [`Model`] is pure: it says what the target's bytes must be
//! (absent, or exactly one committed buffer) and what each open file holds.
//! [`run`] applies the ops to real files in a directory and, after every op,
//! compares:
//!
//! - the target: absent or byte-identical to the model, and a regular file;
//! - each open `AtomicFile`: its temp is the expected kind (a named
//!   `.{target}.{random}.intact-tmp` in the directory, or an `O_TMPFILE`
//!   with no name), holds exactly the bytes written, cursor where the model
//!   puts it;
//! - the directory: nothing but the target and the named temps of the files
//!   still open. After the last op every file is dropped and only the target
//!   may remain.
//!
//! [`encode`] turns a sequence back into fuzzer input (seeds, replaying a
//! proptest failure under the fuzzer); [`scenarios`] are the hand-written
//! sequences used as tests and as the fuzzer's seeds.
//!
//! Ops that name an empty slot do nothing on both sides, so any decoded
//! sequence is valid, and nothing here panics on any sequence.
//!
//! Linux only: temp kinds and contents are read through `/proc/self/fd`.
#![forbid(unsafe_code)]

mod discrepancy;
mod encode;
mod exec;
mod model;
mod op;
mod scenarios;

pub use discrepancy::{Difference, Discrepancy, Step};
pub use encode::encode;
pub use exec::{Run, TARGET_NAME, is_named_temp, run};
pub use model::{Model, ModelFile, Outcome, TempKind};
pub use op::{
    Bytes, Durability, MAX_WRITE_BYTES, Op, OpenSpec, Overwrite, SLOT_COUNT, SeekTo, Slot, Temp,
};
pub use scenarios::scenarios;
