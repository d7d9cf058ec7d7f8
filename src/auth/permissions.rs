//! Publish and subscribe permissions, as nats-server applies them: the
//! configured form ([`Permissions`]), compiled once per user
//! ([`CompiledPermissions`], shared by its connections), and the small
//! per-connection state that caches decisions and tracks the replies
//! `allow_responses` grants ([`ConnPermissions`]).
//!
//! Subjects are matched as nats-server's permission sublists match them:
//! the tested subject's tokens are literal, so a published `foo.*` is
//! allowed by `foo.>` but not denied by `foo.secret`, and a subscription
//! to `bar.>` is denied by `bar.*`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::subject;

/// nats-server's `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`.
pub const DEFAULT_ALLOW_RESPONSE_MAX_MSGS: i64 = 1;
/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`.
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(120);
/// Publish decisions a connection remembers (nats-server's
/// `maxPermCacheSize`); past it the cache starts over.
const PUB_CACHE_MAX: usize = 128;
/// Delivery-filter decisions a connection remembers (`maxDenyPermCacheSize`).
const DENY_CACHE_MAX: usize = 256;
/// Reply grants a connection keeps before the spent and expired ones are
/// pruned (nats-server's `replyPermLimit`).
const REPLY_PRUNE_AT: usize = 4096;

/// A user's permissions as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: the user may answer requests delivered to it.
    pub response: Option<ResponsePermission>,
}

/// `allow` and `deny` lists. An `allow` of `None` allows everything; an
/// empty `Some` allows nothing (what `allow_responses` leaves for publish).
/// Subscribe entries may name a queue group: `"subject queue"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: how many messages (`max_msgs`; negative is no limit)
/// and for how long (`expires`; `None` is no limit) a client may publish to
/// the reply subject of a request it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    pub max_msgs: i64,
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
            expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION),
        }
    }
}

impl Permissions {
    /// nats-server's `validateResponsePermissions`: with `allow_responses`,
    /// a publish permission without an allow list allows nothing but the
    /// granted replies.
    pub fn with_response_rule(mut self) -> Permissions {
        if self.response.is_some() {
            let publish = self.publish.get_or_insert_with(SubjectPermission::default);
            publish.allow.get_or_insert_with(Vec::new);
        }
        self
    }
}

/// One permission entry: a subject pattern and, for subscribe entries, an
/// optional queue group pattern.
#[derive(Debug, Clone)]
struct Entry {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut fields = text.split_ascii_whitespace();
        let subject = fields.next().unwrap_or_default();
        Entry {
            subject: subject.as_bytes().into(),
            queue: fields.next().map(|q| q.as_bytes().into()),
        }
    }
}

/// What an allow or deny list says of a subject: whether a plain entry
/// matches, and the queue entries that match.
struct ListMatch<'a> {
    plain: bool,
    queues: Vec<&'a [u8]>,
}

fn match_list<'a>(entries: &'a [Entry], subject: &[u8]) -> ListMatch<'a> {
    let mut m = ListMatch {
        plain: false,
        queues: Vec::new(),
    };
    for e in entries {
        if subject::matches(&e.subject, subject) {
            match &e.queue {
                Some(q) => m.queues.push(q),
                None => m.plain = true,
            }
        }
    }
    m
}

/// nats-server's `queueMatches`: no queue entries, the same name, or a
/// wildcard entry that covers the queue.
fn queue_matches(queue: &[u8], entries: &[&[u8]]) -> bool {
    entries.is_empty()
        || entries
            .iter()
            .any(|&q| q == queue || (!subject::is_literal(q) && is_subset_match(queue, q)))
}

