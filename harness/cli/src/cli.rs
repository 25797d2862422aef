//! The `torture` command line (clap derive) and its translation into a campaign [`Plan`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use torture_engine::campaign::{self, Plan, Selection, Settings, Subject, ValidationChoice};
use torture_engine::killpoint::{KillPoint, Partition};
use torture_engine::oracle::{Expect, Initial};
use torture_engine::report::OutputFormat;
use torture_engine::sandbox;

/// Kill points per subject when neither `--trials` nor `--exhaustive` is given.
pub const DEFAULT_TRIALS: u64 = 1000;
/// Payload size of built-in subjects (a nested JSON document).
pub const DEFAULT_SIZE_BYTES: u64 = 64 * 1024;

const ABOUT: &str = "Crash-test file writers: SIGKILL them at every byte and syscall boundary and check the \
target is always absent, the complete old version, or the complete new version.";

const AFTER_HELP: &str = "With no subcommand, `torture` runs `torture kill`, then `torture power`, `torture errors` and \
`torture race` (sampled) over every built-in and peer subject on a 64 KiB JSON payload with --initial old, and \
prints one table of writers x crash kinds (with --subject, a command, --kill-at or --partition it runs \
`torture kill` only).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a harness \
error; 3 no violation, but a subject does what the tracer cannot model (shared writable mmap of a sandbox \
file, io_uring), so it has no verdict; 130 interrupted.

Examples:
  torture                                        # the main job: every built-in subject
  torture kill --subject intact --exhaustive --size 2048
  torture kill --expect caught -- python3 writer.py {target}
  torture kill --subject plain --seed 7 --kill-at byte:4097   # replay one trial
  torture --seed 1 --partition 2/3 --report-dir shard-2          # one shard of three
  torture merge shard-1 shard-2 shard-3 --report-dir merged      # judge the shards as one run";

const MERGE_AFTER_HELP: &str = "Each DIR is a shard's report directory (reports/<run-id>/) or a --report-dir \
holding one run. The shards must be the same campaign (same seed, settings and subjects, equal kill-space \
fingerprints) and together every partition 1/N to N/N once.

Exit codes: 0 every subject as expected over all shards; 1 a violation (or a canary not caught in any \
shard); 2 shards that cannot be merged, or bad usage.";

/// `torture`: the crash-consistency harness.
#[derive(Debug, Parser)]
#[command(name = "torture", version, about = ABOUT, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: kill).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `torture kill`, accepted without the subcommand too.
    #[command(flatten)]
    pub kill: KillArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// SIGKILL writers at chosen points and check what they leave (the default)
    #[command(after_help = AFTER_HELP)]
    Kill(Box<KillArgs>),
    /// Simulate power cuts over the writer's recorded trace and judge every crash state
    #[command(after_help = crate::power::POWER_AFTER_HELP)]
    Power(Box<crate::power::PowerArgs>),
    /// Fail one call per run (EIO, ENOSPC, EINTR, short writes, fsyncgate) and check what the writer does
    #[command(after_help = crate::errors::AFTER_HELP)]
    Errors(Box<crate::errors::ErrorsArgs>),
    /// List the built-in subjects and their expected verdicts under each crash kind
    List,
    /// Compare write strategies (plain, intact, peer crates) across directories and filesystems
    Bench(Box<intact_bench::bench::BenchArgs>),
    /// Join the shards of a campaign split with --partition M/N and judge them as one run
    #[command(after_help = MERGE_AFTER_HELP)]
    Merge(MergeArgs),
    /// Run several instances of a writer at once, interleaved syscall by syscall
    #[command(after_help = crate::race::RACE_AFTER_HELP)]
    Race(Box<crate::race::RaceArgs>),
    /// Real file systems as ground truth: snapshot a loop-mounted ext4/xfs/btrfs at every
    /// event and check each real state lies inside the power-loss model (root; `torture power --real FS` runs the same)
    PowerReal(Box<crate::real::PowerRealArgs>),
}

/// Options of `torture merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' report directories
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,

    /// Where the merged summary.md, junit.xml, results.jsonl, subjects.jsonl and run.json go
    #[arg(long, value_name = "DIR", default_value = "reports/merged")]
    pub report_dir: PathBuf,

    /// Terminal output
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
}

/// `--initial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitialArg {
    /// No target before the writer runs (a pipeline's first run)
    Absent,
    /// A complete old version is in place (written by generation 1 of the writer)
    Old,
}

