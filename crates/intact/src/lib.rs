//! Durable atomic file replacement: after a crash, the target holds either its old content or
//! the complete new content, never a mix, and never an empty or partly written file.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("intact-doc-lib-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("results.csv");
//! intact::write(&path, "id,value\n1,42\n")?;
//! assert_eq!(std::fs::read_to_string(&path)?, "id,value\n1,42\n");
//!
//! // Streaming, with options: only publish if no other run got there first.
//! use std::io::Write;
//! use intact::{Options, Overwrite};
//! let mut file = Options::new().overwrite(Overwrite::NoClobber).create(dir.join("once.log"))?;
//! writeln!(file, "computed once")?;
//! file.commit()?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # The contract
//!
//! [`write()`], [`write_json`], [`AtomicFile::commit`] and [`Batch::commit`] replace (or create)
//! a file atomically: every process sees either the old file or the complete new one, at
//! every moment, whatever happens to the writer. What survives a **power cut** (or kernel
//! crash) depends on the [`Durability`] level:
//!
//! | Durability | Writer killed (SIGKILL, panic, OOM) | Power cut after `commit` returned |
//! |---|---|---|
//! | [`None`](Durability::None) | old or complete new content | old content, new content, or **an empty / partly written file** (the rename may reach the disk before the data) |
//! | [`Data`](Durability::Data) | old or complete new content | old or complete new content (the rename itself may be lost) |
//! | [`Full`](Durability::Full) (default) | old or complete new content | **new content** |
//!
//! A process crash never needs `fsync`: the kernel keeps every completed `write` in its page
//! cache, so the rename alone is enough. A power cut loses whatever was not made durable, in
//! any order; `fsync` of the file makes its data durable but not its name, and only `fsync` of
//! the directory makes the rename durable (Linux `fsync(2)`). Some filesystems add heuristics
//! (ext4 `auto_da_alloc` flushes data before a replacing rename); intact never relies on them.
//!
//! When `commit` returns an error, [`CommitError::failure`] says which side of the line it
//! failed on: [`CommitFailure::NotPublished`] (the target is exactly as before) or
//! [`CommitFailure::PublishedNotDurable`] (the new content is in place, but the directory
//! `fsync` failed, so whether it survives a power cut is unknown).
//!
//! # The protocol, step by step
//!
//! [`AtomicFile::create`] (or [`Options::create`]):
//!
//! 1. **Resolve the target.** `open(parent, O_DIRECTORY)` once (on Linux with `O_PATH`
//!    unless the directory will be `fsync`ed, that is below [`Durability::Full`]); every later
//!    step is relative to that descriptor, so the commit lands where the file was created.
//!    `fstatat(name, AT_SYMLINK_NOFOLLOW)` finds what is there: with [`Symlinks::Follow`] each
//!    link is read (`readlinkat`) and resolved relative to its own directory, and the temp file
//!    goes next to the file at the end of the chain; a directory, device, FIFO or socket is
//!    refused. Following is never weaker than the kernel's own `open`: every directory on the
//!    way is opened by the kernel (which applies its own rules to the links in it), and a
//!    link that is the last component is refused, with `EACCES`, where Linux's
//!    `fs.protected_symlinks` would refuse it: a link in a sticky world-writable directory
//!    (`/tmp`) owned neither by the follower (its `fsuid`) nor by the directory's owner. That
//!    costs a `statx` of the directory per link followed and, only for such a link, a read of
//!    `/proc/sys/fs/protected_symlinks` and `/proc/thread-self/status`; without `/proc` the
//!    link is refused. A final name of the temp file shape (`.{name}.{16 hex
//!    digits}.intact-tmp`) is refused (`InvalidInput`): [`sweep`] would delete the file.
//!    Replacing is never weaker than the kernel's own `open(O_CREAT)` either: under Linux's
//!    `fs.protected_regular`, the kernel refuses to open an existing regular file with
//!    `O_CREAT` in a sticky world-writable directory (level 1; at level 2 also a sticky
//!    group-writable one) unless the opener (its `fsuid`) or the directory's owner owns it,
//!    even to root, so that a privileged writer never writes into a file another user planted
//!    in `/tmp`. intact never opens the target for writing, it renames over it, and the
//!    kernel's own rule for that, the sticky bit, lets root (`CAP_FOWNER`) and the
//!    directory's owner replace anyone's file: root would replace the planted file, and keep
//!    its owner ([`Preserve::Try`]), handing root's data to that user. So a replace
//!    ([`Overwrite::Replace`]) refuses such a file with `EACCES`, exactly where the kernel's
//!    `open(O_CREAT)` would (the same sysctl, read from `/proc/sys/fs/protected_regular`, and
//!    the same owners; without `/proc`, as at level 2), at `create` and again at commit when
//!    the commit reads the replaced file (step 3). For anyone else the sticky bit already
//!    refuses the rename (`EPERM`). [`Overwrite::NoClobber`] never replaces anything (`EEXIST`,
//!    as `O_CREAT | O_EXCL`).
//!    (On Linux every `stat` of this crate is a `statx` that asks for type, mode,
//!    owner, inode and size only. Asking for the change or modification time, as `fstat`
//!    does, makes Linux 6.13+ (multigrain timestamps: ext4, xfs, btrfs, tmpfs) give the file
//!    a fine-grained timestamp at its next change, which dirties the inode again: that cost
//!    about 5% of a durable 1 KiB write on ext4 in our benchmark.)
//! 2. **Create the temp file** in that directory ([`Temp`]):
//!    - *Anonymous* (Linux): `openat(dir, ".", O_TMPFILE | O_RDWR, mode)`. The file has no
//!      name, so nothing is left behind if the writer dies now, and nobody else can open it.
//!      `mode` is the final permission bits as far as they are known now ([`Options::mode`],
//!      or the replaced file's with [`Options::preserve_mode`], less set-user-ID, set-group-ID
//!      and sticky bits; step 3 checks them against the replaced file as it is at commit),
//!      else 0o666, which the kernel filters through the umask, or the directory's default
//!      ACL, like `File::create`.
//!    - *Named*: `openat(dir, ".{name}.{random}.intact-tmp", O_CREAT | O_EXCL, 0600)`, a
//!      hidden name, never an existing file, unreadable to others while written (a default
//!      ACL of the directory is inherited, but 0600 masks its group and other entries).
//!
//!    The writer takes `flock(LOCK_EX)` on every temp file that has or will get a temp name
//!    (all named ones; an anonymous one that replaces a file, see step 5) and holds it until
//!    the temp file is gone: the kernel releases it when the process dies, which is how
//!    [`sweep`] tells a dead writer's temp file from a live one. A named temp file is unlocked
//!    between `open` and `flock`, so a `fstatat(temp name)` after locking checks a sweeper did
//!    not remove it meanwhile (if it did, the writer starts again with a fresh name).
//!
//! Writes then go to the temp file ([`std::io::Write`], [`std::io::Seek`]).
//! [`AtomicFile::commit`]:
//!
//! 3. **Metadata**, decided now, from the file being replaced as it is at commit: a
//!    `statx(dir, name, AT_SYMLINK_NOFOLLOW)` reads its mode and owner again (skipped for
//!    [`Overwrite::NoClobber`], where nothing is replaced, and when nothing of it is kept), so
//!    a `chmod` or `chown` of the target between `create` and `commit` is honoured. [`write()`]
//!    and [`Options::write`], which create, write and commit in one call with none of the
//!    caller's code in between, keep what `create` read instead: a `chmod` then can only race
//!    with the call, as it races with the commit's own steps anyway (a mode read at commit is
//!    stale once the file `fsync` has run), so no order the caller set is lost. The
//!    permission bits wanted: exactly [`Options::mode`]; else the replaced file's (unless
//!    [`Options::preserve_mode`]`(false)`); else, for a new file, what `open(O_CREAT, 0o666)`
//!    (`File::create`) gives in that directory, as the kernel and the filesystem decide it:
//!    the calling thread's umask, or the directory's default ACL (which on ext4 replaces the
//!    umask and on FUSE may not). An unnamed temp file created with 0o666 got exactly that
//!    at `open`. For a named one the crate asks the kernel the same way: it creates an empty
//!    probe file, `openat(dir, ".{name}.{random}.intact-tmp", O_CREAT | O_EXCL, 0o666)`,
//!    reads its mode (`statx`), closes and removes it (`unlinkat`): nothing is computed from the
//!    umask or the ACL, which may not mean on every filesystem what they mean on ext4, and no
//!    `/proc` is needed. `fstat(temp)` shows what
//!    the file has; then `fchown` if the owner or group differs from the replaced file's
//!    (first, since it clears set-user-ID bits; per [`Options::preserve_owner`], `EPERM`
//!    means the file keeps ours, fails the commit, or `fchown` is not tried), then, with
//!    [`Options::preserve_xattrs`], every extended attribute of the replaced file is copied
//!    (`llistxattr`, `lgetxattr`, `fsetxattr`; its access ACL included), and `fchmod` if the
//!    permission bits differ or include set-user-ID, set-group-ID or sticky bits. For an
//!    unnamed temp file created with its final mode (step 2), usually neither is needed;
//!    without anything to compare (a new file's kernel-given mode), the `fstat` is skipped
//!    too. A named temp file's `fstat` also confirms that its name referred to this file when
//!    it was locked (step 2); otherwise nothing is published. This step happens at commit,
//!    after the last write, because a write by an unprivileged process clears set-user-ID
//!    and set-group-ID bits, and it overrides permissions set through
//!    [`AtomicFile::as_file`]. A symlink is never the source of a mode: its 0777 means
//!    nothing.
//! 4. **`fsync(temp)`** (unless [`Durability::None`]; `F_FULLFSYNC` on macOS through
//!    `File::sync_all`): the content, size, mode and owner are on stable storage before any
//!    name points at them. `fsync`, not `fdatasync`: the mode and owner set in step 3 are
//!    metadata that `fdatasync` may leave unwritten (a new file's size it writes anyway, so
//!    on a fresh temp file the two cost the same; with 16 concurrent writers on ext4, xfs and
//!    btrfs, `fdatasync` was not measurably faster, within the noise of a shared disk). If this fails the file is never published, not even by a retried
//!    commit: after a failed `fsync` the kernel may have dropped the unwritten pages and a
//!    second `fsync` can succeed without them ("fsyncgate"). A retried commit fails at once,
//!    with the original error's kind (`Other` for `EIO`, which has none) and the original
//!    error as its source.
//! 5. **Publish**, one atomic step for other processes:
//!    - Replace, named temp: `renameat(temp, target)`.
//!    - Replace, anonymous temp: link the file under a temp name, then `renameat(temp name,
//!      target)`: `linkat` cannot replace a file. The temp name exists only after the data is
//!      written and synced. The link is `linkat(fd, "", dir, temp name, AT_EMPTY_PATH)`, which
//!      Linux 6.10+ allows for a file the process opened itself (earlier kernels only with
//!      `CAP_DAC_READ_SEARCH`); where refused (`ENOENT`), `linkat("/proc/self/fd/N", dir,
//!      temp name, AT_SYMLINK_FOLLOW)`, which works without privileges, and the process
//!      remembers to go there first.
//!    - No-clobber, named temp: `renameat2(temp, target, RENAME_NOREPLACE)`; where the
//!      filesystem or kernel lacks it (`EINVAL`, `ENOSYS`), `linkat(temp, target)` then
//!      `unlinkat(temp)`. Both fail with `EEXIST` if the target exists, checked in the
//!      same step as the publish, so of several racing writers exactly one wins.
//!    - No-clobber, anonymous temp: the same `linkat`, straight to the target's name, which
//!      fails with `EEXIST` when the target exists. (The file never has a temp name, so it is
//!      never locked.)
//! 6. **`fsync(directory)`** (with [`Durability::Full`]): the new directory entry is on stable
//!    storage; after this the new content survives a power cut. Concurrent commits into the
//!    same directory share this `fsync` (see "Concurrent writers: group commit").
//! 7. Close the temp file's descriptor, which releases the lock, and the directory's.
//!
//! [`AtomicFile::abort`], or dropping the file uncommitted: `unlinkat(temp)` while the lock is
//! still held, then close. A failed commit hands the file back in [`CommitError`]; dropping
//! that error discards the temp file the same way.
//!
//! # Crash windows
//!
//! | The writer dies ... | Target | Left behind |
//! |---|---|---|
//! | before step 5 (anonymous temp) | old | nothing: the kernel frees the unnamed inode |
//! | before step 5 (named temp) | old | `.{name}.{random}.intact-tmp`, unlocked: [`sweep`] removes it |
//! | between `linkat` and `renameat` (anonymous, replace) | old | a temp name, unlocked: [`sweep`] removes it |
//! | after step 5 | new | nothing |
//!
//! A power cut behaves as in the table of the contract: with `Full`, before step 6 completes
//! the old content may come back; after it, the new content stays. A named temp file that
//! survives a power cut has lost its lock like any other and is swept.
//!
//! # What is replaced and what is kept
//!
//! The commit puts a new inode in place of the old one: whatever belongs to the old inode
//! rather than to its name goes with it unless listed as kept here.
//!
//! | | Default | With the option |
//! |---|---|---|
//! | Permission bits (set-ID and sticky too) | kept, as read at commit; a new file gets what `File::create` would give in that directory (the writing thread's umask, or the directory's **default ACL**). **A set-group-ID bit is lost** when the writer is not a member of the file's group and is not privileged (`CAP_FSETID`): the kernel silently clears it at `fchmod`, as at `chmod g+s` (for example a non-member replacing its own file in a set-group-ID directory) | [`mode`](Options::mode): exactly those bits (the same rule for set-group-ID). [`preserve_mode(false)`](Options::preserve_mode): the new-file mode, even when replacing |
//! | Owner and group | kept where permitted ([`Preserve::Try`]): root keeps both; **a non-root writer becomes the owner** (and keeps the group only if it is one of its groups) | [`Preserve::Yes`]: the commit fails (`PermissionDenied`, nothing published) if they cannot be kept. [`Preserve::No`]: the writer's (and the group the directory gives) |
//! | Access ACL | **not kept**: the new file takes the directory's default ACL if it has one (which can grant access the replaced file did not), else none | [`preserve_xattrs(true)`](Options::preserve_xattrs): the replaced file's, exactly (an inherited one is removed if it had none) |
//! | Extended attributes (`user.*`, `security.*`, `trusted.*`) | **not kept** (a security module may label the new file itself) | [`preserve_xattrs(true)`](Options::preserve_xattrs): all that the process can list are copied; one that cannot be set fails the commit |
//! | Hard links | **split**: other names of the old inode keep the old content; only this name gets the new file | — |
//! | Read-only file (`0o444`), or another user's file | **replaced** whenever the directory is writable by the writer (in a sticky directory such as `/tmp`, only if the writer owns the file or the directory, and, under `fs.protected_regular`, not even as root unless the writer or the directory's owner owns the file: `PermissionDenied`, as the kernel's `open(O_CREAT)`): `rename` needs write permission on the directory, not on the file | [`Overwrite::NoClobber`]: never replaces anything |
//! | Timestamps, file flags (`chattr`), inode number | new | — |
//! | A symlink at the target | followed, and kept ([`Symlinks::Follow`]), unless the kernel's own `open` would refuse to follow it (`fs.protected_symlinks`: `PermissionDenied`) | [`Symlinks::Replace`]: replaced by the file |
//!
//! # Concurrent writers: group commit
//!
//! Commits into one directory from many threads (or tasks, see the `tokio` module) share
//! step 6, as a database's group commit shares its log flush: [`write()`], [`write_json`],
//! [`Options::write_with`], [`AtomicFile::commit`] and [`symlink()`] with
//! [`Durability::Full`]. There is no API for it and no thread: while one commit's directory
//! `fsync` runs, the commits that reach step 6 wait, and when it ends one of them issues a
//! single `fsync` for all of them.
//!
//! Why the guarantee is unchanged: `fsync(dir)` makes durable every change the directory had
//! when the call began, whoever calls it (it acts on the inode, not the descriptor). So a
//! commit is done once an `fsync` of its directory that *began after its rename returned* has
//! succeeded. The directory's `fsync`s are numbered in the order they begin, one at a time,
//! under a lock; right after its rename returns, a commit reads (under that lock) the number
//! of the last one begun, its *ticket*. One with a higher number was numbered after the ticket
//! was read, and only then issued, so it began after the rename returned: the commit waits
//! for that one, joining it if it is already running. One in flight with the ticket's own
//! number (or lower) may have begun before the rename, so it is never taken: the commit waits
//! for the next. Directories are told apart by device and inode (an `fstat` of the
//! directory), which two held-open descriptors share only if they are the same directory.
//! A failed `fsync` is reported to every commit that waited for it
//! ([`CommitFailure::PublishedNotDurable`]). [`Batch`] already syncs each directory once
//! per batch and does not take part.
//!
//! Before it issues an `fsync`, the commit that leads the next one waits for the commits of
//! the directory that are already between the start of their file `fsync` (step 4) and their
//! rename, so that the one directory `fsync` serves them too: at most three times as long as
//! the directory's last `fsync` or the last file `fsync` of a commit took, whichever is
//! longer (under load, a commit takes longer than one `fsync` from its file `fsync` to its
//! rename: it also waits for a core), and not at all when no other commit is under way. This only
//! delays an `fsync` that begins after the rename anyway, so the guarantee is untouched; it
//! keeps concurrent writers in step (one directory `fsync` per pass of all of them), and
//! keeps directory `fsync`s from running beside file `fsync`s, which on btrfs slow each other
//! (measured in `torture bench`: see the README).
//!
//! A lone writer pays an `fstat` of the directory and two uncontended locks more, which is
//! nothing beside the `fsync`s (see "Cost").
//!
//! # Cleaning up: `sweep`
//!
//! [`sweep`] removes the temp files of dead writers from a directory and never a live
//! writer's: a name of the exact temp shape, a regular file, whose `flock` it can take (so
//! its writer is gone), checked again after locking, removed while locked. Run it at startup
//! of a pipeline stage, for example. It is safe alongside running writers and other sweepers.
//! It removes **any** unlocked regular file whose name has that shape, even one a user made
//! by hand; [`sweep_dry_run`] lists what it would remove without removing it.
//!
//! # Batches
//!
//! [`Batch`] publishes many files with the same per-file guarantees, overlapping their
//! `fsync`s and syncing each directory once. It is **not atomic as a group**: after a crash,
//! some files may have their new content and others their old. It keeps no descriptor per
//! directory between [`Batch::add`] and [`Batch::commit`] (beyond a few recently used ones,
//! closed when the commit starts): the commit reopens the directories, a bounded number at a
//! time, so a batch may span more directories than `RLIMIT_NOFILE` allows open files. The
//! bound is what is free: the soft `RLIMIT_NOFILE` less the descriptors the process holds
//! when the commit starts (counted in `/proc/self/fd`), so a batch commits wherever a single
//! write can (3 free descriptors: the directory, the temp file, a probe).
//!
//! # Cost
//!
//! Syscalls per call on Linux, replacing a file whose owner the temp file already has and
//! whose mode the umask lets through (the usual case), with an unnamed temp file
//! ([`Temp::Auto`] on ext4, xfs, btrfs and tmpfs):
//!
//! | | syscalls | |
//! |---|---:|---|
//! | [`write()`] ([`Durability::Full`]) | 13 | `openat(dir)`, `statx(target)`, `statx(dir)` (its sticky bit and owner for `fs.protected_regular`, and the key of its group commit), `openat(O_TMPFILE)`, `flock`, `write`, `statx(temp)`, `fsync`, `linkat`, `renameat`, `fsync(dir)` (shared with concurrent commits), `close` ×2 |
//! | [`AtomicFile`] (`create`, `write`, `commit`), `Full` | 14 | `statx(target)` again at commit (step 3) |
//! | [`Durability::Data`] | 12 | without `fsync(dir)`; the directory is opened `O_PATH` |
//! | [`Durability::None`] | 11 | without either `fsync` |
//! | [`Temp::Named`], `Full` | 14 | `openat(O_EXCL)` and `statx(temp name)` instead of `openat(O_TMPFILE)`, `fchmod` (0600 to the final mode), no `linkat` |
//! | [`Overwrite::NoClobber`], new file, `Full` | 10 | no `flock`, no `statx` at commit, `linkat` straight to the target, no `renameat` |
//!
//! In a sticky directory (`/tmp`), replacing a file its directory's owner does not own adds a
//! read of `/proc/sys/fs/protected_regular` (and, where that is on, of
//! `/proc/thread-self/status`). A new file with a named temp file adds the probe that learns
//! its mode (`openat`, `statx`, `close`, `unlinkat`; see step 3), at every such commit: it is
//! not cached per directory, because nothing cheaper tells that the answer still holds. The
//! mode a new file gets depends on the calling thread's umask (which any thread may change at
//! any time, and which only `/proc/thread-self/status` tells without changing it: three
//! syscalls), on the whole default ACL of the directory (its content, not only whether there
//! is one: one `getxattr`), and on FUSE on whatever the server does; checking that key costs
//! as many syscalls as the probe, and would still be wrong on a FUSE server that changes its
//! mind. The probe is only paid by new files through named temp files ([`Temp::Named`], or
//! [`Temp::Auto`] where `O_TMPFILE` is missing); unnamed temp files get the mode from the
//! kernel at `open`, and replaced files keep theirs. The second `statx(target)` (reading
//! the replaced file's metadata at commit, not only at `create`) is only made by an
//! [`AtomicFile`] committed separately, where the caller's code runs between the two (step
//! 3); [`write()`] reads the target once.
//!
//! For comparison, `tempfile`'s `NamedTempFile::persist` makes 4 (`open(O_EXCL)`, `write`,
//! `rename`, `close`: no directory descriptor, no lock, no metadata, no `fsync`) and
//! `atomic-write-file` 11. Where `fsync` is real it dominates: in one `torture bench --fs
//! ext4,tmpfs --quick` run (Linux 6.18, 2 cores, ext4 on a loop device over a virtio disk),
//! `intact::write` took 1.01×, 1.00× and 0.99× the time of `atomic-write-file` at 1 KiB,
//! 64 KiB and 1 MiB. On tmpfs, where only syscalls count, at 1 KiB: `intact::write` 22.6 µs,
//! `atomic-write-file` 19.9 µs (1.13×), [`Durability::None`] 22.1 µs against `tempfile`'s
//! 14.8 µs (1.49×). What the guarantees cost over `tempfile`: the directory descriptor
//! (protocol step 1), the look at the target (symlinks, metadata), the lock that lets
//! [`sweep`] run beside live writers, one `statx` to keep the mode and owner, and for an
//! unnamed temp file the `linkat` before the rename. The unnamed temp file that [`Temp::Auto`]
//! prefers (nothing left behind even if the writer dies mid-write) cost about 1 µs more than
//! a named one on tmpfs in that run (22.5 against 21.5 µs at 1 KiB) and nothing measurable on
//! ext4.
//!
//! # Platforms
//!
//! - **Linux** is the tested target: everything above. Unnamed temp files need `/proc` (for
//!   the unprivileged `linkat` on kernels before 6.10); without `/proc/self/fd`,
//!   [`Temp::Auto`] uses named ones.
//! - **macOS**: `File::sync_all` and the directory sync use `F_FULLFSYNC` (a plain `fsync`
//!   does not flush the drive's cache there); no-clobber uses `renameatx_np(RENAME_EXCL)`; no
//!   `O_TMPFILE`, so [`Temp::Auto`] is always named.
//! - **Other unixes**: named temp files and no-clobber through `link` + `unlink`.
//! - Windows is not supported.
//!
//! # Not promised
//!
//! - Atomicity across several files, including the files of a [`Batch`].
//! - Network and FUSE filesystems: `rename`, `O_EXCL`, `flock` and `fsync` are only as good as
//!   the filesystem makes them (NFS may report success before the server's disk has the data).
//! - Disks that acknowledge writes they have not stored (a volatile cache without flush
//!   support) defeat every `fsync`.
//! - Preserving timestamps of a replaced file, or its ACLs and extended attributes without
//!   [`Options::preserve_xattrs`] (see "What is replaced and what is kept").
//! - After a failed directory `fsync`, whether the new name is durable: that is exactly what
//!   [`CommitFailure::PublishedNotDurable`] reports.
//! - The durability of the directory itself: a parent directory created just before and never
//!   synced into its own parent may vanish in a power cut, with the file in it (unless
//!   [`Options::create_parents`] created it).
//!
//! # Errors
//!
//! Every error is an [`std::io::Error`] with the kind of the underlying OS error and a message
//! that names the path; its [`source`](std::error::Error::source) chain ends in the OS error
//! itself (with `raw_os_error`). Its own `raw_os_error()` is `None` (it wraps a custom error):
//! use [`raw_os_error()`], or `downcast` the inner error, a [`PathError`], or for a failed
//! commit a [`CommitFailed`] (with [`CommitFailed::failure`] and
//! [`is_published`](CommitFailed::is_published)), or for a batch a [`BatchError`]; each has
//! `raw_os_error()`. The common mistakes get their own message: parent directory missing
//! (`NotFound`), target is a directory (`IsADirectory`), a path ending in `/`
//! (`IsADirectory`, saying so), parent not writable (`PermissionDenied`,
//! `ReadOnlyFilesystem`), an immutable or append-only directory or file (`chattr +i`/`+a`:
//! `EPERM`, saying so), file name too long, a dangling symlink under [`Symlinks::Follow`]
//! (`NotFound`, naming the link and the missing file), a link refused under
//! `fs.protected_symlinks` (`PermissionDenied`, `EACCES`), a file refused under
//! `fs.protected_regular` (`PermissionDenied`, `EACCES`), a target named like a temp file
//! (`InvalidInput`), and a directory that can be written but not read under
//! [`Durability::Full`] (`PermissionDenied`: `fsync` needs a directory opened for reading;
//! [`Durability::Data`] needs only write and search permission).
//!
//! A syscall interrupted by a signal (`EINTR`, from a handler installed without
//! `SA_RESTART`) is made again, never reported: each of them did nothing when interrupted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod dest;
mod error;
mod file;
mod group;
mod name;
mod options;
mod parents;
mod sweep;
mod symlink;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

