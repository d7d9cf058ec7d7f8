//! JWTs as nats-io/jwt (v2) writes them: `header.payload.signature`, each
//! part unpadded base64url; the header `{"typ":"JWT","alg":"ed25519-nkey"}`;
//! the payload the claims, signed with ed25519 by the issuer's NKey (`iss`).
//!
//! [`decode`] checks what nats-io/jwt's `Decode` checks, in its order and
//! with its texts: size, the three parts, the header, the claim type and
//! version, the signature (v2: over `header.payload`; v1: over the payload
//! alone), and the role of the issuer's key. Time (`exp`, `nbf`) is the
//! caller's to check ([`ClaimsData::time_check`]), as in Go.
//!
//! Keys are matched as written (Go's decoder also accepts other cases of a
//! field name; no tool writes them).

use std::collections::HashMap;
use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use serde_json::Value;

use super::nkeys::{KeyKind, KeyPair, PublicKey};

/// nats-io/jwt's `MaxTokenSize`.
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;
/// nats-io/jwt's `NoLimit`.
pub const NO_LIMIT: i64 = -1;

/// Why a token does not decode (nats-io/jwt's texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtError(pub String);

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwtError {}

fn err<T>(text: impl Into<String>) -> Result<T, JwtError> {
    Err(JwtError(text.into()))
}

/// A JSON object read as Go's `encoding/json` reads one into a struct: a
/// field matches its key exactly, else in any case; `null` or an absent
/// key leaves the field at its zero value; a value of the wrong type is
/// an error. (Claims are read this way, not with serde's derive, which
/// costs about 150 KiB of code for the same result.)
#[derive(Clone, Copy)]
struct Fields<'a>(&'a serde_json::Map<String, Value>);

fn wrong(key: &str) -> JwtError {
    JwtError(format!("json: cannot unmarshal into field {key}"))
}

impl<'a> Fields<'a> {
    /// `value` as an object; `None` for `null`.
    fn of(value: &'a Value, key: &str) -> Result<Option<Fields<'a>>, JwtError> {
        match value {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(Fields(map))),
            _ => Err(wrong(key)),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        let found = self.0.get(key).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        });
        found.filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<String, JwtError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(wrong(key)),
        }
    }

    fn int(&self, key: &str) -> Result<i64, JwtError> {
        match self.get(key) {
            None => Ok(0),
            Some(v) => v.as_i64().ok_or_else(|| wrong(key)),
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, JwtError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(wrong(key)),
        }
    }

    /// A list of strings; `None` when absent (Go's nil slice).
    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, JwtError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(wrong(key));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                _ => Err(wrong(key)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>, JwtError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Fields::of(v, key),
        }
    }

    /// A map of key to Unix time (`revocations`).
    fn times(&self, key: &str) -> Result<HashMap<String, i64>, JwtError> {
        let Some(map) = self.object(key)? else {
            return Ok(HashMap::new());
        };
        map.0
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_i64().ok_or_else(|| wrong(key))?)))
            .collect()
    }

    /// An array of objects, each read by `read`.
    fn list<T>(
        &self,
        key: &str,
        read: impl Fn(Fields<'a>) -> Result<T, JwtError>,
    ) -> Result<Vec<T>, JwtError> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(wrong(key));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(fields) = Fields::of(item, key)? {
                out.push(read(fields)?);
            }
        }
        Ok(out)
    }
}

/// The claims every JWT carries, at the top level of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsData {
    pub aud: String,
    /// Unix seconds; 0 is never.
    pub exp: i64,
    pub jti: String,
    pub iat: i64,
    /// The signer's public key.
    pub iss: String,
    pub name: String,
    pub nbf: i64,
    /// Whom the claims are about (a user's, account's or operator's key).
    pub sub: String,
}

impl ClaimsData {
    fn read(f: Fields<'_>) -> Result<ClaimsData, JwtError> {
        Ok(ClaimsData {
            aud: f.string("aud")?,
            exp: f.int("exp")?,
            jti: f.string("jti")?,
            iat: f.int("iat")?,
            iss: f.string("iss")?,
            name: f.string("name")?,
            nbf: f.int("nbf")?,
            sub: f.string("sub")?,
        })
    }

