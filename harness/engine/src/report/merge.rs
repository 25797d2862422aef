//! `torture merge`: joins the shards of a campaign split with `--partition M/N` into one run.
//!
//! Each shard's run directory is read back ([`super::records::read_run`]). The shards must be
//! the same campaign (same settings and seed, same subjects with the same kill-space
//! fingerprints) and together exactly the partitions `1/N` to `N/N`; anything else is refused
//! with a message naming the directories. The merged run judges every subject over all its
//! trials, so a canary whose violations fell in one shard is caught, and reports are written
//! from it as from any run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::records::{self, ReadError, RunRecords, SubjectLine};
use crate::campaign::{RunEnd, RunResult, Settings, TrialRecord};
use torture_core::killpoint::Partition;
use torture_core::oracle::Coverage;
use torture_core::words::count_of;

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard's records could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A directory holds no run.
    #[error(
        "{}: no run found (expected run.json, subjects.jsonl and results.jsonl in it, or in one run directory under it)",
        dir.display()
    )]
    NoRun { dir: PathBuf },
    /// A directory holds several runs and it is not clear which is the shard.
    #[error("{}: several runs ({}); name the run directory of the shard", dir.display(), runs.join(", "))]
    SeveralRuns { dir: PathBuf, runs: Vec<String> },
    /// A run made without `--partition`.
    #[error("{}: not a shard (run without --partition M/N); only shards are merged", dir.display())]
    NotAShard { dir: PathBuf },
    /// A shard that did not run to its end.
    #[error("{}: the shard did not complete ({end}); run it again", dir.display())]
    Unfinished { dir: PathBuf, end: String },
    /// Two shards that are not parts of the same campaign.
    #[error(
        "shards differ in {what}: {} has {first}, {} has {second}; shards must run the same campaign",
        first_dir.display(),
        second_dir.display()
    )]
    Mismatch {
        what: String,
        first_dir: PathBuf,
        first: String,
        second_dir: PathBuf,
        second: String,
    },
    /// The same partition given twice.
    #[error("partition {partition} given twice: {} and {}", first_dir.display(), second_dir.display())]
    DuplicatePartition {
        partition: Partition,
        first_dir: PathBuf,
        second_dir: PathBuf,
    },
    /// Partitions missing from the set.
    #[error(
        "incomplete: {} of {count} missing ({}); merge every shard 1/{count} to {count}/{count}",
        count_of(missing.len() as u64, "partition", "partitions"),
        missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    MissingPartitions { missing: Vec<Partition>, count: u64 },
    /// A trial record that cannot be read back, or a trial seen twice.
    #[error("{}: {message}", dir.display())]
    BadTrial { dir: PathBuf, message: String },
}

/// The run directory inside `dir`: `dir` itself, or the one run directory under it (a
/// `--report-dir` with one run, as a CI artifact holds).
pub fn locate_run(dir: &Path) -> Result<PathBuf, MergeError> {
    if dir.join("run.json").is_file() {
        return Ok(dir.to_owned());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut runs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != "latest")
        .map(|entry| entry.path())
        .filter(|path| path.join("run.json").is_file())
        .collect();
    runs.sort();
    match runs.len() {
        0 => Err(MergeError::NoRun {
            dir: dir.to_owned(),
        }),
        1 => Ok(runs.remove(0)),
        _ => Err(MergeError::SeveralRuns {
            dir: dir.to_owned(),
            runs: runs
                .iter()
                .filter_map(|run| run.file_name())
                .map(|name| name.to_string_lossy().into_owned())
                .collect(),
        }),
    }
}

/// Reads the shards in `dirs` and merges them into one run judged over every trial.
pub fn merge(dirs: &[PathBuf]) -> Result<RunResult, MergeError> {
    let mut shards = Vec::new();
    for dir in dirs {
        shards.push(records::read_run(&locate_run(dir)?)?);
    }
    let count = check_partitions(&shards)?;
    let first = &shards[0];
    for shard in &shards[1..] {
        check_same_campaign(first, shard)?;
    }
    let mut subjects = Vec::new();
    for line in &first.subjects {
        let trials = merged_trials(&shards, &line.subject)?;
        let mut result = records::subject_result(line, trials, Coverage::Whole);
        // Trials per second per machine: the shards' trial phases added up.
        result.trial_time = shards
            .iter()
            .flat_map(|shard| shard.subjects.iter().filter(|s| s.subject == line.subject))
            .map(|s| Duration::from_millis(s.trial_time_ms))
            .sum();
        subjects.push(result);
    }
    let elapsed_ms = shards.iter().map(|s| s.run.elapsed_ms).max().unwrap_or(0);
    Ok(RunResult {
        run_id: format!("{}-merged-{count}", first.run.run_id),
        settings: Settings {
            partition: None,
            ..first.run.settings.clone()
        },
        subjects,
        end: RunEnd::Completed,
        elapsed: Duration::from_millis(elapsed_ms),
    })
}

