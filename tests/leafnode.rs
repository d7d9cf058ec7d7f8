//! Leaf nodes between two servers: a hub (`leafnodes { port }`) and a leaf
//! (`leafnodes { remotes [...] }`), each a process started on a config file
//! of its own, and raw clients on both sides checking what crosses.
//!
//! Every scenario runs for each topology, named hub-leaf: `go-go` (both the
//! reference nats-server, `target/ref/bin/nats-server`), `natsd-go`,
//! `go-natsd` and `natsd-natsd`; the chain scenario (three servers, A <- B
//! <- C) for chains named by their three kinds, `go-natsd-go` and the
//! like. `NATSD_LEAF_TOPOLOGIES` may name some of them
//! (`NATSD_LEAF_TOPOLOGIES=natsd-go,go-natsd-go`) to run only those. A
//! failure names its topology; the log of each server of a failed run is
//! printed, and every server's full log stays in
//! `target/tmp/leafnode-<test>-<topology>-<pid>/`.
//!
//! Without the reference binary the topologies with nats-server are
//! skipped, unless `NATS_CONFORMANCE_REQUIRED=1` makes that a failure.
//!
//! No fixed sleeps wait for a condition: links are awaited on `/leafz`,
//! interest by probes that must come through (`interest_crossed`), the end
//! of a stream by a last message on the same path. Every wait has a
//! deadline.
//!
//! Scenarios that natsd does not pass yet skip the failing topologies only,
//! all listed in [`SKIP`] with why; `NATSD_LEAF_NO_SKIP=1` runs them all
//! the same.
#![cfg(feature = "leafnodes")]

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The reference nats-server.
const GO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ref/bin/nats-server");

/// How long a message, a link or a log line may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// How long a server may take to log "Server is ready".
const START_PATIENCE: Duration = Duration::from_secs(20);

/// Between two probes, or two looks at the monitor.
const POLL: Duration = Duration::from_millis(50);

/// Runs natsd must be fixed for before they pass: (test, topology or
/// chain, why). Only these topologies of these tests are skipped; remove
/// an entry once natsd passes it (`NATSD_LEAF_NO_SKIP=1` runs them).
const SKIP: &[(&str, &str, &str)] = &[
    // A deliberate difference (README, "Leaf nodes"): a natsd leaf keeps
    // sending its own messages on a `deny_imports` subject up to the hub
    // once a wildcard overlapping it is subscribed; nats-server then stops
    // them (its delivery-time deny filter), though without the wildcard it
    // sends them too. `deny_imports` is about what comes in.
    (
        "deny_imports_with_wildcard_interest",
        "go-natsd",
        "natsd leaf sends messages on a denied import up to the hub",
    ),
    (
        "deny_imports_with_wildcard_interest",
        "natsd-natsd",
        "natsd leaf sends messages on a denied import up to the hub",
    ),
];

// ---------------------------------------------------------------------
// Topologies.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Go,
    Natsd,
}

impl Kind {
    fn program(self) -> &'static str {
        match self {
            Kind::Go => GO,
            Kind::Natsd => common::binary::NATSD,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Go => "go",
            Kind::Natsd => "natsd",
        }
    }
}

/// Which server plays the hub and which the leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Topology {
    hub: Kind,
    leaf: Kind,
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.hub.label(), self.leaf.label())
    }
}

/// The topologies to run: all four, or those `NATSD_LEAF_TOPOLOGIES`
/// names; those with nats-server only when it is installed.
fn topologies() -> Vec<Topology> {
    use Kind::{Go, Natsd};
    let have_go = have_go();
    [(Go, Go), (Natsd, Go), (Go, Natsd), (Natsd, Natsd)]
        .into_iter()
        .map(|(hub, leaf)| Topology { hub, leaf })
        .filter(|t| wanted(&t.to_string()))
        .filter(|t| have_go || (t.hub != Go && t.leaf != Go))
        .collect()
}

/// Whether `NATSD_LEAF_TOPOLOGIES` (unset, `1` or `all`: every one) names
/// this topology or chain.
fn wanted(name: &str) -> bool {
    let wanted = std::env::var("NATSD_LEAF_TOPOLOGIES").unwrap_or_default();
    let wanted: Vec<String> = wanted
        .split(',')
        .map(|w| w.trim().to_ascii_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    wanted.is_empty() || wanted.iter().any(|w| w == "1" || w == "all" || w == name)
}

/// Whether the reference nats-server is installed (a failure without it
/// when `NATS_CONFORMANCE_REQUIRED=1`).
fn have_go() -> bool {
    let have_go = Path::new(GO).is_file();
    if !have_go {
        let required = std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1");
        assert!(!required, "the reference nats-server is not at {GO}");
        eprintln!("reference nats-server not found at {GO}: topologies with it skipped");
    }
    have_go
}

/// Three servers in a row, A <- B <- C: B is a leaf of A, C a leaf of B.
/// Named by their kinds, A first: `go-natsd-go` is natsd between two
/// nats-servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chain([Kind; 3]);

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{}-{}-{}", a.label(), b.label(), c.label())
    }
}

/// The chains to run: natsd between two nats-servers and nats-server
/// between two natsd, with all-Go (what the others must match) and
/// all-natsd; `NATSD_LEAF_TOPOLOGIES` may name some (`go-natsd-go`).
fn chains() -> Vec<Chain> {
    use Kind::{Go, Natsd};
    let have_go = have_go();
    [
        [Go, Go, Go],
        [Go, Natsd, Go],
        [Natsd, Go, Natsd],
        [Natsd, Natsd, Natsd],
    ]
    .into_iter()
    .map(Chain)
    .filter(|c| wanted(&c.to_string()))
    .filter(|c| have_go || !c.0.contains(&Go))
    .collect()
}

/// One run of a scenario: its topology and a directory of its own.
struct Setup {
    topology: Topology,
    dir: PathBuf,
}

/// Run `scenario` for each topology; every topology runs even when one
/// fails, and the failure names each that failed.
fn each_topology(test: &str, scenario: impl Fn(&Setup)) {
    each_run(test, topologies(), |topology, dir| {
        scenario(&Setup { topology, dir })
    });
}

/// Run `scenario` for each of `runs` (a topology or a chain) in a
/// directory of its own, skipping what [`SKIP`] lists; every run goes on
/// even when one fails, and the failure names each that failed.
fn each_run<T: fmt::Display + Copy>(test: &str, runs: Vec<T>, scenario: impl Fn(T, PathBuf)) {
    let no_skip = std::env::var("NATSD_LEAF_NO_SKIP").is_ok_and(|v| v == "1");
    let mut failed = Vec::new();
    for run in runs {
        let name = run.to_string();
        if let Some((_, _, why)) = SKIP.iter().find(|(t, r, _)| *t == test && *r == name) {
            if !no_skip {
                eprintln!("{test} [{name}]: SKIPPED until natsd is fixed: {why}");
                continue;
            }
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("leafnode-{test}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let began = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| scenario(run, dir))) {
            Ok(()) => eprintln!("{test} [{name}]: ok in {:?}", began.elapsed()),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("{test} [{name}]: FAILED after {:?}", began.elapsed());
                failed.push(format!("[{name}] {why}"));
            }
        }
    }
    assert!(failed.is_empty(), "{test} failed:\n{}", failed.join("\n"));
}

impl Setup {
    /// The hub, named HUB: `config` (given its ports) follows the common
    /// lines.
    fn hub(&self, config: impl Fn(&Ports) -> String) -> Server {
        Server::start(self.topology.hub, &self.dir, "HUB", &config)
    }

    /// A leaf (`name` for its server_name).
    fn leaf(&self, name: &str, config: impl Fn(&Ports) -> String) -> Server {
        Server::start(self.topology.leaf, &self.dir, name, &config)
    }

    /// A hub accepting leaf nodes with nothing more, and a leaf with one
    /// remote to it, linked.
    fn linked_pair(&self) -> (Server, Server) {
        let hub = self.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = self.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        (hub, leaf)
    }
}

/// `leafnodes {}` accepting leaf nodes on the server's leaf port; `more`
/// goes inside the block.
fn listener(ports: &Ports, more: &str) -> String {
    format!(
        "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n{more}\n}}\n",
        ports.leaf
    )
}

/// `leafnodes {}` with one remote to `url`; `more` goes inside the remote.
fn remote(url: &str, more: &str) -> String {
    format!("leafnodes {{\n  remotes [\n    {{\n      url: \"{url}\"\n{more}\n    }}\n  ]\n}}\n")
}

// ---------------------------------------------------------------------
// Servers as processes.

/// The loopback ports of one server.
#[derive(Clone, Copy, Debug)]
struct Ports {
    client: u16,
    http: u16,
    /// Where it accepts leaf nodes, when its config says so.
    leaf: u16,
    /// Its `websocket {}` listener, when its config has one.
    ws: u16,
}

impl Ports {
    fn pick() -> Ports {
        Ports {
            client: free_port(),
            http: free_port(),
            leaf: free_port(),
            ws: free_port(),
        }
    }
}

/// A port nobody listened on a moment ago, never the same twice in this
/// test binary. Another process may still take it before the server binds
/// it: [`Server::start`] then tries other ports.
fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// A config file: the common lines (name, loopback listener, monitor),
/// then `config`'s.
fn conf_text(name: &str, ports: &Ports, config: &dyn Fn(&Ports) -> String) -> String {
    format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: {}\nhttp: \"127.0.0.1:{}\"\n{}",
        ports.client,
        ports.http,
        config(ports)
    )
}

/// A server process started with `-c <its config>`, its stderr kept.
struct Server {
    kind: Kind,
    name: String,
    conf: PathBuf,
    log_file: PathBuf,
    ports: Ports,
    child: Option<Child>,
    /// Every line it logged, over restarts.
    log: Arc<Mutex<Vec<String>>>,
}

/// Why a server did not start.
enum StartError {
    /// One of its ports was taken: try others.
    PortTaken(String),
}

impl Server {
    /// Start `name` on fresh ports, with the common lines (name, loopback
    /// listener, monitor) and then `config`'s.
    fn start(kind: Kind, dir: &Path, name: &str, config: &dyn Fn(&Ports) -> String) -> Server {
        let mut why = String::new();
        for _ in 0..5 {
            match Server::try_start(kind, dir, name, Ports::pick(), config) {
                Ok(server) => return server,
                Err(StartError::PortTaken(log)) => why = log,
            }
        }
        panic!("{name} ({kind:?}) found no free ports:\n{why}");
    }

