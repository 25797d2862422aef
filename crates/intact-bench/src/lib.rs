//! Write strategies for benchmarks: plain writes, `intact` at each durability level and temp-file
//! kind, and the peer crates at their defaults.
//!
//! Each [`Strategy`] writes one whole file with [`write`]. Names are stable: reports, charts and
//! `results.json` key on [`Strategy::name`], so renaming one breaks comparisons across runs.
//!
//! The peers live here, in a crate of their own, so they never become dependencies of `intact`.
//!
//! | strategy | what survives a process crash | what survives a power cut |
//! |---|---|---|
//! | `plain` | nothing promised (torn file) | nothing promised |
//! | `plain+fsync` | nothing promised (torn file) | the bytes, once `write` returns |
//! | `intact-none`, `tempfile-persist` | old or new file | nothing promised |
//! | `intact-data` | old or new file | old or new file (name may revert) |
//! | `intact-full`, `intact-named`, `intact-anonymous`, `atomicwrites`, `atomic-write-file` | old or new file | new file, once `write` returns |
#![forbid(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use intact::{Durability, Options, Temp};

/// One way of writing a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// `File::create` + `write_all`: truncates the target in place.
    Plain,
    /// `plain`, then `fsync` of the file.
    PlainFsync,
    /// `intact` with `Durability::None`: temp file + rename, no fsync.
    IntactNone,
    /// `intact` with `Durability::Data`: fsync the file before the rename.
    IntactData,
    /// `intact::write`: `Durability::Full` (fsync file, rename, fsync directory), `Temp::Auto`.
    IntactFull,
    /// `intact` at `Durability::Full` with a named temp file (`Temp::Named`).
    IntactNamed,
    /// `intact` at `Durability::Full` with an `O_TMPFILE` temp file (`Temp::Anonymous`).
    IntactAnonymous,
    /// `tempfile::NamedTempFile::new_in(dir)` + `write_all` + `persist`: no fsync at all.
    TempfilePersist,
    /// `atomicwrites::AtomicFile` with `AllowOverwrite`: temp dir + file, fsync, rename, fsync dir.
    Atomicwrites,
    /// `atomic_write_file::AtomicWriteFile::open` + `write_all` + `commit`.
    AtomicWriteFile,
}

impl Strategy {
    /// Every strategy, references (`plain`, `plain+fsync`) first.
    pub const ALL: [Strategy; 10] = [
        Strategy::Plain,
        Strategy::PlainFsync,
        Strategy::IntactNone,
        Strategy::IntactData,
        Strategy::IntactFull,
        Strategy::IntactNamed,
        Strategy::IntactAnonymous,
        Strategy::TempfilePersist,
        Strategy::Atomicwrites,
        Strategy::AtomicWriteFile,
    ];

    /// The stable, printable name used in reports and charts.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::Plain => "plain",
            Strategy::PlainFsync => "plain+fsync",
            Strategy::IntactNone => "intact-none",
            Strategy::IntactData => "intact-data",
            Strategy::IntactFull => "intact-full",
            Strategy::IntactNamed => "intact-named",
            Strategy::IntactAnonymous => "intact-anonymous",
            Strategy::TempfilePersist => "tempfile-persist",
            Strategy::Atomicwrites => "atomicwrites",
            Strategy::AtomicWriteFile => "atomic-write-file",
        }
    }

    /// One line saying what the strategy does, for report legends.
    pub const fn description(self) -> &'static str {
        match self {
            Strategy::Plain => "File::create + write_all (in place, no fsync)",
            Strategy::PlainFsync => "File::create + write_all + fsync (in place)",
            Strategy::IntactNone => "intact, Durability::None (temp + rename)",
            Strategy::IntactData => "intact, Durability::Data (fsync file, rename)",
            Strategy::IntactFull => "intact::write (Durability::Full, Temp::Auto)",
            Strategy::IntactNamed => "intact, Durability::Full, Temp::Named",
            Strategy::IntactAnonymous => "intact, Durability::Full, Temp::Anonymous (O_TMPFILE)",
            Strategy::TempfilePersist => "tempfile NamedTempFile::new_in + persist (no fsync)",
            Strategy::Atomicwrites => "atomicwrites AtomicFile, AllowOverwrite",
            Strategy::AtomicWriteFile => "atomic-write-file AtomicWriteFile::open + commit",
        }
    }

    /// Whether the new content survives a power cut once [`write`] returns (as documented).
    pub const fn durable(self) -> bool {
        match self {
            Strategy::Plain
            | Strategy::IntactNone
            | Strategy::IntactData
            | Strategy::TempfilePersist => false,
            Strategy::PlainFsync
            | Strategy::IntactFull
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous
            | Strategy::Atomicwrites
            | Strategy::AtomicWriteFile => true,
        }
    }

    /// Whether a crash leaves either the old or the new file, never a torn one.
    pub const fn atomic(self) -> bool {
        !matches!(self, Strategy::Plain | Strategy::PlainFsync)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Strategy::ALL`] (or [`BatchMode::ALL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown write strategy `{}`", self.0)
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.name() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

/// Writes `payload` to `path` as a whole file with `strategy`, replacing what was there.
pub fn write(strategy: Strategy, path: &Path, payload: &[u8]) -> io::Result<()> {
    match strategy {
        Strategy::Plain => File::create(path)?.write_all(payload),
        Strategy::PlainFsync => write_plain_fsync(path, payload),
        Strategy::IntactNone => write_intact(path, payload, Durability::None, Temp::Auto),
        Strategy::IntactData => write_intact(path, payload, Durability::Data, Temp::Auto),
        Strategy::IntactFull => intact::write(path, payload),
        Strategy::IntactNamed => write_intact(path, payload, Durability::Full, Temp::Named),
        Strategy::IntactAnonymous => write_intact(path, payload, Durability::Full, Temp::Anonymous),
        Strategy::TempfilePersist => write_tempfile(path, payload),
        Strategy::Atomicwrites => write_atomicwrites(path, payload),
        Strategy::AtomicWriteFile => write_atomic_write_file(path, payload),
    }
}

fn write_plain_fsync(path: &Path, payload: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(payload)?;
    file.sync_all()
}

fn write_intact(path: &Path, payload: &[u8], durability: Durability, temp: Temp) -> io::Result<()> {
    let mut file = Options::new()
        .durability(durability)
        .temp(temp)
        .create(path)?;
    file.write_all(payload)?;
    file.commit().map_err(io::Error::from)
}

fn write_tempfile(path: &Path, payload: &[u8]) -> io::Result<()> {
    let mut temp = tempfile::NamedTempFile::new_in(parent_dir(path))?;
    temp.write_all(payload)?;
    temp.persist(path).map(drop).map_err(|failed| failed.error)
}

fn write_atomicwrites(path: &Path, payload: &[u8]) -> io::Result<()> {
    let file = atomicwrites::AtomicFile::new(path, atomicwrites::AllowOverwrite);
    file.write(|temp| temp.write_all(payload))
        .map_err(io::Error::from)
}

fn write_atomic_write_file(path: &Path, payload: &[u8]) -> io::Result<()> {
    let mut file = atomic_write_file::AtomicWriteFile::open(path)?;
    file.write_all(payload)?;
    file.commit()
}

/// The directory a relative or absolute file path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        Some(_) | None => Path::new("."),
    }
}

