//! natsd driven by the official Rust client's own credential handling
//! (`async-nats`): a `.creds` file, an NKey seed, a JWT with a signing
//! callback, and credentials natsd must refuse.
//!
//! The keys, JWTs and `.creds` files are made by `common::jwt` as `nsc`
//! makes them; the client does everything else (reading the file, signing
//! the nonce, encoding the signature). Every await that could hang is
//! bounded by [`TIMEOUT`]; waiting is done with round trips through the
//! server, never with sleeps.
#![cfg(feature = "jwt")]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{AuthError, Client, ConnectErrorKind, ConnectOptions, Subscriber};
use common::jwt::*;
use common::TestServer;
use futures::StreamExt;
use natsd::auth::nkeys::{KeyKind, KeyPair};
use natsd::options::{AccountResolver, User};
use natsd::Options;
use serde_json::json;

/// Bound on any single wait; a passing test never waits it out.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Await `fut`, failing the test if it takes longer than [`TIMEOUT`].
async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .expect("timed out waiting")
}

fn url(server: &TestServer) -> String {
    format!("nats://{}", server.addr())
}

async fn connect(server: &TestServer, opts: ConnectOptions) -> Client {
    within(opts.connect(url(server)))
        .await
        .expect("the client connects")
}

/// The client must be turned away with the server's `Authorization
/// Violation`.
async fn refused(server: &TestServer, opts: ConnectOptions, what: &str) {
    let error = within(opts.connect(url(server))).await.expect_err(what);
    assert_eq!(
        error.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{what}: {error}"
    );
}

async fn subscribe(client: &Client, subject: &str) -> Subscriber {
    within(client.subscribe(subject.to_string()))
        .await
        .expect("subscribe")
}

async fn publish(client: &Client, subject: &str, payload: &str) {
    within(client.publish(subject.to_string(), payload.to_string().into()))
        .await
        .expect("publish");
}

async fn next(sub: &mut Subscriber) -> String {
    let message = within(sub.next()).await.expect("subscription ended");
    String::from_utf8(message.payload.to_vec()).expect("utf-8 payload")
}

/// A round trip through the server: a message to the client's own fresh
/// inbox comes back only after the server has processed everything the
/// client sent before it (async-nats' `flush` sends no PING).
async fn sync(client: &Client) {
    let inbox = client.new_inbox();
    let mut sentinel = subscribe(client, &inbox).await;
    publish(client, &inbox, "sync").await;
    next(&mut sentinel).await;
}

/// Messages flow between `a` and `b`: publish/subscribe both ways, and a
/// request from `b` answered by `a`.
async fn messages_flow(a: &Client, b: &Client) {
    let mut on_a = subscribe(a, "greet.a").await;
    let mut on_b = subscribe(b, "greet.b").await;
    sync(a).await;
    sync(b).await;
    publish(a, "greet.b", "hello b").await;
    publish(b, "greet.a", "hello a").await;
    assert_eq!(next(&mut on_b).await, "hello b");
    assert_eq!(next(&mut on_a).await, "hello a");

    let mut service = subscribe(a, "svc.echo").await;
    sync(a).await;
    let (reply, ()) = tokio::join!(within(b.request("svc.echo", "ping".into())), async {
        let request = within(service.next()).await.expect("a request");
        let reply = request.reply.expect("a reply subject");
        let payload = String::from_utf8_lossy(&request.payload);
        publish(a, reply.as_str(), &format!("echo: {payload}")).await;
    });
    let reply = reply.expect("the request is answered");
    assert_eq!(&reply.payload[..], b"echo: ping");
}

/// A scratch directory of this test's own, for `.creds` files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("credentials-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An operator with a system account and two accounts, APP (which has
/// revoked one user) and OTHER, loaded into an in-process natsd.
struct World {
    app: KeyPair,
    other: KeyPair,
    revoked: KeyPair,
    revoked_at: i64,
    server: TestServer,
}

