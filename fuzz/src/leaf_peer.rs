//! A leaf node peer for the `session` target: another server linked to the
//! core on its leaf node port, speaking `CONNECT`, `LS+`, `LS-`, `LMSG` and
//! `HMSG` in fuzzer-chosen ways, and checking what the core sends it.
//!
//! What it checks of the core's output:
//! - only leaf protocol operations (`INFO`, `PING`, `PONG`, `-ERR`, `LS+`,
//!   `LS-`, `LMSG`, `HMSG`), with sizes that agree with their bytes;
//! - a message never comes back to the peer that sent it, nor goes to a
//!   peer of the sender's cluster (the session follows each payload back
//!   to its sender: see `deliveries`);
//! - a message goes only to a peer that asked for its subject;
//! - a peer that is our hub (it said `is_hub`) hears only of interest of
//!   this server's clients and of leaf peers that are not hubs, besides
//!   loop detection subjects;
//! - what the peer was told (`LS+`/`LS-` replayed) is, once everything is
//!   flushed, what the core works out afresh from its subscriptions
//!   (`Core::audit_leaf_interest`).

use std::collections::HashMap;

use natsd::proto::{error, Op, Parser, Status};

use super::input::Input;
use super::model;

pub struct LeafPeer {
    pub key: usize,
    /// Marks the peer's payloads: `L<id>.`.
    pub id: usize,
    pub cluster: &'static str,
    /// It said `is_hub`: from the core's side, a link to its hub.
    pub is_hub: bool,
    /// The core's `connect_info` INFO came: the link is up.
    pub connected: bool,
    /// The peer is not reading.
    pub stalled: bool,
    /// Subjects (and `subject queue` keys) the peer asked for with `LS+`.
    pub asked: Vec<Vec<u8>>,
    /// What the core told the peer: key -> weight (1 for plain interest).
    pub told: HashMap<Vec<u8>, u32>,
    /// Every key the core ever told it.
    pub told_ever: Vec<Vec<u8>>,
    /// The user of its CONNECT ("" for none).
    pub user: String,
    /// The weight it last gave each `subject queue` in an `LS+`.
    pub weights: HashMap<Vec<u8>, u32>,
    /// The payloads it published since the session last took them.
    pub sent_payloads: Vec<Vec<u8>>,
    /// The messages it received (payload without headers, queue groups
    /// named) since the session last took them.
    pub deliveries: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    shadow: Option<Parser>,
    shadow_buf: Vec<u8>,
    out: Vec<u8>,
    counter: usize,
}

impl LeafPeer {
    pub fn new(key: usize, id: usize, max_control_line: usize, max_payload: usize) -> LeafPeer {
        let mut shadow = Parser::new(max_control_line, max_payload);
        shadow.leaf = true;
        LeafPeer {
            key,
            id,
            cluster: "",
            is_hub: false,
            connected: false,
            stalled: false,
            asked: Vec::new(),
            told: HashMap::new(),
            told_ever: Vec::new(),
            user: String::new(),
            weights: HashMap::new(),
            sent_payloads: Vec::new(),
            deliveries: Vec::new(),
            shadow: Some(shadow),
            shadow_buf: Vec::new(),
            out: Vec::new(),
            counter: 0,
        }
    }

