//! Pure summaries of the measurements (what `results.json` holds) and the targets
//! checked against them, with the reason when one is missed.

use crate::{BatchMode, Strategy};
use serde::Serialize;

use super::env::{FsFacts, Machine};
use super::measure::{BatchCell, Series, SizeCell};
use super::plan::{KIB, Plan, format_size};
use super::stats::{Spread, latency_spread, paired_ratio, per_second};
use super::syscalls::Trace;

pub const SCHEMA: &str = "intact-bench/1";

/// One strategy at one size on one filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyRow {
    pub strategy: &'static str,
    pub description: &'static str,
    pub atomic: bool,
    pub durable: bool,
    /// Latency of one whole write, nanoseconds.
    pub latency_ns: Spread,
    /// Files per second at the median latency.
    pub files_per_s: f64,
    /// Megabytes (10^6 bytes) per second at the median latency.
    pub mb_per_s: f64,
    /// Median over rounds of this strategy's latency divided by `plain`'s in the same round.
    pub ratio_to_plain: Option<Spread>,
    /// The same against `plain-fsync`.
    pub ratio_to_plain_fsync: Option<Spread>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeResult {
    pub size_bytes: u64,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub rows: Vec<StrategyRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchRow {
    pub mode: &'static str,
    pub description: &'static str,
    /// Latency of publishing all the files, nanoseconds.
    pub latency_ns: Spread,
    pub files_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    pub files: usize,
    pub file_bytes: u64,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub rows: Vec<BatchRow>,
    /// Per round: sequential latency divided by batch latency (= batch files/s over sequential).
    pub speedup: Option<Spread>,
}

/// Everything measured on one filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct FsResult {
    /// Short label for tables and charts (`ext4`, or `ext4 /data` for a `--dir`).
    pub label: String,
    /// `--fs` (a scratch filesystem made for this run) or `--dir`.
    pub origin: &'static str,
    pub facts: FsFacts,
    pub setup: Vec<String>,
    pub sizes: Vec<SizeResult>,
    pub batch: Option<BatchResult>,
    /// The concurrent comparison (16 threads in one directory).
    pub concurrent: Option<super::concurrent::ConcurrentResult>,
    pub syscalls: Vec<Trace>,
    pub notes: Vec<String>,
}

impl FsResult {
    pub fn size(&self, size_bytes: u64) -> Option<&SizeResult> {
        self.sizes.iter().find(|size| size.size_bytes == size_bytes)
    }

    pub fn trace(&self, subject: &str) -> Option<&Trace> {
        self.syscalls.iter().find(|trace| trace.subject == subject)
    }
}

/// The whole run, as written to `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub schema: &'static str,
    pub run_id: String,
    pub command: String,
    pub partial: bool,
    pub machine: Machine,
    pub plan: Plan,
    pub filesystems: Vec<FsResult>,
    pub targets: Vec<TargetCheck>,
}

fn series_of<S: PartialEq + Copy>(series: &[Series<S>], subject: S) -> Option<&[u64]> {
    series
        .iter()
        .find(|one| one.subject == subject)
        .map(|one| one.samples_ns.as_slice())
}

/// Rows for one size cell. A strategy without samples (interrupted run) is left out.
pub fn summarize_size(cell: &SizeCell) -> SizeResult {
    let plain = series_of(&cell.series, Strategy::Plain);
    let plain_fsync = series_of(&cell.series, Strategy::PlainFsync);
    let rows = cell
        .series
        .iter()
        .filter_map(|series| {
            let latency_ns = latency_spread(&series.samples_ns)?;
            let files_per_s = per_second(latency_ns.median, 1.0);
            Some(StrategyRow {
                strategy: series.subject.name(),
                description: series.subject.description(),
                atomic: series.subject.atomic(),
                durable: series.subject.durable(),
                latency_ns,
                files_per_s,
                mb_per_s: files_per_s * cell.size_bytes as f64 / 1e6,
                ratio_to_plain: plain.and_then(|plain| paired_ratio(&series.samples_ns, plain)),
                ratio_to_plain_fsync: plain_fsync
                    .and_then(|reference| paired_ratio(&series.samples_ns, reference)),
            })
        })
        .collect();
    SizeResult {
        size_bytes: cell.size_bytes,
        rounds: cell.rounds,
        elapsed_ms: cell.elapsed_ms,
        rows,
    }
}

