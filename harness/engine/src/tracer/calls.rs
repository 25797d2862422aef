//! Decoding the arguments of a stopped syscall: which sandbox file it writes, and where a boundary
//! syscall acts. Golden runs and kill trials use these same functions, so both see the same
//! kill-point space.

use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use super::engine::{Call, Ctx};
use super::resolve::{FdFile, FileKind, PathArg};
use super::syscalls::{Role, Sys};
use crate::sys;

/// A write-family call on a regular file in the sandbox.
#[derive(Debug, Clone)]
pub struct WriteCall {
    /// The fd written to.
    pub fd: i64,
    pub file: FdFile,
    /// Bytes the call asks to write.
    pub requested: u64,
    /// For `writev`-like calls: the iovec array (address, (base, len) pairs).
    pub iov: Option<Iovecs>,
}

/// The iovec array of a vectored write.
#[derive(Debug, Clone)]
pub struct Iovecs {
    pub addr: u64,
    pub entries: Vec<(u64, u64)>,
}

/// Largest iovcnt the kernel accepts (`UIO_MAXIOV`); more fails with EINVAL.
const UIO_MAXIOV: u64 = 1024;
const IOVEC_BYTES: usize = 16;

/// The fd a write-family syscall writes to.
fn written_fd(call: &Call) -> i64 {
    if call.sys == Sys::CopyFileRange {
        call.fd_arg(2)
    } else {
        call.fd_arg(0)
    }
}

/// The write-family call at `call`, if it writes a regular file under the sandbox.
pub fn write_call(ctx: &Ctx<'_>, pid: Pid, call: &Call) -> Option<WriteCall> {
    if call.sys.role() != Role::Write {
        return None;
    }
    let fd = written_fd(call);
    let file = ctx
        .resolver
        .fd_file(pid, fd)
        .filter(|f| f.kind == FileKind::Regular)?;
    let vectored = matches!(call.sys, Sys::Writev | Sys::Pwritev | Sys::Pwritev2);
    let (requested, iov) = if vectored {
        let iov = read_iovecs(pid, call.args[1], call.args[2]);
        let total = iov.as_ref().map_or(0, |v| {
            v.entries
                .iter()
                .map(|e| e.1)
                .fold(0u64, u64::saturating_add)
        });
        (total, iov)
    } else {
        (call.args[count_arg(call.sys)], None)
    };
    Some(WriteCall {
        fd,
        file,
        requested,
        iov,
    })
}

/// The argument holding the byte count of a non-vectored write (`write`, `pwrite64`: the third).
pub fn count_arg(sys: Sys) -> usize {
    if sys == Sys::CopyFileRange {
        4
    } else if sys == Sys::Sendfile {
        3
    } else {
        2
    }
}

/// Reads an iovec array; `None` when the kernel will reject it (EFAULT, EINVAL) anyway.
pub fn read_iovecs(pid: Pid, addr: u64, count: u64) -> Option<Iovecs> {
    if count > UIO_MAXIOV {
        return None;
    }
    let mut raw = vec![0u8; count as usize * IOVEC_BYTES];
    let got = sys::read_memory(pid, addr, &mut raw).ok()?;
    if got != raw.len() {
        return None;
    }
    let entries = raw
        .chunks_exact(IOVEC_BYTES)
        .map(|e| {
            let word = |i: usize| u64::from_ne_bytes(e[i..i + 8].try_into().unwrap_or([0; 8]));
            (word(0), word(8))
        })
        .collect();
    Some(Iovecs { addr, entries })
}

/// One path a boundary syscall names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Relative to the sandbox when inside it, else absolute.
    pub shown: String,
    pub abs: PathBuf,
    pub inside: bool,
}

/// Where a boundary (or record-only) syscall acts, when that is on the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// An fd on a sandbox file or directory.
    File(FdFile),
    /// One path inside the sandbox.
    Path(Place),
    /// Two paths (rename, link), at least one inside.
    Pair { from: Place, to: Place },
    /// `sync`, or `syncfs` (of the sandbox's file system when `fs_of` names a sandbox file).
    Global { fs_of: Option<String> },
}

