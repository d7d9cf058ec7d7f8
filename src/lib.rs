//! natsd: a small, single-threaded NATS server for the edge.
//!
//! Embedding: build [`Options`], then [`Server::spawn`] to serve on a thread
//! of its own (port 0 picks a free port; [`RunningServer::addr`] tells which),
//! or [`Server::new`] and [`Server::run`] to serve on the calling thread.
#![deny(unsafe_code)]

pub mod auth;
pub mod conf;
pub mod control;
pub mod core;
pub mod go_format;
pub mod logging;
#[cfg(feature = "monitor")]
pub mod monitor;
pub mod net;
pub mod options;
pub mod proto;
mod small_bytes;
pub mod subject;
pub mod subject_mapping;
pub mod sublist;
mod version;

pub use net::{RunningServer, Server, ServerHandle};
pub use options::Options;
pub use version::{NATS_SERVER_VERSION, VERSION};
