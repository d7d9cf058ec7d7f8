//! The natsd command line, flag-compatible with nats-server's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use getopts::{Matches, Options as Getopts, ParsingStyle};
use natsd::conf::{self, Loaded};
use natsd::net::ReloadSource;
use natsd::options::{monitor_not_built, Overrides, CLUSTER_BUILT, MONITOR_BUILT};
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
        if MONITOR_BUILT {
            "Use port for http monitoring (-1: random)"
        } else {
            "Use port for http monitoring (not in this build: no `monitor` feature)"
        },
        "PORT",
    );
    o.optopt(
        "",
        "http_base_path",
        "Path prefix of the monitoring endpoints",
        "PATH",
    );
    o.optopt(
        "",
        "https_port",
        "Use port for https monitoring (with the client TLS certificate)",
        "PORT",
    );
    o.optopt("", "ms", "Same as --https_port", "PORT");
    o.optopt(
        "",
        "busy_poll",
        "Poll without sleeping this long after traffic (default 50us; 0 to sleep at once)",
        "DURATION",
    );
    o.optopt(
        "",
        "store_dir",
        "Directory for persistent storage (kept for JetStream, which natsd does not have yet)",
        "DIR",
    );
    o.optflag(
        "",
        "jetstream",
        "Enable JetStream (not supported by natsd yet)",
    );
    o.optopt("c", "config", "Configuration file", "FILE");
    o.optflag("t", "", "Test configuration and exit");
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
    o.optopt(
        "",
        "signal",
        "Send signal to natsd process (ldm, stop, quit, term, reopen, reload); PID may be a pid file",
        "SIGNAL[=PID]",
    );
    o.optflag(
        "",
        "tls",
        "Enable TLS, do not verify clients (default: false)",
    );
    o.optopt("", "tlscert", "Server certificate file", "FILE");
    o.optopt("", "tlskey", "Private key for server certificate", "FILE");
    o.optflag("", "tlsverify", "Enable TLS, verify client certificates");
    o.optopt(
        "",
        "tlscacert",
        "Client certificate CA for verification",
        "FILE",
    );
    let cluster = |text: &'static str| {
        if CLUSTER_BUILT {
            text
        } else {
            "(not in this build: no `cluster` feature)"
        }
    };
    o.optopt(
        "",
        "routes",
        cluster("Routes to solicit and connect (comma-separated URLs)"),
        "RURL-1,RURL-2",
    );
    o.optopt(
        "",
        "cluster",
        cluster("Cluster URL for solicited routes (nats://[user:pass@]host:port)"),
        "CLUSTER-URL",
    );
    o.optopt("", "cluster_listen", cluster("Same as --cluster"), "URL");
    o.optopt(
        "",
        "cluster_name",
        cluster("Cluster name, if not set one will be dynamically generated"),
        "NAME",
    );
    o.optflag(
        "",
        "no_advertise",
        cluster("Do not advertise known cluster information to clients"),
    );
    o.optopt(
        "",
        "cluster_advertise",
        cluster("Cluster URL to advertise to other servers"),
        "URL",
    );
    o.optopt(
        "",
        "connect_retries",
        cluster("For implicit routes, number of connect retries"),
        "NUMBER",
    );
    o.optflag("h", "help", "Show this message");
    o.optflag("v", "version", "Show version");
    o
}

