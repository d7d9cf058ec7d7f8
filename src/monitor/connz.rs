//! `/connz`: open and recently closed connections, sorted and paged as
//! nats-server does (`sort`, `offset`, `limit`, `cid`, `state`, `subs`,
//! `auth`, `user`, `acc`).
//!
//! With `auth=1` a connection shows its `authorized_user`, its `account`
//! (left out for `$G`) and the account's `name_tag`. As in nats-server, a
//! closed connection recorded its account only if it was not `$G`: such a
//! one has no `account` or `name_tag`, and `acc=$G` does not find it.
//!
//! Cost: the connections are first summed up as numbers (no strings), sorted
//! and paged at once; then each connection of the page is copied out,
//! formatted and rendered to JSON a slice per reactor turn. One that closes
//! meanwhile is shown as it was, from its numbers.

use std::cmp::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::json::{is_false, is_zero, pretty, JsonList};
use super::query::Query;
use super::{Context, Reply};
use crate::core::stats::WallClock;
use crate::core::view::{ClientInfo, ConnSummary, SubInfo};
use crate::core::Core;
use crate::go_format;
use crate::options::GLOBAL_ACCOUNT;

/// nats-server's `DefaultConnListSize`.
const DEFAULT_LIMIT: i64 = 1024;

/// nats-server's sort options (`SortOpt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortBy {
    fn parse(s: &str) -> Result<SortBy, String> {
        Ok(match s {
            "" | "cid" => SortBy::Cid,
            "start" => SortBy::Start,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            "rtt" => SortBy::Rtt,
            other => return Err(format!("invalid sorting option: {other}")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

/// How subscriptions are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subs {
    None,
    Subjects,
    Detail,
}

struct Options {
    sort: SortBy,
    auth: bool,
    subs: Subs,
    offset: usize,
    limit: usize,
    cid: u64,
    state: State,
    user: String,
    /// Only connections of this account (by name); empty for all.
    account: String,
}

impl Options {
    /// Read the query as nats-server's `HandleConnz` and `Connz` do.
    fn parse(q: &Query) -> Result<Options, String> {
        let sort_text = q.get("sort");
        let auth = q.bool("auth")?;
        let subs = if q.get("subs").eq_ignore_ascii_case("detail") {
            Subs::Detail
        } else if q.bool("subs")? {
            Subs::Subjects
        } else {
            Subs::None
        };
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint("cid")?;
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::All,
            other => return Err(format!("Error decoding state for {other}")),
        };
        let sort = SortBy::parse(sort_text)?;
        if sort == SortBy::Stop && state != State::Closed {
            return Err("sort by stop only valid on closed connections".into());
        }
        if sort == SortBy::Reason && state != State::Closed {
            return Err("sort by reason only valid on closed connections".into());
        }
        Ok(Options {
            sort,
            auth,
            subs,
            offset: usize::try_from(offset).unwrap_or(0),
            limit: match limit {
                _ if cid > 0 => 1,
                l if l <= 0 => DEFAULT_LIMIT as usize,
                l => usize::try_from(l).unwrap_or(usize::MAX),
            },
            cid,
            state,
            user: q.get("user").to_string(),
            account: q.get("acc").to_string(),
        })
    }
}

#[derive(Serialize)]
struct ConnzHead<'a> {
    server_id: &'a str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
}

/// nats-server's `ConnInfo`, in its key order; keys it omits when empty
/// are omitted here too.
#[derive(Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'static str,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    tls_version: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    tls_cipher_suite: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tls_peer_certs: Vec<PeerCertJson>,
    #[serde(skip_serializing_if = "is_false")]
    tls_first: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    authorized_user: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    account: Box<str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<Box<str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    issuer_key: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    name_tag: Box<str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

/// nats-server's `SubDetail`, also listed by `/subsz`.
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "str::is_empty")]
    account: Box<str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    account_tag: Box<str>,
    subject: Box<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<Box<str>>,
    sid: Box<str>,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

