//! The event loop: one thread, one `mio::Poll`, every socket.
//!
//! Each turn: wait for readiness (or the nearest deadline), accept, read and
//! parse what arrived, then flush every connection that was written to,
//! then reap the connections closed during the turn, then fire due timers.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::conn::{CloseReason, Conn, ReadBuf, Subscription, WriteBuf};
use super::router::{mark_written, Rng};
use super::timers::{Timer, TimerKind, Timers};
use crate::options::Options;
use crate::proto::{encode, ConnectOpts, Info, Parser};
use crate::sublist::Sublist;

pub const LISTENER: Token = Token(usize::MAX - 1);
pub const WAKER: Token = Token(usize::MAX - 2);
pub const SIGNALS: Token = Token(usize::MAX - 3);

/// Bytes read from one connection per wake before the others get a turn.
const READ_BUDGET: usize = 256 * 1024;
/// nats-server's first PING comes sooner than the interval.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);
/// How long to wait before accepting again after an accept error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

pub struct Reactor {
    pub poll: Poll,
    pub listener: TcpListener,
    pub opts: Options,
    /// The INFO every client gets, less its own id and address.
    pub info: Info,
    pub conns: Slab<Conn>,
    pub subs: Slab<Subscription>,
    pub sublist: Sublist<usize>,
    pub timers: Timers,
    pub rng: Rng,
    /// Connections written to during this turn.
    pub dirty: Vec<usize>,
    /// Connections whose last read pass was cut short by the budget.
    pub read_again: Vec<usize>,
    /// Connections marked closing during this turn.
    pub closing: Vec<usize>,
    /// Scratch for auto-unsubscribed subscriptions.
    pub expired: Vec<usize>,
    pub next_cid: u64,
    pub accept_retry_at: Option<Instant>,
    pub stop: Arc<AtomicBool>,
    pub signals: Option<signal_hook_mio::v1_0::Signals>,
    /// `log::log_enabled!(Trace)`, read once: tracing is off the hot path.
    pub trace: bool,
    /// The longest a read buffer may grow: a full PUB with its payload.
    pub read_limit: usize,
}

