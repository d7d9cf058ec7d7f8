//! The event loop: one thread, one `mio::Poll`, every socket. The only code
//! that knows about mio; everything else is in [`Core`].
//!
//! Each turn: wait for readiness (or the nearest deadline), accept, read
//! (each read handed to the core, which parses and routes it), flush every
//! connection that was written to, reap the connections closed during the
//! turn, fire due timers.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use self::monitor::{MonitorSockets, MONITOR_BASE, MONITOR_LISTENER};
use super::signals::{self, Action};
use crate::core::{Core, Flushed};

pub const LISTENER: Token = Token(usize::MAX - 1);
pub const WAKER: Token = Token(usize::MAX - 2);
pub const SIGNALS: Token = Token(usize::MAX - 3);

// The monitor's sockets, or hooks that do nothing in a build without it.
#[cfg_attr(not(feature = "monitor"), path = "reactor/no_monitor.rs")]
mod monitor;
mod spin;
// The WebSocket listener and upgrades, or hooks that do nothing.
#[cfg_attr(not(feature = "websocket"), path = "reactor/no_websocket.rs")]
mod websocket;

// Leaf node sockets (the listener, dials), or hooks that do nothing.
#[cfg_attr(not(feature = "leafnodes"), path = "reactor/no_leafnodes.rs")]
mod leafnodes;
// Outgoing connections being made, for leaf nodes and routes.
#[cfg(any(feature = "leafnodes", feature = "cluster"))]
mod dials;
// Route sockets (the listener, dials), or hooks that do nothing.
#[cfg_attr(not(feature = "cluster"), path = "reactor/no_routes.rs")]
mod routes;

use self::leafnodes::{LeafSockets, DIAL_BASE, LEAF_LISTENER};
use self::routes::{RouteSockets, ROUTE_DIAL_BASE, ROUTE_LISTENER};
use self::spin::Spin;
use self::websocket::{WebsocketSockets, UPGRADE_BASE, WEBSOCKET_LISTENER};
use super::transport::Transport;

/// Bytes read from one connection per wake before the others get a turn.
const READ_BUDGET: usize = 256 * 1024;
/// How long to wait before accepting again after an accept error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A client socket, at the index of its connection's key in the core.
struct Socket {
    /// The socket and how bytes travel on it (plain, later TLS or
    /// WebSocket); the core reads and writes plaintext through it.
    transport: Transport,
    /// WRITABLE interest is registered.
    write_interest: bool,
    /// On the `read_again` list.
    read_again: bool,
}

impl Socket {
    fn new(transport: Transport) -> Socket {
        Socket {
            transport,
            write_interest: false,
            read_again: false,
        }
    }
}

pub struct Reactor {
    pub poll: Poll,
    /// `None` once lame duck mode has closed it.
    listener: Option<TcpListener>,
    pub core: Core,
    sockets: Vec<Option<Socket>>,
    /// Connections cut short by the read budget, to be read again next turn.
    read_again: Vec<usize>,
    /// Scratch for the dirty list taken from the core.
    flushing: Vec<usize>,
    accept_retry_at: Option<Instant>,
    /// Until when `poll` does not sleep: `busy_poll` after the last turn
    /// with events, when spinning has lately paid off (see [`Spin`]). A
    /// request's reply that comes back within it is read at once rather
    /// than after the thread is woken.
    busy_until: Option<Instant>,
    spin: Spin,
    pub stop: Arc<AtomicBool>,
    /// Set from another thread ([`super::ServerHandle::enter_lame_duck`]).
    pub lame_duck_requested: Arc<AtomicBool>,
    pub signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Where SIGHUP gets the new options: the configuration file read again.
    pub reload_source: Option<ReloadSource>,
    /// The HTTP monitor, when monitoring is on.
    monitor: Option<MonitorSockets>,
    /// The WebSocket listener and upgrades, when `websocket {}` is set.
    websocket: Option<WebsocketSockets>,
    /// The leaf node listener and dials, when `leafnodes {}` is set.
    leafnodes: Option<LeafSockets>,
    /// The route listener and dials, when `cluster {}` is set.
    routes: Option<RouteSockets>,
    /// The client listener's TLS, when `tls {}` configures it.
    #[cfg(feature = "tls")]
    pub tls: Option<super::transport::TlsStart>,
    /// How long a TLS handshake may take (nats-server's `tls.timeout`).
    pub tls_timeout: Duration,
    /// Connections whose handshake has a deadline: (deadline, key).
    handshakes: Vec<(Instant, usize)>,
}

