//! `torture power-real`: real ext4 states against the `linux` model (root only; a visible skip
//! otherwise, a failure under `TORTURE_REQUIRE_ALL=1`).

use std::path::Path;

use crate::{python, run, scratch_dir, writer};

/// Root and mkfs.ext4, or a skip (a failure under `TORTURE_REQUIRE_ALL=1`).
fn can_mount() -> bool {
    if !testkit::root_or_skip("for power-real (loop devices, mount)") {
        return false;
    }
    let mkfs = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !mkfs {
        testkit::skip("power-real needs mkfs.ext4 (e2fsprogs)");
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
fn builtins_on_ext4_lie_inside_the_linux_model() {
    if !can_mount() {
        return;
    }
    let keep = scratch_dir("real-keep");
    let keep_dir = keep.to_str().unwrap();
    let out = run(&[
        "power-real",
        "--fs",
        "ext4",
        "--subject",
        "rename",
        "--subject",
        "rename-fsync",
        "--subject",
        "intact",
        "--settle-ms",
        "0",
        "--keep-dir",
        keep_dir,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
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
    let _ = std::fs::remove_dir_all(&keep);
}

#[test]
fn a_model_that_makes_renames_durable_at_once_is_caught() {
    if !can_mount() {
        return;
    }
    let keep = scratch_dir("real-optimistic");
    let keep_dir = keep.to_str().unwrap();
    let out = run(&[
        "power-real",
        "--fs",
        "ext4",
        "--subject",
        "rename",
        "--settle-ms",
        "0",
        "--assume",
        "rename-durable",
        "--keep-dir",
        keep_dir,
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("MODEL BUG: ext4 rename"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("replay: torture power-real --fs ext4 --at e"),
        "{}",
        out.stdout
    );
    let kept: Vec<_> = std::fs::read_dir(&keep).unwrap().flatten().collect();
    assert!(
        kept.iter()
            .any(|e| e.path().extension().is_some_and(|x| x == "img")),
        "{kept:?}"
    );
    assert!(
        kept.iter()
            .any(|e| e.file_name().to_string_lossy().ends_with(".trace.jsonl"))
    );
    let _ = std::fs::remove_dir_all(&keep);
}

#[test]
fn a_python_writer_is_checked_like_a_builtin() {
    if !can_mount() {
        return;
    }
    let command = format!("{} {}", python(), writer("atomic_replace.py"));
    let out = run(&[
        "power-real",
        "--fs",
        "ext4",
        "--command",
        &command,
        "--sample",
        "4",
        "--settle-ms",
        "0",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let states = lines(&out.stdout, "atomic_replace.py");
    assert_eq!(states.len(), 5, "4 held points and +0ms: {states:#?}");
    assert!(!out.stdout.contains("OUTSIDE"), "{}", out.stdout);
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let out = run(&["power-real", "--fs", "zfs"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("ext4, ext4-noauto_da_alloc, xfs or btrfs"),
        "{}",
        out.stderr
    );
    let out = run(&[
        "power-real",
        "--subject",
        "no-such-writer",
        "--settle-ms",
        "0",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unknown subject"), "{}", out.stderr);
}
