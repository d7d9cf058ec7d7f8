//! `/routez`, `/gatewayz`, `/leafz`: the other servers this one is linked
//! to. natsd links to none yet, so these are nats-server's answers for a
//! server with no cluster, gateways or leaf nodes configured.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::pretty;
use super::query::Query;
use super::{Context, Reply};

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    server_name: &'a str,
    now: String,
    num_routes: usize,
    routes: [(); 0],
}

#[derive(Serialize)]
struct Gatewayz<'a> {
    server_id: &'a str,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

#[derive(Serialize)]
struct Leafz<'a> {
    server_id: &'a str,
    now: String,
    leafnodes: usize,
    leafs: [(); 0],
}

pub fn routez(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    // Checked as nats-server checks it, though there is nothing to list.
    if !q.get("subs").eq_ignore_ascii_case("detail") {
        q.bool("subs")?;
    }
    Ok(Reply::json(pretty(&Routez {
        server_id: ctx.server_id(),
        server_name: &ctx.core.info.server_name,
        now: ctx.now_text(),
        num_routes: 0,
        routes: [],
    })))
}

pub fn gatewayz(ctx: &Context<'_>) -> Reply {
    Reply::json(pretty(&Gatewayz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    }))
}

pub fn leafz(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    q.bool("subs")?;
    Ok(Reply::json(pretty(&Leafz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        leafnodes: 0,
        leafs: [],
    })))
}
