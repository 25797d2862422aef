//! `waitpid` for tracers: raw statuses decoded into [`Wait`] reports.

use nix::errno::Errno;
use nix::unistd::Pid;

/// What `waitpid` reported, with raw signal numbers (nix's `WaitStatus` cannot carry real-time
/// signals and would drop the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The tracee exited with this status code.
    Exited { pid: Pid, code: i32 },
    /// The tracee was killed by this signal.
    Signaled { pid: Pid, signal: i32 },
    /// `PTRACE_EVENT_SECCOMP`: syscall entry of a syscall the filter marked `TRACE`.
    Seccomp { pid: Pid },
    /// Syscall exit stop (after `Resume::ToSyscallExit`).
    SyscallExit { pid: Pid },
    /// Another `PTRACE_EVENT_*` stop (fork, vfork, clone, exec).
    Event { pid: Pid, event: i32 },
    /// Signal-delivery stop (or group stop): `signal` is pending for the tracee.
    Signal { pid: Pid, signal: i32 },
}

impl Wait {
    /// The process or thread the report is about.
    pub fn pid(&self) -> Pid {
        match *self {
            Wait::Exited { pid, .. }
            | Wait::Signaled { pid, .. }
            | Wait::Seccomp { pid }
            | Wait::SyscallExit { pid }
            | Wait::Event { pid, .. }
            | Wait::Signal { pid, .. } => pid,
        }
    }
}

/// Waits for any child or tracee **of the calling thread** (`__WALL | __WNOTHREAD`): several
/// tracers run in threads of one process, and each must see only its own tracees.
pub fn wait_any() -> Result<Wait, Errno> {
    wait_raw(-1)
}

/// Waits for one particular tracee of the calling thread.
pub fn wait_for(pid: Pid) -> Result<Wait, Errno> {
    wait_raw(pid.as_raw())
}

fn wait_raw(which: libc::pid_t) -> Result<Wait, Errno> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, writable c_int for the duration of the call.
        let rc = unsafe { libc::waitpid(which, &mut status, libc::__WALL | libc::__WNOTHREAD) };
        match Errno::result(rc) {
            Ok(pid) => return Ok(decode_status(Pid::from_raw(pid), status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn decode_status(pid: Pid, status: i32) -> Wait {
    if libc::WIFEXITED(status) {
        return Wait::Exited {
            pid,
            code: libc::WEXITSTATUS(status),
        };
    }
    if libc::WIFSIGNALED(status) {
        return Wait::Signaled {
            pid,
            signal: libc::WTERMSIG(status),
        };
    }
    // Only stops remain: waitpid without WUNTRACED/WCONTINUED reports nothing else to a tracer.
    let signal = libc::WSTOPSIG(status);
    let event = (status >> 16) & 0xff;
    if signal == libc::SIGTRAP | 0x80 {
        Wait::SyscallExit { pid }
    } else if signal == libc::SIGTRAP && event == libc::PTRACE_EVENT_SECCOMP {
        Wait::Seccomp { pid }
    } else if event != 0 {
        Wait::Event { pid, event }
    } else {
        Wait::Signal { pid, signal }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_status_tells_stops_apart() {
        let pid = Pid::from_raw(7);
        let stop = |sig: i32, event: i32| (event << 16) | (sig << 8) | 0x7f;
        assert_eq!(
            decode_status(pid, stop(libc::SIGTRAP | 0x80, 0)),
            Wait::SyscallExit { pid }
        );
        assert_eq!(
            decode_status(pid, stop(libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP)),
            Wait::Seccomp { pid }
        );
        assert_eq!(
            decode_status(pid, stop(libc::SIGTRAP, libc::PTRACE_EVENT_FORK)),
            Wait::Event {
                pid,
                event: libc::PTRACE_EVENT_FORK
            }
        );
        assert_eq!(
            decode_status(pid, stop(40, 0)),
            Wait::Signal { pid, signal: 40 }
        );
        assert_eq!(decode_status(pid, 9), Wait::Signaled { pid, signal: 9 });
        assert_eq!(decode_status(pid, 3 << 8), Wait::Exited { pid, code: 3 });
    }
}
