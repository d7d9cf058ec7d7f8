//! The top-level keys nats-server knows and natsd does not act on yet, and
//! what natsd does about each.
//!
//! The rule: a key whose absence only costs a feature (no gateway, no
//! JetStream, no syslog) is ignored with a warning. A key whose absence
//! would let in clients nats-server keeps out, or send in clear what
//! nats-server encrypts, is refused: natsd will not start weaker than the
//! operator configured it.

/// What natsd does with a key it does not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// Start without it, with a warning.
    Ignored,
    /// Refuse the configuration; the text says why.
    Refused(&'static str),
}

/// Without them a server would trust only the accounts natsd can resolve;
/// natsd refuses rather than admit fewer or more than the file says.
const NO_PINNED: &str = "natsd has no pinned accounts yet";

/// `key` in lower case, as nats-server matches it. None: a key natsd
/// supports, or one nats-server does not know either.
pub fn unsupported(key: &str) -> Option<Unsupported> {
    use Unsupported::{Ignored, Refused};
    let what = match key {
        "resolver_pinned_accounts" => Refused(NO_PINNED),
        "client_advertise"
        | "trace_headers"
        | "logtime_utc"
        | "mappings"
        | "maps"
        | "disable_sublist_cache"
        | "no_sublist_cache"
        | "default_sentinel"
        | "gateway"
        | "logfile_size_limit"
        | "log_size_limit"
        | "logfile_max_num"
        | "log_max_num"
        | "syslog"
        | "remote_syslog"
        | "prof_port"
        | "prof_block_rate"
        | "proxy_protocol"
        | "max_traced_msg_len"
        | "max_sub_tokens"
        | "max_subscription_tokens"
        | "ocsp"
        | "write_timeout"
        | "resolver_tls"
        | "no_system_account"
        | "no_system"
        | "no_sys_acc"
        | "no_header_support"
        | "connect_error_reports"
        | "reconnect_error_reports"
        | "mqtt"
        | "server_tags"
        | "server_metadata"
        | "feature_flags"
        | "default_js_domain"
        | "ocsp_cache"
        | "no_fast_producer_stall"
        | "max_closed_clients"
        | "proxies" => Ignored,
        _ => return None,
    };
    Some(what)
}
