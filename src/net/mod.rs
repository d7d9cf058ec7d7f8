//! The only code that touches sockets, the poll and the clock: the
//! reactor, the listeners, signals and the memory trim. It moves bytes
//! between sockets and the sans-IO [`Core`], and tells it the time.

#[cfg(feature = "cluster")]
mod interfaces;
mod reactor;
pub mod signals;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod trim;
#[cfg(feature = "websocket")]
pub mod websocket;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::net::TcpListener;
use mio::{Interest, Waker};

use crate::core::rng::Rng;
use crate::core::stats::WallClock;
use crate::core::Core;
use crate::options::Options;
use crate::proto::Info;
use crate::version::NATS_SERVER_VERSION;
pub use reactor::ReloadSource;
use reactor::{Reactor, SIGNALS};

/// A bound, not yet running server.
pub struct Server {
    reactor: Reactor,
    addr: SocketAddr,
}

/// Stops a running server from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
    lame_duck: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ServerHandle {
    /// Ask the reactor to close the listener and every client, then return.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }

    /// Enter lame duck mode, as SIGUSR2 does: stop accepting, then close
    /// the clients over `lame_duck_duration` and stop.
    pub fn enter_lame_duck(&self) {
        self.lame_duck.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

impl Server {
    /// Bind the client listener. Nothing is served until [`Server::run`].
    pub fn new(opts: Options) -> io::Result<Server> {
        Server::check_start(&opts).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = bind(&opts.host, opts.port)?;
        let addr = listener.local_addr()?;
        let seed = random_seed();
        let server_id = server_id(seed);
        let mut info = Info::server(
            server_id.clone(),
            opts.server_name.clone().unwrap_or(server_id),
            NATS_SERVER_VERSION,
            &opts.host,
            addr.port(),
            opts.auth_required(),
            opts.max_payload,
        );
        crate::core::tls_info(&opts, &mut info);
        // One monitor port: HTTP or HTTPS (`validate` refuses both).
        let monitor_port = if opts.https_port != 0 {
            opts.https_port
        } else {
            opts.http_port
        };
        let monitor_listener = match monitor_port {
            0 => None,
            port => Some(bind(&opts.http_host, port).map_err(|e| {
                io::Error::new(e.kind(), format!("can't listen to the monitor port: {e}"))
            })?),
        };
        let mut reactor = Reactor::new(
            Core::new(
                opts,
                info,
                seed,
                WallClock::new(std::time::Instant::now(), std::time::SystemTime::now()),
            ),
            listener,
        )?;
        if let Some(listener) = monitor_listener {
            reactor.serve_monitor(listener)?;
        }
        if let Some(ws) = reactor.core.opts.websocket.clone() {
            let listener = bind(&ws.host, ws.port).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("Unable to listen for websocket connections: {e}"),
                )
            })?;
            reactor.serve_websocket(listener, &ws)?;
        }
        // Even without `leafnodes {}`: a reload may add remotes.
        #[cfg(feature = "leafnodes")]
        {
            let leafnodes = reactor.core.opts.leafnodes.clone().unwrap_or_default();
            let listener = match leafnodes.port {
                0 => None,
                port => Some(bind(&leafnodes.host, port).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("Error listening on leafnode port: {port} - {e}"),
                    )
                })?),
            };
            reactor.serve_leafnodes(listener, &leafnodes)?;
        }
        #[cfg(feature = "cluster")]
        if let Some(cluster) = reactor.core.opts.cluster.clone() {
            let port = cluster.port;
            let listener = bind(&cluster.host, port).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("Error listening on router port: {port} - {e}"),
                )
            })?;
            let client_urls = client_connect_urls(&reactor.core.opts, addr.port());
            reactor.serve_routes(listener, &cluster, client_urls)?;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &reactor.core.opts.tls {
            reactor.tls = Some(transport::TlsStart {
                config: tls::server_config(tls)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                optional: reactor.core.opts.allow_non_tls,
                handshake_first: tls.handshake_first,
            });
            reactor.tls_timeout = tls.timeout.unwrap_or(std::time::Duration::from_secs(2));
        }
        Ok(Server { reactor, addr })
    }

    /// What nats-server checks of its options before it starts: the
    /// options' own rules ([`Options::validate`]) and, in operator mode,
    /// that the system account's JWT resolves.
    pub fn check_start(opts: &Options) -> Result<(), String> {
        opts.validate()?;
        #[cfg(feature = "jwt")]
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if let Some(why) = crate::auth::operator::system_account_problem(opts, now) {
                return Err(format!("error resolving system account: {why}"));
            }
        }
        Ok(())
    }

    /// Where monitoring is served (`http_port`), when it is.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.reactor.monitor_addr()
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where WebSocket clients connect, when `websocket {}` is set.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.reactor.websocket_addr()
    }

    /// Where leaf nodes connect, when `leafnodes {}` has a port.
    pub fn leafnode_addr(&self) -> Option<SocketAddr> {
        self.reactor.leafnode_addr()
    }

    /// Where routes connect, when `cluster {}` is set.
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.reactor.route_addr()
    }

    pub fn id(&self) -> &str {
        &self.reactor.core.info.server_id
    }

    pub fn name(&self) -> &str {
        &self.reactor.core.info.server_name
    }

    /// Log what nats-server logs after its name and id (operator mode's
    /// trusted operators).
    pub fn log_start(&self) {
        self.reactor.core.log_start();
    }

    pub fn handle(&self) -> io::Result<ServerHandle> {
        Ok(ServerHandle {
            stop: self.reactor.stop.clone(),
            lame_duck: self.reactor.lame_duck_requested.clone(),
            waker: Arc::new(self.reactor.waker()?),
        })
    }

    /// Act on signals as nats-server does (see [`signals`]): for the
    /// binary; an embedding program keeps its own signal handling.
    pub fn trap_signals(&mut self) -> io::Result<()> {
        let mut signals = signal_hook_mio::v1_0::Signals::new(signals::TRAPPED)?;
        self.reactor
            .poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.reactor.signals = Some(signals);
        Ok(())
    }

    /// Where a reload (SIGHUP) reads the new options from. Without one, a
    /// reload is refused as nats-server refuses it without `-c`.
    pub fn set_reload_source(&mut self, source: ReloadSource) {
        self.reactor.reload_source = Some(source);
    }

    /// Serve on this thread until shut down.
    pub fn run(mut self) -> io::Result<()> {
        if let Some(addr) = self.monitor_addr() {
            let scheme = if self.reactor.core.opts.https_port != 0 {
                "https"
            } else {
                "http"
            };
            log::info!(
                "Starting {scheme} monitor on {}",
                join_host_port(&self.reactor.core.opts.http_host, addr.port())
            );
        }
        if let (Some(addr), Some(ws)) = (self.websocket_addr(), &self.reactor.core.opts.websocket) {
            let scheme = if ws.tls.is_some() { "wss" } else { "ws" };
            // nats-server prints the host as configured, IPv6 unbracketed.
            log::info!(
                "Listening for websocket clients on {scheme}://{}:{}",
                ws.host,
                addr.port()
            );
            if ws.tls.is_none() {
                log::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
            }
        }
        if let (Some(addr), Some(leafnodes)) =
            (self.leafnode_addr(), &self.reactor.core.opts.leafnodes)
        {
            if let Some(advertise) = &leafnodes.advertise {
                log::info!("Advertise address for leafnode is set to {advertise}");
            }
            log::info!(
                "Listening for leafnode connections on {}",
                join_host_port(&leafnodes.host, addr.port())
            );
        }
        log::info!(
            "Listening for client connections on {}",
            join_host_port(&self.reactor.core.opts.host, self.addr.port())
        );
        if let (Some(addr), Some(cluster)) = (self.route_addr(), &self.reactor.core.opts.cluster) {
            log::info!("Cluster name is {}", self.reactor.core.cluster_name());
            if self.reactor.core.cluster_name_is_dynamic() {
                log::warn!("Cluster name was dynamically generated, consider setting one");
            }
            log::info!(
                "Listening for route connections on {}",
                join_host_port(&cluster.host, addr.port())
            );
        }
        if let Some(tls) = &self.reactor.core.opts.tls {
            // The INFO's fields say it (see `core::tls_info`).
            if self.reactor.core.info.tls_available {
                log::info!("TLS available for client connections");
            } else {
                log::info!("TLS required for client connections");
            }
            if tls.handshake_first == crate::options::HandshakeFirst::On {
                log::warn!(
                    "Clients that are not using \"TLS Handshake First\" option will fail to connect"
                );
            }
        }
        log::info!("Server is ready");
        self.reactor.run()
    }

    /// Bind and serve on a new thread: the embedding API tests use.
    pub fn spawn(opts: Options) -> io::Result<RunningServer> {
        let server = Server::new(opts)?;
        let addr = server.addr();
        let monitor_addr = server.monitor_addr();
        let websocket_addr = server.websocket_addr();
        let leafnode_addr = server.leafnode_addr();
        let route_addr = server.route_addr();
        let handle = server.handle()?;
        let thread = std::thread::Builder::new()
            .name("natsd".into())
            .spawn(move || server.run())?;
        Ok(RunningServer {
            addr,
            monitor_addr,
            websocket_addr,
            leafnode_addr,
            route_addr,
            handle,
            thread: Some(thread),
        })
    }
}

