//! Log lines shaped like nats-server's:
//! `[pid] 2006/01/02 15:04:05.000000 [INF] message`.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter};

/// Set up `env_logger`: info by default, `-D` debug, `-V` trace (protocol),
/// to stderr or, with `-l`, appended to a file. `RUST_LOG` still overrides.
pub fn init(debug: bool, trace: bool, file: Option<&Path>) -> std::io::Result<()> {
    let level = match (debug, trace) {
        (_, true) => LevelFilter::Trace,
        (true, false) => LevelFilter::Debug,
        _ => LevelFilter::Info,
    };
    let mut builder = env_logger::Builder::new();
    // Dependencies (mio) trace their own internals; only ours are wanted.
    builder
        .filter_level(LevelFilter::Warn)
        .filter_module("natsd", level)
        .parse_default_env();
    if let Some(path) = file {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        builder.target(env_logger::Target::Pipe(Box::new(f)));
    }
    let pid = std::process::id();
    builder.format(move |out, record| {
        let tag = match record.level() {
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        };
        writeln!(
            out,
            "[{pid}] {} [{tag}] {}",
            timestamp(SystemTime::now()),
            record.args()
        )
    });
    // A second init (tests, embedders) keeps the first logger.
    let _ = builder.try_init();
    Ok(())
}

/// `YYYY/MM/DD hh:mm:ss.micros` in UTC.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}/{m:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_383_296_123_456);
        assert_eq!(timestamp(t), "2026/11/22 21:34:56.123456");
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00.000000");
        assert_eq!(civil_from_days(19_417), (2023, 3, 1));
    }
}
