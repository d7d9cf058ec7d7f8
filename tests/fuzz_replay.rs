//! Replays the fuzz targets' seed corpus and every input that once broke
//! an invariant (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`)
//! through the same checks the fuzzer runs, so `cargo test` guards them
//! without cargo-fuzz or a nightly toolchain.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod natsd_fuzz;

use std::fs;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{} breaks the {target} checks",
                path.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs for the {target} target");
}

#[test]
fn parser_inputs() {
    replay("parser", natsd_fuzz::parser::check);
}

#[cfg(feature = "leafnodes")]
#[test]
fn leaf_inputs() {
    replay("leaf", natsd_fuzz::leaf::check);
}

#[test]
fn roundtrip_inputs() {
    replay("roundtrip", natsd_fuzz::roundtrip::check);
}

#[test]
fn sublist_inputs() {
    replay("sublist", natsd_fuzz::sublist::check);
}

#[test]
fn session_inputs() {
    replay("session", natsd_fuzz::session::check);
}

#[test]
fn config_inputs() {
    replay("config", natsd_fuzz::config::check);
}

#[cfg(feature = "jwt")]
#[test]
fn jwt_inputs() {
    replay("jwt", natsd_fuzz::jwt::check);
}

#[cfg(feature = "websocket")]
#[test]
fn websocket_inputs() {
    replay("websocket", natsd_fuzz::websocket::check);
}

#[cfg(feature = "tls")]
#[test]
fn tls_inputs() {
    replay("tls", natsd_fuzz::tls::check);
}

#[cfg(feature = "cluster")]
#[test]
fn route_inputs() {
    replay("route", natsd_fuzz::route::check);
}
