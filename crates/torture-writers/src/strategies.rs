//! The one catalogue of write strategies, shared by `torture` and the benchmarks: reference
//! patterns (plainly broken to correct), `intact` at each durability level and temp-file kind,
//! and the peer crates at their defaults.
//!
//! Each [`Strategy`] knows its stable name, what it does, whose code it is ([`Origin`]) and what
//! it must show under each crash kind ([`Expect`]). A canary ([`Expect::Caught`]) is a strategy
//! known to be broken: if the harness does not catch it, the harness itself has failed.
//! [`Strategy::write`] is the write alone (what the benchmarks time); [`Strategy::run_step`] is
//! one run of a pipeline step (what `torture-writer` runs).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use intact::{Durability, Temp};

/// Size of each `write` call of the in-place strategies: several calls, like a buffered writer.
pub const PLAIN_CHUNK_BYTES: usize = 4096;

/// Threads (and files, one each) of the group strategies.
pub const GROUP_WRITERS: usize = 16;

/// A write strategy: one way to replace a whole file, from plainly broken to correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Truncate the target and write it in place, 4 KiB per `write`.
    Plain,
    /// `plain`, then `fsync` of the target.
    PlainFsync,
    /// A randomly named temp file, renamed over the target; no `fsync`.
    Rename,
    /// `rename` with `fsync` of the temp file, not of the directory.
    RenameFsync,
    /// One fixed temp name (`<target>.tmp`), truncated, written and renamed over the target.
    FixedTemp,
    /// `intact::write`: `Durability::Full`, `Temp::Auto`.
    Intact,
    /// `intact` at `Durability::None`: temp file and rename, no `fsync`.
    IntactNone,
    /// `intact` at `Durability::Data`: `fsync` of the file, not of the directory.
    IntactData,
    /// `intact` at `Durability::Full` with a named temp file (`Temp::Named`).
    IntactNamed,
    /// `intact` at `Durability::Full` with an `O_TMPFILE` temp file (`Temp::Anonymous`).
    IntactAnonymous,
    /// The peer `tempfile`: `NamedTempFile::new_in(dir)` + `write_all` + `persist`, no `fsync`.
    TempfilePersist,
    /// The peer `atomicwrites`: `AtomicFile` with `AllowOverwrite` (fsync file, rename, fsync dir).
    Atomicwrites,
    /// The peer `atomic-write-file`: `AtomicWriteFile::open` + `write_all` + `commit`.
    AtomicWriteFile,
    /// `intact::write` from [`GROUP_WRITERS`] threads at once, one file each in the target's
    /// directory: the target (the file the oracle judges) and its siblings `NN-<name>`. Their
    /// commits share directory `fsync`s (intact's group commit).
    IntactGroup,
    /// `intact-group` at `Durability::Data`: every thread `fsync`s its file and renames, and
    /// none `fsync`s the directory (the shared directory `fsync` skipped). The canary of
    /// `intact-group`: a power cut after it returned may lose the renames.
    IntactGroupData,
    /// `intact` with `Overwrite::NoClobber`: publishes only when the target does not exist yet
    /// (`renameat2(RENAME_NOREPLACE)`), else fails with "exists" and leaves nothing. Not in
    /// [`Strategy::ALL`]: see [`Strategy::replaces`].
    IntactNoClobber,
}

/// What a strategy must show under one crash kind: the oracle's one enum for the concept.
pub use torture_core::oracle::{CrashKind, Expect};

/// Who wrote a strategy's code: this project or a peer crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A writer of this project: a reference pattern or `intact`.
    BuiltIn,
    /// A peer crate at its default settings.
    Peer,
}

impl Strategy {
    /// Every strategy that replaces the target (what the kill, power and errors campaigns run,
    /// over an old version): the in-place canaries first, then temp-and-rename patterns, intact, peers.
    pub const ALL: [Strategy; 13] = [
        Strategy::Plain,
        Strategy::PlainFsync,
        Strategy::Rename,
        Strategy::RenameFsync,
        Strategy::FixedTemp,
        Strategy::Intact,
        Strategy::IntactNone,
        Strategy::IntactData,
        Strategy::IntactNamed,
        Strategy::IntactAnonymous,
        Strategy::TempfilePersist,
        Strategy::Atomicwrites,
        Strategy::AtomicWriteFile,
    ];

