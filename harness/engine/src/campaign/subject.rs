//! Subjects: the built-in strategies (run through `torture-writer`) and user commands.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::CampaignError;
use super::process::{self, Invocation};
use torture_core::oracle::{Expect, RunExit};
use torture_writers::strategies::{self, Origin};

/// The name of the built-in writer program, installed next to `torture`.
pub const WRITER_BINARY: &str = "torture-writer";

/// A built-in strategy as the harness sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// Name used with `--subject`.
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// What it must show under SIGKILL.
    pub expect: Expect,
    /// Whose code it is: this project's or a peer crate's.
    pub origin: Origin,
}

/// Every built-in strategy, in the order `torture list` shows them.
pub fn builtins() -> Vec<Builtin> {
    strategies::Strategy::ALL
        .iter()
        .map(|s| as_builtin(*s))
        .collect()
}

/// The built-ins run only when named with `--subject`: the concurrent writers, which only
/// `torture power` judges (see `Strategy::CONCURRENT`).
pub fn named_only_builtins() -> Vec<Builtin> {
    strategies::Strategy::CONCURRENT
        .iter()
        .map(|s| as_builtin(*s))
        .collect()
}

fn as_builtin(strategy: strategies::Strategy) -> Builtin {
    Builtin {
        name: strategy.name(),
        description: strategy.description(),
        expect: strategy.expect_kill(),
        origin: strategy.origin(),
    }
}

/// The built-in strategy called `name`.
pub fn builtin(name: &str) -> Option<Builtin> {
    builtins()
        .into_iter()
        .chain(named_only_builtins())
        .find(|b| b.name == name)
}

/// What a subject runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectKind {
    /// A built-in strategy through `torture-writer`.
    Builtin {
        /// Payload size.
        size_bytes: u64,
    },
    /// A user command (`-- CMD ARGS...`), `{target}` not yet replaced.
    Command {
        /// Program and arguments as given.
        argv: Vec<OsString>,
    },
}

/// One writer under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The strategy name (what `--subject` takes), or the command's program name.
    pub name: String,
    /// How reports call it; unique within a run (e.g. `intact@2KiB-all` next to `intact`).
    pub label: String,
    /// What it runs.
    pub kind: SubjectKind,
    /// What it must show.
    pub expect: Expect,
    /// Kill points for this subject, overriding the run's selection.
    pub selection: Option<super::Selection>,
}

impl Subject {
    /// A built-in subject.
    pub fn builtin(builtin: Builtin, size_bytes: u64) -> Subject {
        Subject {
            name: builtin.name.to_owned(),
            label: builtin.name.to_owned(),
            kind: SubjectKind::Builtin { size_bytes },
            expect: builtin.expect,
            selection: None,
        }
    }

    /// A user command, named after its program.
    pub fn command(argv: Vec<OsString>, expect: Expect) -> Subject {
        let name = argv
            .first()
            .and_then(|program| Path::new(program).file_name())
            .map_or_else(
                || "command".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            );
        Subject {
            label: name.clone(),
            name,
            kind: SubjectKind::Command { argv },
            expect,
            selection: None,
        }
    }
}

/// A subject with its program resolved, ready to build invocations for any sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub subject: Subject,
    program: PathBuf,
    /// Arguments with `{target}` still in them.
    args: Vec<OsString>,
    /// How many of `args` come before the strategy name (see [`WriterProgram::prefix`]).
    writer_prefix_len: usize,
    /// Built-ins: the strategy and its generation-2 payload, for in-process recovery runs.
    in_process: Option<(strategies::Strategy, Vec<u8>)>,
}

/// The built-in writer program and the arguments that come before the strategy name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterProgram {
    /// `torture-writer` next to the running executable, or `torture` itself.
    pub path: PathBuf,
    /// Empty for `torture-writer`; `["__writer"]` when `torture` runs its writers itself.
    pub prefix: Vec<OsString>,
}

/// The built-in writer: `torture-writer` next to the running executable (a small program,
/// quick to start), else `torture __writer` when the running executable is `torture` (a build
/// of `torture` alone, as `cargo run --bin torture` makes).
pub fn writer_path() -> Result<WriterProgram, CampaignError> {
    let exe = std::env::current_exe().map_err(|e| CampaignError::WriterMissing {
        path: PathBuf::from(WRITER_BINARY),
        reason: format!("cannot find the running executable: {e}"),
    })?;
    let sibling = exe.with_file_name(WRITER_BINARY);
    if sibling.is_file() {
        return Ok(WriterProgram {
            path: sibling,
            prefix: Vec::new(),
        });
    }
    match exe.file_name().is_some_and(|name| name == "torture") {
        true => Ok(WriterProgram {
            path: exe,
            prefix: vec![torture_writers::writer::SUBCOMMAND.into()],
        }),
        false => Err(CampaignError::WriterMissing {
            path: sibling,
            reason: "no such file".to_owned(),
        }),
    }
}

