//! Running writers on the scratch file system and copying its image at each crash point.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::check::{self, RunModel};
use super::{
    CrashPoints, ModelBug, ModelVerdict, OnState, RealCoverage, RealError, RealOptions, RealPoint,
    RealRun, RealState, RealSubject, Timing,
};
use crate::campaign::golden::writer_command;
use crate::campaign::replay::{shell_quote, shell_words};
use crate::campaign::subject::{Prepared, Subject, SubjectKind, prepare};
use crate::campaign::tree::{self, AckLines, Place, TreeVerdict};
use crate::loopfs::{CopyAccess, MountedImage, ScratchFs};
use crate::realfs::{self, CloneStore, ImageSnapshot, Tree};
use crate::tracer::{self, Progress, Run, RunLimits, WriterCommand};
use torture_core::fault::{CallRef, Fault};
use torture_core::power::{
    AckSelect, Assume, Explorer, PowerOptions, Reach, TargetClass, ack_point, exact_classifier,
};
use torture_core::rng::SplitMix64;
use torture_core::trace::Trace;

/// Everything one configuration's check shares.
struct Fixture<'a> {
    options: &'a RealOptions,
    /// Where copies are mounted in line (under `--check`).
    snap_mount: PathBuf,
    /// Where the reader threads ([`PendingRead`]) make one mount point per read.
    mounts_dir: PathBuf,
    /// Reads started so far (names their mount points).
    reads_started: usize,
    /// Where images and copies are made (the clone store).
    dir: PathBuf,
    copies: u64,
    /// Copies made as reflink clones.
    cloned: u64,
    timing: Timing,
    /// `--setup`'s tree of the current subject (on the scratch tmpfs, outside every image).
    start: Option<PathBuf>,
    /// That tree as a trace's initial tree: every run's model starts from it.
    start_tree: Option<Vec<torture_core::trace::InitialEntry>>,
}

/// A subject's old and new versions and golden trace.
struct Golden {
    old: Option<Vec<u8>>,
    new: Vec<u8>,
    trace: Trace,
}

/// One subject's own scratch file system: no other subject's fsync can commit its journal.
struct Disk {
    fs: ScratchFs,
    image: PathBuf,
}

impl Disk {
    fn create(options: &RealOptions, dir: &Path) -> Result<Disk, RealError> {
        fs::create_dir(dir).map_err(|e| RealError::io("create", dir, e))?;
        let mount_options = joined_options(options);
        let fs = ScratchFs::create_with(
            options.fs.kind(),
            dir,
            options.fs.image_mib(),
            mount_options.as_deref(),
        )?;
        let image = fs.image().map(Path::to_path_buf).unwrap_or_default();
        Ok(Disk { fs, image })
    }

    /// `sandbox` relative to the file system's root, as a copy mounted elsewhere shows it.
    fn relative<'p>(&self, sandbox: &'p Path) -> &'p Path {
        sandbox
            .strip_prefix(&self.fs.mount_point)
            .unwrap_or(sandbox)
    }

    fn teardown(self, dir: &Path) -> Result<(), RealError> {
        let problems = self.fs.teardown();
        let _ = fs::remove_dir(dir);
        match problems.into_iter().next() {
            Some(problem) => Err(RealError::Loop(crate::loopfs::LoopError::Usage(problem))),
            None => Ok(()),
        }
    }
}

/// A run to exit whose sandbox the settle snapshots read.
struct Final {
    subject: usize,
    disk: Disk,
    dir: PathBuf,
    exited: Instant,
    sandbox: PathBuf,
    model: RunModel,
    trace: Trace,
    golden: Golden,
    states: torture_core::power::StatesAt,
}

pub(super) fn run_all(
    subjects: &[Subject],
    options: &RealOptions,
    on_state: &mut OnState<'_>,
) -> Result<RealRun, RealError> {
    let started = Instant::now();
    let dir = options.scratch.join(format!(
        "torture-real-{}-{}",
        options.fs.name(),
        std::process::id()
    ));
    fs::create_dir_all(&dir).map_err(|e| RealError::io("create", &dir, e))?;
    let result = with_store(&dir, subjects, options, on_state);
    // Only an empty directory goes: anything left in it is reported by its guard.
    let _ = fs::remove_dir(&dir);
    let mut run = result?;
    run.timing.total_ms = elapsed_ms(started);
    Ok(run)
}

/// Sparse size of the clone store: every subject's image stays until the settle snapshots are
/// taken, plus room for the copies' changed blocks.
fn store_mib(subjects: usize, options: &RealOptions) -> u64 {
    options.fs.image_mib() * (subjects as u64 + 4) + 1024
}

/// The images and their copies live on a [`CloneStore`] made in `dir`: every copy is a clone.
fn with_store(
    dir: &Path,
    subjects: &[Subject],
    options: &RealOptions,
    on_state: &mut OnState<'_>,
) -> Result<RealRun, RealError> {
    let setup = Instant::now();
    let store = CloneStore::create(dir, store_mib(subjects.len(), options))?;
    let setup_ms = elapsed_ms(setup);
    let result = with_dir(dir, store.root(), subjects, options, on_state);
    let problems = store.teardown();
    let mut run = result?;
    if let Some(problem) = problems.into_iter().next() {
        return Err(RealError::Loop(crate::loopfs::LoopError::Usage(problem)));
    }
    run.timing.setup_ms += setup_ms;
    Ok(run)
}