/// Reads the options anew for a reload (the file, with the command line's
/// overrides applied again).
pub type ReloadSource = Box<dyn FnMut() -> Result<super::Options, String> + Send>;

impl Reactor {
    pub fn new(core: Core, mut listener: TcpListener) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Reactor {
            poll,
            listener: Some(listener),
            core,
            sockets: Vec::new(),
            read_again: Vec::new(),
            flushing: Vec::new(),
            accept_retry_at: None,
            busy_until: None,
            spin: Spin::default(),
            stop: Arc::new(AtomicBool::new(false)),
            lame_duck_requested: Arc::new(AtomicBool::new(false)),
            signals: None,
            reload_source: None,
            monitor: None,
            websocket: None,
            leafnodes: None,
            routes: None,
            #[cfg(feature = "tls")]
            tls: None,
            tls_timeout: Duration::from_secs(2),
            handshakes: Vec::new(),
        })
    }

    pub fn waker(&self) -> io::Result<Waker> {
        Waker::new(self.poll.registry(), WAKER)
    }

    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let had_events = !events.is_empty();
            if had_events {
                self.spin
                    .events_at(Instant::now(), self.core.opts.busy_poll);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    SIGNALS => self.handle_signals(),
                    MONITOR_LISTENER => self.accept_monitor(),
                    WEBSOCKET_LISTENER => self.accept_websocket(),
                    LEAF_LISTENER => self.accept_leafs(),
                    ROUTE_LISTENER => self.accept_routes(),
                    Token(token) if token >= MONITOR_BASE => {
                        self.drive_monitor_conn(token - MONITOR_BASE);
                    }
                    Token(token) if token >= UPGRADE_BASE => {
                        self.drive_upgrade(token - UPGRADE_BASE);
                    }
                    Token(token) if token >= DIAL_BASE => self.drive_dial(token - DIAL_BASE),
                    Token(token) if token >= ROUTE_DIAL_BASE => {
                        self.drive_route_dial(token - ROUTE_DIAL_BASE)
                    }
                    Token(key) => {
                        let closed = event.is_read_closed() || event.is_error();
                        if event.is_readable() || closed {
                            self.handle_readable(key, closed);
                        }
                        if event.is_writable() {
                            self.core.queue_flush(key);
                        }
                    }
                }
            }
            self.continue_reads();
            self.leaf_turn(Instant::now());
            self.route_turn(Instant::now());
            if self.accept_retry_at.is_some_and(|at| at <= Instant::now()) {
                self.accept_retry_at = None;
                self.accept_all();
            }
            self.flush_dirty();
            self.resume_stalled();
            self.expire_handshakes(Instant::now());
            self.expire_upgrades(Instant::now());
            self.reap_closed();
            self.monitor_turn();
            self.core.fire_timers(Instant::now());
            self.leaf_turn(Instant::now());
            self.route_turn(Instant::now());
            if self.lame_duck_requested.swap(false, Ordering::AcqRel) {
                self.enter_lame_duck();
            }
            if self.core.lame_duck_step(Instant::now()) {
                self.stop.store(true, Ordering::Release);
            }
            self.flush_dirty();
            self.resume_stalled();
            self.reap_closed();
            if had_events {
                self.busy_until = self
                    .spin
                    .turn_ended(Instant::now(), self.core.opts.busy_poll);
            }
        }
        self.shutdown();
        Ok(())
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let (monitor_rendering, monitor_deadline) = self.monitor_wants();
        let busy = self.busy_until.is_some_and(|until| now < until);
        if !self.read_again.is_empty() || monitor_rendering || busy {
            return Some(Duration::ZERO);
        }
        [
            self.core.next_deadline(),
            self.accept_retry_at,
            self.core.lame_duck_deadline(),
            monitor_deadline,
            self.handshakes.iter().map(|&(at, _)| at).min(),
            self.upgrade_deadline(),
            self.dial_deadline(),
            self.route_dial_deadline(),
            self.core.stall_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    fn handle_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        let pending: Vec<i32> = signals.pending().collect();
        for signal in pending {
            let Some((action, name)) = signals::action(signal) else {
                continue;
            };
            log::info!("Trapped \"{name}\" signal");
            match action {
                Action::Shutdown => self.stop.store(true, Ordering::Release),
                Action::ShutdownUnlessLameDuck => {
                    if !self.core.in_lame_duck() {
                        self.stop.store(true, Ordering::Release);
                    }
                }
                Action::ReopenLog => match crate::logging::reopen() {
                    Ok(()) => log::info!("File log re-opened"),
                    Err(e) => log::error!("Error re-opening log file: {e}"),
                },
                Action::LameDuck => self.enter_lame_duck(),
                Action::Reload => self.reload(),
            }
        }
    }

    /// Stop accepting (the listener is closed, so new clients are refused
    /// and go elsewhere) and let the core close the clients over time.
    fn enter_lame_duck(&mut self) {
        let Some(mut listener) = self.listener.take() else {
            return;
        };
        log::info!("Entering lame duck mode, stop accepting new clients");
        let _ = self.poll.registry().deregister(&mut listener);
        drop(listener);
        self.close_websocket_listener();
        self.close_leaf_listener();
        self.accept_retry_at = None;
        if !self.core.enter_lame_duck(Instant::now()) {
            self.stop.store(true, Ordering::Release);
        }
    }

    fn reload(&mut self) {
        let result = match self.reload_source.as_mut() {
            Some(read_options) => read_options().and_then(|opts| {
                // The certificates are read again first: a reload that
                // cannot read them changes nothing.
                #[cfg(feature = "tls")]
                let tls = match &opts.tls {
                    Some(tls) => Some(super::transport::TlsStart {
                        config: super::tls::server_config(tls)?,
                        optional: opts.allow_non_tls,
                        handshake_first: tls.handshake_first,
                    }),
                    None => None,
                };
                let tls_timeout = opts.tls.as_ref().and_then(|t| t.timeout);
                self.core.reload(opts, Instant::now())?;
                #[cfg(feature = "tls")]
                {
                    self.tls = tls;
                }
                self.tls_timeout = tls_timeout.unwrap_or(Duration::from_secs(2));
                Ok(())
            }),
            None => {
                Err("can only reload config when a file is provided using -c or --config".into())
            }
        };
        if let Err(e) = result {
            log::error!("Failed to reload server configuration: {e}");
        }
    }

    fn socket(&mut self, key: usize) -> Option<&mut Socket> {
        self.sockets.get_mut(key).and_then(Option::as_mut)
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((mut stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let key = self.core.accept(addr, Instant::now());
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, Token(key), Interest::READABLE)
                    {
                        log::error!("Error registering client connection {addr}: {e}");
                        self.core.remove(key, Instant::now());
                        continue;
                    }
                    #[cfg(feature = "tls")]
                    let tls = self.tls.clone();
                    #[cfg(not(feature = "tls"))]
                    let tls = None;
                    self.serve_accepted(key, addr, stream, tls);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, most likely: try again shortly
                    // rather than spin on a listener that stays readable.
                    log::error!("Temporary Client Accept Error({e}), sleeping {ACCEPT_RETRY:?}");
                    self.accept_retry_at = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// A connection accepted on a listener, served over `tls` when the
    /// listener has it; `handshake_first`'s handshake, or its wait for the
    /// peer to open one, has its deadline from now.
    #[cfg(feature = "tls")]
    fn serve_accepted(
        &mut self,
        key: usize,
        addr: std::net::SocketAddr,
        stream: TcpStream,
        tls: Option<super::transport::TlsStart>,
    ) {
        use crate::options::HandshakeFirst;
        let transport = match &tls {
            Some(start) => match Transport::for_tls_listener(stream, start) {
                Ok(t) => t,
                Err(e) => {
                    log::error!("Error starting TLS for {addr}: {e}");
                    self.core.remove(key, Instant::now());
                    return;
                }
            },
            None => Transport::Plain(stream),
        };
        let wait = tls.and_then(|start| match start.handshake_first {
            HandshakeFirst::Off => None,
            HandshakeFirst::On => Some(self.tls_timeout),
            HandshakeFirst::Fallback(delay) => Some(delay),
        });
        if let Some(wait) = wait {
            self.handshakes.push((Instant::now() + wait, key));
        }
        put(&mut self.sockets, key, Socket::new(transport));
    }

    #[cfg(not(feature = "tls"))]
    fn serve_accepted(
        &mut self,
        key: usize,
        _addr: std::net::SocketAddr,
        stream: TcpStream,
        _tls: Option<()>,
    ) {
        put(
            &mut self.sockets,
            key,
            Socket::new(Transport::Plain(stream)),
        );
    }

    /// Read until the socket has nothing more (edge-triggered readiness is
    /// not repeated) or this connection has had its budget for the turn;
    /// then it waits on the `read_again` list. A short read means the socket
    /// is empty, unless the peer has closed (`closed`): then read on to the
    /// end of the stream, which raises no further event.
    fn handle_readable(&mut self, key: usize, closed: bool) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(socket) = self.sockets.get_mut(key).and_then(Option::as_mut) else {
                return; // a spurious event for a reaped key
            };
            let handshaking = socket.transport.is_handshaking();
            let awaiting = socket.transport.awaits_tls_first();
            let received = self
                .core
                .receive(key, &mut socket.transport, Instant::now());
            // A producer held back by a congested leaf link is read again
            // when the link drains (see `core/stall.rs`).
            if self.core.is_stalled(key) {
                return;
            }
            let handshaking_now = socket.transport.is_handshaking();
            if handshaking && !handshaking_now {
                if let Some(handshake) = socket.transport.negotiated() {
                    self.core.tls_established(key, handshake, Instant::now());
                }
            }
            // The client opened a handshake after a wait or a sniff: it has
            // the TLS timeout from now.
            let opened = handshaking_now
                && (!handshaking || (awaiting && !socket.transport.awaits_tls_first()));
            if opened {
                self.handshakes.retain(|&(_, k)| k != key);
                self.handshakes
                    .push((Instant::now() + self.tls_timeout, key));
                continue;
            }
            if socket.transport.wants_write() {
                // A WebSocket pong, or TLS records, to send back.
                self.core.queue_flush(key);
            }
            match received {
                Ok(0) => return,
                Ok(n) => {
                    let more =
                        self.core.may_have_more(key) || socket.transport.has_buffered_input();
                    if !closed && !more {
                        return;
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        if !socket.read_again {
                            socket.read_again = true;
                            self.read_again.push(key);
                        }
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // WouldBlock, or an error the core closed on. A TLS
                    // handshake may have answers the socket did not take.
                    if socket.transport.wants_write() {
                        self.core.queue_flush(key);
                    }
                    return;
                }
            }
        }
    }

    /// Close the connections whose TLS handshake has not completed within
    /// the TLS timeout (nats-server closes them without a word).
    fn expire_handshakes(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.handshakes.len() {
            let (at, key) = self.handshakes[i];
            let pending = self
                .sockets
                .get(key)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.transport.is_handshaking());
            if !pending {
                self.handshakes.swap_remove(i);
            } else if at <= now {
                self.handshakes.swap_remove(i);
                let socket = self.sockets.get_mut(key).and_then(Option::as_mut);
                match socket {
                    Some(socket) if socket.transport.awaits_tls_first() => {
                        // handshake_first's delay passed in silence: the
                        // INFO goes out in clear, then the usual handshake.
                        socket.transport.fall_back();
                        self.core.queue_flush(key);
                    }
                    _ => self
                        .core
                        .transport_failed(key, "TLS handshake timeout", false),
                }
            } else {
                i += 1;
            }
        }
    }

    /// Give connections cut short by the read budget another pass.
    fn continue_reads(&mut self) {
        let mut keys = std::mem::take(&mut self.read_again);
        for &key in &keys {
            if let Some(socket) = self.socket(key) {
                socket.read_again = false;
                self.handle_readable(key, false);
            }
        }
        keys.clear();
        if self.read_again.is_empty() {
            self.read_again = keys;
        }
    }

    /// Producers a congested leaf link held back, read again.
    fn resume_stalled(&mut self) {
        let mut keys = Vec::new();
        self.core.take_resumed(Instant::now(), &mut keys);
        for key in keys {
            if let Some(socket) = self.sockets.get_mut(key).and_then(Option::as_mut) {
                if !socket.read_again {
                    socket.read_again = true;
                    self.read_again.push(key);
                }
            }
        }
    }

    fn flush_dirty(&mut self) {
        let mut keys = std::mem::take(&mut self.flushing);
        self.core.take_dirty(&mut keys);
        for &key in &keys {
            let Some(socket) = self.sockets.get_mut(key).and_then(Option::as_mut) else {
                continue;
            };
            let flushed = self.core.flush(key, &mut socket.transport, Instant::now());
            if flushed == Flushed::Closed {
                continue;
            }
            // TLS records rustls still holds (WouldBlock leaves them).
            let _ = socket.transport.flush_held();
            if flushed == Flushed::All && socket.transport.owes_upgrade() {
                // The INFO is out: a TLS connection starts its handshake
                // (or, with allow_non_tls, waits to see which the client
                // speaks), which has until the TLS timeout.
                if socket.transport.upgrade().is_err() {
                    continue;
                }
                if socket.transport.is_handshaking()
                    && !self.handshakes.iter().any(|&(_, k)| k == key)
                {
                    self.handshakes
                        .push((Instant::now() + self.tls_timeout, key));
                }
            }
            let want_write = flushed == Flushed::Blocked || socket.transport.wants_write();
            want_writable(
                &self.poll,
                socket.transport.socket(),
                Token(key),
                &mut socket.write_interest,
                want_write,
            );
        }
        self.flushing = keys;
    }

    /// Close the sockets of connections the core closed during the turn.
    fn reap_closed(&mut self) {
        while let Some((key, last_words)) = self.core.next_closing() {
            if let Some(mut socket) = self.sockets.get_mut(key).and_then(Option::take) {
                if last_words {
                    // Best effort: the peer should see the -ERR that explains.
                    self.core.flush_last_words(key, &mut socket.transport);
                }
                socket.transport.close(self.core.close_reason(key));
                close_gracefully(&self.poll, socket.transport.socket());
            }
            self.core.remove(key, Instant::now());
            trim_table(&mut self.sockets);
        }
        if self.core.compact_if_many_removed() {
            super::trim::release_free_memory();
        }
    }

    fn shutdown(&mut self) {
        log::info!("Initiating Shutdown...");
        if let Some(listener) = self.listener.as_mut() {
            let _ = self.poll.registry().deregister(listener);
        }
        self.close_upgrades();
        self.close_leaf_listener();
        self.close_dials();
        self.close_routes();
        self.core.close_all();
        self.reap_closed();
        log::info!("Server Exiting..");
    }
}

