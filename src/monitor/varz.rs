//! `/varz`: the server's identity, limits and totals, with nats-server's
//! keys in its order. Sections natsd has nothing for (cluster, gateway,
//! leaf, mqtt, websocket, jetstream) are empty objects, as nats-server shows
//! them when they are not configured.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::{go_float, is_false, is_zero, pretty};
use super::{Context, Reply};
use crate::go_format;

/// The process figures `/varz` reports, read by the caller.
pub struct Process {
    /// Percent of one core.
    pub cpu: f64,
    /// Resident memory in bytes.
    pub rss: u64,
}

#[derive(Serialize)]
struct Varz<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u32,
    go: &'a str,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    connect_urls: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: u64,
    /// Nanoseconds, as Go marshals a `time.Duration`.
    ping_interval: u128,
    ping_max: u32,
    http_host: &'a str,
    http_port: u16,
    http_base_path: &'a str,
    https_port: u16,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    auth_timeout: f64,
    max_control_line: u32,
    max_payload: u32,
    max_pending: u64,
    cluster: ClusterVarz,
    gateway: Empty,
    leaf: LeafVarz,
    mqtt: Empty,
    websocket: WebsocketVarz,
    jetstream: Empty,
    /// Seconds (nats-server's default when TLS is off).
    #[serde(serialize_with = "go_float")]
    tls_timeout: f64,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    /// One reactor thread.
    gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u32,
    remotes: u32,
    leafnodes: u32,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    stalled_clients: u64,
    subscriptions: usize,
    http_req_stats: &'a BTreeMap<&'static str, u64>,
    config_load_time: String,
    config_digest: &'a str,
    feature_flags: FeatureFlags,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_operators_jwt: Vec<&'a str>,
    /// The operators' claims, as their JWTs carry them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_operators_claim: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: &'a str,
    slow_consumer_stats: ByKind,
    stale_connection_stats: ByKind,
    disk_io_wait_stats: DiskIoWaitStats,
}

/// The claims of an operator's JWT. Only a build with the `jwt` feature
/// has operators to show.
#[cfg(feature = "jwt")]
fn claims_json(jwt: &str) -> Option<serde_json::Value> {
    crate::auth::jwt::claims_json(jwt)
}

#[cfg(not(feature = "jwt"))]
fn claims_json(_jwt: &str) -> Option<serde_json::Value> {
    None
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

/// nats-server's `ClusterOptsVarz`: all empty (`{}`) without a cluster.
#[derive(Serialize, Default)]
struct ClusterVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "addr", skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(rename = "cluster_port", skip_serializing_if = "is_zero")]
    port: u64,
    /// Seconds.
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
    /// natsd does not pool routes: it behaves as `pool_size: -1`.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pool_size: i64,
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl ClusterVarz {
    fn of(core: &crate::core::Core) -> ClusterVarz {
        let Some(cluster) = &core.opts.cluster else {
            return ClusterVarz::default();
        };
        let tls_timeout = cluster
            .tls
            .as_ref()
            .and_then(|t| t.timeout)
            .map_or(2.0, |t| t.as_secs_f64());
        let auth_timeout = cluster.auth_timeout.map_or_else(
            || match &cluster.tls {
                Some(_) => tls_timeout + 1.0,
                None => 2.0,
            },
            |t| t.as_secs_f64(),
        );
        ClusterVarz {
            name: core.cluster_name().to_string(),
            host: cluster.host.clone(),
            port: core.route_listener().map_or(0, |l| u64::from(l.port)),
            auth_timeout,
            urls: cluster
                .routes
                .iter()
                .filter_map(|r| {
                    crate::core::route::RouteUrl::parse_with_default_port(
                        r,
                        crate::options::DEFAULT_ROUTE_PORT,
                    )
                    .map(|u| u.host_port())
                })
                .collect(),
            tls_timeout,
            tls_required: cluster.tls.is_some(),
            tls_verify: cluster.tls.is_some(),
            pool_size: -1,
        }
    }
}

