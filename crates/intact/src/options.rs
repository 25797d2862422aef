//! [`Options`] and the policy enums it takes.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::AtomicFile;

/// How much of a commit must be on stable storage when [`AtomicFile::commit`] returns.
///
/// Every level is atomic for other processes and survives a crash of the writing process;
/// they differ in what survives a power cut or kernel crash (see the crate docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Rename only, no `fsync`. After a power cut the target may hold the old content, the new
    /// content, or (on filesystems without rename heuristics) an empty or partly written file.
    None,
    /// `fsync` the temp file before the rename: after a power cut the target holds the old or
    /// the complete new content, but the rename itself may be lost (old content comes back).
    Data,
    /// `Data`, then `fsync` the directory after the rename: once `commit` returns, the new
    /// content survives a power cut. Needs read permission on the directory (`fsync` needs a
    /// descriptor opened for reading; `Data` and `None` need only write and search
    /// permission): without it, `PermissionDenied`, saying so.
    #[default]
    Full,
}

/// What to do when the target already exists at commit time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Overwrite {
    /// Atomically replace the existing file.
    #[default]
    Replace,
    /// Publish only if the target does not exist; otherwise fail with
    /// `ErrorKind::AlreadyExists` and leave the existing file untouched. The check and the
    /// publish are one atomic step, so exactly one of several racing writers wins.
    NoClobber,
}

/// What to do when the target is a symbolic link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Symlinks {
    /// Write to the file at the end of the link chain and keep the links. The temp file is
    /// created next to that file, so the rename stays within one directory. A link that points
    /// nowhere is an error (`NotFound`, naming the link and the missing file). A link the
    /// kernel's own `open` would refuse to follow under Linux's `fs.protected_symlinks` is
    /// refused the same way (`PermissionDenied`, `EACCES`; see the crate docs, step 1).
    #[default]
    Follow,
    /// Replace the link itself with a regular file; what it pointed to is left alone.
    Replace,
}

/// What kind of temp file holds the new content until the commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Temp {
    /// `Anonymous` where the filesystem supports it, `Named` elsewhere. Decided once per
    /// filesystem for the life of the process, not per call: a filesystem where `O_TMPFILE`
    /// fails is remembered by device number. (The cost of either kind: see the crate docs.)
    #[default]
    Auto,
    /// A hidden file `.{target}.{random}.intact-tmp` in the target's directory, created with
    /// `O_EXCL` and mode 0600 and locked with `flock` for its whole life, so that [`sweep`]
    /// can remove it after a crash without ever touching a live writer's file.
    ///
    /// [`sweep`]: crate::sweep
    Named,
    /// Linux `O_TMPFILE`: the file has no name until its content is complete (and synced, per
    /// the durability level), so a crash while writing leaves nothing behind. Fails with
    /// `ErrorKind::Unsupported` on filesystems or platforms without `O_TMPFILE`.
    Anonymous,
}

/// Whether to keep something of the replaced file: see [`Options::preserve_owner`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preserve {
    /// Keep it, or fail the commit (nothing published) when that is not permitted.
    Yes,
    /// Keep it where permitted, else go on without it.
    #[default]
    Try,
    /// Do not keep it.
    No,
}

/// The error of [`Options::write_with`]: the closure's own error, or this crate's.
///
/// Either way nothing was published (the temp file is gone), except for an `Io` error whose
/// inner error is a [`CommitFailed`](crate::CommitFailed) that says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum WriteWithError<E> {
    /// The closure returned this error: the temp file was discarded, the target is unchanged.
    #[error("the content for the new file could not be written; nothing was published")]
    User(#[source] E),
    /// Creating the temp file or committing it failed (see [`Options::create`] and
    /// [`AtomicFile::commit`]: a commit error carries a [`CommitFailed`](crate::CommitFailed)).
    #[error(transparent)]
    Io(io::Error),
}

impl<E: Into<io::Error>> From<WriteWithError<E>> for io::Error {
    /// The closure's error converted as it would be by `?`, or this crate's error as it is.
    fn from(error: WriteWithError<E>) -> io::Error {
        match error {
            WriteWithError::User(error) => error.into(),
            WriteWithError::Io(error) => error,
        }
    }
}