/// `dir` holds the mount point of copies, `work` the images and copies.
fn with_dir(
    dir: &Path,
    work: &Path,
    subjects: &[Subject],
    options: &RealOptions,
    on_state: &mut OnState<'_>,
) -> Result<RealRun, RealError> {
    let snap_mount = dir.join("snapshot-mnt");
    fs::create_dir(&snap_mount).map_err(|e| RealError::io("create", &snap_mount, e))?;
    let mut fixture = Fixture {
        options,
        snap_mount: snap_mount.clone(),
        mounts_dir: dir.to_path_buf(),
        reads_started: 0,
        dir: work.to_path_buf(),
        copies: 0,
        cloned: 0,
        timing: Timing::default(),
        start: None,
        start_tree: None,
    };
    let result = fixture.all_subjects(subjects, on_state);
    let _ = fs::remove_dir(&snap_mount);
    let _ = fs::remove_dir_all(work.join("starts"));
    let _ = fs::remove_dir_all(work.join("checks"));
    let (subjects, interrupted) = result?;
    Ok(RealRun {
        fs: options.fs,
        mount_options: joined_options(options),
        states: subjects.iter().map(|s| s.states.len() as u64).sum(),
        subjects,
        timing: fixture.timing,
        copies: fixture.copies,
        cloned_copies: fixture.cloned,
        interrupted,
    })
}

