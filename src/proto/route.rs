//! The route protocol, as a server in the same cluster speaks it:
//! `RS+`/`RS-` (interest, per account), `RMSG` and `HMSG` (messages, per
//! account, with a reply and the queue groups the receiver is to deliver
//! to), and the shared `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`.
//!
//! Every operation carries its account, as on a nats-server route that
//! is neither pooled with a pinned account nor per-account: natsd never
//! makes those. Like the leaf parser (`proto/peer.rs` holds what they
//! share) this one keeps no state between calls: an operation is returned
//! only once its line (and payload) are all in the buffer, and
//! `Partial(0)` asks for more; the limits are checked on the first look.
//!
//! What nats-server's parser also takes on a route is refused here as an
//! unknown operation: `LS+`/`LS-`/`LMSG` (interest and messages with the
//! leaf cluster they came from) are sent only to a peer whose INFO says
//! `"lnoc":true`, which natsd does not; `A+`/`A-` are a gateway's, and
//! `PUB`, `SUB` and `UNSUB` a client's (nats-server ignores a route's
//! `SUB` and `A+`, and reads its `UNSUB` as an `RS-`).
//!
//! Texts and argument rules follow nats-server's `processRemoteSub`,
//! `parseUnsubProto`/`processRemoteUnsub`, `processRoutedMsgArgs` and
//! `processRoutedHeaderMsgArgs`. nats-server puts no `max_payload` on
//! what a route sends; here it is the caller's: give a route's parser a
//! limit as large as any server of the cluster may allow. nats-server
//! also lets a route's control line be 16 times `max_control_line`.

use super::error::{ProtoError, Snippet};
use super::parser::{Op, Status};
use super::peer::{self, Line, MsgForm};

pub use super::peer::queue_names;

/// The route protocol's own operations (besides the shared `INFO`,
/// `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`).
const OWN: [&[u8]; 4] = [b"RS+", b"RS-", b"RMSG", b"HMSG"];

/// Parse at most one route operation from the front of `buf`.
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
    let op = if is(b"RS+") {
        route_sub(args)?
    } else if is(b"RS-") {
        route_unsub(args)?
    } else {
        let headers = is(b"HMSG");
        return route_msg(headers, args, buf, line_len, max_payload);
    };
    Ok(Status::Complete((line_len, op)))
}

/// `RS+ <account> <subject>` or `RS+ <account> <subject> <queue> <weight>`.
///
/// A weight that does not parse, or 0, is taken as 1: nats-server counts
/// such a subscription once when it is new (and stores the bad weight,
/// which skews the next update of it; natsd does not copy that).
fn route_sub(args: &[u8]) -> Result<Op<'_>, ProtoError> {
    let mut parts = peer::split(args);
    let parsed = match [(); 5].map(|_| parts.next()) {
        [Some(account), Some(subject), None, None, None] => Some((account, subject, None, 1)),
        [Some(account), Some(subject), Some(queue), Some(weight), None] => {
            Some((account, subject, Some(queue), peer::queue_weight(weight)))
        }
        _ => None,
    };
    let Some((account, subject, queue, weight)) = parsed else {
        return Err(ProtoError::BadArgs {
            op: "processRemoteSub",
            why: "Parse Error",
            snippet: Snippet::of(args),
        });
    };
    Ok(Op::RouteSub {
        account,
        subject,
        queue,
        weight,
    })
}

/// `RS- <account> <subject> [queue]`.
fn route_unsub(args: &[u8]) -> Result<Op<'_>, ProtoError> {
    let mut parts = peer::split(args);
    match [(); 4].map(|_| parts.next()) {
        [Some(account), Some(subject), queue, None] => Ok(Op::RouteUnsub {
            account,
            subject,
            queue,
        }),
        // nats-server's `parseUnsubProto` says it in lower case.
        _ => Err(ProtoError::BadArgs {
            op: "processRemoteUnsub",
            why: "parse error",
            snippet: Snippet::of(args),
        }),
    }
}

