//! Power-cut campaigns (`torture power`): per subject, the golden phase of a kill campaign (the
//! old version, the new versions, the traced run), then every crash state a persistence model
//! allows, built and judged in memory by `torture_core::power::Explorer` (no process per state),
//! then a few recovery runs: the writer again, uncrashed, over a crash state materialised in a real
//! sandbox. A recovery run must leave a new version; a writer that skips an existing (but empty)
//! output fails here.
//!
//! Recovery states are chosen deterministically: the explorer's findings (violating states, cut
//! down) first, then states spread evenly over the enumeration, one per distinct tree, up to
//! `recovery_cap`. `--state ID` replays one state instead of exploring: it is judged, optionally
//! written to a directory (`materialize`), and recovered from.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::CampaignError;
use super::golden::{self, Golden, Validator};
use super::process::{self, Ended, Output};
use super::subject::{self, Prepared};
use super::tree::{AckLines, TreeCache, TreeCase, TreeChecker, TreeVerdict};
use super::{RunContext, RunEnd, Settings, Subject};
use crate::sandbox::{RunRoot, Sandbox};
use torture_core::oracle::{
    self, Coverage, NewRule, RecoveryFailure, RunExit, SubjectStatus, TargetState, Validation,
    Validity, Verdict,
};
use torture_core::power::{
    self, AckPoint, AckSelect, CrashState, Exploration, Explorer, FsTree, Holds, Memo, Model,
    PowerOptions, PowerViolation, TargetClass,
};

pub use regex::Regex;

/// Recovery runs per subject when `--recovery-cap` is not given.
pub const DEFAULT_RECOVERY_CAP: usize = 20;

/// What a power campaign adds to the kill campaign's [`Settings`].
#[derive(Debug, Clone)]
pub struct PowerSettings {
    /// Torn unit, fill, state budget, seed, findings; its model is the first of `models`.
    pub options: PowerOptions,
    /// The models the verdict follows (`--model`, repeatable): a subject passes when it passes
    /// under each. Empty: `options.model` alone.
    pub models: Vec<Model>,
    /// Recovery runs per subject.
    pub recovery_cap: usize,
    /// `--state ID`: replay this one state instead of exploring.
    pub state: Option<CrashState>,
    /// `--materialize DIR`: where the replayed state's tree is written.
    pub materialize: Option<PathBuf>,
    /// `--trace FILE`: the subjects' saved golden traces, one per subject (by label), explored
    /// without running the writer (empty: every writer runs its golden phase).
    pub saved_traces: Vec<super::traces::SavedTrace>,
}

impl PowerSettings {
    /// The models the verdict follows.
    pub fn models(&self) -> Vec<Model> {
        match self.models.is_empty() {
            true => vec![self.options.model],
            false => self.models.clone(),
        }
    }
}

/// The plan of a power run.
#[derive(Debug, Clone)]
pub struct PowerPlan {
    /// Subjects, with their power-cut expectations.
    pub subjects: Vec<Subject>,
    /// The settings shared with kill campaigns (selection, jobs and partition are unused).
    pub settings: Settings,
    /// The power-cut settings.
    pub power: PowerSettings,
}

/// One recovery run after a power cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerRecovery {
    /// The model the crash state was built under.
    pub model: Model,
    /// The crash state it started from.
    pub state: CrashState,
    /// Whether that state itself was a violation.
    pub violating: bool,
    /// How the writer ended.
    pub exit: RunExit,
    /// What it left at the target.
    pub verdict: Verdict,
    /// Why it failed, if it did.
    pub failure: Option<RecoveryFailure>,
    /// Under `--check`: the checker's reason when it rejected the recovered tree.
    pub reason: Option<String>,
}

/// The judgement of one replayed state (`--state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReplay {
    /// The state.
    pub state: CrashState,
    /// What the target is.
    pub class: TargetClass,
    /// Whether the crash came before the acknowledgement.
    pub before_ack: bool,
    /// The violation, if any.
    pub violation: Option<PowerViolation>,
    /// Names other than the target.
    pub leftovers: Vec<String>,
    /// Under `--check`: the checker's reason when it rejected the state.
    pub reason: Option<String>,
    /// Where the tree was written (`--materialize`).
    pub materialized: Option<PathBuf>,
}

