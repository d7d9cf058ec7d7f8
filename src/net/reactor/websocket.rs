//! The WebSocket listener and the connections still in their HTTP upgrade
//! (and, for `wss://`, their TLS handshake before it), polled by the same
//! reactor. Once the 101 is written a connection is handed to the core as
//! a WebSocket client and its transport becomes a [`WsSession`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use mio::net::TcpListener;
use mio::{Interest, Token};

use super::{close_gracefully, put, trim_table, want_writable, Reactor, Socket};
use crate::core::{TransportError, WebsocketConn, WebsocketListener};
use crate::net::transport::Transport;
use crate::net::websocket::handshake::{self, Accepted, Settings};
use crate::net::websocket::{Agreed, WsSession, DEFAULT_HANDSHAKE_TIMEOUT, MAX_REQUEST_HEAD};
use crate::options::WebsocketOptions;

pub const WEBSOCKET_LISTENER: Token = Token(usize::MAX - 9);
/// An upgrading connection's token is this plus its index: above any
/// client key, below the monitor's tokens.
pub const UPGRADE_BASE: usize = usize::MAX / 4;

/// The listener and the connections in their upgrade.
pub struct WebsocketSockets {
    /// `None` once lame duck mode has closed it.
    listener: Option<TcpListener>,
    pub addr: SocketAddr,
    settings: Settings,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    timeout: std::time::Duration,
    upgrades: Vec<Option<Upgrade>>,
}

/// A connection in its upgrade.
struct Upgrade {
    transport: Transport,
    addr: SocketAddr,
    /// The request head read so far.
    head: Vec<u8>,
    deadline: Instant,
    /// The response, once decided, and how much of it is written.
    response: Vec<u8>,
    written: usize,
    /// What follows the response: the client is handed over, or closed.
    accepted: Option<Accepted>,
    decided: bool,
    write_interest: bool,
}

