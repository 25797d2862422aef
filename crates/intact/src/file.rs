//! [`AtomicFile`]: the temp file, its metadata, and the commit protocol.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, FileType, FlockOperation, Gid, OFlags, Uid};
use rustix::io::Errno;

use crate::dest::{self, Destination, DirCache, resolve};
use crate::error::{CommitError, CommitFailure, os_error, shared_context, with_context, with_kind};
use crate::group::{self, Group, Ticket};
use crate::name::{random_u64, temp_name};
use crate::options::Keep;
use crate::sys::{self, Meta};
use crate::{Durability, Options, Overwrite, Preserve, Temp};

/// Attempts at a free random temp name before giving up (each collision is a 2^-64 event
/// unless something is very wrong, like a filesystem that ignores `O_EXCL`).
const NAME_ATTEMPTS: usize = 64;

/// Permission bits of a new file before the umask, as `File::create` uses.
const NEW_FILE_MODE: u32 = 0o666;
/// Permission bits of a named temp file while it is written.
const TEMP_FILE_MODE: u32 = 0o600;
/// Set-user-ID, set-group-ID and sticky: never given at `open`, always by `fchmod` at commit,
/// after the last write (a write by an unprivileged process clears the first two).
const SPECIAL_BITS: u32 = 0o7000;

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
    /// What to keep of the replaced file, decided at commit.
    keep: Keep,
    /// [`Options::mode`].
    mode: Option<u32>,
    /// Owner and permissions still to be given to the temp file, at commit.
    metadata: Option<PendingMetadata>,
    /// The new content is in place under the target's name.
    published: bool,
    /// `dest.existing` was read in the same call that commits (`Options::write`), so the
    /// commit keeps the metadata read then instead of reading the target again (see
    /// [`AtomicFile::mark_one_call`]).
    one_call: bool,
    /// A data `fsync` failed: the kernel may have dropped the dirty pages, so a retried `fsync`
    /// could succeed without the content being on disk. Such a file is never published.
    sync_failed: Option<Arc<io::Error>>,
}

impl AtomicFile {
    /// Creates a temp file for `path` with default [`Options`].
    pub fn create(path: impl AsRef<Path>) -> io::Result<AtomicFile> {
        Options::new().create(path)
    }

    /// The temp file: for reading it back, `set_len`, metadata, and for writing through
    /// `File` itself, since `&File` implements `Read`, `Write` and `Seek`
    /// (`BufWriter::new(file.as_file())`, `std::io::copy(&mut reader, &mut file.as_file())`).
    /// Permissions set through it are overridden at commit (see [`Options::mode`]).
    ///
    /// There is no `&mut File`: through one, the temp file could be swapped for another
    /// open file, which the commit would then publish (and give the target's metadata).
    ///
    /// ```
    /// use std::io::Write;
    /// # let dir = std::env::temp_dir().join(format!("intact-doc-asfile-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let mut file = intact::AtomicFile::create(dir.join("out.txt"))?;
    /// let mut out = std::io::BufWriter::new(file.as_file());
    /// writeln!(out, "buffered")?;
    /// out.flush()?;
    /// drop(out);
    /// file.as_file().set_len(4)?;
    /// file.commit()?;
    /// assert_eq!(std::fs::read(dir.join("out.txt"))?, b"buff");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_file(&self) -> &File {
        &self.file
    }

    /// The target path, as given to `create`.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The path the commit replaces: the target, or under [`Symlinks::Follow`] the file at
    /// the end of its symlink chain (its directory joined with its name, as resolved at
    /// `create`). Read it to see the version being replaced.
    ///
    /// [`Symlinks::Follow`]: crate::Symlinks::Follow
    pub fn destination(&self) -> &Path {
        &self.dest.path
    }

    /// For a create, write and commit in one call with nothing of the caller's code between
    /// them (`Options::write`): the commit keeps the replaced file's metadata as `create`
    /// read it, saving a `statx`. A `chmod` or `chown` of the target can only race with such
    /// a call, as it races with the commit's own steps (the metadata read at commit is
    /// already stale by the time the file `fsync` ends), so no ordering is lost; between a
    /// separate `create` and `commit` it is a change the caller may have ordered, and is read.
    pub(crate) fn mark_one_call(&mut self) {
        self.one_call = true;
    }

    pub(crate) fn create_with(path: &Path, options: &Options) -> io::Result<AtomicFile> {
        let mut dirs = DirCache::new(options.durability);
        let dest = resolve(path, options.symlinks, &mut dirs)?;
        Self::create_in(path.to_path_buf(), dest, options)
    }

    /// Creates the temp file for an already resolved destination.
    pub(crate) fn create_in(
        target: PathBuf,
        dest: Destination,
        options: &Options,
    ) -> io::Result<AtomicFile> {
        if let (Overwrite::Replace, Some(existing)) = (options.overwrite, &dest.existing) {
            dest::may_replace(&dest.dir, existing, &dest.path)?;
        }
        let created_mode = initial_mode(&dest, options);
        let (fd, named) = create_temp(&dest, options, created_mode)?;
        let anonymous = named.is_none();
        let (temp_name, metadata) = match named {
            None => (None, PendingMetadata::unnamed(created_mode)),
            Some((name, claimed)) => (Some(name), PendingMetadata::named(claimed)),
        };
        Ok(AtomicFile {
            file: File::from(fd),
            target,
            anonymous,
            keep: options.keep,
            mode: options.mode,
            metadata: Some(metadata),
            dest,
            temp_name,
            durability: options.durability,
            overwrite: options.overwrite,
            published: false,
            one_call: false,
            sync_failed: None,
        })
    }
}

