//! The syscalls the tracer stops on (x86_64 numbering), what each one is for, and which filter a
//! run installs.

use crate::sys::{FilterError, SeccompFilter};

/// A traced syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sys {
    Write,
    Pwrite64,
    Writev,
    Pwritev,
    Pwritev2,
    CopyFileRange,
    Sendfile,
    Open,
    Openat,
    Openat2,
    Creat,
    Rename,
    Renameat,
    Renameat2,
    Link,
    Linkat,
    Symlink,
    Symlinkat,
    Unlink,
    Unlinkat,
    Rmdir,
    Mkdir,
    Mkdirat,
    Fsync,
    Fdatasync,
    Sync,
    Syncfs,
    SyncFileRange,
    Msync,
    Ftruncate,
    Truncate,
    Fallocate,
    Close,
    Chmod,
    Fchmod,
    Fchmodat,
    Fchmodat2,
    Chown,
    Fchown,
    Lchown,
    Fchownat,
    Mmap,
    IoUringSetup,
}

/// What a syscall means to the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Writes bytes to a file: counted, and where byte kill points live.
    Write,
    /// A syscall boundary kill point (before and after) when it acts on the sandbox.
    Boundary,
    /// Only recorded in the golden trace (`sync_file_range`, `msync`, `mmap`, `io_uring_setup`,
    /// the `chmod` and `chown` families): no kill point, but an event a fault can name.
    RecordOnly,
}

impl Sys {
    /// Every traced syscall.
    pub const ALL: [Sys; 43] = [
        Sys::Write,
        Sys::Pwrite64,
        Sys::Writev,
        Sys::Pwritev,
        Sys::Pwritev2,
        Sys::CopyFileRange,
        Sys::Sendfile,
        Sys::Open,
        Sys::Openat,
        Sys::Openat2,
        Sys::Creat,
        Sys::Rename,
        Sys::Renameat,
        Sys::Renameat2,
        Sys::Link,
        Sys::Linkat,
        Sys::Symlink,
        Sys::Symlinkat,
        Sys::Unlink,
        Sys::Unlinkat,
        Sys::Rmdir,
        Sys::Mkdir,
        Sys::Mkdirat,
        Sys::Fsync,
        Sys::Fdatasync,
        Sys::Sync,
        Sys::Syncfs,
        Sys::SyncFileRange,
        Sys::Msync,
        Sys::Ftruncate,
        Sys::Truncate,
        Sys::Fallocate,
        Sys::Close,
        Sys::Chmod,
        Sys::Fchmod,
        Sys::Fchmodat,
        Sys::Fchmodat2,
        Sys::Chown,
        Sys::Fchown,
        Sys::Lchown,
        Sys::Fchownat,
        Sys::Mmap,
        Sys::IoUringSetup,
    ];

