//! Clusters of three servers, A, B and C, joined by routes (`cluster {
//! name, port, routes [...] }`, a full mesh), each a process started on a
//! config file of its own, and raw clients on each checking what crosses.
//!
//! Every scenario runs for each topology, named by the kinds of A, B and C:
//! `go-go-go` (the reference nats-server, `target/ref/bin/nats-server`, all
//! three: what the others must match), `natsd-go-natsd`, `go-natsd-go` and
//! `natsd-natsd-natsd`. `NATSD_CLUSTER_TOPOLOGIES` may name some of them
//! (`NATSD_CLUSTER_TOPOLOGIES=go-go-go,go-natsd-go`) to run only those. A
//! failure names its topology; the log of each server of a failed run is
//! printed, and every server's full log stays in
//! `target/tmp/cluster-<test>-<topology>-<pid>/`.
//!
//! Without the reference binary the topologies with nats-server are
//! skipped, unless `NATS_CONFORMANCE_REQUIRED=1` makes that a failure.
//!
//! By default each server lists the other two in `routes`; the mesh is
//! awaited on `/routez` (every server with a route to each of the others,
//! `num_routes` 2), interest by probes that must come through
//! (`interest_crossed`), the end of a stream by a last message on the same
//! path. No fixed sleeps; every wait has a deadline. The three servers of
//! a cluster start at once, each knowing the others' route ports.
//!
//! Where a topology has two nats-servers they are given `pool_size: -1`
//! (no route pooling, one route to each peer, as before 2.10 and as natsd
//! does): with its default pool of three, plus a route of its own for the
//! system account, two nats-servers keep four connections to each other,
//! and `num_routes` would not say "2" for a mesh of three. The one
//! nats-server of `natsd-go-natsd` keeps its defaults (a pool of three,
//! `compression: accept`, a route of its own for `$SYS`), as in the field:
//! its routes to natsd must form all the same, one each, its `$SYS` route
//! refused. It keeps its system account: its `$SYS` interest crosses the
//! routes to natsd as it would in the field.
//!
//! Scenarios that natsd does not pass yet may skip the failing topologies
//! only, listed in [`SKIP`] with why; `NATSD_CLUSTER_NO_SKIP=1` runs them
//! all the same.
#![cfg(feature = "cluster")]

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::*;
use serde_json::{json, Value};

/// Runs natsd must be fixed for before they pass: (test, topology, why).
/// Only these topologies of these tests are skipped; remove an entry once
/// natsd passes it (`NATSD_CLUSTER_NO_SKIP=1` runs them).
const SKIP: &[(&str, &str, &str)] = &[
    // C a natsd: a client on C publishes to q1, with one member on B (a
    // client) and one on L, a leaf server of A (its interest crosses A's
    // route as that of A). nats-server's C sends every message to B: A
    // announces the leaf's member with its origin cluster (`LS+` on a
    // route whose INFO has `lnoc`), and a routed member on behalf of a leaf
    // is only the fallback. natsd announces no `lnoc`, so A's member comes
    // as a plain `RS+`, and natsd's C picks between A and B at random (50
    // messages: 20 to 26 to L). See README, "Clustering".
    (
        "cluster_as_hub_queue",
        "natsd-go-natsd",
        "natsd C sends q1 messages to a leaf's member behind A's route, not only to B's",
    ),
    (
        "cluster_as_hub_queue",
        "natsd-natsd-natsd",
        "natsd C sends q1 messages to a leaf's member behind A's route, not only to B's",
    ),
];

/// Where this file's runs come from (`NATSD_CLUSTER_TOPOLOGIES`), which are
/// skipped ([`SKIP`], `NATSD_CLUSTER_NO_SKIP=1`), where their directories
/// go.
const SUITE: Suite = Suite {
    name: "cluster",
    topologies_env: "NATSD_CLUSTER_TOPOLOGIES",
    no_skip_env: "NATSD_CLUSTER_NO_SKIP",
    skip: SKIP,
};

/// The cluster's name in every config (`cluster { name }`).
const CLUSTER: &str = "natsd_test";

/// The names of the three servers, in order.
const NAMES: [&str; 3] = ["A", "B", "C"];

// ---------------------------------------------------------------------
// Topologies.

/// The kinds of A, B and C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Topology([Kind; 3]);

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{}-{}-{}", a.label(), b.label(), c.label())
    }
}

/// The topologies to run: all-Go (the baseline), natsd on both sides of a
/// nats-server, nats-server on both sides of natsd, all-natsd; or those
/// `NATSD_CLUSTER_TOPOLOGIES` names; those with nats-server only when it
/// is installed.
fn topologies() -> Vec<Topology> {
    use Kind::{Go, Natsd};
    let have_go = have_go();
    [
        [Go, Go, Go],
        [Natsd, Go, Natsd],
        [Go, Natsd, Go],
        [Natsd, Natsd, Natsd],
    ]
    .into_iter()
    .map(Topology)
    .filter(|t| SUITE.wanted(&t.to_string()))
    .filter(|t| have_go || !t.0.contains(&Go))
    .collect()
}

/// One run of a scenario: its topology and a directory of its own.
struct Setup {
    topology: Topology,
    dir: PathBuf,
}

/// Run `scenario` for each topology; every topology runs even when one
/// fails, and the failure names each that failed.
fn each_topology(test: &str, scenario: impl Fn(&Setup)) {
    SUITE.each_run(test, topologies(), |topology, dir| {
        scenario(&Setup { topology, dir })
    });
}

/// What goes in one server's `cluster {}` block besides its name, host
/// and port.
#[derive(Clone, Default)]
struct Member {
    /// The route URLs, `nats-route://...`.
    routes: Vec<String>,
    /// More lines inside `cluster {}`.
    more: String,
    /// More lines at the top level.
    top: String,
    /// `cluster { name }` if not [`CLUSTER`].
    name: Option<String>,
}

/// A route URL to `ports`' cluster port, with `user:pass@` if given.
fn route_url(ports: &Ports, creds: Option<&str>) -> String {
    let creds = creds.map(|c| format!("{c}@")).unwrap_or_default();
    format!("nats-route://{creds}127.0.0.1:{}", ports.cluster)
}

/// The lines of a server of `kind`: the top-level ones, `cluster {}`;
/// `pool`: a nats-server gets `pool_size: -1`.
fn member_config(kind: Kind, ports: &Ports, member: &Member, pool: bool) -> String {
    let routes: Vec<String> = member.routes.iter().map(|r| format!("{r:?}")).collect();
    // See the file's doc: one route to each peer.
    let pool = if kind == Kind::Go && pool {
        "  pool_size: -1\n"
    } else {
        ""
    };
    format!(
        "{}\ncluster {{\n  name: {}\n  host: 127.0.0.1\n  port: {}\n{pool}  routes [ {} ]\n{}\n}}\n",
        member.top,
        member.name.as_deref().unwrap_or(CLUSTER),
        ports.cluster,
        routes.join(", "),
        member.more
    )
}

impl Setup {
    /// A, B and C started at once, each with the config `member` makes of
    /// its index and the three servers' ports (picked first, so each may
    /// route to the others); if a port was taken, all three start again on
    /// others. Not awaited: see [`wait_mesh`].
    fn cluster(&self, member: impl Fn(usize, &[Ports; 3]) -> Member + Sync) -> [Server; 3] {
        let mut why = String::new();
        let gos = self.topology.0.iter().filter(|&&k| k == Kind::Go).count();
        for _ in 0..5 {
            let ports = [Ports::pick(), Ports::pick(), Ports::pick()];
            let started: Vec<Result<Server, StartError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..3)
                    .map(|i| {
                        let (member, ports, dir) = (&member, &ports, &self.dir);
                        let kind = self.topology.0[i];
                        scope.spawn(move || {
                            let m = member(i, ports);
                            Server::try_start(kind, dir, NAMES[i], ports[i], &|p| {
                                member_config(kind, p, &m, gos > 1)
                            })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            let mut servers = Vec::new();
            for s in started {
                match s {
                    Ok(server) => servers.push(server),
                    Err(StartError::PortTaken(log)) => why = log,
                }
            }
            if let Ok(servers) = <[Server; 3]>::try_from(servers) {
                return servers;
            }
        }
        panic!("no free ports for the cluster: {why}");
    }

    /// The full mesh: each server routes to the other two; `more` goes in
    /// every `cluster {}` block. Awaited.
    fn mesh(&self) -> [Server; 3] {
        let servers = self.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            ..Member::default()
        });
        wait_mesh(&servers);
        servers
    }

    /// A server of `kind` named `name`, apart from the three.
    fn extra(&self, kind: Kind, name: &str, member: Member) -> Server {
        Server::start(kind, &self.dir, name, &|p| {
            member_config(kind, p, &member, true)
        })
    }
}

/// The indices of the two servers other than `i`.
fn others(i: usize) -> impl Iterator<Item = usize> {
    (0..3).filter(move |j| *j != i)
}

// ---------------------------------------------------------------------
// What the monitors say of routes.

impl Server {
    /// `/routez`, `None` while the monitor does not answer.
    fn routez(&self) -> Option<Value> {
        self.try_monitor("/routez").ok()
    }

