//! The one place where platform code is selected.
//!
//! Everything above this module is written against the small interface below; `linux.rs` adds
//! `O_TMPFILE` + `linkat` and `renameat2(RENAME_NOREPLACE)`, `unix.rs` is the portable fallback
//! for other unixes (named temp files only, no-clobber through `link` + `unlink`).

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;

use rustix::fs::{AtFlags, FileType, Stat};
use rustix::io::Errno;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::{
    anonymous_linkable, link_anonymous, open_anonymous, process_umask, rename_noreplace,
    sync_directory,
};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod unix;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use unix::{
    anonymous_linkable, link_anonymous, open_anonymous, process_umask, rename_noreplace,
    sync_directory,
};

/// The parts of `struct stat` this crate uses, in fixed-width types.
///
/// `rustix::fs::Stat` field types differ between platforms and architectures; converting once
/// here keeps the casts out of the rest of the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) size_bytes: u64,
}

impl Meta {
    /// Permission bits, including set-user-ID, set-group-ID and sticky.
    pub(crate) fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    pub(crate) fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.mode as rustix::fs::RawMode)
    }

    /// Whether `self` and `other` are the same inode.
    pub(crate) fn same_inode(&self, other: &Meta) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

// The casts are no-ops on some targets and widenings on others.
#[allow(clippy::unnecessary_cast, trivial_numeric_casts)]
impl From<Stat> for Meta {
    fn from(st: Stat) -> Self {
        Meta {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size_bytes: u64::try_from(st.st_size).unwrap_or(0),
        }
    }
}

/// The umask assumed when the real one cannot be read without a race: the usual default.
pub(crate) const FALLBACK_UMASK: u32 = 0o022;

/// Parses the `Umask:` line of `/proc/self/status` (an octal number).
pub(crate) fn parse_umask(status: &str) -> Option<u32> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("Umask:"))?;
    let mask = u32::from_str_radix(line.trim(), 8).ok()?;
    (mask <= 0o777).then_some(mask)
}

/// No-clobber publish through `link(from, to)` then `unlink(from)`: `link` fails with EEXIST
/// when `to` exists, so the check and the publish are one step.
pub(crate) fn link_then_unlink(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), Errno> {
    rustix::fs::linkat(dir, from, dir, to, AtFlags::empty())?;
    // The new content is published under `to` now, so failing here would be a lie. Should
    // removing the temp name fail (it practically cannot, right after a link in the same
    // directory), the stale second name is a temp file whose lock dies with our descriptor,
    // and `sweep` removes it.
    let _ = rustix::fs::unlinkat(dir, from, AtFlags::empty());
    Ok(())
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

    #[test]
    fn reads_this_process_umask() {
        // Whatever the umask is, it is a permission mask.
        assert!(process_umask() <= 0o777);
    }
}
