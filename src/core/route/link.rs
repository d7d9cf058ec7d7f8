//! A route's handshake and the peer's operations.
//!
//! The accepting side sends its INFO at once; the dialing side sends its
//! CONNECT (the cluster's credentials, its server id as `name`, the
//! cluster name) and its INFO. The accepting side checks the CONNECT
//! (nats-server's `processRouteConnect`), and each side registers the
//! route when the peer's INFO comes (`processRouteInfo`, `addRoute`):
//! unless it is a route to itself, to another cluster, or a second route to
//! the same server. Registering sends the whole interest (`interest.rs`),
//! tells the other routes of the new server (gossip) and the clients of
//! its client URLs.
//!
//! natsd offers no `compression` and no `route_pool_size` in its INFO, so
//! a Go peer treats it as a server that supports neither, as it treats a
//! nats-server with `compression: not supported` and `pool_size: -1`. A
//! Go peer's per-account route (`route_account`, `$SYS` first of all) is
//! refused with Go's own text.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{RouteConn, RouteListener, RouteState};
use crate::core::closed::CloseReason;
use crate::core::conn::Role;
use crate::core::timers::TimerKind;
use crate::core::Core;
use crate::proto::{encode, Op, Parser, Pub};

pub const ERR_CLIENT_ON_ROUTE_PORT: &str = "attempted to connect to route port";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A route's INFO, as nats-server writes and reads it (the fields natsd
/// knows; others a peer sends are ignored).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i64,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_size: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_idx: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub gossip_mode: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<crate::proto::info::SubjectRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<crate::proto::info::SubjectRules>,
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// nats-server's gossip modes.
const GOSSIP_DEFAULT: u8 = 0;
const GOSSIP_DISABLED: u8 = 1;
const GOSSIP_OVERRIDE: u8 = 2;

/// A route's CONNECT (nats-server's `connectInfo`), in its field order.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct RouteConnect {
    echo: bool,
    verbose: bool,
    pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pass: String,
    tls_required: bool,
    headers: bool,
    name: String,
    cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    cluster_dynamic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    gateway: String,
    /// Clients say which language they are; routes never do.
    #[serde(skip_serializing)]
    lang: String,
}

fn write_info(out: &mut Vec<u8>, info: &RouteInfo) {
    out.extend_from_slice(b"INFO ");
    serde_json::to_writer(&mut *out, info).expect("INFO serializes");
    out.extend_from_slice(b"\r\n");
}

impl Core {
    fn new_route_conn(&mut self, addr: SocketAddr, route: RouteConn, now: Instant) -> usize {
        let key = self.new_link_conn(
            addr,
            Role::Route,
            |conn, parser| {
                parser.route = true;
                conn.route = Some(Box::new(route));
            },
            now,
        );
        self.routes.links.push(key);
        key
    }

    /// Routes are accepted (`cluster {}` has a port).
    pub fn accepts_routes(&self) -> bool {
        self.routes.listener.is_some()
    }

    /// The route listener is up: the route INFO names it, and the clients'
    /// INFO has `connect_urls` (`client_urls`: where clients reach this
    /// server) and the cluster's name.
    pub fn set_route_listener(&mut self, listener: RouteListener, client_urls: Vec<String>) {
        self.routes.listener = Some(listener);
        self.routes.client_urls = client_urls;
        self.info.cluster.clone_from(&self.routes.cluster_name);
        self.update_connect_urls(false);
    }

    /// Our route INFO (without a nonce).
    pub(super) fn route_info(&self) -> RouteInfo {
        let cluster = self.opts.cluster.as_ref();
        let listener = self.routes.listener.clone().unwrap_or_default();
        let (host, port, ip) = match cluster.and_then(|c| c.advertise.as_deref()) {
            Some(advertise) => {
                let (h, p) = split_host_port(advertise, listener.port);
                let ip = format!("nats-route://{}/", join_host_port(&h, p));
                (h, p, ip)
            }
            None => (listener.host.clone(), listener.port, String::new()),
        };
        let no_advertise = cluster.is_some_and(|c| c.no_advertise);
        RouteInfo {
            server_id: self.info.server_id.clone(),
            server_name: self.info.server_name.clone(),
            version: self.info.version.clone(),
            proto: 3,
            go: self.info.go.clone(),
            host,
            port,
            headers: true,
            auth_required: cluster.is_some_and(|c| c.username.is_some()),
            tls_required: false,
            tls_verify: false,
            max_payload: i64::from(self.opts.max_payload),
            ip,
            cluster: self.routes.cluster_name.clone(),
            cluster_dynamic: self.routes.dynamic_name,
            connect_urls: if no_advertise {
                Vec::new()
            } else {
                self.routes.client_urls.clone()
            },
            ldm: self.lame_duck.is_some(),
            // As a nats-server with `compression: off`: a Go peer then
            // does not compress either.
            compression: "off".into(),
            import: cluster
                .and_then(|c| c.permissions.as_ref()?.import.as_ref())
                .map(rules),
            export: cluster
                .and_then(|c| c.permissions.as_ref()?.export.as_ref())
                .map(rules),
            ..RouteInfo::default()
        }
    }