    /// `num_routes` of `/routez`.
    fn num_routes(&self) -> Option<u64> {
        self.routez()?["num_routes"].as_u64()
    }

    /// The `remote_name`s of `/routez`'s routes, sorted (once per route).
    fn route_names(&self) -> Option<Vec<String>> {
        let routez = self.routez()?;
        let mut names: Vec<String> = routez["routes"]
            .as_array()?
            .iter()
            .map(|r| r["remote_name"].as_str().unwrap_or("?").to_string())
            .collect();
        names.sort();
        Some(names)
    }

    /// The route to `remote` in `/routez` (`query`: `?subs=1` or none).
    #[track_caller]
    fn route_to(&self, remote: &str, query: &str) -> Value {
        let routez = self.monitor(&format!("/routez{query}"));
        routez["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["remote_name"] == remote)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no route to {remote} in {routez}", self.name))
    }

    /// The subjects `/routez?subs=1` lists for the route to `remote` (what
    /// `remote` sent over), those starting with `prefix`, sorted.
    #[track_caller]
    fn routez_subs(&self, remote: &str, prefix: &str) -> Vec<String> {
        let route = self.route_to(remote, "?subs=1");
        let mut subs: Vec<String> = route["subscriptions_list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .filter(|s| s.starts_with(prefix))
            .map(str::to_string)
            .collect();
        subs.sort();
        subs
    }

    /// `ip:port` of its client listener, as in `connect_urls`.
    fn client_url(&self) -> String {
        format!("127.0.0.1:{}", self.ports.client)
    }
}

/// Wait until each of `servers` has one route to each of the others (by
/// `remote_name`, `num_routes` the same) and no more.
#[track_caller]
fn wait_mesh(servers: &[Server]) {
    let refs: Vec<&Server> = servers.iter().collect();
    wait_mesh_of(&refs);
}

#[track_caller]
fn wait_mesh_of(servers: &[&Server]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen: Vec<(Option<u64>, Option<Vec<String>>)> = servers
            .iter()
            .map(|s| (s.num_routes(), s.route_names()))
            .collect();
        let meshed = servers.iter().zip(&seen).all(|(s, (n, names))| {
            let mut expected: Vec<String> = servers
                .iter()
                .filter(|o| o.name != s.name)
                .map(|o| o.name.clone())
                .collect();
            expected.sort();
            *n == Some(expected.len() as u64) && names.as_ref() == Some(&expected)
        });
        if meshed {
            return;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
            panic!(
                "no full mesh of {names:?} within {PATIENCE:?}: \
                 (num_routes, remote names) {seen:?}"
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Wait until `/routez` of `server` shows `n` routes.
#[track_caller]
fn wait_routes(server: &Server, n: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen = server.num_routes();
        if seen == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: /routez num_routes {seen:?}, not {n} within {PATIENCE:?}",
            server.name
        );
        std::thread::sleep(POLL);
    }
}

/// For `patience`, `server` keeps `n` routes (a bounded wait for nothing
/// to happen).
#[track_caller]
fn stays_at(server: &Server, n: u64, patience: Duration) {
    let until = Instant::now() + patience;
    while Instant::now() < until {
        assert_eq!(
            server.num_routes(),
            Some(n),
            "{}: /routez num_routes changed: {:?}",
            server.name,
            server.routez()
        );
        std::thread::sleep(POLL);
    }
}

/// Wait until `/routez?subs=1` of `server` lists `subject` for its route
/// to `remote` (or, with `listed` false, no longer does).
#[track_caller]
fn wait_listed(server: &Server, remote: &str, subject: &str, listed: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let subs = server.routez_subs(remote, "");
        if subs.iter().any(|s| s == subject) == listed {
            return;
        }
        if Instant::now() > deadline {
            let state = if listed { "listed" } else { "gone" };
            let subs: Vec<&String> = subs.iter().filter(|s| !s.starts_with("$SYS.")).collect();
            panic!(
                "{}: {subject:?} not {state} for the route to {remote} in /routez?subs=1 \
                 within {PATIENCE:?}: {subs:?}",
                server.name
            );
        }
        std::thread::sleep(POLL);
    }
}

/// The set of `connect_urls` of an INFO (empty if absent).
fn connect_urls(info: &Value) -> BTreeSet<String> {
    info["connect_urls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect()
}

/// The set of the client URLs of `servers`.
fn urls_of(servers: &[&Server]) -> BTreeSet<String> {
    servers.iter().map(|s| s.client_url()).collect()
}

/// Wait until `client` has had an INFO (the first or a later one) that
/// `matches`: that INFO.
#[track_caller]
fn wait_info(client: &mut Client, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(info) = client.infos.iter().find(|i| matches(i)) {
            return info.clone();
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = client
                .infos
                .iter()
                .map(|i| format!("connect_urls {:?} ldm {}", connect_urls(i), i["ldm"]))
                .collect();
            panic!(
                "{}: no INFO with {what} within {PATIENCE:?}; had {seen:?}",
                client.what
            );
        }
        client.read_some();
    }
}

/// Run `f` on a current-thread tokio runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

// ---------------------------------------------------------------------
// Scenarios.

/// Scenario 1: Messages cross between every ordered pair of servers: to a
/// literal subscription, then to a wildcard one (`exchange`: with a reply
/// subject, HPUB as HMSG with the same header bytes, 512 KiB, 100 in
/// order, each once).
#[test]
fn pub_sub() {
    each_topology("pub_sub", |setup| {
        let servers = setup.mesh();
        let mut clients: Vec<Client> = servers
            .iter()
            .map(|s| s.client(&format!("{} client", s.name)))
            .collect();
        // Every client subscribes to what each other server sends it.
        for (j, to) in clients.iter_mut().enumerate() {
            for i in others(j) {
                to.sub(&format!("{}to{}.>", NAMES[i], NAMES[j]));
            }
            to.flush();
        }
        for j in 0..3 {
            for i in others(j) {
                let (from, to) = pair(&mut clients, i, j);
                interest_crossed(to, from);
            }
        }
        for (j, to_name) in NAMES.iter().enumerate() {
            for i in others(j) {
                let (from, to) = pair(&mut clients, i, j);
                crosses(from, to, &format!("literal.{}.{to_name}", NAMES[i]));
                exchange(from, to, &format!("{}to{to_name}", NAMES[i]));
            }
        }
    });
}

/// Two distinct clients of `clients`, `i`'s and `j`'s, both mutable.
fn pair(clients: &mut [Client], i: usize, j: usize) -> (&mut Client, &mut Client) {
    assert_ne!(i, j);
    if i < j {
        let (left, right) = clients.split_at_mut(j);
        (&mut left[i], &mut right[0])
    } else {
        let (left, right) = clients.split_at_mut(i);
        (&mut right[0], &mut left[j])
    }
}

/// Scenario 2: Request/reply across the cluster: a raw replier on B, raw
/// requesters on A and C, then 20 concurrent requests of async-nats on C
/// (its muxed wildcard inbox). No responders: a request (the client has
/// headers and no_responders) on A with no replier anywhere gets the 503
/// status with `Nats-Subject`; async-nats sees `NoResponders`.
#[test]
fn request_reply() {
    each_topology("request_reply", |setup| {
        let [a, b, c] = setup.mesh();
        let mut replier = b.client("B replier");
        replier.sub("svc.b");
        replier.flush();
        for requester_server in [&a, &c] {
            let mut requester = requester_server.client("requester");
            interest_crossed(&mut replier, &mut requester);
            let inbox = format!("_INBOX.raw.{}", requester_server.name);
            requester.sub(&inbox);
            requester.flush();
            interest_crossed(&mut requester, &mut replier);
            requester.publish("svc.b", Some(&inbox), b"ping");
            let request = replier.expect_msg("svc.b");
            assert_eq!(request.payload, b"ping");
            assert_eq!(request.reply.as_deref(), Some(inbox.as_str()));
            replier.publish(&inbox, None, b"pong");
            let response = requester.expect_msg(&inbox);
            assert_eq!(response.payload, b"pong");
            requester.expect_nothing();
        }

        // async-nats on C, the raw replier on B answering in a thread.
        const N: usize = 20;
        let answering = std::thread::spawn(move || {
            for _ in 0..N {
                let request = replier.expect_msg("svc.b");
                let reply = request.reply.clone().expect("a reply subject");
                let mut answer = b"re:".to_vec();
                answer.extend_from_slice(&request.payload);
                replier.publish(&reply, None, &answer);
            }
            replier.flush();
        });
        let url = format!("nats://{}", c.client_addr());
        let answers = block_on(async {
            let client = tokio::time::timeout(PATIENCE, async_nats::connect(url))
                .await
                .expect("async-nats connects in time")
                .expect("async-nats connects");
            let requests = (0..N).map(|i| {
                let client = client.clone();
                async move {
                    tokio::time::timeout(PATIENCE, client.request("svc.b", i.to_string().into()))
                        .await
                        .expect("an answer in time")
                        .expect("an answer")
                }
            });
            futures::future::join_all(requests).await
        });
        answering
            .join()
            .expect("the replier answered every request");
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(answer.payload, format!("re:{i}").as_bytes());
        }

        // No responders anywhere.
        let mut requester = a.client("A requester");
        let sid = requester.sub("_INBOX.none");
        requester.publish("nobody.home", Some("_INBOX.none"), b"anyone?");
        let status = requester.expect_msg("_INBOX.none");
        assert_eq!(status.sid, sid);
        assert_eq!(
            status.headers.as_deref(),
            Some(&b"NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n"[..]),
            "{status:?}"
        );
        assert!(status.payload.is_empty(), "{status:?}");
        requester.expect_nothing();
        let url = format!("nats://{}", a.client_addr());
        block_on(async {
            let client = async_nats::connect(url).await.expect("async-nats connects");
            let error =
                tokio::time::timeout(PATIENCE, client.request("nobody.home", "anyone?".into()))
                    .await
                    .expect("an answer in time")
                    .expect_err("no responders");
            assert_eq!(
                error.kind(),
                async_nats::RequestErrorKind::NoResponders,
                "{error}"
            );
        });
    });
}

