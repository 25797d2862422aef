//! A simulated race for tests: writers as scripts of file operations (one step each) on an
//! in-memory directory, run under a [`Scheduler`] exactly as the tracer will run processes,
//! producing the step log and the facts the oracle judges.

use std::collections::BTreeMap;

use crate::oracle::{RunExit, TargetState};

use super::diagnose::{Op, Step};
use super::generate::Scheduler;
use super::oracle::{Mode, RaceFacts, TargetRead, WriterEnd};
use super::schedule::{Schedule, WriterId};

pub(crate) const TARGET: &str = "target.json";

/// One step of a simulated writer.
#[derive(Debug, Clone)]
pub(crate) enum SimOp {
    /// Open (creating) and make it the writer's descriptor; fails on an existing name if
    /// `exclusive`.
    Open {
        path: String,
        truncate: bool,
        exclusive: bool,
    },
    /// Write at the descriptor's offset.
    Write(Vec<u8>),
    /// Rename; `no_replace` fails (and removes `from`) when `to` exists.
    Rename {
        from: String,
        to: String,
        no_replace: bool,
    },
    /// Fails the writer (exit 1) when the path exists: the "check" of check-then-create.
    FailIfExists(String),
}

#[derive(Debug, Default)]
struct Fs {
    names: BTreeMap<String, usize>,
    inodes: Vec<Vec<u8>>,
}

impl Fs {
    fn with_target(old: Option<&[u8]>) -> Self {
        let mut fs = Fs::default();
        if let Some(old) = old {
            fs.inodes.push(old.to_vec());
            fs.names.insert(TARGET.to_owned(), 0);
        }
        fs
    }
}

#[derive(Debug, Default, Clone)]
struct Proc {
    next: usize,
    fd: Option<(usize, usize, String)>,
    written: BTreeMap<String, u64>,
    exit: Option<i32>,
}

/// What one simulated interleaving produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) facts: RaceFacts,
    pub(crate) steps: Vec<Step>,
    pub(crate) schedule: Schedule,
}

/// Writer `n`'s version: its number repeated with a varying tail, 3 chunks of 4 KiB.
pub(crate) fn version(writer: u32) -> Vec<u8> {
    (0..3 * 4096)
        .map(|i| b'a' + (writer as u8 * 7 + (i % 13) as u8) % 26)
        .collect()
}

fn chunks(writer: u32) -> Vec<SimOp> {
    version(writer)
        .chunks(4096)
        .map(|c| SimOp::Write(c.to_vec()))
        .collect()
}

/// The fixed-temp-name canary: every writer uses `target.json.tmp`.
pub(crate) fn fixed_temp(writer: u32) -> Vec<SimOp> {
    temp_then_rename(writer, format!("{TARGET}.tmp"), false)
}

/// A correct replace: a temp name of its own, then rename.
pub(crate) fn unique_temp(writer: u32) -> Vec<SimOp> {
    temp_then_rename(writer, format!("{TARGET}.tmp.{writer}"), false)
}

/// A correct no-clobber: a temp name of its own, then rename with RENAME_NOREPLACE.
pub(crate) fn no_replace(writer: u32) -> Vec<SimOp> {
    temp_then_rename(writer, format!("{TARGET}.tmp.{writer}"), true)
}

/// Broken no-clobber: check that the target is absent, then a plain rename.
pub(crate) fn check_then_rename(writer: u32) -> Vec<SimOp> {
    let mut ops = vec![SimOp::FailIfExists(TARGET.to_owned())];
    ops.extend(unique_temp(writer));
    ops
}

/// Broken replace: truncate the target and write it in place.
pub(crate) fn in_place(writer: u32) -> Vec<SimOp> {
    let mut ops = vec![SimOp::Open {
        path: TARGET.to_owned(),
        truncate: true,
        exclusive: false,
    }];
    ops.extend(chunks(writer));
    ops
}

fn temp_then_rename(writer: u32, temp: String, no_replace: bool) -> Vec<SimOp> {
    let mut ops = vec![SimOp::Open {
        path: temp.clone(),
        truncate: true,
        exclusive: false,
    }];
    ops.extend(chunks(writer));
    ops.push(SimOp::Rename {
        from: temp,
        to: TARGET.to_owned(),
        no_replace,
    });
    ops
}

/// Runs one interleaving of `programs` (writer `i + 1` at index `i`) under `scheduler`, which
/// must have been started with `next_schedule`.
pub(crate) fn run(
    programs: &[Vec<SimOp>],
    mode: Mode,
    old: Option<&[u8]>,
    scheduler: &mut Scheduler,
) -> Outcome {
    let mut fs = Fs::with_target(old);
    let mut procs = vec![Proc::default(); programs.len()];
    let mut steps = Vec::new();
    let mut reads = Vec::new();
    loop {
        let runnable = runnable(programs, &procs);
        if let Some(victim) = scheduler.kill_due(&runnable) {
            procs[victim.0 as usize - 1].exit = Some(-9);
            continue;
        }
        if runnable.is_empty() {
            break;
        }
        let writer = scheduler.choose(&runnable).expect("a runnable writer");
        let proc = &mut procs[writer.0 as usize - 1];
        let sim_op = &programs[writer.0 as usize - 1][proc.next];
        let index = steps.len() as u64;
        let (syscall, op) = execute(&mut fs, proc, sim_op);
        steps.push(Step {
            index,
            writer,
            seq: proc.next as u64,
            syscall: syscall.to_owned(),
            op,
        });
        proc.next += 1;
        reads.push(TargetRead {
            after_step: index,
            state: target_state(&fs),
        });
    }
    let schedule = scheduler.finish().expect("the interleaving ends");
    Outcome {
        facts: facts(programs.len(), mode, old, &procs, reads, &fs),
        steps,
        schedule,
    }
}

