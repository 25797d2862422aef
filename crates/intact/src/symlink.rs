//! [`symlink`](crate::symlink): atomically point a symbolic link at a new target.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::AtFlags;
use rustix::io::Errno;

use crate::dest::Dir;
use crate::error::{os_error, published_not_durable};
use crate::name::{random_u64, temp_name};
use crate::{Durability, group};

/// Attempts at a free random temp name (as for temp files).
const NAME_ATTEMPTS: usize = 64;

/// `symlinkat(target, dir, temp name)`, `fsync(dir)` (`Data`, `Full`), `renameat(temp name,
/// link)`, `fsync(dir)` (`Full`). See [`Options::symlink`](crate::Options::symlink).
pub(crate) fn replace_symlink(
    target: &Path,
    link: &Path,
    durability: Durability,
    create_parents: bool,
) -> io::Result<()> {
    let (parent, name) = split_link(link)?;
    if create_parents {
        crate::parents::create_parents(link, durability == Durability::Full)?;
    }
    let will_sync = durability != Durability::None;
    let dir = Dir::open(parent, will_sync).map_err(|errno| {
        os_error(
            errno,
            format_args!(
                "open directory {} of link {}",
                parent.display(),
                link.display()
            ),
        )
    })?;
    let temp = create_temp_link(target, &dir, link)?;
    let published = publish(&dir, &temp, name, link, durability);
    if published.is_err() {
        let _ = rustix::fs::unlinkat(&dir.fd, &temp, AtFlags::empty());
    }
    let group = published?;
    match group {
        Some((group, ticket)) => {
            group::sync_directory(&group, ticket, &dir).map_err(|errno| not_durable(errno, link))
        }
        None => Ok(()),
    }
}

/// Makes the temp link durable (below `None`), renames it over `link`, and hands back the
/// directory's group and a ticket for the last `fsync` (with `Full`).
fn publish(
    dir: &Dir,
    temp: &OsStr,
    name: &OsStr,
    link: &Path,
    durability: Durability,
) -> io::Result<Option<(Arc<group::Group>, group::Ticket)>> {
    let group = match durability {
        Durability::None => None,
        Durability::Data | Durability::Full => Some(group::for_dir(dir)?),
    };
    if let Some(group) = &group {
        // A symlink cannot be opened to `fsync` it: its text is written with its inode, which
        // an `fsync` of the directory that names it makes durable, before any name points at it.
        let ticket = group.ticket();
        group::sync_directory(group, ticket, dir).map_err(|errno| {
            os_error(errno, format_args!("fsync directory of {}", link.display()))
        })?;
    }
    rustix::fs::renameat(&dir.fd, temp, &dir.fd, name)
        .map_err(|errno| os_error(errno, format_args!("publish symlink {}", link.display())))?;
    Ok(group
        .filter(|_| durability == Durability::Full)
        .map(|group| {
            let ticket = group.ticket();
            (group, ticket)
        }))
}

/// Creates `.{name}.{random}.intact-tmp -> target` in `dir`.
fn create_temp_link(target: &Path, dir: &Dir, link: &Path) -> io::Result<std::ffi::OsString> {
    let name = link.file_name().unwrap_or_default();
    for _ in 0..NAME_ATTEMPTS {
        let temp = temp_name(name, random_u64());
        match rustix::fs::symlinkat(target, dir.fd.as_fd(), &temp) {
            Ok(()) => return Ok(temp),
            Err(Errno::EXIST) => continue,
            Err(errno) => {
                let message = format_args!(
                    "create a symlink in {} for {}",
                    dir.path.display(),
                    link.display()
                );
                return Err(os_error(errno, message));
            }
        }
    }
    let message = format_args!("no free temp name in {}", dir.path.display());
    Err(os_error(Errno::EXIST, message))
}

/// The link's directory and name; a path shaped like a directory is refused.
fn split_link(link: &Path) -> io::Result<(&Path, &OsStr)> {
    let name = match link.file_name() {
        Some(name) if !link.as_os_str().as_encoded_bytes().ends_with(b"/") => name,
        Some(_) | None => {
            let message = format!("{} names a directory, not a link", link.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
    };
    let parent = match link.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        Some(_) | None => Path::new("."),
    };
    Ok((parent, name))
}

/// The link is in place, but the directory `fsync` that makes it durable failed.
fn not_durable(errno: Errno, link: &Path) -> io::Error {
    let source = os_error(errno, format_args!("fsync directory of {}", link.display()));
    published_not_durable(source, link)
}
