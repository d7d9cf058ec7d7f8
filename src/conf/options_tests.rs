//! Each key's meaning, default, accepted types and errors; the command
//! line over the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{options_from_text, ConfigError, Loaded, MemoryLoader};
use crate::options::{Options, Overrides, User};

fn load_with(text: &str, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    options_from_text(
        text,
        Path::new("n.conf"),
        &mut MemoryLoader::default(),
        overrides,
    )
}

fn opts(text: &str) -> Options {
    match load_with(text, &Overrides::default()) {
        Ok(loaded) => loaded.options,
        Err(e) => panic!("{text:?} should load: {e}"),
    }
}

fn error(text: &str) -> String {
    match load_with(text, &Overrides::default()) {
        Ok(loaded) => panic!("{text:?} should fail, got {:?}", loaded.options),
        Err(e) => e.to_string(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    let loaded = load_with(text, &Overrides::default()).unwrap();
    loaded.warnings.iter().map(ToString::to_string).collect()
}

fn user(name: &str, password: &str) -> User {
    User {
        username: name.into(),
        password: password.into(),
        ..User::default()
    }
}

#[test]
fn listening() {
    let o = opts("host: 127.0.0.1\nport: 4333");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
    assert_eq!(opts("net: ::1").host, "::1");
    assert_eq!(opts("port: -1").port, -1, "a free port");
    assert_eq!(opts("port: 0").port, 4222, "nats-server's default");
    let o = opts("listen: 10.0.0.1:5222");
    assert_eq!((o.host.as_str(), o.port), ("10.0.0.1", 5222));
    let o = opts("listen: \"[::1]:5222\"");
    assert_eq!((o.host.as_str(), o.port), ("::1", 5222));
    let o = opts("host: 10.0.0.1\nlisten: 5222");
    assert_eq!(
        (o.host.as_str(), o.port),
        ("0.0.0.0", 5222),
        "listen sets both"
    );
    let o = opts("listen: \":5222\"");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 5222));
    assert_eq!(
        error("listen: nohost"),
        "n.conf:1:1: could not parse address string \"nohost\""
    );
    assert_eq!(
        error("listen: \"a:b\""),
        "n.conf:1:1: could not parse port \"b\""
    );
    assert_eq!(
        error("listen: \"a:b:1\""),
        "n.conf:1:1: could not parse address string \"a:b:1\""
    );
    assert_eq!(
        error("listen: true"),
        "n.conf:1:1: expected port or host:port, got a boolean"
    );
    assert_eq!(
        error("port: \"4222\""),
        "n.conf:1:1: port: expected an integer, got a string"
    );
    assert_eq!(error("port: 70000"), "invalid port 70000");
}

#[test]
fn names_logs_and_files() {
    let o = opts(
        "server_name: edge-1\ndebug: true\ntrace: yes\nlogtime: off\n\
         log_file: /var/log/natsd.log\npid_file: \"/run/natsd.pid\"\nports_file_dir: /run",
    );
    assert_eq!(o.server_name.as_deref(), Some("edge-1"));
    assert!(o.debug && o.trace && !o.logtime);
    assert_eq!(o.log_file, Some(PathBuf::from("/var/log/natsd.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/run/natsd.pid")));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/run")));
    let o = opts("logfile: a.log\npidfile: a.pid");
    assert_eq!((o.log_file.is_some(), o.pid_file.is_some()), (true, true));
    assert!(opts("trace_verbose: true").trace);
    assert_eq!(
        error("server_name: \"a b\""),
        "n.conf:1:1: server name cannot contain spaces"
    );
    assert_eq!(
        error("debug: 1"),
        "n.conf:1:1: debug: expected a boolean, got an integer"
    );
}

