//! Resolving a target path: the directory to publish in, the final name, and what is there now.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustix::fs::{CWD, FileType, Mode};
use rustix::io::Errno;

use crate::error::{os_error, with_context};
use crate::name::parse_temp_name;
use crate::sys::Meta;
use crate::{Durability, Symlinks, sys};

/// Links followed before giving up with ELOOP, as the kernel does (`MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// An open directory: every later step is relative to this descriptor, so the commit lands in
/// the directory that was resolved at create time even if the path changes meanwhile.
#[derive(Debug)]
pub(crate) struct Dir {
    pub(crate) fd: OwnedFd,
    pub(crate) path: PathBuf,
    /// `fstat` of `fd`, taken on first use: a single write never needs it (see [`Dir::meta`]).
    meta: OnceLock<Meta>,
}

impl Dir {
    /// The directory's device and inode: a batch's key for "the same directory", and the key
    /// of a filesystem without `O_TMPFILE`. Costs one `fstat` per directory, on first use.
    pub(crate) fn meta(&self) -> io::Result<Meta> {
        if let Some(meta) = self.meta.get() {
            return Ok(*meta);
        }
        let meta = sys::stat_fd(self.fd.as_fd()).map_err(|errno| {
            os_error(
                errno,
                format_args!("stat directory {}", self.path.display()),
            )
        })?;
        Ok(*self.meta.get_or_init(|| meta))
    }
}

/// Where a file gets published.
#[derive(Debug)]
pub(crate) struct Destination {
    pub(crate) dir: Arc<Dir>,
    /// The final name inside `dir`.
    pub(crate) name: OsString,
    /// `dir` joined with `name`: the file actually replaced (the end of a symlink chain).
    pub(crate) path: PathBuf,
    /// The regular file there now, if any; a symlink being replaced counts as none.
    pub(crate) existing: Option<Meta>,
}

/// Opened directories by path, so a batch opens each directory once.
#[derive(Debug)]
pub(crate) struct DirCache {
    dirs: HashMap<PathBuf, Arc<Dir>>,
    /// The directories will be `fsync`ed ([`Durability::Full`]): they need a readable
    /// descriptor, not just one to resolve names against (see [`sys::dir_open_flags`]).
    will_sync: bool,
}

impl DirCache {
    /// An empty cache for writes at `durability`.
    pub(crate) fn new(durability: Durability) -> DirCache {
        DirCache {
            dirs: HashMap::new(),
            will_sync: durability == Durability::Full,
        }
    }

    fn open(&mut self, path: &Path) -> Result<Arc<Dir>, Errno> {
        if let Some(dir) = self.dirs.get(path) {
            return Ok(Arc::clone(dir));
        }
        let dir = Dir::open(path, self.will_sync)?;
        self.dirs.insert(path.to_path_buf(), Arc::clone(&dir));
        Ok(dir)
    }

    /// Closes the cached directories (those not in use elsewhere) once there are more than
    /// `max`, so that a long series of lookups keeps few descriptors open (none after
    /// `trim(0)`).
    pub(crate) fn trim(&mut self, max: usize) {
        if self.dirs.len() > max {
            self.dirs.clear();
        }
    }
}

impl Dir {
    /// Opens the directory at `path`, readable if it will be `fsync`ed, else `O_PATH` where
    /// there is one (see [`sys::dir_open_flags`]).
    pub(crate) fn open(path: &Path, will_sync: bool) -> Result<Arc<Dir>, Errno> {
        let flags = sys::dir_open_flags(will_sync);
        let fd = sys::retry(|| rustix::fs::openat(CWD, path, flags, Mode::empty()))?;
        Ok(Arc::new(Dir {
            fd,
            path: path.to_path_buf(),
            meta: OnceLock::new(),
        }))
    }
}

/// Resolves `path` per the symlink policy: opens its directory and looks at what is there.
pub(crate) fn resolve(
    path: &Path,
    symlinks: Symlinks,
    dirs: &mut DirCache,
) -> io::Result<Destination> {
    let mut current = path.to_path_buf();
    for hop in 0..=MAX_SYMLINK_HOPS {
        match resolve_step(path, &current, hop, symlinks, dirs)? {
            Step::Found(destination) => return refuse_temp_names(destination),
            Step::Follow(next) => current = next,
        }
    }
    let loop_error = io::Error::from(Errno::LOOP);
    Err(with_context(
        loop_error,
        format_args!("follow symlinks from {}", path.display()),
    ))
}

/// Where one step of the resolution leads.
enum Step {
    Found(Destination),
    /// `current` is a symlink to follow (`Symlinks::Follow`) to this path.
    Follow(PathBuf),
}

