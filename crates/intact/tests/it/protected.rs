//! Never weaker than the kernel's own `open`: under `fs.protected_symlinks`,
//! `Symlinks::Follow` refuses a link planted by another user in a sticky world-writable
//! directory, and under `fs.protected_regular` a replace refuses a regular file planted there,
//! both with the kernel's errno (`EACCES`).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use intact::{Batch, Options, Symlinks, Temp};

use crate::util::{TestDir, errno_of, is_root, skip};

const SYSCTL: &str = "/proc/sys/fs/protected_symlinks";
const REGULAR_SYSCTL: &str = "/proc/sys/fs/protected_regular";
const NOBODY: u32 = 65534;

/// Sets a `fs.protected_*` sysctl for the test and puts back the value it had; one test at a
/// time, so the value put back is the original.
struct Sysctl {
    path: &'static str,
    before: String,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static SYSCTL_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Sysctl {
    fn set(path: &'static str, value: &str) -> Sysctl {
        let guard = SYSCTL_USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = std::fs::read_to_string(path).expect("read the sysctl");
        std::fs::write(path, value).expect("set the sysctl");
        Sysctl {
            path,
            before,
            _one_at_a_time: guard,
        }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(self.path, self.before.trim());
    }
}

/// The kernel's answer: `open(link, O_WRONLY | O_CREAT | O_TRUNC)` as root, the errno if
/// refused. Opened without O_TRUNC first so a success is undone by nothing.
fn kernel_open(link: &Path) -> Option<i32> {
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(link);
    opened
        .err()
        .map(|error| error.raw_os_error().expect("an OS error"))
}

/// A test directory (root's, 0755) with a sticky world-writable `pub` in it, like `/tmp`;
/// `None` (said on stderr) where the test cannot run.
fn sticky_public(label: &str) -> Option<(TestDir, PathBuf)> {
    if !is_root() || !Path::new(SYSCTL).exists() {
        skip("needs root and /proc/sys/fs/protected_symlinks (plants links as nobody)");
        return None;
    }
    let dir = TestDir::new(label);
    let public = dir.join("pub");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o1777)).unwrap();
    Some((dir, public))
}

#[test]
fn follow_refuses_what_protected_symlinks_refuses() {
    let Some((dir, public)) = sticky_public("protected") else {
        return;
    };
    let secret = dir.join("secret");
    std::fs::write(&secret, b"root's secret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let planted = public.join("report.json");
    symlink(&secret, &planted).unwrap();
    let nobody = Some(nix::unistd::Uid::from_raw(NOBODY));
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &planted,
        nobody,
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .expect("chown the link to nobody");
    let _on = Sysctl::set(SYSCTL, "1");
    assert_eq!(
        kernel_open(&planted),
        Some(libc::EACCES),
        "the kernel refuses"
    );
    for temp in [Temp::Auto, Temp::Named] {
        let error = Options::new()
            .temp(temp)
            .write(&planted, b"pwned")
            .unwrap_err();
        assert_eq!(errno_of(&error), Some(libc::EACCES), "{temp:?}: {error}");
        assert!(error.to_string().contains("protected_symlinks"), "{error}");
    }
    let error = Batch::new().add(&planted, b"pwned".to_vec()).unwrap_err();
    assert_eq!(errno_of(&error), Some(libc::EACCES), "batch: {error}");
    assert_eq!(std::fs::read(&secret).unwrap(), b"root's secret");
    assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
    assert_eq!(crate::util::names_in(&public), ["report.json"]);
    // Replacing the link itself is not following it.
    let replace = Options::new().symlinks(Symlinks::Replace);
    replace.write(&planted, b"a file now").unwrap();
    assert_eq!(std::fs::read(&secret).unwrap(), b"root's secret");
}

#[test]
fn follow_takes_what_protected_symlinks_allows() {
    let Some((dir, public)) = sticky_public("protected-allowed") else {
        return;
    };
    std::fs::write(dir.join("mine"), b"old").unwrap();
    // Root's own link in the same directory: its owner follows it, as the kernel does.
    let own = public.join("own");
    symlink(dir.join("mine"), &own).unwrap();
    let _on = Sysctl::set(SYSCTL, "1");
    assert_eq!(kernel_open(&own), None, "the kernel follows it");
    intact::write(&own, b"new").unwrap();
    assert_eq!(std::fs::read(dir.join("mine")).unwrap(), b"new");
}

fn chown(path: &Path, uid: u32) {
    let uid = Some(nix::unistd::Uid::from_raw(uid));
    nix::unistd::chown(path, uid, None).expect("chown");
}

/// A sticky directory with `mode` in the (root-owned) test directory.
fn sticky_dir(dir: &TestDir, name: &str, mode: u32) -> PathBuf {
    let sticky = dir.join(name);
    std::fs::create_dir(&sticky).unwrap();
    std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(mode)).unwrap();
    sticky
}

