//! The client protocol parser: a push state machine over borrowed bytes.
//!
//! [`Parser::parse`] is handed the unconsumed bytes of a connection and
//! returns either one complete operation, borrowing its subject, reply and
//! payload from those bytes, or `Partial`, which says how many leading bytes
//! it has consumed (operation names, separators, ignored text) and that the
//! caller should read more. Contract: the next call must be given a buffer
//! that starts with the bytes not consumed before.
//!
//! What is accepted and what is an error follows nats-server's
//! `server/parser.go` byte for byte: operation names are case-insensitive and
//! matched as they arrive, arguments are separated by spaces and tabs,
//! `PING`/`PONG`/`+OK` ignore anything up to the newline, and a payload must
//! be followed by exactly `\r\n`. The control line is found with `memchr`;
//! payloads are skipped by their declared size, never scanned.

use memchr::memchr;

use super::error::{ProtoError, Snippet};
use super::line_scan;

/// One client operation, borrowing from the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'b> {
    /// `CONNECT <json>`: the raw JSON argument.
    Connect(&'b [u8]),
    /// `INFO <json>` sent by a client (ignored by the server once valid).
    Info(&'b [u8]),
    /// `PUB` or `HPUB`.
    Pub(Pub<'b>),
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        subject: &'b [u8],
        queue: Option<&'b [u8]>,
        sid: &'b [u8],
    },
    /// `UNSUB <sid> [max]`. `max` is `None` when absent or not a number,
    /// which nats-server treats as "unsubscribe now".
    Unsub {
        sid: &'b [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK` from a client: ignored.
    Ok,
    /// `-ERR ...` from a client: nats-server logs it and closes.
    Err(&'b [u8]),
    /// `HMSG ...` from a client. nats-server accepts it as an empty message
    /// that reaches no one (only a verbose `+OK` is observable).
    ClientHmsg,
    /// `LS+ <subject> [<queue> <weight>]` from a leaf node (`proto/leaf.rs`).
    LeafSub {
        subject: &'b [u8],
        queue: Option<&'b [u8]>,
        /// The queue group's members behind the peer; 1 without a queue.
        weight: u32,
    },
    /// `LS- <subject> [queue]` from a leaf node.
    LeafUnsub {
        subject: &'b [u8],
        queue: Option<&'b [u8]>,
    },
    /// `LMSG`/`HMSG` from a leaf node, with the queue groups (space
    /// separated, possibly empty) the sender picked this server for.
    LeafMsg {
        msg: Pub<'b>,
        queues: &'b [u8],
    },
    /// `RS+ <account> <subject> [<queue> <weight>]` from a route
    /// (`proto/route.rs`).
    RouteSub {
        account: &'b [u8],
        subject: &'b [u8],
        queue: Option<&'b [u8]>,
        /// The queue group's members behind the peer; 1 without a queue.
        weight: u32,
    },
    /// `RS- <account> <subject> [queue]` from a route.
    RouteUnsub {
        account: &'b [u8],
        subject: &'b [u8],
        queue: Option<&'b [u8]>,
    },
    /// `RMSG`/`HMSG` from a route, with the queue groups (space
    /// separated, possibly empty) the sender picked this server for.
    RouteMsg {
        account: &'b [u8],
        msg: Pub<'b>,
        queues: &'b [u8],
    },
}

/// A message published by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pub<'b> {
    pub subject: &'b [u8],
    pub reply: Option<&'b [u8]>,
    /// Header length as sent (`HPUB` only), kept verbatim for `HMSG`.
    pub header_len_token: Option<&'b [u8]>,
    /// Total size as sent, kept verbatim for `MSG`/`HMSG`.
    pub size_token: &'b [u8],
    /// Length of the header block at the start of `msg` (0 for `PUB`).
    pub header_len: usize,
    /// Headers then payload, without the trailing CRLF.
    pub msg: &'b [u8],
}

impl<'b> Pub<'b> {
    #[inline]
    pub fn headers(&self) -> &'b [u8] {
        &self.msg[..self.header_len]
    }
    #[inline]
    pub fn payload(&self) -> &'b [u8] {
        &self.msg[self.header_len..]
    }
    #[inline]
    pub fn has_headers(&self) -> bool {
        self.header_len_token.is_some()
    }
}

