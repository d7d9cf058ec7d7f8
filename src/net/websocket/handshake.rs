//! The HTTP/1.1 upgrade that opens a WebSocket connection, as nats-server
//! answers it (`wsUpgrade`): the same checks in the same order, the same
//! 101 bytes, the same error responses and log reasons. Sans-IO: it reads
//! a complete request head and returns what to write and what was agreed.
//! The head is bounded by the reactor (size and time) before it gets here.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::options::WebsocketOptions;

/// RFC 6455's GUID for `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The most headers a request may have (a browser sends about 15).
const MAX_HEADERS: usize = 100;

/// The upgrade's settings, prepared once from the `websocket {}` block.
pub struct Settings {
    compression: bool,
    same_origin: bool,
    /// `allowed_origins` as (lower-case host, scheme, port).
    allowed_origins: Vec<(String, String, String)>,
    /// The listener serves TLS (`wss://`).
    tls: bool,
    jwt_cookie: Option<String>,
    user_cookie: Option<String>,
    pass_cookie: Option<String>,
    token_cookie: Option<String>,
    /// The configured extra response headers, as `Key: Value\r\n` lines.
    extra_headers: String,
}

impl Settings {
    pub fn new(ws: &WebsocketOptions) -> Settings {
        let allowed_origins = ws
            .allowed_origins
            .iter()
            .filter_map(|origin| {
                let url = parse_origin(origin).ok()?;
                let (host, port) = host_and_port(url.scheme == "https", url.host).ok()?;
                Some((host, url.scheme.to_string(), port))
            })
            .collect();
        Settings {
            compression: ws.compression,
            same_origin: ws.same_origin,
            allowed_origins,
            tls: ws.tls.is_some(),
            jwt_cookie: ws.jwt_cookie.clone(),
            user_cookie: ws.user_cookie.clone(),
            pass_cookie: ws.pass_cookie.clone(),
            token_cookie: ws.token_cookie.clone(),
            extra_headers: ws
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .collect(),
        }
    }
}

/// Credentials a browser sent as cookies, used when its CONNECT has none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cookies {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

/// An accepted upgrade: the 101 to write and what it agreed.
#[derive(Debug)]
pub struct Accepted {
    pub response: Vec<u8>,
    pub compression: bool,
    /// `Nats-No-Masking: true`: client frames come unmasked.
    pub no_masking: bool,
    /// A browser (`User-Agent: Mozilla/...`): frames of at most 4 KiB.
    pub browser: bool,
    /// Safari: compressed messages are not fragmented.
    pub no_compressed_fragments: bool,
    /// `X-Forwarded-For`, for the connection's log prefix only.
    pub forwarded_ip: Option<IpAddr>,
    pub cookies: Cookies,
    /// The path ends in `/leafnode`: a leaf node, not a client.
    pub leaf: bool,
}

/// A refused upgrade: the response to write (maybe none) and, when
/// nats-server logs one, the reason after `websocket handshake error: `.
#[derive(Debug)]
pub struct Refused {
    pub response: Vec<u8>,
    pub reason: Option<String>,
}

/// Where the request head ends, if it is all in (`\r\n\r\n`).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    memchr::memmem::find(buf, b"\r\n\r\n").map(|at| at + 4)
}

/// Go's `net/http` answer to a request head over its size limit.
pub fn too_large() -> Vec<u8> {
    go_http_error("431 Request Header Fields Too Large")
}

