//! Subject mappings between accounts: the subject an import sees for a
//! subject its exporter published (`prefix`, `to`), and back, for the
//! subscriptions an import places in the exporter.
//!
//! A mapping has a source pattern (`from`) and a destination (`to`). The
//! wildcards of `from` capture tokens: `*` one, `>` the rest. In `to`, `$N`
//! (or `{{wildcard(N)}}`) places capture N, a bare `*` the next capture in
//! order, and `>` the rest, as nats-server's `transformTokenize` reads them.
//! Each capture is placed once, so the mapping can be run backwards.

use crate::subject;

#[derive(Debug, Clone, PartialEq, Eq)]
enum FromToken {
    Literal(Box<[u8]>),
    /// `*`: capture number (from 0).
    One(usize),
    /// `>`: the rest.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ToToken {
    Literal(Box<[u8]>),
    Capture(usize),
    Rest,
}

/// A mapping from subjects matching `from` to subjects of `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMapping {
    from: Vec<FromToken>,
    to: Vec<ToToken>,
    /// `to` as a subscription pattern: captures and the rest as wildcards.
    to_pattern: Box<[u8]>,
}

impl SubjectMapping {
    /// The mapping `from` -> `to`; the error says why it cannot be one.
    pub fn new(from: &str, to: &str) -> Result<SubjectMapping, String> {
        if !subject::is_valid_subject(from.as_bytes()) {
            return Err(format!("invalid subject {from:?}"));
        }
        let mut captures = 0;
        let mut has_rest = false;
        let from_tokens: Vec<FromToken> = subject::tokens(from.as_bytes())
            .map(|t| match t {
                b"*" => {
                    captures += 1;
                    FromToken::One(captures - 1)
                }
                b">" => {
                    has_rest = true;
                    FromToken::Rest
                }
                t => FromToken::Literal(t.into()),
            })
            .collect();
        let mut used = vec![false; captures];
        let mut rest_used = false;
        let mut next_star = 0;
        let mut to_tokens = Vec::new();
        for t in to.split('.') {
            let token = if t == "*" {
                next_star += 1;
                ToToken::Capture(next_star - 1)
            } else if t == ">" {
                ToToken::Rest
            } else if let Some(n) = capture_number(t) {
                if n == 0 || n > captures {
                    return Err(format!("invalid mapping destination: wildcard index {n}"));
                }
                ToToken::Capture(n - 1)
            } else if t.is_empty() || t.contains(['$', '{', '}']) {
                return Err(format!("invalid mapping destination: {to:?}"));
            } else {
                ToToken::Literal(t.as_bytes().into())
            };
            match token {
                ToToken::Capture(n) => {
                    if n >= captures || std::mem::replace(&mut used[n], true) {
                        return Err(format!(
                            "invalid mapping destination: wildcard used more than once or \
                             not in {from}"
                        ));
                    }
                }
                ToToken::Rest => {
                    if !has_rest || rest_used {
                        return Err(format!("invalid mapping destination: '>' not in {from}"));
                    }
                    rest_used = true;
                }
                ToToken::Literal(_) => {}
            }
            to_tokens.push(token);
        }
        if used.iter().any(|u| !u) || has_rest != rest_used {
            return Err(format!(
                "invalid mapping destination: not using all of the token wildcard(s) in {from}"
            ));
        }
        if matches!(to_tokens.iter().position(|t| *t == ToToken::Rest), Some(i) if i + 1 != to_tokens.len())
        {
            return Err("invalid mapping destination: '>' must be last".into());
        }
        let to_pattern = join(to_tokens.iter().map(|t| match t {
            ToToken::Literal(l) => &l[..],
            ToToken::Capture(_) => b"*",
            ToToken::Rest => b">",
        }));
        Ok(SubjectMapping {
            from: from_tokens,
            to: to_tokens,
            to_pattern: to_pattern.into(),
        })
    }

