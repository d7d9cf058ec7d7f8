//! What each key of the config file means for [`Options`]: nats-server's
//! `processConfigFileLine`, `parseAuthorization` and `parseUsers`, with
//! their names, accepted types, defaults and error texts.
//!
//! Errors point at the key, as nats-server's do; all of a file's errors are
//! collected before it is refused.

use std::path::PathBuf;
use std::time::Duration;

use super::accounts;
use super::duration;
use super::keys::{self, Unsupported};
use super::value::{Entry, Map, Value};
use super::Diagnostic;
use crate::go_format;
use crate::options::{monitor_not_built, Options, User, DEFAULT_HOST, DEFAULT_PORT, MONITOR_BUILT};

pub(super) type Result<T> = std::result::Result<T, Diagnostic>;

pub(super) struct Report<'a> {
    /// Reads the files keys name (an operator's JWT).
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    pub loader: &'a mut dyn super::Loader,
    pub errors: &'a mut Vec<Diagnostic>,
    pub warnings: &'a mut Vec<Diagnostic>,
    pub unsupported: &'a mut Vec<Diagnostic>,
}

/// Set `opts` from the file's top-level keys, in the order they were
/// written. Returns whether the file chose the monitor's host (`http:
/// "host:port"`); if not, it follows the client host, as in nats-server.
pub(super) fn apply(map: &Map, opts: &mut Options, report: &mut Report<'_>) -> bool {
    let mut http_host_set = false;
    for entry in map.entries() {
        if let Err(e) = apply_key(entry, opts, report, &mut http_host_set) {
            report.errors.push(e);
        }
    }
    #[cfg(feature = "jwt")]
    if report.errors.is_empty() {
        if let Err(e) = super::operator::finish(map, opts) {
            report.errors.push(e);
        }
    }
    http_host_set
}

