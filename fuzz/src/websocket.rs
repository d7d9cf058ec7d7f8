//! The WebSocket surfaces a client reaches before it authenticates: the
//! upgrade request and the frames after it (natsd's `net::websocket`).
//!
//! Input: a selector byte, then
//! - `0`: an HTTP request head for the upgrade;
//! - `1`: two option bits (masked, compression), a cap byte, then client
//!   frame bytes, split where the input's own bytes say.
//!
//! Invariants (beyond "never a panic"):
//! - an accepted upgrade answers `101` with the key's RFC 6455 accept value,
//!   and agrees permessage-deflate only when the server offers it;
//! - frames decode the same however the bytes are split: the same
//!   plaintext, the same compressed messages, the same stop;
//! - a compressed message never inflates past max_payload: more is an
//!   error, and compressed input past its cap is refused before it is kept;
//! - frames the server writes decode back to what it wrote.

use natsd::net::websocket::deflate::{self, InflateError, Inflating};
use natsd::net::websocket::frame::{self, Decoder, Stop};
use natsd::net::websocket::handshake::{self, Settings};
use natsd::options::WebsocketOptions;
use std::time::SystemTime;

pub fn check(data: &[u8]) {
    match data.split_first() {
        Some((0, head)) => check_upgrade(head),
        Some((1, rest)) => check_frames(rest),
        _ => {}
    }
}

fn check_upgrade(head: &[u8]) {
    for compression in [false, true] {
        let ws = WebsocketOptions {
            compression,
            same_origin: head.len() % 3 == 0,
            allowed_origins: vec!["http://example.com".into()],
            jwt_cookie: Some("jwt".into()),
            ..WebsocketOptions::default()
        };
        let settings = Settings::new(&ws);
        let Ok(accepted) = handshake::upgrade(head, &settings, SystemTime::UNIX_EPOCH) else {
            continue;
        };
        assert!(accepted
            .response
            .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(compression || !accepted.compression);
        let text = String::from_utf8(accepted.response).expect("the 101 is text");
        let key = header(head, "sec-websocket-key").expect("accepted with a key");
        let accept = format!("Sec-WebSocket-Accept: {}\r\n", handshake::accept_key(&key));
        assert!(text.contains(&accept), "{text}");
    }
}

/// The first value of header `name` (lower case), trimmed, as the checks
/// read it.
fn header(head: &[u8], name: &str) -> Option<String> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        let (k, v) = line.trim_end_matches('\r').split_once(':')?;
        k.eq_ignore_ascii_case(name)
            .then(|| v.trim_matches([' ', '\t']).to_string())
    })
}

/// What decoding a byte stream gave.
#[derive(Debug, PartialEq, Eq, Default)]
struct Outcome {
    plain: Vec<u8>,
    /// Each compressed message, as collected.
    messages: Vec<Vec<u8>>,
    control_out: Vec<u8>,
    stop: Option<Stop>,
}

fn decode(stream: &[u8], cuts: &[usize], masked: bool, compression: bool, cap: usize) -> Outcome {
    let mut decoder = Decoder::new(masked, compression);
    let mut out = Outcome::default();
    let mut compressed = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    bounds.push(stream.len());
    bounds.sort_unstable();
    let mut pending: Vec<u8> = Vec::new();
    for end in bounds {
        if end < at {
            continue;
        }
        // Bytes left over after a stop are fed again, as the session does.
        pending.extend_from_slice(&stream[at..end]);
        at = end;
        while !pending.is_empty() {
            let mut buf = std::mem::take(&mut pending);
            let got = decoder.decode(&mut buf, &mut compressed, cap, &mut out.control_out);
            assert!(got.plain <= got.consumed && got.consumed <= buf.len());
            out.plain.extend_from_slice(&buf[..got.plain]);
            match got.stop {
                None => {
                    assert_eq!(got.consumed, buf.len());
                    break;
                }
                Some(Stop::CompressedMessage) => {
                    assert!(compressed.len() <= cap);
                    out.messages.push(std::mem::take(&mut compressed));
                    pending = buf[got.consumed..].to_vec();
                }
                Some(other) => {
                    out.stop = Some(other);
                    return out;
                }
            }
        }
    }
    out
}

fn check_frames(data: &[u8]) {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let Some((&cap_byte, stream)) = rest.split_first() else {
        return;
    };
    let masked = options & 1 != 0;
    let compression = options & 2 != 0;
    let cap = 16 + usize::from(cap_byte) * 64;
    // Cut points from the stream's own bytes: split anywhere.
    let cuts: Vec<usize> = stream
        .iter()
        .enumerate()
        .filter(|(_, b)| **b % 7 == 0)
        .map(|(i, b)| i + usize::from(*b % 5))
        .collect();
    let whole = decode(stream, &[], masked, compression, cap);
    let split = decode(stream, &cuts, masked, compression, cap);
    assert_eq!(
        whole, split,
        "splitting the bytes changed what they decode to"
    );
    let bytewise: Vec<usize> = (1..stream.len().min(512)).collect();
    if stream.len() < 512 {
        assert_eq!(whole, decode(stream, &bytewise, masked, compression, cap));
    }
    // Every compressed message inflates within max_payload, or fails.
    let max_payload = cap / 2 + 1;
    for message in &whole.messages {
        inflate_within(message, max_payload);
    }
    // What the server writes decodes back (server frames are unmasked).
    let mut written = Vec::new();
    frame::write_frame(&mut written, frame::BINARY, &whole.plain);
    let back = decode(&written, &cuts, false, false, cap);
    assert_eq!(back.plain, whole.plain);
    assert_eq!(back.stop, None);
    let mut squeezed = Vec::new();
    deflate::deflate_message(&[&whole.plain], &mut squeezed);
    let mut input = squeezed;
    let mut inflating = Inflating::start();
    let mut out = Vec::new();
    let mut piece = vec![0; 1 + usize::from(cap_byte)];
    while let Some(n) = inflating
        .step(&mut input, &mut piece, whole.plain.len().max(1))
        .expect("our own deflate inflates within its length")
    {
        out.extend_from_slice(&piece[..n]);
    }
    inflating.finish();
    assert_eq!(out, whole.plain);
}

fn inflate_within(message: &[u8], max_payload: usize) {
    let mut input = message.to_vec();
    let mut inflating = Inflating::start();
    let mut total = 0;
    let mut piece = [0u8; 97];
    loop {
        match inflating.step(&mut input, &mut piece, max_payload) {
            Ok(Some(n)) => {
                total += n;
                assert!(total <= max_payload, "inflated past max_payload");
            }
            Ok(None) => break,
            Err(InflateError::TooLarge | InflateError::Corrupt) => break,
        }
    }
    inflating.finish();
}
