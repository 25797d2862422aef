//! The ptrace engine: runs a writer under ptrace, records its golden run, and injects one
//! [`Fault`] per run: a kill at an exact byte offset or syscall boundary, an errno, a short write,
//! or a hold.
//!
//! Entry points: [`record_golden`] (no fault, full trace), [`run_to_kill`] (the fast path of kill
//! campaigns: stops only where the kill point needs), [`run_fault`] (any fault, with the trace of
//! the faulted run), [`start_fault`] / [`HeldRun::resume`] for a scheduler that holds one
//! writer while others run, and [`start_stepping`] / [`HeldRun::step`], which hold a writer at
//! every step so a scheduler can interleave several (`torture race`, see `step.rs`). Every run ends in one [`Outcome`]; the writer's stdout and exit
//! status come back as its acknowledgement ([`WriterAck`]).
//!
//! How a run goes:
//! 1. The writer is spawned in the sandbox, in a process group of its own, with `PTRACE_TRACEME`
//!    and a seccomp filter that returns `SECCOMP_RET_TRACE` only for the syscalls the run needs
//!    (see [`syscalls::Stops`]): a Python writer's imports cost no stop in a byte-kill trial.
//! 2. At each seccomp stop (syscall entry) the tracer decodes the arguments, resolves the file
//!    (`/proc/<tid>/fd/<fd>` or the path argument); the recorder (`golden.rs`) numbers the event
//!    and the injector (`inject.rs`, the one place faults are carried out) decides: let it run,
//!    follow it to its exit stop (`PTRACE_SYSCALL`) to read or replace the return value, shrink
//!    it, skip it, hold it, or kill.
//! 3. Forks, vforks, clones and execs are followed (`PTRACE_O_TRACE*`); every tracee is killed
//!    and reaped before a function returns, on every path, errors included.
//!
//! Every function here is safe to call from several threads at once: each call waits only for
//! its own tracees (`waitpid(__WALL | __WNOTHREAD)`). The calling thread must not have other
//! unreaped children of its own while a run is in progress. The engine installs a handler for
//! `SIGURG` (the watchdog's wake for a tracer thread still blocked in `waitpid` after its run
//! timed out or was cancelled); a program embedding it must not use that signal itself.

mod calls;
mod engine;
mod golden;
mod inject;
mod mailbox;
mod resolve;
mod run;
mod spawn;
mod step;
pub mod syscalls;
pub use run::left_running_note;
pub use step::StepAt;
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

use torture_core::fault::{CallRef, Fault};
use torture_core::killpoint::{KillPoint, KillSpace};
use torture_core::trace::{ExitStatus, Trace};

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
    /// The writer is SIGKILLed once it ran this long without ending (time held by the harness
    /// and time spent waiting for a CPU do not count; see `watchdog.rs`).
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
    /// What the writer changed (or tried to) outside its sandbox, e.g. `openat /tmp/x.json`:
    /// never killed at, never recorded, so never tested.
    pub outside: Vec<String>,
    /// How the run was seen, for the report (stores through a shared mapping, say).
    pub notes: Vec<String>,
    /// The processes the writer left running when it exited, ended with it.
    pub left_running: Vec<String>,
}

/// How a traced run ended: the one outcome of every run, whatever the fault. A harness error
/// is the `Err` side of the run functions ([`TraceError`]), so outcomes stay plain values a
/// campaign can store and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The kill point was reached and every traced process was seen dead by SIGKILL.
    Killed { point: KillPoint },
    /// The fault was injected (an errno, a short write, a hold) and the writer then ran to its
    /// end with this status.
    Injected { fault: Fault, exit: ExitStatus },
    /// The writer ended before the fault's point (it did less than in its golden run); a golden
    /// run, which has no fault, always ends here.
    NotReached { exit: ExitStatus },
    /// The writer hit the timeout and was killed by the harness (hung): it ran (not held) for
    /// the whole timeout without reaching its next stop or its end.
    TimedOut { elapsed_ms: u64 },
    /// The run was cancelled (Ctrl-C); the writer was killed.
    Cancelled,
    /// Before the fault's point the writer did what the tracer cannot model (a shared writable
    /// `mmap` of a sandbox file, `io_uring`); it was killed and the run says nothing.
    Unmodelled { what: String },
}

