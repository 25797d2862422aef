//! [`Batch`]: many files, each published atomically, with their `fsync`s overlapped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::io::Errno;

use crate::dest::{Destination, Dir, DirCache, resolve};
use crate::error::{find_os_error, os_error};
use crate::sys::Meta;
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

/// Directories open at the same time during a batch commit, at most: the files are committed
/// in groups of this many directories, each directory opened once per group and `fsync`ed
/// before the next group begins.
const DIRECTORIES_AT_ONCE: usize = 64;

/// Directories kept open between calls of [`Batch::add`] (to resolve the next file in the
/// same directory without opening it again) before they are all closed; fewer where
/// `RLIMIT_NOFILE` is low (see [`Batch::with_options`]).
const DIRECTORIES_KEPT_BY_ADD: usize = 16;

/// Descriptors one file holds at once while it is committed: its temp file, and for a new
/// file with a named temp file the probe that learns the mode a new file gets (see
/// `probe_new_file_mode`).
const DESCRIPTORS_PER_FILE: usize = 2;

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
/// The contents are held in memory until the commit. A batch holds few descriptors however
/// large it is and however many directories it spans: none between `add` and `commit` (beyond
/// a small cache of recently used directories: at most 16, and an eighth of the soft
/// `RLIMIT_NOFILE`), and during the commit at most 32 files in flight (a temp file each, and
/// for a new file with a named temp file a probe) and 64 directories; fewer when fewer
/// descriptors are free (the soft `RLIMIT_NOFILE` less those the process holds when the
/// commit starts), down to one file in one directory at a time, which needs 3.
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
    /// Directories `add` keeps open at most (see [`DIRECTORIES_KEPT_BY_ADD`]).
    dirs_kept: usize,
    entries: Vec<Entry>,
    /// (directory device, directory inode, name) of every entry: a target appears once.
    targets: HashSet<(u64, u64, OsString)>,
}

/// One file of the batch, resolved when added; its directory is reopened at commit.
struct Entry {
    target: PathBuf,
    /// The directory the file is published in, as resolved by `add`.
    dir_path: PathBuf,
    /// (device, inode) of that directory: the same directory when reopened, and one
    /// directory `fsync` per key.
    dir_key: (u64, u64),
    /// The file's name in that directory, and the two joined.
    name: OsString,
    path: PathBuf,
    /// The regular file there at `add`, if any.
    existing: Option<Meta>,
    contents: Vec<u8>,
}

impl Batch {
    /// An empty batch with default [`Options`] (fully durable).
    pub fn new() -> Self {
        Self::with_options(Options::new())
    }

    /// An empty batch whose files are all written with `options`.
    pub fn with_options(options: Options) -> Self {
        // An eighth of the soft limit: 2 at `ulimit -n 16`, which leaves the rest to the
        // application and to the commit (which closes these first).
        let eighth = soft_nofile().map_or(usize::MAX, |soft| soft / 8);
        Batch {
            dirs: DirCache::new(options.durability),
            dirs_kept: eighth.clamp(1, DIRECTORIES_KEPT_BY_ADD),
            options,
            entries: Vec::new(),
            targets: HashSet::new(),
        }
    }

