//! `torture bench`: what atomic and durable writes cost, per strategy, per filesystem.
//!
//! For each directory (`--dir`) or scratch filesystem (`--fs`, loop-mounted and removed
//! afterwards), every write strategy of `intact_bench` runs interleaved and rotated round by
//! round at each payload size; the report gives medians, p10/p90, files/s, MB/s and ratios to
//! `plain` and `plain+fsync` from the same run, checks the targets, and records what the
//! numbers depend on (kernel, filesystem, mount options, device, whether fsync can be real).
//!
//! Pure parts: [`plan`], [`stats`], [`mountinfo`], [`results`] (targets). The rest touches the
//! system: [`loopfs`] (losetup, mkfs, mount), [`measure`], [`syscalls`] (strace), [`report`].

pub mod chart;
pub mod env;
pub mod error;
pub mod loopfs;
pub mod measure;
pub mod mountinfo;
pub mod plan;
pub mod report;
pub mod results;
pub mod stats;
pub mod syscalls;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use intact_bench::{BatchMode, Strategy};

use env::{FsFacts, Machine};
pub use error::BenchError;
use loopfs::ScratchFs;
use measure::{BatchCell, SizeCell};
use plan::{FsKind, Plan, format_size, parse_size};
use results::{FsResult, RunResult, TargetCheck};

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

    /// Only these strategies (plain and plain+fsync are always kept: every ratio uses them).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub strategies: Vec<Strategy>,

    /// Exactly this many measured rounds per size, instead of the time budget.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: Option<u64>,

    /// Files in the batch comparison [default: 1000]; 0 leaves the batch out.
    #[arg(long, value_name = "N")]
    pub batch_files: Option<usize>,

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

/// Runs `torture bench`, installing a Ctrl-C/SIGTERM/SIGHUP handler for the run's lifetime.
/// A caller that has its own handler uses [`run_with_cancel`] instead.
pub fn run(args: &BenchArgs) -> Result<BenchOutcome, BenchError> {
    run_with_cancel(args, install_interrupt_handler()?)
}

fn install_interrupt_handler() -> Result<Arc<AtomicBool>, BenchError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let presses = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!(
                "torture bench: interrupted; removing scratch filesystems (this takes a moment)"
            );
        }
    })
    .map_err(|error| BenchError::Signal(error.to_string()))?;
    Ok(cancel)
}

/// One place to benchmark, as given on the command line.
#[derive(Debug, Clone)]
enum Subject {
    Dir(PathBuf),
    Fs(FsKind),
}

/// Everything fixed before the first write.
struct Context {
    plan: Plan,
    subjects: Vec<Subject>,
    run_id: String,
    report_dir: PathBuf,
    machine: Machine,
    command: String,
    trace_syscalls: bool,
}

