//! Every command's replay line carries the options that shape its verdict: the first replay
//! line a campaign prints, run as printed (with `--check` where the command takes one), gives
//! the same verdict.

use std::process::Command;

use crate::{Outcome, python, torture, writer};

/// A JSON check that fails on a torn file.
fn json_check() -> String {
    format!(
        "{} -c 'import json, sys; json.load(open(sys.argv[1]))' {{file}}",
        python()
    )
}

/// The first `replay: torture ...` line of `outcome`, as printed.
pub(crate) fn first_replay(outcome: &Outcome) -> String {
    let at = outcome
        .stdout
        .find("replay: torture ")
        .unwrap_or_else(|| panic!("no replay line: {outcome:?}"));
    let line = outcome.stdout[at + "replay: ".len()..].lines().next();
    line.expect("a line").to_owned()
}

/// Runs a printed replay line through the shell, with this build's `torture` and no report.
pub(crate) fn replay(line: &str) -> Outcome {
    let rest = line.strip_prefix("torture ").expect("a torture command");
    let (command, options) = rest.split_once(' ').expect("a command and options");
    let binary = env!("CARGO_BIN_EXE_torture");
    let script = format!("{binary} {command} --no-report {options}");
    let mut command = Command::new("sh");
    command.args(["-c", &script]);
    Outcome::of(crate::bounded_output(command))
}

fn assert_replays_caught(command: &str, extra: &[&str], script: &str, check: bool) {
    let script = writer(script);
    let check_command = json_check();
    let mut args = vec![command, "--seed", "3", "--expect", "caught"];
    if check {
        args.extend(["--check", check_command.as_str()]);
    }
    args.extend_from_slice(extra);
    args.extend(["--", python(), &script, "{target}"]);
    let found = torture(&args);
    assert_eq!(found.code, 0, "{found:?}");
    assert!(found.stdout.contains("CAUGHT"), "{found:?}");
    let line = first_replay(&found);
    if check {
        assert!(line.contains("--check "), "{line}");
    }
    let replayed = replay(&line);
    assert_eq!(replayed.code, 0, "{line}\n{replayed:?}");
    assert!(replayed.stdout.contains("CAUGHT"), "{line}\n{replayed:?}");
}

#[test]
fn a_kill_replay_line_with_check_gives_the_same_verdict() {
    assert_replays_caught("kill", &["--trials", "6"], "plain_open.py", true);
}

#[test]
fn a_power_replay_line_with_check_gives_the_same_verdict() {
    assert_replays_caught("power", &["--max-states", "40"], "plain_open.py", true);
}

#[test]
fn an_errors_replay_line_with_check_gives_the_same_verdict() {
    assert_replays_caught("errors", &["--trials", "6"], "plain_open.py", true);
}

#[test]
fn a_race_replay_line_gives_the_same_verdict() {
    // `race` judges versions it learns from solo runs here; `race --check` is in `race.rs`.
    let extra = ["--writers", "2", "--schedules", "3", "--preemptions", "0"];
    assert_replays_caught("race", &extra, "race_fixed_tmp.py", false);
}

#[test]
fn a_power_replay_line_carries_setup_ack_line_and_recover() {
    let script = writer("journal_write.py");
    let check = format!(
        "{} {} {{file}} {{stdout}}",
        python(),
        writer("journal_check.py")
    );
    let found = torture(&[
        "power",
        "--seed",
        "3",
        "--setup",
        "echo '{\"generation\": 0}' > target.json",
        "--ack-line",
        "^committed$",
        "--recover",
        "test -d {dir}",
        "--check",
        &check,
        "--",
        python(),
        &script,
        "{target}",
        "--no-dir-fsync",
    ]);
    assert_eq!(found.code, 1, "{found:?}");
    let line = first_replay(&found);
    for option in ["--setup ", "--ack-line ", "--recover ", "--check "] {
        assert!(line.contains(option), "{option}: {line}");
    }
    let replayed = replay(&line);
    assert_eq!(replayed.code, 1, "{line}\n{replayed:?}");
    assert!(
        replayed.stdout.contains("generation 0 is back"),
        "{line}\n{replayed:?}"
    );
}