fn facts(
    writers: usize,
    mode: Mode,
    old: Option<&[u8]>,
    procs: &[Proc],
    reads: Vec<TargetRead>,
    fs: &Fs,
) -> RaceFacts {
    let target_there = usize::from(fs.names.contains_key(TARGET));
    RaceFacts {
        mode,
        old: old.map(<[u8]>::to_vec),
        versions: (1..=writers as u32).map(version).collect(),
        ends: procs.iter().map(end).collect(),
        // The simulation keeps no trace: a failed simulated writer counts as having touched
        // the target.
        trails: Vec::new(),
        reads,
        final_state: target_state(fs),
        leftovers: fs.names.len().saturating_sub(target_there),
        strict: true,
        recovery: None,
        check_failures: Vec::new(),
    }
}

fn runnable(programs: &[Vec<SimOp>], procs: &[Proc]) -> Vec<WriterId> {
    (0..procs.len())
        .filter(|&i| procs[i].exit.is_none() && procs[i].next < programs[i].len())
        .map(|i| WriterId(i as u32 + 1))
        .collect()
}

fn end(proc: &Proc) -> WriterEnd {
    match proc.exit {
        Some(-9) => WriterEnd::Killed,
        Some(code) => WriterEnd::Exit(RunExit::Code(code)),
        None => WriterEnd::Exit(RunExit::Code(0)),
    }
}

fn target_state(fs: &Fs) -> TargetState {
    match fs.names.get(TARGET) {
        Some(&inode) => TargetState::Regular(fs.inodes[inode].clone()),
        None => TargetState::Absent,
    }
}

fn execute(fs: &mut Fs, proc: &mut Proc, sim_op: &SimOp) -> (&'static str, Op) {
    match sim_op {
        SimOp::Open {
            path,
            truncate,
            exclusive,
        } => {
            let inode = match fs.names.get(path) {
                Some(_) if *exclusive => return fail(proc, "openat", path),
                Some(&inode) => inode,
                None => {
                    fs.inodes.push(Vec::new());
                    fs.names.insert(path.clone(), fs.inodes.len() - 1);
                    fs.inodes.len() - 1
                }
            };
            if *truncate {
                fs.inodes[inode].clear();
            }
            proc.fd = Some((inode, 0, path.clone()));
            let op = Op::Open {
                path: path.clone(),
                truncate: *truncate,
                create: true,
                exclusive: *exclusive,
            };
            ("openat", op)
        }
        SimOp::Write(bytes) => write(fs, proc, bytes),
        SimOp::Rename {
            from,
            to,
            no_replace,
        } => rename(fs, proc, from, to, *no_replace),
        SimOp::FailIfExists(path) => {
            if fs.names.contains_key(path) {
                proc.exit = Some(1);
            }
            ("newfstatat", Op::Other { path: path.clone() })
        }
    }
}

fn write(fs: &mut Fs, proc: &mut Proc, bytes: &[u8]) -> (&'static str, Op) {
    let (inode, offset, path) = proc.fd.clone().expect("a write after an open");
    let file = &mut fs.inodes[inode];
    if file.len() < offset + bytes.len() {
        file.resize(offset + bytes.len(), 0);
    }
    file[offset..offset + bytes.len()].copy_from_slice(bytes);
    proc.fd = Some((inode, offset + bytes.len(), path.clone()));
    let written = proc.written.entry(path.clone()).or_default();
    *written += bytes.len() as u64;
    (
        "write",
        Op::Write {
            path,
            written_bytes: *written,
        },
    )
}

fn rename(
    fs: &mut Fs,
    proc: &mut Proc,
    from: &str,
    to: &str,
    no_replace: bool,
) -> (&'static str, Op) {
    let syscall = if no_replace { "renameat2" } else { "rename" };
    let op = Op::Rename {
        from: from.to_owned(),
        to: to.to_owned(),
        no_replace,
    };
    match fs.names.remove(from) {
        Some(_) if no_replace && fs.names.contains_key(to) => {
            // The loser removes its temp file and fails.
            proc.exit = Some(1);
        }
        Some(inode) => {
            fs.names.insert(to.to_owned(), inode);
        }
        None => proc.exit = Some(1),
    }
    (syscall, op)
}

fn fail(proc: &mut Proc, syscall: &'static str, path: &str) -> (&'static str, Op) {
    proc.exit = Some(1);
    (
        syscall,
        Op::Other {
            path: path.to_owned(),
        },
    )
}
