//! Everything checked and fixed before the first write: the plan from the arguments, the
//! subjects, root and tools for `--fs`, image sizes, the run id.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::env::{self, Machine};
use super::error::BenchError;
use super::plan::{self, FsKind, Plan, format_size};
use super::{BenchArgs, syscalls};

/// One place to benchmark, as given on the command line.
#[derive(Debug, Clone)]
pub(super) enum Subject {
    Dir(PathBuf),
    Fs(FsKind),
}

/// Everything fixed before the first write.
pub(super) struct Context {
    pub(super) plan: Plan,
    pub(super) subjects: Vec<Subject>,
    pub(super) run_id: String,
    pub(super) report_dir: PathBuf,
    pub(super) machine: Machine,
    pub(super) command: String,
    pub(super) trace_syscalls: bool,
}
/// Checks the arguments and the machine before anything is created.
pub(super) fn prepare(args: &BenchArgs) -> Result<Context, BenchError> {
    let plan = plan_from_args(args)?;
    let (subjects, kinds) = subjects(args)?;
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
        let shown = report_dir.display();
        return Err(BenchError::Usage(format!(
            "report directory {shown} already exists: choose another --run-id"
        )));
    }
    Ok(Context {
        trace_syscalls: !args.no_syscalls && syscalls::available(),
        plan,
        subjects,
        run_id,
        report_dir,
        machine: Machine::probe(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

/// `--dir`s (checked to be directories) then each `--fs` kind once, in the order given.
fn subjects(args: &BenchArgs) -> Result<(Vec<Subject>, Vec<FsKind>), BenchError> {
    let mut kinds = Vec::new();
    for &kind in &args.filesystems {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    for dir in &args.dirs {
        check_dir(dir)?;
    }
    let mut subjects: Vec<Subject> = args.dirs.iter().cloned().map(Subject::Dir).collect();
    subjects.extend(kinds.iter().copied().map(Subject::Fs));
    if subjects.is_empty() {
        return Err(BenchError::Usage(
            "say where to benchmark: --dir DIR (repeatable) for existing directories, or \
             --fs ext4,xfs,btrfs,tmpfs (root) for scratch filesystems"
                .into(),
        ));
    }
    Ok((subjects, kinds))
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
        let exact = plan::Rounds {
            min: rounds,
            max: rounds,
            budget_ms: 0,
        };
        plan.rounds = exact;
        if let Some(batch) = plan.batch.as_mut() {
            batch.rounds = exact;
        }
        if let Some(concurrent) = plan.concurrent.as_mut() {
            concurrent.rounds = exact;
        }
    }
    match (args.concurrent_passes, plan.concurrent.as_mut()) {
        (Some(0), _) => plan.concurrent = None,
        (Some(passes), Some(concurrent)) => concurrent.passes = passes,
        (Some(_), None) | (None, _) => {}
    }
    match (args.batch_files, plan.batch.as_mut()) {
        (Some(0), _) => plan.batch = None,
        (Some(files), Some(batch)) => batch.files = files,
        (Some(_), None) | (None, _) => {}
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
    torture_engine::loopfs::check_tools(kinds)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Strategy;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(words: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("torture-bench").chain(words.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn arguments_shape_the_plan() {
        let args = parse(&[
            "--quick",
            "--rounds",
            "3",
            "--batch-files",
            "0",
            "--strategies",
            "intact",
            "--sizes",
            "64KiB,1KiB,1KiB",
        ])
        .unwrap();
        let plan = plan_from_args(&args).unwrap();
        assert_eq!(plan.sizes_bytes, [plan::KIB, 64 * plan::KIB]);
        assert_eq!(
            plan.rounds,
            plan::Rounds {
                min: 3,
                max: 3,
                budget_ms: 0
            }
        );
        assert_eq!(plan.batch, None);
        assert_eq!(
            plan.strategies,
            [Strategy::Plain, Strategy::PlainFsync, Strategy::Intact]
        );
        let args = parse(&["--batch-files", "50"]).unwrap();
        assert_eq!(plan_from_args(&args).unwrap().batch.unwrap().files, 50);
    }

    #[test]
    fn bad_arguments_are_rejected_with_the_reason() {
        let error = parse(&["--strategies", "intact-fast"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown strategy `intact-fast`"), "{error}");
        let error = parse(&["--sizes", "2TiB"]).unwrap_err().to_string();
        assert!(error.contains("2TiB"), "{error}");
        let error = parse(&["--rounds", "0"]).unwrap_err().to_string();
        assert!(error.contains("0"), "{error}");
        let nowhere = prepare(&parse(&[]).unwrap()).err().unwrap().to_string();
        assert!(
            nowhere.contains("--dir DIR") && nowhere.contains("--fs"),
            "{nowhere}"
        );
        let not_a_dir = prepare(&parse(&["--dir", "/proc/self/status"]).unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(not_a_dir.contains("is not a directory"), "{not_a_dir}");
    }

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