    /// Start `name` on these ports; `Err` only when one was taken.
    fn try_start(
        kind: Kind,
        dir: &Path,
        name: &str,
        ports: Ports,
        config: &dyn Fn(&Ports) -> String,
    ) -> Result<Server, StartError> {
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, conf_text(name, &ports, config)).unwrap();
        let mut server = Server {
            kind,
            name: name.to_string(),
            conf,
            log_file: dir.join(format!("{name}.log")),
            ports,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        server.launch()?;
        Ok(server)
    }

    /// Write its config file anew: the common lines and then `config`'s
    /// (for a reload).
    fn rewrite(&self, config: impl Fn(&Ports) -> String) {
        std::fs::write(&self.conf, conf_text(&self.name, &self.ports, &config)).unwrap();
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send `signal` to the process.
    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    /// Wait for the process to exit by itself: its status.
    #[track_caller]
    fn wait_exit(&mut self, patience: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + patience;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {patience:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("started");
        child.try_wait().unwrap().is_none()
    }

    /// Run the process on the config file and wait for "Server is ready".
    fn launch(&mut self) -> Result<(), StartError> {
        assert!(self.child.is_none(), "{} is running", self.name);
        let mut child = Command::new(self.kind.program())
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.kind.program()));
        let from = self.log.lock().unwrap().len();
        let reader = self.read_log(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if self.log.lock().unwrap()[from..]
                .iter()
                .any(|l| l.contains("Server is ready"))
            {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait().unwrap() {
                let _ = reader.join();
                let lines = self.log.lock().unwrap()[from..].join("\n");
                if lines
                    .to_ascii_lowercase()
                    .contains("address already in use")
                {
                    return Err(StartError::PortTaken(lines));
                }
                panic!(
                    "{} ({:?}) exited ({status}) before it was ready:\n{lines}",
                    self.name, self.kind
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let lines = self.log.lock().unwrap()[from..].join("\n");
                panic!(
                    "{} ({:?}) not ready within {START_PATIENCE:?}:\n{lines}",
                    self.name, self.kind
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Keep each line of `stderr` in [`Server::log`] and the log file.
    fn read_log(&self, stderr: impl Read + Send + 'static) -> JoinHandle<()> {
        let log = Arc::clone(&self.log);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                log.lock().unwrap().push(line);
            }
        })
    }

    /// Stop the process: SIGTERM (and SIGKILL if it lingers), or SIGKILL.
    fn stop(&mut self, gently: bool) {
        let mut child = self.child.take().expect("running");
        if gently {
            // SAFETY: kill(2) on our own child's pid.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
            let deadline = Instant::now() + PATIENCE;
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("{} did not exit on SIGTERM", self.name);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        } else {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Start it again on the same config file and ports.
    fn restart(&mut self) {
        if let Err(StartError::PortTaken(lines)) = self.launch() {
            panic!("{} could not get its ports back:\n{lines}", self.name);
        }
    }

    fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.client))
    }

    /// A client with no credentials.
    fn client(&self, what: &str) -> Client {
        Client::connect(self.client_addr(), &Auth::None, what)
    }

    fn client_as(&self, auth: &Auth, what: &str) -> Client {
        Client::connect(self.client_addr(), auth, what)
    }

    /// GET `path` from its monitor: the JSON, or why not.
    fn try_monitor(&self, path: &str) -> Result<Value, String> {
        http_get(self.ports.http, path)
    }

    #[track_caller]
    fn monitor(&self, path: &str) -> Value {
        self.try_monitor(path)
            .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", self.name))
    }

    /// `leafnodes` of `/leafz`, `None` while the monitor does not answer.
    fn leafnodes(&self) -> Option<u64> {
        self.try_monitor("/leafz").ok()?["leafnodes"].as_u64()
    }

    /// The subjects of every leaf connection's `subscriptions_list` in
    /// `/leafz?subs=1`: the interest the other side sent over.
    fn leafz_subs(&self) -> Vec<String> {
        let leafz = self.monitor("/leafz?subs=1");
        leafz["leafs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| {
                l["subscriptions_list"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    }

    /// Whether it logged a line containing `needle` within `patience`.
    fn logged_within(&self, needle: &str, patience: Duration) -> Option<String> {
        self.logged_since(0, needle, patience)
    }

    /// How many lines it logged so far: a mark for [`Server::logged_since`].
    fn log_mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Whether it logged a line containing `needle` past the first `mark`
    /// lines, within `patience`.
    fn logged_since(&self, mark: usize, needle: &str, patience: Duration) -> Option<String> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(line) = self.log.lock().unwrap()[mark..]
                .iter()
                .find(|l| l.contains(needle))
            {
                return Some(line.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- {} ({:?}), {}: the last of its log ----\n{}\n----",
                self.name,
                self.kind,
                self.log_file.display(),
                self.log_tail(60)
            );
        }
    }
}

/// GET `path` on the monitor at `port` (HTTP/1.0): the body as JSON.
fn http_get(port: u16, path: &str) -> Result<Value, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut sock =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(sock, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    sock.read_to_end(&mut text).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&text);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    let status = head.split(' ').nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        return Err(format!("{head}\n{body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// Wait until `/leafz` of each of `servers` shows `n` leaf connections.
#[track_caller]
fn wait_leafnodes(servers: &[&Server], n: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen: Vec<Option<u64>> = servers.iter().map(|s| s.leafnodes()).collect();
        if seen.iter().all(|c| *c == Some(n)) {
            return;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
            panic!("/leafz leafnodes of {names:?}: {seen:?}, not {n} within {PATIENCE:?}");
        }
        std::thread::sleep(POLL);
    }
}

/// Wait until the hub and the leaf each see one leaf connection.
#[track_caller]
fn wait_linked(hub: &Server, leaf: &Server) {
    wait_leafnodes(&[hub, leaf], 1);
}

/// Wait until `/leafz?subs=1` of `server` lists `subject` (or, with
/// `listed` false, no longer does).
#[track_caller]
fn wait_listed(server: &Server, subject: &str, listed: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let subs = server.leafz_subs();
        if subs.iter().any(|s| s == subject) == listed {
            return;
        }
        if Instant::now() > deadline {
            let state = if listed { "listed" } else { "gone" };
            panic!(
                "{}: {subject:?} not {state} in /leafz?subs=1 within {PATIENCE:?}: {subs:?}",
                server.name
            );
        }
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------
// A raw client.

/// Credentials in CONNECT.
enum Auth<'a> {
    None,
    User(&'a str, &'a str),
    /// `auth_token`.
    Token(&'a str),
    /// A user nkey: its public key, and the nonce signed with it.
    #[cfg(feature = "jwt")]
    Nkey(&'a natsd::auth::nkeys::KeyPair),
    /// A user JWT and the key that signs the nonce.
    #[cfg(feature = "jwt")]
    Jwt(&'a str, &'a natsd::auth::nkeys::KeyPair),
}

/// A message as delivered: MSG or HMSG.
#[derive(Clone)]
struct Msg {
    subject: String,
    sid: u64,
    reply: Option<String>,
    /// HMSG's header bytes.
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload =
            String::from_utf8_lossy(&self.payload[..self.payload.len().min(40)]).into_owned();
        if self.payload.len() > 40 {
            payload += &format!("...({} bytes)", self.payload.len());
        }
        write!(f, "{} sid {}", self.subject, self.sid)?;
        if let Some(reply) = &self.reply {
            write!(f, " reply {reply}")?;
        }
        if let Some(h) = &self.headers {
            write!(f, " headers {:?}", String::from_utf8_lossy(h))?;
        }
        write!(f, " {payload:?}")
    }
}

/// The subjects of [`interest_crossed`]'s probes.
const PROBE: &str = "_PROBE.";

/// A client speaking the protocol byte by byte: CONNECT with headers and
/// no-responders, PING/PONG as a barrier, MSG and HMSG kept in order.
struct Client {
    what: String,
    sock: TcpStream,
    buf: Vec<u8>,
    pending: VecDeque<Msg>,
    pongs: usize,
    next_sid: u64,
}

impl Client {
    fn connect(addr: SocketAddr, auth: &Auth, what: &str) -> Client {
        Client::try_connect(addr, auth, what).unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A client, or the `-ERR` line the server answered its CONNECT with.
    fn try_connect(addr: SocketAddr, auth: &Auth, what: &str) -> Result<Client, String> {
        let sock = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{what}: {addr}: {e}"));
        sock.set_nodelay(true).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut client = Client {
            what: what.to_string(),
            sock,
            buf: Vec::new(),
            pending: VecDeque::new(),
            pongs: 0,
            next_sid: 1,
        };
        let info = client.raw_line();
        let info: Value = serde_json::from_str(
            info.strip_prefix("INFO ")
                .unwrap_or_else(|| panic!("{what}: expected INFO, got {info:?}")),
        )
        .unwrap();
        assert_eq!(info["headers"], true, "{what}: a server without headers");
        let mut connect = json!({"verbose": false, "pedantic": false, "headers": true,
                                 "no_responders": true, "protocol": 1});
        match auth {
            Auth::None => {}
            Auth::User(user, pass) => {
                connect["user"] = json!(user);
                connect["pass"] = json!(pass);
            }
            Auth::Token(token) => connect["auth_token"] = json!(token),
            #[cfg(feature = "jwt")]
            Auth::Nkey(key) => {
                let nonce = info["nonce"].as_str().expect("a nonce in INFO");
                connect["nkey"] = json!(common::jwt::public(key));
                connect["sig"] = json!(common::jwt::sign_nonce(key, nonce));
            }
            #[cfg(feature = "jwt")]
            Auth::Jwt(jwt, key) => {
                let nonce = info["nonce"].as_str().expect("a nonce in INFO");
                connect["jwt"] = json!(jwt);
                connect["sig"] = json!(common::jwt::sign_nonce(key, nonce));
            }
        }
        client.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        // What the server says of the CONNECT comes before the PONG: an
        // -ERR (and the close), or nothing.
        loop {
            let line = client.raw_line();
            match line.as_str() {
                "PONG" => return Ok(client),
                "PING" => client.send(b"PONG\r\n"),
                "+OK" => {}
                _ if line.starts_with("INFO ") => {}
                _ if line.starts_with("-ERR") => return Err(line),
                _ => panic!("{what}: the server said {line:?} before its PONG"),
            }
        }
    }

    /// The next line, unparsed (the INFO, the answer to CONNECT).
    fn raw_line(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return String::from_utf8_lossy(&line).trim_end().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no line within {PATIENCE:?}",
                self.what
            );
            self.read_raw();
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.what));
    }

    /// SUB `subject`: its sid.
    fn sub(&mut self, subject: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {sid}\r\n").as_bytes());
        sid
    }

    /// SUB `subject` in queue group `queue`: its sid.
    fn sub_queue(&mut self, subject: &str, queue: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {queue} {sid}\r\n").as_bytes());
        sid
    }

    fn unsub(&mut self, sid: u64) {
        self.send(format!("UNSUB {sid}\r\n").as_bytes());
    }

    fn publish(&mut self, subject: &str, reply: Option<&str>, payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut bytes = format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
    }

    fn hpublish(&mut self, subject: &str, reply: Option<&str>, headers: &[u8], payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut bytes = format!(
            "HPUB {subject}{reply} {} {}\r\n",
            headers.len(),
            headers.len() + payload.len()
        )
        .into_bytes();
        bytes.extend_from_slice(headers);
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
    }

    /// PING, and wait for its PONG: the server has processed everything
    /// sent before, and what it sent before the PONG is read.
    #[track_caller]
    fn flush(&mut self) {
        self.send(b"PING\r\n");
        let deadline = Instant::now() + PATIENCE;
        while self.pongs == 0 {
            assert!(
                Instant::now() < deadline,
                "{}: no PONG within {PATIENCE:?}",
                self.what
            );
            self.read_some();
        }
        self.pongs -= 1;
    }

    /// One read (or a short timeout), then everything complete parsed.
    fn read_some(&mut self) {
        self.read_raw();
        while self.parse_one() {}
    }

    /// One read (or a short timeout) into the buffer.
    fn read_raw(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        match self.sock.read(&mut chunk) {
            Ok(0) => panic!(
                "{}: closed by the server (unparsed: {:?})",
                self.what,
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("{}: read: {e}", self.what),
        }
    }

    /// Parse one complete protocol line (with its payload) off the buffer.
    fn parse_one(&mut self) -> bool {
        let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
            return false;
        };
        let line = String::from_utf8_lossy(&self.buf[..nl])
            .trim_end_matches('\r')
            .to_string();
        let mut words = line.split_ascii_whitespace();
        let op = words.next().unwrap_or_default().to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match op.as_str() {
            "MSG" | "HMSG" => {
                let with_headers = op == "HMSG";
                let fixed = if with_headers { 4 } else { 3 };
                assert!(
                    args.len() == fixed || args.len() == fixed + 1,
                    "{}: {line:?}",
                    self.what
                );
                let number = |s: &str| -> usize {
                    s.parse()
                        .unwrap_or_else(|_| panic!("{}: {line:?}", self.what))
                };
                let total = number(args[args.len() - 1]);
                let header_len = if with_headers {
                    number(args[args.len() - 2])
                } else {
                    0
                };
                let start = nl + 1;
                let end = start + total;
                if self.buf.len() < end + 2 {
                    return false;
                }
                assert_eq!(
                    &self.buf[end..end + 2],
                    b"\r\n",
                    "{}: {line:?}: payload not followed by CRLF",
                    self.what
                );
                let body = self.buf[start..end].to_vec();
                self.buf.drain(..end + 2);
                self.pending.push_back(Msg {
                    subject: args[0].to_string(),
                    sid: number(args[1]) as u64,
                    reply: (args.len() == fixed + 1).then(|| args[2].to_string()),
                    headers: with_headers.then(|| body[..header_len].to_vec()),
                    payload: body[header_len..].to_vec(),
                });
            }
            _ => {
                self.buf.drain(..=nl);
                match op.as_str() {
                    "PING" => self.send(b"PONG\r\n"),
                    "PONG" => self.pongs += 1,
                    "+OK" | "INFO" => {}
                    _ => panic!("{}: the server said {line:?}", self.what),
                }
            }
        }
        true
    }

    /// The first message that `matches` within `patience` (the others
    /// stay, in order).
    fn wait_for(&mut self, patience: Duration, matches: impl Fn(&Msg) -> bool) -> Option<Msg> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(i) = self.pending.iter().position(&matches) {
                return self.pending.remove(i);
            }
            if Instant::now() > deadline {
                return None;
            }
            self.read_some();
        }
    }

    /// The next message on `subject`, within [`PATIENCE`].
    #[track_caller]
    fn expect_msg(&mut self, subject: &str) -> Msg {
        self.wait_for(PATIENCE, |m| m.subject == subject)
            .unwrap_or_else(|| {
                panic!(
                    "{}: nothing on {subject:?} within {PATIENCE:?}; had {:?}",
                    self.what, self.pending
                )
            })
    }

    /// Messages on `subject` until one on `end` (which is dropped); other
    /// subjects stay pending.
    #[track_caller]
    fn until(&mut self, subject: &str, end: &str) -> Vec<Msg> {
        self.wait_for(PATIENCE, |m| m.subject == end)
            .unwrap_or_else(|| {
                panic!(
                    "{}: nothing on {end:?} within {PATIENCE:?}; had {:?}",
                    self.what, self.pending
                )
            });
        let mut got = Vec::new();
        // Whatever came before the end is pending, in order.
        self.pending.retain(|m| {
            if m.subject == subject {
                got.push(m.clone());
                false
            } else {
                true
            }
        });
        got
    }

    /// Nothing delivered but probes, up to a PONG.
    #[track_caller]
    fn expect_nothing(&mut self) {
        self.flush();
        self.pending.retain(|m| !m.subject.contains(PROBE));
        assert!(
            self.pending.is_empty(),
            "{}: unexpected {:?}",
            self.what,
            self.pending
        );
    }
}

/// Wait until what `subscriber` has subscribed to (and flushed) is known
/// on the server `publisher` is on: `subscriber` subscribes to a probe
/// subject, `publisher` publishes to it until a probe comes through.
/// Interest crosses a leaf connection in order, so every subscription made
/// on `subscriber`'s server before the probe's has crossed too.
#[track_caller]
fn interest_crossed(subscriber: &mut Client, publisher: &mut Client) {
    interest_crossed_on(subscriber, publisher, "");
}

/// [`interest_crossed`] with probe subjects under `prefix` (`allowed.`,
/// for a link that lets only those cross).
#[track_caller]
fn interest_crossed_on(subscriber: &mut Client, publisher: &mut Client, prefix: &str) {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let subject = format!("{prefix}{PROBE}{}", PROBES.fetch_add(1, Ordering::Relaxed));
    let sid = subscriber.sub(&subject);
    subscriber.flush();
    let deadline = Instant::now() + PATIENCE;
    loop {
        publisher.publish(&subject, None, b"probe");
        publisher.flush();
        if subscriber
            .wait_for(POLL, |m| m.subject == subject)
            .is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}'s interest did not reach {}'s server within {PATIENCE:?}",
            subscriber.what,
            publisher.what
        );
    }
    subscriber.unsub(sid);
    // Probes in flight come before the PONG; none after.
    subscriber.flush();
    subscriber.pending.retain(|m| m.subject != subject);
}

