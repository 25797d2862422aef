//! `torture errors`: the options (clap) and the run. The campaign is
//! `torture_engine::campaign::errors`; this file only translates options and prints.

use std::process::ExitCode;

use clap::Args;

use crate::cli::{Common, Jobs, KillArgs, Shard};
use torture_core::errors::{FaultKind, Injection};
use torture_engine::campaign::errors::{self, ErrorsOptions, ErrorsPlan, ErrorsRunResult};
use torture_engine::campaign::{RunContext, SubjectKind};
use torture_engine::report;
use torture_engine::report::errors::ErrorsReporter;
use torture_engine::report::summary::{self, RunSummary};
use torture_engine::strategies::Strategy;

pub const AFTER_HELP: &str = "Each trial fails one call of the golden run (EIO, ENOSPC, EDQUOT, EINTR, a short \
write, or fsyncgate: EIO from fsync with its pages dropped) and lets the writer go on. Then: a writer that \
exits 0 must leave the new version, durable at a power cut; one that fails must leave the old version (or \
the new one when the failed call came after its rename); never a torn file; the next run must recover.

Fault spaces of up to 512 injections run whole; larger ones are sampled (--trials, --seed).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a harness \
error; 3 no violation, but a writer does what the tracer cannot model (a shared writable mmap); 130 \
interrupted, with a partial report.

Examples:
  torture errors --subject intact --size 4096
  torture errors --fault enospc -- python3 harness/writers/write_report_atomic.py {target}
  torture errors --subject plain --size 4096 --inject 'write#1:ENOSPC'   # replay one";

/// Options of `torture errors`.
#[derive(Debug, Clone, Args)]
pub struct ErrorsArgs {
    /// Kinds of fault: eio, enospc, edquot, eintr, short-half, short-one, fsyncgate, or all
    #[arg(long = "fault", value_name = "KINDS", default_value = "all", value_parser = fault_kinds)]
    pub kinds: FaultKinds,

    /// Replay exactly one injection: SYSCALL#SEQ:ACTION, e.g. fsync#9:EIO or write#5:short=1
    #[arg(long, value_name = "INJECTION", value_parser = injection, conflicts_with_all = ["trials", "partition"])]
    pub inject: Option<Injection>,

