//! Kill trials: run the writer until one kill point, SIGKILL its tree there.

use std::path::Path;

use nix::errno::Errno;
use nix::unistd::Pid;

use super::calls::{self, Iovecs, WriteCall};
use super::engine::{Call, Ctx, Finish, Mode, Step};
use super::spawn::{read_all, spawn};
use super::syscalls::{Role, Stops};
use super::{RunLimits, TraceError, TrialEnd, WriterCommand};
use crate::sys::{self, Regs};
use torture_core::killpoint::KillPoint;

pub fn run(
    cmd: &WriterCommand,
    sandbox: &Path,
    point: KillPoint,
    limits: &RunLimits,
) -> Result<TrialEnd, TraceError> {
    let stops = match point {
        KillPoint::Byte(0) => return Err(TraceError::InvalidPoint { point }),
        KillPoint::Byte(_) => Stops::Writes,
        KillPoint::Syscall(_) => Stops::Boundaries,
    };
    let mut spawned = spawn(cmd, sandbox, stops, limits, false)?;
    let finish = match point {
        KillPoint::Byte(target) => spawned.session.drive(&mut ByteKiller {
            target,
            point,
            written: 0,
        }),
        KillPoint::Syscall(target) => spawned
            .session
            .drive(&mut BoundaryKiller { target, seen: 0 }),
    };
    let stderr = || read_all(&spawned.stderr).unwrap_or_default();
    Ok(match with_stderr(finish, &stderr())? {
        Finish::Ended { exit_code } => TrialEnd::NotReached { exit_code },
        Finish::Killed => TrialEnd::Killed { point },
        Finish::TimedOut { elapsed_ms } => TrialEnd::TimedOut { elapsed_ms },
        Finish::Cancelled => TrialEnd::Cancelled,
    })
}

/// Adds the end of the writer's stderr to an unexpected end: usually it says what went wrong.
pub fn with_stderr(
    finish: Result<Finish, TraceError>,
    stderr: &[u8],
) -> Result<Finish, TraceError> {
    const TAIL_BYTES: usize = 400;
    match finish {
        Err(TraceError::UnexpectedEnd { pid, how }) if !stderr.is_empty() => {
            let tail = &stderr[stderr.len().saturating_sub(TAIL_BYTES)..];
            let text = String::from_utf8_lossy(tail);
            Err(TraceError::UnexpectedEnd {
                pid,
                how: format!("{how}; its stderr ends: {}", text.trim()),
            })
        }
        other => other,
    }
}

/// Kills at boundary `target`: boundary `2j` is before the `j`-th boundary syscall on the
/// sandbox, `2j + 1` after it.
struct BoundaryKiller {
    target: u64,
    /// Boundaries passed so far (two per boundary syscall).
    seen: u64,
}

impl Mode for BoundaryKiller {
    type Pending = ();

    fn on_entry(&mut self, ctx: &Ctx<'_>, pid: Pid, call: &Call) -> Result<Step<()>, TraceError> {
        if call.sys.role() != Role::Boundary || calls::site(ctx, pid, call).is_none() {
            return Ok(Step::Continue);
        }
        let before = self.seen;
        self.seen += 2;
        if self.target == before {
            prevent(pid, call)?;
            Ok(Step::Kill)
        } else if self.target == before + 1 {
            Ok(Step::ToExit(()))
        } else {
            Ok(Step::Continue)
        }
    }

    fn on_exit(
        &mut self,
        _: &Ctx<'_>,
        _: Pid,
        (): (),
        _: i64,
        _: Regs,
    ) -> Result<Step<()>, TraceError> {
        Ok(Step::Kill)
    }
}

/// Turns the syscall at this entry stop into "no syscall" (orig_rax = -1), so it cannot run
/// even for an instant before SIGKILL lands. (The kernel also skips a syscall whose tracee
/// gets a fatal signal at the seccomp stop; this does not depend on that.)
fn prevent(pid: Pid, call: &Call) -> Result<(), TraceError> {
    let mut regs = call.regs;
    regs.orig_rax = u64::MAX;
    set_regs(pid, regs)
}

fn set_regs(pid: Pid, regs: Regs) -> Result<(), TraceError> {
    match sys::set_regs(pid, regs) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(errno) => Err(TraceError::Ptrace {
            pid: pid.as_raw(),
            request: "PTRACE_SETREGS",
            errno,
        }),
    }
}

/// Kills once exactly `target` bytes have been written to sandbox files.
struct ByteKiller {
    target: u64,
    point: KillPoint,
    written: u64,
}

