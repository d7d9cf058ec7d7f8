//! `/accountz` and `/accstatz`: natsd's accounts (`$G`, the system account
//! and the configured ones) with nats-server's keys, in its order.
//!
//! `/accountz` lists the account names: the configured ones in the order of
//! the configuration, then the system account if it was not configured
//! (`$SYS`), then `$G` (nats-server lists them in map order).
//! `/accountz?acc=NAME` shows one: its connections, subscriptions, exports,
//! imports, pending service responses and sublist figures; an unknown one
//! is nats-server's 400 `Account NAME does not exist`. `/accstatz` shows
//! the message counters of the accounts with connections (every account
//! with `unused=1`).
//!
//! Deliberate differences from nats-server:
//! - nats-server's system account exports four services
//!   (`$SYS.REQ.ACCOUNT.*.CONNZ`, `$SYS.REQ.ACCOUNT.*.STATZ`,
//!   `$SYS.DEBUG.SUBSCRIBERS`, `$SYS.REQ.USER.*.INFO`), every other account
//!   imports four of them, and their internal subscriptions count in
//!   `subscriptions` (4 in an idle account, 56 in `$SYS`). natsd's system
//!   account serves no requests, so none of those exports, imports or
//!   subscriptions exist to be listed or counted.
//! - An import's `share` and `tracking` are always false: natsd reads
//!   `share` from the configuration but does not act on it, and has no
//!   service latency tracking. Its `invalid` is always false: natsd refuses
//!   at load the imports nats-server would mark invalid.
//! - `update_time` is when the server started: natsd does not record when
//!   an account was last changed by a reload.
//! - `slow_consumers` in `/accstatz` is 0: natsd counts slow consumers for
//!   the server (`/varz`), not per account.
//!
//! A service export's `response_threshold` is not shown, as nats-server
//! does not show it either (its `accountInfo` leaves the field unset).

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::{is_false, pretty};
use super::query::Query;
use super::subsz::SublistJson;
use super::{Context, Reply};
use crate::core::view::{AccountDetail, ResponseInfo};
use crate::options::{Export, Import, ImportKind};
use crate::subject;

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<Box<str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo`, less what natsd has none of (mappings,
/// JWT validation results).
#[derive(Serialize)]
struct AccountInfo {
    account_name: Box<str>,
    update_time: String,
    #[serde(skip_serializing_if = "is_false")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExtExport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ExtImport>,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    issuer_key: Box<str>,
    name_tag: Box<str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded_jwt: Option<serde_json::Value>,
    /// Go marshals a map with its keys sorted.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    revoked_user: BTreeMap<String, String>,
    sublist_stats: SublistJson,
    /// Go marshals a map with its keys sorted.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    responses: BTreeMap<Box<str>, ExtImport>,
}

/// nats-server's `ExtExport` (jwt's `Export` and `approved_accounts`), the
/// keys a configuration file can fill.
#[derive(Serialize, Debug, PartialEq)]
struct ExtExport {
    subject: Box<str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    approved_accounts: Vec<Box<str>>,
}

/// nats-server's `ExtImport` (jwt's `Import`, then `invalid`, `share` and
/// `tracking`, always present).
#[derive(Serialize, Debug, PartialEq)]
struct ExtImport {
    /// The subject in the exporting account.
    subject: Box<str>,
    account: Box<str>,
    /// A service import's local subject again (jwt's deprecated `to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Box<str>>,
    local_subject: Box<str>,
    #[serde(rename = "type")]
    kind: ImportType,
    invalid: bool,
    share: bool,
    tracking: bool,
}

