//! The natsd command line, flag-compatible with nats-server's.

use std::path::PathBuf;
use std::process::ExitCode;

use getopts::{Matches, Options as Getopts, ParsingStyle};
use natsd::{Options, Server, NATS_SERVER_VERSION, VERSION};

fn flags() -> Getopts {
    let mut o = Getopts::new();
    o.parsing_style(ParsingStyle::StopAtFirstFree);
    o.optopt(
        "a",
        "addr",
        "Bind to host address (default: 0.0.0.0)",
        "HOST",
    );
    o.optopt("", "net", "Same as --addr", "HOST");
    o.optopt(
        "p",
        "port",
        "Use port for clients (default: 4222; -1 or 0: random)",
        "PORT",
    );
    o.optopt("n", "name", "Server name (default: the server id)", "NAME");
    o.optopt("", "server_name", "Same as --name", "NAME");
    o.optopt("P", "pid", "File to store PID", "FILE");
    o.optopt(
        "",
        "ports_file_dir",
        "Write <executable>_<pid>.ports into DIR",
        "DIR",
    );
    o.optopt(
        "m",
        "http_port",
        "Use port for http monitoring (not supported yet)",
        "PORT",
    );
    o.optopt(
        "c",
        "config",
        "Configuration file (not supported yet)",
        "FILE",
    );
    o.optopt("l", "log", "File to redirect log output", "FILE");
    o.optflag("D", "debug", "Enable debugging output");
    o.optflag("V", "trace", "Trace the raw protocol");
    o.optopt("", "user", "User required for connections", "USER");
    o.optopt("", "pass", "Password required for connections", "PASSWORD");
    o.optopt(
        "",
        "auth",
        "Authorization token required for connections",
        "TOKEN",
    );
    o.optflag("h", "help", "Show this message");
    o.optflag("v", "version", "Show version");
    o
}

/// Go's flag package also takes long names after a single dash
/// (`-port 4222`); getopts would read that as `-p ort`. Rewrite them.
fn normalize(args: Vec<String>) -> Vec<String> {
    const LONG: [&str; 15] = [
        "addr",
        "net",
        "port",
        "name",
        "server_name",
        "pid",
        "ports_file_dir",
        "http_port",
        "config",
        "log",
        "debug",
        "trace",
        "user",
        "pass",
        "auth",
    ];
    args.into_iter()
        .map(|a| {
            let name = a.strip_prefix('-').unwrap_or("");
            let bare = name.split('=').next().unwrap_or("");
            if !name.starts_with('-') && LONG.contains(&bare) {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn options_from(m: &Matches) -> Result<Options, String> {
    for (flag, what) in [
        ("m", "monitoring (-m/--http_port)"),
        ("c", "the configuration file (-c/--config)"),
    ] {
        if m.opt_present(flag) {
            return Err(format!("{what} is not supported yet"));
        }
    }
    if !m.free.is_empty() {
        return Err(format!("unexpected argument {:?}", m.free[0]));
    }
    let mut opts = Options::default();
    if let Some(host) = m.opt_str("a").or_else(|| m.opt_str("net")) {
        opts.host = host;
    }
    if let Some(port) = m.opt_str("p") {
        opts.port = port
            .parse()
            .map_err(|_| format!("invalid value {port:?} for flag -p: parse error"))?;
    }
    opts.server_name = m.opt_str("n").or_else(|| m.opt_str("server_name"));
    opts.username = m.opt_str("user");
    opts.password = m.opt_str("pass");
    opts.authorization = m.opt_str("auth");
    opts.debug = m.opt_present("D");
    opts.trace = m.opt_present("V");
    opts.log_file = m.opt_str("l").map(PathBuf::from);
    opts.pid_file = m.opt_str("P").map(PathBuf::from);
    opts.ports_file_dir = m.opt_str("ports_file_dir").map(PathBuf::from);
    opts.validate()?;
    Ok(opts)
}

fn usage() -> String {
    flags().usage("Usage: natsd [options]")
}

fn main() -> ExitCode {
    let args = normalize(std::env::args().skip(1).collect());
    let matches = match flags().parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("natsd: {e}\n\n{}", usage());
            return ExitCode::from(1);
        }
    };
    if matches.opt_present("h") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if matches.opt_present("v") {
        println!("natsd: v{VERSION} (nats-server v{NATS_SERVER_VERSION} client protocol)");
        return ExitCode::SUCCESS;
    }
    let opts = match options_from(&matches) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("natsd: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = natsd::logging::init(opts.debug, opts.trace, opts.log_file.as_deref()) {
        eprintln!("natsd: cannot open log file: {e}");
        return ExitCode::from(1);
    }
    match serve(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn serve(opts: Options) -> Result<(), String> {
    let host = opts.host.clone();
    let listen = natsd::server::join_host_port(&host, opts.port.max(0) as u16);
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    log::info!("Starting natsd");
    log::info!("  Version:  {VERSION} (nats-server {NATS_SERVER_VERSION} protocol)");
    let mut server =
        Server::new(opts).map_err(|e| format!("Error listening on port: {listen}, \"{e}\""))?;
    log::info!("  Name:     {}", server.name());
    log::info!("  ID:       {}", server.id());
    let pid = std::process::id();
    if let Some(path) = &pid_file {
        std::fs::write(path, pid.to_string())
            .map_err(|e| format!("Could not write pidfile: {e}"))?;
    }
    let ports_file = match &ports_dir {
        Some(dir) => Some(write_ports_file(dir, &host, server.addr().port(), pid)?),
        None => None,
    };
    server
        .trap_signals()
        .map_err(|e| format!("Cannot trap signals: {e}"))?;
    let result = server.run().map_err(|e| e.to_string());
    // nats-server removes its ports file and leaves the pid file.
    if let Some(path) = ports_file {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// nats-server's ports file: `<executable>_<pid>.ports` holding the client
/// URLs as JSON, for tools that start the server on a random port.
fn write_ports_file(
    dir: &std::path::Path,
    host: &str,
    port: u16,
    pid: u32,
) -> Result<PathBuf, String> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natsd".into());
    let path = dir.join(format!("{exe}_{pid}.ports"));
    let url_host = match host {
        "0.0.0.0" | "" | "::" => "127.0.0.1".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    let json = serde_json::json!({ "nats": [format!("nats://{url_host}:{port}")] });
    std::fs::write(&path, json.to_string())
        .map_err(|e| format!("Error creating ports file {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let args = normalize(args.iter().map(|s| s.to_string()).collect());
        let m = flags().parse(&args).map_err(|e| e.to_string())?;
        options_from(&m)
    }

    #[test]
    fn nats_server_flags() {
        let o = parse(&[
            "-a", "::1", "-p", "-1", "-n", "edge", "--user", "u", "--pass", "p",
        ])
        .unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", -1));
        assert_eq!(o.server_name.as_deref(), Some("edge"));
        assert_eq!(o.username.as_deref(), Some("u"));
        let o = parse(&["-DV", "--auth", "t", "--net", "127.0.0.1", "-port", "5222"]).unwrap();
        assert!(o.debug && o.trace);
        assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 5222));
        assert_eq!(o.authorization.as_deref(), Some("t"));
    }

    #[test]
    fn clear_errors() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["-p", "x"]).unwrap_err().contains("invalid value"));
        assert!(parse(&["-m", "8222"])
            .unwrap_err()
            .contains("not supported yet"));
        assert!(parse(&["-c", "f.conf"])
            .unwrap_err()
            .contains("not supported yet"));
        assert!(parse(&["--user", "u", "--auth", "t"]).is_err());
        assert!(parse(&["extra"]).is_err());
    }
}
