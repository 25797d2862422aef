//! The injector: the one place that carries out a [`Fault`] on a traced writer.
//!
//! - `kill@byte:k`: every write to a sandbox file is counted at its exit; the write that crosses
//!   `k` is shrunk at its entry (count register, or the iovec array in tracee memory) so that it
//!   writes exactly up to `k`, and the tree is SIGKILLed when it returns.
//! - `kill@syscall:i`: boundary `2j` is before the `j`-th boundary syscall on the sandbox (the
//!   syscall is turned into "no syscall" and the tree killed), `2j + 1` after it (killed at its
//!   exit).
//! - `errno@SYSCALL#SEQ:E`: at the entry of trace event SEQ the syscall number is set to -1, so
//!   the kernel skips the call; at its exit the return register is set to `-E`.
//! - `short@SYSCALL#SEQ:N`: the write of event SEQ is shrunk to N bytes like a byte kill's, runs,
//!   and returns N; its arguments are put back at the exit, so a writer that retries sees its own.
//! - `hold@SYSCALL#SEQ`: the tracee stays stopped at the entry of event SEQ and the run returns to
//!   its caller, who resumes it when it likes (see [`super::HeldRun`]).
//!
//! Faults named by an event (`SYSCALL#SEQ`) need the recorder's numbering, so those runs stop at
//! every syscall the golden run records; kill faults stop only where they must.

use nix::errno::Errno;
use nix::unistd::Pid;

use super::Outcome;
use super::TraceError;
use super::calls::{self, Iovecs, WriteCall};
use super::engine::{Call, Ctx, Step};
use super::syscalls::{Role, Stops};
use crate::sys::{self, Regs};
use torture_core::fault::{CallRef, Fault};
use torture_core::killpoint::KillPoint;
use torture_core::trace::ExitStatus;

/// Carries out one fault.
#[derive(Debug)]
pub struct Injector {
    fault: Fault,
    /// Bytes written to sandbox files so far (byte kills).
    written: u64,
    /// Boundaries passed so far, two per boundary syscall (syscall kills).
    boundaries: u64,
    /// The fault has been carried out (the kill is under way, or the call was changed or held).
    fired: bool,
}

/// What the injector does at a call's exit.
#[derive(Debug)]
pub enum Exit {
    /// Count the bytes written; put back a shrunk write's arguments first.
    CountBytes(Option<Shrunk>),
    /// The call ran: kill now (a kill after a boundary).
    Kill,
    /// The call was skipped: make it return `-errno`.
    Fail(i32),
    /// A shortened write returned: put its arguments back.
    Restore(Shrunk),
}

impl Injector {
    /// An injector for `fault`; `byte:0` is refused (bytes count from 1).
    pub fn new(fault: Fault) -> Result<Injector, TraceError> {
        if let Fault::Kill(point @ KillPoint::Byte(0)) = fault {
            return Err(TraceError::InvalidPoint { point });
        }
        Ok(Injector {
            fault,
            written: 0,
            boundaries: 0,
            fired: false,
        })
    }

    /// The syscalls a run with this fault must stop on.
    pub fn stops(&self) -> Stops {
        match self.fault {
            Fault::Kill(KillPoint::Byte(_)) => Stops::Writes,
            Fault::Kill(KillPoint::Syscall(_)) => Stops::Boundaries,
            Fault::Errno { .. } | Fault::Short { .. } | Fault::Hold { .. } => Stops::All,
        }
    }

    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    pub fn fired(&self) -> bool {
        self.fired
    }

    /// The run's outcome once the tree was killed at the injector's request.
    pub fn killed(&self) -> Outcome {
        match self.fault {
            Fault::Kill(point) => Outcome::Killed { point },
            // Only kill faults ask for a kill.
            Fault::Errno { .. } | Fault::Short { .. } | Fault::Hold { .. } => Outcome::NotReached {
                exit: ExitStatus::Signal(libc::SIGKILL),
            },
        }
    }

    /// The run's outcome when the writer ended on its own.
    pub fn ended(&self, exit: ExitStatus) -> Outcome {
        if self.fired {
            Outcome::Injected {
                fault: self.fault.clone(),
                exit,
            }
        } else {
            Outcome::NotReached { exit }
        }
    }

