//! Enumerating crash states and judging each.
//!
//! Per crash point (after each event), the states a model allows are counted first. While the
//! whole count fits `max_states` every state is built; beyond that the explorer builds ALICE's
//! families (every prefix; everything not yet durable lost; all data lost but the directory
//! operations kept and the reverse; each operation left out with the later ones kept; each
//! operation torn at each unit) and fills the rest of the budget with seeded random states.
//! The budget is spread evenly: each of N crash points has 1/N of `max_states`, and a point
//! whose families do not fit its share keeps an even spread of them, so no model
//! (`process` and its tear at every byte included) visits more than `max_states`. A time budget
//! (`budget_ms`) stops judging; the exploration then says it was not exhaustive. Sampled
//! points are walked twice, families at every point first and samples after, so a run the time
//! budget cuts short has judged every point's families, not only the early points'.
//!
//! States are judged as they are built, in an order that shares work: each is replayed from the
//! snapshot nearest to where it departs from program order, and a run of tears of the crash
//! event (every byte under `process`) grows one tree in place instead of rebuilding it.

use std::collections::{HashMap, HashSet};

use super::diagnose::{self, Diagnosis};
use super::judge::{AckPoint, PowerViolation, TargetClass, verdict_rule};
use super::model::{Pending, RuleId};
use super::plan::{Plan, StepKind};
use super::replay::Replayer;
use super::state::{CrashState, Partial};
use super::tree::{FsTree, Node};
use super::{PowerError, PowerOptions};
use crate::oracle::TargetState;
use crate::oracle::unit::{self, Unit, UnitFile, UnitVerdict};
use crate::rng::SplitMix64;
use crate::trace::Trace;

/// The explorer over one trace.
#[derive(Debug, Clone)]
pub struct Explorer {
    plan: Plan,
    options: PowerOptions,
    replayer: Replayer,
    /// Several files judged as one (`--target` repeated or a glob, `--marker`); `None`: the
    /// target alone, judged by the caller's classifier.
    unit: Option<Unit>,
}

/// One violating state, cut down and explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The model the state was built under (its `--state` replay names it).
    pub model: super::Model,
    /// The smallest state that still shows the violation.
    pub state: CrashState,
    /// The violation.
    pub violation: PowerViolation,
    /// What the target was.
    pub class: TargetClass,
    /// Whether the crash came before the acknowledgement.
    pub before_ack: bool,
    /// Names other than the target the state leaves.
    pub leftovers: Vec<String>,
    /// The explanation.
    pub diagnosis: Diagnosis,
    /// Under a whole-tree check: the checker's first line of output (the caller fills it in).
    pub reason: Option<String>,
}

/// Counts of distinct states per target class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    pub absent: u64,
    pub old: u64,
    pub new: u64,
    pub torn: u64,
}

impl ClassCounts {
    fn add(&mut self, class: TargetClass) {
        match class {
            TargetClass::Absent => self.absent += 1,
            TargetClass::Old => self.old += 1,
            TargetClass::New => self.new += 1,
            TargetClass::Torn => self.torn += 1,
        }
    }

    /// `self` plus `other`, class by class (saturating).
    pub fn plus(self, other: ClassCounts) -> ClassCounts {
        ClassCounts {
            absent: self.absent.saturating_add(other.absent),
            old: self.old.saturating_add(other.old),
            new: self.new.saturating_add(other.new),
            torn: self.torn.saturating_add(other.torn),
        }
    }

    /// `self` less `other`, class by class (saturating).
    pub fn minus(self, other: ClassCounts) -> ClassCounts {
        ClassCounts {
            absent: self.absent.saturating_sub(other.absent),
            old: self.old.saturating_sub(other.old),
            new: self.new.saturating_sub(other.new),
            torn: self.torn.saturating_sub(other.torn),
        }
    }
}

/// What an exploration found.
#[derive(Debug, Clone, Default)]
pub struct Exploration {
    /// Crash states built and judged.
    pub states_checked: u64,
    /// Distinct trees among them (by content; under a whole-tree check, by content and the
    /// acknowledgements before the crash).
    pub distinct_states: u64,
    /// Distinct (tree, before/after acknowledgement) pairs, counted per target class.
    pub classes: ClassCounts,
    /// The part of `classes` after the acknowledgement (the rest came before it).
    pub after_ack: ClassCounts,
    /// Distinct pairs that are violations.
    pub violating_states: u64,
    /// Every state the model allows was built (else families and samples, or the time budget
    /// ran out).
    pub exhaustive: bool,
    /// The time budget (`--budget`) ran out before every state to judge was judged.
    pub budget_spent: bool,
    /// How many states the model allows (saturating).
    pub state_space: u64,
    /// Violations, cut down and deduplicated, most informative first.
    pub findings: Vec<Finding>,
    /// Events the model could not see into, with why: a pass is then not trustworthy.
    pub unmodelled: Vec<(usize, String)>,
}

impl Explorer {
    /// An explorer for `trace`, whose header names the target.
    pub fn new(trace: &Trace, options: PowerOptions) -> Result<Explorer, PowerError> {
        let target = trace.header.target.clone().ok_or(PowerError::NoTarget)?;
        Ok(Explorer::with_target(trace, &target, options))
    }

    /// An explorer for `trace` and the given target (for v1 traces).
    pub fn with_target(trace: &Trace, target: &str, options: PowerOptions) -> Explorer {
        let plan = Plan::new(trace, target);
        let replayer = Replayer::new(&plan);
        Explorer {
            plan,
            options,
            replayer,
            unit: None,
        }
    }

