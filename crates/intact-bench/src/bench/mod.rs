//! `torture bench`: what atomic and durable writes cost, per strategy, per filesystem.
//!
//! For each directory (`--dir`) or scratch filesystem (`--fs`, loop-mounted and removed
//! afterwards), every write strategy of `intact_bench` runs interleaved and rotated round by
//! round at each payload size; then the batch and the concurrent comparison (16 threads in one
//! directory, [`concurrent`]); the report gives medians, p10/p90, files/s, MB/s and ratios to
//! `plain` and `plain-fsync` from the same run, checks the targets, and records what the
//! numbers depend on (kernel, filesystem, mount options, device, whether fsync can be real).
//!
//! Pure parts: [`plan`], [`stats`], [`mountinfo`], [`results`] (targets). The rest touches the
//! system: [`loopfs`] (losetup, mkfs, mount), [`measure`], [`syscalls`] (strace), [`report`];
//! `prepare` checks everything before the first write and `runner` drives each subject.

pub mod chart;
pub mod concurrent;
pub mod env;
pub mod error;
pub mod measure;
pub mod plan;
mod prepare;
pub mod report;
pub mod results;
mod runner;
pub mod stats;
pub mod syscalls;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::Strategy;

pub use error::BenchError;
use plan::{FsKind, parse_size};
use prepare::{Context, Subject, prepare};
use results::{FsResult, RunResult, TargetCheck};
use runner::{ScratchDir, bench_subject};

/// `torture bench`: compare write strategies across directories and filesystems.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  torture bench --dir /data --quick\n  torture bench --fs ext4,xfs,btrfs,tmpfs   (root: loop-mounted scratch filesystems)"
)]
pub struct BenchArgs {
    /// Benchmark in this existing directory (repeatable). Files go in a fresh subdirectory that
    /// is removed afterwards.
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,

    /// Make a scratch filesystem of each kind on a loop device (tmpfs: in memory), benchmark it,
    /// and remove it again. Needs root. Kinds: ext4, xfs, btrfs, tmpfs.
    #[arg(long = "fs", value_name = "LIST", value_delimiter = ',')]
    pub filesystems: Vec<FsKind>,

    /// A short run for CI (under a minute for four filesystems): sizes 1 KiB, 64 KiB and 1 MiB,
    /// about two seconds per size.
    #[arg(long)]
    pub quick: bool,

    /// Payload sizes [default: 1KiB,64KiB,1MiB,16MiB; with --quick 1KiB,64KiB,1MiB].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_size)]
    pub sizes: Vec<u64>,

    /// Only these strategies (plain and plain-fsync are always kept: every ratio uses them).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub strategies: Vec<Strategy>,

    /// Exactly this many measured rounds per size (and for the batch), instead of the time budget.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: Option<u64>,

    /// Files in the batch comparison [default: 1000]; 0 leaves the batch out.
    #[arg(long, value_name = "N")]
    pub batch_files: Option<usize>,

    /// Passes per round of the concurrent comparison (16 threads, one 1 KiB file each, each
    /// replaced that many times per round) [default: 4; with --quick 2]; 0 leaves it out.
    #[arg(long, value_name = "N")]
    pub concurrent_passes: Option<usize>,

    /// Do not trace one write per strategy with strace.
    #[arg(long)]
    pub no_syscalls: bool,

    /// Where --fs puts its image files and mount points (on a real disk, not tmpfs).
    #[arg(long, value_name = "DIR", default_value = "/var/tmp")]
    pub scratch: PathBuf,

    /// Size of each --fs image (sparse) and tmpfs, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub image_mib: u64,

    /// Reports go to OUT/<run-id>/.
    #[arg(long, value_name = "OUT", default_value = "reports/bench")]
    pub out: PathBuf,

    /// Name of this run's report directory [default: UTC date and time].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct BenchOutcome {
    pub summary: PathBuf,
    pub targets: Vec<TargetCheck>,
}

impl BenchOutcome {
    /// 0: the benchmark ran. Missed targets are findings in the report, not a failed run
    /// (numbers from a shared CI machine are too noisy to gate on).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

/// Runs `torture bench`. The caller owns the one Ctrl-C handler and raises `cancel`; the run
/// then stops between measurements and removes the scratch filesystems it made.
pub fn run(args: &BenchArgs, cancel: Arc<AtomicBool>) -> Result<BenchOutcome, BenchError> {
    let context = prepare(args)?;
    let started = Instant::now();
    let mut finished: Vec<(FsResult, Vec<TargetCheck>)> = Vec::new();
    let mut stopped = None;
    let scratch = if context
        .subjects
        .iter()
        .any(|subject| matches!(subject, Subject::Fs(_)))
    {
        Some(ScratchDir::create(&args.scratch, &context.run_id)?)
    } else {
        None
    };
    for subject in &context.subjects {
        let scratch_path = scratch.as_ref().map(|dir| dir.path.as_path());
        let (result, error) =
            bench_subject(subject, scratch_path, args.image_mib, &context, &cancel);
        finished.extend(result);
        if let Some(error) = error {
            stopped = Some(error);
            break;
        }
    }
    drop(scratch);
    finish(context, finished, stopped, started)
}

fn finish(
    context: Context,
    finished: Vec<(FsResult, Vec<TargetCheck>)>,
    stopped: Option<BenchError>,
    started: Instant,
) -> Result<BenchOutcome, BenchError> {
    let (filesystems, target_lists): (Vec<FsResult>, Vec<Vec<TargetCheck>>) =
        finished.into_iter().unzip();
    let targets: Vec<TargetCheck> = target_lists.into_iter().flatten().collect();
    let writes = count_writes(&filesystems);
    let run = RunResult {
        schema: results::SCHEMA,
        run_id: context.run_id.clone(),
        command: context.command.clone(),
        partial: stopped.is_some(),
        machine: context.machine.clone(),
        plan: context.plan.clone(),
        filesystems,
        targets,
    };
    let has_data = run.filesystems.iter().any(|fs| !fs.sizes.is_empty());
    let summary = if has_data {
        Some(report::write_report(&context.report_dir, &run)?)
    } else {
        None
    };
    if let Some(error) = stopped {
        let cancelled = matches!(error, BenchError::Cancelled { .. });
        return Err(if cancelled {
            BenchError::Cancelled { report: summary }
        } else {
            error
        });
    }
    let summary = summary.ok_or_else(|| BenchError::Usage("nothing was measured".into()))?;
    print_summary_line(&run, writes, started, &summary);
    Ok(BenchOutcome {
        summary,
        targets: run.targets,
    })
}

fn count_writes(filesystems: &[FsResult]) -> usize {
    filesystems
        .iter()
        .flat_map(|fs| &fs.sizes)
        .map(|size| size.rounds * size.rows.len())
        .sum()
}

fn print_summary_line(run: &RunResult, writes: usize, started: Instant, summary: &Path) {
    let met = run.targets.iter().filter(|check| check.met).count();
    println!(
        "torture bench: {} filesystems x {} sizes x {} strategies, {writes} timed writes in {:.1} s; targets met {met}/{}; report {}",
        run.filesystems.len(),
        run.plan.sizes_bytes.len(),
        run.plan.strategies.len(),
        started.elapsed().as_secs_f64(),
        run.targets.len(),
        summary.display()
    );
}
