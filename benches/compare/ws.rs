//! The load generator's WebSocket client: just enough RFC 6455 for NATS
//! over WebSocket without compression. The HTTP upgrade with a fixed key;
//! each write one binary frame, masked with a fixed key (the mask is the
//! client's cost, as in any client); the server's frames, unmasked, read
//! in large chunks and their payloads copied out back to back.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::client::{Context, Res};

/// RFC 6455's own example key, and the accept value it must get back.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The mask of every frame this client sends.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const FIN: u8 = 0x80;
const RSV: u8 = 0x70;
const MASKED: u8 = 0x80;
const CONTINUATION: u8 = 0;
const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;
/// The longest header: 2 bytes, 8 of length, 4 of mask.
const MAX_HEADER: usize = 14;

pub struct WsStream {
    sock: TcpStream,
    /// Bytes read from the socket and not yet taken apart: `raw[at..end]`.
    raw: Vec<u8>,
    at: usize,
    end: usize,
    /// Payload bytes of the current data frame still to come.
    payload_left: u64,
    /// A frame being written, reused.
    out: Vec<u8>,
}

/// Connects and upgrades (the socket's timeouts bound each step).
/// `read_buffer` is how much one socket read may take.
pub fn connect(
    addr: SocketAddr,
    read_buffer: usize,
    setup: impl FnOnce(&TcpStream) -> Res<()>,
) -> Res<WsStream> {
    let mut sock = TcpStream::connect(addr).context("connect")?;
    setup(&sock)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    sock.write_all(request.as_bytes())
        .context("write the upgrade request")?;
    let mut ws = WsStream {
        sock,
        raw: vec![0; read_buffer.max(4096)],
        at: 0,
        end: 0,
        payload_left: 0,
        out: Vec::new(),
    };
    // The response head; what follows it (INFO, framed) stays in `raw`.
    let head_len = loop {
        if let Some(at) = memchr::memmem::find(&ws.raw[..ws.end], b"\r\n\r\n") {
            break at + 4;
        }
        if ws.end == ws.raw.len() {
            return Err("no end to the upgrade response".into());
        }
        let n = ws
            .sock
            .read(&mut ws.raw[ws.end..])
            .context("read the upgrade response")?;
        if n == 0 {
            return Err("the server closed the connection during the upgrade".into());
        }
        ws.end += n;
    };
    let head = String::from_utf8_lossy(&ws.raw[..head_len]);
    let accepted = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == ACCEPT
        })
    });
    if !head.starts_with("HTTP/1.1 101") || !accepted {
        return Err(format!("upgrade refused: {:?}", head.trim_end()));
    }
    ws.at = head_len;
    Ok(ws)
}

impl WsStream {
    pub fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    /// Payload bytes into `buf`: as many as the frames at hand hold, and
    /// one socket read only when they hold none.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            while filled < buf.len() {
                if self.payload_left > 0 {
                    let n = (self.end - self.at)
                        .min(buf.len() - filled)
                        .min(usize::try_from(self.payload_left).unwrap_or(usize::MAX));
                    if n == 0 {
                        break;
                    }
                    buf[filled..filled + n].copy_from_slice(&self.raw[self.at..self.at + n]);
                    (filled, self.at) = (filled + n, self.at + n);
                    self.payload_left -= n as u64;
                } else if !self.next_frame()? {
                    break;
                }
            }
            if filled > 0 {
                return Ok(filled);
            }
            // What is left is at most a header: move it to the front.
            self.raw.copy_within(self.at..self.end, 0);
            (self.at, self.end) = (0, self.end - self.at);
            // A timeout is the caller's to see, as on a plain socket.
            let n = self.sock.read(&mut self.raw[self.end..])?;
            if n == 0 {
                return Ok(0);
            }
            self.end += n;
        }
    }

    /// Takes the next frame's header (and a control frame whole) from
    /// `raw`; false when it is not all there yet.
    fn next_frame(&mut self) -> io::Result<bool> {
        let data = &self.raw[self.at..self.end];
        if data.len() < 2 {
            return Ok(false);
        }
        let (first, second) = (data[0], data[1]);
        if first & RSV != 0 || second & MASKED != 0 {
            return Err(protocol(format!(
                "unexpected frame header {first:#04x} {second:#04x} (compressed or masked)"
            )));
        }
        let (len, header) = match second & 0x7f {
            126 if data.len() >= 4 => (u64::from(u16::from_be_bytes([data[2], data[3]])), 4),
            127 if data.len() >= 10 => {
                let bytes: [u8; 8] = data[2..10].try_into().expect("8 bytes");
                (u64::from_be_bytes(bytes), 10)
            }
            126 | 127 => return Ok(false),
            len => (u64::from(len), 2),
        };
        match first & 0x0f {
            CONTINUATION | TEXT | BINARY => {
                self.at += header;
                self.payload_left = len;
            }
            opcode @ (CLOSE | PING | PONG) => {
                let len = len as usize;
                if data.len() < header + len {
                    return Ok(false);
                }
                let payload = data[header..header + len].to_vec();
                self.at += header + len;
                match opcode {
                    CLOSE => {
                        let status = payload.get(..2).map(|s| u16::from_be_bytes([s[0], s[1]]));
                        let text = String::from_utf8_lossy(payload.get(2..).unwrap_or_default());
                        return Err(io::Error::new(
                            ErrorKind::ConnectionAborted,
                            format!("the server closed the WebSocket ({status:?} {text:?})"),
                        ));
                    }
                    PING => self.send_frame(PONG, &payload)?,
                    _ => {}
                }
            }
            opcode => return Err(protocol(format!("unknown opcode {opcode}"))),
        }
        Ok(true)
    }

    /// All of `bytes` as one binary frame, in one write.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send_frame(BINARY, bytes)
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let out = &mut self.out;
        out.clear();
        out.reserve(MAX_HEADER + payload.len());
        out.push(FIN | opcode);
        match payload.len() {
            len @ 0..=125 => out.push(MASKED | len as u8),
            len @ 126..=0xffff => {
                out.push(MASKED | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(MASKED | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&MASK);
        let start = out.len();
        out.extend_from_slice(payload);
        mask(&mut out[start..]);
        self.sock.write_all(&self.out)
    }
}

/// XORs `payload` (a whole frame's, from its first byte) with [`MASK`],
/// eight bytes at a time.
fn mask(payload: &mut [u8]) {
    let m = u64::from_ne_bytes([
        MASK[0], MASK[1], MASK[2], MASK[3], MASK[0], MASK[1], MASK[2], MASK[3],
    ]);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ m;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= MASK[i % 4];
    }
}

fn protocol(what: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, what)
}
