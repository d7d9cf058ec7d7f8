//! The `leafnodes {}` block (also `leaf`), with nats-server's keys, aliases,
//! defaults and texts: `parseLeafNodes`, `parseLeafAuthorization`,
//! `parseLeafUsers`, `parseRemoteLeafNodes` and the leaf part of
//! `setBaselineOptions` (target/notes/spec_leaf_config.md §1-2). What the
//! block means together with the rest of the file (the accounts it names,
//! operator mode, a remote mixing WebSocket and TCP URLs) is checked by
//! `Options::validate`, as nats-server's `validateLeafNode`.
//!
//! natsd refuses (`leafnodes: <key> is not supported by natsd`) what it
//! would not do as the file asks where that would make a leaf connection
//! less safe or other than configured: `min_version`, `isolate` and
//! `request_isolation`, `jetstream_cluster_migrate`, `write_timeout` other
//! than `default`, `proxy_required`, a remote's `proxy` with a URL, an
//! `authorization { nkey }` (leaves would get in unchecked), a remote's
//! `tls { insecure: true }` (natsd always verifies the hub). A boolean of
//! these is accepted when false. It only warns (`Loaded::unsupported`) for
//! what costs nothing but speed: `compression` that asks for S2 (natsd
//! does not compress leaf connections, as a nats-server with
//! `compression: off`), `dial_timeout`, `write_deadline`.
//!
//! A remote URL without a port gets 7422 here, as in nats-server's
//! `setBaselineOptions`; one without a host (`hub:7422` is an opaque URL
//! to Go) is refused, where nats-server would fail at every attempt.

use std::path::PathBuf;
use std::time::Duration;

use super::accounts::{go_type, go_value, subjects};
use super::duration;
use super::options::{
    at_key, boolean, int_in, invalid_use, listen, map, parse_duration, string, to_duration,
    unknown_field, valid_user_nkey, Report, Result,
};
use super::url::GoUrl;
use super::value::{Entry, Map, Node, Value};
use super::Diagnostic;
use crate::options::{
    HandshakeFirst, LeafUser, LeafnodeOptions, RemoteLeafOptions, TlsOptions, DEFAULT_HOST,
    DEFAULT_LEAFNODE_PORT,
};

/// `leafnodes { ... }`. Errors of separate keys (and of separate remotes)
/// are all reported, as nats-server does.
pub(super) fn leafnodes(entry: &Entry, report: &mut Report<'_>) -> Result<LeafnodeOptions> {
    let Value::Map(block) = &entry.value.value else {
        return Err(at_key(
            entry,
            format!(
                "Expected map to define a leafnode, got {}",
                go_type(&entry.value.value)
            ),
        ));
    };
    let mut leaf = LeafnodeOptions::default();
    for field in block.entries() {
        if let Err(e) = leaf_key(field, &mut leaf, report) {
            report.errors.push(e);
        }
    }
    // setBaselineOptions.
    if leaf.port != 0 && leaf.host.is_empty() {
        leaf.host = DEFAULT_HOST.to_string();
    }
    Ok(leaf)
}

