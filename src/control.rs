//! `--signal COMMAND[=PID]`: send a command to a running natsd, as
//! nats-server's `--signal` does. PID may be a pid file (`-P`), or a prefix
//! ending in `*` to signal every matching natsd; without one, the only
//! running natsd is signalled.

use std::fs;

use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};

/// The commands and the signals that carry them (nats-server's table: `stop`
/// kills outright, `quit` is the graceful shutdown).
fn signal_for(command: &str) -> Option<i32> {
    Some(match command {
        "stop" => SIGKILL,
        "quit" => SIGINT,
        "term" => SIGTERM,
        "reopen" => SIGUSR1,
        "reload" => SIGHUP,
        "ldm" => SIGUSR2,
        _ => return None,
    })
}

/// Carry out `--signal SPEC`.
pub fn send(spec: &str) -> Result<(), String> {
    let parts: Vec<&str> = spec.split('=').collect();
    let (command, pid_expr) = match parts[..] {
        [command] => (command, String::new()),
        [command, pid] => (command, read_pid_file_or(pid)),
        _ => {
            return Err(format!(
                "invalid signal parameters: [{}]",
                parts[2..].join(" ")
            ))
        }
    };
    let glob = pid_expr.ends_with('*');
    let prefix = pid_expr.trim_end_matches('*');
    let name = process_name();
    let pids: Vec<u32> = if prefix.is_empty() || glob {
        running(&name)?
            .into_iter()
            .filter(|pid| pid.to_string().starts_with(prefix))
            .collect()
    } else {
        vec![prefix
            .parse()
            .map_err(|_| format!("invalid pid: {prefix}"))?]
    };
    if pids.len() > 1 && !glob {
        let list: String = pids.iter().map(|p| format!("\n{p}")).collect();
        return Err(format!("multiple {name} processes running:{list}"));
    }
    if pids.is_empty() {
        return Err(format!("no {name} processes running"));
    }
    let signal = signal_for(command).ok_or_else(|| format!("unknown signal {command:?}"))?;
    let failures: String = pids
        .iter()
        .filter_map(|&pid| {
            kill(pid, signal)
                .err()
                .map(|e| format!("\nsignal {command:?} {pid}: {e}"))
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// nats-server takes the value as a pid file's path when such a file
/// exists, and as a pid otherwise.
fn read_pid_file_or(value: &str) -> String {
    match fs::read_to_string(value) {
        Ok(contents) => contents.trim().to_string(),
        Err(_) => value.to_string(),
    }
}

/// This program's process name, as the kernel shows it (`/proc/PID/comm`).
fn process_name() -> String {
    fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "natsd".into())
}

/// Every other process with this name, as `pgrep NAME` finds them.
fn running(name: &str) -> Result<Vec<u32>, String> {
    let me = std::process::id();
    let entries = fs::read_dir("/proc").map_err(|_| "unable to resolve pid, try providing one")?;
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

#[allow(unsafe_code)]
fn kill(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes two integers and no pointers; any values are
    // sound (a wrong pid is an error return, not undefined behaviour).
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_specs_are_refused_with_nats_server_texts() {
        assert_eq!(
            send("reload=1=2"),
            Err("invalid signal parameters: [2]".into())
        );
        assert_eq!(send("reload=abc"), Err("invalid pid: abc".into()));
        assert_eq!(
            send(&format!("bogus={}", std::process::id())),
            Err("unknown signal \"bogus\"".into())
        );
    }

    #[test]
    fn commands_map_to_nats_server_signals() {
        assert_eq!(signal_for("stop"), Some(SIGKILL));
        assert_eq!(signal_for("quit"), Some(SIGINT));
        assert_eq!(signal_for("ldm"), Some(SIGUSR2));
        assert_eq!(signal_for("reload"), Some(SIGHUP));
        assert_eq!(signal_for("reopen"), Some(SIGUSR1));
        assert_eq!(signal_for("term"), Some(SIGTERM));
    }
}
