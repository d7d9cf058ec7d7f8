//! Monitoring over HTTP, served by the reactor: nats-server's endpoints
//! (`/varz`, `/connz`, `/subsz`, ...) with its JSON field names and query
//! options, and `/metrics` for Prometheus.
//!
//! Sans-IO like the core: the reactor owns the listener and the sockets and
//! hands [`Monitor`] a reader or a writer with the time. A request is
//! answered from a read-only look at the [`Core`]. Large answers (`/connz`
//! of thousands of connections) are copied out at once, sorted and paged,
//! then rendered a slice per reactor turn ([`Monitor::render`]) so message
//! traffic never waits on a scrape for long.

mod accounts;
mod connz;
mod http;
mod index;
mod json;
mod metrics;
mod peers;
mod process;
mod query;
mod subsz;
mod varz;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime};

use slab::Slab;

pub use self::http::Flushed;
use self::http::{HttpConn, Parsed, Request, Response, Status};
use self::json::JsonList;
use self::process::CpuSampler;
use self::query::Query;
use crate::core::Core;
use crate::go_format;
use crate::options::Options;

/// Monitoring connections served at once; more are refused with a 503.
pub const MAX_CONNECTIONS: usize = 64;
/// What a connection beyond [`MAX_CONNECTIONS`] is told before it is closed.
pub const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Content-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nConnection: close\r\n\r\n\
    too many connections";
/// Rendering work per reactor turn, across every response being made.
const RENDER_SLICE: Duration = Duration::from_micros(250);

/// The monitor's endpoints, by path under the base path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Root,
    Varz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Subsz,
    Accountz,
    Accstatz,
    Healthz,
    Metrics,
}

const ENDPOINTS: [(&str, Endpoint); 11] = [
    ("/varz", Endpoint::Varz),
    ("/connz", Endpoint::Connz),
    ("/routez", Endpoint::Routez),
    ("/gatewayz", Endpoint::Gatewayz),
    ("/leafz", Endpoint::Leafz),
    ("/subsz", Endpoint::Subsz),
    // nats-server's older name for /subsz.
    ("/subscriptionsz", Endpoint::Subsz),
    ("/accountz", Endpoint::Accountz),
    ("/accstatz", Endpoint::Accstatz),
    ("/healthz", Endpoint::Healthz),
    ("/metrics", Endpoint::Metrics),
];

impl Endpoint {
    /// The key nats-server counts requests under in `/varz`'s
    /// `http_req_stats`.
    fn stats_key(self) -> &'static str {
        match self {
            Endpoint::Root => "/",
            Endpoint::Subsz => "/subsz",
            other => ENDPOINTS
                .iter()
                .find(|(_, e)| *e == other)
                .map_or("/", |(path, _)| path),
        }
    }
}

/// What an endpoint handler sees: the core and the time of the request.
pub(crate) struct Context<'a> {
    pub core: &'a Core,
    pub now: Instant,
    pub wall: SystemTime,
}

impl Context<'_> {
    /// An instant of the core as Go marshals a `time.Time`.
    pub fn time(&self, at: Instant) -> String {
        go_format::rfc3339_nano(self.core.wall_clock().at(at))
    }

    /// The request's time, as Go marshals `time.Now().UTC()`.
    pub fn now_text(&self) -> String {
        go_format::rfc3339_nano(self.wall)
    }

    pub fn server_id(&self) -> &str {
        &self.core.info.server_id
    }
}

/// A body rendered over several reactor turns.
pub(crate) trait Incremental: Send {
    /// Render until done (true) or past `deadline`.
    fn render(&mut self, core: &Core, deadline: Instant) -> bool;
    fn finish(self: Box<Self>) -> Vec<u8>;
}

impl<T, U, F> Incremental for JsonList<T, F>
where
    T: Send,
    U: serde::Serialize,
    F: FnMut(&Core, T) -> U + Send,
{
    fn render(&mut self, core: &Core, deadline: Instant) -> bool {
        JsonList::render(self, core, deadline)
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        JsonList::finish(*self)
    }
}

/// An endpoint's answer: ready, or JSON still to be rendered.
pub(crate) enum Reply {
    Now(Response),
    Later(Box<dyn Incremental>),
}

impl Reply {
    fn json(body: Vec<u8>) -> Reply {
        Reply::Now(Response::ok(http::JSON, body))
    }
}

struct Client {
    http: HttpConn,
    /// The JSON being rendered for the request taken last.
    rendering: Option<Box<dyn Incremental>>,
    /// A read or write failed: close it.
    broken: bool,
}

/// The monitoring connections and what the endpoints keep between requests.
pub struct Monitor {
    clients: Slab<Client>,
    /// Keys of clients with a body being rendered.
    rendering: Vec<usize>,
    /// Every endpoint's path starts with this (empty, or `/prefix`).
    base_path: String,
    /// The port actually listened on (`-m -1` picks one).
    http_port: u16,
    /// Requests per endpoint (`/varz`'s `http_req_stats`).
    requests: BTreeMap<&'static str, u64>,
    cpu: CpuSampler,
}