/// nats-server's `WebsocketOptsVarz`: `{}` without a WebSocket listener.
#[derive(Serialize, Default)]
struct WebsocketVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "is_zero_port")]
    port: u16,
    #[serde(skip_serializing_if = "str::is_empty")]
    advertise: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    no_auth_user: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt_cookie: String,
    /// Nanoseconds, as Go's `time.Duration`.
    #[serde(skip_serializing_if = "is_zero_nanos")]
    handshake_timeout: u128,
    #[serde(skip_serializing_if = "is_zero_seconds", serialize_with = "go_float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    compression: bool,
}

fn is_zero_port(port: &u16) -> bool {
    *port == 0
}

fn is_zero_nanos(nanos: &u128) -> bool {
    *nanos == 0
}

fn is_zero_seconds(seconds: &f64) -> bool {
    *seconds == 0.0
}

impl WebsocketVarz {
    fn of(core: &crate::core::Core) -> WebsocketVarz {
        let (Some(ws), Some(listener)) = (&core.opts.websocket, &core.websocket_listener) else {
            return WebsocketVarz::default();
        };
        WebsocketVarz {
            host: ws.host.clone(),
            port: listener.port,
            advertise: ws.advertise.clone().unwrap_or_default(),
            no_auth_user: ws.no_auth_user.clone().unwrap_or_default(),
            jwt_cookie: ws.jwt_cookie.clone().unwrap_or_default(),
            handshake_timeout: ws.handshake_timeout.as_nanos(),
            auth_timeout: ws.auth_timeout.map_or(0.0, |t| t.as_secs_f64()),
            no_tls: ws.no_tls,
            same_origin: ws.same_origin,
            allowed_origins: ws.allowed_origins.clone(),
            compression: ws.compression,
        }
    }
}

/// nats-server's `LeafNodeOptsVarz`: `{}` without `leafnodes {}`.
#[derive(Serialize, Default)]
struct LeafVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "is_zero_port")]
    port: u16,
    #[serde(skip_serializing_if = "is_zero_seconds", serialize_with = "go_float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "is_zero_seconds", serialize_with = "go_float")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remotes: Vec<RemoteVarz>,
}

/// nats-server's `RemoteLeafOptsVarz`.
#[derive(Serialize)]
struct RemoteVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    local_account: Box<str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deny: Option<DenyVarz>,
}

#[derive(Serialize)]
struct DenyVarz {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<String>,
}

impl LeafVarz {
    fn of(core: &crate::core::Core) -> LeafVarz {
        let Some(leafnodes) = &core.opts.leafnodes else {
            return LeafVarz::default();
        };
        let remotes = core
            .remotes()
            .into_iter()
            .map(|r| RemoteVarz {
                local_account: r.local_account,
                urls: r.urls,
                deny: (!r.deny_exports.is_empty() || !r.deny_imports.is_empty()).then_some(
                    DenyVarz {
                        exports: r.deny_exports,
                        imports: r.deny_imports,
                    },
                ),
            })
            .collect();
        let Some(listener) = core.leaf_listener() else {
            return LeafVarz {
                remotes,
                ..LeafVarz::default()
            };
        };
        let tls = leafnodes.tls.as_ref();
        let tls_timeout = tls
            .and_then(|t| t.timeout)
            .unwrap_or(std::time::Duration::from_secs(2));
        LeafVarz {
            host: leafnodes.host.clone(),
            port: listener.port,
            auth_timeout: core.leaf_auth_timeout().as_secs_f64(),
            tls_timeout: tls_timeout.as_secs_f64(),
            tls_required: listener.tls,
            tls_verify: listener.tls_verify,
            remotes,
        }
    }
}

