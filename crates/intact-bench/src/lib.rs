//! Write strategies for benchmarks (work in progress).
#![forbid(unsafe_code)]
