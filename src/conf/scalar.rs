//! Turning the text of a lexed number, float or datetime into its value, as
//! nats-server's `conf/parse.go` does.

/// Words an unquoted value may be to be a boolean, in any letter case.
pub fn boolean(word: &str) -> Option<bool> {
    const TRUE: [&str; 3] = ["true", "yes", "on"];
    const FALSE: [&str; 3] = ["false", "no", "off"];
    if TRUE.iter().any(|t| word.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| word.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// An integer with an optional size suffix: `k`/`m`/`g`/`t`/`p`/`e` are
/// powers of 1000; `kb`, `ki`, `kib` (and so on) powers of 1024; any case.
///
/// Where nats-server silently drops a value with a suffix it does not know
/// (`1kbb`) or lets the multiplication wrap around, this is an error.
pub fn integer(text: &str) -> Result<i64, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let number: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
        use std::num::IntErrorKind::{NegOverflow, PosOverflow};
        match e.kind() {
            PosOverflow | NegOverflow => format!("integer '{text}' is out of the range"),
            _ => format!("expected integer, but got '{text}'"),
        }
    })?;
    let multiplier = size_multiplier(&suffix.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("integer '{text}' has an unknown size suffix '{suffix}'"))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("integer '{text}' is out of the range"))
}

fn size_multiplier(suffix: &str) -> Option<i64> {
    let (letter, binary) = match suffix.len() {
        0 => return Some(1),
        1 => (suffix, false),
        _ => match suffix.get(1..) {
            Some("b" | "i" | "ib") => (&suffix[..1], true),
            _ => return None,
        },
    };
    let power = match letter {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    let base: i64 = if binary { 1024 } else { 1000 };
    Some(base.pow(power))
}

/// A float as lexed: digits, a dot, digits (maybe a leading `-`).
pub fn float(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        Ok(_) => Err(format!("float '{text}' is out of the range")),
        Err(_) => Err(format!("expected float, but got '{text}'")),
    }
}

/// Check a lexed `YYYY-MM-DDTHH:MM:SSZ` is a real instant, as Go's
/// `time.Parse` does.
pub fn datetime(text: &str) -> Result<(), String> {
    let invalid = || format!("expected Zulu formatted DateTime, but got '{text}'");
    let field = |range: std::ops::Range<usize>| -> Result<u32, String> {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .ok_or_else(invalid)
    };
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_every_spelling() {
        for word in ["true", "TRUE", "Yes", "on", "ON"] {
            assert_eq!(boolean(word), Some(true), "{word}");
        }
        for word in ["false", "False", "no", "NO", "off", "Off"] {
            assert_eq!(boolean(word), Some(false), "{word}");
        }
        for word in ["t", "y", "1", "enabled", ""] {
            assert_eq!(boolean(word), None, "{word}");
        }
    }

    #[test]
    fn size_suffixes_as_nats_server() {
        for (text, value) in [
            ("0", 0),
            ("42", 42),
            ("-42", -42),
            ("1k", 1000),
            ("1K", 1000),
            ("1kb", 1024),
            ("1KB", 1024),
            ("1Ki", 1024),
            ("1KiB", 1024),
            ("2m", 2_000_000),
            ("2MB", 2 * 1024 * 1024),
            ("1g", 1_000_000_000),
            ("1GB", 1 << 30),
            ("1t", 1_000_000_000_000),
            ("1TiB", 1 << 40),
            ("1p", 1_000_000_000_000_000),
            ("1PB", 1 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("1EB", 1 << 60),
            ("-1k", -1000),
        ] {
            assert_eq!(integer(text), Ok(value), "{text}");
        }
    }

    #[test]
    fn integer_errors() {
        assert_eq!(
            integer("9223372036854775808").unwrap_err(),
            "integer '9223372036854775808' is out of the range"
        );
        assert_eq!(
            integer("10e").unwrap_err(),
            "integer '10e' is out of the range"
        );
        assert!(integer("1kbb").unwrap_err().contains("unknown size suffix"));
        assert!(integer("1bi").unwrap_err().contains("unknown size suffix"));
    }

    #[test]
    fn floats() {
        assert_eq!(float("1.5"), Ok(1.5));
        assert_eq!(float("-0.25"), Ok(-0.25));
        let huge = format!("{}.0", "9".repeat(400));
        assert!(float(&huge).unwrap_err().contains("out of the range"));
    }

    #[test]
    fn datetimes() {
        assert!(datetime("2024-02-29T23:59:59Z").is_ok());
        assert!(datetime("2000-02-29T00:00:00Z").is_ok());
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
        ] {
            assert!(datetime(bad).is_err(), "{bad}");
        }
    }
}
