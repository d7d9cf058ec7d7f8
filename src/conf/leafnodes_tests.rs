//! `leafnodes {}`: each key, alias and default, and nats-server's texts
//! (checked against nats-server v2.15.1 where they are its own).

use std::path::Path;
use std::time::Duration;

use crate::conf::{options_from_text, Loaded, MemoryLoader};
use crate::options::{LeafUser, LeafnodeOptions, Options, Overrides, RemoteLeafOptions};

const SEED: &str = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";
const USER_PUB: &str = "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO";

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Loaded, String> {
    let mut loader = MemoryLoader::default();
    for (k, v) in env {
        loader.env.insert(k.to_string(), v.to_string());
    }
    options_from_text(
        text,
        Path::new("n.conf"),
        &mut loader,
        &Overrides::default(),
    )
    .map_err(|e| e.to_string())
}

fn loaded(text: &str) -> Loaded {
    load_env(text, &[]).unwrap_or_else(|e| panic!("{text:?} should load: {e}"))
}

fn opts(text: &str) -> Options {
    loaded(text).options
}

fn leaf(text: &str) -> LeafnodeOptions {
    opts(text).leafnodes.expect("a leafnodes block")
}

/// The only remote of `leafnodes { remotes: [ <remote> ] }`.
fn remote(remote: &str) -> RemoteLeafOptions {
    let mut leaf = leaf(&format!("leafnodes {{ remotes: [ {remote} ] }}"));
    assert_eq!(leaf.remotes.len(), 1);
    leaf.remotes.remove(0)
}

fn error(text: &str) -> String {
    match load_env(text, &[]) {
        Ok(l) => panic!("{text:?} should fail, got {:?}", l.options.leafnodes),
        Err(e) => e,
    }
}

fn remote_error(remote: &str) -> String {
    error(&format!("leafnodes {{\n remotes: [\n {remote}\n ]\n}}"))
}

