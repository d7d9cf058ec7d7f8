//! JWT operator mode: the server trusts operators, operators sign
//! accounts, accounts (or their signing keys) sign users. nats-server's
//! `jwt.go`, `accounts.go` and the user-JWT part of
//! `processClientOrLeafAuthentication`, as pure functions of the
//! configuration, the presented credentials and the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::jwt::{self, ClaimsData, ExportType, UserPermissionLimits, UserScope};
use super::limits::{self, Window};
use super::nkeys::{KeyKind, PublicKey};
use super::permissions::{Permissions, ResponsePermission, SubjectPermission};
use super::template::{self, TemplateValues};
use crate::options::{
    AccountConfig, Export, Import, ImportKind, Options, ResponseType, ServiceExport,
    DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD,
};

/// A trusted operator, decoded.
#[derive(Debug, Clone)]
pub struct TrustedOperator {
    pub jwt: String,
    pub claims: ClaimsData,
    pub operator: jwt::Operator,
}

/// Who may sign accounts: nats-server's `trustedKeys`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Each operator's own key (unless it is strict about signing keys)
    /// and its signing keys; or the `trusted_keys`.
    keys: Vec<String>,
    /// An operator with `strict_signing_key_usage`: its accounts' own keys
    /// do not sign users.
    strict: bool,
    pub operators: Vec<TrustedOperator>,
}

impl Trust {
    /// The trust of `opts` (whose operators the config layer has decoded
    /// once already; one that does not decode now is left out).
    pub fn new(opts: &Options) -> Trust {
        let mut trust = Trust {
            keys: opts.trusted_keys.clone(),
            ..Trust::default()
        };
        for token in &opts.trusted_operators {
            let Ok((claims, operator)) = jwt::decode(token).and_then(|t| t.into_operator()) else {
                continue;
            };
            if !operator.strict_signing_key_usage {
                trust.keys.push(claims.sub.clone());
            }
            trust.strict |= operator.strict_signing_key_usage;
            trust
                .keys
                .extend(operator.signing_keys.iter().flatten().cloned());
            trust.operators.push(TrustedOperator {
                jwt: token.clone(),
                claims,
                operator,
            });
        }
        trust
    }

    /// nats-server's `isTrustedIssuer`.
    pub fn is_trusted(&self, issuer: &str) -> bool {
        self.keys.iter().any(|k| k == issuer)
    }
}

/// An account that came from its JWT.
#[derive(Debug, Clone)]
pub struct JwtAccount {
    pub jwt: String,
    pub claims: ClaimsData,
    pub account: Box<jwt::Account>,
    /// Keys that may sign its users, and the scope of each scoped one.
    signers: Vec<(String, Option<Box<UserScope>>)>,
}

impl JwtAccount {
    /// nats-server's `Account.IsExpired` (one second stricter than the
    /// JWT library: expired at `exp`).
    pub fn expired(&self, now: i64) -> bool {
        self.claims.exp != 0 && self.claims.exp <= now
    }

    /// nats-server's `nameTag`: the JWT's name.
    pub fn name_tag(&self) -> &str {
        &self.claims.name
    }

    pub fn tags(&self) -> &[String] {
        self.account.tags.as_deref().unwrap_or_default()
    }

    /// `acc.hasIssuer`: whether `key` signs this account's users, and
    /// with which scope.
    fn signer(&self, key: &str) -> Option<Option<&UserScope>> {
        self.signers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, scope)| scope.as_deref())
    }

    /// The connection limit (`limits.conn`); `None` is none.
    pub fn max_connections(&self) -> Option<usize> {
        limit(self.account.limits.conn)
    }
}

/// A JWT limit: -1 is none; anything else, 0 included, is a limit (an
/// absent limit decodes as 0, as in nats-server).
fn limit(value: i64) -> Option<usize> {
    (value != jwt::NO_LIMIT).then(|| usize::try_from(value).unwrap_or(0))
}

