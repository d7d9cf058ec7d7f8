//! `/metrics`: the main counters and gauges in the Prometheus text
//! exposition format (version 0.0.4), so no exporter is needed.

use std::fmt::Write;

use super::http::{Response, PROMETHEUS};
use super::{Context, Reply};

/// One metric: name, help, type.
struct Metric(&'static str, &'static str, &'static str);

pub fn metrics(ctx: &Context<'_>, rss: u64) -> Reply {
    let core = ctx.core;
    let stats = core.stats();
    let info = &core.info;
    let (start, start_wall) = core.wall_clock().start();
    let start_secs = start_wall
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut out = String::new();
    let mut put = |Metric(name, help, kind): Metric, labels: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}"
        );
    };
    let labels = format!(
        "{{server_id=\"{}\",server_name=\"{}\",version=\"{}\"}}",
        escape(&info.server_id),
        escape(&info.server_name),
        escape(crate::VERSION)
    );
    put(
        Metric("natsd_info", "The server's identity; always 1.", "gauge"),
        &labels,
        1.0,
    );
    let (leaf, leaf_reconnects) = core.leaf_traffic();
    let route = core.route_traffic();
    let metrics = [
        (
            Metric(
                "natsd_routes",
                "Routes to other servers of the cluster up now.",
                "gauge",
            ),
            core.num_routes() as f64,
        ),
        (
            Metric(
                "natsd_route_in_msgs_total",
                "Messages received over routes.",
                "counter",
            ),
            route.in_msgs as f64,
        ),
        (
            Metric(
                "natsd_route_in_bytes_total",
                "Message bytes received over routes.",
                "counter",
            ),
            route.in_bytes as f64,
        ),
        (
            Metric(
                "natsd_route_out_msgs_total",
                "Messages sent over routes.",
                "counter",
            ),
            route.out_msgs as f64,
        ),
        (
            Metric(
                "natsd_route_out_bytes_total",
                "Message bytes sent over routes.",
                "counter",
            ),
            route.out_bytes as f64,
        ),
        (
            Metric(
                "natsd_leafnodes",
                "Leaf node connections up now (accepted and to remotes).",
                "gauge",
            ),
            core.num_leafs() as f64,
        ),
        (
            Metric(
                "natsd_leafnode_reconnects_total",
                "Times a remote connected again after losing its link.",
                "counter",
            ),
            leaf_reconnects as f64,
        ),
        (
            Metric(
                "natsd_leafnode_in_msgs_total",
                "Messages received over leaf node connections.",
                "counter",
            ),
            leaf.in_msgs as f64,
        ),
        (
            Metric(
                "natsd_leafnode_in_bytes_total",
                "Message bytes received over leaf node connections.",
                "counter",
            ),
            leaf.in_bytes as f64,
        ),
        (
            Metric(
                "natsd_leafnode_out_msgs_total",
                "Messages sent over leaf node connections.",
                "counter",
            ),
            leaf.out_msgs as f64,
        ),
        (
            Metric(
                "natsd_leafnode_out_bytes_total",
                "Message bytes sent over leaf node connections.",
                "counter",
            ),
            leaf.out_bytes as f64,
        ),
        (
            Metric(
                "natsd_start_time_seconds",
                "When the server started, in seconds since the Unix epoch.",
                "gauge",
            ),
            start_secs,
        ),
        (
            Metric(
                "natsd_uptime_seconds",
                "Seconds since the server started.",
                "gauge",
            ),
            ctx.now.saturating_duration_since(start).as_secs_f64(),
        ),
        (
            Metric("natsd_connections", "Client connections open now.", "gauge"),
            core.num_clients() as f64,
        ),
        (
            Metric(
                "natsd_connections_total",
                "Client connections accepted since start.",
                "counter",
            ),
            stats.total_connections as f64,
        ),
        (
            Metric(
                "natsd_max_connections",
                "The most client connections allowed at once.",
                "gauge",
            ),
            core.opts.max_connections as f64,
        ),
        (
            Metric("natsd_subscriptions", "Subscriptions now.", "gauge"),
            core.num_subscriptions() as f64,
        ),
        (
            Metric(
                "natsd_in_msgs_total",
                "Messages received from clients.",
                "counter",
            ),
            stats.in_msgs as f64,
        ),
        (
            Metric(
                "natsd_in_bytes_total",
                "Message bytes (headers and payload) received from clients.",
                "counter",
            ),
            stats.in_bytes as f64,
        ),
        (
            Metric(
                "natsd_out_msgs_total",
                "Messages delivered to clients.",
                "counter",
            ),
            stats.out_msgs as f64,
        ),
        (
            Metric(
                "natsd_out_bytes_total",
                "Message bytes delivered to clients.",
                "counter",
            ),
            stats.out_bytes as f64,
        ),
        (
            Metric(
                "natsd_slow_consumers_total",
                "Clients closed as slow consumers.",
                "counter",
            ),
            stats.slow_consumers as f64,
        ),
        (
            Metric(
                "natsd_stale_connections_total",
                "Clients closed for not answering PINGs.",
                "counter",
            ),
            stats.stale_connections as f64,
        ),
        (
            Metric(
                "natsd_resident_memory_bytes",
                "Resident memory of the process (VmRSS).",
                "gauge",
            ),
            rss as f64,
        ),
    ];
    for (metric, value) in metrics {
        put(metric, "", value);
    }
    Reply::Now(Response::ok(PROMETHEUS, out.into_bytes()))
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
