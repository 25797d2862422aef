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