/// jwt's `ExportType`: its JSON form (`"stream"`, `"service"`) comes from a
/// pointer-receiver method, which Go's encoder does not call for a map's
/// values: the `responses` map shows a service as its number, `2`.
#[derive(Serialize, Debug, PartialEq, Clone, Copy)]
#[serde(untagged)]
enum ImportType {
    Name(&'static str),
    Number(u8),
}

pub fn accountz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let core = ctx.core;
    let (accounts, account_detail) = match q.get("acc") {
        "" => (
            Some(core.accounts().into_iter().map(|a| a.name).collect()),
            None,
        ),
        name => {
            let detail = core
                .account_detail(name)
                .ok_or_else(|| format!("Account {name} does not exist"))?;
            (None, Some(account_info(ctx, detail)))
        }
    };
    Ok(Reply::json(pretty(&Accountz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        system_account: core.system_account(),
        accounts,
        account_detail,
    })))
}

fn account_info(ctx: &Context<'_>, detail: AccountDetail) -> AccountInfo {
    let (start, _) = ctx.core.wall_clock().start();
    let info = detail.info;
    let jwt = detail.jwt;
    let unix = |t: i64| {
        crate::go_format::rfc3339_nano(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
        )
    };
    AccountInfo {
        update_time: ctx.time(start),
        is_system: info.is_system,
        expired: jwt.as_ref().is_some_and(|j| j.expired),
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: info.num_conns,
        subscriptions: info.num_subs,
        exports: exports(&detail.config.exports),
        imports: imports(&detail.config.imports),
        jwt: jwt.as_ref().map_or("", |j| &j.jwt).into(),
        issuer_key: jwt.as_ref().map_or("", |j| &j.issuer_key).into(),
        name_tag: match jwt.as_ref().map(|j| j.name_tag.as_str()) {
            Some(tag) if !tag.is_empty() => tag.into(),
            _ => info.name.clone(),
        },
        tags: jwt.as_ref().map(|j| j.tags.clone()).unwrap_or_default(),
        decoded_jwt: jwt.as_ref().map(|j| j.claims.clone()),
        revoked_user: jwt
            .iter()
            .flat_map(|j| j.revocations.iter())
            .map(|(key, at)| (key.clone(), unix(*at)))
            .collect(),
        sublist_stats: info.sublist.into(),
        responses: detail
            .responses
            .into_iter()
            .map(|r| (r.reply.clone(), response(r)))
            .collect(),
        account_name: info.name,
    }
}

/// Services first, then streams, as nats-server lists them (each in the
/// configuration's order; nats-server's is map order).
fn exports(exports: &[Export]) -> Vec<ExtExport> {
    let services = exports.iter().filter(|e| e.service.is_some());
    let streams = exports.iter().filter(|e| e.service.is_none());
    services
        .chain(streams)
        .map(|e| ExtExport {
            subject: e.subject.as_str().into(),
            kind: if e.service.is_some() {
                "service"
            } else {
                "stream"
            },
            response_type: e.service.map(|s| s.response_type.as_str()),
            approved_accounts: e
                .accounts
                .iter()
                .flatten()
                .map(|a| a.as_str().into())
                .collect(),
        })
        .collect()
}

/// Streams first, then services, as nats-server lists them.
fn imports(imports: &[Import]) -> Vec<ExtImport> {
    let streams = imports
        .iter()
        .filter(|i| matches!(i.kind, ImportKind::Stream { .. }));
    let services = imports
        .iter()
        .filter(|i| matches!(i.kind, ImportKind::Service { .. }));
    streams
        .chain(services)
        .map(|i| {
            let (kind, to, local_subject) = match &i.kind {
                ImportKind::Stream { prefix, to } => (
                    ImportType::Name("stream"),
                    None,
                    stream_local_subject(&i.subject, prefix, to),
                ),
                ImportKind::Service { to } => (
                    ImportType::Name("service"),
                    Some(to.as_str().into()),
                    to.as_str().into(),
                ),
            };
            ExtImport {
                subject: i.subject.as_str().into(),
                account: i.account.as_str().into(),
                to,
                local_subject,
                kind,
                invalid: false,
                share: false,
                tracking: false,
            }
        })
        .collect()
}

