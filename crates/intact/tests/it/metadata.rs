//! Permissions and ownership: kept on replace, umask for new files, explicit mode.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use intact::{Options, Overwrite, Temp};

use crate::util::{TestDir, is_root, mode_of};

const KINDS: [Temp; 2] = [Temp::Named, Temp::Auto];

#[test]
fn replace_keeps_the_mode() {
    let dir = TestDir::new("keep-mode");
    for (i, mode) in [0o640, 0o600, 0o755, 0o444, 0o2750].into_iter().enumerate() {
        for temp in KINDS {
            let path = dir.join(format!("file-{i}-{temp:?}"));
            std::fs::write(&path, b"old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            Options::new().temp(temp).write(&path, b"new").unwrap();
            assert_eq!(mode_of(&path), mode, "{temp:?}: mode {mode:o} not kept");
            assert_eq!(std::fs::read(&path).unwrap(), b"new");
        }
    }
}

#[test]
fn replace_keeps_owner_and_group_when_root() {
    if !is_root() {
        println!("skipped: needs root to give a file away (chown)");
        return;
    }
    let dir = TestDir::new("keep-owner");
    for temp in KINDS {
        let path = dir.join(format!("owned-{temp:?}"));
        std::fs::write(&path, b"old").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65533)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4750)).unwrap();
        Options::new().temp(temp).write(&path, b"new").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65533),
            "{temp:?}: owner not kept"
        );
        // fchown clears set-user-ID, so the mode must be applied after it.
        assert_eq!(mode_of(&path), 0o4750, "{temp:?}");
    }
}

#[test]
fn new_file_gets_the_mode_file_create_would_give() {
    let dir = TestDir::new("umask");
    let reference = dir.join("reference");
    File::create(&reference).unwrap();
    let expected = mode_of(&reference);
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let path = dir.join(format!("new-{temp:?}"));
        match Options::new().temp(temp).write(&path, b"new") {
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
            other => other.unwrap(),
        }
        assert_eq!(mode_of(&path), expected, "{temp:?}");
    }
}

#[test]
fn new_file_mode_follows_the_umask_line_of_proc() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask_line = status.lines().find_map(|line| line.strip_prefix("Umask:"));
    let umask = u32::from_str_radix(umask_line.expect("Umask line").trim(), 8).unwrap();
    let dir = TestDir::new("umask-proc");
    let path = dir.join("new");
    Options::new().temp(Temp::Named).write(&path, b"x").unwrap();
    assert_eq!(mode_of(&path), 0o666 & !umask);
}

#[test]
fn explicit_mode_is_applied_exactly() {
    let dir = TestDir::new("explicit");
    let existing = dir.join("existing");
    std::fs::write(&existing, b"old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    for temp in KINDS {
        for mode in [0o600, 0o751, 0o777] {
            let fresh = dir.join(format!("fresh-{temp:?}-{mode:o}"));
            let options = Options::new().temp(temp).mode(mode);
            options.write(&fresh, b"x").unwrap();
            assert_eq!(
                mode_of(&fresh),
                mode,
                "{temp:?}: new file, umask must not apply"
            );
            options.write(&existing, b"x").unwrap();
            assert_eq!(mode_of(&existing), mode, "{temp:?}: replaced file");
        }
    }
}

#[test]
fn no_clobber_new_file_gets_the_new_file_mode() {
    let dir = TestDir::new("noclobber-mode");
    let reference = dir.join("reference");
    File::create(&reference).unwrap();
    let path = dir.join("new");
    Options::new()
        .overwrite(Overwrite::NoClobber)
        .write(&path, b"x")
        .unwrap();
    assert_eq!(mode_of(&path), mode_of(&reference));
}

#[test]
fn temp_file_of_a_private_file_is_private_while_written() {
    let dir = TestDir::new("private");
    let path = dir.join("secret");
    std::fs::write(&path, b"old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _file = Options::new().temp(Temp::Named).create(&path).unwrap();
    let temps = dir.temp_names();
    assert_eq!(mode_of(&dir.join(&temps[0])), 0o600);
}
