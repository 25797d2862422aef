//! `torture errors`: I/O-error campaigns. The writer runs with one failed call per trial (an
//! `EIO`, `ENOSPC`, `EDQUOT` or `EINTR`, a short write, or fsyncgate) and keeps running; then the
//! target, the writer's exit, the recovery run and the leftovers are judged
//! (`torture_core::errors`).
//!
//! Per subject:
//! 1. The golden phase of the kill campaign (its v2 trace is kept in memory).
//! 2. The fault space of that trace ([`errors::fault_space`]) for the chosen kinds; all of it up
//!    to [`errors::EXHAUSTIVE_LIMIT`] injections, else `--trials` sampled with `--seed`; or the
//!    one `--inject`.
//! 3. Each injection on one of `--jobs` threads, in a sandbox seeded with the initial state:
//!    `tracer::run_fault` (the trace of the faulted run is recorded), the target classified with
//!    the oracle, the leftovers listed, the writer run again without faults (recovery; built-ins
//!    in process), leftovers listed again. When the writer exited 0 with the new version in
//!    place, the power explorer checks the faulted run's trace under the `linux` model, with the
//!    writes a failed fsync dropped treated as lost for fsyncgate (`power_safe`).
//! 4. [`errors::verdict::judge`] per injection; the smallest violation is explained with
//!    [`errors::diagnose::diagnose`].
//!
//! The power check is about the fault: when the writer's golden run is already unsafe at a power
//! cut (rename without fsync), a faulted run's power verdict says nothing new and is left out
//! (`power_safe: None`); `torture power` reports that writer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::error::CampaignError;
use super::golden::{self, Golden, Validator};
use super::subject::{self, Prepared};
use super::trial::Worker;
use super::{RunContext, RunEnd, Settings, Subject};
use crate::sandbox::{Orphan, RunRoot};
use crate::tracer::{self, Outcome, WriterAck};
use torture_core::errors::verdict::{self, ErrorsFacts, ErrorsViolation, Position, Recovery};
use torture_core::errors::{self, FaultKind, Injection, diagnose, gate};
use torture_core::killpoint::Partition;
use torture_core::oracle::{
    self, Coverage, RunExit, SubjectStatus, TargetState, Validation, Validity, Verdict,
};
use torture_core::power::{self, AckSelect, Explorer, PowerOptions};
use torture_core::trace::{ExitStatus, Trace};

/// Crash states the power check builds per faulted run: ALICE's families and samples beyond.
const POWER_MAX_STATES: u64 = 4096;

mod skeleton;

/// What `torture errors` adds to the kill campaign's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsOptions {
    /// `--fault`: the kinds of fault to inject.
    pub kinds: Vec<FaultKind>,
    /// `--trials`: sample this many injections (default: all up to the exhaustive limit).
    pub trials: Option<u64>,
    /// `--inject`: replay exactly this one.
    pub inject: Option<Injection>,
}

/// The whole plan of an errors run.
#[derive(Debug, Clone)]
pub struct ErrorsPlan {
    /// Subjects, one after another (`expect` is their expectation under I/O errors).
    pub subjects: Vec<Subject>,
    /// Shared options (the selection is unused: `options` chooses the injections).
    pub settings: Settings,
    /// Which faults.
    pub options: ErrorsOptions,
}

/// Everything about one injection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectionRecord {
    /// Position in the subject's list of injections.
    pub number: u64,
    /// The fault.
    pub injection: Injection,
    /// How the faulted run ended.
    pub end: Outcome,
    /// What the writer printed and how it exited.
    pub writer: WriterAck,
    /// What it left at the target.
    pub verdict: Verdict,
    /// Files other than the target right after the faulted run.
    pub orphans: Vec<Orphan>,
    /// The facts judged.
    pub facts: ErrorsFacts,
    /// Every violation, in the judge's order.
    pub violations: Vec<ErrorsViolation>,
    /// The first violation explained (one or two sentences ending in a fix).
    pub diagnosis: Option<String>,
}