fn apply_key(
    entry: &Entry,
    opts: &mut Options,
    report: &mut Report<'_>,
    http_host_set: &mut bool,
) -> Result<()> {
    let defaults = Options::default();
    match entry.key.to_lowercase().as_str() {
        "listen" => {
            let (host, port) = listen(entry)?;
            opts.host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
            opts.port = client_port(port);
        }
        "port" => opts.port = client_port(int_in::<i32>(entry)?),
        "host" | "net" => {
            let host = string(entry)?;
            opts.host = if host.is_empty() { DEFAULT_HOST } else { host }.to_string();
        }
        "server_name" => {
            let name = string(entry)?;
            if name.contains(' ') {
                return Err(at_key(entry, "server name cannot contain spaces"));
            }
            opts.server_name = Some(name.to_string());
        }
        "debug" => opts.debug = boolean(entry)?,
        "trace" => opts.trace = boolean(entry)?,
        // Verbose tracing adds the system account's traffic; natsd has none.
        "trace_verbose" => opts.trace = boolean(entry)?,
        "logtime" => opts.logtime = boolean(entry)?,
        "logfile" | "log_file" => opts.log_file = path(entry)?,
        "pidfile" | "pid_file" => opts.pid_file = path(entry)?,
        "ports_file_dir" => opts.ports_file_dir = path(entry)?,
        "max_control_line" => {
            opts.max_control_line = default_if_zero(size_limit(entry)?, defaults.max_control_line)
        }
        "max_payload" => {
            opts.max_payload = default_if_zero(size_limit(entry)?, defaults.max_payload)
        }
        "max_pending" => {
            opts.max_pending = default_if_zero(non_negative::<u64>(entry)?, defaults.max_pending)
        }
        "max_connections" | "max_conn" => {
            // nats-server takes 0 (and anything negative) as "no client
            // at all"; so does natsd's 0.
            let max = integer(entry)?;
            opts.max_connections = usize::try_from(max).unwrap_or(0);
        }
        "max_subscriptions" | "max_subs" => opts.max_subscriptions = non_negative(entry)?,
        "ping_interval" => {
            let interval = duration_or_seconds(entry, report)?;
            opts.ping_interval = default_if_zero(interval, defaults.ping_interval);
        }
        "ping_max" => {
            opts.max_pings_out = default_if_zero(non_negative(entry)?, defaults.max_pings_out)
        }
        "write_deadline" => {
            let deadline = duration_or_seconds(entry, report)?;
            opts.write_deadline = default_if_zero(deadline, defaults.write_deadline);
        }
        "lame_duck_duration" => {
            let nanos = duration_string(entry)?;
            if nanos < 30 * 1_000_000_000 {
                return Err(at_key(
                    entry,
                    format!(
                        "invalid lame_duck_duration of {}, minimum is 30 seconds",
                        go_duration(nanos)
                    ),
                ));
            }
            opts.lame_duck_duration = nanos_to_duration(nanos);
        }
        "lame_duck_grace_period" => {
            let nanos = duration_string(entry)?;
            if nanos < 0 {
                return Err(at_key(
                    entry,
                    "invalid lame_duck_grace_period, needs to be positive",
                ));
            }
            opts.lame_duck_grace_period =
                default_if_zero(nanos_to_duration(nanos), defaults.lame_duck_grace_period);
        }
        "http" => {
            let (host, port) = listen(entry)?;
            if let Some(host) = host {
                opts.http_host = host;
                *http_host_set = true;
            }
            opts.http_port = monitor_port(entry, port)?;
        }
        "http_port" | "monitor_port" => opts.http_port = monitor_port(entry, int_in(entry)?)?,
        "https" | "https_port" if !MONITOR_BUILT => {
            return Err(at_key(entry, monitor_not_built(&entry.key)));
        }
        "https" => {
            let (host, port) = listen(entry)?;
            if let Some(host) = host {
                opts.http_host = host;
                *http_host_set = true;
            }
            opts.https_port = monitor_port(entry, port)?;
        }
        "https_port" => opts.https_port = monitor_port(entry, int_in(entry)?)?,
        "http_base_path" => opts.http_base_path = string(entry)?.to_string(),
        "authorization" => authorization(entry, opts, report)?,
        "no_auth_user" => opts.no_auth_user = Some(string(entry)?.to_string()),
        "accounts" => accounts::accounts(entry, opts, report)?,
        "store_dir" | "storedir" => opts.store_dir = path(entry)?,
        "jetstream" => {
            if jetstream_enabled(entry) {
                return Err(refused(entry, "natsd has no JetStream yet"));
            }
        }
        #[cfg(feature = "jwt")]
        "operator" | "operators" | "root" | "roots" | "root_operator" | "root_operators" => {
            super::operator::operators(entry, opts, report)?
        }
        #[cfg(feature = "jwt")]
        "trusted" | "trusted_keys" => super::operator::trusted_keys(entry, opts)?,
        #[cfg(feature = "jwt")]
        "resolver" | "account_resolver" | "accounts_resolver" => {
            super::operator::resolver(entry, opts)?
        }
        #[cfg(feature = "jwt")]
        "resolver_preload" => super::operator::preload(entry, opts)?,
        #[cfg(not(feature = "jwt"))]
        "operator" | "operators" | "root" | "roots" | "root_operator" | "root_operators"
        | "trusted" | "trusted_keys" | "resolver" | "account_resolver" | "accounts_resolver"
        | "resolver_preload" => {
            return Err(at_key(
                entry,
                crate::options::jwt_not_built(&format!("{:?}", entry.key)),
            ))
        }
        // Parsed and checked as nats-server does; `Options::validate`
        // refuses it until the TLS transport is in.
        "tls" => opts.tls = Some(super::tls::tls(entry)?),
        "allow_non_tls" => opts.allow_non_tls = boolean(entry)?,
        "websocket" | "ws" => opts.websocket = super::websocket::websocket(entry, report)?,
        #[cfg(feature = "leafnodes")]
        "leafnodes" | "leaf" => opts.leafnodes = Some(super::leafnodes::leafnodes(entry, report)?),
        #[cfg(not(feature = "leafnodes"))]
        "leafnodes" | "leaf" => return Err(at_key(entry, crate::options::leafnodes_not_built())),
        #[cfg(feature = "cluster")]
        "cluster" => opts.cluster = Some(super::cluster::cluster(entry, report)?),
        #[cfg(not(feature = "cluster"))]
        "cluster" => return Err(at_key(entry, crate::options::cluster_not_built())),
        "system_account" | "system" => {
            let name = string(entry)?;
            if !name.is_empty() {
                opts.system_account = name.to_string();
            }
        }
        other => match keys::unsupported(other) {
            Some(Unsupported::Ignored) => report.unsupported.push(at_key(
                entry,
                format!(
                    "{:?} is not supported by natsd yet and is ignored",
                    entry.key
                ),
            )),
            Some(Unsupported::Refused(why)) => {
                return Err(at_key(
                    entry,
                    format!("{:?} is not supported: {why}", entry.key),
                ))
            }
            None => unknown_field(entry)?,
        },
    }
    Ok(())
}

