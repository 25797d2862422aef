//! Persistence models as data: each model is a table of [`Rule`]s, and the engine asks the table
//! ([`Model::follows`]) rather than the model's name what may be lost, torn or reordered. Every
//! rule in a table changes what the explorer builds; a rule only the docs would name is not one.

use std::fmt;
use std::str::FromStr;

use super::plan::{Barrier, DirOp, Plan, Step, StepKind};
use super::state::CrashState;
use crate::trace::WriteSync;

/// The persistence rules; [`Model::rules`] says which a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// Unsynced data and size changes may be lost.
    UnsyncedDataMayBeLost,
    /// A write may reach the disk in part: a prefix, at torn-unit boundaries.
    TornAtUnits,
    /// An append may persist its new size before its data: the tail reads as the fill.
    SizeBeforeData,
    /// The same, only for a write that ends in a block the file already holds.
    SizeBeforeDataInHeldBlock,
    /// Two writes into the same page are not lost independently: a later one kept keeps the
    /// earlier ones on that page.
    PageGranularLoss,
    /// Directory operations may be lost until made durable.
    UnsyncedDirOpsMayBeLost,
    /// Directory operations persist in program order: the ones kept are a prefix.
    DirOpsInOrder,
    /// A rename is three steps: drop the destination, drop the source, add the destination.
    RenameInThreeSteps,
    /// `fsync` of a directory makes the earlier operations on its entries durable.
    DirFsyncPersistsEntries,
    /// `fsync`/`fdatasync` of a file makes its earlier data and size durable.
    FileFsyncPersistsData,
    /// `fsync`/`fdatasync` of a file makes the directory operations that named it durable.
    FsyncPersistsNewName,
    /// `O_SYNC`/`O_DSYNC` writes carry an implicit `fsync`/`fdatasync` of their file.
    SyncWritesAreDurable,
    /// `sync`/`syncfs` make everything before them durable.
    SyncPersistsEverything,
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
    /// What a writer leans on when a model excludes a state by this rule (or, for a rule that
    /// adds states, by not following it): "relies on ...".
    pub relied: &'static str,
}

const FSYNC_MAN: &str = "fsync(2) man page, DESCRIPTION";
const ALICE: &str = "Pillai et al., All File Systems Are Not Created Equal (ALICE), OSDI'14, section 3 (persistence properties)";

