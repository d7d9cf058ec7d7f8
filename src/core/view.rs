//! What the monitor may read of the core: copies of connection and
//! subscription facts, never the live structures. Everything here walks
//! tables, so it is called per HTTP request, not per message.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::account::{AccountStats, Accounts, Route, GLOBAL};
use super::conn::{Conn, Subscription};
use super::stats::ServerStats;
use super::Core;
use crate::options::AccountConfig;
use crate::sublist::SublistStats;

/// The numbers of one connection, enough to sort and page `/connz` before
/// anything is copied: no strings, no allocation.
#[derive(Debug, Clone, Copy)]
pub struct ConnSummary {
    pub cid: u64,
    /// Its account (an index: compare with [`Core::find_account`]).
    pub account: u32,
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
    /// nats-server's "raw auth user": the user it logged in as (the
    /// `no_auth_user` for a client that gave no credentials), else the
    /// CONNECT user, or `[REDACTED]` for a token; empty when there is none.
    /// A failed login keeps the user it tried.
    pub user: Box<str>,
    /// Its account's name: `$G` until a CONNECT placed it elsewhere.
    pub account: Box<str>,
    /// Subscriptions, when asked for (always kept for closed connections,
    /// within the history's bound).
    pub subs: Vec<SubInfo>,
    /// What an NKey or JWT user shows with `auth=1`.
    pub signed: Option<Box<SignedInfo>>,
    /// The TLS version and cipher suite, for a TLS connection, and whether
    /// its handshake came first.
    pub tls: Option<(&'static str, String, bool)>,
    /// It came over WebSocket (`/connz` type `websocket`).
    pub websocket: bool,
    /// A leaf node connection (`/connz` kind `Leafnode`).
    pub leaf: bool,
    /// The certificates it presented over TLS (`/connz?auth=1`); never
    /// kept for a closed connection, as in nats-server.
    pub peer_certs: Vec<crate::auth::cert::PeerCert>,
}

/// nats-server's `jwt`, `issuer_key`, `name_tag` and `tags` of a
/// connection that logged in with a key.
#[derive(Debug, Clone, Default)]
pub struct SignedInfo {
    /// The user JWT; empty for a bearer one (it is a password).
    pub jwt: Box<str>,
    /// The account signing key that signed the user, else the account.
    pub issuer_key: Box<str>,
    /// The account's JWT name, when it has one.
    pub name_tag: Option<Box<str>>,
    pub tags: Vec<String>,
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
            account: Box::default(),
            subs: Vec::new(),
            signed: None,
            tls: None,
            websocket: false,
            leaf: false,
            peer_certs: Vec::new(),
        }
    }
}

/// A leaf connection as `/leafz` shows it (nats-server's `LeafInfo`).
#[derive(Debug, Clone)]
pub struct LeafView {
    pub summary: ConnSummary,
    pub name: Box<str>,
    pub is_spoke: bool,
    pub account: Box<str>,
    /// Its subscriptions' subjects, when asked for.
    pub subjects: Vec<Box<str>>,
}

/// A route as `/routez` shows it.
#[derive(Debug, Clone)]
pub struct RouteView {
    pub summary: ConnSummary,
    pub remote_id: Box<str>,
    pub remote_name: Box<str>,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub compression: &'static str,
    /// Its subscriptions' subjects, when asked for.
    pub subjects: Vec<Box<str>>,
}