fn joined_options(options: &RealOptions) -> Option<String> {
    let parts: Vec<&str> = options
        .fs
        .mount_options()
        .into_iter()
        .chain(options.mount_options.as_deref())
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The held crash points of an `events`-event trace that `choice` selects, ascending.
pub(super) fn select_points(events: usize, choice: CrashPoints, seed: u64) -> Vec<usize> {
    match choice {
        CrashPoints::All => (0..events).collect(),
        CrashPoints::One { events: k } => (k < events).then_some(k).into_iter().collect(),
        CrashPoints::Sample { count } if count >= events => (0..events).collect(),
        CrashPoints::Sample { count } => {
            let mut rng = SplitMix64::new(seed);
            let mut chosen: Vec<usize> = vec![0, events - 1];
            while chosen.len() < count.max(2) {
                let k = rng.below(events as u64) as usize;
                if !chosen.contains(&k) {
                    chosen.push(k);
                }
            }
            chosen.sort_unstable();
            chosen
        }
    }
}

/// Doubling intervals from 500 ms up to `settle_ms` (which is always the last), after `+0ms`.
pub(super) fn settle_schedule(settle_ms: u64) -> Vec<u64> {
    let mut times = vec![0];
    let mut next = 500;
    while next < settle_ms {
        times.push(next);
        next *= 2;
    }
    if settle_ms > 0 {
        times.push(settle_ms);
    }
    times
}

impl Fixture<'_> {
    fn cancelled(&self) -> bool {
        self.options.cancel.load(Ordering::Relaxed)
    }

    fn limits(&self) -> RunLimits {
        RunLimits {
            timeout_ms: self.options.timeout_ms,
            cancel: self.options.cancel.clone(),
        }
    }

    fn all_subjects(
        &mut self,
        subjects: &[Subject],
        on_state: &mut OnState<'_>,
    ) -> Result<(Vec<RealSubject>, bool), RealError> {
        let mut results = Vec::new();
        let mut finals = Vec::new();
        let outcome = self.each_subject(subjects, &mut results, &mut finals, on_state);
        let settled = match outcome {
            Ok(()) => self.settle(&finals, &mut results, on_state),
            Err(error) => Err(error),
        };
        let torn_down: Result<Vec<()>, RealError> = finals
            .into_iter()
            .map(|f| f.disk.teardown(&f.dir))
            .collect();
        settled.and(torn_down)?;
        for (subject, result) in subjects.iter().zip(&mut results) {
            for state in &mut result.states {
                let point = state.point;
                if let Some(bug) = &mut state.model_bug {
                    bug.replay = replay_line(self.options, subject, point);
                }
            }
        }
        Ok((results, self.cancelled()))
    }

    fn each_subject(
        &mut self,
        subjects: &[Subject],
        results: &mut Vec<RealSubject>,
        finals: &mut Vec<Final>,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        for (index, subject) in subjects.iter().enumerate() {
            if self.cancelled() {
                return Ok(());
            }
            let prepared = prepare(subject)?;
            let dir = self.dir.join(format!("s{index}"));
            let setup = Instant::now();
            let disk = Disk::create(self.options, &dir)?;
            self.timing.setup_ms += elapsed_ms(setup);
            let probed = self.probe_subject(&disk, &prepared, on_state);
            let (mut result, golden) = match probed {
                Ok(probed) => probed,
                Err(error) => return disk.teardown(&dir).and(Err(error)),
            };
            let wanted = self.wants_after_exit(golden.trace.events.len());
            if !wanted || self.cancelled() {
                results.push(result);
                disk.teardown(&dir)?;
                continue;
            }
            let fin = self.final_run(index, disk, dir, &prepared, golden, &mut result, on_state)?;
            results.push(result);
            finals.push(fin);
        }
        Ok(())
    }

    fn wants_after_exit(&self, events: usize) -> bool {
        match self.options.crash_points {
            CrashPoints::All | CrashPoints::Sample { .. } => true,
            CrashPoints::One { events: k } => k >= events,
        }
    }

    /// A fresh sandbox holding the old version, everything durable.
    fn seed(&mut self, disk: &Disk, sandbox: &Path, old: Option<&[u8]>) -> Result<(), RealError> {
        let started = Instant::now();
        fs::create_dir_all(sandbox).map_err(|e| RealError::io("create", sandbox, e))?;
        if let Some(start) = &self.start {
            crate::sandbox::copy_into(start, sandbox)
                .map_err(|e| RealError::io("copy the --setup tree into", sandbox, io_error(e)))?;
        } else if let Some(old) = old {
            let target = sandbox.join(&self.options.tree.target);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| RealError::io("create", parent, e))?;
            }
            let mut file = File::create(&target).map_err(|e| RealError::io("seed", &target, e))?;
            file.write_all(old)
                .and_then(|()| file.sync_all())
                .map_err(|e| RealError::io("seed", &target, e))?;
        }
        syncfs(disk)?;
        self.timing.seed_ms += elapsed_ms(started);
        Ok(())
    }

    fn command(&self, prepared: &Prepared, sandbox: &Path, generation: u64) -> WriterCommand {
        let target = sandbox.join(&self.options.tree.target);
        writer_command(&prepared.invocation((sandbox, &target), generation))
    }

    /// Generation 1 (the old version) and the traced generation-2 golden run.
    fn golden(
        &mut self,
        disk: &Disk,
        prepared: &Prepared,
        base: &Path,
    ) -> Result<Golden, RealError> {
        self.start = self.set_up(prepared)?;
        let old = match (&self.start, self.options.tree.initial_absent) {
            (Some(start), _) => fs::read(start.join(&self.options.tree.target)).ok(),
            (None, true) => None,
            (None, false) => {
                let first = base.join("old");
                self.seed(disk, &first, None)?;
                Some(self.record(prepared, &first, 1)?.1)
            }
        };
        let golden = base.join("golden");
        self.seed(disk, &golden, old.as_deref())?;
        let (trace, new) = self.record(prepared, &golden, 2)?;
        Ok(Golden { old, new, trace })
    }

    fn record(
        &mut self,
        prepared: &Prepared,
        sandbox: &Path,
        generation: u64,
    ) -> Result<(Trace, Vec<u8>), RealError> {
        let started = Instant::now();
        let label = &prepared.subject.label;
        let command = self.command(prepared, sandbox, generation);
        let target = sandbox.join(&self.options.tree.target);
        let run = tracer::record_golden(&command, sandbox, &target, &self.limits())
            .map_err(|source| trace_error(label, source))?;
        self.timing.runs_ms += elapsed_ms(started);
        let stderr = String::from_utf8_lossy(&run.stderr);
        let written = match (run.exit_code, fs::read(&target)) {
            (0, Ok(bytes)) => bytes,
            (code, read) => {
                return Err(RealError::Writer {
                    subject: label.clone(),
                    what: format!(
                        "generation {generation} exited {code}, target {}: {}",
                        read.map_or_else(|e| e.to_string(), |b| format!("{} bytes", b.len())),
                        stderr.trim()
                    ),
                });
            }
        };
        Ok((self.with_start(run.trace), written))
    }

    /// `trace` starting from `--setup`'s tree, as every run of the subject does: without it the
    /// model would hold the prepared files as absent.
    fn with_start(&self, mut trace: Trace) -> Trace {
        if self.start_tree.is_some() {
            trace.header.initial_tree.clone_from(&self.start_tree);
        }
        trace
    }

    fn probe_subject(
        &mut self,
        disk: &Disk,
        prepared: &Prepared,
        on_state: &mut OnState<'_>,
    ) -> Result<(RealSubject, Golden), RealError> {
        let label = prepared.subject.label.clone();
        let base = disk.fs.mount_point.join(sandbox_name(&label));
        let golden = self.golden(disk, prepared, &base)?;
        let started = Instant::now();
        let model = simulate(&golden, self.options.fs.model());
        self.timing.model_ms += elapsed_ms(started);
        let mut result = RealSubject {
            label: label.clone(),
            states: Vec::new(),
            model,
            coverage: RealCoverage::default(),
            skipped: Vec::new(),
        };
        let events = golden.trace.events.len();
        // Copies are read on threads while the next writers run; an error drops (joins) them.
        let mut pending: std::collections::VecDeque<PendingRead> = Default::default();
        for k in select_points(events, self.options.crash_points, self.options.seed) {
            if self.cancelled() {
                break;
            }
            let at = HeldAt {
                disk,
                prepared,
                base: &base,
                k,
            };
            let Some(taken) = self.held_state(&at, &golden, &mut result)? else {
                continue;
            };
            if self.options.tree.check.is_some() {
                self.judge_checked(taken, &golden, &mut result, on_state)?;
                continue;
            }
            // The oldest read's directory is the one the next read takes.
            if pending.len() == READS_IN_FLIGHT
                && let Some(oldest) = pending.pop_front()
            {
                self.judge_read(oldest, &golden, &mut result, on_state)?;
            }
            pending.push_back(self.start_read(taken));
        }
        while let Some(oldest) = pending.pop_front() {
            self.judge_read(oldest, &golden, &mut result, on_state)?;
        }
        Ok((result, golden))
    }

    /// Seeds the sandbox of crash point `k`, holds the writer there and copies the image.
    /// `None` when the point could not be held (recorded in `skipped`).
    fn held_state(
        &mut self,
        at: &HeldAt<'_>,
        golden: &Golden,
        result: &mut RealSubject,
    ) -> Result<Option<Taken>, RealError> {
        let (disk, k) = (at.disk, at.k);
        let sandbox = at.base.join(format!("e{k}"));
        self.seed(disk, &sandbox, golden.old.as_deref())?;
        let call = CallRef {
            syscall: golden.trace.events[k].syscall.clone(),
            seq: k as u64,
        };
        let Some((copy, run)) = self.run_held(at, &sandbox, call)? else {
            result
                .skipped
                .push(format!("e{k}: the writer took another path"));
            return Ok(None);
        };
        let Some(trace) = run.trace.map(|trace| self.with_start(trace)) else {
            result
                .skipped
                .push(format!("e{k}: the run recorded no trace"));
            return Ok(None);
        };
        Ok(Some(Taken {
            copy,
            sandbox: disk.relative(&sandbox).to_path_buf(),
            point: RealPoint::Held { events: k },
            trace,
        }))
    }

    /// Mounts and reads a copy on a thread of its own, at a mount point of its own: a clone
    /// is frozen, so the next writer run cannot change what it holds.
    fn start_read(&mut self, taken: Taken) -> PendingRead {
        let kind = self.options.fs.kind();
        let mount_point = self
            .mounts_dir
            .join(format!("snapshot-mnt-{}", self.reads_started));
        self.reads_started += 1;
        let Taken {
            copy,
            sandbox,
            point,
            trace,
        } = taken;
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let tree = read_at_own_mount_point(kind, &copy, &mount_point, &sandbox);
            (copy, tree, elapsed_ms(started))
        });
        PendingRead {
            point,
            trace,
            handle: Some(handle),
        }
    }

    /// Waits for a held point's tree and judges it.
    fn judge_read(
        &mut self,
        mut pending: PendingRead,
        golden: &Golden,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let (copy, tree, mount_ms) = pending.join()?;
        self.timing.mount_ms += mount_ms;
        let seen = Seen {
            tree: &tree?,
            point: pending.point,
            copy: &copy,
            trace: &pending.trace,
            verdict: None,
        };
        self.judge_seen(seen, golden, result, on_state)
    }

    /// Under `--check`: mounts a held point's copy once, reads it, runs `--recover` and
    /// `--check` in it, and judges it (no read thread: the checker needs the copy mounted).
    fn judge_checked(
        &mut self,
        taken: Taken,
        golden: &Golden,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let events = taken.point.events();
        let at = (&taken.trace, events);
        let (tree, verdict) = self.read_checked(&taken.copy, &taken.sandbox, at)?;
        let seen = Seen {
            tree: &tree,
            point: taken.point,
            copy: &taken.copy,
            trace: &taken.trace,
            verdict,
        };
        self.judge_seen(seen, golden, result, on_state)
    }

    /// Judges a read state against the model of its own run's trace.
    fn judge_seen(
        &mut self,
        seen: Seen<'_>,
        golden: &Golden,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let model = RunModel::new(seen.trace, self.options.fs.model())
            .map_err(|what| writer_error(&result.label, what))?;
        let started = Instant::now();
        let states = model.states_at(seen.point, self.options.max_states, self.options.assume);
        self.timing.model_ms += elapsed_ms(started);
        let state = self.judge(&model, &states, seen, golden, result)?;
        on_state(&result.label, &state);
        result.states.push(state);
        Ok(())
    }

    /// Starts the writer held at `call`, copies the image, and runs the writer to its end.
    /// `None` when the writer never reached the call.
    fn run_held(
        &mut self,
        at: &HeldAt<'_>,
        sandbox: &Path,
        call: CallRef,
    ) -> Result<Option<(ImageSnapshot, Run)>, RealError> {
        let label = &at.prepared.subject.label;
        let started = Instant::now();
        let command = self.command(at.prepared, sandbox, 2);
        let target = sandbox.join(&self.options.tree.target);
        let held_at = call.to_string();
        let what = || format!("the run held at {held_at}");
        let fault = Fault::Hold { call };
        let progress = tracer::start_fault(&command, sandbox, &target, &fault, &self.limits());

        let timeout_ms = self.options.timeout_ms;
        let held = match progress {
            Ok(Progress::Held(held)) => held,
            // A run stopped at its timeout is a harness timeout, not a writer that never
            // reached the call.
            Ok(Progress::Done(run)) => {
                let goal = || "the held call or its end".to_owned();
                run.in_time(what, goal, timeout_ms)
                    .map_err(|source| trace_error(label, source))?;
                return Ok(None);
            }
            Err(tracer::TraceError::FaultMismatch { .. }) => return Ok(None),
            Err(source) => return Err(trace_error(label, source)),
        };
        self.timing.runs_ms += elapsed_ms(started);
        let copy = self.copy(at.disk)?;
        let started = Instant::now();
        let goal = || "its end after the hold".to_owned();
        let run = finish(held)
            .and_then(|run| run.in_time(what, goal, timeout_ms))
            .map_err(|source| trace_error(label, source))?;
        self.timing.runs_ms += elapsed_ms(started);
        Ok(Some((copy, run)))
    }

    fn copy(&mut self, disk: &Disk) -> Result<ImageSnapshot, RealError> {
        let started = Instant::now();
        self.copies += 1;
        let path = self.dir.join(format!("copy-{}.img", self.copies));
        let copy = ImageSnapshot::take(&disk.image, &path)?;
        self.cloned += u64::from(copy.cloned);
        self.timing.copy_ms += elapsed_ms(started);
        Ok(copy)
    }

    /// Mounts `copy` (its journal replays; read-write under `--check`, else read-only), reads
    /// the sandbox and, under `--check`, runs `--recover` and `--check` in it, with the stdout
    /// lines the run printed before event `events` of `trace`. The checks run after the tree
    /// is read: what they write is not judged.
    fn read_checked(
        &mut self,
        copy: &ImageSnapshot,
        sandbox: &Path,
        (trace, events): (&Trace, usize),
    ) -> Result<(Tree, Option<TreeVerdict>), RealError> {
        let started = Instant::now();
        let kind = self.options.fs.kind();
        let options = realfs::snapshot_mount_options(kind)?;
        let access = match self.options.tree.check {
            Some(_) => (options, CopyAccess::ReadWrite),
            None => (options, CopyAccess::ReadOnly),
        };
        let mounted = MountedImage::mount(kind, copy.path(), &self.snap_mount, access)?;
        let root = self.snap_mount.join(sandbox);
        let tree = read_sandbox(&root);
        let verdict = match (&tree, &self.options.tree.check) {
            (Ok(_), Some(check)) => self.check_mounted(check, &root, (trace, events)),
            (Ok(_) | Err(_), None) | (Err(_), Some(_)) => Ok(None),
        };
        let problems = mounted.unmount();
        self.timing.mount_ms += elapsed_ms(started);
        if let Some(problem) = problems.into_iter().next() {
            return Err(RealError::Loop(crate::loopfs::LoopError::Usage(problem)));
        }
        Ok((tree?, verdict?))
    }

    /// `--recover` then `--check` in `root` (the sandbox in the mounted copy).
    fn check_mounted(
        &self,
        check: &str,
        root: &Path,
        (trace, events): (&Trace, usize),
    ) -> Result<Option<TreeVerdict>, RealError> {
        let ack_line = self.options.tree.ack_line.as_deref().map(regex::Regex::new);
        let ack_line = ack_line.transpose().map_err(|e| {
            RealError::Campaign(super::CampaignError::Usage(format!("--ack-line: {e}")))
        })?;
        let acks = AckLines::new(&trace.header, ack_line.as_ref());
        let logs = self.dir.join("checks");
        fs::create_dir_all(&logs).map_err(|e| RealError::io("create", &logs, e))?;
        let stdout = logs.join("stdout");
        fs::write(&stdout, acks.stdout(events)).map_err(|e| RealError::io("write", &stdout, e))?;
        // The sandbox's own creation may not have reached the disk: the checker sees it empty.
        fs::create_dir_all(root).map_err(|e| RealError::io("create", root, e))?;
        let place = Place {
            dir: root,
            target: &root.join(&self.options.tree.target),
            stdout: &stdout,
            acks: acks.count(events),
            model: None,
        };
        let timeout = Duration::from_millis(self.options.timeout_ms);
        let cancel = &self.options.cancel;
        let commands = [
            ("--recover", self.options.tree.recover.as_deref()),
            ("--check", Some(check)),
        ];
        for (option, command) in commands {
            let Some(command) = command else { continue };
            let verdict =
                tree::run_command((option, command), &place, (&logs, "check"), timeout, cancel)?;
            match verdict {
                Some(TreeVerdict::Holds) => {}
                Some(TreeVerdict::Fails(reason)) if option == "--recover" => {
                    return Ok(Some(TreeVerdict::Fails(format!("--recover: {reason}"))));
                }
                other => return Ok(other),
            }
        }
        Ok(Some(TreeVerdict::Holds))
    }

    /// Runs `--setup` for one subject in a fresh directory on the scratch tmpfs: its tree is
    /// copied into every sandbox of the subject.
    fn set_up(&mut self, prepared: &Prepared) -> Result<Option<PathBuf>, RealError> {
        self.start_tree = None;
        let Some(setup) = &self.options.tree.setup else {
            return Ok(None);
        };
        let start = self
            .dir
            .join("starts")
            .join(sandbox_name(&prepared.subject.label));
        let _ = fs::remove_dir_all(&start);
        fs::create_dir_all(&start).map_err(|e| RealError::io("create", &start, e))?;
        let timeout = Duration::from_millis(self.options.timeout_ms);
        let cancel = &self.options.cancel;
        let logs = self.dir.join("starts");
        let done = tree::set_up(setup, &start, (&logs, "setup"), timeout, cancel)?;
        self.start_tree = done.as_ref().map(torture_core::power::initial_entries);
        Ok(done.map(|_| start))
    }

    fn judge(
        &mut self,
        model: &RunModel,
        states: &torture_core::power::StatesAt,
        seen: Seen<'_>,
        golden: &Golden,
        result: &mut RealSubject,
    ) -> Result<RealState, RealError> {
        let started = Instant::now();
        let judged = match check::real_tree(seen.tree) {
            Ok(fs_tree) => model.judge(
                &fs_tree,
                seen.point,
                (golden.old.as_deref(), &golden.new),
                states,
            ),
            Err(what) => return Err(writer_error(&result.label, what)),
        };
        self.timing.model_ms += elapsed_ms(started);
        cover(&mut result.coverage, model, states, &judged.reach);
        let model_bug = match judged.reach {
            Reach::Outside => Some(self.keep_bug(&result.label, &seen)?),
            Reach::Inside { .. } | Reach::Unknown { .. } => None,
        };
        // Under `--check` the checker's verdict replaces the built-in judge of the target.
        let (violation, reason) = match seen.verdict {
            None => (judged.violation, None),
            Some(TreeVerdict::Holds) => (None, None),
            Some(TreeVerdict::Fails(reason)) => (
                Some(torture_core::power::PowerViolation::CheckFailed),
                Some(reason),
            ),
        };
        let diagnosis = match (violation, &judged.reach) {
            (Some(torture_core::power::PowerViolation::CheckFailed), Reach::Inside { state }) => {
                Some(model.diagnose_rejected(state))
            }
            (Some(_) | None, _) => None,
        };
        Ok(RealState {
            point: seen.point,
            class: judged.class,
            violation,
            reach: judged.reach,
            leftovers: judged.leftovers,
            model_bug,
            reason,
            diagnosis,
        })
    }

    /// Keeps a copy of the image and the trace of a state outside the model.
    fn keep_bug(&self, label: &str, seen: &Seen<'_>) -> Result<ModelBug, RealError> {
        let keep = &self.options.keep_dir;
        fs::create_dir_all(keep).map_err(|e| RealError::io("create", keep, e))?;
        let stem = format!("{}-{}-{}", self.options.fs, sandbox_name(label), seen.point);
        let snapshot = keep.join(format!("{stem}.img"));
        let trace_path = keep.join(format!("{stem}.trace.jsonl"));
        let _ = fs::remove_file(&snapshot);
        // copy_file_range cannot cross into another file system type: then a plain copy.
        if realfs::sparse_copy(seen.copy.path(), &snapshot).is_err() {
            let _ = fs::remove_file(&snapshot);
            fs::copy(seen.copy.path(), &snapshot)
                .map_err(|e| RealError::io("keep", &snapshot, e))?;
        }
        fs::write(&trace_path, seen.trace.to_jsonl())
            .map_err(|e| RealError::io("write", &trace_path, e))?;
        Ok(ModelBug {
            snapshot,
            trace: trace_path,
            tree: check::describe(seen.tree),
            // Filled in by the caller, which knows the subject.
            replay: String::new(),
        })
    }
}

