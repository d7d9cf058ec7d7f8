//! The server without sockets: connections, subscriptions, routing and
//! deadlines, fed bytes and the time, asked for bytes to send.
//!
//! The reactor owns the sockets and the poll; it hands `Core` a reader when
//! a socket is readable and a writer when output is pending, and tells it the
//! time. Tests and the fuzzer drive `Core` the same way with in-memory
//! streams and a made-up clock.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

pub mod account;
mod buffers;
mod client;
pub mod closed;
mod conn;
mod deliver;
mod imports;
#[cfg(feature = "jwt")]
mod jwt_login;
mod lame_duck;
pub mod leaf;
mod reload;
pub mod rng;
pub mod route;
mod sids;
mod stall;
pub mod stats;
mod timers;
#[cfg(feature = "monitor")]
pub mod view;

use self::account::{Accounts, GLOBAL};
use self::buffers::ReadBuf;
use self::closed::{CloseReason, ClosedClients};
pub use self::conn::WebsocketConn;
use self::conn::{Conn, Keepalive, Role, Subscription};
use self::deliver::mark_written;
use self::rng::Rng;
use self::stats::{ServerStats, WallClock};
use self::timers::{Timer, TimerKind, Timers};
use crate::auth::password::VerifiedLogins;
use crate::auth::permissions::CompiledPermissions;
use crate::options::{Options, WebsocketOptions};
use crate::proto::{encode, Info, Op, Parser, Status};

/// nats-server's first PING after CONNECT comes sooner than the interval.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// What a flush achieved, so the reactor can adjust its write interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything pending was written.
    All,
    /// The peer takes no more for now; wait for writable readiness.
    Blocked,
    /// The connection is closing or gone: nothing more to write.
    Closed,
}

pub struct Core {
    pub opts: Options,
    /// The INFO every client gets, less its own id and address.
    pub info: Info,
    conns: Slab<Conn>,
    subs: Slab<Subscription>,
    /// `$G`, the system account, the configured ones, and the routes
    /// their imports make.
    accounts: Accounts,
    /// A client subscription's shadows in the accounts it imports from.
    shadows: HashMap<usize, Vec<usize>>,
    /// Import routes hit while delivering one message, to follow after.
    routes_hit: Vec<u32>,
    /// Leaf and route connections a message goes to, collected while
    /// routing it.
    peer_targets: Vec<(usize, usize)>,
    /// Producers not read while a leaf link they publish into drains.
    stalled: Vec<stall::Stalled>,
    /// A congested link drained or went: stalled producers may resume.
    stall_released: bool,
    /// Leaf node links, remotes and dials.
    #[cfg_attr(not(any(feature = "leafnodes", feature = "monitor")), allow(dead_code))]
    leaf: leaf::Leafs,
    /// Routes: their connections, targets, dials and the interest told.
    routes: route::Routes,
    /// bcrypt logins already verified, so a reconnect is cheap.
    verified_logins: VerifiedLogins,
    /// Where nonces come from, once one is needed.
    #[cfg(feature = "jwt")]
    nonces: Option<crate::auth::nonce::Nonces>,
    /// Operator mode: whom the server trusts, the accounts' JWTs.
    #[cfg(feature = "jwt")]
    operator: Option<Box<jwt_login::OperatorState>>,
    /// Every user's permissions, compiled once; by user name.
    permissions: HashMap<Box<str>, Arc<CompiledPermissions>>,
    timers: Timers,
    rng: Rng,
    /// Connections written to since the last `take_dirty`.
    dirty: Vec<usize>,
    /// Connections marked closing since the last `take_closing`.
    closing: Vec<usize>,
    /// Scratch for auto-unsubscribed subscriptions.
    expired: Vec<usize>,
    next_cid: u64,
    /// `log::log_enabled!(Trace)`, read once: tracing is off the hot path.
    trace: bool,
    /// The longest a read buffer may grow: a full PUB with its payload.
    read_limit: usize,
    /// Connections removed since memory was last given back.
    removed_since_compact: usize,
    /// Most connections open at once since the last compaction.
    peak_since_compact: usize,
    /// Keys the per-connection sid maps.
    sid_hasher: std::hash::RandomState,
    /// Server-wide counters for monitoring.
    stats: ServerStats,
    /// The start, and wall-clock times for the monitor.
    clock: WallClock,
    /// Recently closed connections, kept while monitoring is on.
    closed: ClosedClients,
    /// Set once lame duck mode has begun.
    lame_duck: Option<lame_duck::LameDuck>,
    /// The WebSocket listener, when there is one: its clients' INFO
    /// names it instead of the client listener.
    pub websocket_listener: Option<WebsocketListener>,
}

/// How a transport gives up on a peer's bytes: what nats-server logs (as
/// an error) and why it closes the connection. Carried in an `io::Error`.
#[derive(Debug)]
pub struct TransportError {
    pub reason: CloseReason,
    pub log: String,
    /// The level nats-server logs it at; `None`: not at all.
    pub level: Option<log::Level>,
}

impl TransportError {
    /// A failure logged as an error.
    pub fn io_error(reason: CloseReason, log: impl Into<String>) -> io::Error {
        TransportError::at(Some(log::Level::Error), reason, log)
    }

