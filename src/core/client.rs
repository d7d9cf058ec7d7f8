//! What the server does with each client operation: nats-server's
//! `processConnect`, `processSub`, `processUnsub`, `processPub`, ...

use std::hash::BuildHasher;
use std::time::Instant;

use super::account;
use super::closed::CloseReason;
use super::conn::{Role, Subscription, NO_ROUTE};
use super::deliver::{mark_written, Delivery};
use super::Core;
use crate::auth::permissions::ConnPermissions;
use crate::proto::error::{self as text, ProtoError};
use crate::proto::{encode, ConnectOpts, Op, Parser, Pub};
use crate::subject;

/// The highest client protocol version nats-server knows (`ClientProtoInfo`).
pub(super) const CLIENT_PROTO_INFO: i64 = 1;

impl Core {
    /// `op` is borrowed: moving it out of the parse result copied a PUB's
    /// fields with wider loads than they were stored with, which stalls.
    pub(super) fn process_op(
        &mut self,
        key: usize,
        parser: &mut Parser,
        op: &Op<'_>,
        now: Instant,
    ) {
        match self.conns[key].role {
            Role::Client => {}
            Role::Leaf => return self.process_leaf_op(key, op, now),
            Role::Route => return self.process_route_op(key, parser, op, now),
        }
        if self.trace {
            let conn = &self.conns[key];
            log::trace!("{} - <<- [{}]", conn.tag(), describe(op));
        }
        match *op {
            Op::Ping => self.process_ping(key),
            Op::Pong => self.conns[key].process_pong(now),
            Op::Ok => {}
            Op::Err(msg) => {
                let conn = &self.conns[key];
                log::error!(
                    "{} - Client Error {}",
                    conn.tag(),
                    String::from_utf8_lossy(msg)
                );
                self.close(key, CloseReason::ProtocolViolation);
            }
            Op::Info(json) => {
                // A client's INFO is read and dropped, once it is valid.
                if serde_json::from_slice::<Option<serde_json::Map<String, serde_json::Value>>>(
                    json,
                )
                .is_err()
                {
                    self.close(key, CloseReason::ProtocolViolation);
                }
            }
            Op::Connect(json) => self.process_connect(key, parser, json, now),
            Op::Sub {
                subject,
                queue,
                sid,
            } => {
                self.conns[key].stats.last_activity = now;
                self.process_sub(key, subject, queue, sid);
            }
            Op::Unsub { sid, max } => {
                self.conns[key].stats.last_activity = now;
                self.process_unsub(key, sid, max);
            }
            Op::Pub(ref msg) => {
                self.count_in(key, 1, msg.msg.len() as u64, now);
                self.process_pub(key, msg, now);
            }
            Op::ClientHmsg => {
                if self.conns[key].opts.verbose {
                    self.queue(key, encode::OK);
                }
            }
            // The client parser makes no leaf or route operations.
            Op::LeafSub { .. }
            | Op::LeafUnsub { .. }
            | Op::LeafMsg { .. }
            | Op::RouteSub { .. }
            | Op::RouteUnsub { .. }
            | Op::RouteMsg { .. } => self.close(key, CloseReason::ProtocolViolation),
        }
    }

    /// Tell the client why (when nats-server does) and close.
    pub(super) fn protocol_error(&mut self, key: usize, err: ProtoError) {
        let conn = &self.conns[key];
        let reason = match err {
            ProtoError::AuthorizationViolation => CloseReason::AuthenticationViolation,
            ProtoError::MaxControlLine { .. } => CloseReason::MaxControlLineExceeded,
            ProtoError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            // nats-server's WebSocket read loop takes any other parser
            // error as a read error.
            _ if conn.websocket.is_some() => CloseReason::ReadError,
            _ => CloseReason::ProtocolViolation,
        };
        if reason == CloseReason::ReadError {
            log::error!("{} - read error: {err}", conn.tag());
        } else {
            log::error!("{} - {err}", conn.tag());
        }
        if let Some(wire) = err.wire_text() {
            self.send_err(key, wire);
        }
        self.close(key, reason);
    }