/// Scenario 3: Queue groups, as nats-server picks a member: for a message
/// from a client, at random among all the group's members cluster-wide,
/// the local ones no more likely than those behind a route (a route's
/// queue interest weighs as many members as its server has); for a
/// message that came in on a route, only among the local members (never
/// on to another route). So with two members of `q1` on B, one on C and a
/// plain subscriber on C, N messages published on A each go to one member
/// once, about two thirds of them to B; the plain subscriber gets all.
/// With a member on A too, messages published on A still go to each of
/// A, B and C, once each.
#[test]
fn queue_groups() {
    const N: usize = 300;
    each_topology("queue_groups", |setup| {
        let [a, b, c] = setup.mesh();
        let mut member_b = b.client("B q1 member");
        let mut member_b2 = b.client("second B q1 member");
        let mut member_c = c.client("C q1 member");
        let mut plain_c = c.client("C plain subscriber");
        let mut pub_a = a.client("A publisher");
        for member in [&mut member_b, &mut member_b2, &mut member_c] {
            member.sub_queue("work", "q1");
            member.sub("work.end");
            member.flush();
            interest_crossed(member, &mut pub_a);
        }
        plain_c.sub("work");
        plain_c.sub("work.end");
        plain_c.flush();
        interest_crossed(&mut plain_c, &mut pub_a);

        // N messages, then `work.end` (which every receiver subscribed to
        // plainly) on the same paths: the payloads each got.
        let round = |publisher: &mut Client, receivers: &mut [&mut Client]| -> Vec<Vec<usize>> {
            for i in 0..N {
                publisher.publish("work", None, i.to_string().as_bytes());
            }
            publisher.publish("work.end", None, b"");
            publisher.flush();
            receivers
                .iter_mut()
                .map(|r| {
                    r.until("work", "work.end")
                        .iter()
                        .map(|m| String::from_utf8_lossy(&m.payload).parse().unwrap())
                        .collect()
                })
                .collect()
        };
        let all: Vec<usize> = (0..N).collect();
        let once = |got: &[Vec<usize>], what: &str| {
            let mut members: Vec<usize> = got.iter().flatten().copied().collect();
            members.sort_unstable();
            let counts: Vec<usize> = got.iter().map(Vec::len).collect();
            assert_eq!(members, all, "{what}: each message once to q1 ({counts:?})");
            counts
        };

        let mut receivers = [&mut member_b, &mut member_b2, &mut member_c, &mut plain_c];
        let got = round(&mut pub_a, &mut receivers);
        let counts = once(&got[..3], "members on B, B, C");
        assert_eq!(got[3], all, "the plain subscriber on C");
        let to_b = counts[0] + counts[1];
        assert!(
            counts[2] > 0 && (N / 2..=N * 4 / 5).contains(&to_b),
            "from A, q1 with two members on B and one on C: {to_b} of {N} to B, {} to C \
             (nats-server: about two thirds to B)",
            counts[2]
        );
        eprintln!(
            "[{}] q1 from A: {to_b} to B's two members, {} to C's",
            setup.topology, counts[2]
        );

        // A member on A: no more likely than the others.
        let mut member_a = a.client("A q1 member");
        member_a.sub_queue("work", "q1");
        member_a.sub("work.end");
        member_a.flush();
        interest_crossed(&mut member_a, &mut pub_a);
        let mut receivers = [
            &mut member_a,
            &mut member_b,
            &mut member_b2,
            &mut member_c,
            &mut plain_c,
        ];
        let got = round(&mut pub_a, &mut receivers);
        let counts = once(&got[..4], "members on A, B, B, C");
        assert_eq!(got[4], all, "the plain subscriber on C");
        assert!(
            counts[0] > 0 && counts[1] + counts[2] > 0 && counts[3] > 0,
            "from A, q1 with a member on A, two on B, one on C: {counts:?} \
             (nats-server picks among all members, the local one no more likely)"
        );
        eprintln!(
            "[{}] q1 from A with a member on A: {counts:?}",
            setup.topology
        );
        for client in receivers {
            client.expect_nothing();
        }
    });
}

/// Scenario 4: The one-hop rule: a subscriber on each server (`hop.>`, one
/// also on `hop.*`, a second subscription on the same client), each server
/// publishing in turn: each subscription gets each message once, in order.
/// Then a barrier from each server, which would come after any copy passed
/// on by a server that forwarded what a route brought: nothing late.
#[test]
fn one_hop() {
    const N: usize = 30;
    each_topology("one_hop", |setup| {
        let servers = setup.mesh();
        let mut clients: Vec<Client> = servers
            .iter()
            .map(|s| s.client(&format!("{} client", s.name)))
            .collect();
        let mut wild_sid = 0;
        for (i, client) in clients.iter_mut().enumerate() {
            client.sub("hop.>");
            if i == 1 {
                wild_sid = client.sub("hop.*");
            }
            client.flush();
        }
        for j in 0..3 {
            for i in others(j) {
                let (from, to) = pair(&mut clients, i, j);
                interest_crossed(to, from);
            }
        }
        let sent: Vec<String> = (0..N).map(|i| i.to_string()).collect();
        for p in 0..3 {
            for i in 0..N {
                clients[p].publish("hop.data", None, i.to_string().as_bytes());
            }
            clients[p].publish("hop.end", None, b"");
            clients[p].flush();
            for (j, client) in clients.iter_mut().enumerate() {
                let got = client.until("hop.data", "hop.end");
                // `hop.end` comes once per subscription matching it: B's
                // second comes later.
                let (wild, plain): (Vec<Msg>, Vec<Msg>) =
                    got.into_iter().partition(|m| m.sid == wild_sid && j == 1);
                let payloads = |ms: &[Msg]| -> Vec<String> {
                    ms.iter()
                        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                        .collect()
                };
                if j == 1 {
                    let mut wild = payloads(&wild);
                    wild.extend(payloads(&client.until("hop.data", "hop.end")));
                    assert_eq!(wild, sent, "{} (hop.*) from {}", NAMES[j], NAMES[p]);
                }
                assert_eq!(
                    payloads(&plain),
                    sent,
                    "{} (hop.>) from {}: each message once, in order",
                    NAMES[j],
                    NAMES[p]
                );
            }
        }
        // Barriers.
        for p in 0..3 {
            let barrier = format!("hop.barrier{}", NAMES[p]);
            clients[p].publish(&barrier, None, b"");
            clients[p].flush();
        }
        for (j, client) in clients.iter_mut().enumerate() {
            for name in NAMES {
                let barrier = format!("hop.barrier{name}");
                let late = client.until("hop.data", &barrier);
                assert!(
                    late.is_empty(),
                    "{} got copies after the rounds: {late:?}",
                    NAMES[j]
                );
                if j == 1 {
                    // B's second subscription's copy.
                    client.expect_msg(&barrier);
                }
            }
            client.expect_nothing();
        }
    });
}