    /// nats-io/jwt's `ClaimsData.Validate` time checks at `now` (Unix
    /// seconds): expired once `now` is past `exp`, not valid before `nbf`.
    pub fn time_check(&self, now: i64) -> Result<(), &'static str> {
        if self.exp > 0 && now > self.exp {
            return Err("claim is expired");
        }
        if self.nbf > 0 && self.nbf > now {
            return Err("claim is not yet valid");
        }
        Ok(())
    }
}

/// A decoded, signature-checked token.
#[derive(Debug, Clone)]
pub struct Token {
    pub claims: ClaimsData,
    /// 1 for tokens of the first JWT library, else 2.
    pub version: i64,
    pub body: Body,
}

/// What the `nats` part of the claims says, by claim type.
#[derive(Debug, Clone)]
pub enum Body {
    Operator(Operator),
    Account(Box<Account>),
    User(Box<User>),
    Activation(Activation),
}

impl Body {
    fn type_name(&self) -> &'static str {
        match self {
            Body::Operator(_) => "operator",
            Body::Account(_) => "account",
            Body::User(_) => "user",
            Body::Activation(_) => "activation",
        }
    }
}

/// `allow` and `deny` subject lists. `None` and an empty list differ as
/// Go's nil and empty slices do (a scoped user must have neither).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

impl Permission {
    fn read(f: Option<Fields<'_>>) -> Result<Permission, JwtError> {
        let Some(f) = f else {
            return Ok(Permission::default());
        };
        Ok(Permission {
            allow: f.strings("allow")?,
            deny: f.strings("deny")?,
        })
    }
}

/// `resp`: replies a user may publish to requests it received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponsePermission {
    pub max: i64,
    /// Nanoseconds.
    pub ttl: i64,
}

/// A user's or an account's default permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Permission,
    pub subscribe: Permission,
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    fn read(f: Fields<'_>) -> Result<Permissions, JwtError> {
        Ok(Permissions {
            publish: Permission::read(f.object("pub")?)?,
            subscribe: Permission::read(f.object("sub")?)?,
            resp: match f.object("resp")? {
                None => None,
                Some(r) => Some(ResponsePermission {
                    max: r.int("max")?,
                    ttl: r.int("ttl")?,
                }),
            },
        })
    }
}

/// `times`: a daily window, `HH:MM:SS` to `HH:MM:SS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// nats-io/jwt's `UserPermissionLimits`: what a user may do, and what a
/// scoped signing key's template imposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPermissionLimits {
    pub permissions: Permissions,
    /// Source CIDRs; an array, or (first JWT library) a comma-separated
    /// string.
    pub src: Option<Vec<String>>,
    pub times: Option<Vec<TimeRange>>,
    pub times_location: String,
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub bearer_token: bool,
    pub proxy_required: bool,
    pub allowed_connection_types: Option<Vec<String>>,
}

impl UserPermissionLimits {
    fn read(f: Fields<'_>) -> Result<UserPermissionLimits, JwtError> {
        Ok(UserPermissionLimits {
            permissions: Permissions::read(f)?,
            src: cidr_list(f)?,
            times: match f.get("times") {
                None => None,
                Some(_) => Some(f.list("times", |t| {
                    Ok(TimeRange {
                        start: t.string("start")?,
                        end: t.string("end")?,
                    })
                })?),
            },
            times_location: f.string("times_location")?,
            subs: f.int("subs")?,
            data: f.int("data")?,
            payload: f.int("payload")?,
            bearer_token: f.boolean("bearer_token")?,
            proxy_required: f.boolean("proxy_required")?,
            allowed_connection_types: f.strings("allowed_connection_types")?,
        })
    }

    /// nats-io/jwt's `HasEmptyPermissions`: nothing at all set.
    pub fn is_empty(&self) -> bool {
        *self == UserPermissionLimits::default()
    }
}

