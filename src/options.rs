//! Every knob of the server, with nats-server's defaults.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::auth::permissions::{Permissions, ResponsePermission, SubjectPermission};

/// nats-server's `DEFAULT_PORT`.
pub const DEFAULT_PORT: u16 = 4222;
/// nats-server's `DEFAULT_HOST`: all interfaces (IPv4 and IPv6 alike).
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// The account of every client that is not placed in another.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// nats-server's default `system_account`.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// This build serves HTTP monitoring: it has the `monitor` cargo feature.
pub const MONITOR_BUILT: bool = cfg!(feature = "monitor");
/// nats-server's connection types (`allowed_connection_types`).
pub const CONNECTION_TYPES: [&str; 7] = [
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// This build knows NKeys and JWTs: it has the `jwt` cargo feature.
pub const JWT_BUILT: bool = cfg!(feature = "jwt");

/// This build has leaf nodes: it has the `leafnodes` cargo feature.
pub const LEAFNODES_BUILT: bool = cfg!(feature = "leafnodes");

/// nats-server's `DEFAULT_LEAFNODE_PORT`: a remote's URL without a port
/// gets this one.
pub const DEFAULT_LEAFNODE_PORT: u16 = 7422;
/// nats-server's `DEFAULT_LEAF_NODE_RECONNECT`.
pub const DEFAULT_LEAFNODE_RECONNECT: Duration = Duration::from_secs(1);
/// nats-server's `DEFAULT_LEAFNODE_INFO_WAIT`: a remote's
/// `first_info_timeout`.
pub const DEFAULT_LEAFNODE_INFO_WAIT: Duration = Duration::from_secs(1);

/// This build has routes: it has the `cluster` cargo feature.
pub const CLUSTER_BUILT: bool = cfg!(feature = "cluster");

/// nats-server's `DEFAULT_ROUTE_PORT`, the port of `--cluster`'s usual
/// URL (`nats://0.0.0.0:6222`). Neither nats-server nor natsd gives it to
/// a route URL without a port.
pub const DEFAULT_ROUTE_PORT: u16 = 6222;
/// nats-server's `DEFAULT_ROUTE_CONNECT`: the wait between attempts to
/// dial a route, doubled each time with `connect_backoff`.
pub const DEFAULT_ROUTE_CONNECT: Duration = Duration::from_secs(1);
/// nats-server's `DEFAULT_ROUTE_CONNECT_MAX`: where `connect_backoff`
/// stops doubling.
pub const DEFAULT_ROUTE_CONNECT_MAX: Duration = Duration::from_secs(30);
/// nats-server's `DEFAULT_ROUTE_DIAL`: a route's dial timeout.
pub const DEFAULT_ROUTE_DIAL: Duration = Duration::from_secs(1);
/// nats-server's `routeMaxPingInterval`: a route pings at least this
/// often, whatever `ping_interval` says (the file's larger value is kept
/// in the options, with nats-server's warning).
pub const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);
/// nats-server's `DEFAULT_ROUTE_POOL_SIZE` (3): what nats-server does
/// without `pool_size`. natsd does not pool routes: it behaves as
/// `pool_size: -1`, one route per peer for all accounts.
pub const DEFAULT_ROUTE_POOL_SIZE: i32 = 3;

/// Why a `cluster {}` block or a cluster flag is refused by a build
/// without the `cluster` feature.
pub fn cluster_not_built() -> String {
    "clustering is not supported by this build: natsd was built without the `cluster` feature"
        .to_string()
}

/// Why a `leafnodes {}` block is refused by a build without the
/// `leafnodes` feature.
pub fn leafnodes_not_built() -> String {
    "leaf nodes are not supported by this build: natsd was built without the `leafnodes` feature"
        .to_string()
}

/// Why `what` (an nkey user, `operator`, ...) is refused by a build
/// without the `jwt` feature.
pub fn jwt_not_built(what: &str) -> String {
    format!("{what} is not supported by this build: natsd was built without the `jwt` feature")
}

/// Why `what` (`http_port`, `https_port`, ...) is refused by a build
/// without the `monitor` feature: asking for monitoring and starting
/// without it would be a silent surprise.
pub fn monitor_not_built(what: &str) -> String {
    format!(
        "monitoring ({what}) is not supported by this build: \
         natsd was built without the `monitor` feature"
    )
}

/// The client listener's TLS (`tls {}`, `--tls*`), as nats-server's
/// `TLSConfigOpts` holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Client certificates are verified against these; without it, the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// mTLS: a client must present a certificate that verifies.
    pub verify: bool,
    /// `verify`, and the certificate names the user (`verify_and_map`).
    pub verify_and_map: bool,
    /// Handshake deadline; `None` is nats-server's 2 s.
    pub timeout: Option<Duration>,
    pub handshake_first: HandshakeFirst,
    /// Lower-case hex SHA-256 of the client certificates' public keys.
    pub pinned_certs: Vec<String>,
    /// TLS 1.3 only (`min_version: "1.3"`); else 1.2 and 1.3.
    pub min_version_13: bool,
    /// Go names, in the order given; `None` is the default list.
    pub cipher_suites: Option<Vec<String>>,
    pub curve_preferences: Option<Vec<String>>,
}

/// `handshake_first`: the TLS handshake before INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeFirst {
    /// INFO in clear, then the handshake.
    #[default]
    Off,
    /// The handshake first, whatever the client does.
    On,
    /// The handshake first if the client speaks within this delay, else
    /// INFO in clear (`"auto"` is 50 ms).
    Fallback(Duration),
}

/// The WebSocket listener (`websocket {}`), as nats-server's
/// `WebsocketOpts` holds it. Present only when it has a port.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebsocketOptions {
    pub host: String,
    /// -1 picks a free port.
    pub port: i32,
    /// The `host[:port]` advertised for it.
    pub advertise: Option<String>,
    /// Serve without TLS (required when there is no `tls {}`).
    pub no_tls: bool,
    pub tls: Option<TlsOptions>,
    pub same_origin: bool,
    pub allowed_origins: Vec<String>,
    /// permessage-deflate is offered.
    pub compression: bool,
    /// How long the upgrade (TLS handshake and HTTP request) may take;
    /// zero: natsd's default (see `net::websocket`).
    pub handshake_timeout: Duration,
    /// The block's `authorization {}` and `no_auth_user`: for WebSocket
    /// clients they replace the server's single user, token and
    /// `no_auth_user` (nats-server's `authOverride`).
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub no_auth_user: Option<String>,
    pub auth_timeout: Option<Duration>,
    /// Cookies a CONNECT without credentials takes them from.
    pub jwt_cookie: Option<String>,
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// Extra headers of the 101 response, in the file's order.
    pub headers: Vec<(String, String)>,
    /// Overrides `ping_interval` for WebSocket clients.
    pub ping_interval: Option<Duration>,
}