#[test]
fn limits() {
    let o = opts(
        "max_payload: 2MB\nmax_pending: 128MB\nmax_control_line: 8KB\n\
         max_connections: 100\nmax_subscriptions: 50\nping_max: 5",
    );
    assert_eq!(o.max_payload, 2 << 20);
    assert_eq!(o.max_pending, 128 << 20);
    assert_eq!(o.max_control_line, 8 << 10);
    assert_eq!(o.max_connections, 100);
    assert_eq!(o.max_subscriptions, 50);
    assert_eq!(o.max_pings_out, 5);
    let o = opts("max_conn: 7\nmax_subs: 8");
    assert_eq!((o.max_connections, o.max_subscriptions), (7, 8));
    // Zero is nats-server's default for these...
    let d = Options::default();
    let o = opts("max_payload: 0\nmax_pending: 0\nmax_control_line: 0\nping_max: 0");
    assert_eq!(
        (
            o.max_payload,
            o.max_pending,
            o.max_control_line,
            o.max_pings_out
        ),
        (
            d.max_payload,
            d.max_pending,
            d.max_control_line,
            d.max_pings_out
        )
    );
    // ...but no connection at all for max_connections.
    assert_eq!(opts("max_connections: 0").max_connections, 0);
    assert_eq!(opts("max_connections: -1").max_connections, 0);
    assert_eq!(
        opts("max_subscriptions: 0").max_subscriptions,
        0,
        "no limit"
    );
    assert_eq!(
        error("max_payload: 3000000000"),
        "n.conf:1:1: max_payload value is too big"
    );
    assert_eq!(
        error("max_payload: -1"),
        "n.conf:1:1: max_payload value can not be negative"
    );
    assert_eq!(
        error("max_payload: 2MB\nmax_pending: 1MB"),
        "max_payload (2097152) cannot be higher than max_pending (1048576)"
    );
}

#[test]
fn durations() {
    let o = opts("ping_interval: \"30s\"\nwrite_deadline: \"1.5s\"");
    assert_eq!(o.ping_interval, Duration::from_secs(30));
    assert_eq!(o.write_deadline, Duration::from_millis(1500));
    let d = Options::default();
    let o = opts("ping_interval: \"0s\"\nwrite_deadline: \"0\"");
    assert_eq!(
        (o.ping_interval, o.write_deadline),
        (d.ping_interval, d.write_deadline)
    );
    // Seconds as an integer still work, with nats-server's warning.
    assert_eq!(
        opts("ping_interval: 30").ping_interval,
        Duration::from_secs(30)
    );
    assert_eq!(
        warnings("ping_interval: 30"),
        ["n.conf:1:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"]
    );
    // An unquoted 2m is the integer two million, as nats-server reads it.
    assert_eq!(
        opts("write_deadline: 2m").write_deadline,
        Duration::from_secs(2_000_000)
    );
    assert_eq!(
        error("ping_interval: \"30\""),
        "n.conf:1:1: error parsing ping_interval: time: missing unit in duration \"30\""
    );
    assert_eq!(
        error("ping_interval: true"),
        "n.conf:1:1: ping_interval: expected a duration (like \"2m\"), got a boolean"
    );
    assert!(error("write_deadline: \"-1s\"").contains("can not be negative"));
}

#[test]
fn lame_duck() {
    let o = opts("lame_duck_duration: \"1m\"\nlame_duck_grace_period: \"5s\"");
    assert_eq!(o.lame_duck_duration, Duration::from_secs(60));
    assert_eq!(o.lame_duck_grace_period, Duration::from_secs(5));
    assert_eq!(
        opts("lame_duck_grace_period: \"0s\"").lame_duck_grace_period,
        Duration::from_secs(10)
    );
    assert_eq!(
        error("lame_duck_duration: \"10s\""),
        "n.conf:1:1: invalid lame_duck_duration of 10s, minimum is 30 seconds"
    );
    assert_eq!(
        error("lame_duck_duration: 60"),
        "n.conf:1:1: lame_duck_duration: expected a duration string (like \"2m\"), got an integer"
    );
    assert_eq!(
        error("lame_duck_grace_period: \"-1s\""),
        "n.conf:1:1: invalid lame_duck_grace_period, needs to be positive"
    );
    assert_eq!(
        error("lame_duck_duration: \"1m\"\nlame_duck_grace_period: \"2m\""),
        "lame duck grace period (2m0s) should be strictly lower than lame duck duration (1m0s)"
    );
}

