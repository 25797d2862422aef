//! The syscall trace of a golden run: a versioned JSON-lines format.
//!
//! Pure code: it reads from any `BufRead` and writes to any `Write`, and never panics on bad
//! input. The tracer produces a [`Trace`]; the power-loss explorer reads it back to rebuild the
//! states a crash could leave, so every event carries what that needs: the operation at the level
//! of the file system (an [`Op`]), its paths relative to the sandbox, the inode it acted on where
//! a file descriptor names it, the file offset and the exact bytes of every write, and the
//! syscall's return value (negative errno on failure: failed operations are recorded too and
//! change nothing).
//!
//! Layout: the first line is the header, `{"format":"intact-trace","version":1,...}`; each
//! further line is one [`Event`] with its operation flattened into it, for example
//!
//! ```text
//! {"seq":4,"pid":812,"syscall":"write","ret":5,"op":"write","path":"target.json","ino":1317,"fd":3,"offset_bytes":0,"len_bytes":5,"data":"aGVsbG8="}
//! ```
//!
//! Paths are normalised: relative to the sandbox for files inside it (`.` is the sandbox itself),
//! absolute for the rare file outside it that an operation also names (the source of a rename
//! into the sandbox, say). A file created with `O_TMPFILE` has no name: its path is `#<inode>`. Paths are
//! stored as UTF-8 (lossily: a non-UTF-8 name is not represented exactly).

use std::io::{self, BufRead, Write};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The `format` value of the header line.
pub const TRACE_FORMAT: &str = "intact-trace";
/// The version this module writes. It also reads versions 1 ([`TRACE_VERSION_V1`]) and 2
/// ([`TRACE_VERSION_V2`]): the fields added later then take their defaults (unknown initial
/// state, no acknowledgements, no initial tree).
pub const TRACE_VERSION: u32 = 3;
/// The first version, still read.
pub const TRACE_VERSION_V1: u32 = 1;
/// The second version (target, initial state, acknowledgements), still read.
pub const TRACE_VERSION_V2: u32 = 2;

/// The first line of a trace file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Always [`TRACE_FORMAT`].
    pub format: String,
    /// Always [`TRACE_VERSION`] for what this module writes.
    pub version: u32,
    /// Absolute path of the sandbox the writer ran in (informational: events are relative to it).
    pub sandbox: String,
    /// The writer's program and arguments.
    pub command: Vec<String>,
    /// The target, relative to the sandbox (v2; `None` in v1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What was at the target before the writer started (v2; `None` in v1 files: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<InitialState>,
    /// The machine architecture the trace was recorded on, as Rust names it (`x86_64`).
    #[serde(default)]
    pub arch: String,
    /// The file system the sandbox was on (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsInfo>,
    /// How the writer ended (v2; `None` while recording or in v1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
    /// Every acknowledgement the writer gave, in order, each placed in the event stream (v2).
    #[serde(default)]
    pub acks: Vec<Ack>,
    /// The whole sandbox before the writer started, as `--setup` left it (v3; `None` without a
    /// setup): every name under the sandbox with its contents, the durable initial state of
    /// every crash state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_tree: Option<Vec<InitialEntry>>,
}

/// One name of the initial tree (v3), relative to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialEntry {
    /// The path, relative to the sandbox.
    pub path: String,
    /// What it is.
    #[serde(flatten)]
    pub node: InitialNode,
}

/// What a name of the initial tree is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitialNode {
    /// A regular file with these bytes.
    File {
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
    },
    /// A directory.
    Dir,
    /// A symbolic link with this text.
    Symlink { text: String },
}

/// What was at the target before the writer ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InitialState {
    /// No file: the pipeline's first run.
    Absent,
    /// A complete old version with these bytes.
    Old {
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
    },
}

/// The file system holding the sandbox, as `/proc/self/mountinfo` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsInfo {
    /// `ext4`, `xfs`, `btrfs`, `tmpfs`, ...
    pub fs_type: String,
    /// The mount's options, comma-separated (per-mount and super-block options together).
    pub mount_options: String,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// It exited with this status code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

/// Something the writer told the world: after it, the pipeline treats the step as finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// How many events had completed when the acknowledgement was given: it sits between event
    /// `events_before - 1` and event `events_before`.
    pub events_before: u64,
    /// What it was.
    #[serde(flatten)]
    pub kind: AckKind,
}

/// The kinds of acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ack", rename_all = "snake_case")]
pub enum AckKind {
    /// A complete line on the writer's standard output (without its newline).
    Line { text: String },
    /// The writer exited with status 0.
    Exit,
}

/// How a write reaches the disk: at once (`O_SYNC`, `O_DSYNC`, `RWF_SYNC`, `RWF_DSYNC`) or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteSync {
    /// Buffered: durable only after a later barrier.
    #[default]
    No,
    /// `O_DSYNC` / `RWF_DSYNC`: the data, and the size needed to read it, are durable on return.
    Data,
    /// `O_SYNC` / `RWF_SYNC`: as after `fsync` of the file.
    Full,
}