    /// The concurrent writers (many threads): run only when named (`--subject`), and judged only
    /// by `torture power`. The kill and errors campaigns count kill points and faults along one
    /// thread's calls, which threads running at once do not repeat from run to run.
    pub const CONCURRENT: [Strategy; 2] = [Strategy::IntactGroup, Strategy::IntactGroupData];

    /// [`Strategy::ALL`] and the no-clobber writer: every strategy `torture-writer` and
    /// `torture race` run.
    pub const EVERY: [Strategy; 14] = [
        Strategy::Plain,
        Strategy::PlainFsync,
        Strategy::Rename,
        Strategy::RenameFsync,
        Strategy::FixedTemp,
        Strategy::Intact,
        Strategy::IntactNone,
        Strategy::IntactData,
        Strategy::IntactNamed,
        Strategy::IntactAnonymous,
        Strategy::TempfilePersist,
        Strategy::Atomicwrites,
        Strategy::AtomicWriteFile,
        Strategy::IntactNoClobber,
    ];

    /// The stable name on the command line, in reports and charts.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::Plain => "plain",
            Strategy::PlainFsync => "plain-fsync",
            Strategy::Rename => "rename",
            Strategy::RenameFsync => "rename-fsync",
            Strategy::FixedTemp => "fixed-temp",
            Strategy::Intact => "intact",
            Strategy::IntactNone => "intact-none",
            Strategy::IntactData => "intact-data",
            Strategy::IntactNamed => "intact-named",
            Strategy::IntactAnonymous => "intact-anonymous",
            Strategy::TempfilePersist => "tempfile-persist",
            Strategy::Atomicwrites => "atomicwrites",
            Strategy::AtomicWriteFile => "atomic-write-file",
            Strategy::IntactNoClobber => "intact-noclobber",
            Strategy::IntactGroup => "intact-group",
            Strategy::IntactGroupData => "intact-group-data",
        }
    }

    /// One line saying what the strategy does.
    pub const fn description(self) -> &'static str {
        match self {
            Strategy::Plain => "truncate the target and write it in place, 4 KiB per write call",
            Strategy::PlainFsync => "like plain, then fsync the target",
            Strategy::Rename => {
                "write a randomly named temp file, rename it over the target (no fsync)"
            }
            Strategy::RenameFsync => {
                "like rename, with fsync of the temp file (not of the directory)"
            }
            Strategy::FixedTemp => {
                "truncate and write `<target>.tmp` (one fixed name), rename it over the target"
            }
            Strategy::Intact => "intact::write (Durability::Full, Temp::Auto)",
            Strategy::IntactNone => "intact, Durability::None (temp + rename, no fsync)",
            Strategy::IntactData => "intact, Durability::Data (fsync the file, not the directory)",
            Strategy::IntactNamed => "intact, Durability::Full, Temp::Named",
            Strategy::IntactAnonymous => {
                "intact, Durability::Full, Temp::Anonymous (O_TMPFILE + linkat)"
            }
            Strategy::TempfilePersist => "tempfile NamedTempFile::new_in + persist (no fsync)",
            Strategy::Atomicwrites => "atomicwrites AtomicFile, AllowOverwrite",
            Strategy::AtomicWriteFile => "atomic-write-file AtomicWriteFile::open + commit",
            Strategy::IntactNoClobber => {
                "intact, Overwrite::NoClobber: publish only if the target is absent, else fail"
            }
            Strategy::IntactGroup => {
                "intact::write from 16 threads, 16 files in one directory, the target judged (torture power only)"
            }
            Strategy::IntactGroupData => {
                "intact-group at Durability::Data: the shared directory fsync skipped (torture power only)"
            }
        }
    }

    /// Whether the code is this project's or a peer crate's.
    pub const fn origin(self) -> Origin {
        match self {
            Strategy::TempfilePersist | Strategy::Atomicwrites | Strategy::AtomicWriteFile => {
                Origin::Peer
            }
            Strategy::Plain
            | Strategy::PlainFsync
            | Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::Intact
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::IntactGroup
            | Strategy::IntactGroupData
            | Strategy::IntactNoClobber => Origin::BuiltIn,
        }
    }

    /// The expected verdict under SIGKILL (`torture kill`): only in-place writers tear.
    pub const fn expect_kill(self) -> Expect {
        match self {
            Strategy::Plain | Strategy::PlainFsync => Expect::Caught,
            Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::Intact
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::TempfilePersist
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile
            | Strategy::IntactGroup
            | Strategy::IntactGroupData
            | Strategy::IntactNoClobber => Expect::Pass,
        }
    }

    /// The expected verdict when several instances run at once on one target (`torture race`).
    /// The in-place writers are caught (a read between their writes sees a torn target), and so
    /// is `fixed-temp`: every run truncates and renames the same `<target>.tmp`, so one run
    /// publishes a file another is still writing (the race canary). Every writer with a unique
    /// temp name passes (measured: the peers' temp names are random too); `intact-noclobber`
    /// passes with exactly one winner, the others failing with "exists".
    pub const fn expect_race(self) -> Expect {
        match self {
            Strategy::Plain | Strategy::PlainFsync | Strategy::FixedTemp => Expect::Caught,
            Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::Intact
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::TempfilePersist
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile
            | Strategy::IntactGroup
            | Strategy::IntactGroupData
            | Strategy::IntactNoClobber => Expect::Pass,
        }
    }

    /// Whether the strategy replaces an existing target. Only `intact-noclobber` does not: over
    /// an old version its run fails with "exists" by design, so the kill, power and errors
    /// campaigns (whose golden run replaces an old version) leave it out; `torture race` judges
    /// it under its no-clobber rules.
    pub const fn replaces(self) -> bool {
        !matches!(self, Strategy::IntactNoClobber)
    }

    /// The expected verdict under one crash kind.
    pub const fn expect(self, kind: CrashKind) -> Expect {
        match kind {
            CrashKind::Kill => self.expect_kill(),
            CrashKind::Power => self.expect_power(),
            CrashKind::Errors => self.expect_errors(),
            CrashKind::Race => self.expect_race(),
        }
    }

    /// The expected verdict after a power cut (`torture power`, `linux` model): only writers that
    /// fsync the file, rename, then fsync the directory pass; `rename-fsync` and `intact-data`
    /// lose the rename (no directory fsync after the acknowledgement).
    pub const fn expect_power(self) -> Expect {
        match self {
            Strategy::Intact
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile
            | Strategy::IntactGroup => Expect::Pass,
            Strategy::Plain
            | Strategy::PlainFsync
            | Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactGroupData
            | Strategy::TempfilePersist => Expect::Caught,
            // Never run by `torture power` (it does not replace: see `replaces`); over an
            // absent target it is `intact`, and as durable.
            Strategy::IntactNoClobber => Expect::Pass,
        }
    }

    /// The expected verdict under injected I/O errors (`torture errors`: one failed call per
    /// run, EIO, ENOSPC, EDQUOT, EINTR, short writes, fsyncgate), as measured over every
    /// injection at 4 KiB and 64 KiB. `plain` and `plain-fsync` write the target in place: a
    /// failed `write` leaves it torn, and `plain-fsync` exits 1 on a failed `fsync` with the new
    /// bytes already in the target. Every other strategy handles each fault: Rust's `write_all`
    /// finishes short writes and restarts on EINTR, a failed write, fsync, rename or link ends
    /// the run before the publish (old version kept), and the only errors they ignore are those
    /// of `close` (dropping a `File`), harmless on Linux. `rename`, `rename-fsync`, `fixed-temp`,
    /// `intact-none`, `intact-data` and `tempfile-persist` pass because their golden runs are
    /// already not durable: whether a power cut then loses the new version is `torture power`'s
    /// finding, not an I/O-error one. The `intact` levels never retry a failed fsync into a
    /// publish. `atomicwrites` passes, but an EIO when it opens its temp directory for removal
    /// after the rename leaves `.atomicwriteXXXX/` behind for good (a violation under `--strict`).
    pub const fn expect_errors(self) -> Expect {
        match self {
            Strategy::Plain | Strategy::PlainFsync => Expect::Caught,
            Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::Intact
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::TempfilePersist
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile
            | Strategy::IntactGroup
            | Strategy::IntactGroupData => Expect::Pass,
            // Never run by `torture errors` (it does not replace: see `replaces`).
            Strategy::IntactNoClobber => Expect::Pass,
        }
    }

    /// The documented promise after a power cut: the new content survives once the write
    /// returned. Only writers that `fsync` the file and then the directory make it.
    pub const fn durable(self) -> bool {
        match self {
            Strategy::Intact
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile
            | Strategy::IntactGroup
            | Strategy::IntactNoClobber => true,
            Strategy::Plain
            | Strategy::PlainFsync
            | Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::IntactGroupData
            | Strategy::TempfilePersist => false,
        }
    }

    /// Whether a process crash leaves the old or the new file, never a torn one.
    pub const fn atomic(self) -> bool {
        matches!(self.expect_kill(), Expect::Pass)
    }

    /// Whether the strategy writes through `intact`, whose documented start-up step is `sweep`.
    pub const fn uses_intact(self) -> bool {
        matches!(
            self,
            Strategy::Intact
                | Strategy::IntactNone
                | Strategy::IntactData
                | Strategy::IntactNamed
                | Strategy::IntactAnonymous
                | Strategy::IntactGroup
                | Strategy::IntactGroupData
                | Strategy::IntactNoClobber
        )
    }

    /// Replaces `target` with `contents` the way this strategy does: the write alone, as the
    /// benchmarks time it.
    pub fn write(self, target: &Path, contents: &[u8]) -> io::Result<()> {
        match self {
            Strategy::Plain => write_in_place(target, contents, false),
            Strategy::PlainFsync => write_in_place(target, contents, true),
            Strategy::Rename => {
                write_and_rename(&random_temp_name(target)?, target, contents, false)
            }
            Strategy::RenameFsync => {
                write_and_rename(&random_temp_name(target)?, target, contents, true)
            }
            Strategy::FixedTemp => {
                write_and_rename(&fixed_temp_name(target), target, contents, false)
            }
            Strategy::Intact => intact::write(target, contents),
            Strategy::IntactNone => write_intact(target, contents, Durability::None, Temp::Auto),
            Strategy::IntactData => write_intact(target, contents, Durability::Data, Temp::Auto),
            Strategy::IntactNamed => write_intact(target, contents, Durability::Full, Temp::Named),
            Strategy::IntactAnonymous => {
                write_intact(target, contents, Durability::Full, Temp::Anonymous)
            }
            Strategy::TempfilePersist => write_tempfile(target, contents),
            Strategy::Atomicwrites => write_atomicwrites(target, contents),
            Strategy::AtomicWriteFile => write_atomic_write_file(target, contents),
            Strategy::IntactNoClobber => intact::Options::new()
                .overwrite(intact::Overwrite::NoClobber)
                .write(target, contents),
            Strategy::IntactGroup => write_group(target, contents, Durability::Full),
            Strategy::IntactGroupData => write_group(target, contents, Durability::Data),
        }
    }

    /// One run of a pipeline step that uses this strategy, as `torture` runs it: the start-up
    /// step the strategy documents (`intact::sweep` of the directory for intact, which removes
    /// temp files of crashed runs), then [`Strategy::write`].
    pub fn run_step(self, target: &Path, contents: &[u8]) -> io::Result<()> {
        if self.uses_intact() {
            sweep_parent(target)?;
        }
        self.write(target, contents)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let every = Strategy::EVERY.iter().chain(&Strategy::CONCURRENT);
        let names: Vec<&str> = every.map(|s| s.name()).collect();
        write!(
            f,
            "unknown strategy `{}` (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Strategy::EVERY
            .into_iter()
            .chain(Strategy::CONCURRENT)
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

fn write_in_place(target: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
    let mut file = File::create(target).map_err(|e| at(target, "open", e))?;
    for chunk in contents.chunks(PLAIN_CHUNK_BYTES) {
        file.write_all(chunk).map_err(|e| at(target, "write", e))?;
    }
    if fsync {
        file.sync_all().map_err(|e| at(target, "fsync", e))?;
    }
    Ok(())
}

fn write_and_rename(temp: &Path, target: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)
        .map_err(|e| at(temp, "open", e))?;
    file.write_all(contents).map_err(|e| at(temp, "write", e))?;
    if fsync {
        file.sync_all().map_err(|e| at(temp, "fsync", e))?;
    }
    drop(file);
    std::fs::rename(temp, target).map_err(|e| at(target, "rename", e))
}

fn write_intact(
    target: &Path,
    contents: &[u8],
    durability: Durability,
    temp: Temp,
) -> io::Result<()> {
    intact::Options::new()
        .durability(durability)
        .temp(temp)
        .write(target, contents)
}

/// The files of the group strategies: the target, then its siblings `01-<name>` to `15-<name>`
/// in the same directory.
pub fn group_paths(target: &Path) -> io::Result<Vec<PathBuf>> {
    let name = file_name(target)?;
    let siblings = (1..GROUP_WRITERS).map(|i| target.with_file_name(format!("{i:02}-{name}")));
    Ok(std::iter::once(target.to_path_buf())
        .chain(siblings)
        .collect())
}

/// [`GROUP_WRITERS`] threads, started together, each replacing one of [`group_paths`] with
/// `contents` through `intact`.
fn write_group(target: &Path, contents: &[u8], durability: Durability) -> io::Result<()> {
    let options = intact::Options::new().durability(durability);
    on_threads(&group_paths(target)?, |path| options.write(path, contents))
}

/// Runs `work` for each path on a thread of its own, all started together at a barrier; the
/// first error, once every thread has ended.
pub fn on_threads(
    paths: &[PathBuf],
    work: impl Fn(&Path) -> io::Result<()> + Sync,
) -> io::Result<()> {
    let start = std::sync::Barrier::new(paths.len());
    std::thread::scope(|scope| {
        let running: Vec<_> = paths
            .iter()
            .map(|path| {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    start.wait();
                    work(path)
                })
            })
            .collect();
        let ended: Vec<io::Result<()>> = running
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a writer thread panicked")))
            })
            .collect();
        ended.into_iter().collect()
    })
}

