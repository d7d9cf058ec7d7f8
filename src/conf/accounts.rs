//! `permissions`, `default_permissions` and `accounts { ... }`:
//! nats-server's `parseUserPermissions`, `parseAccounts`,
//! `parseExportStreamOrService` and `parseImportStreamOrService`, with
//! their key spellings and error texts.

use std::time::Duration;

use super::duration;
use super::options::{at_key, boolean, string, unknown_field, user_list, Report, Result};
use super::value::{Entry, Node, Value};
use super::Diagnostic;
use crate::options::{
    AccountConfig, Export, Import, ImportKind, Options, Permissions, ResponsePermission,
    ResponseType, ServiceExport, SubjectPermission, User, GLOBAL_ACCOUNT,
};
use crate::subject;

/// nats-server's `parseUserPermissions`.
pub(super) fn permissions(entry: &Entry) -> Result<Permissions> {
    let Value::Map(block) = &entry.value.value else {
        return Err(at_key(
            entry,
            format!(
                "Expected permissions to be a map/struct, got {}",
                go_value(&entry.value.value)
            ),
        ));
    };
    let mut perms = Permissions::default();
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "pub" | "publish" | "import" => perms.publish = subject_permission(field, false)?,
            "sub" | "subscribe" | "export" => perms.subscribe = subject_permission(field, true)?,
            "publish_allow_responses" | "allow_responses" => {
                perms.response = allow_responses(field)?
            }
            _ if field.used_as_variable => {}
            _ => {
                return Err(at_key(
                    field,
                    format!("Unknown field {:?} parsing permissions", field.key),
                ))
            }
        }
    }
    Ok(perms.with_response_rule())
}

/// A string or array (the old style: all allowed subjects), or a map of
/// `allow` and `deny`. An empty map restricts nothing.
fn subject_permission(entry: &Entry, queues: bool) -> Result<Option<SubjectPermission>> {
    let Value::Map(block) = &entry.value.value else {
        let allow = subjects(&entry.value, entry, queues)?;
        return Ok(Some(SubjectPermission {
            allow: (!allow.is_empty()).then_some(allow),
            deny: Vec::new(),
        }));
    };
    if block.entries().is_empty() {
        return Ok(None);
    }
    let mut perm = SubjectPermission::default();
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "allow" => {
                let allow = subjects(&field.value, field, queues)?;
                perm.allow = (!allow.is_empty()).then_some(allow);
            }
            "deny" => perm.deny = subjects(&field.value, field, queues)?,
            _ if field.used_as_variable => {}
            _ => {
                return Err(at_key(
                    field,
                    format!(
                        "Unknown field name {:?} parsing subject permissions, only 'allow' or \
                         'deny' are permitted",
                        field.key
                    ),
                ))
            }
        }
    }
    Ok(Some(perm))
}

/// nats-server's `parsePermSubjects` and `checkPermSubjectArray`.
pub(super) fn subjects(node: &Node, entry: &Entry, queues: bool) -> Result<Vec<String>> {
    let list: Vec<String> = match &node.value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| match &item.value {
                Value::String(s) => Ok(s.clone()),
                _ => Err(Diagnostic::at(
                    item.pos.clone(),
                    "Subject in permissions array cannot be cast to string",
                )),
            })
            .collect::<Result<_>>()?,
        other => {
            return Err(at_key(
                entry,
                format!(
                    "Expected subject permissions to be a subject, or array of subjects, got {}",
                    go_type(other)
                ),
            ))
        }
    };
    for s in &list {
        if subject::is_valid_subject(s.as_bytes()) {
            continue;
        }
        let fields: Vec<&str> = s.split_ascii_whitespace().collect();
        let why = if !queues || fields.len() != 2 {
            format!("subject {s:?} is not a valid subject")
        } else if !subject::is_valid_subject(fields[0].as_bytes()) {
            format!("subject {:?} is not a valid subject", fields[0])
        } else if !subject::is_valid_subject(fields[1].as_bytes()) {
            format!("queue {:?} is not a valid queue", fields[1])
        } else {
            continue;
        };
        return Err(at_key(entry, why));
    }
    Ok(list)
}

