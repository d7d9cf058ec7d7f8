//! The `websocket {}` block (also `ws`), with nats-server's keys, aliases
//! and texts (`parseWebsocket`, target/notes/spec_ws.md §1). What it
//! means together with the rest of the file is checked by
//! `Options::validate` (nats-server's `validateWebsocketOptions`).

use std::time::Duration;

use super::duration;
use super::options::{
    at_key, boolean, duration_or_seconds, int_in, listen, map, string, string_or_list,
    unknown_field, Report, Result,
};
use super::value::{Entry, Value};
use crate::options::{WebsocketOptions, DEFAULT_HOST};

/// `websocket { ... }`: `None` when it gives no port (disabled, as in
/// nats-server, whatever else it says).
pub(super) fn websocket(
    entry: &Entry,
    report: &mut Report<'_>,
) -> Result<Option<WebsocketOptions>> {
    let block = map(entry)?;
    let mut ws = WebsocketOptions::default();
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "listen" => {
                let (host, port) = listen(field)?;
                if let Some(host) = host {
                    ws.host = host;
                }
                ws.port = port;
            }
            "port" => ws.port = int_in(field)?,
            "host" | "net" => ws.host = string(field)?.to_string(),
            "advertise" => ws.advertise = Some(string(field)?.to_string()),
            "no_tls" => ws.no_tls = boolean(field)?,
            "tls" => ws.tls = Some(super::tls::tls(field)?),
            "same_origin" => ws.same_origin = boolean(field)?,
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => {
                ws.allowed_origins = string_or_list(field, "allowed origins", |other| {
                    at_key(
                        field,
                        format!(
                            "error parsing allowed origins: unsupported type {}",
                            other.kind()
                        ),
                    )
                })?
                .into_iter()
                .map(str::to_string)
                .collect()
            }
            "handshake_timeout" => ws.handshake_timeout = handshake_timeout(field)?,
            "compression" | "compress" => ws.compression = boolean(field)?,
            "authorization" | "authentication" => simple_auth(field, &mut ws, report)?,
            "no_auth_user" => ws.no_auth_user = Some(string(field)?.to_string()),
            "jwt_cookie" => ws.jwt_cookie = Some(string(field)?.to_string()),
            "user_cookie" => ws.user_cookie = Some(string(field)?.to_string()),
            "pass_cookie" => ws.pass_cookie = Some(string(field)?.to_string()),
            "token_cookie" => ws.token_cookie = Some(string(field)?.to_string()),
            "headers" => ws.headers = headers(field)?,
            "ping_interval" => ws.ping_interval = Some(duration_or_seconds(field, report)?),
            _ => unknown_field(field)?,
        }
    }
    if ws.port == 0 {
        return Ok(None);
    }
    if ws.host.is_empty() {
        ws.host = DEFAULT_HOST.to_string();
    }
    // An empty string is no credential, as in nats-server.
    for slot in [
        &mut ws.username,
        &mut ws.password,
        &mut ws.token,
        &mut ws.no_auth_user,
        &mut ws.jwt_cookie,
        &mut ws.user_cookie,
        &mut ws.pass_cookie,
        &mut ws.token_cookie,
    ] {
        if slot.as_deref() == Some("") {
            *slot = None;
        }
    }
    Ok(Some(ws))
}

/// An integer is seconds; a string a Go duration.
fn handshake_timeout(field: &Entry) -> Result<Duration> {
    match &field.value.value {
        Value::Integer(n) => Ok(Duration::from_secs((*n).max(0) as u64)),
        Value::String(s) => {
            let nanos = duration::parse(s).map_err(|e| at_key(field, e))?;
            Ok(Duration::from_nanos(nanos.clamp(0, u64::MAX as i128) as u64))
        }
        other => Err(at_key(
            field,
            format!(
                "error parsing handshake timeout: unsupported type {}",
                other.kind()
            ),
        )),
    }
}

/// nats-server's `parseSimpleAuth`: one user or a token, and a timeout.
fn simple_auth(entry: &Entry, ws: &mut WebsocketOptions, report: &mut Report<'_>) -> Result<()> {
    let block = map(entry)?;
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "user" | "username" => ws.username = Some(string(field)?.to_string()),
            "pass" | "password" => ws.password = Some(string(field)?.to_string()),
            "token" => ws.token = Some(string(field)?.to_string()),
            "timeout" => {
                let seconds = match &field.value.value {
                    Value::Integer(n) => *n as f64,
                    Value::Float(f) => *f,
                    // nats-server takes any other type as one second.
                    _ => 1.0,
                };
                ws.auth_timeout = Duration::try_from_secs_f64(seconds.max(0.0)).ok();
            }
            _ => unknown_field(field)?,
        }
    }
    let _ = report;
    Ok(())
}

/// `headers { Key: "value" }`: extra headers of the 101 response.
fn headers(field: &Entry) -> Result<Vec<(String, String)>> {
    let Value::Map(block) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "error parsing headers: unsupported type {}",
                field.value.value.kind()
            ),
        ));
    };
    block
        .entries()
        .iter()
        .map(|header| match &header.value.value {
            Value::String(v) => Ok((header.key.clone(), v.clone())),
            other => Err(at_key(
                header,
                format!(
                    "error parsing header key {}: unsupported type {}",
                    header.key,
                    other.kind()
                ),
            )),
        })
        .collect()
}