    pub fn at(level: Option<log::Level>, reason: CloseReason, log: impl Into<String>) -> io::Error {
        io::Error::other(TransportError {
            reason,
            log: log.into(),
            level,
        })
    }

    /// The transport failure `e` carries, if it is one.
    pub fn of(e: &io::Error) -> Option<&TransportError> {
        e.get_ref()?.downcast_ref()
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.log)
    }
}

impl std::error::Error for TransportError {}

/// What INFO says of the client listener's TLS.
pub fn tls_info(opts: &Options, info: &mut Info) {
    let tls = opts.tls.as_ref();
    // "TLS first only" overrides allow_non_tls: the INFO only goes out
    // over TLS.
    let tls_first_only =
        tls.is_some_and(|t| t.handshake_first == crate::options::HandshakeFirst::On);
    info.tls_required = tls.is_some() && (!opts.allow_non_tls || tls_first_only);
    info.tls_available = tls.is_some() && opts.allow_non_tls && !tls_first_only;
    info.tls_verify = tls.is_some_and(|t| t.verify);
}

/// A completed TLS handshake, as the transport saw it.
#[derive(Debug, Clone, Default)]
pub struct TlsHandshake {
    /// `1.2` or `1.3`.
    pub version: &'static str,
    /// Go's name of the cipher suite.
    pub cipher_suite: String,
    /// It came before the INFO (`handshake_first`).
    pub first: bool,
    /// The client's certificates (DER), its own first.
    pub peer_certs: Vec<Vec<u8>>,
}

/// Where WebSocket clients connect, as their INFO says.
#[derive(Debug, Clone)]
pub struct WebsocketListener {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// The sizes [`Core::table_sizes`] reports: slots held, used or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSizes {
    pub conns: usize,
    pub subs: usize,
    /// Deadlines in the timer heap, current or stale.
    pub timers: usize,
    pub shadows: usize,
    /// Trie nodes of every account, free ones included.
    pub trie_nodes: usize,
    /// The per-turn lists (dirty, closing, expired).
    pub scratch: usize,
    /// Bytes of connection and subscription slots allocated but unused
    /// (room to grow into, not yet touched, so not resident either).
    pub spare_bytes: usize,
}

/// Every user's permissions, compiled, by user name.
fn compile_permissions(opts: &Options) -> HashMap<Box<str>, Arc<CompiledPermissions>> {
    opts.users
        .iter()
        .flatten()
        .filter_map(|u| {
            let perms = u.permissions.as_ref()?;
            Some((u.name().into(), Arc::new(CompiledPermissions::new(perms))))
        })
        .collect()
}

/// After this many connections have gone, spare capacity is given back.
const COMPACT_AFTER_REMOVALS: usize = 256;

impl Core {
    pub fn new(opts: Options, info: Info, seed: u64, clock: WallClock) -> Core {
        #[cfg(feature = "jwt")]
        let (opts, operator) = {
            let mut opts = opts;
            let now = jwt_login::unix_seconds(clock.start().1);
            let operator = jwt_login::prepare(&mut opts, now);
            (opts, operator)
        };
        let mut core = Core {
            info,
            conns: Slab::new(),
            subs: Slab::new(),
            accounts: Accounts::new(&opts),
            shadows: HashMap::new(),
            routes_hit: Vec::new(),
            peer_targets: Vec::new(),
            stalled: Vec::new(),
            stall_released: false,
            leaf: leaf::Leafs::default(),
            routes: route::Routes::default(),
            permissions: compile_permissions(&opts),
            verified_logins: VerifiedLogins::new(seed),
            #[cfg(feature = "jwt")]
            nonces: None,
            #[cfg(feature = "jwt")]
            operator,
            timers: Timers::default(),
            rng: Rng::new(seed),
            dirty: Vec::new(),
            closing: Vec::new(),
            expired: Vec::new(),
            next_cid: 1,
            trace: opts.trace && log::log_enabled!(log::Level::Trace),
            read_limit: opts.max_control_line as usize + opts.max_payload as usize + 64,
            removed_since_compact: 0,
            peak_since_compact: 0,
            sid_hasher: std::hash::RandomState::new(),
            stats: ServerStats::default(),
            clock,
            closed: ClosedClients::new(opts.http_port != 0),
            lame_duck: None,
            websocket_listener: None,
            opts,
        };
        #[cfg(feature = "jwt")]
        {
            core.attach_account_jwts();
            let start = core.clock.start().0;
            core.schedule_account_expiries(start);
        }
        core.place_routes();
        let start = core.clock.start().0;
        core.start_remotes(start);
        core.start_cluster(start);
        core
    }

    /// The start-up lines of operator mode (`Trusted Operators`, ...), as
    /// nats-server logs them after its name and id.
    pub fn log_start(&self) {
        #[cfg(feature = "jwt")]
        if let Some(state) = &self.operator {
            jwt_login::log_start(&self.opts, state);
        }
    }

    /// Wall-clock times for the core's instants; its reading is the start.
    pub fn wall_clock(&self) -> &WallClock {
        &self.clock
    }

    pub fn num_connections(&self) -> usize {
        self.conns.len()
    }

    pub fn num_subscriptions(&self) -> usize {
        self.accounts.list.iter().map(|a| a.sublist.count()).sum()
    }

