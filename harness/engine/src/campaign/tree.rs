//! Whole-tree checks: `--check CMD` (and `--recover CMD` before it) run on a whole crash tree,
//! with the writer's standard output up to the crash in a file, and the checker's exit status
//! is the verdict (its first line of output the reason). `--setup CMD` prepares the starting
//! tree the same way.
//!
//! Distinct trees are checked once: a tree is keyed by its content hash and its epoch (how many
//! acknowledgements, stdout lines or the exit, came at or before the crash), and a hash hit is
//! compared in full before its verdict is reused. Checks run in parallel over `--jobs` workers,
//! each in its own directory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use super::error::CampaignError;
use super::process::{self, Ended, Invocation, Output};
use super::replay::shell_quote;
use regex::Regex;
use torture_core::oracle::RunExit;
use torture_core::power::{self, Checked, FsTree, Model, TreeJudge};
use torture_core::trace::{AckKind, TraceHeader};

/// What the checker said about one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeVerdict {
    /// It exited 0.
    Holds,
    /// It (or `--recover`) exited non-zero: the first line it printed, else its exit status.
    Fails(String),
}

/// The writer's acknowledgements, placed in the event stream: what `{stdout}` and
/// `$TORTURE_ACKS` hold for a crash after a given number of events.
#[derive(Debug, Clone, Default)]
pub struct AckLines {
    /// Every complete stdout line: events before it, its text, whether `--ack-line` matches it.
    lines: Vec<(usize, String, bool)>,
    /// Events before the writer's exit with status 0, if it exited 0.
    exit: Option<usize>,
    /// Whether `--ack-line` was given (else the exit is the acknowledgement).
    by_line: bool,
}

impl AckLines {
    /// The acknowledgements of a trace header; `ack_line` marks the lines that count.
    pub fn new(header: &TraceHeader, ack_line: Option<&Regex>) -> AckLines {
        let mut acks = AckLines {
            by_line: ack_line.is_some(),
            ..AckLines::default()
        };
        for ack in &header.acks {
            let before = usize::try_from(ack.events_before).unwrap_or(usize::MAX);
            match &ack.kind {
                AckKind::Line { text } => {
                    let counts = ack_line.is_some_and(|regex| regex.is_match(text));
                    acks.lines.push((before, text.clone(), counts));
                }
                AckKind::Exit => acks.exit = Some(before),
            }
        }
        acks
    }

    /// The acknowledgements of a process crash (`kill`, `errors`): every complete line the
    /// writer printed before it was killed (or before the faulted run ended), and its exit 0 if
    /// it got there, all placed before event 0 (a crash after `events` 0 sees them all).
    pub fn printed(stdout: &[u8], exited_ok: bool, ack_line: Option<&Regex>) -> AckLines {
        let text = String::from_utf8_lossy(stdout);
        // A last line without its newline was cut off by the kill: not printed yet.
        let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
        let lines = match text.contains('\n') {
            false => Vec::new(),
            true => complete
                .split('\n')
                .map(|line| {
                    let counts = ack_line.is_some_and(|regex| regex.is_match(line));
                    (0, line.to_owned(), counts)
                })
                .collect(),
        };
        AckLines {
            lines,
            exit: exited_ok.then_some(0),
            by_line: ack_line.is_some(),
        }
    }

    /// Whether any `--ack-line` match is among the lines printed at or before `events`.
    pub fn acknowledged_by_line(&self, events: usize) -> bool {
        self.by_line && self.count(events) > 0
    }

    /// The `events_before` of every acknowledgement, ascending: the explorer's epochs.
    pub fn events(&self) -> Vec<usize> {
        let mut events: Vec<usize> = self.lines.iter().map(|(e, _, _)| *e).collect();
        events.extend(self.exit);
        events.sort_unstable();
        events
    }

    /// The complete lines printed at or before a crash after `events` events.
    pub fn stdout(&self, events: usize) -> String {
        self.lines
            .iter()
            .filter(|(before, _, _)| *before <= events)
            .map(|(_, text, _)| format!("{text}\n"))
            .collect()
    }

