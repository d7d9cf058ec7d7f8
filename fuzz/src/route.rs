//! The route protocol's parser (`proto/route.rs`): what another server of
//! the cluster sends on a route.
//!
//! Invariants:
//! - the bytes parse to the same operations and the same error whole,
//!   split at fuzzer-chosen points, and a byte at a time (as `parser`);
//! - every operation found re-encodes (`encode::write_op`: `RS+`, `RS-`,
//!   `RMSG`/`HMSG` with their accounts and queue lists) to bytes that
//!   parse back to it;
//! - the queue names of a message are what its line holds between the
//!   reply (or `|`) and the sizes, none empty, none with a space; the
//!   account, subject and reply are single arguments;
//! - nothing is read past `max_payload` or a control line past
//!   `max_control_line` (the parser errs before buffering more).

use natsd::proto::{encode, Op, Parser, Status};

use super::input::Input;
use super::parser::{check_splits, Config};

pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mut config = Config::from(&mut input);
    config.route = true;
    // The stream the splits are of: what follows the split points.
    let stream = {
        let mut peek = input.clone();
        let splits = peek.below(8);
        for _ in 0..splits {
            peek.u16();
        }
        peek.rest()
    };
    let (max_control_line, max_payload) = (config.max_control_line, config.max_payload);
    check_splits(config, input);

    let mut parser = Parser::new(max_control_line, max_payload);
    parser.route = true;
    let mut pos = 0;
    while let Ok(Status::Complete((n, op))) = parser.parse(&stream[pos..]) {
        assert!(n > 0 && n <= stream.len() - pos);
        pos += n;
        match &op {
            Op::RouteMsg {
                account,
                msg,
                queues,
            } => {
                assert!(msg.msg.len() <= max_payload, "payload beyond max_payload");
                assert!(msg.header_len <= msg.msg.len());
                for word in [*account, msg.subject].into_iter().chain(msg.reply) {
                    assert!(is_word(word), "{word:?}");
                }
                for name in natsd::proto::route::queue_names(queues) {
                    assert!(is_word(name), "{name:?}");
                }
                if !queues.is_empty() {
                    assert!(is_word(&queues[..1]) && is_word(&queues[queues.len() - 1..]));
                }
            }
            Op::RouteSub {
                account,
                subject,
                queue,
                weight,
            } => {
                assert!(*weight >= 1);
                for word in [*account, *subject].into_iter().chain(*queue) {
                    assert!(is_word(word), "{word:?}");
                }
            }
            Op::RouteUnsub {
                account,
                subject,
                queue,
            } => {
                for word in [*account, *subject].into_iter().chain(*queue) {
                    assert!(is_word(word), "{word:?}");
                }
            }
            Op::Info(_) | Op::Connect(_) | Op::Err(_) | Op::Ping | Op::Pong | Op::Ok => {}
            other => panic!("not a route operation: {other:?}"),
        }
        let mut again = Vec::new();
        encode::write_op(&mut again, &op);
        let mut reparser = Parser::new(1 << 16, 1 << 20);
        reparser.route = true;
        match reparser.parse(&again) {
            Ok(Status::Complete((m, back))) => {
                assert_eq!(m, again.len(), "{again:?}");
                assert_eq!(normal(&back), normal(&op), "{again:?}");
            }
            other => panic!("{again:?} does not parse back: {other:?}"),
        }
    }
    // What is left unparsed is bounded: a line no longer than its limit,
    // or a message waiting for a payload within max_payload.
    let rest = &stream[pos..];
    if let Ok(Status::Partial(_)) = parser.parse(rest) {
        let line = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |nl| nl + 1);
        // The longest name (CONNECT), the arguments, CRLF.
        assert!(line <= 7 + max_control_line + 2, "{} buffered", rest.len());
        assert!(
            rest.len() <= line + max_payload + 1,
            "{} buffered",
            rest.len()
        );
    }
}

/// One argument: not empty, no separator in it.
fn is_word(word: &[u8]) -> bool {
    !word.is_empty()
        && !word
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// An operation with what re-encoding may change normalised: spacing and
/// the case of the name do not survive, a weight is written as parsed,
/// and an empty header block is dropped.
fn normal(op: &Op<'_>) -> String {
    match op {
        Op::Err(text) => format!("-ERR {}", String::from_utf8_lossy(text).trim()),
        Op::Info(text) => format!("INFO {}", String::from_utf8_lossy(text).trim()),
        Op::Connect(text) => format!("CONNECT {}", String::from_utf8_lossy(text).trim()),
        Op::RouteMsg {
            account,
            msg,
            queues,
        } => {
            let names: Vec<&[u8]> = natsd::proto::route::queue_names(queues).collect();
            // An HMSG with no header bytes goes on as RMSG, as in
            // nats-server (`hasHeader := c.pa.hdr > 0`).
            let mut msg = msg.clone();
            if msg.header_len == 0 {
                msg.header_len_token = None;
            }
            format!("{account:?} {msg:?} {names:?}")
        }
        other => format!("{other:?}"),
    }
}
