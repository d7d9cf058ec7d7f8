//! A leaf link's handshake and the peer's operations.
//!
//! The handshake: the accepting side sends an INFO (`info_on_connect`,
//! `leafnode_urls`, a nonce to sign); the soliciting side answers with a
//! CONNECT (its credentials, server name and the account it binds); the
//! accepting side admits it into an account and sends a second INFO
//! (`connect_info`, `remote_account`). Both then send their interest as
//! `LS+` (see `interest.rs`) and messages flow as `LMSG`/`HMSG` (see
//! `deliver.rs`).
//!
//! natsd does not compress leaf connections: its INFO offers no
//! `compression`, which a Go leaf takes as "not supported", and its CONNECT
//! says `"compress_mode":"off"` to a Go hub that offers S2, as a Go leaf
//! configured with `compression: off` does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::interest::LOOP_DETECTION_PREFIX;
use super::{rule, smap_key, LeafConn, LeafListener, LeafState, LeafUrl};
use crate::auth::permissions::CompiledPermissions;
use crate::core::closed::CloseReason;
use crate::core::conn::Role;
use crate::core::timers::TimerKind;
use crate::core::Core;
use crate::proto::{encode, Op, Pub};

/// How long a hub has to answer our CONNECT with its second INFO
/// (nats-server's `connectProcessTimeout`).
const CONNECT_PROCESS_TIMEOUT: Duration = Duration::from_secs(2);
/// The wait before a remote is dialed again after a loop was detected.
const RECONNECT_DELAY_AFTER_LOOP: Duration = Duration::from_secs(30);
/// ... and after a permissions violation (when we dialed).
const RECONNECT_DELAY_AFTER_PERMISSIONS: Duration = Duration::from_secs(30);
/// ... and after the hub found our cluster name to be its own.
const RECONNECT_DELAY_AFTER_SAME_CLUSTER: Duration = Duration::from_secs(30);

pub const ERR_WRONG_PORT: &str = "attempted to connect to wrong port";
pub const ERR_CLIENT_ON_LEAF_PORT: &str = "attempted to connect to leaf node port";
pub const ERR_CLUSTER_SPACES: &str = "cluster name cannot contain spaces";
pub const ERR_SAME_CLUSTER: &str = "remote leafnode has same cluster name";
pub const ERR_DUPLICATE: &str = "Duplicate Remote LeafNode Connection";
pub const ERR_STALE: &str = "Stale Leaf Node Connection - Closing";

/// The fields of a leaf's CONNECT this side reads (nats-server's
/// `leafConnectInfo`; the credentials are read as a client's).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LeafConnect {
    server_id: String,
    name: String,
    cluster: String,
    is_hub: bool,
    gateway: String,
    remote_account: String,
    deny_pub: Vec<String>,
}

/// The hub's INFO, as the soliciting side reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HubInfo {
    server_id: String,
    server_name: String,
    client_id: u64,
    leafnode_urls: Option<Vec<String>>,
    nonce: String,
    headers: bool,
    tls_required: bool,
    connect_info: bool,
    info_on_connect: bool,
    remote_account: String,
    cluster: String,
    import: Option<WireSubjectPermission>,
    export: Option<WireSubjectPermission>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireSubjectPermission {
    allow: Option<Vec<String>>,
    deny: Vec<String>,
}

/// Our CONNECT to a hub, in nats-server's field order.
#[derive(Debug, Default, Serialize)]
struct SolicitConnect<'a> {
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    nkey: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    sig: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    user: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pass: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    auth_token: &'a str,
    server_id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_hub: bool,
    cluster: &'a str,
    headers: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny_pub: Vec<String>,
    compress_mode: &'a str,
    remote_account: &'a str,
    protocol: u32,
}

impl Core {
    /// This server's cluster name as leaf nodes see it: the cluster's, or
    /// its server name without one (as nats-server).
    fn leaf_cluster_name(&self) -> &str {
        if !self.info.cluster.is_empty() {
            return &self.info.cluster;
        }
        if self.info.server_name.is_empty() {
            &self.info.server_id
        } else {
            &self.info.server_name
        }
    }

    fn new_leaf_conn(&mut self, addr: SocketAddr, leaf: LeafConn, now: Instant) -> usize {
        let key = self.new_link_conn(
            addr,
            Role::Leaf,
            |conn, parser| {
                parser.leaf = true;
                conn.leaf = Some(Box::new(leaf));
            },
            now,
        );
        self.leaf.links.push(key);
        key
    }

    /// Leaf nodes are accepted (`leafnodes {}` has a port), also over
    /// WebSocket.
    pub fn accepts_leafnodes(&self) -> bool {
        self.leaf.listener.is_some()
    }

    /// The leaf node listener is up: the hub's INFO names it.
    pub fn set_leaf_listener(&mut self, listener: LeafListener) {
        self.leaf.listener = Some(listener);
    }