    /// A new client connection: its INFO is queued, or it is refused when
    /// there are too many. Returns its key, the reactor's token for it.
    pub fn accept(&mut self, addr: SocketAddr, now: Instant) -> usize {
        self.accept_client(addr, None, now)
    }

    /// A new WebSocket client, after its upgrade: as [`Core::accept`], with
    /// the INFO, credentials and timers nats-server gives WebSocket clients.
    pub fn accept_websocket(&mut self, addr: SocketAddr, ws: WebsocketConn, now: Instant) -> usize {
        self.accept_client(addr, Some(Box::new(ws)), now)
    }

    fn accept_client(
        &mut self,
        addr: SocketAddr,
        websocket: Option<Box<WebsocketConn>>,
        now: Instant,
    ) -> usize {
        // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`;
        // nats-server's logs, INFO and checks name them `a.b.c.d`.
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        let cid = self.next_cid;
        self.next_cid += 1;
        let mut parser = Parser::new(
            self.opts.max_control_line as usize,
            self.opts.max_payload as usize,
        );
        let ws_opts = websocket.as_ref().and(self.opts.websocket.as_ref());
        let is_websocket = ws_opts.is_some();
        let auth_override = ws_opts.is_some_and(WebsocketOptions::auth_override);
        let ws_auth_timeout = ws_opts.and_then(|ws| ws.auth_timeout);
        let auth_required = self.opts.auth_required() || auth_override;
        parser.awaiting_connect = auth_required;
        let mut conn = Conn::new(cid, addr, Role::Client, parser, now);
        conn.websocket = websocket;
        let key = self.conns.insert(conn);
        self.stats.total_connections += 1;
        self.accounts.list[GLOBAL as usize].num_conns += 1;
        self.peak_since_compact = self.peak_since_compact.max(self.conns.len());
        let tag = self.conns[key].tag().to_string();
        log::debug!("{tag} - Client connection created");

        let mut info = self.info.clone();
        info.client_id = cid;
        info.client_ip = addr.ip().to_string();
        // Only the greeting says so; the connect INFO keeps the server's.
        info.auth_required = self.opts.info_auth_required() || auth_override;
        if is_websocket {
            self.websocket_info(&mut info);
        }
        if let Some(nonce) = self.nonce(cid) {
            info.nonce = String::from_utf8_lossy(&nonce).into_owned();
        }
        let conn = &mut self.conns[key];
        info.write_to(&mut conn.wbuf.buf);
        if self.trace {
            log::trace!("{tag} - ->> [INFO]");
        }
        self.queue_flush(key);
        // nats-server sends INFO first, then refuses a connection too many.
        if self.conns.len() > self.opts.max_connections {
            log::error!("{tag} - maximum connections exceeded");
            self.send_err(key, crate::proto::error::MAX_CONNECTIONS_EXCEEDED);
            self.close(key, CloseReason::MaxConnectionsExceeded);
            return key;
        }
        if auth_required {
            let timeout = ws_auth_timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(self.opts.auth_timeout);
            let at = now + timeout;
            self.conns[key].auth_deadline = Some(at);
            self.schedule(key, cid, TimerKind::Auth, at);
        }
        // Before CONNECT the ping comes at the normal interval.
        let at = now + self.ping_interval(key);
        self.conns[key].next_ping = at;
        self.schedule(key, cid, TimerKind::Ping, at);
        key
    }

    /// nats-server's `generateClientInfoJSON` for a WebSocket client: the
    /// INFO names the WebSocket listener and its TLS.
    fn websocket_info(&self, info: &mut Info) {
        if let Some(listener) = &self.websocket_listener {
            info.host.clone_from(&listener.host);
            info.port = listener.port;
            info.tls_required = listener.tls;
            info.tls_available = listener.tls;
        }
    }

    /// The keepalive interval of connection `key`: the WebSocket block's
    /// `ping_interval` for its clients, when it sets one.
    fn ping_interval(&self, key: usize) -> Duration {
        if self.conns[key].role == Role::Route {
            return self.route_ping_interval();
        }
        let ws_interval = self.conns[key]
            .websocket
            .as_ref()
            .and(self.opts.websocket.as_ref())
            .and_then(|ws| ws.ping_interval)
            .filter(|i| !i.is_zero());
        ws_interval.unwrap_or(self.opts.ping_interval)
    }

    /// How long connection `key`'s pending output may go without progress:
    /// `cluster { write_deadline }` for a route, else `write_deadline`.
    fn write_deadline(&self, key: usize) -> Duration {
        match (self.conns[key].role, &self.opts.cluster) {
            (Role::Route, Some(c)) => c.write_deadline.unwrap_or(self.opts.write_deadline),
            _ => self.opts.write_deadline,
        }
    }

    /// The reason connection `key` is closing, for its transport's goodbye.
    pub fn close_reason(&self, key: usize) -> Option<CloseReason> {
        self.conns.get(key).and_then(|c| c.closing)
    }

    /// The nonce connection `cid` is to sign, when the configuration asks
    /// for one (see `auth/nonce.rs`: derived, not stored).
    #[cfg(feature = "jwt")]
    fn nonce(&mut self, cid: u64) -> Option<[u8; crate::auth::nonce::NONCE_LEN]> {
        if !self.opts.nonce_required() {
            return None;
        }
        let nonces = self
            .nonces
            .get_or_insert_with(crate::auth::nonce::Nonces::new);
        Some(nonces.for_connection(cid))
    }