fn leaf_key(field: &Entry, leaf: &mut LeafnodeOptions, report: &mut Report<'_>) -> Result<()> {
    match field.key.to_lowercase().as_str() {
        "listen" => {
            let (host, port) = listen(field)?;
            leaf.host = host.unwrap_or_default();
            leaf.port = port;
        }
        "port" => leaf.port = int_in(field)?,
        "host" | "net" => leaf.host = string(field)?.to_string(),
        "authorization" => authorization(field, leaf, report)?,
        "remotes" => leaf.remotes = remotes(field, report)?,
        "reconnect" | "reconnect_delay" | "reconnect_interval" => {
            let nanos = parse_duration(field, "reconnect", report)?;
            if nanos < 0 {
                return Err(at_key(field, "reconnect can not be negative"));
            }
            if nanos > 0 {
                leaf.reconnect_interval = to_duration(nanos);
            }
        }
        "dial_timeout" => {
            parse_duration(field, "dial_timeout", report)?;
            ignored(field, report);
        }
        "write_deadline" => {
            parse_duration(field, "write_deadline", report)?;
            ignored(field, report);
        }
        "tls" => leaf.tls = Some(super::tls::tls(field)?),
        "leafnode_advertise" | "advertise" => leaf.advertise = non_empty(string(field)?),
        "no_advertise" => leaf.no_advertise = boolean(field)?,
        "min_version" | "minimum_version" => {
            check_min_version(string(field)?).map_err(|e| at_key(field, e))?;
            // A policy that turns old leaf nodes away: natsd would let
            // them in.
            return Err(not_supported(field));
        }
        "compression" => compression(field, report)?,
        "isolate_leafnode_interest" | "isolate" => refuse_if_true(field)?,
        "write_timeout" => {
            let policy = string(field)?;
            if !matches!(policy, "default" | "close" | "retry") {
                return Err(at_key(
                    field,
                    "write_timeout must be 'default', 'close' or 'retry'",
                ));
            }
            if policy != "default" {
                return Err(not_supported(field));
            }
        }
        _ => unknown_field(field)?,
    }
    Ok(())
}

/// nats-server's `parseLeafAuthorization`, then
/// `validateLeafNodeAuthOptions` at the `authorization` key.
fn authorization(entry: &Entry, leaf: &mut LeafnodeOptions, report: &mut Report<'_>) -> Result<()> {
    let block = map(entry)?;
    let (mut user, mut password, mut account) = (None, None, None);
    let mut nkey: Option<&Entry> = None;
    let mut users = Vec::new();
    let mut timeout = None;
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "user" | "username" => user = non_empty(string(field)?),
            "pass" | "password" => password = non_empty(string(field)?),
            "nkey" => {
                if !valid_user_nkey(string(field)?) {
                    return Err(at_key(
                        field,
                        "Not a valid public nkey for leafnode authorization",
                    ));
                }
                nkey = Some(field);
            }
            "timeout" => timeout = auth_timeout(field, report)?,
            "users" => users = leaf_users(field)?,
            "account" => account = non_empty(string(field)?),
            "proxy_required" => refuse_if_true(field)?,
            _ => unknown_field(field)?,
        }
    }
    if !users.is_empty() {
        if user.is_some() {
            return Err(at_key(
                entry,
                "can not have a single user/pass and a users array",
            ));
        }
        if nkey.is_some() {
            return Err(at_key(
                entry,
                "can not have a single nkey and a users array",
            ));
        }
        for (i, u) in users.iter().enumerate() {
            if users[..i]
                .iter()
                .any(|v: &LeafUser| v.username == u.username)
            {
                return Err(at_key(
                    entry,
                    format!(
                        "duplicate user {:?} detected in leafnode authorization",
                        u.username
                    ),
                ));
            }
        }
    }
    if let Some(nkey) = nkey {
        // A leaf that signs a nonce with this key: natsd does not check
        // leaf nkeys, and would admit leaves nats-server keeps out.
        return Err(not_supported(nkey));
    }
    leaf.username = user;
    leaf.password = password;
    leaf.account = account;
    leaf.users = users;
    leaf.auth_timeout = timeout;
    Ok(())
}

/// `timeout`: seconds (integer or float) or a duration string; zero is
/// the default.
fn auth_timeout(field: &Entry, report: &mut Report<'_>) -> Result<Option<Duration>> {
    let seconds = match &field.value.value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        Value::String(s) => {
            let nanos = duration::parse(s).map_err(|e| {
                at_key(
                    field,
                    format!("error parsing leafnode authorization config, 'timeout' {e}"),
                )
            })?;
            nanos as f64 / 1e9
        }
        _ => {
            return Err(at_key(
                field,
                "error parsing leafnode authorization config, 'timeout' wrong type",
            ))
        }
    };
    if seconds > 60.0 {
        report.warnings.push(invalid_use(
            field,
            &format!(
                "timeout of {} ({seconds:.6} seconds) is high, consider keeping it under 60 \
                 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for \
                 example",
                go_value(&field.value.value)
            ),
        ));
    }
    if seconds < 0.0 {
        return Err(at_key(
            field,
            "leafnode authorization timeout can not be negative",
        ));
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|_| at_key(field, "leafnode authorization timeout is too big"))
}