/// What a shrunk write changed, put back at its exit so a writer that survives a short write
/// (and retries) sees its own arguments.
struct Shrunk {
    /// Index into `Call::args` of the changed register, and its original value.
    arg: usize,
    original: u64,
    /// The iovec whose length was cut: (address of its `iov_len`, original length).
    iov_len: Option<(u64, u64)>,
}

impl Mode for ByteKiller {
    type Pending = Option<Shrunk>;

    fn on_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
    ) -> Result<Step<Option<Shrunk>>, TraceError> {
        let Some(write) = calls::write_call(ctx, pid, call) else {
            return Ok(Step::Continue);
        };
        let remaining = self.target - self.written;
        if write.requested <= remaining {
            return Ok(Step::ToExit(None));
        }
        Ok(Step::ToExit(Some(shrink(pid, call, &write, remaining)?)))
    }

    fn on_exit(
        &mut self,
        _: &Ctx<'_>,
        pid: Pid,
        shrunk: Option<Shrunk>,
        ret: i64,
        regs: Regs,
    ) -> Result<Step<Option<Shrunk>>, TraceError> {
        if let Some(shrunk) = shrunk {
            restore(pid, regs, &shrunk)?;
        }
        self.written += u64::try_from(ret).unwrap_or(0);
        if self.written > self.target {
            return Err(TraceError::Overshoot {
                pid: pid.as_raw(),
                point: self.point,
                written: self.written,
            });
        }
        // A short write (possible) leaves the point ahead: keep going until it is reached.
        Ok(if self.written == self.target {
            Step::Kill
        } else {
            Step::Continue
        })
    }
}

/// Rewrites the call so it writes at most `allowed` bytes.
fn shrink(pid: Pid, call: &Call, write: &WriteCall, allowed: u64) -> Result<Shrunk, TraceError> {
    let mut regs = call.regs;
    let shrunk = match &write.iov {
        Some(iov) => shrink_iovecs(pid, &mut regs, iov, allowed)?,
        None => {
            let arg = calls::count_arg(call.sys);
            let original = call.args[arg];
            set_arg(&mut regs, arg, allowed);
            Shrunk {
                arg,
                original,
                iov_len: None,
            }
        }
    };
    set_regs(pid, regs)?;
    Ok(shrunk)
}

/// Keeps the iovecs up to `allowed` bytes: fewer entries (iovcnt, the third argument) and a
/// shorter last one (in tracee memory).
fn shrink_iovecs(
    pid: Pid,
    regs: &mut Regs,
    iov: &Iovecs,
    allowed: u64,
) -> Result<Shrunk, TraceError> {
    let mut before = 0u64;
    for (index, &(_, len)) in iov.entries.iter().enumerate() {
        if before.saturating_add(len) >= allowed {
            let len_addr = iov.addr + index as u64 * 16 + 8;
            let cut = allowed - before;
            sys::write_memory(pid, len_addr, &cut.to_ne_bytes()).map_err(|errno| {
                TraceError::Ptrace {
                    pid: pid.as_raw(),
                    request: "process_vm_writev",
                    errno,
                }
            })?;
            let original = regs.rdx;
            set_arg(regs, 2, index as u64 + 1);
            return Ok(Shrunk {
                arg: 2,
                original,
                iov_len: Some((len_addr, len)),
            });
        }
        before += len;
    }
    // Only reached if the iovecs hold fewer bytes than `allowed`, which the caller excluded.
    Ok(Shrunk {
        arg: 2,
        original: regs.rdx,
        iov_len: None,
    })
}

fn restore(pid: Pid, mut regs: Regs, shrunk: &Shrunk) -> Result<(), TraceError> {
    if let Some((addr, len)) = shrunk.iov_len {
        // The tracee may already be gone (ESRCH/EFAULT after a kill): nothing to restore then.
        let _ = sys::write_memory(pid, addr, &len.to_ne_bytes());
    }
    set_arg(&mut regs, shrunk.arg, shrunk.original);
    set_regs(pid, regs)
}

/// Sets syscall argument `index` (rdi, rsi, rdx, r10, r8, r9).
fn set_arg(regs: &mut Regs, index: usize, value: u64) {
    match index {
        0 => regs.rdi = value,
        1 => regs.rsi = value,
        2 => regs.rdx = value,
        3 => regs.r10 = value,
        4 => regs.r8 = value,
        _ => regs.r9 = value,
    }
}