impl WebsocketOptions {
    /// nats-server's `authOverride`: the block brings its own credentials.
    pub fn auth_override(&self) -> bool {
        self.username.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

/// Clustering (`cluster {}`, `--cluster`, `--routes`): the route listener
/// and the routes this server dials, as nats-server's `ClusterOpts` (with
/// its `Options.Routes`).
///
/// The config file fills it as nats-server's `parseCluster` and
/// `setBaselineOptions` do (`conf/cluster.rs`), the flags as
/// `ConfigureOptions` and `MergeOptions`; [`Options::validate`] checks it
/// as `validateCluster`. natsd neither pools nor compresses routes: it
/// behaves as nats-server with `pool_size: -1` and `compression: off`
/// whatever these fields say (the file's other values are warned).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// `name`: every server of a cluster has the same; `None`: nats-server
    /// makes one up (and adopts its peers'). No spaces.
    pub name: Option<String>,
    /// `0.0.0.0` when there is a port and the file gives no host.
    pub host: String,
    /// The route listener's port: 0 none (routes may still be dialed),
    /// -1 picks a free one (nats-server's `RANDOM_PORT`).
    pub port: i32,
    /// `advertise` (`cluster_advertise`): the `host[:port]` given to peers
    /// instead of the listener's.
    pub advertise: Option<String>,
    /// `no_advertise`: peers are not told this server's client URLs (for
    /// their clients' `connect_urls`).
    pub no_advertise: bool,
    /// `routes`: the URLs to dial, as written (`nats-route://u:p@host:6222`,
    /// `nats://host:6222`; nats-server dials any scheme), duplicates
    /// dropped. Every URL has a host and a port: the file and the flags
    /// refuse one without, which nats-server would retry forever.
    pub routes: Vec<String>,
    /// `authorization { user, password }`: what a peer presents in its
    /// CONNECT, and what this server presents to the routes it dials
    /// unless their URL has its own.
    pub username: Option<String>,
    pub password: Option<String>,
    /// `authorization { timeout }`; `None`: the TLS timeout + 1 s with TLS,
    /// else 2 s, as nats-server.
    pub auth_timeout: Option<Duration>,
    /// `permissions { import, export }` (or, deprecated, the block's
    /// `authorization { permissions }`).
    pub permissions: Option<RoutePermissions>,
    /// `tls {}`: both sides of a route. nats-server always verifies the
    /// peer's certificate on routes, so `verify` is set.
    pub tls: Option<TlsOptions>,
    /// `connect_retries`: how often a route learned from a peer (not one
    /// of `routes`, which are dialed forever) is dialed again after a
    /// failed attempt; 0 (the default): it is tried once.
    pub connect_retries: i32,
    /// `connect_backoff`: the wait between attempts doubles, from
    /// [`DEFAULT_ROUTE_CONNECT`] to [`DEFAULT_ROUTE_CONNECT_MAX`].
    pub connect_backoff: bool,
    /// `pool_size` as written, 0 when absent (nats-server's default then
    /// is [`DEFAULT_ROUTE_POOL_SIZE`]). natsd behaves as -1 whatever it is.
    pub pool_size: i32,
    /// `accounts`: accounts with routes of their own. They need pooling:
    /// the file refuses them (with nats-server's text when `pool_size` is
    /// -1), so this is empty unless an embedder sets it, which
    /// [`Options::validate`] refuses.
    pub pinned_accounts: Vec<String>,
    /// `compression`, normalized as nats-server does (`off`, `accept`,
    /// `s2_fast`, ...); `accept` (nats-server's default) when absent.
    /// natsd does not compress routes: it behaves as `off`.
    pub compression: String,
    /// `ping_interval`: overrides the server's for routes; a route pings
    /// at least every [`ROUTE_MAX_PING_INTERVAL`] anyway.
    pub ping_interval: Option<Duration>,
    /// `ping_max`: overrides the server's `ping_max` for routes.
    pub max_pings_out: Option<i32>,
    /// `write_deadline`: overrides the server's for routes.
    pub write_deadline: Option<Duration>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            name: None,
            host: String::new(),
            port: 0,
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            username: None,
            password: None,
            auth_timeout: None,
            permissions: None,
            tls: None,
            connect_retries: 0,
            connect_backoff: false,
            pool_size: 0,
            pinned_accounts: Vec::new(),
            compression: "accept".to_string(),
            ping_interval: None,
            max_pings_out: None,
            write_deadline: None,
        }
    }
}

/// A cluster's `permissions`, as nats-server's `RoutePermissions`: what
/// interest this server sends its peers (`import`: it receives messages on
/// those subjects) and accepts from them (`export`: it sends messages on
/// those). `None` restricts nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutePermissions {
    pub import: Option<SubjectPermission>,
    pub export: Option<SubjectPermission>,
}

/// Leaf nodes (`leafnodes {}`): the listener that accepts them and the
/// remotes this server connects to, as nats-server's `LeafNodeOpts`.
///
/// The config file fills it as nats-server's `parseLeafNodes` and
/// `setBaselineOptions` do (`conf/leafnodes.rs`); [`Options::validate`]
/// checks it as `validateLeafNode`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafnodeOptions {
    /// `0.0.0.0` when the file gives a port and no host.
    pub host: String,
    /// 0: no listener (only remotes); -1 picks a free port.
    pub port: i32,
    /// The `host[:port]` advertised in `leafnode_urls`.
    pub advertise: Option<String>,
    pub no_advertise: bool,
    pub tls: Option<TlsOptions>,
    /// The single user of `authorization {}`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The account the single user (or, without authorization, every
    /// leaf) is bound to; `None` is `$G`.
    pub account: Option<String>,
    /// `authorization { users [...] }`: leaf users with their account.
    pub users: Vec<LeafUser>,
    /// `authorization { timeout }`; `None`: the TLS timeout + 1 s with
    /// TLS, else 2 s, as nats-server.
    pub auth_timeout: Option<Duration>,
    /// Wait before a remote is dialed again (`reconnect`), 1 s default.
    pub reconnect_interval: Duration,
    pub remotes: Vec<RemoteLeafOptions>,
}

impl Default for LeafnodeOptions {
    fn default() -> Self {
        LeafnodeOptions {
            host: String::new(),
            port: 0,
            advertise: None,
            no_advertise: false,
            tls: None,
            username: None,
            password: None,
            account: None,
            users: Vec::new(),
            auth_timeout: None,
            reconnect_interval: DEFAULT_LEAFNODE_RECONNECT,
            remotes: Vec::new(),
        }
    }
}

/// A leaf user of `leafnodes { authorization { users [...] } }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeafUser {
    pub username: String,
    pub password: String,
    pub account: Option<String>,
}