/// `RMSG <account> <subject> [reply] <size>`, `RMSG <account> <subject> +
/// <reply> <queues...> <size>`, `RMSG <account> <subject> | <queues...>
/// <size>`; `HMSG` the same with the header size before the total size.
/// The queue list is as long as the control line allows.
fn route_msg<'b>(
    headers: bool,
    args: &'b [u8],
    buf: &'b [u8],
    line_len: usize,
    max_payload: usize,
) -> Result<Status<(usize, Op<'b>)>, ProtoError> {
    let form = MsgForm {
        op: if headers {
            "processRoutedHeaderMsgArgs"
        } else {
            "processRoutedMsgArgs"
        },
        headers,
        account: true,
        max_args: usize::MAX,
    };
    Ok(
        match peer::parse_msg(&form, args, buf, line_len, max_payload)? {
            Status::Complete((n, m)) => Status::Complete((
                n,
                Op::RouteMsg {
                    account: m.account,
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
    use crate::proto::encode;
    use crate::proto::Pub;

    const MCL: usize = 4096;
    const MAX: usize = 1 << 20;

    /// Every whole operation at the front of `buf`, and what stopped them.
    fn parse_all(buf: &[u8]) -> (Vec<Op<'_>>, Result<usize, ProtoError>) {
        let mut ops = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match parse(MCL, MAX, &buf[at..]) {
                Ok(Status::Complete((n, op))) => {
                    ops.push(op);
                    at += n;
                }
                Ok(Status::Partial(_)) => break,
                Err(e) => return (ops, Err(e)),
            }
        }
        (ops, Ok(at))
    }

    fn one(buf: &[u8]) -> Op<'_> {
        match parse(MCL, MAX, buf) {
            Ok(Status::Complete((n, op))) => {
                assert_eq!(n, buf.len(), "{op:?}");
                op
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn why(buf: &[u8]) -> (&'static str, &'static str) {
        match parse(MCL, MAX, buf) {
            Err(ProtoError::BadArgs { op, why, .. }) => (op, why),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn msg<'a>(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        hdr: Option<&'a [u8]>,
        size: &'a [u8],
        body: &'a [u8],
    ) -> Pub<'a> {
        Pub {
            subject,
            reply,
            header_len_token: hdr,
            size_token: size,
            header_len: hdr.map_or(0, |h| std::str::from_utf8(h).unwrap().parse().unwrap()),
            msg: body,
        }
    }

    #[test]
    fn interest_with_and_without_queue_weights() {
        let (ops, end) = parse_all(
            b"RS+ $G foo\r\nRS+ ACC bar q1 2\r\nrs- ACC bar q1\r\nRS-\t$G  foo\r\nRS+ A b q 0\r\nRS+ A b q x\r\n",
        );
        assert_eq!(end.unwrap(), 85);
        assert_eq!(
            ops,
            vec![
                Op::RouteSub {
                    account: b"$G",
                    subject: b"foo",
                    queue: None,
                    weight: 1
                },
                Op::RouteSub {
                    account: b"ACC",
                    subject: b"bar",
                    queue: Some(b"q1"),
                    weight: 2
                },
                Op::RouteUnsub {
                    account: b"ACC",
                    subject: b"bar",
                    queue: Some(b"q1")
                },
                Op::RouteUnsub {
                    account: b"$G",
                    subject: b"foo",
                    queue: None
                },
                // A weight of 0, or one that is no number, counts once.
                Op::RouteSub {
                    account: b"A",
                    subject: b"b",
                    queue: Some(b"q"),
                    weight: 1
                },
                Op::RouteSub {
                    account: b"A",
                    subject: b"b",
                    queue: Some(b"q"),
                    weight: 1
                },
            ]
        );
    }

    #[test]
    fn messages_in_every_form() {
        let cases: [(&[u8], Op<'_>); 8] = [
            (
                b"RMSG $G foo 5\r\nhello\r\n",
                Op::RouteMsg {
                    account: b"$G",
                    msg: msg(b"foo", None, None, b"5", b"hello"),
                    queues: b"",
                },
            ),
            (
                b"RMSG $G foo _INBOX.r 0\r\n\r\n",
                Op::RouteMsg {
                    account: b"$G",
                    msg: msg(b"foo", Some(b"_INBOX.r"), None, b"0", b""),
                    queues: b"",
                },
            ),
            (
                b"RMSG A foo + _INBOX.r q1 q2 2\r\nhi\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", Some(b"_INBOX.r"), None, b"2", b"hi"),
                    queues: b"q1 q2",
                },
            ),
            (
                b"RMSG A foo | q1 \t q2 002\r\nhi\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", None, None, b"002", b"hi"),
                    queues: b"q1 \t q2",
                },
            ),
            // `+` and a reply but no queue: nats-server takes it.
            (
                b"RMSG A foo + r 1\r\nx\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", Some(b"r"), None, b"1", b"x"),
                    queues: b"",
                },
            ),
            (
                b"HMSG A foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", None, Some(b"12"), b"14", b"NATS/1.0\r\n\r\nhi"),
                    queues: b"",
                },
            ),
            (
                b"hmsg A foo r 0 2\r\nhi\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", Some(b"r"), Some(b"0"), b"2", b"hi"),
                    queues: b"",
                },
            ),
            (
                b"HMSG A foo + r q1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
                Op::RouteMsg {
                    account: b"A",
                    msg: msg(b"foo", Some(b"r"), Some(b"12"), b"12", b"NATS/1.0\r\n\r\n"),
                    queues: b"q1",
                },
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(one(buf), want);
        }
        let Op::RouteMsg { queues, .. } = one(b"RMSG A foo | q1 \t q2 002\r\nhi\r\n") else {
            panic!()
        };
        assert_eq!(queue_names(queues).collect::<Vec<_>>(), [b"q1", b"q2"]);
    }

    #[test]
    fn a_queue_list_as_long_as_the_line_allows() {
        // nats-server puts every matching queue group on the one line.
        let names: Vec<String> = (0..500).map(|i| format!("q{i}")).collect();
        let line = format!("RMSG A foo | {} 1\r\nx\r\n", names.join(" "));
        let Op::RouteMsg { queues, .. } = one(line.as_bytes()) else {
            panic!()
        };
        assert_eq!(queue_names(queues).count(), 500);
        assert_eq!(queues, names.join(" ").as_bytes());
    }

    #[test]
    fn parses_what_nats_server_sends() {
        // nats-server 2.15.1 to a route, its client having subscribed
        // `foo`, `bar q1` twice, `bar q2`; then published to the route's
        // `baz` and to `qq` with queues g1 and g2 (HPUB with and without
        // header bytes).
        let buf: &[u8] = b"RS+ $G foo\r\nRS+ $G bar q1 2\r\nRS+ $G bar q2 1\r\nPONG\r\nRMSG $G baz 5\r\nhello\r\nRMSG $G qq + _INBOX.r g1 g2 2\r\nhi\r\nHMSG $G baz 12 14\r\nNATS/1.0\r\n\r\nhi\r\nRMSG $G baz 2\r\nhi\r\n";
        let (ops, end) = parse_all(buf);
        assert_eq!(end.unwrap(), buf.len());
        assert_eq!(ops.len(), 8);
        assert_eq!(
            ops[1],
            Op::RouteSub {
                account: b"$G",
                subject: b"bar",
                queue: Some(b"q1"),
                weight: 2
            }
        );
        // And the encoders write those bytes back.
        let mut again = Vec::new();
        for op in &ops {
            encode::write_op(&mut again, op);
        }
        assert_eq!(again, buf);
    }

    #[test]
    fn shared_operations() {
        let (ops, end) = parse_all(
            b"INFO {\"server_id\":\"N\"}\r\nCONNECT {\"name\":\"N\"}\r\nPING\r\npong\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\n",
        );
        end.unwrap();
        assert_eq!(
            ops,
            vec![
                Op::Info(b"{\"server_id\":\"N\"}"),
                Op::Connect(b"{\"name\":\"N\"}"),
                Op::Ping,
                Op::Pong,
                Op::Ok,
                Op::Err(b"'Unknown Protocol Operation'"),
            ]
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_nats_server_reasons() {
        let sub = ("processRemoteSub", "Parse Error");
        assert_eq!(why(b"RS+ A\r\n"), sub);
        assert_eq!(why(b"RS+ A foo q\r\n"), sub);
        assert_eq!(why(b"RS+ A foo q 1 x\r\n"), sub);
        let unsub = ("processRemoteUnsub", "parse error");
        assert_eq!(why(b"RS- A\r\n"), unsub);
        assert_eq!(why(b"RS- A foo q 1\r\n"), unsub);
        let rmsg = "processRoutedMsgArgs";
        assert_eq!(why(b"RMSG A foo\r\n"), (rmsg, "Parse Error"));
        assert_eq!(why(b"RMSG A 5\r\n"), (rmsg, "Parse Error"));
        assert_eq!(
            why(b"RMSG A foo x r q 1\r\n"),
            (rmsg, "Bad or Missing Reply Indicator")
        );
        assert_eq!(
            why(b"RMSG A foo ++ r q 1\r\n"),
            (rmsg, "Bad or Missing Reply Indicator")
        );
        assert_eq!(why(b"RMSG A foo r x\r\n"), (rmsg, "Bad or Missing Size"));
        assert_eq!(why(b"RMSG A foo -1\r\n"), (rmsg, "Bad or Missing Size"));
        assert_eq!(
            why(b"RMSG A foo 1234567890\r\n"),
            (rmsg, "Bad or Missing Size")
        );
        let hmsg = "processRoutedHeaderMsgArgs";
        assert_eq!(why(b"HMSG A foo 5\r\n"), (hmsg, "Parse Error"));
        // The header size is checked first, as nats-server does.
        assert_eq!(
            why(b"HMSG A foo x y\r\n"),
            (hmsg, "Bad or Missing Header Size")
        );
        assert_eq!(why(b"HMSG A foo 2 y\r\n"), (hmsg, "Bad or Missing Size"));
        assert_eq!(
            why(b"HMSG A foo 5 2\r\n"),
            (hmsg, "Header Size larger then TotalSize")
        );
        assert_eq!(
            why(b"HMSG A foo | q 3 2\r\n"),
            (hmsg, "Header Size larger then TotalSize")
        );
        // Closed silently, as nats-server closes on these.
        assert_eq!(parse(MCL, MAX, b"RS+ A\r\n").unwrap_err().wire_text(), None);
    }

    #[test]
    fn what_is_not_the_route_protocol_is_unknown() {
        // Client operations, a gateway's, and the leaf-origin forms natsd
        // does not ask for (it never announces "lnoc").
        for buf in [
            &b"PUB foo 1\r\nx\r\n"[..],
            b"SUB foo 1\r\n",
            b"UNSUB 1\r\n",
            b"MSG foo 1 1\r\nx\r\n",
            b"A+ A\r\n",
            b"A- A\r\n",
            b"LS+ C A foo\r\n",
            b"LS- A foo\r\n",
            b"LMSG C A foo 0 1\r\nx\r\n",
            b"RS* A foo\r\n",
            b"RMSGX A foo 1\r\n",
            b"RS+A foo\r\n",
        ] {
            let err = parse(MCL, MAX, buf).unwrap_err();
            assert!(
                matches!(err, ProtoError::UnknownOp { .. }),
                "{:?}: {err:?}",
                String::from_utf8_lossy(buf)
            );
            assert_eq!(err.wire_text(), Some("Unknown Protocol Operation"));
        }
        // Refused from the first bytes that show it.
        assert!(parse(MCL, MAX, b"L").is_err());
        assert!(parse(MCL, MAX, b"RX").is_err());
        assert!(matches!(parse(MCL, MAX, b"RM"), Ok(Status::Partial(0))));
        assert!(matches!(parse(MCL, MAX, b"RS"), Ok(Status::Partial(0))));
        // A payload not followed by CRLF.
        assert!(matches!(
            parse(MCL, MAX, b"RMSG A foo 2\r\nabX"),
            Err(ProtoError::UnknownOp { .. })
        ));
        assert!(matches!(
            parse(MCL, MAX, b"RMSG A foo 2\r\nab\rX"),
            Err(ProtoError::UnknownOp { .. })
        ));
    }

    #[test]
    fn limits_are_checked_on_the_first_look() {
        // The size, before a byte of the payload is there.
        assert_eq!(
            parse(MCL, 10, b"RMSG A foo 11\r\n"),
            Err(ProtoError::MaxPayload { size: 11, max: 10 })
        );
        assert_eq!(
            parse(MCL, 10, b"HMSG A foo + r q 2 11\r\n"),
            Err(ProtoError::MaxPayload { size: 11, max: 10 })
        );
        assert!(matches!(
            parse(MCL, 10, b"RMSG A foo 10\r\n"),
            Ok(Status::Partial(0))
        ));
        // A line, before its newline is there.
        let long = [&b"RS+ A "[..], &[b'a'; 64]].concat();
        assert!(matches!(
            parse(16, 10, &long),
            Err(ProtoError::MaxControlLine { max: 16, .. })
        ));
        // Counted from the end of the name, without CRLF (nats-server
        // counts from the first argument: the separator less).
        let line = b"RS+ A 0123456789\r\n";
        assert!(matches!(parse(13, 10, line), Ok(Status::Complete(_))));
        assert_eq!(
            parse(12, 10, line),
            Err(ProtoError::MaxControlLine { len: 13, max: 12 })
        );
        for cut in 0..line.len() {
            assert_eq!(parse(13, 10, &line[..cut]), Ok(Status::Partial(0)));
            // Only the CR that may end it is not yet too long.
            let partial = parse(12, 10, &line[..cut]);
            assert!(partial == Ok(Status::Partial(0)) || cut == line.len() - 1);
        }
        // Nor a PING, PONG or +OK that never ends, whatever follows it.
        let ping = [&b"PING"[..], &[b'x'; 64]].concat();
        assert!(matches!(
            parse(16, 10, &ping),
            Err(ProtoError::MaxControlLine { max: 16, .. })
        ));
        assert_eq!(
            parse(16, 10, b"PINGxxxxxxxxxxxxxxxx\r\n"),
            Ok(Status::Complete((22, Op::Ping)))
        );
        // So nothing past the limits stays buffered: a partial line is at
        // most max_control_line plus the name and CR, a partial message
        // at most its line and max_payload plus CRLF.
        let max_control_line = 12;
        let stream = b"RMSG A b 4\r\nabcd\r\nRS+ A abcdefgh\r\n";
        for cut in 0..stream.len() {
            let mut at = 0;
            let buf = &stream[..cut];
            loop {
                match parse(max_control_line, 4, &buf[at..]) {
                    Ok(Status::Complete((n, _))) => at += n,
                    Ok(Status::Partial(_)) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(buf.len() - at <= "RMSG ".len() + max_control_line + 2 + 4 + 2);
        }
    }

    #[test]
    fn split_anywhere_parses_the_same() {
        let buf: &[u8] = b"RS+ $G foo\r\nRMSG $G foo + r q1 q2 3\r\nabc\r\nPING\r\nHMSG A h 2 4\r\n\r\nhi\r\nRS- $G foo q\r\nRMSG A x | q 0\r\n\r\nINFO {}\r\n";
        let (whole, end) = parse_all(buf);
        assert_eq!(end.unwrap(), buf.len());
        assert_eq!(whole.len(), 7);
        for cut in 0..buf.len() {
            let (first, end) = parse_all(&buf[..cut]);
            let at = end.unwrap();
            assert_eq!(first[..], whole[..first.len()]);
            let (second, end) = parse_all(&buf[at..]);
            assert_eq!(end.unwrap(), buf.len() - at);
            assert_eq!([first, second].concat(), whole);
        }
        // And the errors, wherever the bytes are cut.
        for bad in [&b"RMSG A foo x r q 1\r\n"[..], b"RS+ A\r\n", b"RX"] {
            let want = parse(MCL, MAX, bad).unwrap_err();
            for cut in 0..bad.len() {
                match parse(MCL, MAX, &bad[..cut]) {
                    Ok(Status::Partial(0)) => {}
                    Err(e) => assert_eq!(std::mem::discriminant(&e), std::mem::discriminant(&want)),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn encoders_write_what_nats_server_writes() {
        let mut out = Vec::new();
        encode::write_route_sub(&mut out, b"$G", b"foo.*", None, 1);
        encode::write_route_sub(&mut out, b"ACC", b"foo", Some(b"q"), 12);
        encode::write_route_unsub(&mut out, b"$G", b"foo.*", None);
        encode::write_route_unsub(&mut out, b"ACC", b"foo", Some(b"q"));
        assert_eq!(
            out,
            b"RS+ $G foo.*\r\nRS+ ACC foo q 12\r\nRS- $G foo.*\r\nRS- ACC foo q\r\n"
        );
        let line = |account: &[u8], m: &Pub<'_>, queues: &[&[u8]], peer_headers: bool| {
            let mut out = Vec::new();
            encode::write_route_msg_line(
                &mut out,
                account,
                m,
                queues.iter().copied(),
                peer_headers,
            );
            String::from_utf8(out).unwrap()
        };
        let plain = msg(b"foo", None, None, b"005", b"hello");
        let reply = msg(b"foo", Some(b"_INBOX.r"), None, b"5", b"hello");
        let hdrs = msg(
            b"foo",
            Some(b"r"),
            Some(b"012"),
            b"14",
            b"NATS/1.0\r\n\r\nhi",
        );
        let empty_hdrs = msg(b"foo", None, Some(b"0"), b"2", b"hi");
        assert_eq!(line(b"$G", &plain, &[], true), "RMSG $G foo 005\r\n");
        assert_eq!(line(b"$G", &reply, &[], true), "RMSG $G foo _INBOX.r 5\r\n");
        assert_eq!(
            line(b"A", &reply, &[b"q1", b"q2"], true),
            "RMSG A foo + _INBOX.r q1 q2 5\r\n"
        );
        assert_eq!(
            line(b"A", &plain, &[b"q1"], true),
            "RMSG A foo | q1 005\r\n"
        );
        assert_eq!(
            line(b"A", &hdrs, &[b"q"], true),
            "HMSG A foo + r q 012 14\r\n"
        );
        // To a peer without headers: the payload's size alone.
        assert_eq!(line(b"A", &hdrs, &[], false), "RMSG A foo r 2\r\n");
        // No header bytes: RMSG, the size as sent.
        assert_eq!(line(b"A", &empty_hdrs, &[], true), "RMSG A foo 2\r\n");
    }

    #[test]
    fn every_operation_reencodes_to_itself() {
        let buf: &[u8] = b"RS+ $G foo\r\nRS+ A bar q1 7\r\nRS- A bar q1\r\nRS- $G foo\r\nRMSG A foo + r q1 q2 3\r\nabc\r\nRMSG A foo | q 1\r\nx\r\nRMSG A foo r 1\r\nx\r\nHMSG A h + r q 2 4\r\n\r\nhi\r\nHMSG A h 0 2\r\nhi\r\n";
        let (ops, end) = parse_all(buf);
        assert_eq!(end.unwrap(), buf.len());
        for op in ops {
            let mut again = Vec::new();
            encode::write_op(&mut again, &op);
            let back = one(&again);
            match (&op, &back) {
                // An empty header block does not go on.
                (Op::RouteMsg { msg, .. }, Op::RouteMsg { msg: b, .. }) if msg.header_len == 0 => {
                    assert_eq!(b.header_len_token, None);
                    assert_eq!(msg.msg, b.msg);
                }
                _ => assert_eq!(back, op),
            }
        }
    }
}
