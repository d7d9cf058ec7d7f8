//! Lame duck mode, driven through the embedding API with short timings
//! (the binary's SIGUSR2 path is in tests/cli.rs).

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{server_with, Raw};

#[test]
fn lame_duck_tells_async_info_clients_then_closes_everyone() {
    let srv = server_with(|o| {
        o.lame_duck_duration = Duration::from_millis(400);
        o.lame_duck_grace_period = Duration::from_millis(150);
    });
    // A protocol-1 client past its first PONG takes asynchronous INFO.
    let mut informed = Raw::connect_with(&srv, r#"{"verbose":false,"protocol":1}"#);
    assert!(informed.read_line().contains(r#""connect_info":true"#));
    // A protocol-0 client does not.
    let mut plain = Raw::quiet(&srv);

    let started = Instant::now();
    srv.handle().unwrap().enter_lame_duck();
    let ldm = informed.read_line();
    let info: serde_json::Value =
        serde_json::from_str(ldm.strip_prefix("INFO ").unwrap().trim_end()).unwrap();
    assert_eq!(info["ldm"], true, "{ldm}");
    assert!(info["client_id"].as_u64().is_some());

    plain.expect_closed();
    informed.expect_closed();
    // Nobody is closed before the grace period is over.
    assert!(started.elapsed() >= Duration::from_millis(150));
    // The listener closed at once: new clients go elsewhere.
    assert!(TcpStream::connect(srv.addr()).is_err());
}