/// Outcome counts of one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorsCounts {
    /// Injections run.
    pub injections: u64,
    /// The writer exited 0 after the fault.
    pub exited_ok: u64,
    /// It exited non-zero or was killed by a signal.
    pub exited_failed: u64,
    /// It hung.
    pub hung: u64,
    /// It finished before reaching the faulted call.
    pub not_reached: u64,
    /// Target verdicts.
    pub absent: u64,
    /// Target verdicts.
    pub old: u64,
    /// Target verdicts.
    pub new: u64,
    /// Target verdicts.
    pub torn: u64,
    /// Injections with at least one violation.
    pub violations: u64,
}

/// The result of one subject.
#[derive(Debug, Clone)]
pub struct ErrorsSubjectResult {
    /// The subject.
    pub subject: Subject,
    /// What the golden runs established (absent if they failed).
    pub golden: Option<golden::GoldenSummary>,
    /// Size of the fault space for the chosen kinds.
    pub space_len: u64,
    /// Injections in fault-space order.
    pub records: Vec<InjectionRecord>,
    /// Injections planned.
    pub planned: u64,
    /// Whether the golden run itself survives every power cut (else no power check per fault).
    pub golden_power_safe: bool,
    /// Wall time of the injection phase.
    pub trial_time: Duration,
    /// Ctrl-C or a harness error stopped it early.
    pub incomplete: bool,
    /// Every chosen injection, or one `--partition` shard of them (a canary is judged by the
    /// merge).
    pub coverage: Coverage,
}

/// The result of a whole errors run.
#[derive(Debug)]
pub struct ErrorsRunResult {
    /// Identifies the run (report directory name).
    pub run_id: String,
    /// Options used.
    pub settings: Settings,
    /// Fault options used.
    pub options: ErrorsOptions,
    /// Subjects, in plan order (only those started).
    pub subjects: Vec<ErrorsSubjectResult>,
    /// How the run ended.
    pub end: RunEnd,
    /// Wall time.
    pub elapsed: Duration,
}

/// Hooks for progress output, called from the thread that called [`run`].
pub trait ErrorsObserver {
    /// A subject's goldens are done; its injections start.
    fn subject_started(&mut self, subject: &Subject, space_len: u64, planned: u64);
    /// One injection finished.
    fn injection_finished(&mut self, subject: &Subject, record: &InjectionRecord);
    /// A subject finished (or stopped early).
    fn subject_finished(&mut self, result: &ErrorsSubjectResult);
}

impl ErrorsSubjectResult {
    /// Outcome counts.
    pub fn counts(&self) -> ErrorsCounts {
        let mut counts = ErrorsCounts {
            injections: self.records.len() as u64,
            ..ErrorsCounts::default()
        };
        for record in &self.records {
            counts.add(record);
        }
        counts
    }

    /// How the subject compares with its expectation.
    pub fn status(&self) -> SubjectStatus {
        let violations = self.counts().violations;
        let status = golden::GoldenSummary::subject_status(
            self.golden.as_ref(),
            self.subject.expect,
            violations,
            self.coverage,
        );
        super::finished_status(status, self.records.len() as u64, self.planned)
    }

    /// Injections per second in the injection phase.
    pub fn faults_per_second(&self) -> f64 {
        let seconds = self.trial_time.as_secs_f64();
        match seconds > 0.0 {
            true => self.records.len() as f64 / seconds,
            false => 0.0,
        }
    }

    /// The violating injection with the smallest call seq (then the first kind): the earliest
    /// call whose failure the writer mishandles.
    pub fn smallest(&self) -> Option<&InjectionRecord> {
        self.records
            .iter()
            .filter(|r| !r.violations.is_empty())
            .min_by_key(|r| (r.injection.call.seq, r.number))
    }

    /// Violating injections, in fault-space order.
    pub fn violating(&self) -> impl Iterator<Item = &InjectionRecord> {
        self.records.iter().filter(|r| !r.violations.is_empty())
    }
}

