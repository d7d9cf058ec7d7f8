//! Accounts: each its own subject space (a sublist), joined to others only
//! through the exports they import. nats-server's config-file accounts.
//!
//! An import is a [`Route`]. A stream import places, for each subscription
//! of the importer that wants some of the export, a shadow subscription in
//! the exporter's sublist: the exporter's publishes reach the importer's
//! client as they reach the exporter's own, with the subject mapped. A
//! service import is an internal subscription in the importer on the local
//! subject; a request that hits it is published again in the exporter, with
//! its reply replaced by one of the exporter's `_R_.` replies, and the
//! exporter's internal subscription on that prefix routes each response
//! back. Publishing in an account without imports pays nothing for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::options::{ImportKind, Options, ResponseType, ServiceExport, GLOBAL_ACCOUNT};
use crate::subject_mapping::SubjectMapping;
use crate::sublist::Sublist;

/// The index of `$G`, which always exists.
pub const GLOBAL: u32 = 0;

/// Per-account message counters (`/accstatz`), as nats-server counts them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AccountStats {
    /// Published by the account's connections, refused ones too
    /// (`received`).
    pub in_msgs: u64,
    pub in_bytes: u64,
    /// Deliveries made in the account (`sent`): of what its connections
    /// published, to its subscribers and to other accounts' through its
    /// stream exports, and of requests that came in through its service
    /// exports (and responses through its service imports).
    pub out_msgs: u64,
    pub out_bytes: u64,
}

pub struct Account {
    pub name: Box<str>,
    pub sublist: Sublist<usize>,
    /// The stream imports of this account (indices into the routes), which
    /// each subscription made here is checked against.
    pub stream_imports: Vec<u32>,
    /// The internal subscriptions this account holds (service imports and
    /// its reply prefix), by subscription key.
    pub internal_subs: Vec<usize>,
    /// `_R_.xxxxxx.`: the prefix of the replies requests get when they
    /// come in through this account's service exports; made on first use.
    pub reply_prefix: Option<Box<[u8]>>,
    /// Requests that came through a service export and may still be
    /// answered, by the reply they were given here.
    pub responses: HashMap<Box<[u8]>, PendingResponse>,
    /// When the response sweep timer is set to fire; one at a time.
    pub response_sweep_at: Option<Instant>,
    /// Open connections.
    pub num_conns: usize,
    pub stats: AccountStats,
    /// Gone from the configuration since a reload: empty, kept so that
    /// account indices stay stable.
    pub removed: bool,
    /// The configuration's exports and imports, for `/accountz`.
    pub config: crate::options::AccountConfig,
    /// The account's JWT and claims, when it came from one (operator mode).
    #[cfg(feature = "jwt")]
    pub jwt: Option<std::sync::Arc<crate::auth::operator::JwtAccount>>,
}

impl Account {
    fn new(name: &str) -> Account {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
            stream_imports: Vec::new(),
            internal_subs: Vec::new(),
            reply_prefix: None,
            responses: HashMap::new(),
            response_sweep_at: None,
            num_conns: 0,
            stats: AccountStats::default(),
            removed: false,
            config: crate::options::AccountConfig {
                name: name.to_string(),
                ..Default::default()
            },
            #[cfg(feature = "jwt")]
            jwt: None,
        }
    }
}

/// A request answered through a service export: where its responses go.
#[derive(Debug, Clone)]
pub struct PendingResponse {
    /// The requester's account.
    pub account: u32,
    /// The requester's own reply subject.
    pub reply: Box<[u8]>,
    pub response_type: ResponseType,
    pub threshold: Duration,
    /// The request, or the latest response of a stream: the threshold
    /// counts from here.
    pub last: Instant,
    /// The service import it came through (loops end there).
    pub route: u32,
}

/// One way messages cross from one account to another.
#[derive(Debug, Clone)]
pub enum Route {
    /// The exporter's subjects, mapped, reach the importer's subscribers.
    Stream {
        importer: u32,
        exporter: u32,
        mapping: SubjectMapping,
    },
    /// The importer's requests on `local` go to the exporter.
    Service {
        importer: u32,
        exporter: u32,
        local: Box<[u8]>,
        /// The subject in the exporter; with wildcards, published subjects
        /// are mapped by `mapping` (or kept, when local and export are the
        /// same pattern).
        subject: Box<[u8]>,
        mapping: Option<SubjectMapping>,
        export: ServiceExport,
    },
    /// Responses published on the exporter's reply prefix.
    Responses { exporter: u32 },
}

/// The accounts of a configuration and the routes between them.
pub struct Accounts {
    pub list: Vec<Account>,
    pub routes: Vec<Route>,
    /// The system account's index.
    pub system: u32,
}

impl Accounts {
    /// `$G`, the system account and the configured ones.
    pub fn new(opts: &Options) -> Accounts {
        let mut accounts = Accounts {
            list: vec![Account::new(GLOBAL_ACCOUNT)],
            routes: Vec::new(),
            system: 0,
        };
        accounts.configure(opts);
        accounts
    }

    /// The index of the account named `name`.
    pub fn find(&self, name: &str) -> Option<u32> {
        self.list
            .iter()
            .position(|a| &*a.name == name && !a.removed)
            .map(|i| i as u32)
    }

    /// The name of account `index`; empty for an index that is not one.
    pub fn name_of(&self, index: u32) -> &str {
        self.list.get(index as usize).map_or("", |a| &a.name)
    }