/// `allow_responses`: `true`, `false`, or a map of `max` and `expires`.
fn allow_responses(entry: &Entry) -> Result<Option<ResponsePermission>> {
    let mut resp = ResponsePermission::default();
    let block = match &entry.value.value {
        Value::Bool(allowed) => return Ok(allowed.then_some(resp)),
        Value::Map(block) => block,
        _ => {
            return Err(at_key(
                entry,
                "error parsing response permissions, expected a boolean or a map",
            ))
        }
    };
    for field in block.entries() {
        match field.key.to_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                let Value::Integer(max) = field.value.value else {
                    return Err(at_key(field, "error parsing max, not an integer"));
                };
                // 0 keeps the default; negative is no limit.
                if max != 0 {
                    resp.max_msgs = max;
                }
            }
            "expires" | "expiration" | "ttl" => {
                let Value::String(text) = &field.value.value else {
                    return Err(at_key(
                        field,
                        "error parsing expires, not a duration string",
                    ));
                };
                let nanos = duration::parse(text)
                    .map_err(|e| at_key(field, format!("error parsing expires: {e}")))?;
                if nanos < 0 {
                    resp.expires = None;
                } else if nanos > 0 {
                    resp.expires = Some(Duration::from_nanos(
                        u64::try_from(nanos).unwrap_or(u64::MAX),
                    ));
                }
            }
            _ if field.used_as_variable => {}
            _ => {
                return Err(at_key(
                    field,
                    format!("Unknown field {:?} parsing permissions", field.key),
                ))
            }
        }
    }
    Ok(Some(resp))
}

/// The top-level `accounts`: a map of account blocks, or a list of names.
/// Their users join `opts.users`, each naming its account; exports and
/// imports are checked once every account is known.
pub(super) fn accounts(entry: &Entry, opts: &mut Options, report: &mut Report<'_>) -> Result<()> {
    let mut accounts: Vec<AccountConfig> = Vec::new();
    let mut users: Vec<User> = Vec::new();
    match &entry.value.value {
        Value::Array(names) => {
            for node in names {
                let Value::String(name) = &node.value else {
                    return Err(Diagnostic::at(node.pos.clone(), "Expected account name"));
                };
                check_name(name, &accounts, &node.pos)?;
                accounts.push(AccountConfig {
                    name: name.clone(),
                    ..AccountConfig::default()
                });
            }
        }
        Value::Map(block) => {
            for account in block.entries() {
                if account.used_as_variable {
                    continue;
                }
                let Value::Map(fields) = &account.value.value else {
                    return Err(at_key(account, "Expected map entries for accounts"));
                };
                check_name(&account.key, &accounts, &account.key_pos)?;
                let mut config = AccountConfig {
                    name: account.key.clone(),
                    ..AccountConfig::default()
                };
                let (mut members, mut defaults) = (Vec::new(), None);
                for field in fields.entries() {
                    match field.key.to_lowercase().as_str() {
                        "users" => members = user_list(field)?,
                        "default_permissions" => defaults = Some(permissions(field)?),
                        "exports" => config.exports = exports(field)?,
                        "imports" => config.imports = imports(field)?,
                        "nkey" => {
                            // nats-server checks it and keeps it as the
                            // account's identity; nothing natsd does reads it.
                            let key = super::options::string(field)?;
                            if !valid_account_nkey(key) {
                                return Err(at_key(
                                    field,
                                    format!("Not a valid public nkey for an account: {key:?}"),
                                ));
                            }
                            report.unsupported.push(at_key(
                                field,
                                format!(
                                    "\"nkey\" of account {:?} is not acted on by natsd",
                                    account.key
                                ),
                            ));
                        }
                        // Without its limits an account would admit more
                        // than the file allows.
                        "limits" => {
                            return Err(at_key(
                                field,
                                format!(
                                    "{:?} is not supported: natsd has no account limits yet",
                                    field.key
                                ),
                            ))
                        }
                        "jetstream" | "mappings" | "maps" | "msg_trace" | "trace_dest" => {
                            report.unsupported.push(at_key(
                                field,
                                format!(
                                    "{:?} in account {:?} is not supported by natsd yet and is \
                                 ignored",
                                    field.key, account.key
                                ),
                            ))
                        }
                        _ => unknown_field(field)?,
                    }
                }
                if !members.is_empty() {
                    if opts.username.is_some() {
                        return Err(at_key(
                            field_named(fields.entries(), "users").unwrap_or(account),
                            "Can not have a single user/pass and accounts",
                        ));
                    }
                    if opts.authorization.is_some() {
                        return Err(at_key(
                            field_named(fields.entries(), "users").unwrap_or(account),
                            "Can not have a token and accounts",
                        ));
                    }
                }
                for mut user in members {
                    if user.permissions.is_none() {
                        user.permissions = defaults.clone();
                    }
                    user.account = Some(config.name.clone());
                    if users.iter().any(|u| u.name() == user.name()) {
                        return Err(at_key(account, duplicate(&user)));
                    }
                    users.push(user);
                }
                accounts.push(config);
            }
        }
        other => {
            return Err(at_key(
                entry,
                format!("accounts: expected a map or an array, got {}", other.kind()),
            ))
        }
    }
    opts.accounts = accounts;
    // Users of the authorization block keep their place; an account's own
    // users may not repeat them.
    if let Some(listed) = &mut opts.users {
        listed.retain(|u| u.account.is_none());
    }
    if !users.is_empty() {
        let listed = opts.users.get_or_insert_with(Vec::new);
        for user in users {
            if listed.iter().any(|u| u.name() == user.name()) {
                return Err(at_key(entry, duplicate(&user)));
            }
            listed.push(user);
        }
    }
    opts.check_accounts().map_err(|e| at_key(entry, e))
}