/// Answer the request head `head` (complete, nothing after it).
pub fn upgrade(head: &[u8], settings: &Settings, now: SystemTime) -> Result<Accepted, Refused> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        // What net/http answers before any handler runs; nothing logged.
        _ => return Err(silent(go_http_error("400 Bad Request"))),
    }
    let version = request.version.unwrap_or(1);
    let path = request.path.unwrap_or("/");
    let headers = Headers(request.headers);
    let host = headers.first("Host");
    if version == 1 && host.is_none() {
        return Err(silent(go_http_error(
            "400 Bad Request: missing required Host header",
        )));
    }
    let path = path.split('?').next().unwrap_or("");
    let leaf = path.ends_with("/leafnode");
    if path.ends_with("/mqtt") {
        return Err(refuse(
            version,
            404,
            "mqtt websocket endpoint not enabled",
            now,
        ));
    }
    if request.method != Some("GET") {
        return Err(refuse(version, 405, "request method must be GET", now));
    }
    let host = host.unwrap_or("");
    if host.is_empty() {
        return Err(refuse(version, 400, "'Host' missing in request", now));
    }
    if !headers.contains("Upgrade", "websocket") {
        return Err(refuse(
            version,
            400,
            "invalid value for header 'Upgrade'",
            now,
        ));
    }
    if !headers.contains("Connection", "Upgrade") {
        return Err(refuse(
            version,
            400,
            "invalid value for header 'Connection'",
            now,
        ));
    }
    let key = headers.first("Sec-Websocket-Key").unwrap_or("");
    if key.is_empty() {
        return Err(refuse(version, 400, "key missing", now));
    }
    let key_ok = data_encoding::BASE64
        .decode(key.as_bytes())
        .is_ok_and(|k| k.len() == 16);
    if !key_ok {
        return Err(refuse(version, 400, "invalid websocket key", now));
    }
    if !headers.contains("Sec-Websocket-Version", "13") {
        return Err(refuse(version, 400, "invalid version", now));
    }
    if let Err(why) = check_origin(&headers, host, settings) {
        return Err(refuse(
            version,
            403,
            &format!("origin not allowed: {why}"),
            now,
        ));
    }

    let compression = settings.compression && headers.offers_deflate();
    let no_masking = headers.first("Nats-No-Masking") == Some("true");
    let mut response = Vec::with_capacity(256);
    response.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    response.extend_from_slice(accept_key(key).as_bytes());
    response.extend_from_slice(b"\r\n");
    if compression {
        response.extend_from_slice(b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    }
    if no_masking {
        response.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    response.extend_from_slice(settings.extra_headers.as_bytes());
    response.extend_from_slice(b"\r\n");

    let agent = headers.first("User-Agent").unwrap_or("");
    let browser = !leaf && agent.starts_with("Mozilla/");
    Ok(Accepted {
        response,
        compression,
        no_masking,
        browser,
        no_compressed_fragments: browser
            && compression
            && agent.contains("Version/")
            && agent.contains("Safari/"),
        forwarded_ip: headers
            .first("X-Forwarded-For")
            .and_then(|ip| ip.parse().ok()),
        cookies: if leaf {
            Cookies::default()
        } else {
            headers.cookies(settings)
        },
        leaf,
    })
}

/// `Sec-WebSocket-Accept` for `key` as the client sent it.
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(ACCEPT_GUID.as_bytes());
    data_encoding::BASE64.encode(ctx.finish().as_ref())
}

fn silent(response: Vec<u8>) -> Refused {
    Refused {
        response,
        reason: None,
    }
}

/// nats-server's `wsReturnHTTPError`: the status text to the client (in
/// the request's HTTP version, as Go's net/http answers), the reason only
/// to the log.
fn refuse(version: u8, status: u16, reason: &str, now: SystemTime) -> Refused {
    let text = match status {
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let body = format!("{text}\n");
    let response = format!(
        "HTTP/1.{version} {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n\
         Date: {}\r\nContent-Length: {}\r\n\r\n{body}",
        crate::go_format::http_date(now),
        body.len()
    );
    Refused {
        response: response.into_bytes(),
        reason: Some(reason.to_string()),
    }
}

/// Go's `net/http` error before a handler: status line, fixed headers, the
/// status as the body.
fn go_http_error(status: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{status}"
    )
    .into_bytes()
}

struct Headers<'h, 'b>(&'h [httparse::Header<'b>]);