impl SubDetail {
    /// As an open connection lists it (no `account`); with the account of
    /// its client as `/subsz` and the closed-connection history list it.
    pub fn new(sub: SubInfo, account: Option<&str>) -> SubDetail {
        let account: Box<str> = account.unwrap_or_default().into();
        SubDetail {
            account_tag: account.clone(),
            account,
            subject: sub.subject,
            qgroup: sub.queue,
            sid: sub.sid,
            msgs: sub.msgs,
            max: sub.max,
            cid: sub.cid,
        }
    }
}

/// A connection found for the response: open (by core key) or closed (by
/// its place in the history).
#[derive(Clone, Copy)]
enum Found {
    Open(usize),
    Closed(usize),
}

/// A connection of the page: open ones are copied when rendered.
enum PageItem {
    Open(usize, ConnSummary),
    Closed(Box<ClientInfo>),
}

/// What sorting needs of a connection.
struct Row {
    summary: ConnSummary,
    /// Closed: when and why.
    stop: Option<(Instant, &'static str)>,
    found: Found,
}

/// What nats-server answers for an account it does not know: not an error,
/// but its `Connz` as first made (no server id, `null` connections).
#[derive(Serialize)]
struct UnknownAccount {
    server_id: &'static str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Option<[(); 0]>,
}

pub fn connz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let opts = Options::parse(q)?;
    let core = ctx.core;
    let account = match opts.account.as_str() {
        "" => None,
        name => match core.find_account(name) {
            Some(index) => Some(index),
            None => {
                return Ok(Reply::json(pretty(&UnknownAccount {
                    server_id: "",
                    now: ctx.now_text(),
                    num_connections: 0,
                    total: 0,
                    offset: opts.offset,
                    limit: opts.limit,
                    connections: None,
                })))
            }
        },
    };
    let closed = core.closed_clients();
    // nats-server's total: the account's connections, before the other
    // filters.
    let open_total = match account {
        None => core.num_connz_connections(),
        Some(index) => core
            .client_summaries()
            .filter(|(_, s)| s.account == index)
            .count(),
    };
    let closed_total = match account {
        None => closed.len(),
        Some(_) => closed
            .iter()
            .filter(|c| closed_in(c, &opts.account))
            .count(),
    };
    let total = match opts.state {
        State::Open => open_total,
        State::Closed => closed_total,
        State::All => open_total + closed_total,
    };
    let mut rows = find(ctx, &opts, account);
    sort(&mut rows, opts.sort, ctx.now);
    let start = opts.offset.min(rows.len());
    let end = start + opts.limit.min(rows.len() - start);
    // Closed ones are copied now: the history moves on.
    let page: Vec<PageItem> = rows[start..end]
        .iter()
        .filter_map(|row| match row.found {
            Found::Open(key) => Some(PageItem::Open(key, row.summary)),
            Found::Closed(i) => Some(PageItem::Closed(Box::new(closed.get(i)?.clone()))),
        })
        .collect();
    let head = ConnzHead {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        num_connections: page.len(),
        total,
        offset: opts.offset,
        limit: opts.limit,
    };
    let shown = Shown {
        clock: *core.wall_clock(),
        now: ctx.now,
        subs: opts.subs,
        auth: opts.auth,
    };
    let with_subs = opts.subs != Subs::None;
    let to_json = move |core: &Core, item| {
        let client = match item {
            PageItem::Closed(client) => *client,
            PageItem::Open(key, summary) => core
                .client_info(key, with_subs)
                .filter(|c| c.summary.cid == summary.cid)
                .unwrap_or_else(|| ClientInfo {
                    account: core.account_name(summary.account).into(),
                    ..ClientInfo::from_summary(summary)
                }),
        };
        // A closed connection's account may have gone in a reload since.
        let account_exists = core.find_account(&client.account).is_some();
        shown.conn_info(client, account_exists)
    };
    Ok(Reply::Later(Box::new(JsonList::new(
        &head,
        "connections",
        page,
        to_json,
        false,
    ))))
}

