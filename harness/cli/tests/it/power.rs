//! `torture power`: Python writers judged after simulated power cuts, crash-state replays, the
//! main job's writers × crash kinds table, and the `process` model against real SIGKILL trials.

use super::{scratch_dir, torture, with_writer};

fn power_on(mode: &str, extra: &[&str]) -> super::Outcome {
    let args = [&["power", "--seed", "1", "--format", "json"][..], extra].concat();
    with_writer(&args, "durable_replace.py", &[mode, "{target}"])
}

fn finding_lines(out: &super::Outcome) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

#[test]
fn plain_open_is_caught_by_a_power_cut() {
    let out = with_writer(
        &["power", "--expect", "caught"],
        "plain_open.py",
        &["{target}"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("CAUGHT"), "{out:?}");
}

#[test]
fn replace_without_any_fsync_is_caught() {
    let out = power_on("none", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "FAIL", "{subject}");
    assert!(
        subject["after_ack"]["torn"].as_u64().unwrap_or(0) > 0,
        "{subject}"
    );
}

/// fsync of the renamed file instead of its directory: ext4, xfs and btrfs persist the new name
/// with it, POSIX does not promise it; the report says so in one line.
#[test]
fn a_renamed_file_fsynced_without_its_directory_holds_on_linux_file_systems_not_posix() {
    let linux = power_on("renamed", &[]);
    assert_eq!(linux.code, 0, "{linux:?}");
    assert_eq!(linux.subject()["status"], "PASS", "{linux:?}");
    let posix = power_on("renamed", &["--model", "posix"]);
    assert_eq!(posix.code, 1, "{posix:?}");
    let subject = posix.subject();
    assert_eq!(
        subject["holds"],
        "breaks under posix; holds on ext4, xfs and btrfs (relies on fsync persisting a file's new name)",
        "{subject}"
    );
}

#[test]
fn replace_without_a_directory_fsync_is_caught_after_the_ack() {
    let power = ["power", "--seed", "1"];
    let out = with_writer(&power, "durable_replace.py", &["file", "{target}"]);
    assert_eq!(out.code, 1, "{out:?}");
    let text = finding_lines(&out);
    assert!(text.contains("after the acknowledgement"), "{text}");
    assert!(
        text.contains("fsync the directory after the rename"),
        "{text}"
    );
    assert!(text.contains("--state e"), "a replay line: {text}");
}

#[test]
fn replace_with_both_fsyncs_passes() {
    let out = power_on("both", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert_eq!(subject["violations"], 0, "{subject}");
    assert!(
        subject["recovery_runs"].as_u64().unwrap_or(0) > 0,
        "{subject}"
    );
}

#[test]
fn acknowledging_before_the_directory_fsync_is_caught_under_ack_line() {
    let exit_ack = power_on("done-early", &[]);
    assert_eq!(exit_ack.code, 0, "durable by exit: {exit_ack:?}");
    let line_ack = power_on("done-early", &["--ack-line", "^done$"]);
    assert_eq!(line_ack.code, 1, "{line_ack:?}");
    let subject = line_ack.subject();
    assert_eq!(subject["acknowledgement"], "printed \"done\"", "{subject}");
    assert!(
        subject["after_ack"]["old"].as_u64().unwrap_or(0) > 0,
        "{subject}"
    );
}

/// The replay command of the first violation of `rename` (8 KiB).
fn rename_replay() -> String {
    let out = torture(&[
        "power",
        "--subject",
        "rename",
        "--size",
        "8KiB",
        "--seed",
        "1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay line: {out:?}"));
    line.to_owned()
}

#[test]
fn a_state_replays_and_materializes() {
    let replay = rename_replay();
    let words: Vec<&str> = replay.split_whitespace().skip(1).collect();
    assert_eq!(words[0], "power", "{replay}");
    let dir = scratch_dir("power-materialize").join("state");
    let dir_text = dir.to_string_lossy().into_owned();
    let args: Vec<&str> = words
        .iter()
        .copied()
        .chain(["--materialize", &dir_text])
        .collect();
    let out = torture(&args);
    assert_eq!(out.code, 0, "a canary's violation is expected: {out:?}");
    assert!(out.stdout.contains("violation: "), "{out:?}");
    let target = std::fs::read(dir.join("target.json")).expect("the crash state's target");
    let new = torture_core::payload::payload(8192, 2);
    assert_ne!(
        target, new,
        "a violating state does not hold the new version"
    );
    let again = torture(&args);
    assert_eq!(
        again.code, 2,
        "a non-empty --materialize directory: {again:?}"
    );
    assert!(again.stderr.contains("not empty"), "{again:?}");
}

#[test]
fn bad_states_and_models_are_usage_errors() {
    let bad_model = torture(&["power", "--subject", "plain", "--model", "ext5"]);
    assert_eq!(bad_model.code, 2, "{bad_model:?}");
    assert!(
        bad_model.stderr.contains("posix, ext4, xfs, btrfs, linux"),
        "{bad_model:?}"
    );
    let bad_id = torture(&["power", "--subject", "plain", "--state", "x12"]);
    assert_eq!(bad_id.code, 2, "{bad_id:?}");
    let past_end = torture(&[
        "power",
        "--subject",
        "plain",
        "--size",
        "4KiB",
        "--state",
        "e999",
    ]);
    assert_eq!(past_end.code, 2, "{past_end:?}");
    assert!(past_end.stderr.contains("past the trace"), "{past_end:?}");
}

#[test]
fn the_main_job_table_has_every_cell_as_expected() {
    let out = torture(&["--size", "4KiB", "--trials", "40", "--seed", "3"]);
    assert_eq!(out.code, 0, "{out:?}");
    let table: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("writer "))
        .collect();
    for heading in ["SIGKILL", "power cut", "I/O errors", "racing"] {
        assert!(table[0].contains(heading), "{heading}: {table:?}");
    }
    let row = |name: &str| -> String {
        let found = table
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name));
        found.map_or_else(
            || panic!("no row {name}: {table:?}"),
            |l| l.trim().to_owned(),
        )
    };
    for passes_all in [
        "intact",
        "intact-named",
        "intact-anonymous",
        "atomicwrites",
        "atomic-write-file",
    ] {
        assert_eq!(
            row(passes_all).matches("passes").count(),
            4,
            "{}",
            row(passes_all)
        );
    }
    assert_eq!(
        row("plain").matches("caught").count(),
        4,
        "{}",
        row("plain")
    );
    for (name, kill) in [
        ("plain", "caught"),
        ("rename-fsync", "passes"),
        ("tempfile-persist", "passes"),
    ] {
        let line = row(name);
        let cells: Vec<&str> = line.splitn(2, ' ').collect();
        assert!(cells[1].trim_start().starts_with(kill), "{line}");
        // The power cell says `caught [n]`; its diagnosis is note [n], in full, under the table.
        let cells: Vec<&str> = line.split("  ").filter(|c| !c.trim().is_empty()).collect();
        let note = cells[2]
            .trim()
            .strip_prefix("caught [")
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or_else(|| panic!("power column caught with a diagnosis: {line}"));
        assert!(
            out.stdout
                .contains(&format!("[{note}] {name}, power cut: ")),
            "{}",
            out.stdout
        );
    }
    assert!(
        !out.stdout.contains("FAILED") && !out.stdout.contains("NOT CAUGHT"),
        "{out:?}"
    );
}

