//! What a connection received: the server's byte stream cut into protocol
//! frames, with the values that differ between any two runs (ids, ports,
//! nonces, build details) replaced, so two servers' transcripts compare
//! byte for byte.

use std::fmt::Write as _;

use serde_json::Value;

/// One thing a connection saw.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// One server operation (`INFO` already normalized), CRLF included.
    Frame(Vec<u8>),
    /// The server closed the connection (EOF or reset).
    Closed,
    /// The server neither answered nor closed in time; `what` was awaited.
    Timeout(&'static str),
}

impl Event {
    /// The event as text: frames verbatim, the others as `<closed>` and
    /// `<timeout waiting for ...>` markers. This is what `expect` compares against.
    pub fn render(&self) -> Vec<u8> {
        match self {
            Event::Frame(bytes) => bytes.clone(),
            Event::Closed => b"<closed>".to_vec(),
            Event::Timeout(what) => format!("<timeout waiting for {what}>").into_bytes(),
        }
    }
}

/// Cut the next whole frame off the front of `buf`: a line, or for
/// `MSG`/`HMSG` the line and the payload of the size it declares. `None`
/// until the frame is complete.
pub fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let line_end = buf.iter().position(|&b| b == b'\n')? + 1;
    let line = &buf[..line_end];
    let frame_len = if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
        match declared_size(line) {
            Some(size) => line_end + size + 2,
            None => line_end,
        }
    } else {
        line_end
    };
    if buf.len() < frame_len {
        return None;
    }
    Some(buf.drain(..frame_len).collect())
}

/// The last argument of a `MSG`/`HMSG` line: the total size.
fn declared_size(line: &[u8]) -> Option<usize> {
    let last = line
        .split(u8::is_ascii_whitespace)
        .rfind(|token| !token.is_empty())?;
    std::str::from_utf8(last).ok()?.parse().ok()
}

/// INFO keys whose values change from run to run or name the build. They
/// are kept (their presence is compared) with a placeholder value:
/// - `server_id`, `nonce`: random per process;
/// - `port`: ephemeral per run;
/// - `client_id`: a counter; nats-server's first client is 5 (its internal
///   clients come first), natsd's is 1;
/// - `version`, `go`: the build, not the protocol.
const PLACEHOLDER_KEYS: [&str; 6] = ["server_id", "nonce", "port", "client_id", "version", "go"];

/// INFO keys left out entirely, because nats-server sends them for features
/// outside the core protocol, so a core-protocol server has no reason to:
/// - `api_lvl`: the JetStream API level;
/// - `xkey`: the auth callout public key (random per process anyway);
/// - `git_commit`: the build's commit (omitted by natsd);
/// - `connect_urls`, `ws_connect_urls`: cluster gossip.
const IGNORED_KEYS: [&str; 5] = [
    "api_lvl",
    "xkey",
    "git_commit",
    "connect_urls",
    "ws_connect_urls",
];

/// The INFO line with volatile values replaced and keys sorted, as
/// `INFO {...}\r\n`; other frames are returned unchanged. Everything not
/// listed above is compared as sent: `proto`, `host`, `headers`,
/// `max_payload`, `auth_required`, `client_ip`, `connect_info`,
/// `remote_account`, `ldm`, TLS flags...
pub fn normalize(frame: Vec<u8>) -> Vec<u8> {
    let Some(json) = frame.strip_prefix(b"INFO ") else {
        return frame;
    };
    let Ok(Value::Object(mut info)) = serde_json::from_slice::<Value>(json) else {
        return frame; // not JSON: compared verbatim
    };
    // server_name defaults to the server id; a chosen name is compared.
    if info.get("server_name").is_some() && info.get("server_name") == info.get("server_id") {
        info.insert("server_name".into(), Value::String("<server_id>".into()));
    }
    for key in IGNORED_KEYS {
        info.remove(key);
    }
    for key in PLACEHOLDER_KEYS {
        if let Some(value) = info.get_mut(key) {
            *value = Value::String(format!("<{key}>"));
        }
    }
    // serde_json's map is sorted by key: the order is canonical.
    let mut out = b"INFO ".to_vec();
    out.extend_from_slice(Value::Object(info).to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes as a scenario file would write them: printable ASCII verbatim,
/// `\r \n \t \\` and `\xNN` for the rest, one frame per output line.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 16);
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// A transcript for a report: one event per line, indented.
pub fn display(events: &[Event]) -> String {
    if events.is_empty() {
        return "        (nothing)\n".into();
    }
    events
        .iter()
        .map(|e| format!("        {}\n", escape(&e.render())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_declared_sizes() {
        let mut buf = b"MSG \xff 1 6\r\nPONG\r\n\r\n+OK\r\nHMSG".to_vec();
        assert_eq!(
            take_frame(&mut buf).unwrap(),
            b"MSG \xff 1 6\r\nPONG\r\n\r\n"
        );
        assert_eq!(take_frame(&mut buf).unwrap(), b"+OK\r\n");
        assert_eq!(take_frame(&mut buf), None);
        assert_eq!(buf, b"HMSG");
    }

    #[test]
    fn info_is_normalized() {
        let a = br#"INFO {"server_id":"X","server_name":"X","port":1,"client_id":5,"api_lvl":5,"proto":1} "#;
        let b = br#"INFO {"proto":1,"server_name":"Y","server_id":"Y","client_id":1,"port":2} "#;
        let mut a = a.to_vec();
        a.extend_from_slice(b"\r\n");
        let mut b = b.to_vec();
        b.extend_from_slice(b"\r\n");
        assert_eq!(normalize(a.clone()), normalize(b));
        assert_eq!(
            String::from_utf8(normalize(a)).unwrap(),
            "INFO {\"client_id\":\"<client_id>\",\"port\":\"<port>\",\"proto\":1,\"server_id\":\"<server_id>\",\"server_name\":\"<server_id>\"}\r\n"
        );
    }

    #[test]
    fn escape_round_trips_through_the_script_syntax() {
        let bytes = b"a\r\n\t\\\x00\xff{";
        let text = escape(bytes);
        assert_eq!(super::super::script::unescape(&text).unwrap(), bytes);
    }
}
