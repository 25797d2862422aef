//! The application workloads and checkers of `harness/apps/` (ALICE's applications), run as
//! `just apps` runs them, on small workloads so each test takes seconds.

use std::path::PathBuf;
use std::process::Command;

use crate::{Outcome, num, python, scratch_dir, torture};

/// A script under `harness/apps/`, as an absolute path (checkers run with the crash tree as cwd).
fn app(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../apps")
        .join(path);
    assert!(path.is_file(), "missing {}", path.display());
    path.canonicalize()
        .expect("canonical path")
        .to_string_lossy()
        .into_owned()
}

/// Whether `program --version` runs; when not, the test skips loudly.
fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        testkit::skip(&format!("{program} is not installed (bash .ci/setup apps)"));
    }
    found
}

/// `torture errors` (ENOSPC on every call in turn) over the sqlite3 shell reading `txn.sql`
/// from standard input, judged by the whole-database checker; `shell_args` go to sqlite3.
fn sqlite_shell_under_enospc(shell_args: &[&str]) -> Outcome {
    let check = format!("sh {} {{file}}", app("sqlite-shell/check.sh"));
    let workload = app("sqlite-shell/workload.sh");
    let mut args = vec![
        "errors", "--fault", "enospc", "--seed", "1", "--target", "app.db", "--check", &check,
        "--format", "json", "--", "sh", &workload, "{target}",
    ];
    args.extend_from_slice(shell_args);
    torture(&args)
}

#[test]
fn the_sqlite3_shell_that_goes_on_after_enospc_is_told_to_bail() {
    if !have("sqlite3") {
        return;
    }
    // Without -bail the shell runs the rest of the script after the failed INSERT: the second
    // INSERT commits on its own, half a transaction (an odd row count) is published.
    let out = sqlite_shell_under_enospc(&[]);
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "FAIL", "{subject}");
    let smallest = subject["smallest"].as_str().expect("a smallest violation");
    assert!(smallest.contains("app.db-journal"), "{smallest}");
    assert!(
        smallest.contains("Fix: stop at the first failed statement")
            && smallest.contains("(the sqlite3 shell: run it with -bail)"),
        "{smallest}"
    );
}

#[test]
fn the_sqlite3_shell_with_bail_survives_enospc_on_every_call() {
    if !have("sqlite3") {
        return;
    }
    let out = sqlite_shell_under_enospc(&["-bail"]);
    assert_eq!(out.code, 0, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert!(subject["injections"].as_u64().unwrap() > 10, "{subject}");
}

/// `torture power` over the SQLite workload (one transaction on a prepared database) in
/// `journal` mode with `synchronous=sync`, judged by the whole-tree checker wrapped in
/// tally.sh; the outcome and every violation's first line (one per distinct tree judged).
/// The ext4 model alone keeps the test short (`just apps` runs every model); ALICE's finding
/// is in each Linux model.
fn sqlite_under_power(journal: &str, sync: &str) -> (Outcome, Vec<String>) {
    let dir = scratch_dir(&format!("apps-sqlite-{journal}-{sync}"));
    let tally = dir.join("tally");
    let py = python();
    let setup = format!(
        "{py} {} {{dir}}/app.db --journal {journal}",
        app("sqlite/setup.py")
    );
    let check = format!(
        "sh {} {} sh {} {{dir}}/app.db {{stdout}}",
        app("tally.sh"),
        tally.display(),
        app("sqlite/check.sh")
    );
    let workload = app("sqlite/workload.py");
    let args = [
        "power",
        "--model",
        "ext4",
        "--seed",
        "1",
        "--setup",
        &setup,
        "--target",
        "app.db",
        "--ack-line",
        "^ack ",
        "--check",
        &check,
        "--format",
        "json",
        "--",
        py,
        &workload,
        "{target}",
        "--journal",
        journal,
        "--sync",
        sync,
        "--txns",
        "1",
    ];
    let out = torture(&args);
    let reasons = ext4_reasons(&std::fs::read_to_string(&tally).unwrap_or_default());
    let _ = std::fs::remove_dir_all(&dir);
    (out, reasons)
}

/// The reasons of a `tally.sh` log (`$TORTURE_MODEL`, a tab, the reason per line) for the trees
/// the `ext4` model met first: the holds line of a run that breaks under `ext4` explores the
/// other file-system models too, and their trees are not the run's findings. Every line must
/// name the model that met its tree.
fn ext4_reasons(log: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    for line in log.lines() {
        let (model, reason) = line.split_once('\t').expect("a model, a tab, a reason");
        assert!(
            ["ext4", "posix", "xfs", "btrfs"].contains(&model),
            "no model: {line}"
        );
        if model == "ext4" {
            reasons.push(reason.to_owned());
        }
    }
    reasons
}

#[test]
fn sqlite_rollback_journal_full_loses_an_acked_transaction_to_the_unlink_and_nothing_else() {
    let (out, reasons) = sqlite_under_power("delete", "full");
    assert_eq!(out.code, 1, "{out:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "FAIL", "{subject}");
    assert!(!reasons.is_empty(), "the checker reported nothing: {out:?}");
    // Exactly one kind: ALICE's SQLite finding, and no false alarm beside it.
    for reason in &reasons {
        assert!(
            reason.starts_with(
                "acknowledged transaction 2 rolled back: app.db-journal was still on disk"
            ) && reason.contains("fsync the directory after the unlink"),
            "{reason}\n{out:?}"
        );
    }
    assert!(
        num(&subject, "violations") >= reasons.len() as u64,
        "{subject}"
    );
}

#[test]
fn sqlite_rollback_journal_extra_fsyncs_the_directory_and_passes() {
    let (out, reasons) = sqlite_under_power("delete", "extra");
    assert_eq!(out.code, 0, "{out:?}\n{reasons:?}");
    let subject = out.subject();
    assert_eq!(subject["status"], "PASS", "{subject}");
    assert!(num(&subject, "states_checked") > 0, "{subject}");
    assert!(reasons.is_empty(), "{reasons:?}");
}

#[test]
fn sqlite_wal_full_passes() {
    let (out, reasons) = sqlite_under_power("wal", "full");
    assert_eq!(out.code, 0, "{out:?}\n{reasons:?}");
    assert_eq!(out.subject()["status"], "PASS", "{out:?}");
}

/// `torture power` (ext4 model, seed 1) over two Git commits from
/// `git/setup.sh REPO mode` (with `more` options); the first line of every tree `recover.sh` or
/// `check.sh` rejected.
fn git_under_power(mode: &str, more: &[&str]) -> (Outcome, Vec<String>) {
    let dir = scratch_dir(&format!("apps-git-{mode}-{}", more.len()));
    let tally = |name: &str, script: &str, args: &str| {
        let log = dir.join(name);
        let (tally, script) = (app("tally.sh"), app(script));
        format!("sh {tally} {} sh {script} {args}", log.display())
    };
    let setup = format!("sh {} {{dir}}/repo {mode}", app("git/setup.sh"));
    let recover = tally("recover", "git/recover.sh", "{dir}/repo");
    let check = tally("check", "git/check.sh", "{dir}/repo {stdout}");
    let workload = app("git/workload.sh");
    let mut args = vec![
        "power",
        "--model",
        "ext4",
        "--seed",
        "1",
        "--setup",
        &setup,
        "--target",
        "repo/.git/refs/heads/main",
        "--ack-line",
        "^ack ",
        "--recover",
        &recover,
        "--check",
        &check,
        "--format",
        "json",
    ];
    args.extend_from_slice(more);
    args.extend_from_slice(&["--", "sh", &workload, "repo", "2"]);
    let out = torture(&args);
    let mut reasons = Vec::new();
    for log in ["recover", "check"] {
        let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
        reasons.extend(ext4_reasons(&text));
    }
    let _ = std::fs::remove_dir_all(&dir);
    (out, reasons)
}

/// Git's defaults fsync nothing: an empty loose object (its link kept, its data lost), an
/// index renamed into place before its data, and the branch's rename lost.
#[test]
fn git_defaults_lose_loose_objects_the_index_and_the_ref() {
    if !have("git") {
        return;
    }
    let (out, reasons) = git_under_power("default", &["--max-states", "2000"]);
    assert_eq!(out.code, 1, "{out:?}");
    for kind in [
        "loose object empty: ",
        "index unreadable: ",
        "acknowledged commit ",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(kind)),
            "no `{kind}` among {reasons:?}"
        );
    }
}

