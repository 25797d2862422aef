//! One process-wide watchdog thread that SIGKILLs runs that hit their deadline or were cancelled.
//!
//! A tracer thread blocks in `waitpid`, so it cannot watch the clock itself. The watchdog kills
//! the run's process group and every pid the tracer registered; the tracer then sees the deaths
//! and reports the run as timed out or cancelled.
//!
//! It signals each tracee through a pidfd opened while the tracee was the tracer's, never by
//! number alone: a pid the tracer lost track of (reaped by another path and taken by an unrelated
//! process) must never receive a SIGKILL at every poll.
//!
//! The clock is the writer's own: time its tasks and the tracer thread serving them spent
//! waiting for a CPU is added to the deadline when it passes (see [`crate::cpuwait`]), so a
//! loaded machine does not make a writer hang. And it runs only while the writer runs: a run the harness holds at a stop (a racer waiting
//! for its turn, a writer held while its disk is copied) is paused, and releasing it starts a
//! fresh timeout. Time the harness spends on other writers is not the writer's, so the timeout
//! means one thing whatever the load: the writer did not reach its next stop (or its end) within
//! it.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use rustix::io::Errno;
use rustix::process::{PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use crate::{cpuwait, sys};

/// How often the watchdog looks at deadlines and cancel flags while runs are registered.
const POLL: Duration = Duration::from_millis(10);

/// How often a tracer still waiting for a run that fired is woken to look at what it waits for.
const WAKE_EVERY: Duration = Duration::from_millis(200);

/// CPU waits shorter than this do not postpone a passed deadline (a run that hangs keeps
/// collecting a little).
const MIN_CREDIT: Duration = Duration::from_millis(1);

/// Why a run was killed by the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    TimedOut,
    Cancelled,
}

/// One watched run.
#[derive(Debug)]
pub struct Watch {
    timeout: Duration,
    /// `None` while the harness holds the run.
    deadline: Mutex<Option<Instant>>,
    /// CPU waits already added to the deadline.
    ledger: Mutex<cpuwait::Ledger>,
    /// The thread that traces the run: its waits for a CPU delay the writer too.
    tracer_tid: i32,
    cancel: Arc<AtomicBool>,
    pgid: Pid,
    /// Live tracees; the tracer removes one as soon as it reaps it.
    tracees: Mutex<Vec<Tracee>>,
    /// 0: not fired, 1: timed out, 2: cancelled.
    fired: AtomicU8,
    /// The tracer is blocked in `waitpid` for this run.
    waiting: AtomicBool,
    /// When the tracer was last woken from that wait.
    woken_at: Mutex<Option<Instant>>,
    done: AtomicBool,
}

impl Watch {
    /// Why the watchdog killed this run, if it did.
    pub fn fired(&self) -> Option<Fired> {
        match self.fired.load(Ordering::Acquire) {
            1 => Some(Fired::TimedOut),
            2 => Some(Fired::Cancelled),
            _ => None,
        }
    }

    /// Whether the caller asked to cancel (checked at stops, ahead of the next poll).
    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Marks the run cancelled (if nothing fired yet) and kills it now.
    pub fn cancel_now(&self) {
        let _ = self
            .fired
            .compare_exchange(0, 2, Ordering::AcqRel, Ordering::Acquire);
        self.kill_all();
    }

    /// Stops the clock: the harness holds the run at a stop.
    pub fn pause(&self) {
        *lock(&self.deadline) = None;
    }

    /// Starts a fresh timeout: the harness released the run.
    pub fn rearm(&self) {
        *lock(&self.deadline) = Some(Instant::now() + self.timeout);
    }

    /// Adds a tracee to kill on timeout (one already gone is left out).
    pub fn add(&self, pid: Pid) {
        if let Some(tracee) = Tracee::open(pid) {
            lock(&self.tracees).push(tracee);
        }
    }

    /// SIGKILLs one registered tracee through its handle; a pid not registered (gone before
    /// it could be) is never signalled by number.
    pub fn kill(&self, pid: Pid) {
        if let Some(tracee) = lock(&self.tracees).iter().find(|t| t.pid == pid) {
            tracee.kill();
        }
    }

