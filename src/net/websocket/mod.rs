//! WebSocket clients, as nats-server serves them (`websocket.go`): the
//! HTTP upgrade ([`handshake`]), RFC 6455 frames ([`frame`]) and
//! permessage-deflate ([`deflate`]). After the upgrade a connection's
//! transport is a [`WsSession`] over plain TCP or TLS: the core reads and
//! writes NATS protocol through it and never sees a frame.
//!
//! What nats-server's 2026 advisories taught is bounded here before any
//! authentication: a 64-bit length with its top bit set is a protocol error
//! (1002), compressed input per message is capped at min(8 x max_payload,
//! 64 MiB) and inflated output at max_payload, and the upgrade request at
//! [`MAX_REQUEST_HEAD`] bytes and [`DEFAULT_HANDSHAKE_TIMEOUT`] (when the
//! configuration sets no `handshake_timeout`; nats-server then has none).

pub mod client;
pub mod deflate;
pub mod frame;
pub mod handshake;

use std::io::{self, IoSlice, Read, Write};
use std::time::Duration;

use self::deflate::{InflateError, Inflating};
use self::frame::{Decoder, Stop};
use super::transport::Transport;
use crate::core::closed::CloseReason;
use crate::core::TransportError;

/// The longest upgrade request head natsd reads (nats-server: 1 MiB +
/// 4 KiB, from Go's `MaxHeaderBytes`). Real ones, JWT cookies included,
/// stay under 16 KiB; the head is read into a buffer that grows to this at
/// most.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// How long the upgrade may take when `handshake_timeout` is not set.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Payload bytes in one frame to a browser (nats-server's
/// `wsFrameSizeForBrowsers`).
const BROWSER_FRAME: usize = 4096;
/// Output this short goes uncompressed (nats-server's `wsCompressThreshold`).
const COMPRESS_THRESHOLD: usize = 64;
/// Frames built per write for a browser.
const BROWSER_FRAMES_PER_WRITE: usize = 16;
/// Slices in one vectored write: headers and payload pieces.
const MAX_SLICES: usize = 2 * BROWSER_FRAMES_PER_WRITE;

/// What the upgrade agreed, for the session.
pub struct Agreed {
    pub compression: bool,
    pub masked: bool,
    pub browser: bool,
    pub fragment_compressed: bool,
    pub max_payload: usize,
}

/// A WebSocket connection after its upgrade.
pub struct WsSession {
    pub inner: Transport,
    decoder: Decoder,
    compression: bool,
    browser: bool,
    /// Compressed messages to a browser go in 4 KiB fragments (not Safari).
    fragment_compressed: bool,
    max_payload: usize,
    /// Frame bytes the socket has not taken yet: control frames, the rest
    /// of a frame written in part. Empty (and unallocated) when idle.
    held: Vec<u8>,
    held_at: usize,
    /// Bytes read past the end of a compressed message, decoded after it.
    leftover: Vec<u8>,
    /// The compressed message being received.
    compressed: Vec<u8>,
    inflating: Option<Inflating>,
    /// A stop met after plaintext that was handed out first.
    pending_stop: Option<Stop>,
    /// The peer's close frame was answered, or the end of the stream seen.
    ended: bool,
    /// A close frame is queued or sent: no other goes out.
    close_sent: bool,
    /// The close frame, held until the output before it is written (as
    /// nats-server sends it last).
    pending_close: Option<Vec<u8>>,
    /// After a framing error nothing but the close frame goes out.
    discard_output: bool,
    /// The last read from the socket filled the buffer: more may wait
    /// there although less plaintext came out (headers are stripped).
    last_read_full: bool,
}

impl WsSession {
    pub fn new(inner: Transport, agreed: Agreed) -> WsSession {
        WsSession {
            inner,
            decoder: Decoder::new(agreed.masked, agreed.compression),
            compression: agreed.compression,
            browser: agreed.browser,
            fragment_compressed: agreed.fragment_compressed,
            max_payload: agreed.max_payload,
            held: Vec::new(),
            held_at: 0,
            leftover: Vec::new(),
            compressed: Vec::new(),
            inflating: None,
            pending_stop: None,
            ended: false,
            close_sent: false,
            pending_close: None,
            discard_output: false,
            last_read_full: false,
        }
    }

