//! Scenario files: the `.nats` format and its parser.
//!
//! A file holds scenarios, each opened by `scenario <name>`; every other
//! non-blank, non-comment line is one step of the current scenario (the
//! vocabulary is in `tests/conformance/README.md` and on [`Action`]). Text
//! arguments use the escapes of [`unescape`]. Any mistake is reported as
//! `file:line: message`, never as a panic.

use std::fmt;
use std::path::{Path, PathBuf};

/// One scenario, as written.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub file: PathBuf,
    /// The line of its `scenario` header.
    pub line: usize,
    /// Extra flags for both servers (`server ...`).
    pub server_flags: Vec<String>,
    /// A configuration file for both servers (`config TEXT`), given to
    /// each as `-c FILE`.
    pub config: Option<Vec<u8>>,
    /// `difference <reason>`: the servers deliberately differ here, so the
    /// reference is held to its expectations, and the tested server to its
    /// own or to the reference's output.
    pub difference: Option<String>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// `file:line` of the scenario header, for reports.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    pub action: Action,
}

/// Which server an expectation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The oracle, nats-server.
    Reference,
    /// The server under test.
    Tested,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Reference => "reference",
            Role::Tested => "tested",
        })
    }
}

#[derive(Debug, Clone)]
pub enum Action {
    /// `connect C`: open a connection and wait for the server's INFO.
    Connect(String),
    /// `send C TEXT`: one write.
    Send(String, Vec<u8>),
    /// `send-bytewise C TEXT`: one write per byte.
    SendBytewise(String, Vec<u8>),
    /// `sync C` / `sync-unordered C`: PING, then read up to the PONG.
    /// Unordered sorts what arrived in between (fan-out order is not part
    /// of the protocol).
    Sync { conn: String, unordered: bool },
    /// `read C`: read until the server closes the connection.
    Read(String),
    /// `close C`: the client closes.
    Close(String),
    /// `sleep MS`: only for what no barrier can order (a close as seen by
    /// the server).
    Sleep(u64),
    /// `respond C TEXT`: take the next `MSG`/`HMSG` frame C received (read
    /// until one arrives) and publish TEXT to its reply subject.
    Respond(String, Vec<u8>),
    /// `expect C TEXT` (`only` = None) or `expect-reference`/`expect-tested`.
    Expect {
        conn: String,
        text: Vec<u8>,
        only: Option<Role>,
    },
}

/// A mistake in a scenario file.
#[derive(Debug)]
pub struct ScriptError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Parse one scenario file's text.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Scenario>, ScriptError> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |message: String| ScriptError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (word, rest) = split_word(trimmed);
        if word == "scenario" {
            if let Some(done) = scenarios.last() {
                check_complete(file, done)?;
            }
            scenarios.push(new_scenario(file, line, rest).map_err(err)?);
            continue;
        }
        let Some(scenario) = scenarios.last_mut() else {
            return Err(err(format!("`{word}` before any `scenario` line")));
        };
        add_step(scenario, line, word, rest).map_err(err)?;
    }
    if let Some(last) = scenarios.last() {
        check_complete(file, last)?;
    }
    Ok(scenarios)
}