/// What the writer told the world: its stdout and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterAck {
    /// Everything the writer printed on stdout (up to the kill, for a killed run).
    pub stdout: Vec<u8>,
    /// How the main process ended (`Signal(9)` when the harness killed it); `None` when it was
    /// never seen ending.
    pub exit: Option<ExitStatus>,
}

/// One traced run with a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// How it ended.
    pub outcome: Outcome,
    /// The writer's acknowledgement.
    pub ack: WriterAck,
    /// What the writer printed on stderr.
    pub stderr: Vec<u8>,
    /// The trace of this run (events as they happened, with the fault's effects, and its
    /// acknowledgements): recorded by [`run_fault`] and [`start_fault`], `None` from
    /// [`run_to_kill`].
    pub trace: Option<Trace>,
    /// The processes the writer left running when it exited (`pid N: command line`), ended
    /// with it; [`left_running_note`] says so.
    pub left_running: Vec<String>,
}

impl Run {
    /// The run, unless the watchdog stopped it at its timeout: that is a harness timeout (the
    /// writer did not reach `goal` in `timeout_ms` of its own time), never a verdict on the
    /// writer. `what` names the run for the message.
    pub fn in_time(
        self,
        what: impl FnOnce() -> String,
        goal: impl FnOnce() -> String,
        timeout_ms: u64,
    ) -> Result<Run, TraceError> {
        match self.outcome {
            Outcome::TimedOut { .. } => Err(TraceError::Stalled {
                what: what(),
                goal: goal(),
                timeout_ms,
            }),
            Outcome::Killed { .. }
            | Outcome::Injected { .. }
            | Outcome::NotReached { .. }
            | Outcome::Cancelled
            | Outcome::Unmodelled { .. } => Ok(self),
        }
    }
}

/// Where a run started by [`start_fault`] stands.
#[derive(Debug)]
pub enum Progress {
    /// The writer is held at the fault's call; resume it when the others have run.
    Held(HeldRun),
    /// The run is over (boxed: a run with its trace is much larger than a held handle).
    Done(Box<Run>),
}

/// A writer held stopped at the entry of the call a [`Fault::Hold`] names. Its other threads or
/// processes keep running until they reach a stop of their own. The run's timeout is paused while
/// it is held and starts afresh when it is released: however long the harness spends on other
/// writers, the writer is judged only on the time it ran. Drop it to kill the writer.
/// It must be resumed on the thread that started it (ptrace ties tracees to that thread), so it
/// is not `Send`.
#[derive(Debug)]
pub struct HeldRun {
    live: Box<run::Live>,
    pid: i32,
    at: CallRef,
    /// Stepping runs: the step it is held at.
    step: Option<StepAt>,
    _thread: std::marker::PhantomData<*const ()>,
}

impl HeldRun {
    /// The held thread.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The call it is held at (not yet run).
    pub fn at(&self) -> &CallRef {
        &self.at
    }

    /// For a run from [`start_stepping`]: the step it is held at (call, path, equal kill point).
    pub fn step_at(&self) -> Option<&StepAt> {
        self.step.as_ref()
    }

    /// Lets the held call run and drives the writer on to its end (a stepping run stops
    /// stepping; a hold fault holds only once).
    pub fn resume(mut self) -> Result<Progress, TraceError> {
        run::stop_stepping(&mut self.live);
        run::drive(self.live)
    }

    /// Lets the held call run and drives the writer on to its next step (stepping runs) or its
    /// end.
    pub fn step(self) -> Result<Progress, TraceError> {
        run::drive(self.live)
    }

