//! Lame duck mode (SIGUSR2), as nats-server does it: stop accepting, tell
//! every client that takes asynchronous INFO (`"ldm":true`) so it can move
//! to another server, wait out the grace period, then close the clients one
//! at a time spread over the rest of `lame_duck_duration`, and exit.
//!
//! The reactor closes the listener and asks the core for the next deadline;
//! the core decides who is closed when.

use std::time::{Duration, Instant};

use super::client::CLIENT_PROTO_INFO;
use super::closed::CloseReason;
use super::Core;

pub(super) struct LameDuck {
    /// Clients still to close (key and cid, as a key is reused), in order.
    remaining: Vec<(usize, u64)>,
    /// When the next close is due; the first is after the grace period.
    next_at: Instant,
    /// The spacing between closes (a random share of it, at least half).
    interval: Duration,
    /// Clients closed together when there are too many to space out.
    batch: usize,
    /// "Closing existing clients" was logged.
    closing_started: bool,
}

impl Core {
    /// Enter lame duck mode; the caller has stopped accepting. Returns
    /// false when no client is connected, so the server can exit now.
    pub fn enter_lame_duck(&mut self, now: Instant) -> bool {
        if self.lame_duck.is_some() {
            return true;
        }
        // Routes stay until the server stops: the cluster is told instead.
        let remaining: Vec<(usize, u64)> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.is_closing() && c.role != super::conn::Role::Route)
            .map(|(key, c)| (key, c.cid))
            .collect();
        if remaining.is_empty() {
            return false;
        }
        self.announce_lame_duck_to_routes();
        self.send_info_to_clients(true);
        let grace = self.opts.lame_duck_grace_period;
        let spread = self
            .opts
            .lame_duck_duration
            .checked_sub(grace)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(1));
        let n = remaining.len() as u32;
        let (interval, batch) = match spread / n {
            // More clients than nanoseconds: close them in batches.
            d if d.is_zero() => (
                Duration::from_nanos(1),
                (n as u128 / spread.as_nanos()) as usize,
            ),
            // No need to wait more than a second between clients.
            d => (d.min(Duration::from_secs(1)), 1),
        };
        self.lame_duck = Some(LameDuck {
            remaining,
            next_at: now + grace,
            interval,
            batch: batch.max(1),
            closing_started: false,
        });
        true
    }

    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.is_some()
    }

    /// When lame duck mode next has something to do.
    pub fn lame_duck_deadline(&self) -> Option<Instant> {
        self.lame_duck.as_ref().map(|ld| ld.next_at)
    }

    /// Close the clients whose turn has come. Returns true once every
    /// client is closed: the server should shut down.
    pub fn lame_duck_step(&mut self, now: Instant) -> bool {
        let Some(mut ld) = self.lame_duck.take() else {
            return false;
        };
        if now < ld.next_at {
            self.lame_duck = Some(ld);
            return false;
        }
        if !ld.closing_started {
            ld.closing_started = true;
            log::info!("Closing existing clients");
        }
        for _ in 0..ld.batch {
            let Some((key, cid)) = ld.remaining.pop() else {
                break;
            };
            if self.conns.get(key).is_some_and(|c| c.cid == cid) {
                self.close(key, CloseReason::ServerShutdown);
            }
        }
        if ld.remaining.is_empty() {
            return true;
        }
        // A random wait between half the interval and the interval, as
        // nats-server, so that clients do not all reconnect in step.
        let nanos = ld.interval.as_nanos().max(1) as u64;
        let wait = (self.rng.next_u64() % nanos).max(nanos / 2);
        ld.next_at = now + Duration::from_nanos(wait);
        self.lame_duck = Some(ld);
        false
    }

    /// The server's INFO (with `"ldm":true` in lame duck mode) to every
    /// client that takes asynchronous INFO: protocol 1, and past its first
    /// PONG.
    pub(super) fn send_info_to_clients(&mut self, ldm: bool) {
        let mut info = self.info.clone();
        info.ldm = ldm;
        let keys: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.role == super::conn::Role::Client
                    && c.sent_connect_info
                    && c.opts.protocol >= CLIENT_PROTO_INFO
                    && !c.is_closing()
            })
            .map(|(key, _)| key)
            .collect();
        let mut out = Vec::new();
        for key in keys {
            let conn = &self.conns[key];
            info.client_id = conn.cid;
            info.client_ip = conn.addr.ip().to_string();
            out.clear();
            info.write_to(&mut out);
            self.queue(key, &out);
        }
    }
}
