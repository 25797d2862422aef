//! The syscall sequence of one write per strategy, recorded with `strace -T` attached to this
//! very thread, so the report can say where the time goes rather than guess.
//!
//! strace attaches to our thread; we wait for its "attached" line, mark the start and the end of
//! the write with a `stat` of a marker path (a syscall that cannot be mistaken for the write's
//! own), then interrupt strace and keep the lines between the markers. Parsing is pure.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use torture_engine::loopfs::find_tool;

const BEGIN_MARKER: &str = ".torture-bench-trace-begin";
const END_MARKER: &str = ".torture-bench-trace-end";

/// One traced syscall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub name: String,
    /// The strace line, with the benchmark directory shown as `<dir>`.
    pub line: String,
    pub seconds: Option<f64>,
}

/// The syscalls one write made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub subject: String,
    pub calls: Vec<Call>,
}

const SYNC_CALLS: [&str; 4] = ["fsync", "fdatasync", "syncfs", "sync_file_range"];

impl Trace {
    /// Calls per syscall name.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for call in &self.calls {
            *counts.entry(call.name.as_str()).or_insert(0) += 1;
        }
        counts
    }

    pub fn sync_calls(&self) -> usize {
        self.calls
            .iter()
            .filter(|call| SYNC_CALLS.contains(&call.name.as_str()))
            .count()
    }

    /// Time strace measured inside fsync-family calls, and inside all calls.
    pub fn seconds(&self) -> (f64, f64) {
        let sum = |sync_only: bool| {
            self.calls
                .iter()
                .filter(|call| !sync_only || SYNC_CALLS.contains(&call.name.as_str()))
                .filter_map(|call| call.seconds)
                .sum()
        };
        (sum(true), sum(false))
    }
}

/// The calls between the begin and end markers of an strace output file. With `-f`, lines
/// start with the thread id, and a call interrupted by another thread's is split into an
/// `<unfinished ...>` line and a `<... name resumed>` line: the two are joined back into one.
/// Lines of the threads in `ignored` (other threads of this process, alive before the write)
/// are left out.
pub fn parse_trace(text: &str, dir: &Path, ignored: &[String]) -> Option<Vec<Call>> {
    let lines: Vec<&str> = text.lines().collect();
    let begin = lines.iter().position(|line| line.contains(BEGIN_MARKER))?;
    let end = begin
        + lines[begin..]
            .iter()
            .position(|line| line.contains(END_MARKER))?;
    let dir_text = dir.to_string_lossy();
    let mut parser = TraceParser {
        dir: &dir_text,
        main_thread: split_thread(lines[begin]).0,
        workers: Vec::new(),
        calls: Vec::new(),
        pending: Vec::new(),
    };
    for line in &lines[begin + 1..end] {
        let (thread, rest) = split_thread(line);
        if !ignored.iter().any(|other| other == thread) {
            parser.line(thread, rest);
        }
    }
    Some(parser.calls)
}

/// State while reading strace lines in order.
struct TraceParser<'a> {
    dir: &'a str,
    main_thread: &'a str,
    /// Threads other than the main one, in order of appearance: `[thread 1]`, ...
    workers: Vec<&'a str>,
    calls: Vec<Call>,
    /// Unfinished calls: (thread, name, index in `calls`, the line so far, unlabelled).
    pending: Vec<(&'a str, String, usize, &'a str)>,
}

impl<'a> TraceParser<'a> {
    fn line(&mut self, thread: &'a str, rest: &'a str) {
        if thread != self.main_thread && !self.workers.contains(&thread) {
            self.workers.push(thread);
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            self.resume(thread, resumed);
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            if let Some(call) = parse_call(head, self.dir) {
                self.pending
                    .push((thread, call.name.clone(), self.calls.len(), head));
                self.calls.push(self.labelled(call, thread));
            }
        } else if let Some(call) = parse_call(rest, self.dir) {
            self.calls.push(self.labelled(call, thread));
        }
    }

    /// `<... fsync resumed>) = 0 <0.000300>`: completes the thread's unfinished call.
    fn resume(&mut self, thread: &str, resumed: &str) {
        let Some((name, tail)) = resumed.split_once(" resumed>") else {
            return;
        };
        let Some(found) = self
            .pending
            .iter()
            .position(|(t, n, _, _)| *t == thread && n == name)
        else {
            return;
        };
        let (_, _, index, head) = self.pending.remove(found);
        if let Some(call) = parse_call(&format!("{head}{tail}"), self.dir) {
            self.calls[index] = self.labelled(call, thread);
        }
    }