/// nats-server's `authorization { ... }`: a single user, a token or a list
/// of users, and the auth timeout. The block replaces all four.
fn authorization(entry: &Entry, opts: &mut Options, report: &mut Report<'_>) -> Result<()> {
    let block = map(entry)?;
    let (mut user, mut password, mut token) = (None, None, None);
    let mut timeout = Duration::ZERO;
    let mut users = None;
    let mut default_permissions = None;
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "user" | "username" => user = Some(string(field)?.to_string()),
            "pass" | "password" => password = Some(string(field)?.to_string()),
            "token" => token = Some(string(field)?.to_string()),
            "timeout" => timeout = auth_timeout(field, report)?,
            "users" => users = Some(user_list(field)?),
            // nats-server applies these to the users list only: a single
            // user or a token gets no permissions from them.
            "default_permission" | "default_permissions" | "permissions" => {
                default_permissions = Some(accounts::permissions(field)?)
            }
            "auth_callout" | "auth_hook" => {
                return Err(refused(field, "natsd has no auth callout yet"))
            }
            "proxy_required" => {
                if boolean(field)? {
                    return Err(refused(field, "natsd has no trusted proxies yet"));
                }
            }
            _ => unknown_field(field)?,
        }
    }
    // nats-server's checks and texts, in its order.
    let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    if (!empty(&user) || !empty(&password)) && !empty(&token) {
        return Err(at_key(entry, "Cannot have a user/pass and token"));
    }
    let account_users: Vec<User> = opts
        .users
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.account.is_some())
        .collect();
    if users.is_some() || !account_users.is_empty() {
        if !empty(&user) {
            return Err(at_key(
                entry,
                "Can not have a single user/pass and a users array",
            ));
        }
        if !empty(&token) {
            return Err(at_key(entry, "Can not have a token and a users array"));
        }
    }
    // An empty string is no credential at all, as in nats-server.
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    opts.username = non_empty(user);
    opts.password = non_empty(password);
    opts.authorization = non_empty(token);
    opts.auth_timeout = default_if_zero(timeout, Options::default().auth_timeout);
    if let Some(users) = &mut users {
        accounts::apply_default_permissions(users, &default_permissions);
        for user in &account_users {
            if users.iter().any(|u| u.username == user.username) {
                return Err(at_key(
                    entry,
                    format!("Duplicate user {:?} detected", user.username),
                ));
            }
        }
    }
    if users.is_some() || !account_users.is_empty() {
        let mut all = users.unwrap_or_default();
        all.extend(account_users);
        opts.users = Some(all);
    }
    Ok(())
}

/// `timeout`: seconds (integer or float) or a duration string.
pub(super) fn auth_timeout(field: &Entry, report: &mut Report<'_>) -> Result<Duration> {
    let seconds = match &field.value.value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        Value::String(s) => {
            let nanos = duration::parse(s).map_err(|e| {
                at_key(
                    field,
                    format!("error parsing authorization config, 'timeout' {e}"),
                )
            })?;
            nanos as f64 / 1e9
        }
        _ => {
            return Err(at_key(
                field,
                "error parsing authorization config, 'timeout' wrong type",
            ))
        }
    };
    if seconds > 60.0 {
        let written = match &field.value.value {
            Value::String(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            _ => seconds.to_string(),
        };
        report.warnings.push(invalid_use(
            field,
            &format!(
                "timeout of {written} ({seconds:.6} seconds) is high, consider keeping it under \
                 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for \
                 example"
            ),
        ));
    }
    if seconds < 0.0 {
        return Err(at_key(field, "authorization timeout can not be negative"));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| at_key(field, "authorization timeout is too big"))
}