/// Whether closed connection `client` is one of account `name`'s, as
/// nats-server tells: it recorded no account for `$G`.
fn closed_in(client: &ClientInfo, name: &str) -> bool {
    *client.account == *name && name != GLOBAL_ACCOUNT
}

/// The connections the options select (in `account`, when given),
/// unsorted.
fn find(ctx: &Context<'_>, opts: &Options, account: Option<u32>) -> Vec<Row> {
    let core = ctx.core;
    let closed = core.closed_clients();
    let user_matches = |user: &str| opts.user.is_empty() || opts.user == user;
    let mut rows = Vec::with_capacity(core.num_connections() + closed.len());
    if opts.state != State::Closed {
        rows.extend(
            core.client_summaries()
                .filter(|(_, s)| opts.cid == 0 || s.cid == opts.cid)
                .filter(|(_, s)| account.is_none_or(|a| s.account == a))
                .filter(|(key, _)| {
                    opts.user.is_empty()
                        || core
                            .client_info(*key, false)
                            .is_some_and(|c| user_matches(&c.user))
                })
                .map(|(key, summary)| Row {
                    summary,
                    stop: None,
                    found: Found::Open(key),
                }),
        );
    }
    // A cid found open is not looked for among the closed.
    if opts.state != State::Open && (opts.cid == 0 || rows.is_empty()) {
        rows.extend(
            closed
                .iter()
                .enumerate()
                .filter(|(_, c)| opts.cid == 0 || c.summary.cid == opts.cid)
                .filter(|(_, c)| account.is_none() || closed_in(c, &opts.account))
                .filter(|(_, c)| user_matches(&c.user))
                .map(|(i, c)| Row {
                    summary: c.summary,
                    stop: c.closed,
                    found: Found::Closed(i),
                }),
        );
    }
    rows
}

/// nats-server's orders: by cid (and start) and uptime ascending, by reason
/// alphabetically, every other descending. Ties go by cid.
fn sort(rows: &mut [Row], by: SortBy, now: Instant) {
    let uptime = |r: &Row| {
        let until = r.stop.map_or(now, |(at, _)| at);
        until.saturating_duration_since(r.summary.start)
    };
    let stop_time = |r: &Row| r.stop.map(|(at, _)| at);
    let order = |a: &Row, b: &Row| -> Ordering {
        let (x, y) = (&a.summary, &b.summary);
        match by {
            SortBy::Cid | SortBy::Start => Ordering::Equal,
            SortBy::Subs => y.num_subs.cmp(&x.num_subs),
            SortBy::Pending => y.pending_bytes.cmp(&x.pending_bytes),
            SortBy::MsgsTo => y.out_msgs.cmp(&x.out_msgs),
            SortBy::MsgsFrom => y.in_msgs.cmp(&x.in_msgs),
            SortBy::BytesTo => y.out_bytes.cmp(&x.out_bytes),
            SortBy::BytesFrom => y.in_bytes.cmp(&x.in_bytes),
            SortBy::Last => y.last_activity.cmp(&x.last_activity),
            // Longest idle first: the oldest activity.
            SortBy::Idle => x.last_activity.cmp(&y.last_activity),
            SortBy::Uptime => uptime(a).cmp(&uptime(b)),
            SortBy::Stop => stop_time(b).cmp(&stop_time(a)),
            SortBy::Reason => {
                let reason = |r: &Row| r.stop.map_or("", |(_, why)| why);
                reason(a).cmp(reason(b))
            }
            SortBy::Rtt => y.rtt.cmp(&x.rtt),
        }
        .then(x.cid.cmp(&y.cid))
    };
    rows.sort_unstable_by(order);
}

/// How a page of connections is shown: what formatting one needs, copied
/// out of the request so the page can be rendered over several turns.
#[derive(Clone, Copy)]
struct Shown {
    clock: WallClock,
    now: Instant,
    subs: Subs,
    auth: bool,
}

impl Shown {
    fn time(&self, at: Instant) -> String {
        go_format::rfc3339_nano(self.clock.at(at))
    }

