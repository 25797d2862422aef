//! Multi-file units (`--target` repeated or a glob, `--marker`), saved traces (`--save-trace`,
//! `power --trace`), and nested targets whose directory the writer makes itself.

use std::path::PathBuf;

use super::{num, python, scratch_dir, torture, writer};

/// `harness/writers/write_partitions.py`, the README's pipeline example.
fn partitions_writer() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../writers/write_partitions.py");
    assert!(path.is_file(), "missing {}", path.display());
    path.to_string_lossy().into_owned()
}

const UNIT: [&str; 6] = [
    "--initial",
    "absent",
    "--target",
    "out/part-*.csv",
    "--marker",
    "out/_SUCCESS",
];

fn power_pipeline(careful: bool, extra: &[&str]) -> super::Outcome {
    let script = partitions_writer();
    let mut args = vec!["power", "--seed", "1", "--format", "json"];
    args.extend(UNIT);
    args.extend(extra);
    args.extend(["--", python(), script.as_str()]);
    if careful {
        args.push("--fsync");
    }
    args.push("{target}");
    torture(&args)
}

#[test]
fn a_pipeline_that_creates_its_marker_without_fsyncs_is_caught_and_the_fsyncs_named() {
    let out = power_pipeline(false, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "FAIL", "{subject}");
    let diagnosis = subject["diagnosis"].as_str().unwrap_or_default();
    assert!(
        diagnosis.contains("`out/_SUCCESS` survived but `out/part-"),
        "{diagnosis}"
    );
    assert!(diagnosis.contains("no fsync of `out/part-"), "{diagnosis}");
    assert!(
        out.stderr.contains(
            "Fix: fsync each partition and the directory `out/` before creating the marker"
        ),
        "{out:?}"
    );
}

#[test]
fn a_pipeline_that_fsyncs_each_partition_and_the_directory_before_its_marker_passes() {
    let out = power_pipeline(true, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert!(num(&subject["after_ack"], "new") > 0, "{subject}");
    assert!(num(&subject, "recovery_runs") > 0, "{subject}");
}

#[test]
fn sigkill_catches_a_marker_created_before_its_partitions() {
    let script = writer("marker_first.py");
    let mut args = vec!["kill", "--seed", "1", "--trials", "12", "--format", "json"];
    args.extend(UNIT);
    args.extend(["--", python(), script.as_str(), "{target}"]);
    let out = torture(&args);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "failed", "{subject}");
    assert!(num(&subject["verdicts"], "torn") > 0, "{subject}");
    let careful = partitions_writer();
    let mut args = vec!["kill", "--seed", "1", "--trials", "12", "--format", "json"];
    args.extend(UNIT);
    args.extend(["--", python(), careful.as_str(), "{target}"]);
    let out = torture(&args);
    assert_eq!(out.code, 0, "SIGKILL spares the page cache: {out:?}");
    assert_eq!(
        num(&out.subject(), "orphans"),
        0,
        "the unit's files are not leftovers"
    );
}

#[test]
fn a_saved_trace_explores_to_the_same_verdict_and_counts_as_the_run() {
    let dir = scratch_dir("save-trace");
    let file = dir.join("pipeline.jsonl");
    let file_arg = file.to_string_lossy().into_owned();
    let direct = power_pipeline(false, &["--save-trace", &file_arg]);
    assert_eq!(direct.code, 1, "{direct:?}");
    assert!(file.is_file(), "{direct:?}");
    let mut args = vec![
        "power", "--seed", "1", "--format", "json", "--trace", &file_arg,
    ];
    args.extend(UNIT);
    let loaded = torture(&args);
    assert_eq!(loaded.code, direct.code, "{loaded:?}");
    let (a, b) = (direct.subject(), loaded.subject());
    for key in [
        "status",
        "states_checked",
        "distinct_states",
        "violating_states",
        "before_ack",
        "after_ack",
        "diagnosis",
    ] {
        assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
    }
    assert_eq!(num(&b, "recovery_runs"), 0, "the writer is not run: {b}");
    std::fs::remove_dir_all(&dir).expect("remove scratch dir");
}

