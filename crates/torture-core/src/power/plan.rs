//! Lowering a trace to steps: one [`Step`] per event, in the terms a persistence model reasons
//! about (file data, file sizes, directory operations, barriers).
//!
//! Inodes get the model's own numbers: recorded inode numbers are only aliases, learnt the first
//! time an event names both a path and an inode, because the header does not record the
//! initial target's inode number and a v1 trace records none at all. Failed calls (`ret < 0`)
//! change nothing and lower to [`StepKind::Nothing`].

use std::collections::HashMap;

use super::model::PAGE_BYTES;
use super::tree::{FsTree, Ino, Node, parent};
use crate::trace::{Event, InitialEntry, InitialNode, InitialState, Op, Trace, WriteSync};

/// `fallocate` mode bits this model understands (`<linux/falloc.h>`).
const FALLOC_FL_KEEP_SIZE: i32 = 0x01;
const FALLOC_FL_PUNCH_HOLE: i32 = 0x02;
const FALLOC_FL_ZERO_RANGE: i32 = 0x10;

/// A directory operation: one atomic metadata step under the `linux` model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirOp {
    /// `open(O_CREAT)` made a new name for a new, empty inode.
    Create { path: String, ino: Ino },
    /// `mkdir`.
    Mkdir { path: String },
    /// `symlink`.
    Symlink { path: String, text: String },
    /// `link`/`linkat`: a further name for an inode (also an `O_TMPFILE` inode's first).
    Link { path: String, ino: Ino },
    /// `unlink`.
    Unlink { path: String },
    /// `rmdir`.
    Rmdir { path: String },
    /// `rename`: `to` now names what `from` named (`node`), replacing what it named.
    Rename {
        from: String,
        to: String,
        node: Node,
        /// Whether `to` named something before (the weak model's first step drops it).
        replaced: bool,
        /// `RENAME_EXCHANGE`: the two names swap.
        exchange: bool,
    },
}

/// What a barrier makes durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Barrier {
    /// `fsync`/`fdatasync` of a regular file (or a synchronous write): its data and size.
    File { ino: Ino },
    /// `fsync` of a directory: the directory operations on its entries.
    Dir { path: String },
    /// `sync`, `syncfs`: everything.
    All,
}

/// What one event does, for a persistence model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// File data.
    Write {
        ino: Ino,
        offset_bytes: u64,
        data: Vec<u8>,
        sync: WriteSync,
        /// In program order the write grows the file (an append): its size can reach the disk
        /// before its data.
        extends: bool,
        /// The write ends in a block the file already holds (within its size rounded up to
        /// [`PAGE_BYTES`]): on ext4 such a write's size can lead its data.
        held_block: bool,
    },
    /// A file's size set by `truncate`, `O_TRUNC` or `fallocate`.
    Resize { ino: Ino, len_bytes: u64 },
    /// A directory operation.
    Dir(DirOp),
    /// `O_TMPFILE`: an inode with no name.
    NewInode { ino: Ino },
    /// A durability barrier.
    Barrier(Barrier),
    /// Changes nothing the model tracks (close, a failed call, `sync_file_range`, chmod, ...).
    Nothing,
    /// Something the tracer could not see into: no state built from this trace is trustworthy.
    Unmodelled { reason: String },
}

/// One lowered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The event's `seq`.
    pub seq: usize,
    /// The syscall, for diagnoses.
    pub syscall: String,
    /// The main path the event named, for diagnoses.
    pub path: String,
    /// What it does.
    pub kind: StepKind,
}

/// A lowered trace: the initial tree and one step per event.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target, relative to the sandbox.
    pub target: String,
    /// The old version, when there was one.
    pub old: Option<Vec<u8>>,
    /// The tree before the first event.
    pub initial: FsTree,
    /// One per event.
    pub steps: Vec<Step>,
    /// Facts about the lowering a reader should know (files of unknown contents, ...).
    pub notes: Vec<String>,
}

/// Model inode of the initial target.
const INITIAL_TARGET_INO: Ino = 1;

struct Lowering {
    initial: FsTree,
    live: FsTree,
    alias: HashMap<u64, Ino>,
    next_ino: Ino,
    notes: Vec<String>,
}

impl Plan {
    /// Lowers `trace`; `target` overrides the header's (needed for v1 traces).
    pub fn new(trace: &Trace, target: &str) -> Plan {
        let (initial, old, next_ino) = match &trace.header.initial_tree {
            Some(entries) => prepared_tree(entries, target),
            None => {
                let (tree, old) = initial_tree(trace, target);
                (tree, old, INITIAL_TARGET_INO + 1)
            }
        };
        let mut lowering = Lowering {
            live: initial.clone(),
            initial,
            alias: HashMap::new(),
            next_ino,
            notes: Vec::new(),
        };
        let steps = trace
            .events
            .iter()
            .map(|event| {
                let step = lowering.lower(event);
                apply_full(&mut lowering.live, &step.kind);
                step
            })
            .collect();
        Plan {
            target: target.to_owned(),
            old,
            initial: lowering.initial,
            steps,
            notes: lowering.notes,
        }
    }

