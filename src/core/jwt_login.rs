//! Operator mode in the core: accounts made from their JWTs, and clients
//! admitted by their user JWTs (the checks themselves are
//! `auth::operator`'s).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::closed::CloseReason;
use super::conn::UserJwt;
use super::timers::TimerKind;
use super::Core;
use crate::auth::operator::{self, JwtAccount, Presented, Trust};
use crate::auth::permissions::{CompiledPermissions, ConnPermissions};
use crate::options::Options;
use crate::proto::error as text;

/// What operator mode keeps: whom it trusts and the accounts it resolved.
pub(super) struct OperatorState {
    pub trust: Trust,
    /// By account key.
    pub accounts: HashMap<String, Arc<JwtAccount>>,
    /// Preloaded JWTs that did not load, and why.
    pub invalid: HashMap<String, &'static str>,
}

impl OperatorState {
    /// nats-server's account lookup through a memory resolver.
    fn lookup(&self, key: &str) -> Result<&JwtAccount, &'static str> {
        if let Some(account) = self.accounts.get(key) {
            return Ok(account);
        }
        Err(self.invalid.get(key).copied().unwrap_or("account missing"))
    }
}

/// Unix seconds of `at`.
pub(super) fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// In operator mode, resolve the accounts of `opts` from their JWTs and
/// make them `opts.accounts` (exports and imports as the config file's
/// would be), so the core routes between them as between any accounts.
pub(super) fn prepare(opts: &mut Options, now: i64) -> Option<Box<OperatorState>> {
    if !opts.operator_mode() {
        return None;
    }
    let trust = Trust::new(opts);
    let resolved = operator::resolve(opts, &trust, now);
    let (configs, notes) = operator::account_configs(&resolved, now);
    for note in notes {
        log::debug!("{note}");
    }
    opts.accounts = configs;
    Some(Box::new(OperatorState {
        trust,
        accounts: resolved
            .accounts
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect(),
        invalid: resolved.invalid,
    }))
}

/// The start-up lines nats-server logs in operator mode.
pub(super) fn log_start(opts: &Options, state: &OperatorState) {
    log::info!("Trusted Operators");
    for op in &state.trust.operators {
        log::info!("  System  : {:?}", op.claims.aud);
        log::info!("  Operator: {:?}", op.claims.name);
        log::info!("  Issued  : {}", go_time(op.claims.iat));
        if op.claims.exp == 0 {
            log::info!("  Expires : Never");
        } else {
            log::info!("  Expires : {}", go_time(op.claims.exp));
        }
    }
    if opts.system_account == crate::options::SYSTEM_ACCOUNT {
        log::warn!("Trusted Operators should utilize a System Account");
    }
    let mut invalid: Vec<&String> = state.invalid.keys().collect();
    invalid.sort();
    for key in invalid {
        log::error!("Preloaded account [{key}] not valid");
    }
}

/// Go's `time.Time.String()` of Unix seconds, in UTC.
fn go_time(unix: i64) -> String {
    let at = UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    format!("{} +0000 UTC", crate::go_format::utc_date_time(at))
}

impl Core {
    /// Give each account made from a JWT its claims.
    pub(super) fn attach_account_jwts(&mut self) {
        let Some(state) = &self.operator else {
            return;
        };
        for account in &mut self.accounts.list {
            account.jwt = state.accounts.get(&*account.name).cloned();
        }
    }

