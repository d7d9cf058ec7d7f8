//! The client's `CONNECT` options, decoded as nats-server decodes them.
//!
//! nats-server unmarshals the JSON into the options it already holds, which
//! start as `verbose`, `pedantic` and `echo` true. Go's decoder matches keys
//! case-insensitively, ignores unknown keys and `null` values, and fails on a
//! value of the wrong type; so does [`ConnectOpts::apply_json`].

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
    pub nkey: Box<str>,
    pub jwt: Box<str>,
    pub sig: Box<str>,
    pub account: Box<str>,
    pub new_account: bool,
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
            nkey: Box::default(),
            jwt: Box::default(),
            sig: Box::default(),
            account: Box::default(),
            new_account: false,
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
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_any(V)
    }
}

enum Field<'a> {
    Bool(&'a mut bool),
    Str(&'a mut Box<str>),
    Int(&'a mut i64),
    /// Known to nats-server (routes and leaf nodes), type-checked, unused here.
    IgnoredStr,
    IgnoredObject,
}

impl ConnectOpts {
    /// Decode `json` over the current options.
    pub fn apply_json(&mut self, json: &[u8]) -> Result<(), ConnectError> {
        let Members(members) =
            serde_json::from_slice(json).map_err(|e| ConnectError(e.to_string()))?;
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
                (Field::Int(i), Value::Number(n)) => n.as_i64().map(|v| *i = v).is_some(),
                (Field::IgnoredStr, Value::String(_)) => true,
                (Field::IgnoredObject, Value::Object(_)) => true,
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
        let name = NAMES
            .iter()
            .find(|n| **n == key)
            .or_else(|| NAMES.iter().find(|n| n.eq_ignore_ascii_case(key)))?;
        Some(match *name {
            "echo" => Field::Bool(&mut self.echo),
            "verbose" => Field::Bool(&mut self.verbose),
            "pedantic" => Field::Bool(&mut self.pedantic),
            "tls_required" => Field::Bool(&mut self.tls_required),
            "nkey" => Field::Str(&mut self.nkey),
            "jwt" => Field::Str(&mut self.jwt),
            "sig" => Field::Str(&mut self.sig),
            "auth_token" => Field::Str(&mut self.auth_token),
            "user" => Field::Str(&mut self.user),
            "pass" => Field::Str(&mut self.pass),
            "name" => Field::Str(&mut self.name),
            "lang" => Field::Str(&mut self.lang),
            "version" => Field::Str(&mut self.version),
            "protocol" => Field::Int(&mut self.protocol),
            "account" => Field::Str(&mut self.account),
            "new_account" => Field::Bool(&mut self.new_account),
            "headers" => Field::Bool(&mut self.headers),
            "no_responders" => Field::Bool(&mut self.no_responders),
            "import" | "export" => Field::IgnoredObject,
            _ => Field::IgnoredStr,
        })
    }
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
        o.apply_json(b"null").unwrap();
    }

    #[test]
    fn later_keys_win() {
        let mut o = ConnectOpts::default();
        o.apply_json(br#"{"verbose":false,"verbose":true}"#)
            .unwrap();
        assert!(o.verbose);
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