/// One of `leafnodes { remotes [...] }`: a hub this server connects to.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteLeafOptions {
    /// As written (`nats-leaf://`, `nats://`, `tls://`, `ws://`, `wss://`),
    /// user and password included, except that the config file gives a
    /// URL without a port [`DEFAULT_LEAFNODE_PORT`] (nats-server's
    /// `setBaselineOptions`): `nats-leaf://hub` is `nats-leaf://hub:7422`.
    /// Every URL has a host (the file refuses one without).
    pub urls: Vec<String>,
    /// The local account the remote is bound to; `None` is `$G`.
    pub account: Option<String>,
    /// A `.creds` file: the user JWT and the seed that signs the nonce.
    /// `$VAR` and a leading `~` are expanded, as nats-server's `expandPath`.
    pub credentials: Option<PathBuf>,
    /// A user seed (`SU...`) that signs the nonce.
    pub nkey_seed: Option<String>,
    /// A client-side TLS config: `cert_file`/`key_file` are the client
    /// certificate, `ca_file` the roots the hub's certificate is verified
    /// against (else the system's). `handshake_first` is `On` or `Off`
    /// (nats-server's remotes have no fallback delay). As in nats-server,
    /// `verify`, `verify_and_map` and `pinned_certs` here mean nothing
    /// (nats-server checks a solicited hub against the accepting side's
    /// `leafnodes { tls { pinned_certs } }`).
    pub tls: Option<TlsOptions>,
    /// We are the hub on this connection (`hub: true`).
    pub hub: bool,
    /// Subjects not imported from the hub (not subscribed to over it).
    pub deny_imports: Vec<String>,
    /// Subjects not exported to the hub (not published over it).
    pub deny_exports: Vec<String>,
    pub no_randomize: bool,
    /// How long the hub's INFO may take (`first_info_timeout`), 1 s.
    pub first_info_timeout: Duration,
    /// Registered but not connected (`disabled`).
    pub disabled: bool,
    /// Learned `leafnode_urls` are not used (`ignore_discovered_servers`).
    pub ignore_discovered_servers: bool,
    /// WebSocket remotes: ask for permessage-deflate, and no masking.
    pub ws_compression: bool,
    pub ws_no_masking: bool,
}

impl Default for RemoteLeafOptions {
    fn default() -> Self {
        RemoteLeafOptions {
            urls: Vec::new(),
            account: None,
            credentials: None,
            nkey_seed: None,
            tls: None,
            hub: false,
            deny_imports: Vec::new(),
            deny_exports: Vec::new(),
            no_randomize: false,
            first_info_timeout: DEFAULT_LEAFNODE_INFO_WAIT,
            disabled: false,
            ignore_discovered_servers: false,
            ws_compression: false,
            ws_no_masking: false,
        }
    }
}

impl RemoteLeafOptions {
    /// nats-server's `RemoteLeafOpts.safeName()`, for errors and logs:
    /// `urls=["nats-leaf://u:xxxxx@hub:7422"], account="$G"`, with
    /// `, credentials="..."` or `, nkey="[REDACTED]"`; passwords in the
    /// URLs are `xxxxx`.
    pub fn safe_name(&self) -> String {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        self.name_with(&urls, true)
    }

    /// nats-server's `name()`: what tells two remotes apart.
    pub(crate) fn name(&self) -> String {
        self.name_with(&self.urls, false)
    }

    fn name_with(&self, urls: &[String], redacted: bool) -> String {
        let account = self.account.as_deref().unwrap_or(GLOBAL_ACCOUNT);
        let optional = match (&self.credentials, &self.nkey_seed) {
            (Some(c), _) => format!(", credentials={:?}", c.display().to_string()),
            (None, Some(_)) if redacted => ", nkey=\"[REDACTED]\"".to_string(),
            (None, Some(seed)) => format!(", nkey={seed:?}"),
            (None, None) => String::new(),
        };
        format!(
            "urls={}, account={account:?}{optional}",
            go_quoted_list(urls)
        )
    }

    /// A WebSocket remote: its URLs are `ws://` or `wss://`.
    pub fn is_websocket(&self) -> bool {
        self.urls.first().is_some_and(|u| is_ws_url(u))
    }
}

/// Go's `%q` of a list of strings: `["a" "b"]`.
pub fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// nats-server's `isWSURL`: the scheme starts with `ws` (`ws`, `wss`).
pub fn is_ws_url(url: &str) -> bool {
    url.split_once(':')
        .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().starts_with("ws"))
}

/// The URL with its password, if any, as `xxxxx` (nats-server's
/// `redactURLList`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:xxxxx@{host}{tail}"),
        None => url.to_string(),
    }
}

/// Where account JWTs come from in operator mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountResolver {
    /// `resolver: MEMORY`: the JWTs of `resolver_preload`, and no others.
    Memory,
}

