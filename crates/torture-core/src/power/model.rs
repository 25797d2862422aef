//! Persistence models as data: each model is a table of [`Rule`]s, and the engine asks the table
//! ([`Model::follows`]) rather than the model's name what may be lost, torn or reordered.

use std::fmt;
use std::str::FromStr;

use super::plan::{Barrier, DirOp, Plan, Step, StepKind};
use super::state::CrashState;
use crate::trace::WriteSync;

/// The persistence rules; [`Model::rules`] says which a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// Unsynced data and size changes may be lost.
    UnsyncedDataMayBeLost,
    /// A write may reach the disk in part: a prefix, at torn-unit boundaries.
    TornAtUnits,
    /// An append may persist its new size before its data: the tail reads as the fill.
    SizeBeforeData,
    /// Directory operations may be lost until made durable.
    UnsyncedDirOpsMayBeLost,
    /// Each directory operation (create, rename, link, unlink, mkdir, rmdir, symlink) is atomic.
    DirOpsAtomic,
    /// Directory operations persist in program order: the ones kept are a prefix.
    DirOpsInOrder,
    /// `fsync` of a directory makes the earlier operations on its entries durable.
    DirFsyncPersistsEntries,
    /// `fsync`/`fdatasync` of a file makes its earlier data and size durable, not its name.
    FileFsyncPersistsDataNotName,
    /// `O_SYNC`/`O_DSYNC` writes carry an implicit `fsync`/`fdatasync` of their file.
    SyncWritesAreDurable,
    /// `sync_file_range` starts writeback but is no barrier.
    SyncFileRangeIsNoBarrier,
    /// `sync`/`syncfs` make everything before them durable.
    SyncPersistsEverything,
    /// Any subset of the operations since the last barrier may be lost, in any order.
    AnySubsetSinceBarrier,
    /// A rename is three steps: drop the destination, drop the source, add the destination.
    RenameInThreeSteps,
    /// Nothing is lost: the state is a prefix of the trace (the page cache survives).
    NothingLost,
    /// The crash may come inside a write, after any byte.
    CrashInsideWriteAtAnyByte,
}

/// One rule of a model, with where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What the engine matches on.
    pub id: RuleId,
    /// The rule in one sentence.
    pub text: &'static str,
    /// Where it comes from.
    pub source: &'static str,
}

const FSYNC_MAN: &str = "fsync(2) man page";
const ALICE: &str = "ALICE/BOB, Pillai et al., OSDI'14";