    fn process_ping(&mut self, key: usize) {
        self.queue(key, encode::PONG);
        let conn = &mut self.conns[key];
        if !conn.connected || conn.sent_connect_info {
            return;
        }
        // The first PONG after CONNECT is followed by an INFO that tells a
        // protocol-1 client how it was admitted.
        conn.sent_connect_info = true;
        if conn.opts.protocol >= CLIENT_PROTO_INFO {
            let mut info = self.info.clone();
            info.client_id = conn.cid;
            info.client_ip = conn.addr.ip().to_string();
            info.connect_info = true;
            let account = conn.account;
            info.remote_account = self.accounts.list[account as usize].name.to_string();
            info.acc_is_sys = account == self.accounts.system;
            if conn.websocket.is_some() {
                self.websocket_info(&mut info);
            }
            let mut out = Vec::new();
            info.write_to(&mut out);
            self.queue(key, &out);
        }
    }

    fn process_connect(&mut self, key: usize, parser: &mut Parser, json: &[u8], now: Instant) {
        let conn = &mut self.conns[key];
        conn.auth_deadline = None;
        // nats-server's first RTT estimate: from accept to CONNECT.
        conn.stats.last_activity = now;
        let start = conn.stats.start;
        conn.stats.measure_rtt(start, now);
        if let Err(e) = conn.opts.apply_json(json) {
            log::error!("{} - {e}", conn.tag());
            self.close(key, CloseReason::ProtocolViolation);
            return;
        }
        if let Some(ws) = &conn.websocket {
            apply_cookies(&mut conn.opts, ws, self.opts.operator_mode());
        }
        let again = std::mem::replace(&mut conn.connected, true);
        parser.headers = conn.opts.headers;
        if again {
            // nats-server drops every subscription on a repeated CONNECT.
            let subs = conn.subs.drain();
            for sub_key in subs {
                self.unsubscribe(sub_key);
            }
        }
        self.conns[key].pinged_since_connect = false;
        self.arm_first_ping(key, now);

        if !self.admit(key, now) {
            return;
        }
        parser.awaiting_connect = false;
        // The user's payload limit (a user JWT's), as admitted.
        parser.max_payload = self.conns[key].parser.max_payload;
        let conn = &self.conns[key];
        if !(0..=CLIENT_PROTO_INFO).contains(&conn.opts.protocol) {
            self.send_err(key, text::INVALID_CLIENT_PROTOCOL);
            self.close(key, CloseReason::BadClientProtocolVersion);
            return;
        }
        if conn.opts.no_responders && !conn.opts.headers {
            self.send_err(key, text::NO_RESPONDERS_REQUIRES_HEADERS);
            self.close(key, CloseReason::NoRespondersRequiresHeaders);
            return;
        }
        if conn.opts.verbose {
            self.queue(key, encode::OK);
        }
    }

    /// Authenticate connection `key` by its CONNECT and place it in its
    /// user's account with its user's permissions. A refused client is
    /// told and closed (false).
    pub(super) fn admit(&mut self, key: usize, now: Instant) -> bool {
        #[cfg(feature = "jwt")]
        if self.opts.operator_mode() {
            return self.admit_jwt(key, now);
        }
        let _ = now;
        let nonce = self.nonce(self.conns[key].cid);
        let nonce = nonce.as_ref().map_or(&[][..], |n| &n[..]);
        let mut why = None;
        let mapped = self.map_certificate(key);
        let conn = &self.conns[key];
        let cert_user = match (&mapped, self.maps_certificates(key)) {
            (_, false) => crate::auth::CertUser::NotMapped,
            (Some(name), true) => crate::auth::CertUser::Mapped(name),
            (None, true) => crate::auth::CertUser::Unknown,
        };
        let via = match &conn.websocket {
            Some(_) => crate::auth::Via {
                kind: "WEBSOCKET",
                websocket: self.opts.websocket.as_ref(),
                cert_user,
            },
            None => crate::auth::Via {
                cert_user,
                ..crate::auth::Via::STANDARD
            },
        };
        let login = crate::auth::authenticate(
            &self.opts,
            via,
            &conn.opts,
            nonce,
            &mut self.verified_logins,
            &mut why,
        )
        .filter(|_| !conn.opts.new_account && !conn.opts.named_account);
        let placed = login.and_then(|login| {
            let user = match login {
                crate::auth::Login::User(user) => Some(user),
                _ => None,
            };
            let account = self
                .accounts
                .of_user(user.and_then(|u| u.account.as_deref()))?;
            let perms = user.and_then(|u| self.permissions.get(u.name()).cloned());
            Some((account, perms, login.user_name().map(Box::<str>::from)))
        });
        let Some((account, perms, user)) = placed else {
            if let Some(why) = why {
                log::debug!("{} - {why}", conn.tag());
            }
            // nats-server names what the client presented.
            let who = if !conn.opts.nkey().is_empty() {
                format!(" - Nkey {:?}", conn.opts.nkey())
            } else if !conn.opts.user.is_empty() {
                format!(" - User {:?}", conn.opts.user)
            } else if !conn.opts.auth_token.is_empty() {
                " - Token \"[REDACTED]\"".to_string()
            } else {
                String::new()
            };
            log::error!("{} - authentication error{who}", conn.tag());
            self.send_err(key, text::AUTHORIZATION_VIOLATION);
            self.close(key, CloseReason::AuthenticationViolation);
            return false;
        };
        let conn = &mut self.conns[key];
        let moved_from = std::mem::replace(&mut conn.account, account);
        conn.perms = perms.map(|rules| Box::new(ConnPermissions::new(rules)));
        conn.authorized_user = user;
        self.accounts.list[moved_from as usize].num_conns -= 1;
        self.accounts.list[account as usize].num_conns += 1;
        true
    }

