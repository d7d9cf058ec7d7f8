//! The core's route hooks in a build without the `cluster` feature:
//! `Options::validate` refuses `cluster {}` there, so no route is dialed
//! or accepted and no connection has the route role; each hook has
//! nothing to do.

use std::time::Instant;

use crate::core::Core;
use crate::proto::Op;

/// Route URLs are never read in this build.
pub type RouteUrl = crate::core::leaf::LeafUrl;

impl Core {
    pub(in crate::core) fn start_routes(&mut self, _now: Instant) {}

    pub(in crate::core) fn route_dial_due(&mut self, _index: usize, _at: Instant) {}

    pub(in crate::core) fn route_interest(&mut self, _sub_key: usize, _delta: i32) {}

    pub(in crate::core) fn route_closing(&mut self, _key: usize, _now: Instant) {}

    pub(in crate::core) fn announce_lame_duck_to_routes(&mut self) {}

    /// Never called: no connection has the route role.
    pub(in crate::core) fn process_route_op(
        &mut self,
        key: usize,
        _parser: &mut crate::proto::Parser,
        _op: &Op<'_>,
        _now: Instant,
    ) {
        self.close(key, crate::core::closed::CloseReason::ProtocolViolation);
    }

    /// Routes are never accepted.
    pub fn accepts_routes(&self) -> bool {
        false
    }

    pub(in crate::core) fn reload_cluster(
        &mut self,
        _old: &crate::options::Options,
        _now: Instant,
    ) -> Vec<String> {
        Vec::new()
    }

    /// There is no route interest to audit.
    pub fn audit_route_interest(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A `cluster {}` block cannot reach a reload in this build.
pub fn refuse_unsupported_reload(
    _old: &crate::options::Options,
    _new: &crate::options::Options,
) -> Result<(), String> {
    Ok(())
}
