//! `torture race`: N instances of one writer on one sandbox, interleaved one traced syscall at
//! a time by `torture_core::race`'s schedulers, judged by its race oracle.
//!
//! Per subject:
//! 0. `--setup CMD` runs once in the subject's `start` directory (`tree::set_up`); every solo
//!    run and every interleaving then starts from a copy of that tree, and its target (if any)
//!    is the old version.
//! 1. Untraced solo runs learn the versions: generation 1 (the old version, `--initial old`,
//!    replace mode only, without `--setup`), then each writer's own (writer `i` is generation `i + 1`, with
//!    `TORTURE_WRITER=i`), then the recovery run's (generation `N + 2`).
//! 2. Interleavings (`interleave.rs`): every writer is started with `tracer::start_stepping`
//!    and held at its first step; the scheduler picks who runs each step; the target is read
//!    after every step; then the final target, one clean run, and the leftovers after it.
//! 3. Searches in order, seeded by `--seed`: `--schedules` random walks, as many PCT runs, and,
//!    when one interleaving has at most [`SMALL_STEPS`] steps, every schedule with at most
//!    `--preemptions` preemptions (capped). `--kill` gives each random and PCT interleaving a
//!    SIGKILL of one writer at a sampled step. `--schedule ID` replays one interleaving.
//! 4. The first violation stops the search; it is minimised (delta debugging over the
//!    schedule's runs, replaying each candidate) and diagnosed in three lines, with a replay
//!    line.
//!
//! `--partition M/N` splits the searches: shard `M` runs the random and PCT interleavings at
//! positions `M-1, M-1+N, ...` of the unsplit order (every shard draws every seed, so each
//! interleaving is the one the whole run would take), and shard `N` runs the systematic search,
//! which cannot be split because each schedule follows from the ones before. Every shard also
//! runs interleaving 0 when it is not its own, unjudged and uncounted: its length sets PCT's
//! step count and whether the systematic search runs, as in the whole run.

mod check;
mod interleave;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use torture_core::killpoint::Partition;
use torture_core::oracle::{Coverage, Expect, RunExit, SubjectStatus, TargetState, subject_status};
use torture_core::race::diagnose::{Diagnosis, diagnose};
use torture_core::race::generate::{Scheduler, Search, sample_kill};
use torture_core::race::minimise::minimise;
use torture_core::race::oracle::{Mode, Violation, clean_failures, judge};
use torture_core::race::schedule::Schedule;
use torture_core::rng::SplitMix64;
use torture_writers::strategies::Strategy;

use super::error::CampaignError;
use super::process::{self, Ended, Output};
use super::replay::shell_quote;
use super::subject::{self, Prepared, Subject, SubjectKind};
use crate::sandbox::{RunRoot, Sandbox};
use crate::tracer::{RunLimits, TraceError};
use interleave::Interleaving;

/// Interleavings of at most this many steps also get the preemption-bounded enumeration.
pub const SMALL_STEPS: u64 = 60;
/// Replays a minimisation may spend.
const MINIMISE_TRIES: usize = 60;
/// The bounded enumeration stops after this many times `--schedules` interleavings.
const BOUNDED_CAP_FACTOR: u64 = 4;

/// How a race campaign runs.
#[derive(Debug, Clone)]
pub struct RaceSettings {
    /// Writers racing (`--writers`, at least 2).
    pub writers: u32,
    /// Random walks, and as many PCT interleavings (`--schedules`).
    pub schedules: u64,
    /// The bound of the systematic search (`--preemptions`).
    pub preemptions: u32,
    /// PCT's bug depth.
    pub pct_depth: u32,
    /// Seeds every search.
    pub seed: u64,
    /// `--kill`: SIGKILL one writer at a sampled step of each random and PCT interleaving.
    pub kill: bool,
    /// `--schedule ID`: replay this interleaving only.
    pub replay: Option<Schedule>,
    /// `--strict`: leftovers are a violation.
    pub strict: bool,
    /// `--no-clobber` for commands (built-ins know their own mode).
    pub no_clobber: bool,
    /// `--initial old`: the target holds generation 1 before the race (replace mode only).
    pub initial_old: bool,
    /// `--setup CMD`: run once, untraced, in a fresh directory; the tree it leaves is where
    /// every solo run and every interleaving starts, and the target in it (if any) is the old
    /// version (instead of `--initial`).
    pub setup: Option<String>,
    /// The target, relative to the sandbox.
    pub target: PathBuf,
    /// A released writer that does not reach its next step in this much of its own time (held
    /// time and CPU waits do not count) ends the race as a harness timeout.
    pub timeout_ms: u64,
    /// `--partition M/N`: this shard's share of the interleavings (see the module docs).
    pub partition: Option<Partition>,
    /// `--check CMD`: judges the whole sandbox tree between steps, at the end and after the
    /// clean run, besides the oracle (see `race/check.rs`).
    pub check: Option<String>,
    /// Checker workers per interleaving (`--jobs`).
    pub check_jobs: usize,
}