use std::io;
use std::path::Path;

pub use batch::{Batch, BatchError, BatchFailure};
pub use error::{CommitError, CommitFailed, CommitFailure, PathError, raw_os_error};
pub use file::AtomicFile;
pub use options::{Durability, Options, Overwrite, Preserve, Symlinks, Temp, WriteWithError};
pub use sweep::{Sweep, sweep, sweep_dry_run};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// Atomically and durably replaces (or creates) the file at `path` with `contents`.
///
/// The default [`Options`]: [`Durability::Full`] (the new content survives a power cut once
/// this returns), replace, the replaced file's permissions and owner kept, symlinks followed.
/// On error the file at `path` is unchanged (unless the error says the content was published
/// and only the directory `fsync` failed) and no temp file is left behind.
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    Options::new().write(path, contents)
}

/// Atomically and durably points the symbolic link `link` at `target`, creating the link or
/// replacing what is there (a link, or a file; never a directory), as `ln -sfn` does in two
/// steps: readers see the old target or the new one, never no link.
///
/// The link is made under a temp name next to `link` and renamed over it. With the default
/// [`Durability::Full`], the directory is `fsync`ed before the rename (a link cannot be opened
/// to `fsync` it; that `fsync` makes it durable with its text, as `Data` does for a file's
/// content) and after it, so the new target survives a power cut once this returns. Other
/// levels: [`Options::symlink`]. The `target` is not checked (a link may dangle); `link` is
/// never followed. A crash between the two steps can leave `.{name}.{random}.intact-tmp`, a
/// symlink, which [`sweep`] does not remove (it only removes regular files it can lock).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-symlink-{}", std::process::id()));
/// # std::fs::create_dir_all(dir.join("run-41"))?;
/// # std::fs::create_dir_all(dir.join("run-42"))?;
/// let current = dir.join("current");
/// intact::symlink("run-41", &current)?;
/// intact::symlink("run-42", &current)?;
/// assert_eq!(std::fs::read_link(&current)?, std::path::Path::new("run-42"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    Options::new().symlink(target, link)
}

/// Atomically and durably writes `value` as JSON to `path`, serialising straight into the
/// temp file through a buffer (no full in-memory copy of the document).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("intact-doc-json-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("state.json");
/// intact::write_json(&path, &serde_json::json!({ "step": 3, "done": false }))?;
/// assert_eq!(std::fs::read_to_string(&path)?, r#"{"done":false,"step":3}"#);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "json")]
pub fn write_json<T>(path: impl AsRef<Path>, value: &T) -> io::Result<()>
where
    T: serde::Serialize + ?Sized,
{
    Options::new().write_json(path, value)
}
