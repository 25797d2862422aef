//! User commands through `-- CMD ARGS...`: Python writers, and the recovery trap.

use crate::{Outcome, num, python, torture, verdict, writer};

/// `torture kill OPTIONS --format json -- python3 tests/it/writers/SCRIPT {target}`.
fn kill_python(script: &str, options: &[&str]) -> Outcome {
    let script = writer(script);
    let command = ["--format", "json", "--", python(), &script, "{target}"];
    torture(&[&["kill"], options, &command[..]].concat())
}

#[test]
fn python_plain_open_is_caught() {
    let options = ["--trials", "24", "--seed", "3"];
    let caught = kill_python(
        "plain_open.py",
        &[&options[..], &["--expect", "caught"]].concat(),
    );
    assert_eq!(caught.code, 0, "{caught:?}");
    let subject = caught.subject();
    assert_eq!(subject["status"], "caught", "{subject}");
    assert!(verdict(&subject, "torn") > 0, "{subject}");

    // The same writer gated as if it were meant to be correct: a violation, exit 1.
    let gated = kill_python("plain_open.py", &options);
    assert_eq!(gated.code, 1, "{gated:?}");
    assert_eq!(gated.subject()["status"], "failed");
}

#[test]
fn python_temp_file_and_os_replace_passes() {
    let out = kill_python("atomic_replace.py", &["--trials", "24", "--seed", "3"]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "passed", "{subject}");
    assert_eq!(
        (verdict(&subject, "torn"), num(&subject, "violations")),
        (0, 0),
        "{subject}"
    );
    assert!(
        num(&subject, "orphans") > 0,
        "a killed writer leaves its temp file: {subject}"
    );
}

#[test]
fn a_writer_fooled_by_its_own_leftovers_is_a_recovery_failure() {
    let out = kill_python(
        "skip_if_exists.py",
        &["--initial", "absent", "--trials", "24", "--seed", "3"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert!(
        num(&subject, "recovery_failures") > 0,
        "the skipped rerun must be reported: {subject}"
    );
    let smallest = subject["smallest_violation"]["violation"]
        .as_str()
        .unwrap_or_default();
    assert!(
        smallest.contains("recovery run exited 0 but left the target torn"),
        "{subject}"
    );
}

#[test]
fn a_command_in_the_shell_gets_target_and_generation() {
    // Atomic in shell: write a temp file, then mv over the target.
    let script = r#"printf '{"generation": %s}' "$TORTURE_GENERATION" > "$TORTURE_TARGET.tmp" && mv "$TORTURE_TARGET.tmp" {target}"#;
    let out = torture(&[
        "kill",
        "--exhaustive",
        "--format",
        "json",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "passed", "{subject}");
    assert!(verdict(&subject, "old") > 0, "{subject}");
}

#[test]
fn a_correct_writer_expected_to_be_caught_fails_the_run() {
    let out = kill_python(
        "atomic_replace.py",
        &["--trials", "12", "--expect", "caught"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.subject()["status"], "not_caught");
    assert!(
        out.stderr
            .contains("canary not caught: the harness itself has failed"),
        "{out:?}"
    );
}

#[test]
fn a_hung_recovery_run_is_killed_and_reported() {
    let out = kill_python(
        "hangs_on_leftovers.py",
        &[
            "--initial",
            "absent",
            "--trials",
            "4",
            "--seed",
            "1",
            "--timeout-ms",
            "1000",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert!(num(&subject, "recovery_failures") > 0, "{subject}");
    let smallest = subject["smallest_violation"]["violation"]
        .as_str()
        .unwrap_or_default();
    assert!(
        smallest.contains("recovery run failed (timed out)"),
        "{subject}"
    );
}

#[test]
fn a_writer_the_tracer_cannot_model_never_passes_silently() {
    let out = kill_python("mmap_no_msync.py", &["--trials", "12"]);
    assert_eq!(out.code, 3, "exit 3: no verdict, not a violation: {out:?}");
    assert!(
        out.stderr.contains("not modelled: "),
        "a line of its own: {out:?}"
    );
    let subject = out.subject();
    assert_eq!(subject["status"], "not_modelled", "{subject}");
    assert_eq!(
        num(&subject, "violations"),
        0,
        "atomic apart from the mmap: {subject}"
    );
    let notes = subject["notes"].to_string();
    assert!(
        notes.contains("not fully modelled") && notes.contains("mmap"),
        "{subject}"
    );
}

#[test]
fn a_writer_that_updates_its_target_in_place_through_mmap_is_killed_at_its_msyncs_and_caught() {
    let out = kill_python("mmap_in_place.py", &["--trials", "30", "--seed", "2"]);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "failed", "{subject}");
    assert!(verdict(&subject, "torn") > 0, "{subject}");
    assert!(
        subject["notes"].to_string().contains("shared mapping"),
        "the report says where the mapping is seen: {subject}"
    );
}

#[test]
fn a_temp_file_written_through_mmap_then_renamed_passes() {
    let out = kill_python("mmap_writer.py", &["--trials", "12", "--seed", "2"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.subject()["status"], "passed");
}