/// nats-server's `nkeys.IsValidPublicAccountKey` (a build without NKeys
/// only checks the letter).
fn valid_account_nkey(key: &str) -> bool {
    #[cfg(feature = "jwt")]
    {
        crate::auth::nkeys::is_valid_public_key(key, crate::auth::nkeys::KeyKind::Account)
    }
    #[cfg(not(feature = "jwt"))]
    {
        key.starts_with('A')
    }
}

/// nats-server's text for a user listed twice.
fn duplicate(user: &User) -> String {
    match &user.nkey {
        Some(nkey) => format!("Duplicate nkey {nkey:?} detected"),
        None => format!("Duplicate user {:?} detected", user.username),
    }
}

fn field_named<'a>(entries: &'a [Entry], name: &str) -> Option<&'a Entry> {
    entries.iter().find(|e| e.key.eq_ignore_ascii_case(name))
}

fn check_name(name: &str, seen: &[AccountConfig], pos: &super::value::Pos) -> Result<()> {
    if name == GLOBAL_ACCOUNT {
        return Err(Diagnostic::at(
            pos.clone(),
            format!("{name:?} is a Reserved Account"),
        ));
    }
    if seen.iter().any(|a| a.name == name) {
        return Err(Diagnostic::at(
            pos.clone(),
            format!("Duplicate Account Entry: {name}"),
        ));
    }
    Ok(())
}

fn exports(entry: &Entry) -> Result<Vec<Export>> {
    let Value::Array(items) = &entry.value.value else {
        return Err(at_key(
            entry,
            format!(
                "Exports should be an array, got {}",
                go_type(&entry.value.value)
            ),
        ));
    };
    items.iter().map(export).collect()
}

