//! The pure core of `torture`: everything that reasons about crashes without touching a process.
//!
//! No ptrace, no libc, no file system: values in, values out, so proptest and cargo-fuzz drive
//! every module directly, on any architecture.
//!
//! - [`errors`]: `torture errors`: the fault space of a golden run (`EIO`, `ENOSPC`, `EDQUOT`,
//!   `EINTR`, short writes, fsyncgate), seeded sampling, the verdict of a faulted run, the writes a
//!   failed fsync drops, and the diagnosis with its fix.
//! - [`fault`]: the one fault a trial injects (`kill@byte:N`, `errno@fsync#9:EIO`,
//!   `short@write#5:1`, `hold@rename#7`), printed, parsed and replayed.
//! - [`killpoint`]: where a writer can be killed (`byte:N`, `syscall:N`), the kill space of a
//!   golden run, seeded sampling and `--partition M/N` shards.
//! - [`oracle`]: what a target is after a crash (absent, old, one of the new versions, torn), and
//!   which outcomes are violations; [`oracle::json`] is its JSON / JSON-lines validator;
//!   [`oracle::unit`] judges several files as one unit (all old or all new, a marker last).
//! - [`power`]: the power-loss explorer: crash states a persistence model allows after a power
//!   cut, replayed from a trace, judged and diagnosed.
//! - [`trace`]: the versioned `intact-trace` JSON-lines format of a recorded run.
//! - [`payload`]: the deterministic nested-JSON payloads the built-in writers write.
//! - [`mountinfo`]: the parser of `/proc/self/mountinfo` (which file system holds a path).
//! - [`race`]: racing writers: schedules and their generators (random, PCT, preemption-bounded),
//!   the race oracle, minimisation of a violating schedule and its diagnosis.
//! - [`rng`]: the one seeded random generator.
//! - [`size`]: the one parser of byte sizes (`64KiB`, `1M`, `4096`).
//! - [`words`]: counts with their nouns, singular or plural.
#![forbid(unsafe_code)]

pub mod errors;
pub mod fault;
pub mod killpoint;
pub mod mountinfo;
pub mod oracle;
pub mod payload;
pub mod power;
pub mod race;
pub mod rng;
pub mod size;
pub mod trace;
pub mod words;
