//! Every operation at every split point, every error, big and tiny payloads.

use super::*;

/// An operation with its borrowed parts rendered, so results of different
/// buffers compare.
fn render(op: &Op<'_>) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match op {
        Op::Connect(j) => format!("CONNECT {}", s(j)),
        Op::Info(j) => format!("INFO {}", s(j)),
        Op::Pub(p) => format!(
            "PUB subj={} reply={:?} hdr={:?}/{} size={} msg={}",
            s(p.subject),
            p.reply.map(s),
            p.header_len_token.map(s),
            p.header_len,
            s(p.size_token),
            s(p.msg)
        ),
        Op::Sub {
            subject,
            queue,
            sid,
        } => format!("SUB {} {:?} {}", s(subject), queue.map(s), s(sid)),
        Op::Unsub { sid, max } => format!("UNSUB {} {:?}", s(sid), max),
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
        Op::Ok => "+OK".into(),
        Op::Err(t) => format!("-ERR {}", s(t)),
        Op::ClientHmsg => "HMSG".into(),
        // The client parser never makes these (see `proto/leaf.rs` and
        // `proto/route.rs`).
        Op::LeafSub { .. } | Op::LeafUnsub { .. } | Op::LeafMsg { .. } => {
            unreachable!("a leaf operation from the client parser")
        }
        Op::RouteSub { .. } | Op::RouteUnsub { .. } | Op::RouteMsg { .. } => {
            unreachable!("a route operation from the client parser")
        }
    }
}

fn parser() -> Parser {
    let mut p = Parser::new(4096, 1024 * 1024);
    p.headers = true;
    p
}

/// Feed `chunks` the way a connection does: keep the unconsumed tail,
/// append, parse until Partial. Returns the ops and the error, if any.
fn feed(mut p: Parser, chunks: &[&[u8]]) -> (Vec<String>, Option<ProtoError>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            match p.parse(&buf[pos..]) {
                Ok(Status::Complete((n, op))) => {
                    assert!(n > 0 && pos + n <= buf.len());
                    ops.push(render(&op));
                    pos += n;
                }
                Ok(Status::Partial(n)) => {
                    assert!(pos + n <= buf.len());
                    pos += n;
                    break;
                }
                Err(e) => return (ops, Some(e)),
            }
        }
        buf.drain(..pos);
    }
    (ops, None)
}

fn whole(input: &[u8]) -> (Vec<String>, Option<ProtoError>) {
    feed(parser(), &[input])
}

/// The same ops and error for every two-way split and one byte at a time.
fn assert_split_invariant(input: &[u8]) -> (Vec<String>, Option<ProtoError>) {
    let expected = whole(input);
    for i in 0..=input.len() {
        let got = feed(parser(), &[&input[..i], &input[i..]]);
        assert_eq!(
            got.0,
            expected.0,
            "split at {i} of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            got.1.as_ref().map(|e| e.wire_text()),
            expected.1.as_ref().map(|e| e.wire_text())
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let got = feed(parser(), &bytes);
    assert_eq!(got.0, expected.0);
    assert_eq!(
        got.1.as_ref().map(|e| e.wire_text()),
        expected.1.as_ref().map(|e| e.wire_text())
    );
    expected
}

fn ops(input: &[u8]) -> Vec<String> {
    let (ops, err) = assert_split_invariant(input);
    assert!(
        err.is_none(),
        "{:?}: {err:?}",
        String::from_utf8_lossy(input)
    );
    ops
}

fn err(input: &[u8]) -> ProtoError {
    let (_, err) = assert_split_invariant(input);
    err.unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(input)))
}

#[test]
fn every_op_parses_at_every_split() {
    let input: &[u8] = b"CONNECT {\"verbose\":false}\r\n\
        PING\r\nPONG\r\n\
        SUB foo 1\r\nSUB foo.* q 2\r\n\
        PUB foo 5\r\nhello\r\n\
        PUB foo bar 0\r\n\r\n\
        HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
        HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n\
        UNSUB 1\r\nUNSUB 2 5\r\n\
        +OK\r\nINFO {}\r\n-ERR 'x'\r\n";
    assert_eq!(
        ops(input),
        vec![
            r#"CONNECT {"verbose":false}"#,
            "PING",
            "PONG",
            "SUB foo None 1",
            "SUB foo.* Some(\"q\") 2",
            "PUB subj=foo reply=None hdr=None/0 size=5 msg=hello",
            "PUB subj=foo reply=Some(\"bar\") hdr=None/0 size=0 msg=",
            "PUB subj=foo reply=None hdr=Some(\"12\")/12 size=14 msg=NATS/1.0\r\n\r\nhi",
            "PUB subj=foo reply=Some(\"r\") hdr=Some(\"12\")/12 size=12 msg=NATS/1.0\r\n\r\n",
            "UNSUB 1 None",
            "UNSUB 2 Some(5)",
            "+OK",
            "INFO {}",
            "-ERR 'x'",
        ]
    );
}

