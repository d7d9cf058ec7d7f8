//! The server core driven by several clients' byte streams and a made-up
//! clock, with no sockets: what the reactor does, in an order the fuzzer
//! picks.
//!
//! Invariants, checked after every step:
//! - nothing panics;
//! - everything the server writes is a well-formed server operation;
//! - every `MSG`/`HMSG` goes to a sid the client subscribed with, on a
//!   subject that sid's subject matches, and `HMSG` only to a client that
//!   asked for headers; sizes agree with the bytes that follow;
//! - every `-ERR` text is one nats-server sends;
//! - the core's tables agree and every live connection's buffers are within
//!   their limits ([`Core::audit`]);
//! - with accounts: no message reaches an account it was not published in,
//!   except through an import (a stream of A's under B's prefix, B's
//!   requests to A's service, their responses back), and no client receives
//!   a subject its user may not subscribe to;
//! - with leaf node peers (see `leaf_peer.rs`): every `LS+`/`LS-` the core
//!   sends adds up to the interest of its subscriptions, a hub hears only
//!   of local interest, and no message goes back where it came from;
//! - with route peers (see `route_peer.rs`): what each registered route
//!   was told (its `RS+`/`RS-` replayed, with queue weights) is this
//!   server's own interest worked out afresh from the subscriptions of its
//!   clients and leaf nodes (never a route's, nor a hub's: nats-server
//!   tells routes nothing of what a hub told it), per account; a message
//!   from a route never goes to a route (one hop), nor one from our hub; a
//!   message goes to a route at most once (per account) and only for
//!   interest the route told;
//! - a queue group gets each message at most once across the clients, leaf
//!   nodes and routes, and a message from a route reaches only the queue
//!   groups it names (checked with a single account: imports copy
//!   messages across accounts).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use natsd::core::stats::WallClock;
use natsd::core::{Core, Flushed};
use natsd::options::{
    AccountConfig, Export, Import, ImportKind, Permissions, ServiceExport, SubjectPermission, User,
};
use natsd::proto::{error, ConnectOpts, Info, Op, Parser, Status};
use natsd::Options;

use super::input::Input;
use super::leaf_peer::LeafPeer;
use super::model;
#[cfg(feature = "cluster")]
use super::route_peer::{self, RoutePeer};

const MAX_CLIENTS: usize = 4;
const MAX_LEAFS: usize = 3;
#[cfg(feature = "cluster")]
const MAX_ROUTES: usize = 3;

/// nats-server keeps what its hub says (over a leaf connection on which it
/// is the spoke) from its routes, and what its routes say from its hub: a
/// hub's interest is not told to the routes (`processLeafSub`: `if !spoke`),
/// a hub's message does not go to the routes (`processMsgResults`: `c.kind
/// != ROUTER && !c.isSpokeLeafNode()`), a route's interest is not told to
/// the hub (`updateSmap`). natsd follows these rules (it did not at first:
/// see the regressions `hub-interest-to-routes`, `route-interest-to-hub`);
/// `false` would check natsd against the rules it had before.
#[cfg(feature = "cluster")]
const NATS_SERVER_HUB_RULES: bool = true;
const MAX_STEPS: usize = 300;

/// With `NATSD_FUZZ_TRACE` set, the session says what it does (to read a
/// crash input).
fn trace(what: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("NATSD_FUZZ_TRACE").is_some()) {
        eprintln!("session: {}", what());
    }
}

pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let opts = options(&mut input);
    let mut session = Session::new(opts);
    let mut steps = 0;
    while !input.is_empty() && steps < MAX_STEPS {
        steps += 1;
        session.step(&mut input);
        session.settle();
    }
    // Every client hangs up; the server must end with nothing left.
    for i in 0..session.clients.len() {
        session.hang_up(i);
    }
    for i in 0..session.leafs.len() {
        let key = session.leafs[i].key;
        let _ = session.core.receive(key, &mut &b""[..], session.now);
    }
    #[cfg(feature = "cluster")]
    for i in 0..session.routes.len() {
        let key = session.routes[i].key;
        let _ = session.core.receive(key, &mut &b""[..], session.now);
    }
    session.settle();
    assert_eq!(session.core.audit(), Ok(()));
}

/// Limits small enough for the fuzzer to reach, or nats-server's defaults.
fn options(input: &mut Input) -> Options {
    let b = input.u16();
    let mut opts = Options::ephemeral();
    match b % 4 {
        1 => {
            opts.username = Some("u".into());
            opts.password = Some("p".into());
        }
        2 => opts.authorization = Some("t".into()),
        3 => with_accounts(&mut opts, b & (1 << 7) != 0),
        _ => {}
    }
    let bit = |n: u16| b & (1 << n) != 0;
    if bit(2) {
        opts.max_payload = 16;
    }
    if bit(3) {
        opts.max_pending = 256;
    }
    if bit(4) {
        opts.max_control_line = 32;
    }
    if bit(5) {
        opts.max_subscriptions = 2;
    }
    if bit(6) {
        opts.max_connections = 2;
    }
    if bit(8) && cfg!(feature = "leafnodes") {
        opts.leafnodes = Some(Default::default());
    }
    // A cluster with no port and no routes: the route peers are accepted
    // by the session itself.
    #[cfg(feature = "cluster")]
    if bit(9) {
        opts.cluster = Some(natsd::options::ClusterOptions {
            name: Some(route_peer::CLUSTER.into()),
            ..Default::default()
        });
    }
    opts
}