    /// A mapping that puts `prefix.` before every subject of `from` (a
    /// prefix that already ends with the separator gets no second one).
    pub fn with_prefix(from: &str, prefix: &str) -> Result<SubjectMapping, String> {
        let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
        let to: Vec<String> = subject::tokens(from.as_bytes())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        Self::new(from, &format!("{prefix}.{}", to.join(".")))
    }

    /// The destination as a subscription pattern.
    pub fn to_pattern(&self) -> &[u8] {
        &self.to_pattern
    }

    /// The destination of `subject`, a subject `from` matches; into `out`.
    pub fn forward(&self, subject: &[u8], out: &mut Vec<u8>) {
        let tokens: Vec<&[u8]> = subject::tokens(subject).collect();
        let mut captured: Vec<&[u8]> = Vec::new();
        let mut rest: &[u8] = b"";
        let mut offset = 0;
        for (i, t) in self.from.iter().enumerate() {
            match t {
                FromToken::One(_) => captured.push(tokens.get(i).copied().unwrap_or_default()),
                FromToken::Rest => {
                    rest = subject.get(offset..).unwrap_or_default();
                    break;
                }
                FromToken::Literal(_) => {}
            }
            offset += tokens.get(i).map_or(0, |t| t.len() + 1);
        }
        out.clear();
        for (i, t) in self.to.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match t {
                ToToken::Literal(l) => out.extend_from_slice(l),
                ToToken::Capture(n) => {
                    out.extend_from_slice(captured.get(*n).unwrap_or(&&b"*"[..]))
                }
                ToToken::Rest => out.extend_from_slice(rest),
            }
        }
    }

    /// The source subjects whose destinations a subscription to `pattern`
    /// wants, as one pattern; `None` when they share no subject.
    pub fn reverse(&self, pattern: &[u8]) -> Option<Vec<u8>> {
        let wanted = intersect(pattern, &self.to_pattern)?;
        let tokens: Vec<&[u8]> = subject::tokens(&wanted).collect();
        let mut captured: Vec<Option<&[u8]>> = vec![None; self.from.len()];
        let mut rest: Option<Vec<&[u8]>> = None;
        for (i, t) in self.to.iter().enumerate() {
            match t {
                ToToken::Capture(n) => captured[*n] = tokens.get(i).copied(),
                ToToken::Rest => rest = Some(tokens.get(i..).unwrap_or_default().to_vec()),
                ToToken::Literal(_) => {}
            }
        }
        let mut out: Vec<&[u8]> = Vec::new();
        for t in &self.from {
            match t {
                FromToken::Literal(l) => out.push(l),
                FromToken::One(n) => out.push(captured[*n].unwrap_or(b"*")),
                FromToken::Rest => match &rest {
                    Some(r) if !r.is_empty() => out.extend(r.iter().copied()),
                    _ => out.push(b">"),
                },
            }
        }
        Some(join(out.into_iter()))
    }
}

/// `$N` or `{{wildcard(N)}}`.
fn capture_number(token: &str) -> Option<usize> {
    if let Some(n) = token.strip_prefix('$') {
        return n.parse().ok();
    }
    let inner = token
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim()
        .strip_prefix("wildcard(")?
        .strip_suffix(')')?;
    inner.trim().parse().ok()
}

fn join<'a>(tokens: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, t) in tokens.enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(t);
    }
    out
}