    fn route_nonce(&mut self, cid: u64) -> String {
        #[cfg(feature = "jwt")]
        {
            let nonces = self
                .nonces
                .get_or_insert_with(crate::auth::nonce::Nonces::new);
            String::from_utf8_lossy(&nonces.for_connection(cid)).into_owned()
        }
        #[cfg(not(feature = "jwt"))]
        {
            let _ = cid;
            String::new()
        }
    }

    /// `cluster { authorization { timeout } }`, or nats-server's default.
    fn route_auth_timeout(&self) -> Duration {
        self.opts
            .cluster
            .as_ref()
            .and_then(|c| c.auth_timeout)
            .unwrap_or(Duration::from_secs(2))
    }

    /// A server connected to the route port: it gets our INFO and has the
    /// cluster's authorization timeout to send its CONNECT.
    pub fn accept_route(&mut self, addr: SocketAddr, now: Instant) -> usize {
        let key = self.new_route_conn(addr, RouteConn::new(RouteState::AwaitConnect, None), now);
        let cid = self.conns[key].cid;
        log::info!("{} - Route connection created", self.conns[key].tag());
        let mut info = self.route_info();
        info.nonce = self.route_nonce(cid);
        write_info(&mut self.conns[key].wbuf.buf, &info);
        self.queue_flush(key);
        let at = now + self.route_auth_timeout();
        self.conns[key].auth_deadline = Some(at);
        self.schedule(key, cid, TimerKind::Auth, at);
        key
    }

    /// The reactor dialed route target `index` and is connected from
    /// `addr`: our CONNECT and INFO go out, the peer's INFO is awaited.
    pub fn connect_route(&mut self, index: usize, addr: SocketAddr, now: Instant) -> usize {
        let gossip_mode = self.routes.targets.get(index).map_or(0, |t| t.gossip_mode);
        let mut route = RouteConn::new(RouteState::AwaitInfo, Some(index));
        route.gossip_mode = gossip_mode;
        let key = self.new_route_conn(addr, route, now);
        let mut parser = self.conns[key].parser.clone();
        self.trust_route_parser(&mut parser);
        self.conns[key].parser = parser;
        let (user, pass) = match self.routes.targets.get_mut(index) {
            Some(target) => {
                target.conn = Some(key);
                target.attempts = 0;
                (
                    target.url.user.clone().unwrap_or_default(),
                    target.url.password.clone().unwrap_or_default(),
                )
            }
            None => Default::default(),
        };
        let tag = self.conns[key].tag().to_string();
        log::info!("{tag} - Route connection created");
        let connect = RouteConnect {
            echo: true,
            user,
            pass,
            headers: true,
            name: self.info.server_id.clone(),
            cluster: self.routes.cluster_name.clone(),
            cluster_dynamic: self.routes.dynamic_name,
            ..RouteConnect::default()
        };
        let out = &mut self.conns[key].wbuf.buf;
        out.extend_from_slice(b"CONNECT ");
        serde_json::to_writer(&mut *out, &connect).expect("CONNECT serializes");
        out.extend_from_slice(b"\r\n");
        log::debug!("{tag} - Route connect msg sent");
        let cid = self.conns[key].cid;
        let mut info = self.route_info();
        info.nonce = self.route_nonce(cid);
        info.gossip_mode = gossip_mode;
        write_info(&mut self.conns[key].wbuf.buf, &info);
        self.queue_flush(key);
        // The peer's INFO is due within the authorization timeout too.
        let at = now + self.route_auth_timeout();
        self.conns[key].auth_deadline = Some(at);
        self.schedule(key, cid, TimerKind::Auth, at);
        key
    }