#[test]
#[cfg(feature = "monitor")]
fn monitoring() {
    let o = opts("http: 8222");
    assert_eq!((o.http_host.as_str(), o.http_port), ("0.0.0.0", 8222));
    let o = opts("host: 127.0.0.1\nhttp_port: 8222");
    assert_eq!(o.http_host, "127.0.0.1", "follows the client host");
    let o = opts("host: 127.0.0.1\nhttp: \"10.0.0.1:8222\"");
    assert_eq!((o.http_host.as_str(), o.http_port), ("10.0.0.1", 8222));
    assert_eq!(opts("monitor_port: -1").http_port, -1);
    assert_eq!(opts("http_base_path: /nats").http_base_path, "/nats");
    // The file's port is kept under flags that do not set it.
    let overrides = Overrides {
        http_base_path: Some("/x".into()),
        ..Overrides::default()
    };
    let o = load_with("http_port: 8222", &overrides).unwrap().options;
    assert_eq!((o.http_port, o.http_base_path.as_str()), (8222, "/x"));
}

#[test]
#[cfg(not(feature = "monitor"))]
fn monitoring_is_refused_by_a_build_without_the_monitor() {
    let not_built = "is not supported by this build: \
                     natsd was built without the `monitor` feature";
    for (text, key) in [
        ("http_port: 8222", "http_port"),
        ("monitor_port: -1", "monitor_port"),
        ("http: \"127.0.0.1:8222\"", "http"),
        ("https_port: 8443", "https_port"),
        ("HTTPS: 8443", "HTTPS"),
    ] {
        assert_eq!(
            error(text),
            format!("n.conf:1:1: monitoring ({key}) {not_built}"),
            "{text}"
        );
    }
    // Off, as without the key; a base path alone serves nothing.
    assert_eq!(opts("http_port: 0").http_port, 0);
    assert_eq!(opts("http_base_path: /nats").http_base_path, "/nats");
    // A flag that asks for monitoring is refused too.
    let overrides = Overrides {
        http_port: Some(8222),
        ..Overrides::default()
    };
    let e = load_with("port: 4222", &overrides).unwrap_err().to_string();
    assert!(
        e.contains(&format!("monitoring (http_port) {not_built}")),
        "{e}"
    );
}

#[test]
#[cfg(not(feature = "leafnodes"))]
fn leaf_nodes_are_refused_by_a_build_without_them() {
    let not_built = "leaf nodes are not supported by this build: natsd was built without the \
                     `leafnodes` feature";
    for text in ["leafnodes { port: 7422 }", "leaf {}", "LeafNodes: 1"] {
        assert_eq!(error(text), format!("n.conf:1:1: {not_built}"), "{text}");
    }
    // Options built in code are refused too.
    let o = Options {
        leafnodes: Some(crate::options::LeafnodeOptions::default()),
        ..Options::default()
    };
    assert_eq!(o.validate().unwrap_err(), not_built);
}