impl Site {
    /// The path shown in a [`torture_core::killpoint::Boundary`].
    pub fn label(&self) -> String {
        match self {
            Site::File(file) => file.rel.clone(),
            Site::Path(place) => place.shown.clone(),
            Site::Pair { from, to } => format!("{} -> {}", from.shown, to.shown),
            Site::Global { fs_of: Some(path) } => path.clone(),
            Site::Global { fs_of: None } => "(whole file system)".to_owned(),
        }
    }
}

/// Where `call` acts, if it is a boundary or record-only syscall on the sandbox.
pub fn site(ctx: &Ctx<'_>, pid: Pid, call: &Call) -> Option<Site> {
    let one = |dirfd: Option<usize>, path: usize| one_path(ctx, pid, call, dirfd, path);
    let pair = |from: (Option<usize>, usize), to: (Option<usize>, usize)| {
        let from = place(ctx, pid, call, from.0, from.1)?;
        let to = place(ctx, pid, call, to.0, to.1)?;
        (from.inside || to.inside).then_some(Site::Pair { from, to })
    };
    let fd_file = |index: usize| {
        ctx.resolver
            .fd_file(pid, call.fd_arg(index))
            .map(Site::File)
    };
    match call.sys {
        Sys::Open
        | Sys::Creat
        | Sys::Unlink
        | Sys::Rmdir
        | Sys::Mkdir
        | Sys::Truncate
        | Sys::Chmod
        | Sys::Chown
        | Sys::Lchown => one(None, 0),
        Sys::Openat | Sys::Openat2 | Sys::Unlinkat | Sys::Mkdirat => one(Some(0), 1),
        Sys::Fchmodat | Sys::Fchmodat2 | Sys::Fchownat => at_path(ctx, pid, call),
        Sys::Symlink => one(None, 1),
        Sys::Symlinkat => one(Some(1), 2),
        Sys::Rename | Sys::Link => pair((None, 0), (None, 1)),
        Sys::Renameat | Sys::Renameat2 => pair((Some(0), 1), (Some(2), 3)),
        Sys::Linkat => link_site(ctx, pid, call),
        Sys::Fsync
        | Sys::Fdatasync
        | Sys::Ftruncate
        | Sys::Fallocate
        | Sys::Close
        | Sys::SyncFileRange
        | Sys::Fchmod
        | Sys::Fchown => fd_file(0),
        Sys::Mmap => fd_file(4),
        Sys::Sync | Sys::Msync | Sys::IoUringSetup => Some(Site::Global { fs_of: None }),
        Sys::Syncfs => {
            let fs_of = ctx
                .resolver
                .fd_file(pid, call.fd_arg(0))
                .map(|file| file.rel);
            Some(Site::Global { fs_of })
        }
        Sys::Write
        | Sys::Pwrite64
        | Sys::Writev
        | Sys::Pwritev
        | Sys::Pwritev2
        | Sys::CopyFileRange
        | Sys::Sendfile => None,
    }
}

/// A `*at` call on (dirfd, path); `fchmodat2`/`fchownat` with an empty path and `AT_EMPTY_PATH`
/// act on the file behind the dirfd itself.
fn at_path(ctx: &Ctx<'_>, pid: Pid, call: &Call) -> Option<Site> {
    match ctx.resolver.path_arg(pid, call.fd_arg(0), call.args[1])? {
        PathArg::Abs(abs) => {
            let place = to_place(ctx, abs);
            place.inside.then_some(Site::Path(place))
        }
        PathArg::Empty => ctx.resolver.fd_file(pid, call.fd_arg(0)).map(Site::File),
    }
}

