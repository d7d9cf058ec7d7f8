//! The format, construct by construct, and every error with its place.
//! Where nats-server's lexer has a quirk, the test says so; each quirk was
//! checked against nats-server 2.15.1 (its `-t` digest covers the values).

use std::path::{Path, PathBuf};

use super::{parse, ConfigError, Map, MemoryLoader, Value};

fn parse_with(text: &str, loader: &mut MemoryLoader) -> Result<Map, ConfigError> {
    parse(text, Path::new("/etc/nats/main.conf"), loader)
}

fn tree(text: &str) -> Map {
    parse_with(text, &mut MemoryLoader::default())
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

/// The top-level value of `key`.
fn value(text: &str, key: &str) -> Value {
    let map = tree(text);
    match map.get(key) {
        Some(entry) => entry.value.value.clone(),
        None => panic!("{text:?} has no {key:?}: {map:?}"),
    }
}

/// The error, with its place, for text that must not parse.
fn error(text: &str) -> String {
    match parse_with(text, &mut MemoryLoader::default()) {
        Ok(map) => panic!("{text:?} should not parse, got {map:?}"),
        Err(e) => e.to_string(),
    }
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn keys(map: &Map) -> Vec<&str> {
    map.entries().iter().map(|e| e.key.as_str()).collect()
}

#[test]
fn three_ways_to_assign() {
    for text in [
        "a = 1", "a: 1", "a 1", "a=1", "a:1", "a\t=\t1", "a\n=1", "a\n1",
    ] {
        assert_eq!(value(text, "a"), Value::Integer(1), "{text:?}");
    }
}

#[test]
fn values_end_at_new_lines_semicolons_and_commas() {
    let map = tree("a: 1; b: 2, c 3\r\nd = 4;\n\n  e: 5  # done\n");
    assert_eq!(keys(&map), ["a", "b", "c", "d", "e"]);
}

#[test]
fn comments() {
    let map = tree(
        "# hash\n// slashes\na: 1 # after a value\nb: x//\n\
         c: [1 # in an array\n 2 // too\n]\nd { # in a map\n e: 1 // and after\n}\n",
    );
    assert_eq!(keys(&map), ["a", "b", "c", "d"]);
    assert_eq!(map.get("b").map(|e| &e.value.value), Some(&s("x//")));
    assert!(tree("# only a comment").is_empty());
    assert!(tree("").is_empty());
    assert!(tree(" \n\t\n").is_empty());
}

#[test]
fn quoted_strings() {
    assert_eq!(
        value(r#"a: "tab\tnl\ncr\rquote\"backslash\\hex\x41\x7e""#, "a"),
        s("tab\tnl\ncr\rquote\"backslash\\hexA~")
    );
    assert_eq!(value(r"a: 'no \n escapes'", "a"), s(r"no \n escapes"));
    assert_eq!(value("a: \"two\nlines\"", "a"), s("two\nlines"));
    assert_eq!(value("a: 'two\nlines'", "a"), s("two\nlines"));
    assert_eq!(value(r#"a: "\xc3\xa9""#, "a"), s("é"));
    assert_eq!(value(r#"a: "\xff""#, "a"), s("\u{fffd}"), "not UTF-8");
    assert_eq!(value(r#"a: """#, "a"), s(""));
    assert_eq!(value("a: ''", "a"), s(""));
    assert_eq!(
        value("a: \"true\"", "a"),
        s("true"),
        "quoted: not a boolean"
    );
    assert_eq!(value("a: \"4222\"", "a"), s("4222"), "quoted: not a number");
    assert_eq!(value("a: \"$x\"", "a"), s("$x"), "quoted: not a variable");
    assert_eq!(value("a: \"é ü ☃\"", "a"), s("é ü ☃"));
}

#[test]
fn unquoted_strings() {
    assert_eq!(value("a: hello#world", "a"), s("hello#world"));
    assert!(error("a: hello world").contains("but got 'w' instead"));
    assert_eq!(value("a: nats://host:4222", "a"), s("nats://host:4222"));
    assert_eq!(value("a: /var/run/nats.pid", "a"), s("/var/run/nats.pid"));
    assert_eq!(value(r"a: tab\there", "a"), s("tab\there"), "escapes work");
    assert_eq!(value("a: x{y", "a"), s("x{y"));
    // A ' ends an unquoted string and is dropped.
    assert_eq!(value("a: abc' # note", "a"), s("abc"));
    assert!(error("a: abc'def").contains("but got 'd' instead"));
    assert_eq!(value("a: true'", "a"), s("true"), "ended by ': a string");
    // A value may be empty at the end of the file or before a ';'.
    assert_eq!(value("a:", "a"), s(""));
    assert_eq!(value("a: ;", "a"), s(""));
}

#[test]
fn block_strings() {
    assert_eq!(
        value("a: (\nline one\n  line two\n)\nb: 1", "a"),
        s("\nline one\n  line two\n")
    );
    // Only a ')' alone on its line ends the block.
    assert_eq!(value("a: (\nf(x)\n )\n)\n", "a"), s("\nf(x)\n )\n"));
    // At the very end of the file nats-server keeps the ')'.
    assert_eq!(value("a: (\nx\n)", "a"), s("\nx\n)"));
}

#[test]
fn integers_and_sizes() {
    for (text, n) in [
        ("4222", 4222),
        ("-5", -5),
        ("007", 7),
        ("1k", 1000),
        ("1K", 1000),
        ("1kb", 1024),
        ("64KB", 64 * 1024),
        ("1KiB", 1024),
        ("1MB", 1 << 20),
        ("2m", 2_000_000),
        ("1G", 1_000_000_000),
        ("1gb", 1 << 30),
        ("-1k", -1000),
    ] {
        assert_eq!(
            value(&format!("a: {text}"), "a"),
            Value::Integer(n),
            "{text}"
        );
    }
    assert_eq!(value("a: 1k}", "a"), Value::Integer(1000));
}

#[test]
fn what_starts_with_a_digit_but_is_a_string() {
    for (text, string) in [
        ("10s", "10s"),
        ("1h30m", "1h30m"),
        ("1kx", "1kx"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:4222", "127.0.0.1:4222"),
        ("1.2.3.4-5", "1.2.3.4-5"),
        ("-1.2.3", "-1.2.3"),
        // nats-server's lexer keeps the character that made it a string,
        // even a ']' or a '.
        ("1'x", "1'x"),
        (r"1\n", r"1\n"),
    ] {
        assert_eq!(value(&format!("a: {text}"), "a"), s(string), "{text}");
    }
}

#[test]
fn floats() {
    assert_eq!(value("a: 1.5", "a"), Value::Float(1.5));
    assert_eq!(value("a: -0.25", "a"), Value::Float(-0.25));
    assert_eq!(value("a: 2.0}", "a"), Value::Float(2.0));
}

#[test]
fn booleans_in_every_spelling() {
    for word in ["true", "TRUE", "yes", "Yes", "on", "ON"] {
        assert_eq!(
            value(&format!("a: {word}"), "a"),
            Value::Bool(true),
            "{word}"
        );
    }
    for word in ["false", "False", "no", "NO", "off", "oFF"] {
        assert_eq!(
            value(&format!("a: {word}"), "a"),
            Value::Bool(false),
            "{word}"
        );
    }
    assert_eq!(value("a: y", "a"), s("y"));
    assert_eq!(value(r"a: \x74rue", "a"), s("true"), "escaped: a string");
}

#[test]
fn datetimes() {
    assert_eq!(
        value("a: 2024-02-29T12:00:00Z", "a"),
        Value::Datetime("2024-02-29T12:00:00Z".into())
    );
    assert_eq!(
        error("a: 2024-01-31"),
        "/etc/nats/main.conf:1:14: Expected 'T' in ISO8601 datetime, but found 'EOF' instead."
    );
    assert_eq!(
        error("a: 2023-02-29T12:00:00Z"),
        "/etc/nats/main.conf:1:24: expected Zulu formatted DateTime, but got '2023-02-29T12:00:00Z'"
    );
    assert_eq!(
        error("a: 12-1"),
        "/etc/nats/main.conf:1:7: All ISO8601 dates must be in full Zulu form."
    );
}

#[test]
fn arrays() {
    let expect = Value::Array(Vec::new());
    assert_eq!(value("a: []", "a"), expect);
    assert_eq!(value("a: [ ]", "a"), expect);
    let items = |text: &str| match value(text, "a") {
        Value::Array(items) => items.into_iter().map(|n| n.value).collect::<Vec<_>>(),
        other => panic!("{text:?}: {other:?}"),
    };
    let abc = vec![s("a"), s("b"), s("c")];
    assert_eq!(items("a: [a, b, c]"), abc);
    assert_eq!(items("a: [a,b,c,]"), abc, "a trailing comma");
    assert_eq!(items("a: [\n  a\n  b # note\n  c,\n]"), abc);
    assert_eq!(
        items("a [a / b / c]"),
        abc,
        "a lone '/' separates, as in Go"
    );
    assert_eq!(
        items("a: [1, true, 1.5, \"x\", [2 ], {k: v}]")[..3],
        [Value::Integer(1), Value::Bool(true), Value::Float(1.5)]
    );
    assert_eq!(items("a: [ 1 ]"), [Value::Integer(1)]);
}

#[test]
fn a_number_right_before_the_closing_bracket_eats_it() {
    // nats-server's lexer reads `[1, 2]` as 1 and the string "2]", and the
    // array goes on: nats-server refuses these files too.
    assert_eq!(
        error("a: [1, 2]\nb: 3\n"),
        "/etc/nats/main.conf:2:4: Expected an array value terminator ',' or an array terminator ']', but got '3' instead."
    );
    assert!(error("a: [1, 2]\n").contains("the array opened here has no closing ']'"));
}

#[test]
fn maps() {
    let map = tree("m {\n  a: 1\n  b = x, c y; d: { e: true }\n}\n");
    let Some(Value::Map(m)) = map.get("m").map(|e| e.value.value.clone()) else {
        panic!("{map:?}");
    };
    assert_eq!(keys(&m), ["a", "b", "c", "d"]);
    assert!(tree("m {}").get("m").is_some());
    assert!(tree("m: {\n}").get("m").is_some());
    // In a map, a value may sit on the line after its key.
    assert_eq!(tree("m {\n  a:\n    1\n}").len(), 1);
    let quoted = tree("m { \"a key\": 1, 'b': 2 }");
    let Some(Value::Map(m)) = quoted.get("m").map(|e| e.value.value.clone()) else {
        panic!();
    };
    assert_eq!(keys(&m), ["a key", "b"]);
}

#[test]
fn json_like_files() {
    let map = tree("{\n  \"port\": 4222,\n  \"debug\": true\n}\n");
    assert_eq!(keys(&map), ["port", "debug"]);
    // After the block, a ',' is a key as any other character is.
    assert_eq!(keys(&tree("{ a: 1 }, { b: 2 }")), ["a", ","]);
    assert_eq!(keys(&tree("{ a: 1, }")), ["a"]);
    // nats-server accepts a '{' never closed, and a stray last '}'.
    assert_eq!(keys(&tree("{\n a: 1\n")), ["a"]);
    assert_eq!(keys(&tree("a: 1\n}\n")), ["a"]);
    assert_eq!(keys(&tree("a: 1 }\nb: 2")), ["a", "b"]);
}

#[test]
fn keys_are_case_sensitive_and_the_last_value_wins() {
    let map = tree("a: 1\nb: 2\nA: 3\na: 4\n");
    assert_eq!(keys(&map), ["b", "A", "a"]);
    assert_eq!(
        map.get("a").map(|e| &e.value.value),
        Some(&Value::Integer(4))
    );
}

#[test]
fn positions_count_lines_and_characters() {
    let map = tree("\n  é: 1\nb: [\n  x\n]\n");
    let e = map.get("é").unwrap();
    assert_eq!((e.key_pos.line, e.key_pos.column), (2, 3));
    assert_eq!((e.value.pos.line, e.value.pos.column), (2, 6));
    let Value::Array(items) = &map.get("b").unwrap().value.value else {
        panic!();
    };
    assert_eq!((items[0].pos.line, items[0].pos.column), (4, 3));
    assert_eq!(&*e.key_pos.file, "/etc/nats/main.conf");
}

#[test]
fn variables_from_the_file() {
    assert_eq!(value("x = 5\na: $x", "a"), Value::Integer(5));
    assert!(matches!(value("x = [1, 2 ]\na: $x", "a"), Value::Array(items) if items.len() == 2));
    // Enclosing maps are searched from the innermost out.
    let map = tree("x = outer\nm { x = inner, a: $x, n { b: $x } }\nc: $x");
    assert_eq!(map.get("c").map(|e| &e.value.value), Some(&s("outer")));
    let m = match &map.get("m").unwrap().value.value {
        Value::Map(m) => m.clone(),
        _ => panic!(),
    };
    assert_eq!(m.get("a").map(|e| &e.value.value), Some(&s("inner")));
    // A variable defined inside a map is gone after it.
    assert_eq!(
        error("m { x = 1 }\na: $x"),
        "/etc/nats/main.conf:2:4: variable reference for 'x' on line 2 can not be found"
    );
    // Only earlier keys count.
    assert!(error("a: $x\nx = 1").contains("can not be found"));
    // The referred-to key is marked, so that it is not an unknown field.
    let map = tree("x = 5\na: $x\ny = 6");
    assert!(map.get("x").unwrap().used_as_variable);
    assert!(!map.get("y").unwrap().used_as_variable);
    // An unquoted bcrypt hash is a string.
    assert_eq!(value("a: $2a$11$abc", "a"), s("$2a$11$abc"));
}

#[test]
fn variables_from_the_environment() {
    let mut loader = MemoryLoader::default();
    for (k, v) in [
        ("TEXT", "hello"),
        ("NUMBER", "1k"),
        ("LIST", "[a, b]"),
        ("QUOTED", "\"x y\""),
        ("SELF", "$SELF"),
        ("BROKEN", "\"open"),
    ] {
        loader.env.insert(k.into(), v.into());
    }
    let map = parse_with("a: $TEXT\nb: $NUMBER\nc: $LIST\nd: $QUOTED", &mut loader).unwrap();
    let get = |k: &str| map.get(k).unwrap().value.value.clone();
    assert_eq!(get("a"), s("hello"));
    assert_eq!(get("b"), Value::Integer(1000), "read as a value is");
    assert!(matches!(get("c"), Value::Array(items) if items.len() == 2));
    assert_eq!(get("d"), s("x y"));
    // The file's own keys come first.
    let map = parse_with("TEXT = mine\na: $TEXT", &mut loader).unwrap();
    assert_eq!(map.get("a").unwrap().value.value, s("mine"));
    let err = parse_with("a: $SELF", &mut loader).unwrap_err().to_string();
    assert_eq!(
        err,
        "/etc/nats/main.conf:1:4: variable reference for 'SELF' on line 1 could not be parsed: \
         variable reference for 'SELF' on line 1 could not be parsed: variable reference cycle for 'SELF'"
    );
    let err = parse_with("\n a: $BROKEN", &mut loader)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/etc/nats/main.conf:2:5: variable reference for 'BROKEN' on line 2 could not be parsed"),
        "{err}"
    );
    assert_eq!(
        parse_with("a: $MISSING", &mut loader)
            .unwrap_err()
            .to_string(),
        "/etc/nats/main.conf:1:4: variable reference for 'MISSING' on line 1 can not be found"
    );
}

#[test]
fn includes() {
    let mut loader = MemoryLoader::default();
    let mut file = |path: &str, text: &str| {
        loader.files.insert(PathBuf::from(path), text.into());
    };
    file("/etc/nats/auth.conf", "user: a\npassword: b\n");
    file(
        "/etc/nats/limits.conf",
        "max_payload: 1MB\ninclude sub/more.conf\n",
    );
    file("/etc/nats/sub/more.conf", "include 'deeper.conf'");
    file("/etc/nats/sub/deeper.conf", "ping_max: 3");
    file("/etc/nats/bad.conf", "ok: 1\nbroken: \"\n");
    file("/etc/nats/loop.conf", "include loop.conf");

    let map = parse_with(
        "include ./limits.conf\nauthorization {\n  include \"auth.conf\"\n}\n",
        &mut loader,
    )
    .unwrap();
    assert_eq!(keys(&map), ["max_payload", "ping_max", "authorization"]);
    let Value::Map(auth) = &map.get("authorization").unwrap().value.value else {
        panic!();
    };
    assert_eq!(keys(auth), ["user", "password"]);
    // Included values keep their place in their own file.
    assert_eq!(
        &*auth.get("user").unwrap().key_pos.file,
        "/etc/nats/auth.conf"
    );
    // `include` is a keyword only before white space, in any case.
    assert_eq!(
        keys(&parse_with("INCLUDE auth.conf", &mut loader).unwrap()),
        ["user", "password"]
    );
    assert_eq!(keys(&tree("include: 1")), ["include"]);
    // Go joins even an absolute path to the including file's directory.
    assert_eq!(
        keys(&parse_with("include /auth.conf", &mut loader).unwrap()),
        ["user", "password"]
    );

    let err =
        |text: &str, loader: &mut MemoryLoader| parse_with(text, loader).unwrap_err().to_string();
    assert_eq!(
        err("\ninclude missing.conf", &mut loader),
        "/etc/nats/main.conf:2:1: error parsing include file 'missing.conf', \
         error opening config file: open /etc/nats/missing.conf: no such file"
    );
    assert_eq!(
        err("include bad.conf", &mut loader),
        "/etc/nats/bad.conf:2:9: Unexpected EOF: the string opened here has no closing \" \
         (in 'bad.conf', included at /etc/nats/main.conf:1:1)"
    );
    assert!(err("include loop.conf", &mut loader).contains("nesting deeper than 64 levels"));
    assert_eq!(
        err("include [a]", &mut loader),
        "/etc/nats/main.conf:1:9: Expected include value but found start of an array"
    );
    assert_eq!(
        err("include\nx", &mut loader),
        "/etc/nats/main.conf:1:8: Expected include value but found new line"
    );
}

#[test]
fn syntax_errors_say_where() {
    let at = "/etc/nats/main.conf";
    for (text, place, message) in [
        ("a: \"open", "1:4", "Unexpected EOF: the string opened here has no closing \""),
        ("a: 'open", "1:4", "Unexpected EOF: the string opened here has no closing '"),
        ("\"open: 1", "1:1", "Unexpected EOF: the quoted key opened here has no closing \""),
        ("a: [1,\n2", "1:4", "Unexpected EOF processing array: the array opened here has no closing ']'"),
        ("m {\n  a: 1\n", "1:3", "Unexpected EOF processing map: the map opened here has no closing '}'"),
        ("m {\n  a", "2:4", "Unexpected EOF processing map key."),
        ("a: (\nno end", "1:4", "Unexpected EOF processing block: a block string ends with ')' alone on a line"),
        ("port", "1:1", "config is invalid: key 'port' has no value"),
        ("m { a }", "1:5", "config is invalid: key 'a' has no value"),
        ("a:\n1", "1:3", "Expected value but found new line"),
        ("a: 1 2", "1:6", "Expected a top-level value to end with a new line, comment or EOF, but got '2' instead."),
        ("a: [1 2]", "1:7", "Expected an array value terminator ',' or an array terminator ']', but got '2' instead."),
        ("a: [,]", "1:5", "Unexpected array value terminator ','."),
        ("m { a: 1 b }", "1:10", "Expected a map value terminator ',' or a map terminator '}', but got 'b' instead."),
        ("m { a: 1,, }", "1:10", "config is invalid: key ',' has no value"),
        ("m { a: , }", "1:8", "Unexpected map value terminator ','."),
        ("m { = 1 }", "1:5", "Unexpected key separator '='"),
        ("m { ] }", "1:5", "Unexpected array end ']' processing map."),
        ("= 1", "1:1", "Unexpected key separator '='"),
        ("/ x", "1:1", "unexpected '/': comments start with '#' or '//'"),
        ("{ a: 1", "1:7", "Expected a block-level value to end with a new line, comment or EOF, but got 'EOF' instead."),
        ("a: .5", "1:4", "Floats must start with a digit"),
        ("a: 1.x", "1:6", "Floats must have a digit after the '.', but got 'x' instead."),
        ("a: -x", "1:5", "Expected a digit but got 'x'."),
        ("a: -.5", "1:5", "Floats must start with a digit, not '.'."),
        ("a: \"\\q\"", "1:6", "Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."),
        ("a: \"\\xZZ\"", "1:6", "Expected two hexadecimal digits after '\\x', but got 'ZZ'"),
        ("a: \"\\x4\n\"", "1:6", "Expected two hexadecimal digits after '\\x', but hit end of line"),
        ("a: 99999999999999999999", "1:4", "integer '99999999999999999999' is out of the range"),
        ("a: 10e", "1:4", "integer '10e' is out of the range"),
        ("a: 1kbb", "1:4", "integer '1kbb' has an unknown size suffix 'kbb'"),
    ] {
        assert_eq!(error(text), format!("{at}:{place}: {message}"), "{text:?}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("a: {}{}", "[".repeat(100), "]".repeat(100));
    assert!(error(&deep).contains("nesting deeper than 64 levels"));
    let fine = format!("a: {}{}", "[".repeat(60), "]".repeat(60));
    tree(&fine);
    let maps = format!("a: {}{}", "{b: ".repeat(100), "}".repeat(100));
    assert!(error(&maps).contains("nesting deeper than 64 levels"));
}
