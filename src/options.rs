//! Every knob of the server, with nats-server's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's `DEFAULT_PORT`.
pub const DEFAULT_PORT: u16 = 4222;
/// nats-server's `DEFAULT_HOST`: all interfaces (IPv4 and IPv6 alike).
pub const DEFAULT_HOST: &str = "0.0.0.0";

/// Server configuration. `Options::default()` is nats-server with no flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Interface to listen on for clients.
    pub host: String,
    /// Client port; 0 or -1 picks a free one (nats-server's `RANDOM_PORT`).
    pub port: i32,
    /// Server name; the server id when unset.
    pub server_name: Option<String>,
    /// Single user required of every client (`--user`/`--pass`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Token required of every client (`--auth`).
    pub authorization: Option<String>,
    /// Time a client has to send CONNECT when credentials are required.
    pub auth_timeout: Duration,
    /// Largest message payload (`max_payload`).
    pub max_payload: u32,
    /// Longest control-line argument (`max_control_line`).
    pub max_control_line: u32,
    /// Outbound bytes a client may have pending before it is a slow consumer.
    pub max_pending: u64,
    /// Most client connections at once.
    pub max_connections: usize,
    /// Most subscriptions per connection; 0 means no limit.
    pub max_subscriptions: usize,
    /// How often the server PINGs a client.
    pub ping_interval: Duration,
    /// Unanswered PINGs before a client is a stale connection.
    pub max_pings_out: u32,
    /// How long output may stall before the client is a slow consumer.
    pub write_deadline: Duration,
    /// `-D`: debug logging.
    pub debug: bool,
    /// `-V`: protocol tracing.
    pub trace: bool,
    /// `-l`: log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
    /// `-P`: write the process id here.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`: write the listening ports here.
    pub ports_file_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: i32::from(DEFAULT_PORT),
            server_name: None,
            username: None,
            password: None,
            authorization: None,
            auth_timeout: Duration::from_secs(2),
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            write_deadline: Duration::from_secs(10),
            debug: false,
            trace: false,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
        }
    }
}

impl Options {
    /// Options for an in-process server on a free loopback port: what tests
    /// and embedders usually want.
    pub fn ephemeral() -> Options {
        Options {
            host: "127.0.0.1".to_string(),
            port: 0,
            ..Options::default()
        }
    }

    /// Whether clients must present credentials in CONNECT.
    pub fn auth_required(&self) -> bool {
        self.username.is_some() || self.authorization.is_some()
    }

    /// Refuse combinations nats-server refuses.
    pub fn validate(&self) -> Result<(), String> {
        if self.username.is_some() && self.authorization.is_some() {
            return Err("Can not have a single user/pass and a token".into());
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("a password needs a user (--user)".into());
        }
        if self.max_payload == 0 || self.max_control_line == 0 {
            return Err("max_payload and max_control_line must be positive".into());
        }
        if u64::from(self.max_payload) > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if !(-1..=i32::from(u16::MAX)).contains(&self.port) {
            return Err(format!("invalid port {}", self.port));
        }
        Ok(())
    }
}
