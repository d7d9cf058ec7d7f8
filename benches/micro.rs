//! Micro-benchmarks of the hot-path pieces on their own: the parser (ops/s,
//! MB/s), the sublist (matches/s for literal, `*` and `>` subjects, with
//! and without the match cache), and the server core as a whole (pipelined
//! PUBs through parse, match and delivery, without sockets).
//!
//! `cargo bench --bench micro` (add `-- --smoke` for a few milliseconds each).
//! A plain timing loop with `black_box`: each case runs for a fixed time
//! after a warm-up and reports its best of three.

use std::hint::black_box;
use std::time::{Duration, Instant};

use natsd::core::Core;
use natsd::proto::{Info, Op, Parser, Status};
use natsd::sublist::Sublist;
use natsd::Options;

struct Bench {
    run_for: Duration,
}

impl Bench {
    /// Run `round` (which does `per_round` units of work) repeatedly; the
    /// best rate of three timed runs, in units per second.
    fn rate(&self, per_round: u64, mut round: impl FnMut()) -> f64 {
        round(); // warm caches and buffers
        (0..3)
            .map(|_| {
                let start = Instant::now();
                let mut rounds = 0u64;
                while start.elapsed() < self.run_for {
                    round();
                    rounds += 1;
                }
                (rounds * per_round) as f64 / start.elapsed().as_secs_f64()
            })
            .fold(0.0, f64::max)
    }
}

fn parser_cases(bench: &Bench) {
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "PUB 16 B",
            frames(b"PUB foo.bar 16\r\n0123456789abcdef\r\n", 4096),
        ),
        (
            "HPUB 16 B + headers",
            frames(
                b"HPUB foo.bar 18 34\r\nNATS/1.0\r\nA: b\r\n\r\n0123456789abcdef\r\n",
                4096,
            ),
        ),
        ("PUB 1 KiB", {
            let mut f = b"PUB foo.bar 1024\r\n".to_vec();
            f.extend_from_slice(&[b'x'; 1024]);
            f.extend_from_slice(b"\r\n");
            frames(&f, 256)
        }),
    ];
    for (name, input) in cases {
        let ops = count_ops(&input);
        let rate = bench.rate(ops, || {
            black_box(count_ops(black_box(&input)));
        });
        let mbps = rate * (input.len() as f64 / ops as f64) / 1e6;
        println!(
            "parser    {name:<28} {:>8.2} M ops/s {mbps:>9.0} MB/s",
            rate / 1e6
        );
    }
}

fn frames(frame: &[u8], n: usize) -> Vec<u8> {
    frame.repeat(n)
}

fn count_ops(input: &[u8]) -> u64 {
    let mut parser = Parser::new(4096, 1024 * 1024);
    parser.headers = true;
    let mut pos = 0;
    let mut ops = 0;
    while let Ok(Status::Complete((n, op))) = parser.parse(&input[pos..]) {
        if let Op::Pub(p) = op {
            black_box(p.subject);
        }
        pos += n;
        ops += 1;
    }
    ops
}

fn sublist_cases(bench: &Bench) {
    for cache in [true, false] {
        let mut sl = Sublist::with_cache(cache);
        // 10,000 subscriptions: literal, one `*` and one `>` branch per service.
        let mut value = 0usize;
        for svc in 0..1000 {
            for op in 0..8 {
                sl.insert(format!("svc.{svc}.op.{op}").as_bytes(), None, value);
                value += 1;
            }
            sl.insert(format!("svc.{svc}.*.1").as_bytes(), None, value);
            sl.insert(
                format!("svc.{svc}.>").as_bytes(),
                Some(&b"workers"[..]),
                value + 1,
            );
            value += 2;
        }
        let subjects: Vec<Vec<u8>> = (0..64)
            .map(|i| format!("svc.{}.op.{}", i * 15 % 1000, i % 8).into_bytes())
            .collect();
        let label = if cache { "cache on" } else { "cache off" };
        for (name, pick) in [("hit: literal+*+>", 0usize), ("miss", 1)] {
            let targets: Vec<Vec<u8>> = if pick == 0 {
                subjects.clone()
            } else {
                (0..64).map(|i| format!("none.{i}").into_bytes()).collect()
            };
            let rate = bench.rate(targets.len() as u64, || {
                for s in &targets {
                    black_box(sl.match_subject(black_box(s)).psubs().len());
                }
            });
            println!(
                "sublist   {name:<17} {label:<10} {:>8.2} M matches/s",
                rate / 1e6
            );
        }
    }
}

/// PUBs of 16 bytes fed to the core as 64 KiB reads, as a pipelining
/// publisher's socket delivers them, to no subscriber and to one whose
/// output is drained after every read.
fn core_cases(bench: &Bench) {
    let frame = b"PUB foo.bar 16\r\n0123456789abcdef\r\n";
    let reads: Vec<Vec<u8>> = frame
        .repeat(64 * 1024 / frame.len())
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    let per_round = (reads.iter().map(Vec::len).sum::<usize>() / frame.len()) as u64;
    for subscribers in [0, 1] {
        let info = Info::server(
            "NBENCH".into(),
            "bench".into(),
            "2.15.1",
            "127.0.0.1",
            4222,
            false,
            1 << 20,
        );
        let mut core = Core::new(
            Options::ephemeral(),
            info,
            7,
            natsd::core::stats::WallClock::new(
                std::time::Instant::now(),
                std::time::SystemTime::now(),
            ),
        );
        let now = Instant::now();
        let addr = "127.0.0.1:1".parse().expect("address");
        let mut sink = Vec::new();
        let mut connect = |core: &mut Core, hello: &[u8]| {
            let key = core.accept(addr, now);
            core.receive(key, &mut &hello[..], now).expect("CONNECT");
            core.flush(key, &mut sink, now);
            key
        };
        let publisher = connect(
            &mut core,
            b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n",
        );
        let subscriber = (subscribers > 0).then(|| {
            connect(
                &mut core,
                b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo.bar 1\r\n",
            )
        });
        let rate = bench.rate(per_round, || {
            for read in &reads {
                // Each call reads at most the connection's buffer.
                let mut socket = &read[..];
                while !socket.is_empty() {
                    core.receive(publisher, &mut socket, now).expect("PUBs");
                }
                if let Some(key) = subscriber {
                    sink.clear();
                    core.flush(key, &mut sink, now);
                }
            }
        });
        println!(
            "core      {:<28} {:>8.2} M msgs/s",
            format!("PUB 16 B, {subscribers} subscriber(s)"),
            rate / 1e6
        );
    }
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let bench = Bench {
        run_for: Duration::from_millis(if smoke { 5 } else { 400 }),
    };
    let only = std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_owned));
    let wanted = |group: &str| only.as_deref().is_none_or(|o| o == group);
    if wanted("parser") {
        parser_cases(&bench);
    }
    if wanted("sublist") {
        sublist_cases(&bench);
    }
    if wanted("core") {
        core_cases(&bench);
    }
}