const UNSYNCED_DATA: Rule = Rule {
    id: RuleId::UnsyncedDataMayBeLost,
    text: "data and size changes not yet made durable may be lost, each write on its own",
    source: "fsync(2) man page, DESCRIPTION (\"transfers all modified in-core data ... to the disk device\": nothing before it is promised); ALICE OSDI'14 section 3",
    relied: "unsynced writes reaching the disk",
};
const TORN_UNITS: Rule = Rule {
    id: RuleId::TornAtUnits,
    text: "a write not yet durable may reach the disk in part: a prefix ending at a torn-unit boundary of the file (--torn block: 4096 bytes, sector: 512, a number: that many bytes, none: whole writes)",
    source: "ALICE OSDI'14 section 3 (atomicity of writes: aligned splits); SQLite crash VFS, src/test6.c (sector granularity)",
    relied: "writes reaching the disk whole",
};
const SIZE_BEFORE_DATA: Rule = Rule {
    id: RuleId::SizeBeforeData,
    text: "a write that grows a file may persist the new size before its data: the grown range reads as zeros or garbage (--fill)",
    source: "ALICE OSDI'14 section 3 (append atomicity: zeros and garbage); btrfs: with NO_HOLES (the mkfs default) an ordered extent's completion sets the on-disk size to the whole in-memory size, later appends not yet written included, fs/btrfs/inode.c btrfs_finish_one_ordered, fs/btrfs/file-item.c btrfs_inode_safe_disk_i_size_write; not xfs: its on-disk size moves only when a write's I/O completes, to that I/O's end, fs/xfs/xfs_aops.c xfs_end_ioend, xfs_setfilesize (\"Update on-disk file size now that data has been written to disk\"), xfs_new_eof",
    relied: "data reaching the disk before the size that exposes it",
};
const SIZE_IN_HELD_BLOCK: Rule = Rule {
    id: RuleId::SizeBeforeDataInHeldBlock,
    text: "a write that grows a file and ends in a block the file already holds (within its old size rounded up to 4096 bytes) may persist the new size before its data: the grown range reads as zeros or garbage (--fill); a write ending in a block the file does not hold yet does not (the block is allocated at writeback, and data=ordered writes it before the size that exposes it)",
    source: "ext4 data=ordered (Documentation/admin-guide/ext4.rst) orders only newly allocated blocks before the journal commit; a write ending in a block already allocated updates the on-disk size (i_disksize) at once, fs/ext4/inode.c ext4_da_do_write_end (ext4_da_should_update_i_disksize), so the next commit (any fsync, or the 5 s timer) can expose the range before its data; seen with --real ext4 (Git with core.fsync=all: an unsynced append to .git/logs/HEAD read back as its old 156 bytes and 150 zeros) and in Ferrite's ext4 delalloc model (uwplse/ferrite rosette/litmus/append-chrome.rkt); a new file's first write stays delayed-allocated (real ext4 copies show 0-byte files, Ferrite's create-rename)",
    relied: "an append into a file's last block reaching the disk before the size that exposes it",
};
const PAGE_LOSS: Rule = Rule {
    id: RuleId::PageGranularLoss,
    text: "the page cache writes back whole pages (4096 bytes, or the torn unit when smaller): a later write kept on a page keeps every earlier write's bytes on that page (unless a truncate of the file came between)",
    source: "Linux page cache: writeback writes whole dirty pages, Documentation/filesystems/vfs.rst (struct address_space_operations, writepages: \"write out the dirty pages\"); measured with --real on ext4, xfs and btrfs",
    relied: "whole pages being written back",
};
const UNSYNCED_DIR: Rule = Rule {
    id: RuleId::UnsyncedDirOpsMayBeLost,
    text: "a create, rename, link, unlink, mkdir, rmdir or symlink is durable only once its directory is fsynced (or after sync/syncfs); until then the old names may come back",
    source: "fsync(2) man page, DESCRIPTION (\"an explicit fsync() on a file descriptor for the directory is also needed\"); ALICE OSDI'14 section 3",
    relied: "directory operations reaching the disk without a directory fsync",
};
const DIR_IN_ORDER: Rule = Rule {
    id: RuleId::DirOpsInOrder,
    text: "directory operations persist in program order: the ones that survive are a prefix of those issued, so making one durable makes every earlier one durable",
    source: "ext4: one jbd2 journal whose transactions commit in order, Documentation/filesystems/ext4/journal.rst; xfs: one log whose checkpoints commit in order, Documentation/filesystems/xfs/xfs-delayed-logging-design.rst; not btrfs (its fsync tree-log persists one inode's changes without the earlier ones, btrfs(5) notreelog)",
    relied: "directory operations persisting in program order",
};
const RENAME_STEPS: Rule = Rule {
    id: RuleId::RenameInThreeSteps,
    text: "a rename is three steps (drop the destination, drop the source, add the destination): a crash can leave neither name",
    source: ALICE,
    relied: "renames reaching the disk whole",
};
const DIR_FSYNC: Rule = Rule {
    id: RuleId::DirFsyncPersistsEntries,
    text: "fsync of a directory makes the earlier operations on its entries durable (a rename counts in both directories)",
    source: FSYNC_MAN,
    relied: "fsync of a directory persisting its entries",
};
const FILE_FSYNC: Rule = Rule {
    id: RuleId::FileFsyncPersistsData,
    text: "fsync or fdatasync of a file makes its earlier writes and size changes durable; fdatasync equals fsync here because timestamps and modes are not modelled",
    source: FSYNC_MAN,
    relied: "fsync of a file persisting its data",
};
const NEW_NAME: Rule = Rule {
    id: RuleId::FsyncPersistsNewName,
    text: "fsync or fdatasync of a file also makes durable the directory operations that gave it its names (its create, a link to it, its rename), and, where directory operations persist in order, every one before them; POSIX does not promise it",
    source: "ext4: fsync commits the jbd2 transaction of the inode's last change, fs/ext4/fsync.c ext4_fsync_journal (i_sync_tid); xfs: fsync forces the log up to the inode's last commit, fs/xfs/xfs_file.c xfs_fsync_flush_log (ili_commit_seq); btrfs: the fsync log tree carries the inode's new names, as RocksDB relies on (facebook/rocksdb pull request 8903: no directory fsync after creating or renaming a synced file on btrfs); measured with --real on each",
    relied: "fsync persisting a file's new name",
};
const SYNC_WRITES: Rule = Rule {
    id: RuleId::SyncWritesAreDurable,
    text: "a completed O_SYNC/O_DSYNC (RWF_SYNC/RWF_DSYNC) write is durable, with the file's earlier data, as if fsync/fdatasync followed it",
    source: "open(2) man page, O_SYNC and O_DSYNC",
    relied: "O_SYNC writes being durable",
};
const SYNC_ALL: Rule = Rule {
    id: RuleId::SyncPersistsEverything,
    text: "sync and syncfs make everything issued before them durable (syncfs of an fd outside the sandbox is not counted)",
    source: "sync(2) man page, DESCRIPTION",
    relied: "sync persisting everything",
};
const INSIDE_WRITE: Rule = Rule {
    id: RuleId::CrashInsideWriteAtAnyByte,
    text: "nothing issued is lost (SIGKILL leaves the page cache), but the crash may come inside a write after any of its bytes",
    source: "write(2) man page, RETURN VALUE (a write interrupted by a signal after some bytes returns the number written)",
    relied: "a write never stopping part way",
};