/// Publish `payload` on `subject` from `publisher` until `subscriber` gets
/// it (for interest that cannot be probed apart, as after a restart).
#[track_caller]
fn publish_until_received(
    publisher: &mut Client,
    subscriber: &mut Client,
    subject: &str,
    payload: &[u8],
) -> Msg {
    let deadline = Instant::now() + PATIENCE;
    loop {
        publisher.publish(subject, None, payload);
        publisher.flush();
        if let Some(msg) = subscriber.wait_for(POLL, |m| m.subject == subject) {
            // Later copies arrive before a PONG, then are dropped.
            subscriber.flush();
            subscriber.pending.retain(|m| m.subject != subject);
            return msg;
        }
        assert!(
            Instant::now() < deadline,
            "{subject:?} from {} never reached {} within {PATIENCE:?}",
            publisher.what,
            subscriber.what
        );
    }
}

/// `from` publishes on a subject `to` subscribed to: it arrives, payload
/// intact.
#[track_caller]
fn crosses(from: &mut Client, to: &mut Client, subject: &str) {
    let sid = to.sub(subject);
    to.flush();
    interest_crossed(to, from);
    from.publish(subject, None, b"hello");
    let msg = to.expect_msg(subject);
    assert_eq!(msg.payload, b"hello", "{msg:?}");
    assert_eq!(msg.sid, sid, "{msg:?}");
    to.unsub(sid);
    to.expect_nothing();
}

// ---------------------------------------------------------------------
// Scenarios.

/// Scenario 1: messages cross both ways (to literal and wildcard
/// subscriptions), with their reply subject, in order; HPUB crosses as
/// HMSG with the same header bytes; 512 KiB crosses.
#[test]
fn basic() {
    each_topology("basic", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        on_hub.sub("up.>");
        on_hub.flush();
        on_leaf.sub("down.>");
        on_leaf.flush();
        interest_crossed(&mut on_hub, &mut on_leaf);
        interest_crossed(&mut on_leaf, &mut on_hub);

        // Literal subjects, then wildcards.
        crosses(&mut on_leaf, &mut on_hub, "literal.up");
        crosses(&mut on_hub, &mut on_leaf, "literal.down");
        exchange(&mut on_leaf, &mut on_hub, "up");
        exchange(&mut on_hub, &mut on_leaf, "down");
    });
}

/// What [`basic`] checks in one direction: `to` subscribed to
/// `<prefix>.>`.
fn exchange(from: &mut Client, to: &mut Client, prefix: &str) {
    let big: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    let headers = b"NATS/1.0\r\nX-Trace: one\r\nX-Multi: a b  c\r\nX-Trace: two\r\n\r\n";

    from.publish(&format!("{prefix}.plain"), None, b"hello");
    let msg = to.expect_msg(&format!("{prefix}.plain"));
    assert_eq!(msg.reply, None, "{msg:?}");
    assert_eq!(msg.headers, None, "{msg:?}");
    assert_eq!(msg.payload, b"hello", "{msg:?}");

    from.publish(&format!("{prefix}.reply"), Some("back.here"), b"");
    let msg = to.expect_msg(&format!("{prefix}.reply"));
    assert_eq!(msg.reply.as_deref(), Some("back.here"), "{msg:?}");
    assert!(msg.payload.is_empty(), "{msg:?}");

    from.hpublish(&format!("{prefix}.headers"), None, headers, b"body");
    let msg = to.expect_msg(&format!("{prefix}.headers"));
    assert_eq!(msg.headers.as_deref(), Some(&headers[..]), "{msg:?}");
    assert_eq!(msg.payload, b"body", "{msg:?}");

    from.hpublish(&format!("{prefix}.headers"), Some("r.1"), headers, b"");
    let msg = to.expect_msg(&format!("{prefix}.headers"));
    assert_eq!(msg.headers.as_deref(), Some(&headers[..]), "{msg:?}");
    assert_eq!(msg.reply.as_deref(), Some("r.1"), "{msg:?}");
    assert!(msg.payload.is_empty(), "{msg:?}");

    from.publish(&format!("{prefix}.big"), None, &big);
    let msg = to.expect_msg(&format!("{prefix}.big"));
    assert!(msg.payload == big, "512 KiB came changed: {msg:?}");

    for i in 0..100 {
        from.publish(&format!("{prefix}.seq"), None, i.to_string().as_bytes());
    }
    from.publish(&format!("{prefix}.end"), None, b"");
    let got = to.until(&format!("{prefix}.seq"), &format!("{prefix}.end"));
    let got: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let sent: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(got, sent, "100 messages, in order, once each");
    to.expect_nothing();
}