/// How to write: durability, overwrite, permissions, symlinks and temp file policies.
///
/// The defaults are those of [`crate::write`] and [`AtomicFile::create`]: fully durable,
/// replace, keep the replaced file's metadata, follow symlinks, automatic temp file.
///
/// ```
/// use intact::{Durability, Options, Overwrite};
/// # let dir = std::env::temp_dir().join(format!("intact-doc-options-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let options = Options::new()
///     .durability(Durability::Data)
///     .overwrite(Overwrite::NoClobber)
///     .mode(0o640);
/// options.write(dir.join("report.txt"), b"first")?;
/// let again = options.write(dir.join("report.txt"), b"second");
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// assert_eq!(std::fs::read(dir.join("report.txt"))?, b"first");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Options {
    pub(crate) durability: Durability,
    pub(crate) overwrite: Overwrite,
    pub(crate) mode: Option<u32>,
    pub(crate) symlinks: Symlinks,
    pub(crate) temp: Temp,
    pub(crate) keep: Keep,
    pub(crate) create_parents: bool,
}

/// What to keep of a replaced file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Keep {
    pub(crate) mode: bool,
    pub(crate) owner: Preserve,
    pub(crate) xattrs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::default(),
            overwrite: Overwrite::default(),
            mode: None,
            symlinks: Symlinks::default(),
            temp: Temp::default(),
            keep: Keep {
                mode: true,
                owner: Preserve::Try,
                xattrs: false,
            },
            create_parents: false,
        }
    }
}

