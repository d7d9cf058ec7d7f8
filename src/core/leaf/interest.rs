//! Interest across leaf connections: what each leaf connection has been
//! told (`LS+`/`LS-`), kept as nats-server's per-connection `smap` (key
//! `subject` or `subject queue`, a count), so that the first and last
//! subscriber of a subject make exactly one `LS+` and one `LS-`, and a
//! queue group's weight goes out on every change.
//!
//! Who is told what follows `updateLeafNodesEx`: every leaf connection of
//! the subscription's account but its own; a spoke (our link to a hub)
//! hears only of this server's own interest and of the leaf nodes it is
//! hub to, never of what another hub told it; nothing goes back to the
//! cluster it came from.

use std::collections::HashMap;

use super::super::conn::{Conn, Role};
use super::super::deliver::mark_written;
use super::super::Core;
use super::{smap_key, LeafConn, LeafState, Smap};
use crate::proto::encode;

/// `$LDS.`: the loop detection subject's prefix.
pub const LOOP_DETECTION_PREFIX: &[u8] = b"$LDS.";

/// Where a subscription comes from, as far as leaf interest cares: a
/// leaf connection (a spoke or not, from which cluster), a route, or this
/// server.
struct Origin {
    spoke: bool,
    cluster: Box<str>,
    route: bool,
}

fn origin_of(conn: &Conn) -> Option<Origin> {
    if conn.route.is_some() {
        return Some(Origin {
            spoke: false,
            cluster: "".into(),
            route: true,
        });
    }
    conn.leaf.as_deref().map(|l| Origin {
        spoke: l.is_spoke,
        cluster: l.remote_cluster.clone(),
        route: false,
    })
}

/// Whether interest from `origin` (`None`: this server's own clients) is
/// for leaf connection `to`.
fn is_told(origin: Option<&Origin>, to: &LeafConn, subject: &[u8]) -> bool {
    if let Some(from) = origin {
        // What a hub told us does not go to another hub, nor what a route
        // did (nats-server's `updateSmap`: a hub hears this server's
        // clients and the leaf nodes it is hub to; the cluster's other
        // servers tell the hub themselves).
        let lds = subject.starts_with(LOOP_DETECTION_PREFIX);
        if to.is_spoke && (from.spoke || (from.route && !lds)) {
            return false;
        }
        // Nor back to the cluster it came from (but loop detection
        // subjects, which must come back to be seen).
        let same_cluster = !from.cluster.is_empty() && from.cluster == to.remote_cluster;
        if same_cluster && !subject.starts_with(LOOP_DETECTION_PREFIX) {
            return false;
        }
    }
    // Interest in what the peer may not send us is not asked for; a
    // wildcard may cover allowed subjects too (what is not is dropped as
    // it arrives).
    !crate::subject::is_literal(subject) || to.receive_allowed(subject)
}

impl Core {
    /// Subscription `sub_key`'s interest went up (`delta` > 0) or down:
    /// the leaf connections that must know are told. Its connection must
    /// still be in the table.
    pub(in crate::core) fn leaf_interest(&mut self, sub_key: usize, delta: i32) {
        if self.leaf.links.is_empty() {
            return;
        }
        let Some(source) = self
            .subs
            .get(sub_key)
            .and_then(|s| self.conns.get(s.conn()))
        else {
            return;
        };
        self.leaf_interest_in(sub_key, source.account, delta);
    }