/// Scenario 2: Request/reply both ways (raw clients, then async-nats with its
/// muxed wildcard inbox), and no responders: a request on the leaf (and
/// on the hub) with no replier anywhere gets the 503 status.
#[test]
fn request_reply() {
    each_topology("request_reply", |setup| {
        let (hub, leaf) = setup.linked_pair();
        for (replier_server, requester_server, service) in
            [(&hub, &leaf, "svc.hub"), (&leaf, &hub, "svc.leaf")]
        {
            let mut replier = replier_server.client("replier");
            let mut requester = requester_server.client("requester");
            replier.sub(service);
            replier.flush();
            interest_crossed(&mut replier, &mut requester);

            let inbox = format!("_INBOX.raw.{service}");
            requester.sub(&inbox);
            requester.publish(service, Some(&inbox), b"ping");
            let request = replier.expect_msg(service);
            assert_eq!(request.payload, b"ping");
            assert_eq!(
                request.reply.as_deref(),
                Some(inbox.as_str()),
                "{request:?}"
            );
            replier.publish(&inbox, None, b"pong");
            let response = requester.expect_msg(&inbox);
            assert_eq!(response.payload, b"pong");

            // async-nats on the requester's server, the raw replier
            // answering in a thread of its own.
            const N: usize = 20;
            let answering = std::thread::spawn(move || {
                for _ in 0..N {
                    let request = replier.expect_msg(service);
                    let reply = request.reply.clone().expect("a reply subject");
                    let mut answer = b"re:".to_vec();
                    answer.extend_from_slice(&request.payload);
                    replier.publish(&reply, None, &answer);
                }
                replier.flush();
            });
            let url = format!("nats://{}", requester_server.client_addr());
            let answers = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let client = tokio::time::timeout(PATIENCE, async_nats::connect(url))
                        .await
                        .expect("async-nats connects in time")
                        .expect("async-nats connects");
                    let requests = (0..N).map(|i| {
                        let client = client.clone();
                        async move {
                            tokio::time::timeout(
                                PATIENCE,
                                client.request(service, i.to_string().into()),
                            )
                            .await
                            .expect("an answer in time")
                            .expect("an answer")
                        }
                    });
                    futures::future::join_all(requests).await
                });
            answering
                .join()
                .expect("the replier answered every request");
            for (i, answer) in answers.iter().enumerate() {
                assert_eq!(answer.payload, format!("re:{i}").as_bytes());
            }
        }

        // No responders, raw: the exact status message.
        for (server, what) in [(&leaf, "leaf requester"), (&hub, "hub requester")] {
            let mut requester = server.client(what);
            let sid = requester.sub("_INBOX.none");
            requester.publish("nobody.home", Some("_INBOX.none"), b"anyone?");
            let status = requester.expect_msg("_INBOX.none");
            assert_eq!(status.sid, sid);
            assert_eq!(
                status.headers.as_deref(),
                Some(&b"NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n"[..]),
                "{what}: {status:?}"
            );
            assert!(status.payload.is_empty(), "{status:?}");
            requester.expect_nothing();
        }
        // ... and as async-nats sees it.
        let url = format!("nats://{}", leaf.client_addr());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let client = async_nats::connect(url).await.expect("async-nats connects");
                let error =
                    tokio::time::timeout(PATIENCE, client.request("nobody.home", "anyone?".into()))
                        .await
                        .expect("an answer in time")
                        .expect_err("no responders");
                assert_eq!(
                    error.kind(),
                    async_nats::RequestErrorKind::NoResponders,
                    "{error}"
                );
            });
    });
}

/// Scenario 3: Queue groups across the link: the local member is preferred, a
/// remote member gets what has no local one, a plain subscriber gets
/// everything, and each group gets each message once.
#[test]
fn queue_groups() {
    const N: usize = 50;
    each_topology("queue_groups", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let mut leaf_member = leaf.client("leaf q1 member");
        let mut hub_member = hub.client("hub q1 member");
        let mut hub_member2 = hub.client("second hub q1 member");
        let mut hub_plain = hub.client("hub plain subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let mut hub_pub = hub.client("hub publisher");

        let leaf_q = leaf_member.sub_queue("work", "q1");
        leaf_member.sub("work.end");
        leaf_member.flush();
        let hub_q = hub_member.sub_queue("work", "q1");
        hub_member.sub("work.end");
        hub_member.flush();
        hub_plain.sub("work");
        hub_plain.sub("work.end");
        hub_plain.flush();
        interest_crossed(&mut hub_plain, &mut leaf_pub);
        interest_crossed(&mut leaf_member, &mut hub_pub);

        // N messages, then `work.end` on the same path: what each got.
        let round = |publisher: &mut Client, receivers: &mut [&mut Client]| -> Vec<usize> {
            for i in 0..N {
                publisher.publish("work", None, i.to_string().as_bytes());
            }
            publisher.publish("work.end", None, b"");
            publisher.flush();
            receivers
                .iter_mut()
                .map(|r| r.until("work", "work.end").len())
                .collect()
        };

        // Published on the leaf: its local member gets them all; the
        // hub's plain subscriber too.
        let got = round(
            &mut leaf_pub,
            &mut [&mut leaf_member, &mut hub_member, &mut hub_plain],
        );
        assert_eq!(got, [N, 0, N], "leaf member, hub member, hub plain");

        // Published on the hub: the hub's member.
        let got = round(
            &mut hub_pub,
            &mut [&mut leaf_member, &mut hub_member, &mut hub_plain],
        );
        assert_eq!(got, [0, N, N], "leaf member, hub member, hub plain");

        // Only hub members (two now): they share the leaf's messages.
        leaf_member.unsub(leaf_q);
        leaf_member.flush();
        let hub_q2 = hub_member2.sub_queue("work", "q1");
        hub_member2.sub("work.end");
        hub_member2.flush();
        interest_crossed(&mut hub_member2, &mut leaf_pub);
        let got = round(
            &mut leaf_pub,
            &mut [
                &mut leaf_member,
                &mut hub_member,
                &mut hub_member2,
                &mut hub_plain,
            ],
        );
        assert_eq!(
            (got[0], got[1] + got[2], got[3]),
            (0, N, N),
            "leaf member, hub members (each {:?}), hub plain",
            &got[1..3]
        );

        // Only a leaf member: the hub's messages cross to it.
        hub_member.unsub(hub_q);
        hub_member.flush();
        hub_member2.unsub(hub_q2);
        hub_member2.flush();
        leaf_member.sub_queue("work", "q1");
        leaf_member.flush();
        interest_crossed(&mut leaf_member, &mut hub_pub);
        let got = round(
            &mut hub_pub,
            &mut [
                &mut leaf_member,
                &mut hub_member,
                &mut hub_member2,
                &mut hub_plain,
            ],
        );
        assert_eq!(got, [N, 0, 0, N], "leaf member, hub members, hub plain");

        for client in [
            &mut leaf_member,
            &mut hub_member,
            &mut hub_member2,
            &mut hub_plain,
        ] {
            client.expect_nothing();
        }
    });
}

/// Scenario 4: UNSUB and a client's close take its interest off the link, in both
/// directions, once the last subscriber on the subject is gone.
#[test]
fn unsub_and_close_remove_interest() {
    each_topology("unsub_and_close", |setup| {
        let (hub, leaf) = setup.linked_pair();
        // Interest made on `near` shows in `far`'s /leafz?subs=1.
        for (near, far, side) in [(&hub, &leaf, "hub"), (&leaf, &hub, "leaf")] {
            let subject = format!("gone.unsub.{side}");
            let mut first = near.client("first subscriber");
            let mut second = near.client("second subscriber");
            let first_sid = first.sub(&subject);
            first.flush();
            let second_sid = second.sub(&subject);
            second.flush();
            wait_listed(far, &subject, true);
            let mut requester = far.client("requester");
            requester.sub("_INBOX.gone");
            requester.flush();
            interest_crossed(&mut second, &mut requester);
            // One of two gone: still there.
            first.unsub(first_sid);
            first.flush();
            requester.publish(&subject, Some("_INBOX.gone"), b"still?");
            let msg = second.expect_msg(&subject);
            assert_eq!(msg.sid, second_sid);
            assert!(far.leafz_subs().contains(&subject));
            // The last one: gone from /leafz, and a request there now has
            // no responders (once the far side knows).
            second.unsub(second_sid);
            second.flush();
            wait_listed(far, &subject, false);
            let deadline = Instant::now() + PATIENCE;
            loop {
                requester.publish(&subject, Some("_INBOX.gone"), b"anyone?");
                if let Some(status) =
                    requester.wait_for(Duration::from_millis(500), |m| m.subject == "_INBOX.gone")
                {
                    let expected = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
                    assert_eq!(
                        status.headers.as_deref(),
                        Some(expected.as_bytes()),
                        "{status:?}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "no 503 on {subject} after UNSUB");
            }

            // A client closing.
            let subject = format!("gone.close.{side}");
            let mut closing = near.client("closing subscriber");
            closing.sub(&subject);
            closing.sub(&format!("{subject}.more"));
            closing.flush();
            wait_listed(far, &subject, true);
            wait_listed(far, &format!("{subject}.more"), true);
            drop(closing);
            wait_listed(far, &subject, false);
            wait_listed(far, &format!("{subject}.more"), false);
        }
    });
}

/// Scenario 5a: The hub's `leafnodes { authorization { user, password } }` and the
/// credentials in the remote's URL.
#[test]
fn auth_user_password() {
    each_topology("auth_user_password", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { user: lu, password: lp }"));
        let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "auth.up");
        crosses(&mut on_hub, &mut on_leaf, "auth.down");
    });
}

/// Scenario 5b: A wrong password never links: the hub logs `authentication error`
/// and its /leafz stays at 0.
#[test]
fn auth_wrong_password() {
    each_topology("auth_wrong_password", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { user: lu, password: lp }"));
        let url = format!("nats-leaf://lu:wrong@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        if hub
            .logged_within("authentication error", PATIENCE)
            .is_none()
        {
            panic!(
                "the hub logged no authentication error within {PATIENCE:?}:\n{}",
                hub.log_tail(30)
            );
        }
        // A bounded wait: nothing must happen (the leaf retries each second).
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            assert_eq!(hub.leafnodes(), Some(0), "the hub linked a wrong password");
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(leaf);
    });
}