/// Server configuration. `Options::default()` is nats-server with no flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Interface to listen on for clients.
    pub host: String,
    /// Client port; 0 or -1 picks a free one (nats-server's `RANDOM_PORT`).
    pub port: i32,
    /// Server name; the server id when unset.
    pub server_name: Option<String>,
    /// Single user required of every client (`--user`/`--pass`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Token required of every client (`--auth`).
    pub authorization: Option<String>,
    /// The config file's `authorization { users [...] }`: a client must be
    /// one of them. `Some` even when empty (`users: []` admits nobody), as
    /// in nats-server.
    pub users: Option<Vec<User>>,
    /// Who a client that presents no credentials is taken to be (one of
    /// `users`), nats-server's `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// The config file's `accounts { ... }`, besides `$G` (every client
    /// not placed elsewhere) and the system account. Their users are in
    /// `users`, each naming its account.
    pub accounts: Vec<AccountConfig>,
    /// `system_account`: the account of the server's own traffic.
    pub system_account: String,
    /// `operator`: the JWTs of the trusted operators, as read from their
    /// files. Any operator (or `trusted_keys`) is JWT operator mode: every
    /// client presents a user JWT signed for an account they trust.
    pub trusted_operators: Vec<String>,
    /// `trusted_keys`: operator public keys trusted without their JWT.
    pub trusted_keys: Vec<String>,
    /// `resolver`: where account JWTs come from.
    pub resolver: Option<AccountResolver>,
    /// `resolver_preload`: account public keys and their JWTs.
    pub resolver_preload: Vec<(String, String)>,
    /// The client listener's TLS.
    pub tls: Option<TlsOptions>,
    /// `allow_non_tls`: clients may also connect in clear.
    pub allow_non_tls: bool,
    /// The WebSocket listener, when `websocket {}` gives it a port.
    pub websocket: Option<WebsocketOptions>,
    /// `leafnodes {}`, when the file has one.
    pub leafnodes: Option<LeafnodeOptions>,
    /// `cluster {}`, when the file has one or a cluster flag is given.
    pub cluster: Option<ClusterOptions>,
    /// Time a client has to send CONNECT when credentials are required.
    pub auth_timeout: Duration,
    /// Largest message payload (`max_payload`).
    pub max_payload: u32,
    /// Longest control-line argument (`max_control_line`).
    pub max_control_line: u32,
    /// Outbound bytes a client may have pending before it is a slow consumer.
    pub max_pending: u64,
    /// Most client connections at once.
    pub max_connections: usize,
    /// Most subscriptions per connection; 0 means no limit.
    pub max_subscriptions: usize,
    /// How often the server PINGs a client.
    pub ping_interval: Duration,
    /// Unanswered PINGs before a client is a stale connection.
    pub max_pings_out: u32,
    /// How long output may stall before the client is a slow consumer.
    pub write_deadline: Duration,
    /// `-D`: debug logging.
    pub debug: bool,
    /// `-V`: protocol tracing.
    pub trace: bool,
    /// Timestamps on log lines (`logtime`).
    pub logtime: bool,
    /// `-l`: log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
    /// Lame duck mode (SIGUSR2): the time over which clients are closed.
    pub lame_duck_duration: Duration,
    /// Lame duck mode: the wait before the first client is closed.
    pub lame_duck_grace_period: Duration,
    /// `-P`: write the process id here.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`: write the listening ports here.
    pub ports_file_dir: Option<PathBuf>,
    /// Interface the HTTP monitor listens on (`http_host`).
    pub http_host: String,
    /// HTTP monitoring port (`-m`); 0 turns monitoring off, -1 picks a free port.
    pub http_port: i32,
    /// Monitoring over HTTPS (`https_port`, `--ms`), with the client
    /// listener's certificate; 0 is off, -1 picks a free port.
    pub https_port: i32,
    /// Path prefix of every monitoring endpoint (`--http_base_path`).
    pub http_base_path: String,
    /// `--store_dir`/`store_dir`: where JetStream keeps its data. Accepted
    /// as nats-server accepts it without JetStream; natsd will use it when
    /// persistence comes.
    pub store_dir: Option<PathBuf>,
    /// natsd only: after a turn with traffic the reactor may keep polling
    /// without sleeping up to this long, so a reply that follows soon is
    /// read without waking the thread; it does only where recent gaps were
    /// short (see `net/reactor/spin.rs`). Zero never spins.
    pub busy_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: i32::from(DEFAULT_PORT),
            server_name: None,
            username: None,
            password: None,
            authorization: None,
            users: None,
            no_auth_user: None,
            accounts: Vec::new(),
            system_account: SYSTEM_ACCOUNT.to_string(),
            trusted_operators: Vec::new(),
            trusted_keys: Vec::new(),
            resolver: None,
            resolver_preload: Vec::new(),
            tls: None,
            allow_non_tls: false,
            websocket: None,
            leafnodes: None,
            cluster: None,
            auth_timeout: Duration::from_secs(2),
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            write_deadline: Duration::from_secs(10),
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            pid_file: None,
            ports_file_dir: None,
            http_host: DEFAULT_HOST.to_string(),
            http_port: 0,
            https_port: 0,
            http_base_path: String::new(),
            busy_poll: Duration::from_micros(50),
            store_dir: None,
        }
    }
}

impl Options {
    /// What the logger should do under these options.
    pub fn log_settings(&self) -> crate::logging::LogSettings {
        crate::logging::LogSettings {
            debug: self.debug,
            trace: self.trace,
            logtime: self.logtime,
            file: self.log_file.clone(),
        }
    }

    /// Options for an in-process server on a free loopback port: what tests
    /// and embedders usually want.
    pub fn ephemeral() -> Options {
        Options {
            host: "127.0.0.1".to_string(),
            port: 0,
            http_host: "127.0.0.1".to_string(),
            ..Options::default()
        }
    }

    /// Whether INFO tells clients to present credentials: not when a
    /// client without any is taken as the `no_auth_user` (nats-server
    /// then leaves `auth_required` out).
    pub fn info_auth_required(&self) -> bool {
        self.auth_required() && self.no_auth_user.is_none()
    }

    /// nats-server's `checkAuthforWarnings`: a password (not a token) that
    /// is not a bcrypt hash.
    pub fn has_plaintext_passwords(&self) -> bool {
        let plain = |p: &str| !p.is_empty() && !crate::auth::password::is_bcrypt(p);
        self.password.as_deref().is_some_and(plain)
            || self.users.iter().flatten().any(|u| plain(&u.password))
    }

    /// nats-server's special case for a file whose only account is the
    /// system account and that has no `authorization` users: a client
    /// without credentials is let into `$G` (Go makes a hidden user for
    /// it), while the system account's users log in as usual.
    pub fn anonymous_into_global(&self) -> bool {
        self.no_auth_user.is_none()
            && self.username.is_none()
            && self.authorization.is_none()
            && !self.accounts.is_empty()
            && self.accounts.iter().all(|a| a.name == self.system_account)
            && self.users.iter().flatten().all(|u| u.account.is_some())
    }

    /// nats-server's `nonceRequired`: INFO carries a nonce for the client
    /// to sign when some user logs in with an NKey, and in operator mode.
    pub fn nonce_required(&self) -> bool {
        self.operator_mode() || self.users.iter().flatten().any(|u| u.nkey.is_some())
    }

    /// JWT operator mode: clients log in with user JWTs of trusted
    /// operators' accounts.
    pub fn operator_mode(&self) -> bool {
        !self.trusted_operators.is_empty() || !self.trusted_keys.is_empty()
    }

    /// Whether clients must authenticate in CONNECT.
    pub fn auth_required(&self) -> bool {
        self.username.is_some()
            || self.authorization.is_some()
            || self.users.is_some()
            || self.operator_mode()
    }

    /// nats-server's default auth timeout with TLS: the TLS timeout and a
    /// second more (the client's handshake comes first), unless the
    /// configuration set one.
    pub fn default_auth_timeout_for_tls(&mut self, set_explicitly: bool) {
        if let (false, Some(tls)) = (set_explicitly, &self.tls) {
            self.auth_timeout =
                tls.timeout.unwrap_or(Duration::from_secs(2)) + Duration::from_secs(1);
        }
    }

