//! The measuring loop: strategies interleaved and rotated round by round, each timed write
//! starting from a clean filesystem.
//!
//! Before every timed write the filesystem is synced (`syncfs`, not timed), so no strategy pays
//! for the writeback another one left behind, and the order within a round rotates (round r
//! starts at strategy r mod n) so that drift on a shared machine hits every strategy alike.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::{BatchMode, Strategy};

use super::error::BenchError;
use super::plan::{BatchPlan, Rounds, rotation, size_slug};

/// The latencies of one strategy (or batch mode), one per round, in round order.
#[derive(Debug, Clone)]
pub struct Series<S> {
    pub subject: S,
    pub samples_ns: Vec<u64>,
}

/// One filesystem at one payload size.
#[derive(Debug, Clone)]
pub struct SizeCell {
    pub size_bytes: u64,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub series: Vec<Series<Strategy>>,
}

/// The batch comparison on one filesystem.
#[derive(Debug, Clone)]
pub struct BatchCell {
    pub plan: BatchPlan,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub series: Vec<Series<BatchMode>>,
}

/// Syncs the filesystem under a directory, outside the timed region.
#[derive(Debug)]
pub(super) struct Settle(File, PathBuf);

impl Settle {
    fn new(dir: &Path) -> Result<Settle, BenchError> {
        let handle = File::open(dir).map_err(|error| BenchError::io("open", dir, error))?;
        Ok(Settle(handle, dir.to_path_buf()))
    }

    fn sync(&self) -> Result<(), BenchError> {
        nix::unistd::syncfs(&self.0)
            .map_err(|errno| BenchError::io("syncfs the filesystem of", &self.1, errno.into()))
    }
}

fn check_cancel(cancel: &AtomicBool) -> Result<(), BenchError> {
    if cancel.load(Ordering::SeqCst) {
        return Err(BenchError::Cancelled { report: None });
    }
    Ok(())
}

pub(super) fn fresh_dir(path: PathBuf) -> Result<PathBuf, BenchError> {
    fs::create_dir(&path).map_err(|error| BenchError::io("create directory", &path, error))?;
    Ok(path)
}

pub(super) fn remove_dir(path: &Path) -> Result<(), BenchError> {
    fs::remove_dir_all(path).map_err(|error| BenchError::io("remove directory", path, error))
}

fn seed(path: &Path, payload: &[u8]) -> Result<(), BenchError> {
    fs::write(path, payload).map_err(|error| BenchError::io("seed the old version of", path, error))
}

/// Whether to run one untimed round first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WarmUp {
    /// Page cache, dentries, intact's per-filesystem probe: worth one round when it is cheap.
    OneRound,
    /// The batch: a round takes seconds, and the seeded files are already cached.
    Skip,
}

/// What [`interleave`] measured: per subject, one latency per round.
#[derive(Debug)]
pub(super) struct Interleaved {
    pub(super) samples: Vec<Vec<u64>>,
    pub(super) rounds: usize,
    pub(super) elapsed_ms: u64,
}

