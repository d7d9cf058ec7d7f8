//! Leaf nodes between two servers: a hub (`leafnodes { port }`) and a leaf
//! (`leafnodes { remotes [...] }`), each a process started on a config file
//! of its own, and raw clients on both sides checking what crosses.
//!
//! Every scenario runs for each topology, named hub-leaf: `go-go` (both the
//! reference nats-server, `target/ref/bin/nats-server`), `natsd-go`,
//! `go-natsd` and `natsd-natsd`; the chain scenario (three servers, A <- B
//! <- C) for chains named by their three kinds, `go-natsd-go` and the
//! like. `NATSD_LEAF_TOPOLOGIES` may name some of them
//! (`NATSD_LEAF_TOPOLOGIES=natsd-go,go-natsd-go`) to run only those. A
//! failure names its topology; the log of each server of a failed run is
//! printed, and every server's full log stays in
//! `target/tmp/leafnode-<test>-<topology>-<pid>/`.
//!
//! Without the reference binary the topologies with nats-server are
//! skipped, unless `NATS_CONFORMANCE_REQUIRED=1` makes that a failure.
//!
//! No fixed sleeps wait for a condition: links are awaited on `/leafz`,
//! interest by probes that must come through (`interest_crossed`), the end
//! of a stream by a last message on the same path. Every wait has a
//! deadline.
//!
//! Scenarios that natsd does not pass yet skip the failing topologies only,
//! all listed in [`SKIP`] with why; `NATSD_LEAF_NO_SKIP=1` runs them all
//! the same.
#![cfg(feature = "leafnodes")]

mod common;

use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::*;
use serde_json::{json, Value};

/// Where this file's runs come from (`NATSD_LEAF_TOPOLOGIES`), which are
/// skipped ([`SKIP`], `NATSD_LEAF_NO_SKIP=1`), where their directories go.
const SUITE: Suite = Suite {
    name: "leafnode",
    topologies_env: "NATSD_LEAF_TOPOLOGIES",
    no_skip_env: "NATSD_LEAF_NO_SKIP",
    skip: SKIP,
};

/// Runs natsd must be fixed for before they pass: (test, topology or
/// chain, why). Only these topologies of these tests are skipped; remove
/// an entry once natsd passes it (`NATSD_LEAF_NO_SKIP=1` runs them).
const SKIP: &[(&str, &str, &str)] = &[
    // A deliberate difference (README, "Leaf nodes"): a natsd leaf keeps
    // sending its own messages on a `deny_imports` subject up to the hub
    // once a wildcard overlapping it is subscribed; nats-server then stops
    // them (its delivery-time deny filter), though without the wildcard it
    // sends them too. `deny_imports` is about what comes in.
    (
        "deny_imports_with_wildcard_interest",
        "go-natsd",
        "natsd leaf sends messages on a denied import up to the hub",
    ),
    (
        "deny_imports_with_wildcard_interest",
        "natsd-natsd",
        "natsd leaf sends messages on a denied import up to the hub",
    ),
];

// ---------------------------------------------------------------------
// Topologies.

/// Which server plays the hub and which the leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Topology {
    hub: Kind,
    leaf: Kind,
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.hub.label(), self.leaf.label())
    }
}

/// The topologies to run: all four, or those `NATSD_LEAF_TOPOLOGIES`
/// names; those with nats-server only when it is installed.
fn topologies() -> Vec<Topology> {
    use Kind::{Go, Natsd};
    let have_go = have_go();
    [(Go, Go), (Natsd, Go), (Go, Natsd), (Natsd, Natsd)]
        .into_iter()
        .map(|(hub, leaf)| Topology { hub, leaf })
        .filter(|t| wanted(&t.to_string()))
        .filter(|t| have_go || (t.hub != Go && t.leaf != Go))
        .collect()
}
/// Whether `NATSD_LEAF_TOPOLOGIES` (unset, `1` or `all`: every one) names
/// this topology or chain.
fn wanted(name: &str) -> bool {
    SUITE.wanted(name)
}

/// nats-servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chain([Kind; 3]);

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{}-{}-{}", a.label(), b.label(), c.label())
    }
}

/// The chains to run: natsd between two nats-servers and nats-server
/// between two natsd, with all-Go (what the others must match) and
/// all-natsd; `NATSD_LEAF_TOPOLOGIES` may name some (`go-natsd-go`).
fn chains() -> Vec<Chain> {
    use Kind::{Go, Natsd};
    let have_go = have_go();
    [
        [Go, Go, Go],
        [Go, Natsd, Go],
        [Natsd, Go, Natsd],
        [Natsd, Natsd, Natsd],
    ]
    .into_iter()
    .map(Chain)
    .filter(|c| wanted(&c.to_string()))
    .filter(|c| have_go || !c.0.contains(&Go))
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
    each_run(test, topologies(), |topology, dir| {
        scenario(&Setup { topology, dir })
    });
}
/// Run `scenario` for each of `runs` (a topology or a chain) in a
/// directory of its own, skipping what [`SKIP`] lists; every run goes on
/// even when one fails, and the failure names each that failed.
fn each_run<T: fmt::Display + Copy>(test: &str, runs: Vec<T>, scenario: impl Fn(T, PathBuf)) {
    SUITE.each_run(test, runs, scenario);
}

impl Setup {
    /// The hub, named HUB: `config` (given its ports) follows the common
    /// lines.
    fn hub(&self, config: impl Fn(&Ports) -> String) -> Server {
        Server::start(self.topology.hub, &self.dir, "HUB", &config)
    }

    /// A leaf (`name` for its server_name).
    fn leaf(&self, name: &str, config: impl Fn(&Ports) -> String) -> Server {
        Server::start(self.topology.leaf, &self.dir, name, &config)
    }

    /// A hub accepting leaf nodes with nothing more, and a leaf with one
    /// remote to it, linked.
    fn linked_pair(&self) -> (Server, Server) {
        let hub = self.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = self.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        (hub, leaf)
    }
}

/// `leafnodes {}` accepting leaf nodes on the server's leaf port; `more`
/// goes inside the block.
fn listener(ports: &Ports, more: &str) -> String {
    format!(
        "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n{more}\n}}\n",
        ports.leaf
    )
}

/// `leafnodes {}` with one remote to `url`; `more` goes inside the remote.
fn remote(url: &str, more: &str) -> String {
    format!("leafnodes {{\n  remotes [\n    {{\n      url: \"{url}\"\n{more}\n    }}\n  ]\n}}\n")
}

// ---------------------------------------------------------------------
// What the monitors say of leaf links.

impl Server {
    /// `leafnodes` of `/leafz`, `None` while the monitor does not answer.
    fn leafnodes(&self) -> Option<u64> {
        self.try_monitor("/leafz").ok()?["leafnodes"].as_u64()
    }

