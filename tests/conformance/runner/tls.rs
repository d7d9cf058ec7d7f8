//! The TLS mode: both servers serve TLS with a certificate made here, and
//! every connection reads the INFO greeting in clear, then does the TLS
//! handshake and speaks the protocol over TLS, as NATS clients do.

use std::borrow::Cow;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use serde_json::Value;

use super::transcript;

/// A CA, a server certificate it signed (for 127.0.0.1 and localhost), and
/// a client that trusts the CA.
pub struct Tls {
    /// The `tls {}` block appended to every server's configuration.
    config_block: String,
    client: Arc<ClientConfig>,
}

impl Tls {
    /// Make the CA and the server certificate, and write them to `dir`
    /// as `ca.pem`, `server-cert.pem` and `server-key.pem`.
    pub fn generate(dir: &Path) -> Result<Tls, String> {
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
        std::fs::create_dir_all(dir).map_err(|e| fail(&dir.display().to_string(), &e))?;
        let ca_key = rcgen::KeyPair::generate().map_err(|e| fail("CA key", &e))?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| fail("CA params", &e))?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)
            .map_err(|e| fail("CA certificate", &e))?;
        let key = rcgen::KeyPair::generate().map_err(|e| fail("server key", &e))?;
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .and_then(|params| params.signed_by(&key, &ca))
            .map_err(|e| fail("server certificate", &e))?;
        let (cert_file, key_file) = (dir.join("server-cert.pem"), dir.join("server-key.pem"));
        for (path, pem) in [
            (dir.join("ca.pem"), ca.pem()),
            (cert_file.clone(), cert.pem()),
            (key_file.clone(), key.serialize_pem()),
        ] {
            std::fs::write(&path, pem).map_err(|e| fail(&path.display().to_string(), &e))?;
        }

        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.der().to_vec()))
            .map_err(|e| fail("CA as a root", &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("client config", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            config_block: format!(
                "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
                cert_file.display(),
                key_file.display()
            ),
            client: Arc::new(client),
        })
    }

    /// A scenario's configuration (or none) with the `tls {}` block added.
    pub fn config(&self, scenario: Option<&[u8]>) -> Vec<u8> {
        let mut text = scenario.map(<[u8]>::to_vec).unwrap_or_default();
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(self.config_block.as_bytes());
        text
    }

    /// The TLS handshake on a connection whose INFO was read in clear,
    /// reading until `deadline` (the socket has a read timeout).
    pub fn handshake(&self, mut sock: TcpStream, deadline: Instant) -> Result<TlsStream, String> {
        let ip = sock.peer_addr().map_err(|e| e.to_string())?.ip();
        let mut conn = ClientConnection::new(self.client.clone(), ServerName::from(ip))
            .map_err(|e| format!("TLS client: {e}"))?;
        loop {
            while conn.wants_write() {
                conn.write_tls(&mut sock)
                    .map_err(|e| format!("TLS handshake (writing): {e}"))?;
            }
            if !conn.is_handshaking() {
                return Ok(TlsStream {
                    conn,
                    sock,
                    write_failed: false,
                });
            }
            match conn.read_tls(&mut sock) {
                Ok(0) => return Err("the server closed the connection in the TLS handshake".into()),
                Ok(_) => {
                    if let Err(e) = conn.process_new_packets() {
                        // The alert rustls queued, for the server's log.
                        let _ = conn.write_tls(&mut sock);
                        return Err(format!("TLS handshake: {e}"));
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if Instant::now() > deadline {
                        return Err("gave up waiting for the TLS handshake".into());
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("TLS handshake (reading): {e}")),
            }
        }
    }
}

/// What an `expect` line, written for plain TCP, means over TLS: every
/// INFO in it (already normalized: keys sorted) also carries
/// `"tls_required":true`, as the server's INFOs do when it requires TLS.
/// The rest is unchanged.
pub fn expected(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.windows(5).any(|w| w == b"INFO ") {
        return Cow::Borrowed(text);
    }
    let mut rest = text.to_vec();
    let mut out = Vec::with_capacity(text.len() + 32);
    while let Some(frame) = transcript::take_frame(&mut rest) {
        out.extend_from_slice(&with_tls_required(frame));
    }
    // A tail that is no whole frame, such as `<closed>`.
    out.extend_from_slice(&rest);
    Cow::Owned(out)
}

fn with_tls_required(frame: Vec<u8>) -> Vec<u8> {
    let Some(json) = frame.strip_prefix(b"INFO ") else {
        return frame;
    };
    let Ok(Value::Object(mut info)) = serde_json::from_slice::<Value>(json) else {
        return frame;
    };
    info.insert("tls_required".into(), Value::Bool(true));
    // Sorted by key, as `transcript::normalize` writes an INFO.
    let mut out = b"INFO ".to_vec();
    out.extend_from_slice(Value::Object(info).to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// A client's TLS session over its socket. Reads never write: once a write
/// has failed (the server closed), what the server sent before closing is
/// still read, as over plain TCP.
pub struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
    write_failed: bool,
}

impl TlsStream {
    /// A `close_notify`, then the socket shut down both ways.
    pub fn shutdown(mut self) {
        if !self.write_failed {
            self.conn.send_close_notify();
            let _ = self.flush_tls();
        }
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.write_failed = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Read for TlsStream {
    /// Plaintext as it arrives; `Ok(0)` when the server has closed, with a
    /// `close_notify` or without (a TCP EOF, which rustls reports as
    /// `UnexpectedEof`). A read timeout on the socket comes through as
    /// `WouldBlock`/`TimedOut`, a reset or a TLS error as an error.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext yet: more records from the socket.
            self.conn.read_tls(&mut self.sock)?;
            if let Err(e) = self.conn.process_new_packets() {
                // Plaintext that came before the bad record is returned
                // first; the error once it is all read.
                match self.conn.reader().read(buf) {
                    Ok(n) if n > 0 => return Ok(n),
                    _ => return Err(io::Error::new(ErrorKind::InvalidData, e)),
                }
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.write_failed {
            return Err(ErrorKind::BrokenPipe.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_infos_require_tls() {
        let plain = b"PONG\r\nINFO {\"proto\":1,\"server_id\":\"<server_id>\"}\r\nMSG a 1 6\r\nINFO \r\n\r\n<closed>";
        assert_eq!(
            &*expected(plain),
            b"PONG\r\nINFO {\"proto\":1,\"server_id\":\"<server_id>\",\"tls_required\":true}\r\nMSG a 1 6\r\nINFO \r\n\r\n<closed>"
        );
        assert!(matches!(expected(b"PONG\r\n"), Cow::Borrowed(_)));
    }
}
