//! Built-in subjects: the canaries are caught, the correct strategies pass.

use crate::{num, run, torture, verdict};

#[test]
fn canaries_are_caught_with_torn_targets_and_exit_zero() {
    let out = torture(&[
        "kill",
        "--subject",
        "plain",
        "--subject",
        "plain-fsync",
        "--trials",
        "60",
        "--size",
        "16KiB",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.code, 0,
        "a caught canary is the expected outcome: {out:?}"
    );
    let subjects = out.subjects();
    assert_eq!(subjects.len(), 2, "one line per subject: {out:?}");
    for subject in subjects {
        assert_eq!(subject["status"], "caught", "{subject}");
        assert!(verdict(&subject, "torn") > 0, "{subject}");
        assert!(num(&subject, "violations") > 0, "{subject}");
        let smallest = &subject["smallest_violation"];
        assert_eq!(
            smallest["kill_point"], "byte:1",
            "the first byte already tears the target: {subject}"
        );
        assert!(
            smallest["replay"]
                .as_str()
                .is_some_and(|r| r.contains("--kill-at byte:1")),
            "{subject}"
        );
    }
}

#[test]
fn intact_and_rename_pass_an_exhaustive_sweep() {
    let out = torture(&[
        "kill",
        "--subject",
        "intact",
        "--subject",
        "rename",
        "--exhaustive",
        "--size",
        "2048",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let subjects = out.subjects();
    assert_eq!(subjects.len(), 2, "one line per subject: {out:?}");
    for subject in subjects {
        assert_eq!(subject["status"], "passed", "{subject}");
        assert_eq!(
            (verdict(&subject, "torn"), num(&subject, "violations")),
            (0, 0),
            "{subject}"
        );
        let space = &subject["kill_space"];
        let every_point = num(space, "bytes") + num(space, "boundaries");
        assert_eq!(
            num(&subject, "trials"),
            every_point,
            "exhaustive means every kill point: {subject}"
        );
        assert_eq!(num(space, "bytes"), 2048, "{subject}");
        assert!(
            verdict(&subject, "old") > 0 && verdict(&subject, "new") > 0,
            "{subject}"
        );
    }
}

#[test]
fn rename_leaves_orphans_and_strict_fails_on_them() {
    let args = [
        "kill",
        "--subject",
        "rename",
        "--trials",
        "30",
        "--size",
        "4096",
        "--seed",
        "5",
        "--format",
        "json",
    ];
    let lenient = torture(&args);
    assert_eq!(lenient.code, 0, "{lenient:?}");
    let subject = lenient.subject();
    assert!(
        num(&subject, "orphans") > 0,
        "a killed rename leaves its temp file: {subject}"
    );
    assert!(
        num(&subject, "orphans_after_recovery") > 0,
        "rename never cleans old temps: {subject}"
    );
    assert_eq!(num(&subject, "violations"), 0, "{subject}");

    let strict = torture(&[&args[..], &["--strict"]].concat());
    assert_eq!(strict.code, 1, "{strict:?}");
    let subject = strict.subject();
    assert_eq!(subject["status"], "failed", "{subject}");
    assert_eq!(
        num(&subject, "violations"),
        num(&subject, "orphans_after_recovery"),
        "{subject}"
    );
}

#[test]
fn replaying_a_kill_point_gives_the_same_verdict() {
    let replay = [
        "kill",
        "--subject",
        "plain",
        "--size",
        "16KiB",
        "--seed",
        "7",
        "--kill-at",
        "byte:4097",
    ];
    let out = torture(&[&replay[..], &["--format", "json"]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(num(&subject, "trials"), 1, "{subject}");
    assert_eq!(verdict(&subject, "torn"), 1, "{subject}");
    assert_eq!(subject["smallest_violation"]["kill_point"], "byte:4097");

    let human = torture(&replay);
    assert!(
        human
            .stdout
            .contains("a 4097-byte prefix of the new version"),
        "{human:?}"
    );
    assert!(
        human.stdout.contains("replay: torture kill --subject plain --size 16384 --initial old --seed 7 --kill-at byte:4097"),
        "{human:?}"
    );
}

#[test]
fn list_shows_every_subject_with_its_expectation() {
    let out = run(&["list"]);
    assert_eq!(out.code, 0, "{out:?}");
    for name in [
        "plain",
        "plain-fsync",
        "rename",
        "rename-fsync",
        "fixed-temp",
        "intact",
        "intact-named",
        "intact-anonymous",
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name));
        let line = line.unwrap_or_else(|| panic!("{name} not listed: {out:?}"));
        let canary = name.starts_with("plain");
        let columns: Vec<&str> = line.split_whitespace().collect();
        // subject, then SIGKILL, power cut, I/O errors, racing, then the origin.
        assert_eq!(columns[1] == "caught", canary, "SIGKILL column: {line}");
        assert_eq!(
            columns[2] == "pass",
            ["intact", "intact-named", "intact-anonymous"].contains(&name),
            "power column: {line}"
        );
        assert_eq!(columns[5], "built-in", "{line}");
    }
    for peer in ["tempfile-persist", "atomicwrites", "atomic-write-file"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(peer));
        let line = line.unwrap_or_else(|| panic!("{peer} not listed: {out:?}"));
        assert!(line.contains(" peer "), "{line}");
    }
}

/// A recovery run is the writer's whole step, start-up sweep included: `intact-named` leaves a
/// named temp file when killed, and its next run sweeps it, so `--strict` passes.
#[test]
fn a_sweeping_writer_leaves_nothing_after_recovery() {
    let out = torture(&[
        "kill",
        "--subject",
        "intact-named",
        "--size",
        "4KiB",
        "--trials",
        "40",
        "--seed",
        "1",
        "--strict",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert!(
        num(&subject, "orphans") > 0,
        "killed runs leave temp files: {subject}"
    );
    assert_eq!(num(&subject, "orphans_after_recovery"), 0, "{subject}");
}
