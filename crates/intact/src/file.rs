//! [`AtomicFile`]: the temp file, its metadata, and the commit protocol.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{AtFlags, FlockOperation, Gid, OFlags, Uid};
use rustix::io::Errno;

use crate::dest::{Destination, DirCache, resolve};
use crate::error::{CommitError, CommitFailure, os_error, with_context};
use crate::name::{random_u64, temp_name};
use crate::sys::{self, Meta};
use crate::{Durability, Options, Overwrite, Temp};

/// Attempts at a free random temp name before giving up (each collision is a 2^-64 event
/// unless something is very wrong, like a filesystem that ignores `O_EXCL`).
const NAME_ATTEMPTS: usize = 64;

/// Permission bits of a new file before the umask, as `File::create` uses.
const NEW_FILE_MODE: u32 = 0o666;
/// Permission bits of a named temp file while it is written.
const TEMP_FILE_MODE: u32 = 0o600;

/// A file being written that replaces its target atomically on [`commit`](Self::commit).
///
/// The content goes to a temp file in the target's directory (see [`Temp`]); `commit` makes it
/// durable per [`Durability`] and renames it over the target. Until then the target is
/// untouched. Dropping an uncommitted `AtomicFile`, or calling [`abort`](Self::abort), removes
/// the temp file.
///
/// ```
/// use std::io::{Seek, SeekFrom, Write};
/// # let dir = std::env::temp_dir().join(format!("intact-doc-file-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("data.bin");
/// let mut file = intact::AtomicFile::create(&path)?;
/// file.write_all(b"hello world")?;
/// file.seek(SeekFrom::Start(0))?;
/// file.write_all(b"HELLO")?;
/// assert!(!path.exists(), "nothing is visible before the commit");
/// file.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"HELLO world");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AtomicFile {
    file: File,
    target: PathBuf,
    dest: Destination,
    /// The temp file's name in the directory, while it has one.
    temp_name: Option<OsString>,
    /// Created with `O_TMPFILE` (it has a name only between `linkat` and the rename).
    anonymous: bool,
    durability: Durability,
    overwrite: Overwrite,
    /// Owner and permissions still to be given to the temp file, at commit.
    metadata: Option<FinalMetadata>,
    /// The new content is in place under the target's name.
    published: bool,
    /// A data `fsync` failed: the kernel may have dropped the dirty pages, so a retried `fsync`
    /// could succeed without the content being on disk. Such a file is never published.
    sync_failed: Option<io::ErrorKind>,
}

impl AtomicFile {
    /// Creates a temp file for `path` with default [`Options`].
    pub fn create(path: impl AsRef<Path>) -> io::Result<AtomicFile> {
        Options::new().create(path)
    }

    /// The temp file, for reading it back, `set_len`, metadata and so on.
    pub fn as_file(&self) -> &File {
        &self.file
    }

    /// The target path, as given to `create`.
    pub fn target(&self) -> &Path {
        &self.target
    }

    pub(crate) fn create_with(path: &Path, options: &Options) -> io::Result<AtomicFile> {
        let dest = resolve(path, options.symlinks, &mut DirCache::default())?;
        Self::create_in(path.to_path_buf(), dest, options)
    }

    /// Creates the temp file for an already resolved destination.
    pub(crate) fn create_in(
        target: PathBuf,
        dest: Destination,
        options: &Options,
    ) -> io::Result<AtomicFile> {
        let (fd, temp_name) = create_temp(&dest, options)?;
        let anonymous = temp_name.is_none();
        Ok(AtomicFile {
            file: File::from(fd),
            target,
            anonymous,
            metadata: Some(plan_metadata(&dest, options, anonymous)),
            dest,
            temp_name,
            durability: options.durability,
            overwrite: options.overwrite,
            published: false,
            sync_failed: None,
        })
    }
}

/// Creates the temp file per the temp policy: the descriptor, and its name if it has one.
fn create_temp(dest: &Destination, options: &Options) -> io::Result<(OwnedFd, Option<OsString>)> {
    let try_anonymous = match options.temp {
        Temp::Named => false,
        Temp::Anonymous => true,
        Temp::Auto => {
            sys::anonymous_linkable() && tmpfile_support(dest.dir.meta.dev) != Some(false)
        }
    };
    if try_anonymous {
        match create_anonymous(dest, options)? {
            Some(fd) => {
                remember_tmpfile_support(dest.dir.meta.dev, true);
                return Ok((fd, None));
            }
            None if options.temp == Temp::Anonymous => return Err(anonymous_unsupported(dest)),
            None => remember_tmpfile_support(dest.dir.meta.dev, false),
        }
    }
    let (fd, name) = create_named(dest)?;
    Ok((fd, Some(name)))
}