/// Copies mounted and read at once, each on its own thread. A mount mostly waits (a block
/// trace of one xfs copy's mount: 478 synchronous I/Os through two loop layers, the copy's and
/// the clone store's, and on a loaded machine long gaps between them), so several overlap well
/// even on 2 cores: 5 gave more xfs states per second than 3 on the loaded 2-core machine. The
/// states are still judged in the order they were taken.
const READS_IN_FLIGHT: usize = 5;

/// [`mount_and_read`] of one sandbox at `mount_point`, which is made for this read and removed
/// after it (each read in flight has its own).
fn read_at_own_mount_point(
    kind: crate::loopfs::FsKind,
    copy: &ImageSnapshot,
    mount_point: &Path,
    sandbox: &Path,
) -> Result<Tree, RealError> {
    fs::create_dir(mount_point).map_err(|e| RealError::io("create", mount_point, e))?;
    let tree = mount_and_read(kind, copy, mount_point, &[sandbox]).map(|mut trees| trees.remove(0));
    let removed = fs::remove_dir(mount_point).map_err(|e| RealError::io("remove", mount_point, e));
    tree.and_then(|tree| removed.map(|()| tree))
}

/// A held crash point's copy, taken, not yet read.
struct Taken {
    copy: ImageSnapshot,
    /// The sandbox, relative to the file system's root.
    sandbox: PathBuf,
    point: RealPoint,
    trace: Trace,
}

