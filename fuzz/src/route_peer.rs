//! A route peer for the `session` target: another server of the core's
//! cluster, connected to it on its route port, speaking `CONNECT`, `INFO`,
//! `RS+`, `RS-`, `RMSG` and `HMSG` in fuzzer-chosen ways, and checking what
//! the core sends it.
//!
//! What it checks of the core's output by itself:
//! - only route protocol operations (`INFO`, `PING`, `PONG`, `-ERR`, `RS+`,
//!   `RS-`, `RMSG`, `HMSG`), with sizes that agree with their bytes, an
//!   `RS-` only for what an `RS+` told, a queue weight above 0, `HMSG`
//!   only to a peer that said it takes headers;
//! - a message goes only to a peer that asked for its subject in its
//!   account, or named a queue group of it.
//!
//! What it keeps for the session to check: what the core told it
//! (`RS+`/`RS-` replayed: `account subject[ queue]` -> weight), and every
//! message it received (`deliveries`), against where the message came from.

use std::collections::HashMap;

use natsd::proto::{error, Op, Parser, Status};

use super::input::Input;
use super::model;

/// The core's cluster (see `session::options`).
pub const CLUSTER: &str = "fz";

/// The accounts a peer names: those of the fuzzed configurations, and one
/// that never exists.
const ACCOUNTS: &[&str] = &["$G", "A", "B", "nope"];

/// A message the core sent the peer.
pub struct Delivered {
    pub account: Vec<u8>,
    pub subject: Vec<u8>,
    /// Without the header block.
    pub payload: Vec<u8>,
    pub queues: Vec<Vec<u8>>,
}

/// A message the peer sent the core.
pub struct Sent {
    pub account: Vec<u8>,
    pub subject: Vec<u8>,
    pub payload: Vec<u8>,
    pub queues: Vec<Vec<u8>>,
}

pub struct RoutePeer {
    pub key: usize,
    pub cid: u64,
    /// Marks the peer's payloads: `R<id>.`.
    pub id: usize,
    /// The core lists it among its registered routes.
    pub registered: bool,
    /// The peer is not reading.
    pub stalled: bool,
    /// The peer said (in its CONNECT, then its INFO) it takes headers.
    pub headers: bool,
    /// Every (account, subject) and (account, `subject queue`) it asked for.
    pub asked: Vec<(Vec<u8>, Vec<u8>)>,
    /// What the core told it: `account subject[ queue]` -> weight (1 for
    /// plain interest).
    pub told: HashMap<Vec<u8>, u32>,
    /// The messages it received since the session last took them.
    pub deliveries: Vec<Delivered>,
    shadow: Option<Parser>,
    shadow_buf: Vec<u8>,
    out: Vec<u8>,
    counter: usize,
}

impl RoutePeer {
    pub fn new(
        key: usize,
        cid: u64,
        id: usize,
        max_control_line: usize,
        max_payload: usize,
    ) -> RoutePeer {
        let mut shadow = Parser::new(max_control_line, max_payload);
        shadow.route = true;
        RoutePeer {
            key,
            cid,
            id,
            registered: false,
            stalled: false,
            headers: false,
            asked: Vec::new(),
            told: HashMap::new(),
            deliveries: Vec::new(),
            shadow: Some(shadow),
            shadow_buf: Vec::new(),
            out: Vec::new(),
            counter: 0,
        }
    }

