//! Go's `time.ParseDuration`, which nats-server applies to duration options
//! (`"2m"`, `"1h30m"`, `"1.5s"`, `"250ms"`), with its error texts.

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const LIMIT: u64 = 1 << 63;

/// Nanoseconds, negative for a leading `-`. Errors are Go's
/// (`time: missing unit in duration "30"`).
pub fn parse(text: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (whole, after) = split_digits(rest);
        let whole_value = leading_int(whole).ok_or_else(invalid)?;
        rest = after;
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (digits, after) = split_digits(after_dot);
            fraction = digits;
            rest = after;
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let per_unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, n)| n)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {text:?}"))?;
        if whole_value > LIMIT / per_unit {
            return Err(invalid());
        }
        let mut value = whole_value * per_unit;
        let (numerator, scale) = leading_fraction(fraction);
        if numerator > 0 {
            // Go scales the fraction in floating point; so do we, to agree
            // to the nanosecond.
            value += (numerator as f64 * (per_unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok(-i128::from(total));
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(i128::from(total))
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// The digits' value, or None past Go's limit.
fn leading_int(digits: &str) -> Option<u64> {
    let mut value: u64 = 0;
    for d in digits.bytes() {
        if value > LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(d - b'0');
        if value > LIMIT {
            return None;
        }
    }
    Some(value)
}

/// The fraction's digits as (numerator, 10^digits); the digits from the
/// first that does not fit on are ignored, as Go ignores them.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let mut value: u64 = 0;
    let mut scale = 1.0;
    for d in digits.bytes() {
        if value > (LIMIT - 1) / 10 {
            break;
        }
        let next = value * 10 + u64::from(d - b'0');
        if next > LIMIT {
            break;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale)
}

#[cfg(test)]
mod tests {
    use super::parse;

    const S: i128 = 1_000_000_000;

    #[test]
    fn go_syntax() {
        for (text, nanos) in [
            ("0", 0),
            ("-0", 0),
            ("10s", 10 * S),
            ("2m", 120 * S),
            ("1h30m", 5400 * S),
            ("1.5s", 1_500_000_000),
            (".5s", 500_000_000),
            ("5.s", 5 * S),
            ("250ms", 250_000_000),
            ("3us", 3_000),
            ("3µs", 3_000),
            ("3μs", 3_000),
            ("7ns", 7),
            ("+2s", 2 * S),
            ("-2s", -2 * S),
            ("1m0.5s", 60 * S + 500_000_000),
            ("2562047h47m16.854775807s", i128::from(i64::MAX)),
            ("-2562047h47m16.854775808s", i128::from(i64::MIN)),
        ] {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn go_errors() {
        for (text, err) in [
            ("", r#"time: invalid duration """#),
            ("30", r#"time: missing unit in duration "30""#),
            ("1x", r#"time: unknown unit "x" in duration "1x""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            ("s", r#"time: invalid duration "s""#),
            (".s", r#"time: invalid duration ".s""#),
            ("-", r#"time: invalid duration "-""#),
            ("1s ", r#"time: unknown unit "s " in duration "1s ""#),
            (
                "2562047h47m16.854775808s",
                r#"time: invalid duration "2562047h47m16.854775808s""#,
            ),
            (
                "9999999999999999999h",
                r#"time: invalid duration "9999999999999999999h""#,
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), err, "{text}");
        }
    }
}
