//! `torture errors` end to end: injected EIO, ENOSPC, short writes and fsyncgate against Python
//! writers, a C writer and the built-in `intact` strategies.

use std::path::PathBuf;
use std::process::Command;

use crate::{num, python, scratch_dir, torture, writer};

/// `torture errors` over a command, human output.
fn errors_on(args: &[&str], script: &str) -> crate::Outcome {
    let script = writer(script);
    let mut all = vec!["errors", "--seed", "1"];
    all.extend_from_slice(args);
    all.extend(["--", python(), script.as_str(), "{target}"]);
    torture(&all)
}

#[test]
fn json_dump_in_place_is_caught_torn_on_a_full_disk() {
    let out = errors_on(
        &["--fault", "enospc", "--expect", "caught"],
        "json_dump_in_place.py",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("CAUGHT"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("torn target; replay: torture errors --initial old --inject 'write#"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(":ENOSPC'"), "{}", out.stdout);
    assert!(
        out.stdout.contains("returned ENOSPC")
            && out.stdout.contains("is torn. Fix: write a temp file"),
        "{}",
        out.stdout
    );
    // The same writer expected to pass fails, with exit code 1.
    let failed = errors_on(&["--fault", "enospc"], "json_dump_in_place.py");
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stdout.contains("FAIL"), "{}", failed.stdout);
}

#[test]
fn temp_fsync_replace_passes_every_fault() {
    let out = errors_on(&["--format", "json"], "fsync_replace.py");
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert_eq!(num(&subject, "violations"), 0);
    assert_eq!(num(&subject, "injections"), num(&subject, "fault_space"));
    assert!(num(&subject, "injections") >= 20, "{subject}");
}

#[test]
fn retrying_a_failed_fsync_is_caught_as_fsyncgate() {
    let out = errors_on(&["--expect", "caught"], "fsync_retry.py");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("CAUGHT"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(":fsyncgate: writer exited 0 but a power cut loses the new version"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("retried it at #"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Fix: treat a failed fsync as fatal"),
        "{}",
        out.stdout
    );
    // A plain EIO on the same fsync is no violation: the retry is a real barrier there.
    let seq = fsyncgate_seq(&out.stdout);
    let eio = errors_on(&["--inject", &format!("fsync#{seq}:EIO")], "fsync_retry.py");
    assert_eq!(eio.code, 0, "{eio:?}");
    let gate = errors_on(
        &["--inject", &format!("fsync#{seq}:fsyncgate")],
        "fsync_retry.py",
    );
    assert_eq!(gate.code, 1, "{gate:?}");
}

/// The seq of the first fsyncgate violation printed.
fn fsyncgate_seq(stdout: &str) -> String {
    let at = stdout.find(":fsyncgate:").expect("a fsyncgate line");
    let start = stdout[..at].rfind('#').expect("fsync#SEQ") + 1;
    stdout[start..at].to_owned()
}

/// Compiles the C writer that ignores write's result into a temp dir; `None` without `cc`.
fn c_writer() -> Option<PathBuf> {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/writers/c/ignore_write_result.c");
    let binary = scratch_dir("c-writer").join("ignore_write_result");
    let built = Command::new("cc")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status();
    match built {
        Ok(status) if status.success() => Some(binary),
        Ok(status) => panic!("cc failed on {}: {status}", source.display()),
        Err(e) => {
            testkit::skip(&format!("no C compiler to build the writer (cc: {e})"));
            None
        }
    }
}

#[test]
fn ignoring_write_results_is_caught_on_a_short_write() {
    let Some(binary) = c_writer() else { return };
    let binary = binary.to_string_lossy().into_owned();
    let out = torture(&[
        "errors",
        "--seed",
        "1",
        "--fault",
        "short-one,short-half",
        "--expect",
        "caught",
        "--",
        &binary,
        "{target}",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("CAUGHT"), "{}", out.stdout);
    assert!(
        out.stdout.contains(":short=1: torn target"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Fix: loop until every byte is written (write_all)"),
        "{}",
        out.stdout
    );
}

#[test]
fn intact_passes_every_fault_exhaustively() {
    let out = torture(&[
        "errors",
        "--subject",
        "intact",
        "--subject",
        "intact-named",
        "--subject",
        "intact-anonymous",
        "--size",
        "4096",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let subjects = out.subjects();
    assert_eq!(subjects.len(), 3, "one line per subject: {out:?}");
    for subject in subjects {
        assert_eq!(subject["status"], "PASS", "{subject}");
        assert_eq!(num(&subject, "injections"), num(&subject, "fault_space"));
        assert!(num(&subject, "injections") >= 30, "{subject}");
    }
}

#[test]
fn intact_never_publishes_after_a_failed_fsync() {
    // intact's fsync of the temp file is its first fsync; find its seq from a whole run.
    let dir = scratch_dir("intact-eio");
    let dir_text = dir.to_str().expect("utf-8");
    let args = [
        "errors",
        "--subject",
        "intact",
        "--size",
        "4096",
        "--fault",
        "eio",
    ];
    let out = torture(&[&args[..], &["--report-dir", dir_text]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    let results = std::fs::read_dir(&dir)
        .expect("report dir")
        .filter_map(Result::ok)
        .map(|e| e.path().join("results.jsonl"))
        .find(|p| p.is_file())
        .expect("results.jsonl");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(results)
        .expect("read results")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let first_fsync = lines
        .iter()
        .find(|l| {
            l["injection"]
                .as_str()
                .is_some_and(|i| i.starts_with("fsync#"))
        })
        .expect("an fsync injection");
    let injection = first_fsync["injection"].as_str().expect("text");
    assert_eq!(first_fsync["exit"], "exit status 1", "{first_fsync}");
    assert_eq!(first_fsync["target"], "old", "{first_fsync}");
    // Replayed alone, the real injected EIO: exit 1 from the writer, the old version in place.
    let replay = torture(&[
        "errors",
        "--subject",
        "intact",
        "--size",
        "4096",
        "--inject",
        injection,
    ]);
    assert_eq!(replay.code, 0, "{replay:?}");
    assert!(
        replay.stdout.contains("PASS [     1 faults]"),
        "{}",
        replay.stdout
    );
    assert!(
        replay.stdout.contains("failed 1     old 1"),
        "{}",
        replay.stdout
    );
}

#[test]
fn bad_fault_and_inject_values_exit_2() {
    for (args, message) in [
        (
            &["errors", "--fault", "eio,melted"][..],
            "`melted` is not a fault kind",
        ),
        (&["errors", "--inject", "fsync9:EIO"][..], "fsync9"),
        (
            &["errors", "--inject", "fsync#9:EWHAT"][..],
            "`EWHAT` is not an action",
        ),
        (
            &["errors", "--inject", "fsync#9:short=0"][..],
            "is not an action",
        ),
        (
            &["errors", "--inject", "fsync#9:EIO"][..],
            "--inject replays one injection of one subject",
        ),
    ] {
        let out = torture(args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let out = torture(&[
        "errors",
        "--subject",
        "intact",
        "--size",
        "4096",
        "--inject",
        "fsync#999:EIO",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("not in this writer's fault space"),
        "{}",
        out.stderr
    );
}