/// `--validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateArg {
    /// json if the writer's output is JSON, jsonl if it is JSON lines, else bytes
    Auto,
    /// One JSON value
    Json,
    /// One JSON value per line
    Jsonl,
    /// No structure: byte comparison only
    Bytes,
}

/// `--expect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpectArg {
    /// No trial may show a violation
    Pass,
    /// A canary: at least one trial must show a violation
    Caught,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Status lines and a summary line for people
    Human,
    /// One JSON summary object per subject per line
    Json,
}

/// Options of `torture kill`.
#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Built-in subject to run (repeatable; default: all, see `torture list`)
    #[arg(long = "subject", value_name = "NAME", value_parser = subject_name)]
    pub subjects: Vec<String>,

    /// State before each trial
    #[arg(long, value_enum, default_value_t = InitialArg::Old)]
    pub initial: InitialArg,

    /// How torn files are checked for validity
    #[arg(long, value_enum, default_value_t = ValidateArg::Auto, conflicts_with = "check")]
    pub validate: ValidateArg,

    /// Shell command that exits 0 when the target is valid. `{file}` is replaced by the target's
    /// path (else the path is appended), `{dir}` by its sandbox. It runs in a copy of the
    /// crashed sandbox, after leftovers are counted, and the target is judged as the copy holds
    /// it afterwards: a target may be a multi-file unit (a database and its journal or WAL), and
    /// what counts is what a reader that opens it sees
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,

    /// Kill points per subject, drawn with --seed over byte offsets and syscall boundaries
    /// [default: 1000]
    #[arg(long, value_name = "N", conflicts_with_all = ["exhaustive", "kill_at"], value_parser = clap::value_parser!(u64).range(1..))]
    pub trials: Option<u64>,

    /// Seed for drawing kill points [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Try every kill point
    #[arg(long, conflicts_with = "kill_at")]
    pub exhaustive: bool,

    /// Replay exactly one trial: byte:N or syscall:N
    #[arg(long, value_name = "POINT", value_parser = kill_point)]
    pub kill_at: Option<KillPoint>,

    /// Run only shard M of N of every subject's kill points (M from 1); give every shard the same
    /// --seed, then join them with `torture merge`
    #[arg(long, value_name = "M/N", value_parser = partition, conflicts_with = "kill_at")]
    pub partition: Option<Partition>,

    /// Worker threads [default: available cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,

    /// Per-run timeout: a hung writer is killed and reported
    #[arg(long, value_name = "MS", default_value_t = campaign::DEFAULT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// Directory for the sandboxes, on the filesystem under test [default: $TMPDIR, else /dev/shm,
    /// else /tmp]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Payload size of built-in subjects, e.g. 2048, 64KiB, 1MiB [default: 64KiB]
    #[arg(long, value_name = "BYTES", value_parser = torture_core::size::parse_size_bytes)]
    pub size: Option<u64>,

    /// Target file name, relative to each sandbox
    #[arg(long, value_name = "NAME", default_value = campaign::DEFAULT_TARGET)]
    pub target: String,

    /// Files left besides the target after the recovery run are a failure
    #[arg(long)]
    pub strict: bool,

    /// What the command after `--` must do [default: pass]
    #[arg(long, value_enum, value_name = "EXPECT")]
    pub expect: Option<ExpectArg>,

    /// Where run reports go (a directory per run)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub report_dir: PathBuf,

    /// Write no report files
    #[arg(long)]
    pub no_report: bool,

    /// Terminal output
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,

    /// A writer to test instead of the built-ins; `{target}` in its arguments (and $TORTURE_TARGET)
    /// is the target's absolute path, $TORTURE_GENERATION is 1 for the old version, 2 for the new
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub(crate) fn subject_name(name: &str) -> Result<String, String> {
    match campaign::builtin(name) {
        Some(builtin) => Ok(builtin.name.to_owned()),
        None => {
            let names: Vec<&str> = campaign::builtins().iter().map(|b| b.name).collect();
            Err(format!(
                "unknown subject `{name}`; built-in subjects: {} (see `torture list`)",
                names.join(", ")
            ))
        }
    }
}

fn partition(text: &str) -> Result<Partition, String> {
    text.parse()
        .map_err(|e: torture_engine::killpoint::PartitionParseError| e.to_string())
}

fn kill_point(text: &str) -> Result<KillPoint, String> {
    text.parse()
        .map_err(|e: torture_engine::killpoint::KillPointParseError| e.to_string())
}