fn world() -> World {
    let operator = key(KeyKind::Operator);
    let system = key(KeyKind::Account);
    let app = key(KeyKind::Account);
    let other = key(KeyKind::Account);
    let revoked = key(KeyKind::User);
    let revoked_at = now() - 30;
    let mut revocations = serde_json::Map::new();
    revocations.insert(public(&revoked), revoked_at.into());
    let op_jwt = operator_jwt(&operator, "OP", json!({"system_account": public(&system)}));
    let preload = vec![
        (
            public(&system),
            account_jwt(&system, "SYS", &operator, json!({})),
        ),
        (
            public(&app),
            account_jwt(&app, "APP", &operator, json!({"revocations": revocations})),
        ),
        (
            public(&other),
            account_jwt(&other, "OTHER", &operator, json!({})),
        ),
    ];
    let server = common::server_with(|opts| {
        opts.trusted_operators = vec![op_jwt];
        opts.resolver = Some(AccountResolver::Memory);
        opts.resolver_preload = preload;
        opts.system_account = public(&system);
    });
    World {
        app,
        other,
        revoked,
        revoked_at,
        server,
    }
}

/// A new user of `account` and its `.creds` text.
fn user_creds(account: &KeyPair) -> String {
    let user = key(KeyKind::User);
    creds(&user_jwt(&user, account, json!({}), json!({})), &user)
}

/// The JWT-callback options: `jwt` presented, the nonce signed by `signer`
/// through the client's callback. Each nonce the client was given is
/// pushed to the returned list.
fn jwt_signed_by(jwt: String, signer: &KeyPair) -> (ConnectOptions, Arc<Mutex<Vec<Vec<u8>>>>) {
    let signer = Arc::new(KeyPair::from_seed(&signer.encode_seed()).unwrap());
    let nonces = Arc::new(Mutex::new(Vec::new()));
    let seen = nonces.clone();
    let opts = ConnectOptions::with_jwt(jwt, move |nonce: Vec<u8>| {
        let signer = signer.clone();
        seen.lock().unwrap().push(nonce.clone());
        async move { Ok::<_, AuthError>(signer.sign(&nonce).to_vec()) }
    });
    (opts, nonces)
}

#[tokio::test]
async fn a_creds_file_logs_in_and_messages_flow() {
    let w = world();
    let dir = scratch("file");
    let path = dir.join("app.creds");
    std::fs::write(&path, user_creds(&w.app)).unwrap();

    let by_file = ConnectOptions::with_credentials_file(&path)
        .await
        .expect("async-nats reads the .creds file");
    let a = connect(&w.server, by_file).await;
    assert!(a.server_info().auth_required);
    assert_eq!(a.server_info().nonce.len(), 15, "{:?}", a.server_info());
    // The same file through the builder, and its text directly.
    let b = connect(
        &w.server,
        ConnectOptions::new()
            .credentials_file(&path)
            .await
            .expect("async-nats reads the .creds file"),
    )
    .await;
    let c = connect(
        &w.server,
        ConnectOptions::with_credentials(&user_creds(&w.app)).expect("the .creds text parses"),
    )
    .await;
    messages_flow(&a, &b).await;
    messages_flow(&c, &a).await;

    // A user of another account logs in the same way but is kept apart.
    let other_path = dir.join("other.creds");
    std::fs::write(&other_path, user_creds(&w.other)).unwrap();
    let stranger = connect(
        &w.server,
        ConnectOptions::with_credentials_file(&other_path)
            .await
            .unwrap(),
    )
    .await;
    let mut apart = subscribe(&stranger, "greet.a").await;
    sync(&stranger).await;
    publish(&b, "greet.a", "not for OTHER").await;
    // Routed (to nobody in OTHER) before the round trip completes.
    sync(&b).await;
    publish(&stranger, "greet.a", "within OTHER").await;
    assert_eq!(next(&mut apart).await, "within OTHER");
}