/// Whether `O_TMPFILE` worked on the filesystem with this device number (`None`: not tried).
///
/// Keyed by `st_dev`. Should a later filesystem reuse a device number and lack `O_TMPFILE`,
/// the failed attempt corrects the entry, so a stale `true` costs one extra syscall, once.
static TMPFILE_SUPPORT: Mutex<BTreeMap<u64, bool>> = Mutex::new(BTreeMap::new());

fn tmpfile_support(dev: u64) -> Option<bool> {
    let map = TMPFILE_SUPPORT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.get(&dev).copied()
}

fn remember_tmpfile_support(dev: u64, supported: bool) {
    let mut map = TMPFILE_SUPPORT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if map.get(&dev) != Some(&supported) {
        map.insert(dev, supported);
    }
}

/// `openat(dir, ".", O_TMPFILE)`, locked; `None` when the filesystem does not support it.
fn create_anonymous(dest: &Destination, options: &Options) -> io::Result<Option<OwnedFd>> {
    // A new file without an explicit mode gets 0o666 filtered by the umask (and default ACLs)
    // from the kernel itself, exactly like File::create; otherwise start private and fchmod.
    let mode = match new_file_default_mode(dest, options) {
        true => NEW_FILE_MODE,
        false => TEMP_FILE_MODE,
    };
    let opened = sys::open_anonymous(dest.dir.fd.as_fd(), mode)
        .map_err(|errno| create_temp_error(errno, dest))?;
    let Some(fd) = opened else { return Ok(None) };
    // Nobody else can reach an unnamed file, so the lock is free; it is taken now so that it is
    // already held when the file gets its temporary name (see `link_under_temp_name`).
    rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).map_err(|errno| {
        os_error(
            errno,
            format_args!("lock temp file for {}", dest.path.display()),
        )
    })?;
    Ok(Some(fd))
}

/// True when the file gets the plain new-file mode: no explicit mode and nothing replaced.
fn new_file_default_mode(dest: &Destination, options: &Options) -> bool {
    options.mode.is_none() && replaced_metadata(dest, options).is_none()
}

/// The metadata to carry over: the existing file's, unless it is not going to be replaced.
fn replaced_metadata(dest: &Destination, options: &Options) -> Option<Meta> {
    match options.overwrite {
        Overwrite::Replace => dest.existing,
        // A no-clobber commit only publishes where nothing exists, so there is nothing to keep.
        Overwrite::NoClobber => None,
    }
}

/// Creates `.{name}.{random}.intact-tmp` with `O_EXCL`, mode 0600, and locks it.
fn create_named(dest: &Destination) -> io::Result<(OwnedFd, OsString)> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC;
    for _ in 0..NAME_ATTEMPTS {
        let name = temp_name(&dest.name, random_u64());
        let mode = sys::mode(TEMP_FILE_MODE);
        let fd = match rustix::fs::openat(&dest.dir.fd, &name, flags, mode) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => continue,
            Err(errno) => return Err(create_temp_error(errno, dest)),
        };
        if claim_named(&fd, dest, &name)? {
            return Ok((fd, name));
        }
    }
    let message = format_args!("no free temp file name in {}", dest.dir.path.display());
    Err(os_error(Errno::EXIST, message))
}

/// Locks a just-created named temp file and checks the name is still this file's.
///
/// The file exists unlocked between `open` and `flock`. A concurrent `sweep` can only remove
/// a temp file while holding its lock, so either the lock fails here (a sweeper holds it and
/// will remove the name) or it succeeds, after which the name is checked: if it is gone, a
/// sweeper removed it before we locked. Both cases retry with a fresh name and leave the old
/// one to the sweeper. Once this returns true, no sweeper can take the lock, so the name is
/// ours until the commit renames it or the temp file is discarded.
fn claim_named(fd: &OwnedFd, dest: &Destination, name: &OsString) -> io::Result<bool> {
    let in_dir = || dest.dir.path.join(name);
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => return Ok(false),
        Err(errno) => {
            // No lock on this filesystem (ENOLCK, EOPNOTSUPP): `sweep` could never prove the
            // file dead either, so remove it now rather than leave litter nobody may sweep.
            let _ = rustix::fs::unlinkat(&dest.dir.fd, name, AtFlags::empty());
            return Err(os_error(errno, format_args!("lock {}", in_dir().display())));
        }
    }
    let ours = rustix::fs::fstat(fd)
        .map_err(|errno| os_error(errno, format_args!("stat {}", in_dir().display())))?;
    match rustix::fs::statat(&dest.dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(named) => Ok(Meta::from(named).same_inode(&Meta::from(ours))),
        Err(Errno::NOENT) => Ok(false),
        Err(errno) => Err(os_error(errno, format_args!("stat {}", in_dir().display()))),
    }
}

