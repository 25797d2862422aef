//! Ctrl-C: children killed, sandboxes removed, a partial report, exit 130.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::scratch_dir;

#[test]
fn ctrl_c_stops_cleanly_with_a_partial_report() {
    let dir = scratch_dir("interrupt");
    let sandboxes = dir.join("sandboxes");
    let reports = dir.join("reports");
    fs::create_dir(&sandboxes).expect("mkdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_torture"))
        .args([
            "kill",
            "--subject",
            "intact",
            "--trials",
            "100000",
            "--size",
            "4096",
        ])
        .arg("--dir")
        .arg(&sandboxes)
        .arg("--report-dir")
        .arg(&reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start torture");
    // Wait until trials are running (plain output: not a terminal).
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 && !line.contains("START") {
        line.clear();
    }
    assert!(
        line.contains("START intact"),
        "torture never started its trials: {line:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));

    let left: Vec<_> = fs::read_dir(&sandboxes).expect("read").collect();
    assert!(left.is_empty(), "sandboxes left behind: {left:?}");
    let summary = fs::read_to_string(reports.join("latest/summary.md")).expect("partial summary");
    assert!(summary.contains("**INTERRUPTED**"), "{summary}");
    let junit = fs::read_to_string(reports.join("latest/junit.xml")).expect("partial junit");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert_eq!(report.errors, 1, "an interrupted run is not green: {junit}");
    assert!(junit.contains("run interrupted"), "{junit}");
    let results =
        fs::read_to_string(reports.join("latest/results.jsonl")).expect("partial results");
    let trials = results.lines().count();
    assert!(trials > 0 && trials < 100_000, "{trials} trials recorded");
    fs::remove_dir_all(&dir).expect("cleanup");
}

/// Whether a `power` sandbox (made once the golden runs are done, just before the in-memory
/// exploration starts) exists somewhere under `dir`.
fn exploring(dir: &std::path::Path) -> bool {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            path.is_dir() && (entry.file_name() == "power" || exploring(&path))
        })
}

#[test]
fn ctrl_c_in_the_middle_of_one_subjects_power_exploration_stops_at_once() {
    let dir = scratch_dir("interrupt-power");
    let (sandboxes, reports) = (dir.join("sandboxes"), dir.join("reports"));
    fs::create_dir(&sandboxes).expect("mkdir");
    // `process` tears at every byte: a MiB payload is minutes of exploration.
    let mut child = Command::new(env!("CARGO_BIN_EXE_torture"))
        .args([
            "power",
            "--subject",
            "plain",
            "--size",
            "1MiB",
            "--seed",
            "1",
        ])
        .args(["--model", "process", "--max-states", "1000000000"])
        .arg("--dir")
        .arg(&sandboxes)
        .arg("--report-dir")
        .arg(&reports)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start torture");
    let began = std::time::Instant::now();
    while !exploring(&sandboxes) {
        assert!(
            began.elapsed().as_secs() < 120,
            "the exploration never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let signalled = std::time::Instant::now();
    let status = child.wait().expect("wait");
    // Without the explorer's stop check it ran on for minutes (each state judged).
    assert!(
        signalled.elapsed().as_secs() < 15,
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let run = crate::the_run_dir(&reports);
    let summary = fs::read_to_string(run.join("summary.md")).expect("partial summary");
    assert!(summary.contains("**INTERRUPTED**"), "{summary}");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("summary.json")).expect("summary.json"))
            .expect("json");
    assert_eq!(
        (json["interrupted"].as_bool(), json["exit_code"].as_u64()),
        (Some(true), Some(130))
    );
    let junit = fs::read_to_string(run.join("junit.xml")).expect("partial junit");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert!(
        report.failures + report.errors > 0,
        "an interrupted run is not green: {junit}"
    );
    let left: Vec<_> = fs::read_dir(&sandboxes).expect("read").collect();
    assert!(left.is_empty(), "sandboxes left behind: {left:?}");
    fs::remove_dir_all(&dir).expect("cleanup");
}
