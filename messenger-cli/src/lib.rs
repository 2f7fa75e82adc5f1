//! The library behind the `messenger` command: rendering and parsing that the binary and its
//! tests share.

pub mod connect;
pub mod demo;
pub mod intake;
pub mod matrix;
pub mod parse;
pub mod plan;
pub mod receiver;
pub mod registry;
pub mod window;
