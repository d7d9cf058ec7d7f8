//! The routes this server dials: the configured ones (`routes [...]`),
//! dialed until they connect and again whenever they are lost, and those
//! a peer's gossip names (implicit routes), dialed once, as nats-server's
//! `connectToRoute`, `reConnectToRoute` and `processImplicitRoute`.
//!
//! The core decides when and where to dial; the reactor dials and reports
//! back ([`Core::connect_route`], [`Core::route_dial_failed`]).

use std::time::{Duration, Instant};

use super::{RouteDial, RouteTarget};
use crate::core::timers::TimerKind;
use crate::core::Core;

/// A route's URL: `nats-route://[user:password@]host[:port]`, read as a
/// leaf remote's (the same `url.Parse`), 6222 when it has no port.
pub type RouteUrl = crate::core::leaf::LeafUrl;

pub use crate::options::DEFAULT_ROUTE_PORT;
use crate::options::{
    DEFAULT_ROUTE_CONNECT as ROUTE_CONNECT, DEFAULT_ROUTE_CONNECT_MAX as ROUTE_CONNECT_MAX,
};
/// `DEFAULT_ROUTE_RECONNECT`: the wait before a lost configured route is
/// dialed again (plus up to 100 ms, so that two servers that lost the
/// route to each other do not dial at the same instant).
const ROUTE_RECONNECT: Duration = Duration::from_secs(1);
/// nats-server reports every dial failure of the first attempts, then one
/// in this many (`ReconnectErrorReports`'s default).
const CONNECT_ERROR_REPORTS: u32 = 3600;

impl Core {
    /// The configured routes, each due now (start-up).
    pub(in crate::core) fn start_routes(&mut self, now: Instant) {
        let Some(cluster) = self.opts.cluster.clone() else {
            return;
        };
        for text in &cluster.routes {
            let Some(url) = RouteUrl::parse_with_default_port(text, DEFAULT_ROUTE_PORT) else {
                log::error!("Error parsing route URL {text:?}");
                continue;
            };
            let index = self.add_route_target(url, true, 0);
            self.schedule_route_dial(index, now);
        }
    }

    pub(super) fn add_route_target(
        &mut self,
        url: RouteUrl,
        explicit: bool,
        gossip_mode: u8,
    ) -> usize {
        let target = RouteTarget {
            url,
            explicit,
            conn: None,
            remote_id: None,
            to_self: false,
            attempts: 0,
            delay: ROUTE_CONNECT,
            gossip_mode,
            removed: false,
            due: None,
        };
        // A slot of a gossiped route that is gone is reused.
        match self
            .routes
            .targets
            .iter()
            .position(|t| t.removed && t.conn.is_none())
        {
            Some(index) => {
                self.routes.targets[index] = target;
                index
            }
            None => {
                self.routes.targets.push(target);
                self.routes.targets.len() - 1
            }
        }
    }

    pub(super) fn schedule_route_dial(&mut self, index: usize, at: Instant) {
        self.routes.targets[index].due = Some(at);
        self.schedule(index, 0, TimerKind::RouteConnect, at);
    }

    /// A route's dial is due: the reactor is asked to make it, unless the
    /// route is connected (or leads to this server) by now.
    pub(in crate::core) fn route_dial_due(&mut self, index: usize, at: Instant) {
        let Some(target) = self.routes.targets.get_mut(index) else {
            return;
        };
        if target.due != Some(at) {
            return;
        }
        target.due = None;
        if target.removed || target.to_self || target.conn.is_some() {
            return;
        }
        // nats-server does not dial a server it already has a route to.
        if let Some(id) = target.remote_id.clone() {
            if self.route_to(&id).is_some() {
                log::debug!(
                    "Not attempting reconnect for solicited route, already connected to {id:?}"
                );
                return;
            }
        }
        let url = self.routes.targets[index].url.clone();
        log::debug!("Trying to connect to route on {}", url.host_port());
        self.routes.dials.push(RouteDial { target: index, url });
    }

    /// The dials due since the last call, for the reactor.
    pub fn take_route_dials(&mut self) -> Vec<RouteDial> {
        std::mem::take(&mut self.routes.dials)
    }

    /// A dial failed (`error` in Go's words): logged as nats-server logs
    /// it; a configured route is dialed again after a second (doubling up
    /// to 30 s with `connect_backoff`), a gossiped one only within
    /// `connect_retries`.
    pub fn route_dial_failed(&mut self, index: usize, error: &str, now: Instant) {
        let (retries, backoff) = self
            .opts
            .cluster
            .as_ref()
            .map_or((0, false), |c| (c.connect_retries, c.connect_backoff));
        let Some(target) = self.routes.targets.get_mut(index) else {
            return;
        };
        target.attempts += 1;
        let attempt = target.attempts;
        let text = format!("Error trying to connect to route (attempt {attempt}): {error}");
        if attempt <= 1 || attempt % CONNECT_ERROR_REPORTS == 0 {
            log::error!("{text}");
        } else {
            log::debug!("{text}");
        }
        if target.removed {
            return;
        }
        if !target.explicit && (retries <= 0 || attempt as i64 > i64::from(retries)) {
            target.removed = true;
            return;
        }
        let wait = target.delay;
        if backoff {
            target.delay = (target.delay * 2).min(ROUTE_CONNECT_MAX);
        }
        self.schedule_route_dial(index, now + wait);
    }

    /// Route connection `key`, dialed for `target`, is gone: a configured
    /// route is dialed again after a second and a little jitter.
    pub(in crate::core) fn route_target_lost(&mut self, index: usize, retry: bool, now: Instant) {
        let jitter = Duration::from_millis(self.rng.next_u64() % 100);
        let Some(target) = self.routes.targets.get_mut(index) else {
            return;
        };
        target.conn = None;
        target.attempts = 0;
        target.delay = ROUTE_CONNECT;
        if target.removed || target.to_self {
            return;
        }
        if target.explicit {
            self.schedule_route_dial(index, now + ROUTE_RECONNECT + jitter);
        } else if retry {
            self.schedule_route_dial(index, now + jitter);
        } else {
            target.removed = true;
        }
    }

    /// A peer told us of server `id` at `url` (gossip): dial it, unless a
    /// route to it exists or is configured (nats-server's
    /// `processImplicitRoute`).
    pub(in crate::core) fn learn_route(
        &mut self,
        id: &str,
        url: &str,
        gossip_mode: u8,
        auth: bool,
        now: Instant,
    ) {
        if id == self.info.server_id || self.route_to(id).is_some() {
            return;
        }
        let Some(mut url) = RouteUrl::parse_with_default_port(url, DEFAULT_ROUTE_PORT) else {
            log::error!("Error parsing URL from INFO: {url:?}");
            return;
        };
        let known = self.routes.targets.iter().any(|t| {
            !t.removed
                && (t.remote_id.as_deref() == Some(id)
                    || (t.explicit && t.url.host_port().eq_ignore_ascii_case(&url.host_port())))
        });
        if known {
            return;
        }
        if auth {
            if let Some(cluster) = &self.opts.cluster {
                url.user.clone_from(&cluster.username);
                url.password.clone_from(&cluster.password);
            }
        }
        let index = self.add_route_target(url, false, gossip_mode);
        self.routes.targets[index].remote_id = Some(id.into());
        self.schedule_route_dial(index, now);
    }
}
