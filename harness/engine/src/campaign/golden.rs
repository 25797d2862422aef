//! Golden runs: the old version, the new version, the trace and the kill space of one subject.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::CampaignError;
use super::process::{self, Ended, Invocation, Output};
use super::subject::Prepared;
use super::{RunContext, Selection, Settings, ValidationChoice};
use crate::sandbox::{RunRoot, Sandbox, kind_name};
use crate::tracer::{self, RunLimits, WriterCommand};
use torture_core::killpoint::{KillPoint, KillSpace};
use torture_core::oracle::unit::Unit;
use torture_core::oracle::{
    self, Coverage, Expect, Initial, NewRule, RunExit, SubjectStatus, TargetState, Validation,
    Versions,
};
use torture_core::power::{self, FsTree};
use torture_core::trace::{Trace, TraceHeader};

use super::unit;

/// What the golden runs established, for reports (and read back by `torture merge`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GoldenSummary {
    /// The kill space of the traced run.
    pub space: KillSpace,
    /// Size of the old version (`--initial old`).
    pub old_len: Option<u64>,
    /// Size of the new version.
    pub new_len: u64,
    /// Whether two uncrashed generation-2 runs wrote identical bytes.
    pub goldens_agree: bool,
    /// First differing offset when they did not.
    pub disagreement_offset: Option<u64>,
    /// Operations the tracer does not model (mmap writes, io_uring).
    pub unmodelled: Vec<String>,
    /// The content check in force, e.g. `json (auto)`.
    pub validation: String,
    /// Warnings for the report.
    pub notes: Vec<String>,
    /// What the writer changed (or tried to) outside its sandbox, e.g. `openat /tmp/x.json`:
    /// nothing there was killed at or recorded, so it was not tested.
    #[serde(default)]
    pub outside_writes: Vec<String>,
    /// `--strict`: a change outside the sandbox fails the subject.
    #[serde(default)]
    pub outside_is_violation: bool,
    /// The processes the golden run left running when it exited (`pid N: command line`),
    /// ended with it: the notes say so ([`tracer::left_running_note`]).
    #[serde(default)]
    pub left_running: Vec<String>,
    /// The traced golden run's trace, kept in memory for whoever consumes it next (the report
    /// writes it out; the power-loss explorer reads it), whether or not a report is written.
    /// Not part of the JSON records: it lives in `traces/`, and a merged shard has none.
    #[serde(skip, default = "no_trace")]
    pub trace: Trace,
}

/// The trace of a summary read back from a report: empty.
fn no_trace() -> Trace {
    Trace::new(String::new(), Vec::new())
}

impl GoldenSummary {
    /// How a subject with `violations` compares with `expect`, given what its golden run showed:
    /// a writer the tracer cannot model has no verdict, and under `--strict` each change outside
    /// the sandbox is one more violation. Every campaign judges its subjects through this.
    pub fn subject_status(
        golden: Option<&GoldenSummary>,
        expect: Expect,
        violations: u64,
        coverage: Coverage,
    ) -> SubjectStatus {
        let modelled = golden.is_none_or(|g| g.unmodelled.is_empty());
        let outside = golden
            .filter(|g| g.outside_is_violation)
            .map_or(0, |g| g.outside_writes.len() as u64);
        oracle::subject_status(expect, violations + outside, modelled, coverage)
    }

    /// The summary as a record holds it: the trace lives in `traces/`, not in the record.
    pub fn without_trace(&self) -> GoldenSummary {
        GoldenSummary {
            trace: no_trace(),
            ..self.clone()
        }
    }
}

/// How torn files are checked, resolved against the golden output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Validator {
    /// A built-in check.
    Builtin(Validation),
    /// `--check CMD`.
    Check(String),
}

/// Everything the trials need from the golden phase.
#[derive(Debug)]
pub(crate) struct Golden {
    pub summary: GoldenSummary,
    /// The old version and the new versions the golden runs wrote.
    pub versions: Versions,
    pub validator: Validator,
    /// The subject's own selection, if it overrides the run's.
    pub selection: Option<Selection>,
    /// `--target` repeated or a glob, `--marker`: the files judged as one, with their versions
    /// before and after the traced run (`None`: the target alone).
    pub unit: Option<torture_core::oracle::unit::Unit>,
    /// `--setup`: the directory holding the tree it prepared, copied into every sandbox before
    /// a run (`None`: the sandbox starts empty, or with the old version at the target).
    pub start: Option<PathBuf>,
    /// The names besides the target that `--setup` left (not leftovers of the writer).
    pub setup_names: Vec<String>,
    /// `--check` in `kill` and `errors`: the verdicts of the distinct crash trees the workers
    /// checked.
    pub trees: super::crash_tree::SharedTrees,
}

