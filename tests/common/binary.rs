//! The natsd binary run as an operator runs it: flags, log lines, signals.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Raw;

pub const NATSD: &str = env!("CARGO_BIN_EXE_natsd");

/// A running natsd and the address it logged.
pub struct Running {
    pub child: Child,
    /// Where it listens for clients, as it logged.
    pub addr: SocketAddr,
    /// The log up to "Server is ready".
    pub log: Vec<String>,
    /// The log lines after it, as they come.
    later: mpsc::Receiver<String>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        Running::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::start_program(NATSD, args, env)
    }

    /// Another server that logs as nats-server does (the reference
    /// nats-server itself, for tests that put both side by side).
    pub fn start_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut log = Vec::new();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(a) = line.split("Listening for client connections on ").nth(1) {
                addr = Some(a.trim().parse().unwrap());
            }
            let ready = line.contains("Server is ready");
            log.push(line);
            if ready {
                break;
            }
        }
        let (tx, later) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let addr = addr.unwrap_or_else(|| panic!("{program} did not start: {log:?}"));
        Running {
            child,
            addr,
            log,
            later,
        }
    }

    pub fn connect(&self) -> Raw {
        Raw::connect(&super::at(self.addr))
    }

    /// The log lines that came since the last look, without waiting.
    pub fn drain_log(&self) -> Vec<String> {
        self.later.try_iter().collect()
    }

    /// Wait for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.later.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {needle:?}"),
            }
        }
    }

    /// Send `sig` (`HUP`, `USR1`, ...) with kill(1).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