fn create_temp_error(errno: Errno, dest: &Destination) -> io::Error {
    let (dir, path) = (dest.dir.path.display(), dest.path.display());
    match errno {
        Errno::ACCESS | Errno::PERM => os_error(
            errno,
            format_args!("cannot create a temp file for {path}: directory {dir} is not writable"),
        ),
        Errno::ROFS => os_error(
            errno,
            format_args!(
                "cannot create a temp file for {path}: {dir} is on a read-only filesystem"
            ),
        ),
        _ => os_error(errno, format_args!("create temp file in {dir} for {path}")),
    }
}

fn anonymous_unsupported(dest: &Destination) -> io::Error {
    let message = format!(
        "Temp::Anonymous needs O_TMPFILE, which the filesystem of {} does not support",
        dest.dir.path.display()
    );
    io::Error::new(io::ErrorKind::Unsupported, message)
}

/// The owner and permissions a temp file gets at commit.
///
/// Applied after the last write, not at creation: a write by a process without `CAP_FSETID`
/// clears the set-user-ID bit (and set-group-ID, when group-executable) of the file it writes.
#[derive(Clone, Copy, Debug)]
struct FinalMetadata {
    /// Owner and group to copy (from the replaced file).
    owner: Option<(u32, u32)>,
    /// Permission bits to set; `None` keeps what `O_TMPFILE` was created with.
    mode: Option<u32>,
}

/// Decides the final metadata at create time (while the replaced file's is at hand).
fn plan_metadata(dest: &Destination, options: &Options, anonymous: bool) -> FinalMetadata {
    let replaced = replaced_metadata(dest, options);
    let mode = match (options.mode, replaced) {
        (Some(mode), _) => Some(mode),
        (None, Some(existing)) => Some(existing.permissions()),
        // O_TMPFILE was opened with 0o666 and the kernel applied the umask already.
        (None, None) if anonymous => None,
        (None, None) => Some(NEW_FILE_MODE & !sys::process_umask()),
    };
    let owner = replaced.map(|existing| (existing.uid, existing.gid));
    FinalMetadata { owner, mode }
}

/// Metadata: applied to the temp file before anything is published.
impl AtomicFile {
    /// Protocol step 3 (crate docs): gives the temp file its final owner, group and
    /// permission bits, once.
    fn apply_metadata(&mut self) -> io::Result<()> {
        let Some(metadata) = self.metadata else {
            return Ok(());
        };
        if let Some(owner) = metadata.owner {
            self.copy_owner(owner)?;
        }
        if let Some(mode) = metadata.mode {
            // After fchown: changing the owner clears the set-user-ID and set-group-ID bits.
            rustix::fs::fchmod(&self.file, sys::mode(mode))
                .map_err(|errno| self.temp_error(errno, "set permissions of"))?;
        }
        self.metadata = None;
        Ok(())
    }

    /// Gives the temp file the replaced file's owner and group, as far as permitted.
    ///
    /// Only root (`CAP_CHOWN`) may give a file away; an unprivileged owner may still set the
    /// group to one of its own groups. `EPERM` is not an error: the file keeps our owner.
    fn copy_owner(&self, (uid, gid): (u32, u32)) -> io::Result<()> {
        let ours = rustix::fs::fstat(&self.file)
            .map(Meta::from)
            .map_err(|errno| self.temp_error(errno, "stat"))?;
        if (ours.uid, ours.gid) == (uid, gid) {
            return Ok(());
        }
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        let chowned = match rustix::fs::fchown(&self.file, Some(uid), Some(gid)) {
            Err(Errno::PERM) => rustix::fs::fchown(&self.file, None, Some(gid)),
            other => other,
        };
        match chowned {
            Ok(()) | Err(Errno::PERM) => Ok(()),
            Err(errno) => Err(self.temp_error(errno, "set owner of")),
        }
    }

    fn temp_error(&self, errno: Errno, what: &str) -> io::Error {
        os_error(
            errno,
            format_args!("{what} temp file for {}", self.dest.path.display()),
        )
    }
}