pub fn summarize_batch(cell: &BatchCell) -> BatchResult {
    let files = cell.plan.files;
    let rows = cell
        .series
        .iter()
        .filter_map(|series| {
            let latency_ns = latency_spread(&series.samples_ns)?;
            Some(BatchRow {
                mode: series.subject.name(),
                description: series.subject.description(),
                files_per_s: per_second(latency_ns.median, files as f64),
                latency_ns,
            })
        })
        .collect();
    let speedup = series_of(&cell.series, BatchMode::Sequential)
        .zip(series_of(&cell.series, BatchMode::Batch))
        .and_then(|(sequential, batch)| paired_ratio(sequential, batch));
    BatchResult {
        files,
        file_bytes: cell.plan.file_bytes,
        rounds: cell.rounds,
        elapsed_ms: cell.elapsed_ms,
        rows,
        speedup,
    }
}

/// The speed targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// `intact` median ratio to `atomic-write-file` at most 1.02, every size.
    FullVsAtomicWriteFile,
    /// `intact` at most 0.7x `atomicwrites`, at 64 KiB and below.
    FullVsAtomicwrites,
    /// `intact-none` within 1.05x of `tempfile-persist`, every size.
    NoneVsTempfile,
    /// `intact-batch` at least 2x the files/s of sequential `intact::write`.
    BatchVsSequential,
    /// `intact x16` at least 0.9x the files/s of the measured limit of 16 concurrent writers
    /// (or, where that limit allows it, 2x `atomic-write-file x16`, which then also meets it).
    ConcurrentVsLimit,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::FullVsAtomicWriteFile,
        Target::FullVsAtomicwrites,
        Target::NoneVsTempfile,
        Target::BatchVsSequential,
        Target::ConcurrentVsLimit,
    ];

    pub const fn statement(self) -> &'static str {
        match self {
            Target::FullVsAtomicWriteFile => "intact ≤ 1.02 × atomic-write-file (latency)",
            Target::FullVsAtomicwrites => "intact ≤ 0.70 × atomicwrites (latency, ≤ 64 KiB)",
            Target::NoneVsTempfile => "intact-none ≤ 1.05 × tempfile-persist (latency)",
            Target::BatchVsSequential => "intact-batch ≥ 2 × intact-sequential (files/s)",
            Target::ConcurrentVsLimit => {
                "intact x16 ≥ 2 × atomic-write-file x16, or ≥ 0.9 × the limit (files/s)"
            }
        }
    }

    /// (subject, reference, limit): a latency ratio must stay at or below the limit, except
    /// for the batch, whose speedup must reach it.
    const fn terms(self) -> (Strategy, Strategy, f64) {
        match self {
            Target::FullVsAtomicWriteFile => (Strategy::Intact, Strategy::AtomicWriteFile, 1.02),
            Target::FullVsAtomicwrites => (Strategy::Intact, Strategy::Atomicwrites, 0.70),
            Target::NoneVsTempfile => (Strategy::IntactNone, Strategy::TempfilePersist, 1.05),
            Target::BatchVsSequential => (Strategy::Intact, Strategy::Intact, 2.0),
            // Against the limit contender, not a strategy: see `check_concurrent`.
            Target::ConcurrentVsLimit => (Strategy::Intact, Strategy::Intact, 0.9),
        }
    }

    const fn applies_to(self, size_bytes: u64) -> bool {
        match self {
            Target::FullVsAtomicwrites => size_bytes <= 64 * KIB,
            Target::FullVsAtomicWriteFile
            | Target::NoneVsTempfile
            | Target::BatchVsSequential
            | Target::ConcurrentVsLimit => true,
        }
    }
}

/// One target checked on one filesystem (and size).
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: Target,
    pub statement: &'static str,
    pub filesystem: String,
    pub size_bytes: u64,
    /// Median per-round ratio (latency ratio, or batch speedup), with its p10 and p90.
    pub measured: Spread,
    pub limit: f64,
    pub met: bool,
    /// Whether fsync on this filesystem can be real; if not, the check says little.
    pub fsync_real: bool,
    /// For a miss: by how much, and why, from this run's own figures.
    pub explanation: Option<String>,
}

/// Every target on one filesystem, at every size where both sides were measured.
pub fn check_targets(
    fs: &FsResult,
    size_cells: &[SizeCell],
    batch_cell: Option<&BatchCell>,
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    for target in Target::ALL {
        match target {
            Target::BatchVsSequential => {
                checks.extend(batch_cell.and_then(|cell| check_batch(fs, cell)))
            }
            Target::ConcurrentVsLimit => checks.extend(check_concurrent(fs)),
            Target::FullVsAtomicWriteFile | Target::FullVsAtomicwrites | Target::NoneVsTempfile => {
                checks.extend(
                    size_cells
                        .iter()
                        .filter_map(|cell| check_latency(target, fs, cell)),
                );
            }
        }
    }
    checks
}

