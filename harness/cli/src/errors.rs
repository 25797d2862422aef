//! `torture errors`: the options (clap) and the run. The campaign is
//! `torture_engine::campaign::errors`; this file only translates options and prints.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Args;

use crate::cli::{ExpectArg, FormatArg, InitialArg, KillArgs, ValidateArg};
use torture_core::errors::{FaultKind, Injection};
use torture_engine::campaign::errors::{self, ErrorsOptions, ErrorsPlan, ErrorsRunResult};
use torture_engine::campaign::{self, RunContext, RunEnd, SubjectKind};
use torture_engine::oracle::SubjectStatus;
use torture_engine::report;
use torture_engine::report::errors::ErrorsReporter;
use torture_engine::strategies::Strategy;

pub const AFTER_HELP: &str = "Each trial fails one call of the golden run (EIO, ENOSPC, EDQUOT, EINTR, a short \
write, or fsyncgate: EIO from fsync with its pages dropped) and lets the writer go on. Then: a writer that \
exits 0 must leave the new version, durable at a power cut; one that fails must leave the old version (or \
the new one when the failed call came after its rename); never a torn file; the next run must recover.

Fault spaces of up to 512 injections run whole; larger ones are sampled (--trials, --seed).

Exit codes: 0 every subject as expected; 1 a violation (or a canary not caught); 2 bad usage or a harness \
error; 130 interrupted.

Examples:
  torture errors --subject intact --size 4096
  torture errors --fault enospc -- python3 writer.py {target}
  torture errors --subject plain --size 4096 --inject write#3:ENOSPC   # replay one";

/// Options of `torture errors`.
#[derive(Debug, Clone, Args)]
pub struct ErrorsArgs {
    /// Built-in subject to run (repeatable; default: all, see `torture list`)
    #[arg(long = "subject", value_name = "NAME")]
    pub subjects: Vec<String>,

    /// Kinds of fault: eio, enospc, edquot, eintr, short-half, short-one, fsyncgate, or all
    #[arg(long = "fault", value_name = "KINDS", default_value = "all", value_parser = fault_kinds)]
    pub kinds: FaultKinds,

    /// Replay exactly one injection: SYSCALL#SEQ:ACTION, e.g. fsync#9:EIO or write#5:short=1
    #[arg(long, value_name = "INJECTION", value_parser = injection, conflicts_with = "trials")]
    pub inject: Option<Injection>,

    /// Injections per subject, drawn with --seed [default: all when at most 512]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub trials: Option<u64>,

    /// Seed for drawing injections [default: random, printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// State before each trial
    #[arg(long, value_enum, default_value_t = InitialArg::Old)]
    pub initial: InitialArg,

    /// How torn files are checked for validity
    #[arg(long, value_enum, default_value_t = ValidateArg::Auto, conflicts_with = "check")]
    pub validate: ValidateArg,

    /// Shell command that exits 0 when a file is valid (`{file}` is replaced by its path)
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,

    /// Worker threads [default: available cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,

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

    /// A writer to test instead of the built-ins; `{target}` is the target's absolute path
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
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
            subjects: self.subjects.clone(),
            initial: self.initial,
            validate: self.validate,
            check: self.check.clone(),
            // Any explicit selection keeps the kill main job's extra sweep subject out.
            trials: Some(self.trials.unwrap_or(1)),
            seed: self.seed,
            exhaustive: false,
            kill_at: None,
            partition: None,
            jobs: self.jobs,
            timeout_ms: self.timeout_ms,
            dir: self.dir.clone(),
            size: self.size,
            target: self.target.clone(),
            strict: self.strict,
            expect: self.expect,
            report_dir: self.report_dir.clone(),
            no_report: self.no_report,
            format: self.format,
            command: self.command.clone(),
        }
    }

    /// Turns the options into a plan, or explains what does not fit together.
    pub fn plan(&self, seed: u64) -> Result<ErrorsPlan, String> {
        for name in &self.subjects {
            name.parse::<Strategy>()
                .map_err(|e| format!("{e} (see `torture list`)"))?;
        }
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

/// `torture errors`: runs the plan, prints, writes the report, exits 0/1/2/130.
pub fn run(args: &ErrorsArgs) -> ExitCode {
    let plan = match args.plan(args.seed.unwrap_or_else(crate::random_seed)) {
        Ok(plan) => plan,
        Err(message) => return crate::harness_error(&message),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    if let Err(e) = crate::install_interrupt_handler(&cancel) {
        return crate::harness_error(&format!("cannot install the Ctrl-C handler: {e}"));
    }
    let run_id = crate::run_id();
    let report_dir = match args.no_report {
        true => None,
        false => match report::prepare_dir(&args.report_dir, &run_id) {
            Ok(dir) => Some(dir),
            Err(e) => {
                let dir = args.report_dir.display();
                return crate::harness_error(&format!(
                    "cannot create the report directory under {dir}: {e}\n  hint: pass --report-dir a writable directory, or --no-report"
                ));
            }
        },
    };
    let mut reporter = ErrorsReporter::new(args.format.output_format(), &plan, report_dir.clone());
    reporter.header(&plan);
    let context = RunContext { run_id, cancel };
    match errors::run(&plan, &context, &mut reporter) {
        Ok(run) => {
            reporter.finish(&run);
            exit_code(&run)
        }
        Err(e) => {
            if let Some(dir) = &report_dir {
                report::discard_empty_dir(dir);
            }
            crate::harness_error(&e.to_string())
        }
    }
}

fn exit_code(run: &ErrorsRunResult) -> ExitCode {
    match &run.end {
        RunEnd::Interrupted => {
            eprintln!("torture: interrupted; sandboxes removed, partial report written");
            ExitCode::from(crate::EXIT_INTERRUPTED)
        }
        RunEnd::Failed(e) => crate::harness_error(&e.to_string()),
        RunEnd::Completed if run.all_as_expected() => ExitCode::SUCCESS,
        RunEnd::Completed => {
            for subject in &run.subjects {
                match subject.status() {
                    SubjectStatus::NotCaught => eprintln!(
                        "error: {}: canary not caught: the harness itself has failed",
                        subject.subject.label
                    ),
                    SubjectStatus::Passed
                    | SubjectStatus::Caught
                    | SubjectStatus::Failed
                    | SubjectStatus::NotCaughtInShard
                    | SubjectStatus::NotModelled => {}
                }
            }
            ExitCode::from(crate::EXIT_VIOLATION)
        }
    }
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
        assert_eq!(plan.subjects.len(), campaign::builtins().len());
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
        let args = parse(&["--subject", "nonsense"]).expect("parses");
        assert!(args.plan(1).is_err());
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
