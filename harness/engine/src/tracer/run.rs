//! One traced run: spawn, drive with the injector and/or the recorder, and collect the outcome,
//! the acknowledgement and the trace.

use std::collections::HashMap;
use std::path::Path;

use nix::unistd::Pid;

use super::calls;
use super::engine::{Call, Ctx, Drive, Mode, Step};
use super::golden::{self, Recorder};
use super::inject::{self, Injector};
use super::resolve::{Resolver, normalise};
use super::spawn::{Spawned, read_all, spawn};
use super::step::Stepper;
use super::syscalls::Stops;
use super::{
    GoldenRun, HeldRun, Outcome, Progress, Run, RunLimits, TraceError, WriterAck, WriterCommand,
};
use crate::sys::Regs;
use torture_core::fault::Fault;
use torture_core::trace::{ExitStatus, FsInfo, InitialState, Trace};

/// The policy of a run: the injector (when there is a fault) and the recorder (when the run is
/// traced), in that order at exits so the recorder sees what the writer got back.
#[derive(Debug)]
struct Runner {
    injector: Option<Injector>,
    recorder: Option<Recorder>,
    /// Why the runner killed the writer itself: an unmodelled operation before the fault.
    unmodelled: Option<String>,
    /// Stepping runs (`torture race`): holds at every step.
    stepper: Option<Stepper>,
}

type Pending = (Option<golden::Pending>, Option<inject::Exit>);

impl Mode for Runner {
    type Pending = Pending;

    fn killed(&mut self) -> Outcome {
        match (self.unmodelled.take(), &self.injector) {
            (Some(what), _) => Outcome::Unmodelled { what },
            (None, Some(injector)) => injector.killed(),
            // Nothing else asks for a kill; a kill without a fault reached nothing.
            (None, None) => Outcome::NotReached {
                exit: ExitStatus::Signal(libc::SIGKILL),
            },
        }
    }

    fn ended(&mut self, exit: ExitStatus) -> Outcome {
        match &self.injector {
            Some(injector) => injector.ended(exit),
            None => Outcome::NotReached { exit },
        }
    }

    fn on_entry(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
    ) -> Result<Step<Pending>, TraceError> {
        let (seq, recorded) = match &mut self.recorder {
            Some(recorder) => {
                let notes = recorder.unmodelled.len();
                let entered = recorder.enter(ctx, pid, call);
                if let Some(what) = recorder.unmodelled.get(notes) {
                    if self.injector.as_ref().is_some_and(|i| !i.fired()) {
                        self.unmodelled = Some(what.clone());
                        return Ok(Step::Kill);
                    }
                }
                entered
            }
            None => (None, None),
        };
        if let (Some(stepper), Some(seq)) = (&mut self.stepper, seq) {
            if stepper.enter(call.sys, seq, step_path(ctx, pid, call)) {
                return Ok(Step::Hold(recorded.map(|r| (Some(r), None))));
            }
        }
        let injected = match &mut self.injector {
            Some(injector) => injector.on_entry(ctx, pid, call, seq)?,
            None => Step::Continue,
        };
        Ok(combine(recorded, injected))
    }

    fn on_exit(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        (recorded, injected): Pending,
        ret: i64,
        regs: Regs,
    ) -> Result<Step<Pending>, TraceError> {
        let (step, ret) = match (injected, &mut self.injector) {
            (Some(exit), Some(injector)) => injector.on_exit(pid, exit, ret, regs)?,
            (Some(_) | None, _) => (Step::Continue, ret),
        };
        if let (Some(golden::Pending::Write { .. }), Some(stepper)) = (&recorded, &mut self.stepper)
        {
            stepper.wrote(ret);
        }
        if let (Some(pending), Some(recorder)) = (recorded, &mut self.recorder) {
            recorder.exit(ctx, pid, pending, ret)?;
        }
        Ok(match step {
            Step::Kill => Step::Kill,
            Step::Continue | Step::ToExit(_) | Step::Hold(_) => Step::Continue,
        })
    }
}

