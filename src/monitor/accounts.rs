//! `/accountz` and `/accstatz`. natsd has one account, nats-server's global
//! account `$G`, holding every client; it has no system account.

use serde::Serialize;

use super::connz::GLOBAL_ACCOUNT;
use super::json::pretty;
use super::query::Query;
use super::subsz::SublistJson;
use super::{Context, Reply};

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo`, for an account with no JWT, imports or
/// exports.
#[derive(Serialize)]
struct AccountInfo {
    account_name: &'static str,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: usize,
    name_tag: &'static str,
    sublist_stats: SublistJson,
}

pub fn accountz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let core = ctx.core;
    let (accounts, account_detail) = match q.get("acc") {
        "" => (Some([GLOBAL_ACCOUNT]), None),
        GLOBAL_ACCOUNT => {
            let (start, _) = core.wall_clock().start();
            let detail = AccountInfo {
                account_name: GLOBAL_ACCOUNT,
                update_time: ctx.time(start),
                expired: false,
                complete: true,
                jetstream_enabled: false,
                leafnode_connections: 0,
                client_connections: core.num_connections(),
                subscriptions: core.num_subscriptions(),
                name_tag: GLOBAL_ACCOUNT,
                sublist_stats: core.sublist_stats().into(),
            };
            (None, Some(detail))
        }
        other => return Err(format!("Account {other} does not exist")),
    };
    Ok(Reply::json(pretty(&Accountz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        accounts,
        account_detail,
    })))
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
    acc: &'static str,
    name: &'static str,
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

/// Accounts with connections (or every one, with `unused=1`); with one
/// account, its figures are the server's.
pub fn accstatz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    let unused = q.bool("unused")?;
    let core = ctx.core;
    let stats = core.stats();
    let conns = core.num_connections();
    let mut account_statz = Vec::new();
    if unused || conns > 0 {
        account_statz.push(AccountStat {
            acc: GLOBAL_ACCOUNT,
            name: GLOBAL_ACCOUNT,
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: core.num_subscriptions(),
            sent: DataStats::clients(stats.out_msgs, stats.out_bytes),
            received: DataStats::clients(stats.in_msgs, stats.in_bytes),
            slow_consumers: stats.slow_consumers,
        });
    }
    Ok(Reply::json(pretty(&AccountStatz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        account_statz,
    })))
}
