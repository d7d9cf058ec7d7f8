//! TLS for clients: INFO in clear with `tls_required`, then the handshake,
//! then the protocol over TLS (a rustls client with a CA made here).
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natsd::options::TlsOptions;

/// A CA and a server certificate for localhost/127.0.0.1, as PEM files.
struct Certs {
    dir: PathBuf,
    ca_der: Vec<u8>,
}

fn certs(name: &str) -> Certs {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server-cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server-key.pem"), key.serialize_pem()).unwrap();
    Certs {
        dir,
        ca_der: ca.der().to_vec(),
    }
}

fn client_config(ca_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(ca_der.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Read a line in clear (the INFO).
fn read_line(sock: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        sock.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

#[test]
fn clients_get_info_in_clear_then_speak_over_tls() {
    let certs = certs("basic");
    let server = common::server_with(|o| {
        o.tls = Some(TlsOptions {
            cert_file: Some(certs.dir.join("server-cert.pem")),
            key_file: Some(certs.dir.join("server-key.pem")),
            ..TlsOptions::default()
        });
    });
    let mut sock = TcpStream::connect(server.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let info = read_line(&mut sock);
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&certs.ca_der), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.ends_with(b"PONG\r\n") {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        let n = tls.read(&mut chunk).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), "MSG a 1 2\r\nhi\r\nPONG\r\n");
}

#[test]
fn a_client_that_skips_the_handshake_is_closed() {
    let certs = certs("plain");
    let server = common::server_with(|o| {
        o.tls = Some(TlsOptions {
            cert_file: Some(certs.dir.join("server-cert.pem")),
            key_file: Some(certs.dir.join("server-key.pem")),
            ..TlsOptions::default()
        });
    });
    let mut sock = TcpStream::connect(server.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    read_line(&mut sock);
    sock.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    let mut rest = Vec::new();
    // An alert at most, then the close; never a PONG in clear.
    let _ = sock.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("PONG"), "{rest:?}");
}