/// Checks every subject's program before anything runs, so a missing command or writer is
/// reported at once rather than after the first subjects.
pub(crate) fn check_all(subjects: &[Subject]) -> Result<(), CampaignError> {
    for subject in subjects {
        program_and_args(subject)?;
        if let SubjectKind::Builtin { .. } = subject.kind {
            strategy(&subject.name)?;
        }
    }
    Ok(())
}

/// Everything a subject needs to run; built when its turn comes (a built-in's payload can be
/// large, so only one subject's is held at a time).
pub(crate) fn prepare(subject: &Subject) -> Result<Prepared, CampaignError> {
    let (program, args, writer_prefix_len) = program_and_args(subject)?;
    let in_process = match &subject.kind {
        SubjectKind::Builtin { size_bytes } => Some(in_process_writer(&subject.name, *size_bytes)?),
        SubjectKind::Command { .. } => None,
    };
    Ok(Prepared {
        subject: subject.clone(),
        program,
        args,
        writer_prefix_len,
        in_process,
    })
}

/// A subject whose writer is never run (`torture power --trace`: its saved trace stands in
/// for the golden phase, and no recovery run is made). Its program is taken as given.
pub(crate) fn never_run(subject: &Subject) -> Prepared {
    let argv = match &subject.kind {
        SubjectKind::Command { argv } => argv.clone(),
        SubjectKind::Builtin { .. } => Vec::new(),
    };
    let (program, args) = argv.split_first().map_or_else(
        || (PathBuf::new(), Vec::new()),
        |(program, args)| (PathBuf::from(program), args.to_vec()),
    );
    Prepared {
        subject: subject.clone(),
        program,
        args,
        writer_prefix_len: 0,
        in_process: None,
    }
}

/// The program, its arguments, and how many of them come before a built-in's strategy name.
fn program_and_args(subject: &Subject) -> Result<(PathBuf, Vec<OsString>, usize), CampaignError> {
    match &subject.kind {
        SubjectKind::Builtin { size_bytes } => {
            let writer = writer_path()?;
            let prefix_len = writer.prefix.len();
            let mut args = writer.prefix;
            args.extend([
                subject.name.clone().into(),
                "--target".into(),
                "{target}".into(),
                "--size".into(),
                size_bytes.to_string().into(),
            ]);
            Ok((writer.path, args, prefix_len))
        }
        SubjectKind::Command { argv } => {
            let (program, args) = argv.split_first().ok_or(CampaignError::CommandNotFound(
                "the command after `--` is empty".to_owned(),
            ))?;
            let program = process::resolve_program(Path::new(program))
                .map_err(CampaignError::CommandNotFound)?;
            let args = args.iter().map(absolutize_existing).collect();
            Ok((program, args, 0))
        }
    }
}

fn strategy(name: &str) -> Result<strategies::Strategy, CampaignError> {
    name.parse()
        .map_err(|e: strategies::UnknownStrategy| CampaignError::Usage(e.to_string()))
}

/// The strategy called `name` and the payload `torture-writer` writes for generation 2.
fn in_process_writer(
    name: &str,
    size_bytes: u64,
) -> Result<(strategies::Strategy, Vec<u8>), CampaignError> {
    let size = usize::try_from(size_bytes).map_err(|_| {
        CampaignError::Usage(format!("--size {size_bytes} is too large for this machine"))
    })?;
    Ok((strategy(name)?, torture_core::payload::payload(size, 2)))
}

/// The writer runs inside its sandbox, so a relative argument naming a file in the directory
/// torture was started from (`python3 writer.py`) would not be found there: such arguments are
/// made absolute. Anything else passes through untouched.
fn absolutize_existing(arg: &OsString) -> OsString {
    let path = Path::new(arg);
    if path.is_relative() && !arg.is_empty() && path.is_file() {
        if let Ok(absolute) = std::path::absolute(path) {
            return absolute.into_os_string();
        }
    }
    arg.clone()
}

