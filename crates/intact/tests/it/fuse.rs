//! New files on FUSE (bindfs, mounted by the test): the same mode and ACL as `File::create`
//! gives in the same directory, whatever the default ACL and the umask. (A FUSE filesystem
//! may apply the umask even where the directory has a default ACL, unlike ext4.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use intact::{Options, Overwrite, Temp};

use crate::metadata::{acl_of, run};
use crate::util::{TestDir, is_root, mode_of, skip, with_thread_umask};

/// A bindfs mount of `source` at `mount`, unmounted (lazily) on drop.
struct Bindfs {
    mount: PathBuf,
}

impl Bindfs {
    fn mount(source: &Path, mount: &Path) -> Bindfs {
        std::fs::create_dir_all(mount).unwrap();
        run(
            "bindfs",
            &[&source.display().to_string(), &mount.display().to_string()],
        );
        Bindfs {
            mount: mount.to_path_buf(),
        }
    }
}

impl Drop for Bindfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.mount, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Why a FUSE mount cannot be made here, if it cannot.
fn fuse_missing() -> Option<&'static str> {
    let runs = |program: &str| Command::new(program).arg("--version").output().is_ok();
    if !is_root() {
        Some("needs root (mounts bindfs)")
    } else if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if !runs("bindfs") {
        Some("no bindfs (.ci/setup fs installs it)")
    } else if !runs("setfacl") {
        Some("no setfacl (.ci/setup fs installs acl)")
    } else {
        None
    }
}

/// Default ACLs of the issue's report: one without named entries (the umask must still
/// apply on FUSE) and one with a named user and a mask.
const DEFAULT_ACLS: [(&str, &str); 2] =
    [("plain", "u::rw,g::r,o::r"), ("named", "u:nobody:rw,m::rw")];

#[test]
fn new_files_on_fuse_get_what_file_create_gives() {
    if let Some(reason) = fuse_missing() {
        skip(&format!("FUSE default-ACL test: {reason}"));
        return;
    }
    let dir = TestDir::new("fuse-acl");
    let source = dir.join("source");
    std::fs::create_dir(&source).unwrap();
    for (label, acl) in DEFAULT_ACLS {
        let sub = source.join(label);
        std::fs::create_dir(&sub).unwrap();
        run("setfacl", &["-d", "-m", acl, &sub.display().to_string()]);
    }
    let fuse = Bindfs::mount(&source, &dir.join("mount"));
    for (label, _) in DEFAULT_ACLS {
        for umask in [0o022, 0o077] {
            let sub = fuse.mount.join(label);
            with_thread_umask(umask, || compare_with_file_create(&sub, umask));
        }
    }
}

/// In `dir` (on the FUSE mount), under the calling thread's umask: every temp kind and
/// overwrite policy gives a new file the mode and ACL of one made by `File::create`.
fn compare_with_file_create(dir: &Path, umask: u32) {
    let reference = dir.join(format!("reference-{umask:o}"));
    std::fs::File::create(&reference).unwrap();
    let (mode, acl) = (mode_of(&reference), acl_of(&reference));
    for temp in [Temp::Auto, Temp::Named] {
        for overwrite in [Overwrite::Replace, Overwrite::NoClobber] {
            let path = dir.join(format!("{temp:?}-{overwrite:?}-{umask:o}"));
            let options = Options::new().temp(temp).overwrite(overwrite);
            options.write(&path, b"new").unwrap();
            let what = format!("{} {temp:?} {overwrite:?} umask {umask:o}", dir.display());
            assert_eq!(
                format!("{:o}", mode_of(&path)),
                format!("{mode:o}"),
                "{what}"
            );
            assert_eq!(acl_of(&path), acl, "{what}");
        }
        // Replacing with `preserve_mode(false)` gives the new-file mode too.
        let replaced = dir.join(format!("{temp:?}-replaced-{umask:o}"));
        std::fs::write(&replaced, b"old").unwrap();
        std::fs::set_permissions(&replaced, std::fs::Permissions::from_mode(0o777)).unwrap();
        let options = Options::new().temp(temp).preserve_mode(false);
        options.write(&replaced, b"new").unwrap();
        let what = format!("{} {temp:?} replaced, umask {umask:o}", dir.display());
        assert_eq!(
            format!("{:o}", mode_of(&replaced)),
            format!("{mode:o}"),
            "{what}"
        );
    }
}