    /// The index of a user's account: `None` (or a name no longer known)
    /// is `$G`.
    pub fn of_user(&self, account: Option<&str>) -> Option<u32> {
        match account {
            None => Some(GLOBAL),
            Some(name) => self.find(name),
        }
    }

    /// Make the accounts those of `opts`: new ones are added, gone ones
    /// marked removed, kept ones keep their index. Routes are rebuilt; the
    /// caller places their subscriptions.
    pub fn configure(&mut self, opts: &Options) {
        let mut wanted: Vec<crate::options::AccountConfig> = opts.accounts.clone();
        if !wanted.iter().any(|a| a.name == opts.system_account) {
            wanted.push(crate::options::AccountConfig {
                name: opts.system_account.clone(),
                ..Default::default()
            });
        }
        for account in self.list.iter_mut().skip(1) {
            account.removed = !wanted.iter().any(|w| *w.name == *account.name);
        }
        for config in wanted {
            let index = match self.list.iter().position(|a| *a.name == *config.name) {
                Some(i) => i,
                None => {
                    self.list.push(Account::new(&config.name));
                    self.list.len() - 1
                }
            };
            let account = &mut self.list[index];
            account.removed = false;
            account.config = config;
        }
        self.system = self.find(&opts.system_account).unwrap_or(GLOBAL);
        self.routes.clear();
        for account in &mut self.list {
            account.stream_imports.clear();
        }
        for importer in 0..self.list.len() {
            if self.list[importer].removed {
                continue;
            }
            let imports = self.list[importer].config.imports.clone();
            for import in imports {
                // Options::check_accounts has refused what does not resolve.
                let Some(exporter) = self.find(&import.account) else {
                    continue;
                };
                let route = match import.kind {
                    ImportKind::Stream { prefix, to } => {
                        let mapping = match (prefix, to) {
                            (Some(prefix), _) => {
                                SubjectMapping::with_prefix(&import.subject, &prefix)
                            }
                            (None, Some(to)) => SubjectMapping::new(&import.subject, &to),
                            (None, None) => SubjectMapping::new(&import.subject, &import.subject),
                        };
                        let Ok(mapping) = mapping else { continue };
                        self.list[importer]
                            .stream_imports
                            .push(self.routes.len() as u32);
                        Route::Stream {
                            importer: importer as u32,
                            exporter,
                            mapping,
                        }
                    }
                    ImportKind::Service { to } => {
                        let export = self.list[exporter as usize]
                            .config
                            .exports
                            .iter()
                            .filter(|e| {
                                crate::auth::permissions::is_subset_match(
                                    import.subject.as_bytes(),
                                    e.subject.as_bytes(),
                                )
                            })
                            .find_map(|e| e.service)
                            .unwrap_or_default();
                        let wildcard = !crate::subject::is_literal(to.as_bytes());
                        let mapping = (wildcard && to != import.subject)
                            .then(|| SubjectMapping::new(&to, &import.subject).ok())
                            .flatten();
                        Route::Service {
                            importer: importer as u32,
                            exporter,
                            local: to.as_bytes().into(),
                            subject: import.subject.as_bytes().into(),
                            mapping,
                            export,
                        }
                    }
                };
                self.routes.push(route);
            }
        }
        // One responses route per account that exports a service.
        for (i, account) in self.list.iter().enumerate() {
            if !account.removed && account.config.exports.iter().any(|e| e.service.is_some()) {
                self.routes.push(Route::Responses { exporter: i as u32 });
            }
        }
    }

    /// The responses route of account `exporter`.
    pub fn responses_route(&self, exporter: u32) -> Option<u32> {
        self.routes
            .iter()
            .position(|r| matches!(r, Route::Responses { exporter: e } if *e == exporter))
            .map(|i| i as u32)
    }
}

/// nats-server's base-62 digits for reply tokens.
const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Six base-62 digits of `n`, least significant first (nats-server's
/// `replyLen` tokens).
pub fn reply_token(mut n: u64, out: &mut Vec<u8>) {
    for _ in 0..6 {
        out.push(DIGITS[(n % 62) as usize]);
        n /= 62;
    }
}

/// nats-server's reserved reply prefixes: service import replies,
/// JetStream acknowledgements and gateway-routed replies.
pub fn is_reserved_reply(reply: &[u8]) -> bool {
    // As Go measures them: `_R_.` alone is reserved, the others need more.
    let longer = |prefix: &[u8]| reply.len() > prefix.len() && reply.starts_with(prefix);
    reply.starts_with(b"_R_.") || longer(b"$JS.ACK.") || longer(b"_GR_.")
}

/// nats-server's `hasGWRoutedReplyPrefix`: a subject no client may
/// publish to.
pub fn is_gateway_routed(subject: &[u8]) -> bool {
    subject.len() > 5 && subject.starts_with(b"_GR_.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_tokens_are_six_base62_digits() {
        let mut out = Vec::new();
        reply_token(0, &mut out);
        assert_eq!(out, b"000000");
        out.clear();
        reply_token(61 + 62, &mut out);
        assert_eq!(out, b"z10000");
    }

    #[test]
    fn global_and_system_accounts_always_exist() {
        let accounts = Accounts::new(&Options::default());
        assert_eq!(accounts.find("$G"), Some(GLOBAL));
        assert_eq!(accounts.find("$SYS"), Some(accounts.system));
        assert_eq!(accounts.of_user(None), Some(GLOBAL));
        assert_eq!(accounts.of_user(Some("nope")), None);
    }
}
