//! Messages across accounts: the shadow subscriptions of stream imports,
//! the requests of service imports and their responses, and the account
//! routes placed (and replaced, on reload) in the sublists.

use std::time::Instant;

use super::account::{reply_token, PendingResponse, Route};
use super::conn::{Subscription, NO_ROUTE};
use super::timers::{Timer, TimerKind};
use super::Core;
use crate::options::ResponseType;
use crate::proto::{encode, Pub};

/// Service imports a message may pass through in a row.
const MAX_SERVICE_HOPS: usize = 8;
/// Requests awaiting a response through one account's service exports; a
/// request beyond it is not forwarded (its requester sees no responders).
const MAX_PENDING_RESPONSES: usize = 64 * 1024;
/// nats-server's header naming a request's origin across a service import.
const REQUEST_INFO_HEADER: &[u8] = b"Nats-Request-Info";

/// A message made by the server (a request with its header added, or a
/// response on its way back), owning what a parsed [`Pub`] borrows.
struct Built {
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    header_len_token: Option<Vec<u8>>,
    size_token: Vec<u8>,
    header_len: usize,
    msg: Vec<u8>,
}

impl Built {
    fn new(subject: Vec<u8>, reply: Option<Vec<u8>>, header_len: usize, msg: Vec<u8>) -> Built {
        let decimal = |n: usize| {
            let mut out = Vec::new();
            encode::write_decimal(&mut out, n);
            out
        };
        Built {
            subject,
            reply,
            header_len_token: (header_len > 0).then(|| decimal(header_len)),
            size_token: decimal(msg.len()),
            header_len,
            msg,
        }
    }

    fn as_pub(&self) -> Pub<'_> {
        Pub {
            subject: &self.subject,
            reply: self.reply.as_deref(),
            header_len_token: self.header_len_token.as_deref(),
            size_token: &self.size_token,
            header_len: self.header_len,
            msg: &self.msg,
        }
    }
}

/// `msg`'s headers and payload with `Nats-Request-Info: value` set (any
/// such header the publisher sent is replaced, as nats-server does).
fn with_request_info(msg: &Pub<'_>, value: &[u8]) -> (usize, Vec<u8>) {
    let mut out = Vec::with_capacity(msg.msg.len() + value.len() + 40);
    let headers = msg.headers();
    if headers.len() >= 4 && headers.ends_with(b"\r\n\r\n") {
        // Keep every header line but ours, then add ours last.
        let mut lines = headers[..headers.len() - 2].split_inclusive(|&b| b == b'\n');
        if let Some(status) = lines.next() {
            out.extend_from_slice(status);
        }
        for line in lines {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            if !name.trim_ascii().eq_ignore_ascii_case(REQUEST_INFO_HEADER) {
                out.extend_from_slice(line);
            }
        }
    } else {
        out.extend_from_slice(b"NATS/1.0\r\n");
    }
    out.extend_from_slice(REQUEST_INFO_HEADER);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n\r\n");
    let header_len = out.len();
    out.extend_from_slice(msg.payload());
    (header_len, out)
}

impl Core {
    /// A new subscription `sub_key` of `account`: a shadow of it in each
    /// account it imports streams from that exports some of what it wants.
    pub(super) fn add_shadows(&mut self, sub_key: usize, account: u32) {
        if self.accounts.list[account as usize]
            .stream_imports
            .is_empty()
        {
            return;
        }
        let mut shadows = Vec::new();
        for i in 0..self.accounts.list[account as usize].stream_imports.len() {
            let route = self.accounts.list[account as usize].stream_imports[i];
            let Some(Route::Stream {
                exporter, mapping, ..
            }) = self.accounts.routes.get(route as usize)
            else {
                continue;
            };
            let exporter = *exporter;
            let sub = &self.subs[sub_key];
            let Some(subject) = mapping.reverse(sub.subject()) else {
                continue;
            };
            let mut shadow = Subscription::new(sub.conn(), &subject, sub.queue(), sub.sid());
            shadow.route = route;
            let shadow_key = self.subs.insert(shadow);
            let sub = &self.subs[shadow_key];
            self.accounts.list[exporter as usize].sublist.insert(
                sub.subject(),
                sub.queue(),
                shadow_key,
            );
            shadows.push(shadow_key);
        }
        // The exporter's interest in the mapped subject crosses the routes
        // (nats-server sends it under the exporting account's name).
        for &shadow_key in &shadows {
            self.route_interest(shadow_key, 1);
        }
        if !shadows.is_empty() {
            self.shadows.insert(sub_key, shadows);
        }
    }

