//! Concurrent durable replaces into one directory: [`THREADS`] threads, one file each, each
//! replacing its file again and again; the workload of intact's group commit, shared by the
//! criterion bench `concurrent` and `torture bench`.
//!
//! The contenders run the same work (every file replaced [`Contender::run`]'s `rounds` times,
//! fully durable unless named otherwise): `intact::write`, the peers, the measured limit
//! ([`Contender::Limit`]), and for where the time goes, intact without the directory `fsync`
//! (`Data`) and without any (`None`), one thread alone, and one `Batch` per round of files.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Barrier;

use intact::Durability;

use crate::Strategy;
use torture_writers::strategies::on_threads as threads;

/// Writer threads, and files (one per thread).
pub const THREADS: usize = 16;

/// One way of doing the concurrent work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contender {
    /// `intact::write` from every thread (`Full`: directory `fsync`s shared by group commit).
    Intact,
    /// `atomic-write-file` from every thread.
    AtomicWriteFile,
    /// `atomicwrites` from every thread.
    Atomicwrites,
    /// The floor for durable replaces: per file a temp file, `write`, `fdatasync`, `rename`
    /// (no lock, no metadata, no descriptor of the directory kept), then per batch (every
    /// thread's file once, met at a barrier) exactly one `fsync` of the directory.
    Limit,
    /// `intact::write` with named temp files (`Temp::Named`) from every thread.
    IntactNamed,
    /// `intact` at `Durability::Data` from every thread: no directory `fsync` at all (not
    /// durable; what the directory `fsync`s cost is the difference to `intact`).
    IntactData,
    /// `intact` at `Durability::None` from every thread: no `fsync` at all (not durable).
    IntactNone,
    /// `intact::write` from one thread, every file in turn: the single-thread rate.
    IntactOneThread,
    /// One `intact::Batch` of every file per pass, from one thread.
    IntactBatch,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 9] = [
        Contender::Intact,
        Contender::AtomicWriteFile,
        Contender::Atomicwrites,
        Contender::Limit,
        Contender::IntactNamed,
        Contender::IntactData,
        Contender::IntactNone,
        Contender::IntactOneThread,
        Contender::IntactBatch,
    ];

    /// The stable name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Contender::Intact => "intact x16",
            Contender::AtomicWriteFile => "atomic-write-file x16",
            Contender::Atomicwrites => "atomicwrites x16",
            Contender::Limit => "limit x16",
            Contender::IntactNamed => "intact-named x16",
            Contender::IntactData => "intact-data x16",
            Contender::IntactNone => "intact-none x16",
            Contender::IntactOneThread => "intact x1",
            Contender::IntactBatch => "intact-batch x1",
        }
    }

    /// One line on what it does.
    pub const fn description(self) -> &'static str {
        match self {
            Contender::Intact => "intact::write from 16 threads (group commit)",
            Contender::AtomicWriteFile => "atomic-write-file from 16 threads",
            Contender::Atomicwrites => "atomicwrites from 16 threads",
            Contender::Limit => {
                "bare temp + write + fdatasync + rename from 16 threads, one directory fsync per 16 files"
            }
            Contender::IntactNamed => "intact::write, Temp::Named, from 16 threads",
            Contender::IntactData => "intact Durability::Data from 16 threads (no directory fsync)",
            Contender::IntactNone => "intact Durability::None from 16 threads (no fsync)",
            Contender::IntactOneThread => "intact::write from one thread, file after file",
            Contender::IntactBatch => "one intact::Batch of the 16 files per pass, one thread",
        }
    }

    /// Replaces each of `files` (one per thread) `rounds` times with `payload`.
    pub fn run(self, files: &[PathBuf], rounds: usize, payload: &[u8]) -> io::Result<()> {
        match self {
            Contender::Intact => threads(files, |file| {
                repeat(rounds, || intact::write(file, payload))
            }),
            Contender::AtomicWriteFile => threads(files, |file| {
                repeat(rounds, || Strategy::AtomicWriteFile.write(file, payload))
            }),
            Contender::Atomicwrites => threads(files, |file| {
                repeat(rounds, || Strategy::Atomicwrites.write(file, payload))
            }),
            Contender::Limit => limit(files, rounds, payload),
            Contender::IntactNamed => {
                let options = intact::Options::new().temp(intact::Temp::Named);
                threads(files, |file| {
                    repeat(rounds, || options.write(file, payload))
                })
            }
            Contender::IntactData => with_durability(files, rounds, payload, Durability::Data),
            Contender::IntactNone => with_durability(files, rounds, payload, Durability::None),
            Contender::IntactOneThread => repeat(rounds, || {
                files
                    .iter()
                    .try_for_each(|file| intact::write(file, payload))
            }),
            Contender::IntactBatch => repeat(rounds, || {
                crate::write_files(crate::BatchMode::Batch, files, payload)
            }),
        }
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The files of the workload in `dir`: `concurrent-00.dat` to `concurrent-15.dat`.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    (0..THREADS)
        .map(|index| dir.join(format!("concurrent-{index:02}.dat")))
        .collect()
}

fn repeat(rounds: usize, mut once: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    (0..rounds).try_for_each(|_| once())
}

fn with_durability(
    files: &[PathBuf],
    rounds: usize,
    payload: &[u8],
    durability: Durability,
) -> io::Result<()> {
    let options = intact::Options::new().durability(durability);
    threads(files, |file| {
        repeat(rounds, || options.write(file, payload))
    })
}

/// [`Contender::Limit`]: each pass, every thread replaces its file (`fdatasync` before the
/// rename); at the barrier after the renames one thread `fsync`s the directory, and the next
/// pass starts when that has returned.
fn limit(files: &[PathBuf], rounds: usize, payload: &[u8]) -> io::Result<()> {
    let dir = files
        .first()
        .and_then(|file| file.parent())
        .unwrap_or(Path::new("."));
    let dir = File::open(dir)?;
    let (renamed, synced) = (Barrier::new(files.len()), Barrier::new(files.len()));
    threads(files, |file| {
        let temp = file.with_extension("limit-tmp");
        // Every thread meets every barrier, even after an error, so that none waits forever.
        let mut first_error = Ok(());
        for _ in 0..rounds {
            let written = replace_bare(&temp, file, payload);
            let dir_synced = match renamed.wait().is_leader() {
                true => dir.sync_all(),
                false => Ok(()),
            };
            synced.wait();
            first_error = first_error.and(written).and(dir_synced);
        }
        first_error
    })
}

fn replace_bare(temp: &Path, file: &Path, payload: &[u8]) -> io::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)?;
    out.write_all(payload)?;
    out.sync_data()?;
    drop(out);
    fs::rename(temp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contender_replaces_every_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        for contender in Contender::ALL {
            for file in &files {
                fs::write(file, b"old").unwrap();
            }
            let payload = format!("{contender}").into_bytes();
            contender.run(&files, 2, &payload).unwrap();
            for file in &files {
                assert_eq!(fs::read(file).unwrap(), payload, "{contender}");
            }
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                THREADS,
                "{contender}"
            );
        }
    }

    #[test]
    fn an_error_in_one_thread_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = files_in(dir.path());
        files[3] = dir.path().join("missing/concurrent-03.dat");
        for contender in [Contender::Intact, Contender::Limit] {
            assert!(contender.run(&files, 1, b"x").is_err(), "{contender}");
        }
    }
}
