//! Real power-cut states: snapshots of a loop-mounted file system's backing image.
//!
//! A file system on a loop device (direct I/O) writes through to its image file. A copy of that
//! file taken while the file system is mounted holds exactly what the file system had submitted
//! to its "disk" at that instant, and nothing of what is still in its page cache or uncommitted
//! journal: the state a power cut leaves on a disk without a volatile write cache. `power
//! --real` keeps the images on a [`CloneStore`], so a copy is one reflink clone: atomic and
//! O(extents) ([`clone_or_copy`]). Mounting the copy runs
//! the file system's journal recovery, as a reboot does. No device-mapper, no kernel module.
//!
//! Mounting a copy beside the original needs per-file-system care ([`snapshot_mount_options`]):
//! ext4 accepts the duplicate UUID but must mount read-write to replay its journal; xfs refuses a
//! duplicate UUID unless mounted with `nouuid`; btrfs identifies file systems by fsid, and since
//! Linux 6.7 mounts a cloned single-device file system with a temporary fsid (checked on 6.18).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use rustix::fs::SeekFrom;

use crate::loopfs::{CopyAccess, FsKind, LoopError, MountedImage, ScratchFs};

/// What one path of a file-system tree is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// A regular file with these bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link with this text (never followed).
    Symlink(PathBuf),
    /// A fifo, socket or device.
    Special,
}

/// A directory tree read back from disk: paths relative to its root, in order.
pub type Tree = BTreeMap<PathBuf, Entry>;

/// A copy of an image file, deleted when dropped.
#[derive(Debug)]
pub struct ImageSnapshot {
    path: Option<PathBuf>,
    /// Bytes of data copied (holes are not copied; 0 for a reflink clone).
    pub data_bytes: u64,
    /// Whether the copy is a reflink clone ([`clone_or_copy`]).
    pub cloned: bool,
}

impl ImageSnapshot {
    /// Copies `image` to `path` (which must not exist): a reflink clone where the file system
    /// can make one, else its data extents.
    pub fn take(image: &Path, path: &Path) -> Result<ImageSnapshot, LoopError> {
        let copied = clone_or_copy(image, path).map_err(|source| LoopError::Io {
            what: format!("snapshot {} to", image.display()),
            path: path.to_path_buf(),
            source,
        })?;
        Ok(ImageSnapshot {
            path: Some(path.to_path_buf()),
            data_bytes: copied.data_bytes,
            cloned: copied.cloned,
        })
    }

    /// Where the copy is.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new("(removed)"))
    }

    /// Keeps the copy on disk (for a report) and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }

    /// Mounts the copy read-only at `mount_point` (journal recovery runs), reads the tree under
    /// `sandbox` (relative to the file system's root), and unmounts it.
    pub fn read(
        &self,
        kind: FsKind,
        mount_point: &Path,
        sandbox: &Path,
    ) -> Result<Tree, LoopError> {
        let options = snapshot_mount_options(kind)?;
        let access = (options, CopyAccess::ReadOnly);
        let mounted = MountedImage::mount(kind, self.path(), mount_point, access)?;
        let root = mount_point.join(sandbox);
        let tree = read_tree(&root).map_err(|source| LoopError::Io {
            what: "read the snapshot's sandbox".into(),
            path: root,
            source,
        });
        let problems = mounted.unmount();
        match problems.into_iter().next() {
            Some(problem) => Err(LoopError::Usage(format!("snapshot cleanup: {problem}"))),
            None => tree,
        }
    }
}

impl Drop for ImageSnapshot {
    fn drop(&mut self) {
        if let Some(path) = self.path.take()
            && let Err(error) = fs::remove_file(&path)
        {
            eprintln!(
                "torture: cleanup: cannot remove {}: {error}",
                path.display()
            );
        }
    }
}

/// A scratch xfs whose files clone: `power --real` keeps its loop images on it, so each
/// snapshot is a reflink clone ([`clone_or_copy`]) instead of a copy of every allocated extent
/// (xfs's 64 MiB log alone made a copy cost ~30 ms). It is itself an xfs on a loop device over a
/// sparse file in the scratch directory (tmpfs has no reflinks), mounted with `discard` so that
/// deleted images and copies give their memory back.
#[derive(Debug)]
pub struct CloneStore {
    fs: ScratchFs,
}

impl CloneStore {
    /// Makes and mounts a store of `size_mib` (sparse) under `scratch`.
    pub fn create(scratch: &Path, size_mib: u64) -> Result<CloneStore, LoopError> {
        ScratchFs::create_with(FsKind::Xfs, scratch, size_mib, Some("discard"))
            .map(|fs| CloneStore { fs })
    }

    /// Where files go.
    pub fn root(&self) -> &Path {
        &self.fs.mount_point
    }

    /// Unmounts, detaches and deletes the store, and says what could not be undone.
    pub fn teardown(self) -> Vec<String> {
        self.fs.teardown()
    }
}

