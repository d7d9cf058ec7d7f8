//! Operators, accounts and users made in the test, as `nsc` makes them:
//! keys, JWTs (with every limit written out, -1 for none), `.creds` files,
//! and a client that signs the server's nonce.

use std::time::{SystemTime, UNIX_EPOCH};

use natsd::auth::jwt;
use natsd::auth::nkeys::{KeyKind, KeyPair};
use serde_json::{json, Value};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn key(kind: KeyKind) -> KeyPair {
    KeyPair::generate(kind)
}

pub fn public(pair: &KeyPair) -> String {
    pair.public_key().encode()
}

/// An operator JWT, self-signed; `nats` fields merged in.
pub fn operator_jwt(op: &KeyPair, name: &str, nats: Value) -> String {
    let mut body = json!({"type": "operator", "version": 2});
    merge(&mut body, nats);
    jwt::encode(
        &json!({"sub": public(op), "name": name, "nats": body}),
        op,
        now() - 60,
    )
}

/// The limits `nsc` writes for a new account: none.
pub fn no_limits() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
           "wildcards": true, "conn": -1, "leaf": -1})
}

/// An account JWT signed by `signer` (the operator or one of its signing
/// keys); `nats` is merged over nsc's defaults.
pub fn account_jwt(account: &KeyPair, name: &str, signer: &KeyPair, nats: Value) -> String {
    account_jwt_with(account, name, signer, nats, json!({}))
}

/// As [`account_jwt`], with top-level claims (`exp`, `nbf`) merged in.
pub fn account_jwt_with(
    account: &KeyPair,
    name: &str,
    signer: &KeyPair,
    nats: Value,
    top: Value,
) -> String {
    let mut body = json!({"type": "account", "version": 2, "limits": no_limits(),
                          "default_permissions": {"pub": {}, "sub": {}}});
    merge(&mut body, nats);
    let mut claims = json!({"sub": public(account), "name": name, "nats": body});
    merge(&mut claims, top);
    jwt::encode(&claims, signer, now() - 60)
}

/// A user JWT signed by `signer` (its account or a signing key of it);
/// `nats` merged over nsc's defaults, `top` over the top-level claims.
pub fn user_jwt(user: &KeyPair, signer: &KeyPair, nats: Value, top: Value) -> String {
    let mut body = json!({"type": "user", "version": 2, "pub": {}, "sub": {},
                          "subs": -1, "data": -1, "payload": -1});
    merge(&mut body, nats);
    let mut claims = json!({"sub": public(user), "name": "u", "nats": body});
    merge(&mut claims, top);
    jwt::encode(&claims, signer, now() - 60)
}

/// A user JWT with `iat` chosen (for revocations).
pub fn user_jwt_issued(user: &KeyPair, signer: &KeyPair, nats: Value, issued_at: i64) -> String {
    let mut body = json!({"type": "user", "version": 2, "pub": {}, "sub": {},
                          "subs": -1, "data": -1, "payload": -1});
    merge(&mut body, nats);
    jwt::encode(
        &json!({"sub": public(user), "name": "u", "nats": body}),
        signer,
        issued_at,
    )
}

/// An activation token: `exporter` lets `importer` import `subject`.
pub fn activation_jwt(exporter: &KeyPair, importer: &KeyPair, subject: &str, kind: &str) -> String {
    jwt::encode(
        &json!({"sub": public(importer), "name": subject,
                "nats": {"type": "activation", "version": 2, "subject": subject, "kind": kind}}),
        exporter,
        now() - 60,
    )
}

/// A `.creds` file as `nsc` writes it.
pub fn creds(user_jwt: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.encode_seed()
    )
}

/// `sig` for CONNECT: the nonce signed, unpadded base64url.
pub fn sign_nonce(user: &KeyPair, nonce: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(&user.sign(nonce.as_bytes()))
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        for (k, v) in from {
            into.insert(k, v);
        }
    }
}