    /// Remove subscription `sub_key` (of `account`) from the slab and the
    /// sublists, with its shadows.
    pub(super) fn drop_subscription(&mut self, sub_key: usize, account: u32) {
        let sub = self.subs.remove(sub_key);
        self.accounts.list[account as usize]
            .sublist
            .remove(sub.subject(), sub.queue(), sub_key);
        self.forget_responses_nobody_awaits(account, sub.subject());
        if let Some(shadows) = self.shadows.remove(&sub_key) {
            self.drop_shadows(shadows);
        }
    }

    /// Remove shadow subscriptions from the slab and their exporters'
    /// sublists.
    fn drop_shadows(&mut self, shadows: Vec<usize>) {
        for shadow_key in shadows {
            self.route_interest(shadow_key, -1);
            let shadow = self.subs.remove(shadow_key);
            if let Some(Route::Stream { exporter, .. }) =
                self.accounts.routes.get(shadow.route as usize)
            {
                self.accounts.list[*exporter as usize].sublist.remove(
                    shadow.subject(),
                    shadow.queue(),
                    shadow_key,
                );
            }
        }
    }

    /// nats-server's `checkForReverseEntries`: a subscription of `account`
    /// on `subject` went away; requests whose replies it covered, and that
    /// no one else in the account still listens to, wait for nothing now.
    fn forget_responses_nobody_awaits(&mut self, account: u32, subject: &[u8]) {
        if self.accounts.list.iter().all(|a| a.responses.is_empty()) {
            return;
        }
        let mut orphaned: Vec<(usize, Box<[u8]>)> = Vec::new();
        for (exporter, a) in self.accounts.list.iter().enumerate() {
            for (reply, pending) in &a.responses {
                if pending.account == account && crate::subject::matches(subject, &pending.reply) {
                    orphaned.push((exporter, reply.clone()));
                }
            }
        }
        for (exporter, reply) in orphaned {
            let Some(pending) = self.accounts.list[exporter].responses.get(&reply) else {
                continue;
            };
            let target = pending.reply.clone();
            let listened = !self.accounts.list[account as usize]
                .sublist
                .match_subject(&target)
                .is_empty();
            if !listened {
                self.accounts.list[exporter].responses.remove(&reply);
            }
        }
    }

    /// Place what the account routes need: an internal subscription for
    /// each service import, shadows for the subscriptions that exist.
    pub(super) fn place_routes(&mut self) {
        for route in 0..self.accounts.routes.len() {
            if let Route::Service {
                importer, local, ..
            } = &self.accounts.routes[route]
            {
                let (importer, local) = (*importer, local.clone());
                self.add_internal(importer, &local, route as u32);
            }
        }
        let primaries: Vec<(usize, u32)> = self
            .subs
            .iter()
            .filter(|(_, s)| !s.is_internal() && s.route == NO_ROUTE)
            .filter_map(|(key, s)| Some((key, self.conns.get(s.conn())?.account)))
            .collect();
        for (key, account) in primaries {
            self.add_shadows(key, account);
        }
    }

    /// Take away everything [`Core::place_routes`] placed, and the reply
    /// prefixes, before the routes change.
    pub(super) fn remove_routes(&mut self) {
        let shadows: Vec<Vec<usize>> = self.shadows.drain().map(|(_, keys)| keys).collect();
        for keys in shadows {
            self.drop_shadows(keys);
        }
        for account in 0..self.accounts.list.len() {
            let internal = std::mem::take(&mut self.accounts.list[account].internal_subs);
            for key in internal {
                let sub = self.subs.remove(key);
                self.accounts.list[account]
                    .sublist
                    .remove(sub.subject(), None, key);
            }
            let account = &mut self.accounts.list[account];
            account.reply_prefix = None;
            account.responses.clear();
        }
    }