/// Result of one [`Parser::parse`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole operation and the number of bytes it took.
    Complete(T),
    /// No complete operation yet; this many leading bytes are consumed and
    /// must not be passed again.
    Partial(usize),
}

/// Operation names, in the order the state machine tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kw {
    /// Saw `P`: PUB, PING or PONG follows.
    #[default]
    P,
    /// Saw `H`: HPUB or HMSG follows.
    H,
    Pub,
    Ping,
    Pong,
    Hpub,
    Hmsg,
    Sub,
    Unsub,
    Connect,
    Info,
    PlusOk,
    MinusErr,
}

impl Kw {
    fn word(self) -> &'static [u8] {
        match self {
            Kw::P => b"P",
            Kw::H => b"H",
            Kw::Pub => b"PUB",
            Kw::Ping => b"PING",
            Kw::Pong => b"PONG",
            Kw::Hpub => b"HPUB",
            Kw::Hmsg => b"HMSG",
            Kw::Sub => b"SUB",
            Kw::Unsub => b"UNSUB",
            Kw::Connect => b"CONNECT",
            Kw::Info => b"INFO",
            Kw::PlusOk => b"+OK",
            Kw::MinusErr => b"-ERR",
        }
    }

    fn first(b: u8) -> Option<Kw> {
        Some(match b.to_ascii_uppercase() {
            b'P' => Kw::P,
            b'H' => Kw::H,
            b'S' => Kw::Sub,
            b'U' => Kw::Unsub,
            b'C' => Kw::Connect,
            b'I' => Kw::Info,
            b'+' => Kw::PlusOk,
            b'-' => Kw::MinusErr,
            _ => return None,
        })
    }

    /// The keyword after seeing `b` at position `matched`, if it still fits.
    fn advance(self, matched: usize, b: u8) -> Option<Kw> {
        let up = b.to_ascii_uppercase();
        match self {
            Kw::P => match up {
                b'U' => Some(Kw::Pub),
                b'I' => Some(Kw::Ping),
                b'O' => Some(Kw::Pong),
                _ => None,
            },
            Kw::H => match up {
                b'P' => Some(Kw::Hpub),
                b'M' => Some(Kw::Hmsg),
                _ => None,
            },
            kw => (kw.word()[matched] == up).then_some(kw),
        }
    }
}

/// Where the parser is inside the current operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first byte of an operation.
    Start,
    /// `matched` bytes of an operation name seen.
    Name { kw: Kw, matched: usize },
    /// After a name that needs at least one space or tab.
    NeedSpace(Kw),
    /// Skipping spaces and tabs before the arguments.
    Space(Kw),
    /// Inside the arguments; `scanned` bytes already searched for '\n'.
    Arg { kw: Kw, scanned: usize },
    /// PING/PONG/+OK: bytes up to '\n' are ignored.
    Discard(Kw),
    /// A PUB/HPUB/HMSG control line is parsed (see `Parser::pending`);
    /// waiting for its payload.
    Payload,
}

/// Offsets of a parsed PUB/HPUB line, relative to the start of its arguments,
/// kept while the payload arrives so the line is not split twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PendingMsg {
    kw: Kw,
    /// Bytes from the argument start to just past the '\n'.
    line_len: usize,
    subject: Span,
    reply: Option<Span>,
    header_len_token: Option<Span>,
    size_token: Span,
    header_len: usize,
    size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(base: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }
    fn get(self, base: &[u8]) -> &[u8] {
        &base[self.start as usize..self.end as usize]
    }
}

