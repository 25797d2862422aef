//! `torture race` end to end: Python writers from the founding story, the built-ins, replay.

use crate::{python, run, scratch_dir, torture, writer};

/// Runs `torture race` with a report in a scratch directory; returns the outcome and the
/// subjects' `results.jsonl` lines.
fn race(name: &str, args: &[&str]) -> (crate::Outcome, Vec<serde_json::Value>) {
    let dir = scratch_dir(name);
    let report_dir = dir.to_string_lossy().into_owned();
    let mut all = vec!["race", "--report-dir", &report_dir];
    all.extend_from_slice(args);
    let outcome = run(&all);
    let lines = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut runs| runs.next())
        .and_then(|entry| std::fs::read_to_string(entry.ok()?.path().join("results.jsonl")).ok())
        .unwrap_or_default();
    let results = lines
        .lines()
        .map(|line| serde_json::from_str(line).expect("results.jsonl is JSON lines"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (outcome, results)
}

fn python_race(script: &str, extra: &[&str]) -> (crate::Outcome, Vec<serde_json::Value>) {
    let script = writer(script);
    let mut args = vec!["--writers", "2", "--seed", "1"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", python(), &script, "{target}"]);
    race(&format!("race-{}", script.len()), &args)
}

#[test]
fn a_fixed_tmp_name_in_python_is_caught_with_its_story() {
    let (outcome, results) = python_race(
        "race_fixed_tmp.py",
        &[
            "--schedules",
            "4",
            "--preemptions",
            "0",
            "--expect",
            "caught",
        ],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(outcome.stdout.contains("CAUGHT"), "{}", outcome.stdout);
    let finding = &results[0]["finding"];
    let kind = finding["kind"].as_str().unwrap();
    let lost = [
        "torn-read",
        "torn-final",
        "final-not-from-successful-writer",
        "success-overwritten-by-torn",
        "writer-failed",
    ];
    assert!(lost.contains(&kind), "{finding}");
    assert!(
        outcome
            .stdout
            .contains("Fix: a unique temp name per run (O_TMPFILE, mkstemp)."),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("replay: torture race --writers 2 --seed 1 --schedule ")
    );
}

#[test]
fn mkstemp_and_os_replace_in_python_pass() {
    let (outcome, results) = python_race(
        "race_mkstemp.py",
        &["--schedules", "4", "--preemptions", "0"],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(results[0]["status"], "PASS", "{}", outcome.stdout);
    assert!(results[0]["reads_checked"].as_u64().unwrap() > 0);
}

#[test]
fn python_safer_with_a_temp_file_passes() {
    let probe = std::process::Command::new(python())
        .args(["-c", "import safer"])
        .status()
        .expect("run python");
    if !probe.success() {
        testkit::skip("python safer is not installed (run .ci/setup python)");
        return;
    }
    let (outcome, results) =
        python_race("race_safer.py", &["--schedules", "4", "--preemptions", "0"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(results[0]["status"], "PASS", "{}", outcome.stdout);
}

#[test]
fn the_builtins_race_as_the_catalogue_says() {
    let (outcome, results) = race(
        "race-builtins",
        &[
            "--subject",
            "fixed-temp",
            "--subject",
            "rename",
            "--subject",
            "intact",
            "--subject",
            "intact-noclobber",
            "--subject",
            "plain",
            "--writers",
            "3",
            "--schedules",
            "5",
            "--preemptions",
            "0",
            "--seed",
            "3",
        ],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    let status = |name: &str| {
        let line = results.iter().find(|r| r["subject"] == name).expect(name);
        (
            line["status"].as_str().unwrap().to_owned(),
            line["mode"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(status("fixed-temp").0, "CAUGHT");
    assert_eq!(status("plain").0, "CAUGHT");
    assert_eq!(status("rename").0, "PASS");
    assert_eq!(status("intact").0, "PASS");
    // PASS under no-clobber rules: exactly one version ever published, the losers exited
    // non-zero and left nothing.
    assert_eq!(
        status("intact-noclobber"),
        ("PASS".to_owned(), "no-clobber".to_owned())
    );
    assert!(outcome.stdout.contains("interleavings/s"));
    assert!(
        outcome
            .stdout
            .lines()
            .any(|l| l.starts_with("race: 5 subjects"))
    );
}

#[test]
fn a_schedule_id_replays_the_same_interleaving_and_verdict() {
    let args = [
        "race",
        "--subject",
        "fixed-temp",
        "--writers",
        "2",
        "--seed",
        "5",
    ];
    let first = torture(&args);
    assert_eq!(first.code, 0, "{first:?}");
    let replay = first
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: torture "))
        .expect("a replay line")
        .to_owned();
    let words: Vec<&str> = replay.split(' ').collect();
    let again = torture(&words);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("CAUGHT [     1 interleavings] fixed-temp"),
        "{}",
        again.stdout
    );
    let story = |out: &str| {
        out.lines()
            .filter(|l| l.starts_with("    ") && !l.contains("interleavings/s"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(story(&first.stdout), story(&again.stdout));
}

#[test]
fn bad_race_options_exit_2() {
    let bad = torture(&["race", "--writers", "1"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    let bad = torture(&["race", "--schedule", "1x0"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    let bad = torture(&["race", "--no-clobber", "--subject", "intact"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--no-clobber"), "{}", bad.stderr);
}