impl Golden {
    /// The summary for the report, with the note of the whole-tree checks the trials ran.
    pub fn into_summary(self) -> GoldenSummary {
        let mut summary = self.summary;
        summary.notes.extend(self.trees.note());
        summary
    }

    /// Prepares `sandbox` for a run: the setup's tree, else `old` at the target.
    pub fn reset(&self, sandbox: &Sandbox, old: Option<&[u8]>) -> Result<(), CampaignError> {
        reset_sandbox(sandbox, self.start.as_deref(), old)
    }
}

fn reset_sandbox(
    sandbox: &Sandbox,
    start: Option<&Path>,
    old: Option<&[u8]>,
) -> Result<(), CampaignError> {
    match start {
        Some(start) => sandbox.reset_to(start)?,
        None => sandbox.reset(old)?,
    }
    Ok(())
}

impl Golden {
    /// The kill points the settings select, checked against the space.
    pub fn points(&self, settings: &Settings) -> Result<Vec<KillPoint>, CampaignError> {
        let space = &self.summary.space;
        match self.selection.unwrap_or(settings.selection) {
            Selection::Sample { trials } => Ok(space.sample(trials, settings.seed)),
            Selection::Exhaustive => Ok(space.all()),
            Selection::One(point) if space.contains(point) => Ok(vec![point]),
            Selection::One(point) => Err(CampaignError::Usage(format!(
                "--kill-at {point} is outside this writer's kill space ({}); the writer may have changed since \
                 the replay command was printed",
                describe_space(space)
            ))),
        }
    }
}

/// `byte:1..=byte:N and syscall:0..=syscall:M`, for messages.
fn describe_space(space: &KillSpace) -> String {
    let bytes = match space.total_bytes {
        0 => "no byte offsets".to_owned(),
        n => format!("byte:1..=byte:{n}"),
    };
    let syscalls = match space.boundaries.len() {
        0 => "no syscall boundaries".to_owned(),
        n => format!("syscall:0..=syscall:{}", n - 1),
    };
    format!("{bytes} and {syscalls}")
}

/// Shared by the golden steps of one subject.
struct Step<'a> {
    prepared: &'a Prepared,
    sandbox: Sandbox,
    /// `--setup`'s tree (see [`Golden::start`]).
    start: Option<PathBuf>,
    /// See [`Golden::setup_names`].
    setup_names: Vec<String>,
    logs: PathBuf,
    timeout: Duration,
    context: &'a RunContext,
}