/// The commit protocol.
impl AtomicFile {
    /// Publishes the new content: sets the final permissions and owner, `fsync`s the temp file
    /// (unless [`Durability::None`]), renames it over the target (or links it, see [`Temp`]),
    /// then `fsync`s the directory (with [`Durability::Full`]).
    ///
    /// On failure the returned [`CommitError`] says whether anything was published and hands
    /// this file back: retry with [`CommitError::into_file`] and `commit`, or `abort`. With
    /// [`Overwrite::NoClobber`] an existing target fails with `ErrorKind::AlreadyExists`.
    pub fn commit(mut self) -> Result<(), CommitError> {
        match self.finish(true) {
            Ok(()) => Ok(()),
            Err((error, failure)) => Err(CommitError::new(self, error, failure)),
        }
    }

    /// Removes the temp file, leaving the target untouched, and reports a failure to remove it.
    ///
    /// Dropping does the same, silently. After a commit that published but failed to `fsync`
    /// the directory ([`CommitFailure::PublishedNotDurable`]) there is nothing left to discard:
    /// the new content stays in place and this returns `Ok`.
    pub fn abort(mut self) -> io::Result<()> {
        self.discard()
    }

    /// Runs the commit steps not yet done; `sync_dir: false` leaves the directory `fsync` to the
    /// caller (a batch syncs each directory once).
    pub(crate) fn finish(&mut self, sync_dir: bool) -> Result<(), (io::Error, CommitFailure)> {
        if !self.published {
            let not_published = |error| (error, CommitFailure::NotPublished);
            self.apply_metadata().map_err(not_published)?;
            self.sync_data().map_err(not_published)?;
            self.publish().map_err(not_published)?;
            self.published = true;
        }
        if sync_dir && self.durability == Durability::Full {
            self.sync_dir()
                .map_err(|error| (error, CommitFailure::PublishedNotDurable))?;
        }
        Ok(())
    }

    /// Protocol step 4 (crate docs): `fsync` the temp file, so the content, mode and owner are
    /// on stable storage before any name points at them. On macOS `sync_all` issues
    /// `F_FULLFSYNC`.
    fn sync_data(&mut self) -> io::Result<()> {
        if let Some(kind) = self.sync_failed {
            let message = format!(
                "an earlier fsync of the temp file for {} failed ({kind}); its content may be \
                 lost, so it is not published: write it again",
                self.dest.path.display()
            );
            return Err(io::Error::new(kind, message));
        }
        if self.durability == Durability::None {
            return Ok(());
        }
        self.file.sync_all().map_err(|error| {
            self.sync_failed = Some(error.kind());
            let path = self.dest.path.display();
            with_context(error, format_args!("fsync temp file for {path}"))
        })
    }

    /// Protocol step 5: make the content visible under the target's name, atomically.
    fn publish(&mut self) -> io::Result<()> {
        match (self.overwrite, self.temp_name.is_some()) {
            (Overwrite::Replace, true) => self.rename_over_target(),
            (Overwrite::Replace, false) => {
                self.link_under_temp_name()?;
                self.rename_over_target()
            }
            (Overwrite::NoClobber, true) => self.rename_noreplace(),
            (Overwrite::NoClobber, false) => self.link_as_target(),
        }
    }

    /// `renameat(temp, target)`: atomically replaces the target (or creates it).
    fn rename_over_target(&mut self) -> io::Result<()> {
        let temp = self.temp_name.as_ref().expect("a named temp file");
        let dir = &self.dest.dir.fd;
        match rustix::fs::renameat(dir, temp, dir, &self.dest.name) {
            Ok(()) => {
                self.temp_name = None;
                Ok(())
            }
            Err(errno) => Err(self.rename_error(errno)),
        }
    }

    /// `renameat2(temp, target, RENAME_NOREPLACE)` (or `link` + `unlink`): publish only if
    /// the target does not exist.
    fn rename_noreplace(&mut self) -> io::Result<()> {
        let temp = self.temp_name.as_ref().expect("a named temp file");
        match sys::rename_noreplace(self.dest.dir.fd.as_fd(), temp, &self.dest.name) {
            Ok(()) => {
                self.temp_name = None;
                Ok(())
            }
            Err(errno) => Err(self.rename_error(errno)),
        }
    }

    /// `linkat(/proc/self/fd/N, target)`: gives the unnamed file the target's name; fails with
    /// EEXIST if the target exists, which is exactly no-clobber.
    fn link_as_target(&mut self) -> io::Result<()> {
        sys::link_anonymous(self.file.as_fd(), self.dest.dir.fd.as_fd(), &self.dest.name)
            .map_err(|errno| self.rename_error(errno))
    }

