//! natsd: a small, single-threaded NATS server for the edge.
#![deny(unsafe_code)]

pub mod proto;
