//! The `cluster {}` block, with nats-server's keys, aliases, defaults and
//! texts: `parseCluster` (with the cluster's part of `parseAuthorization`,
//! `parseUserPermissions`, `parseURLs` and `parseCompression`) and the
//! cluster part of `setBaselineOptions`. What nats-server checks when it
//! starts (`validateCluster`) is `Options::validate`'s.
//!
//! natsd neither pools nor compresses routes. It warns (`Loaded::
//! unsupported`) for `pool_size` other than -1 (it behaves as
//! `pool_size: -1`) and for a `compression` other than off (it behaves as
//! `compression: off`). It refuses (`cluster: <key> is not supported by
//! natsd`) `accounts` (pinned accounts need pooling; with `pool_size: -1`
//! nats-server refuses them too, with its own text), `write_timeout:
//! close`, `tls { insecure: true }` (natsd always verifies its peers) and
//! `tls { verify_cert_and_check_known_urls: true }`.
//!
//! A route URL without a host or a port is refused: nats-server accepts
//! it and then fails to dial it, every second, forever.

use super::accounts::{go_type, permissions};
use super::options::{
    at_key, auth_timeout, boolean, int_in, invalid_use, listen, map, parse_duration, string,
    string_or_list, to_duration, unknown_field, user_list, wrong_type, Report, Result,
};
use super::url::GoUrl;
use super::value::{Entry, Node, Value};
use super::Diagnostic;
use crate::options::{
    ClusterListen, ClusterOptions, Permissions, RoutePermissions, SubjectPermission, TlsOptions,
    DEFAULT_HOST, ROUTE_MAX_PING_INTERVAL,
};

/// `cluster { ... }`. Errors of separate keys are all reported, as
/// nats-server does.
pub(super) fn cluster(entry: &Entry, report: &mut Report<'_>) -> Result<ClusterOptions> {
    let Value::Map(block) = &entry.value.value else {
        return Err(at_key(
            entry,
            format!(
                "Expected map to define cluster, got {}",
                go_type(&entry.value.value)
            ),
        ));
    };
    let mut cluster = ClusterOptions::default();
    let mut perms = Perms::default();
    let mut accounts: Option<&Entry> = None;
    let mut pool_size: Option<&Entry> = None;
    let mut compression: Option<&Entry> = None;
    let errors = report.errors.len();
    for field in block.entries() {
        let key = field.key.to_lowercase();
        let result = match key.as_str() {
            "accounts" => {
                accounts = Some(field);
                string_or_list(field, "accounts", |other| {
                    at_key(
                        field,
                        format!(
                            "error parsing accounts: unsupported type {}",
                            go_type(other)
                        ),
                    )
                })
                .map(|names| {
                    cluster.pinned_accounts = names.iter().map(|s| s.to_string()).collect()
                })
            }
            "pool_size" => {
                pool_size = Some(field);
                int_in(field).map(|n| cluster.pool_size = n)
            }
            "compression" => {
                compression = Some(field);
                super::compression::parse(field, "s2_fast").and_then(|c| {
                    // Checked when nats-server starts; natsd checks at once.
                    let mode = super::compression::normalize(&c, "s2_fast", "accept")
                        .map_err(|e| at_key(field, e))?;
                    cluster.compression = mode;
                    Ok(())
                })
            }
            _ => cluster_key(field, &mut cluster, &mut perms, report),
        };
        if let Err(e) = result {
            report.errors.push(e);
        }
    }
    // The top-level `permissions` win over the authorization block's,
    // wherever each is written.
    cluster.permissions = perms.top.or(perms.authorization);
    if report.errors.len() > errors {
        return Ok(cluster);
    }
    if let (Some(field), false) = (accounts, cluster.pinned_accounts.is_empty()) {
        if cluster.pool_size >= 0 {
            // Routes of their own for some accounts: a pool natsd does not
            // make.
            return Err(at_key(
                field,
                format!(
                    "cluster: {} is not supported by natsd: pinned accounts need route pooling, \
                     which natsd does not do (it behaves as pool_size: -1)",
                    field.key
                ),
            ));
        }
        // nats-server's own refusal (validateCluster).
        return Err(at_key(
            field,
            "pool_size cannot be negative if pinned accounts are specified",
        ));
    }
    if let (Some(field), false) = (pool_size, cluster.pool_size == -1) {
        report.unsupported.push(at_key(
            field,
            format!(
                "cluster: {} {} is not supported by natsd and is ignored: natsd does not pool \
                 routes (it behaves as pool_size: -1)",
                field.key, cluster.pool_size
            ),
        ));
    }
    if let Some(field) = compression {
        if super::compression::compresses(&cluster.compression) {
            report.unsupported.push(at_key(
                field,
                format!(
                    "cluster: {} {:?} is not supported by natsd and is ignored: natsd does not \
                     compress routes (it behaves as compression: off)",
                    field.key, cluster.compression
                ),
            ));
        }
    }
    // setBaselineOptions.
    if cluster.port != 0 && cluster.host.is_empty() {
        cluster.host = DEFAULT_HOST.to_string();
    }
    Ok(cluster)
}

