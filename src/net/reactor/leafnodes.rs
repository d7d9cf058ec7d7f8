//! Leaf node sockets: the leaf node listener, the dials to remotes the
//! core asks for, and the TLS client a hub's INFO asks for. Once dialed or
//! accepted, a leaf connection is a socket like a client's: the core tells
//! them apart by role.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Interest, Token};

use super::dials::{Dialed, Dials};
use super::{put, Reactor, Socket};
use crate::core::leaf::{LeafListener, LeafUrl};
use crate::net::transport::Transport;
use crate::options::LeafnodeOptions;

pub const LEAF_LISTENER: Token = Token(usize::MAX - 10);
/// A dial's token is this plus its index: above any connection's key,
/// below the WebSocket upgrades' tokens.
pub const DIAL_BASE: usize = usize::MAX / 8;
/// The leaf node listener and the dials in progress.
pub struct LeafSockets {
    /// `None` without a leaf node port, or once lame duck mode closed it.
    listener: Option<TcpListener>,
    pub addr: Option<SocketAddr>,
    #[cfg(feature = "tls")]
    tls: Option<crate::net::transport::TlsStart>,
    /// Each for a remote (an index into the core's remotes) at a URL.
    dials: Dials<(usize, LeafUrl)>,
}

impl Reactor {
    /// Accept leaf nodes on `listener` (when the options have a leaf node
    /// port) and dial the remotes the core asks for.
    pub fn serve_leafnodes(
        &mut self,
        listener: Option<TcpListener>,
        opts: &LeafnodeOptions,
    ) -> io::Result<()> {
        let mut sockets = LeafSockets {
            listener: None,
            addr: None,
            #[cfg(feature = "tls")]
            tls: None,
            dials: Dials::new(DIAL_BASE),
        };
        if let Some(mut listener) = listener {
            self.poll
                .registry()
                .register(&mut listener, LEAF_LISTENER, Interest::READABLE)?;
            let addr = listener.local_addr()?;
            #[cfg(feature = "tls")]
            if let Some(tls) = &opts.tls {
                sockets.tls = Some(crate::net::transport::TlsStart {
                    config: crate::net::tls::server_config(tls)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                    optional: false,
                    handshake_first: tls.handshake_first,
                });
            }
            self.core.set_leaf_listener(LeafListener {
                host: opts.host.clone(),
                port: addr.port(),
                tls: opts.tls.is_some(),
                tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
            });
            sockets.addr = Some(addr);
            sockets.listener = Some(listener);
        }
        self.leafnodes = Some(sockets);
        Ok(())
    }

    /// Where leaf nodes connect, when there is a leaf node port.
    pub fn leafnode_addr(&self) -> Option<SocketAddr> {
        self.leafnodes.as_ref().and_then(|l| l.addr)
    }

    pub(super) fn accept_leafs(&mut self) {
        loop {
            let Some(listener) = self.leafnodes.as_ref().and_then(|l| l.listener.as_ref()) else {
                return;
            };
            let (mut stream, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::error!("Temporary Leafnode Accept Error({e})");
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let key = self.core.accept_leaf(addr, false, Instant::now());
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut stream, Token(key), Interest::READABLE)
            {
                log::error!("Error registering leafnode connection {addr}: {e}");
                self.core.remove(key, Instant::now());
                continue;
            }
            #[cfg(feature = "tls")]
            let tls = self.leafnodes.as_ref().and_then(|l| l.tls.clone());
            #[cfg(not(feature = "tls"))]
            let tls = None;
            self.serve_accepted(key, addr, stream, tls);
        }
    }

    /// Each turn: start the dials the core asked for, give up on those past
    /// their time, and start TLS where a hub asked for it.
    pub(super) fn leaf_turn(&mut self, now: Instant) {
        if self.leafnodes.is_none() {
            return;
        }
        if let Some(leafnodes) = self.leafnodes.as_mut() {
            let registry = self.poll.registry();
            for dial in self.core.take_leaf_dials() {
                let (host, port) = (dial.url.host.clone(), dial.url.port);
                let what = (dial.remote, dial.url);
                if let Err(((remote, url), text)) =
                    leafnodes.dials.start(registry, &host, port, what, now)
                {
                    self.core.leaf_dial_failed(remote, &url, &text, now);
                }
            }
            for (dial, text) in leafnodes.dials.expired(registry, now) {
                let (remote, url) = &dial.what;
                self.core.leaf_dial_failed(*remote, url, &text, now);
            }
        }
        for (key, remote) in self.core.take_leaf_tls_clients() {
            self.start_leaf_tls(key, remote, now);
        }
    }

