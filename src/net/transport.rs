//! How a client connection's bytes travel: the seam between the socket and
//! the core, which only ever sees plaintext NATS protocol.
//!
//! A transport is plain TCP, TLS (rustls, sans-IO over the mio socket), or
//! WebSocket over either, so that the reactor and the core stay as they
//! are: the core reads through [`Transport`] as an
//! `io::Read` and writes through it as an `io::Write`, and the reactor asks
//! it whether output is still waiting ([`Transport::wants_write`]) and
//! whether plaintext may be buffered beyond what the socket shows
//! ([`Transport::has_buffered_input`]).

use std::io::{self, Read, Write};

use mio::net::TcpStream;

/// The TLS session of a connection, boxed: a `ServerConnection` is large
/// and most builds serve plain clients.
#[cfg(feature = "tls")]
pub struct TlsSession {
    stream: TcpStream,
    /// A server session, or a client one (a leaf node remote we dialed).
    conn: Box<rustls::Connection>,
    /// The handshake came before the INFO (`handshake_first`).
    first: bool,
    /// The client's first byte was looked at (a probe that is not TLS).
    probed: bool,
}

/// How a TLS listener treats a new connection (the `tls {}` block's
/// `handshake_first` and the server's `allow_non_tls`).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct TlsStart {
    pub config: std::sync::Arc<rustls::ServerConfig>,
    /// Plaintext clients are welcome too: the first byte after the INFO
    /// says which (0x16 opens a TLS handshake).
    pub optional: bool,
    pub handshake_first: crate::options::HandshakeFirst,
}

pub enum Transport {
    Plain(TcpStream),
    /// Plain until the INFO it owes is written, then TLS (nats-server's
    /// "INFO then TLS"), or with `allow_non_tls` whatever the client's
    /// first byte says: see [`Transport::upgrade`].
    #[cfg(feature = "tls")]
    StartTls(TcpStream, TlsStart),
    /// `allow_non_tls`, after the INFO: TLS if the client's first byte
    /// opens a handshake, plain otherwise.
    #[cfg(feature = "tls")]
    Sniff(TcpStream, TlsStart),
    /// `handshake_first` with a fallback delay: TLS first if the client
    /// speaks within the delay; else [`Transport::fall_back`]. The INFO
    /// waits.
    #[cfg(feature = "tls")]
    AwaitTlsFirst(TcpStream, TlsStart),
    #[cfg(feature = "tls")]
    Tls(TlsSession),
    /// Only while [`Transport::upgrade`] moves the socket over.
    #[cfg(any(feature = "tls", feature = "websocket"))]
    Moving,
    /// WebSocket frames over plain TCP or TLS, after the HTTP upgrade.
    #[cfg(feature = "websocket")]
    WebSocket(Box<super::websocket::WsSession>),
    /// A leaf node remote's WebSocket upgrade, as the client: nothing for
    /// the core until the hub's 101 (see `websocket/client.rs`).
    #[cfg(feature = "websocket")]
    WsClient(Box<super::websocket::client::WsClientUpgrade>),
}

