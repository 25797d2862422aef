//! The concurrent comparison of `torture bench`: 16 threads × 1 KiB durable replaces in one
//! directory ([`crate::concurrent`]), every contender interleaved and rotated round by round
//! like the other comparisons, with ratios to `atomic-write-file` and to the measured limit
//! taken per round.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::concurrent::{Contender, THREADS, files_in};

use super::error::BenchError;
use super::measure::{self, Series, WarmUp};
use super::plan::{Rounds, format_size};
use super::results::FsResult;
use super::stats::{Spread, latency_spread, paired_ratio, per_second};

/// The concurrent comparison: every thread replaces its `file_bytes` file `passes` times per
/// round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConcurrentPlan {
    pub file_bytes: u64,
    pub passes: usize,
    pub rounds: Rounds,
}

/// What was measured on one filesystem.
#[derive(Debug, Clone)]
pub struct ConcurrentCell {
    pub plan: ConcurrentPlan,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub series: Vec<Series<Contender>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConcurrentRow {
    pub contender: &'static str,
    pub description: &'static str,
    /// Time of one round (every file replaced `passes` times), nanoseconds.
    pub latency_ns: Spread,
    pub files_per_s: f64,
    /// Per round: `atomic-write-file x16`'s time over this one's (its files/s over theirs).
    pub vs_atomic_write_file: Option<Spread>,
    /// Per round: the limit's time over this one's (the share of the limit's files/s).
    pub vs_limit: Option<Spread>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConcurrentResult {
    pub threads: usize,
    pub file_bytes: u64,
    pub passes: usize,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub rows: Vec<ConcurrentRow>,
}

/// Measures every contender in a fresh subdirectory of `dir`, then removes it.
pub fn measure(
    dir: &Path,
    plan: ConcurrentPlan,
    cancel: &AtomicBool,
) -> Result<ConcurrentCell, BenchError> {
    let cell_dir = measure::fresh_dir(dir.join("concurrent"))?;
    let payload = crate::payload(plan.file_bytes as usize);
    let files: Vec<Vec<_>> = Contender::ALL
        .iter()
        .enumerate()
        .map(|(index, _)| {
            let own = cell_dir.join(format!("c{index}"));
            std::fs::create_dir(&own)
                .map_err(|error| BenchError::io("create directory", &own, error))?;
            Ok(files_in(&own))
        })
        .collect::<Result<_, BenchError>>()?;
    let settle = measure::seeded_dir(&cell_dir, files.iter().flatten(), &payload)?;
    let run = measure::interleave(
        Contender::ALL.len(),
        plan.rounds,
        WarmUp::OneRound,
        &settle,
        cancel,
        |index| {
            let contender = Contender::ALL[index];
            contender
                .run(&files[index], plan.passes, &payload)
                .map_err(measure::write_error(contender.name(), &cell_dir))
        },
    )?;
    measure::remove_dir(&cell_dir)?;
    Ok(ConcurrentCell {
        plan,
        rounds: run.rounds,
        elapsed_ms: run.elapsed_ms,
        series: measure::series(&Contender::ALL, run.samples),
    })
}

fn samples(cell: &ConcurrentCell, contender: Contender) -> Option<&[u64]> {
    let series = cell.series.iter().find(|one| one.subject == contender)?;
    Some(series.samples_ns.as_slice())
}

pub fn summarize(cell: &ConcurrentCell) -> ConcurrentResult {
    let files = (THREADS * cell.plan.passes) as f64;
    let awf = samples(cell, Contender::AtomicWriteFile);
    let limit = samples(cell, Contender::Limit);
    let rows = cell
        .series
        .iter()
        .filter_map(|series| {
            let latency_ns = latency_spread(&series.samples_ns)?;
            Some(ConcurrentRow {
                contender: series.subject.name(),
                description: series.subject.description(),
                files_per_s: per_second(latency_ns.median, files),
                latency_ns,
                vs_atomic_write_file: awf.and_then(|awf| paired_ratio(awf, &series.samples_ns)),
                vs_limit: limit.and_then(|limit| paired_ratio(limit, &series.samples_ns)),
            })
        })
        .collect();
    ConcurrentResult {
        threads: THREADS,
        file_bytes: cell.plan.file_bytes,
        passes: cell.plan.passes,
        rounds: cell.rounds,
        elapsed_ms: cell.elapsed_ms,
        rows,
    }
}

fn ratio(spread: Option<Spread>) -> String {
    spread.map_or_else(
        || "–".into(),
        |spread| {
            format!(
                "{:.2}× ({:.2}–{:.2})",
                spread.median, spread.p10, spread.p90
            )
        },
    )
}

/// The console lines for one filesystem.
pub fn print(label: &str, result: &ConcurrentResult) {
    println!(
        "{label:<6} concurrent: {} threads x {} x {} passes  {} rounds in {:.1} s",
        result.threads,
        format_size(result.file_bytes),
        result.passes,
        result.rounds,
        result.elapsed_ms as f64 / 1e3
    );
    for row in &result.rows {
        println!(
            "  {:<22} {:>8.0} files/s  vs atomic-write-file {:<22} vs limit {}",
            row.contender,
            row.files_per_s,
            ratio(row.vs_atomic_write_file),
            ratio(row.vs_limit)
        );
    }
}

/// The report's section: a table per filesystem and where the time goes.
pub fn markdown(filesystems: &[FsResult]) -> String {
    let measured: Vec<(&FsResult, &ConcurrentResult)> = filesystems
        .iter()
        .filter_map(|fs| Some((fs, fs.concurrent.as_ref()?)))
        .collect();
    let Some((_, first)) = measured.first() else {
        return String::new();
    };
    let mut md = format!(
        "## Concurrent writers\n\n{} threads in one directory, one {} file each, each replaced {} times per round, durably unless said; contenders interleaved and rotated round by round. Ratios are per round (median, p10–p90): another's time over this one's, so above 1 is faster.\n\n",
        first.threads,
        format_size(first.file_bytes),
        first.passes
    );
    md.push_str("| filesystem | contender | rounds | time per round | files/s | × atomic-write-file | × limit |\n|---|---|---:|---:|---:|---:|---:|\n");
    for (fs, result) in &measured {
        for row in &result.rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.0} | {} | {} |",
                fs.label,
                row.contender,
                result.rounds,
                super::report::duration(row.latency_ns.median),
                row.files_per_s,
                ratio(row.vs_atomic_write_file),
                ratio(row.vs_limit)
            );
        }
    }
    md.push('\n');
    for (fs, result) in &measured {
        md.push_str(&where_the_time_goes(&fs.label, result));
    }
    md.push('\n');
    md
}

