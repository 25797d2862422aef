//! Sandbox directories: where each writer runs, and nothing the harness touches lies outside.
//!
//! Layout: `<dir>/torture-<run-id>/<subject>/<slot>/`, one slot per worker, reset between trials.
//! Cleanup never follows a symbolic link: `std::fs::remove_dir_all` opens each level with
//! `O_NOFOLLOW` on Linux (since Rust 1.58, CVE-2022-21658), and a writer that replaced its own
//! sandbox with a symlink gets the link removed, not what it points to. Every removal is checked
//! to lie strictly inside the run root first.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use torture_core::oracle::{FileKind, TargetState};

/// An I/O failure in the harness's own sandbox handling, naming the path and what to do.
#[derive(Debug)]
pub struct SandboxError {
    /// What the harness was doing.
    pub action: String,
    /// The path it was acting on.
    pub path: PathBuf,
    /// The underlying error.
    pub source: io::Error,
    /// What the user can do about it.
    pub hint: &'static str,
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn error(
    action: impl Into<String>,
    path: &Path,
    hint: &'static str,
) -> impl FnOnce(io::Error) -> SandboxError {
    let (action, path) = (action.into(), path.to_owned());
    move |source| SandboxError {
        action,
        path,
        source,
        hint,
    }
}

/// A file left in a sandbox besides the target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Orphan {
    /// Path relative to the sandbox (`/` appended for an empty directory).
    pub name: String,
    /// Size in bytes (of the link itself for a symlink).
    pub size_bytes: u64,
}

/// Where sandboxes go without `--dir`: `$TMPDIR` if set, else `/dev/shm` when it is a writable
/// directory (tmpfs: SIGKILL outcomes do not depend on the filesystem, since the page cache
/// survives the writer, but trial speed does), else `/tmp`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TMPDIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = shm.is_dir() && rustix::fs::access(shm, rustix::fs::Access::WRITE_OK).is_ok();
    if writable {
        shm.to_owned()
    } else {
        PathBuf::from("/tmp")
    }
}

/// Checks a `--target` name: a relative path of plain components, so the target stays inside
/// the sandbox. A leading `./` is dropped (`./x.json` is `x.json`).
pub fn check_target_name(name: &str) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err(
            "--target is empty: give a file name relative to the sandbox, e.g. target.json".into(),
        );
    }
    let outside = || {
        format!(
            "--target {name:?} names a target outside the sandbox: give a relative file name without `..`, \
             e.g. target.json or data/state.json"
        )
    };
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(outside());
            }
        }
    }
    if path.as_os_str().is_empty() || name.ends_with('/') {
        return Err(format!(
            "--target {name:?} names a directory, not a file: give a file name, e.g. target.json"
        ));
    }
    Ok(path)
}

/// The directory holding every sandbox of one run; removed (without following symlinks) on drop.
#[derive(Debug)]
pub struct RunRoot {
    path: PathBuf,
}