    /// A dial's socket is writable: connected, or failed.
    pub(super) fn drive_dial(&mut self, index: usize) {
        let now = Instant::now();
        let Some(leafnodes) = self.leafnodes.as_mut() else {
            return;
        };
        let mut dial = match leafnodes.dials.writable(self.poll.registry(), index) {
            None => return,
            Some(Dialed::Failed(dial, text)) => {
                let (remote, url) = &dial.what;
                self.core.leaf_dial_failed(*remote, url, &text, now);
                return;
            }
            Some(Dialed::Connected(dial)) => dial,
        };
        let (remote, url) = dial.what.clone();
        let key = self.core.connect_leaf(remote, dial.to, now);
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut dial.stream, Token(key), Interest::READABLE)
        {
            log::error!("Error registering leafnode connection {}: {e}", dial.to);
            self.core.remove(key, now);
            return;
        }
        let mut transport = Transport::Plain(dial.stream);
        if !url.is_websocket() && self.core.leaf_tls_first(remote) {
            // `handshake_first`: TLS before the hub's INFO.
            put(&mut self.sockets, key, Socket::new(transport));
            self.start_leaf_tls(key, remote, now);
            return;
        }
        if url.is_websocket() {
            if let Err(e) = self.start_ws_client(&mut transport, remote, &url) {
                log::error!(
                    "Error soliciting websocket connection to {}: {e}",
                    url.host_port()
                );
                self.core.remove(key, now);
                return;
            }
            if transport.is_handshaking() {
                self.handshakes.push((now + self.tls_timeout, key));
            }
            self.core.queue_flush(key);
        }
        put(&mut self.sockets, key, Socket::new(transport));
    }

    /// A `ws://` or `wss://` remote: TLS first for `wss://`, then the
    /// upgrade request.
    #[cfg(feature = "websocket")]
    fn start_ws_client(
        &mut self,
        transport: &mut Transport,
        remote: usize,
        url: &LeafUrl,
    ) -> Result<(), String> {
        let (opts, _) = self
            .core
            .leaf_remote(remote)
            .ok_or_else(|| "the remote is gone".to_string())?;
        let compression = opts.ws_compression;
        if url.wants_tls() {
            #[cfg(feature = "tls")]
            {
                let config = crate::net::tls::client_config(opts.tls.as_ref())?;
                let name = rustls_pki_types::ServerName::try_from(url.host.clone())
                    .map_err(|e| format!("invalid server name: {e}"))?;
                transport
                    .start_tls_client(config, name)
                    .map_err(|e| e.to_string())?;
            }
            #[cfg(not(feature = "tls"))]
            return Err("natsd was built without the `tls` feature".into());
        }
        let max_payload = self.core.opts.max_payload as usize;
        transport
            .start_ws_client(&url.host_port(), &url.path, compression, max_payload)
            .map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "websocket"))]
    fn start_ws_client(
        &mut self,
        _transport: &mut Transport,
        _remote: usize,
        _url: &LeafUrl,
    ) -> Result<(), String> {
        Err("natsd was built without the `websocket` feature".into())
    }

    /// The hub asked for TLS: our client handshake starts on the socket.
    #[cfg(feature = "tls")]
    fn start_leaf_tls(&mut self, key: usize, remote: usize, now: Instant) {
        let started = (|| {
            let (opts, url) = self
                .core
                .leaf_remote(remote)
                .ok_or_else(|| "the remote is gone".to_string())?;
            let config = crate::net::tls::client_config(opts.tls.as_ref())?;
            let host = url.map(|u| u.host.clone()).unwrap_or_default();
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| format!("invalid server name: {e}"))?;
            let socket = self
                .sockets
                .get_mut(key)
                .and_then(Option::as_mut)
                .ok_or_else(|| "the connection is gone".to_string())?;
            socket
                .transport
                .start_tls_client(config, name)
                .map_err(|e| e.to_string())
        })();
        match started {
            Ok(()) => {
                self.handshakes.push((now + self.tls_timeout, key));
                self.core.queue_flush(key);
            }
            Err(e) => self
                .core
                .transport_failed(key, &format!("TLS handshake error: {e}"), true),
        }
    }

    #[cfg(not(feature = "tls"))]
    fn start_leaf_tls(&mut self, key: usize, _remote: usize, _now: Instant) {
        self.core.transport_failed(
            key,
            "TLS handshake error: natsd was built without the `tls` feature",
            true,
        );
    }

    /// The earliest dial deadline, for the poll's timeout.
    pub(super) fn dial_deadline(&self) -> Option<Instant> {
        self.leafnodes.as_ref()?.dials.deadline()
    }

    /// Lame duck mode: no new leaf nodes (nats-server 2.15 closes the port).
    pub(super) fn close_leaf_listener(&mut self) {
        if let Some(mut listener) = self.leafnodes.as_mut().and_then(|l| l.listener.take()) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }

    /// Shutdown: the dials in progress are dropped.
    pub(super) fn close_dials(&mut self) {
        if let Some(leafnodes) = self.leafnodes.as_mut() {
            leafnodes.dials.clear(self.poll.registry());
        }
    }
}