    /// Forgets a reaped tracee (its pid may be reused from now on).
    pub fn remove(&self, pid: Pid) {
        lock(&self.tracees).retain(|t| t.pid != pid);
    }

    fn check(&self, now: Instant) {
        let why = if self.cancel.load(Ordering::Relaxed) {
            2
        } else if self.past_deadline(now) {
            1
        } else {
            0
        };
        if why != 0 {
            let _ = self
                .fired
                .compare_exchange(0, why, Ordering::AcqRel, Ordering::Acquire);
        }
        if self.fired.load(Ordering::Acquire) != 0 {
            // Again at every poll: a tracee forked meanwhile is killed too.
            self.kill_all();
            self.wake_tracer(now);
        }
    }

    /// The tracer says whether it is blocked in `waitpid` for this run.
    pub fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Release);
    }

    /// Wakes a tracer that still waits for this run after it fired, now and then, so that it
    /// looks again at what it waits for: a tracee whose end another path took would otherwise
    /// hold it in `waitpid` for good, and a timeout would never end the run.
    fn wake_tracer(&self, now: Instant) {
        if !self.waiting.load(Ordering::Acquire) {
            return;
        }
        let mut woken_at = lock(&self.woken_at);
        if woken_at.is_some_and(|at| now < at + WAKE_EVERY) {
            return;
        }
        *woken_at = Some(now);
        let _ = sys::wake(self.tracer_tid);
    }

    /// Whether the deadline passed, once the CPU waits since the last look are added to it.
    fn past_deadline(&self, now: Instant) -> bool {
        let mut deadline = lock(&self.deadline);
        let Some(due) = *deadline else {
            return false;
        };
        if now < due {
            return false;
        }
        let tids: Vec<i32> = lock(&self.tracees).iter().map(|t| t.pid.as_raw()).collect();
        let tids = tids.into_iter().chain([self.tracer_tid]);
        let waited = Duration::from_nanos(lock(&self.ledger).more_ns(tids));
        *deadline = Some(due + waited);
        waited < MIN_CREDIT
    }

    /// SIGKILLs the run's process group while its leader is registered, and every tracee.
    pub fn kill_all(&self) {
        let tracees = lock(&self.tracees);
        // The group's id is its leader's pid, which no other process can take while the leader
        // is registered (not yet reaped).
        if tracees.iter().any(|t| t.pid == self.pgid) {
            let _ = sys::kill_group(self.pgid);
        }
        for tracee in tracees.iter() {
            tracee.kill();
        }
    }
}

/// A registered tracee and how to reach it.
#[derive(Debug)]
struct Tracee {
    pid: Pid,
    handle: Handle,
}

/// How the watchdog reaches a tracee.
#[derive(Debug)]
enum Handle {
    /// A process, through a pidfd opened while it was a tracee.
    Pidfd(OwnedFd),
    /// A thread other than its group's leader: it dies with its process, reached through the
    /// leader's pidfd.
    Thread,
    /// No descriptor was left to open (`RLIMIT_NOFILE`): reached by its number.
    Number,
}

impl Tracee {
    /// `None` when `pid` is already gone.
    fn open(pid: Pid) -> Option<Tracee> {
        let raw = rustix::process::Pid::from_raw(pid.as_raw())?;
        let handle = match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => Handle::Pidfd(fd),
            // Not a thread group's leader: EINVAL before Linux 6.9, ENOENT since (PIDFD_THREAD).
            Err(Errno::INVAL | Errno::NOENT) => Handle::Thread,
            Err(Errno::SRCH) => return None,
            Err(_) => Handle::Number,
        };
        Some(Tracee { pid, handle })
    }

    /// Sends SIGKILL; whether a process received it.
    fn kill(&self) -> bool {
        match &self.handle {
            Handle::Pidfd(fd) => pidfd_send_signal(fd, Signal::KILL).is_ok(),
            Handle::Thread => false,
            Handle::Number => sys::kill(self.pid).is_ok(),
        }
    }
}

/// Deregisters its run when dropped.
#[derive(Debug)]
pub struct Registration {
    watch: Arc<Watch>,
}

