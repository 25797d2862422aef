//! Runs the wheel's pytest suite (`tests/*.py`) from `cargo test`, so the README's one test
//! command runs every test: in the venv where the wheel is installed (`target/py-venv`, made by
//! `just wheel-test` and by `.ci/run` before `cargo test`; `INTACT_PY_VENV` names another).
//!
//! Without that venv the test says so and passes, unless `TORTURE_REQUIRE_ALL=1`. A venv whose
//! installed package is older than the sources fails: it would test yesterday's code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv() -> PathBuf {
    match std::env::var_os("INTACT_PY_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => crate_dir().join("../../target/py-venv"),
    }
}

/// The directory the venv imports `intact_io` from.
fn installed_package(python: &Path) -> PathBuf {
    let output = Command::new(python)
        .args([
            "-c",
            "import intact_io, os; print(os.path.dirname(intact_io.__file__))",
        ])
        .output()
        .expect("run the venv's python");
    assert!(
        output.status.success(),
        "intact_io is not installed in {}: run `just wheel-test`\n{}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn newest_mtime(dir: &Path, newest: &mut SystemTime) {
    for entry in std::fs::read_dir(dir)
        .expect("read a source directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            newest_mtime(&path, newest);
        } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
            *newest = (*newest).max(modified);
        }
    }
}

/// Fails when the installed package is not what the sources would build now.
fn check_fresh(installed: &Path) {
    let sources = crate_dir().join("python/intact_io");
    for entry in std::fs::read_dir(&sources)
        .expect("read python/intact_io")
        .flatten()
    {
        let name = entry.file_name();
        let ours = std::fs::read(entry.path()).expect("read a source file");
        let theirs = std::fs::read(installed.join(&name)).unwrap_or_default();
        assert!(
            ours == theirs,
            "the installed {} differs from python/intact_io: rebuild with `just wheel-test`",
            Path::new(&name).display()
        );
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    newest_mtime(&crate_dir().join("src"), &mut newest);
    newest_mtime(&crate_dir().join("../intact/src"), &mut newest);
    let built = std::fs::metadata(installed.join("_intact.abi3.so"))
        .and_then(|m| m.modified())
        .expect("the installed extension module");
    assert!(
        built >= newest,
        "the installed extension is older than its Rust sources: rebuild with `just wheel-test`"
    );
}

#[test]
fn the_wheels_pytest_suite_passes_in_its_venv() {
    let python = venv().join("bin/python");
    if !python.is_file() {
        let message = format!(
            "skipped: no venv with the intact-io wheel at {} (run `just wheel-test`)",
            venv().display()
        );
        assert!(
            std::env::var_os("TORTURE_REQUIRE_ALL").is_none_or(|v| v != "1"),
            "{message}"
        );
        eprintln!("{message}");
        return;
    }
    check_fresh(&installed_package(&python));
    let status = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(crate_dir().join("tests"))
        .status()
        .expect("run pytest");
    match status.code() {
        Some(0) => {}
        Some(5) => panic!("pytest collected no tests in crates/intact-py/tests"),
        _ => panic!("the wheel's pytest suite failed: {status}"),
    }
}
