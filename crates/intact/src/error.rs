//! Errors: `io::Error`s that name the path, and [`CommitError`], which hands the file back.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::AtomicFile;

/// The error inside every `io::Error` this crate makes (except a [`CommitError`] or a
/// [`BatchError`](crate::BatchError) converted into one): what was being done, naming the
/// path, and the cause.
///
/// The `io::Error` has the cause's `ErrorKind`; its `raw_os_error()` is `None` (it wraps a
/// custom error), so get the errno with [`PathError::raw_os_error`] (after
/// `io::Error::get_ref` and `downcast_ref`) or with [`crate::raw_os_error`], which takes the
/// `io::Error` itself. [`Error::source`] yields the OS error.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-patherr-{}", std::process::id()));
/// let error = intact::write(dir.join("missing/file"), b"x").unwrap_err();
/// let inner = error.get_ref().and_then(|e| e.downcast_ref::<intact::PathError>()).unwrap();
/// assert_eq!(inner.raw_os_error(), Some(2)); // ENOENT
/// assert_eq!(intact::raw_os_error(&error), Some(2));
/// ```
#[derive(Debug)]
pub struct PathError {
    message: String,
    source: Arc<io::Error>,
}

impl PathError {
    /// What was being done, naming the path (without the cause).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The OS error number of the cause (`errno`), when it has one.
    pub fn raw_os_error(&self) -> Option<i32> {
        find_os_error(&*self.source)
    }

    /// The kind of the cause.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.message, self.source)
    }
}

impl Error for PathError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// The first OS error number found along the `source` chain of `error` (itself included).
pub(crate) fn find_os_error(error: &(dyn Error + 'static)) -> Option<i32> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(code) = error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(code);
        }
        current = error.source();
    }
    None
}

/// Wraps `source` with a message (which names the path), keeping its `ErrorKind`.
pub(crate) fn with_context(source: io::Error, message: impl fmt::Display) -> io::Error {
    shared_context(Arc::new(source), message)
}

/// Like [`with_context`] for a cause that is also kept elsewhere (a failed `fsync`, reported
/// again by every retried commit).
pub(crate) fn shared_context(source: Arc<io::Error>, message: impl fmt::Display) -> io::Error {
    let kind = source.kind();
    with_kind(kind, source, message)
}

/// Wraps `source` with a message, with another kind than the cause's.
pub(crate) fn with_kind(
    kind: io::ErrorKind,
    source: Arc<io::Error>,
    message: impl fmt::Display,
) -> io::Error {
    let context = PathError {
        message: message.to_string(),
        source,
    };
    io::Error::new(kind, context)
}

/// A new error of `kind` whose message names the path; `errno` is kept as its source.
pub(crate) fn os_error(errno: rustix::io::Errno, message: impl fmt::Display) -> io::Error {
    with_context(io::Error::from(errno), message)
}

/// Which part of a commit failed, and so what state the target is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitFailure {
    /// Nothing was published: the target is exactly as it was. The temp file is still there
    /// (held by the returned [`AtomicFile`]); retry the commit, abort, or drop it.
    NotPublished,
    /// The new content is in place under the target's name (every process sees it), but
    /// the `fsync` of the directory failed, so whether the new name survives a power cut is
    /// unknown. Retrying the commit retries only the directory `fsync`; note that after an
    /// I/O error, a later `fsync` may succeed without the data being on disk (see the crate
    /// docs on fsync errors).
    PublishedNotDurable,
}

impl CommitFailure {
    /// True when the new content is in place (only the directory `fsync` failed).
    pub fn is_published(self) -> bool {
        match self {
            CommitFailure::NotPublished => false,
            CommitFailure::PublishedNotDurable => true,
        }
    }
}

/// A failed [`AtomicFile::commit`]: the error, what state the target is in, and the file,
/// handed back so the caller can retry the commit or abort.
///
/// Dropping a `CommitError` drops the file, which removes the temp file if nothing was
/// published. Converting into `io::Error` (as `?` does, and as [`crate::write`] and
/// [`Options::write`](crate::Options::write) do) drops the file, removing an unpublished temp
/// file at once, and keeps the kind, the message and a [`CommitFailed`] as the inner error:
/// `downcast` to it to ask [`failure`](CommitFailed::failure) or
/// [`is_published`](CommitFailed::is_published).
///
/// ```
/// use intact::{CommitFailed, CommitFailure, Options, Overwrite};
/// # let dir = std::env::temp_dir().join(format!("intact-doc-commiterr-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("once");
/// std::fs::write(&path, b"first")?;
/// let error = Options::new().overwrite(Overwrite::NoClobber).write(&path, b"second").unwrap_err();
/// let commit = error.get_ref().and_then(|e| e.downcast_ref::<CommitFailed>()).unwrap();
/// assert_eq!(commit.failure(), CommitFailure::NotPublished);
/// assert_eq!(commit.raw_os_error(), Some(17)); // EEXIST
/// # drop(error);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct CommitError {
    file: Box<AtomicFile>,
    error: io::Error,
    failure: CommitFailure,
}

