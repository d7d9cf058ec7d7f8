//! NKeys, JWTs, `.creds` files and user-JWT logins, fed any bytes: what a
//! client can put before it is authenticated.
//!
//! The first byte picks what the rest is:
//! - 0: a JWT as text. If it decodes, its signature verifies: the issuer's
//!   key signed `header.payload` (or the payload, for a first-library
//!   token), checked here again without the decoder.
//! - 1: an NKey (public key or seed). What decodes encodes back to the
//!   same key, and a seed's pair signs what its public key verifies.
//! - 2: a `.creds` file. A seed found in it is a user's.
//! - 3: claims (JSON) that a fixed account signs, so the claims parser is
//!   reached with valid signatures; then a CONNECT with that JWT and a
//!   signature from the input is checked as a login. An admitted login
//!   is one the account's key signed, with the user's key signing the
//!   nonce unless the JWT is a bearer one.
//! - 4: the same claims signed, then one byte of the token changed: a
//!   token changed anywhere is never accepted with other claims.
//!
//! Bounds: a token over nats-io/jwt's 1 MiB is refused before any work;
//! nothing else is kept but the input.

use std::collections::HashMap;
use std::net::IpAddr;

use natsd::auth::jwt::{self, Body};
use natsd::auth::nkeys::{KeyKind, KeyPair, PublicKey};
use natsd::auth::operator::{self, Presented, Trust};
use natsd::options::{AccountResolver, Options};

const NONCE: &[u8] = b"fuzzfuzzfuzzfuz";
const NOW: i64 = 1_800_000_000;

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => check_token(&String::from_utf8_lossy(rest)),
        1 => check_nkey(&String::from_utf8_lossy(rest)),
        2 => check_creds(&String::from_utf8_lossy(rest)),
        3 => check_login(rest),
        _ => check_tampered(rest),
    }
}

/// Decode `token`; if it decodes, verify its signature independently.
fn check_token(token: &str) {
    let Ok(decoded) = jwt::decode(token) else {
        return;
    };
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a decoded token has three parts");
    let signed = if decoded.version <= 1 {
        parts[1].to_string()
    } else {
        format!("{}.{}", parts[0], parts[1])
    };
    let sig = data_encoding::BASE64URL_NOPAD
        .decode(parts[2].as_bytes())
        .expect("a decoded token's signature is base64url");
    let issuer = PublicKey::decode(&decoded.claims.iss).expect("a decoded token's issuer is a key");
    assert!(
        issuer.verify(signed.as_bytes(), &sig),
        "a token was accepted that its issuer did not sign"
    );
    let expected: &[KeyKind] = match decoded.body {
        Body::Operator(_) => &[KeyKind::Operator],
        Body::User(_) => &[KeyKind::Account],
        Body::Account(_) | Body::Activation(_) => &[KeyKind::Account, KeyKind::Operator],
    };
    assert!(
        expected.contains(&issuer.kind),
        "an issuer of the wrong role"
    );
}

fn check_nkey(text: &str) {
    if let Ok(key) = PublicKey::decode(text) {
        let again = PublicKey::decode(&key.encode()).expect("an encoded key decodes");
        assert_eq!(again, key);
    }
    if let Ok(pair) = KeyPair::from_seed(text) {
        let again = KeyPair::from_seed(&pair.encode_seed()).expect("an encoded seed decodes");
        assert_eq!(again.public_key(), pair.public_key());
        let sig = pair.sign(text.as_bytes());
        assert!(pair.public_key().verify(text.as_bytes(), &sig));
    }
}

fn check_creds(text: &str) {
    let token = jwt::creds_jwt(text);
    assert!(token.len() <= text.len());
    check_token(token);
    if let Ok(pair) = jwt::creds_user_seed(text) {
        assert_eq!(pair.kind(), KeyKind::User, "a creds seed is a user's");
    }
}

/// The fixed world the login checks run in: an operator, one account that
/// may sign users itself or through a scoped key.
struct World {
    account: KeyPair,
    scoped: KeyPair,
    user: KeyPair,
    resolved: operator::Resolved,
}

/// The world, made once: every input runs against the same keys.
fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(make_world)
}

