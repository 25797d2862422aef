//! Which file a syscall acts on, and whether it lies in the sandbox.
//!
//! File descriptors are resolved through `/proc/<tid>/fd/<fd>` at the stop (no cache: a cache
//! would have to follow `dup2`, `fcntl(F_DUPFD)` and exec, which are not traced, and a readlink
//! costs a few microseconds). Path arguments are read from tracee memory and made absolute
//! against their directory fd or the thread's cwd, then normalised lexically.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::unistd::Pid;

use crate::sys;

/// The kind of file an fd refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Other,
}

/// A sandbox file an fd refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdFile {
    /// Path relative to the sandbox; `#<ino>` when the file has no name (O_TMPFILE, unlinked).
    pub rel: String,
    pub ino: u64,
    pub kind: FileKind,
}

/// Where a path argument points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathArg {
    /// An empty string (meaningful with `AT_EMPTY_PATH`).
    Empty,
    /// Absolute and normalised.
    Abs(PathBuf),
}

/// Resolves fds and paths of one sandbox.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// The sandbox as the kernel names it (symlinks resolved): `/proc` links start with this.
    canon: PathBuf,
    /// The sandbox as the caller named it: absolute path arguments may start with this.
    given: PathBuf,
}

/// Longest path the kernel accepts (`PATH_MAX`, including the NUL).
const PATH_MAX: usize = 4096;
const PAGE_BYTES: u64 = 4096;

impl Resolver {
    /// A resolver for `sandbox`, which must exist.
    pub fn new(sandbox: &Path) -> io::Result<Resolver> {
        let canon = std::fs::canonicalize(sandbox)?;
        let given = if sandbox.is_absolute() {
            normalise(sandbox)
        } else {
            normalise(&std::env::current_dir()?.join(sandbox))
        };
        Ok(Resolver { canon, given })
    }

    /// The sandbox, symlinks resolved.
    pub fn sandbox(&self) -> &Path {
        &self.canon
    }

    /// `abs` relative to the sandbox (`.` for the sandbox itself), or `None` outside it.
    pub fn relative(&self, abs: &Path) -> Option<String> {
        let rest = abs
            .strip_prefix(&self.canon)
            .or_else(|_| abs.strip_prefix(&self.given))
            .ok()?;
        Some(if rest.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            rest.to_string_lossy().into_owned()
        })
    }

    /// The sandbox file `fd` of `pid` refers to, or `None` (not open, or outside the sandbox).
    pub fn fd_file(&self, pid: Pid, fd: i64) -> Option<FdFile> {
        let link = fd_link(pid, fd)?;
        let target = std::fs::read_link(&link).ok()?;
        let (named, deleted) = strip_deleted(&target);
        let rel = self.relative(named)?;
        let meta = std::fs::metadata(&link).ok()?;
        let kind = file_kind(&meta.file_type());
        let rel = if deleted && meta.nlink() == 0 {
            format!("#{}", meta.ino())
        } else {
            rel
        };
        Some(FdFile {
            rel,
            ino: meta.ino(),
            kind,
        })
    }

    /// The absolute path `fd` of `pid` refers to, wherever it is.
    pub fn fd_abs(&self, pid: Pid, fd: i64) -> Option<PathBuf> {
        std::fs::read_link(fd_link(pid, fd)?).ok()
    }

    /// Reads the path argument at `addr` and makes it absolute against `dirfd` (or the cwd for
    /// `AT_FDCWD`). `None` when the memory cannot be read or the directory fd is not open: the
    /// syscall then fails on its own (EFAULT, EBADF) and acts on nothing.
    pub fn path_arg(&self, pid: Pid, dirfd: i64, addr: u64) -> Option<PathArg> {
        let raw = read_c_string(pid, addr)?;
        if raw.is_empty() {
            return Some(PathArg::Empty);
        }
        let raw = Path::new(OsStr::from_bytes(&raw));
        let abs = if raw.is_absolute() {
            normalise(raw)
        } else {
            normalise(&self.dir_of(pid, dirfd)?.join(raw))
        };
        Some(PathArg::Abs(proc_fd_target(pid, abs)))
    }

    /// A NUL-terminated string argument (a symlink's target text), lossily as UTF-8.
    pub fn read_string(&self, pid: Pid, addr: u64) -> Option<String> {
        read_c_string(pid, addr).map(|raw| String::from_utf8_lossy(&raw).into_owned())
    }

    /// The directory a relative path argument starts from.
    pub fn dir_of(&self, pid: Pid, dirfd: i64) -> Option<PathBuf> {
        if dirfd == i64::from(libc::AT_FDCWD) {
            std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
        } else {
            self.fd_abs(pid, dirfd)
        }
    }
}

