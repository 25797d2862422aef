//! One cgroup (v2) per untraced run: the child joins it before `exec`, so whatever it starts,
//! `setsid` or double-forked, stays in it; when the run ends, `cgroup.kill` ends them all and
//! the cgroup is removed. A process group cannot do this: `setsid` leaves it.
//!
//! Traced runs need no cgroup: ptrace follows every fork, and the tracer ends every tracee
//! (`tracer/engine.rs`). Where no cgroup v2 hierarchy is writable (not root, no `cgroup2`
//! mount) [`RunCgroup::create`] says so with `None`, and untraced runs fall back to their
//! process group plus a mark in their environment ([`crate::mark`]).

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set (to anything) in torture's environment, untraced runs use no cgroup but the fallback a
/// user without root gets ([`crate::mark::RunMark`]).
pub const NO_CGROUP_VAR: &str = "TORTURE_NO_CGROUP";

/// How long a dying cgroup may take to empty before it is left behind.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// The cgroup of one run.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
    procs: File,
}

impl RunCgroup {
    /// A new, empty cgroup below this process's own; `None` where cgroup v2 cannot be used, or
    /// when [`NO_CGROUP_VAR`] is set (the tests run the fallback that way, even as root).
    pub fn create() -> Option<RunCgroup> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        if std::env::var_os(NO_CGROUP_VAR).is_some() {
            return None;
        }
        let base = base()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("torture-{}-{n}", std::process::id()));
        fs::create_dir(&dir).ok()?;
        match File::options().write(true).open(dir.join("cgroup.procs")) {
            Ok(procs) => Some(RunCgroup { dir, procs }),
            Err(_) => {
                let _ = fs::remove_dir(&dir);
                None
            }
        }
    }

    /// The `cgroup.procs` file a child writes "0" to, to join.
    pub fn procs(&self) -> BorrowedFd<'_> {
        self.procs.as_fd()
    }

    /// How many processes are in the cgroup now.
    pub fn count(&self) -> usize {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    /// SIGKILLs every process in the cgroup.
    pub fn kill_all(&self) -> io::Result<()> {
        File::options()
            .write(true)
            .open(self.dir.join("cgroup.kill"))?
            .write_all(b"1")
    }

    fn populated(&self) -> bool {
        fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|events| events.lines().any(|line| line == "populated 1"))
            .unwrap_or(false)
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        let _ = self.kill_all();
        let deadline = Instant::now() + EMPTY_WAIT;
        while self.populated() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// This process's cgroup in the v2 hierarchy, if one is mounted and a child can be made there.
fn base() -> Option<&'static Path> {
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(find_base).as_deref()
}

fn find_base() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts = torture_core::mountinfo::parse(&mounts).ok()?;
    let mount = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    let base = mount.mount_point.join(path.trim_start_matches('/'));
    let probe = base.join(format!("torture-probe-{}", std::process::id()));
    fs::create_dir(&probe).ok()?;
    let kill = probe.join("cgroup.kill").exists();
    let _ = fs::remove_dir(&probe);
    kill.then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_holds_what_a_child_starts_and_is_removed() {
        let Some(group) = RunCgroup::create() else {
            testkit::skip("no writable cgroup v2 hierarchy (needs root and a cgroup2 mount)");
            return;
        };
        let dir = group.dir.clone();
        assert!(dir.is_dir());
        assert_eq!(group.count(), 0);
        drop(group);
        assert!(!dir.exists(), "removed on drop");
    }
}
