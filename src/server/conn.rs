//! One client connection: socket, buffers, parser and protocol state.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use slab::Slab;

use crate::proto::{ConnectOpts, Parser};
use crate::small_bytes::SmallBytes;

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
        }
    }
}

/// The bytes read but not yet parsed. The buffer is kept initialised to its
/// full length so reads need no zeroing. It adapts to the traffic: a read
/// that fills all the room doubles it (up to `READ_BUF_FAST`, or further when
/// one operation needs more, up to the read limit), and once drained after
/// a short read (or while still at its first size) it is given back, to be
/// allocated again by the next read.
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read used less than a quarter of the room it had.
    last_read_short: bool,
    /// The last read filled all the room it had: the socket may hold more.
    last_read_full: bool,
}

/// Where every read buffer starts.
pub const READ_BUF_MIN: usize = 512;
/// Growth beyond this happens only for an operation that needs it.
const READ_BUF_FAST: usize = 64 * 1024;

impl ReadBuf {
    /// A buffer that owns no memory until the first read.
    pub fn empty() -> ReadBuf {
        ReadBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
            last_read_short: false,
            last_read_full: false,
        }
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The memory the buffer holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // An idle connection holds no read buffer at all. A buffer
            // still at its first size costs little to allocate again; a
            // grown one is kept until a read shows the traffic has eased.
            if self.last_read_short || self.buf.len() <= READ_BUF_MIN {
                self.buf = Vec::new();
            }
        }
    }

    /// Room to read into: compacts, or grows up to `limit`, when full.
    /// `None` when the buffer is full at its limit.
    fn spare(&mut self, limit: usize) -> Option<&mut [u8]> {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUF_MIN.min(limit)];
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < limit {
                let grown = (self.buf.len() * 2).min(limit);
                self.buf.resize(grown, 0);
            } else {
                return None;
            }
        }
        Some(&mut self.buf[self.end..])
    }

    /// The last read filled all its room, so the socket may hold more. A
    /// short read emptied the socket: with edge-triggered readiness, data
    /// arriving later raises a new event, so no read is needed to see
    /// `WouldBlock` (one system call less per wake).
    pub fn may_have_more(&self) -> bool {
        self.last_read_full
    }

    /// Read once from `src`. `Ok(0)` is end of stream.
    pub fn read_from(&mut self, src: &mut impl Read, limit: usize) -> io::Result<usize> {
        let Some(room) = self.spare(limit).map(|s| s.len()) else {
            return Err(io::Error::other("read buffer full"));
        };
        let n = src.read(&mut self.buf[self.end..])?;
        self.end += n;
        self.last_read_short = n < room / 4;
        self.last_read_full = n == room;
        if n == room && self.buf.len() < READ_BUF_FAST.min(limit) {
            let grown = (self.buf.len() * 2).min(READ_BUF_FAST.min(limit));
            self.buf.resize(grown, 0);
        }
        Ok(n)
    }
}

/// Outbound bytes: appended by the router, written by the flush pass.
#[derive(Default)]
pub struct WriteBuf {
    pub buf: Vec<u8>,
    pos: usize,
}

/// A drained write buffer is kept for the next turn only while it is in
/// steady use: at least this big, and at least a quarter used by the flush
/// that drained it (and never more than `WRITE_BUF_KEEP_MAX`). Anything else
/// is given back, so an idle connection holds no output buffer.
const WRITE_BUF_KEEP_MIN: usize = 4 * 1024;
const WRITE_BUF_KEEP_MAX: usize = 1024 * 1024;

