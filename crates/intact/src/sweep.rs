//! [`sweep`]: removes the temp files of dead writers, never a live writer's.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Dir, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::error::os_error;
use crate::name::parse_temp_name;
use crate::sys::{self, Meta};

/// What [`sweep`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    dry_run: bool,
    removed: Vec<PathBuf>,
    live: Vec<PathBuf>,
    skipped: Vec<PathBuf>,
    removed_bytes: u64,
}

impl Sweep {
    /// Temp files of dead writers, now removed; after [`sweep_dry_run`], the ones that would
    /// have been removed (and still exist).
    pub fn removed(&self) -> &[PathBuf] {
        &self.removed
    }

    /// True for the report of [`sweep_dry_run`], which removed nothing.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Temp files whose writer is alive (their lock is held); left alone.
    pub fn live(&self) -> &[PathBuf] {
        &self.live
    }

    /// Names of the temp file shape that are not this crate's to remove: not regular files,
    /// or files this process may not open to test the lock. Left alone.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Total size of the removed files (or, after a dry run, of those to remove), in bytes.
    pub fn removed_bytes(&self) -> u64 {
        self.removed_bytes
    }
}

/// Removes the temp files left in `dir` by writers that died (crash, SIGKILL, power cut) and
/// reports what it removed.
///
/// Only regular files named exactly `.{name}.{16 hex digits}.intact-tmp` are candidates, and
/// one is removed only while `sweep` holds its `flock`: every writer holds that lock for the
/// temp file's whole life and the kernel drops it when the writer dies, so a lock that can be
/// taken means a dead writer. No age or pid guess is involved. Safe to run while writers are
/// active and from several processes at once.
///
/// A writer creates its temp file and locks it in two steps. A sweep that comes in between
/// may take the lock and remove the name of that new, still empty file; the writer finds the
/// name gone once it holds the lock and retries with a fresh name, so it never notices. After
/// that, the lock is held until the temp file is renamed or removed, and no sweep touches it.
///
/// A writer that forked a child which still holds the descriptor counts as live (the lock is
/// shared with the child) until that child exits too.
///
/// **Any** unlocked regular file with a name of that exact shape is removed, whoever made
/// it: a file a user (or another program) named like `.{name}.{16 hex digits}.intact-tmp` is
/// taken for a dead writer's. [`sweep_dry_run`] lists what would go without removing it.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-sweep-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let live = intact::Options::new().temp(intact::Temp::Named).create(dir.join("a"))?;
/// let report = intact::sweep(&dir)?;
/// assert!(report.removed().is_empty());
/// assert_eq!(report.live().len(), 1, "the open AtomicFile holds its lock");
/// drop(live);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn sweep(dir: impl AsRef<Path>) -> io::Result<Sweep> {
    sweep_in(dir.as_ref(), false)
}

/// What [`sweep`] would remove from `dir` now, without removing anything: the same checks,
/// including taking and releasing each candidate's lock. The report's
/// [`removed`](Sweep::removed) lists the files a sweep would remove.
///
/// Taking a lock even briefly has one visible effect: a writer that created its temp file
/// but had not locked it yet finds the lock taken, leaves that (empty) file and picks another
/// name; the next real [`sweep`] removes the empty one.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-dry-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let left = dir.join(".out.0123456789abcdef.intact-tmp");
/// std::fs::write(&left, b"from a crashed writer")?;
/// let plan = intact::sweep_dry_run(&dir)?;
/// assert_eq!(plan.removed(), [left.clone()]);
/// assert!(left.exists(), "a dry run removes nothing");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn sweep_dry_run(dir: impl AsRef<Path>) -> io::Result<Sweep> {
    sweep_in(dir.as_ref(), true)
}

fn sweep_in(dir: &Path, dry_run: bool) -> io::Result<Sweep> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let opened = sys::retry(|| rustix::fs::openat(CWD, dir, flags, Mode::empty()));
    let dir_fd = opened.map_err(|errno| {
        os_error(
            errno,
            format_args!("open directory {} to sweep", dir.display()),
        )
    })?;
    let read_error = |errno| os_error(errno, format_args!("read directory {}", dir.display()));
    let mut entries = Dir::read_from(&dir_fd).map_err(read_error)?;
    let mut report = Sweep {
        dry_run,
        ..Sweep::default()
    };
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(read_error)?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if parse_temp_name(name).is_none() {
            continue;
        }
        let path = dir.join(name);
        let verdict =
            sweep_one(&dir_fd, name, dry_run).map_err(|errno| sweep_error(errno, &path))?;
        report.record(path, verdict);
    }
    Ok(report)
}