/// A whole trace: header and events in the order the syscalls entered the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The header line.
    pub header: TraceHeader,
    /// One event per traced syscall on the sandbox, `seq` 0, 1, 2, ...
    pub events: Vec<Event>,
}

/// One syscall on a sandbox file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the trace, from 0, without gaps.
    pub seq: u64,
    /// Thread id that made the call.
    pub pid: i32,
    /// Syscall name as in `<asm/unistd_64.h>`, e.g. `pwrite64`, `renameat2`.
    pub syscall: String,
    /// Return value; `-errno` when the call failed.
    pub ret: i64,
    /// What the call did to the file system.
    #[serde(flatten)]
    pub op: Op,
}

/// A file-system operation, the unit a persistence model reasons about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `open`, `openat`, `openat2`, `creat`. `ret` is the new fd. For `O_TMPFILE`, `path` is the
    /// directory and the file is known by `ino` until it is linked.
    Open {
        path: String,
        ino: Option<u64>,
        /// Raw `O_*` flags as passed.
        flags: u64,
        /// The call created the directory entry (`O_CREAT` and the name did not exist before).
        created: bool,
        /// The call truncated an existing regular file (`O_TRUNC`).
        truncated: bool,
        /// `O_TMPFILE`: an unnamed file in directory `path`.
        tmpfile: bool,
        /// The fd refers to a directory (for a later `fsync` of the directory).
        directory: bool,
        /// `O_APPEND` (v2).
        #[serde(default)]
        append: bool,
        /// `O_EXCL` (v2).
        #[serde(default)]
        excl: bool,
        /// Writes through this fd are synchronous: `O_SYNC` is `full`, `O_DSYNC` `data` (v2).
        #[serde(default)]
        sync: WriteSync,
    },
    /// `write`, `pwrite64`, `writev`, `pwritev`, `pwritev2`, `copy_file_range`, `sendfile`: `data`
    /// landed at `offset_bytes` of the file (`len_bytes == data.len() == ret`).
    Write {
        path: String,
        ino: Option<u64>,
        fd: i32,
        offset_bytes: u64,
        len_bytes: u64,
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        /// Whether the write was synchronous (from the fd's open flags or `pwritev2` flags; v2).
        #[serde(default)]
        sync: WriteSync,
    },
    /// `rename`, `renameat`, `renameat2`.
    Rename {
        from: String,
        to: String,
        noreplace: bool,
        exchange: bool,
        /// The inode that moved (v2).
        #[serde(default)]
        from_ino: Option<u64>,
        /// The inode `to` named before the call, which the rename unlinked (v2; `None`: nothing).
        #[serde(default)]
        to_ino: Option<u64>,
    },
    /// `link`, `linkat` (also linking an `O_TMPFILE` file into place: `from` is then `#<ino>`).
    Link {
        from: String,
        from_ino: Option<u64>,
        to: String,
    },
    /// `symlink`, `symlinkat`: `target` is the link's text, not resolved.
    Symlink { target: String, path: String },
    /// `unlink`, `unlinkat` without `AT_REMOVEDIR`.
    Unlink {
        path: String,
        /// The inode the name pointed to (v2).
        #[serde(default)]
        ino: Option<u64>,
    },
    /// `rmdir`, `unlinkat` with `AT_REMOVEDIR`.
    Rmdir { path: String },
    /// `mkdir`, `mkdirat`.
    Mkdir { path: String, mode: u32 },
    /// `fsync`: data, size and metadata of that file (a directory: its entries).
    Fsync { path: String, ino: Option<u64> },
    /// `fdatasync`: data and the size needed to read it.
    Fdatasync { path: String, ino: Option<u64> },
    /// `sync_file_range`: starts writeback; not a durability barrier.
    SyncFileRange {
        path: String,
        ino: Option<u64>,
        offset_bytes: u64,
        len_bytes: u64,
        flags: u32,
    },
    /// `truncate`, `ftruncate`.
    Truncate {
        path: String,
        ino: Option<u64>,
        len_bytes: u64,
    },
    /// `fallocate`.
    Fallocate {
        path: String,
        ino: Option<u64>,
        mode: i32,
        offset_bytes: u64,
        len_bytes: u64,
    },
    /// `chmod`, `fchmod`, `fchmodat` (v2).
    Chmod {
        path: String,
        ino: Option<u64>,
        mode: u32,
    },
    /// `chown`, `fchown`, `lchown`, `fchownat` (v2); `None` leaves that id unchanged (`-1`).
    Chown {
        path: String,
        ino: Option<u64>,
        uid: Option<u32>,
        gid: Option<u32>,
    },
    /// `close` of an fd on a sandbox file.
    Close {
        path: String,
        ino: Option<u64>,
        fd: i32,
    },
    /// `sync`: everything, everywhere.
    Sync,
    /// `syncfs`: the whole file system holding `path` (`None`: an fd outside the sandbox).
    Syncfs { path: Option<String> },
    /// `mmap` of a sandbox file, shared and writable: writes through it are invisible to the
    /// tracer, so a trace containing this is not fully modelled.
    Mmap {
        path: String,
        ino: Option<u64>,
        offset_bytes: u64,
        len_bytes: u64,
    },
    /// `msync` after a shared writable mapping of a sandbox file.
    Msync {
        addr: u64,
        len_bytes: u64,
        flags: i32,
    },
    /// `io_uring_setup`: I/O submitted through the ring is invisible to the tracer.
    IoUringSetup { entries: u32 },
}

