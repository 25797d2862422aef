//! One trial: seed the sandbox, kill the writer at a point, judge the target, run recovery.

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::error::CampaignError;
use super::golden::{Golden, Validator, writer_command};
use super::process::{self, Ended, Invocation, Output};
use super::subject::Prepared;
use super::tree::{AckLines, TreeChecker, TreeVerdict};
use super::{RecoveryRecord, RunContext, Settings, TrialRecord};
use crate::sandbox::Sandbox;
use crate::tracer::{self, Outcome, RunLimits, WriterAck, WriterCommand};
use torture_core::fault::Fault;
use torture_core::killpoint::KillPoint;
use torture_core::oracle::{
    self, Ack, FileKind, RunExit, TargetState, TrialFacts, Validation, Validity, Verdict, Versions,
};
use torture_core::power;
use torture_core::trace::ExitStatus;

/// The verdict of a tree the checker rejected (its reason is kept beside it): torn, as power
/// calls it, with no offset or length (the checker judged a tree, not the target's bytes).
pub(crate) const REJECTED: Verdict = Verdict::Torn {
    parses: Validity::Invalid,
    first_diff_offset: 0,
    len_bytes: 0,
};

/// A crash's verdict, and under `--check` the checker's reason when it rejected the tree.
pub(crate) type Judged = (Verdict, Option<String>);

/// A worker's fixed setup: its sandbox and the writer invocations for it.
pub(crate) struct Worker<'a> {
    prepared: &'a Prepared,
    golden: &'a Golden,
    settings: &'a Settings,
    context: &'a RunContext,
    sandbox: Sandbox,
    logs: PathBuf,
    slot: String,
    recovery: Invocation,
    command: WriterCommand,
    limits: RunLimits,
    /// `--ack-line`, compiled.
    ack_line: Option<Regex>,
    /// Where this worker's `--check` runs materialise crash trees.
    check_work: PathBuf,
}