/// A named temp file's name, and what that name referred to once the file was locked.
type Claimed = (OsString, Meta);

/// Creates the temp file per the temp policy: the descriptor, and its name if it has one.
///
/// `anonymous_mode` is the mode an unnamed temp file is created with (see [`initial_mode`]);
/// a named one is always created with 0600.
fn create_temp(
    dest: &Destination,
    options: &Options,
    anonymous_mode: u32,
) -> io::Result<(OwnedFd, Option<Claimed>)> {
    let try_anonymous = match options.temp {
        Temp::Named => false,
        Temp::Anonymous => true,
        Temp::Auto => sys::anonymous_linkable() && !tmpfile_known_unsupported(dest)?,
    };
    if try_anonymous {
        match create_anonymous(dest, options, anonymous_mode)? {
            Some(fd) => return Ok((fd, None)),
            None if options.temp == Temp::Anonymous => return Err(anonymous_unsupported(dest)),
            None => remember_tmpfile_unsupported(dest.dir.meta()?.dev),
        }
    }
    let (fd, claimed) = create_named(dest)?;
    Ok((fd, Some(claimed)))
}

/// Device numbers (`st_dev`) of the filesystems on which `O_TMPFILE` failed: [`Temp::Auto`]
/// uses named temp files there for the rest of the process.
///
/// Only failures are recorded. A process that never meets a filesystem without `O_TMPFILE`
/// (ext4, xfs, btrfs and tmpfs all have it) so never needs a directory's device number, which
/// saves an `fstat` of the directory on every call. A stale entry (a later filesystem reusing
/// the device number) only means named temp files there.
static TMPFILE_UNSUPPORTED: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

fn tmpfile_unsupported() -> std::sync::MutexGuard<'static, BTreeSet<u64>> {
    TMPFILE_UNSUPPORTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `O_TMPFILE` already failed on the filesystem of `dest`'s directory.
///
/// The device number is that of the file being replaced when there is one (a file lives on
/// its directory's filesystem), else the directory's (one `fstat`, only once some filesystem
/// was found lacking). A file that is itself a mount point has another device number; a
/// wrong guess there only picks the other temp kind, and renaming over a mount point fails
/// (`EBUSY`) with either.
fn tmpfile_known_unsupported(dest: &Destination) -> io::Result<bool> {
    if tmpfile_unsupported().is_empty() {
        return Ok(false);
    }
    let dev = match dest.existing {
        Some(existing) => existing.dev,
        None => dest.dir.meta()?.dev,
    };
    Ok(tmpfile_unsupported().contains(&dev))
}

fn remember_tmpfile_unsupported(dev: u64) {
    tmpfile_unsupported().insert(dev);
}