    /// Refuse combinations nats-server refuses.
    pub fn validate(&self) -> Result<(), String> {
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                crate::go_format::duration(self.lame_duck_grace_period),
                crate::go_format::duration(self.lame_duck_duration)
            ));
        }
        if self.username.is_some() && self.authorization.is_some() {
            return Err("Can not have a single user/pass and a token".into());
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("a password needs a user (--user)".into());
        }
        if let Some(users) = &self.users {
            if self.username.is_some() {
                return Err("Can not have a single user/pass and a users array".into());
            }
            if self.authorization.is_some() {
                return Err("Can not have a token and a users array".into());
            }
            for (i, user) in users.iter().enumerate() {
                if users[..i].iter().any(|u| u.name() == user.name()) {
                    return Err(match &user.nkey {
                        Some(nkey) => format!("Duplicate nkey {nkey:?} detected"),
                        None => format!("Duplicate user {:?} detected", user.username),
                    });
                }
                if user.nkey.is_some() && !JWT_BUILT {
                    return Err(jwt_not_built("an nkey user"));
                }
            }
        }
        if let Some(tls) = &self.tls {
            // Not in yet (issue 13): each would serve clients otherwise
            // than the file asks.
            for pin in &tls.pinned_certs {
                if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "error parsing tls config, 'pinned_certs' key {pin} does not look like \
                         hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                    ));
                }
            }
            if !cfg!(feature = "tls") {
                return Err(
                    "TLS is not supported by this build: natsd was built without the `tls` feature"
                        .into(),
                );
            }
        }
        self.check_operator_mode()?;
        if let (Some(name), false) = (&self.no_auth_user, self.operator_mode()) {
            self.check_no_auth_user(name)?;
        }
        self.check_accounts()?;
        self.check_leafnodes()?;
        self.check_cluster()?;
        if self.max_payload == 0 || self.max_control_line == 0 {
            return Err("max_payload and max_control_line must be positive".into());
        }
        if u64::from(self.max_payload) > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if !(-1..=i32::from(u16::MAX)).contains(&self.port) {
            return Err(format!("invalid port {}", self.port));
        }
        if !(-1..=i32::from(u16::MAX)).contains(&self.http_port) {
            return Err(format!("invalid http port {}", self.http_port));
        }
        if self.http_port != 0 && !MONITOR_BUILT {
            return Err(monitor_not_built("http_port"));
        }
        if self.https_port != 0 {
            // nats-server's checks when it starts monitoring.
            if !MONITOR_BUILT {
                return Err(monitor_not_built("https_port"));
            }
            if !(-1..=i32::from(u16::MAX)).contains(&self.https_port) {
                return Err(format!("invalid https port {}", self.https_port));
            }
            if self.http_port != 0 {
                return Err(format!(
                    "Can't start monitoring: can't specify both HTTP ({}) and HTTPs ({}) ports",
                    self.http_port, self.https_port
                ));
            }
            if self.tls.is_none() {
                return Err("Can't start monitoring: TLS cert and key required for HTTPS".into());
            }
        }
        self.check_websocket()
    }

    /// nats-server's `validateNoAuthUser`: `name` is a configured user.
    fn check_no_auth_user(&self, name: &str) -> Result<(), String> {
        let users = self.users.as_deref().ok_or_else(|| {
            format!("no_auth_user: \"{name}\" present, but users/nkeys are not defined")
        })?;
        if !users.iter().any(|u| u.name() == name) {
            return Err(format!(
                "no_auth_user: \"{name}\" not present as user or nkey in authorization \
                 block or account configuration"
            ));
        }
        Ok(())
    }

    /// nats-server's `validateLeafNode` (and `validateLeafNodeAuthOptions`),
    /// in its order, and what this build cannot do.
    fn check_leafnodes(&self) -> Result<(), String> {
        let Some(leaf) = &self.leafnodes else {
            return Ok(());
        };
        if !LEAFNODES_BUILT {
            return Err(leafnodes_not_built());
        }
        if !leaf.users.is_empty() {
            if leaf.username.is_some() {
                return Err("can not have a single user/pass and a users array".into());
            }
            for (i, user) in leaf.users.iter().enumerate() {
                if leaf.users[..i].iter().any(|u| u.username == user.username) {
                    return Err(format!(
                        "duplicate user {:?} detected in leafnode authorization",
                        user.username
                    ));
                }
            }
        }
        let mut names = Vec::with_capacity(leaf.remotes.len());
        for remote in &leaf.remotes {
            for (what, subjects) in [
                ("deny_imports", &remote.deny_imports),
                ("deny_exports", &remote.deny_exports),
            ] {
                if let Some(bad) = subjects
                    .iter()
                    .find(|s| !crate::subject::is_valid_subject(s.as_bytes()))
                {
                    return Err(format!(
                        "invalid {what} for remote {}: subject {bad:?} is not a valid subject",
                        remote.safe_name()
                    ));
                }
            }
            let name = remote.name();
            if names.contains(&name) {
                return Err(format!("duplicate remote {}", remote.safe_name()));
            }
            names.push(name);
        }
        // nats-server checks the accounts unless there are trusted
        // operators (`trusted_keys` alone is not enough).
        if self.trusted_operators.is_empty() {
            // The system account is in `accounts` unless it is the default
            // `$SYS`; an empty name is `$G`.
            let known = |name: &str| {
                name.is_empty()
                    || name == GLOBAL_ACCOUNT
                    || name == self.system_account
                    || self.accounts.iter().any(|a| a.name == name)
            };
            let accounts = leaf
                .account
                .iter()
                .chain(leaf.users.iter().flat_map(|u| &u.account));
            for account in accounts {
                if !known(account) {
                    return Err(format!(
                        "cannot find local account {account:?} specified in leafnode authorization"
                    ));
                }
            }
            for account in leaf.remotes.iter().flat_map(|r| &r.account) {
                if !known(account) {
                    return Err(format!(
                        "cannot find local account {account:?} specified in leafnode remote"
                    ));
                }
            }
        } else {
            if !leaf.users.is_empty() {
                return Err(
                    "operator mode does not allow specifying users in leafnode config".into(),
                );
            }
            let account_key = |key: &str| {
                #[cfg(feature = "jwt")]
                {
                    crate::auth::nkeys::is_valid_public_key(
                        key,
                        crate::auth::nkeys::KeyKind::Account,
                    )
                }
                #[cfg(not(feature = "jwt"))]
                {
                    let _ = key;
                    false
                }
            };
            for remote in &leaf.remotes {
                if !account_key(remote.account.as_deref().unwrap_or(GLOBAL_ACCOUNT)) {
                    return Err(
                        "operator mode requires account nkeys in remotes. Please add an \
                                `account` key to each remote in your `leafnodes` section, to \
                                assign it to an account. Each account value should be a 56 \
                                character public key, starting with the letter 'A'"
                            .into(),
                    );
                }
            }
            if let (true, Some(account)) = (leaf.port != 0, &leaf.account) {
                if !account_key(account) {
                    return Err("operator mode and non account nkeys are incompatible".into());
                }
            }
        }
        for remote in &leaf.remotes {
            if let Some(first) = remote.urls.first() {
                let ws = is_ws_url(first);
                if remote.urls.iter().any(|u| is_ws_url(u) != ws) {
                    let urls: Vec<String> = remote.urls.iter().map(|u| redact_url(u)).collect();
                    return Err(format!(
                        "remote leaf node configuration cannot have a mix of websocket and \
                         non-websocket urls: {}",
                        go_quoted_list(&urls)
                    ));
                }
            }
        }
        // natsd's own: what nats-server would find out later, and what
        // this build lacks.
        if !(-1..=i32::from(u16::MAX)).contains(&leaf.port) {
            return Err(format!("invalid leafnode port {}", leaf.port));
        }
        if let Some(tls) = &leaf.tls {
            for pin in &tls.pinned_certs {
                if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "leafnode: error parsing tls config, 'pinned_certs' key {pin} does not \
                         look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                    ));
                }
            }
        }
        let wss = |r: &RemoteLeafOptions| {
            r.urls
                .iter()
                .any(|u| u.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("wss:")))
        };
        if !cfg!(feature = "tls")
            && (leaf.tls.is_some() || leaf.remotes.iter().any(|r| r.tls.is_some() || wss(r)))
        {
            return Err(
                "TLS is not supported by this build: natsd was built without the `tls` feature"
                    .into(),
            );
        }
        if !cfg!(feature = "websocket") && leaf.remotes.iter().any(|r| r.is_websocket()) {
            return Err(
                "WebSocket is not supported by this build: natsd was built without the \
                 `websocket` feature"
                    .into(),
            );
        }
        if !JWT_BUILT {
            if let Some(remote) = leaf
                .remotes
                .iter()
                .find(|r| r.credentials.is_some() || r.nkey_seed.is_some())
            {
                let what = if remote.credentials.is_some() {
                    "credentials"
                } else {
                    "nkey"
                };
                return Err(jwt_not_built(&format!("{what:?} in a leafnode remote")));
            }
        }
        Ok(())
    }

    /// nats-server's `validateCluster`, in its order, and what natsd and
    /// this build cannot do. (nats-server also checks the cluster's name
    /// against the gateway's; natsd has no gateways.)
    fn check_cluster(&self) -> Result<(), String> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        if !CLUSTER_BUILT {
            return Err(cluster_not_built());
        }
        if cluster.name.as_ref().is_some_and(|n| n.contains(' ')) {
            return Err("cluster name cannot contain spaces".into());
        }
        if let Some(perms) = &cluster.permissions {
            for (what, perm) in [("import", &perms.import), ("export", &perms.export)] {
                let Some(perm) = perm else {
                    continue;
                };
                for (kind, list) in [
                    ("allow", perm.allow.as_deref().unwrap_or(&[])),
                    ("deny", &perm.deny[..]),
                ] {
                    if let Some(bad) = list
                        .iter()
                        .find(|s| !crate::subject::is_valid_subject(s.as_bytes()))
                    {
                        return Err(format!(
                            "cluster {what} {kind}: subject {bad:?} is not a valid subject"
                        ));
                    }
                }
            }
        }
        if !matches!(
            cluster.compression.as_str(),
            "off" | "not supported" | "accept" | "s2_auto" | "s2_fast" | "s2_better" | "s2_best"
        ) {
            return Err(format!(
                "unsupported compression mode {:?}",
                cluster.compression
            ));
        }
        if let Some(tls) = &cluster.tls {
            for pin in &tls.pinned_certs {
                let lower = pin.to_lowercase();
                if lower.len() != 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "cluster: error parsing 'pinned_certs' key {lower} does not look like \
                         lower case hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                    ));
                }
            }
        }
        if !cluster.pinned_accounts.is_empty() {
            if cluster.pool_size < 0 {
                return Err("pool_size cannot be negative if pinned accounts are specified".into());
            }
            let accounts = &cluster.pinned_accounts;
            for (i, account) in accounts.iter().enumerate() {
                if accounts[..i].contains(account) {
                    return Err(format!(
                        "found duplicate account name {account:?} in pinned accounts list {}",
                        go_quoted_list(accounts)
                    ));
                }
            }
            return Err(
                "cluster: accounts is not supported by natsd: pinned accounts need route \
                 pooling, which natsd does not do (it behaves as pool_size: -1)"
                    .into(),
            );
        }
        // nats-server's ConfigureOptions refuses `--routes` without a
        // cluster; with `routes` in the file and no port it starts and
        // never dials them. natsd refuses both.
        if !cluster.routes.is_empty() && cluster.port == 0 {
            return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
        }
        // natsd's own: what nats-server would find out later, and what
        // this build lacks.
        if !(-1..=i32::from(u16::MAX)).contains(&cluster.port) {
            return Err(format!("invalid cluster port {}", cluster.port));
        }
        if cluster.tls.is_some() && !cfg!(feature = "tls") {
            return Err(
                "TLS is not supported by this build: natsd was built without the `tls` feature"
                    .into(),
            );
        }
        Ok(())
    }

    /// nats-server's `validateWebsocketOptions`, in its order.
    fn check_websocket(&self) -> Result<(), String> {
        let Some(ws) = &self.websocket else {
            return Ok(());
        };
        if !cfg!(feature = "websocket") {
            return Err(
                "WebSocket is not supported by this build: natsd was built without the \
                 `websocket` feature"
                    .into(),
            );
        }
        if !(-1..=i32::from(u16::MAX)).contains(&ws.port) {
            return Err(format!("invalid websocket port {}", ws.port));
        }
        if ws.tls.is_none() && !ws.no_tls {
            return Err("websocket requires TLS configuration".into());
        }
        if let Some(tls) = &ws.tls {
            if tls.verify_and_map || !tls.pinned_certs.is_empty() {
                let what = if tls.verify_and_map {
                    "verify_and_map"
                } else {
                    "pinned_certs"
                };
                return Err(format!("\"{what}\" is not supported by natsd yet"));
            }
            if !cfg!(feature = "tls") {
                return Err(
                    "TLS is not supported by this build: natsd was built without the `tls` feature"
                        .into(),
                );
            }
        }
        for origin in &ws.allowed_origins {
            check_allowed_origin(origin)?;
        }
        if let Some(name) = &ws.no_auth_user {
            if self.operator_mode() {
                return Err("no_auth_user not compatible with Trusted Operator".into());
            }
            self.check_no_auth_user(name)?;
        }
        if self.users.as_ref().is_some_and(|u| !u.is_empty()) {
            if ws.username.is_some() {
                return Err(
                    "websocket authentication username not compatible with presence of users/nkeys"
                        .into(),
                );
            }
            if ws.token.is_some() {
                return Err(
                    "websocket authentication token not compatible with presence of users/nkeys"
                        .into(),
                );
            }
        }
        if let (Some(cookie), false) = (&ws.jwt_cookie, self.operator_mode()) {
            return Err(format!(
                "trusted operators or trusted keys configuration is required for JWT \
                 authentication via cookie \"{cookie}\""
            ));
        }
        for (key, _) in &ws.headers {
            let lower = key.to_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
            ) {
                return Err(format!("websocket: invalid header {key:?} not allowed"));
            }
            if lower.starts_with("sec-websocket-") {
                return Err(format!(
                    "websocket: invalid header {key:?}, \"Sec-WebSocket-\" prefix not allowed"
                ));
            }
        }
        Ok(())
    }
}

