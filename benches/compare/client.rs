//! The load generator's half of the NATS client protocol: blocking std
//! sockets, no client library, no allocation per message; plain TCP, or
//! TLS or WebSocket underneath (see `transport.rs`).
//!
//! Publishing is one `write_all` of a prebuilt [`Batch`] of `PUB` frames, over
//! and over; reading is [`Scanner`], which finds control lines with `memchr`
//! and jumps over payloads by their declared size, as the server's own parser
//! does.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::server::{Listener, RunningServer};
use crate::transport::{Stream, Transport};

/// Every failure of a scenario is a sentence for the report.
pub type Res<T> = Result<T, String>;

/// `io::Result` -> [`Res`] with a word on what was being done.
pub trait Context<T> {
    fn context(self, what: &str) -> Res<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: &str) -> Res<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// How long a client waits for the server to answer or to make progress
/// before the scenario is declared failed (lost messages, dead server).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Read buffer of a connection that only exchanges control lines.
pub const SMALL_READS: usize = 4 * 1024;
/// Read buffer of a subscriber: large reads keep the syscall count per
/// message low, so the counter is not what limits a scenario.
pub const LARGE_READS: usize = 256 * 1024;

/// What every `CONNECT` says, between its braces.
const CONNECT_OPTIONS: &str = r#""verbose":false,"pedantic":false,"echo":false"#;

/// A user's name and password, given in `CONNECT`.
#[derive(Debug, Clone, Copy)]
pub struct Login {
    pub user: &'static str,
    pub pass: &'static str,
}