    /// [`Core::leaf_interest`] for a subscription of `account` (a route's
    /// subscriptions are in the accounts the route names, not in its
    /// connection's).
    pub(in crate::core) fn leaf_interest_in(&mut self, sub_key: usize, account: u32, delta: i32) {
        if self.leaf.links.is_empty() {
            return;
        }
        let Some(sub) = self.subs.get(sub_key) else {
            return;
        };
        if sub.is_internal() || sub.route != super::super::conn::NO_ROUTE {
            return;
        }
        let Some(source) = self.conns.get(sub.conn()) else {
            return;
        };
        let origin = origin_of(source);
        let key = smap_key(sub.subject(), sub.queue());
        let queue = sub.queue().is_some();
        let subject_len = sub.subject().len();
        for i in 0..self.leaf.links.len() {
            let target_key = self.leaf.links[i];
            if target_key == sub.conn() {
                continue;
            }
            let Some(target) = self.conns.get(target_key) else {
                continue;
            };
            let told = target.leaf.as_deref().is_some_and(|l| {
                l.state == LeafState::Connected && is_told(origin.as_ref(), l, sub.subject())
            });
            if !told || target.account != account || target.is_closing() {
                continue;
            }
            let target = &mut self.conns[target_key];
            let leaf = target.leaf.as_deref_mut().expect("a leaf connection");
            let count = leaf.smap.entry(key.clone().into()).or_insert(0);
            let before = *count;
            *count = (i64::from(*count) + i64::from(delta)).max(0) as u32;
            let after = *count;
            if after == 0 {
                leaf.smap.remove(&key[..]);
            }
            let (subject, rest) = key.split_at(subject_len);
            let queue_name = queue.then(|| &rest[1..]);
            let out = &mut target.wbuf.buf;
            let start = out.len();
            if queue && after > 0 && after != before {
                encode::write_leaf_sub(out, subject, queue_name, after);
            } else if !queue && before == 0 && after > 0 {
                encode::write_leaf_sub(out, subject, None, 1);
            } else if before > 0 && after == 0 {
                encode::write_leaf_unsub(out, subject, queue_name);
            } else {
                continue;
            }
            if self.trace {
                let line = String::from_utf8_lossy(&out[start..out.len() - 2]).into_owned();
                log::trace!("{} - ->> [{line}]", target.tag());
            }
            mark_written(target, target_key, &mut self.dirty, self.opts.max_pending);
        }
    }

