//! Leaf nodes: the server under test as a leaf of a Go nats-server hub.
//! Each run starts the hub (the Go server on `hub.conf`: a leaf node port
//! and the monitor, both `-1`), then the server under test with one
//! remote to the hub's leaf port (`leaf.conf`, written for the run), and
//! waits until the hub's `/leafz` shows the link. The hub is the same
//! binary whichever server is the leaf, so the ratio is the leaf's.
//!
//! Nothing is measured before the interest it needs has crossed: a
//! flow's subscribers are the hub's clients and its publisher the leaf's
//! (see [`interest_crossed`]); the footprint's devices are the leaf's
//! clients and every one of their subscriptions must be on the hub (see
//! [`run_footprint_leaf`]).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Instant;

use serde_json::Value;

use crate::client::{token, Conn, Context, Event, Res, PATIENCE, SMALL_READS};
use crate::conns::{check_fd_limit, open_subscribed, settled_rss_kb, SETTLE};
use crate::flow::POLL;
use crate::pacer::receive;
use crate::proc::rss_kb;
use crate::report::{Better, Figure, Outcome};
use crate::server::{Listener, RunningServer, ServerBin};

/// The hub's configuration, written once per bench run.
const HUB_CONFIG: &str = "hub.conf";
/// The leaf's, written for each run (the hub's leaf port changes).
const LEAF_CONFIG: &str = "leaf.conf";

/// Writes the hub's configuration into `bench_dir`: leaf nodes and the
/// monitor on ports of its choosing (`-a 127.0.0.1` is the client
/// port's host only).
pub fn write_configs(bench_dir: &Path) -> Res<()> {
    let hub = "http: \"127.0.0.1:-1\"\nleafnodes {\n  host: \"127.0.0.1\"\n  port: -1\n}\n";
    let file = bench_dir.join(HUB_CONFIG);
    std::fs::write(&file, hub).context(&format!("write {}", file.display()))
}

/// A hub and the server under test as its leaf, linked; both are killed
/// when this is dropped, the leaf first.
pub struct Linked {
    pub leaf: RunningServer,
    pub hub: RunningServer,
}

impl Linked {
    /// Starts `hub_bin` as the hub, then `bin` as its leaf, and waits for
    /// the link.
    pub fn start(bin: &ServerBin, hub_bin: &ServerBin, bench_dir: &Path) -> Res<Linked> {
        let listeners = [Listener::Leafnodes, Listener::Monitor];
        let hub = RunningServer::start(hub_bin, Some(&bench_dir.join(HUB_CONFIG)), &listeners)
            .map_err(|e| format!("the hub: {e}"))?;
        let leaf_port = hub
            .listener(Listener::Leafnodes)
            .ok_or("the hub has no leaf node port")?
            .port();
        let config = bench_dir.join(LEAF_CONFIG);
        let url = format!("nats-leaf://127.0.0.1:{leaf_port}");
        let remote = format!("leafnodes {{\n  remotes [\n    {{ url: \"{url}\" }}\n  ]\n}}\n");
        std::fs::write(&config, remote)
            .context(&format!("write {}", config.display()))
            .map_err(|e| hub.failure_as("hub", &e))?;
        let leaf =
            RunningServer::start(bin, Some(&config), &[]).map_err(|e| hub.failure_as("hub", &e))?;
        let linked = Linked { leaf, hub };
        wait_until("the leaf's link on the hub's /leafz", || {
            Ok(linked.leafz("/leafz")?["leafnodes"].as_u64() == Some(1))
        })
        .map_err(|e| linked.failure(&e))?;
        Ok(linked)
    }

    /// `what` went wrong, with the end of both servers' logs.
    pub fn failure(&self, what: &str) -> String {
        self.leaf
            .failure_as("leaf", &self.hub.failure_as("hub", what))
    }

    /// The hub's `/leafz` (`path` with its query).
    fn leafz(&self, path: &str) -> Res<Value> {
        leafz(&self.hub, path)
    }
}

fn leafz(hub: &RunningServer, path: &str) -> Res<Value> {
    let monitor = hub
        .listener(Listener::Monitor)
        .ok_or("the hub has no monitor port")?;
    http_get(monitor, path)
}

/// GET `path` (HTTP/1.0, so the body ends with the connection): the body
/// as JSON.
pub fn http_get(addr: SocketAddr, path: &str) -> Res<Value> {
    let mut sock = TcpStream::connect(addr).context("connect to the monitor")?;
    sock.set_read_timeout(Some(PATIENCE)).context("timeout")?;
    write!(sock, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").context("write to the monitor")?;
    let mut text = Vec::new();
    sock.read_to_end(&mut text)
        .context("read from the monitor")?;
    let text = String::from_utf8_lossy(&text);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path}: no HTTP response"))?;
    if head.split(' ').nth(1) != Some("200") {
        return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")));
    }
    serde_json::from_str(body).map_err(|e| format!("GET {path}: {e}"))
}

/// Asks `done` every [`POLL`] until it says yes; fails after
/// [`PATIENCE`], naming what never came.
pub fn wait_until(what: &str, mut done: impl FnMut() -> Res<bool>) -> Res<()> {
    let deadline = Instant::now() + PATIENCE;
    while !done()? {
        if Instant::now() > deadline {
            return Err(format!("no {what} within {PATIENCE:?}"));
        }
        thread::sleep(POLL);
    }
    Ok(())
}

