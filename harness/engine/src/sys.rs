//! The harness's only door to raw system calls: ptrace requests, the seccomp filter, tracee memory,
//! `waitpid` and signals.
//!
//! Everything here is a thin, safe wrapper. The tracer (`tracer/`) holds all the policy; this module
//! only makes the calls and maps errors. Where `nix` has the call it is used; `libc` is used where
//! `nix` would lose information (real-time signal numbers in `waitpid` statuses and in `PTRACE_CONT`).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};
use nix::unistd::Pid;

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// x32 system calls run with the x86_64 audit arch but carry this bit in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets into `struct seccomp_data` (nr: i32, arch: u32, ip: u64, args: [u64; 6]).
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
const fn seccomp_data_arg_low(index: u32) -> u32 {
    16 + 8 * index
}

/// Registers of a stopped tracee (x86_64).
pub type Regs = libc::user_regs_struct;

/// A classic-BPF seccomp program: built in the parent (it allocates), installed in the child
/// between `fork` and `exec` (which must not allocate).
#[derive(Debug, Clone)]
pub struct SeccompFilter {
    program: Box<[libc::sock_filter]>,
}

/// An `mmap` only needs a stop when it can write to a file: `PROT_WRITE` and `MAP_SHARED`
/// (`MAP_SHARED_VALIDATE` has the same low bit). Other maps (every `malloc` arena, every shared
/// library) pass without a stop.
const PROT_WRITE_BIT: u32 = libc::PROT_WRITE as u32;
const MAP_SHARED_BIT: u32 = libc::MAP_SHARED as u32;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

