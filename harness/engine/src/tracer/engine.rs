//! The stop loop shared by every run: follows every tracee, hands syscall stops to a [`Mode`],
//! holds a tracee when the mode asks, and kills and reaps the whole tree.
//!
//! Several sessions may live in one thread (a scheduler racing writers holds one while another
//! runs); [`super::mailbox`] routes each `waitpid` report to the session it belongs to.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use nix::errno::Errno;
use nix::unistd::Pid;

use super::mailbox;
use super::resolve::Resolver;
use super::syscalls::Sys;
use super::watchdog::{Fired, Registration};
use super::{Outcome, TraceError};
use crate::sys::{self, Regs, Resume, Wait};
use torture_core::trace::ExitStatus;

/// A syscall at its seccomp (entry) stop.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub sys: Sys,
    /// rdi, rsi, rdx, r10, r8, r9.
    pub args: [u64; 6],
    pub regs: Regs,
}

impl Call {
    fn decode(regs: Regs) -> Option<Call> {
        let sys = Sys::from_nr(regs.orig_rax as i64)?;
        let args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
        Some(Call { sys, args, regs })
    }

    /// Argument `i` as an fd. An `int` argument fills only the low half of its register (the
    /// upper half is not defined), so `AT_FDCWD` may arrive as 0x00000000ffffff9c.
    pub fn fd_arg(&self, i: usize) -> i64 {
        i64::from(self.args[i] as u32 as i32)
    }
}

/// What to do with a stopped tracee.
#[derive(Debug)]
pub enum Step<P> {
    /// Let the syscall run; stop only at the next traced syscall.
    Continue,
    /// Let it run and stop at its exit, remembering `P`.
    ToExit(P),
    /// Kill the whole tree now.
    Kill,
    /// Leave the tracee stopped here and return to the caller; on release, apply the step again
    /// without the hold (`Some(p)`: to its exit with `p`; `None`: continue).
    Hold(Option<P>),
}

/// The policy of a run: what happens at syscall entry and exit, and what its end means.
pub trait Mode {
    /// State carried from a syscall's entry to its exit.
    type Pending;
    /// The outcome once the mode's `Step::Kill` has been carried out.
    fn killed(&mut self) -> Outcome;
    /// The outcome when every tracee ended on its own, the main process with `exit`.
    fn ended(&mut self, exit: ExitStatus) -> Outcome;
    fn on_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
    ) -> Result<Step<Self::Pending>, TraceError>;
    /// `ret` is the syscall's return value (`-errno` on failure); `regs` may be changed and set.
    fn on_exit(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        pending: Self::Pending,
        ret: i64,
        regs: Regs,
    ) -> Result<Step<Self::Pending>, TraceError>;
}

/// What a mode may look at.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub resolver: &'a Resolver,
}

/// Where [`Session::drive`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drive {
    /// The run is over: every tracee is dead and reaped.
    Done(Outcome),
    /// The mode held this tracee at a stop; it stays stopped until the next `drive`.
    Held(Pid),
}

/// The live tracees of one run. Dropping it kills and reaps whatever is left, so no error path
/// leaves a stopped tracee or a zombie behind.
#[derive(Debug)]
pub struct Session {
    id: u64,
    main: Pid,
    live: HashSet<Pid>,
    /// Tracees whose first stop (the SIGSTOP of a new child) has been seen.
    started: HashSet<Pid>,
    births: Births,
    main_end: Option<ExitStatus>,
    /// Processes still running when the main process began to exit, with their command lines;
    /// ended with it.
    orphans: HashMap<Pid, String>,
    /// Those of `orphans` that were ended still running (not exiting on their own).
    left_running: Vec<String>,
    registration: Registration,
    /// The tracee a mode held, and the step to apply when it is released.
    held: Option<(Pid, Resume)>,
    began: Instant,
    pub resolver: Resolver,
}