/// Scenario 5c: `authorization { users [...] }` binds the leaf to account A on the
/// hub: its messages reach A's clients only, and only A's reach it.
#[test]
fn auth_users_bind_an_account() {
    each_topology("auth_users_account", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "accounts {{\n  A {{ users [ {{user: ua, password: ua}} ] }}\n  \
                 B {{ users [ {{user: ub, password: ub}} ] }}\n}}\n{}",
                listener(
                    p,
                    "  authorization { users [ {user: a, password: a, account: A} ] }"
                )
            )
        });
        let url = format!("nats-leaf://a:a@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        assert_eq!(hub.monitor("/leafz")["leafs"][0]["account"], "A");

        let mut in_a = hub.client_as(&Auth::User("ua", "ua"), "hub client of A");
        let mut in_b = hub.client_as(&Auth::User("ub", "ub"), "hub client of B");
        let mut on_leaf = leaf.client("leaf client");
        in_a.sub("acc.up");
        in_a.flush();
        in_b.sub("acc.up");
        in_b.flush();
        on_leaf.sub("acc.down");
        on_leaf.flush();
        interest_crossed(&mut in_a, &mut on_leaf);
        interest_crossed(&mut on_leaf, &mut in_a);

        // Up: A gets it; B, subscribed to the same subject, does not.
        on_leaf.publish("acc.up", None, b"for A");
        assert_eq!(in_a.expect_msg("acc.up").payload, b"for A");
        // (B's would have been queued with A's; a short grace all the same.)
        assert!(
            in_b.wait_for(Duration::from_millis(300), |_| true)
                .is_none(),
            "B got {:?}",
            in_b.pending
        );
        in_b.expect_nothing();

        // Down: B's message stays in B, then A's comes.
        in_b.publish("acc.down", None, b"from B");
        in_b.flush();
        in_a.publish("acc.down", None, b"from A");
        let msg = on_leaf.expect_msg("acc.down");
        assert_eq!(msg.payload, b"from A", "only A's message crosses");
        on_leaf.expect_nothing();
        in_a.expect_nothing();
    });
}

/// Scenario 6: A hub in operator mode (resolver MEMORY, preloaded account), a leaf
/// (not in operator mode) whose remote logs in with a `.creds` file and
/// binds its `$G`.
#[cfg(feature = "jwt")]
#[test]
fn operator_mode_with_creds() {
    use common::jwt::{account_jwt, creds, key, operator_jwt, public, user_jwt};
    use natsd::auth::nkeys::KeyKind;

    each_topology("operator_creds", |setup| {
        let operator = key(KeyKind::Operator);
        let account = key(KeyKind::Account);
        let leaf_user = key(KeyKind::User);
        let hub_user = key(KeyKind::User);
        let op_jwt = operator_jwt(&operator, "OP", json!({}));
        let acc_jwt = account_jwt(&account, "APP", &operator, json!({}));
        let leaf_jwt = user_jwt(&leaf_user, &account, json!({}), json!({}));
        let hub_jwt = user_jwt(&hub_user, &account, json!({}), json!({}));
        let creds_file = setup.dir.join("leaf.creds");
        std::fs::write(&creds_file, creds(&leaf_jwt, &leaf_user)).unwrap();

        let hub = setup.hub(|p| {
            format!(
                "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {acc_jwt}\n}}\n{}",
                public(&account),
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!(
            "      credentials: {:?}\n      account: \"$G\"",
            creds_file.to_str().unwrap()
        );
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        assert_eq!(
            hub.monitor("/leafz")["leafs"][0]["account"],
            public(&account).as_str()
        );
        assert_eq!(leaf.monitor("/leafz")["leafs"][0]["account"], "$G");

        let mut on_hub = hub.client_as(&Auth::Jwt(&hub_jwt, &hub_user), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "op.up");
        crosses(&mut on_hub, &mut on_leaf, "op.down");
    });
}

/// A CA and a certificate for 127.0.0.1 (and localhost) it signed, as PEM
/// files in `dir`: (ca, cert, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    certificates_and_client(dir).0
}

/// [`certificates`], and a client certificate (CN `leaf`, for client
/// authentication) the same CA signed: ((ca, cert, key), (client cert,
/// client key)).
fn certificates_and_client(dir: &Path) -> ((PathBuf, PathBuf, PathBuf), (PathBuf, PathBuf)) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "leaf");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
    let server = (
        dir.join("ca.pem"),
        dir.join("server-cert.pem"),
        dir.join("server-key.pem"),
    );
    let client = (dir.join("client-cert.pem"), dir.join("client-key.pem"));
    std::fs::write(&server.0, ca.pem()).unwrap();
    std::fs::write(&server.1, cert.pem()).unwrap();
    std::fs::write(&server.2, key.serialize_pem()).unwrap();
    std::fs::write(&client.0, client_cert.pem()).unwrap();
    std::fs::write(&client.1, client_key.serialize_pem()).unwrap();
    (server, client)
}