#[test]
fn single_user_and_token() {
    let o = opts("authorization { user: a, password: b, timeout: 5 }");
    assert_eq!(
        (o.username.as_deref(), o.password.as_deref()),
        (Some("a"), Some("b"))
    );
    assert_eq!(o.auth_timeout, Duration::from_secs(5));
    let o = opts("authorization { username: a, pass: b }");
    assert_eq!(o.username.as_deref(), Some("a"));
    let o = opts("authorization { token: s3cr3t, timeout: 0.5 }");
    assert_eq!(o.authorization.as_deref(), Some("s3cr3t"));
    assert_eq!(o.auth_timeout, Duration::from_millis(500));
    assert_eq!(
        opts("authorization { timeout: \"3s\" }").auth_timeout,
        Duration::from_secs(3)
    );
    assert_eq!(
        opts("authorization { }").auth_timeout,
        Duration::from_secs(2)
    );
    assert_eq!(
        warnings("authorization { timeout: 120 }"),
        ["n.conf:1:17: invalid use of field \"timeout\": timeout of 120 (120.000000 seconds) is \
          high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use \
          '1m' instead of 1m, for example"]
    );
    assert_eq!(
        error("authorization { user: a, password: b, token: c }"),
        "n.conf:1:1: Cannot have a user/pass and token"
    );
    assert_eq!(
        error("authorization { timeout: true }"),
        "n.conf:1:17: error parsing authorization config, 'timeout' wrong type"
    );
    assert_eq!(
        error("authorization { timeout: \"x\" }"),
        "n.conf:1:17: error parsing authorization config, 'timeout' time: invalid duration \"x\""
    );
    assert_eq!(
        error("authorization: 5"),
        "n.conf:1:1: authorization: expected a map, got an integer"
    );
    assert_eq!(
        error("authorization { bogus: 1 }"),
        "n.conf:1:17: unknown field \"bogus\""
    );
}

#[test]
fn users_and_no_auth_user() {
    let o = opts(
        "authorization {\n  users: [\n    {user: alice, password: a}\n    \
         {username: bob, pass: b}\n    {user: guest}\n  ]\n}\nno_auth_user: guest",
    );
    assert_eq!(
        o.users,
        Some(vec![
            user("alice", "a"),
            user("bob", "b"),
            user("guest", "")
        ])
    );
    assert_eq!(o.no_auth_user.as_deref(), Some("guest"));
    assert!(o.auth_required());
    assert_eq!(opts("authorization { users: [] }").users, Some(Vec::new()));
    for (text, message) in [
        (
            "authorization { user: a, users: [] }",
            "n.conf:1:1: Can not have a single user/pass and a users array",
        ),
        (
            "authorization { token: t, users: [] }",
            "n.conf:1:1: Can not have a token and a users array",
        ),
        (
            "authorization { users: [ {user: a}, {user: a} ] }",
            "n.conf:1:17: Duplicate user \"a\" detected",
        ),
        (
            "authorization { users: [ {password: p} ] }",
            "n.conf:1:26: User entry requires a user",
        ),
        (
            "authorization { users: [ a ] }",
            "n.conf:1:26: Expected user entry to be a map/struct, got a string",
        ),
        (
            "authorization { users: a }",
            "n.conf:1:17: Expected users field to be an array, got a string",
        ),
        (
            "authorization { users: [ {user: a, bogus: 1} ] }",
            "n.conf:1:36: unknown field \"bogus\"",
        ),
        (
            "no_auth_user: a",
            "no_auth_user: \"a\" present, but users/nkeys are not defined",
        ),
        (
            "authorization { users: [ {user: a} ] }\nno_auth_user: z",
            "no_auth_user: \"z\" not present as user or nkey in authorization block or account configuration",
        ),
    ] {
        assert_eq!(error(text), message, "{text:?}");
    }
}

#[cfg(not(feature = "jwt"))]
#[test]
fn a_build_without_jwt_refuses_nkeys_and_operators() {
    const KEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    assert_eq!(
        error(&format!("authorization {{ users: [ {{nkey: {KEY}}} ] }}")),
        "an nkey user is not supported by this build: natsd was built without the `jwt` feature"
    );
    assert!(error("operator: op.jwt").contains("built without the `jwt` feature"));
    assert!(error("resolver: MEMORY").contains("built without the `jwt` feature"));
}