    /// Marks a call made by a thread the write started (a batch's workers) as `[thread N]`.
    fn labelled(&self, mut call: Call, thread: &str) -> Call {
        if let Some(index) = self.workers.iter().position(|worker| *worker == thread) {
            call.line = format!("[thread {}] {}", index + 1, call.line);
        }
        call
    }
}

/// `12345 openat(...)` -> ("12345", "openat(...)"); a line without a thread id -> ("", line).
fn split_thread(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((thread, rest))
            if !thread.is_empty() && thread.chars().all(|c| c.is_ascii_digit()) =>
        {
            (thread, rest.trim_start())
        }
        Some(_) | None => ("", line),
    }
}

fn parse_call(line: &str, dir: &str) -> Option<Call> {
    let name_end = line.find('(')?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let seconds = line
        .rsplit_once('<')
        .and_then(|(_, tail)| tail.strip_suffix('>'))
        .and_then(|number| number.parse().ok());
    let shown = if dir.is_empty() {
        line.to_owned()
    } else {
        line.replace(dir, "<dir>")
    };
    Some(Call {
        name: name.to_owned(),
        line: shown,
        seconds,
    })
}

/// Whether syscall tracing can run here (strace installed).
pub fn available() -> bool {
    find_tool("strace").is_some()
}

/// Which threads strace attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Only the calling thread: enough for a single-threaded write, and it never catches the
    /// children other threads of this process fork meanwhile (as in a parallel test binary).
    Caller,
    /// Every thread of the process and the threads they create (`strace -f`): needed for
    /// `intact::Batch`, whose fsyncs run on worker threads.
    All,
}

/// Traces `write` (one whole write of something) run in `dir`; the strace output goes to
/// `log_file`, which is removed afterwards.
pub fn trace(
    subject: &str,
    dir: &Path,
    log_file: &Path,
    threads: Threads,
    write: impl FnOnce(),
) -> Result<Trace, String> {
    let strace = find_tool("strace").ok_or("strace not found (apt-get install strace)")?;
    let thread_id = current_thread_id()?;
    let other_threads: Vec<String> = fs::read_dir("/proc/self/task")
        .map_err(|error| format!("/proc/self/task: {error}"))?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|thread| *thread != thread_id)
        .collect();
    let follow: &[&str] = match threads {
        Threads::Caller => &[],
        Threads::All => &["-f"],
    };
    let mut child = Command::new(strace)
        .args(follow)
        .args(["-T", "-qq", "-o"])
        .arg(log_file)
        .args(["-p", &thread_id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start strace: {error}"))?;
    let attached = wait_attached(&mut child);
    if let Err(problem) = attached {
        stop(&mut child);
        return Err(problem);
    }
    let _ = fs::metadata(dir.join(BEGIN_MARKER));
    write();
    let _ = fs::metadata(dir.join(END_MARKER));
    stop(&mut child);
    let text =
        fs::read_to_string(log_file).map_err(|error| format!("cannot read strace output: {error}"));
    let _ = fs::remove_file(log_file);
    let calls =
        parse_trace(&text?, dir, &other_threads).ok_or("strace output lacks the markers")?;
    Ok(Trace {
        subject: subject.to_owned(),
        calls,
    })
}

/// Our kernel thread id: /proc/thread-self links to `<pid>/task/<tid>`.
fn current_thread_id() -> Result<String, String> {
    let link: PathBuf = fs::read_link("/proc/thread-self")
        .map_err(|error| format!("/proc/thread-self: {error}"))?;
    link.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| "cannot read our thread id".to_owned())
}

/// strace with `-qq` prints nothing on a good attach, so poll until the tracer shows up in our
/// /proc status (TracerPid), or strace dies (its stderr then says why).
fn wait_attached(child: &mut Child) -> Result<(), String> {
    let stderr = child.stderr.take().ok_or("strace stderr not captured")?;
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let text: Vec<String> = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = sender.send(text.join("; "));
    });
    for _ in 0..500 {
        if tracer_pid()? == Some(child.id()) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let message = receiver
                .recv_timeout(Duration::from_secs(1))
                .unwrap_or_default();
            return Err(format!(
                "strace exited ({status}) before attaching: {message}"
            ));
        }
        thread::sleep(Duration::from_millis(10));
    }
    Err("strace did not attach within 5 s".into())
}

fn tracer_pid() -> Result<Option<u32>, String> {
    let status =
        fs::read_to_string("/proc/thread-self/status").map_err(|error| error.to_string())?;
    Ok(status
        .lines()
        .find_map(|line| line.strip_prefix("TracerPid:"))
        .and_then(|value| value.trim().parse().ok())
        .filter(|&pid| pid != 0))
}