impl SeccompFilter {
    /// A filter returning `SECCOMP_RET_TRACE` for each syscall number in `traced` and
    /// `SECCOMP_RET_ALLOW` for everything else. When `mmap_nr` is given, `mmap` is traced only
    /// when it maps a file shared and writable. A syscall of a foreign ABI (i386 `int 0x80`,
    /// x32) kills the writer with SIGSYS: the tracer decodes x86_64 only, and a silent pass
    /// would hide writes from it.
    pub fn trace(traced: &[i64], mmap_nr: Option<i64>) -> SeccompFilter {
        use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};
        let ld = BPF_LD | BPF_W | BPF_ABS;
        let ret = BPF_RET | BPF_K;
        let mut p = vec![
            stmt(ld, SECCOMP_DATA_ARCH),
            jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(ld, SECCOMP_DATA_NR),
            jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
            stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
        ];
        // Each traced number: "if nr == N jump to the TRACE return", counted from the end.
        let mmap_block = if mmap_nr.is_some() { MMAP_BLOCK_LEN } else { 0 };
        for (i, &nr) in traced.iter().enumerate() {
            let remaining = (traced.len() - i - 1) as u8;
            // Skip the rest of the list, the mmap block and the ALLOW return.
            let to_trace = remaining + mmap_block + 1;
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, to_trace, 0));
        }
        if let Some(nr) = mmap_nr {
            // Jump offsets are filled in by `fix_mmap_jumps` once ALLOW and TRACE are placed.
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, 0, 0));
            p.push(stmt(ld, seccomp_data_arg_low(2)));
            p.push(jump(BPF_JMP | BPF_JSET | BPF_K, PROT_WRITE_BIT, 0, 0));
            p.push(stmt(ld, seccomp_data_arg_low(3)));
            p.push(jump(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED_BIT, 0, 0));
        }
        p.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
        p.push(stmt(ret, libc::SECCOMP_RET_TRACE));
        fix_mmap_jumps(&mut p, mmap_nr.is_some());
        SeccompFilter {
            program: p.into_boxed_slice(),
        }
    }

    /// Number of BPF instructions (the kernel accepts at most 4096).
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Never true for a built filter; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    fn install(&self) -> io::Result<()> {
        nix::sys::prctl::set_no_new_privs().map_err(io::Error::from)?;
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.program`, which outlives the call; the kernel copies the
        // program during the call and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Instructions in the mmap block (see `fix_mmap_jumps`).
const MMAP_BLOCK_LEN: u8 = 5;

/// The mmap block, laid out as:
///   [0] jeq mmap ? next : ->ALLOW   [1] ld prot   [2] jset PROT_WRITE ? next : ->ALLOW
///   [3] ld flags   [4] jset MAP_SHARED ? ->TRACE : ->ALLOW
/// followed by ALLOW and TRACE. Jump offsets count from the next instruction.
fn fix_mmap_jumps(p: &mut [libc::sock_filter], has_mmap: bool) {
    if !has_mmap {
        return;
    }
    let n = p.len();
    let block = n - 2 - MMAP_BLOCK_LEN as usize;
    let allow = n - 2;
    let trace = n - 1;
    let rel = |from: usize, to: usize| (to - from - 1) as u8;
    p[block].jf = rel(block, allow);
    p[block + 2].jf = rel(block + 2, allow);
    p[block + 4].jt = rel(block + 4, trace);
    p[block + 4].jf = rel(block + 4, allow);
}

/// What the child of [`spawn_traced`] needs, built before the clone: the child shares the
/// parent's memory until `exec` and must not allocate.
struct ChildPlan<'a> {
    program: &'a CStr,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: &'a CStr,
    stdio: [RawFd; 3],
    filter: &'a SeccompFilter,
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
        filter,
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
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
            return failed();
        }
        if plan.filter.install().is_err() {
            return failed();
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

/// Sets the tracer options on a freshly exec'd child: stop on seccomp `TRACE` returns, follow
/// fork/vfork/clone/exec, mark syscall stops with 0x80, and kill every tracee if the tracer dies.
pub fn set_trace_options(pid: Pid) -> Result<(), Errno> {
    use ptrace::Options as O;
    let options = O::PTRACE_O_TRACESECCOMP
        | O::PTRACE_O_TRACESYSGOOD
        | O::PTRACE_O_TRACEFORK
        | O::PTRACE_O_TRACEVFORK
        | O::PTRACE_O_TRACECLONE
        | O::PTRACE_O_TRACEEXEC
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

/// An anonymous in-memory file (memfd), for capturing a writer's stdout/stderr without a reader
/// thread and without a pipe that could fill up and block the writer.
pub fn capture_file(name: &str) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    memfd_create(name, MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Spawns `program` in `cwd` with every fd on /dev/null and `write` traced.
    fn spawn_null(program: &str, cwd: &str) -> io::Result<Pid> {
        let null = std::fs::File::open("/dev/null").unwrap();
        let filter = SeccompFilter::trace(&[libc::SYS_write], None);
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

    #[test]
    fn filter_without_mmap_ends_in_allow_then_trace() {
        let f = SeccompFilter::trace(&[1, 2, 3], None);
        let p = &f.program;
        assert_eq!(p.len(), 6 + 3 + 2);
        assert_eq!(p[p.len() - 2].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(p[p.len() - 1].k, libc::SECCOMP_RET_TRACE);
        // The first comparison jumps over the two others and the ALLOW.
        assert_eq!((p[6].k, p[6].jt), (1, 3));
        assert_eq!((p[8].k, p[8].jt), (3, 1));
    }

    #[test]
    fn filter_mmap_block_jumps_land_on_allow_or_trace() {
        let f = SeccompFilter::trace(&[1], Some(9));
        let p = &f.program;
        let n = p.len();
        let block = n - 7;
        assert_eq!(p[block].k, 9);
        let target = |i: usize, off: u8| i + 1 + off as usize;
        assert_eq!(target(block, p[block].jf), n - 2);
        assert_eq!(target(block + 2, p[block + 2].jf), n - 2);
        assert_eq!(target(block + 4, p[block + 4].jt), n - 1);
        assert_eq!(target(block + 4, p[block + 4].jf), n - 2);
        // The write comparison jumps over the mmap block to TRACE.
        assert_eq!(target(6, p[6].jt), n - 1);
    }

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
