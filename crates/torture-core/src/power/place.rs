//! Placing a real tree exactly: is there a crash state at `e{k}` whose tree is this one, and
//! which operations persisted and which tore? Asked directly, without enumerating the model's
//! states, so a real tree is inside or outside, not "unknown".
//!
//! A tree is its names (set by the directory operations kept) and each named file's bytes (set
//! by the data operations on its inode kept, at most one torn in the whole state). Names and
//! inodes are independent under the file-system models, so the search splits:
//!
//! 1. every choice of lost directory operations the model allows (a suffix of the pending ones
//!    under in-order models, any subset otherwise) whose names match the real tree's;
//! 2. per named inode, its pending writes and size changes in program order, each kept, lost or
//!    torn, merging choices that leave the same bytes (and, under the page rule, the same lost
//!    pages) and pruning a choice as soon as a byte no later operation touches differs from the
//!    real one;
//! 3. the inodes' choices combined with at most one tear, the result checked by the model
//!    ([`Explorer::check`]) and replayed byte for byte against the real tree.
//!
//! `weak` (three-step renames) and `process` (a tear at every byte) are asked by enumeration
//! ([`Explorer::states_at`]); their states per crash point are few or not the point.

use std::collections::HashMap;

use super::explore::Explorer;
use super::model::{Pending, RuleId};
use super::plan::{DirOp, StepKind};
use super::reach::{Assume, Reach};
use super::replay::{Portion, apply};
use super::state::{CrashState, Partial};
use super::tree::{FsTree, Ino, Node};

/// Directory-loss choices tried at most, and per-inode choices kept at most at any step.
const MAX_DIR_CHOICES: usize = 1 << 16;
const MAX_INODE_CHOICES: usize = 1 << 14;

/// One way an inode's data operations reached the disk.
#[derive(Debug, Clone)]
struct Choice {
    tree: FsTree,
    dropped: Vec<usize>,
    /// Writes that left their size alone ([`CrashState::sized`]).
    sized: Vec<usize>,
    partial: Option<Partial>,
    /// Byte ranges (page-rounded) earlier writes lost since the last size change.
    lost: Vec<(u64, u64)>,
}

/// How one data operation reached the disk.
#[derive(Debug, Clone, Copy)]
enum Reached {
    Whole,
    Lost,
    /// Its size alone ([`CrashState::sized`]).
    Size,
    Torn {
        kept: u64,
        fill: bool,
    },
}

impl Reached {
    /// What of the operation is applied (`None`: nothing).
    fn portion(self) -> Option<Portion> {
        match self {
            Reached::Whole => Some(Portion::Full),
            Reached::Lost => None,
            Reached::Size => Some(Portion::Partial {
                kept: 0,
                fill: true,
            }),
            Reached::Torn { kept, fill } => Some(Portion::Partial { kept, fill }),
        }
    }
}

/// What merges two choices: the bytes left, whether a tear was used, the pages lost.
type ChoiceKey = (Vec<u8>, bool, Vec<(u64, u64)>);

/// Why the search gave up: it would be too large (the answer is then "unknown").
struct TooLarge;