/// A user's claims (`nats` of a `user` JWT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub limits: UserPermissionLimits,
    /// The account, when a signing key of it signed the user.
    pub issuer_account: String,
    pub tags: Option<Vec<String>>,
}

impl User {
    fn read(f: Fields<'_>) -> Result<User, JwtError> {
        Ok(User {
            limits: UserPermissionLimits::read(f)?,
            issuer_account: f.string("issuer_account")?,
            tags: f.strings("tags")?,
        })
    }
}

/// An operator's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operator {
    pub signing_keys: Option<Vec<String>>,
    pub account_server_url: String,
    pub operator_service_urls: Option<Vec<String>>,
    pub system_account: String,
    pub assert_server_version: String,
    pub strict_signing_key_usage: bool,
    pub tags: Option<Vec<String>>,
}

impl Operator {
    fn read(f: Fields<'_>) -> Result<Operator, JwtError> {
        Ok(Operator {
            signing_keys: f.strings("signing_keys")?,
            account_server_url: f.string("account_server_url")?,
            operator_service_urls: f.strings("operator_service_urls")?,
            system_account: f.string("system_account")?,
            assert_server_version: f.string("assert_server_version")?,
            strict_signing_key_usage: f.boolean("strict_signing_key_usage")?,
            tags: f.strings("tags")?,
        })
    }
}

/// An account's limits (`nats.limits`); -1 is no limit, and an absent
/// field is 0, which nats-server enforces as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountLimits {
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub imports: i64,
    pub exports: i64,
    pub wildcards: bool,
    pub disallow_bearer: bool,
    pub conn: i64,
    pub leaf: i64,
    /// JetStream limits that enable JetStream (memory or disk storage, in
    /// any tier).
    pub jetstream: bool,
}

impl AccountLimits {
    fn read(f: Option<Fields<'_>>) -> Result<AccountLimits, JwtError> {
        let Some(f) = f else {
            return Ok(AccountLimits::default());
        };
        let storage = |t: Fields<'_>| -> Result<bool, JwtError> {
            Ok(t.int("mem_storage")? != 0 || t.int("disk_storage")? != 0)
        };
        let mut jetstream = storage(f)?;
        if let Some(tiers) = f.object("tiered_limits")? {
            for (key, tier) in tiers.0 {
                if let Some(tier) = Fields::of(tier, key)? {
                    jetstream |= storage(tier)?;
                }
            }
        }
        Ok(AccountLimits {
            subs: f.int("subs")?,
            data: f.int("data")?,
            payload: f.int("payload")?,
            imports: f.int("imports")?,
            exports: f.int("exports")?,
            wildcards: f.boolean("wildcards")?,
            disallow_bearer: f.boolean("disallow_bearer")?,
            conn: f.int("conn")?,
            leaf: f.int("leaf")?,
            jetstream,
        })
    }

    /// Whether the limits give the account JetStream (natsd has none).
    pub fn jetstream_enabled(&self) -> bool {
        self.jetstream
    }
}

/// One of an account's signing keys: plain, or scoped with a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub key: String,
    pub scope: Option<Box<UserScope>>,
}

/// A scoped signing key: users it signs get `template`, whatever their JWT
/// says, and must say nothing themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserScope {
    pub kind: String,
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
    pub description: String,
}

/// An account's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub limits: AccountLimits,
    pub signing_keys: Vec<SigningKey>,
    /// User keys (or `*`) and the time before which their JWTs are revoked.
    pub revocations: HashMap<String, i64>,
    pub default_permissions: Permissions,
    /// Subject mappings (natsd does not act on them).
    pub has_mappings: bool,
    /// Auth callout users (natsd does not act on them).
    pub auth_users: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub description: String,
    pub info_url: String,
}

