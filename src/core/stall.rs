//! Fast producers held back by a link that cannot keep up, as
//! nats-server's fast producer stall does: when a message pushes a leaf
//! connection's pending output past three quarters of `max_pending`, the
//! connection that published it is not read again until the link has
//! drained to half of it (or a second has passed), so the publisher's TCP
//! window fills and it slows down, rather than the link being cut as a
//! slow consumer with everything in flight lost.
//!
//! nats-server stalls a producer a few milliseconds per message, at most
//! 10 ms per read; natsd, driven by readiness, stops reading the producer
//! instead. Only leaf links stall producers: a slow client is still closed
//! as a slow consumer, so that one stuck subscriber does not slow the
//! others (see the `stall` benchmark).

use std::time::{Duration, Instant};

use super::Core;

/// The longest a producer waits for a congested link at a time.
const MAX_STALL: Duration = Duration::from_secs(1);

/// A producer not being read.
#[derive(Debug, Clone, Copy)]
pub struct Stalled {
    key: usize,
    cid: u64,
    since: Instant,
}

/// Whether a link with `pending` output, out of `max_pending`, holds its
/// producers back.
pub fn congests(pending: usize, max_pending: u64) -> bool {
    pending as u64 > max_pending / 4 * 3
}

/// Whether a congested link has drained enough to let its producers go.
fn drained(pending: usize, max_pending: u64) -> bool {
    pending as u64 <= max_pending / 2
}

impl Core {
    /// Connection `key` published into a congested link: it is not read
    /// again until the link drains.
    pub(super) fn stall(&mut self, key: usize, now: Instant) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        if self.stalled.iter().any(|s| s.key == key) {
            return;
        }
        log::debug!(
            "{} - Producer stalled by a congested leaf node or route link",
            conn.tag()
        );
        self.stalled.push(Stalled {
            key,
            cid: conn.cid,
            since: now,
        });
    }

    /// Whether the reactor is to leave connection `key` unread for now.
    pub fn is_stalled(&self, key: usize) -> bool {
        !self.stalled.is_empty() && self.stalled.iter().any(|s| s.key == key)
    }

    /// A flush of connection `key` (a leaf link) may have drained it.
    pub(super) fn note_drained(&mut self, key: usize) {
        let max_pending = self.opts.max_pending;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let pending = conn.wbuf.pending();
        if let Some(congested) = conn.congested() {
            if *congested && drained(pending, max_pending) {
                *congested = false;
                self.stall_released = true;
            }
        }
    }

    /// A congested link is gone: its producers need not wait for it.
    #[cfg_attr(not(any(feature = "leafnodes", feature = "cluster")), allow(dead_code))]
    pub(super) fn congestion_gone(&mut self) {
        self.stall_released = true;
    }

    /// The producers to read again: all of them once no link is congested,
    /// and any that has waited its longest. The reactor reads them next.
    pub fn take_resumed(&mut self, now: Instant, out: &mut Vec<usize>) {
        if self.stalled.is_empty() {
            return;
        }
        let any_congested = self.stall_released
            && self
                .leaf
                .links
                .iter()
                .chain(&self.routes.links)
                .filter_map(|&k| self.conns.get(k))
                .any(|c| {
                    c.leaf.as_deref().is_some_and(|l| l.congested)
                        || c.route.as_deref().is_some_and(|r| r.congested)
                });
        let release_all = self.stall_released && !any_congested;
        self.stall_released = false;
        let conns = &self.conns;
        self.stalled.retain(|s| {
            let live = conns.get(s.key).is_some_and(|c| c.cid == s.cid);
            let go = release_all || now.saturating_duration_since(s.since) >= MAX_STALL;
            if live && go {
                out.push(s.key);
            }
            live && !go
        });
    }

    /// When the longest-waiting producer is to be read again regardless.
    pub fn stall_deadline(&self) -> Option<Instant> {
        self.stalled.iter().map(|s| s.since + MAX_STALL).min()
    }
}

#[cfg(all(test, feature = "leafnodes"))]
mod tests {
    use super::*;
    use crate::core::stats::WallClock;
    use crate::options::Options;
    use crate::proto::Info;

    /// A hub with a linked leaf interested in `foo`, and a client that
    /// published 8 messages of 100 bytes on `foo` (more than 3/4 of a
    /// `max_pending` of 1000): the leaf's key and the client's.
    fn congested(drain_first: bool, t0: Instant) -> (Core, usize, usize) {
        let mut opts = Options::ephemeral();
        opts.max_pending = 1000;
        opts.leafnodes = Some(Default::default());
        let info = Info::server(
            "N".into(),
            "hub".into(),
            "2.15.1",
            "127.0.0.1",
            4222,
            false,
            1 << 20,
        );
        let mut core = Core::new(
            opts,
            info,
            7,
            WallClock::new(t0, std::time::SystemTime::now()),
        );
        let addr = "127.0.0.1:7000".parse().unwrap();
        let leaf = core.accept_leaf(addr, false, t0);
        let mut hello: &[u8] = b"CONNECT {\"name\":\"L\",\"cluster\":\"C\"}\r\nLS+ foo\r\n";
        core.receive(leaf, &mut hello, t0).unwrap();
        if drain_first {
            core.flush(leaf, &mut Vec::new(), t0);
        }
        let client = core.accept(addr, t0);
        let mut publish = b"CONNECT {\"verbose\":false}\r\n".to_vec();
        for _ in 0..8 {
            publish.extend_from_slice(b"PUB foo 100\r\n");
            publish.extend_from_slice(&[b'x'; 100]);
            publish.extend_from_slice(b"\r\n");
        }
        let mut input = &publish[..];
        while !input.is_empty() {
            core.receive(client, &mut input, t0).unwrap();
        }
        (core, leaf, client)
    }

    #[test]
    fn a_congested_leaf_link_holds_its_producer_until_it_drains() {
        let t0 = Instant::now();
        let (mut core, leaf, client) = congested(true, t0);
        assert!(core.is_stalled(client), "the producer waits for the link");
        assert!(!core.is_stalled(leaf));
        let mut resumed = Vec::new();
        core.take_resumed(t0, &mut resumed);
        assert!(resumed.is_empty(), "not before the link drains");
        core.flush(leaf, &mut Vec::new(), t0);
        core.take_resumed(t0, &mut resumed);
        assert_eq!(resumed, vec![client]);
        assert!(!core.is_stalled(client));
        assert!(core.close_reason(leaf).is_none(), "the link was not cut");
    }

    #[test]
    fn a_producer_waits_a_second_at_most() {
        let t0 = Instant::now();
        let (mut core, _, client) = congested(false, t0);
        assert_eq!(core.stall_deadline(), Some(t0 + MAX_STALL));
        let mut resumed = Vec::new();
        core.take_resumed(t0 + MAX_STALL, &mut resumed);
        assert_eq!(resumed, vec![client]);
    }
}
