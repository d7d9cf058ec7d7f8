//! The natsd binary with a configuration file: `-c`, `-t`, each key's
//! observable effect, flags over the file, includes and variables, reload;
//! and, where the reference nats-server is installed, the same verdict and
//! digest from both on the same files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::binary::{Running, NATSD};

/// A directory of its own for each test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("config-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(NATSD).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `natsd -c <file> -t`.
fn check(path: &Path) -> Output {
    run(&["-c", path.to_str().unwrap(), "-t"])
}

#[test]
fn check_says_a_good_file_is_valid_with_nats_servers_digest() {
    let dir = scratch("check-ok");
    let path = write(&dir, "ok.conf", "port: 4333\n");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "natsd: configuration file {} is valid \
             (sha256:5942f6739f1572892ba80b954eee212713f172258629e16936dfeeae8e2eb80d)\n",
            path.display()
        )
    );
}

#[test]
fn malformed_files_fail_with_their_line_and_never_a_panic() {
    let dir = scratch("malformed");
    for (text, place) in [
        ("port: 4222\nmax_payload: \"1MB\n", ":2:14: Unexpected EOF"),
        ("a {\n  b: 1\n", ":1:3: Unexpected EOF processing map"),
        (
            "port: 4222 4223\n",
            ":1:12: Expected a top-level value to end",
        ),
        ("port:\n4222\n", ":1:6: Expected value but found new line"),
        ("\n\nbogus: 1\n", ":3:1: unknown field \"bogus\""),
        (
            "port: \"x\"\n",
            ":1:1: port: expected an integer, got a string",
        ),
        (
            "port: $NOT_DEFINED_ANYWHERE\n",
            ":1:7: variable reference for 'NOT_DEFINED_ANYWHERE' on line 1 can not be found",
        ),
        (
            "include missing.conf\n",
            ":1:1: error parsing include file 'missing.conf'",
        ),
        (
            "\u{0}\u{1}\u{2}",
            ":1:1: config is invalid: key '\\0\\u{1}\\u{2}' has no value",
        ),
    ] {
        let path = write(&dir, "bad.conf", text);
        for args in [
            &["-c", path.to_str().unwrap(), "-t"][..],
            &["-c", path.to_str().unwrap()][..],
        ] {
            let out = run(args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{text:?} {args:?}: {err}");
            let expected = format!("natsd: {}{place}", path.display());
            assert!(err.starts_with(&expected), "{text:?}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn check_fails_on_nats_servers_warnings_and_needs_a_file() {
    let dir = scratch("check-warnings");
    let path = write(&dir, "w.conf", "ping_interval: 30\n");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(
        "w.conf:1:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
    ));
    let out = run(&["-t"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "natsd: must specify [-c, --config] option to check configuration file syntax\n"
    );
    let out = run(&["-c", dir.join("nope.conf").to_str().unwrap(), "-t"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("natsd: error opening config file"));
}

#[test]
fn keys_natsd_ignores_are_named_and_the_file_is_still_valid() {
    let dir = scratch("unsupported");
    let path = write(&dir, "u.conf", "port: 4333\ngateway {\n  port: 7222\n}\n");
    let out = check(&path);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("u.conf:2:1: \"gateway\" is not supported by natsd yet and is ignored"));
    // At start, the same words go to the log as a warning.
    let path = write(
        &dir,
        "s.conf",
        "listen: \"127.0.0.1:-1\"\nmqtt { port: 1883 }\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    assert!(srv
        .log
        .iter()
        .any(|l| l.contains("[WRN]") && l.contains("\"mqtt\" is not supported by natsd yet")));
}

#[test]
fn the_file_sets_what_info_shows() {
    let dir = scratch("info");
    let path = write(
        &dir,
        "info.conf",
        "# an edge node\nhost: 127.0.0.1\nport: -1\nserver_name: edge-7\n\
         max_payload: 64KB\nmax_pending: 1MB\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let raw = srv.connect();
    assert_eq!(raw.info["server_name"], "edge-7");
    assert_eq!(raw.info["max_payload"], 65536);
    assert_eq!(raw.info["port"], srv.addr.port());
    assert_eq!(raw.info["host"], "127.0.0.1");
    assert_eq!(raw.info.get("auth_required"), None);
}

#[test]
fn limits_from_the_file_hold() {
    let dir = scratch("limits");
    let path = write(
        &dir,
        "limits.conf",
        "listen: 127.0.0.1:-1\nmax_connections: 1\nmax_subscriptions: 1\n\
         max_control_line: 64\nmax_payload: 8\nping_interval: \"1s\"\nping_max: 1\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let mut first = srv.connect();
    first.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\n");
    first.expect(b"-ERR 'maximum subscriptions exceeded'\r\n");
    first.send(b"PUB a 9\r\n123456789\r\n");
    first.expect_err_and_close("Maximum Payload Violation");
    let mut raw = srv.connect();
    raw.send(format!("SUB {} 1\r\n", "x".repeat(100)).as_bytes());
    raw.expect_err_and_close("maximum control line exceeded");
    // One connection at most.
    let _held = srv.connect();
    let mut second = srv.connect();
    second.expect_err_and_close("maximum connections exceeded");
}

#[test]
fn ping_interval_from_the_file() {
    let dir = scratch("ping");
    let path = write(
        &dir,
        "ping.conf",
        "listen: 127.0.0.1:-1\nping_interval: \"1s\"\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let mut raw = srv.connect();
    raw.send(b"CONNECT {\"verbose\":false}\r\n");
    assert_eq!(raw.read_line(), "PING", "the first comes early anyway");
    raw.send(b"PONG\r\n");
    // The next one a second later, not nats-server's default two minutes.
    let answered = Instant::now();
    assert_eq!(raw.read_line(), "PING");
    assert!(answered.elapsed() < Duration::from_secs(4));
}

#[test]
fn users_from_the_file_authenticate_and_the_no_auth_user_is_who_says_nothing() {
    let dir = scratch("users");
    let path = write(
        &dir,
        "users.conf",
        "listen: 127.0.0.1:-1\n\
         authorization {\n  users: [\n    {user: alice, password: wonderland}\n    \
         {user: bob, password: builder}\n    {user: guest}\n  ]\n}\nno_auth_user: guest\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let welcome = |json: &str| {
        let mut raw = srv.connect();
        // nats-server leaves auth_required out when a client that says
        // nothing is taken as the no_auth_user.
        assert_eq!(raw.info.get("auth_required"), None);
        raw.send(format!("CONNECT {json}\r\nPING\r\n").as_bytes());
        raw.read_line()
    };
    assert_eq!(
        welcome(r#"{"verbose":false,"user":"alice","pass":"wonderland"}"#),
        "PONG"
    );
    assert_eq!(
        welcome(r#"{"verbose":false,"user":"bob","pass":"builder"}"#),
        "PONG"
    );
    assert_eq!(welcome(r#"{"verbose":false}"#), "PONG", "the no_auth_user");
    for refused in [
        r#"{"verbose":false,"user":"alice","pass":"builder"}"#,
        r#"{"verbose":false,"user":"carol","pass":"x"}"#,
        r#"{"verbose":false,"pass":"wonderland"}"#,
        r#"{"verbose":false,"auth_token":"wonderland"}"#,
    ] {
        assert_eq!(
            welcome(refused),
            "-ERR 'Authorization Violation'",
            "{refused}"
        );
    }

    // Without a no_auth_user, saying nothing is refused.
    let path = write(
        &dir,
        "strict.conf",
        "listen: 127.0.0.1:-1\nauthorization { users: [ {user: a, password: b} ], timeout: 0.5 }\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let mut raw = srv.connect();
    raw.send(b"CONNECT {\"verbose\":false}\r\n");
    raw.expect_err_and_close("Authorization Violation");
    // And the auth timeout is the file's.
    let mut silent = srv.connect();
    let started = Instant::now();
    silent.expect_err_and_close("Authentication Timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn single_user_and_token_from_the_file() {
    let dir = scratch("single");
    let path = write(
        &dir,
        "user.conf",
        "listen: 127.0.0.1:-1\nauthorization { user: u, password: p }\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let mut raw = srv.connect();
    raw.send(b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n");
    raw.expect(b"PONG\r\n");
    let path = write(
        &dir,
        "token.conf",
        "listen: 127.0.0.1:-1\nauthorization { token: t0k }\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap()]);
    let mut raw = srv.connect();
    raw.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"t0k\"}\r\nPING\r\n");
    raw.expect(b"PONG\r\n");
}

#[test]
fn flags_given_win_over_the_file() {
    let dir = scratch("flags");
    let path = write(
        &dir,
        "f.conf",
        "host: 127.0.0.1\nport: 1\nserver_name: from-file\n\
         authorization { user: file, password: file }\n",
    );
    let srv = Running::start(&[
        "-c",
        path.to_str().unwrap(),
        "-port",
        "-1",
        "--user",
        "flag",
        "--pass",
        "flag",
    ]);
    let mut raw = srv.connect();
    assert_eq!(
        raw.info["server_name"], "from-file",
        "not given: the file's"
    );
    raw.send(b"CONNECT {\"verbose\":false,\"user\":\"flag\",\"pass\":\"flag\"}\r\nPING\r\n");
    raw.expect(b"PONG\r\n");
    // Long names after one dash work for the new flags too.
    for config in ["-config", "--config"] {
        let out = run(&[config, path.to_str().unwrap(), "-t"]);
        assert_eq!(out.status.code(), Some(0), "{config}: {}", stderr(&out));
    }
    let out = run(&[&format!("-config={}", path.display()), "-t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn includes_and_variables() {
    let dir = scratch("include");
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    write(&dir, "conf.d/limits.conf", "max_payload: $PAYLOAD\n");
    write(&dir, "conf.d/name.conf", "server_name: $NAME\n");
    let path = write(
        &dir,
        "main.conf",
        "NAME = edge-7\nserver_name: $NAME\nlisten: 127.0.0.1:-1\ninclude conf.d/limits.conf\n",
    );
    let srv = Running::start_with_env(&["-c", path.to_str().unwrap()], &[("PAYLOAD", "2KB")]);
    let info = srv.connect().info;
    assert_eq!(
        info["max_payload"], 2048,
        "from the environment, in the include"
    );
    assert_eq!(info["server_name"], "edge-7", "from the file's own key");
    // An included file does not see the including file's keys.
    let path = write(
        &dir,
        "main2.conf",
        "NAME = x\ninclude conf.d/name.conf\nlisten: 127.0.0.1:-1\n",
    );
    let out = run(&["-c", path.to_str().unwrap(), "-t"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("variable reference for 'NAME' on line 1 can not be found"));
}

#[test]
fn files_and_logging_from_the_file() {
    let dir = scratch("files");
    let log = dir.join("natsd.log");
    let path = write(
        &dir,
        "files.conf",
        &format!(
            "listen: 127.0.0.1:-1\npid_file: {}\nports_file_dir: {}\nlog_file: {}\ndebug: true\ntrace: true\n",
            dir.join("natsd.pid").display(),
            dir.display(),
            log.display()
        ),
    );
    let mut child = Command::new(NATSD)
        .args(["-c", path.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server is ready")) {
        assert!(Instant::now() < deadline, "no log file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(dir.join("natsd.pid")).unwrap();
    assert_eq!(pid, child.id().to_string());
    let ports = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".ports"));
    assert!(ports, "a ports file");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("[DBG]") || text.contains("[TRC]") || text.contains("[INF]"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_reload_reads_the_file_again_under_the_same_flags() {
    let dir = scratch("reload");
    let path = write(
        &dir,
        "r.conf",
        "host: 127.0.0.1\nport: 1\nmax_payload: 1KB\n",
    );
    let srv = Running::start(&["-c", path.to_str().unwrap(), "-p", "-1"]);
    assert_eq!(srv.connect().info["max_payload"], 1024);
    write(
        &dir,
        "r.conf",
        "host: 127.0.0.1\nport: 1\nmax_payload: 2KB\n",
    );
    srv.signal("HUP");
    srv.wait_for_log("Reloaded server configuration");
    // The port stays the flag's (a changed port would refuse the reload).
    assert_eq!(srv.connect().info["max_payload"], 2048);
    write(
        &dir,
        "r.conf",
        "host: 127.0.0.1\nport: 1\nmax_payload: \"oops\n",
    );
    srv.signal("HUP");
    let line = srv.wait_for_log("Failed to reload server configuration");
    assert!(line.contains("r.conf:3:14: Unexpected EOF"), "{line}");
    assert_eq!(srv.connect().info["max_payload"], 2048);
}

/// The same verdict from natsd and nats-server on the same files, and for
/// valid ones the same digest: the digest covers every parsed value, so
/// this compares the parsers value for value. Skipped without the
/// reference binary (`.ci/test` installs it).
#[test]
fn natsd_and_nats_server_agree_on_these_files() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!("skipped: no {}", reference.display());
        return;
    }
    let dir = scratch("agree");
    write(&dir, "inc.conf", "server_name: included\n");
    let cases = [
        "port: 4222\n",
        "listen: 127.0.0.1:4222\nhttp: \"127.0.0.1:8222\"\n",
        "{\n  \"port\": 4222,\n  \"debug\": true\n}\n",
        "server_name = \"a\\tb\\x41\"\nlogtime: no\n",
        "server_name: 'single \\n quotes'\n",
        "server_name: (\nblock\n string\n)\n",
        "server_name: (\nat the end\n)",
        "max_payload: 1MB\nmax_pending: 64MB\nmax_control_line: 4KB\n",
        "max_payload: 64KiB; max_connections: 1k, max_subscriptions 10\n",
        "ping_interval: \"30s\"\nwrite_deadline: \"2.5s\"\n",
        "ping_interval: 30\n",
        "lame_duck_duration: \"1m\"\nlame_duck_grace_period: \"5s\"\n",
        "lame_duck_duration: \"10s\"\n",
        "authorization {\n  user: a // comment\n  password: \"b\" # comment\n  timeout: 1.5\n}\n",
        "authorization { users: [ {user: a, password: b}\n {user: c} ] }\nno_auth_user: c\n",
        "authorization { token: t, user: u }\n",
        "p = 4333\nport: $p\n",
        "m { p = 1 }\nport: $p\n",
        "include inc.conf\n",
        "include missing.conf\n",
        "port: 4222 }\n",
        "port: [1, 2]\n",
        "port: \"open\n",
        "bogus: 1\n",
        "",
        "# nothing\n",
        "debug: YES\ntrace: off\n",
        "server_name: 1'x\n",
        "server_name: nats://host:4222\n",
        "port\n",
        "port:\n4222\n",
        "authorization { users: [ {user: a, bogus: 1} ] }\n",
        "max_payload: 3000000000\n",
        "leafnodes { port: 7422 }\n",
        "leaf {\n  listen: \"127.0.0.1:7422\"\n  authorization { user: a, password: b, timeout: 2 }\n  \
         remotes [ {url: \"nats-leaf://hub\", deny_imports: \"a.>\", first_info_timeout: \"2s\"} ]\n}\n",
        "leafnodes { remotes: [ {urls: [\"nats://a\", \"nats://b:7000\"], hub: true} ] }\n",
        "leafnodes { bogus: 1 }\n",
        "leafnodes { remotes: 1 }\n",
        "cluster { port: 6222 }\n",
        "cluster {\n  name: c1\n  listen: \"127.0.0.1:6222\"\n  advertise: \"a:1\"\n  \
         no_advertise: true\n  connect_retries: 3\n  connect_backoff: true\n  \
         authorization { user: ru, password: rp, timeout: 2 }\n  \
         routes: [\"nats-route://ru:rp@127.0.0.1:6223\", \"nats://b:6222\"]\n  \
         permissions { import: \"a.>\", export: { deny: \"b.>\" } }\n  \
         ping_interval: \"10s\"\n  ping_max: 3\n  write_deadline: \"5s\"\n  write_timeout: retry\n}\n",
        "cluster { port: 6222, pool_size: 3, compression: s2_fast }\n",
        "cluster { host: 127.0.0.1, port: -1, pool_size: -1, compression: off }\n",
        "cluster { bogus: 1 }\n",
    ];
    // A build without the monitor refuses `http`, where nats-server has it;
    // one without leaf nodes refuses `leafnodes`.
    let cases = cases
        .iter()
        .filter(|text| cfg!(feature = "monitor") || !text.contains("http"))
        .filter(|text| cfg!(feature = "leafnodes") || !text.contains("leaf"))
        .filter(|text| cfg!(feature = "cluster") || !text.contains("cluster"));
    let mut disagreements = Vec::new();
    for (i, text) in cases.enumerate() {
        let path = write(&dir, &format!("case{i}.conf"), text);
        let verdict = |bin: &Path| {
            let out = Command::new(bin)
                .args(["-c", path.to_str().unwrap(), "-t"])
                .current_dir(&dir)
                .output()
                .unwrap();
            let err = stderr(&out);
            let digest = err
                .split("(sha256:")
                .nth(1)
                .map(|d| d.trim_end_matches(&[')', '\n'][..]).to_string());
            (out.status.success(), digest, err)
        };
        let (natsd, go) = (verdict(Path::new(NATSD)), verdict(&reference));
        if (natsd.0, &natsd.1) != (go.0, &go.1) {
            disagreements.push(format!(
                "{text:?}\n  natsd: {}\n  nats-server: {}",
                natsd.2, go.2
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Bad `leafnodes {}` blocks: natsd's `-t` says what nats-server's says
/// (positions aside: they count columns their own way). Only what
/// nats-server checks when it reads the file; what it checks when it
/// starts (accounts, mixed URLs) is in `conf/leafnodes_tests.rs`.
#[cfg(feature = "leafnodes")]
#[test]
fn leafnode_errors_read_as_nats_servers() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!("skipped: no {}", reference.display());
        return;
    }
    let dir = scratch("leaf-errors");
    let seed = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";
    let mut cases = vec![
        "leaf { port: 7422, bogus: 1 }".to_string(),
        "leafnodes: 1".into(),
        "leafnodes {\n remotes: 1\n}".into(),
        "leafnodes {\n remotes: [\n \"x\"\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: 1}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a b:%\"}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a:12x\"}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: [\"nats://a\", \"nats://a\"]}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a\"}, {url: \"nats://a\"}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a\", deny_imports: [\"foo..bar\"]}\n ]\n}"
            .into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a\", proxy: {url: \"ftp://x\"}}\n ]\n}".into(),
        "leafnodes {\n remotes: [\n {url: \"nats://a\", tls: {cert_file: x}}\n ]\n}".into(),
        "leafnodes {\n authorization { users: [{user: a, bogus: 1}] }\n}".into(),
        "leafnodes {\n authorization { token: x }\n}".into(),
        "leafnodes {\n authorization { user: a, users: [{user: b}] }\n}".into(),
        "leafnodes {\n authorization { users: [{user: b},{user: b}] }\n}".into(),
        "leafnodes {\n authorization { timeout: \"x\" }\n}".into(),
        "leafnodes {\n authorization { timeout: 61 }\n}".into(),
        "leafnodes {\n reconnect: 2\n}".into(),
        "leafnodes {\n min_version: \"2.7.0\"\n}".into(),
        "leafnodes {\n min_version: \"abc\"\n}".into(),
        "leafnodes {\n compression: 1\n}".into(),
        "leafnodes {\n write_timeout: x\n}".into(),
    ];
    if cfg!(feature = "jwt") {
        cases.extend([
            "leafnodes {\n authorization { nkey: \"UABC\" }\n}".to_string(),
            "leafnodes {\n remotes: [\n {url: \"nats://a\", nkey: \"SUAB\"}\n ]\n}".into(),
            format!("leafnodes {{\n remotes: [\n {{url: \"nats://a\", creds: \"/x\", nkey: {seed}}}\n ]\n}}"),
        ]);
    }
    let message = first_message;
    let mut disagreements = Vec::new();
    for (i, text) in cases.iter().enumerate() {
        let path = write(&dir, &format!("leaf{i}.conf"), text);
        let natsd = check(&path);
        let go = Command::new(&reference)
            .args(["-c", path.to_str().unwrap(), "-t"])
            .output()
            .unwrap();
        assert!(!go.status.success(), "{text:?} is a bad file");
        if natsd.status.success() || message(&natsd) != message(&go) {
            disagreements.push(format!(
                "{text:?}\n  natsd: {}\n  nats-server: {}",
                stderr(&natsd),
                stderr(&go)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The message of the first line of a `-t` run, without the program's
/// name and the position (natsd and nats-server count columns their own
/// way).
#[cfg(any(feature = "leafnodes", feature = "cluster"))]
fn first_message(out: &Output) -> String {
    let err = stderr(out);
    let line = err.lines().next().unwrap_or("").to_string();
    let line = line
        .split_once(": ")
        .map_or(line.clone(), |(_, rest)| rest.to_string());
    match line.split_once(".conf:") {
        Some((_, rest)) => rest.splitn(3, ':').nth(2).unwrap_or("").trim().to_string(),
        None => line,
    }
}

/// nats-server run on a file until it refuses it or seems to have started
/// (then it is stopped): its verdict on what it checks only when it starts.
#[cfg(feature = "cluster")]
fn nats_server_start(reference: &Path, path: &Path) -> Option<Output> {
    let mut child = Command::new(reference)
        .args(["-c", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Bad `cluster {}` blocks: natsd's `-t` says what nats-server's says
/// (positions aside), for what nats-server checks when it reads the file
/// and, run without `-t`, for what it checks when it starts. Then the
/// documented differences: natsd's own words for a value of the wrong
/// type (nats-server shows Go's panic, `interface conversion: ...`) and
/// for a callout (nats-server parses it before refusing it), and what
/// natsd refuses that nats-server takes (README, man page: routes it
/// could never dial, pooling and policies natsd does not have).
#[cfg(feature = "cluster")]
#[test]
fn cluster_errors_read_as_nats_servers() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!("skipped: no {}", reference.display());
        return;
    }
    let dir = scratch("cluster-errors");
    let read_time = [
        "cluster: 1",
        "cluster { port: 6222, bogus: 1 }",
        "cluster {\n name: \"a b\"\n}",
        "cluster {\n listen: \"a:b\"\n}",
        "cluster {\n listen: \"nohostport\"\n}",
        "cluster {\n port: 6222\n routes: [\n \"nats://a b:1\"\n ]\n}",
        "cluster {\n port: 6222\n routes: [\n \"nats://a:12x\"\n ]\n}",
        "cluster {\n port: 6222\n routes: [\"nats://a:1\", \"nats://a:1\"]\n}",
        "cluster {\n authorization { token: x }\n}",
        "cluster {\n authorization { users: [] }\n}",
        "cluster {\n authorization { users: [{user: a, password: b}] }\n}",
        "cluster {\n authorization { timeout: \"x\" }\n}",
        "cluster {\n authorization { timeout: 61 }\n}",
        "cluster {\n authorization { bogus: 1 }\n}",
        "cluster {\n authorization { user: a, password: b, permissions: { import: x } }\n}",
        "cluster {\n permissions { allow_responses: true }\n}",
        "cluster {\n permissions { export: \"a b\" }\n}",
        "cluster {\n permissions { import: { deny: \"a..b\" } }\n}",
        "cluster {\n permissions: 1\n}",
        "cluster {\n permissions { bogus: 1 }\n}",
        "cluster {\n tls { cert_file: x }\n}",
        "cluster {\n tls { pinned_certs: [\"x\"] }\n}",
        "cluster {\n tls { bogus: 1 }\n}",
        "cluster {\n compression: 1\n}",
        "cluster {\n compression: { mode: fast, bogus: 1 }\n}",
        "cluster {\n ping_interval: 5\n}",
        "cluster {\n ping_interval: \"1m\"\n}",
        "cluster {\n ping_interval: \"x\"\n}",
        "cluster {\n write_deadline: \"x\"\n}",
        "cluster {\n write_timeout: x\n}",
        "cluster {\n accounts: 1\n}",
    ];
    let start_time = [
        "port: -1\ncluster {\n port: -1\n compression: \"bogus\"\n}",
        "port: -1\ncluster {\n port: -1\n compression: {mode: s2_auto, rtt_thresholds: [\"10ms\", \"5ms\"]}\n}",
        "port: -1\ncluster {\n port: -1\n compression: {mode: s2_auto, rtt_thresholds: [\"0s\"]}\n}",
        "port: -1\ncluster {\n port: -1\n pool_size: -1\n accounts: [A]\n}\naccounts { A {} }",
    ];
    let mut disagreements = Vec::new();
    for (i, text) in read_time.iter().enumerate() {
        let path = write(&dir, &format!("read{i}.conf"), text);
        let natsd = check(&path);
        let go = Command::new(&reference)
            .args(["-c", path.to_str().unwrap(), "-t"])
            .output()
            .unwrap();
        assert!(!go.status.success(), "{text:?} is a bad file");
        if natsd.status.success() || first_message(&natsd) != first_message(&go) {
            disagreements.push(format!(
                "{text:?}\n  natsd: {}\n  nats-server: {}",
                stderr(&natsd),
                stderr(&go)
            ));
        }
    }
    for (i, text) in start_time.iter().enumerate() {
        let path = write(&dir, &format!("start{i}.conf"), text);
        let natsd = check(&path);
        let Some(go) = nats_server_start(&reference, &path) else {
            panic!("{text:?}: nats-server started");
        };
        assert!(!go.status.success(), "{text:?} is a bad file");
        if natsd.status.success() || first_message(&natsd) != first_message(&go) {
            disagreements.push(format!(
                "{text:?}\n  natsd: {}\n  nats-server: {}",
                stderr(&natsd),
                stderr(&go)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));

    // Both refuse, in their own words.
    for (i, (text, natsd_says, go_says)) in [
        (
            "cluster {\n name: 1\n}",
            "name: expected a string, got an integer",
            "interface conversion: interface {} is int64, not string",
        ),
        (
            "cluster {\n port: \"x\"\n}",
            "port: expected an integer, got a string",
            "interface conversion: interface {} is string, not int64",
        ),
        (
            "cluster {\n routes: \"nats://a:1\"\n}",
            "routes: expected an array, got a string",
            "interface conversion: interface {} is string, not []interface {}",
        ),
        (
            "cluster {\n no_advertise: 1\n}",
            "no_advertise: expected a boolean, got an integer",
            "interface conversion: interface {} is int64, not bool",
        ),
        (
            "cluster {\n authorization { auth_callout { issuer: x } }\n}",
            "Cluster authorization does not support callouts",
            "Expected callout user to be a valid public account nkey, got \"x\"",
        ),
    ]
    .iter()
    .enumerate()
    {
        let path = write(&dir, &format!("own{i}.conf"), text);
        let natsd = check(&path);
        let go = Command::new(&reference)
            .args(["-c", path.to_str().unwrap(), "-t"])
            .output()
            .unwrap();
        assert_eq!(first_message(&natsd), *natsd_says, "{text:?}");
        assert_eq!(first_message(&go), *go_says, "{text:?}");
    }

    // natsd refuses what nats-server takes.
    for (i, (text, natsd_says)) in [
        (
            "cluster {\n port: 6222\n routes: [\"nats://a\"]\n}",
            "error parsing route url [\"nats://a\"]: no port (a URL such as \
             nats-route://host:6222 is expected)",
        ),
        (
            "cluster {\n routes: [\"nats://a:6222\"]\n}",
            "solicited routes require cluster capabilities, e.g. --cluster",
        ),
        (
            "cluster {\n port: 6222\n accounts: [A]\n}\naccounts { A {} }",
            "cluster: accounts is not supported by natsd: pinned accounts need route pooling, \
             which natsd does not do (it behaves as pool_size: -1)",
        ),
        (
            "cluster {\n write_timeout: close\n}",
            "cluster: write_timeout is not supported by natsd",
        ),
        (
            "cluster {\n tls { insecure: true }\n}",
            "cluster: tls insecure is not supported by natsd",
        ),
        (
            "cluster {\n authorization { timeout: -1 }\n}",
            "authorization timeout can not be negative",
        ),
    ]
    .iter()
    .enumerate()
    {
        let path = write(&dir, &format!("natsd{i}.conf"), text);
        let natsd = check(&path);
        let go = Command::new(&reference)
            .args(["-c", path.to_str().unwrap(), "-t"])
            .output()
            .unwrap();
        assert!(go.status.success(), "{text:?}: {}", stderr(&go));
        assert_eq!(first_message(&natsd), *natsd_says, "{text:?}");
    }
}

/// The cluster flags say what nats-server's say when they are wrong.
#[cfg(feature = "cluster")]
#[test]
fn cluster_flag_errors_read_as_nats_servers() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ref/bin/nats-server");
    if !reference.exists() {
        eprintln!("skipped: no {}", reference.display());
        return;
    }
    for args in [
        &["--cluster", "nats://u@127.0.0.1:-1"][..],
        &["--cluster", "nats://127.0.0.1"][..],
        &["--cluster", "127.0.0.1:6222"][..],
        &["--cluster", "nats://h:x"][..],
        &["--routes", "nats://127.0.0.1:6222"][..],
        &["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "a b"][..],
    ] {
        let mut full = vec!["-p", "-1"];
        full.extend_from_slice(args);
        let natsd = run(&full);
        let go = Command::new(&reference).args(&full).output().unwrap();
        assert_eq!(natsd.status.code(), Some(1), "{args:?}");
        assert!(!go.status.success(), "{args:?}");
        let natsd_err = stderr(&natsd);
        let go_err = stderr(&go);
        assert_eq!(
            natsd_err.trim().strip_prefix("natsd: "),
            go_err.trim().strip_prefix("nats-server: "),
            "{args:?}"
        );
    }
}

/// A reload that takes a user away closes that user's connections (without
/// a word, as nats-server does), one that changes a password closes with
/// nats-server's error, the others stay; a reload logs what changed, and
/// one that changes what cannot change live applies nothing.
#[test]
fn a_reload_applies_users_live_and_refuses_a_new_server_name() {
    let dir = scratch("reload-users");
    let users = |list: &str| format!("host: 127.0.0.1\nauthorization {{ users: [{list}] }}\n");
    let path = write(
        &dir,
        "u.conf",
        &users("{user: a, password: pa}, {user: b, password: pb}, {user: c, password: pc}"),
    );
    let srv = Running::start(&["-c", path.to_str().unwrap(), "-p", "-1"]);
    let login = |user: &str, pass: &str| {
        let mut c = srv.connect();
        c.send(
            format!(
                "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\nPING\r\n"
            )
            .as_bytes(),
        );
        c.expect(b"PONG\r\n");
        c
    };
    let mut a = login("a", "pa");
    let mut b = login("b", "pb");
    let mut c = login("c", "pc");

    write(
        &dir,
        "u.conf",
        &users("{user: a, password: pa}, {user: c, password: new}"),
    );
    srv.signal("HUP");
    srv.wait_for_log("Reloaded: authorization users");
    srv.wait_for_log("Reloaded server configuration");
    b.expect_closed();
    c.expect_err_and_close("Authorization Violation");
    a.expect_nothing_more();

    write(
        &dir,
        "u.conf",
        &format!("server_name: other\n{}", users("{user: a, password: pa}")),
    );
    srv.signal("HUP");
    let line = srv.wait_for_log("Failed to reload server configuration");
    assert!(
        line.contains("config reload not supported for ServerName"),
        "{line}"
    );
    a.expect_nothing_more();
}

/// A reload that changes permissions and accounts: a connected user keeps
/// its connection with the new permissions and loses the subscriptions
/// they deny, each with nats-server's error; a user moved to another
/// account is closed without a word; an import added by the reload reaches
/// subscriptions made before it.
#[test]
fn a_reload_applies_permissions_and_accounts_to_connected_clients() {
    let dir = scratch("reload-permissions");
    let config = |alice_perms: &str, dave_account: &str, import: &str| {
        format!(
            "host: 127.0.0.1\n\
             accounts {{\n\
               A: {{ users: [ {{user: alice, password: a, permissions: {alice_perms}}} ], \
                     exports: [ {{stream: \"news.>\"}} ] }}\n\
               B: {{ users: [ {{user: bob, password: b}} ]{import} }}\n\
               {dave_account}: {{ users: [ {{user: dave, password: d}} ] }}\n\
             }}\n"
        )
    };
    let path = write(&dir, "p.conf", &config("{subscribe: \">\"}", "C", ""));
    let srv = Running::start(&["-c", path.to_str().unwrap(), "-p", "-1"]);
    let login = |user: &str, pass: &str, then: &str| {
        let mut c = srv.connect();
        c.send(
            format!(
                "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n{then}PING\r\n"
            )
            .as_bytes(),
        );
        c.expect(b"PONG\r\n");
        c
    };
    let mut alice = login(
        "alice",
        "a",
        "SUB foo.a 1\r\nSUB foo.b 2\r\nSUB q.x grp 3\r\n",
    );
    let mut bob = login("bob", "b", "SUB from_a.news.> 1\r\n");
    let mut dave = login("dave", "d", "");

    write(
        &dir,
        "p.conf",
        &config(
            "{subscribe: {allow: \">\", deny: [\"foo.a\", \"q.x grp\"]}, publish: [\"ok.>\", \"news.>\"]}",
            "D",
            ", imports: [ {stream: {account: A, subject: \"news.>\"}, prefix: from_a} ]",
        ),
    );
    srv.signal("HUP");
    // Logged in this order: each removal, then what changed.
    srv.wait_for_log("Removed sub \"foo.a\" (sid \"1\") for User \"alice\" - not authorized");
    srv.wait_for_log("Reloaded: accounts");
    srv.wait_for_log("Reloaded server configuration");
    // Both denied subscriptions are reported, in no particular order.
    let mut errors = [alice.read_line(), alice.read_line()];
    errors.sort();
    assert_eq!(
        errors,
        [
            "-ERR 'Permissions Violation for Subscription to \"foo.a\" (sid \"1\")'".to_string(),
            "-ERR 'Permissions Violation for Subscription to \"q.x\" using queue \"grp\" (sid \"3\")'"
                .to_string(),
        ]
    );
    dave.expect_closed();
    // The new publish permission holds; the kept subscription still works.
    alice.send(b"PUB foo.b 1\r\nx\r\nPUB ok.1 1\r\ny\r\nPUB news.today 2\r\nhi\r\nPING\r\n");
    alice.expect(b"-ERR 'Permissions Violation for Publish to \"foo.b\"'\r\nPONG\r\n");
    // Bob's subscription from before the reload receives A's stream now.
    bob.expect(b"MSG from_a.news.today 1 2\r\nhi\r\n");
    bob.expect_nothing_more();
}