impl ErrorsCounts {
    fn add(&mut self, record: &InjectionRecord) {
        match record.facts.exit {
            RunExit::Code(0) => self.exited_ok += 1,
            RunExit::Code(_) | RunExit::Signal(_) => self.exited_failed += 1,
            RunExit::TimedOut => self.hung += 1,
        }
        match record.end {
            Outcome::NotReached { .. } => self.not_reached += 1,
            Outcome::Killed { .. }
            | Outcome::Injected { .. }
            | Outcome::TimedOut { .. }
            | Outcome::Cancelled
            | Outcome::Unmodelled { .. } => {}
        }
        match record.verdict {
            Verdict::Absent => self.absent += 1,
            Verdict::Old => self.old += 1,
            Verdict::New { .. } => self.new += 1,
            Verdict::Torn { .. } => self.torn += 1,
        }
        self.violations += u64::from(!record.violations.is_empty());
    }
}

impl ErrorsRunResult {
    /// True when every subject behaved as expected.
    pub fn all_as_expected(&self) -> bool {
        self.subjects.iter().all(|s| s.status().as_expected())
    }
}

/// The `torture errors` command that replays one injection of `subject`, with every option
/// that shapes its verdict.
pub fn replay_command(subject: &Subject, settings: &Settings, injection: &Injection) -> String {
    let own = vec![("--inject", injection.to_string())];
    super::replay::replay_line("errors", subject, settings, own)
}

/// Runs every subject of `plan`. Errors found before anything runs come back as `Err`; errors
/// during the run end it with [`RunEnd::Failed`], keeping the results so far.
pub fn run(
    plan: &ErrorsPlan,
    context: &RunContext,
    observer: &mut dyn ErrorsObserver,
) -> Result<ErrorsRunResult, CampaignError> {
    let started = Instant::now();
    subject::check_all(&plan.subjects)?;
    let root = RunRoot::create(&plan.settings.dir, &context.run_id)?;
    let mut subjects = Vec::new();
    let mut end = RunEnd::Completed;
    for subject in &plan.subjects {
        let (result, stop) = match subject::prepare(subject) {
            Ok(prepared) => run_subject(&prepared, plan, context, &root, observer),
            Err(e) => (None, Some(RunEnd::Failed(e))),
        };
        if let Some(result) = result {
            observer.subject_finished(&result);
            subjects.push(result);
        }
        if let Some(stop) = stop {
            end = stop;
            break;
        }
    }
    if let (Err(e), RunEnd::Completed) = (root.remove(), &end) {
        end = RunEnd::Failed(e.into());
    }
    Ok(ErrorsRunResult {
        run_id: context.run_id.clone(),
        settings: plan.settings.clone(),
        options: plan.options.clone(),
        subjects,
        end,
        elapsed: started.elapsed(),
    })
}

/// Runs the errors campaign for one subject with `trials` sampled injections of every kind (the
/// main job's column: sample, do not exhaust). `subject.expect` must be its expectation under
/// I/O errors (`Strategy::expect_errors` for a built-in). `Ok(None)`: Ctrl-C, or no result; the
/// caller's cell stays unfilled, which fails the table.
pub fn run_cell(
    subject: &Subject,
    settings: &Settings,
    trials: u64,
    context: &RunContext,
) -> Result<Option<ErrorsSubjectResult>, CampaignError> {
    struct Quiet;
    impl ErrorsObserver for Quiet {
        fn subject_started(&mut self, _: &Subject, _: u64, _: u64) {}
        fn injection_finished(&mut self, _: &Subject, _: &InjectionRecord) {}
        fn subject_finished(&mut self, _: &ErrorsSubjectResult) {}
    }
    let plan = ErrorsPlan {
        subjects: vec![subject.clone()],
        settings: settings.clone(),
        options: ErrorsOptions {
            kinds: FaultKind::ALL.to_vec(),
            trials: Some(trials),
            inject: None,
        },
    };
    let context = RunContext {
        run_id: format!("{}-errors", context.run_id),
        cancel: context.cancel.clone(),
    };
    let run = run(&plan, &context, &mut Quiet)?;
    match (run.end, run.subjects.into_iter().next()) {
        (RunEnd::Failed(e), _) => Err(e),
        (RunEnd::Interrupted, _) | (RunEnd::Completed, None) => Ok(None),
        (RunEnd::Completed, Some(result)) => Ok(Some(result)),
    }
}