/// What the reader thread gives back: the copy, its tree, and the milliseconds it took.
type ReadOutcome = (ImageSnapshot, Result<Tree, RealError>, u64);

/// A held point's copy being mounted and read on its own thread. Dropping it waits for the
/// thread, so an error never leaves a copy mounted.
struct PendingRead {
    point: RealPoint,
    trace: Trace,
    handle: Option<std::thread::JoinHandle<ReadOutcome>>,
}

impl PendingRead {
    fn join(&mut self) -> Result<ReadOutcome, RealError> {
        let handle = self.handle.take().ok_or_else(|| {
            RealError::Loop(crate::loopfs::LoopError::Usage(
                "a copy's read was joined twice".into(),
            ))
        })?;
        handle.join().map_err(|_| {
            RealError::Loop(crate::loopfs::LoopError::Usage(
                "the thread reading a copy panicked".into(),
            ))
        })
    }
}

impl Drop for PendingRead {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Mounts `copy` read-only as `kind` at `mount_point` (journal recovery runs), reads each
/// sandbox (relative to the root), and unmounts it.
fn mount_and_read(
    kind: crate::loopfs::FsKind,
    copy: &ImageSnapshot,
    mount_point: &Path,
    sandboxes: &[&Path],
) -> Result<Vec<Tree>, RealError> {
    let options = realfs::snapshot_mount_options(kind)?;
    let access = (options, CopyAccess::ReadOnly);
    let mounted = MountedImage::mount(kind, copy.path(), mount_point, access)?;
    let trees: Result<Vec<Tree>, RealError> = sandboxes
        .iter()
        .map(|relative| read_sandbox(&mount_point.join(relative)))
        .collect();
    let problems = mounted.unmount();
    if let Some(problem) = problems.into_iter().next() {
        return Err(RealError::Loop(crate::loopfs::LoopError::Usage(problem)));
    }
    trees
}

/// A held crash point of one subject.
struct HeldAt<'a> {
    disk: &'a Disk,
    prepared: &'a Prepared,
    base: &'a Path,
    k: usize,
}