/// Looks at `current`, the `hop`th path of the symlink chain that started at `path`.
fn resolve_step(
    path: &Path,
    current: &Path,
    hop: usize,
    symlinks: Symlinks,
    dirs: &mut DirCache,
) -> io::Result<Step> {
    let (parent, name) = split(current)?;
    let will_sync = dirs.will_sync;
    let dir = dirs
        .open(parent)
        .map_err(|errno| parent_error(errno, parent, path, current, hop, will_sync))?;
    let Some(meta) = look_up(&dir, name, current)? else {
        return match hop {
            0 => Ok(Step::Found(destination(dir, name, current, None))),
            _ => Err(dangling(path, current)),
        };
    };
    match meta.file_type() {
        FileType::RegularFile => Ok(Step::Found(destination(dir, name, current, Some(meta)))),
        FileType::Symlink => match symlinks {
            Symlinks::Replace => Ok(Step::Found(destination(dir, name, current, None))),
            Symlinks::Follow => {
                may_follow(&dir, &meta, current)?;
                read_link(&dir, name, parent, current).map(Step::Follow)
            }
        },
        FileType::Directory => Err(is_a_directory(current)),
        FileType::Fifo
        | FileType::Socket
        | FileType::CharacterDevice
        | FileType::BlockDevice
        | FileType::Unknown => Err(not_a_regular_file(current)),
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)` (as `statx`, see `sys::stat_at`); `None` when
/// nothing is there.
fn look_up(dir: &Dir, name: &OsStr, current: &Path) -> io::Result<Option<Meta>> {
    match sys::stat_at(dir.fd.as_fd(), name) {
        Ok(meta) => Ok(Some(meta)),
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(os_error(
            errno,
            format_args!("look up {}", current.display()),
        )),
    }
}

fn destination(dir: Arc<Dir>, name: &OsStr, path: &Path, existing: Option<Meta>) -> Destination {
    Destination {
        dir,
        name: name.to_os_string(),
        path: path.to_path_buf(),
        existing,
    }
}

/// Splits a path into its directory and file name; a path that names a directory by its form
/// (`""`, `/`, `.`, `..`, or ending in `/`, `/.`, `/..`) is an error.
fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        let empty = io::Error::new(io::ErrorKind::InvalidInput, "the target path is empty");
        return Err(empty);
    }
    let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
    if last.is_empty() {
        return Err(trailing_slash(path));
    }
    if matches!(last, b"." | b"..") {
        return Err(is_a_directory(path));
    }
    let name = path.file_name().ok_or_else(|| is_a_directory(path))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        Some(_) | None => Path::new("."),
    };
    Ok((parent, name))
}

/// The next path in a symlink chain: the link's text, relative to the link's directory.
fn read_link(dir: &Dir, name: &OsStr, parent: &Path, link: &Path) -> io::Result<PathBuf> {
    let text = sys::retry(|| rustix::fs::readlinkat(&dir.fd, name, Vec::new()))
        .map_err(|errno| os_error(errno, format_args!("read symlink {}", link.display())))?;
    let text = PathBuf::from(OsStr::from_bytes(text.to_bytes()));
    Ok(if text.is_absolute() {
        text
    } else {
        parent.join(text)
    })
}

fn parent_error(
    errno: Errno,
    parent: &Path,
    path: &Path,
    current: &Path,
    hop: usize,
    will_sync: bool,
) -> io::Error {
    if hop > 0 && errno == Errno::NOENT {
        return dangling(path, current);
    }
    if errno == Errno::ACCESS && will_sync && Dir::open(parent, false).is_ok() {
        return unreadable_directory(parent, path);
    }
    let (parent, path) = (parent.display(), path.display());
    match errno {
        Errno::NOENT => os_error(
            errno,
            format_args!("parent directory {parent} of {path} does not exist"),
        ),
        Errno::NOTDIR => os_error(
            errno,
            format_args!("parent {parent} of {path} is not a directory"),
        ),
        _ => os_error(
            errno,
            format_args!("open parent directory {parent} of {path}"),
        ),
    }
}

/// The directory can be searched but not read: `Durability::Full` opens it for reading, since
/// `fsync` needs a descriptor that `O_PATH` does not give.
fn unreadable_directory(parent: &Path, path: &Path) -> io::Error {
    let message = format_args!(
        "cannot open directory {} of {} for reading: Durability::Full needs read permission on \
         the directory to fsync it (Durability::Data needs only write and search permission)",
        parent.display(),
        path.display()
    );
    os_error(Errno::ACCESS, message)
}

/// Refuses to follow the symlink `link` (its `lstat`) in `dir` where the kernel's own `open`
/// would: under `fs.protected_symlinks` (Linux), a symlink in a sticky world-writable
/// directory (`/tmp`) is followed only by its owner or when the directory's owner owns it.
///
/// The kernel's rule (`may_follow_link` in `fs/namei.c`), with its errno (`EACCES`). The
/// link's owner comes from the same `lstat` that found it: in a sticky directory only that
/// owner (or the directory's) can replace the link before `readlinkat`, and a link they
/// create is theirs, so a link that passes here cannot be swapped for one that would not.
fn may_follow(dir: &Dir, link: &Meta, current: &Path) -> io::Result<()> {
    let dir_meta = sys::stat_fd(dir.fd.as_fd())
        .map_err(|errno| os_error(errno, format_args!("stat directory {}", dir.path.display())))?;
    if !in_protected_place(link, &dir_meta) {
        return Ok(());
    }
    match protected_link_refused(
        link,
        &dir_meta,
        sys::follower_fsuid(),
        sys::protected_symlinks(),
    ) {
        false => Ok(()),
        true => Err(protected_link(current, link, &dir.path)),
    }
}

/// A sticky world-writable directory that the link's owner does not own: the only place
/// where `fs.protected_symlinks` may refuse a link (cheap to decide, no `/proc` read).
fn in_protected_place(link: &Meta, dir: &Meta) -> bool {
    const STICKY_AND_WORLD_WRITABLE: u32 = 0o1002;
    dir.mode & STICKY_AND_WORLD_WRITABLE == STICKY_AND_WORLD_WRITABLE && dir.uid != link.uid
}

/// The kernel's rule: refused when the sysctl is on, the link is in a protected place, and
/// the follower's fsuid (`None`: unknown, so taken as another user's) is not its owner.
fn protected_link_refused(link: &Meta, dir: &Meta, fsuid: Option<u32>, protected: bool) -> bool {
    protected && in_protected_place(link, dir) && fsuid != Some(link.uid)
}

fn protected_link(link: &Path, meta: &Meta, dir: &Path) -> io::Error {
    let message = format_args!(
        "refused to follow symlink {} (owned by uid {}) in the sticky world-writable directory \
         {}: fs.protected_symlinks forbids following another user's link there, and so does \
         the kernel's own open (Symlinks::Replace replaces the link instead)",
        link.display(),
        meta.uid,
        dir.display()
    );
    os_error(Errno::ACCESS, message)
}

/// Refuses to replace `file` (a regular file in `dir`) where the kernel's own
/// `open(O_CREAT)` would refuse to open it: under `fs.protected_regular` (Linux), a file in a
/// sticky world-writable directory (at level 1; group-writable too at level 2) is opened with
/// `O_CREAT` only by its owner or when the directory's owner owns it (`may_create_in_sticky`
/// in `fs/namei.c`, `EACCES`). The rule is there so that a privileged writer does not write
/// into a file another user planted; replacing it instead would let that user own the result
/// (the owner is kept, [`Preserve::Try`](crate::Preserve::Try)) or keep a link to nothing of
/// theirs, so it is refused the same way.
///
/// Costs the directory's `fstat` (cached; `Full` needs it anyway) and, only in such a place,
/// a read of `/proc/sys/fs/protected_regular` and `/proc/thread-self/status`.
pub(crate) fn may_replace(dir: &Dir, file: &Meta, path: &Path) -> io::Result<()> {
    let dir_meta = dir.meta()?;
    let Some(level) = regular_protection_level(file, &dir_meta) else {
        return Ok(());
    };
    if sys::protected_regular() < level || sys::follower_fsuid() == Some(file.uid) {
        return Ok(());
    }
    let message = format_args!(
        "refused to replace {} (owned by uid {}) in the sticky {} directory {}: \
         fs.protected_regular forbids opening another user's file there with O_CREAT, and \
         intact is never weaker than the kernel's own open (write it elsewhere, or have the \
         file's owner remove it)",
        path.display(),
        file.uid,
        if dir_meta.mode & 0o002 != 0 {
            "world-writable"
        } else {
            "group-writable"
        },
        dir.path.display()
    );
    Err(os_error(Errno::ACCESS, message))
}

/// The least `fs.protected_regular` level at which the kernel refuses `open(O_CREAT)` of
/// `file` in `dir` to a writer who does not own it: 1 in a sticky world-writable directory, 2
/// in a sticky group-writable one, none elsewhere or when the directory's owner owns the file.
fn regular_protection_level(file: &Meta, dir: &Meta) -> Option<u8> {
    const STICKY: u32 = 0o1000;
    if dir.mode & STICKY == 0 || dir.uid == file.uid {
        return None;
    }
    match (dir.mode & 0o002 != 0, dir.mode & 0o020 != 0) {
        (true, _) => Some(1),
        (false, true) => Some(2),
        (false, false) => None,
    }
}

/// A destination named like this crate's temp files is refused: [`sweep`](crate::sweep)
/// would take the committed file for a dead writer's temp file and delete it.
fn refuse_temp_names(destination: Destination) -> io::Result<Destination> {
    if parse_temp_name(&destination.name).is_none() {
        return Ok(destination);
    }
    let message = format!(
        "{} is named like an intact temp file (.{{name}}.{{16 hex digits}}.intact-tmp), which \
         intact::sweep would delete: choose another name",
        destination.path.display()
    );
    Err(io::Error::new(io::ErrorKind::InvalidInput, message))
}

fn trailing_slash(path: &Path) -> io::Error {
    os_error(
        Errno::ISDIR,
        format_args!(
            "{} ends with '/', so it names a directory: a file's path must not end with '/'",
            path.display()
        ),
    )
}

fn dangling(link: &Path, missing: &Path) -> io::Error {
    let message = format_args!(
        "{} is a dangling symlink: {} does not exist (Symlinks::Follow)",
        link.display(),
        missing.display()
    );
    os_error(Errno::NOENT, message)
}

fn is_a_directory(path: &Path) -> io::Error {
    os_error(
        Errno::ISDIR,
        format_args!("{} is a directory, not a file", path.display()),
    )
}

fn not_a_regular_file(path: &Path) -> io::Error {
    let message = format_args!(
        "{} is not a regular file (a device, FIFO or socket); intact only replaces files",
        path.display()
    );
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_path_into_directory_and_name() {
        let cases = [
            ("out.txt", ".", "out.txt"),
            ("a/b/out.txt", "a/b", "out.txt"),
            ("/out.txt", "/", "out.txt"),
            ("a//out.txt", "a/", "out.txt"),
            ("./out.txt", ".", "out.txt"),
            ("../out.txt", "..", "out.txt"),
        ];
        for (path, parent, name) in cases {
            let (got_parent, got_name) = split(Path::new(path)).unwrap();
            assert_eq!(
                (got_parent, got_name),
                (Path::new(parent), OsStr::new(name)),
                "{path}"
            );
        }
    }

    #[test]
    fn paths_shaped_like_directories_are_refused() {
        for path in ["/", ".", "..", "a/", "a/.", "a/..", "a//"] {
            let error = split(Path::new(path)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::IsADirectory, "{path}");
            assert!(error.to_string().contains(path), "{path}: {error}");
        }
        let slash = split(Path::new("file/")).unwrap_err().to_string();
        assert!(slash.contains("ends with '/'"), "{slash}");
        assert!(!slash.contains("is a directory"), "{slash}");
        assert_eq!(
            split(Path::new("")).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    fn meta(mode: u32, uid: u32) -> Meta {
        Meta {
            dev: 1,
            ino: 2,
            mode,
            uid,
            gid: 0,
            size_bytes: 0,
        }
    }

    #[test]
    fn protected_regular_levels_follow_the_kernels_rule() {
        let (root, nobody) = (0, 65534);
        let file = meta(0o100644, nobody);
        assert_eq!(
            regular_protection_level(&file, &meta(0o41777, root)),
            Some(1)
        );
        assert_eq!(
            regular_protection_level(&file, &meta(0o41770, root)),
            Some(2)
        );
        assert_eq!(regular_protection_level(&file, &meta(0o41755, root)), None);
        assert_eq!(
            regular_protection_level(&file, &meta(0o40777, root)),
            None,
            "not sticky"
        );
        assert_eq!(
            regular_protection_level(&file, &meta(0o41777, nobody)),
            None,
            "the directory's owner owns the file"
        );
    }

    #[test]
    fn protected_symlinks_are_refused_as_the_kernel_refuses_them() {
        let (root, nobody) = (0, 65534);
        let link = meta(0o120777, nobody);
        let tmp = meta(0o41777, root);
        // /tmp, a link of another user, sysctl on: refused, whoever follows (root too).
        assert!(protected_link_refused(&link, &tmp, Some(root), true));
        assert!(
            protected_link_refused(&link, &tmp, None, true),
            "fsuid unknown"
        );
        // Its owner may follow it; nobody else is refused with the sysctl off.
        assert!(!protected_link_refused(&link, &tmp, Some(nobody), true));
        assert!(!protected_link_refused(&link, &tmp, Some(root), false));
        // Not sticky, or not world-writable, or the directory's owner owns the link: allowed.
        assert!(!protected_link_refused(
            &link,
            &meta(0o40777, root),
            Some(root),
            true
        ));
        assert!(!protected_link_refused(
            &link,
            &meta(0o41775, root),
            Some(root),
            true
        ));
        assert!(!protected_link_refused(
            &link,
            &meta(0o41777, nobody),
            Some(root),
            true
        ));
    }

    #[test]
    fn a_directory_is_opened_once_per_cache() {
        let mut cache = DirCache::new(Durability::Full);
        let first = cache.open(Path::new(".")).unwrap();
        let second = cache.open(Path::new(".")).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