fn check_latency(target: Target, fs: &FsResult, cell: &SizeCell) -> Option<TargetCheck> {
    let (subject, reference, limit) = target.terms();
    if !target.applies_to(cell.size_bytes) {
        return None;
    }
    let measured = paired_ratio(
        series_of(&cell.series, subject)?,
        series_of(&cell.series, reference)?,
    )?;
    let met = measured.median <= limit;
    let explanation = (!met)
        .then(|| explain_latency_miss(fs, cell.size_bytes, subject, reference, measured, limit));
    Some(TargetCheck {
        target,
        statement: target.statement(),
        filesystem: fs.label.clone(),
        size_bytes: cell.size_bytes,
        measured,
        limit,
        met,
        fsync_real: fs.facts.fsync_real,
        explanation,
    })
}

fn check_batch(fs: &FsResult, cell: &BatchCell) -> Option<TargetCheck> {
    let target = Target::BatchVsSequential;
    let limit = target.terms().2;
    let measured = summarize_batch(cell).speedup?;
    let met = measured.median >= limit;
    let explanation = (!met).then(|| explain_batch_miss(fs, cell, measured, limit));
    Some(TargetCheck {
        target,
        statement: target.statement(),
        filesystem: fs.label.clone(),
        size_bytes: cell.plan.file_bytes,
        measured,
        limit,
        met,
        fsync_real: fs.facts.fsync_real,
        explanation,
    })
}

/// Met when `intact x16` reaches 0.9x the limit's files/s, or 2x `atomic-write-file x16`'s
/// (median of the per-round ratios); `measured` is the ratio to the limit.
fn check_concurrent(fs: &FsResult) -> Option<TargetCheck> {
    use crate::concurrent::Contender;
    let target = Target::ConcurrentVsLimit;
    let limit = target.terms().2;
    let result = fs.concurrent.as_ref()?;
    let row = result
        .rows
        .iter()
        .find(|row| row.contender == Contender::Intact.name())?;
    let measured = row.vs_limit?;
    let vs_awf = row.vs_atomic_write_file?;
    let met = measured.median >= limit || vs_awf.median >= 2.0;
    let explanation = (!met).then(|| {
        format!(
            "intact x16 reached {:.2}× the limit's files/s (p10 {:.2}, p90 {:.2}) and {:.2}× atomic-write-file x16's",
            measured.median, measured.p10, measured.p90, vs_awf.median
        )
    });
    Some(TargetCheck {
        target,
        statement: target.statement(),
        filesystem: fs.label.clone(),
        size_bytes: result.file_bytes,
        measured,
        limit,
        met,
        fsync_real: fs.facts.fsync_real,
        explanation,
    })
}

fn median_of(fs: &FsResult, size_bytes: u64, strategy: Strategy) -> Option<f64> {
    let row = fs
        .size(size_bytes)?
        .rows
        .iter()
        .find(|row| row.strategy == strategy.name())?;
    Some(row.latency_ns.median)
}

fn explain_latency_miss(
    fs: &FsResult,
    size_bytes: u64,
    subject: Strategy,
    reference: Strategy,
    measured: Spread,
    limit: f64,
) -> String {
    let mut parts = vec![format!(
        "{subject} took {:.3}× the time of {reference} at {}, {:.1}% over the {limit:.2} limit",
        measured.median,
        format_size(size_bytes),
        (measured.median / limit - 1.0) * 100.0
    )];
    if measured.p10 <= limit {
        parts.push(format!(
            "the per-round ratio spread from {:.3} (p10) to {:.3} (p90), which straddles the limit: \
             the gap is within this run's noise",
            measured.p10, measured.p90
        ));
    }
    if !fs.facts.fsync_real {
        parts.push(
            "fsync is not real on this filesystem, so only syscall overhead is compared".into(),
        );
    }
    parts.extend(absolute_gap(fs, size_bytes, subject, reference));
    if subject.durable() && fs.facts.fsync_real {
        parts.extend(cost_breakdown(fs, size_bytes));
    }
    parts.extend(syscall_difference(fs, subject.name(), reference.name()));
    parts.join("; ") + "."
}

