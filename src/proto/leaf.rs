//! The leaf node protocol, as a connection between two servers speaks it:
//! `LS+`/`LS-` (interest), `LMSG` and `HMSG` (messages, with a reply and
//! the queue groups the receiver is to deliver to), and the shared
//! `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`.
//!
//! Unlike the client parser this one keeps no state between calls: an
//! operation is returned only once its line (and payload) are all in the
//! buffer, and `Partial(0)` asks for more. Leaf links are few and their
//! lines short, so reading a line again when more bytes come costs little;
//! the limits (`max_control_line`, `max_payload`) are checked on the first
//! look, so a peer cannot make the buffer grow past them.
//!
//! Texts and argument rules follow nats-server's `processLeafSub`,
//! `processLeafUnsub`, `processLeafMsgArgs` and `processLeafHeaderMsgArgs`.

use memchr::memchr;

use super::error::{ProtoError, Snippet};
use super::parser::{parse_size, Op, Pub, Status};

/// The operations a leaf connection speaks: those with arguments, and
/// those that ignore the rest of their line (as the client parser does).
const WITH_ARGS: [&[u8]; 7] = [
    b"LS+", b"LS-", b"LMSG", b"HMSG", b"-ERR", b"INFO", b"CONNECT",
];
const WHOLE_LINE: [&[u8]; 3] = [b"PING", b"PONG", b"+OK"];

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether `name` is (or, when `complete` is false, may still become) an
/// operation's name.
fn is_known(name: &[u8], complete: bool) -> bool {
    let whole_line = |w: &&[u8]| {
        starts_with_ignore_case(name, w) || (!complete && starts_with_ignore_case(w, name))
    };
    if WHOLE_LINE.iter().any(whole_line) {
        return true;
    }
    WITH_ARGS.iter().any(|w| {
        if complete {
            name.eq_ignore_ascii_case(w)
        } else {
            starts_with_ignore_case(w, name)
        }
    })
}

/// Parse at most one leaf operation from the front of `buf`.
///
/// An unknown name is refused as soon as its first bytes show it, and a
/// line as soon as it is longer than `max_control_line`, so that the same
/// bytes give the same result however they are split.
pub fn parse<'b>(
    max_control_line: usize,
    max_payload: usize,
    buf: &'b [u8],
) -> Result<Status<(usize, Op<'b>)>, ProtoError> {
    let newline = memchr(b'\n', buf);
    let scanned = &buf[..newline.unwrap_or(buf.len())];
    let name_end = scanned.iter().position(|&b| b == b' ' || b == b'\t');
    let name = &scanned[..name_end.unwrap_or(scanned.len())];
    // The CR of CRLF is not part of a name that ends the line (nor of one
    // whose line has not ended yet: a CR can only be followed by its LF).
    let name = match name_end {
        None => name.strip_suffix(b"\r").unwrap_or(name),
        Some(_) => name,
    };
    let unknown = || ProtoError::UnknownOp {
        snippet: Snippet::of(buf),
    };
    let complete = newline.is_some() || name_end.is_some();
    if !is_known(name, complete) {
        return Err(unknown());
    }
    // What follows the name, as the line's length is measured.
    let rest = &scanned[name.len().min(scanned.len())..];
    let Some(nl) = newline else {
        // The CR that may end it is not counted.
        if rest.len() > max_control_line + 1 {
            return Err(ProtoError::MaxControlLine {
                len: rest.len() - 1,
                max: max_control_line,
            });
        }
        return Ok(Status::Partial(0));
    };
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    if rest.len() > max_control_line {
        return Err(ProtoError::MaxControlLine {
            len: rest.len(),
            max: max_control_line,
        });
    }
    let args = trim_start(rest);
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    let line_len = nl + 1;
    let op = if WHOLE_LINE.iter().any(|w| starts_with_ignore_case(name, w)) {
        match name[1].to_ascii_uppercase() {
            b'I' => Op::Ping,
            b'O' if name[0] != b'+' => Op::Pong,
            _ => Op::Ok,
        }
    } else if is(b"LS+") {
        leaf_sub(args)?
    } else if is(b"LS-") {
        leaf_unsub(args)?
    } else if is(b"LMSG") || is(b"HMSG") {
        let headers = is(b"HMSG");
        return leaf_msg(headers, args, buf, line_len, max_payload);
    } else if is(b"-ERR") {
        Op::Err(args)
    } else if is(b"INFO") {
        Op::Info(args)
    } else {
        Op::Connect(args)
    };
    Ok(Status::Complete((line_len, op)))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Split on spaces, tabs, CR and LF, as nats-server's `splitArg`.
fn split(args: &[u8]) -> impl Iterator<Item = &[u8]> {
    args.split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|a| !a.is_empty())
}

