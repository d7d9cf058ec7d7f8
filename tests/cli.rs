//! The natsd binary as tools drive nats-server: flags, log lines, pid and
//! ports files, signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::binary::{Running, NATSD};

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "natsd did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn random_port_is_logged_and_serves_then_sigterm_closes_clients() {
    let mut srv = Running::start(&["-a", "127.0.0.1", "-p", "-1"]);
    assert!(srv.log.iter().any(|l| l.contains("[INF] Starting natsd")));
    assert!(srv.addr.port() != 4222 && srv.addr.ip().is_loopback());
    let mut client = TcpStream::connect(&srv.addr).unwrap();
    let mut info = [0u8; 5];
    client.read_exact(&mut info).unwrap();
    assert_eq!(&info, b"INFO ");
    signal(&srv.child, "TERM");
    assert!(wait_exit(&mut srv.child).success());
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest); // EOF: the server closed us
}

/// `--busy_poll 0` (sleep at once) and a custom window both serve.
#[test]
fn busy_poll_is_a_duration_flag() {
    for value in ["0", "200us"] {
        let srv = Running::start(&["-a", "127.0.0.1", "-p", "-1", "--busy_poll", value]);
        let mut client = TcpStream::connect(srv.addr).unwrap();
        client
            .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        let mut reader = BufReader::new(client);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("INFO "), "{value}: {line}");
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "PONG\r\n", "{value}");
    }
}

/// nats-server's `--store_dir`/`-sd` is accepted without JetStream (the Rust
/// client's test harness starts every server with it), and `-js` is
/// refused with a clear message.
#[test]
fn store_dir_is_accepted_and_jetstream_refused() {
    let dir = temp_dir("store-dir");
    for flag in ["-sd", "--store_dir"] {
        let srv = Running::start(&["-a", "127.0.0.1", "-p", "-1", flag, dir.to_str().unwrap()]);
        let mut client = TcpStream::connect(srv.addr).unwrap();
        let mut info = [0u8; 5];
        client.read_exact(&mut info).unwrap();
        assert_eq!(&info, b"INFO ", "{flag}");
    }
    let out = Command::new(NATSD).args(["-js"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "natsd: JetStream (-js/--jetstream) is not supported by natsd yet"
    );
}

#[test]
fn sigint_exits_cleanly() {
    let mut srv = Running::start(&["-a", "127.0.0.1", "-p", "0"]);
    signal(&srv.child, "INT");
    assert!(wait_exit(&mut srv.child).success());
}

#[test]
fn default_address_listens_on_ipv4_and_ipv6() {
    let mut srv = Running::start(&["-p", "-1"]);
    assert!(srv.addr.ip().is_unspecified(), "{}", srv.addr);
    let port = srv.addr.port();
    for host in ["127.0.0.1", "[::1]"] {
        match TcpStream::connect(format!("{host}:{port}")) {
            Ok(mut c) => {
                let mut info = [0u8; 5];
                c.read_exact(&mut info).unwrap();
                assert_eq!(&info, b"INFO ");
            }
            // A machine without IPv6 loopback cannot test that half.
            Err(e) if host.starts_with('[') => eprintln!("skipping ::1: {e}"),
            Err(e) => panic!("{host}: {e}"),
        }
    }
    signal(&srv.child, "TERM");
    wait_exit(&mut srv.child);
}

#[test]
fn pid_and_ports_files_are_written_and_the_ports_file_removed() {
    let dir = temp_dir("files");
    let pid_file = dir.join("natsd.pid");
    let mut srv = Running::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-P",
        pid_file.to_str().unwrap(),
        "--ports_file_dir",
        dir.to_str().unwrap(),
    ]);
    let pid = srv.child.id();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let ports = dir.join(format!("natsd_{pid}.ports"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ports).unwrap()).unwrap();
    assert_eq!(json["nats"][0], format!("nats://{}", srv.addr));
    signal(&srv.child, "TERM");
    wait_exit(&mut srv.child);
    // As nats-server: the ports file goes, the pid file stays.
    assert!(!ports.exists() && pid_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_logs_the_protocol() {
    let mut child = Command::new(NATSD)
        .args(["-a", "127.0.0.1", "-p", "-1", "-DV"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|l| {
            l.split("Listening for client connections on ")
                .nth(1)
                .map(|a| a.to_string())
        })
        .unwrap();
    let mut c = TcpStream::connect(addr.trim()).unwrap();
    c.write_all(b"SUB foo 1\r\n").unwrap();
    let traced = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|l| l.contains("[TRC]") && l.contains("<<- [SUB foo  1]"));
    assert!(traced.is_some());
    signal(&child, "TERM");
    wait_exit(&mut child);
}

#[test]
fn bad_command_lines_exit_1_with_a_message() {
    for args in [
        &["--bogus"][..],
        &["-p", "notaport"],
        &["-p", "70000"],
        &["-m", "notaport"],
        &["-ms", "8443"],
        &["-c", "nats.conf"],
        &["--user", "u", "--auth", "t"],
        &["--busy_poll", "50"],
        &["--busy_poll", "2s"],
        &["-busy_poll", "-1us"],
        &["-js"],
        &["--jetstream"],
    ] {
        let out = Command::new(NATSD).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("natsd: "), "{args:?}: {err}");
    }
}