/// The two places permissions may come from.
#[derive(Default)]
struct Perms {
    top: Option<RoutePermissions>,
    authorization: Option<RoutePermissions>,
}

fn cluster_key(
    field: &Entry,
    cluster: &mut ClusterOptions,
    perms: &mut Perms,
    report: &mut Report<'_>,
) -> Result<()> {
    match field.key.to_lowercase().as_str() {
        "name" => {
            let name = string(field)?;
            if name.contains(' ') {
                return Err(at_key(field, "cluster name cannot contain spaces"));
            }
            cluster.name = non_empty(name);
        }
        "listen" => {
            let (host, port) = listen(field)?;
            cluster.host = host.unwrap_or_default();
            cluster.port = port;
        }
        "port" => cluster.port = int_in(field)?,
        "host" | "net" => cluster.host = string(field)?.to_string(),
        "authorization" => authorization(field, cluster, perms, report)?,
        "routes" => {
            let Value::Array(items) = &field.value.value else {
                return Err(wrong_type(field, "an array", &field.value.value));
            };
            cluster.routes = route_urls(items, report)?;
        }
        "tls" => cluster.tls = Some(route_tls(field)?),
        "cluster_advertise" | "advertise" => cluster.advertise = non_empty(string(field)?),
        "no_advertise" => cluster.no_advertise = boolean(field)?,
        "connect_retries" => cluster.connect_retries = int_in(field)?,
        "connect_backoff" => cluster.connect_backoff = boolean(field)?,
        "permissions" => {
            let p = permissions(field)?;
            if p.response.is_some() {
                return Err(at_key(
                    field,
                    "Cluster permissions do not support dynamic responses",
                ));
            }
            check_subjects(&p).map_err(|e| at_key(field, e))?;
            perms.top = Some(route_permissions(p));
        }
        "ping_interval" => {
            let nanos = parse_duration(field, "ping_interval", report)?;
            if nanos < 0 {
                return Err(at_key(field, "ping_interval can not be negative"));
            }
            let interval = to_duration(nanos);
            if interval > ROUTE_MAX_PING_INTERVAL {
                report.warnings.push(at_key(
                    field,
                    format!(
                        "Cluster 'ping_interval' will reset to {} which is the max for routes",
                        crate::go_format::duration(ROUTE_MAX_PING_INTERVAL)
                    ),
                ));
            }
            cluster.ping_interval = (nanos != 0).then_some(interval);
        }
        "ping_max" => {
            let n: i32 = int_in(field)?;
            cluster.max_pings_out = (n != 0).then_some(n);
        }
        "write_deadline" => {
            let nanos = parse_duration(field, "write_deadline", report)?;
            if nanos < 0 {
                return Err(at_key(field, "write_deadline can not be negative"));
            }
            cluster.write_deadline = (nanos != 0).then(|| to_duration(nanos));
        }
        "write_timeout" => {
            let policy = string(field)?;
            if !matches!(policy, "default" | "close" | "retry") {
                return Err(at_key(
                    field,
                    "write_timeout must be 'default', 'close' or 'retry'",
                ));
            }
            // `retry` is what `default` means for routes; closing a route
            // that falls behind is not natsd's way.
            if policy == "close" {
                return Err(not_supported(field));
            }
        }
        _ => unknown_field(field)?,
    }
    Ok(())
}