const UNSYNCED_DATA: Rule = Rule {
    id: RuleId::UnsyncedDataMayBeLost,
    text: "data and size changes not yet made durable may be lost, each write on its own",
    source: "fsync(2) man page; ext4(5) data=ordered with delayed allocation; xfs(5); Ferrite ASPLOS'16 (two-appends)",
};
const TORN_UNITS: Rule = Rule {
    id: RuleId::TornAtUnits,
    text: "a write not yet durable may reach the disk in part: a prefix ending at a torn-unit boundary of the file (--torn block: 4096 bytes, sector: 512, none: whole writes)",
    source: "ALICE OSDI'14 (aligned splits); SQLite crash VFS (sector granularity)",
};
const SIZE_BEFORE_DATA: Rule = Rule {
    id: RuleId::SizeBeforeData,
    text: "a write that grows a file may persist the new size before its data: the grown range reads as zeros (ext4, xfs) or garbage (--fill)",
    source: "ALICE OSDI'14 (append: zeros and garbage); Ferrite ASPLOS'16 (append litmus on ext4 with delalloc); xfs zero-length files after a crash",
};
const UNSYNCED_DIR: Rule = Rule {
    id: RuleId::UnsyncedDirOpsMayBeLost,
    text: "a create, rename, link, unlink, mkdir, rmdir or symlink is durable only once its directory is fsynced (or after sync/syncfs); until then the old names may come back",
    source: "fsync(2) man page (\"an explicit fsync() on a file descriptor for the directory is also needed\"); ALICE OSDI'14",
};
const DIR_ATOMIC: Rule = Rule {
    id: RuleId::DirOpsAtomic,
    text: "each directory operation reaches the disk whole: a rename leaves the old name or the new one, never neither",
    source: "ext4, xfs and btrfs journal each directory operation in one transaction; CrashMonkey OSDI'18",
};
const DIR_IN_ORDER: Rule = Rule {
    id: RuleId::DirOpsInOrder,
    text: "directory operations persist in program order: the ones that survive are a prefix of those issued, so making one durable makes every earlier one durable",
    source: "ext4/xfs/btrfs single ordered journal (Ferrite ASPLOS'16 ext4 model; CrashMonkey OSDI'18)",
};
const DIR_FSYNC: Rule = Rule {
    id: RuleId::DirFsyncPersistsEntries,
    text: "fsync of a directory makes the earlier operations on its entries durable (a rename counts in both directories)",
    source: FSYNC_MAN,
};
const FILE_FSYNC: Rule = Rule {
    id: RuleId::FileFsyncPersistsDataNotName,
    text: "fsync or fdatasync of a file makes its earlier writes and size changes durable, but not the directory entry that names it (ext4, xfs and btrfs usually persist it too; POSIX and fsync(2) do not promise it, so the model does not rely on it); fdatasync equals fsync here because timestamps and modes are not modelled",
    source: "fsync(2) man page; CrashMonkey OSDI'18",
};
const SYNC_WRITES: Rule = Rule {
    id: RuleId::SyncWritesAreDurable,
    text: "a completed O_SYNC/O_DSYNC (RWF_SYNC/RWF_DSYNC) write is durable, with the file's earlier data, as if fsync/fdatasync followed it",
    source: "open(2) man page (O_SYNC, O_DSYNC)",
};
const SFR: Rule = Rule {
    id: RuleId::SyncFileRangeIsNoBarrier,
    text: "sync_file_range only starts writeback: it is no barrier",
    source: "sync_file_range(2) man page (\"extremely dangerous\")",
};
const SYNC_ALL: Rule = Rule {
    id: RuleId::SyncPersistsEverything,
    text: "sync and syncfs make everything issued before them durable (syncfs of an fd outside the sandbox is not counted)",
    source: "sync(2) man page",
};
const ANY_SUBSET: Rule = Rule {
    id: RuleId::AnySubsetSinceBarrier,
    text: "any subset of the operations since the barriers that cover them may be lost, directory operations included, in any order",
    source: "ALICE OSDI'14 default persistence model; Ferrite ASPLOS'16 AdvFS",
};
const RENAME_STEPS: Rule = Rule {
    id: RuleId::RenameInThreeSteps,
    text: "a rename is three steps (drop the destination, drop the source, add the destination): a crash can leave neither name",
    source: ALICE,
};
const NOTHING_LOST: Rule = Rule {
    id: RuleId::NothingLost,
    text: "nothing issued is lost: SIGKILL leaves the page cache, so a crash state is a prefix of the trace",
    source: "process crash semantics (the kernel keeps completed writes)",
};
const INSIDE_WRITE: Rule = Rule {
    id: RuleId::CrashInsideWriteAtAnyByte,
    text: "the crash may come inside a write after any of its bytes",
    source: "a fatal signal can cut a large write short (write(2) man page: partial writes)",
};

/// The `linux` model's rules.
pub const LINUX_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    UNSYNCED_DIR,
    DIR_ATOMIC,
    DIR_IN_ORDER,
    DIR_FSYNC,
    FILE_FSYNC,
    SYNC_WRITES,
    SFR,
    SYNC_ALL,
];
/// The `weak` model's rules.
pub const WEAK_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    UNSYNCED_DIR,
    ANY_SUBSET,
    RENAME_STEPS,
    DIR_FSYNC,
    FILE_FSYNC,
    SYNC_WRITES,
    SFR,
    SYNC_ALL,
];
/// The `process` model's rules.
pub const PROCESS_RULES: &[Rule] = &[NOTHING_LOST, INSIDE_WRITE];

