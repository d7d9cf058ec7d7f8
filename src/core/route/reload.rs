//! What a reload (SIGHUP) may change of `cluster {}`, as nats-server's
//! `clusterOption` and `routesOption`: routes come and go, the name, the
//! authorization and `no_advertise` apply from then on; the listener's
//! host and port cannot change (nats-server's texts). natsd refuses a
//! change of the cluster's `permissions` or `tls` (nats-server applies
//! them; natsd does not yet, so it says so rather than keep the old ones).

use std::time::Instant;

use super::dials::DEFAULT_ROUTE_PORT;
use super::RouteUrl;
use crate::core::closed::CloseReason;
use crate::core::Core;
use crate::options::{ClusterOptions, Options};

/// nats-server's `validateClusterOpts`, and what natsd cannot reload.
pub fn refuse_unsupported(old: &Options, new: &Options) -> Result<(), String> {
    let none = ClusterOptions {
        compression: String::new(),
        ..ClusterOptions::default()
    };
    let (old, new) = (
        old.cluster.as_ref().unwrap_or(&none),
        new.cluster.as_ref().unwrap_or(&none),
    );
    if old.host != new.host {
        return Err(format!(
            "config reload not supported for cluster host: old={}, new={}",
            old.host, new.host
        ));
    }
    if old.port != new.port {
        return Err(format!(
            "config reload not supported for cluster port: old={}, new={}",
            old.port, new.port
        ));
    }
    if old.permissions != new.permissions {
        return Err("config reload not supported by natsd for cluster permissions".into());
    }
    if old.tls != new.tls {
        return Err("config reload not supported by natsd for cluster tls".into());
    }
    Ok(())
}

impl Core {
    /// Apply a reloaded `cluster {}` (already checked by
    /// [`refuse_unsupported`]); returns what changed, for the
    /// `Reloaded: ...` lines.
    pub(in crate::core) fn reload_cluster(&mut self, old: &Options, now: Instant) -> Vec<String> {
        let mut notes = Vec::new();
        let (Some(before), Some(after)) = (old.cluster.clone(), self.opts.cluster.clone()) else {
            return notes;
        };
        let without_routes = |c: &ClusterOptions| ClusterOptions {
            routes: Vec::new(),
            ..c.clone()
        };
        if without_routes(&before) != without_routes(&after) {
            if let Some(name) = after
                .name
                .as_ref()
                .filter(|n| **n != self.routes.cluster_name)
            {
                self.routes.cluster_name = name.clone();
                self.routes.dynamic_name = false;
                self.info.cluster = name.clone();
            }
            self.update_connect_urls(true);
            notes.push("cluster".to_string());
        }
        let removed: Vec<&String> = before
            .routes
            .iter()
            .filter(|r| !after.routes.contains(r))
            .collect();
        let added: Vec<&String> = after
            .routes
            .iter()
            .filter(|r| !before.routes.contains(r))
            .collect();
        for text in &removed {
            let Some(url) = RouteUrl::parse_with_default_port(text, DEFAULT_ROUTE_PORT) else {
                continue;
            };
            for index in 0..self.routes.targets.len() {
                let target = &mut self.routes.targets[index];
                if !target.explicit || target.removed || target.url != url {
                    continue;
                }
                target.removed = true;
                if let Some(key) = target.conn.take() {
                    if let Some(route) =
                        self.conns.get_mut(key).and_then(|c| c.route.as_deref_mut())
                    {
                        route.target = None;
                    }
                    self.close(key, CloseReason::RouteRemoved);
                    log::info!("Removed route {text}");
                }
            }
        }
        for text in &added {
            if let Some(url) = RouteUrl::parse_with_default_port(text, DEFAULT_ROUTE_PORT) {
                let index = self.add_route_target(url, true, 0);
                self.schedule_route_dial(index, now);
            }
        }
        if !removed.is_empty() || !added.is_empty() {
            notes.push("cluster routes".to_string());
        }
        notes
    }
}
