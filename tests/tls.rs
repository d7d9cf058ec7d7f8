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
    /// A client certificate the CA signed, and its key (DER).
    client_der: Vec<u8>,
    client_key_der: Vec<u8>,
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
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["client.example".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    Certs {
        dir,
        ca_der: ca.der().to_vec(),
        client_der: client.der().to_vec(),
        client_key_der: client_key.serialize_der(),
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

/// natsd and the reference nats-server with the same `tls {}`: the same
/// INFO fields, a session over TLS with the same cipher suite in /connz.
#[test]
fn tls_as_nats_server_does_it() {
    use common::binary::{Running, NATSD};
    let reference = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ref/bin/nats-server");
    if !std::path::Path::new(reference).is_file() {
        let required = std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1");
        assert!(!required, "the reference nats-server is not at {reference}");
        return;
    }
    let certs = certs("reference");
    let conf = certs.dir.join("server.conf");
    std::fs::write(
        &conf,
        format!(
            "tls {{ cert_file: {:?}, key_file: {:?} }}\n",
            certs.dir.join("server-cert.pem"),
            certs.dir.join("server-key.pem")
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let mut seen = Vec::new();
    for program in [NATSD, reference] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let args = ["-c", &conf, "-a", "127.0.0.1", "-p", "-1", "-m", &port];
        let server = Running::start_program(program, &args, &[]);
        let mut sock = TcpStream::connect(server.addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let info: serde_json::Value =
            serde_json::from_str(read_line(&mut sock).trim_start_matches("INFO ").trim()).unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(client_config(&certs.ca_der), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 256];
        while !got.ends_with(b"PONG\r\n") {
            let n = tls.read(&mut chunk).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        let mut http = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        http.write_all(b"GET /connz HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        http.read_to_string(&mut body).unwrap();
        let connz: serde_json::Value =
            serde_json::from_str(body.split_once("\r\n\r\n").unwrap().1).unwrap();
        let conn = &connz["connections"][0];
        seen.push(serde_json::json!({
            "tls_required": info["tls_required"],
            "tls_verify": info["tls_verify"],
            "tls_version": conn["tls_version"],
            "tls_cipher_suite": conn["tls_cipher_suite"],
        }));
    }
    assert_eq!(seen[0], seen[1], "natsd, then nats-server");
}

#[test]
fn tls_flags_as_nats_server_takes_them() {
    use common::binary::{Running, NATSD};
    let out = std::process::Command::new(NATSD)
        .args(["--tlsverify", "-p", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("natsd: TLS Server certificate must be present and valid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(NATSD)
        .args(["--tlscert", "x.pem", "-p", "-1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("TLS Server private key must be present and valid"));
    let certs = certs("flags");
    let cert = certs.dir.join("server-cert.pem");
    let key = certs.dir.join("server-key.pem");
    let server = Running::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
    ]);
    let mut sock = TcpStream::connect(server.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(read_line(&mut sock).contains("\"tls_required\":true"));
}

#[test]
fn verify_requires_a_client_certificate_the_ca_signed() {
    let certs = certs("verify");
    let server = common::server_with(|o| {
        o.tls = Some(TlsOptions {
            cert_file: Some(certs.dir.join("server-cert.pem")),
            key_file: Some(certs.dir.join("server-key.pem")),
            ca_file: Some(certs.dir.join("ca.pem")),
            verify: true,
            ..TlsOptions::default()
        });
    });
    let exchange = |client_auth: bool| -> String {
        let mut sock = TcpStream::connect(server.addr()).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let info = read_line(&mut sock);
        assert!(info.contains("\"tls_verify\":true"), "{info}");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from(certs.ca_der.clone()))
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = if client_auth {
            let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certs.client_key_der.clone().into());
            builder
                .with_client_auth_cert(
                    vec![rustls_pki_types::CertificateDer::from(
                        certs.client_der.clone(),
                    )],
                    key,
                )
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let _ = tls.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        let mut got = Vec::new();
        let mut chunk = [0u8; 256];
        while !got.ends_with(b"PONG\r\n") {
            match tls.read(&mut chunk) {
                Ok(n) if n > 0 => got.extend_from_slice(&chunk[..n]),
                _ => return format!("{}<closed>", String::from_utf8_lossy(&got)),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    assert_eq!(exchange(true), "PONG\r\n");
    assert_eq!(exchange(false), "<closed>");
}

/// async-nats over `tls://`, with the test CA as its root.
#[test]
fn async_nats_over_tls() {
    let certs = certs("async-nats");
    let server = common::server_with(|o| {
        o.tls = Some(TlsOptions {
            cert_file: Some(certs.dir.join("server-cert.pem")),
            key_file: Some(certs.dir.join("server-key.pem")),
            ..TlsOptions::default()
        });
    });
    let url = format!("tls://localhost:{}", server.addr().port());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use futures::StreamExt;
        let connect = async_nats::ConnectOptions::new()
            .add_root_certificates(certs.dir.join("ca.pem"))
            .require_tls(true)
            .connect(url.as_str());
        let client = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .expect("connects in time")
            .expect("connects over TLS");
        let mut sub = client.subscribe("greet").await.unwrap();
        client.publish("greet", "hello".into()).await.unwrap();
        client.flush().await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&msg.payload[..], b"hello");
    });
}
