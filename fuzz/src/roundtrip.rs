//! natsd's encoders against its parser.
//!
//! Invariants:
//! - an operation built from fuzzer choices, encoded by
//!   [`encode::write_op`], parses back to the same operation, using every
//!   byte;
//! - any operation the parser finds in raw fuzzer bytes, encoded again,
//!   parses back to itself;
//! - a delivery encoded by [`encode::write_msg`] says what was published:
//!   subject, sid, reply, sizes that agree with the body, and headers kept
//!   or stripped by what the receiver declared.

use natsd::proto::{encode, Op, Parser, Pub, Status};

use super::input::Input;

pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let built = build(&mut input);
    let mut bytes = Vec::new();
    encode::write_op(&mut bytes, &built.op());
    assert_eq!(parse_one(&bytes).as_ref(), Some(&built.op()), "{bytes:?}");

    if let Op::Pub(msg) = built.op() {
        check_delivery(&msg, b"sid-1", true);
        check_delivery(&msg, b"9", false);
    }

    // Whatever the rest of the input parses to re-encodes to itself.
    let raw = input.rest();
    let mut parser = lenient_parser();
    let mut pos = 0;
    while let Ok(Status::Complete((n, op))) = parser.parse(&raw[pos..]) {
        pos += n;
        let mut again = Vec::new();
        encode::write_op(&mut again, &op);
        assert_eq!(parse_one(&again).as_ref(), Some(&op), "{again:?}");
    }
}

fn lenient_parser() -> Parser {
    let mut p = Parser::new(1 << 16, 1 << 20);
    p.headers = true;
    p
}

/// The single operation `bytes` hold, if they hold exactly one.
fn parse_one(bytes: &[u8]) -> Option<Op<'_>> {
    match lenient_parser().parse(bytes) {
        Ok(Status::Complete((n, op))) if n == bytes.len() => Some(op),
        _ => None,
    }
}

/// An operation's parts, owned, so that an `Op` can borrow them.
struct Built {
    kind: u8,
    words: Vec<Vec<u8>>,
    optional: Option<Vec<u8>>,
    max: Option<u64>,
    headers: Option<Vec<u8>>,
    /// Headers then payload.
    msg: Vec<u8>,
    /// Free text for CONNECT, INFO and -ERR: the words joined by spaces.
    text: Vec<u8>,
    size_token: Vec<u8>,
    header_token: Vec<u8>,
}

fn build(input: &mut Input) -> Built {
    let kind = input.below(10) as u8;
    let words: Vec<Vec<u8>> = (0..3).map(|_| word(input)).collect();
    let optional = input.bool().then(|| word(input));
    let max = input
        .bool()
        .then(|| input.u16() as u64 * input.byte() as u64);
    let headers = input.bool().then(|| {
        let mut h = b"NATS/1.0\r\n".to_vec();
        let n = input.below(64);
        h.extend_from_slice(input.take(n));
        h.extend_from_slice(b"\r\n\r\n");
        h
    });
    let n = input.below(64);
    let payload = input.take(n).to_vec();
    let mut msg = headers.clone().unwrap_or_default();
    msg.extend_from_slice(&payload);
    Built {
        kind,
        text: words.join(&b' '),
        words,
        optional,
        max,
        size_token: msg.len().to_string().into_bytes(),
        msg,
        header_token: headers
            .as_ref()
            .map_or(0, Vec::len)
            .to_string()
            .into_bytes(),
        headers,
    }
}

/// An argument: 1 to 16 bytes, none of them a separator or line end.
fn word(input: &mut Input) -> Vec<u8> {
    let n = 1 + input.below(16);
    (0..n)
        .map(|_| match input.byte() {
            b' ' | b'\t' | b'\r' | b'\n' => b'x',
            b => b,
        })
        .collect()
}

impl Built {
    fn op(&self) -> Op<'_> {
        let [a, b, c] = [&self.words[0], &self.words[1], &self.words[2]];
        match self.kind {
            0 => Op::Connect(&self.text),
            1 => Op::Info(&self.text),
            2 => Op::Err(&self.text),
            3 => Op::Ping,
            4 => Op::Pong,
            5 => Op::Ok,
            6 => Op::Sub {
                subject: a,
                queue: self.optional.as_deref(),
                sid: b,
            },
            7 => Op::Unsub {
                sid: c,
                max: self.max,
            },
            _ => Op::Pub(Pub {
                subject: a,
                reply: self.optional.as_deref(),
                header_len_token: self.headers.as_ref().map(|_| &self.header_token[..]),
                size_token: &self.size_token,
                header_len: self.headers.as_ref().map_or(0, Vec::len),
                msg: &self.msg,
            }),
        }
    }
}

/// Decode what `write_msg` wrote and compare it with what was published.
fn check_delivery(msg: &Pub<'_>, sid: &[u8], receiver_headers: bool) {
    let mut out = Vec::new();
    encode::write_msg(&mut out, msg, sid, receiver_headers);
    let line_end = out.windows(2).position(|w| w == b"\r\n").expect("a line");
    let line = &out[..line_end];
    let body = &out[line_end + 2..out.len() - 2];
    assert!(out.ends_with(b"\r\n"));
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let with_headers = msg.has_headers() && receiver_headers;
    let (name, rest) = words.split_first().expect("an operation name");
    assert_eq!(*name, if with_headers { &b"HMSG"[..] } else { b"MSG" });
    let sizes = if with_headers { 2 } else { 1 };
    let (args, size_words) = rest.split_at(rest.len() - sizes);
    let reply = match args {
        [subject, s] => {
            assert_eq!((*subject, *s), (msg.subject, sid));
            None
        }
        [subject, s, reply] => {
            assert_eq!((*subject, *s), (msg.subject, sid));
            Some(*reply)
        }
        _ => panic!("bad MSG line {line:?}"),
    };
    assert_eq!(reply, msg.reply);
    let number = |w: &[u8]| -> usize { std::str::from_utf8(w).unwrap().parse().unwrap() };
    assert_eq!(number(size_words[sizes - 1]), body.len());
    if with_headers {
        assert_eq!(number(size_words[0]), msg.header_len);
        assert_eq!(body, msg.msg);
    } else {
        assert_eq!(body, msg.payload());
    }
}