impl Session {
    /// A session for `main`, already stopped after its exec and with options set.
    pub fn new(
        main: Pid,
        registration: Registration,
        began: Instant,
        resolver: Resolver,
    ) -> Session {
        let mut started = HashSet::new();
        started.insert(main);
        let id = mailbox::open(main);
        Session {
            id,
            main,
            live: HashSet::from([main]),
            started,
            births: Births::of(main),
            main_end: None,
            orphans: HashMap::new(),
            left_running: Vec::new(),
            registration,
            began,
            held: None,
            resolver,
        }
    }

    /// Forgets `pid` if `waitpid` already reaped it (a writer that ended before its exec).
    pub fn abandon_if_reaped(&mut self, pid: Pid) {
        let gone = nix::sys::signal::kill(pid, None) == Err(Errno::ESRCH);
        if gone {
            self.forget(pid);
        }
    }

    /// Milliseconds since the writer was spawned.
    pub fn elapsed_ms(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }

    /// How the main process (the writer as spawned) ended, once it has.
    pub fn main_end(&self) -> Option<ExitStatus> {
        self.main_end
    }

    /// The processes the writer left running when it exited (`pid N: command line`); the
    /// session ended them with it.
    pub fn left_running(&self) -> &[String] {
        &self.left_running
    }

    /// Runs the stop loop until every tracee is gone, `mode` asks for the kill, or `mode` holds
    /// a tracee. A tracee held by the previous call is released first. `pending` carries the
    /// mode's state from entry to exit stops across calls.
    pub fn drive<M: Mode>(
        &mut self,
        mode: &mut M,
        pending: &mut HashMap<Pid, M::Pending>,
    ) -> Result<Drive, TraceError> {
        if let Some((pid, how)) = self.held.take() {
            self.registration.watch().rearm();
            self.resume(pid, how, 0)?;
        }
        while !self.live.is_empty() {
            if self.registration.watch().cancel_requested() {
                self.registration.watch().cancel_now();
            }
            let report = match self.next_report() {
                Ok(report) => report,
                Err(Errno::ECHILD) => break,
                Err(errno) => return Err(self.ptrace_error(self.main, "waitpid", errno)),
            };
            match self.handle(report, mode, pending)? {
                Handled::Running => {}
                Handled::Kill => {
                    self.kill_at(report.pid())?;
                    return Ok(Drive::Done(mode.killed()));
                }
                Handled::Held(pid) => {
                    self.registration.watch().pause();
                    return Ok(Drive::Held(pid));
                }
            }
        }
        self.finish(mode).map(Drive::Done)
    }

    /// The next report about one of this session's tracees; reports about another session's
    /// tracees are parked for it. `ECHILD` once none of its tracees is left to report.
    fn next_report(&mut self) -> Result<Wait, Errno> {
        loop {
            if let Some(report) = mailbox::take_parked(self.id) {
                return Ok(report);
            }
            self.registration.watch().set_waiting(true);
            let report = sys::wait_any();
            self.registration.watch().set_waiting(false);
            match report {
                Ok(report) => {
                    if let Some(report) = mailbox::route(self.id, report) {
                        return Ok(report);
                    }
                }
                // The watchdog fired and woke us: look again at what we wait for.
                Err(Errno::EINTR) => {
                    if self.forget_unwaitable() {
                        return Err(Errno::ECHILD);
                    }
                }
                Err(errno) => return Err(errno),
            }
        }
    }

    /// Forgets the tracees `waitpid` can no longer report on (their end was taken by another
    /// path, a bug the session must survive); whether none is left. Another session's held
    /// tracee keeps `waitpid` blocked, so only this look ends such a wait.
    fn forget_unwaitable(&mut self) -> bool {
        let gone: Vec<Pid> = self
            .live
            .iter()
            .copied()
            .filter(|pid| !sys::is_waitable(*pid))
            .collect();
        for pid in gone {
            self.forget(pid);
        }
        self.live.is_empty()
    }

