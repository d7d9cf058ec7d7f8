//! What connections cost: setting them up and tearing them down one after
//! another, and the memory they hold.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Conn, Event, Res, SMALL_READS};
use crate::proc::{on_cpu, rss_kb, Window};
use crate::report::{Better, Figure, Outcome};
use crate::server::RunningServer;
use crate::sys::fd_limit;
use crate::transport::Transport;

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
pub const SETTLE: Duration = Duration::from_millis(250);

/// What a footprint run reports besides the connections' own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headline {
    /// Start-up time and idle RSS too (one scenario says them for all).
    StartAndIdle,
    ConnectionsOnly,
}

/// Descriptors a run needs besides one per connection on each side: the
/// servers' own, the publisher's, stdio, the log pipe.
const SPARE_FDS: u64 = 300;

/// Memory idle, with `connections` device-like connections holding
/// `subs_each` subscriptions each (see [`device_subjects`]), and after
/// those connections have closed; how fast they were opened and
/// subscribed; and proof that the server serves every one of them (each
/// gets the one message published to it).
pub fn run_footprint(
    connections: u64,
    subs_each: usize,
    headline: Headline,
    server: &RunningServer,
) -> Res<Outcome> {
    check_fd_limit(connections)?;
    let pid = server.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    let opening = Instant::now();
    let mut conns = open_subscribed(server.addr, connections, subs_each)?;
    let rate = connections as f64 / opening.elapsed().as_secs_f64();
    let loaded = rss_kb(pid)?;
    prove_served(server.addr, &mut conns)?;
    drop(conns);
    let after = settled_rss_kb(pid)?;

    let kib = |label: String, kb: f64| Figure::new(label, "KiB", kb, Better::Lower);
    let mut figures = Vec::new();
    if headline == Headline::StartAndIdle {
        let startup_ms = server.startup.as_secs_f64() * 1e3;
        figures.push(Figure::new(
            "start-up to first INFO",
            "ms",
            startup_ms,
            Better::Lower,
        ));
        figures.push(kib("RSS idle".into(), idle as f64));
    }
    figures.extend([
        Figure::new(
            format!("opening {connections} conns x {subs_each} device subs"),
            "conns/s",
            rate,
            Better::Higher,
        ),
        kib(
            format!("RSS, {connections} conns x {subs_each} device subs"),
            loaded as f64,
        ),
        kib(
            format!("RSS per connection (loaded - idle), {connections} conns"),
            loaded.saturating_sub(idle) as f64 / connections as f64,
        ),
        kib(format!("RSS after those {connections} close"), after as f64),
    ]);
    Ok(Outcome { figures, cpu: None })
}

/// Fails, naming the limit, when `connections` connections (on both
/// sides of the socket) would run out of file descriptors.
pub fn check_fd_limit(connections: u64) -> Res<()> {
    let needed = connections + SPARE_FDS;
    let (soft, hard) = fd_limit()?;
    if soft < needed {
        return Err(format!(
            "{connections} connections need about {needed} file descriptors; \
             RLIMIT_NOFILE is {soft} (hard limit {hard}): raise the hard limit \
             (ulimit -Hn, limits.conf or the service's LimitNOFILE)"
        ));
    }
    Ok(())
}