/// Runs `rounds` of interleaved, rotated timed calls of `job(i)` for `count` subjects.
pub(super) fn interleave(
    count: usize,
    rounds: Rounds,
    warm_up: WarmUp,
    settle: &Settle,
    cancel: &AtomicBool,
    mut job: impl FnMut(usize) -> Result<(), BenchError>,
) -> Result<Interleaved, BenchError> {
    if warm_up == WarmUp::OneRound {
        for index in 0..count {
            check_cancel(cancel)?;
            job(index)?;
        }
    }
    let start = Instant::now();
    let mut samples = vec![Vec::new(); count];
    let mut done = 0;
    while rounds.wants_another(done, start.elapsed().as_millis() as u64) {
        for index in rotation(done, count) {
            check_cancel(cancel)?;
            settle.sync()?;
            let timer = Instant::now();
            job(index)?;
            samples[index].push(timer.elapsed().as_nanos() as u64);
        }
        done += 1;
    }
    Ok(Interleaved {
        samples,
        rounds: done,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// Pairs each subject with its samples, in subject order.
pub(super) fn series<S: Copy>(subjects: &[S], samples: Vec<Vec<u64>>) -> Vec<Series<S>> {
    subjects
        .iter()
        .zip(samples)
        .map(|(&subject, samples_ns)| Series {
            subject,
            samples_ns,
        })
        .collect()
}

/// Creates `dir`, seeds every file in it with `payload` (the "old version" each write
/// replaces), and returns the handle that syncs its filesystem.
pub(super) fn seeded_dir<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = &'a PathBuf>,
    payload: &[u8],
) -> Result<Settle, BenchError> {
    for file in files {
        seed(file, payload)?;
    }
    Settle::new(dir)
}

pub(super) fn write_error(subject: &str, path: &Path) -> impl FnOnce(std::io::Error) -> BenchError {
    let (strategy, path) = (subject.to_owned(), path.to_path_buf());
    move |source| BenchError::Write {
        strategy,
        path,
        source,
    }
}

/// Measures every strategy at `size_bytes` in a fresh subdirectory of `dir`, then removes it.
pub fn measure_size(
    dir: &Path,
    size_bytes: u64,
    strategies: &[Strategy],
    rounds: Rounds,
    cancel: &AtomicBool,
) -> Result<SizeCell, BenchError> {
    let cell_dir = fresh_dir(dir.join(format!("size-{}", size_slug(size_bytes))))?;
    let payload = crate::payload(size_bytes as usize);
    let targets: Vec<PathBuf> = strategies
        .iter()
        .map(|strategy| cell_dir.join(format!("{strategy}.dat")))
        .collect();
    let settle = seeded_dir(&cell_dir, &targets, &payload)?;
    let run = interleave(
        strategies.len(),
        rounds,
        WarmUp::OneRound,
        &settle,
        cancel,
        |index| {
            let (strategy, target) = (strategies[index], &targets[index]);
            crate::write(strategy, target, &payload).map_err(write_error(strategy.name(), target))
        },
    )?;
    remove_dir(&cell_dir)?;
    Ok(SizeCell {
        size_bytes,
        rounds: run.rounds,
        elapsed_ms: run.elapsed_ms,
        series: series(strategies, run.samples),
    })
}

/// Measures one `intact::Batch` of `plan.files` files against as many sequential writes.
pub fn measure_batch(
    dir: &Path,
    plan: BatchPlan,
    cancel: &AtomicBool,
) -> Result<BatchCell, BenchError> {
    let batch_dir = fresh_dir(dir.join("batch"))?;
    let payload = crate::payload(plan.file_bytes as usize);
    let paths: Vec<Vec<PathBuf>> = BatchMode::ALL
        .iter()
        .map(|mode| crate::numbered_paths(&batch_dir, mode.name(), plan.files))
        .collect();
    let settle = seeded_dir(&batch_dir, paths.iter().flatten(), &payload)?;
    let run = interleave(
        BatchMode::ALL.len(),
        plan.rounds,
        WarmUp::Skip,
        &settle,
        cancel,
        |index| {
            let mode = BatchMode::ALL[index];
            crate::write_files(mode, &paths[index], &payload)
                .map_err(write_error(mode.name(), &batch_dir))
        },
    )?;
    remove_dir(&batch_dir)?;
    Ok(BatchCell {
        plan,
        rounds: run.rounds,
        elapsed_ms: run.elapsed_ms,
        series: series(&BatchMode::ALL, run.samples),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_gets_one_sample_per_round_and_the_dir_is_removed() {
        let dir = tempfile_dir();
        let rounds = Rounds {
            min: 3,
            max: 3,
            budget_ms: 0,
        };
        let strategies = [Strategy::Plain, Strategy::PlainFsync, Strategy::IntactNone];
        let cell = measure_size(&dir, 4096, &strategies, rounds, &AtomicBool::new(false)).unwrap();
        assert_eq!(cell.rounds, 3);
        assert!(
            cell.series
                .iter()
                .all(|series| series.samples_ns.len() == 3)
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_raised_cancel_flag_stops_before_the_first_timed_write() {
        let dir = tempfile_dir();
        let rounds = Rounds {
            min: 1_000,
            max: 1_000,
            budget_ms: 0,
        };
        let result = measure_size(
            &dir,
            1024,
            &[Strategy::Plain],
            rounds,
            &AtomicBool::new(true),
        );
        assert!(matches!(result, Err(BenchError::Cancelled { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_write_stops_the_run_and_names_strategy_and_path() {
        let dir = tempfile_dir();
        let settle = Settle::new(&dir).unwrap();
        let rounds = Rounds {
            min: 5,
            max: 5,
            budget_ms: 0,
        };
        let target = dir.join("missing").join("x");
        let mut calls = 0;
        let error = interleave(
            1,
            rounds,
            WarmUp::Skip,
            &settle,
            &AtomicBool::new(false),
            |_| {
                calls += 1;
                crate::write(Strategy::Plain, &target, b"x").map_err(write_error("plain", &target))
            },
        )
        .unwrap_err();
        assert_eq!(calls, 1, "no round after a failed write");
        let message = error.to_string();
        assert!(
            message.contains("`plain`") && message.contains("missing/x"),
            "{message}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "torture-bench-test-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        fs::create_dir(&dir).unwrap();
        dir
    }

    fn unique_suffix() -> u64 {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::SeqCst)
    }
}
