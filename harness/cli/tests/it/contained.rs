//! Every run is contained: a writer that leaves a detached child running (`setsid sleep &`)
//! leaves no process behind after any command, and is told so, with a cgroup per untraced run
//! and without one (the path a user without root takes).

use crate::{torture_with, writer};

/// The test writer's child sleeps this long: a duration no other process uses, this test
/// binary's pid among its digits, so that two test runs at once never see each other's child.
fn marked_duration() -> String {
    format!("311.{}", std::process::id())
}

/// Whether any process runs the test writer's marked `sleep`.
fn child_left() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let marked = format!("sleep\0{}\0", marked_duration());
    entries.filter_map(Result::ok).any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        cmdline == marked.as_bytes()
    })
}

/// With a cgroup per untraced run (root), then on the path a user without root takes (no
/// cgroup: the run's process group and its mark), run here even as root. One test, so the
/// two never see each other's children.
#[test]
fn a_setsid_child_ends_with_the_writer_in_every_command() {
    every_command_ends_the_child(&[]);
    every_command_ends_the_child(&[(torture_engine::cgroup::NO_CGROUP_VAR, "1")]);
}

fn every_command_ends_the_child(env: &[(&str, &str)]) {
    let script = writer("leaves_a_child.sh");
    let duration = marked_duration();
    let commands: [&[&str]; 4] = [
        &["kill", "--trials", "8", "--seed", "1"],
        &["power", "--seed", "1"],
        &["errors", "--trials", "8", "--seed", "1"],
        &["race", "--schedules", "2", "--seed", "1"],
    ];
    for args in commands {
        let writer = ["--", "sh", &script, "{target}", &duration];
        let out = torture_with(env, &[args, &writer[..]].concat());
        assert!(
            !child_left(),
            "`torture {}` left the child running ({env:?}): {out:?}",
            args[0]
        );
        assert!(
            !out.stdout.contains("timeout") && !out.stderr.contains("timeout"),
            "the run ends with the writer, not at a timeout: {out:?}"
        );
        assert_eq!(out.code, 0, "{}: {out:?}", args[0]);
        assert!(
            out.stdout.contains("left 1 process running (pid")
                && out.stdout.contains(&format!("sleep {duration})"))
                && out
                    .stdout
                    .contains("torture ended it when the writer exited"),
            "`torture {}`: the writer is told what it left running: {out:?}",
            args[0]
        );
    }
}
