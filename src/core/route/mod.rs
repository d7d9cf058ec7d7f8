//! Routes: the full mesh between the servers of a cluster, as
//! nats-server's `route.go`. Every server has one route to every other; a
//! client's (or leaf node's) interest goes to every route as `RS+`/`RS-`,
//! a message to the routes with interest as `RMSG`/`HMSG`, and what comes
//! from a route goes only to this server's clients and leaf nodes (the
//! one-hop rule).
//!
//! natsd neither pools routes nor compresses them: it behaves as a
//! nats-server with `pool_size: -1` and `compression: off`, which Go peers
//! accept (they fall back to one route without compression).
//!
//! Here: what a route connection and the core know of routes. The rest
//! comes with the `cluster` feature: the handshake, the peer's operations
//! and gossip (`link.rs`), interest (`interest.rs`), the configured and
//! gossiped routes and their dials (`dials.rs`), reload (`reload.rs`), the
//! rules driven in memory (`tests.rs`); without it `disabled.rs` stands
//! in, and no route is ever made.

use std::collections::HashMap;

#[cfg(feature = "cluster")]
mod dials;
#[cfg(not(feature = "cluster"))]
mod disabled;
#[cfg(feature = "cluster")]
mod interest;
#[cfg(feature = "cluster")]
mod link;
#[cfg(feature = "cluster")]
pub mod reload;

#[cfg(feature = "cluster")]
pub use self::dials::{RouteUrl, DEFAULT_ROUTE_PORT};
#[cfg(not(feature = "cluster"))]
pub use self::disabled::{refuse_unsupported_reload, RouteUrl};
#[cfg(feature = "cluster")]
pub use self::reload::refuse_unsupported as refuse_unsupported_reload;

/// Where a route connection's handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteState {
    /// Accepted: waiting for the peer's CONNECT.
    AwaitConnect,
    /// Waiting for the peer's INFO (our CONNECT and INFO went out when we
    /// dialed; the peer's CONNECT was accepted when it dialed).
    AwaitInfo,
    /// Registered: interest and messages flow.
    Connected,
}

/// What a route connection knows of its peer.
#[derive(Debug)]
pub struct RouteConn {
    pub state: RouteState,
    /// We dialed it: the target (configured or gossiped route) it was
    /// dialed for, an index into the core's route targets.
    pub target: Option<usize>,
    /// The peer's server id and name (from its CONNECT, then its INFO).
    pub remote_id: Box<str>,
    pub remote_name: Box<str>,
    pub remote_version: Box<str>,
    /// The peer's route address as it gossips it (`nats-route://h:p/`).
    pub remote_url: Box<str>,
    /// The peer's client URLs (`connect_urls`), given to our clients.
    pub connect_urls: Vec<String>,
    pub ws_connect_urls: Vec<String>,
    /// The peer said it takes headers.
    pub headers: bool,
    /// What `/routez` says of its compression (natsd never compresses).
    pub compression: &'static str,
    /// The weights of the peer's queue subscriptions, by sid.
    pub queue_weights: HashMap<Box<[u8]>, u32>,
    /// The gossip mode our INFO to this peer carries (nats-server's
    /// `gossipMode`: 0 default, 1 disabled, 2 override).
    pub gossip_mode: u8,
    /// Its pending output holds producers back (see `core/stall.rs`).
    pub congested: bool,
}

impl RouteConn {
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    fn new(state: RouteState, target: Option<usize>) -> RouteConn {
        RouteConn {
            state,
            target,
            remote_id: "".into(),
            remote_name: "".into(),
            remote_version: "".into(),
            remote_url: "".into(),
            connect_urls: Vec::new(),
            ws_connect_urls: Vec::new(),
            headers: false,
            compression: "off",
            queue_weights: HashMap::new(),
            gossip_mode: 0,
            congested: false,
        }
    }

    /// A subscription's weight: its queue group's members behind the peer.
    pub fn weight_of(&self, sid: &[u8], queue: bool) -> u32 {
        if queue {
            *self.queue_weights.get(sid).unwrap_or(&1)
        } else {
            1
        }
    }
}

