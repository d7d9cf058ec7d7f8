//! Subject and token rules, as nats-server 2.10 applies them
//! (`server/sublist.go`: `IsValidSubject`, `IsValidLiteralSubject`,
//! `IsValidPublishSubject`, `subjectIsLiteral`, and the checks `Sublist.Insert`
//! makes).
//!
//! A subject is a sequence of tokens separated by `.`. Only a token that is
//! exactly `*` (pwc, one token) or exactly `>` (fwc, one or more trailing
//! tokens) is a wildcard: `foo*`, `*bar` and `a>` are ordinary literal tokens.
//!
//! Every function here takes raw bytes and never allocates or panics.

/// Token separator.
pub const TSEP: u8 = b'.';
/// Partial wildcard token: matches exactly one token.
pub const PWC: &[u8] = b"*";
/// Full wildcard token: matches one or more trailing tokens.
pub const FWC: &[u8] = b">";

/// The bytes nats-server rejects inside a token (`"\t\n\f\r "`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// The tokens of `s`, split on `.`, without allocating.
///
/// Like Go's `strings.Split`, an empty subject yields one empty token and
/// `a..b` yields an empty middle token; callers that care check for them.
pub fn tokens(s: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> + Clone {
    s.split(|&b| b == TSEP)
}

/// Number of tokens in `s`; 0 for the empty subject (Go's `numTokens`).
pub fn num_tokens(s: &[u8]) -> usize {
    if s.is_empty() {
        return 0;
    }
    s.iter().filter(|&&b| b == TSEP).count() + 1
}

/// Go's `IsValidSubject`: non-empty, no empty token, a `>` token only in last
/// position, and no whitespace (`' '`, `\t`, `\n`, `\r`, `\x0c`) in any
/// token. Wildcards are allowed.
///
/// Note: a client `SUB` in nats-server 2.10 is *not* checked with this; it
/// only gets the checks of [`is_valid_sub_subject`] (what `Sublist.Insert`
/// rejects). The difference is whitespace the protocol parser does not split
/// on, i.e. `\x0c`.
pub fn is_valid_subject(s: &[u8]) -> bool {
    is_valid_sub_subject(s) && !s.iter().any(|&b| is_space(b))
}

/// The checks Go's `Sublist.Insert` makes, which is all a client `SUB`
/// subject gets in nats-server 2.10 (it replies `-ERR 'Invalid Subject'` when
/// they fail): non-empty, no empty token, a `>` token only in last position.
/// Whitespace is not looked at.
pub fn is_valid_sub_subject(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for t in tokens(s) {
        if t.is_empty() || seen_fwc {
            return false;
        }
        seen_fwc = t == FWC;
    }
    true
}

/// Go's `IsValidLiteralSubject`, the pedantic `PUB`/`HPUB` check: every token
/// non-empty and none exactly `*` or `>`.
///
/// As in Go, whitespace is not looked at here (the protocol parser has
/// already split the line on it); use [`is_valid_publish_subject`] for the
/// stricter `IsValidPublishSubject`.
pub fn is_valid_literal_subject(s: &[u8]) -> bool {
    tokens(s).all(|t| !t.is_empty() && t != PWC && t != FWC)
}

/// Go's `IsValidPublishSubject`: [`is_valid_subject`] and [`is_literal`].
pub fn is_valid_publish_subject(s: &[u8]) -> bool {
    is_valid_subject(s) && is_literal(s)
}

/// Go's `subjectIsLiteral`: no token is exactly `*` or `>`. Does not check
/// validity otherwise (`a..b` is "literal").
pub fn is_literal(s: &[u8]) -> bool {
    tokens(s).all(|t| t != PWC && t != FWC)
}

/// Does the subscription `pattern` match the published subject `literal`?
///
/// A `*` token of the pattern matches any one token, a `>` token (last)
/// matches one or more remaining tokens, any other token matches the
/// identical token. The tokens of `literal` are all taken literally, so a
/// published `*` or `>` token is matched only by a wildcard (or not at all),
/// exactly as the sublist trie behaves.
///
/// A `literal` with an empty token, or empty, matches nothing (Go's match
/// returns its empty result for it). A `pattern` that fails
/// [`is_valid_sub_subject`] matches nothing either.
pub fn matches(pattern: &[u8], literal: &[u8]) -> bool {
    if pattern.is_empty() || literal.is_empty() {
        return false;
    }
    let mut pt = tokens(pattern);
    let mut lt = tokens(literal);
    loop {
        match (pt.next(), lt.next()) {
            (None, None) => return true,
            (Some(p), Some(l)) => {
                if p.is_empty() || l.is_empty() {
                    return false;
                }
                if p == FWC {
                    // Valid only as the last pattern token; the rest of the
                    // literal must still be well formed to match anything.
                    return pt.next().is_none() && lt.all(|t| !t.is_empty());
                }
                if p != PWC && p != l {
                    return false;
                }
            }
            // Different token counts. A remaining literal token could be
            // empty, but the answer is no either way.
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: [u8; 5] = [b' ', b'\t', b'\n', b'\r', b'\x0c'];

    #[test]
    fn valid_subject_table() {
        let valid: &[&[u8]] = &[
            b"foo",
            b"foo.bar",
            b"*",
            b">",
            b"foo.*",
            b"foo.>",
            b"*.*.>",
            b"foo.*.bar",
            b"foo*",
            b"*bar",
            b"a>",
            b">a",
            b"foo.a>.b",
            b"foo.**.b",
            b"foo.>>",
            b"-",
            b"\x00",
            b"\xff\xfe",
            b"$SYS.>",
            b"_INBOX.abc.*",
        ];
        let invalid: &[&[u8]] = &[
            b"",
            b".",
            b"..",
            b".foo",
            b"foo.",
            b"foo..bar",
            b">.foo",
            b"foo.>.bar",
            b"foo.>.>",
            b"foo bar",
            b"foo.b ar",
            b" ",
            b"foo. ",
            b"foo.\t",
            b"foo\r",
            b"foo\n.bar",
            b"a\x0cb",
            b"\x0c",
        ];
        for s in valid {
            assert!(is_valid_subject(s), "{:?} should be valid", s);
            assert!(is_valid_sub_subject(s), "{:?} should be valid", s);
        }
        for s in invalid {
            assert!(!is_valid_subject(s), "{:?} should be invalid", s);
        }
        for b in WS {
            assert!(!is_valid_subject(&[b]));
            assert!(!is_valid_subject(&[b'a', b]));
            assert!(!is_valid_subject(&[b'a', b'.', b]));
            assert!(is_valid_sub_subject(&[b'a', b]));
        }
    }

    #[test]
    fn sub_subject_table() {
        // Insert's checks only: whitespace passes, structure does not.
        for s in [&b"a b"[..], b"a.\x0c", b"\t", b"foo.*.bar"] {
            assert!(is_valid_sub_subject(s), "{:?}", s);
        }
        for s in [&b""[..], b".", b"a..b", b"a.", b".a", b">.a", b"a.>.>"] {
            assert!(!is_valid_sub_subject(s), "{:?}", s);
        }
    }

    #[test]
    fn literal_tables() {
        let literal: &[&[u8]] = &[b"foo", b"foo.bar", b"foo*", b"*bar", b"a>", b"foo.**.x"];
        let wild: &[&[u8]] = &[b"*", b">", b"foo.*", b"foo.>", b"*.foo", b"a.*.b"];
        for s in literal {
            assert!(is_literal(s), "{:?}", s);
            assert!(is_valid_literal_subject(s), "{:?}", s);
            assert!(is_valid_publish_subject(s), "{:?}", s);
        }
        for s in wild {
            assert!(!is_literal(s), "{:?}", s);
            assert!(!is_valid_literal_subject(s), "{:?}", s);
            assert!(!is_valid_publish_subject(s), "{:?}", s);
        }
        for s in [&b""[..], b".", b"a..b", b".a", b"a."] {
            assert!(!is_valid_literal_subject(s), "{:?}", s);
            assert!(!is_valid_publish_subject(s), "{:?}", s);
        }
        // Go's IsValidLiteralSubject does not look at whitespace;
        // IsValidPublishSubject does.
        assert!(is_valid_literal_subject(b"a b"));
        assert!(!is_valid_publish_subject(b"a b"));
        // subjectIsLiteral does not check structure.
        assert!(is_literal(b"a..b"));
        assert!(is_literal(b""));
    }

    #[test]
    fn token_helpers() {
        assert_eq!(num_tokens(b""), 0);
        assert_eq!(num_tokens(b"a"), 1);
        assert_eq!(num_tokens(b"a.b.c"), 3);
        assert_eq!(num_tokens(b"a..b"), 3);
        assert_eq!(num_tokens(b"."), 2);
        let t: Vec<&[u8]> = tokens(b"a.bc..d").collect();
        assert_eq!(t, [&b"a"[..], b"bc", b"", b"d"]);
        assert_eq!(tokens(b"").count(), 1);
    }

    #[test]
    fn matches_table() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"foo", b"foo"),
            (b"foo.bar", b"foo.bar"),
            (b"*", b"foo"),
            (b">", b"foo"),
            (b">", b"foo.bar.baz"),
            (b"foo.*", b"foo.bar"),
            (b"foo.>", b"foo.bar"),
            (b"foo.>", b"foo.bar.baz"),
            (b"*.bar", b"foo.bar"),
            (b"*.*", b"a.b"),
            (b"foo.*.baz", b"foo.bar.baz"),
            (b"*.>", b"a.b"),
            (b"foo*", b"foo*"),
            (b"a>", b"a>"),
            // Published wildcard tokens are literal bytes, matched by wildcards.
            (b"*", b"*"),
            (b">", b">"),
            (b"foo.*", b"foo.>"),
            (b"foo.>", b"foo.*"),
        ];
        let no: &[(&[u8], &[u8])] = &[
            (b"foo", b"bar"),
            (b"foo", b"foo.bar"),
            (b"foo.bar", b"foo"),
            (b"*", b"foo.bar"),
            (b"foo.*", b"foo"),
            (b"foo.>", b"foo"),
            (b"foo.*", b"foo.bar.baz"),
            (b"*.*", b"a"),
            (b"foo*", b"foobar"),
            (b"foo*", b"foo.x"),
            (b"a>", b"a.b"),
            (b"foo.bar", b"foo.*"),
            (b"foo.bar", b"foo.>"),
            (b"foo", b"*"),
            // Empty or malformed published subjects match nothing.
            (b">", b""),
            (b">", b"."),
            (b">", b"foo..bar"),
            (b">", b"foo."),
            (b">", b".foo"),
            (b"*", b""),
            (b"foo.>", b"foo.bar."),
            (b"foo.*", b"foo."),
            // Invalid patterns match nothing.
            (b"", b""),
            (b"", b"foo"),
            (b"foo..bar", b"foo..bar"),
            (b">.bar", b"foo.bar"),
            (b"foo.", b"foo."),
        ];
        for (p, l) in yes {
            assert!(matches(p, l), "{:?} should match {:?}", p, l);
        }
        for (p, l) in no {
            assert!(!matches(p, l), "{:?} should not match {:?}", p, l);
        }
    }

    #[test]
    fn deep_subjects() {
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(b"a.");
        }
        deep.push(b'z');
        assert!(is_valid_subject(&deep));
        assert!(is_literal(&deep));
        assert!(matches(&deep, &deep));
        assert!(matches(b"a.>", &deep));
        assert_eq!(num_tokens(&deep), 10_001);
    }
}