    /// `$TORTURE_ACKS`: the `--ack-line` matches among those lines; without `--ack-line`, 1 when
    /// the writer had exited 0 by then.
    pub fn count(&self, events: usize) -> usize {
        match self.by_line {
            true => self
                .lines
                .iter()
                .filter(|(before, _, counts)| *counts && *before <= events)
                .count(),
            false => usize::from(self.exit.is_some_and(|before| before <= events)),
        }
    }
}

/// One tree to check: the tree, how many events came before the crash, and the model whose
/// exploration met it first.
#[derive(Debug, Clone)]
pub struct TreeCase {
    /// The crash tree.
    pub tree: FsTree,
    /// Events issued before the crash (what `{stdout}` holds follows from it).
    pub events: usize,
    /// `$TORTURE_MODEL`: the persistence model whose exploration met the tree first (`power`
    /// only). A tree is checked once, so a tally of a checker's rejections can tell the chosen
    /// models' trees from those only the holds line's extra models reached.
    pub model: Option<Model>,
}

/// The commands and places of whole-tree checks for one subject.
#[derive(Debug)]
pub struct TreeChecker<'a> {
    /// `--check CMD`.
    pub check: &'a str,
    /// `--recover CMD`, run first.
    pub recover: Option<&'a str>,
    /// The target, relative to the tree.
    pub target: &'a Path,
    /// The acknowledgements.
    pub acks: AckLines,
    /// Where the workers' directories go (made and removed here). A checker's output is
    /// captured in its worker's directory, which no other run uses at the same time: a shared
    /// log file, truncated by another worker's checker, once lost a reason.
    pub work: PathBuf,
    /// Per-command timeout.
    pub timeout: Duration,
    /// Worker threads.
    pub jobs: usize,
    /// Ctrl-C.
    pub cancel: &'a AtomicBool,
}

/// The one verdict cache of a subject's whole-tree checks: each distinct (tree, epoch) pair,
/// content-addressed (a hash hit is compared in full), numbered in the order met (its ticket),
/// with its verdict once checked.
#[derive(Debug, Default)]
pub struct TreeCache {
    /// (content hash, epoch) → the tickets with that key.
    index: HashMap<(u128, usize), Vec<usize>>,
    /// By ticket: the first case met of the pair, and its verdict once checked.
    entries: Vec<(TreeCase, Option<TreeVerdict>)>,
    /// Checker runs (one per distinct tree checked).
    pub checked: u64,
    /// Wall time spent checking.
    pub elapsed: Duration,
}

impl TreeCache {
    /// The verdict of `tree` in `epoch`, if checked.
    pub fn get(&self, tree: &FsTree, epoch: usize) -> Option<&TreeVerdict> {
        let ticket = self.find(tree, epoch)?;
        self.entries[ticket].1.as_ref()
    }

    fn find(&self, tree: &FsTree, epoch: usize) -> Option<usize> {
        let same_hash = self.index.get(&(tree.content_hash(), epoch))?;
        same_hash
            .iter()
            .copied()
            .find(|&ticket| self.entries[ticket].0.tree.same_content(tree))
    }

    /// The ticket of `case`'s tree in `epoch`, a new one when it was not met yet.
    fn ticket(&mut self, case: TreeCase, epoch: usize) -> usize {
        if let Some(ticket) = self.find(&case.tree, epoch) {
            return ticket;
        }
        let ticket = self.entries.len();
        let key = (case.tree.content_hash(), epoch);
        self.index.entry(key).or_default().push(ticket);
        self.entries.push((case, None));
        ticket
    }

    fn record(&mut self, ticket: usize, verdict: TreeVerdict) {
        self.checked += 1;
        self.entries[ticket].1 = Some(verdict);
    }
}