impl Options {
    /// The default options (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how much must be on stable storage when the commit returns.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets what to do when the target exists.
    pub fn overwrite(mut self, overwrite: Overwrite) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Gives the file exactly these permission bits (`& 0o7777`, not filtered by the umask).
    ///
    /// Without it, a replaced file keeps its permission bits (see [`Options::preserve_mode`])
    /// and, where the process is allowed to set them, its owner and group; a new file gets
    /// what `File::create` would give it: `0o666 & !umask`, or, in a directory with a default
    /// ACL, `0o666` filtered by that ACL. Permissions are applied at commit, after the last
    /// write (so they override any set through [`AtomicFile::as_file`]).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode & 0o7777);
        self
    }

    /// Whether a replaced file's permission bits are kept (the default) or the new file gets
    /// the mode of a new file (`0o666` filtered by the umask, or by the directory's default
    /// ACL). [`Options::mode`] overrides both. The replaced file's mode is read at commit.
    pub fn preserve_mode(mut self, preserve: bool) -> Self {
        self.keep.mode = preserve;
        self
    }

    /// Whether a replaced file's owner and group are kept, read at commit:
    /// [`Preserve::Try`] (the default) gives the new file the replaced file's owner and group
    /// where the process may (root may; others may only pick one of their own groups) and
    /// otherwise leaves it owned by the writer; [`Preserve::Yes`] fails the commit, publishing
    /// nothing, with `PermissionDenied` (`EPERM`) when the owner or group cannot be kept;
    /// [`Preserve::No`] leaves the new file owned by the writer (and its group per the
    /// directory: the writer's, or the directory's where it is set-group-ID).
    pub fn preserve_owner(mut self, preserve: Preserve) -> Self {
        self.keep.owner = preserve;
        self
    }

    /// Whether the replaced file's extended attributes are copied to the new file at commit:
    /// all that the process can list, including its access ACL (`system.posix_acl_access`),
    /// `user.*` attributes and, where permitted, `security.*` and `trusted.*` ones. Off by
    /// default. The new file then has the replaced file's ACL instead of one inherited from
    /// the directory's default ACL. An attribute that cannot be read or set fails the commit
    /// (nothing published), naming the attribute.
    pub fn preserve_xattrs(mut self, preserve: bool) -> Self {
        self.keep.xattrs = preserve;
        self
    }

    /// Sets what to do when the target is a symbolic link.
    pub fn symlinks(mut self, symlinks: Symlinks) -> Self {
        self.symlinks = symlinks;
        self
    }

    /// Sets the kind of temp file.
    pub fn temp(mut self, temp: Temp) -> Self {
        self.temp = temp;
        self
    }

    /// Whether missing parent directories of the target are created (off by default: a
    /// missing parent is then a `NotFound` error). They are made outermost first, with the
    /// mode `create_dir` gives (`0o777` less the umask, or per a default ACL); with
    /// [`Durability::Full`] each new directory's parent is `fsync`ed right after its `mkdir`,
    /// before the next one is made, so once the commit returns the whole path survives a
    /// power cut. They stay even if the write then fails. Symlinks in the path are followed;
    /// only the target's own parents are created, never those of a symlink's destination.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("intact-doc-parents-{}", std::process::id()));
    /// let path = dir.join("runs/42/result.json");
    /// intact::Options::new().create_parents(true).write(&path, b"{}")?;
    /// assert_eq!(std::fs::read(&path)?, b"{}");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_parents(mut self, create: bool) -> Self {
        self.create_parents = create;
        self
    }

    /// Atomically points the symbolic link `link` at `target` with these options' durability
    /// (and [`create_parents`](Options::create_parents)); see [`crate::symlink`].
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        crate::symlink::replace_symlink(
            target.as_ref(),
            link.as_ref(),
            self.durability,
            self.create_parents,
        )
    }

    /// Creates the temp file for `path` with these options.
    ///
    /// Errors name the path: parent directory missing (`NotFound`), target is a directory
    /// (`IsADirectory`), parent not writable (`PermissionDenied` or `ReadOnlyFilesystem`), name
    /// too long, target a dangling symlink under [`Symlinks::Follow`] (`NotFound`), or a link
    /// the kernel would not follow under `fs.protected_symlinks` (`PermissionDenied`), a file
    /// the kernel would not open with `O_CREAT` under `fs.protected_regular`
    /// (`PermissionDenied`), target named like a temp file (`InvalidInput`).
    pub fn create(&self, path: impl AsRef<Path>) -> io::Result<AtomicFile> {
        if self.create_parents {
            let sync = self.durability == Durability::Full;
            crate::parents::create_parents(path.as_ref(), sync)?;
        }
        AtomicFile::create_with(path.as_ref(), self)
    }

    /// Atomically writes `contents` to `path` with these options.
    pub fn write(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
        let mut file = self.create(path)?;
        file.mark_one_call();
        file.write_all(contents.as_ref())?;
        file.commit()?;
        Ok(())
    }

    /// Atomically writes to `path` whatever `write` writes to the temp file, and returns what
    /// `write` returns.
    ///
    /// The closure gets the temp file (the `&File` of [`AtomicFile::as_file`], which
    /// implements `Write`, `Read` and `Seek`), at offset 0.
    /// When it returns `Ok`, the file is committed; when it returns `Err`, the temp file is
    /// discarded, nothing is published, and the error comes back as
    /// [`WriteWithError::User`]. Failures of this crate are [`WriteWithError::Io`]; with
    /// `E = io::Error`, `?` turns either into an `io::Error`.
    ///
    /// ```
    /// use std::io::Write;
    /// # let dir = std::env::temp_dir().join(format!("intact-doc-with-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("lines.txt");
    /// let count = intact::Options::new().write_with(&path, |file| {
    ///     let mut out = std::io::BufWriter::new(file);
    ///     for i in 0..3 {
    ///         writeln!(out, "line {i}")?;
    ///     }
    ///     out.flush()?;
    ///     Ok::<_, std::io::Error>(3)
    /// })?;
    /// assert_eq!(count, 3);
    /// let failed = intact::Options::new().write_with(&path, |_| Err::<(), _>("no"));
    /// assert!(matches!(failed, Err(intact::WriteWithError::User("no"))));
    /// assert_eq!(std::fs::read_to_string(&path)?, "line 0\nline 1\nline 2\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// The closure cannot swap the temp file for another file (which the commit would then
    /// publish under the target's name, with the target's metadata):
    ///
    /// ```compile_fail
    /// intact::Options::new().write_with("out.txt", |file| {
    ///     *file = std::fs::File::open("victim")?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), intact::WriteWithError<std::io::Error>>(())
    /// ```
    pub fn write_with<T, E>(
        &self,
        path: impl AsRef<Path>,
        write: impl FnOnce(&File) -> Result<T, E>,
    ) -> Result<T, WriteWithError<E>> {
        let file = self.create(path).map_err(WriteWithError::Io)?;
        // On a user error the AtomicFile is dropped, which removes the temp file.
        let value = write(file.as_file()).map_err(WriteWithError::User)?;
        file.commit()
            .map_err(|error| WriteWithError::Io(error.into()))?;
        Ok(value)
    }

    /// Atomically writes `value` as JSON to `path` with these options, serialising straight
    /// into the temp file through a buffer (no full in-memory copy).
    #[cfg(feature = "json")]
    pub fn write_json<T>(&self, path: impl AsRef<Path>, value: &T) -> io::Result<()>
    where
        T: serde::Serialize + ?Sized,
    {
        let path = path.as_ref();
        let mut file = self.create(path)?;
        let mut writer = io::BufWriter::new(&mut file);
        serde_json::to_writer(&mut writer, value).map_err(|error| json_error(error, path))?;
        writer.flush()?;
        drop(writer);
        file.commit()?;
        Ok(())
    }
}

/// A serde_json error as an `io::Error`: I/O errors come back as they were (they already name
/// the path); a value that cannot be serialised is `InvalidData`, naming the path.
#[cfg(feature = "json")]
fn json_error(error: serde_json::Error, path: &Path) -> io::Error {
    let is_io = error.is_io();
    let error = io::Error::from(error);
    match is_io {
        true => error,
        false => {
            crate::error::with_context(error, format_args!("serialize JSON for {}", path.display()))
        }
    }
}
