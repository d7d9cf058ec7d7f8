//! How a client reaches the server: plain TCP, TLS on the client port, or
//! WebSocket on the server's WebSocket port; the configuration files that
//! turn the latter two on; and the byte stream a [`Conn`] reads and
//! writes whichever it is.
//!
//! [`Conn`]: crate::client::Conn

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use crate::client::{Context, Res};
#[cfg(feature = "tls")]
use crate::tls::TlsStream;
use crate::ws::WsStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The client port, in clear: every scenario but the few below.
    Tcp,
    /// The client port with `tls {}`: `INFO` in clear, the handshake, then
    /// the protocol over TLS (see `compare/tls.rs`).
    Tls,
    /// `websocket {}` without TLS, on its own port: the HTTP upgrade, then
    /// the protocol in binary frames (see `compare/ws.rs`).
    Ws,
}

impl Transport {
    /// The file the server is started with (`-c`) for this transport, as
    /// [`write_configs`] wrote it; none for plain TCP.
    pub fn config_file(self, bench_dir: &Path) -> Option<PathBuf> {
        match self {
            Transport::Tcp => None,
            Transport::Tls => Some(bench_dir.join("tls.conf")),
            Transport::Ws => Some(bench_dir.join("ws.conf")),
        }
    }
}

/// Writes a CA, a server certificate for 127.0.0.1 and localhost signed
/// by it, its key, and the configurations of [`Transport::Tls`] and
/// [`Transport::Ws`] into `bench_dir`, once per bench run, so each server
/// started reads the same files; the bench's TLS clients trust that CA.
pub fn write_configs(bench_dir: &Path) -> Res<()> {
    let cert_file = bench_dir.join("server-cert.pem");
    let key_file = bench_dir.join("server-key.pem");
    let made = make_certificates().map_err(|e| format!("make certificates: {e}"))?;
    #[cfg(feature = "tls")]
    crate::tls::trust(&made.ca_der)?;
    let tls = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        cert_file.display(),
        key_file.display()
    );
    // `-a 127.0.0.1` is the client port's host only.
    let ws = "websocket {\n  host: \"127.0.0.1\"\n  port: -1\n  no_tls: true\n}\n";
    let files = [
        (bench_dir.join("ca.pem"), made.ca),
        (cert_file, made.cert),
        (key_file, made.key),
        (bench_dir.join("tls.conf"), tls),
        (bench_dir.join("ws.conf"), ws.into()),
    ];
    for (file, text) in files {
        std::fs::write(&file, text).context(&format!("write {}", file.display()))?;
    }
    Ok(())
}

/// A CA and a server certificate it signed, with the server's key.
struct Certificates {
    /// PEM, for the files.
    ca: String,
    cert: String,
    key: String,
    /// The CA for the bench's own TLS clients.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    ca_der: Vec<u8>,
}

fn make_certificates() -> Result<Certificates, rcgen::Error> {
    // Names of their own: with rcgen's default for both, OpenSSL would
    // take the server's certificate for a self-signed one.
    let named = |names: Vec<String>, common_name: &str| {
        let mut params = rcgen::CertificateParams::new(names)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        Ok::<_, rcgen::Error>(params)
    };
    let mut ca_params = named(Vec::new(), "natsd bench CA")?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
    let key = rcgen::KeyPair::generate()?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert = named(names, "natsd bench server")?.signed_by(&key, &ca)?;
    Ok(Certificates {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
        ca_der: ca.der().to_vec(),
    })
}

/// The bytes between a client and the server, over any transport.
pub enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
    Ws(Box<WsStream>),
}

impl Stream {
    /// The socket under it, for timeouts and socket options.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.tcp(),
            Stream::Ws(ws) => ws.tcp(),
        }
    }

    /// Protocol bytes into `buf`, as `Read::read` (a read timeout is an
    /// error of kind `WouldBlock` or `TimedOut`; 0 is the end).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.read(buf),
            Stream::Ws(ws) => ws.read(buf),
        }
    }

    /// All of `bytes`, in one write where the transport allows (a TLS
    /// record holds at most 16 KiB: a batch is a few records in one
    /// vectored write; a WebSocket write is one frame).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.write_all(bytes),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write_all(bytes),
            Stream::Ws(ws) => ws.write_all(bytes),
        }
    }
}