impl Account {
    fn read(f: Fields<'_>) -> Result<Account, JwtError> {
        Ok(Account {
            imports: f.list("imports", Import::read)?,
            exports: f.list("exports", Export::read)?,
            limits: AccountLimits::read(f.object("limits")?)?,
            signing_keys: signing_keys(f)?,
            revocations: f.times("revocations")?,
            default_permissions: match f.object("default_permissions")? {
                Some(p) => Permissions::read(p)?,
                None => Permissions::default(),
            },
            has_mappings: f.object("mappings")?.is_some_and(|m| !m.0.is_empty()),
            auth_users: match f.object("authorization")? {
                Some(a) => a.strings("auth_users")?,
                None => None,
            },
            tags: f.strings("tags")?,
            description: f.string("description")?,
            info_url: f.string("info_url")?,
        })
    }
}

/// `stream` or `service`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportType {
    #[default]
    Unknown,
    Stream,
    Service,
}

impl ExportType {
    fn read(f: Fields<'_>, key: &str) -> Result<ExportType, JwtError> {
        let text = f.string(key)?;
        match text.to_lowercase().as_str() {
            "stream" => Ok(ExportType::Stream),
            "service" => Ok(ExportType::Service),
            "" => Ok(ExportType::Unknown),
            _ => err(format!("unknown export type {text:?}")),
        }
    }
}

/// What an account offers other accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub subject: String,
    pub kind: ExportType,
    /// Private: an importer needs an activation token.
    pub token_req: bool,
    pub revocations: HashMap<String, i64>,
    /// `Singleton` (also when empty), `Stream` or `Chunked`.
    pub response_type: String,
    /// Nanoseconds.
    pub response_threshold: i64,
    pub account_token_position: u32,
    pub advertise: bool,
    pub description: String,
    pub info_url: String,
}

impl Export {
    fn read(f: Fields<'_>) -> Result<Export, JwtError> {
        Ok(Export {
            name: f.string("name")?,
            subject: f.string("subject")?,
            kind: ExportType::read(f, "type")?,
            token_req: f.boolean("token_req")?,
            revocations: f.times("revocations")?,
            response_type: f.string("response_type")?,
            response_threshold: f.int("response_threshold")?,
            account_token_position: u32::try_from(f.int("account_token_position")?)
                .map_err(|_| wrong("account_token_position"))?,
            advertise: f.boolean("advertise")?,
            description: f.string("description")?,
            info_url: f.string("info_url")?,
        })
    }
}

/// What an account takes from another's exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub name: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The exporting account's key.
    pub account: String,
    /// An activation JWT, for a private export.
    pub token: String,
    /// Deprecated form of `local_subject`.
    pub to: String,
    pub local_subject: String,
    pub kind: ExportType,
    pub share: bool,
    pub allow_trace: bool,
}

impl Import {
    fn read(f: Fields<'_>) -> Result<Import, JwtError> {
        Ok(Import {
            name: f.string("name")?,
            subject: f.string("subject")?,
            account: f.string("account")?,
            token: f.string("token")?,
            to: f.string("to")?,
            local_subject: f.string("local_subject")?,
            kind: ExportType::read(f, "type")?,
            share: f.boolean("share")?,
            allow_trace: f.boolean("allow_trace")?,
        })
    }
}

/// An activation: the exporter lets account `sub` import `subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activation {
    pub subject: String,
    pub kind: ExportType,
    pub issuer_account: String,
}

/// `src`: an array kept as written, or a comma-separated string split,
/// trimmed, lower-cased and without empty or repeated entries (Go's
/// `CIDRList.UnmarshalJSON`).
fn cidr_list(f: Fields<'_>) -> Result<Option<Vec<String>>, JwtError> {
    match f.get("src") {
        Some(Value::String(text)) => {
            let mut list: Vec<String> = Vec::new();
            for item in text.split(',') {
                let item = item.trim().to_lowercase();
                if !item.is_empty() && !list.contains(&item) {
                    list.push(item);
                }
            }
            Ok(Some(list))
        }
        _ => f.strings("src"),
    }
}

