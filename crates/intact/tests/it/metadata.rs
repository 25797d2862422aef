//! Permissions and ownership: kept on replace, umask for new files, explicit mode.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use intact::{Options, Overwrite, Temp};

use crate::util::{TestDir, child_arg, child_role, is_root, mode_of, report, spawn_child};

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
        crate::util::skip("needs root to give a file away (chown)");
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

const UNPRIVILEGED: &str = "unprivileged-setgid-writer";

#[test]
fn set_id_bits_survive_writes_by_an_unprivileged_writer() {
    // A write by a process without CAP_FSETID clears set-user-ID and (group-executable)
    // set-group-ID bits, so the mode must be applied after the last write. Root has
    // CAP_FSETID, so as root a child that dropped to `nobody` does the writing.
    if child_role().as_deref() == Some(UNPRIVILEGED) {
        return write_as_nobody();
    }
    let dir = TestDir::new("setgid");
    let path = dir.join("tool");
    std::fs::write(&path, b"old").unwrap();
    let owner = if is_root() {
        65534
    } else {
        nix::unistd::geteuid().as_raw()
    };
    let group = if is_root() {
        65534
    } else {
        nix::unistd::getegid().as_raw()
    };
    if is_root() {
        std::os::unix::fs::chown(dir.path(), Some(owner), Some(group)).unwrap();
        std::os::unix::fs::chown(&path, Some(owner), Some(group)).unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o6750)).unwrap();
    assert_eq!(mode_of(&path), 0o6750, "setup");
    if is_root() {
        let test = "metadata::set_id_bits_survive_writes_by_an_unprivileged_writer";
        let reports = spawn_child(test, UNPRIVILEGED, &[("TARGET", &path)]).finish();
        assert_eq!(reports, ["written"]);
    } else {
        Options::new()
            .temp(Temp::Named)
            .write(&path, vec![b'x'; 10_000])
            .unwrap();
        Options::new()
            .temp(Temp::Auto)
            .write(&path, vec![b'y'; 10_000])
            .unwrap();
    }
    assert_eq!(mode_of(&path), 0o6750);
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'y'; 10_000]);
}

/// Child: become `nobody` and replace the target with both temp kinds.
fn write_as_nobody() {
    let nobody = 65534;
    nix::unistd::setgroups(&[]).expect("setgroups");
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).expect("setgid");
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).expect("setuid");
    let target = child_arg("TARGET");
    Options::new()
        .temp(Temp::Named)
        .write(&target, vec![b'x'; 10_000])
        .unwrap();
    Options::new()
        .temp(Temp::Auto)
        .write(&target, vec![b'y'; 10_000])
        .unwrap();
    report("written");
}

const RESTRICTIVE_UMASK: &str = "restrictive-umask";

#[test]
fn a_restrictive_umask_changes_new_files_only() {
    // An unnamed temp file is created with the kept mode, which the umask filters: the commit
    // must notice and set it. The umask is per process, so a child sets it.
    if child_role().as_deref() == Some(RESTRICTIVE_UMASK) {
        return write_under_umask_077();
    }
    let dir = TestDir::new("umask-077");
    let test = "metadata::a_restrictive_umask_changes_new_files_only";
    let reports = spawn_child(test, RESTRICTIVE_UMASK, &[("DIR", dir.path())]).finish();
    assert_eq!(reports, ["written"]);
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let kept = mode_of(&dir.join(format!("kept-{temp:?}")));
        assert_eq!(kept, 0o644, "{temp:?}: replaced file's mode not kept");
        let explicit = mode_of(&dir.join(format!("explicit-{temp:?}")));
        assert_eq!(explicit, 0o666, "{temp:?}: Options::mode not exact");
        let new = mode_of(&dir.join(format!("new-{temp:?}")));
        assert_eq!(new, 0o600, "{temp:?}: new file ignores the umask");
    }
}

/// Child: umask 077, then replace a 0644 file, create one with `mode(0o666)` and a plain new
/// one, with each temp kind.
fn write_under_umask_077() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let dir = std::path::PathBuf::from(child_arg("DIR"));
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let kept = dir.join(format!("kept-{temp:?}"));
        std::fs::write(&kept, b"old").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o644)).unwrap();
        let options = Options::new().temp(temp);
        options.write(&kept, b"new").unwrap();
        let explicit = dir.join(format!("explicit-{temp:?}"));
        options
            .clone()
            .mode(0o666)
            .write(&explicit, b"new")
            .unwrap();
        options
            .write(dir.join(format!("new-{temp:?}")), b"new")
            .unwrap();
    }
    report("written");
}