    fn process_sub(&mut self, key: usize, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let conn = &self.conns[key];
        // nats-server refuses the `_sys_` queue to every client.
        let system_queue = queue == Some(b"_sys_");
        if system_queue || conn.perms.is_some() {
            let allowed = !system_queue
                && conn
                    .perms
                    .as_ref()
                    .is_none_or(|p| p.rules().subscribe_allowed(subject, queue));
            if !allowed {
                let what = subscription_description(subject, queue);
                log::error!(
                    "{} - Subscription Violation - {}, SID {}",
                    conn.tag(),
                    subscription_log(subject, queue),
                    String::from_utf8_lossy(sid)
                );
                self.send_err(
                    key,
                    &format!("Permissions Violation for Subscription to {what}"),
                );
                return;
            }
        }
        let server_max = (self.opts.max_subscriptions > 0).then_some(self.opts.max_subscriptions);
        let user_max = conn.user_jwt.as_ref().and_then(|u| u.max_subs);
        let max = match (server_max, user_max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if max.is_some_and(|max| conn.subs.len() >= max) {
            log::error!("{} - maximum subscriptions exceeded", conn.tag());
            self.send_err(key, text::MAX_SUBSCRIPTIONS_EXCEEDED);
            return;
        }
        let sid_hash = self.sid_hasher.hash_one(sid);
        if conn.subs.get(sid, sid_hash, &self.subs).is_none() {
            // All nats-server checks is what its trie refuses to insert.
            if !subject::is_valid_sub_subject(subject) {
                self.send_err(key, text::INVALID_SUBJECT);
                return;
            }
            let sub = Subscription::new(key, subject, queue, sid);
            let sub_key = self.subs.insert(sub);
            let account = conn.account;
            if let Some(perms) = &mut self.conns[key].perms {
                perms.note_subscription(subject, queue);
            }
            self.accounts.list[account as usize]
                .sublist
                .insert(subject, queue, sub_key);
            self.conns[key]
                .subs
                .insert(sid_hash, sub_key, &self.subs, &self.sid_hasher);
            self.add_shadows(sub_key, account);
            self.interest_changed(sub_key, 1);
        }
        if self.conns[key].opts.verbose {
            self.queue(key, encode::OK);
        }
    }

    fn process_unsub(&mut self, key: usize, sid: &[u8], max: Option<u64>) {
        let sid_hash = self.sid_hasher.hash_one(sid);
        if let Some(sub_key) = self.conns[key].subs.get(sid, sid_hash, &self.subs) {
            let sub = &mut self.subs[sub_key];
            match max {
                Some(max) if max > 0 && max > sub.delivered => sub.max = max,
                _ => self.unsubscribe(sub_key),
            }
        }
        if self.conns[key].opts.verbose {
            self.queue(key, encode::OK);
        }
    }

    /// Remove a client's subscription from its connection, its account's
    /// trie and the slab, with its shadows.
    pub(super) fn unsubscribe(&mut self, sub_key: usize) {
        let Some(sub) = self.subs.get(sub_key) else {
            return;
        };
        let Some(conn) = self.conns.get(sub.conn()) else {
            return;
        };
        let weight = conn
            .leaf
            .as_deref()
            .map_or(1, |l| l.weight_of(sub.subject(), sub.queue()));
        self.interest_changed(sub_key, -(weight as i32));
        let sub = &self.subs[sub_key];
        let conn = &mut self.conns[sub.conn()];
        let sid_hash = self.sid_hasher.hash_one(sub.sid());
        conn.subs
            .remove(sid_hash, sub_key, &self.subs, &self.sid_hasher);
        let account = conn.account;
        self.drop_subscription(sub_key, account);
    }

    /// Count messages published by connection `key`, for it, its account
    /// and the server.
    pub(super) fn count_in(&mut self, key: usize, msgs: u64, bytes: u64, now: Instant) {
        if msgs == 0 {
            return;
        }
        let conn = &mut self.conns[key];
        let stats = &mut conn.stats;
        stats.last_activity = now;
        stats.in_msgs += msgs;
        stats.in_bytes += bytes;
        self.stats.in_msgs += msgs;
        self.stats.in_bytes += bytes;
        let account = &mut self.accounts.list[conn.account as usize].stats;
        account.in_msgs += msgs;
        account.in_bytes += bytes;
    }

    pub(super) fn process_pub(&mut self, key: usize, msg: &Pub<'_>, now: Instant) {
        let conn = &mut self.conns[key];
        if conn.opts.pedantic && !subject::is_valid_literal_subject(msg.subject) {
            self.send_err(key, text::INVALID_PUBLISH_SUBJECT);
            return self.process_pub_checked(key, msg, now);
        }
        // Only a subject or reply starting `_` or `$` can be reserved; a
        // publisher that repeats an allowed subject is let through by its
        // last decision.
        let unusual = |s: &[u8]| matches!(s.first(), Some(b'_' | b'$'));
        if unusual(msg.subject) || msg.reply.is_some_and(unusual) {
            return self.process_pub_checked(key, msg, now);
        }
        if let Some(perms) = &mut conn.perms {
            if !perms.can_publish(msg.subject, now) {
                return self.publish_violation(key, msg.subject);
            }
        }
        let (verbose, account) = (conn.opts.verbose, conn.account);
        if verbose {
            self.queue(key, encode::OK);
        }
        self.publish_and_answer(key, account, msg, now);
    }

    /// A publish that may break a rule: nats-server's order is the gateway
    /// prefix, the user's permissions, the system account's NRG subjects,
    /// then reserved replies.
    #[cold]
    #[inline(never)]
    fn process_pub_checked(&mut self, key: usize, msg: &Pub<'_>, now: Instant) {
        let conn = &mut self.conns[key];
        if account::is_gateway_routed(msg.subject) {
            return self.publish_violation(key, msg.subject);
        }
        if let Some(perms) = &mut conn.perms {
            if !perms.can_publish(msg.subject, now) {
                return self.publish_violation(key, msg.subject);
            }
        }
        if msg.subject.starts_with(b"$NRG.") && conn.account != self.accounts.system {
            return self.publish_violation(key, msg.subject);
        }
        if let Some(reply) = msg.reply.filter(|r| account::is_reserved_reply(r)) {
            log::error!(
                "{} - Publish Violation - Reply {}",
                conn.tag(),
                go_quote(reply)
            );
            let text = format!(
                "Permissions Violation for Publish with Reply of {}",
                go_quote(reply)
            );
            return self.send_err(key, &text);
        }
        let (verbose, account) = (conn.opts.verbose, conn.account);
        if verbose {
            self.queue(key, encode::OK);
        }
        self.publish_and_answer(key, account, msg, now);
    }

    /// Publish for connection `key` and, when nobody took a request, tell
    /// a requester that asked for it.
    #[inline(always)]
    fn publish_and_answer(&mut self, key: usize, account: u32, msg: &Pub<'_>, now: Instant) {
        let delivered = self.publish(account, key, msg, now, &[]);
        if let (false, Some(reply)) = (delivered, msg.reply) {
            if self.conns[key].opts.no_responders {
                self.send_no_responders(key, msg.subject, reply);
            }
        }
    }

    #[cold]
    fn publish_violation(&mut self, key: usize, subject: &[u8]) {
        let conn = &self.conns[key];
        log::error!(
            "{} - Publish Violation - Subject {}",
            conn.tag(),
            go_quote(subject)
        );
        let text = format!("Permissions Violation for Publish to {}", go_quote(subject));
        self.send_err(key, &text);
    }

    /// Deliver `msg`, published by connection `src`, in `account`: to its
    /// subscribers, and on through the imports it hits (`via` holds the
    /// service imports it already came through). Whether anyone got it.
    #[inline(always)]
    pub(super) fn publish(
        &mut self,
        account: u32,
        src: usize,
        msg: &Pub<'_>,
        now: Instant,
        via: &[u32],
    ) -> bool {
        self.publish_filtered(account, src, msg, now, via, None)
    }

    /// [`Core::publish`], for a leaf node's message: only to the queue
    /// groups it names (`queue_filter`; `None`: every group).
    #[inline(always)]
    pub(super) fn publish_filtered(
        &mut self,
        account: u32,
        src: usize,
        msg: &Pub<'_>,
        now: Instant,
        via: &[u32],
        queue_filter: Option<&[u8]>,
    ) -> bool {
        let accounts = &mut self.accounts;
        let publisher_account = &mut accounts.list[account as usize];
        let result = publisher_account.sublist.match_subject(msg.subject);
        let delivered = !result.is_empty() && {
            let routed = Delivery {
                conns: &mut self.conns,
                subs: &mut self.subs,
                dirty: &mut self.dirty,
                expired: &mut self.expired,
                rng: &mut self.rng,
                max_pending: self.opts.max_pending,
                routes: &accounts.routes,
                routes_hit: &mut self.routes_hit,
                imported_from_service: !via.is_empty(),
                now,
                queue_filter,
                peer_targets: &mut self.peer_targets,
                account_name: &publisher_account.name,
                clustered: !self.routes.links.is_empty(),
            }
            .route(result, src, msg);
            self.stats.out_msgs += routed.msgs;
            self.stats.out_bytes += routed.bytes;
            if routed.congested {
                self.stall(src, now);
            }
            // Charged to the account it is delivered in, as nats-server
            // charges it: the publisher's, also for what reaches other
            // accounts' subscribers through its stream exports; the
            // exporter's for a request through a service import.
            let stats = &mut self.accounts.list[account as usize].stats;
            stats.out_msgs += routed.msgs;
            stats.out_bytes += routed.bytes;
            routed.msgs > 0
        };
        while let Some(sub_key) = self.expired.pop() {
            self.unsubscribe(sub_key);
        }
        if self.routes_hit.is_empty() {
            return delivered;
        }
        self.follow_routes(account, src, msg, now, via) || delivered
    }

    /// The 503 status a requester that asked for it gets when nobody is
    /// listening, on its own subscription that matches the reply subject.
    fn send_no_responders(&mut self, key: usize, subject: &[u8], reply: &[u8]) {
        let account = self.conns[key].account as usize;
        let result = self.accounts.list[account].sublist.match_subject(reply);
        let Some(sid) = result
            .psubs()
            .iter()
            .filter_map(|&s| self.subs.get(s))
            .find(|s| !s.is_internal() && s.route == NO_ROUTE && s.conn() == key)
            .map(|s| Box::<[u8]>::from(s.sid()))
        else {
            return;
        };
        // "NATS/1.0 503\r\n" "Nats-Subject: " subject "\r\n" "\r\n"
        let header_len = 32 + subject.len();
        let conn = &mut self.conns[key];
        let out = &mut conn.wbuf.buf;
        out.extend_from_slice(b"HMSG ");
        out.extend_from_slice(reply);
        out.push(b' ');
        out.extend_from_slice(&sid);
        out.push(b' ');
        encode::write_decimal(out, header_len);
        out.push(b' ');
        encode::write_decimal(out, header_len);
        out.extend_from_slice(b"\r\nNATS/1.0 503\r\nNats-Subject: ");
        out.extend_from_slice(subject);
        out.extend_from_slice(b"\r\n\r\n\r\n");
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }
}

/// A subscription as nats-server's violation texts name it.
fn subscription_description(subject: &[u8], queue: Option<&[u8]>) -> String {
    match queue {
        Some(q) => format!("{} using queue {}", go_quote(subject), go_quote(q)),
        None => go_quote(subject),
    }
}

/// A subscription as nats-server's violation log lines name it.
fn subscription_log(subject: &[u8], queue: Option<&[u8]>) -> String {
    match queue {
        Some(q) => format!("Subject {}, Queue: {}", go_quote(subject), go_quote(q)),
        None => format!("Subject {}", go_quote(subject)),
    }
}

/// Go's `%q` of bytes: quoted, with `"` and `\` escaped and anything not
/// printable ASCII as `\xNN`.
pub(super) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// A short rendering of an operation for protocol traces.
pub(super) fn describe(op: &Op<'_>) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match op {
        Op::Connect(j) => format!("CONNECT {}", s(j)),
        Op::Info(j) => format!("INFO {}", s(j)),
        Op::Pub(p) => {
            let reply = p.reply.map(|r| format!(" {}", s(r))).unwrap_or_default();
            match p.header_len_token {
                Some(h) => format!("HPUB {}{reply} {} {}", s(p.subject), s(h), s(p.size_token)),
                None => format!("PUB {}{reply} {}", s(p.subject), s(p.size_token)),
            }
        }
        Op::Sub {
            subject,
            queue,
            sid,
        } => format!(
            "SUB {} {} {}",
            s(subject),
            queue.map(s).unwrap_or_default(),
            s(sid)
        ),
        Op::Unsub { sid, max } => format!(
            "UNSUB {} {}",
            s(sid),
            max.map(|m| m.to_string()).unwrap_or_default()
        ),
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
        Op::Ok => "+OK".into(),
        Op::Err(e) => format!("-ERR {}", s(e)),
        Op::ClientHmsg => "HMSG".into(),
        Op::LeafSub {
            subject,
            queue: Some(queue),
            weight,
        } => format!("LS+ {} {} {weight}", s(subject), s(queue)),
        Op::LeafSub { subject, .. } => format!("LS+ {}", s(subject)),
        Op::LeafUnsub { subject, queue } => {
            let queue = queue.map(|q| format!(" {}", s(q))).unwrap_or_default();
            format!("LS- {}{queue}", s(subject))
        }
        Op::LeafMsg { msg, queues } => {
            let mut line = Vec::new();
            crate::proto::encode::write_leaf_msg_line(
                &mut line,
                msg,
                crate::proto::leaf::queue_names(queues),
                true,
            );
            s(line.strip_suffix(b"\r\n").unwrap_or(&line))
        }
        Op::RouteSub { .. } | Op::RouteUnsub { .. } | Op::RouteMsg { .. } => {
            // The operation's line as it is written.
            let mut line = Vec::new();
            crate::proto::encode::write_op(&mut line, op);
            let line = match op {
                Op::RouteMsg { msg, .. } => &line[..line.len() - msg.msg.len() - 2],
                _ => &line[..],
            };
            s(line.strip_suffix(b"\r\n").unwrap_or(line))
        }
    }
}

