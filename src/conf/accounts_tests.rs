//! `permissions`, `default_permissions` and `accounts`: their forms and
//! nats-server's error texts.

use std::path::Path;
use std::time::Duration;

use super::{options_from_text, MemoryLoader};
use crate::options::{
    ImportKind, Options, Overrides, Permissions, ResponsePermission, ResponseType,
    SubjectPermission, User,
};

fn load(text: &str) -> Result<Options, String> {
    options_from_text(
        text,
        Path::new("n.conf"),
        &mut MemoryLoader::default(),
        &Overrides::default(),
    )
    .map(|l| l.options)
    .map_err(|e| e.to_string())
}

fn opts(text: &str) -> Options {
    load(text).unwrap_or_else(|e| panic!("{text:?} should load: {e}"))
}

fn error(text: &str) -> String {
    match load(text) {
        Ok(o) => panic!("{text:?} should fail, got {o:?}"),
        Err(e) => e,
    }
}

fn user<'a>(o: &'a Options, name: &str) -> &'a User {
    o.users
        .iter()
        .flatten()
        .find(|u| u.username == name)
        .unwrap_or_else(|| panic!("no user {name}"))
}

fn allow(list: &[&str]) -> Option<SubjectPermission> {
    Some(SubjectPermission {
        allow: Some(list.iter().map(|s| s.to_string()).collect()),
        deny: Vec::new(),
    })
}

