//! One scenario played against one server: its steps over named TCP
//! connections (over TLS after the INFO greeting in the TLS mode),
//! recording what each connection received.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::script::{Action, Role, Scenario, Step};
#[cfg(feature = "tls")]
use super::tls::TlsStream;
use super::transcript::{self, Event};
use super::Mode;

/// How long a connection may stay silent while the script waits on it
/// (the INFO, a PONG, a close). Only a server that misbehaves waits this
/// long; a scenario runs in milliseconds.
const PATIENCE: Duration = Duration::from_secs(5);
/// Socket read timeout: how often a waiting read checks the deadline.
const POLL: Duration = Duration::from_millis(20);
/// Pause between the writes of `send-bytewise`, so that the server sees
/// the bytes in separate reads (it may still coalesce some; the protocol
/// must not care).
const BYTEWISE_PAUSE: Duration = Duration::from_millis(1);

/// What one server did in one scenario.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every connection's events in the order received, by name; names in
    /// the order the script connected them.
    pub transcripts: Vec<(String, Vec<Event>)>,
    /// Failed `expect` steps: (line, connection, expected, got).
    pub failed_expects: Vec<FailedExpect>,
    /// A step that could not be carried out (no connection, a timeout):
    /// the scenario is broken or the server hangs, whatever the other does.
    pub errors: Vec<String>,
}

#[derive(Debug)]
pub struct FailedExpect {
    pub line: usize,
    pub conn: String,
    pub expected: Vec<u8>,
    pub got: Vec<u8>,
}

/// A connection's byte stream: the socket, or the TLS session over it.
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The client closes: both ways (after a `close_notify` over TLS).
    fn shutdown(self) {
        match self {
            Stream::Plain(sock) => {
                let _ = sock.shutdown(Shutdown::Both);
            }
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.shutdown(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(sock) => sock.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(sock) => sock.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(sock) => sock.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

struct Conn {
    sock: Option<Stream>,
    /// Received bytes not yet cut into a frame.
    pending: Vec<u8>,
    events: Vec<Event>,
    /// Index into `events` where the next `expect` starts comparing.
    expect_from: usize,
    /// PINGs written (by `sync` and in sent text) and PONGs received: a
    /// `sync` waits for the answer to its own PING, not an earlier one.
    pings_sent: usize,
    pongs_received: usize,
    closed_by_server: bool,
    /// The reply subject (as received, not normalized) of every `MSG` and
    /// `HMSG` frame received, in order; `None` for one without.
    replies: Vec<Option<Vec<u8>>>,
    /// How many of `replies` a `respond` has taken.
    responded: usize,
}

/// Play `scenario` against the server at `addr`, as `role`, in `mode`.
pub fn play(scenario: &Scenario, addr: SocketAddr, role: Role, mode: &Mode) -> Outcome {
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut outcome = Outcome::default();
    let context = Context { addr, role, mode };
    for step in &scenario.steps {
        if let Err(e) = run_step(step, &context, &mut conns, &mut order, &mut outcome) {
            outcome
                .errors
                .push(format!("{}:{}: {e}", scenario.file.display(), step.line));
            break;
        }
    }
    outcome.transcripts = order
        .into_iter()
        .map(|name| {
            let events = conns.remove(&name).map(|c| c.events).unwrap_or_default();
            (name, events)
        })
        .collect();
    outcome
}

/// What every step of one play shares.
struct Context<'a> {
    addr: SocketAddr,
    role: Role,
    mode: &'a Mode,
}

fn run_step(
    step: &Step,
    cx: &Context,
    conns: &mut BTreeMap<String, Conn>,
    order: &mut Vec<String>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    match &step.action {
        Action::Connect(name) => {
            let c = Conn::open(cx.addr, cx.mode)?;
            conns.insert(name.clone(), c);
            order.push(name.clone());
        }
        Action::Send(name, bytes) => get(conns, name)?.send(bytes, false)?,
        Action::SendBytewise(name, bytes) => get(conns, name)?.send(bytes, true)?,
        Action::Sync { conn, unordered } => get(conns, conn)?.sync(*unordered)?,
        Action::Respond(name, text) => get(conns, name)?
            .respond(text)
            .map_err(|e| format!("respond {name}: {e}"))?,
        Action::Read(name) => get(conns, name)?.read_until_closed()?,
        Action::Close(name) => get(conns, name)?.close(),
        Action::Sleep(ms) => thread::sleep(Duration::from_millis(*ms)),
        Action::Expect { conn, text, only } => {
            if only.is_none_or(|r| r == cx.role) {
                let text = cx.mode.expected(text);
                let c = get(conns, conn)?;
                let got: Vec<u8> = c.events[c.expect_from..]
                    .iter()
                    .flat_map(Event::render)
                    .collect();
                c.expect_from = c.events.len();
                if got != *text {
                    outcome.failed_expects.push(FailedExpect {
                        line: step.line,
                        conn: conn.clone(),
                        expected: text.into_owned(),
                        got,
                    });
                }
            }
        }
    }
    Ok(())
}

fn get<'a>(conns: &'a mut BTreeMap<String, Conn>, name: &str) -> Result<&'a mut Conn, String> {
    conns
        .get_mut(name)
        .ok_or_else(|| format!("no connection {name}"))
}