impl RaceSettings {
    /// The small budget of the main job's "racing" column: 2 writers, 10 random and 10 PCT
    /// schedules, no systematic search, replace over an old version.
    pub fn main_job(seed: u64) -> RaceSettings {
        RaceSettings {
            writers: 2,
            schedules: 10,
            preemptions: 0,
            pct_depth: 3,
            seed,
            kill: false,
            replay: None,
            strict: false,
            no_clobber: false,
            initial_old: true,
            setup: None,
            target: PathBuf::from(super::DEFAULT_TARGET),
            timeout_ms: super::DEFAULT_TIMEOUT_MS,
            partition: None,
            check: None,
            check_jobs: 1,
        }
    }
}

/// A violation found, cut down and told.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The interleaving the search found.
    pub found: Schedule,
    /// The minimised one (what the replay line replays).
    pub schedule: Schedule,
    /// The violation's short name (`torn-read`, ...).
    pub kind: &'static str,
    /// The violation in words.
    pub violation: String,
    /// Three lines: the order, the story with the violation, the fix.
    pub diagnosis: Diagnosis,
    /// `torture race ... --seed S --schedule ID`.
    pub replay: String,
}

/// One subject's race campaign.
#[derive(Debug, Clone)]
pub struct RaceResult {
    /// How reports call the subject.
    pub label: String,
    /// What it must show.
    pub expect: Expect,
    /// Its verdict against `expect`.
    pub status: SubjectStatus,
    /// Replace or no-clobber.
    pub mode: Mode,
    /// Interleavings run (minimisation replays not counted).
    pub explored: u64,
    /// Steps taken over all explored interleavings.
    pub steps: u64,
    /// Reads of the target between steps that were checked.
    pub reads_checked: u64,
    /// The largest number of files left beside the target after one interleaving.
    pub max_leftovers: usize,
    /// Whether the bounded search ran to its end (every schedule within the bound).
    pub exhaustive: bool,
    /// Wall time of the interleavings.
    pub elapsed: Duration,
    /// The first violation, minimised; `None` when none was seen.
    pub finding: Option<Finding>,
    /// Writers that failed without breaking a rule (they left the target alone), each told
    /// in one sentence: the first [`CLEAN_FAILURES_SHOWN`] different ones.
    pub clean_failures: Vec<String>,
    /// Runs that failed without breaking a rule, over all explored interleavings.
    pub clean_failure_runs: u64,
    /// Facts for the report: the processes the first racer that left some running left
    /// ([`crate::tracer::left_running_note`]).
    pub notes: Vec<String>,
}

/// Different clean failures a result keeps to tell.
pub const CLEAN_FAILURES_SHOWN: usize = 3;

impl RaceResult {
    /// Interleavings run per second.
    pub fn interleavings_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.explored as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Everything one interleaving of this subject needs.
pub(crate) struct Race<'a> {
    prepared: &'a Prepared,
    settings: &'a RaceSettings,
    mode: Mode,
    old: Option<Vec<u8>>,
    versions: Vec<Vec<u8>>,
    recovery_version: Option<Vec<u8>>,
    limits: RunLimits,
    log_dir: &'a Path,
    /// `--setup`'s tree, copied into the sandbox before every run.
    start: Option<&'a Path>,
    /// The names besides the target that `--setup` left (not leftovers of the writers).
    setup_names: Vec<String>,
    /// `--check CMD`, with the subject's verdicts.
    check: Option<check::RaceCheck>,
}

