//! Untraced runs: generation-1 and determinism runs, recovery runs, `--check`, the spawn baseline.
//!
//! Each child runs in a cgroup of its own ([`RunCgroup`]; where cgroup v2 cannot be used, in its
//! own process group and with a mark in its environment, [`RunMark`]), so when it exits, times
//! out or is cancelled, everything it started is killed, `setsid` or not. Waiting uses a pidfd (`pidfd_open` + `poll`), which wakes the moment
//! the child exits and, unlike a pid, can never name a recycled process.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, kill_process_group, pidfd_open};

use crate::cgroup::RunCgroup;
use crate::mark::RunMark;
use crate::sys::{self, Wait};
use torture_core::oracle::RunExit;

use crate::cpuwait;

/// How often a waiting worker looks at the Ctrl-C flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// A program to run, with its arguments and extra environment.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Absolute path of the program.
    pub program: PathBuf,
    /// Arguments (placeholders already replaced).
    pub args: Vec<OsString>,
    /// Environment added to the harness's own.
    pub env: Vec<(OsString, OsString)>,
}

/// Where a child's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Discard it.
    Discard,
    /// Capture stdout and stderr (into files under `log_dir`, read back after exit).
    Capture,
}

/// How an untraced run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited, was killed, or timed out.
    Exit {
        /// How.
        exit: RunExit,
        /// Captured stdout (empty unless captured).
        stdout: Vec<u8>,
        /// Captured stderr (empty unless captured).
        stderr: Vec<u8>,
    },
    /// Ctrl-C: the child's process group was killed.
    Cancelled,
}

/// Runs `invocation` in `cwd` without tracing, killing its process group after `timeout`.
/// `log_dir` (outside every sandbox) holds the capture files; `slot` keeps workers apart.
pub fn run(
    invocation: &Invocation,
    cwd: &Path,
    output: Output,
    log: (&Path, &str),
    timeout: Duration,
    cancel: &AtomicBool,
) -> io::Result<Ended> {
    let (stdout, stdout_path) = capture(output, log, "stdout")?;
    let (stderr, stderr_path) = capture(output, log, "stderr")?;
    let stdin = File::open("/dev/null")?;
    let cgroup = RunCgroup::create();
    let mark = cgroup.is_none().then(RunMark::new);
    let mut env = invocation.env.clone();
    env.extend(mark.as_ref().map(RunMark::env));
    let child = sys::spawn_untraced(
        &invocation.program,
        &invocation.args,
        &env,
        cwd,
        [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
        cgroup.as_ref().map(RunCgroup::procs),
    )?;
    drop((stdin, stdout, stderr));
    let waited = wait(child, timeout, cancel);
    // Dropping the cgroup kills what the child left running, whatever session it is in; without
    // one, the mark finds what left the process group.
    drop(cgroup);
    if let Some(mark) = mark {
        mark.sweep();
    }
    let waited = waited?;
    let read = |path: Option<PathBuf>| {
        path.map(std::fs::read)
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(match waited {
        Waited::Exit(exit) => Ended::Exit {
            exit,
            stdout: read(stdout_path)?,
            stderr: read(stderr_path)?,
        },
        Waited::Cancelled => Ended::Cancelled,
    })
}

/// Where one output stream of a run goes: /dev/null, or a file `{slot}.{stream}` in the log
/// directory (and its path, to read it back).
fn capture(
    output: Output,
    (log_dir, slot): (&Path, &str),
    stream: &str,
) -> io::Result<(File, Option<PathBuf>)> {
    match output {
        Output::Discard => Ok((File::options().write(true).open("/dev/null")?, None)),
        Output::Capture => {
            let path = log_dir.join(format!("{slot}.{stream}"));
            Ok((File::create(&path)?, Some(path)))
        }
    }
}

enum Waited {
    Exit(RunExit),
    Cancelled,
}

/// Why [`wait`] stopped waiting.
enum Stop {
    Exited,
    TimedOut,
    Cancelled,
}

/// Waits for `child` until it exits, `timeout` passes, or `cancel` is set; then kills whatever
/// is left of what it started and reaps it.
fn wait(child: nix::unistd::Pid, timeout: Duration, cancel: &AtomicBool) -> io::Result<Waited> {
    let pid = Pid::from_raw(child.as_raw()).ok_or_else(|| io::Error::other("pid 0"))?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(io::Error::from)?;
    let mut deadline = Instant::now() + timeout;
    let mut ledger = cpuwait::Ledger::default();
    let stop = loop {
        if cancel.load(Ordering::Relaxed) {
            break Stop::Cancelled;
        }
        let mut left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Load is not a hang: the time the run waited for a CPU does not count.
            let tasks = cpuwait::group_tasks(pid.as_raw_nonzero().get());
            deadline += Duration::from_nanos(ledger.more_ns(tasks));
            left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Stop::TimedOut;
            }
        }
        let slice = Timespec::try_from(left.min(CANCEL_POLL)).unwrap_or_default();
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&slice)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => break Stop::Exited,
            Err(e) => return Err(e.into()),
        }
    };
    // The leader is a zombie or still running, so its pid (= the group id) cannot be reused yet:
    // killing the group here never hits a stranger. ESRCH just means the group is gone already.
    let _ = kill_process_group(pid, Signal::KILL);
    let exit = reap(child)?;
    Ok(match stop {
        Stop::Exited => Waited::Exit(exit),
        Stop::TimedOut => Waited::Exit(RunExit::TimedOut),
        Stop::Cancelled => Waited::Cancelled,
    })
}

