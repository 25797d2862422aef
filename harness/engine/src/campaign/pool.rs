//! Worker threads: trials spread over `--jobs` threads, and the spawn-and-reap baseline.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::error::CampaignError;
use super::golden::Golden;
use super::process::{self, Ended, Invocation, Output};
use super::subject::Prepared;
use super::trial::Worker;
use super::{Baseline, Observer, RunContext, Settings, TrialRecord};
use crate::sandbox::RunRoot;
use torture_core::killpoint::KillPoint;

/// How long the spawn baseline runs.
const BASELINE_BUDGET: Duration = Duration::from_millis(300);

/// Trials that ran, and whether Ctrl-C stopped them.
pub(crate) struct TrialsDone {
    pub records: Vec<TrialRecord>,
    pub cancelled: bool,
}

/// What every worker thread of one subject shares.
struct Shared<'a> {
    prepared: &'a Prepared,
    golden: &'a Golden,
    settings: &'a Settings,
    context: &'a RunContext,
    root: &'a RunRoot,
    /// Kill points, each with its trial number (its position in the unpartitioned list).
    points: &'a [(u64, KillPoint)],
    /// Index of the next kill point to try.
    next: AtomicUsize,
    /// Set on a harness error: the other workers finish their trial and stop.
    stop: AtomicBool,
}

type Message = Result<TrialRecord, CampaignError>;

/// Runs a trial per numbered point on `settings.jobs` threads, reporting each to `observer` (on
/// this thread) as it ends. On a harness error the trials that finished come back with the error.
pub(crate) fn run_trials(
    prepared: &Prepared,
    golden: &Golden,
    settings: &Settings,
    context: &RunContext,
    root: &RunRoot,
    points: &[(u64, KillPoint)],
    observer: &mut dyn Observer,
) -> Result<TrialsDone, (Vec<TrialRecord>, CampaignError)> {
    let jobs = settings.jobs.clamp(1, points.len().max(1));
    let shared = Shared {
        prepared,
        golden,
        settings,
        context,
        root,
        points,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    };
    let (sender, receiver) = mpsc::channel::<Message>();
    let mut records = Vec::with_capacity(points.len());
    let mut error = None;
    thread::scope(|scope| {
        for index in 0..jobs {
            let (sender, shared) = (sender.clone(), &shared);
            scope.spawn(move || work(shared, index, &sender));
        }
        drop(sender);
        for message in receiver {
            match message {
                Ok(record) => {
                    observer.trial_finished(&prepared.subject, &record);
                    records.push(record);
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
    });
    records.sort_by_key(|r| r.number);
    match error {
        Some(e) => Err((records, e)),
        None => Ok(TrialsDone {
            records,
            cancelled: context.cancel.load(Ordering::Relaxed),
        }),
    }
}

/// One worker thread: takes kill points until none are left, Ctrl-C, or a harness error.
fn work(shared: &Shared<'_>, index: usize, sender: &mpsc::Sender<Message>) {
    if let Err(e) = work_until_done(shared, index, sender) {
        shared.stop.store(true, Ordering::Relaxed);
        let _ = sender.send(Err(e));
    }
}

fn work_until_done(
    shared: &Shared<'_>,
    index: usize,
    sender: &mpsc::Sender<Message>,
) -> Result<(), CampaignError> {
    let slot = slot(shared.root, shared.prepared, shared.settings, index)?;
    let worker = Worker::new(
        shared.prepared,
        shared.golden,
        shared.settings,
        shared.context,
        slot,
    )?;
    while !shared.stop.load(Ordering::Relaxed) {
        let next = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(&(number, point)) = shared.points.get(next) else {
            break;
        };
        let Some(record) = worker.run(number, point)? else {
            break;
        };
        // The receiver lives until every worker is done.
        let _ = sender.send(Ok(record));
    }
    Ok(())
}

fn slot(
    root: &RunRoot,
    prepared: &Prepared,
    settings: &Settings,
    index: usize,
) -> Result<(crate::sandbox::Sandbox, std::path::PathBuf, String), CampaignError> {
    let name = &prepared.subject.label;
    let slot = format!("w{index}");
    let sandbox = root.sandbox(name, &slot, &settings.target)?;
    let logs = root.directory(name, "logs")?;
    Ok((sandbox, logs, slot))
}

/// `program args...` as a person reads it: the program's file name, then the arguments.
fn command_line(invocation: &Invocation) -> String {
    let name = invocation.program.file_name().unwrap_or_default();
    std::iter::once(name.to_string_lossy())
        .chain(invocation.args.iter().map(|arg| arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The yardstick for this subject's trial rate, measured right before its trials so both see
/// the same machine load. Built-ins: spawning and reaping `torture-writer --help`. A user command
/// is measured running uncrashed and untraced (its work cannot be separated from its start-up).
pub(crate) fn baseline_for(
    prepared: &Prepared,
    settings: &Settings,
    context: &RunContext,
    root: &RunRoot,
) -> Result<Option<Baseline>, CampaignError> {
    if prepared.is_builtin() {
        {
            let invocation = Invocation {
                program: prepared.program().to_owned(),
                args: [prepared.writer_prefix(), &["--help".into()]].concat(),
                env: Vec::new(),
            };
            let cwd = root.directory("baseline", "cwd")?;
            let what = format!("spawn and reap `{}`", command_line(&invocation));
            return measure(what, settings.jobs, context, |_| {
                process::run(
                    &invocation,
                    &cwd,
                    Output::Discard,
                    (&cwd, "baseline"),
                    BASELINE_BUDGET * 20,
                    &context.cancel,
                )
                .map(|_| ())
            });
        }
    }
    let sandboxes = (0..settings.jobs.max(1))
        .map(|index| {
            root.sandbox(
                &prepared.subject.label,
                &format!("baseline{index}"),
                &settings.target,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let logs = root.directory(&prepared.subject.label, "logs")?;
    let what = "run the command uncrashed, untraced".to_owned();
    let timeout = Duration::from_millis(settings.timeout_ms);
    measure(what, settings.jobs, context, |index| {
        let sandbox = &sandboxes[index];
        sandbox.reset(None).map_err(std::io::Error::other)?;
        let invocation = prepared.invocation((sandbox.path(), sandbox.target()), 2);
        match process::run(
            &invocation,
            sandbox.path(),
            Output::Discard,
            (&logs, "baseline"),
            timeout,
            &context.cancel,
        )? {
            Ended::Exit { .. } | Ended::Cancelled => Ok(()),
        }
    })
}

/// Runs `one_run(worker_index)` on `jobs` threads for [`BASELINE_BUDGET`]; `None` if cancelled.
fn measure(
    what: String,
    jobs: usize,
    context: &RunContext,
    one_run: impl Fn(usize) -> std::io::Result<()> + Sync,
) -> Result<Option<Baseline>, CampaignError> {
    let runs = AtomicU64::new(0);
    let started = Instant::now();
    let results: Vec<std::io::Result<()>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|index| {
                let (runs, one_run) = (&runs, &one_run);
                scope.spawn(move || {
                    while started.elapsed() < BASELINE_BUDGET
                        && !context.cancel.load(Ordering::Relaxed)
                    {
                        one_run(index)?;
                        runs.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("baseline thread panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(Err(source)) = results.into_iter().find(Result::is_err) {
        return Err(CampaignError::Io {
            what: format!("measure the baseline ({what})"),
            source,
        });
    }
    if context.cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let runs = runs.load(Ordering::Relaxed);
    Ok(Some(Baseline {
        what,
        runs,
        per_second: runs as f64 / elapsed.max(f64::EPSILON),
    }))
}
