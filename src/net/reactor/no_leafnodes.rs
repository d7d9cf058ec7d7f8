//! The reactor's leaf node hooks in a build without the `leafnodes`
//! feature: no listener or dial is ever made, so each hook has nothing to
//! do. The configuration refuses a `leafnodes {}` block in such a build.

use std::net::SocketAddr;
use std::time::Instant;

use mio::Token;

use super::Reactor;

pub const LEAF_LISTENER: Token = Token(usize::MAX - 10);
pub const DIAL_BASE: usize = usize::MAX / 8;

/// Never made: `Reactor::leafnodes` is always `None`.
pub enum LeafSockets {}

impl Reactor {
    pub fn leafnode_addr(&self) -> Option<SocketAddr> {
        self.leafnodes.as_ref().map(|never| match *never {})
    }

    pub(super) fn accept_leafs(&mut self) {}

    pub(super) fn drive_dial(&mut self, _index: usize) {}

    pub(super) fn leaf_turn(&mut self, _now: Instant) {}

    pub(super) fn dial_deadline(&self) -> Option<Instant> {
        None
    }

    pub(super) fn close_leaf_listener(&mut self) {}

    pub(super) fn close_dials(&mut self) {}
}