fn new_scenario(file: &Path, line: usize, rest: &str) -> Result<Scenario, String> {
    let name_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !name_ok {
        return Err(format!(
            "scenario name {rest:?} must be one word of letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(Scenario {
        name: rest.to_string(),
        file: file.to_path_buf(),
        line,
        server_flags: Vec::new(),
        config: None,
        difference: None,
        steps: Vec::new(),
    })
}

/// A finished scenario has steps, and role-specific expectations only
/// with a `difference`. Errors point at its `scenario` line.
fn check_complete(file: &Path, s: &Scenario) -> Result<(), ScriptError> {
    let err = |message: String| ScriptError {
        file: file.to_path_buf(),
        line: s.line,
        message,
    };
    if s.steps.is_empty() {
        return Err(err(format!("scenario {} has no steps", s.name)));
    }
    let role_expects = s
        .steps
        .iter()
        .any(|step| matches!(step.action, Action::Expect { only: Some(_), .. }));
    if role_expects && s.difference.is_none() {
        return Err(err(format!(
            "scenario {}: expect-reference/expect-tested need a `difference` line",
            s.name
        )));
    }
    Ok(())
}

fn add_step(s: &mut Scenario, line: usize, word: &str, rest: &str) -> Result<(), String> {
    let action = match word {
        "server" => {
            if !s.steps.is_empty() || !s.server_flags.is_empty() {
                return Err("`server` must come once, before the first step".into());
            }
            s.server_flags = rest.split_whitespace().map(str::to_string).collect();
            return Ok(());
        }
        "config" => {
            if !s.steps.is_empty() || s.config.is_some() {
                return Err("`config` must come once, before the first step".into());
            }
            let text = unescape(rest)?;
            if text.is_empty() {
                return Err("`config` needs the text of a configuration file".into());
            }
            s.config = Some(text);
            return Ok(());
        }
        "difference" => {
            if rest.is_empty() {
                return Err("`difference` needs a reason".into());
            }
            s.difference = Some(rest.to_string());
            return Ok(());
        }
        "connect" => {
            let conn = conn_name(rest)?;
            if connected(s, &conn) {
                return Err(format!("connection {conn} is already open"));
            }
            Action::Connect(conn)
        }
        "send" | "send-bytewise" => {
            let (conn, text) = split_word(rest);
            let conn = used_conn(s, conn)?;
            let bytes = unescape(text)?;
            if bytes.is_empty() {
                return Err(format!("`{word}` needs text to send"));
            }
            if word == "send" {
                Action::Send(conn, bytes)
            } else {
                Action::SendBytewise(conn, bytes)
            }
        }
        "sync" | "sync-unordered" => Action::Sync {
            conn: used_conn(s, rest)?,
            unordered: word == "sync-unordered",
        },
        "respond" => {
            let (conn, text) = split_word(rest);
            Action::Respond(used_conn(s, conn)?, unescape(text)?)
        }
        "read" => Action::Read(used_conn(s, rest)?),
        "close" => Action::Close(used_conn(s, rest)?),
        "sleep" => Action::Sleep(
            rest.parse()
                .map_err(|_| format!("`sleep` takes milliseconds, not {rest:?}"))?,
        ),
        "expect" | "expect-reference" | "expect-tested" => {
            let (conn, text) = split_word(rest);
            Action::Expect {
                conn: used_conn(s, conn)?,
                text: unescape(text)?,
                only: match word {
                    "expect-reference" => Some(Role::Reference),
                    "expect-tested" => Some(Role::Tested),
                    _ => None,
                },
            }
        }
        _ => return Err(format!("unknown step `{word}`")),
    };
    s.steps.push(Step { line, action });
    Ok(())
}

fn conn_name(rest: &str) -> Result<String, String> {
    let ok = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(rest.to_string())
    } else {
        Err(format!("bad connection name {rest:?}"))
    }
}

fn connected(s: &Scenario, conn: &str) -> bool {
    s.steps
        .iter()
        .any(|step| matches!(&step.action, Action::Connect(c) if c == conn))
}

fn used_conn(s: &Scenario, conn: &str) -> Result<String, String> {
    let conn = conn_name(conn)?;
    if connected(s, &conn) {
        Ok(conn)
    } else {
        Err(format!("connection {conn} is used before `connect {conn}`"))
    }
}

/// The first word and the rest, both trimmed.
fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    }
}

