//! The power-loss explorer: from one recorded trace, every state a power cut could leave, judged.
//!
//! A `SIGKILL` test cannot show a missing `fsync`: the page cache survives a killed process. This
//! module rebuilds, without re-running the writer, what the *disk* may hold after a power cut at
//! any point of a recorded [`Trace`], under a persistence model, and judges the target in each.
//! It is pure: values in, values out. The one function that touches the file system is
//! [`materialize`], which writes a replayed tree to a directory (for `--check` commands and
//! recovery runs).
//!
//! # Pipeline
//!
//! 1. [`Plan`]: the trace lowered to steps (file data, sizes, directory operations, barriers) over
//!    an in-memory tree ([`FsTree`]: names → inodes, link counts, unnamed `O_TMPFILE` inodes),
//!    starting from the header's initial state at `header.target`.
//! 2. [`Explorer::for_each_state`]: the crash states a [`Model`] allows, exhaustively while they
//!    fit `max_states`, else ALICE's families plus seeded random samples, never more than
//!    `max_states`; `budget_ms` stops judging early.
//! 3. [`Explorer::explore`]: each state replayed (from the nearest program-order snapshot), hashed,
//!    deduplicated by content, its target classified by the caller's closure and judged by
//!    [`verdict_rule`] against the acknowledgement ([`ack_point`]); violations cut down and
//!    explained ([`Diagnosis`]).
//!
//! # The models
//!
//! Each model is a table of rules ([`POSIX_RULES`], [`EXT4_RULES`], [`XFS_RULES`],
//! [`BTRFS_RULES`], [`WEAK_RULES`], [`PROCESS_RULES`]); the explorer asks the table
//! ([`Model::follows`]) for every rule, never the model's name, and every rule in a table changes
//! what it builds. `--model` is repeatable: a subject
//! passes when it passes under each model chosen; the default is `ext4`, `xfs` and `btrfs`
//! (`--model linux` names the same three). Choose `--model posix` for code that must be
//! portable.
//!
//! | rule | posix | ext4 | xfs | btrfs | weak | process | source |
//! |---|---|---|---|---|---|---|---|
//! | unsynced writes and size changes may be lost, each on its own | yes | yes | yes | yes | yes | — | fsync(2) DESCRIPTION; ALICE OSDI'14 §3 |
//! | a write may persist a prefix ending at a torn-unit boundary of the file (`--torn block` 4096, `sector` 512, `8` any byte count, `none` whole writes) | yes | yes | yes | yes | yes | — | ALICE OSDI'14 §3; SQLite crash VFS `src/test6.c` |
//! | a growing write may persist its size before its data: the range reads as zeros (`--fill zeros`) or garbage (`--fill garbage`) | yes | **only a write ending in a block the file holds** | **no** | yes | yes | — | ALICE OSDI'14 §3; btrfs with NO_HOLES (the mkfs default): an ordered extent's completion sets the on-disk size to the whole in-memory size, later unwritten appends included (`fs/btrfs/inode.c` `btrfs_finish_one_ordered`, `fs/btrfs/file-item.c` `btrfs_inode_safe_disk_i_size_write`); xfs moves its on-disk size only when a write's I/O completes, to that I/O's end (`fs/xfs/xfs_aops.c` `xfs_end_ioend` → `xfs_setfilesize`, "Update on-disk file size now that data has been written to disk"; `xfs_new_eof`), so a grown range never ends in zeros; ext4 `data=ordered` orders only newly allocated blocks before the commit (Documentation/admin-guide/ext4.rst), and a write ending in an allocated block updates the on-disk size at once (`fs/ext4/inode.c` `ext4_da_do_write_end`, `ext4_da_should_update_i_disksize`): seen with `--real ext4` (Git's unsynced reflog appends read back as zeros after another file's fsync) |
//! | a growing write ending in a block its file holds may leave its size alone (`s` in a state id) beside any number of others in one state (every other tear: at most one per state): sizes are journaled as metadata, and one commit carries every file's | yes | yes | — | yes | yes | — | ext4: one jbd2 commit writes every dirty inode (Documentation/filesystems/ext4/journal.rst); seen with `--real ext4` (two reflogs zero-filled at once) |
//! | the page cache writes back whole pages: a later write kept on a page keeps every earlier write's bytes there (no truncate between) | — | yes | yes | yes | — | — | Documentation/filesystems/vfs.rst (`writepages`); the unit is the torn unit when smaller than 4096 |
//! | a directory operation is durable only after `fsync` of its directory (a rename: either directory) or `sync`/`syncfs` | yes | yes | yes | yes | yes | — | fsync(2): "an explicit fsync() on a file descriptor for the directory is also needed" |
//! | directory operations persist in program order (a prefix survives) | — | yes | yes | — | — | — | ext4: one jbd2 journal (Documentation/filesystems/ext4/journal.rst); xfs: one log (Documentation/filesystems/xfs/xfs-delayed-logging-design.rst); btrfs has no single journal: its fsync log tree persists one inode's changes without earlier ones (btrfs(5) `notreelog`) |
//! | a rename is three steps: a crash can leave neither name | — | — | — | — | yes | — | ALICE OSDI'14 §3 |
//! | `fsync`/`fdatasync` of a file: its earlier data and size | yes | yes | yes | yes | yes | — | fsync(2) |
//! | `fsync`/`fdatasync` of a file also persists the directory operations that named it (create, link, rename) and, in order, every earlier one | — | yes | yes | yes | — | — | ext4 `fs/ext4/fsync.c` (`ext4_fsync_journal` commits the inode's transaction); xfs `fs/xfs/xfs_file.c` (`xfs_fsync_flush_log` forces the log to the inode's last commit); btrfs log tree (RocksDB relies on it: facebook/rocksdb pull request 8903); POSIX does not promise it |
//! | `O_SYNC`/`O_DSYNC` writes: an implicit `fsync`/`fdatasync` of the file | yes | yes | yes | yes | yes | — | open(2) |
//! | `sync`, `syncfs`: everything before them | yes | yes | yes | yes | yes | — | sync(2) |
//! | nothing is lost, but a crash may come inside a write after any byte | — | — | — | — | — | yes | write(2) RETURN VALUE |
//!
//! Not rules, because they change nothing here: `sync_file_range` starts writeback and is no
//! barrier (sync_file_range(2)), so it is lowered to nothing; `fdatasync` counts as `fsync`
//! because timestamps, modes and owners are not modelled (`chmod`/`chown` change nothing);
//! every directory operation is atomic except under `weak`'s three-step rename.
//!
//! **`posix`**: what POSIX and the man pages promise and nothing more; directory operations in
//! any order. Every state of `ext4`, `xfs` and `btrfs` is a state of `posix`.
//!
//! **`ext4`** (`data=ordered`, the default mount): sound with and without `auto_da_alloc`,
//! because it does not lean on that heuristic (a flush of data before a replacing rename); a
//! gate must not pass a writer because of it. Its size-before-data is only for a write ending in
//! a block the file already holds (an append to a log): a new file's first blocks are allocated
//! at writeback and written before the size that exposes them. **`xfs`** has no size-before-data at all: its
//! on-disk size moves only with a completed write I/O, to that I/O's end. **`btrfs`** keeps
//! size-before-data (a completed ordered extent carries the whole in-memory size to the disk) and
//! lets directory operations persist in any order. That is pessimistic for some orders: btrfs
//! logs the rename of a file fsynced in the running transaction when it happens
//! (`fs/btrfs/tree-log.c` `btrfs_log_new_name`), and a later unlink reaches the disk only with a
//! log sync, which writes the whole log and so the rename, or a transaction commit, which carries
//! every earlier operation, so LevelDB's "rename of the temp file over `CURRENT` lost, later unlink of the old MANIFEST
//! kept" is a `btrfs` state no btrfs reaches (README, Applications). Telling those orders apart
//! needs which inodes the running transaction has logged, and so when btrfs commits its
//! transactions (every 30 s by default, or when a log must fall back to a commit), which a
//! syscall trace does not show. A torn in-place
//! write before its fsync stays in every model: a file system can reach it though timing rarely
//! shows it.
//!
//! **`weak`**: ALICE's default model (OSDI'14; Ferrite's AdvFS): any subset of the operations not
//! yet covered by a barrier may be lost, directory operations included and in any order; a
//! rename is three steps (drop the destination, drop the source, add the destination), so a
//! crash can leave neither name. It over-reports: use it for information.
//!
//! **`process`**: nothing is lost (`SIGKILL`): a state is a prefix of the trace, plus a prefix of
//! the bytes of the write the crash came inside, at every byte.
//!
//! # Where a verdict holds
//!
//! A subject that breaks under a chosen model is explored under `posix`, `ext4`, `xfs` and
//! `btrfs` too, and the report says where it holds in one line ([`Holds`]): "breaks under
//! posix; holds on ext4, xfs and btrfs (relies on fsync persisting a file's new name)". The
//! reason is the one rule that, toggled in the holding model's table, lets the violating state
//! in ([`Explorer::relies_on`]).
//!
//! The models of one subject share a [`Memo`] ([`Explorer::explore_with`]): a state's tree does
//! not depend on the model, so a state one model judged is not rebuilt, hashed or classified again
//! by the next. `torture power --seed 1 --max-states 2000 --recovery-cap 5` (the main job's power
//! settings, every built-in and peer) took 2.0 to 2.1 s before and 1.1 to 1.3 s after, three runs
//! each, alternated in one session; the states and verdicts were the same.
//!
//! # Ferrite's litmus programs, whole outcome sets
//!
//! Ferrite (Bornholt et al., ASPLOS'16; `uwplse/ferrite`, programs in `rosette/litmus/*.rkt`,
//! models in `rosette/seqfs.rkt`, `advfs.rkt`, `ext4.rkt`) lists, per program and model, the
//! final disk states it allows (its `all-outcomes` counts are checked in those files). Outcomes
//! are (file `0`, file `1`): `∅` absent, `''` empty, `\0\0` size without data; `+fsync` is the
//! program's fixed variant. The test `litmus::ferrite_outcome_sets_with_every_divergence_named`
//! compares the whole sets: ours are Ferrite's plus the named outcomes, nothing else.
//! append-chrome (`rosette/litmus/append-chrome.rkt`) checks only counts (3, 7, 4); its
//! outcomes, derived in `litmus::ferrite_chrome_append_sets` from how `rosette/ext4.rkt` cracks
//! the appends into block operations and which of them `rosette/lang.rkt` lets reorder, are
//! compared there as whole sets.
//!
//! | program | Ferrite model | Ferrite's set | ours | only ours (why) |
//! |---|---|---|---|---|
//! | replace | SeqFS | (a,∅) (a,'') (a,bb) (bb,∅) | `process` | (a,b): SIGKILL stops a write after any byte |
//! | replace+fsync | SeqFS | (a,∅) (a,'') (a,bb) (bb,∅) | `process` | (a,b): same |
//! | replace | AdvFS | (a,∅) (a,'') ('',∅) | `weak` | (a,bb) (bb,∅) (∅,bb): unsynced data may persist; (a,\0\0) (\0\0,∅): size before data; (∅,∅) (∅,''): three-step rename |
//! | replace+fsync | AdvFS | (a,∅) (a,'') (a,bb) (bb,∅) | `weak` | (a,\0\0): size before data; (∅,∅) (∅,bb): three-step rename |
//! | create-rename | SeqFS | (∅,∅) ('',∅) (bb,∅) (∅,bb) | `process` | (b,∅): write cut after a byte |
//! | create-rename+fsync | SeqFS | same | `process` | (b,∅): same |
//! | create-rename | AdvFS | (∅,∅) ('',∅) (∅,'') | `weak` | (bb,∅) (∅,bb): unsynced data; (\0\0,∅) (∅,\0\0): size before data |
//! | create-rename+fsync | AdvFS | (∅,∅) ('',∅) (bb,∅) (∅,bb) | `weak` | (\0\0,∅): size before data |
//! | create-rename | ext4 | (∅,∅) ('',∅) (bb,∅) (∅,'') (∅,bb) | `ext4` | none: equal |
//! | create-rename+fsync | ext4 | (∅,∅) ('',∅) (bb,∅) (∅,bb) | `ext4` | none: equal |
//! | two-appends | SeqFS | (∅,∅) ('',∅) ('','') (bb,'') (bb,c) | `process` | (b,''): write cut after a byte |
//! | two-appends+fsync | SeqFS | same | `process` | (b,''): same |
//! | two-appends | AdvFS | (∅,∅) ('',∅) ('','') ('',c) | `weak` | (∅,'') (∅,\0) (∅,c): fsync does not persist a name (POSIX; AdvFS's fsync orders everything before it); ('',\0) (\0\0,∅) (\0\0,'') (\0\0,c): size before data; (bb,∅) (bb,'') (bb,\0) (bb,c): unsynced data |
//! | two-appends+fsync | AdvFS | (∅,∅) ('',∅) ('','') (bb,'') (bb,c) | `weak` | (∅,'') (∅,\0) (∅,c) (bb,∅): fsync does not persist a name; (\0\0,∅) (\0\0,'') (bb,\0): size before data |
//! | append-chrome | SeqFS | 2509, 2522, 5022 `T`s | `process` | every length between: a write cut after any byte |
//! | append-chrome | ext4 (delalloc) | 2509, 2522, 4096, 5022 `T`s; 2509 `T`s + 13 or 1587 `\0`; 2522 `T`s + 1574 `\0` | `ext4` | none; only Ferrite's: 2509 `T`s + 1587 `\0` and 2522 `T`s + 1574 `\0` (the size reaching 4096, part way through the second append): a write's size reaches the disk whole, at its end; the first append ends in the block the file holds, so its size may lead (2509 `T`s + 13 `\0`, as real ext4 shows), the second ends in a new block, allocated at writeback |
//! | append-chrome | ext4 (nodelalloc) | 2509, 2522, 4096, 5022 `T`s | `ext4` | 2509 `T`s + 13 `\0`: `ext4` is the delalloc default, where the first append's size may lead its data |
//!
//! Ferrite runs replace and two-appends under no ext4 model, so there is no ext4 row for them.
//! Every divergence is a deliberate difference of model: `process` is byte-granular where
//! Ferrite's writes are atomic; `weak` is ALICE's model, weaker than AdvFS in four ways (unsynced
//! data may persist, size before data, three-step renames, fsync persists no name).
//!
//! # Placing a real tree
//!
//! `torture power --real` asks, for each real tree read back at crash point `e{k}`, whether the
//! file system's model leaves it. [`Explorer::place`] answers directly, without enumerating the
//! model's states: the directory-loss choices the model allows whose names match the real
//! tree's, then, per named inode, its data operations in program order each kept, lost or torn
//! (choices merged by the bytes they leave, pruned as soon as a byte no later operation touches
//! differs; a write may also leave its size alone, any number of them), combined with at most
//! one tear, checked by the model and replayed byte for byte. The
//! answer is the smallest state that leaves the tree (which operations persisted, which tore),
//! or outside; "unknown" only when a crash point has more than 2^16 directory-loss choices or an
//! inode more than 2^14 distinct intermediate contents.
//!
//! # Completeness
//!
//! `completeness.rs` holds a brute-force enumerator written from the rule sentences and the raw
//! trace events alone (no plan, no pending sets, no tear lists of the explorer): every crash
//! point, every subset of events lost (each lost growing write ending in a block its file holds
//! also as its size alone), every byte of every write torn (both fills), filtered by the rules. A property test (256 cases per `cargo test`, traces of up to 8 operations, every
//! model, torn units 4096, 512, 100 and none) checks the explorer's set of states equals it.
//! Deduplication of states by content hash compares the trees' contents on a hash hit.
//!
//! Crash points: after every event (`e0` to `eN`, `eN` being after the writer's exit), and inside
//! every write at each torn-unit boundary (each byte under `process`). At most one operation is
//! torn per state (besides any number of writes that left their size alone, `s` in an id), and a torn write keeps a prefix of its data, as in ALICE's "one op torn"
//! family; a write that loses a middle block alone is shown by losing that block's write when
//! the writer wrote it separately.
//!
//! # Judging
//!
//! [`verdict_rule`]: before the acknowledgement (by default the writer's `exit 0`; or the first
//! output line a caller's predicate accepts) the target may be the old version, the new one, or
//! absent when there was no old one; after it, only the new one. It is never torn, and an old
//! version is never lost.
//!
//! # Reading a diagnosis
//!
//! Each violation is cut down to the fewest lost or torn operations that still show it, then
//! told in one or two sentences: which operations (`#seq` is the event's `seq` in the trace,
//! with its syscall and path) reached the disk, which did not, what the target then is, and a
//! fix from [`FIXES`]. For example: "the rename at #14 (`.t.tmp` → `t.json`) reached the disk but
//! the writes to `.t.tmp` at #5–#9 did not: `t.json` is 0 bytes. Fix: fsync the temp file before
//! the rename." The state's id (`e15:d5-9`, see [`CrashState`]) replays it exactly
//! ([`Explorer::replay`], [`materialize`]).
//!
//! # What power-loss simulation cannot show
//!
//! - Disks that lie about flushes (a volatile write cache that acknowledges `FLUSH` early):
//!   the model trusts that a completed barrier is durable.
//! - File systems other than the ones the models describe (NFS, FUSE, ZFS, tmpfs, macOS,
//!   Windows: use `posix`), or kernel bugs in the ones they do (CrashMonkey's ground).
//! - I/O errors (`EIO` from `fsync`, "fsyncgate"), `ENOSPC`, and racing writers: other modes.
//! - Writes the tracer cannot see (shared writable `mmap`, `io_uring`): reported in
//!   [`Exploration::unmodelled`]; no pass over such a trace is trustworthy.
//! - Files that existed before the run other than the target: their contents are not in the
//!   trace and are modelled as empty ([`Plan::notes`]).

