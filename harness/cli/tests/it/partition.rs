//! `--partition M/N` and `torture merge`: shards of one campaign judged as one run.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::{Outcome, num, python, run, scratch_dir, writer};

/// `torture ARGS --format json --report-dir DIR`.
fn json_run(args: &[&str], report_dir: &Path) -> Outcome {
    let dir = report_dir.to_string_lossy().into_owned();
    let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let options = ["--format", "json", "--report-dir", &dir];
    run(&[&args[..at], &options[..], &args[at..]].concat())
}

fn merge(shards: &[&Path], out: &Path) -> Outcome {
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(shards.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend(["--format".into(), "json".into(), "--report-dir".into()]);
    args.push(out.to_string_lossy().into_owned());
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `subject -> [absent, old, new, torn, trials, violations]`.
fn counts(out: &Outcome) -> Vec<(String, [u64; 6])> {
    out.subjects()
        .iter()
        .map(|s| {
            let v = &s["verdicts"];
            let label = s["subject"].as_str().unwrap_or_default().to_owned();
            let row = ["absent", "old", "new", "torn"].map(|k| num(v, k));
            let row = [
                row[0],
                row[1],
                row[2],
                row[3],
                num(s, "trials"),
                num(s, "violations"),
            ];
            (label, row)
        })
        .collect()
}

#[test]
fn three_shards_merged_count_what_one_run_counts() {
    let dir = scratch_dir("partition-counts");
    let base = [
        "kill",
        "--subject",
        "plain",
        "--subject",
        "intact",
        "--size",
        "2KiB",
        "--trials",
        "60",
        "--seed",
        "5",
    ];
    let whole = json_run(&base, &dir.join("whole"));
    assert_eq!(whole.code, 0, "{whole:?}");
    let mut shards = Vec::new();
    for m in 1..=3 {
        let partition = format!("{m}/3");
        let shard_dir = dir.join(format!("shard-{m}"));
        let out = json_run(
            &[&base[..], &["--partition", &partition]].concat(),
            &shard_dir,
        );
        assert_eq!(out.code, 0, "{partition}: {out:?}");
        let subjects = out.subjects();
        assert_eq!(subjects.len(), 2, "one line per subject: {out:?}");
        for subject in subjects {
            assert_eq!(subject["partition"], partition.as_str(), "{subject}");
            assert_eq!(num(&subject, "selected_points"), 60, "{subject}");
            assert_eq!(num(&subject, "trials"), 20, "{subject}");
        }
        shards.push(shard_dir);
    }
    let paths: Vec<&Path> = shards.iter().map(|p| p.as_path()).collect();
    let merged = merge(&paths, &dir.join("merged"));
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(counts(&merged), counts(&whole), "{merged:?}\n{whole:?}");
    let fingerprints = |out: &Outcome| -> Vec<Value> {
        out.subjects()
            .iter()
            .map(|s| s["fingerprint"].clone())
            .collect()
    };
    assert_eq!(fingerprints(&merged), fingerprints(&whole));

    let summary = fs::read_to_string(dir.join("merged/summary.md")).expect("summary.md");
    assert!(summary.contains("**PASS**"), "{summary}");
    let junit = fs::read_to_string(dir.join("merged/junit.xml")).expect("junit.xml");
    let report = quick_junit::Report::deserialize_from_str(&junit).expect("valid JUnit");
    assert_eq!(
        (report.tests, report.failures, report.errors),
        (2, 0, 0),
        "{junit}"
    );
    let results = fs::read_to_string(dir.join("merged/results.jsonl")).expect("results");
    assert_eq!(results.lines().count(), 120);
    fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_canary_missed_by_a_shard_is_caught_by_the_merge() {
    let dir = scratch_dir("partition-canary");
    let script = writer("unlink_then_rename.py");
    let mut outcomes = Vec::new();
    for m in 1..=3 {
        let partition = format!("{m}/3");
        let args = [
            "kill",
            "--exhaustive",
            "--seed",
            "2",
            "--expect",
            "caught",
            "--partition",
            &partition,
            "--",
            python(),
            &script,
            "{target}",
        ];
        let out = json_run(&args, &dir.join(format!("shard-{m}")));
        assert_eq!(
            out.code, 0,
            "a shard never fails for want of a canary: {out:?}"
        );
        outcomes.push(out.subject());
    }
    let statuses: Vec<&str> = outcomes
        .iter()
        .map(|s| s["status"].as_str().unwrap_or_default())
        .collect();
    // The window is two neighbouring kill points: two shards see it, the third does not.
    assert!(
        statuses.contains(&"not_caught_in_shard"),
        "some shard must miss the narrow window: {statuses:?}"
    );
    let missed = statuses.iter().position(|s| *s == "not_caught_in_shard");
    let missed = missed.map(|m| dir.join(format!("shard-{}", m + 1)));
    let missed_summary = missed
        .and_then(|d| fs::read_dir(&d).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "latest")
        .find_map(|e| fs::read_to_string(e.path().join("summary.md")).ok())
        .expect("the shard's summary");
    assert!(
        missed_summary.contains("not caught in this shard"),
        "{missed_summary}"
    );

    let shards: Vec<_> = (1..=3).map(|m| dir.join(format!("shard-{m}"))).collect();
    let paths: Vec<&Path> = shards.iter().map(|p| p.as_path()).collect();
    let merged = merge(&paths, &dir.join("merged"));
    assert_eq!(merged.code, 0, "{merged:?}");
    let subject = merged.subject();
    assert_eq!(subject["status"], "caught", "{subject}");
    let smallest = subject["smallest_violation"]["violation"].as_str();
    assert!(
        smallest.is_some_and(|v| v.contains("old version lost")),
        "{subject}"
    );

    // Without the shards that caught it, the merge refuses rather than judging a canary on a
    // part of its kill points.
    let partial = merge(&paths[..1], &dir.join("partial"));
    assert_eq!(partial.code, 2, "{partial:?}");
    assert!(partial.stderr.contains("missing (2/3, 3/3)"), "{partial:?}");
    fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn shards_of_different_campaigns_are_refused() {
    let dir = scratch_dir("partition-refused");
    let shard = |name: &str, seed: &str, partition: Option<&str>| {
        let mut args = vec![
            "kill",
            "--subject",
            "intact",
            "--size",
            "2KiB",
            "--trials",
            "4",
            "--seed",
            seed,
        ];
        if let Some(partition) = partition {
            args.extend(["--partition", partition]);
        }
        let out = json_run(&args, &dir.join(name));
        assert_eq!(out.code, 0, "{out:?}");
        dir.join(name)
    };
    let first = shard("a", "1", Some("1/2"));
    let other_seed = shard("b", "2", Some("2/2"));
    let again = shard("c", "1", Some("1/2"));
    let whole = shard("d", "1", None);
    let refused = |shards: &[&Path], message: &str| {
        let out = merge(shards, &dir.join("merged"));
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(message), "{message:?}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{out:?}");
    };
    refused(&[&first, &other_seed], "shards differ in seed");
    refused(&[&first, &other_seed], &first.display().to_string());
    refused(&[&first, &again], "partition 1/2 given twice");
    refused(&[&first, &whole], "not a shard");
    refused(&[&dir.join("nowhere")], "cannot read");
    fs::remove_dir_all(&dir).expect("cleanup");
}

/// `subject -> (status, checked, violations)` of a summary's subjects.
fn judged(summary: &Value) -> Vec<(String, String, u64, u64)> {
    summary["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().unwrap_or_default().to_owned();
            (
                text("subject"),
                text("status"),
                num(s, "checked"),
                num(s, "violations"),
            )
        })
        .collect()
}

/// Runs `args` whole and as `count` shards (each with `--partition M/count`), merges the
/// shards; returns the whole run, the shards and the merge.
fn whole_shards_and_merge(
    name: &str,
    args: &[&str],
    count: u64,
) -> (Outcome, Vec<Outcome>, Outcome) {
    let dir = scratch_dir(name);
    let whole = json_run(args, &dir.join("whole"));
    let mut shards = Vec::new();
    for m in 1..=count {
        let partition = format!("{m}/{count}");
        let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        let sharded = [&args[..at], &["--partition", &partition][..], &args[at..]].concat();
        shards.push(json_run(&sharded, &dir.join(format!("shard-{m}"))));
    }
    let paths: Vec<_> = (1..=count)
        .map(|m| dir.join(format!("shard-{m}")))
        .collect();
    let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let merged = merge(&paths, &dir.join("merged"));
    fs::remove_dir_all(&dir).expect("cleanup");
    (whole, shards, merged)
}

#[test]
fn power_shards_judge_disjoint_states_and_merge_to_the_whole_runs_verdict_and_counts() {
    let args = [
        "power",
        "--subject",
        "rename-fsync",
        "--subject",
        "intact",
        "--size",
        "8KiB",
        "--seed",
        "1",
    ];
    let (whole, shards, merged) = whole_shards_and_merge("partition-power", &args, 4);
    assert_eq!(whole.code, 0, "{whole:?}");
    for (m, shard) in shards.iter().enumerate() {
        assert_eq!(
            shard.code, 0,
            "a shard never fails for want of a canary: {shard:?}"
        );
        assert_eq!(shard.summary()["partition"], format!("{}/4", m + 1));
    }
    // The union of the shards is the whole run: every state is judged in exactly one shard.
    let whole_rows = judged(&whole.summary());
    for (at, (subject, _, checked, violations)) in whole_rows.iter().enumerate() {
        let rows: Vec<_> = shards
            .iter()
            .map(|s| judged(&s.summary())[at].clone())
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.2).sum::<u64>(),
            *checked,
            "{subject}: {rows:?}"
        );
        assert_eq!(
            rows.iter().map(|r| r.3).sum::<u64>(),
            *violations,
            "{subject}: {rows:?}"
        );
    }
    // The canary is caught in one shard only; the others did not fail for it.
    let canary: Vec<String> = shards
        .iter()
        .map(|s| judged(&s.summary())[0].1.clone())
        .collect();
    assert!(
        canary.contains(&"not_caught_in_shard".to_owned()),
        "{canary:?}"
    );
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(judged(&merged.summary()), whole_rows, "{merged:?}");
    assert_eq!(merged.summary()["verdict"], whole.summary()["verdict"]);
}