    /// Injections per subject, drawn with --seed [default: all when at most 512]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub trials: Option<u64>,

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

/// The parsed `--fault` list (a newtype: clap treats a bare `Vec` as a repeated option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultKinds(pub Vec<FaultKind>);

fn fault_kinds(text: &str) -> Result<FaultKinds, String> {
    FaultKind::parse_list(text)
        .map(FaultKinds)
        .map_err(|e| e.to_string())
}

fn injection(text: &str) -> Result<Injection, String> {
    text.parse()
        .map_err(|e: torture_core::errors::InjectionParseError| e.to_string())
}

impl ErrorsArgs {
    /// The kill options these translate to, for what both commands share (subjects, settings).
    fn as_kill_args(&self) -> KillArgs {
        KillArgs {
            // Any explicit selection keeps the kill main job's extra sweep subject out.
            trials: Some(self.trials.unwrap_or(1)),
            exhaustive: false,
            kill_at: None,
            strict: self.strict,
            shard: self.shard.clone(),
            jobs: self.jobs.clone(),
            common: self.common.clone(),
        }
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<ErrorsPlan, String> {
        let kill = self.as_kill_args().plan(seed)?;
        let mut subjects = kill.subjects;
        for subject in &mut subjects {
            if let (SubjectKind::Builtin { .. }, Ok(strategy)) =
                (&subject.kind, subject.name.parse::<Strategy>())
            {
                subject.expect = strategy.expect_errors();
            }
        }
        if self.inject.is_some() && subjects.len() != 1 {
            return Err(format!(
                "--inject replays one injection of one subject; pick one with --subject NAME or a command \
                 after `--` ({} subjects selected)",
                subjects.len()
            ));
        }
        Ok(ErrorsPlan {
            subjects,
            settings: kill.settings,
            options: ErrorsOptions {
                kinds: self.kinds.0.clone(),
                trials: self.trials,
                inject: self.inject.clone(),
            },
        })
    }
}

/// `torture errors`: runs the plan, prints, writes the report; the summary decides the exit.
pub fn run(args: &ErrorsArgs) -> ExitCode {
    let plan = match args.plan(args.common.seed.unwrap_or_else(crate::random_seed)) {
        Ok(plan) => plan,
        Err(message) => return crate::harness_error(&message),
    };
    let cancel = match crate::interrupt_flag() {
        Ok(cancel) => cancel,
        Err(code) => return code,
    };
    let run_id = crate::run_id();
    let report_dir = match crate::report_dir_of(&args.common, &run_id) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let format = args.common.output_format();
    let mut reporter = ErrorsReporter::new(format, &plan, report_dir.clone());
    reporter.header(&plan);
    let context = RunContext { run_id, cancel };
    match errors::run(&plan, &context, &mut reporter) {
        Ok(run) => {
            reporter.finish(&run);
            let traces = run.subjects.iter().filter_map(|r| {
                let golden = r.golden.as_ref()?;
                Some((&r.subject, &golden.trace))
            });
            if let Err(code) = crate::save_traces(&args.common, plan.subjects.len(), traces) {
                return code;
            }
            crate::finish(
                errors_summary(&run, &context.run_id),
                format,
                report_dir.as_deref(),
            )
        }
        Err(e) => {
            if let Some(dir) = &report_dir {
                report::discard_empty_dir(dir);
            }
            crate::harness_error(&e.to_string())
        }
    }
}

/// The run's summary.
fn errors_summary(run: &ErrorsRunResult, run_id: &str) -> RunSummary {
    let subjects = run.subjects.iter().map(summary::errors_subject).collect();
    let (stop, floor) = crate::stop_of(&run.end);
    let mut summary = RunSummary::new("errors", run_id, subjects, stop).at_least(floor);
    summary.seed = Some(run.settings.seed);
    summary.partition = run.settings.partition.map(|p| p.to_string());
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use torture_engine::oracle::Expect;

    fn parse(args: &[&str]) -> Result<ErrorsArgs, clap::Error> {
        let cli = Cli::try_parse_from(["torture", "errors"].iter().chain(args).copied())?;
        match cli.command {
            Some(Command::Errors(args)) => Ok(*args),
            other => panic!("not errors: {other:?}"),
        }
    }

    #[test]
    fn defaults_inject_every_kind_into_every_builtin() {
        let args = parse(&[]).expect("parses");
        let plan = args.plan(1).expect("plan");
        assert_eq!(plan.options.kinds, FaultKind::ALL.to_vec());
        assert_eq!(plan.options.trials, None);
        assert_eq!(
            plan.subjects.len(),
            torture_engine::campaign::builtins().len()
        );
        let plain = plan
            .subjects
            .iter()
            .find(|s| s.name == "plain")
            .expect("plain");
        assert_eq!(plain.expect, Expect::Caught);
    }

    #[test]
    fn bad_fault_and_inject_values_are_usage_errors() {
        let err = parse(&["--fault", "eio,disk-on-fire"]).expect_err("bad kind");
        assert!(
            err.to_string()
                .contains("`disk-on-fire` is not a fault kind"),
            "{err}"
        );
        let err = parse(&["--inject", "fsync#9"]).expect_err("no action");
        assert!(err.to_string().contains("is not an injection"), "{err}");
        let err = parse(&["--inject", "fsync#9:EWHAT"]).expect_err("bad action");
        assert!(err.to_string().contains("is not an action"), "{err}");
        assert!(parse(&["--inject", "fsync#9:EIO", "--trials", "3"]).is_err());
        let args = parse(&["--inject", "fsync#9:EIO"]).expect("parses");
        assert!(
            args.plan(1)
                .expect_err("two subjects")
                .contains("one subject")
        );
        assert!(parse(&["--subject", "nonsense"]).is_err());
    }

    #[test]
    fn one_subject_with_one_injection() {
        let args = parse(&[
            "--subject",
            "intact",
            "--size",
            "4096",
            "--inject",
            "fsync#4:EIO",
        ])
        .expect("parses");
        let plan = args.plan(1).expect("plan");
        assert_eq!(plan.subjects.len(), 1);
        assert_eq!(
            plan.options.inject.expect("inject").to_string(),
            "fsync#4:EIO"
        );
    }
}