fn write_tempfile(target: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(target);
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| at(dir, "create temp", e))?;
    temp.write_all(contents)
        .map_err(|e| at(temp.path(), "write", e))?;
    temp.persist(target)
        .map(drop)
        .map_err(|failed| at(target, "persist", failed.error))
}

fn write_atomicwrites(target: &Path, contents: &[u8]) -> io::Result<()> {
    let file = atomicwrites::AtomicFile::new(target, atomicwrites::AllowOverwrite);
    file.write(|temp| temp.write_all(contents))
        .map_err(|e| at(target, "atomicwrites", io::Error::from(e)))
}

fn write_atomic_write_file(target: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file =
        atomic_write_file::AtomicWriteFile::open(target).map_err(|e| at(target, "open", e))?;
    file.write_all(contents)
        .map_err(|e| at(target, "write", e))?;
    file.commit().map_err(|e| at(target, "commit", e))
}

/// The directory a relative or absolute file path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        Some(_) | None => Path::new("."),
    }
}

/// `.<name>.<16 hex digits>.tmp` beside the target; the digits come from std's per-process
/// random hash keys, so two runs pick different names.
fn random_temp_name(target: &Path) -> io::Result<PathBuf> {
    let name = file_name(target)?;
    let random = RandomState::new().hash_one(std::process::id());
    Ok(target.with_file_name(format!(".{name}.{random:016x}.tmp")))
}

