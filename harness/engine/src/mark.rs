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
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

/// The environment variable that marks an untraced run's processes.
pub const MARK_VAR: &str = "TORTURE_RUN_MARK";

/// Passes over `/proc` a sweep makes at most: a marked process that forks while it is killed
/// leaves a child the next pass finds.
const MAX_PASSES: usize = 50;

/// How long one pass reads empty environments of live user processes again before they count
/// as empty (see [`environ`]): an exec lasts far less, and a process whose environment is
/// really empty (`env -i`) costs a pass no more than this.
const REREAD_BUDGET: Duration = Duration::from_millis(20);

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
    let reread_until = Instant::now() + REREAD_BUDGET;
    processes
        .flatten()
        .filter_map(|process| process.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| kill_if_marked(*pid, entry, reread_until))
        .count()
}

/// Kills `pid` when its environment holds `entry`. A marked process is opened (a pidfd) and
/// its environment read again before the signal, so a pid reused in between is never the one
/// signalled. A dead process (a zombie) has an empty environment: it is not counted.
fn kill_if_marked(pid: u32, entry: &[u8], reread_until: Instant) -> bool {
    let marked = || environ(pid, reread_until).is_some_and(|environ| holds(&environ, entry));
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

/// A process's environment block. A process that is changing programs reads as empty: opened
/// just before its exec and read just after (the open took the memory the exec replaced), or
/// read in the exec's last steps, before the new program's environment is in place. A sweep pass
/// must not miss a marked process that is only exec'ing, so an empty block of a live user
/// process is read again, through fresh opens a millisecond apart, until `reread_until`.
fn environ(pid: u32, reread_until: Instant) -> Option<Vec<u8>> {
    let path = format!("/proc/{pid}/environ");
    let mut environ = fs::read(&path).ok()?;
    if environ.is_empty() && may_be_execing(pid) {
        while environ.is_empty() && Instant::now() < reread_until {
            std::thread::sleep(Duration::from_millis(1));
            environ = fs::read(&path).ok()?;
        }
    }
    Some(environ)
}

/// Whether an empty environment may be an exec under way: not a zombie, not a kernel thread
/// (`PF_KTHREAD` in `/proc/<pid>/stat`'s flags), whose environments are always empty.
fn may_be_execing(pid: u32) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The fields after the command name, which may hold spaces and parentheses.
    let Some((_, after)) = stat.rsplit_once(") ") else {
        return false;
    };
    let fields: Vec<&str> = after.split(' ').collect();
    let state = fields.first().copied().unwrap_or("Z");
    let flags: u64 = fields
        .get(6)
        .and_then(|f| f.parse().ok())
        .unwrap_or(PF_KTHREAD);
    state != "Z" && state != "X" && flags & PF_KTHREAD == 0
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

    /// The pids of the processes whose command line is `cmdline` (NUL-separated).
    fn running(cmdline: &[u8]) -> Vec<u32> {
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|p| p.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default() == cmdline)
            .collect()
    }

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
        // The sleep itself, once `sh` and `setsid` have exec'ed into it: a sweep must find a
        // marked process between those execs too, but this test asks for the sleep.
        let marked = || {
            let entry = format!("{MARK_VAR}={}", mark.value);
            running(b"sleep\x00307.5\x00").into_iter().any(|pid| {
                environ(pid, Instant::now()).is_some_and(|e| holds(&e, entry.as_bytes()))
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

    #[test]
    fn a_sweep_finds_a_marked_process_while_it_execs() {
        // Swept at once, the shell's child is still exec'ing `setsid`, then `sleep`: a pass that
        // read its environment as empty then would leave the sleep running.
        for round in 0..20 {
            let mark = RunMark::new();
            let (name, value) = mark.env();
            let duration = format!("307.{round}{}", std::process::id());
            let script = format!("setsid sleep {duration} </dev/null >/dev/null 2>&1 &");
            let status = std::process::Command::new("sh")
                .args(["-c", &script])
                .env(name, value)
                .status()
                .expect("start sh");
            assert!(status.success());
            mark.sweep();
            std::thread::sleep(std::time::Duration::from_millis(100));
            let left = running(format!("sleep\0{duration}\0").as_bytes());
            assert!(left.is_empty(), "round {round}: the sweep missed the sleep");
        }
    }
}