/// Counts by kind of connection.
#[derive(Serialize)]
struct ByKind {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl ByKind {
    fn clients(clients: u64) -> ByKind {
        ByKind {
            clients,
            routes: 0,
            gateways: 0,
            leafs: 0,
        }
    }
}

/// JetStream's disk semaphore; natsd has no JetStream.
#[derive(Serialize, Default)]
struct DiskIoWaitStats {
    waiters: u64,
    waits: u64,
    wait_time: u64,
    max_wait_time: u64,
}

pub fn varz(
    ctx: &Context<'_>,
    http_port: u16,
    requests: &BTreeMap<&'static str, u64>,
    process: Process,
) -> Reply {
    let core = ctx.core;
    let (opts, info, stats) = (&core.opts, &core.info, core.stats());
    let (start, _) = core.wall_clock().start();
    let start_text = ctx.time(start);
    let varz = Varz {
        server_id: &info.server_id,
        server_name: &info.server_name,
        version: &info.version,
        proto: info.proto,
        go: &info.go,
        host: &info.host,
        port: info.port,
        connect_urls: &info.connect_urls,
        auth_required: info.auth_required,
        tls_required: info.tls_required,
        tls_verify: info.tls_verify,
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions as u64,
        ping_interval: opts.ping_interval.as_nanos(),
        ping_max: opts.max_pings_out,
        http_host: &opts.http_host,
        // `http_port` is the monitor's port, HTTP or HTTPS.
        http_port: if opts.https_port != 0 { 0 } else { http_port },
        http_base_path: &opts.http_base_path,
        https_port: if opts.https_port != 0 { http_port } else { 0 },
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: ClusterVarz::of(core),
        gateway: Empty {},
        leaf: LeafVarz::of(core),
        mqtt: Empty {},
        websocket: WebsocketVarz::of(core),
        jetstream: Empty {},
        tls_timeout: core
            .opts
            .tls
            .as_ref()
            .and_then(|t| t.timeout)
            .map_or(2.0, |t| t.as_secs_f64()),
        write_deadline: opts.write_deadline.as_nanos(),
        start: start_text.clone(),
        now: ctx.now_text(),
        uptime: go_format::uptime(ctx.now.saturating_duration_since(start)),
        mem: process.rss,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        gomaxprocs: 1,
        cpu: process.cpu,
        connections: core.num_clients(),
        total_connections: stats.total_connections,
        routes: core.num_routes() as u32,
        remotes: 0,
        leafnodes: core.num_leafs() as u32,
        in_msgs: stats.in_msgs,
        in_bytes: stats.in_bytes,
        in_client_msgs: stats.in_msgs,
        in_client_bytes: stats.in_bytes,
        out_msgs: stats.out_msgs,
        out_bytes: stats.out_bytes,
        out_client_msgs: stats.out_msgs,
        out_client_bytes: stats.out_bytes,
        slow_consumers: stats.slow_consumers,
        stale_connections: stats.stale_connections,
        stalled_clients: 0,
        subscriptions: core.num_subscriptions(),
        http_req_stats: requests,
        config_load_time: start_text,
        config_digest: "",
        feature_flags: FeatureFlags::NATS_SERVER_2_15,
        trusted_operators_jwt: core
            .opts
            .trusted_operators
            .iter()
            .map(String::as_str)
            .collect(),
        trusted_operators_claim: core
            .opts
            .trusted_operators
            .iter()
            .filter_map(|jwt| claims_json(jwt))
            .collect(),
        system_account: core.system_account(),
        slow_consumer_stats: ByKind::clients(stats.slow_consumers),
        stale_connection_stats: ByKind::clients(stats.stale_connections),
        disk_io_wait_stats: DiskIoWaitStats::default(),
    };
    Reply::json(pretty(&varz))
}

/// nats-server's `feature_flags`: switches of its JetStream features, which
/// natsd does not have; reported with nats-server 2.15.1's defaults, so
/// that tools reading them find what they expect.
#[derive(Serialize, Clone, Copy)]
struct FeatureFlags {
    js_ack_fc_v2: bool,
    js_api_reply_v2: bool,
    js_raft_delete_range: bool,
    js_snapshot_sources: bool,
}

impl FeatureFlags {
    const NATS_SERVER_2_15: FeatureFlags = FeatureFlags {
        js_ack_fc_v2: false,
        js_api_reply_v2: false,
        js_raft_delete_range: true,
        js_snapshot_sources: false,
    };
}
