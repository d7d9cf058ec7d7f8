//! Server CPU at a fixed, modest rate. An edge server spends most of its
//! life far below its peak, where what it costs is not throughput but the
//! share of a small CPU it takes (and the battery or the neighbours'
//! cycles with it): these scenarios send at a set pace and measure the
//! server's CPU time over the stretch.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::client::{Batch, Conn, Context, Res, LARGE_READS, SMALL_READS};
use crate::flow::{join_all, PAYLOAD};
use crate::pacer::{receive, send_paced};
use crate::proc::{on_cpu, Window};
use crate::report::{Better, Figure, Outcome};
use crate::request_reply::{respond, INBOX, SERVICE};
use crate::server::RunningServer;

const SUBJECT: &str = "bench.paced";

/// One publisher at `rate` messages per second, 16-byte payloads.
pub struct Paced {
    pub rate: u64,
    shape: Shape,
}

enum Shape {
    /// Every subscriber gets every message.
    PubSub { subscribers: usize },
    /// The publisher is a requester and one responder answers each
    /// request; the replies are counted, not awaited one at a time.
    RequestReply,
}

/// Publishing at `rate` to `subscribers`.
pub fn paced_pubsub(subscribers: usize, rate: u64) -> Paced {
    Paced {
        rate,
        shape: Shape::PubSub { subscribers },
    }
}

/// Requests at `rate` to one responder.
pub fn paced_request_reply(rate: u64) -> Paced {
    Paced {
        rate,
        shape: Shape::RequestReply,
    }
}

/// `secs` of `paced`; figures: the server's CPU as a share of one core and
/// per message (per request) published.
pub fn run_paced(title: &str, paced: &Paced, secs: f64, server: &RunningServer) -> Res<Outcome> {
    let total = (paced.rate as f64 * secs).round() as u64;
    let (window, thread_cpu) = match paced.shape {
        Shape::PubSub { subscribers } => pubsub(subscribers, paced.rate, total, server)?,
        Shape::RequestReply => request_reply(paced.rate, total, server)?,
    };
    let wall = window.start.elapsed().as_secs_f64();
    let server_cpu = window.server_cpu()?;
    let per = match paced.shape {
        Shape::PubSub { .. } => "message",
        Shape::RequestReply => "request",
    };
    Ok(Outcome {
        figures: vec![
            Figure::new(
                format!("{title}, server cpu"),
                "% of a core",
                server_cpu / wall * 100.0,
                Better::Lower,
            ),
            Figure::new(
                format!("{title}, server cpu per {per}"),
                "µs",
                server_cpu * 1e6 / total as f64,
                Better::Lower,
            ),
        ],
        cpu: window.cpu(&thread_cpu)?,
    })
}

/// The paced stretch of a pub/sub run: from just before the publisher
/// starts until every subscriber has every message. Returns the window
/// opened at its start and each client thread's CPU time.
fn pubsub(
    subscribers: usize,
    rate: u64,
    total: u64,
    server: &RunningServer,
) -> Res<(Window, Vec<f64>)> {
    let mut subs = (0..subscribers)
        .map(|_| {
            let mut conn = Conn::open(server.addr, LARGE_READS)?;
            conn.subscribe(&[SUBJECT], None)?;
            Ok(conn)
        })
        .collect::<Res<Vec<_>>>()?;
    let mut publisher = Conn::open(server.addr, SMALL_READS)?;
    let frame = Batch::new(&[SUBJECT], None, PAYLOAD, 0).bytes;

    let window = Window::open(server)?;
    let (received, sent) = thread::scope(|s| {
        let counting: Vec<_> = subs
            .iter_mut()
            .map(|conn| s.spawn(move || on_cpu(|| receive(conn, total, |_| {}))))
            .collect();
        let sending = s.spawn(|| {
            on_cpu(|| {
                send_paced(&frame, rate, total, |bytes| publisher.send(bytes))?;
                publisher.send_and_sync(b"")?;
                Ok(())
            })
        });
        let sent = join_all(vec![sending], "publisher");
        (join_all(counting, "subscriber"), sent)
    });
    let (_, mut thread_cpu): (Vec<()>, Vec<f64>) = received?.into_iter().unzip();
    thread_cpu.extend(sent?.into_iter().map(|(_, cpu)| cpu));
    Ok((window, thread_cpu))
}

/// The paced stretch of a request/reply run: the requester writes the
/// requests at the pace from one thread while another counts the replies
/// on the same connection.
fn request_reply(rate: u64, total: u64, server: &RunningServer) -> Res<(Window, Vec<f64>)> {
    let mut responder = Conn::open(server.addr, LARGE_READS)?;
    responder.subscribe(&[SERVICE], None)?;
    let mut requester = Conn::open(server.addr, LARGE_READS)?;
    requester.subscribe(&[INBOX], None)?;
    let mut writer = requester.writer()?;
    let frame = Batch::new(&[SERVICE], Some(INBOX), PAYLOAD, 0).bytes;

    let stop = AtomicBool::new(false);
    let window = Window::open(server)?;
    let (answered, replied, sent) = thread::scope(|s| {
        let responding = s.spawn(|| on_cpu(|| respond(&mut responder, &stop)));
        let sending = s.spawn(|| {
            on_cpu(|| {
                send_paced(&frame, rate, total, |bytes| {
                    writer.write_all(bytes).context("write")
                })
            })
        });
        let replied = on_cpu(|| receive(&mut requester, total, |_| {}));
        let sent = join_all(vec![sending], "requester");
        stop.store(true, Ordering::Relaxed);
        let answered = join_all(vec![responding], "responder");
        (answered, replied, sent)
    });
    let ((), replies_cpu) = replied?;
    let (_, requests_cpu) = sent?.remove(0);
    let (answered, responder_cpu) = answered?.remove(0);
    if answered != total {
        return Err(format!("{answered} requests answered of {total}"));
    }
    Ok((window, vec![replies_cpu, requests_cpu, responder_cpu]))
}