/// `users: [ {user: a, password: b}, ... ]`.
pub(super) fn user_list(field: &Entry) -> Result<Vec<User>> {
    let Value::Array(items) = &field.value.value else {
        return Err(at_key(
            field,
            format!(
                "Expected users field to be an array, got {}",
                field.value.value.kind()
            ),
        ));
    };
    let mut users: Vec<User> = Vec::new();
    for item in items {
        let Value::Map(entry) = &item.value else {
            return Err(Diagnostic::at(
                item.pos.clone(),
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    item.value.kind()
                ),
            ));
        };
        let (mut username, mut password, mut nkey) = (None, None, None);
        let mut permissions = None;
        let mut connection_types = None;
        for f in entry.entries() {
            match f.key.to_lowercase().as_str() {
                "user" | "username" => username = Some(string(f)?.to_string()),
                "pass" | "password" => password = Some(string(f)?.to_string()),
                "nkey" => nkey = Some(string(f)?.to_string()),
                "permission" | "permissions" | "authorization" => {
                    permissions = Some(accounts::permissions(f)?)
                }
                "allowed_connection_types" | "connection_types" | "clients" => {
                    connection_types = Some(connection_type_list(f)?)
                }
                "proxy_required" => {
                    if boolean(f)? {
                        return Err(refused(f, "natsd has no trusted proxies yet"));
                    }
                }
                _ => unknown_field(f)?,
            }
        }
        let username = username.unwrap_or_default();
        let password = password.unwrap_or_default();
        let nkey = nkey.filter(|k| !k.is_empty());
        if let Some(nkey) = &nkey {
            // nats-server's parseUsers texts.
            if !username.is_empty() || !password.is_empty() {
                return Err(Diagnostic::at(
                    item.pos.clone(),
                    "Nkey users do not take usernames or passwords",
                ));
            }
            if !valid_user_nkey(nkey) {
                return Err(Diagnostic::at(
                    item.pos.clone(),
                    "Not a valid public nkey for a user",
                ));
            }
            if users.iter().any(|u| u.nkey.as_ref() == Some(nkey)) {
                return Err(at_key(field, format!("Duplicate nkey {nkey:?} detected")));
            }
        } else if username.is_empty() {
            return Err(Diagnostic::at(
                item.pos.clone(),
                "User entry requires a user",
            ));
        }
        if nkey.is_none() && users.iter().any(|u| u.username == username) {
            return Err(at_key(
                field,
                format!("Duplicate user {username:?} detected"),
            ));
        }
        users.push(User {
            username,
            password,
            nkey,
            permissions,
            account: None,
            connection_types,
        });
    }
    Ok(users)
}

/// nats-server's `nkeys.IsValidPublicUserKey`. A build without NKeys
/// takes the key as written; `Options::validate` refuses it.
pub(super) fn valid_user_nkey(nkey: &str) -> bool {
    #[cfg(feature = "jwt")]
    {
        crate::auth::nkeys::is_valid_public_key(nkey, crate::auth::nkeys::KeyKind::User)
    }
    #[cfg(not(feature = "jwt"))]
    {
        !nkey.is_empty()
    }
}

/// nats-server's `jetstream` values: a boolean, `enabled`/`disabled`
/// (`enable`/`disable`), or a map, which enables it unless it says
/// `enabled: false`.
fn jetstream_enabled(entry: &Entry) -> bool {
    match &entry.value.value {
        Value::Bool(b) => *b,
        Value::String(s) => !matches!(s.to_lowercase().as_str(), "disabled" | "disable"),
        Value::Map(m) => !m.entries().iter().any(|e| {
            e.key.eq_ignore_ascii_case("enabled") && matches!(e.value.value, Value::Bool(false))
        }),
        _ => true,
    }
}

/// An `allowed_connection_types` list, upper-cased, after checking every
/// name as nats-server does.
fn connection_type_list(field: &Entry) -> Result<Vec<String>> {
    let names = string_or_list(field, "allowed connection types", |other| {
        wrong_type(field, "an array of strings", other)
    })?;
    names
        .iter()
        .map(|name| {
            let upper = name.to_uppercase();
            if crate::options::CONNECTION_TYPES.contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err(at_key(field, format!("unknown connection type {name:?}")))
            }
        })
        .collect()
}