#[test]
fn names_are_case_insensitive_and_args_split_on_spaces_and_tabs() {
    assert_eq!(
        ops(b"ping\r\nPiNg\r\npub\tfoo\t\t2\r\nhi\r\nsub  foo   q  1 \r\nUnSuB 1\r\n"),
        vec![
            "PING",
            "PING",
            "PUB subj=foo reply=None hdr=None/0 size=2 msg=hi",
            "SUB foo Some(\"q\") 1",
            "UNSUB 1 None",
        ]
    );
}

#[test]
fn ping_pong_ok_ignore_the_rest_of_the_line() {
    assert_eq!(
        ops(b"PING foo\r\nPINGX\nPONG whatever\r\n+OKAY\r\n"),
        vec!["PING", "PING", "PONG", "+OK"]
    );
}

#[test]
fn bare_newline_ends_a_line() {
    assert_eq!(
        ops(b"SUB foo 1\nPUB foo 2\nhi\r\n"),
        vec![
            "SUB foo None 1",
            "PUB subj=foo reply=None hdr=None/0 size=2 msg=hi"
        ]
    );
}

#[test]
fn connect_needs_no_space_and_keeps_its_raw_argument() {
    assert_eq!(ops(b"CONNECT{}\r\n"), vec!["CONNECT {}"]);
    // The CR that starts the argument is part of it, as in nats-server.
    assert_eq!(ops(b"CONNECT\r\n"), vec!["CONNECT \r"]);
}

#[test]
fn size_tokens_are_kept_verbatim() {
    assert_eq!(
        ops(b"PUB foo 002\r\nhi\r\n"),
        vec!["PUB subj=foo reply=None hdr=None/0 size=002 msg=hi"]
    );
}

