//! Names and versions, apart from the server so that anything may quote
//! them without importing it.

/// The version of natsd itself.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The nats-server release whose client protocol natsd speaks. Clients read
/// INFO's `version` to decide which features the server has (headers since
/// 2.2, ...), so natsd reports this one there.
pub const NATS_SERVER_VERSION: &str = "2.15.1";