impl WriteBuf {
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Write as much as the socket takes. `Ok(true)` when all is written.
    pub fn flush_to(&mut self, sock: &mut impl Write) -> io::Result<bool> {
        while self.pos < self.buf.len() {
            match sock.write(&self.buf[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let (used, capacity) = (self.buf.len(), self.buf.capacity());
        self.pos = 0;
        if (WRITE_BUF_KEEP_MIN..=WRITE_BUF_KEEP_MAX).contains(&capacity) && used * 4 >= capacity {
            self.buf.clear();
        } else {
            self.buf = Vec::new();
        }
        Ok(true)
    }
}

/// A client subscription, stored in the core's subscription slab; the trie
/// holds its slab key. Subject, queue and sid are stored together, inline
/// when short.
pub struct Subscription {
    pub conn: usize,
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
        // The parser bounds every argument by max_control_line.
        Subscription {
            conn,
            names: SmallBytes::concat(&[subject, queue.unwrap_or_default(), sid]),
            subject_len: subject.len() as u32,
            queue_len: queue.map_or(u32::MAX, |q| q.len() as u32),
            max: 0,
            delivered: 0,
        }
    }

    pub fn subject(&self) -> &[u8] {
        &self.names.as_bytes()[..self.subject_len as usize]
    }

    pub fn queue(&self) -> Option<&[u8]> {
        let start = self.subject_len as usize;
        (self.queue_len != u32::MAX)
            .then(|| &self.names.as_bytes()[start..start + self.queue_len as usize])
    }

    pub fn sid(&self) -> &[u8] {
        let queue_len = if self.queue_len == u32::MAX {
            0
        } else {
            self.queue_len
        };
        &self.names.as_bytes()[(self.subject_len + queue_len) as usize..]
    }
}

/// Subscriptions a connection keeps as a plain list before it indexes them.
const FEW_SIDS: usize = 16;

/// A connection's subscriptions by sid.
///
/// Most clients hold a few subscriptions: up to [`FEW_SIDS`] their slab keys
/// are a list, searched by comparing sids (16 keys take 64 bytes; a hash
/// table of them about 300). Beyond that they are keyed by a hash of the
/// sid, not a copy of it: the sid lives once, in the subscription, and is
/// compared there. The rare colliding sid goes to a short list, so no
/// subscription is ever mistaken for another. The hash key is per process
/// (`RandomState`), so collisions cannot be chosen in advance, and the table
/// uses that hash as is rather than hashing it again.
#[derive(Default)]
pub struct SidMap(Sids);

enum Sids {
    Few(Vec<u32>),
    Many {
        by_hash: HashMap<u64, usize, BuildHasherDefault<KeyIsHash>>,
        collided: Vec<usize>,
    },
}

impl Default for Sids {
    fn default() -> Self {
        Sids::Few(Vec::new())
    }
}

/// A `Hasher` for keys that already are keyed hashes: it passes them on.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps any other key well mixed.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl SidMap {
    pub fn len(&self) -> usize {
        match &self.0 {
            Sids::Few(keys) => keys.len(),
            Sids::Many { by_hash, collided } => by_hash.len() + collided.len(),
        }
    }

    /// The subscription with `sid`, whose hash is `hash`.
    pub fn get(&self, sid: &[u8], hash: u64, subs: &Slab<Subscription>) -> Option<usize> {
        let is = |k: usize| subs.get(k).is_some_and(|s| s.sid() == sid);
        match &self.0 {
            Sids::Few(keys) => keys.iter().map(|&k| k as usize).find(|&k| is(k)),
            Sids::Many { by_hash, collided } => match by_hash.get(&hash) {
                Some(&k) if is(k) => Some(k),
                Some(_) => collided.iter().copied().find(|&k| is(k)),
                None => None,
            },
        }
    }

    /// Add a subscription whose sid is not in the map yet; its sid hashes
    /// to `hash` under `hasher`, which also hashes the others' sids when
    /// the list grows into a table.
    pub fn insert(
        &mut self,
        hash: u64,
        sub_key: usize,
        subs: &Slab<Subscription>,
        hasher: &impl BuildHasher,
    ) {
        if let Sids::Few(keys) = &mut self.0 {
            if keys.len() < FEW_SIDS {
                keys.push(sub_key as u32);
                return;
            }
            let listed = std::mem::take(keys);
            self.0 = Sids::Many {
                by_hash: HashMap::default(),
                collided: Vec::new(),
            };
            for k in listed {
                let k = k as usize;
                if let Some(sub) = subs.get(k) {
                    self.insert(hasher.hash_one(sub.sid()), k, subs, hasher);
                }
            }
        }
        let Sids::Many { by_hash, collided } = &mut self.0 else {
            unreachable!("a full list became a table above");
        };
        if let std::collections::hash_map::Entry::Vacant(e) = by_hash.entry(hash) {
            e.insert(sub_key);
        } else {
            collided.push(sub_key);
        }
    }

    /// Remove subscription `sub_key`, whose sid hashes to `hash` under
    /// `hasher` (the hash is not stored: 8 bytes for every subscription).
    pub fn remove(
        &mut self,
        hash: u64,
        sub_key: usize,
        subs: &Slab<Subscription>,
        hasher: &impl BuildHasher,
    ) {
        let (by_hash, collided) = match &mut self.0 {
            Sids::Few(keys) => {
                if let Some(i) = keys.iter().position(|&k| k as usize == sub_key) {
                    keys.swap_remove(i);
                }
                return;
            }
            Sids::Many { by_hash, collided } => (by_hash, collided),
        };
        if let Some(i) = collided.iter().position(|&k| k == sub_key) {
            collided.swap_remove(i);
            return;
        }
        if by_hash.get(&hash) == Some(&sub_key) {
            by_hash.remove(&hash);
            // A collided sid with the same hash takes the free place.
            let hash_of = |k: usize| subs.get(k).map(|s| hasher.hash_one(s.sid()));
            if let Some(i) = collided.iter().position(|&k| hash_of(k) == Some(hash)) {
                let moved = collided.swap_remove(i);
                by_hash.insert(hash, moved);
            }
        }
    }

    /// Every subscription key, in no particular order.
    pub fn keys(&self) -> Vec<usize> {
        match &self.0 {
            Sids::Few(keys) => keys.iter().map(|&k| k as usize).collect(),
            Sids::Many { by_hash, collided } => by_hash.values().chain(collided).copied().collect(),
        }
    }

    /// Every subscription key, emptying the map.
    pub fn drain(&mut self) -> Vec<usize> {
        let keys = self.keys();
        self.0 = Sids::default();
        keys
    }
}

/// Per-connection state; the socket is the reactor's.
pub struct Conn {
    pub cid: u64,
    pub addr: SocketAddr,
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
    pub stats: super::stats::ConnStats,
}

impl Conn {
    pub fn close(&mut self, reason: CloseReason) {
        if self.closing.is_none() {
            self.closing = Some(reason);
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
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
        assert!(std::mem::size_of::<SidMap>() <= 56);
    }

    #[test]
    fn a_first_size_read_buffer_is_freed_once_drained() {
        let mut rb = ReadBuf::empty();
        let mut src: &[u8] = &[b'x'; READ_BUF_MIN / 2];
        rb.read_from(&mut src, 1 << 20).unwrap();
        let n = rb.pending().len();
        rb.consume(n);
        assert_eq!(rb.buf.capacity(), 0);
    }

    #[test]
    fn read_buffer_grows_when_reads_fill_it_and_shrinks_when_idle() {
        let mut rb = ReadBuf::empty();
        let data = vec![b'x'; 10_000];
        let mut src: &[u8] = &data;
        let n = rb.read_from(&mut src, 1 << 20).unwrap();
        assert_eq!(n, READ_BUF_MIN);
        assert_eq!(
            rb.buf.len(),
            2 * READ_BUF_MIN,
            "a full read doubles the room"
        );
        while !src.is_empty() {
            rb.read_from(&mut src, 1 << 20).unwrap();
        }
        assert_eq!(rb.pending().len(), 10_000, "grows to hold an unparsed op");
        rb.consume(10_000);
        let mut small: &[u8] = b"PING\r\n";
        rb.read_from(&mut small, 1 << 20).unwrap();
        rb.consume(6);
        assert!(
            rb.buf.is_empty(),
            "given back when drained after a short read"
        );
    }

    #[test]
    fn read_buffer_compacts_before_growing_and_stops_at_its_limit() {
        let mut rb = ReadBuf::empty();
        let data = vec![b'y'; READ_BUF_MIN];
        rb.read_from(&mut &data[..], 600).unwrap();
        rb.consume(500);
        rb.read_from(&mut &data[..], 600).unwrap();
        assert_eq!(rb.pending().len(), 100, "grew to the limit: 88 more");
        rb.read_from(&mut &data[..], 600).unwrap();
        assert_eq!(rb.pending().len(), 600, "compacted, not grown");
        let err = rb.read_from(&mut &data[..], 600).unwrap_err();
        assert_eq!(err.to_string(), "read buffer full");
    }

    /// Hashes sid "4" to 9 and every other sid to 7, to force collisions.
    #[derive(Default)]
    struct Forced(u64);

    impl Hasher for Forced {
        fn finish(&self) -> u64 {
            if self.0 == 0 {
                7
            } else {
                self.0
            }
        }
        fn write(&mut self, bytes: &[u8]) {
            if bytes == b"4" {
                self.0 = 9;
            }
        }
    }

    /// As a short list and as a table (made so by `extra` more sids, all
    /// forced onto the hash 7 as well), colliding sids stay apart.
    #[test]
    fn sid_map_keeps_colliding_sids_apart() {
        let forced = BuildHasherDefault::<Forced>::default();
        assert_eq!(
            (forced.hash_one(&b"1"[..]), forced.hash_one(&b"4"[..])),
            (7, 9)
        );
        for extra in [0, FEW_SIDS] {
            let mut subs = Slab::new();
            let mut map = SidMap::default();
            let mut add = |sid: &[u8], hash: u64| {
                let key = subs.insert(Subscription::new(0, b"s", None, sid));
                map.insert(hash, key, &subs, &forced);
                key
            };
            // Three sids forced onto one hash, one on another.
            let keys: Vec<usize> = [(&b"1"[..], 7u64), (b"2", 7), (b"3", 7), (b"4", 9)]
                .into_iter()
                .map(|(sid, hash)| add(sid, hash))
                .collect();
            let extra_keys: Vec<usize> = (0..extra)
                .map(|i| add(format!("x{i}").as_bytes(), 7))
                .collect();
            assert_eq!(map.len(), 4 + extra);
            assert_eq!(matches!(map.0, Sids::Many { .. }), extra > 0);
            for (sid, hash, key) in [
                (&b"1"[..], 7, keys[0]),
                (b"2", 7, keys[1]),
                (b"3", 7, keys[2]),
                (b"4", 9, keys[3]),
            ] {
                assert_eq!(map.get(sid, hash, &subs), Some(key));
            }
            assert_eq!(map.get(b"5", 7, &subs), None);
            // Removing the one in the table promotes a collided one.
            map.remove(7, keys[0], &subs, &forced);
            subs.remove(keys[0]);
            assert_eq!(map.get(b"1", 7, &subs), None);
            assert_eq!(map.get(b"2", 7, &subs), Some(keys[1]));
            assert_eq!(map.get(b"3", 7, &subs), Some(keys[2]));
            map.remove(7, keys[2], &subs, &forced);
            assert_eq!(map.get(b"2", 7, &subs), Some(keys[1]));
            for (i, &key) in extra_keys.iter().enumerate() {
                assert_eq!(map.get(format!("x{i}").as_bytes(), 7, &subs), Some(key));
            }
            let mut rest = map.drain();
            rest.sort();
            let mut want = [vec![keys[1], keys[3]], extra_keys].concat();
            want.sort();
            assert_eq!(rest, want);
            assert_eq!(map.len(), 0);
        }
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