    /// The subjects of every leaf connection's `subscriptions_list` in
    /// `/leafz?subs=1`: the interest the other side sent over.
    fn leafz_subs(&self) -> Vec<String> {
        let leafz = self.monitor("/leafz?subs=1");
        leafz["leafs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| {
                l["subscriptions_list"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    }
}

/// Wait until `/leafz` of each of `servers` shows `n` leaf connections.
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

/// Wait until the hub and the leaf each see one leaf connection.
#[track_caller]
fn wait_linked(hub: &Server, leaf: &Server) {
    wait_leafnodes(&[hub, leaf], 1);
}

/// Wait until `/leafz?subs=1` of `server` lists `subject` (or, with
/// `listed` false, no longer does).
#[track_caller]
fn wait_listed(server: &Server, subject: &str, listed: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let subs = server.leafz_subs();
        if subs.iter().any(|s| s == subject) == listed {
            return;
        }
        if Instant::now() > deadline {
            let state = if listed { "listed" } else { "gone" };
            panic!(
                "{}: {subject:?} not {state} in /leafz?subs=1 within {PATIENCE:?}: {subs:?}",
                server.name
            );
        }
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------
// Scenarios.

/// Scenario 1: messages cross both ways (to literal and wildcard
/// subscriptions), with their reply subject, in order; HPUB crosses as
/// HMSG with the same header bytes; 512 KiB crosses.
#[test]
fn basic() {
    each_topology("basic", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        on_hub.sub("up.>");
        on_hub.flush();
        on_leaf.sub("down.>");
        on_leaf.flush();
        interest_crossed(&mut on_hub, &mut on_leaf);
        interest_crossed(&mut on_leaf, &mut on_hub);

        // Literal subjects, then wildcards.
        crosses(&mut on_leaf, &mut on_hub, "literal.up");
        crosses(&mut on_hub, &mut on_leaf, "literal.down");
        exchange(&mut on_leaf, &mut on_hub, "up");
        exchange(&mut on_hub, &mut on_leaf, "down");
    });
}

/// Scenario 2: Request/reply both ways (raw clients, then async-nats with its
/// muxed wildcard inbox), and no responders: a request on the leaf (and
/// on the hub) with no replier anywhere gets the 503 status.
#[test]
fn request_reply() {
    each_topology("request_reply", |setup| {
        let (hub, leaf) = setup.linked_pair();
        for (replier_server, requester_server, service) in
            [(&hub, &leaf, "svc.hub"), (&leaf, &hub, "svc.leaf")]
        {
            let mut replier = replier_server.client("replier");
            let mut requester = requester_server.client("requester");
            replier.sub(service);
            replier.flush();
            interest_crossed(&mut replier, &mut requester);

            let inbox = format!("_INBOX.raw.{service}");
            requester.sub(&inbox);
            requester.publish(service, Some(&inbox), b"ping");
            let request = replier.expect_msg(service);
            assert_eq!(request.payload, b"ping");
            assert_eq!(
                request.reply.as_deref(),
                Some(inbox.as_str()),
                "{request:?}"
            );
            replier.publish(&inbox, None, b"pong");
            let response = requester.expect_msg(&inbox);
            assert_eq!(response.payload, b"pong");

            // async-nats on the requester's server, the raw replier
            // answering in a thread of its own.
            const N: usize = 20;
            let answering = std::thread::spawn(move || {
                for _ in 0..N {
                    let request = replier.expect_msg(service);
                    let reply = request.reply.clone().expect("a reply subject");
                    let mut answer = b"re:".to_vec();
                    answer.extend_from_slice(&request.payload);
                    replier.publish(&reply, None, &answer);
                }
                replier.flush();
            });
            let url = format!("nats://{}", requester_server.client_addr());
            let answers = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let client = tokio::time::timeout(PATIENCE, async_nats::connect(url))
                        .await
                        .expect("async-nats connects in time")
                        .expect("async-nats connects");
                    let requests = (0..N).map(|i| {
                        let client = client.clone();
                        async move {
                            tokio::time::timeout(
                                PATIENCE,
                                client.request(service, i.to_string().into()),
                            )
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
        }

        // No responders, raw: the exact status message.
        for (server, what) in [(&leaf, "leaf requester"), (&hub, "hub requester")] {
            let mut requester = server.client(what);
            let sid = requester.sub("_INBOX.none");
            requester.publish("nobody.home", Some("_INBOX.none"), b"anyone?");
            let status = requester.expect_msg("_INBOX.none");
            assert_eq!(status.sid, sid);
            assert_eq!(
                status.headers.as_deref(),
                Some(&b"NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n"[..]),
                "{what}: {status:?}"
            );
            assert!(status.payload.is_empty(), "{status:?}");
            requester.expect_nothing();
        }
        // ... and as async-nats sees it.
        let url = format!("nats://{}", leaf.client_addr());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
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

/// Scenario 3: Queue groups across the link: the local member is preferred, a
/// remote member gets what has no local one, a plain subscriber gets
/// everything, and each group gets each message once.
#[test]
fn queue_groups() {
    const N: usize = 50;
    each_topology("queue_groups", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let mut leaf_member = leaf.client("leaf q1 member");
        let mut hub_member = hub.client("hub q1 member");
        let mut hub_member2 = hub.client("second hub q1 member");
        let mut hub_plain = hub.client("hub plain subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let mut hub_pub = hub.client("hub publisher");

        let leaf_q = leaf_member.sub_queue("work", "q1");
        leaf_member.sub("work.end");
        leaf_member.flush();
        let hub_q = hub_member.sub_queue("work", "q1");
        hub_member.sub("work.end");
        hub_member.flush();
        hub_plain.sub("work");
        hub_plain.sub("work.end");
        hub_plain.flush();
        interest_crossed(&mut hub_plain, &mut leaf_pub);
        interest_crossed(&mut leaf_member, &mut hub_pub);

        // N messages, then `work.end` on the same path: what each got.
        let round = |publisher: &mut Client, receivers: &mut [&mut Client]| -> Vec<usize> {
            for i in 0..N {
                publisher.publish("work", None, i.to_string().as_bytes());
            }
            publisher.publish("work.end", None, b"");
            publisher.flush();
            receivers
                .iter_mut()
                .map(|r| r.until("work", "work.end").len())
                .collect()
        };

        // Published on the leaf: its local member gets them all; the
        // hub's plain subscriber too.
        let got = round(
            &mut leaf_pub,
            &mut [&mut leaf_member, &mut hub_member, &mut hub_plain],
        );
        assert_eq!(got, [N, 0, N], "leaf member, hub member, hub plain");

        // Published on the hub: the hub's member.
        let got = round(
            &mut hub_pub,
            &mut [&mut leaf_member, &mut hub_member, &mut hub_plain],
        );
        assert_eq!(got, [0, N, N], "leaf member, hub member, hub plain");

        // Only hub members (two now): they share the leaf's messages.
        leaf_member.unsub(leaf_q);
        leaf_member.flush();
        let hub_q2 = hub_member2.sub_queue("work", "q1");
        hub_member2.sub("work.end");
        hub_member2.flush();
        interest_crossed(&mut hub_member2, &mut leaf_pub);
        let got = round(
            &mut leaf_pub,
            &mut [
                &mut leaf_member,
                &mut hub_member,
                &mut hub_member2,
                &mut hub_plain,
            ],
        );
        assert_eq!(
            (got[0], got[1] + got[2], got[3]),
            (0, N, N),
            "leaf member, hub members (each {:?}), hub plain",
            &got[1..3]
        );

        // Only a leaf member: the hub's messages cross to it.
        hub_member.unsub(hub_q);
        hub_member.flush();
        hub_member2.unsub(hub_q2);
        hub_member2.flush();
        leaf_member.sub_queue("work", "q1");
        leaf_member.flush();
        interest_crossed(&mut leaf_member, &mut hub_pub);
        let got = round(
            &mut hub_pub,
            &mut [
                &mut leaf_member,
                &mut hub_member,
                &mut hub_member2,
                &mut hub_plain,
            ],
        );
        assert_eq!(got, [N, 0, 0, N], "leaf member, hub members, hub plain");

        for client in [
            &mut leaf_member,
            &mut hub_member,
            &mut hub_member2,
            &mut hub_plain,
        ] {
            client.expect_nothing();
        }
    });
}

/// Scenario 4: UNSUB and a client's close take its interest off the link, in both
/// directions, once the last subscriber on the subject is gone.
#[test]
fn unsub_and_close_remove_interest() {
    each_topology("unsub_and_close", |setup| {
        let (hub, leaf) = setup.linked_pair();
        // Interest made on `near` shows in `far`'s /leafz?subs=1.
        for (near, far, side) in [(&hub, &leaf, "hub"), (&leaf, &hub, "leaf")] {
            let subject = format!("gone.unsub.{side}");
            let mut first = near.client("first subscriber");
            let mut second = near.client("second subscriber");
            let first_sid = first.sub(&subject);
            first.flush();
            let second_sid = second.sub(&subject);
            second.flush();
            wait_listed(far, &subject, true);
            let mut requester = far.client("requester");
            requester.sub("_INBOX.gone");
            requester.flush();
            interest_crossed(&mut second, &mut requester);
            // One of two gone: still there.
            first.unsub(first_sid);
            first.flush();
            requester.publish(&subject, Some("_INBOX.gone"), b"still?");
            let msg = second.expect_msg(&subject);
            assert_eq!(msg.sid, second_sid);
            assert!(far.leafz_subs().contains(&subject));
            // The last one: gone from /leafz, and a request there now has
            // no responders (once the far side knows).
            second.unsub(second_sid);
            second.flush();
            wait_listed(far, &subject, false);
            let deadline = Instant::now() + PATIENCE;
            loop {
                requester.publish(&subject, Some("_INBOX.gone"), b"anyone?");
                if let Some(status) =
                    requester.wait_for(Duration::from_millis(500), |m| m.subject == "_INBOX.gone")
                {
                    let expected = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
                    assert_eq!(
                        status.headers.as_deref(),
                        Some(expected.as_bytes()),
                        "{status:?}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "no 503 on {subject} after UNSUB");
            }

            // A client closing.
            let subject = format!("gone.close.{side}");
            let mut closing = near.client("closing subscriber");
            closing.sub(&subject);
            closing.sub(&format!("{subject}.more"));
            closing.flush();
            wait_listed(far, &subject, true);
            wait_listed(far, &format!("{subject}.more"), true);
            drop(closing);
            wait_listed(far, &subject, false);
            wait_listed(far, &format!("{subject}.more"), false);
        }
    });
}

/// Scenario 5a: The hub's `leafnodes { authorization { user, password } }` and the
/// credentials in the remote's URL.
#[test]
fn auth_user_password() {
    each_topology("auth_user_password", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { user: lu, password: lp }"));
        let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "auth.up");
        crosses(&mut on_hub, &mut on_leaf, "auth.down");
    });
}

/// Scenario 5b: A wrong password never links: the hub logs `authentication error`
/// and its /leafz stays at 0.
#[test]
fn auth_wrong_password() {
    each_topology("auth_wrong_password", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { user: lu, password: lp }"));
        let url = format!("nats-leaf://lu:wrong@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        if hub
            .logged_within("authentication error", PATIENCE)
            .is_none()
        {
            panic!(
                "the hub logged no authentication error within {PATIENCE:?}:\n{}",
                hub.log_tail(30)
            );
        }
        // A bounded wait: nothing must happen (the leaf retries each second).
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            assert_eq!(hub.leafnodes(), Some(0), "the hub linked a wrong password");
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(leaf);
    });
}

/// Scenario 5c: `authorization { users [...] }` binds the leaf to account A on the
/// hub: its messages reach A's clients only, and only A's reach it.
#[test]
fn auth_users_bind_an_account() {
    each_topology("auth_users_account", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "accounts {{\n  A {{ users [ {{user: ua, password: ua}} ] }}\n  \
                 B {{ users [ {{user: ub, password: ub}} ] }}\n}}\n{}",
                listener(
                    p,
                    "  authorization { users [ {user: a, password: a, account: A} ] }"
                )
            )
        });
        let url = format!("nats-leaf://a:a@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        assert_eq!(hub.monitor("/leafz")["leafs"][0]["account"], "A");

        let mut in_a = hub.client_as(&Auth::User("ua", "ua"), "hub client of A");
        let mut in_b = hub.client_as(&Auth::User("ub", "ub"), "hub client of B");
        let mut on_leaf = leaf.client("leaf client");
        in_a.sub("acc.up");
        in_a.flush();
        in_b.sub("acc.up");
        in_b.flush();
        on_leaf.sub("acc.down");
        on_leaf.flush();
        interest_crossed(&mut in_a, &mut on_leaf);
        interest_crossed(&mut on_leaf, &mut in_a);

        // Up: A gets it; B, subscribed to the same subject, does not.
        on_leaf.publish("acc.up", None, b"for A");
        assert_eq!(in_a.expect_msg("acc.up").payload, b"for A");
        // (B's would have been queued with A's; a short grace all the same.)
        assert!(
            in_b.wait_for(Duration::from_millis(300), |_| true)
                .is_none(),
            "B got {:?}",
            in_b.pending
        );
        in_b.expect_nothing();

        // Down: B's message stays in B, then A's comes.
        in_b.publish("acc.down", None, b"from B");
        in_b.flush();
        in_a.publish("acc.down", None, b"from A");
        let msg = on_leaf.expect_msg("acc.down");
        assert_eq!(msg.payload, b"from A", "only A's message crosses");
        on_leaf.expect_nothing();
        in_a.expect_nothing();
    });
}

/// Scenario 6: A hub in operator mode (resolver MEMORY, preloaded account), a leaf
/// (not in operator mode) whose remote logs in with a `.creds` file and
/// binds its `$G`.
#[cfg(feature = "jwt")]
#[test]
fn operator_mode_with_creds() {
    use common::jwt::{account_jwt, creds, key, operator_jwt, public, user_jwt};
    use natsd::auth::nkeys::KeyKind;

    each_topology("operator_creds", |setup| {
        let operator = key(KeyKind::Operator);
        let account = key(KeyKind::Account);
        let leaf_user = key(KeyKind::User);
        let hub_user = key(KeyKind::User);
        let op_jwt = operator_jwt(&operator, "OP", json!({}));
        let acc_jwt = account_jwt(&account, "APP", &operator, json!({}));
        let leaf_jwt = user_jwt(&leaf_user, &account, json!({}), json!({}));
        let hub_jwt = user_jwt(&hub_user, &account, json!({}), json!({}));
        let creds_file = setup.dir.join("leaf.creds");
        std::fs::write(&creds_file, creds(&leaf_jwt, &leaf_user)).unwrap();

        let hub = setup.hub(|p| {
            format!(
                "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {acc_jwt}\n}}\n{}",
                public(&account),
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!(
            "      credentials: {:?}\n      account: \"$G\"",
            creds_file.to_str().unwrap()
        );
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        assert_eq!(
            hub.monitor("/leafz")["leafs"][0]["account"],
            public(&account).as_str()
        );
        assert_eq!(leaf.monitor("/leafz")["leafs"][0]["account"], "$G");

        let mut on_hub = hub.client_as(&Auth::Jwt(&hub_jwt, &hub_user), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "op.up");
        crosses(&mut on_hub, &mut on_leaf, "op.down");
    });
}

/// A CA and a certificate for 127.0.0.1 (and localhost) it signed, as PEM
/// files in `dir`: (ca, cert, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    certificates_and_client(dir).0
}

/// [`certificates`], and a client certificate (CN `leaf`, for client
/// authentication) the same CA signed: ((ca, cert, key), (client cert,
/// client key)).
fn certificates_and_client(dir: &Path) -> ((PathBuf, PathBuf, PathBuf), (PathBuf, PathBuf)) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "leaf");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
    let server = (
        dir.join("ca.pem"),
        dir.join("server-cert.pem"),
        dir.join("server-key.pem"),
    );
    let client = (dir.join("client-cert.pem"), dir.join("client-key.pem"));
    std::fs::write(&server.0, ca.pem()).unwrap();
    std::fs::write(&server.1, cert.pem()).unwrap();
    std::fs::write(&server.2, key.serialize_pem()).unwrap();
    std::fs::write(&client.0, client_cert.pem()).unwrap();
    std::fs::write(&client.1, client_key.serialize_pem()).unwrap();
    (server, client)
}

/// Scenario 7: TLS on the link: the hub's `leafnodes { tls {} }`, the leaf's remote
/// trusting the CA, with a `tls://` URL and with `nats-leaf://` and a
/// `tls {}` block.
#[test]
fn tls() {
    each_topology("tls", |setup| {
        let (ca, cert, key) = certificates(&setup.dir);
        for scheme in ["tls", "nats-leaf"] {
            let hub = setup.hub(|p| {
                listener(
                    p,
                    &format!("  tls {{ cert_file: {cert:?}, key_file: {key:?} }}"),
                )
            });
            let url = format!("{scheme}://127.0.0.1:{}", hub.ports.leaf);
            let more = format!("      tls {{ ca_file: {ca:?} }}");
            let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
            wait_linked(&hub, &leaf);
            let connz = hub.monitor("/connz");
            let conn = connz["connections"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["kind"] == "Leafnode")
                .unwrap_or_else(|| panic!("{scheme}: no leaf in /connz: {connz}"));
            assert!(
                conn["tls_version"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("1.")),
                "{scheme}: the leaf connection is not TLS: {conn}"
            );
            let mut on_hub = hub.client("hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "tls.up");
            crosses(&mut on_hub, &mut on_leaf, "tls.down");
        }
        // TLS before the INFO, on both sides (`handshake_first`).
        let hub = setup.hub(|p| {
            listener(
                p,
                &format!(
                    "  tls {{ cert_file: {cert:?}, key_file: {key:?}, handshake_first: true }}"
                ),
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!("      tls {{ ca_file: {ca:?}, handshake_first: true }}");
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "tls.first.up");
        crosses(&mut on_hub, &mut on_leaf, "tls.first.down");
    });
}

/// Scenario 8: The hub stopped (SIGTERM, then SIGKILL) and started again on the
/// same ports: the leaf links again by itself, and the interest of a leaf
/// subscriber made before is there again.
#[test]
fn hub_restart() {
    each_topology("hub_restart", |setup| {
        let (mut hub, leaf) = setup.linked_pair();
        let mut on_leaf = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let sid = on_leaf.sub("restart.down");
        on_leaf.flush();
        {
            let mut on_hub = hub.client("hub publisher");
            interest_crossed(&mut on_leaf, &mut on_hub);
            on_hub.publish("restart.down", None, b"before");
            assert_eq!(on_leaf.expect_msg("restart.down").payload, b"before");
        }
        for gently in [true, false] {
            let how = if gently { "SIGTERM" } else { "SIGKILL" };
            hub.stop(gently);
            wait_leafnodes(&[&leaf], 0);
            let down = Instant::now();
            hub.restart();
            wait_linked(&hub, &leaf);
            eprintln!(
                "[{}] relinked {:?} after the restart ({how})",
                setup.topology,
                down.elapsed()
            );
            // The old subscription's interest is back on the new hub.
            let mut on_hub = hub.client("hub client");
            let msg = publish_until_received(&mut on_hub, &mut on_leaf, "restart.down", b"after");
            assert_eq!(msg.sid, sid, "{how}");
            // And the other way.
            crosses(&mut leaf_pub, &mut on_hub, "restart.up");
        }
    });
}

/// A (the topology's hub kind) and B (its leaf kind), each accepting
/// leaf nodes and with a remote to the other. Both need the other's leaf
/// port, so both are picked first; if one was taken, both start again on
/// other ports.
fn mutual_leafs(setup: &Setup) -> (Server, Server) {
    let config = |to: u16| {
        move |p: &Ports| {
            let url = format!("nats-leaf://127.0.0.1:{to}");
            format!(
                "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n",
                p.leaf
            )
        }
    };
    let mut why = String::new();
    for _ in 0..5 {
        let (pa, pb) = (Ports::pick(), Ports::pick());
        let (hub, leaf) = (setup.topology.hub, setup.topology.leaf);
        match Server::try_start(hub, &setup.dir, "A", pa, &config(pb.leaf)) {
            Ok(a) => match Server::try_start(leaf, &setup.dir, "B", pb, &config(pa.leaf)) {
                Ok(b) => return (a, b),
                Err(StartError::PortTaken(log)) => why = log,
            },
            Err(StartError::PortTaken(log)) => why = log,
        }
    }
    panic!("no free ports: {why}");
}

/// Scenario 9: Two servers each a leaf of the other: the loop is detected.
#[test]
fn loop_detected() {
    each_topology("loop", |setup| {
        let (a, b) = mutual_leafs(setup);
        let needle = "Loop detected for leafnode account=\"$G\"";
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = [&a, &b]
                .iter()
                .find_map(|s| s.logged_within(needle, Duration::ZERO));
            if seen.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "neither logged {needle:?} within {PATIENCE:?}:\nA:\n{}\nB:\n{}",
                a.log_tail(20),
                b.log_tail(20)
            );
            std::thread::sleep(POLL);
        }
    });
}

/// Scenario 10: What the monitors say of the link.
#[test]
fn monitoring() {
    each_topology("monitoring", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let leafz = hub.monitor("/leafz");
        assert_eq!(leafz["leafnodes"], 1, "{leafz}");
        let link = &leafz["leafs"][0];
        assert_eq!(link["name"], "LEAF", "{leafz}");
        assert_eq!(link["is_spoke"], false, "{leafz}");
        assert_eq!(link["account"], "$G", "{leafz}");
        assert_eq!(link["ip"], "127.0.0.1", "{leafz}");

        let leafz = leaf.monitor("/leafz");
        assert_eq!(leafz["leafnodes"], 1, "{leafz}");
        let link = &leafz["leafs"][0];
        assert_eq!(link["name"], "HUB", "{leafz}");
        assert_eq!(link["is_spoke"], true, "{leafz}");
        assert_eq!(link["account"], "$G", "{leafz}");
        assert_eq!(link["port"], hub.ports.leaf, "{leafz}");

        for server in [&hub, &leaf] {
            let varz = server.monitor("/varz");
            assert_eq!(varz["leafnodes"], 1, "{}: /varz {varz}", server.name);
        }

        let connz = hub.monitor("/connz");
        let leafs: Vec<&Value> = connz["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["kind"] == "Leafnode")
            .collect();
        assert_eq!(leafs.len(), 1, "{connz}");
        assert_eq!(leafs[0]["name"], "LEAF", "{connz}");
    });
}

// ---------------------------------------------------------------------
// More scenarios: WebSocket, deny lists, chains, permissions, reload,
// lame duck, /varz.

/// `websocket {}` on the server's websocket port; `more` goes inside the
/// block.
fn websocket_block(ports: &Ports, more: &str) -> String {
    format!(
        "websocket {{\n  host: 127.0.0.1\n  port: {}\n{more}\n}}\n",
        ports.ws
    )
}

/// `requester` sends a request to `service` with a reply subject of its
/// own; `replier` (on the other side) answers it.
#[track_caller]
fn request_once(replier: &mut Client, requester: &mut Client, service: &str) {
    let sid = replier.sub(service);
    replier.flush();
    interest_crossed(replier, requester);
    let inbox = format!("_INBOX.{service}");
    let inbox_sid = requester.sub(&inbox);
    requester.publish(service, Some(&inbox), b"ping");
    let request = replier.expect_msg(service);
    assert_eq!(request.payload, b"ping", "{request:?}");
    assert_eq!(
        request.reply.as_deref(),
        Some(inbox.as_str()),
        "{request:?}"
    );
    replier.publish(&inbox, None, b"pong");
    let response = requester.expect_msg(&inbox);
    assert_eq!(response.payload, b"pong", "{response:?}");
    assert_eq!(response.sid, inbox_sid, "{response:?}");
    replier.unsub(sid);
    requester.unsub(inbox_sid);
    replier.expect_nothing();
    requester.expect_nothing();
}

/// `from` publishes `size` bytes on a subject `to` subscribed to: they
/// arrive unchanged.
#[track_caller]
fn big_crosses(from: &mut Client, to: &mut Client, subject: &str, size: usize) {
    let big: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let sid = to.sub(subject);
    to.flush();
    interest_crossed(to, from);
    from.publish(subject, None, &big);
    let msg = to.expect_msg(subject);
    assert!(msg.payload == big, "{size} bytes came changed: {msg:?}");
    to.unsub(sid);
    to.expect_nothing();
}

/// Scenario 11: Leaf nodes over WebSocket. The hub has a `websocket {}`
/// listener besides its leaf port, and the leaf's remote is its
/// `ws://` URL: plain, then with `compression: true` on the hub and
/// `ws_compression: true` on the remote, then `wss://` (the websocket
/// block's `tls {}`, the remote trusting the CA). Each time the leaf's
/// link is on the websocket port, messages and requests cross both ways,
/// and 200 KiB both ways.
#[cfg(feature = "websocket")]
#[test]
fn websocket() {
    each_topology("websocket", |setup| {
        let (ca, cert, key) = certificates(&setup.dir);
        let tls = format!("  tls {{ cert_file: {cert:?}, key_file: {key:?} }}");
        let trust = format!("      tls {{ ca_file: {ca:?} }}");
        let variants = [
            ("plain", "ws", "  no_tls: true", ""),
            (
                "compressed",
                "ws",
                "  no_tls: true\n  compression: true",
                "      ws_compression: true",
            ),
            ("tls", "wss", tls.as_str(), trust.as_str()),
        ];
        for (what, scheme, ws_more, remote_more) in variants {
            let hub = setup.hub(|p| format!("{}{}", websocket_block(p, ws_more), listener(p, "")));
            let url = format!("{scheme}://127.0.0.1:{}", hub.ports.ws);
            let leaf = setup.leaf("LEAF", |_| remote(&url, remote_more));
            wait_linked(&hub, &leaf);
            let leafz = leaf.monitor("/leafz");
            assert_eq!(
                leafz["leafs"][0]["port"], hub.ports.ws,
                "{what}: the leaf's link is not on the hub's websocket port: {leafz}"
            );
            let mut on_hub = hub.client("hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "ws.up");
            crosses(&mut on_hub, &mut on_leaf, "ws.down");
            request_once(&mut on_hub, &mut on_leaf, "ws.svc.hub");
            request_once(&mut on_leaf, &mut on_hub, "ws.svc.leaf");
            big_crosses(&mut on_leaf, &mut on_hub, "ws.big.up", 200 * 1024);
            big_crosses(&mut on_hub, &mut on_leaf, "ws.big.down", 200 * 1024);
            eprintln!("[{}] websocket {what}: ok", setup.topology);
        }
    });
}

/// Scenario 12: The leaf's remote with `deny_exports` and `deny_imports`.
/// A denied export published on the leaf reaches no hub subscriber
/// (literal or wildcard) while a control subject does; a denied import
/// published on the hub reaches no leaf subscriber while a control subject
/// does. The hub's messages on a denied export still cross. The leaf's
/// `/varz` shows the lists.
#[test]
fn deny_imports_exports() {
    each_topology("deny_imports_exports", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| {
            remote(
                &url,
                "      deny_exports: [\"exp.denied\", \"exp.no.*\"]\n      \
                 deny_imports: [\"imp.denied\", \"imp.no.*\"]",
            )
        });
        wait_linked(&hub, &leaf);

        let mut hub_sub = hub.client("hub subscriber");
        let mut hub_pub = hub.client("hub publisher");
        let mut leaf_sub = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let exp_wild = hub_sub.sub("exp.>");
        for subject in ["exp.denied", "exp.no.x"] {
            hub_sub.sub(subject);
        }
        hub_sub.flush();
        let imp_wild = leaf_sub.sub("imp.>");
        for subject in ["imp.denied", "imp.no.x"] {
            leaf_sub.sub(subject);
        }
        leaf_sub.flush();
        interest_crossed(&mut hub_sub, &mut leaf_pub);
        interest_crossed(&mut leaf_sub, &mut hub_pub);

        // Up: the denied exports first, then the control on the same path.
        leaf_pub.publish("exp.denied", None, b"denied");
        leaf_pub.publish("exp.no.x", None, b"denied");
        leaf_pub.publish("exp.ok", None, b"control");
        let msg = hub_sub.expect_msg("exp.ok");
        assert_eq!((msg.sid, &msg.payload[..]), (exp_wild, &b"control"[..]));
        hub_sub.expect_nothing();

        // Down: likewise with the denied imports.
        hub_pub.publish("imp.denied", None, b"denied");
        hub_pub.publish("imp.no.x", None, b"denied");
        hub_pub.publish("imp.ok", None, b"control");
        let msg = leaf_sub.expect_msg("imp.ok");
        assert_eq!((msg.sid, &msg.payload[..]), (imp_wild, &b"control"[..]));
        leaf_sub.expect_nothing();

        // `deny_exports` holds one direction only: the hub's messages on a
        // denied export still reach the leaf (subscribed only now, so that
        // the leaf's publisher above was not delivered to locally). (The
        // other way, see `deny_imports_with_wildcard_interest`.)
        leaf_sub.sub("exp.denied");
        leaf_sub.flush();
        interest_crossed(&mut leaf_sub, &mut hub_pub);
        hub_pub.publish("exp.denied", None, b"down");
        assert_eq!(leaf_sub.expect_msg("exp.denied").payload, b"down");
        leaf_sub.expect_nothing();

        let varz = leaf.monitor("/varz");
        assert_eq!(
            varz["leaf"]["remotes"][0]["deny"],
            json!({"exports": ["exp.denied", "exp.no.*"], "imports": ["imp.denied", "imp.no.*"]}),
            "leaf /varz: {}",
            varz["leaf"]
        );
        wait_linked(&hub, &leaf);
    });
}

/// Scenario 12b: `deny_imports` and the leaf's own messages going up.
/// nats-server filters what it delivers to a connection whose subscribe
/// permissions deny subjects (the remote's `deny_imports` are its leaf
/// connection's subscribe denies) once a wildcard subscription that
/// overlaps a denied subject has been checked on it: here the leaf's
/// subscriber on `imp.>`. From then on the leaf's own messages on a denied
/// import do not go up to the hub either, while a control subject does.
/// (With no such wildcard, nats-server lets them go up.)
#[test]
fn deny_imports_with_wildcard_interest() {
    each_topology("deny_imports_with_wildcard_interest", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| {
            remote(&url, "      deny_imports: [\"imp.denied\"]")
        });
        wait_linked(&hub, &leaf);
        let mut leaf_wild = leaf.client("leaf subscriber on imp.>");
        leaf_wild.sub("imp.>");
        leaf_wild.flush();
        let mut hub_sub = hub.client("hub subscriber");
        hub_sub.sub("imp.denied");
        hub_sub.sub("imp.control");
        hub_sub.flush();
        let mut leaf_pub = leaf.client("leaf publisher");
        interest_crossed(&mut hub_sub, &mut leaf_pub);
        leaf_pub.publish("imp.denied", None, b"denied");
        leaf_pub.publish("imp.control", None, b"control");
        assert_eq!(hub_sub.expect_msg("imp.control").payload, b"control");
        hub_sub.expect_nothing();
    });
}

/// `leafnodes {}` accepting leaf nodes on the server's leaf port and with
/// one remote to `url`.
fn listener_and_remote(ports: &Ports, url: &str) -> String {
    format!(
        "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n",
        ports.leaf
    )
}

/// The three servers of `chain`, A <- B <- C, linked.
fn start_chain(chain: Chain, dir: &Path) -> [Server; 3] {
    let [ka, kb, kc] = chain.0;
    let a = Server::start(ka, dir, "A", &|p| listener(p, ""));
    let to_a = format!("nats-leaf://127.0.0.1:{}", a.ports.leaf);
    let b = Server::start(kb, dir, "B", &|p| listener_and_remote(p, &to_a));
    let to_b = format!("nats-leaf://127.0.0.1:{}", b.ports.leaf);
    let c = Server::start(kc, dir, "C", &|_| remote(&to_b, ""));
    wait_leafnodes(&[&a, &c], 1);
    wait_leafnodes(&[&b], 2);
    [a, b, c]
}

/// Subscribe `a` (on A) and `c` (on C) to the barriers of
/// [`no_late_copies`] and wait until their interest crossed.
fn barriers(a: &mut Client, c: &mut Client) {
    a.sub(&format!("chain.barrier.{}.from_c", a.what));
    a.flush();
    c.sub(&format!("chain.barrier.{}.from_a", c.what));
    c.flush();
    interest_crossed(a, c);
    interest_crossed(c, a);
}

/// After `a` and `c` each got the last message of a round, nothing more
/// on `subject` comes to either: `a` publishes a barrier to `c` and `c`
/// one to `a` (see [`barriers`]), which would come after any copy echoed
/// back through the other's server.
#[track_caller]
fn no_late_copies(a: &mut Client, c: &mut Client, subject: &str) {
    let to_c = format!("chain.barrier.{}.from_a", c.what);
    let to_a = format!("chain.barrier.{}.from_c", a.what);
    a.publish(&to_c, None, b"");
    a.flush();
    c.publish(&to_a, None, b"");
    c.flush();
    let late_c = c.until(subject, &to_c);
    let late_a = a.until(subject, &to_a);
    assert!(
        late_a.is_empty() && late_c.is_empty(),
        "copies on {subject:?} after the round: to A {late_a:?}, to C {late_c:?}"
    );
}

/// Scenario 13: A chain of three servers, A <- B <- C (B a leaf of A, C a
/// leaf of B), of mixed kinds (see [`chains`]). A message published on A
/// reaches C's subscriber and one published on C reaches A's; messages
/// published on B reach a subscriber on A and one on C exactly once each;
/// a queue group with a member on A and one on C gets each message
/// published on B exactly once overall.
#[test]
fn chain() {
    const N: usize = 50;
    each_run("chain", chains(), |chain, dir| {
        let [a, b, c] = start_chain(chain, &dir);
        let mut on_a = a.client("A_client");
        let mut on_b = b.client("B_client");
        let mut on_c = c.client("C_client");
        barriers(&mut on_a, &mut on_c);

        // End to end, across B.
        crosses(&mut on_a, &mut on_c, "chain.down");
        crosses(&mut on_c, &mut on_a, "chain.up");

        // Published on B: A and C get each message once.
        for client in [&mut on_a, &mut on_c] {
            client.sub("chain.mid");
            client.sub("chain.mid.end");
            client.flush();
        }
        interest_crossed(&mut on_a, &mut on_b);
        interest_crossed(&mut on_c, &mut on_b);
        for i in 0..N {
            on_b.publish("chain.mid", None, i.to_string().as_bytes());
        }
        on_b.publish("chain.mid.end", None, b"");
        on_b.flush();
        let sent: Vec<String> = (0..N).map(|i| i.to_string()).collect();
        for (client, name) in [(&mut on_a, "A"), (&mut on_c, "C")] {
            let got: Vec<String> = client
                .until("chain.mid", "chain.mid.end")
                .iter()
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                .collect();
            assert_eq!(
                got, sent,
                "{name}: each message published on B once, in order"
            );
        }
        no_late_copies(&mut on_a, &mut on_c, "chain.mid");

        // A queue group with a member on A and one on C, the publisher on
        // B: each message to one of them.
        let mut member_a = a.client("A_member");
        let mut member_c = c.client("C_member");
        for member in [&mut member_a, &mut member_c] {
            member.sub_queue("chain.work", "q");
            member.sub("chain.work.end");
            member.flush();
            interest_crossed(member, &mut on_b);
        }
        barriers(&mut member_a, &mut member_c);
        for i in 0..N {
            on_b.publish("chain.work", None, i.to_string().as_bytes());
        }
        on_b.publish("chain.work.end", None, b"");
        on_b.flush();
        let got_a = member_a.until("chain.work", "chain.work.end");
        let got_c = member_c.until("chain.work", "chain.work.end");
        no_late_copies(&mut member_a, &mut member_c, "chain.work");
        let mut all: Vec<usize> = got_a
            .iter()
            .chain(&got_c)
            .map(|m| String::from_utf8_lossy(&m.payload).parse().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..N).collect::<Vec<_>>(),
            "each message once to the group ({} to A, {} to C)",
            got_a.len(),
            got_c.len()
        );
        eprintln!(
            "[{chain}] queue group: {} to A, {} to C",
            got_a.len(),
            got_c.len()
        );
        for client in [&mut on_a, &mut on_c, &mut member_a, &mut member_c] {
            client.expect_nothing();
        }
    });
}

/// Scenario 14: The permissions of the user a leaf logs in as on the hub.
/// The hub's top-level `authorization { users }` has `lu` with
/// `permissions { publish: "allowed.>", subscribe: "from_hub.>" }` (a
/// `leafnodes { authorization { users } }` user carries no permissions in
/// nats-server), its leaf port no authorization of its own, so the leaf
/// logs in as `lu`. As nats-server does it: the leaf's messages on
/// `allowed.>` reach the hub, on anything else (`other.up`,
/// `from_hub.up`) not; the hub's on `from_hub.>` reach the leaf, on
/// anything else (`other.down`, `allowed.down`) not; and the link stays
/// up, no violation logged.
#[test]
fn hub_permissions() {
    each_topology("hub_permissions", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  users [\n    {{user: hu, password: hp}}\n    \
                 {{user: lu, password: lp, permissions {{ publish: \"allowed.>\", \
                 subscribe: \"from_hub.>\" }}}}\n  ]\n}}\n{}",
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);

        let hub_user = Auth::User("hu", "hp");
        let mut hub_sub = hub.client_as(&hub_user, "hub subscriber");
        let mut hub_pub = hub.client_as(&hub_user, "hub publisher");
        let mut leaf_sub = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        for subject in ["allowed.up", "other.up", "from_hub.up"] {
            hub_sub.sub(subject);
        }
        hub_sub.flush();
        for subject in ["from_hub.down", "other.down", "allowed.down"] {
            leaf_sub.sub(subject);
        }
        leaf_sub.flush();
        interest_crossed_on(&mut hub_sub, &mut leaf_pub, "allowed.");
        interest_crossed_on(&mut leaf_sub, &mut hub_pub, "from_hub.");

        // Up: what the leaf may not publish, then what it may.
        leaf_pub.publish("other.up", None, b"no");
        leaf_pub.publish("from_hub.up", None, b"no");
        leaf_pub.publish("allowed.up", None, b"yes");
        assert_eq!(hub_sub.expect_msg("allowed.up").payload, b"yes");
        hub_sub.expect_nothing();

        // Down: what the leaf may not subscribe to, then what it may.
        hub_pub.publish("other.down", None, b"no");
        hub_pub.publish("allowed.down", None, b"no");
        hub_pub.publish("from_hub.down", None, b"yes");
        assert_eq!(leaf_sub.expect_msg("from_hub.down").payload, b"yes");
        leaf_sub.expect_nothing();

        // Nothing was taken for a violation: the link stayed up.
        assert_eq!(hub.leafnodes(), Some(1), "the hub dropped the link");
        assert_eq!(leaf.leafnodes(), Some(1), "the leaf dropped the link");
        for server in [&hub, &leaf] {
            let violation = server.logged_within("Violation", Duration::ZERO);
            assert!(violation.is_none(), "{}: {violation:?}", server.name);
        }
    });
}
/// For `patience`, `/leafz` of each of `servers` keeps showing `n` leaf
/// connections (a bounded wait for nothing to happen).
#[track_caller]
fn stays_at(servers: &[&Server], n: u64, patience: Duration) {
    let until = Instant::now() + patience;
    while Instant::now() < until {
        for server in servers {
            assert_eq!(
                server.leafnodes(),
                Some(n),
                "{}: /leafz leafnodes changed",
                server.name
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 15: Remotes added and removed by a reload. The leaf starts with
/// `leafnodes { remotes [] }`; its config file is rewritten with a remote
/// to the hub and it gets SIGHUP: the link comes up. The remote removed
/// and SIGHUP again: the link goes (`Reloaded: LeafNode Remote ...
/// removed`). Then a reload that changes `reconnect` (and adds the remote
/// back) is refused with nats-server's text, and changes nothing: the
/// link stays away.
#[test]
fn reload_remotes() {
    each_topology("reload_remotes", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let without = |_: &Ports| "leafnodes {\n  remotes []\n}\n".to_string();
        let with = |_: &Ports| remote(&url, "");
        let mut leaf = setup.leaf("LEAF", without);
        assert_eq!(hub.leafnodes(), Some(0));
        assert_eq!(leaf.leafnodes(), Some(0));

        // Added.
        leaf.rewrite(with);
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        expect_logged(&leaf, mark, "Reloaded server configuration");
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "reload.up");
        crosses(&mut on_hub, &mut on_leaf, "reload.down");

        // Removed.
        leaf.rewrite(without);
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        expect_logged(
            &leaf,
            mark,
            &format!("Reloaded: LeafNode Remote urls=[\"{url}\"], account=\"$G\" removed"),
        );
        expect_logged(&leaf, mark, "Reloaded server configuration");
        wait_leafnodes(&[&hub, &leaf], 0);

        // Refused: `reconnect` may not change while running.
        leaf.rewrite(|_| {
            format!("leafnodes {{\n  reconnect: \"3s\"\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n")
        });
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        let prefix = "Failed to reload server configuration: ";
        let line = expect_logged(&leaf, mark, prefix);
        let text = line.split_once(prefix).map(|(_, t)| t);
        assert_eq!(
            text,
            Some("config reload not supported for LeafNode: field \"ReconnectInterval\": old=1s, new=3s"),
            "{line}"
        );
        // The link stays away: neither the removal nor the refused
        // reload's remote brings it back.
        stays_at(&[&hub, &leaf], 0, Duration::from_secs(2));
        assert!(leaf.running(), "the leaf exited on a refused reload");
    });
}

/// Scenario 16: Lame duck mode on the hub (`lame_duck_duration: "30s"`,
/// `lame_duck_grace_period: "1s"`, entered with `--signal ldm=<pid>`,
/// which is SIGUSR2), three clients on it so that it does not exit at
/// once: its leaf port refuses new connections while it still runs, the
/// leaf link is closed by the hub after the grace period and within a few
/// seconds of it, and the hub then exits by itself.
#[test]
fn lame_duck() {
    const GRACE: Duration = Duration::from_secs(1);
    each_topology("lame_duck", |setup| {
        let mut hub = setup.hub(|p| {
            format!(
                "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n{}",
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let _clients: Vec<Client> = (0..3)
            .map(|i| hub.client(&format!("hub client {i}")))
            .collect();

        let mark = hub.log_mark();
        let signalled = Instant::now();
        let out = Command::new(hub.kind.program())
            .arg("--signal")
            .arg(format!("ldm={}", hub.pid()))
            .output()
            .unwrap();
        assert!(out.status.success(), "--signal ldm: {out:?}");
        expect_logged(
            &hub,
            mark,
            "Entering lame duck mode, stop accepting new clients",
        );

        // The leaf port refuses connections, the hub still running.
        let leaf_port = SocketAddr::from(([127, 0, 0, 1], hub.ports.leaf));
        let deadline = Instant::now() + PATIENCE;
        loop {
            match TcpStream::connect_timeout(&leaf_port, Duration::from_secs(1)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                other => assert!(
                    Instant::now() < deadline,
                    "the hub's leaf port still takes connections in lame duck mode: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            hub.running(),
            "the hub exited before its leaf port was seen refusing (after {:?})",
            signalled.elapsed()
        );

        // The link closed after the grace period, within a few seconds.
        let latest = GRACE + Duration::from_secs(5);
        while leaf.leafnodes() != Some(0) {
            assert!(
                signalled.elapsed() < latest,
                "the leaf link still up {latest:?} after lame duck mode"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let closed = signalled.elapsed();
        assert!(
            closed >= GRACE,
            "the leaf link closed {closed:?} after lame duck mode, before the grace period"
        );
        let status = hub.wait_exit(PATIENCE);
        assert!(status.success(), "the hub exited with {status}");
        eprintln!(
            "[{}] lame duck: leaf link closed after {closed:?}, hub exited after {:?}",
            setup.topology,
            signalled.elapsed()
        );
    });
}

/// Scenario 17: The `leaf` section of `/varz`, as nats-server shows it: the
/// hub's (`leafnodes { host, port, authorization { timeout: 3 } }`) and
/// the leaf's `remotes`.
#[test]
fn varz_leaf() {
    each_topology("varz_leaf", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { timeout: 3 }"));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let varz = hub.monitor("/varz");
        assert_eq!(
            varz["leaf"],
            json!({"host": "127.0.0.1", "port": hub.ports.leaf, "auth_timeout": 3, "tls_timeout": 2}),
            "the hub's /varz leaf"
        );
        let varz = leaf.monitor("/varz");
        assert_eq!(
            varz["leaf"],
            json!({"remotes": [{"local_account": "$G",
                                "urls": [format!("127.0.0.1:{}", hub.ports.leaf)]}]}),
            "the leaf's /varz leaf"
        );
    });
}

/// `leaf` does not link to `hub`: the hub logs a line containing `needle`
/// past `mark` (its refusal), and for a while after (the leaf retries each
/// second) the leaf's /leafz stays at 0 and the hub's at `hub_links`, the
/// links it had.
#[track_caller]
fn never_links(hub: &Server, mark: usize, needle: &str, hub_links: u64, leaf: &Server) {
    expect_logged(hub, mark, needle);
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(
            hub.leafnodes(),
            Some(hub_links),
            "{}: /leafz leafnodes changed",
            hub.name
        );
        assert_eq!(leaf.leafnodes(), Some(0), "{} linked", leaf.name);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 18: A leaf logging in with a user nkey. natsd refuses an nkey in
/// `leafnodes { authorization {} }`, so the user is in the hub's top-level
/// `authorization { users [ { nkey: U... } ] }` and the leaf port has no
/// authorization of its own (nats-server then checks a leaf against the
/// top-level users); the remote has `nkey: "SU..."`, the user's seed, and
/// signs the hub's nonce with it. Messages cross both ways (the hub's
/// clients log in with the same nkey). A leaf with another user's seed
/// never links: the hub logs `authentication error`.
#[cfg(feature = "jwt")]
#[test]
fn auth_nkey() {
    use common::jwt::{key, public};
    use natsd::auth::nkeys::KeyKind;

    each_topology("auth_nkey", |setup| {
        let user = key(KeyKind::User);
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  users [ {{ nkey: {} }} ]\n}}\n{}",
                public(&user),
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let seed =
            |pair: &natsd::auth::nkeys::KeyPair| format!("      nkey: {:?}", pair.encode_seed());
        let leaf = setup.leaf("LEAF", |_| remote(&url, &seed(&user)));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client_as(&Auth::Nkey(&user), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "nkey.up");
        crosses(&mut on_hub, &mut on_leaf, "nkey.down");

        // Another user's seed: refused, the first link stays.
        let stranger = key(KeyKind::User);
        let mark = hub.log_mark();
        let wrong = setup.leaf("WRONG", |_| remote(&url, &seed(&stranger)));
        never_links(&hub, mark, "authentication error", 1, &wrong);
    });
}

/// Scenario 19: A leaf logging in with a token: the hub's top-level
/// `authorization { token: "s3cr3t" }`, its leaf port with no
/// authorization of its own, and the token as the lone user of the
/// remote's URL (`nats-leaf://s3cr3t@...`, which nats-server sends as both
/// `user` and `auth_token`). Messages cross both ways (the hub's clients
/// with the token); a leaf with another token never links: the hub logs
/// `authentication error`.
#[test]
fn auth_token() {
    each_topology("auth_token", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  token: \"s3cr3t\"\n}}\n{}",
                listener(p, "")
            )
        });
        let url = |token: &str| format!("nats-leaf://{token}@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url("s3cr3t"), ""));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client_as(&Auth::Token("s3cr3t"), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "token.up");
        crosses(&mut on_hub, &mut on_leaf, "token.down");

        // Another token: refused, the first link stays.
        let mark = hub.log_mark();
        let wrong = setup.leaf("WRONG", |_| remote(&url("wrong"), ""));
        never_links(&hub, mark, "authentication error", 1, &wrong);
    });
}

/// Scenario 20: `allowed_connection_types` of the user a leaf logs in as,
/// in the hub's top-level `authorization { users }` (its leaf port with no
/// authorization of its own): `lu` with `["STANDARD"]` only is refused as
/// a leaf (the hub logs `authentication error`, nothing links) and logs in
/// as a plain client; with `["LEAFNODE"]` only, the leaf links, messages
/// cross both ways (the hub's clients as `hu`), and `lu` as a plain
/// client gets `-ERR 'Authorization Violation'`.
#[test]
fn auth_user_connection_types() {
    each_topology("auth_user_connection_types", |setup| {
        let lu = Auth::User("lu", "lp");
        for types in ["STANDARD", "LEAFNODE"] {
            let hub = setup.hub(|p| {
                format!(
                    "authorization {{\n  users [\n    {{user: hu, password: hp}}\n    \
                     {{user: lu, password: lp, allowed_connection_types: [\"{types}\"]}}\n  \
                     ]\n}}\n{}",
                    listener(p, "")
                )
            });
            let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
            let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
            let as_client = Client::try_connect(hub.client_addr(), &lu, "lu as a client");
            if types == "STANDARD" {
                never_links(&hub, 0, "authentication error", 0, &leaf);
                if let Err(e) = as_client {
                    panic!("{types}: lu refused as a plain client: {e}");
                }
                continue;
            }
            wait_linked(&hub, &leaf);
            let mut on_hub = hub.client_as(&Auth::User("hu", "hp"), "hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "types.up");
            crosses(&mut on_hub, &mut on_leaf, "types.down");
            assert_eq!(
                as_client.err().as_deref(),
                Some("-ERR 'Authorization Violation'"),
                "{types}: lu as a plain client"
            );
        }
    });
}

/// Scenario 21: Mutual TLS on the link: the hub's `leafnodes { tls {
/// cert_file, key_file, ca_file, verify: true } }`, the leaf's remote with
/// `tls { ca_file, cert_file, key_file }` (a client certificate the same
/// CA signed): it links over TLS and messages cross both ways. A leaf
/// trusting the CA but without a client certificate never links: the hub
/// closes it for `TLS Handshake Failure`.
#[test]
fn mtls_leaf() {
    each_topology("mtls_leaf", |setup| {
        let ((ca, cert, key), (client_cert, client_key)) = certificates_and_client(&setup.dir);
        let hub = setup.hub(|p| {
            listener(
                p,
                &format!(
                    "  tls {{ cert_file: {cert:?}, key_file: {key:?}, ca_file: {ca:?}, \
                     verify: true }}"
                ),
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!(
            "      tls {{ ca_file: {ca:?}, cert_file: {client_cert:?}, key_file: {client_key:?} }}"
        );
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "mtls.up");
        crosses(&mut on_hub, &mut on_leaf, "mtls.down");

        // No client certificate: refused, the first link stays.
        let mark = hub.log_mark();
        let bare = setup.leaf("BARE", |_| {
            remote(&url, &format!("      tls {{ ca_file: {ca:?} }}"))
        });
        // (The line before says why in each server's words: nats-server
        // `TLS leafnode handshake error: tls: client didn't provide a
        // certificate`, natsd `TLS handshake error: peer sent no
        // certificates`.)
        never_links(
            &hub,
            mark,
            "Leafnode connection closed: TLS Handshake Failure",
            1,
            &bare,
        );
    });
}