impl Monitor {
    pub fn new(opts: &Options, http_port: u16, start: Instant) -> Monitor {
        Monitor {
            clients: Slab::new(),
            rendering: Vec::new(),
            base_path: normalize_base_path(&opts.http_base_path),
            http_port,
            requests: BTreeMap::new(),
            cpu: CpuSampler::new(start),
        }
    }

    /// A new connection: its key, or `None` when there are too many (the
    /// caller sends [`BUSY_RESPONSE`] and closes).
    pub fn accept(&mut self, now: Instant) -> Option<usize> {
        if self.clients.len() >= MAX_CONNECTIONS {
            return None;
        }
        Some(self.clients.insert(Client {
            http: HttpConn::new(now),
            rendering: None,
            broken: false,
        }))
    }

    pub fn contains(&self, key: usize) -> bool {
        self.clients.contains(key)
    }

    /// Read what `src` has and start answering the next request. Returns
    /// whether anything happened (bytes read or a request taken).
    pub fn receive(&mut self, key: usize, src: &mut impl Read, core: &Core, now: Instant) -> bool {
        let Some(client) = self.clients.get_mut(key) else {
            return false;
        };
        let read = match client.http.read_from(src, now) {
            Ok(n) => n,
            Err(_) => {
                client.broken = true;
                return true;
            }
        };
        self.serve_next(key, core, now) || read > 0
    }

    /// Write what connection `key` has for its peer. When a response is out
    /// and the next request is already buffered, that one is answered too.
    pub fn flush(
        &mut self,
        key: usize,
        sink: &mut impl Write,
        core: &Core,
        now: Instant,
    ) -> Flushed {
        loop {
            let Some(client) = self.clients.get_mut(key) else {
                return Flushed::Done;
            };
            if client.broken {
                return Flushed::Done;
            }
            match client.http.flush_to(sink, now) {
                Ok(Flushed::Idle) => {
                    if !self.serve_next(key, core, now) {
                        return Flushed::Idle;
                    }
                }
                Ok(flushed) => return flushed,
                Err(_) => return Flushed::Done,
            }
        }
    }

    /// Bodies are being rendered: the reactor should not sleep.
    pub fn is_rendering(&self) -> bool {
        !self.rendering.is_empty()
    }

    /// Render for a slice of this turn; the keys of the responses that
    /// became ready go to `ready`, to be flushed.
    pub fn render(&mut self, core: &Core, now: Instant, ready: &mut Vec<usize>) {
        let deadline = now + RENDER_SLICE;
        let wall = SystemTime::now();
        // First come, first rendered (at most MAX_CONNECTIONS of them).
        while let Some(&key) = self.rendering.first() {
            let Some(client) = self.clients.get_mut(key) else {
                self.rendering.remove(0);
                continue;
            };
            let done = client
                .rendering
                .as_mut()
                .is_none_or(|body| body.render(core, deadline));
            if !done {
                break; // the slice is spent
            }
            if let Some(body) = client.rendering.take() {
                let response = Response::ok(http::JSON, body.finish());
                client.http.respond(response, Instant::now(), wall);
            }
            self.rendering.remove(0);
            ready.push(key);
        }
    }

