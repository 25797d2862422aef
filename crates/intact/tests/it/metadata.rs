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

/// Whether `setfacl` can be run here.
pub fn has_setfacl() -> bool {
    std::process::Command::new("setfacl")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

pub fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The access ACL of `path` as `getfacl` prints it, without the header (names differ).
pub fn acl_of(path: &std::path::Path) -> String {
    run("getfacl", &["-c", "-n", "-p", &path.display().to_string()])
}

#[test]
fn new_file_honours_the_directory_default_acl() {
    if !is_root() || !has_setfacl() {
        crate::util::skip("needs root and setfacl");
        return;
    }
    let dir = TestDir::new("default-acl");
    // A private default ACL (the umask must not widen it) and one with a named user and a mask.
    let cases = [
        ("private", "u::rw,g::---,o::---"),
        ("named", "u::rw,u:65534:rw,g::r,m::r,o::---"),
        ("wide", "u::rw,g::rw,o::rw"),
    ];
    for (label, acl) in cases {
        let sub = dir.join(label);
        std::fs::create_dir(&sub).unwrap();
        run("setfacl", &["-d", "-m", acl, &sub.display().to_string()]);
        let reference = sub.join("reference");
        File::create(&reference).unwrap();
        // Below Durability::Full the directory is opened O_PATH, which some kernels refuse
        // to read extended attributes through.
        let levels = [intact::Durability::Full, intact::Durability::Data];
        for (temp, level) in [Temp::Named, Temp::Anonymous, Temp::Auto]
            .into_iter()
            .flat_map(|temp| levels.map(|level| (temp, level)))
        {
            let path = sub.join(format!("new-{temp:?}-{level:?}"));
            match Options::new()
                .temp(temp)
                .durability(level)
                .write(&path, b"new")
            {
                Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
                other => other.unwrap(),
            }
            let what = format!("{label} {temp:?} {level:?}");
            assert_eq!(mode_of(&path), mode_of(&reference), "{what}");
            assert_eq!(acl_of(&path), acl_of(&reference), "{what}");
        }
        // The named temp file stays private while written, whatever the default ACL says.
        let _file = Options::new()
            .temp(Temp::Named)
            .create(sub.join("pending"))
            .unwrap();
        let temp = crate::util::names_in(&sub)
            .into_iter()
            .find(|name| name.ends_with(".intact-tmp"))
            .unwrap();
        assert_eq!(mode_of(&sub.join(temp)) & 0o077, 0, "{label}");
    }
}

#[test]
fn permissions_tightened_between_create_and_commit_are_kept() {
    use std::io::Write;
    let dir = TestDir::new("chmod-between");
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let path = dir.join(format!("secret-{temp:?}"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = match Options::new().temp(temp).create(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
            other => other.unwrap(),
        };
        file.write_all(b"new").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        file.commit().unwrap();
        assert_eq!(
            mode_of(&path),
            0o600,
            "{temp:?}: published wider than replaced"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}

#[test]
fn owner_changed_between_create_and_commit_is_kept() {
    if !is_root() {
        crate::util::skip("needs root to give a file away (chown)");
        return;
    }
    let dir = TestDir::new("chown-between");
    for temp in KINDS {
        let path = dir.join(format!("owned-{temp:?}"));
        std::fs::write(&path, b"old").unwrap();
        let file = Options::new().temp(temp).create(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65533)).unwrap();
        file.commit().unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65533), "{temp:?}");
    }
}

#[test]
fn preserve_mode_false_gives_the_new_file_mode() {
    let dir = TestDir::new("no-keep-mode");
    let reference = dir.join("reference");
    File::create(&reference).unwrap();
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let path = dir.join(format!("file-{temp:?}"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        match Options::new()
            .temp(temp)
            .preserve_mode(false)
            .write(&path, b"new")
        {
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
            other => other.unwrap(),
        }
        assert_eq!(mode_of(&path), mode_of(&reference), "{temp:?}");
    }
}

#[test]
fn preserve_owner_no_and_try_as_root() {
    use intact::Preserve;
    if !is_root() {
        crate::util::skip("needs root to give a file away (chown)");
        return;
    }
    let dir = TestDir::new("preserve-owner");
    for temp in KINDS {
        for (preserve, owner) in [
            (Preserve::Try, (65534, 65533)),
            (Preserve::Yes, (65534, 65533)),
            (Preserve::No, (0, 0)),
        ] {
            let path = dir.join(format!("owned-{temp:?}-{preserve:?}"));
            std::fs::write(&path, b"old").unwrap();
            std::os::unix::fs::chown(&path, Some(65534), Some(65533)).unwrap();
            Options::new()
                .temp(temp)
                .preserve_owner(preserve)
                .write(&path, b"new")
                .unwrap();
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), owner, "{temp:?} {preserve:?}");
        }
    }
}

