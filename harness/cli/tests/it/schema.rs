//! One JSON summary schema for every command: the fields `reports/README.md` documents are
//! exactly the fields each command's real `--format json` summary has.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{Outcome, in_each_command, merge_json, run, scratch_dir, shard, torture};

/// The field names of the README table that follows `heading_line` (first column, in backticks).
fn documented(after: &str) -> BTreeSet<String> {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/README.md"),
    )
    .expect("reports/README.md");
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in the README"));
    let table = &readme[start..];
    let table = &table[table.find("| field |").expect("a field table")..];
    let fields: BTreeSet<String> = table
        .lines()
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.split('|')
                .nth(1)
                .unwrap_or_default()
                .trim()
                .trim_matches('`')
                .to_owned()
        })
        .collect();
    assert!(fields.len() >= 3, "{fields:?}");
    fields
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// The summary of `out` has the documented fields, and so has every subject in it.
fn check(command: &str, out: &Outcome) {
    let run_fields = documented("## The run summary");
    let subject_fields = documented("Each entry of `subjects`");
    let summary = out.summary();
    assert_eq!(keys(&summary), run_fields, "{command}: {summary}");
    assert_eq!(summary["exit_code"], out.code, "{command}: {summary}");
    let subjects = summary["subjects"].as_array().expect("subjects");
    assert!(!subjects.is_empty(), "{command}: {summary}");
    for subject in subjects {
        assert_eq!(keys(subject), subject_fields, "{command}: {subject}");
    }
}

#[test]
fn every_command_ends_in_the_documented_summary() {
    let small = [
        "--subject",
        "plain",
        "--size",
        "2048",
        "--format",
        "json",
        "--seed",
        "1",
    ];
    let each: [(&str, &[&str]); 4] = [
        ("kill", &["--trials", "3"]),
        ("power", &[]),
        ("errors", &["--trials", "3"]),
        ("race", &["--schedules", "1", "--preemptions", "0"]),
    ];
    for ((command, _), out) in each.iter().zip(in_each_command(&small, &each)) {
        check(command, &out);
        assert_eq!(out.summary()["command"], *command);
    }
}

#[test]
fn merge_and_the_main_job_end_in_the_documented_summary() {
    let dir = scratch_dir("schema-merge");
    let shard_dir = |m: &str| dir.join(format!("shard-{m}"));
    let kill = [
        "kill",
        "--subject",
        "plain",
        "--size",
        "2048",
        "--trials",
        "4",
        "--seed",
        "1",
    ];
    for m in ["1", "2"] {
        let out = shard(&kill, &format!("{m}/2"), &shard_dir(m));
        check("kill --partition", &out);
    }
    let merged = dir.join("merged");
    let out = merge_json(&[&shard_dir("1"), &shard_dir("2")], &merged);
    check("merge", &out);
    assert_eq!(out.summary()["command"], "merge");
    assert!(merged.join("summary.json").is_file());

    let main = dir.join("main");
    let out = run(&[
        "--trials",
        "2",
        "--size",
        "2048",
        "--seed",
        "1",
        "--format",
        "json",
        "--report-dir",
        main.to_str().unwrap(),
    ]);
    check("main", &out);
    let summary = out.summary();
    let kinds: BTreeSet<&str> = summary["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .filter_map(|s| s["crash_kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["errors", "kill", "power", "race"]),
        "{summary}"
    );
    let run_dir = main.join("latest");
    let md = std::fs::read_to_string(run_dir.join("summary.md")).expect("summary.md");
    assert!(md.starts_with("# torture: every crash kind"), "{md}");
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    for kind in ["kill", "power", "errors", "race"] {
        assert!(
            junit.contains(&format!("torture-{kind}")),
            "{kind}: {junit}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn list_prints_a_json_object_per_subject() {
    let out = run(&["list", "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = out.json_lines();
    assert!(lines.len() >= 10, "{out:?}");
    for line in lines {
        assert_eq!(
            keys(&line),
            BTreeSet::from(["subject", "origin", "expected", "description"].map(String::from)),
        );
        assert_eq!(keys(&line["expected"]).len(), 4, "{line}");
    }
}

#[test]
fn power_real_ends_in_the_documented_summary() {
    if !testkit::root_or_skip("for power --real (loop devices, mount)") {
        return;
    }
    let out = torture(&[
        "power",
        "--real",
        "ext4",
        "--subject",
        "intact",
        "--sample",
        "2",
        "--settle-ms",
        "0",
        "--format",
        "json",
    ]);
    check("power --real", &out);
    assert_eq!(out.summary()["subjects"][0]["crash_kind"], "real:ext4");
}

#[test]
fn errors_shards_merge_by_their_summaries() {
    let dir = scratch_dir("schema-errors-merge");
    let shard_dir = |m: &str| dir.join(format!("shard-{m}"));
    let errors = [
        "errors",
        "--subject",
        "plain",
        "--size",
        "2048",
        "--seed",
        "1",
    ];
    let mut checked = 0;
    for m in ["1", "2"] {
        let partition = format!("{m}/2");
        let out = shard(&errors, &partition, &shard_dir(m));
        check("errors --partition", &out);
        assert_eq!(out.summary()["partition"], partition.as_str());
        checked += out.summary()["subjects"][0]["checked"]
            .as_u64()
            .expect("checked");
    }
    let merged = dir.join("merged");
    let out = merge_json(&[&shard_dir("1"), &shard_dir("2")], &merged);
    check("merge of errors shards", &out);
    let subject = &out.summary()["subjects"][0];
    assert_eq!(subject["status"], "caught", "{subject}");
    assert_eq!(subject["checked"].as_u64(), Some(checked), "{subject}");
    let out = run(&[
        "merge",
        shard_dir("1").to_str().unwrap(),
        "--report-dir",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "one shard of two: {out:?}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn bad_usage_with_format_json_prints_the_documented_error_object() {
    let fields = documented("### Errors");
    let json = ["--format", "json"];
    let cases: [&[&str]; 6] = [
        &["kill", "--trials", "abc"],
        &["power", "--subject", "plain", "--format=json", "--", "true"],
        &["errors", "--fault", "disk-on-fire"],
        &["race", "--writers", "1"],
        &["merge", "/nonexistent/shard-1", "/nonexistent/shard-2"],
        &["--subject", "nonsense"],
    ];
    for args in cases {
        let asked = args.contains(&"--format=json");
        let out = run(&[args, if asked { &[][..] } else { &json[..] }].concat());
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let lines = out.json_lines();
        let [object] = lines.as_slice() else {
            panic!("{args:?}: one JSON line expected: {out:?}")
        };
        assert_eq!(keys(object), fields, "{args:?}: {object}");
        assert_eq!(
            (object["kind"].as_str(), object["exit_code"].as_u64()),
            (Some("error"), Some(2))
        );
        let said = object["error"].as_str().expect("error text");
        assert!(
            !said.is_empty() && out.stderr.contains(said),
            "{args:?}: {out:?}"
        );
    }
    let text = run(&["kill", "--trials", "abc"]);
    assert!(text.json_lines().is_empty() && text.code == 2, "{text:?}");
}