fn make_world() -> World {
    let op = KeyPair::from_raw_seed(KeyKind::Operator, [1; 32]);
    let account = KeyPair::from_raw_seed(KeyKind::Account, [2; 32]);
    let scoped = KeyPair::from_raw_seed(KeyKind::Account, [3; 32]);
    let user = KeyPair::from_raw_seed(KeyKind::User, [4; 32]);
    let op_jwt = jwt::encode(
        &serde_json::json!({"sub": op.public_key().encode(),
                            "nats": {"type": "operator", "version": 2}}),
        &op,
        NOW - 100,
    );
    let account_key = account.public_key().encode();
    let account_jwt = jwt::encode(
        &serde_json::json!({"sub": account_key, "name": "A", "nats": {
            "type": "account", "version": 2,
            "limits": {"subs": -1, "payload": -1, "conn": -1},
            "signing_keys": [{"kind": "user_scope", "key": scoped.public_key().encode(),
                              "template": {"pub": {"allow": ["{{name()}}.>", "{{tag(t)}}"]}}}],
            "revocations": {"*": NOW - 50}
        }}),
        &op,
        NOW - 100,
    );
    let opts = Options {
        trusted_operators: vec![op_jwt],
        resolver: Some(AccountResolver::Memory),
        resolver_preload: vec![(account_key, account_jwt)],
        ..Options::default()
    };
    let trust = Trust::new(&opts);
    let resolved = operator::resolve(&opts, &trust, NOW);
    assert_eq!(resolved.accounts.len(), 1, "the fuzz world's account loads");
    World {
        account,
        scoped,
        user,
        resolved,
    }
}

/// Split the input into claims JSON and a signature text at the first
/// 0xff byte.
fn claims_and_sig(rest: &[u8]) -> (serde_json::Value, String) {
    let (claims, sig) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let claims = serde_json::from_slice(claims).unwrap_or(serde_json::Value::Null);
    (claims, String::from_utf8_lossy(sig).into_owned())
}

fn check_login(rest: &[u8]) {
    let world = world();
    let (mut claims, sig_text) = claims_and_sig(rest);
    if !claims.is_object() {
        return;
    }
    // Usually the fixed user's own key, so the nonce signature can verify.
    if claims.get("sub").is_none() {
        claims["sub"] = world.user.public_key().encode().into();
    }
    // A user that names its account was signed by a signing key.
    let signer = if claims["nats"]["issuer_account"].is_string() {
        &world.scoped
    } else {
        &world.account
    };
    let token = jwt::encode(&claims, signer, NOW - 10);
    check_token(&token);
    let own_sig = data_encoding::BASE64URL_NOPAD.encode(&world.user.sign(NONCE));
    let accounts: HashMap<&str, &operator::JwtAccount> = world
        .resolved
        .accounts
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    for sig in [sig_text.as_str(), own_sig.as_str()] {
        let presented = Presented {
            jwt: &token,
            sig,
            nonce: NONCE,
            ip: IpAddr::from([127, 0, 0, 1]),
            kind: "STANDARD",
        };
        let lookup = |key: &str| accounts.get(key).copied().ok_or("account missing");
        let Ok(login) = operator::check_user(&presented, lookup, NOW) else {
            continue;
        };
        // Admitted: the account's key signed it, and the user's key the
        // nonce, unless it is a bearer JWT.
        let decoded = jwt::decode(&token).expect("an admitted JWT decodes");
        assert_eq!(decoded.claims.iss, signer.public_key().encode());
        assert_eq!(login.user, decoded.claims.sub);
        if !login.bearer {
            let key = PublicKey::decode(&login.user).expect("an admitted user is a key");
            let sig = natsd::auth::nonce::decode_sig(sig).expect("an admitted sig decodes");
            assert!(
                key.verify(NONCE, &sig),
                "admitted without signing the nonce"
            );
        }
    }
}

fn check_tampered(rest: &[u8]) {
    let world = world();
    let (claims, flip) = claims_and_sig(rest);
    if !claims.is_object() {
        return;
    }
    let token = jwt::encode(&claims, &world.account, NOW - 10);
    let original = jwt::decode(&token).ok().map(|t| t.claims);
    let mut bytes = token.into_bytes();
    let at = flip.len() % bytes.len();
    let with = flip.bytes().next().unwrap_or(b'A');
    if bytes[at] == with {
        return;
    }
    bytes[at] = with;
    let tampered = String::from_utf8_lossy(&bytes).into_owned();
    if let Ok(decoded) = jwt::decode(&tampered) {
        // Changing a base64 character's unused low bits, or the header's
        // case, can leave what is signed intact: the claims must be the
        // same ones.
        assert_eq!(
            Some(decoded.claims),
            original,
            "a changed token was accepted with other claims"
        );
    }
}
