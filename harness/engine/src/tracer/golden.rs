//! The recorder: every syscall on the sandbox becomes a trace event (with the bytes written),
//! the kill-point space is counted the way kill trials count it, and the writer's stdout lines
//! become acknowledgements placed in the event stream.
//!
//! Events are numbered when the syscall *enters* the kernel (so a fault can name one at its
//! entry stop, before it runs) and completed at its exit stop. An acknowledgement line sits after
//! the events completed when the `write` that ended the line returned: the recorder notes the
//! size of the stdout capture at each such exit and matches newlines to those marks afterwards.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use nix::unistd::Pid;

use super::TraceError;
use super::calls::{self, Site, WriteCall};
use super::engine::{Call, Ctx};
use super::resolve::FileKind;
use super::syscalls::{Role, Sys};
use crate::sys;
use torture_core::killpoint::{Boundary, KillSpace, When};
use torture_core::trace::{Ack, AckKind, ExitStatus, Op, Trace, WriteSync};

/// `RWF_APPEND` (pwritev2 flag): append whatever the offset says.
const RWF_APPEND: u64 = 0x10;
const RENAME_NOREPLACE: u64 = 1;
const RENAME_EXCHANGE: u64 = 2;

/// A file a tracee may write its acknowledgements to (the stdout capture), by device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFile {
    pub dev: u64,
    pub ino: u64,
}