    /// Handles one report.
    fn handle<M: Mode>(
        &mut self,
        report: Wait,
        mode: &mut M,
        pending: &mut HashMap<Pid, M::Pending>,
    ) -> Result<Handled, TraceError> {
        match report {
            Wait::Exited { pid, code } => self.reaped(pid, ExitStatus::Code(code)),
            Wait::Signaled { pid, signal } => self.reaped(pid, ExitStatus::Signal(signal)),
            Wait::Seccomp { pid } => {
                let Some(regs) = self.regs(pid)? else {
                    return Ok(Handled::Running);
                };
                let step = match Call::decode(regs) {
                    Some(call) => mode.on_entry(
                        &Ctx {
                            resolver: &self.resolver,
                        },
                        pid,
                        &call,
                    )?,
                    None => Step::Continue,
                };
                return self.apply(pid, step, pending);
            }
            Wait::SyscallExit { pid } => {
                let Some(regs) = self.regs(pid)? else {
                    return Ok(Handled::Running);
                };
                let step = match pending.remove(&pid) {
                    Some(p) => mode.on_exit(
                        &Ctx {
                            resolver: &self.resolver,
                        },
                        pid,
                        p,
                        regs.rax as i64,
                        regs,
                    )?,
                    None => Step::Continue,
                };
                return self.apply(pid, step, pending);
            }
            Wait::Event { pid, event } => self.on_event(pid, event, pending)?,
            Wait::Signal { pid, signal } => self.on_signal(pid, signal),
        }
        Ok(Handled::Running)
    }

    fn apply<P>(
        &mut self,
        pid: Pid,
        step: Step<P>,
        pending: &mut HashMap<Pid, P>,
    ) -> Result<Handled, TraceError> {
        match step {
            Step::Continue => self.resume(pid, Resume::Continue, 0)?,
            Step::ToExit(p) => {
                pending.insert(pid, p);
                self.resume(pid, Resume::ToSyscallExit, 0)?;
            }
            Step::Kill => return Ok(Handled::Kill),
            Step::Hold(then) => {
                let how = match then {
                    Some(p) => {
                        pending.insert(pid, p);
                        Resume::ToSyscallExit
                    }
                    None => Resume::Continue,
                };
                self.held = Some((pid, how));
                return Ok(Handled::Held(pid));
            }
        }
        Ok(Handled::Running)
    }

    /// Registers, or `None` when the tracee vanished (killed by the watchdog meanwhile).
    fn regs(&self, pid: Pid) -> Result<Option<Regs>, TraceError> {
        match sys::get_regs(pid) {
            Ok(regs) => Ok(Some(regs)),
            Err(Errno::ESRCH) => Ok(None),
            Err(errno) => Err(self.ptrace_error(pid, "PTRACE_GETREGS", errno)),
        }
    }

    /// Resumes; a tracee killed meanwhile (ESRCH) reports its death next.
    fn resume(&self, pid: Pid, how: Resume, signal: i32) -> Result<(), TraceError> {
        match sys::resume(pid, how, signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(self.ptrace_error(pid, "PTRACE_CONT", errno)),
        }
    }

    fn on_event<P>(
        &mut self,
        pid: Pid,
        event: i32,
        pending: &mut HashMap<Pid, P>,
    ) -> Result<(), TraceError> {
        self.adopt(pid);
        if is_spawn(event) {
            if let Ok(child) = sys::event_msg(pid) {
                let child = Pid::from_raw(child as i32);
                if self.births.announce(child) {
                    self.adopt(child);
                }
            }
        } else if event == libc::PTRACE_EVENT_EXIT && pid == self.main {
            self.end_orphans();
        } else if event == libc::PTRACE_EVENT_EXEC {
            // A non-leader thread that execs takes the leader's pid; its old tid never reports.
            if let Ok(former) = sys::event_msg(pid) {
                let former = Pid::from_raw(former as i32);
                if former != pid {
                    self.forget(former);
                    pending.remove(&former);
                }
            }
            pending.remove(&pid);
        }
        self.resume(pid, Resume::Continue, 0)
    }

