//! What a connection received: the server's byte stream cut into protocol
//! frames, with the values that differ between any two runs (ids, ports,
//! nonces, build details, server-chosen reply subjects) replaced, so two
//! servers' transcripts compare byte for byte.

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

/// A frame with what varies between runs replaced: the INFO line with
/// volatile values replaced and keys sorted, as `INFO {...}\r\n`
/// ([`normalize_info`]); the subject and reply fields of a `MSG`/`HMSG`
/// line with server-chosen reply subjects replaced ([`normalize_msg`]).
/// Other frames are returned unchanged.
pub fn normalize(frame: Vec<u8>) -> Vec<u8> {
    if frame.starts_with(b"INFO ") {
        normalize_info(frame)
    } else if is_msg(&frame) {
        normalize_msg(frame)
    } else {
        frame
    }
}

/// The INFO line with volatile values replaced and keys sorted. Everything
/// not listed above is compared as sent: `proto`, `host`, `headers`,
/// `max_payload`, `auth_required`, `client_ip`, `connect_info`,
/// `remote_account`, `ldm`, TLS flags...
fn normalize_info(frame: Vec<u8>) -> Vec<u8> {
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

fn is_msg(frame: &[u8]) -> bool {
    frame.starts_with(b"MSG ") || frame.starts_with(b"HMSG ")
}

/// The arguments of a `MSG`/`HMSG` frame's line, the verb included, as
/// byte ranges of the frame; and the index of the reply subject among
/// them, when the line has one (`MSG subject sid [reply] size`,
/// `HMSG subject sid [reply] header_size total_size`).
fn msg_fields(frame: &[u8]) -> (Vec<std::ops::Range<usize>>, Option<usize>) {
    let line_end = frame
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(frame.len());
    let mut fields = Vec::new();
    let mut start = None;
    for (i, b) in frame[..line_end].iter().enumerate() {
        match (b.is_ascii_whitespace(), start) {
            (true, Some(s)) => {
                fields.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        fields.push(s..line_end);
    }
    let with_reply = if frame.starts_with(b"HMSG ") { 6 } else { 5 };
    let reply = (fields.len() == with_reply).then_some(3);
    (fields, reply)
}

/// The reply subject of a `MSG`/`HMSG` frame exactly as received (not
/// normalized); `None` for a frame of another kind or without one.
pub fn reply_subject(frame: &[u8]) -> Option<&[u8]> {
    if !is_msg(frame) {
        return None;
    }
    let (fields, reply) = msg_fields(frame);
    Some(&frame[fields[reply?].clone()])
}

/// What replaces a server-chosen reply subject's tokens.
const REPLY_PLACEHOLDER: &[u8] = b"_R_.<reply>";

/// The `MSG`/`HMSG` frame with every server-chosen reply subject in its
/// subject and reply fields replaced by `_R_.<reply>`. The payload and the
/// other fields (sid, sizes) are left as they are; the sizes still describe
/// the payload, which the frame was cut by before this.
fn normalize_msg(frame: Vec<u8>) -> Vec<u8> {
    let (fields, reply) = msg_fields(&frame);
    let mut out = Vec::with_capacity(frame.len());
    let mut copied = 0;
    for index in std::iter::once(1).chain(reply) {
        let Some(range) = fields.get(index) else {
            continue;
        };
        out.extend_from_slice(&frame[copied..range.start]);
        out.extend_from_slice(&normalize_subject(&frame[range.clone()]));
        copied = range.end;
    }
    out.extend_from_slice(&frame[copied..]);
    out
}

/// The subject with each server-chosen reply subject in it replaced by
/// `_R_.<reply>`. nats-server maps the reply subject of a request that
/// crosses accounts through a service import to one of its own
/// (`Account.newServiceReply` in server/accounts.go): the token `_R_`, a
/// per-account token of 6 base-62 characters, a per-request token of 6,
/// and for a tracked (latency-sampled) request the server's 8-character
/// hash and the token `T`, all random per process.
fn normalize_subject(subject: &[u8]) -> Vec<u8> {
    let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    let base62 = |t: &[u8], len: usize| t.len() == len && t.iter().all(u8::is_ascii_alphanumeric);
    let is = |i: usize, test: &dyn Fn(&[u8]) -> bool| tokens.get(i).is_some_and(|t| test(t));
    let mut out: Vec<&[u8]> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let chosen =
            tokens[i] == b"_R_" && is(i + 1, &|t| base62(t, 6)) && is(i + 2, &|t| base62(t, 6));
        if !chosen {
            out.push(tokens[i]);
            i += 1;
            continue;
        }
        out.push(REPLY_PLACEHOLDER);
        i += 3;
        if is(i, &|t| base62(t, 8)) && is(i + 1, &|t| t == b"T") {
            i += 2;
        }
    }
    out.join(&b'.')
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
    fn server_chosen_replies_are_normalized() {
        let msg =
            b"MSG _R_.aB3dE9.Zz0012 7 _R_.aB3dE9.Zz0012.AbCd1234.T 17\r\n_R_.aB3dE9.Zz0012\r\n";
        assert_eq!(
            normalize(msg.to_vec()),
            b"MSG _R_.<reply> 7 _R_.<reply> 17\r\n_R_.aB3dE9.Zz0012\r\n"
        );
        let hmsg = b"HMSG foo 1 x._R_.Xb3k9Q.Lk2pQ0.y 12 12\r\nNATS/1.0\r\n\r\n\r\n";
        assert_eq!(
            normalize(hmsg.to_vec()),
            b"HMSG foo 1 x._R_.<reply>.y 12 12\r\nNATS/1.0\r\n\r\n\r\n"
        );
        // Not the shape nats-server chooses: compared as sent.
        for line in [
            &b"MSG _R_.abc.def 1 _R_.abcdef.ghijk 0\r\n\r\n"[..],
            b"MSG _R_ 1 x._R_.abcdef 0\r\n\r\n",
            b"PUB _R_.abcdef.ghijkl 0\r\n",
        ] {
            assert_eq!(normalize(line.to_vec()), line);
        }
        assert_eq!(
            reply_subject(msg),
            Some(&b"_R_.aB3dE9.Zz0012.AbCd1234.T"[..])
        );
        assert_eq!(
            reply_subject(&hmsg[..]),
            Some(&b"x._R_.Xb3k9Q.Lk2pQ0.y"[..])
        );
        assert_eq!(reply_subject(b"MSG foo 1 0\r\n\r\n"), None);
        assert_eq!(reply_subject(b"HMSG foo 1 12 12\r\n"), None);
        assert_eq!(reply_subject(b"+OK\r\n"), None);
    }

    #[test]
    fn escape_round_trips_through_the_script_syntax() {
        let bytes = b"a\r\n\t\\\x00\xff{";
        let text = escape(bytes);
        assert_eq!(super::super::script::unescape(&text).unwrap(), bytes);
    }
}