/// Close a socket so that what was just written still arrives: shut down
/// our side, then drain what the peer already sent, so the close does not
/// reset the connection and destroy an -ERR or a response in flight.
fn close_gracefully(poll: &Poll, stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut scratch = [0u8; 512];
    for _ in 0..16 {
        match io::Read::read(stream, &mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = poll.registry().deregister(stream);
}

/// Register WRITABLE only while output waits, as mio's examples do;
/// `registered` says what is registered now.
fn want_writable(
    poll: &Poll,
    stream: &mut TcpStream,
    token: Token,
    registered: &mut bool,
    want_write: bool,
) {
    if want_write == *registered {
        return;
    }
    *registered = want_write;
    let interest = if want_write {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    let _ = poll.registry().reregister(stream, token, interest);
}

/// Drop the empty slots at the end of a socket table, so it shrinks as
/// connections go.
fn trim_table<T>(table: &mut Vec<Option<T>>) {
    if table.last().is_some_and(Option::is_none) {
        let live = table.iter().rposition(Option::is_some);
        table.truncate(live.map_or(0, |i| i + 1));
    }
}

/// Store `value` at `key` of a table indexed like the core's slabs, growing
/// the table when the key is new.
fn put<T>(table: &mut Vec<Option<T>>, key: usize, value: T) {
    if table.len() <= key {
        table.resize_with(key + 1, || None);
    }
    table[key] = Some(value);
}