fn strings(diagnostics: &[crate::conf::Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn defaults_as_nats_servers_baseline() {
    assert_eq!(opts("port: 4222").leafnodes, None);
    // An empty block: no listener, no remotes, the reconnect delay.
    let l = leaf("leafnodes {}");
    assert_eq!(l, LeafnodeOptions::default());
    assert_eq!((l.host.as_str(), l.port), ("", 0));
    assert_eq!(l.reconnect_interval, Duration::from_secs(1));
    assert_eq!(l.auth_timeout, None);
    // A port brings the default host.
    let l = leaf("leafnodes { port: 7422 }");
    assert_eq!((l.host.as_str(), l.port), ("0.0.0.0", 7422));
    assert_eq!(leaf("leaf { port: -1 }").port, -1, "`leaf` is an alias");
    assert_eq!(leaf("LeafNodes { Port: 7000 }").port, 7000, "any case");
    let r = remote("{url: \"nats-leaf://hub\"}");
    assert_eq!(r.first_info_timeout, Duration::from_secs(1));
    assert_eq!(r.account, None);
    assert!(!r.hub && !r.no_randomize && !r.disabled && !r.ignore_discovered_servers);
}

#[test]
fn listener_keys() {
    let l = leaf("leafnodes { listen: \"127.0.0.1:7001\" }");
    assert_eq!((l.host.as_str(), l.port), ("127.0.0.1", 7001));
    let l = leaf("leafnodes { listen: 7002 }");
    assert_eq!((l.host.as_str(), l.port), ("0.0.0.0", 7002));
    let l = leaf("leafnodes { port: 7003, host: 10.0.0.1 }");
    assert_eq!((l.host.as_str(), l.port), ("10.0.0.1", 7003));
    assert_eq!(leaf("leafnodes { port: 1, net: \"::1\" }").host, "::1");
    // Without a port the host stays as written (nothing listens).
    assert_eq!(leaf("leafnodes { host: 10.0.0.1 }").host, "10.0.0.1");
    let l = leaf("leafnodes { port: 1, advertise: \"a:1\", no_advertise: true }");
    assert_eq!(l.advertise.as_deref(), Some("a:1"));
    assert!(l.no_advertise);
    assert_eq!(
        leaf("leafnodes { leafnode_advertise: \"b:2\" }")
            .advertise
            .as_deref(),
        Some("b:2")
    );
    assert_eq!(leaf("leafnodes { advertise: \"\" }").advertise, None);
    for key in ["reconnect", "reconnect_delay", "reconnect_interval"] {
        let l = leaf(&format!("leafnodes {{ {key}: \"250ms\" }}"));
        assert_eq!(l.reconnect_interval, Duration::from_millis(250), "{key}");
    }
    assert_eq!(
        leaf("leafnodes { reconnect: \"0s\" }").reconnect_interval,
        Duration::from_secs(1),
        "zero is the default"
    );
    assert_eq!(
        error("leafnodes { reconnect: \"-1s\" }"),
        "n.conf:1:13: reconnect can not be negative"
    );
    assert_eq!(
        error("leafnodes {\n reconnect_delay: \"2x\"\n}"),
        "n.conf:2:2: error parsing reconnect: time: unknown unit \"x\" in duration \"2x\""
    );
    assert!(error("leafnodes { port: x }").contains("port: expected an integer, got a string"));
    assert_eq!(
        error("leafnodes { port: 70000 }"),
        "invalid leafnode port 70000"
    );
    assert!(error("leafnodes { listen: \"a:b\" }").contains("could not parse port"));
}

#[test]
fn an_integer_duration_is_seconds_with_nats_servers_warning() {
    let result = loaded("leafnodes {\n reconnect: 2\n}");
    assert_eq!(
        result.options.leafnodes.unwrap().reconnect_interval,
        Duration::from_secs(2)
    );
    assert_eq!(
        strings(&result.warnings),
        [
            "n.conf:2:2: invalid use of field \"reconnect\": reconnect should be converted to a \
          duration"
        ]
    );
    let result = loaded("leafnodes { remotes: [ {url: \"nats://a\", First_Info_Timeout: 3} ] }");
    assert_eq!(
        result.options.leafnodes.unwrap().remotes[0].first_info_timeout,
        Duration::from_secs(3)
    );
    assert_eq!(
        strings(&result.warnings),
        [
            "n.conf:1:42: invalid use of field \"First_Info_Timeout\": First_Info_Timeout should \
          be converted to a duration"
        ]
    );
    assert!(error("leafnodes { reconnect: true }")
        .contains("reconnect: expected a duration (like \"2m\"), got a boolean"));
}

#[test]
fn authorization_single_user_and_users() {
    let l = leaf(
        "leafnodes { authorization { user: a, password: b, account: ACC, timeout: 3 } }\n\
         accounts { ACC {} }",
    );
    assert_eq!(l.username.as_deref(), Some("a"));
    assert_eq!(l.password.as_deref(), Some("b"));
    assert_eq!(l.account.as_deref(), Some("ACC"));
    assert_eq!(l.auth_timeout, Some(Duration::from_secs(3)));
    let l = leaf("leafnodes { authorization { username: a, pass: b } }");
    assert_eq!(
        (l.username.as_deref(), l.password.as_deref()),
        (Some("a"), Some("b"))
    );
    // Empty strings are no credentials.
    let l = leaf("leafnodes { authorization { user: \"\", password: \"\", account: \"\" } }");
    assert_eq!((l.username, l.password, l.account), (None, None, None));
    let l = leaf(
        "accounts { A {}, B {} }\n\
         leafnodes { authorization { users: [\n\
           {user: x, password: y, account: A}\n\
           {username: z, pass: w}\n\
           {user: q, password: r, account: B}\n\
         ] } }",
    );
    assert_eq!(
        l.users,
        [
            LeafUser {
                username: "x".into(),
                password: "y".into(),
                account: Some("A".into())
            },
            LeafUser {
                username: "z".into(),
                password: "w".into(),
                account: None
            },
            LeafUser {
                username: "q".into(),
                password: "r".into(),
                account: Some("B".into())
            },
        ]
    );
    // A variable's definition is not an unknown key.
    leaf("leafnodes { authorization { p = pw, user: a, password: $p } }");
}

#[test]
fn authorization_timeout_forms() {
    let timeout =
        |v: &str| leaf(&format!("leafnodes {{ authorization {{ timeout: {v} }} }}")).auth_timeout;
    assert_eq!(timeout("5"), Some(Duration::from_secs(5)));
    assert_eq!(timeout("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(timeout("\"750ms\""), Some(Duration::from_millis(750)));
    assert_eq!(timeout("0"), None, "zero is the default");
    assert_eq!(
        error("leafnodes { authorization { timeout: \"x\" } }"),
        "n.conf:1:29: error parsing leafnode authorization config, 'timeout' time: invalid \
         duration \"x\""
    );
    assert_eq!(
        error("leafnodes { authorization { timeout: true } }"),
        "n.conf:1:29: error parsing leafnode authorization config, 'timeout' wrong type"
    );
    assert!(error("leafnodes { authorization { timeout: -1 } }")
        .ends_with("leafnode authorization timeout can not be negative"));
    for (v, shown, secs) in [
        ("61", "61", "61.000000"),
        ("61.5", "61.5", "61.500000"),
        ("\"61s\"", "61s", "61.000000"),
    ] {
        let result = loaded(&format!("leafnodes {{ authorization {{ timeout: {v} }} }}"));
        assert_eq!(
            strings(&result.warnings),
            [format!(
                "n.conf:1:29: invalid use of field \"timeout\": timeout of {shown} ({secs} \
                 seconds) is high, consider keeping it under 60 seconds. possibly caused by \
                 unquoted duration; use '1m' instead of 1m, for example"
            )]
        );
    }
}

#[test]
fn authorization_errors_as_nats_server() {
    assert_eq!(
        error("leafnodes { authorization { user: a, users: [{user: b}] } }"),
        "n.conf:1:13: can not have a single user/pass and a users array"
    );
    assert_eq!(
        error("leafnodes { authorization { users: [{user: b},{user: b}] } }"),
        "n.conf:1:13: duplicate user \"b\" detected in leafnode authorization"
    );
    // An empty users list is no list.
    leaf("leafnodes { authorization { user: a, users: [] } }");
    assert_eq!(
        error("leafnodes {\n authorization { users: 1 }\n}"),
        "n.conf:2:18: Expected users field to be an array, got 1"
    );
    assert_eq!(
        error("leafnodes {\n authorization { users: [1, \"x\"] }\n}"),
        "n.conf:2:26: Expected user entry to be a map/struct, got 1"
    );
    assert_eq!(
        error("leafnodes {\n authorization { users: [{user: a, bogus: 1}] }\n}"),
        "n.conf:2:36: unknown field \"bogus\""
    );
    assert_eq!(
        error("leafnodes {\n authorization { token: x }\n}"),
        "n.conf:2:18: unknown field \"token\"",
        "no token for leaf nodes"
    );
    assert!(error("leafnodes { authorization: 1 }")
        .contains("authorization: expected a map, got an integer"));
    assert_eq!(
        error("leafnodes { authorization { account: X } }"),
        "cannot find local account \"X\" specified in leafnode authorization"
    );
    assert_eq!(
        error("leafnodes { authorization { users: [{user: a, account: Z}] } }"),
        "cannot find local account \"Z\" specified in leafnode authorization"
    );
    // `$G` and the system account always exist.
    leaf("leafnodes { authorization { account: \"$G\", users: [{user: a, account: \"$SYS\"}] } }");
}

#[cfg(feature = "jwt")]
#[test]
fn authorization_nkey_and_proxy_required_are_refused() {
    assert_eq!(
        error("leafnodes {\n authorization { nkey: \"UABC\" }\n}"),
        "n.conf:2:18: Not a valid public nkey for leafnode authorization"
    );
    assert_eq!(
        error(&format!(
            "leafnodes {{\n authorization {{ nkey: {USER_PUB} }}\n}}"
        )),
        "n.conf:2:18: leafnodes: nkey is not supported by natsd"
    );
    assert_eq!(
        error(&format!(
            "leafnodes {{\n authorization {{ nkey: {USER_PUB}, users: [{{user: a}}] }}\n}}"
        )),
        "n.conf:2:2: can not have a single nkey and a users array"
    );
    assert_eq!(
        error("leafnodes { authorization { proxy_required: true } }"),
        "n.conf:1:29: leafnodes: proxy_required is not supported by natsd"
    );
    assert!(
        error("leafnodes { authorization { users: [{user: a, proxy_required: true}] } }")
            .ends_with("leafnodes: proxy_required is not supported by natsd")
    );
    leaf("leafnodes { authorization { proxy_required: false, users: [{user: a, proxy_required: false}] } }");
}

#[test]
fn remote_urls() {
    let r = remote("{url: \"nats-leaf://u:p@hub\"}");
    assert_eq!(r.urls, ["nats-leaf://u:p@hub:7422"], "the default port");
    let r = remote("{urls: [\"nats://a:7000\", \" tls://b \", \"nats://d:\", \"nats://[::1]\"]}");
    assert_eq!(
        r.urls,
        [
            "nats://a:7000",
            "tls://b:7422",
            "nats://d:7422",
            "nats://[::1]:7422"
        ]
    );
    #[cfg(all(feature = "websocket", feature = "tls"))]
    assert_eq!(
        remote("{urls: [\"ws://c/path\", \"wss://u:p@c?x=1\"]}").urls,
        ["ws://c:7422/path", "wss://u:p@c:7422?x=1"]
    );
    // A single URL adds to the list; a list replaces it.
    let r = remote("{url: \"nats://a\", urls: \"nats://b\"}");
    assert_eq!(r.urls, ["nats://a:7422", "nats://b:7422"]);
    let r = remote("{url: \"nats://a\", urls: [\"nats://b\"]}");
    assert_eq!(r.urls, ["nats://b:7422"]);
    // No URL at all is accepted, as nats-server does (it dials nothing).
    assert!(remote("{}").urls.is_empty());
    // A URL given twice: once, with nats-server's warning.
    let result = loaded("leafnodes {\n remotes: [\n {url: [\"nats://a\", \"nats://a\"]}\n ]\n}");
    assert_eq!(
        result.options.leafnodes.unwrap().remotes[0].urls,
        ["nats://a:7422"]
    );
    assert_eq!(
        strings(&result.warnings),
        ["n.conf:3:21: invalid use of field \"nats://a\": Duplicate leafnode entry detected"]
    );
}

#[test]
fn remote_url_errors_as_go_url_parse() {
    for bad in [
        "nats://a b:%",
        ":x",
        "nats://[::1",
        "nats://a:12x",
        "nats://a{b",
        "nats://u:p{@a",
        "nats://a/%zz",
        "nats://a#%zz",
        "1a://b",
        "nats://a%41",
        "nats://[::1]:x",
        "nats://[::1]x",
    ] {
        assert_eq!(
            remote_error(&format!("{{url: {bad:?}}}")),
            format!("n.conf:3:3: error parsing leafnode url [{bad:?}]"),
            "{bad}"
        );
    }
    assert!(remote_error("{url: \"nats://a\\x07\"}").contains("error parsing leafnode url"));
    // Accepted by Go's url.Parse.
    for good in ["nats://::1", "nats://a%C3%A9", "//a:1", "nats://u:p%41@a"] {
        remote(&format!("{{url: {good:?}}}"));
    }
    // No host to dial: nats-server takes it and fails at each attempt.
    for no_host in ["hub:7422", "a:b/c", "nats://", "nats://:7422", "nats:///x"] {
        assert_eq!(
            remote_error(&format!("{{url: {no_host:?}}}")),
            format!(
                "n.conf:3:3: error parsing leafnode url [{no_host:?}]: no host (a URL such as \
                 nats-leaf://host:7422 is expected)"
            )
        );
    }
    assert_eq!(
        remote_error("{url: 1}"),
        "n.conf:3:3: Expected remote leafnode url to be an array or string, got 1"
    );
    assert!(remote_error("{urls: [\"nats://a\", true]}")
        .contains("error parsing leafnode urls: unsupported type in array a boolean"));
}

#[test]
fn remote_keys_and_aliases() {
    let l = leaf(
        "accounts { ACC {} }\n\
         leafnodes { remotes: [\n\
           {url: \"nats://a\", account: ACC, no_randomize: true, hub: true, deny_imports: \"a.>\",\n\
            deny_exports: [\"b\", \"c.*\"], first_info_timeout: \"2s\", disabled: true,\n\
            ignore_discovered_servers: true, ws_compression: true, ws_no_masking: true}\n\
         ] }",
    );
    let r = &l.remotes[0];
    assert_eq!(r.account.as_deref(), Some("ACC"));
    assert!(r.no_randomize && r.hub && r.disabled && r.ignore_discovered_servers);
    assert!(r.ws_compression && r.ws_no_masking);
    assert_eq!(r.deny_imports, ["a.>"]);
    assert_eq!(r.deny_exports, ["b", "c.*"]);
    assert_eq!(r.first_info_timeout, Duration::from_secs(2));
    assert_eq!(
        remote("{url: \"nats://a\", local: \"$G\"}")
            .account
            .as_deref(),
        Some("$G")
    );
    assert_eq!(remote("{url: \"nats://a\", account: \"\"}").account, None);
    assert!(remote("{url: \"nats://a\", dont_randomize: true}").no_randomize);
    assert_eq!(
        remote("{url: \"nats://a\", deny_import: x}").deny_imports,
        ["x"]
    );
    assert_eq!(
        remote("{url: \"nats://a\", deny_export: y}").deny_exports,
        ["y"]
    );
    #[cfg(feature = "websocket")]
    for key in [
        "ws_compress",
        "ws_compression",
        "websocket_compress",
        "websocket_compression",
    ] {
        assert!(
            remote(&format!("{{url: \"ws://a\", {key}: true}}")).ws_compression,
            "{key}"
        );
    }
    #[cfg(feature = "websocket")]
    for key in ["ws_no_masking", "websocket_no_masking"] {
        assert!(
            remote(&format!("{{url: \"ws://a\", {key}: true}}")).ws_no_masking,
            "{key}"
        );
    }
    assert_eq!(
        remote("{url: \"nats://a\", first_info_timeout: \"0s\"}").first_info_timeout,
        Duration::from_secs(1),
        "zero or less is the default"
    );
    assert_eq!(
        remote("{url: \"nats://a\", first_info_timeout: \"-1s\"}").first_info_timeout,
        Duration::from_secs(1)
    );
    // Booleans natsd can only honor when false.
    for key in [
        "isolate",
        "isolate_leafnode_interest",
        "request_isolation",
        "jetstream_cluster_migrate",
        "js_cluster_migrate",
    ] {
        remote(&format!("{{url: \"nats://a\", {key}: false}}"));
        assert_eq!(
            remote_error(&format!("{{url: \"nats://a\", {key}: true}}")),
            format!("n.conf:3:20: leafnodes: {key} is not supported by natsd")
        );
    }
    assert_eq!(
        remote_error("{url: \"nats://a\", js_cluster_migrate: {leader_migrate_delay: \"5s\"}}"),
        "n.conf:3:20: leafnodes: js_cluster_migrate is not supported by natsd"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", js_cluster_migrate: 1}"),
        "n.conf:3:20: Expected boolean or map for jetstream_cluster_migrate, got int64"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", bogus: 1}"),
        "n.conf:3:20: unknown field \"bogus\""
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", hub: 1}"),
        "n.conf:3:20: hub: expected a boolean, got an integer"
    );
}