/// The `posix` model: what POSIX and the man pages promise and nothing more.
pub const POSIX_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    UNSYNCED_DIR,
    DIR_FSYNC,
    FILE_FSYNC,
    SYNC_WRITES,
    SYNC_ALL,
];
/// The `ext4` model (`data=ordered`; sound with and without `auto_da_alloc`).
pub const EXT4_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_IN_HELD_BLOCK,
    PAGE_LOSS,
    UNSYNCED_DIR,
    DIR_IN_ORDER,
    DIR_FSYNC,
    FILE_FSYNC,
    NEW_NAME,
    SYNC_WRITES,
    SYNC_ALL,
];
/// The `xfs` model: no size before data, in any form. xfs moves a file's on-disk size only in
/// the transaction that completes a write's I/O, to the end of that I/O (`xfs_end_ioend`,
/// `xfs_setfilesize`), so the block holding a grown size was written before it: a grown range
/// never ends in zeros (a range below a completed later I/O may: a lost earlier write).
pub const XFS_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    PAGE_LOSS,
    UNSYNCED_DIR,
    DIR_IN_ORDER,
    DIR_FSYNC,
    FILE_FSYNC,
    NEW_NAME,
    SYNC_WRITES,
    SYNC_ALL,
];
/// The `btrfs` model.
pub const BTRFS_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    PAGE_LOSS,
    UNSYNCED_DIR,
    DIR_FSYNC,
    FILE_FSYNC,
    NEW_NAME,
    SYNC_WRITES,
    SYNC_ALL,
];
/// The `weak` model's rules (ALICE's default).
pub const WEAK_RULES: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    UNSYNCED_DIR,
    RENAME_STEPS,
    DIR_FSYNC,
    FILE_FSYNC,
    SYNC_WRITES,
    SYNC_ALL,
];
/// The `process` model's rules.
pub const PROCESS_RULES: &[Rule] = &[INSIDE_WRITE];

/// Every rule, for the "relies on" phrase of a rule a model does not follow.
const EVERY_RULE: &[Rule] = &[
    UNSYNCED_DATA,
    TORN_UNITS,
    SIZE_BEFORE_DATA,
    SIZE_IN_HELD_BLOCK,
    PAGE_LOSS,
    UNSYNCED_DIR,
    DIR_IN_ORDER,
    RENAME_STEPS,
    DIR_FSYNC,
    FILE_FSYNC,
    NEW_NAME,
    SYNC_WRITES,
    SYNC_ALL,
    INSIDE_WRITE,
];

/// The rule with this id.
pub fn rule(id: RuleId) -> &'static Rule {
    EVERY_RULE
        .iter()
        .find(|r| r.id == id)
        .unwrap_or(&EVERY_RULE[0])
}

/// A set of rules: a model's table, or one with a rule toggled (to ask what a verdict relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuleSet(u32);

impl RuleSet {
    /// The set of `rules`.
    pub fn of(rules: &[Rule]) -> RuleSet {
        RuleSet(rules.iter().fold(0, |bits, r| bits | 1 << r.id as u32))
    }

