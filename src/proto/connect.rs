//! The client's `CONNECT` options, decoded as nats-server decodes them.
//!
//! nats-server unmarshals the JSON into the options it already holds, which
//! start as `verbose`, `pedantic` and `echo` true. Go's decoder matches keys
//! case-insensitively, ignores unknown keys and `null` values, fails on a
//! value of the wrong type, and turns invalid UTF-8 and unpaired surrogate
//! escapes in strings into U+FFFD; so does [`ConnectOpts::apply_json`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// What a client declared in `CONNECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOpts {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub tls_required: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: Box<str>,
    pub lang: Box<str>,
    pub version: Box<str>,
    pub user: Box<str>,
    pub pass: Box<str>,
    pub auth_token: Box<str>,
    /// A non-empty `account` was given (nats-server refuses a client
    /// that names one), so only whether one was named matters.
    pub named_account: bool,
    pub new_account: bool,
    /// `nkey`, `jwt` and `sig`, boxed apart as most clients send none.
    /// Kept while connected: a reload checks the client again with them.
    pub signed: Option<Box<SignedCredentials>>,
}

/// What a client that proves a key presents: its public NKey or a user
/// JWT, and its signature of the server's nonce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedCredentials {
    pub nkey: Box<str>,
    pub jwt: Box<str>,
    pub sig: Box<str>,
}

impl ConnectOpts {
    /// The `nkey` the client presented; empty when none.
    pub fn nkey(&self) -> &str {
        self.signed.as_ref().map_or("", |s| &s.nkey)
    }

    /// The user `jwt` the client presented; empty when none.
    pub fn jwt(&self) -> &str {
        self.signed.as_ref().map_or("", |s| &s.jwt)
    }

    /// The `sig` the client presented; empty when none.
    pub fn sig(&self) -> &str {
        self.signed.as_ref().map_or("", |s| &s.sig)
    }
}

impl Default for ConnectOpts {
    /// nats-server's `defaultOpts`: a client that sends no CONNECT (telnet)
    /// is verbose and pedantic, and receives its own messages.
    fn default() -> Self {
        ConnectOpts {
            verbose: true,
            pedantic: true,
            echo: true,
            tls_required: false,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: Box::default(),
            lang: Box::default(),
            version: Box::default(),
            user: Box::default(),
            pass: Box::default(),
            auth_token: Box::default(),
            named_account: false,
            new_account: false,
            signed: None,
        }
    }
}

/// Why a CONNECT argument was refused. nats-server closes the connection
/// without an `-ERR` for all of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError(pub String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