#[test]
fn unknown_operations() {
    for bad in [
        &b"FOO\r\n"[..],
        b"PUBX foo 1\r\n",
        b"PUB\r\n",
        b"P\r\n",
        b"\r\n",
        b" PING\r\n",
        b"MSG foo 1 2\r\n",
        b"SUBSCRIBE foo 1\r\n",
        b"\x00\xff\x01\r\n",
        b"PUB foo 2\r\nhello\r\n",
        b"PUB foo 2\r\nhi\n",
        b"PUB foo 2\r\nhiX\r\n",
    ] {
        assert!(
            matches!(err(bad), ProtoError::UnknownOp { .. }),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn bad_arguments_close_silently() {
    for bad in [
        &b"PUB \r\n"[..],
        b"PUB foo\r\n",
        b"PUB a b c d\r\n",
        b"PUB foo abc\r\n",
        b"PUB foo -1\r\n",
        b"PUB foo 1234567890\r\n",
        b"SUB foo\r\n",
        b"SUB a b c d\r\n",
        b"UNSUB\t\r\n",
        b"UNSUB 1 2 3\r\n",
        b"HPUB foo 10\r\n",
        b"HPUB foo 10 5\r\n",
        b"HPUB foo x 5\r\n",
    ] {
        let e = err(bad);
        assert!(
            matches!(e, ProtoError::BadArgs { .. }),
            "{:?}: {e:?}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(e.wire_text(), None);
    }
}

#[test]
fn unsub_with_a_bad_max_means_now() {
    assert_eq!(ops(b"UNSUB 1 x\r\n"), vec!["UNSUB 1 None"]);
}

#[test]
fn hpub_needs_headers_from_connect() {
    let mut p = parser();
    p.headers = false;
    let (_, e) = feed(p, &[b"HPUB foo 2 2\r\n\r\n\r\n"]);
    assert_eq!(e, Some(ProtoError::HeadersNotSupported));
}

#[test]
fn max_payload_is_checked_on_the_control_line() {
    let mut p = parser();
    p.max_payload = 10;
    let (_, e) = feed(p.clone(), &[b"PUB foo 11\r\n"]);
    assert_eq!(e, Some(ProtoError::MaxPayload { size: 11, max: 10 }));
    let (ops, e) = feed(p, &[b"PUB foo 10\r\n0123456789\r\n"]);
    assert_eq!((ops.len(), e), (1, None));
    let e = err(b"PUB foo 1048577\r\n");
    assert_eq!(e.wire_text(), Some("Maximum Payload Violation"));
}

#[test]
fn max_control_line_counts_the_arguments_only() {
    let mut p = parser();
    p.max_control_line = 8;
    let (ops, e) = feed(p.clone(), &[b"SUB 12345 1\r\n"]);
    assert_eq!((ops.len(), e), (1, None), "7 bytes of arguments");
    let (_, e) = feed(p.clone(), &[b"SUB 123456 123\r\n"]);
    assert!(matches!(e, Some(ProtoError::MaxControlLine { .. })));
    // Without a newline yet: refused as soon as the line is too long.
    let (_, e) = feed(p.clone(), &[b"SUB 1234", b"56789"]);
    assert!(matches!(e, Some(ProtoError::MaxControlLine { .. })));
    // PING ignores its line whatever its length, and keeps nothing.
    let (ops, e) = feed(p, &[b"PING ", &[b'x'; 100], b"\r\n"]);
    assert_eq!((ops, e), (vec!["PING".to_string()], None));
    assert_eq!(
        err(&[b"CONNECT ".as_slice(), &[b'x'; 5000], b"\r\n"].concat()),
        ProtoError::MaxControlLine {
            len: 5000,
            max: 4096
        }
    );
}

/// Found by the parser fuzz target: a CR inside the line made an
/// unfinished line measure one byte longer than the finished one would, so
/// a split read refused a line the whole read accepted.
#[test]
fn an_unfinished_line_is_measured_as_the_finished_one_will_be() {
    let mut p = parser();
    p.max_control_line = 16;
    let input: &[u8] = b"SUB foo.* w\x01\0\0\0\0\0\x04\x01\r\xd6\n";
    let whole = feed(p.clone(), &[input]);
    assert_eq!((whole.0.len(), &whole.1), (1, &None));
    for i in 0..=input.len() {
        assert_eq!(feed(p.clone(), &[&input[..i], &input[i..]]).0, whole.0);
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed(p, &bytes).0, whole.0);
}

#[test]
fn awaiting_connect_refuses_anything_else() {
    let mut p = parser();
    p.awaiting_connect = true;
    let (_, e) = feed(p.clone(), &[b"PING\r\n"]);
    assert_eq!(e, Some(ProtoError::AuthorizationViolation));
    let (_, e) = feed(p.clone(), &[b"XYZ\r\n"]);
    assert_eq!(e, Some(ProtoError::AuthorizationViolation));
    let (ops, e) = feed(p, &[b"connect {}\r\n"]);
    assert_eq!((ops.len(), e), (1, None));
}

#[test]
fn carriage_return_inside_arguments_drops_the_last_byte() {
    // nats-server drops one trailing byte once it has seen a CR.
    assert_eq!(ops(b"SUB foo\r1\r\n"), vec!["SUB foo None 1"]);
    assert_eq!(ops(b"SUB foo 12\r3\n"), vec!["SUB foo None 12"]);
}

#[test]
fn client_hmsg_is_an_empty_message() {
    assert_eq!(ops(b"HMSG foo 1 2 3\r\n\r\nPING\r\n"), vec!["HMSG", "PING"]);
}

#[test]
fn large_and_empty_payloads() {
    let payload = vec![b'x'; 1024 * 1024];
    let mut input = b"PUB big 1048576\r\n".to_vec();
    input.extend_from_slice(&payload);
    input.extend_from_slice(b"\r\nPUB e 0\r\n\r\n");
    let (ops, e) = feed(parser(), &input.chunks(7919).collect::<Vec<_>>());
    assert_eq!(e, None);
    assert_eq!(ops.len(), 2);
    assert!(ops[0].ends_with(&"x".repeat(100)));
}

#[test]
fn payload_may_contain_protocol_bytes() {
    assert_eq!(
        ops(b"PUB foo 6\r\nPING\r\n\r\n"),
        vec!["PUB subj=foo reply=None hdr=None/0 size=6 msg=PING\r\n"]
    );
}

#[test]
fn partial_consumes_names_but_keeps_arguments() {
    let mut p = parser();
    assert_eq!(p.parse(b"PUB fo").unwrap(), Status::Partial(4));
    assert_eq!(p.parse(b"fo").unwrap(), Status::Partial(0));
    assert!(!p.at_op_boundary());
}

#[test]
fn sizes() {
    assert_eq!(parse_size(b"0"), Some(0));
    assert_eq!(parse_size(b"999999999"), Some(999_999_999));
    assert_eq!(parse_size(b"1000000000"), None);
    assert_eq!(parse_size(b""), None);
    assert_eq!(parse_size(b"1a"), None);
    assert_eq!(parse_size(b"+1"), None);
}
