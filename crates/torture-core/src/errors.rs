//! `torture errors`: the pure half of error injection. Which faults a golden run admits
//! ([`fault_space`]), which of them a campaign runs ([`select`]), how a faulted run is judged
//! ([`verdict`]), which writes a failed fsync drops for good ([`gate`]), and how a violation is
//! explained ([`diagnose`]).
//!
//! A trial injects one [`Injection`] (`fsync#9:EIO`, `write#5:short=1`, `fsync#9:fsyncgate`,
//! the `--inject` spelling): the call of that golden-trace event does not run (or, for a short
//! write, runs in part) and returns what the fault says; the writer keeps running.
//!
//! # Which calls get which faults
//!
//! Only calls that succeeded in the golden run, on a sandbox file (an event naming at least one
//! path inside the sandbox), of these families ([`CallFamily`]): open/creat, the write family,
//! `fsync`/`fdatasync`, rename, link, unlink, close, truncate/ftruncate, fallocate. Then, per
//! kind, following the ERRORS sections of the Linux man-pages (section 2, man-pages 6.x):
//!
//! - `EIO` on every injectable call: a failing disk surfaces wherever metadata or data is read
//!   or written (open(2) and rename(2) do not list it, but a directory block that cannot be read
//!   fails the lookup with `EIO` on ext4).
//! - `ENOSPC`, `EDQUOT` only on calls that allocate: an open that creates a file (open(2):
//!   "pathname was to be created"; also `O_TMPFILE`), the write family (write(2)), `fsync` and
//!   `fdatasync` (fsync(2): delayed allocation), rename and link (a new directory entry:
//!   rename(2), link(2)), close (close(2): NFS reports them late) and fallocate (fallocate(2)).
//!   Never on unlink or truncate, whose pages do not list them.
//! - `EINTR` only where the page lists it and restarting the call is correct, because the call
//!   did nothing or repeating it is harmless: open (open(2)), `write`/`pwrite64`/`writev`/
//!   `pwritev`/`pwritev2` (write(2): "interrupted by a signal before any data was written"),
//!   `fsync`/`fdatasync` (fsync(2)), truncate (truncate(2)) and fallocate (fallocate(2)). Not on
//!   close: close(2) explains that Linux releases the descriptor even when it returns `EINTR`, so
//!   a restart is not legal (it may close a descriptor another thread just opened). Not on
//!   `copy_file_range`, `sendfile`, rename, link or unlink, whose pages do not list it. (On a
//!   local disk none of these is interrupted in practice, signal(7): "a (local) disk is not a slow
//!   device"; the API allows it, and a correct writer copes.)
//! - A short write (`short-half`: the first half of the bytes, rounded down; `short-one`: one
//!   byte) on every write-family call of at least 2 bytes. A half of 2 or 3 bytes is one byte:
//!   the same trial as `short-one`, kept once.
//! - `fsyncgate` on `fsync`/`fdatasync` only, and only where it drops something
//!   ([`gate::unsynced_writes`] is not empty); elsewhere it is the `EIO` trial again.
//!
//! # fsyncgate needs no fault of its own
//!
//! `fsync#9:fsyncgate` is carried out exactly as `fsync#9:EIO` ([`Injection::fault`]): the call
//! is skipped and returns `-EIO`. The difference is in judging only: after a failed fsync Linux
//! may mark the dirty pages clean (PostgreSQL's "fsyncgate", 2018; Rebello et al., "Can
//! Applications Recover from fsync Failures?", ATC'20), so a retried fsync returns 0 with the
//! data gone. The run cannot show that loss (the page cache still serves the data); the power
//! explorer applies it, with the writes [`gate::fsyncgate_lost_writes`] names.

use std::fmt;
use std::str::FromStr;

use crate::fault::{CallRef, Errno, Fault, FaultParseError};
use crate::rng::SplitMix64;
use crate::trace::{Event, Op, Trace};

