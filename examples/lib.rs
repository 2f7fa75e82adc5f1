//! Small programs a newcomer copies from; see `examples/`.
//!
//! This library is empty but for the README's Rust snippets, compiled as doctests so the quick
//! start cannot drift from the API.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
