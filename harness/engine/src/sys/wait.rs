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
///
/// Returns `EINTR` when [`wake`] interrupted the wait, so that the caller can look again at
/// what it is waiting for; any other interruption is retried.
pub fn wait_any() -> Result<Wait, Errno> {
    loop {
        WOKEN.with(|woken| woken.set(false));
        match wait_once(-1) {
            Err(Errno::EINTR) if WOKEN.with(|woken| woken.get()) => return Err(Errno::EINTR),
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Waits for one particular tracee of the calling thread.
pub fn wait_for(pid: Pid) -> Result<Wait, Errno> {
    loop {
        match wait_once(pid.as_raw()) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

fn wait_once(which: libc::pid_t) -> Result<Wait, Errno> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid, writable c_int for the duration of the call.
    let rc = unsafe { libc::waitpid(which, &mut status, libc::__WALL | libc::__WNOTHREAD) };
    Errno::result(rc).map(|pid| decode_status(Pid::from_raw(pid), status))
}

/// Whether `pid` is still a child or tracee of the calling thread that `waitpid` can report on:
/// `false` once it was reaped (by any session of the thread) or never was one.
pub fn is_waitable(pid: Pid) -> bool {
    let id = pid.as_raw() as libc::id_t;
    let flags = libc::WEXITED | libc::WSTOPPED | libc::WNOHANG | libc::WNOWAIT;
    let flags = flags | libc::__WALL | libc::__WNOTHREAD;
    // SAFETY: an all-zero siginfo_t is a valid value, and waitid writes at most one siginfo_t
    // into it; WNOWAIT leaves whatever it reports unconsumed.
    let rc = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, id, &mut info, flags)
    };
    Errno::result(rc) != Err(Errno::ECHILD)
}

thread_local! {
    /// Set by the wake signal's handler on the thread it interrupted.
    static WOKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The signal [`wake`] sends: ignored by default, so one that arrives after its thread is gone
/// or before the handler is installed does no harm.
const WAKE_SIGNAL: libc::c_int = libc::SIGURG;

extern "C" fn on_wake(_: libc::c_int) {
    // Only a const-initialised thread-local Cell: async-signal-safe, no allocation, no lock.
    WOKEN.with(|woken| woken.set(true));
}

/// Installs the wake signal's handler, without `SA_RESTART` so that it interrupts `waitpid`.
/// Idempotent.
pub fn install_wake() -> Result<(), Errno> {
    static INSTALLED: std::sync::OnceLock<Result<(), Errno>> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: an all-zero sigaction is valid; `on_wake` is async-signal-safe (it only sets
        // a thread-local Cell), and the empty mask and flags are well formed.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_wake as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            Errno::result(libc::sigaction(WAKE_SIGNAL, &action, std::ptr::null_mut())).map(drop)
        }
    })
}

/// Interrupts thread `tid` of this process if it is blocked in [`wait_any`], which then returns
/// `EINTR` (after [`install_wake`]).
pub fn wake(tid: i32) -> Result<(), Errno> {
    // SAFETY: tgkill takes plain integers; a tid that is gone gives ESRCH.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, WAKE_SIGNAL) };
    Errno::result(rc).map(drop)
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
