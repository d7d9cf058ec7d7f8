//! `/`: a page of links to the endpoints, as nats-server serves one.

use super::http::{Response, HTML};
use super::Reply;
use crate::{NATS_SERVER_VERSION, VERSION};

/// (title, path) of each endpoint the page links to.
const LINKS: [(&str, &str); 10] = [
    ("General", "/varz"),
    ("Connections", "/connz"),
    ("Accounts", "/accountz"),
    ("Account Stats", "/accstatz"),
    ("Subscriptions", "/subsz"),
    ("Routes", "/routez"),
    ("LeafNodes", "/leafz"),
    ("Gateways", "/gatewayz"),
    ("Health Probe", "/healthz"),
    ("Prometheus Metrics", "/metrics"),
];

pub fn page(base_path: &str) -> Reply {
    let mut html = format!(
        "<html lang=\"en\">\n<head>\n<title>natsd</title>\n<style type=\"text/css\">\n\
         body {{ font-family: ui-sans-serif, system-ui, sans-serif; margin-left: 32px }}\n\
         a {{ display: block; padding-bottom: 6px; text-decoration: none }}\n\
         .endpoint {{ font-size: 12px; color: #999; font-family: monospace }}\n\
         </style>\n</head>\n<body>\n<h1>natsd</h1>\n\
         <p>v{VERSION} (nats-server v{NATS_SERVER_VERSION} protocol)</p>\n"
    );
    for (title, path) in LINKS {
        html.push_str(&format!(
            "<a href=\"{base_path}{path}\">{title}<span class=\"endpoint\"> {path}</span></a>\n"
        ));
    }
    html.push_str(
        "<a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">Help</a>\n\
         </body>\n</html>\n",
    );
    Reply::Now(Response::ok(HTML, html.into_bytes()))
}
