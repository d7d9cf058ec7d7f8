//! The reactor's monitor hooks in a build without the `monitor` feature:
//! no monitor socket is ever registered, so each hook has nothing to do.
//! [`Options::validate`](crate::Options::validate) refuses `http_port`
//! before a server is built.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpListener;
use mio::Token;

use super::Reactor;
use crate::options::monitor_not_built;

pub const MONITOR_LISTENER: Token = Token(usize::MAX - 8);
pub const MONITOR_BASE: usize = usize::MAX / 2;

/// Never made: `Reactor::monitor` is always `None`.
pub enum MonitorSockets {}

impl Reactor {
    pub fn serve_monitor(&mut self, _listener: TcpListener) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            monitor_not_built("http_port"),
        ))
    }

    pub(super) fn accept_monitor(&mut self) {}

    pub(super) fn drive_monitor_conn(&mut self, _key: usize) {}

    pub(super) fn monitor_turn(&mut self) {}

    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor.as_ref().map(|never| match *never {})
    }

    pub(super) fn monitor_wants(&self) -> (bool, Option<Instant>) {
        (false, None)
    }
}
