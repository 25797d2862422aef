//! Enumerating crash states and judging each.
//!
//! Per crash point (after each event), the states a model allows are counted first. While the
//! whole count fits `max_states` every state is built; beyond that the explorer builds ALICE's
//! families (every prefix; everything not yet durable lost; all data lost but the directory
//! operations kept and the reverse; each operation left out with the later ones kept; each
//! operation torn at each unit) and fills the rest of the budget with seeded random states.
//! The budget is spread evenly: the first n of N crash points use at most n/N of `max_states`,
//! and a point whose families do not fit its share keeps an even spread of them, so no model
//! (`process` and its tear at every byte included) visits more than `max_states`. A time budget
//! (`budget_ms`) stops judging; the exploration then says it was not exhaustive.
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
use super::tree::FsTree;
use super::{PowerError, PowerOptions};
use crate::oracle::TargetState;
use crate::rng::SplitMix64;
use crate::trace::Trace;

/// The explorer over one trace.
#[derive(Debug, Clone)]
pub struct Explorer {
    plan: Plan,
    options: PowerOptions,
    replayer: Replayer,
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
    /// Distinct trees among them (by content).
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
        }
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
        let pow = |k: usize| if k >= 63 { u64::MAX } else { 1u64 << k };
        let mut total = pow(losable.len());
        for p in self.tearable(pending) {
            let tears = self.tear_count(pending, p);
            let rest = losable.len() - usize::from(losable.contains(&p));
            total = total.saturating_add(tears.saturating_mul(pow(rest)));
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
    /// gets an even share, its families spread over it first, then samples.
    pub fn for_each_state_while(&self, visit: &mut dyn FnMut(&CrashState) -> bool) -> bool {
        let space = self.state_space();
        let exhaustive = space <= self.options.max_states;
        let mut rng = SplitMix64::new(self.options.seed);
        let mut pending = Pending::losing(self.options.model, &self.options.lost_writes);
        let mut emitted = 0u64;
        let points = self.plan.steps.len() + 1;
        for n in 0..points {
            if n > 0 {
                pending.advance(&self.plan, &self.plan.steps[n - 1]);
            }
            let mut batch = Vec::new();
            if exhaustive {
                self.all_at(&pending, &mut batch);
            } else {
                // The first n+1 points may use (n+1)/points of the budget: an even spread.
                let max = u128::from(self.options.max_states);
                let upto = (max * (n as u128 + 1) / points as u128) as u64;
                self.sampled_at(&pending, upto.saturating_sub(emitted), &mut rng, &mut batch);
            }
            let mut seen = HashSet::new();
            for state in batch {
                if seen.insert(state.clone()) {
                    emitted += 1;
                    if !visit(&state) {
                        return false;
                    }
                }
            }
        }
        exhaustive
    }

    /// Up to `share` states at one crash point: ALICE's families (spread evenly when they do
    /// not fit), then seeded samples, each made legal under the page rule.
    fn sampled_at(
        &self,
        pending: &Pending,
        share: u64,
        rng: &mut SplitMix64,
        batch: &mut Vec<CrashState>,
    ) {
        if share == 0 {
            return;
        }
        let mut families = Vec::new();
        self.families_at(pending, &mut families);
        let share = share as usize;
        let stride = families.len().div_ceil(share).max(1);
        batch.extend(families.into_iter().step_by(stride));
        let left = share.saturating_sub(batch.len()) as u64;
        self.samples_at(pending, left, rng, batch);
        let repaired: Vec<CrashState> = std::mem::take(batch)
            .into_iter()
            .filter_map(|state| self.repaired(pending, state))
            .collect();
        *batch = repaired;
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
            partial,
        }
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
                    if pending
                        .check_pages(&self.plan, &state, self.options.torn)
                        .is_ok()
                    {
                        out.push(state);
                    }
                }
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
            out.push(Self::with_drops(pending, partial, dropped));
        }
    }
}