impl Op {
    /// The `op` tag of this operation, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Open { .. } => "open",
            Op::Write { .. } => "write",
            Op::Rename { .. } => "rename",
            Op::Link { .. } => "link",
            Op::Symlink { .. } => "symlink",
            Op::Unlink { .. } => "unlink",
            Op::Rmdir { .. } => "rmdir",
            Op::Mkdir { .. } => "mkdir",
            Op::Fsync { .. } => "fsync",
            Op::Fdatasync { .. } => "fdatasync",
            Op::SyncFileRange { .. } => "sync_file_range",
            Op::Truncate { .. } => "truncate",
            Op::Fallocate { .. } => "fallocate",
            Op::Chmod { .. } => "chmod",
            Op::Chown { .. } => "chown",
            Op::Close { .. } => "close",
            Op::Sync => "sync",
            Op::Syncfs { .. } => "syncfs",
            Op::Mmap { .. } => "mmap",
            Op::Msync { .. } => "msync",
            Op::IoUringSetup { .. } => "io_uring_setup",
        }
    }

    /// The syscalls that may produce this operation.
    pub fn syscalls(&self) -> &'static [&'static str] {
        match self {
            Op::Open { .. } => &["open", "openat", "openat2", "creat"],
            Op::Write { .. } => &[
                "write",
                "pwrite64",
                "writev",
                "pwritev",
                "pwritev2",
                "copy_file_range",
                "sendfile",
            ],
            Op::Rename { .. } => &["rename", "renameat", "renameat2"],
            Op::Link { .. } => &["link", "linkat"],
            Op::Symlink { .. } => &["symlink", "symlinkat"],
            Op::Unlink { .. } => &["unlink", "unlinkat"],
            Op::Rmdir { .. } => &["rmdir", "unlinkat"],
            Op::Mkdir { .. } => &["mkdir", "mkdirat"],
            Op::Fsync { .. } => &["fsync"],
            Op::Fdatasync { .. } => &["fdatasync"],
            Op::SyncFileRange { .. } => &["sync_file_range"],
            Op::Truncate { .. } => &["truncate", "ftruncate"],
            Op::Fallocate { .. } => &["fallocate"],
            Op::Chmod { .. } => &["chmod", "fchmod", "fchmodat", "fchmodat2"],
            Op::Chown { .. } => &["chown", "fchown", "lchown", "fchownat"],
            Op::Close { .. } => &["close"],
            Op::Sync => &["sync"],
            Op::Syncfs { .. } => &["syncfs"],
            Op::Mmap { .. } => &["mmap"],
            Op::Msync { .. } => &["msync"],
            Op::IoUringSetup { .. } => &["io_uring_setup"],
        }
    }

    /// Every sandbox path the operation names.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Op::Open { path, .. }
            | Op::Write { path, .. }
            | Op::Unlink { path, .. }
            | Op::Rmdir { path }
            | Op::Mkdir { path, .. }
            | Op::Fsync { path, .. }
            | Op::Fdatasync { path, .. }
            | Op::SyncFileRange { path, .. }
            | Op::Truncate { path, .. }
            | Op::Fallocate { path, .. }
            | Op::Close { path, .. }
            | Op::Chmod { path, .. }
            | Op::Chown { path, .. }
            | Op::Symlink { path, .. }
            | Op::Mmap { path, .. } => vec![path],
            Op::Rename { from, to, .. } | Op::Link { from, to, .. } => vec![from, to],
            Op::Syncfs { path } => path.iter().map(String::as_str).collect(),
            Op::Sync | Op::Msync { .. } | Op::IoUringSetup { .. } => Vec::new(),
        }
    }

    /// The sandbox names whose file (data, size, or existence) a successful call changed: what
    /// a writer touched, as opposed to what it only flushed, closed or re-moded.
    pub fn changed_paths(&self) -> Vec<&str> {
        match self {
            Op::Open {
                path,
                created,
                truncated,
                ..
            } => match *created || *truncated {
                true => vec![path],
                false => Vec::new(),
            },
            Op::Write { path, .. }
            | Op::Unlink { path, .. }
            | Op::Rmdir { path }
            | Op::Mkdir { path, .. }
            | Op::Truncate { path, .. }
            | Op::Fallocate { path, .. }
            | Op::Symlink { path, .. }
            | Op::Mmap { path, .. } => vec![path],
            Op::Rename { from, to, .. } => vec![from, to],
            Op::Link { to, .. } => vec![to],
            Op::Fsync { .. }
            | Op::Fdatasync { .. }
            | Op::SyncFileRange { .. }
            | Op::Close { .. }
            | Op::Chmod { .. }
            | Op::Chown { .. }
            | Op::Syncfs { .. }
            | Op::Sync
            | Op::Msync { .. }
            | Op::IoUringSetup { .. } => Vec::new(),
        }
    }
}

