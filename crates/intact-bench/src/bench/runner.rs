//! Running the plan on each subject: make the scratch filesystem or the directory, measure
//! every size, the batch and the syscall traces, and undo what was made.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::BatchMode;

use super::env::{self, FsFacts};
use super::error::BenchError;
use super::measure::{self, BatchCell, SizeCell};
use super::plan::{self, FsKind, format_size};
use super::prepare::{Context, Subject};
use super::results::{self, FsResult, TargetCheck};
use super::{chart, report, syscalls};
use torture_engine::loopfs::ScratchFs;

/// The run's directory for images and mount points, removed (when empty) at the end.
pub(super) struct ScratchDir {
    pub(super) path: PathBuf,
}

impl ScratchDir {
    pub(super) fn create(root: &Path, run_id: &str) -> Result<ScratchDir, BenchError> {
        let path = root.join(format!("torture-bench-{run_id}"));
        fs::create_dir(&path)
            .map_err(|error| BenchError::io("create scratch directory", &path, error))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir(&self.path) {
            eprintln!(
                "torture bench: cleanup: cannot remove {}: {error}",
                self.path.display()
            );
        }
    }
}

/// A `--dir` subdirectory of ours, removed with everything in it at the end.
struct OwnDir(PathBuf);

impl Drop for OwnDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.0) {
            eprintln!(
                "torture bench: cleanup: cannot remove {}: {error}",
                self.0.display()
            );
        }
    }
}

/// What a subject yielded (whatever was measured before an error) and the error, if any.
pub(super) type SubjectOutcome = (Option<(FsResult, Vec<TargetCheck>)>, Option<BenchError>);

pub(super) fn bench_subject(
    subject: &Subject,
    scratch: Option<&Path>,
    image_mib: u64,
    context: &Context,
    cancel: &AtomicBool,
) -> SubjectOutcome {
    match subject {
        Subject::Dir(dir) => bench_dir(dir, context, cancel),
        Subject::Fs(kind) => match scratch {
            Some(scratch) => bench_scratch_fs(*kind, scratch, image_mib, context, cancel),
            None => (
                None,
                Some(BenchError::Usage(
                    "internal: --fs without a scratch directory".into(),
                )),
            ),
        },
    }
}

fn bench_dir(dir: &Path, context: &Context, cancel: &AtomicBool) -> SubjectOutcome {
    let own = dir.join(format!(".torture-bench-{}", context.run_id));
    if let Err(error) = fs::create_dir(&own) {
        return (
            None,
            Some(BenchError::io(
                "create a benchmark directory in",
                dir,
                error,
            )),
        );
    }
    let own = OwnDir(own);
    let facts = env::probe_fs(&own.0, &context.machine);
    let label = format!("{} {}", facts.fstype(), dir.display());
    let outcome = bench_in(&own.0, label, "--dir", facts, Vec::new(), context, cancel);
    drop(own);
    outcome
}

fn bench_scratch_fs(
    kind: FsKind,
    scratch: &Path,
    image_mib: u64,
    context: &Context,
    cancel: &AtomicBool,
) -> SubjectOutcome {
    println!(
        "{kind:<6} making a {image_mib} MiB scratch filesystem under {}",
        scratch.display()
    );
    let scratch_fs = match ScratchFs::create(kind, scratch, image_mib) {
        Ok(scratch_fs) => scratch_fs,
        Err(error) => return (None, Some(error.into())),
    };
    if cancel.load(Ordering::SeqCst) {
        report_teardown(scratch_fs.teardown());
        return (None, Some(BenchError::Cancelled { report: None }));
    }
    let facts = env::probe_fs(&scratch_fs.mount_point, &context.machine);
    let dir = scratch_fs.mount_point.clone();
    let setup = scratch_fs.setup.clone();
    let (mut result, error) = bench_in(
        &dir,
        kind.name().to_owned(),
        "--fs",
        facts,
        setup,
        context,
        cancel,
    );
    let problems = scratch_fs.teardown();
    if let Some((fs_result, _)) = result.as_mut() {
        fs_result
            .notes
            .extend(problems.iter().map(|problem| format!("cleanup: {problem}")));
    }
    report_teardown(problems);
    (result, error)
}

fn report_teardown(problems: Vec<String>) {
    for problem in problems {
        eprintln!("torture bench: cleanup: {problem}");
    }
}

/// Measures every size, the batch and the syscall traces in `dir`; keeps what was measured
/// even when a later step fails.
fn bench_in(
    dir: &Path,
    label: String,
    origin: &'static str,
    facts: FsFacts,
    setup: Vec<String>,
    context: &Context,
    cancel: &AtomicBool,
) -> SubjectOutcome {
    for warning in &facts.warnings {
        eprintln!("torture bench: WARNING ({label}): {warning}");
    }
    let mut fs_result = FsResult {
        label,
        origin,
        facts,
        setup,
        sizes: Vec::new(),
        batch: None,
        concurrent: None,
        syscalls: Vec::new(),
        notes: Vec::new(),
    };
    let mut cells: Vec<SizeCell> = Vec::new();
    let mut batch_cell: Option<BatchCell> = None;
    let error = measure_all(
        dir,
        context,
        cancel,
        &mut fs_result,
        &mut cells,
        &mut batch_cell,
    )
    .err();
    let targets = results::check_targets(&fs_result, &cells, batch_cell.as_ref());
    let has_data = !fs_result.sizes.is_empty();
    (has_data.then_some((fs_result, targets)), error)
}

