//! Other unixes: no `O_TMPFILE`, so `Temp::Auto` always picks a named temp file.

use std::ffi::OsStr;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::io::Errno;

/// Flags to open the target's directory with: always readable (no `O_PATH` everywhere).
pub(crate) fn dir_open_flags(_will_sync: bool) -> rustix::fs::OFlags {
    use rustix::fs::OFlags;
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// The metadata of an open file.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> Result<super::Meta, Errno> {
    super::retry(|| rustix::fs::fstat(fd)).map(super::Meta::from)
}

/// The metadata of `name` in `dir`, not following a symlink.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<super::Meta, Errno> {
    let flags = rustix::fs::AtFlags::SYMLINK_NOFOLLOW;
    super::retry(|| rustix::fs::statat(dir, name, flags)).map(super::Meta::from)
}

/// `O_TMPFILE` is Linux-only: always unsupported here.
pub(crate) fn open_anonymous(_dir: BorrowedFd<'_>, _mode: u32) -> Result<Option<OwnedFd>, Errno> {
    Ok(None)
}

/// Unnamed temp files never exist on these platforms.
pub(crate) fn anonymous_linkable() -> bool {
    false
}

/// Unreachable in practice: [`open_anonymous`] never returns a file to link.
pub(crate) fn link_anonymous(
    _file: BorrowedFd<'_>,
    _dir: BorrowedFd<'_>,
    _name: &OsStr,
) -> Result<(), Errno> {
    Err(Errno::NOSYS)
}

/// Renames `from` to `to` inside `dir` only if `to` does not exist.
///
/// macOS has `renameatx_np(RENAME_EXCL)`; elsewhere `link` + `unlink` (`link` fails with
/// EEXIST when `to` exists).
pub(crate) fn rename_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), Errno> {
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        use rustix::fs::RenameFlags;
        let renamed =
            super::retry(|| rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE));
        match renamed {
            Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {}
            other => return other,
        }
    }
    super::link_then_unlink(dir, from, to)
}

/// Directory sync. On macOS `fsync` does not flush the drive's cache; `F_FULLFSYNC` does (the
/// same call `File::sync_all` makes for files), falling back to `fsync` where unsupported.
pub(crate) fn sync_directory(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        if rustix::fs::fcntl_fullfsync(dir).is_ok() {
            return Ok(());
        }
    }
    rustix::fs::fsync(dir)
}

/// No `fs.protected_symlinks` outside Linux: links are followed as the kernel follows them.
pub(crate) fn protected_symlinks() -> bool {
    false
}

/// No `fs.protected_regular` outside Linux.
pub(crate) fn protected_regular() -> u8 {
    0
}

/// The effective user ID (no separate filesystem user ID here).
pub(crate) fn follower_fsuid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

/// An extended attribute that could not be copied, and why.
#[derive(Debug)]
pub(crate) struct XattrError {
    pub(crate) errno: Errno,
    pub(crate) name: String,
}

/// Copying extended attributes is only implemented on Linux.
pub(crate) fn copy_xattrs(
    _dir: BorrowedFd<'_>,
    _dir_path: &std::path::Path,
    _name: &OsStr,
    _to: BorrowedFd<'_>,
) -> Result<(), XattrError> {
    Err(XattrError {
        errno: Errno::NOTSUP,
        name: String::new(),
    })
}