fn io_error(error: crate::sandbox::SandboxError) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

fn syncfs(disk: &Disk) -> Result<(), RealError> {
    let root = &disk.fs.mount_point;
    let dir = File::open(root).map_err(|e| RealError::io("open", root, e))?;
    rustix::fs::syncfs(&dir).map_err(|e| RealError::io("syncfs", root, e.into()))
}

/// One real tree and where it came from.
struct Seen<'a> {
    tree: &'a Tree,
    point: RealPoint,
    copy: &'a ImageSnapshot,
    trace: &'a Trace,
    /// Under `--check`: the checker's verdict on the mounted copy.
    verdict: Option<TreeVerdict>,
}

/// Lets a held writer run to its end (there is only one hold per run).
fn finish(held: tracer::HeldRun) -> Result<Run, tracer::TraceError> {
    let mut progress = held.resume()?;
    loop {
        match progress {
            Progress::Held(next) => progress = next.resume()?,
            Progress::Done(run) => return Ok(*run),
        }
    }
}

fn read_sandbox(root: &Path) -> Result<Tree, RealError> {
    match realfs::read_tree(root) {
        Ok(tree) => Ok(tree),
        // The sandbox's own creation did not reach the disk: it is empty.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Tree::new()),
        Err(error) => Err(RealError::io("read", root, error)),
    }
}

