//! Protocol errors, each carrying the exact text nats-server sends for it.

use std::fmt;

/// A protocol error found while parsing a client's byte stream.
///
/// Every variant ends the connection. Whether the client is told why first
/// (an `-ERR` line) or the connection is closed silently follows nats-server:
/// see [`ProtoError::wire_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// Bytes that start no known operation, or a payload not followed by CRLF.
    UnknownOp { snippet: Snippet },
    /// An operation other than CONNECT while the server waits for credentials.
    AuthorizationViolation,
    /// The arguments of a control line are longer than `max_control_line`.
    MaxControlLine { len: usize, max: usize },
    /// A PUB/HPUB declares a payload larger than `max_payload`.
    MaxPayload { size: usize, max: usize },
    /// HPUB from a client whose CONNECT did not ask for headers.
    HeadersNotSupported,
    /// Arguments that do not parse (count, sizes). nats-server closes the
    /// connection without an `-ERR` for these.
    BadArgs {
        op: &'static str,
        why: &'static str,
        snippet: Snippet,
    },
}

impl ProtoError {
    /// The text nats-server puts inside `-ERR '...'` for this error, or `None`
    /// when it closes the connection without a word.
    pub fn wire_text(&self) -> Option<&'static str> {
        match self {
            ProtoError::UnknownOp { .. } => Some(UNKNOWN_PROTOCOL_OPERATION),
            ProtoError::AuthorizationViolation => Some(AUTHORIZATION_VIOLATION),
            ProtoError::MaxControlLine { .. } => Some(MAX_CONTROL_LINE_EXCEEDED),
            ProtoError::MaxPayload { .. } => Some(MAXIMUM_PAYLOAD_VIOLATION),
            ProtoError::HeadersNotSupported | ProtoError::BadArgs { .. } => None,
        }
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::UnknownOp { snippet } => {
                write!(f, "parser error: unknown protocol operation at {snippet}")
            }
            ProtoError::AuthorizationViolation => f.write_str("authorization violation"),
            ProtoError::MaxControlLine { len, max } => {
                write!(f, "maximum control line exceeded: {len} > {max}")
            }
            ProtoError::MaxPayload { size, max } => {
                write!(f, "maximum payload exceeded: {size} vs {max}")
            }
            ProtoError::HeadersNotSupported => f.write_str("message headers not supported"),
            ProtoError::BadArgs { op, why, snippet } => write!(f, "{op} {why}: {snippet}"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// A short, escaped copy of the input around an error, for logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Snippet(String);

impl Snippet {
    const MAX: usize = 32;

    pub fn of(bytes: &[u8]) -> Snippet {
        let end = bytes.len().min(Self::MAX);
        let mut s = String::with_capacity(end + 2);
        s.push('"');
        for chunk in bytes[..end].utf8_chunks() {
            for c in chunk.valid().chars() {
                s.extend(c.escape_debug());
            }
            for b in chunk.invalid() {
                s.push_str(&format!("\\x{b:02x}"));
            }
        }
        s.push('"');
        Snippet(s)
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// The -ERR texts of nats-server, letter case included.
pub const UNKNOWN_PROTOCOL_OPERATION: &str = "Unknown Protocol Operation";
pub const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";
pub const AUTHENTICATION_TIMEOUT: &str = "Authentication Timeout";
pub const MAX_CONTROL_LINE_EXCEEDED: &str = "maximum control line exceeded";
pub const MAXIMUM_PAYLOAD_VIOLATION: &str = "Maximum Payload Violation";
pub const INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";
pub const INVALID_SUBJECT: &str = "Invalid Subject";
pub const STALE_CONNECTION: &str = "Stale Connection";
pub const MAX_CONNECTIONS_EXCEEDED: &str = "maximum connections exceeded";
pub const MAX_SUBSCRIPTIONS_EXCEEDED: &str = "maximum subscriptions exceeded";
pub const NO_RESPONDERS_REQUIRES_HEADERS: &str = "no responders requires headers support";
pub const INVALID_CLIENT_PROTOCOL: &str = "invalid client protocol";
pub const MAX_ACCOUNT_CONNECTIONS_EXCEEDED: &str = "maximum account active connections exceeded";
pub const USER_AUTHENTICATION_EXPIRED: &str = "User Authentication Expired";
pub const USER_AUTHENTICATION_REVOKED: &str = "User Authentication Revoked";
pub const ACCOUNT_AUTHENTICATION_EXPIRED: &str = "Account Authentication Expired";

/// Every text natsd can send in an `-ERR`, for tests and fuzz targets that
/// check a server never says anything else.
pub const ALL: &[&str] = &[
    UNKNOWN_PROTOCOL_OPERATION,
    AUTHORIZATION_VIOLATION,
    AUTHENTICATION_TIMEOUT,
    MAX_CONTROL_LINE_EXCEEDED,
    MAXIMUM_PAYLOAD_VIOLATION,
    INVALID_PUBLISH_SUBJECT,
    INVALID_SUBJECT,
    STALE_CONNECTION,
    MAX_CONNECTIONS_EXCEEDED,
    MAX_SUBSCRIPTIONS_EXCEEDED,
    NO_RESPONDERS_REQUIRES_HEADERS,
    INVALID_CLIENT_PROTOCOL,
    MAX_ACCOUNT_CONNECTIONS_EXCEEDED,
    USER_AUTHENTICATION_EXPIRED,
    USER_AUTHENTICATION_REVOKED,
    ACCOUNT_AUTHENTICATION_EXPIRED,
];