/// The difference of the two medians, in time per write.
fn absolute_gap(
    fs: &FsResult,
    size_bytes: u64,
    subject: Strategy,
    reference: Strategy,
) -> Option<String> {
    let ours = median_of(fs, size_bytes, subject)?;
    let theirs = median_of(fs, size_bytes, reference)?;
    let show = super::report::duration;
    Some(format!(
        "medians {} against {}: {}{} per write",
        show(ours),
        show(theirs),
        if ours >= theirs { "+" } else { "-" },
        show((ours - theirs).abs())
    ))
}

/// Where intact's time goes on this filesystem: the steps' costs as differences of medians.
fn cost_breakdown(fs: &FsResult, size_bytes: u64) -> Option<String> {
    let none = median_of(fs, size_bytes, Strategy::IntactNone)?;
    let data = median_of(fs, size_bytes, Strategy::IntactData)?;
    let full = median_of(fs, size_bytes, Strategy::Intact)?;
    Some(format!(
        "intact's own steps here: temp + write + rename {}, file fsync +{}, directory fsync +{}",
        super::report::duration(none),
        super::report::duration((data - none).max(0.0)),
        super::report::duration((full - data).max(0.0))
    ))
}

/// Which syscalls one strategy makes that the other does not (from the strace of one write).
pub fn syscall_difference(fs: &FsResult, subject: &str, reference: &str) -> Option<String> {
    let (ours, theirs) = (fs.trace(subject)?, fs.trace(reference)?);
    let (our_counts, their_counts) = (ours.counts(), theirs.counts());
    let extra = |a: &std::collections::BTreeMap<&str, usize>,
                 b: &std::collections::BTreeMap<&str, usize>| {
        a.iter()
            .filter_map(|(name, &count)| {
                let other = b.get(name).copied().unwrap_or(0);
                (count > other).then(|| format!("{name} ×{}", count - other))
            })
            .collect::<Vec<_>>()
    };
    let (ours_only, theirs_only) = (
        extra(&our_counts, &their_counts),
        extra(&their_counts, &our_counts),
    );
    let list = |calls: &[String]| {
        if calls.is_empty() {
            "nothing".to_owned()
        } else {
            calls.join(", ")
        }
    };
    Some(format!(
        "one write (strace): {subject} makes {} syscalls ({} fsync-family), {reference} {} ({}); \
         {subject} adds {}; {reference} adds {}",
        ours.calls.len(),
        ours.sync_calls(),
        theirs.calls.len(),
        theirs.sync_calls(),
        list(&ours_only),
        list(&theirs_only)
    ))
}