// ---- values of the types nats-server expects ---------------------------

/// A string or an array of strings; an item of another type is refused
/// with nats-server's `error parsing WHAT: unsupported type in array`,
/// a value of another type with `not_strings`.
pub(super) fn string_or_list<'a>(
    entry: &'a Entry,
    what: &str,
    not_strings: impl Fn(&Value) -> Diagnostic,
) -> Result<Vec<&'a str>> {
    match &entry.value.value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match &item.value {
                Value::String(s) => Ok(s.as_str()),
                other => Err(Diagnostic::at(
                    item.pos.clone(),
                    format!(
                        "error parsing {what}: unsupported type in array {}",
                        other.kind()
                    ),
                )),
            })
            .collect(),
        other => Err(not_strings(other)),
    }
}

pub(super) fn string(entry: &Entry) -> Result<&str> {
    match &entry.value.value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(entry, "a string", other)),
    }
}

/// A file or directory; empty means none.
fn path(entry: &Entry) -> Result<Option<PathBuf>> {
    let s = string(entry)?;
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

pub(super) fn boolean(entry: &Entry) -> Result<bool> {
    match &entry.value.value {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type(entry, "a boolean", other)),
    }
}

fn integer(entry: &Entry) -> Result<i64> {
    match &entry.value.value {
        Value::Integer(n) => Ok(*n),
        other => Err(wrong_type(entry, "an integer", other)),
    }
}

pub(super) fn int_in<T: TryFrom<i64>>(entry: &Entry) -> Result<T> {
    let n = integer(entry)?;
    T::try_from(n).map_err(|_| at_key(entry, format!("{} value {n} is out of range", entry.key)))
}

fn non_negative<T: TryFrom<i64>>(entry: &Entry) -> Result<T> {
    if integer(entry)? < 0 {
        return Err(at_key(
            entry,
            format!("{} value can not be negative", entry.key),
        ));
    }
    int_in(entry)
}

/// max_payload and max_control_line: at most 2^31-1, as nats-server
/// stores them in an int32.
fn size_limit(entry: &Entry) -> Result<u32> {
    if integer(entry)? > i64::from(i32::MAX) {
        return Err(at_key(entry, format!("{} value is too big", entry.key)));
    }
    non_negative(entry)
}

pub(super) fn map(entry: &Entry) -> Result<&Map> {
    match &entry.value.value {
        Value::Map(m) => Ok(m),
        other => Err(wrong_type(entry, "a map", other)),
    }
}

/// nats-server's `parseDuration` for ping_interval and write_deadline: a
/// duration string, or (the old way) an integer of seconds, which it
/// accepts with a warning.
pub(super) fn duration_or_seconds(entry: &Entry, report: &mut Report<'_>) -> Result<Duration> {
    match &entry.value.value {
        Value::String(_) => {
            let nanos = duration_string(entry)?;
            if nanos < 0 {
                return Err(at_key(entry, format!("{} can not be negative", entry.key)));
            }
            Ok(nanos_to_duration(nanos))
        }
        Value::Integer(seconds) => {
            let key = entry.key.to_lowercase();
            report.warnings.push(invalid_use(
                entry,
                &format!("{key} should be converted to a duration"),
            ));
            let seconds = u64::try_from(*seconds)
                .map_err(|_| at_key(entry, format!("{key} can not be negative")))?;
            Ok(Duration::from_secs(seconds))
        }
        other => Err(wrong_type(entry, "a duration (like \"2m\")", other)),
    }
}

/// nats-server's `parseDuration`: a duration string, or (the old way) an
/// integer of seconds, accepted with a warning. `name` is the one
/// nats-server's texts give. In nanoseconds, possibly negative.
#[cfg(any(feature = "leafnodes", feature = "cluster"))]
pub(super) fn parse_duration(field: &Entry, name: &str, report: &mut Report<'_>) -> Result<i128> {
    match &field.value.value {
        Value::String(s) => {
            duration::parse(s).map_err(|e| at_key(field, format!("error parsing {name}: {e}")))
        }
        Value::Integer(seconds) => {
            report.warnings.push(at_key(
                field,
                format!("invalid use of field {name:?}: {name} should be converted to a duration"),
            ));
            Ok(i128::from(*seconds) * 1_000_000_000)
        }
        other => Err(wrong_type(field, "a duration (like \"2m\")", other)),
    }
}

