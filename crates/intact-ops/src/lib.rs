//! Operation-sequence model (work in progress).
#![forbid(unsafe_code)]