/// nats-server's `parseLeafUsers`: `{user, password, account}` maps.
fn leaf_users(field: &Entry) -> Result<Vec<LeafUser>> {
    let Value::Array(items) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "Expected users field to be an array, got {}",
                go_value(&field.value.value)
            ),
        ));
    };
    let mut users = Vec::with_capacity(items.len());
    for item in items {
        let Value::Map(entry) = &item.value else {
            return Err(Diagnostic::at(
                item.pos.clone(),
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    go_value(&item.value)
                ),
            ));
        };
        let mut user = LeafUser::default();
        for f in entry.entries() {
            match f.key.to_lowercase().as_str() {
                "user" | "username" => user.username = string(f)?.to_string(),
                "pass" | "password" => user.password = string(f)?.to_string(),
                "account" => user.account = non_empty(string(f)?),
                "proxy_required" => refuse_if_true(f)?,
                _ => unknown_field(f)?,
            }
        }
        users.push(user);
    }
    Ok(users)
}

/// nats-server's `parseRemoteLeafNodes`.
fn remotes(field: &Entry, report: &mut Report<'_>) -> Result<Vec<RemoteLeafOptions>> {
    let Value::Array(items) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "Expected remotes field to be an array, got {}",
                go_type(&field.value.value)
            ),
        ));
    };
    let mut names = Vec::with_capacity(items.len());
    let mut remotes = Vec::with_capacity(items.len());
    for item in items {
        let Value::Map(block) = &item.value else {
            report.errors.push(Diagnostic::at(
                item.pos.clone(),
                format!(
                    "Expected remote leafnode entry to be a map/struct, got {}",
                    go_value(&item.value)
                ),
            ));
            continue;
        };
        let Some((remote, as_written)) = remote(block, report) else {
            continue;
        };
        // nats-server tells remotes apart by their URLs as written (before
        // the default port), account and credentials; `Options::validate`
        // checks again with the ports.
        let named = RemoteLeafOptions {
            urls: as_written,
            ..remote.clone()
        };
        let name = named.name();
        if names.contains(&name) {
            let at = block
                .entries()
                .last()
                .map_or(item.pos.clone(), |e| e.key_pos.clone());
            report.errors.push(Diagnostic::at(
                at,
                format!("duplicate remote {}", named.safe_name()),
            ));
            continue;
        }
        names.push(name);
        remotes.push(remote);
    }
    Ok(remotes)
}

/// One remote, and its URLs as written; `None` when it has errors (which
/// are in the report).
fn remote(block: &Map, report: &mut Report<'_>) -> Option<(RemoteLeafOptions, Vec<String>)> {
    let mut remote = RemoteLeafOptions::default();
    let mut urls = Vec::new();
    let mut proxy = None;
    let errors = report.errors.len();
    for field in block.entries() {
        if let Err(e) = remote_key(field, &mut remote, &mut urls, &mut proxy, report) {
            report.errors.push(e);
        }
    }
    if let (Some(proxy), 0) = (proxy, report.errors.len() - errors) {
        let wss = urls.iter().find(|u| {
            u.text
                .get(..4)
                .is_some_and(|s| s.eq_ignore_ascii_case("wss:"))
        });
        report.errors.push(match wss {
            Some(url) if remote.tls.is_none() => at_key(
                proxy,
                format!(
                    "proxy is configured but remote URL {} requires TLS and no TLS configuration \
                     is provided. When using proxy with TLS endpoints, ensure TLS is properly \
                     configured for the leafnode remote",
                    url.text
                ),
            ),
            // An HTTP CONNECT proxy to reach the hub through.
            _ => not_supported(proxy),
        });
    }
    if report.errors.len() > errors {
        return None;
    }
    let as_written = urls.iter().map(|u: &RemoteUrl| u.text.clone()).collect();
    remote.urls = urls.iter().map(RemoteUrl::with_port).collect();
    Some((remote, as_written))
}