    fn on_signal(&mut self, pid: Pid, signal: i32) {
        self.adopt(pid);
        // A new tracee starts with a SIGSTOP of the kernel's making: swallow that one.
        let first = self.started.insert(pid);
        let deliver = if first && signal == libc::SIGSTOP {
            0
        } else {
            signal
        };
        let _ = self.resume(pid, Resume::Continue, deliver);
    }

    /// Starts tracking a tracee (new children may report before their parent's fork event).
    fn adopt(&mut self, pid: Pid) {
        if self.live.insert(pid) {
            self.registration.watch().add(pid);
            mailbox::own(self.id, pid);
        }
    }

    fn forget(&mut self, pid: Pid) {
        self.live.remove(&pid);
        self.started.remove(&pid);
        self.births.forget(pid);
        self.registration.watch().remove(pid);
        mailbox::disown(self.id, pid);
    }

    fn reaped(&mut self, pid: Pid, end: ExitStatus) {
        self.births.reaped(pid);
        if pid == self.main {
            self.main_end = Some(end);
        }
        if let Some(command) = self.orphans.remove(&pid) {
            // One that was already exiting ends with its own status, not our SIGKILL.
            if end == ExitStatus::Signal(libc::SIGKILL) {
                self.left_running.push(format!("pid {pid}: {command}"));
            }
        }
        self.forget(pid);
    }

    /// At the main process's exit stop: every other process of the tree (not a thread of the
    /// main one) is still running, however it detached (`setsid`, double fork: ptrace follows
    /// them all). End them now and remember them for the report: a run is over when the writer
    /// is, not when its background children are.
    fn end_orphans(&mut self) {
        let main = self.main;
        for pid in self.live.iter().copied().filter(|p| *p != main) {
            let thread = std::path::Path::new(&format!("/proc/{main}/task/{pid}")).exists();
            if !thread {
                self.orphans.insert(pid, command_line(pid));
                self.registration.watch().kill(pid);
            }
        }
    }

    /// SIGKILLs the tree of a held run (`torture race --kill`) and reaps it.
    pub fn kill_held(&mut self) -> Result<(), TraceError> {
        match self.held.take() {
            Some((pid, _)) => self.kill_at(pid),
            None => Err(unexpected(
                self.main,
                "was to be killed while held but was not held",
            )),
        }
    }

    /// SIGKILLs the tree, reaps it, and checks that `at` (stopped at the kill point) and the
    /// main process died by SIGKILL.
    fn kill_at(&mut self, at: Pid) -> Result<(), TraceError> {
        let main_alive = self.live.contains(&self.main);
        let ends = self.kill_and_reap();
        let mut must_die = vec![at];
        if main_alive {
            must_die.push(self.main);
        }
        for pid in must_die {
            match ends.get(&pid) {
                Some(ExitStatus::Signal(libc::SIGKILL)) => {}
                Some(end) => {
                    return Err(unexpected(
                        pid,
                        &format!("{} instead of dying by SIGKILL", describe(*end)),
                    ));
                }
                None => return Err(unexpected(pid, "was never seen dead after SIGKILL")),
            }
        }
        Ok(())
    }

    /// SIGKILLs every tracee and waits until all are reaped; returns how each ended.
    fn kill_and_reap(&mut self) -> HashMap<Pid, ExitStatus> {
        let mut ends = HashMap::new();
        // A held run's clock is paused; the watchdog must be able to end this wait too.
        self.registration.watch().rearm();
        self.kill_live();
        while !self.live.is_empty() {
            match self.next_report() {
                Ok(Wait::Exited { pid, code }) => {
                    ends.insert(pid, ExitStatus::Code(code));
                    self.reaped(pid, ExitStatus::Code(code));
                }
                Ok(Wait::Signaled { pid, signal }) => {
                    ends.insert(pid, ExitStatus::Signal(signal));
                    self.reaped(pid, ExitStatus::Signal(signal));
                }
                Ok(report) => {
                    self.kill_newcomer(report);
                    // A tracee that stopped as it began to exit (PTRACE_EVENT_EXIT) sleeps
                    // through SIGKILL until it is resumed; any other stop dies on resume.
                    let _ = sys::resume(report.pid(), Resume::Continue, 0);
                }
                Err(_) => break,
            }
        }
        for pid in std::mem::take(&mut self.live) {
            self.forget(pid);
        }
        ends
    }

