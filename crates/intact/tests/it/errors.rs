//! Errors name the path and keep the kind: the common mistakes get clear messages.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use intact::{Options, Temp};

use crate::util::{TestDir, child_arg, child_role, errno_of, is_root, report, spawn_child};

fn assert_names(error: &std::io::Error, path: &Path) {
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "{message:?} does not name {path:?}"
    );
}

#[test]
fn parent_directory_missing_is_not_found() {
    let dir = TestDir::new("no-parent");
    let path = dir.join("missing/sub/out.txt");
    let error = intact::write(&path, b"x").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(errno_of(&error), Some(libc::ENOENT));
    assert_names(&error, &path);
    assert_names(&error, &dir.join("missing/sub"));
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[test]
fn parent_that_is_a_file_is_not_a_directory() {
    let dir = TestDir::new("parent-file");
    std::fs::write(dir.join("file"), b"").unwrap();
    let path = dir.join("file/out");
    let error = intact::write(&path, b"x").unwrap_err();
    assert_eq!(errno_of(&error), Some(libc::ENOTDIR), "{error}");
    assert_names(&error, &path);
}

#[test]
fn target_that_is_a_directory_is_refused() {
    let dir = TestDir::new("is-dir");
    std::fs::create_dir(dir.join("sub")).unwrap();
    for path in [
        dir.join("sub"),
        dir.join("sub/"),
        dir.join("sub/."),
        dir.join("sub/.."),
    ] {
        let error = intact::write(&path, b"x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::IsADirectory, "{path:?}: {error}");
        assert_names(&error, &path);
    }
    assert!(dir.join("sub").is_dir());
    assert_eq!(
        crate::util::names_in(&dir.join("sub")),
        Vec::<String>::new()
    );
}

#[test]
fn empty_path_is_invalid_input() {
    let error = intact::write("", b"x").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn target_that_is_not_a_regular_file_is_refused() {
    let dir = TestDir::new("fifo");
    let fifo = dir.join("pipe.intact-fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let error = intact::write(&fifo, b"x").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert_names(&error, &fifo);
    let still = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&still.file_type()),
        "FIFO was replaced"
    );
}

#[test]
fn name_too_long_names_the_path() {
    let dir = TestDir::new("too-long");
    let path = dir.join("x".repeat(256));
    for temp in [Temp::Named, Temp::Auto] {
        let error = Options::new().temp(temp).write(&path, b"x").unwrap_err();
        assert_eq!(errno_of(&error), Some(libc::ENAMETOOLONG), "{error}");
        assert_names(&error, &path);
    }
    assert_eq!(dir.names(), Vec::<String>::new());
}

#[test]
fn longest_valid_name_works_although_the_temp_name_would_be_longer() {
    let dir = TestDir::new("long-name");
    let name = "y".repeat(255);
    for temp in [Temp::Named, Temp::Auto] {
        Options::new()
            .temp(temp)
            .write(dir.join(&name), b"fits")
            .unwrap();
        assert_eq!(std::fs::read(dir.join(&name)).unwrap(), b"fits", "{temp:?}");
    }
    assert_eq!(dir.names(), [name]);
}

const UNPRIVILEGED: &str = "unprivileged-writer";

#[test]
fn parent_not_writable_is_permission_denied() {
    if child_role().as_deref() == Some(UNPRIVILEGED) {
        return write_as_nobody();
    }
    let dir = TestDir::new("not-writable");
    let locked = dir.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let target = locked.join("out");
    let (kind, message) = if is_root() {
        // Root bypasses permission bits: a child that drops to `nobody` does the write.
        let test = "errors::parent_not_writable_is_permission_denied";
        let reports = spawn_child(test, UNPRIVILEGED, &[("TARGET", &target)]).finish();
        (reports[0].clone(), reports[1].clone())
    } else {
        let error = intact::write(&target, b"x").unwrap_err();
        (format!("{:?}", error.kind()), error.to_string())
    };
    assert_eq!(kind, "PermissionDenied", "{message}");
    assert!(message.contains(&locked.display().to_string()), "{message}");
    assert!(message.contains("not writable"), "{message}");
    assert_eq!(crate::util::names_in(&locked), Vec::<String>::new());
}

/// Child: become `nobody`, then try to write; report the error's kind and message.
fn write_as_nobody() {
    let nobody = 65534;
    nix::unistd::setgroups(&[]).expect("setgroups");
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).expect("setgid");
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).expect("setuid");
    let target = child_arg("TARGET");
    let error = intact::write(&target, b"x").expect_err("the directory is not writable");
    report(&format!("{:?}", error.kind()));
    report(&error.to_string());
}

#[test]
fn errors_keep_the_os_error_as_their_source() {
    let dir = TestDir::new("source");
    let error = intact::write(dir.join("missing/out"), b"x").unwrap_err();
    let source = std::error::Error::source(&error).expect("a source");
    let os_error = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error source");
    assert_eq!(os_error.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn a_commit_error_survives_conversion_into_io_error() {
    use intact::{CommitFailed, CommitFailure, Overwrite};
    let dir = TestDir::new("downcast");
    let path = dir.join("taken");
    std::fs::write(&path, b"first").unwrap();
    for temp in [Temp::Named, Temp::Auto] {
        let options = Options::new().temp(temp).overwrite(Overwrite::NoClobber);
        let error = options.write(&path, b"second").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists);
        let failed = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<CommitFailed>())
            .expect("a CommitFailed inside the io::Error");
        assert_eq!(failed.failure(), CommitFailure::NotPublished);
        assert!(!failed.is_published());
        assert_eq!(failed.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(failed.target(), path);
        assert_eq!(intact::raw_os_error(&error), Some(libc::EEXIST));
        assert_names(&error, &path);
        // The conversion dropped the file: no temp file is left while the error lives.
        assert_eq!(dir.names(), ["taken"], "{temp:?}");
        // The CommitError itself answers too.
        let commit = options.create(&path).unwrap().commit().unwrap_err();
        assert_eq!(commit.raw_os_error(), Some(libc::EEXIST));
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
}

#[test]
fn path_errors_expose_their_errno() {
    let dir = TestDir::new("path-error");
    let error = intact::write(dir.join("missing/out"), b"x").unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        None,
        "a custom io::Error has none itself"
    );
    assert_eq!(intact::raw_os_error(&error), Some(libc::ENOENT));
    let inner = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<intact::PathError>())
        .expect("a PathError inside the io::Error");
    assert_eq!(inner.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(inner.kind(), ErrorKind::NotFound);
    assert!(inner.message().contains("does not exist"), "{inner}");
}

#[test]
fn a_batch_error_survives_conversion_into_io_error() {
    let dir = TestDir::new("batch-downcast");
    std::fs::create_dir(dir.join("sub")).unwrap();
    let mut batch = intact::Batch::new();
    batch.add(dir.join("sub/a"), b"a".to_vec()).unwrap();
    // The directory goes away between add and commit.
    std::fs::remove_dir(dir.join("sub")).unwrap();
    let error: std::io::Error = batch.commit().unwrap_err().into();
    assert_eq!(intact::raw_os_error(&error), Some(libc::ENOENT), "{error}");
    let report = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<intact::BatchError>())
        .expect("a BatchError inside the io::Error");
    assert_eq!(report.failures()[0].raw_os_error(), Some(libc::ENOENT));
    assert!(!report.failures()[0].is_published());
}
