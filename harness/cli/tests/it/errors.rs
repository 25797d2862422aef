//! Exit code 2: bad usage and harness errors, each with a message that says what to do.

use crate::{scratch_dir, torture};

fn assert_usage_error(args: &[&str], message: &str) {
    let out = torture(args);
    assert_eq!(out.code, 2, "{args:?}: {out:?}");
    assert!(
        out.stderr.contains(message),
        "{args:?}: stderr lacks {message:?}: {out:?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_usage_error(&["kill", "--trials", "abc"], "invalid value 'abc'");
    assert_usage_error(&["kill", "--trials", "0"], "--trials");
    assert_usage_error(
        &["kill", "--subject", "nonsense"],
        "unknown subject `nonsense`",
    );
    assert_usage_error(&["kill", "--kill-at", "byte:0"], "byte offsets start at 1");
    assert_usage_error(&["kill", "--kill-at", "offset:3"], "byte:N");
    assert_usage_error(&["kill", "--size", "lots"], "is not a size");
    assert_usage_error(
        &["kill", "--expect", "caught"],
        "--expect applies to a command",
    );
    assert_usage_error(&["kill", "--subject", "plain", "--", "true"], "not both");
}

#[test]
fn a_missing_command_is_an_error() {
    assert_usage_error(
        &["kill", "--", "no-such-writer-xyz", "{target}"],
        "command not found",
    );
}

#[test]
fn an_unwritable_dir_is_an_error() {
    // Even root cannot create directories in sysfs or procfs; procfs answers ENOENT, which
    // must not read like a missing path.
    assert_usage_error(&["kill", "--subject", "plain", "--dir", "/sys"], "--dir");
    assert_usage_error(
        &["kill", "--subject", "plain", "--dir", "/proc"],
        "cannot use --dir /proc: not a writable directory (cannot create sandboxes there: ",
    );
    assert_usage_error(
        &["kill", "--subject", "plain", "--dir", "/no/such/dir"],
        "writable directory",
    );
}

#[test]
fn a_target_outside_the_sandbox_is_an_error() {
    assert_usage_error(
        &["kill", "--subject", "plain", "--target", "../escape.json"],
        "outside the sandbox",
    );
    assert_usage_error(
        &["kill", "--subject", "plain", "--target", "/etc/passwd"],
        "outside the sandbox",
    );
}

#[test]
fn a_relative_target_is_inside_the_sandbox() {
    for target in ["./x.json", "x.json"] {
        let out = torture(&[
            "kill",
            "--subject",
            "intact",
            "--size",
            "2KiB",
            "--trials",
            "2",
            "--target",
            target,
        ]);
        assert_eq!(out.code, 0, "{target}: {out:?}");
    }
}

#[test]
fn a_writer_that_writes_nothing_is_an_error() {
    assert_usage_error(&["kill", "--", "true"], "TORTURE_TARGET");
    assert_usage_error(
        &["kill", "--", "sh", "-c", "echo x > elsewhere.json"],
        "wrote nothing at the target",
    );
}

#[test]
fn a_failing_writer_shows_its_stderr() {
    assert_usage_error(
        &["kill", "--", "sh", "-c", "echo disk on fire >&2; exit 3"],
        "disk on fire",
    );
}

#[test]
fn errors_leave_no_sandbox_behind() {
    let dir = scratch_dir("errors-sandbox");
    let dir_arg = dir.to_string_lossy().into_owned();
    assert_usage_error(&["kill", "--dir", &dir_arg, "--", "true"], "wrote nothing");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("read dir").collect();
    assert!(left.is_empty(), "sandbox root left behind: {left:?}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_missing_builtin_writer_says_how_to_build_it() {
    // Under another name, `torture` cannot be its own writer (`__writer`), so it must say what
    // to build.
    let dir = scratch_dir("no-writer");
    let lonely = dir.join("crash-gate");
    std::fs::copy(env!("CARGO_BIN_EXE_torture"), &lonely).expect("copy torture");
    let out = std::process::Command::new(&lonely)
        .args(["kill", "--no-report", "--subject", "plain", "--trials", "1"])
        .output()
        .expect("run the copy");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("torture-writer is missing") && stderr.contains("cargo build"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn torture_without_torture_writer_runs_the_builtins_itself() {
    // `cargo run --bin torture` builds torture alone: it must still run the built-in writers.
    let dir = scratch_dir("lone-torture");
    let lonely = dir.join("torture");
    std::fs::copy(env!("CARGO_BIN_EXE_torture"), &lonely).expect("copy torture");
    let sandboxes = dir.join("sandboxes");
    std::fs::create_dir(&sandboxes).expect("sandbox root");
    let out = std::process::Command::new(&lonely)
        .args([
            "kill",
            "--no-report",
            "--subject",
            "plain",
            "--subject",
            "intact",
        ])
        .args(["--size", "2048", "--trials", "40", "--seed", "3", "--dir"])
        .arg(&sandboxes)
        .output()
        .expect("run the copy");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{out:?}");
    assert!(
        stdout.contains("CAUGHT") && stdout.contains("PASS"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
