//! What natsd needs of Go's `net/url`: `url.Parse`'s verdict and texts,
//! the scheme and the host (leaf remotes, proxies, routes).

/// What natsd needs of Go's `url.Parse`: the same verdict, the scheme
/// (lower case) and the host; errors in Go's words.
pub(super) struct GoUrl<'a> {
    /// (Read by the leaf nodes' proxy check.)
    #[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
    pub scheme: String,
    /// `host[:port]`, as written.
    pub host: &'a str,
    /// Where `host` ends in the text.
    #[cfg_attr(not(feature = "leafnodes"), allow(dead_code))]
    pub host_end: usize,
}

impl<'a> GoUrl<'a> {
    pub fn parse(text: &'a str) -> std::result::Result<GoUrl<'a>, String> {
        let fail = |why: &str| format!("parse {text:?}: {why}");
        if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(fail("net/url: invalid control character in URL"));
        }
        let (main, fragment) = text.split_once('#').unwrap_or((text, ""));
        check_escapes(fragment).map_err(|e| fail(&e))?;
        // The scheme: a letter, then letters, digits, `+`, `-`, `.`, up to
        // a colon.
        let mut scheme = "";
        let mut rest = main;
        for (i, c) in main.bytes().enumerate() {
            match c {
                b'a'..=b'z' | b'A'..=b'Z' => {}
                b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
                b':' if i == 0 => return Err(fail("missing protocol scheme")),
                b':' => {
                    scheme = &main[..i];
                    rest = &main[i + 1..];
                    break;
                }
                _ => break,
            }
        }
        let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
        let offset = |s: &str| s.as_ptr() as usize - text.as_ptr() as usize;
        let mut url = GoUrl {
            scheme: scheme.to_ascii_lowercase(),
            host: "",
            host_end: offset(rest),
        };
        if !rest.starts_with('/') {
            if !scheme.is_empty() {
                // Opaque (`hub:7422` reads as scheme `hub`): no host.
                return Ok(url);
            }
            if rest.split('/').next().is_some_and(|seg| seg.contains(':')) {
                return Err(fail("first path segment in URL cannot contain colon"));
            }
        }
        let path = if rest.starts_with("//") && (!scheme.is_empty() || !rest.starts_with("///")) {
            let after = &rest[2..];
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            let host = match authority.rfind('@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    if !userinfo
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b))
                    {
                        return Err(fail("net/url: invalid userinfo"));
                    }
                    check_escapes(userinfo).map_err(|e| fail(&e))?;
                    &authority[at + 1..]
                }
                None => authority,
            };
            check_host(host).map_err(|e| fail(&e))?;
            url.host = host;
            url.host_end = offset(host) + host.len();
            &after[end..]
        } else {
            rest
        };
        check_escapes(path).map_err(|e| fail(&e))?;
        Ok(url)
    }

    /// The port after the host's last colon (`Some("")` for `host:`).
    pub fn port(&self) -> Option<&'a str> {
        let after_bracket = self.host.rfind(']').map_or(0, |i| i + 1);
        let colon = self.host[after_bracket..].rfind(':')?;
        Some(&self.host[after_bracket + colon + 1..])
    }

    /// The host without its port.
    pub fn hostname(&self) -> &'a str {
        let host = match self.port() {
            Some(port) => &self.host[..self.host.len() - port.len() - 1],
            None => self.host,
        };
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }
}

/// Go's `parseHost` and `unescape(host, encodeHost)`.
fn check_host(host: &str) -> std::result::Result<(), String> {
    let valid_port = |p: &str| p.is_empty() || p[1..].bytes().all(|b| b.is_ascii_digit());
    let name = if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let port = &host[close + 1..];
        if !valid_port(port) || (!port.is_empty() && !port.starts_with(':')) {
            return Err(format!("invalid port {port:?} after host"));
        }
        &host[..close + 1]
    } else if let Some(colon) = host.rfind(':') {
        let port = &host[colon..];
        if !valid_port(port) {
            return Err(format!("invalid port {port:?} after host"));
        }
        &host[..colon]
    } else {
        host
    };
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            let escape = name.get(i..i + 3).unwrap_or(&name[i..]);
            let hex = escape.len() == 3 && escape[1..].bytes().all(|b| b.is_ascii_hexdigit());
            // Go allows `%XX` in a host only for bytes above 0x7f (and
            // `%25`).
            if !hex || (&escape[1..2] < "8" && escape != "%25") {
                return Err(format!("invalid URL escape {escape:?}"));
            }
            i += 3;
            continue;
        }
        if c < 0x80 && !c.is_ascii_alphanumeric() && !b"!$&'()*+,;=:[]<>\"-_.~".contains(&c) {
            return Err(format!(
                "invalid character {:?} in host name",
                (c as char).to_string()
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Go's `unescape`: every `%` starts two hex digits.
fn check_escapes(s: &str) -> std::result::Result<(), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = s.get(i..(i + 3).min(s.len())).unwrap_or(&s[i..]);
            if escape.len() < 3 || !escape[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("invalid URL escape {escape:?}"));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}
