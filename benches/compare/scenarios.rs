//! The scenario table, and one run of a scenario against one server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::client::{Context, Res};
use crate::cluster::{run_footprint_cluster, Pair};
use crate::conns::{run_churn, run_footprint, run_footprint_tls, Headline};
use crate::flow::{flow, run_flow, Flow};
use crate::leaf::{run_footprint_leaf, Linked};
use crate::paced::{paced_pubsub, paced_request_reply, run_paced, Paced};
use crate::report::{Better, Figure, Outcome};
use crate::request_reply::run_request_reply;
use crate::server::{Listener, RunningServer, ServerBin};
use crate::soak::run_churn_soak;
use crate::stall::run_stall;
use crate::transport::Transport;
use crate::users::Users;

pub struct Scenario {
    /// What `--only` takes.
    pub name: &'static str,
    /// The figure's label in the table.
    pub title: &'static str,
    work: Work,
}

enum Work {
    /// Measured against a freshly started server.
    OnServer(ServerWork),
    /// Measured on the binary itself, once.
    BinarySize,
}

enum ServerWork {
    Flow(Flow),
    RequestReply {
        requests: u64,
    },
    Churn {
        connections: u64,
    },
    Footprint {
        connections: u64,
        /// Connections in a smoke run.
        smoke: u64,
        subs_each: usize,
        headline: Headline,
    },
    /// Idle TLS connections, no subscriptions.
    FootprintTls {
        connections: u64,
        smoke: u64,
    },
    /// Device connections on the server under test as a leaf of a Go
    /// hub, their interest on the hub.
    FootprintLeaf {
        connections: u64,
        smoke: u64,
    },
    /// Device connections on one server of a cluster of two, their
    /// interest on the other (whose RSS is measured).
    FootprintCluster {
        connections: u64,
        smoke: u64,
    },
    ChurnSoak {
        rounds: u64,
        connections: u64,
        smoke_rounds: u64,
        smoke_connections: u64,
    },
    /// Run for 5 s (smoke: 0.3 s) at the pace it sets.
    Paced(Paced),
    /// A paced fan-out for 3 s (smoke: 0.2 s), without and with a stalled
    /// subscriber.
    Stall {
        subscribers: usize,
        rate: u64,
    },
}