pub mod diagnose;
pub mod gate;
pub mod verdict;

/// A kind of fault, as `--fault` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `eio`: the call fails with `EIO`.
    Eio,
    /// `enospc`: the call fails with `ENOSPC`.
    Enospc,
    /// `edquot`: the call fails with `EDQUOT`.
    Edquot,
    /// `eintr`: the call fails with `EINTR`, where a restart is legal.
    Eintr,
    /// `short-half`: the write writes the first half of its bytes.
    ShortHalf,
    /// `short-one`: the write writes one byte.
    ShortOne,
    /// `fsyncgate`: the fsync fails with `EIO` and the pages it should have written are lost.
    FsyncGate,
}

/// The `--fault` names, for error messages.
const KNOWN_KINDS: &str = "eio, enospc, edquot, eintr, short-half, short-one, fsyncgate, or all";

/// Why a `--fault` list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultKindParseError {
    /// A name that is no kind.
    #[error("`{name}` is not a fault kind: pick from {known}", known = KNOWN_KINDS)]
    Unknown { name: String },
    /// Nothing between the commas.
    #[error("the fault list is empty: pick from {known}", known = KNOWN_KINDS)]
    Empty,
}

impl FaultKind {
    /// Every kind, in the order the fault space lists them.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Eio,
        FaultKind::Enospc,
        FaultKind::Edquot,
        FaultKind::Eintr,
        FaultKind::ShortHalf,
        FaultKind::ShortOne,
        FaultKind::FsyncGate,
    ];

    /// The `--fault` name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Eio => "eio",
            FaultKind::Enospc => "enospc",
            FaultKind::Edquot => "edquot",
            FaultKind::Eintr => "eintr",
            FaultKind::ShortHalf => "short-half",
            FaultKind::ShortOne => "short-one",
            FaultKind::FsyncGate => "fsyncgate",
        }
    }

    /// Parses `eio,enospc,...` (or `all`); the result is in [`FaultKind::ALL`] order, each once.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, FaultKindParseError> {
        let mut picked = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("all") {
                picked.extend(FaultKind::ALL);
            } else {
                picked.push(name.parse()?);
            }
        }
        if picked.is_empty() {
            return Err(FaultKindParseError::Empty);
        }
        Ok(FaultKind::ALL
            .into_iter()
            .filter(|kind| picked.contains(kind))
            .collect())
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = FaultKindParseError;

    fn from_str(input: &str) -> Result<FaultKind, FaultKindParseError> {
        FaultKind::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(input))
            .ok_or_else(|| FaultKindParseError::Unknown {
                name: input.to_owned(),
            })
    }
}

/// What an injected call returns instead of running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `-EIO`.
    Eio,
    /// `-ENOSPC`.
    Enospc,
    /// `-EDQUOT`.
    Edquot,
    /// `-EINTR`.
    Eintr,
    /// The write runs with its count cut to `len_bytes` and returns it.
    Short { len_bytes: u64 },
    /// `-EIO` from an fsync, whose pages are then lost (see the module docs).
    FsyncGate,
}

/// `EDQUOT`'s number on Linux (all architectures).
const EDQUOT: i32 = 122;
/// `EINTR`'s number on Linux (all architectures).
const EINTR: i32 = 4;

/// An errno from a constant of the table above.
fn linux_errno(number: i32) -> Errno {
    Errno::new(number).expect("the errno constants are in 1..=4095")
}

/// What an injected call does, as the injector sees it.
enum Returns {
    /// It does not run and returns `-errno`.
    Fail(Errno),
    /// It writes this many bytes and returns the count.
    Short(u64),
}

