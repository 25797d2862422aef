//! `Symlinks::Follow` is never weaker than the kernel's own `open`: under
//! `fs.protected_symlinks`, a link planted by another user in a sticky world-writable
//! directory is refused, with the kernel's errno (`EACCES`).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use intact::{Batch, Options, Symlinks, Temp};

use crate::util::{TestDir, errno_of, is_root, skip};

const SYSCTL: &str = "/proc/sys/fs/protected_symlinks";
const NOBODY: u32 = 65534;

/// Turns `fs.protected_symlinks` on for the test (it is on by default on most distributions)
/// and puts back the value it had; one test at a time, so the value put back is the original.
struct ProtectedSymlinks {
    before: String,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static SYSCTL_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl ProtectedSymlinks {
    fn on() -> ProtectedSymlinks {
        let guard = SYSCTL_USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = std::fs::read_to_string(SYSCTL).expect("read the sysctl");
        std::fs::write(SYSCTL, "1").expect("set fs.protected_symlinks");
        ProtectedSymlinks {
            before,
            _one_at_a_time: guard,
        }
    }
}

impl Drop for ProtectedSymlinks {
    fn drop(&mut self) {
        let _ = std::fs::write(SYSCTL, self.before.trim());
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
    let _on = ProtectedSymlinks::on();
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
    let _on = ProtectedSymlinks::on();
    assert_eq!(kernel_open(&own), None, "the kernel follows it");
    intact::write(&own, b"new").unwrap();
    assert_eq!(std::fs::read(dir.join("mine")).unwrap(), b"new");
}
