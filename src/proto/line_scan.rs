//! Word-at-a-time scanning of short control lines.
//!
//! A PUB line (`foo.bar 16\r\n`) is short, and walking it twice, once with
//! `memchr` for the newline and once byte by byte for the separators, cost
//! more per message than routing it. [`short_line`] reads the line eight
//! bytes at a time and finds the newline and every space and tab in the same
//! pass, as bits of one `u64`; [`split`] then cuts the arguments out of those
//! bits. Lines that do not fit in 64 bytes are left to the byte-wise path.

/// Longest line, newline included, that [`short_line`] takes.
pub const SHORT_LINE_MAX: usize = 64;

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of every byte of `word` that is zero, and no other bit:
/// exact, because no byte's sum can carry into its neighbour.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    !(((word & LOW7) + LOW7) | word | LOW7)
}

/// The high bit of every byte of `word` equal to `byte`.
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (ONES * u64::from(byte)))
}

/// The eight high bits of `mask` (each byte 0x80 or 0) gathered into the
/// low eight bits, byte `k` to bit `k`. Each bit of the product lands on its
/// own position, so nothing carries into the top byte.
#[inline(always)]
fn gather(mask: u64) -> u64 {
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Eight bytes of `bytes` from `at` as a little-endian word, zero-padded
/// past the end (a zero byte is neither a newline nor a separator).
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(eight) => u64::from_le_bytes(eight.try_into().expect("eight bytes")),
        None => {
            let mut padded = [0u8; 8];
            let rest = &bytes[at..];
            padded[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(padded)
        }
    }
}

/// The index of the first `\n` in `bytes`, if it is within the first
/// [`SHORT_LINE_MAX`] bytes, and the spaces and tabs before it as a bit mask
/// (bit `i` set: byte `i` separates).
#[inline]
pub fn short_line(bytes: &[u8]) -> Option<(usize, u64)> {
    let mut separators = 0u64;
    let mut at = 0;
    while at < SHORT_LINE_MAX.min(bytes.len()) {
        let word = word_at(bytes, at);
        let seps = bytes_equal(word, b' ') | bytes_equal(word, b'\t');
        separators |= gather(seps) << at;
        let newline = bytes_equal(word, b'\n');
        if newline != 0 {
            let nl = at + (newline.trailing_zeros() / 8) as usize;
            return Some((nl, separators & ((1u64 << nl) - 1)));
        }
        at += 8;
    }
    None
}

/// Cut `line` (shorter than 64 bytes) at the separators in `separators`, as
/// `split_args` does without CR/LF separating: the first `N` parts and the
/// real count.
#[inline]
pub fn split<const N: usize>(line: &[u8], separators: u64) -> ([&[u8]; N], usize) {
    debug_assert!(line.len() < SHORT_LINE_MAX);
    // Everything from the line's end on separates, which ends the last part.
    let seps = separators | (!0u64 << line.len());
    let words = !seps;
    let mut starts = words & !(words << 1);
    let mut ends = seps & (words << 1);
    let count = starts.count_ones() as usize;
    let mut parts: [&[u8]; N] = [&[]; N];
    for part in parts.iter_mut().take(count) {
        let (start, end) = (starts.trailing_zeros(), ends.trailing_zeros());
        *part = &line[start as usize..end as usize];
        starts &= starts - 1;
        ends &= ends - 1;
    }
    (parts, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-wise answer: first newline within the limit, separators
    /// before it, and the parts between them.
    fn reference(bytes: &[u8]) -> Option<(usize, u64)> {
        let nl = bytes
            .iter()
            .take(SHORT_LINE_MAX)
            .position(|&b| b == b'\n')?;
        let seps = bytes[..nl]
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b' ' || b == b'\t')
            .fold(0u64, |m, (i, _)| m | 1 << i);
        Some((nl, seps))
    }

    fn reference_split(line: &[u8]) -> Vec<&[u8]> {
        line.split(|&b| b == b' ' || b == b'\t')
            .filter(|p| !p.is_empty())
            .collect()
    }

    fn check(bytes: &[u8]) {
        let found = short_line(bytes);
        assert_eq!(
            found,
            reference(bytes),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        if let Some((nl, seps)) = found {
            for len in [nl, nl.saturating_sub(1)] {
                let line = &bytes[..len];
                let (parts, n) = split::<4>(line, seps & ((1u64 << len) - 1));
                let want = reference_split(line);
                assert_eq!(n, want.len(), "{:?}", String::from_utf8_lossy(line));
                assert_eq!(&parts[..n.min(4)], &want[..n.min(4)]);
            }
        }
    }

    #[test]
    fn finds_the_line_and_its_parts() {
        check(b"foo.bar 16\r\n0123");
        check(b"foo.bar  reply\t\t 16\r\n");
        check(b"a b c d e f\r\n");
        check(b"\n");
        check(b"x\n");
        check(b"no newline here");
        check(b"");
        let (nl, seps) = short_line(b"foo.bar 16\r\nrest").unwrap();
        assert_eq!(nl, 11);
        let (parts, n) = split::<4>(b"foo.bar 16", seps & 0x3ff);
        assert_eq!((n, parts[0], parts[1]), (2, &b"foo.bar"[..], &b"16"[..]));
    }

    #[test]
    fn a_newline_past_the_limit_is_not_seen() {
        let mut long = vec![b'a'; SHORT_LINE_MAX];
        long.push(b'\n');
        assert_eq!(short_line(&long), None);
        long[SHORT_LINE_MAX - 1] = b'\n';
        assert_eq!(
            short_line(&long).map(|(nl, _)| nl),
            Some(SHORT_LINE_MAX - 1)
        );
    }

    #[test]
    fn agrees_with_the_bytewise_scan_on_random_lines() {
        // Every byte that matters, and a few that look like them bit-wise
        // (0x80 | ' ', 0x0a ^ 0x80, ...), at random lengths around 64.
        const ALPHABET: &[u8] = b"  \t\t\n\r\r\naZ.0\x00\xa0\x8a\x89\x7f\xff\x21\x1f";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 80) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    // Mostly ordinary bytes, so long lines occur too.
                    if r % 4 == 0 {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    } else {
                        b'x'
                    }
                })
                .collect();
            check(&bytes);
        }
    }
}