/// The accounts of the fuzzed configuration: A exports the stream `a.>`
/// and the service `b`; B imports the stream under the prefix `x` and the
/// service; user `a` (in A) may not subscribe to `a.b` nor publish to
/// `a.*.a`; anyone without credentials is `n`, in `$G` (or, with
/// `no_auth_in_b`, `b` in B).
fn with_accounts(opts: &mut Options, no_auth_in_b: bool) {
    let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    opts.accounts = vec![
        AccountConfig {
            name: "A".into(),
            exports: vec![
                Export {
                    subject: "a.>".into(),
                    service: None,
                    accounts: None,
                },
                Export {
                    subject: "b".into(),
                    service: Some(ServiceExport::default()),
                    accounts: Some(list(&["B"])),
                },
            ],
            imports: Vec::new(),
        },
        AccountConfig {
            name: "B".into(),
            exports: Vec::new(),
            imports: vec![
                Import {
                    account: "A".into(),
                    subject: "a.>".into(),
                    kind: ImportKind::Stream {
                        prefix: Some("x".into()),
                        to: None,
                    },
                },
                Import {
                    account: "A".into(),
                    subject: "b".into(),
                    kind: ImportKind::Service { to: "b".into() },
                },
            ],
        },
    ];
    let user = |name: &str, account: Option<&str>, permissions: Option<Permissions>| User {
        username: name.into(),
        password: format!("p{name}"),
        permissions,
        account: account.map(Into::into),
        nkey: None,
        connection_types: None,
    };
    let a_perms = Permissions {
        publish: Some(SubjectPermission {
            allow: None,
            deny: list(&["a.*.a"]),
        }),
        subscribe: Some(SubjectPermission {
            allow: None,
            deny: list(&[DENIED_TO_A]),
        }),
        response: None,
    };
    opts.users = Some(vec![
        user("a", Some("A"), Some(a_perms)),
        user("b", Some("B"), None),
        user("n", None, None),
    ]);
    opts.no_auth_user = Some(if no_auth_in_b { "b" } else { "n" }.into());
}

/// What user `a` may not subscribe to, so must never receive.
const DENIED_TO_A: &str = "a.b";

struct Client {
    key: usize,
    /// The user of the client's last CONNECT ("" before one).
    user: String,
    /// Every account the client has been in (output still pending from an
    /// earlier one may arrive after a new CONNECT), and whether it has
    /// ever been anyone but user `a`.
    accounts_seen: Vec<&'static str>,
    not_only_a: bool,
    /// Parses what the client sent, to know what it subscribed to.
    shadow: Option<Parser>,
    shadow_buf: Vec<u8>,
    connect: ConnectOpts,
    /// Every (sid, subject) the client ever subscribed with.
    subscribed: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every subject and `subject queue` it subscribed with.
    interest: Vec<Vec<u8>>,
    /// Every (sid, queue) it subscribed with.
    queues: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The payloads it published since the session last took them.
    sent_payloads: Vec<Vec<u8>>,
    /// The messages it received (sid, payload without headers) since the
    /// session last took them.
    deliveries: Vec<SidPayload>,
    /// The client once declared headers support.
    headers: bool,
    /// Server output not yet checked (an incomplete operation).
    out: Vec<u8>,
    /// The client is not reading: its output backs up in the server.
    stalled: bool,
}

struct Session {
    core: Core,
    /// Every subject published in each account (by the publisher's user
    /// at the time), to tell an imported message from a leaked one.
    published: std::collections::HashMap<&'static str, Vec<Vec<u8>>>,
    no_auth_user: String,
    now: Instant,
    clients: Vec<Client>,
    /// Leaf node peers, when the configuration accepts them.
    leafs: Vec<LeafPeer>,
    accepts_leafs: bool,
    next_leaf_id: usize,
    /// The interest of clients gone: a weight that drops as one goes is
    /// still its interest.
    gone_interest: Vec<Vec<u8>>,
    max_control_line: usize,
    max_payload: usize,
    /// Route peers, when the configuration has a cluster.
    #[cfg(feature = "cluster")]
    routes: Vec<RoutePeer>,
    clustered: bool,
    #[cfg(feature = "cluster")]
    next_route_id: usize,
    /// What route peers gone had asked for (without the account).
    #[cfg(feature = "cluster")]
    gone_route_interest: Vec<Vec<u8>>,
    /// Where each payload came from and where it went.
    ledger: Ledger,
    /// Everyone is in `$G`: no import copies a message to another account.
    single_account: bool,
}

/// Where a message came from.
#[derive(Clone, Debug)]
enum Origin {
    Client,
    /// A leaf peer, of `cluster`; `hub`: it is our hub.
    Leaf {
        id: usize,
        cluster: &'static str,
        hub: bool,
    },
    /// A route peer, and the queue groups it named.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    Route {
        id: usize,
        queues: Vec<Vec<u8>>,
    },
}

