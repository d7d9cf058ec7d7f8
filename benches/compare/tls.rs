//! The load generator's TLS client: rustls (on ring) over the blocking
//! socket, as a NATS client does it: `INFO` in clear, then the handshake,
//! then the protocol inside TLS records.
//!
//! rustls's `read_tls` on a socket reads at most about a record (16 KiB)
//! per call; this client reads the socket in the connection's large
//! chunks and hands them to rustls from memory, so a subscriber pays for
//! decryption, not for syscalls.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::client::{Context, Res};

static CLIENT_CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// The configuration of every TLS client from now on: trust `ca_der` (the
/// CA made at the start of the run) and nothing else.
pub fn trust(ca_der: &[u8]) -> Res<()> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| format!("trust the bench's CA: {e}"))?;
    #[allow(deprecated)] // later 0.23s point to a post-quantum provider
    let mut provider = rustls::crypto::ring::default_provider();
    // AES-128-GCM first, as Go's clients have it. Both servers choose it
    // anyway (Go's crypto/tls by its own order on AES hardware, natsd by
    // the same order, the client's ignored): they do the same crypto.
    provider
        .cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A second run in the same process would trust the same CA anyway.
    let _ = CLIENT_CONFIG.set(Arc::new(config));
    Ok(())
}

/// A client connection inside TLS.
pub struct TlsStream {
    tls: ClientConnection,
    sock: TcpStream,
    /// Ciphertext read from the socket and not yet given to rustls:
    /// `raw[at..end]`.
    raw: Vec<u8>,
    at: usize,
    end: usize,
}

/// Connects, reads the server's `INFO` in clear and makes the handshake
/// (the socket's timeouts bound each step). `read_buffer` is how much
/// ciphertext one socket read may take.
pub fn connect(
    addr: SocketAddr,
    read_buffer: usize,
    setup: impl FnOnce(&TcpStream) -> Res<()>,
) -> Res<TlsStream> {
    let config = CLIENT_CONFIG
        .get()
        .ok_or("no TLS client configuration (the certificates were not made)")?;
    let mut sock = TcpStream::connect(addr).context("connect")?;
    setup(&sock)?;
    read_info_in_clear(&mut sock)?;
    let name = ServerName::from(addr.ip());
    let mut tls =
        ClientConnection::new(Arc::clone(config), name).map_err(|e| format!("TLS client: {e}"))?;
    // A ciphertext batch is written in one go, not 64 KiB at a time.
    tls.set_buffer_limit(None);
    while tls.is_handshaking() {
        tls.complete_io(&mut sock).context("TLS handshake")?;
    }
    Ok(TlsStream {
        tls,
        sock,
        raw: vec![0; read_buffer],
        at: 0,
        end: 0,
    })
}

/// The `INFO` line before the handshake. Nothing else is sent in clear, so
/// whatever one read returns is part of it.
fn read_info_in_clear(sock: &mut TcpStream) -> Res<()> {
    let mut info = Vec::new();
    let mut chunk = [0u8; 1024];
    while !info.ends_with(b"\r\n") {
        let n = sock.read(&mut chunk).context("read INFO")?;
        if n == 0 {
            return Err("the server closed the connection before INFO".into());
        }
        info.extend_from_slice(&chunk[..n]);
        if info.len() > 64 * 1024 {
            return Err("no end to the INFO line".into());
        }
    }
    if !info.starts_with(b"INFO ") {
        return Err(format!(
            "expected INFO in clear, got {:?}",
            String::from_utf8_lossy(&info[..info.len().min(200)])
        ));
    }
    Ok(())
}

impl TlsStream {
    pub fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    /// Plaintext into `buf`: as much as the ciphertext at hand yields, and
    /// one socket read only when it yields nothing.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.tls.reader().read(&mut buf[filled..]) {
                // The server's close_notify, or `buf` is full.
                Ok(0) => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            if self.at == self.end {
                if filled > 0 {
                    return Ok(filled);
                }
                // A timeout is the caller's to see, as on a plain socket.
                let n = self.sock.read(&mut self.raw)?;
                if n == 0 {
                    return Ok(0);
                }
                (self.at, self.end) = (0, n);
            }
            let mut rest = &self.raw[self.at..self.end];
            let before = rest.len();
            self.tls.read_tls(&mut rest)?;
            self.at += before - rest.len();
            self.tls.process_new_packets().map_err(io::Error::other)?;
        }
    }

    /// Encrypts all of `bytes` and writes the records with vectored writes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.writer().write_all(bytes)?;
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}