#[test]
fn remote_lists_and_entries_errors() {
    assert_eq!(
        error("leafnodes {\n remotes: 1\n}"),
        "n.conf:2:2: Expected remotes field to be an array, got int64"
    );
    assert_eq!(
        remote_error("\"x\""),
        "n.conf:3:2: Expected remote leafnode entry to be a map/struct, got x"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", deny_imports: [\"foo..bar\"]}"),
        "n.conf:3:20: subject \"foo..bar\" is not a valid subject"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", deny_imports: 1}"),
        "n.conf:3:20: Expected subject permissions to be a subject, or array of subjects, got \
         int64"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", deny_exports: \"foo bar\"}"),
        "n.conf:3:20: subject \"foo bar\" is not a valid subject"
    );
    // Each remote's errors, as nats-server lists them.
    assert_eq!(
        remote_error("{url: 1}, {url: \"nats://a\", bogus: 2}"),
        "n.conf:3:3: Expected remote leafnode url to be an array or string, got 1\n\
         n.conf:3:30: unknown field \"bogus\""
    );
    assert_eq!(
        error("leafnodes { remotes: [{url: \"nats://a\", account: Y}] }"),
        "cannot find local account \"Y\" specified in leafnode remote"
    );
    assert_eq!(
        error("system_account: SYS\naccounts { SYS {} }\nleafnodes { remotes: [{url: \"nats://a\", account: \"$SYS\"}] }"),
        "cannot find local account \"$SYS\" specified in leafnode remote"
    );
}