/// Like [`run`], with a cancel flag the caller raises on Ctrl-C.
pub fn run_with_cancel(
    args: &BenchArgs,
    cancel: Arc<AtomicBool>,
) -> Result<BenchOutcome, BenchError> {
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

/// Checks the arguments and the machine before anything is created.
fn prepare(args: &BenchArgs) -> Result<Context, BenchError> {
    let plan = plan_from_args(args)?;
    let mut subjects: Vec<Subject> = args.dirs.iter().cloned().map(Subject::Dir).collect();
    let mut kinds = Vec::new();
    for &kind in &args.filesystems {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    subjects.extend(kinds.iter().copied().map(Subject::Fs));
    if subjects.is_empty() {
        return Err(BenchError::Usage(
            "say where to benchmark: --dir DIR (repeatable) for existing directories, or --fs ext4,xfs,btrfs,tmpfs (root) for scratch filesystems".into(),
        ));
    }
    for dir in &args.dirs {
        check_dir(dir)?;
    }
    if !kinds.is_empty() {
        check_fs_prerequisites(args, &kinds, &plan)?;
    }
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| default_run_id(plan.quick));
    check_run_id(&run_id)?;
    let report_dir = args.out.join(&run_id);
    if report_dir.exists() {
        return Err(BenchError::Usage(format!(
            "report directory {} already exists: choose another --run-id",
            report_dir.display()
        )));
    }
    let trace_syscalls = !args.no_syscalls && syscalls::available();
    Ok(Context {
        plan,
        subjects,
        run_id,
        report_dir,
        machine: Machine::probe(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        trace_syscalls,
    })
}

fn plan_from_args(args: &BenchArgs) -> Result<Plan, BenchError> {
    let mut plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    if !args.strategies.is_empty() {
        plan = plan.with_strategies(&args.strategies);
    }
    if !args.sizes.is_empty() {
        let mut sizes = args.sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        plan.sizes_bytes = sizes;
    }
    if let Some(rounds) = args.rounds {
        let rounds = usize::try_from(rounds)
            .map_err(|_| BenchError::Usage("--rounds is too large".into()))?;
        plan.rounds = plan::Rounds {
            min: rounds,
            max: rounds,
            budget_ms: 0,
        };
        if let Some(batch) = plan.batch.as_mut() {
            batch.rounds = plan::Rounds {
                min: rounds,
                max: rounds,
                budget_ms: 0,
            };
        }
    }
    match args.batch_files {
        Some(0) => plan.batch = None,
        Some(files) => {
            if let Some(batch) = plan.batch.as_mut() {
                batch.files = files;
            }
        }
        None => {}
    }
    Ok(plan)
}

fn check_dir(dir: &Path) -> Result<(), BenchError> {
    let metadata = fs::metadata(dir).map_err(|error| BenchError::io("use --dir", dir, error))?;
    if !metadata.is_dir() {
        return Err(BenchError::Usage(format!(
            "--dir {} is not a directory",
            dir.display()
        )));
    }
    Ok(())
}

/// Root, tools, a scratch directory on a real disk, and images big enough for the plan.
fn check_fs_prerequisites(
    args: &BenchArgs,
    kinds: &[FsKind],
    plan: &Plan,
) -> Result<(), BenchError> {
    if env::effective_uid() != Some(0) {
        return Err(BenchError::NeedsRoot);
    }
    loopfs::check_tools(kinds)?;
    check_dir(&args.scratch)?;
    if kinds.contains(&FsKind::Xfs) && args.image_mib < 300 {
        return Err(BenchError::Usage(
            "mkfs.xfs needs at least 300 MiB: raise --image-mib".into(),
        ));
    }
    let needed_mib = needed_image_mib(plan);
    if args.image_mib < needed_mib {
        return Err(BenchError::Usage(format!(
            "--image-mib {} is too small for {} strategies at {}: use at least --image-mib {needed_mib}",
            args.image_mib,
            plan.strategies.len(),
            format_size(plan.sizes_bytes.iter().copied().max().unwrap_or(0))
        )));
    }
    Ok(())
}

/// Room for every strategy's target plus a temp file at the largest size, the batch, and
/// filesystem overhead (journal, btrfs metadata).
fn needed_image_mib(plan: &Plan) -> u64 {
    let largest = plan.sizes_bytes.iter().copied().max().unwrap_or(0);
    let files = 2 * largest * plan.strategies.len() as u64;
    let batch = plan.batch.map_or(0, |batch| {
        2 * batch.files as u64 * batch.file_bytes.max(4096)
    });
    (files + batch) / plan::MIB + 256
}

fn check_run_id(run_id: &str) -> Result<(), BenchError> {
    let valid = !run_id.is_empty()
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !run_id.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(BenchError::Usage(format!(
            "--run-id `{run_id}`: use letters, digits, '-', '_' and '.' only"
        )))
    }
}

/// `20250102-030405` (UTC), with `-quick` for quick runs.
fn default_run_id(quick: bool) -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let stamp = utc_stamp(seconds);
    if quick {
        format!("{stamp}-quick")
    } else {
        stamp
    }
}

/// `YYYYMMDD-HHMMSS` for a Unix time (proleptic Gregorian, days-from-civil inverse).
fn utc_stamp(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The run's directory for images and mount points, removed (when empty) at the end.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn create(root: &Path, run_id: &str) -> Result<ScratchDir, BenchError> {
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
type SubjectOutcome = (Option<(FsResult, Vec<TargetCheck>)>, Option<BenchError>);

fn bench_subject(
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
        Err(error) => return (None, Some(error)),
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
    let payload = intact_bench::payload(size as usize);
    let log = context.report_dir.with_extension("strace.tmp");
    let mut failure = None;
    for &strategy in &context.plan.strategies {
        let target = trace_dir.join(format!("{strategy}.dat"));
        fs::write(&target, &payload).map_err(|error| BenchError::io("seed", &target, error))?;
        let traced = syscalls::trace(strategy.name(), &trace_dir, &log, || {
            let _ = intact_bench::write(strategy, &target, &payload);
        });
        match traced {
            Ok(trace) => fs_result.syscalls.push(trace),
            Err(problem) => failure = Some(problem),
        }
    }
    for mode in BatchMode::ALL {
        let paths = intact_bench::numbered_paths(&trace_dir, mode.name(), 3);
        for path in &paths {
            fs::write(path, &payload).map_err(|error| BenchError::io("seed", path, error))?;
        }
        let traced = syscalls::trace(&format!("{mode} (3 files)"), &trace_dir, &log, || {
            let _ = intact_bench::write_files(mode, &paths, &payload);
        });
        match traced {
            Ok(trace) => fs_result.syscalls.push(trace),
            Err(problem) => failure = Some(problem),
        }
    }
    if let Some(problem) = failure {
        fs_result
            .notes
            .push(format!("some syscall traces failed: {problem}"));
    }
    fs::remove_dir_all(&trace_dir)
        .map_err(|error| BenchError::io("remove directory", &trace_dir, error))
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
            "  {:<18} median {:>9}  p10..p90 {:>9} ..{:>9}  {:>7} files/s  {:>8.1} MB/s  x{:<6} plain  x{:<6} plain+fsync",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_match_known_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        assert_eq!(utc_stamp(1_735_787_045), "20250102-030405");
    }

    #[test]
    fn run_ids_cannot_escape_the_report_directory() {
        assert!(check_run_id("20250102-030405-quick").is_ok());
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(check_run_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images_grow_with_the_largest_size() {
        let full = Plan::full();
        assert!(needed_image_mib(&full) > 16 * 2 * 10);
        assert!(needed_image_mib(&Plan::quick()) < 1024);
    }
}