    #[cfg(not(feature = "jwt"))]
    fn nonce(&mut self, _cid: u64) -> Option<[u8; 0]> {
        None
    }

    /// Read once from `src` into connection `key` and process every
    /// complete operation. Returns the bytes read: 0 is end of stream (the
    /// connection is then closing). `WouldBlock` and other errors are the
    /// caller's to handle; an error other than `WouldBlock` closes.
    pub fn receive(&mut self, key: usize, src: &mut impl Read, now: Instant) -> io::Result<usize> {
        let Some(limit) = self.conns.get(key).map(|c| self.read_limit_of(c)) else {
            return Ok(0);
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(0);
        };
        if conn.is_closing() {
            return Ok(0);
        }
        match conn.rbuf.read_from(src, limit) {
            Ok(0) => {
                self.close(key, CloseReason::ClientClosed);
                Ok(0)
            }
            Ok(n) => {
                conn.last_in = now;
                self.process_input(key, now);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Err(e)
            }
            // The transport refused the peer's bytes (a TLS handshake that
            // failed, a WebSocket frame out of the protocol): logged as
            // nats-server logs it, closed for its reason.
            Err(e) if TransportError::of(&e).is_some() => {
                let failure = TransportError::of(&e).expect("checked");
                if let Some(level) = failure.level {
                    // nats-server names the kind of connection but a client's.
                    let log = match (conn.role, failure.log.strip_prefix("TLS handshake error")) {
                        (Role::Leaf, Some(rest)) => format!("TLS leafnode handshake error{rest}"),
                        (Role::Route, Some(rest)) => format!("TLS route handshake error{rest}"),
                        _ => failure.log.clone(),
                    };
                    log::log!(level, "{} - {log}", conn.tag());
                }
                let reason = failure.reason;
                self.close(key, reason);
                Err(e)
            }
            Err(e) => {
                log::debug!("{} - Read error: {e}", conn.tag());
                self.close(key, CloseReason::ReadError);
                Err(e)
            }
        }
    }

    /// The longest connection `conn`'s read buffer may grow: a full PUB,
    /// or for a route past its CONNECT, a full `RMSG` by the route's own
    /// limits (see `route::link`).
    fn read_limit_of(&self, conn: &Conn) -> usize {
        if conn.role == Role::Route {
            return conn.parser.max_control_line + conn.parser.max_payload + 64;
        }
        self.read_limit
    }

    /// Whether the last read of connection `key` filled its buffer, so the
    /// socket may hold more (see [`ReadBuf::may_have_more`]).
    pub fn may_have_more(&self, key: usize) -> bool {
        self.conns.get(key).is_some_and(|c| c.rbuf.may_have_more())
    }

    /// Parse and process every complete operation in the read buffer.
    fn process_input(&mut self, key: usize, now: Instant) {
        let conn = &mut self.conns[key];
        let mut rbuf = std::mem::replace(&mut conn.rbuf, ReadBuf::empty());
        let mut parser = conn.parser.clone();
        let mut consumed = 0;
        // PUBs are counted for the whole read, not one by one.
        let (mut msgs_in, mut bytes_in) = (0, 0);
        loop {
            // Matched by reference: moving the operation out of the result
            // reads it back wider than it was written, which stalls.
            match &parser.parse(&rbuf.pending()[consumed..]) {
                Ok(Status::Complete((n, op))) => {
                    consumed += n;
                    match op {
                        // With tracing on, process_op logs each one.
                        Op::Pub(msg) if !self.trace => {
                            msgs_in += 1;
                            bytes_in += msg.msg.len() as u64;
                            self.process_pub(key, msg, now);
                        }
                        _ => self.process_op(key, &mut parser, op, now),
                    }
                    if self.conns[key].is_closing() {
                        break;
                    }
                }
                Ok(Status::Partial(n)) => {
                    consumed += n;
                    break;
                }
                Err(e) => {
                    self.protocol_error(key, e.clone());
                    break;
                }
            }
        }
        rbuf.consume(consumed);
        self.count_in(key, msgs_in, bytes_in, now);
        let conn = &mut self.conns[key];
        conn.rbuf = rbuf;
        conn.parser = parser;
    }