/// `signing_keys`: each a key, or a scope object (`kind: user_scope`).
fn signing_keys(f: Fields<'_>) -> Result<Vec<SigningKey>, JwtError> {
    let Some(value) = f.get("signing_keys") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(wrong("signing_keys"));
    };
    let mut keys = Vec::new();
    for item in items {
        match item {
            Value::String(key) => keys.push(SigningKey {
                key: key.clone(),
                scope: None,
            }),
            Value::Object(map) => {
                let scope = Fields(map);
                let kind = scope.string("kind")?;
                if kind != "user_scope" {
                    return err(format!(
                        "unknown signing key scope {:?}",
                        scope.string("type").unwrap_or_default()
                    ));
                }
                // A scope's template starts from nats-io/jwt's
                // `NewUserScope`: no limits.
                let mut template = serde_json::Map::new();
                for key in ["subs", "data", "payload"] {
                    template.insert(key.into(), Value::from(NO_LIMIT));
                }
                if let Some(given) = scope.object("template")? {
                    for (k, v) in given.0 {
                        template.insert(k.clone(), v.clone());
                    }
                }
                let key = scope.string("key")?;
                keys.push(SigningKey {
                    key: key.clone(),
                    scope: Some(Box::new(UserScope {
                        kind,
                        key,
                        role: scope.string("role")?,
                        template: UserPermissionLimits::read(Fields(&template))?,
                        description: scope.string("description")?,
                    })),
                });
            }
            _ => {}
        }
    }
    Ok(keys)
}

fn b64(part: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|e| JwtError(format!("illegal base64 data: {e}")))
}

/// A part of the token as a JSON object.
fn json_object(part: &str, what: &str) -> Result<serde_json::Map<String, Value>, JwtError> {
    match serde_json::from_slice(&b64(part)?) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => err(format!("invalid {what}: not an object")),
        Err(e) => err(format!("invalid {what}: {e}")),
    }
}

/// Decode and check `token` as nats-io/jwt's `Decode` does.
pub fn decode(token: &str) -> Result<Token, JwtError> {
    if token.len() > MAX_TOKEN_SIZE {
        return err(format!(
            "token size {} exceeds maximum of {MAX_TOKEN_SIZE} bytes: token too large",
            token.len()
        ));
    }
    let chunks: Vec<&str> = token.split('.').collect();
    if chunks.len() != 3 {
        return err("expected 3 chunks");
    }
    let header = json_object(chunks[0], "header")?;
    let header = Fields(&header);
    let (typ, alg) = (header.string("typ")?, header.string("alg")?);
    if !typ.eq_ignore_ascii_case("JWT") {
        return err(format!("not supported type {typ:?}"));
    }
    let lower = alg.to_lowercase();
    if lower != "ed25519" && lower != "ed25519-nkey" {
        return err(format!("unexpected {alg:?} algorithm"));
    }
    let payload = json_object(chunks[1], "claims")?;
    let top = Fields(&payload);
    let nats = top.object("nats")?;
    let empty = serde_json::Map::new();
    let nats = nats.unwrap_or(Fields(&empty));
    // First-library tokens have the type (and more) at the top level.
    let top_type = top.string("type")?;
    let (kind, version) = if top_type.is_empty() {
        (nats.string("type")?, nats.int("version")?)
    } else {
        (top_type, 1)
    };
    if version > 2 {
        return err("JWT was generated by a newer version ");
    }
    let claims = ClaimsData::read(top)?;
    let known = matches!(
        kind.as_str(),
        "operator" | "account" | "user" | "activation"
    );
    if known && version != 1 && version != 2 {
        return err(format!(
            "library supports version 2 or less - received {version}"
        ));
    }
    let body = match kind.as_str() {
        "operator" => Body::Operator(Operator::read(nats)?),
        "account" => Body::Account(Box::new(Account::read(nats)?)),
        "user" => {
            let mut user = User::read(nats)?;
            if version == 1 {
                user.issuer_account = top.string("issuer_account")?;
                user.tags = top.strings("tags")?;
            }
            Body::User(Box::new(user))
        }
        "activation" => Body::Activation(Activation {
            subject: nats.string("subject")?,
            // The first library called the kind `type`.
            kind: ExportType::read(nats, if version == 1 { "type" } else { "kind" })?,
            issuer_account: if version == 1 {
                top.string("issuer_account")?
            } else {
                nats.string("issuer_account")?
            },
        }),
        "cluster" => return err("ClusterClaims are not supported"),
        "server" => return err("ServerClaims are not supported"),
        // Generic claims are verified as first-library tokens, so a
        // second-library one never passes `Decode`.
        _ => return err("claim failed V1 signature verification"),
    };
    let sig = b64(chunks[2])?;
    let signed = if version <= 1 {
        chunks[1]
    } else {
        &token[..chunks[0].len() + chunks[1].len() + 1]
    };
    let issuer = PublicKey::decode(&claims.iss).ok();
    if !issuer.is_some_and(|key| key.verify(signed.as_bytes(), &sig)) {
        return err(if version <= 1 {
            "claim failed V1 signature verification"
        } else {
            "claim failed V2 signature verification"
        });
    }
    let expected: &[KeyKind] = match body {
        Body::Operator(_) => &[KeyKind::Operator],
        Body::User(_) => &[KeyKind::Account],
        Body::Account(_) | Body::Activation(_) => &[KeyKind::Account, KeyKind::Operator],
    };
    if !issuer.is_some_and(|key| expected.contains(&key.kind)) {
        let names: Vec<&str> = expected.iter().map(|k| k.name()).collect();
        return err(format!(
            "unable to validate expected prefixes - [{}]",
            names.join(" ")
        ));
    }
    Ok(Token {
        claims,
        version,
        body,
    })
}

