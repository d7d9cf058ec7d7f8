//! Independent, naive statements of NATS subject rules, to check natsd's
//! optimised ones against.

/// A subscription subject as Go's `Sublist.Insert` accepts it: no empty
/// token, and `>` only as the last token.
pub fn is_valid_pattern(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    tokens
        .iter()
        .enumerate()
        .all(|(i, t)| !t.is_empty() && (*t != b">" || i == tokens.len() - 1))
}

/// Whether `pattern` (with `*` and `>`) matches `subject`. A token of the
/// subject is compared as a literal, even when it is `*` or `>`.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let p: Vec<&[u8]> = pattern.split(|&b| b == b'.').collect();
    let s: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    for (i, pt) in p.iter().enumerate() {
        if *pt == b">" {
            return s.len() > i;
        }
        match s.get(i) {
            Some(st) if *pt == b"*" || pt == st => {}
            _ => return false,
        }
    }
    p.len() == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_says_what_the_nats_docs_say() {
        assert!(matches(b"a.*", b"a.b"));
        assert!(!matches(b"a.*", b"a.b.c"));
        assert!(matches(b"a.>", b"a.b.c"));
        assert!(!matches(b"a.>", b"a"));
        assert!(matches(b">", b"a"));
        assert!(matches(b"*.b", b"a.b"));
        assert!(!matches(b"a", b"a.b"));
        assert!(is_valid_pattern(b"a.*.>"));
        assert!(!is_valid_pattern(b"a.>.b"));
        assert!(!is_valid_pattern(b"a..b"));
        assert!(!is_valid_pattern(b""));
    }
}