/// Whether every subject `subject` matches is matched by `pattern` too
/// (nats-server's `subjectIsSubsetMatch`).
pub fn is_subset_match(subject: &[u8], pattern: &[u8]) -> bool {
    let mut st = subject::tokens(subject);
    let mut pt = subject::tokens(pattern);
    loop {
        match (st.next(), pt.next()) {
            (None, None) => return true,
            (Some(_), Some(b">")) => return pt.next().is_none(),
            (Some(s), Some(p)) => {
                if p == b"*" {
                    if s == b">" {
                        return false;
                    }
                } else if s != p {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// A user's permissions ready to apply: built once, shared by every
/// connection of the user.
#[derive(Debug)]
pub struct CompiledPermissions {
    pub_allow: Option<Vec<Entry>>,
    pub_deny: Vec<Entry>,
    sub_allow: Vec<Entry>,
    sub_deny: Vec<Entry>,
    response: Option<ResponsePermission>,
    /// As configured: a hub tells a leaf node its user's permissions.
    source: Permissions,
}

impl CompiledPermissions {
    pub fn new(perms: &Permissions) -> CompiledPermissions {
        let source = perms.clone();
        let perms = perms.clone().with_response_rule();
        let list = |v: &[String]| v.iter().map(|s| Entry::parse(s)).collect::<Vec<_>>();
        let (pub_allow, pub_deny) = match &perms.publish {
            Some(p) => (p.allow.as_deref().map(list), list(&p.deny)),
            None => (None, Vec::new()),
        };
        // An empty subscribe allow list restricts nothing, as in Go.
        let (sub_allow, sub_deny) = match &perms.subscribe {
            Some(p) => (list(p.allow.as_deref().unwrap_or_default()), list(&p.deny)),
            None => (Vec::new(), Vec::new()),
        };
        CompiledPermissions {
            pub_allow,
            pub_deny,
            sub_allow,
            sub_deny,
            response: perms.response,
            source,
        }
    }

    /// The permissions as configured.
    pub fn source(&self) -> &Permissions {
        &self.source
    }

    /// Whether publishing is restricted at all.
    pub fn restricts_publish(&self) -> bool {
        self.pub_allow.is_some() || !self.pub_deny.is_empty()
    }

    /// The configured rule for publishing to `subject`, before any reply
    /// granted by `allow_responses`.
    pub fn publish_allowed(&self, subject: &[u8]) -> bool {
        let allowed = match &self.pub_allow {
            Some(allow) => allow.iter().any(|e| subject::matches(&e.subject, subject)),
            None => true,
        };
        allowed
            && !self
                .pub_deny
                .iter()
                .any(|e| subject::matches(&e.subject, subject))
    }

    /// nats-server's `canSubscribe`: the subscription's subject is tested
    /// as a literal; queue entries decide for a queue subscription when any
    /// of them matches.
    pub fn subscribe_allowed(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let queue = queue.filter(|q| !q.is_empty());
        if queue == Some(b"_sys_") {
            return false;
        }
        if !self.sub_allow.is_empty() {
            let m = match_list(&self.sub_allow, subject);
            let mut allowed = m.plain;
            if let Some(q) = queue {
                if !m.queues.is_empty() {
                    allowed = queue_matches(q, &m.queues);
                }
            }
            if !allowed {
                return false;
            }
        }
        if !self.sub_deny.is_empty() {
            return !self.denies(subject, queue);
        }
        true
    }

    /// Whether the deny list covers `subject` for a subscription in `queue`
    /// (nats-server's `checkDenySub`, also the delivery-time filter).
    fn denies(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let m = match_list(&self.sub_deny, subject);
        if m.plain {
            return true;
        }
        match queue {
            Some(q) if !m.queues.is_empty() => queue_matches(q, &m.queues),
            _ => false,
        }
    }
}

/// One connection's permissions: the user's rules plus what this
/// connection has learnt and been granted.
#[derive(Debug)]
pub struct ConnPermissions {
    rules: Arc<CompiledPermissions>,
    /// Publish decisions by subject, bounded by [`PUB_CACHE_MAX`].
    pub_cache: HashMap<Box<[u8]>, bool>,
    /// The last publish decision: a publisher that repeats its subject
    /// pays a compare, not a hash (a hash per message costs more than the
    /// rest of a small message's routing).
    last_pub: LastDecision,
    /// Delivery-filter decisions by subject, then by the subscription's
    /// queue (looked up without building a key).
    deny_cache: HashMap<Box<[u8]>, Vec<QueueDecision>>,
    deny_cached: usize,
    last_delivery: LastDecision,
    /// A wildcard or queue subscription of this connection may cover a
    /// denied subject, so deliveries are filtered (nats-server loads its
    /// `mperms` the same way, at the first such subscription).
    filtering: bool,
    /// Deliveries need a look: filtering, or replies to grant.
    watch: bool,
    /// Replies this connection may answer: when granted, and how many
    /// messages it has sent to each.
    replies: HashMap<Box<[u8]>, (Instant, i64)>,
}

impl ConnPermissions {
    pub fn new(rules: Arc<CompiledPermissions>) -> ConnPermissions {
        ConnPermissions {
            pub_cache: HashMap::new(),
            last_pub: LastDecision::default(),
            deny_cache: HashMap::new(),
            deny_cached: 0,
            last_delivery: LastDecision::default(),
            replies: HashMap::new(),
            filtering: false,
            watch: rules.response.is_some(),
            rules,
        }
    }

    pub fn rules(&self) -> &Arc<CompiledPermissions> {
        &self.rules
    }

    /// Whether this connection may publish to `subject` at `now`: the rules
    /// (cached), else a reply granted by `allow_responses` (counted).
    #[inline]
    pub fn can_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        match self.last_pub.get(subject, None) {
            Some(true) => true,
            _ => self.can_publish_slow(subject, now),
        }
    }

    #[inline(never)]
    fn can_publish_slow(&mut self, subject: &[u8], now: Instant) -> bool {
        if !self.rules.restricts_publish() {
            return true;
        }
        let allowed = match self.last_pub.get(subject, None) {
            Some(allowed) => allowed,
            None => {
                let allowed = match self.pub_cache.get(subject) {
                    Some(&allowed) => allowed,
                    None => {
                        let allowed = self.rules.publish_allowed(subject);
                        if self.pub_cache.len() >= PUB_CACHE_MAX {
                            self.pub_cache.clear();
                        }
                        self.pub_cache.insert(subject.into(), allowed);
                        allowed
                    }
                };
                self.last_pub.set(subject, None, allowed);
                allowed
            }
        };
        allowed || self.use_reply(subject, now)
    }

    /// nats-server's `responseAllowed`: count one message to a granted
    /// reply; a spent or expired grant is dropped and refuses.
    fn use_reply(&mut self, subject: &[u8], now: Instant) -> bool {
        let Some(resp) = self.rules.response else {
            return false;
        };
        let Some((granted, sent)) = self.replies.get_mut(subject) else {
            return false;
        };
        *sent += 1;
        let spent = resp.max_msgs > 0 && *sent > resp.max_msgs;
        let expired = resp
            .expires
            .is_some_and(|ttl| now.saturating_duration_since(*granted) > ttl);
        if spent || expired {
            self.replies.remove(subject);
            return false;
        }
        true
    }

    /// A request with `reply` was delivered to this connection: with
    /// `allow_responses`, it may now answer there (unless it already may).
    pub fn grant_reply(&mut self, reply: &[u8], now: Instant) {
        let Some(resp) = self.rules.response else {
            return;
        };
        if self.rules.publish_allowed(reply) {
            return;
        }
        if self.replies.len() >= REPLY_PRUNE_AT {
            self.replies.retain(|_, (granted, sent)| {
                let spent = resp.max_msgs > 0 && *sent >= resp.max_msgs;
                let expired = resp
                    .expires
                    .is_some_and(|ttl| now.saturating_duration_since(*granted) > ttl);
                !spent && !expired
            });
            if self.replies.len() >= REPLY_PRUNE_AT {
                return; // every grant still live: refuse new ones, stay bounded
            }
        }
        self.replies.insert(reply.into(), (now, 0));
    }

    /// Whether a message on `subject` must not reach this connection's
    /// subscription in `queue` (the delivery-time deny filter).
    pub fn delivery_denied(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if !self.filtering {
            return false;
        }
        if let Some(denied) = self.last_delivery.get(subject, queue) {
            return denied;
        }
        let cached = self
            .deny_cache
            .get(subject)
            .and_then(|by_queue| by_queue.iter().find(|(q, _)| q.as_deref() == queue))
            .map(|&(_, denied)| denied);
        let denied = cached.unwrap_or_else(|| {
            let denied = self.rules.denies(subject, queue);
            if self.deny_cached >= DENY_CACHE_MAX {
                self.deny_cache.clear();
                self.deny_cached = 0;
            }
            self.deny_cache
                .entry(subject.into())
                .or_default()
                .push((queue.map(Into::into), denied));
            self.deny_cached += 1;
            denied
        });
        self.last_delivery.set(subject, queue, denied);
        denied
    }

    /// Whether deliveries to this connection need a look: to filter them,
    /// or to grant replies (`allow_responses`).
    #[inline]
    pub fn watches_delivery(&self) -> bool {
        self.watch
    }

    /// A subscription was made (allowed): if it is a wildcard or queue
    /// subscription that some deny entry overlaps, deliveries are filtered
    /// from now on. A literal one allowed at subscribe time can receive
    /// nothing denied.
    pub fn note_subscription(&mut self, subject: &[u8], queue: Option<&[u8]>) {
        if self.filtering || (queue.is_none() && subject::is_literal(subject)) {
            return;
        }
        if self
            .rules
            .sub_deny
            .iter()
            .any(|e| crate::subject_mapping::intersect(&e.subject, subject).is_some())
        {
            self.filtering = true;
            self.watch = true;
        }
    }
}

/// A delivery-filter decision for the subscriptions in one queue group (or
/// in none).
type QueueDecision = (Option<Box<[u8]>>, bool);

/// One remembered decision, for a subject (and queue), kept in buffers
/// that are reused as the subject changes.
#[derive(Debug, Default)]
struct LastDecision {
    subject: Vec<u8>,
    queue: Option<Vec<u8>>,
    decision: Option<bool>,
}

impl LastDecision {
    #[inline]
    fn get(&self, subject: &[u8], queue: Option<&[u8]>) -> Option<bool> {
        let same = self.subject == subject && self.queue.as_deref() == queue;
        self.decision.filter(|_| same)
    }

    fn set(&mut self, subject: &[u8], queue: Option<&[u8]>, decision: bool) {
        self.subject.clear();
        self.subject.extend_from_slice(subject);
        match (queue, &mut self.queue) {
            (Some(q), Some(buf)) => {
                buf.clear();
                buf.extend_from_slice(q);
            }
            (q, slot) => *slot = q.map(<[u8]>::to_vec),
        }
        self.decision = Some(decision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn perms(
        pub_allow: Option<&[&str]>,
        pub_deny: &[&str],
        sub_allow: &[&str],
        sub_deny: &[&str],
    ) -> CompiledPermissions {
        CompiledPermissions::new(&Permissions {
            publish: Some(SubjectPermission {
                allow: pub_allow.map(list),
                deny: list(pub_deny),
            }),
            subscribe: Some(SubjectPermission {
                allow: Some(list(sub_allow)),
                deny: list(sub_deny),
            }),
            response: None,
        })
    }

    #[test]
    fn publish_allow_then_deny_and_deny_wins() {
        let p = perms(Some(&["foo.>", "req.>"]), &["foo.secret"], &[], &[]);
        assert!(p.publish_allowed(b"foo.ok"));
        assert!(!p.publish_allowed(b"foo.secret"));
        assert!(!p.publish_allowed(b"other"));
        // Published wildcards are literal tokens, as in nats-server.
        assert!(p.publish_allowed(b"foo.*"));
        assert!(p.publish_allowed(b"foo.>"));
    }

    #[test]
    fn subscribe_rules_match_nats_server_transcripts() {
        let alice = perms(None, &[], &[">"], &["foo.secret", "bar.*", "q.sub qbad"]);
        assert!(!alice.subscribe_allowed(b"foo.secret", None));
        assert!(!alice.subscribe_allowed(b"bar.x", None));
        assert!(!alice.subscribe_allowed(b"bar.*", None));
        assert!(!alice.subscribe_allowed(b"bar.>", None));
        assert!(!alice.subscribe_allowed(b"q.sub", Some(b"qbad")));
        assert!(alice.subscribe_allowed(b"q.sub", Some(b"qgood")));
        assert!(alice.subscribe_allowed(b"q.sub", None));
        assert!(!alice.subscribe_allowed(b"x", Some(b"_sys_")));
        assert!(alice.subscribe_allowed(b"foo.*", None));

        let bob = perms(None, &[], &["svc.>", "qonly grp1"], &[]);
        assert!(bob.subscribe_allowed(b"qonly", Some(b"grp1")));
        assert!(!bob.subscribe_allowed(b"qonly", Some(b"grp2")));
        assert!(!bob.subscribe_allowed(b"qonly", None));
        assert!(bob.subscribe_allowed(b"svc.a", Some(b"anyq")));

        let u = perms(None, &[], &[], &["foo", "foo v1", "a.*.c", "qq v1.*"]);
        assert!(!u.subscribe_allowed(b"foo", Some(b"v2")));
        assert!(!u.subscribe_allowed(b"foo", Some(b"v1")));
        assert!(u.subscribe_allowed(b"a.b.>", None));
        assert!(!u.subscribe_allowed(b"qq", Some(b"v1.x")));
        assert!(u.subscribe_allowed(b"qq", Some(b"v2")));
        assert!(!u.subscribe_allowed(b"a.b.c", None));
    }

    #[test]
    fn delivery_filter_drops_denied_subjects_for_wildcard_subscriptions() {
        let alice = Arc::new(perms(None, &[], &[">"], &["foo.secret", "w.x qd"]));
        let mut conn = ConnPermissions::new(alice);
        // A literal subscription allowed at SUB time needs no filter.
        conn.note_subscription(b"foo.ok", None);
        assert!(!conn.watches_delivery());
        assert!(!conn.delivery_denied(b"foo.secret", None));
        // A wildcard one over a denied subject loads it.
        conn.note_subscription(b"foo.*", None);
        assert!(conn.watches_delivery());
        assert!(conn.delivery_denied(b"foo.secret", None));
        assert!(!conn.delivery_denied(b"foo.ok", None));
        assert!(conn.delivery_denied(b"w.x", Some(b"qd")));
        assert!(!conn.delivery_denied(b"w.y", Some(b"qd")));
        assert!(!conn.delivery_denied(b"w.x", Some(b"qo")));
        // Cached answers are the same answers.
        assert!(conn.delivery_denied(b"foo.secret", None));
    }

    #[test]
    fn allow_responses_grants_max_replies_until_expiry() {
        let carol = CompiledPermissions::new(&Permissions {
            publish: None,
            subscribe: None,
            response: Some(ResponsePermission {
                max_msgs: 2,
                expires: Some(Duration::from_secs(5)),
            }),
        });
        let mut conn = ConnPermissions::new(Arc::new(carol));
        let t0 = Instant::now();
        // allow_responses alone allows publishing nothing else.
        assert!(!conn.can_publish(b"rq.x", t0));
        assert!(!conn.can_publish(b"_INBOX.r1", t0));
        conn.grant_reply(b"_INBOX.r1", t0);
        assert!(conn.can_publish(b"_INBOX.r1", t0));
        assert!(conn.can_publish(b"_INBOX.r1", t0));
        assert!(!conn.can_publish(b"_INBOX.r1", t0), "max 2");
        conn.grant_reply(b"_INBOX.r3", t0);
        assert!(!conn.can_publish(b"_INBOX.r3", t0 + Duration::from_secs(6)));
    }

    #[test]
    fn the_publish_cache_stays_bounded() {
        let p = Arc::new(perms(Some(&["a.>"]), &[], &[], &[]));
        let mut conn = ConnPermissions::new(p);
        let t0 = Instant::now();
        for i in 0..1000 {
            let subject = format!("a.{i}");
            assert!(conn.can_publish(subject.as_bytes(), t0));
            assert!(conn.pub_cache.len() <= PUB_CACHE_MAX);
            assert!(
                !conn.can_publish(b"b", t0),
                "the last decision is not the only one"
            );
        }
        let deny = Arc::new(perms(None, &[], &[], &["d.*"]));
        let mut conn = ConnPermissions::new(deny);
        conn.note_subscription(b"d.>", None);
        for i in 0..1000 {
            let subject = format!("d.{i}");
            assert!(conn.delivery_denied(subject.as_bytes(), None));
            assert!(
                conn.delivery_denied(subject.as_bytes(), Some(b"q")),
                "a plain entry denies every queue"
            );
            assert!(!conn.delivery_denied(b"e", None));
            assert!(conn.deny_cached <= DENY_CACHE_MAX);
        }
    }

    #[test]
    fn subset_match() {
        assert!(is_subset_match(b"v1.x", b"v1.*"));
        assert!(is_subset_match(b"a.b.c", b"a.>"));
        assert!(is_subset_match(b"a.*", b"a.*"));
        assert!(!is_subset_match(b"a.*", b"a.b"));
        assert!(!is_subset_match(b"a.>", b"a.*"));
        assert!(is_subset_match(b"a.>", b"a.>"));
        assert!(!is_subset_match(b"a", b"a.>"));
    }
}