/// The cluster's `authorization {}`: nats-server's `parseAuthorization`,
/// then what a cluster refuses of it.
fn authorization(
    entry: &Entry,
    cluster: &mut ClusterOptions,
    perms: &mut Perms,
    report: &mut Report<'_>,
) -> Result<()> {
    let block = map(entry)?;
    let (mut user, mut password, mut token) = (None, None, None);
    let mut timeout = None;
    let mut users = false;
    let mut callout = false;
    let mut default_permissions = None;
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "user" | "username" => user = non_empty(string(field)?),
            "pass" | "password" => password = non_empty(string(field)?),
            "token" => token = non_empty(string(field)?),
            "timeout" => timeout = Some(auth_timeout(field, report)?),
            "users" => {
                user_list(field)?;
                users = true;
            }
            "default_permission" | "default_permissions" | "permissions" => {
                default_permissions = Some(permissions(field)?)
            }
            "auth_callout" | "auth_hook" => callout = true,
            // nats-server reads it and routes never use it.
            "proxy_required" => {
                boolean(field)?;
            }
            _ => unknown_field(field)?,
        }
    }
    if users {
        return Err(at_key(
            entry,
            "Cluster authorization does not allow multiple users",
        ));
    }
    if token.is_some() {
        return Err(at_key(
            entry,
            "Cluster authorization does not support tokens",
        ));
    }
    if callout {
        return Err(at_key(
            entry,
            "Cluster authorization does not support callouts",
        ));
    }
    cluster.username = user;
    cluster.password = password;
    cluster.auth_timeout = timeout.filter(|t| !t.is_zero());
    if let Some(p) = default_permissions {
        check_subjects(&p).map_err(|e| at_key(entry, e))?;
        report.warnings.push(invalid_use(
            entry,
            "setting \"permissions\" within cluster authorization block is deprecated",
        ));
        perms.authorization = Some(route_permissions(p));
    }
    Ok(())
}

/// nats-server's `setClusterPermissions`: publish is import, subscribe is
/// export.
fn route_permissions(p: Permissions) -> RoutePermissions {
    RoutePermissions {
        import: p.publish,
        export: p.subscribe,
    }
}

/// nats-server's `checkClusterPermissionSubjects`: plain subjects only (no
/// queue groups).
fn check_subjects(p: &Permissions) -> std::result::Result<(), String> {
    let check = |what: &str, perm: &Option<SubjectPermission>| {
        let Some(perm) = perm else {
            return Ok(());
        };
        for (list, kind) in [
            (perm.allow.as_deref().unwrap_or(&[]), "allow"),
            (&perm.deny, "deny"),
        ] {
            if let Some(bad) = list
                .iter()
                .find(|s| !crate::subject::is_valid_subject(s.as_bytes()))
            {
                return Err(format!(
                    "cluster {what} {kind}: subject {bad:?} is not a valid subject"
                ));
            }
        }
        Ok(())
    };
    check("import", &p.publish)?;
    check("export", &p.subscribe)
}

/// nats-server's `parseURLs` for routes: a URL given twice is dropped
/// with a warning.
fn route_urls(items: &[Node], report: &mut Report<'_>) -> Result<Vec<String>> {
    let mut seen: Vec<&str> = Vec::with_capacity(items.len());
    let mut urls = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = &item.value else {
            return Err(Diagnostic::at(
                item.pos.clone(),
                format!(
                    "error parsing route urls: unsupported type in array {}",
                    go_type(&item.value)
                ),
            ));
        };
        if seen.contains(&s.as_str()) {
            report.warnings.push(Diagnostic::at(
                item.pos.clone(),
                format!("invalid use of field {s:?}: Duplicate route entry detected"),
            ));
            continue;
        }
        seen.push(s);
        urls.push(route_url(s).map_err(|e| Diagnostic::at(item.pos.clone(), e))?);
    }
    Ok(urls)
}

