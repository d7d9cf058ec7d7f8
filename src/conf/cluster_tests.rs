//! `cluster {}` and the cluster flags: each key, alias and default, and
//! nats-server's texts (checked against nats-server v2.15.1 where they are
//! its own; tests/config.rs runs both on the same bad files).

use std::path::Path;
use std::time::Duration;

use super::{cluster_listen_flag, routes_flag};
use crate::conf::{options_from_text, Loaded, MemoryLoader};
use crate::options::{
    ClusterListen, ClusterOptions, Options, Overrides, RoutePermissions, SubjectPermission,
};

fn load_with(text: &str, overrides: &Overrides) -> Result<Loaded, String> {
    options_from_text(
        text,
        Path::new("n.conf"),
        &mut MemoryLoader::default(),
        overrides,
    )
    .map_err(|e| e.to_string())
}

fn loaded(text: &str) -> Loaded {
    load_with(text, &Overrides::default()).unwrap_or_else(|e| panic!("{text:?} should load: {e}"))
}

fn cluster(text: &str) -> ClusterOptions {
    loaded(text).options.cluster.expect("a cluster block")
}

fn error(text: &str) -> String {
    match load_with(text, &Overrides::default()) {
        Ok(l) => panic!("{text:?} should fail, got {:?}", l.options.cluster),
        Err(e) => e,
    }
}

fn strings(diagnostics: &[crate::conf::Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn no_block_no_cluster() {
    assert_eq!(loaded("port: 4222").options.cluster, None);
    assert_eq!(Options::default().cluster, None);
}

#[test]
fn defaults_as_nats_servers_baseline() {
    let c = cluster("cluster { port: 6222 }");
    assert_eq!(
        c,
        ClusterOptions {
            host: "0.0.0.0".into(),
            port: 6222,
            ..ClusterOptions::default()
        }
    );
    assert_eq!(c.compression, "accept", "nats-server's default mode");
    assert_eq!((c.pool_size, c.connect_retries), (0, 0));
    assert!(!c.connect_backoff && !c.no_advertise);
    // No port: no host either (nats-server's setBaselineOptions).
    let c = cluster("cluster { name: c1 }");
    assert_eq!((c.host.as_str(), c.port), ("", 0));
    assert_eq!(c.name.as_deref(), Some("c1"));
    assert_eq!(cluster("cluster {}"), ClusterOptions::default());
}

#[test]
fn listener_keys_and_aliases() {
    let c = cluster("cluster { listen: \"127.0.0.1:6333\" }");
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 6333));
    let c = cluster("cluster { listen: 6333 }");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 6333));
    let c = cluster("cluster { listen: \"[::1]:-1\" }");
    assert_eq!((c.host.as_str(), c.port), ("::1", -1));
    for key in ["host", "net", "HOST"] {
        let c = cluster(&format!("cluster {{ {key}: 10.0.0.1, port: -1 }}"));
        assert_eq!((c.host.as_str(), c.port), ("10.0.0.1", -1), "{key}");
    }
    for key in ["advertise", "cluster_advertise"] {
        let c = cluster(&format!("cluster {{ port: 1, {key}: \"a.example:6222\" }}"));
        assert_eq!(c.advertise.as_deref(), Some("a.example:6222"), "{key}");
    }
    let c = cluster(
        "cluster { port: 1, no_advertise: true, connect_retries: 5, connect_backoff: true }",
    );
    assert!(c.no_advertise && c.connect_backoff);
    assert_eq!(c.connect_retries, 5);
    assert_eq!(
        error("cluster { listen: \"a:b\" }"),
        "n.conf:1:11: could not parse port \"b\""
    );
    assert_eq!(
        error("cluster { port: 70000 }"),
        "invalid cluster port 70000"
    );
}

#[test]
fn the_name_has_no_spaces() {
    assert_eq!(
        error("cluster {\n name: \"a b\"\n}"),
        "n.conf:2:2: cluster name cannot contain spaces"
    );
    assert_eq!(cluster("cluster { name: \"\" }").name, None);
}