    /// A leaf connection is up: it is told all the interest it should
    /// know, in one write (nats-server's `initLeafNodeSmapAndSendSubs`),
    /// with this account's loop detection subject.
    pub(in crate::core) fn send_all_leaf_interest(&mut self, key: usize) {
        let account = self.conns[key].account;
        self.loop_detection_subject(account);
        let (smap, order) = self.leaf_interest_for(key);
        let conn = &mut self.conns[key];
        let out = &mut conn.wbuf.buf;
        let start = out.len();
        for k in &order {
            let count = smap[k];
            match k.iter().position(|&b| b == b' ') {
                Some(space) => {
                    encode::write_leaf_sub(out, &k[..space], Some(&k[space + 1..]), count)
                }
                None => encode::write_leaf_sub(out, k, None, 1),
            }
        }
        if self.trace {
            let written = String::from_utf8_lossy(&out[start..]).into_owned();
            for line in written.split_terminator("\r\n") {
                log::trace!("{} - ->> [{line}]", conn.tag());
            }
        }
        if let Some(leaf) = conn.leaf.as_deref_mut() {
            leaf.smap = smap;
        }
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    /// What leaf connection `key` should have been told, worked out from
    /// the subscriptions as they are now: its account's loop detection
    /// subject, and the interest of every other connection it may hear of
    /// (with queue weights summed). Also the order keys were first met.
    fn leaf_interest_for(&self, key: usize) -> (Smap, Vec<Box<[u8]>>) {
        let account = self.conns[key].account;
        let mut smap = Smap::new();
        let mut order: Vec<Box<[u8]>> = Vec::new();
        if let Some(lds) = self.leaf.loop_subjects.get(&account) {
            smap.insert(lds.clone(), 1);
            order.push(lds.clone());
        }
        let Some(to) = self.conns[key].leaf.as_deref() else {
            return (smap, order);
        };
        for (source_key, source) in self.conns.iter() {
            // A route's subscriptions are in the accounts it names.
            let route = source.role == Role::Route;
            if source_key == key
                || (!route && source.account != account)
                || !source.connected_for_interest()
            {
                continue;
            }
            let origin = origin_of(source);
            for sub_key in source.subs.keys() {
                let Some(sub) = self.subs.get(sub_key) else {
                    continue;
                };
                if route && self.account_of(source, sub) != Some(account) {
                    continue;
                }
                if !is_told(origin.as_ref(), to, sub.subject()) {
                    continue;
                }
                let weight = source.weight_of(sub);
                let k: Box<[u8]> = smap_key(sub.subject(), sub.queue()).into();
                let count = smap.entry(k.clone()).or_insert(0);
                if *count == 0 {
                    order.push(k);
                }
                *count += weight;
            }
        }
        (smap, order)
    }

    /// For tests and the session fuzz target: every leaf connection past
    /// its handshake was told exactly the interest worked out afresh from
    /// the subscriptions (no `LS+` missing, none left over, queue weights
    /// right). Returns what each was told, by connection key, with plain
    /// interest as a count of 1.
    pub fn audit_leaf_interest(&self) -> Result<super::LeafInterest, String> {
        let mut told = Vec::new();
        for &key in &self.leaf.links {
            let Some(conn) = self.conns.get(key) else {
                return Err(format!("leaf link {key} without a connection"));
            };
            let Some(leaf) = conn.leaf.as_deref() else {
                return Err(format!("leaf link {key} is not a leaf connection"));
            };
            if leaf.state != LeafState::Connected || conn.is_closing() {
                continue;
            }
            let (expected, _) = self.leaf_interest_for(key);
            // Plain interest is told once, whatever its count.
            let normal = |m: &HashMap<Box<[u8]>, u32>| -> HashMap<Box<[u8]>, u32> {
                m.iter()
                    .filter(|(_, &n)| n > 0)
                    .map(|(k, &n)| (k.clone(), if k.contains(&b' ') { n } else { 1 }))
                    .collect()
            };
            // Counts too: a plain key's count decides when its LS- goes.
            if expected != leaf.smap {
                let mut missing: Vec<String> = Vec::new();
                for (k, n) in &expected {
                    if leaf.smap.get(k) != Some(n) {
                        missing.push(format!("{}={n}", String::from_utf8_lossy(k)));
                    }
                }
                let mut extra: Vec<String> = Vec::new();
                for (k, n) in &leaf.smap {
                    if expected.get(k) != Some(n) {
                        extra.push(format!("{}={n}", String::from_utf8_lossy(k)));
                    }
                }
                return Err(format!(
                    "leaf link {key}: interest told differs from the subscriptions: expected \
                     {missing:?}, told {extra:?}"
                ));
            }
            told.push((key, normal(&leaf.smap)));
        }
        Ok(told)
    }

    /// The account's `$LDS.<id>` subject, made once: seeing it come back
    /// over a leaf connection means the connection closes a loop.
    pub(in crate::core) fn loop_detection_subject(&mut self, account: u32) -> Box<[u8]> {
        if let Some(lds) = self.leaf.loop_subjects.get(&account) {
            return lds.clone();
        }
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut lds = LOOP_DETECTION_PREFIX.to_vec();
        for _ in 0..22 {
            lds.push(ALPHABET[self.rng.below(ALPHABET.len())]);
        }
        let lds: Box<[u8]> = lds.into();
        self.leaf.loop_subjects.insert(account, lds.clone());
        lds
    }
}

impl Conn {
    /// Whether its subscriptions count as interest: a client once it is
    /// admitted, a leaf connection once its handshake is done.
    fn connected_for_interest(&self) -> bool {
        if self.is_closing() {
            return false;
        }
        match (&self.leaf, &self.route) {
            (Some(leaf), _) => leaf.state == LeafState::Connected,
            (_, Some(route)) => route.state == crate::core::route::RouteState::Connected,
            _ => self.role == Role::Client,
        }
    }
}