    /// The same trace with several files judged as one unit: `patterns` (paths or globs, expanded
    /// against the names of the initial and the final tree) and the `marker`, each file judged
    /// byte for byte against its version before the trace and after it. The caller's classifier
    /// is then not asked.
    pub fn with_unit(&self, patterns: &[String], marker: Option<&str>) -> Explorer {
        let initial = &self.plan.initial;
        let last = self.plan.final_tree();
        let mut named: Vec<String> = patterns.to_vec();
        named.extend(marker.map(str::to_owned));
        let names = initial.entries().chain(last.entries());
        let files: Vec<&str> = names
            .filter(|(_, node)| !matches!(node, Node::Dir))
            .map(|(path, _)| path)
            .collect();
        let files = unit::expand(&named, &files);
        let unit = Unit {
            marker: marker.and_then(|m| files.iter().position(|f| f == m)),
            files: files
                .iter()
                .map(|path| UnitFile {
                    path: path.clone(),
                    old: initial.target_state(path),
                    new: last.target_state(path),
                })
                .collect(),
        };
        self.judging(unit)
    }

    /// The same trace with `unit` judged as one (its versions as the caller read them: a
    /// faulted run's trace does not end at the new version).
    pub fn judging(&self, unit: Unit) -> Explorer {
        let mut explorer = self.clone();
        explorer.unit = Some(unit);
        explorer
    }

    /// The unit, when several files are judged as one.
    pub fn unit(&self) -> Option<&Unit> {
        self.unit.as_ref()
    }

    /// What `tree` leaves of the unit (`None` without one).
    pub fn unit_verdict(&self, tree: &FsTree) -> Option<UnitVerdict> {
        let unit = self.unit.as_ref()?;
        let states: Vec<TargetState> = unit
            .files
            .iter()
            .map(|file| tree.target_state(&file.path))
            .collect();
        Some(unit.judge(&states))
    }

    /// What `tree` leaves, in one word: the unit's class, or the target's as `classify` says.
    pub fn judge_tree(
        &self,
        tree: &FsTree,
        classify: &mut dyn FnMut(&TargetState) -> TargetClass,
    ) -> TargetClass {
        match self.unit_verdict(tree) {
            Some(verdict) => verdict.class(),
            None => classify(&tree.target_state(&self.plan.target)),
        }
    }

    /// Whether an old version existed before the trace (of the unit, when there is one).
    pub fn had_old(&self) -> bool {
        match &self.unit {
            Some(unit) => unit.had_old(),
            None => self.plan.old.is_some(),
        }
    }

    /// Names `tree` holds besides the target (and the unit's files).
    pub fn leftovers(&self, tree: &FsTree) -> Vec<String> {
        let mut names = tree.leftovers(&self.plan.target);
        if let Some(unit) = &self.unit {
            names.retain(|name| {
                unit.files
                    .iter()
                    .all(|f| f.path != *name && !f.path.starts_with(&format!("{name}/")))
            });
        }
        names
    }

    /// The same trace under another model (the lowering and snapshots are shared).
    pub fn with_model(&self, model: super::Model) -> Explorer {
        let mut explorer = self.clone();
        explorer.options.model = model;
        explorer
    }

    /// The same trace with another time budget (`None`: none).
    pub fn with_budget_ms(&self, budget_ms: Option<u64>) -> Explorer {
        let mut explorer = self.clone();
        explorer.options.budget_ms = budget_ms;
        explorer
    }

    /// The lowered trace.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The options.
    pub fn options(&self) -> &PowerOptions {
        &self.options
    }

    /// The target after the whole trace: the new version a crash-free run leaves.
    pub fn new_version(&self) -> TargetState {
        self.plan.final_tree().target_state(&self.plan.target)
    }

    /// Checks that the model allows `state` on this trace.
    pub fn check(&self, state: &CrashState) -> Result<(), PowerError> {
        let len = self.plan.steps.len();
        if state.events > len {
            return Err(super::model::IllegalState::PastEnd {
                events: state.events,
                len,
            }
            .into());
        }
        let pending = Pending::at(
            &self.plan,
            self.options.model,
            &self.options.lost_writes,
            state.events,
        );
        Ok(pending.check(&self.plan, state, self.options.torn)?)
    }

    /// The exact tree `state` leaves, after checking the model allows it.
    pub fn replay(&self, state: &CrashState) -> Result<FsTree, PowerError> {
        self.check(state)?;
        Ok(self.tree(state))
    }

    pub(crate) fn tree(&self, state: &CrashState) -> FsTree {
        self.replayer.tree(&self.plan, state, self.options.fill)
    }

    /// How many states the model allows (saturating), and whether that fits `max_states`.
    pub fn state_space(&self) -> u64 {
        let mut pending = Pending::losing(self.options.model, &self.options.lost_writes);
        let mut total = self.count_at(&pending);
        for step in &self.plan.steps {
            pending.advance(&self.plan, step);
            total = total.saturating_add(self.count_at(&pending));
        }
        total
    }

    pub(super) fn count_at(&self, pending: &Pending) -> u64 {
        let (losable, dir_choices) = self.losable(pending);
        // Each losable event is kept or lost; a sizeable write may also leave its size alone.
        let sizeable = |seq: &usize| pending.sizeable(&self.plan, *seq);
        let ways = |skip: Option<usize>| {
            losable
                .iter()
                .filter(|&&s| Some(s) != skip)
                .fold(1u64, |n, s| {
                    n.saturating_mul(if sizeable(s) { 3 } else { 2 })
                })
        };
        let mut total = ways(None);
        for p in self.tearable(pending) {
            let tears = self.tear_count(pending, p);
            total = total.saturating_add(tears.saturating_mul(ways(Some(p))));
        }
        total.saturating_mul(dir_choices)
    }

