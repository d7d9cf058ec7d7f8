//! What the monitor may read of the core: copies of connection and
//! subscription facts, never the live structures. Everything here walks
//! tables, so it is called per HTTP request, not per message.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::conn::{Conn, Subscription};
use super::stats::{ServerStats, WallClock};
use super::Core;
use crate::sublist::SublistStats;

/// The numbers of one connection, enough to sort and page `/connz` before
/// anything is copied: no strings, no allocation.
#[derive(Debug, Clone, Copy)]
pub struct ConnSummary {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: Instant,
    pub last_activity: Instant,
    pub rtt: Duration,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub num_subs: usize,
}

/// A connection as `/connz` shows it: open (a copy made for one response) or
/// closed (kept in the closed-connection history).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub summary: ConnSummary,
    /// When and why it closed; `None` while open.
    pub closed: Option<(Instant, &'static str)>,
    pub name: Box<str>,
    pub lang: Box<str>,
    pub version: Box<str>,
    /// nats-server's "raw auth user": the CONNECT user, or `[REDACTED]` for a
    /// token; empty when neither was given.
    pub user: Box<str>,
    /// Subscriptions, when asked for (always kept for closed connections,
    /// within the history's bound).
    pub subs: Vec<SubInfo>,
}

impl ClientInfo {
    /// What is known of a connection from its numbers alone.
    pub fn from_summary(summary: ConnSummary) -> ClientInfo {
        ClientInfo {
            summary,
            closed: None,
            name: Box::default(),
            lang: Box::default(),
            version: Box::default(),
            user: Box::default(),
            subs: Vec::new(),
        }
    }
}

/// One subscription as `/connz` and `/subsz` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubInfo {
    pub subject: Box<str>,
    pub queue: Option<Box<str>>,
    pub sid: Box<str>,
    /// Messages delivered to it.
    pub msgs: u64,
    /// Auto-unsubscribe count; 0 for none.
    pub max: u64,
    pub cid: u64,
}

impl SubInfo {
    fn of(sub: &Subscription, cid: u64) -> SubInfo {
        let text = |b: &[u8]| Box::<str>::from(String::from_utf8_lossy(b));
        SubInfo {
            subject: text(sub.subject()),
            queue: sub.queue().map(text),
            sid: text(sub.sid()),
            msgs: sub.delivered,
            max: sub.max,
            cid,
        }
    }
}

impl Conn {
    pub(super) fn summary(&self) -> ConnSummary {
        let s = &self.stats;
        ConnSummary {
            cid: self.cid,
            addr: self.addr,
            start: s.start,
            last_activity: s.last_activity,
            rtt: s.rtt,
            pending_bytes: self.wbuf.pending(),
            in_msgs: s.in_msgs,
            in_bytes: s.in_bytes,
            out_msgs: s.out_msgs,
            out_bytes: s.out_bytes,
            num_subs: self.subs.len(),
        }
    }

    /// Everything `/connz` shows of this connection; its subscriptions up to
    /// `max_subs` of them.
    pub(super) fn info(&self, subs: &slab::Slab<Subscription>, max_subs: usize) -> ClientInfo {
        let user: Box<str> = if !self.opts.user.is_empty() {
            self.opts.user.clone()
        } else if !self.opts.auth_token.is_empty() {
            "[REDACTED]".into()
        } else {
            Box::default()
        };
        ClientInfo {
            summary: self.summary(),
            closed: None,
            name: self.opts.name.clone(),
            lang: self.opts.lang.clone(),
            version: self.opts.version.clone(),
            user,
            subs: self
                .subs
                .keys()
                .into_iter()
                .take(max_subs)
                .filter_map(|k| subs.get(k))
                .map(|s| SubInfo::of(s, self.cid))
                .collect(),
        }
    }
}

/// A subscription as the monitor sees it while walking them all.
pub struct SubRef<'a> {
    sub: &'a Subscription,
    cid: u64,
}

impl SubRef<'_> {
    pub fn subject(&self) -> &[u8] {
        self.sub.subject()
    }

    pub fn info(&self) -> SubInfo {
        SubInfo::of(self.sub, self.cid)
    }
}

impl Core {
    /// Wall-clock times for the core's instants; its reading is the start.
    pub fn wall_clock(&self) -> &WallClock {
        &self.clock
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    pub fn num_connections(&self) -> usize {
        self.conns.len()
    }

    pub fn num_subscriptions(&self) -> usize {
        self.accounts.list.iter().map(|a| a.sublist.count()).sum()
    }

    /// Every account's sublist figures, summed.
    pub fn sublist_stats(&self) -> SublistStats {
        let mut stats = SublistStats::default();
        for account in &self.accounts.list {
            stats.add(&account.sublist.stats());
        }
        stats
    }

    /// Every open connection: its key and numbers.
    pub fn client_summaries(&self) -> impl Iterator<Item = (usize, ConnSummary)> + '_ {
        self.conns.iter().map(|(key, conn)| (key, conn.summary()))
    }

    /// A copy of open connection `key`, with its subscriptions if asked.
    pub fn client_info(&self, key: usize, with_subs: bool) -> Option<ClientInfo> {
        let max_subs = if with_subs { usize::MAX } else { 0 };
        self.conns.get(key).map(|c| c.info(&self.subs, max_subs))
    }

    /// The recently closed connections, oldest first; empty unless the
    /// history is kept (monitoring on).
    pub fn closed_clients(&self) -> &std::collections::VecDeque<ClientInfo> {
        self.closed.clients()
    }

    /// Every subscription, in no particular order.
    pub fn subscriptions(&self) -> impl Iterator<Item = SubRef<'_>> + '_ {
        self.subs.iter().map(|(_, sub)| SubRef {
            sub,
            cid: self.conns.get(sub.conn()).map_or(0, |c| c.cid),
        })
    }
}