    /// Append `bytes` to a connection's output and queue it for flushing.
    fn queue(&mut self, key: usize, bytes: &[u8]) {
        let conn = &mut self.conns[key];
        conn.wbuf.buf.extend_from_slice(bytes);
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    fn send_err(&mut self, key: usize, text: &str) {
        let conn = &mut self.conns[key];
        if self.trace {
            log::trace!("{} - ->> [-ERR '{text}']", conn.tag());
        }
        encode::write_err(&mut conn.wbuf.buf, text);
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    /// Have the reactor flush this connection (after writable readiness).
    pub fn queue_flush(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// The connections written to since the last call, into `out`.
    pub fn take_dirty(&mut self, out: &mut Vec<usize>) {
        out.clear();
        std::mem::swap(out, &mut self.dirty);
        for &key in out.iter() {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.dirty = false;
            }
        }
    }

    /// Write what connection `key` has pending to `sink`.
    pub fn flush(&mut self, key: usize, sink: &mut impl Write, now: Instant) -> Flushed {
        let Some(conn) = self.conns.get_mut(key) else {
            return Flushed::Closed;
        };
        if conn.is_closing() {
            self.closing.push(key);
            return Flushed::Closed;
        }
        let before = conn.wbuf.pending();
        let link = conn.role != Role::Client;
        let flushed = self.flush_to(key, sink, before, now);
        if link {
            self.note_drained(key);
        }
        flushed
    }

    fn flush_to(
        &mut self,
        key: usize,
        sink: &mut impl Write,
        before: usize,
        now: Instant,
    ) -> Flushed {
        let deadline = self.write_deadline(key);
        let conn = &mut self.conns[key];
        match conn.wbuf.flush_to(sink) {
            Ok(true) => {
                conn.write_deadline = None;
                Flushed::All
            }
            Ok(false) => {
                // The deadline restarts whenever the peer takes something.
                let progressed = conn.wbuf.pending() < before;
                let first = conn.write_deadline.is_none();
                if first || progressed {
                    let at = now + deadline;
                    conn.write_deadline = Some(at);
                    if first {
                        let cid = conn.cid;
                        self.schedule(key, cid, TimerKind::Write, at);
                    }
                }
                Flushed::Blocked
            }
            Err(e) => {
                log::debug!("{} - Write error: {e}", conn.tag());
                self.close(key, CloseReason::WriteError);
                Flushed::Closed
            }
        }
    }

    /// Mark a connection closing; the reactor reaps it after this turn.
    fn close(&mut self, key: usize, reason: CloseReason) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
            }
            self.closing.push(key);
        }
    }

    /// The transport gave up on connection `key` (a TLS handshake that
    /// failed or ran out of time): log why as nats-server does and close.
    pub fn transport_failed(&mut self, key: usize, why: &str, error: bool) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        if error {
            log::error!("{} - {why}", conn.tag());
        } else {
            log::debug!("{} - {why}", conn.tag());
        }
        self.close(key, CloseReason::TlsHandshakeFailure);
    }

    /// Connection `key`'s TLS handshake completed: nats-server's debug
    /// lines, its `pinned_certs` check, and what `/connz` and
    /// `verify_and_map` read of the session.
    pub fn tls_established(&mut self, key: usize, handshake: TlsHandshake, now: Instant) {
        let pins = self.opts.tls.as_ref().map(|t| &t.pinned_certs);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let client = conn.role == Role::Client;
        if let Some(pins) = pins.filter(|p| !p.is_empty() && conn.websocket.is_none() && client) {
            let key_id = handshake
                .peer_certs
                .first()
                .and_then(|der| crate::auth::cert::peer_cert(der))
                .map(|c| c.spki_sha256);
            let pinned = match &key_id {
                Some(id) => pins.contains(id),
                None => false,
            };
            if !pinned {
                match key_id {
                    Some(id) => {
                        log::debug!("{} - Failed pinned cert test for key id: {id}", conn.tag())
                    }
                    None => log::debug!(
                        "{} - Failed pinned cert test as client did not provide a certificate",
                        conn.tag()
                    ),
                }
                log::error!(
                    "{} - TLS handshake error: certificate not pinned",
                    conn.tag()
                );
                self.close(key, CloseReason::TlsHandshakeFailure);
                return;
            }
        }
        log::debug!("{} - TLS handshake complete", conn.tag());
        log::debug!(
            "{} - TLS version {}, cipher suite {}",
            conn.tag(),
            handshake.version,
            handshake.cipher_suite
        );
        // nats-server starts the auth timer once the handshake is done.
        if conn.auth_deadline.is_some() && client {
            let at = now + self.opts.auth_timeout;
            conn.auth_deadline = Some(at);
            let cid = conn.cid;
            self.schedule(key, cid, TimerKind::Auth, at);
        }
        let conn = &mut self.conns[key];
        let peer_certs = handshake
            .peer_certs
            .iter()
            .filter_map(|der| crate::auth::cert::peer_cert(der))
            .collect();
        let identity = handshake
            .peer_certs
            .first()
            .and_then(|der| crate::auth::cert::identity(der));
        conn.tls = Some(Box::new(conn::TlsInfo {
            version: handshake.version,
            cipher_suite: handshake.cipher_suite,
            first: handshake.first,
            peer_certs,
            identity,
        }));
        if !client {
            self.leaf_tls_established(key, now);
        }
    }

    /// Close every connection (server shutdown).
    pub fn close_all(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close(key, CloseReason::ServerShutdown);
        }
    }

    /// The next connection to reap, if any: its key and whether its last
    /// words (a pending -ERR) are worth flushing. Call [`Core::remove`] after.
    pub fn next_closing(&mut self) -> Option<(usize, bool)> {
        while let Some(key) = self.closing.pop() {
            let Some(reason) = self.conns.get(key).and_then(|c| c.closing) else {
                continue;
            };
            let stalled = matches!(
                reason,
                CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
            );
            return Some((key, !stalled));
        }
        None
    }

    /// Write what a closing connection has pending, best effort.
    pub fn flush_last_words(&mut self, key: usize, sink: &mut impl Write) {
        if let Some(conn) = self.conns.get_mut(key) {
            let _ = conn.wbuf.flush_to(sink);
        }
    }

    /// Forget a closed connection and its subscriptions; `now` is when it
    /// closed, as the closed-connection history shows.
    pub fn remove(&mut self, key: usize, now: Instant) {
        let Some(role) = self.conns.get(key).map(|c| c.role) else {
            return;
        };
        match role {
            Role::Leaf => self.leaf_closing(key, now),
            Role::Route => self.route_closing(key, now),
            Role::Client => self.withdraw_interest(key),
        }
        let Some(mut conn) = self.conns.try_remove(key) else {
            return;
        };
        let reason = conn.closing.unwrap_or(CloseReason::ClientClosed);
        self.stats.count_close(reason);
        // nats-server keeps no history of closed routes.
        if role != Role::Route {
            self.closed
                .record(&conn, &self.subs, &self.accounts, reason, now);
        }
        self.accounts.list[conn.account as usize]
            .sublist
            .expect_removals(conn.subs.len());
        for sub_key in conn.subs.drain() {
            self.drop_subscription(sub_key, conn.account);
        }
        if role == Role::Client {
            self.accounts.list[conn.account as usize].num_conns -= 1;
            log::debug!(
                "{} - Client connection closed: {}",
                conn.tag(),
                reason.as_str()
            );
        }
        self.removed_since_compact += 1;
        self.purge_stale_timers();
    }

    /// Drop the deadlines of connections gone (and superseded ones) once
    /// they are most of the heap: amortised O(1) per connection, and the
    /// heap stays proportional to the live connections.
    fn purge_stale_timers(&mut self) {
        let live_bound = 4 * self.conns.len() + 2 * self.accounts.list.len() + 64;
        if self.timers.len() <= live_bound {
            return;
        }
        let (conns, accounts) = (&self.conns, &self.accounts);
        self.timers.purge(|t| match t.kind {
            TimerKind::Responses => accounts
                .list
                .get(t.key)
                .is_some_and(|a| a.response_sweep_at == Some(t.at)),
            // One per account with an expiring JWT, at most.
            TimerKind::AccountExpiry => accounts.list.get(t.key).is_some(),
            // One per remote at most.
            TimerKind::LeafConnect | TimerKind::RouteConnect => true,
            kind => conns.get(t.key).is_some_and(|c| {
                c.cid == t.cid
                    && match kind {
                        TimerKind::Ping => c.next_ping == t.at,
                        TimerKind::Auth => c.auth_deadline == Some(t.at),
                        TimerKind::LeafHandshake => c
                            .leaf
                            .as_ref()
                            .is_some_and(|l| l.handshake_deadline == Some(t.at)),
                        TimerKind::Expiry => c
                            .user_jwt
                            .as_ref()
                            .is_some_and(|u| u.expires_at == Some(t.at)),
                        _ => c.write_deadline.is_some(),
                    }
            }),
        });
    }

    /// Check that the core's tables agree with each other and that every
    /// live connection's buffers are within their limits. For tests and the
    /// session fuzz target: it walks every subscription, so it is not for
    /// the hot path.
    pub fn audit(&self) -> Result<(), String> {
        let in_sublists: usize = self.accounts.list.iter().map(|a| a.sublist.count()).sum();
        if self.subs.len() != in_sublists {
            return Err(format!(
                "{} subscriptions but {in_sublists} in the sublists",
                self.subs.len(),
            ));
        }
        let shadows: usize = self.shadows.values().map(Vec::len).sum();
        let internal = self.subs.iter().filter(|(_, s)| s.is_internal()).count();
        for (sub_key, sub) in &self.subs {
            if sub.is_internal() || sub.route != conn::NO_ROUTE {
                continue;
            }
            let Some(conn) = self.conns.get(sub.conn()) else {
                return Err(format!("subscription {sub_key} of a missing connection"));
            };
            let sid_hash = std::hash::BuildHasher::hash_one(&self.sid_hasher, sub.sid());
            if conn.subs.get(sub.sid(), sid_hash, &self.subs) != Some(sub_key) {
                return Err(format!("subscription {sub_key} missing from its sid map"));
            }
        }
        let by_sid: usize = self.conns.iter().map(|(_, c)| c.subs.len()).sum();
        if by_sid + shadows + internal != self.subs.len() {
            return Err(format!(
                "{by_sid} subscriptions by sid, {shadows} shadows and {internal} internal, {} in \
                 all",
                self.subs.len()
            ));
        }
        self.audit_leaf_interest()?;
        self.audit_route_interest()?;
        for (key, conn) in &self.conns {
            if conn.is_closing() {
                continue;
            }
            if conn.wbuf.pending() as u64 > self.opts.max_pending {
                return Err(format!("connection {key} holds more than max_pending"));
            }
            if conn.rbuf.capacity() > self.read_limit_of(conn) {
                return Err(format!("connection {key} read buffer beyond its limit"));
            }
        }
        Ok(())
    }

    /// After many connections have gone, give their memory back: RSS should
    /// follow the load down, not stay at its peak. Also when fewer than a
    /// quarter of the connections open at the last peak are left, so the
    /// last of a crowd that closes is given back too, not only each full
    /// batch of removals (a logarithmic number of times as a crowd drains).
    /// Returns whether it compacted, so the caller can hand the freed
    /// memory back to the system.
    pub fn compact_if_many_removed(&mut self) -> bool {
        let many = self.removed_since_compact >= COMPACT_AFTER_REMOVALS;
        let drained =
            self.removed_since_compact > 0 && self.conns.len() * 4 < self.peak_since_compact;
        if !many && !drained {
            return false;
        }
        self.removed_since_compact = 0;
        self.peak_since_compact = self.conns.len();
        self.conns.shrink_to_fit();
        self.subs.shrink_to_fit();
        true
    }

    /// How big the core's own tables are: what must follow the live
    /// connections, not those that have come and gone (see
    /// `tests/footprint.rs`).
    pub fn table_sizes(&self) -> TableSizes {
        TableSizes {
            conns: self.conns.capacity(),
            subs: self.subs.capacity(),
            timers: self.timers.len(),
            shadows: self.shadows.capacity(),
            trie_nodes: self
                .accounts
                .list
                .iter()
                .map(|a| a.sublist.node_slots())
                .sum(),
            scratch: self.dirty.capacity() + self.closing.capacity() + self.expired.capacity(),
            spare_bytes: (self.conns.capacity() - self.conns.len()) * size_of::<Conn>()
                + (self.subs.capacity() - self.subs.len()) * size_of::<Subscription>(),
        }
    }

    // ---- timers ---------------------------------------------------------

    fn schedule(&mut self, key: usize, cid: u64, kind: TimerKind, at: Instant) {
        self.timers.schedule(Timer { at, key, cid, kind });
    }

    // ---- links to other servers -------------------------------------------

    /// A new connection to another server (`role` Leaf or Route), with
    /// `conn` filled in by the caller: never echoed to, no connect INFO,
    /// its keepalive armed. Returns its key.
    #[cfg_attr(not(any(feature = "leafnodes", feature = "cluster")), allow(dead_code))]
    fn new_link_conn(
        &mut self,
        addr: SocketAddr,
        role: Role,
        fill: impl FnOnce(&mut Conn, &mut Parser),
        now: Instant,
    ) -> usize {
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        let cid = self.next_cid;
        self.next_cid += 1;
        let mut parser = Parser::new(
            self.opts.max_control_line as usize,
            self.opts.max_payload as usize,
        );
        let mut conn = Conn::new(cid, addr, role, Parser::new(0, 0), now);
        fill(&mut conn, &mut parser);
        conn.parser = parser;
        conn.opts.echo = false;
        conn.sent_connect_info = true;
        let key = self.conns.insert(conn);
        self.stats.total_connections += 1;
        let at = now + self.ping_interval(key);
        self.conns[key].next_ping = at;
        self.schedule(key, cid, TimerKind::Ping, at);
        key
    }

    // ---- interest across servers ----------------------------------------

    /// Subscription `sub_key`'s interest went up (`delta` > 0) or down:
    /// the leaf nodes and routes that must know are told.
    fn interest_changed(&mut self, sub_key: usize, delta: i32) {
        self.leaf_interest(sub_key, delta);
        self.route_interest(sub_key, delta);
    }

    /// A client is going: its interest leaves the leaf nodes and routes.
    fn withdraw_interest(&mut self, key: usize) {
        if self.leaf.links.is_empty() && self.opts.cluster.is_none() {
            return;
        }
        for sub_key in self.conns[key].subs.keys() {
            self.interest_changed(sub_key, -1);
        }
    }

    /// The account subscription `sub` of connection `conn` is in: the
    /// connection's, but for a route's, whose sid names it.
    #[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
    fn account_of(&self, conn: &Conn, sub: &Subscription) -> Option<u32> {
        if conn.role != Role::Route {
            return Some(conn.account);
        }
        let name = sub.sid().split(|&b| b == b' ').next()?;
        self.accounts.find(std::str::from_utf8(name).ok()?)
    }

    /// The nearest deadline: the reactor sleeps until then at most.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_at()
    }

    /// The first PING after CONNECT: sooner than the interval, with up to
    /// 20% jitter, as nats-server does.
    fn arm_first_ping(&mut self, key: usize, now: Instant) {
        let base = self.ping_interval(key).min(FIRST_PING_INTERVAL);
        let jitter_ms = (base.as_millis() as u64 / 5).max(1);
        let at = now + base + Duration::from_millis(self.rng.next_u64() % jitter_ms);
        let conn = &mut self.conns[key];
        conn.next_ping = at;
        let cid = conn.cid;
        self.schedule(key, cid, TimerKind::Ping, at);
    }

    /// Act on every deadline that has passed at `now`.
    pub fn fire_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            if timer.kind == TimerKind::Responses {
                self.response_timer(timer.key as u32, timer.at, now);
                continue;
            }
            if timer.kind == TimerKind::LeafConnect {
                self.leaf_dial_due(timer.key, timer.at);
                continue;
            }
            if timer.kind == TimerKind::RouteConnect {
                self.route_dial_due(timer.key, timer.at);
                continue;
            }
            if timer.kind == TimerKind::AccountExpiry {
                #[cfg(feature = "jwt")]
                self.account_expiry_timer(timer.key as u32, now);
                continue;
            }
            let Some(conn) = self.conns.get(timer.key) else {
                continue;
            };
            if conn.cid != timer.cid || conn.is_closing() {
                continue;
            }
            match timer.kind {
                TimerKind::Ping => self.ping_timer(timer, now),
                TimerKind::Auth => {
                    if conn.auth_deadline.is_some_and(|at| at <= now) {
                        log::debug!("{} - Authentication Timeout", conn.tag());
                        self.send_err(timer.key, crate::proto::error::AUTHENTICATION_TIMEOUT);
                        self.close(timer.key, CloseReason::AuthenticationTimeout);
                    }
                }
                TimerKind::Responses
                | TimerKind::AccountExpiry
                | TimerKind::LeafConnect
                | TimerKind::RouteConnect => {}
                TimerKind::LeafHandshake => self.leaf_handshake_timer(timer.key, timer.at),
                #[cfg(feature = "jwt")]
                TimerKind::Expiry => self.expiry_timer(timer.key, timer.at),
                #[cfg(not(feature = "jwt"))]
                TimerKind::Expiry => {}
                TimerKind::Write => match conn.write_deadline {
                    Some(at) if at <= now => {
                        log::info!(
                            "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                            conn.tag(),
                            self.write_deadline(timer.key)
                        );
                        self.close(timer.key, CloseReason::SlowConsumerWriteDeadline);
                    }
                    Some(at) => self.schedule(timer.key, timer.cid, TimerKind::Write, at),
                    None => {}
                },
            }
        }
    }

    fn ping_timer(&mut self, timer: Timer, now: Instant) {
        let interval = self.ping_interval(timer.key);
        let conn = &mut self.conns[timer.key];
        let max_out = match (conn.role, &self.opts.cluster) {
            (Role::Route, Some(c)) => c
                .max_pings_out
                .map_or(self.opts.max_pings_out, |n| n.max(0) as u32),
            _ => self.opts.max_pings_out,
        };
        match conn.keepalive(now, interval, max_out) {
            Keepalive::Stale => return,
            Keepalive::Quiet => {}
            Keepalive::Unanswered => {
                log::debug!("{} - Stale Client Connection - Closing", conn.tag());
                self.send_err(timer.key, crate::proto::error::STALE_CONNECTION);
                self.close(timer.key, CloseReason::StaleConnection);
                return;
            }
            Keepalive::Ping => {
                if self.trace {
                    log::trace!("{} - ->> [PING]", conn.tag());
                }
                self.queue(timer.key, encode::PING);
            }
        }
        let at = now + interval;
        self.conns[timer.key].next_ping = at;
        self.schedule(timer.key, timer.cid, TimerKind::Ping, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Core {
        let info = Info::server(
            "NTEST".into(),
            "test".into(),
            "2.15.1",
            "127.0.0.1",
            4222,
            false,
            1024 * 1024,
        );
        Core::new(
            Options::ephemeral(),
            info,
            7,
            WallClock::new(std::time::Instant::now(), std::time::SystemTime::now()),
        )
    }

    fn output(core: &mut Core, key: usize, now: Instant) -> String {
        let mut out = Vec::new();
        core.flush(key, &mut out, now);
        String::from_utf8(out).unwrap()
    }

    /// A crowd that leaves is compacted after it has mostly gone, even when
    /// fewer than a batch of removals, and only a few times as it drains.
    #[test]
    fn a_crowd_that_leaves_is_compacted_a_few_times() {
        let mut core = core();
        let t0 = Instant::now();
        let addr = "127.0.0.1:1000".parse().unwrap();
        let keys: Vec<usize> = (0..100).map(|_| core.accept(addr, t0)).collect();
        let mut compactions = 0;
        for &key in keys.iter().rev() {
            core.remove(key, t0);
            let before = core.removed_since_compact;
            core.compact_if_many_removed();
            if core.removed_since_compact < before {
                compactions += 1;
            }
        }
        // At 24, 5 and 1 connections left, then at none.
        assert_eq!(compactions, 4);
        assert_eq!(core.conns.capacity(), 0, "the emptied table was given back");
    }

    #[test]
    fn driven_without_sockets_by_bytes_and_a_clock() {
        let mut core = core();
        let t0 = Instant::now();
        let addr = "127.0.0.1:1000".parse().unwrap();
        let sub = core.accept(addr, t0);
        let publ = core.accept(addr, t0);
        assert!(output(&mut core, sub, t0).starts_with("INFO {"));
        output(&mut core, publ, t0);

        let mut input: &[u8] = b"CONNECT {\"verbose\":false}\r\nSUB a.* 9\r\n";
        core.receive(sub, &mut input, t0).unwrap();
        let mut input: &[u8] = b"PUB a.b 2\r\nhi\r\n";
        core.receive(publ, &mut input, t0).unwrap();
        assert_eq!(output(&mut core, sub, t0), "MSG a.b 9 2\r\nhi\r\n");
        assert_eq!(output(&mut core, publ, t0), "+OK\r\n");

        // Time is an argument: the keepalive runs on the clock it is given.
        let later = t0 + core.opts.ping_interval * 3;
        core.fire_timers(later);
        assert_eq!(output(&mut core, sub, later), "PING\r\n");

        // End of stream closes, and the close frees its subscriptions.
        core.receive(sub, &mut &b""[..], later).unwrap();
        assert_eq!(core.next_closing(), Some((sub, true)));
        core.remove(sub, later);
        assert_eq!(core.num_subscriptions(), 0);
    }
}