    /// Admit connection `key` by its user JWT, as nats-server does in
    /// operator mode. A refused client is told and closed (false).
    pub(super) fn admit_jwt(&mut self, key: usize, now: Instant) -> bool {
        let nonce = self.nonce(self.conns[key].cid);
        let nonce = nonce.as_ref().map_or(&[][..], |n| &n[..]);
        let unix = unix_seconds(self.clock.at(now));
        let conn = &self.conns[key];
        let Some(state) = self.operator.as_deref() else {
            return false;
        };
        let presented = Presented {
            jwt: conn.opts.jwt(),
            sig: conn.opts.sig(),
            nonce,
            ip: conn.addr.ip().to_canonical(),
            kind: if conn.leaf.is_some() {
                "LEAFNODE"
            } else if conn.websocket.is_some() {
                "WEBSOCKET"
            } else {
                "STANDARD"
            },
        };
        let checked = if conn.opts.new_account || conn.opts.named_account {
            Err(None)
        } else {
            operator::check_user(&presented, |k| state.lookup(k), unix).map_err(Some)
        };
        let login = match checked {
            Ok(login) => login,
            // A connected client revoked by a reload is told so, as
            // nats-server tells one revoked by an account update.
            Err(Some(refusal)) if refusal.revoked && conn.user_jwt.is_some() => {
                let account = self.accounts.list[conn.account as usize]
                    .jwt
                    .as_ref()
                    .map_or("", |j| j.name_tag());
                log::debug!(
                    "{} - {} - Account:{account}",
                    conn.tag(),
                    text::USER_AUTHENTICATION_REVOKED
                );
                self.send_err(key, text::USER_AUTHENTICATION_REVOKED);
                self.close(key, CloseReason::CredentialsRevoked);
                return false;
            }
            Err(refusal) => {
                if let Some(refusal) = refusal {
                    if refusal.error {
                        log::error!("{} - {}", conn.tag(), refusal.log);
                    } else {
                        log::debug!("{} - {}", conn.tag(), refusal.log);
                    }
                }
                log::error!("{} - authentication error", conn.tag());
                self.send_err(key, text::AUTHORIZATION_VIOLATION);
                self.close(key, CloseReason::AuthenticationViolation);
                return false;
            }
        };
        let Some(account) = self.accounts.find(&login.account) else {
            log::debug!("{} - Account JWT lookup error: account missing", conn.tag());
            self.send_err(key, text::AUTHORIZATION_VIOLATION);
            self.close(key, CloseReason::AuthenticationViolation);
            return false;
        };
        let max_conns = state
            .accounts
            .get(&login.account)
            .and_then(|a| a.max_connections());
        let here = usize::from(conn.account == account);
        let others = self.accounts.list[account as usize].num_conns - here;
        if max_conns.is_some_and(|max| others >= max) {
            log::error!(
                "{} - {}",
                conn.tag(),
                text::MAX_ACCOUNT_CONNECTIONS_EXCEEDED
            );
            self.send_err(key, text::MAX_ACCOUNT_CONNECTIONS_EXCEEDED);
            self.close(key, CloseReason::MaxAccountConnectionsExceeded);
            return false;
        }
        let perms = login
            .permissions
            .as_ref()
            .map(|p| Arc::new(CompiledPermissions::new(p)));
        let expires_at = login.expires_in.map(|d| now + d);
        let server_payload = self.opts.max_payload as usize;
        let conn = &mut self.conns[key];
        let moved_from = std::mem::replace(&mut conn.account, account);
        conn.perms = perms.map(|rules| Box::new(ConnPermissions::new(rules)));
        conn.authorized_user = Some(login.user.as_str().into());
        conn.parser.max_payload = login
            .max_payload
            .map_or(server_payload, |p| p.min(server_payload));
        conn.user_jwt = Some(Box::new(UserJwt {
            max_subs: login.max_subs,
            max_payload: login.max_payload,
            expires_at,
            issuer_key: login.issuer_key.into(),
            tags: login.tags,
            bearer: login.bearer,
        }));
        let cid = conn.cid;
        self.accounts.list[moved_from as usize].num_conns -= 1;
        self.accounts.list[account as usize].num_conns += 1;
        if let Some(at) = expires_at {
            self.schedule(key, cid, TimerKind::Expiry, at);
        }
        true
    }

    /// A timer for each account whose JWT expires, at its `exp`.
    pub(super) fn schedule_account_expiries(&mut self, now: Instant) {
        let unix = unix_seconds(self.clock.at(now));
        for (index, account) in self.accounts.list.iter().enumerate() {
            let Some(exp) = account.jwt.as_ref().map(|j| j.claims.exp) else {
                continue;
            };
            if exp == 0 {
                continue;
            }
            let left = std::time::Duration::from_secs(u64::try_from(exp - unix).unwrap_or(0));
            self.timers.schedule(super::timers::Timer {
                at: now + left,
                key: index,
                cid: 0,
                kind: TimerKind::AccountExpiry,
            });
        }
    }

    /// An account's JWT expired: nats-server's `expiredTimeout` tells each
    /// of its clients and closes it.
    pub(super) fn account_expiry_timer(&mut self, account: u32, now: Instant) {
        let unix = unix_seconds(self.clock.at(now));
        let expired = self.accounts.list[account as usize]
            .jwt
            .as_ref()
            .is_some_and(|j| j.expired(unix));
        if !expired {
            // Replaced by a reload, or the timer came a moment early.
            if let Some(j) = &self.accounts.list[account as usize].jwt {
                if j.claims.exp > unix {
                    self.timers.schedule(super::timers::Timer {
                        at: now + std::time::Duration::from_secs((j.claims.exp - unix) as u64),
                        key: account as usize,
                        cid: 0,
                        kind: TimerKind::AccountExpiry,
                    });
                }
            }
            return;
        }
        let keys: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.account == account && c.connected && !c.is_closing())
            .map(|(key, _)| key)
            .collect();
        for key in keys {
            let conn = &self.conns[key];
            log::debug!("{} - {}", conn.tag(), text::ACCOUNT_AUTHENTICATION_EXPIRED);
            self.send_err(key, text::ACCOUNT_AUTHENTICATION_EXPIRED);
            self.close(key, CloseReason::AuthenticationExpired);
        }
    }

    /// A connection's user JWT expired (or its connect window ended).
    pub(super) fn expiry_timer(&mut self, key: usize, at: Instant) {
        let conn = &self.conns[key];
        let due = conn
            .user_jwt
            .as_ref()
            .is_some_and(|u| u.expires_at == Some(at));
        if due {
            log::debug!("{} - User Authentication Expired", conn.tag());
            self.send_err(key, text::USER_AUTHENTICATION_EXPIRED);
            self.close(key, CloseReason::AuthenticationExpired);
        }
    }
}
