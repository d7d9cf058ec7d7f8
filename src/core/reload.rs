//! Configuration reload (SIGHUP): apply what nats-server applies live, log
//! each change as it does (`Reloaded: max_payload = 2048`), and refuse the
//! whole reload when something that cannot change live has changed.

use crate::go_format;
use crate::options::Options;
use crate::proto::error;

use super::client::go_quote;
use super::closed::CloseReason;
use super::Core;

/// The client listener's `pinned_certs`.
fn pinned_certs(opts: &Options) -> Vec<String> {
    opts.tls
        .as_ref()
        .map(|t| t.pinned_certs.clone())
        .unwrap_or_default()
}

impl Core {
    /// New `pinned_certs`: TLS clients whose certificate they leave out
    /// are closed (nats-server's `recheckPinnedCerts`; it checks the old
    /// set for clients, natsd the new one, as it does for other kinds).
    fn recheck_pinned_certs(&mut self) {
        let pins = pinned_certs(&self.opts);
        if pins.is_empty() {
            return;
        }
        let unpinned: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.websocket.is_none())
            .filter_map(|(key, c)| {
                let tls = c.tls.as_ref()?;
                let pinned = tls
                    .peer_certs
                    .first()
                    .is_some_and(|cert| pins.contains(&cert.spki_sha256));
                (!pinned).then_some(key)
            })
            .collect();
        if unpinned.is_empty() {
            return;
        }
        log::info!(
            "Disconnect {} clients due to pinned certs reload",
            unpinned.len()
        );
        for key in unpinned {
            self.close(key, CloseReason::TlsHandshakeFailure);
        }
    }

    /// Replace the running options with `new`. Nothing is applied when an
    /// option that cannot change live differs; the error names it as
    /// nats-server does (`config reload not supported for Port: ...`).
    pub fn reload(&mut self, new: Options, now: std::time::Instant) -> Result<(), String> {
        refuse_unsupported(&self.opts, &new)?;
        new.validate()?;
        #[cfg(feature = "jwt")]
        let (new, operator) = {
            let mut new = new;
            let unix = super::jwt_login::unix_seconds(self.clock.at(now));
            let operator = super::jwt_login::prepare(&mut new, unix);
            (new, operator)
        };
        // What can fail is done first, so a failed reload changes nothing.
        if self.opts.pid_file != new.pid_file {
            if let Some(path) = &new.pid_file {
                std::fs::write(path, std::process::id().to_string())
                    .map_err(|e| format!("pid file {}: {e}", path.display()))?;
            }
        }
        if self.opts.log_settings() != new.log_settings() {
            crate::logging::apply(&new.log_settings()).map_err(|e| format!("log file: {e}"))?;
        }
        let old = std::mem::replace(&mut self.opts, new);
        let new = &self.opts;
        let mut changed: Vec<String> = Vec::new();
        let mut note = |what: String| changed.push(what);

        if old.trace != new.trace {
            note(format!("trace = {}", new.trace));
        }
        if old.debug != new.debug {
            note(format!("debug = {}", new.debug));
        }
        if old.logtime != new.logtime {
            note(format!("logtime = {}", new.logtime));
        }
        if old.log_file != new.log_file {
            let file = new.log_file.as_ref().map(|p| p.display().to_string());
            note(format!("log_file = {}", file.unwrap_or_default()));
        }
        if old.username != new.username {
            note("authorization username".into());
        }
        if old.password != new.password {
            note("authorization password".into());
        }
        if old.authorization != new.authorization {
            note("authorization token".into());
        }
        if old.users != new.users || old.no_auth_user != new.no_auth_user {
            note("authorization users".into());
        }
        if old.accounts != new.accounts || old.system_account != new.system_account {
            note("accounts".into());
        }
        if old.auth_timeout != new.auth_timeout {
            note(format!(
                "authorization timeout = {}",
                new.auth_timeout.as_secs_f64()
            ));
        }
        let tls_timeout = |o: &Options| o.tls.as_ref().and_then(|t| t.timeout);
        if tls_timeout(&old) != tls_timeout(new) {
            let seconds = tls_timeout(new).map_or(2.0, |t| t.as_secs_f64());
            note(format!("tls timeout = {seconds}"));
        }
        // The certificates are read again at every reload, so nats-server
        // says so every time.
        match (&old.tls, &new.tls) {
            (_, Some(_)) => note("tls = enabled".into()),
            (Some(_), None) => note("tls = disabled".into()),
            (None, None) => {}
        }
        let pins = pinned_certs;
        if pins(&old) != pins(new) {
            note(format!("{} pinned_certs", pins(new).len()));
        }
        let first = |o: &Options| {
            o.tls
                .as_ref()
                .map(|t| t.handshake_first)
                .unwrap_or_default()
        };
        if first(&old) != first(new) {
            use crate::options::HandshakeFirst;
            let (on, delay) = match first(new) {
                HandshakeFirst::Off => (false, std::time::Duration::ZERO),
                HandshakeFirst::On => (true, std::time::Duration::ZERO),
                HandshakeFirst::Fallback(delay) => (true, delay),
            };
            note(format!("Client TLS handshake first: {on}"));
            note(format!(
                "Client TLS handshake first fallback delay: {}",
                go_format::duration(delay)
            ));
        }
        if old.max_connections != new.max_connections {
            note(format!("max_connections = {}", new.max_connections));
        }
        if old.pid_file != new.pid_file {
            let file = new.pid_file.as_ref().map(|p| p.display().to_string());
            note(format!("pid_file = {}", file.unwrap_or_default()));
        }
        if old.max_control_line != new.max_control_line {
            note(format!("max_control_line = {}", new.max_control_line));
        }
        if old.max_payload != new.max_payload {
            note(format!("max_payload = {}", new.max_payload));
        }
        if old.ping_interval != new.ping_interval {
            note(format!(
                "ping_interval = {}",
                go_format::duration(new.ping_interval)
            ));
        }
        if old.max_pings_out != new.max_pings_out {
            note(format!("ping_max = {}", new.max_pings_out));
        }
        if old.write_deadline != new.write_deadline {
            note(format!(
                "write_deadline = {}",
                go_format::duration(new.write_deadline)
            ));
        }
        // The rest (max_pending, max_subscriptions, lame duck timing) is
        // read where it is used and needs nothing more.

        self.info.max_payload = self.opts.max_payload;
        self.info.auth_required = self.opts.auth_required();
        super::tls_info(&self.opts, &mut self.info);
        let (max_control_line, max_payload) = (
            self.opts.max_control_line as usize,
            self.opts.max_payload as usize,
        );
        for (_, conn) in self.conns.iter_mut() {
            conn.parser.max_control_line = max_control_line;
            let user_max = conn.user_jwt.as_ref().and_then(|u| u.max_payload);
            conn.parser.max_payload = user_max.map_or(max_payload, |u| u.min(max_payload));
        }
        if self.auth_changed(&old) {
            #[cfg(feature = "jwt")]
            {
                self.operator = operator;
            }
            self.remove_routes();
            self.accounts.configure(&self.opts);
            #[cfg(feature = "jwt")]
            {
                self.attach_account_jwts();
                self.schedule_account_expiries(now);
            }
            self.permissions = super::compile_permissions(&self.opts);
            self.place_routes();
            self.recheck_clients(now);
        }
        self.enforce_max_connections();
        if pins(&old) != pins(&self.opts) {
            self.recheck_pinned_certs();
        }

        changed.extend(self.reload_remotes(now));
        changed.extend(self.reload_cluster(&old, now));
        for what in &changed {
            log::info!("Reloaded: {what}");
        }
        log::info!("Reloaded server configuration");
        Ok(())
    }

    fn auth_changed(&self, old: &Options) -> bool {
        old.username != self.opts.username
            || old.password != self.opts.password
            || old.authorization != self.opts.authorization
            || old.users != self.opts.users
            || old.no_auth_user != self.opts.no_auth_user
            || old.accounts != self.opts.accounts
            || old.system_account != self.opts.system_account
            || old.trusted_operators != self.opts.trusted_operators
            || old.trusted_keys != self.opts.trusted_keys
            || old.resolver_preload != self.opts.resolver_preload
    }

    /// nats-server's `reloadAuthorization` for connected clients: one
    /// whose user is gone or now in another account is closed; one whose
    /// credentials no longer pass is told and closed; the others get their
    /// user's new permissions, and lose the subscriptions those deny.
    fn recheck_clients(&mut self, now: std::time::Instant) {
        let keys: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.connected && !c.is_closing())
            .map(|(key, _)| key)
            .collect();
        for key in keys {
            let conn = &self.conns[key];
            if !conn.opts.user.is_empty() && self.opts.users.is_some() {
                let user = self
                    .opts
                    .users
                    .iter()
                    .flatten()
                    .find(|u| *u.username == *conn.opts.user);
                let moved = user.is_none_or(|u| {
                    self.accounts.of_user(u.account.as_deref()) != Some(conn.account)
                });
                if moved {
                    log::debug!(
                        "{} - Closing: user {:?} is gone or in another account",
                        conn.tag(),
                        conn.opts.user
                    );
                    self.close(key, CloseReason::ClientClosed);
                    continue;
                }
            }
            if !self.admit(key, now) {
                continue;
            }
            self.recheck_subscriptions(key);
        }
    }

    /// Remove the subscriptions connection `key`'s permissions now deny,
    /// telling it of each as nats-server does.
    fn recheck_subscriptions(&mut self, key: usize) {
        let conn = &self.conns[key];
        let Some(perms) = &conn.perms else {
            return;
        };
        let rules = perms.rules().clone();
        let (denied, kept): (Vec<usize>, Vec<usize>) =
            conn.subs.keys().into_iter().partition(|&k| {
                self.subs
                    .get(k)
                    .is_some_and(|s| !rules.subscribe_allowed(s.subject(), s.queue()))
            });
        // The new permissions filter deliveries if a kept subscription
        // overlaps what they deny.
        for sub_key in kept {
            let sub = &self.subs[sub_key];
            if let Some(perms) = &mut self.conns[key].perms {
                perms.note_subscription(sub.subject(), sub.queue());
            }
        }
        for sub_key in denied {
            let sub = &self.subs[sub_key];
            let what = match sub.queue() {
                Some(q) => format!("{} using queue {}", go_quote(sub.subject()), go_quote(q)),
                None => go_quote(sub.subject()),
            };
            let sid = go_quote(sub.sid());
            let conn = &self.conns[key];
            log::info!(
                "{} - Removed sub {what} (sid {sid}) for User {:?} - not authorized",
                conn.tag(),
                conn.opts.user
            );
            self.unsubscribe(sub_key);
            self.send_err(
                key,
                &format!("Permissions Violation for Subscription to {what} (sid {sid})"),
            );
        }
    }

    /// Close the newest connections beyond a lowered `max_connections`.
    fn enforce_max_connections(&mut self) {
        let live = self.conns.iter().filter(|(_, c)| !c.is_closing()).count();
        let Some(excess) = live.checked_sub(self.opts.max_connections) else {
            return;
        };
        if excess == 0 {
            return;
        }
        let mut newest: Vec<(u64, usize)> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.is_closing())
            .map(|(key, c)| (c.cid, key))
            .collect();
        newest.sort_unstable_by(|a, b| b.cmp(a));
        for &(_, key) in &newest[..excess] {
            self.send_err(key, error::MAX_CONNECTIONS_EXCEEDED);
            self.close(key, CloseReason::MaxConnectionsExceeded);
        }
        log::info!("Closed {excess} connections to fall within max_connections");
    }
}

