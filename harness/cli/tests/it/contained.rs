//! Every run is contained: a writer that leaves a detached child running (`setsid sleep &`)
//! leaves no process behind after any command, and is told so.

use crate::{torture, writer};

/// Whether any process runs the test writer's marked `sleep`.
fn child_left() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        cmdline == b"sleep\x00311.25\x00"
    })
}

#[test]
fn a_setsid_child_ends_with_the_writer_in_every_command() {
    let script = writer("leaves_a_child.sh");
    let commands: [&[&str]; 4] = [
        &["kill", "--trials", "8", "--seed", "1"],
        &["power", "--seed", "1"],
        &["errors", "--trials", "8", "--seed", "1"],
        &["race", "--schedules", "2", "--seed", "1"],
    ];
    for args in commands {
        let out = torture(&[args, &["--", "sh", &script, "{target}"]].concat());
        assert!(
            !child_left(),
            "`torture {}` left the child running: {out:?}",
            args[0]
        );
        assert!(
            !out.stdout.contains("timeout") && !out.stderr.contains("timeout"),
            "the run ends with the writer, not at a timeout: {out:?}"
        );
        assert_eq!(out.code, 0, "{}: {out:?}", args[0]);
        assert!(
            out.stdout.contains("left 1 process running (pid")
                && out.stdout.contains("sleep 311.25)")
                && out
                    .stdout
                    .contains("torture ended it when the writer exited"),
            "`torture {}`: the writer is told what it left running: {out:?}",
            args[0]
        );
    }
}
