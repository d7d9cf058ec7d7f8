//! Message delivery (fan-out): one frame per matching subscription into its
//! connection's write buffer; one member of each queue group.

use slab::Slab;

use std::time::Instant;

use super::account::Route;
use super::closed::CloseReason;
use super::conn::{Conn, Role, Subscription, NO_ROUTE};
use super::rng::Rng;
use crate::proto::encode::{write_leaf_msg_line, write_msg, write_route_msg_line};
use crate::proto::Pub;
use crate::sublist::SublistResult;

/// What delivery needs besides the match result, borrowed from the reactor.
pub struct Delivery<'a> {
    pub conns: &'a mut Slab<Conn>,
    pub subs: &'a mut Slab<Subscription>,
    pub dirty: &'a mut Vec<usize>,
    /// Subscriptions that reached their auto-unsubscribe count.
    pub expired: &'a mut Vec<usize>,
    pub rng: &'a mut Rng,
    pub max_pending: u64,
    /// The account routes, for the subject a stream import maps to.
    pub routes: &'a [Route],
    /// Internal subscriptions matched: the routes to follow afterwards.
    pub routes_hit: &'a mut Vec<u32>,
    /// The message came in through a service import: it does not go on
    /// to stream importers (as in nats-server).
    pub imported_from_service: bool,
    /// For the reply grants of `allow_responses`.
    pub now: Instant,
    /// The queue groups a leaf node or route named for its message (space
    /// separated; empty: none); `None` for a client's message: every group.
    pub queue_filter: Option<&'a [u8]>,
    /// Leaf and route connections the message goes to, each with the
    /// queue subscription picked for it (or `NO_PICK` for its plain
    /// interest): collected while routing, one `LMSG` or `RMSG` per
    /// connection after.
    pub peer_targets: &'a mut Vec<(usize, usize)>,
    /// The account's name, which an `RMSG` carries.
    pub account_name: &'a str,
    /// This server has routes: a queue group's members may be behind
    /// them, and nats-server picks among all the cluster's members.
    pub clustered: bool,
}

/// A peer target entry for plain (non-queue) interest.
const NO_PICK: usize = usize::MAX;