/// How many files are published together: one `intact::Batch`, or one `intact::write` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BatchMode {
    /// One `intact::Batch` at `Durability::Full`: fsyncs overlapped, one directory fsync.
    Batch,
    /// One `intact::write` per file, one after the other.
    Sequential,
}

impl BatchMode {
    /// Both modes, the batch first.
    pub const ALL: [BatchMode; 2] = [BatchMode::Batch, BatchMode::Sequential];

    /// The stable, printable name used in reports and charts.
    pub const fn name(self) -> &'static str {
        match self {
            BatchMode::Batch => "intact-batch",
            BatchMode::Sequential => "intact-sequential",
        }
    }

    /// One line saying what the mode does, for report legends.
    pub const fn description(self) -> &'static str {
        match self {
            BatchMode::Batch => "intact::Batch, Durability::Full, one commit for all files",
            BatchMode::Sequential => "intact::write per file (Durability::Full), in sequence",
        }
    }
}

impl fmt::Display for BatchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BatchMode {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        BatchMode::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

/// Writes `payload` to every path in `paths`, each file fully durable, with `mode`.
pub fn write_files(mode: BatchMode, paths: &[PathBuf], payload: &[u8]) -> io::Result<()> {
    match mode {
        BatchMode::Sequential => paths
            .iter()
            .try_for_each(|path| intact::write(path, payload)),
        BatchMode::Batch => write_batch(paths, payload),
    }
}

fn write_batch(paths: &[PathBuf], payload: &[u8]) -> io::Result<()> {
    let mut batch = intact::Batch::new();
    for path in paths {
        batch.add(path, payload)?;
    }
    batch.commit().map_err(io::Error::from)
}

/// `count` file paths `prefix-00000.dat`, `prefix-00001.dat`, ... in `dir`.
pub fn numbered_paths(dir: &Path, prefix: &str, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|index| dir.join(format!("{prefix}-{index:05}.dat")))
        .collect()
}

/// A deterministic payload of `size_bytes` printable bytes (lines of hex digits), the same
/// for every strategy so that they write identical content.
pub fn payload(size_bytes: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(size_bytes);
    while bytes.len() < size_bytes {
        state = splitmix64(state);
        let line = format!("{state:016x}\n");
        let take = line.len().min(size_bytes - bytes.len());
        bytes.extend_from_slice(&line.as_bytes()[..take]);
    }
    bytes
}

fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        }
        let mut names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Strategy::ALL.len());
        for mode in BatchMode::ALL {
            assert_eq!(mode.name().parse::<BatchMode>(), Ok(mode));
        }
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        let error = "plain-fsync".parse::<Strategy>().unwrap_err();
        assert_eq!(error.to_string(), "unknown write strategy `plain-fsync`");
    }

    #[test]
    fn payload_has_the_requested_size_and_is_deterministic() {
        for size in [0, 1, 17, 1024, 65_536] {
            assert_eq!(payload(size).len(), size);
        }
        assert_eq!(payload(4096), payload(4096));
        assert_ne!(payload(64)[..17], payload(64)[17..34]);
    }

    #[test]
    fn every_strategy_replaces_an_existing_file_with_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let old = payload(3000);
        let new: Vec<u8> = payload(5000).into_iter().rev().collect();
        for strategy in Strategy::ALL {
            let path = dir.path().join(format!("{strategy}.dat"));
            std::fs::write(&path, &old).unwrap();
            write(strategy, &path, &new).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), new, "{strategy}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| !name.to_string_lossy().ends_with(".dat"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }

    #[test]
    fn every_batch_mode_writes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        for mode in BatchMode::ALL {
            let paths = numbered_paths(dir.path(), mode.name(), 25);
            write_files(mode, &paths, b"contents").unwrap();
            for path in &paths {
                assert_eq!(std::fs::read(path).unwrap(), b"contents");
            }
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_for_every_strategy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("target.dat");
        for strategy in Strategy::ALL {
            assert!(write(strategy, &path, b"x").is_err(), "{strategy}");
        }
    }
}