impl TreeChecker<'_> {
    /// The epoch of a crash after `events` events (see [`AckLines::events`]).
    pub fn epoch(&self, ack_events: &[usize], events: usize) -> usize {
        ack_events.partition_point(|&e| e <= events)
    }

    /// Checks every case not in `cache` yet, in parallel, until `deadline`. `Ok(false)`: Ctrl-C.
    pub fn check_all(
        &self,
        cases: Vec<TreeCase>,
        cache: &mut TreeCache,
        deadline: Option<Instant>,
    ) -> Result<bool, CampaignError> {
        let ack_events = self.acks.events();
        let mut todo: Vec<usize> = Vec::new();
        for case in cases {
            let epoch = self.epoch(&ack_events, case.events);
            let ticket = cache.ticket(case, epoch);
            if cache.entries[ticket].1.is_none() && !todo.contains(&ticket) {
                todo.push(ticket);
            }
        }
        let cases: Vec<TreeCase> = todo.iter().map(|&t| cache.entries[t].0.clone()).collect();
        let started = Instant::now();
        let results = self.run_workers(&cases, deadline)?;
        cache.elapsed += started.elapsed();
        let Some(results) = results else {
            return Ok(false);
        };
        for (ticket, verdict) in todo.into_iter().zip(results) {
            if let Some(verdict) = verdict {
                cache.record(ticket, verdict);
            }
        }
        Ok(true)
    }

    /// The verdict of one case: from `cache`, else checked now. `Ok(None)`: Ctrl-C.
    pub fn verdict(
        &self,
        case: &TreeCase,
        cache: &mut TreeCache,
    ) -> Result<Option<TreeVerdict>, CampaignError> {
        let epoch = self.epoch(&self.acks.events(), case.events);
        if let Some(verdict) = cache.get(&case.tree, epoch) {
            return Ok(Some(verdict.clone()));
        }
        if !self.check_all(vec![case.clone()], cache, None)? {
            return Ok(None);
        }
        Ok(cache.get(&case.tree, epoch).cloned())
    }

    /// Runs `walk` with a [`CheckPool`] over `cache`: `jobs` workers check the trees it hands
    /// over while it goes on; past `deadline` they take no new tree. Any harness error a check
    /// met is returned once `walk` is done.
    pub fn with_pool<R>(
        &self,
        (cache, model): (&mut TreeCache, Option<Model>),
        deadline: Option<Instant>,
        walk: impl FnOnce(&mut CheckPool<'_, '_>) -> R,
    ) -> Result<R, CampaignError> {
        let (to_workers, jobs) = mpsc::channel::<(usize, TreeCase)>();
        let (results, from_workers) = mpsc::channel::<(usize, Checking)>();
        let jobs = Mutex::new(jobs);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for slot in 0..self.jobs.max(1) {
                let (jobs, stop, results) = (&jobs, &stop, results.clone());
                scope.spawn(move || self.work(slot, jobs, results, (deadline, stop)));
            }
            drop(results);
            let mut pool = CheckPool {
                checker: self,
                ack_events: self.acks.events(),
                cache,
                model,
                to_workers: Some(to_workers),
                from_workers,
                pending: HashSet::new(),
                skipped: HashSet::new(),
                late: HashSet::new(),
                failure: None,
                started: Instant::now(),
                last_verdict: None,
            };
            let walked = walk(&mut pool);
            // Trees still queued (a walk stopped early) are not checked.
            stop.store(true, Ordering::Relaxed);
            pool.finish().map_or(Ok(walked), Err)
        })
    }

    /// One pool worker: checks the trees it takes in `slot`'s directory until the queue closes;
    /// past the deadline (or once stopped) it answers without checking.
    fn work(
        &self,
        slot: usize,
        jobs: &Mutex<mpsc::Receiver<(usize, TreeCase)>>,
        results: mpsc::Sender<(usize, Checking)>,
        (deadline, stop): (Option<Instant>, &AtomicBool),
    ) {
        loop {
            let job = lock(jobs).recv();
            let Ok((ticket, case)) = job else {
                return;
            };
            let late = deadline.is_some_and(|d| Instant::now() >= d);
            let checking = match late || stop.load(Ordering::Relaxed) {
                true => Checking::Skipped,
                false => match self.check_one(&case, slot) {
                    Ok(Some(verdict)) => Checking::Done(verdict),
                    Ok(None) => Checking::Cancelled,
                    Err(e) => Checking::Failed(e),
                },
            };
            if results.send((ticket, checking)).is_err() {
                return;
            }
        }
    }

    /// Runs the cases over `jobs` workers; a case left when the deadline passed gets `None`.
    /// `Ok(None)`: Ctrl-C.
    fn run_workers(
        &self,
        cases: &[TreeCase],
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Option<TreeVerdict>>>, CampaignError> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<TreeVerdict>>> = Mutex::new(vec![None; cases.len()]);
        let failed: Mutex<Option<CampaignError>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let workers = self.jobs.clamp(1, cases.len().max(1));
        std::thread::scope(|scope| {
            for slot in 0..workers {
                let (next, results, failed, stop) = (&next, &results, &failed, &stop);
                scope.spawn(move || {
                    let work = || -> Result<(), CampaignError> {
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let late = deadline.is_some_and(|d| Instant::now() >= d);
                            if index >= cases.len() || late || stop.load(Ordering::Relaxed) {
                                return Ok(());
                            }
                            match self.check_one(&cases[index], slot)? {
                                Some(verdict) => lock(results)[index] = Some(verdict),
                                None => return Ok(()),
                            }
                        }
                    };
                    if let Err(e) = work() {
                        stop.store(true, Ordering::Relaxed);
                        lock(failed).get_or_insert(e);
                    }
                });
            }
        });
        if let Some(e) = lock(&failed).take() {
            return Err(e);
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut *lock(&results))))
    }

    /// Materialises one case in worker `slot`'s directory and runs `--recover` then `--check`
    /// there. `Ok(None)`: Ctrl-C.
    fn check_one(
        &self,
        case: &TreeCase,
        slot: usize,
    ) -> Result<Option<TreeVerdict>, CampaignError> {
        let home = self.work.join(format!("check-{slot}"));
        let dir = home.join("tree");
        let stdout = home.join("stdout");
        let io = |what: &'static str| {
            let dir = dir.clone();
            move |source| CampaignError::Io {
                what: format!("{what} {}", dir.display()),
                source,
            }
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("empty the check directory"))?;
        }
        std::fs::create_dir_all(&dir).map_err(io("create the check directory"))?;
        power::materialize(&case.tree, &dir).map_err(io("write a crash tree to"))?;
        std::fs::write(&stdout, self.acks.stdout(case.events))
            .map_err(io("write {stdout} beside"))?;
        let place = Place {
            dir: &dir,
            target: &dir.join(self.target),
            stdout: &stdout,
            acks: self.acks.count(case.events),
            model: case.model.map(Model::name),
        };
        if let Some(recover) = self.recover {
            match self.run(recover, "--recover", &place, &home)? {
                Some(TreeVerdict::Holds) => {}
                Some(TreeVerdict::Fails(reason)) => {
                    return Ok(Some(TreeVerdict::Fails(format!("--recover: {reason}"))));
                }
                None => return Ok(None),
            }
        }
        self.run(self.check, "--check", &place, &home)
    }

    /// Runs `option`'s `command` at `place`, its output captured in `home` (`check.stdout`,
    /// `recover.stderr`, ...).
    fn run(
        &self,
        command: &str,
        option: &str,
        place: &Place<'_>,
        home: &Path,
    ) -> Result<Option<TreeVerdict>, CampaignError> {
        let log = (home, option.trim_start_matches('-'));
        run_command((option, command), place, log, self.timeout, self.cancel)
    }
}