impl Race<'_> {
    /// Prepares the sandbox for an interleaving: the setup's tree, else the old version.
    fn reset(&self, sandbox: &Sandbox) -> Result<(), CampaignError> {
        reset(sandbox, self.start, self.old.as_deref())
    }

    fn trace_error(&self, source: TraceError) -> CampaignError {
        CampaignError::Trace {
            subject: self.prepared.subject.label.clone(),
            source,
        }
    }

    fn io_error(&self, what: &str, source: std::io::Error) -> CampaignError {
        CampaignError::Io {
            what: format!("{what} of {}", self.prepared.subject.label),
            source,
        }
    }
}

/// The built-in subjects of a race (every strategy, the no-clobber one included), each with
/// what it must show under racing ([`Strategy::expect_race`]).
pub fn builtin_subjects(size_bytes: u64) -> Vec<Subject> {
    Strategy::EVERY
        .into_iter()
        .map(|strategy| builtin_subject(strategy, size_bytes))
        .collect()
}

/// The built-in subject `strategy` with its race expectation.
pub fn builtin_subject(strategy: Strategy, size_bytes: u64) -> Subject {
    Subject {
        name: strategy.name().to_owned(),
        label: strategy.name().to_owned(),
        kind: SubjectKind::Builtin { size_bytes },
        expect: strategy.expect_race(),
        selection: None,
    }
}

/// The mode a subject races in: a built-in's own, or `--no-clobber` for a command.
pub fn mode_of(subject: &Subject, settings: &RaceSettings) -> Mode {
    let builtin_no_clobber = matches!(subject.kind, SubjectKind::Builtin { .. })
        && subject
            .name
            .parse::<Strategy>()
            .is_ok_and(|s| !s.replaces());
    if builtin_no_clobber || settings.no_clobber {
        Mode::NoClobber
    } else {
        Mode::Replace
    }
}

/// Runs the race campaign of one subject in sandboxes under `root`.
pub fn run_subject(
    subject: &Subject,
    settings: &RaceSettings,
    root: &RunRoot,
    cancel: Arc<AtomicBool>,
) -> Result<RaceResult, CampaignError> {
    if settings.writers < 2 {
        return Err(CampaignError::Usage(
            "--writers must be at least 2: a race needs two writers".to_owned(),
        ));
    }
    let prepared = subject::prepare(subject)?;
    let group = crate::sandbox::plain_component(&subject.label);
    let sandbox = root.sandbox(&group, "race", &settings.target)?;
    let log_dir = root.directory(&group, "logs")?;
    let limits = RunLimits {
        timeout_ms: settings.timeout_ms,
        cancel: cancel.clone(),
    };
    let mode = mode_of(subject, settings);
    let start = match &settings.setup {
        Some(setup) => match set_up(setup, root, &group, settings, &cancel)? {
            Some(start) => Some(start),
            None => return Ok(stopped(subject, mode)),
        },
        None => None,
    };
    let places = (&sandbox, log_dir.as_path(), start.as_deref());
    let mut race = match learn_versions(&prepared, settings, mode, places, limits) {
        Err(_) if cancel.load(Ordering::Relaxed) => return Ok(stopped(subject, mode)),
        other => other?,
    };
    if start.is_some() {
        let listed = root.sandbox(&group, "start", &settings.target)?.orphans()?;
        race.setup_names = listed.into_iter().map(|orphan| orphan.name).collect();
    }
    if let Some(command) = &settings.check {
        let work = root.directory(&group, "check")?;
        race.check = Some(check::RaceCheck::new(
            command.clone(),
            work,
            settings.check_jobs,
        ));
    }
    let mut search = Explored::default();
    let began = Instant::now();
    let explored = explore(&race, &sandbox, &mut search, &cancel);
    let interrupted = cancel.load(Ordering::Relaxed);
    // A writer killed by the cancel is how a stopped race ends, not a harness error.
    let found = match explored {
        Err(_) if interrupted => None,
        other => other?,
    };
    let elapsed = began.elapsed();
    let finding = match interrupted {
        true => None,
        false => found
            .map(|(interleaving, violation)| explain(&race, &sandbox, &interleaving, &violation))
            .transpose()?,
    };
    let violations = u64::from(finding.is_some());
    let coverage = match settings.partition {
        Some(_) => Coverage::Shard,
        None => Coverage::Whole,
    };
    let status = match interrupted {
        true => SubjectStatus::Incomplete,
        false => subject_status(subject.expect, violations, true, coverage),
    };
    Ok(RaceResult {
        label: subject.label.clone(),
        expect: subject.expect,
        status,
        mode,
        explored: search.interleavings,
        steps: search.steps,
        reads_checked: search.reads,
        max_leftovers: search.max_leftovers,
        exhaustive: search.exhaustive,
        elapsed,
        finding,
        clean_failures: search.clean_failures,
        clean_failure_runs: search.clean_failure_runs,
        notes: crate::tracer::left_running_note(&search.left_running)
            .into_iter()
            .chain(race.check.as_ref().map(check::note))
            .collect(),
    })
}

