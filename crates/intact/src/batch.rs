//! [`Batch`]: many files, each published atomically, with their `fsync`s overlapped.

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::io::Errno;

use crate::dest::{Dir, DirCache, resolve};
use crate::error::os_error;
use crate::{AtomicFile, CommitFailure, Durability, Options, sys};

/// Files written and `fsync`ed at the same time during a batch commit.
///
/// An `fsync` mostly waits: for the device and, on journaling filesystems, for a journal
/// commit, which concurrent `fsync`s share (ext4's jbd2 and xfs's log put every `fsync` that
/// arrives while a commit is forming into the same commit). The threads are blocked in the
/// kernel nearly all the time, so there can be more of them than cores. On ext4 on a virtio
/// disk (2 cores), 1,000 files of 1 KiB went from about 1x the files/s of sequential
/// `intact::write` calls with one thread to 2-8x with 8 to 64 threads (a noisy shared
/// machine); 32 sits in the middle of that plateau.
const PARALLEL_FILES: usize = 32;

/// Writes many files, each replaced atomically on its own, faster than one by one.
///
/// [`commit`](Batch::commit) writes every file to its own temp file, `fsync`s them
/// concurrently from a few threads, renames each over its target, and then `fsync`s each
/// distinct directory once, instead of once per file. Each file is published with the same
/// protocol and guarantees as [`AtomicFile::commit`] at the batch's [`Options`].
///
/// **A batch is not atomic as a group.** Every target ends up with either its old or its
/// complete new content, but after a crash (or a failed commit) some targets may have the new
/// content and others the old. [`BatchError`] says exactly which files were committed.
///
/// The contents are held in memory until the commit; at most a few temp files are open at a
/// time, however large the batch.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-batch-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let mut batch = intact::Batch::new();
/// for i in 0..100 {
///     batch.add(dir.join(format!("part-{i:03}.txt")), format!("part {i}\n"))?;
/// }
/// batch.commit()?;
/// assert_eq!(std::fs::read_to_string(dir.join("part-042.txt"))?, "part 42\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Batch {
    options: Options,
    dirs: DirCache,
    entries: Vec<Entry>,
    /// (directory device, directory inode, name) of every entry: a target appears once.
    targets: HashSet<(u64, u64, OsString)>,
}

/// One file of the batch, resolved when added.
struct Entry {
    target: PathBuf,
    dest: crate::dest::Destination,
    /// (device, inode) of the destination's directory: one directory `fsync` per key.
    dir_key: (u64, u64),
    contents: Vec<u8>,
}

impl Batch {
    /// An empty batch with default [`Options`] (fully durable).
    pub fn new() -> Self {
        Self::with_options(Options::new())
    }

    /// An empty batch whose files are all written with `options`.
    pub fn with_options(options: Options) -> Self {
        Batch {
            dirs: DirCache::new(options.durability),
            options,
            entries: Vec::new(),
            targets: HashSet::new(),
        }
    }