/// nats-server's `verifyAccountClaims`: the JWT of account `key` decodes,
/// is about `key`, is signed by a trusted operator and is valid at `now`.
/// The error is nats-server's (`Account JWT lookup error: ...`).
pub fn load_account(
    trust: &Trust,
    key: &str,
    token: &str,
    now: i64,
) -> Result<JwtAccount, &'static str> {
    const INVALID: &str = "account validation failed";
    let (claims, account) = jwt::decode(token)
        .and_then(|t| t.into_account())
        .map_err(|_| INVALID)?;
    if !trust.is_trusted(&claims.iss)
        || claims.sub != key
        || claims.time_check(now).is_err()
        || !imports_valid(&claims, &account)
    {
        return Err(INVALID);
    }
    let mut signers: Vec<(String, Option<Box<UserScope>>)> = account
        .signing_keys
        .iter()
        .map(|k| (k.key.clone(), k.scope.clone()))
        .collect();
    if !trust.strict {
        signers.push((claims.sub.clone(), None));
    }
    Ok(JwtAccount {
        jwt: token.to_string(),
        claims,
        account,
        signers,
    })
}

/// nats-io/jwt's `Import.Validate` for each import that carries an
/// activation token: a token that does not decode, is not the exporter's,
/// is made out to another account or another subject makes the whole
/// account JWT invalid, as in nats-server.
fn imports_valid(claims: &ClaimsData, account: &jwt::Account) -> bool {
    account
        .imports
        .iter()
        .filter(|i| !i.token.is_empty())
        .all(|import| {
            let Ok((act, activation)) =
                jwt::decode(&import.token).and_then(|t| t.into_activation())
            else {
                return false;
            };
            (act.iss == import.account || activation.issuer_account == import.account)
                && act.sub == claims.sub
                && activation.kind == import.kind
                && super::permissions::is_subset_match(
                    import_subject(import).as_bytes(),
                    activation.subject.as_bytes(),
                )
        })
}

/// The accounts of `resolver_preload`: those that load, by key, and for
/// each that does not, why (nats-server logs `Preloaded account [%s] not
/// valid` at start and refuses its users).
pub struct Resolved {
    pub accounts: HashMap<String, JwtAccount>,
    pub invalid: HashMap<String, &'static str>,
}

pub fn resolve(opts: &Options, trust: &Trust, now: i64) -> Resolved {
    let mut resolved = Resolved {
        accounts: HashMap::new(),
        invalid: HashMap::new(),
    };
    for (key, token) in &opts.resolver_preload {
        match load_account(trust, key, token, now) {
            Ok(account) => {
                resolved.accounts.insert(key.clone(), account);
            }
            Err(why) => {
                resolved.invalid.insert(key.clone(), why);
            }
        }
    }
    resolved
}

/// nats-server's `SetSystemAccount` at start in operator mode: a system
/// account other than `$SYS` must resolve (`Can't set system account: ...`).
pub fn system_account_problem(opts: &Options, now: i64) -> Option<&'static str> {
    if !opts.operator_mode() || opts.system_account == crate::options::SYSTEM_ACCOUNT {
        return None;
    }
    let trust = Trust::new(opts);
    let Some((_, token)) = opts
        .resolver_preload
        .iter()
        .find(|(key, _)| *key == opts.system_account)
    else {
        return Some("account missing");
    };
    load_account(&trust, &opts.system_account, token, now).err()
}

