//! Shared setup for the criterion benches: where they write.

use std::path::PathBuf;

/// The directory the benches write in: `$INTACT_BENCH_DIR` when set (to measure a chosen
/// filesystem), otherwise cargo's scratch directory under `target/`, which sits on the same disk
/// as the build rather than on a possibly RAM-backed `/tmp`.
pub fn bench_root() -> PathBuf {
    std::env::var_os("INTACT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

/// A fresh directory under [`bench_root`], removed when dropped.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let root = bench_root();
    std::fs::create_dir_all(&root)
        .unwrap_or_else(|error| panic!("cannot create bench dir {}: {error}", root.display()));
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&root)
        .unwrap_or_else(|error| panic!("cannot create a dir in {}: {error}", root.display()))
}