fn fd_link(pid: Pid, fd: i64) -> Option<PathBuf> {
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    Some(PathBuf::from(format!("/proc/{pid}/fd/{fd}")))
}

fn file_kind(file_type: &std::fs::FileType) -> FileKind {
    if file_type.is_file() {
        FileKind::Regular
    } else if file_type.is_dir() {
        FileKind::Directory
    } else {
        FileKind::Other
    }
}

/// `/proc` shows an unlinked file as `<path> (deleted)`.
fn strip_deleted(target: &Path) -> (&Path, bool) {
    match target.as_os_str().as_bytes().strip_suffix(b" (deleted)") {
        Some(named) => (Path::new(OsStr::from_bytes(named)), true),
        None => (target, false),
    }
}

/// `/proc/self/fd/N` (and `/proc/thread-self/fd/N`, `/proc/<pid>/fd/N`) name the file behind an
/// fd: `linkat` with `AT_SYMLINK_FOLLOW` publishes an `O_TMPFILE` file that way.
fn proc_fd_target(pid: Pid, abs: PathBuf) -> PathBuf {
    let parts: Vec<&OsStr> = abs.components().skip(1).map(|c| c.as_os_str()).collect();
    let is_fd_link = parts.len() == 4
        && parts[0] == "proc"
        && parts[2] == "fd"
        && parts[3].as_bytes().iter().all(u8::is_ascii_digit);
    if !is_fd_link {
        return abs;
    }
    // self and thread-self mean the tracee, not us.
    let link = if parts[1] == "self" || parts[1] == "thread-self" {
        PathBuf::from(format!("/proc/{pid}/fd/{}", parts[3].to_string_lossy()))
    } else {
        abs.clone()
    };
    match std::fs::read_link(&link) {
        Ok(target) => strip_deleted(&target).0.to_path_buf(),
        Err(_) => abs,
    }
}

/// Lexical normalisation: drops `.`, applies `..`. The starting directory came from `/proc` and
/// has no symlinks; a `..` after a symlink inside the argument is taken lexically.
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
        }
    }
    out
}

/// Reads a NUL-terminated string of at most `PATH_MAX` bytes, page by page (a read across into an
/// unmapped page would fail as a whole).
fn read_c_string(pid: Pid, addr: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = [0u8; PAGE_BYTES as usize];
    let mut at = addr;
    while out.len() < PATH_MAX {
        let to_page_end = (PAGE_BYTES - at % PAGE_BYTES) as usize;
        let got = sys::read_memory(pid, at, &mut chunk[..to_page_end]).ok()?;
        if got == 0 {
            return None;
        }
        if let Some(nul) = chunk[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Some(out);
        }
        out.extend_from_slice(&chunk[..got]);
        at += got as u64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_applies_dots_lexically() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalise(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalise(Path::new("/a/b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn relative_accepts_both_spellings_of_the_sandbox() {
        let dir = std::env::temp_dir().join(format!("intact-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let resolver = Resolver::new(&link).unwrap();
        assert_eq!(
            resolver.relative(&dir.join("t.json")).as_deref(),
            Some("t.json")
        );
        assert_eq!(resolver.relative(&link.join("a/b")).as_deref(), Some("a/b"));
        assert_eq!(resolver.relative(&link).as_deref(), Some("."));
        assert_eq!(resolver.relative(Path::new("/etc/passwd")), None);
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn strip_deleted_only_strips_the_suffix() {
        assert_eq!(
            strip_deleted(Path::new("/s/#12 (deleted)")),
            (Path::new("/s/#12"), true)
        );
        assert_eq!(strip_deleted(Path::new("/s/a")), (Path::new("/s/a"), false));
    }

    #[test]
    fn fd_file_and_path_arg_resolve_in_our_own_process() {
        let dir = std::env::temp_dir().join(format!("intact-resolve-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join("f")).unwrap();
        let resolver = Resolver::new(&dir).unwrap();
        let me = nix::unistd::Pid::this();
        use std::os::fd::AsRawFd;
        let found = resolver.fd_file(me, i64::from(file.as_raw_fd())).unwrap();
        assert_eq!((found.rel.as_str(), found.kind), ("f", FileKind::Regular));
        std::fs::remove_file(dir.join("f")).unwrap();
        let unnamed = resolver.fd_file(me, i64::from(file.as_raw_fd())).unwrap();
        assert_eq!(unnamed.rel, format!("#{}", found.ino));
        let c_path = std::ffi::CString::new(dir.join("x/../y").as_os_str().as_bytes()).unwrap();
        let arg = resolver.path_arg(me, i64::from(libc::AT_FDCWD), c_path.as_ptr() as u64);
        assert_eq!(arg, Some(PathArg::Abs(dir.join("y"))));
        drop(file);
        std::fs::remove_dir(&dir).unwrap();
    }
}