/// Where a stream import's messages arrive, as nats-server records it:
/// `prefix.subject`, the `to` mapping, or the subject itself; a mapping of
/// a wildcard subject with its `$N` (`{{wildcard(N)}}`) tokens as `*`.
fn stream_local_subject(subject: &str, prefix: &Option<String>, to: &Option<String>) -> Box<str> {
    let to = match (prefix, to) {
        (Some(prefix), _) if prefix.ends_with('.') => format!("{prefix}{subject}"),
        (Some(prefix), _) => format!("{prefix}.{subject}"),
        (None, Some(to)) => to.clone(),
        (None, None) => subject.to_string(),
    };
    if to == subject || subject::is_literal(subject.as_bytes()) {
        return to.into();
    }
    let tokens: Vec<&str> = to
        .split('.')
        .map(|t| if is_placeholder(t) { "*" } else { t })
        .collect();
    tokens.join(".").into()
}

/// A token of a mapping's destination that stands for a wildcard of its
/// source: `$1`...`$9...` or `{{wildcard(N)}}` (nats-server's
/// `transformUntokenize`).
fn is_placeholder(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() > 1 && b[0] == b'$' && (b'1'..=b'9').contains(&b[1]) {
        return true;
    }
    let Some(inner) = token
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
    else {
        return false;
    };
    let inner = inner.trim();
    let Some(args) = inner
        .strip_prefix("wildcard")
        .or_else(|| inner.strip_prefix("Wildcard"))
        .and_then(|t| t.trim_start().strip_prefix('('))
        .and_then(|t| t.strip_suffix(')'))
    else {
        return false;
    };
    !args.is_empty() && !args.contains(',')
}

/// A pending response as nats-server lists it: a service import from the
/// exporter's reply (`to`, `local_subject`) back to the requester's reply
/// (`subject`) in the requester's account.
fn response(r: ResponseInfo) -> ExtImport {
    ExtImport {
        subject: r.to,
        account: r.account,
        to: Some(r.reply.clone()),
        local_subject: r.reply,
        kind: ImportType::Number(2),
        invalid: false,
        share: false,
        tracking: false,
    }
}

#[derive(Serialize)]
struct AccountStatz<'a> {
    server_id: &'a str,
    now: String,
    account_statz: Vec<AccountStat>,
}

/// nats-server's `AccountStat`.
#[derive(Serialize)]
struct AccountStat {
    acc: Box<str>,
    name: Box<str>,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    num_subscriptions: usize,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

#[derive(Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytes,
    routes: MsgBytes,
    leafs: MsgBytes,
}

#[derive(Serialize, Default)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

