//! permessage-deflate without context takeover, as nats-server negotiates
//! it: each message is inflated by a fresh inflater and deflated by a reset
//! compressor. Inflation is bounded while it runs (nats-server's fixes for
//! its 2026 advisories): at most `max_payload` bytes come out of one
//! message, however small it was compressed.
//!
//! The inflater state (about 43 KiB) is taken from a per-thread pool when a
//! compressed message starts and given back when it ends; the compressor
//! (about 300 KiB) is one per reactor thread, as every message is deflated
//! whole in one call.

use std::cell::RefCell;

use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// What RFC 7692 has the receiver append to a message (the end of a sync
/// flush), then an empty final stored block, as nats-server adds it, so
/// that the stream ends cleanly.
const TRAILER: [u8; 9] = [0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff];
pub const TRAILER_LEN: usize = TRAILER.len();

/// nats-server's `wsMaxMessageSize`: compressed input of one message may
/// be at most eight times the max payload, and never more than 64 MiB.
pub fn compressed_cap(max_payload: usize) -> usize {
    (max_payload.max(1) * 8).min(64 * 1024 * 1024)
}

/// Inflaters kept for the next compressed message (a few per thread).
const POOL_KEEP: usize = 4;

thread_local! {
    static INFLATERS: RefCell<Vec<Box<InflateState>>> = const { RefCell::new(Vec::new()) };
    static COMPRESSOR: RefCell<Option<Box<CompressorOxide>>> = const { RefCell::new(None) };
}

/// One compressed message being inflated into the parser's buffer, a
/// piece per read.
pub struct Inflating {
    state: Box<InflateState>,
    /// Input consumed so far.
    at: usize,
    /// Output produced so far, against `max_payload`.
    produced: usize,
    trailer_added: bool,
}

/// Why inflation failed (both close as a read error).
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// More than `max_payload` would come out (Go's `ErrMaxPayload`).
    TooLarge,
    /// Not deflate data.
    Corrupt,
}

impl InflateError {
    /// nats-server's text after `read error: `.
    pub fn text(&self) -> &'static str {
        match self {
            InflateError::TooLarge => "maximum payload exceeded",
            InflateError::Corrupt => "flate: corrupt input",
        }
    }
}

impl Inflating {
    pub fn start() -> Inflating {
        let state = INFLATERS
            .with(|pool| pool.borrow_mut().pop())
            .unwrap_or_else(|| InflateState::new_boxed(DataFormat::Raw));
        Inflating {
            state,
            at: 0,
            produced: 0,
            trailer_added: false,
        }
    }

    /// Inflate more of `input` (the message, with the trailer appended on
    /// the first call) into `out`. `Ok(None)`: the message is done.
    pub fn step(
        &mut self,
        input: &mut Vec<u8>,
        out: &mut [u8],
        max_payload: usize,
    ) -> Result<Option<usize>, InflateError> {
        if !self.trailer_added {
            input.extend_from_slice(&TRAILER);
            self.trailer_added = true;
        }
        // One byte past the cap is asked for, so a message that would
        // exceed it is told from one that ends right at it.
        let room = (max_payload + 1 - self.produced).min(out.len());
        let result = miniz_oxide::inflate::stream::inflate(
            &mut self.state,
            &input[self.at..],
            &mut out[..room],
            MZFlush::None,
        );
        self.at += result.bytes_consumed;
        self.produced += result.bytes_written;
        if self.produced > max_payload {
            return Err(InflateError::TooLarge);
        }
        match result.status {
            Ok(MZStatus::StreamEnd) => Ok(if result.bytes_written > 0 {
                Some(result.bytes_written)
            } else {
                None
            }),
            Ok(_) if result.bytes_written > 0 => Ok(Some(result.bytes_written)),
            // No output and no end: the input ran out (a message cut short
            // of its end block) or could not make progress.
            Ok(_) | Err(MZError::Buf) if self.at >= input.len() => Err(InflateError::Corrupt),
            // Input left but none taken: it cannot go on.
            Ok(_) if result.bytes_consumed == 0 => Err(InflateError::Corrupt),
            Ok(_) => Ok(Some(0)),
            Err(_) => Err(InflateError::Corrupt),
        }
    }

    /// Give the inflater back for the next message.
    pub fn finish(mut self) {
        self.state.reset(DataFormat::Raw);
        INFLATERS.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_KEEP {
                pool.push(self.state);
            }
        });
    }
}

/// Deflate `parts` as one message, appending to `out` what goes in the
/// frame: raw deflate at Go's BestSpeed, sync-flushed, without the
/// trailing `00 00 ff ff` (RFC 7692 7.2.1).
pub fn deflate_message(parts: &[&[u8]], out: &mut Vec<u8>) {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = cell.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                1, -15, 0,
            )))
        });
        compressor.reset();
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            let flush = if i == last {
                MZFlush::Sync
            } else {
                MZFlush::None
            };
            let mut input = *part;
            loop {
                // Room for the input stored, if it does not compress.
                let start = out.len();
                let room = input.len() + input.len() / 16 + 64;
                out.resize(start + room, 0);
                let result = miniz_oxide::deflate::stream::deflate(
                    compressor,
                    input,
                    &mut out[start..],
                    flush,
                );
                out.truncate(start + result.bytes_written);
                input = &input[result.bytes_consumed..];
                // Done when the input is in and the output did not fill
                // its room (a full buffer may have more to give).
                let room_left = result.bytes_written < room;
                if result.status.is_err() || (input.is_empty() && room_left) {
                    break;
                }
            }
        }
    });
    if out.ends_with(&[0x00, 0x00, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(
        compressed: &[u8],
        max_payload: usize,
        piece: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut input = compressed.to_vec();
        let mut inflating = Inflating::start();
        let mut out = Vec::new();
        let mut buf = vec![0; piece];
        while let Some(n) = inflating.step(&mut input, &mut buf, max_payload)? {
            out.extend_from_slice(&buf[..n]);
        }
        inflating.finish();
        Ok(out)
    }

    #[test]
    fn round_trips_in_pieces() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut compressed = Vec::new();
        deflate_message(&[&text[..1000], &text[1000..]], &mut compressed);
        for piece in [1, 7, 4096, 1 << 20] {
            assert_eq!(inflate_all(&compressed, 1 << 20, piece).unwrap(), text);
        }
    }

    #[test]
    fn a_bomb_stops_at_max_payload() {
        let zeros = vec![0u8; 4 << 20];
        let mut compressed = Vec::new();
        deflate_message(&[&zeros], &mut compressed);
        assert!(compressed.len() < 40_000);
        assert_eq!(
            inflate_all(&compressed, 1 << 20, 32 * 1024),
            Err(InflateError::TooLarge)
        );
        // Exactly at the cap is fine.
        let mut exact = Vec::new();
        deflate_message(&[&zeros[..1 << 20]], &mut exact);
        assert_eq!(
            inflate_all(&exact, 1 << 20, 32 * 1024).unwrap().len(),
            1 << 20
        );
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        assert_eq!(
            inflate_all(&[0xff; 64], 1024, 16),
            Err(InflateError::Corrupt)
        );
        // The trailer alone is not deflate data either (Go's flate reader
        // says "corrupt input" too); an error, not a panic.
        assert_eq!(inflate_all(&[], 1024, 16), Err(InflateError::Corrupt));
    }

    #[test]
    fn caps_are_go_s() {
        assert_eq!(compressed_cap(1 << 20), 8 << 20);
        assert_eq!(compressed_cap(64 << 20), 64 << 20);
    }
}