impl Transport {
    /// The socket, for registering with the poll and for closing.
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            Transport::StartTls(stream, _)
            | Transport::Sniff(stream, _)
            | Transport::AwaitTlsFirst(stream, _) => stream,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => &mut tls.stream,
            #[cfg(any(feature = "tls", feature = "websocket"))]
            Transport::Moving => unreachable!("a transport is never left moving"),
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.inner.socket(),
            #[cfg(feature = "websocket")]
            Transport::WsClient(up) => up.inner.socket(),
        }
    }

    /// A TLS session that starts with the handshake (WebSocket over TLS:
    /// the handshake comes before any HTTP; `handshake_first`: before the
    /// INFO, which rustls holds until the handshake is done).
    #[cfg(feature = "tls")]
    pub fn tls_first(
        stream: TcpStream,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<Transport> {
        let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Transport::Tls(TlsSession {
            stream,
            conn: Box::new(conn.into()),
            first: true,
            probed: false,
        }))
    }

    /// A leaf node remote's WebSocket upgrade on this connection (after
    /// its TLS client, for `wss://`).
    #[cfg(feature = "websocket")]
    pub fn start_ws_client(
        &mut self,
        host_port: &str,
        path: &str,
        compression: bool,
        max_payload: usize,
    ) -> io::Result<()> {
        use ring::rand::SecureRandom;
        let mut key = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| io::Error::other("no random key"))?;
        let inner = std::mem::replace(self, Transport::Moving);
        let mut upgrade = super::websocket::client::WsClientUpgrade::new(
            inner,
            host_port,
            path,
            key,
            compression,
            max_payload,
        );
        let written = upgrade.write_request();
        *self = Transport::WsClient(Box::new(upgrade));
        written.map(|_| ())
    }

    /// The client side of TLS on a plain connection we dialed (a leaf node
    /// remote, after the hub's INFO asked for it): rustls's ClientHello
    /// waits to be flushed.
    #[cfg(feature = "tls")]
    pub fn start_tls_client(
        &mut self,
        config: std::sync::Arc<rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> io::Result<()> {
        let conn = rustls::ClientConnection::new(config, server_name).map_err(io::Error::other)?;
        match std::mem::replace(self, Transport::Moving) {
            Transport::Plain(stream) => {
                *self = Transport::Tls(TlsSession {
                    stream,
                    conn: Box::new(conn.into()),
                    first: false,
                    // The server's first bytes need no probe.
                    probed: true,
                });
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::other("TLS on a connection that is not plain"))
            }
        }
    }

    /// A new client on a TLS listener, as its settings want it served.
    #[cfg(feature = "tls")]
    pub fn for_tls_listener(stream: TcpStream, start: &TlsStart) -> io::Result<Transport> {
        use crate::options::HandshakeFirst;
        match start.handshake_first {
            HandshakeFirst::Off => Ok(Transport::StartTls(stream, start.clone())),
            HandshakeFirst::On => Transport::tls_first(stream, start.config.clone()),
            HandshakeFirst::Fallback(_) => Ok(Transport::AwaitTlsFirst(stream, start.clone())),
        }
    }

    /// The fallback delay of `handshake_first` passed in silence: the
    /// client gets its INFO in clear, as without `handshake_first`.
    pub fn fall_back(&mut self) {
        #[cfg(feature = "tls")]
        if let Transport::AwaitTlsFirst(..) = self {
            if let Transport::AwaitTlsFirst(stream, start) =
                std::mem::replace(self, Transport::Moving)
            {
                *self = Transport::StartTls(stream, start);
            }
        }
    }

    /// Waiting to see whether the client opens with TLS (`handshake_first`
    /// with a fallback delay).
    pub fn awaits_tls_first(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Transport::AwaitTlsFirst(..) = self {
            return true;
        }
        false
    }

    /// Output the transport holds after the core's bytes were taken (TLS
    /// records, WebSocket frames not yet on the socket). Plain TCP holds
    /// none.
    pub fn wants_write(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.conn.wants_write(),
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.wants_write(),
            #[cfg(feature = "websocket")]
            Transport::WsClient(up) => up.wants_write(),
            _ => false,
        }
    }

    /// Plaintext already decrypted or decoded but not yet read by the core:
    /// a short read then does not mean the socket is empty.
    pub fn has_buffered_input(&self) -> bool {
        match self {
            // rustls may hold decrypted records the last read left.
            #[cfg(feature = "tls")]
            Transport::Tls(_) => true,
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.has_buffered_input(),
            _ => false,
        }
    }

    /// The INFO must go out in clear before the transport changes (TLS
    /// after the INFO, or `allow_non_tls`'s sniff).
    pub fn owes_upgrade(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Transport::StartTls(..) = self {
            return true;
        }
        false
    }

    /// A TLS handshake is under way (or owed, after the INFO).
    pub fn is_handshaking(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Transport::StartTls(_, start) => !start.optional,
            #[cfg(feature = "tls")]
            Transport::AwaitTlsFirst(..) => true,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.conn.is_handshaking(),
            #[cfg(feature = "websocket")]
            Transport::WsClient(up) => up.inner.is_handshaking(),
            _ => false,
        }
    }

    /// The completed TLS handshake: version, Go's name of the cipher
    /// suite, whether it came first, the client's certificates.
    pub fn negotiated(&self) -> Option<crate::core::TlsHandshake> {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
                let version = match tls.conn.protocol_version()? {
                    rustls::ProtocolVersion::TLSv1_3 => "1.3",
                    rustls::ProtocolVersion::TLSv1_2 => "1.2",
                    _ => "Unknown",
                };
                let suite = tls.conn.negotiated_cipher_suite()?;
                Some(crate::core::TlsHandshake {
                    version,
                    cipher_suite: super::tls::go_suite_name(suite),
                    first: tls.first,
                    peer_certs: tls
                        .conn
                        .peer_certificates()
                        .unwrap_or_default()
                        .iter()
                        .map(|c| c.as_ref().to_vec())
                        .collect(),
                })
            }
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.inner.negotiated(),
            #[cfg(feature = "websocket")]
            Transport::WsClient(up) => up.inner.negotiated(),
            _ => None,
        }
    }

    /// Once the INFO is out, a connection that owes a TLS handshake starts
    /// it: what comes next on the socket is the client's ClientHello.
    pub fn upgrade(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Transport::StartTls(_, start) = self {
            if start.optional {
                if let Transport::StartTls(stream, start) =
                    std::mem::replace(self, Transport::Moving)
                {
                    *self = Transport::Sniff(stream, start);
                }
                return Ok(());
            }
            self.start_tls(false)?;
        }
        Ok(())
    }

    /// Become a TLS session on the same socket; nothing is lost.
    #[cfg(feature = "tls")]
    fn start_tls(&mut self, first: bool) -> io::Result<()> {
        let config = match self {
            Transport::StartTls(_, start)
            | Transport::Sniff(_, start)
            | Transport::AwaitTlsFirst(_, start) => start.config.clone(),
            _ => return Ok(()),
        };
        let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        // Move the socket over; nothing can fail between the two.
        match std::mem::replace(self, Transport::Moving) {
            Transport::StartTls(stream, _)
            | Transport::Sniff(stream, _)
            | Transport::AwaitTlsFirst(stream, _) => {
                *self = Transport::Tls(TlsSession {
                    stream,
                    conn: Box::new(conn.into()),
                    first,
                    probed: false,
                });
            }
            other => *self = other,
        }
        Ok(())
    }

    /// `allow_non_tls` and `handshake_first`'s delay: the client's first
    /// byte decides, peeked so that it is still read after.
    #[cfg(feature = "tls")]
    fn decide_by_first_byte(&mut self) -> io::Result<()> {
        let mut first = [0u8; 1];
        let n = self.socket().peek(&mut first)?;
        match self {
            Transport::AwaitTlsFirst(..) if n > 0 => self.start_tls(true),
            Transport::Sniff(..) if n > 0 && first[0] == 0x16 => self.start_tls(false),
            Transport::Sniff(..) => {
                if let Transport::Sniff(stream, _) = std::mem::replace(self, Transport::Moving) {
                    *self = Transport::Plain(stream);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Write what the transport still holds (TLS records, WebSocket
    /// frames) to the socket.
    pub fn flush_held(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
                while tls.conn.wants_write() {
                    tls.conn.write_tls(&mut tls.stream)?;
                }
            }
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.flush_held()?,
            #[cfg(feature = "websocket")]
            Transport::WsClient(up) => {
                up.write_request()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Say goodbye as the transport does (TLS: close_notify; WebSocket: a
    /// close frame with the status and text nats-server gives `reason`).
    pub fn close(&mut self, reason: Option<crate::core::closed::CloseReason>) {
        let _ = reason;
        match self {
            // A handshake cut short closes in silence, as nats-server's.
            #[cfg(feature = "tls")]
            Transport::Tls(tls) if !tls.conn.is_handshaking() => {
                tls.conn.send_close_notify();
                let _ = self.flush_held();
            }
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.close(reason),
            _ => {}
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if matches!(self, Transport::Sniff(..) | Transport::AwaitTlsFirst(..)) {
            self.decide_by_first_byte()?;
        }
        #[cfg(feature = "websocket")]
        if let Transport::WsClient(up) = self {
            use super::websocket::client::Upgraded;
            return match up.advance()? {
                Upgraded::Pending => Err(io::ErrorKind::WouldBlock.into()),
                Upgraded::Done(agreed, leftover) => {
                    if let Transport::WsClient(up) = std::mem::replace(self, Transport::Moving) {
                        let session = super::websocket::WsSession::new(up.inner, agreed);
                        *self = Transport::WebSocket(Box::new(session.with_input(leftover)));
                    }
                    // Read again: frames now.
                    Err(io::ErrorKind::Interrupted.into())
                }
            };
        }
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.read(buf),
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.read(buf),
            _ => self.socket().read(buf),
        }
    }
}

#[cfg(feature = "tls")]
impl TlsSession {
    /// Plaintext for the core: what rustls holds decrypted, else records
    /// read from the socket (answering the handshake as it goes).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use crate::core::closed::CloseReason::{ReadError, TlsHandshakeFailure};
        use crate::core::TransportError;
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let handshaking = self.conn.is_handshaking();
            if !self.probed {
                // nats-server logs a first record that is not TLS (a
                // plaintext client, a load balancer's probe) at debug level.
                let mut first = [0u8; 1];
                if self.stream.peek(&mut first)? == 1 {
                    self.probed = true;
                    if first[0] != 0x16 {
                        return Err(TransportError::at(
                            Some(log::Level::Debug),
                            TlsHandshakeFailure,
                            "TLS handshake error: tls: first record does not look like a TLS handshake",
                        ));
                    }
                }
            }
            if self.conn.read_tls(&mut self.stream)? == 0 {
                if handshaking {
                    return Err(TransportError::io_error(
                        TlsHandshakeFailure,
                        "TLS handshake error: EOF",
                    ));
                }
                return Ok(0);
            }
            if let Err(e) = self.conn.process_new_packets() {
                // The alert goes out before the close.
                let _ = self.conn.write_tls(&mut self.stream);
                if !handshaking {
                    // After the handshake, a read error: closed quietly.
                    return Err(TransportError::at(None, ReadError, e.to_string()));
                }
                return Err(TransportError::io_error(
                    TlsHandshakeFailure,
                    format!("TLS handshake error: {e}"),
                ));
            }
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut self.stream) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if handshaking && !self.conn.is_handshaking() {
                // The handshake just completed: the caller learns of it
                // (pinned certificates, the certificate's user) before any
                // plaintext that came with the last flight reaches the
                // protocol. `Interrupted` asks it to read again.
                return Err(io::ErrorKind::Interrupted.into());
            }
        }
    }

    /// Plaintext from the core, encrypted into records as far as rustls
    /// buffers them, and as much as the socket takes written.
    fn write(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.conn.writer().write_vectored(bufs)?;
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.stream) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // The INFO waits until the client has shown how it starts.
            #[cfg(feature = "tls")]
            Transport::AwaitTlsFirst(..) => Err(io::ErrorKind::WouldBlock.into()),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.write(&[io::IoSlice::new(buf)]),
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.write_vectored(&[io::IoSlice::new(buf)]),
            // Nothing of the core's goes before the 101.
            #[cfg(feature = "websocket")]
            Transport::WsClient(_) => Err(io::ErrorKind::WouldBlock.into()),
            _ => self.socket().write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            #[cfg(feature = "tls")]
            Transport::AwaitTlsFirst(..) => Err(io::ErrorKind::WouldBlock.into()),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.write(bufs),
            #[cfg(feature = "websocket")]
            Transport::WebSocket(ws) => ws.write_vectored(bufs),
            #[cfg(feature = "websocket")]
            Transport::WsClient(_) => Err(io::ErrorKind::WouldBlock.into()),
            _ => self.socket().write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_held()?;
        self.socket().flush()
    }
}