impl Explorer {
    /// Whether the model leaves `real` at crash point `e{events}`, and the smallest state that
    /// does. `limit` bounds the enumeration used for `weak` and `process`.
    pub fn place(&self, events: usize, real: &FsTree, limit: u64) -> Reach {
        let events = events.min(self.plan().steps.len());
        let model = self.options().model;
        if model.follows(RuleId::RenameInThreeSteps)
            || model.follows(RuleId::CrashInsideWriteAtAnyByte)
        {
            return self
                .states_at(events, limit, Assume::Model)
                .reach(real.content_hash());
        }
        let pending = Pending::at(self.plan(), model, &self.options().lost_writes, events);
        let Ok(choices) = self.dir_choices(&pending) else {
            return self.unknown(&pending);
        };
        let mut best: Option<CrashState> = None;
        for lost_dirs in choices {
            match self.place_with_dirs(&pending, lost_dirs, real) {
                Ok(Some(state)) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| state.dropped.len() < b.dropped.len())
                    {
                        best = Some(state);
                    }
                }
                Ok(None) => {}
                Err(TooLarge) => return self.unknown(&pending),
            }
        }
        match best {
            Some(state) => Reach::Inside { state },
            None => Reach::Outside,
        }
    }

    fn unknown(&self, pending: &Pending) -> Reach {
        Reach::Unknown {
            state_space: self.count_at(pending),
        }
    }

    /// Every set of pending directory operations the model may lose at once.
    fn dir_choices(&self, pending: &Pending) -> Result<Vec<Vec<usize>>, TooLarge> {
        let dir = &pending.dir;
        if pending.follows(RuleId::DirOpsInOrder) {
            return Ok((0..=dir.len())
                .map(|k| dir[dir.len() - k..].to_vec())
                .collect());
        }
        if dir.len() > MAX_DIR_CHOICES.trailing_zeros() as usize {
            return Err(TooLarge);
        }
        Ok((0u64..1 << dir.len())
            .map(|mask| {
                (0..dir.len())
                    .filter(|i| mask >> i & 1 == 1)
                    .map(|i| dir[i])
                    .collect()
            })
            .collect())
    }

    /// The smallest state losing exactly `lost_dirs` among directory operations that leaves
    /// `real`, if any.
    fn place_with_dirs(
        &self,
        pending: &Pending,
        lost_dirs: Vec<usize>,
        real: &FsTree,
    ) -> Result<Option<CrashState>, TooLarge> {
        let names = CrashState {
            events: pending.events,
            dropped: lost_dirs.clone(),
            sized: Vec::new(),
            partial: None,
        };
        let Some(wanted) = inode_contents(&self.tree(&names), real) else {
            return Ok(None);
        };
        let mut per_inode = Vec::new();
        for (ino, bytes) in &wanted {
            let choices = self.inode_choices(pending, *ino, bytes)?;
            if choices.is_empty() {
                return Ok(None);
            }
            per_inode.push(choices);
        }
        Ok(self.combine(pending, &lost_dirs, &per_inode, real))
    }

    /// The inodes' choices with at most one tear in all, checked and replayed.
    fn combine(
        &self,
        pending: &Pending,
        lost_dirs: &[usize],
        per_inode: &[Vec<Choice>],
        real: &FsTree,
    ) -> Option<CrashState> {
        let fewest = |choices: &[Choice], torn: bool| {
            choices
                .iter()
                .filter(|c| c.partial.is_some() == torn)
                .min_by_key(|c| c.dropped.len())
                .cloned()
        };
        let untorn = |choices: &[Choice]| fewest(choices, false);
        let torn = |choices: &[Choice]| fewest(choices, true);
        let mut candidates: Vec<Vec<Choice>> = Vec::new();
        if let Some(all) = per_inode
            .iter()
            .map(|c| untorn(c))
            .collect::<Option<Vec<_>>>()
        {
            candidates.push(all);
        }
        for (i, choices) in per_inode.iter().enumerate() {
            let picked: Option<Vec<Choice>> = per_inode
                .iter()
                .enumerate()
                .map(|(j, c)| if i == j { torn(choices) } else { untorn(c) })
                .collect();
            candidates.extend(picked);
        }
        candidates
            .into_iter()
            .filter_map(|picked| self.assembled(pending, lost_dirs, &picked, real))
            .min_by_key(|state| (state.dropped.len(), state.partial.is_some()))
    }

    fn assembled(
        &self,
        pending: &Pending,
        lost_dirs: &[usize],
        picked: &[Choice],
        real: &FsTree,
    ) -> Option<CrashState> {
        let mut dropped: Vec<usize> = lost_dirs.to_vec();
        dropped.extend(picked.iter().flat_map(|c| c.dropped.iter().copied()));
        dropped.sort_unstable();
        let mut sized: Vec<usize> = picked
            .iter()
            .flat_map(|c| c.sized.iter().copied())
            .collect();
        sized.sort_unstable();
        let state = CrashState {
            events: pending.events,
            dropped,
            sized,
            partial: picked.iter().find_map(|c| c.partial),
        };
        let legal = pending
            .check(self.plan(), &state, self.options().torn)
            .is_ok();
        (legal && self.tree(&state).same_content(real)).then_some(state)
    }

    /// Every way (merged by the bytes left) inode `ino`'s data operations before the crash
    /// point reach the disk such that it holds `wanted`.
    fn inode_choices(
        &self,
        pending: &Pending,
        ino: Ino,
        wanted: &[u8],
    ) -> Result<Vec<Choice>, TooLarge> {
        let steps = &self.plan().steps[..pending.events];
        let (start, base) = self.inode_base(ino, steps);
        let ops: Vec<usize> = (start..steps.len())
            .filter(|&seq| steps[seq].kind.data_ino() == Some(ino))
            .collect();
        let mut choices = vec![Choice {
            tree: base,
            dropped: Vec::new(),
            sized: Vec::new(),
            partial: None,
            lost: Vec::new(),
        }];
        for (j, &seq) in ops.iter().enumerate() {
            let touched = touched_after(steps, &ops[j + 1..]);
            let mut next: HashMap<ChoiceKey, Choice> = HashMap::new();
            for choice in &choices {
                for option in self.options_of(pending, seq, choice) {
                    let data = inode_data(&option.tree, ino);
                    if !could_become(data, wanted, &touched, j + 1 == ops.len()) {
                        continue;
                    }
                    let key = (data.to_vec(), option.partial.is_some(), option.lost.clone());
                    let better = next
                        .get(&key)
                        .is_none_or(|known| option.dropped.len() < known.dropped.len());
                    if better {
                        next.insert(key, option);
                    }
                }
            }
            if next.len() > MAX_INODE_CHOICES {
                return Err(TooLarge);
            }
            choices = next.into_values().collect();
        }
        choices.retain(|c| inode_data(&c.tree, ino) == wanted);
        Ok(choices)
    }

    /// Where inode `ino`'s history starts (its creation, else the beginning) and its bytes then.
    fn inode_base(&self, ino: Ino, steps: &[super::plan::Step]) -> (usize, FsTree) {
        let created = steps.iter().rposition(|step| {
            matches!(step.kind, StepKind::NewInode { ino: i } | StepKind::Dir(DirOp::Create { ino: i, .. }) if i == ino)
        });
        let mut tree = FsTree::new();
        match created {
            Some(at) => {
                tree.new_inode(ino);
                (at + 1, tree)
            }
            None => {
                let data = self.plan().initial.inode(ino).map_or(&[][..], |i| i.data());
                tree.inode_mut(ino).write_at(0, data);
                (0, tree)
            }
        }
    }

    /// The ways one data operation may reach the disk after `choice`: whole, lost (when
    /// pending), its size alone (when sizeable), torn (when the model allows and no tear was
    /// used yet); each under the page rule.
    fn options_of(&self, pending: &Pending, seq: usize, choice: &Choice) -> Vec<Choice> {
        let step = &self.plan().steps[seq];
        let mut portions: Vec<Reached> = vec![Reached::Whole];
        if pending.losable(seq) {
            portions.push(Reached::Lost);
        }
        if pending.sizeable(self.plan(), seq) {
            portions.push(Reached::Size);
        }
        if choice.partial.is_none() {
            let torn = self.options().torn;
            for (kept, fill) in pending.tears(self.plan(), seq, torn) {
                portions.push(Reached::Torn { kept, fill });
            }
        }
        portions
            .into_iter()
            .filter_map(|reached| self.applied(pending, seq, step, choice, reached))
            .collect()
    }

    fn applied(
        &self,
        pending: &Pending,
        seq: usize,
        step: &super::plan::Step,
        choice: &Choice,
        reached: Reached,
    ) -> Option<Choice> {
        let portion = reached.portion();
        let mut next = choice.clone();
        let (kept, gone) = kept_and_lost(&step.kind, portion);
        if let StepKind::Resize { .. } = step.kind {
            next.lost.clear();
        }
        if pending.follows(RuleId::PageGranularLoss) {
            let keeps_a_byte = kept.0 < kept.1;
            if keeps_a_byte && next.lost.iter().any(|&(a, b)| kept.0 < b && a < kept.1) {
                return None;
            }
            if gone.0 < gone.1 && !pending.never_durable(seq) {
                let page = self.options().torn.page_bytes();
                next.lost
                    .push((gone.0 / page * page, gone.1.div_ceil(page) * page));
            }
        }
        match portion {
            Some(portion) => {
                apply(
                    &mut next.tree,
                    &step.kind,
                    portion,
                    self.options().fill,
                    seq,
                );
                match reached {
                    Reached::Size => next.sized.push(seq),
                    Reached::Torn { kept, fill } => {
                        next.partial = Some(Partial { seq, kept, fill })
                    }
                    Reached::Whole | Reached::Lost => {}
                }
            }
            None => next.dropped.push(seq),
        }
        Some(next)
    }
}

