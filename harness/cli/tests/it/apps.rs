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
    let reasons = std::fs::read_to_string(&tally).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (out, reasons.lines().map(str::to_owned).collect())
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
