//! The client side of the WebSocket upgrade, for a leaf node remote at a
//! `ws://` or `wss://` URL (nats-server's `leafNodeSolicitWSConnection`):
//! `GET /leafnode` with a fresh key, the hub's 101 checked, then frames.
//!
//! natsd always asks for `Nats-No-Masking: true` (a hub then takes our
//! frames unmasked, as nats-server does when a remote sets
//! `ws_no_masking`), so it never masks what it writes; a hub that does not
//! agree is refused.

use std::io::{self, Read, Write};

use super::handshake::accept_key;
use super::Agreed;
use crate::core::closed::CloseReason;
use crate::core::TransportError;
use crate::net::transport::Transport;

/// The longest 101 response head taken.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// A connection to a hub between the dial and the 101.
pub struct WsClientUpgrade {
    pub inner: Transport,
    request: Vec<u8>,
    written: usize,
    expected_accept: String,
    response: Vec<u8>,
    compression: bool,
    max_payload: usize,
}

/// What a step of the upgrade came to.
pub enum Upgraded {
    /// Not yet: the socket has no more for now.
    Pending,
    /// The hub agreed: frames from now on, starting with these bytes that
    /// came after the response head.
    Done(Agreed, Vec<u8>),
}

impl WsClientUpgrade {
    /// The upgrade request for `host_port` (the URL's), at the URL's path
    /// with `/leafnode` after it; `key` is 16 random bytes.
    pub fn new(
        inner: Transport,
        host_port: &str,
        path: &str,
        key: [u8; 16],
        compression: bool,
        max_payload: usize,
    ) -> WsClientUpgrade {
        let key = data_encoding::BASE64.encode(&key);
        let path = path.trim_matches('/');
        let path = if path.is_empty() {
            "/leafnode".to_string()
        } else {
            format!("/{path}/leafnode")
        };
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host_port}\r\nUser-Agent: natsd\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"
        );
        if compression {
            request.push_str(
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                 client_no_context_takeover\r\n",
            );
        }
        request.push_str("Nats-No-Masking: true\r\n\r\n");
        WsClientUpgrade {
            inner,
            request: request.into_bytes(),
            written: 0,
            expected_accept: accept_key(&key),
            response: Vec::new(),
            compression,
            max_payload,
        }
    }

    /// Write what is left of the request, then read the response; once it
    /// is whole and right, the session (with whatever followed the head).
    pub fn advance(&mut self) -> io::Result<Upgraded> {
        if !self.write_request()? {
            return Ok(Upgraded::Pending);
        }
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(end) = find_head_end(&self.response) {
                let agreed = self.finish(end)?;
                return Ok(Upgraded::Done(agreed, self.response[end..].to_vec()));
            }
            if self.response.len() > MAX_RESPONSE_HEAD {
                return Err(refused("invalid websocket connection"));
            }
            match self.inner.read(&mut chunk) {
                Ok(0) => return Err(refused("invalid websocket connection: EOF")),
                Ok(n) => self.response.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Upgraded::Pending),
                Err(e) => return Err(e),
            }
        }
    }

    /// Write what the socket takes of the request; whether all of it is out.
    pub fn write_request(&mut self) -> io::Result<bool> {
        while self.written < self.request.len() {
            match self.inner.write(&self.request[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.inner.flush_held()?;
        Ok(true)
    }

    /// Output still waits: the request, or the TLS records under it.
    pub fn wants_write(&self) -> bool {
        self.written < self.request.len() || self.inner.wants_write()
    }

    fn finish(&mut self, head_end: usize) -> io::Result<Agreed> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response.parse(&self.response[..head_end]);
        if !matches!(parsed, Ok(httparse::Status::Complete(_))) || response.code != Some(101) {
            return Err(refused("invalid websocket connection"));
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                .unwrap_or_default()
        };
        if !header("Upgrade").eq_ignore_ascii_case("websocket")
            || !header("Connection").eq_ignore_ascii_case("upgrade")
            || header("Sec-WebSocket-Accept") != self.expected_accept
        {
            return Err(refused("invalid websocket connection"));
        }
        if header("Nats-No-Masking") != "true" {
            return Err(refused(
                "invalid websocket connection: the hub does not take unmasked frames",
            ));
        }
        let extensions = header("Sec-WebSocket-Extensions").to_ascii_lowercase();
        let compression = self.compression && extensions.contains("permessage-deflate");
        if compression
            && !(extensions.contains("server_no_context_takeover")
                && extensions.contains("client_no_context_takeover"))
        {
            return Err(refused("compression negotiation error"));
        }
        log::debug!("Leafnode compression={compression} masking=false");
        Ok(Agreed {
            compression,
            // The hub's frames are not masked.
            masked: false,
            browser: false,
            fragment_compressed: false,
            max_payload: self.max_payload,
        })
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn refused(text: &str) -> io::Error {
    TransportError::io_error(
        CloseReason::ReadError,
        format!("Error soliciting websocket connection: {text}"),
    )
}