#[test]
fn duplicate_remotes_and_mixed_urls() {
    assert_eq!(
        remote_error("{url: \"nats://a\"}, {url: \"nats://a\"}"),
        "n.conf:3:22: duplicate remote urls=[\"nats://a\"], account=\"$G\""
    );
    // The default port makes them the same: found when the server starts.
    assert_eq!(
        error("leafnodes { remotes: [{url: \"nats://a\"}, {url: \"nats://a:7422\"}] }"),
        "duplicate remote urls=[\"nats://a:7422\"], account=\"$G\""
    );
    // Other accounts, other remotes.
    let l = leaf(
        "accounts { A {} }\nleafnodes { remotes: [{url: \"nats://a\"}, {url: \"nats://a\", account: A}] }",
    );
    assert_eq!(l.remotes.len(), 2);
    assert_eq!(
        error("leafnodes { remotes: [{urls: [\"nats://u:p@a\", \"ws://b\"]}] }"),
        "remote leaf node configuration cannot have a mix of websocket and non-websocket urls: \
         [\"nats://u:xxxxx@a:7422\" \"ws://b:7422\"]"
    );
    assert!(
        error("leafnodes { remotes: [{urls: [\"WSS://a\", \"tls://b\"]}] }")
            .starts_with("remote leaf node configuration cannot have a mix")
    );
    #[cfg(all(feature = "websocket", feature = "tls"))]
    assert!(remote("{urls: [\"ws://a\", \"wss://b\"]}").is_websocket());
}

