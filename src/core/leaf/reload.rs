//! What a reload (SIGHUP) may change of `leafnodes {}`, as nats-server's
//! `getLeafNodeOptionsChanges`: remotes come and go, a remote may be
//! disabled or enabled, TLS certificates are read again; anything else is
//! refused with nats-server's text and changes nothing.

use std::time::Instant;

use super::remotes::{remote_name, Remote};
use crate::core::closed::CloseReason;
use crate::core::Core;
use crate::options::{LeafnodeOptions, Options, RemoteLeafOptions};

/// `config reload not supported for LeafNode: ...` when `new` changes what
/// cannot change while running.
pub fn refuse_unsupported(old: &Options, new: &Options) -> Result<(), String> {
    let default = LeafnodeOptions::default();
    let (old, new) = (
        old.leafnodes.as_ref().unwrap_or(&default),
        new.leafnodes.as_ref().unwrap_or(&default),
    );
    let refuse = |what: String| Err(format!("config reload not supported for LeafNode: {what}"));
    let field = |name: &str, old: &dyn std::fmt::Debug, new: &dyn std::fmt::Debug| {
        refuse(format!("field {name:?}: old={old:?}, new={new:?}"))
    };
    if old.host != new.host {
        return field("Host", &old.host, &new.host);
    }
    if old.port != new.port {
        return field("Port", &old.port, &new.port);
    }
    if old.username != new.username {
        return field("Username", &old.username, &new.username);
    }
    if old.password != new.password {
        return refuse("field \"Password\"".into());
    }
    if old.users != new.users {
        let names = |l: &LeafnodeOptions| -> Vec<String> {
            l.users.iter().map(|u| u.username.clone()).collect()
        };
        return field("Users", &names(old), &names(new));
    }
    if old.account != new.account {
        return field("Account", &old.account, &new.account);
    }
    if old.auth_timeout != new.auth_timeout {
        return field("AuthTimeout", &old.auth_timeout, &new.auth_timeout);
    }
    if old.advertise != new.advertise {
        return field("Advertise", &old.advertise, &new.advertise);
    }
    if old.no_advertise != new.no_advertise {
        return field("NoAdvertise", &old.no_advertise, &new.no_advertise);
    }
    if old.reconnect_interval != new.reconnect_interval {
        let d = |l: &LeafnodeOptions| crate::go_format::duration(l.reconnect_interval);
        return refuse(format!(
            "field \"ReconnectInterval\": old={}, new={}",
            d(old),
            d(new)
        ));
    }
    for remote in &new.remotes {
        let name = remote_name(remote, false);
        let Some(before) = old.remotes.iter().find(|r| remote_name(r, false) == name) else {
            continue;
        };
        if let Some((field, was, is)) = fixed_field_changed(before, remote) {
            return refuse(format!(
                "remote {}: field {field:?}: old={was}, new={is}",
                remote_name(remote, true)
            ));
        }
    }
    Ok(())
}

/// The first field of a remote that a reload may not change and did.
fn fixed_field_changed(
    old: &RemoteLeafOptions,
    new: &RemoteLeafOptions,
) -> Option<(&'static str, String, String)> {
    let list = |l: &[String]| format!("[{}]", l.join(" "));
    if old.deny_imports != new.deny_imports {
        return Some((
            "DenyImports",
            list(&old.deny_imports),
            list(&new.deny_imports),
        ));
    }
    if old.deny_exports != new.deny_exports {
        return Some((
            "DenyExports",
            list(&old.deny_exports),
            list(&new.deny_exports),
        ));
    }
    let pairs: [(&'static str, bool, bool); 5] = [
        ("Hub", old.hub, new.hub),
        ("NoRandomize", old.no_randomize, new.no_randomize),
        (
            "IgnoreDiscoveredServers",
            old.ignore_discovered_servers,
            new.ignore_discovered_servers,
        ),
        ("WSCompression", old.ws_compression, new.ws_compression),
        ("WSNoMasking", old.ws_no_masking, new.ws_no_masking),
    ];
    for (name, was, is) in pairs {
        if was != is {
            return Some((name, was.to_string(), is.to_string()));
        }
    }
    if old.first_info_timeout != new.first_info_timeout {
        let d = crate::go_format::duration;
        return Some((
            "FirstInfoTimeout",
            d(old.first_info_timeout),
            d(new.first_info_timeout),
        ));
    }
    None
}

impl Core {
    /// After a reload: removed remotes are closed for good, added ones
    /// dialed, and a remote's `disabled` applied. Returns the `Reloaded:`
    /// notes.
    pub(in crate::core) fn reload_remotes(&mut self, now: Instant) -> Vec<String> {
        let mut notes = Vec::new();
        let wanted: Vec<RemoteLeafOptions> = self
            .opts
            .leafnodes
            .as_ref()
            .map(|l| l.remotes.clone())
            .unwrap_or_default();
        for index in 0..self.leaf.remotes.len() {
            let remote = &self.leaf.remotes[index];
            if remote.removed {
                continue;
            }
            let name = remote.name();
            match wanted.iter().find(|r| remote_name(r, false) == name) {
                None => {
                    let safe = remote_name(&remote.opts, true);
                    self.leaf.remotes[index].removed = true;
                    if let Some(key) = self.leaf.remotes[index].conn {
                        self.close(key, CloseReason::ClientClosed);
                    }
                    notes.push(format!("LeafNode Remote {safe} removed"));
                }
                Some(opts) => {
                    let was_disabled = remote.opts.disabled;
                    let remote = &mut self.leaf.remotes[index];
                    // TLS settings take effect at the next connection.
                    remote.opts = opts.clone();
                    if was_disabled != opts.disabled {
                        notes.push(format!(
                            "LeafNode Remote {} Disabled value is: {}",
                            remote_name(opts, true),
                            opts.disabled
                        ));
                        if opts.disabled {
                            if let Some(key) = remote.conn {
                                self.close(key, CloseReason::ClientClosed);
                            }
                        } else if remote.conn.is_none() {
                            self.schedule_dial(index, now);
                        }
                    }
                }
            }
        }
        for opts in wanted {
            let name = remote_name(&opts, false);
            let known = self
                .leaf
                .remotes
                .iter()
                .any(|r| !r.removed && r.name() == name);
            if known {
                continue;
            }
            let mut rng = |n: usize| self.rng.below(n);
            let remote = Remote::new(&opts, &mut rng);
            self.leaf.remotes.push(remote);
            if !opts.disabled {
                self.schedule_dial(self.leaf.remotes.len() - 1, now);
            }
        }
        notes
    }
}
