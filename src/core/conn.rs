//! One connection's state: buffers, parser, protocol state, timers and
//! counters (the socket is the reactor's), and its subscriptions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::buffers::{ReadBuf, WriteBuf};
use super::closed::CloseReason;
use super::sids::SidMap;
use super::stats::ConnStats;
use crate::auth::permissions::ConnPermissions;
use crate::proto::{ConnectOpts, Parser};
use crate::small_bytes::SmallBytes;

/// The `conn` of a subscription the server holds for itself (a service
/// import's or a reply prefix's); its `route` says what it does.
pub const INTERNAL: u32 = u32::MAX;
/// The `route` of a subscription that is not there for an import.
pub const NO_ROUTE: u32 = u32::MAX;

/// A subscription, stored in the core's subscription slab; the trie holds
/// its slab key. Subject, queue and sid are stored together, inline when
/// short. Most are a client's own; a stream import adds shadows of a
/// client's subscription in the exporting account (`route` names the
/// import), and service imports add internal ones (`conn` is [`INTERNAL`]).
pub struct Subscription {
    conn: u32,
    /// The import this subscription serves, or [`NO_ROUTE`].
    pub route: u32,
    /// `subject`, then `queue`, then `sid`.
    names: SmallBytes,
    subject_len: u32,
    /// `u32::MAX` when the subscription is not in a queue group.
    queue_len: u32,
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    pub max: u64,
    pub delivered: u64,
}

impl Subscription {
    pub fn new(conn: usize, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Subscription {
        // The parser bounds every argument by max_control_line; slab keys
        // of connections stay far below u32::MAX.
        Subscription {
            conn: conn as u32,
            route: NO_ROUTE,
            names: SmallBytes::concat(&[subject, queue.unwrap_or_default(), sid]),
            subject_len: subject.len() as u32,
            queue_len: queue.map_or(u32::MAX, |q| q.len() as u32),
            max: 0,
            delivered: 0,
        }
    }

    /// An internal subscription for import `route`.
    pub fn internal(subject: &[u8], route: u32) -> Subscription {
        let mut sub = Subscription::new(0, subject, None, b"");
        sub.conn = INTERNAL;
        sub.route = route;
        sub
    }

    /// The connection it delivers to; meaningless for an internal one.
    #[inline]
    pub fn conn(&self) -> usize {
        self.conn as usize
    }

    #[inline]
    pub fn is_internal(&self) -> bool {
        self.conn == INTERNAL
    }

    #[inline]
    pub fn subject(&self) -> &[u8] {
        &self.names.as_bytes()[..self.subject_len as usize]
    }

    #[inline]
    pub fn queue(&self) -> Option<&[u8]> {
        let start = self.subject_len as usize;
        (self.queue_len != u32::MAX)
            .then(|| &self.names.as_bytes()[start..start + self.queue_len as usize])
    }

    #[inline]
    pub fn sid(&self) -> &[u8] {
        let queue_len = if self.queue_len == u32::MAX {
            0
        } else {
            self.queue_len
        };
        &self.names.as_bytes()[(self.subject_len + queue_len) as usize..]
    }
}

/// What a connection is to the server. Each role has its own CONNECT,
/// operations and framing of what is delivered to it; routes and leaf
/// nodes join clients here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An application, speaking the client protocol (`MSG` out).
    Client,
    /// Another server, linked as a leaf node (`LMSG` out): see `leaf/`.
    Leaf,
    /// Another server of the cluster (`RMSG` out): see `route/`.
    Route,
}