impl AckFile {
    pub fn of(file: &File) -> std::io::Result<AckFile> {
        let meta = file.metadata()?;
        Ok(AckFile {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Whether `fd` of `pid` refers to this file.
    fn is_behind(self, pid: Pid, fd: i64) -> bool {
        std::fs::metadata(format!("/proc/{pid}/fd/{fd}"))
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino)
    }
}

/// A completed event, numbered at its entry.
#[derive(Debug)]
struct Done {
    entry_seq: u64,
    pid: i32,
    sys: Sys,
    ret: i64,
    op: Op,
}

#[derive(Debug)]
pub struct Recorder {
    trace: Trace,
    space: KillSpace,
    pub unmodelled: Vec<String>,
    /// Changes the writer made (or tried) outside the sandbox, e.g. `openat /tmp/x.json`.
    pub outside: Vec<String>,
    /// A sandbox file was mapped shared and writable: `msync` becomes worth recording.
    mapped: bool,
    /// Sandbox files mapped shared and writable.
    mapped_files: Vec<String>,
    /// `msync` calls after such a mapping: the only places its stores can be killed at.
    msyncs: u64,
    /// Events numbered so far (at entry).
    entered: u64,
    done: Vec<Done>,
    /// The boundary pairs and the entry seq of their event.
    boundary_seq: Vec<(usize, u64)>,
    ack_file: Option<AckFile>,
    /// (size of the stdout capture after a write to it, events completed by then).
    ack_marks: Vec<(u64, u64)>,
    ack_sizes: Option<File>,
}

/// What the entry stop learnt, completed at the exit stop.
#[derive(Debug)]
pub enum Pending {
    Write {
        seq: u64,
        call: Call,
        write: WriteCall,
    },
    Open {
        seq: u64,
        call: Call,
        path: String,
        flags: u64,
        existed: bool,
    },
    Ready {
        seq: u64,
        sys: Sys,
        op: Op,
    },
    /// A write to the stdout capture: an acknowledgement may complete.
    Stdout,
}

impl Recorder {
    /// A recorder for `trace` (its header filled by the caller). `stdout` is the writer's stdout
    /// capture, whose lines become acknowledgements.
    pub fn new(trace: Trace, stdout: Option<&File>) -> std::io::Result<Recorder> {
        let (ack_file, ack_sizes) = match stdout {
            Some(file) => (Some(AckFile::of(file)?), Some(file.try_clone()?)),
            None => (None, None),
        };
        Ok(Recorder {
            trace,
            space: KillSpace::default(),
            unmodelled: Vec::new(),
            outside: Vec::new(),
            mapped: false,
            mapped_files: Vec::new(),
            msyncs: 0,
            entered: 0,
            done: Vec::new(),
            boundary_seq: Vec::new(),
            ack_file,
            ack_marks: Vec::new(),
            ack_sizes,
        })
    }

    /// The seq a call becomes in the trace, and what to complete at its exit; `(None, None)` when
    /// the call is not on the sandbox.
    pub fn enter(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
    ) -> (Option<u64>, Option<Pending>) {
        if call.sys.role() == Role::Write {
            return match calls::write_call(ctx, pid, call) {
                Some(write) => {
                    let seq = self.number();
                    let pending = Pending::Write {
                        seq,
                        call: *call,
                        write,
                    };
                    (Some(seq), Some(pending))
                }
                None if self.writes_ack(pid, call) => (None, Some(Pending::Stdout)),
                None => (None, None),
            };
        }
        let Some(site) = calls::site(ctx, pid, call) else {
            self.note_outside(ctx, pid, call);
            return (None, None);
        };
        let first_boundary = self.space.boundaries.len();
        if call.sys.role() == Role::Boundary {
            self.push_boundaries(call.sys, site.label());
        }
        let seq = self.entered;
        match self.draft(ctx, pid, call, site, seq) {
            Some(pending) => {
                self.entered += 1;
                if call.sys.role() == Role::Boundary {
                    self.boundary_seq.push((first_boundary, seq));
                }
                (Some(seq), Some(pending))
            }
            None => (None, None),
        }
    }

    fn number(&mut self) -> u64 {
        self.entered += 1;
        self.entered - 1
    }

    /// Whether this write-family call writes to the stdout capture.
    fn writes_ack(&self, pid: Pid, call: &Call) -> bool {
        let fd = if call.sys == Sys::CopyFileRange {
            call.fd_arg(2)
        } else {
            call.fd_arg(0)
        };
        self.ack_file.is_some_and(|file| file.is_behind(pid, fd))
    }

    /// Completes the event at the call's exit stop; `ret` is what the call returns to the writer.
    pub fn exit(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        pending: Pending,
        ret: i64,
    ) -> Result<(), TraceError> {
        let (seq, sys, op) = match pending {
            Pending::Write { seq, call, write } => {
                (seq, call.sys, self.written(pid, &call, &write, ret)?)
            }
            Pending::Open {
                seq,
                call,
                path,
                flags,
                existed,
            } => (seq, call.sys, opened(ctx, pid, path, flags, existed, ret)),
            Pending::Ready { seq, sys, op } => (seq, sys, op),
            Pending::Stdout => {
                self.mark_ack();
                return Ok(());
            }
        };
        self.done.push(Done {
            entry_seq: seq,
            pid: pid.as_raw(),
            sys,
            ret,
            op,
        });
        Ok(())
    }

    fn mark_ack(&mut self) {
        let size = self
            .ack_sizes
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        self.ack_marks.push((size, self.done.len() as u64));
    }

    /// The finished trace and kill space: events in entry order, numbered without gaps (an event
    /// that never completed, its tracee killed inside the syscall, is left out), each boundary
    /// pointing at its event, and the acknowledgements of `stdout` and of the exit.
    pub fn finish(mut self, stdout: &[u8], exit: Option<ExitStatus>) -> (Trace, KillSpace) {
        self.done.sort_by_key(|d| d.entry_seq);
        let mut renumbered = HashMap::new();
        for d in std::mem::take(&mut self.done) {
            renumbered.insert(d.entry_seq, self.trace.events.len() as u64);
            self.trace.push(d.pid, d.sys.name(), d.ret, d.op);
        }
        for (first, seq) in &self.boundary_seq {
            for boundary in &mut self.space.boundaries[*first..*first + 2] {
                boundary.seq = renumbered.get(seq).copied();
            }
        }
        let events = self.trace.events.len() as u64;
        let mut acks = line_acks(stdout, &self.ack_marks, events);
        if exit == Some(ExitStatus::Code(0)) {
            acks.push(Ack {
                events_before: events,
                kind: AckKind::Exit,
            });
        }
        self.trace.header.exit = exit;
        self.trace.header.acks = acks;
        (self.trace, self.space)
    }

    /// What the run's shared writable mappings of sandbox files mean for its kill points: with
    /// `msync` calls, the stores are killed at those (a note); without any, the stores were never
    /// seen at all and the writer is not modelled.
    pub fn mapping_note(&mut self) -> Option<String> {
        let files = self.mapped_files.join(", ");
        match (self.mapped, self.msyncs) {
            (false, _) => None,
            (true, 0) => {
                self.unmodelled.push(format!(
                    "mmap(PROT_WRITE, MAP_SHARED) of {files} and no msync: stores through the mapping are never seen"
                ));
                None
            }
            (true, n) => Some(format!(
                "{files} is written through a shared mapping: the tracer sees its stores only at the {n} msync calls, where it kills; what a crash between two of them leaves is not tested"
            )),
        }
    }

    /// Remembers a change outside the sandbox: the campaign reports it (`--strict` fails on it),
    /// since nothing there is killed at or recorded.
    fn note_outside(&mut self, ctx: &Ctx<'_>, pid: Pid, call: &Call) {
        let opens = matches!(
            call.sys,
            Sys::Open | Sys::Openat | Sys::Openat2 | Sys::Creat
        );
        let flags = if opens { open_flags(pid, call) } else { 0 };
        if let Some(what) = calls::outside_write(ctx, pid, call, flags)
            && !self.outside.contains(&what)
        {
            self.outside.push(what);
        }
    }

    fn push_boundaries(&mut self, sys: Sys, path: String) {
        for when in [When::Before, When::After] {
            let index = self.space.boundaries.len() as u64;
            let boundary = Boundary {
                index,
                when,
                syscall: sys.name().to_owned(),
                path: path.clone(),
                seq: None,
            };
            self.space.boundaries.push(boundary);
        }
    }

    /// The operation a boundary or record-only call will perform, known at its entry.
    fn draft(
        &mut self,
        ctx: &Ctx<'_>,
        pid: Pid,
        call: &Call,
        site: Site,
        seq: u64,
    ) -> Option<Pending> {
        let a = &call.args;
        let ready = |op: Op| {
            Some(Pending::Ready {
                seq,
                sys: call.sys,
                op,
            })
        };
        match (call.sys, site) {
            (Sys::Open | Sys::Openat | Sys::Openat2 | Sys::Creat, Site::Path(place)) => {
                let flags = open_flags(pid, call);
                let existed = std::fs::symlink_metadata(&place.abs).is_ok();
                Some(Pending::Open {
                    seq,
                    call: *call,
                    path: place.shown,
                    flags,
                    existed,
                })
            }
            (Sys::Rename | Sys::Renameat | Sys::Renameat2, Site::Pair { from, to }) => {
                let flags = if call.sys == Sys::Renameat2 {
                    u64::from(a[4] as u32)
                } else {
                    0
                };
                let noreplace = flags & RENAME_NOREPLACE != 0;
                let exchange = flags & RENAME_EXCHANGE != 0;
                let from_ino = inode_of(&from.abs);
                let to_ino = inode_of(&to.abs);
                ready(Op::Rename {
                    from: from.shown,
                    to: to.shown,
                    noreplace,
                    exchange,
                    from_ino,
                    to_ino,
                })
            }
            (Sys::Link | Sys::Linkat, Site::Pair { from, to }) => {
                let from_ino = unnamed_ino(&from.shown)
                    .or_else(|| std::fs::metadata(&from.abs).ok().map(|m| m.ino()));
                ready(Op::Link {
                    from: from.shown,
                    from_ino,
                    to: to.shown,
                })
            }
            (Sys::Symlink | Sys::Symlinkat, Site::Path(place)) => {
                let target = ctx.resolver.read_string(pid, a[0]).unwrap_or_default();
                ready(Op::Symlink {
                    target,
                    path: place.shown,
                })
            }
            (Sys::Unlinkat, Site::Path(place)) if a[2] & libc::AT_REMOVEDIR as u64 != 0 => {
                ready(Op::Rmdir { path: place.shown })
            }
            (Sys::Unlink | Sys::Unlinkat, Site::Path(place)) => {
                let ino = inode_of(&place.abs);
                ready(Op::Unlink {
                    path: place.shown,
                    ino,
                })
            }
            (Sys::Rmdir, Site::Path(place)) => ready(Op::Rmdir { path: place.shown }),
            (Sys::Mkdir, Site::Path(place)) => ready(Op::Mkdir {
                path: place.shown,
                mode: a[1] as u32,
            }),
            (Sys::Mkdirat, Site::Path(place)) => ready(Op::Mkdir {
                path: place.shown,
                mode: a[2] as u32,
            }),
            (Sys::Truncate, Site::Path(place)) => {
                let ino = std::fs::metadata(&place.abs).ok().map(|m| m.ino());
                ready(Op::Truncate {
                    path: place.shown,
                    ino,
                    len_bytes: a[1],
                })
            }
            (Sys::Fsync, Site::File(f)) => ready(Op::Fsync {
                path: f.rel,
                ino: Some(f.ino),
            }),
            (Sys::Fdatasync, Site::File(f)) => ready(Op::Fdatasync {
                path: f.rel,
                ino: Some(f.ino),
            }),
            (Sys::Ftruncate, Site::File(f)) => ready(Op::Truncate {
                path: f.rel,
                ino: Some(f.ino),
                len_bytes: a[1],
            }),
            (Sys::Fallocate, Site::File(f)) => ready(Op::Fallocate {
                path: f.rel,
                ino: Some(f.ino),
                mode: a[1] as i32,
                offset_bytes: a[2],
                len_bytes: a[3],
            }),
            (Sys::Close, Site::File(f)) => ready(Op::Close {
                path: f.rel,
                ino: Some(f.ino),
                fd: a[0] as i32,
            }),
            (Sys::SyncFileRange, Site::File(f)) => ready(Op::SyncFileRange {
                path: f.rel,
                ino: Some(f.ino),
                offset_bytes: a[1],
                len_bytes: a[2],
                flags: a[3] as u32,
            }),
            (Sys::Mmap, Site::File(f)) => {
                self.mapped = true;
                self.mapped_files.push(f.rel.clone());
                ready(Op::Mmap {
                    path: f.rel,
                    ino: Some(f.ino),
                    offset_bytes: a[5],
                    len_bytes: a[1],
                })
            }
            (Sys::Sync, Site::Global { .. }) => ready(Op::Sync),
            (Sys::Syncfs, Site::Global { fs_of }) => ready(Op::Syncfs { path: fs_of }),
            (Sys::Msync, Site::Global { .. }) if self.mapped => {
                self.msyncs += 1;
                ready(Op::Msync {
                    addr: a[0],
                    len_bytes: a[1],
                    flags: a[2] as i32,
                })
            }
            (Sys::Chmod | Sys::Fchmodat | Sys::Fchmodat2 | Sys::Fchmod, site) => {
                let mode_arg = if call.sys == Sys::Chmod || call.sys == Sys::Fchmod {
                    1
                } else {
                    2
                };
                let (path, ino) = site_file(&site)?;
                ready(Op::Chmod {
                    path,
                    ino,
                    mode: a[mode_arg] as u32,
                })
            }
            (Sys::Chown | Sys::Lchown | Sys::Fchown | Sys::Fchownat, site) => {
                let first_id = if call.sys == Sys::Fchownat { 2 } else { 1 };
                let (path, ino) = site_file(&site)?;
                ready(Op::Chown {
                    path,
                    ino,
                    uid: chown_id(a[first_id]),
                    gid: chown_id(a[first_id + 1]),
                })
            }
            (Sys::IoUringSetup, Site::Global { .. }) => {
                self.unmodelled.push(format!(
                    "io_uring_setup by pid {pid}: I/O submitted through io_uring is not traced"
                ));
                ready(Op::IoUringSetup {
                    entries: a[0] as u32,
                })
            }
            (_, _) => None,
        }
    }

    /// The write event, with the bytes that landed and where.
    fn written(
        &mut self,
        pid: Pid,
        call: &Call,
        write: &WriteCall,
        ret: i64,
    ) -> Result<Op, TraceError> {
        let path = write.file.rel.clone();
        let (ino, fd) = (Some(write.file.ino), write.fd as i32);
        let Ok(len) = u64::try_from(ret) else {
            return Ok(Op::Write {
                path,
                ino,
                fd,
                offset_bytes: 0,
                len_bytes: 0,
                data: Vec::new(),
                sync: write_sync(pid, call, write.fd),
            });
        };
        self.space.total_bytes += len;
        let offset_bytes = write_offset(pid, call, write, len)?;
        let data = written_data(pid, call, write, offset_bytes, len)?;
        Ok(Op::Write {
            path,
            ino,
            fd,
            offset_bytes,
            len_bytes: len,
            data,
            sync: write_sync(pid, call, write.fd),
        })
    }
}

/// The file a chmod/chown acts on: a path (its inode looked up now, symlinks not followed) or an
/// fd's file.
fn site_file(site: &Site) -> Option<(String, Option<u64>)> {
    match site {
        Site::Path(place) => Some((place.shown.clone(), inode_of(&place.abs))),
        Site::File(file) => Some((file.rel.clone(), Some(file.ino))),
        Site::Pair { .. } | Site::Global { .. } => None,
    }
}

/// A `uid_t`/`gid_t` argument: `-1` (as 32 bits) leaves the id unchanged.
fn chown_id(arg: u64) -> Option<u32> {
    let id = arg as u32;
    (id != u32::MAX).then_some(id)
}

/// The acknowledgement lines of `stdout`: each complete line sits after the events completed when
/// the write that ended it returned (`marks`: capture size after each write, events by then).
/// A line no mark covers (written by a call the tracer did not see) sits after all `events`.
fn line_acks(stdout: &[u8], marks: &[(u64, u64)], events: u64) -> Vec<Ack> {
    let mut acks = Vec::new();
    let mut start = 0;
    for (end, _) in stdout.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        let events_before = marks
            .iter()
            .find(|(size, _)| *size > end as u64)
            .map_or(events, |(_, before)| *before);
        let text = String::from_utf8_lossy(&stdout[start..end]).into_owned();
        acks.push(Ack {
            events_before,
            kind: AckKind::Line { text },
        });
        start = end + 1;
    }
    acks
}

/// `open` flags; `openat2` keeps them in its `struct open_how`.
fn open_flags(pid: Pid, call: &Call) -> u64 {
    let a = &call.args;
    // `int flags` fills only the low half of its register.
    if call.sys == Sys::Open {
        u64::from(a[1] as u32)
    } else if call.sys == Sys::Creat {
        (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64
    } else if call.sys == Sys::Openat2 {
        let mut how = [0u8; 8];
        match sys::read_memory(pid, a[2], &mut how) {
            Ok(8) => u64::from_ne_bytes(how),
            Ok(_) | Err(_) => 0,
        }
    } else {
        u64::from(a[2] as u32)
    }
}

/// The open event, completed with what the new fd refers to.
fn opened(ctx: &Ctx<'_>, pid: Pid, path: String, flags: u64, existed: bool, ret: i64) -> Op {
    let flag = |f: i32| flags & f as u64 == f as u64;
    let tmpfile = flag(libc::O_TMPFILE);
    let file = (ret >= 0).then(|| ctx.resolver.fd_file(pid, ret)).flatten();
    let ok = ret >= 0;
    let regular = file.as_ref().is_some_and(|f| f.kind == FileKind::Regular);
    let directory = file.as_ref().is_some_and(|f| f.kind == FileKind::Directory);
    let path = match &file {
        Some(f) if !tmpfile => f.rel.clone(),
        Some(_) | None => path,
    };
    Op::Open {
        path,
        ino: file.as_ref().map(|f| f.ino),
        flags,
        created: ok && !tmpfile && flag(libc::O_CREAT) && !existed,
        truncated: ok && !tmpfile && flag(libc::O_TRUNC) && existed && regular,
        tmpfile,
        directory,
        append: flag(libc::O_APPEND),
        excl: flag(libc::O_EXCL),
        sync: sync_of_open_flags(flags),
    }
}

/// `O_SYNC` includes the `O_DSYNC` bit, so it is tested first.
fn sync_of_open_flags(flags: u64) -> WriteSync {
    let has = |f: i32| flags & f as u64 == f as u64;
    if has(libc::O_SYNC) {
        WriteSync::Full
    } else if has(libc::O_DSYNC) {
        WriteSync::Data
    } else {
        WriteSync::No
    }
}

/// Whether a write was synchronous: `RWF_SYNC`/`RWF_DSYNC` of `pwritev2`, else the fd's status
/// flags as the kernel reports them in `/proc/PID/fdinfo/FD` (they change with `fcntl`).
fn write_sync(pid: Pid, call: &Call, fd: i64) -> WriteSync {
    if call.sys == Sys::Pwritev2 {
        let rwf = call.args[5];
        if rwf & libc::RWF_SYNC as u64 != 0 {
            return WriteSync::Full;
        }
        if rwf & libc::RWF_DSYNC as u64 != 0 {
            return WriteSync::Data;
        }
    }
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|octal| u64::from_str_radix(octal.trim(), 8).ok())
        .unwrap_or(0);
    sync_of_open_flags(flags)
}

/// The inode a path names now, without following a final symlink.
fn inode_of(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

/// `#<ino>` names a file without a name.
fn unnamed_ino(shown: &str) -> Option<u64> {
    shown.strip_prefix('#')?.parse().ok()
}

/// Where the `len` bytes just written landed, read at the exit stop.
fn write_offset(pid: Pid, call: &Call, write: &WriteCall, len: u64) -> Result<u64, TraceError> {
    let a = &call.args;
    let info = FdInfo::read(pid, write.fd)?;
    let append = info.flags & libc::O_APPEND as u64 != 0
        || (call.sys == Sys::Pwritev2 && a[5] & RWF_APPEND != 0);
    if append {
        let size = std::fs::metadata(format!("/proc/{pid}/fd/{}", write.fd))
            .map_err(|source| inspect(pid.as_raw(), "the size of the written file", source))?
            .len();
        return Ok(size.saturating_sub(len));
    }
    let explicit = if matches!(call.sys, Sys::Pwrite64 | Sys::Pwritev)
        || (call.sys == Sys::Pwritev2 && a[3] as i64 != -1)
    {
        Some(a[3])
    } else if call.sys == Sys::CopyFileRange && a[3] != 0 {
        // The kernel advanced *off_out past the bytes it wrote.
        let mut updated = [0u8; 8];
        let got = sys::read_memory(pid, a[3], &mut updated).unwrap_or(0);
        (got == 8).then(|| u64::from_ne_bytes(updated).saturating_sub(len))
    } else {
        None
    };
    Ok(explicit.unwrap_or(info.pos.saturating_sub(len)))
}

/// The bytes a write put into the file.
fn written_data(
    pid: Pid,
    call: &Call,
    write: &WriteCall,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, TraceError> {
    let mut data = vec![0u8; len as usize];
    let filled = match (&write.iov, call.sys) {
        (Some(iov), _) => gather(pid, &iov.entries, &mut data),
        (None, Sys::CopyFileRange | Sys::Sendfile) => read_back(pid, write.fd, offset, &mut data)?,
        (None, _) => sys::read_memory(pid, call.args[1], &mut data).unwrap_or(0),
    };
    if filled != data.len() {
        let what = format!(
            "the {len} bytes written by {} (got {filled})",
            call.sys.name()
        );
        return Err(inspect(
            pid.as_raw(),
            &what,
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        ));
    }
    Ok(data)
}

fn gather(pid: Pid, entries: &[(u64, u64)], out: &mut [u8]) -> usize {
    let mut filled = 0;
    for &(base, len) in entries {
        if filled == out.len() {
            break;
        }
        let take = (len as usize).min(out.len() - filled);
        let got = sys::read_memory(pid, base, &mut out[filled..filled + take]).unwrap_or(0);
        filled += got;
        if got < take {
            break;
        }
    }
    filled
}

/// Data moved kernel-side (`copy_file_range`, `sendfile`) is read back from the file itself.
fn read_back(pid: Pid, fd: i64, offset: u64, out: &mut [u8]) -> Result<usize, TraceError> {
    let file = File::open(format!("/proc/{pid}/fd/{fd}")).map_err(|source| {
        inspect(
            pid.as_raw(),
            "the file written by copy_file_range/sendfile",
            source,
        )
    })?;
    file.read_exact_at(out, offset).map_err(|source| {
        inspect(
            pid.as_raw(),
            "the bytes written by copy_file_range/sendfile",
            source,
        )
    })?;
    Ok(out.len())
}

/// The `pos` and `flags` lines of `/proc/<pid>/fdinfo/<fd>`.
struct FdInfo {
    pos: u64,
    flags: u64,
}

impl FdInfo {
    fn read(pid: Pid, fd: i64) -> Result<FdInfo, TraceError> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .map_err(|source| inspect(pid.as_raw(), "fdinfo", source))?;
        let field = |name: &str, radix: u32| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), radix).ok())
        };
        match (field("pos:", 10), field("flags:", 8)) {
            (Some(pos), Some(flags)) => Ok(FdInfo { pos, flags }),
            _ => Err(inspect(
                pid.as_raw(),
                "fdinfo",
                std::io::Error::other(format!("unexpected content: {text}")),
            )),
        }
    }
}

fn inspect(pid: i32, what: &str, source: std::io::Error) -> TraceError {
    TraceError::Inspect {
        pid,
        what: what.to_owned(),
        source,
    }
}
