//! Scratch filesystems: an image file, a loop device, mkfs, a mount (or a plain tmpfs mount), and
//! a teardown that undoes exactly those steps and nothing else. `torture bench --fs` measures on
//! them; real power-cut states are snapshots of their images.
//!
//! Each step is owned by a guard created the moment the step succeeds, so an error, a panic or a
//! Ctrl-C unwinds through the guards in reverse order. A loop device is detached only after
//! checking that it is still backed by the image we attached; a device we did not create is never
//! touched. Setup programs run in their own process group, so a Ctrl-C at the terminal reaches
//! only us: the step in flight finishes, its guard is made, and then everything is undone.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use std::fmt;
use std::io;
use std::str::FromStr;

use serde::Serialize;

/// A file system this module can make on a loop device (or, for tmpfs, in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    Ext4,
    Xfs,
    Btrfs,
    Tmpfs,
}

impl FsKind {
    pub const ALL: [FsKind; 4] = [FsKind::Ext4, FsKind::Xfs, FsKind::Btrfs, FsKind::Tmpfs];

    pub const fn name(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Tmpfs => "tmpfs",
        }
    }

    /// The mkfs program and its arguments before the device, or `None` for tmpfs.
    /// ext4 initialises its inode tables and journal now, not in a background thread that would
    /// write while we measure.
    pub const fn mkfs(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            FsKind::Ext4 => Some((
                "mkfs.ext4",
                &["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"],
            )),
            FsKind::Xfs => Some(("mkfs.xfs", &["-q", "-f"])),
            FsKind::Btrfs => Some(("mkfs.btrfs", &["-q", "-f"])),
            FsKind::Tmpfs => None,
        }
    }

    /// The Debian package that ships this filesystem's mkfs.
    pub const fn debian_package(self) -> Option<&'static str> {
        match self {
            FsKind::Ext4 => Some("e2fsprogs"),
            FsKind::Xfs => Some("xfsprogs"),
            FsKind::Btrfs => Some("btrfs-progs"),
            FsKind::Tmpfs => None,
        }
    }
}

impl fmt::Display for FsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FsKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        FsKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name.trim())
            .ok_or_else(|| {
                format!("unknown filesystem `{name}` (expected ext4, xfs, btrfs or tmpfs)")
            })
    }
}

/// Why a scratch file system could not be made (or a tool not run).
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The request cannot work (a tmpfs on a loop device, say).
    #[error("{0}")]
    Usage(String),
    /// A program is not installed.
    #[error("`{tool}` is not installed: apt-get install {package} (or run .ci/setup fs)")]
    MissingTool { tool: String, package: String },
    /// A setup program (losetup, mkfs, mount) failed.
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    /// A file operation failed.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    match stderr.trim() {
        "" => String::new(),
        text => format!(": {text}"),
    }
}

impl LoopError {
    fn io(what: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LoopError::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }
}

/// Locates a program in `PATH` or the sbin directories (root's tools live there).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Every tool `--fs` needs for `kinds`, checked before anything is created.
pub fn check_tools(kinds: &[FsKind]) -> Result<(), LoopError> {
    let mut needed: Vec<(&str, &str)> = vec![("mount", "mount"), ("umount", "mount")];
    if kinds.iter().any(|kind| kind.mkfs().is_some()) {
        needed.push(("losetup", "mount"));
    }
    for kind in kinds {
        if let (Some((mkfs, _)), Some(package)) = (kind.mkfs(), kind.debian_package()) {
            needed.push((mkfs, package));
        }
    }
    match needed
        .into_iter()
        .find(|(tool, _)| find_tool(tool).is_none())
    {
        Some((tool, package)) => Err(LoopError::MissingTool {
            tool: tool.into(),
            package: package.into(),
        }),
        None => Ok(()),
    }
}