/// The sans-IO parser of one client connection.
#[derive(Debug, Clone)]
pub struct Parser {
    /// Longest argument part of a control line (nats-server `max_control_line`).
    pub max_control_line: usize,
    /// Largest PUB/HPUB size (nats-server `max_payload`).
    pub max_payload: usize,
    /// HPUB allowed: the client's CONNECT said `"headers":true`.
    pub headers: bool,
    /// Credentials are required and no CONNECT has been accepted yet: any
    /// operation other than CONNECT is an authorization violation.
    pub awaiting_connect: bool,
    /// The peer is a leaf node: its operations are the leaf protocol's.
    pub leaf: bool,
    /// The peer is a route: its operations are the route protocol's.
    pub route: bool,
    state: State,
    /// The parsed control line while in `State::Payload`.
    pending: PendingMsg,
}

/// Most arguments any client operation takes (HPUB: subject reply hdr size).
const MAX_ARGS: usize = 4;
/// nats-server reads sizes of at most nine digits.
const MAX_SIZE_DIGITS: usize = 9;

impl Parser {
    pub fn new(max_control_line: usize, max_payload: usize) -> Parser {
        Parser {
            max_control_line,
            max_payload,
            headers: false,
            awaiting_connect: false,
            leaf: false,
            route: false,
            state: State::Start,
            pending: PendingMsg::default(),
        }
    }

    /// True between operations: nothing of a started operation is pending.
    pub fn at_op_boundary(&self) -> bool {
        self.state == State::Start
    }

    /// Parse at most one operation from the front of `buf`.
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Status<(usize, Op<'b>)>, ProtoError> {
        #[cfg(feature = "leafnodes")]
        if self.leaf {
            return super::leaf::parse(self.max_control_line, self.max_payload, buf);
        }
        #[cfg(feature = "cluster")]
        if self.route {
            return super::route::parse(self.max_control_line, self.max_payload, buf);
        }
        let mut i = 0;
        // The name is matched in a local: writing the state back for every
        // byte costs more than the matching itself.
        //
        // Between operations only the tag is read: the tag alone was stored
        // (`State::Start`), and a wider load of it would stall the pipeline.
        let mut state = if matches!(self.state, State::Start) {
            State::Start
        } else {
            self.state
        };
        if state == State::Start && !self.awaiting_connect {
            if let Some((kw, len)) = hot_name(buf) {
                i = len;
                // One separator, then the arguments: the usual case needs
                // no trip through the name loop.
                state = match buf.get(i) {
                    Some(b' ' | b'\t') | None => State::Space(kw),
                    Some(_) => State::Arg { kw, scanned: 1 },
                };
            }
        }
        while let State::Start | State::Name { .. } | State::NeedSpace(_) | State::Space(_) = state
        {
            let Some(&b) = buf.get(i) else {
                self.state = state;
                return Ok(Status::Partial(i));
            };
            state = self.step_name(state, b, &buf[i..])?;
            // A name ending hands the same byte to the argument state.
            if !matches!(state, State::Arg { .. }) {
                i += 1;
            }
        }
        self.state = state;
        match state {
            State::Discard(kw) => Ok(match memchr(b'\n', &buf[i..]) {
                Some(nl) => {
                    self.state = State::Start;
                    let op = match kw {
                        Kw::Ping => Op::Ping,
                        Kw::Pong => Op::Pong,
                        _ => Op::Ok,
                    };
                    Status::Complete((i + nl + 1, op))
                }
                None => Status::Partial(buf.len()),
            }),
            State::Arg { kw, scanned } => {
                let args = &buf[i..];
                let (line, line_len, separators) = match short_msg_line(kw, args) {
                    Some((nl, separators)) => (&args[..nl - 1], nl + 1, Some(separators)),
                    None => {
                        let Some(nl) = memchr(b'\n', &args[scanned.min(args.len())..]) else {
                            self.check_partial_line(args)?;
                            self.state = State::Arg {
                                kw,
                                scanned: args.len(),
                            };
                            return Ok(Status::Partial(i));
                        };
                        let nl = scanned + nl;
                        (trim_line(&args[..nl]), nl + 1, None)
                    }
                };
                if line.len() > self.max_control_line {
                    return Err(ProtoError::MaxControlLine {
                        len: line.len(),
                        max: self.max_control_line,
                    });
                }
                let simple = match kw {
                    Kw::Connect => Some(Op::Connect(line)),
                    Kw::Info => Some(Op::Info(line)),
                    Kw::MinusErr => Some(Op::Err(line)),
                    Kw::Sub => Some(parse_sub(line)?),
                    Kw::Unsub => Some(parse_unsub(line)?),
                    _ => None,
                };
                if let Some(op) = simple {
                    self.state = State::Start;
                    return Ok(Status::Complete((i + line_len, op)));
                }
                let parts = match separators {
                    Some(separators) => line_scan::split(line, separators),
                    None => split_args(line, false),
                };
                let pending = self.parse_msg_line(kw, args, line, parts, line_len)?;
                Ok(match self.finish_msg(args, pending)? {
                    Some((n, op)) => Status::Complete((i + n, op)),
                    None => {
                        // Kept only when the payload has not all arrived.
                        self.pending = pending;
                        self.state = State::Payload;
                        Status::Partial(i)
                    }
                })
            }
            State::Payload => Ok(match self.finish_msg(&buf[i..], self.pending)? {
                Some((n, op)) => Status::Complete((i + n, op)),
                None => Status::Partial(i),
            }),
            _ => unreachable!("the name loop leaves no name state"),
        }
    }

