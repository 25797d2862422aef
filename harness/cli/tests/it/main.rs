//! Integration tests of the `torture` binary: the whole harness, run as a user runs it.
//!
//! Each test runs `torture` with small payloads or few trials so the suite stays well under a
//! minute on two cores. Python writers run through the real interpreter (`sys.executable`), not
//! a version-manager shim, to keep each trial at interpreter start-up cost.

mod apps;
mod builtins;
mod checks;
mod contained;
mod crash_trees;
mod errors;
mod examples;
mod exits;
mod external;
mod interrupt;
mod io_errors;
mod outside;
mod partition;
mod power;
mod race;
mod real;
mod replays;
mod reports;
mod schema;
mod trees;
mod units;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest any one command of these tests may run. A debug build's slowest run takes about
/// a minute on two busy cores; a command past this has hung, and the test names it instead of
/// holding CI until its own time limit.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(420);

/// Runs `command` in its own process group with [`COMMAND_LIMIT`]: past it, the whole group is
/// SIGKILLed and the test fails with the command and what it printed so far.
pub fn bounded_output(mut command: Command) -> std::process::Output {
    let what = format!("{command:?}");
    command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if began.elapsed() > COMMAND_LIMIT {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "hung: {what} ran past {COMMAND_LIMIT:?} and was killed\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&stdout.join().unwrap_or_default()),
                String::from_utf8_lossy(&stderr.join().unwrap_or_default()),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks on it.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// What one `torture` invocation did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Every `--format json` line on stdout.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}\n{self:?}"))
            })
            .collect()
    }

    /// The `--format json` subject lines on stdout (the run's summary line left out).
    pub fn subjects(&self) -> Vec<serde_json::Value> {
        let mut lines = self.json_lines();
        lines.retain(|line| line["kind"] != "summary");
        lines
    }

    /// The run's summary: the last `--format json` line, the same schema for every command.
    pub fn summary(&self) -> serde_json::Value {
        let last = self
            .json_lines()
            .pop()
            .unwrap_or_else(|| panic!("no JSON: {self:?}"));
        assert_eq!(
            last["kind"], "summary",
            "the last line is the summary: {self:?}"
        );
        last
    }

    /// The single subject of a one-subject `--format json` run.
    pub fn subject(&self) -> serde_json::Value {
        let mut subjects = self.subjects();
        assert_eq!(subjects.len(), 1, "expected one subject: {self:?}");
        subjects.remove(0)
    }
}

/// Runs `torture` with `args` and no report files.
pub fn torture(args: &[&str]) -> Outcome {
    torture_with(&[], args)
}

/// Runs `torture` with `args`, no report files, and `env` added to its environment.
pub fn torture_with(env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    if !all.contains(&"--report-dir") {
        let at = all.iter().position(|a| *a == "--").unwrap_or(all.len());
        all.insert(at, "--no-report");
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_torture"));
    command.args(&all).envs(env.iter().copied());
    Outcome::of(bounded_output(command))
}

/// Runs `torture` with exactly `args`.
pub fn run(args: &[&str]) -> Outcome {
    let mut command = Command::new(env!("CARGO_BIN_EXE_torture"));
    command.args(args);
    Outcome::of(bounded_output(command))
}

impl Outcome {
    /// What a finished process did.
    pub fn of(output: std::process::Output) -> Outcome {
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `torture ARGS -- python3 WRITER WRITER_ARGS...`, the writer a script under
/// `tests/it/writers/` (give `{target}` among `writer_args`).
pub fn with_writer(args: &[&str], script: &str, writer_args: &[&str]) -> Outcome {
    let script = writer(script);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", python(), script.as_str()]);
    all.extend(writer_args);
    torture(&all)
}

/// `torture COMMAND COMMON EXTRA` for each `(COMMAND, EXTRA)`: the same run in every command.
pub fn in_each_command<'a>(common: &[&'a str], each: &[(&'a str, &[&'a str])]) -> Vec<Outcome> {
    each.iter()
        .map(|(command, extra)| torture(&[&[*command], common, extra].concat()))
        .collect()
}

/// One `--partition` shard of `args` (options before any `--`), its report in `dir`, its
/// summary in JSON.
pub fn shard(args: &[&str], partition: &str, dir: &Path) -> Outcome {
    let report = dir.to_str().expect("a UTF-8 scratch path");
    let options = [
        "--partition",
        partition,
        "--format",
        "json",
        "--report-dir",
        report,
    ];
    let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    run(&[&args[..at], &options[..], &args[at..]].concat())
}

/// `torture merge SHARDS --report-dir MERGED --format json`.
pub fn merge_json(shards: &[&Path], merged: &Path) -> Outcome {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(shards.iter().map(|s| s.to_str().unwrap()));
    args.extend(["--report-dir", merged.to_str().unwrap(), "--format", "json"]);
    run(&args)
}

/// The real Python interpreter behind `python3`.
pub fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let output = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("these tests need python3 in PATH");
        let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(
            Path::new(&path).is_file(),
            "python3 did not report its interpreter: {output:?}"
        );
        path
    })
}

/// A writer script under `tests/it/writers/`.
pub fn writer(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/writers")
        .join(name);
    assert!(path.is_file(), "missing test writer {}", path.display());
    path.to_string_lossy().into_owned()
}

/// A fresh, empty directory for one test, under `target/tmp` (never the system temp directory,
/// which `cargo test` leaves as it found it).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("torture-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The one run directory under `reports` (a `--report-dir`).
pub fn the_run_dir(reports: &Path) -> PathBuf {
    std::fs::read_dir(reports)
        .expect("reports")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.ends_with("latest"))
        .expect("a run directory")
}

/// `value[key]` as a number.
pub fn num(value: &serde_json::Value, key: &str) -> u64 {
    value[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no number {key} in {value}"))
}

/// `value["verdicts"][key]`.
pub fn verdict(value: &serde_json::Value, key: &str) -> u64 {
    num(&value["verdicts"], key)
}
