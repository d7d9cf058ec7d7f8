//! One HTTP/1.x connection of the monitor, sans-IO: fed bytes by the
//! reactor, it yields requests, takes responses and hands back bytes to
//! write. One request is answered at a time; pipelined ones wait in the
//! buffer. Bounded: a request head (and any body) fits in [`MAX_REQUEST`],
//! and every state has a deadline.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant, SystemTime};

/// The most a request (head and body) may take.
pub const MAX_REQUEST: usize = 16 * 1024;
/// A request must arrive whole this soon after its first byte, and a new
/// connection must send one this soon (Go's `ReadHeaderTimeout` in
/// nats-server).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection with no request for this long is closed
/// (nats-server keeps them forever; natsd bounds how many it keeps).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A response the client stops reading is dropped after this long without
/// progress.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers looked at per request; more is a 431.
const MAX_HEADERS: usize = 32;

/// A request head, owned (the read buffer moves on before it is answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The raw query string, after `?`.
    pub query: String,
}

/// The status codes the monitor answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    HeadersTooLarge,
    NotImplemented,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::PayloadTooLarge => "413 Request Entity Too Large",
            Status::HeadersTooLarge => "431 Request Header Fields Too Large",
            Status::NotImplemented => "501 Not Implemented",
        }
    }
}

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";
/// The Prometheus text exposition format.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What to send back.
#[derive(Debug)]
pub struct Response {
    pub status: Status,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status: Status::Ok,
            content_type,
            body,
        }
    }

    /// A plain-text error, as nats-server's handlers write them.
    pub fn error(status: Status, text: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: text.into().into_bytes(),
        }
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Response {
        Response::error(Status::NotFound, "404 page not found\n")
    }

    /// The head, for a body of `len` bytes.
    fn head(&self, http10: bool, keep_alive: bool, len: usize, now: SystemTime) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.{} {}\r\n",
            if http10 { 0 } else { 1 },
            self.status.line()
        );
        // nats-server lets any page read its JSON.
        if self.content_type == JSON {
            head.push_str("Access-Control-Allow-Origin: *\r\n");
        }
        head.push_str("Content-Type: ");
        head.push_str(self.content_type);
        head.push_str("\r\n");
        if self.status == Status::NotFound {
            head.push_str("X-Content-Type-Options: nosniff\r\n");
        }
        head.push_str(&format!(
            "Date: {}\r\nContent-Length: {len}\r\n",
            crate::go_format::http_date(now)
        ));
        match (http10, keep_alive) {
            (false, false) => head.push_str("Connection: close\r\n"),
            (true, true) => head.push_str("Connection: keep-alive\r\n"),
            _ => {}
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// What the buffered bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Nothing to do yet: no whole request, or one is being answered.
    Nothing,
    Request(Request),
    /// A request that cannot be served: answer this and close.
    Refused(Status),
}

/// The state of one monitoring connection.
#[derive(Debug)]
pub struct HttpConn {
    /// Received bytes not yet taken as a request.
    rbuf: Vec<u8>,
    /// The response head and body being written, and how far.
    head: Vec<u8>,
    body: Vec<u8>,
    written: usize,
    /// A request was taken and its response is not fully written yet.
    busy: bool,
    /// The response to that request is queued (it may take a few turns).
    responded: bool,
    /// The request being answered is HTTP/1.0, or a HEAD.
    http10: bool,
    head_only: bool,
    keep_alive: bool,
    /// The peer sent its last byte: answer what it asked, then close.
    peer_closed: bool,
    pub deadline: Instant,
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Nothing left to write; the connection waits for its next request.
    Idle,
    /// The response is still being made.
    Waiting,
    /// The peer takes no more for now.
    Blocked,
    /// The connection is done: close it.
    Done,
}

impl HttpConn {
    pub fn new(now: Instant) -> HttpConn {
        HttpConn {
            rbuf: Vec::new(),
            head: Vec::new(),
            body: Vec::new(),
            written: 0,
            busy: false,
            responded: false,
            http10: false,
            head_only: false,
            keep_alive: true,
            peer_closed: false,
            deadline: now + REQUEST_TIMEOUT,
        }
    }