/// What [`Scanner`] found in the server's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Info,
    /// A `MSG` control line, without its CRLF; the payload is skipped
    /// unless the scanner reports payloads.
    Msg(&'a [u8]),
    /// The payload of the `MSG` just reported, without its CRLF: only from
    /// a scanner made to report payloads (see [`Conn::report_payloads`]).
    Payload(&'a [u8]),
    Ping,
    Pong,
}

/// An incremental scanner of server-to-client bytes, fed whatever one read
/// returned.
#[derive(Default)]
pub struct Scanner {
    /// Payload bytes (and their CRLF) still to skip from an earlier read.
    skip: usize,
    /// The beginning of a control line that the last read cut in two.
    partial: Vec<u8>,
    /// Payloads are reported as [`Event::Payload`] rather than skipped.
    payloads: bool,
    /// The beginning of a payload that a read cut in two...
    gathered: Vec<u8>,
    /// ...and how many of its bytes are still to come.
    gathering: usize,
}

impl Scanner {
    /// Reports every complete control line in `data` to `on`. A `-ERR`, or
    /// a line this client never expects, fails the scenario.
    pub fn feed(&mut self, mut data: &[u8], on: &mut impl FnMut(Event<'_>)) -> Res<()> {
        loop {
            if self.gathering > 0 {
                let taken = self.gathering.min(data.len());
                self.gathered.extend_from_slice(&data[..taken]);
                self.gathering -= taken;
                data = &data[taken..];
                if self.gathering > 0 {
                    return Ok(());
                }
                on(Event::Payload(&self.gathered));
                self.gathered.clear();
                self.skip = 2;
            }
            let skipped = self.skip.min(data.len());
            self.skip -= skipped;
            data = &data[skipped..];
            if data.is_empty() {
                return Ok(());
            }
            let Some(eol) = memchr::memchr(b'\n', data) else {
                self.keep_partial(data)?;
                return Ok(());
            };
            let (head, rest) = (&data[..eol], &data[eol + 1..]);
            data = rest;
            let payload = if self.partial.is_empty() {
                handle_line(trim_cr(head), on)?
            } else {
                // Rare (one line per read at most): join the two halves in
                // the reused buffer.
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                let payload = handle_line(trim_cr(&line), on);
                line.clear();
                self.partial = line;
                payload?
            };
            match payload {
                None => {}
                Some(size) if !self.payloads => self.skip = size + 2,
                Some(size) if size <= data.len() => {
                    on(Event::Payload(&data[..size]));
                    data = &data[size..];
                    self.skip = 2;
                }
                // Rare too: the payload continues in the next read.
                Some(size) => self.gathering = size,
            }
        }
    }

    fn keep_partial(&mut self, data: &[u8]) -> Res<()> {
        self.partial.extend_from_slice(data);
        // A server's control line is short; this many bytes without a
        // newline means the scanner has lost its footing.
        if self.partial.len() > 64 * 1024 {
            return Err("no end of line in 64 KiB of server output".into());
        }
        Ok(())
    }
}

/// Handles one control line; returns the size of the payload that follows
/// it (a `MSG`'s, without its CRLF), if one does.
fn handle_line(line: &[u8], on: &mut impl FnMut(Event<'_>)) -> Res<Option<usize>> {
    if line.starts_with(b"MSG ") {
        let size = last_token_as_size(line)?;
        on(Event::Msg(line));
        Ok(Some(size))
    } else if line == b"PING" {
        on(Event::Ping);
        Ok(None)
    } else if line == b"PONG" {
        on(Event::Pong);
        Ok(None)
    } else if line.starts_with(b"INFO ") {
        on(Event::Info);
        Ok(None)
    } else if line == b"+OK" {
        Ok(None)
    } else {
        // -ERR (slow consumer, limits, ...) or garbage: either way the
        // count can no longer be trusted.
        Err(format!(
            "server sent {:?}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        ))
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The payload size that ends a `MSG` line, read backwards from its end.
fn last_token_as_size(line: &[u8]) -> Res<usize> {
    let start = line
        .iter()
        .rposition(|&b| b == b' ' || b == b'\t')
        .map_or(0, |i| i + 1);
    let digits = &line[start..];
    if digits.is_empty() || digits.len() > 9 {
        return Err(format!("bad MSG line {:?}", String::from_utf8_lossy(line)));
    }
    digits.iter().try_fold(0usize, |n, &d| {
        if d.is_ascii_digit() {
            Ok(n * 10 + usize::from(d - b'0'))
        } else {
            Err(format!("bad MSG line {:?}", String::from_utf8_lossy(line)))
        }
    })
}

/// The `i`th space-separated token of a control line.
pub fn token(line: &[u8], i: usize) -> Option<&[u8]> {
    line.split(|&b| b == b' ').filter(|t| !t.is_empty()).nth(i)
}

/// One client connection: past `INFO`, `CONNECT` sent.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    scanner: Scanner,
}

impl Conn {
    /// Connects, waits for `INFO` and sends `CONNECT` (verbose, pedantic and
    /// echo off). Nagle is off: latency scenarios need it, and batches are
    /// written whole anyway.
    pub fn open(addr: SocketAddr, read_buffer: usize) -> Res<Conn> {
        Conn::open_as(addr, read_buffer, None)
    }

    /// [`Conn::open`], logged in as `login` if given. A login is then
    /// confirmed with a `PING`: a refused one fails here with the server's
    /// `-ERR`, not later as a broken pipe in the middle of a batch.
    pub fn open_as(addr: SocketAddr, read_buffer: usize, login: Option<Login>) -> Res<Conn> {
        let mut conn = Conn::connect(addr, read_buffer)?;
        conn.read_until(|ev| ev == Event::Info)?;
        conn.log_in(login)
    }

    /// [`Conn::open_as`] over `transport`: to the client port in clear or
    /// with TLS (`INFO` read in clear, then the handshake), or to the
    /// WebSocket port (the upgrade, then `INFO` in a frame).
    pub fn open_over(
        transport: Transport,
        server: &RunningServer,
        read_buffer: usize,
        login: Option<Login>,
    ) -> Res<Conn> {
        match transport {
            Transport::Tcp => Conn::open_as(server.addr, read_buffer, login),
            #[cfg(feature = "tls")]
            Transport::Tls => {
                let tls = crate::tls::connect(server.addr, read_buffer, set_up_socket)?;
                Conn::over(Stream::Tls(Box::new(tls)), read_buffer).log_in(login)
            }
            #[cfg(not(feature = "tls"))]
            Transport::Tls => Err("this build has no TLS (the `tls` feature)".into()),
            Transport::Ws => {
                let addr = server
                    .listener(Listener::Websocket)
                    .ok_or("the server was started without a WebSocket port")?;
                let ws = crate::ws::connect(addr, read_buffer, set_up_socket)?;
                let mut conn = Conn::over(Stream::Ws(Box::new(ws)), read_buffer);
                conn.read_until(|ev| ev == Event::Info)?;
                conn.log_in(login)
            }
        }
    }

    /// Sends `CONNECT`, with `login` if given (and then waits for its
    /// `PONG`, see [`Conn::open_as`]).
    fn log_in(mut self, login: Option<Login>) -> Res<Conn> {
        // No escaping: the bench's names and passwords are plain words.
        let credentials = login.map_or_else(String::new, |Login { user, pass }| {
            format!(r#","user":"{user}","pass":"{pass}""#)
        });
        self.send(format!("CONNECT {{{CONNECT_OPTIONS}{credentials}}}\r\n").as_bytes())?;
        if login.is_some() {
            self.send_and_sync(b"")?;
        }
        Ok(self)
    }

    /// Connects and sends `CONNECT` at once, without waiting for `INFO`:
    /// without a login both servers read what a client sent before their
    /// `INFO` reached it, so opening many connections costs no round trip
    /// each. The `INFO` is read with whatever the caller awaits next.
    pub fn open_eager(addr: SocketAddr, read_buffer: usize) -> Res<Conn> {
        let mut conn = Conn::connect(addr, read_buffer)?;
        conn.send(format!("CONNECT {{{CONNECT_OPTIONS}}}\r\n").as_bytes())?;
        Ok(conn)
    }

    fn connect(addr: SocketAddr, read_buffer: usize) -> Res<Conn> {
        let stream = TcpStream::connect(addr).context("connect")?;
        set_up_socket(&stream)?;
        Ok(Conn::over(Stream::Tcp(stream), read_buffer))
    }

    /// A connection on a stream whose socket is [`set_up_socket`].
    fn over(stream: Stream, read_buffer: usize) -> Conn {
        Conn {
            stream,
            buf: vec![0; read_buffer],
            scanner: Scanner::default(),
        }
    }

    /// How long one [`Conn::pump`] blocks when nothing arrives.
    pub fn poll_every(&mut self, timeout: Duration) -> Res<()> {
        self.stream
            .tcp()
            .set_read_timeout(Some(timeout))
            .context("read timeout")
    }

    /// From now on every `MSG` is followed by an [`Event::Payload`] with its
    /// payload, for clients that read what was sent (a timestamp, say).
    pub fn report_payloads(&mut self) {
        self.scanner.payloads = true;
    }

    /// The socket itself, for what std has no call for (see `sys.rs`).
    pub fn socket(&self) -> &TcpStream {
        self.stream.tcp()
    }

    /// A second handle on the socket, for a thread that only writes while
    /// this one reads (a requester sending at its own pace): plain TCP
    /// only, where the bytes written are the protocol itself.
    pub fn writer(&self) -> Res<TcpStream> {
        match &self.stream {
            Stream::Tcp(tcp) => tcp.try_clone().context("clone the socket"),
            _ => Err("a second writer needs a plain TCP connection".into()),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.stream.write_all(bytes).context("write")
    }

    /// One read (or a read timeout, see [`Conn::poll_every`]), scanned.
    /// Answers the server's keepalive `PING`s, so a long scenario is not
    /// dropped as stale.
    pub fn pump(&mut self, on: &mut impl FnMut(Event<'_>)) -> Res<()> {
        let n = match self.stream.read(&mut self.buf) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => n,
            Err(e) if is_timeout_or_interrupt(e.kind()) => return Ok(()),
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut pings = 0;
        self.scanner.feed(&self.buf[..n], &mut |ev| {
            if ev == Event::Ping {
                pings += 1;
            }
            on(ev);
        })?;
        for _ in 0..pings {
            self.send(b"PONG\r\n")?;
        }
        Ok(())
    }

    /// Reads until `done` has said yes to an event (the rest of that read is
    /// still shown to it); fails after [`PATIENCE`] without it.
    pub fn read_until(&mut self, mut done: impl FnMut(Event<'_>) -> bool) -> Res<()> {
        let deadline = Instant::now() + PATIENCE;
        let mut finished = false;
        while !finished {
            self.pump(&mut |ev| finished |= done(ev))?;
            if !finished && Instant::now() > deadline {
                return Err(format!("no answer from the server in {PATIENCE:?}"));
            }
        }
        Ok(())
    }

    /// Sends `bytes` and a `PING` in one write and waits for the `PONG`:
    /// the server has then processed everything before it. Returns the
    /// `MSG`s that arrived meanwhile.
    pub fn send_and_sync(&mut self, bytes: &[u8]) -> Res<u64> {
        let mut out = Vec::with_capacity(bytes.len() + 6);
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"PING\r\n");
        self.send(&out)?;
        let mut msgs = 0;
        self.read_until(|ev| match ev {
            Event::Msg(_) => {
                msgs += 1;
                false
            }
            Event::Pong => true,
            _ => false,
        })?;
        Ok(msgs)
    }

    /// `SUB`s every subject (sids 1, 2, ...), optionally in `queue`, and
    /// waits until the server confirms them.
    pub fn subscribe<S: AsRef<str>>(&mut self, subjects: &[S], queue: Option<&str>) -> Res<()> {
        let mut subs = String::new();
        for (i, subject) in subjects.iter().enumerate() {
            let subject = subject.as_ref();
            let sid = i + 1;
            subs += &match queue {
                Some(queue) => format!("SUB {subject} {queue} {sid}\r\n"),
                None => format!("SUB {subject} {sid}\r\n"),
            };
        }
        let early = self.send_and_sync(subs.as_bytes())?;
        if early != 0 {
            return Err(format!("{early} messages arrived before publishing began"));
        }
        Ok(())
    }

    /// Writes `batch` `times` times back to back, then waits until the
    /// server has processed all of it.
    pub fn publish(&mut self, batch: &Batch, times: u64) -> Res<()> {
        for _ in 0..times {
            self.send(&batch.bytes)?;
        }
        self.send_and_sync(b"")?;
        Ok(())
    }
}

/// What every client socket gets: Nagle off (latency scenarios need it,
/// and batches are written whole anyway), and writes and reads that give
/// up after [`PATIENCE`].
fn set_up_socket(stream: &TcpStream) -> Res<()> {
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    stream
        .set_write_timeout(Some(PATIENCE))
        .context("write timeout")?;
    stream
        .set_read_timeout(Some(PATIENCE))
        .context("read timeout")
}

fn is_timeout_or_interrupt(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Prebuilt `PUB` frames, written with one `write_all`.
pub struct Batch {
    pub bytes: Vec<u8>,
    /// How many times the batch publishes its whole list of subjects.
    pub cycles: u64,
    /// Messages in the batch.
    pub frames: u64,
}

impl Batch {
    /// The frames publishing each of `subjects` in turn with a `payload`
    /// bytes long payload, the cycle repeated until the batch holds at least
    /// `min_bytes` (so a syscall carries many small messages).
    pub fn new<S: AsRef<str>>(
        subjects: &[S],
        reply: Option<&str>,
        payload: usize,
        min_bytes: usize,
    ) -> Batch {
        assert!(!subjects.is_empty(), "a batch publishes something");
        let body = vec![b'x'; payload];
        let mut cycle = Vec::new();
        for subject in subjects {
            let subject = subject.as_ref();
            let head = match reply {
                Some(reply) => format!("PUB {subject} {reply} {payload}\r\n"),
                None => format!("PUB {subject} {payload}\r\n"),
            };
            cycle.extend_from_slice(head.as_bytes());
            cycle.extend_from_slice(&body);
            cycle.extend_from_slice(b"\r\n");
        }
        let cycles = min_bytes.div_ceil(cycle.len()).max(1);
        Batch {
            bytes: cycle.repeat(cycles),
            cycles: cycles as u64,
            frames: (cycles * subjects.len()) as u64,
        }
    }
}