impl RunRoot {
    /// Creates `<dir>/torture-<run_id>`. Fails with a clear error when `dir` is missing, not a
    /// directory, or not writable.
    pub fn create(dir: &Path, run_id: &str) -> Result<RunRoot, SandboxError> {
        const HINT: &str = "pass --dir a writable directory on the filesystem you want to test";
        let dir = dir.canonicalize().map_err(error("use --dir", dir, HINT))?;
        if !dir.is_dir() {
            let not_dir = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
            return Err(error("use --dir", &dir, HINT)(not_dir));
        }
        let path = dir.join(format!("torture-{run_id}"));
        // /proc answers ENOENT here, which alone would read like a missing path: say what
        // --dir has to be.
        fs::create_dir(&path).map_err(|e| {
            let why = format!("not a writable directory (cannot create sandboxes there: {e})");
            error("use --dir", &dir, HINT)(io::Error::new(e.kind(), why))
        })?;
        Ok(RunRoot { path })
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the sandbox `<root>/<group>/<slot>/`; `group` and `slot` must be plain names.
    pub fn sandbox(&self, group: &str, slot: &str, target: &Path) -> Result<Sandbox, SandboxError> {
        let path = self
            .path
            .join(plain_component(group))
            .join(plain_component(slot));
        fs::create_dir_all(&path).map_err(error("create sandbox", &path, ""))?;
        Ok(Sandbox {
            root: self.path.clone(),
            target: path.join(target),
            path,
        })
    }

    /// Creates the plain directory `<root>/<group>/<name>/` for the harness's own files (logs),
    /// outside every sandbox.
    pub fn directory(&self, group: &str, name: &str) -> Result<PathBuf, SandboxError> {
        let path = self
            .path
            .join(plain_component(group))
            .join(plain_component(name));
        fs::create_dir_all(&path).map_err(error("create directory", &path, ""))?;
        Ok(path)
    }

    /// Removes the whole run root now (also done on drop).
    pub fn remove(&self) -> Result<(), SandboxError> {
        remove_inside(&self.path, &self.path)
    }
}

impl Drop for RunRoot {
    fn drop(&mut self) {
        // Best effort: an error here has no one to report to, and the root is a fresh directory
        // of our own under --dir.
        let _ = self.remove();
    }
}

/// Keeps a name usable as one path component (subject labels are ours, but a label taken from a
/// user's command must never climb out of the directory it is joined to).
pub fn plain_component(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".to_owned(),
        _ => cleaned,
    }
}

/// Copies the tree at `from` to the new directory `to`, without following symlinks.
fn copy_tree(from: &Path, to: &Path) -> Result<(), SandboxError> {
    fs::create_dir(to).map_err(error("create the check copy", to, ""))?;
    copy_into(from, to)
}

/// Copies what the directory `from` holds into the existing directory `to` (modes kept).
pub fn copy_into(from: &Path, to: &Path) -> Result<(), SandboxError> {
    let entries = fs::read_dir(from).map_err(error("list sandbox directory", from, ""))?;
    for entry in entries {
        let entry = entry.map_err(error("list sandbox directory", from, ""))?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(error("inspect", &source, ""))?;
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(error("read link", &source, ""))?;
            std::os::unix::fs::symlink(link, &dest).map_err(error("copy link", &dest, ""))?;
        } else if kind.is_file() {
            fs::copy(&source, &dest).map_err(error("copy", &source, ""))?;
        }
    }
    Ok(())
}

/// One sandbox directory: a writer's working directory.
#[derive(Debug, Clone)]
pub struct Sandbox {
    root: PathBuf,
    path: PathBuf,
    target: PathBuf,
}

/// `orphans` without the names `--setup` prepared (`prepared`, as [`Sandbox::orphans`] names
/// them): a file of the starting tree is the application's, not a leftover of the writer.
pub fn not_prepared(orphans: Vec<Orphan>, prepared: &[String]) -> Vec<Orphan> {
    orphans
        .into_iter()
        .filter(|orphan| !prepared.contains(&orphan.name))
        .collect()
}