fn cover(
    coverage: &mut RealCoverage,
    model: &RunModel,
    states: &torture_core::power::StatesAt,
    reach: &Reach,
) {
    coverage.model_distinct += states.trees.len() as u64;
    coverage.incomplete_points += u64::from(!states.complete);
    if let Reach::Inside { .. } = reach {
        coverage.seen_distinct += 1;
    }
    model.cover(coverage, reach);
}

/// The simulation's verdict on the golden trace (the file system's model, byte-exact versions).
fn simulate(golden: &Golden, model: torture_core::power::Model) -> ModelVerdict {
    let options = PowerOptions {
        model,
        max_states: 20_000,
        ..PowerOptions::default()
    };
    let Ok(explorer) = Explorer::new(&golden.trace, options) else {
        return ModelVerdict::default();
    };
    let ack = ack_point(&golden.trace.header, AckSelect::Exit);
    let mut classify = exact_classifier(golden.old.as_deref(), &golden.new);
    let found = explorer.explore(ack.as_ref(), &mut classify);
    let counts = found.classes;
    let classes = [
        (counts.absent, TargetClass::Absent),
        (counts.old, TargetClass::Old),
        (counts.new, TargetClass::New),
        (counts.torn, TargetClass::Torn),
    ];
    ModelVerdict {
        violating_states: found.violating_states,
        diagnosis: found.findings.first().map(|f| f.diagnosis.text.clone()),
        classes: classes
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(_, c)| c)
            .collect(),
    }
}

/// A directory name for a subject label (labels may hold `@` or `/`).
fn sandbox_name(label: &str) -> String {
    label
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            },
        )
        .collect()
}

fn trace_error(subject: &str, source: tracer::TraceError) -> RealError {
    RealError::Trace {
        subject: subject.to_owned(),
        source,
    }
}

fn writer_error(subject: &str, what: String) -> RealError {
    RealError::Writer {
        subject: subject.to_owned(),
        what,
    }
}

/// `torture power-real ...` for one crash point of one subject.
pub(super) fn replay_line(options: &RealOptions, subject: &Subject, point: RealPoint) -> String {
    let mut line = format!(
        "torture power --real {} --at e{}",
        options.fs,
        point.events()
    );
    if let Some(extra) = &options.mount_options {
        line.push_str(&format!(" --mount-options {}", shell_quote(extra)));
    }
    // What shapes the verdict: how many model states place a copy, and when after the exit
    // the copies of an after-exit point are taken.
    line.push_str(&format!(" --max-states {}", options.max_states));
    match options.assume {
        Assume::Model => {}
        Assume::RenamesDurableAtOnce => line.push_str(" --assume rename-durable"),
    }
    if matches!(point, RealPoint::AfterExit { .. }) {
        line.push_str(&format!(" --settle-ms {}", options.settle_ms));
    }
    let tree = &options.tree;
    if tree.target != Path::new(crate::campaign::DEFAULT_TARGET) {
        let target = tree.target.to_string_lossy();
        line.push_str(&format!(" --target {}", shell_quote(&target)));
    }
    if tree.initial_absent {
        line.push_str(" --initial absent");
    }
    let given = [
        ("--ack-line", &tree.ack_line),
        ("--check", &tree.check),
        ("--setup", &tree.setup),
        ("--recover", &tree.recover),
    ];
    for (flag, value) in given {
        if let Some(value) = value {
            line.push_str(&format!(" {flag} {}", shell_quote(value)));
        }
    }
    match &subject.kind {
        SubjectKind::Builtin { size_bytes } => {
            line.push_str(&format!(" --size {size_bytes} --subject {}", subject.name));
        }
        SubjectKind::Command { argv } => {
            if let Some((program, args)) = argv.split_first() {
                line.push_str(" -- ");
                line.push_str(&shell_words(Path::new(program), args));
            }
        }
    }
    line
}