/// The state of a saved Git trace at its first acknowledgement that loses the rename of
/// `main.lock` over `refs/heads/main` (and, as ext4 keeps directory operations in order, every
/// directory operation after it).
fn ref_rename_lost(trace: &str) -> String {
    let mut lines = trace
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
    let header = lines.next().expect("a header");
    let acked = header["acks"][0]["events_before"].as_u64().expect("an ack") as usize;
    let events: Vec<serde_json::Value> = lines.take(acked).collect();
    let dir_op = |e: &serde_json::Value| match e["op"].as_str() {
        Some("rename" | "link" | "unlink" | "mkdir" | "rmdir" | "symlink") => true,
        Some("open") => e["created"] == true,
        _ => false,
    };
    let rename = events
        .iter()
        .rposition(|e| e["op"] == "rename" && e["to"] == "repo/.git/refs/heads/main")
        .expect("the ref's rename before the acknowledgement");
    let lost: Vec<String> = events[rename..]
        .iter()
        .filter(|e| e["ret"].as_i64() >= Some(0) && dir_op(e))
        .map(|e| e["seq"].to_string())
        .collect();
    format!("e{acked}:d{}", lost.join(","))
}

/// `core.fsync=all` fsyncs every object, the index and the ref's data, never a directory: the
/// one finding is the lost rename of the ref, a durability finding, no corruption.
#[test]
fn git_fsync_all_loses_only_the_unsynced_ref_rename() {
    if !have("git") {
        return;
    }
    let dir = scratch_dir("apps-git-trace");
    let trace = dir.join("git.jsonl");
    let saved = trace.to_string_lossy().into_owned();
    let (out, reasons) = git_under_power(
        "fsync-all",
        &["--max-states", "2000", "--save-trace", &saved],
    );
    assert!(matches!(out.code, 0 | 1), "{out:?}");
    for reason in &reasons {
        assert!(reason.starts_with("acknowledged commit "), "{reason}");
    }
    // The sample may miss it; the state itself is a finding.
    let state = ref_rename_lost(&std::fs::read_to_string(&trace).expect("the saved trace"));
    // Replayed on a new golden run: fixed dates make the same events (seq) every run.
    let (out, reasons) = git_under_power("fsync-all", &["--state", &state]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.code, 1, "{state}: {out:?}");
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("acknowledged commit 1 ")
            && reasons[0].contains(" lost: main is at "),
        "{state}: {reasons:?}"
    );
}
