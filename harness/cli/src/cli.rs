//! The `torture` command line (clap derive) and its translation into a campaign [`Plan`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use torture_engine::campaign::power::Regex;
use torture_engine::campaign::{
    self, Plan, Selection, Settings, Subject, UnitSpec, ValidationChoice,
};
use torture_engine::killpoint::{KillPoint, Partition};
use torture_engine::oracle::unit;
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

Exit codes (every command): 0 every subject as expected; 1 a violation (or a canary not caught, or a cell \
the run could not fill); 2 bad usage or a harness error; 3 no violation, but a subject does what the tracer \
cannot model (shared writable mmap of a sandbox file, io_uring), so it has no verdict; 4 a model bug found by \
`power --real`; 130 interrupted, with a partial report whose JUnit is marked failed. `--format json` ends with \
one summary object whose fields are the same for every command (on bad usage, one error object with \
`exit_code` 2; see reports/README.md).

Examples:
  torture                                        # the main job: every built-in subject
  torture kill --subject intact --exhaustive --size 2048
  torture kill --trials 50 --expect caught -- python3 harness/writers/write_report_plain.py {target}
  torture kill --subject plain --seed 7 --kill-at byte:4097   # replay one trial
  torture --seed 1 --partition 2/3 --report-dir shard-2          # one shard of three
  torture merge shard-1 shard-2 shard-3 --report-dir merged      # judge the shards as one run";

const MERGE_AFTER_HELP: &str = "Each DIR is a shard's report directory (reports/<run-id>/) or a --report-dir \
holding one run. The shards must be the same campaign (same seed, settings and subjects; for kill, equal \
kill-space fingerprints) and together every partition 1/N to N/N once. Kill shards are merged trial by \
trial; `errors`, `power` and `race` shards by their summary.json (counts added, each subject judged again: \
a canary caught in any shard is caught).

Exit codes: 0 every subject as expected over all shards; 1 a violation (or a canary not caught in any \
shard); 2 shards that cannot be merged, or bad usage; 3 no violation, but a subject is not modelled.";

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
    List(ListArgs),
    /// Compare write strategies (plain, intact, peer crates) across directories and filesystems
    Bench(Box<intact_bench::bench::BenchArgs>),
    /// Join the shards of a campaign split with --partition M/N and judge them as one run
    #[command(after_help = MERGE_AFTER_HELP)]
    Merge(MergeArgs),
    /// Run several instances of a writer at once, interleaved syscall by syscall
    #[command(after_help = crate::race::RACE_AFTER_HELP)]
    Race(Box<crate::race::RaceArgs>),
}

/// Options of `torture list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output: a table for people, or a JSON object per subject
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
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

    /// Terminal output: text for people, or JSON lines ending in one summary object
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
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
    #[value(alias = "human")]
    Text,
    /// One JSON object per subject per line, then the run's summary object
    Json,
}