    /// Read what `src` has, up to the request bound. `Ok(0)`: end of
    /// stream, or the buffer is full until a response makes room.
    pub fn read_from(&mut self, src: &mut impl Read, now: Instant) -> io::Result<usize> {
        let mut total = 0;
        let mut chunk = [0u8; 4096];
        while self.rbuf.len() < MAX_REQUEST {
            let room = (MAX_REQUEST - self.rbuf.len()).min(chunk.len());
            match src.read(&mut chunk[..room]) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(total);
                }
                Ok(n) => {
                    if self.rbuf.is_empty() && !self.busy {
                        // A request has begun: it has this long to arrive.
                        self.deadline = now + REQUEST_TIMEOUT;
                    }
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Take the next whole request out of the buffer, unless one is being
    /// answered.
    pub fn next_request(&mut self) -> Parsed {
        if self.busy || self.rbuf.is_empty() {
            return Parsed::Nothing;
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let head_len = match req.parse(&self.rbuf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if self.rbuf.len() >= MAX_REQUEST => {
                return self.refuse(Status::HeadersTooLarge)
            }
            Ok(httparse::Status::Partial) => return Parsed::Nothing,
            Err(httparse::Error::TooManyHeaders) => return self.refuse(Status::HeadersTooLarge),
            Err(_) => return self.refuse(Status::BadRequest),
        };
        let http10 = req.version == Some(0);
        let mut keep_alive = !http10;
        let mut body_len = 0usize;
        for h in req.headers.iter() {
            let value = std::str::from_utf8(h.value).unwrap_or("").trim();
            if h.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        keep_alive = true;
                    }
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                match value.parse() {
                    Ok(n) => body_len = n,
                    Err(_) => return self.refuse(Status::BadRequest),
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // No endpoint takes a body; a chunked one is not worth
                // decoding just to skip it.
                return self.refuse(Status::NotImplemented);
            }
        }
        let Some(request) = split_target(req.method.unwrap_or("GET"), req.path.unwrap_or(""))
        else {
            return self.refuse(Status::BadRequest);
        };
        let total = head_len.saturating_add(body_len);
        if total > MAX_REQUEST {
            return self.refuse(Status::PayloadTooLarge);
        }
        if self.rbuf.len() < total {
            return Parsed::Nothing; // the body is still on its way
        }
        self.rbuf.drain(..total);
        self.busy = true;
        self.responded = false;
        self.http10 = http10;
        self.keep_alive = keep_alive;
        self.head_only = request.method == "HEAD";
        Parsed::Request(request)
    }

    fn refuse(&mut self, status: Status) -> Parsed {
        self.rbuf.clear();
        self.busy = true;
        self.responded = false;
        self.http10 = false;
        self.keep_alive = false;
        self.head_only = false;
        Parsed::Refused(status)
    }

    /// Queue the response to the request taken last.
    pub fn respond(&mut self, response: Response, now: Instant, wall: SystemTime) {
        self.head = response.head(self.http10, self.keep_alive, response.body.len(), wall);
        self.body = if self.head_only {
            Vec::new()
        } else {
            response.body
        };
        self.written = 0;
        self.responded = true;
        self.deadline = now + WRITE_TIMEOUT;
    }

    /// Write what the socket takes.
    pub fn flush_to(&mut self, sink: &mut impl Write, now: Instant) -> io::Result<Flushed> {
        if !self.busy {
            return Ok(if self.peer_closed {
                Flushed::Done
            } else {
                Flushed::Idle
            });
        }
        if !self.responded {
            return Ok(Flushed::Waiting);
        }
        while self.written < self.head.len() + self.body.len() {
            let pending = if self.written < self.head.len() {
                &self.head[self.written..]
            } else {
                &self.body[self.written - self.head.len()..]
            };
            match sink.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.deadline = now + WRITE_TIMEOUT;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) => return Err(e),
            }
        }
        self.head = Vec::new();
        self.body = Vec::new();
        self.written = 0;
        self.busy = false;
        if !self.keep_alive || (self.peer_closed && self.rbuf.is_empty()) {
            return Ok(Flushed::Done);
        }
        self.deadline = now
            + if self.rbuf.is_empty() {
                IDLE_TIMEOUT
            } else {
                REQUEST_TIMEOUT
            };
        Ok(Flushed::Idle)
    }
}