/// A route this server dials: configured (`routes [...]`, dialed until it
/// connects, again whenever it is lost) or learned from a peer's gossip
/// (dialed once, as nats-server does with `connect_retries: 0`).
#[derive(Debug, Clone)]
pub struct RouteTarget {
    pub url: RouteUrl,
    pub explicit: bool,
    /// The route connection made for it, while there is one.
    pub conn: Option<usize>,
    /// The server it reached, once known.
    pub remote_id: Option<Box<str>>,
    /// It leads back to this server: never dialed again.
    pub to_self: bool,
    /// Failed dials since it last connected.
    pub attempts: u32,
    /// The wait before the next dial (doubles with `connect_backoff`).
    pub delay: std::time::Duration,
    /// The gossip mode the peer's forwarded INFO asked us to use.
    pub gossip_mode: u8,
    /// Dropped by a reload: dialed no more, and gone once unused.
    pub removed: bool,
    /// When its next dial is due (older timers are stale).
    pub due: Option<std::time::Instant>,
}

/// A dial the core asks the reactor for.
#[derive(Debug, Clone)]
pub struct RouteDial {
    pub target: usize,
    pub url: RouteUrl,
}

/// Where routes connect, as the route INFO says.
#[derive(Debug, Clone, Default)]
pub struct RouteListener {
    pub host: String,
    pub port: u16,
}

/// The core's route state.
#[derive(Debug, Default)]
pub struct Routes {
    /// Every route connection, in any state.
    pub links: Vec<usize>,
    pub targets: Vec<RouteTarget>,
    /// Dials due, for the reactor.
    pub dials: Vec<RouteDial>,
    /// This server's interest as every route was told it, per account:
    /// `subject` or `subject queue` -> count (a queue group's: its weight).
    pub told: HashMap<u32, HashMap<Box<[u8]>, u32>>,
    pub listener: Option<RouteListener>,
    /// The cluster's name, and whether it was made up (no `name` given:
    /// it gives way to a peer's, as nats-server's dynamic names do).
    pub cluster_name: String,
    pub dynamic_name: bool,
    /// Traffic of route connections gone, for `/metrics`' counters.
    pub closed_traffic: super::leaf::LeafTraffic,
    /// Where clients reach this server (`host:port`), for `connect_urls`.
    pub client_urls: Vec<String>,
    /// The cluster's `permissions`: `import` as a publish rule (the
    /// interest we send), `export` as a subscribe rule (the interest we
    /// take); `None` restricts nothing.
    pub permissions: Option<std::sync::Arc<crate::auth::permissions::CompiledPermissions>>,
}

impl super::Core {
    /// A route's keepalive interval: `cluster { ping_interval }` or the
    /// server's, at most 30 s (nats-server's `routeMaxPingInterval`).
    pub(in crate::core) fn route_ping_interval(&self) -> std::time::Duration {
        let configured = self.opts.cluster.as_ref().and_then(|c| c.ping_interval);
        configured
            .unwrap_or(self.opts.ping_interval)
            .min(crate::options::ROUTE_MAX_PING_INTERVAL)
    }

    /// The cluster's name as nats-server logs it at start-up.
    pub fn cluster_name(&self) -> &str {
        &self.routes.cluster_name
    }

    /// The name was made up (no `name` given).
    pub fn cluster_name_is_dynamic(&self) -> bool {
        self.routes.dynamic_name
    }

    /// The cluster's name (`name`, else one made up as nats-server's
    /// dynamic names are), and the configured routes, dialed now.
    pub(in crate::core) fn start_cluster(&mut self, now: std::time::Instant) {
        let Some(cluster) = &self.opts.cluster else {
            return;
        };
        self.routes.permissions = cluster.permissions.as_ref().map(|p| {
            std::sync::Arc::new(crate::auth::permissions::CompiledPermissions::new(
                &crate::auth::permissions::Permissions {
                    publish: p.import.clone(),
                    subscribe: p.export.clone(),
                    response: None,
                },
            ))
        });
        match &cluster.name {
            Some(name) => self.routes.cluster_name = name.clone(),
            None => {
                self.routes.cluster_name = crate::core::rng::nuid(&mut self.rng);
                self.routes.dynamic_name = true;
            }
        }
        self.start_routes(now);
    }
}

#[cfg(all(test, feature = "cluster"))]
mod tests;
