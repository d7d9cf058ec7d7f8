//! Servers as processes for the tests that run natsd beside the reference
//! nats-server (tests/leafnode.rs, tests/cluster.rs): config files on
//! picked loopback ports, logs kept, the monitor read, and a raw client
//! speaking the protocol byte by byte. Runs are named by the kinds of their
//! servers and each gets a scratch directory (see [`Suite::each_run`]).

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
pub const GO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ref/bin/nats-server");

/// How long a message, a link or a log line may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long a server may take to log "Server is ready".
pub const START_PATIENCE: Duration = Duration::from_secs(20);

/// Between two probes, or two looks at the monitor.
pub const POLL: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Go,
    Natsd,
}

impl Kind {
    pub fn program(self) -> &'static str {
        match self {
            Kind::Go => GO,
            Kind::Natsd => super::binary::NATSD,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Go => "go",
            Kind::Natsd => "natsd",
        }
    }
}

/// Whether the reference nats-server is installed (a failure without it
/// when `NATS_CONFORMANCE_REQUIRED=1`).
pub fn have_go() -> bool {
    let have_go = Path::new(GO).is_file();
    if !have_go {
        let required = std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1");
        assert!(!required, "the reference nats-server is not at {GO}");
        eprintln!("reference nats-server not found at {GO}: topologies with it skipped");
    }
    have_go
}

/// A test file's runs: which its environment selects, which are skipped,
/// where their scratch directories go.
pub struct Suite {
    /// The scratch directories are `target/tmp/<name>-<test>-<run>-<pid>`.
    pub name: &'static str,
    /// Names some runs (`natsd-go,go-natsd-go`) to run only those.
    pub topologies_env: &'static str,
    /// `=1` runs what `skip` lists too.
    pub no_skip_env: &'static str,
    /// Runs natsd must be fixed for before they pass: (test, run, why).
    pub skip: &'static [(&'static str, &'static str, &'static str)],
}

impl Suite {
    /// Whether the environment variable (unset, `1` or `all`: every one)
    /// names this run.
    pub fn wanted(&self, name: &str) -> bool {
        let wanted = std::env::var(self.topologies_env).unwrap_or_default();
        let wanted: Vec<String> = wanted
            .split(',')
            .map(|w| w.trim().to_ascii_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        wanted.is_empty() || wanted.iter().any(|w| w == "1" || w == "all" || w == name)
    }

    /// Run `scenario` for each of `runs` (a topology or a chain) in a
    /// directory of its own, skipping what [`Suite::skip`] lists; every run
    /// goes on even when one fails, and the failure names each that failed.
    pub fn each_run<T: fmt::Display + Copy>(
        &self,
        test: &str,
        runs: Vec<T>,
        scenario: impl Fn(T, PathBuf),
    ) {
        let no_skip = std::env::var(self.no_skip_env).is_ok_and(|v| v == "1");
        let mut failed = Vec::new();
        for run in runs {
            let name = run.to_string();
            if let Some((_, _, why)) = self.skip.iter().find(|(t, r, _)| *t == test && *r == name) {
                if !no_skip {
                    eprintln!("{test} [{name}]: SKIPPED until natsd is fixed: {why}");
                    continue;
                }
            }
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
                "{}-{test}-{name}-{}",
                self.name,
                std::process::id()
            ));
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
}

// ---------------------------------------------------------------------
// Servers as processes.

/// The loopback ports of one server.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub client: u16,
    pub http: u16,
    /// Where it accepts leaf nodes, when its config says so.
    pub leaf: u16,
    /// Its `websocket {}` listener, when its config has one.
    pub ws: u16,
    /// Where it accepts routes, when its config has `cluster {}`.
    pub cluster: u16,
}

impl Ports {
    pub fn pick() -> Ports {
        Ports {
            client: free_port(),
            http: free_port(),
            leaf: free_port(),
            ws: free_port(),
            cluster: free_port(),
        }
    }
}

/// A port nobody listened on a moment ago, never the same twice in this
/// test binary. Another process may still take it before the server binds
/// it: [`Server::start`] then tries other ports.
pub fn free_port() -> u16 {
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
pub fn conf_text(name: &str, ports: &Ports, config: &dyn Fn(&Ports) -> String) -> String {
    format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: {}\nhttp: \"127.0.0.1:{}\"\n{}",
        ports.client,
        ports.http,
        config(ports)
    )
}

