//! The process's memory and CPU use, read from `/proc` as nats-server's
//! `pse` package reads them (zero where `/proc` is not there).

use std::time::Instant;

/// Clock ticks per second of `/proc/self/stat` times. nats-server assumes
/// 100 too (Linux's `USER_HZ` on every common architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// User plus system CPU time so far, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted from the last ')'. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU use in percent of one core over the last second or so, as
/// nats-server's `/varz` `cpu` reports it (it samples once a second; this
/// samples when asked, at most once a second, so scrapes in quick
/// succession see the same figure).
#[derive(Debug)]
pub struct CpuSampler {
    last: (Instant, u64),
    percent: f64,
}

impl CpuSampler {
    /// A sampler whose first window starts at `start` with no CPU used.
    pub fn new(start: Instant) -> CpuSampler {
        CpuSampler {
            last: (start, 0),
            percent: 0.0,
        }
    }

    pub fn percent(&mut self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last.0).as_secs_f64();
        if elapsed < 1.0 {
            return self.percent;
        }
        if let Some(ticks) = cpu_ticks() {
            let used = ticks.saturating_sub(self.last.1) as f64 / TICKS_PER_SECOND;
            // One decimal, as nats-server keeps it.
            self.percent = (used / elapsed * 1000.0).round() / 10.0;
            self.last = (now, ticks);
        }
        self.percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn proc_figures_are_read_on_linux() {
        assert!(rss_bytes() > 0);
        assert!(cpu_ticks().is_some());
    }

    #[test]
    fn cpu_is_sampled_at_most_once_a_second() {
        let start = Instant::now();
        let mut cpu = CpuSampler::new(start);
        assert_eq!(cpu.percent(start), 0.0);
        let later = start + std::time::Duration::from_secs(2);
        let p = cpu.percent(later);
        assert!(p >= 0.0);
        assert_eq!(cpu.percent(later), p);
    }
}
