//! The route rules, driven in memory: a core with two route peers and a
//! client, the bytes each peer is sent checked against nats-server's.

use std::time::Instant;

use crate::core::stats::WallClock;
use crate::core::Core;
use crate::options::{ClusterOptions, Options};
use crate::proto::Info;

const CLUSTER: &str = "fz";

fn core(cluster: ClusterOptions) -> (Core, Instant) {
    let mut opts = Options::ephemeral();
    opts.cluster = Some(cluster);
    core_with(opts)
}

fn core_with(opts: Options) -> (Core, Instant) {
    let info = Info::server(
        "NSELF".into(),
        "self".into(),
        "2.15.1",
        "127.0.0.1",
        4222,
        false,
        1 << 20,
    );
    let t0 = Instant::now();
    let core = Core::new(
        opts,
        info,
        7,
        WallClock::new(t0, std::time::SystemTime::now()),
    );
    (core, t0)
}

fn named() -> ClusterOptions {
    ClusterOptions {
        name: Some(CLUSTER.into()),
        ..ClusterOptions::default()
    }
}

fn send(core: &mut Core, key: usize, bytes: &[u8], now: Instant) {
    let mut input = bytes;
    while !input.is_empty() {
        core.receive(key, &mut input, now).unwrap();
    }
}

/// What connection `key` was sent since the last look (its last words
/// when it is closing).
fn take(core: &mut Core, key: usize, now: Instant) -> String {
    let mut out = Vec::new();
    if core.close_reason(key).is_some() {
        core.flush_last_words(key, &mut out);
    } else {
        core.flush(key, &mut out, now);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An accepted route from server `id`, past its handshake; what it was
/// sent up to then is dropped.
fn route(core: &mut Core, id: &str, port: u16, now: Instant) -> usize {
    let key = core.accept_route(format!("127.0.0.1:{port}").parse().unwrap(), now);
    let hello = format!(
        "CONNECT {{\"echo\":true,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"{CLUSTER}\"}}\r\n\
         INFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"cluster\":\"{CLUSTER}\",\"headers\":true,\"port\":{port}}}\r\n"
    );
    send(core, key, hello.as_bytes(), now);
    take(core, key, now);
    key
}

fn client(core: &mut Core, now: Instant) -> usize {
    let key = core.accept("127.0.0.1:9000".parse().unwrap(), now);
    send(
        core,
        key,
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
        now,
    );
    take(core, key, now);
    key
}

#[test]
fn interest_is_told_on_the_first_and_last_subscriber_and_queue_weights_always() {
    let (mut core, t0) = core(named());
    let a = route(&mut core, "NA", 7001, t0);
    let c = client(&mut core, t0);
    send(
        &mut core,
        c,
        b"SUB foo 1\r\nSUB foo 2\r\nSUB bar q 3\r\nSUB bar q 4\r\n",
        t0,
    );
    assert_eq!(
        take(&mut core, a, t0),
        "RS+ $G foo\r\nRS+ $G bar q 1\r\nRS+ $G bar q 2\r\n"
    );
    send(
        &mut core,
        c,
        b"UNSUB 1\r\nUNSUB 3\r\nUNSUB 2\r\nUNSUB 4\r\n",
        t0,
    );
    assert_eq!(
        take(&mut core, a, t0),
        "RS+ $G bar q 1\r\nRS- $G foo\r\nRS- $G bar q\r\n"
    );
    core.audit().unwrap();
}

#[test]
fn a_new_route_hears_the_whole_interest_and_nothing_of_other_routes() {
    let (mut core, t0) = core(named());
    let a = route(&mut core, "NA", 7001, t0);
    send(&mut core, a, b"RS+ $G from.a\r\n", t0);
    let c = client(&mut core, t0);
    send(&mut core, c, b"SUB local 1\r\n", t0);
    take(&mut core, a, t0);
    let key = core.accept_route("127.0.0.1:7002".parse().unwrap(), t0);
    take(&mut core, key, t0);
    let hello = format!(
        "CONNECT {{\"name\":\"NB\",\"cluster\":\"{CLUSTER}\"}}\r\n\
         INFO {{\"server_id\":\"NB\",\"server_name\":\"NB\",\"cluster\":\"{CLUSTER}\",\"port\":7002}}\r\n"
    );
    send(&mut core, key, hello.as_bytes(), t0);
    let told = take(&mut core, key, t0);
    assert!(told.contains("RS+ $G local\r\n"), "{told}");
    assert!(!told.contains("from.a"), "one hop: {told}");
    // Route A hears of B (gossip), with B's address.
    let gossip = take(&mut core, a, t0);
    assert!(gossip.starts_with("INFO "), "{gossip}");
    assert!(gossip.contains("\"server_id\":\"NB\""), "{gossip}");
    core.audit().unwrap();
}

#[test]
fn messages_cross_one_hop_only() {
    let (mut core, t0) = core(named());
    let a = route(&mut core, "NA", 7001, t0);
    let b = route(&mut core, "NB", 7002, t0);
    send(&mut core, b, b"RS+ $G foo\r\n", t0);
    let c = client(&mut core, t0);
    send(&mut core, c, b"SUB foo 1\r\n", t0);
    take(&mut core, a, t0);
    take(&mut core, b, t0);
    // From A: to the client, not on to B.
    send(&mut core, a, b"RMSG $G foo reply 2\r\nhi\r\n", t0);
    assert_eq!(take(&mut core, c, t0), "MSG foo 1 reply 2\r\nhi\r\n");
    assert_eq!(take(&mut core, b, t0), "");
    // From the client: to B (which asked), not to A (which did not).
    send(
        &mut core,
        c,
        b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        t0,
    );
    assert_eq!(
        take(&mut core, b, t0),
        "HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    assert_eq!(take(&mut core, a, t0), "");
}

#[test]
fn queue_groups_pick_among_the_clusters_members_by_weight() {
    let (mut core, t0) = core(named());
    let a = route(&mut core, "NA", 7001, t0);
    send(&mut core, a, b"RS+ $G work q 1\r\n", t0);
    let c = client(&mut core, t0);
    // Only a remote member: the route gets it, naming the group.
    send(&mut core, c, b"PUB work 1\r\nx\r\n", t0);
    assert_eq!(take(&mut core, a, t0), "RMSG $G work | q 1\r\nx\r\n");
    // A local member and three behind the route: as nats-server, each
    // message goes to one of them, the route's three weighing three.
    send(&mut core, c, b"SUB work q 9\r\n", t0);
    send(&mut core, a, b"RS+ $G work q 3\r\n", t0);
    take(&mut core, a, t0);
    for _ in 0..400 {
        send(&mut core, c, b"PUB work 1\r\nx\r\n", t0);
    }
    let remote = take(&mut core, a, t0).matches("RMSG").count();
    let local = take(&mut core, c, t0).matches("MSG work 9").count();
    assert_eq!(remote + local, 400);
    assert!(
        (240..=360).contains(&remote),
        "{remote} of 400 to the route"
    );
    // A routed message goes to the groups it names only, and to a member
    // here.
    send(&mut core, a, b"RMSG $G work 1\r\ny\r\n", t0);
    assert_eq!(take(&mut core, c, t0), "");
    send(&mut core, a, b"RMSG $G work | q 1\r\nz\r\n", t0);
    assert_eq!(take(&mut core, c, t0), "MSG work 9 1\r\nz\r\n");
    assert_eq!(take(&mut core, a, t0), "");
}

#[test]
fn a_route_gone_takes_its_interest_with_it() {
    let (mut core, t0) = core(named());
    let a = route(&mut core, "NA", 7001, t0);
    send(&mut core, a, b"RS+ $G foo\r\nRS+ $G bar q 3\r\n", t0);
    assert_eq!(core.num_subscriptions(), 2);
    core.close_all();
    while let Some((key, _)) = core.next_closing() {
        core.remove(key, t0);
    }
    assert_eq!(core.num_subscriptions(), 0);
    core.audit().unwrap();
}

#[test]
fn the_handshake_refuses_as_nats_server_does() {
    let (mut core, t0) = core(ClusterOptions {
        username: Some("ruser".into()),
        password: Some("pwd".into()),
        ..named()
    });
    let refused = |core: &mut Core, connect: &str| {
        let key = core.accept_route("127.0.0.1:7001".parse().unwrap(), t0);
        take(core, key, t0);
        send(core, key, connect.as_bytes(), t0);
        let said = take(core, key, t0);
        (said, core.close_reason(key))
    };
    let (said, why) = refused(
        &mut core,
        "CONNECT {\"user\":\"ruser\",\"pass\":\"bad\",\"name\":\"NA\",\"cluster\":\"fz\"}\r\n",
    );
    assert_eq!(said, "-ERR 'Authorization Violation'\r\n");
    assert_eq!(why.map(|r| r.as_str()), Some("Authentication Failure"));
    let (said, why) = refused(
        &mut core,
        "CONNECT {\"user\":\"ruser\",\"pass\":\"pwd\",\"name\":\"NA\",\"cluster\":\"other\"}\r\n",
    );
    assert_eq!(
        said,
        "-ERR 'Rejecting connection, cluster name \"other\" does not match \"fz\"'\r\n"
    );
    assert_eq!(why.map(|r| r.as_str()), Some("Cluster Name Conflict"));
    let (said, why) = refused(&mut core, "CONNECT {\"lang\":\"go\",\"verbose\":false}\r\n");
    assert_eq!(said, "-ERR 'attempted to connect to route port'\r\n");
    assert_eq!(why.map(|r| r.as_str()), Some("Incorrect Port"));
}

#[test]
fn a_pinned_account_route_is_refused_with_nats_servers_text() {
    let (mut core, t0) = core(named());
    let key = core.accept_route("127.0.0.1:7001".parse().unwrap(), t0);
    take(&mut core, key, t0);
    send(
        &mut core,
        key,
        b"CONNECT {\"name\":\"NA\",\"cluster\":\"fz\"}\r\n\
          INFO {\"server_id\":\"NA\",\"cluster\":\"fz\",\"route_pool_size\":3,\"route_account\":\"$SYS\"}\r\n",
        t0,
    );
    assert_eq!(
        take(&mut core, key, t0),
        "-ERR 'Not possible to have a dedicated route for account \"$SYS\" between those servers'\r\n"
    );
}

#[test]
fn a_made_up_cluster_name_gives_way_to_a_configured_one() {
    let (mut core, t0) = core(ClusterOptions::default());
    assert!(core.cluster_name_is_dynamic());
    route(&mut core, "NA", 7001, t0);
    assert_eq!(core.cluster_name(), CLUSTER);
    assert!(!core.cluster_name_is_dynamic());
}

#[test]
fn a_stream_import_asks_the_exporters_account_across_routes() {
    let text = "cluster { name: fz }\n\
        accounts {\n\
          A { users [ { user: a, password: a } ], exports [ { stream: \"ev.>\" } ] }\n\
          B { users [ { user: b, password: b } ], imports [ { stream: { account: A, subject: \"ev.>\" }, prefix: imp } ] }\n\
        }\n";
    let loaded = crate::conf::options_from_text(
        text,
        std::path::Path::new("t.conf"),
        &mut crate::conf::MemoryLoader::default(),
        &crate::options::Overrides::default(),
    )
    .unwrap();
    let (mut core, t0) = core_with(loaded.options);
    let a = route(&mut core, "NA", 7001, t0);
    let c = core.accept("127.0.0.1:9000".parse().unwrap(), t0);
    send(
        &mut core,
        c,
        b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nSUB imp.ev.> 1\r\n",
        t0,
    );
    take(&mut core, c, t0);
    let told = take(&mut core, a, t0);
    assert!(told.contains("RS+ B imp.ev.>\r\n"), "{told}");
    assert!(
        told.contains("RS+ A ev.>\r\n"),
        "the exporter's interest: {told}"
    );
    core.audit().unwrap();
    // A's message from the route reaches B's subscriber, mapped.
    send(&mut core, a, b"RMSG A ev.x 2\r\nhi\r\n", t0);
    assert_eq!(take(&mut core, c, t0), "MSG imp.ev.x 1 2\r\nhi\r\n");
    send(&mut core, c, b"UNSUB 1\r\n", t0);
    let told = take(&mut core, a, t0);
    assert!(told.contains("RS- A ev.>\r\n"), "{told}");
    core.audit().unwrap();
    // A client that goes takes its shadows' interest with it.
    send(&mut core, c, b"SUB imp.ev.> 2\r\n", t0);
    assert!(take(&mut core, a, t0).contains("RS+ A ev.>\r\n"));
    // A protocol error closes the client.
    send(&mut core, c, b"BOGUS\r\n", t0);
    while let Some((key, _)) = core.next_closing() {
        core.remove(key, t0);
    }
    let told = take(&mut core, a, t0);
    assert!(told.contains("RS- A ev.>\r\n"), "{told}");
    core.audit().unwrap();
}