    /// A stop reported while the tree is dying: the tracee is already doomed unless it is new.
    fn kill_newcomer(&mut self, report: Wait) {
        let mut newcomers = vec![report.pid()];
        // Only a spawn's event message is a pid: an exit stop's is the exit status, which,
        // taken for a pid, would be waited for forever (and sent a SIGKILL).
        if let Wait::Event { pid, event } = report
            && is_spawn(event)
            && let Ok(child) = sys::event_msg(pid)
        {
            let child = Pid::from_raw(child as i32);
            if self.births.announce(child) {
                newcomers.push(child);
            }
        }
        for pid in newcomers {
            if !self.live.contains(&pid) {
                self.adopt(pid);
                self.registration.watch().kill(pid);
            }
        }
    }

    /// SIGKILLs every live tracee through the watchdog's pidfds (never a reused pid).
    fn kill_live(&self) {
        self.registration.watch().kill_all();
    }

    fn finish<M: Mode>(&self, mode: &mut M) -> Result<Outcome, TraceError> {
        match self.registration.watch().fired() {
            Some(Fired::TimedOut) => {
                return Ok(Outcome::TimedOut {
                    elapsed_ms: self.elapsed_ms(),
                });
            }
            Some(Fired::Cancelled) => return Ok(Outcome::Cancelled),
            None => {}
        }
        match self.main_end {
            Some(exit @ ExitStatus::Code(_)) => Ok(mode.ended(exit)),
            Some(end @ ExitStatus::Signal(_)) => Err(unexpected(self.main, &describe(end))),
            None => Err(unexpected(self.main, "vanished without an exit status")),
        }
    }

    fn ptrace_error(&self, pid: Pid, request: &'static str, errno: Errno) -> TraceError {
        TraceError::Ptrace {
            pid: pid.as_raw(),
            request,
            errno,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.live.is_empty() {
            self.kill_and_reap();
        }
        // Reports parked for this session are about tracees that are gone now.
        mailbox::close(self.id);
    }
}

/// Which tracees a parent's spawn event has named. A new child's own reports can come before
/// that event, and under load its whole life can: its first stop, its exit, its reaping. The
/// event then names a process that is gone, and adopting it would have the session wait
/// forever for a report that was already handled.
#[derive(Debug, Default)]
struct Births {
    /// Live tracees whose spawn event was seen (or that the harness spawned itself).
    announced: HashSet<Pid>,
    /// Tracees reaped before any spawn event named them.
    gone_first: HashSet<Pid>,
}

impl Births {
    /// Births of a session whose first tracee, `main`, the harness spawned.
    fn of(main: Pid) -> Births {
        Births {
            announced: HashSet::from([main]),
            gone_first: HashSet::new(),
        }
    }

    /// A spawn event names `child`: whether to adopt it (not when it already lived and died).
    fn announce(&mut self, child: Pid) -> bool {
        if self.gone_first.remove(&child) {
            return false;
        }
        self.announced.insert(child);
        true
    }

    /// `pid` was reaped.
    fn reaped(&mut self, pid: Pid) {
        if !self.announced.remove(&pid) {
            self.gone_first.insert(pid);
        }
    }

    /// `pid` is no longer a tracee of the session (reaped, or a thread that took its leader's
    /// pid by exec).
    fn forget(&mut self, pid: Pid) {
        self.announced.remove(&pid);
    }
}

/// What handling one report asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    Running,
    Kill,
    Held(Pid),
}

/// Whether a `PTRACE_EVENT_*` stop is a new process or thread, whose pid is the event message.
fn is_spawn(event: i32) -> bool {
    matches!(
        event,
        libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE
    )
}

/// A process's command line for a report (`sleep 300`), or `?` once it is gone.
fn command_line(pid: Pid) -> String {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) => {
            let words: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            words.join(" ")
        }
        Err(_) => "?".to_owned(),
    }
}

