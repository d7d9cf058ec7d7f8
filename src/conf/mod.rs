//! nats-server's configuration file: the format (Go's `conf/` package) and
//! what its keys mean for [`Options`] (Go's `server/opts.go`).
//!
//! The parser and the mapping to options do no I/O: an included file and an
//! environment variable come from a [`Loader`], so tests and the fuzzer feed
//! them from memory. [`load_options`] is the one entry point that reads the
//! disk and the process environment (through [`files::FsLoader`]).
//!
//! ```
//! use natsd::conf::{self, MemoryLoader};
//! use natsd::options::Overrides;
//!
//! let text = "port: 4333\nauthorization { user: a, password: b }";
//! let loaded = conf::options_from_text(text, "a.conf".as_ref(), &mut MemoryLoader::default(), &Overrides::default())?;
//! assert_eq!(loaded.options.port, 4333);
//! # Ok::<(), conf::ConfigError>(())
//! ```

mod accounts;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(any(feature = "leafnodes", feature = "cluster"))]
mod compression;
mod digest;
pub mod duration;
pub mod files;
mod keys;
#[cfg(feature = "leafnodes")]
mod leafnodes;
#[cfg(feature = "jwt")]
mod operator;
mod options;
mod parser;
mod scalar;
mod tls;
#[cfg(any(feature = "leafnodes", feature = "cluster"))]
mod url;
mod value;
mod websocket;

#[cfg(test)]
mod options_tests;
#[cfg(test)]
mod parser_tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::options::{Options, Overrides};

#[cfg(feature = "cluster")]
pub use cluster::{cluster_listen_flag, routes_flag};
pub use value::{Entry, Map, Node, Pos, Value};

/// Where includes and environment variables come from.
pub trait Loader {
    /// The text of the included file at `path`.
    fn read(&mut self, path: &Path) -> Result<String, String>;
    /// The environment variable `name`, for a `$name` the file does not define.
    fn env(&self, name: &str) -> Option<String>;
}

/// Files and environment variables held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    pub files: HashMap<PathBuf, String>,
    pub env: HashMap<String, String>,
}

impl Loader for MemoryLoader {
    fn read(&mut self, path: &Path) -> Result<String, String> {
        self.files.get(path).cloned().ok_or_else(|| {
            format!(
                "error opening config file: open {}: no such file",
                path.display()
            )
        })
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// One error or warning, with where in which file when there is a place to
/// point at: `f.conf:3:5: unknown field "foo"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub pos: Option<Pos>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: Some(pos),
            message: message.into(),
        }
    }

    pub fn nowhere(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a configuration was refused: every error found, one per line (a
/// syntax error stops the parse, so there is one of those at most).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub errors: Vec<Diagnostic>,
}

impl From<Diagnostic> for ConfigError {
    fn from(d: Diagnostic) -> Self {
        ConfigError { errors: vec![d] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Options read from a config file, with what deserves a word.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub options: Options,
    /// nats-server's digest of the file (`sha256:...`), for `-t` and
    /// `/varz`'s `config_digest`.
    pub digest: String,
    /// nats-server's own warnings (an integer `ping_interval`, an empty
    /// file, ...): the server starts anyway, `-t` fails, as in nats-server.
    pub warnings: Vec<Diagnostic>,
    /// Keys nats-server knows that natsd does not act on yet (`gateway`,
    /// `mqtt`, ...): logged, and the server starts without them.
    pub unsupported: Vec<Diagnostic>,
}

/// Parse configuration text into its tree. `path` names the file in
/// positions and is where its includes are looked up from.
pub fn parse(text: &str, path: &Path, loader: &mut dyn Loader) -> Result<Map, ConfigError> {
    let mut shared = parser::Shared::new(loader);
    let file: Arc<str> = Arc::from(path.display().to_string());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(parser::parse_text(text, file, dir, &mut shared)?)
}

/// Options from configuration text: nats-server's defaults, then the file,
/// then the command-line flags given, then the checks a server makes before
/// it starts ([`Options::validate`]).
pub fn options_from_text(
    text: &str,
    path: &Path,
    loader: &mut dyn Loader,
    overrides: &Overrides,
) -> Result<Loaded, ConfigError> {
    let map = parse(text, path, loader)?;
    let mut loaded = Loaded {
        options: Options::default(),
        digest: digest::digest(&map),
        warnings: Vec::new(),
        unsupported: Vec::new(),
    };
    let mut errors = Vec::new();
    if map.is_empty() {
        loaded.warnings.push(Diagnostic::nowhere(format!(
            "{}: config has no values or is empty",
            path.display()
        )));
    }
    let mut report = options::Report {
        loader,
        errors: &mut errors,
        warnings: &mut loaded.warnings,
        unsupported: &mut loaded.unsupported,
    };
    let http_host_set = options::apply(&map, &mut loaded.options, &mut report);
    if !errors.is_empty() {
        return Err(ConfigError { errors });
    }
    let opts = &mut loaded.options;
    overrides.apply(opts);
    let auth_timeout_set = map.entries().iter().any(|e| {
        e.key.eq_ignore_ascii_case("authorization")
            && matches!(&e.value.value, value::Value::Map(block)
                if block.entries().iter().any(|f| f.key.eq_ignore_ascii_case("timeout")))
    });
    opts.default_auth_timeout_for_tls(auth_timeout_set);
    if !http_host_set {
        opts.http_host = opts.host.clone();
    }
    opts.validate().map_err(Diagnostic::nowhere)?;
    Ok(loaded)
}

/// Read the config file at `path` (and what it includes) and the
/// environment it refers to, and build the options as
/// [`options_from_text`] does, with `overrides` (the command line's flags)
/// winning over the file. This is what a reload (SIGHUP) calls again, with
/// the same overrides.
pub fn load_options(path: &Path, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let mut loader = files::FsLoader;
    let text = loader
        .read(path)
        .map_err(|e| ConfigError::from(Diagnostic::nowhere(e)))?;
    options_from_text(&text, path, &mut loader, overrides)
}

#[cfg(test)]
mod accounts_tests;