impl Action {
    /// The kind this action belongs to (a one-byte short write is `short-one`).
    pub fn kind(self) -> FaultKind {
        match self {
            Action::Eio => FaultKind::Eio,
            Action::Enospc => FaultKind::Enospc,
            Action::Edquot => FaultKind::Edquot,
            Action::Eintr => FaultKind::Eintr,
            Action::Short { len_bytes: 1 } => FaultKind::ShortOne,
            Action::Short { .. } => FaultKind::ShortHalf,
            Action::FsyncGate => FaultKind::FsyncGate,
        }
    }

    /// The errno the call returns; `None` for a short write.
    pub fn errno(self) -> Option<Errno> {
        match self.returns() {
            Returns::Fail(errno) => Some(errno),
            Returns::Short(_) => None,
        }
    }

    fn returns(self) -> Returns {
        match self {
            Action::Eio | Action::FsyncGate => Returns::Fail(Errno::EIO),
            Action::Enospc => Returns::Fail(Errno::ENOSPC),
            Action::Edquot => Returns::Fail(linux_errno(EDQUOT)),
            Action::Eintr => Returns::Fail(linux_errno(EINTR)),
            Action::Short { len_bytes } => Returns::Short(len_bytes),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.returns()) {
            (Action::FsyncGate, _) => f.write_str("fsyncgate"),
            (_, Returns::Fail(errno)) => write!(f, "{errno}"),
            (_, Returns::Short(len_bytes)) => write!(f, "short={len_bytes}"),
        }
    }
}

/// One fault of `torture errors`: a golden-trace call and what it returns. Displayed (and
/// parsed) as the `--inject` value: `fsync#9:EIO`, `write#5:short=1`, `fsync#9:fsyncgate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Injection {
    /// The call, by its golden-trace event.
    pub call: CallRef,
    /// What it returns.
    pub action: Action,
}

/// Why an `--inject` value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectionParseError {
    /// No `:` between the call and the action.
    #[error(
        "`{0}` is not an injection: write SYSCALL#SEQ:ACTION, e.g. fsync#9:EIO or write#5:short=1"
    )]
    Shape(String),
    /// The `SYSCALL#SEQ` part is wrong.
    #[error("{0}")]
    Call(#[from] FaultParseError),
    /// The action is none of the known ones.
    #[error(
        "`{0}` is not an action: write EIO, ENOSPC, EDQUOT, EINTR, short=N (N >= 1 bytes) or fsyncgate"
    )]
    Action(String),
}

impl Injection {
    /// The fault the tracer's injector carries out (fsyncgate is `EIO`: see the module docs).
    pub fn fault(&self) -> Fault {
        let call = self.call.clone();
        match self.action.returns() {
            Returns::Fail(errno) => Fault::Errno { call, errno },
            Returns::Short(len_bytes) => Fault::Short { call, len_bytes },
        }
    }

    /// The replay fragment: `--inject fsync#9:EIO`.
    pub fn replay_arg(&self) -> String {
        format!("--inject {self}")
    }
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.call, self.action)
    }
}

impl FromStr for Action {
    type Err = InjectionParseError;

    fn from_str(input: &str) -> Result<Action, InjectionParseError> {
        let bad = || InjectionParseError::Action(input.to_owned());
        if let Some(len) = input.strip_prefix("short=") {
            let digits_only = !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit());
            let len_bytes = len.parse::<u64>().ok().filter(|n| digits_only && *n >= 1);
            return len_bytes
                .map(|len_bytes| Action::Short { len_bytes })
                .ok_or_else(bad);
        }
        if input.eq_ignore_ascii_case("fsyncgate") {
            return Ok(Action::FsyncGate);
        }
        [Action::Eio, Action::Enospc, Action::Edquot, Action::Eintr]
            .into_iter()
            .find(|action| action.to_string().eq_ignore_ascii_case(input))
            .ok_or_else(bad)
    }
}

impl FromStr for Injection {
    type Err = InjectionParseError;