    /// The x86_64 syscall number.
    pub fn nr(self) -> i64 {
        match self {
            Sys::Write => libc::SYS_write,
            Sys::Pwrite64 => libc::SYS_pwrite64,
            Sys::Writev => libc::SYS_writev,
            Sys::Pwritev => libc::SYS_pwritev,
            Sys::Pwritev2 => libc::SYS_pwritev2,
            Sys::CopyFileRange => libc::SYS_copy_file_range,
            Sys::Sendfile => libc::SYS_sendfile,
            Sys::Open => libc::SYS_open,
            Sys::Openat => libc::SYS_openat,
            Sys::Openat2 => libc::SYS_openat2,
            Sys::Creat => libc::SYS_creat,
            Sys::Rename => libc::SYS_rename,
            Sys::Renameat => libc::SYS_renameat,
            Sys::Renameat2 => libc::SYS_renameat2,
            Sys::Link => libc::SYS_link,
            Sys::Linkat => libc::SYS_linkat,
            Sys::Symlink => libc::SYS_symlink,
            Sys::Symlinkat => libc::SYS_symlinkat,
            Sys::Unlink => libc::SYS_unlink,
            Sys::Unlinkat => libc::SYS_unlinkat,
            Sys::Rmdir => libc::SYS_rmdir,
            Sys::Mkdir => libc::SYS_mkdir,
            Sys::Mkdirat => libc::SYS_mkdirat,
            Sys::Fsync => libc::SYS_fsync,
            Sys::Fdatasync => libc::SYS_fdatasync,
            Sys::Sync => libc::SYS_sync,
            Sys::Syncfs => libc::SYS_syncfs,
            Sys::SyncFileRange => libc::SYS_sync_file_range,
            Sys::Msync => libc::SYS_msync,
            Sys::Ftruncate => libc::SYS_ftruncate,
            Sys::Truncate => libc::SYS_truncate,
            Sys::Fallocate => libc::SYS_fallocate,
            Sys::Close => libc::SYS_close,
            Sys::Chmod => libc::SYS_chmod,
            Sys::Fchmod => libc::SYS_fchmod,
            Sys::Fchmodat => libc::SYS_fchmodat,
            Sys::Fchmodat2 => libc::SYS_fchmodat2,
            Sys::Chown => libc::SYS_chown,
            Sys::Fchown => libc::SYS_fchown,
            Sys::Lchown => libc::SYS_lchown,
            Sys::Fchownat => libc::SYS_fchownat,
            Sys::Mmap => libc::SYS_mmap,
            Sys::IoUringSetup => libc::SYS_io_uring_setup,
        }
    }

    /// The syscall for a number seen at a seccomp stop.
    pub fn from_nr(nr: i64) -> Option<Sys> {
        Sys::ALL.into_iter().find(|sys| sys.nr() == nr)
    }

    /// The name in `<asm/unistd_64.h>`, as the trace writes it.
    pub fn name(self) -> &'static str {
        match self {
            Sys::Write => "write",
            Sys::Pwrite64 => "pwrite64",
            Sys::Writev => "writev",
            Sys::Pwritev => "pwritev",
            Sys::Pwritev2 => "pwritev2",
            Sys::CopyFileRange => "copy_file_range",
            Sys::Sendfile => "sendfile",
            Sys::Open => "open",
            Sys::Openat => "openat",
            Sys::Openat2 => "openat2",
            Sys::Creat => "creat",
            Sys::Rename => "rename",
            Sys::Renameat => "renameat",
            Sys::Renameat2 => "renameat2",
            Sys::Link => "link",
            Sys::Linkat => "linkat",
            Sys::Symlink => "symlink",
            Sys::Symlinkat => "symlinkat",
            Sys::Unlink => "unlink",
            Sys::Unlinkat => "unlinkat",
            Sys::Rmdir => "rmdir",
            Sys::Mkdir => "mkdir",
            Sys::Mkdirat => "mkdirat",
            Sys::Fsync => "fsync",
            Sys::Fdatasync => "fdatasync",
            Sys::Sync => "sync",
            Sys::Syncfs => "syncfs",
            Sys::SyncFileRange => "sync_file_range",
            Sys::Msync => "msync",
            Sys::Ftruncate => "ftruncate",
            Sys::Truncate => "truncate",
            Sys::Fallocate => "fallocate",
            Sys::Close => "close",
            Sys::Chmod => "chmod",
            Sys::Fchmod => "fchmod",
            Sys::Fchmodat => "fchmodat",
            Sys::Fchmodat2 => "fchmodat2",
            Sys::Chown => "chown",
            Sys::Fchown => "fchown",
            Sys::Lchown => "lchown",
            Sys::Fchownat => "fchownat",
            Sys::Mmap => "mmap",
            Sys::IoUringSetup => "io_uring_setup",
        }
    }

    /// What the syscall is for.
    pub fn role(self) -> Role {
        match self {
            Sys::Write
            | Sys::Pwrite64
            | Sys::Writev
            | Sys::Pwritev
            | Sys::Pwritev2
            | Sys::CopyFileRange
            | Sys::Sendfile => Role::Write,
            Sys::Open
            | Sys::Openat
            | Sys::Openat2
            | Sys::Creat
            | Sys::Rename
            | Sys::Renameat
            | Sys::Renameat2
            | Sys::Link
            | Sys::Linkat
            | Sys::Symlink
            | Sys::Symlinkat
            | Sys::Unlink
            | Sys::Unlinkat
            | Sys::Rmdir
            | Sys::Mkdir
            | Sys::Mkdirat
            | Sys::Fsync
            | Sys::Fdatasync
            | Sys::Sync
            | Sys::Syncfs
            | Sys::Ftruncate
            | Sys::Truncate
            | Sys::Fallocate
            | Sys::Close
            // Stores through a shared mapping are invisible to the tracer; `msync` is where a
            // mapped writer says its pages are done, so it is where such a writer is killed.
            | Sys::Msync => Role::Boundary,
            Sys::SyncFileRange
            | Sys::Mmap
            | Sys::IoUringSetup
            | Sys::Chmod
            | Sys::Fchmod
            | Sys::Fchmodat
            | Sys::Fchmodat2
            | Sys::Chown
            | Sys::Fchown
            | Sys::Lchown
            | Sys::Fchownat => Role::RecordOnly,
        }
    }
}