/// Every built-in at a small size: the `process` model finds a violation exactly when SIGKILL at
/// every kill point does.
#[test]
fn the_process_model_agrees_with_sigkill_on_the_built_ins() {
    for strategy in torture_writers::strategies::Strategy::ALL {
        let name = strategy.name();
        let common = [
            "--subject",
            name,
            "--size",
            "1KiB",
            "--seed",
            "1",
            "--format",
            "json",
        ];
        let kill = torture(&[&["kill", "--exhaustive"][..], &common[..]].concat());
        let power = torture(&[&["power", "--model", "process"][..], &common[..]].concat());
        let kill_violations = super::num(&kill.subject(), "violations") > 0;
        let power_subject = power.subject();
        let power_violations = super::num(&power_subject, "violations") > 0;
        assert_eq!(
            kill_violations, power_violations,
            "{name}: kill {kill:?}\npower {power_subject}"
        );
    }
}

/// A slow `--check` under `process` stays within `--max-states` and `--budget`: the report says
/// "not exhaustive" and how many states were judged of how many.
#[test]
fn a_slow_check_under_process_stops_at_the_budget_and_says_not_exhaustive() {
    let power = [
        "power",
        "--model",
        "process",
        "--max-states",
        "500",
        "--budget",
        "2s",
        "--check",
        "sleep 0.05; test -s {file}",
        "--recovery-cap",
        "1",
        "--expect",
        "caught",
        "--format",
        "json",
    ];
    let out = with_writer(&power, "plain_open.py", &["{target}"]);
    let subject = out.subject();
    assert_eq!(subject["exhaustive"], false, "{subject}");
    assert_eq!(subject["budget_spent"], true, "{subject}");
    let judged = subject["states_checked"].as_u64().unwrap_or(u64::MAX);
    assert!(judged < 500, "{subject}");
    let bound = subject["not_exhaustive"].as_str().unwrap_or_default();
    assert!(
        bound.starts_with(&format!("not exhaustive: {judged} of ")),
        "{subject}"
    );
}

/// 16 threads writing 16 files in one directory through `intact::write` (group commit) pass the
/// `linux` model; the same threads without the directory `fsync` are caught. The oracle judges
/// the target; the other 15 files are its siblings.
#[test]
fn sixteen_concurrent_intact_writers_pass_and_their_canary_is_caught() {
    for (name, status) in [("intact-group", "PASS"), ("intact-group-data", "CAUGHT")] {
        let out = torture(&[
            "power",
            "--subject",
            name,
            "--size",
            "1KiB",
            "--seed",
            "1",
            "--format",
            "json",
        ]);
        assert_eq!(out.code, 0, "{name}: {out:?}");
        let subject = out.subject();
        assert_eq!(subject["status"], status, "{name}: {subject}");
        let violations = super::num(&subject, "violations");
        assert_eq!(violations > 0, status == "CAUGHT", "{name}: {subject}");
    }
}