    fn from_str(input: &str) -> Result<Injection, InjectionParseError> {
        let (call, action) = input
            .split_once(':')
            .ok_or_else(|| InjectionParseError::Shape(input.to_owned()))?;
        Ok(Injection {
            call: call.parse()?,
            action: action.parse()?,
        })
    }
}

/// The syscall families `torture errors` injects into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallFamily {
    /// `open`, `openat`, `openat2`, `creat`.
    Open,
    /// `write`, `pwrite64`, `writev`, `pwritev`, `pwritev2`, `copy_file_range`, `sendfile`.
    Write,
    /// `fsync`, `fdatasync`.
    Fsync,
    /// `rename`, `renameat`, `renameat2`.
    Rename,
    /// `link`, `linkat`.
    Link,
    /// `unlink`, `unlinkat`.
    Unlink,
    /// `close`.
    Close,
    /// `truncate`, `ftruncate`.
    Truncate,
    /// `fallocate`.
    Fallocate,
}

impl CallFamily {
    /// The family of an event's operation, when it is injectable at all (a consistent event:
    /// its syscall is one that produces its operation).
    pub fn of(event: &Event) -> Option<CallFamily> {
        if !event.op.syscalls().contains(&event.syscall.as_str()) {
            return None;
        }
        match &event.op {
            Op::Open { .. } => Some(CallFamily::Open),
            Op::Write { .. } => Some(CallFamily::Write),
            Op::Fsync { .. } | Op::Fdatasync { .. } => Some(CallFamily::Fsync),
            Op::Rename { .. } => Some(CallFamily::Rename),
            Op::Link { .. } => Some(CallFamily::Link),
            Op::Unlink { .. } => Some(CallFamily::Unlink),
            Op::Close { .. } => Some(CallFamily::Close),
            Op::Truncate { .. } => Some(CallFamily::Truncate),
            Op::Fallocate { .. } => Some(CallFamily::Fallocate),
            Op::Symlink { .. }
            | Op::Rmdir { .. }
            | Op::Mkdir { .. }
            | Op::SyncFileRange { .. }
            | Op::Chmod { .. }
            | Op::Chown { .. }
            | Op::Sync
            | Op::Syncfs { .. }
            | Op::Mmap { .. }
            | Op::Msync { .. }
            | Op::IoUringSetup { .. } => None,
        }
    }
}

/// Whether a path names something inside the sandbox (trace paths outside it are absolute).
pub fn in_sandbox(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/')
}

/// The family of an event a fault may hit: it succeeded and names a sandbox file.
fn injectable(event: &Event) -> Option<CallFamily> {
    let on_sandbox = event.op.paths().into_iter().any(in_sandbox);
    (event.ret >= 0 && on_sandbox)
        .then(|| CallFamily::of(event))
        .flatten()
}

/// Every fault of the given kinds the golden trace admits, by event then kind
/// ([`FaultKind::ALL`] order), each distinct injection once. See the module docs for the rules.
pub fn fault_space(trace: &Trace, kinds: &[FaultKind]) -> Vec<Injection> {
    let mut space = Vec::new();
    for (index, event) in trace.events.iter().enumerate() {
        let Some(family) = injectable(event) else {
            continue;
        };
        let mut actions: Vec<Action> = Vec::new();
        for kind in FaultKind::ALL.into_iter().filter(|k| kinds.contains(k)) {
            let action = action_for(kind, family, event)
                .filter(|a| *a != Action::FsyncGate || gate_drops(trace, index));
            if let Some(action) = action.filter(|a| !actions.contains(a)) {
                actions.push(action);
            }
        }
        let call = CallRef {
            syscall: event.syscall.clone(),
            seq: event.seq,
        };
        space.extend(actions.into_iter().map(|action| Injection {
            call: call.clone(),
            action,
        }));
    }
    space
}

fn gate_drops(trace: &Trace, index: usize) -> bool {
    !gate::unsynced_writes(&trace.events, index).is_empty()
}