    /// A leaf operation with fuzzer-chosen details.
    pub fn template(&mut self, input: &mut Input) -> Vec<u8> {
        let subject = {
            const TOKENS: &[&str] = &["a", "b", "x", "*", ">", "_INBOX", "$LDS"];
            let n = 1 + input.below(3);
            (0..n)
                .map(|_| TOKENS[input.below(TOKENS.len())])
                .collect::<Vec<_>>()
                .join(".")
        };
        let queue = ["q0", "q1"][input.below(2)];
        match input.below(8) {
            0 => {
                let creds = [
                    "",
                    r#","user":"u","pass":"p""#,
                    r#","auth_token":"t""#,
                    r#","user":"b","pass":"pb""#,
                ];
                let cluster = ["C0", "C1", "fuzz"][input.below(3)];
                format!(
                    "CONNECT {{\"server_id\":\"NLEAF{}\",\"name\":\"L{}\",\"cluster\":\"{cluster}\",\"headers\":{},\"is_hub\":{}{}}}\r\n",
                    self.id,
                    self.id,
                    input.bool(),
                    input.bool(),
                    creds[input.below(creds.len())],
                )
            }
            1 => format!("LS+ {subject}\r\n"),
            2 => format!("LS+ {subject} {queue} {}\r\n", 1 + input.below(3)),
            3 => match input.below(2) {
                0 => format!("LS- {subject}\r\n"),
                _ => format!("LS- {subject} {queue}\r\n"),
            },
            4 | 5 => {
                self.counter += 1;
                let payload = format!("L{}.{}", self.id, self.counter);
                let how = match input.below(4) {
                    0 => String::new(),
                    1 => "_INBOX.r ".to_string(),
                    2 => format!("| {queue} "),
                    _ => format!("+ _INBOX.r {queue} "),
                };
                if input.bool() {
                    let headers = "NATS/1.0\r\nk: v\r\n\r\n";
                    format!(
                        "HMSG {subject} {how}{} {}\r\n{headers}{payload}\r\n",
                        headers.len(),
                        headers.len() + payload.len()
                    )
                } else {
                    format!("LMSG {subject} {how}{}\r\n{payload}\r\n", payload.len())
                }
            }
            6 => "PING\r\n".into(),
            _ => "PONG\r\n".into(),
        }
        .into_bytes()
    }

