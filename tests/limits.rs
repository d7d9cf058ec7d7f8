//! Limits and bad input: the right -ERR, the connection closed or kept as
//! nats-server does, and everyone else still served.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{server, server_with, Raw, PATIENCE};

#[test]
fn payload_over_max_payload_is_refused_on_the_control_line() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    c.send(b"PUB foo 1048577\r\n");
    c.expect_err_and_close("Maximum Payload Violation");

    let srv = server_with(|o| o.max_payload = 8);
    let mut c = Raw::quiet(&srv);
    assert_eq!(c.info["max_payload"], 8);
    c.send(b"SUB foo 1\r\nPUB foo 8\r\n12345678\r\n");
    c.expect(b"MSG foo 1 8\r\n12345678\r\n");
    c.send(b"HPUB foo 0 9\r\n");
    c.expect_closed(); // headers were not asked for: closed before the size
    let mut c = Raw::quiet(&srv);
    c.send(b"PUB foo 9\r\n");
    c.expect_err_and_close("Maximum Payload Violation");
}

#[test]
fn control_line_over_the_limit_is_refused() {
    let srv = server();
    let mut c = Raw::quiet(&srv);
    let long = "a".repeat(4100);
    c.send(format!("SUB {long} 1\r\n").as_bytes());
    c.expect_err_and_close("maximum control line exceeded");
    // Also before the newline arrives: the server does not buffer forever.
    let mut c = Raw::quiet(&srv);
    c.send(format!("PUB {long}").as_bytes());
    c.expect_err_and_close("maximum control line exceeded");
    // The limit counts the arguments, not the operation name.
    let mut c = Raw::quiet(&srv);
    let fits = "b".repeat(4096 - 2);
    c.send(format!("SUB {fits} 1\r\n").as_bytes());
    c.expect_nothing_more();
}

#[test]
fn too_many_connections_get_info_then_an_error() {
    let srv = server_with(|o| o.max_connections = 1);
    let mut first = Raw::quiet(&srv);
    let mut second = Raw::connect(&srv);
    second.expect_err_and_close("maximum connections exceeded");
    first.expect_nothing_more();
    drop(first);
    // The slot is free again once the first has gone.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut third = Raw::connect(&srv);
        third.send(b"PING\r\n");
        if third.read_line() == "PONG" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
    }
}

#[test]
fn too_many_subscriptions_are_refused_but_the_connection_stays() {
    let srv = server_with(|o| o.max_subscriptions = 1);
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB a 1\r\nSUB b 2\r\n");
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n");
    c.send(b"PUB a 0\r\n\r\nPUB b 0\r\n\r\n");
    c.expect(b"MSG a 1 0\r\n\r\n");
    c.expect_nothing_more();
}

#[test]
fn unanswered_pings_make_a_stale_connection() {
    let srv = server_with(|o| o.ping_interval = Duration::from_millis(30));
    let mut c = Raw::quiet(&srv);
    c.expect(b"PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    c.expect_closed();
}

#[test]
fn answered_pings_keep_a_connection() {
    let srv = server_with(|o| o.ping_interval = Duration::from_millis(20));
    let mut c = Raw::quiet(&srv);
    for _ in 0..5 {
        c.expect(b"PING\r\n");
        c.send(b"PONG\r\n");
    }
    // Still open: our PING is answered (among the server's own PINGs).
    c.send(b"PING\r\n");
    loop {
        match c.read_line().as_str() {
            "PONG" => break,
            "PING" => c.send(b"PONG\r\n"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_subscriber_that_does_not_read_is_cut_off_as_a_slow_consumer() {
    let srv = server_with(|o| {
        o.max_payload = 8 * 1024;
        o.max_pending = 256 * 1024;
    });
    let mut slow = Raw::quiet(&srv);
    slow.send(b"SUB flood 1\r\nPING\r\n");
    slow.expect(b"PONG\r\n");
    let mut publ = Raw::quiet(&srv);
    let payload = vec![b'x'; 8 * 1024];
    let mut frame = b"PUB flood 8192\r\n".to_vec();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    // Far more than loopback socket buffers plus max_pending can hold.
    let total = 48 * 1024 * 1024;
    for _ in 0..total / frame.len() {
        publ.send(&frame);
    }
    publ.expect_nothing_more();
    // The slow subscriber now reads: it gets less than was sent, then EOF.
    let received = slow.drain_until_closed();
    assert!(received < total, "received {received} of {total}");
    // And the publisher is still served.
    publ.send(b"SUB ok 1\r\nPUB ok 0\r\n\r\n");
    publ.expect(b"MSG ok 1 0\r\n\r\n");
}

#[test]
fn garbage_bytes_get_an_error_and_a_close() {
    let srv = server();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20 {
        let mut c = Raw::quiet(&srv);
        let garbage: Vec<u8> = (0..64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Never a byte that could start an operation.
                match (seed >> 24) as u8 {
                    b if b"PpHhSsUuCcIi+-".contains(&b) => b'#',
                    b => b,
                }
            })
            .collect();
        c.send(&garbage);
        c.send(b"\r\n");
        c.expect_err_and_close("Unknown Protocol Operation");
    }
    let mut c = Raw::quiet(&srv);
    c.expect_nothing_more();
}

#[test]
fn server_survives_a_peer_that_vanishes_mid_message() {
    let srv = server();
    {
        let mut c = Raw::quiet(&srv);
        c.send(b"PUB foo 100\r\nonly part of it");
    }
    let mut sock = std::net::TcpStream::connect(srv.addr()).unwrap();
    let mut buf = [0u8; 4];
    sock.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"INFO");
}