    /// A route's parser once its peer is known (its CONNECT accepted, or
    /// we dialed it): nats-server allows a route 16 times
    /// `max_control_line` (accounts, replies and queue lists make long
    /// lines), and checks no `max_payload` on what a route carries (the
    /// peer checked it); natsd bounds it by `max_pending`, which a
    /// nats-server's `max_payload` may not exceed.
    fn trust_route_parser(&self, parser: &mut Parser) {
        parser.max_control_line = self.opts.max_control_line as usize * 16;
        parser.max_payload = (self.opts.max_payload as u64).max(self.opts.max_pending) as usize;
    }

    /// An operation from a route peer.
    pub(in crate::core) fn process_route_op(
        &mut self,
        key: usize,
        parser: &mut Parser,
        op: &Op<'_>,
        now: Instant,
    ) {
        if self.trace {
            log::trace!(
                "{} - <<- [{}]",
                self.conns[key].tag(),
                crate::core::client::describe(op)
            );
        }
        let state = self.conns[key]
            .route
            .as_deref()
            .map_or(RouteState::Connected, |r| r.state);
        match *op {
            Op::Ping => self.queue(key, encode::PONG),
            Op::Pong => self.conns[key].process_pong(now),
            Op::Ok => {}
            Op::Err(text) => {
                log::error!(
                    "{} - Route Error {}",
                    self.conns[key].tag(),
                    String::from_utf8_lossy(text)
                );
                self.close(key, CloseReason::ParseError);
            }
            Op::Connect(json) if state == RouteState::AwaitConnect => {
                self.process_route_connect(key, json);
                if self.conns[key]
                    .route
                    .as_deref()
                    .is_some_and(|r| r.state != RouteState::AwaitConnect)
                {
                    self.trust_route_parser(parser);
                }
            }
            Op::Connect(_) => {}
            Op::Info(json) if state != RouteState::AwaitConnect => {
                self.process_route_info(key, json, now)
            }
            _ if state != RouteState::Connected => {
                self.send_err(key, crate::proto::error::AUTHORIZATION_VIOLATION);
                self.close(key, CloseReason::ProtocolViolation);
            }
            Op::RouteSub {
                account,
                subject,
                queue,
                weight,
            } => {
                self.conns[key].stats.last_activity = now;
                self.process_remote_sub(key, account, subject, queue, weight);
            }
            Op::RouteUnsub {
                account,
                subject,
                queue,
            } => {
                self.conns[key].stats.last_activity = now;
                self.process_remote_unsub(key, account, subject, queue);
            }
            Op::RouteMsg {
                account,
                ref msg,
                queues,
            } => self.process_routed_msg(key, account, msg, queues, now),
            _ => self.close(key, CloseReason::ProtocolViolation),
        }
    }