mod diagnose;
mod explore;
mod holds;
mod judge;
mod model;
mod place;
mod plan;
mod reach;
mod replay;
mod state;
mod tree;
mod unit_story;

#[cfg(test)]
mod completeness;
#[cfg(test)]
mod litmus;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testkit;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

pub use diagnose::{Diagnosis, FIXES, Pattern, fix, seq_list};
pub use explore::{Checked, ClassCounts, Exploration, Explorer, Finding, Memo, TreeJudge};
pub use holds::Holds;
pub use judge::{
    AckPoint, AckSelect, PowerViolation, TargetClass, ack_point, exact_classifier, verdict_rule,
};
pub use model::{
    BTRFS_RULES, EXT4_RULES, Fill, IllegalState, Model, PAGE_BYTES, POSIX_RULES, PROCESS_RULES,
    Rule, RuleId, RuleSet, Torn, UnknownName, WEAK_RULES, XFS_RULES, rule,
};
pub use plan::{Barrier, DirOp, Plan, Step, StepKind};
pub use reach::{Assume, Reach, StatesAt};
pub use state::{CrashIdError, CrashState, Partial};
pub use tree::{FsTree, Ino, Inode, Node};

/// How to explore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerOptions {
    /// The persistence model (one `--model`; the campaign explores each chosen one).
    pub model: Model,
    /// How writes tear (`--torn`).
    pub torn: Torn,
    /// What a grown range whose data did not arrive reads as (`--fill`).
    pub fill: Fill,
    /// Build every state while the model allows at most this many; beyond, families and
    /// samples up to this many (`--max-states`).
    pub max_states: u64,
    /// Seeds the random samples (`--seed`).
    pub seed: u64,
    /// Stop judging after this much time (`--budget`): the exploration then says how many
    /// states it judged of how many, not exhaustive. `None`: no time limit.
    pub budget_ms: Option<u64>,
    /// Diagnose at most this many distinct violations.
    pub max_findings: usize,
    /// Write events (by `seq`) whose data never becomes durable, whatever barrier follows: the
    /// writes a failed fsync dropped (`torture errors`' fsyncgate,
    /// [`crate::errors::gate::fsyncgate_lost_writes`]). They stay losable to the end of the
    /// trace, even after a later `fsync` of their file returned 0. Empty: every barrier counts.
    pub lost_writes: BTreeSet<u64>,
    /// `--partition M/N`: judge only the states whose tree falls in shard M (by a hash of its
    /// contents, temp names left out, so every distinct tree is judged in exactly one shard and
    /// the shards' counts add up to the whole run's). Every shard still enumerates every state, in the same order, so
    /// the seeded samples are the same. `None`: every state.
    pub partition: Option<crate::killpoint::Partition>,
}