/// Scenario 7: TLS on the link: the hub's `leafnodes { tls {} }`, the leaf's remote
/// trusting the CA, with a `tls://` URL and with `nats-leaf://` and a
/// `tls {}` block.
#[test]
fn tls() {
    each_topology("tls", |setup| {
        let (ca, cert, key) = certificates(&setup.dir);
        for scheme in ["tls", "nats-leaf"] {
            let hub = setup.hub(|p| {
                listener(
                    p,
                    &format!("  tls {{ cert_file: {cert:?}, key_file: {key:?} }}"),
                )
            });
            let url = format!("{scheme}://127.0.0.1:{}", hub.ports.leaf);
            let more = format!("      tls {{ ca_file: {ca:?} }}");
            let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
            wait_linked(&hub, &leaf);
            let connz = hub.monitor("/connz");
            let conn = connz["connections"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["kind"] == "Leafnode")
                .unwrap_or_else(|| panic!("{scheme}: no leaf in /connz: {connz}"));
            assert!(
                conn["tls_version"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("1.")),
                "{scheme}: the leaf connection is not TLS: {conn}"
            );
            let mut on_hub = hub.client("hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "tls.up");
            crosses(&mut on_hub, &mut on_leaf, "tls.down");
        }
        // TLS before the INFO, on both sides (`handshake_first`).
        let hub = setup.hub(|p| {
            listener(
                p,
                &format!(
                    "  tls {{ cert_file: {cert:?}, key_file: {key:?}, handshake_first: true }}"
                ),
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!("      tls {{ ca_file: {ca:?}, handshake_first: true }}");
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "tls.first.up");
        crosses(&mut on_hub, &mut on_leaf, "tls.first.down");
    });
}

/// Scenario 8: The hub stopped (SIGTERM, then SIGKILL) and started again on the
/// same ports: the leaf links again by itself, and the interest of a leaf
/// subscriber made before is there again.
#[test]
fn hub_restart() {
    each_topology("hub_restart", |setup| {
        let (mut hub, leaf) = setup.linked_pair();
        let mut on_leaf = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let sid = on_leaf.sub("restart.down");
        on_leaf.flush();
        {
            let mut on_hub = hub.client("hub publisher");
            interest_crossed(&mut on_leaf, &mut on_hub);
            on_hub.publish("restart.down", None, b"before");
            assert_eq!(on_leaf.expect_msg("restart.down").payload, b"before");
        }
        for gently in [true, false] {
            let how = if gently { "SIGTERM" } else { "SIGKILL" };
            hub.stop(gently);
            wait_leafnodes(&[&leaf], 0);
            let down = Instant::now();
            hub.restart();
            wait_linked(&hub, &leaf);
            eprintln!(
                "[{}] relinked {:?} after the restart ({how})",
                setup.topology,
                down.elapsed()
            );
            // The old subscription's interest is back on the new hub.
            let mut on_hub = hub.client("hub client");
            let msg = publish_until_received(&mut on_hub, &mut on_leaf, "restart.down", b"after");
            assert_eq!(msg.sid, sid, "{how}");
            // And the other way.
            crosses(&mut leaf_pub, &mut on_hub, "restart.up");
        }
    });
}

/// A (the topology's hub kind) and B (its leaf kind), each accepting
/// leaf nodes and with a remote to the other. Both need the other's leaf
/// port, so both are picked first; if one was taken, both start again on
/// other ports.
fn mutual_leafs(setup: &Setup) -> (Server, Server) {
    let config = |to: u16| {
        move |p: &Ports| {
            let url = format!("nats-leaf://127.0.0.1:{to}");
            format!(
                "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n",
                p.leaf
            )
        }
    };
    let mut why = String::new();
    for _ in 0..5 {
        let (pa, pb) = (Ports::pick(), Ports::pick());
        let (hub, leaf) = (setup.topology.hub, setup.topology.leaf);
        match Server::try_start(hub, &setup.dir, "A", pa, &config(pb.leaf)) {
            Ok(a) => match Server::try_start(leaf, &setup.dir, "B", pb, &config(pa.leaf)) {
                Ok(b) => return (a, b),
                Err(StartError::PortTaken(log)) => why = log,
            },
            Err(StartError::PortTaken(log)) => why = log,
        }
    }
    panic!("no free ports: {why}");
}

/// Scenario 9: Two servers each a leaf of the other: the loop is detected.
#[test]
fn loop_detected() {
    each_topology("loop", |setup| {
        let (a, b) = mutual_leafs(setup);
        let needle = "Loop detected for leafnode account=\"$G\"";
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = [&a, &b]
                .iter()
                .find_map(|s| s.logged_within(needle, Duration::ZERO));
            if seen.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "neither logged {needle:?} within {PATIENCE:?}:\nA:\n{}\nB:\n{}",
                a.log_tail(20),
                b.log_tail(20)
            );
            std::thread::sleep(POLL);
        }
    });
}

/// Scenario 10: What the monitors say of the link.
#[test]
fn monitoring() {
    each_topology("monitoring", |setup| {
        let (hub, leaf) = setup.linked_pair();
        let leafz = hub.monitor("/leafz");
        assert_eq!(leafz["leafnodes"], 1, "{leafz}");
        let link = &leafz["leafs"][0];
        assert_eq!(link["name"], "LEAF", "{leafz}");
        assert_eq!(link["is_spoke"], false, "{leafz}");
        assert_eq!(link["account"], "$G", "{leafz}");
        assert_eq!(link["ip"], "127.0.0.1", "{leafz}");

        let leafz = leaf.monitor("/leafz");
        assert_eq!(leafz["leafnodes"], 1, "{leafz}");
        let link = &leafz["leafs"][0];
        assert_eq!(link["name"], "HUB", "{leafz}");
        assert_eq!(link["is_spoke"], true, "{leafz}");
        assert_eq!(link["account"], "$G", "{leafz}");
        assert_eq!(link["port"], hub.ports.leaf, "{leafz}");

        for server in [&hub, &leaf] {
            let varz = server.monitor("/varz");
            assert_eq!(varz["leafnodes"], 1, "{}: /varz {varz}", server.name);
        }

        let connz = hub.monitor("/connz");
        let leafs: Vec<&Value> = connz["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["kind"] == "Leafnode")
            .collect();
        assert_eq!(leafs.len(), 1, "{connz}");
        assert_eq!(leafs[0]["name"], "LEAF", "{connz}");
    });
}

// ---------------------------------------------------------------------
// More scenarios: WebSocket, deny lists, chains, permissions, reload,
// lame duck, /varz.

/// `websocket {}` on the server's websocket port; `more` goes inside the
/// block.
fn websocket_block(ports: &Ports, more: &str) -> String {
    format!(
        "websocket {{\n  host: 127.0.0.1\n  port: {}\n{more}\n}}\n",
        ports.ws
    )
}

/// `requester` sends a request to `service` with a reply subject of its
/// own; `replier` (on the other side) answers it.
#[track_caller]
fn request_once(replier: &mut Client, requester: &mut Client, service: &str) {
    let sid = replier.sub(service);
    replier.flush();
    interest_crossed(replier, requester);
    let inbox = format!("_INBOX.{service}");
    let inbox_sid = requester.sub(&inbox);
    requester.publish(service, Some(&inbox), b"ping");
    let request = replier.expect_msg(service);
    assert_eq!(request.payload, b"ping", "{request:?}");
    assert_eq!(
        request.reply.as_deref(),
        Some(inbox.as_str()),
        "{request:?}"
    );
    replier.publish(&inbox, None, b"pong");
    let response = requester.expect_msg(&inbox);
    assert_eq!(response.payload, b"pong", "{response:?}");
    assert_eq!(response.sid, inbox_sid, "{response:?}");
    replier.unsub(sid);
    requester.unsub(inbox_sid);
    replier.expect_nothing();
    requester.expect_nothing();
}

/// `from` publishes `size` bytes on a subject `to` subscribed to: they
/// arrive unchanged.
#[track_caller]
fn big_crosses(from: &mut Client, to: &mut Client, subject: &str, size: usize) {
    let big: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let sid = to.sub(subject);
    to.flush();
    interest_crossed(to, from);
    from.publish(subject, None, &big);
    let msg = to.expect_msg(subject);
    assert!(msg.payload == big, "{size} bytes came changed: {msg:?}");
    to.unsub(sid);
    to.expect_nothing();
}

/// Scenario 11: Leaf nodes over WebSocket. The hub has a `websocket {}`
/// listener besides its leaf port, and the leaf's remote is its
/// `ws://` URL: plain, then with `compression: true` on the hub and
/// `ws_compression: true` on the remote, then `wss://` (the websocket
/// block's `tls {}`, the remote trusting the CA). Each time the leaf's
/// link is on the websocket port, messages and requests cross both ways,
/// and 200 KiB both ways.
#[cfg(feature = "websocket")]
#[test]
fn websocket() {
    each_topology("websocket", |setup| {
        let (ca, cert, key) = certificates(&setup.dir);
        let tls = format!("  tls {{ cert_file: {cert:?}, key_file: {key:?} }}");
        let trust = format!("      tls {{ ca_file: {ca:?} }}");
        let variants = [
            ("plain", "ws", "  no_tls: true", ""),
            (
                "compressed",
                "ws",
                "  no_tls: true\n  compression: true",
                "      ws_compression: true",
            ),
            ("tls", "wss", tls.as_str(), trust.as_str()),
        ];
        for (what, scheme, ws_more, remote_more) in variants {
            let hub = setup.hub(|p| format!("{}{}", websocket_block(p, ws_more), listener(p, "")));
            let url = format!("{scheme}://127.0.0.1:{}", hub.ports.ws);
            let leaf = setup.leaf("LEAF", |_| remote(&url, remote_more));
            wait_linked(&hub, &leaf);
            let leafz = leaf.monitor("/leafz");
            assert_eq!(
                leafz["leafs"][0]["port"], hub.ports.ws,
                "{what}: the leaf's link is not on the hub's websocket port: {leafz}"
            );
            let mut on_hub = hub.client("hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "ws.up");
            crosses(&mut on_hub, &mut on_leaf, "ws.down");
            request_once(&mut on_hub, &mut on_leaf, "ws.svc.hub");
            request_once(&mut on_leaf, &mut on_hub, "ws.svc.leaf");
            big_crosses(&mut on_leaf, &mut on_hub, "ws.big.up", 200 * 1024);
            big_crosses(&mut on_hub, &mut on_leaf, "ws.big.down", 200 * 1024);
            eprintln!("[{}] websocket {what}: ok", setup.topology);
        }
    });
}

/// Scenario 12: The leaf's remote with `deny_exports` and `deny_imports`.
/// A denied export published on the leaf reaches no hub subscriber
/// (literal or wildcard) while a control subject does; a denied import
/// published on the hub reaches no leaf subscriber while a control subject
/// does. The hub's messages on a denied export still cross. The leaf's
/// `/varz` shows the lists.
#[test]
fn deny_imports_exports() {
    each_topology("deny_imports_exports", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| {
            remote(
                &url,
                "      deny_exports: [\"exp.denied\", \"exp.no.*\"]\n      \
                 deny_imports: [\"imp.denied\", \"imp.no.*\"]",
            )
        });
        wait_linked(&hub, &leaf);

        let mut hub_sub = hub.client("hub subscriber");
        let mut hub_pub = hub.client("hub publisher");
        let mut leaf_sub = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        let exp_wild = hub_sub.sub("exp.>");
        for subject in ["exp.denied", "exp.no.x"] {
            hub_sub.sub(subject);
        }
        hub_sub.flush();
        let imp_wild = leaf_sub.sub("imp.>");
        for subject in ["imp.denied", "imp.no.x"] {
            leaf_sub.sub(subject);
        }
        leaf_sub.flush();
        interest_crossed(&mut hub_sub, &mut leaf_pub);
        interest_crossed(&mut leaf_sub, &mut hub_pub);

        // Up: the denied exports first, then the control on the same path.
        leaf_pub.publish("exp.denied", None, b"denied");
        leaf_pub.publish("exp.no.x", None, b"denied");
        leaf_pub.publish("exp.ok", None, b"control");
        let msg = hub_sub.expect_msg("exp.ok");
        assert_eq!((msg.sid, &msg.payload[..]), (exp_wild, &b"control"[..]));
        hub_sub.expect_nothing();

        // Down: likewise with the denied imports.
        hub_pub.publish("imp.denied", None, b"denied");
        hub_pub.publish("imp.no.x", None, b"denied");
        hub_pub.publish("imp.ok", None, b"control");
        let msg = leaf_sub.expect_msg("imp.ok");
        assert_eq!((msg.sid, &msg.payload[..]), (imp_wild, &b"control"[..]));
        leaf_sub.expect_nothing();

        // `deny_exports` holds one direction only: the hub's messages on a
        // denied export still reach the leaf (subscribed only now, so that
        // the leaf's publisher above was not delivered to locally). (The
        // other way, see `deny_imports_with_wildcard_interest`.)
        leaf_sub.sub("exp.denied");
        leaf_sub.flush();
        interest_crossed(&mut leaf_sub, &mut hub_pub);
        hub_pub.publish("exp.denied", None, b"down");
        assert_eq!(leaf_sub.expect_msg("exp.denied").payload, b"down");
        leaf_sub.expect_nothing();

        let varz = leaf.monitor("/varz");
        assert_eq!(
            varz["leaf"]["remotes"][0]["deny"],
            json!({"exports": ["exp.denied", "exp.no.*"], "imports": ["imp.denied", "imp.no.*"]}),
            "leaf /varz: {}",
            varz["leaf"]
        );
        wait_linked(&hub, &leaf);
    });
}

/// Scenario 12b: `deny_imports` and the leaf's own messages going up.
/// nats-server filters what it delivers to a connection whose subscribe
/// permissions deny subjects (the remote's `deny_imports` are its leaf
/// connection's subscribe denies) once a wildcard subscription that
/// overlaps a denied subject has been checked on it: here the leaf's
/// subscriber on `imp.>`. From then on the leaf's own messages on a denied
/// import do not go up to the hub either, while a control subject does.
/// (With no such wildcard, nats-server lets them go up.)
#[test]
fn deny_imports_with_wildcard_interest() {
    each_topology("deny_imports_with_wildcard_interest", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| {
            remote(&url, "      deny_imports: [\"imp.denied\"]")
        });
        wait_linked(&hub, &leaf);
        let mut leaf_wild = leaf.client("leaf subscriber on imp.>");
        leaf_wild.sub("imp.>");
        leaf_wild.flush();
        let mut hub_sub = hub.client("hub subscriber");
        hub_sub.sub("imp.denied");
        hub_sub.sub("imp.control");
        hub_sub.flush();
        let mut leaf_pub = leaf.client("leaf publisher");
        interest_crossed(&mut hub_sub, &mut leaf_pub);
        leaf_pub.publish("imp.denied", None, b"denied");
        leaf_pub.publish("imp.control", None, b"control");
        assert_eq!(hub_sub.expect_msg("imp.control").payload, b"control");
        hub_sub.expect_nothing();
    });
}

/// `leafnodes {}` accepting leaf nodes on the server's leaf port and with
/// one remote to `url`.
fn listener_and_remote(ports: &Ports, url: &str) -> String {
    format!(
        "leafnodes {{\n  host: 127.0.0.1\n  port: {}\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n",
        ports.leaf
    )
}

/// The three servers of `chain`, A <- B <- C, linked.
fn start_chain(chain: Chain, dir: &Path) -> [Server; 3] {
    let [ka, kb, kc] = chain.0;
    let a = Server::start(ka, dir, "A", &|p| listener(p, ""));
    let to_a = format!("nats-leaf://127.0.0.1:{}", a.ports.leaf);
    let b = Server::start(kb, dir, "B", &|p| listener_and_remote(p, &to_a));
    let to_b = format!("nats-leaf://127.0.0.1:{}", b.ports.leaf);
    let c = Server::start(kc, dir, "C", &|_| remote(&to_b, ""));
    wait_leafnodes(&[&a, &c], 1);
    wait_leafnodes(&[&b], 2);
    [a, b, c]
}

