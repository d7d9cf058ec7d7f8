//! The keys of JWT operator mode: `operator`, `trusted_keys`, `resolver`
//! and `resolver_preload`, with nats-server's texts (`opts.go`,
//! `validateTrustedOperators`).
//!
//! natsd resolves accounts from memory only (`resolver: MEMORY` and the
//! JWTs in `resolver_preload`). The URL resolver and the nats-based ones
//! (`full`, `cache`) are refused: without them a server would admit no
//! one, and would not say why.

use super::options::{at_key, Report, Result};
use super::value::{Entry, Map, Value};
use super::Diagnostic;
use crate::options::{AccountResolver, Options};

const NO_URL_RESOLVER: &str = "the URL account resolver is not supported by natsd yet: \
     use `resolver: MEMORY` with `resolver_preload`";
const NO_NATS_RESOLVER: &str = "the nats-based account resolvers (full, cache) are not \
     supported by natsd yet: use `resolver: MEMORY` with `resolver_preload`";

/// The strings of a string-or-array value (nats-server's texts for other
/// types, `what` naming the key).
fn strings<'a>(entry: &'a Entry, what: &str) -> Result<Vec<&'a str>> {
    super::options::string_or_list(entry, what, |other| {
        at_key(
            entry,
            format!("error parsing {what}: unsupported type {}", other.kind()),
        )
    })
}

/// `operator: <file or JWT>` (or a list): nats-server's `readOperatorJWT`
/// reads the file, or takes a value that is not one and starts with
/// `eyJ` as the JWT itself; a `.jwt` file may be decorated.
pub(super) fn operators(entry: &Entry, opts: &mut Options, report: &mut Report<'_>) -> Result<()> {
    for value in strings(entry, "operators")? {
        let contents = match report.loader.read(std::path::Path::new(value)) {
            Ok(text) => text,
            Err(_) if value.starts_with("eyJ") => value.to_string(),
            Err(e) => return Err(at_key(entry, format!("error parsing operator JWT: {e}"))),
        };
        let token = crate::auth::jwt::creds_jwt(&contents).trim().to_string();
        crate::auth::jwt::decode(&token)
            .and_then(|t| t.into_operator())
            .map_err(|e| at_key(entry, format!("error parsing operator JWT: {e}")))?;
        opts.trusted_operators.push(token);
    }
    Ok(())
}

/// `trusted_keys: [O..., ...]`.
pub(super) fn trusted_keys(entry: &Entry, opts: &mut Options) -> Result<()> {
    for key in strings(entry, "trusted")? {
        if !crate::auth::nkeys::is_valid_public_key(key, crate::auth::nkeys::KeyKind::Operator) {
            return Err(at_key(
                entry,
                format!("trust key {key:?} required to be a valid public operator nkey"),
            ));
        }
        opts.trusted_keys.push(key.to_string());
    }
    Ok(())
}

/// `resolver: MEMORY` (`MEM`), or the forms natsd refuses.
pub(super) fn resolver(entry: &Entry, opts: &mut Options) -> Result<()> {
    match &entry.value.value {
        Value::String(s) => {
            // nats-server matches these patterns anywhere in the value.
            let upper = s.to_uppercase();
            if upper.contains("MEM") {
                opts.resolver = Some(AccountResolver::Memory);
                Ok(())
            } else if upper.contains("URL") {
                Err(at_key(entry, NO_URL_RESOLVER))
            } else {
                Err(at_key(
                    entry,
                    "error parsing account resolver, should be MEM or  URL(\"url\") or a map \
                     containing dir and type state=[FULL|CACHE])",
                ))
            }
        }
        Value::Map(map) => {
            let kind = map
                .entries()
                .iter()
                .find(|e| e.key.eq_ignore_ascii_case("type"))
                .and_then(|e| match &e.value.value {
                    Value::String(s) => Some(s.to_uppercase()),
                    _ => None,
                });
            match kind.as_deref() {
                Some("MEM" | "MEMORY") => {
                    opts.resolver = Some(AccountResolver::Memory);
                    Ok(())
                }
                _ => Err(at_key(entry, NO_NATS_RESOLVER)),
            }
        }
        other => Err(at_key(
            entry,
            format!(
                "error parsing operator resolver, wrong type {}",
                other.kind()
            ),
        )),
    }
}

/// `resolver_preload { ACCOUNT_KEY: JWT, ... }`: each value must decode as
/// an account JWT (whether it is the key's is checked when it is used, as
/// in nats-server).
pub(super) fn preload(entry: &Entry, opts: &mut Options) -> Result<()> {
    let Value::Map(map) = &entry.value.value else {
        return Err(at_key(
            entry,
            "preload should be a map of account_public_key:account_jwt",
        ));
    };
    for item in map.entries() {
        let jwt = match &item.value.value {
            Value::String(s) => s.trim(),
            _ => return Err(at_key(item, "preload map value should be a string JWT")),
        };
        crate::auth::jwt::decode(jwt)
            .and_then(|t| t.into_account())
            .map_err(|_| at_key(item, "invalid account JWT"))?;
        opts.resolver_preload
            .push((item.key.clone(), jwt.to_string()));
    }
    Ok(())
}

/// After every key: the system account an operator names when the file
/// names none, a refused URL resolver, and the system account agreement.
pub(super) fn finish(map: &Map, opts: &mut Options) -> Result<()> {
    if opts.trusted_operators.is_empty() {
        return Ok(());
    }
    let operators: Vec<crate::auth::jwt::Operator> = opts
        .trusted_operators
        .iter()
        .filter_map(|t| crate::auth::jwt::decode(t).ok()?.into_operator().ok())
        .map(|(_, op)| op)
        .collect();
    let system_key = map.entries().iter().find(|e| {
        e.key.eq_ignore_ascii_case("system_account") || e.key.eq_ignore_ascii_case("system")
    });
    if operators.len() == 1 {
        let op = &operators[0];
        if opts.resolver.is_none() && !op.account_server_url.is_empty() {
            return Err(Diagnostic::nowhere(NO_URL_RESOLVER));
        }
        if system_key.is_none() && !op.system_account.is_empty() {
            opts.system_account = op.system_account.clone();
        }
    }
    if system_key.is_some() {
        let named = operators.iter().filter(|op| !op.system_account.is_empty());
        let mut named = named.peekable();
        if named.peek().is_some()
            && !operators
                .iter()
                .any(|op| op.system_account == opts.system_account)
        {
            return Err(Diagnostic::nowhere(
                "system_account in config and operator JWT must be identical",
            ));
        }
    }
    Ok(())
}