/// Go's flag package also takes long names after a single dash
/// (`-port 4222`); getopts would read that as `-p ort`. Rewrite them.
fn normalize(args: Vec<String>) -> Vec<String> {
    const LONG: [&str; 34] = [
        "addr",
        "net",
        "port",
        "name",
        "server_name",
        "pid",
        "ports_file_dir",
        "http_port",
        "http_base_path",
        "https_port",
        "ms",
        "config",
        "log",
        "debug",
        "trace",
        "user",
        "pass",
        "auth",
        "signal",
        "busy_poll",
        "store_dir",
        "jetstream",
        "tls",
        "tlscert",
        "tlskey",
        "tlsverify",
        "tlscacert",
        "routes",
        "cluster",
        "cluster_listen",
        "cluster_name",
        "no_advertise",
        "cluster_advertise",
        "connect_retries",
    ];
    args.into_iter()
        .map(|a| {
            // Go's two-letter short names.
            for (short, long) in [
                ("-sl", "signal"),
                ("-sd", "store_dir"),
                ("-js", "jetstream"),
            ] {
                if let Some(value) = a
                    .strip_prefix(short)
                    .filter(|v| v.is_empty() || v.starts_with('='))
                {
                    return format!("--{long}{value}");
                }
            }
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

/// The flags given, as overrides of the config file: nats-server parses its
/// flags again after the file, so a flag given always wins.
fn overrides_from(m: &Matches) -> Result<Overrides, String> {
    if (m.opt_present("https_port") || m.opt_present("ms")) && !MONITOR_BUILT {
        return Err(monitor_not_built("https_port"));
    }
    if m.opt_present("jetstream") {
        return Err("JetStream (-js/--jetstream) is not supported by natsd yet".into());
    }
    if !m.free.is_empty() {
        return Err(format!("unexpected argument {:?}", m.free[0]));
    }
    let port_flag = |flag: &str| -> Result<Option<i32>, String> {
        m.opt_str(flag)
            .map(|port| {
                port.parse()
                    .map_err(|_| format!("invalid value {port:?} for flag -{flag}: parse error"))
            })
            .transpose()
    };
    Ok(Overrides {
        host: m.opt_str("a").or_else(|| m.opt_str("net")),
        port: port_flag("p")?,
        server_name: m.opt_str("n").or_else(|| m.opt_str("server_name")),
        username: m.opt_str("user"),
        password: m.opt_str("pass"),
        authorization: m.opt_str("auth"),
        debug: m.opt_present("D"),
        trace: m.opt_present("V"),
        log_file: m.opt_str("l").map(PathBuf::from),
        pid_file: m.opt_str("P").map(PathBuf::from),
        ports_file_dir: m.opt_str("ports_file_dir").map(PathBuf::from),
        http_port: port_flag("m")?,
        https_port: match port_flag("ms")? {
            Some(port) => Some(port),
            None => port_flag("https_port")?,
        },
        http_base_path: m.opt_str("http_base_path"),
        busy_poll: m
            .opt_str("busy_poll")
            .map(|text| busy_poll(&text))
            .transpose()?,
        store_dir: m.opt_str("store_dir").map(PathBuf::from),
        tls: tls_flags(m)?,
        ..cluster_flags(m)?
    })
}

/// `--cluster` (`--cluster_listen`), `--cluster_name`, `--routes`,
/// `--cluster_advertise`, `--no_advertise`, `--connect_retries`, as
/// nats-server's `ConfigureOptions` reads them.
fn cluster_flags(m: &Matches) -> Result<Overrides, String> {
    const NAMES: [&str; 7] = [
        "routes",
        "cluster",
        "cluster_listen",
        "cluster_name",
        "no_advertise",
        "cluster_advertise",
        "connect_retries",
    ];
    if !NAMES.iter().any(|f| m.opt_present(f)) {
        return Ok(Overrides::default());
    }
    if !CLUSTER_BUILT {
        return Err(natsd::options::cluster_not_built());
    }
    #[cfg(feature = "cluster")]
    {
        // The last of the two names given, as Go's flag package.
        let listen = match (m.opt_str("cluster"), m.opt_str("cluster_listen")) {
            (Some(a), Some(b)) => {
                let a_at = m.opt_positions("cluster").last().copied();
                let b_at = m.opt_positions("cluster_listen").last().copied();
                Some(if a_at > b_at { a } else { b })
            }
            (a, b) => a.or(b),
        };
        let connect_retries = m
            .opt_str("connect_retries")
            .map(|n| {
                n.parse().map_err(|_| {
                    format!("invalid value {n:?} for flag -connect_retries: parse error")
                })
            })
            .transpose()?;
        Ok(Overrides {
            cluster_listen: listen
                .as_deref()
                .map(conf::cluster_listen_flag)
                .transpose()?,
            cluster_name: m.opt_str("cluster_name"),
            cluster_advertise: m.opt_str("cluster_advertise"),
            no_advertise: m.opt_present("no_advertise"),
            connect_retries,
            routes: m
                .opt_str("routes")
                .as_deref()
                .map(conf::routes_flag)
                .transpose()?,
            ..Overrides::default()
        })
    }
    #[cfg(not(feature = "cluster"))]
    unreachable!("refused above")
}

/// `--tls`, `--tlscert`, `--tlskey`, `--tlsverify`, `--tlscacert`: any of
/// them needs a certificate and its key, as nats-server's `overrideTLS`.
fn tls_flags(m: &Matches) -> Result<Option<natsd::options::TlsFlags>, String> {
    let given = ["tls", "tlscert", "tlskey", "tlsverify", "tlscacert"]
        .iter()
        .any(|f| m.opt_present(f));
    if !given {
        return Ok(None);
    }
    let cert = m
        .opt_str("tlscert")
        .ok_or("TLS Server certificate must be present and valid")?;
    let key = m
        .opt_str("tlskey")
        .ok_or("TLS Server private key must be present and valid")?;
    Ok(Some(natsd::options::TlsFlags {
        cert_file: PathBuf::from(cert),
        key_file: PathBuf::from(key),
        ca_file: m.opt_str("tlscacert").map(PathBuf::from),
        verify: m.opt_present("tlsverify"),
    }))
}

/// `--busy_poll`: a Go duration (`50us`, `0`), at most a second, since the
/// thread spins for it after every burst of traffic.
fn busy_poll(text: &str) -> Result<Duration, String> {
    let invalid = |why: String| format!("invalid value {text:?} for flag -busy_poll: {why}");
    let nanos = conf::duration::parse(text).map_err(invalid)?;
    match u64::try_from(nanos) {
        Ok(nanos) if nanos <= 1_000_000_000 => Ok(Duration::from_nanos(nanos)),
        _ => Err(invalid("must be between 0 and 1s".into())),
    }
}

/// The options to start with: the config file under the flags, or the
/// flags alone.
fn load(config: Option<&Path>, overrides: &Overrides) -> Result<Loaded, String> {
    match config {
        Some(path) => conf::load_options(path, overrides).map_err(|e| e.to_string()),
        None => {
            let mut options = overrides.to_options();
            options.default_auth_timeout_for_tls(false);
            options.validate()?;
            Ok(Loaded {
                options,
                digest: String::new(),
                warnings: Vec::new(),
                unsupported: Vec::new(),
            })
        }
    }
}

/// `-t`: check the config file and say so as nats-server does. Its
/// warnings fail the check, as in nats-server; keys natsd ignores do not.
fn check_config(config: Option<&Path>, overrides: &Overrides) -> ExitCode {
    let Some(path) = config else {
        eprintln!("natsd: must specify [-c, --config] option to check configuration file syntax");
        return ExitCode::from(1);
    };
    let loaded = match load(config, overrides) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("natsd: {e}");
            return ExitCode::from(1);
        }
    };
    for ignored in &loaded.unsupported {
        eprintln!("natsd: {ignored}");
    }
    if !loaded.warnings.is_empty() {
        for warning in &loaded.warnings {
            eprintln!("natsd: {warning}");
        }
        return ExitCode::from(1);
    }
    eprintln!(
        "natsd: configuration file {} is valid ({})",
        path.display(),
        loaded.digest
    );
    ExitCode::SUCCESS
}

/// SIGHUP reads the config file again, under the same flags.
fn reload_source(path: PathBuf, overrides: Overrides) -> ReloadSource {
    Box::new(move || {
        let loaded = conf::load_options(&path, &overrides).map_err(|e| e.to_string())?;
        log_config_warnings(&loaded);
        Ok(loaded.options)
    })
}

fn log_config_warnings(loaded: &Loaded) {
    for warning in loaded.warnings.iter().chain(&loaded.unsupported) {
        log::warn!("{warning}");
    }
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
    if let Some(spec) = matches.opt_str("signal") {
        return match natsd::control::send(&spec) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natsd: {e}");
                ExitCode::from(1)
            }
        };
    }
    let overrides = match overrides_from(&matches) {
        Ok(overrides) => overrides,
        Err(e) => {
            eprintln!("natsd: {e}");
            return ExitCode::from(1);
        }
    };
    let config = matches.opt_str("c").map(PathBuf::from);
    if matches.opt_present("t") {
        return check_config(config.as_deref(), &overrides);
    }
    let loaded = match load(config.as_deref(), &overrides) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("natsd: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = natsd::Server::check_start(&loaded.options) {
        // As nats-server's NewServer refuses: before logging starts.
        eprintln!("natsd: {e}");
        return ExitCode::from(1);
    }
    if let Err(e) = natsd::logging::init(&loaded.options.log_settings()) {
        eprintln!("natsd: cannot open log file: {e}");
        return ExitCode::from(1);
    }
    log_config_warnings(&loaded);
    let reload = config.map(|path| reload_source(path, overrides));
    match serve(loaded.options, reload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn serve(opts: Options, reload: Option<ReloadSource>) -> Result<(), String> {
    let host = opts.host.clone();
    let listen = natsd::net::join_host_port(&host, opts.port.max(0) as u16);
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    let websocket_tls = opts.websocket.as_ref().is_some_and(|ws| ws.tls.is_some());
    let monitor_tls = opts.https_port != 0;
    log::info!("Starting natsd");
    log::info!("  Version:  {VERSION} (nats-server {NATS_SERVER_VERSION} protocol)");
    if opts.has_plaintext_passwords() {
        log::warn!("Plaintext passwords detected, use nkeys or bcrypt");
    }
    let mut server =
        Server::new(opts).map_err(|e| format!("Error listening on port: {listen}, \"{e}\""))?;
    log::info!("  Name:     {}", server.name());
    log::info!("  ID:       {}", server.id());
    server.log_start();
    let pid = std::process::id();
    if let Some(path) = &pid_file {
        std::fs::write(path, pid.to_string())
            .map_err(|e| format!("Could not write pidfile: {e}"))?;
    }
    let ports_file = match &ports_dir {
        Some(dir) => Some(write_ports_file(
            dir,
            &Ports {
                host: &host,
                port: server.addr().port(),
                monitor: server.monitor_addr().map(|a| (a.port(), monitor_tls)),
                websocket: server.websocket_addr().map(|a| (a.port(), websocket_tls)),
            },
            pid,
        )?),
        None => None,
    };
    if let Some(source) = reload {
        server.set_reload_source(source);
    }
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

/// Where the server listens, for the ports file: ports, and whether each
/// serves TLS.
struct Ports<'a> {
    host: &'a str,
    port: u16,
    monitor: Option<(u16, bool)>,
    websocket: Option<(u16, bool)>,
}

/// nats-server's ports file: `<executable>_<pid>.ports` holding the client
/// URLs as JSON, for tools that start the server on a random port.
fn write_ports_file(dir: &std::path::Path, ports: &Ports<'_>, pid: u32) -> Result<PathBuf, String> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natsd".into());
    let path = dir.join(format!("{exe}_{pid}.ports"));
    let url_host = match ports.host {
        "0.0.0.0" | "" | "::" => "127.0.0.1".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    let mut json = serde_json::json!({ "nats": [format!("nats://{url_host}:{}", ports.port)] });
    if let Some((port, tls)) = ports.monitor {
        let scheme = if tls { "https" } else { "http" };
        json["monitoring"] = serde_json::json!([format!("{scheme}://{url_host}:{port}")]);
    }
    if let Some((port, tls)) = ports.websocket {
        // nats-server names the WebSocket listener by the client host.
        let scheme = if tls { "wss" } else { "ws" };
        json["websocket"] = serde_json::json!([format!("{scheme}://{url_host}:{port}")]);
    }
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
        load(None, &overrides_from(&m)?).map(|loaded| loaded.options)
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
    #[cfg(feature = "monitor")]
    fn monitoring_flags() {
        assert_eq!(Options::default().http_port, 0, "off unless asked for");
        let o = parse(&["-m", "8222", "--http_base_path", "/nats"]).unwrap();
        assert_eq!((o.http_port, o.http_base_path.as_str()), (8222, "/nats"));
        let o = parse(&["-http_port", "-1", "-http_base_path=/x"]).unwrap();
        assert_eq!((o.http_port, o.http_base_path.as_str()), (-1, "/x"));
        assert!(parse(&["-m", "70000"]).is_err());
        // HTTPS uses the client listener's certificate: none, no HTTPS.
        assert_eq!(
            parse(&["-ms", "8443"]).unwrap_err(),
            "Can't start monitoring: TLS cert and key required for HTTPS"
        );
        assert!(parse(&["--https_port", "8443", "-m", "8222"])
            .unwrap_err()
            .contains("can't specify both HTTP (8222) and HTTPs (8443) ports"));
    }

    #[test]
    #[cfg(not(feature = "monitor"))]
    fn monitoring_flags_are_refused_by_a_build_without_the_monitor() {
        let not_built = "is not supported by this build: \
                         natsd was built without the `monitor` feature";
        for (args, what) in [
            (&["-m", "8222"][..], "http_port"),
            (&["--http_port=-1"][..], "http_port"),
            (&["-ms", "8443"][..], "https_port"),
            (&["--https_port", "8443"][..], "https_port"),
        ] {
            assert_eq!(
                parse(args).unwrap_err(),
                format!("monitoring ({what}) {not_built}"),
                "{args:?}"
            );
        }
        assert_eq!(parse(&["-m", "0"]).unwrap().http_port, 0, "off");
    }

    #[test]
    #[cfg(feature = "cluster")]
    fn cluster_flags() {
        let o = parse(&[
            "--cluster",
            "nats://ru:rp@127.0.0.1:-1",
            "--cluster_name",
            "c1",
            "--routes",
            "nats://a:6222,nats://b:6222",
            "-cluster_advertise",
            "x:1",
            "-no_advertise",
            "--connect_retries=3",
        ])
        .unwrap();
        let c = o.cluster.unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (Some("ru"), Some("rp"))
        );
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!(c.routes, ["nats://a:6222", "nats://b:6222"]);
        assert_eq!(c.advertise.as_deref(), Some("x:1"));
        assert!(c.no_advertise);
        assert_eq!(c.connect_retries, 3);
        let c = parse(&["-cluster_listen", "nats://:6222"])
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 6222));
        // The last of --cluster and --cluster_listen wins.
        let c = parse(&["--cluster_listen", "nats://:1", "--cluster", "nats://:2"])
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(c.port, 2);
        assert_eq!(parse(&[]).unwrap().cluster, None);
        // nats-server's texts.
        for (args, text) in [
            (
                &["--routes", "nats://a:6222"][..],
                "solicited routes require cluster capabilities, e.g. --cluster",
            ),
            (
                &["--cluster", "nats://u@h:1"][..],
                "expected cluster password to be set",
            ),
            (
                &["--cluster", "nats://h"][..],
                "address h: missing port in address",
            ),
            (
                &["--connect_retries", "x"][..],
                "invalid value \"x\" for flag -connect_retries: parse error",
            ),
            (
                &["--cluster_name", "a b"][..],
                "cluster name cannot contain spaces",
            ),
        ] {
            assert_eq!(parse(args).unwrap_err(), text, "{args:?}");
        }
    }

    #[test]
    #[cfg(not(feature = "cluster"))]
    fn cluster_flags_are_refused_by_a_build_without_the_cluster() {
        for args in [
            &["--cluster", "nats://:6222"][..],
            &["--routes", "nats://a:1"][..],
            &["--no_advertise"][..],
        ] {
            assert_eq!(
                parse(args).unwrap_err(),
                natsd::options::cluster_not_built(),
                "{args:?}"
            );
        }
    }

    #[test]
    fn clear_errors() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["-p", "x"]).unwrap_err().contains("invalid value"));
        assert!(parse(&["-m", "x"]).unwrap_err().contains("invalid value"));
        assert!(parse(&["--user", "u", "--auth", "t"]).is_err());
        assert!(parse(&["extra"]).is_err());
    }
}