#[cfg(feature = "jwt")]
#[test]
fn remote_credentials_and_seeds() {
    use std::path::PathBuf;
    let r = remote(&format!("{{url: \"nats://a\", nkey: {SEED}}}"));
    assert_eq!(r.nkey_seed.as_deref(), Some(SEED));
    assert_eq!(
        remote(&format!("{{url: \"nats://a\", seed: {SEED}}}"))
            .nkey_seed
            .as_deref(),
        Some(SEED)
    );
    let r = remote("{url: \"nats://a\", credentials: \"/etc/leaf.creds\"}");
    assert_eq!(r.credentials, Some(PathBuf::from("/etc/leaf.creds")));
    assert_eq!(remote("{url: \"nats://a\", creds: \"\"}").credentials, None);
    // nats-server's expandPath: environment variables, then `~`.
    let env = [("HOME", "/home/leaf/"), ("DIR", "/d"), ("N", "x")];
    let creds = |path: &str| {
        let text = format!("leafnodes {{ remotes: [{{url: \"nats://a\", creds: {path:?}}}] }}");
        load_env(&text, &env).map(|l| l.options.leafnodes.unwrap().remotes[0].credentials.clone())
    };
    assert_eq!(
        creds("~/a.creds"),
        Ok(Some(PathBuf::from("/home/leaf/a.creds")))
    );
    assert_eq!(
        creds("$DIR/${N}.creds"),
        Ok(Some(PathBuf::from("/d/x.creds")))
    );
    assert_eq!(creds("$UNSET/a$"), Ok(Some(PathBuf::from("/a$"))));
    assert_eq!(creds("${}a"), Ok(Some(PathBuf::from("a"))));
    assert_eq!(creds("$$x"), Ok(Some(PathBuf::from("x"))));
    assert_eq!(
        error("leafnodes { remotes: [{url: \"nats://a\", creds: \"~/a.creds\"}] }"),
        "n.conf:1:41: failed to get home dir, require $HOME"
    );
    assert_eq!(
        remote_error(&format!(
            "{{url: \"nats://a\", creds: \"/x.creds\", nkey: {SEED}}}"
        )),
        "n.conf:3:39: Remote leafnode can not have both creds and nkey defined"
    );
    assert_eq!(
        remote_error(&format!(
            "{{url: \"nats://a\", seed: {SEED}, credentials: \"/x\"}}"
        )),
        format!(
            "n.conf:3:{}: Remote leafnode can not have both creds and nkey defined",
            28 + SEED.len()
        )
    );
    // Not a seed, or not a user's.
    let account_seed =
        crate::auth::nkeys::KeyPair::from_raw_seed(crate::auth::nkeys::KeyKind::Account, [7; 32])
            .encode_seed();
    for bad in [
        "x".to_string(),
        USER_PUB.to_string(),
        account_seed,
        format!(" {SEED}"),
    ] {
        assert_eq!(
            remote_error(&format!("{{url: \"nats://a\", nkey: {bad:?}}}")),
            format!("n.conf:3:20: Remote leafnode nkey is not a valid seed: {bad:?}")
        );
    }
    // Duplicates tell the credentials apart, and hide seeds.
    assert_eq!(
        remote_error(&format!(
            "{{url: \"nats://u:p@a\", nkey: {SEED}}}, {{url: \"nats://u:p@a\", nkey: {SEED}}}"
        )),
        format!(
            "n.conf:3:{}: duplicate remote urls=[\"nats://u:xxxxx@a\"], account=\"$G\", \
             nkey=\"[REDACTED]\"",
            SEED.len() + 55
        )
    );
    let l = leaf(&format!(
        "leafnodes {{ remotes: [{{url: \"nats://a\", nkey: {SEED}}}, {{url: \"nats://a\", creds: \"/c\"}}, {{url: \"nats://a\"}}] }}"
    ));
    assert_eq!(l.remotes.len(), 3);
}

