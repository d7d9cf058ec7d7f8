//! The leaf node protocol, as a connection between two servers speaks it:
//! `LS+`/`LS-` (interest), `LMSG` and `HMSG` (messages, with a reply and
//! the queue groups the receiver is to deliver to), and the shared
//! `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`.
//!
//! Unlike the client parser this one keeps no state between calls (see
//! `proto/peer.rs`, the framing and argument rules it shares with the
//! route protocol): an operation is returned only once its line (and
//! payload) are all in the buffer, and `Partial(0)` asks for more; the
//! limits are checked on the first look.
//!
//! Texts and argument rules follow nats-server's `processLeafSub`,
//! `processLeafUnsub`, `processLeafMsgArgs` and `processLeafHeaderMsgArgs`.

use super::error::{ProtoError, Snippet};
use super::parser::{Op, Status};
use super::peer::{self, Line, MsgForm};

pub use super::peer::queue_names;

/// The leaf protocol's own operations (besides the shared `INFO`,
/// `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`).
const OWN: [&[u8]; 4] = [b"LS+", b"LS-", b"LMSG", b"HMSG"];

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
    let (name, args, line_len) = match peer::parse_line(&OWN, max_control_line, buf)? {
        Line::Done(status) => return Ok(status),
        Line::Own {
            name,
            args,
            line_len,
        } => (name, args, line_len),
    };
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    let op = if is(b"LS+") {
        leaf_sub(args)?
    } else if is(b"LS-") {
        leaf_unsub(args)?
    } else {
        let headers = is(b"HMSG");
        return leaf_msg(headers, args, buf, line_len, max_payload);
    };
    Ok(Status::Complete((line_len, op)))
}

/// `LS+ <subject>` or `LS+ <subject> <queue> <weight>`.
fn leaf_sub(args: &[u8]) -> Result<Op<'_>, ProtoError> {
    let mut parts = peer::split(args);
    let (subject, queue, weight) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(subject), None, None, None) => (subject, None, 1),
        (Some(subject), Some(queue), Some(weight), None) => {
            (subject, Some(queue), peer::queue_weight(weight))
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
    let mut parts = peer::split(args);
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
    let form = MsgForm {
        op: if headers {
            "processLeafHeaderMsgArgs"
        } else {
            "processLeafMsgArgs"
        },
        headers,
        account: false,
        max_args: MAX_MSG_ARGS,
    };
    Ok(
        match peer::parse_msg(&form, args, buf, line_len, max_payload)? {
            Status::Complete((n, m)) => Status::Complete((
                n,
                Op::LeafMsg {
                    msg: m.msg,
                    queues: m.queues,
                },
            )),
            Status::Partial(n) => Status::Partial(n),
        },
    )
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
