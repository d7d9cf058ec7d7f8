//! A server process for one scenario: any binary that takes nats-server's
//! `-a HOST -p PORT` (and `-c FILE`) flags, on a free loopback port, killed
//! when dropped.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept its first connection.
const STARTUP: Duration = Duration::from_secs(10);
/// Another process may take the port between our probe and the server's
/// bind; a server that exits at start is retried on a new port.
const START_ATTEMPTS: usize = 3;

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Start `binary` with `flags` (after `-c config`, when given),
    /// logging to `log`, and wait until it answers a connection with its
    /// INFO.
    pub fn start(
        binary: &Path,
        flags: &[String],
        config: Option<&Path>,
        log: &Path,
    ) -> Result<ServerProcess, String> {
        let mut all_flags: Vec<String> = Vec::new();
        if let Some(config) = config {
            all_flags.push("-c".into());
            all_flags.push(config.display().to_string());
        }
        all_flags.extend_from_slice(flags);
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            match start_on(binary, &all_flags, log, port) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

fn start_on(
    binary: &Path,
    flags: &[String],
    log: &Path,
    port: u16,
) -> Result<ServerProcess, String> {
    let log_file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let mut server = ServerProcess {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "{} {} exited at start ({status}); its output is in {}",
                binary.display(),
                flags.join(" "),
                log.display()
            ));
        }
        if greets(server.addr) {
            return Ok(server);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not accept connections on {} within {STARTUP:?}",
                binary.display(),
                server.addr
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The server accepts a connection and sends its INFO line.
fn greets(addr: SocketAddr) -> bool {
    let Ok(sock) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(sock).read_line(&mut line).is_ok() && line.starts_with("INFO ")
}

/// A port the system says is free and this run has not handed out before:
/// a port freed by one scenario's server can come back from the system at
/// once, and two servers told the same port would serve each other's
/// clients.
fn free_port() -> std::io::Result<u16> {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}

impl ServerProcess {
    /// The process has ended: it never served this port (another process
    /// held it), so whatever answered there was not this server.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a scenario's server writes its log: under `scratch` (in Cargo's
/// scratch directory for integration tests), one file per scenario and
/// role.
pub fn log_path(scratch: &Path, role: &str, scenario: &str) -> PathBuf {
    scratch_path(scratch, role, scenario, "log")
}

/// Where a scenario's `config` text is written for one role's server,
/// beside its log.
pub fn config_path(scratch: &Path, role: &str, scenario: &str) -> PathBuf {
    scratch_path(scratch, role, scenario, "conf")
}

/// `<scratch>/<role>/<scenario>.<extension>`, its directory created.
fn scratch_path(scratch: &Path, role: &str, scenario: &str, extension: &str) -> PathBuf {
    let dir = scratch.join(role);
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{scenario}.{extension}"))
}
