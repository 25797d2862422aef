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
    anonymous_linkable, copy_xattrs, dir_open_flags, follower_fsuid, link_anonymous,
    open_anonymous, protected_regular, protected_symlinks, rename_noreplace, stat_at, stat_fd,
    sync_directory,
};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod unix;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use unix::{
    anonymous_linkable, copy_xattrs, dir_open_flags, follower_fsuid, link_anonymous,
    open_anonymous, protected_regular, protected_symlinks, rename_noreplace, stat_at, stat_fd,
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

/// A `Mode` from permission bits (`mode_t` is 16 bits on macOS and the BSDs, 32 on Linux).
// The cast narrows on some targets; permission bits (0o7777) always fit.
#[allow(clippy::unnecessary_cast, trivial_numeric_casts)]
pub(crate) fn mode(bits: u32) -> rustix::fs::Mode {
    rustix::fs::Mode::from_raw_mode((bits & 0o7777) as rustix::fs::RawMode)
}

/// Runs `call` again for as long as it fails with `EINTR`.
///
/// A signal whose handler was installed without `SA_RESTART` interrupts a blocking syscall;
/// every call wrapped here either did nothing before it was interrupted (`openat`, `statx`,
/// `flock`, `linkat`, `renameat`, `unlinkat`, `fchmod`, `fchown`, `readlinkat`) or is
/// idempotent, so calling it again is what the kernel would have done with `SA_RESTART`.
pub(crate) fn retry<T>(mut call: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        #[cfg(test)]
        if interrupt::inject() {
            continue;
        }
        match call() {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// Test-only: make every call through [`retry`] on this thread fail with `EINTR` once before
/// it runs, as a signal arriving at each of them would.
#[cfg(test)]
pub(crate) mod interrupt {
    use std::cell::Cell;

    thread_local! {
        /// Interrupt the next call (and every other one after it) while set.
        static STORM: Cell<bool> = const { Cell::new(false) };
        /// The next call is the retry of an interrupted one: let it through.
        static RETRYING: Cell<bool> = const { Cell::new(false) };
        /// Interruptions injected so far.
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }

    /// Starts (`true`) or stops interrupting calls on this thread; returns the count so far.
    pub(crate) fn storm(on: bool) -> u64 {
        STORM.with(|storm| storm.set(on));
        COUNT.with(Cell::get)
    }

    /// Whether to fail this attempt with `EINTR` (every first attempt, during a storm).
    pub(super) fn inject() -> bool {
        if !STORM.with(Cell::get) || RETRYING.with(|retrying| retrying.replace(false)) {
            return false;
        }
        RETRYING.with(|retrying| retrying.set(true));
        COUNT.with(|count| count.set(count.get() + 1));
        true
    }
}

/// No-clobber publish through `link(from, to)` then `unlink(from)`: `link` fails with EEXIST
/// when `to` exists, so the check and the publish are one step.
pub(crate) fn link_then_unlink(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), Errno> {
    retry(|| rustix::fs::linkat(dir, from, dir, to, AtFlags::empty()))?;
    // The new content is published under `to` now, so failing here would be a lie. Should
    // removing the temp name fail (it practically cannot, right after a link in the same
    // directory), the stale second name is a temp file whose lock dies with our descriptor,
    // and `sweep` removes it.
    let _ = retry(|| rustix::fs::unlinkat(dir, from, AtFlags::empty()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_repeats_an_interrupted_call_and_nothing_else() {
        let mut answers = vec![Ok(7), Err(Errno::INTR), Err(Errno::INTR)];
        let mut calls = 0;
        let result = retry(|| {
            calls += 1;
            answers.pop().expect("no call after success")
        });
        assert_eq!((result, calls), (Ok(7), 3));
        let mut calls = 0;
        let failed: Result<(), Errno> = retry(|| {
            calls += 1;
            Err(Errno::ACCESS)
        });
        assert_eq!(
            (failed, calls),
            (Err(Errno::ACCESS), 1),
            "other errors are final"
        );
    }

    /// A scratch directory, opened, removed on drop.
    struct Scratch(std::path::PathBuf, std::os::fd::OwnedFd);

    impl Scratch {
        fn new(label: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("intact-sys-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir(&path).unwrap();
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY;
            let fd = rustix::fs::open(&path, flags, rustix::fs::Mode::empty()).unwrap();
            Scratch(path, fd)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The fallback for filesystems without RENAME_NOREPLACE, exercised directly.
    #[test]
    fn link_then_unlink_publishes_only_where_nothing_exists() {
        use std::os::fd::AsFd;
        let dir = Scratch::new("link-unlink");
        std::fs::write(dir.0.join("temp"), b"new").unwrap();
        std::fs::write(dir.0.join("taken"), b"old").unwrap();
        let (temp, taken, free) = (OsStr::new("temp"), OsStr::new("taken"), OsStr::new("free"));
        assert_eq!(
            link_then_unlink(dir.1.as_fd(), temp, taken),
            Err(Errno::EXIST)
        );
        assert_eq!(std::fs::read(dir.0.join("taken")).unwrap(), b"old");
        link_then_unlink(dir.1.as_fd(), temp, free).unwrap();
        assert_eq!(std::fs::read(dir.0.join("free")).unwrap(), b"new");
        assert!(!dir.0.join("temp").exists(), "temp name removed");
    }

    #[test]
    fn rename_noreplace_refuses_an_existing_name() {
        use std::os::fd::AsFd;
        let dir = Scratch::new("noreplace");
        std::fs::write(dir.0.join("temp"), b"new").unwrap();
        std::fs::write(dir.0.join("taken"), b"old").unwrap();
        let result = rename_noreplace(dir.1.as_fd(), OsStr::new("temp"), OsStr::new("taken"));
        assert_eq!(result, Err(Errno::EXIST));
        assert_eq!(std::fs::read(dir.0.join("taken")).unwrap(), b"old");
        rename_noreplace(dir.1.as_fd(), OsStr::new("temp"), OsStr::new("free")).unwrap();
        assert_eq!(std::fs::read(dir.0.join("free")).unwrap(), b"new");
    }
}
