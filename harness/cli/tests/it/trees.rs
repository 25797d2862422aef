//! `--check` judges whole crash trees: a database and its journal together, the writer's
//! acknowledged output in `{stdout}`, a tree prepared by `--setup`, a `--recover` command first,
//! each distinct tree checked once.

use std::collections::BTreeMap;
use std::process::Command;

use crate::{Outcome, num, python, scratch_dir, torture, writer};

/// `torture power --format json` of `script` (with `args`) and `options`.
fn power(options: &[&str], script: &str, args: &[&str]) -> Outcome {
    let script = writer(script);
    let mut all = vec!["power", "--seed", "5", "--format", "json"];
    all.extend_from_slice(options);
    all.extend(["--", python(), &script, "{target}"]);
    all.extend_from_slice(args);
    torture(&all)
}

fn journal_check() -> String {
    format!(
        "{} {} {{file}} {{stdout}}",
        python(),
        writer("journal_check.py")
    )
}

#[test]
fn a_journalled_in_place_writer_passes_the_whole_tree_check_though_its_target_alone_tears() {
    let check = journal_check();
    let whole = power(&["--check", &check], "journal_write.py", &[]);
    assert_eq!(whole.code, 0, "{whole:?}");
    let subject = whole.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert!(num(&subject, "distinct_trees_checked") > 1, "{subject}");
    let alone = power(&[], "journal_write.py", &[]);
    assert_eq!(alone.code, 1, "the target alone is torn: {alone:?}");
    assert!(num(&alone.subject()["before_ack"], "torn") > 0, "{alone:?}");
}

/// The first `replay: torture ...` line of a text run.
fn first_replay(outcome: &Outcome) -> String {
    let at = outcome
        .stdout
        .find("replay: torture ")
        .unwrap_or_else(|| panic!("no replay line: {outcome:?}"));
    let line = outcome.stdout[at + "replay: ".len()..].lines().next();
    line.expect("a line").to_owned()
}

#[test]
fn a_lost_unlink_shows_the_checkers_reason_in_every_report_and_its_replay_reproduces_it() {
    let check = journal_check();
    let reports = scratch_dir("tree-reason");
    let reports_arg = reports.to_string_lossy().into_owned();
    let script = writer("journal_write.py");
    let found = crate::run(&[
        "power",
        "--seed",
        "5",
        "--report-dir",
        &reports_arg,
        "--check",
        &check,
        "--",
        python(),
        &script,
        "{target}",
        "--no-dir-fsync",
    ]);
    assert_eq!(found.code, 1, "{found:?}");
    let reason = "acknowledged commit rolled back: generation 1 is back";
    assert!(found.stdout.contains(reason), "{found:?}");
    assert!(
        found
            .stdout
            .contains("fsync the directory after the unlink"),
        "{found:?}"
    );
    let run = crate::the_run_dir(&reports);
    for file in ["summary.md", "results.jsonl", "junit.xml"] {
        let text = std::fs::read_to_string(run.join(file)).expect(file);
        assert!(text.contains(reason), "{file}: {text}");
    }
    let finding = std::fs::read_to_string(run.join("results.jsonl")).expect("results");
    let finding: serde_json::Value = finding
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .find(|v: &serde_json::Value| v["kind"] == "finding")
        .expect("a finding");
    assert_eq!(finding["violation"], "check-failed", "{finding}");
    assert_eq!(finding["reason"], reason, "{finding}");
    let _ = std::fs::remove_dir_all(&reports);
    let line = first_replay(&found);
    let rest = line.strip_prefix("torture power ").expect("a power replay");
    let script = format!("{} power --no-report {rest}", env!("CARGO_BIN_EXE_torture"));
    let mut command = Command::new("sh");
    command.args(["-c", &script]);
    let replayed = Outcome::of(crate::bounded_output(command));
    assert_eq!(replayed.code, 1, "{line}\n{replayed:?}");
    assert!(replayed.stdout.contains(reason), "{line}\n{replayed:?}");
}