#[test]
fn a_violation_in_one_power_shard_fails_the_merge() {
    let torture = env!("CARGO_BIN_EXE_torture");
    let args = [
        "power",
        "--seed",
        "1",
        "--",
        torture,
        "__writer",
        "rename-fsync",
        "--size",
        "8192",
    ];
    let (whole, shards, merged) = whole_shards_and_merge("partition-power-fails", &args, 4);
    assert_eq!(
        whole.code, 1,
        "rename without a directory fsync must pass: {whole:?}"
    );
    let failing = shards.iter().filter(|s| s.code == 1).count();
    assert!(failing >= 1 && failing < shards.len(), "{shards:?}");
    assert_eq!(merged.code, 1, "{merged:?}");
    assert_eq!(
        judged(&merged.summary()),
        judged(&whole.summary()),
        "{merged:?}"
    );
}

#[test]
fn race_shards_split_the_interleavings_and_merge_to_the_whole_runs_verdict() {
    let common = [
        "race",
        "--seed",
        "1",
        "--schedules",
        "4",
        "--writers",
        "2",
        "--subject",
    ];
    let args = [&common[..], &["intact"]].concat();
    let (whole, shards, merged) = whole_shards_and_merge("partition-race", &args, 3);
    assert_eq!(whole.code, 0, "{whole:?}");
    let rows = judged(&whole.summary());
    let split: Vec<u64> = shards.iter().map(|s| judged(&s.summary())[0].2).collect();
    assert_eq!(
        split.iter().sum::<u64>(),
        rows[0].2,
        "{split:?} of {rows:?}"
    );
    assert!(
        split.iter().all(|n| *n > 0),
        "every shard runs some: {split:?}"
    );
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(judged(&merged.summary()), rows);

    // A canary: each shard stops at its own first violation, so the merged counts may exceed
    // the whole run's (which stops at its first), but the verdict is the same.
    let args = [&common[..], &["fixed-temp"]].concat();
    let (whole, _, merged) = whole_shards_and_merge("partition-race-canary", &args, 2);
    assert_eq!((whole.code, merged.code), (0, 0), "{whole:?} {merged:?}");
    assert_eq!(judged(&merged.summary())[0].1, "caught", "{merged:?}");
    let refused = crate::run(&["race", "--partition", "1/2", "--schedule", "1x2.2x3"]);
    assert_eq!(refused.code, 2, "{refused:?}");
}
