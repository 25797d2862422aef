//! Completeness: a brute-force enumerator, written from the rule table and the raw trace events
//! alone (no code of the explorer: no plan, no pending sets, no tears), lists every crash state
//! a model allows on small random traces; the explorer must build exactly that set.
//!
//! It tries every crash point, every subset of the events as lost and every way of tearing one
//! event, and keeps the combinations the rules allow, each rule read as its sentence says.

use std::collections::{BTreeSet, HashMap, HashSet};

use proptest::prelude::*;

use super::proptests::{build, gen_op_up_to};
use super::*;
use crate::trace::{InitialState, Op, Trace, WriteSync};

/// What program order says of each event: whether a write grows its file, whether its last byte
/// lies in a block its file already holds (the 4096-byte blocks up to the old size), whether a
/// rename replaces a name.
struct Facts {
    extends: Vec<bool>,
    held: Vec<bool>,
    replaced: Vec<bool>,
}

/// One event's facts: (extends, held, replaced).
type Fact = (bool, bool, bool);

/// Program order by recorded inode numbers and names: sizes, existing names, inodes known.
#[derive(Default)]
struct Order {
    size: HashMap<u64, u64>,
    names: HashSet<String>,
    known: HashSet<u64>,
}

impl Order {
    /// A file named `path` with recorded inode `ino`: a name never seen before is a file of
    /// unknown (empty) contents that existed before the run.
    fn touch(&mut self, path: &str, ino: Option<u64>) -> u64 {
        let ino = ino.unwrap_or(0);
        if self.known.insert(ino) && self.names.insert(path.to_owned()) {
            self.size.insert(ino, 0);
        }
        ino
    }

    fn event(&mut self, op: &Op) -> Fact {
        match op {
            Op::Open { path, ino, .. } => {
                let ino = ino.unwrap_or(0);
                self.known.insert(ino);
                self.names.insert(path.clone());
                self.size.insert(ino, 0);
            }
            Op::Write {
                path,
                ino,
                offset_bytes,
                data,
                ..
            } => {
                let ino = self.touch(path, *ino);
                let end = offset_bytes + data.len() as u64;
                let size = self.size.entry(ino).or_default();
                let extends = end > *size;
                let held = *size > 0 && end <= size.div_ceil(4096) * 4096;
                *size = (*size).max(end);
                return (extends, held, false);
            }
            Op::Truncate {
                path,
                ino,
                len_bytes,
            } => {
                let ino = self.touch(path, *ino);
                self.size.insert(ino, *len_bytes);
            }
            Op::Rename {
                from, to, from_ino, ..
            } => {
                self.touch(from, *from_ino);
                let replaced = self.names.contains(to);
                self.names.remove(from);
                self.names.insert(to.clone());
                return (false, false, replaced);
            }
            Op::Link { from, from_ino, to } => {
                self.touch(from, *from_ino);
                self.names.insert(to.clone());
            }
            Op::Unlink { path, .. } => {
                self.names.remove(path);
            }
            Op::Fsync {
                path,
                ino: Some(ino),
            } if self.names.contains(path) => {
                self.touch(path, Some(*ino));
            }
            Op::Fsync { .. }
            | Op::Symlink { .. }
            | Op::Rmdir { .. }
            | Op::Mkdir { .. }
            | Op::Fdatasync { .. }
            | Op::SyncFileRange { .. }
            | Op::Fallocate { .. }
            | Op::Chmod { .. }
            | Op::Chown { .. }
            | Op::Close { .. }
            | Op::Sync
            | Op::Syncfs { .. }
            | Op::Mmap { .. }
            | Op::Msync { .. }
            | Op::IoUringSetup { .. } => {}
        }
        (false, false, false)
    }
}

fn facts(trace: &Trace) -> Facts {
    let mut order = Order::default();
    if let Some(InitialState::Old { data }) = &trace.header.initial {
        order.names.insert("t".to_owned());
        order.size.insert(1, data.len() as u64);
    }
    let mut out = Facts {
        extends: Vec::new(),
        held: Vec::new(),
        replaced: Vec::new(),
    };
    for event in &trace.events {
        let (extends, held, replaced) = match event.ret >= 0 {
            true => order.event(&event.op),
            false => (false, false, false),
        };
        out.extends.push(extends);
        out.held.push(held);
        out.replaced.push(replaced);
    }
    out
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(".", |(dir, _)| dir)
}