/// Subscribe `a` (on A) and `c` (on C) to the barriers of
/// [`no_late_copies`] and wait until their interest crossed.
fn barriers(a: &mut Client, c: &mut Client) {
    a.sub(&format!("chain.barrier.{}.from_c", a.what));
    a.flush();
    c.sub(&format!("chain.barrier.{}.from_a", c.what));
    c.flush();
    interest_crossed(a, c);
    interest_crossed(c, a);
}

/// After `a` and `c` each got the last message of a round, nothing more
/// on `subject` comes to either: `a` publishes a barrier to `c` and `c`
/// one to `a` (see [`barriers`]), which would come after any copy echoed
/// back through the other's server.
#[track_caller]
fn no_late_copies(a: &mut Client, c: &mut Client, subject: &str) {
    let to_c = format!("chain.barrier.{}.from_a", c.what);
    let to_a = format!("chain.barrier.{}.from_c", a.what);
    a.publish(&to_c, None, b"");
    a.flush();
    c.publish(&to_a, None, b"");
    c.flush();
    let late_c = c.until(subject, &to_c);
    let late_a = a.until(subject, &to_a);
    assert!(
        late_a.is_empty() && late_c.is_empty(),
        "copies on {subject:?} after the round: to A {late_a:?}, to C {late_c:?}"
    );
}

/// Scenario 13: A chain of three servers, A <- B <- C (B a leaf of A, C a
/// leaf of B), of mixed kinds (see [`chains`]). A message published on A
/// reaches C's subscriber and one published on C reaches A's; messages
/// published on B reach a subscriber on A and one on C exactly once each;
/// a queue group with a member on A and one on C gets each message
/// published on B exactly once overall.
#[test]
fn chain() {
    const N: usize = 50;
    each_run("chain", chains(), |chain, dir| {
        let [a, b, c] = start_chain(chain, &dir);
        let mut on_a = a.client("A_client");
        let mut on_b = b.client("B_client");
        let mut on_c = c.client("C_client");
        barriers(&mut on_a, &mut on_c);

        // End to end, across B.
        crosses(&mut on_a, &mut on_c, "chain.down");
        crosses(&mut on_c, &mut on_a, "chain.up");

        // Published on B: A and C get each message once.
        for client in [&mut on_a, &mut on_c] {
            client.sub("chain.mid");
            client.sub("chain.mid.end");
            client.flush();
        }
        interest_crossed(&mut on_a, &mut on_b);
        interest_crossed(&mut on_c, &mut on_b);
        for i in 0..N {
            on_b.publish("chain.mid", None, i.to_string().as_bytes());
        }
        on_b.publish("chain.mid.end", None, b"");
        on_b.flush();
        let sent: Vec<String> = (0..N).map(|i| i.to_string()).collect();
        for (client, name) in [(&mut on_a, "A"), (&mut on_c, "C")] {
            let got: Vec<String> = client
                .until("chain.mid", "chain.mid.end")
                .iter()
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                .collect();
            assert_eq!(
                got, sent,
                "{name}: each message published on B once, in order"
            );
        }
        no_late_copies(&mut on_a, &mut on_c, "chain.mid");

        // A queue group with a member on A and one on C, the publisher on
        // B: each message to one of them.
        let mut member_a = a.client("A_member");
        let mut member_c = c.client("C_member");
        for member in [&mut member_a, &mut member_c] {
            member.sub_queue("chain.work", "q");
            member.sub("chain.work.end");
            member.flush();
            interest_crossed(member, &mut on_b);
        }
        barriers(&mut member_a, &mut member_c);
        for i in 0..N {
            on_b.publish("chain.work", None, i.to_string().as_bytes());
        }
        on_b.publish("chain.work.end", None, b"");
        on_b.flush();
        let got_a = member_a.until("chain.work", "chain.work.end");
        let got_c = member_c.until("chain.work", "chain.work.end");
        no_late_copies(&mut member_a, &mut member_c, "chain.work");
        let mut all: Vec<usize> = got_a
            .iter()
            .chain(&got_c)
            .map(|m| String::from_utf8_lossy(&m.payload).parse().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..N).collect::<Vec<_>>(),
            "each message once to the group ({} to A, {} to C)",
            got_a.len(),
            got_c.len()
        );
        eprintln!(
            "[{chain}] queue group: {} to A, {} to C",
            got_a.len(),
            got_c.len()
        );
        for client in [&mut on_a, &mut on_c, &mut member_a, &mut member_c] {
            client.expect_nothing();
        }
    });
}