#[test]
fn several_subjects_save_a_directory_of_traces_that_loads_back() {
    let dir = scratch_dir("save-traces");
    let traces = dir.join("traces");
    let traces_arg = traces.to_string_lossy().into_owned();
    let common = [
        "--seed",
        "2",
        "--format",
        "json",
        "--size",
        "2KiB",
        "--max-states",
        "400",
    ];
    let mut args = vec![
        "power",
        "--subject",
        "rename",
        "--subject",
        "intact",
        "--save-trace",
        &traces_arg,
    ];
    args.extend(common);
    let direct = torture(&args);
    assert_eq!(direct.subjects().len(), 2, "{direct:?}");
    let mut args = vec!["power", "--trace", &traces_arg, "--expect", "caught"];
    args.extend(common);
    let loaded = torture(&args);
    assert_eq!(loaded.subjects().len(), 2, "{loaded:?}");
    for name in ["intact", "rename"] {
        let of = |out: &super::Outcome| {
            let found = out.subjects().into_iter().find(|s| s["subject"] == name);
            found.unwrap_or_else(|| panic!("no {name} in {out:?}"))
        };
        let (run, counted) = (of(&direct), of(&loaded));
        for key in ["states_checked", "distinct_states", "violating_states"] {
            assert_eq!(run[key], counted[key], "{name} {key}");
        }
    }
    std::fs::remove_dir_all(&dir).expect("remove scratch dir");
}

#[test]
fn a_writer_that_makes_its_own_directory_finds_none_made_for_it() {
    let script = writer("mkdir_own_dir.py");
    for kind in ["kill", "power"] {
        let mut args = vec![
            kind,
            "--seed",
            "1",
            "--initial",
            "absent",
            "--target",
            "made/x.json",
        ];
        if kind == "kill" {
            args.extend(["--trials", "4"]);
        }
        args.extend(["--", python(), script.as_str(), "{target}"]);
        let out = torture(&args);
        assert_ne!(out.code, 2, "{kind}: {out:?}");
        assert!(!out.stderr.contains("File exists"), "{kind}: {out:?}");
    }
}

#[test]
fn units_refuse_what_they_cannot_mean() {
    let glob_only = torture(&["kill", "--target", "out/part-*.csv", "--", "true"]);
    assert_eq!(glob_only.code, 2, "{glob_only:?}");
    assert!(glob_only.stderr.contains("is a glob"), "{glob_only:?}");
    let race = torture(&["race", "--subject", "intact", "--marker", "_SUCCESS"]);
    assert_eq!(race.code, 2, "{race:?}");
    let both = torture(&["power", "--trace", "x.jsonl", "--subject", "plain"]);
    assert_eq!(both.code, 2, "{both:?}");
    let missing = torture(&["power", "--trace", "/nonexistent/x.jsonl"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    let script = partitions_writer();
    let unmatched = torture(&[
        "power",
        "--initial",
        "absent",
        "--target",
        "out/none-*.csv",
        "--marker",
        "out/_SUCCESS",
        "--",
        python(),
        &script,
        "{target}",
    ]);
    assert_eq!(unmatched.code, 2, "{unmatched:?}");
    assert!(
        unmatched.stderr.contains("a unit needs two files or more"),
        "{unmatched:?}"
    );
}

#[test]
fn two_files_written_one_after_the_other_are_a_mixed_unit_after_a_power_cut() {
    let writer = r#"cd "$(dirname "$1")" && printf A > a.json && printf B > b.json"#;
    let out = torture(&[
        "power",
        "--seed",
        "1",
        "--format",
        "json",
        "--initial",
        "absent",
        "--target",
        "a.json",
        "--target",
        "b.json",
        "--",
        "sh",
        "-c",
        writer,
        "sh",
        "{target}",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    let diagnosis = subject["diagnosis"].as_str().unwrap_or_default();
    assert!(diagnosis.contains("the unit is mixed: `"), "{diagnosis}");
    assert!(
        diagnosis.contains("Fix: publish the unit in one step"),
        "{diagnosis}"
    );
    assert!(
        subject["notes"]
            .to_string()
            .contains("judged as one unit: `a.json` and `b.json`"),
        "{subject}"
    );
}
