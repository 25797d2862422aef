//! [`Options::create_parents`](crate::Options::create_parents): missing parent directories,
//! created top down and made durable one by one.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::error::os_error;

/// Permission bits of a new directory before the umask (or default ACL), as `create_dir` uses.
const NEW_DIR_MODE: u32 = 0o777;

/// Creates the missing directories above `path` (the target file), outermost first. With
/// `sync`, each one's parent is `fsync`ed after the `mkdir`, before the next one is made, so
/// a power cut never keeps a directory whose parent lost its entry.
///
/// A directory that appears meanwhile (another writer's `mkdir`, `EEXIST`) is taken as it is,
/// and its parent is still synced: that writer may not have.
pub(crate) fn create_parents(path: &Path, sync: bool) -> io::Result<()> {
    for dir in missing_parents(path) {
        // A path ending in `..` has no name: the next `mkdir` below it says what is wrong.
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            continue;
        };
        let parent = match parent.as_os_str().is_empty() {
            true => Path::new("."),
            false => parent,
        };
        make_dir(parent, name, &dir, sync)?;
    }
    Ok(())
}

/// The ancestors of `path`'s parent that do not exist, outermost first.
fn missing_parents(path: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = path
        .ancestors()
        .skip(1)
        .filter(|dir| !dir.as_os_str().is_empty())
        .take_while(|dir| matches!(std::fs::metadata(dir), Err(error) if error.kind() == io::ErrorKind::NotFound))
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

/// `mkdirat(parent, name)`, then `fsync(parent)` when `sync`.
fn make_dir(parent: &Path, name: &OsStr, dir: &Path, sync: bool) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let parent_fd = rustix::fs::openat(CWD, parent, flags, Mode::empty()).map_err(|errno| {
        os_error(
            errno,
            format_args!(
                "open {} to create {} in it",
                parent.display(),
                dir.display()
            ),
        )
    })?;
    match rustix::fs::mkdirat(&parent_fd, name, crate::sys::mode(NEW_DIR_MODE)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => {
            let message = format_args!("create parent directory {}", dir.display());
            return Err(os_error(errno, message));
        }
    }
    if sync {
        rustix::fs::fsync(&parent_fd).map_err(|errno| {
            let message = format_args!(
                "fsync directory {} after creating {} in it",
                parent.display(),
                dir.display()
            );
            os_error(errno, message)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parents_are_listed_outermost_first() {
        let base = std::env::temp_dir().join(format!("intact-parents-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let target = base.join("a/b/c/file");
        let expected: Vec<PathBuf> = ["a", "a/b", "a/b/c"].iter().map(|d| base.join(d)).collect();
        assert_eq!(missing_parents(&target), expected);
        assert!(missing_parents(&base.join("file")).is_empty());
        assert!(missing_parents(Path::new("file")).is_empty());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