    /// A leaf node connected to the leaf node port: it gets the hub's
    /// INFO and has the leaf authorization timeout to send its CONNECT.
    pub fn accept_leaf(&mut self, addr: SocketAddr, websocket: bool, now: Instant) -> usize {
        let mut leaf = LeafConn::new(None, false, LeafState::AwaitConnect);
        leaf.websocket = websocket;
        let key = self.new_leaf_conn(addr, leaf, now);
        let tag = self.conns[key].tag().to_string();
        log::info!("{tag} - Leafnode connection created ");
        let cid = self.conns[key].cid;
        let mut info = self.hub_info(cid);
        info.nonce = self.leaf_nonce(cid);
        info.write_to(&mut self.conns[key].wbuf.buf);
        if self.trace {
            log::trace!("{tag} - ->> [INFO]");
        }
        self.queue_flush(key);
        let timeout = self.leaf_auth_timeout();
        let at = now + timeout;
        self.conns[key].auth_deadline = Some(at);
        self.schedule(key, cid, TimerKind::Auth, at);
        key
    }

    /// `leafnodes { authorization { timeout } }`, or nats-server's default:
    /// the TLS timeout and a second with TLS, else 2 s.
    pub fn leaf_auth_timeout(&self) -> Duration {
        let leafnodes = self.opts.leafnodes.as_ref();
        if let Some(t) = leafnodes.and_then(|l| l.auth_timeout) {
            return t;
        }
        match leafnodes.and_then(|l| l.tls.as_ref()) {
            Some(tls) => tls.timeout.unwrap_or(Duration::from_secs(2)) + Duration::from_secs(1),
            None => Duration::from_secs(2),
        }
    }

    /// The nonce a leaf signs: one per connection, always (nats-server
    /// sends one to every leaf).
    #[cfg(feature = "jwt")]
    fn leaf_nonce(&mut self, cid: u64) -> String {
        let nonces = self
            .nonces
            .get_or_insert_with(crate::auth::nonce::Nonces::new);
        String::from_utf8_lossy(&nonces.for_connection(cid)).into_owned()
    }

    #[cfg(not(feature = "jwt"))]
    fn leaf_nonce(&mut self, _cid: u64) -> String {
        String::new()
    }

    /// The hub's INFO for connection `cid` (without its nonce).
    fn hub_info(&self, cid: u64) -> crate::proto::Info {
        let mut info = self.info.clone();
        info.client_id = cid;
        info.client_ip = String::new();
        info.auth_required = true;
        info.tls_available = false;
        info.info_on_connect = true;
        let leafnodes = self.opts.leafnodes.as_ref();
        let advertise = leafnodes.and_then(|l| l.advertise.clone());
        let no_advertise = leafnodes.is_some_and(|l| l.no_advertise);
        match &self.leaf.listener {
            Some(listener) => {
                info.host.clone_from(&listener.host);
                info.port = listener.port;
                info.tls_required = listener.tls;
                info.tls_verify = listener.tls_verify;
                // An unspecified host is no address to give out.
                let specified = !matches!(listener.host.as_str(), "0.0.0.0" | "::" | "");
                let url = advertise.or_else(|| {
                    specified.then(|| {
                        LeafUrl {
                            scheme: String::new(),
                            host: listener.host.clone(),
                            port: listener.port,
                            user: None,
                            password: None,
                            path: String::new(),
                        }
                        .host_port()
                    })
                });
                info.leafnode_urls = Some(match url {
                    Some(url) if !no_advertise => vec![url],
                    _ => Vec::new(),
                });
            }
            None => info.leafnode_urls = Some(Vec::new()),
        }
        info
    }

    /// The reactor dialed remote `index` and is connected from `addr`: a
    /// leaf connection that waits for the hub's INFO.
    pub fn connect_leaf(&mut self, index: usize, addr: SocketAddr, now: Instant) -> usize {
        let (hub, first_info_timeout, account) = match self.leaf.remotes.get(index) {
            Some(r) => (
                r.opts.hub,
                r.opts.first_info_timeout,
                r.opts.account.clone().unwrap_or_else(|| "$G".into()),
            ),
            None => (false, Duration::from_secs(1), "$G".into()),
        };
        let mut leaf = LeafConn::new(Some(index), !hub, LeafState::AwaitInfo);
        leaf.websocket = self
            .leaf
            .remotes
            .get(index)
            .and_then(|r| r.current_url())
            .is_some_and(LeafUrl::is_websocket);
        let key = self.new_leaf_conn(addr, leaf, now);
        if let Some(account) = self.accounts.find(&account) {
            self.conns[key].account = account;
        }
        if let Some(remote) = self.leaf.remotes.get_mut(index) {
            if !remote.first_connect {
                self.leaf.reconnects += 1;
            }
            remote.conn = Some(key);
            remote.attempts = 0;
            let deny_exports = remote.opts.deny_exports.clone();
            let deny_imports = remote.opts.deny_imports.clone();
            let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
            leaf.send = rule(None, deny_exports);
            leaf.receive = rule(None, deny_imports);
        }
        let tag = self.conns[key].tag().to_string();
        log::info!("{tag} - Leafnode connection created for account: {account} ");
        self.arm_leaf_handshake(key, now + first_info_timeout.max(Duration::from_millis(1)));
        key
    }

    fn arm_leaf_handshake(&mut self, key: usize, at: Instant) {
        let conn = &mut self.conns[key];
        if let Some(leaf) = conn.leaf.as_deref_mut() {
            leaf.handshake_deadline = Some(at);
        }
        let cid = conn.cid;
        self.schedule(key, cid, TimerKind::LeafHandshake, at);
    }