fn remote_key<'a>(
    field: &'a Entry,
    remote: &mut RemoteLeafOptions,
    urls: &mut Vec<RemoteUrl>,
    proxy_url: &mut Option<&'a Entry>,
    report: &mut Report<'_>,
) -> Result<()> {
    match field.key.to_lowercase().as_str() {
        "no_randomize" | "dont_randomize" => remote.no_randomize = boolean(field)?,
        "url" | "urls" => match &field.value.value {
            // A single URL adds to the list, an array replaces it, as in
            // nats-server.
            Value::String(s) => urls.push(RemoteUrl::parse(s).map_err(|e| at_key(field, e))?),
            Value::Array(items) => *urls = url_list(items, report)?,
            other => {
                return Err(at_key(
                    field,
                    format!(
                        "Expected remote leafnode url to be an array or string, got {}",
                        go_value(other)
                    ),
                ))
            }
        },
        "account" | "local" => remote.account = non_empty(string(field)?),
        "creds" | "credentials" => {
            let written = string(field)?;
            if !crate::options::JWT_BUILT {
                return Err(at_key(
                    field,
                    crate::options::jwt_not_built(&format!("{:?} in a leafnode remote", field.key)),
                ));
            }
            let path = expand_path(written, report).map_err(|e| at_key(field, e))?;
            if remote.nkey_seed.is_some() {
                return Err(at_key(
                    field,
                    "Remote leafnode can not have both creds and nkey defined",
                ));
            }
            remote.credentials = (!path.is_empty()).then(|| PathBuf::from(path));
        }
        "nkey" | "seed" => {
            let seed = string(field)?;
            if !crate::options::JWT_BUILT {
                return Err(at_key(
                    field,
                    crate::options::jwt_not_built(&format!("{:?} in a leafnode remote", field.key)),
                ));
            }
            if !valid_user_seed(seed) {
                return Err(at_key(
                    field,
                    format!("Remote leafnode nkey is not a valid seed: {seed:?}"),
                ));
            }
            if remote.credentials.is_some() {
                return Err(at_key(
                    field,
                    "Remote leafnode can not have both creds and nkey defined",
                ));
            }
            remote.nkey_seed = Some(seed.to_string());
        }
        "tls" => remote.tls = Some(remote_tls(field)?),
        "hub" => remote.hub = boolean(field)?,
        "deny_imports" | "deny_import" => {
            remote.deny_imports = subjects(&field.value, field, false)?
        }
        "deny_exports" | "deny_export" => {
            remote.deny_exports = subjects(&field.value, field, false)?
        }
        "ws_compress" | "ws_compression" | "websocket_compress" | "websocket_compression" => {
            remote.ws_compression = boolean(field)?
        }
        "ws_no_masking" | "websocket_no_masking" => remote.ws_no_masking = boolean(field)?,
        "jetstream_cluster_migrate" | "js_cluster_migrate" => match &field.value.value {
            Value::Bool(false) => {}
            Value::Bool(true) => return Err(not_supported(field)),
            Value::Map(m) => {
                if let Some(delay) = m.get("leader_migrate_delay") {
                    parse_duration(delay, "leader_migrate_delay", report)?;
                }
                return Err(not_supported(field));
            }
            other => {
                return Err(at_key(
                    field,
                    format!(
                        "Expected boolean or map for jetstream_cluster_migrate, got {}",
                        go_type(other)
                    ),
                ))
            }
        },
        "isolate_leafnode_interest" | "isolate" | "request_isolation" => refuse_if_true(field)?,
        "compression" => compression(field, report)?,
        "first_info_timeout" => {
            let nanos = parse_duration(field, &field.key, report)?;
            // Zero or less is the default, as in nats-server.
            if nanos > 0 {
                remote.first_info_timeout = to_duration(nanos);
            }
        }
        "dial_timeout" => {
            parse_duration(field, &field.key, report)?;
            ignored(field, report);
        }
        "disabled" => remote.disabled = boolean(field)?,
        "proxy" => *proxy_url = proxy(field, report)?,
        "ignore_discovered_servers" => remote.ignore_discovered_servers = boolean(field)?,
        _ => unknown_field(field)?,
    }
    Ok(())
}

