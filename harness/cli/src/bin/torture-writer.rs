//! `torture-writer STRATEGY [--target PATH] [--size BYTES]`: the built-in writers as a small
//! program of their own (see `torture_engine::writer`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    torture_engine::writer::run(std::env::args_os().skip(1).collect())
}
