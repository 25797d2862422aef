//! `reports/<run>/`: summary.md, results.jsonl, junit.xml and the golden traces.

use std::fs;

use crate::{run, scratch_dir};

#[test]
fn json_output_says_where_the_report_went() {
    let dir = scratch_dir("json-report-dir");
    let report_dir = dir.to_string_lossy().into_owned();
    let out = run(&[
        "kill",
        "--subject",
        "intact",
        "--size",
        "2KiB",
        "--trials",
        "3",
        "--format",
        "json",
        "--report-dir",
        &report_dir,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    let written = subject["report_dir"]
        .as_str()
        .expect("report_dir in the JSON");
    assert!(written.starts_with(&report_dir), "{subject}");
    assert!(
        std::path::Path::new(written).join("summary.md").is_file(),
        "{subject}"
    );
    fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_run_writes_every_report_file() {
    let dir = scratch_dir("reports");
    let report_dir = dir.to_string_lossy().into_owned();
    let out = run(&[
        "kill",
        "--subject",
        "plain",
        "--subject",
        "intact",
        "--trials",
        "20",
        "--size",
        "4096",
        "--seed",
        "11",
        "--report-dir",
        &report_dir,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let runs: Vec<_> = fs::read_dir(&dir)
        .expect("report dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "latest")
        .collect();
    assert_eq!(runs.len(), 1, "one run directory: {runs:?}");
    let run_dir = runs[0].path();

    let summary = fs::read_to_string(run_dir.join("summary.md")).expect("summary.md");
    assert!(summary.contains("**PASS**"), "{summary}");
    assert!(
        summary.contains("| `plain` | caught (canary) | ✅ CAUGHT |"),
        "{summary}"
    );
    assert!(
        summary.contains("spawn and reap `torture-writer --help`"),
        "the baseline is in the summary: {summary}"
    );

    let results = fs::read_to_string(run_dir.join("results.jsonl")).expect("results.jsonl");
    let lines: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 40, "one line per trial");
    let torn = lines
        .iter()
        .find(|l| l["verdict"] == "torn")
        .expect("plain tears");
    assert_eq!(torn["violation"], true);
    assert!(
        torn["replay"]
            .as_str()
            .is_some_and(|r| r.starts_with("torture kill --subject plain")),
        "{torn}"
    );
    assert!(
        torn["first_diff_offset"].is_u64() && torn["parses"] == false,
        "{torn}"
    );

    let junit = fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert_eq!(report.test_suites.len(), 2);
    assert_eq!(report.failures, 0, "{junit}");

    for subject in ["plain", "intact"] {
        let trace = fs::read(
            run_dir
                .join("traces")
                .join(format!("{subject}.trace.jsonl")),
        )
        .expect("trace");
        let trace = torture_engine::trace::Trace::parse_bytes(&trace).expect("trace parses");
        assert!(!trace.events.is_empty(), "{subject}");
    }
    fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn an_unexpected_violation_fails_junit_with_a_replay_command() {
    let dir = scratch_dir("junit-failure");
    let report_dir = dir.to_string_lossy().into_owned();
    let out = run(&[
        "kill",
        "--subject",
        "rename",
        "--trials",
        "10",
        "--size",
        "4096",
        "--strict",
        "--report-dir",
        &report_dir,
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    let junit = fs::read_to_string(dir.join("latest/junit.xml")).expect("junit.xml via latest");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert!(report.failures > 0, "{junit}");
    assert!(
        junit.contains("replay: torture kill --subject rename"),
        "{junit}"
    );
    let summary = fs::read_to_string(dir.join("latest/summary.md")).expect("summary.md");
    assert!(summary.contains("**FAIL**"), "{summary}");
    fs::remove_dir_all(&dir).expect("cleanup");
}