    /// A route operation with fuzzer-chosen details.
    pub fn template(&mut self, input: &mut Input) -> Vec<u8> {
        let account = ACCOUNTS[input.below(ACCOUNTS.len())];
        let subject = {
            const TOKENS: &[&str] = &["a", "b", "x", "*", ">", "_INBOX"];
            let n = 1 + input.below(3);
            (0..n)
                .map(|_| TOKENS[input.below(TOKENS.len())])
                .collect::<Vec<_>>()
                .join(".")
        };
        let queue = ["q0", "q1"][input.below(2)];
        match input.below(9) {
            0 => {
                let how = input.below(4);
                let id = match input.below(8) {
                    0 => "NROUTE0".to_string(),
                    1 => "NFUZZ".to_string(),
                    _ => format!("NROUTE{}", self.id),
                };
                let cluster = if input.below(8) == 0 { "zz" } else { CLUSTER };
                let name = if input.below(8) == 0 {
                    "fuzz".to_string()
                } else {
                    format!("r{}", self.id)
                };
                let headers = input.below(4) != 0;
                let urls = if input.bool() {
                    format!(r#","connect_urls":["10.0.0.{}:4222"]"#, self.id)
                } else {
                    String::new()
                };
                let connect = format!(
                    "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":{headers},\"name\":\"{id}\",\"cluster\":\"{cluster}\"}}\r\n"
                );
                let info = format!(
                    "INFO {{\"server_id\":\"{id}\",\"server_name\":\"{name}\",\"version\":\"2.11.0\",\"proto\":1,\"host\":\"127.0.0.1\",\"port\":6222,\"cluster\":\"{cluster}\",\"headers\":{headers}{urls}}}\r\n"
                );
                match how {
                    0 => connect,
                    1 => info,
                    _ => connect + &info,
                }
            }
            1 => format!("RS+ {account} {subject}\r\n"),
            2 => format!("RS+ {account} {subject} {queue} {}\r\n", 1 + input.below(3)),
            3 => match input.below(2) {
                0 => format!("RS- {account} {subject}\r\n"),
                _ => format!("RS- {account} {subject} {queue}\r\n"),
            },
            4 | 5 => {
                self.counter += 1;
                let payload = format!("R{}.{}", self.id, self.counter);
                let how = match input.below(5) {
                    0 => String::new(),
                    1 => "_INBOX.r ".to_string(),
                    2 => format!("| {queue} "),
                    3 => "| q0 q1 ".to_string(),
                    _ => format!("+ _INBOX.r {queue} "),
                };
                if input.bool() {
                    let headers = "NATS/1.0\r\nk: v\r\n\r\n";
                    format!(
                        "HMSG {account} {subject} {how}{} {}\r\n{headers}{payload}\r\n",
                        headers.len(),
                        headers.len() + payload.len()
                    )
                } else {
                    format!(
                        "RMSG {account} {subject} {how}{}\r\n{payload}\r\n",
                        payload.len()
                    )
                }
            }
            6 => "PING\r\n".into(),
            7 => match input.below(3) {
                // Gossip: another server of the cluster.
                0 => format!(
                    "INFO {{\"server_id\":\"NOTHER{}\",\"ip\":\"nats-route://127.0.0.1:{}/\",\"cluster\":\"{CLUSTER}\"}}\r\n",
                    input.below(2),
                    6300 + input.below(2)
                ),
                // The peer enters lame duck mode.
                1 => format!(
                    "INFO {{\"server_id\":\"NROUTE{}\",\"ldm\":true,\"cluster\":\"{CLUSTER}\"}}\r\n",
                    self.id
                ),
                _ => "-ERR 'Unknown Protocol Operation'\r\n".into(),
            },
            _ => "PONG\r\n".into(),
        }
        .into_bytes()
    }

    /// Note what the peer said: whether it takes headers, what it asked
    /// for; the messages it sent.
    pub fn observe_sent(&mut self, bytes: &[u8]) -> Vec<Sent> {
        let mut sent = Vec::new();
        let Some(parser) = &mut self.shadow else {
            return sent;
        };
        self.shadow_buf.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            match parser.parse(&self.shadow_buf[pos..]) {
                Ok(Status::Complete((n, op))) => {
                    pos += n;
                    match op {
                        Op::Connect(json) | Op::Info(json) if !self.registered => {
                            let text = String::from_utf8_lossy(json);
                            if text.contains("\"headers\":true") {
                                self.headers = true;
                            }
                        }
                        Op::RouteSub {
                            account,
                            subject,
                            queue,
                            ..
                        } => {
                            self.asked.push((account.to_vec(), subject.to_vec()));
                            if let Some(q) = queue {
                                self.asked
                                    .push((account.to_vec(), [subject, b" ", q].concat()));
                            }
                        }
                        Op::RouteMsg {
                            account,
                            msg,
                            queues,
                        } => sent.push(Sent {
                            account: account.to_vec(),
                            subject: msg.subject.to_vec(),
                            payload: msg.payload().to_vec(),
                            queues: natsd::proto::leaf::queue_names(queues)
                                .map(<[u8]>::to_vec)
                                .collect(),
                        }),
                        _ => {}
                    }
                }
                Ok(Status::Partial(n)) => {
                    pos += n;
                    break;
                }
                Err(_) => {
                    self.shadow = None;
                    return sent;
                }
            }
        }
        self.shadow_buf.drain(..pos);
        sent
    }

    /// Nothing of the core's output is left half-read.
    pub fn is_drained(&self) -> bool {
        self.out.is_empty()
    }