/// `openat(dir, ".", O_TMPFILE)`, locked when it will need a temp name; `None` when the
/// filesystem does not support it.
///
/// `mode` is the final mode whenever that is known and has no set-ID or sticky bits: the kernel
/// applies it (filtered by the umask or default ACLs) atomically with the creation, so the
/// commit usually finds it right and skips `fchmod`. Nobody can open the file before it has a
/// name, so being readable by others at this stage exposes nothing.
fn create_anonymous(
    dest: &Destination,
    options: &Options,
    mode: u32,
) -> io::Result<Option<OwnedFd>> {
    let opened = sys::open_anonymous(dest.dir.fd.as_fd(), mode)
        .map_err(|errno| create_temp_error(errno, dest))?;
    let Some(fd) = opened else { return Ok(None) };
    if options.overwrite == Overwrite::NoClobber {
        // Linked straight to the target's name at commit: the file never has a temp name, so
        // `sweep` never sees it and no lock is needed.
        return Ok(Some(fd));
    }
    // Nobody else can reach an unnamed file, so the lock is free; it is taken now so that it is
    // already held when the file gets its temporary name (see `link_under_temp_name`).
    sys::retry(|| rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive)).map_err(
        |errno| {
            os_error(
                errno,
                format_args!("lock temp file for {}", dest.path.display()),
            )
        },
    )?;
    Ok(Some(fd))
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
fn create_named(dest: &Destination) -> io::Result<(OwnedFd, Claimed)> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC;
    for _ in 0..NAME_ATTEMPTS {
        let name = temp_name(&dest.name, random_u64());
        let mode = sys::mode(TEMP_FILE_MODE);
        let fd = match sys::retry(|| rustix::fs::openat(&dest.dir.fd, &name, flags, mode)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => continue,
            Err(errno) => return Err(create_temp_error(errno, dest)),
        };
        if let Some(named) = claim_named(&fd, dest, &name)? {
            return Ok((fd, (name, named)));
        }
    }
    let message = format_args!("no free temp file name in {}", dest.dir.path.display());
    Err(os_error(Errno::EXIST, message))
}

/// Locks a just-created named temp file and checks the name is still there; returns what the
/// name refers to, or `None` to retry with a fresh name.
///
/// The file exists unlocked between `open` and `flock`. A concurrent `sweep` can only remove
/// a temp file while holding its lock, and holds it until the removal is done, so either the
/// lock fails here (a sweeper holds it and will remove the name) or it succeeds, after which
/// the name is checked: if it is gone, a sweeper removed it before we locked. Both cases retry
/// with a fresh name and leave the old one to the sweeper. Once the name is claimed, no
/// sweeper can take the lock, so the name is ours until the commit renames it or the temp
/// file is discarded.
///
/// The check is one `fstatat(name)`. That the name refers to *this* file (and not to one
/// another writer created under the same random name after a sweeper removed ours) is
/// checked at commit, against the `fstat` the commit makes anyway (see `apply_metadata`), so
/// no `fstat` is spent here. (`st_nlink` of our descriptor would not do: on NFS a file
/// removed while open is renamed to `.nfsXXXX` and keeps its link.)
fn claim_named(fd: &OwnedFd, dest: &Destination, name: &OsString) -> io::Result<Option<Meta>> {
    let in_dir = || dest.dir.path.join(name);
    match sys::retry(|| rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive)) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => return Ok(None),
        Err(errno) => {
            // No lock on this filesystem (ENOLCK, EOPNOTSUPP): `sweep` could never prove the
            // file dead either, so remove it now rather than leave litter nobody may sweep.
            let _ = sys::retry(|| rustix::fs::unlinkat(&dest.dir.fd, name, AtFlags::empty()));
            return Err(os_error(errno, format_args!("lock {}", in_dir().display())));
        }
    }
    match sys::stat_at(dest.dir.fd.as_fd(), name) {
        Ok(named) => Ok(Some(named)),
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(os_error(errno, format_args!("stat {}", in_dir().display()))),
    }
}