/// The options every campaign shares (kill, power, errors, race), declared once and meaning the
/// same everywhere.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Built-in subject to run (repeatable; default: all, see `torture list`)
    #[arg(long = "subject", value_name = "NAME", value_parser = subject_name)]
    pub subjects: Vec<String>,

    /// State before each run of the writer [default: old]
    #[arg(long, value_enum)]
    pub initial: Option<InitialArg>,

    /// How torn files are checked for validity
    #[arg(long, value_enum, default_value_t = ValidateArg::Auto, conflicts_with = "check")]
    pub validate: ValidateArg,

    /// Shell command that judges the whole tree a crash left (power: each crash state; kill:
    /// the sandbox after the kill; errors: after the faulted run; race: the sandbox between
    /// steps, with every writer held, after every writer ended, and after the clean run, with
    /// an empty {stdout} and $TORTURE_ACKS 0): exit 0 the state is fine,
    /// non-zero a violation whose reason is its first line of output. It runs in a directory
    /// holding a copy of the tree; `{dir}` is that directory, `{file}`/`{target}` the target in
    /// it, `{stdout}` a file of the writer's stdout lines up to the crash (naming none appends
    /// the target's path); $TORTURE_DIR, $TORTURE_TARGET, $TORTURE_STDOUT, $TORTURE_ACKS
    /// (--ack-line matches, or 1 once the writer exited 0) say the same, and in simulated power
    /// cuts $TORTURE_MODEL the model whose exploration met the tree first. Distinct trees are
    /// checked once, over --jobs workers
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,

    /// Every stdout line matching REGEX acknowledges an operation ($TORTURE_ACKS counts them);
    /// without --check, the built-in judge takes the first as the writer's acknowledgement
    /// (instead of exit 0): after it, the target must be the new version (not race)
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub ack_line: Option<Regex>,

    /// Shell command run once, untraced, in a fresh sandbox (`{dir}`) before the golden run: the
    /// tree it leaves, contents included, is the durable starting state of every run and crash
    /// state (instead of --initial; in race, the target in it is the old version)
    #[arg(long, value_name = "CMD", conflicts_with = "initial")]
    pub setup: Option<String>,

    /// Shell command run on each crash tree before --check, instead of the writer's own
    /// recovery run (`git fsck`, opening a database); placeholders as --check; its non-zero exit
    /// is a violation with its first line as the reason (power, kill, errors)
    #[arg(long, value_name = "CMD", requires = "check")]
    pub recover: Option<String>,

    /// Seed of every draw (kill points, states, injections, schedules) [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Per-run timeout: a hung writer is killed and reported
    #[arg(long, value_name = "MS", default_value_t = campaign::DEFAULT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// Directory for the sandboxes, on the filesystem under test [default: $TMPDIR, else /dev/shm,
    /// else /tmp; with --real: /dev/shm, for the images and their copies]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Payload size of built-in subjects, e.g. 2048, 64KiB, 1MiB; refused when larger than an
    /// eighth of the available memory [default: 64KiB; race and power --real: 8KiB]
    #[arg(long, value_name = "BYTES", value_parser = payload_size)]
    pub size: Option<u64>,

    /// What the command after `--` must do [default: pass]
    #[arg(long, value_enum, value_name = "EXPECT")]
    pub expect: Option<ExpectArg>,

    /// Where run reports go (a directory per run)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub report_dir: PathBuf,

    /// Write no report files
    #[arg(long)]
    pub no_report: bool,

    /// Terminal output: text for people, or JSON lines ending in one summary object
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,

    // Multi-file units and saved traces (issue 16: --target, --marker, --save-trace).
    /// Target file, relative to each sandbox. Repeat it, or give a glob (`out/part-*.csv`,
    /// expanded against the golden run's final tree and the initial state), to judge several
    /// files as one unit: all old or all new, never a mix. The first literal --target (else
    /// --marker) is the target `{target}` names
    #[arg(long = "target", value_name = "NAME", default_value = campaign::DEFAULT_TARGET)]
    pub targets: Vec<String>,

    /// A marker file (`out/_SUCCESS`) that is part of the unit: its presence must imply every
    /// other file of the unit is complete (its new version); without it, the unit is not
    /// published
    #[arg(long, value_name = "FILE")]
    pub marker: Option<String>,

    /// Write the traced golden run of each subject to FILE (the `intact-trace` JSON lines); with
    /// several subjects FILE is a directory of `<subject>.jsonl`
    #[arg(long, value_name = "FILE")]
    pub save_trace: Option<PathBuf>,

    /// A writer to test instead of the built-ins; `{target}` in its arguments (and $TORTURE_TARGET)
    /// is the target's absolute path, `{dir}` (and $TORTURE_DIR) its sandbox, $TORTURE_GENERATION
    /// is 1 for the old version, 2 for the new
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `--jobs`, for campaigns whose work runs in parallel (kill and errors: trials; power and race:
/// subjects).
#[derive(Debug, Clone, Args)]
pub struct Jobs {
    /// Worker threads [default: available cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
}

/// `--partition`, for campaigns that split over machines (kill: kill points; errors: injections;
/// power: crash states; race: interleavings).
#[derive(Debug, Clone, Args)]
pub struct Shard {
    /// Run only shard M of N of every subject's work (M from 1): its kill points, injections,
    /// crash states or interleavings; give every shard the same --seed, then join them with
    /// `torture merge`
    #[arg(long, value_name = "M/N", value_parser = partition)]
    pub partition: Option<Partition>,
}

/// Options of `torture kill`.
#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Kill points per subject, drawn with --seed over byte offsets and syscall boundaries
    /// [default: 1000]
    #[arg(long, value_name = "N", conflicts_with_all = ["exhaustive", "kill_at"], value_parser = clap::value_parser!(u64).range(1..))]
    pub trials: Option<u64>,

    /// Try every kill point
    #[arg(long, conflicts_with = "kill_at")]
    pub exhaustive: bool,

    /// Replay exactly one trial: byte:N or syscall:N
    #[arg(long, value_name = "POINT", value_parser = kill_point, conflicts_with = "partition")]
    pub kill_at: Option<KillPoint>,

    /// Files left besides the target after the recovery run are a failure
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub shard: Shard,

    #[command(flatten)]
    pub jobs: Jobs,

    #[command(flatten)]
    pub common: Common,
}

