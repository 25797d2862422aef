//! The write strategies of `torture` and the benchmarks, in one catalogue ([`strategies`]), and
//! the `torture-writer` program that runs one of them ([`writer`]).
#![forbid(unsafe_code)]

pub mod strategies;
pub mod writer;

pub use strategies::{Expect, Origin, Strategy, UnknownStrategy};
