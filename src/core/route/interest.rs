//! Interest across routes.
//!
//! What every route is told is the same: this server's own interest (its
//! clients' and its leaf nodes' subscriptions, never what another route
//! told it: one hop), per account, kept as nats-server's per-account `rm`
//! map (key `subject` or `subject queue`, a count), so that the first and
//! last subscriber of a subject make exactly one `RS+` and one `RS-`, and a
//! queue group's weight goes out on every change. A route that connects
//! is sent the whole map.
//!
//! What a route tells us is stored as subscriptions of the route
//! connection (sid `account subject[ queue]`) in the account's trie, and
//! passed on to the leaf nodes, as nats-server's `processRemoteSub`.

use std::collections::HashMap;
use std::hash::BuildHasher;

use super::RouteState;
use crate::core::conn::{Role, Subscription, NO_ROUTE};
use crate::core::deliver::mark_written;
use crate::core::leaf::smap_key;
use crate::core::Core;
use crate::proto::encode;

/// A route subscription's sid: `account subject[ queue]`.
fn remote_sid(account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut sid = Vec::with_capacity(account.len() + 1 + subject.len());
    sid.extend_from_slice(account);
    sid.push(b' ');
    sid.extend_from_slice(&smap_key(subject, queue));
    sid
}

impl Core {
    /// The cluster's `import` permission lets routes hear of interest in
    /// `subject` (nats-server's `canImport`).
    fn route_may_import(&self, subject: &[u8]) -> bool {
        self.routes
            .permissions
            .as_ref()
            .is_none_or(|p| p.publish_allowed(subject))
    }

    /// This server is in a cluster: route interest is kept.
    fn clustered(&self) -> bool {
        self.opts.cluster.is_some()
    }

    /// Subscription `sub_key`'s interest went up (`delta` > 0) or down:
    /// when that starts or ends the account's interest in its subject (or
    /// changes a queue group's weight), every route is told.
    pub(in crate::core) fn route_interest(&mut self, sub_key: usize, delta: i32) {
        if !self.clustered() {
            return;
        }
        let Some(sub) = self.subs.get(sub_key) else {
            return;
        };
        if sub.is_internal() {
            return;
        }
        // A stream import's shadow is a client's (and may outlive its
        // connection by a moment, when the client is reaped).
        if sub.route == NO_ROUTE {
            let Some(source) = self.conns.get(sub.conn()) else {
                return;
            };
            // Not a route's (one hop), nor what our hub told us
            // (nats-server's `processLeafSub`: the hub tells the cluster's
            // servers itself).
            let spoke = source.leaf.as_deref().is_some_and(|l| l.is_spoke);
            if source.role == Role::Route || spoke {
                return;
            }
        }
        let Some(account) = self.interest_account(sub_key) else {
            return;
        };
        let key = smap_key(sub.subject(), sub.queue());
        let queue = sub.queue().is_some();
        let told = self.routes.told.entry(account).or_default();
        let old = told.get(&key[..]).copied().unwrap_or(0);
        let new = (i64::from(old) + i64::from(delta)).max(0) as u32;
        if new == 0 {
            told.remove(&key[..]);
        } else {
            told.insert(key.into(), new);
        }
        let changed = if queue {
            old != new
        } else {
            (old == 0) != (new == 0)
        };
        if !changed || self.routes.links.is_empty() {
            return;
        }
        let sub = &self.subs[sub_key];
        if !self.route_may_import(sub.subject()) {
            return;
        }
        let name = self.accounts.name_of(account).as_bytes();
        for &route_key in &self.routes.links {
            let conn = &mut self.conns[route_key];
            let connected = conn
                .route
                .as_deref()
                .is_some_and(|r| r.state == RouteState::Connected);
            if !connected || conn.is_closing() {
                continue;
            }
            if new > 0 {
                encode::write_route_sub(&mut conn.wbuf.buf, name, sub.subject(), sub.queue(), new);
            } else {
                encode::write_route_unsub(&mut conn.wbuf.buf, name, sub.subject(), sub.queue());
            }
            mark_written(conn, route_key, &mut self.dirty, self.opts.max_pending);
        }
    }

    /// The account subscription `sub_key` (a client's or leaf's, not
    /// internal) stands in: its connection's, or for a stream import's
    /// shadow the exporter's.
    fn interest_account(&self, sub_key: usize) -> Option<u32> {
        let sub = self.subs.get(sub_key)?;
        if sub.route == NO_ROUTE {
            return Some(self.conns.get(sub.conn())?.account);
        }
        match self.accounts.routes.get(sub.route as usize)? {
            crate::core::account::Route::Stream { exporter, .. } => Some(*exporter),
            _ => None,
        }
    }