/// The sandbox file a step acts on, as kill points show it.
fn step_path(ctx: &Ctx<'_>, pid: Pid, call: &Call) -> String {
    match calls::write_call(ctx, pid, call) {
        Some(write) => write.file.rel,
        None => calls::site(ctx, pid, call).map_or_else(String::new, |site| site.label()),
    }
}

/// The recorder's and the injector's wishes at an entry, as one step.
fn combine(recorded: Option<golden::Pending>, injected: Step<inject::Exit>) -> Step<Pending> {
    match (injected, recorded) {
        (Step::Kill, _) => Step::Kill,
        (Step::ToExit(exit), recorded) => Step::ToExit((recorded, Some(exit))),
        (Step::Continue, Some(recorded)) => Step::ToExit((Some(recorded), None)),
        (Step::Continue, None) => Step::Continue,
        (Step::Hold(_), recorded) => Step::Hold(recorded.map(|r| (Some(r), None))),
    }
}

/// A run in progress.
#[derive(Debug)]
pub struct Live {
    spawned: Spawned,
    runner: Runner,
    pending: HashMap<Pid, Pending>,
}

/// The golden run: no fault, everything recorded.
pub fn golden(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    limits: &RunLimits,
) -> Result<GoldenRun, TraceError> {
    let live = launch(cmd, sandbox, Some(target), None, limits)?;
    let Ended {
        run,
        space,
        unmodelled,
        outside,
        notes,
    } = drive_to_end(live)?;
    let exit_code = match run.outcome {
        Outcome::NotReached {
            exit: ExitStatus::Code(code),
        } => code,
        Outcome::TimedOut { elapsed_ms } => return Err(TraceError::TimedOut { elapsed_ms }),
        Outcome::Cancelled => return Err(TraceError::Cancelled),
        other @ (Outcome::Killed { .. }
        | Outcome::Injected { .. }
        | Outcome::NotReached { .. }
        | Outcome::Unmodelled { .. }) => {
            return Err(TraceError::UnexpectedEnd {
                pid: 0,
                how: format!("ended as {other:?} in a run that injects nothing"),
            });
        }
    };
    Ok(GoldenRun {
        exit_code,
        stdout: run.ack.stdout,
        stderr: run.stderr,
        trace: run
            .trace
            .unwrap_or_else(|| Trace::new(String::new(), Vec::new())),
        space,
        unmodelled,
        outside,
        notes,
        left_running: run.left_running,
    })
}

/// A fault run without a recorder (kill campaigns).
pub fn without_trace(
    cmd: &WriterCommand,
    sandbox: &Path,
    fault: Fault,
    limits: &RunLimits,
) -> Result<Run, TraceError> {
    let live = launch(cmd, sandbox, None, Some(fault), limits)?;
    drive_to_end(live).map(|ended| ended.run)
}

/// A recorded fault run, driven to its end or its hold.
pub fn start(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    fault: &Fault,
    limits: &RunLimits,
) -> Result<Progress, TraceError> {
    let live = launch(cmd, sandbox, Some(target), Some(fault.clone()), limits)?;
    drive(Box::new(live))
}

/// A recorded run without a fault that holds at every step, driven to its first.
pub fn start_stepping(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: &Path,
    limits: &RunLimits,
) -> Result<Progress, TraceError> {
    let mut live = launch(cmd, sandbox, Some(target), None, limits)?;
    live.runner.stepper = Some(Stepper::new());
    drive(Box::new(live))
}

/// Stops holding at steps: the next drive runs the writer to its end.
pub fn stop_stepping(live: &mut Live) {
    if let Some(stepper) = &mut live.runner.stepper {
        stepper.active = false;
    }
}