/// The result of one subject.
#[derive(Debug, Clone)]
pub struct PowerResult {
    /// The subject (its `expect` is the power-cut expectation).
    pub subject: Subject,
    /// What the golden runs established; its `trace` is the explored trace.
    pub golden: super::GoldenSummary,
    /// The acknowledgement crash states are judged against (`None`: the writer gave none).
    pub ack: Option<AckPoint>,
    /// The exploration (empty under `--state`).
    pub exploration: Exploration,
    /// The replayed state under `--state`.
    pub replay: Option<StateReplay>,
    /// Recovery runs.
    pub recoveries: Vec<PowerRecovery>,
    /// Wall time of the in-memory exploration.
    pub explore_time: Duration,
    /// Wall time of the recovery runs.
    pub recovery_time: Duration,
    /// Facts for the report (an `--ack-line` that matched nothing, the plan's notes).
    pub notes: Vec<String>,
    /// Where the verdict holds, when some model breaks: each chosen model and each file-system
    /// model (posix, ext4, xfs, btrfs) explored, with the rule the holding ones lean on.
    pub holds: Option<Holds>,
    /// Every state, or one `--partition` shard of them (a canary may be caught in another).
    pub coverage: Coverage,
    /// Under `--check`: the whole-tree checks (distinct trees checked, their time).
    pub checks: Option<TreeChecks>,
}

/// What the whole-tree checks of one subject cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeChecks {
    /// Checker runs: one per distinct (tree, acknowledgements) pair.
    pub distinct_trees: u64,
    /// Wall time spent in checker runs.
    pub check_time: Duration,
}

impl TreeChecks {
    /// Distinct trees checked per second of checking.
    pub fn trees_per_second(&self) -> f64 {
        let seconds = self.check_time.as_secs_f64();
        match seconds > 0.0 {
            true => self.distinct_trees as f64 / seconds,
            false => 0.0,
        }
    }
}

/// The result of a power run.
#[derive(Debug)]
pub struct PowerRun {
    /// Run id.
    pub run_id: String,
    /// Shared settings.
    pub settings: Settings,
    /// Power settings.
    pub power: PowerSettings,
    /// Subjects in plan order.
    pub subjects: Vec<PowerResult>,
    /// How the run ended.
    pub end: RunEnd,
    /// Wall time.
    pub elapsed: Duration,
}

impl PowerResult {
    /// Violating crash states plus failed recovery runs.
    pub fn violations(&self) -> u64 {
        let replayed = self
            .replay
            .as_ref()
            .map_or(0, |r| u64::from(r.violation.is_some()));
        self.exploration.violating_states + replayed + self.recovery_failures()
    }

    /// Recovery runs that failed.
    pub fn recovery_failures(&self) -> u64 {
        self.recoveries
            .iter()
            .filter(|r| r.failure.is_some())
            .count() as u64
    }

    /// How the subject compares with its expectation.
    /// Like kill's: under `--strict` a change outside the sandbox is one more violation.
    pub fn status(&self) -> SubjectStatus {
        let modelled = self.exploration.unmodelled.is_empty() && self.golden.unmodelled.is_empty();
        // The crash states are built from the trace: writes it did not see make its violations
        // as untrustworthy as its passes (a kill trial reads real files; a power state does not).
        if !modelled {
            return SubjectStatus::NotModelled;
        }
        super::GoldenSummary::subject_status(
            Some(&self.golden),
            self.subject.expect,
            self.violations(),
            self.coverage,
        )
    }

    /// Crash states judged per second of in-memory exploration.
    pub fn states_per_second(&self) -> f64 {
        let seconds = self.explore_time.as_secs_f64();
        match seconds > 0.0 {
            true => self.exploration.states_checked as f64 / seconds,
            false => 0.0,
        }
    }
}

impl PowerRun {
    /// True when every subject behaved as expected.
    pub fn all_as_expected(&self) -> bool {
        self.subjects.iter().all(|s| s.status().as_expected())
    }
}