#[test]
fn permission_forms() {
    let o = opts(
        "authorization { users: [
           {user: a, permissions: {publish: \"foo\", subscribe: [\"x\", \"y q\"]}}
           {user: b, permissions: {pub: {allow: \"p.>\", deny: [\"p.secret\"]}, sub: {deny: \"s\"}}}
           {user: c, permissions: {}}
           {user: d, permissions: {publish: [], subscribe: {}}}
           {user: e, permission: {allow_responses: true}}
           {user: f, authorization: {allow_responses: {max: 3, expires: \"5s\"}}}
           {user: g, permissions: {allow_responses: {max: -1, expires: \"-1s\"}}}
        ] }",
    );
    assert_eq!(
        user(&o, "a").permissions,
        Some(Permissions {
            publish: allow(&["foo"]),
            subscribe: allow(&["x", "y q"]),
            response: None,
        })
    );
    let b = user(&o, "b").permissions.clone().unwrap();
    assert_eq!(b.publish.unwrap().deny, ["p.secret"]);
    assert_eq!(b.subscribe.unwrap().allow, None);
    assert_eq!(user(&o, "c").permissions, Some(Permissions::default()));
    // Empty lists restrict nothing.
    let d = user(&o, "d").permissions.clone().unwrap();
    assert_eq!((d.publish.unwrap().allow, d.subscribe), (None, None));
    // allow_responses alone leaves publishing nothing but the replies.
    let e = user(&o, "e").permissions.clone().unwrap();
    assert_eq!(e.response, Some(ResponsePermission::default()));
    assert_eq!(e.publish.unwrap().allow, Some(vec![]));
    let f = user(&o, "f").permissions.clone().unwrap().response.unwrap();
    assert_eq!((f.max_msgs, f.expires), (3, Some(Duration::from_secs(5))));
    let g = user(&o, "g").permissions.clone().unwrap().response.unwrap();
    assert_eq!((g.max_msgs, g.expires), (-1, None));
}

#[test]
fn default_permissions_replace_nothing_a_user_has() {
    let o = opts(
        "authorization { default_permissions: {publish: \"def.>\"}
           users: [ {user: a}, {user: b, permissions: {}} ] }",
    );
    assert_eq!(
        user(&o, "a").permissions.clone().unwrap().publish,
        allow(&["def.>"])
    );
    assert_eq!(user(&o, "b").permissions, Some(Permissions::default()));
    // The authorization block's defaults do not reach account users.
    let o = opts(
        "authorization { default_permissions: {publish: \"def.>\"}, users: [{user: t}] }
         accounts { A: { default_permissions: {subscribe: \"a.>\"}, users: [{user: x}, {user: y, permissions: {publish: \"y\"}}] } }",
    );
    let x = user(&o, "x").permissions.clone().unwrap();
    assert_eq!((x.publish, x.subscribe), (None, allow(&["a.>"])));
    assert_eq!(user(&o, "y").permissions.clone().unwrap().subscribe, None);
    assert_eq!(
        user(&o, "t").permissions.clone().unwrap().publish,
        allow(&["def.>"])
    );
}

#[test]
fn permission_errors_are_nats_servers() {
    let e = |perms: &str| {
        error(&format!(
            "authorization {{ users: [ {{user: a, permissions: {perms}}} ] }}"
        ))
    };
    assert!(
        e("foo").ends_with("Expected permissions to be a map/struct, got foo"),
        "{}",
        e("foo")
    );
    assert!(e("{publish: 1}").ends_with(
        "Expected subject permissions to be a subject, or array of subjects, got int64"
    ));
    assert!(
        e("{publish: [ 1 ]}").ends_with("Subject in permissions array cannot be cast to string")
    );
    assert!(e("{publish: \"foo bar\"}").ends_with("subject \"foo bar\" is not a valid subject"));
    assert!(e("{subscribe: \"foo bar baz\"}")
        .ends_with("subject \"foo bar baz\" is not a valid subject"));
    assert!(e("{subscribe: \"foo.. q\"}").ends_with("subject \"foo..\" is not a valid subject"));
    assert!(e("{subscribe: \"foo q..x\"}").ends_with("queue \"q..x\" is not a valid queue"));
    assert!(e("{publish: {block: x}}").ends_with(
        "Unknown field name \"block\" parsing subject permissions, only 'allow' or 'deny' are permitted"
    ));
    assert!(e("{bogus: x}").ends_with("Unknown field \"bogus\" parsing permissions"));
    assert!(e("{allow_resp: true}").ends_with("Unknown field \"allow_resp\" parsing permissions"));
    assert!(e("{allow_responses: 1}")
        .ends_with("error parsing response permissions, expected a boolean or a map"));
    assert!(e("{allow_responses: {expires: 5}}")
        .ends_with("error parsing expires, not a duration string"));
    assert!(e("{allow_responses: {expires: \"5x\"}}").contains("error parsing expires: "));
    assert!(e("{allow_responses: {foo: 1}}").ends_with("Unknown field \"foo\" parsing permissions"));
}

#[test]
fn accounts_and_their_users() {
    let o = opts(
        "accounts {
           A: { users: [{user: a, password: pa}], exports: [{stream: \"events.>\"}, {service: \"svc.>\", response_type: stream, response_threshold: \"5s\", accounts: [B]}] }
           B { users: [{user: b, password: pb}]
               imports: [ {stream: {account: A, subject: \"events.>\"}, prefix: from_a}
                          {service: {account: A, subject: \"svc.echo\"}, to: \"echo\"} ] }
         }
         authorization { users: [{user: g, password: pg}] }
         no_auth_user: b",
    );
    assert_eq!(user(&o, "a").account.as_deref(), Some("A"));
    assert_eq!(user(&o, "b").account.as_deref(), Some("B"));
    assert_eq!(user(&o, "g").account, None);
    assert_eq!(o.accounts.len(), 2);
    let svc = o.accounts[0].exports[1].service.unwrap();
    assert_eq!(svc.response_type, ResponseType::Stream);
    assert_eq!(svc.response_threshold, Duration::from_secs(5));
    assert_eq!(
        o.accounts[0].exports[1].accounts,
        Some(vec!["B".to_string()])
    );
    assert_eq!(
        o.accounts[1].imports[0].kind,
        ImportKind::Stream {
            prefix: Some("from_a".into()),
            to: None
        }
    );
    assert_eq!(
        o.accounts[1].imports[1].kind,
        ImportKind::Service { to: "echo".into() }
    );
    // The list form.
    assert_eq!(opts("accounts: [A, B]").accounts.len(), 2);
    assert_eq!(
        opts("accounts { S {} }\nsystem_account: S").system_account,
        "S"
    );
}

#[test]
fn account_errors_are_nats_servers() {
    assert!(error("accounts { $G {} }").ends_with("\"$G\" is a Reserved Account"));
    assert!(error("accounts: [A, A]").ends_with("Duplicate Account Entry: A"));
    assert!(error("accounts { A: 1 }").ends_with("Expected map entries for accounts"));
    assert!(error("accounts { A { bogus: 1 } }").ends_with("unknown field \"bogus\""));
    // An account's limits would be lost: refused, not ignored.
    assert!(error("accounts { A { limits: { max_connections: 1 } } }")
        .ends_with("\"limits\" is not supported: natsd has no account limits yet"));
    assert!(
        error("accounts { A { users: [{user: x}] }, B { users: [{user: x}] } }")
            .ends_with("Duplicate user \"x\" detected")
    );
    assert!(
        error("authorization { users: [{user: x}] }\naccounts { A { users: [{user: x}] } }")
            .ends_with("Duplicate user \"x\" detected")
    );
    assert!(
        error("authorization { user: u, password: p }\naccounts { A { users: [{user: x}] } }")
            .ends_with("Can not have a single user/pass and accounts")
    );
    assert!(
        error("accounts { B { imports: [{stream: {account: A, subject: x}}] } }")
            .ends_with("\"A\" account not defined for stream import")
    );
    assert!(
        error("accounts { A {}, B { imports: [{stream: {account: A, subject: x}}] } }")
            .ends_with("Error adding stream import \"x\": stream import not authorized")
    );
    assert!(error(
        "accounts { A { exports: [{stream: \"foo.bar\"}] }, B { imports: [{stream: {account: A, subject: \"foo.*\"}}] } }"
    )
    .ends_with("stream import not authorized"));
    assert!(error(
        "accounts { A { exports: [{stream: x, accounts: [C]}] }, B { imports: [{stream: {account: A, subject: x}}] }, C {} }"
    )
    .ends_with("stream import not authorized"));
    assert!(error(
        "accounts { A { exports: [{stream: x}] }, B { imports: [{service: {account: A, subject: x}}] } }"
    )
    .ends_with("Error adding service import \"x\": service import not authorized"));
    assert!(
        error("accounts { A { exports: [{stream: x, accounts: [Z]}] } }")
            .ends_with("\"Z\" account not defined for stream export")
    );
    assert!(error(
        "accounts { A { exports: [{stream: \"x.>\"}] }, B { imports: [{stream: {account: A, subject: \"x.>\"}, prefix: \"p.*\"}] } }"
    )
    .ends_with("stream import prefix can not contain wildcard tokens"));
    assert!(
        error("accounts { A { exports: [{stream: x, response_type: stream}] } }")
            .ends_with("Detected response directive on non-service")
    );
    assert!(
        error("accounts { A { exports: [{service: x, response_type: bogus}] } }")
            .ends_with("Unknown response type: \"bogus\"")
    );
    assert!(error(
        "accounts { A { exports: [{stream: x}] }, B { imports: [{stream: {account: A}}] } }"
    )
    .ends_with("Expect an account name and a subject"));
    assert!(error(
        "accounts { A { exports: [{stream: x}] }, B { imports: [{stream: {account: A, subject: x}, prefix: p, to: y}] } }"
    )
    .ends_with("Stream import can not have a 'prefix' and a 'to' property"));
    assert!(
        error("accounts { A { exports: 1 } }").ends_with("Exports should be an array, got int64")
    );
    assert!(error("system_account: S").ends_with("error resolving system account: account missing"));
    assert!(
        error("accounts { A { users: [{user: a}] } }\nno_auth_user: z").contains("no_auth_user")
    );
}
