//! The soliciting side's bookkeeping: each configured remote (a hub this
//! server connects to as a leaf node), its URLs (configured, then those the
//! hub advertises), and when it is dialed next, as nats-server's
//! `leafNodeCfg` and `connectToRemoteLeafNode` do it.
//!
//! The core decides when and where to dial; the reactor dials and reports
//! back ([`Core::connect_leaf`], [`Core::leaf_dial_failed`]).

use std::time::{Duration, Instant};

use crate::options::RemoteLeafOptions;

#[cfg(feature = "leafnodes")]
use super::super::{timers::TimerKind, Core};

/// nats-server's `DEFAULT_LEAFNODE_PORT`, for a URL without a port.
pub const DEFAULT_LEAFNODE_PORT: u16 = 7422;

/// A remote's URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafUrl {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The path of a `ws://` URL (`/leafnode` goes after it).
    pub path: String,
}

impl LeafUrl {
    /// `scheme://[user[:password]@]host[:port][/path]`, as Go's
    /// `url.Parse` reads what a leaf remote can hold.
    pub fn parse(text: &str) -> Result<LeafUrl, String> {
        Self::parse_with_default_port(text, DEFAULT_LEAFNODE_PORT)
            .ok_or_else(|| format!("error parsing leafnode url [{text:?}]"))
    }

    /// As [`LeafUrl::parse`], with `default_port` for a URL without one
    /// (route URLs read the same way, with 6222); `None` when malformed.
    pub fn parse_with_default_port(text: &str, default_port: u16) -> Option<LeafUrl> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://")?;
        let path = rest
            .find('/')
            .map(|i| rest[i..].split('?').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let rest = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(unescape(user)), Some(unescape(pass))),
                None => (Some(unescape(u)), None),
            },
            None => (None, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port {
            Some(p) if !p.is_empty() => p.parse().ok()?,
            _ => default_port,
        };
        if host.is_empty() {
            return None;
        }
        Some(LeafUrl {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_string(),
            port,
            user,
            password,
            path,
        })
    }

    /// `host:port`, as nats-server's log lines and `/varz` name it.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `tls://` and `wss://` ask for TLS.
    pub fn wants_tls(&self) -> bool {
        self.scheme == "tls" || self.scheme == "wss"
    }

    pub fn is_websocket(&self) -> bool {
        self.scheme == "ws" || self.scheme == "wss"
    }
}

/// `%XX` escapes of a URL's user information.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One configured remote and where its connection stands.
#[derive(Debug)]
pub struct Remote {
    pub opts: RemoteLeafOptions,
    /// The configured URLs, in the order they are tried (shuffled unless
    /// `no_randomize`).
    pub configured: Vec<LeafUrl>,
    /// The hub's `leafnode_urls` not already configured, tried first.
    pub learned: Vec<LeafUrl>,
    /// The URL dialed last, as an index into learned ++ configured.
    pub current: usize,
    /// The user and password of the first configured URL that has them:
    /// also used for the URLs the hub advertises.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Failed dials in this round, for the log lines.
    pub attempts: u32,
    /// The live connection, from the dial on.
    pub conn: Option<usize>,
    /// A wait before the next dial, set by a loop or a refusal.
    pub delay: Option<Duration>,
    /// Dialed at start-up (reports of failures are rarer then).
    pub first_connect: bool,
    /// Removed by a reload: never dialed again.
    pub removed: bool,
    /// When the next dial is due, so a stale timer is recognised.
    pub due: Option<Instant>,
}

/// A dial the reactor is to make.
#[derive(Debug, Clone)]
pub struct LeafDial {
    pub remote: usize,
    pub url: LeafUrl,
}

/// How often a failure to connect at start-up is reported at error level
/// (nats-server's `connect_error_reports` default); after start-up every
/// failure is (`reconnect_error_reports` 1).
const CONNECT_ERROR_REPORTS: u32 = 3600;

impl Remote {
    pub fn new(opts: &RemoteLeafOptions, shuffle: &mut impl FnMut(usize) -> usize) -> Remote {
        let mut configured: Vec<LeafUrl> = opts
            .urls
            .iter()
            .filter_map(|u| LeafUrl::parse(u).ok())
            .collect();
        if !opts.no_randomize {
            for i in (1..configured.len()).rev() {
                configured.swap(i, shuffle(i + 1));
            }
        }
        let with_user = configured.iter().find(|u| u.user.is_some());
        Remote {
            user: with_user.and_then(|u| u.user.clone()),
            password: with_user.and_then(|u| u.password.clone()),
            opts: opts.clone(),
            configured,
            learned: Vec::new(),
            current: usize::MAX,
            attempts: 0,
            conn: None,
            delay: None,
            first_connect: true,
            removed: false,
            due: None,
        }
    }

