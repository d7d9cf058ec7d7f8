//! Query strings, read as nats-server reads them (Go's `url.ParseQuery`
//! and its `decodeBool`/`decodeInt`/... helpers, with their error texts).

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse `a=1&b=two`. A pair with a bad `%` escape is dropped, as Go
    /// drops it.
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((unescape(name, true)?, unescape(value, true)?))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `name`; empty when absent (Go's `Values.Get`).
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v)
    }

    /// Go's `decodeBool`: absent is false.
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            other => Err(format!(
                "Error decoding boolean for '{name}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(other)
            )),
        }
    }

    /// Go's `decodeInt`: absent is 0.
    pub fn int(&self, name: &str) -> Result<i64, String> {
        let text = self.get(name);
        if text.is_empty() {
            return Ok(0);
        }
        text.parse::<i64>().map_err(|e| {
            format!(
                "Error decoding int for '{name}': strconv.Atoi: parsing {}: {}",
                go_quote(text),
                number_error(&e)
            )
        })
    }

    /// Go's `decodeUint64`: absent is 0.
    pub fn uint(&self, name: &str) -> Result<u64, String> {
        let text = self.get(name);
        if text.is_empty() {
            return Ok(0);
        }
        let parsed = if text.starts_with('+') {
            "-".parse::<u64>() // Go takes no sign here: the same syntax error
        } else {
            text.parse::<u64>()
        };
        parsed.map_err(|e| {
            format!(
                "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {}: {}",
                go_quote(text),
                number_error(&e)
            )
        })
    }
}

fn number_error(e: &std::num::ParseIntError) -> &'static str {
    use std::num::IntErrorKind::{NegOverflow, PosOverflow};
    match e.kind() {
        PosOverflow | NegOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

/// Go's `%q` of a string, close enough for error messages.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Undo `%XX` escapes (and, in a query, `+` for a space). `None` for a bad
/// escape. Bytes that are not UTF-8 become U+FFFD.
pub fn unescape(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_the_first_wins() {
        let q = Query::parse("subs=detail&test=a%2Eb&name=x+y&subs=1&bad=%zz&flag");
        assert_eq!(q.get("subs"), "detail");
        assert_eq!(q.get("test"), "a.b");
        assert_eq!(q.get("name"), "x y");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("flag"), "");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn decoders_fail_with_nats_server_texts() {
        let q = Query::parse("a=x&b=T&c=-3&d=99999999999999999999&e=%2B4");
        assert_eq!(
            q.bool("a").unwrap_err(),
            "Error decoding boolean for 'a': strconv.ParseBool: parsing \"x\": invalid syntax"
        );
        assert_eq!(q.bool("b"), Ok(true));
        assert_eq!(q.bool("none"), Ok(false));
        assert_eq!(q.int("c"), Ok(-3));
        assert_eq!(
            q.int("a").unwrap_err(),
            "Error decoding int for 'a': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            q.int("d").unwrap_err(),
            "Error decoding int for 'd': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(q.int("e"), Ok(4));
        assert_eq!(
            q.uint("e").unwrap_err(),
            "Error decoding uint64 for 'e': strconv.ParseUint: parsing \"+4\": invalid syntax"
        );
        assert_eq!(q.uint("none"), Ok(0));
    }
}