#[cfg(any(feature = "leafnodes", feature = "cluster"))]
pub(super) fn to_duration(nanos: i128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A Go duration string, in nanoseconds.
fn duration_string(entry: &Entry) -> Result<i128> {
    let text = match &entry.value.value {
        Value::String(s) => s,
        other => return Err(wrong_type(entry, "a duration string (like \"2m\")", other)),
    };
    duration::parse(text).map_err(|e| {
        at_key(
            entry,
            format!("error parsing {}: {e}", entry.key.to_lowercase()),
        )
    })
}

/// Callers have refused negative values; a parsed duration fits in i64.
fn nanos_to_duration(nanos: i128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

pub(super) fn go_duration(nanos: i128) -> String {
    let magnitude = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap_or(u64::MAX));
    let sign = if nanos < 0 { "-" } else { "" };
    format!("{sign}{}", go_format::duration(magnitude))
}

/// `listen` and `http`: a port, or "host:port".
pub(super) fn listen(entry: &Entry) -> Result<(Option<String>, i32)> {
    match &entry.value.value {
        Value::Integer(_) => Ok((None, int_in(entry)?)),
        Value::String(s) => {
            let (host, port) = split_host_port(s)
                .ok_or_else(|| at_key(entry, format!("could not parse address string {s:?}")))?;
            let port = port
                .parse::<i32>()
                .map_err(|_| at_key(entry, format!("could not parse port {port:?}")))?;
            Ok(((!host.is_empty()).then(|| host.to_string()), port))
        }
        other => Err(at_key(
            entry,
            format!("expected port or host:port, got {}", other.kind()),
        )),
    }
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port`, `:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let colon = s.rfind(':')?;
    // After the host, no '[' may follow its opening and no ']' its end.
    let (host, no_open_from, no_close_from) = if s.starts_with('[') {
        let close = s.find(']')?;
        if close + 1 != colon {
            return None;
        }
        (&s[1..close], 1, close + 1)
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if s[no_open_from..].contains('[') || s[no_close_from..].contains(']') {
        return None;
    }
    Some((host, &s[colon + 1..]))
}

/// nats-server's port 0 in a file is the default port (natsd's own `-p 0`
/// picks a free port, and so does `-1` in both).
fn client_port(port: i32) -> i32 {
    if port == 0 {
        i32::from(DEFAULT_PORT)
    } else {
        port
    }
}

/// nats-server replaces a zero limit by its default.
fn default_if_zero<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}

// ---- diagnostics -------------------------------------------------------

pub(super) fn at_key(entry: &Entry, message: impl Into<String>) -> Diagnostic {
    Diagnostic::at(entry.key_pos.clone(), message)
}

pub(super) fn wrong_type(entry: &Entry, wanted: &str, got: &Value) -> Diagnostic {
    at_key(
        entry,
        format!("{}: expected {wanted}, got {}", entry.key, got.kind()),
    )
}

/// nats-server's `configWarningErr` text.
pub(super) fn invalid_use(entry: &Entry, reason: &str) -> Diagnostic {
    at_key(
        entry,
        format!("invalid use of field {:?}: {reason}", entry.key),
    )
}

/// The monitor's port, refused when it would turn monitoring on in a build
/// without it.
fn monitor_port(entry: &Entry, port: i32) -> Result<i32> {
    if port != 0 && !MONITOR_BUILT {
        return Err(at_key(entry, monitor_not_built(&entry.key)));
    }
    Ok(port)
}

fn refused(entry: &Entry, why: &str) -> Diagnostic {
    at_key(entry, format!("{:?} is not supported: {why}", entry.key))
}

/// nats-server refuses a key it does not know, unless the file refers to
/// it as a variable (it may be there only for that).
pub(super) fn unknown_field(entry: &Entry) -> Result<()> {
    if entry.used_as_variable {
        return Ok(());
    }
    Err(at_key(entry, format!("unknown field {:?}", entry.key)))
}