impl Headers<'_, '_> {
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
    }

    /// Go's `Header.Get`: the first line, trimmed.
    fn first<'s>(&'s self, name: &'s str) -> Option<&'s str> {
        self.all(name).next().map(|v| v.trim_matches([' ', '\t']))
    }

    /// Go's `wsHeaderContains`: any comma-separated token of any line.
    fn contains(&self, name: &str, token: &str) -> bool {
        self.all(name).any(|line| {
            line.split(',')
                .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
        })
    }

    /// Go's `wsPMCExtensionSupport`: some extension offered is
    /// permessage-deflate (its parameters are not looked at).
    fn offers_deflate(&self) -> bool {
        self.all("Sec-WebSocket-Extensions").any(|line| {
            line.split(',').any(|ext| {
                ext.split(';').any(|t| {
                    t.trim_matches([' ', '\t'])
                        .eq_ignore_ascii_case("permessage-deflate")
                })
            })
        })
    }

    /// The cookies nats-server reads credentials from (the last of a name
    /// wins, as in its loop over `r.Cookies()`).
    fn cookies(&self, settings: &Settings) -> Cookies {
        let mut found = Cookies::default();
        for line in self.all("Cookie") {
            for pair in line.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
                    .to_string();
                let slot = if settings.jwt_cookie.as_deref() == Some(name) {
                    &mut found.jwt
                } else if settings.user_cookie.as_deref() == Some(name) {
                    &mut found.user
                } else if settings.pass_cookie.as_deref() == Some(name) {
                    &mut found.pass
                } else if settings.token_cookie.as_deref() == Some(name) {
                    &mut found.token
                } else {
                    continue;
                };
                *slot = Some(value);
            }
        }
        found
    }
}

/// nats-server's `checkOrigin`.
fn check_origin(headers: &Headers<'_, '_>, host: &str, settings: &Settings) -> Result<(), String> {
    if !settings.same_origin && settings.allowed_origins.is_empty() {
        return Ok(());
    }
    let origin = headers
        .first("Origin")
        .or_else(|| headers.first("Sec-Websocket-Origin"));
    let Some(origin) = origin.filter(|o| !o.is_empty()) else {
        // Not a browser: nothing to check.
        return Ok(());
    };
    let url = parse_origin(origin)?;
    let (origin_host, origin_port) = host_and_port(url.scheme == "https", url.host)?;
    if settings.same_origin {
        let (request_host, request_port) = host_and_port(settings.tls, host)?;
        let request_scheme = if settings.tls { "https" } else { "http" };
        if !origin_host.eq_ignore_ascii_case(&request_host)
            || origin_port != request_port
            || !url.scheme.eq_ignore_ascii_case(request_scheme)
        {
            return Err("not same origin".into());
        }
    }
    if !settings.allowed_origins.is_empty()
        && !settings
            .allowed_origins
            .iter()
            .any(|(h, s, p)| *h == origin_host && *s == url.scheme && *p == origin_port)
    {
        return Err("not in the allowed list".into());
    }
    Ok(())
}

pub struct OriginUrl<'a> {
    pub scheme: String,
    pub host: &'a str,
}

/// Enough of Go's `url.ParseRequestURI` for an origin: `scheme://host...`.
pub fn parse_origin(origin: &str) -> Result<OriginUrl<'_>, String> {
    let invalid = || format!("parse {origin:?}: invalid URI for request");
    let (scheme, rest) = origin.split_once("://").ok_or_else(invalid)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(invalid());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Ok(OriginUrl {
        scheme: scheme.to_ascii_lowercase(),
        host,
    })
}