/// A subject the cancel stopped before its search began: no verdict.
fn stopped(subject: &Subject, mode: Mode) -> RaceResult {
    RaceResult {
        label: subject.label.clone(),
        expect: subject.expect,
        status: SubjectStatus::Incomplete,
        mode,
        explored: 0,
        steps: 0,
        reads_checked: 0,
        max_leftovers: 0,
        exhaustive: false,
        elapsed: Duration::ZERO,
        finding: None,
        clean_failures: Vec::new(),
        clean_failure_runs: 0,
        notes: Vec::new(),
    }
}

/// Counts over the explored interleavings.
#[derive(Debug, Default)]
struct Explored {
    interleavings: u64,
    steps: u64,
    reads: u64,
    max_leftovers: usize,
    exhaustive: bool,
    /// Steps of the first interleaving: PCT's `k`, and whether the writers are small.
    first_steps: Option<u64>,
    clean_failures: Vec<String>,
    clean_failure_runs: u64,
    /// What the first racer that left processes running left.
    left_running: Vec<String>,
}

impl Explored {
    fn count(&mut self, interleaving: &Interleaving) {
        let steps = interleaving.steps.len() as u64;
        self.interleavings += 1;
        self.steps += steps;
        self.reads += interleaving.facts.reads.len() as u64;
        self.max_leftovers = self.max_leftovers.max(interleaving.facts.leftovers);
        self.first_steps.get_or_insert(steps);
        if self.left_running.is_empty() {
            self.left_running = interleaving.left_running.clone();
        }
        for told in clean_failures(&interleaving.facts) {
            self.clean_failure_runs += 1;
            let new = !self.clean_failures.contains(&told);
            if new && self.clean_failures.len() < CLEAN_FAILURES_SHOWN {
                self.clean_failures.push(told);
            }
        }
    }
}

/// Runs `--setup` once in the subject's `start` directory: the tree every run starts from.
/// `Ok(None)`: Ctrl-C.
fn set_up(
    setup: &str,
    root: &RunRoot,
    group: &str,
    settings: &RaceSettings,
    cancel: &AtomicBool,
) -> Result<Option<PathBuf>, CampaignError> {
    let start = root.directory(group, "start")?;
    let logs = root.directory(group, "logs")?;
    let timeout = Duration::from_millis(settings.timeout_ms);
    let tree = super::tree::set_up(setup, &start, (&logs, "setup"), timeout, cancel)?;
    Ok(tree.map(|_| start))
}

/// Empties `sandbox` and fills it with the setup's tree, else with `old` at the target.
fn reset(sandbox: &Sandbox, start: Option<&Path>, old: Option<&[u8]>) -> Result<(), CampaignError> {
    match start {
        Some(start) => sandbox.reset_to(start)?,
        None => sandbox.reset(old)?,
    }
    Ok(())
}