impl Reactor {
    /// Serve WebSocket clients on `listener` from now on.
    pub fn serve_websocket(
        &mut self,
        mut listener: TcpListener,
        ws: &WebsocketOptions,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut listener, WEBSOCKET_LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        #[cfg(feature = "tls")]
        let tls = match &ws.tls {
            Some(tls) => Some(
                crate::net::tls::server_config(tls)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        self.core.websocket_listener = Some(WebsocketListener {
            host: ws.host.clone(),
            port: addr.port(),
            tls: ws.tls.is_some(),
        });
        self.websocket = Some(WebsocketSockets {
            listener: Some(listener),
            addr,
            settings: Settings::new(ws),
            #[cfg(feature = "tls")]
            tls,
            timeout: if ws.handshake_timeout.is_zero() {
                DEFAULT_HANDSHAKE_TIMEOUT
            } else {
                ws.handshake_timeout
            },
            upgrades: Vec::new(),
        });
        Ok(())
    }

    /// Where WebSocket clients connect, when they can.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket.as_ref().map(|w| w.addr)
    }

    pub(super) fn accept_websocket(&mut self) {
        let Some(ws) = self.websocket.as_mut() else {
            return;
        };
        loop {
            let Some(listener) = ws.listener.as_ref() else {
                return;
            };
            let (mut stream, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::error!("Temporary Websocket Accept Error({e})");
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
            // Upgrades in flight hold memory before anyone authenticated:
            // no more of them than clients may connect.
            let in_flight = ws.upgrades.iter().flatten().count();
            if in_flight >= self.core.opts.max_connections {
                log::debug!("{addr} - websocket upgrade refused: too many in progress");
                continue;
            }
            let index = ws
                .upgrades
                .iter()
                .position(Option::is_none)
                .unwrap_or(ws.upgrades.len());
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(UPGRADE_BASE + index),
                Interest::READABLE,
            ) {
                log::error!("Error registering websocket connection {addr}: {e}");
                continue;
            }
            #[cfg(feature = "tls")]
            let transport = match &ws.tls {
                Some(config) => match Transport::tls_first(stream, config.clone()) {
                    Ok(t) => t,
                    Err(e) => {
                        log::error!("websocket: TLS error for {addr}: {e}");
                        continue;
                    }
                },
                None => Transport::Plain(stream),
            };
            #[cfg(not(feature = "tls"))]
            let transport = Transport::Plain(stream);
            put(
                &mut ws.upgrades,
                index,
                Upgrade {
                    transport,
                    addr,
                    head: Vec::new(),
                    deadline: Instant::now() + ws.timeout,
                    response: Vec::new(),
                    written: 0,
                    accepted: None,
                    decided: false,
                    write_interest: false,
                },
            );
        }
    }

    /// Read the request, answer it, and hand the client over or close.
    pub(super) fn drive_upgrade(&mut self, index: usize) {
        let Some(ws) = self.websocket.as_mut() else {
            return;
        };
        let Some(upgrade) = ws.upgrades.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let finished = match drive(upgrade, &ws.settings) {
            Ok(finished) => finished,
            Err(()) => {
                self.close_upgrade(index);
                return;
            }
        };
        if !finished {
            let blocked =
                upgrade.written < upgrade.response.len() || upgrade.transport.wants_write();
            want_writable(
                &self.poll,
                upgrade.transport.socket(),
                Token(UPGRADE_BASE + index),
                &mut upgrade.write_interest,
                blocked,
            );
            return;
        }
        match upgrade.accepted.take() {
            Some(accepted) => self.hand_over(index, accepted),
            None => self.close_upgrade(index),
        }
    }

    /// The 101 is out: the connection becomes a WebSocket client.
    fn hand_over(&mut self, index: usize, accepted: Accepted) {
        let Some(ws) = self.websocket.as_mut() else {
            return;
        };
        let Some(mut upgrade) = ws.upgrades.get_mut(index).and_then(Option::take) else {
            return;
        };
        trim_table(&mut ws.upgrades);
        let now = Instant::now();
        let key = if accepted.leaf {
            if !self.core.accepts_leafnodes() {
                // nats-server answers the upgrade, then finds it has no
                // leaf node listener.
                log::error!("Not configured to accept leaf node connections");
                close_gracefully(&self.poll, upgrade.transport.socket());
                return;
            }
            // A leaf node over WebSocket: a leaf connection whose bytes
            // are framed.
            #[cfg(feature = "leafnodes")]
            let key = self.core.accept_leaf(upgrade.addr, true, now);
            #[cfg(not(feature = "leafnodes"))]
            let key = unreachable!("leaf nodes are never accepted without the feature");
            key
        } else {
            self.core.accept_websocket(
                upgrade.addr,
                WebsocketConn {
                    forwarded_ip: accepted.forwarded_ip,
                    jwt_cookie: accepted.cookies.jwt,
                    user_cookie: accepted.cookies.user,
                    pass_cookie: accepted.cookies.pass,
                    token_cookie: accepted.cookies.token,
                },
                now,
            )
        };
        if let Err(e) = self.poll.registry().reregister(
            upgrade.transport.socket(),
            Token(key),
            Interest::READABLE,
        ) {
            log::error!(
                "Error registering websocket connection {}: {e}",
                upgrade.addr
            );
            self.core.remove(key, now);
            return;
        }
        if let Some(mut handshake) = upgrade.transport.negotiated() {
            // The WebSocket listener's TLS always comes first; `tls_first`
            // is the client listener's `handshake_first`.
            handshake.first = false;
            self.core.tls_established(key, handshake, now);
        }
        let session = WsSession::new(
            upgrade.transport,
            Agreed {
                compression: accepted.compression,
                masked: !accepted.no_masking,
                browser: accepted.browser,
                fragment_compressed: !accepted.no_compressed_fragments,
                max_payload: self.core.opts.max_payload as usize,
            },
        );
        let transport = Transport::WebSocket(Box::new(session));
        put(&mut self.sockets, key, Socket::new(transport));
        // Frames that came with the request's last bytes.
        self.handle_readable(key, false);
    }

    fn close_upgrade(&mut self, index: usize) {
        let Some(ws) = self.websocket.as_mut() else {
            return;
        };
        if let Some(mut upgrade) = ws.upgrades.get_mut(index).and_then(Option::take) {
            upgrade.transport.close(None);
            close_gracefully(&self.poll, upgrade.transport.socket());
        }
        trim_table(&mut ws.upgrades);
    }

    /// Close upgrades that ran out of time (nats-server's read deadline:
    /// closed without a word).
    pub(super) fn expire_upgrades(&mut self, now: Instant) {
        let Some(ws) = self.websocket.as_ref() else {
            return;
        };
        let late: Vec<usize> = ws
            .upgrades
            .iter()
            .enumerate()
            .filter(|(_, u)| u.as_ref().is_some_and(|u| u.deadline <= now))
            .map(|(i, _)| i)
            .collect();
        for index in late {
            if let Some(Some(upgrade)) = self.websocket.as_ref().map(|w| &w.upgrades[index]) {
                log::debug!("{} - websocket handshake timeout", upgrade.addr);
            }
            self.close_upgrade(index);
        }
    }

    pub(super) fn upgrade_deadline(&self) -> Option<Instant> {
        let ws = self.websocket.as_ref()?;
        ws.upgrades.iter().flatten().map(|u| u.deadline).min()
    }

    /// Lame duck mode: no new WebSocket clients either.
    pub(super) fn close_websocket_listener(&mut self) {
        if let Some(mut listener) = self.websocket.as_mut().and_then(|w| w.listener.take()) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }

    pub(super) fn close_upgrades(&mut self) {
        let count = self.websocket.as_ref().map_or(0, |w| w.upgrades.len());
        for index in 0..count {
            self.close_upgrade(index);
        }
        self.close_websocket_listener();
    }
}

/// Read and answer: `Ok(true)` once the response is all written, `Err`
/// when the connection is to be closed at once.
fn drive(upgrade: &mut Upgrade, settings: &Settings) -> Result<bool, ()> {
    while !upgrade.decided {
        let mut chunk = [0u8; 2048];
        let room = MAX_REQUEST_HEAD - upgrade.head.len();
        match upgrade.transport.read(&mut chunk[..room.min(2048)]) {
            Ok(0) => return Err(()),
            Ok(n) => {
                upgrade.head.extend_from_slice(&chunk[..n]);
                decide(upgrade, settings)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if let Some(failure) = TransportError::of(&e) {
                    let text = failure.log.trim_start_matches("TLS handshake error: ");
                    log::error!(
                        "websocket: TLS handshake error from {}: {text}",
                        upgrade.addr
                    );
                }
                return Err(());
            }
        }
    }
    // A TLS handshake may have answers to send before any response.
    if upgrade.transport.flush_held().is_err() {
        return Err(());
    }
    while upgrade.written < upgrade.response.len() {
        match upgrade
            .transport
            .write(&upgrade.response[upgrade.written..])
        {
            Ok(0) => return Err(()),
            Ok(n) => upgrade.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
    if upgrade.transport.flush_held().is_err() {
        return Err(());
    }
    Ok(upgrade.decided && !upgrade.transport.wants_write())
}

/// With the head complete (or too long), decide the response.
fn decide(upgrade: &mut Upgrade, settings: &Settings) -> Result<(), ()> {
    let Some(end) = handshake::head_end(&upgrade.head) else {
        if upgrade.head.len() >= MAX_REQUEST_HEAD {
            upgrade.response = handshake::too_large();
            upgrade.decided = true;
        }
        return Ok(());
    };
    if end < upgrade.head.len() {
        log::error!(
            "{} - websocket handshake error: client sent data before handshake is complete",
            upgrade.addr
        );
        return Err(());
    }
    upgrade.decided = true;
    let head = std::mem::take(&mut upgrade.head);
    match handshake::upgrade(&head, settings, SystemTime::now()) {
        Ok(mut accepted) => {
            upgrade.response = std::mem::take(&mut accepted.response);
            upgrade.accepted = Some(accepted);
        }
        Err(refused) => {
            if let Some(reason) = refused.reason {
                log::error!("{} - websocket handshake error: {reason}", upgrade.addr);
            }
            upgrade.response = refused.response;
        }
    }
    Ok(())
}
