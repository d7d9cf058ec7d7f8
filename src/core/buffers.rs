//! A connection's read and write buffers: they start empty, grow with the
//! traffic up to their limits and are given back when idle.

use std::io::{self, Read, Write};

/// The bytes read but not yet parsed. The buffer is kept initialised to its
/// full length so reads need no zeroing. It adapts to the traffic: a read
/// that fills all the room doubles it (up to `READ_BUF_FAST`, or further when
/// one operation needs more, up to the read limit), and once drained after
/// a short read (or while still at its first size) it is given back, to be
/// allocated again by the next read.
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read used less than a quarter of the room it had.
    last_read_short: bool,
    /// The last read filled all the room it had: the socket may hold more.
    last_read_full: bool,
}

/// Where every read buffer starts.
pub const READ_BUF_MIN: usize = 512;
/// Growth beyond this happens only for an operation that needs it.
const READ_BUF_FAST: usize = 64 * 1024;

impl ReadBuf {
    /// A buffer that owns no memory until the first read.
    pub fn empty() -> ReadBuf {
        ReadBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
            last_read_short: false,
            last_read_full: false,
        }
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The memory the buffer holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // An idle connection holds no read buffer at all. A buffer
            // still at its first size costs little to allocate again; a
            // grown one is kept until a read shows the traffic has eased.
            if self.last_read_short || self.buf.len() <= READ_BUF_MIN {
                self.buf = Vec::new();
            }
        }
    }

    /// Room to read into: compacts, or grows up to `limit`, when full.
    /// `None` when the buffer is full at its limit.
    fn spare(&mut self, limit: usize) -> Option<&mut [u8]> {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUF_MIN.min(limit)];
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < limit {
                let grown = (self.buf.len() * 2).min(limit);
                self.buf.resize(grown, 0);
            } else {
                return None;
            }
        }
        Some(&mut self.buf[self.end..])
    }

    /// The last read filled all its room, so the socket may hold more. A
    /// short read emptied the socket: with edge-triggered readiness, data
    /// arriving later raises a new event, so no read is needed to see
    /// `WouldBlock` (one system call less per wake).
    pub fn may_have_more(&self) -> bool {
        self.last_read_full
    }

    /// Read once from `src`. `Ok(0)` is end of stream.
    pub fn read_from(&mut self, src: &mut impl Read, limit: usize) -> io::Result<usize> {
        let Some(room) = self.spare(limit).map(|s| s.len()) else {
            return Err(io::Error::other("read buffer full"));
        };
        let n = src.read(&mut self.buf[self.end..])?;
        self.end += n;
        self.last_read_short = n < room / 4;
        self.last_read_full = n == room;
        if n == room && self.buf.len() < READ_BUF_FAST.min(limit) {
            let grown = (self.buf.len() * 2).min(READ_BUF_FAST.min(limit));
            self.buf.resize(grown, 0);
        }
        Ok(n)
    }
}

/// Outbound bytes: appended by the router, written by the flush pass.
#[derive(Default)]
pub struct WriteBuf {
    pub buf: Vec<u8>,
    pos: usize,
}

/// A drained write buffer is kept for the next turn only while it is in
/// steady use: at least this big, and at least a quarter used by the flush
/// that drained it (and never more than `WRITE_BUF_KEEP_MAX`). Anything else
/// is given back, so an idle connection holds no output buffer.
const WRITE_BUF_KEEP_MIN: usize = 4 * 1024;
const WRITE_BUF_KEEP_MAX: usize = 1024 * 1024;

impl WriteBuf {
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Write as much as the socket takes. `Ok(true)` when all is written.
    pub fn flush_to(&mut self, sock: &mut impl Write) -> io::Result<bool> {
        while self.pos < self.buf.len() {
            match sock.write(&self.buf[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let (used, capacity) = (self.buf.len(), self.buf.capacity());
        self.pos = 0;
        if (WRITE_BUF_KEEP_MIN..=WRITE_BUF_KEEP_MAX).contains(&capacity) && used * 4 >= capacity {
            self.buf.clear();
        } else {
            self.buf = Vec::new();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_size_read_buffer_is_freed_once_drained() {
        let mut rb = ReadBuf::empty();
        let mut src: &[u8] = &[b'x'; READ_BUF_MIN / 2];
        rb.read_from(&mut src, 1 << 20).unwrap();
        let n = rb.pending().len();
        rb.consume(n);
        assert_eq!(rb.buf.capacity(), 0);
    }

    #[test]
    fn read_buffer_grows_when_reads_fill_it_and_shrinks_when_idle() {
        let mut rb = ReadBuf::empty();
        let data = vec![b'x'; 10_000];
        let mut src: &[u8] = &data;
        let n = rb.read_from(&mut src, 1 << 20).unwrap();
        assert_eq!(n, READ_BUF_MIN);
        assert_eq!(
            rb.buf.len(),
            2 * READ_BUF_MIN,
            "a full read doubles the room"
        );
        while !src.is_empty() {
            rb.read_from(&mut src, 1 << 20).unwrap();
        }
        assert_eq!(rb.pending().len(), 10_000, "grows to hold an unparsed op");
        rb.consume(10_000);
        let mut small: &[u8] = b"PING\r\n";
        rb.read_from(&mut small, 1 << 20).unwrap();
        rb.consume(6);
        assert!(
            rb.buf.is_empty(),
            "given back when drained after a short read"
        );
    }

    #[test]
    fn read_buffer_compacts_before_growing_and_stops_at_its_limit() {
        let mut rb = ReadBuf::empty();
        let data = vec![b'y'; READ_BUF_MIN];
        rb.read_from(&mut &data[..], 600).unwrap();
        rb.consume(500);
        rb.read_from(&mut &data[..], 600).unwrap();
        assert_eq!(rb.pending().len(), 100, "grew to the limit: 88 more");
        rb.read_from(&mut &data[..], 600).unwrap();
        assert_eq!(rb.pending().len(), 600, "compacted, not grown");
        let err = rb.read_from(&mut &data[..], 600).unwrap_err();
        assert_eq!(err.to_string(), "read buffer full");
    }
}