#[cfg(feature = "jwt")]
#[test]
fn nkey_users_are_checked_as_nats_server_checks_them() {
    const KEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    let o = opts(&format!(
        "authorization {{ users: [ {{nkey: {KEY}, permissions: {{publish: a}}}} ] }}\n\
         no_auth_user: {KEY}"
    ));
    let users = o.users.unwrap();
    assert_eq!(users[0].nkey.as_deref(), Some(KEY));
    assert_eq!(users[0].name(), KEY);
    assert!(users[0].permissions.is_some());
    assert!(o.no_auth_user.is_some());
    for (text, message) in [
        (
            format!("authorization {{ users: [ {{nkey: {KEY}, user: a}} ] }}"),
            "n.conf:1:26: Nkey users do not take usernames or passwords",
        ),
        (
            // A checksum off by one letter, and an account key.
            "authorization { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF5} ] }".into(),
            "n.conf:1:26: Not a valid public nkey for a user",
        ),
        (
            "authorization { users: [ {nkey: ADXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ] }".into(),
            "n.conf:1:26: Not a valid public nkey for a user",
        ),
        (
            format!("authorization {{ users: [ {{nkey: {KEY}}}, {{nkey: {KEY}}} ] }}"),
            &format!("n.conf:1:17: Duplicate nkey \"{KEY}\" detected"),
        ),
    ] {
        assert_eq!(error(&text), message, "{text}");
    }
}

#[cfg(feature = "jwt")]
#[test]
fn users_keep_their_allowed_connection_types() {
    let loaded = load_with(
        "authorization { users: [\n  {user: a}\n  {user: ws, allowed_connection_types: [WEBSOCKET]}\n  \
         {user: both, allowed_connection_types: [\"standard\", \"mqtt\"]}\n  \
         {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}\n] }",
        &Overrides::default(),
    )
    .unwrap();
    let users = loaded.options.users.unwrap();
    let types: Vec<_> = users.iter().map(|u| u.connection_types.clone()).collect();
    assert_eq!(
        types,
        [
            None,
            Some(vec!["WEBSOCKET".to_string()]),
            Some(vec!["STANDARD".to_string(), "MQTT".to_string()]),
            None
        ]
    );
    assert!(users[1].allows("WEBSOCKET") && !users[1].allows("STANDARD"));
    assert!(users[2].allows("STANDARD") && !users[2].allows("WEBSOCKET"));
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    assert_eq!(
        error("authorization { users: [ {user: a, allowed_connection_types: [BOGUS]} ] }"),
        "n.conf:1:36: unknown connection type \"BOGUS\""
    );
    assert!(error("authorization { auth_callout: {} }").contains("no auth callout yet"));
}

#[test]
fn unknown_unsupported_and_refused_keys() {
    assert_eq!(error("bogus: 1"), "n.conf:1:1: unknown field \"bogus\"");
    // Every error at once, each at its key.
    assert_eq!(
        error("bogus: 1\nport: x\nother: 2"),
        "n.conf:1:1: unknown field \"bogus\"\nn.conf:2:1: port: expected an integer, got a \
         string\nn.conf:3:1: unknown field \"other\""
    );
    // A key the file refers to as a variable is not unknown.
    assert_eq!(opts("p = 4333\nport: $p").port, 4333);
    // Option names are matched in any case, as nats-server does.
    let o = opts("PORT: 4333\nDebug: true");
    assert!(o.debug && o.port == 4333);
    let loaded = load_with(
        "gateway { port: 7222 }\njetstream: disabled\nstore_dir: /data/nats",
        &Overrides::default(),
    )
    .unwrap();
    let notes: Vec<String> = loaded.unsupported.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        ["n.conf:1:1: \"gateway\" is not supported by natsd yet and is ignored",]
    );
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.options.store_dir.as_deref(),
        Some(Path::new("/data/nats")),
        "kept for when natsd persists"
    );
    for enabled in [
        "jetstream: enabled",
        "jetstream: true",
        "jetstream {}",
        "jetstream { max_mem: 1G }",
    ] {
        assert!(
            error(enabled).contains("\"jetstream\" is not supported: natsd has no JetStream yet"),
            "{enabled}"
        );
    }
    for disabled in [
        "jetstream: disabled",
        "jetstream: false",
        "jetstream { enabled: false }",
    ] {
        opts(disabled);
    }
    assert_eq!(
        error("tls { cert_file: a }"),
        "n.conf:1:1: missing 'key_file' in TLS configuration"
    );
    assert_eq!(
        error("tls { cert_file: a, key_file: b, pinned_certs: [abc] }"),
        "error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded \
         sha256 of DER encoded SubjectPublicKeyInfo"
    );
    // The auth timeout with TLS is the TLS timeout and a second more,
    // unless the file sets one.
    #[cfg(feature = "tls")]
    {
        let with_tls = "tls { cert_file: a, key_file: b, timeout: 1 }";
        assert_eq!(opts(with_tls).auth_timeout, Duration::from_secs(2));
        assert_eq!(
            opts(&format!("{with_tls}\nauthorization {{ timeout: 5 }}")).auth_timeout,
            Duration::from_secs(5)
        );
    }
    #[cfg(feature = "jwt")]
    assert!(error("operator: op.jwt").contains("error parsing operator JWT"));
}

