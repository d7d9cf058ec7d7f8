//! The NATS client protocol, sans-IO: parser, encoders, CONNECT and INFO,
//! and the exact error texts; and the leaf and route protocols spoken
//! between servers. No sockets, no clock; fuzzed on its own.

pub mod connect;
pub mod encode;
pub mod error;
pub mod info;
pub mod leaf;
mod line_scan;
pub mod parser;
mod peer;
#[cfg(feature = "cluster")]
pub mod route;

pub use connect::{ConnectError, ConnectOpts};
pub use error::ProtoError;
pub use info::Info;
pub use parser::{Op, Parser, Pub, Status};