    /// One byte of an operation name or of the separator after it.
    fn step_name(&self, state: State, b: u8, rest: &[u8]) -> Result<State, ProtoError> {
        let unknown = || ProtoError::UnknownOp {
            snippet: Snippet::of(rest),
        };
        Ok(match state {
            State::Start => {
                if self.awaiting_connect && !b.eq_ignore_ascii_case(&b'C') {
                    return Err(ProtoError::AuthorizationViolation);
                }
                let kw = Kw::first(b).ok_or_else(unknown)?;
                name_or_done(kw, 1)
            }
            State::Name { kw, matched } => {
                let kw = kw.advance(matched, b).ok_or_else(unknown)?;
                name_or_done(kw, matched + 1)
            }
            State::NeedSpace(kw) => match b {
                b' ' | b'\t' => State::Space(kw),
                _ => return Err(unknown()),
            },
            State::Space(kw) => match b {
                b' ' | b'\t' => State::Space(kw),
                // The first argument byte is taken as it is, even a '\n', as
                // nats-server takes it: the line ends at a later '\n'.
                _ => State::Arg { kw, scanned: 1 },
            },
            _ => unreachable!("step_name outside a name"),
        })
    }

    /// nats-server checks the length of an unfinished argument line too, so
    /// a peer cannot grow the buffer without end by never sending '\n'.
    fn check_partial_line(&self, args: &[u8]) -> Result<(), ProtoError> {
        // Measured as the complete line will be, so a split never decides.
        let len = trim_line(args).len();
        if len > self.max_control_line {
            return Err(ProtoError::MaxControlLine {
                len,
                max: self.max_control_line,
            });
        }
        Ok(())
    }