#[test]
fn routes_as_written_with_duplicates_warned() {
    let l = loaded(
        "cluster {\n port: 6222\n routes: [\n  nats-route://u:p@a:6222\n  \" nats://b:6223 \"\n  \
         nats-route://u:p@a:6222\n ]\n}",
    );
    let c = l.options.cluster.unwrap();
    assert_eq!(c.routes, ["nats-route://u:p@a:6222", "nats://b:6223"]);
    assert_eq!(
        strings(&l.warnings),
        [
            "n.conf:6:3: invalid use of field \"nats-route://u:p@a:6222\": Duplicate route entry \
          detected"
        ]
    );
    // Any scheme: nats-server dials the host and port whatever it is.
    assert_eq!(
        cluster("cluster { port: 1, routes: [\"tls://[::1]:6222\"] }").routes,
        ["tls://[::1]:6222"]
    );
    assert!(cluster("cluster { port: 1, routes: [] }").routes.is_empty());
}

#[test]
fn route_url_errors() {
    let route = |url: &str| {
        error(&format!(
            "cluster {{\n port: 1\n routes: [\n  \"{url}\"\n ]\n}}"
        ))
    };
    assert_eq!(
        route("nats://a b:1"),
        "n.conf:4:3: error parsing route url [\"nats://a b:1\"]"
    );
    assert_eq!(
        route("nats://a:12x"),
        "n.conf:4:3: error parsing route url [\"nats://a:12x\"]"
    );
    // natsd's own: nats-server takes them and fails to dial them forever.
    assert_eq!(
        route("nats://a"),
        "n.conf:4:3: error parsing route url [\"nats://a\"]: no port (a URL such as \
         nats-route://host:6222 is expected)"
    );
    assert_eq!(
        route("nats://:6222"),
        "n.conf:4:3: error parsing route url [\"nats://:6222\"]: no host (a URL such as \
         nats-route://host:6222 is expected)"
    );
    assert!(route("a:6222").contains("no host"), "opaque to Go");
    assert_eq!(
        error("cluster {\n routes: \"nats://a:1\"\n}"),
        "n.conf:2:2: routes: expected an array, got a string"
    );
    assert_eq!(
        error("cluster {\n routes: [\n  1\n ]\n}"),
        "n.conf:3:3: error parsing route urls: unsupported type in array int64"
    );
    // Routes need a listener: nats-server would never dial them.
    assert_eq!(
        error("cluster { routes: [\"nats://a:1\"] }"),
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
    assert_eq!(
        error("cluster { host: 127.0.0.1, routes: [\"nats://a:1\"] }"),
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
}

#[test]
fn authorization_single_user_and_timeout() {
    let c = cluster(
        "cluster { port: 1, authorization { user: ruser, password: \"T0p$\", timeout: 0.5 } }",
    );
    assert_eq!(c.username.as_deref(), Some("ruser"));
    assert_eq!(c.password.as_deref(), Some("T0p$"));
    assert_eq!(c.auth_timeout, Some(Duration::from_millis(500)));
    let c = cluster("cluster { port: 1, authorization { username: u, pass: p, timeout: \"3s\" } }");
    assert_eq!(
        (c.username.as_deref(), c.password.as_deref()),
        (Some("u"), Some("p"))
    );
    assert_eq!(c.auth_timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        cluster("cluster { authorization { timeout: 0 } }").auth_timeout,
        None
    );
    let l = loaded("cluster {\n authorization {\n  timeout: 61\n }\n}");
    assert_eq!(
        strings(&l.warnings),
        [
            "n.conf:3:3: invalid use of field \"timeout\": timeout of 61 (61.000000 seconds) is \
          high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use \
          '1m' instead of 1m, for example"
        ]
    );
    assert_eq!(
        error("cluster {\n authorization {\n  timeout: \"x\"\n }\n}"),
        "n.conf:3:3: error parsing authorization config, 'timeout' time: invalid duration \"x\""
    );
    assert_eq!(
        error("cluster {\n authorization {\n  timeout: -1\n }\n}"),
        "n.conf:3:3: authorization timeout can not be negative"
    );
}

#[test]
fn authorization_errors_as_nats_server() {
    for (block, text) in [
        (
            "users: []",
            "Cluster authorization does not allow multiple users",
        ),
        (
            "users: [{user: a, password: b}]",
            "Cluster authorization does not allow multiple users",
        ),
        ("token: t", "Cluster authorization does not support tokens"),
        (
            "auth_callout { issuer: x }",
            "Cluster authorization does not support callouts",
        ),
    ] {
        assert_eq!(
            error(&format!("cluster {{\n authorization {{ {block} }}\n}}")),
            format!("n.conf:2:2: {text}"),
            "{block}"
        );
    }
    assert_eq!(
        error("cluster {\n authorization { bogus: 1 }\n}"),
        "n.conf:2:18: unknown field \"bogus\""
    );
    assert_eq!(
        error("cluster {\n authorization: 1\n}"),
        "n.conf:2:2: authorization: expected a map, got an integer"
    );
    // proxy_required is read and means nothing for routes, as in
    // nats-server.
    cluster("cluster { authorization { proxy_required: true } }");
}

#[test]
fn permissions_import_and_export() {
    let c = cluster(
        "cluster { port: 1, permissions { import: \"foo.>\", export: { allow: [\"bar.*\"], deny: \
         \"bar.secret\" } } }",
    );
    assert_eq!(
        c.permissions,
        Some(RoutePermissions {
            import: Some(SubjectPermission {
                allow: Some(vec!["foo.>".into()]),
                deny: vec![],
            }),
            export: Some(SubjectPermission {
                allow: Some(vec!["bar.*".into()]),
                deny: vec!["bar.secret".into()],
            }),
        })
    );
    // publish/subscribe are nats-server's other names for import/export.
    let c = cluster("cluster { permissions { publish: a, sub: b } }");
    let p = c.permissions.unwrap();
    assert_eq!(p.import.unwrap().allow, Some(vec!["a".to_string()]));
    assert_eq!(p.export.unwrap().allow, Some(vec!["b".to_string()]));
    assert_eq!(
        error("cluster {\n permissions { allow_responses: true }\n}"),
        "n.conf:2:2: Cluster permissions do not support dynamic responses"
    );
    assert_eq!(
        error("cluster {\n permissions { export: \"a b\" }\n}"),
        "n.conf:2:2: cluster export allow: subject \"a b\" is not a valid subject"
    );
    assert!(
        error("cluster {\n permissions { import: { deny: \"a..b\" } }\n}")
            .ends_with("subject \"a..b\" is not a valid subject")
    );
    assert_eq!(
        error("cluster {\n permissions: 1\n}"),
        "n.conf:2:2: Expected permissions to be a map/struct, got 1"
    );
}

#[test]
fn permissions_in_authorization_are_deprecated_and_lose_to_the_blocks() {
    let l =
        loaded("cluster {\n authorization { user: a, password: b, permissions { import: x } }\n}");
    assert_eq!(
        strings(&l.warnings),
        [
            "n.conf:2:2: invalid use of field \"authorization\": setting \"permissions\" within \
          cluster authorization block is deprecated"
        ]
    );
    let p = l.options.cluster.unwrap().permissions.unwrap();
    assert_eq!(p.import.unwrap().allow, Some(vec!["x".to_string()]));
    // The block's own permissions win, before or after.
    for text in [
        "cluster { permissions { import: y }, authorization { permissions { import: x } } }",
        "cluster { authorization { permissions { import: x } }, permissions { import: y } }",
    ] {
        let p = loaded(text).options.cluster.unwrap().permissions.unwrap();
        assert_eq!(
            p.import.unwrap().allow,
            Some(vec!["y".to_string()]),
            "{text}"
        );
    }
    assert_eq!(
        error("cluster {\n authorization { permissions { export: \"a b\" } }\n}"),
        "n.conf:2:2: cluster export allow: subject \"a b\" is not a valid subject"
    );
}

#[test]
fn tls_verifies_peers_always() {
    let c = cluster(
        "cluster { port: 1, tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, timeout: 3 } }",
    );
    let tls = c.tls.unwrap();
    assert!(tls.verify, "nats-server forces verification on routes");
    assert_eq!(tls.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        error("cluster {\n tls { cert_file: x }\n}"),
        "n.conf:2:2: missing 'key_file' in TLS configuration"
    );
    assert_eq!(
        error("cluster {\n tls { pinned_certs: [\"x\"] }\n}"),
        "n.conf:2:2: error parsing tls config, 'pinned_certs' key x does not look like \
         hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
    );
    for key in ["insecure", "verify_cert_and_check_known_urls"] {
        assert_eq!(
            error(&format!("cluster {{\n tls {{ {key}: true }}\n}}")),
            format!("n.conf:2:8: cluster: tls {key} is not supported by natsd"),
        );
        cluster(&format!("cluster {{ tls {{ {key}: false }} }}"));
    }
}

#[test]
fn pool_size_is_warned_unless_minus_one() {
    let l = loaded("cluster {\n port: 1\n pool_size: -1\n}");
    assert!(l.unsupported.is_empty() && l.warnings.is_empty());
    assert_eq!(l.options.cluster.unwrap().pool_size, -1);
    for n in [0, 1, 3, 10] {
        let l = loaded(&format!("cluster {{\n port: 1\n pool_size: {n}\n}}"));
        assert_eq!(
            strings(&l.unsupported),
            [format!(
                "n.conf:3:2: cluster: pool_size {n} is not supported by natsd and is ignored: \
                 natsd does not pool routes (it behaves as pool_size: -1)"
            )]
        );
        assert!(l.warnings.is_empty(), "the server starts, and -t passes");
    }
    assert_eq!(
        error("cluster {\n pool_size: \"x\"\n}"),
        "n.conf:2:2: pool_size: expected an integer, got a string"
    );
}

#[test]
fn compression_is_declined_with_a_word() {
    for off in [
        "off",
        "false",
        "disabled",
        "\"not supported\"",
        "not_supported",
        "OFF",
    ] {
        let l = loaded(&format!("cluster {{ port: 1, compression: {off} }}"));
        assert!(l.unsupported.is_empty(), "{off}");
        let mode = l.options.cluster.unwrap().compression;
        assert!(mode == "off" || mode == "not supported", "{off}: {mode}");
    }
    let c = cluster("cluster { port: 1, compression: false }");
    assert_eq!(c.compression, "off");
    for (written, mode) in [
        ("true", "s2_fast"),
        ("on", "s2_fast"),
        ("enabled", "s2_fast"),
        ("accept", "accept"),
        ("fast", "s2_fast"),
        ("s2_better", "s2_better"),
        ("best", "s2_best"),
        ("auto", "s2_auto"),
        (
            "{mode: s2_auto, rtt_thresholds: [\"10ms\", \"50ms\"]}",
            "s2_auto",
        ),
        ("{}", "accept"),
    ] {
        let l = loaded(&format!(
            "cluster {{\n port: 1\n compression: {written}\n}}"
        ));
        assert_eq!(l.options.cluster.unwrap().compression, mode, "{written}");
        assert_eq!(
            strings(&l.unsupported),
            [format!(
                "n.conf:3:2: cluster: compression {mode:?} is not supported by natsd and is \
                 ignored: natsd does not compress routes (it behaves as compression: off)"
            )],
            "{written}"
        );
    }
    for (written, text) in [
        ("bogus", "unsupported compression mode \"bogus\""),
        (
            "1",
            "field \"compression\" should be a boolean or a structure, got int64",
        ),
        (
            "{mode: s2_auto, rtt_thresholds: [\"10ms\", \"5ms\"]}",
            "RTT threshold values [10ms 5ms] should be in ascending order",
        ),
        (
            "{mode: s2_auto, rtt_thresholds: [\"0s\"]}",
            "compression mode \"s2_auto\" requires at least one RTT threshold",
        ),
    ] {
        assert_eq!(
            error(&format!("cluster {{\n compression: {written}\n}}")),
            format!("n.conf:2:2: {text}"),
            "{written}"
        );
    }
    assert_eq!(
        error("cluster {\n compression: { mode: fast, bogus: 1 }\n}"),
        "n.conf:2:29: unknown field \"bogus\""
    );
}

#[test]
fn pinned_accounts_are_refused() {
    assert_eq!(
        error("cluster {\n port: 1\n accounts: [A, B]\n}\naccounts { A {}, B {} }"),
        "n.conf:3:2: cluster: accounts is not supported by natsd: pinned accounts need route \
         pooling, which natsd does not do (it behaves as pool_size: -1)"
    );
    // nats-server's own refusal with pool_size: -1.
    assert_eq!(
        error("cluster {\n port: 1\n pool_size: -1\n accounts: A\n}\naccounts { A {} }"),
        "n.conf:4:2: pool_size cannot be negative if pinned accounts are specified"
    );
    // None is fine.
    cluster("cluster { port: 1, accounts: [] }");
    assert_eq!(
        error("cluster {\n accounts: 1\n}"),
        "n.conf:2:2: error parsing accounts: unsupported type int64"
    );
}

#[test]
fn route_pings_and_write_deadline() {
    let c = cluster(
        "cluster { port: 1, ping_interval: \"10s\", ping_max: 3, write_deadline: \"5s\", \
         write_timeout: retry }",
    );
    assert_eq!(c.ping_interval, Some(Duration::from_secs(10)));
    assert_eq!(c.max_pings_out, Some(3));
    assert_eq!(c.write_deadline, Some(Duration::from_secs(5)));
    let c = cluster("cluster { write_timeout: default }");
    assert_eq!(
        (c.ping_interval, c.max_pings_out, c.write_deadline),
        (None, None, None)
    );
    let l = loaded("cluster {\n ping_interval: \"1m\"\n}");
    assert_eq!(
        strings(&l.warnings),
        ["n.conf:2:2: Cluster 'ping_interval' will reset to 30s which is the max for routes"]
    );
    assert_eq!(
        l.options.cluster.unwrap().ping_interval,
        Some(Duration::from_secs(60)),
        "kept as written; routes cap it"
    );
    let l = loaded("cluster {\n ping_interval: 5\n}");
    assert_eq!(
        strings(&l.warnings),
        ["n.conf:2:2: invalid use of field \"ping_interval\": ping_interval should be converted \
          to a duration"]
    );
    assert_eq!(
        l.options.cluster.unwrap().ping_interval,
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        error("cluster {\n write_deadline: \"x\"\n}"),
        "n.conf:2:2: error parsing write_deadline: time: invalid duration \"x\""
    );
    assert_eq!(
        error("cluster {\n write_timeout: x\n}"),
        "n.conf:2:2: write_timeout must be 'default', 'close' or 'retry'"
    );
    assert_eq!(
        error("cluster {\n write_timeout: close\n}"),
        "n.conf:2:2: cluster: write_timeout is not supported by natsd"
    );
}

#[test]
fn block_errors_as_nats_server() {
    assert_eq!(
        error("cluster: 1"),
        "n.conf:1:1: Expected map to define cluster, got int64"
    );
    assert_eq!(
        error("cluster {\n bogus: 1\n}"),
        "n.conf:2:2: unknown field \"bogus\""
    );
    // Every error of the block at once.
    assert_eq!(
        error("cluster {\n bogus: 1\n name: \"a b\"\n}"),
        "n.conf:2:2: unknown field \"bogus\"\nn.conf:3:2: cluster name cannot contain spaces"
    );
    // A key the file refers to as a variable is not unknown.
    cluster("cluster { p = 1, port: $p }");
    assert_eq!(
        error("cluster {\n name: 1\n}"),
        "n.conf:2:2: name: expected a string, got an integer"
    );
}

#[test]
fn validate_checks_options_built_in_code() {
    let with = |c: ClusterOptions| Options {
        cluster: Some(c),
        ..Options::default()
    };
    assert_eq!(with(ClusterOptions::default()).validate(), Ok(()));
    let bad = |c: ClusterOptions| with(c).validate().unwrap_err();
    assert_eq!(
        bad(ClusterOptions {
            name: Some("a b".into()),
            ..ClusterOptions::default()
        }),
        "cluster name cannot contain spaces"
    );
    assert_eq!(
        bad(ClusterOptions {
            compression: "bogus".into(),
            ..ClusterOptions::default()
        }),
        "unsupported compression mode \"bogus\""
    );
    assert_eq!(
        bad(ClusterOptions {
            pinned_accounts: vec!["A".into(), "A".into()],
            ..ClusterOptions::default()
        }),
        "found duplicate account name \"A\" in pinned accounts list [\"A\" \"A\"]"
    );
    assert!(bad(ClusterOptions {
        pinned_accounts: vec!["A".into()],
        ..ClusterOptions::default()
    })
    .contains("natsd does not do"));
    assert_eq!(
        bad(ClusterOptions {
            permissions: Some(RoutePermissions {
                import: None,
                export: Some(SubjectPermission {
                    allow: None,
                    deny: vec!["a b".into()],
                }),
            }),
            ..ClusterOptions::default()
        }),
        "cluster export deny: subject \"a b\" is not a valid subject"
    );
    let tls = crate::options::TlsOptions {
        pinned_certs: vec!["XYZ".into()],
        ..Default::default()
    };
    assert_eq!(
        bad(ClusterOptions {
            tls: Some(tls),
            ..ClusterOptions::default()
        }),
        "cluster: error parsing 'pinned_certs' key xyz does not look like lower case \
         hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
    );
}

#[test]
fn the_cluster_flag_as_override_cluster() {
    let url = |host: &str, port: i32, user: Option<&str>, pass: Option<&str>| ClusterListen::Url {
        host: host.into(),
        port,
        username: user.map(Into::into),
        password: pass.map(Into::into),
    };
    assert_eq!(
        cluster_listen_flag("nats://0.0.0.0:6222"),
        Ok(url("0.0.0.0", 6222, None, None))
    );
    assert_eq!(
        cluster_listen_flag("nats-route://ruser:p%40ss@127.0.0.1:-1"),
        Ok(url("127.0.0.1", -1, Some("ruser"), Some("p@ss")))
    );
    assert_eq!(
        cluster_listen_flag("nats://[::1]:6222"),
        Ok(url("::1", 6222, None, None))
    );
    assert_eq!(
        cluster_listen_flag("nats://:6222"),
        Ok(url("", 6222, None, None))
    );
    assert_eq!(cluster_listen_flag(""), Ok(ClusterListen::Off));
    // nats-server's texts.
    for (flag, text) in [
        (
            "nats://u@127.0.0.1:-1",
            "expected cluster password to be set",
        ),
        (
            "nats://127.0.0.1",
            "address 127.0.0.1: missing port in address",
        ),
        ("nats://[::1]", "address [::1]: missing port in address"),
        ("nats:6222", "missing port in address"),
        ("nats://h:", "EOF"),
        (
            "127.0.0.1:6222",
            "parse \"127.0.0.1:6222\": first path segment in URL cannot contain colon",
        ),
        (
            "nats://h:x",
            "parse \"nats://h:x\": invalid port \":x\" after host",
        ),
    ] {
        assert_eq!(cluster_listen_flag(flag), Err(text.to_string()), "{flag}");
    }
}

#[test]
fn the_routes_flag() {
    assert_eq!(
        routes_flag("nats://a:1, nats-route://u:p@b:2"),
        Ok(vec![
            "nats://a:1".to_string(),
            "nats-route://u:p@b:2".to_string()
        ])
    );
    assert_eq!(routes_flag(""), Ok(vec![]));
    assert!(routes_flag("nats://a:1,nats://b")
        .unwrap_err()
        .contains("no port"));
}

#[test]
fn flags_win_over_the_file() {
    let file = "cluster {\n name: file\n listen: \"127.0.0.1:6222\"\n advertise: \"f:1\"\n \
                connect_retries: 1\n authorization { user: fu, password: fp }\n \
                routes: [\"nats://file:6222\"]\n}";
    let overrides = Overrides {
        cluster_listen: Some(ClusterListen::Url {
            host: String::new(),
            port: 7222,
            username: None,
            password: None,
        }),
        cluster_name: Some("flag".into()),
        cluster_advertise: Some("g:2".into()),
        no_advertise: true,
        connect_retries: Some(4),
        routes: Some(vec!["nats://flag:7222".into()]),
        ..Overrides::default()
    };
    let c = load_with(file, &overrides)
        .unwrap()
        .options
        .cluster
        .unwrap();
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 7222));
    assert_eq!(c.name.as_deref(), Some("flag"));
    assert_eq!(c.advertise.as_deref(), Some("g:2"));
    assert!(c.no_advertise);
    assert_eq!(c.connect_retries, 4);
    assert_eq!(c.routes, ["nats://flag:7222"], "replaced, not added");
    // A --cluster URL without credentials drops the file's, as in
    // nats-server.
    assert_eq!((c.username, c.password), (None, None));
    // Not given: the file's.
    let c = load_with(
        file,
        &Overrides {
            no_advertise: true,
            ..Overrides::default()
        },
    )
    .unwrap()
    .options
    .cluster
    .unwrap();
    assert_eq!(c.username.as_deref(), Some("fu"));
    assert_eq!(c.routes, ["nats://file:6222"]);
    // --cluster "" turns the listener off; the routes then have nowhere
    // to come from.
    let off = Overrides {
        cluster_listen: Some(ClusterListen::Off),
        ..Overrides::default()
    };
    assert_eq!(
        load_with(file, &off).unwrap_err(),
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
    // Flags alone make a cluster.
    let only = Overrides {
        cluster_name: Some("c".into()),
        ..Overrides::default()
    };
    let c = only.to_options().cluster.unwrap();
    assert_eq!((c.name.as_deref(), c.port), (Some("c"), 0));
    assert_eq!(Overrides::default().to_options().cluster, None);
}

#[test]
fn the_digest_is_nats_servers() {
    // tests/config.rs compares digests with nats-server's on real files;
    // here, only that a cluster block is part of it.
    assert_ne!(
        loaded("cluster { port: 6222 }").digest,
        loaded("cluster { port: 6223 }").digest
    );
}
