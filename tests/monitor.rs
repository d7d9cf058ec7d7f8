//! Monitoring over HTTP: every endpoint over a real socket, its query
//! options, the HTTP edges (keep-alive, malformed requests, limits), and
//! the JSON compared with the reference nats-server's, key by key and type
//! by type. Only in a build with the `monitor` feature.
#![cfg(feature = "monitor")]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, TestServer, PATIENCE};
use natsd::{Options, RunningServer, Server};
use serde_json::Value;

// ---- helpers ------------------------------------------------------------

/// natsd in-process with monitoring on a free loopback port.
fn monitored(configure: impl FnOnce(&mut Options)) -> (RunningServer, TestServer) {
    let mut opts = Options::ephemeral();
    opts.http_port = -1;
    configure(&mut opts);
    let server = Server::spawn(opts).expect("natsd starts");
    let client = common::at(server.addr());
    (server, client)
}

/// One HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Read one response off `reader`.
fn read_reply(reader: &mut impl BufRead) -> Reply {
    read_reply_to(reader, "GET")
}

/// Read one response to a `method` request (a HEAD's has no body).
fn read_reply_to(reader: &mut impl BufRead, method: &str) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header: value");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let len = if method == "HEAD" { 0 } else { len };
    let mut body = vec![0; len];
    reader.read_exact(&mut body).expect("body");
    // nats-server's larger answers are chunked.
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim_end(), 16).expect("hex chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            body.extend_from_slice(&chunk[..size]);
            if size == 0 {
                break;
            }
        }
    }
    Reply {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).expect("connect to the monitor");
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock
}

/// GET `path` on a connection of its own.
fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut sock = connect(addr);
    write!(sock, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    read_reply(&mut BufReader::new(sock))
}

#[track_caller]
fn json(addr: SocketAddr, path: &str) -> Value {
    get(addr, path).json()
}

fn monitor_of(server: &RunningServer) -> SocketAddr {
    server.monitor_addr().expect("monitoring is on")
}

/// A client with a name, two subscriptions (one in a queue group) and one
/// message published to itself.
fn busy_client(srv: &TestServer) -> Raw {
    let mut c = Raw::connect_with(
        srv,
        r#"{"verbose":false,"name":"n1","lang":"rust","version":"1.0"}"#,
    );
    c.send(b"SUB foo 1\r\nSUB bar q 2\r\nPUB foo 2\r\nhi\r\n");
    c.read_msgs(1);
    c.expect_nothing_more();
    c
}

/// Wait until `check` holds (the server closes connections asynchronously).
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- endpoints ----------------------------------------------------------

#[test]
fn varz_describes_the_server_and_counts_traffic() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let c = busy_client(&srv);
    let v = json(http, "/varz");
    assert_eq!(v["server_id"], c.info["server_id"]);
    assert_eq!(v["port"], server.addr().port());
    assert_eq!(v["http_port"], http.port());
    assert_eq!(v["http_host"], "127.0.0.1");
    assert_eq!(v["max_payload"], 1024 * 1024);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["write_deadline"], 10_000_000_000u64);
    assert_eq!(v["auth_timeout"], 2);
    assert_eq!(v["connections"], 1);
    assert_eq!(v["total_connections"], 1);
    assert_eq!(v["subscriptions"], 2);
    for key in ["in_msgs", "out_msgs", "in_client_msgs", "out_client_msgs"] {
        assert_eq!(v[key], 1, "{key}");
    }
    for key in ["in_bytes", "out_bytes"] {
        assert_eq!(v[key], 2, "{key}");
    }
    assert!(v["mem"].as_u64().unwrap() > 0, "RSS read from /proc");
    assert!(v["cores"].as_u64().unwrap() >= 1);
    assert!(v["uptime"].as_str().unwrap().ends_with('s'));
    assert!(v["start"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["cluster"], serde_json::json!({}));
    let again = json(http, "/varz");
    assert_eq!(again["http_req_stats"]["/varz"], 2);
}