    /// Adds a file to write. The target is resolved now (its directory opened, symlinks
    /// followed per the options), so a missing parent directory or a target that is a
    /// directory fails here, with the same errors as [`Options::create`]. Adding a target that
    /// is already in the batch is an `InvalidInput` error.
    pub fn add(&mut self, path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
        let path = path.as_ref();
        let dest = resolve(path, self.options.symlinks, &mut self.dirs)?;
        let dir = dest.dir.meta()?;
        let dir_key = (dir.dev, dir.ino);
        if !self.targets.insert((dir.dev, dir.ino, dest.name.clone())) {
            let message = format!("{} is already in this batch", dest.path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        self.entries.push(Entry {
            target: path.to_path_buf(),
            dest,
            dir_key,
            contents: contents.into(),
        });
        Ok(())
    }

    /// The number of files added.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no file was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Publishes every file; see the type's docs for the steps.
    ///
    /// A failing file does not stop the others. On failure, [`BatchError`] lists the files
    /// committed and, for each failed file, the error, whether its content was published
    /// (directory `fsync` failed) or not (target unchanged), and its contents for a retry.
    /// No temp file is left behind either way.
    pub fn commit(self) -> Result<(), BatchError> {
        let Batch {
            options, entries, ..
        } = self;
        let total = entries.len();
        let written = run_parallel(entries, PARALLEL_FILES, |entry| write_one(entry, &options));
        let dir_errors = match options.durability {
            Durability::Full => sync_directories(&written),
            Durability::None | Durability::Data => BTreeMap::new(),
        };
        let mut report = BatchError {
            committed: Vec::new(),
            failures: Vec::new(),
            total,
        };
        for file in written {
            report.record(file, &dir_errors);
        }
        match report.failures.is_empty() {
            true => Ok(()),
            false => Err(report),
        }
    }
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<&Path> = self.entries.iter().map(|e| e.target.as_path()).collect();
        f.debug_struct("Batch")
            .field("options", &self.options)
            .field("targets", &targets)
            .finish_non_exhaustive()
    }
}

/// A file after the per-file steps (temp file, write, `fsync`, rename).
struct Written {
    target: PathBuf,
    dir: Arc<Dir>,
    dir_key: (u64, u64),
    contents: Vec<u8>,
    /// `Err`: nothing was published for this file.
    published: io::Result<()>,
}

/// Writes one file up to and including its rename; the directory `fsync` comes later.
fn write_one(entry: Entry, options: &Options) -> Written {
    let Entry {
        target,
        dest,
        dir_key,
        contents,
    } = entry;
    let dir = Arc::clone(&dest.dir);
    let published = publish_one(&target, dest, &contents, options);
    Written {
        target,
        dir,
        dir_key,
        contents,
        published,
    }
}

fn publish_one(
    target: &Path,
    dest: crate::dest::Destination,
    contents: &[u8],
    options: &Options,
) -> io::Result<()> {
    // On any error the AtomicFile is dropped here, which removes its temp file.
    let mut file = AtomicFile::create_in(target.to_path_buf(), dest, options)?;
    file.write_all(contents)?;
    file.finish(false).map_err(|(error, _not_published)| error)
}

/// `fsync`s each distinct directory holding a published file, once, concurrently; returns
/// the failures by (device, inode).
fn sync_directories(written: &[Written]) -> BTreeMap<(u64, u64), Errno> {
    let mut dirs: BTreeMap<(u64, u64), Arc<Dir>> = BTreeMap::new();
    for file in written.iter().filter(|file| file.published.is_ok()) {
        dirs.entry(file.dir_key)
            .or_insert_with(|| Arc::clone(&file.dir));
    }
    let dirs: Vec<((u64, u64), Arc<Dir>)> = dirs.into_iter().collect();
    let synced = run_parallel(dirs, PARALLEL_FILES, |(key, dir)| {
        (key, sys::sync_directory(dir.fd.as_fd()))
    });
    synced
        .into_iter()
        .filter_map(|(key, result)| result.err().map(|errno| (key, errno)))
        .collect()
}

/// Runs `work` on every item from up to `threads` threads (this one included), keeping order.
fn run_parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let total = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let drain = || drain_queue(&queue, &work);
    let mut done = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(total))
            // A thread that cannot be spawned leaves its share to the others.
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, drain).ok())
            .collect();
        let mut done = drain();
        for helper in helpers {
            match helper.join() {
                Ok(theirs) => done.extend(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// Takes items off the shared queue until it is empty; returns the results with their index.
fn drain_queue<T, R>(
    queue: &Mutex<impl Iterator<Item = (usize, T)>>,
    work: &impl Fn(T) -> R,
) -> Vec<(usize, R)> {
    let mut done = Vec::new();
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some((index, item)) = next else {
            break done;
        };
        done.push((index, work(item)));
    }
}

/// A batch commit in which some files were not committed.
///
/// The files whose new content is in place are [`committed`](Self::committed) plus the
/// failures whose [`is_published`](BatchFailure::is_published) is true; every other target
/// is unchanged. Converts into an `io::Error` with the first failure's kind.
pub struct BatchError {
    committed: Vec<PathBuf>,
    failures: Vec<BatchFailure>,
    total: usize,
}

impl BatchError {
    fn record(&mut self, file: Written, dir_errors: &BTreeMap<(u64, u64), Errno>) {
        let dir_error = dir_errors.get(&file.dir_key);
        let (error, failure) = match (file.published, dir_error) {
            (Err(error), _) => (error, CommitFailure::NotPublished),
            (Ok(()), Some(&errno)) => {
                let message = format_args!("fsync directory {}", file.dir.path.display());
                (os_error(errno, message), CommitFailure::PublishedNotDurable)
            }
            (Ok(()), None) => return self.committed.push(file.target),
        };
        self.failures.push(BatchFailure {
            target: file.target,
            error,
            failure,
            contents: file.contents,
        });
    }

    /// The files fully committed (published, and durable per the batch's options).
    pub fn committed(&self) -> &[PathBuf] {
        &self.committed
    }

    /// The files not committed, in the order they were added.
    pub fn failures(&self) -> &[BatchFailure] {
        &self.failures
    }

    /// The failures, with their contents, for a retry.
    pub fn into_failures(self) -> Vec<BatchFailure> {
        self.failures
    }
}

impl fmt::Debug for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchError")
            .field("committed", &self.committed)
            .field("failures", &self.failures)
            .finish()
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures.len();
        write!(
            f,
            "{failed} of {} files in the batch were not committed",
            self.total
        )?;
        match self.failures.first() {
            Some(first) => write!(f, "; first: {first}"),
            None => Ok(()),
        }
    }
}

