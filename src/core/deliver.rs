//! Message delivery (fan-out): one frame per matching subscription into its
//! connection's write buffer; one member of each queue group.

use slab::Slab;

use std::time::Instant;

use super::account::Route;
use super::closed::CloseReason;
use super::conn::{Conn, Role, Subscription, NO_ROUTE};
use super::rng::Rng;
use crate::proto::encode::write_msg;
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
}

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
            let start = self.rng.below(group.len());
            // If the chosen member cannot take it, the next one does.
            for i in 0..group.len() {
                if self.deliver(
                    group[(start + i) % group.len()],
                    src,
                    echo,
                    msg,
                    &mut routed,
                ) {
                    break;
                }
            }
        }
        routed
    }

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
        if sub.is_internal() {
            self.routes_hit.push(sub.route);
            return false;
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
        // A shadow of an importer's subscription sees the subject mapped.
        let mut mapped_subject = Vec::new();
        let mapped;
        let msg = if sub.route == NO_ROUTE {
            msg
        } else {
            let Some(Route::Stream { mapping, .. }) = self.routes.get(sub.route as usize) else {
                return false;
            };
            if self.imported_from_service {
                return false;
            }
            mapping.forward(msg.subject, &mut mapped_subject);
            mapped = Pub {
                subject: &mapped_subject,
                ..msg.clone()
            };
            &mapped
        };
        if let Some(perms) = conn.perms.as_mut().filter(|p| p.watches_delivery()) {
            if perms.delivery_denied(msg.subject, sub.queue()) {
                return false;
            }
            if let Some(reply) = msg.reply {
                perms.grant_reply(reply, self.now);
            }
        }
        sub.delivered += 1;
        if sub.max > 0 && sub.delivered == sub.max {
            self.expired.push(sub_key);
        }
        match conn.role {
            Role::Client => write_msg(&mut conn.wbuf.buf, msg, sub.sid(), conn.opts.headers),
        }
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
        mark_written(conn, sub.conn(), self.dirty, self.max_pending);
        true
    }
}

/// What one message's routing delivered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Routed {
    pub msgs: u64,
    pub bytes: u64,
}

/// After appending to a connection's write buffer: queue it for the flush
/// pass, or close it as a slow consumer when too much is pending.
pub fn mark_written(conn: &mut Conn, key: usize, dirty: &mut Vec<usize>, max_pending: u64) {
    if conn.wbuf.pending() as u64 > max_pending {
        if !conn.is_closing() {
            log::info!(
                "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                conn.addr,
                conn.cid,
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