/// The accounts' exports and imports as the config-file accounts natsd
/// routes by. An export that needs an activation token allows the
/// accounts whose import carries a valid one; an import that does not
/// resolve is left out, as nats-server leaves it incomplete, and the
/// returned lines say why (debug level in nats-server).
pub fn account_configs(resolved: &Resolved, now: i64) -> (Vec<AccountConfig>, Vec<String>) {
    let mut keys: Vec<&String> = resolved.accounts.keys().collect();
    keys.sort();
    let mut notes = Vec::new();
    let mut configs: Vec<AccountConfig> = Vec::new();
    for key in &keys {
        let account = &resolved.accounts[*key];
        let mut config = AccountConfig {
            name: (*key).clone(),
            ..AccountConfig::default()
        };
        for export in &account.account.exports {
            let kind = match export.kind {
                ExportType::Stream => "stream",
                ExportType::Service => "service",
                ExportType::Unknown => continue,
            };
            if export.account_token_position > 0 {
                notes.push(format!(
                    "Error adding {kind} export to account [{key}]: account_token_position is not \
                     supported by natsd yet"
                ));
                continue;
            }
            let service = (export.kind == ExportType::Service).then(|| ServiceExport {
                response_type: match export.response_type.as_str() {
                    "Stream" => ResponseType::Stream,
                    "Chunked" => ResponseType::Chunked,
                    _ => ResponseType::Singleton,
                },
                response_threshold: if export.response_threshold > 0 {
                    Duration::from_nanos(export.response_threshold as u64)
                } else {
                    DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD
                },
            });
            let approved = export
                .token_req
                .then(|| activated_importers(resolved, key, export, now));
            config.exports.push(Export {
                subject: export.subject.clone(),
                service,
                accounts: approved,
            });
        }
        for import in &account.account.imports {
            let kind = match import.kind {
                ExportType::Stream => {
                    let (prefix, to) = if !import.local_subject.is_empty() {
                        (None, Some(import.local_subject.clone()))
                    } else if !import.to.is_empty() {
                        (Some(import.to.clone()), None)
                    } else {
                        (None, None)
                    };
                    ImportKind::Stream { prefix, to }
                }
                ExportType::Service => ImportKind::Service {
                    to: if import.local_subject.is_empty() {
                        import.subject.clone()
                    } else {
                        import.local_subject.clone()
                    },
                },
                ExportType::Unknown => continue,
            };
            // Without a local subject, a service import's `to` is the
            // subject in the exporter (the first library's form).
            let subject = match (&kind, import.to.is_empty()) {
                (ImportKind::Service { .. }, false) if import.local_subject.is_empty() => {
                    import.to.clone()
                }
                _ => import.subject.clone(),
            };
            config.imports.push(Import {
                account: import.account.clone(),
                subject,
                kind,
            });
        }
        configs.push(config);
    }
    // Imports that do not resolve are dropped, each with its reason.
    let snapshot = configs.clone();
    let known = |name: &str| snapshot.iter().any(|a| a.name == name);
    for config in &mut configs {
        let name = config.name.clone();
        config.imports.retain(|import| {
            match crate::options::import_problem(&snapshot, &known, &name, import) {
                None => true,
                Some(problem) => {
                    let kind = match import.kind {
                        ImportKind::Stream { .. } => "stream",
                        ImportKind::Service { .. } => "service",
                    };
                    notes.push(format!(
                        "Error adding {kind} import to account [{name}]: {problem}"
                    ));
                    false
                }
            }
        });
    }
    (configs, notes)
}

/// The accounts whose import of `export` (of account `exporter`) carries
/// an activation token nats-server's `checkActivation` accepts.
fn activated_importers(
    resolved: &Resolved,
    exporter: &str,
    export: &jwt::Export,
    now: i64,
) -> Vec<String> {
    let mut approved = Vec::new();
    let exporting = &resolved.accounts[exporter];
    for (importer, account) in &resolved.accounts {
        let valid = account.account.imports.iter().any(|import| {
            import.account == exporter
                && import.kind == export.kind
                && super::permissions::is_subset_match(
                    import_subject(import).as_bytes(),
                    export.subject.as_bytes(),
                )
                && activation_valid(import, importer, exporting, export, now)
        });
        if valid {
            approved.push(importer.clone());
        }
    }
    approved.sort();
    approved
}

/// The subject an import names in its exporter.
fn import_subject(import: &jwt::Import) -> &str {
    if import.kind == ExportType::Service
        && import.local_subject.is_empty()
        && !import.to.is_empty()
    {
        &import.to
    } else {
        &import.subject
    }
}

