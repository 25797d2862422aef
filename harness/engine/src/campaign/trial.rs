//! One trial: seed the sandbox, kill the writer at a point, judge the target, run recovery.

use std::path::PathBuf;
use std::time::Duration;

use super::error::CampaignError;
use super::golden::{Golden, Validator, writer_command};
use super::process::{self, Ended, Invocation, Output};
use super::subject::Prepared;
use super::{RecoveryRecord, RunContext, Settings, TrialRecord};
use crate::sandbox::Sandbox;
use crate::tracer::{self, Outcome, RunLimits, WriterCommand};
use torture_core::fault::Fault;
use torture_core::killpoint::KillPoint;
use torture_core::oracle::{
    self, FileKind, NewRule, RunExit, TargetState, TrialFacts, Validation, Validity, Verdict,
    Versions,
};

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
}

impl<'a> Worker<'a> {
    pub fn new(
        prepared: &'a Prepared,
        golden: &'a Golden,
        settings: &'a Settings,
        context: &'a RunContext,
        (sandbox, logs, slot): (Sandbox, PathBuf, String),
    ) -> Worker<'a> {
        let recovery = prepared.invocation(sandbox.target(), 2);
        Worker {
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
        }
    }

    /// Runs one trial. `Ok(None)`: Ctrl-C.
    pub fn run(&self, number: u64, point: KillPoint) -> Result<Option<TrialRecord>, CampaignError> {
        self.golden
            .reset(&self.sandbox, self.golden.versions.old.as_deref())?;
        let run = match tracer::run_to_kill(&self.command, self.sandbox.path(), point, &self.limits)
        {
            Ok(run) if run.outcome == Outcome::Cancelled => return Ok(None),
            Ok(run) => run,
            Err(_) if self.cancelled() => return Ok(None),
            Err(source) => {
                return Err(CampaignError::Trace {
                    subject: self.prepared.subject.label.clone(),
                    source,
                });
            }
        };
        // Leftovers first: a `--check` with side effects must not change what is counted.
        let orphans = self.sandbox.orphans()?;
        let Some((verdict, target_kind)) = self.judge_target()? else {
            return Ok(None);
        };
        let Some(recovery) = self.recover()? else {
            return Ok(None);
        };
        let facts = TrialFacts {
            initial: self.settings.initial,
            verdict,
            ack: super::ack_of(&run.ack),
            hung: matches!(run.outcome, Outcome::TimedOut { .. }),
            recovery: recovery.failure,
            orphans_after_recovery: recovery.orphans.len(),
            strict: self.settings.strict,
        };
        let violations = oracle::trial_violations(&facts);
        Ok(Some(TrialRecord {
            number,
            point,
            end: run.outcome,
            writer: run.ack,
            verdict,
            ack: facts.ack,
            target_kind,
            orphans,
            recovery,
            violations,
        }))
    }

    /// Runs the writer once with `fault` (an errno or a short write) in a freshly seeded sandbox,
    /// recording its trace: the `torture errors` trial. `Ok(None)`: Ctrl-C.
    pub fn run_fault(&self, fault: &Fault) -> Result<Option<tracer::Run>, CampaignError> {
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
                Ok(Some(run))
            }
            Err(_) if self.cancelled() => Ok(None),
            Err(source) => Err(CampaignError::Trace {
                subject: self.prepared.subject.label.clone(),
                source,
            }),
        }
    }

    /// The worker's sandbox.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn cancelled(&self) -> bool {
        self.context
            .cancel
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Classifies what is at the target now, as a reader sees it. `Ok(None)`: Ctrl-C during
    /// `--check`.
    ///
    /// A `--check` runs on a copy of the sandbox, never on the crashed original, and the target
    /// is classified as the copy holds it after the check: a reader that opens an SQLite
    /// database rolls its hot journal back first, so the bytes on disk before that are not what
    /// anyone ever reads. The original stays as the crash left it for the recovery run.
    pub fn judge_target(&self) -> Result<Option<(Verdict, Option<FileKind>)>, CampaignError> {
        self.judge_with(&self.golden.versions)
    }

    /// The versions a recovery run may leave. It starts from a state the golden runs never saw
    /// (often the new version already), so a writer whose bytes carry history (SQLite's change
    /// counter in its header) cannot match the golden output byte for byte: under `--check` the
    /// check is the authority, and any valid file that is not the old version counts as new.
    fn recovery_versions(&self) -> Versions {
        let mut versions = self.golden.versions.clone();
        match &self.golden.validator {
            Validator::Check(_) => versions.rule = NewRule::ValidNotOld,
            Validator::Builtin(_) => {}
        }
        versions
    }

    fn judge_with(
        &self,
        versions: &Versions,
    ) -> Result<Option<(Verdict, Option<FileKind>)>, CampaignError> {
        let state = self.sandbox.read_target()?;
        let (state, validation) = match &self.golden.validator {
            Validator::Builtin(validation) => (state, *validation),
            Validator::Check(_) if !oracle::needs_validation(&state, versions) => {
                (state, Validation::Command(Validity::Unchecked))
            }
            Validator::Check(command) => match self.check_a_copy(command)? {
                Some((seen, validity)) => (seen, Validation::Command(validity)),
                None => return Ok(None),
            },
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

    /// Runs `--check` in a copy of the sandbox and returns the target as the check left it.
    fn check_a_copy(
        &self,
        command: &str,
    ) -> Result<Option<(TargetState, Validity)>, CampaignError> {
        let copy = self.sandbox.copy_beside()?;
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let validity = process::check_file(
            command,
            copy.target(),
            copy.path(),
            &self.logs,
            timeout,
            &self.context.cancel,
        )
        .map_err(|source| CampaignError::Io {
            what: format!("run --check {command:?}"),
            source,
        })?;
        let seen = copy.read_target()?;
        copy.remove()?;
        Ok(validity.map(|validity| (seen, validity)))
    }

    /// Runs the writer again, uncrashed, over what the crash left. `Ok(None)`: Ctrl-C.
    pub fn recover(&self) -> Result<Option<RecoveryRecord>, CampaignError> {
        let exit = match self.prepared.run_in_process(self.sandbox.target()) {
            Some(exit) => exit,
            None => match self.recover_in_child()? {
                Some(exit) => exit,
                None => return Ok(None),
            },
        };
        let orphans = self.sandbox.orphans()?;
        let Some((verdict, _)) = self.judge_with(&self.recovery_versions())? else {
            return Ok(None);
        };
        let failure = oracle::judge_recovery(exit, &verdict);
        Ok(Some(RecoveryRecord {
            exit,
            verdict,
            failure,
            orphans,
        }))
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