/// The claims of `token` as JSON, unverified: for showing a JWT already
/// checked (`/varz`, `/accountz`), never for deciding anything.
pub fn claims_json(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&b64(payload).ok()?).ok()
}

impl Token {
    pub fn into_user(self) -> Result<(ClaimsData, Box<User>), JwtError> {
        match self.body {
            Body::User(user) => Ok((self.claims, user)),
            _ => err("not user claim"),
        }
    }

    pub fn into_account(self) -> Result<(ClaimsData, Box<Account>), JwtError> {
        match self.body {
            Body::Account(account) => Ok((self.claims, account)),
            _ => err("not account claim"),
        }
    }

    pub fn into_operator(self) -> Result<(ClaimsData, Operator), JwtError> {
        match self.body {
            Body::Operator(operator) => Ok((self.claims, operator)),
            _ => err("not operator claim"),
        }
    }

    pub fn into_activation(self) -> Result<(ClaimsData, Activation), JwtError> {
        match self.body {
            Body::Activation(activation) => Ok((self.claims, activation)),
            _ => err("not activation claim"),
        }
    }

    /// The claim type's name (`user`, `account`, ...).
    pub fn kind(&self) -> &'static str {
        self.body.type_name()
    }
}

/// nats-io/jwt's revocation rule: a JWT issued at or before the time
/// recorded for its subject (or for `*`, everyone) is revoked.
pub fn is_revoked(revocations: &HashMap<String, i64>, subject: &str, issued_at: i64) -> bool {
    let at_or_after = |key: &str| revocations.get(key).is_some_and(|&ts| ts >= issued_at);
    at_or_after("*") || at_or_after(subject)
}

/// Sign `payload` (the claims as JSON, without `iss`, `iat` and `jti`) as
/// issuer `signer`: nats-io/jwt's `Encode`. For tests and tools; the server
/// never issues JWTs.
pub fn encode(payload: &serde_json::Value, signer: &KeyPair, issued_at: i64) -> String {
    let mut claims = payload.clone();
    claims["iss"] = signer.public_key().encode().into();
    claims["iat"] = issued_at.into();
    if claims.get("jti").is_none() {
        // Unique enough for tests; nats-io/jwt hashes the claims.
        let digest = ring::digest::digest(&ring::digest::SHA256, claims.to_string().as_bytes());
        claims["jti"] = data_encoding::BASE32_NOPAD
            .encode(&digest.as_ref()[..20])
            .into();
    }
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let signed = format!("{header}.{body}");
    let sig = signer.sign(signed.as_bytes());
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&sig))
}