/// A server process started with `-c <its config>`, its stderr kept.
pub struct Server {
    pub kind: Kind,
    pub name: String,
    pub conf: PathBuf,
    pub log_file: PathBuf,
    pub ports: Ports,
    pub child: Option<Child>,
    /// Every line it logged, over restarts.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Why a server did not start.
pub enum StartError {
    /// One of its ports was taken: try others.
    PortTaken(String),
}

impl Server {
    /// Start `name` on fresh ports, with the common lines (name, loopback
    /// listener, monitor) and then `config`'s.
    pub fn start(kind: Kind, dir: &Path, name: &str, config: &dyn Fn(&Ports) -> String) -> Server {
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
    pub fn try_start(
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
    pub fn rewrite(&self, config: impl Fn(&Ports) -> String) {
        std::fs::write(&self.conf, conf_text(&self.name, &self.ports, &config)).unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    /// Wait for the process to exit by itself: its status.
    #[track_caller]
    pub fn wait_exit(&mut self, patience: Duration) -> std::process::ExitStatus {
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
    pub fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("started");
        child.try_wait().unwrap().is_none()
    }

    /// Run the process on the config file and wait for "Server is ready".
    pub fn launch(&mut self) -> Result<(), StartError> {
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
    pub fn read_log(&self, stderr: impl Read + Send + 'static) -> JoinHandle<()> {
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
    pub fn stop(&mut self, gently: bool) {
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
    pub fn restart(&mut self) {
        if let Err(StartError::PortTaken(lines)) = self.launch() {
            panic!("{} could not get its ports back:\n{lines}", self.name);
        }
    }

    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.client))
    }

    /// A client with no credentials.
    pub fn client(&self, what: &str) -> Client {
        Client::connect(self.client_addr(), &Auth::None, what)
    }

    pub fn client_as(&self, auth: &Auth, what: &str) -> Client {
        Client::connect(self.client_addr(), auth, what)
    }

    /// GET `path` from its monitor: the JSON, or why not.
    pub fn try_monitor(&self, path: &str) -> Result<Value, String> {
        http_get(self.ports.http, path)
    }

    #[track_caller]
    pub fn monitor(&self, path: &str) -> Value {
        self.try_monitor(path)
            .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", self.name))
    }

    /// Whether it logged a line containing `needle` within `patience`.
    pub fn logged_within(&self, needle: &str, patience: Duration) -> Option<String> {
        self.logged_since(0, needle, patience)
    }

    /// How many lines it logged so far: a mark for [`Server::logged_since`].
    pub fn log_mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Whether it logged a line containing `needle` past the first `mark`
    /// lines, within `patience`.
    pub fn logged_since(&self, mark: usize, needle: &str, patience: Duration) -> Option<String> {
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

    pub fn log_tail(&self, n: usize) -> String {
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
pub fn http_get(port: u16, path: &str) -> Result<Value, String> {
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

// ---------------------------------------------------------------------
// A raw client.

/// Credentials in CONNECT.
pub enum Auth<'a> {
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
pub struct Msg {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// HMSG's header bytes.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
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
pub const PROBE: &str = "_PROBE.";

/// A client speaking the protocol byte by byte: CONNECT with headers and
/// no-responders, PING/PONG as a barrier, MSG and HMSG kept in order.
pub struct Client {
    pub what: String,
    pub sock: TcpStream,
    pub buf: Vec<u8>,
    pub pending: VecDeque<Msg>,
    pub pongs: usize,
    /// Every INFO the server sent, the first (before CONNECT) included.
    pub infos: Vec<Value>,
    pub next_sid: u64,
}

impl Client {
    pub fn connect(addr: SocketAddr, auth: &Auth, what: &str) -> Client {
        Client::try_connect(addr, auth, what).unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A client, or the `-ERR` line the server answered its CONNECT with.
    pub fn try_connect(addr: SocketAddr, auth: &Auth, what: &str) -> Result<Client, String> {
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
            infos: Vec::new(),
            next_sid: 1,
        };
        let info = client.raw_line();
        let info: Value = serde_json::from_str(
            info.strip_prefix("INFO ")
                .unwrap_or_else(|| panic!("{what}: expected INFO, got {info:?}")),
        )
        .unwrap();
        client.infos.push(info.clone());
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
                connect["nkey"] = json!(super::jwt::public(key));
                connect["sig"] = json!(super::jwt::sign_nonce(key, nonce));
            }
            #[cfg(feature = "jwt")]
            Auth::Jwt(jwt, key) => {
                let nonce = info["nonce"].as_str().expect("a nonce in INFO");
                connect["jwt"] = json!(jwt);
                connect["sig"] = json!(super::jwt::sign_nonce(key, nonce));
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
                _ if line.starts_with("INFO ") => client.keep_info(&line),
                _ if line.starts_with("-ERR") => return Err(line),
                _ => panic!("{what}: the server said {line:?} before its PONG"),
            }
        }
    }

    /// Keep an `INFO {...}` line's JSON in [`Client::infos`].
    fn keep_info(&mut self, line: &str) {
        let json = line.trim_start()[4..].trim();
        let info =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{}: {line:?}: {e}", self.what));
        self.infos.push(info);
    }

    /// The next line, unparsed (the INFO, the answer to CONNECT).
    pub fn raw_line(&mut self) -> String {
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

    pub fn send(&mut self, bytes: &[u8]) {
        self.sock
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.what));
    }

    /// SUB `subject`: its sid.
    pub fn sub(&mut self, subject: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {sid}\r\n").as_bytes());
        sid
    }

    /// SUB `subject` in queue group `queue`: its sid.
    pub fn sub_queue(&mut self, subject: &str, queue: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {queue} {sid}\r\n").as_bytes());
        sid
    }

    pub fn unsub(&mut self, sid: u64) {
        self.send(format!("UNSUB {sid}\r\n").as_bytes());
    }

    pub fn publish(&mut self, subject: &str, reply: Option<&str>, payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut bytes = format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
    }

    pub fn hpublish(&mut self, subject: &str, reply: Option<&str>, headers: &[u8], payload: &[u8]) {
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
    pub fn flush(&mut self) {
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
    pub fn read_some(&mut self) {
        self.read_raw();
        while self.parse_one() {}
    }

    /// One read (or a short timeout) into the buffer.
    pub fn read_raw(&mut self) {
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
    pub fn parse_one(&mut self) -> bool {
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
                    "INFO" => self.keep_info(&line),
                    "+OK" => {}
                    _ => panic!("{}: the server said {line:?}", self.what),
                }
            }
        }
        true
    }

    /// The first message that `matches` within `patience` (the others
    /// stay, in order).
    pub fn wait_for(&mut self, patience: Duration, matches: impl Fn(&Msg) -> bool) -> Option<Msg> {
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
    pub fn expect_msg(&mut self, subject: &str) -> Msg {
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
    pub fn until(&mut self, subject: &str, end: &str) -> Vec<Msg> {
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
    pub fn expect_nothing(&mut self) {
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
pub fn interest_crossed(subscriber: &mut Client, publisher: &mut Client) {
    interest_crossed_on(subscriber, publisher, "");
}

/// [`interest_crossed`] with probe subjects under `prefix` (`allowed.`,
/// for a link that lets only those cross).
#[track_caller]
pub fn interest_crossed_on(subscriber: &mut Client, publisher: &mut Client, prefix: &str) {
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
pub fn publish_until_received(
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
pub fn crosses(from: &mut Client, to: &mut Client, subject: &str) {
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

/// Messages from `from` to `to` (subscribed to `<prefix>.>` and its
/// interest known on `from`'s server): without and with a reply subject,
/// HPUB as HMSG with the same header bytes, 512 KiB, and 100 in order,
/// each once.
pub fn exchange(from: &mut Client, to: &mut Client, prefix: &str) {
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

/// Wait for a line containing `needle` in `server`'s log past `mark`: the
/// line.
#[track_caller]
pub fn expect_logged(server: &Server, mark: usize, needle: &str) -> String {
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