/// SIGKILLs a held run's whole tree and reaps it; the outcome is the kill point equal to where
/// the writer was held.
pub fn kill_held(mut live: Box<Live>) -> Result<Run, TraceError> {
    let point = live
        .runner
        .stepper
        .as_ref()
        .and_then(|s| s.held.as_ref())
        .map(|at| at.point);
    live.spawned.session.kill_held()?;
    let stderr = read_all(&live.spawned.stderr).unwrap_or_default();
    let outcome = match point {
        Some(point) => Outcome::Killed { point },
        None => Outcome::NotReached {
            exit: ExitStatus::Signal(libc::SIGKILL),
        },
    };
    conclude(*live, outcome, stderr).map(|ended| ended.run)
}

/// Drives on; a hold hands the run back to the caller.
pub fn drive(mut live: Box<Live>) -> Result<Progress, TraceError> {
    let Live {
        spawned,
        runner,
        pending,
    } = &mut *live;
    let driven = spawned.session.drive(runner, pending);
    let stderr = read_all(&spawned.stderr).unwrap_or_default();
    match with_stderr(driven, &stderr)? {
        Drive::Held(pid) => {
            let step = live.runner.stepper.as_ref().and_then(|s| s.held.clone());
            let at = step.as_ref().map(|s| s.call.clone());
            let Some(at) = at.or_else(|| held_call(&live.runner)) else {
                return Err(TraceError::UnexpectedEnd {
                    pid: pid.as_raw(),
                    how: "was held by a run without a hold fault".to_owned(),
                });
            };
            Ok(Progress::Held(HeldRun {
                live,
                pid: pid.as_raw(),
                at,
                step,
                _thread: std::marker::PhantomData,
            }))
        }
        Drive::Done(outcome) => {
            conclude(*live, outcome, stderr).map(|e| Progress::Done(Box::new(e.run)))
        }
    }
}

/// The call a hold fault holds at (only a hold fault holds).
fn held_call(runner: &Runner) -> Option<torture_core::fault::CallRef> {
    match runner.injector.as_ref().map(Injector::fault) {
        Some(Fault::Hold { call }) => Some(call.clone()),
        Some(Fault::Kill(_) | Fault::Errno { .. } | Fault::Short { .. }) | None => None,
    }
}

/// A finished run, with the golden extras.
struct Ended {
    run: Run,
    /// Empty when the run was not recorded.
    space: torture_core::killpoint::KillSpace,
    unmodelled: Vec<String>,
    /// Changes outside the sandbox (recorded runs only).
    outside: Vec<String>,
    /// What the report should say about how the run was seen (recorded runs only).
    notes: Vec<String>,
}

/// What a report says of processes the writer left running: they were ended with it. The one
/// wording every command uses (kill, power and errors from the golden run, race from its
/// racers).
pub fn left_running_note(left: &[String]) -> Option<String> {
    let first = left.first()?;
    let others = match left.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "the writer exited but left {} running ({first}{others}); torture ended {} when the \
         writer exited. A writer's exit is its acknowledgement: wait for every process it starts",
        torture_core::words::count_of(left.len() as u64, "process", "processes"),
        if left.len() == 1 { "it" } else { "them" },
    ))
}

/// Drives a run that cannot hold (no hold fault) to its end.
fn drive_to_end(mut live: Live) -> Result<Ended, TraceError> {
    loop {
        let driven = live
            .spawned
            .session
            .drive(&mut live.runner, &mut live.pending);
        let stderr = read_all(&live.spawned.stderr).unwrap_or_default();
        match with_stderr(driven, &stderr)? {
            // A hold is released at once: nobody else is waiting to run.
            Drive::Held(_) => continue,
            Drive::Done(outcome) => return conclude(live, outcome, stderr),
        }
    }
}

fn conclude(live: Live, outcome: Outcome, stderr: Vec<u8>) -> Result<Ended, TraceError> {
    let stdout =
        read_all(&live.spawned.stdout).map_err(|source| inspect("the writer's stdout", source))?;
    let exit = live.spawned.session.main_end();
    let mut notes = Vec::new();
    let left_running = live.spawned.session.left_running().to_vec();
    let (trace, space, unmodelled, outside) = match live.runner.recorder {
        Some(mut recorder) => {
            notes.extend(recorder.mapping_note());
            let unmodelled = recorder.unmodelled.clone();
            let outside = recorder.outside.clone();
            let (trace, space) = recorder.finish(&stdout, exit);
            (Some(trace), space, unmodelled, outside)
        }
        None => (None, Default::default(), Vec::new(), Vec::new()),
    };
    Ok(Ended {
        run: Run {
            outcome,
            ack: WriterAck { stdout, exit },
            stderr,
            trace,
            left_running,
        },
        space,
        unmodelled,
        outside,
        notes,
    })
}