/// nats-server's `parseURLs`: a URL given twice is dropped with a warning.
fn url_list(items: &[Node], report: &mut Report<'_>) -> Result<Vec<RemoteUrl>> {
    let mut seen: Vec<&str> = Vec::with_capacity(items.len());
    let mut urls = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = &item.value else {
            return Err(Diagnostic::at(
                item.pos.clone(),
                format!(
                    "error parsing leafnode urls: unsupported type in array {}",
                    item.value.kind()
                ),
            ));
        };
        if seen.contains(&s.as_str()) {
            report.warnings.push(Diagnostic::at(
                item.pos.clone(),
                format!("invalid use of field {s:?}: Duplicate leafnode entry detected"),
            ));
            continue;
        }
        seen.push(s);
        urls.push(RemoteUrl::parse(s).map_err(|e| Diagnostic::at(item.pos.clone(), e))?);
    }
    Ok(urls)
}

/// A remote's `tls {}`: the client side of the handshake.
fn remote_tls(field: &Entry) -> Result<TlsOptions> {
    let mut tls = super::tls::tls(field)?;
    if let Value::Map(block) = &field.value.value {
        if let Some(insecure) = block.entries().iter().find(|e| {
            e.key.eq_ignore_ascii_case("insecure") && matches!(e.value.value, Value::Bool(true))
        }) {
            // nats-server would not verify the hub's certificate.
            return Err(at_key(
                insecure,
                format!("leafnodes: tls {} is not supported by natsd", insecure.key),
            ));
        }
    }
    // A remote has no fallback: `auto` or a delay is the handshake first.
    if let HandshakeFirst::Fallback(_) = tls.handshake_first {
        tls.handshake_first = HandshakeFirst::On;
    }
    Ok(tls)
}

/// A remote's `proxy {}`, checked as nats-server's
/// `validateLeafNodeProxyOptions` (v2.15's texts) as far as it can be
/// without the remote's other keys. A proxy with a URL is refused after
/// them (see [`remote`]); without one nats-server does not use it either.
fn proxy<'a>(field: &'a Entry, report: &mut Report<'_>) -> Result<Option<&'a Entry>> {
    let Value::Map(block) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "Expected proxy to be a map, got {}",
                go_type(&field.value.value)
            ),
        ));
    };
    let (mut url, mut username, mut password, mut timeout) = ("", "", "", 0);
    let mut tls = false;
    for f in block.entries() {
        match f.key.to_lowercase().as_str() {
            "url" => url = string(f)?,
            "username" => username = string(f)?,
            "password" => password = string(f)?,
            "timeout" => timeout = parse_duration(f, "proxy timeout", report)?,
            "tls" => {
                super::tls::tls(f)?;
                tls = true;
            }
            _ => unknown_field(f)?,
        }
    }
    if url.is_empty() {
        if !username.is_empty() || !password.is_empty() || timeout != 0 || tls {
            return Err(at_key(
                field,
                "proxy URL must be specified when other proxy options are set",
            ));
        }
        return Ok(None);
    }
    let parsed = GoUrl::parse(url).map_err(|e| at_key(field, format!("invalid proxy URL: {e}")))?;
    if parsed.scheme != "http" && parsed.scheme != "https" {
        return Err(at_key(
            field,
            format!(
                "proxy URL scheme must be http or https, got: {}",
                parsed.scheme
            ),
        ));
    }
    if tls && parsed.scheme != "https" {
        return Err(at_key(
            field,
            format!(
                "proxy TLS configuration requires an https proxy URL, got: {}",
                parsed.scheme
            ),
        ));
    }
    if parsed.host.is_empty() {
        return Err(at_key(field, "proxy URL must specify a host"));
    }
    if timeout < 0 {
        return Err(at_key(field, "proxy timeout must be >= 0"));
    }
    if username.is_empty() != password.is_empty() {
        return Err(at_key(
            field,
            "proxy username and password must both be specified or both be empty",
        ));
    }
    Ok(Some(field))
}

