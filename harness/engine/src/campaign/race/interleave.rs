//! One interleaving: N stepping writers on one sandbox, a [`Scheduler`] picking who runs each
//! step, the target read after every step, then the final target, a clean run, and leftovers.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use torture_core::oracle::RunExit;
use torture_core::race::diagnose::{Op, Step};
use torture_core::race::generate::Scheduler;
use torture_core::race::oracle::{CheckPoint, RaceFacts, Recovery, TargetRead, WriterEnd};
use torture_core::race::schedule::{Schedule, WriterId};
use torture_core::race::trail::Trail;
use torture_core::trace::{self, ExitStatus, Trace};

use super::super::error::CampaignError;
use super::super::process::{self, Ended, Output};
use super::super::subject::Prepared;
use super::Race;
use super::check::Trees;
use crate::sandbox::Sandbox;
use crate::tracer::{self, HeldRun, Progress, Run, TraceError, WriterCommand};

/// What one interleaving showed.
#[derive(Debug)]
pub struct Interleaving {
    /// The schedule it took (with its kill).
    pub schedule: Schedule,
    /// Everything the oracle judges.
    pub facts: RaceFacts,
    /// The steps, for diagnosis.
    pub steps: Vec<Step>,
    /// What the first racer that left processes running left (ended with it), for the report.
    pub left_running: Vec<String>,
}

/// A writer of the race: held at a step, or done.
enum Slot {
    Held(HeldRun),
    Done { run: Box<Run>, killed: bool },
}

/// A step as it was taken: who, and the call it ran.
struct Taken {
    writer: WriterId,
    seq: u64,
    syscall: String,
}

/// Runs one interleaving (`scheduler.next_schedule()` already called).
pub fn run(
    race: &Race<'_>,
    sandbox: &Sandbox,
    scheduler: &mut Scheduler,
) -> Result<Interleaving, CampaignError> {
    race.reset(sandbox)?;
    let slots = start_all(race, sandbox)?;
    let (slots, seen) = step_all(race, sandbox, scheduler, slots)?;
    let schedule = scheduler.finish().map_err(schedule_error)?;
    let runs = finished(slots);
    let steps = describe_steps(&seen.taken, &runs);
    let facts = facts(race, sandbox, &runs, (seen.reads, seen.trees))?;
    // Every racer runs the same program: the first that left processes running is told.
    let left_running = runs
        .iter()
        .find(|(run, _)| !run.left_running.is_empty())
        .map(|(run, _)| run.left_running.clone())
        .unwrap_or_default();
    Ok(Interleaving {
        schedule,
        facts,
        steps,
        left_running,
    })
}

/// What the steps showed: the steps taken, the target after each, and (under `--check`) the
/// whole tree after each.
#[derive(Default)]
struct Seen {
    taken: Vec<Taken>,
    reads: Vec<TargetRead>,
    trees: Trees,
}

/// Steps (or kills) the writers the scheduler picks until none is held.
fn step_all(
    race: &Race<'_>,
    sandbox: &Sandbox,
    scheduler: &mut Scheduler,
    mut slots: Vec<Option<Slot>>,
) -> Result<(Vec<Option<Slot>>, Seen), CampaignError> {
    let mut seen = Seen::default();
    loop {
        let runnable = runnable(&slots);
        if runnable.is_empty() {
            return Ok((slots, seen));
        }
        if let Some(writer) = scheduler.kill_due(&runnable) {
            kill(race, &mut slots, writer)?;
            continue;
        }
        let writer = scheduler.choose(&runnable).map_err(schedule_error)?;
        seen.taken.push(step(race, &mut slots, writer)?);
        let after_step = seen.taken.len() as u64 - 1;
        seen.reads.push(TargetRead {
            after_step,
            state: sandbox.read_target()?,
        });
        let at = CheckPoint::AfterStep(after_step);
        seen.trees.read(race, sandbox, at)?;
    }
}

fn schedule_error(error: torture_core::race::generate::ScheduleError) -> CampaignError {
    CampaignError::Usage(error.to_string())
}

/// Starts every writer, each to its first step; writer `i` (from 1) is generation `i + 1`.
fn start_all(race: &Race<'_>, sandbox: &Sandbox) -> Result<Vec<Option<Slot>>, CampaignError> {
    (1..=race.settings.writers)
        .map(|number| {
            let cmd = command(race.prepared, sandbox, number);
            let target = sandbox.target();
            let progress = tracer::start_stepping(&cmd, sandbox.path(), target, &race.limits)
                .map_err(|source| race.trace_error(source))?;
            slot(race, progress, || {
                format!("writer {number} after its start")
            })
            .map(Some)
        })
        .collect()
}