impl Fixture<'_> {
    /// One more sandbox run to its exit, copied at once (`+0ms`): what the settle copies
    /// read again later. That copy is read in line: read on a thread, it slowed the making
    /// of the next subject's file system more than it saved.
    #[allow(clippy::too_many_arguments)]
    fn final_run(
        &mut self,
        subject: usize,
        disk: Disk,
        dir: PathBuf,
        prepared: &Prepared,
        golden: Golden,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<Final, RealError> {
        let label = &prepared.subject.label;
        let sandbox = disk.fs.mount_point.join(sandbox_name(label)).join("final");
        let recorded = self
            .seed(&disk, &sandbox, golden.old.as_deref())
            .and_then(|()| self.record(prepared, &sandbox, 2));
        let (trace, _) = match recorded {
            Ok(recorded) => recorded,
            Err(error) => return disk.teardown(&dir).and(Err(error)),
        };
        let model = RunModel::new(&trace, self.options.fs.model())
            .map_err(|what| writer_error(label, what))?;
        let point = RealPoint::AfterExit {
            events: trace.events.len(),
            settle_ms: 0,
        };
        let states = model.states_at(point, self.options.max_states, self.options.assume);
        let fin = Final {
            subject,
            sandbox: disk.relative(&sandbox).to_path_buf(),
            disk,
            dir,
            exited: Instant::now(),
            model,
            trace,
            golden,
            states,
        };
        let taken = self.take_after_exit(&fin, 0)?;
        self.judge_final_in_line(&fin, taken, result, on_state)?;
        Ok(fin)
    }

    /// Copies a final run's disk `settle_ms` after its exit (waiting until then).
    fn take_after_exit(&mut self, fin: &Final, settle_ms: u64) -> Result<Taken, RealError> {
        let due = fin.exited + Duration::from_millis(settle_ms);
        let wait = due.saturating_duration_since(Instant::now());
        std::thread::sleep(wait);
        self.timing.settle_ms += u64::try_from(wait.as_millis()).unwrap_or(0);
        let copy = self.copy(&fin.disk)?;
        // The time the copy was really taken: later than planned when other subjects ran long.
        let taken_ms = u64::try_from(fin.exited.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(Taken {
            copy,
            sandbox: fin.sandbox.clone(),
            point: RealPoint::AfterExit {
                events: fin.trace.events.len(),
                settle_ms: if settle_ms == 0 { 0 } else { taken_ms },
            },
            trace: fin.trace.clone(),
        })
    }

    /// Mounts an after-exit copy in line, reads it (under `--check`, checks it in the same
    /// mount), and judges it.
    fn judge_final_in_line(
        &mut self,
        fin: &Final,
        taken: Taken,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let events = fin.trace.events.len();
        let (tree, verdict) = self.read_checked(&taken.copy, &fin.sandbox, (&fin.trace, events))?;
        let seen = Seen {
            tree: &tree,
            point: taken.point,
            copy: &taken.copy,
            trace: &fin.trace,
            verdict,
        };
        self.judge_final(fin, seen, result, on_state)
    }

    /// Waits for an after-exit copy's tree and judges it.
    fn judge_final_read(
        &mut self,
        fin: &Final,
        mut pending: PendingRead,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let (copy, tree, mount_ms) = pending.join()?;
        self.timing.mount_ms += mount_ms;
        let seen = Seen {
            tree: &tree?,
            point: pending.point,
            copy: &copy,
            trace: &fin.trace,
            verdict: None,
        };
        self.judge_final(fin, seen, result, on_state)
    }

    /// Judges an after-exit state against the model of the final run.
    fn judge_final(
        &mut self,
        fin: &Final,
        seen: Seen<'_>,
        result: &mut RealSubject,
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let state = self.judge(&fin.model, &fin.states, seen, &fin.golden, result)?;
        on_state(&result.label, &state);
        result.states.push(state);
        Ok(())
    }

    /// The later settle copies of every final run, in time order (each counts from its own
    /// writer's exit; the disks stay mounted meanwhile). They are read on threads,
    /// [`READS_IN_FLIGHT`] at once, while the next copy's time comes (under `--check`, in line).
    fn settle(
        &mut self,
        finals: &[Final],
        results: &mut [RealSubject],
        on_state: &mut OnState<'_>,
    ) -> Result<(), RealError> {
        let mut pending: std::collections::VecDeque<(usize, PendingRead)> = Default::default();
        for (i, settle_ms) in self.settle_due(finals) {
            if self.cancelled() {
                break;
            }
            let fin = &finals[i];
            let taken = self.take_after_exit(fin, settle_ms)?;
            if self.options.tree.check.is_some() {
                self.judge_final_in_line(fin, taken, &mut results[fin.subject], on_state)?;
                continue;
            }
            if pending.len() == READS_IN_FLIGHT
                && let Some((oldest, read)) = pending.pop_front()
            {
                let fin = &finals[oldest];
                self.judge_final_read(fin, read, &mut results[fin.subject], on_state)?;
            }
            pending.push_back((i, self.start_read(taken)));
        }
        while let Some((oldest, read)) = pending.pop_front() {
            let fin = &finals[oldest];
            self.judge_final_read(fin, read, &mut results[fin.subject], on_state)?;
        }
        Ok(())
    }

    /// Every final run's settle copies after `+0ms`, as (final, settle ms), in time order.
    fn settle_due(&self, finals: &[Final]) -> Vec<(usize, u64)> {
        let mut due: Vec<(Instant, usize, u64)> = Vec::new();
        for (i, fin) in finals.iter().enumerate() {
            for settle_ms in settle_schedule(self.options.settle_ms).into_iter().skip(1) {
                due.push((fin.exited + Duration::from_millis(settle_ms), i, settle_ms));
            }
        }
        due.sort_unstable();
        due.into_iter().map(|(_, i, ms)| (i, ms)).collect()
    }
}
