//! Runs the wheel's pytest suite (`tests/*.py`) from `cargo test`, so the README's one test
//! command runs every test: in a venv where the wheel is installed.
//!
//! The venv is `target/py-venv` (`.ci/run` and `just wheel-test` make it before `cargo test`;
//! `INTACT_PY_VENV` names another, used as it is). When `target/py-venv` is missing, or its
//! installed package is older than the sources, this test makes it first, as `.ci/run` does: it
//! installs maturin and pytest (`.ci/setup python`), builds the wheel with its own target
//! directory, `target/py-build` (so it never waits for the lock of the `cargo test` that runs
//! it; the first build takes minutes), and installs the wheel and `tests/requirements.txt`
//! into a fresh venv. Nothing needs to run before `cargo test --workspace`.
//!
//! Without `python3` the test is skipped loudly (it fails under `TORTURE_REQUIRE_ALL=1`). A
//! venv named by `INTACT_PY_VENV` that is missing or older than the sources fails: it would
//! test yesterday's code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// The venv made here when missing or stale.
fn own_venv() -> PathBuf {
    workspace_dir().join("target/py-venv")
}

/// Runs `command`; on failure panics with what it printed.
fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {command:?}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The directory the venv imports `intact_io` from, or `None` when it is not installed.
fn installed_package(python: &Path) -> Option<PathBuf> {
    let output = Command::new(python)
        .args([
            "-c",
            "import intact_io, os; print(os.path.dirname(intact_io.__file__))",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Directories that hold no sources (build output, caches).
const NOT_SOURCES: [&str; 4] = ["target", "wheel-data", "__pycache__", ".pytest_cache"];

fn newest_mtime(dir: &Path, newest: &mut SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !NOT_SOURCES.iter().any(|name| entry.file_name() == *name) {
                newest_mtime(&path, newest);
            }
        } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
            *newest = (*newest).max(modified);
        }
    }
}

/// The newest change to what the extension module and the `torture` binaries are built from:
/// every crate's `src` and manifest, and `Cargo.lock`.
fn newest_rust_source() -> SystemTime {
    let root = workspace_dir();
    let mut newest = SystemTime::UNIX_EPOCH;
    newest_mtime(&root.join("Cargo.lock"), &mut newest);
    for group in ["crates", "harness"] {
        for member in std::fs::read_dir(root.join(group))
            .into_iter()
            .flatten()
            .flatten()
        {
            newest_mtime(&member.path().join("src"), &mut newest);
            if let Ok(modified) = member
                .path()
                .join("Cargo.toml")
                .metadata()
                .and_then(|m| m.modified())
            {
                newest = newest.max(modified);
            }
        }
    }
    newest
}

fn modified(path: &Path) -> SystemTime {
    path.metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Why the venv's installed wheel is not what the sources would build now, if it is not.
fn stale(venv: &Path) -> Option<String> {
    let Some(installed) = installed_package(&venv.join("bin/python")) else {
        return Some(format!("intact_io is not installed in {}", venv.display()));
    };
    let sources = crate_dir().join("python/intact_io");
    for entry in std::fs::read_dir(&sources)
        .expect("read python/intact_io")
        .flatten()
    {
        let ours = std::fs::read(entry.path()).expect("read a source file");
        let theirs = std::fs::read(installed.join(entry.file_name())).unwrap_or_default();
        if ours != theirs {
            let name = entry.file_name();
            return Some(format!(
                "the installed {} differs from python/intact_io",
                name.to_string_lossy()
            ));
        }
    }
    let newest = newest_rust_source();
    for built in [installed.join("_intact.abi3.so"), venv.join("bin/torture")] {
        if modified(&built) < newest {
            return Some(format!(
                "{} is older than its Rust sources",
                built.display()
            ));
        }
    }
    None
}

/// Builds the wheel into `target/py-build/wheels` and returns its path.
fn build_wheel() -> PathBuf {
    let root = workspace_dir();
    run(
        Command::new("bash")
            .arg(root.join(".ci/setup"))
            .arg("python"),
        "installing maturin and pytest",
    );
    let (build, wheels) = (
        root.join("target/py-build"),
        root.join("target/py-build/wheels"),
    );
    let _ = std::fs::remove_dir_all(&wheels);
    let mut command = Command::new("bash");
    command
        .arg(crate_dir().join("build-wheel.sh"))
        .arg(&wheels)
        .env("CARGO_TARGET_DIR", &build);
    run(&mut command, "building the intact-io wheel");
    let built = std::fs::read_dir(&wheels)
        .expect("the wheel directory")
        .flatten();
    let mut found: Vec<PathBuf> = built
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one wheel in {}: {found:?}",
        wheels.display()
    );
    found.remove(0)
}

/// Makes `target/py-venv` afresh with the wheel built now, as `.ci/run` does. (Made in
/// place: a venv's scripts name its directory. One that fails half-way has no `intact_io` and
/// is made again next time.)
fn make_venv(venv: &Path) {
    let wheel = build_wheel();
    let _ = std::fs::remove_dir_all(venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(venv),
        "creating the venv",
    );
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--force-reinstall"])
        .arg(&wheel)
        .arg("-r")
        .arg(crate_dir().join("tests/requirements.txt"));
    run(&mut pip, "installing the wheel and tests/requirements.txt");
}

#[test]
fn the_wheels_pytest_suite_passes_in_its_venv() {
    if Command::new("python3").arg("--version").output().is_err() {
        testkit::skip("no python3 to build the intact-io wheel and run its pytest suite");
        return;
    }
    let venv = match std::env::var_os("INTACT_PY_VENV") {
        Some(named) => {
            let named = PathBuf::from(named);
            if let Some(why) = stale(&named) {
                panic!(
                    "INTACT_PY_VENV: {why}: rebuild it (`just wheel-test` makes target/py-venv)"
                );
            }
            named
        }
        None => {
            let venv = own_venv();
            if let Some(why) = stale(&venv) {
                eprintln!("{why}: building the wheel and the venv {}", venv.display());
                make_venv(&venv);
                assert_eq!(stale(&venv), None, "the venv just made");
            }
            venv
        }
    };
    let status = Command::new(venv.join("bin/python"))
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