impl Delivery<'_> {
    /// Deliver `msg`, published by connection `src`, to every subscription in
    /// `result`. Returns what was delivered, for the server's counters.
    pub fn route(&mut self, result: &SublistResult<usize>, src: usize, msg: &Pub<'_>) -> Routed {
        let echo = self.conns.get(src).is_none_or(|c| c.opts.echo);
        let mut routed = Routed::default();
        for &sub in result.psubs() {
            self.deliver(sub, src, echo, msg, &mut routed);
        }
        for group in result.queue_groups() {
            if let Some(filter) = self.queue_filter {
                if !self.is_named(filter, group) {
                    continue;
                }
            }
            let start = if self.clustered {
                self.weighted_start(group)
            } else {
                self.rng.below(group.len())
            };
            // As nats-server: a member on this server or behind a route
            // (the cluster's members, picked at random by their weight)
            // takes it; a leaf node's is kept in case none does (its
            // `rsub`). A message from a route goes to members here.
            let mut fallback = None;
            for i in 0..group.len() {
                let sub_key = group[(start + i) % group.len()];
                if self.is_peer_sub(sub_key) {
                    if !self.peer_may_take(sub_key, src, true) {
                        continue;
                    }
                    if self.is_route_sub(sub_key) {
                        fallback = Some(sub_key);
                        break;
                    }
                    fallback = fallback.or(Some(sub_key));
                    continue;
                }
                // If the chosen member cannot take it, the next one does.
                if self.deliver(sub_key, src, echo, msg, &mut routed) {
                    fallback = None;
                    break;
                }
            }
            if let Some(sub_key) = fallback {
                let conn = self.subs[sub_key].conn();
                self.peer_targets.push((conn, sub_key));
            }
        }
        if !self.peer_targets.is_empty() {
            self.write_peer_targets(msg, &mut routed);
        }
        routed
    }

    /// Whether a leaf node or route named `group`'s queue for its message.
    #[cold]
    fn is_named(&self, filter: &[u8], group: &[usize]) -> bool {
        let Some(queue) = group.first().and_then(|&k| self.subs.get(k)?.queue()) else {
            return false;
        };
        crate::proto::leaf::queue_names(filter).any(|q| q == queue)
    }

    /// Where to start looking among a queue group's members: at random,
    /// each member weighing what it stands for (a queue group's members
    /// behind a route or leaf node), as nats-server's sublist repeats a
    /// remote member by its weight.
    #[cold]
    #[inline(never)]
    fn weighted_start(&mut self, group: &[usize]) -> usize {
        let weight = |k: usize| -> u64 {
            self.subs
                .get(k)
                .and_then(|s| Some(u64::from(self.conns.get(s.conn())?.weight_of(s))))
                .unwrap_or(1)
        };
        let total: u64 = group.iter().map(|&k| weight(k)).sum();
        let mut pick = self.rng.next_u64() % total.max(1);
        for (i, &k) in group.iter().enumerate() {
            let w = weight(k);
            if pick < w {
                return i;
            }
            pick -= w;
        }
        0
    }

    fn is_route_sub(&self, sub_key: usize) -> bool {
        self.subs
            .get(sub_key)
            .and_then(|s| self.conns.get(s.conn()))
            .is_some_and(|c| c.role == Role::Route)
    }

    /// A subscription of a leaf node or route (not of a client).
    fn is_peer_sub(&self, sub_key: usize) -> bool {
        self.subs
            .get(sub_key)
            .and_then(|s| self.conns.get(s.conn()))
            .is_some_and(|c| c.role != Role::Client)
    }

    /// Whether a leaf node's or route's subscription `sub_key` may get a
    /// message from `src` (nats-server's `processMsgResults`): not one
    /// from itself; for a route, not one that came over a route (one hop)
    /// or from our hub (which sends it to the cluster's other servers
    /// itself); for a leaf node, not one from a leaf of its own cluster,
    /// and of what came over a route, only what a leaf we are hub to asked
    /// for (`queue`: a queue group's member takes it anyway).
    fn peer_may_take(&self, sub_key: usize, src: usize, queue: bool) -> bool {
        let target = self.subs[sub_key].conn();
        if target == src {
            return false;
        }
        let source = self.conns.get(src);
        let Some(to) = self.conns.get(target) else {
            return false;
        };
        if to.role == Role::Route {
            return source.is_none_or(|c| {
                c.role != Role::Route && !c.leaf.as_deref().is_some_and(|l| l.is_spoke)
            });
        }
        let from_route = source.is_some_and(|c| c.role == Role::Route);
        let to = to.leaf.as_deref();
        if from_route && !queue && to.is_some_and(|l| l.is_spoke) {
            return false;
        }
        let from = source.and_then(|c| c.leaf.as_deref());
        match (from, to) {
            (Some(from), Some(to)) => {
                from.remote_cluster.is_empty() || from.remote_cluster != to.remote_cluster
            }
            _ => true,
        }
    }

    /// One `LMSG` or `RMSG` (or `HMSG`) to each leaf or route target,
    /// naming the queue groups picked for it.
    #[cold]
    #[inline(never)]
    fn write_peer_targets(&mut self, msg: &Pub<'_>, routed: &mut Routed) {
        for i in 0..self.peer_targets.len() {
            let (conn_key, _) = self.peer_targets[i];
            // Each connection once, at its first entry.
            if self.peer_targets[..i].iter().any(|&(c, _)| c == conn_key) {
                continue;
            }
            let Some(conn) = self.conns.get_mut(conn_key) else {
                continue;
            };
            if conn.is_closing() {
                continue;
            }
            let headers = match (conn.leaf.as_deref(), conn.route.as_deref()) {
                (Some(leaf), _) if leaf.send_allowed(msg.subject) => leaf.headers,
                (_, Some(route)) => route.headers,
                _ => continue,
            };
            let subs = &*self.subs;
            let queues = self.peer_targets[i..]
                .iter()
                .filter(|&&(c, pick)| c == conn_key && pick != NO_PICK)
                .filter_map(|&(_, pick)| subs.get(pick)?.queue());
            let out = &mut conn.wbuf.buf;
            if conn.route.is_some() {
                write_route_msg_line(out, self.account_name.as_bytes(), msg, queues, headers);
            } else {
                write_leaf_msg_line(out, msg, queues, headers);
            }
            let body = if msg.header_len > 0 && !headers {
                msg.payload()
            } else {
                msg.msg
            };
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
            let bytes = body.len() as u64;
            conn.stats.out_msgs += 1;
            conn.stats.out_bytes += bytes;
            routed.msgs += 1;
            routed.bytes += bytes;
            if super::stall::congests(conn.wbuf.pending(), self.max_pending) {
                if let Some(congested) = conn.congested() {
                    *congested = true;
                }
                routed.congested = true;
            }
            mark_written(conn, conn_key, self.dirty, self.max_pending);
        }
        self.peer_targets.clear();
    }

    /// Deliver to one subscription; whether it took the message. The
    /// common case (a client's own subscription, no permissions to
    /// consult) stays small; imports and permissions go the long way.
    #[inline(always)]
    fn deliver(
        &mut self,
        sub_key: usize,
        src: usize,
        echo: bool,
        msg: &Pub<'_>,
        routed: &mut Routed,
    ) -> bool {
        let Some(sub) = self.subs.get_mut(sub_key) else {
            return false;
        };
        if sub.route != NO_ROUTE {
            return self.deliver_routed(sub_key, msg, routed);
        }
        if sub.conn() == src && !echo {
            return false;
        }
        if sub.max > 0 && sub.delivered >= sub.max {
            return false;
        }
        let Some(conn) = self.conns.get_mut(sub.conn()) else {
            return false;
        };
        if conn.is_closing() {
            return false;
        }
        if conn.role != Role::Client {
            return self.target_peer(sub_key, src);
        }
        if conn.perms.as_ref().is_some_and(|p| p.watches_delivery()) {
            return self.deliver_permitted(sub_key, msg, routed);
        }
        write_delivery(conn, sub, msg, routed);
        if sub.max > 0 && sub.delivered == sub.max {
            self.expired.push(sub_key);
        }
        mark_written(conn, sub.conn(), self.dirty, self.max_pending);
        true
    }

    /// A leaf's or route's plain interest: the message goes to it once,
    /// after the routing (see [`Delivery::write_peer_targets`]).
    #[cold]
    #[inline(never)]
    fn target_peer(&mut self, sub_key: usize, src: usize) -> bool {
        if !self.peer_may_take(sub_key, src, false) {
            return false;
        }
        let conn = self.subs[sub_key].conn();
        if !self.peer_targets.iter().any(|&(c, _)| c == conn) {
            self.peer_targets.push((conn, NO_PICK));
        }
        true
    }

    /// An internal subscription (its route is followed after the
    /// delivery) or a stream import's shadow (the subject is mapped).
    #[cold]
    #[inline(never)]
    fn deliver_routed(&mut self, sub_key: usize, msg: &Pub<'_>, routed: &mut Routed) -> bool {
        let sub = &self.subs[sub_key];
        if sub.is_internal() {
            self.routes_hit.push(sub.route);
            return false;
        }
        let Some(Route::Stream { mapping, .. }) = self.routes.get(sub.route as usize) else {
            return false;
        };
        // What came in through a service import stays with its service.
        if self.imported_from_service || (sub.max > 0 && sub.delivered >= sub.max) {
            return false;
        }
        if self.conns.get(sub.conn()).is_none_or(|c| c.is_closing()) {
            return false;
        }
        let mut subject = Vec::new();
        mapping.forward(msg.subject, &mut subject);
        let mapped = Pub {
            subject: &subject,
            ..msg.clone()
        };
        if self.conns[sub.conn()].perms.is_some() {
            return self.deliver_permitted(sub_key, &mapped, routed);
        }
        let sub = &mut self.subs[sub_key];
        write_delivery(&mut self.conns[sub.conn()], sub, &mapped, routed);
        self.after_write(sub_key);
        true
    }

    /// To a connection with permissions: not a subject its subscriptions
    /// may not receive; a request's reply may be answered
    /// (`allow_responses`).
    #[cold]
    #[inline(never)]
    fn deliver_permitted(&mut self, sub_key: usize, msg: &Pub<'_>, routed: &mut Routed) -> bool {
        let sub = &mut self.subs[sub_key];
        let conn = &mut self.conns[sub.conn()];
        if let Some(perms) = conn.perms.as_mut().filter(|p| p.watches_delivery()) {
            if perms.delivery_denied(msg.subject, sub.queue()) {
                return false;
            }
            if let Some(reply) = msg.reply {
                perms.grant_reply(reply, self.now);
            }
        }
        write_delivery(conn, sub, msg, routed);
        self.after_write(sub_key);
        true
    }

    /// A subscription took a message: it may have reached its
    /// auto-unsubscribe count; its connection has output to flush.
    fn after_write(&mut self, sub_key: usize) {
        let sub = &self.subs[sub_key];
        if sub.max > 0 && sub.delivered == sub.max {
            self.expired.push(sub_key);
        }
        let key = sub.conn();
        mark_written(&mut self.conns[key], key, self.dirty, self.max_pending);
    }
}

