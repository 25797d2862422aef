//! intact: durable atomic file replacement (work in progress).
#![forbid(unsafe_code)]
