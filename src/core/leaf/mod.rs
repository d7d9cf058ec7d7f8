//! Leaf node connections: the link between this server and another, either
//! accepted on the leaf node port (we are the hub; the peer is a leaf) or
//! dialed to a configured remote (we are the leaf; the peer is our hub),
//! as nats-server's `leafnode.go`.
//!
//! Here: what a leaf connection and the core know of leaf links. The rest
//! comes with the `leafnodes` feature: the handshake and the peer's
//! operations (`link.rs`), interest (`interest.rs`), remotes and their
//! dials (`remotes.rs`), reload (`reload.rs`); without it `disabled.rs`
//! stands in, and no leaf connection is ever made.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::permissions::{CompiledPermissions, Permissions, SubjectPermission};

#[cfg(not(feature = "leafnodes"))]
mod disabled;
#[cfg(feature = "leafnodes")]
mod interest;
#[cfg(feature = "leafnodes")]
mod link;
#[cfg(feature = "leafnodes")]
pub mod reload;
#[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
pub mod remotes;

#[cfg(not(feature = "leafnodes"))]
pub use self::disabled::refuse_unsupported_reload;
#[cfg(feature = "leafnodes")]
pub use self::reload::refuse_unsupported as refuse_unsupported_reload;
use self::remotes::Remote;
pub use self::remotes::{LeafDial, LeafUrl};

/// Where a leaf connection's handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafState {
    /// Dialed: waiting for the hub's INFO.
    AwaitInfo,
    /// The hub's INFO asks for TLS: the transport is doing the handshake.
    AwaitTls,
    /// Our CONNECT is out: waiting for the hub's `connect_info` INFO.
    AwaitConnectInfo,
    /// Accepted: waiting for the leaf's CONNECT.
    AwaitConnect,
    /// Interest and messages flow.
    Connected,
}

/// What a leaf connection knows of its peer.
#[derive(Debug)]
pub struct LeafConn {
    /// The remote it was dialed for (an index into the core's remotes),
    /// or `None` when it was accepted.
    pub remote: Option<usize>,
    /// The peer is our hub (we dialed it, and it is not marked `hub`), or
    /// an accepted leaf that said it is a hub (`is_hub`).
    pub is_spoke: bool,
    pub state: LeafState,
    pub remote_id: Box<str>,
    /// The peer's server name (its id when it has none).
    pub remote_name: Box<str>,
    /// The peer's cluster: its messages and interest do not go back there.
    pub remote_cluster: Box<str>,
    pub remote_version: Box<str>,
    /// The account name the peer bound this link to on its side.
    pub remote_account: Box<str>,
    /// The hub's nonce, signed in our CONNECT.
    pub nonce: Box<str>,
    /// The peer's INFO said its headers are on (we dialed), or its
    /// CONNECT did (accepted).
    pub headers: bool,
    /// What the peer was told of our interest: key -> count.
    pub smap: Smap,
    /// The weights of the peer's queue subscriptions, by key.
    pub queue_weights: HashMap<Box<[u8]>, u32>,
    /// Subjects we may send the peer (its subscriptions' and our
    /// messages'); `None`: any.
    pub send: Option<Arc<CompiledPermissions>>,
    /// Subjects we take from the peer; `None`: any.
    pub receive: Option<Arc<CompiledPermissions>>,
    /// The permissions of the user an accepted leaf logged in as: what it
    /// may publish is what we take from it, what it may subscribe to is
    /// what we send it.
    pub user: Option<Arc<CompiledPermissions>>,
    /// When the current handshake step must be done by.
    pub handshake_deadline: Option<Instant>,
    /// It runs over WebSocket (log lines name it `lid_ws`).
    pub websocket: bool,
    /// Its pending output holds producers back (see `core/stall.rs`).
    pub congested: bool,
}

