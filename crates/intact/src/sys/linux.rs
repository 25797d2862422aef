//! Linux: `O_TMPFILE` + `linkat`, `renameat2(RENAME_NOREPLACE)`, `fs.protected_symlinks`.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self, AtFlags, CWD, OFlags, RenameFlags, Statx, StatxFlags};
use rustix::io::Errno;

use super::{Meta, retry};

/// What this crate reads of a file: type, permission bits, owner, inode and size (the device
/// comes with every answer). Never the change or modification time: since Linux 6.13 a query
/// for them (which `fstat` always makes) marks the inode, so that its next change must get a
/// fine-grained timestamp and dirty the inode. That cost about 50 µs per write on ext4 in
/// `intact`'s benchmarks (a `stat` of the temp file, or even of the directory, before the
/// `fsync`s): `statx` with this mask costs nothing extra.
const STAT_FIELDS: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::UID)
    .union(StatxFlags::GID)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE);

/// The metadata of an open file (any descriptor, `O_PATH` included), without its timestamps.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> Result<Meta, Errno> {
    match retry(|| fs::statx(fd, "", AtFlags::EMPTY_PATH, STAT_FIELDS)) {
        Ok(statx) => Ok(meta_of(&statx)),
        // Before Linux 4.11, or in a sandbox that filters statx (rustix remembers).
        Err(Errno::NOSYS) => retry(|| fs::fstat(fd)).map(Meta::from),
        Err(errno) => Err(errno),
    }
}

/// The metadata of `name` in `dir`, not following a symlink, without its timestamps.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<Meta, Errno> {
    match retry(|| fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, STAT_FIELDS)) {
        Ok(statx) => Ok(meta_of(&statx)),
        Err(Errno::NOSYS) => {
            retry(|| fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)).map(Meta::from)
        }
        Err(errno) => Err(errno),
    }
}

// The casts are no-ops on some targets and widenings on others.
#[allow(clippy::unnecessary_cast, trivial_numeric_casts)]
fn meta_of(statx: &Statx) -> Meta {
    Meta {
        dev: fs::makedev(statx.stx_dev_major, statx.stx_dev_minor) as u64,
        ino: statx.stx_ino,
        mode: u32::from(statx.stx_mode),
        uid: statx.stx_uid,
        gid: statx.stx_gid,
        size_bytes: statx.stx_size,
    }
}

/// Flags to open the target's directory with: readable when it will be `fsync`ed, else
/// `O_PATH`, a descriptor only to resolve names against (cheaper to open and close, and all
/// that `openat`, `fstatat`, `linkat`, `renameat` and `unlinkat` need).
pub(crate) fn dir_open_flags(will_sync: bool) -> OFlags {
    let access = match will_sync {
        true => OFlags::RDONLY,
        false => OFlags::PATH,
    };
    access | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// Opens an unnamed temp file in `dir` with `O_TMPFILE`, or `Ok(None)` when the filesystem
/// (or kernel) does not support it.
///
/// No name exists for the file until [`link_anonymous`], so a crash before that leaves nothing
/// behind: the kernel frees the inode when the last descriptor closes. `mode` goes through the
/// umask (and default ACLs), as for any `open(O_CREAT)`.
pub(crate) fn open_anonymous(dir: BorrowedFd<'_>, mode: u32) -> Result<Option<OwnedFd>, Errno> {
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match retry(|| fs::openat(dir, ".", flags, super::mode(mode))) {
        Ok(fd) => Ok(Some(fd)),
        // EOPNOTSUPP: the filesystem has no tmpfile support. EISDIR: a kernel older than 3.11
        // ignores __O_TMPFILE and sees O_DIRECTORY|O_RDWR. EINVAL: flags rejected.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether an unnamed temp file can be linked without privileges on this system.
///
/// `linkat` through `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW` works for any user; the
/// alternative, `AT_EMPTY_PATH`, needs `CAP_DAC_READ_SEARCH`. Checked once per process.
pub(crate) fn anonymous_linkable() -> bool {
    static PROC_FD: OnceLock<bool> = OnceLock::new();
    *PROC_FD.get_or_init(|| std::path::Path::new("/proc/self/fd").is_dir())
}

/// Set once `linkat(fd, "", AT_EMPTY_PATH)` was refused where `/proc/self/fd/N` worked:
/// from then on this process goes to `/proc` first.
static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);

/// Gives the unnamed file `file` the name `name` in `dir`; fails with `EEXIST` when the name
/// is taken (`linkat` never replaces), which is what makes no-clobber free for unnamed files.
///
/// `linkat(file, "", dir, name, AT_EMPTY_PATH)` first: Linux 6.10 and later allow it for a
/// file opened by a process with the same credentials (earlier kernels only with
/// `CAP_DAC_READ_SEARCH`), and it skips resolving a path through `/proc`. Where it is refused
/// (`ENOENT`), `linkat("/proc/self/fd/N", dir, name, AT_SYMLINK_FOLLOW)`, which works for any
/// user, and the refusal is remembered for the rest of the process. Both link the same open
/// file, under the same permission checks.
pub(crate) fn link_anonymous(
    file: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
) -> Result<(), Errno> {
    if !EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
        match retry(|| fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH)) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
    }
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let follow = AtFlags::SYMLINK_FOLLOW;
    let linked = retry(|| fs::linkat(CWD, proc_path.as_str(), dir, name, follow));
    if linked.is_ok() {
        EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
    }
    linked
}

