//! Encoders for what the server sends: `MSG`, `HMSG` and the short replies.

use super::parser::Pub;

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
/// as nats-server does.
pub fn write_msg(out: &mut Vec<u8>, msg: &Pub<'_>, sid: &[u8], receiver_headers: bool) {
    let with_headers = msg.has_headers() && receiver_headers;
    out.extend_from_slice(if with_headers { b"HMSG " } else { b"MSG " });
    out.extend_from_slice(msg.subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    if let Some(reply) = msg.reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    let body = match (msg.header_len_token, with_headers) {
        (Some(hdr), true) => {
            out.extend_from_slice(hdr);
            out.push(b' ');
            out.extend_from_slice(msg.size_token);
            msg.msg
        }
        (Some(_), false) => {
            write_decimal(out, msg.msg.len() - msg.header_len);
            msg.payload()
        }
        (None, _) => {
            out.extend_from_slice(msg.size_token);
            msg.msg
        }
    };
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
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