    /// The nearest connection deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(|(_, c)| c.http.deadline).min()
    }

    /// The connections whose deadline has passed, into `out`.
    pub fn expired(&self, now: Instant, out: &mut Vec<usize>) {
        out.extend(
            self.clients
                .iter()
                .filter(|(_, c)| c.http.deadline <= now)
                .map(|(key, _)| key),
        );
    }

    /// Forget a closed connection.
    pub fn remove(&mut self, key: usize) {
        self.clients.try_remove(key);
        self.rendering.retain(|&k| k != key);
    }

    /// Take the next buffered request, if the connection is free to answer
    /// it, and answer it (or start rendering the answer).
    fn serve_next(&mut self, key: usize, core: &Core, now: Instant) -> bool {
        let Some(client) = self.clients.get_mut(key) else {
            return false;
        };
        let request = match client.http.next_request() {
            Parsed::Nothing => return false,
            Parsed::Request(request) => request,
            Parsed::Refused(status) => {
                let response = Response::error(status, status_text(status));
                client.http.respond(response, now, SystemTime::now());
                return true;
            }
        };
        let wall = SystemTime::now();
        let reply = self.answer(&request, core, now, wall);
        let Some(client) = self.clients.get_mut(key) else {
            return false;
        };
        match reply {
            Reply::Now(response) => client.http.respond(response, now, wall),
            Reply::Later(body) => {
                client.rendering = Some(body);
                self.rendering.push(key);
            }
        }
        true
    }

    fn answer(&mut self, request: &Request, core: &Core, now: Instant, wall: SystemTime) -> Reply {
        let Some(endpoint) = self.route(&request.path) else {
            return Reply::Now(Response::not_found());
        };
        *self.requests.entry(endpoint.stats_key()).or_default() += 1;
        let query = Query::parse(&request.query);
        let ctx = Context { core, now, wall };
        let answered = match endpoint {
            Endpoint::Root => Ok(index::page(&self.base_path)),
            Endpoint::Varz => {
                let process = varz::Process {
                    cpu: self.cpu.percent(now),
                    rss: process::rss_bytes(),
                };
                Ok(varz::varz(&ctx, self.http_port, &self.requests, process))
            }
            Endpoint::Connz => connz::connz(&ctx, &query),
            Endpoint::Routez => peers::routez(&ctx, &query),
            Endpoint::Gatewayz => Ok(peers::gatewayz(&ctx)),
            Endpoint::Leafz => peers::leafz(&ctx, &query),
            Endpoint::Subsz => subsz::subsz(&ctx, &query),
            Endpoint::Accountz => accounts::accountz(&ctx, &query),
            Endpoint::Accstatz => accounts::accstatz(&ctx, &query),
            Endpoint::Healthz => Ok(Reply::Now(Response::ok(
                http::JSON,
                br#"{"status":"ok"}"#.to_vec(),
            ))),
            Endpoint::Metrics => Ok(metrics::metrics(&ctx, process::rss_bytes())),
        };
        answered.unwrap_or_else(|text| Reply::Now(Response::error(Status::BadRequest, text)))
    }

    /// Which endpoint `path` names under the base path.
    fn route(&self, path: &str) -> Option<Endpoint> {
        let root = if self.base_path.is_empty() {
            "/"
        } else {
            &self.base_path
        };
        if path == root {
            return Some(Endpoint::Root);
        }
        let rest = path.strip_prefix(self.base_path.as_str())?;
        ENDPOINTS
            .iter()
            .find(|(p, _)| *p == rest)
            .map(|(_, endpoint)| *endpoint)
    }
}

/// Go's net/http text for a request it cannot serve.
fn status_text(status: Status) -> &'static str {
    match status {
        Status::HeadersTooLarge => "431 Request Header Fields Too Large",
        Status::PayloadTooLarge => "413 Request Entity Too Large",
        Status::NotImplemented => "501 Not Implemented",
        _ => "400 Bad Request",
    }
}

/// nats-server's `normalizeBasePath` (a leading `/`, `path.Clean`), with
/// the root as the empty prefix.
fn normalize_base_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.iter().map(|p| format!("/{p}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(base: &str) -> Monitor {
        let opts = Options {
            http_base_path: base.into(),
            ..Options::ephemeral()
        };
        Monitor::new(&opts, 8222, Instant::now())
    }

    #[test]
    fn base_paths_are_normalized_as_nats_server_does() {
        assert_eq!(normalize_base_path(""), "");
        assert_eq!(normalize_base_path("/"), "");
        assert_eq!(normalize_base_path("nats"), "/nats");
        assert_eq!(normalize_base_path("/a//b/"), "/a/b");
        assert_eq!(normalize_base_path("/a/../b/./c"), "/b/c");
    }

    #[test]
    fn routes_exact_paths_under_the_base() {
        let m = monitor("");
        assert_eq!(m.route("/"), Some(Endpoint::Root));
        assert_eq!(m.route("/varz"), Some(Endpoint::Varz));
        assert_eq!(m.route("/subscriptionsz"), Some(Endpoint::Subsz));
        assert_eq!(m.route("/varz/"), None);
        assert_eq!(m.route("/nope"), None);

        let m = monitor("/nats/");
        assert_eq!(m.route("/nats"), Some(Endpoint::Root));
        assert_eq!(m.route("/nats/connz"), Some(Endpoint::Connz));
        assert_eq!(m.route("/connz"), None);
        assert_eq!(m.route("/"), None);
    }

    #[test]
    fn connections_are_bounded_in_number_and_in_time() {
        let mut m = monitor("");
        let t0 = Instant::now();
        let keys: Vec<usize> = (0..MAX_CONNECTIONS)
            .map(|_| m.accept(t0).expect("room"))
            .collect();
        assert_eq!(m.accept(t0), None, "one too many");
        let mut expired = Vec::new();
        m.expired(t0 + Duration::from_secs(1), &mut expired);
        assert!(expired.is_empty());
        assert_eq!(m.next_deadline(), Some(t0 + http::REQUEST_TIMEOUT));
        m.expired(t0 + http::REQUEST_TIMEOUT, &mut expired);
        assert_eq!(expired, keys, "a silent connection is dropped");
        m.remove(keys[0]);
        assert!(m.accept(t0).is_some());
    }

    #[test]
    fn request_counts_use_nats_server_keys() {
        assert_eq!(Endpoint::Root.stats_key(), "/");
        assert_eq!(Endpoint::Subsz.stats_key(), "/subsz");
        assert_eq!(Endpoint::Accstatz.stats_key(), "/accstatz");
    }
}
