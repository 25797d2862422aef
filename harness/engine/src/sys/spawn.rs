//! Starting a writer the way `posix_spawn` does (`clone(CLONE_VM | CLONE_VFORK)`), in its own
//! process group, traced (with `PTRACE_TRACEME` and the seccomp filter installed between the
//! clone and the `execve`) or not. An untraced child can be put into a cgroup before `exec`, so
//! everything it starts, `setsid` or not, stays where it can be counted and killed.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::ptrace::kill;
use super::seccomp::SeccompFilter;
use super::wait::{Wait, wait_for};

/// What the child of [`spawn_traced`] needs, built before the clone: the child shares the
/// parent's memory until `exec` and must not allocate.
struct ChildPlan<'a> {
    program: &'a CStr,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: &'a CStr,
    stdio: [RawFd; 3],
    how: How<'a>,
    /// The errno of the step that failed; 0 while none did.
    error: AtomicI32,
}

/// Starts `program` with `args` (argv\[0\] is `program`), our environment with `env` set over
/// it, in `cwd`, in a new process group, with `stdio` as fds 0-2. Before `exec` the child
/// requests `PTRACE_TRACEME`, sets `PR_SET_NO_NEW_PRIVS` and installs `filter`, so a successful
/// `exec` stops it with SIGTRAP before its first instruction; the caller `wait_for`s that stop
/// and sets its options (`PTRACE_O_TRACESECCOMP` among them). Until then a `SECCOMP_RET_TRACE`
/// syscall fails with ENOSYS, but only `execve` (not traced) runs in that window. A failed step
/// reports its errno through memory shared with the child, not through a syscall the filter
/// could refuse, and the child is killed and reaped.
///
/// Why not `Command` with `pre_exec`: a `pre_exec` hook forces a full `fork`, which copies the
/// harness's page tables and makes every page copy-on-write for both sides, several times the
/// cost of the `posix_spawn` path the spawn baseline takes. This clones with `CLONE_VM |
/// CLONE_VFORK` instead, as `posix_spawn` does: the parent thread sleeps until the child execs.
pub fn spawn_traced(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    cwd: &Path,
    stdio: [BorrowedFd<'_>; 3],
    filter: &SeccompFilter,
) -> io::Result<Pid> {
    spawn(program, args, env, cwd, stdio, How::Traced(filter))
}

/// [`spawn_traced`] without tracing: a child that runs at full speed. With `cgroup_procs` (an
/// open `cgroup.procs` file) the child moves itself into that cgroup before `exec`.
pub fn spawn_untraced(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    cwd: &Path,
    stdio: [BorrowedFd<'_>; 3],
    cgroup_procs: Option<BorrowedFd<'_>>,
) -> io::Result<Pid> {
    let how = How::Untraced {
        cgroup_procs: cgroup_procs.map(|fd| fd.as_raw_fd()),
    };
    spawn(program, args, env, cwd, stdio, how)
}

/// What the child does between the clone and `exec`, besides its stdio, directory and group.
#[derive(Clone, Copy)]
enum How<'a> {
    Traced(&'a SeccompFilter),
    Untraced { cgroup_procs: Option<RawFd> },
}

fn spawn(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    cwd: &Path,
    stdio: [BorrowedFd<'_>; 3],
    how: How<'_>,
) -> io::Result<Pid> {
    let program = CString::new(program.as_os_str().as_bytes())?;
    let cwd = CString::new(cwd.as_os_str().as_bytes())?;
    let argv = c_strings(
        std::iter::once(program.as_bytes().to_vec())
            .chain(args.iter().map(|a| a.as_bytes().to_vec())),
    )?;
    let envp = c_strings(merged_env(env).into_iter())?;
    let plan = ChildPlan {
        program: &program,
        argv: &pointers(&argv),
        envp: &pointers(&envp),
        cwd: &cwd,
        stdio: stdio.map(|fd| fd.as_raw_fd()),
        how,
        error: AtomicI32::new(0),
    };
    if plan.stdio.iter().any(|fd| *fd < 3) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "stdio fd below 3",
        ));
    }
    let pid = clone_vfork(&plan)?;
    match plan.error.load(Ordering::Acquire) {
        0 => Ok(pid),
        errno => {
            kill_and_reap(pid);
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// Reaps a child whose setup failed. Killed first, so a child left in some stop cannot hang the
/// reap.
fn kill_and_reap(pid: Pid) {
    let _ = kill(pid);
    while let Ok(report) = wait_for(pid) {
        if matches!(report, Wait::Exited { .. } | Wait::Signaled { .. }) {
            break;
        }
    }
}

/// The environment `Command` would give: ours, with `env` set over it.
fn merged_env(env: &[(OsString, OsString)]) -> Vec<Vec<u8>> {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (key, value) in env {
        vars.retain(|(k, _)| k != key);
        vars.push((key.clone(), value.clone()));
    }
    vars.into_iter()
        .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
        .collect()
}

fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> io::Result<Vec<CString>> {
    items
        .map(|item| CString::new(item).map_err(io::Error::from))
        .collect()
}

/// NULL-terminated pointer array for `execve`.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut out: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
    out.push(std::ptr::null());
    out
}

/// Child stack for [`clone_vfork`]: the child only makes a handful of plain syscalls.
const CHILD_STACK_BYTES: usize = 64 * 1024;

fn clone_vfork(plan: &ChildPlan<'_>) -> io::Result<Pid> {
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    // The stack grows down: pass its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK_BYTES) & !15;
    let all = nix::sys::signal::SigSet::all();
    // Blocked across the clone so no handler of ours runs in the child on shared memory; the
    // child unblocks everything (as `Command` does) just before `exec`.
    let old = all.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_SETMASK)?;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: `child_main` only makes async-signal-safe syscalls on `plan`, which lives until the
    // clone returns; CLONE_VFORK keeps this thread (and so `plan` and `stack`) suspended until
    // the child has exec'd or exited, so nothing else uses the stack meanwhile.
    let rc = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            flags,
            plan as *const ChildPlan<'_> as *mut libc::c_void,
        )
    };
    let cloned = if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(Pid::from_raw(rc))
    };
    old.thread_set_mask()?;
    cloned
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildPlan` `clone_vfork` passed, alive while the parent is suspended.
    let plan = unsafe { &*(arg as *const ChildPlan<'_>) };
    let errno = child_exec(plan);
    plan.error.store(errno.max(1), Ordering::Release);
    // `_exit` must not be a traced syscall (no `Stops` filter traces exits): refused with ENOSYS
    // it would fault into a signal stop for this very parent, which CLONE_VFORK keeps asleep.
    // SAFETY: `_exit` ends the child without running the parent's atexit handlers or flushing
    // its stdio buffers, which the child shares.
    unsafe { libc::_exit(127) }
}

/// Sets the child up and execs; returns only on failure, with the errno.
fn child_exec(plan: &ChildPlan<'_>) -> i32 {
    let failed = || Errno::last_raw();
    // SAFETY: plain syscalls on fds and C strings the plan keeps alive; none allocates.
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            return failed();
        }
        for (target, fd) in plan.stdio.iter().enumerate() {
            if libc::dup2(*fd, target as i32) < 0 {
                return failed();
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) != 0 {
            return failed();
        }
        // Rust ignores SIGPIPE; `Command` restores the default for its children, and so do we.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if let Err(errno) = child_enter(plan.how) {
            return errno;
        }
        reset_signal_handlers();
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
    }
    failed()
}

/// In the child: tracing, or joining the cgroup, as `how` asks; the errno of a failed step.
fn child_enter(how: How<'_>) -> Result<(), i32> {
    match how {
        How::Traced(filter) => {
            // SAFETY: PTRACE_TRACEME takes no pointer; a plain syscall.
            if unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) } != 0 {
                return Err(Errno::last_raw());
            }
            filter.install().map_err(|_| Errno::last_raw())
        }
        // "0" written to `cgroup.procs` moves the writing process (`cgroups(7)`).
        How::Untraced {
            cgroup_procs: Some(fd),
        } => {
            // SAFETY: one byte from a static buffer to an fd the caller keeps open.
            match unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } {
                1 => Ok(()),
                _ => Err(Errno::last_raw()),
            }
        }
        How::Untraced { cgroup_procs: None } => Ok(()),
    }
}

/// Puts every signal the harness handles (Ctrl-C's SIGINT, SIGTERM, SIGHUP...) back to its
/// default in the child, before it unblocks signals: a handler of ours running there would run
/// on the parent's memory. `exec` resets handlers anyway; ignored signals stay ignored, as
/// `exec` keeps them (like `posix_spawn`).
fn reset_signal_handlers() {
    for signal in 1..=libc::SIGRTMAX() {
        // SAFETY: `sigaction` with a zeroed, then filled-in struct is a plain syscall; it fails
        // harmlessly (EINVAL) for SIGKILL, SIGSTOP and numbers the C library reserves.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0 {
                continue;
            }
            if current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Spawns `program` in `cwd` with every fd on /dev/null and `write` traced.
    fn spawn_null(program: &str, cwd: &str) -> io::Result<Pid> {
        let null = std::fs::File::open("/dev/null").unwrap();
        let filter = SeccompFilter::trace(&[libc::SYS_write], None).unwrap();
        let stdio = [null.as_fd(), null.as_fd(), null.as_fd()];
        let args = [OsString::from("-c"), OsString::from("exit 3")];
        spawn_traced(
            Path::new(program),
            &args,
            &[],
            Path::new(cwd),
            stdio,
            &filter,
        )
    }

    #[test]
    fn spawn_traced_stops_at_sigtrap_after_exec() {
        let pid = spawn_null("/bin/sh", "/").unwrap();
        assert!(matches!(
            wait_for(pid),
            Ok(Wait::Signal {
                signal: libc::SIGTRAP,
                ..
            })
        ));
        // No options set: the traced `exit_group` fails with ENOSYS, so kill and reap.
        kill_and_reap(pid);
        assert_eq!(wait_for(pid), Err(Errno::ECHILD), "reaped");
    }

    #[test]
    fn spawn_traced_reports_a_failed_step_and_leaves_no_child() {
        let no_dir = spawn_null("/bin/sh", "/nonexistent-torture-dir").unwrap_err();
        assert_eq!(no_dir.kind(), io::ErrorKind::NotFound);
        // Fails at `execve`, after the filter is installed: reported and reaped.
        let no_program = spawn_null("/nonexistent-torture-program", "/").unwrap_err();
        assert_eq!(no_program.kind(), io::ErrorKind::NotFound);
        assert!(
            no_child_left(),
            "a failed spawn left a child (stopped or zombie)"
        );
    }

    /// True when this thread has no child at all, reaped or not.
    fn no_child_left() -> bool {
        let mut status: libc::c_int = 0;
        let flags = libc::WNOHANG | libc::__WALL | libc::__WNOTHREAD;
        // SAFETY: `status` is a valid, writable c_int for the duration of the call.
        let rc = unsafe { libc::waitpid(-1, &mut status, flags) };
        rc < 0 && Errno::last() == Errno::ECHILD
    }
}
