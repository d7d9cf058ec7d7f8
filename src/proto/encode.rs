//! Encoders for what the server sends: `MSG`, `HMSG` and the short replies
//! to clients, interest and messages to leaf nodes and routes; and
//! [`write_op`], any parsed operation in its wire form.

use super::parser::{Op, Pub};

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Append `-ERR '<text>'\r\n`.
pub fn write_err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

/// Append one delivery of `msg` to subscription `sid`.
///
/// A subscriber that declared headers gets `HMSG` with the publisher's size
/// tokens verbatim; one that did not gets `MSG` with the headers stripped,
/// as nats-server does. An `HPUB` with a header size of 0 carries no
/// headers: like nats-server, it goes out as `MSG` with the size as sent.
pub fn write_msg(out: &mut Vec<u8>, msg: &Pub<'_>, sid: &[u8], receiver_headers: bool) {
    let carries_headers = msg.header_len > 0;
    let with_headers = carries_headers && receiver_headers;
    out.extend_from_slice(if with_headers { b"HMSG " } else { b"MSG " });
    out.extend_from_slice(msg.subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    if let Some(reply) = msg.reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    let body = match msg.header_len_token {
        Some(hdr) if with_headers => {
            out.extend_from_slice(hdr);
            out.push(b' ');
            out.extend_from_slice(msg.size_token);
            msg.msg
        }
        Some(_) if carries_headers => {
            write_decimal(out, msg.msg.len() - msg.header_len);
            msg.payload()
        }
        _ => {
            out.extend_from_slice(msg.size_token);
            msg.msg
        }
    };
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Append `op` as it goes on the wire, so that parsing the bytes gives `op`
/// back: arguments separated by one space, the size tokens as parsed.
pub fn write_op(out: &mut Vec<u8>, op: &Op<'_>) {
    let mut line = |words: &[&[u8]]| {
        // `words` are arguments as parsed: never empty, never whitespace.
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(word);
        }
        out.extend_from_slice(b"\r\n");
    };
    match op {
        Op::Connect(json) => line(&[b"CONNECT", json]),
        Op::Info(json) => line(&[b"INFO", json]),
        Op::Err(text) => line(&[b"-ERR", text]),
        Op::Ping => line(&[b"PING"]),
        Op::Pong => line(&[b"PONG"]),
        Op::Ok => line(&[b"+OK"]),
        Op::Sub {
            subject,
            queue: Some(queue),
            sid,
        } => line(&[b"SUB", subject, queue, sid]),
        Op::Sub {
            subject,
            queue: None,
            sid,
        } => line(&[b"SUB", subject, sid]),
        Op::Unsub { sid, max: None } => line(&[b"UNSUB", sid]),
        Op::Unsub {
            sid,
            max: Some(max),
        } => {
            let mut digits = Vec::new();
            write_decimal(&mut digits, *max as usize);
            line(&[b"UNSUB", sid, &digits]);
        }
        // A client's HMSG has no meaning to the server: any arguments, and
        // the empty payload.
        Op::ClientHmsg => {
            line(&[b"HMSG", b"_"]);
            out.extend_from_slice(b"\r\n");
        }
        Op::LeafSub {
            subject,
            queue,
            weight,
        } => write_leaf_sub(out, subject, *queue, *weight),
        Op::LeafUnsub { subject, queue } => write_leaf_unsub(out, subject, *queue),
        Op::LeafMsg { msg, queues } => {
            write_leaf_msg_line(out, msg, super::peer::queue_names(queues), true);
            out.extend_from_slice(msg.msg);
            out.extend_from_slice(b"\r\n");
        }
        Op::RouteSub {
            account,
            subject,
            queue,
            weight,
        } => write_route_sub(out, account, subject, *queue, *weight),
        Op::RouteUnsub {
            account,
            subject,
            queue,
        } => write_route_unsub(out, account, subject, *queue),
        Op::RouteMsg {
            account,
            msg,
            queues,
        } => {
            write_route_msg_line(out, account, msg, super::peer::queue_names(queues), true);
            out.extend_from_slice(msg.msg);
            out.extend_from_slice(b"\r\n");
        }
        Op::Pub(p) => {
            let name: &[u8] = if p.has_headers() { b"HPUB" } else { b"PUB" };
            let mut words: Vec<&[u8]> = vec![name, p.subject];
            words.extend(p.reply);
            words.extend(p.header_len_token);
            words.push(p.size_token);
            line(&words);
            out.extend_from_slice(p.msg);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Append `LS+ <subject>\r\n`, or with a queue `LS+ <subject> <queue>
/// <weight>\r\n`: nats-server's `writeLeafSub`.
pub fn write_leaf_sub(out: &mut Vec<u8>, subject: &[u8], queue: Option<&[u8]>, weight: u32) {
    out.extend_from_slice(b"LS+ ");
    out.extend_from_slice(subject);
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue);
        out.push(b' ');
        write_decimal(out, weight as usize);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append `LS- <subject> [queue]\r\n`.
pub fn write_leaf_unsub(out: &mut Vec<u8>, subject: &[u8], queue: Option<&[u8]>) {
    out.extend_from_slice(b"LS- ");
    out.extend_from_slice(subject);
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append the control line of a message to a leaf node, as nats-server's
/// `msgHeaderForRouteOrLeaf` writes it: `LMSG <subject> [reply] <size>`,
/// with queue groups `LMSG <subject> + <reply> <queues> <size>` or
/// `LMSG <subject> | <queues> <size>`; a message with headers to a peer
/// that takes them is `HMSG` with both sizes, to one that does not the
/// headers are dropped (the caller writes only the payload then).
pub fn write_leaf_msg_line<'q>(
    out: &mut Vec<u8>,
    msg: &Pub<'_>,
    queues: impl Iterator<Item = &'q [u8]>,
    peer_headers: bool,
) {
    write_peer_msg_line(out, b"LMSG ", None, msg, queues, peer_headers);
}

/// Append `RS+ <account> <subject>\r\n`, or with a queue `RS+ <account>
/// <subject> <queue> <weight>\r\n`: nats-server's
/// `addRouteSubOrUnsubProtoToBuf`. The weight is at least 1 from any
/// caller that means it (nats-server writes a weight of 0 as nothing,
/// which its own parser refuses; here it is `0`).
pub fn write_route_sub(
    out: &mut Vec<u8>,
    account: &[u8],
    subject: &[u8],
    queue: Option<&[u8]>,
    weight: u32,
) {
    out.extend_from_slice(b"RS+ ");
    out.extend_from_slice(account);
    out.push(b' ');
    out.extend_from_slice(subject);
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue);
        out.push(b' ');
        write_decimal(out, weight as usize);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append `RS- <account> <subject> [queue]\r\n` (no weight).
pub fn write_route_unsub(out: &mut Vec<u8>, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
    out.extend_from_slice(b"RS- ");
    out.extend_from_slice(account);
    out.push(b' ');
    out.extend_from_slice(subject);
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append the control line of a message to a route, as nats-server's
/// `msgHeaderForRouteOrLeaf` writes it for a route without a pinned
/// account: `RMSG <account> <subject> [reply] <size>`, with queue groups
/// `RMSG <account> <subject> + <reply> <queues> <size>` or `RMSG <account>
/// <subject> | <queues> <size>`. The sizes are the publisher's tokens; a
/// message with header bytes to a peer that takes headers is `HMSG` with
/// both sizes, to one that does not the headers are dropped (the caller
/// writes only the payload then).
pub fn write_route_msg_line<'q>(
    out: &mut Vec<u8>,
    account: &[u8],
    msg: &Pub<'_>,
    queues: impl Iterator<Item = &'q [u8]>,
    peer_headers: bool,
) {
    write_peer_msg_line(out, b"RMSG ", Some(account), msg, queues, peer_headers);
}

/// The message line of a leaf (`name` `LMSG `) or a route (`RMSG `, with
/// the account), `HMSG ` in its place when headers go along.
fn write_peer_msg_line<'q>(
    out: &mut Vec<u8>,
    name: &[u8],
    account: Option<&[u8]>,
    msg: &Pub<'_>,
    mut queues: impl Iterator<Item = &'q [u8]>,
    peer_headers: bool,
) {
    // `hasHeader := c.pa.hdr > 0`: an HPUB with an empty header block
    // goes on without it.
    let with_headers = msg.header_len > 0 && peer_headers;
    out.extend_from_slice(if with_headers { b"HMSG " } else { name });
    if let Some(account) = account {
        out.extend_from_slice(account);
        out.push(b' ');
    }
    out.extend_from_slice(msg.subject);
    out.push(b' ');
    match queues.next() {
        Some(first) => {
            match msg.reply {
                Some(reply) => {
                    out.extend_from_slice(b"+ ");
                    out.extend_from_slice(reply);
                    out.push(b' ');
                }
                None => out.extend_from_slice(b"| "),
            }
            out.extend_from_slice(first);
            out.push(b' ');
            for queue in queues {
                out.extend_from_slice(queue);
                out.push(b' ');
            }
        }
        None => {
            if let Some(reply) = msg.reply {
                out.extend_from_slice(reply);
                out.push(b' ');
            }
        }
    }
    if with_headers {
        // The sizes as the publisher wrote them, as nats-server copies them.
        match msg.header_len_token {
            Some(token) => out.extend_from_slice(token),
            None => write_decimal(out, msg.header_len),
        }
        out.push(b' ');
        out.extend_from_slice(msg.size_token);
    } else if msg.header_len > 0 {
        write_decimal(out, msg.msg.len() - msg.header_len);
    } else {
        out.extend_from_slice(msg.size_token);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append a decimal number without allocating.
pub fn write_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pub_msg<'a>(reply: Option<&'a [u8]>, hdr: Option<&'a [u8]>, msg: &'a [u8]) -> Pub<'a> {
        let header_len = hdr.map_or(0, |h| std::str::from_utf8(h).unwrap().parse().unwrap());
        Pub {
            subject: b"foo",
            reply,
            header_len_token: hdr,
            size_token: b"12",
            header_len,
            msg,
        }
    }

    #[test]
    fn msg_frames() {
        let mut out = Vec::new();
        write_msg(&mut out, &pub_msg(None, None, b"hello world!"), b"1", true);
        assert_eq!(out, b"MSG foo 1 12\r\nhello world!\r\n");
        out.clear();
        write_msg(
            &mut out,
            &pub_msg(Some(b"r"), None, b"hello world!"),
            b"9",
            false,
        );
        assert_eq!(out, b"MSG foo 9 r 12\r\nhello world!\r\n");
    }

    #[test]
    fn hmsg_or_stripped_msg() {
        let m = pub_msg(Some(b"r"), Some(b"10"), b"NATS/1.0\r\nhi");
        let mut out = Vec::new();
        write_msg(&mut out, &m, b"2", true);
        assert_eq!(out, b"HMSG foo 2 r 10 12\r\nNATS/1.0\r\nhi\r\n");
        out.clear();
        write_msg(&mut out, &m, b"2", false);
        assert_eq!(out, b"MSG foo 2 r 2\r\nhi\r\n");
    }

    #[test]
    fn decimals() {
        for n in [0usize, 7, 10, 1048576, usize::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
