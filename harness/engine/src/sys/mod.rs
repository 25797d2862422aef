//! The engine's only door to raw system calls, split by concern:
//!
//! - [`seccomp`]: the BPF filter that decides which syscalls stop the writer (jump offsets
//!   checked, never truncated) and its installation;
//! - [`spawn`]: starting a writer, traced or not (`clone(CLONE_VM | CLONE_VFORK)`,
//!   `PTRACE_TRACEME` and the filter, or joining a cgroup, then `execve`);
//! - [`ptrace`]: requests on a stopped tracee (options, resume, registers, memory, SIGKILL);
//! - [`wait`]: `waitpid` reports with raw signal numbers, and the signal that wakes a tracer
//!   blocked in it;
//! - [`loopdev`]: attaching and detaching loop devices (`LOOP_CONFIGURE`, `LOOP_CLR_FD`);
//! - here: the memfd that captures a writer's output.
//!
//! Everything here is a thin, safe wrapper. The tracer (`tracer/`) holds all the policy; these
//! modules only make the calls and map errors. Where `nix` has the call it is used; `libc` is used
//! where `nix` would lose information (real-time signal numbers in `waitpid` statuses and in
//! `PTRACE_CONT`). Every `unsafe` block carries a `// SAFETY:` line (the crate denies
//! `clippy::undocumented_unsafe_blocks`).
#![allow(unsafe_code)]

mod loopdev;
mod ptrace;
mod seccomp;
mod spawn;
mod wait;

use std::io;
use std::os::fd::OwnedFd;

pub use loopdev::{LoopDevice, attach_loop};
pub use ptrace::{
    Regs, Resume, event_msg, get_regs, kill, kill_group, read_memory, resume, set_regs,
    set_trace_options, write_memory,
};
pub use seccomp::{FilterError, SeccompFilter};
pub use spawn::{spawn_traced, spawn_untraced};
pub use wait::{Wait, install_wake, is_waitable, wait_any, wait_for, wake};

/// An anonymous in-memory file (memfd), for capturing a writer's stdout/stderr without a reader
/// thread and without a pipe that could fill up and block the writer.
pub fn capture_file(name: &str) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    memfd_create(name, MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)
}