    fn tear_count(&self, pending: &Pending, seq: usize) -> u64 {
        if pending.follows(RuleId::CrashInsideWriteAtAnyByte) {
            let len = self.plan.steps[seq].kind.write_len().unwrap_or(0);
            return (len as u64).saturating_sub(1);
        }
        pending.tears(&self.plan, seq, self.options.torn).len() as u64
    }

    /// Events any subset of which may be lost, and (under in-order directory operations) how
    /// many suffixes of the pending directory operations may be lost besides.
    fn losable(&self, pending: &Pending) -> (Vec<usize>, u64) {
        if pending.follows(RuleId::DirOpsInOrder) {
            (pending.data.clone(), pending.dir.len() as u64 + 1)
        } else {
            let mut all = pending.data.clone();
            all.extend(&pending.dir);
            all.sort_unstable();
            (all, 1)
        }
    }

    /// Events that may tear at this crash point.
    fn tearable(&self, pending: &Pending) -> Vec<usize> {
        let mut seqs: Vec<usize> = pending.data.iter().chain(&pending.dir).copied().collect();
        if let Some(last) = pending.events.checked_sub(1) {
            seqs.push(last);
        }
        seqs.sort_unstable();
        seqs.dedup();
        seqs.retain(|&seq| self.tear_count(pending, seq) > 0);
        seqs
    }

    /// Visits every state to judge, crash point by crash point; returns whether it was all of
    /// them.
    pub fn for_each_state(&self, visit: &mut dyn FnMut(&CrashState)) -> bool {
        self.for_each_state_while(&mut |state| {
            visit(state);
            true
        })
    }

    /// As [`Explorer::for_each_state`], stopping when `visit` returns `false`. At most
    /// `max_states` states are visited under every model: beyond the space, each crash point
    /// gets an even share, and the points are walked twice: ALICE's families at every point
    /// first (spread over the share when they do not fit), then seeded samples filling each
    /// share. A run its time budget cuts short has so still seen every point's families (a
    /// lost final rename among them), not only the early points' samples.
    pub fn for_each_state_while(&self, visit: &mut dyn FnMut(&CrashState) -> bool) -> bool {
        if self.state_space() <= self.options.max_states {
            return self.each_point(&mut |pending, _, batch| self.all_at(pending, batch), visit);
        }
        let families = self.each_point(
            &mut |pending, n, batch| batch.extend(self.families_within(pending, n).0),
            visit,
        );
        if families {
            let mut rng = SplitMix64::new(self.options.seed);
            self.each_point(
                &mut |pending, n, batch| self.samples_within(pending, n, &mut rng, batch),
                visit,
            );
        }
        false
    }

    /// Walks the crash points in order, visiting the distinct states `build` makes at each;
    /// `false` when `visit` stopped the walk.
    fn each_point(
        &self,
        build: &mut dyn FnMut(&Pending, usize, &mut Vec<CrashState>),
        visit: &mut dyn FnMut(&CrashState) -> bool,
    ) -> bool {
        let mut pending = Pending::losing(self.options.model, &self.options.lost_writes);
        for n in 0..=self.plan.steps.len() {
            if n > 0 {
                pending.advance(&self.plan, &self.plan.steps[n - 1]);
            }
            let mut batch = Vec::new();
            build(&pending, n, &mut batch);
            let mut seen = HashSet::new();
            for state in batch {
                if seen.insert(state.clone()) && !visit(&state) {
                    return false;
                }
            }
        }
        true
    }

    /// Crash point `n`'s even share of `max_states` (the first n+1 of N points use at most
    /// (n+1)/N of it).
    fn share_at(&self, n: usize) -> u64 {
        let max = u128::from(self.options.max_states);
        let points = self.plan.steps.len() as u128 + 1;
        let upto = |k: u128| (max * k / points) as u64;
        upto(n as u128 + 1) - upto(n as u128)
    }

    /// ALICE's families at crash point `n`, spread evenly when they do not fit its share, each
    /// made legal under the page rule; and how many were taken (the samples fill the rest).
    fn families_within(&self, pending: &Pending, n: usize) -> (Vec<CrashState>, u64) {
        let share = self.share_at(n) as usize;
        if share == 0 {
            return (Vec::new(), 0);
        }
        let mut families = Vec::new();
        self.families_at(pending, &mut families);
        let stride = families.len().div_ceil(share).max(1);
        let taken: Vec<CrashState> = families.into_iter().step_by(stride).collect();
        let count = taken.len() as u64;
        (self.all_repaired(pending, taken), count)
    }

    /// Seeded samples at crash point `n` filling its share after the families, made legal,
    /// without the families the first walk visited.
    fn samples_within(
        &self,
        pending: &Pending,
        n: usize,
        rng: &mut SplitMix64,
        batch: &mut Vec<CrashState>,
    ) {
        let (families, taken) = self.families_within(pending, n);
        let mut samples = Vec::new();
        self.samples_at(
            pending,
            self.share_at(n).saturating_sub(taken),
            rng,
            &mut samples,
        );
        let families: HashSet<CrashState> = families.into_iter().collect();
        let fresh = self.all_repaired(pending, samples);
        batch.extend(fresh.into_iter().filter(|state| !families.contains(state)));
    }

    fn all_repaired(&self, pending: &Pending, states: Vec<CrashState>) -> Vec<CrashState> {
        states
            .into_iter()
            .filter_map(|state| self.repaired(pending, state))
            .collect()
    }