impl FormatArg {
    /// The report module's format.
    pub fn output_format(self) -> OutputFormat {
        match self {
            FormatArg::Human => OutputFormat::Human,
            FormatArg::Json => OutputFormat::Json,
        }
    }
}

impl KillArgs {
    /// The output format.
    pub fn output_format(&self) -> OutputFormat {
        self.format.output_format()
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<Plan, String> {
        let target = sandbox::check_target_name(&self.target)?;
        let settings = Settings {
            initial: match self.initial {
                InitialArg::Absent => Initial::Absent,
                InitialArg::Old => Initial::Old,
            },
            validation: self.validation(),
            selection: self.selection(),
            seed,
            jobs: self.jobs.map_or_else(default_jobs, |jobs| jobs as usize),
            timeout_ms: self.timeout_ms,
            dir: self.dir.clone().unwrap_or_else(sandbox::default_dir),
            target,
            strict: self.strict,
            partition: self.partition,
        };
        Ok(Plan {
            subjects: self.subjects()?,
            settings,
        })
    }

    fn validation(&self) -> ValidationChoice {
        if let Some(command) = &self.check {
            return ValidationChoice::Check(command.clone());
        }
        match self.validate {
            ValidateArg::Auto => ValidationChoice::Auto,
            ValidateArg::Json => ValidationChoice::Json,
            ValidateArg::Jsonl => ValidationChoice::JsonLines,
            ValidateArg::Bytes => ValidationChoice::Bytes,
        }
    }

    fn selection(&self) -> Selection {
        match (self.kill_at, self.exhaustive) {
            (Some(point), _) => Selection::One(point),
            (None, true) => Selection::Exhaustive,
            (None, false) => Selection::Sample {
                trials: self.trials.unwrap_or(DEFAULT_TRIALS),
            },
        }
    }

    fn subjects(&self) -> Result<Vec<Subject>, String> {
        if !self.command.is_empty() {
            if !self.subjects.is_empty() {
                return Err(
                    "give either --subject NAME or a command after `--`, not both".to_owned(),
                );
            }
            if self.size.is_some() {
                return Err(
                    "--size sets the payload of built-in subjects; a command writes what it writes"
                        .to_owned(),
                );
            }
            let expect = match self.expect {
                Some(ExpectArg::Caught) => Expect::Caught,
                Some(ExpectArg::Pass) | None => Expect::Pass,
            };
            return Ok(vec![Subject::command(self.command.clone(), expect)]);
        }
        if self.expect.is_some() {
            return Err(
                "--expect applies to a command after `--`; built-in subjects carry their own expectations \
                 (see `torture list`)"
                    .to_owned(),
            );
        }
        let size_bytes = self.size.unwrap_or(DEFAULT_SIZE_BYTES);
        let mut names: Vec<String> = Vec::new();
        for name in &self.subjects {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let named = |b: &campaign::Builtin| names.iter().any(|n| n == b.name);
        let chosen = campaign::builtins()
            .into_iter()
            .filter(|b| names.is_empty() || named(b))
            .chain(campaign::named_only_builtins().into_iter().filter(named));
        let mut subjects: Vec<Subject> = chosen.map(|b| Subject::builtin(b, size_bytes)).collect();
        if self.is_main_job() {
            subjects.extend(main_job_sweep());
        }
        Ok(subjects)
    }

    /// The main job: no subject, command, size or kill-point choice given.
    fn is_main_job(&self) -> bool {
        self.subjects.is_empty()
            && self.command.is_empty()
            && self.size.is_none()
            && self.trials.is_none()
            && !self.exhaustive
            && self.kill_at.is_none()
    }
}

/// Payload of the main job's exhaustive sweep.
pub const SWEEP_SIZE_BYTES: u64 = 2048;

/// The main job also kills `intact` at every kill point of a small payload: random kills of a
/// large payload cannot promise every byte was tried, this sweep does.
fn main_job_sweep() -> Option<Subject> {
    let intact = campaign::builtin("intact")?;
    let mut subject = Subject::builtin(intact, SWEEP_SIZE_BYTES);
    subject.label = format!("{}@{}KiB-all", intact.name, SWEEP_SIZE_BYTES / 1024);
    subject.selection = Some(Selection::Exhaustive);
    Some(subject)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("torture").chain(args.iter().copied()))
    }