/// Runs every subject of `plan`; `finished` sees each result as it comes.
pub fn run(
    plan: &PowerPlan,
    context: &RunContext,
    finished: &mut dyn FnMut(&PowerResult),
) -> Result<PowerRun, CampaignError> {
    let started = Instant::now();
    if plan.power.saved_traces.is_empty() {
        subject::check_all(&plan.subjects)?;
    }
    let root = RunRoot::create(&plan.settings.dir, &context.run_id)?;
    let mut subjects = Vec::new();
    let mut end = RunEnd::Completed;
    for subject in &plan.subjects {
        match run_subject(subject, plan, context, &root) {
            Ok(Some(result)) => {
                finished(&result);
                subjects.push(result);
            }
            Ok(None) => {
                end = RunEnd::Interrupted;
                break;
            }
            Err(e) => {
                end = RunEnd::Failed(e);
                break;
            }
        }
    }
    if let (Err(e), RunEnd::Completed) = (root.remove(), &end) {
        end = RunEnd::Failed(e.into());
    }
    Ok(PowerRun {
        run_id: context.run_id.clone(),
        settings: plan.settings.clone(),
        power: plan.power.clone(),
        subjects,
        end,
        elapsed: started.elapsed(),
    })
}

/// One subject's fixed setup for judging and recovering.
struct Judge<'a> {
    prepared: &'a Prepared,
    golden: &'a Golden,
    settings: &'a Settings,
    context: &'a RunContext,
    sandbox: Sandbox,
    logs: PathBuf,
    /// `--check`: the whole-tree checker, and the verdicts of the trees it checked.
    checker: Option<(TreeChecker<'a>, RefCell<TreeCache>)>,
}

/// One subject. `Ok(None)`: Ctrl-C.
fn run_subject(
    subject: &Subject,
    plan: &PowerPlan,
    context: &RunContext,
    root: &RunRoot,
) -> Result<Option<PowerResult>, CampaignError> {
    let settings = &plan.settings;
    let saved = plan
        .power
        .saved_traces
        .iter()
        .find(|s| s.label == subject.label);
    let (prepared, golden) = match saved {
        Some(saved) => (
            subject::never_run(subject),
            golden::saved(&saved.trace, settings)?,
        ),
        None => {
            let prepared = subject::prepare(subject)?;
            let Some(golden) = golden::record(&prepared, settings, context, root)? else {
                return Ok(None);
            };
            (prepared, golden)
        }
    };
    let trace = &golden.summary.trace;
    let ack_line = settings.ack_regex()?;
    let checker = match settings.check_command() {
        Some(check) => Some((
            TreeChecker {
                check,
                recover: settings.recover.as_deref(),
                target: &settings.target,
                acks: AckLines::new(&trace.header, ack_line.as_ref()),
                work: root.directory(&subject.label, "checks")?,
                timeout: Duration::from_millis(settings.timeout_ms),
                jobs: settings.jobs,
                cancel: &context.cancel,
            },
            RefCell::new(TreeCache::default()),
        )),
        None => None,
    };
    let judge = Judge {
        prepared: &prepared,
        golden: &golden,
        settings,
        context,
        sandbox: root.sandbox(&subject.label, "power", &settings.target)?,
        logs: root.directory(&subject.label, "logs")?,
        checker,
    };
    let explorer = Explorer::new(trace, plan.power.options.clone())
        .map_err(|e| CampaignError::Usage(format!("{}: {e}", subject.label)))?;
    let explorer = super::unit::judge_unit(explorer, &settings.unit)
        .map_err(|e| CampaignError::Usage(format!("{}: {e}", subject.label)))?;
    let ack = acknowledgement(trace, ack_line.as_ref());
    let mut result = PowerResult {
        subject: subject.clone(),
        golden: golden.summary.clone(),
        notes: notes(
            &explorer,
            (plan, ack_line.as_ref()),
            ack.as_ref(),
            &golden.summary,
        ),
        ack,
        exploration: Exploration::default(),
        replay: None,
        recoveries: Vec::new(),
        explore_time: Duration::ZERO,
        recovery_time: Duration::ZERO,
        holds: None,
        coverage: match plan.power.options.partition {
            Some(_) => Coverage::Shard,
            None => Coverage::Whole,
        },
        checks: None,
    };
    let done = match &plan.power.state {
        Some(state) => judge.replay_one(&explorer, state, &plan.power, &mut result)?,
        None => judge.explore(&explorer, &plan.power, &mut result)?,
    };
    result.checks = judge.checker.as_ref().map(|(_, cache)| {
        let cache = cache.borrow();
        TreeChecks {
            distinct_trees: cache.checked,
            check_time: cache.elapsed,
        }
    });
    Ok(done.then_some(result))
}

fn acknowledgement(trace: &torture_core::trace::Trace, line: Option<&Regex>) -> Option<AckPoint> {
    match line {
        Some(regex) => {
            let accepts = |text: &str| regex.is_match(text);
            power::ack_point(&trace.header, AckSelect::FirstLine(&accepts))
        }
        None => power::ack_point(&trace.header, AckSelect::Exit),
    }
}