    /// Adds a file to write. The target is resolved now (its directory opened, symlinks
    /// followed per the options), so a missing parent directory or a target that is a
    /// directory fails here, with the same errors as [`Options::create`]. Adding a target that
    /// is already in the batch is an `InvalidInput` error.
    ///
    /// The directory is not kept open: the commit opens it again by its path (relative paths
    /// against the working directory of the commit) and fails the files in it, publishing
    /// nothing, if that is no longer the same directory.
    pub fn add(&mut self, path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
        let path = path.as_ref();
        self.dirs.trim(self.dirs_kept.saturating_sub(1));
        let dest = match resolve(path, self.options.symlinks, &mut self.dirs) {
            // Out of descriptors: the cache gives back what it holds, and one more try.
            Err(error) if find_os_error(&error) == Some(Errno::MFILE.raw_os_error()) => {
                self.dirs.trim(0);
                resolve(path, self.options.symlinks, &mut self.dirs)?
            }
            resolved => resolved?,
        };
        let dir = dest.dir.meta()?;
        let dir_key = (dir.dev, dir.ino);
        if !self.targets.insert((dir.dev, dir.ino, dest.name.clone())) {
            let message = format!("{} is already in this batch", dest.path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        self.entries.push(Entry {
            target: path.to_path_buf(),
            dir_path: dest.dir.path.clone(),
            dir_key,
            name: dest.name,
            path: dest.path,
            existing: dest.existing,
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
            options,
            entries,
            dirs,
            ..
        } = self;
        // The directories `add` kept open would only count against the descriptor budget.
        drop(dirs);
        let total = entries.len();
        let (dirs_at_once, threads) = open_file_budget();
        let mut outcomes = Vec::with_capacity(total);
        for group in group_by_directory(entries, dirs_at_once) {
            outcomes.extend(commit_group(group, &options, threads));
        }
        outcomes.sort_unstable_by_key(|(index, _)| *index);
        let mut report = BatchError {
            committed: Vec::new(),
            failures: Vec::new(),
            total,
        };
        for (_, outcome) in outcomes {
            match outcome {
                Ok(target) => report.committed.push(target),
                Err(failure) => report.failures.push(failure),
            }
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

/// How many directories and threads a commit may use at once: [`DIRECTORIES_AT_ONCE`] and
/// [`PARALLEL_FILES`], fewer when fewer descriptors are free (see [`budget_for`]).
fn open_file_budget() -> (usize, usize) {
    budget_for(free_descriptors())
}

/// Directories and threads for `free` descriptors: a thread holds [`DESCRIPTORS_PER_FILE`],
/// threads get at most half of them, directories the rest. Never zero, so the commit goes on
/// one file at a time in one directory with 3 free descriptors: what a single write needs.
fn budget_for(free: usize) -> (usize, usize) {
    let threads = (free / (2 * DESCRIPTORS_PER_FILE)).clamp(1, PARALLEL_FILES);
    let dirs = free.saturating_sub(threads * DESCRIPTORS_PER_FILE);
    (dirs.clamp(1, DIRECTORIES_AT_ONCE), threads)
}

/// The soft `RLIMIT_NOFILE`, `None` when unlimited.
fn soft_nofile() -> Option<usize> {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    soft.map(|soft| usize::try_from(soft).unwrap_or(usize::MAX))
}

/// Descriptors this process may still open: the soft `RLIMIT_NOFILE` less those open now,
/// counted in `/proc/self/fd` (or `/dev/fd`); where neither can be listed, half the limit is
/// taken as used.
fn free_descriptors() -> usize {
    let Some(soft) = soft_nofile() else {
        return usize::MAX;
    };
    let listed = ["/proc/self/fd", "/dev/fd"]
        .iter()
        .find_map(|dir| std::fs::read_dir(dir).ok().map(Iterator::count));
    // The listing counts the descriptor it was read through, closed since.
    let held = listed.map_or(soft / 2, |count| count.saturating_sub(1));
    soft.saturating_sub(held)
}

/// The entries, with their index, in groups that span at most `dirs_at_once` directories,
/// every directory's files in one group.
fn group_by_directory(entries: Vec<Entry>, dirs_at_once: usize) -> Vec<Vec<(usize, Entry)>> {
    let mut by_dir: Vec<Vec<(usize, Entry)>> = Vec::new();
    let mut slot: HashMap<(u64, u64), usize> = HashMap::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let next = by_dir.len();
        let at = *slot.entry(entry.dir_key).or_insert(next);
        if at == next {
            by_dir.push(Vec::new());
        }
        by_dir[at].push((index, entry));
    }
    let mut groups = Vec::new();
    let mut dirs = by_dir.into_iter().peekable();
    while dirs.peek().is_some() {
        groups.push(dirs.by_ref().take(dirs_at_once).flatten().collect());
    }
    groups
}

/// Why a directory could not be used at commit.
#[derive(Clone, Copy, Debug)]
enum Reopen {
    Failed(Errno),
    /// The path now leads to another directory than at `add`.
    Moved,
}

/// Opens the directory of an entry again and checks it is the one `add` resolved.
fn reopen(path: &Path, key: (u64, u64), will_sync: bool) -> Result<Arc<Dir>, Reopen> {
    let dir = Dir::open(path, will_sync).map_err(Reopen::Failed)?;
    let meta = sys::stat_fd(dir.fd.as_fd()).map_err(Reopen::Failed)?;
    match (meta.dev, meta.ino) == key {
        true => Ok(dir),
        false => Err(Reopen::Moved),
    }
}

fn reopen_error(problem: Reopen, dir: &Path, target: &Path) -> io::Error {
    let (dir, target) = (dir.display(), target.display());
    match problem {
        Reopen::Failed(errno) => os_error(
            errno,
            format_args!("reopen directory {dir} to commit {target}"),
        ),
        Reopen::Moved => io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "directory {dir} was moved or replaced since {target} was added to the batch; \
                 nothing was published"
            ),
        ),
    }
}

/// Commits one group: opens its directories, writes and publishes its files from `threads`
/// threads, `fsync`s its directories, then closes them.
fn commit_group(
    group: Vec<(usize, Entry)>,
    options: &Options,
    threads: usize,
) -> Vec<(usize, Result<PathBuf, BatchFailure>)> {
    let will_sync = options.durability == Durability::Full;
    let mut dirs: HashMap<(u64, u64), Result<Arc<Dir>, Reopen>> = HashMap::new();
    let work: Vec<(usize, Entry, Result<Arc<Dir>, Reopen>)> = group
        .into_iter()
        .map(|(index, entry)| {
            let dir = dirs
                .entry(entry.dir_key)
                .or_insert_with(|| reopen(&entry.dir_path, entry.dir_key, will_sync))
                .clone();
            (index, entry, dir)
        })
        .collect();
    drop(dirs);
    let written = run_parallel(work, threads, |(index, entry, dir)| {
        (index, write_one(entry, dir, options))
    });
    let dir_errors = match will_sync {
        true => sync_directories(&written, threads),
        false => BTreeMap::new(),
    };
    written
        .into_iter()
        .map(|(index, file)| (index, outcome(file, &dir_errors)))
        .collect()
}

/// A file after the per-file steps (temp file, write, `fsync`, rename).
struct Written {
    target: PathBuf,
    /// The directory, reopened at commit (`None` if that failed: nothing was published).
    dir: Option<Arc<Dir>>,
    dir_key: (u64, u64),
    contents: Vec<u8>,
    /// `Err`: nothing was published for this file.
    published: io::Result<()>,
}

/// Writes one file up to and including its rename; the directory `fsync` comes later.
fn write_one(entry: Entry, dir: Result<Arc<Dir>, Reopen>, options: &Options) -> Written {
    let Entry {
        target,
        dir_path,
        dir_key,
        name,
        path,
        existing,
        contents,
    } = entry;
    let (dir, published) = match dir {
        Ok(dir) => {
            let dest = Destination {
                dir: Arc::clone(&dir),
                name,
                path,
                existing,
            };
            (Some(dir), publish_one(&target, dest, &contents, options))
        }
        Err(problem) => (None, Err(reopen_error(problem, &dir_path, &target))),
    };
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
    dest: Destination,
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
fn sync_directories(written: &[(usize, Written)], threads: usize) -> BTreeMap<(u64, u64), Errno> {
    let mut dirs: BTreeMap<(u64, u64), Arc<Dir>> = BTreeMap::new();
    for (_, file) in written.iter().filter(|(_, file)| file.published.is_ok()) {
        if let Some(dir) = &file.dir {
            dirs.entry(file.dir_key).or_insert_with(|| Arc::clone(dir));
        }
    }
    let dirs: Vec<((u64, u64), Arc<Dir>)> = dirs.into_iter().collect();
    let synced = run_parallel(dirs, threads, |(key, dir)| {
        (key, sys::sync_directory(dir.fd.as_fd()))
    });
    synced
        .into_iter()
        .filter_map(|(key, result)| result.err().map(|errno| (key, errno)))
        .collect()
}

/// What became of one file: committed (its target), or a failure for the report.
fn outcome(
    file: Written,
    dir_errors: &BTreeMap<(u64, u64), Errno>,
) -> Result<PathBuf, BatchFailure> {
    let dir_error = dir_errors.get(&file.dir_key);
    let (error, failure) = match (file.published, dir_error, &file.dir) {
        (Err(error), _, _) => (error, CommitFailure::NotPublished),
        (Ok(()), Some(&errno), Some(dir)) => {
            let message = format_args!("fsync directory {}", dir.path.display());
            (os_error(errno, message), CommitFailure::PublishedNotDurable)
        }
        (Ok(()), _, _) => return Ok(file.target),
    };
    Err(BatchFailure {
        target: file.target,
        error,
        failure,
        contents: file.contents,
    })
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
    /// The first failure's kind, the message, and the `BatchError` itself as the inner error
    /// (`downcast` it back for the per-file report).
    fn from(err: BatchError) -> io::Error {
        let kind = err
            .failures
            .first()
            .map_or(io::ErrorKind::Other, |first| first.error.kind());
        io::Error::new(kind, err)
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

    /// The OS error number (`errno`) behind the failure, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        find_os_error(&self.error)
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

    fn entry(dir: u64) -> Entry {
        Entry {
            target: PathBuf::from(format!("d{dir}/f")),
            dir_path: PathBuf::from(format!("d{dir}")),
            dir_key: (1, dir),
            name: OsString::from("f"),
            path: PathBuf::from(format!("d{dir}/f")),
            existing: None,
            contents: Vec::new(),
        }
    }

    #[test]
    fn groups_span_a_bounded_number_of_directories_each_whole() {
        let dirs = [0, 1, 0, 2, 3, 1, 4];
        let groups = group_by_directory(dirs.iter().map(|&d| entry(d)).collect(), 2);
        let keys: Vec<Vec<(usize, u64)>> = groups
            .iter()
            .map(|group| group.iter().map(|(i, e)| (*i, e.dir_key.1)).collect())
            .collect();
        assert_eq!(
            keys,
            [
                vec![(0, 0), (2, 0), (1, 1), (5, 1)],
                vec![(3, 2), (4, 3)],
                vec![(6, 4)]
            ]
        );
    }

    #[test]
    fn the_open_file_budget_is_never_zero() {
        let (dirs, threads) = open_file_budget();
        assert!((1..=DIRECTORIES_AT_ONCE).contains(&dirs));
        assert!((1..=PARALLEL_FILES).contains(&threads));
    }

    #[test]
    fn the_budget_fits_in_the_free_descriptors() {
        for free in 3..=200 {
            let (dirs, threads) = budget_for(free);
            assert!(dirs >= 1 && threads >= 1, "{free}");
            assert!(
                dirs + threads * DESCRIPTORS_PER_FILE <= free,
                "{free}: {dirs} {threads}"
            );
        }
        assert_eq!(budget_for(3), (1, 1), "what one write needs");
        assert_eq!(budget_for(10_000), (DIRECTORIES_AT_ONCE, PARALLEL_FILES));
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
