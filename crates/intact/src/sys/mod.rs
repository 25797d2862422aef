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
    anonymous_linkable, copy_xattrs, default_acl_mode, dir_open_flags, link_anonymous,
    open_anonymous, process_umask, rename_noreplace, stat_at, stat_fd, sync_directory,
};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod unix;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use unix::{
    anonymous_linkable, copy_xattrs, default_acl_mode, dir_open_flags, link_anonymous,
    open_anonymous, process_umask, rename_noreplace, stat_at, stat_fd, sync_directory,
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

/// POSIX ACL entry tags (`linux/posix_acl.h`), as stored in `system.posix_acl_*`.
const ACL_USER_OBJ: u16 = 0x01;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
/// The version in the header of the ACL's extended attribute.
const ACL_XATTR_VERSION: u32 = 2;

/// The permission bits that `open(O_CREAT, 0o666)` gives a new file in a directory with this
/// default ACL (the `system.posix_acl_default` value): the owner entry, the mask (or, without
/// one, the owning group entry) and the other entry, each limited to read and write, as the
/// kernel's `posix_acl_create` does; the umask does not apply. `None` when malformed.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) fn acl_mode(xattr: &[u8]) -> Option<u32> {
    let (header, entries) = xattr.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*header) != ACL_XATTR_VERSION || entries.len() % 8 != 0 {
        return None;
    }
    let (mut owner, mut group, mut mask, mut other) = (None, None, None, None);
    for entry in entries.chunks_exact(8) {
        let tag = u16::from_le_bytes([entry[0], entry[1]]);
        let perm = u32::from(u16::from_le_bytes([entry[2], entry[3]]) & 0o7);
        match tag {
            ACL_USER_OBJ => owner = Some(perm),
            ACL_GROUP_OBJ => group = Some(perm),
            ACL_MASK => mask = Some(perm),
            ACL_OTHER => other = Some(perm),
            _ => {}
        }
    }
    let mode = (owner? << 6) | (mask.or(group)? << 3) | other?;
    Some(mode & 0o666)
}

/// The umask assumed when the real one cannot be read without a race: the usual default.
pub(crate) const FALLBACK_UMASK: u32 = 0o022;

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

    fn acl(entries: &[(u16, u16)]) -> Vec<u8> {
        let mut xattr = ACL_XATTR_VERSION.to_le_bytes().to_vec();
        for &(tag, perm) in entries {
            xattr.extend_from_slice(&tag.to_le_bytes());
            xattr.extend_from_slice(&perm.to_le_bytes());
            xattr.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        xattr
    }

    #[test]
    fn a_default_acl_gives_the_mode_open_would() {
        let private = acl(&[(ACL_USER_OBJ, 6), (ACL_GROUP_OBJ, 0), (ACL_OTHER, 0)]);
        assert_eq!(acl_mode(&private), Some(0o600));
        let wide = acl(&[(ACL_USER_OBJ, 7), (ACL_GROUP_OBJ, 7), (ACL_OTHER, 5)]);
        assert_eq!(
            acl_mode(&wide),
            Some(0o664),
            "no execute bits for a new file"
        );
        // With named entries the group bits are the mask's, not the owning group's.
        let masked = acl(&[
            (ACL_USER_OBJ, 6),
            (0x02, 6),
            (ACL_GROUP_OBJ, 6),
            (ACL_MASK, 4),
            (ACL_OTHER, 0),
        ]);
        assert_eq!(acl_mode(&masked), Some(0o640));
        assert_eq!(acl_mode(&private[..7]), None, "cut short");
        assert_eq!(
            acl_mode(&acl(&[(ACL_USER_OBJ, 6)])),
            None,
            "entries missing"
        );
    }

    #[test]
    fn reads_this_process_umask() {
        // Whatever the umask is, it is a permission mask.
        assert!(process_umask() <= 0o777);
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