/// A writer's slot after it ran. One the watchdog stopped is a harness timeout, not a writer
/// failure: its clock ran only while it was released, so it did not reach its next step in
/// the whole timeout (`what`: who, released where).
fn slot(
    race: &Race<'_>,
    progress: Progress,
    what: impl FnOnce() -> String,
) -> Result<Slot, CampaignError> {
    let run = match progress {
        Progress::Held(held) => return Ok(Slot::Held(held)),
        Progress::Done(run) => run,
    };
    match run.outcome {
        tracer::Outcome::TimedOut { .. } => Err(race.trace_error(TraceError::Stalled {
            what: what(),
            goal: "its next syscall".to_owned(),
            timeout_ms: race.limits.timeout_ms,
        })),
        tracer::Outcome::Killed { .. }
        | tracer::Outcome::Injected { .. }
        | tracer::Outcome::NotReached { .. }
        | tracer::Outcome::Cancelled
        | tracer::Outcome::Unmodelled { .. } => Ok(Slot::Done { run, killed: false }),
    }
}

/// Writer `number` (from 1): generation `number + 1`, and `TORTURE_WRITER=number`.
pub fn command(prepared: &Prepared, sandbox: &Sandbox, number: u32) -> WriterCommand {
    let place = (sandbox.path(), sandbox.target());
    let invocation = prepared.invocation(place, u64::from(number) + 1);
    let mut env = invocation.env;
    env.push(("TORTURE_WRITER".into(), number.to_string().into()));
    WriterCommand {
        program: invocation.program,
        args: invocation.args,
        env,
    }
}

fn runnable(slots: &[Option<Slot>]) -> Vec<WriterId> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| matches!(slot, Some(Slot::Held(_))))
        .map(|(index, _)| WriterId(index as u32 + 1))
        .collect()
}

/// Takes a held writer out of its slot (only called for runnable writers).
fn take_held(slots: &mut [Option<Slot>], writer: WriterId) -> Option<(usize, HeldRun)> {
    let index = (writer.0 as usize).checked_sub(1)?;
    let entry = slots.get_mut(index)?;
    match entry.take()? {
        Slot::Held(held) => Some((index, held)),
        done @ Slot::Done { .. } => {
            *entry = Some(done);
            None
        }
    }
}

fn step(
    race: &Race<'_>,
    slots: &mut [Option<Slot>],
    writer: WriterId,
) -> Result<Taken, CampaignError> {
    let (index, held) = take_held(slots, writer).ok_or_else(|| not_held(writer))?;
    let at = held.at().clone();
    let progress = held.step().map_err(|source| race.trace_error(source))?;
    let released = || format!("writer {} released at {} #{}", writer.0, at.syscall, at.seq);
    slots[index] = Some(slot(race, progress, released)?);
    Ok(Taken {
        writer,
        seq: at.seq,
        syscall: at.syscall,
    })
}

fn kill(
    race: &Race<'_>,
    slots: &mut [Option<Slot>],
    writer: WriterId,
) -> Result<(), CampaignError> {
    let (index, held) = take_held(slots, writer).ok_or_else(|| not_held(writer))?;
    let run = held.kill().map_err(|source| race.trace_error(source))?;
    slots[index] = Some(Slot::Done {
        run: Box::new(run),
        killed: true,
    });
    Ok(())
}

fn not_held(writer: WriterId) -> CampaignError {
    CampaignError::Usage(format!("writer {} is not held", writer.0))
}

/// Every writer's run and whether the harness killed it (all slots are done by now).
fn finished(slots: Vec<Option<Slot>>) -> Vec<(Box<Run>, bool)> {
    slots
        .into_iter()
        .filter_map(|slot| match slot? {
            Slot::Done { run, killed } => Some((run, killed)),
            Slot::Held(_) => None,
        })
        .collect()
}

fn end_of(run: &Run, killed: bool) -> WriterEnd {
    if killed {
        return WriterEnd::Killed;
    }
    WriterEnd::Exit(match (&run.outcome, run.ack.exit) {
        (tracer::Outcome::TimedOut { .. }, _) => RunExit::TimedOut,
        (_, Some(ExitStatus::Code(code))) => RunExit::Code(code),
        (_, Some(ExitStatus::Signal(signal))) => RunExit::Signal(signal),
        (_, None) => RunExit::Code(-1),
    })
}

fn facts(
    race: &Race<'_>,
    sandbox: &Sandbox,
    runs: &[(Box<Run>, bool)],
    (reads, mut trees): (Vec<TargetRead>, Trees),
) -> Result<RaceFacts, CampaignError> {
    let final_state = sandbox.read_target()?;
    trees.read(race, sandbox, CheckPoint::End)?;
    // Leftovers are counted after the clean run, as kill campaigns do: a writer whose
    // documented start-up step sweeps dead runs' temp files cleans up after a killed racer.
    let recovery = recover(race, sandbox)?;
    if recovery.is_some() {
        trees.read(race, sandbox, CheckPoint::AfterRecovery)?;
    }
    let leftovers = crate::sandbox::not_prepared(sandbox.orphans()?, &race.setup_names).len();
    Ok(RaceFacts {
        mode: race.mode,
        old: race.old.clone(),
        versions: race.versions.clone(),
        ends: runs
            .iter()
            .map(|(run, killed)| end_of(run, *killed))
            .collect(),
        trails: runs.iter().map(|(run, _)| trail(race, run)).collect(),
        reads,
        final_state,
        leftovers,
        strict: race.settings.strict,
        recovery,
        check_failures: trees.judge(race)?,
    })
}

