//! One verdict, one exit path: every command's exit code for every outcome it can meet (0 as
//! expected, 1 a violation, 2 bad usage or a harness error, 3 not modelled, 130 interrupted; 4,
//! a model bug, is `power --real`'s and lives in `real.rs`), and the summary that says why.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{
    Outcome, in_each_command, merge_json, python, scratch_dir, shard, torture, with_writer, writer,
};

/// `torture ARGS --format json -- python3 WRITER {target}`.
fn with_python(args: &[&str], script: &str) -> Outcome {
    with_writer(
        &[args, &["--format", "json"][..]].concat(),
        script,
        &["{target}"],
    )
}

/// The exit code, and the summary agreeing with it.
fn judged(out: &Outcome, code: i32, verdict: &str) {
    assert_eq!(out.code, code, "{out:?}");
    let summary = out.summary();
    assert_eq!(summary["verdict"], verdict, "{summary}");
    assert_eq!(summary["exit_code"], code, "{summary}");
}

#[test]
fn every_command_exits_0_when_every_subject_is_as_expected() {
    let size = ["--subject", "intact", "--size", "2048", "--format", "json"];
    let each: [(&str, &[&str]); 4] = [
        ("kill", &["--trials", "3"]),
        ("power", &[]),
        ("errors", &["--trials", "4"]),
        ("race", &["--schedules", "1", "--preemptions", "0"]),
    ];
    for out in in_each_command(&size, &each) {
        judged(&out, 0, "as_expected");
    }
}

#[test]
fn every_command_exits_1_on_a_violation() {
    for (command, extra) in [
        ("kill", &["--trials", "20", "--seed", "1"][..]),
        ("power", &[][..]),
        ("errors", &["--trials", "20", "--seed", "1"][..]),
        ("race", &["--schedules", "4", "--seed", "1"][..]),
    ] {
        let mut args = vec![command];
        args.extend(extra);
        let out = with_python(&args, "plain_open.py");
        judged(&out, 1, "violation");
        let summary = out.summary();
        let subject = &summary["subjects"][0];
        assert!(
            subject["violations"].as_u64() > Some(0),
            "{command}: {subject}"
        );
        assert!(
            subject["fix"].is_string(),
            "every failure has a fix: {command}: {subject}"
        );
    }
}

#[test]
fn a_canary_not_caught_exits_1() {
    let power = ["power", "--expect", "caught", "--format", "json"];
    let out = with_writer(&power, "durable_replace.py", &["both", "{target}"]);
    judged(&out, 1, "violation");
    assert!(out.stderr.contains("canary not caught"), "{out:?}");
}

#[test]
fn power_and_errors_on_an_unmodelled_shared_mmap_exit_3() {
    for (command, extra) in [
        ("power", &[][..]),
        ("errors", &["--trials", "6", "--seed", "1"][..]),
    ] {
        // The mmap'd bytes never reach the trace: power's crash states would be built without
        // them, so neither a pass nor a violation found there can be trusted.
        let mut args = vec![command];
        args.extend(extra);
        let out = with_python(&args, "mmap_no_msync.py");
        judged(&out, 3, "not_modelled");
        assert!(out.stderr.contains("not modelled: "), "{command}: {out:?}");
        assert_eq!(out.summary()["subjects"][0]["status"], "not_modelled");
    }
}

#[test]
fn bad_usage_exits_2_in_every_command() {
    for args in [
        &["kill", "--size", "64GiB"][..],
        &["kill", "--target", "../x"],
        &["power", "--size", "64GiB"],
        &["power", "--state", "e3:d1"],
        &["power", "--real", "zfs"],
        &["errors", "--inject", "fsync#9"],
        &["errors", "--size", "64GiB"],
        &["race", "--writers", "1"],
        &["race", "--validate", "json"],
        &["merge", "/nonexistent/shard"],
        &["--size", "64GiB"],
    ] {
        let out = torture(args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out:?}");
    }
    let out = torture(&["kill", "--size", "64GiB"]);
    assert!(out.stderr.contains("available memory"), "{out:?}");
}