    fn with_drops(
        pending: &Pending,
        partial: Option<Partial>,
        mut dropped: Vec<usize>,
    ) -> CrashState {
        dropped.sort_unstable();
        CrashState {
            events: pending.events,
            dropped,
            sized: Vec::new(),
            partial,
        }
    }

    /// `state` with the lost writes `mask` picks among its sizeable ones leaving their size.
    fn with_sized(&self, pending: &Pending, state: &CrashState, mask: u64) -> CrashState {
        let sizeable = self.sizeable_lost(pending, state);
        let mut out = state.clone();
        for (i, seq) in sizeable.into_iter().enumerate() {
            if i < 64 && mask >> i & 1 == 1 {
                out.dropped.retain(|&d| d != seq);
                out.sized.push(seq);
            }
        }
        out
    }

    /// The writes `state` loses that could leave their size alone instead.
    fn sizeable_lost(&self, pending: &Pending, state: &CrashState) -> Vec<usize> {
        state
            .dropped
            .iter()
            .copied()
            .filter(|&seq| pending.sizeable(&self.plan, seq))
            .collect()
    }

    /// Every state at this crash point (the count fits the budget, so subsets are < 2^63).
    pub(super) fn all_at(&self, pending: &Pending, out: &mut Vec<CrashState>) {
        let (losable, dir_choices) = self.losable(pending);
        let mut partials = vec![None];
        for seq in self.tearable(pending) {
            for (kept, fill) in self.tears_of(pending, seq) {
                partials.push(Some(Partial { seq, kept, fill }));
            }
        }
        for partial in partials {
            let free: Vec<usize> = losable
                .iter()
                .copied()
                .filter(|&s| partial.is_none_or(|p| p.seq != s))
                .collect();
            for suffix in 0..dir_choices as usize {
                let lost_dirs = &pending.dir[pending.dir.len() - suffix..];
                if lost_dirs
                    .iter()
                    .any(|&d| partial.is_some_and(|p| p.seq == d))
                {
                    continue;
                }
                for mask in 0u64..(1u64 << free.len()) {
                    let mut dropped: Vec<usize> = lost_dirs.to_vec();
                    dropped.extend(
                        (0..free.len())
                            .filter(|i| mask >> i & 1 == 1)
                            .map(|i| free[i]),
                    );
                    let state = Self::with_drops(pending, partial, dropped);
                    self.all_sized(pending, &state, out);
                }
            }
        }
    }

    /// `state` with every choice of its sizeable lost writes leaving their size, each legal
    /// under the page rule.
    fn all_sized(&self, pending: &Pending, state: &CrashState, out: &mut Vec<CrashState>) {
        let sizeable = self.sizeable_lost(pending, state).len();
        for sized in 0u64..(1u64 << sizeable) {
            let state = self.with_sized(pending, state, sized);
            if pending
                .check_pages(&self.plan, &state, self.options.torn)
                .is_ok()
            {
                out.push(state);
            }
        }
    }

    /// `state` made legal under the page rule: a write kept on a page an earlier write lost is
    /// lost too. `None` when that cannot be done.
    fn repaired(&self, pending: &Pending, mut state: CrashState) -> Option<CrashState> {
        loop {
            match pending.check_pages(&self.plan, &state, self.options.torn) {
                Ok(()) => return Some(state),
                Err(super::model::IllegalState::PageOrder { later, .. }) => {
                    if state.partial.is_some_and(|p| p.seq == later) {
                        state.partial = None;
                    }
                    if !pending.losable(later) || state.is_dropped(later) {
                        return None;
                    }
                    state.dropped.push(later);
                    state.dropped.sort_unstable();
                }
                Err(_) => return None,
            }
        }
    }

    fn tears_of(&self, pending: &Pending, seq: usize) -> Vec<(u64, bool)> {
        pending.tears(&self.plan, seq, self.options.torn)
    }

    /// The smallest legal loss containing `seq`: in-order directory operations take the later
    /// pending ones along.
    fn closure(&self, pending: &Pending, seq: usize) -> Vec<usize> {
        match pending.dir.iter().position(|&d| d == seq) {
            Some(i) if pending.follows(RuleId::DirOpsInOrder) => pending.dir[i..].to_vec(),
            Some(_) | None => vec![seq],
        }
    }

    /// ALICE's families at this crash point.
    fn families_at(&self, pending: &Pending, out: &mut Vec<CrashState>) {
        out.push(Self::with_drops(pending, None, Vec::new()));
        let mut all: Vec<usize> = pending.data.iter().chain(&pending.dir).copied().collect();
        out.push(Self::with_drops(pending, None, all.clone()));
        out.push(Self::with_drops(pending, None, pending.data.clone()));
        out.push(Self::with_drops(pending, None, pending.dir.clone()));
        all.sort_unstable();
        for &seq in &all {
            out.push(Self::with_drops(pending, None, self.closure(pending, seq)));
        }
        for seq in self.tearable(pending) {
            for (kept, fill) in self.tears_of(pending, seq) {
                out.push(Self::with_drops(
                    pending,
                    Some(Partial { seq, kept, fill }),
                    Vec::new(),
                ));
            }
        }
        // Every sizeable write leaving its size alone, the rest of the data kept, then lost.
        let lost = Self::with_drops(pending, None, pending.data.clone());
        let all_sized = self.with_sized(pending, &lost, u64::MAX);
        if !all_sized.sized.is_empty() {
            let mut rest_kept = all_sized.clone();
            rest_kept.dropped.clear();
            out.push(rest_kept);
            out.push(all_sized);
        }
    }