fn fixed_temp_name(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn file_name(target: &Path) -> io::Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no file name", target.display()),
            )
        })
}

/// The documented recovery pattern: remove temp files of crashed intact writers before writing.
fn sweep_parent(target: &Path) -> io::Result<()> {
    let parent = parent_dir(target);
    intact::sweep(parent)
        .map(drop)
        .map_err(|e| at(parent, "sweep", e))
}

/// Adds the step and the path to an error, keeping its kind.
fn at(path: &Path, step: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{step} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("intact-strategies-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn names_parse_back_and_are_distinct() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
            assert!(!strategy.description().is_empty());
        }
        let err = "atomic".parse::<Strategy>().unwrap_err();
        assert!(err.to_string().contains("plain-fsync"), "{err}");
    }

    #[test]
    fn under_a_power_cut_only_the_durable_strategies_pass() {
        for strategy in Strategy::ALL {
            let passes = strategy.expect(CrashKind::Power) == Expect::Pass;
            assert_eq!(passes, strategy.durable(), "{strategy}");
            assert_eq!(strategy.expect(CrashKind::Kill), strategy.expect_kill());
        }
    }

    #[test]
    fn only_the_plain_strategies_are_canaries() {
        let canaries: Vec<_> = Strategy::ALL
            .into_iter()
            .filter(|s| s.expect_kill() == Expect::Caught)
            .collect();
        assert_eq!(canaries, [Strategy::Plain, Strategy::PlainFsync]);
        let error_canaries: Vec<_> = Strategy::ALL
            .into_iter()
            .filter(|s| s.expect_errors() == Expect::Caught)
            .collect();
        assert_eq!(error_canaries, [Strategy::Plain, Strategy::PlainFsync]);
    }

    #[test]
    fn every_strategy_replaces_the_target_and_leaves_nothing_else() {
        for strategy in Strategy::ALL {
            let dir = scratch(strategy.name());
            let target = dir.join("target.json");
            std::fs::write(&target, b"old").unwrap();
            let contents = torture_core::payload::payload(10_000, 2);
            strategy
                .run_step(&target, &contents)
                .unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(std::fs::read(&target).unwrap(), contents, "{strategy}");
            let mut names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let mut expected = vec!["target.json".to_owned()];
            expected.sort();
            assert_eq!(names, expected, "{strategy} left files behind");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn the_concurrent_writers_replace_the_target_and_its_siblings() {
        for strategy in Strategy::CONCURRENT {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
            let dir = scratch(strategy.name());
            let target = dir.join("target.json");
            std::fs::write(&target, b"old").unwrap();
            let contents = torture_core::payload::payload(1000, 2);
            strategy.run_step(&target, &contents).unwrap();
            let paths = group_paths(&target).unwrap();
            assert_eq!(paths.len(), GROUP_WRITERS);
            for path in &paths {
                assert_eq!(std::fs::read(path).unwrap(), contents, "{strategy}");
            }
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), GROUP_WRITERS);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert!(Strategy::IntactGroup.durable() && !Strategy::IntactGroupData.durable());
    }

    #[test]
    fn only_the_no_clobber_writer_refuses_an_existing_target() {
        let replacing: Vec<_> = Strategy::EVERY
            .into_iter()
            .filter(|s| s.replaces())
            .collect();
        assert_eq!(replacing, Strategy::ALL);
        let dir = scratch("noclobber");
        let target = dir.join("target.json");
        Strategy::IntactNoClobber
            .run_step(&target, b"first")
            .unwrap();
        let err = Strategy::IntactNoClobber
            .run_step(&target, b"second")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_race_canaries_are_the_in_place_writers_and_the_fixed_temp_name() {
        let canaries: Vec<_> = Strategy::EVERY
            .into_iter()
            .filter(|s| s.expect_race() == Expect::Caught)
            .collect();
        assert_eq!(
            canaries,
            [Strategy::Plain, Strategy::PlainFsync, Strategy::FixedTemp]
        );
    }

    #[test]
    fn errors_name_the_path() {
        let missing = std::env::temp_dir().join("intact-no-such-dir/target.json");
        for strategy in Strategy::ALL {
            let err = strategy.write(&missing, b"x").unwrap_err();
            assert!(
                err.to_string().contains("intact-no-such-dir"),
                "{strategy}: {err}"
            );
        }
    }

    #[test]
    fn temp_names_sit_beside_the_target() {
        let target = Path::new("/d/t.json");
        assert_eq!(fixed_temp_name(target), PathBuf::from("/d/t.json.tmp"));
        let random = random_temp_name(target).unwrap();
        assert_eq!(random.parent(), Some(Path::new("/d")));
        assert!(
            random
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".t.json.")
        );
    }
}