#[cfg(feature = "websocket")]
#[test]
fn websocket_blocks_as_nats_server_reads_them() {
    let ws = opts(
        "websocket { listen: \"127.0.0.1:8080\", no_tls: true, compression: true, \
         allowed_origins: [\"http://a.com\"], handshake_timeout: \"2s\", \
         authorization { token: t, timeout: 1.5 }, headers { X-A: b } }",
    )
    .websocket
    .unwrap();
    assert_eq!((ws.host.as_str(), ws.port), ("127.0.0.1", 8080));
    assert!(ws.no_tls && ws.compression);
    assert_eq!(ws.allowed_origins, ["http://a.com"]);
    assert_eq!(ws.handshake_timeout, Duration::from_secs(2));
    assert_eq!(ws.token.as_deref(), Some("t"));
    assert_eq!(ws.auth_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(ws.headers, [("X-A".to_string(), "b".to_string())]);
    // No port: no WebSocket, whatever else the block says.
    assert!(opts("ws { compression: true }").websocket.is_none());
    assert_eq!(
        error("websocket { port: 8080 }"),
        "websocket requires TLS configuration"
    );
    assert_eq!(
        error("websocket { port: 8080, no_tls: true, bogus: 1 }"),
        "n.conf:1:39: unknown field \"bogus\""
    );
    assert!(
        error("websocket { port: 8080, no_tls: true, allowed_origins: [foo] }")
            .contains("unable to parse allowed origin")
    );
    assert_eq!(
        error("websocket { port: 8080, no_tls: true, headers { Host: x } }"),
        "websocket: invalid header \"Host\" not allowed"
    );
    assert!(
        error("websocket { port: 8080, no_tls: true, jwt_cookie: jwt }")
            .starts_with("trusted operators or trusted keys configuration is required")
    );
}

#[cfg(feature = "jwt")]
#[test]
fn operator_mode_keys_are_checked_as_nats_server_checks_them() {
    use crate::auth::jwt;
    use crate::auth::nkeys::{KeyKind, KeyPair};
    let op = KeyPair::from_raw_seed(KeyKind::Operator, [1; 32]);
    let op_key = op.public_key().encode();
    let op_jwt = jwt::encode(
        &serde_json::json!({"sub": op_key, "name": "OP", "nats": {"type": "operator", "version": 2}}),
        &op,
        1,
    );
    let account = KeyPair::from_raw_seed(KeyKind::Account, [2; 32]);
    let account_key = account.public_key().encode();
    let account_jwt = jwt::encode(
        &serde_json::json!({"sub": account_key, "nats": {"type": "account", "version": 2}}),
        &op,
        1,
    );
    let o = opts(&format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{ {account_key}: {account_jwt} }}\n\
         system_account: {account_key}"
    ));
    assert_eq!(o.trusted_operators, vec![op_jwt.clone()]);
    assert_eq!(o.resolver, Some(crate::options::AccountResolver::Memory));
    assert_eq!(
        o.resolver_preload,
        vec![(account_key.clone(), account_jwt.clone())]
    );
    assert_eq!(o.system_account, account_key);
    assert!(o.auth_required() && o.nonce_required());
    let o = opts(&format!("trusted_keys: [{op_key}]"));
    assert_eq!(o.trusted_keys, vec![op_key.clone()]);

    for (text, message) in [
        (
            format!("operator: {op_jwt}"),
            "operators require an account resolver to be configured".to_string(),
        ),
        (
            format!("operator: {op_jwt}\nresolver: MEM\naccounts {{ A {{}} }}"),
            "operators do not allow Accounts to be configured directly".into(),
        ),
        (
            format!("operator: {op_jwt}\nresolver: MEM\nauthorization {{ users [{{user: a}}] }}"),
            "operators do not allow users to be configured directly".into(),
        ),
        (
            format!("operator: {op_jwt}\nresolver: MEM\ntrusted_keys: {op_key}"),
            "conflicting options for 'TrustedKeys' and 'TrustedOperators'".into(),
        ),
        (
            format!("operator: {op_jwt}\nresolver: MEM\nno_auth_user: a"),
            "no_auth_user not compatible with Trusted Operator".into(),
        ),
        (
            "trusted_keys: [ABC]".into(),
            "n.conf:1:1: trust key \"ABC\" required to be a valid public operator nkey".into(),
        ),
        (
            "resolver_preload: x".into(),
            "n.conf:1:1: preload should be a map of account_public_key:account_jwt".into(),
        ),
        (
            format!("resolver_preload {{ {account_key}: bad }}"),
            "n.conf:1:20: invalid account JWT".into(),
        ),
        (
            format!("operator: {account_jwt}"),
            "n.conf:1:1: error parsing operator JWT: not operator claim".into(),
        ),
    ] {
        assert_eq!(error(&text), message, "{text}");
    }
    assert!(
        error("resolver: URL(http://localhost:9090/jwt/v1/accounts/)")
            .contains("the URL account resolver is not supported by natsd yet")
    );
    assert!(error("resolver { type: full, dir: \"./jwt\" }")
        .contains("account resolvers (full, cache) are not supported by natsd yet"));
    assert!(error("resolver_pinned_accounts: [A]").contains("no pinned accounts"));
}