    /// Bytes that came before the session started (after the head of an
    /// upgrade response), decoded first.
    pub fn with_input(mut self, bytes: Vec<u8>) -> WsSession {
        self.leftover = bytes;
        self
    }

    pub fn wants_write(&self) -> bool {
        self.held_at < self.held.len() || self.inner.wants_write()
    }

    pub fn has_buffered_input(&self) -> bool {
        self.inflating.is_some()
            || self.last_read_full
            || !self.leftover.is_empty()
            || self.pending_stop.is_some()
            || self.inner.has_buffered_input()
    }

    /// Plaintext for the core: frames decoded in place in `buf`, or a
    /// compressed message inflated into it, a piece per call. Never
    /// `Ok(0)` but at the end (a close frame, or the end of the stream).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(stop) = self.pending_stop.take() {
                return self.stopped(stop);
            }
            if self.ended {
                return Ok(0);
            }
            if let Some(inflating) = self.inflating.as_mut() {
                match inflating.step(&mut self.compressed, buf, self.max_payload) {
                    Ok(Some(0)) => continue,
                    Ok(Some(n)) => return Ok(n),
                    Ok(None) => {
                        self.end_compressed_message();
                        continue;
                    }
                    Err(e) => {
                        self.end_compressed_message();
                        return Err(read_error(e.text()));
                    }
                }
            }
            let n = if self.leftover.is_empty() {
                self.last_read_full = false;
                match self.inner.read(buf)? {
                    0 => {
                        self.ended = true;
                        return Ok(0);
                    }
                    n => {
                        self.last_read_full = n == buf.len();
                        n
                    }
                }
            } else {
                let n = self.leftover.len().min(buf.len());
                buf[..n].copy_from_slice(&self.leftover[..n]);
                self.leftover.drain(..n);
                n
            };
            let cap = deflate::compressed_cap(self.max_payload) - deflate::TRAILER_LEN;
            let decoded =
                self.decoder
                    .decode(&mut buf[..n], &mut self.compressed, cap, &mut self.held);
            let Some(stop) = decoded.stop else {
                if decoded.plain > 0 {
                    return Ok(decoded.plain);
                }
                continue;
            };
            if stop == Stop::CompressedMessage {
                // What follows the message waits until it is inflated.
                let mut rest = buf[decoded.consumed..n].to_vec();
                rest.append(&mut self.leftover);
                self.leftover = rest;
                self.inflating = Some(Inflating::start());
                if decoded.plain > 0 {
                    return Ok(decoded.plain);
                }
                continue;
            }
            if decoded.plain > 0 {
                self.pending_stop = Some(stop);
                return Ok(decoded.plain);
            }
            return self.stopped(stop);
        }
    }

    fn end_compressed_message(&mut self) {
        if let Some(inflating) = self.inflating.take() {
            inflating.finish();
        }
        self.compressed.clear();
        if self.compressed.capacity() > 64 * 1024 {
            self.compressed = Vec::new();
        }
    }

    /// Act on why decoding stopped: answer a close, or fail as nats-server
    /// does (a protocol error gets its 1002 close frame with the text).
    fn stopped(&mut self, stop: Stop) -> io::Result<usize> {
        match stop {
            Stop::Close { reply } => {
                self.queue_close(&reply);
                self.ended = true;
                Ok(0)
            }
            Stop::Protocol(text) => {
                self.queue_close(&frame::close_payload(frame::CLOSE_PROTOCOL_ERROR, &text));
                self.discard_output = true;
                self.ended = true;
                Err(read_error(&text))
            }
            Stop::TooLarge => {
                self.ended = true;
                Err(read_error(InflateError::TooLarge.text()))
            }
            Stop::CompressedMessage => unreachable!("handled by read"),
        }
    }

    fn queue_close(&mut self, payload: &[u8]) {
        if !self.close_sent {
            self.close_sent = true;
            let mut close = Vec::with_capacity(2 + payload.len());
            frame::write_frame(&mut close, frame::CLOSE, payload);
            self.pending_close = Some(close);
        }
    }

    /// Frame the core's output: one binary frame for all of it (a browser
    /// gets 4 KiB frames, each a whole message), compressed when agreed
    /// and worth it. Returns the plaintext taken.
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.flush_held()?;
        if self.held_at < self.held.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        if self.discard_output {
            return Ok(total);
        }
        if self.compression && total > COMPRESS_THRESHOLD {
            self.write_compressed(bufs, total)
        } else if self.browser {
            self.write_browser_frames(bufs)
        } else {
            self.write_one_frame(bufs)
        }
    }

    /// One frame: its header and the core's buffers in one vectored write;
    /// what the socket does not take is kept in `held`. No allocation: the
    /// slices are on the stack (a few buffers per frame at most).
    fn write_one_frame(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let bufs = &bufs[..bufs.len().min(MAX_SLICES - 1)];
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut header = [0; 10];
        let header_len = frame::header(&mut header, frame::FINAL_BIT | frame::BINARY, total);
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        slices[0] = IoSlice::new(&header[..header_len]);
        slices[1..=bufs.len()].copy_from_slice(bufs);
        let slices = &slices[..=bufs.len()];
        let written = write_all_or_would_block(&mut self.inner, slices)?;
        self.hold_rest(slices, written);
        Ok(total)
    }

    /// Frames of at most 4 KiB payload, each a whole message (nats-server's
    /// browser framing), a few per write, their slices on the stack.
    fn write_browser_frames(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut headers = [[0u8; 10]; BROWSER_FRAMES_PER_WRITE];
        let mut lens = [0usize; BROWSER_FRAMES_PER_WRITE];
        // Each frame's payload pieces, cut from the buffers in order: (frame,
        // piece). A frame starts a new piece, so a frame's header goes
        // before its first piece.
        let mut pieces: [(usize, &[u8]); MAX_SLICES / 2] = [(0, &[]); MAX_SLICES / 2];
        let mut count = 0;
        let mut frames = 0;
        let mut room = 0;
        'outer: for buf in bufs {
            let mut rest: &[u8] = buf;
            while !rest.is_empty() {
                if room == 0 {
                    if frames == BROWSER_FRAMES_PER_WRITE {
                        break 'outer;
                    }
                    frames += 1;
                    room = BROWSER_FRAME;
                }
                if count == pieces.len() {
                    break 'outer;
                }
                let take = rest.len().min(room);
                pieces[count] = (frames - 1, &rest[..take]);
                count += 1;
                lens[frames - 1] += take;
                room -= take;
                rest = &rest[take..];
            }
        }
        let mut header_lens = [0usize; BROWSER_FRAMES_PER_WRITE];
        for f in 0..frames {
            header_lens[f] =
                frame::header(&mut headers[f], frame::FINAL_BIT | frame::BINARY, lens[f]);
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut used = 0;
        let mut last_frame = usize::MAX;
        for &(f, piece) in &pieces[..count] {
            if f != last_frame {
                slices[used] = IoSlice::new(&headers[f][..header_lens[f]]);
                used += 1;
                last_frame = f;
            }
            slices[used] = IoSlice::new(piece);
            used += 1;
        }
        let slices = &slices[..used];
        let written = write_all_or_would_block(&mut self.inner, slices)?;
        self.hold_rest(slices, written);
        Ok(lens[..frames].iter().sum())
    }

    /// The whole output deflated as one message: one frame, or 4 KiB
    /// fragments to a browser (not Safari), RSV1 on the first.
    fn write_compressed(&mut self, bufs: &[IoSlice<'_>], total: usize) -> io::Result<usize> {
        let parts: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        let mut payload = Vec::new();
        deflate::deflate_message(&parts, &mut payload);
        let fragment = if self.browser && self.fragment_compressed {
            BROWSER_FRAME
        } else {
            payload.len().max(1)
        };
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![&[][..]]
        } else {
            payload.chunks(fragment).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let mut first_byte = if i == 0 {
                frame::BINARY | frame::RSV1_BIT
            } else {
                frame::CONTINUATION
            };
            if i == last {
                first_byte |= frame::FINAL_BIT;
            }
            let mut header = [0; 10];
            let n = frame::header(&mut header, first_byte, chunk.len());
            self.held.extend_from_slice(&header[..n]);
            self.held.extend_from_slice(chunk);
        }
        self.flush_held()?;
        Ok(total)
    }

    /// Keep what a vectored write left of `slices` after `written` bytes.
    fn hold_rest(&mut self, slices: &[IoSlice<'_>], mut written: usize) {
        for slice in slices {
            if written >= slice.len() {
                written -= slice.len();
            } else {
                self.held.extend_from_slice(&slice[written..]);
                written = 0;
            }
        }
    }

    /// Write held frames; the socket may take only part.
    pub fn flush_held(&mut self) -> io::Result<()> {
        while self.held_at < self.held.len() {
            match self.inner.write(&self.held[self.held_at..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.held_at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.held_at == self.held.len() {
            self.held_at = 0;
            self.held.clear();
            if self.held.capacity() > 64 * 1024 {
                self.held = Vec::new();
            }
        }
        self.inner.flush_held()
    }

    /// The close frame nats-server sends for `reason` (unless one went out
    /// already), then the inner transport's goodbye.
    pub fn close(&mut self, reason: Option<CloseReason>) {
        // nats-server skips the flush, and with it the close frame, for
        // these (a 1002 already queued still goes).
        let skip_flush = matches!(
            reason,
            Some(
                CloseReason::ReadError
                    | CloseReason::WriteError
                    | CloseReason::SlowConsumerPendingBytes
                    | CloseReason::SlowConsumerWriteDeadline
                    | CloseReason::TlsHandshakeFailure
            )
        );
        if let (Some(reason), false) = (reason, skip_flush) {
            let payload = frame::close_payload(close_status(reason), reason.as_str());
            self.queue_close(&payload);
        }
        if let Some(close) = self.pending_close.take() {
            self.held.extend_from_slice(&close);
        }
        let _ = self.flush_held();
        self.inner.close(None);
    }
}

/// Write `slices` as far as the socket takes them: the bytes written, 0
/// when it would block.
fn write_all_or_would_block(inner: &mut Transport, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    match inner.write_vectored(slices) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

fn read_error(text: &str) -> io::Error {
    TransportError::io_error(CloseReason::ReadError, format!("read error: {text}"))
}

/// nats-server's close status for a reason (`wsEnqueueCloseMessage`).
pub fn close_status(reason: CloseReason) -> u16 {
    use CloseReason::*;
    match reason {
        ClientClosed => frame::CLOSE_NORMAL,
        AuthenticationTimeout
        | AuthenticationViolation
        | SlowConsumerPendingBytes
        | SlowConsumerWriteDeadline
        | MaxAccountConnectionsExceeded
        | MaxConnectionsExceeded
        | MaxControlLineExceeded
        | AuthenticationExpired
        | CredentialsRevoked => frame::CLOSE_POLICY_VIOLATION,
        TlsHandshakeFailure => frame::CLOSE_TLS_HANDSHAKE,
        ParseError | ProtocolViolation | BadClientProtocolVersion => frame::CLOSE_PROTOCOL_ERROR,
        MaxPayloadExceeded => frame::CLOSE_MESSAGE_TOO_BIG,
        WriteError | ReadError | StaleConnection | ServerShutdown => frame::CLOSE_GOING_AWAY,
        NoRespondersRequiresHeaders
        | WrongPort
        | DuplicateRemoteLeafnodeConnection
        | ClusterNamesIdentical
        | DuplicateRoute
        | RouteRemoved
        | ClusterNameConflict
        | DuplicateServerName => frame::CLOSE_INTERNAL_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_statuses_are_go_s() {
        assert_eq!(close_status(CloseReason::AuthenticationViolation), 1008);
        assert_eq!(close_status(CloseReason::StaleConnection), 1001);
        assert_eq!(close_status(CloseReason::MaxPayloadExceeded), 1009);
        assert_eq!(close_status(CloseReason::ClientClosed), 1000);
    }
}