fn explain_batch_miss(fs: &FsResult, cell: &BatchCell, measured: Spread, limit: f64) -> String {
    let mut parts = vec![format!(
        "the batch reached {:.2}× the sequential files/s, {:.0}% short of {limit:.0}×",
        measured.median,
        (1.0 - measured.median / limit) * 100.0
    )];
    let summary = summarize_batch(cell);
    let per_file = |mode: BatchMode| {
        let row = summary.rows.iter().find(|row| row.mode == mode.name())?;
        Some(row.latency_ns.median / cell.plan.files as f64)
    };
    let single =
        median_of(fs, cell.plan.file_bytes, Strategy::IntactNone).filter(|_| fs.facts.fsync_real);
    if let (Some(batch), Some(sequential), Some(unsynced)) = (
        per_file(BatchMode::Batch),
        per_file(BatchMode::Sequential),
        single,
    ) {
        let show = super::report::duration;
        parts.push(format!(
            "per file {} in the batch against {} sequentially, of which about {} is the write \
             without any fsync (intact-none); so the batch still spent {} per file on fsyncs \
             against {} sequentially",
            show(batch),
            show(sequential),
            show(unsynced),
            show((batch - unsynced).max(0.0)),
            show((sequential - unsynced).max(0.0)),
        ));
        if batch - unsynced > 0.5 * (sequential - unsynced) {
            parts.push(
                "the overlapped fsyncs saved less than half their cost: this filesystem ran them \
             largely one after another instead of sharing one journal commit"
                    .into(),
            );
        }
    }
    if !fs.facts.fsync_real {
        parts.push(
            "fsync is not real on this filesystem, so there is nothing for a batch to overlap, \
             and its threads cost more than they save"
                .into(),
        );
    }
    parts.join("; ") + "."
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::env::Device;
    use crate::bench::plan::{BatchPlan, Rounds};
    use std::path::PathBuf;

    fn cell(size_bytes: u64, samples: &[(Strategy, Vec<u64>)]) -> SizeCell {
        SizeCell {
            size_bytes,
            rounds: samples[0].1.len(),
            elapsed_ms: 1,
            series: samples
                .iter()
                .map(|(subject, samples_ns)| Series {
                    subject: *subject,
                    samples_ns: samples_ns.clone(),
                })
                .collect(),
        }
    }

    fn fs_result(label: &str, sizes: Vec<SizeResult>) -> FsResult {
        FsResult {
            label: label.into(),
            origin: "--fs",
            facts: FsFacts {
                dir: PathBuf::from("/mnt"),
                mount: None,
                device: Device::default(),
                fsync_real: true,
                warnings: Vec::new(),
            },
            setup: Vec::new(),
            sizes,
            batch: None,
            concurrent: None,
            syscalls: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn rows_carry_rates_and_paired_ratios() {
        let cell = cell(
            1_000_000,
            &[
                (Strategy::Plain, vec![1_000_000, 2_000_000]),
                (Strategy::PlainFsync, vec![4_000_000, 8_000_000]),
            ],
        );
        let size = summarize_size(&cell);
        let fsync = &size.rows[1];
        assert_eq!(fsync.ratio_to_plain.unwrap().median, 4.0);
        assert_eq!(fsync.ratio_to_plain_fsync.unwrap().median, 1.0);
        assert!((fsync.files_per_s - 1e9 / 6e6).abs() < 1e-6);
        assert!((fsync.mb_per_s - fsync.files_per_s).abs() < 1e-6);
    }

    #[test]
    fn targets_are_met_or_missed_by_the_paired_median() {
        let samples = [
            (Strategy::IntactNone, vec![100_000; 3]),
            (Strategy::IntactData, vec![300_000; 3]),
            (Strategy::Intact, vec![500_000; 3]),
            (Strategy::TempfilePersist, vec![100_000; 3]),
            (Strategy::AtomicWriteFile, vec![450_000; 3]),
            (Strategy::Atomicwrites, vec![800_000; 3]),
        ];
        let small = cell(KIB, &samples);
        let large = cell(16 << 20, &samples);
        let fs = fs_result("ext4", vec![summarize_size(&small), summarize_size(&large)]);
        let checks = check_targets(&fs, &[small, large], None);
        let find = |target: Target, size_bytes: u64| {
            checks
                .iter()
                .find(|check| check.target == target && check.size_bytes == size_bytes)
        };
        let missed = find(Target::FullVsAtomicWriteFile, KIB).unwrap();
        assert!(!missed.met);
        let why = missed.explanation.as_deref().unwrap();
        assert!(why.contains("1.111×") && why.contains("8.9% over"), "{why}");
        assert!(
            why.contains("medians 500 µs against 450 µs: +50.0 µs per write")
                && why.contains("file fsync +200 µs, directory fsync +200 µs"),
            "{why}"
        );
        assert!(
            find(Target::FullVsAtomicwrites, KIB).unwrap().met,
            "500 µs against 800 µs is 0.625"
        );
        assert!(
            find(Target::FullVsAtomicwrites, 16 << 20).is_none(),
            "only at 64 KiB and below"
        );
        assert!(find(Target::NoneVsTempfile, 16 << 20).unwrap().met);
    }

    #[test]
    fn the_batch_target_wants_a_speedup() {
        let batch = BatchCell {
            plan: BatchPlan {
                files: 10,
                file_bytes: KIB,
                rounds: Rounds {
                    min: 1,
                    max: 1,
                    budget_ms: 0,
                },
            },
            rounds: 2,
            elapsed_ms: 1,
            series: vec![
                Series {
                    subject: BatchMode::Batch,
                    samples_ns: vec![1_000_000, 1_000_000],
                },
                Series {
                    subject: BatchMode::Sequential,
                    samples_ns: vec![1_500_000, 1_500_000],
                },
            ],
        };
        let single = cell(KIB, &[(Strategy::IntactNone, vec![20_000; 3])]);
        let fs = fs_result("btrfs", vec![summarize_size(&single)]);
        let check = check_targets(&fs, &[], Some(&batch)).pop().unwrap();
        assert_eq!(check.target, Target::BatchVsSequential);
        assert_eq!(check.measured.median, 1.5);
        assert!(!check.met);
        let why = check.explanation.unwrap();
        assert!(why.contains("25% short of 2×"), "{why}");
        // 100 µs per file in the batch, 150 µs sequentially, 20 µs of it without fsync.
        assert!(
            why.contains("spent 80.0 µs per file on fsyncs against 130 µs"),
            "{why}"
        );
        assert!(why.contains("saved less than half"), "{why}");
    }
}
