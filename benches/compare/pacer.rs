//! Sending at a fixed rate instead of flat out, and receiving such a
//! stream: what a fleet of devices does to an edge server most of the
//! time, and what the paced scenarios measure the server under.
//!
//! A paced sender wakes every [`TICK`] and writes the messages due by then
//! in one write, so the rate is exact over the run without a syscall (or a
//! timer) per message, and a late wake-up is made up at the next tick.

use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Conn, Event, Res, PATIENCE};
use crate::flow::POLL;

/// How often a paced sender wakes to send what is due.
pub const TICK: Duration = Duration::from_millis(1);

/// The schedule of `total` messages at `rate` per second, from its start.
pub struct Pacer {
    rate: u64,
    total: u64,
    /// Messages handed out so far: all that were due at the last tick.
    sent: u64,
    start: Instant,
}

impl Pacer {
    /// The schedule starts now.
    pub fn start(rate: u64, total: u64) -> Pacer {
        Pacer {
            rate,
            total,
            sent: 0,
            start: Instant::now(),
        }
    }

    /// Sleeps until the next tick and returns how many messages fell due
    /// since the last one (counted as sent from here on); None once all
    /// have been. The tick is the next multiple of [`TICK`] from the
    /// start, so oversleeping shifts no later tick.
    pub fn next_batch(&mut self) -> Option<u64> {
        if self.sent >= self.total {
            return None;
        }
        let elapsed = self.start.elapsed();
        let ticks = elapsed.as_nanos() / TICK.as_nanos() + 1;
        let tick = TICK.as_nanos() * ticks;
        thread::sleep(Duration::from_nanos(tick as u64).saturating_sub(elapsed));
        let elapsed = self.start.elapsed().as_nanos();
        let due = (elapsed * u128::from(self.rate) / 1_000_000_000).min(u128::from(self.total));
        let batch = due as u64 - self.sent;
        self.sent = due as u64;
        Some(batch)
    }
}

/// Sends `frame` (one whole `PUB`) `total` times at `rate` per second
/// through `send`: one write per tick of the frames then due (in chunks of
/// at most 10 ticks' worth after a long oversleep).
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
