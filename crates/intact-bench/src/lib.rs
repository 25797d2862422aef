//! Benchmarks of the write strategies: criterion benches (`benches/`) and `torture bench`
//! ([`bench`]), which compares them across loop-mounted filesystems with SVG charts.
//!
//! The strategies are the one catalogue of `torture-writers` ([`Strategy`]); this crate adds
//! [`BatchMode`] (many files at once), [`concurrent`] (16 threads replacing files in one
//! directory, against the peers and a measured limit), [`paired`] (two single writers timed
//! write for write) and the payload the benches write. Names are stable:
//! reports, charts and `results.json` key on [`Strategy::name`].
//!
//! The peers and plotters live here and in `torture-writers`, never in `intact` or the engine.
//!
//! | strategy | what survives a process crash | what survives a power cut |
//! |---|---|---|
//! | `plain` | nothing promised (torn file) | nothing promised |
//! | `plain-fsync` | nothing promised (torn file) | the bytes, once `write` returns |
//! | `rename`, `fixed-temp`, `intact-none`, `tempfile-persist` | old or new file | nothing promised |
//! | `rename-fsync`, `intact-data` | old or new file | old or new file (name may revert) |
//! | `intact`, `intact-named`, `intact-anonymous`, `atomicwrites`, `atomic-write-file` | old or new file | new file, once `write` returns |
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use torture_writers::{Strategy, UnknownStrategy};

pub mod bench;
pub mod concurrent;
pub mod paired;

/// The strategies the benchmarks compare: the in-place references (every ratio is taken against
/// them), `intact` at each level and temp-file kind, and the peers. The other reference patterns
/// of the catalogue (`rename`, `fixed-temp`, ...) cost what `intact-none` costs and are left out.
pub const BENCHED: [Strategy; 10] = [
    Strategy::Plain,
    Strategy::PlainFsync,
    Strategy::IntactNone,
    Strategy::IntactData,
    Strategy::Intact,
    Strategy::IntactNamed,
    Strategy::IntactAnonymous,
    Strategy::TempfilePersist,
    Strategy::Atomicwrites,
    Strategy::AtomicWriteFile,
];

/// Writes `payload` to `path` as a whole file with `strategy`, replacing what was there.
pub fn write(strategy: Strategy, path: &Path, payload: &[u8]) -> io::Result<()> {
    strategy.write(path, payload)
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
    let mut rng = torture_core::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
    let mut bytes = Vec::with_capacity(size_bytes);
    while bytes.len() < size_bytes {
        let line = format!("{:016x}\n", rng.next_u64());
        let take = line.len().min(size_bytes - bytes.len());
        bytes.extend_from_slice(&line.as_bytes()[..take]);
    }
    bytes
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
        let error = "plain+fsync".parse::<Strategy>().unwrap_err();
        assert!(error.to_string().contains("`plain+fsync`"), "{error}");
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
