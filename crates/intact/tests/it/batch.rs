//! Batch: every file published atomically on its own, failures reported per file.

use std::io::ErrorKind;
use std::path::PathBuf;

use intact::{Batch, CommitFailure, Durability, Options, Overwrite, Temp};

use crate::util::TestDir;

#[test]
fn batch_commits_every_file() {
    let dir = TestDir::new("batch");
    std::fs::write(dir.join("file-007"), b"old").unwrap();
    let mut batch = Batch::new();
    assert!(batch.is_empty());
    for i in 0..200 {
        batch
            .add(dir.join(format!("file-{i:03}")), format!("content {i}"))
            .unwrap();
    }
    assert_eq!(batch.len(), 200);
    batch.commit().unwrap();
    for i in 0..200 {
        let content = std::fs::read_to_string(dir.join(format!("file-{i:03}"))).unwrap();
        assert_eq!(content, format!("content {i}"));
    }
    assert_eq!(dir.names().len(), 200, "temp files left behind");
}

#[test]
fn batch_spans_several_directories() {
    let dir = TestDir::new("batch-dirs");
    for sub in ["a", "b", "c"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    let mut batch = Batch::with_options(Options::new().temp(Temp::Named));
    for (i, sub) in ["a", "b", "c", "a", "b", "c"].iter().enumerate() {
        batch
            .add(dir.join(sub).join(format!("f{i}")), vec![i as u8; 10])
            .unwrap();
    }
    batch.commit().unwrap();
    assert_eq!(crate::util::names_in(&dir.join("a")), ["f0", "f3"]);
    assert_eq!(std::fs::read(dir.join("c/f5")).unwrap(), vec![5u8; 10]);
}

#[test]
fn batch_at_every_durability_level() {
    let dir = TestDir::new("batch-levels");
    for durability in [Durability::None, Durability::Data, Durability::Full] {
        let mut batch = Batch::with_options(Options::new().durability(durability));
        for i in 0..20 {
            batch
                .add(dir.join(format!("{i}")), format!("{durability:?}"))
                .unwrap();
        }
        batch.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("19")).unwrap(),
            format!("{durability:?}")
        );
    }
    assert_eq!(dir.names().len(), 20);
}

#[test]
fn batch_partial_failure_says_exactly_which_files_were_committed() {
    let dir = TestDir::new("batch-partial");
    std::fs::write(dir.join("taken-1"), b"keep").unwrap();
    std::fs::write(dir.join("taken-3"), b"keep").unwrap();
    let mut batch = Batch::with_options(Options::new().overwrite(Overwrite::NoClobber));
    for i in 0..5 {
        let name = if i % 2 == 1 {
            format!("taken-{i}")
        } else {
            format!("free-{i}")
        };
        batch.add(dir.join(name), format!("new {i}")).unwrap();
    }
    let error = batch.commit().unwrap_err();
    assert_eq!(
        error.committed(),
        [dir.join("free-0"), dir.join("free-2"), dir.join("free-4")]
    );
    let failed: Vec<PathBuf> = error
        .failures()
        .iter()
        .map(|f| f.target().to_path_buf())
        .collect();
    assert_eq!(failed, [dir.join("taken-1"), dir.join("taken-3")]);
    for failure in error.failures() {
        assert_eq!(failure.error().kind(), ErrorKind::AlreadyExists);
        assert_eq!(failure.failure(), CommitFailure::NotPublished);
        assert_eq!(std::fs::read(failure.target()).unwrap(), b"keep");
    }
    assert!(error.to_string().contains("2 of 5"), "{error}");
    let io_error: std::io::Error = error.into();
    assert_eq!(io_error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        std::fs::read_to_string(dir.join("free-2")).unwrap(),
        "new 2"
    );
    assert_eq!(
        dir.names().len(),
        5,
        "temp files left behind: {:?}",
        dir.names()
    );
}

#[test]
fn batch_failures_hand_the_contents_back() {
    let dir = TestDir::new("batch-contents");
    std::fs::write(dir.join("taken"), b"keep").unwrap();
    let mut batch = Batch::with_options(Options::new().overwrite(Overwrite::NoClobber));
    batch.add(dir.join("taken"), b"retry me".to_vec()).unwrap();
    let failures = batch.commit().unwrap_err().into_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures.into_iter().next().unwrap().into_contents(),
        b"retry me"
    );
}

