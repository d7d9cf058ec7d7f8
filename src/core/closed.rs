//! Why connections close, and the recently closed connections
//! `/connz?state=closed` lists: a bounded history, oldest dropped first.
//!
//! nats-server keeps the last 10,000 (`max_closed_clients`) with every
//! subscription of each. At a few hundred bytes a record that is more memory
//! than an idle natsd uses in all, so natsd keeps fewer: the last
//! [`MAX_CLOSED_CLIENTS`], holding together at most [`MAX_CLOSED_SUBS`]
//! subscriptions (a connection with more keeps its first ones; its
//! `subscriptions` count stays exact). That bounds the history near 0.5 MiB.
//! It is kept only while monitoring is on: nothing else reads it. A build
//! without the `monitor` feature has no history at all: [`ClosedClients`]
//! is then empty and [`ClosedClients::record`] does nothing.

#[cfg(feature = "monitor")]
use std::collections::VecDeque;
use std::time::Instant;

use slab::Slab;

use super::account::Accounts;
use super::conn::{Conn, Subscription};
#[cfg(feature = "monitor")]
use super::view::ClientInfo;

/// Why a connection was closed, in nats-server's words (as /connz reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ProtocolViolation,
    AuthenticationTimeout,
    AuthenticationViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    MaxConnectionsExceeded,
    BadClientProtocolVersion,
    NoRespondersRequiresHeaders,
    ReadError,
    WriteError,
    ServerShutdown,
    /// A user JWT (or its connect window) expired.
    AuthenticationExpired,
    /// A reload revoked the user's JWT.
    CredentialsRevoked,
    /// The TLS handshake failed or timed out.
    TlsHandshakeFailure,
    MaxAccountConnectionsExceeded,
    /// A leaf node's `-ERR`, or a peer's protocol a leaf node refuses.
    ParseError,
    /// The peer on a leaf connection is not at a leaf node port, or a
    /// client came to one.
    WrongPort,
    /// Another connection from the same leaf node replaced this one.
    DuplicateRemoteLeafnodeConnection,
    /// A leaf node with this server's own cluster name.
    ClusterNamesIdentical,
    /// A second route to the same server (or one to this server itself).
    DuplicateRoute,
    /// A reload removed the configured route.
    RouteRemoved,
    /// A route from a server of another cluster.
    ClusterNameConflict,
    /// A route from a server with this server's name.
    DuplicateServerName,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::ReadError => "Read Error",
            CloseReason::WriteError => "Write Error",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::CredentialsRevoked => "Credentials Revoked",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            CloseReason::ParseError => "Parse Error",
            CloseReason::WrongPort => "Incorrect Port",
            CloseReason::DuplicateRemoteLeafnodeConnection => {
                "Duplicate Remote LeafNode Connection"
            }
            CloseReason::ClusterNamesIdentical => "Cluster Names Identical",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::RouteRemoved => "Route Removed",
            CloseReason::ClusterNameConflict => "Cluster Name Conflict",
            CloseReason::DuplicateServerName => "Duplicate Server Name",
        }
    }
}

/// Closed connections kept.
pub const MAX_CLOSED_CLIENTS: usize = 1_000;
/// Subscriptions kept across all closed connections.
pub const MAX_CLOSED_SUBS: usize = 4_096;

#[cfg(feature = "monitor")]
#[derive(Debug, Default)]
pub struct ClosedClients {
    enabled: bool,
    clients: VecDeque<ClientInfo>,
    /// Subscriptions held by `clients`.
    subs: usize,
}

#[cfg(feature = "monitor")]
impl ClosedClients {
    /// A history that keeps records only when `enabled`.
    pub fn new(enabled: bool) -> ClosedClients {
        ClosedClients {
            enabled,
            ..ClosedClients::default()
        }
    }

