//! nats-server's configuration digest: the SHA-256 of the parsed tree as
//! Go's `encoding/json` writes it (keys sorted, HTML characters escaped, a
//! final new line). `-t` prints it and `/varz` shows it as `config_digest`;
//! the same file gives the same digest in natsd and in nats-server.

use std::fmt::Write as _;

use super::value::{Map, Value};

/// `sha256:<hex>`.
pub fn digest(map: &Map) -> String {
    let mut json = String::new();
    write_map(&mut json, map);
    json.push('\n');
    let hash = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
    let hash = hash.as_ref();
    let mut out = String::from("sha256:");
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn write_map(out: &mut String, map: &Map) {
    let mut entries: Vec<_> = map.entries().iter().collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    out.push('{');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, &entry.key);
        out.push(':');
        write_value(out, &entry.value.value);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) | Value::Datetime(s) => write_string(out, s),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, &item.value);
            }
            out.push(']');
        }
        Value::Map(map) => write_map(out, map),
    }
}

/// Go's float encoding: the shortest text that reads back the same, with an
/// exponent (`1e+21`, `1e-7`) outside [1e-6, 1e21).
fn write_float(out: &mut String, f: f64) {
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&text),
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Go's string encoding, with `SetEscapeHTML(true)` as its encoder has by
/// default.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{parse, MemoryLoader};
    use std::path::Path;

    fn digest_of(text: &str) -> String {
        let map = parse(text, Path::new("x.conf"), &mut MemoryLoader::default()).unwrap();
        digest(&map)
    }

    /// Digests printed by nats-server 2.15.1's `-t` for the same files.
    #[test]
    fn same_as_nats_server() {
        assert_eq!(
            digest_of("port: 4333\n"),
            "sha256:5942f6739f1572892ba80b954eee212713f172258629e16936dfeeae8e2eb80d"
        );
        assert_eq!(
            digest_of("debug: YES\n"),
            "sha256:eca738dbc8155b8e2da07ff1a72a27aea10ba0fe3256289ad8b18ef5846bec7e"
        );
    }

    #[test]
    fn go_float_text() {
        let mut out = String::new();
        for f in [1.5, 2.0, -0.25, 1e21, 1.5e-7, 1e-6, 0.0] {
            write_float(&mut out, f);
            out.push(' ');
        }
        assert_eq!(out, "1.5 2 -0.25 1e+21 1.5e-7 0.000001 0 ");
    }

    #[test]
    fn go_string_escapes() {
        let mut out = String::new();
        write_string(&mut out, "a\"\\\n\t<&>\u{1}\u{8}é");
        assert_eq!(out, r#""a\"\\\n\t\u003c\u0026\u003e\u0001\bé""#);
    }
}