/// The byte ranges a data operation keeps and loses in `portion` (`None`: lost).
fn kept_and_lost(kind: &StepKind, portion: Option<Portion>) -> ((u64, u64), (u64, u64)) {
    let StepKind::Write {
        offset_bytes, data, ..
    } = kind
    else {
        return ((0, 0), (0, 0));
    };
    let end = offset_bytes + data.len() as u64;
    let kept = match portion {
        None => 0,
        Some(Portion::Full) => data.len() as u64,
        Some(Portion::Partial { kept, .. }) => kept.min(data.len() as u64),
    };
    (
        (*offset_bytes, offset_bytes + kept),
        (offset_bytes + kept, end),
    )
}

/// The byte ranges the operations `later` may still change (a size change: everything from its
/// length on).
fn touched_after(steps: &[super::plan::Step], later: &[usize]) -> Vec<(u64, u64)> {
    later
        .iter()
        .filter_map(|&seq| match &steps[seq].kind {
            StepKind::Write {
                offset_bytes, data, ..
            } => Some((*offset_bytes, offset_bytes + data.len() as u64)),
            StepKind::Resize { len_bytes, .. } => Some((*len_bytes, u64::MAX)),
            StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => None,
        })
        .collect()
}

/// Whether bytes `data` may still become `wanted`: every byte no later operation touches must
/// already be right, and with nothing left to come the length too.
fn could_become(data: &[u8], wanted: &[u8], touched: &[(u64, u64)], last: bool) -> bool {
    if last {
        return data == wanted;
    }
    let longest = data.len().max(wanted.len()) as u64;
    let mut spans = touched.to_vec();
    // A later write past the end also fills the gap up to it with zeros.
    if let Some(end) = touched.iter().map(|&(_, b)| b).max() {
        spans.push((data.len() as u64, end));
    }
    spans.sort_unstable();
    let mut from = 0u64;
    for (a, b) in spans.into_iter().chain([(longest, longest)]) {
        if a > from {
            let (start, end) = (from as usize, a.min(longest) as usize);
            if start < end && data.get(start..end) != wanted.get(start..end) {
                return false;
            }
        }
        from = from.max(b);
        if from >= longest {
            break;
        }
    }
    true
}