impl Sandbox {
    /// The sandbox directory (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The target's absolute path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Empties the sandbox and seeds the old version at the target when there is one.
    ///
    /// The directory itself is kept (on ext4, `rmdir` + `mkdir` costs about a millisecond, far
    /// more than the trial's own unlinks); a writer that replaced it with a symlink or a file
    /// gets that removed and a fresh directory made. Every writer process is dead by now, so
    /// nothing races the check.
    pub fn reset(&self, old: Option<&[u8]>) -> Result<(), SandboxError> {
        match fs::symlink_metadata(&self.path) {
            Ok(metadata) if metadata.is_dir() => self.clear()?,
            Ok(_) => {
                remove_inside(&self.root, &self.path)?;
                fs::create_dir(&self.path).map_err(error("recreate sandbox", &self.path, ""))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&self.path).map_err(error("recreate sandbox", &self.path, ""))?;
            }
            Err(e) => return Err(error("inspect sandbox", &self.path, "")(e)),
        }
        match old {
            Some(bytes) => self.seed(bytes),
            None => Ok(()),
        }
    }

    /// Empties the sandbox and fills it with a copy of the tree `--setup` prepared in `start`
    /// (no target directory is made: the setup's tree is the whole start).
    pub fn reset_to(&self, start: &Path) -> Result<(), SandboxError> {
        self.reset(None)?;
        self.clear()?;
        copy_into(start, &self.path)
    }

    /// Removes every entry of the sandbox, never following a symlink.
    fn clear(&self) -> Result<(), SandboxError> {
        let entries = fs::read_dir(&self.path).map_err(error("list sandbox", &self.path, ""))?;
        for entry in entries {
            let entry = entry.map_err(error("list sandbox", &self.path, ""))?;
            remove_inside(&self.root, &entry.path())?;
        }
        Ok(())
    }

    fn seed(&self, bytes: &[u8]) -> Result<(), SandboxError> {
        // The old version's directory exists with it. Without an old version nothing is made:
        // a writer that creates its own directory (`hg init`, a pipeline's `out/`) must find
        // none there.
        if let Some(parent) = self.target.parent() {
            let create = fs::create_dir_all(parent);
            create.map_err(error("create the target's directory", parent, ""))?;
        }
        // A new file, never a truncated one: on ext4 truncating a file with data and rewriting it
        // triggers a flush on close (auto_da_alloc) that costs milliseconds.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.target)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(error("seed the old version at", &self.target, ""))
    }

    /// Removes this sandbox directory and everything in it, never following a symlink.
    pub fn remove(&self) -> Result<(), SandboxError> {
        remove_inside(&self.root, &self.path)
    }

    /// What is at the target, without following a symlink.
    pub fn read_target(&self) -> Result<TargetState, SandboxError> {
        self.read_path(&self.target)
    }

    /// What is at `relative` (a path inside the sandbox), without following a symlink.
    pub fn read_relative(&self, relative: &str) -> Result<TargetState, SandboxError> {
        self.read_path(&self.path.join(relative))
    }

    /// Every name in the sandbox that is not a directory, relative and sorted (symlinks are
    /// listed, never followed).
    pub fn files(&self) -> Result<Vec<String>, SandboxError> {
        let mut files = Vec::new();
        let mut pending = vec![self.path.clone()];
        while let Some(dir) = pending.pop() {
            let entries = fs::read_dir(&dir).map_err(error("list sandbox directory", &dir, ""))?;
            for entry in entries {
                let entry = entry.map_err(error("list sandbox directory", &dir, ""))?;
                let path = entry.path();
                let kind = entry.file_type().map_err(error("inspect", &path, ""))?;
                match kind.is_dir() {
                    true => pending.push(path),
                    false => files.push(self.relative(&path)),
                }
            }
        }
        files.sort();
        Ok(files)
    }

    fn read_path(&self, at: &Path) -> Result<TargetState, SandboxError> {
        let metadata = match fs::symlink_metadata(at) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TargetState::Absent),
            // A component of the target's parent is a file: nothing can exist at the target.
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(TargetState::Absent),
            Err(e) => return Err(error("inspect the target", at, "")(e)),
        };
        let file_type = metadata.file_type();
        if file_type.is_file() {
            read_regular(at).map(TargetState::Regular)
        } else if file_type.is_dir() {
            Ok(TargetState::NotRegular(FileKind::Directory))
        } else if file_type.is_symlink() {
            Ok(TargetState::NotRegular(FileKind::Symlink))
        } else {
            Ok(TargetState::NotRegular(FileKind::Other))
        }
    }

    /// Every entry in the sandbox besides the target and its parent directories, sorted by name.
    /// Directories are listed only when empty; symlinks are listed, never followed.
    pub fn orphans(&self) -> Result<Vec<Orphan>, SandboxError> {
        let mut orphans = Vec::new();
        let mut pending = vec![self.path.clone()];
        while let Some(dir) = pending.pop() {
            let entries = fs::read_dir(&dir).map_err(error("list sandbox directory", &dir, ""))?;
            let mut empty = true;
            for entry in entries {
                let entry = entry.map_err(error("list sandbox directory", &dir, ""))?;
                empty = false;
                self.visit(&entry, &mut orphans, &mut pending)?;
            }
            if empty && dir != self.path && !self.target.starts_with(&dir) {
                orphans.push(Orphan {
                    name: format!("{}/", self.relative(&dir)),
                    size_bytes: 0,
                });
            }
        }
        orphans.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(orphans)
    }

    fn visit(
        &self,
        entry: &fs::DirEntry,
        orphans: &mut Vec<Orphan>,
        pending: &mut Vec<PathBuf>,
    ) -> Result<(), SandboxError> {
        let path = entry.path();
        if path == self.target {
            return Ok(());
        }
        let metadata = fs::symlink_metadata(&path).map_err(error("inspect", &path, ""))?;
        if metadata.is_dir() {
            pending.push(path);
        } else {
            orphans.push(Orphan {
                name: self.relative(&path),
                size_bytes: metadata.len(),
            });
        }
        Ok(())
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.path)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

