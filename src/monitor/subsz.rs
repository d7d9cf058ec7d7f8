//! `/subsz`: the subscription tries' counters and, with `subs=1`, the
//! subscriptions themselves (paged, optionally only those a `test` subject
//! would reach), as nats-server lists them; `acc=NAME` limits both to one
//! account's trie (an unknown account has nothing in it).
//!
//! A listed subscription names the account of its client: a stream
//! import's shadow in the exporter's trie names the importer, with the
//! importing client's cid and sid, as in nats-server. The server's internal
//! subscriptions (a service import's, a reply prefix's) count in the
//! figures but are not listed: nats-server lists them under each account's
//! internal client, which natsd does not have (and the system imports that
//! make most of them in nats-server do not exist in natsd).

use serde::Serialize;

use super::connz::SubDetail;
use super::json::{go_float, pretty, JsonList};
use super::query::Query;
use super::{Context, Reply};
use crate::core::view::SubInfo;
use crate::core::Core;
use crate::subject;
use crate::sublist::SublistStats;

/// nats-server's `DefaultSubListSize`.
const DEFAULT_LIMIT: i64 = 1024;

/// nats-server's `SublistStats`, as `/subsz` and `/accountz` show them.
#[derive(Serialize, Default)]
pub struct SublistJson {
    num_subscriptions: usize,
    num_cache: usize,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "go_float")]
    cache_hit_rate: f64,
    max_fanout: usize,
    #[serde(serialize_with = "go_float")]
    avg_fanout: f64,
}

impl From<SublistStats> for SublistJson {
    fn from(s: SublistStats) -> SublistJson {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        SublistJson {
            num_subscriptions: s.num_subs,
            num_cache: s.num_cache,
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: ratio(s.cache_hits as f64, s.num_matches as f64),
            max_fanout: s.max_fanout,
            avg_fanout: ratio(s.total_fanout as f64, s.num_cache as f64),
        }
    }
}

#[derive(Serialize)]
struct SubszHead<'a> {
    server_id: &'a str,
    now: String,
    #[serde(flatten)]
    stats: SublistJson,
    total: usize,
    offset: usize,
    limit: usize,
}

pub fn subsz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let list = q.bool("subs")?;
    let offset = usize::try_from(q.int("offset")?).unwrap_or(0);
    let limit = match q.int("limit")? {
        l if l <= 0 => DEFAULT_LIMIT as usize,
        l => usize::try_from(l).unwrap_or(usize::MAX),
    };
    let test = q.get("test");
    if !test.is_empty() && !subject::is_valid_literal_subject(test.as_bytes()) {
        return Err(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    let core = ctx.core;
    let (stats, account) = match q.get("acc") {
        "" => (SublistJson::from(core.sublist_stats()), None),
        name => match core.account_info(name) {
            Some(info) => (SublistJson::from(info.sublist), core.find_account(name)),
            // Not an error: nothing is in it.
            None => {
                return Ok(Reply::json(pretty(&SubszHead {
                    server_id: ctx.server_id(),
                    now: ctx.now_text(),
                    stats: SublistJson::default(),
                    total: 0,
                    offset,
                    limit,
                })))
            }
        },
    };
    let (total, page) = if list {
        let matching: Vec<_> = core
            .subscriptions()
            .filter(|s| account.is_none_or(|a| s.account() == a))
            .filter(|s| test.is_empty() || subject::matches(s.subject(), test.as_bytes()))
            .filter_map(|s| Some((s.client_account()?, s)))
            .collect();
        let start = offset.min(matching.len());
        let end = start + limit.min(matching.len() - start);
        let page: Vec<(SubInfo, Box<str>)> = matching[start..end]
            .iter()
            .map(|(a, s)| (s.info(), core.account_name(*a).into()))
            .collect();
        (matching.len(), page)
    } else {
        (0, Vec::new())
    };
    let head = SubszHead {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        stats,
        total,
        offset,
        limit,
    };
    let to_json =
        |_: &Core, (sub, account): (SubInfo, Box<str>)| SubDetail::new(sub, Some(&account));
    Ok(Reply::Later(Box::new(JsonList::new(
        &head,
        "subscriptions_list",
        page,
        to_json,
        true,
    ))))
}
