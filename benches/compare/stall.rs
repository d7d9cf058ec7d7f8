//! A stalled subscriber among healthy ones. A device on a bad link stops
//! reading; the server must buffer for it (up to `max_pending`) or cut it
//! off, but the other subscribers to the same subject must not wait for
//! it. The figures are the healthy subscribers' p99 latency without and
//! with one stalled subscriber beside them, and their quotient: the
//! project holds natsd to at most 2.

use std::thread;
use std::time::Instant;

use crate::client::{Batch, Conn, Event, Res, LARGE_READS, SMALL_READS};
use crate::flow::join_all;
use crate::pacer::{receive, Pacer};
use crate::proc::{on_cpu, Window};
use crate::report::{Better, CpuUse, Figure, Outcome};
use crate::request_reply::percentile;
use crate::server::RunningServer;
use crate::sys::set_receive_buffer;

/// The payload: when the message was sent, in nanoseconds since the run's
/// epoch, as this many hex digits (16 bytes, as everywhere else).
const STAMP: usize = 16;

/// The stalled subscriber's `SO_RCVBUF`: its window fills in a moment.
const STALLED_RCVBUF: usize = 4 * 1024;

/// What the stalled subscriber is sent before the stretch, on a subject of
/// its own, beyond what the kernel can hold: see [`fill_stalled`].
const FILL_BEYOND_KERNEL: usize = 4 << 20;
const FILL_SUBJECT: &str = "bench.stall.fill";

/// `subscribers` on one subject, `rate` messages per second for `secs`,
/// twice on the same server: all of them reading, then one of them
/// replaced by a subscriber that never reads (and that is already so far
/// behind when the stretch starts that the server, not the kernel, holds
/// its backlog: see [`fill_stalled`]). Latency is the time from
/// the publisher's write to a subscriber's read of each message. The CPU
/// figures are those of the second run.
pub fn run_stall(
    title: &str,
    subscribers: usize,
    rate: u64,
    secs: f64,
    server: &RunningServer,
) -> Res<Outcome> {
    let total = (rate as f64 * secs).round() as u64;
    let run = |subject, stalled| {
        Stretch {
            subject,
            healthy: subscribers - usize::from(stalled),
            stalled,
            rate,
            total,
        }
        .p99_micros(server)
    };
    let (healthy, _) = run("bench.stall.a", false)?;
    let (with_stalled, cpu) = run("bench.stall.b", true)?;
    let micros = |label: String, v: f64| Figure::new(label, "µs", v, Better::Lower);
    Ok(Outcome {
        figures: vec![
            micros(format!("{title}, p99, {subscribers} healthy"), healthy),
            micros(
                format!("{title}, p99, {} healthy + 1 stalled", subscribers - 1),
                with_stalled,
            ),
            Figure::new(
                format!("{title}, stalled/healthy p99"),
                "×",
                with_stalled / healthy,
                Better::Lower,
            ),
        ],
        cpu,
    })
}

/// One paced fan-out.
struct Stretch {
    subject: &'static str,
    healthy: usize,
    stalled: bool,
    rate: u64,
    total: u64,
}

impl Stretch {
    /// Runs it; returns the p99 of every delivery to a healthy subscriber,
    /// in µs, and the CPU use over the stretch.
    fn p99_micros(&self, server: &RunningServer) -> Res<(f64, Option<CpuUse>)> {
        let mut subs = (0..self.healthy)
            .map(|_| {
                let mut conn = Conn::open(server.addr, LARGE_READS)?;
                conn.subscribe(&[self.subject], None)?;
                conn.report_payloads();
                Ok(conn)
            })
            .collect::<Res<Vec<_>>>()?;
        let mut publisher = Conn::open(server.addr, SMALL_READS)?;
        // Subscribed, then never read again until it is dropped below.
        let _stalled = match self.stalled {
            true => {
                let mut conn = Conn::open(server.addr, SMALL_READS)?;
                set_receive_buffer(conn.socket(), STALLED_RCVBUF)?;
                conn.subscribe(&[self.subject, FILL_SUBJECT], None)?;
                fill_stalled(&mut publisher)?;
                Some(conn)
            }
            false => None,
        };

        let epoch = Instant::now();
        let window = Window::open(server)?;
        let (timed, sent) = thread::scope(|s| {
            let timing: Vec<_> = subs
                .iter_mut()
                .map(|conn| s.spawn(move || on_cpu(|| time_deliveries(conn, epoch, self.total))))
                .collect();
            let sending = s.spawn(|| on_cpu(|| self.publish(&mut publisher, epoch)));
            let sent = join_all(vec![sending], "publisher");
            (join_all(timing, "subscriber"), sent)
        });
        let (timed, mut thread_cpu): (Vec<Vec<u64>>, Vec<f64>) = timed?.into_iter().unzip();
        thread_cpu.extend(sent?.into_iter().map(|((), cpu)| cpu));
        let cpu = window.cpu(&thread_cpu)?;

        let mut latencies: Vec<u64> = timed.concat();
        latencies.sort_unstable();
        Ok((percentile(&latencies, 0.99) as f64 / 1e3, cpu))
    }

    /// The publisher: each tick, the messages then due in one write, all
    /// stamped with the time of that write.
    fn publish(&self, conn: &mut Conn, epoch: Instant) -> Res<()> {
        let head = format!("PUB {} {STAMP}\r\n", self.subject);
        let mut out = Vec::new();
        let mut pacer = Pacer::start(self.rate, self.total);
        while let Some(due) = pacer.next_batch() {
            out.clear();
            let stamp = format!("{:016x}", epoch.elapsed().as_nanos() as u64);
            for _ in 0..due {
                out.extend_from_slice(head.as_bytes());
                out.extend_from_slice(stamp.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            conn.send(&out)?;
        }
        conn.send_and_sync(b"")?;
        Ok(())
    }
}

/// Publishes to the stalled subscriber alone more than the kernel can
/// buffer between the server and it (the server's send buffer grows to
/// `tcp_wmem`'s maximum, 4 MiB by default, whatever the receiver's
/// window), so that the server itself holds pending bytes for it from the
/// first message of the stretch on, not only after seconds. Well below
/// `max_pending` (64 MiB in both servers): the subscriber is stalled, not
/// yet a slow consumer to cut off.
fn fill_stalled(publisher: &mut Conn) -> Res<()> {
    let kernel_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|v| v.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    let fill = (kernel_max + FILL_BEYOND_KERNEL).min(32 << 20);
    let chunk = Batch::new(&[FILL_SUBJECT], None, 64 * 1024, 0);
    let times = fill.div_ceil(chunk.bytes.len()) as u64;
    publisher.publish(&chunk, times)
}

/// A healthy subscriber: every message's latency in ns, all `expected` of
/// them (a lost one fails the run).
fn time_deliveries(conn: &mut Conn, epoch: Instant, expected: u64) -> Res<Vec<u64>> {
    let mut latencies = Vec::with_capacity(expected as usize);
    let mut garbled = None;
    receive(conn, expected, |ev| {
        let Event::Payload(stamp) = ev else { return };
        let now = epoch.elapsed().as_nanos() as u64;
        match parse_stamp(stamp) {
            Some(sent) => latencies.push(now.saturating_sub(sent)),
            None => garbled = Some(String::from_utf8_lossy(stamp).into_owned()),
        }
    })?;
    match garbled {
        Some(stamp) => Err(format!("a payload is not a timestamp: {stamp:?}")),
        None => Ok(latencies),
    }
}

fn parse_stamp(stamp: &[u8]) -> Option<u64> {
    if stamp.len() != STAMP {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(stamp).ok()?, 16).ok()
}