/// The mount options a snapshot of a `kind` file system needs to mount beside the original.
pub fn snapshot_mount_options(kind: FsKind) -> Result<Option<&'static str>, LoopError> {
    match kind {
        FsKind::Ext4 | FsKind::Btrfs => Ok(None),
        FsKind::Xfs => Ok(Some("nouuid")),
        FsKind::Tmpfs => Err(LoopError::Usage(
            "tmpfs has no disk: it has no power-cut state to snapshot".into(),
        )),
    }
}

/// How [`clone_or_copy`] made a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// A reflink clone (`FICLONE`): no data was copied.
    pub cloned: bool,
    /// Bytes of data copied (0 for a clone).
    pub data_bytes: u64,
}

/// Copies `from` into a new file `to`. Where both are on a file system with reflinks (xfs,
/// btrfs) the copy is one `FICLONE`: it costs O(extents), not O(bytes), and it is atomic. The
/// clone takes the source's inode locks, waits for its in-flight direct I/O (`inode_dio_wait`)
/// and writes back its dirty pages (`filemap_write_and_wait_range`) before sharing the extents
/// (Linux `fs/remap_range.c`, `__generic_remap_file_range_prep`), so it holds every write the
/// loop device completed and no write can land half-way through. Elsewhere (tmpfs) the data
/// extents are copied ([`sparse_copy`]).
pub fn clone_or_copy(from: &Path, to: &Path) -> io::Result<Copied> {
    let source = File::open(from)?;
    let target = File::create_new(to)?;
    match rustix::fs::ioctl_ficlone(&target, &source) {
        Ok(()) => Ok(Copied {
            cloned: true,
            data_bytes: 0,
        }),
        // No reflinks here (tmpfs, ext4), or not across these two file systems.
        Err(
            rustix::io::Errno::OPNOTSUPP
            | rustix::io::Errno::XDEV
            | rustix::io::Errno::INVAL
            | rustix::io::Errno::NOTTY,
        ) => Ok(Copied {
            cloned: false,
            data_bytes: copy_extents(&source, &target)?,
        }),
        Err(errno) => Err(errno.into()),
    }
}

/// Copies the data extents of `from` into a new file `to` of the same length; holes stay holes,
/// so a mostly empty 300 MiB image copies in milliseconds.
pub fn sparse_copy(from: &Path, to: &Path) -> io::Result<u64> {
    let source = File::open(from)?;
    let target = File::create_new(to)?;
    copy_extents(&source, &target)
}

fn copy_extents(source: &File, target: &File) -> io::Result<u64> {
    let length = source.metadata()?.len();
    target.set_len(length)?;
    let mut offset = 0;
    let mut copied = 0;
    while offset < length {
        let Some(start) = next_data(source, offset)? else {
            break;
        };
        let end = rustix::fs::seek(source, SeekFrom::Hole(start)).map_err(io::Error::from)?;
        copied += copy_range(source, target, start, end.min(length))?;
        offset = end;
    }
    Ok(copied)
}

/// The start of the next data extent at or after `offset`, or `None` past the last one.
fn next_data(file: &File, offset: u64) -> io::Result<Option<u64>> {
    match rustix::fs::seek(file, SeekFrom::Data(offset)) {
        Ok(start) => Ok(Some(start)),
        Err(rustix::io::Errno::NXIO) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

fn copy_range(source: &File, target: &File, start: u64, end: u64) -> io::Result<u64> {
    let (mut from, mut to) = (start, start);
    while from < end {
        let want = usize::try_from(end - from).unwrap_or(usize::MAX);
        let done =
            rustix::fs::copy_file_range(source, Some(&mut from), target, Some(&mut to), want)
                .map_err(io::Error::from)?;
        if done == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image shrank while it was copied",
            ));
        }
    }
    Ok(end - start)
}

/// Reads every entry under `root` without following symbolic links.
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    read_dir_into(root, Path::new(""), &mut tree)?;
    Ok(tree)
}