/// Go's `wsGetHostAndPort`: host lower-cased, the scheme's port when none.
pub fn host_and_port(tls: bool, host_port: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {host_port}: missing ']' in address"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port,
            None if after.is_empty() => default_port,
            None => return Err(format!("address {host_port}: missing port in address")),
        };
        return Ok((host.to_lowercase(), port.to_string()));
    }
    match host_port.matches(':').count() {
        0 => Ok((host_port.to_lowercase(), default_port.to_string())),
        1 => {
            let (host, port) = host_port.split_once(':').expect("one colon");
            Ok((host.to_lowercase(), port.to_string()))
        }
        _ => Err(format!("address {host_port}: too many colons in address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut WebsocketOptions)) -> Settings {
        let mut ws = WebsocketOptions::default();
        f(&mut ws);
        Settings::new(&ws)
    }

    const GOOD: &str = "GET /nats HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n";

    const GOOD_REQUEST: &str =
        "GET /nats HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn request(extra: &str) -> Vec<u8> {
        format!("{GOOD}{extra}\r\n").into_bytes()
    }

    fn reason(head: &str, s: &Settings) -> String {
        match upgrade(head.as_bytes(), s, SystemTime::UNIX_EPOCH) {
            Ok(_) => "accepted".into(),
            Err(r) => r.reason.unwrap_or_else(|| "silent".into()),
        }
    }

    #[test]
    fn accepts_with_rfc_6455_s_example_key() {
        let ok = upgrade(&request(""), &settings(|_| {}), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            ok.response,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert!(!ok.compression && !ok.no_masking && !ok.browser && !ok.leaf);
    }

    #[test]
    fn refuses_in_go_s_order_and_words() {
        let s = settings(|_| {});
        let swap = |from: &str, to: &str| format!("{}\r\n", GOOD.replacen(from, to, 1));
        assert_eq!(
            reason(&swap("GET", "POST"), &s),
            "request method must be GET"
        );
        assert_eq!(
            reason(&swap("websocket", "h2c"), &s),
            "invalid value for header 'Upgrade'"
        );
        assert_eq!(
            reason(&swap("Connection: Upgrade", "Connection: close"), &s),
            "invalid value for header 'Connection'"
        );
        assert_eq!(
            reason(
                &swap("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                &s
            ),
            "key missing"
        );
        assert_eq!(
            reason(&swap("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), &s),
            "invalid websocket key"
        );
        assert_eq!(
            reason(&swap("Version: 13", "Version: 8"), &s),
            "invalid version"
        );
        assert_eq!(
            reason(&swap("/nats", "/mqtt"), &s),
            "mqtt websocket endpoint not enabled"
        );
        assert_eq!(reason(&swap("Host: localhost:8080\r\n", ""), &s), "silent");
        assert_eq!(reason("NOT HTTP\r\n\r\n", &s), "silent");
        let refused =
            upgrade(swap("GET", "PUT").as_bytes(), &s, SystemTime::UNIX_EPOCH).unwrap_err();
        let text = String::from_utf8(refused.response).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Content-Length: 19\r\n\r\nMethod Not Allowed\n"),
            "{text}"
        );
    }

    #[test]
    fn origins_as_go_checks_them() {
        let s = settings(|ws| {
            ws.allowed_origins = vec!["http://host1.com".into(), "http://host2.com:1234".into()]
        });
        let with = |origin: &str| reason(&format!("{GOOD}Origin: {origin}\r\n\r\n"), &s);
        assert_eq!(with("http://host1.com/some/path"), "accepted");
        assert_eq!(with("http://host2.com:1234"), "accepted");
        assert_eq!(
            with("http://host1.com:1234"),
            "origin not allowed: not in the allowed list"
        );
        assert_eq!(
            with("https://host2.com:1234"),
            "origin not allowed: not in the allowed list"
        );
        assert_eq!(
            with("null"),
            "origin not allowed: parse \"null\": invalid URI for request"
        );
        assert_eq!(reason(GOOD_REQUEST, &s), "accepted");
        let same = settings(|ws| ws.same_origin = true);
        let with = |origin: &str| reason(&format!("{GOOD}Origin: {origin}\r\n\r\n"), &same);
        assert_eq!(with("http://localhost:8080"), "accepted");
        assert_eq!(
            with("http://localhost:8081"),
            "origin not allowed: not same origin"
        );
    }

    #[test]
    fn negotiates_deflate_no_masking_cookies_and_browsers() {
        let s = settings(|ws| {
            ws.compression = true;
            ws.jwt_cookie = Some("jwt".into());
            ws.token_cookie = Some("tok".into());
        });
        let ok = upgrade(
            &request(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
                 Nats-No-Masking: true\r\nUser-Agent: Mozilla/5.0 Version/17 Safari/605\r\n\
                 Cookie: a=b; jwt=\"eyJ\"; tok=1\r\nCookie: tok=2\r\nX-Forwarded-For: 10.0.0.1\r\n",
            ),
            &s,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        let text = String::from_utf8(ok.response).unwrap();
        assert!(text.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\nNats-No-Masking: true\r\n\r\n"));
        assert!(ok.compression && ok.no_masking && ok.browser && ok.no_compressed_fragments);
        assert_eq!(ok.cookies.jwt.as_deref(), Some("eyJ"));
        assert_eq!(ok.cookies.token.as_deref(), Some("2"));
        assert_eq!(ok.forwarded_ip, Some("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn host_and_port_as_go_splits_them() {
        assert_eq!(
            host_and_port(false, "Host.com").unwrap(),
            ("host.com".into(), "80".into())
        );
        assert_eq!(
            host_and_port(true, "[::1]").unwrap(),
            ("::1".into(), "443".into())
        );
        assert_eq!(
            host_and_port(false, "a:1").unwrap(),
            ("a".into(), "1".into())
        );
        assert!(host_and_port(false, "a:b:c").is_err());
    }
}
