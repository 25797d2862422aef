//! Error injection: a write that fails midway (RLIMIT_FSIZE, ENOSPC) leaves the target
//! untouched and no temp file behind.

use std::path::{Path, PathBuf};

use intact::{Batch, Options, Temp};

use crate::util::{TestDir, child_arg, child_role, is_root, report, spawn_child};

const LIMIT_BYTES: u64 = 64 * 1024;
const TOO_BIG_BYTES: usize = 256 * 1024;

const LIMITED: &str = "fsize-limited-writer";
const FSIZE_TEST: &str = "limits::write_past_rlimit_fsize_fails_with_efbig_and_leaves_no_trace";

#[test]
fn write_past_rlimit_fsize_fails_with_efbig_and_leaves_no_trace() {
    if child_role().as_deref() == Some(LIMITED) {
        return write_past_the_limit();
    }
    let dir = TestDir::new("fsize");
    let target = dir.join("target");
    std::fs::write(&target, b"old bytes").unwrap();
    let reports = spawn_child(FSIZE_TEST, LIMITED, &[("TARGET", &target)]).finish();
    assert!(reports.len() >= 2, "{reports:?}");
    for report in &reports {
        let efbig = format!("errno={} kind=FileTooLarge", libc::EFBIG);
        assert!(report.contains(&efbig), "{report}");
        assert!(report.contains(&target.display().to_string()), "{report}");
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"old bytes");
    assert_eq!(dir.names(), ["target"]);
}

/// Child: limit file size, block SIGXFSZ (so the write fails with EFBIG instead of the signal
/// killing the process; the signal stays pending in this thread), write too much.
fn write_past_the_limit() {
    use nix::sys::resource::{Resource, setrlimit};
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut xfsz = SigSet::empty();
    xfsz.add(Signal::SIGXFSZ);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&xfsz), None).expect("block SIGXFSZ");
    setrlimit(Resource::RLIMIT_FSIZE, LIMIT_BYTES, LIMIT_BYTES).expect("setrlimit");
    let target = child_arg("TARGET");
    for temp in [Temp::Named, Temp::Anonymous] {
        let result = Options::new()
            .temp(temp)
            .write(&target, vec![b'x'; TOO_BIG_BYTES]);
        match result {
            Err(error) if error.kind() == std::io::ErrorKind::Unsupported => continue,
            Err(error) => {
                let errno = crate::util::errno_of(&error).unwrap_or(0);
                report(&format!("errno={errno} kind={:?} {error}", error.kind()));
            }
            Ok(()) => report("the write succeeded past RLIMIT_FSIZE"),
        }
    }
}

/// A tmpfs mounted for the test, unmounted (lazily, so a failing test cannot leave it busy)
/// when dropped.
struct TinyTmpfs {
    path: PathBuf,
}

impl TinyTmpfs {
    fn mount(path: &Path, size: &str) -> TinyTmpfs {
        use nix::mount::{MsFlags, mount};
        std::fs::create_dir(path).unwrap();
        let options = format!("size={size},mode=0755");
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .expect("mount tmpfs");
        TinyTmpfs {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for TinyTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn enospc_on_a_full_filesystem_leaves_the_target_and_no_temp_file() {
    if !is_root() {
        crate::util::skip("needs root (mounts a 64 KiB tmpfs to run out of space)");
        return;
    }
    let dir = TestDir::new("enospc");
    let tiny = TinyTmpfs::mount(&dir.join("tiny"), "64k");
    let target = tiny.path.join("target");
    std::fs::write(&target, b"old bytes").unwrap();
    for temp in [Temp::Named, Temp::Anonymous, Temp::Auto] {
        let error = Options::new()
            .temp(temp)
            .write(&target, vec![b'x'; TOO_BIG_BYTES])
            .unwrap_err();
        assert_eq!(
            crate::util::errno_of(&error),
            Some(libc::ENOSPC),
            "{temp:?}: {error}"
        );
        assert!(
            error.to_string().contains(&target.display().to_string()),
            "{error}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"old bytes", "{temp:?}");
        assert_eq!(crate::util::names_in(&tiny.path), ["target"], "{temp:?}");
    }
    // The space is free again: a file that fits still goes through.
    intact::write(&target, vec![b'y'; 16 * 1024]).unwrap();
    assert_eq!(std::fs::read(&target).unwrap().len(), 16 * 1024);
}

#[test]
fn enospc_in_a_batch_reports_exactly_which_files_were_committed() {
    if !is_root() {
        crate::util::skip("needs root (mounts a 64 KiB tmpfs to run out of space)");
        return;
    }
    let dir = TestDir::new("enospc-batch");
    let tiny = TinyTmpfs::mount(&dir.join("tiny"), "64k");
    let mut batch = Batch::new();
    let files = [
        ("small-1", 1024),
        ("huge", TOO_BIG_BYTES),
        ("small-2", 1024),
    ];
    for (name, len) in files {
        batch.add(tiny.path.join(name), vec![b'x'; len]).unwrap();
    }
    let error = batch.commit().unwrap_err();
    // The files are written concurrently, so a small one may also have hit the full disk:
    // what matters is that the report matches the directory exactly.
    let failed: Vec<PathBuf> = error
        .failures()
        .iter()
        .map(|f| f.target().to_path_buf())
        .collect();
    assert!(failed.contains(&tiny.path.join("huge")), "{error}");
    for failure in error.failures() {
        assert!(!failure.is_published());
        assert_eq!(
            crate::util::errno_of(failure.error()),
            Some(libc::ENOSPC),
            "{failure}"
        );
        assert!(!failure.target().exists(), "{failure}");
    }
    for committed in error.committed() {
        assert_eq!(std::fs::read(committed).unwrap(), vec![b'x'; 1024]);
    }
    assert_eq!(error.committed().len() + failed.len(), files.len());
    let mut on_disk: Vec<PathBuf> = crate::util::names_in(&tiny.path)
        .iter()
        .map(|n| tiny.path.join(n))
        .collect();
    let mut committed = error.committed().to_vec();
    on_disk.sort();
    committed.sort();
    assert_eq!(on_disk, committed, "no temp file left, nothing unreported");
    let huge = error
        .into_failures()
        .into_iter()
        .find(|f| f.target().ends_with("huge"))
        .unwrap();
    assert_eq!(
        huge.into_contents().len(),
        TOO_BIG_BYTES,
        "contents handed back for a retry"
    );
}
