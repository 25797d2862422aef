//! Errors: `io::Error`s that name the path, and [`CommitError`], which hands the file back.

use std::error::Error;
use std::fmt;
use std::io;

use crate::AtomicFile;

/// The cause of a failure plus what was being done, to which path.
///
/// Carried inside an `io::Error` (so the `ErrorKind` is the cause's kind) and reachable through
/// `Error::source`, which yields the OS error with its `raw_os_error`.
#[derive(Debug)]
struct Context {
    message: String,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.message, self.source)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `source` with a message (which names the path), keeping its `ErrorKind`.
pub(crate) fn with_context(source: io::Error, message: impl fmt::Display) -> io::Error {
    let kind = source.kind();
    let context = Context {
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
/// published. Converting into `io::Error` keeps the error's kind (and drops the file).
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

/// The text of a [`CommitError`] without the file, for the `io::Error` conversion.
#[derive(Debug)]
struct CommitMessage {
    error: io::Error,
    failure: CommitFailure,
    target: std::path::PathBuf,
}

impl fmt::Display for CommitMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, &self.error, self.failure, &self.target)
    }
}

impl Error for CommitMessage {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CommitError> for io::Error {
    /// Keeps the kind and the message; drops the file (removing the temp file if unpublished).
    fn from(err: CommitError) -> io::Error {
        let kind = err.error.kind();
        let target = err.file.target().to_path_buf();
        let message = CommitMessage {
            error: err.error,
            failure: err.failure,
            target,
        };
        io::Error::new(kind, message)
    }
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