/// What a writer's trace shows of its run; a run without a trace has an empty trail that
/// counts as having changed the target.
fn trail(race: &Race<'_>, run: &Run) -> Trail {
    let target = race.settings.target.to_string_lossy();
    match &run.trace {
        Some(trace) => Trail::of(trace, &target),
        None => Trail {
            first_failure: None,
            touched_target: true,
        },
    }
}

/// One more clean, untraced run in the raced sandbox: the writer numbered after the racers.
/// Under no-clobber a clean run over a published target must fail, so none is made.
fn recover(race: &Race<'_>, sandbox: &Sandbox) -> Result<Option<Recovery>, CampaignError> {
    let Some(version) = race.recovery_version.clone() else {
        return Ok(None);
    };
    let cmd = command(race.prepared, sandbox, race.settings.writers + 1);
    let invocation = process::Invocation {
        program: cmd.program,
        args: cmd.args,
        env: cmd.env,
    };
    let timeout = Duration::from_millis(race.limits.timeout_ms);
    let ended = process::run(
        &invocation,
        sandbox.path(),
        Output::Discard,
        (race.log_dir, "recovery"),
        timeout,
        &AtomicBool::new(false),
    )
    .map_err(|e| race.io_error("run the recovery writer", e))?;
    let exit = match ended {
        Ended::Exit { exit, .. } => exit,
        Ended::Cancelled => RunExit::TimedOut,
    };
    Ok(Some(Recovery {
        exit,
        version,
        after: sandbox.read_target()?,
    }))
}

/// The taken steps with what each did, from the writers' traces (events are numbered at their
/// entry, as the held handles name them).
fn describe_steps(taken: &[Taken], runs: &[(Box<Run>, bool)]) -> Vec<Step> {
    let mut written: std::collections::HashMap<(u32, String), u64> = Default::default();
    taken
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let trace = runs
                .get(t.writer.0 as usize - 1)
                .and_then(|(run, _)| run.trace.as_ref());
            let op = op_of(trace, t.seq, |path, len| {
                let total = written.entry((t.writer.0, path.to_owned())).or_default();
                *total += len;
                *total
            });
            Step {
                index: index as u64,
                writer: t.writer,
                seq: t.seq,
                syscall: t.syscall.clone(),
                op,
            }
        })
        .collect()
}

/// The diagnosis's view of event `seq`; `add_written(path, len)` returns the running total.
fn op_of(trace: Option<&Trace>, seq: u64, mut add_written: impl FnMut(&str, u64) -> u64) -> Op {
    let event = trace.and_then(|t| t.events.iter().find(|e| e.seq == seq));
    let Some(event) = event else {
        return Op::Other {
            path: String::new(),
        };
    };
    match &event.op {
        trace::Op::Open {
            path,
            flags,
            truncated,
            excl,
            ..
        } => Op::Open {
            path: path.clone(),
            truncate: *truncated || flags & libc::O_TRUNC as u64 != 0,
            create: flags & libc::O_CREAT as u64 != 0,
            exclusive: *excl,
        },
        trace::Op::Write {
            path, len_bytes, ..
        } => Op::Write {
            path: path.clone(),
            written_bytes: add_written(path, *len_bytes),
        },
        trace::Op::Rename {
            from,
            to,
            noreplace,
            ..
        } => Op::Rename {
            from: from.clone(),
            to: to.clone(),
            no_replace: *noreplace,
        },
        trace::Op::Link { from, to, .. } => Op::Link {
            from: from.clone(),
            to: to.clone(),
        },
        trace::Op::Unlink { path, .. } => Op::Unlink { path: path.clone() },
        other @ (trace::Op::Symlink { .. }
        | trace::Op::Rmdir { .. }
        | trace::Op::Mkdir { .. }
        | trace::Op::Fsync { .. }
        | trace::Op::Fdatasync { .. }
        | trace::Op::SyncFileRange { .. }
        | trace::Op::Truncate { .. }
        | trace::Op::Fallocate { .. }
        | trace::Op::Chmod { .. }
        | trace::Op::Chown { .. }
        | trace::Op::Close { .. }
        | trace::Op::Sync
        | trace::Op::Syncfs { .. }
        | trace::Op::Mmap { .. }
        | trace::Op::Msync { .. }
        | trace::Op::IoUringSetup { .. }) => Op::Other {
            path: other.paths().join(" -> "),
        },
    }
}