/// Interrupts strace (it detaches on SIGINT) and reaps it.
fn stop(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    }
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"newfstatat(AT_FDCWD, "/mnt/x/.torture-bench-trace-begin", 0x7ffd, 0) = -1 ENOENT (No such file or directory) <0.000010>
openat(AT_FDCWD, "/mnt/x", O_WRONLY|O_CLOEXEC|O_TMPFILE, 0666) = 3 <0.000020>
write(3, "0123"..., 1024) = 1024 <0.000008>
fsync(3)                                = 0 <0.000300>
--- SIGCHLD {si_signo=SIGCHLD} ---
linkat(AT_FDCWD, "/proc/self/fd/3", AT_FDCWD, "/mnt/x/t.dat", AT_SYMLINK_FOLLOW) = 0 <0.000015>
newfstatat(AT_FDCWD, "/mnt/x/.torture-bench-trace-end", 0x7ffd, 0) = -1 ENOENT <0.000004>
close(3) = 0 <0.000002>
"#;

    #[test]
    fn keeps_only_the_calls_between_the_markers() {
        let calls = parse_trace(OUTPUT, Path::new("/mnt/x"), &[]).unwrap();
        let names: Vec<&str> = calls.iter().map(|call| call.name.as_str()).collect();
        assert_eq!(names, ["openat", "write", "fsync", "linkat"]);
        assert!(calls[0].line.contains("\"<dir>\""), "{}", calls[0].line);
        assert_eq!(calls[2].seconds, Some(0.0003));
        let trace = Trace {
            subject: "intact".into(),
            calls,
        };
        assert_eq!(trace.sync_calls(), 1);
        assert_eq!(trace.counts()["write"], 1);
        let (sync_seconds, all_seconds) = trace.seconds();
        assert!((sync_seconds - 0.0003).abs() < 1e-12);
        assert!((all_seconds - 0.000343).abs() < 1e-12);
    }

    #[test]
    fn thread_ids_are_stripped_other_threads_dropped_and_interrupted_calls_joined() {
        let output = "\
100 newfstatat(AT_FDCWD, \"/d/.torture-bench-trace-begin\", 0x1, 0) = -1 ENOENT <0.000010>
100 fsync(3 <unfinished ...>
101 write(4, \"x\", 1) = 1 <0.000002>
100 <... fsync resumed>)                = 0 <0.000300>
101 fsync(4 <unfinished ...>
100 close(3) = 0 <0.000001>
101 <... fsync resumed>)               = 0 <0.000200>
102 write(9, \"unrelated\", 9) = 9 <0.000001>
100 newfstatat(AT_FDCWD, \"/d/.torture-bench-trace-end\", 0x1, 0) = -1 ENOENT <0.000004>
";
        let calls = parse_trace(output, Path::new("/d"), &["102".to_owned()]).unwrap();
        let names: Vec<&str> = calls.iter().map(|call| call.name.as_str()).collect();
        assert_eq!(names, ["fsync", "write", "fsync", "close"]);
        assert_eq!(calls[0].seconds, Some(0.0003));
        assert_eq!(calls[0].line, "fsync(3)                = 0 <0.000300>");
        assert_eq!(
            calls[1].line,
            "[thread 1] write(4, \"x\", 1) = 1 <0.000002>"
        );
        assert_eq!(
            calls[2].line,
            "[thread 1] fsync(4)               = 0 <0.000200>"
        );
        assert_eq!(calls[2].seconds, Some(0.0002));
    }

    #[test]
    fn missing_markers_are_not_a_trace() {
        assert_eq!(
            parse_trace("write(1, \"x\", 1) = 1\n", Path::new("/x"), &[]),
            None
        );
    }

    #[test]
    fn traces_a_real_write_when_strace_is_installed() {
        if !available() {
            testkit::skip("strace is not installed (.ci/setup fs installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("torture-bench-strace-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("strace.log");
        let target = dir.join("target.dat");
        let result = trace("plain-fsync", &dir, &log, Threads::Caller, || {
            crate::write(crate::Strategy::PlainFsync, &target, b"hello").unwrap();
        });
        fs::remove_dir_all(&dir).unwrap();
        let trace = result.unwrap();
        assert_eq!(trace.sync_calls(), 1, "{:?}", trace.calls);
        assert!(trace.counts().contains_key("write"), "{:?}", trace.calls);
    }
}