    /// `count` seeded random states at this crash point.
    fn samples_at(
        &self,
        pending: &Pending,
        count: u64,
        rng: &mut SplitMix64,
        out: &mut Vec<CrashState>,
    ) {
        let (losable, dir_choices) = self.losable(pending);
        let tearable = self.tearable(pending);
        for _ in 0..count {
            let partial = if !tearable.is_empty() && rng.below(3) == 0 {
                let seq = tearable[rng.below(tearable.len() as u64) as usize];
                let tears = self.tears_of(pending, seq);
                tears
                    .get(rng.below(tears.len().max(1) as u64) as usize)
                    .map(|&(kept, fill)| Partial { seq, kept, fill })
            } else {
                None
            };
            let suffix = rng.below(dir_choices) as usize;
            let mut dropped: Vec<usize> = pending.dir[pending.dir.len() - suffix..].to_vec();
            dropped.extend(losable.iter().copied().filter(|_| rng.below(2) == 0));
            dropped.retain(|&d| partial.is_none_or(|p| p.seq != d));
            let state = Self::with_drops(pending, partial, dropped);
            let sized = rng.next_u64();
            out.push(self.with_sized(pending, &state, sized));
        }
    }
}

/// The running judgement of an exploration.
struct Judging<'a> {
    explorer: &'a Explorer,
    ack: Option<&'a AckPoint>,
    had_old: bool,
    /// Tree numbers and target classes, perhaps shared with other models' explorations.
    memo: &'a mut Memo,
    /// Distinct tree number → the epochs it was seen in (see [`Judging::epoch`]).
    sides: HashMap<usize, Vec<usize>>,
    /// Whole-tree mode: the caller judges each (tree, epoch) pair; a rejection is
    /// [`PowerViolation::CheckFailed`]. Holds the `events_before` of every acknowledgement.
    trees: Option<&'a [usize]>,
    raw: Vec<(CrashState, PowerViolation)>,
    raw_kinds: HashMap<(PowerViolation, bool), usize>,
    result: Exploration,
    /// The last state and its tree, to grow in place for the next tear of the same write.
    last: Option<(CrashState, FsTree)>,
    /// Cut violations down to their smallest form (not once the time budget is spent).
    minimise: bool,
}

/// The whole-tree judge of [`Explorer::explore_trees`] (a `--check` command): it keeps the one
/// verdict cache, content-addressed, and may check the trees it is handed while the walk goes
/// on.
pub trait TreeJudge {
    /// The ticket of `tree` in `epoch`: one per distinct (tree, epoch), equal trees compared in
    /// full on a hash hit; a tree met for the first time may start being checked now. `None`:
    /// stop (Ctrl-C, a harness error).
    fn ticket(&mut self, tree: &FsTree, epoch: usize) -> Option<usize>;

    /// What the check of `ticket` said, waited for. `None`: stop.
    fn verdict(&mut self, ticket: usize) -> Option<Checked>;
}

/// One verdict of a [`TreeJudge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The checker accepted the tree.
    pub holds: bool,
    /// It was checked only when asked, after the time budget ran out: the count ends with it.
    pub late: bool,
}

/// What a whole-tree walk met, in order.
#[derive(Debug, Default)]
struct TreeWalk {
    /// Each distinct (tree, epoch) ticket with the first state that left it.
    firsts: Vec<FirstMet>,
    seen: HashSet<usize>,
    /// States walked (and owned by this shard).
    states: u64,
    stopped: bool,
    spent: bool,
}

#[derive(Debug)]
struct FirstMet {
    state: CrashState,
    ticket: usize,
    before_ack: bool,
    /// States walked before it.
    states_before: u64,
}

/// What the walk made of one state in whole-tree mode.
enum Met {
    Ticket(usize),
    /// Another `--partition` shard's tree.
    Elsewhere,
    Stop,
}

impl TreeWalk {
    fn met(&mut self, judging: &Judging<'_>, state: &CrashState, ticket: usize) {
        if self.seen.insert(ticket) {
            self.firsts.push(FirstMet {
                state: state.clone(),
                ticket,
                before_ack: judging.before_ack(state),
                states_before: self.states,
            });
        }
        self.states += 1;
    }
}

/// What explorations of one explorer's trace learn about its states, to share between models
/// (`Explorer::with_model`; the fill stays): a state's tree does not depend on the model (it is
/// the plan replayed with the state's losses and tear), so a state another model's exploration
/// already judged is not rebuilt, hashed or classified again. Trees are numbered by content
/// (compared byte for byte on a hash hit); each distinct target is classified once. Under a
/// whole-tree check the memo keeps only each state's ticket: the verdicts are the
/// [`TreeJudge`]'s, so a memo goes with one judge.
#[derive(Debug, Default)]
pub struct Memo {
    /// Whether states are remembered (only worth it when several explorations share the memo).
    shared: bool,
    /// State → its tree's number and its target's class.
    states: HashMap<CrashState, (usize, TargetClass)>,
    /// Content hash → each distinct tree with that hash (a representative state, rebuilt to
    /// compare on a hit) and its number.
    trees: HashMap<u128, Vec<(CrashState, usize)>>,
    /// Target hash → each distinct target with that hash (a state that leaves it) and its class.
    targets: HashMap<u128, Vec<(CrashState, TargetClass)>>,
    /// Whole-tree mode: state → its (tree, epoch) ticket from the [`TreeJudge`] (which keeps
    /// the one verdict cache; the memo only spares rebuilding the tree to ask for it).
    tickets: HashMap<CrashState, usize>,
    next_tree: usize,
}

/// States a shared memo remembers at most (about 100 bytes each); past it, later models build
/// their states again.
const MEMO_STATES_MAX: usize = 1 << 20;

impl Memo {
    /// A memo for several explorations of one explorer (one per model).
    pub fn shared() -> Memo {
        Memo {
            shared: true,
            ..Memo::default()
        }
    }

