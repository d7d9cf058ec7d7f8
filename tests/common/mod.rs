//! Raw-protocol helpers: start natsd in-process on a free port, speak bytes,
//! expect bytes.
#![allow(dead_code)]

pub mod binary;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod servers;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use natsd::{Options, RunningServer, Server};

/// How long any expectation waits before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The server under test: natsd in-process, or, for tests that need no
/// special options, the reference nats-server at `NATSD_REFERENCE_ADDR`
/// (`host:port`), to check that these expectations are nats-server's.
pub struct TestServer {
    addr: SocketAddr,
    _natsd: Option<RunningServer>,
}

impl TestServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The in-process natsd's handle (`None` for a reference server).
    pub fn handle(&self) -> Option<natsd::ServerHandle> {
        self._natsd.as_ref().map(RunningServer::handle)
    }
}

pub fn server() -> TestServer {
    if let Ok(addr) = std::env::var("NATSD_REFERENCE_ADDR") {
        return TestServer {
            addr: addr.parse().expect("NATSD_REFERENCE_ADDR is host:port"),
            _natsd: None,
        };
    }
    server_with(|_| {})
}

/// A server already running at `addr` (started by the test itself).
pub fn at(addr: SocketAddr) -> TestServer {
    TestServer { addr, _natsd: None }
}

pub fn server_with(configure: impl FnOnce(&mut Options)) -> TestServer {
    let mut opts = Options::ephemeral();
    configure(&mut opts);
    let natsd = Server::spawn(opts).expect("natsd starts");
    TestServer {
        addr: natsd.addr(),
        _natsd: Some(natsd),
    }
}

/// A raw TCP client that has read the server's INFO.
pub struct Raw {
    sock: TcpStream,
    buf: Vec<u8>,
    pub info: serde_json::Value,
}

impl Raw {
    pub fn connect(srv: &TestServer) -> Raw {
        let sock = TcpStream::connect(srv.addr()).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut raw = Raw {
            sock,
            buf: Vec::new(),
            info: serde_json::Value::Null,
        };
        let line = raw.read_line();
        let json = line
            .strip_prefix("INFO ")
            .unwrap_or_else(|| panic!("expected INFO, got {line:?}"));
        raw.info = serde_json::from_str(json.trim_end()).expect("INFO is JSON");
        raw
    }

    /// Connected with `CONNECT <json>`, verbose off unless `json` says so.
    pub fn connect_with(srv: &TestServer, json: &str) -> Raw {
        let mut raw = Raw::connect(srv);
        raw.send(format!("CONNECT {json}\r\nPING\r\n").as_bytes());
        raw.expect(b"PONG\r\n");
        raw
    }

    /// The usual quiet client: CONNECT with verbose off.
    pub fn quiet(srv: &TestServer) -> Raw {
        Raw::connect_with(srv, r#"{"verbose":false,"pedantic":false}"#)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).expect("send");
    }

    /// Read until `n` bytes are buffered. Anything else is a failure the
    /// message names: the peer closed, a read failed, or `PATIENCE` ran out
    /// (these used to be told apart by nobody, so a slow moment on a loaded
    /// machine read as "closed"). An interrupted read is retried.
    fn fill(&mut self, n: usize) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        let mut chunk = [0u8; 64 * 1024];
        while self.buf.len() < n {
            if Instant::now() > deadline {
                return Err(format!("nothing more within {PATIENCE:?}"));
            }
            match self.sock.read(&mut chunk) {
                Ok(0) => return Err("closed by the server".into()),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
        Ok(())
    }

    /// The next bytes must be exactly `expected`.
    #[track_caller]
    pub fn expect(&mut self, expected: &[u8]) {
        let _ = self.fill(expected.len());
        let got = &self.buf[..expected.len().min(self.buf.len())];
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(expected),
            "unexpected bytes from the server"
        );
        self.buf.drain(..expected.len());
    }

    #[track_caller]
    pub fn read_line(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return String::from_utf8_lossy(&line[..line.len() - 1])
                    .trim_end_matches('\r')
                    .to_string();
            }
            assert!(Instant::now() < deadline, "no line within {PATIENCE:?}");
            if let Err(why) = self.fill(self.buf.len() + 1) {
                panic!(
                    "no full line ({why}); got {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Nothing else arrives before the reply to a PING: a barrier, not a
    /// sleep.
    #[track_caller]
    pub fn expect_nothing_more(&mut self) {
        self.send(b"PING\r\n");
        self.expect(b"PONG\r\n");
    }

    /// The server closes the connection with nothing more to say.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let mut chunk = [0u8; 4096];
        loop {
            assert!(
                self.buf.is_empty(),
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            assert!(
                Instant::now() < deadline,
                "connection still open after {PATIENCE:?}"
            );
            match self.sock.read(&mut chunk) {
                Ok(0) => return,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    }

    /// `-ERR '<text>'`, then the close.
    #[track_caller]
    pub fn expect_err_and_close(&mut self, text: &str) {
        self.expect(format!("-ERR '{text}'\r\n").as_bytes());
        self.expect_closed();
    }
}

impl Raw {
    /// Read `n` messages as (control line, payload line) pairs.
    #[track_caller]
    pub fn read_msgs(&mut self, n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|_| {
                let head = self.read_line();
                assert!(
                    head.starts_with("MSG ") || head.starts_with("HMSG "),
                    "{head}"
                );
                (head, self.read_line())
            })
            .collect()
    }
}

impl Raw {
    /// Read and discard until the server closes; returns the bytes read.
    #[track_caller]
    pub fn drain_until_closed(&mut self) -> usize {
        let deadline = Instant::now() + PATIENCE * 4;
        let mut total = std::mem::take(&mut self.buf).len();
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            assert!(Instant::now() < deadline, "never closed");
            match self.sock.read(&mut chunk) {
                Ok(0) => return total,
                Ok(k) => total += k,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return total,
            }
        }
    }
}
