//! Route sockets: the route listener and the dials to other servers of
//! the cluster the core asks for. Once dialed or accepted, a route is a
//! socket like a client's: the core tells them apart by role.

use std::io;
use std::net::SocketAddr;
#[cfg(feature = "tls")]
use std::time::Duration;
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Interest, Token};

use super::dials::{Dialed, Dials};
use super::{put, Reactor, Socket};
use crate::core::route::RouteListener;
use crate::net::transport::Transport;

pub const ROUTE_LISTENER: Token = Token(usize::MAX - 11);
/// A route dial's token is this plus its index: above any connection's
/// key, below the leaf dials' tokens.
pub const ROUTE_DIAL_BASE: usize = usize::MAX / 16;

/// The route listener and the dials in progress.
pub struct RouteSockets {
    /// `None` without a cluster port.
    listener: Option<TcpListener>,
    pub addr: Option<SocketAddr>,
    /// Each for a route target (an index into the core's targets), with
    /// the host it was dialed by (the name TLS checks).
    dials: Dials<(usize, String)>,
    /// `cluster { tls {} }`: routes are TLS from their first byte, both
    /// ways, with the peer's certificate verified (as nats-server does).
    #[cfg(feature = "tls")]
    tls: Option<RouteTls>,
}

#[cfg(feature = "tls")]
struct RouteTls {
    accept: crate::net::transport::TlsStart,
    dial: std::sync::Arc<rustls::ClientConfig>,
}

impl Reactor {
    /// Accept routes on `listener` and dial the routes the core asks for.
    /// `client_urls` are where clients reach this server, for the
    /// `connect_urls` the cluster gives out.
    pub fn serve_routes(
        &mut self,
        mut listener: TcpListener,
        cluster: &crate::options::ClusterOptions,
        client_urls: Vec<String>,
    ) -> io::Result<()> {
        let host = cluster.host.as_str();
        self.poll
            .registry()
            .register(&mut listener, ROUTE_LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        self.core.set_route_listener(
            RouteListener {
                host: host.to_string(),
                port: addr.port(),
            },
            client_urls,
        );
        #[cfg(feature = "tls")]
        let tls = match &cluster.tls {
            Some(tls) => {
                let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
                Some(RouteTls {
                    accept: crate::net::transport::TlsStart {
                        config: crate::net::tls::server_config(tls).map_err(invalid)?,
                        optional: false,
                        handshake_first: crate::options::HandshakeFirst::On,
                    },
                    dial: crate::net::tls::client_config(Some(tls)).map_err(invalid)?,
                })
            }
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        if cluster.tls.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cluster TLS needs the `tls` feature",
            ));
        }
        self.routes = Some(RouteSockets {
            listener: Some(listener),
            addr: Some(addr),
            dials: Dials::new(ROUTE_DIAL_BASE),
            #[cfg(feature = "tls")]
            tls,
        });
        Ok(())
    }

    /// Where routes connect, when `cluster {}` has a port.
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.routes.as_ref().and_then(|r| r.addr)
    }

    pub(super) fn accept_routes(&mut self) {
        loop {
            let Some(listener) = self.routes.as_ref().and_then(|r| r.listener.as_ref()) else {
                return;
            };
            let (mut stream, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::error!("Temporary Route Accept Error({e})");
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let key = self.core.accept_route(addr, Instant::now());
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut stream, Token(key), Interest::READABLE)
            {
                log::error!("Error registering route connection {addr}: {e}");
                self.core.remove(key, Instant::now());
                continue;
            }
            #[cfg(feature = "tls")]
            let tls = self
                .routes
                .as_ref()
                .and_then(|r| r.tls.as_ref())
                .map(|t| t.accept.clone());
            #[cfg(not(feature = "tls"))]
            let tls = None;
            self.serve_accepted(key, addr, stream, tls);
        }
    }

    /// Each turn: start the dials the core asked for, and give up on those
    /// past their time.
    pub(super) fn route_turn(&mut self, now: Instant) {
        let Some(routes) = self.routes.as_mut() else {
            return;
        };
        let registry = self.poll.registry();
        for dial in self.core.take_route_dials() {
            let what = (dial.target, dial.url.host.clone());
            let started = routes
                .dials
                .start(registry, &dial.url.host, dial.url.port, what, now);
            if let Err(((target, _), text)) = started {
                self.core.route_dial_failed(target, &text, now);
            }
        }
        for (dial, text) in routes.dials.expired(registry, now) {
            self.core.route_dial_failed(dial.what.0, &text, now);
        }
    }

    /// A route dial's socket is writable: connected, or failed.
    pub(super) fn drive_route_dial(&mut self, index: usize) {
        let now = Instant::now();
        let Some(routes) = self.routes.as_mut() else {
            return;
        };
        let mut dial = match routes.dials.writable(self.poll.registry(), index) {
            None => return,
            Some(Dialed::Failed(dial, text)) => {
                self.core.route_dial_failed(dial.what.0, &text, now);
                return;
            }
            Some(Dialed::Connected(dial)) => dial,
        };
        let (target, _host) = dial.what.clone();
        let key = self.core.connect_route(target, dial.to, now);
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut dial.stream, Token(key), Interest::READABLE)
        {
            log::error!("Error registering route connection {}: {e}", dial.to);
            self.core.remove(key, now);
            return;
        }
        put(
            &mut self.sockets,
            key,
            Socket::new(Transport::Plain(dial.stream)),
        );
        #[cfg(feature = "tls")]
        self.start_route_tls(key, &_host, now);
    }

    /// `cluster { tls {} }`: the route we dialed is TLS from its first
    /// byte; what the core queued (CONNECT, INFO) goes after the handshake.
    #[cfg(feature = "tls")]
    fn start_route_tls(&mut self, key: usize, host: &str, now: Instant) {
        let Some(config) = self
            .routes
            .as_ref()
            .and_then(|r| r.tls.as_ref())
            .map(|t| t.dial.clone())
        else {
            return;
        };
        let started = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("invalid server name: {e}"))
            .and_then(|name| {
                let socket = self
                    .sockets
                    .get_mut(key)
                    .and_then(Option::as_mut)
                    .ok_or_else(|| "the connection is gone".to_string())?;
                socket
                    .transport
                    .start_tls_client(config, name)
                    .map_err(|e| e.to_string())
            });
        match started {
            Ok(()) => {
                self.handshakes.push((now + self.route_tls_timeout(), key));
                self.core.queue_flush(key);
            }
            Err(e) => {
                let why = format!("TLS route handshake error: {e}");
                self.core.transport_failed(key, &why, true)
            }
        }
    }

    /// `cluster { tls { timeout } }`, 2 s by default.
    #[cfg(feature = "tls")]
    fn route_tls_timeout(&self) -> Duration {
        self.core
            .opts
            .cluster
            .as_ref()
            .and_then(|c| c.tls.as_ref()?.timeout)
            .unwrap_or(Duration::from_secs(2))
    }

    /// The earliest a route dial gives up.
    pub(super) fn route_dial_deadline(&self) -> Option<Instant> {
        self.routes.as_ref()?.dials.deadline()
    }

    /// Server shutdown: no more routes accepted or dialed.
    pub(super) fn close_routes(&mut self) {
        let Some(routes) = self.routes.as_mut() else {
            return;
        };
        if let Some(mut listener) = routes.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        routes.dials.clear(self.poll.registry());
    }
}