/// What a pool worker made of one tree.
#[derive(Debug)]
enum Checking {
    Done(TreeVerdict),
    /// Taken past the deadline (or after the walk ended): not checked.
    Skipped,
    /// Ctrl-C.
    Cancelled,
    Failed(CampaignError),
}

/// The [`TreeJudge`] of one walk (see [`TreeChecker::with_pool`]): tickets from the subject's
/// [`TreeCache`], new trees queued to the workers, verdicts waited for in the order asked.
#[derive(Debug)]
pub struct CheckPool<'p, 'a> {
    checker: &'p TreeChecker<'a>,
    ack_events: Vec<usize>,
    cache: &'p mut TreeCache,
    /// The model whose walk this is: the [`TreeCase::model`] of the trees it meets first.
    model: Option<Model>,
    /// The workers' queue (closed by [`CheckPool::finish`]).
    to_workers: Option<mpsc::Sender<(usize, TreeCase)>>,
    from_workers: mpsc::Receiver<(usize, Checking)>,
    /// Tickets queued and not answered yet.
    pending: HashSet<usize>,
    /// Tickets the workers took past the deadline: checked here, late, if asked.
    skipped: HashSet<usize>,
    /// Tickets checked late.
    late: HashSet<usize>,
    failure: Option<CampaignError>,
    started: Instant,
    last_verdict: Option<Instant>,
}

