//! The monitor's sockets: its listener and its HTTP connections, polled by
//! the same reactor as the clients. What is read and written is decided by
//! [`Monitor`]; this is only the mio side of it.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Interest, Token};

use super::{close_gracefully, put, trim_table, want_writable, Reactor};
use crate::monitor::{Flushed, Monitor, BUSY_RESPONSE};
use crate::net::transport::Transport;

pub const MONITOR_LISTENER: Token = Token(usize::MAX - 8);
/// A monitoring connection's token is this plus its monitor key: far above
/// any client key (a slab index), below the fixed tokens.
pub const MONITOR_BASE: usize = usize::MAX / 2;

/// The listener, the monitor and the sockets of its connections.
pub struct MonitorSockets {
    listener: TcpListener,
    /// `https_port`: the client listener's certificate, no client auth.
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    pub addr: SocketAddr,
    monitor: Monitor,
    /// By monitor key.
    sockets: Vec<Option<HttpSocket>>,
    /// Scratch for keys whose response became ready or whose time ran out.
    keys: Vec<usize>,
}

struct HttpSocket {
    /// Plain, or TLS for `https_port`.
    transport: Transport,
    /// WRITABLE interest is registered.
    write_interest: bool,
}

impl Reactor {
    /// Serve monitoring on `listener` from now on: over HTTPS when
    /// `https_port` asks for it.
    pub fn serve_monitor(&mut self, mut listener: TcpListener) -> io::Result<()> {
        #[cfg(feature = "tls")]
        let tls = match (&self.core.opts.tls, self.core.opts.https_port) {
            (Some(tls), port) if port != 0 => {
                let mut no_client_auth = tls.clone();
                no_client_auth.verify = false;
                Some(
                    crate::net::tls::server_config(&no_client_auth)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                )
            }
            _ => None,
        };
        self.poll
            .registry()
            .register(&mut listener, MONITOR_LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        let (start, _) = self.core.wall_clock().start();
        self.monitor = Some(MonitorSockets {
            listener,
            #[cfg(feature = "tls")]
            tls,
            addr,
            monitor: Monitor::new(&self.core.opts, addr.port(), start),
            sockets: Vec::new(),
            keys: Vec::new(),
        });
        Ok(())
    }

    pub(super) fn accept_monitor(&mut self) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        loop {
            let (mut stream, addr) = match m.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Out of descriptors, most likely; the next connection
                    // to arrive tries again.
                    log::error!("monitoring: accept error: {e}");
                    return;
                }
            };
            let Some(key) = m.monitor.accept(Instant::now()) else {
                log::debug!("monitoring: refusing {addr}: too many connections");
                #[cfg(feature = "tls")]
                if m.tls.is_some() {
                    continue; // a busy answer would need a handshake first
                }
                let _ = stream.write(BUSY_RESPONSE);
                continue;
            };
            let token = Token(MONITOR_BASE + key);
            #[cfg(feature = "tls")]
            let mut transport = match &m.tls {
                Some(config) => match Transport::tls_first(stream, config.clone()) {
                    Ok(t) => t,
                    Err(e) => {
                        log::error!("monitoring: TLS error for {addr}: {e}");
                        m.monitor.remove(key);
                        continue;
                    }
                },
                None => Transport::Plain(stream),
            };
            #[cfg(not(feature = "tls"))]
            let mut transport = Transport::Plain(stream);
            if let Err(e) =
                self.poll
                    .registry()
                    .register(transport.socket(), token, Interest::READABLE)
            {
                log::error!("monitoring: error registering {addr}: {e}");
                m.monitor.remove(key);
                continue;
            }
            put(
                &mut m.sockets,
                key,
                HttpSocket {
                    transport,
                    write_interest: false,
                },
            );
        }
    }

    /// Read, answer and write for monitoring connection `key` until it
    /// waits on its peer (or on a response being rendered).
    pub(super) fn drive_monitor_conn(&mut self, key: usize) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        let done = loop {
            let Some(socket) = m.sockets.get_mut(key).and_then(Option::as_mut) else {
                return; // a spurious event for a closed key
            };
            let now = Instant::now();
            let progressed = m
                .monitor
                .receive(key, &mut socket.transport, &self.core, now);
            let mut flushed = m.monitor.flush(key, &mut socket.transport, &self.core, now);
            // TLS records (a handshake's, a response's) rustls still holds.
            if socket.transport.flush_held().is_err() {
                flushed = Flushed::Done;
            } else if socket.transport.wants_write() && flushed != Flushed::Done {
                flushed = Flushed::Blocked;
            }
            want_writable(
                &self.poll,
                socket.transport.socket(),
                Token(MONITOR_BASE + key),
                &mut socket.write_interest,
                flushed == Flushed::Blocked,
            );
            match flushed {
                Flushed::Done => break true,
                Flushed::Idle if progressed => {} // more may have arrived
                _ => break false,
            }
        };
        if done {
            self.close_monitor_conn(key);
        }
    }

    /// Once a turn: render a slice of the responses being made, write the
    /// ones that are ready, and close connections whose time ran out.
    pub(super) fn monitor_turn(&mut self) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        let mut keys = std::mem::take(&mut m.keys);
        let now = Instant::now();
        if m.monitor.is_rendering() {
            m.monitor.render(&self.core, now, &mut keys);
            for &key in &keys {
                self.drive_monitor_conn(key);
            }
            keys.clear();
        }
        if let Some(m) = self.monitor.as_mut() {
            m.monitor.expired(now, &mut keys);
        }
        for &key in &keys {
            self.close_monitor_conn(key);
        }
        keys.clear();
        if let Some(m) = self.monitor.as_mut() {
            m.keys = keys;
        }
    }

    /// Where monitoring is served, when it is.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor.as_ref().map(|m| m.addr)
    }

    /// The monitor has rendering to do (the reactor must not sleep), and its
    /// nearest deadline.
    pub(super) fn monitor_wants(&self) -> (bool, Option<Instant>) {
        self.monitor.as_ref().map_or((false, None), |m| {
            (m.monitor.is_rendering(), m.monitor.next_deadline())
        })
    }

    fn close_monitor_conn(&mut self, key: usize) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        if let Some(mut socket) = m.sockets.get_mut(key).and_then(Option::take) {
            socket.transport.close(None);
            close_gracefully(&self.poll, socket.transport.socket());
        }
        m.monitor.remove(key);
        trim_table(&mut m.sockets);
    }
}
