//! Connection deadlines in one heap; the reactor sleeps until the nearest.
//!
//! Entries are not removed when a deadline moves or a connection closes:
//! each connection keeps its current deadlines, and a popped entry that no
//! longer matches them (or whose connection is gone, told by its cid) is
//! dropped. So that closed connections' deadlines (a keepalive two minutes
//! away) do not pile up under churn, the core purges the stale ones once
//! they outnumber the live ([`Timers::purge`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    Ping,
    Auth,
    Write,
    /// An account's requests awaiting responses are swept; `key` is the
    /// account, not a connection.
    Responses,
    /// A connection's user JWT expires.
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    Expiry,
    /// An account's JWT expires; `key` is the account.
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    AccountExpiry,
    /// A leaf node remote is due to be dialed; `key` is the remote.
    LeafConnect,
    /// A route is due to be dialed; `key` is the route target.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    RouteConnect,
    /// A leaf node connection's handshake step is due (the hub's INFO, or
    /// its INFO after our CONNECT).
    #[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
    LeafHandshake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub at: Instant,
    pub key: usize,
    pub cid: u64,
    pub kind: TimerKind,
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    pub fn schedule(&mut self, timer: Timer) {
        self.heap.push(Reverse(timer));
    }

    /// Deadlines held, current or stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keep only the deadlines `current` says are still wanted, and give
    /// back the room the others took.
    pub fn purge(&mut self, mut current: impl FnMut(&Timer) -> bool) {
        self.heap.retain(|t| current(&t.0));
        self.heap.shrink_to_fit();
    }

    /// The earliest deadline, if any.
    pub fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.0.at)
    }

    /// Pop one timer that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek()?.0.at <= now {
            self.heap.pop().map(|t| t.0)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            timers.schedule(Timer {
                at: t0 + Duration::from_millis(ms),
                key: i,
                cid: i as u64,
                kind: TimerKind::Ping,
            });
        }
        assert_eq!(timers.next_at(), Some(t0 + Duration::from_millis(10)));
        assert!(timers.pop_due(t0).is_none());
        let due: Vec<usize> = std::iter::from_fn(|| timers.pop_due(t0 + Duration::from_millis(25)))
            .map(|t| t.key)
            .collect();
        assert_eq!(due, vec![1, 2]);
        assert_eq!(timers.next_at(), Some(t0 + Duration::from_millis(30)));
    }
}
