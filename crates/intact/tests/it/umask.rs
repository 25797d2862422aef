//! The umask of a new file is the writing thread's, as the kernel applies it, with or without
//! `/proc`: never a guessed one.

use std::path::Path;

use intact::{Options, Overwrite, Temp};

use crate::util::{TestDir, is_root, mode_of, skip, with_thread_umask};

/// Writes a new file at `dir/{label}-{temp}` for each temp kind, plus a no-clobber one, and
/// checks each gets the mode of `dir/reference`, made by `File::create` in the same thread.
fn assert_like_file_create(dir: &Path, label: &str) {
    let reference = dir.join(format!("{label}-reference"));
    std::fs::File::create(&reference).unwrap();
    let expected = mode_of(&reference);
    for temp in [Temp::Named, Temp::Auto] {
        for overwrite in [Overwrite::Replace, Overwrite::NoClobber] {
            let path = dir.join(format!("{label}-{temp:?}-{overwrite:?}"));
            let options = Options::new().temp(temp).overwrite(overwrite);
            options.write(&path, b"new").unwrap();
            assert_eq!(mode_of(&path), expected, "{label} {temp:?} {overwrite:?}");
        }
    }
}

#[test]
fn a_thread_with_its_own_umask_gets_its_own() {
    let dir = TestDir::new("thread-umask");
    with_thread_umask(0o077, || assert_like_file_create(dir.path(), "077"));
    assert_eq!(mode_of(&dir.join("077-reference")), 0o600);
    with_thread_umask(0o027, || assert_like_file_create(dir.path(), "027"));
    assert_eq!(mode_of(&dir.join("027-reference")), 0o640);
}

#[test]
fn without_proc_new_files_still_get_the_umask() {
    if !is_root() {
        skip("needs root (hides /proc under a tmpfs in a mount namespace of its own)");
        return;
    }
    let dir = TestDir::new("no-proc");
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            hide_proc_from_this_thread();
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            assert!(
                !Path::new("/proc/self/status").exists(),
                "/proc still there"
            );
            assert_like_file_create(dir.path(), "no-proc");
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    assert_eq!(mode_of(&dir.join("no-proc-reference")), 0o600);
}

/// Moves this thread into a mount namespace of its own (which also gives it its own umask)
/// and mounts an empty tmpfs over `/proc` there; the namespace goes when the thread ends.
fn hide_proc_from_this_thread() {
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS).expect("unshare(CLONE_NEWNS)");
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>).expect("make / private");
    let empty = Some("tmpfs");
    mount(empty, "/proc", empty, MsFlags::empty(), None::<&str>).expect("tmpfs over /proc");
}