/// Scenario 5: Interest removed. B's subscriptions show in A's and C's
/// `/routez?subs=1` for the route to B, exactly as subscribed (a queue
/// subscription by its subject alone, listed once for two members; `$SYS`
/// subjects of nats-server aside). With two subscribers on a subject, one
/// UNSUB leaves it listed; the last one takes it off, and a request from A
/// then gets the 503 no-responders status. A client on C closing takes its
/// subjects off A's and B's listings.
#[test]
fn unsub_and_close() {
    each_topology("unsub_and_close", |setup| {
        let [a, b, c] = setup.mesh();

        // The listing.
        let mut lister = b.client("B lister");
        for subject in ["list.plain", "list.wild.*", "list.full.>"] {
            lister.sub(subject);
        }
        lister.sub_queue("list.q", "q1");
        lister.sub_queue("list.q", "q1");
        lister.sub_queue("list.q2", "q2");
        lister.flush();
        for server in [&a, &c] {
            wait_listed(server, "B", "list.q2", true);
            assert_eq!(
                server.routez_subs("B", "list."),
                [
                    "list.full.>",
                    "list.plain",
                    "list.q",
                    "list.q2",
                    "list.wild.*"
                ],
                "{}: /routez?subs=1, the route to B",
                server.name
            );
        }

        // UNSUB.
        let subject = "gone.unsub";
        let mut first = b.client("B first subscriber");
        let mut second = b.client("B second subscriber");
        let first_sid = first.sub(subject);
        first.flush();
        let second_sid = second.sub(subject);
        second.flush();
        let mut requester = a.client("A requester");
        requester.sub("_INBOX.gone");
        requester.flush();
        interest_crossed(&mut second, &mut requester);
        wait_listed(&a, "B", subject, true);
        wait_listed(&c, "B", subject, true);
        first.unsub(first_sid);
        first.flush();
        requester.publish(subject, Some("_INBOX.gone"), b"still?");
        assert_eq!(second.expect_msg(subject).sid, second_sid);
        assert!(a.routez_subs("B", "gone.").contains(&subject.to_string()));
        second.unsub(second_sid);
        second.flush();
        wait_listed(&a, "B", subject, false);
        wait_listed(&c, "B", subject, false);
        requester.publish(subject, Some("_INBOX.gone"), b"anyone?");
        let status = requester.expect_msg("_INBOX.gone");
        let expected = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
        assert_eq!(
            status.headers.as_deref(),
            Some(expected.as_bytes()),
            "{status:?}"
        );
        requester.expect_nothing();

        // A client closing.
        let mut closing = c.client("C closing subscriber");
        closing.sub("gone.close");
        closing.sub_queue("gone.close.q", "q1");
        closing.flush();
        for server in [&a, &b] {
            wait_listed(server, "C", "gone.close", true);
            wait_listed(server, "C", "gone.close.q", true);
        }
        drop(closing);
        for server in [&a, &b] {
            wait_listed(server, "C", "gone.close", false);
            wait_listed(server, "C", "gone.close.q", false);
        }
    });
}

/// Scenario 6: Gossip. A has no routes; B and C know only A. All three end
/// with two routes (B and C found each other: their route `is_configured`
/// false, to A true). A client connected to A while alone has no
/// `connect_urls` in its INFO; as B and C join it gets async INFOs, the
/// last with the three client URLs; a new client of A gets them in its
/// first INFO. Messages then go between B and C.
#[test]
fn gossip() {
    each_topology("gossip", |setup| {
        // A alone with a client, then B and C.
        let a = setup.extra(setup.topology.0[0], "A", Member::default());
        let mut early = a.client("A early client");
        let first = early.infos[0].clone();
        assert!(
            connect_urls(&first).is_empty(),
            "A alone announced connect_urls: {first}"
        );
        let seed = route_url(&a.ports, None);
        let (b, c) = std::thread::scope(|scope| {
            let start = |i: usize| {
                let seed = seed.clone();
                scope.spawn(move || {
                    setup.extra(
                        setup.topology.0[i],
                        NAMES[i],
                        Member {
                            routes: vec![seed],
                            ..Member::default()
                        },
                    )
                })
            };
            let (b, c) = (start(1), start(2));
            (b.join().unwrap(), c.join().unwrap())
        });
        wait_mesh_of(&[&a, &b, &c]);
        for (server, gossiped) in [(&b, "C"), (&c, "B")] {
            assert_eq!(
                server.route_to("A", "")["is_configured"],
                true,
                "{}",
                server.name
            );
            assert_eq!(
                server.route_to(gossiped, "")["is_configured"],
                false,
                "{}'s route to {gossiped}",
                server.name
            );
        }
        let all = urls_of(&[&a, &b, &c]);
        wait_info(&mut early, "the three connect_urls", |i| {
            connect_urls(i) == all
        });
        let late = a.client("A late client");
        assert_eq!(connect_urls(&late.infos[0]), all, "{}", late.infos[0]);

        let mut on_b = b.client("B client");
        let mut on_c = c.client("C client");
        crosses(&mut on_b, &mut on_c, "gossip.b_to_c");
        crosses(&mut on_c, &mut on_b, "gossip.c_to_b");
    });
}

/// Scenario 7: `cluster { no_advertise: true }` on C: the mesh forms, but
/// C's client URL is in no `connect_urls`: A's and B's clients get theirs
/// alone, and C's own clients get no `connect_urls` at all (as
/// nats-server does).
#[test]
fn no_advertise() {
    each_topology("no_advertise", |setup| {
        let servers = setup.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            more: if i == 2 {
                "  no_advertise: true".into()
            } else {
                String::new()
            },
            ..Member::default()
        });
        wait_mesh(&servers);
        let [a, b, c] = &servers;
        let advertised = urls_of(&[a, b]);
        for server in [a, b] {
            let mut client = server.client(&format!("{} client", server.name));
            // The first INFO may precede the last gossip: wait for it.
            wait_info(&mut client, "A's and B's connect_urls", |i| {
                connect_urls(i) == advertised
            });
        }
        let mut client = c.client("C client");
        client.flush();
        for info in &client.infos {
            assert!(
                connect_urls(info).is_empty(),
                "C (no_advertise) gave its client connect_urls: {info}"
            );
        }
    });
}

/// Scenario 8: B killed (SIGKILL) and restarted on the same config: A and
/// C keep their route and traffic while it is down; when it is back, the
/// mesh forms again, the interest of A's old subscriber reaches the new B
/// (a message from B comes through), and messages go both ways.
#[test]
fn restart() {
    each_topology("restart", |setup| {
        let [a, mut b, c] = setup.mesh();
        let mut on_a = a.client("A subscriber");
        let sid = on_a.sub("restart.to_a");
        on_a.flush();
        let mut on_c = c.client("C client");
        {
            let mut on_b = b.client("B client");
            interest_crossed(&mut on_a, &mut on_b);
            on_b.publish("restart.to_a", None, b"before");
            assert_eq!(on_a.expect_msg("restart.to_a").payload, b"before");
        }
        b.stop(false);
        wait_routes(&a, 1);
        wait_routes(&c, 1);
        crosses(&mut on_c, &mut on_a, "restart.c_to_a");
        let down = Instant::now();
        b.restart();
        wait_mesh_of(&[&a, &b, &c]);
        eprintln!(
            "[{}] mesh again {:?} after the restart",
            setup.topology,
            down.elapsed()
        );
        let mut on_b = b.client("new B client");
        let msg = publish_until_received(&mut on_b, &mut on_a, "restart.to_a", b"after");
        assert_eq!(msg.sid, sid);
        crosses(&mut on_a, &mut on_b, "restart.a_to_b");
        crosses(&mut on_c, &mut on_b, "restart.c_to_b");
        crosses(&mut on_b, &mut on_c, "restart.b_to_c");
    });
}

/// Scenario 9: Route authorization: `cluster { authorization { user,
/// password } }` on all three, their routes `nats-route://ru:rp@...`: the
/// mesh forms and messages cross. A fourth server (of B's kind) with the
/// wrong password never gets a route: A logs `authentication error` (and
/// nats-server `Router connection closed: Authentication Failure`), A
/// keeps its two routes.
#[test]
fn cluster_auth() {
    each_topology("cluster_auth", |setup| {
        let auth = "  authorization { user: ru, password: rp }".to_string();
        let servers = setup.cluster(|i, ports| Member {
            routes: others(i)
                .map(|j| route_url(&ports[j], Some("ru:rp")))
                .collect(),
            more: auth.clone(),
            ..Member::default()
        });
        wait_mesh(&servers);
        let [a, _, c] = &servers;
        let mut on_a = a.client("A client");
        let mut on_c = c.client("C client");
        crosses(&mut on_a, &mut on_c, "auth.a_to_c");
        crosses(&mut on_c, &mut on_a, "auth.c_to_a");

        let mark = a.log_mark();
        let wrong = setup.extra(
            setup.topology.0[1],
            "WRONG",
            Member {
                routes: vec![route_url(&a.ports, Some("ru:wrong"))],
                more: auth.clone(),
                ..Member::default()
            },
        );
        let line = expect_logged(a, mark, "authentication error");
        eprintln!("[{}] A: {line}", setup.topology);
        stays_at(&wrong, 0, Duration::from_millis(1500));
        // The three keep (or, after a simultaneous dial both sides
        // dropped, make again) their mesh without the stranger.
        wait_mesh(&servers);
    });
}

/// Scenario 10: Cluster name mismatch: a server in cluster `other` with a
/// route to A never joins: both log `Cluster Name Conflict` (nats-server:
/// the accepting side `Rejecting connection, cluster name "other" does not
/// match "natsd_test"`, then on each side `Router connection closed:
/// Cluster Name Conflict`); A keeps its two routes.
#[test]
fn cluster_name_mismatch() {
    each_topology("cluster_name_mismatch", |setup| {
        let servers = setup.mesh();
        let a = &servers[0];
        let mark = a.log_mark();
        let stranger = setup.extra(
            setup.topology.0[1],
            "STRANGER",
            Member {
                routes: vec![route_url(&a.ports, None)],
                name: Some("other".into()),
                ..Member::default()
            },
        );
        let line = expect_logged(a, mark, "Cluster Name Conflict");
        eprintln!("[{}] A: {line}", setup.topology);
        let line = expect_logged(&stranger, 0, "Cluster Name Conflict");
        eprintln!("[{}] STRANGER: {line}", setup.topology);
        stays_at(&stranger, 0, Duration::from_millis(1500));
        // The three keep (or, after a simultaneous dial both sides
        // dropped, make again) their mesh without the stranger.
        wait_mesh(&servers);
    });
}

