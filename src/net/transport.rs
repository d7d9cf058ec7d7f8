//! How a client connection's bytes travel: the seam between the socket and
//! the core, which only ever sees plaintext NATS protocol.
//!
//! Today a transport is plain TCP. TLS (rustls, sans-IO over the mio
//! socket) and WebSocket come in as variants here, so that the reactor and
//! the core stay as they are: the core reads through [`Transport`] as an
//! `io::Read` and writes through it as an `io::Write`, and the reactor asks
//! it whether output is still waiting ([`Transport::wants_write`]) and
//! whether plaintext may be buffered beyond what the socket shows
//! ([`Transport::has_buffered_input`]).

use std::io::{self, Read, Write};

use mio::net::TcpStream;

pub enum Transport {
    Plain(TcpStream),
}

impl Transport {
    /// The socket, for registering with the poll and for closing.
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(stream) => stream,
        }
    }

    /// Output the transport holds after the core's bytes were taken (TLS
    /// records not yet on the socket). Plain TCP holds none.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
        }
    }

    /// Plaintext already decrypted or decoded but not yet read by the core:
    /// a short read then does not mean the socket is empty.
    pub fn has_buffered_input(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.flush(),
        }
    }
}