/// Split a request target into its decoded path and raw query. Takes the
/// origin form (`/varz?x=1`) and the absolute form proxies send
/// (`http://host/varz`).
fn split_target(method: &str, target: &str) -> Option<Request> {
    let target = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => target,
    };
    if !target.starts_with('/') {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(Request {
        method: method.to_string(),
        path: super::query::unescape(path, false)?,
        query: query.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that has `0` to give, then would block.
    struct Socket<'a>(&'a [u8]);

    impl Read for Socket<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.0.read(buf)
        }
    }

    fn conn_with(bytes: &[u8]) -> HttpConn {
        let mut conn = HttpConn::new(Instant::now());
        conn.read_from(&mut Socket(bytes), Instant::now()).unwrap();
        conn
    }

    fn request(path: &str, query: &str) -> Parsed {
        Parsed::Request(Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
        })
    }

    fn answer(conn: &mut HttpConn, body: &str) -> (String, Flushed) {
        conn.respond(
            Response::ok(JSON, body.into()),
            Instant::now(),
            SystemTime::UNIX_EPOCH,
        );
        let mut out = Vec::new();
        let flushed = conn.flush_to(&mut out, Instant::now()).unwrap();
        (String::from_utf8(out).unwrap(), flushed)
    }

    #[test]
    fn pipelined_requests_are_answered_in_turn() {
        let mut conn =
            conn_with(b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\nGET /connz?limit=2 HTTP/1.1\r\n\r\n");
        assert_eq!(conn.next_request(), request("/varz", ""));
        assert_eq!(conn.next_request(), Parsed::Nothing, "one at a time");
        let mut out = Vec::new();
        assert_eq!(
            conn.flush_to(&mut out, Instant::now()).unwrap(),
            Flushed::Waiting
        );
        let (out, flushed) = answer(&mut conn, "{}");
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n\
             Content-Type: application/json\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             Content-Length: 2\r\n\r\n{}"
        );
        assert_eq!(flushed, Flushed::Idle);
        assert_eq!(conn.next_request(), request("/connz", "limit=2"));
    }

    #[test]
    fn connection_close_and_http10_end_the_connection() {
        let mut conn = conn_with(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(matches!(conn.next_request(), Parsed::Request(_)));
        let (out, flushed) = answer(&mut conn, "x");
        assert!(out.contains("Connection: close\r\n"));
        assert_eq!(flushed, Flushed::Done);

        let mut conn = conn_with(b"GET / HTTP/1.0\r\n\r\n");
        assert!(matches!(conn.next_request(), Parsed::Request(_)));
        let (out, flushed) = answer(&mut conn, "x");
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n"));
        assert_eq!(flushed, Flushed::Done);

        let mut conn = conn_with(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(matches!(conn.next_request(), Parsed::Request(_)));
        let (out, flushed) = answer(&mut conn, "x");
        assert!(out.contains("Connection: keep-alive\r\n"));
        assert_eq!(flushed, Flushed::Idle);
    }

    #[test]
    fn a_request_then_end_of_stream_is_answered_then_closed() {
        let mut conn = HttpConn::new(Instant::now());
        let mut input: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
        conn.read_from(&mut input, Instant::now()).unwrap();
        assert!(matches!(conn.next_request(), Parsed::Request(_)));
        let (out, flushed) = answer(&mut conn, "x");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(flushed, Flushed::Done);
    }

    #[test]
    fn head_gets_the_length_but_no_body() {
        let mut conn = conn_with(b"HEAD /healthz HTTP/1.1\r\n\r\n");
        assert!(matches!(conn.next_request(), Parsed::Request(_)));
        let (out, _) = answer(&mut conn, "{\"status\":\"ok\"}");
        assert!(out.ends_with("Content-Length: 15\r\n\r\n"), "{out}");
    }

    #[test]
    fn bodies_are_skipped_and_bounded() {
        let mut conn = conn_with(
            b"POST /varz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /x HTTP/1.1\r\n\r\n",
        );
        assert!(matches!(conn.next_request(), Parsed::Request(r) if r.method == "POST"));
        answer(&mut conn, "");
        assert_eq!(conn.next_request(), request("/x", ""));

        let mut conn = conn_with(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n");
        assert_eq!(
            conn.next_request(),
            Parsed::Refused(Status::PayloadTooLarge)
        );
    }

    #[test]
    fn malformed_and_oversized_requests_are_refused() {
        let mut conn = conn_with(b"GARBAGE\r\n\r\n");
        assert_eq!(conn.next_request(), Parsed::Refused(Status::BadRequest));
        let (out, flushed) = answer(&mut conn, "400 Bad Request");
        assert!(out.contains("Connection: close\r\n"));
        assert_eq!(flushed, Flushed::Done);
        assert_eq!(
            conn_with(b"GET varz HTTP/1.1\r\n\r\n").next_request(),
            Parsed::Refused(Status::BadRequest)
        );
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.resize(MAX_REQUEST + 100, b'a');
        assert_eq!(
            conn_with(&huge).next_request(),
            Parsed::Refused(Status::HeadersTooLarge)
        );
        assert_eq!(
            conn_with(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").next_request(),
            Parsed::Refused(Status::NotImplemented)
        );
    }

    #[test]
    fn targets_are_decoded() {
        assert_eq!(
            conn_with(b"GET /%76arz?a=%20 HTTP/1.1\r\n\r\n").next_request(),
            request("/varz", "a=%20")
        );
        assert_eq!(
            conn_with(b"GET http://h:8222/connz?x HTTP/1.1\r\n\r\n").next_request(),
            request("/connz", "x")
        );
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_391_310);
        assert_eq!(
            crate::go_format::http_date(t),
            "Sun, 22 Nov 2026 23:48:30 GMT"
        );
    }
}