/// Per file: the write and rename alone (`intact-none x16`), the file `fsync`s on top
/// (`intact-data x16`), the directory `fsync`s on top (`intact x16`).
fn where_the_time_goes(label: &str, result: &ConcurrentResult) -> String {
    let files = (result.threads * result.passes) as f64;
    let per_file = |name: &str| {
        let row = result.rows.iter().find(|row| row.contender == name)?;
        Some(row.latency_ns.median / files)
    };
    let (Some(none), Some(data), Some(full)) = (
        per_file(Contender::IntactNone.name()),
        per_file(Contender::IntactData.name()),
        per_file(Contender::Intact.name()),
    ) else {
        return String::new();
    };
    let show = super::report::duration;
    format!(
        "- {label}: per file (wall time over {} files) {} for `intact x16`: {} without any fsync, {} more for the file fsyncs, {} more for the directory fsyncs.\n",
        files,
        show(full),
        show(none),
        show((data - none).max(0.0)),
        show((full - data).max(0.0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contender_is_measured_and_compared_per_round() {
        let dir = tempfile::tempdir().unwrap();
        let plan = ConcurrentPlan {
            file_bytes: 64,
            passes: 1,
            rounds: Rounds {
                min: 2,
                max: 2,
                budget_ms: 0,
            },
        };
        let cell = measure(dir.path(), plan, &AtomicBool::new(false)).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let result = summarize(&cell);
        assert_eq!(result.rows.len(), Contender::ALL.len());
        let awf = result
            .rows
            .iter()
            .find(|row| row.contender == Contender::AtomicWriteFile.name())
            .unwrap();
        let to_itself = awf.vs_atomic_write_file.unwrap();
        assert!((to_itself.median - 1.0).abs() < 1e-9, "{to_itself:?}");
        assert!(result.rows.iter().all(|row| row.vs_limit.is_some()));
    }
}