    /// Whether the set holds `rule`.
    pub fn has(self, rule: RuleId) -> bool {
        self.0 & 1 << rule as u32 != 0
    }

    /// The set with `rule` added or removed.
    pub fn toggled(self, rule: RuleId) -> RuleSet {
        RuleSet(self.0 ^ 1 << rule as u32)
    }

    /// The rules in one set and not the other.
    pub fn differences(self, other: RuleSet) -> Vec<RuleId> {
        EVERY_RULE
            .iter()
            .map(|r| r.id)
            .filter(|&id| self.has(id) != other.has(id))
            .collect()
    }
}

/// A persistence model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Model {
    /// What POSIX and the man pages promise.
    Posix,
    /// ext4 `data=ordered`.
    #[default]
    Ext4,
    /// xfs.
    Xfs,
    /// btrfs.
    Btrfs,
    /// ALICE's default model: over-reports, for information.
    Weak,
    /// `SIGKILL`: nothing is lost.
    Process,
}

impl Model {
    /// Every model.
    pub const ALL: [Model; 6] = [
        Model::Posix,
        Model::Ext4,
        Model::Xfs,
        Model::Btrfs,
        Model::Weak,
        Model::Process,
    ];

    /// The file-system models a verdict says it holds or breaks under.
    pub const FILE_SYSTEMS: [Model; 4] = [Model::Posix, Model::Ext4, Model::Xfs, Model::Btrfs];

    /// The models a verdict follows when none is chosen (`linux` names the same set).
    pub const DEFAULT_SET: [Model; 3] = [Model::Ext4, Model::Xfs, Model::Btrfs];

    /// The model's rule table.
    pub fn rules(self) -> &'static [Rule] {
        match self {
            Model::Posix => POSIX_RULES,
            Model::Ext4 => EXT4_RULES,
            Model::Xfs => XFS_RULES,
            Model::Btrfs => BTRFS_RULES,
            Model::Weak => WEAK_RULES,
            Model::Process => PROCESS_RULES,
        }
    }

    /// The model's rules as a set.
    pub fn rule_set(self) -> RuleSet {
        RuleSet::of(self.rules())
    }

    /// Whether the model follows `rule`.
    pub fn follows(self, rule: RuleId) -> bool {
        self.rule_set().has(rule)
    }

    /// `posix`, `ext4`, `xfs`, `btrfs`, `weak`, `process`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Posix => "posix",
            Model::Ext4 => "ext4",
            Model::Xfs => "xfs",
            Model::Btrfs => "btrfs",
            Model::Weak => "weak",
            Model::Process => "process",
        }
    }

    /// The models a `--model` value names: one, or for `linux` the default set.
    pub fn parse_set(text: &str) -> Result<Vec<Model>, UnknownName> {
        match text {
            "linux" => Ok(Model::DEFAULT_SET.to_vec()),
            other => other.parse().map(|model| vec![model]),
        }
    }
}

/// How writes tear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Torn {
    /// 4096-byte blocks.
    #[default]
    Block,
    /// 512-byte sectors.
    Sector,
    /// Units of this many bytes (`--torn 8`: is a writer relying on sector-atomic small writes?).
    Bytes(u64),
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

/// The page the page cache writes back whole.
pub const PAGE_BYTES: u64 = 4096;

impl Torn {
    /// The unit in bytes (`None`: whole writes).
    pub fn unit_bytes(self) -> Option<u64> {
        match self {
            Torn::Block => Some(4096),
            Torn::Sector => Some(512),
            Torn::Bytes(unit) => Some(unit.max(1)),
            Torn::None => None,
        }
    }

    /// What reaches the disk whole: a page, or the torn unit when smaller.
    pub fn page_bytes(self) -> u64 {
        self.unit_bytes()
            .map_or(PAGE_BYTES, |unit| unit.min(PAGE_BYTES))
    }
}

impl fmt::Display for Torn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Torn::Block => f.write_str("block"),
            Torn::Sector => f.write_str("sector"),
            Torn::Bytes(unit) => write!(f, "{unit}"),
            Torn::None => f.write_str("none"),
        }
    }
}

