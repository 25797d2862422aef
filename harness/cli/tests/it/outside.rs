//! Writes outside the sandbox are never killed at or recorded: torture says so, and `--strict`
//! makes them a failure, so nobody believes an untested output path was tested.

use crate::{Outcome, python, torture, writer};

fn kill_also_outside(extra: &[&str], elsewhere: &str) -> Outcome {
    let fixed = ["kill", "--trials", "6", "--seed", "1"];
    also_outside(&[&fixed[..], extra].concat(), elsewhere)
}

/// `also_outside.py` writing its copy to `elsewhere`, under `options`, as JSON.
fn also_outside(options: &[&str], elsewhere: &str) -> Outcome {
    let script = writer("also_outside.py");
    let command = [
        "--format",
        "json",
        "--",
        python(),
        &script,
        "{target}",
        elsewhere,
    ];
    torture(&[options, &command[..]].concat())
}

#[test]
fn a_write_outside_the_sandbox_is_reported_and_fails_under_strict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let elsewhere = dir.path().join("copy.json");
    let elsewhere = elsewhere.to_str().expect("utf-8 path");

    let reported = kill_also_outside(&[], elsewhere);
    assert_eq!(reported.code, 0, "{reported:?}");
    let subject = reported.subject();
    assert_eq!(subject["status"], "passed", "{subject}");
    let notes = subject["notes"].to_string();
    assert!(
        notes.contains("NOT tested") && notes.contains(elsewhere),
        "{subject}"
    );

    let strict = kill_also_outside(&["--strict"], elsewhere);
    assert_eq!(strict.code, 1, "{strict:?}");
    assert_eq!(strict.subject()["status"], "failed");
}

#[test]
fn a_writer_that_stays_in_its_sandbox_has_no_such_note() {
    let script = writer("atomic_replace.py");
    let args = [
        "kill",
        "--trials",
        "4",
        "--seed",
        "1",
        "--strict",
        "--format",
        "json",
        "--",
        python(),
        &script,
        "{target}",
    ];
    let out = torture(&args);
    let subject = out.subject();
    assert!(
        !subject["notes"].to_string().contains("outside"),
        "{subject}"
    );
}

#[test]
fn power_reports_writes_outside_the_sandbox_and_dev_shm_is_outside() {
    let elsewhere = format!("/dev/shm/torture-outside-{}.json", std::process::id());
    let power = ["power", "--seed", "1", "--max-states", "20"];
    let reported = also_outside(&power, &elsewhere);
    let _ = std::fs::remove_file(&elsewhere);
    let subject = reported.subject();
    let notes = subject["notes"].to_string();
    assert!(
        notes.contains("NOT tested") && notes.contains(&elsewhere),
        "{subject}"
    );
    assert_eq!(subject["outside_writes"][0], format!("openat {elsewhere}"));
}