/// The subjects two subscription patterns both match, as one pattern;
/// `None` when they share none.
pub fn intersect(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let at: Vec<&[u8]> = subject::tokens(a).collect();
    let bt: Vec<&[u8]> = subject::tokens(b).collect();
    let mut out: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    loop {
        match (at.get(i), bt.get(i)) {
            (None, None) => break,
            (Some(&b">"), _) => {
                out.extend(bt.get(i..).unwrap_or_default().iter().copied());
                if bt.len() <= i {
                    return None; // `>` needs at least one token
                }
                break;
            }
            (_, Some(&b">")) => {
                out.extend(at.get(i..).unwrap_or_default().iter().copied());
                if at.len() <= i {
                    return None;
                }
                break;
            }
            (Some(&x), Some(&y)) => {
                if x == b"*" {
                    out.push(y);
                } else if y == b"*" || x == y {
                    out.push(x);
                } else {
                    return None;
                }
            }
            _ => return None,
        }
        i += 1;
    }
    Some(join(out.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(m: &SubjectMapping, s: &str) -> String {
        let mut out = Vec::new();
        m.forward(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn rev(m: &SubjectMapping, s: &str) -> Option<String> {
        m.reverse(s.as_bytes())
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn a_prefix_is_put_before_every_subject() {
        let m = SubjectMapping::with_prefix("events.>", "from_a").unwrap();
        assert_eq!(m.to_pattern(), b"from_a.events.>");
        assert_eq!(fwd(&m, "events.order.1"), "from_a.events.order.1");
        assert_eq!(rev(&m, "from_a.events.>").as_deref(), Some("events.>"));
        assert_eq!(rev(&m, "from_a.events.x").as_deref(), Some("events.x"));
        assert_eq!(rev(&m, ">").as_deref(), Some("events.>"));
        assert_eq!(rev(&m, "from_a.*.x").as_deref(), Some("events.x"));
        assert_eq!(rev(&m, "other.>"), None);
        assert_eq!(rev(&m, "from_a.events"), None);
        let dotted = SubjectMapping::with_prefix("events.>", "from_a.").unwrap();
        assert_eq!(dotted, m, "a prefix may end with its separator");
    }

    #[test]
    fn wildcards_move_as_to_places_them() {
        let m = SubjectMapping::new("map.*.x", "mapped.$1").unwrap();
        assert_eq!(fwd(&m, "map.foo.x"), "mapped.foo");
        assert_eq!(rev(&m, "mapped.>").as_deref(), Some("map.*.x"));
        assert_eq!(rev(&m, "mapped.foo").as_deref(), Some("map.foo.x"));

        let m = SubjectMapping::new("a.*.*", "b.$2.$1").unwrap();
        assert_eq!(fwd(&m, "a.x.y"), "b.y.x");
        assert_eq!(rev(&m, "b.q.*").as_deref(), Some("a.*.q"));

        let m = SubjectMapping::new("wc.*.req", "bwc.*.request").unwrap();
        assert_eq!(fwd(&m, "wc.foo.req"), "bwc.foo.request");
        let m = SubjectMapping::new("bwc.*.request", "wc.*.req").unwrap();
        assert_eq!(fwd(&m, "bwc.foo.request"), "wc.foo.req");
    }

    #[test]
    fn mappings_that_cannot_run_backwards_are_refused() {
        assert!(SubjectMapping::new("a.*", "b").is_err(), "unused wildcard");
        assert!(SubjectMapping::new("a.*", "b.$1.$1").is_err(), "used twice");
        assert!(SubjectMapping::new("a.*", "b.$2").is_err());
        assert!(SubjectMapping::new("a.>", "b").is_err());
        assert!(SubjectMapping::new("a.>", "b.>.c").is_err());
        assert!(SubjectMapping::new("a..b", "b").is_err());
        assert!(SubjectMapping::new("a", "b.").is_err());
        assert!(SubjectMapping::new("a.*", "b.{{wildcard(1)}}").is_ok());
    }

    #[test]
    fn intersections() {
        let i = |a: &str, b: &str| {
            intersect(a.as_bytes(), b.as_bytes()).map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(i("a.*", "*.b").as_deref(), Some("a.b"));
        assert_eq!(i("a.>", "a.b.*").as_deref(), Some("a.b.*"));
        assert_eq!(i(">", "x").as_deref(), Some("x"));
        assert_eq!(i("a.b", "a.c"), None);
        assert_eq!(i("a.>", "a"), None);
        assert_eq!(i("a.*", "a.b.c"), None);
    }
}