/// One subject: goldens, the fault space, the injections.
fn run_subject(
    prepared: &Prepared,
    plan: &ErrorsPlan,
    context: &RunContext,
    root: &RunRoot,
    observer: &mut dyn ErrorsObserver,
) -> (Option<ErrorsSubjectResult>, Option<RunEnd>) {
    let settings = &plan.settings;
    let golden = match golden::record(prepared, settings, context, root) {
        Ok(Some(golden)) => golden,
        Ok(None) => return (None, Some(RunEnd::Interrupted)),
        Err(e) => return (None, Some(RunEnd::Failed(e))),
    };
    let space = errors::fault_space(&golden.summary.trace, &plan.options.kinds);
    let chosen = match chosen_injections(&space, &plan.options, settings.seed) {
        Ok(chosen) => shard(chosen, settings.partition),
        Err(e) => return (None, Some(RunEnd::Failed(e))),
    };
    observer.subject_started(&prepared.subject, space.len() as u64, chosen.len() as u64);
    let judge = Judge::new(&golden, settings);
    let started = Instant::now();
    let shared = Shared {
        prepared,
        golden: &golden,
        judge: &judge,
        settings,
        context,
        root,
        chosen: &chosen,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    };
    let (records, error) = run_injections(&shared, observer);
    let end = match error {
        Some(e) => Some(RunEnd::Failed(e)),
        None => context
            .cancel
            .load(Ordering::Relaxed)
            .then_some(RunEnd::Interrupted),
    };
    let result = ErrorsSubjectResult {
        coverage: match settings.partition {
            Some(_) => Coverage::Shard,
            None => Coverage::Whole,
        },
        subject: prepared.subject.clone(),
        space_len: space.len() as u64,
        incomplete: records.len() < chosen.len(),
        records,
        planned: chosen.len() as u64,
        golden_power_safe: judge.golden_power_safe,
        trial_time: started.elapsed(),
        golden: Some(golden.into_summary()),
    };
    (Some(result), end)
}

/// The injections to run: `--inject` (checked against the space), else the selection.
fn chosen_injections(
    space: &[Injection],
    options: &ErrorsOptions,
    seed: u64,
) -> Result<Vec<Injection>, CampaignError> {
    match &options.inject {
        Some(one) if space.contains(one) => Ok(vec![one.clone()]),
        Some(one) => Err(CampaignError::Usage(format!(
            "--inject {one} is not in this writer's fault space ({} injections of {}); the writer may have \
             changed since the replay command was printed, or --fault leaves that kind out",
            space.len(),
            kind_names(&options.kinds)
        ))),
        None => Ok(errors::select(space, options.trials, seed)),
    }
}

/// The injections of one `--partition` shard: every N-th, from the M-th, of the chosen list
/// (every shard draws the same list from the same seed).
fn shard(chosen: Vec<Injection>, partition: Option<Partition>) -> Vec<Injection> {
    match partition {
        Some(p) => chosen
            .into_iter()
            .skip((p.index - 1) as usize)
            .step_by(p.count as usize)
            .collect(),
        None => chosen,
    }
}

fn kind_names(kinds: &[FaultKind]) -> String {
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

/// What every worker thread of one subject shares.
struct Shared<'a> {
    prepared: &'a Prepared,
    golden: &'a Golden,
    judge: &'a Judge<'a>,
    settings: &'a Settings,
    context: &'a RunContext,
    root: &'a RunRoot,
    chosen: &'a [Injection],
    next: AtomicUsize,
    stop: AtomicBool,
}

type Message = Result<InjectionRecord, CampaignError>;