/// Every scenario, with its counts for a full run. On a 2-core machine one
/// flat-out run takes about 1 s (natsd) to 3 s (nats-server), through a
/// leaf 2-4 s, across a cluster of two 2-5 s (starting two servers
/// included); the paced ones take their 5 s (stall 2 x 3 s), footprint10k
/// 5-10 s, footprint_tls 1.5-2 s (a thousand handshakes one after
/// another), and the churn soak, run once, 1 to 2.5 minutes per server: 3
/// rounds of everything against both servers take about 10 minutes.
pub fn all() -> Vec<Scenario> {
    let scenario = |name, title, work| Scenario {
        name,
        title,
        work: Work::OnServer(work),
    };
    let flows = [
        ("pub", "pub-only, 1 publisher", flow(1, 0, 15_000_000)),
        ("pub2", "pub-only, 2 publishers", flow(2, 0, 10_000_000)),
        ("pubsub", "pub/sub 1:1", flow(1, 1, 5_000_000)),
        // pubsub with users, then with permissions too: the three rows
        // separate what logging in costs from what permission checks cost.
        (
            "pubsub_auth",
            "pub/sub 1:1, users without permissions",
            flow(1, 1, 5_000_000).users(Users::Plain),
        ),
        (
            "pubsub_perms",
            "pub/sub 1:1, publisher with permissions",
            flow(1, 1, 5_000_000).users(Users::Permissioned),
        ),
        ("fanout4", "fan-out 1:4", flow(1, 4, 1_500_000)),
        ("fanout16", "fan-out 1:16", flow(1, 16, 600_000)),
        (
            "queue4",
            "queue group, 4 workers",
            flow(1, 4, 3_500_000).queue(),
        ),
        (
            "pubsub1k",
            "pub/sub 1:1, 1 KiB payload",
            flow(1, 1, 1_800_000).payload(1024),
        ),
        (
            "pubsub64k",
            "pub/sub 1:1, 64 KiB payload",
            flow(1, 1, 30_000).payload(64 * 1024),
        ),
        (
            "subjects",
            "many subjects (10k subjects, 1k subs)",
            flow(1, 1, 1_200_000).many_subjects(),
        ),
        // pubsub1k again, both clients over TLS, then over WebSocket
        // (fewer messages: each costs more).
        (
            "tls_pubsub_1k",
            "pub/sub 1:1, 1 KiB payload, TLS",
            flow(1, 1, 600_000).payload(1024).over(Transport::Tls),
        ),
        (
            "ws_pubsub_1k",
            "pub/sub 1:1, 1 KiB payload, WebSocket",
            flow(1, 1, 1_000_000).payload(1024).over(Transport::Ws),
        ),
        // pubsub and pubsub1k from the server under test, as a leaf, to a
        // subscriber on a Go hub.
        (
            "leaf_pubsub",
            "pub/sub 1:1, leaf to a Go hub",
            flow(1, 1, 3_000_000).across_leaf(),
        ),
        (
            "leaf_pubsub_1k",
            "pub/sub 1:1, 1 KiB payload, leaf to a Go hub",
            flow(1, 1, 1_000_000).payload(1024).across_leaf(),
        ),
        // pubsub and pubsub1k from a client of one server to a client of
        // the other, in a cluster of two of the server under test.
        (
            "cluster_pubsub",
            "pub/sub 1:1, across a cluster of two",
            flow(1, 1, 3_000_000).across_cluster(),
        ),
        (
            "cluster_pubsub_1k",
            "pub/sub 1:1, 1 KiB payload, across a cluster of two",
            flow(1, 1, 1_000_000).payload(1024).across_cluster(),
        ),
    ];
    let mut all: Vec<Scenario> = flows
        .into_iter()
        .filter(|(_, _, flow)| {
            built_for(flow.transport)
                && (!flow.leaf || LEAF_BUILT)
                && (!flow.cluster || CLUSTER_BUILT)
        })
        .map(|(name, title, flow)| scenario(name, title, ServerWork::Flow(flow)))
        .collect();
    all.extend([
        scenario(
            "reqrep",
            "request/reply",
            ServerWork::RequestReply { requests: 30_000 },
        ),
        scenario(
            "churn",
            "connection churn",
            ServerWork::Churn { connections: 6_000 },
        ),
        scenario(
            "footprint",
            "footprint",
            ServerWork::Footprint {
                connections: 1_000,
                smoke: 10,
                subs_each: DEVICE_SUBS,
                headline: Headline::StartAndIdle,
            },
        ),
        scenario(
            "footprint10k",
            "footprint, 10k connections",
            ServerWork::Footprint {
                connections: 10_000,
                smoke: 100,
                subs_each: DEVICE_SUBS,
                headline: Headline::ConnectionsOnly,
            },
        ),
        scenario(
            "footprint_tls",
            "footprint, idle TLS connections",
            ServerWork::FootprintTls {
                connections: 1_000,
                smoke: 10,
            },
        ),
        scenario(
            "footprint_leaf",
            "footprint as a leaf of a Go hub",
            ServerWork::FootprintLeaf {
                connections: 100,
                smoke: 10,
            },
        ),
        scenario(
            "footprint_cluster",
            "footprint across a cluster of two",
            ServerWork::FootprintCluster {
                connections: 100,
                smoke: 10,
            },
        ),
        scenario(
            "churn_soak",
            "churn soak",
            ServerWork::ChurnSoak {
                rounds: 300,
                connections: 1_000,
                smoke_rounds: 3,
                smoke_connections: 50,
            },
        ),
        scenario(
            "paced_pubsub",
            "pub/sub 1:1 at 20k msgs/s",
            ServerWork::Paced(paced_pubsub(1, 20_000)),
        ),
        scenario(
            "paced_reqrep",
            "request/reply at 5k req/s",
            ServerWork::Paced(paced_request_reply(5_000)),
        ),
        scenario(
            "paced_fanout4",
            "fan-out 1:4 at 5k msgs/s",
            ServerWork::Paced(paced_pubsub(4, 5_000)),
        ),
        scenario(
            "stall",
            "fan-out 1:8 at 50k msgs/s",
            ServerWork::Stall {
                subscribers: 8,
                rate: 50_000,
            },
        ),
        Scenario {
            name: "binary",
            title: "binary size",
            work: Work::BinarySize,
        },
    ]);
    all.retain(|s| match &s.work {
        Work::OnServer(ServerWork::FootprintTls { .. }) => built_for(Transport::Tls),
        Work::OnServer(ServerWork::FootprintLeaf { .. }) => LEAF_BUILT,
        Work::OnServer(ServerWork::FootprintCluster { .. }) => CLUSTER_BUILT,
        _ => true,
    });
    all
}