/// `LS+ <subject>` or `LS+ <subject> <queue> <weight>`.
fn leaf_sub(args: &[u8]) -> Result<Op<'_>, ProtoError> {
    let mut parts = split(args);
    let (subject, queue, weight) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(subject), None, None, None) => (subject, None, 1),
        (Some(subject), Some(queue), Some(weight), None) => {
            // nats-server takes a weight that does not parse as 1.
            let weight = parse_size(weight).map_or(1, |w| w.max(1));
            (subject, Some(queue), weight as u32)
        }
        _ => {
            return Err(ProtoError::BadArgs {
                op: "processLeafSub",
                why: "Parse Error",
                snippet: Snippet::of(args),
            })
        }
    };
    Ok(Op::LeafSub {
        subject,
        queue,
        weight,
    })
}

/// `LS- <subject> [queue]`.
fn leaf_unsub(args: &[u8]) -> Result<Op<'_>, ProtoError> {
    let mut parts = split(args);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(subject), queue, None) => Ok(Op::LeafUnsub { subject, queue }),
        _ => Err(ProtoError::BadArgs {
            op: "processLeafUnsub",
            why: "Parse Error",
            snippet: Snippet::of(args),
        }),
    }
}

/// Most arguments an `LMSG`/`HMSG` line may carry: a subject, the reply
/// indicator and reply, the sizes, and the queue names in between.
const MAX_MSG_ARGS: usize = 64;

/// `LMSG <subject> [reply] <size>`, `LMSG <subject> + <reply> <queues...>
/// <size>`, `LMSG <subject> | <queues...> <size>`; `HMSG` the same with
/// the header size before the total size.
fn leaf_msg<'b>(
    headers: bool,
    args: &'b [u8],
    buf: &'b [u8],
    line_len: usize,
    max_payload: usize,
) -> Result<Status<(usize, Op<'b>)>, ProtoError> {
    let op = if headers {
        "processLeafHeaderMsgArgs"
    } else {
        "processLeafMsgArgs"
    };
    let bad = |why| ProtoError::BadArgs {
        op,
        why,
        snippet: Snippet::of(args),
    };
    let mut parts: [&[u8]; MAX_MSG_ARGS] = [&[]; MAX_MSG_ARGS];
    let mut n = 0;
    for part in split(args) {
        if n == MAX_MSG_ARGS {
            return Err(bad("Parse Error"));
        }
        parts[n] = part;
        n += 1;
    }
    let sizes = if headers { 2 } else { 1 };
    if n < 1 + sizes {
        return Err(bad("Parse Error"));
    }
    let (reply, queues_from) = match n - sizes {
        1 => (None, None),
        2 => (Some(parts[1]), None),
        _ => match parts[1] {
            b"+" => (Some(parts[2]), Some(3)),
            b"|" => (None, Some(2)),
            _ => return Err(bad("Bad or Missing Reply Indicator")),
        },
    };
    // The queue names, as one slice of the line: from the first to the
    // last (the receiver splits them again when it delivers).
    let queues = match queues_from {
        Some(first) if first < n - sizes => {
            let start = parts[first].as_ptr() as usize - args.as_ptr() as usize;
            let last = parts[n - sizes - 1];
            let end = last.as_ptr() as usize - args.as_ptr() as usize + last.len();
            &args[start..end]
        }
        _ => &args[..0],
    };
    let size_token = parts[n - 1];
    let size = parse_size(size_token).ok_or_else(|| bad("Bad or Missing Size"))?;
    let (header_len_token, header_len) = if headers {
        let token = parts[n - 2];
        let len = parse_size(token).ok_or_else(|| bad("Bad or Missing Header Size"))?;
        if len > size {
            return Err(bad("Header Size larger then TotalSize"));
        }
        (Some(token), len)
    } else {
        (None, 0)
    };
    if size > max_payload {
        return Err(ProtoError::MaxPayload {
            size,
            max: max_payload,
        });
    }
    let end = line_len + size;
    match buf.get(end..end + 2) {
        None => {
            // The CR is checked as soon as it arrives, as nats-server does.
            if buf.get(end).is_some_and(|&b| b != b'\r') {
                return Err(ProtoError::UnknownOp {
                    snippet: Snippet::of(&buf[end..]),
                });
            }
            return Ok(Status::Partial(0));
        }
        Some(b"\r\n") => {}
        Some(other) => {
            return Err(ProtoError::UnknownOp {
                snippet: Snippet::of(other),
            })
        }
    }
    let msg = Pub {
        subject: parts[0],
        reply,
        header_len_token,
        size_token,
        header_len,
        msg: &buf[line_len..end],
    };
    Ok(Status::Complete((end + 2, Op::LeafMsg { msg, queues })))
}

