//! `torture power --real`: real ext4 states against the writer's contract and the `linux` model
//! (root only; a visible skip otherwise, a failure under `TORTURE_REQUIRE_ALL=1`).

use std::path::Path;

use crate::{python, run, scratch_dir, writer};

/// The one run directory under `reports` and its `summary.json`.
fn run_dir(reports: &Path) -> (std::path::PathBuf, serde_json::Value) {
    let dir = crate::the_run_dir(reports);
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    (
        dir,
        serde_json::from_str(&text).expect("summary.json is JSON"),
    )
}

/// The summary entry of `subject`.
fn entry<'a>(summary: &'a serde_json::Value, subject: &str) -> &'a serde_json::Value {
    summary["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .find(|s| s["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject} in {summary}"))
}

/// Root and mkfs.ext4, or a skip (a failure under `TORTURE_REQUIRE_ALL=1`).
fn can_mount() -> bool {
    if !testkit::root_or_skip("for power --real (loop devices, mount)") {
        return false;
    }
    let mkfs = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !mkfs {
        testkit::skip("power --real needs mkfs.ext4 (e2fsprogs)");
    }
    mkfs
}

/// The status lines of one subject.
fn lines<'a>(stdout: &'a str, subject: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some(subject))
        .collect()
}

#[test]
fn rename_breaks_its_contract_on_ext4_and_exits_1_inside_the_model() {
    if !can_mount() {
        return;
    }
    let reports = scratch_dir("real-rename");
    let out = run(&[
        "power",
        "--real",
        "ext4",
        "--subject",
        "rename",
        "--subject",
        "rename-fsync",
        "--settle-ms",
        "0",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(
        out.code, 1,
        "ACK-LOST on a real disk is a violation: {out:?}"
    );
    assert!(!out.stdout.contains("OUTSIDE"), "{}", out.stdout);
    // Right after its exit, an unsynced rename is not on disk: the old version, acknowledged.
    let rename = lines(&out.stdout, "rename");
    assert!(
        rename
            .iter()
            .any(|l| l.contains("+0ms") && l.contains(" old ") && l.contains("ACK-LOST")),
        "{rename:#?}"
    );
    // rename-fsync fsyncs the data, not the directory: the old version after its ack too.
    let rename_fsync = lines(&out.stdout, "rename-fsync");
    assert!(
        rename_fsync
            .iter()
            .any(|l| l.contains("+0ms") && l.contains(" old ")),
        "{rename_fsync:#?}"
    );
    let (dir, summary) = run_dir(&reports);
    assert_eq!(summary["verdict"], "violation", "{summary}");
    let rename = entry(&summary, "rename");
    assert_eq!(
        (rename["verdict"].as_str(), rename["model_bugs"].as_u64()),
        (Some("violation"), Some(0))
    );
    assert!(rename["violations"].as_u64() > Some(0), "{rename}");
    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    assert!(md.contains("acked-lost") && md.contains("- Fix: "), "{md}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("failure"), "{junit}");
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn intact_keeps_its_contract_on_ext4_and_exits_0() {
    if !can_mount() {
        return;
    }
    let out = run(&[
        "power",
        "--real",
        "ext4",
        "--subject",
        "intact",
        "--settle-ms",
        "0",
        "--no-report",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    // intact: only old before its acknowledgement, then new; never a violation.
    let intact = lines(&out.stdout, "intact");
    assert!(intact.len() > 5, "{intact:#?}");
    for line in &intact {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(matches!(words[3], "old" | "new"), "{line}");
        assert_eq!(words[4], "ok", "{line}");
    }
    assert!(
        intact
            .iter()
            .any(|l| l.contains("+0ms") && l.contains(" new "))
    );
    assert!(out.stdout.contains("states/s"), "{}", out.stdout);
}

#[test]
fn a_model_that_makes_renames_durable_at_once_is_a_model_bug_exit_4() {
    if !can_mount() {
        return;
    }
    let reports = scratch_dir("real-optimistic");
    let out = run(&[
        "power",
        "--real",
        "ext4",
        "--subject",
        "rename",
        "--settle-ms",
        "0",
        "--assume",
        "rename-durable",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 4, "a model bug has its own exit code: {out:?}");
    assert!(
        out.stdout.contains("MODEL BUG: ext4 rename"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("MODEL BUG"), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("replay: torture power --real ext4 --at e"),
        "{}",
        out.stdout
    );
    // The replay keeps the model asked: replayed, the same model bug.
    assert!(
        out.stdout.contains(" --assume rename-durable"),
        "{}",
        out.stdout
    );
    let (dir, summary) = run_dir(&reports);
    assert_eq!(summary["verdict"], "model_bug", "{summary}");
    let rename = entry(&summary, "rename");
    assert!(rename["model_bugs"].as_u64() > Some(0), "{rename}");
    let kept: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(
        kept.iter()
            .any(|e| e.path().extension().is_some_and(|x| x == "img")),
        "{kept:?}"
    );
    assert!(
        kept.iter()
            .any(|e| e.file_name().to_string_lossy().ends_with(".trace.jsonl"))
    );
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn a_python_writer_is_checked_like_a_builtin() {
    if !can_mount() {
        return;
    }
    // durable_replace.py both: fsyncs the file and the directory (atomic_replace.py does not,
    // and loses its acknowledged version on a real ext4: exit 1).
    let command = format!(
        "{} {} both {{target}}",
        python(),
        writer("durable_replace.py")
    );
    let out = run(&[
        "power",
        "--real=ext4",
        "--command",
        &command,
        "--sample",
        "4",
        "--settle-ms",
        "0",
        "--no-report",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let states = lines(&out.stdout, "durable_replace.py");
    assert_eq!(states.len(), 5, "4 held points and +0ms: {states:#?}");
    assert!(!out.stdout.contains("OUTSIDE"), "{}", out.stdout);
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let out = run(&["power", "--real", "zfs"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("ext4, ext4-noauto_da_alloc, xfs or btrfs"),
        "{}",
        out.stderr
    );
    let out = run(&["power", "--real", "ext4", "--subject", "no-such-writer"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unknown subject"), "{}", out.stderr);
    let out = run(&[
        "power",
        "--real",
        "ext4",
        "--validate",
        "json",
        "--no-report",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("not supported with --real"),
        "{}",
        out.stderr
    );
}

/// `--check`, `--setup` and `--ack-line` judge real trees as the simulation does: on the
/// mounted copy, the rollback-journal writer without a directory fsync after its commit's
/// unlink loses the acknowledged commit on real ext4, with the simulation's fix; with it, every
/// real state passes.
#[test]
fn a_whole_tree_check_runs_on_the_mounted_copy_with_the_setup_tree() {
    if !can_mount() {
        return;
    }
    let script = crate::writer("journal_write.py");
    let check = format!(
        "{} {} {{file}} {{stdout}}",
        crate::python(),
        crate::writer("journal_check.py")
    );
    let setup = "echo '{\"generation\": 0}' > target.json";
    let common = [
        "power",
        "--real",
        "ext4",
        "--no-report",
        "--settle-ms",
        "0",
        "--setup",
        setup,
        "--ack-line",
        "^committed$",
        "--check",
        &check,
        "--",
        crate::python(),
        &script,
        "{target}",
    ];
    let caught = run(&[&common[..], &["--no-dir-fsync"]].concat());
    assert_eq!(caught.code, 1, "{caught:?}");
    assert!(
        caught
            .stdout
            .contains("acknowledged commit rolled back: generation 0 is back"),
        "{caught:?}"
    );
    assert!(caught.stdout.contains("CHECK-FAILED"), "{caught:?}");
    // The real state is placed among the model's states and diagnosed as the simulation's.
    assert!(
        caught
            .stdout
            .contains("Fix: fsync the directory after the unlink"),
        "{caught:?}"
    );
    let passes = run(&common);
    assert_eq!(passes.code, 0, "{passes:?}");
}
