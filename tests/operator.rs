//! NKey users and JWT operator mode against natsd and, beside it, the
//! reference nats-server with the same configuration and the same keys:
//! every login is accepted or refused alike, with the same bytes on the
//! wire and the same reason in the log.
//!
//! The reference is `target/ref/bin/nats-server` (`.ci/test` installs it);
//! without it these tests check natsd alone, unless
//! `NATS_CONFORMANCE_REQUIRED=1` makes that a failure.
#![cfg(feature = "jwt")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::binary::{Running, NATSD};
use common::jwt::*;
use natsd::auth::nkeys::{KeyKind, KeyPair};
use serde_json::json;

fn reference() -> Option<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ref/bin/nats-server");
    if std::path::Path::new(path).is_file() {
        return Some(path.to_string());
    }
    let required = std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1");
    assert!(!required, "the reference nats-server is not at {path}");
    eprintln!("reference nats-server not found: checking natsd alone");
    None
}

/// natsd and (when installed) nats-server, started from one config text.
struct Servers {
    natsd: Running,
    reference: Option<Running>,
    dir: PathBuf,
}

impl Servers {
    fn start(name: &str, config: &str) -> Servers {
        Servers::start_with(name, config, &[])
    }

    fn start_with(name: &str, config: &str, extra: &[&str]) -> Servers {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("operator-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("server.conf");
        std::fs::write(&conf, config).unwrap();
        let conf = conf.to_str().unwrap().to_string();
        let mut args = vec!["-c", &conf, "-a", "127.0.0.1", "-p", "-1", "-D"];
        args.extend_from_slice(extra);
        let natsd = Running::start_program(NATSD, &args, &[]);
        let reference = reference().map(|r| {
            // Each its own monitor port, when there is one.
            let mut args = args.clone();
            let port;
            if let Some(i) = args.iter().position(|a| *a == "-m") {
                port = free_port().to_string();
                args[i + 1] = &port;
                return Running::start_program(&r, &args, &[]);
            }
            Running::start_program(&r, &args, &[])
        });
        Servers {
            natsd,
            reference,
            dir,
        }
    }

    /// Rewrite the configuration both read, and have both reload it.
    fn reload(&self, config: &str) {
        std::fs::write(self.dir.join("server.conf"), config).unwrap();
        for (_, server) in self.each() {
            server.signal("HUP");
        }
    }

    /// Each server, natsd first.
    fn each(&self) -> Vec<(&'static str, &Running)> {
        let mut all = vec![("natsd", &self.natsd)];
        if let Some(r) = &self.reference {
            all.push(("nats-server", r));
        }
        all
    }

    /// Log in with `connect` (a function of the nonce) on each server,
    /// then `then` (raw protocol) and a PING: what each sent back must be
    /// `expected`, and each must log a line containing `log` (if any).
    #[track_caller]
    fn check(
        &self,
        connect: &dyn Fn(&str) -> String,
        then: &str,
        expected: &str,
        log: Option<&str>,
    ) {
        for (name, server) in self.each() {
            server.drain_log();
            let mut client = Client::connect(server);
            let got = client.exchange(&format!(
                "CONNECT {}\r\n{then}PING\r\n",
                connect(&client.nonce)
            ));
            assert_eq!(got, expected, "{name}: what came back");
            if let Some(needle) = log {
                server.wait_for_log(needle);
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The monitor's port a server logged.
fn monitor_port(server: &Running) -> u16 {
    let line = server
        .log
        .iter()
        .find(|l| l.contains("monitor on"))
        .expect("a monitor");
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// GET `path` from the monitor on `port`: the JSON body.
fn monitor_json(port: u16, path: &str) -> serde_json::Value {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(sock, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut text = String::new();
    sock.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").expect("a body").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A raw client that has read INFO and keeps its nonce.
struct Client {
    sock: TcpStream,
    nonce: String,
    info: serde_json::Value,
}

impl Client {
    fn connect(server: &Running) -> Client {
        let mut sock = TcpStream::connect(server.addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let line = read_until(&mut sock, |b| b.ends_with(b"\r\n"));
        let json = line.strip_prefix("INFO ").expect("INFO first");
        let info: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let nonce = info["nonce"].as_str().unwrap_or_default().to_string();
        Client { sock, nonce, info }
    }

    /// Send `bytes`, and read until a PONG or the close.
    fn exchange(&mut self, bytes: &str) -> String {
        self.sock.write_all(bytes.as_bytes()).unwrap();
        read_until(&mut self.sock, |b| b.ends_with(b"PONG\r\n"))
    }
}

/// Read until `done` says so or the peer closes (`<closed>` is appended).
fn read_until(sock: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !done(&got) {
        assert!(
            Instant::now() < deadline,
            "nothing more: {:?}",
            String::from_utf8_lossy(&got)
        );
        match sock.read(&mut chunk) {
            Ok(0) => {
                got.extend_from_slice(b"<closed>");
                break;
            }
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                got.extend_from_slice(b"<closed>");
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// CONNECT with a user JWT and its signature of the nonce.
fn with_jwt(user_jwt: String, user: &KeyPair) -> impl Fn(&str) -> String + '_ {
    move |nonce| {
        json!({"verbose": false, "pedantic": false, "headers": true,
               "jwt": user_jwt, "sig": sign_nonce(user, nonce)})
        .to_string()
    }
}

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n<closed>";
const OK: &str = "PONG\r\n";

#[test]
fn nkey_users_sign_the_nonce() {
    let alice = key(KeyKind::User);
    let bob = key(KeyKind::User);
    let config = format!(
        "authorization {{ users: [\n  {{nkey: {}}}\n  {{nkey: {}, permissions: {{publish: \"ok.>\"}}}}\n] }}\n",
        public(&alice),
        public(&bob)
    );
    let servers = Servers::start("nkeys", &config);
    for (_, server) in servers.each() {
        let client = Client::connect(server);
        assert_eq!(client.nonce.len(), 15, "{}", client.info);
        assert_eq!(client.info["auth_required"], true);
    }
    let signed = |user: &KeyPair, sig_of: &KeyPair| {
        let (user, sig_of) = (public(user), sig_of.encode_seed());
        move |nonce: &str| {
            let signer = KeyPair::from_seed(&sig_of).unwrap();
            json!({"verbose": false, "nkey": user, "sig": sign_nonce(&signer, nonce)}).to_string()
        }
    };
    servers.check(&signed(&alice, &alice), "", OK, None);
    // Padded standard base64 is accepted too.
    let padded = {
        let (user, seed) = (public(&alice), alice.encode_seed());
        move |nonce: &str| {
            let pair = KeyPair::from_seed(&seed).unwrap();
            let sig = data_encoding::BASE64.encode(&pair.sign(nonce.as_bytes()));
            json!({"verbose": false, "nkey": user, "sig": sig}).to_string()
        }
    };
    servers.check(&padded, "", OK, None);
    servers.check(
        &signed(&alice, &bob),
        "",
        VIOLATION,
        Some(&format!(
            "authentication error - Nkey \"{}\"",
            public(&alice)
        )),
    );
    let unsigned = |nonce: &str| {
        let _ = nonce;
        json!({"verbose": false, "nkey": public(&alice)}).to_string()
    };
    servers.check(&unsigned, "", VIOLATION, Some("Signature missing"));
    let stranger = key(KeyKind::User);
    servers.check(&signed(&stranger, &stranger), "", VIOLATION, None);
    servers.check(
        &signed(&bob, &bob),
        "PUB no 1\r\nx\r\n",
        "-ERR 'Permissions Violation for Publish to \"no\"'\r\nPONG\r\n",
        None,
    );
}

/// An operator, its accounts and their users, in one configuration.
struct World {
    operator: KeyPair,
    operator_signer: KeyPair,
    account: KeyPair,
    account_signer: KeyPair,
    scoped: KeyPair,
    limited: KeyPair,
    no_bearer: KeyPair,
    expired: KeyPair,
    untrusted: KeyPair,
    defaults: KeyPair,
    revoked: KeyPair,
    revoked_at: i64,
    config: String,
}

fn world() -> World {
    let operator = key(KeyKind::Operator);
    let operator_signer = key(KeyKind::Operator);
    let system = key(KeyKind::Account);
    let account = key(KeyKind::Account);
    let account_signer = key(KeyKind::Account);
    let scoped = key(KeyKind::Account);
    let limited = key(KeyKind::Account);
    let no_bearer = key(KeyKind::Account);
    let expired = key(KeyKind::Account);
    let untrusted = key(KeyKind::Account);
    let defaults = key(KeyKind::Account);
    let revoked = key(KeyKind::User);
    let revoked_at = now() - 30;
    let op_jwt = operator_jwt(
        &operator,
        "OP",
        json!({"signing_keys": [public(&operator_signer)], "system_account": public(&system)}),
    );
    let mut revocations = serde_json::Map::new();
    revocations.insert(public(&revoked), revoked_at.into());
    let accounts = [
        (&system, account_jwt(&system, "SYS", &operator, json!({}))),
        (
            &account,
            account_jwt(
                &account,
                "APP",
                &operator_signer,
                json!({
                    "signing_keys": [
                        public(&account_signer),
                        {"kind": "user_scope", "key": public(&scoped), "role": "dev",
                         "template": {"pub": {"allow": ["dev.{{name()}}.>", "team.{{tag(team)}}.>"]},
                                      "sub": {}, "subs": -1, "data": -1, "payload": -1}}
                    ],
                    "revocations": revocations,
                }),
            ),
        ),
        (
            &limited,
            account_jwt(
                &limited,
                "LIMITED",
                &operator,
                json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                                  "exports": -1, "wildcards": true, "conn": 1, "leaf": -1}}),
            ),
        ),
        (
            &no_bearer,
            account_jwt(
                &no_bearer,
                "NOBEARER",
                &operator,
                json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                                  "exports": -1, "wildcards": true, "conn": -1, "leaf": -1,
                                  "disallow_bearer": true}}),
            ),
        ),
        (
            &expired,
            account_jwt_with(
                &expired,
                "EXPIRED",
                &operator,
                json!({}),
                json!({"exp": now() - 10}),
            ),
        ),
        (
            &untrusted,
            account_jwt(&untrusted, "UNTRUSTED", &key(KeyKind::Operator), json!({})),
        ),
        (
            &defaults,
            account_jwt(
                &defaults,
                "DEFAULTS",
                &operator,
                json!({"default_permissions": {"pub": {"allow": ["d.>"]}, "sub": {}},
                       "limits": {"subs": 1, "data": -1, "payload": 2, "imports": -1,
                                  "exports": -1, "wildcards": true, "conn": -1, "leaf": -1}}),
            ),
        ),
    ];
    let preload: String = accounts
        .iter()
        .map(|(k, j)| format!("  {}: {j}\n", public(k)))
        .collect();
    let config = format!(
        "operator: {op_jwt}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n",
        public(&system)
    );
    World {
        operator,
        operator_signer,
        account,
        account_signer,
        scoped,
        limited,
        no_bearer,
        expired,
        untrusted,
        defaults,
        revoked,
        revoked_at,
        config,
    }
}

#[test]
fn user_jwts_are_checked_as_nats_server_checks_them() {
    let w = world();
    let servers = Servers::start("jwt", &w.config);
    let _ = (&w.operator, &w.operator_signer);
    let user = key(KeyKind::User);
    let none = json!({});
    let plain = user_jwt(&user, &w.account, json!({}), json!({}));

    // Accepted: signed by the account, and by its signing key.
    servers.check(&with_jwt(plain.clone(), &user), "", OK, None);
    let by_signer = user_jwt(
        &user,
        &w.account_signer,
        json!({"issuer_account": public(&w.account)}),
        json!({}),
    );
    servers.check(&with_jwt(by_signer, &user), "", OK, None);

    // The nonce must be signed by the user's key.
    let other = key(KeyKind::User);
    servers.check(
        &with_jwt(plain.clone(), &other),
        "",
        VIOLATION,
        Some("Signature not verified"),
    );
    // A bearer JWT needs no signature, unless its account refuses them.
    let bearer = user_jwt(
        &user,
        &w.account,
        json!({"bearer_token": true}),
        none.clone(),
    );
    let unsigned = move |_: &str| json!({"verbose": false, "jwt": bearer}).to_string();
    servers.check(&unsigned, "", OK, None);
    let refused_bearer = user_jwt(
        &user,
        &w.no_bearer,
        json!({"bearer_token": true}),
        none.clone(),
    );
    servers.check(
        &with_jwt(refused_bearer, &user),
        "",
        VIOLATION,
        Some("Account does not allow bearer tokens"),
    );

    // Times: expired, not yet valid, outside its connect window.
    let expired = user_jwt(&user, &w.account, none.clone(), json!({"exp": now() - 5}));
    servers.check(
        &with_jwt(expired, &user),
        "",
        VIOLATION,
        Some("User JWT no longer valid"),
    );
    let early = user_jwt(
        &user,
        &w.account,
        none.clone(),
        json!({"nbf": now() + 3600}),
    );
    servers.check(
        &with_jwt(early, &user),
        "",
        VIOLATION,
        Some("User JWT no longer valid"),
    );
    let secs = (now() + 43_200) % 86_400;
    let window = format!("{:02}:{:02}:00", secs / 3600, secs / 60 % 60);
    let window_end = format!("{:02}:{:02}:00", (secs / 3600 + 1) % 24, secs / 60 % 60);
    let outside = user_jwt(
        &user,
        &w.account,
        json!({"times": [{"start": window, "end": window_end}], "times_location": "UTC"}),
        none.clone(),
    );
    servers.check(
        &with_jwt(outside, &user),
        "",
        VIOLATION,
        Some("Outside connect times"),
    );

    // Permissions whose subjects are not subjects.
    for bad in [
        json!({"pub": {"allow": ["a..b"]}}),
        json!({"pub": {"deny": ["a q"]}}),
        json!({"sub": {"allow": ["a q r"]}}),
        json!({"src": ["10.0.0.0/33"]}),
        json!({"times": [{"start": "25:00:00", "end": "26:00:00"}]}),
    ] {
        let jwt = user_jwt(&user, &w.account, bad, none.clone());
        servers.check(
            &with_jwt(jwt, &user),
            "",
            VIOLATION,
            Some("User JWT no longer valid"),
        );
    }

    // Inside a window (one that may cross midnight), in UTC.
    let clock = |t: i64| {
        let t = t.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    };
    let inside = user_jwt(
        &user,
        &w.account,
        json!({"times": [{"start": clock(now() - 3600), "end": clock(now() + 3600)}],
               "times_location": "UTC"}),
        none.clone(),
    );
    servers.check(&with_jwt(inside, &user), "", OK, None);

    // Where from, and how.
    let elsewhere = user_jwt(
        &user,
        &w.account,
        json!({"src": ["10.0.0.0/8"]}),
        none.clone(),
    );
    servers.check(
        &with_jwt(elsewhere, &user),
        "",
        VIOLATION,
        Some("Bad src Ip 127.0.0.1"),
    );
    let here = user_jwt(
        &user,
        &w.account,
        json!({"src": ["127.0.0.0/8"]}),
        none.clone(),
    );
    servers.check(&with_jwt(here, &user), "", OK, None);
    let websocket_only = user_jwt(
        &user,
        &w.account,
        json!({"allowed_connection_types": ["WEBSOCKET"]}),
        none.clone(),
    );
    servers.check(
        &with_jwt(websocket_only, &user),
        "",
        VIOLATION,
        Some("Connection type not allowed"),
    );

    // Who signed it.
    let stranger = key(KeyKind::Account);
    let unknown_signer = user_jwt(
        &user,
        &stranger,
        json!({"issuer_account": public(&w.account)}),
        none.clone(),
    );
    servers.check(
        &with_jwt(unknown_signer, &user),
        "",
        VIOLATION,
        Some("User JWT issuer is not known"),
    );
    let missing = user_jwt(&user, &stranger, none.clone(), none.clone());
    servers.check(
        &with_jwt(missing, &user),
        "",
        VIOLATION,
        Some("Account JWT lookup error"),
    );
    for account in [&w.expired, &w.untrusted] {
        let of_bad_account = user_jwt(&user, account, none.clone(), none.clone());
        servers.check(
            &with_jwt(of_bad_account, &user),
            "",
            VIOLATION,
            Some("Account JWT lookup error"),
        );
    }

    // Revoked at or after it was issued.
    let revoked = user_jwt_issued(&w.revoked, &w.account, none.clone(), w.revoked_at);
    servers.check(
        &with_jwt(revoked, &w.revoked),
        "",
        VIOLATION,
        Some("User authentication revoked"),
    );
    let reissued = user_jwt_issued(&w.revoked, &w.account, none.clone(), w.revoked_at + 1);
    servers.check(&with_jwt(reissued, &w.revoked), "", OK, None);

    // Nothing, or garbage, is no login.
    servers.check(&|_: &str| "{\"verbose\":false}".into(), "", VIOLATION, None);
    servers.check(
        &|_: &str| "{\"verbose\":false,\"jwt\":\"a.b.c\",\"sig\":\"x\"}".into(),
        "",
        VIOLATION,
        None,
    );
}

#[test]
fn user_jwt_permissions_and_limits_apply() {
    let w = world();
    let servers = Servers::start("jwt-perms", &w.config);
    let user = key(KeyKind::User);
    let none = json!({});
    let limited = user_jwt(
        &user,
        &w.account,
        json!({"pub": {"allow": ["ok.>", "_INBOX.>"]}, "sub": {"deny": ["secret"]},
               "subs": 1, "payload": 4}),
        none.clone(),
    );
    servers.check(
        &with_jwt(limited.clone(), &user),
        "PUB no 1\r\nx\r\nSUB secret 1\r\nSUB ok.a 2\r\nSUB ok.b 3\r\n",
        "-ERR 'Permissions Violation for Publish to \"no\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"secret\"'\r\n\
         -ERR 'maximum subscriptions exceeded'\r\nPONG\r\n",
        None,
    );
    servers.check(
        &with_jwt(limited, &user),
        "PUB ok.a 5\r\n12345\r\n",
        "-ERR 'Maximum Payload Violation'\r\n<closed>",
        None,
    );

    // A scoped signing key's template, filled with the user's name; the
    // user itself says nothing (as nsc writes scoped users).
    let bare = natsd::auth::jwt::encode(
        &json!({"sub": public(&user), "name": "kim",
                "nats": {"type": "user", "version": 2, "issuer_account": public(&w.account),
                         "tags": ["team:red", "team:blue"]}}),
        &w.scoped,
        now() - 60,
    );
    servers.check(
        &with_jwt(bare, &user),
        "PUB dev.kim.x 1\r\nx\r\nPUB dev.other.x 1\r\nx\r\nPUB team.red.x 1\r\nx\r\n\
         PUB team.blue.y 1\r\nx\r\nPUB team.green.x 1\r\nx\r\n",
        "-ERR 'Permissions Violation for Publish to \"dev.other.x\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"team.green.x\"'\r\nPONG\r\n",
        None,
    );

    // A user without permissions gets its account's defaults, and the
    // account's limits when they are the smaller.
    let plain = user_jwt(&user, &w.defaults, none.clone(), none.clone());
    servers.check(
        &with_jwt(plain.clone(), &user),
        "PUB d.x 1\r\nx\r\nPUB e.x 1\r\nx\r\nSUB a 1\r\nSUB b 2\r\n",
        "-ERR 'Permissions Violation for Publish to \"e.x\"'\r\n\
         -ERR 'maximum subscriptions exceeded'\r\nPONG\r\n",
        None,
    );
    servers.check(
        &with_jwt(plain, &user),
        "PUB d.x 3\r\nabc\r\n",
        "-ERR 'Maximum Payload Violation'\r\n<closed>",
        None,
    );
    // `resp`: a reply to a request it received, once.
    let responder = user_jwt(
        &user,
        &w.account,
        json!({"pub": {"allow": ["svc"]}, "resp": {"max": 1, "ttl": 0}}),
        none.clone(),
    );
    servers.check(
        &with_jwt(responder, &user),
        "SUB svc 1\r\nPUB svc reply.1 1\r\nq\r\nPUB reply.1 1\r\na\r\nPUB reply.1 1\r\nb\r\n",
        "MSG svc 1 reply.1 1\r\nq\r\n\
         -ERR 'Permissions Violation for Publish to \"reply.1\"'\r\nPONG\r\n",
        None,
    );
    let with_perms = user_jwt(
        &user,
        &w.scoped,
        json!({"issuer_account": public(&w.account), "pub": {"allow": [">"]}}),
        none.clone(),
    );
    servers.check(
        &with_jwt(with_perms, &user),
        "",
        VIOLATION,
        Some("User JWT is not valid"),
    );

    // One connection at a time in the limited account.
    for (name, server) in servers.each() {
        let first_user = key(KeyKind::User);
        let first_jwt = user_jwt(&first_user, &w.limited, none.clone(), none.clone());
        let mut first = Client::connect(server);
        let login = with_jwt(first_jwt, &first_user)(&first.nonce);
        assert_eq!(
            first.exchange(&format!("CONNECT {login}\r\nPING\r\n")),
            OK,
            "{name}"
        );
        let second_user = key(KeyKind::User);
        let second_jwt = user_jwt(&second_user, &w.limited, none.clone(), none.clone());
        let mut second = Client::connect(server);
        let login = with_jwt(second_jwt, &second_user)(&second.nonce);
        assert_eq!(
            second.exchange(&format!("CONNECT {login}\r\nPING\r\n")),
            "-ERR 'maximum account active connections exceeded'\r\n<closed>",
            "{name}"
        );
    }
    let _ = (&w.no_bearer, &w.expired, &w.untrusted);
}

#[test]
fn a_user_jwt_that_expires_closes_its_connection() {
    let w = world();
    let servers = Servers::start("jwt-expiry", &w.config);
    for (name, server) in servers.each() {
        let user = key(KeyKind::User);
        let soon = user_jwt(&user, &w.account, json!({}), json!({"exp": now() + 2}));
        let mut client = Client::connect(server);
        let login = with_jwt(soon, &user)(&client.nonce);
        assert_eq!(
            client.exchange(&format!("CONNECT {login}\r\nPING\r\n")),
            OK,
            "{name}"
        );
        let rest = read_until(&mut client.sock, |b| {
            String::from_utf8_lossy(b).contains("Expired'\r\n")
        });
        assert!(
            rest.contains("-ERR 'User Authentication Expired'\r\n"),
            "{name}: {rest:?}"
        );
    }
}

/// Start a server on `config`: whether it came up, and else the reason it
/// gave (without its own name or the file's position).
fn config_verdict(program: &str, config: &str, dir: &std::path::Path) -> (bool, String) {
    use std::io::BufRead;
    let conf = dir.join("check.conf");
    std::fs::write(&conf, config).unwrap();
    let mut child = std::process::Command::new(program)
        .args(["-c", conf.to_str().unwrap(), "-a", "127.0.0.1", "-p", "-1"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut first = String::new();
    let mut started = false;
    for line in lines.by_ref().map_while(Result::ok) {
        if line.contains("Server is ready") {
            started = true;
            break;
        }
        if first.is_empty() && (line.contains("[FTL]") || !line.contains("] ")) {
            first = line;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let reason = first
        .rsplit_once("[FTL] ")
        .map(|(_, r)| r.to_string())
        .unwrap_or_else(|| {
            first
                .split_once(": ")
                .map_or(first.clone(), |(_, r)| r.to_string())
        });
    let reason = match reason.split_once("check.conf:") {
        Some((_, rest)) => rest
            .splitn(3, ':')
            .nth(2)
            .unwrap_or(rest)
            .trim()
            .to_string(),
        None => reason,
    };
    (started, if started { String::new() } else { reason })
}

#[test]
fn operator_configs_are_refused_as_nats_server_refuses_them() {
    let Some(reference) = reference() else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("operator-configs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let op = key(KeyKind::Operator);
    let op_jwt = operator_jwt(&op, "OP", json!({}));
    let account = key(KeyKind::Account);
    let account_jwt = account_jwt(&account, "A", &op, json!({}));
    let user = key(KeyKind::User);
    let configs = [
        format!("operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{ {}: {account_jwt} }}", public(&account)),
        format!("operator: {op_jwt}\nresolver: MEMORY\naccounts {{ A {{}} }}"),
        format!("operator: {op_jwt}\nresolver: MEMORY\nauthorization {{ users [{{user: a, password: b}}] }}"),
        format!("operator: {op_jwt}\nresolver: MEMORY\ntrusted_keys: {}", public(&op)),
        format!("trusted_keys: [{}]\nno_auth_user: a\nauthorization {{ users [{{user: a, password: b}}] }}", public(&op)),
        format!("trusted_keys: [{}]", public(&user)),
        "resolver_preload: x".to_string(),
        format!("operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{ {}: bad }}", public(&account)),
        format!("operator: {account_jwt}\nresolver: MEMORY"),
        format!("authorization {{ users [ {{nkey: {}}} ] }}", public(&account)),
        format!("authorization {{ users [ {{nkey: {}, password: x}} ] }}", public(&user)),
        format!("authorization {{ users [ {{nkey: {}}} ] }}", public(&user)),
        format!("operator: {op_jwt}\nresolver: MEMORY\nno_auth_user: a"),
        format!("operator: {op_jwt}\nresolver: MEMORY\nsystem_account: {}", public(&account)),
        format!(
            "operator: {op_jwt}\nresolver: MEMORY\nsystem_account: {}\nresolver_preload {{ {}: {account_jwt} }}",
            public(&account),
            public(&account)
        ),
    ];
    for config in configs {
        let natsd = config_verdict(NATSD, &config, &dir);
        let go = config_verdict(&reference, &config, &dir);
        assert_eq!(natsd, go, "natsd against nats-server for:\n{config}");
    }
}

/// Read from `client` until what came contains `needle`.
fn read_for(client: &mut Client, needle: &str) -> String {
    read_until(&mut client.sock, |b| {
        String::from_utf8_lossy(b).contains(needle)
    })
}

/// Log `user` (signed for `account`) in on `server`, quietly.
fn login(server: &Running, user: &KeyPair, user_jwt: String) -> Client {
    let mut client = Client::connect(server);
    let connect = with_jwt(user_jwt, user)(&client.nonce);
    let got = client.exchange(&format!("CONNECT {connect}\r\nPING\r\n"));
    if got != OK {
        std::thread::sleep(Duration::from_millis(1000));
        panic!(
            "login refused by {}: {got:?}; log: {:#?}",
            server.child.id(),
            server.drain_log()
        );
    }
    client
}

#[test]
fn accounts_share_through_exports_and_activated_imports() {
    let operator = key(KeyKind::Operator);
    let exporter = key(KeyKind::Account);
    let importer = key(KeyKind::Account);
    let outsider = key(KeyKind::Account);
    let exports = json!({"exports": [
        {"name": "events", "subject": "events.>", "type": "stream"},
        {"name": "echo", "subject": "svc.>", "type": "service", "token_req": true},
    ]});
    let token = activation_jwt(&exporter, &importer, "svc.>", "service");
    let imports = json!({"imports": [
        {"name": "events", "subject": "events.>", "account": public(&exporter), "type": "stream",
         "local_subject": "from_exporter.>"},
        {"name": "echo", "subject": "svc.echo", "account": public(&exporter), "type": "service",
         "local_subject": "echo", "token": token},
    ]});
    // The outsider imports the private service without an activation.
    let outsider_imports = json!({"imports": [
        {"name": "echo", "subject": "svc.echo", "account": public(&exporter), "type": "service",
         "local_subject": "echo"},
    ]});
    // One that shows an activation made out to someone else is not a
    // valid account at all.
    let borrower = key(KeyKind::Account);
    let borrowed = json!({"imports": [
        {"name": "echo", "subject": "svc.echo", "account": public(&exporter), "type": "service",
         "local_subject": "echo", "token": token},
    ]});
    let preload = [
        (&exporter, account_jwt(&exporter, "EXP", &operator, exports)),
        (&importer, account_jwt(&importer, "IMP", &operator, imports)),
        (
            &outsider,
            account_jwt(&outsider, "OUT", &operator, outsider_imports),
        ),
        (
            &borrower,
            account_jwt(&borrower, "BORROWER", &operator, borrowed),
        ),
    ]
    .iter()
    .map(|(k, j)| format!("  {}: {j}\n", public(k)))
    .collect::<String>();
    let config = format!(
        "operator: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n",
        operator_jwt(&operator, "OP", json!({}))
    );
    let servers = Servers::start("jwt-imports", &config);
    let none = json!({});
    let b = key(KeyKind::User);
    servers.check(
        &with_jwt(user_jwt(&b, &borrower, none.clone(), none.clone()), &b),
        "",
        VIOLATION,
        Some("Account JWT lookup error: account validation failed"),
    );
    for (name, server) in servers.each() {
        let (e, i, o) = (key(KeyKind::User), key(KeyKind::User), key(KeyKind::User));
        let mut service = login(
            server,
            &e,
            user_jwt(&e, &exporter, none.clone(), none.clone()),
        );
        let mut client = login(
            server,
            &i,
            user_jwt(&i, &importer, none.clone(), none.clone()),
        );
        let mut outside = login(
            server,
            &o,
            user_jwt(&o, &outsider, none.clone(), none.clone()),
        );
        assert_eq!(service.exchange("SUB svc.echo 1\r\nPING\r\n"), OK, "{name}");
        assert_eq!(
            client.exchange("SUB from_exporter.> 1\r\nSUB _INBOX.me 2\r\nPING\r\n"),
            OK,
            "{name}"
        );
        assert_eq!(
            outside.exchange("SUB _INBOX.out 2\r\nPING\r\n"),
            OK,
            "{name}"
        );

        // The stream, under the importer's own subject.
        assert_eq!(service.exchange("PUB events.a 2\r\nhi\r\nPING\r\n"), OK);
        let got = read_for(&mut client, "hi\r\n");
        assert_eq!(got, "MSG from_exporter.a 1 2\r\nhi\r\n", "{name}");

        // The service, through the activated import only.
        assert_eq!(
            outside.exchange("PUB echo _INBOX.out 4\r\nping\r\nPING\r\n"),
            OK,
            "{name}: the outsider's request goes nowhere"
        );
        client
            .sock
            .write_all(b"PUB echo _INBOX.me 4\r\nping\r\n")
            .unwrap();
        let request = read_for(&mut service, "ping\r\n");
        let reply = request
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("{name}: {request:?}"))
            .to_string();
        assert!(reply.starts_with("_R_."), "{name}: {request:?}");
        service
            .sock
            .write_all(format!("PUB {reply} 4\r\npong\r\n").as_bytes())
            .unwrap();
        let answer = read_for(&mut client, "pong\r\n");
        assert_eq!(answer, "MSG _INBOX.me 2 4\r\npong\r\n", "{name}");
        assert_eq!(
            outside.exchange("PING\r\n"),
            OK,
            "{name}: nothing for the outsider"
        );
    }
}

#[test]
fn monitoring_shows_jwt_accounts_and_users_as_nats_server_does() {
    let w = world();
    let port = free_port().to_string();
    let servers = Servers::start_with("jwt-monitor", &w.config, &["-m", &port]);
    let user = key(KeyKind::User);
    let user_jwt = user_jwt(
        &user,
        &w.account_signer,
        json!({"issuer_account": public(&w.account), "tags": ["site:a"]}),
        json!({}),
    );
    let account = public(&w.account);
    let mut seen = Vec::new();
    for (name, server) in servers.each() {
        let _client = login(server, &user, user_jwt.clone());
        let port = monitor_port(server);
        let varz = monitor_json(port, "/varz");
        let detail =
            monitor_json(port, &format!("/accountz?acc={account}"))["account_detail"].clone();
        let connz = monitor_json(port, "/connz?auth=1");
        let conn = connz["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["authorized_user"] == public(&user))
            .unwrap_or_else(|| panic!("{name}: {connz}"))
            .clone();
        let shown = json!({
            "varz": {
                "trusted_operators_jwt": varz["trusted_operators_jwt"],
                "operator": varz["trusted_operators_claim"][0]["sub"],
                "system_account": varz["system_account"],
            },
            "accountz": {
                "account_name": detail["account_name"],
                "expired": detail["expired"],
                "jwt": detail["jwt"],
                "issuer_key": detail["issuer_key"],
                "name_tag": detail["name_tag"],
                "decoded_sub": detail["decoded_jwt"]["sub"],
                "decoded_type": detail["decoded_jwt"]["nats"]["type"],
                "revoked_user": detail["revoked_user"],
            },
            "connz": {
                "authorized_user": conn["authorized_user"],
                "account": conn["account"],
                "jwt": conn["jwt"],
                "issuer_key": conn["issuer_key"],
                "name_tag": conn["name_tag"],
                "tags": conn["tags"],
            },
        });
        assert_eq!(
            shown["connz"]["issuer_key"],
            public(&w.account_signer),
            "{name}"
        );
        assert_eq!(shown["accountz"]["name_tag"], "APP", "{name}");
        seen.push(shown);
    }
    if seen.len() == 2 {
        assert_eq!(seen[0], seen[1], "natsd, then nats-server");
    }
}

#[test]
fn a_reload_that_revokes_a_user_closes_its_connection() {
    let operator = key(KeyKind::Operator);
    let account = key(KeyKind::Account);
    let user = key(KeyKind::User);
    let config = |revocations: serde_json::Value| {
        let account_jwt = account_jwt(
            &account,
            "A",
            &operator,
            json!({"revocations": revocations}),
        );
        format!(
            "operator: {}\nresolver: MEMORY\nresolver_preload: {{ {}: {account_jwt} }}\n",
            operator_jwt(&operator, "OP", json!({})),
            public(&account)
        )
    };
    let servers = Servers::start("jwt-reload", &config(json!({})));
    let issued = now() - 100;
    let clients: Vec<Client> = servers
        .each()
        .into_iter()
        .map(|(_, server)| {
            login(
                server,
                &user,
                user_jwt_issued(&user, &account, json!({}), issued),
            )
        })
        .collect();
    let mut revoked = serde_json::Map::new();
    revoked.insert(public(&user), now().into());
    servers.reload(&config(serde_json::Value::Object(revoked)));
    for ((name, _), mut client) in servers.each().into_iter().zip(clients) {
        let rest = read_until(&mut client.sock, |b| b.ends_with(b"<closed>"));
        assert!(
            rest.ends_with("-ERR 'User Authentication Revoked'\r\n<closed>"),
            "{name}: {rest:?}"
        );
    }
}

#[test]
fn an_account_jwt_that_expires_closes_its_clients() {
    let operator = key(KeyKind::Operator);
    let account = key(KeyKind::Account);
    let expires = now() + 4;
    let config = format!(
        "operator: {}\nresolver: MEMORY\nresolver_preload: {{ {}: {} }}\n",
        operator_jwt(&operator, "OP", json!({})),
        public(&account),
        account_jwt_with(&account, "A", &operator, json!({}), json!({"exp": expires}))
    );
    let servers = Servers::start("jwt-account-expiry", &config);
    let user = key(KeyKind::User);
    let clients: Vec<Client> = servers
        .each()
        .into_iter()
        .map(|(_, server)| {
            login(
                server,
                &user,
                user_jwt(&user, &account, json!({}), json!({})),
            )
        })
        .collect();
    for ((name, _), mut client) in servers.each().into_iter().zip(clients) {
        let rest = read_until(&mut client.sock, |b| b.ends_with(b"<closed>"));
        assert!(
            rest.ends_with("-ERR 'Account Authentication Expired'\r\n<closed>"),
            "{name}: {rest:?}"
        );
    }
}