/// The messages of the session by payload: who published each (a payload
/// published more than once is not followed), and where it went.
#[derive(Default)]
struct Ledger {
    origins: std::collections::HashMap<Vec<u8>, Vec<Origin>>,
    /// (payload, queue group) -> deliveries to a member.
    queue_hits: std::collections::HashMap<(Vec<u8>, Vec<u8>), u32>,
    /// (payload, account, route peer) -> `RMSG`s.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    route_hits: std::collections::HashMap<(Vec<u8>, Vec<u8>, usize), u32>,
}

impl Ledger {
    fn publish(&mut self, payload: Vec<u8>, origin: Origin) {
        self.origins.entry(payload).or_default().push(origin);
    }

    /// Who published `payload`, when exactly one did, once.
    fn origin(&self, payload: &[u8]) -> Option<&Origin> {
        match self.origins.get(payload).map(Vec::as_slice) {
            Some([origin]) => Some(origin),
            _ => None,
        }
    }

    /// `payload` went to a member of queue group `queue` (through a
    /// client's subscription, or named in an `LMSG` or `RMSG`).
    fn queue_hit(&mut self, payload: &[u8], queue: &[u8], to: &str) {
        let Some(origin) = self.origin(payload) else {
            return;
        };
        if let Origin::Route { id, queues } = origin {
            assert!(
                queues.iter().any(|q| q == queue),
                "a message from route {id} (queues {queues:?}) went to queue group {:?} ({to})",
                String::from_utf8_lossy(queue)
            );
        }
        let origin = format!("{origin:?}");
        let hits = self
            .queue_hits
            .entry((payload.to_vec(), queue.to_vec()))
            .or_default();
        *hits += 1;
        assert!(
            *hits == 1,
            "queue group {:?} got {:?} (from {origin}) {hits} times, the last {to}",
            String::from_utf8_lossy(queue),
            String::from_utf8_lossy(payload)
        );
    }
}

impl Session {
    fn new(opts: Options) -> Session {
        let info = Info::server(
            "NFUZZ".into(),
            "fuzz".into(),
            "2.15.1",
            "127.0.0.1",
            4222,
            opts.auth_required(),
            opts.max_payload,
        );
        #[cfg(feature = "cluster")]
        let clustered = opts.cluster.is_some();
        #[cfg(not(feature = "cluster"))]
        let clustered = false;
        let single_account = opts.accounts.is_empty();
        Session {
            accepts_leafs: opts.leafnodes.is_some(),
            leafs: Vec::new(),
            next_leaf_id: 0,
            gone_interest: Vec::new(),
            published: Default::default(),
            no_auth_user: opts.no_auth_user.clone().unwrap_or_default(),
            max_control_line: opts.max_control_line as usize,
            max_payload: opts.max_payload as usize,
            core: Core::new(
                opts,
                info,
                1,
                WallClock::new(std::time::Instant::now(), std::time::SystemTime::now()),
            ),
            now: Instant::now(),
            clients: Vec::new(),
            #[cfg(feature = "cluster")]
            routes: Vec::new(),
            clustered,
            #[cfg(feature = "cluster")]
            next_route_id: 0,
            #[cfg(feature = "cluster")]
            gone_route_interest: Vec::new(),
            ledger: Ledger::default(),
            single_account,
        }
    }

    fn step(&mut self, input: &mut Input) {
        let action = input.below(9);
        if action == 0 || self.clients.is_empty() {
            if self.clustered && input.below(3) == 0 {
                self.accept_route();
            } else if self.accepts_leafs && input.bool() {
                if self.leafs.len() < MAX_LEAFS {
                    self.accept_leaf();
                }
            } else if self.clients.len() < MAX_CLIENTS {
                self.accept();
            }
            return;
        }
        #[cfg(feature = "cluster")]
        if !self.routes.is_empty() && input.below(3) == 0 {
            return self.route_step(action, input);
        }
        if !self.leafs.is_empty() && input.below(3) == 0 {
            return self.leaf_step(action, input);
        }
        let i = input.below(self.clients.len());
        match action {
            1 | 2 => {
                let n = input.below(96);
                let bytes = input.take(n).to_vec();
                self.send(i, &bytes);
            }
            3..=5 => {
                let bytes = template(input);
                self.send(i, &bytes);
            }
            6 => {
                let ms = [10, 900, 2_500, 130_000][input.below(4)];
                self.now += Duration::from_millis(ms);
                trace(|| format!("{ms} ms pass"));
                self.core.fire_timers(self.now);
            }
            7 => {
                self.clients[i].stalled = !self.clients[i].stalled;
                trace(|| format!("client {} stalled: {}", i, self.clients[i].stalled));
            }
            _ => self.hang_up(i),
        }
    }

    fn accept(&mut self) {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let key = self.core.accept(addr, self.now);
        trace(|| format!("client {key} accepted"));
        let mut shadow = Parser::new(self.max_control_line, self.max_payload);
        shadow.headers = true;
        self.clients.push(Client {
            key,
            user: String::new(),
            accounts_seen: Vec::new(),
            not_only_a: false,
            shadow: Some(shadow),
            shadow_buf: Vec::new(),
            connect: ConnectOpts::default(),
            subscribed: Vec::new(),
            interest: Vec::new(),
            queues: Vec::new(),
            sent_payloads: Vec::new(),
            deliveries: Vec::new(),
            headers: false,
            out: Vec::new(),
            stalled: false,
        });
    }