    /// nats-server's `pickNextURL`: the next URL after the last one.
    fn next_url(&mut self) -> Option<LeafUrl> {
        let total = self.learned.len() + self.configured.len();
        if total == 0 {
            return None;
        }
        self.current = if self.current >= total - 1 {
            0
        } else {
            self.current + 1
        };
        let url = if self.current < self.learned.len() {
            &self.learned[self.current]
        } else {
            &self.configured[self.current - self.learned.len()]
        };
        Some(url.clone())
    }

    /// The URL dialed last (for the connection's log lines).
    pub fn current_url(&self) -> Option<&LeafUrl> {
        if self.current < self.learned.len() {
            self.learned.get(self.current)
        } else {
            self.configured.get(self.current - self.learned.len())
        }
    }

    /// The hub's `leafnode_urls`: the ones not configured, tried first
    /// (nats-server's `doUpdateLNURLs`).
    pub fn learn(&mut self, urls: &[String]) {
        if self.opts.ignore_discovered_servers || urls.is_empty() {
            return;
        }
        let scheme = if self.configured.iter().any(LeafUrl::is_websocket) {
            "ws"
        } else {
            "nats-leaf"
        };
        let current = self.current_url().cloned();
        self.learned = urls
            .iter()
            .filter_map(|u| LeafUrl::parse(&format!("{scheme}://{u}")).ok())
            .filter(|u| {
                !self
                    .configured
                    .iter()
                    .any(|c| c.host == u.host && c.port == u.port)
            })
            .collect();
        // Keep the rotation where it was.
        let total = self.learned.len() + self.configured.len();
        self.current = current
            .and_then(|c| {
                (0..total).find(|&i| {
                    let u = if i < self.learned.len() {
                        &self.learned[i]
                    } else {
                        &self.configured[i - self.learned.len()]
                    };
                    u.host == c.host && u.port == c.port
                })
            })
            .unwrap_or(usize::MAX);
    }

    /// nats-server's `name()`: how log lines and reloads tell remotes apart.
    pub fn name(&self) -> String {
        remote_name(&self.opts, false)
    }
}

/// `urls=[...], account="..."` (with the credentials file, or the nkey
/// redacted); `redact` hides URL passwords (nats-server's `safeName`).
pub fn remote_name(opts: &RemoteLeafOptions, redact: bool) -> String {
    let urls: Vec<String> = opts
        .urls
        .iter()
        .map(|u| {
            let quoted = if redact { redact_url(u) } else { u.clone() };
            format!("{quoted:?}")
        })
        .collect();
    let mut name = format!(
        "urls=[{}], account={:?}",
        urls.join(" "),
        opts.account.as_deref().unwrap_or("$G")
    );
    if let Some(creds) = &opts.credentials {
        name.push_str(&format!(", credentials={:?}", creds.display().to_string()));
    } else if opts.nkey_seed.is_some() {
        name.push_str(", nkey=\"[REDACTED]\"");
    }
    name
}

/// A URL's password as `xxxxx`, as Go's `url.Redacted`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:xxxxx@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(feature = "leafnodes")]
impl Core {
    /// The remotes of the options, each due now (start-up).
    pub(in crate::core) fn start_remotes(&mut self, now: Instant) {
        let Some(leafnodes) = self.opts.leafnodes.clone() else {
            return;
        };
        for opts in &leafnodes.remotes {
            let mut rng = |n: usize| self.rng.below(n);
            let remote = Remote::new(opts, &mut rng);
            self.leaf.remotes.push(remote);
            let index = self.leaf.remotes.len() - 1;
            if !opts.disabled {
                self.schedule_dial(index, now);
            }
        }
    }

    pub(in crate::core) fn schedule_dial(&mut self, remote: usize, at: Instant) {
        self.leaf.remotes[remote].due = Some(at);
        self.schedule(remote, 0, TimerKind::LeafConnect, at);
    }

    /// A remote's dial is due: the reactor is asked to make it.
    pub(in crate::core) fn leaf_dial_due(&mut self, index: usize, at: Instant) {
        let Some(remote) = self.leaf.remotes.get_mut(index) else {
            return;
        };
        let idle = !remote.removed && !remote.opts.disabled && remote.conn.is_none();
        if remote.due != Some(at) || !idle {
            return;
        }
        remote.due = None;
        let Some(url) = remote.next_url() else {
            return;
        };
        log::debug!(
            "Trying to connect as leafnode to remote server on {:?}",
            url.host_port()
        );
        self.leaf.dials.push(LeafDial { remote: index, url });
    }

