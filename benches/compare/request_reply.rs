//! Latency: one requester, one responder, one request in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{token, Batch, Conn, Event, Res, LARGE_READS, SMALL_READS};
use crate::flow::{PAYLOAD, POLL};
use crate::proc::{on_cpu, Window};
use crate::report::{Better, Figure, Outcome};
use crate::server::RunningServer;

pub const SERVICE: &str = "bench.service";
pub const INBOX: &str = "bench.inbox";

/// `requests` round trips, one at a time, between a requester and a
/// responder on two connections; the first tenth warms up and is not
/// counted.
pub fn run_request_reply(title: &str, requests: u64, server: &RunningServer) -> Res<Outcome> {
    let mut responder = Conn::open(server.addr, LARGE_READS)?;
    responder.subscribe(&[SERVICE], None)?;
    let mut requester = Conn::open(server.addr, SMALL_READS)?;
    requester.subscribe(&[INBOX], None)?;
    let request = Batch::new(&[SERVICE], Some(INBOX), PAYLOAD, 0);
    let warmup = requests / 10;

    let stop = AtomicBool::new(false);
    let (window, timed, responded) = thread::scope(|s| {
        let responding = s.spawn(|| on_cpu(|| respond(&mut responder, &stop)));
        let window = Window::open(server);
        let timed = on_cpu(|| time_requests(&mut requester, &request.bytes, warmup, requests));
        stop.store(true, Ordering::Relaxed);
        let responded = responding
            .join()
            .unwrap_or_else(|_| Err("the responder thread panicked".into()));
        (window, timed, responded)
    });
    let (window, (mut rtts, requester_cpu)) = (window?, timed?);
    let (answered, responder_cpu) = responded?;
    let cpu = window.cpu(&[requester_cpu, responder_cpu])?;
    if answered != requests {
        return Err(format!("{answered} requests answered of {requests}"));
    }

    rtts.sort_unstable();
    let figure = |name: &str, p: f64| {
        let micros = percentile(&rtts, p).as_secs_f64() * 1e6;
        Figure::new(format!("{title} {name}"), "µs", micros, Better::Lower)
    };
    Ok(Outcome {
        figures: vec![
            figure("p50", 0.50),
            figure("p99", 0.99),
            figure("p99.9", 0.999),
        ],
        cpu,
    })
}

/// Sends `request` and waits for its reply, `total` times; returns the
/// round trips after the first `warmup`.
fn time_requests(conn: &mut Conn, request: &[u8], warmup: u64, total: u64) -> Res<Vec<Duration>> {
    let mut rtts = Vec::with_capacity(total as usize);
    for i in 0..total {
        let sent = Instant::now();
        conn.send(request)?;
        conn.read_until(|ev| matches!(ev, Event::Msg(_)))?;
        if i >= warmup {
            rtts.push(sent.elapsed());
        }
    }
    Ok(rtts)
}

/// The responder: answers each request on its reply subject until `stop`;
/// returns how many it answered. The replies to one read go out in one
/// write.
pub fn respond(conn: &mut Conn, stop: &AtomicBool) -> Res<u64> {
    conn.poll_every(POLL)?;
    let size_and_body = format!(" {PAYLOAD}\r\n{}\r\n", "y".repeat(PAYLOAD));
    let mut out = Vec::new();
    let mut answered = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut missing_reply = false;
        conn.pump(&mut |ev| {
            let Event::Msg(line) = ev else { return };
            // MSG <subject> <sid> <reply> <size>
            match token(line, 3).filter(|_| token(line, 4).is_some()) {
                Some(reply) => {
                    out.extend_from_slice(b"PUB ");
                    out.extend_from_slice(reply);
                    out.extend_from_slice(size_and_body.as_bytes());
                    answered += 1;
                }
                None => missing_reply = true,
            }
        })?;
        if missing_reply {
            return Err("a request arrived without its reply subject".into());
        }
        if !out.is_empty() {
            conn.send(&out)?;
            out.clear();
        }
    }
    Ok(answered)
}

/// The smallest sample at or above fraction `p` of the `sorted` ones.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied().unwrap_or_default()
}