fn unexpected(pid: Pid, how: &str) -> TraceError {
    TraceError::UnexpectedEnd {
        pid: pid.as_raw(),
        how: how.to_owned(),
    }
}

fn describe(end: ExitStatus) -> String {
    match end {
        ExitStatus::Code(code) => format!("exited with status {code}"),
        ExitStatus::Signal(signal) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| s.as_str())
                .unwrap_or("a real-time signal");
            let hint = if signal == libc::SIGSYS {
                " (a 32-bit or x32 syscall, which the tracer does not decode)"
            } else if signal == libc::SIGKILL {
                " (not sent by the harness)"
            } else {
                ""
            };
            format!("was killed by {name} ({signal}){hint}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::spawn::spawn;
    use crate::tracer::syscalls::Stops;
    use crate::tracer::{RunLimits, WriterCommand};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    /// Lets every call run; the run's end is its outcome.
    struct LetRun;

    impl Mode for LetRun {
        type Pending = ();
        fn killed(&mut self) -> Outcome {
            Outcome::Cancelled
        }
        fn ended(&mut self, exit: ExitStatus) -> Outcome {
            Outcome::NotReached { exit }
        }
        fn on_entry(&mut self, _: &Ctx<'_>, _: Pid, _: &Call) -> Result<Step<()>, TraceError> {
            Ok(Step::Continue)
        }
        fn on_exit(
            &mut self,
            _: &Ctx<'_>,
            _: Pid,
            _: (),
            _: i64,
            _: Regs,
        ) -> Result<Step<()>, TraceError> {
            Ok(Step::Continue)
        }
    }

    fn session_of(script: &str, timeout_ms: u64) -> Session {
        let cmd = WriterCommand {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
        };
        let limits = RunLimits {
            timeout_ms,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let dir = std::env::temp_dir();
        spawn(&cmd, &dir, Stops::Boundaries, &limits)
            .expect("spawn sh")
            .session
    }

    #[test]
    fn a_session_whose_tracee_was_reaped_elsewhere_ends_at_its_timeout_not_never() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Another session's tracee, its clock paused as a held one's: `waitpid` blocks
            // while it lives.
            let held = session_of("sleep 30", 60_000);
            held.registration.watch().pause();
            // A process whose end this session will never see: reaped by another path.
            let mut lost = std::process::Command::new("true").spawn().expect("true");
            let lost_pid = Pid::from_raw(lost.id() as i32);
            lost.wait().expect("reap");
            let mut session = session_of("exit 0", 500);
            session.adopt(lost_pid);
            let outcome = session.drive(&mut LetRun, &mut HashMap::new());
            tx.send(format!("{outcome:?}")).expect("send");
            drop(held);
        });
        let outcome = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the session still waits for a process that is gone");
        assert!(outcome.starts_with("Ok(Done(TimedOut"), "{outcome}");
    }

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n)
    }

    #[test]
    fn a_child_that_lived_and_died_before_its_fork_event_is_not_adopted_again() {
        let mut births = Births::of(pid(100));
        // 101's first stop, its exit and its reaping all came before 100's fork event.
        births.reaped(pid(101));
        assert!(!births.announce(pid(101)));
        assert!(births.gone_first.is_empty() && !births.announced.contains(&pid(101)));
    }

    #[test]
    fn a_child_named_by_its_fork_event_first_is_adopted_and_forgotten_when_reaped() {
        let mut births = Births::of(pid(100));
        assert!(births.announce(pid(101)));
        births.reaped(pid(101));
        assert!(births.gone_first.is_empty() && !births.announced.contains(&pid(101)));
        births.reaped(pid(100));
        assert!(births.announced.is_empty() && births.gone_first.is_empty());
    }

    #[test]
    fn a_child_seen_alive_before_its_fork_event_is_adopted_once() {
        let mut births = Births::of(pid(100));
        // Its first stop came first (the session already tracks it); the event names it alive.
        assert!(births.announce(pid(101)));
        assert!(births.announced.contains(&pid(101)));
    }
}
