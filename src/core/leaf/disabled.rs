//! The core's leaf node hooks in a build without the `leafnodes` feature:
//! `Options::validate` refuses `leafnodes {}` there, so no remote is
//! dialed, no leaf is accepted and no connection has the leaf role; each
//! hook has nothing to do.

use std::time::{Duration, Instant};

use crate::core::Core;
use crate::proto::Op;

impl Core {
    pub(in crate::core) fn start_remotes(&mut self, _now: Instant) {}

    pub(in crate::core) fn leaf_dial_due(&mut self, _index: usize, _at: Instant) {}

    pub(in crate::core) fn leaf_handshake_timer(&mut self, _key: usize, _at: Instant) {}

    pub(in crate::core) fn leaf_tls_established(&mut self, _key: usize, _now: Instant) {}

    pub(in crate::core) fn leaf_closing(&mut self, _key: usize, _now: Instant) {}

    pub(in crate::core) fn leaf_interest(&mut self, _sub_key: usize, _delta: i32) {}

    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub(in crate::core) fn leaf_interest_in(
        &mut self,
        _sub_key: usize,
        _account: u32,
        _delta: i32,
    ) {
    }

    pub(in crate::core) fn reload_remotes(&mut self, _now: Instant) -> Vec<String> {
        Vec::new()
    }

    /// Never called: no connection has the leaf role.
    pub(in crate::core) fn process_leaf_op(&mut self, key: usize, _op: &Op<'_>, _now: Instant) {
        self.close(key, crate::core::closed::CloseReason::ProtocolViolation);
    }

    /// Leaf nodes are never accepted.
    pub fn accepts_leafnodes(&self) -> bool {
        false
    }

    pub fn leaf_auth_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }

    /// There are no leaf links to audit.
    pub fn audit_leaf_interest(&self) -> Result<super::LeafInterest, String> {
        Ok(Vec::new())
    }
}

/// A `leafnodes {}` block cannot reach a reload in this build.
pub fn refuse_unsupported_reload(
    _old: &crate::options::Options,
    _new: &crate::options::Options,
) -> Result<(), String> {
    Ok(())
}