/// Frame `msg` for `sub`'s connection, as its role wants it, and count it.
#[inline(always)]
fn write_delivery(conn: &mut Conn, sub: &mut Subscription, msg: &Pub<'_>, routed: &mut Routed) {
    sub.delivered += 1;
    write_msg(&mut conn.wbuf.buf, msg, sub.sid(), conn.opts.headers);
    // Headers count only for a subscriber that receives them.
    let bytes = if conn.opts.headers {
        msg.msg.len()
    } else {
        msg.payload().len()
    } as u64;
    conn.stats.out_msgs += 1;
    conn.stats.out_bytes += bytes;
    routed.msgs += 1;
    routed.bytes += bytes;
}

/// What one message's routing delivered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Routed {
    pub msgs: u64,
    pub bytes: u64,
    /// A leaf link it went to is congested: its producer is to wait.
    pub congested: bool,
}

/// After appending to a connection's write buffer: queue it for the flush
/// pass, or close it as a slow consumer when too much is pending.
pub fn mark_written(conn: &mut Conn, key: usize, dirty: &mut Vec<usize>, max_pending: u64) {
    if conn.wbuf.pending() as u64 > max_pending {
        if !conn.is_closing() {
            log::info!(
                "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                conn.tag(),
                max_pending
            );
        }
        conn.close(CloseReason::SlowConsumerPendingBytes);
    }
    if !conn.dirty {
        conn.dirty = true;
        dirty.push(key);
    }
}