/// A concurrent writer's threads interleave differently run to run: its real crash points
/// cannot be matched to its trace, so `--real` refuses it (before any root check or mount).
/// No wall clock in a verdict: a writer that waits forever in a trial (after its first write
/// under kill, after the injected fault under errors) is a harness timeout, exit 2, said as
/// such, never a violation (exit 1).
#[test]
fn a_trial_that_hits_its_timeout_is_a_harness_timeout_not_a_violation() {
    let dir = scratch_dir("timeouts");
    let script = writer("hangs_in_trials.sh");
    for (command, extra, goal) in [
        (
            "kill",
            &["--kill-at", "byte:17"][..],
            "the kill trial at byte:17: the writer did not reach its kill point (byte:17) or its end in 0.5 s",
        ),
        (
            "errors",
            &["--fault", "eio"][..],
            "the writer did not reach its end in 0.5 s",
        ),
    ] {
        let counter = dir.join(format!("{command}.runs"));
        let mut args = vec![command, "--jobs", "1", "--timeout-ms", "500", "--seed", "1"];
        args.extend(extra);
        args.extend(["--format", "json", "--", "sh", &script, "{target}"]);
        args.extend([counter.to_str().expect("utf-8"), command]);
        let out = torture(&args);
        judged(&out, 2, "harness_error");
        assert!(
            out.stderr.contains(goal)
                && out
                    .stderr
                    .contains("a harness timeout, not a writer failure"),
            "{command}: {out:?}"
        );
        let subject = &out.summary()["subjects"][0];
        assert_eq!(subject["violations"], 0, "{command}: {subject}");
        assert_eq!(subject["status"], "incomplete", "{command}: {subject}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn power_real_refuses_a_concurrent_subject_with_exit_2() {
    let out = torture(&["power", "--real", "ext4", "--subject", "intact-group"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("torture power --subject intact-group"),
        "{out:?}"
    );
}

/// Starts `torture ARGS`, waits for a stdout line containing `ready`, sends SIGINT, and returns
/// the exit code and the stdout so far.
fn interrupt_when(args: &[&str], ready: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_torture"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start torture");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 {
        seen.push_str(&line);
        if line.contains(ready) {
            break;
        }
        line.clear();
    }
    assert!(line.contains(ready), "never saw {ready:?}: {seen}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    (code, seen + &rest)
}

/// The failed (or errored) JUnit and the interrupted mark of the one run under `reports`.
fn assert_partial_report(reports: &Path, summary_mark: &str) {
    let run = crate::the_run_dir(reports);
    let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit.xml");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert!(
        report.failures + report.errors > 0,
        "an interrupted run is not green: {junit}"
    );
    let md = std::fs::read_to_string(run.join("summary.md")).expect("summary.md");
    assert!(
        md.to_lowercase().contains(&summary_mark.to_lowercase()),
        "{md}"
    );
    assert!(!md.contains("-0.00 s"), "{md}");
    let summary = std::fs::read_to_string(run.join("summary.json")).expect("summary.json");
    assert!(summary.contains("\"interrupted\": true"), "{summary}");
}

#[test]
fn a_race_cancelled_mid_run_exits_130_with_a_failed_junit() {
    let dir = scratch_dir("race-interrupt");
    let reports = dir.join("reports");
    let (code, stdout) = interrupt_when(
        &[
            "race",
            "--subject",
            "intact",
            "--subject",
            "plain",
            "--schedules",
            "100000",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        "racing intact",
    );
    assert_eq!(code, 130, "{stdout}");
    assert!(!stdout.contains("harness error"), "{stdout}");
    assert_partial_report(&reports, "INCOMPLETE");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn power_and_errors_interrupted_exit_130_with_a_marked_report() {
    for (command, extra, ready) in [
        // Small subjects: a power subject's in-memory exploration runs to its end before the
        // run stops.
        (
            "power",
            &["--max-states", "3000"][..],
            "Starting power cuts",
        ),
        ("errors", &[][..], "Starting"),
    ] {
        let dir = scratch_dir(&format!("{command}-interrupt"));
        let reports = dir.join("reports");
        let mut args = vec![command, "--report-dir", reports.to_str().unwrap()];
        args.extend(extra);
        let (code, stdout) = interrupt_when(&args, ready);
        assert_eq!(code, 130, "{command}: {stdout}");
        assert_partial_report(&reports, "INTERRUPTED");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

#[test]
fn the_main_job_interrupted_in_its_racing_column_exits_130() {
    let dir = scratch_dir("main-interrupt");
    let reports = dir.join("reports");
    let (code, stdout) = interrupt_when(
        &[
            "--trials",
            "2",
            "--size",
            "2048",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        "] racing: ",
    );
    assert_eq!(code, 130, "{stdout}");
    assert_partial_report(&reports, "INTERRUPTED");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn the_process_model_judges_built_ins_by_their_sigkill_expectations() {
    // Under `process` (nothing lost but the process), a writer that only lacks fsync is no
    // canary: the built-ins must do what they do under SIGKILL, never "canary not caught".
    let out = torture(&[
        "power", "--model", "process", "--size", "2048", "--format", "json",
    ]);
    judged(&out, 0, "as_expected");
    assert!(!out.stderr.contains("canary not caught"), "{out:?}");
    let subjects = out.summary()["subjects"]
        .as_array()
        .expect("subjects")
        .len();
    assert!(subjects >= 10, "{out:?}");
}

#[test]
fn merge_exits_1_when_the_shards_together_show_a_violation() {
    let dir = scratch_dir("merge-violation");
    let script = writer("plain_open.py");
    let kill = [
        "kill",
        "--trials",
        "12",
        "--seed",
        "1",
        "--",
        python(),
        &script,
        "{target}",
    ];
    let shard_dir = |m: &str| dir.join(format!("shard-{m}"));
    for m in ["1", "2"] {
        let out = shard(&kill, &format!("{m}/2"), &shard_dir(m));
        assert!(matches!(out.code, 0 | 1), "{out:?}");
    }
    let out = merge_json(&[&shard_dir("1"), &shard_dir("2")], &dir.join("merged"));
    judged(&out, 1, "violation");
    assert_eq!(out.summary()["command"], "merge");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
