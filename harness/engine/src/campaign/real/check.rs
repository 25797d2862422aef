//! Judging one real tree: the oracle's verdict, and whether the model leaves it.

use crate::realfs::{Entry, Tree};
use torture_core::power::{
    Assume, CrashState, Explorer, FsTree, Model, Node, PowerOptions, Reach, StatesAt, TargetClass,
    exact_classifier, verdict_rule,
};
use torture_core::trace::Trace;

use super::{RealCoverage, RealPoint};

/// A tree read from disk in the explorer's terms: names relative to the sandbox, each file its
/// own inode (content hashes ignore inode numbers), or the first name that cannot be modelled.
pub fn real_tree(tree: &Tree) -> Result<FsTree, String> {
    let mut out = FsTree::new();
    for (ino, (path, entry)) in (1_000_000..).zip(tree) {
        let name = path
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
        match entry {
            Entry::File(data) => {
                out.insert(name, Node::File(ino));
                out.inode_mut(ino).write_at(0, data);
            }
            Entry::Dir => out.insert(name, Node::Dir),
            Entry::Symlink(text) => {
                out.insert(name, Node::Symlink(text.to_string_lossy().into_owned()))
            }
            Entry::Special => return Err(format!("{name} is a fifo, socket or device")),
        }
    }
    Ok(out)
}

/// One line per name: `t.json 8192 bytes`, for model-bug reports.
pub fn describe(tree: &Tree) -> String {
    let lines: Vec<String> = tree
        .iter()
        .map(|(path, entry)| match entry {
            Entry::File(data) => format!("{} ({} bytes)", path.display(), data.len()),
            Entry::Dir => format!("{}/", path.display()),
            Entry::Symlink(text) => format!("{} -> {}", path.display(), text.display()),
            Entry::Special => format!("{} (special)", path.display()),
        })
        .collect();
    match lines.is_empty() {
        true => "(empty)".to_owned(),
        false => lines.join(", "),
    }
}

/// The model's view of one writer run (its own trace: temp names differ between runs).
pub struct RunModel {
    explorer: Explorer,
    target: String,
}

/// The judgement of one tree.
pub struct Judged {
    pub class: TargetClass,
    pub violation: Option<torture_core::power::PowerViolation>,
    pub reach: Reach,
    pub leftovers: Vec<String>,
}

impl RunModel {
    /// `model` over `trace`.
    pub fn new(trace: &Trace, model: Model) -> Result<RunModel, String> {
        let options = PowerOptions {
            model,
            ..PowerOptions::default()
        };
        let explorer = Explorer::new(trace, options).map_err(|e| e.to_string())?;
        let target = explorer.plan().target.clone();
        Ok(RunModel { explorer, target })
    }

    /// Every tree the model allows at `point`.
    pub fn states_at(&self, point: RealPoint, limit: u64, assume: Assume) -> StatesAt {
        self.explorer.states_at(point.events(), limit, assume)
    }

    /// Judges `tree` taken at `point` against the versions and the model's states there.
    pub fn judge(
        &self,
        tree: &FsTree,
        point: RealPoint,
        versions: (Option<&[u8]>, &[u8]),
        states: &StatesAt,
    ) -> Judged {
        let mut classify = exact_classifier(versions.0, versions.1);
        let class = classify(&tree.target_state(&self.target));
        Judged {
            class,
            violation: verdict_rule(!point.after_ack(), class, versions.0.is_some()),
            reach: self.reach(tree, point, states),
            leftovers: tree.leftovers(&self.target),
        }
    }

    /// Whether the model leaves `tree`: from the enumerated trees when they are complete, else
    /// placed exactly ([`Explorer::place`]), so the answer is never "unknown" for the model.
    fn reach(&self, tree: &FsTree, point: RealPoint, states: &StatesAt) -> Reach {
        let place = || {
            self.explorer
                .place(point.events(), tree, states.state_space)
        };
        match (states.reach(tree.content_hash()), states.assume) {
            // A hash hit counts once the contents are compared.
            (Reach::Inside { state }, assume) => {
                let same = self
                    .explorer
                    .replay(&state)
                    .is_ok_and(|t| t.same_content(tree));
                match same {
                    true => Reach::Inside { state },
                    false if assume == Assume::Model => place(),
                    false => Reach::Outside,
                }
            }
            (Reach::Unknown { .. }, Assume::Model) => place(),
            (reach, Assume::Model | Assume::RenamesDurableAtOnce) => reach,
        }
    }

    /// The simulation's diagnosis of a rejected tree the model leaves at `state` (see
    /// [`Explorer::diagnose_rejected`]).
    pub fn diagnose_rejected(&self, state: &CrashState) -> String {
        self.explorer.diagnose_rejected(state).text
    }

    /// Adds what a judged state shows to the coverage.
    pub fn cover(&self, coverage: &mut RealCoverage, reach: &Reach) {
        if let Reach::Inside { state } = reach {
            for rule in self.explorer.rules_shown(state) {
                if !coverage.rules.contains(&rule) {
                    coverage.rules.push(rule);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_real_tree_hashes_like_the_model_tree() {
        let mut tree = Tree::new();
        tree.insert(PathBuf::from("d"), Entry::Dir);
        tree.insert(PathBuf::from("d/t"), Entry::File(b"new".to_vec()));
        let real = real_tree(&tree).unwrap();
        let mut model = FsTree::new();
        model.insert("d", Node::Dir);
        model.insert("d/t", Node::File(7));
        model.inode_mut(7).write_at(0, b"new");
        assert_eq!(real.content_hash(), model.content_hash());
        assert_eq!(describe(&tree), "d/, d/t (3 bytes)");
    }

    #[test]
    fn a_device_node_cannot_be_modelled() {
        let mut tree = Tree::new();
        tree.insert(PathBuf::from("fifo"), Entry::Special);
        assert!(real_tree(&tree).unwrap_err().contains("fifo"));
    }
}
