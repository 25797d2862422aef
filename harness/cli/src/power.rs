//! `torture power`: its options (clap derive) and their translation into a power plan; the
//! campaign itself is `torture_engine::campaign::power`.

use std::path::PathBuf;

use clap::Args;

use crate::cli::{Common, Jobs, KillArgs, Shard};
use torture_core::oracle::CrashKind;
use torture_core::power::{CrashState, Fill, Model, PowerOptions, Torn};
use torture_engine::campaign::power::{DEFAULT_RECOVERY_CAP, PowerPlan, PowerSettings};
use torture_engine::campaign::traces::{self, SavedTrace};
use torture_engine::campaign::{self, Subject, SubjectKind};
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

With --real ext4|ext4-noauto_da_alloc|xfs|btrfs|all (root: loop devices, mount), the writer runs on a loop-mounted \
image instead, held before each event while the image is copied, and copied again after it exits (at +0 ms and at \
doubling intervals up to --settle-ms). Every real state is judged against the writer's contract (every subject \
must keep it: a file system that spares a canary proves nothing, a real violation is a real bug) and against the \
model of that file system (`ext4` for both ext4 configurations, `xfs`, `btrfs`; a state outside it is a MODEL BUG: the model is wrong, said on its own line, in `model_bugs` and \
by exit 4).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught, or a real state that breaks the \
writer's contract); 2 bad usage or a harness error; 3 no violation, but a writer does what the tracer cannot model \
(a shared writable mmap); 4 a model bug (--real); 130 interrupted, with a partial report.

Examples:
  torture power --subject rename-fsync --size 8KiB
  torture power --ack-line '^done$' -- python3 harness/writers/write_report_atomic.py {target}
  torture power --subject rename --size 8KiB --state e4:t1@4096 --materialize crash # replay one state
  torture power --initial absent --target 'out/part-*.csv' --marker out/_SUCCESS -- python3 harness/writers/write_partitions.py {target}   # exit 1
  torture power --real ext4 --subject intact                                          # root";

/// Options of `torture power`.
#[derive(Debug, Clone, Args)]
pub struct PowerArgs {
    /// Persistence model, repeatable; a subject passes when it passes under each: posix (what
    /// POSIX promises), ext4, xfs, btrfs, linux (= ext4, xfs and btrfs), weak (ALICE's; for
    /// information: over-reports), process (SIGKILL: nothing lost; built-ins are judged by their
    /// SIGKILL expectations) [default: linux]
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

    /// Replay one crash state (an id from a report, e.g. e12:d5,7-9:t10@4096)
    #[arg(long, value_name = "ID", value_parser = parse_name::<CrashState>)]
    pub state: Option<CrashState>,

    /// With --state: write that crash state's sandbox tree to DIR (new or empty)
    #[arg(long, value_name = "DIR", requires = "state")]
    pub materialize: Option<PathBuf>,

    /// Crash states per subject to write to a sandbox and run the writer over again
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RECOVERY_CAP)]
    pub recovery_cap: usize,

    /// Explore a trace saved with --save-trace (a file, or a directory of `<subject>.jsonl`)
    /// instead of running the writer: no golden run, and no recovery run (they need the writer);
    /// --check still judges
    #[arg(long, value_name = "FILE", conflicts_with = "save_trace")]
    pub trace: Option<PathBuf>,

    #[command(flatten)]
    pub real: crate::real::RealArgs,

    #[command(flatten)]
    pub shard: Shard,

    #[command(flatten)]
    pub jobs: Jobs,

    #[command(flatten)]
    pub common: Common,
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

impl PowerArgs {
    /// The kill options these share, to build subjects and settings the same way.
    fn as_kill(&self) -> KillArgs {
        KillArgs {
            trials: Some(1),
            exhaustive: false,
            kill_at: None,
            strict: false,
            shard: self.shard.clone(),
            jobs: self.jobs.clone(),
            common: self.common.clone(),
        }
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<PowerPlan, String> {
        let one_subject = !self.common.command.is_empty() || self.common.subjects.len() == 1;
        if self.state.is_some() && !one_subject && self.trace.is_none() {
            return Err("--state replays one subject's crash state: give one --subject NAME or a command after `--`".to_owned());
        }
        if self.shard.partition.is_some() && self.state.is_some() {
            return Err(
                "--partition splits a whole exploration; --state replays one state".to_owned(),
            );
        }
        let (kill, saved_traces) = match &self.trace {
            Some(path) => self.saved_plan(path, seed)?,
            None => (self.as_kill().plan(seed)?, Vec::new()),
        };
        let models = chosen_models(&self.models);
        let options = PowerOptions {
            model: models[0],
            torn: self.torn,
            fill: self.fill,
            max_states: self.max_states,
            seed,
            budget_ms: self.budget,
            partition: self.shard.partition,
            ..PowerOptions::default()
        };
        Ok(power_plan(
            kill,
            PowerSettings {
                options,
                models,
                recovery_cap: match saved_traces.is_empty() {
                    true => self.recovery_cap,
                    false => 0,
                },
                state: self.state.clone(),
                materialize: self.materialize.clone(),
                saved_traces,
            },
        ))
    }

    /// The plan of `--trace FILE`: one subject per saved trace, named after it, expected to pass
    /// (or `--expect caught`).
    fn saved_plan(
        &self,
        path: &std::path::Path,
        seed: u64,
    ) -> Result<(campaign::Plan, Vec<SavedTrace>), String> {
        let c = &self.common;
        if !c.subjects.is_empty() || !c.command.is_empty() {
            return Err(
                "--trace explores a saved trace: give no --subject and no command after `--`"
                    .to_owned(),
            );
        }
        let saved = traces::load(path)?;
        let mut kill = self.as_kill();
        kill.common.expect = None;
        let mut plan = kill.plan(seed)?;
        plan.subjects = saved
            .iter()
            .map(|s| {
                let argv = s.trace.header.command.iter().map(Into::into).collect();
                let mut subject = Subject::command(argv, c.expect());
                subject.label = s.label.clone();
                subject
            })
            .collect();
        Ok((plan, saved))
    }
}

/// The crash kind whose catalogue expectations the chosen models' verdicts are judged by: the
/// `process` model loses nothing a SIGKILL would not, so when it is the only model chosen,
/// built-ins must do what they do under SIGKILL; any file-system model loses what a power cut
/// loses.
pub fn expectations_of(models: &[Model]) -> CrashKind {
    match models.iter().all(|model| *model == Model::Process) {
        true => CrashKind::Kill,
        false => CrashKind::Power,
    }
}

/// A power plan over a kill plan's subjects and settings: built-ins get their expectation under
/// the chosen models from the catalogue; subjects with their own kill selection (the main job's
/// exhaustive sweep) are kill-only.
pub fn power_plan(kill: campaign::Plan, power: PowerSettings) -> PowerPlan {
    let kind = expectations_of(&power.models);
    let subjects = kill
        .subjects
        .into_iter()
        .filter(|s| s.selection.is_none())
        .map(|mut subject| {
            if let SubjectKind::Builtin { .. } = subject.kind {
                if let Ok(strategy) = subject.name.parse::<Strategy>() {
                    subject.expect = strategy.expect(kind);
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
        recovery_cap: MAIN_JOB_RECOVERY_CAP,
        state: None,
        materialize: None,
        saved_traces: Vec::new(),
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