/// Runs the golden phase. `Ok(None)`: interrupted by Ctrl-C.
pub(crate) fn record(
    prepared: &Prepared,
    settings: &Settings,
    context: &RunContext,
    root: &RunRoot,
) -> Result<Option<Golden>, CampaignError> {
    let name = &prepared.subject.label;
    let mut step = Step {
        prepared,
        sandbox: root.sandbox(name, "golden", &settings.target)?,
        logs: root.directory(name, "logs")?,
        timeout: Duration::from_millis(settings.timeout_ms),
        context,
        start: None,
        setup_names: Vec::new(),
    };
    let mut initial_tree = None;
    if let Some(setup) = &settings.setup {
        let start = root.directory(name, "start")?;
        let Some(tree) = step.set_up(setup, &start)? else {
            return Ok(None);
        };
        initial_tree = Some(tree);
        step.start = Some(start);
        let listed = root.sandbox(name, "start", &settings.target)?.orphans()?;
        step.setup_names = listed.into_iter().map(|orphan| orphan.name).collect();
    }
    let old = match (&initial_tree, settings.initial) {
        (Some(tree), _) => setup_target(tree, &settings.target),
        (None, Initial::Absent) => None,
        (None, Initial::Old) => match step.uncrashed(None, 1)? {
            Some(old) => Some(old),
            None => return Ok(None),
        },
    };
    let Some(second) = step.uncrashed(old.as_deref(), 2)? else {
        return Ok(None);
    };
    let Some((traced, new, unit)) = step.traced(old.as_deref(), &settings.unit)? else {
        return Ok(None);
    };
    let tracer::GoldenRun {
        mut trace,
        space,
        unmodelled,
        outside,
        notes: tracer_notes,
        left_running,
        ..
    } = traced;
    trace.header.initial_tree = initial_tree.as_ref().map(power::initial_entries);
    check_in_process_payload(prepared, &new)?;
    let Some((validator, label)) = step.resolve_validation(
        &settings.validation,
        &new,
        (&trace.header, settings.ack_regex()?.as_ref()),
    )?
    else {
        return Ok(None);
    };
    let disagreement_offset = (second != new).then(|| oracle::first_diff_offset(&second, &new));
    check_determinism(name, disagreement_offset, &validator)?;
    let mut notes = notes(old.as_deref(), &new, disagreement_offset, &unmodelled);
    notes.extend(tracer_notes);
    notes.extend(tracer::left_running_note(&left_running));
    notes.extend(outside_note(&outside, settings.strict));
    notes.extend(unit.as_ref().map(unit::note));
    let summary = GoldenSummary {
        notes,
        space,
        old_len: old.as_ref().map(|o| o.len() as u64),
        new_len: new.len() as u64,
        goldens_agree: disagreement_offset.is_none(),
        disagreement_offset,
        unmodelled,
        validation: label,
        outside_writes: outside,
        outside_is_violation: settings.strict,
        left_running,
        trace,
    };
    Ok(Some(Golden {
        summary,
        versions: versions(old, new, second),
        validator,
        selection: prepared.subject.selection,
        unit,
        start: step.start,
        setup_names: step.setup_names,
        trees: Default::default(),
    }))
}

/// The golden phase of a saved trace (`torture power --trace`): the old version is the trace's
/// initial state, the new version what the whole trace leaves; the writer is not run, so bytes
/// (or `--check`) judge, and there is no kill space.
pub(crate) fn saved(trace: &Trace, settings: &Settings) -> Result<Golden, CampaignError> {
    let usage = |e: String| CampaignError::Usage(format!("--trace: {e}"));
    let explorer = torture_core::power::Explorer::new(trace, Default::default())
        .map_err(|e| usage(e.to_string()))?;
    let old = explorer.plan().old.clone();
    let new = match explorer.new_version() {
        TargetState::Regular(bytes) => bytes,
        TargetState::Absent | TargetState::NotRegular(_) => {
            return Err(usage(format!(
                "the saved run leaves no regular file at its target `{}`",
                explorer.plan().target
            )));
        }
    };
    let (validator, label) = match &settings.validation {
        ValidationChoice::Check(command) => (Validator::Check(command.clone()), "check"),
        ValidationChoice::Auto
        | ValidationChoice::Json
        | ValidationChoice::JsonLines
        | ValidationChoice::Bytes => (Validator::Builtin(Validation::Bytes), "bytes (saved trace)"),
    };
    let summary = GoldenSummary {
        space: KillSpace::default(),
        old_len: old.as_ref().map(|o| o.len() as u64),
        new_len: new.len() as u64,
        goldens_agree: true,
        disagreement_offset: None,
        unmodelled: Vec::new(),
        validation: label.to_owned(),
        notes: Vec::new(),
        outside_writes: Vec::new(),
        outside_is_violation: false,
        left_running: Vec::new(),
        trace: trace.clone(),
    };
    Ok(Golden {
        summary,
        versions: Versions::one(old, new),
        validator,
        selection: None,
        unit: None,
        start: None,
        setup_names: Vec::new(),
        trees: Default::default(),
    })
}

