//! What the protocols between servers share: the leaf node protocol
//! (`proto/leaf.rs`) and the route protocol (`proto/route.rs`) frame their
//! lines alike, split arguments alike, and carry messages with the same
//! reply and queue-group forms, the route's with an account in front.
//!
//! Both parsers keep no state between calls: an operation is returned
//! only once its line (and payload) are all in the buffer, and
//! `Partial(0)` asks for more. Reading a line again when more bytes come
//! costs little: lines are short and a payload is never scanned, so a
//! large message arriving in many reads costs one line parse per read.
//! The limits (`max_control_line`, `max_payload`) are checked on the first
//! look, so a peer cannot make the buffer grow past them.

use memchr::memchr;

use super::error::{ProtoError, Snippet};
use super::parser::{parse_size, Op, Pub, Status};

/// The operations every peer protocol has that take arguments, and those
/// that ignore the rest of their line (as the client parser does).
const SHARED_WITH_ARGS: [&[u8]; 3] = [b"-ERR", b"INFO", b"CONNECT"];
const WHOLE_LINE: [&[u8]; 3] = [b"PING", b"PONG", b"+OK"];

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether `name` is (or, when `complete` is false, may still become) an
/// operation's name: a shared one or one of `own`.
fn is_known(name: &[u8], complete: bool, own: &[&[u8]]) -> bool {
    let whole_line = |w: &&[u8]| {
        starts_with_ignore_case(name, w) || (!complete && starts_with_ignore_case(w, name))
    };
    if WHOLE_LINE.iter().any(whole_line) {
        return true;
    }
    SHARED_WITH_ARGS.iter().chain(own).any(|w| {
        if complete {
            name.eq_ignore_ascii_case(w)
        } else {
            starts_with_ignore_case(w, name)
        }
    })
}

/// The front of a peer's buffer, as far as the shared framing reads it.
pub(super) enum Line<'b> {
    /// Not a whole line yet (`Partial(0)`), or a shared operation.
    Done(Status<(usize, Op<'b>)>),
    /// A whole line naming one of the protocol's own operations.
    Own {
        /// As sent: compare it ignoring ASCII case.
        name: &'b [u8],
        /// What follows the name, leading spaces and the CR dropped.
        args: &'b [u8],
        /// The line's length with its newline: where a payload starts.
        line_len: usize,
    },
}

/// Read the line at the front of `buf`, for a protocol whose own
/// operations (all taking arguments) are `own`.
///
/// An unknown name is refused as soon as its first bytes show it, and a
/// line as soon as it is longer than `max_control_line`, so that the same
/// bytes give the same result however they are split.
pub(super) fn parse_line<'b>(
    own: &[&[u8]],
    max_control_line: usize,
    buf: &'b [u8],
) -> Result<Line<'b>, ProtoError> {
    let newline = memchr(b'\n', buf);
    let scanned = &buf[..newline.unwrap_or(buf.len())];
    let name_end = scanned.iter().position(|&b| b == b' ' || b == b'\t');
    let name = &scanned[..name_end.unwrap_or(scanned.len())];
    // The CR of CRLF is not part of a name that ends the line (nor of one
    // whose line has not ended yet: a CR can only be followed by its LF).
    let name = match name_end {
        None => name.strip_suffix(b"\r").unwrap_or(name),
        Some(_) => name,
    };
    let complete = newline.is_some() || name_end.is_some();
    if !is_known(name, complete, own) {
        return Err(ProtoError::UnknownOp {
            snippet: Snippet::of(buf),
        });
    }
    // What follows the name, as the line's length is measured. A PING,
    // PONG or +OK ignores the rest of its line, the rest of a longer name
    // included: that is measured too, or a peer could have its buffer grow
    // without end (nats-server's state machine skips those bytes; this
    // parser must keep them until the newline).
    let whole_line = WHOLE_LINE.iter().find(|w| starts_with_ignore_case(name, w));
    let rest = &scanned[whole_line.map_or(name.len(), |w| w.len())..];
    let Some(nl) = newline else {
        // The CR that may end it is not counted.
        if rest.len() > max_control_line + 1 {
            return Err(ProtoError::MaxControlLine {
                len: rest.len() - 1,
                max: max_control_line,
            });
        }
        return Ok(Line::Done(Status::Partial(0)));
    };
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    if rest.len() > max_control_line {
        return Err(ProtoError::MaxControlLine {
            len: rest.len(),
            max: max_control_line,
        });
    }
    let args = trim_start(rest);
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    let line_len = nl + 1;
    let op = if whole_line.is_some() {
        match name[1].to_ascii_uppercase() {
            b'I' => Op::Ping,
            b'O' if name[0] != b'+' => Op::Pong,
            _ => Op::Ok,
        }
    } else if is(b"-ERR") {
        Op::Err(args)
    } else if is(b"INFO") {
        Op::Info(args)
    } else if is(b"CONNECT") {
        Op::Connect(args)
    } else {
        return Ok(Line::Own {
            name,
            args,
            line_len,
        });
    };
    Ok(Line::Done(Status::Complete((line_len, op))))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Split on spaces, tabs, CR and LF, as nats-server's `splitArg`.