/// Why a trace did not parse or validate. `line` is 1-based.
#[derive(Debug, thiserror::Error)]
pub enum TraceParseError {
    /// Reading failed (includes a line that is not UTF-8).
    #[error("cannot read the trace: {0}")]
    Io(#[source] io::Error),
    /// No header line.
    #[error("the trace is empty: expected a header line")]
    Empty,
    /// The first line is not a trace header.
    #[error("line 1 is not an {TRACE_FORMAT} header: {message}")]
    BadHeader { message: String },
    /// The header names another format.
    #[error("the trace format is `{found}`, expected `{TRACE_FORMAT}`")]
    WrongFormat { found: String },
    /// The header names a version this build does not read.
    #[error(
        "trace version {found} is not supported (this build reads versions {TRACE_VERSION_V1} to {TRACE_VERSION})"
    )]
    UnsupportedVersion { found: u32 },
    /// A line is not a well-formed event.
    #[error("line {line}: not a trace event: {message}")]
    BadEvent { line: usize, message: String },
    /// A well-formed event breaks a rule of the format.
    #[error("line {line}: invalid event: {message}")]
    Invalid { line: usize, message: String },
}

impl Trace {
    /// An empty trace of a writer running `command` in `sandbox`.
    pub fn new(sandbox: String, command: Vec<String>) -> Trace {
        let header = TraceHeader {
            format: TRACE_FORMAT.to_owned(),
            version: TRACE_VERSION,
            sandbox,
            command,
            target: None,
            initial: None,
            arch: std::env::consts::ARCH.to_owned(),
            fs: None,
            exit: None,
            acks: Vec::new(),
            initial_tree: None,
        };
        Trace {
            header,
            events: Vec::new(),
        }
    }

    /// Appends an event, numbering it.
    pub fn push(&mut self, pid: i32, syscall: &str, ret: i64, op: Op) {
        let seq = self.events.len() as u64;
        self.events.push(Event {
            seq,
            pid,
            syscall: syscall.to_owned(),
            ret,
            op,
        });
    }

    /// Writes the header line and one line per event.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> io::Result<()> {
        serde_json::to_writer(&mut out, &self.header)?;
        out.write_all(b"\n")?;
        for event in &self.events {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// The whole trace as JSON lines.
    pub fn to_jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and every field serialises.
        self.write_jsonl(&mut out)
            .expect("serialising a trace into memory");
        out
    }

    /// Reads and validates a trace. Blank lines are skipped.
    pub fn parse_jsonl<R: BufRead>(input: R) -> Result<Trace, TraceParseError> {
        let mut lines = input.lines().enumerate();
        let header = loop {
            match lines.next() {
                None => return Err(TraceParseError::Empty),
                Some((_, line)) => {
                    let line = line.map_err(TraceParseError::Io)?;
                    if !line.trim().is_empty() {
                        break parse_header(&line)?;
                    }
                }
            }
        };
        let mut trace = Trace {
            header,
            events: Vec::new(),
        };
        for (index, line) in lines {
            let line = line.map_err(TraceParseError::Io)?;
            if line.trim().is_empty() {
                continue;
            }
            let event = parse_event(&line, index + 1)?;
            validate_event(&event, trace.events.len() as u64).map_err(|message| {
                TraceParseError::Invalid {
                    line: index + 1,
                    message,
                }
            })?;
            trace.events.push(event);
        }
        check_acks(&trace).map_err(|message| TraceParseError::BadHeader { message })?;
        Ok(trace)
    }

    /// [`Trace::parse_jsonl`] over bytes: the entry point for fuzzing.
    pub fn parse_bytes(input: &[u8]) -> Result<Trace, TraceParseError> {
        Trace::parse_jsonl(input)
    }

    /// Checks every rule [`Trace::parse_jsonl`] checks, on a trace built in memory.
    pub fn validate(&self) -> Result<(), TraceParseError> {
        check_header(&self.header)?;
        for (index, event) in self.events.iter().enumerate() {
            validate_event(event, index as u64).map_err(|message| TraceParseError::Invalid {
                line: index + 2,
                message,
            })?;
        }
        check_acks(self).map_err(|message| TraceParseError::BadHeader { message })
    }
}

/// Acknowledgements sit inside the event stream, in order, with at most one exit, last.
fn check_acks(trace: &Trace) -> Result<(), String> {
    let events = trace.events.len() as u64;
    let mut previous = 0;
    for (index, ack) in trace.header.acks.iter().enumerate() {
        if ack.events_before > events || ack.events_before < previous {
            return Err(format!(
                "acknowledgement {index} is placed after {} events: out of order or past the {events} events",
                ack.events_before
            ));
        }
        if ack.kind == AckKind::Exit && index + 1 != trace.header.acks.len() {
            return Err(format!(
                "acknowledgement {index} is an exit but not the last one"
            ));
        }
        previous = ack.events_before;
    }
    Ok(())
}

