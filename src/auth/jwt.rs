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
use serde::{Deserialize, Deserializer};

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

/// The claims every JWT carries, at the top level of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Permission {
    #[serde(deserialize_with = "string_list")]
    pub allow: Option<Vec<String>>,
    #[serde(deserialize_with = "string_list")]
    pub deny: Option<Vec<String>>,
}

/// `resp`: replies a user may publish to requests it received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    pub max: i64,
    /// Nanoseconds.
    pub ttl: i64,
}

/// A user's or an account's default permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Permissions {
    #[serde(rename = "pub")]
    pub publish: Permission,
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    pub resp: Option<ResponsePermission>,
}

/// `times`: a daily window, `HH:MM:SS` to `HH:MM:SS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// nats-io/jwt's `UserPermissionLimits`: what a user may do, and what a
/// scoped signing key's template imposes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    /// Source CIDRs; an array, or (first JWT library) a comma-separated
    /// string.
    #[serde(deserialize_with = "cidr_list")]
    pub src: Option<Vec<String>>,
    pub times: Option<Vec<TimeRange>>,
    pub times_location: String,
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub bearer_token: bool,
    pub proxy_required: bool,
    #[serde(deserialize_with = "string_list")]
    pub allowed_connection_types: Option<Vec<String>>,
}

impl UserPermissionLimits {
    /// nats-io/jwt's `HasEmptyPermissions`: nothing at all set.
    pub fn is_empty(&self) -> bool {
        *self == UserPermissionLimits::default()
    }
}

/// A user's claims (`nats` of a `user` JWT).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account, when a signing key of it signed the user.
    pub issuer_account: String,
    #[serde(deserialize_with = "string_list")]
    pub tags: Option<Vec<String>>,
}

/// An operator's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Operator {
    #[serde(deserialize_with = "string_list")]
    pub signing_keys: Option<Vec<String>>,
    pub account_server_url: String,
    #[serde(deserialize_with = "string_list")]
    pub operator_service_urls: Option<Vec<String>>,
    pub system_account: String,
    pub assert_server_version: String,
    pub strict_signing_key_usage: bool,
    #[serde(deserialize_with = "string_list")]
    pub tags: Option<Vec<String>>,
}

/// An account's limits (`nats.limits`); -1 is no limit, and an absent
/// field is 0, which nats-server enforces as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
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
    pub mem_storage: i64,
    pub disk_storage: i64,
    #[serde(deserialize_with = "any_map")]
    pub tiered_limits: Option<serde_json::Map<String, serde_json::Value>>,
}

impl AccountLimits {
    /// Whether the limits give the account JetStream (natsd has none).
    pub fn jetstream_enabled(&self) -> bool {
        let tier_enabled = |v: &serde_json::Value| {
            ["mem_storage", "disk_storage"]
                .iter()
                .any(|k| v.get(k).and_then(|x| x.as_i64()).is_some_and(|x| x != 0))
        };
        self.mem_storage != 0
            || self.disk_storage != 0
            || self
                .tiered_limits
                .iter()
                .flatten()
                .any(|(_, v)| tier_enabled(v))
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserScope {
    pub kind: String,
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
    pub description: String,
}

/// An account's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Account {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub limits: AccountLimits,
    #[serde(deserialize_with = "signing_keys")]
    pub signing_keys: Vec<SigningKey>,
    /// User keys (or `*`) and the time before which their JWTs are revoked.
    pub revocations: HashMap<String, i64>,
    pub default_permissions: Permissions,
    #[serde(deserialize_with = "any_map")]
    pub mappings: Option<serde_json::Map<String, serde_json::Value>>,
    pub authorization: ExternalAuthorization,
    #[serde(deserialize_with = "string_list")]
    pub tags: Option<Vec<String>>,
    pub description: String,
    pub info_url: String,
}

/// Auth callout (`nats.authorization`); enabled when it names users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ExternalAuthorization {
    #[serde(deserialize_with = "string_list")]
    pub auth_users: Option<Vec<String>>,
}

/// `stream` or `service`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportType {
    #[default]
    Unknown,
    Stream,
    Service,
}

impl<'de> Deserialize<'de> for ExportType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.to_lowercase().as_str() {
            "stream" => Ok(ExportType::Stream),
            "service" => Ok(ExportType::Service),
            "" => Ok(ExportType::Unknown),
            _ => Err(serde::de::Error::custom(format!(
                "unknown export type {text:?}"
            ))),
        }
    }
}

/// What an account offers other accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Export {
    pub name: String,
    pub subject: String,
    #[serde(rename = "type")]
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

/// What an account takes from another's exports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
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
    #[serde(rename = "type")]
    pub kind: ExportType,
    pub share: bool,
    pub allow_trace: bool,
}

/// An activation: the exporter lets account `sub` import `subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Activation {
    pub subject: String,
    pub kind: ExportType,
    pub issuer_account: String,
}

/// A JSON list of strings, `null` as absent.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<Vec<String>>::deserialize(d)
}