    /// Note what the peer said: who it is, what it asked for; the
    /// subjects it published.
    pub fn observe_sent(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut published = Vec::new();
        let Some(parser) = &mut self.shadow else {
            return published;
        };
        self.shadow_buf.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            match parser.parse(&self.shadow_buf[pos..]) {
                Ok(Status::Complete((n, op))) => {
                    pos += n;
                    match op {
                        Op::Connect(json) if !self.connected => {
                            let mut connect = natsd::proto::ConnectOpts::default();
                            if connect.apply_json(json).is_ok() {
                                self.user = connect.user.to_string();
                            }
                            let text = String::from_utf8_lossy(json);
                            self.is_hub = text.contains("\"is_hub\":true");
                            self.cluster = ["C0", "C1", "fuzz"]
                                .into_iter()
                                .find(|c| text.contains(&format!("\"cluster\":\"{c}\"")))
                                .unwrap_or("");
                        }
                        Op::LeafSub {
                            subject,
                            queue,
                            weight,
                        } => {
                            let mut key = subject.to_vec();
                            if let Some(q) = queue {
                                key.push(b' ');
                                key.extend_from_slice(q);
                                self.weights.insert(key.clone(), weight);
                            }
                            self.asked.push(subject.to_vec());
                            self.asked.push(key);
                        }
                        Op::LeafMsg { msg, .. } => {
                            published.push(msg.subject.to_vec());
                            self.sent_payloads.push(msg.payload().to_vec());
                        }
                        _ => {}
                    }
                }
                Ok(Status::Partial(n)) => {
                    pos += n;
                    break;
                }
                Err(_) => {
                    self.shadow = None;
                    return published;
                }
            }
        }
        self.shadow_buf.drain(..pos);
        published
    }

    /// Nothing of the core's output is left half-read.
    pub fn is_drained(&self) -> bool {
        self.out.is_empty()
    }

    /// Check what the core wrote to the peer. `peers` are every peer's
    /// (id, cluster, is_hub, asked) at the time; `client_interest` is every
    /// subject (and `subject queue`) a client ever subscribed to.
    pub fn check_output(
        &mut self,
        bytes: &[u8],
        peers: &[(usize, &'static str, bool, Vec<Vec<u8>>)],
        client_interest: &[Vec<u8>],
    ) {
        self.out.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some(n) = self.check_one(pos, peers, client_interest) {
            pos += n;
        }
        self.out.drain(..pos);
    }

    fn check_one(
        &mut self,
        at: usize,
        peers: &[(usize, &'static str, bool, Vec<Vec<u8>>)],
        client_interest: &[Vec<u8>],
    ) -> Option<usize> {
        let out = &self.out[at..];
        let eol = out.windows(2).position(|w| w == b"\r\n")?;
        let line = out[..eol].to_vec();
        let after_line = eol + 2;
        if line == b"PING" || line == b"PONG" {
            return Some(after_line);
        }
        if let Some(json) = line.strip_prefix(b"INFO ") {
            assert!(json.starts_with(b"{") && json.ends_with(b"} "), "{line:?}");
            if json.windows(19).any(|w| w == b"\"connect_info\":true") {
                self.connected = true;
            }
            return Some(after_line);
        }
        if let Some(text) = line.strip_prefix(b"-ERR '") {
            let text = text.strip_suffix(b"'").expect("-ERR text in quotes");
            let text = std::str::from_utf8(text).unwrap();
            let leaf_texts = [
                "attempted to connect to leaf node port",
                "cluster name cannot contain spaces",
                "remote leafnode has same cluster name",
                "Duplicate Remote LeafNode Connection",
            ];
            assert!(
                error::ALL.contains(&text)
                    || leaf_texts.contains(&text)
                    || text.starts_with("Permissions Violation for ")
                    || text.starts_with("Loop detected for leafnode account="),
                "-ERR {text:?}"
            );
            return Some(after_line);
        }
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        match words[0] {
            b"LS+" => {
                let (key, weight) = match words.len() {
                    2 => (words[1].to_vec(), 1),
                    4 => {
                        let weight = std::str::from_utf8(words[3]).unwrap().parse().unwrap();
                        assert!(weight > 0, "{line:?}");
                        ([words[1], b" ", words[2]].concat(), weight)
                    }
                    _ => panic!("{line:?}"),
                };
                if self.is_hub {
                    self.check_for_hub(&key, peers, client_interest);
                }
                self.told_ever.push(key.clone());
                self.told.insert(key, weight);
                Some(after_line)
            }
            b"LS-" => {
                let key = match words.len() {
                    2 => words[1].to_vec(),
                    3 => [words[1], b" ", words[2]].concat(),
                    _ => panic!("{line:?}"),
                };
                assert!(
                    self.told.remove(&key).is_some(),
                    "LS- {:?} without its LS+",
                    String::from_utf8_lossy(&key)
                );
                Some(after_line)
            }
            b"LMSG" | b"HMSG" => {
                let sizes = if words[0] == b"HMSG" { 2 } else { 1 };
                assert!(words.len() >= 2 + sizes, "{line:?}");
                let number =
                    |w: &[u8]| -> usize { std::str::from_utf8(w).unwrap().parse().unwrap() };
                let total = number(words[words.len() - 1]);
                let header_len = if sizes == 2 {
                    number(words[words.len() - 2])
                } else {
                    0
                };
                assert!(header_len <= total, "{line:?}");
                let end = after_line + total;
                if out.len() < end + 2 {
                    return None;
                }
                assert_eq!(&out[end..end + 2], b"\r\n", "payload size of {line:?}");
                let subject = words[1];
                let middle = &words[2..words.len() - sizes];
                let queues: &[&[u8]] = match middle.first() {
                    Some(&b"+") => &middle[2..],
                    Some(&b"|") => &middle[1..],
                    _ => &[],
                };
                let asked_for = self.asked.iter().any(|s| model::matches(s, subject))
                    || queues.iter().any(|q| {
                        self.asked.iter().any(|k| {
                            k.ends_with(q)
                                && k.len() > q.len()
                                && k[k.len() - q.len() - 1] == b' '
                                && model::matches(&k[..k.len() - q.len() - 1], subject)
                        })
                    });
                assert!(
                    asked_for,
                    "{:?} to a leaf that did not ask for it",
                    String::from_utf8_lossy(&line)
                );
                let queues = queues.iter().map(|q| q.to_vec()).collect();
                self.deliveries
                    .push((out[after_line + header_len..end].to_vec(), queues));
                Some(end + 2)
            }
            _ => panic!("not a leaf operation: {:?}", String::from_utf8_lossy(&line)),
        }
    }

    /// A peer that is our hub hears only of our own clients' interest and
    /// of leaf peers that are not hubs (and loop detection subjects).
    fn check_for_hub(
        &self,
        key: &[u8],
        peers: &[(usize, &'static str, bool, Vec<Vec<u8>>)],
        client_interest: &[Vec<u8>],
    ) {
        if key.starts_with(b"$LDS.") && !key.contains(&b' ') {
            return;
        }
        let from_clients = client_interest.iter().any(|k| k == key);
        let from_spokes = peers
            .iter()
            .any(|(id, _, hub, asked)| *id != self.id && !hub && asked.iter().any(|k| k == key));
        assert!(
            from_clients || from_spokes,
            "{:?} told to a hub without a client or spoke asking for it",
            String::from_utf8_lossy(key)
        );
    }
}
