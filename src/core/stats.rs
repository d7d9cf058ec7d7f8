//! Counters and times for monitoring. They are bumped on the hot path, so
//! each is a plain integer addition or a copy of a time the caller already
//! has: no allocation, no system call.

use std::time::{Duration, Instant, SystemTime};

/// Server-wide totals since start (nats-server's `/varz` counters).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// Connections closed as slow consumers (pending bytes or write deadline).
    pub slow_consumers: u64,
    /// Connections closed for not answering PINGs.
    pub stale_connections: u64,
    /// Connections ever accepted.
    pub total_connections: u64,
}

impl ServerStats {
    /// Count why a connection closed.
    pub(super) fn count_close(&mut self, reason: super::closed::CloseReason) {
        use super::closed::CloseReason::*;
        match reason {
            SlowConsumerPendingBytes | SlowConsumerWriteDeadline => self.slow_consumers += 1,
            StaleConnection => self.stale_connections += 1,
            _ => {}
        }
    }
}

/// One connection's traffic and timing, as `/connz` reports it.
#[derive(Debug, Clone, Copy)]
pub struct ConnStats {
    /// When the connection was accepted.
    pub start: Instant,
    /// The last CONNECT, PUB, SUB or UNSUB (nats-server's `last_activity`).
    pub last_activity: Instant,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// The round trip measured by the last PING answered (first estimated,
    /// as nats-server does, by the time from accept to CONNECT).
    pub rtt: Duration,
    /// When the PING now awaiting its PONG was sent.
    pub rtt_start: Option<Instant>,
}

impl ConnStats {
    pub fn new(now: Instant) -> ConnStats {
        ConnStats {
            start: now,
            last_activity: now,
            in_msgs: 0,
            in_bytes: 0,
            out_msgs: 0,
            out_bytes: 0,
            rtt: Duration::ZERO,
            rtt_start: None,
        }
    }

    /// A round trip that began at `since` ended `now` (Go's `computeRTT`:
    /// never zero, so zero keeps meaning "not measured").
    pub fn measure_rtt(&mut self, since: Instant, now: Instant) {
        self.rtt = now.duration_since(since).max(Duration::from_nanos(1));
    }
}

/// Turns the monotonic instants the core keeps into wall-clock times, from
/// one reading of both clocks at start: the monitor shows times, the hot
/// path never reads the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    system: SystemTime,
}

impl WallClock {
    /// A clock from one reading of both clocks (the caller's: the core
    /// reads none).
    pub fn new(instant: Instant, system: SystemTime) -> WallClock {
        WallClock { instant, system }
    }

    /// The wall-clock time of `at`.
    pub fn at(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.system + after,
            None => self.system - self.instant.duration_since(at),
        }
    }

    /// When the clock was read: the server's start.
    pub fn start(&self) -> (Instant, SystemTime) {
        (self.instant, self.system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_maps_instants_either_side_of_its_reading() {
        let before = Instant::now();
        let clock = WallClock::new(std::time::Instant::now(), std::time::SystemTime::now());
        let (instant, system) = clock.start();
        let later = instant + Duration::from_secs(5);
        assert_eq!(clock.at(later), system + Duration::from_secs(5));
        assert_eq!(clock.at(before), system - instant.duration_since(before));
    }

    #[test]
    fn a_measured_rtt_is_never_zero() {
        let t = Instant::now();
        let mut stats = ConnStats::new(t);
        stats.measure_rtt(t, t);
        assert_eq!(stats.rtt, Duration::from_nanos(1));
    }
}