fn parse_header(line: &str) -> Result<TraceHeader, TraceParseError> {
    let header: TraceHeader =
        serde_json::from_str(line).map_err(|e| TraceParseError::BadHeader {
            message: e.to_string(),
        })?;
    check_header(&header)?;
    Ok(header)
}

fn check_header(header: &TraceHeader) -> Result<(), TraceParseError> {
    if header.format != TRACE_FORMAT {
        return Err(TraceParseError::WrongFormat {
            found: header.format.clone(),
        });
    }
    if !(TRACE_VERSION_V1..=TRACE_VERSION).contains(&header.version) {
        return Err(TraceParseError::UnsupportedVersion {
            found: header.version,
        });
    }
    Ok(())
}

fn parse_event(line: &str, line_number: usize) -> Result<Event, TraceParseError> {
    serde_json::from_str(line).map_err(|e| TraceParseError::BadEvent {
        line: line_number,
        message: e.to_string(),
    })
}

/// Largest errno the kernel returns as `-errno` (`MAX_ERRNO`).
const MAX_ERRNO: i64 = 4095;

fn validate_event(event: &Event, expected_seq: u64) -> Result<(), String> {
    if event.seq != expected_seq {
        return Err(format!("seq is {}, expected {expected_seq}", event.seq));
    }
    if event.pid <= 0 {
        return Err(format!("pid {} is not a process id", event.pid));
    }
    if !event.op.syscalls().contains(&event.syscall.as_str()) {
        return Err(format!(
            "syscall `{}` cannot produce a `{}` operation",
            event.syscall,
            event.op.kind()
        ));
    }
    if event.ret < -MAX_ERRNO {
        return Err(format!(
            "return value {} is neither a result nor -errno",
            event.ret
        ));
    }
    for path in event.op.paths() {
        check_path(path)?;
    }
    check_op(&event.op, event.ret)
}

/// A path is `.` (the sandbox), a normalised relative path (inside the sandbox) or a normalised
/// absolute path (outside it, e.g. the source of a rename into the sandbox).
fn check_path(path: &str) -> Result<(), String> {
    let body = path.strip_prefix('/').unwrap_or(path);
    let bad = path.contains('\0')
        || (path != "."
            && path != "/"
            && body.split('/').any(|part| matches!(part, "" | "." | "..")));
    if bad || path.is_empty() {
        return Err(format!(
            "path `{path}` is not normalised (`.`, `a/b` inside the sandbox, `/a/b` outside)"
        ));
    }
    Ok(())
}

fn check_op(op: &Op, ret: i64) -> Result<(), String> {
    match op {
        Op::Write {
            len_bytes,
            data,
            offset_bytes,
            ..
        } => {
            if data.len() as u64 != *len_bytes {
                return Err(format!(
                    "len_bytes is {len_bytes} but data holds {} bytes",
                    data.len()
                ));
            }
            let written = u64::try_from(ret).unwrap_or(0);
            if *len_bytes != written {
                return Err(format!(
                    "len_bytes is {len_bytes} but the call returned {ret}"
                ));
            }
            if offset_bytes
                .checked_add(*len_bytes)
                .is_none_or(|end| end > i64::MAX as u64)
            {
                return Err(format!(
                    "offset {offset_bytes} + length {len_bytes} is past the largest file offset"
                ));
            }
            Ok(())
        }
        Op::Open {
            created, truncated, ..
        } if ret < 0 && (*created || *truncated) => Err(format!(
            "a failed open (ret {ret}) cannot have created or truncated a file"
        )),
        Op::Open { .. }
        | Op::Rename { .. }
        | Op::Link { .. }
        | Op::Symlink { .. }
        | Op::Unlink { .. }
        | Op::Rmdir { .. }
        | Op::Mkdir { .. }
        | Op::Fsync { .. }
        | Op::Fdatasync { .. }
        | Op::SyncFileRange { .. }
        | Op::Truncate { .. }
        | Op::Fallocate { .. }
        | Op::Close { .. }
        | Op::Chmod { .. }
        | Op::Chown { .. }
        | Op::Sync
        | Op::Syncfs { .. }
        | Op::Mmap { .. }
        | Op::Msync { .. }
        | Op::IoUringSetup { .. } => Ok(()),
    }
}