#[test]
fn replace_refuses_what_protected_regular_refuses_and_takes_what_it_allows() {
    if !is_root() || !Path::new(REGULAR_SYSCTL).exists() {
        skip("needs root and /proc/sys/fs/protected_regular (plants files as nobody)");
        return;
    }
    let dir = TestDir::new("protected-regular");
    let places = [
        sticky_dir(&dir, "world", 0o1777),
        sticky_dir(&dir, "group", 0o1770),
    ];
    let (mut refused, mut cases) = (0, 0);
    for level in ["0", "1", "2"] {
        let _set = Sysctl::set(REGULAR_SYSCTL, level);
        for place in &places {
            for owner in [NOBODY, 0] {
                for temp in [Temp::Auto, Temp::Named] {
                    let file = place.join(format!("report-{owner}.json"));
                    // Made afresh: writing into nobody's file is what the sysctl refuses.
                    let _ = std::fs::remove_file(&file);
                    std::fs::write(&file, b"old").unwrap();
                    chown(&file, owner);
                    let kernel = kernel_open(&file);
                    let written = Options::new().temp(temp).write(&file, b"new");
                    let case = format!(
                        "level {level}, {}, owner {owner}, {temp:?}",
                        place.display()
                    );
                    match kernel {
                        Some(errno) => {
                            let error = written.expect_err(&case);
                            assert_eq!(errno_of(&error), Some(errno), "{case}: {error}");
                            assert!(error.to_string().contains("protected_regular"), "{error}");
                            assert_eq!(std::fs::read(&file).unwrap(), b"old", "{case}");
                            refused += 1;
                        }
                        None => {
                            written.unwrap_or_else(|error| panic!("{case}: {error}"));
                            assert_eq!(std::fs::read(&file).unwrap(), b"new", "{case}");
                        }
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 2 * 2 * 2);
    // Level 1: nobody's file in the world-writable place; level 2: in both places.
    assert_eq!(refused, (1 + 2) * 2, "the kernel refused as many");
    for place in &places {
        assert_eq!(
            crate::util::names_in(place),
            ["report-0.json", "report-65534.json"]
        );
    }
}

#[test]
fn a_file_planted_between_create_and_commit_is_refused_as_at_create() {
    let Some((_dir, public)) = sticky_public("protected-regular-late") else {
        return;
    };
    let _set = Sysctl::set(REGULAR_SYSCTL, "1");
    let target = public.join("report.json");
    let mut file = intact::AtomicFile::create(&target).unwrap();
    std::io::Write::write_all(&mut file, b"root's data").unwrap();
    std::fs::write(&target, b"planted").unwrap();
    chown(&target, NOBODY);
    assert_eq!(
        kernel_open(&target),
        Some(libc::EACCES),
        "the kernel refuses"
    );
    let error = file.commit().unwrap_err();
    assert_eq!(error.failure(), intact::CommitFailure::NotPublished);
    assert_eq!(error.raw_os_error(), Some(libc::EACCES), "{error}");
    drop(error);
    assert_eq!(std::fs::read(&target).unwrap(), b"planted");
    assert_eq!(crate::util::names_in(&public), ["report.json"]);
}