    fn add_internal(&mut self, account: u32, subject: &[u8], route: u32) {
        let key = self.subs.insert(Subscription::internal(subject, route));
        let account = &mut self.accounts.list[account as usize];
        account.sublist.insert(subject, None, key);
        account.internal_subs.push(key);
    }

    /// Follow the routes a delivery in `account` hit: requests on to
    /// their exporters, responses back to their requesters. Whether any
    /// of them reached a subscriber.
    #[cold]
    #[inline(never)]
    pub(super) fn follow_routes(
        &mut self,
        account: u32,
        src: usize,
        msg: &Pub<'_>,
        now: Instant,
        via: &[u32],
    ) -> bool {
        let hit = std::mem::take(&mut self.routes_hit);
        let mut delivered = false;
        for route in hit {
            delivered |= match self.accounts.routes.get(route as usize) {
                Some(Route::Service { .. }) => self.forward_request(route, src, msg, now, via),
                Some(Route::Responses { exporter }) if *exporter == account => {
                    self.return_response(account, src, msg, now, via)
                }
                _ => false,
            };
        }
        delivered
    }

    /// A request published in a service import's importer goes on to the
    /// exporter, on the export's subject, with a reply of the exporter's.
    fn forward_request(
        &mut self,
        route: u32,
        src: usize,
        msg: &Pub<'_>,
        now: Instant,
        via: &[u32],
    ) -> bool {
        if via.len() >= MAX_SERVICE_HOPS || via.contains(&route) {
            return false; // a loop: nats-server drops it too
        }
        let Some(Route::Service {
            importer,
            exporter,
            subject,
            mapping,
            export,
            ..
        }) = self.accounts.routes.get(route as usize)
        else {
            return false;
        };
        let (importer, exporter, export) = (*importer, *exporter, *export);
        let target = if let Some(mapping) = mapping {
            let mut out = Vec::new();
            mapping.forward(msg.subject, &mut out);
            out
        } else if crate::subject::is_literal(subject) {
            subject.to_vec()
        } else {
            msg.subject.to_vec()
        };
        let reply = match msg.reply {
            Some(reply) => {
                let Some(new_reply) = self.new_service_reply(exporter, now) else {
                    return false;
                };
                self.accounts.list[exporter as usize].responses.insert(
                    new_reply.as_slice().into(),
                    PendingResponse {
                        account: importer,
                        reply: reply.into(),
                        response_type: export.response_type,
                        threshold: export.response_threshold,
                        last: now,
                        route,
                    },
                );
                self.schedule_response_sweep(exporter, now + export.response_threshold);
                Some(new_reply)
            }
            None => None,
        };
        let rtt = self.conns.get(src).map_or(0, |c| c.stats.rtt.as_nanos());
        let info = format!(
            "{{\"acc\":{},\"rtt\":{rtt}}}",
            serde_json::Value::from(&*self.accounts.list[importer as usize].name)
        );
        let (header_len, body) = with_request_info(msg, info.as_bytes());
        let request = Built::new(target, reply.clone(), header_len, body);
        let mut path = via.to_vec();
        path.push(route);
        let delivered = self.publish(exporter, src, &request.as_pub(), now, &path);
        if let (false, Some(reply)) = (delivered, reply) {
            self.accounts.list[exporter as usize]
                .responses
                .remove(reply.as_slice());
        }
        delivered
    }

    /// A response published on an exporter's reply goes back to the
    /// requester's reply, in the requester's account.
    fn return_response(
        &mut self,
        exporter: u32,
        src: usize,
        msg: &Pub<'_>,
        now: Instant,
        via: &[u32],
    ) -> bool {
        let responses = &mut self.accounts.list[exporter as usize].responses;
        let Some(pending) = responses.get(msg.subject).cloned() else {
            return false;
        };
        let response = Pub {
            subject: &pending.reply,
            ..msg.clone()
        };
        let mut path = via.to_vec();
        path.push(pending.route);
        let delivered = self.publish(pending.account, src, &response, now, &path);
        let responses = &mut self.accounts.list[exporter as usize].responses;
        // A singleton is answered once; a stream ends with an empty message.
        let done =
            !delivered || pending.response_type == ResponseType::Singleton || msg.msg.is_empty();
        if done {
            responses.remove(msg.subject);
        } else if let Some(p) = responses.get_mut(msg.subject) {
            p.last = now;
        }
        delivered
    }

