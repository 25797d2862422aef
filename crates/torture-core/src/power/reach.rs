//! Reachability: can the model leave this exact tree at crash point `e{k}`?
//!
//! The real-filesystem check (`torture power-real`) snapshots a disk image while the writer is
//! held before event k, reads the sandbox back, and asks [`Explorer::reach`] whether some crash
//! state `e{k}:...` the model allows leaves exactly that tree (every name and its bytes; inode
//! numbers do not matter). A real tree outside the model means the model promises more than the
//! file system keeps: a model bug.
//!
//! [`Assume::RenamesDurableAtOnce`] is a deliberately too-optimistic model (a rename is durable
//! the moment it returns), so a test can show that the real check catches a model that promises
//! too much.

use std::collections::HashMap;

use super::Explorer;
use super::model::{Pending, RuleId};
use super::plan::{Barrier, DirOp, StepKind};
use super::state::CrashState;

/// Which model the reachability question is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assume {
    /// The explorer's model as configured.
    #[default]
    Model,
    /// The model, minus every state that loses a rename: too optimistic on purpose.
    RenamesDurableAtOnce,
}

/// The answer for one real tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The model leaves this tree; the smallest such state (fewest lost operations).
    Inside { state: CrashState },
    /// Every state at the crash point was built and none leaves this tree: a model bug.
    Outside,
    /// The crash point has more states than the limit, and none of those built matched.
    Unknown { state_space: u64 },
}

/// Every distinct tree the model allows at one crash point, by content hash.
#[derive(Debug, Clone, Default)]
pub struct StatesAt {
    /// Content hash → the smallest state that leaves it.
    pub trees: HashMap<u128, CrashState>,
    /// Every state was built (the count fitted the limit).
    pub complete: bool,
    /// How many states the model allows here (saturating).
    pub state_space: u64,
    /// The model the trees were built under (the configured one, or a test's optimistic one).
    pub assume: Assume,
}

impl StatesAt {
    /// Whether the model (as asked) leaves the tree with `content_hash`.
    pub fn reach(&self, content_hash: u128) -> Reach {
        match (self.trees.get(&content_hash), self.complete) {
            (Some(state), _) => Reach::Inside {
                state: state.clone(),
            },
            (None, true) => Reach::Outside,
            (None, false) => Reach::Unknown {
                state_space: self.state_space,
            },
        }
    }
}

impl Explorer {
    /// Builds every state the model allows at crash point `e{events}` (if at most `limit`) and
    /// keeps one smallest state per distinct tree. Beyond `limit` only the prefix state is
    /// built and the answer is incomplete.
    pub fn states_at(&self, events: usize, limit: u64, assume: Assume) -> StatesAt {
        let events = events.min(self.plan().steps.len());
        let pending = Pending::at(
            self.plan(),
            self.options().model,
            &self.options().lost_writes,
            events,
        );
        let state_space = self.count_at(&pending);
        let mut states = Vec::new();
        let complete = state_space <= limit;
        if complete {
            self.all_at(&pending, &mut states);
        } else {
            states.push(CrashState::prefix(events));
        }
        let mut trees: HashMap<u128, CrashState> = HashMap::new();
        for state in states.into_iter().filter(|s| self.assumed(s, assume)) {
            let hash = self.tree(&state).content_hash();
            let better = trees.get(&hash).is_none_or(|known| smaller(&state, known));
            if better {
                trees.insert(hash, state);
            }
        }
        StatesAt {
            trees,
            complete,
            state_space,
            assume,
        }
    }

    fn assumed(&self, state: &CrashState, assume: Assume) -> bool {
        match assume {
            Assume::Model => true,
            Assume::RenamesDurableAtOnce => !state.dropped.iter().any(|&seq| {
                matches!(
                    self.plan().steps[seq].kind,
                    StepKind::Dir(DirOp::Rename { .. })
                )
            }),
        }
    }