    #[test]
    fn sizes() {
        assert_eq!(torture_core::size::parse_size_bytes("2048"), Ok(2048));
        assert_eq!(torture_core::size::parse_size_bytes("64KiB"), Ok(65536));
        assert_eq!(torture_core::size::parse_size_bytes("64k"), Ok(65536));
        assert_eq!(torture_core::size::parse_size_bytes("1MiB"), Ok(1 << 20));
        assert!(torture_core::size::parse_size_bytes("abc").is_err());
        assert!(torture_core::size::parse_size_bytes("0").is_err());
        assert!(torture_core::size::parse_size_bytes("12 parsecs").is_err());
        assert!(torture_core::size::parse_size_bytes("99999999999999999999G").is_err());
    }

    #[test]
    fn no_subcommand_is_kill_with_defaults() {
        let cli = parse(&[]).expect("parses");
        assert!(cli.command.is_none());
        let plan = cli.kill.plan(7).expect("plan");
        assert_eq!(
            plan.settings.selection,
            Selection::Sample {
                trials: DEFAULT_TRIALS
            }
        );
        assert_eq!(plan.settings.initial, Initial::Old);
        assert_eq!(plan.subjects.len(), campaign::builtins().len() + 1);
        let sweep = plan.subjects.last().expect("sweep");
        assert_eq!(
            (sweep.name.as_str(), sweep.selection),
            ("intact", Some(Selection::Exhaustive))
        );
    }

    #[test]
    fn top_level_options_work_without_the_subcommand() {
        let cli = parse(&["--subject", "plain", "--trials", "5"]).expect("parses");
        assert_eq!(cli.kill.plan(1).expect("plan").subjects.len(), 1);
    }

    #[test]
    fn usage_errors_are_clap_errors_or_plan_errors() {
        assert!(parse(&["kill", "--trials", "abc"]).is_err());
        assert!(parse(&["kill", "--subject", "nonsense"]).is_err());
        assert!(parse(&["kill", "--kill-at", "byte:0"]).is_err());
        assert!(parse(&["kill", "--exhaustive", "--trials", "3"]).is_err());
        assert!(parse(&["kill", "--validate", "json", "--check", "true"]).is_err());
        let args = |a: &[&str]| match parse(a).expect("parses").command {
            Some(Command::Kill(args)) => *args,
            other => panic!("not kill: {other:?}"),
        };
        assert!(args(&["kill", "--target", "../x"]).plan(1).is_err());
        assert!(
            args(&["kill", "--subject", "plain", "--", "true"])
                .plan(1)
                .is_err()
        );
        assert!(args(&["kill", "--expect", "caught"]).plan(1).is_err());
        assert!(
            args(&["kill", "--size", "10", "--", "true"])
                .plan(1)
                .is_err()
        );
        let plan = args(&[
            "kill", "--expect", "caught", "--", "python3", "w.py", "{target}",
        ])
        .plan(1)
        .expect("plan");
        assert_eq!(plan.subjects[0].expect, Expect::Caught);
    }

    #[test]
    fn partitions_parse_and_conflict_with_kill_at() {
        let cli = parse(&["--partition", "2/3", "--seed", "1"]).expect("parses");
        let plan = cli.kill.plan(1).expect("plan");
        assert_eq!(
            plan.settings.partition,
            Some(Partition { index: 2, count: 3 })
        );
        for bad in ["0/3", "4/3", "x"] {
            assert!(parse(&["--partition", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--partition", "1/2", "--kill-at", "byte:1"]).is_err());
    }

    #[test]
    fn a_relative_target_is_relative_to_the_sandbox() {
        for target in ["./x.json", "x.json"] {
            let cli = parse(&["--target", target]).expect("parses");
            let plan = cli.kill.plan(1).expect("plan");
            assert_eq!(plan.settings.target, PathBuf::from("x.json"));
        }
    }

    #[test]
    fn merge_needs_directories() {
        assert!(parse(&["merge"]).is_err());
        let cli = parse(&["merge", "a", "b", "--report-dir", "out"]).expect("parses");
        let Some(Command::Merge(args)) = cli.command else {
            panic!("merge")
        };
        assert_eq!(args.dirs, [PathBuf::from("a"), PathBuf::from("b")]);
    }

    #[test]
    fn repeated_subjects_run_once() {
        let cli = parse(&["kill", "--subject", "plain", "--subject", "plain"]).expect("parses");
        let Some(Command::Kill(args)) = cli.command else {
            panic!("kill")
        };
        assert_eq!(args.plan(1).expect("plan").subjects.len(), 1);
    }
}
