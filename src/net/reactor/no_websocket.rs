//! The reactor's WebSocket hooks in a build without the `websocket`
//! feature: no listener is ever registered, so each hook has nothing to
//! do. [`Options::validate`](crate::Options::validate) refuses a
//! `websocket {}` block before a server is built.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpListener;
use mio::Token;

use super::Reactor;
use crate::options::WebsocketOptions;

pub const WEBSOCKET_LISTENER: Token = Token(usize::MAX - 9);
pub const UPGRADE_BASE: usize = usize::MAX / 4;

/// Never made: `Reactor::websocket` is always `None`.
pub enum WebsocketSockets {}

impl Reactor {
    pub fn serve_websocket(
        &mut self,
        _listener: TcpListener,
        _ws: &WebsocketOptions,
    ) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "natsd was built without the `websocket` feature",
        ))
    }

    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket.as_ref().map(|never| match *never {})
    }

    pub(super) fn accept_websocket(&mut self) {}

    pub(super) fn drive_upgrade(&mut self, _index: usize) {}

    pub(super) fn expire_upgrades(&mut self, _now: Instant) {}

    pub(super) fn upgrade_deadline(&self) -> Option<Instant> {
        None
    }

    pub(super) fn close_websocket_listener(&mut self) {}

    pub(super) fn close_upgrades(&mut self) {}
}
