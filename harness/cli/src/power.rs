//! `torture power`: its options (clap derive) and their translation into a power plan; the
//! campaign itself is `torture_engine::campaign::power`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use crate::cli::{ExpectArg, FormatArg, InitialArg, KillArgs, ValidateArg};
use torture_core::oracle::CrashKind;
use torture_core::power::{CrashState, Fill, Model, PowerOptions, Torn};
use torture_engine::campaign::power::{DEFAULT_RECOVERY_CAP, PowerPlan, PowerSettings, Regex};
use torture_engine::campaign::{self, SubjectKind};
use torture_writers::strategies::Strategy;

/// Crash states per subject when `--max-states` is not given.
pub const DEFAULT_MAX_STATES: u64 = 200_000;
/// Crash states per subject in the main job: sampled, so the power column costs seconds.
pub const MAIN_JOB_MAX_STATES: u64 = 2_000;
/// Recovery runs per subject in the main job.
pub const MAIN_JOB_RECOVERY_CAP: usize = 5;

pub const POWER_AFTER_HELP: &str = "Records the writer's trace once (the golden run), then builds every state a power cut \
could leave on disk under the persistence model, in memory, and judges each: before the acknowledgement (exit 0, \
or the first stdout line matching --ack-line) the target may be old, new or (on a first run) absent; after it only \
new; never torn, and an old version is never lost. A few states are then written to a real sandbox and the writer \
runs again: it must leave a new version.

Real file systems (root): `torture power --real ext4|ext4-noauto_da_alloc|xfs|btrfs|all` runs the writer on a \
loop-mounted image, snapshots the image at every event and after exit, and checks that every real state lies \
inside the model (the same as `torture power-real --fs ...`; see `torture power-real --help` for its options).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a harness error; \
130 interrupted.

Examples:
  torture power --subject rename-fsync --size 8KiB
  torture power --ack-line '^done$' -- python3 writer.py {target}
  torture power --subject rename --size 8KiB --state e9:d4 --materialize /tmp/crash   # replay one state";

/// Options of `torture power`.
#[derive(Debug, Clone, Args)]
pub struct PowerArgs {
    /// Built-in subject to run (repeatable; default: all, see `torture list`)
    #[arg(long = "subject", value_name = "NAME", value_parser = crate::cli::subject_name)]
    pub subjects: Vec<String>,

    /// State before the writer runs
    #[arg(long, value_enum, default_value_t = InitialArg::Old)]
    pub initial: InitialArg,

    /// How torn files are checked for validity
    #[arg(long, value_enum, default_value_t = ValidateArg::Auto, conflicts_with = "check")]
    pub validate: ValidateArg,

    /// Shell command that exits 0 when a file is valid; `{file}` is replaced by the file's path
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,

    /// Persistence model, repeatable; a subject passes when it passes under each: posix (what
    /// POSIX promises), ext4, xfs, btrfs, linux (= ext4, xfs and btrfs), weak (ALICE's; for
    /// information: over-reports), process (SIGKILL: nothing lost) [default: linux]
    #[arg(long = "model", value_name = "MODEL", value_parser = parse_models)]
    pub models: Vec<ModelChoice>,

    /// Unit a write tears at: block (4096), sector (512), a number of bytes (e.g. 8: sub-sector),
    /// none (whole writes)
    #[arg(long, value_name = "UNIT", default_value = "block", value_parser = parse_name::<Torn>)]
    pub torn: Torn,

    /// What a grown range whose data did not arrive reads as: zeros or garbage
    #[arg(long, value_name = "FILL", default_value = "zeros", value_parser = parse_name::<Fill>)]
    pub fill: Fill,

    /// Build every state while the model allows at most N; beyond, families and seeded samples
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_STATES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_states: u64,

    /// Stop judging a subject's states after this long (e.g. 60s, 500ms, 2m); the report then
    /// says how many were judged of how many, "not exhaustive"
    #[arg(long, value_name = "DURATION", value_parser = parse_budget_ms)]
    pub budget: Option<u64>,

    /// The first stdout line matching REGEX is the acknowledgement (instead of exit 0)
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub ack_line: Option<Regex>,

    /// Replay one crash state (an id from a report, e.g. e12:d5,7-9:t10@4096)
    #[arg(long, value_name = "ID", value_parser = parse_name::<CrashState>)]
    pub state: Option<CrashState>,

    /// With --state: write that crash state's sandbox tree to DIR (new or empty)
    #[arg(long, value_name = "DIR", requires = "state")]
    pub materialize: Option<PathBuf>,

    /// Crash states per subject to write to a sandbox and run the writer over again
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RECOVERY_CAP)]
    pub recovery_cap: usize,

    /// Seed for sampled states [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Per-run timeout: a hung writer is killed and reported
    #[arg(long, value_name = "MS", default_value_t = campaign::DEFAULT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// Directory for the sandboxes [default: $TMPDIR, else /dev/shm, else /tmp]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Payload size of built-in subjects, e.g. 2048, 64KiB [default: 64KiB]
    #[arg(long, value_name = "BYTES", value_parser = torture_core::size::parse_size_bytes)]
    pub size: Option<u64>,

    /// Target file name, relative to each sandbox
    #[arg(long, value_name = "NAME", default_value = campaign::DEFAULT_TARGET)]
    pub target: String,

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

fn parse_name<T: std::str::FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| e.to_string())
}

/// `--budget`: `60s`, `500ms`, `2m`, or seconds; in milliseconds.
fn parse_budget_ms(text: &str) -> Result<u64, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        (text, 1000)
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 60s, 500ms, 2m)"))
}

/// The models one `--model` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice(Vec<Model>);

