//! Clusters of two: the server under test twice (natsd and natsd, then
//! nats-server and nats-server), linked by a route. Each run starts A
//! (`cluster-a.conf`: a route port and the monitor, both `-1`), then B
//! with one route to A's route port (`cluster-b.conf`, written for the
//! run), and waits until both servers' `/routez` show the route. One
//! route is enough for a full mesh of two: B dials it, A accepts it, and
//! both list it.
//!
//! Both are configured with `pool_size: -1` and `compression: off`: natsd
//! neither pools nor compresses routes (it behaves so whatever it is
//! told), and without them nats-server would open three pooled routes to
//! its peer (one account's traffic still takes only one of them), so the
//! ratio compares one plain route with one plain route.
//!
//! As across a leaf link, nothing is measured before the interest it needs
//! has crossed: a flow's subscribers are B's clients and its publisher A's
//! (see [`crate::leaf::interest_crossed`]); the footprint's devices are A's
//! clients, and every one of their subscriptions must be on B's `/routez`
//! (see [`run_footprint_cluster`]).

use std::collections::HashSet;
use std::path::Path;
use std::thread;

use serde_json::Value;

use crate::client::{Context, Res};
use crate::conns::{check_fd_limit, open_subscribed, settled_rss_kb, SETTLE};
use crate::leaf::{http_get, prove_crossed, wait_until};
use crate::proc::rss_kb;
use crate::report::{Better, Figure, Outcome};
use crate::server::{Listener, RunningServer, ServerBin};

/// A's configuration, written once per bench run.
const A_CONFIG: &str = "cluster-a.conf";
/// B's, written for each run (A's route port changes).
const B_CONFIG: &str = "cluster-b.conf";

/// A configuration file for one server of the pair, with `routes` (the
/// `routes` line, or nothing).
fn config(routes: &str) -> String {
    format!(
        "http: \"127.0.0.1:-1\"\ncluster {{\n  name: bench\n  host: \"127.0.0.1\"\n  port: -1\n  \
         pool_size: -1\n  compression: off\n{routes}}}\n"
    )
}

/// Writes A's configuration into `bench_dir`.
pub fn write_configs(bench_dir: &Path) -> Res<()> {
    let file = bench_dir.join(A_CONFIG);
    std::fs::write(&file, config("")).context(&format!("write {}", file.display()))
}

/// Two servers of one kind, routed; both are killed when this is
/// dropped, B first.
pub struct Pair {
    /// The subscribers' server, which dialed the route.
    pub b: RunningServer,
    /// The publishers' server.
    pub a: RunningServer,
}

impl Pair {
    /// Starts `bin` as A, then as B with a route to A, and waits for the
    /// route on both.
    pub fn start(bin: &ServerBin, bench_dir: &Path) -> Res<Pair> {
        let listeners = [Listener::Routes, Listener::Monitor];
        let a = RunningServer::start(bin, Some(&bench_dir.join(A_CONFIG)), &listeners)
            .map_err(|e| format!("server A: {e}"))?;
        let route_port = a
            .listener(Listener::Routes)
            .ok_or("server A has no route port")?
            .port();
        let file = bench_dir.join(B_CONFIG);
        let routes = format!("  routes [\n    \"nats-route://127.0.0.1:{route_port}\"\n  ]\n");
        std::fs::write(&file, config(&routes))
            .context(&format!("write {}", file.display()))
            .map_err(|e| a.failure_as("A", &e))?;
        let b = RunningServer::start(bin, Some(&file), &[Listener::Monitor])
            .map_err(|e| a.failure_as("A", &format!("server B: {e}")))?;
        let pair = Pair { b, a };
        wait_until("route on both servers' /routez", || {
            Ok(num_routes(&pair.a)? == 1 && num_routes(&pair.b)? == 1)
        })
        .map_err(|e| pair.failure(&e))?;
        Ok(pair)
    }

    /// `what` went wrong, with the end of both servers' logs.
    pub fn failure(&self, what: &str) -> String {
        self.b.failure_as("B", &self.a.failure_as("A", what))
    }
}

/// `server`'s `/routez` (`path` with its query).
fn routez(server: &RunningServer, path: &str) -> Res<Value> {
    let monitor = server
        .listener(Listener::Monitor)
        .ok_or("the server has no monitor port")?;
    http_get(monitor, path)
}

fn num_routes(server: &RunningServer) -> Res<u64> {
    routez(server, "/routez")?["num_routes"]
        .as_u64()
        .ok_or_else(|| "/routez: no num_routes".into())
}

/// The routes' entries in `server`'s `/routez` (`path` with its query).
fn routes(server: &RunningServer, path: &str) -> Res<Vec<Value>> {
    let routez = routez(server, path)?;
    Ok(routez["routes"].as_array().cloned().unwrap_or_default())
}

/// The subscriptions `server`'s routes hold, all together.
fn route_subscriptions(server: &RunningServer) -> Res<u64> {
    let routes = routes(server, "/routez")?;
    Ok(routes
        .iter()
        .filter_map(|r| r["subscriptions"].as_u64())
        .sum())
}

/// What remote interest costs B: its RSS idle (route up), with
/// `connections` device-like connections on A holding `subs_each`
/// subscriptions each (see [`crate::conns::device_subjects`]) once B's
/// `/routez?subs=1` lists every one of those subscriptions, and after
/// they have closed and B's route holds no more subscriptions than
/// before; and
/// proof that the interest works: a client of B publishes one message to
/// each subscription, and each connection gets exactly its `subs_each`.
pub fn run_footprint_cluster(
    connections: u64,
    subs_each: usize,
    a: &RunningServer,
    b: &RunningServer,
) -> Res<Outcome> {
    check_fd_limit(connections)?;
    let pid = b.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    // nats-server's system account has subscriptions of its own on the route.
    let before = route_subscriptions(b)?;
    let mut conns = open_subscribed(a.addr, connections, subs_each)?;
    let mut missing: HashSet<String> = (0..connections)
        .flat_map(|n| (1..=subs_each).map(move |m| format!("dev.{n}.s{m}.>")))
        .collect();
    wait_until("device interest all listed on B's /routez?subs=1", || {
        for route in routes(b, "/routez?subs=1")? {
            for subject in route["subscriptions_list"].as_array().into_iter().flatten() {
                if let Some(subject) = subject.as_str() {
                    missing.remove(subject);
                }
            }
        }
        Ok(missing.is_empty())
    })?;
    let loaded = rss_kb(pid)?;
    prove_crossed(b, &mut conns, subs_each)?;
    drop(conns);
    wait_until("device interest gone from B's /routez", || {
        Ok(route_subscriptions(b)? == before)
    })?;
    let after = settled_rss_kb(pid)?;

    let kib = |label: String, kb: f64| Figure::new(label, "KiB", kb, Better::Lower);
    Ok(Outcome {
        figures: vec![
            kib("RSS idle in a cluster of two, route up".into(), idle as f64),
            kib(
                format!("RSS, peer's {connections} conns x {subs_each} device subs on the route"),
                loaded as f64,
            ),
            kib(
                format!("RSS per peer's connection (loaded - idle), {connections} conns"),
                loaded.saturating_sub(idle) as f64 / connections as f64,
            ),
            kib(
                format!("RSS after the peer's {connections} close"),
                after as f64,
            ),
        ],
        cpu: None,
    })
}