impl Error for BatchError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failures
            .first()
            .map(|first| &first.error as &(dyn Error + 'static))
    }
}

impl From<BatchError> for io::Error {
    fn from(err: BatchError) -> io::Error {
        let kind = err
            .failures
            .first()
            .map_or(io::ErrorKind::Other, |first| first.error.kind());
        io::Error::new(kind, err.to_string())
    }
}

/// One file of a batch that was not committed.
pub struct BatchFailure {
    target: PathBuf,
    error: io::Error,
    failure: CommitFailure,
    contents: Vec<u8>,
}

impl BatchFailure {
    /// The target path, as given to [`Batch::add`].
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// What went wrong; the message names the path.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// Whether the target is unchanged or has the new content without known durability.
    pub fn failure(&self) -> CommitFailure {
        self.failure
    }

    /// True when the new content is in place (only the directory `fsync` failed).
    pub fn is_published(&self) -> bool {
        self.failure.is_published()
    }

    /// The contents that were to be written, for a retry.
    pub fn into_contents(self) -> Vec<u8> {
        self.contents
    }
}

impl fmt::Debug for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchFailure")
            .field("target", &self.target)
            .field("error", &self.error)
            .field("failure", &self.failure)
            .field("contents_bytes", &self.contents.len())
            .finish()
    }
}

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failure {
            CommitFailure::NotPublished => write!(f, "{} (nothing was published)", self.error),
            CommitFailure::PublishedNotDurable => write!(
                f,
                "{} (the new content of {} is in place, but may not survive a power cut)",
                self.error,
                self.target.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_parallel_keeps_the_order_and_runs_everything_once() {
        let items: Vec<u32> = (0..1000).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let results = run_parallel(items, 8, |n| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            n * 2
        });
        assert_eq!(results, (0..1000).map(|n| n * 2).collect::<Vec<u32>>());
        assert_eq!(calls.into_inner(), 1000);
    }

    #[test]
    fn run_parallel_handles_fewer_items_than_threads() {
        assert_eq!(run_parallel(vec![1, 2], 32, |n| n + 1), [2, 3]);
        assert_eq!(run_parallel(Vec::<u8>::new(), 32, |n| n), Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "worker panic")]
    fn run_parallel_propagates_a_panic() {
        run_parallel((0..64).collect(), 4, |n: u32| {
            if n == 63 {
                panic!("worker panic");
            }
            n
        });
    }
}