/// nats-server's `checkActivation`.
fn activation_valid(
    import: &jwt::Import,
    importer: &str,
    exporter: &JwtAccount,
    export: &jwt::Export,
    now: i64,
) -> bool {
    if import.token.is_empty() {
        return false;
    }
    let Ok((claims, activation)) = jwt::decode(&import.token).and_then(|t| t.into_activation())
    else {
        return false;
    };
    let issued_by_exporter =
        claims.iss == import.account || activation.issuer_account == import.account;
    let trusted_issuer = activation.issuer_account.is_empty()
        || (activation.issuer_account == exporter.claims.sub
            && exporter.signer(&claims.iss).is_some());
    issued_by_exporter
        && trusted_issuer
        && claims.sub == importer
        && activation.kind == import.kind
        && super::permissions::is_subset_match(
            import_subject(import).as_bytes(),
            activation.subject.as_bytes(),
        )
        && claims.time_check(now).is_ok()
        && !(claims.exp != 0 && claims.exp <= now)
        && !jwt::is_revoked(&export.revocations, &claims.sub, claims.iat)
}

/// A user the JWT checks admitted.
#[derive(Debug, Clone)]
pub struct UserLogin {
    /// Its account's key.
    pub account: String,
    /// Its public key (the JWT's `sub`).
    pub user: String,
    /// Its permissions; `None`: none at all.
    pub permissions: Option<Permissions>,
    /// Its limits (its own and its account's, the smaller; `None` is none).
    pub max_subs: Option<usize>,
    pub max_payload: Option<usize>,
    /// When its JWT expires or its connect window ends, from now.
    pub expires_in: Option<Duration>,
    /// The key that signed it, when that is a signing key of the account.
    pub issuer_key: String,
    pub tags: Vec<String>,
    pub bearer: bool,
}

/// Why a user JWT was refused: the line nats-server logs (at debug level
/// unless `error`); the client is told `Authorization Violation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub log: String,
    pub error: bool,
    /// The user is revoked (what a connected client is told apart).
    pub revoked: bool,
}

fn refuse<T>(log: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        log: log.into(),
        error: false,
        revoked: false,
    })
}

/// What a client presents and where it comes from.
pub struct Presented<'a> {
    pub jwt: &'a str,
    pub sig: &'a str,
    pub nonce: &'a [u8],
    pub ip: IpAddr,
    /// The connection's type for `allowed_connection_types`: `STANDARD`
    /// or `WEBSOCKET`.
    pub kind: &'static str,
}