/// Per-connection state; the socket is the reactor's.
pub struct Conn {
    pub cid: u64,
    pub addr: SocketAddr,
    pub role: Role,
    /// The account it belongs to (an index into the core's accounts);
    /// `$G` until a CONNECT places it.
    pub account: u32,
    /// Its user's permissions, when it has any limits.
    pub perms: Option<Box<ConnPermissions>>,
    /// The user it authenticated as, for `/connz?auth=1`.
    pub authorized_user: Option<Box<str>>,
    pub rbuf: ReadBuf,
    pub wbuf: WriteBuf,
    pub parser: Parser,
    pub opts: ConnectOpts,
    /// A CONNECT was accepted.
    pub connected: bool,
    /// The INFO that follows the first PONG after CONNECT was sent.
    pub sent_connect_info: bool,
    /// A PING went out since the last CONNECT.
    pub pinged_since_connect: bool,
    /// sid -> subscription slab key.
    pub subs: SidMap,
    pub pings_out: u32,
    pub last_in: Instant,
    pub next_ping: Instant,
    /// Set while credentials are awaited.
    pub auth_deadline: Option<Instant>,
    /// Set while output is pending: when it must have made progress by.
    pub write_deadline: Option<Instant>,
    /// On the dirty list.
    pub dirty: bool,
    pub closing: Option<CloseReason>,
    /// Traffic and times for monitoring.
    pub stats: ConnStats,
    /// What the user JWT it logged in with granted (operator mode).
    pub user_jwt: Option<Box<UserJwt>>,
    /// The TLS session it came over, once its handshake completed.
    pub tls: Option<Box<TlsInfo>>,
    /// Set when it came over WebSocket.
    pub websocket: Option<Box<WebsocketConn>>,
    /// What a leaf node connection knows of its peer and their interest.
    pub leaf: Option<Box<super::leaf::LeafConn>>,
    /// What a route connection knows of its peer and their interest.
    pub route: Option<Box<super::route::RouteConn>>,
}

/// What the core knows of a WebSocket client (the framing is the
/// transport's): where a proxy says it is from, for the log prefix, and the
/// credentials its browser sent as cookies, for a CONNECT without them.
#[derive(Debug, Clone, Default)]
pub struct WebsocketConn {
    pub forwarded_ip: Option<std::net::IpAddr>,
    pub jwt_cookie: Option<String>,
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
}

/// A connection as nats-server's log lines name it: `ip:port - cid:N`, or
/// for a WebSocket client `ip:port - wid:N` (behind a proxy that says
/// where it is from, `forwarded/ip:port - wid:N`).
pub struct Tag<'a>(&'a Conn);

impl std::fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let conn = self.0;
        if conn.route.is_some() {
            return write!(f, "{} - rid:{}", conn.addr, conn.cid);
        }
        if let Some(leaf) = &conn.leaf {
            let kind = if leaf.websocket { "lid_ws" } else { "lid" };
            return write!(f, "{} - {kind}:{}", conn.addr, conn.cid);
        }
        match &conn.websocket {
            None => write!(f, "{} - cid:{}", conn.addr, conn.cid),
            Some(ws) => {
                match ws.forwarded_ip {
                    Some(std::net::IpAddr::V6(ip)) => write!(f, "[{ip}]/")?,
                    Some(ip) => write!(f, "{ip}/")?,
                    None => {}
                }
                write!(f, "{} - wid:{}", conn.addr, conn.cid)
            }
        }
    }
}

/// What `/connz` shows of a connection's TLS session.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// `1.2` or `1.3`.
    pub version: &'static str,
    /// Go's name of the cipher suite.
    pub cipher_suite: String,
    /// The handshake came before the INFO (`handshake_first`).
    pub first: bool,
    /// The certificates the client presented, for `/connz?auth=1`.
    pub peer_certs: Vec<crate::auth::cert::PeerCert>,
    /// What its certificate says, for `verify_and_map`.
    pub identity: Option<crate::auth::cert::CertIdentity>,
}

/// What a connection's user JWT granted besides its account and
/// permissions, and what `/connz?auth=1` shows of it.
#[derive(Debug, Clone, Default)]
pub struct UserJwt {
    /// Its own and its account's subscription limit, the smaller.
    pub max_subs: Option<usize>,
    /// Its own and its account's payload limit, the smaller.
    pub max_payload: Option<usize>,
    /// When the JWT expires or its connect window ends.
    pub expires_at: Option<Instant>,
    /// The account signing key that signed it, when not the account's own.
    pub issuer_key: Box<str>,
    pub tags: Vec<String>,
    /// A bearer JWT is not shown (it is a password).
    pub bearer: bool,
}

