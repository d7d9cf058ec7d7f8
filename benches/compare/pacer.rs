//! Sending at a fixed rate instead of flat out, and receiving such a
//! stream: what a fleet of devices does to an edge server most of the
//! time, and what the paced scenarios measure the server under.
//!
//! A paced sender sleeps until each message is due and writes it on its
//! own, so the server sees messages arrive one at a time, as from devices,
//! not in bursts that let it sleep between them; a late wake-up sends all
//! that fell due in one write, so the rate is exact over the run. The
//! sender's thread asks for a fine timer slack (Linux's default lets a
//! sleep overrun by 50 µs, a whole gap at 20,000 messages a second).

use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Conn, Event, Res, PATIENCE};
use crate::flow::POLL;

/// The schedule of `total` messages at `rate` per second, from its start.
pub struct Pacer {
    rate: u64,
    total: u64,
    /// Messages handed out so far: all that were due at the last tick.
    sent: u64,
    start: Instant,
}

impl Pacer {
    /// The schedule starts now; the calling thread is the sender.
    pub fn start(rate: u64, total: u64) -> Pacer {
        crate::sys::fine_timer_slack();
        Pacer {
            rate,
            total,
            sent: 0,
            start: Instant::now(),
        }
    }

    /// Sleeps until the next message is due and returns how many are due
    /// by then (counted as sent from here on): one, or more after a late
    /// wake-up; None once all have been.
    pub fn next_batch(&mut self) -> Option<u64> {
        if self.sent >= self.total {
            return None;
        }
        let rate = u128::from(self.rate);
        let next_due = u128::from(self.sent) * 1_000_000_000 / rate;
        let elapsed = self.start.elapsed();
        thread::sleep(Duration::from_nanos(next_due as u64).saturating_sub(elapsed));
        // Message i is due at i / rate seconds: those up to now are due.
        let elapsed = self.start.elapsed().as_nanos();
        let due = (elapsed * rate / 1_000_000_000 + 1).min(u128::from(self.total));
        let batch = (due as u64).saturating_sub(self.sent).max(1);
        self.sent += batch;
        Some(batch)
    }
}

/// Sends `frame` (one whole `PUB`) `total` times at `rate` per second
/// through `send`: one write per wake-up of the frames then due (in chunks
/// of at most 10 ms' worth after a long oversleep).
pub fn send_paced(
    frame: &[u8],
    rate: u64,
    total: u64,
    mut send: impl FnMut(&[u8]) -> Res<()>,
) -> Res<()> {
    let per_write = (rate / 100).max(1);
    let frames = frame.repeat(per_write as usize);
    let mut pacer = Pacer::start(rate, total);
    while let Some(mut due) = pacer.next_batch() {
        while due > 0 {
            let n = due.min(per_write);
            send(&frames[..n as usize * frame.len()])?;
            due -= n;
        }
    }
    Ok(())
}

/// A subscriber to a paced stream: reads until `expected` `MSG`s have
/// arrived, showing every event to `on`, and fails after [`PATIENCE`]
/// without one (lost messages). Then it sends a `PING`: the events up to
/// its `PONG` are shown too (the last payload, if a read cut it off), and
/// a `MSG` among them is one too many.
pub fn receive(conn: &mut Conn, expected: u64, mut on: impl FnMut(Event<'_>)) -> Res<()> {
    conn.poll_every(POLL)?;
    let mut got = 0;
    let mut progress = Instant::now();
    while got < expected {
        let before = got;
        conn.pump(&mut |ev| {
            if let Event::Msg(_) = ev {
                got += 1;
            }
            on(ev);
        })?;
        if got != before {
            progress = Instant::now();
        } else if progress.elapsed() > PATIENCE {
            return Err(format!(
                "lost messages: {got} of {expected} arrived, then nothing for {PATIENCE:?}"
            ));
        }
    }
    conn.send(b"PING\r\n")?;
    conn.read_until(|ev| {
        if let Event::Msg(_) = ev {
            got += 1;
        }
        on(ev);
        ev == Event::Pong
    })?;
    if got != expected {
        return Err(format!(
            "{got} messages arrived, expected exactly {expected}"
        ));
    }
    Ok(())
}