/// Decode a text argument: `\r \n \t \\`, `\xNN` for any byte, and
/// `\{N*TEXT}` for TEXT (itself escaped, without `}`) repeated N times.
/// Everything else is taken literally, a backslash before any other
/// character included, so JSON reads as JSON (`\u00e9`, `\"`).
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let Some(&kind) = bytes.get(i + 1) else {
            return Err("text ends with a lone backslash".into());
        };
        i += 2;
        match kind {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = text
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad \\x escape at byte {}", i - 2))?;
                out.push(hex);
                i += 2;
            }
            b'{' => {
                let end = text[i..]
                    .find('}')
                    .ok_or("unclosed \\{N*TEXT} repetition")?;
                let (count, unit) = text[i..i + end]
                    .split_once('*')
                    .ok_or("repetition must read \\{N*TEXT}")?;
                let count: usize = count
                    .parse()
                    .map_err(|_| format!("bad repetition count {count:?}"))?;
                out.extend(unescape(unit)?.repeat(count));
                i += end + 1;
            }
            // Kept as written, so JSON escapes such as \u00e9 and \" read
            // as they do in JSON.
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode() {
        assert_eq!(
            unescape(r"a\r\n\t\\\x00\xff").unwrap(),
            b"a\r\n\t\\\x00\xff"
        );
        assert_eq!(unescape(r"S\{3*ab}E").unwrap(), b"SabababE");
        assert_eq!(unescape(r"\{2*\r\n}").unwrap(), b"\r\n\r\n");
        assert_eq!(unescape(r#"{"a":1}"#).unwrap(), br#"{"a":1}"#);
        assert_eq!(unescape(r#"\u00e9\""#).unwrap(), br#"\u00e9\""#);
        assert!(unescape(r"\x4").is_err());
        assert!(unescape(r"\{3ab}").is_err());
        assert!(unescape("x\\").is_err());
    }

    #[test]
    fn mistakes_name_their_line() {
        let file = Path::new("t.nats");
        let e = parse(file, "scenario a\nconnect c\nsend d x\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("before `connect d`")),
            (3, true)
        );
        let e = parse(file, "connect c\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse(file, "scenario a\n\nscenario b\nconnect c\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse(file, "scenario a\nconnect c\nexpect-tested c x\n").unwrap_err();
        assert!(e.message.contains("difference"), "{e}");
    }

    #[test]
    fn a_scenario_parses() {
        let text = "# c\nscenario pub.1\n  server --user a\n  connect c\n  send c PUB a 0\\r\\n\\r\\n\n  sync c\n";
        let s = parse(Path::new("f"), text).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].server_flags, ["--user", "a"]);
        assert_eq!(s[0].steps.len(), 3);
        assert!(
            matches!(&s[0].steps[1].action, Action::Send(c, b) if c == "c" && b == b"PUB a 0\r\n\r\n")
        );
    }

    #[test]
    fn config_comes_first_once_with_or_without_server() {
        let file = Path::new("f");
        let text = "scenario c\n  config a { b: 1 }\\nc: 2\n  server -n x\n  connect c\n";
        let s = parse(file, text).unwrap();
        assert_eq!(s[0].config.as_deref(), Some(&b"a { b: 1 }\nc: 2"[..]));
        assert_eq!(s[0].server_flags, ["-n", "x"]);
        assert_eq!(s[0].steps.len(), 1);
        let s = parse(file, "scenario c\nserver -n x\nconfig a: 1\nconnect c\n").unwrap();
        assert_eq!(s[0].config.as_deref(), Some(&b"a: 1"[..]));
        let s = parse(file, "scenario c\nconnect c\n").unwrap();
        assert_eq!(s[0].config, None);
        for (text, line) in [
            ("scenario c\nconfig a: 1\nconfig b: 2\nconnect c\n", 3),
            ("scenario c\nconnect c\nconfig a: 1\n", 3),
            ("scenario c\nconfig\nconnect c\n", 2),
            ("scenario c\nconfig a: \\x4\nconnect c\n", 2),
        ] {
            let e = parse(file, text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(
                e.message.contains("config") || e.message.contains("\\x"),
                "{e}"
            );
        }
    }

    #[test]
    fn respond_names_an_open_connection() {
        let file = Path::new("f");
        let text = "scenario r\nconnect svc\nrespond svc hi\\r\\nthere\nrespond svc\n";
        let s = parse(file, text).unwrap();
        assert!(
            matches!(&s[0].steps[1].action, Action::Respond(c, t) if c == "svc" && t == b"hi\r\nthere")
        );
        assert!(
            matches!(&s[0].steps[2].action, Action::Respond(c, t) if c == "svc" && t.is_empty())
        );
        let e = parse(file, "scenario r\nconnect a\nrespond b hi\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("before `connect b`")),
            (3, true)
        );
        let e = parse(file, "scenario r\nconnect a\nrespond\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("connection name")), (3, true));
    }
}
