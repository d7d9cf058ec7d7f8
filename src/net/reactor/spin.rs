//! When to keep polling instead of sleeping: `--busy_poll`, spent only
//! where it has lately paid off.
//!
//! Spinning after a turn saves the thread wake-up (tens of microseconds on
//! a VM) when the next event comes soon, as a reply does in back-to-back
//! request/reply. Where events come at a steady pace (a sensor feed at
//! 20,000 messages a second arrives every 50 µs), the spin is waited out in
//! full before each message: the wake-up is saved at the price of the whole
//! gap in CPU, three times what sleeping costs at such rates. So the
//! reactor measures the gap from the end of one turn to the arrival of the
//! next events (spinning or asleep) and spins only while recent gaps have
//! been short against the window: their moving average within half of it.

use std::time::{Duration, Instant};

/// A gap's weight in the moving average: 1/8, so a change of pattern is
/// seen after a handful of turns and one outlier does not flip it.
const WEIGHT_SHIFT: u32 = 3;

#[derive(Debug, Default)]
pub struct Spin {
    /// The moving average of recent gaps, in nanoseconds.
    average_gap_ns: u64,
    /// When the last turn with events ended.
    turn_end: Option<Instant>,
}

// The average starts at zero, as if gaps were short: a new server spins
// after its first events and learns from the gaps that follow.
impl Spin {
    /// Events arrived at `now`: the gap since the last turn ended counts,
    /// against the longest spin `window`.
    pub fn events_at(&mut self, now: Instant, window: Duration) {
        let Some(end) = self.turn_end.take() else {
            return;
        };
        // A gap past twice the window says only "long": it need not weigh
        // more, so that after a quiet spell a run of quick replies is
        // spun for again within sixteen turns.
        let gap = now.saturating_duration_since(end).min(2 * window);
        let gap = gap.as_nanos() as u64;
        self.average_gap_ns =
            self.average_gap_ns - (self.average_gap_ns >> WEIGHT_SHIFT) + (gap >> WEIGHT_SHIFT);
    }

    /// A turn with events ended at `now`: until when to poll without
    /// sleeping, if at all, given the longest spin (`--busy_poll`; zero
    /// never spins).
    pub fn turn_ended(&mut self, now: Instant, window: Duration) -> Option<Instant> {
        self.turn_end = Some(now);
        let pays = self.average_gap_ns <= window.as_nanos() as u64 / 2;
        (!window.is_zero() && pays).then(|| now + window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Turns whose next events come `gap` after each ends; whether the
    /// last one would spin.
    fn spins_after(spin: &mut Spin, gap: Duration, turns: usize) -> bool {
        spins_with(spin, Duration::from_micros(50), gap, turns)
    }

    fn spins_with(spin: &mut Spin, window: Duration, gap: Duration, turns: usize) -> bool {
        let mut now = Instant::now();
        let mut spinning = false;
        for _ in 0..turns {
            spinning = spin.turn_ended(now, window).is_some();
            now += gap;
            spin.events_at(now, window);
        }
        spinning
    }

    #[test]
    fn back_to_back_replies_are_spun_for() {
        let mut spin = Spin::default();
        assert!(spins_after(&mut spin, Duration::from_micros(15), 100));
    }

    #[test]
    fn a_steady_pace_is_slept_through() {
        let mut spin = Spin::default();
        // 20,000 messages a second: a gap just under the window.
        assert!(!spins_after(&mut spin, Duration::from_micros(45), 100));
    }

    #[test]
    fn it_learns_both_ways_within_sixteen_turns() {
        let mut spin = Spin::default();
        assert!(!spins_after(&mut spin, Duration::from_millis(1), 30));
        assert!(spins_after(&mut spin, Duration::from_micros(5), 16));
        assert!(!spins_after(&mut spin, Duration::from_micros(200), 16));
    }

    #[test]
    fn a_zero_window_never_spins() {
        let mut spin = Spin::default();
        assert!(!spins_with(&mut spin, Duration::ZERO, Duration::ZERO, 10));
    }
}
