//! Log lines shaped like nats-server's:
//! `[pid] 2006/01/02 15:04:05.000000 [INF] message`.
//!
//! natsd's own logger rather than env_logger, because an operator changes it
//! while the server runs: SIGUSR1 reopens the log file (after a rotation),
//! and a config reload changes the level, the timestamps and the file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// What the logger does; set at start and again on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `-D`: debug lines.
    pub debug: bool,
    /// `-V`: trace lines (the protocol).
    pub trace: bool,
    /// Timestamps on every line (nats-server's `logtime`, on by default).
    pub logtime: bool,
    /// Append to this file instead of stderr.
    pub file: Option<PathBuf>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            debug: false,
            trace: false,
            logtime: true,
            file: None,
        }
    }
}

impl LogSettings {
    fn level(&self) -> LevelFilter {
        match (self.debug, self.trace) {
            (_, true) => LevelFilter::Trace,
            (true, false) => LevelFilter::Debug,
            _ => LevelFilter::Info,
        }
    }
}

struct Logger {
    logtime: AtomicBool,
    /// The open log file and its path; `None` writes to stderr.
    file: Mutex<Option<(PathBuf, File)>>,
}

static LOGGER: Logger = Logger {
    logtime: AtomicBool::new(true),
    file: Mutex::new(None),
};

/// The process id, read once at `init`.
static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Install the logger (once per process; later calls only apply `settings`).
pub fn init(settings: &LogSettings) -> io::Result<()> {
    PID.get_or_init(std::process::id);
    apply(settings)?;
    // A second init (tests, embedders) keeps the first logger.
    let _ = log::set_logger(&LOGGER);
    Ok(())
}

/// Apply new settings to the running logger: level, timestamps, and the file
/// (opened anew when its path changed). On error the old file stays.
pub fn apply(settings: &LogSettings) -> io::Result<()> {
    let mut file = LOGGER.file.lock().unwrap_or_else(|e| e.into_inner());
    let current = file.as_ref().map(|(path, _)| path.as_path());
    if current != settings.file.as_deref() {
        *file = match &settings.file {
            Some(path) => Some((path.clone(), open(path)?)),
            None => None,
        };
    }
    LOGGER.logtime.store(settings.logtime, Ordering::Relaxed);
    log::set_max_level(settings.level());
    Ok(())
}

/// Reopen the log file at its path (SIGUSR1, after the file was rotated).
/// Logging to stderr has nothing to reopen.
pub fn reopen() -> io::Result<()> {
    let mut file = LOGGER.file.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, handle)) = file.as_mut() {
        *handle = open(path)?;
    }
    Ok(())
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // Dependencies (mio) log their own internals; only ours are wanted,
        // and theirs only when they warn.
        metadata.level() <= log::max_level()
            && (metadata.target().starts_with("natsd") || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let tag = match record.level() {
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        };
        let pid = PID.get().copied().unwrap_or_default();
        let line = if self.logtime.load(Ordering::Relaxed) {
            format!(
                "[{pid}] {} [{tag}] {}\n",
                timestamp(SystemTime::now()),
                record.args()
            )
        } else {
            format!("[{pid}] [{tag}] {}\n", record.args())
        };
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A log line that cannot be written has nowhere to be reported.
        let _ = match file.as_mut() {
            Some((_, f)) => f.write_all(line.as_bytes()),
            None => io::stderr().write_all(line.as_bytes()),
        };
    }

    fn flush(&self) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match file.as_mut() {
            Some((_, f)) => f.flush(),
            None => io::stderr().flush(),
        };
    }
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

    #[test]
    fn levels_follow_debug_and_trace() {
        let mut s = LogSettings::default();
        assert_eq!(s.level(), LevelFilter::Info);
        s.debug = true;
        assert_eq!(s.level(), LevelFilter::Debug);
        s.trace = true;
        assert_eq!(s.level(), LevelFilter::Trace);
    }
}
