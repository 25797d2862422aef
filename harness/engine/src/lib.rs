//! The engine behind `torture`, the crash-consistency harness.
//!
//! `torture` runs a writer (a built-in strategy or any command), SIGKILLs it at chosen byte
//! offsets and syscall boundaries, and checks that the target is always absent, the complete old
//! version or the complete new version. The binary (`src/main.rs`) is a thin CLI over this library.
//!
//! The pure reasoning (kill points, the oracle, the trace format, payloads) is the crate
//! `torture_core`, re-exported here; the write strategies are `torture_writers`. This crate
//! touches processes and files: `sys` (private; the one module with `unsafe`: seccomp, spawn,
//! ptrace, wait), [`tracer`] (the ptrace engine and its fault injector), [`sandbox`],
//! [`campaign`] and [`report`]. `torture bench` lives in `intact-bench`, not here.
// Not `forbid`: `sys` (ptrace, seccomp) is the one module allowed unsafe code; the workspace
// lint denies it everywhere else.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod campaign;
pub mod cgroup;
pub mod cpuwait;
pub mod loopfs;
pub mod mark;
pub mod realfs;
pub mod report;
pub mod sandbox;
pub(crate) mod sys;
pub mod tracer;

pub use torture_core::{killpoint, mountinfo, oracle, payload, trace};
pub use torture_writers::{strategies, writer};