/// The blocks of a `.creds` file (or any decorated file), as nats-io/jwt's
/// pattern finds them: a fence line (three dashes or more, anything, and
/// three dashes or more at its end), one line of `[A-Za-z0-9_.=-]`, and
/// another fence line.
fn decorated_blocks(contents: &str) -> Vec<&str> {
    let lines: Vec<&str> = contents
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let is_fence = |line: &str| {
        line.len() >= 6 && line.ends_with("---") && line[..line.len() - 3].contains("---")
    };
    let is_token = |line: &str| {
        !line.is_empty()
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
    };
    let mut blocks = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        if is_fence(lines[i]) && is_token(lines[i + 1]) && is_fence(lines[i + 2]) {
            blocks.push(lines[i + 1]);
            i += 3;
        } else {
            i += 1;
        }
    }
    blocks
}

/// The user JWT of a `.creds` file (nats-io/jwt's `ParseDecoratedJWT`):
/// the first decorated block, or the whole text when there is none.
pub fn creds_jwt(contents: &str) -> &str {
    decorated_blocks(contents)
        .first()
        .copied()
        .unwrap_or(contents)
}

/// The seed of a `.creds` file (`ParseDecoratedUserNKey`): the second
/// decorated block, else the first line that starts with `SO`, `SA` or
/// `SU`; it must be a user seed.
pub fn creds_user_seed(contents: &str) -> Result<KeyPair, JwtError> {
    let blocks = decorated_blocks(contents);
    let seed = match blocks.get(1) {
        Some(seed) => *seed,
        None => contents
            .split('\n')
            .find(|line| {
                let t = line.trim();
                t.starts_with("SO") || t.starts_with("SA") || t.starts_with("SU")
            })
            .ok_or(JwtError("no nkey seed found".into()))?,
    };
    if !(seed.starts_with("SO") || seed.starts_with("SA") || seed.starts_with("SU")) {
        return err("doesn't contain a seed nkey");
    }
    if !seed.starts_with("SU") {
        return err("doesn't contain an user seed nkey");
    }
    KeyPair::from_seed(seed).map_err(|e| JwtError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pair(kind: KeyKind, byte: u8) -> KeyPair {
        KeyPair::from_raw_seed(kind, [byte; 32])
    }

    #[test]
    fn a_signed_user_decodes_with_its_claims() {
        let account = pair(KeyKind::Account, 1);
        let user = pair(KeyKind::User, 2);
        let token = encode(
            &json!({"sub": user.public_key().encode(), "name": "u", "exp": 99,
                    "nats": {"type": "user", "version": 2, "pub": {"allow": ["a.>"]},
                             "src": "10.0.0.0/8, 10.0.0.0/8 ,", "subs": -1}}),
            &account,
            7,
        );
        let (claims, body) = decode(&token).unwrap().into_user().unwrap();
        assert_eq!(claims.iat, 7);
        assert_eq!(claims.iss, account.public_key().encode());
        assert_eq!(claims.time_check(99), Ok(()));
        assert_eq!(claims.time_check(100), Err("claim is expired"));
        assert_eq!(
            body.limits.permissions.publish.allow,
            Some(vec!["a.>".to_string()])
        );
        assert_eq!(body.limits.src, Some(vec!["10.0.0.0/8".to_string()]));
        assert_eq!(body.limits.subs, -1);
        assert!(!body.limits.is_empty());
    }

    #[test]
    fn claims_are_read_as_go_reads_them() {
        let account = pair(KeyKind::Account, 1);
        // Keys in another case match, null is the zero value, an unknown
        // key is ignored.
        let token = encode(
            &json!({"sub": "U", "EXP": 5, "Name": null, "extra": [1],
                    "nats": {"Type": "user", "version": 2, "Pub": {"Allow": ["x"]},
                             "bearer_token": null}}),
            &account,
            1,
        );
        let (claims, user) = decode(&token).unwrap().into_user().unwrap();
        assert_eq!((claims.exp, claims.name.as_str()), (5, ""));
        assert_eq!(
            user.limits.permissions.publish.allow,
            Some(vec!["x".into()])
        );
        assert!(!user.limits.bearer_token);
        // A value of the wrong type is an error, as in Go.
        for bad in [
            json!({"sub": "U", "exp": "5", "nats": {"type": "user", "version": 2}}),
            json!({"sub": "U", "nats": {"type": "user", "version": 2, "subs": 1.5}}),
            json!({"sub": "U", "nats": {"type": "user", "version": 2, "pub": {"allow": "x"}}}),
            json!({"sub": "U", "nats": {"type": "account", "version": 2,
                                        "exports": [{"type": "bogus"}]}}),
        ] {
            assert!(decode(&encode(&bad, &account, 1)).is_err(), "{bad}");
        }
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let account = pair(KeyKind::Account, 1);
        let token = encode(
            &json!({"sub": "U", "nats": {"type": "user", "version": 2}}),
            &account,
            1,
        );
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let body = b64(&parts[1]).unwrap();
        let forged = String::from_utf8(body).unwrap().replace("\"U\"", "\"V\"");
        parts[1] = BASE64URL_NOPAD.encode(forged.as_bytes());
        assert_eq!(
            decode(&parts.join(".")).unwrap_err().0,
            "claim failed V2 signature verification"
        );
    }

    #[test]
    fn issuers_must_have_the_right_role() {
        let operator = pair(KeyKind::Operator, 3);
        let token = encode(
            &json!({"sub": "U", "nats": {"type": "user", "version": 2}}),
            &operator,
            1,
        );
        assert_eq!(
            decode(&token).unwrap_err().0,
            "unable to validate expected prefixes - [account]"
        );
    }

    #[test]
    fn malformed_tokens_say_why() {
        assert_eq!(decode("a.b").unwrap_err().0, "expected 3 chunks");
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
        assert_eq!(
            decode(&format!("{header}.e30.e30")).unwrap_err().0,
            "unexpected \"HS256\" algorithm"
        );
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let body = BASE64URL_NOPAD.encode(br#"{"nats":{"type":"user","version":3}}"#);
        assert_eq!(
            decode(&format!("{header}.{body}.e30")).unwrap_err().0,
            "JWT was generated by a newer version "
        );
        assert!(decode(&"x".repeat(MAX_TOKEN_SIZE + 1))
            .unwrap_err()
            .0
            .ends_with("token too large"));
    }

    #[test]
    fn revocations_cover_jwts_issued_at_or_before() {
        let mut r = HashMap::new();
        r.insert("U1".to_string(), 100);
        assert!(is_revoked(&r, "U1", 100));
        assert!(is_revoked(&r, "U1", 99));
        assert!(!is_revoked(&r, "U1", 101));
        assert!(!is_revoked(&r, "U2", 1));
        r.insert("*".to_string(), 50);
        assert!(is_revoked(&r, "U2", 50));
        assert!(!is_revoked(&r, "U2", 51));
    }

    #[test]
    fn creds_files_give_their_jwt_and_seed() {
        let user = pair(KeyKind::User, 9);
        let seed = user.encode_seed();
        let creds = format!(
            "-----BEGIN NATS USER JWT-----\neyJ.abc.def\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        );
        assert_eq!(creds_jwt(&creds), "eyJ.abc.def");
        assert_eq!(
            creds_user_seed(&creds).unwrap().public_key(),
            user.public_key()
        );
        // Undecorated: the whole text is the JWT, the seed a line of it.
        assert_eq!(creds_jwt("a.b.c"), "a.b.c");
        assert!(creds_user_seed(&format!("junk\n{seed}\n")).is_ok());
        assert_eq!(
            creds_user_seed("nothing").unwrap_err().0,
            "no nkey seed found"
        );
        let account_seed = pair(KeyKind::Account, 1).encode_seed();
        assert_eq!(
            creds_user_seed(&account_seed).unwrap_err().0,
            "doesn't contain an user seed nkey"
        );
    }
}