    /// `_R_.<account's prefix>.<token>`; the prefix and the internal
    /// subscription that catches responses on it are made on first use.
    /// `None` when the account has too many requests awaiting responses.
    fn new_service_reply(&mut self, exporter: u32, now: Instant) -> Option<Vec<u8>> {
        if self.accounts.list[exporter as usize].responses.len() >= MAX_PENDING_RESPONSES {
            self.sweep_responses(exporter, now);
            if self.accounts.list[exporter as usize].responses.len() >= MAX_PENDING_RESPONSES {
                return None;
            }
        }
        if self.accounts.list[exporter as usize].reply_prefix.is_none() {
            let mut prefix = b"_R_.".to_vec();
            reply_token(self.rng.next_u64(), &mut prefix);
            prefix.push(b'.');
            let mut wildcard = prefix.clone();
            wildcard.push(b'>');
            let route = self.accounts.responses_route(exporter)?;
            self.add_internal(exporter, &wildcard, route);
            self.accounts.list[exporter as usize].reply_prefix = Some(prefix.into());
        }
        let mut reply = self.accounts.list[exporter as usize]
            .reply_prefix
            .as_deref()?
            .to_vec();
        reply_token(self.rng.next_u64(), &mut reply);
        Some(reply)
    }

    /// One sweep timer per account: a request whose threshold ends later
    /// than the one set is swept by that one's follow-up.
    fn schedule_response_sweep(&mut self, account: u32, at: Instant) {
        let set = &mut self.accounts.list[account as usize].response_sweep_at;
        if set.is_some_and(|set| set <= at) {
            return;
        }
        *set = Some(at);
        self.timers.schedule(Timer {
            at,
            key: account as usize,
            cid: 0,
            kind: TimerKind::Responses,
        });
    }

    /// Forget the requests of `account` whose threshold has passed since
    /// the request (or a stream's latest response).
    pub(super) fn sweep_responses(&mut self, account: u32, now: Instant) {
        let Some(account) = self.accounts.list.get_mut(account as usize) else {
            return;
        };
        account
            .responses
            .retain(|_, p| now.saturating_duration_since(p.last) < p.threshold);
    }

    /// The response timer of `account` fired: sweep, and come back for
    /// what is left.
    pub(super) fn response_timer(&mut self, account: u32, at: Instant, now: Instant) {
        let set = &mut self.accounts.list[account as usize].response_sweep_at;
        if *set != Some(at) {
            return; // Replaced by an earlier one.
        }
        *set = None;
        self.sweep_responses(account, now);
        let next = self.accounts.list[account as usize]
            .responses
            .values()
            .map(|p| p.last + p.threshold)
            .min();
        if let Some(at) = next {
            self.schedule_response_sweep(account, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pubmsg<'a>(headers: &'a [u8], msg: &'a [u8]) -> Pub<'a> {
        Pub {
            subject: b"s",
            reply: None,
            header_len_token: None,
            size_token: b"0",
            header_len: headers.len(),
            msg,
        }
    }

    #[test]
    fn request_info_is_added_to_a_plain_message() {
        let (len, out) = with_request_info(&pubmsg(b"", b"hi"), b"{\"acc\":\"B\"}");
        assert_eq!(
            out,
            b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\nhi"
        );
        assert_eq!(len, out.len() - 2);
    }

    #[test]
    fn request_info_goes_after_the_publishers_headers_and_replaces_a_forged_one() {
        let msg = b"NATS/1.0\r\nX-K: v\r\nnats-request-info: forged\r\n\r\nab";
        let (len, out) = with_request_info(&pubmsg(&msg[..msg.len() - 2], msg), b"{}");
        assert_eq!(
            out,
            b"NATS/1.0\r\nX-K: v\r\nNats-Request-Info: {}\r\n\r\nab".to_vec()
        );
        assert_eq!(&out[len..], b"ab");
    }
}
