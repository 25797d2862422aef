//! `race --check CMD`: the whole sandbox tree is read after every step (every writer held, so
//! it is stable), after every writer ended, and after the clean run, and judged by the one tree
//! checker of `kill`, `errors` and `power` ([`super::super::tree`]). A subject's distinct trees
//! are checked once over all its interleavings (its [`TreeCache`]); the trees of one
//! interleaving run on `--jobs` checker workers.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::Duration;

use torture_core::power::{self, FsTree};
use torture_core::race::oracle::{CheckFailure, CheckPoint};

use super::super::error::CampaignError;
use super::super::tree::{AckLines, TreeCache, TreeCase, TreeChecker, TreeVerdict};
use super::Race;
use crate::sandbox::Sandbox;

/// A subject's `--check`: the command, where its workers run, and the verdicts so far.
#[derive(Debug)]
pub(crate) struct RaceCheck {
    /// `--check CMD`.
    pub command: String,
    /// The checker workers' directories.
    pub work: PathBuf,
    /// Checker workers per interleaving.
    pub jobs: usize,
    /// One verdict per distinct tree (the race runs its interleavings one at a time).
    pub cache: RefCell<TreeCache>,
    /// Whole trees judged (read), distinct or not.
    pub judged: Cell<u64>,
}

impl RaceCheck {
    /// `--check CMD` for a subject whose checker workers run under `work`.
    pub fn new(command: String, work: PathBuf, jobs: usize) -> RaceCheck {
        RaceCheck {
            command,
            work,
            jobs,
            cache: RefCell::default(),
            judged: Cell::new(0),
        }
    }
}

/// The whole trees an interleaving showed, in order, when `--check` is given.
#[derive(Debug, Default)]
pub(crate) struct Trees {
    seen: Vec<(CheckPoint, FsTree)>,
}

impl Trees {
    /// Reads the sandbox's whole tree at `at` (nothing without `--check`).
    pub fn read(
        &mut self,
        race: &Race<'_>,
        sandbox: &Sandbox,
        at: CheckPoint,
    ) -> Result<(), CampaignError> {
        if race.check.is_none() {
            return Ok(());
        }
        let tree = power::read_tree(sandbox.path())
            .map_err(|e| race.io_error("read the whole tree for --check", e))?;
        self.seen.push((at, tree));
        Ok(())
    }

    /// The trees the checker rejected, in order; empty without `--check`, and on Ctrl-C (the
    /// interleaving is then dropped unjudged).
    pub fn judge(self, race: &Race<'_>) -> Result<Vec<CheckFailure>, CampaignError> {
        let Some(check) = &race.check else {
            return Ok(Vec::new());
        };
        let checker = TreeChecker {
            check: &check.command,
            recover: None,
            target: &race.settings.target,
            // A racing writer acknowledges by its exit, which the race oracle judges.
            acks: AckLines::default(),
            work: check.work.clone(),
            timeout: Duration::from_millis(race.settings.timeout_ms),
            jobs: check.jobs,
            cancel: &race.limits.cancel,
        };
        let case = |tree: &FsTree| TreeCase {
            tree: tree.clone(),
            events: 0,
            model: None,
        };
        check
            .judged
            .set(check.judged.get() + self.seen.len() as u64);
        let mut cache = check.cache.borrow_mut();
        let cases = self.seen.iter().map(|(_, tree)| case(tree)).collect();
        if !checker.check_all(cases, &mut cache, None)? {
            return Ok(Vec::new());
        }
        let mut failures = Vec::new();
        for (at, tree) in &self.seen {
            match cache.get(tree, 0) {
                Some(TreeVerdict::Fails(reason)) => failures.push(CheckFailure {
                    at: *at,
                    reason: reason.clone(),
                }),
                Some(TreeVerdict::Holds) => {}
                None => return Err(unchecked(race)),
            }
        }
        Ok(failures)
    }
}

/// A tree left without a verdict although the checks ran to their end: never a pass.
fn unchecked(race: &Race<'_>) -> CampaignError {
    CampaignError::Usage(format!(
        "--check left a tree of {} without a verdict",
        race.prepared.subject.label
    ))
}

/// The report's note on the checks: checker runs and their time.
pub(crate) fn note(check: &RaceCheck) -> String {
    let cache = check.cache.borrow();
    format!(
        "--check judged {} whole trees (between steps, at the end, after the clean run) with {} \
         checker runs, one per distinct tree, in {:.1} s of checking",
        check.judged.get(),
        cache.checked,
        cache.elapsed.as_secs_f64()
    )
}
