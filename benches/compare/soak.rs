//! Connection churn as a soak: a fleet of devices that reconnect over and
//! over must not cost the server memory that never comes back. One churn
//! run says how fast connections come and go; this one says whether the
//! server's RSS creeps up while they do.

use std::thread;
use std::time::Duration;

use crate::client::{Conn, Res, SMALL_READS};
use crate::conns::{open_subscribed, settled_rss_kb, SETTLE};
use crate::proc::{on_cpu, rss_kb, Window};
use crate::report::{Better, Figure, Outcome};
use crate::server::RunningServer;

/// `rounds` rounds of `connections` connections, each holding the same
/// device subscriptions every round: all opened, subscribed and confirmed,
/// then all closed. RSS is read idle, after round 10 (warmed up: buffers
/// and tables at their working size), after the last round, and once the
/// server has been left alone for `afterwards` (2 s in a full run: a
/// runtime that returns memory lazily has had time to). The growth
/// between round 10 and the last, per connection churned in between, is
/// where a leak would show.
pub fn run_churn_soak(
    rounds: u64,
    connections: u64,
    subs_each: usize,
    afterwards: Duration,
    server: &RunningServer,
) -> Res<Outcome> {
    if rounds < 2 {
        return Err("a soak needs at least two rounds".into());
    }
    // Round 10 of 300; in a short (smoke) soak, a third of the way.
    let warm = (rounds / 3).clamp(1, 10);
    let pid = server.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    // The rounds' closes are processed before RSS is read: this
    // connection's PONG follows them.
    let mut control = Conn::open(server.addr, SMALL_READS)?;
    let mut at_warm = idle;
    let window = Window::open(server)?;
    let ((), own_cpu) = on_cpu(|| {
        for round in 1..=rounds {
            let conns = open_subscribed(server.addr, connections, subs_each)
                .map_err(|e| format!("round {round}: {e}"))?;
            drop(conns);
            control.send_and_sync(b"")?;
            if round == warm {
                at_warm = rss_kb(pid)?;
            }
        }
        Ok(())
    })?;
    let rate = (rounds * connections) as f64 / window.start.elapsed().as_secs_f64();
    let cpu = window.cpu(&[own_cpu])?;
    let last = rss_kb(pid)?;
    thread::sleep(afterwards);
    let settled = settled_rss_kb(pid)?;

    let churned = (rounds - warm) * connections;
    let growth = (last as f64 - at_warm as f64) * 1024.0 / churned as f64;
    let kib = |label: String, kb: u64| Figure::new(label, "KiB", kb as f64, Better::Lower);
    Ok(Outcome {
        figures: vec![
            Figure::new(
                format!("churn soak, {connections} conns x {subs_each} device subs a round"),
                "conns/s",
                rate,
                Better::Higher,
            ),
            kib("churn soak, RSS idle".into(), idle),
            kib(format!("churn soak, RSS after round {warm}"), at_warm),
            kib(format!("churn soak, RSS after round {rounds}"), last),
            kib(
                format!(
                    "churn soak, RSS {:.1} s after round {rounds}, settled",
                    afterwards.as_secs_f64()
                ),
                settled,
            ),
            Figure::new(
                format!("churn soak, RSS growth per churned conn (rounds {warm}-{rounds})"),
                "B",
                growth,
                Better::Lower,
            ),
        ],
        cpu,
    })
}