/// Waits until `child` has ended and is reaped; how it ended.
fn reap(child: nix::unistd::Pid) -> io::Result<RunExit> {
    loop {
        match sys::wait_for(child).map_err(io::Error::from)? {
            Wait::Exited { code, .. } => return Ok(RunExit::Code(code)),
            Wait::Signaled { signal, .. } => return Ok(RunExit::Signal(signal)),
            Wait::Seccomp { .. }
            | Wait::SyscallExit { .. }
            | Wait::Event { .. }
            | Wait::Signal { .. } => continue,
        }
    }
}

/// The last `max_lines` lines of a captured stream, lossily decoded, for error messages.
pub fn tail(bytes: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

/// Finds `program` the way a shell would: a name with a `/` is a path (relative to the
/// directory torture was started from), anything else is searched in `PATH`. Returns an
/// absolute path to an executable regular file.
pub fn resolve_program(program: &Path) -> Result<PathBuf, String> {
    if program.as_os_str().is_empty() {
        return Err("the command after `--` is empty".to_owned());
    }
    if program.to_string_lossy().contains('/') {
        let absolute = std::path::absolute(program)
            .map_err(|e| format!("cannot resolve {}: {e}", program.display()))?;
        return match is_executable(&absolute) {
            true => Ok(absolute),
            false => Err(format!(
                "command not found: {} is not an executable file; check the path (it is relative to the \
                 directory you run torture from)",
                program.display()
            )),
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| std::path::absolute(dir.join(program)).unwrap_or_else(|_| dir.join(program)))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "command not found: `{}` is not in PATH; check the spelling, install it, or give its path",
                program.display()
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Invocation {
        Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: vec![("TORTURE_TEST_VALUE".into(), "42".into())],
        }
    }

    fn run_sh(script: &str, timeout_ms: u64) -> Ended {
        let dir = tempfile::tempdir().expect("temp dir");
        let never = AtomicBool::new(false);
        run(
            &sh(script),
            dir.path(),
            Output::Capture,
            (dir.path(), "process-test"),
            Duration::from_millis(timeout_ms),
            &never,
        )
        .expect("run")
    }

    /// Whether a process runs `sleep SECONDS` (an odd number of seconds marks one test's child).
    fn sleeping(seconds: &str) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return false;
        };
        entries.filter_map(Result::ok).any(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            cmdline == [b"sleep\0".as_slice(), seconds.as_bytes(), b"\0"].concat()
        })
    }

    /// With a cgroup (root) or without one (its process group and its mark).
    #[test]
    fn a_setsid_child_ends_with_its_run() {
        let ended = run_sh("setsid sleep 302.3 & sleep 302.4 & echo started", 5_000);
        assert!(
            matches!(&ended, Ended::Exit { exit: RunExit::Code(0), stdout, .. } if stdout == b"started\n"),
            "{ended:?}"
        );
        assert!(!sleeping("302.3"), "the setsid child outlived its run");
        assert!(!sleeping("302.4"), "the background child outlived its run");
    }

    #[test]
    fn captures_output_and_exit_code() {
        let ended = run_sh(
            "echo out; echo err >&2; echo $TORTURE_TEST_VALUE; exit 3",
            5_000,
        );
        let expected = Ended::Exit {
            exit: RunExit::Code(3),
            stdout: b"out\n42\n".to_vec(),
            stderr: b"err\n".to_vec(),
        };
        assert_eq!(ended, expected);
    }

    #[test]
    fn a_hung_child_is_killed_at_the_timeout() {
        let started = Instant::now();
        let ended = run_sh("sleep 30", 200);
        assert!(
            matches!(
                ended,
                Ended::Exit {
                    exit: RunExit::TimedOut,
                    ..
                }
            ),
            "{ended:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn cancel_stops_the_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cancel = AtomicBool::new(true);
        let ended = run(
            &sh("sleep 30"),
            dir.path(),
            Output::Discard,
            (dir.path(), "x"),
            Duration::from_secs(30),
            &cancel,
        );
        assert_eq!(ended.expect("run"), Ended::Cancelled);
    }

    #[test]
    fn signals_are_reported() {
        let ended = run_sh("kill -9 $$", 5_000);
        assert!(
            matches!(
                ended,
                Ended::Exit {
                    exit: RunExit::Signal(9),
                    ..
                }
            ),
            "{ended:?}"
        );
    }

    #[test]
    fn resolves_programs_like_a_shell() {
        assert!(
            resolve_program(Path::new("sh"))
                .expect("sh in PATH")
                .is_absolute()
        );
        let missing = resolve_program(Path::new("no-such-command-xyz")).expect_err("missing");
        assert!(missing.contains("command not found"), "{missing}");
        assert!(resolve_program(Path::new("./no/such/file")).is_err());
        assert!(resolve_program(Path::new("")).is_err());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail(b"", 2), "");
    }
}