/// A remote as `/varz` shows it.
#[derive(Debug, Clone)]
pub struct RemoteView {
    pub local_account: Box<str>,
    /// `host:port` of each configured URL.
    pub urls: Vec<String>,
    pub deny_exports: Vec<String>,
    pub deny_imports: Vec<String>,
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
            account: self.account,
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
    pub(super) fn info(
        &self,
        subs: &slab::Slab<Subscription>,
        accounts: &Accounts,
        max_subs: usize,
    ) -> ClientInfo {
        let user: Box<str> = if let Some(user) = &self.authorized_user {
            user.clone()
        } else if !self.opts.user.is_empty() {
            self.opts.user.clone()
        } else if !self.opts.auth_token.is_empty() {
            "[REDACTED]".into()
        } else {
            Box::default()
        };
        // An accepted leaf shows its server's name and version.
        let (name, version) = match self.leaf.as_deref() {
            Some(leaf) if leaf.remote.is_none() => {
                (leaf.remote_name.clone(), leaf.remote_version.clone())
            }
            Some(_) => (Box::default(), Box::default()),
            None => (self.opts.name.clone(), self.opts.version.clone()),
        };
        ClientInfo {
            summary: self.summary(),
            closed: None,
            name,
            lang: self.opts.lang.clone(),
            version,
            user,
            account: accounts.name_of(self.account).into(),
            subs: self
                .subs
                .keys()
                .into_iter()
                .take(max_subs)
                .filter_map(|k| subs.get(k))
                .map(|s| SubInfo::of(s, self.cid))
                .collect(),
            signed: self.signed_info(accounts),
            tls: self
                .tls
                .as_ref()
                .map(|t| (t.version, t.cipher_suite.clone(), t.first)),
            websocket: self.websocket.is_some(),
            leaf: self.leaf.is_some(),
            peer_certs: self
                .tls
                .as_ref()
                .map(|t| t.peer_certs.clone())
                .unwrap_or_default(),
        }
    }

    /// What a key-holding user shows: a JWT user its JWT and signer, an
    /// NKey user of the config file its account as issuer (nats-server's
    /// `issuerForClient`).
    fn signed_info(&self, accounts: &Accounts) -> Option<Box<SignedInfo>> {
        let account = accounts.list.get(self.account as usize)?;
        if let Some(user) = &self.user_jwt {
            #[cfg(feature = "jwt")]
            let name_tag = account
                .jwt
                .as_ref()
                .map(|j| j.name_tag())
                .filter(|t| !t.is_empty())
                .map(Box::from);
            #[cfg(not(feature = "jwt"))]
            let name_tag = None;
            return Some(Box::new(SignedInfo {
                jwt: if user.bearer {
                    Box::default()
                } else {
                    self.opts.jwt().into()
                },
                issuer_key: if user.issuer_key.is_empty() {
                    account.name.clone()
                } else {
                    user.issuer_key.clone()
                },
                name_tag,
                tags: user.tags.clone(),
            }));
        }
        let nkey = self.opts.nkey();
        (!nkey.is_empty() && self.authorized_user.as_deref() == Some(nkey)).then(|| {
            Box::new(SignedInfo {
                issuer_key: account.name.clone(),
                ..SignedInfo::default()
            })
        })
    }
}

/// A subscription as the monitor sees it while walking them all.
pub struct SubRef<'a> {
    sub: &'a Subscription,
    cid: u64,
    account: u32,
    client_account: Option<u32>,
}

impl SubRef<'_> {
    pub fn subject(&self) -> &[u8] {
        self.sub.subject()
    }

    /// The account whose sublist holds it: for a stream import's shadow,
    /// the exporter.
    pub fn account(&self) -> u32 {
        self.account
    }

    /// The account of the client it delivers to (for a shadow, the
    /// importer); `None` for the server's internal ones (service imports,
    /// reply prefixes), which have no client.
    pub fn client_account(&self) -> Option<u32> {
        self.client_account
    }

    pub fn info(&self) -> SubInfo {
        SubInfo::of(self.sub, self.cid)
    }

    /// A stream import's shadow of a client's subscription (in the
    /// exporting account).
    pub fn is_shadow(&self) -> bool {
        !self.sub.is_internal() && self.sub.route != super::conn::NO_ROUTE
    }
}

impl Core {
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Every account's sublist figures, summed.
    pub fn sublist_stats(&self) -> SublistStats {
        let mut stats = SublistStats::default();
        for account in &self.accounts.list {
            stats.add(&account.sublist.stats());
        }
        stats
    }

