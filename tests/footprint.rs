//! What connections cost in memory, measured deterministically: the core is
//! driven without sockets and a counting allocator says how many heap bytes
//! are live. RSS (the benchmark's figure) adds the allocator's own overhead
//! and page rounding; this test holds the part natsd controls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use natsd::core::stats::WallClock;
use natsd::core::{Core, TableSizes};
use natsd::proto::Info;
use natsd::Options;

/// The system allocator, counting live bytes and blocks. Each test runs on
/// its own thread but they share the counters, so the tests that read them
/// take `MEASURING` first.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: every call is passed on to `System` unchanged; the counters are
// only added to and subtracted from.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live heap: bytes asked for, plus what glibc adds to each block (a
/// 16-byte minimum granule with an 8-byte header: about 8 bytes each on
/// average), so the figure tracks RSS rather than flattering small blocks.
fn live_heap() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed) + 8 * LIVE_BLOCKS.load(Ordering::Relaxed)
}

fn core() -> Core {
    let opts = Options::ephemeral();
    let info = Info::server(
        "NTEST".into(),
        "test".into(),
        natsd::NATS_SERVER_VERSION,
        "127.0.0.1",
        4222,
        false,
        opts.max_payload,
    );
    Core::new(
        opts,
        info,
        7,
        WallClock::new(Instant::now(), SystemTime::now()),
    )
}

/// A device: CONNECT, ten subscriptions under its own `dev.<n>.` prefix, PING.
fn device_hello(n: usize) -> Vec<u8> {
    let mut hello = b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n".to_vec();
    for m in 1..=10 {
        hello.extend_from_slice(format!("SUB dev.{n}.s{m}.> {m}\r\n").as_bytes());
    }
    hello.extend_from_slice(b"PING\r\n");
    hello
}

/// Connects `count` devices, flushing what each is sent as the reactor would.
fn connect_devices(core: &mut Core, first: usize, count: usize, now: Instant) -> Vec<usize> {
    let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut keys = Vec::with_capacity(count);
    let mut sink = Vec::new();
    for n in first..first + count {
        let key = core.accept(addr, now);
        let hello = device_hello(n);
        let mut rest = &hello[..];
        while !rest.is_empty() {
            core.receive(key, &mut rest, now).expect("read");
        }
        sink.clear();
        core.flush(key, &mut sink, now);
        assert!(
            sink.windows(6).any(|w| w == b"PONG\r\n"),
            "device {n} got its PONG: {:?}",
            String::from_utf8_lossy(&sink)
        );
        keys.push(key);
    }
    keys
}

/// Each device hangs up; the core reaps them as the reactor does.
fn disconnect(core: &mut Core, keys: &[usize], now: Instant) {
    for &key in keys {
        let _ = core.receive(key, &mut &b""[..], now);
    }
    let mut dirty = Vec::new();
    core.take_dirty(&mut dirty);
    while let Some((key, _)) = core.next_closing() {
        core.remove(key, now);
    }
    core.compact_if_many_removed();
}

/// What a device with ten subscriptions costs in heap, less the slabs'
/// untouched room to grow (which RSS does not count either).
#[test]
fn a_device_with_ten_subscriptions_costs_little_heap() {
    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let mut core = core();
    // Warm up: the first connections size the shared tables.
    let warm = connect_devices(&mut core, 0, 100, now);
    let before = live_heap() - core.table_sizes().spare_bytes;
    let devices = 2_000;
    let keys = connect_devices(&mut core, 100, devices, now);
    let after = live_heap() - core.table_sizes().spare_bytes;
    let per_device = (after - before) / devices;
    eprintln!("heap per device with 10 subscriptions: {per_device} B");
    // About 2.3 KiB of RSS: the connection (570 B), ten subscriptions
    // (640 B), eleven trie nodes and a child table (830 B: the `<n>` and
    // each `s<m>`, whose `>` subscription it holds), the sid list, a
    // deadline and the `dev` level's entry; here with the growth room of
    // those tables, and 8 bytes a block for the allocator.
    assert!(per_device <= 2_816, "{per_device} B per device");
    disconnect(&mut core, &keys, now);
    disconnect(&mut core, &warm, now);
    core.audit().unwrap();
}

/// Devices that come and go all day: what the core holds depends on the
/// devices connected, not on how many have come and gone.
#[test]
fn churn_leaves_nothing_behind() {
    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut now = Instant::now();
    let start = live_heap();
    let mut core = core();
    eprintln!("core alone: {} B", live_heap() - start);
    let stay = connect_devices(&mut core, 0, 10, now);
    let round = |core: &mut Core, now: Instant| {
        let keys = connect_devices(core, 1_000, 500, now);
        disconnect(core, &keys, now);
    };
    round(&mut core, now);
    let settled = live_heap();
    let tables = core.table_sizes();
    for _ in 0..40 {
        now += Duration::from_millis(50);
        round(&mut core, now);
    }
    let after = live_heap();
    eprintln!("after one round {settled} B, after 40 more {after} B; tables {tables:?}");
    let grown = core.table_sizes();
    // Stale deadlines are purged once they outnumber the live ones.
    assert!(grown.timers <= 4 * 10 + 64, "{grown:?}");
    assert_eq!(
        TableSizes {
            timers: tables.timers,
            ..grown
        },
        tables,
        "the core's tables follow the connections open, not those gone"
    );
    assert!(
        after <= settled + 16 * 1024,
        "heap grew from {settled} to {after} B over 20,000 connections come and gone"
    );
    disconnect(&mut core, &stay, now);
    let idle = live_heap() - start;
    eprintln!("all gone: {idle} B");
    assert!(idle <= 64 * 1024, "{idle} B held with no connections");
}
