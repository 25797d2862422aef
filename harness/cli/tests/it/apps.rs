//! The application workloads and checkers of `harness/apps/` (ALICE's applications), run as
//! `just apps` runs them, on small workloads so each test takes seconds.

use std::path::PathBuf;
use std::process::Command;

use crate::{Outcome, torture};

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