impl Conn {
    /// Connect and wait for the server's greeting (its INFO), so that a
    /// connection is known to the server before the next step runs; in the
    /// TLS mode, then the handshake.
    fn open(addr: SocketAddr, mode: &Mode) -> Result<Conn, String> {
        let sock = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        sock.set_nodelay(true).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(POLL))
            .map_err(|e| e.to_string())?;
        let mut c = Conn {
            sock: Some(Stream::Plain(sock)),
            pending: Vec::new(),
            events: Vec::new(),
            expect_from: 0,
            pings_sent: 0,
            pongs_received: 0,
            closed_by_server: false,
            replies: Vec::new(),
            responded: 0,
        };
        c.read_while(|c| c.events.is_empty(), "the INFO greeting")?;
        // `expect` starts after the greeting; transcripts keep it.
        c.expect_from = c.events.len();
        match mode {
            Mode::Plain => {}
            #[cfg(feature = "tls")]
            Mode::Tls(tls) => c.start_tls(tls)?,
        }
        Ok(c)
    }

    /// The TLS handshake after the greeting, read in clear: the server
    /// must have sent its INFO and nothing else.
    #[cfg(feature = "tls")]
    fn start_tls(&mut self, tls: &super::tls::Tls) -> Result<(), String> {
        if self.closed_by_server || !self.pending.is_empty() || self.events.len() != 1 {
            return Err(format!(
                "expected the INFO greeting alone before the TLS handshake, got:\n{}",
                transcript::display(&self.events)
            ));
        }
        let Some(Stream::Plain(sock)) = self.sock.take() else {
            return Err("TLS handshake on a connection without its socket".into());
        };
        let tls = tls.handshake(sock, Instant::now() + PATIENCE)?;
        self.sock = Some(Stream::Tls(Box::new(tls)));
        Ok(())
    }

    fn send(&mut self, bytes: &[u8], bytewise: bool) -> Result<(), String> {
        let sock = self
            .sock
            .as_mut()
            .ok_or("send on a connection the script closed")?;
        self.pings_sent += count_pings(bytes);
        // A server that has closed the connection makes writes fail; what
        // it sent before closing is still read by the next step, so write
        // errors are not events.
        if !bytewise {
            let _ = sock.write_all(bytes);
            return Ok(());
        }
        for b in bytes {
            if sock.write_all(std::slice::from_ref(b)).is_err() {
                break;
            }
            thread::sleep(BYTEWISE_PAUSE);
        }
        Ok(())
    }

    /// PING, then read up to and including its PONG (or a close). Servers
    /// answer a connection's operations in order, and queue what a
    /// publication delivers to other connections before they read on, so
    /// this is a barrier: see tests/conformance/README.md.
    fn sync(&mut self, unordered: bool) -> Result<(), String> {
        let start = self.events.len();
        self.send(b"PING\r\n", false)?;
        self.read_while(|c| c.pongs_received < c.pings_sent, "the PONG")?;
        if unordered && self.events.len() > start {
            // The PONG (or close) stays last; the rest is put in order.
            let end = self.events.len() - 1;
            self.events[start..end].sort();
        }
        Ok(())
    }

    /// Take the next `MSG`/`HMSG` frame no `respond` has taken, reading
    /// until one arrives, and publish `text` to its reply subject.
    fn respond(&mut self, text: &[u8]) -> Result<(), String> {
        self.read_while(|c| c.replies.len() <= c.responded, "a MSG to respond to")?;
        let Some(reply) = self.replies.get(self.responded) else {
            return Err("the server closed the connection before a MSG arrived".into());
        };
        let reply = reply
            .clone()
            .ok_or("the MSG to respond to has no reply subject")?;
        self.responded += 1;
        let mut publish = b"PUB ".to_vec();
        publish.extend_from_slice(&reply);
        publish.extend_from_slice(format!(" {}\r\n", text.len()).as_bytes());
        publish.extend_from_slice(text);
        publish.extend_from_slice(b"\r\n");
        let sock = self
            .sock
            .as_mut()
            .ok_or("respond on a connection the script closed")?;
        // Written as `send` writes: a failed write is seen by later reads.
        // No PING is counted: the text is a payload.
        let _ = sock.write_all(&publish);
        Ok(())
    }

    fn read_until_closed(&mut self) -> Result<(), String> {
        self.read_while(|_| true, "the server to close")
    }

    fn close(&mut self) {
        if let Some(sock) = self.sock.take() {
            sock.shutdown();
        }
    }

    /// Read and cut frames while `more(self)` holds and the server has not
    /// closed; give up after [`PATIENCE`] (recording a timeout).
    fn read_while(
        &mut self,
        more: impl Fn(&Conn) -> bool,
        awaited: &'static str,
    ) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            // Frames already received come first.
            while more(self) {
                let Some(frame) = transcript::take_frame(&mut self.pending) else {
                    break;
                };
                self.record(frame);
            }
            if !more(self) || self.closed_by_server {
                return Ok(());
            }
            let Some(sock) = self.sock.as_mut() else {
                return Err("read on a connection the script closed".into());
            };
            match sock.read(&mut chunk) {
                Ok(0) => self.server_closed(),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if Instant::now() > deadline {
                        self.events.push(Event::Timeout(awaited));
                        return Err(format!("gave up after {PATIENCE:?} waiting for {awaited}"));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset is a close too (the server closed with our
                // bytes unread).
                Err(_) => self.server_closed(),
            }
        }
    }

    fn record(&mut self, frame: Vec<u8>) {
        if frame == b"PONG\r\n" {
            self.pongs_received += 1;
        }
        if frame.starts_with(b"MSG ") || frame.starts_with(b"HMSG ") {
            self.replies
                .push(transcript::reply_subject(&frame).map(<[u8]>::to_vec));
        }
        self.events.push(Event::Frame(transcript::normalize(frame)));
    }

    fn server_closed(&mut self) {
        while let Some(frame) = transcript::take_frame(&mut self.pending) {
            self.record(frame);
        }
        if !self.pending.is_empty() {
            // A partial frame before the close: kept as it came.
            let partial = std::mem::take(&mut self.pending);
            self.events.push(Event::Frame(partial));
        }
        self.events.push(Event::Closed);
        self.closed_by_server = true;
    }
}

/// PING operations in text the script sends: lines that start with `PING`
/// in any letter case. (A payload line starting so would be counted too;
/// a `sync` after it would then wait in vain and report a timeout.)
fn count_pings(bytes: &[u8]) -> usize {
    let starts_ping = |at: usize| {
        bytes
            .get(at..at + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"PING"))
    };
    let line_starts = std::iter::once(0).chain(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1),
    );
    line_starts.filter(|&at| starts_ping(at)).count()
}