/// `{stream: "x.>"}`, `{service: "svc", response_type: ..., accounts: [...]}`.
fn export(node: &Node) -> Result<Export> {
    let Value::Map(fields) = &node.value else {
        return Err(Diagnostic::at(
            node.pos.clone(),
            format!(
                "Export Items should be a map with type entry, got {}",
                go_type(&node.value)
            ),
        ));
    };
    let (mut stream, mut service) = (None::<String>, None::<String>);
    let mut accounts = None;
    let mut response_type = None;
    let mut threshold = None;
    for field in fields.entries() {
        match field.key.to_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let (this, other) = if kind == "stream" {
                    (&mut stream, &service)
                } else {
                    (&mut service, &stream)
                };
                if other.is_some() {
                    let saw = if kind == "stream" {
                        "service"
                    } else {
                        "stream"
                    };
                    return Err(at_key(
                        field,
                        format!(
                            "Detected {kind} {:?} but already saw a {saw}",
                            go_value(&field.value.value)
                        ),
                    ));
                }
                *this = Some(string_named(field, &format!("{kind} name"))?);
            }
            "response" | "response_type" => {
                if response_type.is_some() {
                    return Err(at_key(field, "Duplicate response type definition"));
                }
                let text = string_named(field, "response type")?;
                response_type = Some(match text.to_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        return Err(at_key(field, format!("Unknown response type: {text:?}")));
                    }
                });
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if threshold.is_some() {
                    return Err(at_key(field, "Duplicate response threshold detected"));
                }
                let text = match &field.value.value {
                    Value::String(s) => s.clone(),
                    other => {
                        return Err(at_key(
                            field,
                            format!(
                                "Expected response threshold to be a parseable time duration, \
                                 got {}",
                                go_type(other)
                            ),
                        ))
                    }
                };
                let bad = || {
                    at_key(
                        field,
                        format!(
                            "Expected response threshold to be a parseable time duration, got \
                             {text:?}"
                        ),
                    )
                };
                let nanos = duration::parse(&text).map_err(|_| bad())?;
                threshold = Some(Duration::from_nanos(
                    u64::try_from(nanos).map_err(|_| bad())?,
                ));
            }
            "accounts" => {
                let Value::Array(names) = &field.value.value else {
                    return Err(at_key(
                        field,
                        "accounts: expected an array of account names",
                    ));
                };
                let names = names
                    .iter()
                    .map(|n| match &n.value {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(Diagnostic::at(n.pos.clone(), "Expected account name")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                accounts = Some(names);
            }
            "latency" | "account_token_position" | "allow_trace" => {
                return Err(at_key(
                    field,
                    format!("{:?} is not supported by natsd yet", field.key),
                ))
            }
            _ => unknown_field(field)?,
        }
    }
    let is_service = service.is_some();
    if !is_service && (response_type.is_some() || threshold.is_some()) {
        return Err(Diagnostic::at(
            node.pos.clone(),
            "Detected response directive on non-service",
        ));
    }
    let Some(subject) = stream.or(service) else {
        return Err(Diagnostic::at(
            node.pos.clone(),
            "Export Items should be a map with type entry",
        ));
    };
    let service = is_service.then(|| {
        let defaults = ServiceExport::default();
        ServiceExport {
            response_type: response_type.unwrap_or(defaults.response_type),
            response_threshold: threshold
                .filter(|t| !t.is_zero())
                .unwrap_or(defaults.response_threshold),
        }
    });
    Ok(Export {
        subject,
        service,
        accounts,
    })
}

fn imports(entry: &Entry) -> Result<Vec<Import>> {
    let Value::Array(items) = &entry.value.value else {
        return Err(at_key(
            entry,
            format!(
                "Imports should be an array, got {}",
                go_type(&entry.value.value)
            ),
        ));
    };
    let mut list: Vec<Import> = Vec::new();
    for node in items {
        let import = import(node)?;
        if let ImportKind::Service { to } = &import.kind {
            let dup = list.iter().find(|i| {
                i.account == import.account
                    && matches!(&i.kind, ImportKind::Service { to: other } if other == to)
            });
            if let Some(dup) = dup {
                return Err(Diagnostic::at(
                    node.pos.clone(),
                    format!(
                        "Duplicate service import subject {to:?}, previously used in import for \
                         account {:?}, subject {:?}",
                        dup.account, dup.subject
                    ),
                ));
            }
        }
        list.push(import);
    }
    Ok(list)
}