impl CheckPool<'_, '_> {
    /// Closes the queue and counts the pool's time (to its last verdict) as checking time;
    /// the first harness error a check met, if any.
    fn finish(mut self) -> Option<CampaignError> {
        self.to_workers = None;
        if let Some(last) = self.last_verdict {
            self.cache.elapsed += last.duration_since(self.started);
        }
        self.failure.take()
    }

    fn queue(&mut self, ticket: usize) {
        let case = self.cache.entries[ticket].0.clone();
        let sent = self
            .to_workers
            .as_ref()
            .is_some_and(|queue| queue.send((ticket, case)).is_ok());
        match sent {
            true => {
                self.pending.insert(ticket);
            }
            false => self.fail("the check workers ended early".to_owned()),
        }
    }

    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(CampaignError::Usage(why));
    }

    /// Takes one answer from the workers. `None`: stop.
    fn receive(&mut self) -> Option<()> {
        let Ok((ticket, checking)) = self.from_workers.recv() else {
            self.fail("the check workers ended early".to_owned());
            return None;
        };
        self.pending.remove(&ticket);
        match checking {
            Checking::Done(verdict) => {
                self.cache.record(ticket, verdict);
                self.last_verdict = Some(Instant::now());
            }
            Checking::Skipped => {
                self.skipped.insert(ticket);
            }
            Checking::Cancelled => return None,
            Checking::Failed(e) => {
                self.failure.get_or_insert(e);
                return None;
            }
        }
        Some(())
    }

    /// Checks a skipped ticket here, after the deadline. `None`: stop.
    fn check_late(&mut self, ticket: usize) -> Option<()> {
        let case = self.cache.entries[ticket].0.clone();
        // A slot of its own: the workers may still be finishing checks in theirs.
        let slot = self.checker.jobs.max(1);
        match self.checker.check_one(&case, slot) {
            Ok(Some(verdict)) => {
                self.cache.record(ticket, verdict);
                self.late.insert(ticket);
                self.last_verdict = Some(Instant::now());
                Some(())
            }
            Ok(None) => None,
            Err(e) => {
                self.failure.get_or_insert(e);
                None
            }
        }
    }
}

impl TreeJudge for CheckPool<'_, '_> {
    fn ticket(&mut self, tree: &FsTree, epoch: usize) -> Option<usize> {
        if self.failure.is_some() || self.checker.cancel.load(Ordering::Relaxed) {
            return None;
        }
        // Every crash point in one epoch has the same stdout and acknowledgements.
        let events = epoch.checked_sub(1).map_or(0, |i| self.ack_events[i]);
        let case = TreeCase {
            tree: tree.clone(),
            events,
            model: self.model,
        };
        let ticket = self.cache.ticket(case, epoch);
        let unknown = self.cache.entries[ticket].1.is_none();
        if unknown && !self.pending.contains(&ticket) && !self.skipped.contains(&ticket) {
            self.queue(ticket);
        }
        Some(ticket)
    }

    fn verdict(&mut self, ticket: usize) -> Option<Checked> {
        loop {
            if let Some(verdict) = &self.cache.entries[ticket].1 {
                return Some(Checked {
                    holds: *verdict == TreeVerdict::Holds,
                    late: self.late.contains(&ticket),
                });
            }
            if self.failure.is_some() {
                return None;
            }
            if self.skipped.remove(&ticket) {
                self.check_late(ticket)?;
            } else if !self.pending.contains(&ticket) {
                // Met in an earlier walk and never checked there.
                self.queue(ticket);
            } else {
                self.receive()?;
            }
        }
    }
}