/// Scenario 11: What the monitors say. `/varz`: `cluster` is `{name, addr,
/// cluster_port, auth_timeout, tls_timeout, urls}` (the configured routes,
/// in order; `pool_size` aside: nats-server says -1 as configured),
/// `routes` 2, `connect_urls` the three client URLs. `/routez`: its keys,
/// the server's id and name, `num_routes` 2, and each route's keys and
/// values: `remote_id` the other's `/varz` `server_id`, `remote_name`,
/// `is_configured` (as `did_solicit`: false on the accepting side), `ip`, the remote's cluster port when solicited,
/// `compression` "off", and `out_msgs`/`in_msgs` counting what crossed.
/// A nats-server with its defaults (route pooling, `compression:
/// accept`) between two natsd (`natsd-go-natsd`): one route to each, and
/// its route of its own for `$SYS` refused with nats-server's text, on
/// both sides, as between nats-server and a nats-server with `pool_size:
/// -1`.
#[test]
fn go_defaults_with_natsd_peers() {
    each_topology("go_defaults_with_natsd_peers", |setup| {
        if setup.topology.to_string() != "natsd-go-natsd" {
            return;
        }
        let servers = setup.mesh();
        let refused =
            "Not possible to have a dedicated route for account \"$SYS\" between those servers";
        for server in &servers {
            assert!(
                server.logged_within(refused, PATIENCE).is_some(),
                "{}: no {refused:?} in\n{}",
                server.name,
                server.log_tail(40)
            );
        }
        let mut clients: Vec<Client> = servers
            .iter()
            .map(|s| s.client(&format!("{} client", s.name)))
            .collect();
        for j in 0..3 {
            for i in others(j) {
                let (from, to) = pair(&mut clients, i, j);
                crosses(from, to, &format!("defaults.{i}.{j}"));
            }
        }
        assert_eq!(servers[1].route_to("A", "")["compression"], "off");
        assert_eq!(servers[0].route_to("B", "")["compression"], "off");
    });
}

#[test]
fn monitor() {
    const N: u64 = 10;
    each_topology("monitor", |setup| {
        let servers = setup.mesh();
        let varzs: Vec<Value> = servers.iter().map(|s| s.monitor("/varz")).collect();
        let all = urls_of(&servers.iter().collect::<Vec<_>>());
        for (i, (server, varz)) in servers.iter().zip(&varzs).enumerate() {
            let who = format!("{}'s /varz", server.name);
            let mut cluster = varz["cluster"].clone();
            if let Some(c) = cluster.as_object_mut() {
                c.remove("pool_size");
            }
            let urls: Vec<String> = others(i)
                .map(|j| format!("127.0.0.1:{}", servers[j].ports.cluster))
                .collect();
            assert_eq!(
                cluster,
                json!({"name": CLUSTER, "addr": "127.0.0.1", "cluster_port": server.ports.cluster,
                       "auth_timeout": 2, "tls_timeout": 2, "urls": urls}),
                "{who} cluster"
            );
            assert_eq!(varz["routes"], 2, "{who} routes");
            assert_eq!(
                connect_urls(varz),
                all,
                "{who} connect_urls: {}",
                varz["connect_urls"]
            );

            let routez = server.monitor("/routez");
            let keys: BTreeSet<&str> = routez
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["server_id", "server_name", "now", "num_routes", "routes"]),
                "{}'s /routez keys",
                server.name
            );
            assert_eq!(routez["server_id"], varz["server_id"]);
            assert_eq!(routez["server_name"], server.name.as_str());
            assert_eq!(routez["num_routes"], 2);
            for j in others(i) {
                let route = server.route_to(NAMES[j], "");
                let who = format!("{}'s route to {}", server.name, NAMES[j]);
                let keys: BTreeSet<&str> = route
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(
                    keys,
                    BTreeSet::from([
                        "rid",
                        "remote_id",
                        "remote_name",
                        "did_solicit",
                        "is_configured",
                        "ip",
                        "port",
                        "start",
                        "last_activity",
                        "rtt",
                        "uptime",
                        "idle",
                        "pending_size",
                        "in_msgs",
                        "out_msgs",
                        "in_bytes",
                        "out_bytes",
                        "subscriptions",
                        "compression",
                    ]),
                    "{who}: keys of {route}"
                );
                assert_eq!(route["remote_id"], varzs[j]["server_id"], "{who}");
                // Both ends solicited: the connection kept is configured
                // on the side that solicited it (nats-server says false on
                // the accepting side).
                assert_eq!(route["is_configured"], route["did_solicit"], "{who}");
                assert_eq!(route["ip"], "127.0.0.1", "{who}");
                assert_eq!(route["compression"], "off", "{who}");
                assert!(route["did_solicit"].is_boolean(), "{who}: {route}");
                // The port is the peer's cluster port on the connection
                // this side dialed, but when both sides dialed at once the
                // one kept may be the peer's (nats-server then marks it
                // solicited too, `upgradeRouteToSolicited`): any port.
                assert!(route["port"].as_u64().is_some_and(|p| p > 0), "{who}");
                for key in [
                    "rid",
                    "pending_size",
                    "in_msgs",
                    "out_msgs",
                    "subscriptions",
                ] {
                    assert!(route[key].is_u64(), "{who}: {key} in {route}");
                }
                for key in ["start", "last_activity", "rtt", "uptime", "idle"] {
                    assert!(route[key].is_string(), "{who}: {key} in {route}");
                }
            }
        }

        // What crossed, counted on both ends of A's route to B.
        let [a, b, _] = &servers;
        let mut on_a = a.client("A publisher");
        let mut on_b = b.client("B subscriber");
        on_b.sub("counted");
        on_b.flush();
        interest_crossed(&mut on_b, &mut on_a);
        let before = (a.route_to("B", ""), b.route_to("A", ""));
        for _ in 0..N {
            on_a.publish("counted", None, b"0123456789");
        }
        on_a.flush();
        for _ in 0..N {
            on_b.expect_msg("counted");
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let after = (a.route_to("B", ""), b.route_to("A", ""));
            let delta = |new: &Value, old: &Value, key: &str| {
                new[key].as_u64().unwrap_or(0) - old[key].as_u64().unwrap_or(0)
            };
            let deltas = [
                delta(&after.0, &before.0, "out_msgs"),
                delta(&after.1, &before.1, "in_msgs"),
                delta(&after.0, &before.0, "out_bytes"),
                delta(&after.1, &before.1, "in_bytes"),
            ];
            if deltas[0] >= N && deltas[1] >= N && deltas[2] >= 10 * N && deltas[3] >= 10 * N {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "/routez counters after {N} messages of 10 bytes A to B: \
                 (A out_msgs, B in_msgs, A out_bytes, B in_bytes) grew by {deltas:?}"
            );
            std::thread::sleep(POLL);
        }
    });
}

/// Scenario 12: Lame duck mode on B (`lame_duck_duration: "30s"`,
/// `lame_duck_grace_period: "1s"`, entered with `--signal ldm=<pid>`,
/// SIGUSR2): B's clients get an INFO with `ldm: true` and `connect_urls`
/// the other two (B's own gone); A's clients get an INFO whose
/// `connect_urls` no longer has B; B then closes its clients and exits, and
/// A and C are left with their route to each other.
#[test]
fn lame_duck() {
    each_topology("lame_duck", |setup| {
        let mut servers = setup.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            top: if i == 1 {
                "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"".into()
            } else {
                String::new()
            },
            ..Member::default()
        });
        wait_mesh(&servers);
        let all = urls_of(&servers.iter().collect::<Vec<_>>());
        let rest = urls_of(&[&servers[0], &servers[2]]);
        let mut on_b: Vec<Client> = (0..3)
            .map(|i| servers[1].client(&format!("B client {i}")))
            .collect();
        let mut on_a = servers[0].client("A client");
        for client in on_b.iter_mut().chain([&mut on_a]) {
            wait_info(client, "the three connect_urls", |i| connect_urls(i) == all);
        }
        let b = &mut servers[1];
        let mark = b.log_mark();
        let out = Command::new(b.kind.program())
            .arg("--signal")
            .arg(format!("ldm={}", b.pid()))
            .output()
            .unwrap();
        assert!(out.status.success(), "--signal ldm: {out:?}");
        expect_logged(
            b,
            mark,
            "Entering lame duck mode, stop accepting new clients",
        );
        for client in &mut on_b {
            let info = wait_info(client, "ldm", |i| i["ldm"] == true);
            assert_eq!(connect_urls(&info), rest, "B's lame duck INFO: {info}");
        }
        wait_info(&mut on_a, "connect_urls without B", |i| {
            connect_urls(i) == rest
        });
        let status = b.wait_exit(PATIENCE);
        assert!(status.success(), "B exited with {status}");
        wait_mesh_of(&[&servers[0], &servers[2]]);
    });
}

