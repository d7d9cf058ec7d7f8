//! The parser fed the same bytes whole, split at fuzzer-chosen points, and
//! one byte at a time.
//!
//! Invariants: the three give the same operations and the same error; no
//! call reports more bytes consumed than it was given; and no `Partial`
//! leaves a complete operation unparsed (the whole input always ends in
//! the same place).

use natsd::proto::error::ProtoError;
use natsd::proto::{Parser, Status};

use super::input::Input;

/// What a parse produced, comparable across splits. An error's snippet
/// shows whatever was buffered, which depends on the split, so only its
/// kind is kept.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub ops: Vec<String>,
    pub error: Option<String>,
}

pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let config = Config::from(&mut input);
    check_splits(config, input);
}

/// The same operations and error whole, split, and a byte at a time.
pub fn check_splits(config: Config, mut input: Input<'_>) {
    let split_count = input.below(8);
    let splits: Vec<u16> = (0..split_count).map(|_| input.u16()).collect();
    let stream = input.rest();

    let whole = feed(&config, [stream]);
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| s as usize % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for cut in cuts {
        pieces.push(&stream[at..cut]);
        at = cut;
    }
    pieces.push(&stream[at..]);
    assert_eq!(feed(&config, pieces), whole, "split differs from whole");
    if stream.len() <= 4096 {
        assert_eq!(
            feed(&config, stream.chunks(1)),
            whole,
            "byte at a time differs from whole"
        );
    }
}

/// Parser settings, chosen by the fuzzer so that limits are reachable.
pub struct Config {
    pub max_control_line: usize,
    pub max_payload: usize,
    pub headers: bool,
    pub awaiting_connect: bool,
    /// The leaf node protocol's parser (`leaf` target).
    pub leaf: bool,
    /// The route protocol's parser (`route` target).
    pub route: bool,
}

impl Config {
    pub fn from(input: &mut Input) -> Config {
        let b = input.byte();
        Config {
            max_control_line: [4096, 16, 64][b as usize % 3],
            max_payload: [1 << 20, 0, 8][(b as usize / 3) % 3],
            headers: b & 0x10 != 0,
            awaiting_connect: b & 0x20 != 0,
            leaf: false,
            route: false,
        }
    }

    pub fn parser(&self) -> Parser {
        let mut p = Parser::new(self.max_control_line, self.max_payload);
        p.headers = self.headers;
        p.awaiting_connect = self.awaiting_connect;
        p.leaf = self.leaf;
        p.route = self.route;
        p
    }
}

/// Feed `chunks` in order, as a connection's reads would arrive, keeping
/// the unconsumed tail as the server's read buffer does.
pub fn feed<'a>(config: &Config, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = config.parser();
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match parser.parse(rest) {
                Ok(Status::Complete((n, op))) => {
                    assert!(n > 0 && n <= rest.len(), "consumed {n} of {}", rest.len());
                    ops.push(format!("{op:?}"));
                    pos += n;
                }
                Ok(Status::Partial(n)) => {
                    assert!(n <= rest.len(), "consumed {n} of {}", rest.len());
                    pos += n;
                    break;
                }
                Err(e) => {
                    return Outcome {
                        ops,
                        error: Some(kind(&e)),
                    }
                }
            }
        }
        buf.drain(..pos);
    }
    Outcome { ops, error: None }
}

fn kind(e: &ProtoError) -> String {
    match e {
        ProtoError::UnknownOp { .. } => "unknown operation".into(),
        ProtoError::BadArgs { op, why, .. } => format!("{op}: {why}"),
        // The length is of what was buffered when the limit was crossed.
        ProtoError::MaxControlLine { max, .. } => format!("control line over {max}"),
        other => other.to_string(),
    }
}