/// Every shard is a completed `--partition` run, each of `1/N` to `N/N` exactly once.
fn check_partitions(shards: &[RunRecords]) -> Result<u64, MergeError> {
    let mut seen: BTreeMap<u64, &Path> = BTreeMap::new();
    let mut count = None;
    for shard in shards {
        if shard.run.end != "completed" {
            return Err(MergeError::Unfinished {
                dir: shard.dir.clone(),
                end: shard.run.end.clone(),
            });
        }
        let partition = shard
            .run
            .settings
            .partition
            .ok_or_else(|| MergeError::NotAShard {
                dir: shard.dir.clone(),
            })?;
        let (first_count, first_dir) = *count.get_or_insert((partition.count, &shard.dir));
        if partition.count != first_count {
            return Err(MergeError::Mismatch {
                what: "the number of shards".to_owned(),
                first_dir: first_dir.to_owned(),
                first: format!("N = {first_count}"),
                second_dir: shard.dir.clone(),
                second: format!("N = {}", partition.count),
            });
        }
        if let Some(other) = seen.insert(partition.index, &shard.dir) {
            return Err(MergeError::DuplicatePartition {
                partition,
                first_dir: other.to_owned(),
                second_dir: shard.dir.clone(),
            });
        }
    }
    let count = count.map_or(0, |(count, _)| count);
    let missing: Vec<Partition> = (1..=count)
        .filter(|index| !seen.contains_key(index))
        .map(|index| Partition { index, count })
        .collect();
    match missing.is_empty() && count > 0 {
        true => Ok(count),
        false => Err(MergeError::MissingPartitions { missing, count }),
    }
}

/// Same seed, same settings that change a trial, same subjects with the same fingerprints.
fn check_same_campaign(first: &RunRecords, other: &RunRecords) -> Result<(), MergeError> {
    let (a, b) = (&first.run.settings, &other.run.settings);
    let mismatch = |what: &str, first_value: String, second_value: String| MergeError::Mismatch {
        what: what.to_owned(),
        first_dir: first.dir.clone(),
        first: first_value,
        second_dir: other.dir.clone(),
        second: second_value,
    };
    if a.seed != b.seed {
        return Err(mismatch("seed", a.seed.to_string(), b.seed.to_string()));
    }
    let trial_settings = |s: &Settings| {
        format!(
            "--initial {:?}, {:?}, {:?}, --target {}{}, strict {}",
            s.initial,
            s.validation,
            s.selection,
            s.target.display(),
            match s.unit.is_unit() {
                true => format!(" (unit {:?}, marker {:?})", s.unit.targets, s.unit.marker),
                false => String::new(),
            },
            s.strict
        )
    };
    if trial_settings(a) != trial_settings(b) {
        return Err(mismatch("settings", trial_settings(a), trial_settings(b)));
    }
    let labels = |subjects: &[SubjectLine]| {
        subjects
            .iter()
            .map(|s| s.subject.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if labels(&first.subjects) != labels(&other.subjects) {
        let (x, y) = (labels(&first.subjects), labels(&other.subjects));
        return Err(mismatch("subjects", x, y));
    }
    for (x, y) in first.subjects.iter().zip(&other.subjects) {
        if x.fingerprint != y.fingerprint {
            let what = format!("the kill-space fingerprint of `{}`", x.subject);
            return Err(mismatch(
                &what,
                x.fingerprint.clone(),
                y.fingerprint.clone(),
            ));
        }
    }
    Ok(())
}

/// One subject's trials from every shard, in kill-point order; a trial number seen twice is
/// refused (shards that overlap).
fn merged_trials(shards: &[RunRecords], label: &str) -> Result<Vec<TrialRecord>, MergeError> {
    let mut trials: BTreeMap<u64, TrialRecord> = BTreeMap::new();
    for shard in shards {
        let lines = shard.trials.iter().filter(|t| t.subject == label);
        for line in lines {
            let bad = |message: String| MergeError::BadTrial {
                dir: shard.dir.clone(),
                message: format!("`{label}` trial {}: {message}", line.trial),
            };
            if line.fingerprint != subject_fingerprint(shard, label) {
                return Err(bad("its fingerprint is not its subject's".to_owned()));
            }
            let record = records::trial_record(line, &shard.run.settings).map_err(bad)?;
            if trials.insert(line.trial, record).is_some() {
                return Err(bad("recorded by two shards".to_owned()));
            }
        }
    }
    Ok(trials.into_values().collect())
}

fn subject_fingerprint<'a>(shard: &'a RunRecords, label: &str) -> &'a str {
    shard
        .subjects
        .iter()
        .find(|s| s.subject == label)
        .map_or("", |s| s.fingerprint.as_str())
}
