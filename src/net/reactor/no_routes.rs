//! The reactor's route hooks in a build without the `cluster` feature: no
//! listener or dial is ever made, so each hook has nothing to do. The
//! configuration refuses a `cluster {}` block in such a build.

use std::net::SocketAddr;
use std::time::Instant;

use mio::Token;

use super::Reactor;

pub const ROUTE_LISTENER: Token = Token(usize::MAX - 11);
pub const ROUTE_DIAL_BASE: usize = usize::MAX / 16;

/// Never made: `Reactor::routes` is always `None`.
pub enum RouteSockets {}

impl Reactor {
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.routes.as_ref().map(|never| match *never {})
    }

    pub(super) fn accept_routes(&mut self) {}

    pub(super) fn drive_route_dial(&mut self, _index: usize) {}

    pub(super) fn route_turn(&mut self, _now: Instant) {}

    pub(super) fn route_dial_deadline(&self) -> Option<Instant> {
        None
    }

    pub(super) fn close_routes(&mut self) {}
}
