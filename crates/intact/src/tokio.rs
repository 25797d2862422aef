//! An async front for tokio (feature `tokio`): the same calls, run off the runtime's worker
//! threads.
//!
//! Every function here runs the blocking protocol (the `fsync`s, which take milliseconds on
//! a disk) on tokio's blocking thread pool through [`tokio::task::spawn_blocking`], so a worker
//! thread never waits for the disk. The guarantees are those of the blocking calls. Dropping
//! the future does **not** stop a write that has started: it runs to the end (publishing, or
//! not, as the blocking call would) and its result is discarded. Commits into one directory
//! from many tasks share directory `fsync`s (group commit, see the crate docs) as from many
//! threads. Needs a tokio runtime; panics outside one, as `spawn_blocking` does.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("intact-doc-tokio-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("state.txt");
//! intact::tokio::write(path.clone(), "step 3\n").await?;
//! let options = intact::Options::new().durability(intact::Durability::Data);
//! intact::tokio::write_with_options(options, path.clone(), "step 4\n").await?;
//! assert_eq!(std::fs::read_to_string(&path)?, "step 4\n");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::path::PathBuf;

use crate::{AtomicFile, CommitError, Options};

/// Runs `work` (any blocking call of this crate, a [`Batch`](crate::Batch) commit or a
/// [`write_with`](Options::write_with) for example) on the blocking thread pool.
///
/// A panic in `work` is resumed in the awaiting task.
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    match ::tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => match join.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            // Only when the runtime shuts down under the task: nothing else cancels it.
            Err(join) => panic!("intact: blocking write cancelled by its runtime: {join}"),
        },
    }
}

/// [`crate::write`], off the runtime's worker threads.
pub async fn write(
    path: impl Into<PathBuf>,
    contents: impl AsRef<[u8]> + Send + 'static,
) -> io::Result<()> {
    write_with_options(Options::new(), path, contents).await
}

/// [`Options::write`], off the runtime's worker threads.
pub async fn write_with_options(
    options: Options,
    path: impl Into<PathBuf>,
    contents: impl AsRef<[u8]> + Send + 'static,
) -> io::Result<()> {
    let path = path.into();
    blocking(move || options.write(path, contents)).await
}

/// [`crate::write_json`], off the runtime's worker threads. The value is serialised on the
/// calling task (into memory: it is borrowed, so it cannot go to another thread), then written.
#[cfg(feature = "json")]
pub async fn write_json<T>(path: impl Into<PathBuf>, value: &T) -> io::Result<()>
where
    T: serde::Serialize + ?Sized,
{
    let path = path.into();
    let json = serde_json::to_vec(value).map_err(|error| {
        let message = format!("serialize JSON for {}: {error}", path.display());
        io::Error::new(io::ErrorKind::InvalidData, message)
    })?;
    write(path, json).await
}

/// [`AtomicFile::commit`], off the runtime's worker threads (create and write the file with
/// the blocking API, which does not wait for the disk, then commit here).
pub async fn commit(file: AtomicFile) -> Result<(), CommitError> {
    blocking(move || file.commit()).await
}

/// [`crate::symlink`], off the runtime's worker threads.
pub async fn symlink(target: impl Into<PathBuf>, link: impl Into<PathBuf>) -> io::Result<()> {
    let (target, link) = (target.into(), link.into());
    blocking(move || crate::symlink(target, link)).await
}