const OWNER_NOT_KEPT: &str = "preserve-owner-as-nobody";

#[test]
fn preserve_owner_yes_fails_when_the_owner_cannot_be_kept() {
    if child_role().as_deref() == Some(OWNER_NOT_KEPT) {
        return replace_roots_file_as_nobody();
    }
    if !is_root() {
        crate::util::skip("needs root (a child drops to nobody to replace root's file)");
        return;
    }
    let dir = TestDir::new("preserve-owner-yes");
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(65534), Some(65534)).unwrap();
    let target = shared.join("roots");
    std::fs::write(&target, b"old").unwrap();
    let test = "metadata::preserve_owner_yes_fails_when_the_owner_cannot_be_kept";
    let reports = spawn_child(test, OWNER_NOT_KEPT, &[("TARGET", &target)]).finish();
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(reports[0], "PermissionDenied", "{reports:?}");
    assert!(reports[1].contains("Preserve::Yes"), "{reports:?}");
    assert_eq!(reports[2], "try: written");
    // Try went on without the owner: a writer that may not chown becomes the owner.
    assert_eq!(std::fs::metadata(&target).unwrap().uid(), 65534);
    assert_eq!(std::fs::read(&target).unwrap(), b"try");
    assert_eq!(crate::util::names_in(&shared), ["roots"]);
}

/// Child: as nobody, replace a root-owned file with Preserve::Yes (must fail), then Try.
fn replace_roots_file_as_nobody() {
    use intact::{CommitFailed, Preserve};
    let nobody = 65534;
    nix::unistd::setgroups(&[]).expect("setgroups");
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).expect("setgid");
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).expect("setuid");
    let target = child_arg("TARGET");
    let strict = Options::new().preserve_owner(Preserve::Yes);
    let error = strict
        .write(&target, b"yes")
        .expect_err("chown to root must fail");
    let failed = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CommitFailed>())
        .expect("a commit error");
    assert!(!failed.is_published());
    assert_eq!(failed.raw_os_error(), Some(libc::EPERM));
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    report(&format!("{:?}", error.kind()));
    report(&error.to_string());
    Options::new()
        .preserve_owner(Preserve::Try)
        .write(&target, b"try")
        .unwrap();
    report("try: written");
}

#[test]
fn preserve_xattrs_copies_user_attributes_and_the_acl() {
    let dir = TestDir::new("xattrs");
    let probe = dir.join("probe");
    std::fs::write(&probe, b"").unwrap();
    match rustix::fs::setxattr(&probe, "user.probe", b"1", rustix::fs::XattrFlags::empty()) {
        Err(rustix::io::Errno::NOTSUP) => {
            crate::util::skip(&format!("no user xattrs on {}", dir.path().display()));
            return;
        }
        other => other.unwrap(),
    }
    let with_acl = is_root() && has_setfacl();
    if !with_acl {
        crate::util::skip("the ACL part only: needs root and setfacl");
    }
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let path = dir.join(format!("tagged-{temp:?}"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let flags = rustix::fs::XattrFlags::empty();
        rustix::fs::setxattr(&path, "user.origin", b"kept", flags).unwrap();
        if with_acl {
            run("setfacl", &["-m", "u:65534:r", &path.display().to_string()]);
        }
        let acl_before = with_acl.then(|| acl_of(&path));
        let plain = Options::new().temp(temp);
        match plain.write(&path, b"new") {
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
            other => other.unwrap(),
        }
        let mut value = [0u8; 16];
        let missing = rustix::fs::getxattr(&path, "user.origin", &mut value[..]);
        assert_eq!(
            missing,
            Err(rustix::io::Errno::NODATA),
            "not copied by default"
        );
        if with_acl {
            rustix::fs::setxattr(&path, "user.origin", b"kept", flags).unwrap();
            run("setfacl", &["-m", "u:65534:r", &path.display().to_string()]);
        } else {
            rustix::fs::setxattr(&path, "user.origin", b"kept", flags).unwrap();
        }
        plain.preserve_xattrs(true).write(&path, b"newer").unwrap();
        let len = rustix::fs::getxattr(&path, "user.origin", &mut value[..]).unwrap();
        assert_eq!(&value[..len], b"kept", "{temp:?}");
        assert_eq!(mode_of(&path), 0o640, "{temp:?}");
        if let Some(before) = acl_before {
            assert_eq!(acl_of(&path), before, "{temp:?}");
            assert!(before.contains("user:65534:r--"), "{before}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"newer");
    }
}