    /// The client writes `bytes`; the server reads them as the reactor
    /// would, one read at a time, until they are consumed or it stops.
    fn send(&mut self, i: usize, bytes: &[u8]) {
        trace(|| {
            let key = self.clients[i].key;
            format!("client {key} sends {:?}", String::from_utf8_lossy(bytes))
        });
        let published = self.clients[i].observe_sent(bytes, &self.no_auth_user);
        let account = self.clients[i].account(&self.no_auth_user);
        self.published.entry(account).or_default().extend(published);
        for payload in std::mem::take(&mut self.clients[i].sent_payloads) {
            self.ledger.publish(payload, Origin::Client);
        }
        let key = self.clients[i].key;
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.core.receive(key, &mut rest, self.now) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    #[cfg(not(feature = "leafnodes"))]
    fn accept_leaf(&mut self) {}

    #[cfg(feature = "leafnodes")]
    fn accept_leaf(&mut self) {
        let addr: SocketAddr = "127.0.0.1:7422".parse().unwrap();
        let key = self.core.accept_leaf(addr, false, self.now);
        trace(|| format!("leaf {key} accepted"));
        let id = self.next_leaf_id;
        self.next_leaf_id += 1;
        self.leafs.push(LeafPeer::new(
            key,
            id,
            self.max_control_line,
            self.max_payload,
        ));
    }

    fn leaf_step(&mut self, action: usize, input: &mut Input) {
        let i = input.below(self.leafs.len());
        let bytes = match action {
            1 | 2 => {
                let n = input.below(96);
                input.take(n).to_vec()
            }
            3..=5 => self.leafs[i].template(input),
            6 => {
                let ms = [10, 900, 2_500, 130_000][input.below(4)];
                self.now += Duration::from_millis(ms);
                trace(|| format!("{ms} ms pass"));
                self.core.fire_timers(self.now);
                return;
            }
            7 => {
                self.leafs[i].stalled = !self.leafs[i].stalled;
                trace(|| format!("leaf {} stalled: {}", i, self.leafs[i].stalled));
                return;
            }
            _ => {
                let key = self.leafs[i].key;
                trace(|| format!("peer {key} hangs up"));
                let _ = self.core.receive(key, &mut &b""[..], self.now);
                return;
            }
        };
        trace(|| {
            let key = self.leafs[i].key;
            format!("leaf {key} sends {:?}", String::from_utf8_lossy(&bytes))
        });
        let published = self.leafs[i].observe_sent(&bytes);
        let origin = Origin::Leaf {
            id: self.leafs[i].id,
            cluster: self.leafs[i].cluster,
            hub: self.leafs[i].is_hub,
        };
        for payload in std::mem::take(&mut self.leafs[i].sent_payloads) {
            self.ledger.publish(payload, origin.clone());
        }
        let user = self.leafs[i].user.clone();
        let account = account_of(
            effective_user(&user, &self.no_auth_user),
            &self.no_auth_user,
        );
        self.published.entry(account).or_default().extend(published);
        let key = self.leafs[i].key;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match self.core.receive(key, &mut rest, self.now) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Flush every leaf peer that reads, and check what it got.
    fn settle_leafs(&mut self) {
        let peers: Vec<(usize, &'static str, bool, Vec<Vec<u8>>)> = self
            .leafs
            .iter()
            .map(|l| (l.id, l.cluster, l.is_hub, l.asked.clone()))
            .collect();
        #[allow(unused_mut)]
        let mut client_interest: Vec<Vec<u8>> = self
            .clients
            .iter()
            .flat_map(|c| c.interest.iter().cloned())
            .chain(self.gone_interest.iter().cloned())
            .collect();
        // What the routes asked for goes to a hub too (see
        // `NATS_SERVER_HUB_RULES`).
        #[cfg(feature = "cluster")]
        if !NATS_SERVER_HUB_RULES {
            client_interest.extend(
                self.routes
                    .iter()
                    .flat_map(|r| r.asked.iter())
                    .map(|(_, k)| k.clone()),
            );
            client_interest.extend(self.gone_route_interest.iter().cloned());
        }
        for leaf in &mut self.leafs {
            let room = if leaf.stalled { 7 } else { usize::MAX };
            let mut sink = Trickle::new(room);
            self.core.flush(leaf.key, &mut sink, self.now);
            leaf.check_output(&sink.got, &peers, &client_interest);
            for (payload, queues) in std::mem::take(&mut leaf.deliveries) {
                if let Some(Origin::Leaf { id, cluster, .. }) = self.ledger.origin(&payload) {
                    assert_ne!(*id, leaf.id, "a message sent back where it came from");
                    assert!(
                        cluster.is_empty() || *cluster != leaf.cluster,
                        "a message sent back to the cluster it came from"
                    );
                }
                for queue in &queues {
                    if self.single_account {
                        let to = format!("to leaf {}", leaf.id);
                        self.ledger.queue_hit(&payload, queue, &to);
                    }
                }
            }
        }
    }

    /// What each leaf peer was told adds up to the core's subscriptions.
    fn check_leaf_interest(&self) {
        let told = match self.core.audit_leaf_interest() {
            Ok(told) => told,
            Err(e) => panic!("leaf interest: {e}"),
        };
        for leaf in &self.leafs {
            if leaf.stalled || !leaf.connected || !leaf.is_drained() {
                continue;
            }
            let Some((_, expected)) = told.iter().find(|(k, _)| *k == leaf.key) else {
                continue;
            };
            let expected: std::collections::HashMap<Vec<u8>, u32> =
                expected.iter().map(|(k, &n)| (k.to_vec(), n)).collect();
            assert_eq!(
                leaf.told, expected,
                "what leaf {} was told differs from the core's interest",
                leaf.id
            );
        }
    }

    fn hang_up(&mut self, i: usize) {
        trace(|| format!("client {} hangs up", self.clients[i].key));
        let _ = self
            .core
            .receive(self.clients[i].key, &mut &b""[..], self.now);
    }

    /// Flush every client that reads, check what it got, and reap closed
    /// connections, as the reactor does at the end of a turn.
    fn settle(&mut self) {
        let mut dirty = Vec::new();
        self.core.take_dirty(&mut dirty);
        for client in &mut self.clients {
            // A stalled client takes a few bytes a turn.
            let room = if client.stalled { 7 } else { usize::MAX };
            let mut sink = Trickle::new(room);
            let flushed = self.core.flush(client.key, &mut sink, self.now);
            if !client.stalled {
                assert!(!matches!(flushed, Flushed::Blocked), "nothing blocked");
            }
            client.check_output(&sink.got, &self.published, &self.no_auth_user);
            for (sid, payload) in std::mem::take(&mut client.deliveries) {
                if let Some(queue) = client.queue_of(&sid) {
                    if self.single_account {
                        let to = format!("to client {}", client.key);
                        self.ledger.queue_hit(&payload, queue, &to);
                    }
                }
            }
        }
        self.settle_leafs();
        #[cfg(feature = "cluster")]
        self.settle_routes();
        while let Some((key, last_words)) = self.core.next_closing() {
            if let Some(at) = self.leafs.iter().position(|l| l.key == key) {
                let leaf = self.leafs.swap_remove(at);
                // What it asked for may still be in a hub's unread output
                // (a stalled hub reads a few bytes a step), as a client's.
                if !leaf.is_hub {
                    self.gone_interest.extend(leaf.asked);
                }
                self.core.remove(key, self.now);
                continue;
            }
            #[cfg(feature = "cluster")]
            if let Some(at) = self.routes.iter().position(|r| r.key == key) {
                let route = self.routes.swap_remove(at);
                let asked = route.asked.into_iter().map(|(_, k)| k);
                self.gone_route_interest.extend(asked);
                self.core.remove(key, self.now);
                continue;
            }
            let at = self.clients.iter().position(|c| c.key == key);
            if let Some(at) = at {
                let mut client = self.clients.swap_remove(at);
                self.gone_interest.extend(client.interest.iter().cloned());
                if last_words {
                    let mut sink = Trickle::new(if client.stalled { 7 } else { usize::MAX });
                    self.core.flush_last_words(key, &mut sink);
                    client.check_output(&sink.got, &self.published, &self.no_auth_user);
                }
            }
            self.core.remove(key, self.now);
        }
        // Reaping a connection withdraws its interest: the leaf and route
        // peers get the LS- and RS- before they are compared with the core.
        self.settle_leafs();
        #[cfg(feature = "cluster")]
        self.settle_routes();
        if let Err(e) = self.core.audit() {
            panic!("core audit: {e}");
        }
        self.check_leaf_interest();
        #[cfg(feature = "cluster")]
        self.check_route_interest();
    }
}

#[cfg(not(feature = "cluster"))]
impl Session {
    fn accept_route(&mut self) {}
}

#[cfg(feature = "cluster")]
impl Session {
    fn accept_route(&mut self) {
        if self.routes.len() >= MAX_ROUTES {
            return;
        }
        let addr: SocketAddr = "127.0.0.1:6222".parse().unwrap();
        let key = self.core.accept_route(addr, self.now);
        trace(|| format!("route {key} accepted"));
        let Some(cid) = self.core.client_info(key, false).map(|c| c.summary.cid) else {
            return;
        };
        let id = self.next_route_id;
        self.next_route_id += 1;
        self.routes.push(RoutePeer::new(
            key,
            cid,
            id,
            self.max_control_line,
            self.max_payload,
        ));
    }

    fn route_step(&mut self, action: usize, input: &mut Input) {
        let i = input.below(self.routes.len());
        let bytes = match action {
            1 | 2 => {
                let n = input.below(96);
                input.take(n).to_vec()
            }
            3..=5 => self.routes[i].template(input),
            6 => {
                let ms = [10, 900, 2_500, 130_000][input.below(4)];
                self.now += Duration::from_millis(ms);
                trace(|| format!("{ms} ms pass"));
                self.core.fire_timers(self.now);
                return;
            }
            7 => {
                self.routes[i].stalled = !self.routes[i].stalled;
                trace(|| format!("route {} stalled: {}", i, self.routes[i].stalled));
                return;
            }
            _ => {
                let key = self.routes[i].key;
                trace(|| format!("peer {key} hangs up"));
                let _ = self.core.receive(key, &mut &b""[..], self.now);
                return;
            }
        };
        trace(|| {
            let key = self.routes[i].key;
            format!("route {key} sends {:?}", String::from_utf8_lossy(&bytes))
        });
        let id = self.routes[i].id;
        for sent in self.routes[i].observe_sent(&bytes) {
            // A route's message is published in the account it names.
            let account = ["$G", "A", "B"]
                .into_iter()
                .find(|a| a.as_bytes() == sent.account);
            if let Some(account) = account {
                self.published
                    .entry(account)
                    .or_default()
                    .push(sent.subject);
            }
            let origin = Origin::Route {
                id,
                queues: sent.queues,
            };
            self.ledger.publish(sent.payload, origin);
        }
        let key = self.routes[i].key;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match self.core.receive(key, &mut rest, self.now) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Flush every route peer that reads, check what it got, and follow
    /// the messages it got back to where they came from.
    fn settle_routes(&mut self) {
        let registered: Vec<u64> = self
            .core
            .routes(false)
            .iter()
            .map(|r| r.summary.cid)
            .collect();
        for route in &mut self.routes {
            route.registered = registered.contains(&route.cid);
            let room = if route.stalled { 7 } else { usize::MAX };
            let mut sink = Trickle::new(room);
            let flushed = self.core.flush(route.key, &mut sink, self.now);
            if !route.stalled {
                assert!(!matches!(flushed, Flushed::Blocked), "nothing blocked");
            }
            route.check_output(&sink.got);
            for delivered in std::mem::take(&mut route.deliveries) {
                let to = format!("to route {}", route.id);
                if self.single_account {
                    for queue in &delivered.queues {
                        self.ledger.queue_hit(&delivered.payload, queue, &to);
                    }
                }
                let Some(origin) = self.ledger.origin(&delivered.payload).cloned() else {
                    continue;
                };
                let subject = String::from_utf8_lossy(&delivered.subject);
                match origin {
                    Origin::Route { id, .. } => panic!(
                        "a message from route {id} on {subject:?} went {to}: routes are one hop"
                    ),
                    Origin::Leaf { id, hub: true, .. } if NATS_SERVER_HUB_RULES => panic!(
                        "a message from leaf {id}, our hub, on {subject:?} went {to} \
                         (nats-server sends nothing from a hub to its routes)"
                    ),
                    _ => {}
                }
                let hits = self
                    .ledger
                    .route_hits
                    .entry((
                        delivered.payload.clone(),
                        delivered.account.clone(),
                        route.id,
                    ))
                    .or_default();
                *hits += 1;
                assert!(
                    *hits == 1,
                    "{:?} on {subject:?} went {to} {hits} times",
                    String::from_utf8_lossy(&delivered.payload)
                );
            }
        }
    }

    /// This server's interest worked out afresh from the subscriptions of
    /// its clients and leaf nodes (but those of a hub): `account subject`
    /// -> 1, `account subject queue` -> the group's weight.
    fn expected_route_interest(&self) -> std::collections::HashMap<String, u32> {
        let spokes: Vec<u64> = self
            .core
            .leafs(None, false)
            .iter()
            .filter(|l| l.is_spoke)
            .map(|l| l.summary.cid)
            .collect();
        let keys: Vec<usize> = self.core.client_summaries().map(|(k, _)| k).collect();
        let mut expected = std::collections::HashMap::new();
        for key in keys {
            let Some(info) = self.core.client_info(key, true) else {
                continue;
            };
            if NATS_SERVER_HUB_RULES && spokes.contains(&info.summary.cid) {
                continue;
            }
            let leaf = self.leafs.iter().find(|l| l.key == key);
            for sub in &info.subs {
                let mut entry = format!("{} {}", info.account, sub.subject);
                match &sub.queue {
                    Some(queue) => {
                        let weight = leaf.map_or(1, |l| {
                            let key = [sub.subject.as_bytes(), b" ", queue.as_bytes()].concat();
                            l.weights.get(&key).copied().unwrap_or(1)
                        });
                        entry.push(' ');
                        entry.push_str(queue);
                        *expected.entry(entry).or_default() += weight;
                    }
                    None => {
                        expected.insert(entry, 1);
                    }
                }
            }
        }
        // A stream import's shadow asks for the exporter's subject in the
        // exporter's account (as nats-server's `RS+ <exporter> ...`).
        for shadow in self.core.subscriptions().filter(|s| s.is_shadow()) {
            let info = shadow.info();
            let spoke = spokes.contains(&info.cid);
            if NATS_SERVER_HUB_RULES && spoke {
                continue;
            }
            let mut entry = format!(
                "{} {}",
                self.core.account_name(shadow.account()),
                String::from_utf8_lossy(shadow.subject())
            );
            match &info.queue {
                Some(queue) => {
                    entry.push(' ');
                    entry.push_str(queue);
                    *expected.entry(entry).or_default() += 1;
                }
                None => {
                    expected.insert(entry, 1);
                }
            }
        }
        expected
    }

    /// What each registered route peer was told (the bytes it got,
    /// replayed) is this server's own interest.
    fn check_route_interest(&self) {
        if !self.routes.iter().any(|r| r.registered) {
            return;
        }
        let expected = self.expected_route_interest();
        for route in &self.routes {
            if route.stalled || !route.registered || !route.is_drained() {
                continue;
            }
            let told: std::collections::HashMap<String, u32> = route
                .told
                .iter()
                .map(|(k, &n)| (String::from_utf8_lossy(k).into_owned(), n))
                .collect();
            assert_eq!(
                told, expected,
                "what route {} was told differs from this server's interest",
                route.id
            );
        }
    }
}

impl Client {
    /// The account of the client's user, in the fuzzed configuration.
    fn account(&self, no_auth_user: &str) -> &'static str {
        account_of(effective_user(&self.user, no_auth_user), no_auth_user)
    }

    /// Note what the client subscribes to and who it says it is; the
    /// subjects it publishes.
    fn observe_sent(&mut self, bytes: &[u8], no_auth_user: &str) -> Vec<Vec<u8>> {
        let mut published = Vec::new();
        let Some(parser) = &mut self.shadow else {
            return published;
        };
        self.shadow_buf.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            match parser.parse(&self.shadow_buf[pos..]) {
                Ok(Status::Complete((n, op))) => {
                    pos += n;
                    match op {
                        Op::Sub {
                            subject,
                            queue,
                            sid,
                        } => {
                            self.subscribed.push((sid.to_vec(), subject.to_vec()));
                            self.queues.push((sid.to_vec(), queue.map(<[u8]>::to_vec)));
                            self.interest.push(subject.to_vec());
                            if let Some(q) = queue {
                                self.interest.push([subject, b" ", q].concat());
                            }
                        }
                        Op::Connect(json) if self.connect.apply_json(json).is_ok() => {
                            let connect = &self.connect;
                            let user = effective_user(&connect.user, no_auth_user);
                            let account = account_of(user, no_auth_user);
                            if !self.accounts_seen.contains(&account) {
                                self.accounts_seen.push(account);
                            }
                            self.not_only_a |= account != "A";
                            self.user = connect.user.to_string();
                            self.headers |= connect.headers;
                        }
                        Op::Pub(msg) => {
                            published.push(msg.subject.to_vec());
                            self.sent_payloads.push(msg.payload().to_vec());
                        }
                        _ => {}
                    }
                }
                Ok(Status::Partial(n)) => {
                    pos += n;
                    break;
                }
                Err(_) => {
                    // The server closes here too: nothing after counts.
                    self.shadow = None;
                    return published;
                }
            }
        }
        self.shadow_buf.drain(..pos);
        published
    }

    fn check_output(&mut self, bytes: &[u8], published: &Published, no_auth_user: &str) {
        self.out.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some((n, delivered)) = self.check_one(&self.out[pos..], published, no_auth_user) {
            pos += n;
            self.deliveries.extend(delivered);
        }
        self.out.drain(..pos);
    }

    /// The queue group of the client's subscription `sid`: `None` when it
    /// has none, or when the sid was used with different queue groups.
    fn queue_of(&self, sid: &[u8]) -> Option<&[u8]> {
        let mut groups = self.queues.iter().filter(|(s, _)| s == sid).map(|(_, q)| q);
        let first = groups.next()?.as_deref()?;
        groups.all(|q| q.as_deref() == Some(first)).then_some(first)
    }

    /// Check the first server operation in `out`; its length and, for a
    /// message, its sid and payload; `None` when it is not complete yet.
    fn check_one(
        &self,
        out: &[u8],
        published: &Published,
        no_auth_user: &str,
    ) -> Option<(usize, Option<SidPayload>)> {
        let eol = out.windows(2).position(|w| w == b"\r\n")?;
        let line = &out[..eol];
        let after_line = eol + 2;
        if line == b"PING" || line == b"PONG" || line == b"+OK" {
            return Some((after_line, None));
        }
        if let Some(json) = line.strip_prefix(b"INFO ") {
            assert!(json.starts_with(b"{") && json.ends_with(b"} "), "{line:?}");
            return Some((after_line, None));
        }
        if let Some(text) = line.strip_prefix(b"-ERR '") {
            let text = text.strip_suffix(b"'").expect("-ERR text in quotes");
            let text = std::str::from_utf8(text).unwrap();
            assert!(
                error::ALL.contains(&text) || text.starts_with("Permissions Violation for "),
                "-ERR {text:?}"
            );
            return Some((after_line, None));
        }
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let (sizes, args) = match words.split_first() {
            Some((&b"MSG", args)) => (1, args),
            Some((&b"HMSG", args)) => {
                assert!(
                    self.headers,
                    "HMSG to a client that did not ask for headers"
                );
                (2, args)
            }
            _ => panic!(
                "not a server operation: {:?}",
                String::from_utf8_lossy(line)
            ),
        };
        assert!(
            args.len() == 2 + sizes || args.len() == 3 + sizes,
            "{line:?}"
        );
        let (subject, sid) = (args[0], args[1]);
        let number = |w: &[u8]| -> usize { std::str::from_utf8(w).unwrap().parse().unwrap() };
        let total = number(args[args.len() - 1]);
        let header_len = if sizes == 2 {
            number(args[args.len() - 2])
        } else {
            0
        };
        assert!(header_len <= total);
        let end = after_line + total;
        if out.len() < end + 2 {
            return None;
        }
        assert_eq!(&out[end..end + 2], b"\r\n", "payload size of {line:?}");
        let subscribed = self
            .subscribed
            .iter()
            .any(|(s, pattern)| s == sid && model::matches(pattern, subject));
        assert!(
            subscribed,
            "{:?} delivered without a matching subscription",
            String::from_utf8_lossy(line)
        );
        let mut accounts = self.accounts_seen.clone();
        accounts.push(self.account(no_auth_user));
        // The server's own no-responders status goes to the requester.
        let no_responders = out[after_line..end].starts_with(b"NATS/1.0 503\r\n");
        assert!(
            no_responders || accounts.iter().any(|a| reaches(a, subject, published)),
            "{:?} reached accounts {accounts:?} without being published there or imported",
            String::from_utf8_lossy(line)
        );
        if !self.not_only_a && !self.accounts_seen.is_empty() {
            assert!(
                subject != DENIED_TO_A.as_bytes(),
                "a denied subject delivered"
            );
        }
        let payload = out[after_line + header_len..end].to_vec();
        Some((end + 2, Some((sid.to_vec(), payload))))
    }
}

/// Who a client is: the CONNECT user, or the no_auth_user for none.
fn effective_user<'a>(user: &'a str, no_auth_user: &'a str) -> &'a str {
    if user.is_empty() {
        no_auth_user
    } else {
        user
    }
}

/// The account of `user`: only the accounts configuration (the one with
/// a no_auth_user) has accounts besides `$G`.
fn account_of(user: &str, no_auth_user: &str) -> &'static str {
    match user {
        _ if no_auth_user.is_empty() => "$G",
        "a" => "A",
        "b" => "B",
        _ => "$G",
    }
}

type Published = std::collections::HashMap<&'static str, Vec<Vec<u8>>>;

/// A message a client received: its sid and payload.
type SidPayload = (Vec<u8>, Vec<u8>);

/// Whether a message on `subject` may reach `account`: published there, or
/// brought in by one of B's imports of A's exports.
fn reaches(account: &str, subject: &[u8], published: &Published) -> bool {
    let in_account =
        |acc: &str, s: &[u8]| published.get(acc).is_some_and(|p| p.iter().any(|x| x == s));
    if in_account(account, subject) {
        return true;
    }
    match account {
        // A's stream `a.>` under B's prefix `x`; A's responses to B's
        // requests (on the requester's own reply, B's to choose).
        "B" => {
            subject
                .strip_prefix(b"x.")
                .is_some_and(|s| s.starts_with(b"a.") && in_account("A", s))
                || published
                    .get("A")
                    .is_some_and(|p| p.iter().any(|x| x.starts_with(b"_R_.")))
        }
        // B's requests to A's service `b`.
        "A" => subject == b"b" && in_account("B", b"b"),
        _ => false,
    }
}

/// A well-formed operation with fuzzer-chosen details, to get past the
/// parser more often than random bytes do.
fn template(input: &mut Input) -> Vec<u8> {
    let subject = {
        const TOKENS: &[&str] = &["a", "b", "x", "*", ">", "_INBOX", ""];
        let n = 1 + input.below(3);
        (0..n)
            .map(|_| TOKENS[input.below(TOKENS.len())])
            .collect::<Vec<_>>()
            .join(".")
    };
    let sid = 1 + input.below(4);
    let payload = "x".repeat(input.below(24));
    match input.below(8) {
        0 => {
            let flag = |input: &mut Input| if input.bool() { "true" } else { "false" };
            let creds = [
                "",
                r#","user":"u","pass":"p""#,
                r#","auth_token":"t""#,
                r#","user":"u","pass":"x""#,
                r#","user":"a","pass":"pa""#,
                r#","user":"b","pass":"pb""#,
            ];
            format!(
                "CONNECT {{\"verbose\":{},\"pedantic\":{},\"echo\":{},\"headers\":{},\"no_responders\":{},\"protocol\":{}{}}}\r\n",
                flag(input),
                flag(input),
                flag(input),
                flag(input),
                flag(input),
                input.below(3),
                creds[input.below(creds.len())],
            )
        }
        1 => match input.below(3) {
            0 => format!("SUB {subject} q{} {sid}\r\n", input.below(2)),
            _ => format!("SUB {subject} {sid}\r\n"),
        },
        2 => match input.below(2) {
            0 => format!("UNSUB {sid} {}\r\n", input.below(3)),
            _ => format!("UNSUB {sid}\r\n"),
        },
        3 | 4 => {
            let reply = if input.bool() { " _INBOX.r" } else { "" };
            format!("PUB {subject}{reply} {}\r\n{payload}\r\n", payload.len())
        }
        5 => {
            let headers = "NATS/1.0\r\nk: v\r\n\r\n";
            let reply = if input.bool() { " _INBOX.r" } else { "" };
            format!(
                "HPUB {subject}{reply} {} {}\r\n{headers}{payload}\r\n",
                headers.len(),
                headers.len() + payload.len()
            )
        }
        6 => "PING\r\n".into(),
        _ => "PONG\r\n".into(),
    }
    .into_bytes()
}

/// A client's socket: takes `room` bytes, then would block.
struct Trickle {
    room: usize,
    got: Vec<u8>,
}

impl Trickle {
    fn new(room: usize) -> Trickle {
        Trickle {
            room,
            got: Vec::new(),
        }
    }
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
