//! ptrace requests on a stopped tracee: options, resuming, registers, event messages, memory,
//! and SIGKILL.

use std::io::{IoSlice, IoSliceMut};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};
use nix::unistd::Pid;

/// Registers of a stopped tracee (x86_64).
pub type Regs = libc::user_regs_struct;

/// Sets the tracer options on a freshly exec'd child: stop on seccomp `TRACE` returns, follow
/// fork/vfork/clone/exec, stop each tracee as it begins to exit (so the tracer sees what the
/// writer leaves running), mark syscall stops with 0x80, and kill every tracee if the tracer
/// dies.
pub fn set_trace_options(pid: Pid) -> Result<(), Errno> {
    use ptrace::Options as O;
    let options = O::PTRACE_O_TRACESECCOMP
        | O::PTRACE_O_TRACESYSGOOD
        | O::PTRACE_O_TRACEFORK
        | O::PTRACE_O_TRACEVFORK
        | O::PTRACE_O_TRACECLONE
        | O::PTRACE_O_TRACEEXEC
        | O::PTRACE_O_TRACEEXIT
        | O::PTRACE_O_EXITKILL;
    ptrace::setoptions(pid, options)
}

/// How to resume a stopped tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run until the next seccomp stop, event or signal (`PTRACE_CONT`).
    Continue,
    /// Also stop at the exit of the current syscall (`PTRACE_SYSCALL`).
    ToSyscallExit,
}

/// Resumes `pid`, delivering `signal` (0 for none). Raw numbers so real-time signals pass too.
pub fn resume(pid: Pid, how: Resume, signal: i32) -> Result<(), Errno> {
    let request = match how {
        Resume::Continue => libc::PTRACE_CONT,
        Resume::ToSyscallExit => libc::PTRACE_SYSCALL,
    };
    // SAFETY: PTRACE_CONT/PTRACE_SYSCALL take no pointers: `addr` is ignored and `data` is the
    // signal number, passed by value.
    let rc = unsafe {
        libc::ptrace(
            request,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            signal as libc::c_long as *mut libc::c_void,
        )
    };
    Errno::result(rc).map(drop)
}

/// Registers of a stopped tracee.
pub fn get_regs(pid: Pid) -> Result<Regs, Errno> {
    ptrace::getregs(pid)
}

/// Replaces the registers of a stopped tracee.
pub fn set_regs(pid: Pid, regs: Regs) -> Result<(), Errno> {
    ptrace::setregs(pid, regs)
}

/// `PTRACE_GETEVENTMSG`: the new pid at a fork/clone event, the former thread id at an exec event.
pub fn event_msg(pid: Pid) -> Result<u64, Errno> {
    ptrace::getevent(pid).map(|v| v as u64)
}

/// Reads up to `buf.len()` bytes of tracee memory at `addr`; returns how many were read
/// (fewer when the range runs into an unmapped page).
pub fn read_memory(pid: Pid, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: buf.len(),
    }];
    process_vm_readv(pid, &mut [IoSliceMut::new(buf)], &remote)
}

/// Writes `data` into tracee memory at `addr`, all of it or an error.
pub fn write_memory(pid: Pid, addr: u64, data: &[u8]) -> Result<(), Errno> {
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: data.len(),
    }];
    let written = process_vm_writev(pid, &[IoSlice::new(data)], &remote)?;
    if written == data.len() {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Sends SIGKILL to one process or thread.
pub fn kill(pid: Pid) -> Result<(), Errno> {
    nix::sys::signal::kill(pid, Signal::SIGKILL)
}

/// Sends SIGKILL to a whole process group.
pub fn kill_group(pgid: Pid) -> Result<(), Errno> {
    nix::sys::signal::killpg(pgid, Signal::SIGKILL)
}