    /// A route was registered: it is told all of this server's interest.
    pub(in crate::core) fn send_all_route_interest(&mut self, key: usize) {
        let mut out = Vec::new();
        for (&account, told) in &self.routes.told {
            let name = self.accounts.name_of(account).as_bytes();
            for (entry, &count) in told {
                let (subject, queue) = match entry.iter().position(|&b| b == b' ') {
                    Some(i) => (&entry[..i], Some(&entry[i + 1..])),
                    None => (&entry[..], None),
                };
                if !self.route_may_import(subject) {
                    continue;
                }
                encode::write_route_sub(&mut out, name, subject, queue, count);
            }
        }
        if out.is_empty() {
            return;
        }
        let conn = &mut self.conns[key];
        conn.wbuf.buf.extend_from_slice(&out);
        log::debug!("{} - Sent local subscriptions to route", conn.tag());
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    /// `RS+` from a route: its interest, stored as a subscription of the
    /// route in the account it names, and passed on to the leaf nodes.
    pub(in crate::core) fn process_remote_sub(
        &mut self,
        key: usize,
        account_name: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
        weight: u32,
    ) {
        let Some(account) = self.account_named(account_name) else {
            log::debug!(
                "{} - Unknown account {:?} for subject {:?}",
                self.conns[key].tag(),
                String::from_utf8_lossy(account_name),
                String::from_utf8_lossy(subject)
            );
            return;
        };
        let exportable = self
            .routes
            .permissions
            .as_ref()
            .is_none_or(|p| p.subscribe_allowed(subject, None));
        if !exportable {
            log::debug!(
                "{} - Can not export {:?}, ignoring remote subscription request",
                self.conns[key].tag(),
                String::from_utf8_lossy(subject)
            );
            return;
        }
        if !crate::subject::is_valid_sub_subject(subject) {
            log::error!(
                "{} - Could not insert subscription: invalid subject",
                self.conns[key].tag()
            );
            self.send_err(key, crate::proto::error::INVALID_SUBJECT);
            return;
        }
        let sid = remote_sid(account_name, subject, queue);
        let sid_hash = self.sid_hasher.hash_one(&sid[..]);
        if let Some(sub_key) = self.conns[key].subs.get(&sid, sid_hash, &self.subs) {
            // Known: only a queue group's weight changes.
            if queue.is_some() {
                let route = self.conns[key].route.as_deref_mut().expect("a route");
                let old = route.queue_weights.insert(sid.into(), weight).unwrap_or(1);
                let delta = i64::from(weight) - i64::from(old);
                if delta != 0 {
                    self.leaf_interest_in(sub_key, account, delta as i32);
                }
            }
            return;
        }
        let sub = Subscription::new(key, subject, queue, &sid);
        let sub_key = self.subs.insert(sub);
        self.accounts.list[account as usize]
            .sublist
            .insert(subject, queue, sub_key);
        self.conns[key]
            .subs
            .insert(sid_hash, sub_key, &self.subs, &self.sid_hasher);
        if queue.is_some() {
            let route = self.conns[key].route.as_deref_mut().expect("a route");
            route.queue_weights.insert(sid.into(), weight);
        }
        let delta = if queue.is_some() { weight } else { 1 };
        self.leaf_interest_in(sub_key, account, delta as i32);
    }

    /// `RS-` from a route.
    pub(in crate::core) fn process_remote_unsub(
        &mut self,
        key: usize,
        account_name: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
    ) {
        let sid = remote_sid(account_name, subject, queue);
        let sid_hash = self.sid_hasher.hash_one(&sid[..]);
        if let Some(sub_key) = self.conns[key].subs.get(&sid, sid_hash, &self.subs) {
            self.remove_remote_sub(key, sub_key);
        }
    }

    /// Remove route `key`'s subscription `sub_key`: from the route, its
    /// account's trie, and the leaf nodes' interest.
    pub(in crate::core) fn remove_remote_sub(&mut self, key: usize, sub_key: usize) {
        let Some(sub) = self.subs.get(sub_key) else {
            return;
        };
        let sid: Box<[u8]> = sub.sid().into();
        let account_name = sid.split(|&b| b == b' ').next().unwrap_or_default();
        let account = self.account_named(account_name);
        let route = self.conns[key].route.as_deref_mut().expect("a route");
        let weight = route.weight_of(&sid, sub.queue().is_some());
        route.queue_weights.remove(&sid);
        if let Some(account) = account {
            self.leaf_interest_in(sub_key, account, -(weight as i32));
        }
        let sid_hash = self.sid_hasher.hash_one(&sid[..]);
        self.conns[key]
            .subs
            .remove(sid_hash, sub_key, &self.subs, &self.sid_hasher);
        match account {
            Some(account) => self.drop_subscription(sub_key, account),
            None => {
                self.subs.remove(sub_key);
            }
        }
    }

    /// What every route was told, worked out afresh from the subscriptions
    /// (for the fuzzer's and the tests' audits): it must equal what
    /// `route_interest` kept.
    pub fn audit_route_interest(&self) -> Result<(), String> {
        if !self.clustered() {
            return Ok(());
        }
        let mut expected: HashMap<u32, HashMap<Box<[u8]>, u32>> = HashMap::new();
        for (_, conn) in self.conns.iter() {
            if conn.role == Role::Route || conn.leaf.as_deref().is_some_and(|l| l.is_spoke) {
                continue;
            }
            for sub_key in conn.subs.keys() {
                let Some(sub) = self.subs.get(sub_key) else {
                    continue;
                };
                let weight = conn
                    .leaf
                    .as_deref()
                    .map_or(1, |l| l.weight_of(sub.subject(), sub.queue()));
                *expected
                    .entry(conn.account)
                    .or_default()
                    .entry(smap_key(sub.subject(), sub.queue()).into())
                    .or_default() += weight;
                // Its shadows, in the accounts it imports from.
                for &shadow_key in self.shadows.get(&sub_key).into_iter().flatten() {
                    let (Some(shadow), Some(account)) =
                        (self.subs.get(shadow_key), self.interest_account(shadow_key))
                    else {
                        continue;
                    };
                    *expected
                        .entry(account)
                        .or_default()
                        .entry(smap_key(shadow.subject(), shadow.queue()).into())
                        .or_default() += 1;
                }
            }
        }
        expected.retain(|_, m| !m.is_empty());
        let mut told = self.routes.told.clone();
        told.retain(|_, m| !m.is_empty());
        if expected != told {
            return Err(format!(
                "route interest: told {told:?}, subscriptions say {expected:?}"
            ));
        }
        Ok(())
    }
}
