//! What connections cost: setting them up and tearing them down one after
//! another, and the memory they hold.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Conn, Event, Res, SMALL_READS};
use crate::proc::{on_cpu, rss_kb, Window};
use crate::report::{Better, Figure, Outcome};
use crate::server::RunningServer;

/// `connections` connections one after another, each: connect, `INFO`,
/// `CONNECT`, `SUB`, `UNSUB`, `PING`/`PONG`, close.
pub fn run_churn(title: &str, connections: u64, server: &RunningServer) -> Res<Outcome> {
    let window = Window::open(server)?;
    let ((), own_cpu) = on_cpu(|| {
        for _ in 0..connections {
            let mut conn = Conn::open(server.addr, SMALL_READS)?;
            conn.send_and_sync(b"SUB bench.churn 1\r\nUNSUB 1\r\n")?;
        }
        Ok(())
    })?;
    let rate = connections as f64 / window.start.elapsed().as_secs_f64();
    Ok(Outcome {
        figures: vec![Figure::new(title, "conns/s", rate, Better::Higher)],
        cpu: window.cpu(&[own_cpu])?,
    })
}

/// How long a freshly started server is left alone before its idle RSS is
/// read: long enough for a runtime's start-up work to finish.
const SETTLE: Duration = Duration::from_millis(250);

/// Start-up time; memory idle, with `connections` connections holding
/// `subs_each` subscriptions each (all on distinct subjects), and after
/// those connections have closed.
pub fn run_footprint(connections: u64, subs_each: usize, server: &RunningServer) -> Res<Outcome> {
    let pid = server.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    let conns = open_subscribed(server.addr, connections, subs_each)?;
    let loaded = rss_kb(pid)?;
    drop(conns);
    let after = settled_rss_kb(pid)?;

    let startup_ms = server.startup.as_secs_f64() * 1e3;
    let kib = |label: String, kb: u64| Figure::new(label, "KiB", kb as f64, Better::Lower);
    Ok(Outcome {
        figures: vec![
            Figure::new("start-up to first INFO", "ms", startup_ms, Better::Lower),
            kib("RSS idle".into(), idle),
            kib(
                format!("RSS, {connections} conns x {subs_each} subs"),
                loaded,
            ),
            kib(format!("RSS after those {connections} close"), after),
        ],
        cpu: None,
    })
}

/// `connections` connections with `subs_each` subscriptions each, all
/// confirmed by `PING`/`PONG`. Every connection sends its `SUB`s before
/// any `PONG` is awaited, so setting up 1,000 costs one round trip each,
/// not two.
fn open_subscribed(addr: SocketAddr, connections: u64, subs_each: usize) -> Res<Vec<Conn>> {
    let mut conns = Vec::with_capacity(connections as usize);
    for i in 0..connections {
        let mut conn = Conn::open(addr, SMALL_READS)?;
        let mut subs: String = (1..=subs_each)
            .map(|sid| format!("SUB fp.{i}.{sid} {sid}\r\n"))
            .collect();
        subs += "PING\r\n";
        conn.send(subs.as_bytes())?;
        conns.push(conn);
    }
    for conn in &mut conns {
        conn.read_until(|ev| ev == Event::Pong)?;
    }
    Ok(conns)
}

/// RSS once it has stopped changing (the same for 250 ms), or after 2 s.
fn settled_rss_kb(pid: u32) -> Res<u64> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = rss_kb(pid)?;
    let mut same_since = Instant::now();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(25));
        let now = rss_kb(pid)?;
        if now != last {
            (last, same_since) = (now, Instant::now());
        } else if same_since.elapsed() >= Duration::from_millis(250) {
            break;
        }
    }
    Ok(last)
}