/// A server serving on its own thread; stopped when dropped.
pub struct RunningServer {
    addr: SocketAddr,
    monitor_addr: Option<SocketAddr>,
    websocket_addr: Option<SocketAddr>,
    leafnode_addr: Option<SocketAddr>,
    route_addr: Option<SocketAddr>,
    handle: ServerHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where monitoring is served, when it is.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr
    }

    /// Where WebSocket clients connect, when they can.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// Where leaf nodes connect, when `leafnodes {}` has a port.
    pub fn leafnode_addr(&self) -> Option<SocketAddr> {
        self.leafnode_addr
    }

    /// Where routes connect, when `cluster {}` is set.
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.route_addr
    }

    /// `nats://host:port` for clients.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stop and wait for the reactor to finish.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        self.handle.shutdown();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Bind like nats-server: `0.0.0.0` (the default) listens on every IPv4 and
/// IPv6 interface; port 0 or -1 picks a free port.
/// Where clients reach this server, as nats-server's `connect_urls` give
/// it: `client_advertise`, else the client listener's host, or for an
/// unspecified host (`0.0.0.0`, `::`) every global unicast address of the
/// machine's interfaces.
#[cfg(feature = "cluster")]
fn client_connect_urls(opts: &Options, port: u16) -> Vec<String> {
    let host = opts.host.as_str();
    let unspecified = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if !unspecified {
        return vec![join_host_port(host, port)];
    }
    let urls: Vec<String> = interfaces::addresses()
        .into_iter()
        .filter(is_global_unicast)
        .map(|ip| join_host_port(&ip.to_string(), port))
        .collect();
    if urls.is_empty() {
        log::error!("Address {host:?} can not be resolved properly");
    }
    urls
}

/// Go's `IP.IsGlobalUnicast`: not loopback, link-local, multicast or
/// unspecified.
#[cfg(feature = "cluster")]
fn is_global_unicast(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        std::net::IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_multicast() || v6.is_unspecified() || link_local)
        }
    }
}

fn bind(host: &str, port: i32) -> io::Result<TcpListener> {
    let port = u16::try_from(port.max(0))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid port {port}")))?;
    let ip: IpAddr = match host {
        "0.0.0.0" | "" => {
            // Dual stack first; a host without IPv6 gets IPv4 only.
            let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
            if let Ok(l) = TcpListener::bind(any6) {
                return Ok(l);
            }
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("invalid address {h:?}"),
                )
            })?,
    };
    TcpListener::bind(SocketAddr::new(ip, port))
}

/// `host:port`, with brackets around an IPv6 host, as Go's JoinHostPort.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// A server id shaped like nats-server's (an NKey server public key: 'N'
/// and 55 base32 characters).
fn server_id(seed: u64) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = Rng::new(seed);
    let mut id = String::from("N");
    for _ in 0..55 {
        id.push(ALPHABET[(rng.next_u64() % 32) as usize] as char);
    }
    id
}