/// nats-server's `parseURL` (Go's `url.Parse` of the trimmed text), and
/// natsd's own check that there is a host and a port to dial.
pub(crate) fn route_url(written: &str) -> std::result::Result<String, String> {
    let text = written.trim();
    let refused = || format!("error parsing route url [{text:?}]");
    let url = GoUrl::parse(text).map_err(|_| refused())?;
    let expected = "a URL such as nats-route://host:6222 is expected";
    if url.hostname().is_empty() {
        return Err(format!("{}: no host ({expected})", refused()));
    }
    if url.port().is_none_or(str::is_empty) {
        return Err(format!("{}: no port ({expected})", refused()));
    }
    Ok(text.to_string())
}

/// The cluster's `tls {}`: nats-server's `getTLSConfig`, which always
/// verifies the peer.
fn route_tls(field: &Entry) -> Result<TlsOptions> {
    if let Value::Map(block) = &field.value.value {
        for f in block.entries() {
            let key = f.key.to_lowercase();
            let declined = matches!(
                key.as_str(),
                "insecure" | "verify_cert_and_check_known_urls"
            ) && matches!(f.value.value, Value::Bool(true));
            if declined {
                // `insecure`: nats-server would not verify the peers it
                // dials; natsd always does. Checking the peer's name
                // against the known URLs natsd does not do either.
                return Err(at_key(
                    f,
                    format!("cluster: tls {} is not supported by natsd", f.key),
                ));
            }
        }
    }
    let mut tls = super::tls::tls(field)?;
    for pin in &tls.pinned_certs {
        if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(at_key(
                field,
                format!(
                    "error parsing tls config, 'pinned_certs' key {pin} does not look like \
                     hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                ),
            ));
        }
    }
    tls.verify = true;
    Ok(tls)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A key natsd would have to act on and cannot.
fn not_supported(field: &Entry) -> Diagnostic {
    at_key(
        field,
        format!("cluster: {} is not supported by natsd", field.key),
    )
}

/// `--cluster` / `--cluster_listen`: nats-server's `overrideCluster`, with
/// its texts. An empty URL turns the route listener off; `:-1` picks a
/// free port; `user:password@` in the URL is the cluster's authorization
/// (and without it the file's is dropped).
pub fn cluster_listen_flag(text: &str) -> std::result::Result<ClusterListen, String> {
    if text.is_empty() {
        return Ok(ClusterListen::Off);
    }
    let (text, random) = match text.strip_suffix(":-1") {
        Some(head) => (format!("{head}:0"), true),
        None => (text.to_string(), false),
    };
    let url = GoUrl::parse(&text)?;
    let missing_port = || {
        if url.host.is_empty() {
            "missing port in address".to_string()
        } else {
            format!("address {}: missing port in address", url.host)
        }
    };
    let port = url.port().ok_or_else(missing_port)?;
    if url.host.starts_with('[') != url.host.contains(']') {
        return Err(format!("address {}: missing ']' in address", url.host));
    }
    if !url.host.starts_with('[') && url.hostname().contains(':') {
        return Err(format!("address {}: too many colons in address", url.host));
    }
    let port = if random {
        -1
    } else if port.is_empty() {
        return Err("EOF".into());
    } else {
        port.parse::<i32>()
            .map_err(|_| format!("strconv.ParseInt: parsing {port:?}: value out of range"))?
    };
    let (username, password) = match userinfo(&text) {
        None => (None, None),
        Some(info) => match info.split_once(':') {
            Some((user, pass)) => (Some(unescape(user)), Some(unescape(pass))),
            None => return Err("expected cluster password to be set".into()),
        },
    };
    Ok(ClusterListen::Url {
        host: url.hostname().to_string(),
        port,
        username,
        password,
    })
}

/// `--routes`: a comma-separated list of route URLs (nats-server's
/// `RoutesFromStr`); empty is none. Each is checked as the file's are,
/// where nats-server would silently skip one it cannot parse.
pub fn routes_flag(text: &str) -> std::result::Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(route_url).collect()
}

/// The `user[:password]` of a URL with an authority.
fn userinfo(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("//")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority.rsplit_once('@').map(|(info, _)| info)
}

/// Go's `url.PathUnescape` of a user name or password (the URL parsed,
/// so every `%` starts two hex digits).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