/// The names whose directories a directory operation changes (`None`: not one).
fn dir_names(op: &Op) -> Option<Vec<&str>> {
    if let Op::Open {
        path,
        created: true,
        tmpfile: false,
        ..
    }
    | Op::Unlink { path, .. }
    | Op::Mkdir { path, .. } = op
    {
        return Some(vec![path.as_str()]);
    }
    if let Op::Rename { from, to, .. } = op {
        return Some(vec![from.as_str(), to.as_str()]);
    }
    if let Op::Link { to, .. } = op {
        return Some(vec![to.as_str()]);
    }
    None
}

/// The recorded inode whose data a lossable data operation changes.
fn unsynced_data(op: &Op) -> Option<u64> {
    if let Op::Write {
        ino,
        sync: WriteSync::No,
        ..
    }
    | Op::Truncate { ino, .. } = op
    {
        return *ino;
    }
    None
}

/// One model read as its rules say, on one trace.
struct Rules<'a> {
    trace: &'a Trace,
    facts: Facts,
    rules: RuleSet,
    torn: Torn,
}

impl Rules<'_> {
    fn op(&self, seq: usize) -> &Op {
        &self.trace.events[seq].op
    }

    fn ok(&self, seq: usize) -> bool {
        self.trace.events[seq].ret >= 0
    }

    /// The recorded inode event `b` makes durable as a file: an fsync, or an O_SYNC write.
    fn file_barrier(&self, b: usize) -> Option<u64> {
        if let Op::Fsync { ino: Some(x), .. } = self.op(b) {
            return self.rules.has(RuleId::FileFsyncPersistsData).then_some(*x);
        }
        if let Op::Write {
            ino: Some(x),
            sync: WriteSync::Data | WriteSync::Full,
            ..
        } = self.op(b)
        {
            return self.rules.has(RuleId::SyncWritesAreDurable).then_some(*x);
        }
        None
    }

    /// The recorded inode a create, link or rename names.
    fn named(&self, i: usize) -> Option<u64> {
        if let Op::Open {
            ino, created: true, ..
        } = self.op(i)
        {
            return *ino;
        }
        if let Op::Link { from_ino, .. } | Op::Rename { from_ino, .. } = self.op(i) {
            return *from_ino;
        }
        None
    }

    /// Whether event `b` makes event `i` durable.
    fn covers(&self, b: usize, i: usize) -> bool {
        let follows = |rule| self.rules.has(rule);
        if !self.ok(b) {
            return false;
        }
        if matches!(self.op(b), Op::Sync) {
            return follows(RuleId::SyncPersistsEverything);
        }
        if let Some(ino) = unsynced_data(self.op(i)) {
            return self.file_barrier(b) == Some(ino);
        }
        let new_name = self.named(i).is_some()
            && self.named(i) == self.file_barrier(b)
            && follows(RuleId::FsyncPersistsNewName);
        let dir_fsync = |path: &str| {
            dir_names(self.op(i)).is_some_and(|names| names.iter().any(|p| parent(p) == path))
        };
        let in_dir = matches!(self.op(b), Op::Fsync { path, ino: None } if dir_fsync(path))
            && follows(RuleId::DirFsyncPersistsEntries);
        new_name || in_dir
    }

    fn is_dir_op(&self, seq: usize) -> bool {
        self.ok(seq) && dir_names(self.op(seq)).is_some()
    }

    fn durable(&self, i: usize, n: usize) -> bool {
        (i + 1..n).any(|b| self.covers(b, i))
    }

    /// Whether event `i` may be lost at crash point `n`.
    fn losable(&self, i: usize, n: usize) -> bool {
        let kind_may = if unsynced_data(self.op(i)).is_some() {
            self.rules.has(RuleId::UnsyncedDataMayBeLost)
        } else {
            self.is_dir_op(i) && self.rules.has(RuleId::UnsyncedDirOpsMayBeLost)
        };
        let later_durable = self.is_dir_op(i)
            && self.rules.has(RuleId::DirOpsInOrder)
            && (i + 1..n).any(|j| self.is_dir_op(j) && self.durable(j, n));
        self.ok(i) && kind_may && !self.durable(i, n) && !later_durable
    }

    /// Whether losing `dropped` at `n` is allowed (the tear aside).
    fn drops_allowed(&self, n: usize, dropped: &[usize]) -> bool {
        if !dropped.iter().all(|&d| self.losable(d, n)) {
            return false;
        }
        if !self.rules.has(RuleId::DirOpsInOrder) {
            return true;
        }
        let pending = (0..n).filter(|&i| self.is_dir_op(i) && self.losable(i, n));
        let mut lost_before = false;
        for i in pending {
            let lost = dropped.contains(&i);
            if lost_before && !lost {
                return false;
            }
            lost_before |= lost;
        }
        true
    }

    /// The writes before `n`: (seq, recorded inode, offset, length).
    fn writes(&self, n: usize) -> Vec<(usize, u64, u64, u64)> {
        let write = |i: usize| {
            let Op::Write {
                ino: Some(x),
                offset_bytes,
                data,
                ..
            } = self.op(i)
            else {
                return None;
            };
            self.ok(i)
                .then_some((i, *x, *offset_bytes, data.len() as u64))
        };
        (0..n).filter_map(write).collect()
    }

    fn truncated_between(&self, ino: u64, i: usize, j: usize) -> bool {
        (i + 1..j).any(|t| {
            self.ok(t) && matches!(self.op(t), Op::Truncate { ino: Some(x), .. } if *x == ino)
        })
    }

    /// The page rule: no write keeps a byte on a page where an earlier write to the same file
    /// (no truncate between) lost one.
    fn pages_allowed(&self, n: usize, dropped: &[usize], partial: Option<Partial>) -> bool {
        if !self.rules.has(RuleId::PageGranularLoss) {
            return true;
        }
        let page = self.torn.page_bytes();
        let kept = |seq: usize, len: u64| match partial {
            _ if dropped.contains(&seq) => 0,
            Some(p) if p.seq == seq => p.kept.min(len),
            Some(_) | None => len,
        };
        let writes = self.writes(n);
        for &(i, ino, offset, len) in &writes {
            let lost_from = offset + kept(i, len);
            let (low, high) = (
                lost_from / page * page,
                (offset + len).div_ceil(page) * page,
            );
            let clash = writes.iter().any(|&(j, ino_j, offset_j, len_j)| {
                j > i
                    && ino_j == ino
                    && lost_from < offset + len
                    && !self.truncated_between(ino, i, j)
                    && kept(j, len_j) > 0
                    && offset_j < high
                    && low < offset_j + kept(j, len_j)
            });
            if clash {
                return false;
            }
        }
        true
    }

    /// Whether event `seq` may reach the disk as `kept` (with `fill`) at crash point `n`.
    fn tear_allowed(&self, n: usize, p: Partial) -> bool {
        let follows = |rule| self.rules.has(rule);
        let crash_event = p.seq + 1 == n;
        if let Op::Rename { exchange, .. } = self.op(p.seq) {
            let steps = p.kept == 2 || (p.kept == 1 && self.facts.replaced[p.seq]);
            return !exchange
                && !p.fill
                && steps
                && follows(RuleId::RenameInThreeSteps)
                && self.losable(p.seq, n);
        }
        let Op::Write {
            offset_bytes, data, ..
        } = self.op(p.seq)
        else {
            return false;
        };
        let len = data.len() as u64;
        if follows(RuleId::CrashInsideWriteAtAnyByte) {
            return crash_event && !p.fill && p.kept > 0 && p.kept < len;
        }
        // "may persist the new size before its data": any growing write, or under the
        // held-block rule one ending in a block its file already holds.
        let grows = self.facts.extends[p.seq]
            && (follows(RuleId::SizeBeforeData)
                || (self.facts.held[p.seq] && follows(RuleId::SizeBeforeDataInHeldBlock)));
        let on_unit = self.torn.unit_bytes().is_some_and(|unit| {
            follows(RuleId::TornAtUnits)
                && p.kept > 0
                && p.kept < len
                && (offset_bytes + p.kept) % unit == 0
        });
        let shape = (on_unit && (!p.fill || grows)) || (p.kept == 0 && p.fill && grows);
        shape && (crash_event || self.losable(p.seq, n))
    }

    /// Whether write `seq`, lost at `n`, may leave its size alone (any number of such writes in
    /// one state): "a write that grows a file and ends in a block the file already holds may
    /// persist the new size before its data", read for a lost write as its size without data.
    fn sizeable(&self, n: usize, seq: usize) -> bool {
        let follows = |rule| self.rules.has(rule);
        let held_append = self.facts.extends[seq] && self.facts.held[seq];
        let size_leads =
            follows(RuleId::SizeBeforeData) || follows(RuleId::SizeBeforeDataInHeldBlock);
        matches!(
            self.op(seq),
            Op::Write {
                sync: WriteSync::No,
                ..
            }
        ) && held_append
            && size_leads
            && self.losable(seq, n)
    }

    /// Every tear worth trying at `n`: each byte of each write, both fills; one or two steps.
    fn tear_candidates(&self, n: usize) -> Vec<Partial> {
        let mut out = Vec::new();
        for seq in 0..n {
            // Rename steps are 1 and 2; other operations get candidates the rules refuse.
            let len = if let Op::Write { data, .. } = self.op(seq) {
                data.len() as u64
            } else {
                3
            };
            for kept in 0..len {
                for fill in [false, true] {
                    out.push(Partial { seq, kept, fill });
                }
            }
        }
        out
    }

    /// The states losing `dropped` (and tearing `partial`) at `n`, with every subset of the
    /// sizeable lost writes leaving their size instead.
    fn sized_choices(
        &self,
        n: usize,
        dropped: &[usize],
        partial: Option<Partial>,
    ) -> Vec<CrashState> {
        let sizeable: Vec<usize> = dropped
            .iter()
            .copied()
            .filter(|&seq| self.sizeable(n, seq))
            .collect();
        (0u32..1 << sizeable.len())
            .map(|mask| {
                let sized: Vec<usize> = (0..sizeable.len())
                    .filter(|i| mask >> i & 1 == 1)
                    .map(|i| sizeable[i])
                    .collect();
                let dropped = dropped.iter().copied().filter(|d| !sized.contains(d));
                CrashState {
                    events: n,
                    dropped: dropped.collect(),
                    sized,
                    partial,
                }
            })
            .collect()
    }

    /// Every state the rules allow.
    fn every_state(&self) -> BTreeSet<CrashState> {
        let mut states = BTreeSet::new();
        for n in 0..=self.trace.events.len() {
            let tears: Vec<Partial> = self
                .tear_candidates(n)
                .into_iter()
                .filter(|&p| self.tear_allowed(n, p))
                .collect();
            for mask in 0u32..1 << n {
                let dropped: Vec<usize> = (0..n).filter(|i| mask >> i & 1 == 1).collect();
                if !self.drops_allowed(n, &dropped) {
                    continue;
                }
                let partials = std::iter::once(None).chain(
                    tears
                        .iter()
                        .filter(|p| !dropped.contains(&p.seq))
                        .map(|&p| Some(p)),
                );
                // A sized write keeps none of its bytes: the page rule reads it as lost.
                for partial in partials {
                    if self.pages_allowed(n, &dropped, partial) {
                        states.extend(self.sized_choices(n, &dropped, partial));
                    }
                }
            }
        }
        states
    }
}