/// Runs `option`'s `command` (`--check`, `--recover`, `--setup`) in `place`: its verdict, its
/// first line of output the reason when it fails. A command killed by the timeout is a harness
/// error. `Ok(None)`: Ctrl-C.
pub fn run_command(
    (option, command): (&str, &str),
    place: &Place<'_>,
    log: (&Path, &str),
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<Option<TreeVerdict>, CampaignError> {
    let invocation = place.invocation(command);
    let ended = process::run(
        &invocation,
        place.dir,
        Output::Capture,
        log,
        timeout,
        cancel,
    )
    .map_err(|source| CampaignError::Io {
        what: format!("run {option} {command:?}"),
        source,
    })?;
    match ended {
        Ended::Cancelled => Ok(None),
        Ended::Exit {
            exit: RunExit::TimedOut,
            ..
        } => Err(CampaignError::Usage(format!(
            "{option} {command:?} did not finish within --timeout-ms {} in {}: a hung command is a \
             harness error, not a verdict\n  Fix: make the command finish, or raise --timeout-ms",
            timeout.as_millis(),
            place.dir.display()
        ))),
        Ended::Exit {
            exit: RunExit::Code(0),
            ..
        } => Ok(Some(TreeVerdict::Holds)),
        Ended::Exit {
            exit,
            stdout,
            stderr,
        } => Ok(Some(TreeVerdict::Fails(first_line(&stdout, &stderr, exit)))),
    }
}

/// Runs `--setup` once, untraced, in `start` (a fresh directory; `{dir}` and `$TORTURE_DIR`
/// name it) and reads the tree it left: the durable starting state. A setup that fails is a
/// usage error naming its exit and first line of output. `Ok(None)`: Ctrl-C.
pub fn set_up(
    setup: &str,
    start: &Path,
    log: (&Path, &str),
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<Option<FsTree>, CampaignError> {
    let script = setup.replace("{dir}", &shell_quote(&start.to_string_lossy()));
    let invocation = Invocation {
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), script.into()],
        env: vec![("TORTURE_DIR".into(), start.as_os_str().to_owned())],
    };
    let ended = process::run(&invocation, start, Output::Capture, log, timeout, cancel).map_err(
        |source| CampaignError::Io {
            what: format!("run --setup {setup:?}"),
            source,
        },
    )?;
    match ended {
        Ended::Cancelled => return Ok(None),
        Ended::Exit {
            exit: RunExit::Code(0),
            ..
        } => {}
        Ended::Exit {
            exit,
            stdout,
            stderr,
        } => {
            return Err(CampaignError::Usage(format!(
                "--setup {setup:?} failed ({exit}): {}\n  Fix: run it by hand in an empty directory; it must exit 0",
                first_line(&stdout, &stderr, exit)
            )));
        }
    }
    let tree = power::read_tree(start).map_err(|source| CampaignError::Io {
        what: format!("read the tree --setup left in {}", start.display()),
        source,
    })?;
    Ok(Some(tree))
}

/// Where a command runs and what its placeholders stand for.
#[derive(Debug)]
pub struct Place<'a> {
    /// The tree (`{dir}`, the working directory).
    pub dir: &'a Path,
    /// The target inside it (`{file}`, `{target}`).
    pub target: &'a Path,
    /// The file holding the writer's stdout up to the crash (`{stdout}`).
    pub stdout: &'a Path,
    /// `$TORTURE_ACKS`.
    pub acks: usize,
    /// `$TORTURE_MODEL`, set when there is one (a simulated power cut's model).
    pub model: Option<&'a str>,
}

impl Place<'_> {
    /// A shell running `command` with the placeholders replaced (the target's path appended
    /// when it names none) and the `TORTURE_*` variables set.
    pub fn invocation(&self, command: &str) -> Invocation {
        let quote = |path: &Path| shell_quote(&path.to_string_lossy());
        let names_one = ["{file}", "{target}", "{dir}", "{stdout}"]
            .iter()
            .any(|p| command.contains(p));
        let script = command
            .replace("{file}", &quote(self.target))
            .replace("{target}", &quote(self.target))
            .replace("{dir}", &quote(self.dir))
            .replace("{stdout}", &quote(self.stdout));
        let script = match names_one {
            true => script,
            false => format!("{script} {}", quote(self.target)),
        };
        let env = [
            ("TORTURE_DIR", Some(self.dir.as_os_str().to_owned())),
            ("TORTURE_TARGET", Some(self.target.as_os_str().to_owned())),
            ("TORTURE_STDOUT", Some(self.stdout.as_os_str().to_owned())),
            ("TORTURE_ACKS", Some(self.acks.to_string().into())),
            ("TORTURE_MODEL", self.model.map(Into::into)),
        ];
        Invocation {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: env
                .into_iter()
                .filter_map(|(k, v)| Some((k.into(), v?)))
                .collect(),
        }
    }
}