#[cfg(not(feature = "jwt"))]
#[test]
fn a_build_without_jwt_refuses_remote_credentials() {
    assert_eq!(
        remote_error("{url: \"nats://a\", creds: \"/x.creds\"}"),
        "n.conf:3:20: \"creds\" in a leafnode remote is not supported by this build: natsd was \
         built without the `jwt` feature"
    );
    assert!(
        remote_error(&format!("{{url: \"nats://a\", seed: {SEED}}}"))
            .ends_with("natsd was built without the `jwt` feature")
    );
    let _ = USER_PUB;
}

#[cfg(feature = "tls")]
#[test]
fn tls_blocks() {
    use crate::options::HandshakeFirst;
    use std::path::PathBuf;
    let l = leaf(
        "leafnodes { port: 1, tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, \
         verify: true, timeout: 3, handshake_first: \"300ms\" } }",
    );
    let tls = l.tls.unwrap();
    assert_eq!(tls.cert_file, Some(PathBuf::from("c.pem")));
    assert_eq!(tls.ca_file, Some(PathBuf::from("ca.pem")));
    assert!(tls.verify);
    assert_eq!(tls.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        tls.handshake_first,
        HandshakeFirst::Fallback(Duration::from_millis(300))
    );
    // The accepting side never reads `insecure`, as in nats-server.
    leaf("leafnodes { tls { insecure: true } }");
    // A remote's: the client side.
    let r = remote(
        "{url: \"tls://a\", tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, \
         handshake_first: auto }}",
    );
    let tls = r.tls.unwrap();
    assert_eq!(tls.key_file, Some(PathBuf::from("k.pem")));
    assert_eq!(
        tls.handshake_first,
        HandshakeFirst::On,
        "no fallback for a remote"
    );
    assert_eq!(
        remote("{url: \"tls://a\", tls { handshake_first: false, insecure: false }}")
            .tls
            .unwrap()
            .handshake_first,
        HandshakeFirst::Off
    );
    assert_eq!(
        remote_error("{url: \"tls://a\", tls { Insecure: true }}"),
        "n.conf:3:25: leafnodes: tls Insecure is not supported by natsd"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", tls: {cert_file: x}}"),
        "n.conf:3:20: missing 'key_file' in TLS configuration"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", tls: {verify_cert_and_check_known_urls: true}}"),
        "n.conf:3:26: verify_cert_and_check_known_urls not supported in this context"
    );
    assert_eq!(
        error("leafnodes {\n tls: {verify_cert_and_check_known_urls: true}\n}"),
        "n.conf:2:8: verify_cert_and_check_known_urls not supported in this context"
    );
    assert_eq!(
        error("leafnodes { tls { pinned_certs: [abc] } }"),
        "leafnode: error parsing tls config, 'pinned_certs' key abc does not look like \
         hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
    );
}

#[test]
fn compression_is_declined_with_a_word() {
    for off in [
        "false",
        "off",
        "disabled",
        "\"not supported\"",
        "not_supported",
        "{mode: \"off\"}",
        "{mode: \"Off\", rtt: [\"1ms\"]}",
    ] {
        let result = loaded(&format!("leafnodes {{ compression: {off} }}"));
        assert!(result.unsupported.is_empty(), "{off}");
        let result = loaded(&format!(
            "leafnodes {{ remotes: [{{url: \"nats://a\", compression: {off}}}] }}"
        ));
        assert!(result.unsupported.is_empty(), "{off}");
    }
    for (on, shown) in [
        ("true", "s2_auto"),
        ("on", "s2_auto"),
        ("\"on\"", "on"),
        ("s2_auto", "s2_auto"),
        ("auto", "auto"),
        ("accept", "accept"),
        ("s2_fast", "s2_fast"),
        ("better", "better"),
        ("S2_BEST", "S2_BEST"),
        ("{}", "s2_auto"),
        (
            "{mode: s2_auto, rtt_thresholds: [\"10ms\", \"20ms\", \"0s\", \"40ms\"]}",
            "s2_auto",
        ),
        ("{mode: auto, thresholds: [\"10ms\"]}", "auto"),
        ("{mode: auto, rtts: [\"10ms\", \"0\", \"0s\"]}", "auto"),
    ] {
        let result = loaded(&format!("leafnodes {{ compression: {on} }}"));
        assert_eq!(
            strings(&result.unsupported),
            [format!(
                "n.conf:1:13: leafnodes: compression {shown:?} is not supported by natsd and \
                 is ignored: leaf connections are not compressed (as with compression: off)"
            )],
            "{on}"
        );
        assert!(result.warnings.is_empty());
    }
    assert_eq!(
        loaded("leafnodes { remotes: [{url: \"nats://a\", compression: s2_fast}] }")
            .unsupported
            .len(),
        1
    );
    assert_eq!(
        error("leafnodes {\n compression: 1\n}"),
        "n.conf:2:2: field \"compression\" should be a boolean or a structure, got int64"
    );
    assert_eq!(
        error("leafnodes {\n compression: {mode: s2_fast, bogus: 1}\n}"),
        "n.conf:2:31: unknown field \"bogus\""
    );
    assert_eq!(
        error("leafnodes { compression: bogus }"),
        "n.conf:1:13: unsupported compression mode \"bogus\""
    );
    assert_eq!(
        error("leafnodes { compression: {mode: \"on\", rtt: [\"10ms\", \"5ms\"]} }"),
        "n.conf:1:13: RTT threshold values [10ms 5ms] should be in ascending order"
    );
    assert_eq!(
        error("leafnodes { compression: {mode: auto, rtt: [\"1ms\", \"2ms\", \"3ms\", \"4ms\", \"5ms\"]} }"),
        "n.conf:1:13: compression mode \"auto\" should have no more than 4 RTT thresholds: \
         [1ms 2ms 3ms 4ms 5ms]"
    );
    assert_eq!(
        error("leafnodes { compression: {mode: auto, rtt: [\"0\", \"-1s\"]} }"),
        "n.conf:1:13: compression mode \"auto\" requires at least one RTT threshold"
    );
    assert_eq!(
        error("leafnodes { compression: {rtt: [\"x\"]} }"),
        "n.conf:1:27: time: invalid duration \"x\""
    );
}