/// Scenario 13: async-nats given the three URLs keeps working when the
/// server it is connected to is killed: a raw replier on another server
/// answers before, and (once the client has reconnected elsewhere and its
/// inbox's interest has crossed) after; requests are retried until one is
/// answered, then ten more must be.
#[test]
fn async_nats_failover() {
    each_topology("async_nats_failover", |setup| {
        let mut servers = setup.mesh();
        let urls: Vec<String> = servers
            .iter()
            .map(|s| format!("nats://{}", s.client_url()))
            .collect();
        block_on(async {
            let client = tokio::time::timeout(
                PATIENCE,
                async_nats::ConnectOptions::new().connect(urls.clone()),
            )
            .await
            .expect("async-nats connects in time")
            .expect("async-nats connects");
            let victim = rust_client_on(&servers).unwrap_or_else(|| {
                let connz: Vec<Value> = servers.iter().map(|s| s.monitor("/connz")).collect();
                panic!("async-nats on none of the three: {connz:?}")
            });
            let home = (victim + 1) % 3;
            let mut replier = servers[home].client("replier");
            replier.sub("failover.svc");
            replier.sub("failover.stop");
            replier.flush();
            let answering = std::thread::spawn(move || loop {
                let request = replier
                    .wait_for(PATIENCE * 3, |m| m.subject.starts_with("failover."))
                    .expect("a request or the stop");
                if request.subject == "failover.stop" {
                    return;
                }
                let reply = request.reply.clone().expect("a reply subject");
                replier.publish(&reply, None, &request.payload);
                replier.flush();
            });
            let ask = |i: usize| {
                let client = client.clone();
                async move {
                    tokio::time::timeout(
                        Duration::from_millis(500),
                        client.request("failover.svc", i.to_string().into()),
                    )
                    .await
                }
            };
            // Before: retried until the replier's interest has crossed.
            until_answered(&ask, 0, "before the kill").await;

            servers[victim].stop(false);
            let killed = Instant::now();
            until_answered(&ask, 1, "after the kill").await;
            let now_on = rust_client_on(&servers);
            eprintln!(
                "[{}] async-nats answered again {:?} after {} was killed (now on {:?})",
                setup.topology,
                killed.elapsed(),
                NAMES[victim],
                now_on.map(|i| NAMES[i])
            );
            assert!(
                now_on.is_some_and(|i| i != victim),
                "async-nats on {now_on:?} after {victim} was killed"
            );
            for i in 2..12 {
                let answer = ask(i)
                    .await
                    .unwrap_or_else(|_| panic!("request {i} timed out"))
                    .unwrap_or_else(|e| panic!("request {i}: {e}"));
                assert_eq!(answer.payload, i.to_string().as_bytes());
            }
            client
                .publish("failover.stop", "".into())
                .await
                .expect("publish the stop");
            client.flush().await.expect("flush");
            answering.join().expect("the replier ran to the stop");
        });
    });
}

/// Which of `servers` (the running ones) has async-nats (`lang` "rust")
/// among its `/connz` connections.
fn rust_client_on(servers: &[Server]) -> Option<usize> {
    servers.iter().position(|s| {
        s.child.is_some()
            && s.monitor("/connz")["connections"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["lang"] == "rust")
    })
}

/// Ask (`ask(i)`) until answered with `i`, within [`PATIENCE`].
async fn until_answered<F, Fut>(ask: &F, i: usize, when: &str)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<
        Output = Result<
            Result<async_nats::Message, async_nats::RequestError>,
            tokio::time::error::Elapsed,
        >,
    >,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let why = match ask(i).await {
            Ok(Ok(answer)) => {
                assert_eq!(answer.payload, i.to_string().as_bytes());
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "no answer {when} within {PATIENCE:?}: {why}"
        );
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------
// TLS routes.

/// A CA of its own and a certificate it signed for `localhost` and
/// `127.0.0.1`, for both server and client authentication (a server uses
/// the same certificate to accept routes and to dial them), as PEM files in
/// `dir/<tag>`: (ca, cert, key).
#[cfg(feature = "tls")]
fn route_certificates(dir: &std::path::Path, tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = dir.join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{tag} CA"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{tag} route"));
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca).unwrap();
    let files = (
        dir.join("ca.pem"),
        dir.join("route-cert.pem"),
        dir.join("route-key.pem"),
    );
    std::fs::write(&files.0, ca.pem()).unwrap();
    std::fs::write(&files.1, cert.pem()).unwrap();
    std::fs::write(&files.2, key.serialize_pem()).unwrap();
    files
}

/// `cluster { tls {} }` lines for these files.
#[cfg(feature = "tls")]
fn route_tls((ca, cert, key): &(PathBuf, PathBuf, PathBuf)) -> String {
    format!("  tls {{ cert_file: {cert:?}, key_file: {key:?}, ca_file: {ca:?} }}")
}

/// Plain TCP connections to the cluster ports of `servers` get no INFO (a
/// TLS route starts with the dialer's ClientHello): nothing within half a
/// second.
#[cfg(feature = "tls")]
#[track_caller]
fn no_plain_info(servers: &[Server]) {
    use std::io::Read;
    let socks: Vec<std::net::TcpStream> = servers
        .iter()
        .map(|s| {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], s.ports.cluster));
            std::net::TcpStream::connect(addr).unwrap()
        })
        .collect();
    let until = Instant::now() + Duration::from_millis(500);
    for (server, mut sock) in servers.iter().zip(socks) {
        let left = until.saturating_duration_since(Instant::now());
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut got = [0u8; 256];
        if let Ok(n @ 1..) = sock.read(&mut got) {
            panic!(
                "{}: its cluster port sent {:?} before any TLS handshake",
                server.name,
                String::from_utf8_lossy(&got[..n])
            );
        }
    }
}

/// Scenario 14: TLS routes: `cluster { tls { cert_file, key_file, ca_file
/// } }` on all three, the same CA and certificate (for server and client
/// authentication) for each. Routes are TLS from their first byte (no INFO
/// before the handshake), each side verifying the other's certificate.
/// The mesh forms (a plain connection to a cluster port gets no INFO) and
/// messages cross between every ordered pair; `/varz`
/// `cluster` says `tls_required` and `tls_verify`. A fourth server (of B's
/// kind) whose certificate another CA signed never gets a route: A, the
/// accepting side, logs `TLS route handshake error` (nats-server's words,
/// on both sides), and A, B and C keep their two routes.
#[cfg(feature = "tls")]
#[test]
fn cluster_tls() {
    each_topology("cluster_tls", |setup| {
        let files = route_certificates(&setup.dir, "cluster");
        let servers = setup.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            more: route_tls(&files),
            ..Member::default()
        });
        wait_mesh(&servers);
        for server in &servers {
            let varz = server.monitor("/varz");
            let cluster = &varz["cluster"];
            eprintln!(
                "[{}] {}'s /varz cluster: {cluster}",
                setup.topology, server.name
            );
            assert_eq!(cluster["tls_required"], true, "{}: {cluster}", server.name);
            assert_eq!(cluster["tls_verify"], true, "{}: {cluster}", server.name);
        }
        no_plain_info(&servers);
        let mut clients: Vec<Client> = servers
            .iter()
            .map(|s| s.client(&format!("{} client", s.name)))
            .collect();
        for (j, to_name) in NAMES.iter().enumerate() {
            for i in others(j) {
                let (from, to) = pair(&mut clients, i, j);
                crosses(from, to, &format!("tls.{}to{to_name}", NAMES[i]));
            }
        }

        let a = &servers[0];
        let other = route_certificates(&setup.dir, "other");
        let mark = a.log_mark();
        let stranger = setup.extra(
            setup.topology.0[1],
            "STRANGER",
            Member {
                routes: vec![route_url(&a.ports, None)],
                more: route_tls(&other),
                ..Member::default()
            },
        );
        let line = expect_logged(a, mark, "TLS route handshake error");
        eprintln!("[{}] A: {line}", setup.topology);
        let line = expect_logged(&stranger, 0, "TLS route handshake error");
        eprintln!("[{}] STRANGER: {line}", setup.topology);
        stays_at(&stranger, 0, Duration::from_millis(1500));
        // The three keep (or, after a simultaneous dial both sides
        // dropped, make again) their mesh without the stranger.
        wait_mesh(&servers);
    });
}

// ---------------------------------------------------------------------
// Routes and leaf nodes together.

/// `leafnodes {}` accepting leaf nodes on the server's leaf port.
#[cfg(feature = "leafnodes")]
fn leaf_listener(ports: &Ports) -> String {
    format!(
        "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n}}\n",
        ports.leaf
    )
}

/// `leafnodes {}` with one remote, to the leaf port `port`.
#[cfg(feature = "leafnodes")]
fn leaf_remote(port: u16) -> String {
    format!("leafnodes {{\n  remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\" }} ]\n}}\n")
}

#[cfg(feature = "leafnodes")]
impl Server {
    /// `leafnodes` of `/leafz`, `None` while the monitor does not answer.
    fn leafnodes(&self) -> Option<u64> {
        self.try_monitor("/leafz").ok()?["leafnodes"].as_u64()
    }
}

