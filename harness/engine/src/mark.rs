//! Containment without a cgroup (no root or no cgroup v2 hierarchy, or
//! [`crate::cgroup::NO_CGROUP_VAR`] set): every untraced run carries a mark in its environment,
//! `TORTURE_RUN_MARK=<unique value>`, which everything it starts inherits, `setsid` or
//! double-forked. When the run ends its process group is killed (as before), and then every
//! process that still carries the mark, found by its `/proc/<pid>/environ`, whoever its parent
//! is now. A process started with a whole new environment (`env -i`) loses the mark; only a
//! cgroup holds that one.

use std::ffi::OsString;
use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

/// The environment variable that marks an untraced run's processes.
pub const MARK_VAR: &str = "TORTURE_RUN_MARK";

/// Passes over `/proc` a sweep makes at most: a marked process that forks while it is killed
/// leaves a child the next pass finds.
const MAX_PASSES: usize = 50;

/// The mark of one untraced run.
#[derive(Debug)]
pub struct RunMark {
    value: String,
}

impl Default for RunMark {
    fn default() -> Self {
        RunMark::new()
    }
}

impl RunMark {
    /// A mark no other run of any torture process carries (this process's pid and a counter).
    pub fn new() -> RunMark {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        RunMark {
            value: format!("{}-{n}", std::process::id()),
        }
    }

    /// The variable to add to the run's environment.
    pub fn env(&self) -> (OsString, OsString) {
        (MARK_VAR.into(), self.value.clone().into())
    }

    /// SIGKILLs every live process that carries the mark, pass after pass until a pass finds
    /// none; how many kills were sent.
    pub fn sweep(&self) -> usize {
        let entry = format!("{MARK_VAR}={}", self.value);
        let mut killed = 0;
        for _ in 0..MAX_PASSES {
            let found = kill_marked(entry.as_bytes());
            if found == 0 {
                break;
            }
            killed += found;
        }
        killed
    }
}

/// One pass over `/proc`: kills every other process whose environment holds `entry`.
fn kill_marked(entry: &[u8]) -> usize {
    let Ok(processes) = fs::read_dir("/proc") else {
        return 0;
    };
    let own = std::process::id();
    processes
        .flatten()
        .filter_map(|process| process.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| kill_if_marked(*pid, entry))
        .count()
}

/// Kills `pid` when its environment holds `entry`. A marked process is opened (a pidfd) and
/// its environment read again before the signal, so a pid reused in between is never the one
/// signalled. A dead process (a zombie) has an empty environment: it is not counted.
fn kill_if_marked(pid: u32, entry: &[u8]) -> bool {
    let marked =
        || fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| holds(&environ, entry));
    // Most processes are not marked: one read each, no pidfd.
    if !marked() {
        return false;
    }
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let Ok(pidfd) = pidfd_open(pid, PidfdFlags::empty()) else {
        return false;
    };
    marked() && pidfd_send_signal(&pidfd, Signal::KILL).is_ok()
}

/// Whether a NUL-separated environment block holds `entry` as one whole variable.
fn holds(environ: &[u8], entry: &[u8]) -> bool {
    environ
        .split(|byte| *byte == 0)
        .any(|variable| variable == entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_matches_whole_variables_only() {
        let block = b"A=1\0TORTURE_RUN_MARK=7-1\0B=2\0";
        assert!(holds(block, b"TORTURE_RUN_MARK=7-1"));
        assert!(!holds(block, b"TORTURE_RUN_MARK=7-10"));
        assert!(!holds(block, b"TORTURE_RUN_MARK=7"));
        assert!(!holds(b"", b"TORTURE_RUN_MARK=7-1"));
        assert_ne!(RunMark::new().value, RunMark::new().value);
    }

    #[test]
    fn a_sweep_ends_a_detached_marked_process() {
        let mark = RunMark::new();
        let (name, value) = mark.env();
        // `setsid` puts the sleep in a session of its own; the shell exits at once.
        let status = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 307.5 </dev/null >/dev/null 2>&1 &"])
            .env(name, value)
            .status()
            .expect("start sh");
        assert!(status.success());
        let marked = || {
            let entry = format!("{MARK_VAR}={}", mark.value);
            fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .any(|p| {
                    holds(
                        &fs::read(p.path().join("environ")).unwrap_or_default(),
                        entry.as_bytes(),
                    )
                })
        };
        let began = std::time::Instant::now();
        while !marked() && began.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(marked(), "the detached sleep carries the mark");
        assert!(mark.sweep() >= 1);
        assert!(!marked(), "nothing marked is left");
    }
}
