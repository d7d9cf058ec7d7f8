//! RFC 6455 frames as nats-server reads and writes them (`websocket.go`:
//! `wsRead`, `wsHandleControlFrame`, `wsCollapsePtoNB`), as a resumable
//! decoder: a header, an extended length or a mask key split across reads
//! is kept here until it is whole, so bytes split anywhere decode the same.
//!
//! The decoder works in place: the bytes read from the socket are unmasked
//! and the payloads of uncompressed data frames moved to the front of the
//! same buffer, which becomes the plaintext the parser reads. Nothing is
//! allocated for them; compressed payloads are appended to the caller's
//! buffer (bounded), control payloads (at most 125 bytes) kept inline.

pub const FINAL_BIT: u8 = 0x80;
pub const RSV1_BIT: u8 = 0x40;
const RSV2_BIT: u8 = 0x20;
const RSV3_BIT: u8 = 0x10;
const MASK_BIT: u8 = 0x80;

pub const CONTINUATION: u8 = 0;
pub const TEXT: u8 = 1;
pub const BINARY: u8 = 2;
pub const CLOSE: u8 = 8;
pub const PING: u8 = 9;
pub const PONG: u8 = 10;

/// The longest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest frame header: 2 bytes, 8 of length, 4 of mask key.
const MAX_HEADER: usize = 14;

/// Close status codes nats-server sends.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
pub const CLOSE_TLS_HANDSHAKE: u16 = 1015;

/// Why decoding stopped before the end of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A compressed message is complete in the caller's buffer: inflate
    /// it before decoding what follows.
    CompressedMessage,
    /// The peer closed: `reply` is the close frame's payload to echo
    /// (empty when it gave no status). What follows is not read.
    Close { reply: Vec<u8> },
    /// A framing error: close with 1002 and this text (`wsHandleProtocolError`).
    Protocol(String),
    /// Compressed input over its cap (Go's `ErrMaxPayload`).
    TooLarge,
}

/// The result of one [`Decoder::decode`] call.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Plaintext bytes now at the front of the buffer.
    pub plain: usize,
    /// Input bytes used; the rest is for after the stop.
    pub consumed: usize,
    pub stop: Option<Stop>,
}

/// Where in a frame the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Payload,
}

pub struct Decoder {
    /// Client frames must be masked (no `Nats-No-Masking`).
    masked: bool,
    /// permessage-deflate was negotiated.
    compression: bool,
    phase: Phase,
    header: [u8; MAX_HEADER],
    header_len: u8,
    opcode: u8,
    frame_final: bool,
    remaining: u64,
    mask: [u8; 4],
    mask_pos: u8,
    /// The final frame of the current data message was seen (Go's `ff`).
    message_done: bool,
    /// The current data message is compressed (Go's `fc`).
    message_compressed: bool,
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: u8,
}

impl Decoder {
    pub fn new(masked: bool, compression: bool) -> Decoder {
        Decoder {
            masked,
            compression,
            phase: Phase::Header,
            header: [0; MAX_HEADER],
            header_len: 0,
            opcode: 0,
            frame_final: false,
            remaining: 0,
            mask: [0; 4],
            mask_pos: 0,
            message_done: true,
            message_compressed: false,
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
        }
    }

    /// Decode `buf` in place. Uncompressed payload bytes end up at the
    /// front of `buf`; compressed ones are appended to `compressed`, which
    /// may not grow past `compressed_cap` (counting the 9 bytes of trailer
    /// nats-server adds); a ping's pong goes to `control_out`.
    pub fn decode(
        &mut self,
        buf: &mut [u8],
        compressed: &mut Vec<u8>,
        compressed_cap: usize,
        control_out: &mut Vec<u8>,
    ) -> Decoded {
        let mut read = 0;
        let mut plain = 0;
        while read < buf.len() {
            match self.phase {
                Phase::Header => {
                    let need = self.header_needed();
                    let have = self.header_len as usize;
                    let take = (need - have).min(buf.len() - read);
                    self.header[have..have + take].copy_from_slice(&buf[read..read + take]);
                    self.header_len += take as u8;
                    read += take;
                    // The first two bytes decide how long the header is.
                    if self.header_len >= 2 && have < 2 {
                        if let Err(why) = self.check_start() {
                            return stop(plain, read, Stop::Protocol(why));
                        }
                        if self.header_len as usize != self.header_needed() {
                            continue;
                        }
                    }
                    if (self.header_len as usize) < self.header_needed() {
                        continue;
                    }
                    if let Err(why) = self.finish_header() {
                        return stop(plain, read, Stop::Protocol(why));
                    }
                    if self.remaining == 0 {
                        if let Some(s) = self.frame_end(control_out) {
                            return stop(plain, read, s);
                        }
                    }
                }
                Phase::Payload => {
                    let take = (buf.len() - read)
                        .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                    let chunk = &mut buf[read..read + take];
                    if self.masked {
                        self.mask_pos = unmask(chunk, self.mask, self.mask_pos);
                    }
                    if is_control(self.opcode) {
                        let at = self.control_len as usize;
                        self.control[at..at + take].copy_from_slice(chunk);
                        self.control_len += take as u8;
                    } else if self.message_compressed {
                        if compressed.len() + take > compressed_cap {
                            return stop(plain, read, Stop::TooLarge);
                        }
                        compressed.extend_from_slice(chunk);
                    } else {
                        buf.copy_within(read..read + take, plain);
                        plain += take;
                    }
                    read += take;
                    self.remaining -= take as u64;
                    if self.remaining == 0 {
                        if let Some(s) = self.frame_end(control_out) {
                            return stop(plain, read, s);
                        }
                    }
                }
            }
        }
        Decoded {
            plain,
            consumed: read,
            stop: None,
        }
    }