/// Wait until `/leafz` of each of `servers` shows `n` leaf connections.
#[cfg(feature = "leafnodes")]
#[track_caller]
fn wait_leafnodes(servers: &[&Server], n: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen: Vec<Option<u64>> = servers.iter().map(|s| s.leafnodes()).collect();
        if seen.iter().all(|c| *c == Some(n)) {
            return;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
            panic!("/leafz leafnodes of {names:?}: {seen:?}, not {n} within {PATIENCE:?}");
        }
        std::thread::sleep(POLL);
    }
}

/// How long, once the copies expected have come, every receiver is
/// watched for more (a copy by another path, a duplicate).
#[cfg(feature = "leafnodes")]
const QUIET: Duration = Duration::from_millis(300);

/// Read every one of `clients` for [`QUIET`].
#[cfg(feature = "leafnodes")]
fn quiet(clients: &mut [&mut Client]) {
    let until = Instant::now() + QUIET;
    while Instant::now() < until {
        for client in clients.iter_mut() {
            client.read_some();
        }
    }
}

/// Take `client`'s pending messages on `subject`: their payloads, parsed.
#[cfg(feature = "leafnodes")]
fn take(client: &mut Client, subject: &str) -> Vec<usize> {
    let mut got = Vec::new();
    client.pending.retain(|m| {
        if m.subject == subject {
            got.push(String::from_utf8_lossy(&m.payload).parse().unwrap());
            false
        } else {
            true
        }
    });
    got
}

/// `from` publishes `n` messages on `subject` (payloads `0..n`); each of
/// `to` must get each message exactly as many times as it says (0: none):
/// awaited until they have come, then nothing more for [`QUIET`].
#[cfg(feature = "leafnodes")]
#[track_caller]
fn deliveries(from: &mut Client, to: &mut [(&mut Client, usize)], subject: &str, n: usize) {
    for i in 0..n {
        from.publish(subject, None, i.to_string().as_bytes());
    }
    from.flush();
    let deadline = Instant::now() + PATIENCE;
    for (client, copies) in to.iter_mut() {
        while client
            .pending
            .iter()
            .filter(|m| m.subject == subject)
            .count()
            < n * *copies
        {
            if Instant::now() > deadline {
                break;
            }
            client.read_some();
        }
    }
    let mut clients: Vec<&mut Client> = to.iter_mut().map(|(c, _)| &mut **c).collect();
    quiet(&mut clients);
    let mut wrong = Vec::new();
    for (client, copies) in to.iter_mut() {
        let got = take(client, subject);
        let mut expected: Vec<usize> = (0..n).flat_map(|i| vec![i; *copies]).collect();
        expected.sort_unstable();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        if sorted != expected {
            wrong.push(format!(
                "{} got {} messages, not {n} x {copies}: {got:?}",
                client.what,
                got.len()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{n} messages on {subject:?} from {}:\n{}",
        from.what,
        wrong.join("\n")
    );
}

/// `from` publishes `n` messages on `subject` to a queue group whose
/// members are `members`: each message goes to one member, once (awaited,
/// then nothing more for [`QUIET`]). How many each got.
#[cfg(feature = "leafnodes")]
#[track_caller]
fn queue_deliveries(
    from: &mut Client,
    members: &mut [&mut Client],
    subject: &str,
    n: usize,
) -> Vec<usize> {
    for i in 0..n {
        from.publish(subject, None, i.to_string().as_bytes());
    }
    from.flush();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let total: usize = members
            .iter()
            .map(|c| c.pending.iter().filter(|m| m.subject == subject).count())
            .sum();
        if total >= n || Instant::now() > deadline {
            break;
        }
        for member in members.iter_mut() {
            member.read_some();
        }
    }
    quiet(members);
    let got: Vec<Vec<usize>> = members.iter_mut().map(|c| take(c, subject)).collect();
    let counts: Vec<usize> = got.iter().map(Vec::len).collect();
    let mut all: Vec<usize> = got.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..n).collect::<Vec<_>>(),
        "{n} messages on {subject:?} from {} to a queue group: each once ({counts:?})",
        from.what
    );
    counts
}

/// The kinds a leaf L of the cluster is run as: nats-server (when it is
/// installed) and natsd.
#[cfg(feature = "leafnodes")]
fn leaf_kinds() -> Vec<Kind> {
    let mut kinds = Vec::new();
    if std::path::Path::new(GO).is_file() {
        kinds.push(Kind::Go);
    }
    kinds.push(Kind::Natsd);
    kinds
}

impl Setup {
    /// The full mesh, A also accepting leaf nodes. Awaited.
    #[cfg(feature = "leafnodes")]
    fn mesh_with_leaf_port(&self) -> [Server; 3] {
        let servers = self.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            top: if i == 0 {
                leaf_listener(&ports[0])
            } else {
                String::new()
            },
            ..Member::default()
        });
        wait_mesh(&servers);
        servers
    }

    /// A leaf server of `kind` with a remote to `hub`'s leaf port, named
    /// `LGO` or `LNATSD`, linked (awaited on both `/leafz`).
    #[cfg(feature = "leafnodes")]
    fn leaf_of(&self, kind: Kind, hub: &Server) -> Server {
        let name = format!("L{}", kind.label().to_ascii_uppercase());
        let port = hub.ports.leaf;
        let leaf = Server::start(kind, &self.dir, &name, &|_| leaf_remote(port));
        wait_leafnodes(&[hub, &leaf], 1);
        leaf
    }
}

/// Scenario 15: The cluster as a hub: a leaf server L (nats-server, then
/// natsd) links to A's leaf port. With clients on L, B and C, each time
/// exactly as nats-server delivers: a subscriber on L gets each message a
/// client on C publishes once (and one on B none); a subscriber on C gets
/// each message from L once; requests from L to a responder on C are each
/// answered once.
#[cfg(feature = "leafnodes")]
#[test]
fn cluster_as_hub() {
    const N: usize = 50;
    each_topology("cluster_as_hub", |setup| {
        let [a, b, c] = setup.mesh_with_leaf_port();
        for kind in leaf_kinds() {
            let mut l = setup.leaf_of(kind, &a);
            let name = l.name.clone();
            let mut on_l = l.client(&format!("{name} client"));
            let mut l_pub = l.client(&format!("{name} publisher"));
            let mut on_b = b.client("B client");
            let mut on_c = c.client("C client");

            // Down to the leaf.
            let down = format!("{name}.down");
            on_l.sub(&down);
            on_l.flush();
            interest_crossed(&mut on_l, &mut on_c);
            deliveries(&mut on_c, &mut [(&mut on_l, 1), (&mut on_b, 0)], &down, N);

            // Up from the leaf.
            let up = format!("{name}.up");
            on_c.sub(&up);
            on_c.flush();
            interest_crossed(&mut on_c, &mut l_pub);
            deliveries(&mut l_pub, &mut [(&mut on_c, 1)], &up, N);

            // Requests from L to a responder on C.
            let svc = format!("{name}.svc");
            let inbox = format!("_INBOX.{name}");
            on_c.sub(&svc);
            on_c.flush();
            on_l.sub(&inbox);
            on_l.flush();
            interest_crossed(&mut on_c, &mut on_l);
            interest_crossed(&mut on_l, &mut on_c);
            for i in 0..5 {
                on_l.publish(&svc, Some(&inbox), i.to_string().as_bytes());
                let request = on_c.expect_msg(&svc);
                assert_eq!(
                    request.reply.as_deref(),
                    Some(inbox.as_str()),
                    "{request:?}"
                );
                on_c.publish(&inbox, None, &request.payload);
                let answer = on_l.expect_msg(&inbox);
                assert_eq!(answer.payload, i.to_string().as_bytes(), "{answer:?}");
            }
            quiet(&mut [&mut on_l, &mut on_c]);
            on_l.expect_nothing();
            on_c.expect_nothing();

            drop((on_l, l_pub));
            l.stop(true);
            wait_leafnodes(&[&a], 0);
        }
    });
}

