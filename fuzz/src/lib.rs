//! The checks behind natsd's fuzz targets.
//!
//! Each module has a `check(data)` that panics when an invariant breaks.
//! The libFuzzer binaries in `fuzz_targets/` call them, and natsd's own
//! `cargo test` replays the seed corpus and every past crash through them
//! (`tests/fuzz_replay.rs`), so this crate needs nothing but natsd and std.

pub mod config;
pub mod input;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "leafnodes")]
pub mod leaf;
mod leaf_peer;
pub mod model;
pub mod parser;
pub mod roundtrip;
#[cfg(feature = "cluster")]
pub mod route;
#[cfg(feature = "cluster")]
mod route_peer;
pub mod session;
pub mod sublist;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "websocket")]
pub mod websocket;
