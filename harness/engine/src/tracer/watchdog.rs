//! One process-wide watchdog thread that SIGKILLs runs that hit their deadline or were cancelled.
//!
//! A tracer thread blocks in `waitpid`, so it cannot watch the clock itself. The watchdog kills
//! the run's process group and every pid the tracer registered; the tracer then sees the deaths
//! and reports the run as timed out or cancelled.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::sys;

/// How often the watchdog looks at deadlines and cancel flags while runs are registered.
const POLL: Duration = Duration::from_millis(10);

/// Why a run was killed by the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    TimedOut,
    Cancelled,
}

/// One watched run.
#[derive(Debug)]
pub struct Watch {
    deadline: Instant,
    cancel: Arc<AtomicBool>,
    pgid: Pid,
    /// Live tracees; the tracer removes a pid as soon as it reaps it.
    pids: Mutex<Vec<Pid>>,
    /// 0: not fired, 1: timed out, 2: cancelled.
    fired: AtomicU8,
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

    /// Adds a tracee to kill on timeout.
    pub fn add(&self, pid: Pid) {
        lock(&self.pids).push(pid);
    }

    /// Forgets a reaped tracee (its pid may be reused from now on).
    pub fn remove(&self, pid: Pid) {
        lock(&self.pids).retain(|p| *p != pid);
    }

    fn check(&self, now: Instant) {
        let why = if self.cancel.load(Ordering::Relaxed) {
            2
        } else if now >= self.deadline {
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
        }
    }

    fn kill_all(&self) {
        let _ = sys::kill_group(self.pgid);
        for pid in lock(&self.pids).iter() {
            let _ = sys::kill(*pid);
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
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let watch = Arc::new(Watch {
        deadline,
        cancel,
        pgid,
        pids: Mutex::new(vec![pgid]),
        fired: AtomicU8::new(0),
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