    /// SIGKILLs the writer's whole tree where it is held, reaps it, and returns the run: its
    /// outcome is [`Outcome::Killed`] at the kill point equal to the held position (stepping
    /// runs), its trace the events that completed.
    pub fn kill(self) -> Result<Run, TraceError> {
        run::kill_held(self.live)
    }
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
    /// The watchdog stopped a run at its timeout: the writer did not reach `goal` in that much
    /// of its own time (time held, or waiting for a CPU, does not count). A harness timeout,
    /// which says nothing about the writer's correctness: no wall clock makes a verdict.
    Stalled {
        /// Which run (`writer 2 after write #4`, `kill trial at byte:17`).
        what: String,
        /// What it did not reach: `its next syscall` (a released racer), `its kill point
        /// (byte:17) or its end`, `its end`.
        goal: String,
        timeout_ms: u64,
    },
    /// The run did not make the call a fault names at its seq: it took another path than the
    /// golden run.
    FaultMismatch { fault: String, found: String },
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
            TraceError::Stalled {
                what,
                goal,
                timeout_ms,
            } => write!(
                f,
                "{what}: the writer did not reach {goal} in {} s of its own time (a harness \
                 timeout, not a writer failure: raise --timeout-ms, or check that the writer \
                 cannot wait forever, for input, a lock, a child or a writer the harness holds)",
                seconds(*timeout_ms)
            ),
            TraceError::FaultMismatch { fault, found } => write!(
                f,
                "cannot inject {fault}: {found} (the writer did not repeat its golden run; record the trace again)"
            ),
        }
    }
}

/// `1500` as `1.5`, `10000` as `10`.
fn seconds(ms: u64) -> String {
    let text = format!("{:.3}", ms as f64 / 1000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
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
            | TraceError::Cancelled
            | TraceError::Stalled { .. }
            | TraceError::FaultMismatch { .. } => None,
        }
    }
}

/// Runs the writer to completion in `sandbox`, recording every syscall on the sandbox (with the
/// data written), the kill-point space, and the trace header: `target` (relative to the sandbox,
/// or absolute inside it), what was there before, the file system, the exit status and the
/// acknowledgements. The writer's exit status is returned, not judged.
pub fn record_golden(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    limits: &RunLimits,
) -> Result<GoldenRun, TraceError> {
    run::golden(cmd, sandbox, target, limits)
}

/// Runs the writer in `sandbox` and SIGKILLs its whole process tree at `point` (see
/// [`KillPoint`] for the exact meaning), then reaps it. Stops only at the syscalls the point
/// needs and records no trace: the path kill campaigns take thousands of times.
pub fn run_to_kill(
    cmd: &WriterCommand,
    sandbox: &Path,
    point: KillPoint,
    limits: &RunLimits,
) -> Result<Run, TraceError> {
    run::without_trace(cmd, sandbox, Fault::Kill(point), limits)
}

/// Runs the writer in `sandbox` with `fault` injected, recording the trace of the run (with its
/// header for `target`). A [`Fault::Hold`] is released at once; use [`start_fault`] to run other
/// writers while it is held. Event-named faults (`errno@`, `short@`, `hold@`) name the seq of
/// the call in the golden trace of the same writer, sandbox state and target.
pub fn run_fault(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    fault: &Fault,
    limits: &RunLimits,
) -> Result<Run, TraceError> {
    let mut progress = start_fault(cmd, sandbox, target, fault, limits)?;
    loop {
        match progress {
            Progress::Held(held) => progress = held.resume()?,
            Progress::Done(run) => return Ok(*run),
        }
    }
}

/// Starts the writer, recording its trace, and drives it to its first step: the entry of the
/// first write to a sandbox file or boundary syscall on the sandbox (the calls kill points sit
/// at). [`HeldRun::step`] runs that call and holds at the next step; [`HeldRun::step_at`] says
/// what the writer is about to do. Several stepping writers may live on one thread; a scheduler
/// keeps all but one held (`torture race`).
pub fn start_stepping(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    limits: &RunLimits,
) -> Result<Progress, TraceError> {
    run::start_stepping(cmd, sandbox, target, limits)
}

/// Starts the writer with `fault` and drives it until it ends or is held at a
/// [`Fault::Hold`]'s call. A scheduler starts several writers this way (each held at its own
/// call) and decides which one runs next with [`HeldRun::resume`]; all on one thread.
pub fn start_fault(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    fault: &Fault,
    limits: &RunLimits,
) -> Result<Progress, TraceError> {
    run::start(cmd, sandbox, target, fault, limits)
}