impl DataStats {
    fn clients(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

/// The accounts with connections (every one, with `unused=1`): `received`
/// is what their clients published (refused messages too), `sent` the
/// deliveries of it, in whichever account they were delivered.
pub fn accstatz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let unused = q.bool("unused")?;
    let account_statz = ctx
        .core
        .accounts()
        .into_iter()
        .filter(|a| unused || a.num_conns > 0)
        .map(|a| AccountStat {
            name: a.name.clone(),
            acc: a.name,
            conns: a.num_conns,
            leafnodes: 0,
            total_conns: a.num_conns,
            num_subscriptions: a.num_subs,
            sent: DataStats::clients(a.stats.out_msgs, a.stats.out_bytes),
            received: DataStats::clients(a.stats.in_msgs, a.stats.in_bytes),
            slow_consumers: 0,
        })
        .collect();
    Ok(Reply::json(pretty(&AccountStatz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        account_statz,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{ResponseType, ServiceExport};

    fn stream(account: &str, subject: &str, prefix: Option<&str>, to: Option<&str>) -> Import {
        Import {
            account: account.into(),
            subject: subject.into(),
            kind: ImportKind::Stream {
                prefix: prefix.map(Into::into),
                to: to.map(Into::into),
            },
        }
    }

    #[test]
    fn exports_list_services_first_with_nats_server_response_types() {
        let service = |subject: &str, response_type| Export {
            subject: subject.into(),
            service: Some(ServiceExport {
                response_type,
                ..ServiceExport::default()
            }),
            accounts: None,
        };
        let list = exports(&[
            Export {
                subject: "events.>".into(),
                service: None,
                accounts: Some(vec!["B".into()]),
            },
            service("svc.>", ResponseType::Singleton),
            service("req.*", ResponseType::Stream),
            service("big", ResponseType::Chunked),
        ]);
        let json = String::from_utf8(pretty(&list)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"subject": "svc.>", "type": "service", "response_type": "Singleton"},
                {"subject": "req.*", "type": "service", "response_type": "Streamed"},
                {"subject": "big", "type": "service", "response_type": "Chunked"},
                {"subject": "events.>", "type": "stream", "approved_accounts": ["B"]},
            ])
        );
        assert!(json.contains("\"svc.\\u003e\""), "Go's escaping: {json}");
    }

    #[test]
    fn imports_list_streams_first_with_their_local_subjects() {
        let list = imports(&[
            Import {
                account: "A".into(),
                subject: "svc.echo".into(),
                kind: ImportKind::Service { to: "echo".into() },
            },
            stream("A", "events.>", Some("fromA"), None),
        ]);
        assert_eq!(
            list,
            [
                ExtImport {
                    subject: "events.>".into(),
                    account: "A".into(),
                    to: None,
                    local_subject: "fromA.events.>".into(),
                    kind: ImportType::Name("stream"),
                    invalid: false,
                    share: false,
                    tracking: false,
                },
                ExtImport {
                    subject: "svc.echo".into(),
                    account: "A".into(),
                    to: Some("echo".into()),
                    local_subject: "echo".into(),
                    kind: ImportType::Name("service"),
                    invalid: false,
                    share: false,
                    tracking: false,
                },
            ]
        );
        let keys = String::from_utf8(pretty(&list[0])).unwrap();
        let order: Vec<&str> = keys
            .lines()
            .filter_map(|l| l.trim().split('"').nth(1))
            .collect();
        assert_eq!(
            order,
            [
                "subject",
                "account",
                "local_subject",
                "type",
                "invalid",
                "share",
                "tracking"
            ]
        );
    }

    #[test]
    fn stream_local_subjects_as_nats_server_records_them() {
        let local = |subject, prefix: Option<&str>, to: Option<&str>| {
            stream_local_subject(subject, &prefix.map(Into::into), &to.map(Into::into))
        };
        assert_eq!(&*local("a.b", None, None), "a.b");
        assert_eq!(&*local("a.>", Some("p"), None), "p.a.>");
        assert_eq!(&*local("a.>", Some("p."), None), "p.a.>");
        assert_eq!(&*local("a.*", Some("p"), None), "p.a.*");
        assert_eq!(
            &*local("a.b", None, Some("c.$1")),
            "c.$1",
            "no wildcard to map"
        );
        assert_eq!(&*local("a.*.*", None, Some("c.$2.$1")), "c.*.*");
        assert_eq!(&*local("a.*", None, Some("c.{{ wildcard(1) }}")), "c.*");
        assert_eq!(&*local("a.*", None, Some("c.*")), "c.*");
    }

    #[test]
    fn pending_responses_lead_back_to_the_requester() {
        let r = response(ResponseInfo {
            reply: "_R_.abc.def".into(),
            account: "B".into(),
            to: "_INBOX.1".into(),
        });
        assert_eq!(
            (&*r.subject, &*r.account, r.to.as_deref(), &*r.local_subject),
            ("_INBOX.1", "B", Some("_R_.abc.def"), "_R_.abc.def")
        );
        let json = String::from_utf8(pretty(&r)).unwrap();
        assert!(json.contains("\"type\": 2,"), "as Go marshals it: {json}");
    }
}
