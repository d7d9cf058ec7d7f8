//! Micro-benchmarks of the hot-path pieces on their own: the parser (ops/s,
//! MB/s) and the sublist (matches/s for literal, `*` and `>` subjects, with
//! and without the match cache).
//!
//! `cargo bench --bench micro` (add `-- --smoke` for a few milliseconds each).
//! A plain timing loop with `black_box`: each case runs for a fixed time
//! after a warm-up and reports its best of three.

use std::hint::black_box;
use std::time::{Duration, Instant};

use natsd::proto::{Op, Parser, Status};
use natsd::sublist::Sublist;

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

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let bench = Bench {
        run_for: Duration::from_millis(if smoke { 5 } else { 400 }),
    };
    parser_cases(&bench);
    sublist_cases(&bench);
}