fn inode_data(tree: &FsTree, ino: Ino) -> &[u8] {
    tree.inode(ino).map_or(&[][..], |i| i.data())
}

/// The bytes each inode named in `names` must hold for its names to match `real`, or `None`
/// when the names themselves differ.
fn inode_contents(names: &FsTree, real: &FsTree) -> Option<Vec<(Ino, Vec<u8>)>> {
    let ours: Vec<(&str, &Node)> = names.entries().collect();
    let theirs: Vec<(&str, &Node)> = real.entries().collect();
    if ours.len() != theirs.len() {
        return None;
    }
    let mut wanted: Vec<(Ino, Vec<u8>)> = Vec::new();
    for ((name, node), (real_name, real_node)) in ours.into_iter().zip(theirs) {
        if name != real_name {
            return None;
        }
        match (node, real_node) {
            (Node::File(ino), Node::File(real_ino)) => {
                let bytes = real.inode(*real_ino).map_or(&[][..], |i| i.data());
                match wanted.iter().find(|(i, _)| i == ino) {
                    Some((_, known)) if known != bytes => return None,
                    Some(_) => {}
                    None => wanted.push((*ino, bytes.to_vec())),
                }
            }
            (Node::Dir, Node::Dir) => {}
            (Node::Symlink(a), Node::Symlink(b)) if a == b => {}
            (Node::File(_) | Node::Dir | Node::Symlink(_), _) => return None,
        }
    }
    Some(wanted)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::proptests::{build, gen_op_up_to};
    use super::super::{Model, PowerOptions};
    use super::*;

    fn models() -> impl Strategy<Value = Model> {
        proptest::sample::select(vec![Model::Posix, Model::Ext4, Model::Xfs, Model::Btrfs])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Every tree the model leaves is placed inside it, by a state leaving that very tree;
        /// a tree it leaves at one point but not another is outside there.
        #[test]
        fn every_tree_the_model_leaves_is_placed_exactly(
            ops in proptest::collection::vec(gen_op_up_to(6000), 0..=7),
            old in any::<bool>(),
            model in models(),
        ) {
            let trace = build(&ops, old);
            let options = PowerOptions { model, ..PowerOptions::default() };
            let explorer = Explorer::new(&trace, options).unwrap();
            let mut failure = None;
            explorer.for_each_state(&mut |state| {
                if failure.is_some() {
                    return;
                }
                let tree = explorer.tree(state);
                match explorer.place(state.events, &tree, 0) {
                    Reach::Inside { state: found } => {
                        if !explorer.tree(&found).same_content(&tree) || explorer.check(&found).is_err() {
                            failure = Some(format!("{state}: placed as {found}, another tree"));
                        }
                    }
                    other @ (Reach::Outside | Reach::Unknown { .. }) => {
                        failure = Some(format!("{state}: {other:?}"));
                    }
                }
            });
            prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
        }
    }

    #[test]
    fn a_tree_no_state_leaves_is_outside() {
        let mut w = super::super::testkit::Writer::new("t", Some(b"old"));
        w.create("t.tmp");
        w.write("t.tmp", 0, b"new");
        w.rename("t.tmp", "t");
        let explorer = Explorer::new(&w.exit(), PowerOptions::default()).unwrap();
        let mut both = FsTree::new();
        both.insert("t", Node::File(10));
        both.inode_mut(10).write_at(0, b"new");
        both.insert("t.tmp", Node::File(11));
        both.inode_mut(11).write_at(0, b"new");
        assert_eq!(explorer.place(3, &both, 0), Reach::Outside);
        let mut old = FsTree::new();
        old.insert("t", Node::File(10));
        old.inode_mut(10).write_at(0, b"old");
        assert!(matches!(explorer.place(3, &old, 0), Reach::Inside { .. }));
    }
}
