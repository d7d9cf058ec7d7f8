//! What `/proc` says: a process's memory and CPU time, and the measuring
//! window that brackets a scenario's timed stretch.

use std::time::Instant;

use crate::client::{Context, Res};
use crate::report::CpuUse;
use crate::server::RunningServer;

/// Resident set size of process `pid`, in kB (`VmRSS`).
pub fn rss_kb(pid: u32) -> Res<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context(&format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Linux reports CPU times in /proc in USER_HZ, which is 100 on every
/// architecture it exports to user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system) used so far by `/proc/<who>`, in seconds: a
/// pid or `self` (all threads of the process), or `thread-self`.
pub fn cpu_seconds(who: &str) -> Res<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat"))
        .context(&format!("read /proc/{who}/stat"))?;
    // The command name, in parentheses, may hold spaces: count fields after
    // it. utime and stime are fields 14 and 15; the state after ")" is 3.
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let mut next = || -> Res<f64> {
        fields
            .next()
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| format!("unexpected /proc/{who}/stat"))
    };
    Ok((next()? + next()?) / TICKS_PER_SECOND)
}

/// Wall clock and CPU time (the server's, its peer's in a cluster of two,
/// and the load generator's) over a measured stretch.
pub struct Window {
    pid: u32,
    pub start: Instant,
    server_cpu: f64,
    /// The peer's pid and CPU time at the opening.
    peer: Option<(u32, f64)>,
    own_cpu: f64,
}

impl Window {
    pub fn open(server: &RunningServer) -> Res<Window> {
        Window::open_with_peer(server, None)
    }

    /// [`Window::open`], also counting `peer`'s CPU time (the other server
    /// of a cluster of two; see [`CpuUse::peer`]).
    pub fn open_with_peer(server: &RunningServer, peer: Option<&RunningServer>) -> Res<Window> {
        let pid = server.pid();
        let peer = match peer {
            Some(peer) => Some((peer.pid(), cpu_seconds(&peer.pid().to_string())?)),
            None => None,
        };
        Ok(Window {
            pid,
            server_cpu: cpu_seconds(&pid.to_string())?,
            peer,
            own_cpu: cpu_seconds("self")?,
            start: Instant::now(),
        })
    }

    /// The server's CPU time (user + system) from the opening until now,
    /// in seconds, in /proc's 10 ms ticks.
    pub fn server_cpu(&self) -> Res<f64> {
        Ok(cpu_seconds(&self.pid.to_string())? - self.server_cpu)
    }

    /// CPU use from the opening until now; `thread_cpu` is what each
    /// load-generating thread spent (see [`on_cpu`]). None for a stretch
    /// too short for /proc's 10 ms ticks to say anything (smoke runs).
    pub fn cpu(&self, thread_cpu: &[f64]) -> Res<Option<CpuUse>> {
        let wall = self.start.elapsed().as_secs_f64();
        if wall < 0.5 {
            return Ok(None);
        }
        let peer = match self.peer {
            Some((pid, before)) => Some((cpu_seconds(&pid.to_string())? - before) / wall),
            None => None,
        };
        Ok(Some(CpuUse {
            server: (cpu_seconds(&self.pid.to_string())? - self.server_cpu) / wall,
            peer,
            loadgen: (cpu_seconds("self")? - self.own_cpu) / wall,
            busiest_thread: thread_cpu.iter().copied().fold(0.0, f64::max) / wall,
        }))
    }
}

/// Runs `body` and says how much CPU time this thread spent in it: each
/// client role is one thread, so one near 100% of a core is a load
/// generator at its limit.
pub fn on_cpu<T>(body: impl FnOnce() -> Res<T>) -> Res<(T, f64)> {
    let before = cpu_seconds("thread-self")?;
    let value = body()?;
    Ok((value, cpu_seconds("thread-self")? - before))
}