impl Reactor {
    pub fn new(opts: Options, listener: TcpListener, info: Info, seed: u64) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let mut listener = listener;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let read_limit = opts.max_control_line as usize + opts.max_payload as usize + 64;
        Ok(Reactor {
            poll,
            listener,
            info,
            conns: Slab::new(),
            subs: Slab::new(),
            sublist: Sublist::new(),
            timers: Timers::default(),
            rng: Rng::new(seed),
            dirty: Vec::new(),
            read_again: Vec::new(),
            closing: Vec::new(),
            expired: Vec::new(),
            next_cid: 1,
            accept_retry_at: None,
            stop: Arc::new(AtomicBool::new(false)),
            signals: None,
            trace: opts.trace && log::log_enabled!(log::Level::Trace),
            read_limit,
            opts,
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
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    SIGNALS => self.handle_signals(),
                    Token(key) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.handle_readable(key);
                        }
                        if event.is_writable() {
                            self.queue_flush(key);
                        }
                    }
                }
            }
            self.continue_reads();
            if self.accept_retry_at.is_some_and(|at| at <= Instant::now()) {
                self.accept_retry_at = None;
                self.accept_all();
            }
            self.flush_dirty();
            self.reap_closed();
            self.fire_timers(Instant::now());
            self.flush_dirty();
            self.reap_closed();
        }
        self.shutdown();
        Ok(())
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.read_again.is_empty() {
            return Some(Duration::ZERO);
        }
        [self.timers.next_at(), self.accept_retry_at]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    fn handle_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        for signal in signals.pending() {
            let name = match signal {
                signal_hook::consts::SIGINT => "interrupt",
                signal_hook::consts::SIGTERM => "terminated",
                _ => continue,
            };
            log::info!("Trapped \"{name}\" signal");
            self.stop.store(true, Ordering::Release);
        }
    }

    // ---- accepting ------------------------------------------------------

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, addr)) => self.accept_one(sock, addr),
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

    fn accept_one(&mut self, mut sock: TcpStream, addr: SocketAddr) {
        let _ = sock.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut sock, Token(key), Interest::READABLE)
        {
            log::error!("Error registering client connection {addr}: {e}");
            return;
        }
        let now = Instant::now();
        let cid = self.next_cid;
        self.next_cid += 1;
        let mut parser = Parser::new(
            self.opts.max_control_line as usize,
            self.opts.max_payload as usize,
        );
        parser.awaiting_connect = self.opts.auth_required();
        let conn = entry.insert(Conn {
            sock,
            cid,
            addr,
            rbuf: ReadBuf::new(),
            wbuf: WriteBuf::default(),
            parser,
            opts: ConnectOpts::default(),
            connected: false,
            sent_connect_info: false,
            pinged_since_connect: false,
            subs: Default::default(),
            pings_out: 0,
            last_in: now,
            next_ping: now,
            auth_deadline: None,
            write_deadline: None,
            write_interest: false,
            dirty: false,
            read_again: false,
            closing: None,
        });
        log::debug!("{addr} - cid:{cid} - Client connection created");

        let mut info = self.info.clone();
        info.client_id = cid;
        info.client_ip = addr.ip().to_string();
        info.write_to(&mut conn.wbuf.buf);
        if self.trace {
            log::trace!("{addr} - cid:{cid} - ->> [INFO]");
        }
        // nats-server sends INFO first, then refuses a connection too many.
        if self.conns.len() > self.opts.max_connections {
            self.send_err(key, crate::proto::error::MAX_CONNECTIONS_EXCEEDED);
            log::error!("{addr} - cid:{cid} - maximum connections exceeded");
            self.close(key, CloseReason::MaxConnectionsExceeded);
            return;
        }
        if self.opts.auth_required() {
            let at = now + self.opts.auth_timeout;
            self.conns[key].auth_deadline = Some(at);
            self.schedule(key, cid, TimerKind::Auth, at);
        }
        // Before CONNECT the ping comes at the normal interval.
        let at = now + self.opts.ping_interval;
        self.conns[key].next_ping = at;
        self.schedule(key, cid, TimerKind::Ping, at);
        self.queue_flush(key);
    }

    // ---- reading --------------------------------------------------------

    /// Read and process until the socket has nothing more (edge-triggered
    /// readiness is not repeated), or until this connection has had its
    /// budget for the turn; then it waits on the `read_again` list.
    fn handle_readable(&mut self, key: usize) {
        let mut budget = READ_BUDGET;
        loop {
            let limit = self.read_limit;
            let Some(conn) = self.conns.get_mut(key) else {
                return; // a spurious event for a reaped key
            };
            if conn.is_closing() {
                return;
            }
            match conn.rbuf.read_from(&mut conn.sock, limit) {
                Ok(0) => {
                    self.close(key, CloseReason::ClientClosed);
                    return;
                }
                Ok(n) => {
                    conn.last_in = Instant::now();
                    self.process_input(key);
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        if let Some(conn) = self.conns.get_mut(key) {
                            if !conn.read_again {
                                conn.read_again = true;
                                self.read_again.push(key);
                            }
                        }
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{} - cid:{} - Read error: {e}", conn.addr, conn.cid);
                    self.close(key, CloseReason::ReadError);
                    return;
                }
            }
        }
    }

    /// Give connections cut short by the read budget another pass.
    fn continue_reads(&mut self) {
        if self.read_again.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.read_again);
        for &key in &keys {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.read_again = false;
                self.handle_readable(key);
            }
        }
        let mut keys = keys;
        keys.clear();
        if self.read_again.is_empty() {
            self.read_again = keys;
        }
    }

    /// Parse and process every complete operation in the read buffer.
    fn process_input(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        let mut rbuf = std::mem::replace(&mut conn.rbuf, ReadBuf::empty());
        let mut parser = conn.parser.clone();
        let mut consumed = 0;
        loop {
            match parser.parse(&rbuf.pending()[consumed..]) {
                Ok(crate::proto::Status::Complete((n, op))) => {
                    consumed += n;
                    self.process_op(key, &mut parser, op);
                    if self.conns[key].is_closing() {
                        break;
                    }
                }
                Ok(crate::proto::Status::Partial(n)) => {
                    consumed += n;
                    break;
                }
                Err(e) => {
                    self.protocol_error(key, e);
                    break;
                }
            }
        }
        rbuf.consume(consumed);
        let conn = &mut self.conns[key];
        // The parser bounds what it keeps, so a full buffer is a bug, not
        // a peer's doing; refuse rather than stall.
        if rbuf.pending().len() >= self.read_limit && !conn.is_closing() {
            log::error!("{} - cid:{} - read buffer full", conn.addr, conn.cid);
            conn.close(CloseReason::ProtocolViolation);
            self.closing.push(key);
        }
        conn.rbuf = rbuf;
        conn.parser = parser;
    }

    // ---- writing --------------------------------------------------------

    /// Append `bytes` to a connection's output and queue it for flushing.
    pub fn queue(&mut self, key: usize, bytes: &[u8]) {
        let conn = &mut self.conns[key];
        conn.wbuf.buf.extend_from_slice(bytes);
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    pub fn send_err(&mut self, key: usize, text: &str) {
        let conn = &mut self.conns[key];
        if self.trace {
            log::trace!("{} - cid:{} - ->> [-ERR '{text}']", conn.addr, conn.cid);
        }
        encode::write_err(&mut conn.wbuf.buf, text);
        mark_written(conn, key, &mut self.dirty, self.opts.max_pending);
    }

    fn queue_flush(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            self.flush(key);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn flush(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.dirty = false;
        if conn.is_closing() {
            self.closing.push(key);
            return;
        }
        let before = conn.wbuf.pending();
        match conn.wbuf.flush_to(&mut conn.sock) {
            Ok(true) => {
                conn.write_deadline = None;
                if conn.write_interest {
                    conn.write_interest = false;
                    let _ = self.poll.registry().reregister(
                        &mut conn.sock,
                        Token(key),
                        Interest::READABLE,
                    );
                }
            }
            Ok(false) => {
                if !conn.write_interest {
                    conn.write_interest = true;
                    let _ = self.poll.registry().reregister(
                        &mut conn.sock,
                        Token(key),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
                // The deadline restarts whenever the peer takes something.
                let progressed = conn.wbuf.pending() < before;
                if conn.write_deadline.is_none() || progressed {
                    let at = Instant::now() + self.opts.write_deadline;
                    let first = conn.write_deadline.is_none();
                    conn.write_deadline = Some(at);
                    if first {
                        let cid = conn.cid;
                        self.schedule(key, cid, TimerKind::Write, at);
                    }
                }
            }
            Err(e) => {
                log::debug!("{} - cid:{} - Write error: {e}", conn.addr, conn.cid);
                self.close(key, CloseReason::WriteError);
            }
        }
    }

    // ---- closing --------------------------------------------------------

    /// Mark a connection closing; it is reaped after this turn's events.
    pub fn close(&mut self, key: usize, reason: CloseReason) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
            }
            self.closing.push(key);
        }
    }

    fn reap_closed(&mut self) {
        while let Some(key) = self.closing.pop() {
            let Some(conn) = self.conns.get(key) else {
                continue;
            };
            if conn.closing.is_none() {
                continue;
            }
            let mut conn = self.conns.remove(key);
            let reason = conn.closing.unwrap_or(CloseReason::ClientClosed);
            self.finish_close(&mut conn, reason);
        }
    }

    fn finish_close(&mut self, conn: &mut Conn, reason: CloseReason) {
        let stalled = matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        );
        if !stalled {
            // Best effort: the peer should see the -ERR that explains.
            let _ = conn.wbuf.flush_to(&mut conn.sock);
        }
        let _ = conn.sock.shutdown(std::net::Shutdown::Write);
        // Drain what the peer already sent, so closing does not reset the
        // connection and destroy the -ERR in flight.
        let mut scratch = [0u8; 512];
        for _ in 0..16 {
            match io::Read::read(&mut conn.sock, &mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let _ = self.poll.registry().deregister(&mut conn.sock);
        for (_, sub_key) in conn.subs.drain() {
            let sub = self.subs.remove(sub_key);
            self.sublist
                .remove(&sub.subject, sub.queue.as_deref(), sub_key);
        }
        log::debug!(
            "{} - cid:{} - Client connection closed: {}",
            conn.addr,
            conn.cid,
            reason.as_str()
        );
    }

    fn shutdown(&mut self) {
        log::info!("Initiating Shutdown...");
        let _ = self.poll.registry().deregister(&mut self.listener);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close(key, CloseReason::ServerShutdown);
        }
        self.reap_closed();
        log::info!("Server Exiting..");
    }

    // ---- timers ---------------------------------------------------------

    pub fn schedule(&mut self, key: usize, cid: u64, kind: TimerKind, at: Instant) {
        self.timers.schedule(Timer { at, key, cid, kind });
    }

    /// The first PING after accept or CONNECT: sooner than the interval,
    /// with up to 20% jitter, as nats-server does.
    pub fn arm_first_ping(&mut self, key: usize, now: Instant) {
        let base = self.opts.ping_interval.min(FIRST_PING_INTERVAL);
        let jitter_ms = (base.as_millis() as u64 / 5).max(1);
        let at = now + base + Duration::from_millis(self.rng.next_u64() % jitter_ms);
        let conn = &mut self.conns[key];
        conn.next_ping = at;
        let cid = conn.cid;
        self.schedule(key, cid, TimerKind::Ping, at);
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get(timer.key) else {
                continue;
            };
            if conn.cid != timer.cid || conn.is_closing() {
                continue;
            }
            match timer.kind {
                TimerKind::Ping => self.ping_timer(timer, now),
                TimerKind::Auth => {
                    if conn.auth_deadline.is_some_and(|at| at <= now) {
                        log::debug!("{} - cid:{} - Authentication Timeout", conn.addr, conn.cid);
                        self.send_err(timer.key, crate::proto::error::AUTHENTICATION_TIMEOUT);
                        self.close(timer.key, CloseReason::AuthenticationTimeout);
                    }
                }
                TimerKind::Write => match conn.write_deadline {
                    Some(at) if at <= now => {
                        log::info!(
                            "{} - cid:{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                            conn.addr,
                            conn.cid,
                            self.opts.write_deadline
                        );
                        self.close(timer.key, CloseReason::SlowConsumerWriteDeadline);
                    }
                    Some(at) => self.schedule(timer.key, timer.cid, TimerKind::Write, at),
                    None => {}
                },
            }
        }
    }

    fn ping_timer(&mut self, timer: Timer, now: Instant) {
        let interval = self.opts.ping_interval;
        let max_out = self.opts.max_pings_out;
        let conn = &mut self.conns[timer.key];
        if conn.next_ping > now {
            return; // re-armed since this entry was pushed (by a CONNECT)
        }
        // Like nats-server, the first PING after CONNECT always goes (it
        // measures the round trip); later ones only when the client was quiet.
        let recently_heard = conn.connected
            && conn.pinged_since_connect
            && now.duration_since(conn.last_in) < interval;
        if !recently_heard {
            if conn.pings_out + 1 > max_out {
                log::debug!(
                    "{} - cid:{} - Stale Client Connection - Closing",
                    conn.addr,
                    conn.cid
                );
                self.send_err(timer.key, crate::proto::error::STALE_CONNECTION);
                self.close(timer.key, CloseReason::StaleConnection);
                return;
            }
            conn.pings_out += 1;
            conn.pinged_since_connect = true;
            if self.trace {
                log::trace!("{} - cid:{} - ->> [PING]", conn.addr, conn.cid);
            }
            self.queue(timer.key, encode::PING);
        }
        let at = now + interval;
        self.conns[timer.key].next_ping = at;
        self.schedule(timer.key, timer.cid, TimerKind::Ping, at);
    }
}
