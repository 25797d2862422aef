//! Whole-tree checks of a process crash (`torture kill`, `torture errors`): the tree the sandbox
//! holds after the kill (or after the faulted run) is judged by the one tree checker of
//! `torture power` ([`super::tree`]), with the lines the writer printed before it in `{stdout}`.
//!
//! The trials of a subject run on `--jobs` worker threads, each checking the trees of its own
//! trials in its own directory; what they share is [`SharedTrees`]: a distinct (tree, printed
//! output) pair is checked once, keyed by the tree's content hash and compared in full on a hit,
//! and a worker that meets a pair another worker is checking waits for that verdict instead of
//! checking it again.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::error::CampaignError;
use super::tree::{TreeCache, TreeCase, TreeChecker, TreeVerdict};
use torture_core::power::FsTree;

/// What a checker sees besides the tree: `$TORTURE_ACKS` and `{stdout}`, and the tree's hash.
type Key = (String, u128);

/// The verdicts of the distinct trees a subject's workers checked.
#[derive(Debug, Default)]
pub(crate) struct SharedTrees {
    state: Mutex<Known>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct Known {
    verdicts: HashMap<Key, Vec<(FsTree, TreeVerdict)>>,
    /// Pairs a worker is checking now.
    running: HashSet<Key>,
    /// Trees judged (crashes and recoveries).
    judged: u64,
    /// Checker runs.
    checked: u64,
    /// Wall time of the checker runs, summed over the workers.
    elapsed: Duration,
}

impl Known {
    fn find(&self, key: &Key, tree: &FsTree) -> Option<TreeVerdict> {
        self.verdicts
            .get(key)?
            .iter()
            .find(|(known, _)| known.same_content(tree))
            .map(|(_, verdict)| verdict.clone())
    }
}

impl SharedTrees {
    /// The verdict of `tree` under `checker` (its acknowledgements all before event 0): known,
    /// waited for, or checked now. `Ok(None)`: Ctrl-C.
    pub fn verdict(
        &self,
        checker: &TreeChecker<'_>,
        tree: FsTree,
    ) -> Result<Option<TreeVerdict>, CampaignError> {
        let seen = format!("{}\n{}", checker.acks.count(0), checker.acks.stdout(0));
        let key = (seen, tree.content_hash());
        if let Some(verdict) = self.known_or_claimed(&key, &tree) {
            return Ok(Some(verdict));
        }
        let started = Instant::now();
        let case = TreeCase {
            tree,
            events: 0,
            model: None,
        };
        let result = checker.verdict(&case, &mut TreeCache::default());
        let mut known = self.lock();
        known.running.remove(&key);
        known.elapsed += started.elapsed();
        if let Ok(Some(verdict)) = &result {
            known.checked += 1;
            let entry = known.verdicts.entry(key).or_default();
            entry.push((case.tree, verdict.clone()));
        }
        self.done.notify_all();
        result
    }

    /// The verdict if known (waiting while another worker checks the same pair), else `None`
    /// with the pair claimed for this worker.
    fn known_or_claimed(&self, key: &Key, tree: &FsTree) -> Option<TreeVerdict> {
        let mut known = self.lock();
        known.judged += 1;
        loop {
            if let Some(verdict) = known.find(key, tree) {
                return Some(verdict);
            }
            if known.running.insert(key.clone()) {
                return None;
            }
            known = self
                .done
                .wait(known)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The report's note on the checks, when any ran: trees judged, checker runs, their time.
    pub fn note(&self) -> Option<String> {
        let known = self.lock();
        (known.judged > 0).then(|| {
            format!(
                "--check judged {} whole trees (crashes and recoveries) with {} checker runs, \
                 one per distinct tree and printed output, in {:.1} s of checking",
                known.judged,
                known.checked,
                known.elapsed.as_secs_f64()
            )
        })
    }

    fn lock(&self) -> MutexGuard<'_, Known> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::tree::AckLines;
    use std::sync::atomic::AtomicBool;
    use torture_core::power;

    fn tree_of(dir: &std::path::Path, contents: &str) -> FsTree {
        let source = dir.join(format!("source-{contents}"));
        std::fs::create_dir_all(&source).expect("mkdir");
        std::fs::write(source.join("db"), contents).expect("write");
        power::read_tree(&source).expect("read")
    }

    #[test]
    fn a_pair_is_checked_once_over_threads_and_again_for_other_output() {
        let temp = tempfile::tempdir().expect("temp dir");
        let log = temp.path().join("runs");
        let check = format!("echo run >> {}", log.display());
        let never = AtomicBool::new(false);
        let checker = |slot: usize, stdout: &[u8]| TreeChecker {
            check: &check,
            recover: None,
            target: std::path::Path::new("db"),
            acks: AckLines::printed(stdout, false, None),
            work: temp.path().join(format!("work-{slot}")),
            timeout: Duration::from_secs(10),
            jobs: 1,
            cancel: &never,
        };
        let shared = SharedTrees::default();
        let tree = tree_of(temp.path(), "v1");
        std::thread::scope(|scope| {
            for slot in 0..3 {
                let (shared, tree, checker) = (&shared, tree.clone(), checker(slot, b"ack 1\n"));
                scope.spawn(move || {
                    let verdict = shared.verdict(&checker, tree).expect("check");
                    assert_eq!(verdict, Some(TreeVerdict::Holds));
                });
            }
        });
        let runs = || std::fs::read_to_string(&log).expect("log").lines().count();
        assert_eq!(runs(), 1, "three workers, one distinct pair");
        shared
            .verdict(&checker(0, b""), tree.clone())
            .expect("check");
        shared
            .verdict(&checker(0, b""), tree_of(temp.path(), "v2"))
            .expect("check");
        assert_eq!(runs(), 3, "other printed output, other tree: checked again");
        let note = shared.note().expect("a note");
        assert!(
            note.contains("judged 5 whole trees") && note.contains("3 checker runs"),
            "{note}"
        );
    }
}