/// The note for changes outside the sandbox: they were neither killed at nor recorded, so the
/// user must not believe that output path was tested.
pub(crate) fn outside_note(outside: &[String], strict: bool) -> Option<String> {
    let (first, rest) = outside.split_first()?;
    let listed = std::iter::once(first)
        .chain(rest.iter().take(2))
        .map(|what| format!("`{what}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let more = match rest.len().saturating_sub(2) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let consequence = match strict {
        true => "a failure under --strict",
        false => "--strict makes this a failure",
    };
    Some(format!(
        "writes outside the sandbox, never killed at or recorded, so NOT tested: {listed}{more}; point the writer at {{target}} ({consequence})"
    ))
}

/// The target's bytes in the tree `--setup` prepared: the old version.
fn setup_target(tree: &FsTree, target: &Path) -> Option<Vec<u8>> {
    match tree.target_state(&target.to_string_lossy()) {
        TargetState::Regular(bytes) => Some(bytes),
        TargetState::Absent | TargetState::NotRegular(_) => None,
    }
}

impl Step<'_> {
    /// The sandbox before a run: the setup's tree, else `old` at the target.
    fn reset(&self, old: Option<&[u8]>) -> Result<(), CampaignError> {
        reset_sandbox(&self.sandbox, self.start.as_deref(), old)
    }

    /// Runs `--setup` once in `start` (a fresh directory) and reads the tree it left.
    /// `Ok(None)`: Ctrl-C.
    fn set_up(&self, setup: &str, start: &Path) -> Result<Option<FsTree>, CampaignError> {
        let log = (self.logs.as_path(), "setup");
        super::tree::set_up(setup, start, log, self.timeout, &self.context.cancel)
    }

    fn invocation(&self, generation: u64) -> Invocation {
        let sandbox = &self.sandbox;
        self.prepared
            .invocation((sandbox.path(), sandbox.target()), generation)
    }

    fn golden_error(&self, what: String, stderr: &[u8], generation: u64) -> CampaignError {
        // The sandbox is gone by the time anyone reads this: show the target relative to `.`.
        let relative = Path::new(file_name(self.sandbox.target()).as_str()).to_owned();
        let invocation = self
            .prepared
            .invocation((Path::new("."), &relative), generation);
        CampaignError::Golden {
            subject: self.prepared.subject.label.clone(),
            what,
            stderr_tail: process::tail(stderr, 10),
            hint: format!(
                "run it by hand in an empty directory: cd \"$(mktemp -d)\" && TORTURE_GENERATION={generation} \
                 TORTURE_TARGET=\"$PWD/{}\" {}",
                file_name(self.sandbox.target()),
                super::replay::shell_words(&invocation.program, &invocation.args)
            ),
        }
    }

    /// An untraced run of `generation` over `old`; returns the bytes it left at the target.
    fn uncrashed(
        &self,
        old: Option<&[u8]>,
        generation: u64,
    ) -> Result<Option<Vec<u8>>, CampaignError> {
        self.reset(old)?;
        let slot = format!("golden-{generation}");
        let cancel = &self.context.cancel;
        let ended = process::run(
            &self.invocation(generation),
            self.sandbox.path(),
            Output::Capture,
            (&self.logs, &slot),
            self.timeout,
            cancel,
        )
        .map_err(|source| CampaignError::Io {
            what: format!("run {}", self.prepared.program().display()),
            source,
        })?;
        let (exit, stderr) = match ended {
            Ended::Exit { exit, stderr, .. } => (exit, stderr),
            Ended::Cancelled => return Ok(None),
        };
        if exit != RunExit::Code(0) {
            let what = format!("an uncrashed run (generation {generation}) failed: {exit}");
            return Err(self.golden_error(what, &stderr, generation));
        }
        self.target_bytes(&format!("generation {generation} exited 0"))
            .map(Some)
    }

    /// The bytes at the target after an uncrashed run.
    fn target_bytes(&self, after: &str) -> Result<Vec<u8>, CampaignError> {
        let subject = self.prepared.subject.label.clone();
        match self.sandbox.read_target()? {
            TargetState::Regular(bytes) => Ok(bytes),
            TargetState::Absent => Err(CampaignError::WritesNothing {
                subject,
                what: format!(
                    "{after} but left no file at {}",
                    self.sandbox.target().display()
                ),
            }),
            TargetState::NotRegular(kind) => Err(CampaignError::Golden {
                subject,
                what: format!(
                    "{after} but left {} at the target, not a regular file",
                    kind_name(kind)
                ),
                stderr_tail: String::new(),
                hint: "the target must be a regular file written by the command".to_owned(),
            }),
        }
    }

    /// The traced golden run, the new version, and the unit (its files read before and after).
    #[allow(clippy::type_complexity)]
    fn traced(
        &self,
        old: Option<&[u8]>,
        unit_spec: &super::UnitSpec,
    ) -> Result<Option<(tracer::GoldenRun, Vec<u8>, Option<Unit>)>, CampaignError> {
        self.reset(old)?;
        let before = match unit_spec.is_unit() {
            true => unit::snapshot(&self.sandbox)?,
            false => Vec::new(),
        };
        let command = writer_command(&self.invocation(2));
        let limits = RunLimits {
            timeout_ms: self.timeout.as_millis() as u64,
            cancel: self.context.cancel.clone(),
        };
        let golden = match tracer::record_golden(
            &command,
            self.sandbox.path(),
            self.sandbox.target(),
            &limits,
        ) {
            Ok(golden) => golden,
            Err(_) if self.cancelled() => return Ok(None),
            Err(tracer::TraceError::TimedOut { elapsed_ms }) => {
                let what = format!("the traced golden run did not finish within {elapsed_ms} ms");
                let mut error = self.golden_error(what, &[], 2);
                if let CampaignError::Golden { hint, .. } = &mut error {
                    *hint = "raise --timeout-ms (tracing slows a writer down), or check that the writer cannot hang".to_owned();
                }
                return Err(error);
            }
            Err(source) => {
                return Err(CampaignError::Trace {
                    subject: self.prepared.subject.label.clone(),
                    source,
                });
            }
        };
        if golden.exit_code != 0 {
            let what = format!(
                "the traced golden run exited {} (the untraced run exited 0)",
                golden.exit_code
            );
            return Err(self.golden_error(what, &golden.stderr, 2));
        }
        let new = self.target_bytes("the traced golden run exited 0")?;
        let after = match unit_spec.is_unit() {
            true => unit::snapshot(&self.sandbox)?,
            false => Vec::new(),
        };
        let unit = unit::unit_of(unit_spec, &before, &after)
            .map_err(|e| CampaignError::Usage(format!("{}: {e}", self.prepared.subject.label)))?;
        if golden.space.is_empty() {
            let what = "the traced run wrote no byte and made no file syscall under the sandbox"
                .to_owned();
            return Err(CampaignError::WritesNothing {
                subject: self.prepared.subject.label.clone(),
                what,
            });
        }
        Ok(Some((golden, new, unit)))
    }

    fn cancelled(&self) -> bool {
        self.context
            .cancel
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Picks the content check and makes sure the complete new version passes it.
    fn resolve_validation(
        &self,
        choice: &ValidationChoice,
        new: &[u8],
        (header, ack_line): (&TraceHeader, Option<&regex::Regex>),
    ) -> Result<Option<(Validator, String)>, CampaignError> {
        let builtin =
            |validation, label: &str| Ok(Some((Validator::Builtin(validation), label.to_owned())));
        let usage = |flag: &str, why: String| {
            Err(CampaignError::Usage(format!(
                "{}: {flag}, but the writer's complete output is not valid ({why}); pick another --validate \
                 (json, jsonl or bytes) or fix the writer",
                self.prepared.subject.label
            )))
        };
        match choice {
            ValidationChoice::Auto if oracle::is_json(new) => {
                builtin(Validation::Json, "json (auto)")
            }
            ValidationChoice::Auto if new.contains(&b'\n') && oracle::is_json_lines(new) => {
                builtin(Validation::JsonLines, "jsonl (auto)")
            }
            ValidationChoice::Auto => builtin(Validation::Bytes, "bytes (auto)"),
            ValidationChoice::Json => match oracle::json::validate(new) {
                Ok(()) => builtin(Validation::Json, "json"),
                Err(e) => usage("--validate json", e.to_string()),
            },
            ValidationChoice::JsonLines if oracle::is_json_lines(new) => {
                builtin(Validation::JsonLines, "jsonl")
            }
            ValidationChoice::JsonLines => {
                usage("--validate jsonl", "a line is not JSON".to_owned())
            }
            ValidationChoice::Bytes => builtin(Validation::Bytes, "bytes"),
            ValidationChoice::Check(command) => self.resolve_check(command, (header, ack_line)),
        }
    }

    /// The check must hold on the golden run's complete tree, with every stdout line in
    /// `{stdout}` (a checker that rejects a run no crash touched would reject every state).
    fn resolve_check(
        &self,
        command: &str,
        (header, ack_line): (&TraceHeader, Option<&regex::Regex>),
    ) -> Result<Option<(Validator, String)>, CampaignError> {
        let acks = super::tree::AckLines::new(header, ack_line);
        let stdout = self.logs.join("golden.stdout-lines");
        std::fs::write(&stdout, acks.stdout(usize::MAX)).map_err(|source| CampaignError::Io {
            what: format!("write {}", stdout.display()),
            source,
        })?;
        let place = super::tree::Place {
            dir: self.sandbox.path(),
            target: self.sandbox.target(),
            stdout: &stdout,
            acks: acks.count(usize::MAX),
            model: None,
        };
        let log = (self.logs.as_path(), "golden-check");
        let cancel = &self.context.cancel;
        let checked =
            super::tree::run_command(("--check", command), &place, log, self.timeout, cancel)?;
        match checked {
            None => Ok(None),
            Some(super::tree::TreeVerdict::Holds) => Ok(Some((
                Validator::Check(command.to_owned()),
                format!("--check {command}"),
            ))),
            Some(super::tree::TreeVerdict::Fails(reason)) => Err(CampaignError::Golden {
                subject: self.prepared.subject.label.clone(),
                what: format!(
                    "--check {command:?} rejects the tree the writer's complete, uncrashed run left: {reason}"
                ),
                stderr_tail: String::new(),
                hint: "the check must exit 0 on the tree of a run no crash touched; try it by hand on one".to_owned(),
            }),
        }
    }
}

/// The versions a crash may leave: both generation-2 outputs when they disagree, judged by
/// validity ("valid and not old"), else the one output byte for byte.
fn versions(old: Option<Vec<u8>>, new: Vec<u8>, second: Vec<u8>) -> Versions {
    match new == second {
        true => Versions::one(old, new),
        false => Versions {
            old,
            new: vec![new, second],
            rule: NewRule::ValidNotOld,
        },
    }
}

/// Recovery runs of built-ins write in-process; they must write exactly what `torture-writer`
/// wrote, or the recovery verdicts would judge different code.
fn check_in_process_payload(prepared: &Prepared, new: &[u8]) -> Result<(), CampaignError> {
    match prepared.in_process_writer() {
        Some((_, payload)) if payload != new => Err(CampaignError::Io {
            what: format!(
                "trust in-process recovery runs of {}",
                prepared.subject.label
            ),
            source: std::io::Error::other(format!(
                "torture-writer wrote {} bytes that differ from the {}-byte payload the harness computes \
                 (first difference at byte {}); rebuild both binaries from the same source",
                new.len(),
                payload.len(),
                oracle::first_diff_offset(payload, new)
            )),
        }),
        Some(_) | None => Ok(()),
    }
}

/// A nondeterministic writer can only be judged by validity; bytes cannot judge anything.
fn check_determinism(
    subject: &str,
    disagreement: Option<u64>,
    validator: &Validator,
) -> Result<(), CampaignError> {
    let Some(offset) = disagreement else {
        return Ok(());
    };
    match validator {
        Validator::Builtin(Validation::Bytes) => Err(CampaignError::Usage(format!(
            "{subject}: two uncrashed runs wrote different bytes (first difference at byte {offset}), so byte \
             comparison cannot tell the new version from a torn one; pass --validate json|jsonl or --check CMD, \
             or make the writer deterministic for a given TORTURE_GENERATION"
        ))),
        Validator::Builtin(Validation::Json | Validation::JsonLines | Validation::Command(_))
        | Validator::Check(_) => Ok(()),
    }
}

fn notes(
    old: Option<&[u8]>,
    new: &[u8],
    disagreement: Option<u64>,
    unmodelled: &[String],
) -> Vec<String> {
    let mut notes = Vec::new();
    if old == Some(new) {
        notes.push(
            "generations 1 and 2 wrote identical bytes (the writer ignores TORTURE_GENERATION): old and new \
             cannot be told apart"
                .to_owned(),
        );
    }
    if let Some(offset) = disagreement {
        notes.push(format!(
            "golden runs disagree (first difference at byte {offset}): `new` means a complete, valid file"
        ));
    }
    for what in unmodelled {
        notes.push(format!(
            "not fully modelled: {what}; kill points may miss what it writes"
        ));
    }
    notes
}

/// The tracer's view of an invocation.
pub(crate) fn writer_command(invocation: &Invocation) -> WriterCommand {
    WriterCommand {
        program: invocation.program.clone(),
        args: invocation.args.clone(),
        env: invocation.env.clone(),
    }
}

/// The target's file name, for messages.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}
