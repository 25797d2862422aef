//! Time a task spent runnable but waiting for a CPU (`/proc/<tid>/schedstat`, second field):
//! what a loaded machine adds to a run and the writer cannot help.
//!
//! Per-run timeouts catch writers that hang. On a busy machine a writer that does not hang
//! still takes longer in wall time, because it waits for a CPU; a timeout in wall time then
//! turns load into a verdict. So every per-run timeout here is extended by the time the run's
//! tasks (and the tracer thread serving them) spent on a run queue: it fires only when the
//! writer ran, slept or blocked for the whole timeout. A writer blocked on a lock or sleeping
//! still times out; a writer starved of CPU does not.

use std::collections::HashMap;

/// Nanoseconds `tid` spent runnable but not running, since it started; `None` when it is gone
/// (or the kernel keeps no such count).
pub fn waited_ns(tid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/schedstat")).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The tasks (threads included) of process group `pgid`, found through `/proc`: an untraced
/// run's writer may be a child of the command the harness started (`sh -c ...`).
pub fn group_tasks(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok());
    pids.filter(|pid| process_group(*pid) == Some(pgid))
        .flat_map(threads)
        .collect()
}

/// Field 5 of `/proc/<pid>/stat`, after the command name in parentheses.
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

fn threads(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![pid];
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// The id of the calling thread.
pub fn current_tid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// The CPU waits already credited to a run, per task.
#[derive(Debug, Default)]
pub struct Ledger {
    credited_ns: HashMap<i32, u64>,
}

impl Ledger {
    /// Starts counting `tid` from now (a task whose earlier waits are not the run's: the
    /// tracer thread). Tasks never tracked count from their own start.
    pub fn track(&mut self, tid: i32) {
        if let Some(waited) = waited_ns(tid) {
            self.credited_ns.insert(tid, waited);
        }
    }

    /// Nanoseconds of CPU wait of `tids` not credited yet; credits them.
    pub fn more_ns(&mut self, tids: impl IntoIterator<Item = i32>) -> u64 {
        let mut more = 0;
        for tid in tids {
            let Some(waited) = waited_ns(tid) else {
                continue;
            };
            let credited = self.credited_ns.entry(tid).or_insert(0);
            more += waited.saturating_sub(*credited);
            *credited = waited.max(*credited);
        }
        more
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn the_calling_thread_has_a_count_and_credits_grow_only() {
        let me = current_tid();
        assert!(waited_ns(me).is_some(), "/proc/<tid>/schedstat is readable");
        let mut ledger = Ledger::default();
        ledger.track(me);
        let first = ledger.more_ns([me]);
        // Nothing is credited twice: a second call right away adds at most the new waits.
        let second = ledger.more_ns([me]);
        assert!(first < 1_000_000_000 && second < 1_000_000_000);
        assert_eq!(ledger.more_ns([i32::MAX]), 0, "a task that does not exist");
    }

    #[test]
    fn a_process_group_lists_its_tasks() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        assert_eq!(group_tasks(pid), [pid]);
        child.kill().expect("kill");
        child.wait().expect("reap");
    }
}
