//! Outgoing TCP connections being made (to leaf node hubs, to other
//! servers of the cluster): non-blocking connects polled for writability,
//! each under a token of its own and a deadline, with Go's error texts,
//! so that what the core logs reads as nats-server's.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::{put, trim_table};

/// How long a dial may take (nats-server's `DEFAULT_ROUTE_DIAL`, also its
/// leaf node dial timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection being made, with what it is for.
pub struct Dial<T> {
    pub stream: TcpStream,
    pub to: SocketAddr,
    deadline: Instant,
    pub what: T,
}

/// Dials in progress; dial `i` polls under token `base + i`.
pub struct Dials<T> {
    base: usize,
    pending: Vec<Option<Dial<T>>>,
}

/// How a dial ended.
pub enum Dialed<T> {
    Connected(Dial<T>),
    /// Go's text for why not.
    Failed(Dial<T>, String),
}

/// Go's text for a failed dial: `dial tcp <addr>: connect: <why>`.
fn dial_error(to: &str, e: &io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "connection refused".to_string(),
        Some(libc::ETIMEDOUT) => "connection timed out".to_string(),
        Some(libc::EHOSTUNREACH) => "no route to host".to_string(),
        Some(libc::ENETUNREACH) => "network is unreachable".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {to}: connect: {why}")
}

impl<T> Dials<T> {
    pub fn new(base: usize) -> Dials<T> {
        Dials {
            base,
            pending: Vec::new(),
        }
    }

    /// Start connecting to `host:port` for `what`; `Err` is Go's text for
    /// why it could not start. Name resolution blocks the thread: a peer
    /// named by host name is looked up here (see README).
    pub fn start(
        &mut self,
        registry: &Registry,
        host: &str,
        port: u16,
        what: T,
        now: Instant,
    ) -> Result<(), (T, String)> {
        let to = match (host, port).to_socket_addrs() {
            Ok(mut addrs) => addrs.next(),
            Err(e) => return Err((what, format!("dial tcp: lookup {host}: {e}"))),
        };
        let Some(to) = to else {
            return Err((what, format!("dial tcp: lookup {host}: no such host")));
        };
        let mut stream = match TcpStream::connect(to) {
            Ok(stream) => stream,
            Err(e) => return Err((what, dial_error(&to.to_string(), &e))),
        };
        let index = self
            .pending
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.pending.len());
        if let Err(e) = registry.register(&mut stream, Token(self.base + index), Interest::WRITABLE)
        {
            return Err((what, dial_error(&to.to_string(), &e)));
        }
        let dial = Dial {
            stream,
            to,
            deadline: now + DIAL_TIMEOUT,
            what,
        };
        put(&mut self.pending, index, dial);
        Ok(())
    }

    fn take(&mut self, registry: &Registry, index: usize) -> Option<Dial<T>> {
        let mut dial = self.pending.get_mut(index)?.take()?;
        trim_table(&mut self.pending);
        let _ = registry.deregister(&mut dial.stream);
        Some(dial)
    }

    /// Dial `index`'s socket is writable: how it ended, or `None` while it
    /// is still connecting.
    pub fn writable(&mut self, registry: &Registry, index: usize) -> Option<Dialed<T>> {
        let dial = self.pending.get_mut(index)?.as_mut()?;
        let failed = match dial.stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => None,
        };
        if failed.is_none() && dial.stream.peer_addr().is_err() {
            return None;
        }
        let dial = self.take(registry, index)?;
        Some(match failed {
            Some(e) => {
                let text = dial_error(&dial.to.to_string(), &e);
                Dialed::Failed(dial, text)
            }
            None => {
                let _ = dial.stream.set_nodelay(true);
                Dialed::Connected(dial)
            }
        })
    }

    /// The dials past their deadline at `now`, taken, with Go's text.
    pub fn expired(&mut self, registry: &Registry, now: Instant) -> Vec<(Dial<T>, String)> {
        let due: Vec<usize> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, d)| d.as_ref().is_some_and(|d| d.deadline <= now))
            .map(|(i, _)| i)
            .collect();
        due.into_iter()
            .filter_map(|i| self.take(registry, i))
            .map(|dial| {
                let text = format!("dial tcp {}: i/o timeout", dial.to);
                (dial, text)
            })
            .collect()
    }

    /// The earliest deadline, for the poll's timeout.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.iter().flatten().map(|d| d.deadline).min()
    }

    /// Drop every dial in progress (shutdown).
    pub fn clear(&mut self, registry: &Registry) {
        for index in 0..self.pending.len() {
            self.take(registry, index);
        }
    }
}