    /// The rules a matched state leans on: the losses and tears it shows, and the barriers
    /// issued before its crash point that kept the rest.
    pub fn rules_shown(&self, state: &CrashState) -> Vec<RuleId> {
        let steps = &self.plan().steps;
        let mut rules = Vec::new();
        for &seq in &state.dropped {
            rules.push(match steps[seq].kind {
                StepKind::Dir(_) => RuleId::UnsyncedDirOpsMayBeLost,
                StepKind::Write { .. }
                | StepKind::Resize { .. }
                | StepKind::NewInode { .. }
                | StepKind::Barrier(_)
                | StepKind::Nothing
                | StepKind::Unmodelled { .. } => RuleId::UnsyncedDataMayBeLost,
            });
        }
        let size_rule = match self.options().model.follows(RuleId::SizeBeforeData) {
            true => RuleId::SizeBeforeData,
            false => RuleId::SizeBeforeDataInHeldBlock,
        };
        if !state.sized.is_empty() {
            rules.push(size_rule);
        }
        if let Some(partial) = state.partial {
            rules.push(match partial.fill {
                true => size_rule,
                false => RuleId::TornAtUnits,
            });
        }
        for (at, step) in steps.iter().enumerate().take(state.events) {
            if let StepKind::Barrier(barrier) = &step.kind {
                rules.push(match barrier {
                    Barrier::File { .. } => RuleId::FileFsyncPersistsData,
                    Barrier::Dir { .. } => RuleId::DirFsyncPersistsEntries,
                    Barrier::All => RuleId::SyncPersistsEverything,
                });
            }
            if self.kept_a_name(state, at) {
                rules.push(RuleId::FsyncPersistsNewName);
            }
        }
        let mut unique = Vec::new();
        for rule in rules {
            if !unique.contains(&rule) {
                unique.push(rule);
            }
        }
        unique
    }
}

impl Explorer {
    /// Whether step `at` is a file fsync that, under a model persisting a file's new names,
    /// made a name of its file durable that `state` keeps and no directory barrier covered.
    fn kept_a_name(&self, state: &CrashState, at: usize) -> bool {
        let steps = &self.plan().steps;
        let StepKind::Barrier(Barrier::File { ino }) = steps[at].kind else {
            return false;
        };
        if !self.options().model.follows(RuleId::FsyncPersistsNewName) {
            return false;
        }
        let named = |seq: usize| super::model::names(&steps[seq].kind, ino);
        let dir_barrier_after = |seq: usize| {
            steps[seq + 1..at].iter().any(|s| {
                matches!(
                    s.kind,
                    StepKind::Barrier(Barrier::Dir { .. } | Barrier::All)
                )
            })
        };
        (0..at).any(|seq| named(seq) && !state.is_dropped(seq) && !dir_barrier_after(seq))
    }
}

/// Fewer lost operations first, then no tear, then the id order: the simplest explanation.
fn smaller(a: &CrashState, b: &CrashState) -> bool {
    let key = |s: &CrashState| (s.dropped.len(), s.partial.is_some(), s.clone());
    key(a) < key(b)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Writer;
    use super::super::{FsTree, Node, PowerOptions};
    use super::*;

    /// `rename` without any fsync: write a temp file, rename it over the target.
    fn unsynced_rename() -> Explorer {
        let mut w = Writer::new("t", Some(b"old"));
        w.create("t.tmp");
        w.write("t.tmp", 0, b"new");
        w.rename("t.tmp", "t");
        Explorer::new(&w.exit(), PowerOptions::default()).unwrap()
    }

    fn tree(files: &[(&str, &[u8])]) -> FsTree {
        let mut tree = FsTree::new();
        for (ino, (name, data)) in (10..).zip(files) {
            tree.insert(name, Node::File(ino));
            tree.inode_mut(ino).write_at(0, data);
        }
        tree
    }

    #[test]
    fn the_old_version_after_an_unsynced_rename_is_inside_linux() {
        let explorer = unsynced_rename();
        let states = explorer.states_at(3, 1 << 16, Assume::Model);
        assert!(states.complete);
        let old = tree(&[("t", b"old")]);
        let Reach::Inside { state } = states.reach(old.content_hash()) else {
            panic!("the old version must be reachable");
        };
        assert!(state.dropped.contains(&2), "{state}: the rename was lost");
        assert!(
            explorer
                .rules_shown(&state)
                .contains(&RuleId::UnsyncedDirOpsMayBeLost)
        );
        let new = tree(&[("t", b"new")]);
        assert!(matches!(
            states.reach(new.content_hash()),
            Reach::Inside { .. }
        ));
    }

    #[test]
    fn a_tree_no_state_leaves_is_outside() {
        let explorer = unsynced_rename();
        let states = explorer.states_at(3, 1 << 16, Assume::Model);
        let both = tree(&[("t", b"new"), ("t.tmp", b"new")]);
        assert_eq!(states.reach(both.content_hash()), Reach::Outside);
    }

    #[test]
    fn the_too_optimistic_model_cannot_explain_a_lost_rename() {
        let explorer = unsynced_rename();
        let states = explorer.states_at(3, 1 << 16, Assume::RenamesDurableAtOnce);
        let old = tree(&[("t", b"old")]);
        assert_eq!(states.reach(old.content_hash()), Reach::Outside);
    }

    #[test]
    fn beyond_the_limit_the_answer_is_unknown() {
        let explorer = unsynced_rename();
        let states = explorer.states_at(3, 1, Assume::Model);
        assert!(!states.complete);
        let old = tree(&[("t", b"old")]);
        assert!(matches!(
            states.reach(old.content_hash()),
            Reach::Unknown { .. }
        ));
    }
}