/// The running judgement of an exploration.
struct Judging<'a> {
    explorer: &'a Explorer,
    ack: Option<&'a AckPoint>,
    had_old: bool,
    /// Content hash → each distinct tree with that hash (a representative state, to rebuild
    /// and compare on a hit) and the sides of the acknowledgement it was seen on.
    seen: HashMap<u128, Vec<(CrashState, [bool; 2])>>,
    /// Target hash → each distinct target with that hash (a state that leaves it) and its class.
    verdicts: HashMap<u128, Vec<(CrashState, TargetClass)>>,
    raw: Vec<(CrashState, PowerViolation)>,
    raw_kinds: HashMap<(PowerViolation, bool), usize>,
    result: Exploration,
    /// The last state and its tree, to grow in place for the next tear of the same write.
    last: Option<(CrashState, FsTree)>,
    /// Cut violations down to their smallest form (not once the time budget is spent).
    minimise: bool,
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
        self.explore_until(ack, classify, &|| false)
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
        let mut judging = Judging::new(self, ack);
        let deadline = self
            .options
            .budget_ms
            .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms));
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
        // down (each cut asks the classifier again, a `--check` command each time).
        judging.minimise = !spent && !stopped;
        let mut result = judging.finish(classify);
        result.exhaustive = exhaustive && !spent && !stopped;
        result.budget_spent = spent;
        result.state_space = self.state_space();
        result.unmodelled = self
            .plan
            .unmodelled()
            .map(|(seq, why)| (seq, why.to_owned()))
            .collect();
        result
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
    fn new(explorer: &'a Explorer, ack: Option<&'a AckPoint>) -> Judging<'a> {
        Judging {
            explorer,
            ack,
            had_old: explorer.plan.old.is_some(),
            seen: HashMap::new(),
            verdicts: HashMap::new(),
            raw: Vec::new(),
            raw_kinds: HashMap::new(),
            result: Exploration::default(),
            last: None,
            minimise: true,
        }
    }

    fn judge(&mut self, state: &CrashState, classify: &mut dyn FnMut(&TargetState) -> TargetClass) {
        let explorer = self.explorer;
        let tree = match self.last.take() {
            Some((last, mut tree)) => {
                if explorer.grow(&last, &mut tree, state) {
                    tree
                } else {
                    explorer.tree(state)
                }
            }
            None => explorer.tree(state),
        };
        if !explorer.owns(&tree) {
            // Another shard judges this tree; it stays here only to grow the next tear.
            self.last = Some((state.clone(), tree));
            return;
        }
        self.result.states_checked += 1;
        let before_ack = self.ack.is_none_or(|a| state.events < a.events_before);
        let sides = self.sides(state, &tree);
        let side = &mut sides[usize::from(before_ack)];
        if !*side {
            *side = true;
            let class = self.class(state, &tree, classify);
            self.count(state, class, before_ack);
        }
        self.last = Some((state.clone(), tree));
    }

    /// The sides of the acknowledgement `tree`'s content was seen on so far. A hash hit counts
    /// only when the trees are equal: the representative state is rebuilt and compared.
    fn sides(&mut self, state: &CrashState, tree: &FsTree) -> &mut [bool; 2] {
        let explorer = self.explorer;
        let same_hash = self.seen.entry(tree.content_hash()).or_default();
        let found = same_hash
            .iter()
            .position(|(known, _)| explorer.tree(known).same_content(tree));
        let index = match found {
            Some(index) => index,
            None => {
                self.result.distinct_states += 1;
                same_hash.push((state.clone(), [false; 2]));
                same_hash.len() - 1
            }
        };
        &mut same_hash[index].1
    }

    /// The class of `tree`'s target, asked of `classify` once per distinct target (compared by
    /// content on a hash hit).
    fn class(
        &mut self,
        state: &CrashState,
        tree: &FsTree,
        classify: &mut dyn FnMut(&TargetState) -> TargetClass,
    ) -> TargetClass {
        let explorer = self.explorer;
        let target = &explorer.plan.target;
        let same_hash = self.verdicts.entry(tree.target_hash(target)).or_default();
        let mine = tree.target_state(target);
        let known = same_hash
            .iter()
            .find(|(known, _)| explorer.tree(known).target_state(target) == mine);
        match known {
            Some((_, class)) => *class,
            None => {
                let class = classify(&mine);
                same_hash.push((state.clone(), class));
                class
            }
        }
    }

    fn count(&mut self, state: &CrashState, class: TargetClass, before_ack: bool) {
        self.result.classes.add(class);
        if !before_ack {
            self.result.after_ack.add(class);
        }
        if let Some(violation) = verdict_rule(before_ack, class, self.had_old) {
            self.result.violating_states += 1;
            let kept = self.raw_kinds.entry((violation, before_ack)).or_default();
            if *kept < RAW_PER_KIND {
                *kept += 1;
                self.raw.push((state.clone(), violation));
            }
        }
    }

    fn finish(mut self, classify: &mut dyn FnMut(&TargetState) -> TargetClass) -> Exploration {
        let mut findings: Vec<Finding> = Vec::new();
        for (state, violation) in std::mem::take(&mut self.raw) {
            let judge =
                |candidate: &CrashState, classify: &mut dyn FnMut(&TargetState) -> TargetClass| {
                    let tree = self.explorer.tree(candidate);
                    let class = classify(&tree.target_state(&self.explorer.plan.target));
                    let before = self.ack.is_none_or(|a| candidate.events < a.events_before);
                    (verdict_rule(before, class, self.had_old), class)
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
                leftovers: tree.leftovers(&self.explorer.plan.target),
                state: small,
                violation,
                class,
                before_ack,
                diagnosis,
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
