//! A real browser: the official NATS JavaScript client (npm's
//! `@nats-io/nats-core`, its `wsconnect`) in headless Chromium, over
//! WebSocket, publishes and subscribes (payload and headers, 200000 binary
//! bytes), requests of a responder in the page, and gets a no-responders
//! error; a plain TCP client on the same server sees what the page
//! published. `tests/browser/page.js` is the page, `tests/browser/run.mjs`
//! drives Chromium with playwright-core. Each server runs the page twice:
//! without and with `compression: true` (Chromium always offers
//! permessage-deflate). The same runs against the reference nats-server
//! check that the page expects what nats-server does.
//!
//! Needs node >= 20, Chromium at /usr/bin/chromium (Debian's `chromium`) and
//! the npm packages `tests/browser/package-lock.json` pins, installed in
//! `target/browser/node_modules`: `tests/browser/install.sh` installs them
//! all. Without them the tests say "skipped: ..." and pass, unless
//! `NATS_CONFORMANCE_REQUIRED=1` (`.ci/test`) makes that a failure.
//! `NATSD_BROWSER_MODULES` and `CHROMIUM` point elsewhere.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::binary::Running;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What nats-server logs about its WebSocket listener, before "Server is
/// ready": `Listening for websocket clients on ws://127.0.0.1:PORT`.
const LISTENING: &str = "Listening for websocket clients on ";

/// The `websocket {}` blocks each server runs the page under.
const WEBSOCKET: [(&str, &str); 2] = [
    ("plain", "host: 127.0.0.1, port: -1, no_tls: true"),
    (
        "deflate",
        "host: 127.0.0.1, port: -1, no_tls: true, compression: true",
    ),
];

/// Longer than run.mjs's own limit (30 s for the page, 20 s more at most
/// for the browser), so run.mjs is the one that says what hung.
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn required() -> bool {
    std::env::var("NATS_CONFORMANCE_REQUIRED").is_ok_and(|v| v == "1")
}

/// A directory of its own for each run's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where run.mjs finds the npm packages and Chromium.
struct Browser {
    modules: PathBuf,
    chromium: PathBuf,
}

/// node, the npm packages and Chromium, or `None` after saying what is
/// missing (a failure when `NATS_CONFORMANCE_REQUIRED=1`).
fn browser() -> Option<Browser> {
    let root = Path::new(ROOT);
    let modules = std::env::var_os("NATSD_BROWSER_MODULES")
        .map_or_else(|| root.join("target/browser/node_modules"), PathBuf::from);
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    let mut missing = Vec::new();
    match Command::new("node")
        .args(["-p", "process.versions.node"])
        .output()
    {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let major: u32 = version
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 20 {
                missing.push(format!("node >= 20 (this is {version})"));
            }
        }
        _ => missing.push("node (>= 20) on PATH".to_string()),
    }
    for package in ["@nats-io/nats-core", "playwright-core"] {
        if !modules.join(package).join("package.json").is_file() {
            missing.push(format!("{package} in {}", modules.display()));
        }
    }
    // install.sh's stamp: the lock it last installed from.
    let stamp = std::fs::read(modules.join(".natsd-installed-lock")).ok();
    let lock = std::fs::read(root.join("tests/browser/package-lock.json")).ok();
    if stamp.is_some() && stamp != lock {
        missing.push(format!(
            "{} as tests/browser/package-lock.json has it now (it changed)",
            modules.display()
        ));
    }
    if !chromium.is_file() {
        missing.push(format!("Chromium at {}", chromium.display()));
    }
    if missing.is_empty() {
        return Some(Browser { modules, chromium });
    }
    let message = format!(
        "the browser test needs {}; tests/browser/install.sh installs them \
         (Debian's chromium, then `npm ci` into target/browser; node >= 20 with npm first)",
        missing.join(", ")
    );
    assert!(
        !required(),
        "{message} (NATS_CONFORMANCE_REQUIRED=1 makes this a failure)"
    );
    eprintln!("skipped: {message}");
    None
}

/// A server started with a config file whose `websocket {}` is `websocket`,
/// and the WebSocket URL it logged.
struct WsServer {
    running: Running,
    ws_url: String,
}

fn start_with_websocket(program: &str, name: &str, websocket: &str) -> WsServer {
    let conf = scratch(name).join("server.conf");
    std::fs::write(
        &conf,
        format!("listen: 127.0.0.1:-1\nwebsocket {{ {websocket} }}\n"),
    )
    .unwrap();
    let running = Running::start_program(program, &["-c", conf.to_str().unwrap()], &[]);
    let ws_url = running
        .log
        .iter()
        .find_map(|line| line.split(LISTENING).nth(1))
        .map(|url| url.trim().replace("0.0.0.0", "127.0.0.1"))
        .unwrap_or_else(|| {
            panic!(
                "{program} logged no {LISTENING:?} before it was ready:\n{}",
                running.log.join("\n")
            )
        });
    WsServer { running, ws_url }
}

/// natsd as an operator starts it: the binary, a config file with
/// `websocket {}`, and the "Listening for websocket clients on" line it logs
/// as nats-server does. (In-process, it would need the WebSocket listener's
/// address from `RunningServer`; the log is what both servers have.)
#[cfg(feature = "websocket")]
fn start_natsd_with_websocket(name: &str, websocket: &str) -> WsServer {
    start_with_websocket(common::binary::NATSD, name, websocket)
}

/// `node tests/browser/run.mjs <ws url> --tcp <client port>`, which must
/// exit 0 (every check passed); its report is in the failure message.
fn run_page(browser: &Browser, name: &str, srv: &WsServer) {
    let dir = scratch(&format!("{name}-run"));
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new("node")
        .arg(Path::new(ROOT).join("tests/browser/run.mjs"))
        .arg(&srv.ws_url)
        .arg("--tcp")
        .arg(srv.running.addr.to_string())
        .env("NATSD_BROWSER_MODULES", &browser.modules)
        .env("CHROMIUM", &browser.chromium)
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let how = status.map_or(format!("killed after {RUN_LIMIT:?}"), |s| s.to_string());
    assert!(
        status.is_some_and(|s| s.success()),
        "the browser page failed against {} ({name}, {how}):\n{out}\n{err}",
        srv.ws_url
    );
    // run.mjs's one-line summary.
    eprintln!("{name}: {}", err.trim_end());
}

#[cfg(feature = "websocket")]
#[test]
fn the_official_js_client_in_chromium_against_natsd() {
    let Some(browser) = browser() else { return };
    for (variant, websocket) in WEBSOCKET {
        let name = format!("natsd-{variant}");
        let srv = start_natsd_with_websocket(&name, websocket);
        run_page(&browser, &name, &srv);
    }
}

/// The page's expectations are nats-server's: the same runs against the
/// reference nats-server (`target/ref/bin/nats-server`, from `.ci/test`).
#[test]
fn the_official_js_client_in_chromium_against_nats_server() {
    let Some(browser) = browser() else { return };
    let reference = Path::new(ROOT).join("target/ref/bin/nats-server");
    if !reference.is_file() {
        let message = format!(
            "the reference nats-server is not at {}; .ci/test installs it",
            reference.display()
        );
        assert!(!required(), "{message}");
        eprintln!("skipped: {message}");
        return;
    }
    for (variant, websocket) in WEBSOCKET {
        let name = format!("nats-server-{variant}");
        let srv = start_with_websocket(reference.to_str().unwrap(), &name, websocket);
        run_page(&browser, &name, &srv);
    }
}