#[test]
fn stdout_holds_exactly_the_lines_printed_before_the_crash_and_acks_counts_the_matches() {
    let scratch = scratch_dir("tree-stdout");
    let log = scratch.join("seen");
    let check = format!(
        "{} {} {{file}} {{stdout}} {}",
        python(),
        writer("acked_check.py"),
        log.display()
    );
    let options = [
        "--initial",
        "absent",
        "--ack-line",
        "^ack ",
        "--check",
        &check,
    ];
    let out = power(&options, "ack_appends.py", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let seen = std::fs::read_to_string(&log).expect("the checker's log");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in seen.lines() {
        let (acks, stdout) = line.split_once('|').expect("acks|stdout");
        let lines: Vec<&str> = stdout.split(';').collect();
        assert_eq!(lines[0], "begin", "{line}");
        let expected: Vec<String> = (1..lines.len()).map(|n| format!("ack {n}")).collect();
        assert_eq!(lines[1..], expected, "{line}");
        assert_eq!(acks, (lines.len() - 1).to_string(), "{line}");
        *counts.entry(stdout).or_default() += 1;
    }
    assert_eq!(
        counts.len(),
        4,
        "a crash before each ack and after all: {counts:?}"
    );
    let fails = power(
        &options[..4]
            .iter()
            .chain(&["--check", &check])
            .copied()
            .collect::<Vec<_>>(),
        "ack_appends.py",
        &["--no-fsync"],
    );
    assert_eq!(fails.code, 1, "{fails:?}");
    assert!(fails.stdout.contains("is lost"), "{fails:?}");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_file_prepared_by_setup_is_in_every_crash_state_with_its_contents() {
    let setup = "echo keep > keep.txt && mkdir sub && echo '{\"generation\": 0}' > target.json";
    let check = "test \"$(cat {dir}/keep.txt)\" = keep && test -d {dir}/sub";
    let out = power(
        &["--setup", setup, "--check", check],
        "journal_write.py",
        &[],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert!(num(&subject, "distinct_trees_checked") > 1, "{subject}");
    assert!(num(&subject, "states_checked") > 10, "{subject}");
    let both = power(
        &["--setup", "true", "--initial", "old"],
        "journal_write.py",
        &[],
    );
    assert_eq!(both.code, 2, "--setup and --initial: {both:?}");
    let failing = power(
        &["--setup", "echo no disk; exit 3"],
        "journal_write.py",
        &[],
    );
    assert_eq!(failing.code, 2, "{failing:?}");
    assert!(failing.stderr.contains("no disk"), "{failing:?}");
}

#[test]
fn a_failing_recover_command_is_a_violation_with_its_reason() {
    let check = journal_check();
    let recover = "echo cannot open the database; exit 3";
    let out = power(
        &["--recover", recover, "--check", &check],
        "journal_write.py",
        &[],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.json_lines();
    let finding = lines.iter().find(|l| l["kind"] == "finding");
    let reason = |v: &serde_json::Value| v["reason"].as_str().unwrap_or_default().to_owned();
    let subject = out.subject();
    let said = finding
        .map(reason)
        .unwrap_or_else(|| subject["diagnosis"].to_string());
    assert!(
        said.contains("--recover: cannot open the database"),
        "{out:?}"
    );
    let without_check = power(&["--recover", "true"], "journal_write.py", &[]);
    assert_eq!(
        without_check.code, 2,
        "--recover needs --check: {without_check:?}"
    );
}

#[test]
fn each_distinct_tree_is_checked_once_over_the_workers() {
    let scratch = scratch_dir("tree-dedup");
    let log = scratch.join("runs");
    let check = format!("echo run >> {} && test -e {{file}}", log.display());
    let out = power(&["--jobs", "2", "--check", &check], "journal_write.py", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = std::fs::read_to_string(&log).expect("runs").lines().count() as u64;
    let _ = std::fs::remove_dir_all(&scratch);
    let subject = out.subject();
    let distinct = num(&subject, "distinct_trees_checked");
    // One run more: the check of the golden run's own tree.
    assert_eq!(runs, distinct + 1, "{subject}");
    assert!(distinct < num(&subject, "states_checked"), "{subject}");
}

/// A kill campaign starts every trial from the tree `--setup` prepared, and its checker sees
/// that tree whole; the setup's files are no leftovers (`--strict`).
#[test]
fn kill_starts_from_the_setup_tree() {
    let script = writer("journal_write.py");
    let setup = "echo '{\"generation\": 0}' > target.json && echo keep > keep.txt";
    // The check rolls the journal back in its copy of the crash tree, as a reader would.
    let check = format!(
        "test -s {{dir}}/keep.txt && {} {} {{file}} /dev/null",
        python(),
        writer("journal_check.py")
    );
    let out = torture(&[
        "kill",
        "--trials",
        "5",
        "--seed",
        "2",
        "--setup",
        setup,
        "--strict",
        "--check",
        &check,
        "--format",
        "json",
        "--",
        python(),
        &script,
        "{target}",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(num(&out.subject(), "trials"), 5, "{out:?}");
    assert_eq!(num(&out.subject(), "orphans_after_recovery"), 0, "{out:?}");
}

#[test]
fn the_writers_command_gets_its_sandbox_as_dir_and_torture_dir() {
    // The writer fails (and the golden run with it, exit 2) unless `{dir}` was replaced by the
    // same directory `$TORTURE_DIR` names.
    let script = r#"test "$TORTURE_DIR" = "$1" && test -d "$1" && printf x > "$1/o.tmp" && mv "$1/o.tmp" "$1/out.txt""#;
    let found = torture(&[
        "power",
        "--seed",
        "5",
        "--format",
        "json",
        "--model",
        "process",
        "--initial",
        "absent",
        "--target",
        "out.txt",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        "{dir}",
    ]);
    assert_eq!(found.code, 0, "{found:?}");
    assert_eq!(found.subject()["status"], "PASS", "{found:?}");
}
