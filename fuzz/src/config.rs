//! The configuration file parser and its mapping to options, fed any text.
//!
//! The input is the main file; a few fixed included files and environment
//! variables (one of each refers to itself) are there for `include` and
//! `$VAR` to reach.
//!
//! Invariants: nothing panics; parsing is deterministic; every error and
//! every parsed value points at a line and column inside the file it names;
//! and an accepted tree, written back out as config text, parses to the
//! same values (and so the same digest).

use std::path::PathBuf;

use natsd::conf::{self, ConfigError, Map, MemoryLoader, Node, Pos, Value};
use natsd::options::Overrides;

const MAIN: &str = "/fuzz/main.conf";

const FILES: [(&str, &str); 4] = [
    ("/fuzz/inc.conf", "port: 4333\nm { a: [1, 2 ], b: \"x\" }\n"),
    ("/fuzz/sub/auth.conf", "user: a\npassword: $PASS\n"),
    ("/fuzz/loop.conf", "include loop.conf\n"),
    ("/fuzz/bad.conf", "a: \"open\n"),
];

const ENV: [(&str, &str); 5] = [
    ("PASS", "s3cr3t"),
    ("SIZE", "1MB"),
    ("LIST", "[a, b ]"),
    ("SELF", "$SELF"),
    ("BROKEN", "{ a: "),
];

fn loader() -> MemoryLoader {
    let mut loader = MemoryLoader::default();
    for (path, text) in FILES {
        loader.files.insert(PathBuf::from(path), text.to_string());
    }
    for (name, value) in ENV {
        loader.env.insert(name.to_string(), value.to_string());
    }
    loader
}

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parse = || conf::parse(&text, MAIN.as_ref(), &mut loader());
    let first = parse();
    assert_eq!(first, parse(), "parsing is not deterministic");

    match &first {
        Ok(map) => {
            check_positions(map, &text);
            check_round_trip(map);
        }
        Err(e) => check_error_places(e, &text),
    }

    let load =
        || conf::options_from_text(&text, MAIN.as_ref(), &mut loader(), &Overrides::default());
    let loaded = load();
    assert_eq!(loaded, load(), "loading options is not deterministic");
    match loaded {
        Ok(loaded) => {
            assert!(first.is_ok(), "options from text that does not parse");
            for d in loaded.warnings.iter().chain(&loaded.unsupported) {
                if let Some(pos) = &d.pos {
                    assert_inside(pos, &text, &d.message);
                }
            }
        }
        Err(e) => check_error_places(&e, &text),
    }
}

/// The text of the file a position names.
fn file_text<'t>(pos: &Pos, main: &'t str) -> Option<&'t str> {
    if &*pos.file == MAIN {
        return Some(main);
    }
    FILES
        .iter()
        .find(|(path, _)| *path == &*pos.file)
        .map(|(_, text)| *text)
        .or_else(|| {
            // `$NAME` positions are in `name=<value>` text parsed on its own.
            let name = pos.file.strip_prefix('$')?;
            ENV.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        })
}

/// The position is a real place in its file: a line it has, a column at
/// most one past that line's end.
fn assert_inside(pos: &Pos, main: &str, what: &str) {
    let Some(text) = file_text(pos, main) else {
        // An environment variable's text is parsed as `pk=<value>`.
        return;
    };
    let owned;
    let text = if pos.file.starts_with('$') {
        owned = format!("pk={text}");
        owned.as_str()
    } else {
        text
    };
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        pos.line >= 1 && (pos.line as usize) <= lines.len(),
        "{what}: line {} of a {}-line file",
        pos.line,
        lines.len()
    );
    let line = lines[pos.line as usize - 1];
    assert!(
        pos.column >= 1 && pos.column as usize <= line.chars().count() + 1,
        "{what}: column {} of a {}-character line",
        pos.column,
        line.chars().count()
    );
}

fn check_error_places(e: &ConfigError, main: &str) {
    assert!(!e.errors.is_empty(), "an error without a diagnostic");
    for d in &e.errors {
        assert!(!d.message.is_empty());
        if let Some(pos) = &d.pos {
            assert_inside(pos, main, &d.message);
        }
    }
}

fn check_positions(map: &Map, main: &str) {
    for entry in map.entries() {
        assert_inside(&entry.key_pos, main, &entry.key);
        check_node(&entry.value, main);
    }
}

fn check_node(node: &Node, main: &str) {
    // A value copied from a variable points at the reference.
    assert_inside(&node.pos, main, "a value");
    match &node.value {
        Value::Array(items) => items.iter().for_each(|n| check_node(n, main)),
        Value::Map(map) => check_positions(map, main),
        _ => {}
    }
}

/// Write the tree back as config text and parse it again: same values.
fn check_round_trip(map: &Map) {
    let Some(text) = write_map_body(map) else {
        return; // a key no quoting can write (it has both quote kinds)
    };
    let again = conf::parse(&text, MAIN.as_ref(), &mut MemoryLoader::default())
        .unwrap_or_else(|e| panic!("written back as {text:?}, it does not parse: {e}"));
    assert!(
        same_map(map, &again),
        "written back as {text:?}, it parses to {again:?}, not {map:?}"
    );
}

fn write_map_body(map: &Map) -> Option<String> {
    let mut out = String::new();
    for entry in map.entries() {
        out.push_str(&write_key(&entry.key)?);
        out.push_str(" = ");
        out.push_str(&write_value(&entry.value.value)?);
        out.push('\n');
    }
    Some(out)
}

/// Quoted keys take no escapes: double quotes, or single quotes for a key
/// with a `"` in it.
fn write_key(key: &str) -> Option<String> {
    if !key.contains('"') {
        Some(format!("\"{key}\""))
    } else if !key.contains('\'') {
        Some(format!("'{key}'"))
    } else {
        None
    }
}

fn write_value(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(s) => {
            let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\"")
        }
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => {
            // Shortest text that reads back the same; the lexer needs a dot.
            let text = f.to_string();
            if text.contains('.') {
                text
            } else {
                format!("{text}.0")
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        // A space before ']': a number right before it would take it in.
        Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(|n| write_value(&n.value)).collect();
            format!("[{} ]", items?.join(", "))
        }
        Value::Map(map) => format!("{{\n{}}}", write_map_body(map)?),
    })
}

fn same_map(a: &Map, b: &Map) -> bool {
    a.len() == b.len()
        && a.entries()
            .iter()
            .zip(b.entries())
            .all(|(x, y)| x.key == y.key && same_value(&x.value.value, &y.value.value))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(m, n)| same_value(&m.value, &n.value))
        }
        (Value::Map(x), Value::Map(y)) => same_map(x, y),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || x == y,
        _ => a == b,
    }
}
