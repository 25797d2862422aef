//! Errors that say what is wrong: a target named like a temp file, a trailing slash, an
//! immutable directory or file, and `Durability::Full` in a directory it cannot read.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use intact::{Batch, Durability, Options, Symlinks, Temp};

use crate::util::{TestDir, child_arg, child_role, errno_of, is_root, report, skip, spawn_child};

#[test]
fn a_target_named_like_a_temp_file_is_refused() {
    let dir = TestDir::new("temp-shaped");
    let name = ".x.0123456789abcdef.intact-tmp";
    let target = dir.join(name);
    let check = |error: std::io::Error, what: &str| {
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{what}: {error}");
        assert!(error.to_string().contains("sweep"), "{what}: {error}");
    };
    check(intact::write(&target, b"x").unwrap_err(), "write");
    for temp in [Temp::Auto, Temp::Named] {
        check(
            Options::new().temp(temp).create(&target).unwrap_err(),
            "create",
        );
    }
    check(
        Batch::new().add(&target, b"x".to_vec()).unwrap_err(),
        "batch",
    );
    // Through a symlink too: the file that would be published is what counts.
    std::os::unix::fs::symlink(name, dir.join("link")).unwrap();
    std::fs::write(&target, b"made by hand").unwrap();
    check(intact::write(dir.join("link"), b"x").unwrap_err(), "follow");
    let replace = Options::new().symlinks(Symlinks::Replace);
    replace.write(dir.join("link"), b"a file").unwrap();
    assert_eq!(dir.names(), [name, "link"]);
    assert_eq!(std::fs::read(&target).unwrap(), b"made by hand");
}

#[test]
fn a_trailing_slash_is_named_as_the_problem() {
    let dir = TestDir::new("trailing-slash");
    std::fs::write(dir.join("file"), b"old").unwrap();
    for name in ["file/", "new/"] {
        let path = format!("{}/{name}", dir.path().display());
        let error = intact::write(&path, b"x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::IsADirectory, "{error}");
        let message = error.to_string();
        assert!(message.contains("ends with '/'"), "{message}");
        assert!(!message.contains("is a directory"), "{message}");
    }
    assert_eq!(dir.names(), ["file"]);
}

/// `chattr` on `path`, `false` where the tool or the filesystem cannot.
fn chattr(flag: &str, path: &Path) -> bool {
    let status = Command::new("chattr").arg(flag).arg(path).status();
    status.is_ok_and(|status| status.success())
}

/// Clears the immutable flag again, so the test directory can be removed.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        chattr("-i", self.0);
    }
}

#[test]
fn an_immutable_directory_or_file_is_named_as_the_cause() {
    let dir = TestDir::new("immutable");
    let (locked, file) = (dir.join("locked"), dir.join("file"));
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(&file, b"old").unwrap();
    if !is_root() || !chattr("+i", &locked) {
        skip("needs root and chattr on a filesystem with the immutable flag");
        return;
    }
    let _undo = Immutable(&locked);
    for temp in [Temp::Auto, Temp::Named] {
        let error = Options::new()
            .temp(temp)
            .write(locked.join("out"), b"x")
            .unwrap_err();
        assert_eq!(errno_of(&error), Some(libc::EPERM), "{error}");
        assert!(error.to_string().contains("immutable"), "{error}");
        assert!(!error.to_string().contains("not writable"), "{error}");
    }
    assert!(chattr("+i", &file), "chattr +i on a file");
    let _undo_file = Immutable(&file);
    for temp in [Temp::Auto, Temp::Named] {
        let error = Options::new().temp(temp).write(&file, b"x").unwrap_err();
        assert_eq!(errno_of(&error), Some(libc::EPERM), "{error}");
        assert!(error.to_string().contains("immutable"), "{error}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"old");
    assert_eq!(dir.names(), ["file", "locked"]);
}

const UNREADABLE_DIR: &str = "write-in-an-unreadable-directory";

#[test]
fn full_durability_says_it_needs_to_read_the_directory() {
    if child_role().as_deref() == Some(UNREADABLE_DIR) {
        return write_in_unreadable_directory();
    }
    if !is_root() {
        skip("needs root (a child drops to nobody, for whom the directory is 0333)");
        return;
    }
    let dir = TestDir::new("unreadable-dir");
    let blind = dir.join("blind");
    std::fs::create_dir(&blind).unwrap();
    std::os::unix::fs::chown(&blind, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&blind, std::fs::Permissions::from_mode(0o333)).unwrap();
    let test = "messages::full_durability_says_it_needs_to_read_the_directory";
    let reports = spawn_child(test, UNREADABLE_DIR, &[("DIR", &blind)]).finish();
    assert_eq!(reports[0], "data: ok");
    assert!(
        reports[1].starts_with("full: PermissionDenied"),
        "{}",
        reports[1]
    );
    assert!(reports[1].contains("read permission"), "{}", reports[1]);
    assert_eq!(std::fs::read(blind.join("data")).unwrap(), b"x");
}

/// Child: as nobody, write with `Data` (works) and `Full` (needs to read the directory).
fn write_in_unreadable_directory() {
    crate::util::become_nobody();
    let dir = std::path::PathBuf::from(child_arg("DIR"));
    let data = Options::new().durability(Durability::Data);
    match data.write(dir.join("data"), b"x") {
        Ok(()) => report("data: ok"),
        Err(error) => report(&format!("data: {error}")),
    }
    match intact::write(dir.join("full"), b"x") {
        Ok(()) => report("full: ok"),
        Err(error) => report(&format!("full: {:?} {error}", error.kind())),
    }
}