fn notes(
    explorer: &Explorer,
    (plan, ack_line): (&PowerPlan, Option<&Regex>),
    ack: Option<&AckPoint>,
    golden: &super::GoldenSummary,
) -> Vec<String> {
    let mut notes = explorer.plan().notes.clone();
    notes.extend(crate::tracer::left_running_note(&golden.left_running));
    notes.extend(explorer.unit().map(super::unit::note));
    notes.extend(golden::outside_note(
        &golden.outside_writes,
        golden.outside_is_violation,
    ));
    if !plan.power.saved_traces.is_empty() {
        notes.push(
            "explored a saved trace (--trace): the writer was not run, so no recovery run was made"
                .to_owned(),
        );
    }
    if let (Some(regex), None) = (ack_line, ack) {
        notes.push(format!(
            "no output line matched --ack-line {:?}: every crash counts as before the acknowledgement",
            regex.as_str()
        ));
    }
    notes
}

impl Judge<'_> {
    /// Explores every state, then runs the recovery runs. `Ok(false)`: Ctrl-C.
    fn explore(
        &self,
        explorer: &Explorer,
        power: &PowerSettings,
        result: &mut PowerResult,
    ) -> Result<bool, CampaignError> {
        let started = Instant::now();
        let failed: RefCell<Option<CampaignError>> = RefCell::new(None);
        let ack = result.ack.clone();
        // Every model explores the same trace: a state one model judged, the next does not
        // build again.
        let memo = RefCell::new(Memo::shared());
        let mut one =
            |bounded: &Explorer| self.explore_one(bounded, ack.as_ref(), (&failed, &memo));
        let verdicts = explore_models(explorer, power, &mut one, started);
        result.exploration = merged(verdicts.iter().map(|(_, found)| found));
        let broke = verdicts.iter().any(|(_, found)| found.violating_states > 0);
        // A spent time budget leaves no time to explore the other models for the holds line.
        let spent = result.exploration.budget_spent;
        if broke && !spent && failed.borrow().is_none() && !self.cancelled() {
            result.holds = Some(where_it_holds(explorer, verdicts, &mut one, started));
        }
        result.explore_time = started.elapsed();
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        if self.cancelled() {
            return Ok(false);
        }
        self.fill_reasons(explorer, &mut result.exploration);
        let started = Instant::now();
        let chosen = match self.settings.recover.is_some() {
            // `--recover` replaces the writer's recovery run, and it ran in every check.
            true => Vec::new(),
            false => recovery_states(explorer, &result.exploration, power.recovery_cap),
        };
        for (model, state, violating) in chosen {
            let tree = explorer.with_model(model).replay(&state).map_err(|e| {
                CampaignError::Usage(format!("{}: {e}", self.prepared.subject.label))
            })?;
            let Some(recovery) = self.recover(&tree, (model, state), violating)? else {
                return Ok(false);
            };
            result.recoveries.push(recovery);
        }
        result.recovery_time = started.elapsed();
        Ok(true)
    }

    /// One model's exploration: the built-in judge on the target, or, under `--check`, the
    /// checker on every distinct tree (checked in parallel while the walk goes on).
    fn explore_one(
        &self,
        explorer: &Explorer,
        ack: Option<&AckPoint>,
        (failed, memo): (&RefCell<Option<CampaignError>>, &RefCell<Memo>),
    ) -> Exploration {
        let stop = || self.cancelled();
        let Some((checker, cache)) = &self.checker else {
            let mut classify = |state: &TargetState| match self.classify(state) {
                Ok(Some(verdict)) => class_of(&verdict),
                Ok(None) => TargetClass::Torn,
                Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    TargetClass::Torn
                }
            };
            return explorer.explore_with(ack, &mut classify, &mut memo.borrow_mut(), &stop);
        };
        let deadline = explorer
            .options()
            .budget_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let events = checker.acks.events();
        // One walk: each tree met is checked on the pool while the walk goes on.
        let walker = (&mut *cache.borrow_mut(), Some(explorer.options().model));
        let walked = checker.with_pool(walker, deadline, |pool| {
            explorer.explore_trees(ack, &events, pool, (&mut memo.borrow_mut(), &stop))
        });
        walked.unwrap_or_else(|e| {
            failed.borrow_mut().get_or_insert(e);
            Exploration::default()
        })
    }

    /// Under `--check`: each finding gets the reason its checker gave.
    fn fill_reasons(&self, explorer: &Explorer, exploration: &mut Exploration) {
        let Some((checker, cache)) = &self.checker else {
            return;
        };
        let cache = cache.borrow();
        let events = checker.acks.events();
        for finding in &mut exploration.findings {
            let Ok(tree) = explorer.with_model(finding.model).replay(&finding.state) else {
                continue;
            };
            let epoch = checker.epoch(&events, finding.state.events);
            if let Some(TreeVerdict::Fails(reason)) = cache.get(&tree, epoch) {
                finding.reason = Some(reason.clone());
            }
        }
    }

    /// Judges one state, writes it out if asked, and recovers from it. `Ok(false)`: Ctrl-C.
    fn replay_one(
        &self,
        explorer: &Explorer,
        state: &CrashState,
        power: &PowerSettings,
        result: &mut PowerResult,
    ) -> Result<bool, CampaignError> {
        let label = &self.prepared.subject.label;
        let tree = explorer
            .replay(state)
            .map_err(|e| CampaignError::Usage(format!("{label}: --state {state}: {e}")))?;
        let before_ack = result
            .ack
            .as_ref()
            .is_none_or(|a| state.events < a.events_before);
        let Some((class, violation, reason)) =
            self.judge_state(explorer, state, &tree, before_ack)?
        else {
            return Ok(false);
        };
        let materialized = match &power.materialize {
            Some(dir) => Some(write_tree(&tree, dir)?),
            None => None,
        };
        result.replay = Some(StateReplay {
            state: state.clone(),
            class,
            before_ack,
            violation,
            leftovers: explorer.leftovers(&tree),
            reason,
            materialized,
        });
        // A saved trace has no writer to run again; `--recover` replaces the writer's run.
        if self.settings.recover.is_some() || !power.saved_traces.is_empty() {
            return Ok(true);
        }
        let built = (explorer.options().model, state.clone());
        let Some(recovery) = self.recover(&tree, built, violation.is_some())? else {
            return Ok(false);
        };
        result.recoveries.push(recovery);
        Ok(true)
    }

    /// One state's class, violation and (under `--check`) the checker's reason. `Ok(None)`:
    /// Ctrl-C.
    #[allow(clippy::type_complexity)]
    fn judge_state(
        &self,
        explorer: &Explorer,
        state: &CrashState,
        tree: &FsTree,
        before_ack: bool,
    ) -> Result<Option<(TargetClass, Option<PowerViolation>, Option<String>)>, CampaignError> {
        let Some((checker, cache)) = &self.checker else {
            let class = match explorer.unit_verdict(tree) {
                Some(unit) => unit.class(),
                None => match self.classify(&tree.target_state(&explorer.plan().target))? {
                    Some(verdict) => class_of(&verdict),
                    None => return Ok(None),
                },
            };
            let violation = power::verdict_rule(before_ack, class, explorer.had_old());
            return Ok(Some((class, violation, None)));
        };
        let case = TreeCase {
            tree: tree.clone(),
            events: state.events,
            model: Some(explorer.options().model),
        };
        Ok(match checker.verdict(&case, &mut cache.borrow_mut())? {
            Some(TreeVerdict::Holds) => Some((TargetClass::New, None, None)),
            Some(TreeVerdict::Fails(reason)) => Some((
                TargetClass::Torn,
                Some(PowerViolation::CheckFailed),
                Some(reason),
            )),
            None => None,
        })
    }

    fn cancelled(&self) -> bool {
        self.context
            .cancel
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The oracle's verdict on a target (the built-in judge, without `--check`).
    fn classify(&self, state: &TargetState) -> Result<Option<Verdict>, CampaignError> {
        let versions = &self.golden.versions;
        let validation = match &self.golden.validator {
            // Exact versions: bytes alone decide old, new or torn, and whether a torn state
            // still parses is reported nowhere here, so tens of thousands of distinct torn
            // states are not each parsed as JSON (the in-place writers' states, 3x faster).
            Validator::Builtin(_) if versions.rule == NewRule::Exact => Validation::Bytes,
            Validator::Builtin(validation) => *validation,
            // Under `--check` the checker judges whole trees; a target alone is only bytes.
            Validator::Check(_) => Validation::Bytes,
        };
        Ok(Some(oracle::classify(state, versions, &validation)))
    }

    /// Materialises `tree` in the sandbox and runs the writer over it, uncrashed; under
    /// `--check` the checker then judges the tree it left. `Ok(None)`: Ctrl-C.
    fn recover(
        &self,
        tree: &FsTree,
        (model, state): (Model, CrashState),
        violating: bool,
    ) -> Result<Option<PowerRecovery>, CampaignError> {
        self.sandbox.reset(None)?;
        power::materialize(tree, self.sandbox.path()).map_err(|source| CampaignError::Io {
            what: format!("materialise crash state {state} in the sandbox"),
            source,
        })?;
        let exit = match self.prepared.run_in_process(self.sandbox.target()) {
            Some(exit) => exit,
            None => match self.recover_in_child()? {
                Some(exit) => exit,
                None => return Ok(None),
            },
        };
        let after = self.sandbox.read_target()?;
        let judged = match (&self.golden.unit, &self.checker) {
            (Some(unit), None) => Some((super::unit::judge_sandbox(unit, &self.sandbox)?, None)),
            (Some(_) | None, Some(_)) | (None, None) => {
                self.judge_recovered(&after, (state.events, model))?
            }
        };
        let Some((verdict, reason)) = judged else {
            return Ok(None);
        };
        Ok(Some(PowerRecovery {
            failure: oracle::judge_recovery(exit, &verdict),
            model,
            state,
            violating,
            exit,
            verdict,
            reason,
        }))
    }

    /// What a recovery run left: the target's verdict, or under `--check` the checker's on the
    /// sandbox's tree (new when it holds, torn with its reason when not). `Ok(None)`: Ctrl-C.
    fn judge_recovered(
        &self,
        after: &TargetState,
        (events, model): (usize, Model),
    ) -> Result<Option<(Verdict, Option<String>)>, CampaignError> {
        let Some((checker, cache)) = &self.checker else {
            return Ok(self.classify(after)?.map(|verdict| (verdict, None)));
        };
        let tree = power::read_tree(self.sandbox.path()).map_err(|source| CampaignError::Io {
            what: format!(
                "read the recovered tree in {}",
                self.sandbox.path().display()
            ),
            source,
        })?;
        let case = TreeCase {
            tree,
            events,
            model: Some(model),
        };
        Ok(match checker.verdict(&case, &mut cache.borrow_mut())? {
            Some(TreeVerdict::Holds) => Some((Verdict::New { index: None }, None)),
            Some(TreeVerdict::Fails(reason)) => {
                let len_bytes = match after {
                    TargetState::Regular(bytes) => bytes.len() as u64,
                    TargetState::Absent | TargetState::NotRegular(_) => 0,
                };
                let torn = Verdict::Torn {
                    parses: Validity::Invalid,
                    first_diff_offset: 0,
                    len_bytes,
                };
                Some((torn, Some(reason)))
            }
            None => None,
        })
    }

    fn recover_in_child(&self) -> Result<Option<RunExit>, CampaignError> {
        let invocation = self
            .prepared
            .invocation((self.sandbox.path(), self.sandbox.target()), 2);
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let ended = process::run(
            &invocation,
            self.sandbox.path(),
            Output::Discard,
            (self.logs.as_path(), "power-recovery"),
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

/// What is left of a subject's time budget (`--budget`), started at `started`.
fn budget_left(explorer: &Explorer, started: Instant) -> Option<u64> {
    let spent = started.elapsed().as_millis() as u64;
    explorer
        .options()
        .budget_ms
        .map(|budget| budget.saturating_sub(spent))
}

/// The explorations of every model the verdict follows, in order, within the time budget
/// that began at `started`; each ends at once when `stop()` says so (Ctrl-C).
fn explore_models(
    explorer: &Explorer,
    power: &PowerSettings,
    explore: &mut dyn FnMut(&Explorer) -> Exploration,
    started: Instant,
) -> Vec<(Model, Exploration)> {
    power
        .models()
        .into_iter()
        .map(|model| {
            let bounded = explorer
                .with_model(model)
                .with_budget_ms(budget_left(explorer, started));
            (model, explore(&bounded))
        })
        .collect()
}

/// Where a breaking verdict holds: the chosen models' explorations, and the file-system models
/// not chosen explored as well, within what is left of the subject's time budget (begun at
/// `started`: `--budget` bounds the holds line too). A model the budget cut short without a
/// violation is unsettled, not holding.
fn where_it_holds(
    explorer: &Explorer,
    mut verdicts: Vec<(Model, Exploration)>,
    explore: &mut dyn FnMut(&Explorer) -> Exploration,
    started: Instant,
) -> Holds {
    for model in Model::FILE_SYSTEMS {
        if verdicts.iter().all(|(chosen, _)| *chosen != model) {
            let bounded = explorer
                .with_model(model)
                .with_budget_ms(budget_left(explorer, started));
            verdicts.push((model, explore(&bounded)));
        }
    }
    verdicts.sort_by_key(|(model, _)| *model);
    let witness = verdicts
        .iter()
        .find_map(|(_, found)| found.findings.first())
        .map(|finding| finding.state.clone());
    let counts: Vec<(Model, u64, bool)> = verdicts
        .iter()
        .map(|(model, found)| (*model, found.violating_states, found.exhaustive))
        .collect();
    Holds::new(explorer, &counts, witness.as_ref())
}

/// The explorations of several models as one: counts summed, findings in model order (a
/// state found under two models once), exhaustive only when each was.
fn merged<'a>(explorations: impl Iterator<Item = &'a Exploration>) -> Exploration {
    let mut all = Exploration {
        exhaustive: true,
        ..Exploration::default()
    };
    for found in explorations {
        all.states_checked += found.states_checked;
        all.distinct_states += found.distinct_states;
        all.classes = all.classes.plus(found.classes);
        all.after_ack = all.after_ack.plus(found.after_ack);
        all.violating_states += found.violating_states;
        all.exhaustive &= found.exhaustive;
        all.budget_spent |= found.budget_spent;
        all.state_space = all.state_space.saturating_add(found.state_space);
        for finding in &found.findings {
            if all.findings.iter().all(|f| f.state != finding.state) {
                all.findings.push(finding.clone());
            }
        }
        if all.unmodelled.is_empty() {
            all.unmodelled = found.unmodelled.clone();
        }
    }
    all
}

/// The explorer's two-valued view of the oracle's verdict.
pub fn class_of(verdict: &Verdict) -> TargetClass {
    match verdict {
        Verdict::Absent => TargetClass::Absent,
        Verdict::Old => TargetClass::Old,
        Verdict::New { .. } => TargetClass::New,
        Verdict::Torn { .. } => TargetClass::Torn,
    }
}

/// Up to `cap` states to recover from, one per distinct tree: the findings first, then states
/// spread evenly over the enumeration; in a `--partition` shard, only trees the shard owns.
fn recovery_states(
    explorer: &Explorer,
    exploration: &Exploration,
    cap: usize,
) -> Vec<(Model, CrashState, bool)> {
    let mut chosen: Vec<(Model, CrashState, bool)> = Vec::new();
    let mut trees: HashSet<u128> = HashSet::new();
    let mut offer = |model: Model, state: &CrashState, violating: bool, chosen: &mut Vec<_>| {
        if chosen.len() < cap {
            if let Ok(tree) = explorer.with_model(model).replay(state) {
                if explorer.owns(&tree) && trees.insert(tree.content_hash()) {
                    chosen.push((model, state.clone(), violating));
                }
            }
        }
    };
    for finding in &exploration.findings {
        offer(finding.model, &finding.state, true, &mut chosen);
    }
    let model = explorer.options().model;
    let stride = (exploration.states_checked / cap.max(1) as u64).max(1);
    let mut index = 0u64;
    explorer.for_each_state(&mut |state| {
        if index % stride == 0 {
            offer(model, state, false, &mut chosen);
        }
        index += 1;
    });
    chosen
}

/// Writes a replayed tree to `dir` (created; it must not hold anything yet).
fn write_tree(tree: &FsTree, dir: &Path) -> Result<PathBuf, CampaignError> {
    let io = |what: &str| {
        let what = format!("{what} {}", dir.display());
        move |source| CampaignError::Io { what, source }
    };
    std::fs::create_dir_all(dir).map_err(io("create --materialize directory"))?;
    let occupied = std::fs::read_dir(dir)
        .map_err(io("list --materialize directory"))?
        .next()
        .is_some();
    if occupied {
        return Err(CampaignError::Usage(format!(
            "--materialize {}: the directory is not empty; give a new or empty directory",
            dir.display()
        )));
    }
    power::materialize(tree, dir).map_err(io("write the crash state to"))?;
    Ok(std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()))
}