    /// Check what the core wrote to the peer.
    pub fn check_output(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some(n) = self.check_one(pos) {
            pos += n;
        }
        self.out.drain(..pos);
    }

    fn check_one(&mut self, at: usize) -> Option<usize> {
        let out = &self.out[at..];
        let eol = out.windows(2).position(|w| w == b"\r\n")?;
        let line = out[..eol].to_vec();
        let after_line = eol + 2;
        if line == b"PING" || line == b"PONG" {
            return Some(after_line);
        }
        if let Some(json) = line.strip_prefix(b"INFO ") {
            assert!(json.starts_with(b"{") && json.ends_with(b"}"), "{line:?}");
            return Some(after_line);
        }
        if let Some(text) = line.strip_prefix(b"-ERR '") {
            let text = text.strip_suffix(b"'").expect("-ERR text in quotes");
            let text = std::str::from_utf8(text).unwrap();
            assert!(
                error::ALL.contains(&text)
                    || text == "attempted to connect to route port"
                    || text.starts_with("Rejecting connection, cluster name ")
                    || text.starts_with("Not possible to have a dedicated route for account ")
                    || text.starts_with("Permissions Violation for "),
                "-ERR {text:?} to a route"
            );
            return Some(after_line);
        }
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match words[0] {
            b"RS+" => {
                let (key, weight) = match words.len() {
                    3 => ([words[1], b" ", words[2]].concat(), 1),
                    5 => {
                        let weight = std::str::from_utf8(words[4]).unwrap().parse().unwrap();
                        assert!(weight > 0, "{:?}", text(&line));
                        ([words[1], b" ", words[2], b" ", words[3]].concat(), weight)
                    }
                    _ => panic!("{:?}", text(&line)),
                };
                if words.len() == 3 {
                    assert!(
                        !self.told.contains_key(&key),
                        "{:?} told twice without an RS- between",
                        text(&line)
                    );
                }
                self.told.insert(key, weight);
                Some(after_line)
            }
            b"RS-" => {
                let key = match words.len() {
                    3 | 4 => words[1..].join(&b' '),
                    _ => panic!("{:?}", text(&line)),
                };
                assert!(
                    self.told.remove(&key).is_some(),
                    "RS- {:?} without its RS+",
                    text(&key)
                );
                Some(after_line)
            }
            b"RMSG" | b"HMSG" => {
                let sizes = if words[0] == b"HMSG" { 2 } else { 1 };
                assert!(words.len() >= 3 + sizes, "{:?}", text(&line));
                assert!(
                    sizes == 1 || self.headers,
                    "HMSG to a route that does not take headers"
                );
                let number =
                    |w: &[u8]| -> usize { std::str::from_utf8(w).unwrap().parse().unwrap() };
                let total = number(words[words.len() - 1]);
                let header_len = if sizes == 2 {
                    number(words[words.len() - 2])
                } else {
                    0
                };
                assert!(header_len <= total, "{:?}", text(&line));
                let end = after_line + total;
                if out.len() < end + 2 {
                    return None;
                }
                assert_eq!(&out[end..end + 2], b"\r\n", "payload size of {line:?}");
                let (account, subject) = (words[1], words[2]);
                let middle = &words[3..words.len() - sizes];
                let queues: Vec<Vec<u8>> = match middle.first() {
                    Some(&b"+") => middle[2..].iter().map(|q| q.to_vec()).collect(),
                    Some(&b"|") => middle[1..].iter().map(|q| q.to_vec()).collect(),
                    _ => {
                        assert!(middle.len() <= 1, "{:?}", text(&line));
                        Vec::new()
                    }
                };
                let asked_for = self
                    .asked
                    .iter()
                    .any(|(a, s)| a == account && model::matches(s, subject))
                    || queues.iter().any(|q| {
                        self.asked.iter().any(|(a, k)| {
                            a == account
                                && k.ends_with(q)
                                && k.len() > q.len()
                                && k[k.len() - q.len() - 1] == b' '
                                && model::matches(&k[..k.len() - q.len() - 1], subject)
                        })
                    });
                assert!(
                    asked_for,
                    "{:?} to a route that did not ask for it",
                    text(&line)
                );
                self.deliveries.push(Delivered {
                    account: account.to_vec(),
                    subject: subject.to_vec(),
                    payload: out[after_line + header_len..end].to_vec(),
                    queues,
                });
                Some(end + 2)
            }
            _ => panic!("not a route operation: {:?}", text(&line)),
        }
    }
}
