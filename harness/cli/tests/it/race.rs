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
    assert_fix_is_a_unique_temp_name(&outcome);
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

/// Busy loops on every core, started with the guard and killed (and reaped) when it drops,
/// also when a test panics.
struct BusyCores(Vec<std::process::Child>);

impl BusyCores {
    fn start() -> BusyCores {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let loops = (0..cores)
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("start a busy loop")
            })
            .collect();
        BusyCores(loops)
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Status and interleavings explored of one small race of `script` with `seed`.
fn small_race(script: &str, seed: &str, expect: &str) -> (String, u64) {
    let script = writer(script);
    let args = [
        "--writers",
        "2",
        "--seed",
        seed,
        "--schedules",
        "2",
        "--preemptions",
        "0",
        "--expect",
        expect,
        "--",
        python(),
        &script,
        "{target}",
    ];
    let (outcome, results) = race(&format!("race-load-{seed}-{}", script.len()), &args);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    let status = results[0]["status"].as_str().expect("a status").to_owned();
    (
        status,
        results[0]["interleavings"].as_u64().expect("a count"),
    )
}

#[test]
fn verdicts_do_not_change_with_busy_loops_on_every_core() {
    for seed in ["1", "2", "3", "4", "5"] {
        let idle = small_race("race_mkstemp.py", seed, "pass");
        let loaded = {
            let _busy = BusyCores::start();
            small_race("race_mkstemp.py", seed, "pass")
        };
        assert_eq!(idle.0, "PASS", "seed {seed}");
        assert_eq!(
            loaded, idle,
            "seed {seed}: the same verdict over the same interleavings"
        );
    }
    let _busy = BusyCores::start();
    let (status, _) = small_race("race_fixed_tmp.py", "1", "caught");
    assert_eq!(
        status, "CAUGHT",
        "a shared temp name is still caught under load"
    );
}

#[test]
fn a_lockfile_writer_that_refuses_cleanly_passes_and_is_named() {
    let (outcome, results) = python_race(
        "race_lockfile.py",
        &["--schedules", "3", "--preemptions", "0"],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(results[0]["status"], "PASS", "{}", outcome.stdout);
    let refusal = "found `target.json.lock` already there (openat O_CREAT|O_EXCL: EEXIST) \
                   and exited 255 without touching the target";
    assert!(outcome.stdout.contains(refusal), "{}", outcome.stdout);
    let told = results[0]["clean_failures"].as_array().expect("a list");
    assert!(
        told.iter().any(|t| t.as_str().unwrap().contains(refusal)),
        "{told:?}"
    );
    assert!(results[0]["clean_failure_runs"].as_u64().unwrap() > 0);
    // A lock holder killed mid-race leaves its lock, and the next run gives up: caught.
    let (killed, results) = python_race(
        "race_lockfile.py",
        &[
            "--schedules",
            "4",
            "--preemptions",
            "0",
            "--kill",
            "--expect",
            "caught",
        ],
    );
    assert_eq!(killed.code, 0, "{killed:?}");
    assert_eq!(
        results[0]["finding"]["kind"], "recovery-failed",
        "{}",
        killed.stdout
    );
    assert!(
        killed
            .stdout
            .contains("Fix: a lock that dies with its owner"),
        "{}",
        killed.stdout
    );
}

#[test]
fn a_racer_that_never_reaches_its_next_syscall_is_a_harness_timeout() {
    // Sleeps once it sees the other racer's mark: solo runs never do, racers may, and then
    // they hang between two steps, which no schedule can help.
    let script = "printf x > \"m$TORTURE_WRITER\"; \
                  if [ -e m1 ] && [ -e m2 ]; then sleep 30; fi; \
                  printf \"$TORTURE_GENERATION\" > \"$1.$TORTURE_WRITER\"; \
                  mv \"$1.$TORTURE_WRITER\" \"$1\"";
    let args = [
        "--writers",
        "2",
        "--seed",
        "1",
        "--schedules",
        "8",
        "--preemptions",
        "0",
        "--timeout-ms",
        "1000",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        "{target}",
    ];
    let (outcome, _) = race("race-stalled", &args);
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(
        outcome.stderr.contains(
            "the writer did not reach its next syscall in 1 s of its own time (a harness timeout"
        ),
        "{outcome:?}"
    );
}

/// `torture race --check` of `race_index.py` in `mode`, judged by `race_index_check.py`.
fn index_race(mode: &str, extra: &[&str]) -> (crate::Outcome, Vec<serde_json::Value>) {
    let check = format!("{} {} {{dir}}", python(), writer("race_index_check.py"));
    let script = writer("race_index.py");
    let mut args = vec!["--writers", "2", "--seed", "1", "--check", &check];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", python(), &script, "{target}", mode]);
    race(&format!("race-index-{mode}"), &args)
}

#[test]
fn a_shared_temp_name_beside_the_target_is_caught_by_check_with_its_reason() {
    // The target is always whole and every writer exits 0: only the whole tree shows the bug.
    let extra = [
        "--schedules",
        "6",
        "--preemptions",
        "0",
        "--expect",
        "caught",
    ];
    let (outcome, results) = index_race("fixed", &extra);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    let finding = &results[0]["finding"];
    assert_eq!(finding["kind"], "check-failed", "{finding}");
    let violation = finding["violation"].as_str().unwrap();
    assert!(
        violation.starts_with("--check rejected the whole tree ")
            && violation.contains(": index torn: index of generation "),
        "{violation}"
    );
    assert!(outcome.stdout.contains(violation), "{}", outcome.stdout);
    assert_fix_is_a_unique_temp_name(&outcome);
    let line = crate::replays::first_replay(&outcome);
    assert!(line.contains(" --check "), "{line}");
    let replayed = crate::replays::replay(&line);
    assert_eq!(replayed.code, 0, "{line}\n{replayed:?}");
    assert!(
        replayed.stdout.contains("CAUGHT") && replayed.stdout.contains("index torn"),
        "{line}\n{replayed:?}"
    );
}

#[test]
fn unique_temp_names_pass_with_check_and_distinct_trees_are_checked_once() {
    let (outcome, results) = index_race("unique", &["--schedules", "2", "--preemptions", "0"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(results[0]["status"], "PASS", "{}", outcome.stdout);
    let note = results[0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.starts_with("--check judged "))
        .unwrap_or_else(|| panic!("no --check note: {}", outcome.stdout))
        .to_owned();
    let numbers: Vec<u64> = note
        .split(' ')
        .filter_map(|word| word.parse().ok())
        .collect();
    let (judged, runs) = (numbers[0], numbers[1]);
    assert!(runs > 0 && runs < judged, "{note}");
}

/// The diagnosis of a shared temp name ends with its Fix line.
fn assert_fix_is_a_unique_temp_name(outcome: &crate::Outcome) {
    assert!(
        outcome
            .stdout
            .contains("Fix: a unique temp name per run (O_TMPFILE, mkstemp)."),
        "{}",
        outcome.stdout
    );
}