    /// A handshake step of leaf connection `key` is due at `at`.
    pub(in crate::core) fn leaf_handshake_timer(&mut self, key: usize, at: Instant) {
        let conn = &self.conns[key];
        let Some(leaf) = conn.leaf.as_deref() else {
            return;
        };
        if leaf.handshake_deadline != Some(at) {
            return;
        }
        match leaf.state {
            LeafState::AwaitInfo => {
                log::error!("{} - Leafnode Error: no INFO from the remote", conn.tag());
                self.close(key, CloseReason::ReadError);
            }
            LeafState::AwaitConnectInfo => {
                log::error!("{} - {ERR_STALE}", conn.tag());
                self.send_err(key, ERR_STALE);
                self.close(key, CloseReason::StaleConnection);
            }
            _ => {}
        }
    }

    /// The leaf connections whose hub asked for TLS, with the remote each
    /// was dialed for: the reactor starts a TLS client on each, then calls
    /// [`Core::tls_established`].
    pub fn take_leaf_tls_clients(&mut self) -> Vec<(usize, usize)> {
        let keys = std::mem::take(&mut self.leaf.tls_clients);
        keys.into_iter()
            .filter_map(|key| {
                let remote = self.conns.get(key)?.leaf.as_deref()?.remote?;
                Some((key, remote))
            })
            .collect()
    }

    /// Remote `index` opens with TLS before the hub's INFO
    /// (`tls { handshake_first }`).
    pub fn leaf_tls_first(&self, index: usize) -> bool {
        self.leaf.remotes.get(index).is_some_and(|r| {
            r.opts
                .tls
                .as_ref()
                .is_some_and(|t| t.handshake_first != crate::options::HandshakeFirst::Off)
        })
    }

    /// A remote's options and the URL it was dialed at, for its TLS.
    pub fn leaf_remote(
        &self,
        index: usize,
    ) -> Option<(&crate::options::RemoteLeafOptions, Option<&LeafUrl>)> {
        let remote = self.leaf.remotes.get(index)?;
        Some((&remote.opts, remote.current_url()))
    }

    /// TLS is up on a leaf connection that waited for it: the CONNECT goes.
    pub(in crate::core) fn leaf_tls_established(&mut self, key: usize, now: Instant) {
        let waiting = self.conns[key]
            .leaf
            .as_deref()
            .is_some_and(|l| l.state == LeafState::AwaitTls);
        if waiting {
            self.send_leaf_connect(key, now);
        }
    }

    /// An operation from a leaf node peer.
    pub(in crate::core) fn process_leaf_op(&mut self, key: usize, op: &Op<'_>, now: Instant) {
        if self.trace {
            log::trace!(
                "{} - <<- [{}]",
                self.conns[key].tag(),
                crate::core::client::describe(op)
            );
        }
        let state = self.conns[key]
            .leaf
            .as_deref()
            .map_or(LeafState::Connected, |l| l.state);
        match *op {
            Op::Ping => self.queue(key, encode::PONG),
            Op::Pong => self.conns[key].process_pong(now),
            Op::Ok => {}
            Op::Err(text) => self.leaf_error(key, text),
            Op::Info(json) => self.process_leaf_info(key, json, now),
            Op::Connect(json) if state == LeafState::AwaitConnect => {
                self.process_leaf_connect(key, json, now)
            }
            Op::Connect(_) => self.close(key, CloseReason::ProtocolViolation),
            _ if state != LeafState::Connected => {
                self.send_err(key, crate::proto::error::AUTHORIZATION_VIOLATION);
                self.close(key, CloseReason::ProtocolViolation);
            }
            Op::LeafSub {
                subject,
                queue,
                weight,
            } => {
                self.conns[key].stats.last_activity = now;
                self.process_leaf_sub(key, subject, queue, weight);
            }
            Op::LeafUnsub { subject, queue } => {
                self.conns[key].stats.last_activity = now;
                let sid = smap_key(subject, queue);
                let sid_hash = std::hash::BuildHasher::hash_one(&self.sid_hasher, &sid[..]);
                if let Some(sub_key) = self.conns[key].subs.get(&sid, sid_hash, &self.subs) {
                    self.unsubscribe(sub_key);
                }
                if let Some(leaf) = self.conns[key].leaf.as_deref_mut() {
                    leaf.queue_weights.remove(&sid[..]);
                }
            }
            Op::LeafMsg { ref msg, queues } => self.process_leaf_msg(key, msg, queues, now),
            // The leaf parser makes no client operations.
            _ => self.close(key, CloseReason::ProtocolViolation),
        }
    }

    /// `-ERR` from the peer: logged; a loop or a refusal of our cluster
    /// name delays the next dial.
    fn leaf_error(&mut self, key: usize, text: &[u8]) {
        let text = String::from_utf8_lossy(text).into_owned();
        let tag = self.conns[key].tag().to_string();
        log::error!("{tag} - Leafnode Error {text}");
        // nats-server's `leafProcessErr`: the peer closes; only a loop is
        // closed from this side too.
        if text.contains(ERR_SAME_CLUSTER) {
            log::error!(
                "{tag} - Leafnode connection dropped with same cluster name error. Delaying \
                 attempt to reconnect for {}",
                crate::go_format::duration(RECONNECT_DELAY_AFTER_SAME_CLUSTER)
            );
            self.delay_remote_of(key, RECONNECT_DELAY_AFTER_SAME_CLUSTER);
        } else if text.contains("Loop detected") {
            self.leaf_loop_detected(key, false);
        }
    }

