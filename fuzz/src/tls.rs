//! The TLS handshake as a client drives it, with garbage or truncation at
//! any point (nats-server's `FuzzServerTLS`), against natsd itself: one
//! in-process server per listener mode (INFO then TLS, `allow_non_tls`,
//! `handshake_first`), reached over loopback, so the reactor's transport
//! code runs, not only rustls.
//!
//! Input: a mode byte, a step byte, then bytes. A real rustls client
//! handshakes; at the chosen flight its bytes are replaced by (or followed
//! by) the input's, or cut short; or the input alone is sent after the
//! INFO. Invariants: the server never panics (it still answers a new
//! client), and whatever was sent, once the client stops writing the
//! connection ends (the server closes it) within a bound.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use natsd::options::{HandshakeFirst, Options, TlsOptions};

/// How long the server may take to close once the client stops writing.
const CLOSE_BOUND: Duration = Duration::from_secs(5);

struct World {
    /// INFO then TLS, `allow_non_tls`, `handshake_first`.
    servers: [SocketAddr; 3],
    client: Arc<rustls::ClientConfig>,
    _running: Vec<natsd::RunningServer>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("natsd-fuzz-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("cert");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write");
        let start = |allow_non_tls: bool, handshake_first: HandshakeFirst| {
            let opts = Options {
                host: "127.0.0.1".into(),
                port: -1,
                tls: Some(TlsOptions {
                    cert_file: Some(dir.join("cert.pem")),
                    key_file: Some(dir.join("key.pem")),
                    timeout: Some(Duration::from_millis(500)),
                    handshake_first,
                    ..TlsOptions::default()
                }),
                allow_non_tls,
                ..Options::default()
            };
            natsd::Server::spawn(opts).expect("natsd starts")
        };
        let running = vec![
            start(false, HandshakeFirst::Off),
            start(true, HandshakeFirst::Off),
            start(false, HandshakeFirst::On),
        ];
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(ca.der().to_vec()))
            .expect("root");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        World {
            servers: [running[0].addr(), running[1].addr(), running[2].addr()],
            client: Arc::new(client),
            _running: running,
        }
    })
}

pub fn check(data: &[u8]) {
    let [mode, step, bytes @ ..] = data else {
        return;
    };
    let world = world();
    let server = world.servers[usize::from(*mode % 3)];
    let tls_first = *mode % 3 == 2;
    let mut sock = TcpStream::connect(server).expect("the server accepts");
    sock.set_nodelay(true).ok();
    sock.set_read_timeout(Some(Duration::from_millis(200))).ok();
    if !tls_first {
        read_info(&mut sock);
    }
    if mode & 0x80 != 0 {
        // The input alone, in pieces, after the INFO.
        for piece in bytes.chunks(usize::from(*step).max(1)) {
            if sock.write_all(piece).is_err() {
                break;
            }
        }
    } else {
        handshake_with_garbage(&mut sock, world, *step, bytes);
    }
    let _ = sock.shutdown(Shutdown::Write);
    assert!(
        closes_within(&mut sock, CLOSE_BOUND),
        "natsd kept the connection open after the client stopped"
    );
    // Still serving: a new client gets its INFO (or, TLS first, a handshake).
    let mut again = TcpStream::connect(server).expect("natsd still accepts");
    again.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if !tls_first {
        read_info(&mut again);
    }
}

fn read_info(sock: &mut TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match sock.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(Instant::now() < deadline, "no INFO from natsd");
            }
            Err(_) => break,
        }
    }
    assert!(
        line.starts_with(b"INFO "),
        "{:?}",
        String::from_utf8_lossy(&line)
    );
}

/// A real client handshake; its flight number `step` is replaced by the
/// input (odd steps: the input follows the real flight; a zero-length
/// input cuts the handshake short there).
fn handshake_with_garbage(sock: &mut TcpStream, world: &World, step: u8, bytes: &[u8]) {
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut client = rustls::ClientConnection::new(world.client.clone(), name).expect("client");
    let target = step / 2 % 4;
    let mut flight = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if client.wants_write() {
            let mut out = Vec::new();
            while client.wants_write() {
                if client.write_tls(&mut out).is_err() {
                    break;
                }
            }
            if flight == target {
                if step % 2 == 1 {
                    let _ = sock.write_all(&out);
                }
                let _ = sock.write_all(bytes);
                return;
            }
            if sock.write_all(&out).is_err() {
                return;
            }
            flight += 1;
        }
        if !client.is_handshaking() {
            // Done before the step: the garbage goes over the session.
            let _ = sock.write_all(bytes);
            return;
        }
        let mut buf = [0u8; 4096];
        match sock.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let mut slice = &buf[..n];
                if client.read_tls(&mut slice).is_err() || client.process_new_packets().is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// Read until the server closes (EOF or reset), at most `bound`.
fn closes_within(sock: &mut TcpStream, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}