/// `Vec<u8>` as standard base64 text.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Encodes bytes the way the `data` field does (for messages and tools).
pub fn encode_data(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_trace() -> Trace {
        let mut trace = Trace::new(
            "/tmp/sb".into(),
            vec!["torture-writer".into(), "rename".into()],
        );
        let open = Op::Open {
            path: "t.tmp".into(),
            ino: Some(12),
            flags: 0o1101,
            created: true,
            truncated: false,
            tmpfile: false,
            directory: false,
            append: false,
            excl: true,
            sync: WriteSync::No,
        };
        trace.push(10, "openat", 3, open);
        let write = Op::Write {
            path: "t.tmp".into(),
            ino: Some(12),
            fd: 3,
            offset_bytes: 0,
            len_bytes: 5,
            data: b"hello".to_vec(),
            sync: WriteSync::No,
        };
        trace.push(10, "write", 5, write);
        trace.push(
            10,
            "rename",
            0,
            Op::Rename {
                from: "t.tmp".into(),
                to: "t".into(),
                noreplace: false,
                exchange: false,
                from_ino: Some(12),
                to_ino: None,
            },
        );
        trace.push(10, "sync", 0, Op::Sync);
        trace
    }

    fn parse(text: &str) -> Result<Trace, TraceParseError> {
        Trace::parse_bytes(text.as_bytes())
    }

    #[test]
    fn writes_a_header_then_flat_events() {
        let text = String::from_utf8(sample_trace().to_jsonl()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[0].starts_with(r#"{"format":"intact-trace","version":3,"#),
            "{}",
            lines[0]
        );
        assert_eq!(
            lines[2],
            r#"{"seq":1,"pid":10,"syscall":"write","ret":5,"op":"write","path":"t.tmp","ino":12,"fd":3,"offset_bytes":0,"len_bytes":5,"data":"aGVsbG8=","sync":"no"}"#
        );
        assert_eq!(
            lines[4],
            r#"{"seq":3,"pid":10,"syscall":"sync","ret":0,"op":"sync"}"#
        );
    }

    #[test]
    fn round_trips_an_initial_tree_and_reads_version_2() {
        let mut trace = sample_trace();
        trace.header.initial_tree = Some(vec![
            InitialEntry {
                path: "db".into(),
                node: InitialNode::Dir,
            },
            InitialEntry {
                path: "db/data".into(),
                node: InitialNode::File {
                    data: b"\x00rows".to_vec(),
                },
            },
            InitialEntry {
                path: "link".into(),
                node: InitialNode::Symlink { text: "db".into() },
            },
        ]);
        let text = trace.to_jsonl();
        assert_eq!(Trace::parse_bytes(&text).unwrap(), trace);
        let v2 =
            r#"{"format":"intact-trace","version":2,"sandbox":"/s","command":["w"],"acks":[]}"#;
        let read = parse(v2).unwrap();
        assert_eq!(
            (read.header.version, read.header.initial_tree),
            (TRACE_VERSION_V2, None)
        );
    }

    #[test]
    fn round_trips() {
        let trace = sample_trace();
        assert_eq!(Trace::parse_bytes(&trace.to_jsonl()).unwrap(), trace);
        trace.validate().unwrap();
    }

    #[test]
    fn rejects_a_missing_or_foreign_header() {
        assert!(matches!(parse(""), Err(TraceParseError::Empty)));
        assert!(matches!(parse("\n\n"), Err(TraceParseError::Empty)));
        assert!(matches!(
            parse("{}"),
            Err(TraceParseError::BadHeader { .. })
        ));
        let foreign = r#"{"format":"strace","version":1,"sandbox":"/","command":[]}"#;
        assert!(matches!(
            parse(foreign),
            Err(TraceParseError::WrongFormat { .. })
        ));
        let future = r#"{"format":"intact-trace","version":4,"sandbox":"/","command":[]}"#;
        let err = parse(future).unwrap_err();
        assert!(matches!(
            err,
            TraceParseError::UnsupportedVersion { found: 4 }
        ));
        assert!(err.to_string().contains("versions 1 to 3"), "{err}");
    }

    #[test]
    fn reads_a_version_1_trace_with_the_new_fields_defaulted() {
        let v1 = concat!(
            r#"{"format":"intact-trace","version":1,"sandbox":"/s","command":["w"]}"#,
            "\n",
            r#"{"seq":0,"pid":9,"syscall":"unlinkat","ret":0,"op":"unlink","path":"t"}"#,
            "\n"
        );
        let trace = parse(v1).unwrap();
        assert_eq!(trace.header.version, TRACE_VERSION_V1);
        assert_eq!(trace.header.initial, None);
        assert!(trace.header.acks.is_empty());
        assert_eq!(
            trace.events[0].op,
            Op::Unlink {
                path: "t".into(),
                ino: None
            }
        );
    }

    #[test]
    fn acknowledgements_must_sit_inside_the_stream_in_order() {
        let mut trace = sample_trace();
        trace.header.acks = vec![
            Ack {
                events_before: 3,
                kind: AckKind::Line {
                    text: "committed".into(),
                },
            },
            Ack {
                events_before: 4,
                kind: AckKind::Exit,
            },
        ];
        trace.header.exit = Some(ExitStatus::Code(0));
        assert_eq!(Trace::parse_bytes(&trace.to_jsonl()).unwrap(), trace);
        trace.header.acks[0].events_before = 5;
        assert!(trace.validate().is_err());
        trace.header.acks.swap(0, 1);
        trace.header.acks[1].events_before = 4;
        assert!(
            trace.validate().is_err(),
            "an exit must be the last acknowledgement"
        );
    }

    const HEADER: &str = r#"{"format":"intact-trace","version":1,"sandbox":"/s","command":["w"]}"#;

    fn parse_event_line(event: &str) -> Result<Trace, TraceParseError> {
        parse(&format!("{HEADER}\n{event}\n"))
    }

    #[test]
    fn rejects_malformed_events_with_their_line() {
        let absolute = r#"{"seq":0,"pid":1,"syscall":"rename","ret":0,"op":"rename","from":"/tmp/x","to":"t","noreplace":false,"exchange":false}"#;
        assert!(parse_event_line(absolute).is_ok());
        let err =
            parse_event_line(r#"{"seq":0,"pid":1,"syscall":"close","ret":0,"op":"teleport"}"#)
                .unwrap_err();
        assert!(
            matches!(err, TraceParseError::BadEvent { line: 2, .. }),
            "{err}"
        );
        let err = parse_event_line(r#"{"seq":0,"pid":1,"syscall":"write","ret":1,"op":"write","path":"a","ino":null,"fd":3,"offset_bytes":0,"len_bytes":1,"data":"!!"}"#).unwrap_err();
        assert!(
            matches!(err, TraceParseError::BadEvent { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_events_breaking_the_rules() {
        let cases = [
            (
                r#"{"seq":1,"pid":1,"syscall":"sync","ret":0,"op":"sync"}"#,
                "seq is 1",
            ),
            (
                r#"{"seq":0,"pid":0,"syscall":"sync","ret":0,"op":"sync"}"#,
                "pid 0",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"close","ret":0,"op":"sync"}"#,
                "cannot produce",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"sync","ret":-5000,"op":"sync"}"#,
                "-errno",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"unlink","ret":0,"op":"unlink","path":"../x"}"#,
                "normalised",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"unlink","ret":0,"op":"unlink","path":"/etc/./x"}"#,
                "normalised",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"unlink","ret":0,"op":"unlink","path":"a//b"}"#,
                "normalised",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"unlink","ret":0,"op":"unlink","path":""}"#,
                "normalised",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"write","ret":2,"op":"write","path":"a","ino":null,"fd":3,"offset_bytes":0,"len_bytes":1,"data":"YQ=="}"#,
                "returned 2",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"write","ret":1,"op":"write","path":"a","ino":null,"fd":3,"offset_bytes":0,"len_bytes":2,"data":"YQ=="}"#,
                "data holds 1",
            ),
            (
                r#"{"seq":0,"pid":1,"syscall":"openat","ret":-2,"op":"open","path":"a","ino":null,"flags":64,"created":true,"truncated":false,"tmpfile":false,"directory":false}"#,
                "failed open",
            ),
        ];
        for (line, needle) in cases {
            let err = parse_event_line(line).unwrap_err();
            assert!(
                matches!(err, TraceParseError::Invalid { line: 2, .. }),
                "{line}: {err}"
            );
            assert!(
                err.to_string().contains(needle),
                "{line}: `{err}` lacks `{needle}`"
            );
        }
    }

    #[test]
    fn validate_checks_traces_built_in_memory() {
        let mut trace = sample_trace();
        trace.events[1].seq = 7;
        assert!(matches!(
            trace.validate(),
            Err(TraceParseError::Invalid { line: 3, .. })
        ));
    }

    fn rel_path() -> impl Strategy<Value = String> {
        prop_oneof![Just(".".to_owned()), "/?[a-z#.]{1,8}(/[a-z]{1,5}){0,2}"]
            .prop_filter("normalised", |p| check_path(p).is_ok())
    }

    fn op() -> impl Strategy<Value = (&'static str, i64, Op)> {
        let ino = proptest::option::of(any::<u64>());
        prop_oneof![
            (
                rel_path(),
                ino.clone(),
                any::<u64>(),
                any::<[bool; 4]>(),
                0i32..1000
            )
                .prop_map(|(path, ino, flags, b, fd)| {
                    (
                        "openat",
                        i64::from(fd),
                        Op::Open {
                            path,
                            ino,
                            flags,
                            created: b[0],
                            truncated: b[1],
                            tmpfile: b[2],
                            directory: b[3],
                            append: b[0] && b[3],
                            excl: b[1] && b[2],
                            sync: if b[1] { WriteSync::Data } else { WriteSync::No },
                        },
                    )
                }),
            (
                rel_path(),
                ino.clone(),
                0i32..1000,
                0u64..1 << 40,
                proptest::collection::vec(any::<u8>(), 0..64)
            )
                .prop_map(|(path, ino, fd, offset_bytes, data)| {
                    let len = data.len() as u64;
                    (
                        "pwrite64",
                        len as i64,
                        Op::Write {
                            path,
                            ino,
                            fd,
                            offset_bytes,
                            len_bytes: len,
                            data,
                            sync: WriteSync::Full,
                        },
                    )
                }),
            (rel_path(), rel_path(), any::<bool>(), any::<bool>()).prop_map(
                |(from, to, noreplace, exchange)| {
                    (
                        "renameat2",
                        0,
                        Op::Rename {
                            from,
                            to,
                            noreplace,
                            exchange,
                            from_ino: None,
                            to_ino: Some(7),
                        },
                    )
                }
            ),
            (rel_path(), ino.clone(), rel_path()).prop_map(|(from, from_ino, to)| (
                "linkat",
                0,
                Op::Link { from, from_ino, to }
            )),
            (".{0,12}", rel_path()).prop_map(|(target, path)| (
                "symlink",
                -17,
                Op::Symlink { target, path }
            )),
            (rel_path(), ino.clone()).prop_map(|(path, ino)| (
                "unlinkat",
                -2,
                Op::Unlink { path, ino }
            )),
            (rel_path(), ino.clone(), 0u32..0o7777).prop_map(|(path, ino, mode)| (
                "fchmod",
                0,
                Op::Chmod { path, ino, mode }
            )),
            (rel_path(), ino.clone(), proptest::option::of(any::<u32>())).prop_map(
                |(path, ino, uid)| (
                    "fchown",
                    0,
                    Op::Chown {
                        path,
                        ino,
                        uid,
                        gid: None
                    }
                )
            ),
            rel_path().prop_map(|path| ("rmdir", 0, Op::Rmdir { path })),
            (rel_path(), any::<u32>()).prop_map(|(path, mode)| (
                "mkdirat",
                0,
                Op::Mkdir { path, mode }
            )),
            (rel_path(), ino.clone()).prop_map(|(path, ino)| ("fsync", 0, Op::Fsync { path, ino })),
            (rel_path(), ino.clone()).prop_map(|(path, ino)| (
                "fdatasync",
                -5,
                Op::Fdatasync { path, ino }
            )),
            (
                rel_path(),
                ino.clone(),
                any::<u64>(),
                any::<u64>(),
                any::<u32>()
            )
                .prop_map(|(path, ino, o, l, flags)| {
                    (
                        "sync_file_range",
                        0,
                        Op::SyncFileRange {
                            path,
                            ino,
                            offset_bytes: o,
                            len_bytes: l,
                            flags,
                        },
                    )
                }),
            (rel_path(), ino.clone(), any::<u64>()).prop_map(|(path, ino, len_bytes)| (
                "ftruncate",
                0,
                Op::Truncate {
                    path,
                    ino,
                    len_bytes
                }
            )),
            (
                rel_path(),
                ino.clone(),
                any::<i32>(),
                any::<u64>(),
                any::<u64>()
            )
                .prop_map(|(path, ino, mode, o, l)| {
                    (
                        "fallocate",
                        0,
                        Op::Fallocate {
                            path,
                            ino,
                            mode,
                            offset_bytes: o,
                            len_bytes: l,
                        },
                    )
                }),
            (rel_path(), ino.clone(), 0i32..1000).prop_map(|(path, ino, fd)| (
                "close",
                0,
                Op::Close { path, ino, fd }
            )),
            Just(("sync", 0, Op::Sync)),
            proptest::option::of(rel_path()).prop_map(|path| ("syncfs", 0, Op::Syncfs { path })),
            (rel_path(), ino, any::<u64>(), any::<u64>()).prop_map(|(path, ino, o, l)| (
                "mmap",
                1 << 40,
                Op::Mmap {
                    path,
                    ino,
                    offset_bytes: o,
                    len_bytes: l
                }
            )),
            (any::<u64>(), any::<u64>(), any::<i32>()).prop_map(|(addr, len_bytes, flags)| (
                "msync",
                0,
                Op::Msync {
                    addr,
                    len_bytes,
                    flags
                }
            )),
            any::<u32>().prop_map(|entries| ("io_uring_setup", 4, Op::IoUringSetup { entries })),
        ]
    }

    fn trace() -> impl Strategy<Value = Trace> {
        let events = proptest::collection::vec((1i32..100_000, op()), 0..12);
        let node = prop_oneof![
            Just(InitialNode::Dir),
            proptest::collection::vec(any::<u8>(), 0..16)
                .prop_map(|data| InitialNode::File { data }),
            ".{0,8}".prop_map(|text| InitialNode::Symlink { text }),
        ];
        let entry = (".{1,12}", node).prop_map(|(path, node)| InitialEntry { path, node });
        let tree = proptest::option::of(proptest::collection::vec(entry, 0..4));
        (
            ".{0,20}",
            proptest::collection::vec(".{0,8}", 0..4),
            events,
            tree,
        )
            .prop_map(|(sandbox, command, events, tree)| {
                let mut trace = Trace::new(sandbox, command);
                trace.header.initial_tree = tree;
                for (pid, (syscall, ret, op)) in events {
                    trace.push(pid, syscall, ret, op);
                }
                trace
            })
    }

    proptest! {
        #[test]
        fn write_then_parse_is_identity(trace in trace()) {
            prop_assert!(trace.validate().is_ok());
            let parsed = Trace::parse_bytes(&trace.to_jsonl());
            prop_assert_eq!(parsed.map_err(|e| e.to_string()), Ok(trace));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Trace::parse_bytes(&bytes);
        }

        #[test]
        fn arbitrary_event_lines_never_panic(line in ".{0,200}") {
            let _ = parse_event_line(&line);
        }
    }
}