    fn delay_remote_of(&mut self, key: usize, delay: Duration) {
        let remote = self.conns[key].leaf.as_deref().and_then(|l| l.remote);
        if let Some(remote) = remote.and_then(|r| self.leaf.remotes.get_mut(r)) {
            remote.delay = Some(delay);
        }
    }

    /// The hub's INFO (we dialed): the first one starts our CONNECT (after
    /// TLS if asked), the one after it (`connect_info`) ends the handshake;
    /// later ones bring new `leafnode_urls`.
    fn process_leaf_info(&mut self, key: usize, json: &[u8], now: Instant) {
        let leaf = self.conns[key].leaf.as_deref().expect("a leaf connection");
        let Some(remote) = leaf.remote else {
            // An accepting side reads a leaf's INFO and drops it.
            return;
        };
        let state = leaf.state;
        let mut info: HubInfo = match serde_json::from_slice(json) {
            Ok(info) => info,
            Err(e) => {
                log::error!("{} - Leafnode Error: bad INFO: {e}", self.conns[key].tag());
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
        };
        if state == LeafState::AwaitInfo {
            if info.client_id == 0 || info.leafnode_urls.is_none() {
                log::error!("{} - {ERR_WRONG_PORT}", self.conns[key].tag());
                self.send_err(key, ERR_WRONG_PORT);
                self.close(key, CloseReason::WrongPort);
                return;
            }
            if info.cluster.contains(' ') {
                log::error!("{} - {ERR_CLUSTER_SPACES}", self.conns[key].tag());
                self.send_err(key, ERR_CLUSTER_SPACES);
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
            let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
            leaf.nonce = info.nonce.as_str().into();
            leaf.headers = info.headers;
            leaf.remote_id = info.server_id.as_str().into();
            leaf.remote_name = if info.server_name.is_empty() {
                info.server_id.as_str().into()
            } else {
                info.server_name.as_str().into()
            };
            leaf.remote_cluster = info.cluster.as_str().into();
            self.conns[key].opts.headers = info.headers;
        }
        if let (Some(urls), Some(r)) = (&info.leafnode_urls, self.leaf.remotes.get_mut(remote)) {
            r.learn(urls);
        }
        if info.import.is_some() || info.export.is_some() {
            self.apply_hub_permissions(
                key,
                remote,
                info.import.take_wire(),
                info.export.take_wire(),
            );
        }
        if !info.remote_account.is_empty() {
            let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
            leaf.remote_account = info.remote_account.as_str().into();
        }
        match state {
            LeafState::AwaitInfo => {
                // Over WebSocket, TLS is `wss://`'s, done before the upgrade.
                let url = self.leaf.remotes.get(remote).and_then(|r| r.current_url());
                let websocket = url.is_some_and(LeafUrl::is_websocket);
                let wants_tls = !websocket
                    && (info.tls_required
                        || url.is_some_and(LeafUrl::wants_tls)
                        || self
                            .leaf
                            .remotes
                            .get(remote)
                            .is_some_and(|r| r.opts.tls.is_some()));
                if wants_tls && self.conns[key].tls.is_none() {
                    self.conns[key].leaf.as_deref_mut().expect("a leaf").state =
                        LeafState::AwaitTls;
                    self.leaf.tls_clients.push(key);
                    return;
                }
                self.send_leaf_connect(key, now);
                if !info.info_on_connect {
                    self.finish_leaf_connect(key, now);
                }
            }
            LeafState::AwaitConnectInfo if info.connect_info => self.finish_leaf_connect(key, now),
            _ => {}
        }
    }

    /// Permissions a hub sends for the link: what we may export (send)
    /// and import (take), with the remote's own deny lists merged in.
    fn apply_hub_permissions(
        &mut self,
        key: usize,
        remote: usize,
        import: Option<(Option<Vec<String>>, Vec<String>)>,
        export: Option<(Option<Vec<String>>, Vec<String>)>,
    ) {
        let Some(r) = self.leaf.remotes.get(remote) else {
            return;
        };
        let (mut export_allow, mut export_deny) = export.unwrap_or_default();
        let (mut import_allow, mut import_deny) = import.unwrap_or_default();
        export_deny.extend(r.opts.deny_exports.iter().cloned());
        import_deny.extend(r.opts.deny_imports.iter().cloned());
        let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
        leaf.send = rule(export_allow.take(), export_deny);
        leaf.receive = rule(import_allow.take(), import_deny);
    }

    /// Our CONNECT to the hub, with the credentials the remote has: a
    /// `.creds` file's JWT and the nonce signed by its seed, an nkey seed's
    /// signature, and the URL's user and password.
    fn send_leaf_connect(&mut self, key: usize, now: Instant) {
        let leaf = self.conns[key].leaf.as_deref().expect("a leaf connection");
        let Some(remote) = leaf.remote.and_then(|r| self.leaf.remotes.get(r)) else {
            return;
        };
        let nonce = leaf.nonce.clone();
        let (jwt, nkey, sig) = match signed_credentials(&remote.opts, nonce.as_bytes()) {
            Ok(signed) => signed,
            Err(e) => {
                log::error!(
                    "{} - Error sending leafnode connect: {e}",
                    self.conns[key].tag()
                );
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
        };
        let url = remote.current_url();
        let user = url
            .and_then(|u| u.user.clone())
            .or_else(|| remote.user.clone())
            .unwrap_or_default();
        let password = url
            .and_then(|u| u.password.clone())
            .or_else(|| remote.password.clone())
            .unwrap_or_default();
        // A user name alone is sent as a token too, as nats-server does.
        let token = if password.is_empty() {
            user.clone()
        } else {
            String::new()
        };
        let account_name = self.accounts.name_of(self.conns[key].account).to_string();
        let connect = SolicitConnect {
            version: &self.info.version,
            nkey: &nkey,
            jwt,
            sig,
            user: &user,
            pass: &password,
            auth_token: &token,
            server_id: &self.info.server_id,
            name: &self.info.server_name,
            is_hub: remote.opts.hub,
            cluster: self.leaf_cluster_name(),
            headers: true,
            deny_pub: remote.opts.deny_imports.clone(),
            compress_mode: "off",
            remote_account: &account_name,
            protocol: 1,
        };
        let mut out = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut out, &connect).expect("CONNECT serializes");
        out.extend_from_slice(b"\r\n");
        let tag = self.conns[key].tag().to_string();
        self.queue(key, &out);
        log::debug!("{tag} - Remote leafnode connect msg sent");
        self.conns[key].leaf.as_deref_mut().expect("a leaf").state = LeafState::AwaitConnectInfo;
        self.arm_leaf_handshake(key, now + CONNECT_PROCESS_TIMEOUT);
    }

    /// The hub took our CONNECT: our interest goes to it, and keepalives
    /// start.
    fn finish_leaf_connect(&mut self, key: usize, now: Instant) {
        let conn = &mut self.conns[key];
        conn.connected = true;
        if let Some(leaf) = conn.leaf.as_deref_mut() {
            leaf.state = LeafState::Connected;
            leaf.handshake_deadline = None;
        }
        self.send_all_leaf_interest(key);
        self.arm_first_ping(key, now);
    }

    /// A leaf's CONNECT on the leaf node port: checked, authenticated and
    /// bound to an account, then the second INFO and our interest.
    fn process_leaf_connect(&mut self, key: usize, json: &[u8], now: Instant) {
        let conn = &mut self.conns[key];
        conn.auth_deadline = None;
        conn.stats.last_activity = now;
        let start = conn.stats.start;
        conn.stats.measure_rtt(start, now);
        let parsed = conn
            .opts
            .apply_json(json)
            .map_err(|e| e.to_string())
            .and_then(|()| serde_json::from_slice::<LeafConnect>(json).map_err(|e| e.to_string()));
        let connect = match parsed {
            Ok(connect) => connect,
            Err(e) => {
                log::error!("{} - {e}", conn.tag());
                self.close(key, CloseReason::ProtocolViolation);
                return;
            }
        };
        conn.opts.echo = false;
        let refusal = if !conn.opts.lang.is_empty() {
            Some((ERR_CLIENT_ON_LEAF_PORT.to_string(), CloseReason::WrongPort))
        } else if connect.cluster.contains(' ') {
            Some((
                ERR_CLUSTER_SPACES.to_string(),
                CloseReason::ProtocolViolation,
            ))
        } else if !connect.cluster.is_empty() && connect.cluster == self.leaf_cluster_name() {
            Some((
                ERR_SAME_CLUSTER.to_string(),
                CloseReason::ClusterNamesIdentical,
            ))
        } else if !connect.gateway.is_empty() {
            Some((
                format!(
                    "Rejecting connection from gateway {:?} on the leafnode port",
                    connect.gateway
                ),
                CloseReason::WrongPort,
            ))
        } else {
            None
        };
        if let Some((text, reason)) = refusal {
            log::error!("{} - {text}", self.conns[key].tag());
            self.send_err(key, &text);
            self.close(key, reason);
            return;
        }
        let Some((account, user_rules)) = self.admit_leaf(key, now) else {
            return;
        };
        let conn = &mut self.conns[key];
        conn.account = account;
        conn.connected = true;
        conn.parser.headers = conn.opts.headers;
        let leaf = conn.leaf.as_deref_mut().expect("a leaf connection");
        leaf.remote_id = connect.server_id.as_str().into();
        leaf.remote_name = if connect.name.is_empty() {
            connect.server_id.as_str().into()
        } else {
            connect.name.as_str().into()
        };
        leaf.remote_cluster = connect.cluster.as_str().into();
        leaf.remote_version = conn.opts.version.clone();
        leaf.remote_account = connect.remote_account.as_str().into();
        leaf.headers = conn.opts.headers;
        leaf.is_spoke = connect.is_hub;
        // The leaf's `deny_imports` (`deny_pub`): not sent to it.
        leaf.send = rule(None, connect.deny_pub);
        leaf.user = user_rules;
        leaf.state = LeafState::Connected;
        let name = leaf.remote_name.clone();
        self.replace_duplicate_leaf(key, account, &name);
        let cid = self.conns[key].cid;
        let mut info = self.hub_info(cid);
        info.connect_info = true;
        info.remote_account = self.accounts.name_of(account).to_string();
        info.acc_is_sys = account == self.accounts.system;
        // The leaf applies its user's permissions on its side too, so it
        // sends no interest the hub would refuse.
        if let Some(user) = self.conns[key].leaf.as_deref().and_then(|l| l.user.clone()) {
            let rules = |p: &Option<crate::auth::permissions::SubjectPermission>| {
                p.as_ref().map(|p| crate::proto::info::SubjectRules {
                    allow: p.allow.clone().unwrap_or_default(),
                    deny: p.deny.clone(),
                })
            };
            info.import = rules(&user.source().subscribe);
            info.export = rules(&user.source().publish);
        }
        let mut out = Vec::new();
        info.write_to(&mut out);
        self.queue(key, &out);
        self.send_all_leaf_interest(key);
        self.arm_first_ping(key, now);
    }

    /// A second link from the same server into the same account replaces
    /// the first, which is told why (nats-server keeps the newest).
    fn replace_duplicate_leaf(&mut self, key: usize, account: u32, name: &str) {
        let old = self.leaf.links.iter().copied().find(|&k| {
            k != key
                && self.conns.get(k).is_some_and(|c| {
                    c.account == account
                        && !c.is_closing()
                        && c.leaf.as_deref().is_some_and(|l| {
                            l.remote.is_none()
                                && l.state == LeafState::Connected
                                && &*l.remote_name == name
                        })
                })
        });
        if let Some(old) = old {
            log::warn!(
                "{} - Replacing connection from same server",
                self.conns[key].tag()
            );
            self.send_err(old, ERR_DUPLICATE);
            self.close(old, CloseReason::DuplicateRemoteLeafnodeConnection);
            // Its interest goes now, not when it is reaped: the new link
            // is told the interest without it, and must not lose it again.
            self.drop_leaf_subs(old);
        }
    }

    /// Withdraw and remove every subscription of leaf connection `key`.
    fn drop_leaf_subs(&mut self, key: usize) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let account = conn.account;
        let subs: Vec<(usize, u32)> = conn
            .subs
            .keys()
            .into_iter()
            .filter_map(|k| Some((k, conn.weight_of(self.subs.get(k)?))))
            .collect();
        for (sub_key, weight) in subs {
            self.interest_changed(sub_key, -(weight as i32));
            let sid_hash =
                std::hash::BuildHasher::hash_one(&self.sid_hasher, self.subs[sub_key].sid());
            self.conns[key]
                .subs
                .remove(sid_hash, sub_key, &self.subs, &self.sid_hasher);
            self.drop_subscription(sub_key, account);
        }
        if let Some(leaf) = self.conns[key].leaf.as_deref_mut() {
            leaf.queue_weights.clear();
        }
    }

    /// nats-server's `isLeafNodeAuthorized`: the leaf node block's user or
    /// users when it has them, else the server's own authorization (a user
    /// of it must allow `LEAFNODE` connections), else anyone, bound to the
    /// block's `account`. The account and the user's permissions, or the
    /// connection is refused and closed.
    fn admit_leaf(
        &mut self,
        key: usize,
        now: Instant,
    ) -> Option<(u32, Option<Arc<CompiledPermissions>>)> {
        let leafnodes = self.opts.leafnodes.clone().unwrap_or_default();
        let conn = &self.conns[key];
        let presented_user = conn.opts.user.to_string();
        let presented_pass = conn.opts.pass.to_string();
        let mut admitted: Option<(Option<String>, Option<Arc<CompiledPermissions>>)> = None;
        let mut configured = true;
        if let Some(user) = &leafnodes.username {
            if *user == presented_user
                && self
                    .verified_logins
                    .matches(leafnodes.password.as_deref().unwrap_or(""), &presented_pass)
            {
                admitted = Some((leafnodes.account.clone(), None));
            }
        } else if !leafnodes.users.is_empty() {
            if let Some(user) = leafnodes
                .users
                .iter()
                .find(|u| u.username == presented_user)
            {
                if self
                    .verified_logins
                    .matches(&user.password, &presented_pass)
                {
                    admitted = Some((user.account.clone(), None));
                }
            }
        } else {
            configured = false;
        }
        if !configured {
            return self.admit_leaf_as_client(key, now, &leafnodes);
        }
        let Some((account_name, perms)) = admitted else {
            self.refuse_leaf(key);
            return None;
        };
        let Some(account) = self.accounts.of_user(account_name.as_deref()) else {
            self.refuse_leaf(key);
            return None;
        };
        self.conns[key].authorized_user = Some(presented_user.into());
        Some((account, perms))
    }

    /// A leaf on a port without leaf authorization: the server's own
    /// (users, token, nkeys, operator JWTs), as a client would log in.
    fn admit_leaf_as_client(
        &mut self,
        key: usize,
        now: Instant,
        leafnodes: &crate::options::LeafnodeOptions,
    ) -> Option<(u32, Option<Arc<CompiledPermissions>>)> {
        let default_account = || leafnodes.account.clone();
        #[cfg(feature = "jwt")]
        if self.opts.operator_mode() {
            // admit_jwt moves a client's count between accounts; a leaf
            // connection is not counted as one.
            let from = self.conns[key].account;
            self.accounts.list[from as usize].num_conns += 1;
            if !self.admit_jwt(key, now) {
                self.accounts.list[from as usize].num_conns -= 1;
                return None;
            }
            let conn = &mut self.conns[key];
            // admit_jwt counts the connection as a client's.
            let account = conn.account;
            self.accounts.list[account as usize].num_conns -= 1;
            let perms = conn.perms.take().map(|p| p.rules().clone());
            return Some((account, perms));
        }
        let _ = now;
        if !self.opts.auth_required() {
            let account = self.accounts.of_user(default_account().as_deref());
            if account.is_none() {
                self.refuse_leaf(key);
            }
            return account.map(|a| (a, None));
        }
        let cid = self.conns[key].cid;
        let nonce = self.leaf_nonce(cid);
        let conn = &self.conns[key];
        let mut why = None;
        let login = crate::auth::authenticate(
            &self.opts,
            crate::auth::Via {
                kind: "LEAFNODE",
                ..crate::auth::Via::STANDARD
            },
            &conn.opts,
            nonce.as_bytes(),
            &mut self.verified_logins,
            &mut why,
        );
        let placed = login.and_then(|login| {
            let user = match login {
                crate::auth::Login::User(user) => Some(user),
                _ => None,
            };
            let account = self
                .accounts
                .of_user(user.and_then(|u| u.account.as_deref()))?;
            Some((
                account,
                user.and_then(|u| self.permissions.get(u.name()).cloned()),
                login.user_name().map(Box::<str>::from),
            ))
        });
        let Some((account, perms, user)) = placed else {
            if let Some(why) = why {
                log::debug!("{} - {why}", conn.tag());
            }
            self.refuse_leaf(key);
            return None;
        };
        self.conns[key].authorized_user = user;
        Some((account, perms))
    }

    fn refuse_leaf(&mut self, key: usize) {
        let conn = &self.conns[key];
        let who = if !conn.opts.nkey().is_empty() {
            format!(" - Nkey {:?}", conn.opts.nkey())
        } else if !conn.opts.user.is_empty() {
            format!(" - User {:?}", conn.opts.user)
        } else {
            String::new()
        };
        log::error!("{} - authentication error{who}", conn.tag());
        self.send_err(key, crate::proto::error::AUTHORIZATION_VIOLATION);
        self.close(key, CloseReason::AuthenticationViolation);
    }

    /// `LS+` from the peer: its interest, stored as a subscription of the
    /// link (keyed by `subject[ queue]`), and passed on where it must go.
    fn process_leaf_sub(&mut self, key: usize, subject: &[u8], queue: Option<&[u8]>, weight: u32) {
        let account = self.conns[key].account;
        if let Some(lds) = self.leaf.loop_subjects.get(&account) {
            if **lds == *subject {
                return self.leaf_loop_detected(key, true);
            }
        }
        let conn = &self.conns[key];
        let leaf = conn.leaf.as_deref().expect("a leaf connection");
        let checked = !subject.starts_with(LOOP_DETECTION_PREFIX);
        if checked && crate::subject::is_literal(subject) && !leaf.send_allowed(subject) {
            log::debug!(
                "{} - Permissions Violation for Subscription to {}",
                conn.tag(),
                crate::core::client::go_quote(subject)
            );
            return self.leaf_permission_violation(key, false, subject);
        }
        if !crate::subject::is_valid_sub_subject(subject) {
            log::error!(
                "{} - Could not insert subscription: invalid subject",
                conn.tag()
            );
            self.send_err(key, crate::proto::error::INVALID_SUBJECT);
            return;
        }
        let sid = smap_key(subject, queue);
        let sid_hash = std::hash::BuildHasher::hash_one(&self.sid_hasher, &sid[..]);
        if let Some(sub_key) = conn.subs.get(&sid, sid_hash, &self.subs) {
            // Known: only a queue group's weight changes.
            if queue.is_some() {
                let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
                let old = leaf.queue_weights.insert(sid.into(), weight).unwrap_or(1);
                let delta = i64::from(weight) - i64::from(old);
                if delta != 0 {
                    self.interest_changed(sub_key, delta as i32);
                }
            }
            return;
        }
        let sub = crate::core::conn::Subscription::new(key, subject, queue, &sid);
        let sub_key = self.subs.insert(sub);
        self.accounts.list[account as usize]
            .sublist
            .insert(subject, queue, sub_key);
        self.conns[key]
            .subs
            .insert(sid_hash, sub_key, &self.subs, &self.sid_hasher);
        if queue.is_some() {
            let leaf = self.conns[key].leaf.as_deref_mut().expect("a leaf");
            leaf.queue_weights.insert(sid.into(), weight);
        }
        // Stream imports of a leaf's interest (shadow subscriptions) are
        // not made: see README, "Leaf nodes".
        let delta = if queue.is_some() { weight } else { 1 };
        self.interest_changed(sub_key, delta as i32);
    }

    /// nats-server's `leafPermViolation`: a hub that told its leaf the
    /// permissions refuses and closes; on a spoke (our hub told us ours)
    /// what is not allowed is only not taken.
    fn leaf_permission_violation(&mut self, key: usize, publish: bool, subject: &[u8]) {
        let conn = &self.conns[key];
        if conn.leaf.as_deref().is_some_and(|l| l.is_spoke) {
            return;
        }
        let quoted = crate::core::client::go_quote(subject);
        let (action, what) = if publish {
            ("Publish", "Publish to")
        } else {
            ("Subscription", "Subscription to")
        };
        log::error!(
            "{} - {action} Violation on {quoted} - Check other side configuration",
            conn.tag()
        );
        self.delay_remote_of(key, RECONNECT_DELAY_AFTER_PERMISSIONS);
        self.send_err(key, &format!("Permissions Violation for {what} {quoted}"));
        self.close(key, CloseReason::ProtocolViolation);
    }

    /// Our own loop detection subject came back (or the peer says its
    /// did, `tell` false): the link closes a loop.
    fn leaf_loop_detected(&mut self, key: usize, tell: bool) {
        let account = self.accounts.name_of(self.conns[key].account).to_string();
        let text = format!(
            "Loop detected for leafnode account={account:?}. Delaying attempt to reconnect for {}",
            crate::go_format::duration(RECONNECT_DELAY_AFTER_LOOP)
        );
        if tell {
            self.send_err(key, &text);
        }
        log::error!("{} - {text}", self.conns[key].tag());
        self.delay_remote_of(key, RECONNECT_DELAY_AFTER_LOOP);
        self.close(key, CloseReason::ProtocolViolation);
    }

    /// `LMSG`/`HMSG` from the peer: delivered in the link's account, to
    /// the queue groups the peer named.
    fn process_leaf_msg(&mut self, key: usize, msg: &Pub<'_>, queues: &[u8], now: Instant) {
        self.count_in(key, 1, msg.msg.len() as u64, now);
        let conn = &self.conns[key];
        let leaf = conn.leaf.as_deref().expect("a leaf connection");
        if !leaf.receive_allowed(msg.subject) {
            return self.leaf_permission_violation(key, true, msg.subject);
        }
        let account = conn.account;
        self.publish_filtered(account, key, msg, now, &[], Some(queues));
    }

    /// A leaf connection is going: its interest is withdrawn from the other
    /// leaf connections, and a remote's is dialed again.
    pub(in crate::core) fn leaf_closing(&mut self, key: usize, now: Instant) {
        self.leaf.links.retain(|&k| k != key);
        self.congestion_gone();
        let conn = &self.conns[key];
        let Some(leaf) = conn.leaf.as_deref() else {
            return;
        };
        let reason = conn.closing.unwrap_or(CloseReason::ClientClosed);
        let remote_suffix = if leaf.remote_name.is_empty() {
            String::new()
        } else {
            format!(" - Remote: {}", leaf.remote_name)
        };
        log::info!(
            "{} - Leafnode connection closed: {}{remote_suffix}",
            conn.tag(),
            reason.as_str()
        );
        let remote = leaf.remote;
        self.leaf.closed_traffic.add(&conn.stats);
        {
            let weights: Vec<(usize, u32)> = conn
                .subs
                .keys()
                .into_iter()
                .filter_map(|k| {
                    let sub = self.subs.get(k)?;
                    Some((k, leaf.weight_of(sub.subject(), sub.queue())))
                })
                .collect();
            for (sub_key, weight) in weights {
                self.interest_changed(sub_key, -(weight as i32));
            }
        }
        if let Some(remote) = remote {
            self.leaf_remote_lost(remote, now);
        }
    }
}

/// `Option<WireSubjectPermission>` as allow and deny lists.
trait TakeWire {
    fn take_wire(&mut self) -> Option<(Option<Vec<String>>, Vec<String>)>;
}

impl TakeWire for Option<WireSubjectPermission> {
    fn take_wire(&mut self) -> Option<(Option<Vec<String>>, Vec<String>)> {
        self.take().map(|p| (p.allow, p.deny))
    }
}

/// The JWT, public nkey and signature of the nonce a remote's credentials
/// make: a `.creds` file (read at each connect, as nats-server does) or an
/// nkey seed; empty without either.
#[cfg(feature = "jwt")]
fn signed_credentials(
    remote: &crate::options::RemoteLeafOptions,
    nonce: &[u8],
) -> Result<(String, String, String), String> {
    use crate::auth::jwt::{creds_jwt, creds_user_seed};
    use crate::auth::nkeys::KeyPair;
    let encode = |sig: [u8; 64]| data_encoding::BASE64URL_NOPAD.encode(&sig);
    if let Some(path) = &remote.credentials {
        let contents = std::fs::read_to_string(path)
            .map_err(|e| format!("unable to read credentials file {}: {e}", path.display()))?;
        let jwt = creds_jwt(&contents).trim().to_string();
        let seed = creds_user_seed(&contents).map_err(|e| e.to_string())?;
        return Ok((jwt, String::new(), encode(seed.sign(nonce))));
    }
    if let Some(seed) = &remote.nkey_seed {
        let pair = KeyPair::from_seed(seed).map_err(|e| e.to_string())?;
        return Ok((
            String::new(),
            pair.public_key().encode(),
            encode(pair.sign(nonce)),
        ));
    }
    Ok((String::new(), String::new(), String::new()))
}

#[cfg(not(feature = "jwt"))]
fn signed_credentials(
    remote: &crate::options::RemoteLeafOptions,
    _nonce: &[u8],
) -> Result<(String, String, String), String> {
    if remote.credentials.is_some() || remote.nkey_seed.is_some() {
        return Err("credentials and nkeys need the `jwt` feature".into());
    }
    Ok((String::new(), String::new(), String::new()))
}