    /// A connection as nats-server's `ConnInfo.fill` shows it;
    /// `account_exists`: its account is still there.
    fn conn_info(&self, client: ClientInfo, account_exists: bool) -> ConnInfo {
        let s = client.summary;
        // A closed connection's times end at its close.
        let until = client.closed.map_or(self.now, |(at, _)| at);
        let is_open = client.closed.is_none();
        let in_global = *client.account == *GLOBAL_ACCOUNT;
        let (account, name_tag): (Box<str>, Box<str>) = match (self.auth, is_open, in_global) {
            (false, ..) => Default::default(),
            (true, true, true) => (Box::default(), client.account.clone()),
            (true, true, false) => (client.account.clone(), client.account.clone()),
            // nats-server recorded no account for a closed one in `$G`,
            // and names the tag of one whose account is still there.
            (true, false, true) => Default::default(),
            (true, false, false) => {
                let tag = if account_exists {
                    client.account.clone()
                } else {
                    Box::default()
                };
                (client.account.clone(), tag)
            }
        };
        let (subscriptions_list, subscriptions_list_detail) = match self.subs {
            Subs::None => (Vec::new(), Vec::new()),
            Subs::Subjects => (
                client.subs.into_iter().map(|s| s.subject).collect(),
                Vec::new(),
            ),
            Subs::Detail => (
                Vec::new(),
                // nats-server keeps a closed connection's subscriptions with
                // their account; an open one lists them without.
                client
                    .subs
                    .into_iter()
                    .map(|sub| SubDetail::new(sub, (!is_open).then_some(&*client.account)))
                    .collect(),
            ),
        };
        // A JWT account is known by its JWT's name.
        let (jwt, issuer_key, name_tag, tags) = match client.signed.filter(|_| self.auth) {
            Some(signed) => {
                let signed = *signed;
                let tag = match signed.name_tag {
                    Some(tag) if !name_tag.is_empty() => tag,
                    _ => name_tag,
                };
                (signed.jwt, signed.issuer_key, tag, signed.tags)
            }
            None => (Box::default(), Box::default(), name_tag, Vec::new()),
        };
        let (tls_version, tls_cipher_suite, tls_first) = client.tls.unwrap_or_default();
        ConnInfo {
            cid: s.cid,
            kind: if client.leaf { "Leafnode" } else { "Client" },
            kind_type: if client.leaf {
                ""
            } else if client.websocket {
                "websocket"
            } else {
                "nats"
            },
            ip: s.addr.ip().to_canonical().to_string(),
            port: s.addr.port(),
            start: self.time(s.start),
            last_activity: self.time(s.last_activity),
            stop: client.closed.map(|(at, _)| self.time(at)),
            reason: client.closed.map_or("", |(_, why)| why),
            rtt: go_format::duration(go_rtt(s.rtt)),
            uptime: go_format::uptime(until.saturating_duration_since(s.start)),
            idle: go_format::uptime(until.saturating_duration_since(s.last_activity)),
            pending_bytes: s.pending_bytes,
            in_msgs: s.in_msgs,
            out_msgs: s.out_msgs,
            in_bytes: s.in_bytes,
            out_bytes: s.out_bytes,
            subscriptions: s.num_subs,
            name: client.name,
            lang: client.lang,
            version: client.version,
            tls_version,
            tls_cipher_suite,
            tls_peer_certs: if self.auth && is_open {
                client
                    .peer_certs
                    .into_iter()
                    .map(|c| PeerCertJson {
                        subject: c.subject,
                        spki_sha256: c.spki_sha256,
                        cert_sha256: c.cert_sha256,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            tls_first,
            authorized_user: if self.auth {
                client.user
            } else {
                Box::default()
            },
            account,
            subscriptions_list,
            subscriptions_list_detail,
            jwt,
            issuer_key,
            name_tag,
            tags,
        }
    }
}

/// nats-server's `TLSPeerCert`.
#[derive(Serialize)]
struct PeerCertJson {
    subject: String,
    spki_sha256: String,
    cert_sha256: String,
}

/// nats-server's `getRTT` precision: microseconds below a millisecond.
fn go_rtt(rtt: std::time::Duration) -> std::time::Duration {
    let micros = std::time::Duration::from_micros(1);
    let millis = std::time::Duration::from_millis(1);
    if rtt > micros && rtt < millis {
        std::time::Duration::from_micros(rtt.as_micros() as u64)
    } else {
        rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sort_options_and_their_errors_are_nats_servers() {
        let parse = |q: &str| Options::parse(&Query::parse(q)).map(|o| o.sort);
        assert_eq!(parse("sort=bytes_to"), Ok(SortBy::BytesTo));
        assert_eq!(parse(""), Ok(SortBy::Cid));
        assert_eq!(
            parse("sort=foo").unwrap_err(),
            "invalid sorting option: foo"
        );
        assert_eq!(
            parse("sort=stop").unwrap_err(),
            "sort by stop only valid on closed connections"
        );
        assert_eq!(
            parse("sort=reason&state=all").unwrap_err(),
            "sort by reason only valid on closed connections"
        );
        assert_eq!(parse("sort=reason&state=closed"), Ok(SortBy::Reason));
        assert_eq!(
            Options::parse(&Query::parse("state=x")).err().unwrap(),
            "Error decoding state for x"
        );
    }

    #[test]
    fn paging_defaults_are_nats_servers() {
        let o = Options::parse(&Query::parse("offset=-4&limit=0")).unwrap();
        assert_eq!((o.offset, o.limit), (0, 1024));
        let o = Options::parse(&Query::parse("cid=7&limit=50")).unwrap();
        assert_eq!((o.cid, o.limit), (7, 1));
        let o = Options::parse(&Query::parse("subs=DETAIL&state=ALL")).unwrap();
        assert_eq!((o.subs, o.state), (Subs::Detail, State::All));
    }

    #[test]
    fn rtt_keeps_microseconds_below_a_millisecond() {
        assert_eq!(
            go_format::duration(go_rtt(Duration::from_nanos(604_321))),
            "604µs"
        );
        assert_eq!(
            go_format::duration(go_rtt(Duration::from_nanos(1_234_567))),
            "1.234567ms"
        );
        assert_eq!(go_format::duration(go_rtt(Duration::ZERO)), "0s");
    }

    #[test]
    fn sorts_as_nats_server_orders() {
        let t = Instant::now();
        let row = |cid: u64, msgs: u64, start_ms: u64| Row {
            summary: ConnSummary {
                cid,
                account: 0,
                addr: "127.0.0.1:1".parse().unwrap(),
                start: t + Duration::from_millis(start_ms),
                last_activity: t + Duration::from_millis(start_ms),
                rtt: Duration::ZERO,
                pending_bytes: 0,
                in_msgs: msgs,
                in_bytes: 0,
                out_msgs: 0,
                out_bytes: 0,
                num_subs: 0,
            },
            stop: None,
            found: Found::Open(0),
        };
        let cids = |rows: &[Row]| rows.iter().map(|r| r.summary.cid).collect::<Vec<_>>();
        let mut rows = vec![row(3, 5, 10), row(1, 9, 30), row(2, 5, 20)];
        let now = t + Duration::from_secs(1);
        sort(&mut rows, SortBy::Cid, now);
        assert_eq!(cids(&rows), [1, 2, 3]);
        sort(&mut rows, SortBy::MsgsFrom, now);
        assert_eq!(cids(&rows), [1, 2, 3], "most first, ties by cid");
        sort(&mut rows, SortBy::Uptime, now);
        assert_eq!(cids(&rows), [1, 2, 3], "shortest uptime first");
        sort(&mut rows, SortBy::Idle, now);
        assert_eq!(cids(&rows), [3, 2, 1], "longest idle first");
        sort(&mut rows, SortBy::Last, now);
        assert_eq!(cids(&rows), [1, 2, 3], "latest activity first");
    }
}
