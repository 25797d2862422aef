//! The ptrace engine: runs a writer under ptrace, records its golden run, and kills it at exact
//! byte offsets and syscall boundaries.
//!
//! How a run goes:
//! 1. The writer is spawned in the sandbox, in a process group of its own, with `PTRACE_TRACEME`
//!    and a seccomp filter that returns `SECCOMP_RET_TRACE` only for the syscalls the run needs
//!    (see [`syscalls::Stops`]): a Python writer's imports cost no stop in a byte-kill trial.
//! 2. At each seccomp stop (syscall entry) the tracer decodes the arguments, resolves the file
//!    (`/proc/<tid>/fd/<fd>` or the path argument) and decides: let it run, follow it to its exit
//!    stop (`PTRACE_SYSCALL`) to read the return value, or kill.
//! 3. Forks, vforks, clones and execs are followed (`PTRACE_O_TRACE*`); every tracee is killed
//!    and reaped before a function returns, on every path, errors included.
//!
//! Every function here is safe to call from several threads at once: each call waits only for
//! its own tracees (`waitpid(__WALL | __WNOTHREAD)`). The calling thread must not have other
//! unreaped children of its own while a run is in progress.

mod calls;
mod engine;
mod golden;
mod kill;
mod resolve;
mod spawn;
pub mod syscalls;
mod watchdog;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nix::errno::Errno;

use torture_core::killpoint::{KillPoint, KillSpace};
use torture_core::trace::Trace;

/// The writer to run. Its working directory is always the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterCommand {
    /// Program: a path (relative ones are taken from the harness's working directory) or a
    /// bare name looked up in `PATH` (the `PATH` in `env` if set there).
    pub program: PathBuf,
    /// Arguments, `{target}` already substituted.
    pub args: Vec<OsString>,
    /// Variables added to (or replacing in) the harness's environment.
    pub env: Vec<(OsString, OsString)>,
}

/// Limits of one run.
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// The writer is SIGKILLed this long after it was spawned.
    pub timeout_ms: u64,
    /// Set (by a Ctrl-C handler) to kill the writer at once.
    pub cancel: Arc<AtomicBool>,
}

/// The uncrashed, fully traced run of a writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenRun {
    /// The writer's exit status (0 expected).
    pub exit_code: i32,
    /// What the writer printed (its acknowledgement lines).
    pub stdout: Vec<u8>,
    /// What the writer printed on stderr.
    pub stderr: Vec<u8>,
    /// Every syscall on the sandbox, with written data.
    pub trace: Trace,
    /// Every kill point the run offers.
    pub space: KillSpace,
    /// What the tracer cannot see (shared writable mmap of a sandbox file, io_uring), one
    /// human-readable note each; empty when the trace models the run fully.
    pub unmodelled: Vec<String>,
}

/// How a kill trial ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialEnd {
    /// The kill point was reached and every traced process was seen dead by SIGKILL.
    Killed { point: KillPoint },
    /// The writer finished before the kill point (it did less than in its golden run).
    NotReached { exit_code: i32 },
    /// The writer hit the timeout and was killed by the harness.
    TimedOut { elapsed_ms: u64 },
    /// The run was cancelled (Ctrl-C); the writer was killed.
    Cancelled,
}

/// A harness error: the run says nothing about the writer's correctness.
#[derive(Debug)]
pub enum TraceError {
    /// The sandbox directory cannot be used.
    Sandbox { path: PathBuf, source: io::Error },
    /// The writer could not be started.
    Spawn { program: PathBuf, source: io::Error },
    /// A ptrace or wait request failed.
    Ptrace {
        pid: i32,
        request: &'static str,
        errno: Errno,
    },
    /// A traced process ended in a way the harness did not cause or expect.
    UnexpectedEnd { pid: i32, how: String },
    /// The tracer could not inspect a tracee (/proc, memory) where it must.
    Inspect {
        pid: i32,
        what: String,
        source: io::Error,
    },
    /// The kill point cannot exist (`byte:0`).
    InvalidPoint { point: KillPoint },
    /// A shrunk write wrote past the kill point: the kernel ignored the shrunk count.
    Overshoot {
        pid: i32,
        point: KillPoint,
        written: u64,
    },
    /// The golden run did not finish in time.
    TimedOut { elapsed_ms: u64 },
    /// The golden run was cancelled.
    Cancelled,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Sandbox { path, source } => {
                write!(f, "cannot use sandbox {}: {source}", path.display())
            }
            TraceError::Spawn { program, source } => write!(
                f,
                "cannot start writer `{}`: {source} (check the command exists and is executable)",
                program.display()
            ),
            TraceError::Ptrace {
                pid,
                request,
                errno,
            } => {
                write!(
                    f,
                    "{request} on pid {pid} failed: {errno} (is ptrace allowed here?)"
                )
            }
            TraceError::UnexpectedEnd { pid, how } => write!(f, "writer process {pid} {how}"),
            TraceError::Inspect { pid, what, source } => {
                write!(f, "cannot read {what} of pid {pid}: {source}")
            }
            TraceError::InvalidPoint { point } => {
                write!(f, "kill point {point} does not exist (bytes count from 1)")
            }
            TraceError::Overshoot {
                pid,
                point,
                written,
            } => write!(
                f,
                "pid {pid} wrote {written} bytes in total although the write was shrunk to stop at {point}"
            ),
            TraceError::TimedOut { elapsed_ms } => {
                write!(
                    f,
                    "the golden run did not finish within {elapsed_ms} ms (raise the timeout?)"
                )
            }
            TraceError::Cancelled => f.write_str("the run was cancelled"),
        }
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TraceError::Sandbox { source, .. }
            | TraceError::Spawn { source, .. }
            | TraceError::Inspect { source, .. } => Some(source),
            TraceError::Ptrace { errno, .. } => Some(errno),
            TraceError::UnexpectedEnd { .. }
            | TraceError::InvalidPoint { .. }
            | TraceError::Overshoot { .. }
            | TraceError::TimedOut { .. }
            | TraceError::Cancelled => None,
        }
    }
}

/// Runs the writer to completion in `sandbox`, recording every syscall on the sandbox (with the
/// data written) and the kill-point space. The writer's exit status is returned, not judged.
pub fn record_golden(
    cmd: &WriterCommand,
    sandbox: &Path,
    limits: &RunLimits,
) -> Result<GoldenRun, TraceError> {
    golden::record(cmd, sandbox, limits)
}

/// Runs the writer in `sandbox` and SIGKILLs its whole process tree at `point` (see
/// [`KillPoint`] for the exact meaning), then reaps it.
pub fn run_to_kill(
    cmd: &WriterCommand,
    sandbox: &Path,
    point: KillPoint,
    limits: &RunLimits,
) -> Result<TrialEnd, TraceError> {
    kill::run(cmd, sandbox, point, limits)
}