fn read_dir_into(root: &Path, relative: &Path, tree: &mut Tree) -> io::Result<()> {
    for entry in fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tree.insert(path.clone(), Entry::Dir);
            read_dir_into(root, &path, tree)?;
        } else if kind.is_symlink() {
            tree.insert(
                path.clone(),
                Entry::Symlink(fs::read_link(root.join(&path))?),
            );
        } else if kind.is_file() {
            tree.insert(path.clone(), Entry::File(fs::read(root.join(&path))?));
        } else if kind.is_fifo()
            || kind.is_socket()
            || kind.is_block_device()
            || kind.is_char_device()
        {
            tree.insert(path, Entry::Special);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopfs::tests::can_mount;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            Path::new("/dev/shm").join(format!("torture-realfs-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_sparse_copy_keeps_data_and_holes() {
        let dir = scratch("sparse");
        let (from, to) = (dir.join("from.img"), dir.join("to.img"));
        let mut file = File::create(&from).unwrap();
        file.set_len(64 << 20).unwrap();
        file.write_all(b"head").unwrap();
        rustix::fs::seek(&file, SeekFrom::Start(40 << 20)).unwrap();
        file.write_all(b"middle").unwrap();
        drop(file);
        let copied = sparse_copy(&from, &to).unwrap();
        assert!(copied < 1 << 20, "holes are not copied: {copied} bytes");
        assert_eq!(fs::read(&from).unwrap(), fs::read(&to).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The facts the whole approach rests on, on each file system, with the image on a clone
    /// store as `power --real` keeps it: a file written and fsynced is in a copy taken at once
    /// (the copy holds what the loop device wrote); then a rename of an unsynced temp file over
    /// a durable old version is not (the copy holds nothing of the page cache). The copy is
    /// mounted read-only and still recovered: the fsynced file's name is only in the journal
    /// (ext4), the log (xfs) or the log tree (btrfs) when the copy is taken.
    fn rename_without_fsync_is_not_on_disk_yet(kind: FsKind, size_mib: u64) {
        if !can_mount(kind) || !can_mount(FsKind::Xfs) {
            return;
        }
        let dir = scratch(kind.name());
        let store = CloneStore::create(&dir, 1024).unwrap();
        let work = store.root().join("work");
        fs::create_dir(&work).unwrap();
        let made = ScratchFs::create(kind, &work, size_mib).unwrap();
        let root = made.mount_point.clone();
        fs::write(root.join("target.json"), b"old").unwrap();
        rustix::fs::sync();
        let mut synced = File::create(root.join("synced")).unwrap();
        synced.write_all(b"written").unwrap();
        synced.sync_all().unwrap();
        drop(synced);
        fs::write(root.join("target.json.tmp"), b"new").unwrap();
        fs::rename(root.join("target.json.tmp"), root.join("target.json")).unwrap();
        let image = work.join(format!("{kind}.img"));
        let snapshot = ImageSnapshot::take(&image, &work.join("snapshot.img")).unwrap();
        assert!(snapshot.cloned, "{kind}: the store clones");
        let mount_point = dir.join("snapshot-mnt");
        fs::create_dir(&mount_point).unwrap();
        let tree = snapshot.read(kind, &mount_point, Path::new("")).unwrap();
        assert_eq!(
            tree.get(Path::new("target.json")),
            Some(&Entry::File(b"old".to_vec())),
            "{kind}: {tree:?}"
        );
        assert_eq!(
            tree.get(Path::new("synced")),
            Some(&Entry::File(b"written".to_vec())),
            "{kind}: {tree:?}"
        );
        drop(snapshot);
        fs::remove_dir(&mount_point).unwrap();
        assert_eq!(made.teardown(), Vec::<String>::new());
        fs::remove_dir(&work).unwrap();
        assert_eq!(store.teardown(), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A clone writes back the source's dirty pages first: bytes written (buffered, no fsync)
    /// just before the clone are in it, read from its own extents, not the source's page cache.
    #[test]
    fn a_clone_holds_a_write_made_just_before_it() {
        if !can_mount(FsKind::Xfs) {
            return;
        }
        let dir = scratch("clone");
        let store = CloneStore::create(&dir, 512).unwrap();
        let (from, to) = (store.root().join("from.img"), store.root().join("to.img"));
        let mut file = File::create(&from).unwrap();
        file.set_len(64 << 20).unwrap();
        file.write_all(b"durable").unwrap();
        file.sync_all().unwrap();
        rustix::fs::seek(&file, SeekFrom::Start(40 << 20)).unwrap();
        file.write_all(b"just written").unwrap();
        let copied = clone_or_copy(&from, &to).unwrap();
        assert_eq!(
            copied,
            Copied {
                cloned: true,
                data_bytes: 0
            }
        );
        let bytes = fs::read(&to).unwrap();
        assert_eq!(&bytes[..7], b"durable");
        assert_eq!(&bytes[40 << 20..(40 << 20) + 12], b"just written");
        drop(file);
        assert_eq!(store.teardown(), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_reflinks_the_data_extents_are_copied() {
        let dir = scratch("no-reflink");
        let (from, to) = (dir.join("from.img"), dir.join("to.img"));
        let file = File::create(&from).unwrap();
        file.set_len(8 << 20).unwrap();
        drop(file);
        fs::write(&from, b"tmpfs").unwrap();
        let copied = clone_or_copy(&from, &to).unwrap();
        assert!(!copied.cloned && copied.data_bytes > 0, "{copied:?}");
        assert_eq!(fs::read(&from).unwrap(), fs::read(&to).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ext4_snapshot_shows_the_old_version_after_an_unsynced_rename() {
        rename_without_fsync_is_not_on_disk_yet(FsKind::Ext4, 64);
    }

    #[test]
    fn xfs_snapshot_shows_the_old_version_after_an_unsynced_rename() {
        rename_without_fsync_is_not_on_disk_yet(FsKind::Xfs, 320);
    }

    #[test]
    fn btrfs_snapshot_shows_the_old_version_after_an_unsynced_rename() {
        rename_without_fsync_is_not_on_disk_yet(FsKind::Btrfs, 128);
    }

    #[test]
    fn tmpfs_has_no_snapshot() {
        assert!(snapshot_mount_options(FsKind::Tmpfs).is_err());
    }
}