    /// Decides at a syscall's entry stop. `seq` is the call's event in the trace being recorded
    /// (`None`: not an event, or no recorder).
    pub fn on_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
        seq: Option<u64>,
    ) -> Result<Step<Exit>, TraceError> {
        if self.fired {
            return Ok(Step::Continue);
        }
        match &self.fault {
            Fault::Kill(KillPoint::Byte(target)) => {
                let target = *target;
                self.byte_entry(ctx, pid, call, target)
            }
            Fault::Kill(KillPoint::Syscall(target)) => {
                let target = *target;
                self.boundary_entry(ctx, pid, call, target)
            }
            Fault::Errno { call: at, errno } if Some(at.seq) == seq => {
                check_call(at, call)?;
                let errno = errno.number();
                self.fired = true;
                prevent(pid, call)?;
                Ok(Step::ToExit(Exit::Fail(errno)))
            }
            Fault::Short {
                call: at,
                len_bytes,
            } if Some(at.seq) == seq => {
                let (at, len_bytes) = (at.clone(), *len_bytes);
                self.short_entry(ctx, pid, call, &at, len_bytes)
            }
            Fault::Hold { call: at } if Some(at.seq) == seq => {
                check_call(at, call)?;
                self.fired = true;
                Ok(Step::Hold(None))
            }
            Fault::Errno { .. } | Fault::Short { .. } | Fault::Hold { .. } => Ok(Step::Continue),
        }
    }

    /// Acts at a syscall's exit stop; returns the step and the value the call now returns.
    pub fn on_exit(
        &mut self,
        pid: Pid,
        exit: Exit,
        ret: i64,
        regs: Regs,
    ) -> Result<(Step<Exit>, i64), TraceError> {
        match exit {
            Exit::CountBytes(shrunk) => {
                if let Some(shrunk) = shrunk {
                    restore(pid, regs, &shrunk)?;
                }
                self.byte_exit(pid, ret).map(|step| (step, ret))
            }
            Exit::Kill => Ok((Step::Kill, ret)),
            Exit::Fail(errno) => {
                let ret = -i64::from(errno);
                let mut regs = regs;
                regs.rax = ret as u64;
                set_regs(pid, regs)?;
                Ok((Step::Continue, ret))
            }
            Exit::Restore(shrunk) => {
                restore(pid, regs, &shrunk)?;
                Ok((Step::Continue, ret))
            }
        }
    }

    fn boundary_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
        target: u64,
    ) -> Result<Step<Exit>, TraceError> {
        if call.sys.role() != Role::Boundary || calls::site(ctx, pid, call).is_none() {
            return Ok(Step::Continue);
        }
        let before = self.boundaries;
        self.boundaries += 2;
        if target == before {
            self.fired = true;
            prevent(pid, call)?;
            Ok(Step::Kill)
        } else if target == before + 1 {
            self.fired = true;
            Ok(Step::ToExit(Exit::Kill))
        } else {
            Ok(Step::Continue)
        }
    }

    fn byte_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
        target: u64,
    ) -> Result<Step<Exit>, TraceError> {
        let Some(write) = calls::write_call(ctx, pid, call) else {
            return Ok(Step::Continue);
        };
        let remaining = target - self.written;
        if write.requested <= remaining {
            return Ok(Step::ToExit(Exit::CountBytes(None)));
        }
        let shrunk = shrink(pid, call, &write, remaining)?;
        Ok(Step::ToExit(Exit::CountBytes(Some(shrunk))))
    }

    fn byte_exit(&mut self, pid: Pid, ret: i64) -> Result<Step<Exit>, TraceError> {
        let Fault::Kill(point @ KillPoint::Byte(target)) = self.fault else {
            return Ok(Step::Continue);
        };
        self.written += u64::try_from(ret).unwrap_or(0);
        if self.written > target {
            return Err(TraceError::Overshoot {
                pid: pid.as_raw(),
                point,
                written: self.written,
            });
        }
        // A short write (possible) leaves the point ahead: keep going until it is reached.
        if self.written == target {
            self.fired = true;
            Ok(Step::Kill)
        } else {
            Ok(Step::Continue)
        }
    }

    fn short_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
        at: &CallRef,
        len_bytes: u64,
    ) -> Result<Step<Exit>, TraceError> {
        check_call(at, call)?;
        let mismatch = |found: String| TraceError::FaultMismatch {
            fault: self.fault.to_string(),
            found,
        };
        let Some(write) = calls::write_call(ctx, pid, call) else {
            return Err(mismatch(format!(
                "{} is not a write to a sandbox file",
                call.sys.name()
            )));
        };
        if write.requested <= len_bytes {
            return Err(mismatch(format!(
                "the write asks for only {} bytes",
                write.requested
            )));
        }
        self.fired = true;
        let shrunk = shrink(pid, call, &write, len_bytes)?;
        Ok(Step::ToExit(Exit::Restore(shrunk)))
    }
}

/// The call at the fault's seq must be the syscall the fault names: else the writer took another
/// path than in the golden run, and the fault would land somewhere unintended.
fn check_call(at: &CallRef, call: &Call) -> Result<(), TraceError> {
    if call.sys.name() == at.syscall {
        return Ok(());
    }
    Err(TraceError::FaultMismatch {
        fault: at.to_string(),
        found: format!("event {} is a {}", at.seq, call.sys.name()),
    })
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

/// What a shrunk write changed, put back at its exit so a writer that survives a short write
/// (and retries) sees its own arguments.
#[derive(Debug)]
pub struct Shrunk {
    /// Index into `Call::args` of the changed register, and its original value.
    arg: usize,
    original: u64,
    /// The iovec whose length was cut: (address of its `iov_len`, original length).
    iov_len: Option<(u64, u64)>,
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
