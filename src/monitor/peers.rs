//! `/routez`, `/gatewayz`, `/leafz`: the other servers this one is linked
//! to. natsd has no gateways, so `/gatewayz` is nats-server's answer for
//! a server without them; `/routez` lists the routes, `/leafz` the leaf
//! links.

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
    routes: Vec<RouteInfo>,
}

/// nats-server's `RouteInfo`, in its key order.
#[derive(Serialize)]
struct RouteInfo {
    rid: u64,
    remote_id: Box<str>,
    remote_name: Box<str>,
    did_solicit: bool,
    is_configured: bool,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    rtt: String,
    uptime: String,
    idle: String,
    pending_size: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<Box<str>>,
    /// natsd does not compress routes: `off`, or nats-server's `not
    /// supported` for a peer that offers no compression.
    compression: &'static str,
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
    leafs: Vec<LeafInfo>,
}

/// nats-server's `LeafInfo`, in its key order.
#[derive(Serialize)]
struct LeafInfo {
    id: u64,
    name: Box<str>,
    is_spoke: bool,
    account: Box<str>,
    ip: String,
    port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    rtt: String,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<Box<str>>,
    /// natsd does not compress leaf connections.
    compression: &'static str,
}

pub fn routez(ctx: &Context<'_>, q: &Query) -> Result<Reply, String> {
    // `subs=detail` lists the same subjects (natsd keeps no per-route
    // subscription details beyond them).
    let subs = q.get("subs").eq_ignore_ascii_case("detail") || q.bool("subs")?;
    let routes: Vec<RouteInfo> = ctx
        .core
        .routes(subs)
        .into_iter()
        .map(|route| {
            let s = route.summary;
            RouteInfo {
                rid: s.cid,
                remote_id: route.remote_id,
                remote_name: route.remote_name,
                did_solicit: route.did_solicit,
                is_configured: route.is_configured,
                ip: s.addr.ip().to_canonical().to_string(),
                port: s.addr.port(),
                start: ctx.time(s.start),
                last_activity: ctx.time(s.last_activity),
                rtt: crate::go_format::duration(s.rtt),
                uptime: crate::go_format::uptime(ctx.now.saturating_duration_since(s.start)),
                idle: crate::go_format::uptime(ctx.now.saturating_duration_since(s.last_activity)),
                pending_size: s.pending_bytes,
                in_msgs: s.in_msgs,
                out_msgs: s.out_msgs,
                in_bytes: s.in_bytes,
                out_bytes: s.out_bytes,
                subscriptions: s.num_subs,
                subscriptions_list: route.subjects,
                compression: route.compression,
            }
        })
        .collect();
    Ok(Reply::json(pretty(&Routez {
        server_id: ctx.server_id(),
        server_name: &ctx.core.info.server_name,
        now: ctx.now_text(),
        num_routes: routes.len(),
        routes,
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
    let subs = q.bool("subs")?;
    let account = Some(q.get("acc")).filter(|a| !a.is_empty());
    let leafs: Vec<LeafInfo> = ctx
        .core
        .leafs(account, subs)
        .into_iter()
        .map(|leaf| {
            let s = leaf.summary;
            LeafInfo {
                id: s.cid,
                name: leaf.name,
                is_spoke: leaf.is_spoke,
                account: leaf.account,
                ip: s.addr.ip().to_canonical().to_string(),
                port: s.addr.port(),
                rtt: if s.rtt.is_zero() {
                    String::new()
                } else {
                    crate::go_format::duration(s.rtt)
                },
                in_msgs: s.in_msgs,
                out_msgs: s.out_msgs,
                in_bytes: s.in_bytes,
                out_bytes: s.out_bytes,
                subscriptions: s.num_subs,
                subscriptions_list: leaf.subjects,
                compression: "off",
            }
        })
        .collect();
    Ok(Reply::json(pretty(&Leafz {
        server_id: ctx.server_id(),
        now: ctx.now_text(),
        leafnodes: leafs.len(),
        leafs,
    })))
}