/// nats-server's check of an `allowed_origins` entry: an absolute http or
/// https URL with a host.
fn check_allowed_origin(origin: &str) -> Result<(), String> {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "unable to parse allowed origin: parse {origin:?}: invalid URI for request"
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: allowed origins must be absolute URLs \
             with http or https scheme"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: host is required"
        ));
    }
    if !host.starts_with('[') && host.matches(':').count() > 1 {
        return Err(format!(
            "unable to parse allowed origin: address {host}: too many colons in address"
        ));
    }
    Ok(())
}

impl Options {
    /// nats-server's `validateTrustedOperators` (what the config layer
    /// could not check alone) and `validateNoAuthUser`.
    fn check_operator_mode(&self) -> Result<(), String> {
        if !self.operator_mode() {
            return Ok(());
        }
        if !JWT_BUILT {
            return Err(jwt_not_built("operator mode"));
        }
        if !self.trusted_operators.is_empty() {
            if self.resolver.is_none() {
                return Err("operators require an account resolver to be configured".into());
            }
            if !self.accounts.is_empty() {
                return Err("operators do not allow Accounts to be configured directly".into());
            }
            if self.users.as_ref().is_some_and(|u| !u.is_empty()) {
                return Err("operators do not allow users to be configured directly".into());
            }
            if !self.trusted_keys.is_empty() {
                return Err("conflicting options for 'TrustedKeys' and 'TrustedOperators'".into());
            }
        }
        if self.no_auth_user.is_some() && !self.trusted_operators.is_empty() {
            return Err("no_auth_user not compatible with Trusted Operator".into());
        }
        Ok(())
    }