/// A build without the monitor refuses to be asked for one, rather than
/// start without it.
#[test]
#[cfg(not(feature = "monitor"))]
fn monitoring_is_refused_by_a_build_without_the_monitor() {
    for args in [
        &["-m", "8222"][..],
        &["--http_port", "-1"],
        &["-ms", "8443"],
    ] {
        let out = Command::new(NATSD).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("natsd was built without the `monitor` feature"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(NATSD)
        .args(["-a", "127.0.0.1", "-p", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error listening on port"));
}

#[test]
fn help_and_version() {
    let out = Command::new(NATSD).arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "--port",
        "--user",
        "--pass",
        "--auth",
        "--pid",
        "--ports_file_dir",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let out = Command::new(NATSD).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("natsd: v"));
}

#[test]
fn sighup_without_a_config_file_is_refused_and_the_server_serves_on() {
    let mut srv = Running::start(&["-a", "127.0.0.1", "-p", "-1"]);
    signal(&srv.child, "HUP");
    srv.wait_for_log(r#"Trapped "hangup" signal"#);
    let line = srv.wait_for_log("Failed to reload server configuration");
    assert!(
        line.contains("can only reload config when a file is provided using -c or --config"),
        "{line}"
    );
    let mut client = TcpStream::connect(&srv.addr).unwrap();
    let mut info = [0u8; 5];
    client.read_exact(&mut info).unwrap();
    signal(&srv.child, "INT");
    assert!(wait_exit(&mut srv.child).success());
}

#[test]
fn sigusr1_reopens_the_log_file_after_rotation() {
    let dir = temp_dir("reopen");
    let log = dir.join("natsd.log");
    let rotated = dir.join("natsd.log.1");
    let mut child = Command::new(NATSD)
        .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
        .arg(&log)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(|| read(&log).contains("Server is ready"));
    std::fs::rename(&log, &rotated).unwrap();
    signal(&child, "USR1");
    wait_until(|| read(&log).contains("File log re-opened"));
    assert!(read(&rotated).contains(r#"Trapped "user defined signal 1" signal"#));
    signal(&child, "INT");
    assert!(wait_exit(&mut child).success());
    assert!(read(&log).contains("Server Exiting"));
}

#[test]
fn signal_flag_sends_commands_to_a_running_natsd_by_pid_file() {
    let dir = temp_dir("signal");
    let pid_file = dir.join("natsd.pid");
    let mut srv = Running::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-P",
        pid_file.to_str().unwrap(),
    ]);
    let send = |command: &str| {
        Command::new(NATSD)
            .arg("--signal")
            .arg(format!("{command}={}", pid_file.display()))
            .output()
            .unwrap()
    };
    assert!(send("reopen").status.success());
    srv.wait_for_log(r#"Trapped "user defined signal 1" signal"#);
    let unknown = send("bogus");
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr).trim(),
        r#"natsd: unknown signal "bogus""#
    );
    assert!(send("quit").status.success());
    srv.wait_for_log(r#"Trapped "interrupt" signal"#);
    assert!(wait_exit(&mut srv.child).success());

    let gone = Command::new(NATSD)
        .args(["-sl", &format!("reload={}", srv.child.id())])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("No such process"));
}

#[test]
fn sigusr2_with_no_clients_ends_lame_duck_mode_at_once() {
    let mut srv = Running::start(&["-a", "127.0.0.1", "-p", "-1"]);
    signal(&srv.child, "USR2");
    srv.wait_for_log("Entering lame duck mode, stop accepting new clients");
    assert!(wait_exit(&mut srv.child).success());
    assert!(TcpStream::connect(&srv.addr).is_err());
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("natsd-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}