impl Prepared {
    /// The invocation for `generation` writing `target` (absolute) in the sandbox `dir`:
    /// `{target}` and `{dir}` in the writer's arguments are replaced, as in `--setup`,
    /// `--recover` and `--check`, and `TORTURE_TARGET` and `TORTURE_DIR` are set.
    pub fn invocation(&self, (dir, target): (&Path, &Path), generation: u64) -> Invocation {
        let target_text = target.as_os_str();
        let dir_text = dir.as_os_str();
        let args = self
            .args
            .iter()
            .map(|arg| {
                replace_placeholder(
                    &replace_placeholder(arg, b"{target}", target_text),
                    b"{dir}",
                    dir_text,
                )
            })
            .collect();
        Invocation {
            program: self.program.clone(),
            args,
            env: vec![
                ("TORTURE_TARGET".into(), target_text.to_owned()),
                ("TORTURE_DIR".into(), dir_text.to_owned()),
                ("TORTURE_GENERATION".into(), generation.to_string().into()),
            ],
        }
    }

    /// True for built-in strategies.
    pub fn is_builtin(&self) -> bool {
        matches!(self.subject.kind, SubjectKind::Builtin { .. })
    }

    /// For built-ins: the same strategy code `torture-writer` runs, and the payload it would
    /// write for generation 2 (recovery runs use it in-process, saving a process start).
    pub fn in_process_writer(&self) -> Option<(strategies::Strategy, &[u8])> {
        self.in_process
            .as_ref()
            .map(|(strategy, payload)| (*strategy, payload.as_slice()))
    }

    /// For built-ins: one uncrashed run of the writer in this process, exactly what
    /// `torture-writer` does (`Strategy::run_step`: its start-up sweep, then the write; exit 1 on
    /// an error), without a process start. `None` for commands, which must run as processes.
    pub fn run_in_process(&self, target: &Path) -> Option<RunExit> {
        self.in_process_writer().map(|(strategy, payload)| {
            match strategy.run_step(target, payload) {
                Ok(()) => RunExit::Code(0),
                Err(_) => RunExit::Code(1),
            }
        })
    }

    /// The program that runs (for the spawn baseline).
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments before the strategy name: `["__writer"]` when `torture` is its own writer.
    pub fn writer_prefix(&self) -> &[OsString] {
        &self.args[..self.writer_prefix_len]
    }
}

/// Replaces every `placeholder` in `arg` by `value`, byte-wise so non-UTF-8 arguments survive.
fn replace_placeholder(arg: &OsString, placeholder: &[u8], value: &std::ffi::OsStr) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = arg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest
        .windows(placeholder.len())
        .position(|w| w == placeholder)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(value.as_bytes());
        rest = &rest[at + placeholder.len()..];
    }
    out.extend_from_slice(rest);
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_placeholder_is_replaced_everywhere() {
        let target = std::ffi::OsStr::new("/s/target.json");
        let replace = |arg: &str| replace_placeholder(&arg.into(), b"{target}", target);
        assert_eq!(replace("{target}"), "/s/target.json");
        assert_eq!(
            replace("--out={target},{target}"),
            "--out=/s/target.json,/s/target.json"
        );
        assert_eq!(replace("plain"), "plain");
    }

    #[test]
    fn commands_are_named_after_their_program() {
        let subject =
            Subject::command(vec!["/usr/bin/python3".into(), "w.py".into()], Expect::Pass);
        assert_eq!(subject.name, "python3");
    }

    #[test]
    fn a_missing_command_is_reported_before_running() {
        let subject = Subject::command(vec!["no-such-writer-xyz".into()], Expect::Pass);
        let err = prepare(&subject).expect_err("missing command");
        assert!(err.to_string().contains("command not found"), "{err}");
    }

    #[test]
    fn invocation_carries_target_and_generation() {
        let subject = Subject::command(
            vec!["sh".into(), "-c".into(), "cat > {target}; ls {dir}".into()],
            Expect::Pass,
        );
        let prepared = prepare(&subject).expect("sh exists");
        let invocation = prepared.invocation((Path::new("/s"), Path::new("/s/t.json")), 2);
        assert_eq!(
            invocation.args,
            vec![
                OsString::from("-c"),
                OsString::from("cat > /s/t.json; ls /s")
            ]
        );
        assert!(
            invocation
                .env
                .contains(&("TORTURE_DIR".into(), "/s".into()))
        );
        assert!(
            invocation
                .env
                .contains(&("TORTURE_GENERATION".into(), "2".into()))
        );
        assert!(
            invocation
                .env
                .contains(&("TORTURE_TARGET".into(), "/s/t.json".into()))
        );
    }
}