impl Sweep {
    fn record(&mut self, path: PathBuf, verdict: Verdict) {
        match verdict {
            Verdict::Removed(bytes) => {
                self.removed.push(path);
                self.removed_bytes += bytes;
            }
            Verdict::Live => self.live.push(path),
            Verdict::Skipped => self.skipped.push(path),
            Verdict::Gone => {}
        }
    }
}

/// What happened to one candidate.
enum Verdict {
    /// Removed; its size in bytes.
    Removed(u64),
    /// Its lock is held: a writer is alive.
    Live,
    /// Not ours to judge (not a regular file, or not openable).
    Skipped,
    /// Vanished meanwhile (its writer committed or discarded it, or another sweeper got it).
    Gone,
}

/// Judges one candidate and removes it if its writer is dead.
///
/// 1. `fstatat(NOFOLLOW)`: only regular files; opening anything else could block (FIFO) or
///    have side effects (devices).
/// 2. `openat(O_NOFOLLOW | O_NONBLOCK)` and `fstat`: the same regular file as in step 1.
/// 3. `flock(LOCK_EX | LOCK_NB)`: fails while the writer is alive.
/// 4. `fstatat` again: the name still refers to the locked file (it could have been swept
///    and the name reused by a new writer, which takes its lock only after creating it).
/// 5. `unlinkat` while holding the lock (not in a dry run); the descriptor (and lock) closes
///    after.
fn sweep_one(dir: &OwnedFd, name: &OsStr, dry_run: bool) -> Result<Verdict, Errno> {
    let (fd, opened) = match open_candidate(dir, name)? {
        Candidate::Open(fd, meta) => (fd, meta),
        Candidate::Decided(verdict) => return Ok(verdict),
    };
    match sys::retry(|| rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive)) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => return Ok(Verdict::Live),
        // Without a working lock nothing proves the writer dead: leave the file alone.
        Err(_) => return Ok(Verdict::Skipped),
    }
    match stat_name(dir, name)? {
        Some(now) if now.same_inode(&opened) => {}
        Some(_) | None => return Ok(Verdict::Gone),
    }
    if dry_run {
        return Ok(Verdict::Removed(opened.size_bytes));
    }
    match sys::retry(|| rustix::fs::unlinkat(dir, name, AtFlags::empty())) {
        Ok(()) => Ok(Verdict::Removed(opened.size_bytes)),
        Err(Errno::NOENT) => Ok(Verdict::Gone),
        Err(errno) => Err(errno),
    }
}

/// A candidate opened for its lock test, or already judged.
enum Candidate {
    Open(OwnedFd, Meta),
    Decided(Verdict),
}

/// Steps 1 and 2 of [`sweep_one`]: a regular file, opened without following links or blocking.
fn open_candidate(dir: &OwnedFd, name: &OsStr) -> Result<Candidate, Errno> {
    let Some(before) = stat_name(dir, name)? else {
        return Ok(Candidate::Decided(Verdict::Gone));
    };
    if before.file_type() != FileType::RegularFile {
        return Ok(Candidate::Decided(Verdict::Skipped));
    }
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match sys::retry(|| rustix::fs::openat(dir, name, flags, Mode::empty())) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Candidate::Decided(Verdict::Gone)),
        Err(Errno::ACCESS | Errno::PERM | Errno::LOOP) => {
            return Ok(Candidate::Decided(Verdict::Skipped));
        }
        Err(errno) => return Err(errno),
    };
    let opened = sys::stat_fd(fd.as_fd())?;
    match opened.same_inode(&before) {
        true => Ok(Candidate::Open(fd, opened)),
        false => Ok(Candidate::Decided(Verdict::Gone)),
    }
}

fn stat_name(dir: &OwnedFd, name: &OsStr) -> Result<Option<Meta>, Errno> {
    match sys::stat_at(dir.as_fd(), name) {
        Ok(meta) => Ok(Some(meta)),
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(errno),
    }
}

fn sweep_error(errno: Errno, path: &Path) -> io::Error {
    os_error(errno, format_args!("sweep {}", path.display()))
}