/// The bytes of the regular file at `at`, never following a symlink.
fn read_regular(at: &Path) -> Result<Vec<u8>, SandboxError> {
    let mut bytes = Vec::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(at)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(error("read the target", at, ""))?;
    Ok(bytes)
}

/// Describes a non-regular file kind for messages.
pub fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Directory => "a directory",
        FileKind::Symlink => "a symbolic link",
        FileKind::Other => "a special file",
    }
}

/// Removes `path` recursively without following symlinks, refusing anything not strictly inside
/// `root` (or `root` itself).
fn remove_inside(root: &Path, path: &Path) -> Result<(), SandboxError> {
    let inside = path.starts_with(root)
        && path
            .components()
            .all(|c| !matches!(c, Component::ParentDir));
    if !inside {
        let refused = io::Error::new(
            io::ErrorKind::PermissionDenied,
            "outside the sandbox root; refused",
        );
        return Err(error("remove", path, "")(refused));
    }
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    .map_err(error("remove", path, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "torture-sandbox-test-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn target_names_must_stay_inside() {
        assert!(check_target_name("target.json").is_ok());
        assert!(check_target_name("data/state.json").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            ".",
            "./",
            "a/",
            "./x/..",
        ] {
            assert!(check_target_name(bad).is_err(), "{bad:?} accepted");
        }
        for (relative, plain) in [
            ("./x.json", "x.json"),
            ("x.json", "x.json"),
            ("./d/./x", "d/x"),
        ] {
            assert_eq!(check_target_name(relative), Ok(PathBuf::from(plain)));
        }
        assert!(
            check_target_name("../x")
                .unwrap_err()
                .contains("outside the sandbox")
        );
    }

    #[test]
    fn seed_read_and_orphans() {
        let dir = scratch("seed");
        let root = RunRoot::create(&dir, "t1").expect("root");
        let sandbox = root
            .sandbox("plain", "w0", Path::new("target.json"))
            .expect("sandbox");
        sandbox.reset(Some(b"old")).expect("reset");
        assert_eq!(
            sandbox.read_target().expect("read"),
            TargetState::Regular(b"old".to_vec())
        );
        fs::write(sandbox.path().join(".target.json.tmp"), b"12345").expect("write temp");
        fs::create_dir(sandbox.path().join("empty")).expect("mkdir");
        symlink("/etc/passwd", sandbox.path().join("link")).expect("symlink");
        let names: Vec<(String, u64)> = sandbox
            .orphans()
            .expect("orphans")
            .into_iter()
            .map(|o| (o.name, o.size_bytes))
            .collect();
        let expected = [
            (".target.json.tmp", 5),
            ("empty/", 0),
            ("link", "/etc/passwd".len() as u64),
        ];
        assert_eq!(names, expected.map(|(n, s)| (n.to_owned(), s)));
        sandbox.reset(None).expect("reset");
        assert_eq!(sandbox.read_target().expect("read"), TargetState::Absent);
        assert!(sandbox.orphans().expect("orphans").is_empty());
        drop(root);
        assert_eq!(
            fs::read_dir(&dir).expect("dir").count(),
            0,
            "run root not removed"
        );
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_nested_target_gets_its_directory_with_its_old_version_only() {
        let dir = scratch("nested");
        let root = RunRoot::create(&dir, "t3").expect("root");
        let sandbox = root
            .sandbox("s", "w0", Path::new("data/state.json"))
            .expect("sandbox");
        sandbox.reset(None).expect("reset");
        // No old version: the writer makes its directory itself (`hg init` refuses one).
        assert!(!sandbox.path().join("data").exists());
        assert_eq!(sandbox.read_target().expect("read"), TargetState::Absent);
        assert!(sandbox.orphans().expect("orphans").is_empty());
        sandbox.reset(Some(b"old")).expect("reset");
        assert_eq!(
            sandbox.read_target().expect("read"),
            TargetState::Regular(b"old".to_vec())
        );
        assert!(sandbox.orphans().expect("orphans").is_empty());
        assert_eq!(sandbox.files().expect("files"), ["data/state.json"]);
        assert_eq!(
            sandbox.read_relative("data/state.json").expect("read"),
            TargetState::Regular(b"old".to_vec())
        );
        drop(root);
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn cleanup_never_follows_symlinks() {
        let dir = scratch("symlink");
        let outside = dir.join("outside");
        fs::create_dir(&outside).expect("mkdir");
        fs::write(outside.join("precious"), b"keep").expect("write");
        let root = RunRoot::create(&dir, "t2").expect("root");
        let sandbox = root
            .sandbox("s", "w0", Path::new("target.json"))
            .expect("sandbox");
        symlink(&outside, sandbox.path().join("escape")).expect("symlink");
        symlink(&outside, sandbox.target()).expect("symlink target");
        assert_eq!(
            sandbox.read_target().expect("read"),
            TargetState::NotRegular(FileKind::Symlink)
        );
        sandbox.reset(None).expect("reset");
        // A writer that swaps its whole sandbox for a link to elsewhere.
        fs::remove_dir_all(sandbox.path()).expect("rm sandbox");
        symlink(&outside, sandbox.path()).expect("symlink sandbox");
        sandbox.reset(None).expect("reset");
        assert!(fs::symlink_metadata(sandbox.path()).expect("stat").is_dir());
        drop(root);
        assert_eq!(
            fs::read(outside.join("precious")).expect("precious survives"),
            b"keep"
        );
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn removal_outside_the_root_is_refused() {
        let dir = scratch("refuse");
        let err = remove_inside(&dir.join("root"), &dir).expect_err("must refuse");
        assert!(err.to_string().contains("outside the sandbox root"));
        let err =
            remove_inside(&dir.join("root"), &dir.join("root/../x")).expect_err("must refuse");
        assert!(err.to_string().contains("refused"));
        assert!(dir.exists());
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn missing_or_file_dir_is_a_clear_error() {
        let dir = scratch("baddir");
        let err = RunRoot::create(&dir.join("missing"), "t").expect_err("missing dir");
        assert!(err.to_string().contains("--dir"), "{err}");
        fs::write(dir.join("file"), b"").expect("write");
        let err = RunRoot::create(&dir.join("file"), "t").expect_err("file as dir");
        assert!(err.to_string().contains("writable directory"), "{err}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn group_names_cannot_climb_out() {
        assert_eq!(plain_component(".."), "_");
        assert_eq!(plain_component("a/b"), "a_b");
        assert_eq!(plain_component("intact-named"), "intact-named");
    }
}
