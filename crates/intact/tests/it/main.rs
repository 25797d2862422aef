//! Integration tests for `intact`: one test per documented promise, plus crash and
//! error-injection tests that run a copy of this binary as a child process.

mod batch;
mod crash;
mod descriptors;
mod errors;
mod fuse;
#[cfg(feature = "json")]
mod json;
mod limits;
mod messages;
mod metadata;
mod noclobber;
mod protected;
mod sweep;
mod symlinks;
mod umask;
mod util;
mod write;