#[test]
fn batch_refuses_the_same_target_twice() {
    let dir = TestDir::new("batch-dup");
    let mut batch = Batch::new();
    batch.add(dir.join("once"), b"1".to_vec()).unwrap();
    let error = batch
        .add(dir.path().join(".").join("once"), b"2".to_vec())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("once"), "{error}");
    assert_eq!(batch.len(), 1);
    batch.commit().unwrap();
    assert_eq!(std::fs::read(dir.join("once")).unwrap(), b"1");
}

#[test]
fn batch_add_reports_a_missing_directory_at_once() {
    let dir = TestDir::new("batch-missing");
    let mut batch = Batch::new();
    let error = batch
        .add(dir.join("missing/file"), b"x".to_vec())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.to_string().contains("missing"), "{error}");
    assert!(batch.is_empty());
}

#[test]
fn empty_batch_commits() {
    Batch::new().commit().unwrap();
}

#[test]
fn dropped_batch_writes_nothing() {
    let dir = TestDir::new("batch-drop");
    let mut batch = Batch::new();
    batch.add(dir.join("never"), b"x".to_vec()).unwrap();
    drop(batch);
    assert!(dir.names().is_empty());
}

#[test]
fn batch_keeps_metadata_like_a_single_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("batch-meta");
    std::fs::write(dir.join("kept"), b"old").unwrap();
    std::fs::set_permissions(dir.join("kept"), std::fs::Permissions::from_mode(0o604)).unwrap();
    let mut batch = Batch::new();
    batch.add(dir.join("kept"), b"new".to_vec()).unwrap();
    batch.commit().unwrap();
    assert_eq!(crate::util::mode_of(&dir.join("kept")), 0o604);
}

const FEW_FDS: &str = "batch-under-a-low-rlimit-nofile";
/// The soft `RLIMIT_NOFILE` of the child; the batch spans more directories than that.
const NOFILE_LIMIT: u64 = 64;
const BATCH_DIRS: usize = 100;

#[test]
fn batch_over_more_directories_than_rlimit_nofile() {
    if crate::util::child_role().as_deref() == Some(FEW_FDS) {
        return batch_with_few_fds();
    }
    let dir = TestDir::new("batch-nofile");
    for i in 0..BATCH_DIRS {
        std::fs::create_dir(dir.join(format!("d{i:03}"))).unwrap();
    }
    let test = "batch::batch_over_more_directories_than_rlimit_nofile";
    let reports = crate::util::spawn_child(test, FEW_FDS, &[("DIR", dir.path())]).finish();
    assert_eq!(reports, ["committed"]);
    for i in 0..BATCH_DIRS {
        let path = dir.join(format!("d{i:03}/f"));
        assert_eq!(std::fs::read_to_string(path).unwrap(), format!("file {i}"));
        assert_eq!(crate::util::names_in(&dir.join(format!("d{i:03}"))), ["f"]);
    }
}

/// Child: lower the soft limit on open files, then batch one file into each directory.
fn batch_with_few_fds() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, NOFILE_LIMIT, hard).unwrap();
    let dir = PathBuf::from(crate::util::child_arg("DIR"));
    let mut batch = Batch::new();
    for i in 0..BATCH_DIRS {
        let path = dir.join(format!("d{i:03}/f"));
        batch.add(path, format!("file {i}")).unwrap();
    }
    batch.commit().unwrap();
    crate::util::report("committed");
}

#[test]
fn batch_refuses_a_directory_replaced_between_add_and_commit() {
    let dir = TestDir::new("batch-moved");
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::create_dir(dir.join("other")).unwrap();
    let mut batch = Batch::new();
    batch.add(dir.join("sub/a"), b"a".to_vec()).unwrap();
    batch.add(dir.join("other/b"), b"b".to_vec()).unwrap();
    std::fs::rename(dir.join("sub"), dir.join("moved")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let error = batch.commit().unwrap_err();
    assert_eq!(error.committed(), [dir.join("other/b")]);
    let failure = &error.failures()[0];
    assert_eq!(failure.target(), dir.join("sub/a"));
    assert_eq!(failure.error().kind(), ErrorKind::NotFound);
    assert!(
        failure.to_string().contains("moved or replaced"),
        "{failure}"
    );
    assert!(crate::util::names_in(&dir.join("sub")).is_empty());
    assert!(crate::util::names_in(&dir.join("moved")).is_empty());
}