/// Renames `from` to `to` inside `dir` only if `to` does not exist (`EEXIST` otherwise).
///
/// `renameat2(RENAME_NOREPLACE)` checks and renames in one step. Filesystems without it
/// (EINVAL, for example ZFS before 2.2 or some FUSE filesystems) and kernels before 3.15
/// (ENOSYS) get `link` + `unlink`, which is just as exclusive: `link` fails if `to` exists.
pub(crate) fn rename_noreplace(
    dir: BorrowedFd<'_>,
    from: &std::ffi::OsStr,
    to: &std::ffi::OsStr,
) -> Result<(), Errno> {
    match retry(|| fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE)) {
        Err(Errno::INVAL | Errno::NOSYS) => super::link_then_unlink(dir, from, to),
        other => other,
    }
}

/// `fsync` on a directory: makes the entries created, renamed or removed in it durable.
pub(crate) fn sync_directory(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    fs::fsync(dir)
}

/// The name of a file's access ACL.
const ACCESS_ACL: &str = "system.posix_acl_access";
/// The largest value of an extended attribute (`XATTR_SIZE_MAX`).
const XATTR_SIZE_MAX: usize = 65536;

/// A path through which an `O_PATH` descriptor (which `f*xattr` refuse before Linux 6.12) can
/// be used for the `*xattr` calls: `/proc/self/fd/N` where `/proc` is mounted, else the path.
fn fd_path(fd: BorrowedFd<'_>, path: &Path) -> PathBuf {
    match anonymous_linkable() {
        true => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        false => path.to_path_buf(),
    }
}

/// The value of attribute `name` of `path` (`follow`: the last component too).
fn read_xattr(path: &Path, name: &OsStr, follow: bool) -> Result<Vec<u8>, Errno> {
    let mut value = vec![0u8; XATTR_SIZE_MAX];
    let len = match follow {
        true => retry(|| fs::getxattr(path, name, &mut value[..]))?,
        false => retry(|| fs::lgetxattr(path, name, &mut value[..]))?,
    };
    value.truncate(len);
    Ok(value)
}

/// An extended attribute that could not be copied, and why.
#[derive(Debug)]
pub(crate) struct XattrError {
    pub(crate) errno: Errno,
    /// The attribute's name; empty when listing the attributes failed.
    pub(crate) name: String,
}

/// Copies every extended attribute of `name` in `dir` (at `dir_path`) to the open file `to`,
/// ACLs included; removes `to`'s access ACL (inherited from a default ACL) where `name` has
/// none.
pub(crate) fn copy_xattrs(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &OsStr,
    to: BorrowedFd<'_>,
) -> Result<(), XattrError> {
    let from = fd_path(dir, dir_path).join(name);
    let failed = |errno, name: &OsStr| XattrError {
        errno,
        name: name.to_string_lossy().into_owned(),
    };
    let mut list = vec![0u8; XATTR_SIZE_MAX];
    let len = retry(|| fs::llistxattr(&from, &mut list[..]))
        .map_err(|errno| failed(errno, OsStr::new("")))?;
    let names: Vec<&OsStr> = list[..len]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(OsStr::from_bytes)
        .collect();
    for &attr in &names {
        let value = read_xattr(&from, attr, false).map_err(|errno| failed(errno, attr))?;
        retry(|| fs::fsetxattr(to, attr, &value, fs::XattrFlags::empty()))
            .map_err(|errno| failed(errno, attr))?;
    }
    if !names.contains(&OsStr::new(ACCESS_ACL)) {
        match retry(|| fs::fremovexattr(to, ACCESS_ACL)) {
            Ok(()) | Err(Errno::NODATA | Errno::NOTSUP) => {}
            Err(errno) => return Err(failed(errno, OsStr::new(ACCESS_ACL))),
        }
    }
    Ok(())
}

/// Whether `fs.protected_symlinks` is on: then the kernel refuses to follow a symlink in a
/// sticky world-writable directory unless the follower or the directory's owner owns it.
///
/// Read from `/proc/sys/fs/protected_symlinks` at every call (an administrator may change it);
/// only a symlink found in a sticky world-writable directory asks. Where it cannot be read
/// (no `/proc`), on: refusing a link the kernel would follow is the narrower mistake.
pub(crate) fn protected_symlinks() -> bool {
    match std::fs::read_to_string("/proc/sys/fs/protected_symlinks") {
        Ok(value) => value.trim() != "0",
        Err(_) => true,
    }
}

/// The level of `fs.protected_regular` (0, 1 or 2): at 1 the kernel refuses `open(O_CREAT)` of
/// an existing regular file in a sticky world-writable directory unless the opener or the
/// directory's owner owns it; at 2 also in a sticky group-writable one.
///
/// Read at every call, and only for a file found in such a place. Where it cannot be read (no
/// `/proc`), 2: refusing a file the kernel would open is the narrower mistake.
pub(crate) fn protected_regular() -> u8 {
    match std::fs::read_to_string("/proc/sys/fs/protected_regular") {
        Ok(value) => value.trim().parse().unwrap_or(2),
        Err(_) => 2,
    }
}

/// The calling thread's filesystem user ID (`fsuid`), which the kernel compares with a
/// link's owner under `fs.protected_symlinks`: the fourth field of the `Uid:` line of
/// `/proc/thread-self/status`. `None` where that cannot be read.
pub(crate) fn follower_fsuid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    parse_fsuid(&status)
}

/// The fsuid in a `/proc/*/status` text: `Uid:` real, effective, saved, filesystem.
fn parse_fsuid(status: &str) -> Option<u32> {
    let ids = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    ids.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fsuid_field() {
        let status = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_fsuid(status), Some(1003));
        assert_eq!(parse_fsuid("Uid:\t1000\t1001\n"), None, "cut short");
        assert_eq!(parse_fsuid("Name:\tcat\n"), None);
    }

    #[test]
    fn reads_this_thread_fsuid() {
        let euid = rustix::process::geteuid().as_raw();
        assert_eq!(follower_fsuid(), Some(euid), "nothing here calls setfsuid");
    }
}