impl<'a> Worker<'a> {
    pub fn new(
        prepared: &'a Prepared,
        golden: &'a Golden,
        settings: &'a Settings,
        context: &'a RunContext,
        (sandbox, logs, slot): (Sandbox, PathBuf, String),
    ) -> Result<Worker<'a>, CampaignError> {
        let recovery = prepared.invocation((sandbox.path(), sandbox.target()), 2);
        let check_work = logs.with_file_name(format!("checks-{slot}"));
        Ok(Worker {
            ack_line: settings.ack_regex()?,
            check_work,
            command: writer_command(&recovery),
            limits: RunLimits {
                timeout_ms: settings.timeout_ms,
                cancel: context.cancel.clone(),
            },
            prepared,
            golden,
            settings,
            context,
            sandbox,
            logs,
            slot,
            recovery,
        })
    }

    /// Runs one trial. `Ok(None)`: Ctrl-C.
    pub fn run(&self, number: u64, point: KillPoint) -> Result<Option<TrialRecord>, CampaignError> {
        self.golden
            .reset(&self.sandbox, self.golden.versions.old.as_deref())?;
        let run = match tracer::run_to_kill(&self.command, self.sandbox.path(), point, &self.limits)
        {
            Ok(run) if run.outcome == Outcome::Cancelled => return Ok(None),
            Ok(run) => self.in_time(
                run,
                || format!("the kill trial at {point}"),
                || format!("its kill point ({point}) or its end"),
            )?,
            Err(_) if self.cancelled() => return Ok(None),
            Err(source) => {
                return Err(CampaignError::Trace {
                    subject: self.prepared.subject.label.clone(),
                    source,
                });
            }
        };
        // Leftovers first: a `--check` with side effects must not change what is counted.
        let orphans = self.orphans()?;
        let Some(((verdict, reason), target_kind)) = self.judge_crash(&run.ack)? else {
            return Ok(None);
        };
        let Some(recovery) = self.recover_after(&run.ack)? else {
            return Ok(None);
        };
        let facts = TrialFacts {
            initial: self.settings.initial,
            verdict,
            ack: self.ack_of(&run.ack),
            hung: matches!(run.outcome, Outcome::TimedOut { .. }),
            recovery: recovery.as_ref().and_then(|r| r.failure),
            orphans_after_recovery: recovery.as_ref().map_or(0, |r| r.orphans.len()),
            strict: self.settings.strict,
        };
        let violations = self.violations(&facts);
        Ok(Some(TrialRecord {
            number,
            point,
            end: run.outcome,
            writer: run.ack,
            verdict,
            reason,
            ack: facts.ack,
            target_kind,
            orphans,
            recovery,
            violations,
        }))
    }

    /// A trial's violations: under `--check` the checker's verdict replaces the target's rules.
    fn violations(&self, facts: &TrialFacts) -> Vec<oracle::Violation> {
        match self.settings.check_command() {
            Some(_) => oracle::tree_trial_violations(facts),
            None => oracle::trial_violations(facts),
        }
    }

    /// What the writer had acknowledged: with `--ack-line`, a matching line printed before the
    /// kill; else its exit 0.
    pub fn ack_of(&self, writer: &WriterAck) -> Ack {
        match self.ack_line_printed(writer) {
            Some(true) => Ack::Acked,
            Some(false) => Ack::Pending,
            None => super::ack_of(writer),
        }
    }

    /// `--ack-line`: whether the writer printed a matching line (`None` without it).
    pub fn ack_line_printed(&self, writer: &WriterAck) -> Option<bool> {
        self.ack_line
            .as_ref()
            .map(|_| self.printed(writer).acknowledged_by_line(0))
    }

    fn printed(&self, writer: &WriterAck) -> AckLines {
        let exited_ok = writer.exit == Some(ExitStatus::Code(0));
        AckLines::printed(&writer.stdout, exited_ok, self.ack_line.as_ref())
    }

    /// The crash's verdict: under `--check` the checker's on the whole tree, else the target's
    /// (with its kind when it is not a regular file). `Ok(None)`: Ctrl-C.
    pub fn judge_crash(
        &self,
        writer: &WriterAck,
    ) -> Result<Option<(Judged, Option<FileKind>)>, CampaignError> {
        match self.settings.check_command() {
            Some(check) => Ok(self.judge_tree(check, writer)?.map(|judged| (judged, None))),
            None => Ok(self
                .judge_target()?
                .map(|(verdict, kind)| ((verdict, None), kind))),
        }
    }

    /// The checker's verdict on the tree the sandbox holds now, with the lines `writer` printed
    /// in `{stdout}` (`--recover` first, in the checker's copy): new when it holds, torn with
    /// its reason when not. Distinct trees are checked once per subject. `Ok(None)`: Ctrl-C.
    fn judge_tree(&self, check: &str, writer: &WriterAck) -> Result<Option<Judged>, CampaignError> {
        let tree = power::read_tree(self.sandbox.path()).map_err(|source| CampaignError::Io {
            what: format!("read the crash tree in {}", self.sandbox.path().display()),
            source,
        })?;
        let checker = TreeChecker {
            check,
            recover: self.settings.recover.as_deref(),
            target: &self.settings.target,
            acks: self.printed(writer),
            work: self.check_work.clone(),
            timeout: Duration::from_millis(self.settings.timeout_ms),
            jobs: 1,
            cancel: &self.context.cancel,
        };
        Ok(match self.golden.trees.verdict(&checker, tree)? {
            Some(TreeVerdict::Holds) => Some((Verdict::New { index: None }, None)),
            Some(TreeVerdict::Fails(reason)) => Some((REJECTED, Some(reason))),
            None => None,
        })
    }

    /// Runs the writer once with `fault` (an errno or a short write; `what` names the
    /// injection) in a freshly seeded sandbox, recording its trace: the `torture errors` trial.
    /// `Ok(None)`: Ctrl-C.
    pub fn run_fault(
        &self,
        fault: &Fault,
        what: &dyn Fn() -> String,
    ) -> Result<Option<tracer::Run>, CampaignError> {
        self.golden
            .reset(&self.sandbox, self.golden.versions.old.as_deref())?;
        let (sandbox, target) = (self.sandbox.path(), self.sandbox.target());
        match tracer::run_fault(&self.command, sandbox, target, fault, &self.limits) {
            Ok(run) if run.outcome == Outcome::Cancelled => Ok(None),
            Ok(mut run) => {
                // The faulted run started from the same prepared tree as the golden run.
                let initial = &self.golden.summary.trace.header.initial_tree;
                if let Some(trace) = &mut run.trace {
                    trace.header.initial_tree.clone_from(initial);
                }
                self.in_time(run, what, || "its end".to_owned()).map(Some)
            }
            Err(_) if self.cancelled() => Ok(None),
            Err(source) => Err(CampaignError::Trace {
                subject: self.prepared.subject.label.clone(),
                source,
            }),
        }
    }

    /// `run`, unless the watchdog stopped it at the timeout: that is a harness timeout (the
    /// writer did not reach `goal` in the timeout of its own time), never the writer's verdict.
    fn in_time(
        &self,
        run: tracer::Run,
        what: impl FnOnce() -> String,
        goal: impl FnOnce() -> String,
    ) -> Result<tracer::Run, CampaignError> {
        run.in_time(what, goal, self.limits.timeout_ms)
            .map_err(|source| CampaignError::Trace {
                subject: self.prepared.subject.label.clone(),
                source,
            })
    }

    /// The sandbox's leftovers: everything but the target (and the unit's files, and what
    /// `--setup` prepared).
    pub fn orphans(&self) -> Result<Vec<crate::sandbox::Orphan>, CampaignError> {
        let orphans = self.sandbox.orphans()?;
        let orphans = crate::sandbox::not_prepared(orphans, &self.golden.setup_names);
        Ok(super::unit::not_in_unit(orphans, self.golden.unit.as_ref()))
    }

    fn cancelled(&self) -> bool {
        self.context
            .cancel
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Classifies what is at the target now (the built-in judge; under `--check` the checker
    /// judges whole trees instead, see [`Worker::judge_crash`]).
    pub fn judge_target(&self) -> Result<Option<(Verdict, Option<FileKind>)>, CampaignError> {
        self.judge_with(&self.golden.versions)
    }

    fn judge_with(
        &self,
        versions: &Versions,
    ) -> Result<Option<(Verdict, Option<FileKind>)>, CampaignError> {
        if let Some(unit) = &self.golden.unit {
            return Ok(Some((
                super::unit::judge_sandbox(unit, &self.sandbox)?,
                None,
            )));
        }
        let state = self.sandbox.read_target()?;
        let validation = match &self.golden.validator {
            Validator::Builtin(validation) => *validation,
            // Under `--check` the checker judges whole trees; a target alone is only bytes.
            Validator::Check(_) => Validation::Bytes,
        };
        let kind = match &state {
            TargetState::NotRegular(kind) => Some(*kind),
            TargetState::Absent | TargetState::Regular(_) => None,
        };
        Ok(Some((
            oracle::classify(&state, versions, &validation),
            kind,
        )))
    }

    /// The recovery of a trial whose writer printed `writer`: the writer run again, uncrashed,
    /// over what the crash left, judged like the crash (under `--check`, the checker on the tree
    /// it left, with the same `{stdout}`). `Ok(Some(None))`: `--recover` replaced that run (it
    /// ran before the checker, in [`Worker::judge_crash`]). `Ok(None)`: Ctrl-C.
    pub fn recover_after(
        &self,
        writer: &WriterAck,
    ) -> Result<Option<Option<RecoveryRecord>>, CampaignError> {
        let check = self.settings.check_command();
        if check.is_some() && self.settings.recover.is_some() {
            return Ok(Some(None));
        }
        let exit = match self.prepared.run_in_process(self.sandbox.target()) {
            Some(exit) => exit,
            None => match self.recover_in_child()? {
                Some(exit) => exit,
                None => return Ok(None),
            },
        };
        let orphans = self.orphans()?;
        let judged = match check {
            Some(check) => self.judge_tree(check, writer)?,
            None => self
                .judge_with(&self.golden.versions)?
                .map(|(verdict, _)| (verdict, None)),
        };
        let Some((verdict, reason)) = judged else {
            return Ok(None);
        };
        Ok(Some(Some(RecoveryRecord {
            exit,
            failure: oracle::judge_recovery(exit, &verdict),
            verdict,
            reason,
            orphans,
        })))
    }

    fn recover_in_child(&self) -> Result<Option<RunExit>, CampaignError> {
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let log = (self.logs.as_path(), self.slot.as_str());
        let ended = process::run(
            &self.recovery,
            self.sandbox.path(),
            Output::Discard,
            log,
            timeout,
            &self.context.cancel,
        )
        .map_err(|source| CampaignError::Io {
            what: format!("run the recovery run of {}", self.prepared.subject.label),
            source,
        })?;
        Ok(match ended {
            Ended::Exit { exit, .. } => Some(exit),
            Ended::Cancelled => None,
        })
    }
}