fn measure_all(
    dir: &Path,
    context: &Context,
    cancel: &AtomicBool,
    fs_result: &mut FsResult,
    cells: &mut Vec<SizeCell>,
    batch_cell: &mut Option<BatchCell>,
) -> Result<(), BenchError> {
    let plan = &context.plan;
    for &size in &plan.sizes_bytes {
        let cell = measure::measure_size(dir, size, &plan.strategies, plan.rounds, cancel)?;
        let summary = results::summarize_size(&cell);
        print_size(&fs_result.label, &summary);
        fs_result.sizes.push(summary);
        cells.push(cell);
    }
    if let Some(batch_plan) = plan.batch {
        let cell = measure::measure_batch(dir, batch_plan, cancel)?;
        let summary = results::summarize_batch(&cell);
        print_batch(&fs_result.label, &summary);
        fs_result.batch = Some(summary);
        *batch_cell = Some(cell);
    }
    if let Some(concurrent_plan) = plan.concurrent {
        let cell = super::concurrent::measure(dir, concurrent_plan, cancel)?;
        let summary = super::concurrent::summarize(&cell);
        super::concurrent::print(&fs_result.label, &summary);
        fs_result.concurrent = Some(summary);
    }
    if context.trace_syscalls {
        trace_all(dir, context, fs_result)?;
    } else {
        fs_result
            .notes
            .push("syscall traces skipped (--no-syscalls, or strace not installed)".into());
    }
    Ok(())
}

/// One traced write per strategy (at the smallest size) and per batch mode (three files).
fn trace_all(dir: &Path, context: &Context, fs_result: &mut FsResult) -> Result<(), BenchError> {
    let trace_dir = dir.join("trace");
    fs::create_dir(&trace_dir)
        .map_err(|error| BenchError::io("create directory", &trace_dir, error))?;
    let size = context
        .plan
        .sizes_bytes
        .first()
        .copied()
        .unwrap_or(plan::KIB);
    let payload = crate::payload(size as usize);
    let log = std::env::temp_dir().join(format!("torture-bench-{}.strace", context.run_id));
    let mut traces = Vec::new();
    for &strategy in &context.plan.strategies {
        let target = [trace_dir.join(format!("{strategy}.dat"))];
        seed_all(&target, &payload)?;
        let threads = syscalls::Threads::Caller;
        traces.push(syscalls::trace(
            strategy.name(),
            &trace_dir,
            &log,
            threads,
            || {
                let _ = crate::write(strategy, &target[0], &payload);
            },
        ));
    }
    for mode in BatchMode::ALL {
        let paths = crate::numbered_paths(&trace_dir, mode.name(), 3);
        seed_all(&paths, &payload)?;
        traces.push(syscalls::trace(
            &format!("{mode} (3 files)"),
            &trace_dir,
            &log,
            syscalls::Threads::All,
            || {
                let _ = crate::write_files(mode, &paths, &payload);
            },
        ));
    }
    for traced in traces {
        match traced {
            Ok(trace) => fs_result.syscalls.push(trace),
            Err(problem) => fs_result
                .notes
                .push(format!("a syscall trace failed: {problem}")),
        }
    }
    fs::remove_dir_all(&trace_dir)
        .map_err(|error| BenchError::io("remove directory", &trace_dir, error))
}

/// Writes the old version each traced write replaces.
fn seed_all(paths: &[PathBuf], payload: &[u8]) -> Result<(), BenchError> {
    paths.iter().try_for_each(|path| {
        fs::write(path, payload).map_err(|error| BenchError::io("seed", path, error))
    })
}

fn print_size(label: &str, size: &results::SizeResult) {
    println!(
        "{label:<6} {:>7}  {} rounds in {:.1} s",
        format_size(size.size_bytes),
        size.rounds,
        size.elapsed_ms as f64 / 1e3
    );
    for row in &size.rows {
        println!(
            "  {:<18} median {:>9}  p10..p90 {:>9} ..{:>9}  {:>7} files/s  {:>8.1} MB/s  x{:<6} plain  x{:<6} plain-fsync",
            row.strategy,
            report::duration(row.latency_ns.median),
            report::duration(row.latency_ns.p10),
            report::duration(row.latency_ns.p90),
            chart::compact(row.files_per_s),
            row.mb_per_s,
            row.ratio_to_plain
                .map_or_else(|| "-".into(), |ratio| format!("{:.2}", ratio.median)),
            row.ratio_to_plain_fsync
                .map_or_else(|| "-".into(), |ratio| format!("{:.2}", ratio.median)),
        );
    }
}

fn print_batch(label: &str, batch: &results::BatchResult) {
    println!(
        "{label:<6} batch of {} x {}  {} rounds in {:.1} s",
        batch.files,
        format_size(batch.file_bytes),
        batch.rounds,
        batch.elapsed_ms as f64 / 1e3
    );
    for row in &batch.rows {
        println!(
            "  {:<18} median {:>9}  {:>7} files/s",
            row.mode,
            report::duration(row.latency_ns.median),
            chart::compact(row.files_per_s)
        );
    }
    if let Some(speedup) = batch.speedup {
        println!(
            "  batch speedup      x{:.2} (p10 {:.2}, p90 {:.2})",
            speedup.median, speedup.p10, speedup.p90
        );
    }
}