/// The JSON members in document order, so later keys win as in Go.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Members, E> {
                Ok(Members(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if field_name(&key).is_some() {
                        members.push((key, map.next_value::<Value>()?));
                    } else {
                        // Skipped, not built: building a Value stops at 128
                        // levels of nesting; Go's decoder skips any depth.
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(Members(members))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy)]
enum SignedField {
    Nkey,
    Jwt,
    Sig,
}

enum Field<'a> {
    Bool(&'a mut bool),
    Str(&'a mut Box<str>),
    /// A string of which only its being non-empty is kept.
    NonEmpty(&'a mut bool),
    Int(&'a mut i64),
    /// One of `nkey`, `jwt`, `sig`.
    Signed(SignedField),
    /// Known to nats-server (routes and leaf nodes), type-checked, unused here.
    IgnoredStr,
    /// `import`/`export`: a subject permission, `{"allow":[..],"deny":[..]}`.
    IgnoredPermission,
}

impl ConnectOpts {
    /// Decode `json` over the current options.
    pub fn apply_json(&mut self, json: &[u8]) -> Result<(), ConnectError> {
        let json = replace_what_go_replaces(json);
        let Members(members) =
            serde_json::from_str(&json).map_err(|e| ConnectError(e.to_string()))?;
        for (key, value) in members {
            let Some(field) = self.field(&key) else {
                continue;
            };
            let ok = match (field, &value) {
                (_, Value::Null) => true,
                (Field::Bool(b), Value::Bool(v)) => {
                    *b = *v;
                    true
                }
                (Field::Str(s), Value::String(v)) => {
                    *s = v.as_str().into();
                    true
                }
                (Field::NonEmpty(b), Value::String(v)) => {
                    *b = !v.is_empty();
                    true
                }
                (Field::Int(i), Value::Number(n)) => n.as_i64().map(|v| *i = v).is_some(),
                (Field::IgnoredStr, Value::String(_)) => true,
                (Field::Signed(which), Value::String(v)) => {
                    let signed = self.signed.get_or_insert_with(Default::default);
                    let field = match which {
                        SignedField::Nkey => &mut signed.nkey,
                        SignedField::Jwt => &mut signed.jwt,
                        SignedField::Sig => &mut signed.sig,
                    };
                    *field = v.as_str().into();
                    true
                }
                (Field::IgnoredPermission, Value::Object(p)) => is_subject_permission(p),
                _ => false,
            };
            if !ok {
                return Err(ConnectError(format!(
                    "json: cannot unmarshal {value} into field {key}"
                )));
            }
        }
        Ok(())
    }

    fn field(&mut self, key: &str) -> Option<Field<'_>> {
        Some(match field_name(key)? {
            "echo" => Field::Bool(&mut self.echo),
            "verbose" => Field::Bool(&mut self.verbose),
            "pedantic" => Field::Bool(&mut self.pedantic),
            "tls_required" => Field::Bool(&mut self.tls_required),
            "auth_token" => Field::Str(&mut self.auth_token),
            "user" => Field::Str(&mut self.user),
            "pass" => Field::Str(&mut self.pass),
            "name" => Field::Str(&mut self.name),
            "lang" => Field::Str(&mut self.lang),
            "version" => Field::Str(&mut self.version),
            "protocol" => Field::Int(&mut self.protocol),
            "account" => Field::NonEmpty(&mut self.named_account),
            "new_account" => Field::Bool(&mut self.new_account),
            "headers" => Field::Bool(&mut self.headers),
            "no_responders" => Field::Bool(&mut self.no_responders),
            "import" | "export" => Field::IgnoredPermission,
            "nkey" => Field::Signed(SignedField::Nkey),
            "jwt" => Field::Signed(SignedField::Jwt),
            "sig" => Field::Signed(SignedField::Sig),
            _ => Field::IgnoredStr,
        })
    }
}

/// The option a CONNECT key sets: one of nats-server's JSON field names,
/// matched as Go matches them.
fn field_name(key: &str) -> Option<&'static str> {
    const NAMES: [&str; 22] = [
        "echo",
        "verbose",
        "pedantic",
        "tls_required",
        "nkey",
        "jwt",
        "sig",
        "auth_token",
        "user",
        "pass",
        "name",
        "lang",
        "version",
        "protocol",
        "account",
        "new_account",
        "headers",
        "no_responders",
        "import",
        "export",
        "remote_account",
        "proxy_sig",
    ];
    // Go prefers an exact match, then any case-insensitive one.
    NAMES
        .iter()
        .find(|n| **n == key)
        .or_else(|| NAMES.iter().find(|n| folds_to(key, n)))
        .copied()
}

/// Decodes as nats-server's `SubjectPermission`: `allow` and `deny` (keys
/// matched as CONNECT keys are) are lists of strings, or null; other keys
/// are ignored.
fn is_subject_permission(p: &serde_json::Map<String, Value>) -> bool {
    p.iter().all(|(key, value)| {
        let is_list = folds_to(key, "allow") || folds_to(key, "deny");
        !is_list
            || match value {
                Value::Null => true,
                Value::Array(items) => items.iter().all(|i| i.is_string() || i.is_null()),
                _ => false,
            }
    })
}

/// `key` equals the ASCII `name` under Unicode simple case folding, as Go's
/// `bytes.EqualFold`: ASCII case, plus the two non-ASCII letters that fold
/// to ASCII ones, U+017F (long s) and U+212A (Kelvin sign).
fn folds_to(key: &str, name: &str) -> bool {
    let mut chars = key.chars().map(|c| match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c,
    });
    let same = name.bytes().all(|n| {
        chars
            .next()
            .is_some_and(|c| c.is_ascii() && (c as u8).eq_ignore_ascii_case(&n))
    });
    same && chars.next().is_none()
}

/// Where serde_json fails but Go's decoder carries on with U+FFFD: each
/// byte of invalid UTF-8, and each `\uXXXX` surrogate escape that is not
/// half of a pair. Outside strings both are errors either way.
fn replace_what_go_replaces(json: &[u8]) -> Cow<'_, str> {
    let text = match std::str::from_utf8(json) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            let mut text = String::with_capacity(json.len() + 8);
            for chunk in json.utf8_chunks() {
                text.push_str(chunk.valid());
                text.extend(chunk.invalid().iter().map(|_| char::REPLACEMENT_CHARACTER));
            }
            Cow::Owned(text)
        }
    };
    if !text.contains("\\u") {
        return text;
    }
    let bytes = text.as_bytes();
    let escape_at = |i: usize| -> Option<u32> {
        let hex = bytes.get(i..i + 6)?.strip_prefix(b"\\u")?;
        u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let is_high = |u: u32| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u32| (0xDC00..0xE000).contains(&u);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let unit = escape_at(i);
        let paired = unit.is_some_and(is_high) && escape_at(i + 6).is_some_and(is_low);
        match unit {
            _ if paired => i += 12,
            Some(u) if is_high(u) || is_low(u) => {
                // Only ASCII precedes and follows: these are char boundaries.
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape is skipped whole: an escaped backslash
            // followed by `u` is no escape.
            _ => i += 2,
        }
    }
    if copied == 0 {
        return text;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nats_servers() {
        let o = ConnectOpts::default();
        assert!(o.verbose && o.pedantic && o.echo);
        assert!(!o.headers && !o.no_responders);
        assert_eq!(o.protocol, 0);
    }

    #[test]
    fn applies_over_current_values() {
        let mut o = ConnectOpts::default();
        o.apply_json(br#"{"verbose":false,"name":"x","protocol":1,"unknown":[1]}"#)
            .unwrap();
        assert!(!o.verbose && o.pedantic);
        assert_eq!((&*o.name, o.protocol), ("x", 1));
        o.apply_json(br#"{"pedantic":false}"#).unwrap();
        assert!(
            !o.verbose && !o.pedantic,
            "a second CONNECT keeps earlier fields"
        );
    }

    #[test]
    fn keys_match_case_insensitively_and_null_is_skipped() {
        let mut o = ConnectOpts::default();
        o.apply_json(br#"{"VERBOSE":false,"Headers":true,"echo":null}"#)
            .unwrap();
        assert!(!o.verbose && o.headers && o.echo);
        o.apply_json("{\"verbo\u{17F}e\":true}".as_bytes()).unwrap();
        assert!(o.verbose, "long s folds to s, as in Go");
        let kelvin_nkey = "{\"n\u{212A}ey\":1}";
        assert!(
            o.apply_json(kelvin_nkey.as_bytes()).is_err(),
            "a number for nkey"
        );
        o.apply_json(b"null").unwrap();
    }

    #[test]
    fn signed_credentials_are_kept_apart() {
        let mut o = ConnectOpts::default();
        o.apply_json(br#"{"verbose":false}"#).unwrap();
        assert_eq!(o.signed, None, "nothing boxed for a client without keys");
        o.apply_json(br#"{"nkey":"UABC","SIG":"c2ln","jwt":"a.b.c"}"#)
            .unwrap();
        assert_eq!((o.nkey(), o.sig(), o.jwt()), ("UABC", "c2ln", "a.b.c"));
        assert!(o.apply_json(br#"{"sig":1}"#).is_err());
    }

    #[test]
    fn later_keys_win() {
        let mut o = ConnectOpts::default();
        o.apply_json(br#"{"verbose":false,"verbose":true}"#)
            .unwrap();
        assert!(o.verbose);
    }

    #[test]
    fn invalid_utf8_and_lone_surrogates_become_replacement_characters() {
        let mut o = ConnectOpts::default();
        o.apply_json(b"{\"name\":\"a\xff\xe2\x82b\"}").unwrap();
        assert_eq!(
            &*o.name, "a\u{fffd}\u{fffd}\u{fffd}b",
            "one per byte, as Go"
        );
        o.apply_json(br#"{"name":"\ud800x\udc00\ud83d\ude00\ud800\u0041\\ud800"}"#)
            .unwrap();
        assert_eq!(&*o.name, "\u{fffd}x\u{fffd}\u{1f600}\u{fffd}A\\ud800");
        assert!(o.apply_json(b"{\"verbose\":true}\xff").is_err());
    }

    #[test]
    fn unknown_keys_nest_to_any_depth() {
        let deep = format!(
            r#"{{"x":{}{},"verbose":false}}"#,
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let mut o = ConnectOpts::default();
        o.apply_json(deep.as_bytes()).unwrap();
        assert!(!o.verbose);
    }

    #[test]
    fn refuses_bad_json_and_wrong_types() {
        for bad in [
            &b""[..],
            b"{",
            b"{bad",
            b"[]",
            b"1",
            b"\"s\"",
            br#"{"verbose":1}"#,
            br#"{"name":true}"#,
            br#"{"protocol":1.5}"#,
            br#"{"protocol":"1"}"#,
            br#"{"import":"x"}"#,
            br#"{"import":{"allow":"a"}}"#,
            br#"{"export":{"Deny":["a",1]}}"#,
            b"{} x",
        ] {
            let mut o = ConnectOpts::default();
            assert!(
                o.apply_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