/// The probes' subjects, and the subscription that takes them all.
const PROBE: &[u8] = b"leaf.probe.try";
const LAST_PROBE: &[u8] = b"leaf.probe.last";
const PROBES: &str = "leaf.probe.*";
/// Above any sid [`Conn::subscribe`] gives.
const PROBE_SID: u64 = 1_000_000;

/// Waits until the interest `subscriber` (a client of the hub) holds has
/// reached the leaf `publisher` is a client of, and the leaf forwards
/// what is published to it (the same across a cluster's route, from
/// one server to the other). A probe subscription made after that
/// interest follows it over the link, so once a probe published on the
/// leaf comes through, everything subscribed before it has crossed too.
/// Probes go every [`POLL`] (those the leaf gets before the interest are
/// dropped there); the first to arrive is followed by a last one on the
/// same path, after every probe still in flight, and that subscription is
/// dropped once the last has arrived: the flow's count never sees a
/// probe.
pub fn interest_crossed(subscriber: &mut Conn, publisher: &mut Conn) -> Res<()> {
    subscriber.send_and_sync(format!("SUB {PROBES} {PROBE_SID}\r\n").as_bytes())?;
    subscriber.poll_every(POLL)?;
    let probe = |subject: &[u8]| [b"PUB ", subject, b" 0\r\n\r\n"].concat();
    let deadline = Instant::now() + PATIENCE;
    let mut crossed = false;
    while !crossed {
        if Instant::now() > deadline {
            return Err(format!(
                "the subscriber's interest did not reach the publisher's server within \
                 {PATIENCE:?}"
            ));
        }
        publisher.send(&probe(PROBE))?;
        subscriber.pump(&mut |ev| crossed |= matches!(ev, Event::Msg(_)))?;
    }
    publisher.send(&probe(LAST_PROBE))?;
    subscriber
        .read_until(|ev| matches!(ev, Event::Msg(line) if token(line, 1) == Some(LAST_PROBE)))?;
    subscriber.send_and_sync(format!("UNSUB {PROBE_SID}\r\n").as_bytes())?;
    subscriber.poll_every(PATIENCE)
}

/// What the leaf's device connections cost it: RSS idle (linked), with
/// `connections` device-like connections holding `subs_each`
/// subscriptions each (see [`crate::conns::device_subjects`]) once the
/// hub lists every one of those subscriptions on the link (`/leafz?subs=1`),
/// and after they have closed; and proof that the interest works: a
/// client of the hub publishes one message to each subscription, and
/// each connection gets exactly its `subs_each`.
pub fn run_footprint_leaf(
    connections: u64,
    subs_each: usize,
    leaf: &RunningServer,
    hub: &RunningServer,
) -> Res<Outcome> {
    check_fd_limit(connections)?;
    let pid = leaf.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    let mut conns = open_subscribed(leaf.addr, connections, subs_each)?;
    let mut missing: HashSet<String> = (0..connections)
        .flat_map(|n| (1..=subs_each).map(move |m| format!("dev.{n}.s{m}.>")))
        .collect();
    wait_until(
        "device interest all listed on the hub's /leafz?subs=1",
        || {
            let leafz = leafz(hub, "/leafz?subs=1")?;
            let listed = leafz["leafs"].as_array().into_iter().flatten();
            for subject in
                listed.flat_map(|l| l["subscriptions_list"].as_array().into_iter().flatten())
            {
                if let Some(subject) = subject.as_str() {
                    missing.remove(subject);
                }
            }
            Ok(missing.is_empty())
        },
    )?;
    let loaded = rss_kb(pid)?;
    prove_crossed(hub, &mut conns, subs_each)?;
    drop(conns);
    let after = settled_rss_kb(pid)?;

    let kib = |label: String, kb: f64| Figure::new(label, "KiB", kb, Better::Lower);
    Ok(Outcome {
        figures: vec![
            kib("RSS idle as a leaf, linked to the hub".into(), idle as f64),
            kib(
                format!("RSS as a leaf, {connections} conns x {subs_each} device subs on the hub"),
                loaded as f64,
            ),
            kib(
                format!("RSS per connection (loaded - idle) as a leaf, {connections} conns"),
                loaded.saturating_sub(idle) as f64 / connections as f64,
            ),
            kib(
                format!("RSS as a leaf after those {connections} close"),
                after as f64,
            ),
        ],
        cpu: None,
    })
}

/// A client of the hub publishes one message to every subscription of
/// every device (`dev.<n>.s<m>.ping`, all in one write), and each device
/// must get exactly its `subs_each`. The hub's `PONG` does not order them
/// against the leaf's, so each device reads until it has them all and
/// only then looks for one too many (see [`receive`]).
pub fn prove_crossed(hub: &RunningServer, conns: &mut [Conn], subs_each: usize) -> Res<()> {
    let mut publisher = Conn::open(hub.addr, SMALL_READS)?;
    let pubs: String = (0..conns.len())
        .flat_map(|n| (1..=subs_each).map(move |m| format!("PUB dev.{n}.s{m}.ping 0\r\n\r\n")))
        .collect();
    publisher.send_and_sync(pubs.as_bytes())?;
    for (n, conn) in conns.iter_mut().enumerate() {
        receive(conn, subs_each as u64, |_| {}).map_err(|e| format!("device {n}: {e}"))?;
    }
    Ok(())
}