/// Check a user JWT as nats-server does, in its order, at `now` (Unix
/// seconds); `lookup` finds a loaded account by key or says why not.
pub fn check_user<'a>(
    presented: &Presented<'_>,
    lookup: impl Fn(&str) -> Result<&'a JwtAccount, &'static str>,
    now: i64,
) -> Result<UserLogin, Refusal> {
    if presented.jwt.is_empty() {
        return refuse("Authentication requires a user JWT");
    }
    let (claims, user) = match jwt::decode(presented.jwt).and_then(|t| t.into_user()) {
        Ok(decoded) => decoded,
        Err(e) => return refuse(format!("User JWT not valid: {e}")),
    };
    let mut limits = user.limits.clone();
    if limits.proxy_required {
        return refuse("proxy connection required");
    }
    if let Err(why) = claims
        .time_check(now)
        .map_err(String::from)
        .and_then(|()| validate_user(&claims, &user))
    {
        return refuse(format!("User JWT no longer valid: {why}"));
    }
    let account_key = if user.issuer_account.is_empty() {
        &claims.iss
    } else {
        &user.issuer_account
    };
    let account = match lookup(account_key) {
        Ok(account) => account,
        Err(why) => return refuse(format!("Account JWT lookup error: {why}")),
    };
    let Some(scope) = account.signer(&claims.iss) else {
        return refuse("User JWT issuer is not known");
    };
    if let Some(scope) = scope {
        if claims.iss != scope.key {
            return refuse("User JWT is not valid: issuer not the scoped signer");
        }
        if !limits.is_empty() {
            return refuse(
                "User JWT is not valid: scoped users require no permissions or limits set",
            );
        }
        limits = scope.template.clone();
        let values = TemplateValues {
            name: &claims.name,
            subject: &claims.sub,
            account_name: account.name_tag(),
            account_subject: &user.issuer_account,
            tags: user.tags.as_deref().unwrap_or_default(),
            account_tags: account.tags(),
        };
        let perms = &mut limits.permissions;
        let expanded = template::expand(&mut perms.subscribe, &values)
            .and_then(|()| template::expand(&mut perms.publish, &values));
        if expanded.is_err() {
            return refuse("User JWT generated invalid permissions");
        }
    }
    if account.expired(now) {
        return refuse("Account JWT has expired");
    }
    if limits.bearer_token && account.account.limits.disallow_bearer {
        return refuse("Account does not allow bearer tokens");
    }
    if let Some(types) = &limits.allowed_connection_types {
        let known: Vec<String> = types
            .iter()
            .map(|t| t.to_uppercase())
            .filter(|t| crate::options::CONNECTION_TYPES.contains(&t.as_str()))
            .collect();
        if known.len() < types.len() {
            log::debug!("invalid connection types {types:?}");
            if known.is_empty() {
                return refuse(format!("invalid connection types {types:?}"));
            }
        }
        if !known.is_empty() && !known.iter().any(|t| t == presented.kind) {
            return refuse("Connection type not allowed");
        }
    }
    if !limits.bearer_token {
        if presented.sig.is_empty() {
            return refuse("Signature missing");
        }
        let Some(sig) = super::nonce::decode_sig(presented.sig) else {
            return refuse("Signature not valid base64");
        };
        let key = match PublicKey::decode(&claims.sub) {
            Ok(key) => key,
            Err(e) => return refuse(format!("User nkey not valid: {e}")),
        };
        if !key.verify(presented.nonce, &sig) {
            return refuse("Signature not verified");
        }
    }
    if jwt::is_revoked(&account.account.revocations, &claims.sub, claims.iat) {
        return Err(Refusal {
            log: "User authentication revoked".into(),
            error: false,
            revoked: true,
        });
    }
    let src = limits.src.as_deref().unwrap_or_default();
    if !limits::src_allows(src, presented.ip) {
        return Err(Refusal {
            log: format!("Bad src Ip {}", presented.ip),
            error: true,
            revoked: false,
        });
    }
    let window = match connect_window(&limits, now) {
        Ok(window) => window,
        Err(()) => {
            return Err(Refusal {
                log: "Outside connect times".into(),
                error: true,
                revoked: false,
            })
        }
    };
    let expires_in = match (claims.exp, window) {
        (0, window) => window,
        (exp, window) => {
            let left = Duration::from_secs(u64::try_from(exp - now).unwrap_or(0));
            Some(window.map_or(left, |w| w.min(left)))
        }
    };
    let account_limits = &account.account.limits;
    let smaller = |user: i64, account: i64| match (limit(user), limit(account)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(UserLogin {
        account: account.claims.sub.clone(),
        user: claims.sub.clone(),
        permissions: user_permissions(&limits.permissions)
            .or_else(|| user_permissions(&account.account.default_permissions)),
        max_subs: smaller(limits.subs, account_limits.subs),
        max_payload: smaller(limits.payload, account_limits.payload),
        expires_in,
        issuer_key: if user.issuer_account.is_empty() {
            String::new()
        } else {
            claims.iss.clone()
        },
        tags: user.tags.clone().unwrap_or_default(),
        bearer: limits.bearer_token,
    })
}

/// nats-io/jwt's `Permission.Validate` of one list: subjects that are
/// not empty, do not start or end with `.` nor hold `..`; a queue only in
/// subscribe entries.
fn permission_subjects_valid(list: &jwt::Permission, queues: bool) -> Result<(), String> {
    for subject in list.allow.iter().chain(list.deny.iter()).flatten() {
        let mut parts = subject.split(' ');
        let name = parts.next().unwrap_or_default();
        let queue = parts.next();
        if name.is_empty() {
            return Err("subject cannot be empty".into());
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err(format!("subject {subject:?} is not a valid subject"));
        }
        if queue.is_some() && !queues {
            return Err(format!(
                "Permission Subject {subject:?} is not allowed to contain queue"
            ));
        }
        if parts.next().is_some() {
            return Err(format!("subject {subject:?} contains too many spaces"));
        }
    }
    Ok(())
}

/// What nats-io/jwt's `UserClaims.Validate` checks besides time.
fn validate_user(claims: &ClaimsData, user: &jwt::User) -> Result<(), String> {
    let limits = &user.limits;
    permission_subjects_valid(&limits.permissions.publish, false)?;
    permission_subjects_valid(&limits.permissions.subscribe, true)?;
    for cidr in limits.src.iter().flatten() {
        if !limits::cidrs_valid(std::slice::from_ref(cidr)) {
            return Err(format!("invalid cidr {cidr:?} in user src limits"));
        }
    }
    for range in limits.times.iter().flatten() {
        if range.start.is_empty() {
            return Err("time ranges start must contain a start".into());
        }
        if limits::parse_clock(&range.start).is_none() {
            return Err(format!("start in time range is invalid {:?}", range.start));
        }
        if limits::parse_clock(&range.end).is_none() {
            return Err(format!("end in time range is invalid {:?}", range.end));
        }
    }
    if !matches!(limits.times_location.as_str(), "" | "UTC" | "Local") {
        return Err(format!(
            "times_location {:?} is not supported by natsd (only UTC and the server's local time)",
            limits.times_location
        ));
    }
    if !user.issuer_account.is_empty()
        && PublicKey::decode_as(&user.issuer_account, KeyKind::Account).is_err()
    {
        return Err("account_id is not an account public key".into());
    }
    let _ = claims;
    Ok(())
}

/// The time left in the user's connect window (`times`), `Ok(None)` when
/// it has none, `Err` when outside all of them.
fn connect_window(limits: &UserPermissionLimits, now: i64) -> Result<Option<Duration>, ()> {
    let Some(times) = limits.times.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let offset = match limits.times_location.as_str() {
        "UTC" => 0,
        _ => limits::local_utc_offset(now),
    };
    let second_of_day = (now + offset).rem_euclid(86_400) as u32;
    let windows: Vec<Window> = times
        .iter()
        .filter_map(|r| {
            Some(Window {
                start: limits::parse_clock(&r.start)?,
                end: limits::parse_clock(&r.end)?,
            })
        })
        .collect();
    limits::time_left(&windows, second_of_day)
        .map(|left| Some(Duration::from_secs(u64::from(left))))
        .ok_or(())
}

/// nats-server's `buildPermissionsFromJwt`: publish and subscribe rules
/// only when they list something; `resp` with its defaults for zeroes.
/// `None` when the JWT has no permissions at all.
fn user_permissions(jwt: &jwt::Permissions) -> Option<Permissions> {
    let subject = |p: &jwt::Permission| {
        let listed = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|l| !l.is_empty());
        (listed(&p.allow) || listed(&p.deny)).then(|| SubjectPermission {
            allow: p.allow.clone().filter(|a| !a.is_empty()),
            deny: p.deny.clone().unwrap_or_default(),
        })
    };
    let perms = Permissions {
        publish: subject(&jwt.publish),
        subscribe: subject(&jwt.subscribe),
        response: jwt.resp.map(|r| {
            let default = ResponsePermission::default();
            ResponsePermission {
                max_msgs: if r.max == 0 { default.max_msgs } else { r.max },
                expires: if r.ttl == 0 {
                    default.expires
                } else {
                    Some(Duration::from_nanos(r.ttl.max(0) as u64))
                },
            }
        }),
    };
    (perms != Permissions::default()).then_some(perms)
}