fn create_temp_error(errno: Errno, dest: &Destination) -> io::Error {
    let (dir, path) = (dest.dir.path.display(), dest.path.display());
    match errno {
        Errno::ACCESS => os_error(
            errno,
            format_args!("cannot create a temp file for {path}: directory {dir} is not writable"),
        ),
        Errno::PERM => os_error(
            errno,
            format_args!(
                "cannot create a temp file for {path} in {dir}: operation not permitted (is the \
                 directory immutable or append-only, `chattr +i`/`+a`? or a security module \
                 refused)"
            ),
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

/// The mode an unnamed temp file is created with: the final permission bits as far as they
/// are known at create time (explicit, or the replaced file's, less set-ID and sticky bits),
/// else 0o666, which the kernel filters through the umask or the default ACL exactly as for
/// `File::create`. The commit checks the guess against the replaced file as it is then.
fn initial_mode(dest: &Destination, options: &Options) -> u32 {
    let kept = replaced_metadata(dest, options)
        .filter(|_| options.keep.mode)
        .map(|existing| existing.permissions());
    options
        .mode
        .or(kept)
        .map_or(NEW_FILE_MODE, |mode| mode & !SPECIAL_BITS)
}

/// The permission bits `open(O_CREAT, 0o666)` gives a new file in `dest`'s directory, as
/// `File::create` does: learnt by creating one, so that the kernel (and, on FUSE, the
/// filesystem) applies its own rules, whatever they are: the calling thread's umask, the
/// directory's default ACL, a FUSE server's own handling of either.
///
/// `openat(dir, ".{name}.{random}.intact-tmp", O_CREAT | O_EXCL, 0o666)`, `statx`, `close`,
/// `unlinkat` (closed first: NFS renames a removed file that is still open to `.nfsXXXX`).
/// The probe is empty and lives for a few microseconds; it has the temp name shape, so a
/// crash in between leaves something [`sweep`](crate::sweep) removes (and a sweeper may
/// remove it first: the `ENOENT` of the `unlinkat` is then ignored).
fn probe_new_file_mode(dest: &Destination) -> Result<u32, Errno> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW;
    let flags = flags | OFlags::CLOEXEC;
    let dir = dest.dir.fd.as_fd();
    for _ in 0..NAME_ATTEMPTS {
        let name = temp_name(&dest.name, random_u64());
        let mode = sys::mode(NEW_FILE_MODE);
        let fd = match sys::retry(|| rustix::fs::openat(dir, &name, flags, mode)) {
            Ok(fd) => fd,
            Err(Errno::EXIST) => continue,
            Err(errno) => return Err(errno),
        };
        let probed = sys::stat_fd(fd.as_fd());
        drop(fd);
        match sys::retry(|| rustix::fs::unlinkat(dir, &name, AtFlags::empty())) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(errno) => return Err(errno),
        }
        return probed.map(|meta| meta.permissions());
    }
    Err(Errno::EXIST)
}

/// What the commit needs to know about how the temp file was created.
#[derive(Clone, Copy, Debug)]
struct PendingMetadata {
    /// The mode the temp file was created with (before the umask or default ACL).
    created_mode: u32,
    /// A named temp file: what its name referred to once locked, to compare with the file.
    claimed: Option<Meta>,
}

impl PendingMetadata {
    fn unnamed(created_mode: u32) -> PendingMetadata {
        PendingMetadata {
            created_mode,
            claimed: None,
        }
    }

    /// A named temp file is created with 0600, so its final mode is always set at commit.
    fn named(claimed: Meta) -> PendingMetadata {
        PendingMetadata {
            created_mode: TEMP_FILE_MODE,
            claimed: Some(claimed),
        }
    }
}

/// The owner, permissions and attributes a temp file gets at commit, decided then.
///
/// Applied after the last write, not at creation: a write by a process without `CAP_FSETID`
/// clears the set-user-ID bit (and set-group-ID, when group-executable) of the file it writes.
#[derive(Clone, Copy, Debug)]
struct FinalMetadata {
    /// Owner and group to copy (from the replaced file).
    owner: Option<(u32, u32)>,
    /// Permission bits to end with; `None` keeps what `O_TMPFILE` was created with.
    mode: Option<u32>,
    /// Copy the replaced file's extended attributes.
    xattrs: bool,
    /// The mode the temp file was created with, and a named one's claim (see above).
    pending: PendingMetadata,
}

impl FinalMetadata {
    /// Whether the commit `fstat`s the temp file: to compare owners, to check a named temp
    /// file's name, or because the mode is probably right already (and `fchmod` can go).
    fn needs_stat(&self) -> bool {
        self.owner.is_some()
            || self.pending.claimed.is_some()
            || self.mode == Some(self.pending.created_mode)
    }

    /// The mode to `fchmod` to, given the temp file's metadata if it was read: none when it
    /// has the right bits already, and always when set-ID or sticky bits are wanted (they are
    /// never given at `open`, and `fchown` clears set-ID bits).
    fn mode_to_set(&self, current: Option<&Meta>) -> Option<u32> {
        let mode = self.mode?;
        let right = current.is_some_and(|meta| meta.permissions() == mode);
        (!right || mode & SPECIAL_BITS != 0).then_some(mode)
    }
}

/// Metadata: applied to the temp file before anything is published.
impl AtomicFile {
    /// Protocol step 3 (crate docs): checks a named temp file is still the file under its
    /// name, then gives it the final owner, group, attributes and permission bits, once,
    /// from the file it replaces as that is now. One `fstat` decides what is needed.
    fn apply_metadata(&mut self) -> io::Result<()> {
        let Some(pending) = self.metadata else {
            return Ok(());
        };
        let replaced = self.replaced_now()?;
        let wanted = self.final_metadata(pending, replaced)?;
        let mut current = match wanted.needs_stat() {
            true => Some(self.stat_temp()?),
            false => None,
        };
        if let (Some(claimed), Some(current)) = (pending.claimed, current) {
            self.check_claimed_name(&claimed, &current)?;
        }
        if let (Some(owner), Some(now)) = (wanted.owner, current) {
            self.copy_owner(owner, &now)?;
        }
        if wanted.xattrs {
            // After fchown, which drops `security.capability`; an ACL changes the mode.
            self.copy_xattrs()?;
            current = None;
        }
        if let Some(mode) = wanted.mode_to_set(current.as_ref()) {
            // After fchown: changing the owner clears the set-user-ID and set-group-ID bits.
            sys::retry(|| rustix::fs::fchmod(&self.file, sys::mode(mode)))
                .map_err(|errno| self.temp_error(errno, "set permissions of"))?;
        }
        self.metadata = None;
        Ok(())
    }

    /// The regular file the commit will replace, as it is now (`statx` relative to the
    /// directory descriptor): its owner may have changed its mode or owner since `create`.
    /// `None` for no-clobber, where nothing is replaced, and when nothing of it is kept.
    fn replaced_now(&self) -> io::Result<Option<Meta>> {
        let keeps_any = (self.keep.mode && self.mode.is_none())
            || self.keep.owner != Preserve::No
            || self.keep.xattrs;
        if self.overwrite == Overwrite::NoClobber || !keeps_any {
            return Ok(None);
        }
        if self.one_call {
            // Read (and checked by `may_replace`) at `create`, within this same call.
            return Ok(self.dest.existing);
        }
        match sys::stat_at(self.dest.dir.fd.as_fd(), &self.dest.name) {
            Ok(meta) if meta.file_type() == FileType::RegularFile => {
                // One planted since `create` is refused as at `create`.
                dest::may_replace(&self.dest.dir, &meta, &self.dest.path)?;
                Ok(Some(meta))
            }
            // A symlink (Symlinks::Replace) is never the source of a mode: its 0777 means
            // nothing.
            Ok(_) | Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(os_error(
                errno,
                format_args!("look up {}", self.dest.path.display()),
            )),
        }
    }

    /// Decides the final metadata from the options and the file being replaced.
    fn final_metadata(
        &self,
        pending: PendingMetadata,
        replaced: Option<Meta>,
    ) -> io::Result<FinalMetadata> {
        let kept = replaced
            .filter(|_| self.keep.mode)
            .map(|existing| existing.permissions());
        let mode = match self.mode.or(kept) {
            Some(mode) => Some(mode),
            // An unnamed file created with 0o666 got the kernel's new-file mode at `open`.
            None if self.anonymous && pending.created_mode == NEW_FILE_MODE => None,
            None => Some(self.new_file_mode()?),
        };
        let owner = match self.keep.owner {
            Preserve::No => None,
            Preserve::Yes | Preserve::Try => replaced.map(|existing| (existing.uid, existing.gid)),
        };
        Ok(FinalMetadata {
            owner,
            mode,
            xattrs: self.keep.xattrs && replaced.is_some(),
            pending,
        })
    }

    /// The mode `File::create` would give a new file in the directory (see
    /// [`probe_new_file_mode`]).
    fn new_file_mode(&self) -> io::Result<u32> {
        probe_new_file_mode(&self.dest).map_err(|errno| {
            let dir = self.dest.dir.path.display();
            os_error(
                errno,
                format_args!(
                    "create a probe file in {dir} to learn the mode of a new file there (for {})",
                    self.dest.path.display()
                ),
            )
        })
    }

    /// Copies the replaced file's extended attributes (ACLs included) to the temp file.
    fn copy_xattrs(&self) -> io::Result<()> {
        let dir = &self.dest.dir;
        sys::copy_xattrs(
            dir.fd.as_fd(),
            &dir.path,
            &self.dest.name,
            self.file.as_fd(),
        )
        .map_err(|failed| {
            let path = self.dest.path.display();
            let message = match failed.name.is_empty() {
                true => format!("list the extended attributes of {path} (preserve_xattrs)"),
                false => format!(
                    "copy extended attribute {} of {path} to its temp file (preserve_xattrs)",
                    failed.name
                ),
            };
            os_error(failed.errno, message)
        })
    }

    fn stat_temp(&self) -> io::Result<Meta> {
        sys::stat_fd(self.file.as_fd()).map_err(|errno| self.temp_error(errno, "stat"))
    }

    /// Refuses to publish when the temp name refers to another file than ours (see
    /// `claim_named`): only possible if a sweeper removed our name before we locked the file
    /// and another writer then drew the same random name. The name is then that writer's: it
    /// is forgotten, not removed, and nothing is published.
    fn check_claimed_name(&mut self, claimed: &Meta, current: &Meta) -> io::Result<()> {
        if claimed.same_inode(current) {
            return Ok(());
        }
        let name = self.temp_name.take().unwrap_or_default();
        let message = format!(
            "temp file {} for {} was taken over by another writer before it was locked; \
             nothing was published: write it again",
            self.dest.dir.path.join(name).display(),
            self.dest.path.display()
        );
        Err(io::Error::other(message))
    }

    /// Gives the temp file the replaced file's owner and group, as far as permitted.
    ///
    /// Only root (`CAP_CHOWN`) may give a file away; an unprivileged owner may still set the
    /// group to one of its own groups. With [`Preserve::Try`], `EPERM` is not an error: the
    /// file keeps our owner (and the replaced file's group if we are in it); with
    /// [`Preserve::Yes`] it fails the commit.
    fn copy_owner(&self, (uid, gid): (u32, u32), current: &Meta) -> io::Result<()> {
        if (current.uid, current.gid) == (uid, gid) {
            return Ok(());
        }
        let (new_uid, new_gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        let chown = |uid| sys::retry(|| rustix::fs::fchown(&self.file, uid, Some(new_gid)));
        let chowned = match chown(Some(new_uid)) {
            Err(Errno::PERM) if self.keep.owner == Preserve::Try => chown(None),
            other => other,
        };
        match (chowned, self.keep.owner) {
            (Ok(()), _) | (Err(Errno::PERM), Preserve::Try) => Ok(()),
            (Err(errno @ Errno::PERM), _) => Err(os_error(
                errno,
                format_args!(
                    "cannot keep the owner {uid}:{gid} of {} (Preserve::Yes): not permitted; \
                     nothing was published",
                    self.dest.path.display()
                ),
            )),
            (Err(errno), _) => Err(self.temp_error(errno, "set owner of")),
        }
    }

    fn temp_error(&self, errno: Errno, what: &str) -> io::Error {
        os_error(
            errno,
            format_args!("{what} temp file for {}", self.dest.path.display()),
        )
    }
}

/// The error of a commit retried after its `fsync` failed: the kind of the original error
/// (`Other` where that has no category, as for `EIO`), and the original error as its source.
fn sync_failed_before(original: &Arc<io::Error>, path: &Path) -> io::Error {
    let uncategorized = io::Error::from(Errno::IO).kind();
    let kind = match original.kind() {
        kind if kind == uncategorized => io::ErrorKind::Other,
        kind => kind,
    };
    let message = format_args!(
        "not published: an earlier fsync of the temp file for {} failed, so its content may \
         be lost (write it again)",
        path.display()
    );
    with_kind(kind, Arc::clone(original), message)
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
        let sync_dir = sync_dir && self.durability == Durability::Full;
        let mut ticket = None;
        if !self.published {
            let not_published = |error| (error, CommitFailure::NotPublished);
            let group = match sync_dir {
                true => Some(group::for_dir(&self.dest.dir).map_err(not_published)?),
                false => None,
            };
            self.apply_metadata().map_err(not_published)?;
            // From here to the ticket, the next directory `fsync` waits for this commit.
            let arrival = group.as_ref().map(Group::arrive);
            let syncing = std::time::Instant::now();
            self.sync_data().map_err(not_published)?;
            let synced_in = syncing.elapsed();
            self.publish().map_err(not_published)?;
            self.published = true;
            // Taken as soon as the rename returned: an `fsync` begun later covers it.
            ticket = arrival.map(|arrival| arrival.ticket(synced_in));
        }
        if sync_dir {
            self.sync_dir(ticket)
                .map_err(|error| (error, CommitFailure::PublishedNotDurable))?;
        }
        Ok(())
    }

    /// Protocol step 4 (crate docs): `fsync` the temp file, so the content, mode and owner are
    /// on stable storage before any name points at them. On macOS `sync_all` issues
    /// `F_FULLFSYNC`.
    fn sync_data(&mut self) -> io::Result<()> {
        if let Some(original) = &self.sync_failed {
            return Err(sync_failed_before(original, &self.dest.path));
        }
        if self.durability == Durability::None {
            return Ok(());
        }
        self.file.sync_all().map_err(|error| {
            let original = Arc::new(error);
            self.sync_failed = Some(Arc::clone(&original));
            let path = self.dest.path.display();
            shared_context(original, format_args!("fsync temp file for {path}"))
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
        match sys::retry(|| rustix::fs::renameat(dir, temp, dir, &self.dest.name)) {
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
            (Errno::PERM, _) => os_error(
                errno,
                format_args!(
                    "publish {path}: operation not permitted (in a sticky directory only the \
                     owner of the file or of the directory may replace it; or the file or its \
                     directory is immutable or append-only, `chattr +i`/`+a`)"
                ),
            ),
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

    /// Protocol step 6: `fsync` the directory, so the new name itself survives a power cut;
    /// shared with concurrent commits into the same directory (see `group`). Without a ticket
    /// from the rename (a retried commit), one taken now will do: the rename returned long ago.
    fn sync_dir(&self, ticket: Option<(Ticket, Arc<Group>)>) -> io::Result<()> {
        let dir = &self.dest.dir;
        let (ticket, group) = match ticket {
            Some(taken) => taken,
            None => {
                let group = group::for_dir(dir)?;
                (group.ticket(), group)
            }
        };
        group::sync_directory(&group, ticket, dir).map_err(|errno| {
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
        let unlinked =
            sys::retry(|| rustix::fs::unlinkat(&self.dest.dir.fd, &name, AtFlags::empty()));
        unlinked.map_err(|errno| {
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
    fn filesystems_without_tmpfile_are_remembered_by_device() {
        // Device numbers no real filesystem here has.
        let (lacking, other) = (u64::MAX - 7, u64::MAX - 8);
        assert!(!tmpfile_unsupported().contains(&lacking));
        remember_tmpfile_unsupported(lacking);
        assert!(tmpfile_unsupported().contains(&lacking));
        assert!(!tmpfile_unsupported().contains(&other));
    }

    #[test]
    fn auto_uses_named_temp_files_on_a_filesystem_remembered_as_lacking_tmpfile() {
        // /dev/shm stands in for a filesystem without O_TMPFILE: no other test of this
        // process writes there, and its device number differs from the temp dir's.
        let dir =
            std::path::Path::new("/dev/shm").join(format!("intact-auto-{}", std::process::id()));
        if std::fs::create_dir(&dir).is_err() {
            testkit::skip("no /dev/shm to stand in for a filesystem without O_TMPFILE");
            return;
        }
        let dir_fd = File::open(&dir).unwrap();
        let dev = sys::stat_fd(dir_fd.as_fd()).unwrap().dev;
        remember_tmpfile_unsupported(dev);
        let existing = dir.join("existing");
        std::fs::write(&existing, b"old").unwrap();
        // A new target (the directory's device) and an existing one (the file's).
        for target in [dir.join("new"), existing] {
            let mut file = Options::new().create(&target).unwrap();
            assert!(
                !file.anonymous,
                "{}: O_TMPFILE tried again",
                target.display()
            );
            assert!(file.temp_name.is_some());
            file.write_all(b"new").unwrap();
            file.commit().unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"new");
        }
        tmpfile_unsupported().remove(&dev);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unnamed_temp_file_starts_with_its_final_mode() {
        let plan = |mode: Option<u32>, owner| FinalMetadata {
            owner,
            mode,
            xattrs: false,
            pending: PendingMetadata::unnamed(
                mode.map_or(NEW_FILE_MODE, |mode: u32| mode & !SPECIAL_BITS),
            ),
        };
        let meta = |mode: u32| Meta {
            dev: 1,
            ino: 2,
            mode: 0o100000 | mode,
            uid: 0,
            gid: 0,
            size_bytes: 0,
        };
        // A new file: nothing to read, nothing to set.
        assert!(!plan(None, None).needs_stat());
        assert_eq!(plan(None, None).mode_to_set(None), None);
        // Created with the final mode: one fstat, and fchmod only if the umask got in the way.
        let kept = plan(Some(0o644), Some((0, 0)));
        assert!(kept.needs_stat());
        assert_eq!(kept.mode_to_set(Some(&meta(0o644))), None);
        assert_eq!(kept.mode_to_set(Some(&meta(0o604))), Some(0o644));
        // Set-ID and sticky bits are always set at commit, after the last write.
        let set_id = plan(Some(0o4755), Some((0, 0)));
        assert_eq!(set_id.pending.created_mode, 0o755);
        assert_eq!(set_id.mode_to_set(Some(&meta(0o4755))), Some(0o4755));
    }

    #[test]
    fn a_retry_after_a_failed_fsync_says_why_and_keeps_the_original_error() {
        let dir = std::env::temp_dir().join(format!("intact-fsync-retry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let target = dir.join("target");
        let mut file = Options::new().create(&target).unwrap();
        file.write_all(b"maybe lost").unwrap();
        // What `sync_data` records when `fsync` fails with EIO.
        file.sync_failed = Some(Arc::new(io::Error::from(Errno::IO)));
        let error = file.commit().unwrap_err();
        assert_eq!(error.failure(), CommitFailure::NotPublished);
        assert_eq!(error.kind(), io::ErrorKind::Other, "not 'uncategorized'");
        assert_eq!(error.raw_os_error(), Some(Errno::IO.raw_os_error()));
        let message = error.to_string();
        assert!(message.contains("earlier fsync"), "{message}");
        assert!(!message.contains("uncategorized"), "{message}");
        let source = std::error::Error::source(error.error()).unwrap();
        let original = source.downcast_ref::<io::Error>().unwrap();
        assert_eq!(original.raw_os_error(), Some(Errno::IO.raw_os_error()));
        drop(error);
        assert!(!target.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_temp_name_claimed_by_another_file_is_never_published() {
        let dir = std::env::temp_dir().join(format!("intact-claim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, b"old").unwrap();
        let mut file = Options::new().temp(Temp::Named).create(&target).unwrap();
        // What `claim_named` sees when a sweeper removed our name before our `flock` and
        // another writer created the same name: the name refers to that writer's file.
        let temp = dir.join(file.temp_name.clone().unwrap());
        std::fs::remove_file(&temp).unwrap();
        std::fs::write(&temp, b"someone else's").unwrap();
        let theirs = sys::stat_fd(File::open(&temp).unwrap().as_fd()).unwrap();
        file.metadata.as_mut().unwrap().claimed = Some(theirs);

        file.write_all(b"ours").unwrap();
        let error = file.commit().unwrap_err();
        assert_eq!(error.failure(), CommitFailure::NotPublished);
        assert!(error.to_string().contains("taken over"), "{error}");
        drop(error);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(
            std::fs::read(&temp).unwrap(),
            b"someone else's",
            "theirs is left alone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_call_interrupted_by_a_signal_is_retried() {
        let dir = std::env::temp_dir().join(format!("intact-eintr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("link-target"), b"old").unwrap();
        std::os::unix::fs::symlink("link-target", dir.join("link")).unwrap();
        let before = sys::interrupt::storm(true);
        let mut written = Vec::new();
        for temp in [Temp::Named, Temp::Anonymous] {
            for (overwrite, label) in [(Overwrite::Replace, "r"), (Overwrite::NoClobber, "n")] {
                let options = Options::new().temp(temp).overwrite(overwrite);
                let new = dir.join(format!("{temp:?}-{label}"));
                options.write(&new, b"new file").unwrap();
                written.push(new);
            }
            let options = Options::new().temp(temp).preserve_mode(false);
            options
                .write(dir.join("link"), b"through the link")
                .unwrap();
        }
        crate::sweep(&dir).unwrap();
        let interrupted = sys::interrupt::storm(false) - before;
        // Each write makes at least 8 calls through `retry` (open, stat, lock, link, rename).
        assert!(
            interrupted >= 6 * 8,
            "only {interrupted} calls were interrupted"
        );
        for path in &written {
            assert_eq!(
                std::fs::read(path).unwrap(),
                b"new file",
                "{}",
                path.display()
            );
        }
        let target = std::fs::read(dir.join("link-target")).unwrap();
        assert_eq!(target, b"through the link");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(
            names.iter().all(|name| !name.ends_with(".intact-tmp")),
            "{names:?}"
        );
        assert_eq!(names.len(), written.len() + 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_named_temp_file_is_always_checked_and_given_its_mode() {
        let claimed = Meta {
            dev: 1,
            ino: 2,
            mode: 0o100600,
            uid: 0,
            gid: 0,
            size_bytes: 0,
        };
        let named = FinalMetadata {
            owner: None,
            mode: Some(0o640),
            xattrs: false,
            pending: PendingMetadata::named(claimed),
        };
        assert_eq!(named.pending.created_mode, TEMP_FILE_MODE);
        assert!(
            named.needs_stat(),
            "the claimed name is compared with the file"
        );
        assert_eq!(named.mode_to_set(Some(&claimed)), Some(0o640));
    }
}