    /// The peer's CONNECT on an accepted route: not a client, not a
    /// gateway, our cluster, the cluster's credentials.
    fn process_route_connect(&mut self, key: usize, json: &[u8]) {
        let tag = self.conns[key].tag().to_string();
        let connect: RouteConnect = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => {
                log::error!("{tag} - Router Error {e}");
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
        };
        if !connect.lang.is_empty() {
            log::error!("{tag} - {ERR_CLIENT_ON_ROUTE_PORT}");
            self.send_err(key, ERR_CLIENT_ON_ROUTE_PORT);
            self.close(key, CloseReason::WrongPort);
            return;
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {:?} on the Route port",
                connect.gateway
            );
            log::error!("{tag} - {text}");
            self.send_err(key, &text);
            self.close(key, CloseReason::WrongPort);
            return;
        }
        if connect.cluster != self.routes.cluster_name
            && !self.adopt_cluster_name(&connect.cluster, connect.cluster_dynamic, &connect.name)
        {
            let text = format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                connect.cluster, self.routes.cluster_name
            );
            log::error!("{tag} - {text}");
            self.send_err(key, &text);
            self.close(key, CloseReason::ClusterNameConflict);
            log::error!("{tag} - cluster name from remote server conflicts");
            return;
        }
        let authorized = match self.opts.cluster.as_ref().and_then(|c| c.username.as_ref()) {
            None => true,
            Some(user) => {
                let password = self
                    .opts
                    .cluster
                    .as_ref()
                    .and_then(|c| c.password.as_deref())
                    .unwrap_or_default();
                *user == connect.user && crate::auth::password::matches(password, &connect.pass)
            }
        };
        if !authorized {
            if connect.user.is_empty() {
                log::error!("{tag} - authentication error");
            } else {
                log::error!("{tag} - authentication error - User {:?}", connect.user);
            }
            self.send_err(key, crate::proto::error::AUTHORIZATION_VIOLATION);
            self.close(key, CloseReason::AuthenticationViolation);
            return;
        }
        let conn = &mut self.conns[key];
        conn.auth_deadline = None;
        conn.connected = true;
        let route = conn.route.as_deref_mut().expect("a route");
        route.remote_id = connect.name.into();
        route.headers = connect.headers;
        route.state = RouteState::AwaitInfo;
    }

    /// A peer's cluster name differs from ours: ours gives way when it was
    /// made up and theirs was not, or is greater (nats-server's dynamic
    /// cluster names); the other routes are dropped, to be made again
    /// under the new name.
    fn adopt_cluster_name(&mut self, theirs: &str, theirs_dynamic: bool, except: &str) -> bool {
        if theirs.is_empty() {
            return false;
        }
        let ours = &self.routes.cluster_name;
        if !self.routes.dynamic_name || (theirs_dynamic && ours.as_str() >= theirs) {
            return false;
        }
        log::info!("Cluster name updated to {theirs}");
        self.routes.cluster_name = theirs.to_string();
        self.routes.dynamic_name = theirs_dynamic;
        self.info.cluster = theirs.to_string();
        let others: Vec<usize> = self
            .routes
            .links
            .iter()
            .copied()
            .filter(|&k| {
                self.conns
                    .get(k)
                    .and_then(|c| c.route.as_deref())
                    .is_some_and(|r| &*r.remote_id != except)
            })
            .collect();
        for key in others {
            self.close(key, CloseReason::ClusterNameConflict);
        }
        true
    }

    /// The peer's INFO: the first registers the route; later ones name
    /// another server (gossip) or say the peer entered lame duck mode.
    fn process_route_info(&mut self, key: usize, json: &[u8], now: Instant) {
        let tag = self.conns[key].tag().to_string();
        let info: RouteInfo = match serde_json::from_slice(json) {
            Ok(info) => info,
            Err(e) => {
                log::error!("{tag} - Router Error {e}");
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
        };
        let route = self.conns[key].route.as_deref().expect("a route");
        if route.state == RouteState::Connected {
            if *route.remote_id != info.server_id {
                self.learn_route(
                    &info.server_id,
                    &info.ip,
                    info.gossip_mode,
                    info.auth_required,
                    now,
                );
            } else if info.ldm {
                // Its clients are to go elsewhere: its URLs are no longer
                // given out.
                if let Some(route) = self.conns[key].route.as_deref_mut() {
                    route.connect_urls.clear();
                    route.ws_connect_urls.clear();
                }
                self.update_connect_urls(true);
            }
            return;
        }
        let target = route.target;
        if info.server_id == self.info.server_id {
            log::debug!("{tag} - Detected route to self, ignoring");
            if let Some(target) = target.and_then(|t| self.routes.targets.get_mut(t)) {
                target.to_self = true;
            }
            self.close(key, CloseReason::DuplicateRoute);
            return;
        }
        if !info.cluster.is_empty()
            && info.cluster != self.routes.cluster_name
            && !self.adopt_cluster_name(&info.cluster, info.cluster_dynamic, &info.server_id)
        {
            self.close(key, CloseReason::ClusterNameConflict);
            return;
        }
        if target.is_none() && info.server_name == self.info.server_name {
            log::error!(
                "{tag} - Remote server has a duplicate name: {:?}",
                info.server_name
            );
            self.close(key, CloseReason::DuplicateServerName);
            return;
        }
        if !info.route_account.is_empty() {
            // A per-account route needs pooling, which natsd does not do.
            let text = format!(
                "Not possible to have a dedicated route for account {:?} between those servers",
                info.route_account
            );
            log::error!("{tag} - {text}");
            self.send_err(key, &text);
            self.close(key, CloseReason::ProtocolViolation);
            return;
        }
        if let Some(existing) = self.route_to(&info.server_id) {
            log::debug!(
                "{tag} - Detected duplicate remote route {:?}",
                info.server_id
            );
            // The route that stays serves the target this one was for.
            if let Some(index) = target {
                if let Some(r) = self.conns[existing].route.as_deref_mut() {
                    if r.target.is_none() {
                        r.target = Some(index);
                        if let Some(t) = self.routes.targets.get_mut(index) {
                            t.conn = Some(existing);
                            t.remote_id = Some(info.server_id.as_str().into());
                        }
                    }
                }
                if let Some(r) = self.conns[key].route.as_deref_mut() {
                    r.target = None;
                }
            }
            self.close(key, CloseReason::DuplicateRoute);
            return;
        }
        self.register_route(key, info);
    }

    /// nats-server's `addRoute`: the route is up.
    fn register_route(&mut self, key: usize, mut info: RouteInfo) {
        let addr = self.conns[key].addr;
        let conn = &mut self.conns[key];
        conn.auth_deadline = None;
        conn.connected = true;
        let route = conn.route.as_deref_mut().expect("a route");
        route.state = RouteState::Connected;
        route.remote_id = info.server_id.as_str().into();
        route.remote_name = info.server_name.as_str().into();
        route.remote_version = info.version.as_str().into();
        route.headers = info.headers;
        // nats-server's word for what this route does: `off`, or `not
        // supported` when the peer's INFO offers no compression at all.
        route.compression = if info.compression.is_empty() {
            "not supported"
        } else {
            "off"
        };
        route.connect_urls = std::mem::take(&mut info.connect_urls);
        route.ws_connect_urls = std::mem::take(&mut info.ws_connect_urls);
        if info.ip.is_empty() {
            info.ip = format!(
                "nats-route://{}/",
                join_host_port(&addr.ip().to_string(), info.port)
            );
        }
        route.remote_url = info.ip.as_str().into();
        let target = route.target;
        let solicited = target.is_some();
        let local_gossip = route.gossip_mode;
        if let Some(t) = target.and_then(|t| self.routes.targets.get_mut(t)) {
            t.remote_id = Some(info.server_id.as_str().into());
        }
        log::debug!(
            "{} - Registering remote route {:?}",
            self.conns[key].tag(),
            info.server_id
        );
        // Gossip: the other routes learn of this server.
        let explicit = target
            .and_then(|t| self.routes.targets.get(t))
            .is_some_and(|t| t.explicit);
        let from_gossip = solicited && !explicit;
        if (!from_gossip || local_gossip == GOSSIP_OVERRIDE) && info.gossip_mode != GOSSIP_DISABLED
        {
            self.forward_route_info(key, &info, solicited, explicit);
        }
        let no_advertise = self.opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
        if !no_advertise {
            self.update_connect_urls(true);
        }
        self.send_all_route_interest(key);
    }

    /// Tell every other route of the server route `key` reached, as
    /// nats-server's `forwardNewRouteInfoToKnownServers`.
    fn forward_route_info(
        &mut self,
        key: usize,
        info: &RouteInfo,
        solicited: bool,
        explicit: bool,
    ) {
        let mut forwarded = info.clone();
        forwarded.nonce.clear();
        let others: Vec<usize> = self
            .routes
            .links
            .iter()
            .copied()
            .filter(|&k| k != key)
            .collect();
        for other in others {
            let Some(conn) = self.conns.get(other) else {
                continue;
            };
            let Some(route) = conn.route.as_deref() else {
                continue;
            };
            if route.state != RouteState::Connected || conn.is_closing() {
                continue;
            }
            let other_explicit = route
                .target
                .and_then(|t| self.routes.targets.get(t))
                .is_some_and(|t| t.explicit);
            forwarded.gossip_mode = if (!solicited && other_explicit) || (solicited && explicit) {
                GOSSIP_OVERRIDE
            } else if !solicited {
                GOSSIP_DISABLED
            } else {
                GOSSIP_DEFAULT
            };
            write_info(&mut self.conns[other].wbuf.buf, &forwarded);
            self.queue_flush(other);
        }
    }

    /// The clients' `connect_urls`: this server's and those of the routes
    /// (unless `no_advertise`). When they changed and `tell`, every client
    /// that takes an async INFO gets one.
    pub(in crate::core) fn update_connect_urls(&mut self, tell: bool) {
        let no_advertise = self.opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
        let mut urls = Vec::new();
        if !no_advertise {
            for &key in &self.routes.links {
                let Some(route) = self.conns.get(key).and_then(|c| c.route.as_deref()) else {
                    continue;
                };
                if route.state != RouteState::Connected {
                    continue;
                }
                for url in &route.connect_urls {
                    if !urls.contains(url) {
                        urls.push(url.clone());
                    }
                }
            }
        }
        // nats-server gives out none until a route brings some; then its
        // own first (in lame duck mode, only the others').
        if urls.is_empty() && self.info.connect_urls.is_empty() {
            return;
        }
        let own = &self.routes.client_urls;
        urls.retain(|u| !own.contains(u));
        urls.splice(0..0, own.iter().cloned());
        if urls == self.info.connect_urls {
            return;
        }
        self.info.connect_urls = urls;
        if tell {
            let ldm = self.lame_duck.is_some();
            self.send_info_to_clients(ldm);
        }
    }

    /// Lame duck mode: our clients are told only the other servers' URLs,
    /// and the routes hear it (their servers stop giving out ours).
    pub(in crate::core) fn announce_lame_duck_to_routes(&mut self) {
        let no_advertise = self.opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
        if !no_advertise {
            let own = std::mem::take(&mut self.routes.client_urls);
            self.info.connect_urls.retain(|u| !own.contains(u));
        }
        let mut info = self.route_info();
        info.ldm = true;
        for key in self.routes.links.clone() {
            let connected = self.conns[key]
                .route
                .as_deref()
                .is_some_and(|r| r.state == RouteState::Connected);
            if connected {
                write_info(&mut self.conns[key].wbuf.buf, &info);
                self.queue_flush(key);
            }
        }
    }

    /// `removeRoute`: a route connection is going; what came over it goes
    /// with it.
    pub(in crate::core) fn route_closing(&mut self, key: usize, now: Instant) {
        self.routes.links.retain(|&k| k != key);
        self.congestion_gone();
        let conn = &self.conns[key];
        let Some(route) = conn.route.as_deref() else {
            return;
        };
        let reason = conn.closing.unwrap_or(CloseReason::ClientClosed);
        if route.remote_name.is_empty() {
            log::info!(
                "{} - Router connection closed: {}",
                conn.tag(),
                reason.as_str()
            );
        } else {
            log::info!(
                "{} - Router connection closed: {} - Remote: {}",
                conn.tag(),
                reason.as_str(),
                route.remote_name
            );
        }
        let registered = route.state == RouteState::Connected;
        let target = route.target;
        self.routes.closed_traffic.add(&conn.stats);
        // The peer's interest: gone from the accounts and the leaf nodes.
        let subs: Vec<usize> = conn.subs.keys().into_iter().collect();
        for sub_key in subs {
            self.remove_remote_sub(key, sub_key);
        }
        if let Some(index) = target {
            let retry = reason == CloseReason::DuplicateRoute;
            self.route_target_lost(index, retry, now);
        }
        if registered {
            self.update_connect_urls(true);
        }
    }

    /// The connected route to server `id`.
    pub(in crate::core) fn route_to(&self, id: &str) -> Option<usize> {
        self.routes.links.iter().copied().find(|&k| {
            self.conns
                .get(k)
                .and_then(|c| c.route.as_deref())
                .is_some_and(|r| r.state == RouteState::Connected && &*r.remote_id == id)
                && !self.conns[k].is_closing()
        })
    }

    /// `RMSG`/`HMSG` from a route: delivered in its account to this
    /// server's clients and leaf nodes only, and to a queue group only
    /// when the peer named it.
    fn process_routed_msg(
        &mut self,
        key: usize,
        account: &[u8],
        msg: &Pub<'_>,
        queues: &[u8],
        now: Instant,
    ) {
        self.count_in(key, 1, msg.msg.len() as u64, now);
        let Some(account) = self.account_named(account) else {
            log::debug!(
                "{} - Unknown account {:?} for routed message on subject: {:?}",
                self.conns[key].tag(),
                String::from_utf8_lossy(account),
                String::from_utf8_lossy(msg.subject)
            );
            return;
        };
        self.publish_filtered(account, key, msg, now, &[], Some(queues));
    }

    pub(in crate::core) fn account_named(&self, name: &[u8]) -> Option<u32> {
        let name = std::str::from_utf8(name).ok()?;
        self.accounts.find(name)
    }
}

/// A permission as INFO carries it.
fn rules(p: &crate::auth::permissions::SubjectPermission) -> crate::proto::info::SubjectRules {
    crate::proto::info::SubjectRules {
        allow: p.allow.clone().unwrap_or_default(),
        deny: p.deny.clone(),
    }
}

/// `host[:port]`, the port `default` when it has none.
fn split_host_port(text: &str, default: u16) -> (String, u16) {
    if let Some(v6) = text.strip_prefix('[') {
        if let Some((host, rest)) = v6.split_once(']') {
            let port = rest
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default);
            return (host.to_string(), port);
        }
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            (host.to_string(), port.parse().unwrap_or(default))
        }
        _ => (text.to_string(), default),
    }
}

/// Go's `net.JoinHostPort`.
pub(in crate::core) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