impl LeafConn {
    #[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
    fn new(remote: Option<usize>, is_spoke: bool, state: LeafState) -> LeafConn {
        LeafConn {
            remote,
            is_spoke,
            state,
            remote_id: "".into(),
            remote_name: "".into(),
            remote_cluster: "".into(),
            remote_version: "".into(),
            remote_account: "".into(),
            nonce: "".into(),
            headers: false,
            smap: HashMap::new(),
            queue_weights: HashMap::new(),
            send: None,
            receive: None,
            user: None,
            handshake_deadline: None,
            websocket: false,
            congested: false,
        }
    }

    /// A message on `subject` may go to the peer.
    pub fn send_allowed(&self, subject: &[u8]) -> bool {
        self.send
            .as_ref()
            .is_none_or(|p| p.publish_allowed(subject))
            && self
                .user
                .as_ref()
                .is_none_or(|p| p.subscribe_allowed(subject, None))
    }

    /// A message on `subject` from the peer is taken.
    pub fn receive_allowed(&self, subject: &[u8]) -> bool {
        self.receive
            .as_ref()
            .is_none_or(|p| p.publish_allowed(subject))
            && self
                .user
                .as_ref()
                .is_none_or(|p| p.publish_allowed(subject))
    }

    /// A subscription's weight: its queue group's members behind the peer.
    pub fn weight_of(&self, subject: &[u8], queue: Option<&[u8]>) -> u32 {
        match queue {
            Some(queue) => *self
                .queue_weights
                .get(&smap_key(subject, Some(queue))[..])
                .unwrap_or(&1),
            None => 1,
        }
    }
}

/// What each leaf link was told, by connection key (see
/// `Core::audit_leaf_interest`).
pub type LeafInterest = Vec<(usize, Smap)>;

/// Interest keys (`subject` or `subject queue`) with their counts.
pub type Smap = HashMap<Box<[u8]>, u32>;

/// The key of an `smap` entry: `subject` or `subject queue`.
pub fn smap_key(subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut key = subject.to_vec();
    if let Some(queue) = queue {
        key.push(b' ');
        key.extend_from_slice(queue);
    }
    key
}

/// Allow and deny lists as a publish rule, for one direction of a link.
#[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
fn rule(allow: Option<Vec<String>>, deny: Vec<String>) -> Option<Arc<CompiledPermissions>> {
    if allow.is_none() && deny.is_empty() {
        return None;
    }
    Some(Arc::new(CompiledPermissions::new(&Permissions {
        publish: Some(SubjectPermission { allow, deny }),
        subscribe: None,
        response: None,
    })))
}

/// The core's leaf node state.
#[derive(Debug, Default)]
pub struct Leafs {
    /// Every leaf connection, in any state.
    pub links: Vec<usize>,
    pub remotes: Vec<Remote>,
    /// Dials due, for the reactor.
    pub dials: Vec<LeafDial>,
    /// Connections whose hub asked for TLS, for the reactor.
    pub tls_clients: Vec<usize>,
    /// Each account's `$LDS.` subject.
    pub loop_subjects: HashMap<u32, Box<[u8]>>,
    /// The leaf node listener, when there is one.
    pub listener: Option<LeafListener>,
    /// Traffic of leaf connections gone, for `/metrics`' counters.
    pub closed_traffic: LeafTraffic,
    /// Remotes connected again after losing their link.
    pub reconnects: u64,
}

/// Messages and bytes across leaf connections (or routes).
#[derive(Debug, Default, Clone, Copy)]
pub struct LeafTraffic {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl LeafTraffic {
    /// Add one connection's traffic.
    pub fn add(&mut self, stats: &crate::core::stats::ConnStats) {
        self.in_msgs += stats.in_msgs;
        self.in_bytes += stats.in_bytes;
        self.out_msgs += stats.out_msgs;
        self.out_bytes += stats.out_bytes;
    }
}

/// Where leaf nodes connect, as the hub's INFO says.
#[derive(Debug, Clone)]
pub struct LeafListener {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub tls_verify: bool,
}