#[test]
fn an_empty_file_warns_as_in_nats_server() {
    assert_eq!(
        warnings("# nothing\n"),
        ["n.conf: config has no values or is empty"]
    );
}

#[test]
fn flags_given_win_and_others_keep_the_file() {
    let file = "port: 4333\nhost: 127.0.0.1\ndebug: false\nserver_name: file\n\
                authorization { user: a, password: b }";
    let overrides = Overrides {
        port: Some(5000),
        debug: true,
        password: Some("flag".into()),
        http_base_path: Some("/x".into()),
        ..Overrides::default()
    };
    let o = load_with(file, &overrides).unwrap().options;
    assert_eq!(o.port, 5000);
    assert!(o.debug);
    assert_eq!(o.password.as_deref(), Some("flag"));
    assert_eq!(o.username.as_deref(), Some("a"), "from the file");
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.server_name.as_deref(), Some("file"));
    assert_eq!(o.http_base_path, "/x");
    // The monitor follows a host given on the command line too.
    let o = load_with(
        file,
        &Overrides {
            host: Some("::1".into()),
            ..Overrides::default()
        },
    )
    .unwrap()
    .options;
    assert_eq!(o.http_host, "::1");
}

#[test]
fn the_digest_is_nats_servers() {
    let loaded = load_with("port: 4333\n", &Overrides::default()).unwrap();
    assert_eq!(
        loaded.digest,
        "sha256:5942f6739f1572892ba80b954eee212713f172258629e16936dfeeae8e2eb80d"
    );
}