/// A solo run of writer `number` over an old version: the version it wrote.
type SoloRun<'a> = dyn Fn(u32, Option<&[u8]>) -> Result<Vec<u8>, CampaignError> + 'a;

/// The old version: the target in the setup's tree (absent if it holds none), else generation
/// 1's solo run under `--initial old` in replace mode.
fn old_version(
    solo: &SoloRun<'_>,
    settings: &RaceSettings,
    mode: Mode,
    start: Option<&Path>,
) -> Result<Option<Vec<u8>>, CampaignError> {
    if let Some(start) = start {
        let path = start.join(&settings.target);
        return match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => std::fs::read(&path).map(Some),
            Ok(_) | Err(_) => Ok(None),
        }
        .map_err(|source| CampaignError::Io {
            what: format!("read the target --setup left at {}", path.display()),
            source,
        });
    }
    Ok(match (mode, settings.initial_old) {
        (Mode::Replace, true) => Some(solo(0, None)?),
        (Mode::Replace, false) | (Mode::NoClobber, _) => None,
    })
}

/// Learns the old version, each writer's version and the recovery run's from solo runs.
fn learn_versions<'a>(
    prepared: &'a Prepared,
    settings: &'a RaceSettings,
    mode: Mode,
    (sandbox, log_dir, start): (&Sandbox, &'a Path, Option<&'a Path>),
    limits: RunLimits,
) -> Result<Race<'a>, CampaignError> {
    let solo = |number: u32, old: Option<&[u8]>| {
        let places = (sandbox, log_dir, start);
        solo_version(prepared, settings, places, number, old)
    };
    let old = old_version(&solo, settings, mode, start)?;
    let versions = (1..=settings.writers)
        .map(|number| solo(number, old.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let recovery_version = match mode {
        Mode::Replace => Some(solo(settings.writers + 1, old.as_deref())?),
        Mode::NoClobber => None,
    };
    Ok(Race {
        prepared,
        settings,
        mode,
        old,
        versions,
        recovery_version,
        limits,
        log_dir,
        start,
        setup_names: Vec::new(),
        check: None,
    })
}

/// The version writer `number` (0: generation 1, the old version) writes when alone.
fn solo_version(
    prepared: &Prepared,
    settings: &RaceSettings,
    (sandbox, log_dir, start): (&Sandbox, &Path, Option<&Path>),
    number: u32,
    old: Option<&[u8]>,
) -> Result<Vec<u8>, CampaignError> {
    reset(sandbox, start, old)?;
    let cmd = interleave::command(prepared, sandbox, number);
    let invocation = process::Invocation {
        program: cmd.program,
        args: cmd.args,
        env: cmd.env,
    };
    let timeout = Duration::from_millis(settings.timeout_ms);
    let never = AtomicBool::new(false);
    let ended = process::run(
        &invocation,
        sandbox.path(),
        Output::Capture,
        (log_dir, "solo"),
        timeout,
        &never,
    );
    let label = &prepared.subject.label;
    let io = |source| CampaignError::Io {
        what: format!("run {label} alone"),
        source,
    };
    let (exit, stderr) = match ended.map_err(io)? {
        Ended::Exit { exit, stderr, .. } => (exit, stderr),
        Ended::Cancelled => (RunExit::TimedOut, Vec::new()),
    };
    match (exit, sandbox.read_target()?) {
        (RunExit::Code(0), TargetState::Regular(bytes)) => Ok(bytes),
        (exit, state) => Err(CampaignError::Golden {
            subject: label.clone(),
            what: format!(
                "writer {number} (generation {}) alone ended with {exit:?} and left {}",
                number + 1,
                describe(&state)
            ),
            stderr_tail: process::tail(&stderr, 5),
            hint: "a writer must work alone before it can race: run it by hand".to_owned(),
        }),
    }
}

fn describe(state: &TargetState) -> String {
    match state {
        TargetState::Absent => "no target".to_owned(),
        TargetState::Regular(bytes) => format!("a {}-byte target", bytes.len()),
        TargetState::NotRegular(kind) => format!("a {kind:?} at the target"),
    }
}

/// The searches in order, until the first violation, the budget, or Ctrl-C.
fn explore(
    race: &Race<'_>,
    sandbox: &Sandbox,
    explored: &mut Explored,
    cancel: &AtomicBool,
) -> Result<Option<(Interleaving, Violation)>, CampaignError> {
    let settings = race.settings;
    if let Some(schedule) = &settings.replay {
        let scheduler = Scheduler::replay(schedule.clone());
        return run_search(race, sandbox, scheduler, 1, explored, cancel);
    }
    let mut rng = SplitMix64::new(settings.seed);
    let mut position = 0u64;
    for phase in [Phase::Random, Phase::Pct] {
        let found = run_sampled(
            race,
            sandbox,
            (phase, &mut position),
            &mut rng,
            explored,
            cancel,
        )?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let small = explored.first_steps.is_some_and(|s| s <= SMALL_STEPS);
    let systematic_here = settings.partition.is_none_or(|p| p.index == p.count);
    if !small || !systematic_here || cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let bounded = Search::Bounded {
        preemptions: settings.preemptions,
    };
    let scheduler = scheduler(bounded, settings.seed)?;
    let cap = settings.schedules.saturating_mul(BOUNDED_CAP_FACTOR);
    run_search(race, sandbox, scheduler, cap, explored, cancel)
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Random,
    Pct,
}

fn scheduler(search: Search, seed: u64) -> Result<Scheduler, CampaignError> {
    Scheduler::new(search, seed).map_err(|e| CampaignError::Usage(e.to_string()))
}

/// Whether interleaving `position` (in the unsplit order of random and PCT interleavings) is
/// this shard's.
fn owns(partition: Option<Partition>, position: u64) -> bool {
    partition.is_none_or(|p| position % p.count == p.index - 1)
}

/// `--schedules` interleavings of a random search; under `--kill` each gets its own kill.
/// `position` counts the interleavings of both sampled phases, for `--partition`.
fn run_sampled(
    race: &Race<'_>,
    sandbox: &Sandbox,
    (phase, position): (Phase, &mut u64),
    rng: &mut SplitMix64,
    explored: &mut Explored,
    cancel: &AtomicBool,
) -> Result<Option<(Interleaving, Violation)>, CampaignError> {
    let settings = race.settings;
    for _ in 0..settings.schedules {
        let at = *position;
        *position += 1;
        let steps_hint = explored.first_steps.unwrap_or(SMALL_STEPS).max(1);
        let search = match phase {
            Phase::Random => Search::Random,
            Phase::Pct => Search::Pct {
                depth: settings.pct_depth,
                steps_hint,
            },
        };
        let mut scheduler = scheduler(search, rng.next_u64())?;
        if settings.kill {
            scheduler = scheduler.with_kill(sample_kill(rng, settings.writers, steps_hint));
        }
        if !owns(settings.partition, at) {
            // Another shard's; the first still sets the step count every shard needs.
            if explored.first_steps.is_none() {
                learn_steps(race, sandbox, scheduler, explored, cancel)?;
            }
            continue;
        }
        let found = run_search(race, sandbox, scheduler, 1, explored, cancel)?;
        if found.is_some() || cancel.load(Ordering::Relaxed) {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Runs another shard's first interleaving for its length alone: not judged, not counted.
fn learn_steps(
    race: &Race<'_>,
    sandbox: &Sandbox,
    mut scheduler: Scheduler,
    explored: &mut Explored,
    cancel: &AtomicBool,
) -> Result<(), CampaignError> {
    if cancel.load(Ordering::Relaxed) || scheduler.next_schedule().is_none() {
        return Ok(());
    }
    let interleaving = interleave::run(race, sandbox, &mut scheduler)?;
    explored.first_steps = Some(interleaving.steps.len() as u64);
    Ok(())
}

/// Up to `limit` interleavings of one scheduler; the first that breaks a rule ends it.
fn run_search(
    race: &Race<'_>,
    sandbox: &Sandbox,
    mut scheduler: Scheduler,
    limit: u64,
    explored: &mut Explored,
    cancel: &AtomicBool,
) -> Result<Option<(Interleaving, Violation)>, CampaignError> {
    for _ in 0..limit {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if scheduler.next_schedule().is_none() {
            explored.exhaustive = true;
            return Ok(None);
        }
        let interleaving = interleave::run(race, sandbox, &mut scheduler)?;
        // Ctrl-C killed writers mid-run: what they left says nothing.
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        explored.count(&interleaving);
        if let Some(violation) = judge(&interleaving.facts).into_iter().next() {
            return Ok(Some((interleaving, violation)));
        }
    }
    Ok(None)
}

/// Minimises the violating schedule (the same kind of violation must persist), replays the
/// result and diagnoses it.
fn explain(
    race: &Race<'_>,
    sandbox: &Sandbox,
    found: &Interleaving,
    violation: &Violation,
) -> Result<Finding, CampaignError> {
    let kind = violation.kind();
    let mut failure = None;
    let still_fails = |candidate: &Schedule| match replay(race, sandbox, candidate) {
        Ok(replayed) => judge(&replayed.facts).iter().any(|v| v.kind() == kind),
        Err(error) => {
            failure.get_or_insert(error);
            false
        }
    };
    let minimised = minimise(&found.schedule, MINIMISE_TRIES, still_fails).schedule;
    if let Some(error) = failure {
        return Err(error);
    }
    let replayed = replay(race, sandbox, &minimised)?;
    let (interleaving, violation) = match judge(&replayed.facts)
        .into_iter()
        .find(|v| v.kind() == kind)
    {
        Some(violation) => (replayed, violation),
        // A writer that is not deterministic may not fail again: tell the found one.
        None => (replay(race, sandbox, &found.schedule)?, violation.clone()),
    };
    let target = race.settings.target.to_string_lossy();
    let diagnosis = diagnose(
        &violation,
        &interleaving.schedule,
        &interleaving.steps,
        &target,
        race.mode,
    );
    Ok(Finding {
        found: found.schedule.clone(),
        replay: replay_line(race, &interleaving.schedule),
        schedule: interleaving.schedule,
        kind,
        violation: violation.to_string(),
        diagnosis,
    })
}

fn replay(
    race: &Race<'_>,
    sandbox: &Sandbox,
    schedule: &Schedule,
) -> Result<Interleaving, CampaignError> {
    let mut scheduler = Scheduler::replay(schedule.clone());
    scheduler.next_schedule();
    interleave::run(race, sandbox, &mut scheduler)
}

/// `torture race --subject NAME ... --seed S --schedule ID [-- CMD...]`.
fn replay_line(race: &Race<'_>, schedule: &Schedule) -> String {
    let subject = &race.prepared.subject;
    let settings = race.settings;
    let mut words: Vec<String> = vec!["torture".into(), "race".into()];
    if let SubjectKind::Builtin { size_bytes } = &subject.kind {
        words.extend(["--subject".into(), subject.name.clone()]);
        words.extend(["--size".into(), size_bytes.to_string()]);
    }
    words.extend(["--writers".into(), settings.writers.to_string()]);
    if let Some(setup) = &settings.setup {
        words.extend(["--setup".into(), shell_quote(setup)]);
    } else if !settings.initial_old {
        words.extend(["--initial".into(), "absent".into()]);
    }
    for (on, flag) in [
        (settings.strict, "--strict"),
        (settings.no_clobber, "--no-clobber"),
    ] {
        if on {
            words.push(flag.into());
        }
    }
    let target = settings.target.to_string_lossy();
    if target != super::DEFAULT_TARGET {
        words.extend(["--target".into(), shell_quote(&target)]);
    }
    if let Some(check) = &settings.check {
        words.extend(["--check".into(), shell_quote(check)]);
    }
    words.extend(["--seed".into(), settings.seed.to_string()]);
    words.extend(["--schedule".into(), schedule.to_string()]);
    if let SubjectKind::Command { argv } = &subject.kind {
        if subject.expect == Expect::Caught {
            words.extend(["--expect".into(), "caught".into()]);
        }
        words.push("--".into());
        words.extend(
            argv.iter()
                .map(|a: &OsString| shell_quote(&a.to_string_lossy())),
        );
    }
    words.join(" ")
}