/// A persistence model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Model {
    /// What ext4 `data=ordered`, xfs and btrfs guarantee, without their heuristics.
    #[default]
    Linux,
    /// ALICE's default model: over-reports, for information.
    Weak,
    /// `SIGKILL`: nothing is lost.
    Process,
}

/// How writes tear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Torn {
    /// 4096-byte blocks.
    #[default]
    Block,
    /// 512-byte sectors.
    Sector,
    /// Whole writes only.
    None,
}

/// What a range whose size reached the disk before its data reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Fill {
    /// Zeros, as ext4 and xfs show unwritten extents.
    #[default]
    Zeros,
    /// Deterministic garbage (fixed per event), as on a file system that does not zero.
    Garbage,
}

/// A name that is not a model, torn mode or fill.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{found}` (expected one of: {expected})")]
pub struct UnknownName {
    what: &'static str,
    found: String,
    expected: &'static str,
}

impl Model {
    /// Every model.
    pub const ALL: [Model; 3] = [Model::Linux, Model::Weak, Model::Process];

    /// The model's rule table.
    pub fn rules(self) -> &'static [Rule] {
        match self {
            Model::Linux => LINUX_RULES,
            Model::Weak => WEAK_RULES,
            Model::Process => PROCESS_RULES,
        }
    }

    /// Whether the model follows `rule`.
    pub fn follows(self, rule: RuleId) -> bool {
        self.rules().iter().any(|r| r.id == rule)
    }

    /// `linux`, `weak`, `process`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Linux => "linux",
            Model::Weak => "weak",
            Model::Process => "process",
        }
    }
}

impl Torn {
    /// The unit in bytes (`None`: whole writes).
    pub fn unit_bytes(self) -> Option<u64> {
        match self {
            Torn::Block => Some(4096),
            Torn::Sector => Some(512),
            Torn::None => None,
        }
    }

    /// `block`, `sector`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Torn::Block => "block",
            Torn::Sector => "sector",
            Torn::None => "none",
        }
    }
}

impl Fill {
    /// `zeros`, `garbage`.
    pub fn name(self) -> &'static str {
        match self {
            Fill::Zeros => "zeros",
            Fill::Garbage => "garbage",
        }
    }
}

macro_rules! named {
    ($ty:ty, $what:literal, $expected:literal, [$($name:literal => $value:expr),*]) => {
        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<$ty, UnknownName> {
                match text {
                    $($name => Ok($value),)*
                    _ => Err(UnknownName { what: $what, found: text.to_owned(), expected: $expected }),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named!(Model, "persistence model", "linux, weak, process", ["linux" => Model::Linux, "weak" => Model::Weak, "process" => Model::Process]);
named!(Torn, "torn mode", "block, sector, none", ["block" => Torn::Block, "sector" => Torn::Sector, "none" => Torn::None]);
named!(Fill, "fill", "zeros, garbage", ["zeros" => Fill::Zeros, "garbage" => Fill::Garbage]);

/// Why a crash state cannot happen under a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllegalState {
    /// The crash point is past the trace.
    #[error("the crash point e{events} is past the trace's {len} events")]
    PastEnd { events: usize, len: usize },
    /// A dropped event cannot be lost at that crash point.
    #[error(
        "#{seq} cannot be lost at e{events} under `{model}`: it is durable by then or changes nothing on disk"
    )]
    NotLosable {
        seq: usize,
        events: usize,
        model: Model,
    },
    /// Dropped directory operations are not the last ones issued.
    #[error(
        "directory operation #{seq} is lost but a later one (#{later}) is kept: `{model}` persists directory operations in order"
    )]
    OutOfOrder {
        seq: usize,
        later: usize,
        model: Model,
    },
    /// The torn event cannot tear that way.
    #[error("#{seq} cannot reach the disk as {kept} {unit} under `{model}`")]
    BadTear {
        seq: usize,
        kept: u64,
        unit: &'static str,
        model: Model,
    },
}