    fn remember(&mut self, state: &CrashState, known: (usize, TargetClass)) {
        if self.shared && self.states.len() < MEMO_STATES_MAX {
            self.states.insert(state.clone(), known);
        }
    }

    fn remember_ticket(&mut self, state: &CrashState, ticket: usize) {
        if self.shared && self.tickets.len() < MEMO_STATES_MAX {
            self.tickets.insert(state.clone(), ticket);
        }
    }

    /// `tree`'s number: a hash hit counts only when the trees are equal (the representative
    /// state is rebuilt and compared).
    fn tree_number(&mut self, explorer: &Explorer, state: &CrashState, tree: &FsTree) -> usize {
        let same_hash = self.trees.entry(tree.content_hash()).or_default();
        let found = same_hash
            .iter()
            .find(|(known, _)| explorer.tree(known).same_content(tree));
        match found {
            Some((_, number)) => *number,
            None => {
                let number = self.next_tree;
                self.next_tree += 1;
                same_hash.push((state.clone(), number));
                number
            }
        }
    }

    /// The class of a state: with a unit, asked of `classify` once per state (its files are
    /// several); else once per distinct target, compared by content on a hash hit.
    fn class(
        &mut self,
        explorer: &Explorer,
        (state, tree): (&CrashState, &FsTree),
        classify: &mut dyn FnMut(&CrashState, &FsTree) -> TargetClass,
    ) -> TargetClass {
        if explorer.unit.is_some() {
            return classify(state, tree);
        }
        let target = &explorer.plan.target;
        let same_hash = self.targets.entry(tree.target_hash(target)).or_default();
        let mine = tree.target_state(target);
        let known = same_hash
            .iter()
            .find(|(known, _)| explorer.tree(known).target_state(target) == mine);
        match known {
            Some((_, class)) => *class,
            None => {
                let class = classify(state, tree);
                same_hash.push((state.clone(), class));
                class
            }
        }
    }
}

/// Violating states kept per (violation, side of the acknowledgement) for diagnosis.
const RAW_PER_KIND: usize = 4;

impl Explorer {
    /// Builds and judges the states. `classify` says what a target is; `ack` is where the
    /// writer acknowledged (see [`super::ack_point`]).
    pub fn explore(
        &self,
        ack: Option<&AckPoint>,
        classify: &mut dyn FnMut(&TargetState) -> TargetClass,
    ) -> Exploration {
        self.explore_with(ack, classify, &mut Memo::default(), &|| false)
    }

    /// As [`Explorer::explore`], stopping as soon as `stop()` says so (asked before every state,
    /// so Ctrl-C ends even a long exploration at once): the exploration is then not
    /// exhaustive, and its violations are reported as found, not cut down.
    pub fn explore_until(
        &self,
        ack: Option<&AckPoint>,
        classify: &mut dyn FnMut(&TargetState) -> TargetClass,
        stop: &dyn Fn() -> bool,
    ) -> Exploration {
        self.explore_with(ack, classify, &mut Memo::default(), stop)
    }

    /// [`Explorer::explore_until`] with a memo shared with other explorations of this trace
    /// (other models): states they judged are not built again. The result is the same.
    pub fn explore_with(
        &self,
        ack: Option<&AckPoint>,
        classify: &mut dyn FnMut(&TargetState) -> TargetClass,
        memo: &mut Memo,
        stop: &dyn Fn() -> bool,
    ) -> Exploration {
        let mut by_tree = |_: &CrashState, tree: &FsTree| self.judge_tree(tree, classify);
        self.judge_states(ack, &mut by_tree, (memo, stop))
    }

    /// Builds the states and lets `judge` judge each whole tree (a `--check` command) in one
    /// walk: each state's tree is handed to `judge` as it is met, keyed by its epoch (how many
    /// of `ack_events`, the `events_before` of every acknowledgement the trace holds, ascending,
    /// come at or before its crash point), so a tree seen after more acknowledgements is judged
    /// again and the judge may check trees while the walk goes on. The verdicts are then taken
    /// in the order the trees were met. A rejected state is a [`PowerViolation::CheckFailed`];
    /// `ack` still places the diagnoses. Past the time budget the walk stops, and the count
    /// ends at the first tree the judge had to check late (see [`Checked::late`]). `memo`
    /// (with tickets from this same judge) and `stop` as in [`Explorer::explore_with`].
    pub fn explore_trees(
        &self,
        ack: Option<&AckPoint>,
        ack_events: &[usize],
        judge: &mut dyn TreeJudge,
        (memo, stop): (&mut Memo, &dyn Fn() -> bool),
    ) -> Exploration {
        let mut judging = Judging::new(self, ack, Some(ack_events), memo);
        let (mut walk, exhaustive) = self.walk_trees(&mut judging, judge, stop);
        let (counted, late) = judging.resolve(&mut walk, judge);
        let spent = walk.spent || late;
        let mut classify = |candidate: &CrashState, tree: &FsTree| {
            let epoch = ack_events.partition_point(|&e| e <= candidate.events);
            let checked = judge.ticket(tree, epoch).and_then(|t| judge.verdict(t));
            match checked {
                Some(Checked { holds: false, .. }) => TargetClass::Torn,
                // A stop (Ctrl-C, a harness error) is the caller's to report.
                Some(Checked { holds: true, .. }) | None => TargetClass::New,
            }
        };
        judging.minimise = !spent && !walk.stopped;
        let mut result = judging.finish(&mut classify);
        result.states_checked = counted;
        result.exhaustive = exhaustive && !spent && !walk.stopped;
        self.close(result, spent)
    }