impl FromStr for Torn {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Torn, UnknownName> {
        match text {
            "block" => Ok(Torn::Block),
            "sector" => Ok(Torn::Sector),
            "none" => Ok(Torn::None),
            bytes => match bytes.parse::<u64>() {
                Ok(unit) if (1..=PAGE_BYTES).contains(&unit) => Ok(Torn::Bytes(unit)),
                Ok(_) | Err(_) => Err(UnknownName {
                    what: "torn mode",
                    found: text.to_owned(),
                    expected: "block, sector, none, or a unit in bytes from 1 to 4096",
                }),
            },
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

named!(Model, "persistence model", "posix, ext4, xfs, btrfs, linux (ext4, xfs and btrfs), weak, process", ["posix" => Model::Posix, "ext4" => Model::Ext4, "xfs" => Model::Xfs, "btrfs" => Model::Btrfs, "weak" => Model::Weak, "process" => Model::Process]);
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
    /// A later write on a page reached the disk but an earlier one on the same page did not.
    #[error(
        "#{later} reached the disk but #{earlier}, an earlier write to the same page, did not: `{model}` writes back whole pages"
    )]
    PageOrder {
        earlier: usize,
        later: usize,
        model: Model,
    },
}

/// What may still be lost at a crash point: the engine's running view of a model.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    model: Model,
    rules: RuleSet,
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
    /// The view of a model under which the writes `lost` never become durable.
    pub fn losing(model: Model, lost: &std::collections::BTreeSet<u64>) -> Pending {
        Pending::with_rules(model, model.rule_set(), lost)
    }

    /// The same with a rule set other than the model's (the model names it in messages).
    pub fn with_rules(
        model: Model,
        rules: RuleSet,
        lost: &std::collections::BTreeSet<u64>,
    ) -> Pending {
        Pending {
            model,
            rules,
            events: 0,
            data: Vec::new(),
            dir: Vec::new(),
            never_durable: lost
                .iter()
                .filter_map(|&seq| usize::try_from(seq).ok())
                .collect(),
        }
    }

    /// The view at crash point `events` when the writes `lost` never become durable.
    pub fn at(
        plan: &Plan,
        model: Model,
        lost: &std::collections::BTreeSet<u64>,
        events: usize,
    ) -> Pending {
        Pending::with_rules(model, model.rule_set(), lost).advanced(plan, events)
    }

    /// This view advanced over the first `events` steps.
    pub fn advanced(mut self, plan: &Plan, events: usize) -> Pending {
        for step in plan.steps.iter().take(events) {
            self.advance(plan, step);
        }
        self
    }

    pub fn follows(&self, rule: RuleId) -> bool {
        self.rules.has(rule)
    }

    /// Issues the next event.
    pub fn advance(&mut self, plan: &Plan, step: &Step) {
        self.events += 1;
        match &step.kind {
            StepKind::Write { ino, sync, .. } => match sync {
                WriteSync::No if self.follows(RuleId::UnsyncedDataMayBeLost) => {
                    self.data.push(step.seq)
                }
                WriteSync::Data | WriteSync::Full if self.follows(RuleId::SyncWritesAreDurable) => {
                    self.barrier_file(plan, *ino)
                }
                WriteSync::No | WriteSync::Data | WriteSync::Full => {}
            },
            StepKind::Resize { .. } if self.follows(RuleId::UnsyncedDataMayBeLost) => {
                self.data.push(step.seq)
            }
            StepKind::Dir(_) if self.follows(RuleId::UnsyncedDirOpsMayBeLost) => {
                self.dir.push(step.seq)
            }
            StepKind::Barrier(barrier) => self.barrier(plan, barrier),
            StepKind::Resize { .. }
            | StepKind::Dir(_)
            | StepKind::NewInode { .. }
            | StepKind::Nothing
            | StepKind::Unmodelled { .. } => {}
        }
    }

    fn barrier(&mut self, plan: &Plan, barrier: &Barrier) {
        match barrier {
            Barrier::File { ino } => self.barrier_file(plan, *ino),
            Barrier::Dir { path } if self.follows(RuleId::DirFsyncPersistsEntries) => {
                self.barrier_dir(plan, path)
            }
            Barrier::All if self.follows(RuleId::SyncPersistsEverything) => {
                let never_durable = &self.never_durable;
                self.data
                    .retain(|seq| never_durable.binary_search(seq).is_ok());
                self.dir.clear();
            }
            Barrier::Dir { .. } | Barrier::All => {}
        }
    }

    fn barrier_file(&mut self, plan: &Plan, ino: u64) {
        if self.follows(RuleId::FileFsyncPersistsData) {
            let never_durable = &self.never_durable;
            self.data.retain(|&seq| {
                plan.steps[seq].kind.data_ino() != Some(ino)
                    || never_durable.binary_search(&seq).is_ok()
            });
        }
        if self.follows(RuleId::FsyncPersistsNewName) {
            self.persist_dir(|seq: &usize| names(&plan.steps[*seq].kind, ino));
        }
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
        self.persist_dir(covered);
    }

    /// Makes the pending directory operations `covered` picks durable, and under in-order
    /// directory operations every one before them.
    fn persist_dir(&mut self, covered: impl Fn(&usize) -> bool) {
        if self.follows(RuleId::DirOpsInOrder) {
            if let Some(last) = self.dir.iter().rposition(covered) {
                self.dir.drain(..=last);
            }
        } else {
            self.dir.retain(|seq| !covered(seq));
        }
    }

    /// Whether write `seq` is one no barrier makes durable.
    pub fn never_durable(&self, seq: usize) -> bool {
        self.never_durable.binary_search(&seq).is_ok()
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
                held_block,
                ..
            } if crash_event || self.data.binary_search(&seq).is_ok() => {
                let fill = *extends && self.size_may_lead(*held_block);
                self.write_tears(torn, *offset_bytes, data.len() as u64, fill)
            }
            StepKind::Dir(DirOp::Rename {
                replaced,
                exchange: false,
                ..
            }) if self.follows(RuleId::RenameInThreeSteps) && self.losable(seq) => {
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

    /// Whether write `seq` may reach the disk as its size alone, beside any number of others
    /// ([`CrashState::sized`]): a pending growing write ending in a block its file holds, whose
    /// size the model lets lead its data (a size journaled as metadata: one commit carries many).
    pub fn sizeable(&self, plan: &Plan, seq: usize) -> bool {
        let held_append = matches!(
            plan.steps.get(seq).map(|s| &s.kind),
            Some(StepKind::Write {
                extends: true,
                held_block: true,
                ..
            })
        );
        held_append && self.data.binary_search(&seq).is_ok() && self.size_may_lead(true)
    }

    /// Whether a growing write's size may reach the disk before its data (`held_block`: it
    /// ends in a block the file already holds).
    fn size_may_lead(&self, held_block: bool) -> bool {
        self.follows(RuleId::SizeBeforeData)
            || (held_block && self.follows(RuleId::SizeBeforeDataInHeldBlock))
    }

    /// A write's tears: under a crash inside a write every byte; else prefixes ending at
    /// torn-unit boundaries of the file, and, when its size may lead (`fill`), the size with any
    /// such prefix of the data (from none).
    fn write_tears(&self, torn: Torn, offset: u64, len: u64, fill: bool) -> Vec<(u64, bool)> {
        if self.follows(RuleId::CrashInsideWriteAtAnyByte) {
            return (1..len).map(|k| (k, false)).collect();
        }
        let mut tears = Vec::new();
        if fill {
            tears.push((0, true));
        }
        if let (Some(unit), true) = (torn.unit_bytes(), self.follows(RuleId::TornAtUnits)) {
            let mut end = (offset / unit + 1) * unit;
            while end < offset + len {
                tears.push((end - offset, false));
                if fill {
                    tears.push((end - offset, true));
                }
                end += unit;
            }
        }
        tears
    }

    /// Whether event `seq` may reach the disk as `(kept, fill)`, without listing every way.
    pub fn tear_allowed(&self, plan: &Plan, seq: usize, kept: u64, fill: bool, torn: Torn) -> bool {
        if self.follows(RuleId::CrashInsideWriteAtAnyByte) {
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
        for &seq in &state.sized {
            let torn_too = state.partial.is_some_and(|p| p.seq == seq);
            if !self.sizeable(plan, seq) || state.is_dropped(seq) || torn_too {
                return Err(IllegalState::BadTear {
                    seq,
                    kept: 0,
                    unit: "bytes (its size alone)",
                    model: self.model,
                });
            }
        }
        for &seq in &state.dropped {
            if !self.losable(seq) {
                return Err(IllegalState::NotLosable {
                    seq,
                    events: state.events,
                    model: self.model,
                });
            }
        }
        if self.follows(RuleId::DirOpsInOrder) {
            self.check_dir_order(state)?;
        }
        if let Some(p) = state.partial {
            if !self.tear_allowed(plan, p.seq, p.kept, p.fill, torn) {
                let unit = match plan.steps.get(p.seq).map(|s| &s.kind) {
                    Some(StepKind::Dir(_)) => "rename steps",
                    _ => "bytes",
                };
                return Err(IllegalState::BadTear {
                    seq: p.seq,
                    kept: p.kept,
                    unit,
                    model: self.model,
                });
            }
        }
        self.check_pages(plan, state, torn)
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

    /// The page rule, when the model follows it: no write keeps a byte on a page where an
    /// earlier write (since the last size change of the file) lost one.
    pub fn check_pages(
        &self,
        plan: &Plan,
        state: &CrashState,
        torn: Torn,
    ) -> Result<(), IllegalState> {
        match self.follows(RuleId::PageGranularLoss) {
            true => self.check_page_order(plan, state, torn.page_bytes()),
            false => Ok(()),
        }
    }

    fn check_page_order(
        &self,
        plan: &Plan,
        state: &CrashState,
        page: u64,
    ) -> Result<(), IllegalState> {
        let Some(first) = first_write_loss(plan, state) else {
            return Ok(());
        };
        let mut lost: Vec<(u64, u64, u64, usize)> = Vec::new();
        for step in plan.steps.iter().take(state.events).skip(first) {
            let seq = step.seq;
            match &step.kind {
                StepKind::Write {
                    ino,
                    offset_bytes,
                    data,
                    ..
                } => {
                    let (kept, gone) = kept_and_lost(state, seq, *offset_bytes, data.len() as u64);
                    let clash = lost.iter().find(|&&(i, start, end, _)| {
                        i == *ino && kept.0 < kept.1 && kept.0 < end && start < kept.1
                    });
                    if let Some(&(_, _, _, earlier)) = clash {
                        return Err(IllegalState::PageOrder {
                            earlier,
                            later: seq,
                            model: self.model,
                        });
                    }
                    if gone.0 < gone.1 && self.never_durable.binary_search(&seq).is_err() {
                        let start = gone.0 / page * page;
                        lost.push((*ino, start, gone.1.div_ceil(page) * page, seq));
                    }
                }
                StepKind::Resize { ino, .. } => lost.retain(|&(i, ..)| i != *ino),
                StepKind::Dir(_)
                | StepKind::NewInode { .. }
                | StepKind::Barrier(_)
                | StepKind::Nothing
                | StepKind::Unmodelled { .. } => {}
            }
        }
        Ok(())
    }
}

/// Whether a step gives inode `ino` a name.
pub(crate) fn names(kind: &StepKind, ino: u64) -> bool {
    match kind {
        StepKind::Dir(DirOp::Create { ino: named, .. } | DirOp::Link { ino: named, .. }) => {
            *named == ino
        }
        StepKind::Dir(DirOp::Rename { node, .. }) => *node == super::tree::Node::File(ino),
        StepKind::Dir(
            DirOp::Mkdir { .. }
            | DirOp::Symlink { .. }
            | DirOp::Unlink { .. }
            | DirOp::Rmdir { .. },
        )
        | StepKind::Write { .. }
        | StepKind::Resize { .. }
        | StepKind::NewInode { .. }
        | StepKind::Barrier(_)
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => false,
    }
}

/// The first write a state loses or tears.
fn first_write_loss(plan: &Plan, state: &CrashState) -> Option<usize> {
    let is_write = |seq: &usize| matches!(plan.steps[*seq].kind, StepKind::Write { .. });
    let dropped = state.dropped.iter().copied().find(is_write);
    let sized = state.sized.first().copied();
    let dropped = match (dropped, sized) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let torn = state.partial.map(|p| p.seq).filter(is_write);
    match (dropped, torn) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The byte ranges of write `seq` (at `offset`, `len` bytes) that `state` keeps and loses.
fn kept_and_lost(
    state: &CrashState,
    seq: usize,
    offset: u64,
    len: u64,
) -> ((u64, u64), (u64, u64)) {
    let end = offset + len;
    let kept = if state.is_dropped(seq) || state.is_sized(seq) {
        0
    } else {
        match state.partial {
            Some(p) if p.seq == seq => p.kept.min(len),
            Some(_) | None => len,
        }
    };
    ((offset, offset + kept), (offset + kept, end))
}