fn parse_models(text: &str) -> Result<ModelChoice, String> {
    Model::parse_set(text)
        .map(ModelChoice)
        .map_err(|e| e.to_string())
}

/// The models every `--model` names, each once, in the order given (default: `linux`).
fn chosen_models(choices: &[ModelChoice]) -> Vec<Model> {
    let mut models: Vec<Model> = Vec::new();
    for model in choices.iter().flat_map(|c| c.0.iter()) {
        if !models.contains(model) {
            models.push(*model);
        }
    }
    match models.is_empty() {
        true => Model::DEFAULT_SET.to_vec(),
        false => models,
    }
}

fn parse_regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))
}

impl PowerArgs {
    /// The kill options these options share, to build subjects and settings the same way.
    fn as_kill(&self) -> KillArgs {
        KillArgs {
            subjects: self.subjects.clone(),
            initial: self.initial,
            validate: self.validate,
            check: self.check.clone(),
            trials: Some(1),
            seed: self.seed,
            exhaustive: false,
            kill_at: None,
            partition: None,
            jobs: Some(1),
            timeout_ms: self.timeout_ms,
            dir: self.dir.clone(),
            size: self.size,
            target: self.target.clone(),
            strict: false,
            expect: self.expect,
            report_dir: self.report_dir.clone(),
            no_report: self.no_report,
            format: self.format,
            command: self.command.clone(),
        }
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<PowerPlan, String> {
        if self.state.is_some() && self.subjects.len() != 1 && self.command.is_empty() {
            return Err("--state replays one subject's crash state: give one --subject NAME or a command after `--`".to_owned());
        }
        let kill = self.as_kill().plan(seed)?;
        let models = chosen_models(&self.models);
        let options = PowerOptions {
            model: models[0],
            torn: self.torn,
            fill: self.fill,
            max_states: self.max_states,
            seed,
            budget_ms: self.budget,
            ..PowerOptions::default()
        };
        Ok(power_plan(
            kill,
            PowerSettings {
                options,
                models,
                ack_line: self.ack_line.clone(),
                recovery_cap: self.recovery_cap,
                state: self.state.clone(),
                materialize: self.materialize.clone(),
            },
        ))
    }
}

/// A power plan over a kill plan's subjects and settings: built-ins get their power-cut
/// expectation from the catalogue; subjects with their own kill selection (the main job's
/// exhaustive sweep) are kill-only.
pub fn power_plan(kill: campaign::Plan, power: PowerSettings) -> PowerPlan {
    let subjects = kill
        .subjects
        .into_iter()
        .filter(|s| s.selection.is_none())
        .map(|mut subject| {
            if let SubjectKind::Builtin { .. } = subject.kind {
                if let Ok(strategy) = subject.name.parse::<Strategy>() {
                    subject.expect = strategy.expect(CrashKind::Power);
                }
            }
            subject
        })
        .collect();
    PowerPlan {
        subjects,
        settings: kill.settings,
        power,
    }
}

/// The main job's power settings: the default model, sampled, few recovery runs.
pub fn main_job_settings(seed: u64) -> PowerSettings {
    PowerSettings {
        options: PowerOptions {
            max_states: MAIN_JOB_MAX_STATES,
            seed,
            ..PowerOptions::default()
        },
        models: Model::DEFAULT_SET.to_vec(),
        ack_line: None,
        recovery_cap: MAIN_JOB_RECOVERY_CAP,
        state: None,
        materialize: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use torture_core::oracle::Expect;

    fn power(args: &[&str]) -> Result<PowerArgs, clap::Error> {
        let cli = Cli::try_parse_from(["torture", "power"].iter().chain(args))?;
        match cli.command {
            Some(Command::Power(args)) => Ok(*args),
            other => panic!("not power: {other:?}"),
        }
    }

    #[test]
    fn built_ins_carry_their_power_expectations_and_no_sweep() {
        let plan = power(&[]).expect("parses").plan(3).expect("plan");
        assert_eq!(plan.subjects.len(), Strategy::ALL.len());
        let expect = |name: &str| {
            plan.subjects
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.expect)
        };
        assert_eq!(expect("rename-fsync"), Some(Expect::Caught));
        assert_eq!(expect("intact"), Some(Expect::Pass));
        assert_eq!(plan.power.models(), Model::DEFAULT_SET.to_vec());
        assert_eq!(plan.power.options.seed, 3);
    }

    #[test]
    fn bad_names_and_ids_are_usage_errors() {
        assert!(power(&["--model", "ext5"]).is_err());
        assert!(power(&["--torn", "page"]).is_err());
        assert!(power(&["--torn", "0"]).is_err());
        assert!(power(&["--budget", "soon"]).is_err());
        let args = power(&["--budget", "2m"]).expect("parses");
        assert_eq!(
            args.plan(1).expect("plan").power.options.budget_ms,
            Some(120_000)
        );
        let args = power(&["--model", "posix", "--model", "linux", "--torn", "8"]);
        let plan = args.expect("parses").plan(1).expect("plan");
        let every = [Model::Posix, Model::Ext4, Model::Xfs, Model::Btrfs];
        assert_eq!(plan.power.models(), every.to_vec());
        assert_eq!(plan.power.options.torn, Torn::Bytes(8));
        assert!(power(&["--state", "nonsense"]).is_err());
        assert!(power(&["--ack-line", "("]).is_err());
        assert!(power(&["--materialize", "x"]).is_err());
        let args = power(&["--state", "e3:d1"]).expect("parses");
        assert!(args.plan(1).is_err(), "--state needs one subject");
        let args = power(&["--subject", "plain", "--state", "e3:d1", "--model", "weak"]);
        let plan = args.expect("parses").plan(1).expect("plan");
        assert_eq!(plan.power.state, Some("e3:d1".parse().expect("id")));
    }
}