/// What may still be lost at a crash point: the engine's running view of a model.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    model: Model,
    /// Events issued so far.
    pub events: usize,
    /// Writes and size changes not yet durable (seq, ascending).
    pub data: Vec<usize>,
    /// Directory operations not yet durable (seq, ascending).
    pub dir: Vec<usize>,
    /// Writes no barrier makes durable ([`super::PowerOptions::lost_writes`]), ascending.
    never_durable: Vec<usize>,
}

impl Pending {
    pub fn new(model: Model) -> Pending {
        Pending {
            model,
            events: 0,
            data: Vec::new(),
            dir: Vec::new(),
            never_durable: Vec::new(),
        }
    }

    /// The view of a model under which the writes `lost` never become durable.
    pub fn losing(model: Model, lost: &std::collections::BTreeSet<u64>) -> Pending {
        let mut pending = Pending::new(model);
        pending.never_durable = lost
            .iter()
            .filter_map(|&seq| usize::try_from(seq).ok())
            .collect();
        pending
    }

    /// The view at crash point `events` when the writes `lost` never become durable.
    pub fn at(
        plan: &Plan,
        model: Model,
        lost: &std::collections::BTreeSet<u64>,
        events: usize,
    ) -> Pending {
        let mut pending = Pending::losing(model, lost);
        for step in plan.steps.iter().take(events) {
            pending.advance(plan, step);
        }
        pending
    }

    /// Issues the next event.
    pub fn advance(&mut self, plan: &Plan, step: &Step) {
        self.events += 1;
        if self.model.follows(RuleId::NothingLost) {
            return;
        }
        match &step.kind {
            StepKind::Write { ino, sync, .. } => match sync {
                WriteSync::No => self.data.push(step.seq),
                WriteSync::Data | WriteSync::Full => self.barrier_file(plan, *ino),
            },
            StepKind::Resize { .. } => self.data.push(step.seq),
            StepKind::Dir(_) => self.dir.push(step.seq),
            StepKind::Barrier(Barrier::File { ino }) => self.barrier_file(plan, *ino),
            StepKind::Barrier(Barrier::Dir { path }) => self.barrier_dir(plan, path),
            StepKind::Barrier(Barrier::All) => {
                let never_durable = &self.never_durable;
                self.data
                    .retain(|seq| never_durable.binary_search(seq).is_ok());
                self.dir.clear();
            }
            StepKind::NewInode { .. } | StepKind::Nothing | StepKind::Unmodelled { .. } => {}
        }
    }

    fn barrier_file(&mut self, plan: &Plan, ino: u64) {
        let never_durable = &self.never_durable;
        self.data.retain(|&seq| {
            plan.steps[seq].kind.data_ino() != Some(ino)
                || never_durable.binary_search(&seq).is_ok()
        });
    }

    fn barrier_dir(&mut self, plan: &Plan, path: &str) {
        let covered = |seq: &usize| match &plan.steps[*seq].kind {
            StepKind::Dir(op) => op.parents().contains(&path),
            StepKind::Write { .. }
            | StepKind::Resize { .. }
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => false,
        };
        if self.model.follows(RuleId::DirOpsInOrder) {
            if let Some(last) = self.dir.iter().rposition(covered) {
                self.dir.drain(..=last);
            }
        } else {
            self.dir.retain(|seq| !covered(seq));
        }
    }

    /// Whether `seq` may still be lost.
    pub fn losable(&self, seq: usize) -> bool {
        self.data.binary_search(&seq).is_ok() || self.dir.binary_search(&seq).is_ok()
    }