/// The queue names of an `LMSG`'s queue list.
pub fn queue_names(queues: &[u8]) -> impl Iterator<Item = &[u8]> {
    split(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(buf: &[u8]) -> Vec<Op<'_>> {
        let mut ops = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match parse(4096, 1 << 20, &buf[at..]).unwrap() {
                Status::Complete((n, op)) => {
                    ops.push(op);
                    at += n;
                }
                Status::Partial(_) => break,
            }
        }
        ops
    }

    #[test]
    fn interest_with_and_without_queue_weights() {
        let ops = parse_all(b"LS+ foo\r\nLS+ bar q1 2\r\nLS- bar q1\r\nLS- foo\r\n");
        assert_eq!(
            ops,
            vec![
                Op::LeafSub {
                    subject: b"foo",
                    queue: None,
                    weight: 1
                },
                Op::LeafSub {
                    subject: b"bar",
                    queue: Some(b"q1"),
                    weight: 2
                },
                Op::LeafUnsub {
                    subject: b"bar",
                    queue: Some(b"q1")
                },
                Op::LeafUnsub {
                    subject: b"foo",
                    queue: None
                },
            ]
        );
        assert!(parse(4096, 1024, b"LS+ a b\r\n").is_err());
        assert!(parse(4096, 1024, b"LS- a b c\r\n").is_err());
    }

    #[test]
    fn messages_with_replies_and_queues() {
        let buf = b"LMSG foo _INBOX.abc 5\r\nhello\r\nHMSG bar | q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG baz + r q 1\r\nx\r\nLMSG a 0\r\n\r\n";
        let ops = parse_all(buf);
        assert_eq!(ops.len(), 4);
        let Op::LeafMsg { msg, queues } = &ops[0] else {
            panic!()
        };
        assert_eq!(
            (msg.subject, msg.reply, *queues),
            (&b"foo"[..], Some(&b"_INBOX.abc"[..]), &b""[..])
        );
        assert_eq!(msg.msg, b"hello");
        let Op::LeafMsg { msg, queues } = &ops[1] else {
            panic!()
        };
        assert_eq!(
            (msg.reply, *queues, msg.header_len),
            (None, &b"q1 q2"[..], 12)
        );
        assert_eq!(
            queue_names(queues).collect::<Vec<_>>(),
            vec![&b"q1"[..], b"q2"]
        );
        let Op::LeafMsg { msg, queues } = &ops[2] else {
            panic!()
        };
        assert_eq!((msg.reply, *queues), (Some(&b"r"[..]), &b"q"[..]));
        let Op::LeafMsg { msg, .. } = &ops[3] else {
            panic!()
        };
        assert_eq!(msg.msg, b"");
    }

    #[test]
    fn bad_messages_are_refused_with_nats_server_reasons() {
        let why = |buf: &[u8]| match parse(4096, 1024, buf) {
            Err(ProtoError::BadArgs { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(why(b"LMSG foo\r\n"), "Parse Error");
        assert_eq!(why(b"LMSG foo x q 1\r\n"), "Bad or Missing Reply Indicator");
        assert_eq!(why(b"LMSG foo r x\r\n"), "Bad or Missing Size");
        assert_eq!(
            why(b"HMSG foo 5 2\r\n"),
            "Header Size larger then TotalSize"
        );
        assert!(matches!(
            parse(4096, 10, b"LMSG foo 11\r\n"),
            Err(ProtoError::MaxPayload { .. })
        ));
        assert!(matches!(
            parse(4096, 10, b"LMSG foo 2\r\nabX"),
            Err(ProtoError::UnknownOp { .. })
        ));
        let long = [&b"LS+ "[..], &[b'a'; 64]].concat();
        assert!(matches!(
            parse(8, 10, &long),
            Err(ProtoError::MaxControlLine { .. })
        ));
        // An unknown name is refused from its first bytes.
        assert!(matches!(
            parse(8, 10, &[b'L'; 64]),
            Err(ProtoError::UnknownOp { .. })
        ));
        assert!(matches!(parse(8, 10, b"LMS"), Ok(Status::Partial(0))));
        assert!(matches!(
            parse(4096, 10, b"PUB foo 1\r\nx\r\n"),
            Err(ProtoError::UnknownOp { .. })
        ));
    }

    #[test]
    fn split_anywhere_parses_the_same() {
        let buf = b"LS+ foo\r\nLMSG foo + r q1 q2 3\r\nabc\r\nPING\r\nHMSG h 2 4\r\n\r\nhi\r\n";
        let whole = parse_all(buf);
        for cut in 0..buf.len() {
            let first = parse_all(&buf[..cut]);
            assert!(first.len() <= whole.len());
            assert_eq!(first[..], whole[..first.len()]);
        }
    }
}