impl CommitError {
    pub(crate) fn new(file: AtomicFile, error: io::Error, failure: CommitFailure) -> Self {
        CommitError {
            file: Box::new(file),
            error,
            failure,
        }
    }

    /// The underlying error; its message names the path and its source is the OS error.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The kind of the underlying error.
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The OS error number (`errno`) behind the failure, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        find_os_error(&self.error)
    }

    /// Which step failed: before anything was published, or after (durability unknown).
    pub fn failure(&self) -> CommitFailure {
        self.failure
    }

    /// True when the new content is already in place (the directory `fsync` failed).
    pub fn is_published(&self) -> bool {
        self.failure.is_published()
    }

    /// The file, to retry [`AtomicFile::commit`] or to [`AtomicFile::abort`].
    pub fn into_file(self) -> AtomicFile {
        *self.file
    }

    /// The file and the error.
    pub fn into_parts(self) -> (AtomicFile, io::Error) {
        (*self.file, self.error)
    }
}

impl fmt::Debug for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitError")
            .field("error", &self.error)
            .field("failure", &self.failure)
            .field("file", &self.file)
            .finish()
    }
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, &self.error, self.failure, self.file.target())
    }
}

fn describe(
    f: &mut fmt::Formatter<'_>,
    error: &io::Error,
    failure: CommitFailure,
    target: &std::path::Path,
) -> fmt::Result {
    match failure {
        CommitFailure::NotPublished => write!(
            f,
            "commit {}: {error} (nothing was published)",
            target.display()
        ),
        CommitFailure::PublishedNotDurable => write!(
            f,
            "commit {}: {error} (the new content is in place, but may not survive a power cut)",
            target.display()
        ),
    }
}

impl Error for CommitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

/// A [`CommitError`] converted into an `io::Error`, without the file (whose unpublished temp
/// file was removed by the conversion): the inner error of that `io::Error`, for `downcast`.
#[derive(Debug)]
pub struct CommitFailed {
    error: io::Error,
    failure: CommitFailure,
    target: std::path::PathBuf,
}

impl CommitFailed {
    /// The underlying error; its message names the path and its source is the OS error.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The kind of the underlying error.
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The OS error number (`errno`) behind the failure, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        find_os_error(&self.error)
    }

    /// Which step failed: before anything was published, or after (durability unknown).
    pub fn failure(&self) -> CommitFailure {
        self.failure
    }

    /// True when the new content is already in place (the directory `fsync` failed).
    pub fn is_published(&self) -> bool {
        self.failure.is_published()
    }

    /// The target path, as given to `create`.
    pub fn target(&self) -> &std::path::Path {
        &self.target
    }
}

impl fmt::Display for CommitFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, &self.error, self.failure, &self.target)
    }
}

impl Error for CommitFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CommitError> for io::Error {
    /// Keeps the kind and the message, with a [`CommitFailed`] as the inner error; drops the
    /// file (removing the temp file if nothing was published).
    fn from(err: CommitError) -> io::Error {
        let kind = err.error.kind();
        let target = err.file.target().to_path_buf();
        let failed = CommitFailed {
            error: err.error,
            failure: err.failure,
            target,
        };
        io::Error::new(kind, failed)
    }
}

/// The error of a publish whose directory `fsync` failed, outside an [`AtomicFile`] (a
/// symlink): as a failed commit converts, with a [`CommitFailed`] inside.
pub(crate) fn published_not_durable(error: io::Error, target: &std::path::Path) -> io::Error {
    let kind = error.kind();
    let failed = CommitFailed {
        error,
        failure: CommitFailure::PublishedNotDurable,
        target: target.to_path_buf(),
    };
    io::Error::new(kind, failed)
}

/// The OS error number (`errno`) behind an error returned by this crate, found along its
/// [`source`](Error::source) chain: `io::Error::raw_os_error` alone is `None` for them, since
/// they wrap a [`PathError`] or a [`CommitError`] to name the path.
pub fn raw_os_error(error: &io::Error) -> Option<i32> {
    find_os_error(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_the_os_error() {
        let error = os_error(rustix::io::Errno::NOENT, "open /x/y");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().starts_with("open /x/y: "), "{error}");
        let source = error.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.and_then(io::Error::raw_os_error),
            Some(libc_enoent())
        );
    }

    fn libc_enoent() -> i32 {
        rustix::io::Errno::NOENT.raw_os_error()
    }
}