/// Spawns the writer with the stops the fault (and recording) need.
fn launch(
    cmd: &WriterCommand,
    sandbox: &Path,
    target: Option<&Path>,
    fault: Option<Fault>,
    limits: &RunLimits,
) -> Result<Live, TraceError> {
    let injector = fault.map(Injector::new).transpose()?;
    let stops = match (&injector, target) {
        (Some(injector), None) => injector.stops(),
        (Some(_) | None, Some(_)) | (None, None) => Stops::All,
    };
    // What was at the target is read before the writer can touch it.
    let before = target.map(|t| header(cmd, sandbox, t)).transpose()?;
    let spawned = spawn(cmd, sandbox, stops, limits)?;
    let recorder = match before {
        Some(trace) => Some(
            Recorder::new(trace, Some(&spawned.stdout))
                .map_err(|source| inspect("the writer's stdout capture", source))?,
        ),
        None => None,
    };
    Ok(Live {
        spawned,
        runner: Runner {
            injector,
            recorder,
            unmodelled: None,
            stepper: None,
        },
        pending: HashMap::new(),
    })
}

/// An empty trace whose header knows the target, what is there now, and the file system.
fn header(cmd: &WriterCommand, sandbox: &Path, target: &Path) -> Result<Trace, TraceError> {
    let resolver = Resolver::new(sandbox).map_err(|source| TraceError::Sandbox {
        path: sandbox.to_path_buf(),
        source,
    })?;
    let command = std::iter::once(cmd.program.as_os_str())
        .chain(cmd.args.iter().map(|a| a.as_os_str()))
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut trace = Trace::new(resolver.sandbox().to_string_lossy().into_owned(), command);
    let abs = normalise(&resolver.sandbox().join(target));
    trace.header.target = resolver.relative(&abs);
    trace.header.initial = initial_state(&abs);
    trace.header.fs = fs_info(resolver.sandbox());
    Ok(trace)
}

/// Absent, or the bytes of a regular file; `None` (unknown) for anything else.
fn initial_state(target: &Path) -> Option<InitialState> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(InitialState::Absent),
        Ok(meta) if meta.is_file() => std::fs::read(target)
            .ok()
            .map(|data| InitialState::Old { data }),
        Err(_) | Ok(_) => None,
    }
}

/// The mount holding `dir`, from `/proc/self/mountinfo`.
fn fs_info(dir: &Path) -> Option<FsInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts = torture_core::mountinfo::parse(&text).ok()?;
    let mount = torture_core::mountinfo::mount_of(&mounts, dir)?;
    Some(FsInfo {
        fs_type: mount.fstype.clone(),
        mount_options: mount.all_options().join(","),
    })
}

/// Adds the end of the writer's stderr to an unexpected end: usually it says what went wrong.
fn with_stderr<T>(driven: Result<T, TraceError>, stderr: &[u8]) -> Result<T, TraceError> {
    const TAIL_BYTES: usize = 400;
    match driven {
        Err(TraceError::UnexpectedEnd { pid, how }) if !stderr.is_empty() => {
            let tail = &stderr[stderr.len().saturating_sub(TAIL_BYTES)..];
            let text = String::from_utf8_lossy(tail);
            Err(TraceError::UnexpectedEnd {
                pid,
                how: format!("{how}; its stderr ends: {}", text.trim()),
            })
        }
        other => other,
    }
}

fn inspect(what: &str, source: std::io::Error) -> TraceError {
    TraceError::Inspect {
        pid: 0,
        what: what.to_owned(),
        source,
    }
}
