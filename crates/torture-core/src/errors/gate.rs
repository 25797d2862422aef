//! fsyncgate: the writes a failed fsync drops for good.
//!
//! After `fsync` fails with `EIO`, Linux may mark the file's dirty pages clean without having
//! written them (the page cache still serves them, the disk never gets them), so a retried fsync
//! "succeeds" with the data gone (PostgreSQL's fsyncgate, 2018; Rebello et al., ATC'20). The
//! power explorer consumes [`fsyncgate_lost_writes`]: at every power cut after the failed fsync,
//! those writes are lost, even once a later fsync of the same file has returned 0.
//!
//! Granularity: write events, not pages. An earlier write whose page a later write dirties
//! again may in fact reach the disk with it; the model treats it as lost, the worst case a
//! writer must survive.

use std::collections::BTreeSet;

use crate::trace::{Event, Op, Trace, WriteSync};

/// Why the fsyncgate transformation does not apply to an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The seq is past the trace.
    #[error("the trace has no event #{seq}")]
    NoSuchEvent { seq: u64 },
    /// The event is not a barrier of one file.
    #[error(
        "event #{seq} is {syscall}, not fsync or fdatasync: fsyncgate applies to a failed fsync"
    )]
    NotAnFsync { seq: u64, syscall: String },
    /// The fsync did not fail in this trace (was the fault injected?).
    #[error("fsync #{seq} returned {ret} in this trace: only a failed fsync drops pages")]
    DidNotFail { seq: u64, ret: i64 },
}

/// The write events whose data is lost at any power cut after the failed fsync `failed_seq` of
/// the faulted run's `trace`, even if a later fsync of the same file succeeds: every buffered
/// write to that file before the failed fsync that no earlier successful barrier covered.
///
/// A write is to the same file when both events carry an inode and they agree, else when their
/// paths agree. Barriers: a successful `fsync` or `fdatasync` of the file, `sync`, `syncfs` of
/// the sandbox's file system; a synchronous write (`O_SYNC`, `O_DSYNC`, `RWF_*SYNC`) is durable
/// on return and never lost. Returns the writes' seqs.
pub fn fsyncgate_lost_writes(trace: &Trace, failed_seq: u64) -> Result<BTreeSet<u64>, GateError> {
    let index = usize::try_from(failed_seq)
        .ok()
        .filter(|i| *i < trace.events.len())
        .ok_or(GateError::NoSuchEvent { seq: failed_seq })?;
    let event = &trace.events[index];
    if file_of_barrier(&event.op).is_none() {
        return Err(GateError::NotAnFsync {
            seq: failed_seq,
            syscall: event.syscall.clone(),
        });
    }
    if event.ret >= 0 {
        return Err(GateError::DidNotFail {
            seq: failed_seq,
            ret: event.ret,
        });
    }
    Ok(unsynced_writes(&trace.events, index))
}

/// The buffered writes to the file `events[index]` syncs that no successful barrier before it
/// covers: what that fsync would make durable. Empty when `events[index]` is not an fsync or
/// fdatasync, or is past the end.
pub fn unsynced_writes(events: &[Event], index: usize) -> BTreeSet<u64> {
    let Some(file) = events.get(index).and_then(|e| file_of_barrier(&e.op)) else {
        return BTreeSet::new();
    };
    let mut lost = BTreeSet::new();
    for event in events[..index].iter().rev() {
        if event.ret < 0 {
            continue;
        }
        if covers(&event.op, &file) {
            break;
        }
        if buffered_write_to(&event.op, &file) {
            lost.insert(event.seq);
        }
    }
    lost
}

/// A write of at least one byte to `file` that is not durable on return.
fn buffered_write_to(op: &Op, file: &File<'_>) -> bool {
    if let Op::Write {
        path,
        ino,
        len_bytes,
        sync: WriteSync::No,
        ..
    } = op
    {
        *len_bytes > 0 && file.is(path, *ino)
    } else {
        false
    }
}

/// A file as events name it: by inode when known, else by path.
#[derive(Debug)]
struct File<'a> {
    path: &'a str,
    ino: Option<u64>,
}

impl File<'_> {
    fn is(&self, path: &str, ino: Option<u64>) -> bool {
        match (self.ino, ino) {
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) | (None, Some(_) | None) => self.path == path,
        }
    }
}

/// The file an fsync or fdatasync acts on.
fn file_of_barrier(op: &Op) -> Option<File<'_>> {
    if let Op::Fsync { path, ino } | Op::Fdatasync { path, ino } = op {
        Some(File { path, ino: *ino })
    } else {
        None
    }
}

/// Whether a successful operation makes the file's earlier writes durable.
fn covers(op: &Op, file: &File<'_>) -> bool {
    match op {
        Op::Fsync { path, ino } | Op::Fdatasync { path, ino } => file.is(path, *ino),
        Op::Sync => true,
        Op::Syncfs { path } => path.as_deref().is_some_and(super::in_sandbox),
        Op::Open { .. }
        | Op::Write { .. }
        | Op::Rename { .. }
        | Op::Link { .. }
        | Op::Symlink { .. }
        | Op::Unlink { .. }
        | Op::Rmdir { .. }
        | Op::Mkdir { .. }
        | Op::SyncFileRange { .. }
        | Op::Truncate { .. }
        | Op::Fallocate { .. }
        | Op::Chmod { .. }
        | Op::Chown { .. }
        | Op::Close { .. }
        | Op::Mmap { .. }
        | Op::Msync { .. }
        | Op::IoUringSetup { .. } => false,
    }
}

#[cfg(test)]
mod tests;
