//! The one part of `conf` that touches the outside world: config files read
//! from disk and variables from the process environment.

use std::path::Path;

use super::Loader;

/// Reads files with `std::fs` and variables with `std::env`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    /// The file's bytes; any that are not UTF-8 become U+FFFD (nats-server
    /// reads bytes; natsd's values are text).
    fn read(&mut self, path: &Path) -> Result<String, String> {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| format!("error opening config file {}: {e}", path.display()))
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}