    /// The dials due since the last call, for the reactor.
    pub fn take_leaf_dials(&mut self) -> Vec<LeafDial> {
        std::mem::take(&mut self.leaf.dials)
    }

    /// A dial failed (`error` in Go's words): logged as nats-server logs
    /// it, and the next one is due after the reconnect interval plus up to
    /// as much again of jitter.
    pub fn leaf_dial_failed(&mut self, index: usize, url: &LeafUrl, error: &str, now: Instant) {
        let interval = self.reconnect_interval();
        let Some(remote) = self.leaf.remotes.get_mut(index) else {
            return;
        };
        remote.attempts += 1;
        let attempt = remote.attempts;
        let report_every = if remote.first_connect {
            CONNECT_ERROR_REPORTS
        } else {
            1
        };
        let text = format!(
            "Error trying to connect as leafnode to remote server {:?} (attempt {attempt}): {error}",
            url.host_port()
        );
        if attempt == 1 || attempt % report_every == 0 {
            log::error!("{text}");
        } else {
            log::debug!("{text}");
        }
        if remote.removed {
            return;
        }
        let jitter_ms = (interval.as_millis() as u64).max(1);
        let jitter = Duration::from_millis(self.rng.next_u64() % jitter_ms);
        self.schedule_dial(index, now + interval + jitter);
    }

    /// A solicited leaf connection is gone: the remote is dialed again
    /// after the reconnect interval (or the delay a loop or a refusal set).
    pub(in crate::core) fn leaf_remote_lost(&mut self, index: usize, now: Instant) {
        let interval = self.reconnect_interval();
        let Some(remote) = self.leaf.remotes.get_mut(index) else {
            return;
        };
        remote.conn = None;
        remote.first_connect = false;
        remote.attempts = 0;
        if remote.removed || remote.opts.disabled {
            return;
        }
        let wait = remote.delay.take().unwrap_or(interval);
        self.schedule_dial(index, now + wait);
    }

    fn reconnect_interval(&self) -> Duration {
        self.opts
            .leafnodes
            .as_ref()
            .map_or(Duration::from_secs(1), |l| l.reconnect_interval)
            .max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_go_reads_them() {
        let u = LeafUrl::parse("nats-leaf://lu:l%40p@hub.example:7433").unwrap();
        assert_eq!(
            (
                u.scheme.as_str(),
                u.host.as_str(),
                u.port,
                u.user.as_deref(),
                u.password.as_deref()
            ),
            ("nats-leaf", "hub.example", 7433, Some("lu"), Some("l@p"))
        );
        let u = LeafUrl::parse("tls://[::1]").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.wants_tls()),
            ("::1", 7422, true)
        );
        assert_eq!(u.host_port(), "[::1]:7422");
        let u = LeafUrl::parse("wss://hub:443/leafnode").unwrap();
        assert!(u.is_websocket() && u.wants_tls());
        assert!(LeafUrl::parse("hub:7422").is_err());
        assert!(LeafUrl::parse("nats://hub:x").is_err());
    }

    #[test]
    fn names_redact_passwords_and_keys() {
        let opts = RemoteLeafOptions {
            urls: vec!["nats-leaf://u:p@127.0.0.1:31499".into()],
            account: Some("$SYS".into()),
            ..Default::default()
        };
        assert_eq!(
            remote_name(&opts, true),
            r#"urls=["nats-leaf://u:xxxxx@127.0.0.1:31499"], account="$SYS""#
        );
    }

    #[test]
    fn learned_urls_come_first_and_the_rotation_goes_on() {
        let opts = RemoteLeafOptions {
            urls: vec!["nats-leaf://u:p@127.0.0.1:1000".into()],
            no_randomize: true,
            ..Default::default()
        };
        let mut remote = Remote::new(&opts, &mut |_| 0);
        assert_eq!(remote.next_url().unwrap().port, 1000);
        remote.learn(&["192.0.2.2:1000".into(), "127.0.0.1:1000".into()]);
        assert_eq!(remote.learned.len(), 1);
        let next = remote.next_url().unwrap();
        assert_eq!((next.host.as_str(), next.port), ("192.0.2.2", 1000));
        assert_eq!(remote.next_url().unwrap().host, "127.0.0.1");
        assert_eq!(remote.user.as_deref(), Some("u"));
    }
}