/// nats-server's `parseCompression` and `validateAndNormalizeCompressionOption`
/// (which nats-server runs when it starts): natsd does not compress leaf
/// connections, so a mode that would is accepted with a word.
fn compression(field: &Entry, report: &mut Report<'_>) -> Result<()> {
    let c = super::compression::parse(field, "s2_auto")?;
    let mode =
        super::compression::normalize(&c, "s2_auto", "s2_auto").map_err(|e| at_key(field, e))?;
    if !super::compression::compresses(&mode) {
        return Ok(());
    }
    report.unsupported.push(at_key(
        field,
        format!(
            "leafnodes: {} {:?} is not supported by natsd and is ignored: leaf connections are \
             not compressed (as with compression: off)",
            field.key,
            if c.mode.is_empty() {
                "s2_auto"
            } else {
                &c.mode
            }
        ),
    ));
    Ok(())
}

/// nats-server's `checkLeafMinVersionConfig`.
fn check_min_version(version: &str) -> std::result::Result<(), String> {
    let (major, minor, patch) =
        semver(version).map_err(|e| format!("invalid leafnode's minimum version: {e}"))?;
    if (major, minor, patch) < (2, 8, 0) {
        return Err("the minimum version should be at least 2.8.0".into());
    }
    Ok(())
}

