//! sweep: removes dead writers' temp files, never a live writer's, and nothing else.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, Ordering};

use intact::{Durability, Options, Temp};

use crate::util::{TestDir, child_arg, child_role, report, spawn_child};

const HOLDER: &str = "temp-holder";
const TEST: &str = "sweep::sweep_spares_a_live_child_and_removes_it_once_killed";

#[test]
fn sweep_spares_a_live_child_and_removes_it_once_killed() {
    if child_role().as_deref() == Some(HOLDER) {
        return hold_a_temp_file_forever();
    }
    let dir = TestDir::new("sweep-child");
    std::fs::write(dir.join("target"), b"old").unwrap();
    let mut child = spawn_child(TEST, HOLDER, &[("TARGET", &dir.join("target"))]);
    assert_eq!(child.next_report(), "holding");
    let temps = dir.temp_names();
    assert_eq!(temps.len(), 1, "{temps:?}");

    let report = intact::sweep(dir.path()).unwrap();
    assert_eq!(
        report.removed(),
        &[] as &[std::path::PathBuf],
        "removed a live writer's file"
    );
    assert_eq!(report.live(), [dir.join(&temps[0])]);
    assert_eq!(dir.temp_names(), temps);

    child.kill();
    let report = intact::sweep(dir.path()).unwrap();
    assert_eq!(report.removed(), [dir.join(&temps[0])]);
    assert_eq!(report.removed_bytes(), 5);
    assert!(report.live().is_empty());
    assert_eq!(dir.names(), ["target"]);
    assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"old");
}

/// Child: a writer with a named temp file, stuck before its commit.
fn hold_a_temp_file_forever() {
    let target = child_arg("TARGET");
    let mut file = Options::new().temp(Temp::Named).create(target).unwrap();
    file.write_all(b"stuck").unwrap();
    report("holding");
    loop {
        std::thread::park();
    }
}

#[test]
fn sweep_spares_a_live_writer_in_this_process() {
    let dir = TestDir::new("sweep-live");
    let live = Options::new()
        .temp(Temp::Named)
        .create(dir.join("a"))
        .unwrap();
    let report = intact::sweep(dir.path()).unwrap();
    assert!(report.removed().is_empty());
    assert_eq!(report.live().len(), 1);
    live.commit().unwrap();
    assert_eq!(dir.names(), ["a"]);
}

#[test]
fn sweep_removes_an_unlocked_temp_file() {
    // What a dead writer leaves: the name, and no lock on it.
    let dir = TestDir::new("sweep-dead");
    let orphan = ".data.0123456789abcdef.intact-tmp";
    std::fs::write(dir.join(orphan), b"half written").unwrap();
    std::fs::write(dir.join("data"), b"old").unwrap();
    let report = intact::sweep(dir.path()).unwrap();
    assert_eq!(report.removed(), [dir.join(orphan)]);
    assert_eq!(report.removed_bytes(), 12);
    assert_eq!(dir.names(), ["data"]);
}

#[test]
fn sweep_touches_nothing_but_exact_temp_file_names() {
    let dir = TestDir::new("sweep-others");
    let lookalikes = [
        "data",
        ".data.intact-tmp",
        "data.0123456789abcdef.intact-tmp",
        ".data.0123456789ABCDEF.intact-tmp",
        ".data.0123456789abcdef.intact-tmp.bak",
        ".data.0123456789abcde.intact-tmp",
    ];
    for name in lookalikes {
        std::fs::write(dir.join(name), b"keep").unwrap();
    }
    let report = intact::sweep(dir.path()).unwrap();
    assert!(report.removed().is_empty(), "{:?}", report.removed());
    let mut expected: Vec<String> = lookalikes.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(dir.names(), expected);
}

#[test]
fn sweep_skips_temp_names_that_are_not_regular_files() {
    let dir = TestDir::new("sweep-types");
    std::fs::write(dir.join("real"), b"keep").unwrap();
    let link = ".link.0123456789abcdef.intact-tmp";
    let subdir = ".dir.0123456789abcdef.intact-tmp";
    let fifo = ".fifo.0123456789abcdef.intact-tmp";
    symlink("real", dir.join(link)).unwrap();
    std::fs::create_dir(dir.join(subdir)).unwrap();
    nix::unistd::mkfifo(
        &dir.join(fifo),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let report = intact::sweep(dir.path()).unwrap();
    assert!(report.removed().is_empty());
    assert_eq!(report.skipped().len(), 3, "{report:?}");
    assert_eq!(std::fs::read(dir.join("real")).unwrap(), b"keep");
    assert_eq!(dir.names().len(), 4);
}

#[test]
fn sweep_of_a_missing_directory_names_it() {
    let dir = TestDir::new("sweep-missing");
    let error = intact::sweep(dir.join("nope")).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert!(
        error
            .to_string()
            .contains(&dir.join("nope").display().to_string()),
        "{error}"
    );
}

#[test]
fn sweep_never_disturbs_concurrent_writers() {
    // Writers create, write and commit named temp files while sweeps run in a loop: no
    // commit may fail (a swept live temp file would make its rename fail). A sweep may take
    // a temp file in the instant between its creation and its lock, before any byte is
    // written; the writer sees the name gone once it holds the lock and retries with another,
    // so all a sweep may ever remove here is empty, unclaimed files.
    let dir = TestDir::new("sweep-race");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sweeper = scope.spawn(|| {
            let mut removed_bytes = 0;
            while !stop.load(Ordering::Relaxed) {
                removed_bytes += intact::sweep(dir.path()).unwrap().removed_bytes();
            }
            removed_bytes
        });
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let dir = &dir;
                scope.spawn(move || {
                    let options = Options::new()
                        .temp(Temp::Named)
                        .durability(Durability::None);
                    (0..200).try_for_each(|i| {
                        options.write(dir.join(format!("w{w}")), format!("{w} {i}"))
                    })
                })
            })
            .collect();
        let results: Vec<_> = writers
            .into_iter()
            .map(|writer| writer.join().unwrap())
            .collect();
        stop.store(true, Ordering::Relaxed);
        let removed_bytes = sweeper.join().unwrap();
        for result in results {
            result.expect("a writer was disturbed by a sweep");
        }
        assert_eq!(removed_bytes, 0, "a sweep removed a live writer's data");
    });
    assert_eq!(dir.names(), ["w0", "w1", "w2", "w3"]);
}

#[test]
fn a_dry_run_lists_what_sweep_would_remove_and_removes_nothing() {
    let dir = TestDir::new("sweep-dry");
    let orphan = ".data.0123456789abcdef.intact-tmp";
    std::fs::write(dir.join(orphan), b"half written").unwrap();
    std::fs::write(dir.join("data"), b"old").unwrap();
    let live = Options::new()
        .temp(Temp::Named)
        .create(dir.join("other"))
        .unwrap();
    let plan = intact::sweep_dry_run(dir.path()).unwrap();
    assert!(plan.is_dry_run());
    assert_eq!(plan.removed(), [dir.join(orphan)]);
    assert_eq!(plan.removed_bytes(), 12);
    assert_eq!(plan.live().len(), 1);
    assert_eq!(dir.temp_names().len(), 2, "a dry run removes nothing");
    live.commit().unwrap();
    let done = intact::sweep(dir.path()).unwrap();
    assert!(!done.is_dry_run());
    assert_eq!(done.removed(), plan.removed());
    assert_eq!(dir.names(), ["data", "other"]);
}
