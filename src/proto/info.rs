//! The server's `INFO`, with nats-server's JSON keys in nats-server's order.

use serde::Serialize;

/// The `INFO` a client receives on connect. Keys whose Go counterpart is
/// `omitempty` are skipped when empty, as nats-server skips them.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// The cluster's name, when this server has routes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Where clients can connect in the cluster (this server's own URLs
    /// and those its routes advertise), unless `no_advertise`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// The client is in the system account.
    #[serde(skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
    /// A leaf node hub's second INFO: what the leaf's user may receive
    /// (its subscribe permissions) and send (its publish permissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectRules>,
    /// A leaf node hub's INFO: a second INFO follows the CONNECT.
    #[serde(skip_serializing_if = "is_false")]
    pub info_on_connect: bool,
    /// A leaf node hub's INFO: where its leaf nodes may connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leafnode_urls: Option<Vec<String>>,
}

/// Allow and deny lists, as nats-server's `SubjectPermission` marshals.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
#[serde(default)]
pub struct SubjectRules {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Info {
    /// The server-wide INFO; per-client fields (`client_id`, `client_ip`,
    /// `connect_info`, ...) are set on a copy for each client.
    pub fn server(
        server_id: String,
        server_name: String,
        version: &str,
        host: &str,
        port: u16,
        auth_required: bool,
        max_payload: u32,
    ) -> Info {
        Info {
            server_id,
            server_name,
            version: version.to_string(),
            proto: 1,
            git_commit: String::new(),
            go: format!("natsd {}", env!("CARGO_PKG_VERSION")),
            host: host.to_string(),
            port,
            headers: true,
            auth_required,
            tls_required: false,
            tls_verify: false,
            tls_available: false,
            max_payload,
            client_id: 0,
            client_ip: String::new(),
            nonce: String::new(),
            cluster: String::new(),
            connect_urls: Vec::new(),
            ldm: false,
            connect_info: false,
            remote_account: String::new(),
            acc_is_sys: false,
            import: None,
            export: None,
            info_on_connect: false,
            leafnode_urls: None,
        }
    }

    /// Append `INFO <json>\r\n` to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"INFO ");
        // Serializing plain strings, numbers and bools into a Vec cannot fail.
        serde_json::to_writer(&mut *out, self).expect("INFO serializes");
        out.extend_from_slice(b" \r\n");
    }
}