/// Runs a setup program to completion in its own process group; its stdout on success.
fn run_tool(program: &str, args: &[OsString]) -> Result<String, LoopError> {
    let command_line = command_line(program, args);
    let executable = find_tool(program).ok_or_else(|| LoopError::Tool {
        command: command_line.clone(),
        status: "not found".into(),
        stderr: String::new(),
    })?;
    let output = Command::new(executable)
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(|error| LoopError::Tool {
            command: command_line.clone(),
            status: "could not start".into(),
            stderr: error.to_string(),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LoopError::Tool {
            command: command_line,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn command_line(program: &str, args: &[OsString]) -> String {
    let mut line = program.to_owned();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

fn os_args<const N: usize>(args: [&dyn AsRef<std::ffi::OsStr>; N]) -> Vec<OsString> {
    args.iter().map(|arg| arg.as_ref().to_os_string()).collect()
}

/// A directory we created; removed (only if empty) when released.
#[derive(Debug)]
struct DirGuard(Option<PathBuf>);

impl DirGuard {
    fn create(path: PathBuf) -> Result<DirGuard, LoopError> {
        fs::create_dir(&path).map_err(|error| LoopError::io("create directory", &path, error))?;
        Ok(DirGuard(Some(path)))
    }

    fn release(&mut self) -> Result<(), String> {
        let Some(path) = self.0.take() else {
            return Ok(());
        };
        fs::remove_dir(&path).map_err(|error| format!("cannot remove {}: {error}", path.display()))
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        report_leftover(self.release());
    }
}

/// An image file we created; deleted when released.
#[derive(Debug)]
struct ImageGuard(Option<PathBuf>);

impl ImageGuard {
    fn create(path: PathBuf, size_mib: u64) -> Result<ImageGuard, LoopError> {
        let file =
            File::create_new(&path).map_err(|error| LoopError::io("create image", &path, error))?;
        let guard = ImageGuard(Some(path.clone()));
        // Sparse: the filesystem allocates only what mkfs and the benchmark write.
        file.set_len(size_mib << 20)
            .map_err(|error| LoopError::io("size image", &path, error))?;
        Ok(guard)
    }

    fn release(&mut self) -> Result<(), String> {
        let Some(path) = self.0.take() else {
            return Ok(());
        };
        fs::remove_file(&path).map_err(|error| format!("cannot remove {}: {error}", path.display()))
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        report_leftover(self.release());
    }
}

/// A loop device we attached to `image`; detached when released, after checking it still is ours.
#[derive(Debug)]
struct LoopGuard {
    device: Option<PathBuf>,
    image: PathBuf,
}

impl LoopGuard {
    /// Attaches `image` with direct I/O: the image holds every write the file system completed.
    fn attach(image: &Path) -> Result<LoopGuard, LoopError> {
        let args = os_args([&"--find", &"--show", &"--direct-io=on", &image]);
        let stdout = run_tool("losetup", &args)?;
        let device = PathBuf::from(stdout.trim());
        let guard = LoopGuard {
            device: Some(device.clone()),
            image: image.to_path_buf(),
        };
        if !device.starts_with("/dev") || !guard.is_ours(&device) {
            return Err(LoopError::Tool {
                command: command_line("losetup", &args),
                status: format!(
                    "printed `{}`, which is not backed by our image",
                    stdout.trim()
                ),
                stderr: String::new(),
            });
        }
        Ok(guard)
    }

    /// Whether `device` is still backed by our image (the kernel's own record of it).
    fn is_ours(&self, device: &Path) -> bool {
        let Some(name) = device.file_name() else {
            return false;
        };
        let backing = Path::new("/sys/class/block")
            .join(name)
            .join("loop/backing_file");
        let Ok(recorded) = fs::read_to_string(backing) else {
            return false;
        };
        let ours = self
            .image
            .canonicalize()
            .unwrap_or_else(|_| self.image.clone());
        Path::new(recorded.trim()) == ours
    }

    fn device(&self) -> &Path {
        self.device.as_deref().unwrap_or(Path::new("(detached)"))
    }

    fn release(&mut self) -> Result<(), String> {
        let Some(device) = self.device.take() else {
            return Ok(());
        };
        if !self.is_ours(&device) {
            return Err(format!(
                "{} is no longer backed by {}: left alone",
                device.display(),
                self.image.display()
            ));
        }
        run_tool("losetup", &os_args([&"--detach", &device]))
            .map(drop)
            .map_err(|error| {
                format!(
                    "{error}; detach it by hand: losetup --detach {}",
                    device.display()
                )
            })
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        report_leftover(self.release());
    }
}

/// A filesystem we mounted; unmounted when released (retrying while it is briefly busy).
#[derive(Debug)]
struct MountGuard {
    target: Option<PathBuf>,
    /// The mount command, for the report.
    command: String,
}

impl MountGuard {
    fn mount(
        fstype: &str,
        source: &dyn AsRef<std::ffi::OsStr>,
        options: Option<&str>,
        target: &Path,
    ) -> Result<MountGuard, LoopError> {
        let mut args = os_args([&"-t", &fstype]);
        if let Some(options) = options {
            args.extend(os_args([&"-o", &options]));
        }
        args.extend(os_args([source, &target]));
        run_tool("mount", &args)?;
        Ok(MountGuard {
            target: Some(target.to_path_buf()),
            command: command_line("mount", &args),
        })
    }

    fn release(&mut self) -> Result<(), String> {
        let Some(target) = self.target.take() else {
            return Ok(());
        };
        let args = os_args([&target]);
        let mut last_error = String::new();
        for _attempt in 0..10 {
            match run_tool("umount", &args) {
                Ok(_) => return Ok(()),
                Err(error) => last_error = error.to_string(),
            }
            thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "{last_error}; unmount it by hand: umount {}",
            target.display()
        ))
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        report_leftover(self.release());
    }
}

fn report_leftover(result: Result<(), String>) {
    if let Err(problem) = result {
        eprintln!("torture: cleanup: {problem}");
    }
}

/// How a copy is mounted. Either way the kernel recovers it first: on a writable device ext4
/// replays its journal, xfs its log and btrfs its log tree also for a read-only mount (only
/// `noload`, `norecovery` and `nologreplay` skip that, and none is used). Read-only skips
/// what a writable mount does after recovery, and its unmount writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyAccess {
    /// To read the tree.
    ReadOnly,
    /// For `--recover` and `--check`, which may write.
    ReadWrite,
}

impl CopyAccess {
    fn flags(self) -> nix::mount::MsFlags {
        match self {
            CopyAccess::ReadOnly => nix::mount::MsFlags::MS_RDONLY,
            CopyAccess::ReadWrite => nix::mount::MsFlags::empty(),
        }
    }
}

/// An image that already exists (a snapshot, say), attached to a loop device and mounted, by
/// system calls (no `losetup` or `mount` process: a real state costs one of these).
/// Dropping it unmounts, then detaches; the image itself is the caller's.
#[derive(Debug)]
pub struct MountedImage {
    mount_point: Option<PathBuf>,
    device: Option<crate::sys::LoopDevice>,
}

impl MountedImage {
    /// Attaches `image` and mounts it as `kind` at `mount_point` (which must exist). The image
    /// is a copy, read once: it is attached through the page cache. (A reflinked file on xfs
    /// takes direct I/O only in whole 4 KiB blocks, and a loop device over it would refuse a
    /// file system with 1 KiB blocks or 512-byte sectors.) The device detaches by itself once
    /// unmounted and closed (autoclear), so nothing stays attached if we die. The device is
    /// writable whatever `access` says: log recovery writes to it.
    pub fn mount(
        kind: FsKind,
        image: &Path,
        mount_point: &Path,
        (options, access): (Option<&str>, CopyAccess),
    ) -> Result<MountedImage, LoopError> {
        let backing = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(image)
            .map_err(|error| LoopError::io("open image", image, error))?;
        let device = crate::sys::attach_loop(&backing)
            .map_err(|error| LoopError::io("attach a loop device to", image, error))?;
        let mut mounted = MountedImage {
            mount_point: None,
            device: Some(device),
        };
        let source = mounted.device.as_ref().map(|d| d.path().to_path_buf());
        nix::mount::mount(
            source.as_deref(),
            mount_point,
            Some(kind.name()),
            access.flags(),
            options,
        )
        .map_err(|errno| LoopError::Tool {
            command: format!(
                "mount({}, {}, {kind}, {access:?}, {})",
                source.unwrap_or_default().display(),
                mount_point.display(),
                options.unwrap_or("")
            ),
            status: errno.desc().to_owned(),
            stderr: String::new(),
        })?;
        mounted.mount_point = Some(mount_point.to_path_buf());
        Ok(mounted)
    }

    /// Unmounts and detaches, and says what could not be undone.
    pub fn unmount(mut self) -> Vec<String> {
        match self.release() {
            Ok(()) => Vec::new(),
            Err(problem) => vec![problem],
        }
    }

    fn release(&mut self) -> Result<(), String> {
        if let Some(target) = self.mount_point.take() {
            unmount_retrying(&target)?;
        }
        match self.device.take() {
            Some(device) => {
                let path = device.path().display().to_string();
                device.detach().map_err(|error| {
                    format!("cannot detach {path}: {error}; losetup --detach {path}")
                })
            }
            None => Ok(()),
        }
    }
}

impl Drop for MountedImage {
    fn drop(&mut self) {
        report_leftover(self.release());
    }
}

/// `umount2(target)`, retried while the file system is briefly busy.
fn unmount_retrying(target: &Path) -> Result<(), String> {
    let mut last_error = nix::errno::Errno::UnknownErrno;
    for _attempt in 0..10 {
        match nix::mount::umount2(target, nix::mount::MntFlags::empty()) {
            Ok(()) => return Ok(()),
            Err(errno) => last_error = errno,
        }
        thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "cannot unmount {}: {}; unmount it by hand: umount {}",
        target.display(),
        last_error.desc(),
        target.display()
    ))
}

/// The image file and the loop device over it, for every kind but tmpfs. Fields drop in
/// declaration order: detach, then delete the image.
#[derive(Debug)]
struct LoopBacking {
    loop_device: LoopGuard,
    image: ImageGuard,
}

impl LoopBacking {
    /// Makes a sparse image, attaches it and runs mkfs on the device.
    fn create(
        kind: FsKind,
        scratch: &Path,
        size_mib: u64,
        setup: &mut Vec<String>,
    ) -> Result<LoopBacking, LoopError> {
        let Some((mkfs, mkfs_args)) = kind.mkfs() else {
            return Err(LoopError::Usage(format!(
                "{kind} is not made on a loop device"
            )));
        };
        let image_path = scratch.join(format!("{kind}.img"));
        let image = ImageGuard::create(image_path.clone(), size_mib)?;
        setup.push(format!("truncate -s {size_mib}M {}", image_path.display()));
        let loop_device = LoopGuard::attach(&image_path)?;
        let device = loop_device.device().to_path_buf();
        setup.push(format!(
            "losetup --find --show --direct-io=on {} -> {}",
            image_path.display(),
            device.display()
        ));
        let mut args: Vec<OsString> = mkfs_args.iter().map(OsString::from).collect();
        args.push(device.into_os_string());
        run_tool(mkfs, &args)?;
        setup.push(command_line(mkfs, &args));
        Ok(LoopBacking { loop_device, image })
    }
}

/// A mounted scratch filesystem. Fields drop in declaration order: unmount, detach and delete
/// the image, remove the mount point.
#[derive(Debug)]
pub struct ScratchFs {
    mount: MountGuard,
    backing: Option<LoopBacking>,
    mount_dir: DirGuard,
    pub kind: FsKind,
    pub mount_point: PathBuf,
    /// The commands that made it, for the report.
    pub setup: Vec<String>,
}

impl ScratchFs {
    /// Makes and mounts a fresh `kind` filesystem of `size_mib` under `scratch`.
    pub fn create(kind: FsKind, scratch: &Path, size_mib: u64) -> Result<ScratchFs, LoopError> {
        ScratchFs::create_with(kind, scratch, size_mib, None)
    }

    /// [`ScratchFs::create`] with mount options for the loop-mounted kinds (`noauto_da_alloc`).
    pub fn create_with(
        kind: FsKind,
        scratch: &Path,
        size_mib: u64,
        options: Option<&str>,
    ) -> Result<ScratchFs, LoopError> {
        let mount_point = scratch.join(format!("mnt-{kind}"));
        let mount_dir = DirGuard::create(mount_point.clone())?;
        let mut setup = Vec::new();
        let (backing, mount) = if kind == FsKind::Tmpfs {
            let options = format!("size={size_mib}m,mode=0700");
            let mount = MountGuard::mount("tmpfs", &"torture-bench", Some(&options), &mount_point)?;
            (None, mount)
        } else {
            let backing = LoopBacking::create(kind, scratch, size_mib, &mut setup)?;
            let device = backing.loop_device.device().to_path_buf();
            (
                Some(backing),
                MountGuard::mount(kind.name(), &device, options, &mount_point)?,
            )
        };
        setup.push(mount.command.clone());
        Ok(ScratchFs {
            mount,
            backing,
            mount_dir,
            kind,
            mount_point,
            setup,
        })
    }

    /// The backing image file (`None` for tmpfs, or once released).
    pub fn image(&self) -> Option<&Path> {
        self.backing
            .as_ref()
            .and_then(|backing| backing.image.0.as_deref())
    }

    /// Undoes the setup in reverse order and says what could not be undone.
    pub fn teardown(mut self) -> Vec<String> {
        self.release_all()
    }

    /// Stops at the first failure: detaching a device that is still mounted, or deleting its
    /// image, would only make the leftover harder to clean up by hand. What is left is listed.
    fn release_all(&mut self) -> Vec<String> {
        let backing = self.backing.as_mut();
        let (loop_device, image) = match backing {
            Some(backing) => (Some(&mut backing.loop_device), Some(&mut backing.image)),
            None => (None, None),
        };
        let result = self
            .mount
            .release()
            .and_then(|()| loop_device.map_or(Ok(()), LoopGuard::release))
            .and_then(|()| image.map_or(Ok(()), ImageGuard::release))
            .and_then(|()| self.mount_dir.release());
        match result {
            Ok(()) => Vec::new(),
            Err(problem) => {
                let mut problems = vec![problem];
                problems.extend(self.leave_in_place());
                problems
            }
        }
    }

    /// Disarms the remaining guards and says what each leaves behind.
    fn leave_in_place(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        if let Some(backing) = self.backing.as_mut() {
            if let Some(device) = backing.loop_device.device.take() {
                left.push(format!(
                    "left attached: losetup --detach {}",
                    device.display()
                ));
            }
            if let Some(image) = backing.image.0.take() {
                left.push(format!("left in place: rm {}", image.display()));
            }
        }
        if let Some(dir) = self.mount_dir.0.take() {
            left.push(format!("left in place: rmdir {}", dir.display()));
        }
        left
    }
}

impl Drop for ScratchFs {
    fn drop(&mut self) {
        for problem in self.release_all() {
            eprintln!("torture: cleanup: {problem}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use torture_core::mountinfo;

    /// Root and the tools, or a clear note that the test is skipped.
    pub(crate) fn can_mount(kind: FsKind) -> bool {
        if !testkit::root_or_skip("to attach loop devices and mount") {
            return false;
        }
        if let Err(error) = check_tools(&[kind]) {
            testkit::skip(&error.to_string());
            return false;
        }
        true
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("torture-loopfs-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn is_mounted(path: &Path) -> bool {
        let mounts =
            mountinfo::parse(&fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap();
        mounts.iter().any(|mount| mount.mount_point == path)
    }

    fn attached_to(image: &Path) -> bool {
        fs::read_dir("/sys/class/block")
            .unwrap()
            .flatten()
            .any(|entry| {
                fs::read_to_string(entry.path().join("loop/backing_file"))
                    .is_ok_and(|backing| Path::new(backing.trim()) == image)
            })
    }

    #[test]
    fn a_loop_filesystem_is_mounted_then_removed_without_a_trace() {
        if !can_mount(FsKind::Ext4) {
            return;
        }
        let scratch = scratch_dir("ext4");
        let image = scratch.canonicalize().unwrap().join("ext4.img");
        let made = ScratchFs::create(FsKind::Ext4, &scratch, 64).unwrap();
        let mount_point = made.mount_point.clone();
        assert!(is_mounted(&mount_point));
        assert!(attached_to(&image));
        fs::write(mount_point.join("file"), b"x").unwrap();
        assert_eq!(made.teardown(), Vec::<String>::new());
        assert!(!is_mounted(&mount_point));
        assert!(!attached_to(&image));
        assert_eq!(
            fs::read_dir(&scratch).unwrap().count(),
            0,
            "image and mount point removed"
        );
        fs::remove_dir(&scratch).unwrap();
    }

    #[test]
    fn a_failed_mkfs_detaches_the_device_and_removes_the_image() {
        if !can_mount(FsKind::Xfs) {
            return;
        }
        let scratch = scratch_dir("xfs-small");
        let image = scratch.canonicalize().unwrap().join("xfs.img");
        // mkfs.xfs refuses a filesystem this small.
        let error = ScratchFs::create(FsKind::Xfs, &scratch, 16).unwrap_err();
        assert!(error.to_string().contains("mkfs.xfs"), "{error}");
        assert!(!attached_to(&image));
        assert_eq!(
            fs::read_dir(&scratch).unwrap().count(),
            0,
            "nothing left behind"
        );
        fs::remove_dir(&scratch).unwrap();
    }

    #[test]
    fn tmpfs_needs_no_device() {
        if !can_mount(FsKind::Tmpfs) {
            return;
        }
        let scratch = scratch_dir("tmpfs");
        let made = ScratchFs::create(FsKind::Tmpfs, &scratch, 16).unwrap();
        let mount_point = made.mount_point.clone();
        assert!(is_mounted(&mount_point));
        drop(made); // the Drop path cleans up just like teardown
        assert!(!is_mounted(&mount_point));
        assert!(!mount_point.exists());
        fs::remove_dir(&scratch).unwrap();
    }

    #[test]
    fn a_missing_tool_names_its_package() {
        let error = LoopError::MissingTool {
            tool: "mkfs.btrfs".into(),
            package: "btrfs-progs".into(),
        };
        assert!(error.to_string().contains("btrfs-progs"));
        assert!(find_tool("surely-not-a-real-tool-name").is_none());
        assert!(find_tool("sh").is_some());
    }
}