    /// How many header bytes this frame has (2 until the second is known).
    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let length = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + length + if self.masked { 4 } else { 0 }
    }

    /// nats-server's checks of a frame's first two bytes, in its order.
    fn check_start(&mut self) -> Result<(), String> {
        let (b0, b1) = (self.header[0], self.header[1]);
        if b0 & (RSV2_BIT | RSV3_BIT) != 0 {
            return Err("RSV2 and RSV3 must be clear".into());
        }
        let compressed = b0 & RSV1_BIT != 0;
        if compressed && !self.compression {
            return Err("compressed frame received without negotiated permessage-deflate".into());
        }
        if self.masked && b1 & MASK_BIT == 0 {
            return Err("mask bit missing".into());
        }
        let opcode = b0 & 0x0f;
        let frame_final = b0 & FINAL_BIT != 0;
        let short_length = b1 & 0x7f;
        match opcode {
            CLOSE | PING | PONG => {
                if short_length as usize > MAX_CONTROL_PAYLOAD {
                    return Err(
                        "control frame length bigger than maximum allowed of 125 bytes".into(),
                    );
                }
                if !frame_final {
                    return Err("control frame does not have final bit set".into());
                }
                if compressed {
                    return Err("control frame must not be compressed".into());
                }
            }
            TEXT | BINARY => {
                if !self.message_done {
                    return Err(
                        "new message started before final frame for previous message was received"
                            .into(),
                    );
                }
                self.message_done = frame_final;
                self.message_compressed = compressed;
            }
            CONTINUATION => {
                if self.message_done || compressed {
                    return Err("invalid continuation frame".into());
                }
                self.message_done = frame_final;
            }
            other => return Err(format!("unknown opcode {other}")),
        }
        self.opcode = opcode;
        self.frame_final = frame_final;
        Ok(())
    }

    /// The whole header is in: the payload length and mask key.
    fn finish_header(&mut self) -> Result<(), String> {
        let h = &self.header;
        let (remaining, mask_at) = match h[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => {
                let length = u64::from_be_bytes(h[2..10].try_into().expect("8 bytes"));
                // nats-server's fix for its 2026-03 advisory: the top bit
                // set is an error, never a length.
                if length & (1 << 63) != 0 {
                    return Err("invalid 64-bit payload length".into());
                }
                (length, 10)
            }
            short => (u64::from(short), 2),
        };
        if self.masked {
            self.mask.copy_from_slice(&h[mask_at..mask_at + 4]);
        }
        self.remaining = remaining;
        self.mask_pos = 0;
        self.control_len = 0;
        self.header_len = 0;
        self.phase = Phase::Payload;
        Ok(())
    }

    /// A frame's payload is all in: handle a control frame, or end a
    /// compressed message.
    fn frame_end(&mut self, control_out: &mut Vec<u8>) -> Option<Stop> {
        self.phase = Phase::Header;
        match self.opcode {
            CLOSE => Some(self.close_reply()),
            PING => {
                let payload = &self.control[..self.control_len as usize];
                write_frame(control_out, PONG, payload);
                None
            }
            PONG => None,
            _ if self.message_compressed && self.message_done => {
                self.message_compressed = false;
                Some(Stop::CompressedMessage)
            }
            _ => None,
        }
    }

    /// nats-server's answer to a close frame: its status and text echoed,
    /// an empty close for an empty one.
    fn close_reply(&self) -> Stop {
        let payload = &self.control[..self.control_len as usize];
        match payload.len() {
            0 => Stop::Close { reply: Vec::new() },
            1 => Stop::Protocol("close frame payload cannot be 1 byte".into()),
            _ => {
                let status = u16::from_be_bytes([payload[0], payload[1]]);
                if !valid_close_status(status) {
                    return Stop::Protocol(format!("invalid close status code {status}"));
                }
                let body = &payload[2..];
                let reply = match std::str::from_utf8(body) {
                    Ok(text) => close_payload(status, text),
                    Err(_) => {
                        close_payload(CLOSE_INVALID_PAYLOAD, "invalid utf8 body in close frame")
                    }
                };
                Stop::Close { reply }
            }
        }
    }
}