    /// Every state in order, each tree handed to `judge`, until the budget or `stop`; returns
    /// what was met and whether every state was.
    fn walk_trees(
        &self,
        judging: &mut Judging<'_>,
        judge: &mut dyn TreeJudge,
        stop: &dyn Fn() -> bool,
    ) -> (TreeWalk, bool) {
        let deadline = self.deadline();
        let mut walk = TreeWalk::default();
        let exhaustive = self.for_each_state_while(&mut |state| {
            walk.stopped = stop();
            if walk.stopped {
                return false;
            }
            match judging.ticket(state, judge) {
                Met::Ticket(ticket) => walk.met(judging, state, ticket),
                Met::Elsewhere => {}
                Met::Stop => {
                    walk.stopped = true;
                    return false;
                }
            }
            walk.spent = deadline.is_some_and(|d| std::time::Instant::now() >= d);
            !walk.spent
        });
        (walk, exhaustive)
    }

    /// When the time budget runs out, counted from now.
    fn deadline(&self) -> Option<std::time::Instant> {
        self.options
            .budget_ms
            .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms))
    }

    /// The budget, the state space and the unmodelled events, written into `result`.
    fn close(&self, mut result: Exploration, spent: bool) -> Exploration {
        result.budget_spent = spent;
        result.state_space = self.state_space();
        result.unmodelled = self
            .plan
            .unmodelled()
            .map(|(seq, why)| (seq, why.to_owned()))
            .collect();
        result
    }

    fn judge_states(
        &self,
        ack: Option<&AckPoint>,
        classify: &mut dyn FnMut(&CrashState, &FsTree) -> TargetClass,
        (memo, stop): (&mut Memo, &dyn Fn() -> bool),
    ) -> Exploration {
        let mut judging = Judging::new(self, ack, None, memo);
        let deadline = self.deadline();
        let (mut spent, mut stopped) = (false, false);
        let exhaustive = self.for_each_state_while(&mut |state| {
            stopped = stop();
            if stopped {
                return false;
            }
            judging.judge(state, classify);
            spent = deadline.is_some_and(|d| std::time::Instant::now() >= d);
            !spent
        });
        // Past the budget (or once stopped) the violations are reported as found, not cut
        // down (each cut asks the classifier again).
        judging.minimise = !spent && !stopped;
        let mut result = judging.finish(classify);
        result.exhaustive = exhaustive && !spent && !stopped;
        self.close(result, spent)
    }

    /// Whether this explorer's `--partition` shard judges `tree` (every tree without one): by
    /// [`FsTree::shard_hash`], so equal trees fall in one shard whatever temp names the
    /// writer picked in each shard's process.
    pub fn owns(&self, tree: &FsTree) -> bool {
        self.options.partition.is_none_or(|shard| {
            let hash = tree.shard_hash(&self.plan.target);
            hash % u128::from(shard.count) == u128::from(shard.index - 1)
        })
    }

    /// Grows `tree` (the tree of `last`) into the tree of `state` when `state` is a later tear
    /// of the same crash-event write.
    fn grow(&self, last: &CrashState, tree: &mut FsTree, state: &CrashState) -> bool {
        let (Some(a), Some(b)) = (last.partial, state.partial) else {
            return false;
        };
        let same = last.events == state.events
            && last.dropped == state.dropped
            && last.sized == state.sized
            && a.seq == b.seq
            && a.fill == b.fill
            && a.seq + 1 == state.events
            && b.kept > a.kept;
        if let StepKind::Write {
            ino,
            offset_bytes,
            data,
            ..
        } = &self.plan.steps[a.seq].kind
        {
            if same && (b.kept as usize) <= data.len() {
                let from = a.kept as usize;
                let to = b.kept as usize;
                tree.inode_mut(*ino)
                    .write_at(*offset_bytes as usize + from, &data[from..to]);
                return true;
            }
        }
        false
    }
}

impl<'a> Judging<'a> {
    fn new(
        explorer: &'a Explorer,
        ack: Option<&'a AckPoint>,
        trees: Option<&'a [usize]>,
        memo: &'a mut Memo,
    ) -> Judging<'a> {
        Judging {
            explorer,
            ack,
            had_old: explorer.had_old(),
            memo,
            sides: HashMap::new(),
            trees,
            raw: Vec::new(),
            raw_kinds: HashMap::new(),
            result: Exploration::default(),
            last: None,
            minimise: true,
        }
    }
}