/// What the keepalive timer of a connection calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keepalive {
    /// Re-armed since this timer was set (by a CONNECT): nothing.
    Stale,
    /// Send a PING, then check again at the next interval.
    Ping,
    /// The client was heard from lately: only check again later.
    Quiet,
    /// Too many PINGs went unanswered: `Stale Connection`.
    Unanswered,
}

impl Conn {
    /// A new connection of `role` from `addr`, in `$G` until its CONNECT
    /// places it, with nothing read or written yet.
    pub fn new(cid: u64, addr: SocketAddr, role: Role, parser: Parser, now: Instant) -> Conn {
        Conn {
            cid,
            addr,
            role,
            account: super::account::GLOBAL,
            perms: None,
            authorized_user: None,
            rbuf: ReadBuf::empty(),
            wbuf: WriteBuf::default(),
            parser,
            opts: ConnectOpts::default(),
            connected: false,
            sent_connect_info: false,
            pinged_since_connect: false,
            subs: Default::default(),
            pings_out: 0,
            last_in: now,
            next_ping: now,
            auth_deadline: None,
            write_deadline: None,
            dirty: false,
            closing: None,
            stats: ConnStats::new(now),
            user_jwt: None,
            tls: None,
            websocket: None,
            leaf: None,
            route: None,
        }
    }

    /// How log lines name this connection.
    pub fn tag(&self) -> Tag<'_> {
        Tag(self)
    }

    /// The keepalive timer fired at `now`. Like nats-server, the first PING
    /// after CONNECT always goes (it measures the round trip); later ones
    /// only when the client was quiet for an `interval`. A PING to send is
    /// counted as out, with its round trip started.
    pub fn keepalive(&mut self, now: Instant, interval: Duration, max_out: u32) -> Keepalive {
        if self.next_ping > now {
            return Keepalive::Stale;
        }
        let recently_heard = self.connected
            && self.pinged_since_connect
            && now.duration_since(self.last_in) < interval;
        if recently_heard {
            return Keepalive::Quiet;
        }
        if self.pings_out + 1 > max_out {
            return Keepalive::Unanswered;
        }
        self.pings_out += 1;
        self.pinged_since_connect = true;
        self.stats.rtt_start = Some(now);
        Keepalive::Ping
    }

    /// A PONG ends the round trip of the last PING, if one is out.
    pub fn process_pong(&mut self, now: Instant) {
        self.pings_out = 0;
        if let Some(since) = self.stats.rtt_start.take() {
            self.stats.measure_rtt(since, now);
        }
    }

    pub fn close(&mut self, reason: CloseReason) {
        if self.closing.is_none() {
            self.closing = Some(reason);
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// A link to another server (leaf node or route): whether its pending
    /// output holds producers back (see `core/stall.rs`).
    pub fn congested(&mut self) -> Option<&mut bool> {
        if let Some(leaf) = self.leaf.as_deref_mut() {
            return Some(&mut leaf.congested);
        }
        self.route.as_deref_mut().map(|r| &mut r.congested)
    }

    /// How much interest `sub` (one of this connection's) stands for: a
    /// queue group's weight behind a leaf node or route, else 1.
    pub fn weight_of(&self, sub: &Subscription) -> u32 {
        if let Some(leaf) = &self.leaf {
            return leaf.weight_of(sub.subject(), sub.queue());
        }
        if let Some(route) = &self.route {
            return route.weight_of(sub.sid(), sub.queue().is_some());
        }
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection pays for these, idle or not (see the RSS figures in
    /// the README's Performance section); 96 bytes of it are the counters
    /// and times `/connz` reports.
    #[test]
    fn per_connection_state_stays_small() {
        assert!(std::mem::size_of::<Conn>() <= 640);
        assert_eq!(std::mem::size_of::<SidMap>(), 24);
    }

    #[test]
    fn subscription_names_share_one_allocation() {
        let q = Subscription::new(3, b"a.b", Some(b"workers"), b"42");
        assert_eq!(
            (q.subject(), q.queue(), q.sid()),
            (&b"a.b"[..], Some(&b"workers"[..]), &b"42"[..])
        );
        let p = Subscription::new(3, b"a.>", None, b"7");
        assert_eq!(
            (p.subject(), p.queue(), p.sid()),
            (&b"a.>"[..], None, &b"7"[..])
        );
    }
}