impl Registration {
    /// The shared state of the run.
    pub fn watch(&self) -> &Watch {
        &self.watch
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.watch.done.store(true, Ordering::Release);
    }
}

/// Starts watching a run whose process group is `pgid` (its first tracee). Fails only when the
/// watchdog thread cannot be started.
pub fn register(
    pgid: Pid,
    timeout_ms: u64,
    cancel: Arc<AtomicBool>,
) -> std::io::Result<Registration> {
    let timeout = Duration::from_millis(timeout_ms);
    let tracer_tid = cpuwait::current_tid();
    let mut ledger = cpuwait::Ledger::default();
    ledger.track(tracer_tid);
    let watch = Arc::new(Watch {
        timeout,
        deadline: Mutex::new(Some(Instant::now() + timeout)),
        ledger: Mutex::new(ledger),
        tracer_tid,
        cancel,
        pgid,
        tracees: Mutex::new(Tracee::open(pgid).into_iter().collect()),
        fired: AtomicU8::new(0),
        waiting: AtomicBool::new(false),
        woken_at: Mutex::new(None),
        done: AtomicBool::new(false),
    });
    let shared = watchdog()?;
    let mut runs = lock(&shared.runs);
    // With runs registered the watchdog polls every POLL, far finer than any timeout, so only an
    // idle (untimed) wait needs a wakeup: a notify per run costs a context switch per trial.
    let idle = runs.is_empty();
    runs.push(Arc::clone(&watch));
    drop(runs);
    if idle {
        shared.wake.notify_one();
    }
    Ok(Registration { watch })
}

#[derive(Debug, Default)]
struct Shared {
    runs: Mutex<Vec<Arc<Watch>>>,
    wake: Condvar,
}

fn watchdog() -> std::io::Result<&'static Shared> {
    static SHARED: Mutex<Option<&'static Shared>> = Mutex::new(None);
    let mut slot = lock(&SHARED);
    if let Some(shared) = *slot {
        return Ok(shared);
    }
    sys::install_wake().map_err(std::io::Error::from)?;
    let shared: &'static Shared = Box::leak(Box::default());
    std::thread::Builder::new()
        .name("torture-watchdog".into())
        .spawn(move || watch_forever(shared))?;
    *slot = Some(shared);
    Ok(shared)
}

fn watch_forever(shared: &'static Shared) {
    let mut runs = lock(&shared.runs);
    loop {
        runs.retain(|watch| !watch.done.load(Ordering::Acquire));
        if runs.is_empty() {
            runs = shared
                .wake
                .wait(runs)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            continue;
        }
        let now = Instant::now();
        for watch in runs.iter() {
            watch.check(now);
        }
        runs = shared
            .wake
            .wait_timeout(runs, POLL)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep")
    }

    fn pid_of(child: &std::process::Child) -> Pid {
        Pid::from_raw(child.id() as i32)
    }

    #[test]
    fn a_live_process_is_killed_through_its_pidfd() {
        let mut child = sleeper();
        let tracee = Tracee::open(pid_of(&child)).expect("alive");
        assert!(matches!(tracee.handle, Handle::Pidfd(_)), "{tracee:?}");
        assert!(tracee.kill());
        let status = child.wait().expect("reap");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn a_process_reaped_behind_the_watchs_back_is_never_signalled_again() {
        let mut child = sleeper();
        let tracee = Tracee::open(pid_of(&child)).expect("alive");
        child.kill().expect("kill");
        child.wait().expect("reap");
        // Its number is free for any new process now; the pidfd still names the dead one.
        assert!(!tracee.kill());
        assert!(Tracee::open(pid_of(&child)).is_none());
    }

    #[test]
    fn a_thread_is_left_to_its_process() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid()).expect("send");
            done_rx.recv().ok();
        });
        let tracee = Tracee::open(rx.recv().expect("tid")).expect("alive");
        assert!(matches!(tracee.handle, Handle::Thread), "{tracee:?}");
        assert!(!tracee.kill());
        done_tx.send(()).expect("release");
        thread.join().expect("join");
    }
}