impl Judging<'_> {
    fn judge(
        &mut self,
        state: &CrashState,
        classify: &mut dyn FnMut(&CrashState, &FsTree) -> TargetClass,
    ) {
        let before_ack = self.ack.is_none_or(|a| state.events < a.events_before);
        let epoch = self.epoch(state, before_ack);
        let (number, class) = match self.memo.states.get(state) {
            Some(&known) => {
                self.last = None;
                known
            }
            None => {
                let explorer = self.explorer;
                let tree = self.build(state);
                if !explorer.owns(&tree) {
                    // Another shard judges this tree; it stays here only to grow the next tear.
                    self.last = Some((state.clone(), tree));
                    return;
                }
                let number = self.memo.tree_number(explorer, state, &tree);
                let class = self.memo.class(explorer, (state, &tree), classify);
                self.memo.remember(state, (number, class));
                self.last = Some((state.clone(), tree));
                (number, class)
            }
        };
        self.result.states_checked += 1;
        let epochs = match self.sides.get_mut(&number) {
            Some(epochs) => epochs,
            None => {
                self.result.distinct_states += 1;
                self.sides.entry(number).or_default()
            }
        };
        if !epochs.contains(&epoch) {
            epochs.push(epoch);
            self.count(state, class, before_ack);
        }
    }

    /// Whole-tree mode: the judge's ticket for `state`'s (tree, epoch), remembered from another
    /// model's walk or the tree built (grown from the last) and handed over.
    fn ticket(&mut self, state: &CrashState, judge: &mut dyn TreeJudge) -> Met {
        if let Some(&ticket) = self.memo.tickets.get(state) {
            self.last = None;
            return Met::Ticket(ticket);
        }
        let tree = self.build(state);
        let owned = self.explorer.owns(&tree);
        let epoch = self.epoch(state, self.before_ack(state));
        let ticket = match owned {
            true => judge.ticket(&tree, epoch),
            // Another shard judges this tree; it stays here only to grow the next tear.
            false => None,
        };
        self.last = Some((state.clone(), tree));
        match (owned, ticket) {
            (false, _) => Met::Elsewhere,
            (true, None) => Met::Stop,
            (true, Some(ticket)) => {
                self.memo.remember_ticket(state, ticket);
                Met::Ticket(ticket)
            }
        }
    }

    /// Whole-tree mode: the verdicts of the trees `walk` met, in order, counted. Returns how
    /// many states the count covers and whether it ended at a tree checked late.
    fn resolve(&mut self, walk: &mut TreeWalk, judge: &mut dyn TreeJudge) -> (u64, bool) {
        let firsts = std::mem::take(&mut walk.firsts);
        for (i, first) in firsts.iter().enumerate() {
            let Some(checked) = judge.verdict(first.ticket) else {
                walk.stopped = true;
                return (first.states_before, false);
            };
            let class = match checked.holds {
                true => TargetClass::New,
                false => TargetClass::Torn,
            };
            self.result.distinct_states += 1;
            self.count(&first.state, class, first.before_ack);
            if checked.late {
                let next = firsts.get(i + 1).map_or(walk.states, |n| n.states_before);
                return (next, true);
            }
        }
        (walk.states, false)
    }

    fn before_ack(&self, state: &CrashState) -> bool {
        self.ack.is_none_or(|a| state.events < a.events_before)
    }

    /// `state`'s tree, grown from the last one when it is a later tear of the same write.
    fn build(&mut self, state: &CrashState) -> FsTree {
        let explorer = self.explorer;
        match self.last.take() {
            Some((last, mut tree)) => match explorer.grow(&last, &mut tree, state) {
                true => tree,
                false => explorer.tree(state),
            },
            None => explorer.tree(state),
        }
    }

    /// What a state is judged in besides its tree: the side of the acknowledgement, or, under a
    /// whole-tree check, how many acknowledgements came at or before the crash.
    fn epoch(&self, state: &CrashState, before_ack: bool) -> usize {
        match self.trees {
            Some(ack_events) => ack_events.partition_point(|&e| e <= state.events),
            None => usize::from(before_ack),
        }
    }

    /// The violation a class is, in this mode.
    fn rule(&self, before_ack: bool, class: TargetClass) -> Option<PowerViolation> {
        match (self.trees, class) {
            (Some(_), TargetClass::Torn) => Some(PowerViolation::CheckFailed),
            (Some(_), TargetClass::Absent | TargetClass::Old | TargetClass::New) => None,
            (None, _) => verdict_rule(before_ack, class, self.had_old),
        }
    }

    fn count(&mut self, state: &CrashState, class: TargetClass, before_ack: bool) {
        self.result.classes.add(class);
        if !before_ack {
            self.result.after_ack.add(class);
        }
        if let Some(violation) = self.rule(before_ack, class) {
            self.result.violating_states += 1;
            let kept = self.raw_kinds.entry((violation, before_ack)).or_default();
            if *kept < RAW_PER_KIND {
                *kept += 1;
                self.raw.push((state.clone(), violation));
            }
        }
    }

    fn finish(
        mut self,
        classify: &mut dyn FnMut(&CrashState, &FsTree) -> TargetClass,
    ) -> Exploration {
        let mut findings: Vec<Finding> = Vec::new();
        for (state, violation) in std::mem::take(&mut self.raw) {
            let judge =
                |candidate: &CrashState,
                 classify: &mut dyn FnMut(&CrashState, &FsTree) -> TargetClass| {
                    let tree = self.explorer.tree(candidate);
                    let class = classify(candidate, &tree);
                    let before = self.ack.is_none_or(|a| candidate.events < a.events_before);
                    (self.rule(before, class), class)
                };
            let small = match self.minimise {
                true => diagnose::minimise(self.explorer, &state, violation, &mut |c| {
                    judge(c, classify).0
                }),
                false => state,
            };
            if findings.iter().any(|f| f.state == small) {
                continue;
            }
            let (_, class) = judge(&small, classify);
            let tree = self.explorer.tree(&small);
            let before_ack = self.ack.is_none_or(|a| small.events < a.events_before);
            let facts = diagnose::Facts {
                state: &small,
                violation,
                class,
                tree: &tree,
                ack: self.ack,
                before_ack,
            };
            let diagnosis = diagnose::describe(self.explorer, &facts);
            findings.push(Finding {
                model: self.explorer.options.model,
                leftovers: self.explorer.leftovers(&tree),
                state: small,
                violation,
                class,
                before_ack,
                diagnosis,
                reason: None,
            });
            if findings.len() >= self.explorer.options.max_findings {
                break;
            }
        }
        findings.sort_by(|a, b| {
            (a.violation, a.state.dropped.len(), &a.state).cmp(&(
                b.violation,
                b.state.dropped.len(),
                &b.state,
            ))
        });
        self.result.findings = findings;
        self.result
    }
}