    /// nats-server's checks of accounts as its `parseAccounts` links them:
    /// users in known accounts, exports to known accounts, imports of
    /// subjects their exporter allows the importer.
    pub fn check_accounts(&self) -> Result<(), String> {
        let known = |name: &str| {
            name == GLOBAL_ACCOUNT
                || name == self.system_account
                || self.accounts.iter().any(|a| a.name == name)
        };
        // In operator mode the system account comes from its JWT.
        if self.system_account != SYSTEM_ACCOUNT
            && !self.operator_mode()
            && !self.accounts.iter().any(|a| a.name == self.system_account)
        {
            return Err("error resolving system account: account missing".into());
        }
        for user in self.users.iter().flatten() {
            if let Some(account) = &user.account {
                if !known(account) {
                    return Err(format!(
                        "user {:?} is in account {account:?}, which is not defined",
                        user.username
                    ));
                }
            }
        }
        for account in &self.accounts {
            for export in &account.exports {
                let kind = if export.service.is_some() {
                    "service"
                } else {
                    "stream"
                };
                for name in export.accounts.iter().flatten() {
                    if !known(name) {
                        return Err(format!("{name:?} account not defined for {kind} export"));
                    }
                }
                if !crate::subject::is_valid_subject(export.subject.as_bytes()) {
                    return Err(format!(
                        "Error adding {kind} export {:?}: invalid subject",
                        export.subject
                    ));
                }
            }
        }
        for account in &self.accounts {
            for import in &account.imports {
                if let Some(problem) = import_problem(&self.accounts, &known, &account.name, import)
                {
                    return Err(problem);
                }
            }
        }
        Ok(())
    }
}

/// Why `importer`'s `import` does not resolve against `accounts` (its
/// exporter missing, the export not allowing it, a bad subject), in
/// nats-server's texts; `known` says which account names exist at all.
pub fn import_problem(
    accounts: &[AccountConfig],
    known: &dyn Fn(&str) -> bool,
    importer: &str,
    import: &Import,
) -> Option<String> {
    let (kind, local) = match &import.kind {
        ImportKind::Stream { .. } => ("stream", None),
        ImportKind::Service { to } => ("service", Some(to)),
    };
    let Some(exporter) = accounts.iter().find(|a| a.name == import.account) else {
        if known(&import.account) {
            return Some(format!(
                "Error adding {kind} import {:?}: {kind} import not authorized",
                import.subject
            ));
        }
        return Some(format!(
            "{:?} account not defined for {kind} import",
            import.account
        ));
    };
    let fail = |why: &str| format!("Error adding {kind} import {:?}: {why}", import.subject);
    let subject_ok = crate::subject::is_valid_subject(import.subject.as_bytes())
        && local.is_none_or(|to| crate::subject::is_valid_subject(to.as_bytes()));
    if !subject_ok {
        return Some(fail("invalid subject"));
    }
    let authorized = exporter.exports.iter().any(|e| {
        e.service.is_some() == local.is_some()
            && crate::auth::permissions::is_subset_match(
                import.subject.as_bytes(),
                e.subject.as_bytes(),
            )
            && e.accounts
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == importer))
    });
    if !authorized {
        return Some(fail(&format!("{kind} import not authorized")));
    }
    if let ImportKind::Stream { prefix, to } = &import.kind {
        if let Some(prefix) = prefix {
            // nats-server adds the separator unless it is there.
            let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
            if !crate::subject::is_literal(prefix.as_bytes())
                || !crate::subject::is_valid_subject(prefix.as_bytes())
            {
                return Some(fail("stream import prefix can not contain wildcard tokens"));
            }
        }
        if let Some(to) = to {
            if let Err(why) = crate::subject_mapping::SubjectMapping::new(&import.subject, to) {
                return Some(format!(
                    "Error adding stream import {:?}: failed to create mapping \
                                 transform for stream import subject from {:?} to {to:?}: {why}",
                    import.subject, import.subject
                ));
            }
        }
    }
    None
}

/// One of the config file's users (`authorization { users [...] }` or an
/// account's `users`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// Empty for an NKey user.
    pub username: String,
    /// Plain, or a bcrypt hash; empty when the entry has none.
    pub password: String,
    /// An NKey user's public key (`U...`): it logs in by signing the
    /// server's nonce, and has no username or password.
    pub nkey: Option<String>,
    /// Its own, or the default permissions of its block; `None`: no limits.
    pub permissions: Option<Permissions>,
    /// The account it logs into; `None` is `$G`.
    pub account: Option<String>,
    /// `allowed_connection_types`, upper-cased; `None` admits every kind.
    pub connection_types: Option<Vec<String>>,
}

impl User {
    /// Whether it may log in over a connection of this kind (`STANDARD`,
    /// `WEBSOCKET`, ...).
    pub fn allows(&self, kind: &str) -> bool {
        self.connection_types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == kind))
    }

    /// How nats-server names the user: its NKey, else its user name (what
    /// `no_auth_user` names and `/connz?auth=1` shows).
    pub fn name(&self) -> &str {
        self.nkey.as_deref().unwrap_or(&self.username)
    }
}

/// One account of the config file's `accounts { NAME: { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountConfig {
    pub name: String,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
}

/// A subject an account lets others import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// May contain wildcards.
    pub subject: String,
    /// `Some` for a service export; `None` for a stream.
    pub service: Option<ServiceExport>,
    /// Who may import it; `None` is everyone (a public export).
    pub accounts: Option<Vec<String>>,
}

