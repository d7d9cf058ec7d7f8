//! Where and when a user JWT may connect: `src` (CIDRs the client's
//! address must be in) and `times` (daily windows), as nats-server's
//! `validateSrc` and `validateTimes` check them.

use std::net::IpAddr;

/// Whether `ip` is in `cidr` (`a.b.c.d/n` or an IPv6 CIDR); `None` when
/// `cidr` is not one.
fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (net, bits) = cidr.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    // Go's ParseCIDR takes decimal prefix lengths without a sign.
    if !cidr.split_once('/')?.1.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ip = match (net, ip) {
        (IpAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return Some(false),
        },
        _ => ip,
    };
    Some(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            if bits > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            if bits > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    })
}

/// Whether every entry of `src` is a CIDR (the user JWT's validation).
pub fn cidrs_valid(src: &[String]) -> bool {
    let any = IpAddr::from([0, 0, 0, 0]);
    src.iter().all(|c| cidr_contains(c, any).is_some())
}

/// nats-server's `validateSrc`: no list admits anyone; otherwise the
/// client's address must be in one of the CIDRs, and any that is not a
/// CIDR refuses.
pub fn src_allows(src: &[String], ip: IpAddr) -> bool {
    if src.is_empty() {
        return true;
    }
    let mut inside = false;
    for cidr in src {
        match cidr_contains(cidr, ip) {
            None => return false,
            Some(true) => inside = true,
            Some(false) => {}
        }
    }
    inside
}

/// `HH:MM:SS` (Go's `15:04:05` layout: one or two hour digits, two for
/// minutes and seconds, an optional fraction) as seconds of the day.
pub fn parse_clock(text: &str) -> Option<u32> {
    let mut parts = text.splitn(3, ':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let s = s.split_once('.').map_or(s, |(whole, fraction)| {
        if fraction.bytes().all(|b| b.is_ascii_digit()) {
            whole
        } else {
            "x"
        }
    });
    let digits = |t: &str, lens: &[usize]| {
        (lens.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    let (h, m, s) = (digits(h, &[1, 2])?, digits(m, &[2])?, digits(s, &[2])?);
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// A daily window, in seconds of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

/// nats-server's `validateTimes` at `second_of_day` (local to the JWT's
/// `times_location`): `None` when outside every window, else how long is
/// left in the window it is in (the longest, if several). A window whose
/// start is after its end crosses midnight.
pub fn time_left(windows: &[Window], second_of_day: u32) -> Option<u32> {
    const DAY: u32 = 24 * 3600;
    let t = second_of_day;
    windows
        .iter()
        .filter_map(|w| {
            if w.start <= w.end {
                (w.start < t && t < w.end).then(|| w.end - t)
            } else if t < w.end {
                Some(w.end - t)
            } else if w.start < t {
                Some(w.end + DAY - t)
            } else {
                None
            }
        })
        .max()
}

/// The local time zone's offset from UTC at `unix` seconds, in seconds
/// (what Go's `time.Local` gives `times` without `times_location`).
#[allow(unsafe_code)]
pub fn local_utc_offset(unix: i64) -> i64 {
    // `time_t`'s width is the platform's (named, musl's is deprecated).
    let t = unix as _;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack,
    // and reads only `t`; a null return leaves the offset at zero.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sources_are_checked_against_cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let src = list(&["192.168.1.0/24", "10.0.0.1/32"]);
        assert!(src_allows(&src, ip("192.168.1.77")));
        assert!(src_allows(&src, ip("10.0.0.1")));
        assert!(!src_allows(&src, ip("10.0.0.2")));
        assert!(src_allows(&[], ip("1.2.3.4")));
        assert!(src_allows(&list(&["::1/128"]), ip("::1")));
        assert!(src_allows(&list(&["0.0.0.0/0"]), ip("127.0.0.1")));
        assert!(!src_allows(&list(&["10.0.0.0/8", "bogus"]), ip("10.1.1.1")));
        assert!(!cidrs_valid(&list(&["10.0.0.0/33"])));
        assert!(!cidrs_valid(&list(&["10.0.0.0"])));
        assert!(cidrs_valid(&list(&["fe80::/10"])));
    }

    #[test]
    fn clock_times_parse_as_go_parses_15_04_05() {
        assert_eq!(parse_clock("08:00:00"), Some(8 * 3600));
        assert_eq!(parse_clock("8:00:00"), Some(8 * 3600));
        assert_eq!(parse_clock("23:59:59.5"), Some(86399));
        for bad in ["24:00:00", "08:0:00", "08:00", "08:00:00x", "", "aa:bb:cc"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_may_cross_midnight() {
        let day = Window {
            start: 8 * 3600,
            end: 17 * 3600,
        };
        assert_eq!(time_left(&[day], 9 * 3600), Some(8 * 3600));
        assert_eq!(time_left(&[day], 8 * 3600), None, "strictly inside");
        assert_eq!(time_left(&[day], 18 * 3600), None);
        let night = Window {
            start: 22 * 3600,
            end: 2 * 3600,
        };
        assert_eq!(time_left(&[night], 3600), Some(3600));
        assert_eq!(time_left(&[night], 23 * 3600), Some(3 * 3600));
        assert_eq!(time_left(&[night], 12 * 3600), None);
        assert_eq!(time_left(&[day, night], 23 * 3600), Some(3 * 3600));
    }
}