/// Scenario 16: The cluster as a hub, a queue group `q1` with a member on
/// L (a leaf server of A, nats-server then natsd) and one on B, as
/// nats-server picks: each message once, and from C all to B (a member
/// behind a route on behalf of a leaf is only the fallback), from L all to
/// L's own; with B's member gone, all from C to L.
#[cfg(feature = "leafnodes")]
#[test]
fn cluster_as_hub_queue() {
    const N: usize = 50;
    each_topology("cluster_as_hub_queue", |setup| {
        let [a, b, c] = setup.mesh_with_leaf_port();
        for kind in leaf_kinds() {
            let mut l = setup.leaf_of(kind, &a);
            let name = l.name.clone();
            let mut on_l = l.client(&format!("{name} client"));
            let mut l_pub = l.client(&format!("{name} publisher"));
            let mut on_b = b.client("B client");
            let mut on_c = c.client("C client");
            // A queue group with members on L and B.
            let work = format!("{name}.work");
            on_l.sub_queue(&work, "q1");
            on_l.flush();
            let b_member = on_b.sub_queue(&work, "q1");
            on_b.flush();
            for publisher in [&mut on_c, &mut l_pub] {
                interest_crossed(&mut on_l, publisher);
                interest_crossed(&mut on_b, publisher);
            }
            let from_c = queue_deliveries(&mut on_c, &mut [&mut on_l, &mut on_b], &work, N);
            let from_l = queue_deliveries(&mut l_pub, &mut [&mut on_l, &mut on_b], &work, N);
            // nats-server: C takes B's member, L its own; one behind a
            // route on behalf of a leaf (and a leaf) only as the fallback.
            assert_eq!(
                from_c,
                [0, N],
                "q1 on {name} and B, from C: to {name}, to B"
            );
            assert_eq!(
                from_l,
                [N, 0],
                "q1 on {name} and B, from {name}: to {name}, to B"
            );
            // B's member gone, C's messages go to L's.
            on_b.unsub(b_member);
            on_b.flush();
            let fallback = format!("{name}.fallback");
            on_b.sub(&fallback);
            on_b.flush();
            interest_crossed(&mut on_b, &mut on_c);
            on_c.publish(&fallback, None, b"");
            on_b.expect_msg(&fallback);
            let from_c = queue_deliveries(&mut on_c, &mut [&mut on_l, &mut on_b], &work, N);
            assert_eq!(
                from_c,
                [N, 0],
                "q1 on {name} alone, from C: to {name}, to B"
            );

            drop((on_l, l_pub));
            l.stop(true);
            wait_leafnodes(&[&a], 0);
        }
    });
}

/// Scenario 17: A leaf's interest crosses the routes: a client on L (a
/// leaf server of A, nats-server then natsd) subscribes to a subject and
/// to another in a queue group; B's and C's `/routez?subs=1` list both
/// for their route to A (and not for the route between them); after the
/// client's UNSUBs, neither is listed. Subscribed again, both are listed
/// until L is stopped.
#[cfg(feature = "leafnodes")]
#[test]
fn leaf_interest_over_routes() {
    each_topology("leaf_interest_over_routes", |setup| {
        let [a, b, c] = setup.mesh_with_leaf_port();
        for kind in leaf_kinds() {
            let mut l = setup.leaf_of(kind, &a);
            let plain = format!("{}.interest", l.name);
            let queue = format!("{}.interest.q", l.name);
            let mut on_l = l.client(&format!("{} client", l.name));
            let plain_sid = on_l.sub(&plain);
            let queue_sid = on_l.sub_queue(&queue, "q1");
            on_l.flush();
            for (server, other) in [(&b, "C"), (&c, "B")] {
                wait_listed(server, "A", &plain, true);
                wait_listed(server, "A", &queue, true);
                assert_eq!(
                    server.routez_subs(other, &format!("{}.", l.name)),
                    Vec::<String>::new(),
                    "{}: /routez?subs=1, the route to {other}",
                    server.name
                );
            }
            on_l.unsub(plain_sid);
            on_l.unsub(queue_sid);
            on_l.flush();
            for server in [&b, &c] {
                wait_listed(server, "A", &plain, false);
                wait_listed(server, "A", &queue, false);
            }

            on_l.sub(&plain);
            on_l.sub_queue(&queue, "q1");
            on_l.flush();
            for server in [&b, &c] {
                wait_listed(server, "A", &plain, true);
                wait_listed(server, "A", &queue, true);
            }
            drop(on_l);
            l.stop(true);
            wait_leafnodes(&[&a], 0);
            for server in [&b, &c] {
                wait_listed(server, "A", &plain, false);
                wait_listed(server, "A", &queue, false);
            }
        }
    });
}

/// The subjects `/leafz?subs=1` of `server` lists for its leaf connection
/// to the server named `remote` (the interest `remote` sent over), sorted.
#[cfg(feature = "leafnodes")]
#[track_caller]
fn leafz_subs(server: &Server, remote: &str) -> Vec<String> {
    let leafz = server.monitor("/leafz?subs=1");
    let leaf = leafz["leafs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == remote)
        .unwrap_or_else(|| panic!("{}: no leaf {remote} in {leafz}", server.name));
    let mut subs: Vec<String> = leaf["subscriptions_list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    subs.sort();
    subs
}

/// Wait until `/leafz?subs=1` of `server` lists `subject` for its leaf
/// connection to `remote`.
#[cfg(feature = "leafnodes")]
#[track_caller]
fn wait_leaf_listed(server: &Server, remote: &str, subject: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let subs = leafz_subs(server, remote);
        if subs.iter().any(|s| s == subject) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {subject:?} not listed for the leaf {remote} in /leafz?subs=1 within \
             {PATIENCE:?}: {subs:?}",
            server.name
        );
        std::thread::sleep(POLL);
    }
}

/// Scenario 18: The cluster as leaves of one hub: H (nats-server) accepts
/// leaf nodes; A and B each have a remote to it, C none; clients on H, A,
/// B and C. nats-server, on the solicited side of a leaf link, sends the
/// hub the interest of its own clients only (none that came over a
/// route), passes the hub's interest on to no route, delivers what the
/// hub sent to its own clients only, and sends nothing that came over a
/// route to the hub. So:
/// - from H, with subscribers on A and C: A's gets each message once, C's
///   none; H's `/leafz?subs=1` lists the subject for A's link, not for
///   B's (B's own subscription made after it is listed: a barrier);
/// - from C, with a subscriber on H (its interest at A and B, proved by
///   probes): C's `/routez?subs=1` lists it for neither route (A's and
///   B's own subscriptions made after it are: a barrier), and H's gets
///   none;
/// - from A, with subscribers on B and H: each gets each message once (B's
///   over the route, H's over A's link; none from H to B's link).
#[cfg(feature = "leafnodes")]
#[test]
fn cluster_as_leaves() {
    const N: usize = 20;
    each_topology("cluster_as_leaves", |setup| {
        if !std::path::Path::new(GO).is_file() {
            eprintln!("cluster_as_leaves: no nats-server for the hub");
            return;
        }
        let h = Server::start(Kind::Go, &setup.dir, "H", &leaf_listener);
        let hub_port = h.ports.leaf;
        let servers = setup.cluster(|i, ports| Member {
            routes: others(i).map(|j| route_url(&ports[j], None)).collect(),
            top: if i < 2 {
                leaf_remote(hub_port)
            } else {
                String::new()
            },
            ..Member::default()
        });
        wait_mesh(&servers);
        let [a, b, c] = &servers;
        wait_leafnodes(&[&h], 2);
        wait_leafnodes(&[a, b], 1);
        let mut on_h = h.client("H client");
        let mut on_a = a.client("A client");
        let mut on_b = b.client("B client");
        let mut on_c = c.client("C client");

        // From H, subscribers on A and C.
        on_a.sub("leaves.from_h");
        on_a.flush();
        on_c.sub("leaves.from_h");
        on_c.flush();
        interest_crossed(&mut on_a, &mut on_h);
        interest_crossed(&mut on_c, &mut on_a);
        interest_crossed(&mut on_c, &mut on_b);
        on_b.sub("leaves.barrier.b");
        on_b.flush();
        wait_leaf_listed(&h, "B", "leaves.barrier.b");
        assert!(
            leafz_subs(&h, "A").contains(&"leaves.from_h".to_string()),
            "H: /leafz?subs=1 for A: {:?}",
            leafz_subs(&h, "A")
        );
        let from_b: Vec<String> = leafz_subs(&h, "B")
            .into_iter()
            .filter(|s| s.starts_with("leaves."))
            .collect();
        assert_eq!(
            from_b,
            ["leaves.barrier.b"],
            "H: /leafz?subs=1 for B, C's subscription not among them"
        );
        deliveries(
            &mut on_h,
            &mut [(&mut on_a, 1), (&mut on_c, 0)],
            "leaves.from_h",
            N,
        );

        // From C, a subscriber on H.
        on_h.sub("leaves.from_c");
        on_h.flush();
        interest_crossed(&mut on_h, &mut on_a);
        interest_crossed(&mut on_h, &mut on_b);
        on_a.sub("leaves.barrier.a");
        on_a.flush();
        wait_listed(c, "A", "leaves.barrier.a", true);
        wait_listed(c, "B", "leaves.barrier.b", true);
        for route in ["A", "B"] {
            assert_eq!(
                c.routez_subs(route, "leaves.from_c"),
                Vec::<String>::new(),
                "C: /routez?subs=1 for the route to {route}: H's interest, passed on"
            );
        }
        deliveries(&mut on_c, &mut [(&mut on_h, 0)], "leaves.from_c", N);

        // From A, subscribers on B and H.
        on_b.sub("leaves.from_a");
        on_b.flush();
        on_h.sub("leaves.from_a");
        on_h.flush();
        interest_crossed(&mut on_b, &mut on_a);
        interest_crossed(&mut on_h, &mut on_a);
        deliveries(
            &mut on_a,
            &mut [(&mut on_b, 1), (&mut on_h, 1)],
            "leaves.from_a",
            N,
        );
        for client in [&mut on_h, &mut on_a, &mut on_b, &mut on_c] {
            client.expect_nothing();
        }
        // The links held all along: H found no loop.
        wait_leafnodes(&[&h], 2);
        assert_eq!(
            h.logged_within("Loop detected", Duration::ZERO),
            None,
            "H found a loop"
        );
    });
}