/// What a service export adds to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceExport {
    pub response_type: ResponseType,
    /// How long a request's reply mapping waits for a response
    /// (`response_threshold`).
    pub response_threshold: Duration,
}

impl Default for ServiceExport {
    fn default() -> Self {
        ServiceExport {
            response_type: ResponseType::Singleton,
            response_threshold: DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD,
        }
    }
}

/// nats-server's `DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD`.
pub const DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// How many responses a service request may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// One: the reply mapping ends with the first response.
    Singleton,
    /// Any number, until the threshold passes.
    Stream,
    /// Any number, until the threshold passes (a response in parts).
    Chunked,
}

impl ResponseType {
    /// The name `/accountz` shows (nats-server's `ServiceRespType.String`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Stream => "Streamed",
            ResponseType::Chunked => "Chunked",
        }
    }
}

/// A subject an account takes from another account's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    pub kind: ImportKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    /// Messages published in the exporter reach subscribers here, under
    /// `prefix.subject` or the subject mapped to `to`.
    Stream {
        prefix: Option<String>,
        to: Option<String>,
    },
    /// Requests published here on `to` (the local subject) go to the
    /// exporter's `subject`; the responses come back.
    Service { to: String },
}

/// The command-line flags given explicitly. They win over the config file
/// whatever its values, and a flag not given leaves the file's value alone:
/// nats-server parses its flags again after the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<i32>,
    pub server_name: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub authorization: Option<String>,
    /// `-D` (a flag can only turn it on).
    pub debug: bool,
    /// `-V`.
    pub trace: bool,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    pub http_port: Option<i32>,
    pub https_port: Option<i32>,
    pub http_base_path: Option<String>,
    pub busy_poll: Option<Duration>,
    pub store_dir: Option<PathBuf>,
    /// `--tls*`: they replace the file's certificate, CA and verify.
    pub tls: Option<TlsFlags>,
    /// `--cluster` (`--cluster_listen`): the route listener, and the
    /// cluster's authorization from the URL.
    pub cluster_listen: Option<ClusterListen>,
    /// `--cluster_name`; empty: none.
    pub cluster_name: Option<String>,
    /// `--cluster_advertise`; empty: none.
    pub cluster_advertise: Option<String>,
    /// `--no_advertise` (a flag can only turn it on).
    pub no_advertise: bool,
    /// `--connect_retries`.
    pub connect_retries: Option<i32>,
    /// `--routes`: they replace the file's.
    pub routes: Option<Vec<String>>,
}

/// `--cluster <url>` as nats-server's `overrideCluster` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterListen {
    /// `--cluster ""`: no route listener (the port is 0).
    Off,
    /// `nats://[user:password@]host:port`; the host may be empty (all
    /// interfaces), the port -1 (a free one).
    Url {
        host: String,
        port: i32,
        /// Both or neither (nats-server refuses a user without a
        /// password); neither drops the file's.
        username: Option<String>,
        password: Option<String>,
    },
}

impl Overrides {
    /// Whether a cluster flag was given.
    pub fn has_cluster_flags(&self) -> bool {
        self.cluster_listen.is_some()
            || self.cluster_name.is_some()
            || self.cluster_advertise.is_some()
            || self.no_advertise
            || self.connect_retries.is_some()
            || self.routes.is_some()
    }

    /// The cluster flags over the file's `cluster {}`, as nats-server's
    /// `ConfigureOptions` (which parses the flags again after the file)
    /// and `overrideCluster`.
    fn apply_cluster(&self, opts: &mut Options) {
        if !self.has_cluster_flags() {
            return;
        }
        let cluster = opts.cluster.get_or_insert_with(ClusterOptions::default);
        match &self.cluster_listen {
            None => {}
            Some(ClusterListen::Off) => cluster.port = 0,
            Some(ClusterListen::Url {
                host,
                port,
                username,
                password,
            }) => {
                cluster.host = host.clone();
                cluster.port = *port;
                cluster.username = username.clone();
                cluster.password = password.clone();
            }
        }
        if let Some(name) = &self.cluster_name {
            cluster.name = (!name.is_empty()).then(|| name.clone());
        }
        if let Some(advertise) = &self.cluster_advertise {
            cluster.advertise = (!advertise.is_empty()).then(|| advertise.clone());
        }
        cluster.no_advertise |= self.no_advertise;
        if let Some(retries) = self.connect_retries {
            cluster.connect_retries = retries;
        }
        if let Some(routes) = &self.routes {
            cluster.routes = routes.clone();
        }
        // setBaselineOptions.
        if cluster.port != 0 && cluster.host.is_empty() {
            cluster.host = DEFAULT_HOST.to_string();
        }
    }
}

/// The TLS flags, all given together (`--tlscert` and `--tlskey` at least).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFlags {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub verify: bool,
}

impl Overrides {
    pub fn apply(&self, opts: &mut Options) {
        fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
            if let Some(value) = flag {
                *field = value.clone();
            }
        }
        fn set_some<T: Clone>(field: &mut Option<T>, flag: &Option<T>) {
            if flag.is_some() {
                *field = flag.clone();
            }
        }
        set(&mut opts.host, &self.host);
        set(&mut opts.port, &self.port);
        set_some(&mut opts.server_name, &self.server_name);
        set_some(&mut opts.username, &self.username);
        set_some(&mut opts.password, &self.password);
        set_some(&mut opts.authorization, &self.authorization);
        opts.debug |= self.debug;
        opts.trace |= self.trace;
        set_some(&mut opts.log_file, &self.log_file);
        set_some(&mut opts.pid_file, &self.pid_file);
        set_some(&mut opts.ports_file_dir, &self.ports_file_dir);
        set(&mut opts.http_port, &self.http_port);
        set(&mut opts.https_port, &self.https_port);
        set(&mut opts.http_base_path, &self.http_base_path);
        set(&mut opts.busy_poll, &self.busy_poll);
        set_some(&mut opts.store_dir, &self.store_dir);
        if let Some(flags) = &self.tls {
            // nats-server keeps the file's timeout, handshake_first,
            // pinned_certs and verify_and_map under the flags.
            let tls = opts.tls.get_or_insert_with(TlsOptions::default);
            tls.cert_file = Some(flags.cert_file.clone());
            tls.key_file = Some(flags.key_file.clone());
            tls.ca_file = flags.ca_file.clone();
            tls.verify = flags.verify || tls.verify_and_map;
            tls.cipher_suites = None;
            tls.curve_preferences = None;
            tls.min_version_13 = false;
        }
        self.apply_cluster(opts);
    }

    /// The options of a server started without a config file.
    pub fn to_options(&self) -> Options {
        let mut opts = Options::default();
        self.apply(&mut opts);
        // As in nats-server, monitoring listens where clients do unless the
        // config file's `http: "host:port"` says otherwise.
        opts.http_host = opts.host.clone();
        opts
    }
}