/// `{stream: {account: A, subject: "x.>"}, prefix: p}` or `to: ...`;
/// `{service: {account: A, subject: "svc"}, to: "local"}`.
fn import(node: &Node) -> Result<Import> {
    let Value::Map(fields) = &node.value else {
        return Err(Diagnostic::at(
            node.pos.clone(),
            format!(
                "Import Items should be a map with type entry, got {}",
                go_type(&node.value)
            ),
        ));
    };
    let mut source: Option<(bool, String, String)> = None;
    let (mut prefix, mut to) = (None, None);
    for field in fields.entries() {
        match field.key.to_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let is_service = kind == "service";
                if source.is_some() {
                    let text = if is_service {
                        "Detected service but already saw a stream"
                    } else {
                        "Detected stream but already saw a service"
                    };
                    return Err(at_key(field, text));
                }
                let Value::Map(from) = &field.value.value else {
                    let what = if is_service { "Service" } else { "Stream" };
                    return Err(at_key(
                        field,
                        format!(
                            "{what} entry should be an account map, got {}",
                            go_type(&field.value.value)
                        ),
                    ));
                };
                let (mut account, mut subject) = (String::new(), String::new());
                for f in from.entries() {
                    match f.key.to_lowercase().as_str() {
                        "account" => account = string(f)?.to_string(),
                        "subject" => subject = string(f)?.to_string(),
                        _ => unknown_field(f)?,
                    }
                }
                if account.is_empty() || subject.is_empty() {
                    return Err(at_key(field, "Expect an account name and a subject"));
                }
                source = Some((is_service, account, subject));
            }
            "prefix" => prefix = Some(string(field)?.to_string()),
            "to" => to = Some(string(field)?.to_string()),
            "share" => {
                // Sharing adds the requester's details to the request
                // header; natsd sends the plain form either way.
                boolean(field)?;
            }
            "allow_trace" => {
                return Err(at_key(
                    field,
                    format!("{:?} is not supported by natsd yet", field.key),
                ))
            }
            _ => unknown_field(field)?,
        }
    }
    let Some((is_service, account, subject)) = source else {
        return Err(Diagnostic::at(
            node.pos.clone(),
            "Import Items should be a map with type entry",
        ));
    };
    let kind = if is_service {
        ImportKind::Service {
            to: to.unwrap_or_else(|| subject.clone()),
        }
    } else {
        if prefix.is_some() && to.is_some() {
            return Err(Diagnostic::at(
                node.pos.clone(),
                "Stream import can not have a 'prefix' and a 'to' property",
            ));
        }
        ImportKind::Stream { prefix, to }
    };
    Ok(Import {
        account,
        subject,
        kind,
    })
}

fn string_named(entry: &Entry, what: &str) -> Result<String> {
    match &entry.value.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(at_key(
            entry,
            format!("Expected {what} to be string, got {}", go_type(other)),
        )),
    }
}

/// How Go's `%T` names a parsed config value's type.
pub(super) fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Integer(_) => "int64",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Datetime(_) => "time.Time",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

/// How Go's `%v` prints a scalar config value (enough for error texts).
pub(super) fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        Value::Array(_) => "[...]".into(),
        Value::Map(_) => "map[...]".into(),
    }
}

/// `default_permissions` of the authorization block, for its users that
/// have none of their own.
pub(super) fn apply_default_permissions(users: &mut [User], defaults: &Option<Permissions>) {
    if let Some(defaults) = defaults {
        for user in users.iter_mut().filter(|u| u.permissions.is_none()) {
            user.permissions = Some(defaults.clone());
        }
    }
}