#[test]
fn connz_shows_each_client_and_its_traffic() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let _c = busy_client(&srv);
    let z = json(http, "/connz");
    assert_eq!(
        (z["num_connections"].as_u64(), z["total"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (z["offset"].as_u64(), z["limit"].as_u64()),
        (Some(0), Some(1024))
    );
    let conn = &z["connections"][0];
    assert_eq!(conn["cid"], 1);
    assert_eq!(conn["kind"], "Client");
    assert_eq!(conn["type"], "nats");
    assert_eq!(conn["ip"], "127.0.0.1");
    assert_eq!(
        (conn["name"].as_str(), conn["lang"].as_str()),
        (Some("n1"), Some("rust"))
    );
    assert_eq!(conn["version"], "1.0");
    assert_eq!(conn["subscriptions"], 2);
    for (key, want) in [
        ("in_msgs", 1),
        ("out_msgs", 1),
        ("in_bytes", 2),
        ("out_bytes", 2),
    ] {
        assert_eq!(conn[key], want, "{key}");
    }
    assert_eq!(conn["pending_bytes"], 0);
    assert_ne!(conn["rtt"], "0s", "estimated at CONNECT");
    assert!(conn.get("subscriptions_list").is_none());
    assert!(conn.get("stop").is_none() && conn.get("reason").is_none());

    let subs = json(http, "/connz?subs=1");
    let mut list: Vec<&str> = subs["connections"][0]["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    list.sort();
    assert_eq!(list, ["bar", "foo"]);

    let detail = json(http, "/connz?subs=detail");
    let detail = detail["connections"][0]["subscriptions_list_detail"]
        .as_array()
        .unwrap()
        .clone();
    let foo = detail.iter().find(|d| d["subject"] == "foo").unwrap();
    assert_eq!(
        foo,
        &serde_json::json!({"subject":"foo","sid":"1","msgs":1,"cid":1})
    );
    let bar = detail.iter().find(|d| d["subject"] == "bar").unwrap();
    assert_eq!(bar["qgroup"], "q");
}

#[test]
fn connz_sorts_pages_and_filters_as_nats_server() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let mut clients = Vec::new();
    for subs in [1, 3, 2] {
        let mut c = Raw::quiet(&srv);
        for sid in 0..subs {
            c.send(format!("SUB s.{sid} {sid}\r\n").as_bytes());
        }
        c.expect_nothing_more();
        clients.push(c);
    }
    let cids = |z: &Value| -> Vec<u64> {
        z["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(cids(&json(http, "/connz")), [1, 2, 3]);
    assert_eq!(cids(&json(http, "/connz?sort=subs")), [2, 3, 1]);
    let page = json(http, "/connz?sort=subs&offset=1&limit=1");
    assert_eq!(cids(&page), [3]);
    assert_eq!(
        (page["num_connections"].as_u64(), page["total"].as_u64()),
        (Some(1), Some(3))
    );
    let one = json(http, "/connz?cid=2");
    assert_eq!((cids(&one), one["limit"].as_u64()), (vec![2], Some(1)));
    assert_eq!(cids(&json(http, "/connz?cid=99")), Vec::<u64>::new());
    assert_eq!(cids(&json(http, "/connz?acc=$G")), [1, 2, 3]);
    // nats-server's answer for an unknown account: no server id, no list.
    let other = json(http, "/connz?acc=other");
    assert_eq!(
        (&other["server_id"], &other["connections"], &other["total"]),
        (&Value::from(""), &Value::Null, &Value::from(0))
    );
    for sort in [
        "cid",
        "start",
        "pending",
        "msgs_to",
        "msgs_from",
        "bytes_to",
        "bytes_from",
        "last",
        "idle",
        "uptime",
        "rtt",
    ] {
        assert_eq!(
            json(http, &format!("/connz?sort={sort}"))["num_connections"],
            3,
            "{sort}"
        );
    }
    for (query, error) in [
        ("sort=foo", "invalid sorting option: foo"),
        ("sort=stop", "sort by stop only valid on closed connections"),
        ("state=nope", "Error decoding state for nope"),
        ("limit=x", "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"),
        ("subs=maybe", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
    ] {
        let reply = get(http, &format!("/connz?{query}"));
        assert_eq!((reply.status, reply.body.as_str()), (400, error), "{query}");
    }
}

#[test]
fn connz_auth_shows_the_user() {
    let (server, srv) = monitored(|o| {
        o.username = Some("alice".into());
        o.password = Some("secret".into());
    });
    let http = monitor_of(&server);
    let _c = Raw::connect_with(&srv, r#"{"verbose":false,"user":"alice","pass":"secret"}"#);
    let plain = json(http, "/connz");
    assert!(plain["connections"][0].get("authorized_user").is_none());
    let auth = json(http, "/connz?auth=true");
    assert_eq!(auth["connections"][0]["authorized_user"], "alice");
    assert_eq!(auth["connections"][0]["name_tag"], "$G");
    assert_eq!(json(http, "/connz?auth=1&user=bob")["num_connections"], 0);
    assert_eq!(json(http, "/connz?auth=1&user=alice")["num_connections"], 1);
}

#[test]
fn closed_connections_keep_their_reason_and_subscriptions() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let _open = busy_client(&srv);
    let mut gone = Raw::quiet(&srv);
    gone.send(b"SUB x 9\r\n");
    gone.expect_nothing_more();
    drop(gone);
    let mut bad = Raw::quiet(&srv);
    bad.send(b"BOGUS\r\n");
    bad.expect_err_and_close("Unknown Protocol Operation");
    eventually("two closed", || {
        json(http, "/connz?state=closed")["total"] == 2
    });

    let closed = json(http, "/connz?state=closed&subs=detail");
    let conns = closed["connections"].as_array().unwrap();
    assert_eq!(conns[0]["cid"], 2);
    assert_eq!(conns[0]["reason"], "Client Closed");
    assert!(conns[0]["stop"].as_str().unwrap().ends_with('Z'));
    assert_eq!(conns[0]["subscriptions"], 1);
    assert_eq!(
        conns[0]["subscriptions_list_detail"][0],
        serde_json::json!({"account":"$G","account_tag":"$G","subject":"x","sid":"9","msgs":0,"cid":2})
    );
    assert_eq!(conns[1]["reason"], "Protocol Violation");

    let all = json(http, "/connz?state=all");
    assert_eq!(
        (all["total"].as_u64(), all["num_connections"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        json(http, "/connz?state=closed&cid=3")["connections"][0]["cid"],
        3
    );
    let by_reason = json(http, "/connz?state=closed&sort=reason");
    assert_eq!(by_reason["connections"][0]["reason"], "Client Closed");
    let by_stop = json(http, "/connz?state=closed&sort=stop");
    assert_eq!(by_stop["connections"][0]["cid"], 3, "the latest stop first");
}

#[test]
fn the_closed_history_is_bounded() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let bound = natsd::core::closed::MAX_CLOSED_CLIENTS;
    for _ in 0..bound + 5 {
        drop(TcpStream::connect(srv.addr()).unwrap());
    }
    eventually("all closed", || json(http, "/varz")["connections"] == 0);
    let closed = json(http, "/connz?state=closed&limit=2000");
    assert_eq!(closed["total"], bound);
    assert_eq!(closed["num_connections"], bound);
    assert_eq!(json(http, "/varz")["total_connections"], bound + 5);
}

#[test]
fn subsz_counts_lists_and_tests_subjects() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let mut c = Raw::quiet(&srv);
    c.send(b"SUB a.* 1\r\nSUB a.b 2\r\nSUB c 3\r\nUNSUB 3\r\nPUB a.b 0\r\n\r\nPUB a.b 0\r\n\r\n");
    c.read_msgs(4);
    c.expect_nothing_more();
    let s = json(http, "/subsz");
    assert_eq!(s["num_subscriptions"], 2);
    assert_eq!(
        (s["num_inserts"].as_u64(), s["num_removes"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        (s["num_matches"].as_u64(), s["cache_hit_rate"].as_f64()),
        (Some(2), Some(0.5))
    );
    assert_eq!(
        (s["num_cache"].as_u64(), s["max_fanout"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(s["avg_fanout"], 2);
    assert!(s.get("subscriptions_list").is_none());
    assert_eq!(s["total"], 0);

    let listed = json(http, "/subsz?subs=1");
    assert_eq!(listed["total"], 2);
    let tested = json(http, "/subsz?subs=1&test=a.z");
    assert_eq!(tested["total"], 1);
    assert_eq!(tested["subscriptions_list"][0]["subject"], "a.*");
    assert_eq!(tested["subscriptions_list"][0]["account"], "$G");
    let paged = json(http, "/subsz?subs=1&offset=1&limit=5");
    assert_eq!(paged["subscriptions_list"].as_array().unwrap().len(), 1);
    let bad = get(http, "/subsz?test=a.*");
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (
            400,
            "invalid test subject, must be valid publish subject: a.*"
        )
    );
    assert_eq!(json(http, "/subscriptionsz")["num_subscriptions"], 2);
}

#[test]
fn the_other_endpoints_say_natsd_has_no_peers_and_two_accounts() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let health = get(http, "/healthz");
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    assert_eq!(health.header("Content-Type"), Some("application/json"));
    assert_eq!(health.header("Access-Control-Allow-Origin"), Some("*"));

    let routez = json(http, "/routez");
    assert_eq!(
        (
            routez["num_routes"].as_u64(),
            routez["routes"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let leafz = json(http, "/leafz");
    assert_eq!(
        (
            leafz["leafnodes"].as_u64(),
            leafz["leafs"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let gatewayz = json(http, "/gatewayz");
    assert_eq!(gatewayz["outbound_gateways"], serde_json::json!({}));
    let accountz = json(http, "/accountz");
    assert_eq!(accountz["accounts"], serde_json::json!(["$SYS", "$G"]));
    assert_eq!(accountz["system_account"], "$SYS");
    assert_eq!(json(http, "/varz")["system_account"], "$SYS");
    assert!(json(http, "/varz").get("auth_required").is_none());
    let unknown = get(http, "/accountz?acc=nope");
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (400, "Account nope does not exist")
    );

    assert_eq!(
        json(http, "/accstatz")["account_statz"],
        serde_json::json!([])
    );
    let unused = json(http, "/accstatz?unused=1");
    let names: Vec<&str> = unused["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["acc"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["$SYS", "$G"]);
    assert_eq!(unused["account_statz"][1]["conns"], 0);
    let _c = busy_client(&srv);
    let detail = json(http, "/accountz?acc=$G")["account_detail"].clone();
    assert_eq!(
        (
            detail["client_connections"].as_u64(),
            detail["subscriptions"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let stat = json(http, "/accstatz")["account_statz"][0].clone();
    assert_eq!(
        (stat["acc"].as_str(), stat["conns"].as_u64()),
        (Some("$G"), Some(1))
    );
    assert_eq!(stat["received"]["msgs"], 1);
}

#[test]
fn metrics_are_prometheus_text() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let _c = busy_client(&srv);
    let m = get(http, "/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let value = |name: &str| -> f64 {
        assert!(
            m.body.contains(&format!("# HELP {name} ")),
            "{name} has help"
        );
        assert!(
            m.body.contains(&format!("# TYPE {name} ")),
            "{name} has a type"
        );
        m.body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("natsd_connections"), 1.0);
    assert_eq!(value("natsd_connections_total"), 1.0);
    assert_eq!(value("natsd_subscriptions"), 2.0);
    assert_eq!(value("natsd_in_msgs_total"), 1.0);
    assert_eq!(value("natsd_out_bytes_total"), 2.0);
    assert_eq!(value("natsd_slow_consumers_total"), 0.0);
    assert!(value("natsd_resident_memory_bytes") > 0.0);
    assert!(value("natsd_start_time_seconds") > 1e9);
    assert!(value("natsd_uptime_seconds") >= 0.0);
    assert!(m.body.contains("natsd_info{server_id=\""));
}

// ---- accounts -----------------------------------------------------------

/// nats-server's research configuration: A exports a stream and a service,
/// B imports both (the stream under `fromA.`), its user `b` may publish
/// only `foo` and `c` anything, `g` is a user of `$G`, and a client without
/// credentials is `a`.
const ACCOUNTS: &str = r#"
accounts {
  A: { users: [{user: a, password: a}], exports: [{stream: "events.>"}, {service: "svc.>"}] }
  B: { users: [{user: b, password: b, permissions: {publish: "foo"}}, {user: c, password: c}],
       imports: [{stream: {account: A, subject: "events.>"}, prefix: "fromA"},
                 {service: {account: A, subject: "svc.echo"}}] }
}
authorization { users: [{user: g, password: g}] }
no_auth_user: a
"#;

/// natsd in-process with the [`ACCOUNTS`] configuration and monitoring.
fn with_accounts() -> (RunningServer, TestServer) {
    let loaded = natsd::conf::options_from_text(
        ACCOUNTS,
        Path::new("accounts.conf"),
        &mut natsd::conf::MemoryLoader::default(),
        &natsd::options::Overrides::default(),
    )
    .expect("the configuration loads");
    monitored(|o| {
        o.accounts = loaded.options.accounts;
        o.users = loaded.options.users;
        o.no_auth_user = loaded.options.no_auth_user;
    })
}

/// The research's traffic: `a` (account A) subscribes to `events.>` and,
/// in a queue group, to `svc.>`; `b` (account B) to `fromA.events.>`; `a`
/// publishes `events.x` (3 bytes), which both get; `b` publishes `foo` (5
/// bytes) and `bar` (2 bytes, refused).
fn accounts_traffic(srv: &TestServer) -> (Raw, Raw) {
    let mut a = Raw::connect_with(srv, r#"{"verbose":false,"user":"a","pass":"a"}"#);
    let mut b = Raw::connect_with(srv, r#"{"verbose":false,"user":"b","pass":"b"}"#);
    a.send(b"SUB events.> 1\r\nSUB svc.> q 2\r\n");
    a.expect_nothing_more();
    b.send(b"SUB fromA.events.> 1\r\n");
    b.expect_nothing_more();
    a.send(b"PUB events.x 3\r\nabc\r\n");
    assert_eq!(a.read_msgs(1)[0].0, "MSG events.x 1 3");
    assert_eq!(b.read_msgs(1)[0].0, "MSG fromA.events.x 1 3");
    b.send(b"PUB foo 5\r\nhello\r\nPUB bar 2\r\nhi\r\n");
    b.expect(b"-ERR 'Permissions Violation for Publish to \"bar\"'\r\n");
    b.expect_nothing_more();
    (a, b)
}

/// The keys of the object whose members are indented by `indent` spaces,
/// in the order the body has them.
fn keys_in_order(body: &str, indent: usize) -> Vec<String> {
    let prefix = format!("{}\"", " ".repeat(indent));
    body.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn accountz_lists_and_details_the_configured_accounts() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let list = json(http, "/accountz");
    assert_eq!(list["system_account"], "$SYS");
    assert_eq!(
        list["accounts"],
        serde_json::json!(["A", "B", "$SYS", "$G"])
    );
    assert!(list.get("account_detail").is_none());
    assert_eq!(json(http, "/accountz?acc=")["accounts"], list["accounts"]);
    let _clients = accounts_traffic(&srv);

    let reply = get(http, "/accountz?acc=A");
    // nats-server lists four service imports from its system account in
    // every account ($SYS.REQ.ACCOUNT.A.CONNZ, ...) and counts their four
    // subscriptions: natsd's system account serves no requests, so A has
    // no imports and only its own subscriptions (a deliberate difference).
    assert_eq!(
        keys_in_order(&reply.body, 4),
        [
            "account_name",
            "update_time",
            "expired",
            "complete",
            "jetstream_enabled",
            "leafnode_connections",
            "client_connections",
            "subscriptions",
            "exports",
            "name_tag",
            "sublist_stats",
        ]
    );
    assert!(
        reply.body.contains(r#""subject": "svc.\u003e""#),
        "Go's escaping"
    );
    let a = reply.json()["account_detail"].clone();
    assert_eq!(
        (a["account_name"].as_str(), a["name_tag"].as_str()),
        (Some("A"), Some("A"))
    );
    assert!(a["update_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (a["expired"].as_bool(), a["complete"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(a["client_connections"], 1);
    assert_eq!(a["subscriptions"], 3, "a's two and the shadow of b's");
    assert_eq!(a["sublist_stats"]["num_subscriptions"], 3);
    assert_eq!(
        a["exports"],
        serde_json::json!([
            {"subject": "svc.>", "type": "service", "response_type": "Singleton"},
            {"subject": "events.>", "type": "stream"},
        ])
    );

    let b = json(http, "/accountz?acc=B")["account_detail"].clone();
    assert!(b.get("exports").is_none(), "none: the key is left out");
    assert_eq!(b["subscriptions"], 2, "b's and the service import's");
    assert_eq!(
        b["imports"],
        serde_json::json!([
            {"subject": "events.>", "account": "A", "local_subject": "fromA.events.>",
             "type": "stream", "invalid": false, "share": false, "tracking": false},
            {"subject": "svc.echo", "account": "A", "to": "svc.echo", "local_subject": "svc.echo",
             "type": "service", "invalid": false, "share": false, "tracking": false},
        ])
    );

    let sys = get(http, "/accountz?acc=$SYS");
    assert_eq!(keys_in_order(&sys.body, 4)[2], "is_system");
    let sys = sys.json()["account_detail"].clone();
    assert_eq!(
        (sys["is_system"].as_bool(), sys["subscriptions"].as_u64()),
        (Some(true), Some(0))
    );
    assert!(sys.get("exports").is_none() && sys.get("imports").is_none());
    let g = json(http, "/accountz?acc=$G")["account_detail"].clone();
    assert!(g.get("is_system").is_none());
    assert_eq!(
        (g["name_tag"].as_str(), g["client_connections"].as_u64()),
        (Some("$G"), Some(0))
    );

    let unknown = get(http, "/accountz?acc=nope");
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (400, "Account nope does not exist")
    );
    assert_eq!(unknown.header("Access-Control-Allow-Origin"), None);
}

#[test]
fn accountz_shows_the_requests_a_service_export_still_owes() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let mut a = Raw::connect_with(&srv, r#"{"verbose":false,"user":"a","pass":"a"}"#);
    let mut c = Raw::connect_with(&srv, r#"{"verbose":false,"user":"c","pass":"c"}"#);
    a.send(b"SUB svc.> 1\r\n");
    a.expect_nothing_more();
    c.send(b"PUB svc.echo _INBOX.1 2\r\nhi\r\n");
    let (head, _) = a.read_msgs(1).remove(0);
    let reply = head.split(' ').nth(3).unwrap().to_string();
    assert!(reply.starts_with("_R_."), "{head}");
    let a_detail = json(http, "/accountz?acc=A")["account_detail"].clone();
    assert_eq!(
        a_detail["responses"][&reply],
        serde_json::json!({"subject": "_INBOX.1", "account": "B", "to": reply,
            // Go marshals jwt's type of a map's value as its number.
            "local_subject": reply, "type": 2, "invalid": false,
            "share": false, "tracking": false})
    );
    a.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes());
    a.expect_nothing_more();
    let a_detail = json(http, "/accountz?acc=A")["account_detail"].clone();
    assert!(
        a_detail.get("responses").is_none(),
        "a singleton is answered once"
    );
}

#[test]
fn accstatz_charges_each_account_for_what_its_clients_publish() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let (mut client_a, _b) = accounts_traffic(&srv);
    let statz = json(http, "/accstatz");
    let list = statz["account_statz"].as_array().unwrap().clone();
    let names: Vec<&str> = list.iter().map(|a| a["acc"].as_str().unwrap()).collect();
    assert_eq!(names, ["A", "B"], "only accounts with connections");
    let traffic = |a: &Value, way: &str| (a[way]["msgs"].as_u64(), a[way]["bytes"].as_u64());
    let (a, b) = (&list[0], &list[1]);
    assert_eq!(
        traffic(a, "sent"),
        (Some(2), Some(6)),
        "to a and, imported, to b"
    );
    assert_eq!(traffic(a, "received"), (Some(1), Some(3)));
    assert_eq!(traffic(b, "sent"), (Some(0), Some(0)));
    assert_eq!(
        traffic(b, "received"),
        (Some(2), Some(7)),
        "the refused one too"
    );
    assert_eq!(
        (a["name"].as_str(), a["conns"].as_u64()),
        (Some("A"), Some(1))
    );
    assert_eq!(
        (a["total_conns"].as_u64(), a["num_subscriptions"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        a["sent"]["routes"],
        serde_json::json!({"msgs": 0, "bytes": 0})
    );

    // A request through B's service import is delivered, and counted, in
    // A; its response in B, as nats-server counts them. (The header the
    // import adds is not counted: a, without headers, does not get it.)
    let mut c = Raw::connect_with(&srv, r#"{"verbose":false,"user":"c","pass":"c"}"#);
    c.send(b"SUB _INBOX.> 5\r\nPUB svc.echo _INBOX.1 2\r\nhi\r\n");
    let (head, _) = client_a.read_msgs(1).remove(0);
    let reply = head.split(' ').nth(3).unwrap().to_string();
    client_a.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes());
    assert_eq!(c.read_msgs(1)[0].0, "MSG _INBOX.1 5 2");
    let statz = json(http, "/accstatz");
    let (a, b) = (&statz["account_statz"][0], &statz["account_statz"][1]);
    assert_eq!(traffic(a, "sent"), (Some(3), Some(8)));
    assert_eq!(traffic(a, "received"), (Some(2), Some(5)));
    assert_eq!(traffic(b, "sent"), (Some(1), Some(2)));
    assert_eq!(traffic(b, "received"), (Some(3), Some(9)));

    let all = json(http, "/accstatz?unused=1");
    let names: Vec<&str> = all["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["acc"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "B", "$SYS", "$G"]);
    let bad = get(http, "/accstatz?unused=xyz");
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "Error decoding boolean for 'unused': strconv.ParseBool: parsing \"xyz\": invalid syntax")
    );
}

#[test]
fn connz_auth_names_users_and_accounts_and_filters_by_account() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let (_a, _b) = accounts_traffic(&srv); // cids 1 and 2
    let _anonymous = Raw::quiet(&srv); // cid 3: the no_auth_user, a
    let _g = Raw::connect_with(&srv, r#"{"verbose":false,"user":"g","pass":"g"}"#); // cid 4

    let z = get(http, "/connz?auth=1");
    assert_eq!(
        &keys_in_order(&z.body, 6)[16..19],
        ["authorized_user", "account", "name_tag"],
        "nats-server's order"
    );
    let z = z.json();
    let who = |c: &Value| {
        (
            c["authorized_user"].as_str().map(str::to_owned),
            c["account"].as_str().map(str::to_owned),
            c["name_tag"].as_str().map(str::to_owned),
        )
    };
    let s = |t: &str| Some(t.to_string());
    let conns = z["connections"].as_array().unwrap();
    assert_eq!(who(&conns[0]), (s("a"), s("A"), s("A")));
    assert_eq!(who(&conns[1]), (s("b"), s("B"), s("B")));
    assert_eq!(who(&conns[2]), (s("a"), s("A"), s("A")), "the no_auth_user");
    assert_eq!(who(&conns[3]), (s("g"), None, s("$G")), "no account for $G");
    let plain = json(http, "/connz");
    assert_eq!(who(&plain["connections"][0]), (None, None, None));

    let cids = |q: &str| -> Vec<u64> {
        let z = json(http, q);
        z["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(cids("/connz?acc=A"), [1, 3]);
    assert_eq!(json(http, "/connz?acc=A")["total"], 2);
    assert_eq!(cids("/connz?acc=$G"), [4]);
    assert_eq!(cids("/connz?acc=$SYS"), Vec::<u64>::new());
    assert_eq!(cids("/connz?acc=A&user=a&auth=1"), [1, 3]);
    assert_eq!(cids("/connz?user=b"), [2]);
    let page = json(http, "/connz?acc=A&user=nobody");
    assert_eq!(
        (page["total"].as_u64(), page["num_connections"].as_u64()),
        (Some(2), Some(0))
    );
    let unknown = get(http, "/connz?acc=nope");
    assert_eq!(unknown.status, 200);
    assert!(
        unknown.body.contains("\"connections\": null"),
        "{}",
        unknown.body
    );
}

#[test]
fn closed_connections_keep_their_account_and_user() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let mut b = Raw::connect_with(&srv, r#"{"verbose":false,"user":"b","pass":"b"}"#);
    b.send(b"SUB x 9\r\n");
    b.expect_nothing_more();
    drop(b); // cid 1
    let mut g = Raw::connect_with(&srv, r#"{"verbose":false,"user":"g","pass":"g"}"#);
    g.expect_nothing_more();
    drop(g); // cid 2
    let mut wrong = Raw::connect(&srv); // cid 3
    wrong.send(b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"nope\"}\r\n");
    wrong.expect_err_and_close("Authorization Violation");
    eventually("three closed", || {
        json(http, "/connz?state=closed")["total"] == 3
    });

    let closed = json(http, "/connz?state=closed&auth=1&subs=detail");
    let conns = closed["connections"].as_array().unwrap();
    assert_eq!(
        (conns[0]["account"].as_str(), conns[0]["name_tag"].as_str()),
        (Some("B"), Some("B"))
    );
    assert_eq!(conns[0]["authorized_user"], "b");
    assert_eq!(
        conns[0]["subscriptions_list_detail"][0],
        serde_json::json!({"account":"B","account_tag":"B","subject":"x","sid":"9","msgs":0,"cid":1})
    );
    // nats-server records no account for a closed connection in $G.
    assert_eq!(conns[1]["authorized_user"], "g");
    assert!(conns[1].get("account").is_none() && conns[1].get("name_tag").is_none());
    // A failed login keeps the user it tried; it was never placed.
    assert_eq!(conns[2]["authorized_user"], "b");
    assert_eq!(conns[2]["reason"], "Authentication Failure");
    assert!(conns[2].get("account").is_none());

    let in_b = json(http, "/connz?state=closed&acc=B");
    assert_eq!(
        (
            in_b["total"].as_u64(),
            in_b["connections"][0]["cid"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        json(http, "/connz?state=closed&acc=$G")["total"],
        0,
        "as nats-server"
    );
    assert_eq!(
        json(http, "/connz?state=closed&user=b")["total"],
        3,
        "total is before user"
    );
    assert_eq!(
        json(http, "/connz?state=closed&user=b")["num_connections"],
        2
    );
}

#[test]
fn a_token_login_is_redacted() {
    let (server, srv) = monitored(|o| o.authorization = Some("secret".into()));
    let http = monitor_of(&server);
    let _c = Raw::connect_with(&srv, r#"{"verbose":false,"auth_token":"secret"}"#);
    let conn = json(http, "/connz?auth=1")["connections"][0].clone();
    assert_eq!(
        (conn["authorized_user"].as_str(), conn["name_tag"].as_str()),
        (Some("[REDACTED]"), Some("$G"))
    );
    assert!(conn.get("account").is_none());
    assert_eq!(json(http, "/varz")["auth_required"], true);
}

#[test]
fn subsz_sums_and_lists_the_accounts_asked_for() {
    let (server, srv) = with_accounts();
    let http = monitor_of(&server);
    let _clients = accounts_traffic(&srv);
    assert_eq!(json(http, "/subsz")["num_subscriptions"], 5, "A 3, B 2");

    let a = json(http, "/subsz?acc=A&subs=1");
    assert_eq!(
        (a["num_subscriptions"].as_u64(), a["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(a["num_matches"], 1);
    let mut list = a["subscriptions_list"].as_array().unwrap().clone();
    list.sort_by_key(|s| (s["cid"].as_u64(), s["subject"].as_str().map(str::to_owned)));
    assert_eq!(
        list,
        [
            serde_json::json!({"account":"A","account_tag":"A","subject":"events.>","sid":"1","msgs":1,"cid":1}),
            serde_json::json!({"account":"A","account_tag":"A","subject":"svc.>","qgroup":"q","sid":"2","msgs":0,"cid":1}),
            // The shadow of b's subscription, in A's trie, names b.
            serde_json::json!({"account":"B","account_tag":"B","subject":"events.>","sid":"1","msgs":1,"cid":2}),
        ]
    );
    // B's trie also holds the service import's internal subscription: it
    // counts, but there is no client to list it under.
    let b = json(http, "/subsz?acc=B&subs=1");
    assert_eq!(
        (b["num_subscriptions"].as_u64(), b["total"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(b["subscriptions_list"][0]["subject"], "fromA.events.>");
    let tested = json(http, "/subsz?acc=A&subs=1&test=events.y");
    assert_eq!(tested["total"], 2);

    let nope = json(http, "/subsz?acc=nope&subs=1");
    assert_eq!(
        (nope["num_subscriptions"].as_u64(), nope["total"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(nope.get("subscriptions_list").is_none());
}

#[test]
fn varz_names_the_system_account_and_requires_auth_with_a_no_auth_user() {
    let (server, _srv) = with_accounts();
    let v = json(monitor_of(&server), "/varz");
    assert_eq!(v["system_account"], "$SYS");
    assert_eq!(v["auth_required"], true);
}

// ---- HTTP ---------------------------------------------------------------

#[test]
fn the_index_and_unknown_paths() {
    let (server, _srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let index = get(http, "/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(index.body.contains("href=\"/connz\""));
    for path in ["/nope", "/varz/", "/jsz", "/connz/x"] {
        let reply = get(http, path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (404, "404 page not found\n"),
            "{path}"
        );
    }
}

#[test]
fn a_base_path_prefixes_every_endpoint() {
    let (server, _srv) = monitored(|o| o.http_base_path = "nats/".into());
    let http = monitor_of(&server);
    assert_eq!(get(http, "/nats").status, 200);
    assert!(get(http, "/nats").body.contains("href=\"/nats/varz\""));
    assert_eq!(json(http, "/nats/varz")["http_base_path"], "nats/");
    assert_eq!(get(http, "/nats/healthz").status, 200);
    assert_eq!(get(http, "/varz").status, 404);
    assert_eq!(get(http, "/").status, 404);
}

#[test]
fn keep_alive_answers_pipelined_requests_in_order() {
    let (server, _srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let mut sock = connect(http);
    sock.write_all(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /varz HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /connz?limit=3 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    assert_eq!(read_reply(&mut reader).body, r#"{"status":"ok"}"#);
    let head = read_reply_to(&mut reader, "HEAD");
    assert!(
        head.header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 100
    );
    assert_eq!(read_reply(&mut reader).json()["limit"], 3);
    // Still open: one more, asking to close.
    sock.write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let last = read_reply(&mut reader);
    assert_eq!(last.header("Connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).unwrap(), 0, "closed after");
}

#[test]
fn a_malformed_request_gets_400_and_the_server_carries_on() {
    let (server, srv) = monitored(|_| {});
    let http = monitor_of(&server);
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let mut sock = connect(http);
        sock.write_all(garbage).unwrap();
        let mut out = Vec::new();
        sock.read_to_end(&mut out).unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(out.contains("Connection: close\r\n"));
    }
    let mut huge = b"GET /varz HTTP/1.1\r\nX-Big: ".to_vec();
    huge.resize(64 * 1024, b'a');
    let mut sock = connect(http);
    let _ = sock.write_all(&huge); // the server may close before reading it all
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431 "));

    assert_eq!(get(http, "/healthz").status, 200);
    let _c = busy_client(&srv);
}

#[test]
fn monitoring_connections_are_limited() {
    let (server, _srv) = monitored(|_| {});
    let http = monitor_of(&server);
    let held: Vec<TcpStream> = (0..natsd::monitor::MAX_CONNECTIONS)
        .map(|_| connect(http))
        .collect();
    // Each is accepted before the next is counted.
    eventually("all accepted", || {
        let mut probe = connect(http);
        let mut out = String::new();
        let _ = probe.read_to_string(&mut out);
        out.starts_with("HTTP/1.1 503 ")
    });
    drop(held);
    eventually("served again", || {
        let mut sock = connect(http);
        write!(sock, "GET /healthz HTTP/1.1\r\n\r\n").unwrap();
        let mut line = String::new();
        let _ = BufReader::new(sock).read_line(&mut line);
        line.starts_with("HTTP/1.1 200")
    });
}

#[test]
fn the_binary_logs_where_it_monitors_as_nats_server_does() {
    // Process::start reads "Starting http monitor on HOST:PORT" from the log.
    let natsd = Process::start(Path::new(env!("CARGO_BIN_EXE_natsd")), &[]);
    assert_eq!(get(natsd.http, "/healthz").status, 200);
    assert_eq!(json(natsd.http, "/varz")["port"], natsd.client.port());
}

#[test]
fn monitoring_is_off_by_default() {
    let server = Server::spawn(Options::ephemeral()).unwrap();
    assert_eq!(server.monitor_addr(), None);
}

// ---- compared with nats-server ------------------------------------------

/// A server binary run with monitoring on free ports; killed when dropped.
struct Process {
    child: Child,
    client: SocketAddr,
    http: SocketAddr,
}

impl Process {
    /// Start `binary` on loopback with random ports, read which ones from
    /// its log lines (nats-server's, which natsd prints too).
    fn start(binary: &Path, extra: &[&str]) -> Process {
        let mut child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let port_after = |line: &str, what: &str| -> Option<u16> {
            line.split(what)
                .nth(1)?
                .trim()
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        };
        let (mut client, mut http) = (None, None);
        let mut line = String::new();
        while client.is_none() || http.is_none() {
            line.clear();
            if log.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("{} exited before it was ready", binary.display());
            }
            client = client.or(port_after(&line, "Listening for client connections on "));
            http = http.or(port_after(&line, "Starting http monitor on "));
        }
        // Keep reading its log so the pipe never fills.
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
        let at = |port: Option<u16>| SocketAddr::from(([127, 0, 0, 1], port.unwrap()));
        Process {
            child,
            client: at(client),
            http: at(http),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keys nats-server shows that natsd leaves out, and why.
/// (The system account's services are taken out of nats-server's answers
/// before they are compared: see [`without_system_services`].)
const ABSENT_IN_NATSD: [(&str, &str); 1] = [(
    "/varz/git_commit",
    "natsd is not built from nats-server's repository",
)];

/// nats-server's answer less what natsd deliberately does not have: the
/// system account's service exports, the service imports of them every
/// account has (natsd's system account serves no requests), and the
/// internal subscriptions `/subsz` lists under accounts' internal clients
/// (natsd has none; `client_cids` are the real clients').
fn without_system_services(go: &mut Value, client_cids: &BTreeSet<u64>) {
    if let Some(detail) = go.get_mut("account_detail").and_then(Value::as_object_mut) {
        for key in ["imports", "exports"] {
            let Some(list) = detail.get_mut(key).and_then(Value::as_array_mut) else {
                continue;
            };
            list.retain(|i| {
                i["account"] != "$SYS" && !i["subject"].as_str().unwrap_or("").starts_with("$SYS.")
            });
            if list.is_empty() {
                detail.remove(key);
            }
        }
    }
    if let Some(list) = go
        .get_mut("subscriptions_list")
        .and_then(Value::as_array_mut)
    {
        list.retain(|s| {
            s["cid"]
                .as_u64()
                .is_some_and(|cid| client_cids.contains(&cid))
        });
    }
}

/// The cids of every connection, open or closed, `http` shows.
fn client_cids(http: SocketAddr) -> BTreeSet<u64> {
    json(http, "/connz?state=all&limit=10000")["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["cid"].as_u64())
        .collect()
}

/// Compare what `paths` show on nats-server (less its system services) and
/// on natsd.
fn compare_paths(go: &Process, ours: &Process, paths: &[&str]) {
    let cids = client_cids(go.http);
    let mut diffs = Vec::new();
    for path in paths {
        let mut go_json = json(go.http, path);
        without_system_services(&mut go_json, &cids);
        compare(path, &go_json, &json(ours.http, path), &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "differences from nats-server:\n{}",
        diffs.join("\n")
    );
}

/// Objects whose keys are data (request paths, reply subjects), not
/// fields: their first values are compared.
const MAPS: [&str; 2] = ["http_req_stats", "responses"];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every difference in keys or value types between `go` and `ours`.
fn compare(path: &str, go: &Value, ours: &Value, diffs: &mut Vec<String>) {
    if type_name(go) != type_name(ours) {
        diffs.push(format!(
            "{path}: {} in nats-server, {} in natsd",
            type_name(go),
            type_name(ours)
        ));
        return;
    }
    match (go, ours) {
        (Value::Object(g), Value::Object(o)) => {
            let is_map = MAPS.iter().any(|m| path.ends_with(m));
            if is_map {
                if let (Some(gv), Some(ov)) = (g.values().next(), o.values().next()) {
                    compare(&format!("{path}/*"), gv, ov, diffs);
                }
                return;
            }
            let gk: BTreeSet<_> = g.keys().collect();
            let ok: BTreeSet<_> = o.keys().collect();
            for k in gk.difference(&ok) {
                let at = format!("{path}/{k}");
                if !ABSENT_IN_NATSD.iter().any(|(p, _)| *p == at) {
                    diffs.push(format!("{at}: only in nats-server"));
                }
            }
            for k in ok.difference(&gk) {
                diffs.push(format!("{path}/{k}: only in natsd"));
            }
            for (k, gv) in g {
                if let Some(ov) = o.get(k) {
                    compare(&format!("{path}/{k}"), gv, ov, diffs);
                }
            }
        }
        (Value::Array(g), Value::Array(o)) => {
            let (g, o) = (in_order(g), in_order(o));
            for (i, (gv, ov)) in g.iter().zip(&o).enumerate() {
                compare(&format!("{path}[{i}]"), gv, ov, diffs);
            }
        }
        _ => {}
    }
}

/// A list in a comparable order: Go lists subscriptions in map order.
fn in_order(list: &[Value]) -> Vec<Value> {
    let mut list = list.to_vec();
    let key = |v: &Value| (v["cid"].as_u64(), v["subject"].as_str().map(str::to_owned));
    list.sort_by_key(key);
    list
}

/// The same clients, doing the same things, against either server.
fn same_situation(client: SocketAddr) -> Raw {
    let srv = common::at(client);
    let c = busy_client(&srv);
    let mut gone = Raw::quiet(&srv);
    gone.send(b"SUB x 9\r\n");
    gone.expect_nothing_more();
    drop(gone);
    c
}

#[test]
fn keys_and_types_match_nats_server() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!(
            "skipped: no reference nats-server at {} (.ci/test installs it)",
            reference.display()
        );
        return;
    }
    let go = Process::start(&reference, &[]);
    let ours = Process::start(Path::new(env!("CARGO_BIN_EXE_natsd")), &[]);
    let _go_client = same_situation(go.client);
    let _our_client = same_situation(ours.client);
    wait_for_closed(&[&go, &ours], 1);
    let paths = [
        "/varz",
        "/connz",
        "/connz?subs=1",
        "/connz?subs=detail",
        "/connz?state=closed&subs=detail",
        "/connz?state=all&auth=1&sort=rtt",
        "/subsz",
        "/subsz?subs=1&test=foo",
        "/routez",
        "/leafz",
        "/gatewayz",
        "/accountz",
        "/accountz?acc=$G",
        "/accstatz",
        "/accstatz?unused=1",
        "/accountz?acc=$SYS",
        "/healthz",
    ];
    compare_paths(&go, &ours, &paths);
    // The HTTP side too: the same status and body for a 404 and a bad query.
    same_answers(
        &go,
        &ours,
        &["/nope", "/connz?sort=bogus", "/subsz?test=a.>"],
    );
}

/// Both servers have `n` closed connections in their history.
fn wait_for_closed(servers: &[&Process], n: u64) {
    for server in servers {
        eventually("the closed connections", || {
            json(server.http, "/connz?state=closed")["total"] == n
        });
    }
}

/// Both servers answer each path with the same status and body (errors).
fn same_answers(go: &Process, ours: &Process, paths: &[&str]) {
    for path in paths {
        let (g, o) = (get(go.http, path), get(ours.http, path));
        assert_eq!((g.status, g.body), (o.status, o.body), "{path}");
    }
}

/// The same with accounts: the [`ACCOUNTS`] configuration, its traffic, a
/// request still awaiting its response, closed connections in B and `$G`.
#[test]
fn keys_and_types_match_nats_server_with_accounts() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!("skipped: no reference nats-server");
        return;
    }
    let dir = std::env::temp_dir().join(format!("natsd-monitor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("accounts.conf");
    std::fs::write(&config, ACCOUNTS).unwrap();
    let config = config.to_str().unwrap();
    let go = Process::start(&reference, &["-c", config]);
    let ours = Process::start(Path::new(env!("CARGO_BIN_EXE_natsd")), &["-c", config]);
    let situation = |client: SocketAddr| {
        let srv = common::at(client);
        let (mut a, b) = accounts_traffic(&srv);
        let mut c = Raw::connect_with(&srv, r#"{"verbose":false,"user":"c","pass":"c"}"#);
        c.send(b"SUB _INBOX.> 5\r\nPUB svc.echo _INBOX.1 2\r\nhi\r\n");
        c.expect_nothing_more();
        a.read_msgs(1); // the request, left unanswered
        for user in ["b", "g"] {
            let mut gone = Raw::connect_with(
                &srv,
                &format!(r#"{{"verbose":false,"user":"{user}","pass":"{user}"}}"#),
            );
            gone.send(b"SUB x 9\r\n");
            gone.expect_nothing_more();
        }
        (a, b, c, Raw::quiet(&srv))
    };
    let _go_clients = situation(go.client);
    let _our_clients = situation(ours.client);
    wait_for_closed(&[&go, &ours], 2);
    let paths = [
        "/varz",
        "/accountz",
        "/accountz?acc=A",
        "/accountz?acc=B",
        "/accountz?acc=$G",
        "/accountz?acc=$SYS",
        "/accstatz",
        "/accstatz?unused=1",
        "/connz?auth=1",
        "/connz?acc=B&auth=1&subs=detail",
        "/connz?state=closed&auth=1&subs=detail",
        "/connz?acc=nope",
        "/subsz?acc=A&subs=1",
        "/subsz?acc=B&subs=1",
        "/subsz?acc=nope&subs=1",
    ];
    compare_paths(&go, &ours, &paths);
    same_answers(&go, &ours, &["/accountz?acc=nope", "/accstatz?unused=x"]);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- cost ---------------------------------------------------------------

/// How long message traffic waits while `/connz` of 10,000 connections is
/// scraped over and over. Run it on a release build:
///
///     cargo test --release --test monitor -- --ignored --nocapture scraping
#[test]
#[ignore = "a measurement: 10,000 connections, about 20 s"]
fn scraping_10k_connections_stalls_traffic_briefly() {
    const IDLE: usize = 10_000;
    let natsd = Process::start(Path::new(env!("CARGO_BIN_EXE_natsd")), &[]);
    let srv = common::at(natsd.client);
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(natsd.client).expect("connect"))
        .collect();
    eventually("all connected", || {
        json(natsd.http, "/varz")["connections"].as_u64() == Some(IDLE as u64)
    });

    // One client publishes to itself and waits for each message: the round
    // trip is what any message would wait.
    let round_trips = |for_how_long: Duration| -> Vec<Duration> {
        let mut c = Raw::quiet(&srv);
        c.send(b"SUB rt 1\r\n");
        c.expect_nothing_more();
        let mut trips = Vec::new();
        let end = Instant::now() + for_how_long;
        while Instant::now() < end {
            let t = Instant::now();
            c.send(b"PUB rt 1\r\nx\r\n");
            // The server's keepalive PINGs come in between.
            while c.read_line() == "PING" {
                c.send(b"PONG\r\n");
            }
            c.read_line();
            trips.push(t.elapsed());
        }
        trips.sort();
        trips
    };
    let summary = |trips: &[Duration]| {
        let at = |q: f64| trips[((trips.len() - 1) as f64 * q) as usize];
        format!(
            "{} trips: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
            trips.len(),
            at(0.5),
            at(0.99),
            at(0.999),
            at(1.0)
        )
    };
    let quiet = round_trips(Duration::from_secs(3));

    let http = natsd.http;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraping = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut times = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let reply = get(http, "/connz?limit=10000");
                times.push((t.elapsed(), reply.body.len()));
                let z = reply.json();
                assert_eq!(z["num_connections"], 10_000);
            }
            times
        })
    };
    let busy = round_trips(Duration::from_secs(6));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let scrapes = scraping.join().unwrap();
    let mean = scrapes.iter().map(|(t, _)| *t).sum::<Duration>() / scrapes.len().max(1) as u32;
    println!("round trips, quiet: {}", summary(&quiet));
    println!("round trips, while scraping: {}", summary(&busy));
    println!(
        "{} scrapes of /connz?limit=10000 ({} bytes), {mean:?} each",
        scrapes.len(),
        scrapes.first().map_or(0, |(_, len)| *len)
    );
    drop(idle);
    assert!(scrapes.len() >= 2, "the scrapes completed");
    let p99 = busy[(busy.len() - 1) * 99 / 100];
    assert!(
        p99 < Duration::from_millis(10),
        "traffic waited {p99:?} (p99) during scrapes"
    );
}