fn any_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, D::Error> {
    Option::deserialize(d)
}

/// `src`: an array kept as written, or a comma-separated string split,
/// trimmed, lower-cased and without empty or repeated entries (Go's
/// `CIDRList.UnmarshalJSON`).
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Form>::deserialize(d)? {
        None => None,
        Some(Form::List(list)) => Some(list),
        Some(Form::Text(text)) => {
            let mut list: Vec<String> = Vec::new();
            for item in text.split(',') {
                let item = item.trim().to_lowercase();
                if !item.is_empty() && !list.contains(&item) {
                    list.push(item);
                }
            }
            Some(list)
        }
    })
}

/// `signing_keys`: each a key, or a scope object (`kind: user_scope`).
fn signing_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SigningKey>, D::Error> {
    let items = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    let mut keys = Vec::new();
    for item in items {
        match item {
            serde_json::Value::String(key) => keys.push(SigningKey { key, scope: None }),
            serde_json::Value::Object(ref map) => {
                let kind = map.get("kind").and_then(|k| k.as_str()).unwrap_or("");
                if kind != "user_scope" {
                    return Err(serde::de::Error::custom(format!(
                        "unknown signing key scope {:?}",
                        map.get("type").and_then(|k| k.as_str()).unwrap_or("")
                    )));
                }
                // A scope's template starts from nats-io/jwt's
                // `NewUserScope`: no limits.
                let mut template = serde_json::json!({"subs": -1, "data": -1, "payload": -1});
                if let Some(serde_json::Value::Object(given)) = map.get("template") {
                    for (k, v) in given {
                        template[k] = v.clone();
                    }
                }
                let mut scope = map.clone();
                scope.insert("template".into(), template);
                let scope: UserScope = serde_json::from_value(serde_json::Value::Object(scope))
                    .map_err(serde::de::Error::custom)?;
                keys.push(SigningKey {
                    key: scope.key.clone(),
                    scope: Some(Box::new(scope)),
                });
            }
            _ => {}
        }
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// The claim type and version, from the top-level `type` (first JWT
/// library) or `nats.type` and `nats.version`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Identifier {
    #[serde(rename = "type")]
    top_type: String,
    nats: GenericFields,
    /// First-library tokens kept these at the top level.
    issuer_account: String,
    #[serde(deserialize_with = "string_list")]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GenericFields {
    #[serde(rename = "type")]
    kind: String,
    version: i64,
}

fn b64(part: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|e| JwtError(format!("illegal base64 data: {e}")))
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
    let header: Header = serde_json::from_slice(&b64(chunks[0])?)
        .map_err(|e| JwtError(format!("invalid header: {e}")))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return err(format!("not supported type {:?}", header.typ));
    }
    let alg = header.alg.to_lowercase();
    if alg != "ed25519" && alg != "ed25519-nkey" {
        return err(format!("unexpected {:?} algorithm", header.alg));
    }
    let payload = b64(chunks[1])?;
    let id: Identifier =
        serde_json::from_slice(&payload).map_err(|e| JwtError(format!("invalid claims: {e}")))?;
    let (kind, version) = if id.top_type.is_empty() {
        (id.nats.kind.as_str(), id.nats.version)
    } else {
        (id.top_type.as_str(), 1)
    };
    if version > 2 {
        return err("JWT was generated by a newer version ");
    }
    let claims: ClaimsData =
        serde_json::from_slice(&payload).map_err(|e| JwtError(format!("invalid claims: {e}")))?;
    let nats = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()
        .and_then(|mut v| v.get_mut("nats").map(serde_json::Value::take))
        .unwrap_or(serde_json::Value::Null);
    let nats = if nats.is_null() {
        serde_json::json!({})
    } else {
        nats
    };
    let known = matches!(kind, "operator" | "account" | "user" | "activation");
    if known && version != 1 && version != 2 {
        return err(format!(
            "library supports version 2 or less - received {version}"
        ));
    }
    let parse = |what: &str| JwtError(format!("invalid {what} claims"));
    let body = match kind {
        "operator" => Body::Operator(serde_json::from_value(nats).map_err(|_| parse(kind))?),
        "account" => Body::Account(serde_json::from_value(nats).map_err(|_| parse(kind))?),
        "user" => {
            let mut user: Box<User> = serde_json::from_value(nats).map_err(|_| parse(kind))?;
            if version == 1 {
                user.issuer_account = id.issuer_account.clone();
                user.tags = id.tags.clone();
            }
            Body::User(user)
        }
        "activation" => {
            let mut activation: Activation = if version == 1 {
                // The first library called the kind `type`.
                let mut v1 = nats;
                if let Some(t) = v1.get("type").cloned() {
                    v1["kind"] = t;
                }
                serde_json::from_value(v1).map_err(|_| parse(kind))?
            } else {
                serde_json::from_value(nats).map_err(|_| parse(kind))?
            };
            if version == 1 {
                activation.issuer_account = id.issuer_account.clone();
            }
            Body::Activation(activation)
        }
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
