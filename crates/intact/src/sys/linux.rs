//! Linux: `O_TMPFILE` + `linkat`, `renameat2(RENAME_NOREPLACE)`, the umask from `/proc`.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::{self, AtFlags, CWD, OFlags, RenameFlags};
use rustix::io::Errno;

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

/// Gives the unnamed file `file` the name `name` in `dir`; fails with `EEXIST` when the name
/// is taken (`linkat` never replaces), which is what makes no-clobber free for unnamed files.
pub(crate) fn link_anonymous(
    file: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
) -> Result<(), Errno> {
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    match fs::linkat(CWD, proc_path.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW) {
        // /proc is not mounted: AT_EMPTY_PATH works when the process has
        // CAP_DAC_READ_SEARCH, and fails with ENOENT again otherwise.
        Err(Errno::NOENT) if !anonymous_linkable() => {
            fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH)
        }
        other => other,
    }
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

/// The process umask, read from the `Umask:` line of `/proc/self/status` (Linux 4.7+).
///
/// Reading it with `umask(2)` would mean setting it and putting it back, which is
/// process-global: a thread creating a file in between would get the wrong mode. Where the line
/// is missing (old kernel, no /proc) this returns 0o022, the most common default, and a new
/// file may then be more permissive than `File::create` would make it (use `Options::mode`).
pub(crate) fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_umask(&status))
        .unwrap_or(super::FALLBACK_UMASK)
}

/// Parses the `Umask:` line of `/proc/self/status` (an octal number).
fn parse_umask(status: &str) -> Option<u32> {
    let line = status
        .lines()
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
    fn rejects_a_missing_or_malformed_umask_line() {
        assert_eq!(parse_umask("Name:\tcat\n"), None);
        assert_eq!(parse_umask("Umask:\t0089\n"), None);
        assert_eq!(parse_umask("Umask:\t7777\n"), None);
    }
}
