//! `torture-writer STRATEGY [--target PATH] [--size BYTES]`: the built-in writers as a small
//! program of their own (see `intact_harness::writer`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    intact_harness::writer::run(std::env::args_os().skip(1).collect())
}
