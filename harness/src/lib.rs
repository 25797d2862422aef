//! The engine behind `torture`, the crash-consistency harness.
//!
//! `torture` runs a writer (a built-in strategy or any command), SIGKILLs it at chosen byte
//! offsets and syscall boundaries, and checks that the target is always absent, the complete old
//! version or the complete new version. The binary (`src/main.rs`) is a thin CLI over this library.
//!
//! Pure modules (no processes, no I/O), driven directly by proptest and fuzz:
//! [`killpoint`] (kill points, sampling), [`oracle`] (verdicts, violations), [`trace`] (the
//! versioned `intact-trace` JSON-lines format) and [`payload`] (deterministic JSON payloads).
//! The rest touches processes and files: [`sys`] (the one module with `unsafe`: seccomp,
//! ptrace, tracee memory), [`tracer`] (the ptrace engine), [`strategies`] and [`writer`] (the
//! built-in writers), [`sandbox`], [`campaign`], [`report`], and [`bench`] (`torture bench`).
// Not `forbid`: `sys` (ptrace, seccomp) is the one module allowed unsafe code; the workspace
// lint denies it everywhere else.
#![deny(unsafe_code)]

pub mod bench;
pub mod campaign;
pub mod killpoint;
pub mod oracle;
pub mod payload;
pub mod report;
pub mod sandbox;
pub mod strategies;
pub mod sys;
pub mod trace;
pub mod tracer;
pub mod writer;