/// Whether natsd is built with what `transport` needs (the `tls` and
/// `websocket` features; the bench is built with the same features as
/// natsd, and without them the scenarios are left out).
fn built_for(transport: Transport) -> bool {
    match transport {
        Transport::Tcp => true,
        Transport::Tls => cfg!(feature = "tls"),
        Transport::Ws => cfg!(feature = "websocket"),
    }
}

/// Whether natsd is built with leaf nodes (the `leafnodes` feature),
/// which the leaf scenarios need; without it they are left out.
const LEAF_BUILT: bool = cfg!(feature = "leafnodes");

/// Whether natsd is built with routes (the `cluster` feature), which the
/// cluster scenarios need; without it they are left out.
const CLUSTER_BUILT: bool = cfg!(feature = "cluster");

/// Subscriptions each device-like connection holds (`dev.<n>.s<m>.>`).
const DEVICE_SUBS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Full,
    /// Every scenario in milliseconds, to prove the bench still runs.
    Smoke,
}

impl Scale {
    fn count(self, full: u64) -> u64 {
        match self {
            Scale::Full => full,
            Scale::Smoke => (full / 1000).max(10),
        }
    }

    /// `full` or `smoke`, for what does not scale by a thousandth.
    fn pick<T>(self, full: T, smoke: T) -> T {
        match self {
            Scale::Full => full,
            Scale::Smoke => smoke,
        }
    }
}

impl Scenario {
    /// True when one measurement per server says it all: the binary's
    /// size, and the churn soak (300,000 connections, one to two and a
    /// half minutes per server, is its own long average).
    pub fn once(&self) -> bool {
        matches!(
            self.work,
            Work::BinarySize | Work::OnServer(ServerWork::ChurnSoak { .. })
        )
    }

    /// One run against `bin`, on a fresh server that is killed on return;
    /// in the leaf scenarios that server is a leaf of a fresh `hub_bin`
    /// (the Go server, whichever `bin` is), in the cluster ones it is two
    /// fresh servers of `bin`, routed. `bench_dir` is scratch space
    /// (target/bench).
    pub fn run(
        &self,
        bin: &ServerBin,
        hub_bin: &ServerBin,
        scale: Scale,
        bench_dir: &Path,
    ) -> Res<Outcome> {
        match &self.work {
            Work::BinarySize => binary_size(self.title, bin, bench_dir),
            Work::OnServer(work) if work.cluster() => {
                let pair = Pair::start(bin, bench_dir)?;
                self.measure(work, &pair.a, Some(&pair.b), scale)
                    .map_err(|e| pair.failure(&e))
            }
            Work::OnServer(work) if work.leaf() => {
                let linked = Linked::start(bin, hub_bin, bench_dir)?;
                self.measure(work, &linked.leaf, Some(&linked.hub), scale)
                    .map_err(|e| linked.failure(&e))
            }
            Work::OnServer(work) => {
                let config = work.config(bench_dir)?;
                let server = RunningServer::start(bin, config.as_deref(), work.listeners())?;
                self.measure(work, &server, None, scale)
                    .map_err(|e| server.failure(&e))
            }
        }
    }

