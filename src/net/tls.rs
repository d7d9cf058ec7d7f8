//! The client listener's TLS configuration for rustls (on ring), built
//! from `tls {}` as nats-server's `GenTLSConfig` builds its own.

use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::options::TlsOptions;

/// Go's TLS 1.3 and 1.2 preference order (AES-128 first), so that
/// `/connz` names the suites nats-server would have chosen.
fn suites() -> Vec<rustls::SupportedCipherSuite> {
    use provider::cipher_suite::*;
    vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}

/// rustls's name of a suite as Go names it (`TLS13_AES_128_GCM_SHA256`
/// is Go's `TLS_AES_128_GCM_SHA256`).
pub fn go_suite_name(suite: rustls::SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    name.strip_prefix("TLS13_")
        .map_or(name.clone(), |rest| format!("TLS_{rest}"))
}

/// The server configuration of `tls`, or nats-server's text for why not.
pub fn server_config(tls: &TlsOptions) -> Result<Arc<ServerConfig>, String> {
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err("missing 'cert_file' in TLS configuration".into());
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
    if certs.is_empty() {
        return Err("error parsing X509 certificate/key pair: no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
    #[allow(deprecated)] // rustls 0.23.48 points to a post-quantum provider natsd does not need
    let mut crypto = provider::default_provider();
    crypto.cipher_suites = suites();
    let crypto = Arc::new(crypto);
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.min_version_13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ServerConfig::builder_with_provider(crypto.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("error parsing tls config: {e}"))?;
    let builder = if tls.verify {
        let mut roots = RootCertStore::empty();
        if let Some(ca) = &tls.ca_file {
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| e.to_string())?;
            let (added, _) = roots.add_parsable_certificates(cas);
            if added == 0 {
                return Err("failed to parse root ca certificate".into());
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto)
            .build()
            .map_err(|e| format!("error parsing tls config: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// Where the system's CA bundle usually is, for a remote without
/// `ca_file` (Go reads the system roots the same way on Linux).
const SYSTEM_ROOTS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The client configuration a leaf remote dials its hub with: the hub's
/// certificate verified against `ca_file` (else the system's roots), and
/// our certificate when `cert_file`/`key_file` give one.
pub fn client_config(tls: Option<&TlsOptions>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let ca_files: Vec<std::path::PathBuf> = match tls.and_then(|t| t.ca_file.clone()) {
        Some(ca) => vec![ca],
        None => SYSTEM_ROOTS
            .iter()
            .map(std::path::PathBuf::from)
            .filter(|p| p.is_file())
            .take(1)
            .collect(),
    };
    for ca in &ca_files {
        let cas = CertificateDer::pem_file_iter(ca)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("error loading root ca {}: {e}", ca.display()))?;
        roots.add_parsable_certificates(cas);
    }
    if roots.is_empty() {
        return Err("no root certificates to verify the remote with (set `ca_file`)".into());
    }
    #[allow(deprecated)] // as in `server_config`
    let mut crypto = provider::default_provider();
    crypto.cipher_suites = suites();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.is_some_and(|t| t.min_version_13) {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(crypto))
        .with_protocol_versions(versions)
        .map_err(|e| format!("error parsing tls config: {e}"))?
        .with_root_certificates(roots);
    let config = match tls.and_then(|t| Some((t.cert_file.as_ref()?, t.key_file.as_ref()?))) {
        Some((cert_file, key_file)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