pub(super) fn split(args: &[u8]) -> impl Iterator<Item = &[u8]> {
    args.split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|a| !a.is_empty())
}

/// The names of a message's queue list (`Op::LeafMsg`, `Op::RouteMsg`).
pub fn queue_names(queues: &[u8]) -> impl Iterator<Item = &[u8]> {
    split(queues)
}

/// A queue subscription's weight as nats-server reads it (`parseSize`),
/// with what it would take as a weight of 1 (a number that does not parse,
/// or 0) made 1.
pub(super) fn queue_weight(token: &[u8]) -> u32 {
    parse_size(token).map_or(1, |w| w.max(1)) as u32
}

/// How a message line is read: nats-server's `process*MsgArgs` differ by
/// their name, the account in front, and the header size.
pub(super) struct MsgForm {
    /// The nats-server function whose errors these are, for the reasons.
    pub op: &'static str,
    /// `HMSG`: the header size comes before the total size.
    pub headers: bool,
    /// An account comes before the subject (routes).
    pub account: bool,
    /// Most arguments taken; more is a parse error.
    pub max_args: usize,
}

/// A message a peer sent.
pub(super) struct Msg<'b> {
    /// Empty when the form has no account.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub account: &'b [u8],
    pub msg: Pub<'b>,
    /// The queue names, as one slice of the line: from the first to the
    /// last (the receiver splits them again when it delivers).
    pub queues: &'b [u8],
}

/// A message line's arguments and its payload: `[account] <subject>
/// [reply] <sizes>`, `[account] <subject> + <reply> <queues...> <sizes>`,
/// `[account] <subject> | <queues...> <sizes>`, the sizes being the total
/// size, or for `HMSG` the header size then the total size.
///
/// Checked as nats-server does, in its order: the count, the reply
/// indicator, the header size, the size, the header size against the size;
/// then (which nats-server does not do for routes) the size against
/// `max_payload`, before the payload is waited for.
pub(super) fn parse_msg<'b>(
    form: &MsgForm,
    args: &'b [u8],
    buf: &'b [u8],
    line_len: usize,
    max_payload: usize,
) -> Result<Status<(usize, Msg<'b>)>, ProtoError> {
    let bad = |why| ProtoError::BadArgs {
        op: form.op,
        why,
        snippet: Snippet::of(args),
    };
    // Only the leading arguments and the last three are needed: the queue
    // list between them is taken as one slice, however many it holds.
    let mut head: [&[u8]; 5] = [&[]; 5];
    let mut tail: [&[u8]; 3] = [&[]; 3];
    let mut n = 0;
    for part in split(args) {
        if n == form.max_args {
            return Err(bad("Parse Error"));
        }
        if n < head.len() {
            head[n] = part;
        }
        tail = [tail[1], tail[2], part];
        n += 1;
    }
    let at = |i: usize| if i + 3 >= n { tail[i + 3 - n] } else { head[i] };
    let lead = usize::from(form.account);
    let sizes = if form.headers { 2 } else { 1 };
    if n < lead + 1 + sizes {
        return Err(bad("Parse Error"));
    }
    let subject = lead;
    let (reply, queues_from) = match n - lead - sizes {
        1 => (None, None),
        2 => (Some(at(subject + 1)), None),
        _ => match at(subject + 1) {
            b"+" => (Some(at(subject + 2)), Some(subject + 3)),
            b"|" => (None, Some(subject + 2)),
            _ => return Err(bad("Bad or Missing Reply Indicator")),
        },
    };
    let queues = match queues_from {
        Some(first) if first < n - sizes => {
            let start = at(first).as_ptr() as usize - args.as_ptr() as usize;
            let last = at(n - sizes - 1);
            let end = last.as_ptr() as usize - args.as_ptr() as usize + last.len();
            &args[start..end]
        }
        _ => &args[..0],
    };
    let (header_len_token, header_len) = if form.headers {
        let token = at(n - 2);
        let len = parse_size(token).ok_or_else(|| bad("Bad or Missing Header Size"))?;
        (Some(token), len)
    } else {
        (None, 0)
    };
    let size_token = at(n - 1);
    let size = parse_size(size_token).ok_or_else(|| bad("Bad or Missing Size"))?;
    if header_len > size {
        return Err(bad("Header Size larger then TotalSize"));
    }
    if size > max_payload {
        return Err(ProtoError::MaxPayload {
            size,
            max: max_payload,
        });
    }
    let end = line_len + size;
    match buf.get(end..end + 2) {
        None => {
            // The CR is checked as soon as it arrives, as nats-server does.
            if buf.get(end).is_some_and(|&b| b != b'\r') {
                return Err(ProtoError::UnknownOp {
                    snippet: Snippet::of(&buf[end..]),
                });
            }
            return Ok(Status::Partial(0));
        }
        Some(b"\r\n") => {}
        Some(other) => {
            return Err(ProtoError::UnknownOp {
                snippet: Snippet::of(other),
            })
        }
    }
    let msg = Pub {
        subject: at(subject),
        reply,
        header_len_token,
        size_token,
        header_len,
        msg: &buf[line_len..end],
    };
    let account = if form.account { at(0) } else { &args[..0] };
    Ok(Status::Complete((
        end + 2,
        Msg {
            account,
            msg,
            queues,
        },
    )))
}