/// Which syscalls a run stops on. Each kind of run stops only where it must: a byte-kill trial
/// never stops at an `openat`, a boundary trial never at a `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stops {
    /// Everything (the golden run).
    All,
    /// The write family only.
    Writes,
    /// Boundary syscalls only.
    Boundaries,
}

impl Stops {
    /// The seccomp filter for this kind of run.
    pub fn filter(self) -> Result<SeccompFilter, FilterError> {
        let wanted = |sys: &Sys| match self {
            Stops::All => *sys != Sys::Mmap, // mmap has its own check on prot and flags
            Stops::Writes => sys.role() == Role::Write,
            Stops::Boundaries => sys.role() == Role::Boundary,
        };
        let traced: Vec<i64> = Sys::ALL
            .iter()
            .filter(|s| wanted(s))
            .map(|s| s.nr())
            .collect();
        let mmap = (self == Stops::All).then_some(libc::SYS_mmap);
        SeccompFilter::trace(&traced, mmap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_distinct_and_round_trip() {
        for sys in Sys::ALL {
            assert_eq!(Sys::from_nr(sys.nr()), Some(sys), "{}", sys.name());
        }
        let mut names: Vec<_> = Sys::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Sys::ALL.len());
        assert_eq!(Sys::from_nr(libc::SYS_read), None);
    }

    #[test]
    fn names_match_the_trace_format() {
        use torture_core::trace::Op;
        let ops = [
            Op::Sync,
            Op::Unlink {
                path: ".".into(),
                ino: None,
            },
            Op::Rename {
                from: ".".into(),
                to: ".".into(),
                noreplace: false,
                exchange: false,
                from_ino: None,
                to_ino: None,
            },
        ];
        let known: Vec<&str> = ops
            .iter()
            .flat_map(|op| op.syscalls().iter().copied())
            .collect();
        for name in known {
            assert!(
                Sys::ALL.iter().any(|s| s.name() == name),
                "{name} is not traced"
            );
        }
    }

    #[test]
    fn the_spawned_childs_own_syscalls_are_never_traced() {
        // `sys::spawn_traced`'s child installs the filter before its tracer has set any option,
        // so a traced syscall would fail with ENOSYS there; a traced `_exit` would even stop the
        // child for a parent that CLONE_VFORK keeps asleep (a deadlock). Every filter traces
        // only members of `Sys::ALL` (and mmap), so none of these may ever join it.
        let needed_untraced = [
            libc::SYS_execve,
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_rt_sigaction,
            libc::SYS_rt_sigprocmask,
        ];
        for sys in Sys::ALL {
            assert!(
                !needed_untraced.contains(&sys.nr()),
                "{} must stay untraced",
                sys.name()
            );
        }
    }

    #[test]
    fn filters_differ_in_size_by_kind() {
        let all = Stops::All.filter().unwrap().len();
        let writes = Stops::Writes.filter().unwrap().len();
        let boundaries = Stops::Boundaries.filter().unwrap().len();
        assert!(
            writes < boundaries && boundaries < all,
            "{writes} {boundaries} {all}"
        );
    }
}