/// The options a running server cannot change: its listening address.
fn refuse_unsupported(old: &Options, new: &Options) -> Result<(), String> {
    super::leaf::refuse_unsupported_reload(old, new)?;
    super::route::refuse_unsupported_reload(old, new)?;
    let refuse = |field: &str, old: &dyn std::fmt::Display, new: &dyn std::fmt::Display| {
        Err(format!(
            "config reload not supported for {field}: old={old}, new={new}"
        ))
    };
    if old.host != new.host {
        return refuse("Host", &old.host, &new.host);
    }
    if old.port != new.port {
        return refuse("Port", &old.port, &new.port);
    }
    if old.server_name != new.server_name {
        let name = |n: &Option<String>| n.clone().unwrap_or_default();
        return refuse(
            "ServerName",
            &name(&old.server_name),
            &name(&new.server_name),
        );
    }
    // The rest of `tls {}` reloads (the reactor reads the certificates
    // again); these two do not, in nats-server either.
    let map = |o: &Options| o.tls.as_ref().is_some_and(|t| t.verify_and_map);
    if map(old) != map(new) {
        return refuse("TLSMap", &map(old), &map(new));
    }
    if old.allow_non_tls != new.allow_non_tls {
        return refuse("AllowNonTLS", &old.allow_non_tls, &new.allow_non_tls);
    }
    if old.http_port != new.http_port {
        return refuse("HTTPPort", &old.http_port, &new.http_port);
    }
    if old.https_port != new.https_port {
        return refuse("HTTPSPort", &old.https_port, &new.https_port);
    }
    // nats-server reloads only the WebSocket TLS certificates; natsd
    // reloads nothing of the block yet.
    if old.websocket != new.websocket {
        return Err(format!(
            "config reload not supported for Websocket: old={:?}, new={:?}",
            old.websocket.as_ref().map(|w| (&w.host, w.port)),
            new.websocket.as_ref().map(|w| (&w.host, w.port))
        ));
    }
    Ok(())
}