/// The most payload a run may hold: an eighth of the available memory (the harness keeps the
/// old and new versions, the trace's data and copies of each), else 1 GiB.
fn payload_limit_bytes() -> u64 {
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        });
    available_kib.map_or(1 << 30, |kib| kib * 1024 / 8)
}

/// `--size`: a size, refused up front when the run could not hold it in memory.
pub(crate) fn payload_size(text: &str) -> Result<u64, String> {
    let bytes = torture_core::size::parse_size_bytes(text)?;
    let limit = payload_limit_bytes();
    match bytes <= limit {
        true => Ok(bytes),
        false => Err(format!(
            "{text} is more than this machine can hold: a run keeps several copies of the payload, \
             so the limit is an eighth of the available memory ({})",
            torture_core::size::format_size(limit)
        )),
    }
}

/// `--subject`: a subject of the catalogue (`torture list`), or a strategy only `race` runs.
pub(crate) fn subject_name(name: &str) -> Result<String, String> {
    if let Some(builtin) = campaign::builtin(name) {
        return Ok(builtin.name.to_owned());
    }
    match name.parse::<torture_writers::strategies::Strategy>() {
        Ok(strategy) => Ok(strategy.name().to_owned()),
        Err(_) => {
            let names: Vec<&str> = campaign::builtins().iter().map(|b| b.name).collect();
            Err(format!(
                "unknown subject `{name}`; built-in subjects: {} (see `torture list`)",
                names.join(", ")
            ))
        }
    }
}

pub(crate) fn parse_regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))
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
            FormatArg::Text => OutputFormat::Human,
            FormatArg::Json => OutputFormat::Json,
        }
    }
}

impl Common {
    /// The output format.
    pub fn output_format(&self) -> OutputFormat {
        self.format.output_format()
    }

    /// The settings of a plan, with the command's own selection, strictness, threads and shard.
    pub fn settings(
        &self,
        seed: u64,
        (selection, strict): (Selection, bool),
        jobs: &Jobs,
        partition: Option<Partition>,
    ) -> Result<Settings, String> {
        Ok(Settings {
            // With `--setup` the setup's tree is the start; the target in it is the old version.
            initial: match (self.initial, &self.setup) {
                (Some(InitialArg::Absent), _) => Initial::Absent,
                (Some(InitialArg::Old), _) | (None, None) => Initial::Old,
                (None, Some(_)) => Initial::Absent,
            },
            validation: self.validation(),
            selection,
            seed,
            jobs: jobs.jobs.map_or_else(default_jobs, |jobs| jobs as usize),
            timeout_ms: self.timeout_ms,
            dir: self.dir.clone().unwrap_or_else(sandbox::default_dir),
            target: self.target()?,
            unit: self.unit()?,
            strict,
            partition,
            ack_line: self.ack_line.as_ref().map(|r| r.as_str().to_owned()),
            setup: self.setup.clone(),
            recover: self.recover.clone(),
        })
    }

    /// The target `{target}` names: the first literal `--target`, else `--marker`.
    pub fn target(&self) -> Result<PathBuf, String> {
        let literal = self.targets.iter().find(|t| !unit::is_glob(t));
        match (literal, &self.marker) {
            (Some(name), _) | (None, Some(name)) => sandbox::check_target_name(name),
            (None, None) => Err(format!(
                "--target {:?} is a glob: give one literal --target (or --marker) as well, the file                  `{{target}}` names",
                self.targets[0]
            )),
        }
    }