/// The explorer's states (every one: the space fits the budget).
fn explored(trace: &Trace, model: Model, torn: Torn) -> BTreeSet<CrashState> {
    let options = PowerOptions {
        model,
        torn,
        max_states: u64::MAX,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(trace, options).unwrap();
    let mut states = BTreeSet::new();
    let exhaustive = explorer.for_each_state(&mut |state| {
        states.insert(state.clone());
    });
    assert!(exhaustive);
    states
}

fn first_few(states: impl Iterator<Item = CrashState>) -> Vec<String> {
    states.take(5).map(|s| s.to_string()).collect()
}

fn models() -> impl Strategy<Value = Model> {
    proptest::sample::select(Model::ALL.to_vec())
}

fn torn_modes() -> impl Strategy<Value = Torn> {
    prop_oneof![
        Just(Torn::Block),
        Just(Torn::Sector),
        Just(Torn::Bytes(100)),
        Just(Torn::None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_explorer_builds_every_allowed_state_and_no_other(
        ops in proptest::collection::vec(gen_op_up_to(1500), 0..=8),
        old in any::<bool>(),
        model in models(),
        torn in torn_modes(),
    ) {
        let trace = build(&ops, old);
        let rules = Rules { facts: facts(&trace), trace: &trace, rules: model.rule_set(), torn };
        let expected = rules.every_state();
        let got = explored(&trace, model, torn);
        let missing = first_few(expected.difference(&got).cloned());
        let extra = first_few(got.difference(&expected).cloned());
        prop_assert!(
            missing.is_empty() && extra.is_empty(),
            "{model}/{torn}: {} allowed, {} built; not built: {missing:?}; not allowed: {extra:?}",
            expected.len(),
            got.len()
        );
    }
}