    /// `work` on `server`, which is a leaf of `hub` when there is one (or,
    /// in a cluster scenario, `hub` is its peer: the subscribers' server).
    fn measure(
        &self,
        work: &ServerWork,
        server: &RunningServer,
        hub: Option<&RunningServer>,
        scale: Scale,
    ) -> Res<Outcome> {
        match work {
            ServerWork::Flow(flow) => {
                run_flow(self.title, flow, scale.count(flow.messages), server, hub)
            }
            ServerWork::RequestReply { requests } => {
                run_request_reply(self.title, scale.count(*requests), server)
            }
            ServerWork::Churn { connections } => {
                run_churn(self.title, scale.count(*connections), server)
            }
            ServerWork::Footprint {
                connections,
                smoke,
                subs_each,
                headline,
            } => run_footprint(
                scale.pick(*connections, *smoke),
                *subs_each,
                *headline,
                server,
            ),
            ServerWork::FootprintTls { connections, smoke } => {
                run_footprint_tls(scale.pick(*connections, *smoke), server)
            }
            ServerWork::FootprintLeaf { connections, smoke } => run_footprint_leaf(
                scale.pick(*connections, *smoke),
                DEVICE_SUBS,
                server,
                hub.ok_or("footprint_leaf runs on a leaf of a hub")?,
            ),
            ServerWork::FootprintCluster { connections, smoke } => run_footprint_cluster(
                scale.pick(*connections, *smoke),
                DEVICE_SUBS,
                server,
                hub.ok_or("footprint_cluster runs on a cluster of two")?,
            ),
            ServerWork::ChurnSoak {
                rounds,
                connections,
                smoke_rounds,
                smoke_connections,
            } => run_churn_soak(
                scale.pick(*rounds, *smoke_rounds),
                scale.pick(*connections, *smoke_connections),
                DEVICE_SUBS,
                scale.pick(Duration::from_secs(2), Duration::from_millis(200)),
                server,
            ),
            ServerWork::Paced(paced) => run_paced(self.title, paced, scale.pick(5.0, 0.3), server),
            ServerWork::Stall { subscribers, rate } => run_stall(
                self.title,
                *subscribers,
                *rate,
                scale.pick(3.0, 0.2),
                server,
            ),
        }
    }
}

impl ServerWork {
    /// The users the server must be configured with, if any.
    fn users(&self) -> Option<Users> {
        match self {
            ServerWork::Flow(flow) => flow.users,
            _ => None,
        }
    }

    /// Whether the server under test runs as a leaf of a Go hub.
    fn leaf(&self) -> bool {
        match self {
            ServerWork::Flow(flow) => flow.leaf,
            ServerWork::FootprintLeaf { .. } => true,
            _ => false,
        }
    }

    /// Whether the server under test runs twice, as a cluster of two.
    fn cluster(&self) -> bool {
        match self {
            ServerWork::Flow(flow) => flow.cluster,
            ServerWork::FootprintCluster { .. } => true,
            _ => false,
        }
    }

    /// How the clients reach the server.
    fn transport(&self) -> Transport {
        match self {
            ServerWork::Flow(flow) => flow.transport,
            ServerWork::FootprintTls { .. } => Transport::Tls,
            _ => Transport::Tcp,
        }
    }

    /// The ports besides the client port whose addresses the clients need.
    fn listeners(&self) -> &'static [Listener] {
        match self.transport() {
            Transport::Ws => &[Listener::Websocket],
            _ => &[],
        }
    }

    /// The configuration file the server is started with, if any: the
    /// users' or the transport's (no scenario needs both).
    fn config(&self, bench_dir: &Path) -> Res<Option<PathBuf>> {
        let transport = self.transport().config_file(bench_dir);
        match self.users() {
            Some(_) if transport.is_some() => {
                Err("no configuration file has both users and TLS or WebSocket".into())
            }
            Some(users) => Ok(Some(users.config_file(bench_dir))),
            None => Ok(transport),
        }
    }
}

/// The binary's size once stripped, measured on a copy in `bench_dir`.
fn binary_size(title: &str, bin: &ServerBin, bench_dir: &Path) -> Res<Outcome> {
    let copy = bench_dir.join(bin.kind.label());
    std::fs::copy(&bin.path, &copy).context(&format!("copy {}", bin.path.display()))?;
    let label = match Command::new("strip").arg(&copy).status() {
        Ok(status) if status.success() => format!("{title}, stripped"),
        Ok(status) => return Err(format!("strip {}: {status}", copy.display())),
        Err(_) => format!("{title}, NOT stripped (no strip found)"),
    };
    let bytes = std::fs::metadata(&copy)
        .context(&format!("stat {}", copy.display()))?
        .len();
    let kib = bytes as f64 / 1024.0;
    Ok(Outcome {
        figures: vec![Figure::new(label, "KiB", kib, Better::Lower)],
        cpu: None,
    })
}