#[test]
fn keys_natsd_refuses_or_ignores() {
    assert_eq!(
        error("leafnodes {\n min_version: \"2.7.0\"\n}"),
        "n.conf:2:2: the minimum version should be at least 2.8.0"
    );
    for bad in ["abc", "2.10", "2.10.0-beta.01", "02.10.0", "2.10.0+"] {
        assert_eq!(
            error(&format!("leafnodes {{ min_version: {bad:?} }}")),
            "n.conf:1:13: invalid leafnode's minimum version: invalid semver",
            "{bad}"
        );
    }
    for good in ["2.8.0", "2.10.0-beta.1", "3.0.0+build.5", "2.12.0-rc-2"] {
        assert_eq!(
            error(&format!("leafnodes {{ minimum_version: {good:?} }}")),
            "n.conf:1:13: leafnodes: minimum_version is not supported by natsd",
            "{good}"
        );
    }
    for key in ["isolate", "isolate_leafnode_interest"] {
        leaf(&format!("leafnodes {{ {key}: false }}"));
        assert_eq!(
            error(&format!("leafnodes {{ {key}: true }}")),
            format!("n.conf:1:13: leafnodes: {key} is not supported by natsd")
        );
    }
    leaf("leafnodes { write_timeout: default }");
    for policy in ["close", "retry"] {
        assert_eq!(
            error(&format!("leafnodes {{ write_timeout: {policy} }}")),
            "n.conf:1:13: leafnodes: write_timeout is not supported by natsd"
        );
    }
    assert_eq!(
        error("leafnodes { write_timeout: x }"),
        "n.conf:1:13: write_timeout must be 'default', 'close' or 'retry'"
    );
    let result = loaded(
        "leafnodes { dial_timeout: \"2s\", write_deadline: \"1s\", \
         remotes: [{url: \"nats://a\", dial_timeout: \"3s\"}] }",
    );
    assert_eq!(
        strings(&result.unsupported),
        [
            "n.conf:1:13: leafnodes: dial_timeout is not supported by natsd and is ignored",
            "n.conf:1:33: leafnodes: write_deadline is not supported by natsd and is ignored",
            "n.conf:1:83: leafnodes: dial_timeout is not supported by natsd and is ignored",
        ]
    );
    assert!(result.warnings.is_empty());
    assert!(error("leafnodes { dial_timeout: \"x\" }").contains("error parsing dial_timeout"));
    assert_eq!(
        error("leaf { port: 7422, bogus: 1 }"),
        "n.conf:1:20: unknown field \"bogus\""
    );
    // Every error of the block at once.
    assert_eq!(
        error("leafnodes { bogus: 1, isolate: true }"),
        "n.conf:1:13: unknown field \"bogus\"\n\
         n.conf:1:23: leafnodes: isolate is not supported by natsd"
    );
    leaf("leafnodes { v = 1, port: $v }");
    assert_eq!(
        error("leafnodes: 1"),
        "n.conf:1:1: Expected map to define a leafnode, got int64"
    );
}

#[test]
fn proxies_are_checked_then_refused() {
    let proxy = |p: &str| remote_error(&format!("{{url: \"ws://a\", proxy: {p}}}"));
    // Without a URL nats-server does not use it either.
    remote("{url: \"nats://a\", proxy: {}}");
    assert_eq!(
        proxy("{url: \"http://p:3128\"}"),
        "n.conf:3:18: leafnodes: proxy is not supported by natsd"
    );
    assert_eq!(
        remote_error("{url: \"nats://a\", proxy: {url: \"http://p:3128\"}}"),
        "n.conf:3:20: leafnodes: proxy is not supported by natsd"
    );
    for (p, why) in [
        ("1", "Expected proxy to be a map, got int64"),
        (
            "{username: a}",
            "proxy URL must be specified when other proxy options are set",
        ),
        (
            "{tls: {}}",
            "proxy URL must be specified when other proxy options are set",
        ),
        (
            "{url: \"ftp://x\"}",
            "proxy URL scheme must be http or https, got: ftp",
        ),
        (
            "{url: \"http://p:1\", tls: {}}",
            "proxy TLS configuration requires an https proxy URL, got: http",
        ),
        ("{url: \"http://\"}", "proxy URL must specify a host"),
        (
            "{url: \"http://a b\"}",
            "invalid proxy URL: parse \"http://a b\": invalid character \" \" in host name",
        ),
        (
            "{url: \"https://p:1\", timeout: \"-1s\"}",
            "proxy timeout must be >= 0",
        ),
        (
            "{url: \"http://p:1\", username: a}",
            "proxy username and password must both be specified or both be empty",
        ),
    ] {
        assert_eq!(proxy(p), format!("n.conf:3:18: {why}"), "{p}");
    }
    assert_eq!(
        remote_error("{url: \"wss://a\", proxy: {url: \"https://p:1\"}}"),
        "n.conf:3:19: proxy is configured but remote URL wss://a requires TLS and no TLS \
         configuration is provided. When using proxy with TLS endpoints, ensure TLS is properly \
         configured for the leafnode remote"
    );
    assert_eq!(
        proxy("{url: \"http://p:1\", bogus: 1}"),
        "n.conf:3:45: unknown field \"bogus\""
    );
}