    /// Events that could not be modelled, with why.
    pub fn unmodelled(&self) -> impl Iterator<Item = (usize, &str)> {
        self.steps.iter().filter_map(|step| match &step.kind {
            StepKind::Unmodelled { reason } => Some((step.seq, reason.as_str())),
            StepKind::Write { .. }
            | StepKind::Resize { .. }
            | StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing => None,
        })
    }

    /// The tree after every event, in program order: what a run without a crash leaves.
    pub fn final_tree(&self) -> FsTree {
        let mut tree = self.initial.clone();
        for step in &self.steps {
            apply_full(&mut tree, &step.kind);
        }
        tree
    }
}

fn initial_tree(trace: &Trace, target: &str) -> (FsTree, Option<Vec<u8>>) {
    let mut tree = FsTree::new();
    let mut dir = parent(target);
    let mut dirs = Vec::new();
    while dir != "." && dir != "/" {
        dirs.push(dir.to_owned());
        dir = parent(dir);
    }
    let old = match &trace.header.initial {
        Some(InitialState::Old { data }) => Some(data.clone()),
        Some(InitialState::Absent) | None => None,
    };
    // The target's directories exist before the run when the old version does; else only those
    // the writer does not make itself (the harness creates a nested target's parents only with
    // an old version in place, so a writer that makes its own directory finds none).
    let made = |dir: &str| {
        let made_here =
            |e: &crate::trace::Event| matches!(&e.op, Op::Mkdir { path, .. } if path == dir);
        trace.events.iter().any(made_here)
    };
    for dir in dirs.iter().rev() {
        if old.is_some() || !made(dir) {
            tree.insert(dir, Node::Dir);
        }
    }
    if let Some(data) = &old {
        tree.insert(target, Node::File(INITIAL_TARGET_INO));
        tree.inode_mut(INITIAL_TARGET_INO).write_at(0, data);
    }
    (tree, old)
}

/// The tree `--setup` prepared (a v3 trace's initial tree), the old version (the target's
/// bytes, when the setup made it a file) and the first free model inode. Every file is durable
/// with its contents: nothing that existed before the run is modelled as empty.
fn prepared_tree(entries: &[InitialEntry], target: &str) -> (FsTree, Option<Vec<u8>>, Ino) {
    let mut tree = FsTree::new();
    let mut old = None;
    let mut next_ino = INITIAL_TARGET_INO + 1;
    for entry in entries {
        match &entry.node {
            InitialNode::Dir => tree.insert(&entry.path, Node::Dir),
            InitialNode::Symlink { text } => tree.insert(&entry.path, Node::Symlink(text.clone())),
            InitialNode::File { data } => {
                let ino = match entry.path == target {
                    true => INITIAL_TARGET_INO,
                    false => {
                        next_ino += 1;
                        next_ino - 1
                    }
                };
                if ino == INITIAL_TARGET_INO {
                    old = Some(data.clone());
                }
                tree.insert(&entry.path, Node::File(ino));
                tree.inode_mut(ino).write_at(0, data);
            }
        }
    }
    (tree, old, next_ino)
}

/// Applies a step as it happened (no crash).
pub(crate) fn apply_full(tree: &mut FsTree, kind: &StepKind) {
    super::replay::apply(
        tree,
        kind,
        super::replay::Portion::Full,
        super::Fill::Zeros,
        0,
    );
}