    /// `linkat(/proc/self/fd/N, .{name}.{random}.intact-tmp)`: `linkat` cannot replace a file,
    /// so an unnamed file that replaces its target first gets a temp name, then is renamed.
    ///
    /// The lock taken at creation is on this same file, so `sweep` sees the name as live;
    /// a crash between here and the rename leaves it unlocked, and `sweep` removes it.
    fn link_under_temp_name(&mut self) -> io::Result<()> {
        let (file, dir) = (self.file.as_fd(), self.dest.dir.fd.as_fd());
        for _ in 0..NAME_ATTEMPTS {
            let name = temp_name(&self.dest.name, random_u64());
            match sys::link_anonymous(file, dir, &name) {
                Ok(()) => {
                    self.temp_name = Some(name);
                    return Ok(());
                }
                Err(Errno::EXIST) => continue,
                Err(errno) => return Err(create_temp_error(errno, &self.dest)),
            }
        }
        let message = format_args!("no free temp file name in {}", self.dest.dir.path.display());
        Err(os_error(Errno::EXIST, message))
    }

    fn rename_error(&self, errno: Errno) -> io::Error {
        let path = self.dest.path.display();
        match (errno, &self.temp_name) {
            (Errno::EXIST, _) => os_error(
                errno,
                format_args!("{path} already exists (Overwrite::NoClobber)"),
            ),
            (Errno::ISDIR, _) => os_error(errno, format_args!("{path} is a directory, not a file")),
            (_, Some(temp)) => {
                let temp = self.dest.dir.path.join(temp);
                let temp = temp.display();
                os_error(errno, format_args!("publish {path} (rename from {temp})"))
            }
            (_, None) => os_error(
                errno,
                format_args!("publish {path} (link an unnamed temp file)"),
            ),
        }
    }

    /// Protocol step 6: `fsync` the directory, so the new name itself survives a power cut.
    pub(crate) fn sync_dir(&self) -> io::Result<()> {
        let dir = &self.dest.dir;
        sys::sync_directory(dir.fd.as_fd()).map_err(|errno| {
            os_error(
                errno,
                format_args!("fsync directory {}", dir.path.display()),
            )
        })
    }

    /// Removes the temp file's name, if it has one and nothing was published.
    ///
    /// The lock is still held while unlinking (the descriptor closes after), so a sweeper
    /// cannot be looking at the same name.
    fn discard(&mut self) -> io::Result<()> {
        if self.published {
            return Ok(());
        }
        let Some(name) = self.temp_name.take() else {
            return Ok(());
        };
        rustix::fs::unlinkat(&self.dest.dir.fd, &name, AtFlags::empty()).map_err(|errno| {
            let path = self.dest.dir.path.join(&name);
            os_error(errno, format_args!("remove temp file {}", path.display()))
        })
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Nothing to report to: `abort` is the way to see this error.
        let _ = self.discard();
    }
}

impl AtomicFile {
    fn io_error(&self, error: io::Error, what: &str) -> io::Error {
        with_context(
            error,
            format_args!("{what} temp file for {}", self.dest.path.display()),
        )
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .write(buf)
            .map_err(|error| self.io_error(error, "write"))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.file
            .write_vectored(bufs)
            .map_err(|error| self.io_error(error, "write"))
    }

    fn flush(&mut self) -> io::Result<()> {
        // Writes go straight to the kernel; durability is the commit's job.
        self.file.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file
            .seek(pos)
            .map_err(|error| self.io_error(error, "seek"))
    }
}

impl fmt::Debug for AtomicFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicFile")
            .field("target", &self.target)
            .field("publishes_to", &self.dest.path)
            .field("temp_name", &self.temp_name)
            .field("anonymous", &self.anonymous)
            .field("durability", &self.durability)
            .field("overwrite", &self.overwrite)
            .field("pending_metadata", &self.metadata)
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn files_and_errors_can_move_between_threads() {
        assert_send_sync::<AtomicFile>();
        assert_send_sync::<CommitError>();
        assert_send_sync::<crate::Batch>();
        assert_send_sync::<crate::BatchError>();
    }

    #[test]
    fn tmpfile_support_is_remembered_and_corrected() {
        let dev = u64::MAX - 7;
        assert_eq!(tmpfile_support(dev), None);
        remember_tmpfile_support(dev, true);
        assert_eq!(tmpfile_support(dev), Some(true));
        remember_tmpfile_support(dev, false);
        assert_eq!(tmpfile_support(dev), Some(false));
    }
}