    /// Every open connection but routes (`/connz` lists clients and leaf
    /// nodes): its key and numbers.
    pub fn client_summaries(&self) -> impl Iterator<Item = (usize, ConnSummary)> + '_ {
        self.conns
            .iter()
            .filter(|(_, conn)| conn.role != super::conn::Role::Route)
            .map(|(key, conn)| (key, conn.summary()))
    }

    /// Open connections `/connz` counts: all but routes.
    pub fn num_connz_connections(&self) -> usize {
        self.conns.len() - self.routes.links.len()
    }

    /// The registered routes, as `/routez` lists them.
    pub fn routes(&self, with_subs: bool) -> Vec<RouteView> {
        let text = |b: &[u8]| Box::<str>::from(String::from_utf8_lossy(b));
        self.routes
            .links
            .iter()
            .filter_map(|&key| {
                let conn = self.conns.get(key)?;
                let route = conn.route.as_deref()?;
                if route.state != super::route::RouteState::Connected {
                    return None;
                }
                let target = route.target.and_then(|t| self.routes.targets.get(t));
                Some(RouteView {
                    summary: conn.summary(),
                    remote_id: route.remote_id.clone(),
                    remote_name: route.remote_name.clone(),
                    did_solicit: target.is_some(),
                    is_configured: target.is_some_and(|t| t.explicit),
                    compression: route.compression,
                    subjects: if with_subs {
                        conn.subs
                            .keys()
                            .into_iter()
                            .filter_map(|k| self.subs.get(k))
                            .map(|s| text(s.subject()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect()
    }

    /// Registered routes (`/varz` `routes`).
    pub fn num_routes(&self) -> usize {
        self.routes
            .links
            .iter()
            .filter_map(|&k| self.conns.get(k)?.route.as_deref())
            .filter(|r| r.state == super::route::RouteState::Connected)
            .count()
    }

    /// Messages and bytes over routes since start.
    pub fn route_traffic(&self) -> super::leaf::LeafTraffic {
        self.links_traffic(&self.routes.links, self.routes.closed_traffic)
    }

    /// What `closed` counted of links gone, plus the traffic of `links`.
    fn links_traffic(
        &self,
        links: &[usize],
        closed: super::leaf::LeafTraffic,
    ) -> super::leaf::LeafTraffic {
        let mut total = closed;
        for conn in links.iter().filter_map(|&k| self.conns.get(k)) {
            total.add(&conn.stats);
        }
        total
    }

    /// The route listener, when there is one.
    pub fn route_listener(&self) -> Option<&super::route::RouteListener> {
        self.routes.listener.as_ref()
    }

    /// A copy of open connection `key`, with its subscriptions if asked.
    pub fn client_info(&self, key: usize, with_subs: bool) -> Option<ClientInfo> {
        let max_subs = if with_subs { usize::MAX } else { 0 };
        self.conns
            .get(key)
            .map(|c| c.info(&self.subs, &self.accounts, max_subs))
    }

    /// The recently closed connections, oldest first; empty unless the
    /// history is kept (monitoring on).
    pub fn closed_clients(&self) -> &std::collections::VecDeque<ClientInfo> {
        self.closed.clients()
    }

    /// The leaf connections past their handshake, as `/leafz` lists them
    /// (only those bound to `account` when given).
    pub fn leafs(&self, account: Option<&str>, with_subs: bool) -> Vec<LeafView> {
        let text = |b: &[u8]| Box::<str>::from(String::from_utf8_lossy(b));
        self.leaf
            .links
            .iter()
            .filter_map(|&key| {
                let conn = self.conns.get(key)?;
                let leaf = conn.leaf.as_deref()?;
                if leaf.state != super::leaf::LeafState::Connected {
                    return None;
                }
                let name = self.accounts.name_of(conn.account);
                if account.is_some_and(|a| a != name) {
                    return None;
                }
                Some(LeafView {
                    summary: conn.summary(),
                    name: leaf.remote_name.clone(),
                    is_spoke: leaf.is_spoke,
                    account: name.into(),
                    subjects: if with_subs {
                        conn.subs
                            .keys()
                            .into_iter()
                            .filter_map(|k| self.subs.get(k))
                            .map(|s| text(s.subject()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect()
    }

    /// The leaf node listener, when there is one.
    pub fn leaf_listener(&self) -> Option<&super::leaf::LeafListener> {
        self.leaf.listener.as_ref()
    }

    /// Connected leaf nodes (nats-server's `/varz` `leafnodes`).
    pub fn num_leafs(&self) -> usize {
        self.leaf
            .links
            .iter()
            .filter_map(|&k| self.conns.get(k)?.leaf.as_deref())
            .filter(|l| l.state == super::leaf::LeafState::Connected)
            .count()
    }

    /// Messages and bytes over leaf connections since start, and how often
    /// remotes connected again after losing their link.
    pub fn leaf_traffic(&self) -> (super::leaf::LeafTraffic, u64) {
        let total = self.links_traffic(&self.leaf.links, self.leaf.closed_traffic);
        (total, self.leaf.reconnects)
    }

    /// Client connections, without leaf nodes and routes (`/varz`
    /// `connections`).
    pub fn num_clients(&self) -> usize {
        self.conns.len() - self.leaf.links.len() - self.routes.links.len()
    }

    /// The configured remotes, as `/varz` shows them.
    pub fn remotes(&self) -> Vec<RemoteView> {
        self.leaf
            .remotes
            .iter()
            .filter(|r| !r.removed)
            .map(|r| RemoteView {
                local_account: r.opts.account.as_deref().unwrap_or("$G").into(),
                urls: r.configured.iter().map(|u| u.host_port()).collect(),
                deny_exports: r.opts.deny_exports.clone(),
                deny_imports: r.opts.deny_imports.clone(),
            })
            .collect()
    }

    /// Every subscription, in no particular order.
    pub fn subscriptions(&self) -> impl Iterator<Item = SubRef<'_>> + '_ {
        self.subs.iter().map(|(_, sub)| {
            let conn = (!sub.is_internal())
                .then(|| self.conns.get(sub.conn()))
                .flatten();
            let client_account = conn.map(|c| c.account);
            let route = self.accounts.routes.get(sub.route as usize);
            let account = match route {
                Some(Route::Stream { exporter, .. }) => *exporter,
                Some(Route::Service { importer, .. }) => *importer,
                Some(Route::Responses { exporter }) => *exporter,
                // A route's subscriptions are in the accounts it names.
                None => conn
                    .and_then(|c| self.account_of(c, sub))
                    .unwrap_or(client_account.unwrap_or(GLOBAL)),
            };
            SubRef {
                sub,
                cid: conn.map_or(0, |c| c.cid),
                account,
                client_account,
            }
        })
    }

    /// The index of the account named `name`, if it exists.
    pub fn find_account(&self, name: &str) -> Option<u32> {
        self.accounts.find(name)
    }

    /// The name of account `index`.
    pub fn account_name(&self, index: u32) -> &str {
        self.accounts.name_of(index)
    }

    /// The system account's name.
    pub fn system_account(&self) -> &str {
        self.accounts.name_of(self.accounts.system)
    }

    /// Every account, in the order a listing shows them: the configured
    /// ones as configured, the system account if it was not, then `$G`.
    /// Accounts a reload removed are left out.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        let accounts = &self.accounts;
        let mut order: Vec<u32> = Vec::with_capacity(accounts.list.len());
        let configured = self
            .opts
            .accounts
            .iter()
            .filter_map(|a| accounts.find(&a.name));
        for index in configured.chain([accounts.system, GLOBAL]) {
            if !order.contains(&index) {
                order.push(index);
            }
        }
        order.into_iter().map(|i| self.info_of(i)).collect()
    }

    /// Account `name`'s figures.
    pub fn account_info(&self, name: &str) -> Option<AccountInfo> {
        self.accounts.find(name).map(|i| self.info_of(i))
    }

    /// Account `name` in full: its figures, exports, imports and the
    /// requests it may still answer.
    pub fn account_detail(&self, name: &str) -> Option<AccountDetail> {
        let index = self.accounts.find(name)?;
        let account = &self.accounts.list[index as usize];
        let text = |b: &[u8]| Box::<str>::from(String::from_utf8_lossy(b));
        let responses = account
            .responses
            .iter()
            .map(|(reply, pending)| ResponseInfo {
                reply: text(reply),
                account: self.accounts.name_of(pending.account).into(),
                to: text(&pending.reply),
            })
            .collect();
        #[cfg(feature = "jwt")]
        let jwt = account.jwt.as_ref().map(|j| {
            let now = super::jwt_login::unix_seconds(std::time::SystemTime::now());
            let claims = crate::auth::jwt::claims_json(&j.jwt).unwrap_or_default();
            let mut revocations: Vec<(String, i64)> = j
                .account
                .revocations
                .iter()
                .map(|(k, t)| (k.clone(), *t))
                .collect();
            revocations.sort();
            AccountJwtInfo {
                jwt: j.jwt.clone(),
                issuer_key: j.claims.iss.clone(),
                name_tag: j.name_tag().to_string(),
                tags: j.tags().to_vec(),
                claims,
                revocations,
                expired: j.expired(now),
            }
        });
        #[cfg(not(feature = "jwt"))]
        let jwt = None;
        Some(AccountDetail {
            info: self.info_of(index),
            config: account.config.clone(),
            responses,
            jwt,
        })
    }

    fn info_of(&self, index: u32) -> AccountInfo {
        let account = &self.accounts.list[index as usize];
        AccountInfo {
            name: account.name.clone(),
            is_system: index == self.accounts.system,
            num_conns: account.num_conns,
            num_subs: account.sublist.count(),
            stats: account.stats,
            sublist: account.sublist.stats(),
        }
    }
}

/// An account as `/accountz` and `/accstatz` show it.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub name: Box<str>,
    pub is_system: bool,
    /// Open connections in it.
    pub num_conns: usize,
    /// Subscriptions in its sublist: its clients', the shadows other
    /// accounts' stream imports place in it, and its internal ones.
    pub num_subs: usize,
    pub stats: AccountStats,
    pub sublist: SublistStats,
}

/// One account in full, for `/accountz?acc=`.
#[derive(Debug, Clone)]
pub struct AccountDetail {
    pub info: AccountInfo,
    /// Its exports and imports, as configured.
    pub config: AccountConfig,
    /// Requests that came in through its service exports and may still be
    /// answered, in no particular order.
    pub responses: Vec<ResponseInfo>,
    /// Its JWT, when it came from one (operator mode).
    pub jwt: Option<AccountJwtInfo>,
}

/// What `/accountz` shows of an account's JWT.
#[derive(Debug, Clone)]
pub struct AccountJwtInfo {
    pub jwt: String,
    /// The operator key (or operator signing key) that signed it.
    pub issuer_key: String,
    pub name_tag: String,
    pub tags: Vec<String>,
    /// The claims, as the JWT carries them.
    pub claims: serde_json::Value,
    /// Revoked user keys and the time before which their JWTs are revoked.
    pub revocations: Vec<(String, i64)>,
    pub expired: bool,
}

/// A request that came in through a service export, awaiting responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The reply it was given in the exporting account (`_R_.`...).
    pub reply: Box<str>,
    /// The requester's account.
    pub account: Box<str>,
    /// The requester's own reply subject.
    pub to: Box<str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{options_from_text, MemoryLoader};
    use crate::options::Overrides;
    use crate::proto::Info;

    /// nats-server's research configuration: A exports, B imports.
    const CONFIG: &str = r#"
        accounts {
          A: { users: [{user: a, password: a}], exports: [{stream: "events.>"}, {service: "svc.>"}] }
          B: { users: [{user: b, password: b, permissions: {publish: "foo"}}],
               imports: [{stream: {account: A, subject: "events.>"}, prefix: "fromA"},
                         {service: {account: A, subject: "svc.echo"}}] }
        }
    "#;

    fn core() -> Core {
        let opts = options_from_text(
            CONFIG,
            std::path::Path::new("a.conf"),
            &mut MemoryLoader::default(),
            &Overrides::default(),
        )
        .unwrap()
        .options;
        let info = Info::server("N".into(), "n".into(), "2.15.1", "h", 1, false, 1 << 20);
        Core::new(
            opts,
            info,
            1,
            crate::core::stats::WallClock::new(Instant::now(), std::time::SystemTime::now()),
        )
    }

    fn client(core: &mut Core, connect: &str, ops: &str, now: Instant) -> usize {
        let key = core.accept("127.0.0.1:1".parse().unwrap(), now);
        let input = format!("CONNECT {connect}\r\n{ops}PING\r\n");
        core.receive(key, &mut input.as_bytes(), now).unwrap();
        key
    }

    fn account<'a>(accounts: &'a [AccountInfo], name: &str) -> &'a AccountInfo {
        accounts.iter().find(|a| &*a.name == name).unwrap()
    }

    #[test]
    fn accounts_count_what_their_clients_publish_and_deliver() {
        let mut core = core();
        let names: Vec<Box<str>> = core.accounts().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["A".into(), "B".into(), "$SYS".into(), "$G".into()]);
        assert_eq!(core.system_account(), "$SYS");

        let now = Instant::now();
        let a = client(
            &mut core,
            r#"{"user":"a","pass":"a"}"#,
            "SUB events.> 1\r\n",
            now,
        );
        let b = client(
            &mut core,
            r#"{"user":"b","pass":"b"}"#,
            "SUB fromA.events.> 1\r\n",
            now,
        );
        let input = "PUB events.x 3\r\nabc\r\n";
        core.receive(a, &mut input.as_bytes(), now).unwrap();
        // One allowed, one refused by B's permissions: both are received.
        let input = "PUB foo 5\r\nhello\r\nPUB bar 2\r\nhi\r\n";
        core.receive(b, &mut input.as_bytes(), now).unwrap();

        let accounts = core.accounts();
        let (sa, sb) = (account(&accounts, "A"), account(&accounts, "B"));
        assert_eq!((sa.stats.in_msgs, sa.stats.in_bytes), (1, 3));
        assert_eq!(
            (sa.stats.out_msgs, sa.stats.out_bytes),
            (2, 6),
            "A's own subscriber and B's, through the import"
        );
        assert_eq!((sb.stats.in_msgs, sb.stats.in_bytes), (2, 7));
        assert_eq!((sb.stats.out_msgs, sb.stats.out_bytes), (0, 0));
        assert_eq!((sa.num_conns, sb.num_conns), (1, 1));
        // A: its client's, B's shadow; B: its client's, the service import's.
        assert_eq!((sa.num_subs, sb.num_subs), (2, 2));
        assert!(account(&accounts, "$SYS").is_system);

        let (ia, ib) = (
            core.find_account("A").unwrap(),
            core.find_account("B").unwrap(),
        );
        let in_a: Vec<(Box<str>, Option<u32>, u64)> = core
            .subscriptions()
            .filter(|s| s.account() == ia)
            .map(|s| (s.info().subject, s.client_account(), s.info().cid))
            .collect();
        assert_eq!(in_a.len(), 2);
        assert!(in_a.contains(&("events.>".into(), Some(ia), 1)));
        assert!(
            in_a.contains(&("events.>".into(), Some(ib), 2)),
            "the shadow names B's client"
        );
        let internal: Vec<_> = core
            .subscriptions()
            .filter(|s| s.client_account().is_none())
            .map(|s| (s.account(), s.info().subject))
            .collect();
        assert_eq!(internal, [(ib, "svc.echo".into())]);

        let info = core.client_info(b, false).unwrap();
        assert_eq!((&*info.user, &*info.account), ("b", "B"));
        assert_eq!(info.summary.account, ib);
        let detail = core.account_detail("B").unwrap();
        assert_eq!(detail.config.imports.len(), 2);
        assert!(detail.responses.is_empty());
        assert!(core.account_detail("nope").is_none());
    }
}