fn stop(plain: usize, consumed: usize, why: Stop) -> Decoded {
    Decoded {
        plain,
        consumed,
        stop: Some(why),
    }
}

fn is_control(opcode: u8) -> bool {
    opcode & 0x08 != 0
}

/// Go's `wsIsValidCloseStatus`.
fn valid_close_status(status: u16) -> bool {
    !matches!(status, 1004..=1006 | 1015 | 1016..=2999) && (1000..5000).contains(&status)
}

/// XOR `data` with the mask key from position `pos`; the position after.
fn unmask(data: &mut [u8], mask: [u8; 4], pos: u8) -> u8 {
    let pos = pos as usize & 3;
    let rotated = [
        mask[pos],
        mask[(pos + 1) & 3],
        mask[(pos + 2) & 3],
        mask[(pos + 3) & 3],
    ];
    let wide = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i & 3];
    }
    ((pos + data.len()) & 3) as u8
}

/// A frame header for a server frame (never masked): its bytes in `out`,
/// and how many.
pub fn header(out: &mut [u8; 10], first_byte: u8, len: usize) -> usize {
    out[0] = first_byte;
    if len <= 125 {
        out[1] = len as u8;
        2
    } else if len < 65536 {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// Append a whole unmasked frame with this opcode and payload.
pub fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let mut h = [0; 10];
    let n = header(&mut h, FINAL_BIT | opcode, payload.len());
    out.extend_from_slice(&h[..n]);
    out.extend_from_slice(payload);
}

/// A close frame's payload: the status, then the text cut as Go cuts it
/// (at 120 bytes, with "...", when it would not fit in 123).
pub fn close_payload(status: u16, text: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + text.len().min(MAX_CONTROL_PAYLOAD - 2));
    payload.extend_from_slice(&status.to_be_bytes());
    if text.len() > MAX_CONTROL_PAYLOAD - 2 {
        payload.extend_from_slice(&text.as_bytes()[..MAX_CONTROL_PAYLOAD - 5]);
        payload.extend_from_slice(b"...");
    } else {
        payload.extend_from_slice(text.as_bytes());
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with `key`.
    fn client_frame(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut h = [0; 10];
        let n = header(&mut h, first, payload.len());
        let mut out = h[..n].to_vec();
        out[1] |= MASK_BIT;
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    fn decode_all(d: &mut Decoder, input: &[u8], split: usize) -> (Vec<u8>, Vec<u8>, Option<Stop>) {
        let (mut plain, mut compressed, mut control) = (Vec::new(), Vec::new(), Vec::new());
        for piece in input.chunks(split.max(1)) {
            let mut buf = piece.to_vec();
            let got = d.decode(&mut buf, &mut compressed, 1 << 20, &mut control);
            plain.extend_from_slice(&buf[..got.plain]);
            if got.stop.is_some() {
                return (plain, control, got.stop);
            }
        }
        (plain, control, None)
    }

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let mut input = client_frame(FINAL_BIT | BINARY, b"PUB foo 5\r\nhello\r\n", [1, 2, 3, 4]);
        input.extend(client_frame(BINARY, &vec![b'x'; 300], [9, 8, 7, 6]));
        input.extend(client_frame(FINAL_BIT | PING, b"hi", [5, 5, 5, 5]));
        input.extend(client_frame(
            FINAL_BIT | CONTINUATION,
            &vec![b'y'; 70_000],
            [1, 0, 0, 1],
        ));
        let mut want = b"PUB foo 5\r\nhello\r\n".to_vec();
        want.extend(vec![b'x'; 300]);
        want.extend(vec![b'y'; 70_000]);
        for split in [1, 2, 3, 7, 13, 14, 100, 4096, usize::MAX] {
            let (plain, control, stop) = decode_all(&mut Decoder::new(true, false), &input, split);
            assert_eq!(stop, None, "split {split}");
            assert_eq!(plain, want, "split {split}");
            assert_eq!(control, [0x8a, 2, b'h', b'i'], "split {split}");
        }
    }

    #[test]
    fn protocol_errors_in_go_s_words() {
        let cases: [(Vec<u8>, &str); 8] = [
            (vec![0x82 | RSV2_BIT, 0x80], "RSV2 and RSV3 must be clear"),
            (
                vec![0xc2, 0x80],
                "compressed frame received without negotiated permessage-deflate",
            ),
            (vec![0x82, 0x00], "mask bit missing"),
            (
                vec![0x89, 0xfe],
                "control frame length bigger than maximum allowed of 125 bytes",
            ),
            (
                vec![0x09, 0x80],
                "control frame does not have final bit set",
            ),
            (vec![0x80, 0x80], "invalid continuation frame"),
            (vec![0x83, 0x80], "unknown opcode 3"),
            (
                vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0],
                "invalid 64-bit payload length",
            ),
        ];
        for (input, text) in cases {
            let (_, _, stop) = decode_all(&mut Decoder::new(true, false), &input, 1);
            assert_eq!(stop, Some(Stop::Protocol(text.into())), "{input:x?}");
        }
        let mut two = client_frame(BINARY, b"a", [0; 4]);
        two.extend(client_frame(BINARY, b"b", [0; 4]));
        let (_, _, stop) = decode_all(&mut Decoder::new(true, false), &two, 3);
        assert_eq!(
            stop,
            Some(Stop::Protocol(
                "new message started before final frame for previous message was received".into()
            ))
        );
    }

    #[test]
    fn close_frames_are_echoed_as_go_does() {
        let reply = |payload: &[u8]| {
            let input = client_frame(FINAL_BIT | CLOSE, payload, [3, 1, 4, 1]);
            decode_all(&mut Decoder::new(true, false), &input, 5).2
        };
        assert_eq!(reply(b""), Some(Stop::Close { reply: vec![] }));
        assert_eq!(
            reply(b"\x03\xe8bye"),
            Some(Stop::Close {
                reply: b"\x03\xe8bye".to_vec()
            })
        );
        assert_eq!(
            reply(b"\x03\xe8\xff"),
            Some(Stop::Close {
                reply: close_payload(1007, "invalid utf8 body in close frame")
            })
        );
        assert_eq!(
            reply(b"\x03"),
            Some(Stop::Protocol(
                "close frame payload cannot be 1 byte".into()
            ))
        );
        assert_eq!(
            reply(b"\x03\xed"),
            Some(Stop::Protocol("invalid close status code 1005".into()))
        );
        assert_eq!(close_payload(1000, &"x".repeat(200)).len(), 125);
    }

    #[test]
    fn compressed_messages_collect_until_their_final_frame() {
        let mut input = client_frame(RSV1_BIT | BINARY, b"abc", [1, 1, 1, 1]);
        input.extend(client_frame(FINAL_BIT | CONTINUATION, b"def", [2, 2, 2, 2]));
        input.extend(client_frame(FINAL_BIT | BINARY, b"plain", [2, 2, 2, 2]));
        let mut d = Decoder::new(true, true);
        let (mut compressed, mut control) = (Vec::new(), Vec::new());
        let mut buf = input.clone();
        let got = d.decode(&mut buf, &mut compressed, 100, &mut control);
        assert_eq!(got.stop, Some(Stop::CompressedMessage));
        assert_eq!(compressed, b"abcdef");
        let mut rest = buf[got.consumed..].to_vec();
        let got = d.decode(&mut rest, &mut compressed, 100, &mut control);
        assert_eq!((got.stop, &rest[..got.plain]), (None, &b"plain"[..]));
        // Over the cap: an error before anything is appended.
        let mut d = Decoder::new(true, true);
        let mut buf = input;
        let got = d.decode(&mut buf, &mut Vec::new(), 4, &mut control);
        assert_eq!(got.stop, Some(Stop::TooLarge));
    }

    #[test]
    fn unmasked_frames_pass_with_no_masking() {
        let mut d = Decoder::new(false, false);
        let mut buf = vec![0x82, 3, b'a', b'b', b'c'];
        let got = d.decode(&mut buf, &mut Vec::new(), 0, &mut Vec::new());
        assert_eq!(&buf[..got.plain], b"abc");
    }
}
