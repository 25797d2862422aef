//! Whole trees in every crash kind: `torture kill` and `torture errors` judge the tree a crash
//! (or a faulted run) left with `--check`, the writer's acknowledged lines in `{stdout}`, a
//! `--recover` command first; `--ack-line` feeds the built-in judge without `--check`; `race`
//! refuses what it cannot mean, with its reason.

use crate::{Outcome, num, python, scratch_dir, torture, writer};

/// `torture kill --initial absent --exhaustive` of `ack_then_rename.py` with `options`.
fn kill_acks(options: &[&str], writer_args: &[&str]) -> Outcome {
    let script = writer("ack_then_rename.py");
    let mut args = vec!["kill", "--initial", "absent", "--exhaustive", "--seed", "3"];
    args.extend_from_slice(options);
    args.extend(["--", python(), &script, "{target}"]);
    args.extend_from_slice(writer_args);
    crate::run(&args)
}

fn acked_check() -> String {
    format!(
        "{} {} {{file}} {{stdout}}",
        python(),
        writer("acked_check.py")
    )
}

#[test]
fn a_kill_checker_reading_stdout_acks_catches_an_ack_before_the_rename_in_every_report() {
    let check = acked_check();
    let options = ["--ack-line", "^ack ", "--check", &check, "--no-report"];
    let after = kill_acks(&options, &[]);
    assert_eq!(after.code, 0, "acks after each rename: {after:?}");
    assert!(after.stdout.contains("checker runs"), "{after:?}");
    let reports = scratch_dir("crash-tree-reasons");
    let dir = reports.to_string_lossy().into_owned();
    let options = [
        "--ack-line",
        "^ack ",
        "--check",
        &check,
        "--report-dir",
        &dir,
    ];
    let early = kill_acks(&options, &["--ack-early"]);
    assert_eq!(early.code, 1, "an ack before its rename: {early:?}");
    let reason = "acknowledged record 1 is lost";
    assert!(early.stdout.contains(reason), "{early:?}");
    let run = crate::the_run_dir(&reports);
    for file in ["summary.md", "results.jsonl", "junit.xml"] {
        let text = std::fs::read_to_string(run.join(file)).expect(file);
        assert!(text.contains(reason), "{file}: {text}");
    }
    let results = std::fs::read_to_string(run.join("results.jsonl")).expect("results");
    let trial: serde_json::Value = results
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .find(|t: &serde_json::Value| t["reason"].is_string())
        .expect("a rejected trial");
    assert_eq!(trial["reason"], reason, "{trial}");
    assert_eq!(trial["verdict"], "torn", "{trial}");
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn a_kill_checker_sees_exactly_the_lines_printed_before_the_kill() {
    let scratch = scratch_dir("crash-tree-stdout");
    let log = scratch.join("seen");
    let check = format!("{} {}", acked_check(), log.display());
    let out = kill_acks(
        &["--ack-line", "^ack ", "--check", &check, "--no-report"],
        &[],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let seen = std::fs::read_to_string(&log).expect("the checker's log");
    let mut kinds: Vec<&str> = seen.lines().collect();
    kinds.sort_unstable();
    kinds.dedup();
    // Nothing printed yet, then one, two, three acknowledgements: TORTURE_ACKS counts them.
    assert_eq!(
        kinds,
        ["0|", "1|ack 1", "2|ack 1;ack 2", "3|ack 1;ack 2;ack 3"],
        "{seen}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn ack_line_without_check_is_the_built_in_judges_acknowledgement_in_kill() {
    let after = kill_acks(&["--ack-line", "^ack ", "--no-report"], &["--once"]);
    assert_eq!(after.code, 0, "{after:?}");
    let early = kill_acks(
        &["--ack-line", "^ack ", "--no-report"],
        &["--once", "--ack-early"],
    );
    assert_eq!(early.code, 1, "{early:?}");
    assert!(
        early
            .stdout
            .contains("the writer acknowledged, but the target is not a new version"),
        "{early:?}"
    );
    // Without --ack-line the exit is the acknowledgement: the early line means nothing.
    let by_exit = kill_acks(&["--no-report"], &["--once", "--ack-early"]);
    assert_eq!(by_exit.code, 0, "{by_exit:?}");
}

/// `torture errors --fault eio` of `journal_write.py`, judged by "no journal is left" after
/// `recover` (if any).
fn errors_with_recover(recover: Option<&str>) -> Outcome {
    let script = writer("journal_write.py");
    let mut args = vec![
        "errors", "--fault", "eio", "--seed", "1", "--format", "json",
    ];
    args.extend(["--check", "test ! -e {file}-journal"]);
    if let Some(recover) = recover {
        args.extend(["--recover", recover]);
    }
    args.extend(["--", python(), &script, "{target}"]);
    torture(&args)
}

#[test]
fn an_errors_run_recovers_each_faulted_tree_with_recover_before_the_check() {
    let left = errors_with_recover(None);
    assert_eq!(left.code, 1, "a failed write leaves the journal: {left:?}");
    let rollback = format!(
        "{} {} {{file}} {{stdout}}",
        python(),
        writer("journal_check.py")
    );
    let recovered = errors_with_recover(Some(&rollback));
    assert_eq!(recovered.code, 0, "the rollback removes it: {recovered:?}");
    let subject = recovered.subject();
    assert!(num(&subject, "injections") > 5, "{subject}");
    let failing = errors_with_recover(Some("echo cannot open the database; exit 3"));
    assert_eq!(failing.code, 1, "{failing:?}");
    assert!(
        failing
            .stdout
            .contains("--recover: cannot open the database"),
        "{failing:?}"
    );
}

#[test]
fn race_refuses_ack_line_recover_validate_and_units_with_the_reason() {
    let script = writer("race_mkstemp.py");
    for (extra, reason) in [
        (&["--ack-line", "x"][..], "acknowledges by its exit"),
        (&["--check", "true", "--recover", "true"], "is its recovery"),
        (&["--validate", "json"], "judge the whole tree with --check"),
        (
            &["--target", "a", "--target", "b"],
            "judge several files together with --check CMD",
        ),
        (
            &["--marker", "_SUCCESS"],
            "judge several files together with --check CMD",
        ),
    ] {
        let mut args = vec!["race"];
        args.extend_from_slice(extra);
        args.extend(["--", python(), &script, "{target}"]);
        let out = torture(&args);
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        assert!(out.stderr.contains(reason), "{extra:?}: {out:?}");
    }
}

/// `torture race` of `race_mkstemp.py` writing `out/t.json`, with `options`.
fn race_into_out(options: &[&str]) -> Outcome {
    let script = writer("race_mkstemp.py");
    let mut args = vec!["race", "--writers", "2", "--seed", "1", "--schedules", "2"];
    args.extend(["--preemptions", "0", "--target", "out/t.json"]);
    args.extend_from_slice(options);
    args.extend(["--", python(), &script, "{target}"]);
    torture(&args)
}

#[test]
fn a_race_starts_every_run_from_the_setup_tree_and_its_target_is_the_old_version() {
    // Without the setup nothing makes `out/`: the writer cannot work alone.
    let bare = race_into_out(&["--initial", "absent"]);
    assert_eq!(bare.code, 2, "{bare:?}");
    // The reads before the first replace see `old`: torn unless it is the old version; the
    // setup's other files are the application's, no leftover under --strict.
    let setup = "mkdir out && echo old > out/t.json && echo keep > keep.txt";
    let prepared = race_into_out(&["--setup", setup, "--strict", "--format", "json"]);
    assert_eq!(prepared.code, 0, "{prepared:?}");
    let subject = prepared.subject();
    assert!(num(&subject, "reads_checked") > 10, "{subject}");
    let failing = race_into_out(&["--setup", "echo no disk; exit 3"]);
    assert_eq!(failing.code, 2, "{failing:?}");
    assert!(failing.stderr.contains("no disk"), "{failing:?}");
}

/// The numbers of the subject's note: trees judged, checker runs.
fn judged_and_runs(out: &Outcome) -> (u64, u64) {
    let note = out
        .stdout
        .lines()
        .find(|l| l.contains("--check judged"))
        .unwrap_or_else(|| panic!("no note of the checks: {out:?}"));
    let numbers: Vec<u64> = note
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn each_distinct_kill_tree_is_checked_once_over_the_workers() {
    let scratch = scratch_dir("crash-tree-dedup");
    let log = scratch.join("runs");
    let check = format!("echo run >> {} && {}", log.display(), acked_check());
    let options = [
        "--jobs",
        "2",
        "--ack-line",
        "^ack ",
        "--check",
        &check,
        "--no-report",
    ];
    let out = kill_acks(&options, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = std::fs::read_to_string(&log).expect("runs").lines().count() as u64;
    let _ = std::fs::remove_dir_all(&scratch);
    let (judged, checked) = judged_and_runs(&out);
    // One run more: the check of the golden run's own tree.
    assert_eq!(runs, checked + 1, "{out:?}");
    assert!(checked < judged / 2, "{judged} judged, {checked} checked");
}

#[test]
fn kill_shards_judged_by_a_tree_check_merge_into_one_verdict() {
    let scratch = scratch_dir("crash-tree-merge");
    let check = acked_check();
    let mut shards = Vec::new();
    for part in ["1/2", "2/2"] {
        let dir = scratch.join(part.replace('/', "-of-"));
        let dir_arg = dir.to_string_lossy().into_owned();
        let options = [
            "--partition",
            part,
            "--check",
            &check,
            "--report-dir",
            &dir_arg,
        ];
        let out = kill_acks(
            &[&["--ack-line", "^ack "][..], &options].concat(),
            &["--ack-early"],
        );
        assert!(out.code == 0 || out.code == 1, "{part}: {out:?}");
        shards.push(dir);
    }
    let mut args = vec!["merge".to_owned()];
    args.extend(shards.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend([
        "--report-dir".into(),
        scratch.join("merged").to_string_lossy().into_owned(),
    ]);
    let merged = crate::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        merged.code, 1,
        "the early ack is caught over the shards: {merged:?}"
    );
    assert!(merged.stdout.contains("acknowledged record"), "{merged:?}");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// `torture errors --fault eio --initial absent` of `ack_then_rename.py --once` with `options`.
fn errors_acks(options: &[&str], writer_args: &[&str]) -> Outcome {
    let script = writer("ack_then_rename.py");
    let mut args = vec![
        "errors",
        "--fault",
        "eio",
        "--initial",
        "absent",
        "--seed",
        "1",
    ];
    args.extend_from_slice(options);
    args.extend(["--", python(), &script, "{target}", "--once"]);
    args.extend_from_slice(writer_args);
    torture(&args)
}

#[test]
fn ack_line_without_check_is_the_built_in_judges_acknowledgement_in_errors() {
    // A failed rename after the ack line: acknowledged, yet no target.
    let early = errors_acks(&["--ack-line", "^ack "], &["--ack-early"]);
    assert_eq!(early.code, 1, "{early:?}");
    assert!(
        early
            .stderr
            .contains("print the acknowledgement only after the rename"),
        "{early:?}"
    );
    assert_eq!(errors_acks(&["--ack-line", "^ack "], &[]).code, 0);
    // Without --ack-line the failed exit is no acknowledgement.
    assert_eq!(errors_acks(&[], &["--ack-early"]).code, 0);
}
