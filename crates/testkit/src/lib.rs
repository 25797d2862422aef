//! Dev-only support shared by the workspace's test binaries.
//!
//! A test that cannot run here calls [`skip`] and returns: the reason is written to stderr
//! directly, which libtest does not capture, so it shows in every `cargo test` run. With
//! `TORTURE_REQUIRE_ALL=1` (`.ci/run` sets it when it runs as root) a skip fails the test
//! instead, so a test that silently stopped running cannot pass CI.
#![forbid(unsafe_code)]

use std::io::Write as _;

/// The variable that turns every skip into a failure.
pub const REQUIRE_ALL_VAR: &str = "TORTURE_REQUIRE_ALL";

/// Whether skips must fail (`TORTURE_REQUIRE_ALL=1`).
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL_VAR).is_some_and(|v| v == "1")
}

/// Says that the calling test does not run here, and why; panics under `TORTURE_REQUIRE_ALL=1`.
/// The caller returns right after.
#[track_caller]
pub fn skip(reason: &str) {
    if require_all() {
        panic!("{REQUIRE_ALL_VAR}=1 but this test cannot run here: {reason}");
    }
    // Not `eprintln!`: libtest captures the print macros (shown only when a test fails), but
    // not a direct write to the stderr handle.
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// Whether this process runs as root (effective uid 0): the one root check of the tests.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Root, or a [`skip`] naming what root is needed for; `true` when the test can go on.
#[track_caller]
pub fn root_or_skip(needed_for: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!("needs root {needed_for}"));
    false
}