    /// The files judged as one unit (empty for a single literal `--target` and no `--marker`:
    /// the target alone, judged as it always was).
    pub fn unit(&self) -> Result<UnitSpec, String> {
        for name in self.targets.iter().chain(&self.marker) {
            sandbox::check_target_name(name)?;
        }
        let single = self.targets.len() == 1 && !unit::is_glob(&self.targets[0]);
        if single && self.marker.is_none() {
            return Ok(UnitSpec::default());
        }
        if let Some(marker) = self.marker.as_deref().filter(|m| unit::is_glob(m)) {
            return Err(format!(
                "--marker {marker:?} is a glob: give the marker's one path"
            ));
        }
        Ok(UnitSpec {
            targets: self.targets.clone(),
            marker: self.marker.clone(),
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

    /// What a command after `--` must show.
    pub fn expect(&self) -> Expect {
        match self.expect {
            Some(ExpectArg::Caught) => Expect::Caught,
            Some(ExpectArg::Pass) | None => Expect::Pass,
        }
    }

    /// The subjects: the command after `--`, or the chosen built-ins (every one by default) on
    /// payloads of `--size`, else `default_size_bytes`.
    pub fn subjects(&self, default_size_bytes: u64) -> Result<Vec<Subject>, String> {
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
            return Ok(vec![Subject::command(self.command.clone(), self.expect())]);
        }
        if self.expect.is_some() {
            return Err(
                "--expect applies to a command after `--`; built-in subjects carry their own expectations \
                 (see `torture list`)"
                    .to_owned(),
            );
        }
        let size_bytes = self.size.unwrap_or(default_size_bytes);
        let (builtins, named_only) = (campaign::builtins(), campaign::named_only_builtins());
        let known = |n: &String| {
            builtins
                .iter()
                .chain(&named_only)
                .any(|b| b.name == n.as_str())
        };
        if let Some(name) = self.subjects.iter().find(|n| !known(n)) {
            return Err(format!(
                "`{name}` only races (`torture race --subject {name}`); see `torture list` for the others"
            ));
        }
        let named = |b: &campaign::Builtin| self.subjects.iter().any(|n| n == b.name);
        // Concurrent writers run only when named (see `Strategy::CONCURRENT`).
        let chosen = builtins
            .into_iter()
            .filter(|b| self.subjects.is_empty() || named(b))
            .chain(named_only.into_iter().filter(named));
        Ok(chosen.map(|b| Subject::builtin(b, size_bytes)).collect())
    }
}

impl KillArgs {
    /// The output format.
    pub fn output_format(&self) -> OutputFormat {
        self.common.output_format()
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<Plan, String> {
        let settings = self.common.settings(
            seed,
            (self.selection(), self.strict),
            &self.jobs,
            self.shard.partition,
        )?;
        let mut subjects = self.common.subjects(DEFAULT_SIZE_BYTES)?;
        if self.is_main_job() {
            subjects.extend(main_job_sweep());
        }
        Ok(Plan { subjects, settings })
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

    /// The main job: no subject, command, size or kill-point choice given.
    fn is_main_job(&self) -> bool {
        self.common.subjects.is_empty()
            && self.common.command.is_empty()
            && self.common.size.is_none()
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

pub(crate) fn default_jobs() -> usize {
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

    #[test]
    fn shared_options_parse_the_same_on_every_campaign() {
        let shared = [
            "--subject",
            "intact",
            "--initial",
            "absent",
            "--seed",
            "9",
            "--dir",
            "/tmp",
            "--size",
            "4KiB",
            "--target",
            "t.json",
            "--timeout-ms",
            "500",
            "--report-dir",
            "r",
            "--no-report",
            "--format",
            "json",
        ];
        for command in ["kill", "power", "errors", "race"] {
            let args: Vec<&str> = std::iter::once(command).chain(shared).collect();
            let cli = parse(&args).unwrap_or_else(|e| panic!("{command}: {e}"));
            let common = match cli.command.expect("a subcommand") {
                Command::Kill(a) => a.common,
                Command::Power(a) => a.common,
                Command::Errors(a) => a.common,
                Command::Race(a) => a.common,
                other @ (Command::List(_) | Command::Bench(_) | Command::Merge(_)) => {
                    panic!("{other:?}")
                }
            };
            assert_eq!(common.subjects, ["intact"], "{command}");
            assert_eq!(
                (common.seed, common.size),
                (Some(9), Some(4096)),
                "{command}"
            );
            assert_eq!(common.format, FormatArg::Json, "{command}");
            assert!(common.no_report, "{command}");
        }
        for command in ["kill", "errors", "power", "race"] {
            assert!(
                parse(&[command, "--jobs", "2", "--partition", "1/2"]).is_ok(),
                "{command}"
            );
        }
    }

    #[test]
    fn real_is_an_option_of_power_and_sizes_beyond_memory_are_refused() {
        for args in [
            &["power", "--real", "ext4"][..],
            &["power", "--real=ext4,xfs"],
        ] {
            let Some(Command::Power(power)) = parse(args).expect("parses").command else {
                panic!("power")
            };
            assert!(power.real.real.is_some(), "{args:?}");
        }
        assert!(parse(&["power", "--real", "zfs"]).is_err());
        assert!(
            parse(&["power", "--settle-ms", "5", "--sample", "3"]).is_err(),
            "--sample needs --real"
        );
        let error = parse(&["kill", "--size", "64GiB"]).expect_err("refused");
        assert!(error.to_string().contains("available memory"), "{error}");
        assert!(parse(&["kill", "--size", "64KiB"]).is_ok());
    }
}