/// What idle TLS connections cost: `connections` of them, opened one
/// after another (connect, `INFO` in clear, the handshake, `CONNECT`,
/// `PING`, its `PONG`), then left alone, no subscriptions. RSS is read
/// idle before and with them all open, as [`run_footprint`] reads it;
/// then each must still answer a `PING`. What TLS adds to a connection is
/// mostly the TLS library's buffers and state, which an idle connection
/// should not keep at their working size.
pub fn run_footprint_tls(connections: u64, server: &RunningServer) -> Res<Outcome> {
    check_fd_limit(connections)?;
    let pid = server.pid();
    thread::sleep(SETTLE);
    let idle = rss_kb(pid)?;
    let opening = Instant::now();
    let mut conns = (0..connections)
        .map(|_| {
            let mut conn = Conn::open_over(Transport::Tls, server, SMALL_READS, None)?;
            conn.send_and_sync(b"")?;
            Ok(conn)
        })
        .collect::<Res<Vec<_>>>()?;
    let rate = connections as f64 / opening.elapsed().as_secs_f64();
    let loaded = rss_kb(pid)?;
    for conn in &mut conns {
        conn.send(b"PING\r\n")?;
    }
    for (n, conn) in conns.iter_mut().enumerate() {
        conn.read_until(|ev| ev == Event::Pong)
            .map_err(|e| format!("TLS connection {n}: {e}"))?;
    }
    drop(conns);
    let after = settled_rss_kb(pid)?;

    let kib = |label: String, kb: f64| Figure::new(label, "KiB", kb, Better::Lower);
    Ok(Outcome {
        figures: vec![
            Figure::new(
                format!("opening {connections} TLS conns, one at a time"),
                "conns/s",
                rate,
                Better::Higher,
            ),
            kib(format!("RSS, {connections} idle TLS conns"), loaded as f64),
            kib(
                format!("RSS per idle TLS connection (loaded - idle), {connections} conns"),
                loaded.saturating_sub(idle) as f64 / connections as f64,
            ),
            kib(
                format!("RSS after those {connections} TLS conns close"),
                after as f64,
            ),
        ],
        cpu: None,
    })
}

/// The subscriptions of device `n`, as a fleet's devices hold them: one
/// subtree per stream the device serves, `dev.<n>.s<m>.>` for m in
/// 1..=`subs_each` (sid m). No two devices share a subject, so each
/// connection costs the server its own trie nodes.
pub fn device_subjects(n: u64, subs_each: usize) -> String {
    (1..=subs_each)
        .map(|m| format!("SUB dev.{n}.s{m}.> {m}\r\n"))
        .collect()
}

/// Connections being set up at once by [`open_subscribed`]: enough to
/// keep the server busy without waiting on it, far below any listen
/// backlog (a full one drops SYNs, and a dropped SYN costs a second).
const OPENING: usize = 64;

/// `connections` connections (devices 0, 1, ...) with their
/// [`device_subjects`], all confirmed by `PING`/`PONG`. Each connection
/// sends `CONNECT`, its `SUB`s and a `PING` without waiting for `INFO`,
/// and its `PONG` is awaited only once [`OPENING`] more have been opened:
/// the server, not a round trip per connection, sets the pace.
pub fn open_subscribed(addr: SocketAddr, connections: u64, subs_each: usize) -> Res<Vec<Conn>> {
    let mut conns: Vec<Conn> = Vec::with_capacity(connections as usize);
    let confirm = |conn: &mut Conn| conn.read_until(|ev| ev == Event::Pong);
    for n in 0..connections {
        let mut conn = Conn::open_eager(addr, SMALL_READS)?;
        let mut subs = device_subjects(n, subs_each);
        subs += "PING\r\n";
        conn.send(subs.as_bytes())?;
        conns.push(conn);
        if let Some(at) = conns.len().checked_sub(OPENING + 1) {
            confirm(&mut conns[at])?;
        }
    }
    let unconfirmed = conns.len().saturating_sub(OPENING);
    for conn in &mut conns[unconfirmed..] {
        confirm(conn)?;
    }
    Ok(conns)
}

/// Publishes one message to each device (`dev.<n>.s1.ping`, all in one
/// write) and checks that each connection gets exactly that one: the
/// server does not merely hold the connections, it serves them all.
fn prove_served(addr: SocketAddr, conns: &mut [Conn]) -> Res<()> {
    let mut publisher = Conn::open(addr, SMALL_READS)?;
    let pubs: String = (0..conns.len())
        .map(|n| format!("PUB dev.{n}.s1.ping 0\r\n\r\n"))
        .collect();
    // After the PONG every MSG is queued ahead of any later PONG.
    publisher.send_and_sync(pubs.as_bytes())?;
    for conn in conns.iter_mut() {
        conn.send(b"PING\r\n")?;
    }
    for (n, conn) in conns.iter_mut().enumerate() {
        let mut msgs = 0;
        conn.read_until(|ev| {
            if let Event::Msg(_) = ev {
                msgs += 1;
            }
            ev == Event::Pong
        })?;
        if msgs != 1 {
            return Err(format!("device {n} got {msgs} messages, expected 1"));
        }
    }
    Ok(())
}

/// RSS once it has stopped changing (the same for 250 ms), or after 2 s.
pub fn settled_rss_kb(pid: u32) -> Res<u64> {
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