/// A change `call` makes outside the sandbox, as `openat /tmp/x.json` (for an open: only one
/// that can write, create or truncate). Devices (except `/dev/shm`), `/proc` and `/sys` are not
/// files a writer publishes, and are left out. `None` for calls that change nothing outside.
pub fn outside_write(ctx: &Ctx<'_>, pid: Pid, call: &Call, open_flags: u64) -> Option<String> {
    let writes =
        open_flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u64;
    let paths: &[(Option<usize>, usize)] = match call.sys {
        Sys::Open | Sys::Creat | Sys::Openat | Sys::Openat2 if writes == 0 => &[],
        Sys::Open | Sys::Creat => &[(None, 0)],
        Sys::Openat | Sys::Openat2 => &[(Some(0), 1)],
        Sys::Unlink
        | Sys::Rmdir
        | Sys::Mkdir
        | Sys::Truncate
        | Sys::Chmod
        | Sys::Chown
        | Sys::Lchown => &[(None, 0)],
        Sys::Unlinkat | Sys::Mkdirat | Sys::Fchmodat | Sys::Fchmodat2 | Sys::Fchownat => {
            &[(Some(0), 1)]
        }
        Sys::Symlink => &[(None, 1)],
        Sys::Symlinkat => &[(Some(1), 2)],
        Sys::Rename | Sys::Link => &[(None, 0), (None, 1)],
        Sys::Renameat | Sys::Renameat2 => &[(Some(0), 1), (Some(2), 3)],
        Sys::Linkat => &[(Some(2), 3)],
        // Calls on fds name no path: a file opened outside was seen at its open.
        Sys::Write
        | Sys::Pwrite64
        | Sys::Writev
        | Sys::Pwritev
        | Sys::Pwritev2
        | Sys::CopyFileRange
        | Sys::Sendfile
        | Sys::Fsync
        | Sys::Fdatasync
        | Sys::Sync
        | Sys::Syncfs
        | Sys::SyncFileRange
        | Sys::Msync
        | Sys::Ftruncate
        | Sys::Fallocate
        | Sys::Close
        | Sys::Fchmod
        | Sys::Fchown
        | Sys::Mmap
        | Sys::IoUringSetup => &[],
    };
    paths
        .iter()
        .filter_map(|(dirfd, path)| place(ctx, pid, call, *dirfd, *path))
        .find(|place| !place.inside && !is_system_path(&place.abs))
        .map(|place| format!("{} {}", call.sys.name(), place.abs.display()))
}

/// Devices, `/proc` and `/sys`: a writer's `/dev/null` or `/proc/self/...` is not an output.
/// `/dev/shm` is: it holds files (POSIX shared memory, and anything a writer puts there).
fn is_system_path(path: &Path) -> bool {
    let system = ["/dev", "/proc", "/sys"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    system && !path.starts_with("/dev/shm")
}

/// `linkat(olddirfd, "", ..., AT_EMPTY_PATH)` links the file behind `olddirfd` itself.
fn link_site(ctx: &Ctx<'_>, pid: Pid, call: &Call) -> Option<Site> {
    let to = place(ctx, pid, call, Some(2), 3)?;
    let from = match ctx.resolver.path_arg(pid, call.fd_arg(0), call.args[1])? {
        PathArg::Abs(abs) => to_place(ctx, abs),
        PathArg::Empty => {
            let file = ctx.resolver.fd_file(pid, call.fd_arg(0));
            let abs = ctx.resolver.fd_abs(pid, call.fd_arg(0))?;
            match file {
                Some(file) => Place {
                    shown: file.rel,
                    abs,
                    inside: true,
                },
                None => to_place(ctx, abs),
            }
        }
    };
    (from.inside || to.inside).then_some(Site::Pair { from, to })
}

fn one_path(
    ctx: &Ctx<'_>,
    pid: Pid,
    call: &Call,
    dirfd: Option<usize>,
    path: usize,
) -> Option<Site> {
    let place = place(ctx, pid, call, dirfd, path)?;
    place.inside.then_some(Site::Path(place))
}

fn place(ctx: &Ctx<'_>, pid: Pid, call: &Call, dirfd: Option<usize>, path: usize) -> Option<Place> {
    let dirfd = dirfd.map_or(i64::from(libc::AT_FDCWD), |i| call.fd_arg(i));
    match ctx.resolver.path_arg(pid, dirfd, call.args[path])? {
        PathArg::Abs(abs) => Some(to_place(ctx, abs)),
        PathArg::Empty => None,
    }
}

fn to_place(ctx: &Ctx<'_>, abs: PathBuf) -> Place {
    match ctx.resolver.relative(&abs) {
        Some(rel) => Place {
            shown: rel,
            abs,
            inside: true,
        },
        None => Place {
            shown: abs.to_string_lossy().into_owned(),
            abs,
            inside: false,
        },
    }
}
