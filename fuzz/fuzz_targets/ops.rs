//! Op sequences decoded from fuzzer bytes, run against real `AtomicFile`s
//! and checked against the model after every op; a discrepancy is a crash.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use intact_ops::{Op, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|ops: Vec<Op>| {
    let dir = scratch_dir();
    empty(dir);
    if let Err(discrepancy) = run(dir, &ops) {
        panic!("{discrepancy}\nsequence: {ops:#?}");
    }
});

/// One directory per fuzzing process, reused for every input.
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = scratch_base();
        remove_dirs_of_dead_processes(&base);
        let dir = base.join(format!("{DIR_PREFIX}{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        dir
    })
}

const DIR_PREFIX: &str = "intact-fuzz-ops-";

// tmpfs makes fsync nearly free, which multiplies execs/s; the model does
// not depend on the filesystem. INTACT_FUZZ_DIR picks another (e.g. ext4).
fn scratch_base() -> PathBuf {
    if let Some(base) = std::env::var_os("INTACT_FUZZ_DIR") {
        return PathBuf::from(base);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

// libFuzzer exits without running destructors, so each process leaves its
// directory (holding at most the target) behind; the next one removes it.
fn remove_dirs_of_dead_processes(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn empty(dir: &Path) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
    }
}