    /// The ways event `seq` may reach the disk in part at this crash point: `(kept, fill)`.
    pub fn tears(&self, plan: &Plan, seq: usize, torn: Torn) -> Vec<(u64, bool)> {
        let crash_event = seq + 1 == self.events;
        let Some(step) = plan.steps.get(seq) else {
            return Vec::new();
        };
        match &step.kind {
            StepKind::Write {
                offset_bytes,
                data,
                extends,
                ..
            } if crash_event || self.data.binary_search(&seq).is_ok() => {
                write_tears(self.model, torn, *offset_bytes, data.len() as u64, *extends)
            }
            StepKind::Dir(DirOp::Rename {
                replaced,
                exchange: false,
                ..
            }) if self.model.follows(RuleId::RenameInThreeSteps) && self.losable(seq) => {
                if *replaced {
                    vec![(1, false), (2, false)]
                } else {
                    vec![(2, false)]
                }
            }
            StepKind::Write { .. }
            | StepKind::Resize { .. }
            | StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Barrier(_)
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => Vec::new(),
        }
    }

    /// Whether event `seq` may reach the disk as `(kept, fill)`, without listing every way.
    pub fn tear_allowed(&self, plan: &Plan, seq: usize, kept: u64, fill: bool, torn: Torn) -> bool {
        if self.model.follows(RuleId::CrashInsideWriteAtAnyByte) {
            let len = match plan.steps.get(seq).map(|s| &s.kind) {
                Some(StepKind::Write { data, .. }) if seq + 1 == self.events => data.len() as u64,
                _ => return false,
            };
            return !fill && kept > 0 && kept < len;
        }
        self.tears(plan, seq, torn).contains(&(kept, fill))
    }

    /// Checks that `state` can happen at this crash point (`self.events == state.events`).
    pub fn check(&self, plan: &Plan, state: &CrashState, torn: Torn) -> Result<(), IllegalState> {
        for &seq in &state.dropped {
            if !self.losable(seq) {
                return Err(IllegalState::NotLosable {
                    seq,
                    events: state.events,
                    model: self.model,
                });
            }
        }
        if self.model.follows(RuleId::DirOpsInOrder) {
            self.check_dir_order(state)?;
        }
        match state.partial {
            Some(p) if !self.tear_allowed(plan, p.seq, p.kept, p.fill, torn) => {
                let unit = match plan.steps.get(p.seq).map(|s| &s.kind) {
                    Some(StepKind::Dir(_)) => "rename steps",
                    _ => "bytes",
                };
                Err(IllegalState::BadTear {
                    seq: p.seq,
                    kept: p.kept,
                    unit,
                    model: self.model,
                })
            }
            Some(_) | None => Ok(()),
        }
    }

    fn check_dir_order(&self, state: &CrashState) -> Result<(), IllegalState> {
        let first_lost = self.dir.iter().position(|&seq| state.is_dropped(seq));
        if let Some(first) = first_lost {
            if let Some(&later) = self.dir[first..]
                .iter()
                .find(|&&seq| !state.is_dropped(seq))
            {
                return Err(IllegalState::OutOfOrder {
                    seq: self.dir[first],
                    later,
                    model: self.model,
                });
            }
        }
        Ok(())
    }
}

/// A write's tears: under `process` every byte; else prefixes ending at torn-unit boundaries of
/// the file, and, for a growing write, the size with any such prefix of the data (from none).
fn write_tears(model: Model, torn: Torn, offset: u64, len: u64, extends: bool) -> Vec<(u64, bool)> {
    if model.follows(RuleId::CrashInsideWriteAtAnyByte) {
        return (1..len).map(|k| (k, false)).collect();
    }
    let mut tears = Vec::new();
    if extends && model.follows(RuleId::SizeBeforeData) {
        tears.push((0, true));
    }
    if let (Some(unit), true) = (torn.unit_bytes(), model.follows(RuleId::TornAtUnits)) {
        let first = (offset / unit + 1) * unit;
        let mut end = first;
        while end < offset + len {
            tears.push((end - offset, false));
            if extends && model.follows(RuleId::SizeBeforeData) {
                tears.push((end - offset, true));
            }
            end += unit;
        }
    }
    tears
}