/// Scenario 14: The permissions of the user a leaf logs in as on the hub.
/// The hub's top-level `authorization { users }` has `lu` with
/// `permissions { publish: "allowed.>", subscribe: "from_hub.>" }` (a
/// `leafnodes { authorization { users } }` user carries no permissions in
/// nats-server), its leaf port no authorization of its own, so the leaf
/// logs in as `lu`. As nats-server does it: the leaf's messages on
/// `allowed.>` reach the hub, on anything else (`other.up`,
/// `from_hub.up`) not; the hub's on `from_hub.>` reach the leaf, on
/// anything else (`other.down`, `allowed.down`) not; and the link stays
/// up, no violation logged.
#[test]
fn hub_permissions() {
    each_topology("hub_permissions", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  users [\n    {{user: hu, password: hp}}\n    \
                 {{user: lu, password: lp, permissions {{ publish: \"allowed.>\", \
                 subscribe: \"from_hub.>\" }}}}\n  ]\n}}\n{}",
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);

        let hub_user = Auth::User("hu", "hp");
        let mut hub_sub = hub.client_as(&hub_user, "hub subscriber");
        let mut hub_pub = hub.client_as(&hub_user, "hub publisher");
        let mut leaf_sub = leaf.client("leaf subscriber");
        let mut leaf_pub = leaf.client("leaf publisher");
        for subject in ["allowed.up", "other.up", "from_hub.up"] {
            hub_sub.sub(subject);
        }
        hub_sub.flush();
        for subject in ["from_hub.down", "other.down", "allowed.down"] {
            leaf_sub.sub(subject);
        }
        leaf_sub.flush();
        interest_crossed_on(&mut hub_sub, &mut leaf_pub, "allowed.");
        interest_crossed_on(&mut leaf_sub, &mut hub_pub, "from_hub.");

        // Up: what the leaf may not publish, then what it may.
        leaf_pub.publish("other.up", None, b"no");
        leaf_pub.publish("from_hub.up", None, b"no");
        leaf_pub.publish("allowed.up", None, b"yes");
        assert_eq!(hub_sub.expect_msg("allowed.up").payload, b"yes");
        hub_sub.expect_nothing();

        // Down: what the leaf may not subscribe to, then what it may.
        hub_pub.publish("other.down", None, b"no");
        hub_pub.publish("allowed.down", None, b"no");
        hub_pub.publish("from_hub.down", None, b"yes");
        assert_eq!(leaf_sub.expect_msg("from_hub.down").payload, b"yes");
        leaf_sub.expect_nothing();

        // Nothing was taken for a violation: the link stayed up.
        assert_eq!(hub.leafnodes(), Some(1), "the hub dropped the link");
        assert_eq!(leaf.leafnodes(), Some(1), "the leaf dropped the link");
        for server in [&hub, &leaf] {
            let violation = server.logged_within("Violation", Duration::ZERO);
            assert!(violation.is_none(), "{}: {violation:?}", server.name);
        }
    });
}

/// Wait for a line containing `needle` in `server`'s log past `mark`: the
/// line.
#[track_caller]
fn expect_logged(server: &Server, mark: usize, needle: &str) -> String {
    server
        .logged_since(mark, needle, PATIENCE)
        .unwrap_or_else(|| {
            panic!(
                "{} logged no {needle:?} within {PATIENCE:?}:\n{}",
                server.name,
                server.log_tail(20)
            )
        })
}

/// For `patience`, `/leafz` of each of `servers` keeps showing `n` leaf
/// connections (a bounded wait for nothing to happen).
#[track_caller]
fn stays_at(servers: &[&Server], n: u64, patience: Duration) {
    let until = Instant::now() + patience;
    while Instant::now() < until {
        for server in servers {
            assert_eq!(
                server.leafnodes(),
                Some(n),
                "{}: /leafz leafnodes changed",
                server.name
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 15: Remotes added and removed by a reload. The leaf starts with
/// `leafnodes { remotes [] }`; its config file is rewritten with a remote
/// to the hub and it gets SIGHUP: the link comes up. The remote removed
/// and SIGHUP again: the link goes (`Reloaded: LeafNode Remote ...
/// removed`). Then a reload that changes `reconnect` (and adds the remote
/// back) is refused with nats-server's text, and changes nothing: the
/// link stays away.
#[test]
fn reload_remotes() {
    each_topology("reload_remotes", |setup| {
        let hub = setup.hub(|p| listener(p, ""));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let without = |_: &Ports| "leafnodes {\n  remotes []\n}\n".to_string();
        let with = |_: &Ports| remote(&url, "");
        let mut leaf = setup.leaf("LEAF", without);
        assert_eq!(hub.leafnodes(), Some(0));
        assert_eq!(leaf.leafnodes(), Some(0));

        // Added.
        leaf.rewrite(with);
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        expect_logged(&leaf, mark, "Reloaded server configuration");
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "reload.up");
        crosses(&mut on_hub, &mut on_leaf, "reload.down");

        // Removed.
        leaf.rewrite(without);
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        expect_logged(
            &leaf,
            mark,
            &format!("Reloaded: LeafNode Remote urls=[\"{url}\"], account=\"$G\" removed"),
        );
        expect_logged(&leaf, mark, "Reloaded server configuration");
        wait_leafnodes(&[&hub, &leaf], 0);

        // Refused: `reconnect` may not change while running.
        leaf.rewrite(|_| {
            format!("leafnodes {{\n  reconnect: \"3s\"\n  remotes [ {{ url: \"{url}\" }} ]\n}}\n")
        });
        let mark = leaf.log_mark();
        leaf.signal(libc::SIGHUP);
        let prefix = "Failed to reload server configuration: ";
        let line = expect_logged(&leaf, mark, prefix);
        let text = line.split_once(prefix).map(|(_, t)| t);
        assert_eq!(
            text,
            Some("config reload not supported for LeafNode: field \"ReconnectInterval\": old=1s, new=3s"),
            "{line}"
        );
        // The link stays away: neither the removal nor the refused
        // reload's remote brings it back.
        stays_at(&[&hub, &leaf], 0, Duration::from_secs(2));
        assert!(leaf.running(), "the leaf exited on a refused reload");
    });
}

/// Scenario 16: Lame duck mode on the hub (`lame_duck_duration: "30s"`,
/// `lame_duck_grace_period: "1s"`, entered with `--signal ldm=<pid>`,
/// which is SIGUSR2), three clients on it so that it does not exit at
/// once: its leaf port refuses new connections while it still runs, the
/// leaf link is closed by the hub after the grace period and within a few
/// seconds of it, and the hub then exits by itself.
#[test]
fn lame_duck() {
    const GRACE: Duration = Duration::from_secs(1);
    each_topology("lame_duck", |setup| {
        let mut hub = setup.hub(|p| {
            format!(
                "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n{}",
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let _clients: Vec<Client> = (0..3)
            .map(|i| hub.client(&format!("hub client {i}")))
            .collect();

        let mark = hub.log_mark();
        let signalled = Instant::now();
        let out = Command::new(hub.kind.program())
            .arg("--signal")
            .arg(format!("ldm={}", hub.pid()))
            .output()
            .unwrap();
        assert!(out.status.success(), "--signal ldm: {out:?}");
        expect_logged(
            &hub,
            mark,
            "Entering lame duck mode, stop accepting new clients",
        );

        // The leaf port refuses connections, the hub still running.
        let leaf_port = SocketAddr::from(([127, 0, 0, 1], hub.ports.leaf));
        let deadline = Instant::now() + PATIENCE;
        loop {
            match TcpStream::connect_timeout(&leaf_port, Duration::from_secs(1)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                other => assert!(
                    Instant::now() < deadline,
                    "the hub's leaf port still takes connections in lame duck mode: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            hub.running(),
            "the hub exited before its leaf port was seen refusing (after {:?})",
            signalled.elapsed()
        );

        // The link closed after the grace period, within a few seconds.
        let latest = GRACE + Duration::from_secs(5);
        while leaf.leafnodes() != Some(0) {
            assert!(
                signalled.elapsed() < latest,
                "the leaf link still up {latest:?} after lame duck mode"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let closed = signalled.elapsed();
        assert!(
            closed >= GRACE,
            "the leaf link closed {closed:?} after lame duck mode, before the grace period"
        );
        let status = hub.wait_exit(PATIENCE);
        assert!(status.success(), "the hub exited with {status}");
        eprintln!(
            "[{}] lame duck: leaf link closed after {closed:?}, hub exited after {:?}",
            setup.topology,
            signalled.elapsed()
        );
    });
}

/// Scenario 17: The `leaf` section of `/varz`, as nats-server shows it: the
/// hub's (`leafnodes { host, port, authorization { timeout: 3 } }`) and
/// the leaf's `remotes`.
#[test]
fn varz_leaf() {
    each_topology("varz_leaf", |setup| {
        let hub = setup.hub(|p| listener(p, "  authorization { timeout: 3 }"));
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
        wait_linked(&hub, &leaf);
        let varz = hub.monitor("/varz");
        assert_eq!(
            varz["leaf"],
            json!({"host": "127.0.0.1", "port": hub.ports.leaf, "auth_timeout": 3, "tls_timeout": 2}),
            "the hub's /varz leaf"
        );
        let varz = leaf.monitor("/varz");
        assert_eq!(
            varz["leaf"],
            json!({"remotes": [{"local_account": "$G",
                                "urls": [format!("127.0.0.1:{}", hub.ports.leaf)]}]}),
            "the leaf's /varz leaf"
        );
    });
}

/// `leaf` does not link to `hub`: the hub logs a line containing `needle`
/// past `mark` (its refusal), and for a while after (the leaf retries each
/// second) the leaf's /leafz stays at 0 and the hub's at `hub_links`, the
/// links it had.
#[track_caller]
fn never_links(hub: &Server, mark: usize, needle: &str, hub_links: u64, leaf: &Server) {
    expect_logged(hub, mark, needle);
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(
            hub.leafnodes(),
            Some(hub_links),
            "{}: /leafz leafnodes changed",
            hub.name
        );
        assert_eq!(leaf.leafnodes(), Some(0), "{} linked", leaf.name);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 18: A leaf logging in with a user nkey. natsd refuses an nkey in
/// `leafnodes { authorization {} }`, so the user is in the hub's top-level
/// `authorization { users [ { nkey: U... } ] }` and the leaf port has no
/// authorization of its own (nats-server then checks a leaf against the
/// top-level users); the remote has `nkey: "SU..."`, the user's seed, and
/// signs the hub's nonce with it. Messages cross both ways (the hub's
/// clients log in with the same nkey). A leaf with another user's seed
/// never links: the hub logs `authentication error`.
#[cfg(feature = "jwt")]
#[test]
fn auth_nkey() {
    use common::jwt::{key, public};
    use natsd::auth::nkeys::KeyKind;

    each_topology("auth_nkey", |setup| {
        let user = key(KeyKind::User);
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  users [ {{ nkey: {} }} ]\n}}\n{}",
                public(&user),
                listener(p, "")
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let seed =
            |pair: &natsd::auth::nkeys::KeyPair| format!("      nkey: {:?}", pair.encode_seed());
        let leaf = setup.leaf("LEAF", |_| remote(&url, &seed(&user)));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client_as(&Auth::Nkey(&user), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "nkey.up");
        crosses(&mut on_hub, &mut on_leaf, "nkey.down");

        // Another user's seed: refused, the first link stays.
        let stranger = key(KeyKind::User);
        let mark = hub.log_mark();
        let wrong = setup.leaf("WRONG", |_| remote(&url, &seed(&stranger)));
        never_links(&hub, mark, "authentication error", 1, &wrong);
    });
}

/// Scenario 19: A leaf logging in with a token: the hub's top-level
/// `authorization { token: "s3cr3t" }`, its leaf port with no
/// authorization of its own, and the token as the lone user of the
/// remote's URL (`nats-leaf://s3cr3t@...`, which nats-server sends as both
/// `user` and `auth_token`). Messages cross both ways (the hub's clients
/// with the token); a leaf with another token never links: the hub logs
/// `authentication error`.
#[test]
fn auth_token() {
    each_topology("auth_token", |setup| {
        let hub = setup.hub(|p| {
            format!(
                "authorization {{\n  token: \"s3cr3t\"\n}}\n{}",
                listener(p, "")
            )
        });
        let url = |token: &str| format!("nats-leaf://{token}@127.0.0.1:{}", hub.ports.leaf);
        let leaf = setup.leaf("LEAF", |_| remote(&url("s3cr3t"), ""));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client_as(&Auth::Token("s3cr3t"), "hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "token.up");
        crosses(&mut on_hub, &mut on_leaf, "token.down");

        // Another token: refused, the first link stays.
        let mark = hub.log_mark();
        let wrong = setup.leaf("WRONG", |_| remote(&url("wrong"), ""));
        never_links(&hub, mark, "authentication error", 1, &wrong);
    });
}

/// Scenario 20: `allowed_connection_types` of the user a leaf logs in as,
/// in the hub's top-level `authorization { users }` (its leaf port with no
/// authorization of its own): `lu` with `["STANDARD"]` only is refused as
/// a leaf (the hub logs `authentication error`, nothing links) and logs in
/// as a plain client; with `["LEAFNODE"]` only, the leaf links, messages
/// cross both ways (the hub's clients as `hu`), and `lu` as a plain
/// client gets `-ERR 'Authorization Violation'`.
#[test]
fn auth_user_connection_types() {
    each_topology("auth_user_connection_types", |setup| {
        let lu = Auth::User("lu", "lp");
        for types in ["STANDARD", "LEAFNODE"] {
            let hub = setup.hub(|p| {
                format!(
                    "authorization {{\n  users [\n    {{user: hu, password: hp}}\n    \
                     {{user: lu, password: lp, allowed_connection_types: [\"{types}\"]}}\n  \
                     ]\n}}\n{}",
                    listener(p, "")
                )
            });
            let url = format!("nats-leaf://lu:lp@127.0.0.1:{}", hub.ports.leaf);
            let leaf = setup.leaf("LEAF", |_| remote(&url, ""));
            let as_client = Client::try_connect(hub.client_addr(), &lu, "lu as a client");
            if types == "STANDARD" {
                never_links(&hub, 0, "authentication error", 0, &leaf);
                if let Err(e) = as_client {
                    panic!("{types}: lu refused as a plain client: {e}");
                }
                continue;
            }
            wait_linked(&hub, &leaf);
            let mut on_hub = hub.client_as(&Auth::User("hu", "hp"), "hub client");
            let mut on_leaf = leaf.client("leaf client");
            crosses(&mut on_leaf, &mut on_hub, "types.up");
            crosses(&mut on_hub, &mut on_leaf, "types.down");
            assert_eq!(
                as_client.err().as_deref(),
                Some("-ERR 'Authorization Violation'"),
                "{types}: lu as a plain client"
            );
        }
    });
}

/// Scenario 21: Mutual TLS on the link: the hub's `leafnodes { tls {
/// cert_file, key_file, ca_file, verify: true } }`, the leaf's remote with
/// `tls { ca_file, cert_file, key_file }` (a client certificate the same
/// CA signed): it links over TLS and messages cross both ways. A leaf
/// trusting the CA but without a client certificate never links: the hub
/// closes it for `TLS Handshake Failure`.
#[test]
fn mtls_leaf() {
    each_topology("mtls_leaf", |setup| {
        let ((ca, cert, key), (client_cert, client_key)) = certificates_and_client(&setup.dir);
        let hub = setup.hub(|p| {
            listener(
                p,
                &format!(
                    "  tls {{ cert_file: {cert:?}, key_file: {key:?}, ca_file: {ca:?}, \
                     verify: true }}"
                ),
            )
        });
        let url = format!("nats-leaf://127.0.0.1:{}", hub.ports.leaf);
        let more = format!(
            "      tls {{ ca_file: {ca:?}, cert_file: {client_cert:?}, key_file: {client_key:?} }}"
        );
        let leaf = setup.leaf("LEAF", |_| remote(&url, &more));
        wait_linked(&hub, &leaf);
        let mut on_hub = hub.client("hub client");
        let mut on_leaf = leaf.client("leaf client");
        crosses(&mut on_leaf, &mut on_hub, "mtls.up");
        crosses(&mut on_hub, &mut on_leaf, "mtls.down");

        // No client certificate: refused, the first link stays.
        let mark = hub.log_mark();
        let bare = setup.leaf("BARE", |_| {
            remote(&url, &format!("      tls {{ ca_file: {ca:?} }}"))
        });
        // (The line before says why in each server's words: nats-server
        // `TLS leafnode handshake error: tls: client didn't provide a
        // certificate`, natsd `TLS handshake error: peer sent no
        // certificates`.)
        never_links(
            &hub,
            mark,
            "Leafnode connection closed: TLS Handshake Failure",
            1,
            &bare,
        );
    });
}