/// Runs the injections on `--jobs` threads, reporting each to `observer` on this thread.
fn run_injections(
    shared: &Shared<'_>,
    observer: &mut dyn ErrorsObserver,
) -> (Vec<InjectionRecord>, Option<CampaignError>) {
    let jobs = shared.settings.jobs.clamp(1, shared.chosen.len().max(1));
    let (sender, receiver) = mpsc::channel::<Message>();
    let mut records = Vec::with_capacity(shared.chosen.len());
    let mut error = None;
    thread::scope(|scope| {
        for index in 0..jobs {
            let sender = sender.clone();
            scope.spawn(move || {
                if let Err(e) = work(shared, index, &sender) {
                    shared.stop.store(true, Ordering::Relaxed);
                    let _ = sender.send(Err(e));
                }
            });
        }
        drop(sender);
        for message in receiver {
            match message {
                Ok(record) => {
                    observer.injection_finished(&shared.prepared.subject, &record);
                    records.push(record);
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
    });
    records.sort_by_key(|r| r.number);
    (records, error)
}

fn work(
    shared: &Shared<'_>,
    index: usize,
    sender: &mpsc::Sender<Message>,
) -> Result<(), CampaignError> {
    let name = &shared.prepared.subject.label;
    let slot = format!("e{index}");
    let sandbox = shared.root.sandbox(name, &slot, &shared.settings.target)?;
    let logs = shared.root.directory(name, "logs")?;
    let worker = Worker::new(
        shared.prepared,
        shared.golden,
        shared.settings,
        shared.context,
        (sandbox, logs, slot),
    )?;
    while !shared.stop.load(Ordering::Relaxed) {
        let number = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(injection) = shared.chosen.get(number) else {
            break;
        };
        let Some(record) = inject(&worker, shared, number as u64, injection)? else {
            break;
        };
        // The receiver lives until every worker is done.
        let _ = sender.send(Ok(record));
    }
    Ok(())
}

/// One injection: the faulted run, the target, the recovery, the power check, the verdict.
/// `Ok(None)`: Ctrl-C.
fn inject(
    worker: &Worker<'_>,
    shared: &Shared<'_>,
    number: u64,
    injection: &Injection,
) -> Result<Option<InjectionRecord>, CampaignError> {
    let what = || format!("injection {injection}");
    let Some(run) = worker.run_fault(&injection.fault(), &what)? else {
        return Ok(None);
    };
    let Some(((verdict, reason), _)) = worker.judge_crash(&run.ack)? else {
        return Ok(None);
    };
    let orphans = worker.orphans()?;
    let Some(recovery) = worker.recover_after(&run.ack)? else {
        return Ok(None);
    };
    let exit = run_exit(&run.outcome, &run.ack);
    let (verdict, target, power_safe) = judge_target(shared, (&run, injection), verdict, exit);
    let facts = ErrorsFacts {
        injection: injection.clone(),
        position: Position::of(injection.call.seq, shared.judge.publish_seq),
        initial: shared.settings.initial,
        exit,
        // Under `--check` the checker reads the acknowledgements; the class follows the exit.
        ack_line: worker
            .ack_line_printed(&run.ack)
            .filter(|_| shared.settings.check_command().is_none()),
        target,
        power_safe,
        recovery: recovery.as_ref().map(|recovery| Recovery {
            exit: recovery.exit,
            target: target_class(&recovery.verdict),
        }),
        leftovers: recovery.as_ref().map_or(0, |r| r.orphans.len()),
        strict: shared.settings.strict,
    };
    let violations = verdict::judge(&facts);
    let faulted = run.trace.as_ref().unwrap_or(&shared.golden.summary.trace);
    let reason = reason.or_else(|| recovery.and_then(|r| r.reason));
    let diagnosis = violations
        .first()
        .map(|v| explain(&facts, v, faulted, reason.as_deref()));
    Ok(Some(InjectionRecord {
        number,
        injection: injection.clone(),
        end: run.outcome,
        writer: run.ack,
        verdict,
        orphans,
        facts,
        violations,
        diagnosis,
    }))
}

/// The target's verdict and class (under `--check`, the checker's), and whether the faulted
/// run survives a power cut when it exited 0 with the new version.
fn judge_target(
    shared: &Shared<'_>,
    (run, injection): (&tracer::Run, &Injection),
    verdict: Verdict,
    exit: RunExit,
) -> (Verdict, verdict::TargetClass, Option<bool>) {
    let checked = shared.settings.check_command().is_some();
    let (verdict, target) = match checked {
        true => checked_class(verdict, exit),
        false => (verdict, target_class(&verdict)),
    };
    // Under `--check` the power check would judge the target's bytes alone, not the tree the
    // checker judges: `torture power --check` is the whole-tree verdict at a power cut.
    let power_safe = match (exit, target, &run.trace, checked) {
        (RunExit::Code(0), verdict::TargetClass::New, Some(trace), false) => {
            shared.judge.power_safe(trace, injection)
        }
        _ => None,
    };
    (verdict, target, power_safe)
}

/// The first violation explained; under `--check` the checker's reason leads.
fn explain(
    facts: &ErrorsFacts,
    violation: &ErrorsViolation,
    faulted: &Trace,
    reason: Option<&str>,
) -> String {
    let diagnosis = diagnose::diagnose(facts, violation, faulted);
    match reason {
        Some(reason) => format!("--check rejected the tree: {reason}. {diagnosis}"),
        None => diagnosis,
    }
}

/// How the faulted writer ended, as the verdict reads it.
fn run_exit(outcome: &Outcome, ack: &WriterAck) -> RunExit {
    let status = match outcome {
        Outcome::Injected { exit, .. } | Outcome::NotReached { exit } => Some(*exit),
        Outcome::TimedOut { .. } => return RunExit::TimedOut,
        Outcome::Killed { .. } | Outcome::Cancelled | Outcome::Unmodelled { .. } => ack.exit,
    };
    match status {
        Some(ExitStatus::Code(code)) => RunExit::Code(code),
        Some(ExitStatus::Signal(signal)) => RunExit::Signal(signal),
        None => RunExit::Signal(9),
    }
}

/// The oracle's verdict as the errors verdict names it.
fn target_class(verdict: &Verdict) -> verdict::TargetClass {
    match verdict {
        Verdict::Absent => verdict::TargetClass::Absent,
        Verdict::Old => verdict::TargetClass::Old,
        Verdict::New { .. } => verdict::TargetClass::New,
        Verdict::Torn { .. } => verdict::TargetClass::Torn,
    }
}

/// Under `--check`, the checker's verdict as the errors verdict names it: a tree it accepts is
/// what the writer promised (the new version after exit 0, the old one after a failure); one it
/// rejects is torn.
fn checked_class(verdict: Verdict, exit: RunExit) -> (Verdict, verdict::TargetClass) {
    match (verdict, exit) {
        (Verdict::Torn { .. }, _) => (verdict, verdict::TargetClass::Torn),
        (Verdict::Absent | Verdict::Old | Verdict::New { .. }, RunExit::Code(0)) => {
            (Verdict::New { index: None }, verdict::TargetClass::New)
        }
        (
            Verdict::Absent | Verdict::Old | Verdict::New { .. },
            RunExit::Code(_) | RunExit::Signal(_) | RunExit::TimedOut,
        ) => (Verdict::Old, verdict::TargetClass::Old),
    }
}

/// What every injection of a subject is judged against: the publish point of the golden run
/// and whether that run survives a power cut.
struct Judge<'a> {
    golden: &'a Golden,
    publish_seq: Option<u64>,
    golden_power_safe: bool,
    /// The golden trace as the persistence model sees it: a faulted run with the same one is
    /// exactly as safe, without exploring it again.
    golden_skeleton: Vec<serde_json::Value>,
}

impl<'a> Judge<'a> {
    fn new(golden: &'a Golden, _settings: &Settings) -> Judge<'a> {
        let mut judge = Judge {
            golden,
            publish_seq: errors::publish_point(&golden.summary.trace),
            golden_power_safe: false,
            golden_skeleton: skeleton::skeleton(&golden.summary.trace),
        };
        judge.golden_power_safe = judge.survives(&golden.summary.trace, PowerOptions::default())
            == Some(true)
            && golden.summary.unmodelled.is_empty();
        judge
    }

    /// Whether the faulted run's new version survives every power cut; `None` when the golden
    /// run does not either (nothing to learn about the fault) or the trace names no target.
    fn power_safe(&self, faulted: &Trace, injection: &Injection) -> Option<bool> {
        if !self.golden_power_safe {
            return None;
        }
        let lost_writes = match injection.action {
            errors::Action::FsyncGate => {
                gate::fsyncgate_lost_writes(faulted, injection.call.seq).unwrap_or_default()
            }
            errors::Action::Eio
            | errors::Action::Enospc
            | errors::Action::Edquot
            | errors::Action::Eintr
            | errors::Action::Short { .. } => Default::default(),
        };
        if lost_writes.is_empty() && skeleton::skeleton(faulted) == self.golden_skeleton {
            return Some(true);
        }
        let options = PowerOptions {
            lost_writes,
            ..PowerOptions::default()
        };
        self.survives(faulted, options)
    }

    /// Explores `trace` under the `linux` model: `Some(true)` when no crash state violates.
    fn survives(&self, trace: &Trace, options: PowerOptions) -> Option<bool> {
        let options = PowerOptions {
            max_states: POWER_MAX_STATES,
            max_findings: 1,
            ..options
        };
        let explorer = Explorer::new(trace, options).ok()?;
        let explorer = match &self.golden.unit {
            Some(unit) => explorer.judging(unit.clone()),
            None => explorer,
        };
        let ack = power::ack_point(&trace.header, AckSelect::Exit);
        let versions = &self.golden.versions;
        let validation = match &self.golden.validator {
            Validator::Builtin(validation) => *validation,
            Validator::Check(_) => Validation::Command(Validity::Unchecked),
        };
        let mut classify =
            |state: &TargetState| match oracle::classify(state, versions, &validation) {
                Verdict::Absent => power::TargetClass::Absent,
                Verdict::Old => power::TargetClass::Old,
                Verdict::New { .. } => power::TargetClass::New,
                Verdict::Torn { .. } => power::TargetClass::Torn,
            };
        let found = explorer.explore(ack.as_ref(), &mut classify);
        Some(found.violating_states == 0 && found.unmodelled.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torture_core::fault::CallRef;

    fn injection(text: &str) -> Injection {
        text.parse().expect("an injection")
    }

    #[test]
    fn replay_commands_name_the_subject_and_the_injection() {
        let settings = crate::report::fixture::settings();
        let builtin = super::super::builtin("plain").expect("plain");
        let subject = Subject::builtin(builtin, 2048);
        assert_eq!(
            replay_command(&subject, &settings, &injection("write#5:short=1")),
            "torture errors --subject plain --size 2048 --initial old --inject 'write#5:short=1'"
        );
        let command = Subject::command(
            vec!["python3".into(), "w.py".into(), "{target}".into()],
            oracle::Expect::Caught,
        );
        let settings = Settings {
            validation: super::super::ValidationChoice::Check("sqlite3 {file} .dump".into()),
            target: "db.sqlite".into(),
            strict: true,
            ..settings
        };
        assert_eq!(
            replay_command(&command, &settings, &injection("fsync#9:EIO")),
            "torture errors --initial old --inject 'fsync#9:EIO' --check 'sqlite3 {file} .dump' \
             --target db.sqlite --expect caught --strict -- python3 w.py '{target}'"
        );
    }

    #[test]
    fn an_injection_outside_the_space_is_a_usage_error() {
        let space = vec![injection("fsync#3:EIO")];
        let options = ErrorsOptions {
            kinds: vec![FaultKind::Eio],
            trials: None,
            inject: Some(injection("fsync#4:EIO")),
        };
        let err = chosen_injections(&space, &options, 1).expect_err("not in the space");
        assert!(
            err.to_string().contains("not in this writer's fault space"),
            "{err}"
        );
        let options = ErrorsOptions {
            inject: Some(Injection {
                call: CallRef {
                    syscall: "fsync".into(),
                    seq: 3,
                },
                action: errors::Action::Eio,
            }),
            ..options
        };
        assert_eq!(
            chosen_injections(&space, &options, 1).expect("in it").len(),
            1
        );
    }

    #[test]
    fn exits_are_read_from_the_outcome() {
        let ack = WriterAck::default();
        let fault = injection("fsync#3:EIO").fault();
        let injected = Outcome::Injected {
            fault,
            exit: ExitStatus::Code(1),
        };
        assert_eq!(run_exit(&injected, &ack), RunExit::Code(1));
        let hung = Outcome::TimedOut { elapsed_ms: 5 };
        assert_eq!(run_exit(&hung, &ack), RunExit::TimedOut);
        let reached_nothing = Outcome::NotReached {
            exit: ExitStatus::Code(0),
        };
        assert_eq!(run_exit(&reached_nothing, &ack), RunExit::Code(0));
    }
}