/// nats-server's `versionComponents`: `major.minor.patch`, without
/// leading zeros, with an optional `-prerelease` and `+build`.
fn semver(version: &str) -> std::result::Result<(i64, i64, i64), String> {
    let invalid = || "invalid semver".to_string();
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let alnum_dash =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if let Some(build) = build {
        if !build.split('.').all(alnum_dash) {
            return Err(invalid());
        }
    }
    if let Some(pre) = pre {
        let ok = pre.split('.').all(|id| {
            alnum_dash(id)
                && (!id.bytes().all(|b| b.is_ascii_digit()) || id == "0" || !id.starts_with('0'))
        });
        if !ok {
            return Err(invalid());
        }
    }
    let numbers: Vec<&str> = core.split('.').collect();
    if numbers.len() != 3
        || numbers.iter().any(|n| {
            n.is_empty()
                || !n.bytes().all(|b| b.is_ascii_digit())
                || (n.len() > 1 && n.starts_with('0'))
        })
    {
        return Err(invalid());
    }
    let number = |n: &str| {
        n.parse::<i64>()
            .map_err(|_| format!("strconv.Atoi: parsing {n:?}: value out of range"))
    };
    Ok((
        number(numbers[0])?,
        number(numbers[1])?,
        number(numbers[2])?,
    ))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A key natsd would have to act on and cannot.
fn not_supported(field: &Entry) -> Diagnostic {
    at_key(
        field,
        format!("leafnodes: {} is not supported by natsd", field.key),
    )
}

/// A boolean that natsd can only honor when false.
fn refuse_if_true(field: &Entry) -> Result<()> {
    if boolean(field)? {
        return Err(not_supported(field));
    }
    Ok(())
}

/// A key whose absence only costs speed: the server starts without it.
fn ignored(field: &Entry, report: &mut Report<'_>) {
    report.unsupported.push(at_key(
        field,
        format!(
            "leafnodes: {} is not supported by natsd and is ignored",
            field.key
        ),
    ));
}

/// nats-io/nkeys' `DecodeSeed` of a user seed (`SU...`), as written.
fn valid_user_seed(seed: &str) -> bool {
    #[cfg(feature = "jwt")]
    {
        use crate::auth::nkeys::{KeyKind, KeyPair};
        seed.trim() == seed
            && KeyPair::from_seed(seed).is_ok_and(|pair| pair.kind() == KeyKind::User)
    }
    #[cfg(not(feature = "jwt"))]
    {
        let _ = seed;
        false
    }
}

/// nats-server's `expandPath`: Go's `os.ExpandEnv` (`$VAR`, `${VAR}`,
/// unset is empty), then a leading `~` is `$HOME`.
fn expand_path(path: &str, report: &Report<'_>) -> std::result::Result<String, String> {
    let env = |name: &str| report.loader.env(name).unwrap_or_default();
    let expanded = expand_env(path, &env);
    let Some(rest) = expanded.strip_prefix('~') else {
        return Ok(expanded);
    };
    let home = env("HOME");
    if home.is_empty() {
        return Err("failed to get home dir, require $HOME".into());
    }
    // Go's filepath.Join: one separator between, cleaned.
    let rest = rest.trim_start_matches('/');
    Ok(if rest.is_empty() {
        home.trim_end_matches('/').to_string()
    } else {
        format!("{}/{rest}", home.trim_end_matches('/'))
    })
}

/// Go's `os.Expand`.
fn expand_env(s: &str, env: &dyn Fn(&str) -> String) -> String {
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut from = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            out.push_str(&s[from..i]);
            let rest = &s[i + 1..];
            let r = rest.as_bytes();
            let (name, width) = if r[0] == b'{' {
                if r.len() > 2 && special(r[1]) && r[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(end) => (&rest[1..=end], end + 2),
                        None => ("", 1),
                    }
                }
            } else if special(r[0]) {
                (&rest[..1], 1)
            } else {
                let end = r
                    .iter()
                    .position(|&c| !(c == b'_' || c.is_ascii_alphanumeric()))
                    .unwrap_or(r.len());
                (&rest[..end], end)
            };
            if !name.is_empty() {
                out.push_str(&env(name));
            } else if width == 0 {
                out.push('$');
            }
            i += width + 1;
            from = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&s[from.min(s.len())..]);
    out
}

/// A remote's URL: as written (trimmed), and where its authority ends,
/// for the default port.
#[derive(Debug, Clone)]
struct RemoteUrl {
    text: String,
    /// Where `host[:port]` ends in `text`.
    host_end: usize,
    has_port: bool,
}

impl RemoteUrl {
    /// nats-server's `parseURL` (Go's `url.Parse` of the trimmed text),
    /// and natsd's own check that there is a host to dial: nats-server
    /// takes `hub:7422` (no scheme) as an opaque URL and dials nothing.
    fn parse(written: &str) -> std::result::Result<RemoteUrl, String> {
        let text = written.trim();
        let refused = || format!("error parsing leafnode url [{text:?}]");
        let url = GoUrl::parse(text).map_err(|_| refused())?;
        if url.hostname().is_empty() {
            return Err(format!(
                "{}: no host (a URL such as nats-leaf://host:7422 is expected)",
                refused()
            ));
        }
        Ok(RemoteUrl {
            text: text.to_string(),
            host_end: url.host_end,
            has_port: url.port().is_some_and(|p| !p.is_empty()),
        })
    }

    /// With nats-server's default port when it has none.
    fn with_port(&self) -> String {
        if self.has_port {
            return self.text.clone();
        }
        let (head, tail) = self.text.split_at(self.host_end);
        format!(
            "{}:{DEFAULT_LEAFNODE_PORT}{tail}",
            head.strip_suffix(':').unwrap_or(head)
        )
    }
}

#[cfg(test)]
#[path = "leafnodes_tests.rs"]
mod tests;
