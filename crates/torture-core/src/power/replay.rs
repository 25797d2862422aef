//! Replaying a crash state: the program-order tree up to where the state first departs from
//! program order (taken from a snapshot), then the remaining steps with the dropped ones skipped
//! and the torn one applied in part.

use super::Fill;
use super::plan::{DirOp, Plan, StepKind};
use super::state::CrashState;
use super::tree::{FsTree, Node};
use crate::rng::SplitMix64;

/// How much of a step reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Portion {
    /// All of it.
    Full,
    /// A write: its first `kept` bytes; with `fill`, its new size too, the rest of the grown
    /// range reading as the fill. A rename under `weak`: its first `kept` of three steps.
    Partial { kept: u64, fill: bool },
}

/// Applies one step to `tree`. `seq` seeds garbage fill, so a state replays byte for byte.
pub fn apply(tree: &mut FsTree, kind: &StepKind, portion: Portion, fill: Fill, seq: usize) {
    match kind {
        StepKind::Write {
            ino,
            offset_bytes,
            data,
            ..
        } => {
            let inode = tree.inode_mut(*ino);
            let offset = *offset_bytes as usize;
            match portion {
                Portion::Full => inode.write_at(offset, data),
                Portion::Partial { kept, fill: grow } => {
                    let kept = (kept as usize).min(data.len());
                    let size = inode.data().len();
                    inode.write_at(offset, &data[..kept]);
                    let end = offset + data.len();
                    let from = size.max(offset + kept);
                    if grow && end > from {
                        inode.write_at(from, &fill_bytes(fill, seq, end - from));
                    }
                }
            }
        }
        StepKind::Resize { ino, len_bytes } => tree.inode_mut(*ino).set_len(*len_bytes as usize),
        StepKind::Dir(op) => apply_dir(tree, op, portion),
        StepKind::NewInode { ino } => tree.new_inode(*ino),
        StepKind::Barrier(_) | StepKind::Nothing | StepKind::Unmodelled { .. } => {}
    }
}

fn fill_bytes(fill: Fill, seq: usize, len: usize) -> Vec<u8> {
    match fill {
        Fill::Zeros => vec![0; len],
        Fill::Garbage => {
            let mut rng = SplitMix64::new(0x6761_7262_6167_6500 ^ seq as u64);
            let mut bytes = Vec::with_capacity(len + 8);
            while bytes.len() < len {
                bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
            bytes.truncate(len);
            bytes
        }
    }
}

fn apply_dir(tree: &mut FsTree, op: &DirOp, portion: Portion) {
    match op {
        DirOp::Create { path, ino } => {
            tree.new_inode(*ino);
            tree.insert(path, Node::File(*ino));
        }
        DirOp::Mkdir { path } => tree.insert(path, Node::Dir),
        DirOp::Symlink { path, text } => tree.insert(path, Node::Symlink(text.clone())),
        DirOp::Link { path, ino } => tree.insert(path, Node::File(*ino)),
        DirOp::Unlink { path } | DirOp::Rmdir { path } => {
            tree.remove(path);
        }
        DirOp::Rename {
            from,
            to,
            node,
            exchange,
            ..
        } => match (portion, *exchange) {
            (_, true) => tree.exchange(from, to),
            (Portion::Full, false) => tree.move_entry(from, to, node.clone()),
            (Portion::Partial { kept, .. }, false) => {
                // The weak model's rename: drop the destination, drop the source, add the
                // destination; `kept` of those three steps happened.
                if kept >= 1 {
                    tree.remove(to);
                }
                if kept >= 2 {
                    tree.remove(from);
                }
            }
        },
    }
}

/// Snapshots of the program-order tree, to replay any state from the nearest one.
#[derive(Debug, Clone)]
pub struct Replayer {
    stride: usize,
    snapshots: Vec<FsTree>,
}

/// Snapshots share unchanged inodes; this bounds the bytes they copy between them.
const SNAPSHOT_BUDGET_BYTES: usize = 256 << 20;

impl Replayer {
    /// Snapshots the program-order tree every few steps (every step when memory allows).
    pub fn new(plan: &Plan) -> Replayer {
        let written: usize = plan
            .steps
            .iter()
            .map(|step| match &step.kind {
                StepKind::Write { data, .. } => data.len(),
                StepKind::Resize { .. }
                | StepKind::Dir(_)
                | StepKind::NewInode { .. }
                | StepKind::Barrier(_)
                | StepKind::Nothing
                | StepKind::Unmodelled { .. } => 0,
            })
            .sum();
        let largest = written + plan.old.as_ref().map_or(0, Vec::len);
        let cost = largest.saturating_mul(plan.steps.len()).max(1);
        let stride = cost.div_ceil(SNAPSHOT_BUDGET_BYTES).max(1);
        let mut snapshots = vec![plan.initial.clone()];
        let mut tree = plan.initial.clone();
        for (i, step) in plan.steps.iter().enumerate() {
            super::plan::apply_full(&mut tree, &step.kind);
            if (i + 1) % stride == 0 {
                snapshots.push(tree.clone());
            }
        }
        Replayer { stride, snapshots }
    }

    /// The tree a crash state leaves. The state must fit the plan (see [`super::model`]).
    pub fn tree(&self, plan: &Plan, state: &CrashState, fill: Fill) -> FsTree {
        let diverge = state.divergence().min(state.events);
        let base = (diverge / self.stride).min(self.snapshots.len() - 1);
        let mut tree = self.snapshots[base].clone();
        self.continue_from(plan, &mut tree, base * self.stride, state, fill);
        tree
    }

    /// Applies the steps `from..state.events` of `state` to `tree`.
    pub fn continue_from(
        &self,
        plan: &Plan,
        tree: &mut FsTree,
        from: usize,
        state: &CrashState,
        fill: Fill,
    ) {
        let mut dropped = state.dropped.iter().peekable();
        for step in plan.steps.iter().take(state.events).skip(from) {
            while dropped.next_if(|&&d| d < step.seq).is_some() {}
            if dropped.next_if_eq(&&step.seq).is_some() {
                continue;
            }
            let portion = match state.partial {
                Some(p) if p.seq == step.seq => Portion::Partial {
                    kept: p.kept,
                    fill: p.fill,
                },
                Some(_) | None if state.is_sized(step.seq) => Portion::Partial {
                    kept: 0,
                    fill: true,
                },
                Some(_) | None => Portion::Full,
            };
            apply(tree, &step.kind, portion, fill, step.seq);
        }
    }
}