/// The reason a command gives: its first non-empty line of stdout, else of stderr, else its exit.
pub fn first_line(stdout: &[u8], stderr: &[u8], exit: RunExit) -> String {
    let line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.chars().take(300).collect::<String>())
    };
    line(stdout)
        .or_else(|| line(stderr))
        .unwrap_or_else(|| match exit {
            RunExit::Code(code) => format!("exit status {code}, no output"),
            RunExit::Signal(signal) => format!("killed by signal {signal}, no output"),
            RunExit::TimedOut => "timed out, no output".to_owned(),
        })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use torture_core::trace::{Ack, Trace};

    fn header() -> TraceHeader {
        let mut trace = Trace::new("/s".into(), vec![]);
        let line = |events_before, text: &str| Ack {
            events_before,
            kind: AckKind::Line { text: text.into() },
        };
        trace.header.acks = vec![
            line(2, "ack 1"),
            line(5, "note"),
            line(7, "ack 2"),
            Ack {
                events_before: 9,
                kind: AckKind::Exit,
            },
        ];
        trace.header
    }

    #[test]
    fn stdout_holds_the_lines_at_or_before_the_crash_and_acks_count_the_matches() {
        let regex = Regex::new("^ack ").expect("regex");
        let acks = AckLines::new(&header(), Some(&regex));
        assert_eq!(acks.stdout(1), "");
        assert_eq!(acks.stdout(2), "ack 1\n");
        assert_eq!(acks.stdout(7), "ack 1\nnote\nack 2\n");
        assert_eq!((acks.count(6), acks.count(7)), (1, 2));
        assert_eq!(acks.events(), [2, 5, 7, 9]);
        let by_exit = AckLines::new(&header(), None);
        assert_eq!((by_exit.count(8), by_exit.count(9)), (0, 1));
    }

    #[test]
    fn a_process_crash_sees_every_complete_line_it_printed() {
        let regex = Regex::new("^ack ").expect("regex");
        let acks = AckLines::printed(b"ack 1\nnote\nack 2\nack 3 cut", false, Some(&regex));
        assert_eq!(acks.stdout(0), "ack 1\nnote\nack 2\n");
        assert_eq!(acks.count(0), 2);
        assert!(acks.acknowledged_by_line(0));
        let none = AckLines::printed(b"half a line", true, None);
        assert_eq!((none.stdout(0).as_str(), none.count(0)), ("", 1));
        assert!(!none.acknowledged_by_line(0));
    }

    #[test]
    fn the_reason_is_the_first_non_empty_line() {
        assert_eq!(
            first_line(b"\n  lost row 3\nmore", b"x", RunExit::Code(1)),
            "lost row 3"
        );
        assert_eq!(first_line(b"", b"err\n", RunExit::Code(1)), "err");
        assert_eq!(
            first_line(b"", b"", RunExit::Code(3)),
            "exit status 3, no output"
        );
    }

    #[test]
    fn placeholders_are_replaced_and_the_target_appended_when_none_is_named() {
        let place = Place {
            dir: Path::new("/w/t"),
            target: Path::new("/w/t/db"),
            stdout: Path::new("/w/out"),
            acks: 2,
            model: Some("xfs"),
        };
        let script = |command: &str| place.invocation(command).args[1].clone();
        assert_eq!(script("check"), "check /w/t/db");
        assert_eq!(script("c {dir} {stdout} {target}"), "c /w/t /w/out /w/t/db");
        let env = place.invocation("true").env;
        assert!(
            env.contains(&("TORTURE_ACKS".into(), "2".into())),
            "{env:?}"
        );
        assert!(
            env.contains(&("TORTURE_MODEL".into(), "xfs".into())),
            "{env:?}"
        );
        let unmodelled = Place {
            model: None,
            ..place
        };
        let env = unmodelled.invocation("true").env;
        assert!(env.iter().all(|(k, _)| k != "TORTURE_MODEL"), "{env:?}");
    }

    fn checker<'a>(work: &Path, jobs: usize, cancel: &'a AtomicBool) -> TreeChecker<'a> {
        TreeChecker {
            check: "test -e {dir}/good",
            recover: None,
            target: Path::new("t"),
            acks: AckLines::default(),
            work: work.join("checks"),
            timeout: Duration::from_secs(20),
            jobs,
            cancel,
        }
    }

    fn tree_with(names: &[&str]) -> FsTree {
        let mut tree = FsTree::new();
        for (ino, name) in names.iter().enumerate() {
            tree.insert(name, torture_core::power::Node::File(ino as u64 + 1));
            tree.inode_mut(ino as u64 + 1).write_at(0, name.as_bytes());
        }
        tree
    }

    /// Two kill workers' checkers running at once each keep their own reason: their output is
    /// captured in their own directories, never in one file the other truncates.
    #[test]
    fn checkers_of_two_workers_at_once_each_keep_their_reason() {
        let work = std::env::temp_dir().join(format!("tree-reasons-{}", std::process::id()));
        let cancel = AtomicBool::new(false);
        // The first prints at once and ends late; the second starts while it runs.
        let scripts = [
            "echo first; sleep 0.6; exit 1",
            "sleep 0.2; echo second; exit 1",
        ];
        let reasons: Vec<Option<TreeVerdict>> = std::thread::scope(|scope| {
            let runs: Vec<_> = scripts
                .iter()
                .enumerate()
                .map(|(worker, script)| {
                    let (work, cancel) = (&work, &cancel);
                    scope.spawn(move || {
                        std::thread::sleep(Duration::from_millis(100 * worker as u64));
                        let checker = TreeChecker {
                            check: script,
                            work: work.join(format!("checks-w{worker}")),
                            ..checker(work, 1, cancel)
                        };
                        let case = TreeCase {
                            tree: tree_with(&[&format!("w{worker}")]),
                            events: 0,
                            model: None,
                        };
                        checker.check_one(&case, 0).expect("no harness error")
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().expect("join")).collect()
        });
        let _ = std::fs::remove_dir_all(&work);
        assert_eq!(
            reasons,
            [
                Some(TreeVerdict::Fails("first".into())),
                Some(TreeVerdict::Fails("second".into()))
            ]
        );
    }

    /// Equal trees share a ticket and one check; the pool's verdicts land in the one cache.
    #[test]
    fn a_pool_checks_each_distinct_tree_once_and_fills_the_cache() {
        let work = std::env::temp_dir().join(format!("tree-pool-{}", std::process::id()));
        std::fs::create_dir_all(work.join("logs")).expect("logs dir");
        let cancel = AtomicBool::new(false);
        let checker = checker(&work, 2, &cancel);
        let mut cache = TreeCache::default();
        let (good, bad) = (tree_with(&["good"]), tree_with(&["bad"]));
        let verdicts = checker
            .with_pool((&mut cache, None), None, |pool| {
                let tickets =
                    [&good, &bad, &good.clone()].map(|t| pool.ticket(t, 0).expect("ticket"));
                tickets.map(|t| pool.verdict(t).expect("verdict"))
            })
            .expect("no harness error");
        let holds = verdicts.map(|v| (v.holds, v.late));
        assert_eq!(holds, [(true, false), (false, false), (true, false)]);
        assert_eq!(cache.checked, 2);
        assert_eq!(
            cache.get(&bad, 0),
            Some(&TreeVerdict::Fails("exit status 1, no output".into()))
        );
        assert_eq!(cache.get(&bad, 1), None, "another epoch is another pair");
        // Past the deadline no worker checks: the verdict is taken late, here.
        let past = Some(Instant::now());
        let late = checker
            .with_pool((&mut cache, None), past, |pool| {
                let ticket = pool
                    .ticket(&tree_with(&["good", "more"]), 0)
                    .expect("ticket");
                pool.verdict(ticket).expect("verdict")
            })
            .expect("no harness error");
        assert_eq!((late.holds, late.late), (true, true));
        assert_eq!(cache.checked, 3);
        std::fs::remove_dir_all(&work).expect("cleanup");
    }
}