#[tokio::test]
async fn an_nkey_seed_logs_in_an_nkey_user() {
    let alice = key(KeyKind::User);
    let bob = key(KeyKind::User);
    let server = common::server_with(|opts: &mut Options| {
        opts.users = Some(
            [&alice, &bob]
                .iter()
                .map(|pair| User {
                    nkey: Some(public(pair)),
                    ..User::default()
                })
                .collect(),
        );
    });
    let a = connect(&server, ConnectOptions::with_nkey(alice.encode_seed())).await;
    assert!(a.server_info().auth_required);
    assert_eq!(a.server_info().nonce.len(), 15, "{:?}", a.server_info());
    let b = connect(&server, ConnectOptions::new().nkey(bob.encode_seed())).await;
    messages_flow(&a, &b).await;

    refused(
        &server,
        ConnectOptions::with_nkey(key(KeyKind::User).encode_seed()),
        "an NKey not among the users",
    )
    .await;
    refused(&server, ConnectOptions::new(), "no credentials").await;
}

#[tokio::test]
async fn a_jwt_with_a_signing_callback_logs_in() {
    let w = world();
    let alice = key(KeyKind::User);
    let bob = key(KeyKind::User);
    let (opts, nonces) = jwt_signed_by(user_jwt(&alice, &w.app, json!({}), json!({})), &alice);
    let a = connect(&w.server, opts).await;
    // The callback was asked once, for the nonce of the server's INFO.
    let asked = nonces.lock().unwrap().clone();
    assert_eq!(asked, [a.server_info().nonce.into_bytes()]);

    let (opts, _) = jwt_signed_by(user_jwt(&bob, &w.app, json!({}), json!({})), &bob);
    let b = connect(&w.server, opts).await;
    messages_flow(&a, &b).await;
}

#[tokio::test]
async fn revoked_or_unknown_credentials_are_refused() {
    let w = world();
    let dir = scratch("refused");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // Revoked: issued at or before the account's revocation.
    let revoked = user_jwt_issued(&w.revoked, &w.app, json!({}), w.revoked_at);
    let path = write("revoked.creds", creds(&revoked, &w.revoked));
    refused(
        &w.server,
        ConnectOptions::with_credentials_file(&path).await.unwrap(),
        "a revoked user JWT",
    )
    .await;
    let (opts, _) = jwt_signed_by(revoked, &w.revoked);
    refused(&w.server, opts, "a revoked user JWT, by callback").await;
    // Issued after the revocation, the same user is let in.
    let reissued = user_jwt_issued(&w.revoked, &w.app, json!({}), w.revoked_at + 1);
    let path = write("reissued.creds", creds(&reissued, &w.revoked));
    connect(
        &w.server,
        ConnectOptions::with_credentials_file(&path).await.unwrap(),
    )
    .await;

    // Signed by a key the server does not know: claiming to be of APP,
    // or of an account it has no JWT for.
    let user = key(KeyKind::User);
    let stranger = key(KeyKind::Account);
    let claiming_app = user_jwt(
        &user,
        &stranger,
        json!({"issuer_account": public(&w.app)}),
        json!({}),
    );
    let path = write("claiming.creds", creds(&claiming_app, &user));
    refused(
        &w.server,
        ConnectOptions::with_credentials_file(&path).await.unwrap(),
        "a user JWT signed by a key APP does not list",
    )
    .await;
    let unknown_account = user_jwt(&user, &stranger, json!({}), json!({}));
    let path = write("unknown.creds", creds(&unknown_account, &user));
    refused(
        &w.server,
        ConnectOptions::with_credentials_file(&path).await.unwrap(),
        "a user JWT of an unknown account",
    )
    .await;

    // A good JWT whose nonce is signed by another key.
    let good = user_jwt(&user, &w.app, json!({}), json!({}));
    let (opts, _) = jwt_signed_by(good.clone(), &key(KeyKind::User));
    refused(&w.server, opts, "a nonce signed by the wrong key").await;
    // No credentials at all.
    refused(&w.server, ConnectOptions::new(), "no credentials").await;

    // The refusals left the server serving.
    let (opts, _) = jwt_signed_by(good, &user);
    let client = connect(&w.server, opts).await;
    sync(&client).await;
}