    #[inline(always)]
    fn parse_msg_line(
        &self,
        kw: Kw,
        args: &[u8],
        line: &[u8],
        (parts, n): ([&[u8]; MAX_ARGS], usize),
        line_len: usize,
    ) -> Result<PendingMsg, ProtoError> {
        let span = |part: &[u8]| Span::of(args, part);
        let mut pending = PendingMsg {
            kw,
            line_len,
            subject: Span { start: 0, end: 0 },
            reply: None,
            header_len_token: None,
            size_token: Span { start: 0, end: 0 },
            header_len: 0,
            size: 0,
        };
        match kw {
            // A client's HMSG carries nothing nats-server reads; its
            // "payload" is the empty one of the last message.
            Kw::Hmsg => return Ok(pending),
            Kw::Hpub if !self.headers => return Err(ProtoError::HeadersNotSupported),
            _ => {}
        }
        let bad = |why| ProtoError::BadArgs {
            op: if kw == Kw::Pub {
                "processPub"
            } else {
                "processHeaderPub"
            },
            why,
            snippet: Snippet::of(line),
        };
        let (subject, reply, hdr, size) = match (kw, n) {
            (Kw::Pub, 2) => (parts[0], None, None, parts[1]),
            (Kw::Pub, 3) => (parts[0], Some(parts[1]), None, parts[2]),
            (Kw::Hpub, 3) => (parts[0], None, Some(parts[1]), parts[2]),
            (Kw::Hpub, 4) => (parts[0], Some(parts[1]), Some(parts[2]), parts[3]),
            _ => return Err(bad("Parse Error")),
        };
        if let Some(hdr) = hdr {
            pending.header_len =
                parse_size(hdr).ok_or_else(|| bad("Bad or Missing Header Size"))?;
            pending.header_len_token = Some(span(hdr));
        }
        pending.size = parse_size(size).ok_or_else(|| {
            bad(if kw == Kw::Pub {
                "Bad or Missing Size"
            } else {
                "Bad or Missing Total Size"
            })
        })?;
        if pending.header_len > pending.size {
            return Err(bad("Header Size larger then TotalSize"));
        }
        if pending.size > self.max_payload {
            return Err(ProtoError::MaxPayload {
                size: pending.size,
                max: self.max_payload,
            });
        }
        pending.subject = span(subject);
        pending.reply = reply.map(span);
        pending.size_token = span(size);
        Ok(pending)
    }

    /// The whole message once its payload and CRLF are buffered.
    #[inline(always)]
    fn finish_msg<'b>(
        &mut self,
        args: &'b [u8],
        p: PendingMsg,
    ) -> Result<Option<(usize, Op<'b>)>, ProtoError> {
        let end = p.line_len + p.size;
        let unknown = |at: usize| ProtoError::UnknownOp {
            snippet: Snippet::of(&args[at.min(args.len())..]),
        };
        // The CR is checked as soon as it arrives, as nats-server does.
        match args.get(end) {
            None => return Ok(None),
            Some(b'\r') => {}
            Some(_) => return Err(unknown(end)),
        }
        match args.get(end + 1) {
            None => return Ok(None),
            Some(b'\n') => {}
            Some(_) => return Err(unknown(end + 1)),
        }
        self.state = State::Start;
        let op = if p.kw == Kw::Hmsg {
            Op::ClientHmsg
        } else {
            Op::Pub(Pub {
                subject: p.subject.get(args),
                reply: p.reply.map(|s| s.get(args)),
                header_len_token: p.header_len_token.map(|s| s.get(args)),
                size_token: p.size_token.get(args),
                header_len: p.header_len,
                msg: &args[p.line_len..end],
            })
        };
        Ok(Some((end + 2, op)))
    }
}

/// `PUB`, `HPUB` and `SUB` and their separator recognised in one step: the
/// operations that carry the traffic.
fn hot_name(buf: &[u8]) -> Option<(Kw, usize)> {
    let sep = |b: u8| b == b' ' || b == b'\t';
    // ASCII letters only differ by 0x20 between cases.
    let is = |b: u8, upper: u8| b | 0x20 == upper | 0x20;
    match buf {
        [p, u, b, s, ..] if is(*p, b'P') && is(*u, b'U') && is(*b, b'B') && sep(*s) => {
            Some((Kw::Pub, 4))
        }
        [s, u, b, sp, ..] if is(*s, b'S') && is(*u, b'U') && is(*b, b'B') && sep(*sp) => {
            Some((Kw::Sub, 4))
        }
        [h, p, u, b, s, ..]
            if is(*h, b'H') && is(*p, b'P') && is(*u, b'U') && is(*b, b'B') && sep(*s) =>
        {
            Some((Kw::Hpub, 5))
        }
        _ => None,
    }
}

