//! Shared test helpers: scratch directories, file inspection, child processes.

use std::error::Error;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed (with its content) on drop.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(label: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("intact-it-{label}-{}-{unique}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test directory");
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// The names in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        names_in(&self.path)
    }

    /// The names in the directory that look like intact temp files.
    pub fn temp_names(&self) -> Vec<String> {
        let names = self.names().into_iter();
        names.filter(|name| name.ends_with(".intact-tmp")).collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        // Undo chmods made by permission tests so the directory can be removed.
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn names_in(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).expect("read test directory");
    let mut names: Vec<String> = entries
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Permission bits (with set-id and sticky bits) of the file at `path`, not following links.
pub fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

pub use testkit::{is_root, skip};

/// Runs `work` on a new thread with its own umask, `mask` (`unshare(CLONE_FS)`): the
/// process's umask, and every other thread's, stay as they are.
pub fn with_thread_umask<T: Send>(mask: u32, work: impl FnOnce() -> T + Send) -> T {
    use nix::sched::{CloneFlags, unshare};
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            unshare(CloneFlags::CLONE_FS).expect("unshare(CLONE_FS)");
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
            work()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Drops this (child) process from root to `nobody` (uid and gid 65534, no supplementary
/// groups).
pub fn become_nobody() {
    let nobody = 65534;
    nix::unistd::setgroups(&[]).expect("setgroups");
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).expect("setgid");
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).expect("setuid");
}

/// The OS error number behind an intact error (its source chain ends in the OS error).
pub fn errno_of(error: &io::Error) -> Option<i32> {
    let mut current: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(code) = error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(code);
        }
        current = error.source();
    }
    None
}

/// Environment variable naming the role of a re-executed test binary.
const ROLE_VAR: &str = "INTACT_IT_CHILD_ROLE";
/// Prefix of the lines a child reports on stdout (libtest prints its own lines there too).
pub const REPORT: &str = "INTACT-CHILD:";

/// The role this process was started in, when it is a child started by [`spawn_child`].
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// A value passed to a child by [`spawn_child`].
pub fn child_arg(name: &str) -> OsString {
    std::env::var_os(format!("INTACT_IT_{name}")).unwrap_or_else(|| panic!("child argument {name}"))
}

/// Runs this test binary again, only the test `test_name`, with `ROLE_VAR` set to `role`.
///
/// The test function checks [`child_role`] first and plays the child; this avoids `fork` in a
/// multi-threaded test process (and any `unsafe`).
pub fn spawn_child(test_name: &str, role: &str, args: &[(&str, &Path)]) -> ChildProcess {
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut command = Command::new(exe);
    command
        .args([
            test_name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in args {
        command.env(format!("INTACT_IT_{name}"), value);
    }
    let mut child = command.spawn().expect("spawn child test process");
    let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
    ChildProcess { child, stdout }
}

/// Tells the parent something, on a line of its own.
pub fn report(message: &str) {
    use std::io::Write;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{REPORT}{message}").expect("report to parent");
    stdout.flush().expect("flush report");
}

pub struct ChildProcess {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl ChildProcess {
    /// The next report of the child; panics if it exits first.
    pub fn next_report(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stdout.read_line(&mut line).expect("read child stdout");
            assert!(read > 0, "child exited before reporting");
            if let Some(message) = line.trim_end().strip_prefix(REPORT) {
                return message.to_string();
            }
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits in i32"))
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        nix::sys::signal::kill(self.pid(), nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
        self.child.wait().expect("reap child");
    }

    /// Waits for a normal exit and returns every report made until then.
    pub fn finish(mut self) -> Vec<String> {
        let mut reports = Vec::new();
        for line in (&mut self.stdout).lines() {
            let line = line.expect("read child stdout");
            if let Some(message) = line.strip_prefix(REPORT) {
                reports.push(message.to_string());
            }
        }
        let status = self.child.wait().expect("reap child");
        assert!(status.success(), "child failed: {status}");
        reports
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // A failing test must not leave its child running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