    /// Keep connection `conn`, closed at `now` for `reason`, when the
    /// history is kept.
    pub fn record(
        &mut self,
        conn: &Conn,
        subs: &Slab<Subscription>,
        accounts: &Accounts,
        reason: CloseReason,
        now: Instant,
    ) {
        if !self.enabled {
            return;
        }
        let mut info = conn.info(subs, accounts, MAX_CLOSED_SUBS);
        info.closed = Some((now, reason.as_str()));
        self.push(info);
    }

    /// Add a closed connection, dropping the oldest ones to stay in bounds.
    pub fn push(&mut self, mut client: ClientInfo) {
        if !self.enabled {
            return;
        }
        client.subs.truncate(MAX_CLOSED_SUBS);
        client.subs.shrink_to_fit();
        while self.clients.len() >= MAX_CLOSED_CLIENTS
            || self.subs + client.subs.len() > MAX_CLOSED_SUBS
        {
            let Some(oldest) = self.clients.pop_front() else {
                break;
            };
            self.subs -= oldest.subs.len();
        }
        self.subs += client.subs.len();
        self.clients.push_back(client);
    }

    /// Oldest first.
    pub fn clients(&self) -> &VecDeque<ClientInfo> {
        &self.clients
    }
}

/// No history: a build without monitoring has nothing that would read it.
#[cfg(not(feature = "monitor"))]
#[derive(Debug, Default)]
pub struct ClosedClients;

#[cfg(not(feature = "monitor"))]
impl ClosedClients {
    pub fn new(_enabled: bool) -> ClosedClients {
        ClosedClients
    }

    pub fn record(
        &mut self,
        _conn: &Conn,
        _subs: &Slab<Subscription>,
        _accounts: &Accounts,
        _reason: CloseReason,
        _now: Instant,
    ) {
    }
}

#[cfg(all(test, feature = "monitor"))]
mod tests {
    use super::*;
    use crate::core::view::{ConnSummary, SubInfo};
    use std::time::{Duration, Instant};

    fn client(cid: u64, subs: usize) -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            summary: ConnSummary {
                cid,
                account: 0,
                addr: "127.0.0.1:1".parse().unwrap(),
                start: now,
                last_activity: now,
                rtt: Duration::ZERO,
                pending_bytes: 0,
                in_msgs: 0,
                in_bytes: 0,
                out_msgs: 0,
                out_bytes: 0,
                num_subs: subs,
            },
            closed: Some((now, "Client Closed")),
            name: "".into(),
            lang: "".into(),
            version: "".into(),
            user: "".into(),
            account: "$G".into(),
            subs: (0..subs)
                .map(|i| SubInfo {
                    subject: "s".into(),
                    queue: None,
                    sid: i.to_string().into(),
                    msgs: 0,
                    max: 0,
                    cid,
                })
                .collect(),
            signed: None,
            tls: None,
            websocket: false,
            leaf: false,
            peer_certs: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_newest_within_both_bounds() {
        let mut ring = ClosedClients::new(true);
        for cid in 0..MAX_CLOSED_CLIENTS as u64 + 5 {
            ring.push(client(cid, 0));
        }
        assert_eq!(ring.clients().len(), MAX_CLOSED_CLIENTS);
        assert_eq!(ring.clients()[0].summary.cid, 5);

        ring.push(client(9_000, MAX_CLOSED_SUBS - 1));
        ring.push(client(9_001, 2));
        assert_eq!(ring.subs, 2, "the big one went to make room");
        assert_eq!(ring.clients().back().unwrap().summary.cid, 9_001);

        ring.push(client(9_002, MAX_CLOSED_SUBS + 10));
        assert_eq!(ring.clients().len(), 1);
        assert_eq!(ring.subs, MAX_CLOSED_SUBS);
        assert_eq!(ring.clients()[0].summary.num_subs, MAX_CLOSED_SUBS + 10);
    }

    #[test]
    fn a_disabled_history_keeps_nothing() {
        let mut ring = ClosedClients::new(false);
        ring.push(client(1, 1));
        assert!(ring.clients().is_empty());
    }
}