#[cfg(feature = "jwt")]
#[test]
fn operator_mode_wants_account_keys() {
    use crate::auth::jwt;
    use crate::auth::nkeys::{KeyKind, KeyPair};
    use std::path::PathBuf;
    let op = KeyPair::from_raw_seed(KeyKind::Operator, [1; 32]);
    let op_jwt = jwt::encode(
        &serde_json::json!({"sub": op.public_key().encode(), "name": "OP", "nats": {"type": "operator", "version": 2}}),
        &op,
        1,
    );
    let account = KeyPair::from_raw_seed(KeyKind::Account, [2; 32])
        .public_key()
        .encode();
    let with = |leafnodes: &str| {
        let mut loader = MemoryLoader::default();
        loader.files.insert(PathBuf::from("op.jwt"), op_jwt.clone());
        options_from_text(
            &format!("operator: op.jwt\nresolver: MEMORY\nleafnodes {{ {leafnodes} }}"),
            Path::new("n.conf"),
            &mut loader,
            &Overrides::default(),
        )
        .map(|l| l.options.leafnodes.unwrap())
        .map_err(|e| e.to_string())
    };
    let l = with(&format!(
        "remotes: [{{url: \"nats://a\", account: {account}}}]"
    ))
    .unwrap();
    assert_eq!(l.remotes[0].account.as_deref(), Some(account.as_str()));
    assert_eq!(
        with("remotes: [{url: \"nats://a\"}]").unwrap_err(),
        "operator mode requires account nkeys in remotes. Please add an `account` key to each \
         remote in your `leafnodes` section, to assign it to an account. Each account value \
         should be a 56 character public key, starting with the letter 'A'"
    );
    assert_eq!(
        with("authorization { users: [{user: a}] }").unwrap_err(),
        "operator mode does not allow specifying users in leafnode config"
    );
    assert_eq!(
        with("port: 1, authorization { account: ACC }").unwrap_err(),
        "operator mode and non account nkeys are incompatible"
    );
    with(&format!("port: 1, authorization {{ account: {account} }}")).unwrap();
}

#[test]
fn validate_checks_options_built_in_code() {
    let mut o = Options {
        leafnodes: Some(LeafnodeOptions {
            remotes: vec![RemoteLeafOptions {
                urls: vec!["nats://a:1".into()],
                deny_imports: vec!["a..b".into()],
                ..RemoteLeafOptions::default()
            }],
            ..LeafnodeOptions::default()
        }),
        ..Options::default()
    };
    assert_eq!(
        o.validate().unwrap_err(),
        "invalid deny_imports for remote urls=[\"nats://a:1\"], account=\"$G\": subject \"a..b\" \
         is not a valid subject"
    );
    o.leafnodes = Some(LeafnodeOptions {
        username: Some("a".into()),
        users: vec![LeafUser::default()],
        ..LeafnodeOptions::default()
    });
    assert_eq!(
        o.validate().unwrap_err(),
        "can not have a single user/pass and a users array"
    );
}

#[test]
fn the_digest_is_nats_servers() {
    // As nats-server v2.15.1 prints it for the same text.
    let text = "leafnodes { port: 7422 }\n";
    assert_eq!(
        loaded(text).digest,
        "sha256:1857275ac0201efebd825357bf15999a7fd8107879cf4f4dcc46320d8f19b471"
    );
}

#[cfg(not(all(feature = "tls", feature = "websocket")))]
#[test]
fn a_build_without_tls_or_websocket_refuses_leaf_nodes_that_need_them() {
    let no_tls = "TLS is not supported by this build: natsd was built without the `tls` feature";
    let no_ws = "WebSocket is not supported by this build: natsd was built without the \
                 `websocket` feature";
    if !cfg!(feature = "tls") {
        assert_eq!(error("leafnodes { port: 1, tls { timeout: 2 } }"), no_tls);
        assert_eq!(
            error("leafnodes { remotes: [{url: \"tls://a\", tls { timeout: 2 }}] }"),
            no_tls
        );
        assert_eq!(error("leafnodes { remotes: [{url: \"wss://a\"}] }"), no_tls);
    }
    if !cfg!(feature = "websocket") {
        assert_eq!(error("leafnodes { remotes: [{url: \"ws://a\"}] }"), no_ws);
    }
}