/// nats-server's cookies: each credential a WebSocket client's CONNECT
/// leaves empty is taken from its cookie; a JWT only in operator mode.
fn apply_cookies(opts: &mut ConnectOpts, ws: &super::conn::WebsocketConn, operator_mode: bool) {
    let fill = |field: &mut Box<str>, cookie: &Option<String>| {
        if let (true, Some(value)) = (field.is_empty(), cookie) {
            *field = value.as_str().into();
        }
    };
    fill(&mut opts.user, &ws.user_cookie);
    fill(&mut opts.pass, &ws.pass_cookie);
    fill(&mut opts.auth_token, &ws.token_cookie);
    if operator_mode && opts.jwt().is_empty() {
        if let Some(jwt) = &ws.jwt_cookie {
            opts.signed.get_or_insert_with(Default::default).jwt = jwt.as_str().into();
        }
    }
}

impl Core {
    /// `verify_and_map` applies to connection `key`: the client listener's
    /// TLS asks for it, and there are users to map to.
    fn maps_certificates(&self, key: usize) -> bool {
        let conn = &self.conns[key];
        conn.websocket.is_none()
            && conn.tls.is_some()
            && self.opts.tls.as_ref().is_some_and(|t| t.verify_and_map)
            && self.opts.users.is_some()
            && conn.opts.nkey().is_empty()
    }

    /// The user connection `key`'s certificate names, in nats-server's
    /// order, with its debug lines; `None` when it names none.
    fn map_certificate(&self, key: usize) -> Option<String> {
        if !self.maps_certificates(key) {
            return None;
        }
        let conn = &self.conns[key];
        let tag = conn.tag();
        let tls = conn.tls.as_ref()?;
        let Some(identity) = &tls.identity else {
            log::debug!("{tag} - User required in cert, no peer certificates found");
            return None;
        };
        if tls.peer_certs.len() > 1 {
            log::debug!("{tag} - Multiple peer certificates found, selecting first");
        }
        let users: Vec<&str> = self
            .opts
            .users
            .iter()
            .flatten()
            .filter(|u| u.nkey.is_none() && u.allows("STANDARD"))
            .map(|u| u.username.as_str())
            .collect();
        let mapped = crate::auth::cert::map_to_user(identity, &users, &mut |line| {
            log::debug!("{tag} - {line}")
        });
        if let (Some(_), false) = (&mapped, conn.opts.user.is_empty()) {
            log::warn!(
                "{tag} - User {:?} found in connect proto, but user required from cert",
                conn.opts.user
            );
        }
        mapped
    }
}