impl Lowering {
    fn fresh(&mut self, recorded: Option<u64>) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        if let Some(recorded) = recorded {
            self.alias.insert(recorded, ino);
        }
        ino
    }

    /// The model inode of a file named by `path` and/or a recorded inode number.
    fn file(&mut self, path: &str, recorded: Option<u64>) -> Ino {
        if let Some(ino) = recorded.and_then(|r| self.alias.get(&r)) {
            return *ino;
        }
        let hashed = path
            .strip_prefix('#')
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|r| self.alias.get(&r));
        if let Some(ino) = hashed {
            return *ino;
        }
        if let Some(Node::File(ino)) = self.live.node(path) {
            let ino = *ino;
            if let Some(recorded) = recorded {
                self.alias.insert(recorded, ino);
            }
            return ino;
        }
        let ino = self.fresh(recorded);
        if !path.starts_with('#') && !path.starts_with('/') {
            self.notes.push(format!(
                "`{path}` existed before the run but the trace does not hold its contents: it is modelled as empty"
            ));
            self.live.insert(path, Node::File(ino));
            self.initial.insert(path, Node::File(ino));
        }
        ino
    }

    fn lower(&mut self, event: &Event) -> Step {
        let path = event
            .op
            .paths()
            .first()
            .map_or(String::new(), |p| (*p).to_owned());
        let kind = if event.ret < 0 {
            StepKind::Nothing
        } else {
            self.lower_op(&event.op, event.ret)
        };
        Step {
            seq: event.seq as usize,
            syscall: event.syscall.clone(),
            path,
            kind,
        }
    }

    fn lower_op(&mut self, op: &Op, ret: i64) -> StepKind {
        if op.paths().iter().any(|p| p.starts_with('/')) {
            return outside(op);
        }
        match op {
            Op::Open {
                path,
                ino,
                created,
                truncated,
                tmpfile,
                directory,
                ..
            } => self.lower_open(path, *ino, *created, *truncated, *tmpfile, *directory),
            Op::Write {
                path,
                ino,
                offset_bytes,
                data,
                sync,
                ..
            } => {
                let ino = self.file(path, *ino);
                let size = self.live.inode(ino).map_or(0, |i| i.data().len() as u64);
                StepKind::Write {
                    ino,
                    offset_bytes: *offset_bytes,
                    data: data.clone(),
                    sync: *sync,
                    extends: offset_bytes + data.len() as u64 > size,
                    held_block: held_block(offset_bytes + data.len() as u64, size),
                }
            }
            Op::Rename {
                from,
                to,
                exchange,
                from_ino,
                ..
            } => self.lower_rename(from, to, *from_ino, *exchange),
            Op::Link { from, from_ino, to } => {
                let ino = self.file(from, *from_ino);
                StepKind::Dir(DirOp::Link {
                    path: to.clone(),
                    ino,
                })
            }
            Op::Symlink { target, path } => StepKind::Dir(DirOp::Symlink {
                path: path.clone(),
                text: target.clone(),
            }),
            Op::Unlink { path, .. } => StepKind::Dir(DirOp::Unlink { path: path.clone() }),
            Op::Rmdir { path } => StepKind::Dir(DirOp::Rmdir { path: path.clone() }),
            Op::Mkdir { path, .. } => StepKind::Dir(DirOp::Mkdir { path: path.clone() }),
            Op::Fsync { path, ino } | Op::Fdatasync { path, ino } => self.lower_fsync(path, *ino),
            Op::Truncate {
                path,
                ino,
                len_bytes,
            } => StepKind::Resize {
                ino: self.file(path, *ino),
                len_bytes: *len_bytes,
            },
            Op::Fallocate {
                path,
                ino,
                mode,
                offset_bytes,
                len_bytes,
            } => {
                let ino = self.file(path, *ino);
                self.lower_fallocate(ino, *mode, *offset_bytes, *len_bytes)
            }
            Op::Sync | Op::Syncfs { path: Some(_) } => StepKind::Barrier(Barrier::All),
            // syncfs on an fd outside the sandbox: maybe another file system, so no barrier.
            Op::Syncfs { path: None }
            | Op::SyncFileRange { .. }
            | Op::Chmod { .. }
            | Op::Chown { .. }
            | Op::Close { .. }
            | Op::Msync { .. } => StepKind::Nothing,
            Op::Mmap { path, .. } => StepKind::Unmodelled {
                reason: format!(
                    "{path} is mapped shared and writable (ret {ret:#x}): writes through the mapping are invisible"
                ),
            },
            Op::IoUringSetup { .. } => StepKind::Unmodelled {
                reason: "io_uring: I/O submitted through the ring is invisible".to_owned(),
            },
        }
    }

    fn lower_open(
        &mut self,
        path: &str,
        recorded: Option<u64>,
        created: bool,
        truncated: bool,
        tmpfile: bool,
        directory: bool,
    ) -> StepKind {
        if tmpfile {
            let ino = self.fresh(recorded);
            StepKind::NewInode { ino }
        } else if created {
            let ino = self.fresh(recorded);
            StepKind::Dir(DirOp::Create {
                path: path.to_owned(),
                ino,
            })
        } else if directory || matches!(self.live.node(path), Some(Node::Dir)) || path == "." {
            StepKind::Nothing
        } else {
            let ino = self.file(path, recorded);
            if truncated {
                StepKind::Resize { ino, len_bytes: 0 }
            } else {
                StepKind::Nothing
            }
        }
    }

    fn lower_rename(
        &mut self,
        from: &str,
        to: &str,
        recorded: Option<u64>,
        exchange: bool,
    ) -> StepKind {
        let node = match self.live.node(from).cloned() {
            Some(Node::File(ino)) => {
                if let Some(recorded) = recorded {
                    self.alias.insert(recorded, ino);
                }
                Node::File(ino)
            }
            Some(node) => node,
            None => Node::File(self.file(from, recorded)),
        };
        StepKind::Dir(DirOp::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            node,
            replaced: self.live.node(to).is_some(),
            exchange,
        })
    }

    fn lower_fsync(&mut self, path: &str, recorded: Option<u64>) -> StepKind {
        let known = recorded.is_some_and(|r| self.alias.contains_key(&r));
        // A path the run never showed as a file is taken for a directory: a directory fsync of
        // it covers at most the entries below it.
        let file = matches!(self.live.node(path), Some(Node::File(_))) || path.starts_with('#');
        if !known && !file {
            StepKind::Barrier(Barrier::Dir {
                path: path.to_owned(),
            })
        } else {
            StepKind::Barrier(Barrier::File {
                ino: self.file(path, recorded),
            })
        }
    }

    fn lower_fallocate(&mut self, ino: Ino, mode: i32, offset: u64, len: u64) -> StepKind {
        let size = self.live.inode(ino).map_or(0, |i| i.data().len() as u64);
        let end = offset.saturating_add(len);
        let keep_size = mode & FALLOC_FL_KEEP_SIZE != 0;
        let zeroing = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) != 0;
        let known = mode & !(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE);
        if known != 0 || end > (1 << 40) {
            return StepKind::Unmodelled {
                reason: format!("fallocate mode {mode:#x} over {offset}+{len} is not modelled"),
            };
        }
        if zeroing {
            let zero_end = if keep_size { end.min(size) } else { end };
            if zero_end <= offset {
                return StepKind::Nothing;
            }
            return StepKind::Write {
                ino,
                offset_bytes: offset,
                data: vec![0; (zero_end - offset) as usize],
                sync: WriteSync::No,
                extends: zero_end > size,
                held_block: held_block(zero_end, size),
            };
        }
        if keep_size || end <= size {
            StepKind::Nothing
        } else {
            StepKind::Resize {
                ino,
                len_bytes: end,
            }
        }
    }
}