/// The action of `kind` on this call, when the rules admit it.
fn action_for(kind: FaultKind, family: CallFamily, event: &Event) -> Option<Action> {
    let written = if let Op::Write { len_bytes, .. } = &event.op {
        Some(*len_bytes).filter(|len| *len >= 2)
    } else {
        None
    };
    match kind {
        FaultKind::Eio => Some(Action::Eio),
        FaultKind::Enospc => allocates(family, &event.op).then_some(Action::Enospc),
        FaultKind::Edquot => allocates(family, &event.op).then_some(Action::Edquot),
        FaultKind::Eintr => restartable(family, &event.syscall).then_some(Action::Eintr),
        FaultKind::ShortHalf => written.map(|len| Action::Short { len_bytes: len / 2 }),
        FaultKind::ShortOne => written.map(|_| Action::Short { len_bytes: 1 }),
        FaultKind::FsyncGate => (family == CallFamily::Fsync).then_some(Action::FsyncGate),
    }
}

/// Calls that may need a new block or inode, hence fail with `ENOSPC` or `EDQUOT`.
fn allocates(family: CallFamily, op: &Op) -> bool {
    match family {
        CallFamily::Open => matches!(op, Op::Open { created, tmpfile, .. } if *created || *tmpfile),
        CallFamily::Write
        | CallFamily::Fsync
        | CallFamily::Rename
        | CallFamily::Link
        | CallFamily::Close
        | CallFamily::Fallocate => true,
        CallFamily::Unlink | CallFamily::Truncate => false,
    }
}

/// Calls whose man page lists `EINTR` and that may legally be restarted.
fn restartable(family: CallFamily, syscall: &str) -> bool {
    match family {
        CallFamily::Open | CallFamily::Fsync | CallFamily::Truncate | CallFamily::Fallocate => true,
        CallFamily::Write => !matches!(syscall, "copy_file_range" | "sendfile"),
        CallFamily::Rename | CallFamily::Link | CallFamily::Unlink | CallFamily::Close => false,
    }
}

/// Without `--trials`, spaces up to this size run whole; larger ones are sampled to it.
pub const EXHAUSTIVE_LIMIT: u64 = 512;

/// The injections a campaign runs: `trials` of them sampled with `seed`, or without `trials`
/// the whole space when it holds at most [`EXHAUSTIVE_LIMIT`].
pub fn select(space: &[Injection], trials: Option<u64>, seed: u64) -> Vec<Injection> {
    sample(space, trials.unwrap_or(EXHAUSTIVE_LIMIT), seed)
}

/// `trials` distinct injections of the space chosen with `seed`, in space order; the whole space
/// when it holds no more.
pub fn sample(space: &[Injection], trials: u64, seed: u64) -> Vec<Injection> {
    let len = space.len() as u64;
    if trials >= len {
        return space.to_vec();
    }
    // A partial Fisher-Yates shuffle of the indices: the first `trials` are a uniform sample.
    let mut indices: Vec<usize> = (0..space.len()).collect();
    let mut rng = SplitMix64::new(seed);
    for i in 0..trials {
        let j = i + rng.below(len - i);
        indices.swap(i as usize, j as usize);
    }
    let mut chosen = indices[..trials as usize].to_vec();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| space[i].clone()).collect()
}

/// The seq of the publishing call: the first successful rename or link whose destination is the
/// trace's target. `None` when the header names no target or nothing publishes it (an in-place
/// writer).
pub fn publish_point(trace: &Trace) -> Option<u64> {
    let target = trace.header.target.as_deref()?;
    trace
        .events
        .iter()
        .find(|event| event.ret >= 0 && publishes(&event.op, target))
        .map(|event| event.seq)
}

/// Whether the operation puts a file at `target` by name.
pub(crate) fn publishes(op: &Op, target: &str) -> bool {
    if let Op::Rename { to, .. } | Op::Link { to, .. } = op {
        to == target
    } else {
        false
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
