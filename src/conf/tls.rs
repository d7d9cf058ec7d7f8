//! The `tls {}` block of the client listener, with nats-server's keys and
//! texts (`parseTLS` and `GenTLSConfig`; target/notes/spec_tls.md §1).

use std::path::PathBuf;
use std::time::Duration;

use super::options::{at_key, map, string_or_list, Result};
use super::value::{Entry, Value};
use super::{duration, Diagnostic};
use crate::options::{HandshakeFirst, TlsOptions};

/// nats-server's `DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY`.
const AUTO_FALLBACK: Duration = Duration::from_millis(50);

/// Go's TLS 1.2 and 1.3 cipher suite names nats-server accepts (its
/// `cipherMap`: the secure and the insecure lists).
const SECURE_CIPHERS: [&str; 13] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Go's `curve_preferences` names.
const CURVES: [&str; 7] = [
    "X25519MLKEM768",
    "SecP256r1MLKEM768",
    "SecP384r1MLKEM1024",
    "X25519",
    "CurveP256",
    "CurveP384",
    "CurveP521",
];

/// The Go type nats-server's `%T` names for a value.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "int64",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        _ => "time.Time",
    }
}

fn expected(field: &Entry, what: &str) -> Diagnostic {
    at_key(
        field,
        format!(
            "error parsing tls config, expected '{}' to be {what}",
            field.key.to_lowercase()
        ),
    )
}

fn filename(field: &Entry) -> Result<PathBuf> {
    match &field.value.value {
        Value::String(s) => Ok(PathBuf::from(s)),
        _ => Err(expected(field, "filename")),
    }
}

fn flag(field: &Entry) -> Result<bool> {
    match &field.value.value {
        Value::Bool(b) => Ok(*b),
        _ => Err(expected(field, "a boolean")),
    }
}

/// `tls { ... }`.
pub(super) fn tls(entry: &Entry) -> Result<TlsOptions> {
    let block = map(entry)?;
    let mut tls = TlsOptions::default();
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "cert_file" => tls.cert_file = Some(filename(field)?),
            "key_file" => tls.key_file = Some(filename(field)?),
            "ca_file" => tls.ca_file = Some(filename(field)?),
            "verify" => tls.verify = flag(field)?,
            "verify_and_map" => {
                tls.verify_and_map = flag(field)?;
                tls.verify |= tls.verify_and_map;
            }
            "insecure" => {
                // A client-side setting: nats-server accepts it and a
                // listener never reads it.
                flag(field)?;
            }
            "timeout" => tls.timeout = Some(timeout(field)?),
            "handshake_first" | "first" | "immediate" => {
                tls.handshake_first = handshake_first(field)?
            }
            "pinned_certs" => {
                tls.pinned_certs = string_or_list(field, "pinned_certs", |other| {
                    at_key(
                        field,
                        format!(
                            "error parsing tls config, 'pinned_certs' wrong type {}",
                            other.kind()
                        ),
                    )
                })?
                .into_iter()
                .map(str::to_lowercase)
                .collect()
            }
            "min_version" => tls.min_version_13 = min_version(field)?,
            "cipher_suites" => tls.cipher_suites = Some(names(field, &SECURE_CIPHERS, "cipher")?),
            "curve_preferences" => {
                tls.curve_preferences = Some(names(field, &CURVES, "curve preference")?)
            }
            "verify_cert_and_check_known_urls" => {
                if flag(field)? {
                    return Err(at_key(
                        field,
                        "verify_cert_and_check_known_urls not supported in this context",
                    ));
                }
            }
            "cert_store"
            | "cert_match_by"
            | "cert_match"
            | "ca_certs_match"
            | "cert_match_skip_invalid" => {
                return Err(at_key(field, "cert store type not implemented"))
            }
            _ => {
                return Err(at_key(
                    field,
                    format!("error parsing tls config, unknown field {:?}", field.key),
                ))
            }
        }
    }
    // GenTLSConfig's checks, at the `tls` key.
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => {
            return Err(at_key(entry, "missing 'key_file' in TLS configuration"));
        }
        (None, Some(_)) => {
            return Err(at_key(entry, "missing 'cert_file' in TLS configuration"));
        }
        _ => {}
    }
    Ok(tls)
}

/// Seconds (integer or float) or a duration string.
fn timeout(field: &Entry) -> Result<Duration> {
    let seconds = match &field.value.value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        Value::String(s) => {
            let nanos = duration::parse(s)
                .map_err(|e| at_key(field, format!("error parsing tls config, 'timeout' {e}")))?;
            nanos as f64 / 1e9
        }
        _ => {
            return Err(at_key(
                field,
                "error parsing tls config, 'timeout' wrong type",
            ))
        }
    };
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::ZERO))
}

fn handshake_first(field: &Entry) -> Result<HandshakeFirst> {
    match &field.value.value {
        Value::Bool(true) => Ok(HandshakeFirst::On),
        Value::Bool(false) => Ok(HandshakeFirst::Off),
        Value::String(s) => match s.to_lowercase().as_str() {
            "true" | "on" => Ok(HandshakeFirst::On),
            "false" | "off" => Ok(HandshakeFirst::Off),
            "auto" | "auto_fallback" => Ok(HandshakeFirst::Fallback(AUTO_FALLBACK)),
            _ => match duration::parse(s) {
                Ok(0) => Ok(HandshakeFirst::On),
                Ok(nanos) if nanos > 0 => Ok(HandshakeFirst::Fallback(Duration::from_nanos(
                    u64::try_from(nanos).unwrap_or(u64::MAX),
                ))),
                _ => Err(at_key(
                    field,
                    format!("field {:?}'s value {s:?} is invalid", field.key),
                )),
            },
        },
        other => Err(at_key(
            field,
            format!(
                "field {:?} should be a boolean or a string, got {}",
                field.key,
                go_type(other)
            ),
        )),
    }
}

/// `"1.2"` or `"1.3"`: whether TLS 1.3 is the minimum.
fn min_version(field: &Entry) -> Result<bool> {
    let Value::String(v) = &field.value.value else {
        let shown = match &field.value.value {
            Value::Integer(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            other => go_type(other).to_string(),
        };
        return Err(at_key(
            field,
            format!("error parsing tls config: 'min_version' wrong type: {shown}"),
        ));
    };
    match v.as_str() {
        "1.2" => Ok(false),
        "1.3" => Ok(true),
        "1.0" | "1.1" => Err(at_key(
            field,
            format!("error parsing tls config: unsupported TLS version: TLS {v}"),
        )),
        _ => Err(at_key(
            field,
            format!("error parsing tls config: unknown version: {v}"),
        )),
    }
}

/// A non-empty list of known names (`cipher_suites`, `curve_preferences`).
fn names(field: &Entry, known: &[&str], what: &str) -> Result<Vec<String>> {
    let Value::Array(items) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "error parsing tls config, '{}' wrong type",
                field.key.to_lowercase()
            ),
        ));
    };
    if items.is_empty() {
        return Err(at_key(
            field,
            format!(
                "error parsing tls config, '{}' cannot be empty",
                field.key.to_lowercase()
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let name = match &item.value {
            Value::String(s) => s.trim(),
            _ => {
                return Err(Diagnostic::at(
                    item.pos.clone(),
                    format!("unrecognized {what}"),
                ))
            }
        };
        if !known.contains(&name) {
            return Err(Diagnostic::at(
                item.pos.clone(),
                format!("unrecognized {what} {name}"),
            ));
        }
        out.push(name.to_string());
    }
    Ok(out)
}