impl Default for PowerOptions {
    fn default() -> PowerOptions {
        PowerOptions {
            model: Model::Ext4,
            torn: Torn::Block,
            fill: Fill::Zeros,
            max_states: 200_000,
            seed: 0,
            budget_ms: None,
            max_findings: 8,
            lost_writes: BTreeSet::new(),
            partition: None,
        }
    }
}

/// Why the explorer cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowerError {
    /// The trace header names no target (a v1 trace): pass one.
    #[error("the trace does not name its target (a version 1 trace?): give the target path")]
    NoTarget,
    /// A crash state id does not parse.
    #[error(transparent)]
    Id(#[from] CrashIdError),
    /// The model does not allow the crash state.
    #[error(transparent)]
    Illegal(#[from] IllegalState),
}

/// Reads the tree under `dir` (never following a symlink): what [`materialize`] writes, read
/// back, hard links sharing an inode. With [`materialize`], the only functions of this module
/// with I/O.
pub fn read_tree(dir: &Path) -> io::Result<FsTree> {
    let mut tree = FsTree::new();
    let mut inodes: Vec<(u64, Ino)> = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(relative) = pending.pop() {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir.join(&relative))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = match relative.is_empty() {
                true => name,
                false => format!("{relative}/{name}"),
            };
            let metadata = entry.path().symlink_metadata()?;
            read_entry(&mut tree, &mut inodes, (&path, &entry.path()), &metadata)?;
            if metadata.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(tree)
}

/// One name of [`read_tree`]: a directory, a symlink, or a file (a hard link shares its inode).
fn read_entry(
    tree: &mut FsTree,
    inodes: &mut Vec<(u64, Ino)>,
    (path, full): (&str, &Path),
    metadata: &std::fs::Metadata,
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if metadata.is_dir() {
        tree.insert(path, Node::Dir);
    } else if metadata.file_type().is_symlink() {
        let text = std::fs::read_link(full)?.to_string_lossy().into_owned();
        tree.insert(path, Node::Symlink(text));
    } else if metadata.is_file() {
        let known = inodes.iter().find(|(real, _)| *real == metadata.ino());
        match known {
            Some((_, ino)) => tree.insert(path, Node::File(*ino)),
            None => {
                let ino = inodes.len() as Ino + 1;
                inodes.push((metadata.ino(), ino));
                tree.insert(path, Node::File(ino));
                tree.inode_mut(ino).write_at(0, &std::fs::read(full)?);
            }
        }
    }
    Ok(())
}

/// The names of `tree` as a trace's initial tree (v3): every file with its bytes, directories,
/// symlinks (hard links become separate files).
pub fn initial_entries(tree: &FsTree) -> Vec<crate::trace::InitialEntry> {
    use crate::trace::{InitialEntry, InitialNode};
    tree.entries()
        .filter(|(path, _)| *path != ".")
        .map(|(path, node)| InitialEntry {
            path: path.to_owned(),
            node: match node {
                Node::Dir => InitialNode::Dir,
                Node::Symlink(text) => InitialNode::Symlink { text: text.clone() },
                Node::File(ino) => InitialNode::File {
                    data: tree.inode(*ino).map_or(Vec::new(), |i| i.data().to_vec()),
                },
            },
        })
        .collect()
}

/// Writes `tree` under `dir` (which must exist): directories, files with their bytes, hard links
/// as hard links, symlinks.
pub fn materialize(tree: &FsTree, dir: &Path) -> io::Result<()> {
    let mut written: Vec<(Ino, std::path::PathBuf)> = Vec::new();
    for (name, node) in tree.entries() {
        if name == "." || name.starts_with('/') || name.split('/').any(|p| p == "..") {
            continue;
        }
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            // Under `weak` a file can outlive the lost mkdir of its directory.
            std::fs::create_dir_all(parent)?;
        }
        match node {
            Node::Dir => std::fs::create_dir_all(&path)?,
            Node::Symlink(text) => std::os::unix::fs::symlink(text, &path)?,
            Node::File(ino) => match written.iter().find(|(i, _)| i == ino) {
                Some((_, first)) => std::fs::hard_link(first, &path)?,
                None => {
                    let data = tree.inode(*ino).map_or(&[][..], Inode::data);
                    std::fs::write(&path, data)?;
                    written.push((*ino, path));
                }
            },
        }
    }
    Ok(())
}
