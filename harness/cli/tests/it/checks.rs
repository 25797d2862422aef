//! `--check` in `kill` sees what a reader sees: it judges a copy of the whole crashed tree (an
//! SQLite reader rolls the hot journal back first), with that copy as `{dir}`, after the
//! leftovers were counted.

use crate::{Outcome, num, python, torture, verdict, writer};

/// `torture kill` of an SQLite writer, judged by `sqlite_check.py` (integrity + one generation).
fn kill_sqlite(script: &str) -> Outcome {
    let check = format!("{} {} {{file}}", python(), writer("sqlite_check.py"));
    let script = writer(script);
    let args = [
        "kill",
        "--initial",
        "old",
        "--trials",
        "16",
        "--seed",
        "2",
        "--check",
        &check,
        "--format",
        "json",
        "--",
        python(),
        &script,
        "{target}",
    ];
    torture(&args)
}

#[test]
fn an_sqlite_transaction_passes_because_the_check_sees_the_rolled_back_database() {
    let out = kill_sqlite("sqlite_transaction.py");
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "passed", "{subject}");
    assert_eq!(verdict(&subject, "torn"), 0, "{subject}");
    assert!(
        num(&subject, "orphans") > 0,
        "the hot journal a crash leaves is counted as a leftover: {subject}"
    );
}

#[test]
fn an_sqlite_database_written_in_place_without_a_journal_is_caught() {
    let out = kill_sqlite("sqlite_no_journal.py");
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "failed", "{subject}");
    assert!(verdict(&subject, "torn") > 0, "{subject}");
}

/// `torture kill` of `marker_then_in_place.py` with one content check; its subject summary.
fn kill_marker_writer(content_check: &[&str]) -> serde_json::Value {
    let script = writer("marker_then_in_place.py");
    let fixed = [
        "kill",
        "--initial",
        "old",
        "--trials",
        "12",
        "--seed",
        "4",
        "--expect",
        "caught",
    ];
    let command = ["--format", "json", "--", python(), &script, "{target}"];
    let out = torture(&[&fixed[..], content_check, &command[..]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    out.subject()
}

#[test]
fn a_check_with_side_effects_never_changes_what_is_counted() {
    // This check deletes every other file in `{dir}` and then judges the JSON: were it run in
    // the crashed sandbox, the marker files would vanish from the leftover count.
    let check = format!(
        "find {{dir}} -mindepth 1 ! -path {{file}} -delete; {} -c 'import json,sys; json.load(open(sys.argv[1]))' {{file}}",
        python()
    );
    let with_check = kill_marker_writer(&["--check", &check]);
    let with_builtin = kill_marker_writer(&["--validate", "json"]);
    assert!(verdict(&with_check, "torn") > 0, "{with_check}");
    assert!(num(&with_builtin, "orphans") > 0, "{with_builtin}");
    for key in ["orphans", "trials"] {
        assert_eq!(
            num(&with_check, key),
            num(&with_builtin, key),
            "{key}: {with_check}"
        );
    }
    assert_eq!(verdict(&with_check, "torn"), verdict(&with_builtin, "torn"));
}