fn outside(op: &Op) -> StepKind {
    match op {
        Op::Rename { .. } | Op::Link { .. } => StepKind::Unmodelled {
            reason: format!(
                "{} names a file outside the sandbox, whose contents the trace does not hold",
                op.kind()
            ),
        },
        Op::Open { .. }
        | Op::Write { .. }
        | Op::Symlink { .. }
        | Op::Unlink { .. }
        | Op::Rmdir { .. }
        | Op::Mkdir { .. }
        | Op::Fsync { .. }
        | Op::Fdatasync { .. }
        | Op::SyncFileRange { .. }
        | Op::Truncate { .. }
        | Op::Fallocate { .. }
        | Op::Chmod { .. }
        | Op::Chown { .. }
        | Op::Close { .. }
        | Op::Sync
        | Op::Syncfs { .. }
        | Op::Mmap { .. }
        | Op::Msync { .. }
        | Op::IoUringSetup { .. } => StepKind::Nothing,
    }
}

impl StepKind {
    /// A write's length in bytes.
    pub fn write_len(&self) -> Option<usize> {
        match self {
            StepKind::Write { data, .. } => Some(data.len()),
            StepKind::Resize { .. }
            | StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => None,
        }
    }

    /// The inode a data step (write, resize) changes.
    pub fn data_ino(&self) -> Option<Ino> {
        match self {
            StepKind::Write { ino, .. } | StepKind::Resize { ino, .. } => Some(*ino),
            StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => None,
        }
    }
}

impl DirOp {
    /// The directories whose entries the operation changes.
    pub fn parents(&self) -> Vec<&str> {
        match self {
            DirOp::Create { path, .. }
            | DirOp::Mkdir { path }
            | DirOp::Symlink { path, .. }
            | DirOp::Link { path, .. }
            | DirOp::Unlink { path }
            | DirOp::Rmdir { path } => vec![parent(path)],
            DirOp::Rename { from, to, .. } => vec![parent(from), parent(to)],
        }
    }
}

/// Whether a write ending at `end_bytes` into a file of `size_bytes` ends in a block the file
/// already holds (ext4 asks this of the write's last byte): 4096 bytes is the largest block of
/// ext4 on this page size, so no smaller block holds more.
fn held_block(end_bytes: u64, size_bytes: u64) -> bool {
    size_bytes > 0 && end_bytes <= size_bytes.div_ceil(PAGE_BYTES) * PAGE_BYTES
}
