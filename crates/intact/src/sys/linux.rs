//! Linux: `O_TMPFILE` + `linkat`, `renameat2(RENAME_NOREPLACE)`, the umask from `/proc`.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self, AtFlags, CWD, OFlags, RenameFlags, Statx, StatxFlags};
use rustix::io::Errno;

use super::Meta;

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
    match fs::statx(fd, "", AtFlags::EMPTY_PATH, STAT_FIELDS) {
        Ok(statx) => Ok(meta_of(&statx)),
        // Before Linux 4.11, or in a sandbox that filters statx (rustix remembers).
        Err(Errno::NOSYS) => fs::fstat(fd).map(Meta::from),
        Err(errno) => Err(errno),
    }
}

/// The metadata of `name` in `dir`, not following a symlink, without its timestamps.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<Meta, Errno> {
    match fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, STAT_FIELDS) {
        Ok(statx) => Ok(meta_of(&statx)),
        Err(Errno::NOSYS) => fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map(Meta::from),
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
    match fs::openat(dir, ".", flags, super::mode(mode)) {
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
        match fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
    }
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let linked = fs::linkat(CWD, proc_path.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW);
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
    match fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => super::link_then_unlink(dir, from, to),
        other => other,
    }
}

/// `fsync` on a directory: makes the entries created, renamed or removed in it durable.
pub(crate) fn sync_directory(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    fs::fsync(dir)
}

/// The name of a directory's default ACL, which new files in it inherit.
const DEFAULT_ACL: &str = "system.posix_acl_default";
/// The name of a file's access ACL.
const ACCESS_ACL: &str = "system.posix_acl_access";
/// Bytes of an ACL read at first: the header and 64 entries (an ACL is rarely longer).
const ACL_BYTES: usize = 4 + 8 * 64;
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

/// The permission bits `open(O_CREAT, 0o666)` gives a new file in the directory `dir` (at
/// `path`) when it has a default ACL, which then replaces the umask; `None` without one.
///
/// One `fgetxattr` of the directory (or `getxattr` of `/proc/self/fd/N` for an `O_PATH`
/// descriptor). A filesystem without ACLs has no default ACL.
pub(crate) fn default_acl_mode(dir: BorrowedFd<'_>, path: &Path) -> Result<Option<u32>, Errno> {
    let mut buf = [0u8; ACL_BYTES];
    let read = match fs::fgetxattr(dir, DEFAULT_ACL, &mut buf[..]) {
        Err(Errno::BADF) => fs::getxattr(fd_path(dir, path), DEFAULT_ACL, &mut buf[..]),
        other => other,
    };
    let acl = match read {
        Ok(len) => buf[..len].to_vec(),
        Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
        Err(Errno::RANGE) => read_xattr(&fd_path(dir, path), OsStr::new(DEFAULT_ACL), true)?,
        Err(errno) => return Err(errno),
    };
    super::acl_mode(&acl).map(Some).ok_or(Errno::INVAL)
}

/// The value of attribute `name` of `path` (`follow`: the last component too).
fn read_xattr(path: &Path, name: &OsStr, follow: bool) -> Result<Vec<u8>, Errno> {
    let mut value = vec![0u8; XATTR_SIZE_MAX];
    let len = match follow {
        true => fs::getxattr(path, name, &mut value[..])?,
        false => fs::lgetxattr(path, name, &mut value[..])?,
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
    let len =
        fs::llistxattr(&from, &mut list[..]).map_err(|errno| failed(errno, OsStr::new("")))?;
    let names: Vec<&OsStr> = list[..len]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(OsStr::from_bytes)
        .collect();
    for &attr in &names {
        let value = read_xattr(&from, attr, false).map_err(|errno| failed(errno, attr))?;
        fs::fsetxattr(to, attr, &value, fs::XattrFlags::empty())
            .map_err(|errno| failed(errno, attr))?;
    }
    if !names.contains(&OsStr::new(ACCESS_ACL)) {
        match fs::fremovexattr(to, ACCESS_ACL) {
            Ok(()) | Err(Errno::NODATA | Errno::NOTSUP) => {}
            Err(errno) => return Err(failed(errno, OsStr::new(ACCESS_ACL))),
        }
    }
    Ok(())
}

/// The process umask, read from the `Umask:` line of `/proc/self/status` (Linux 4.7+).
///
/// Reading it with `umask(2)` would mean setting it and putting it back, which is
/// process-global: a thread creating a file in between would get the wrong mode. Where the line
/// is missing (old kernel, no /proc) this returns 0o022, the most common default, and a new
/// file may then be more permissive than `File::create` would make it (use `Options::mode`).
pub(crate) fn process_umask() -> u32 {
    read_umask().unwrap_or(super::FALLBACK_UMASK)
}

/// Bytes of `/proc/self/status` read at first: `Umask:` is its second line, after a `Name:`
/// line of at most 16 bytes of command name (escaped, at most 64).
const STATUS_HEAD_BYTES: usize = 256;

/// `open`, one `read` of the head of the file, `close`; the whole file (some 1.5 KiB, read in
/// growing chunks: a dozen syscalls) only if the line is not complete in the head.
fn read_umask() -> Option<u32> {
    let mut file = std::fs::File::open("/proc/self/status").ok()?;
    let mut head = [0u8; STATUS_HEAD_BYTES];
    let len = file.read(&mut head).ok()?;
    if let Some(mask) = parse_umask(&String::from_utf8_lossy(&head[..len])) {
        return Some(mask);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_umask(&status)
}

/// Parses the `Umask:` line of `/proc/self/status` (an octal number); only a complete line,
/// ended by a newline, counts (the text may be the first bytes of the file).
fn parse_umask(status: &str) -> Option<u32> {
    let line = status
        .split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'))
        .find_map(|line| line.strip_prefix("Umask:"))?;
    let mask = u32::from_str_radix(line.trim(), 8).ok()?;
    (mask <= 0o777).then_some(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_umask_line() {
        let status = "Name:\tcat\nUmask:\t0027\nState:\tR (running)\n";
        assert_eq!(parse_umask(status), Some(0o027));
    }

    #[test]
    fn a_umask_line_cut_short_does_not_count() {
        assert_eq!(parse_umask("Name:\tcat\nUmask:\t00"), None);
        assert_eq!(parse_umask("Name:\tcat\nUmask:\t0027\n"), Some(0o027));
    }

    #[test]
    fn reads_the_same_umask_as_the_whole_status_file() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert_eq!(read_umask(), parse_umask(&status));
        assert!(read_umask().is_some(), "Linux 4.7+ has the Umask line");
    }

    #[test]
    fn rejects_a_missing_or_malformed_umask_line() {
        assert_eq!(parse_umask("Name:\tcat\n"), None);
        assert_eq!(parse_umask("Umask:\t0089\n"), None);
        assert_eq!(parse_umask("Umask:\t7777\n"), None);
    }
}