/// The common PUB/HPUB line, `args` starting at its first argument: short
/// and ended by CRLF, found and its separators marked in one word-wise pass
/// (see `line_scan`): the index of its '\n' and the separator bits. `None`
/// leaves the line to the byte-wise path, which cuts every line the same way.
#[inline(always)]
fn short_msg_line(kw: Kw, args: &[u8]) -> Option<(usize, u64)> {
    if !matches!(kw, Kw::Pub | Kw::Hpub) {
        return None;
    }
    // The first argument byte never ends the line, and a line without its
    // CR is trimmed differently: both go the byte-wise way.
    line_scan::short_line(args).filter(|&(nl, _)| nl >= 2 && args[nl - 1] == b'\r')
}

fn name_or_done(kw: Kw, matched: usize) -> State {
    if matched < kw.word().len() || matches!(kw, Kw::P | Kw::H) {
        return State::Name { kw, matched };
    }
    match kw {
        Kw::Ping | Kw::Pong | Kw::PlusOk => State::Discard(kw),
        Kw::Connect | Kw::Info => State::Space(kw),
        _ => State::NeedSpace(kw),
    }
}

/// The argument part of a control line, as nats-server cuts it: once a CR
/// has been seen after the first argument byte, the last byte is dropped.
#[inline]
fn trim_line(line: &[u8]) -> &[u8] {
    if line.len() > 1 && line.ends_with(b"\r") {
        return &line[..line.len() - 1]; // the usual CRLF, no scan needed
    }
    match line.split_first() {
        Some((_, rest)) if memchr(b'\r', rest).is_some() => &line[..line.len() - 1],
        _ => line,
    }
}

/// Split on spaces and tabs (and CR/LF for SUB/UNSUB, as nats-server's
/// `splitArg` does). Returns the first `MAX_ARGS` parts and the real count.
#[inline]
fn split_args(line: &[u8], crlf_separates: bool) -> ([&[u8]; MAX_ARGS], usize) {
    let mut parts: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let mut n = 0;
    let is_sep = |b: u8| b == b' ' || b == b'\t' || (crlf_separates && (b == b'\r' || b == b'\n'));
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (is_sep(b), start) {
            (true, Some(s)) => {
                if n < MAX_ARGS {
                    parts[n] = &line[s..i];
                }
                n += 1;
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        if n < MAX_ARGS {
            parts[n] = &line[s..];
        }
        n += 1;
    }
    (parts, n)
}

/// A decimal size of one to nine digits, as nats-server's `parseSize`.
#[inline]
pub fn parse_size(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > MAX_SIZE_DIGITS {
        return None;
    }
    d.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

fn parse_sub(line: &[u8]) -> Result<Op<'_>, ProtoError> {
    let (parts, n) = split_args(line, true);
    match n {
        2 => Ok(Op::Sub {
            subject: parts[0],
            queue: None,
            sid: parts[1],
        }),
        3 => Ok(Op::Sub {
            subject: parts[0],
            queue: Some(parts[1]),
            sid: parts[2],
        }),
        _ => Err(ProtoError::BadArgs {
            op: "processSub",
            why: "Parse Error",
            snippet: Snippet::of(line),
        }),
    }
}

fn parse_unsub(line: &[u8]) -> Result<Op<'_>, ProtoError> {
    let (parts, n) = split_args(line, true);
    match n {
        1 => Ok(Op::Unsub {
            sid: parts[0],
            max: None,
        }),
        2 => Ok(Op::Unsub {
            sid: parts[0],
            max: parse_size(parts[1]).map(|m| m as u64),
        }),
        _ => Err(ProtoError::BadArgs {
            op: "processUnsub",
            why: "Parse Error",
            snippet: Snippet::of(line),
        }),
    }
}

#[cfg(test)]
mod tests;
